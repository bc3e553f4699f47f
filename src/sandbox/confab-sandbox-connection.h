/* confab-sandbox-connection.h: one client connection (WebSocket or long-poll)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef enum {
  CONFAB_SANDBOX_TRANSPORT_WEBSOCKET,
  CONFAB_SANDBOX_TRANSPORT_LONGPOLL,
} ConfabSandboxTransport;

#define CONFAB_SANDBOX_TYPE_CONNECTION (confab_sandbox_connection_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSandboxConnection, confab_sandbox_connection, CONFAB_SANDBOX, CONNECTION, GObject)

ConfabSandboxConnection *confab_sandbox_connection_new_websocket   (const char              *user_id,
                                                                    SoupWebsocketConnection *ws);
ConfabSandboxConnection *confab_sandbox_connection_new_longpoll    (const char              *user_id,
                                                                    guint                    idle_timeout_seconds);

const char             *confab_sandbox_connection_get_id           (ConfabSandboxConnection *self);
const char             *confab_sandbox_connection_get_user_id      (ConfabSandboxConnection *self);
ConfabSandboxTransport  confab_sandbox_connection_get_transport    (ConfabSandboxConnection *self);
gboolean                confab_sandbox_connection_is_closed        (ConfabSandboxConnection *self);

void                    confab_sandbox_connection_send             (ConfabSandboxConnection *self,
                                                                    JsonObject              *event);
void                    confab_sandbox_connection_send_text        (ConfabSandboxConnection *self,
                                                                    const char              *text);
void                    confab_sandbox_connection_hold_poll        (ConfabSandboxConnection *self,
                                                                    SoupServerMessage       *msg,
                                                                    guint                    hold_seconds);
void                    confab_sandbox_connection_close            (ConfabSandboxConnection *self,
                                                                    gushort                  code,
                                                                    const char              *reason);

/* Subscriptions made through REST calls that carried this connection's id. */
gboolean                confab_sandbox_connection_watch            (ConfabSandboxConnection *self,
                                                                    const char              *cid);
gboolean                confab_sandbox_connection_unwatch          (ConfabSandboxConnection *self,
                                                                    const char              *cid);
gboolean                confab_sandbox_connection_is_watching      (ConfabSandboxConnection *self,
                                                                    const char              *cid);
GPtrArray              *confab_sandbox_connection_dup_watched      (ConfabSandboxConnection *self);
void                    confab_sandbox_connection_subscribe_presence (ConfabSandboxConnection *self,
                                                                      const char              *user_id);
gboolean                confab_sandbox_connection_wants_presence   (ConfabSandboxConnection *self,
                                                                    const char              *user_id);

G_END_DECLS
