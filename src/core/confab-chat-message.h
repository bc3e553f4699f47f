/* confab-chat-message.h: one message in a channel, as the app shows it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "confab-chat-user.h"

G_BEGIN_DECLS

/**
 * ConfabMessageStatus:
 * @CONFAB_MESSAGE_STATUS_SENT: the server has it (every message from others, and ours
 *   once delivered)
 * @CONFAB_MESSAGE_STATUS_QUEUED: ours, waiting in the outbox (offline, or after a
 *   transient failure)
 * @CONFAB_MESSAGE_STATUS_SENDING: ours, an attempt is in flight
 * @CONFAB_MESSAGE_STATUS_FAILED: ours, refused by the server; see
 *   confab_message_get_last_error(); confab_chat_store_retry() or _discard()
 */
typedef enum {
  CONFAB_MESSAGE_STATUS_SENT,
  CONFAB_MESSAGE_STATUS_QUEUED,
  CONFAB_MESSAGE_STATUS_SENDING,
  CONFAB_MESSAGE_STATUS_FAILED,
} ConfabMessageStatus;

#define CONFAB_TYPE_MESSAGE_STATUS (confab_message_status_get_type ())
GType confab_message_status_get_type (void) G_GNUC_CONST;

#define CONFAB_TYPE_MESSAGE (confab_message_get_type ())

G_DECLARE_FINAL_TYPE (ConfabMessage, confab_message, CONFAB, MESSAGE, GObject)

/* Read-only properties, notified on change: id, cid, user (ConfabChatUser), user-id,
 * user-name, text, created-at, status, is-own, deleted, last-error (G_TYPE_ERROR).
 *
 * The text is exactly what the server sent (markup-looking text, control characters
 * and right-to-left text included): show it as plain text, never parse it as markup.
 * A deleted message keeps its place with an empty text.
 *
 * user-name is the sender's display name when it is read; a rename is notified on the
 * ConfabChatUser (bind to user.name to follow it live). */
const char          *confab_message_get_id         (ConfabMessage *self);
const char          *confab_message_get_cid        (ConfabMessage *self);
ConfabChatUser      *confab_message_get_user       (ConfabMessage *self);
const char          *confab_message_get_user_id    (ConfabMessage *self);
const char          *confab_message_get_user_name  (ConfabMessage *self);
const char          *confab_message_get_text       (ConfabMessage *self);
/* Wall-clock microseconds since the Unix epoch (the server's time once it has it). */
gint64               confab_message_get_created_at (ConfabMessage *self);
ConfabMessageStatus  confab_message_get_status     (ConfabMessage *self);
gboolean             confab_message_get_is_own     (ConfabMessage *self);
gboolean             confab_message_get_deleted    (ConfabMessage *self);
/* Why the last attempt failed (FAILED; also while QUEUED after a transient failure),
 * or NULL. */
const GError        *confab_message_get_last_error (ConfabMessage *self);

G_END_DECLS
