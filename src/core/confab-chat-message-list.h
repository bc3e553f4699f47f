/* confab-chat-message-list.h: a channel's messages as a sorted, de-duplicated GListModel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-chat-message.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_CHAT_MESSAGE_LIST (confab_chat_message_list_get_type ())

/* A GListModel of ConfabMessage ordered by created-at, then id, with one item per id.
 * Only its ConfabChannel changes it, in batches: each batch is at most one
 * ::items-changed, however many messages it adds, moves or removes. */
G_DECLARE_FINAL_TYPE (ConfabChatMessageList, confab_chat_message_list, CONFAB, CHAT_MESSAGE_LIST, GObject)

ConfabMessage *confab_chat_message_list_lookup (ConfabChatMessageList *self,
                                                const char            *id);

G_END_DECLS
