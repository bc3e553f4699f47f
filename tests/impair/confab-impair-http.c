/* confab-impair-http.c: just enough HTTP/1.1 to find heads, upgrades and body ends
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-impair-http.h"

enum {
  CHUNK_SIZE_LINE,
  CHUNK_DATA,
  CHUNK_DATA_END,     /* the CRLF after a chunk's data */
  CHUNK_TRAILER,      /* trailer lines up to the empty one */
};

gssize
confab_impair_http_find_head_end (const guint8 *data,
                                  gsize         len)
{
  for (gsize i = 0; i + 1 < len; i++)
    {
      if (data[i] != '\n')
        continue;
      if (data[i + 1] == '\n')
        return (gssize) (i + 2);
      if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
        return (gssize) (i + 3);
    }
  return -1;
}

gboolean
confab_impair_http_looks_like_request (const guint8 *data,
                                       gsize         len)
{
  static const char *const methods[] = {
    "GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
  };

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    if (len > 0 && memcmp (data, methods[i], MIN (len, strlen (methods[i]))) == 0)
      return TRUE;
  return FALSE;
}

void
confab_impair_http_head_free (ConfabImpairHttpHead *head)
{
  if (head == NULL)
    return;
  g_free (head->method);
  g_free (head->target);
  g_clear_pointer (&head->names, g_ptr_array_unref);
  g_clear_pointer (&head->values, g_ptr_array_unref);
  g_free (head);
}

static gboolean
is_token (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isalnum (*s) && strchr ("!#$%&'*+-.^_`|~", *s) == NULL)
      return FALSE;
  return TRUE;
}

ConfabImpairHttpHead *
confab_impair_http_head_parse (const guint8 *data,
                               gsize         len,
                               gboolean      is_request)
{
  g_autoptr(ConfabImpairHttpHead) head = g_new0 (ConfabImpairHttpHead, 1);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) first = NULL;

  if (len == 0 || len > CONFAB_IMPAIR_HTTP_MAX_HEAD || memchr (data, '\0', len) != NULL)
    return NULL;
  text = g_strndup ((const char *) data, len);
  lines = g_strsplit (text, "\n", -1);
  head->is_request = is_request;
  head->names = g_ptr_array_new_with_free_func (g_free);
  head->values = g_ptr_array_new_with_free_func (g_free);

  g_strchomp (lines[0]);
  first = g_strsplit (lines[0], " ", 3);
  if (g_strv_length (first) < 2)
    return NULL;
  if (is_request)
    {
      if (g_strv_length (first) != 3 || !is_token (first[0]) || !g_str_has_prefix (first[2], "HTTP/1."))
        return NULL;
      head->method = g_strdup (first[0]);
      head->target = g_strdup (first[1]);
    }
  else
    {
      guint64 status = 0;

      if (!g_str_has_prefix (first[0], "HTTP/1.") ||
          !g_ascii_string_to_unsigned (first[1], 10, 100, 999, &status, NULL))
        return NULL;
      head->status = (int) status;
    }

  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *line = g_strchomp (lines[i]);
      char *colon;

      if (*line == '\0')
        break;
      colon = strchr (line, ':');
      if (colon == NULL)
        return NULL;
      *colon = '\0';
      if (!is_token (line))
        return NULL;
      g_ptr_array_add (head->names, g_strdup (line));
      g_ptr_array_add (head->values, g_strstrip (g_strdup (colon + 1)));
    }
  return g_steal_pointer (&head);
}

const char *
confab_impair_http_head_get (ConfabImpairHttpHead *head,
                             const char           *name)
{
  g_return_val_if_fail (head != NULL, NULL);

  for (guint i = 0; i < head->names->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (head->names, i), name) == 0)
      return g_ptr_array_index (head->values, i);
  return NULL;
}

gboolean
confab_impair_http_head_has_token (ConfabImpairHttpHead *head,
                                   const char           *name,
                                   const char           *token)
{
  g_return_val_if_fail (head != NULL, FALSE);

  for (guint i = 0; i < head->names->len; i++)
    {
      g_auto(GStrv) parts = NULL;

      if (g_ascii_strcasecmp (g_ptr_array_index (head->names, i), name) != 0)
        continue;
      parts = g_strsplit (g_ptr_array_index (head->values, i), ",", -1);
      for (guint j = 0; parts[j] != NULL; j++)
        if (g_ascii_strcasecmp (g_strstrip (parts[j]), token) == 0)
          return TRUE;
    }
  return FALSE;
}

gboolean
confab_impair_http_head_is_websocket (ConfabImpairHttpHead *head)
{
  return confab_impair_http_head_has_token (head, "Upgrade", "websocket");
}

gboolean
confab_impair_body_framer_init (ConfabImpairBodyFramer *framer,
                                ConfabImpairHttpHead   *head,
                                const char             *request_method)
{
  const char *length;

  memset (framer, 0, sizeof *framer);
  framer->kind = CONFAB_IMPAIR_BODY_NONE;
  framer->done = TRUE;

  if (!head->is_request &&
      ((head->status >= 100 && head->status < 200) || head->status == 204 || head->status == 304 ||
       g_strcmp0 (request_method, "HEAD") == 0))
    return TRUE;

  if (confab_impair_http_head_has_token (head, "Transfer-Encoding", "chunked"))
    {
      framer->kind = CONFAB_IMPAIR_BODY_CHUNKED;
      framer->state = CHUNK_SIZE_LINE;
      framer->done = FALSE;
      return TRUE;
    }
  length = confab_impair_http_head_get (head, "Content-Length");
  if (length != NULL)
    {
      guint64 n = 0;

      if (!g_ascii_string_to_unsigned (length, 10, 0, G_MAXINT64, &n, NULL))
        return FALSE;
      framer->kind = CONFAB_IMPAIR_BODY_LENGTH;
      framer->remaining = n;
      framer->done = n == 0;
      return TRUE;
    }
  if (!head->is_request)
    {
      framer->kind = CONFAB_IMPAIR_BODY_UNTIL_CLOSE;
      framer->done = FALSE;
    }
  return TRUE;
}

/* Hex digits at the start of a chunk-size line (extensions after ';' ignored). */
static gboolean
parse_chunk_size (const char *line,
                  guint64    *out)
{
  guint64 value = 0;
  guint digits = 0;

  for (; g_ascii_isxdigit (*line); line++, digits++)
    {
      if (digits >= 15)
        return FALSE;
      value = value * 16 + (guint64) g_ascii_xdigit_value (*line);
    }
  if (digits == 0)
    return FALSE;
  while (*line == ' ' || *line == '\t')
    line++;
  if (*line != '\0' && *line != ';' && *line != '\r')
    return FALSE;
  *out = value;
  return TRUE;
}

gssize
confab_impair_body_framer_consume (ConfabImpairBodyFramer *framer,
                                   const guint8           *data,
                                   gsize                   len)
{
  gsize used = 0;

  switch (framer->kind)
    {
    case CONFAB_IMPAIR_BODY_NONE:
      return 0;
    case CONFAB_IMPAIR_BODY_UNTIL_CLOSE:
      return (gssize) len;
    case CONFAB_IMPAIR_BODY_LENGTH:
      used = (gsize) MIN ((guint64) len, framer->remaining);
      framer->remaining -= used;
      framer->done = framer->remaining == 0;
      return (gssize) used;
    case CONFAB_IMPAIR_BODY_CHUNKED:
    default:
      break;
    }

  while (used < len && !framer->done)
    {
      guint8 c = data[used];

      switch (framer->state)
        {
        case CHUNK_SIZE_LINE:
          used++;
          if (c != '\n')
            {
              if (framer->line_len >= sizeof framer->line - 1)
                return -1;
              framer->line[framer->line_len++] = (char) c;
              break;
            }
          framer->line[framer->line_len] = '\0';
          framer->line_len = 0;
          if (!parse_chunk_size (framer->line, &framer->chunk_size))
            return -1;
          if (framer->chunk_size == 0)
            framer->state = CHUNK_TRAILER;
          else
            {
              framer->remaining = framer->chunk_size;
              framer->state = CHUNK_DATA;
            }
          break;
        case CHUNK_TRAILER:
          used++;
          if (c != '\n')
            {
              if (c != '\r')
                framer->line_len++;
              break;
            }
          /* An empty line ends the trailers and the body. */
          if (framer->line_len == 0)
            framer->done = TRUE;
          framer->line_len = 0;
          break;
        case CHUNK_DATA:
          {
            gsize take = (gsize) MIN ((guint64) (len - used), framer->remaining);

            framer->remaining -= take;
            used += take;
            if (framer->remaining == 0)
              framer->state = CHUNK_DATA_END;
          }
          break;
        case CHUNK_DATA_END:
          if (c == '\n')
            framer->state = CHUNK_SIZE_LINE;
          else if (c != '\r')
            return -1;
          used++;
          break;
        default:
          g_assert_not_reached ();
        }
    }
  return (gssize) used;
}
