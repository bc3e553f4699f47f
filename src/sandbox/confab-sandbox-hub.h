/* confab-sandbox-hub.h: live connections, subscriptions and event fan-out
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-sandbox-connection.h"

G_BEGIN_DECLS

#define CONFAB_SANDBOX_TYPE_HUB (confab_sandbox_hub_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSandboxHub, confab_sandbox_hub, CONFAB_SANDBOX, HUB, GObject)

/* Adds per-recipient fields (unread counts) to a copy of an event before it is sent. */
typedef void (*ConfabSandboxPersonalize) (JsonObject *event,
                                          const char *recipient_id,
                                          gpointer    user_data);

ConfabSandboxHub        *confab_sandbox_hub_new                  (void);

void                     confab_sandbox_hub_add                  (ConfabSandboxHub        *self,
                                                                  ConfabSandboxConnection *connection);
ConfabSandboxConnection *confab_sandbox_hub_lookup               (ConfabSandboxHub        *self,
                                                                  const char              *connection_id);
gboolean                 confab_sandbox_hub_is_online            (ConfabSandboxHub        *self,
                                                                  const char              *user_id);
guint                    confab_sandbox_hub_get_n_connections    (ConfabSandboxHub        *self,
                                                                  ConfabSandboxTransport   transport);
guint                    confab_sandbox_hub_get_n_online_users   (ConfabSandboxHub        *self);
void                     confab_sandbox_hub_close_all            (ConfabSandboxHub        *self);

gboolean                 confab_sandbox_hub_is_watched_by_user   (ConfabSandboxHub        *self,
                                                                  const char              *cid,
                                                                  const char              *user_id);
char                   **confab_sandbox_hub_dup_watchers         (ConfabSandboxHub        *self,
                                                                  const char              *cid);

void                     confab_sandbox_hub_send_to_watchers     (ConfabSandboxHub        *self,
                                                                  const char              *cid,
                                                                  JsonObject              *event,
                                                                  ConfabSandboxPersonalize personalize,
                                                                  gpointer                 user_data);
void                     confab_sandbox_hub_send_to_user         (ConfabSandboxHub        *self,
                                                                  const char              *user_id,
                                                                  JsonObject              *event);
void                     confab_sandbox_hub_send_presence        (ConfabSandboxHub        *self,
                                                                  const char              *user_id,
                                                                  JsonObject              *event);

G_END_DECLS
