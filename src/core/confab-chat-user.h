/* confab-chat-user.h: one chat user as the app shows them: a name and presence
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_CHAT_USER (confab_chat_user_get_type ())

G_DECLARE_FINAL_TYPE (ConfabChatUser, confab_chat_user, CONFAB, CHAT_USER, GObject)

/* Read-only properties, notified on change: id, name (the display name: the user's
 * name, or the id when there is none; never NULL), online, last-active (wall µs since
 * the epoch, 0 if unknown). One object per user id in a ConfabChatStore, shared by every
 * channel and message that names the user. */
const char *confab_chat_user_get_id          (ConfabChatUser *self);
const char *confab_chat_user_get_name        (ConfabChatUser *self);
gboolean    confab_chat_user_get_online      (ConfabChatUser *self);
gint64      confab_chat_user_get_last_active (ConfabChatUser *self);

G_END_DECLS
