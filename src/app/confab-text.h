/* confab-text.h: untrusted text made safe to put in a GtkLabel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Messages longer than this many characters are shown shortened (the rest is still
 * kept in the message). Stream's own limit is 5 000; anything longer came from a
 * misbehaving server, and laying out megabytes would freeze the window. */
#define CONFAB_TEXT_MAX_DISPLAY_CHARS 6000

/* Valid UTF-8 with control characters (other than newline and tab) replaced by U+FFFD,
 * cut to @max_chars characters (0: no limit) with "…" added. Never markup: the result
 * goes to gtk_label_set_text(). NULL gives "". */
char *confab_text_for_display     (const char *text,
                                   gsize       max_chars);
/* The same on one line: runs of newlines and tabs become one space; for previews. */
char *confab_text_for_single_line (const char *text,
                                   gsize       max_chars);

G_END_DECLS
