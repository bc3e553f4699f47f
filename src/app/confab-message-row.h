/* confab-message-row.h: one message in the conversation list, with its day and status
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-chat-message.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_MESSAGE_ROW (confab_message_row_get_type ())

G_DECLARE_FINAL_TYPE (ConfabMessageRow, confab_message_row, CONFAB, MESSAGE_ROW, AdwBin)

/* Properties: message (ConfabMessage; the row follows its status, text and deletion),
 * show-date (draw the day separator above it).
 *
 * The text goes to its label with gtk_label_set_text() after confab_text_for_display():
 * never markup.
 *
 * Signals: ::retry (ConfabMessage *) and ::discard (ConfabMessage *) from a FAILED
 * message's buttons. */
GtkWidget     *confab_message_row_new           (void);

ConfabMessage *confab_message_row_get_message   (ConfabMessageRow *self);
void           confab_message_row_set_message   (ConfabMessageRow *self,
                                                 ConfabMessage    *message);
gboolean       confab_message_row_get_show_date (ConfabMessageRow *self);
void           confab_message_row_set_show_date (ConfabMessageRow *self,
                                                 gboolean          show_date);
/* What the row shows now (for tests and accessibility). */
const char    *confab_message_row_get_text      (ConfabMessageRow *self);
const char    *confab_message_row_get_status_text (ConfabMessageRow *self);

/* "Today", "Yesterday" or the date, for a day separator at @time_usec (wall µs). */
char          *confab_message_row_format_day    (gint64            time_usec,
                                                 gint64            now_usec);

G_END_DECLS
