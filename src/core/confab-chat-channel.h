/* confab-chat-channel.h: one conversation: its messages, members, unread count and typers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-chat-message.h"
#include "confab-chat-user.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_CHANNEL (confab_channel_get_type ())

G_DECLARE_FINAL_TYPE (ConfabChannel, confab_channel, CONFAB, CHANNEL, GObject)

/* Read-only properties, notified on change:
 * - cid ("type:id"), name (the channel's name; for a channel without one, the other
 *   members' names, "Alice, Bob"; never NULL),
 * - last-message-text (NULL when there is none), last-message-at (wall µs, 0 if none),
 * - unread-count, member-count, online-count (members online now),
 * - typing-text: NULL, or a translated sentence ready to show ("Bob is typing…", "Bob
 *   and Carol are typing…", "Several people are typing…"); a typer is dropped 7 s after
 *   their last typing.start (on the store's ConfabClock) or at their typing.stop or
 *   message,
 * - has-more-history: older messages can be loaded (confab_chat_store_load_older_async()).
 *
 * Channels are made and changed only by their ConfabChatStore. */
const char  *confab_channel_get_cid               (ConfabChannel *self);
const char  *confab_channel_get_name              (ConfabChannel *self);
const char  *confab_channel_get_last_message_text (ConfabChannel *self);
gint64       confab_channel_get_last_message_at   (ConfabChannel *self);
guint        confab_channel_get_unread_count      (ConfabChannel *self);
guint        confab_channel_get_member_count      (ConfabChannel *self);
guint        confab_channel_get_online_count      (ConfabChannel *self);
const char  *confab_channel_get_typing_text       (ConfabChannel *self);
gboolean     confab_channel_get_has_more_history  (ConfabChannel *self);

/* (transfer none) A GListModel of ConfabMessage ordered by created-at (ties by id),
 * one item per id. Changes come in batches, each one ::items-changed at most (a backlog
 * of thousands included). In-place changes (status, an edit, a deletion) are notified on
 * the ConfabMessage itself. */
GListModel  *confab_channel_get_messages          (ConfabChannel *self);
/* (transfer none) A GListModel of ConfabChatUser: online members first, then by name. */
GListModel  *confab_channel_get_members           (ConfabChannel *self);
/* TRUE when the message at @position is the first of its local calendar day (position 0
 * always is); FALSE for a position past the end. */
gboolean     confab_channel_starts_new_day        (ConfabChannel *self,
                                                   guint          position);

G_END_DECLS
