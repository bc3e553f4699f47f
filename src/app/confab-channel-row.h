/* confab-channel-row.h: a conversation in the sidebar: name, last message, unread count
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-chat-channel.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_CHANNEL_ROW (confab_channel_row_get_type ())

G_DECLARE_FINAL_TYPE (ConfabChannelRow, confab_channel_row, CONFAB, CHANNEL_ROW, AdwBin)

/* Properties: channel (ConfabChannel; followed live), reading (the user is reading it
 * right now: its unread count, about to be cleared, is not shown). */
GtkWidget     *confab_channel_row_new         (void);

ConfabChannel *confab_channel_row_get_channel (ConfabChannelRow *self);
void           confab_channel_row_set_channel (ConfabChannelRow *self,
                                               ConfabChannel    *channel);
gboolean       confab_channel_row_get_reading (ConfabChannelRow *self);
void           confab_channel_row_set_reading (ConfabChannelRow *self,
                                               gboolean          reading);

G_END_DECLS
