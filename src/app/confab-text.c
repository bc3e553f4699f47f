/* confab-text.c: untrusted text made safe to put in a GtkLabel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-text.h"

static gboolean
is_control (gunichar c)
{
  /* C0 and DEL, C1; line and paragraph separators break the row's layout like newlines. */
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

static char *
clean (const char *text,
       gsize       max_chars,
       gboolean    single_line)
{
  g_autofree char *valid = NULL;
  GString *out;
  gsize n_chars = 0;
  gboolean pending_space = FALSE;

  if (text == NULL)
    return g_strdup ("");

  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (MIN (strlen (valid), (gsize) 4096));
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (max_chars > 0 && n_chars >= max_chars)
        {
          g_string_append (out, "…");
          break;
        }

      if (single_line && (c == '\n' || c == '\r' || c == '\t' || c == 0x2028 || c == 0x2029))
        {
          pending_space = out->len > 0;
          continue;
        }
      if (pending_space)
        {
          g_string_append_c (out, ' ');
          n_chars++;
          pending_space = FALSE;
        }
      if (c == '\r')
        continue;
      if (is_control (c) && c != '\n' && c != '\t')
        c = 0xfffd;
      g_string_append_unichar (out, c);
      n_chars++;
    }
  return g_string_free (out, FALSE);
}

char *
confab_text_for_display (const char *text,
                         gsize       max_chars)
{
  return clean (text, max_chars, FALSE);
}

char *
confab_text_for_single_line (const char *text,
                             gsize       max_chars)
{
  return clean (text, max_chars, TRUE);
}
