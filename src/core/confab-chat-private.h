/* confab-chat-private.h: what the chat model's types tell each other, not the app
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "confab-chat-channel.h"
#include "confab-chat-message.h"
#include "confab-chat-message-list.h"
#include "confab-chat-user.h"
#include "confab-clock.h"

G_BEGIN_DECLS

/* Stream drops a typer 7 s after their last typing.start (channel_state.clean). */
#define CONFAB_CHAT_TYPING_TIMEOUT_MS 7000

/* ConfabChatUser */
ConfabChatUser *_confab_chat_user_new              (const char          *id);
gboolean        _confab_chat_user_set_name         (ConfabChatUser      *self,
                                                    const char          *name);
gboolean        _confab_chat_user_set_online       (ConfabChatUser      *self,
                                                    gboolean             online);
gboolean        _confab_chat_user_set_last_active  (ConfabChatUser      *self,
                                                    gint64               last_active);
const char     *_confab_chat_user_get_raw_name     (ConfabChatUser      *self);

/* ConfabMessage */
ConfabMessage  *_confab_message_new                (const char          *id,
                                                    const char          *cid,
                                                    ConfabChatUser      *user,
                                                    const char          *text,
                                                    gint64               created_at,
                                                    ConfabMessageStatus  status,
                                                    gboolean             is_own,
                                                    gboolean             deleted);
void            _confab_message_set_text           (ConfabMessage       *self,
                                                    const char          *text);
void            _confab_message_set_deleted        (ConfabMessage       *self,
                                                    gboolean             deleted);
void            _confab_message_set_status         (ConfabMessage       *self,
                                                    ConfabMessageStatus  status);
void            _confab_message_set_last_error     (ConfabMessage       *self,
                                                    const GError        *error);
void            _confab_message_set_created_at     (ConfabMessage       *self,
                                                    gint64               created_at);
void            _confab_message_set_user           (ConfabMessage       *self,
                                                    ConfabChatUser      *user);
void            _confab_message_set_is_own         (ConfabMessage       *self,
                                                    gboolean             is_own);
const char     *_confab_message_get_raw_text       (ConfabMessage       *self);
int             _confab_message_compare            (ConfabMessage       *a,
                                                    ConfabMessage       *b);
/* A set of ConfabMessage keyed by id: g_hash_table_add() / _remove() the message itself
 * (one per id), look up by id with the function below. */
GHashTable     *_confab_message_id_set_new         (void);
ConfabMessage  *_confab_message_id_set_lookup      (GHashTable          *set,
                                                    const char          *id);

/* ConfabChatMessageList */
ConfabChatMessageList *_confab_chat_message_list_new   (void);
guint                  _confab_chat_message_list_get_n (ConfabChatMessageList *self);
ConfabMessage         *_confab_chat_message_list_get   (ConfabChatMessageList *self,
                                                        guint                  position);
/* One batch: takes out @remove (messages in the list), moves each of @moves (messages in
 * the list) to its new @move_times[i], and adds @add (messages not in the list, distinct
 * ids, any order). Emits at most one ::items-changed. Any array may be NULL. */
void                   _confab_chat_message_list_apply (ConfabChatMessageList *self,
                                                        GPtrArray             *remove,
                                                        GPtrArray             *moves,
                                                        GArray                *move_times,
                                                        GPtrArray             *add);

/* ConfabChannel: the store queues changes and flushes them as one batch per channel. */
ConfabChannel  *_confab_channel_new                (const char          *cid,
                                                    ConfabClock         *clock);
/* The channel's cid as a GRefString, for its messages. */
const char     *_confab_channel_get_cid_ref        (ConfabChannel       *self);
/* In the list or queued. */
ConfabMessage  *_confab_channel_lookup_message     (ConfabChannel       *self,
                                                    const char          *id);
/* @live: announce it with ::message-added after the flush. */
void            _confab_channel_queue_add          (ConfabChannel       *self,
                                                    ConfabMessage       *message,
                                                    gboolean             live);
void            _confab_channel_queue_remove       (ConfabChannel       *self,
                                                    ConfabMessage       *message);
void            _confab_channel_queue_move         (ConfabChannel       *self,
                                                    ConfabMessage       *message,
                                                    gint64               created_at);
gboolean        _confab_channel_has_pending        (ConfabChannel       *self);
/* Applies what is queued (one ::items-changed at most) and updates the derived
 * properties; appends the live new messages to @live_out (may be NULL). */
void            _confab_channel_flush              (ConfabChannel       *self,
                                                    GPtrArray           *live_out);
/* The oldest message the server knows (to page back from), or NULL. */
ConfabMessage  *_confab_channel_get_oldest_sent    (ConfabChannel       *self);
ConfabMessage  *_confab_channel_get_newest_sent    (ConfabChannel       *self);
guint           _confab_channel_get_n_messages     (ConfabChannel       *self);

const char     *_confab_channel_get_raw_name       (ConfabChannel       *self);
void            _confab_channel_set_own_id         (ConfabChannel       *self,
                                                    const char          *own_id);
void            _confab_channel_set_name           (ConfabChannel       *self,
                                                    const char          *name);
void            _confab_channel_set_unread_count   (ConfabChannel       *self,
                                                    guint                unread_count);
void            _confab_channel_set_member_count   (ConfabChannel       *self,
                                                    guint                member_count);
void            _confab_channel_set_has_more_history (ConfabChannel     *self,
                                                    gboolean             has_more);
void            _confab_channel_set_server_last_message_at (ConfabChannel *self,
                                                    gint64               last_message_at);
/* Members: the channel keeps them sorted (online first) and counted. */
void            _confab_channel_set_members        (ConfabChannel       *self,
                                                    GPtrArray           *users);
void            _confab_channel_add_member         (ConfabChannel       *self,
                                                    ConfabChatUser      *user);
void            _confab_channel_remove_member      (ConfabChannel       *self,
                                                    ConfabChatUser      *user);
gboolean        _confab_channel_has_member         (ConfabChannel       *self,
                                                    ConfabChatUser      *user);
/* A member's presence or name changed. */
void            _confab_channel_member_changed     (ConfabChannel       *self,
                                                    ConfabChatUser      *user);
char          **_confab_channel_dup_member_ids     (ConfabChannel       *self);
/* Typing indicators (others only; the store filters our own). */
void            _confab_channel_typing_start       (ConfabChannel       *self,
                                                    ConfabChatUser      *user);
void            _confab_channel_typing_stop        (ConfabChannel       *self,
                                                    ConfabChatUser      *user);

/* Safe JSON access: NULL / the default unless the member has exactly that type. */
const char     *_confab_chat_json_string           (JsonObject          *object,
                                                    const char          *name);
JsonObject     *_confab_chat_json_object           (JsonObject          *object,
                                                    const char          *name);
JsonArray      *_confab_chat_json_array            (JsonObject          *object,
                                                    const char          *name);
gboolean        _confab_chat_json_int              (JsonObject          *object,
                                                    const char          *name,
                                                    gint64              *out);
gboolean        _confab_chat_json_bool             (JsonObject          *object,
                                                    const char          *name,
                                                    gboolean            *out);
/* RFC 3339 → wall µs since the epoch; 0 when missing or not a time. */
gint64          _confab_chat_json_time             (JsonObject          *object,
                                                    const char          *name);

G_END_DECLS
