/* confab-sandbox-server.h: the Stream Chat protocol over HTTP and WebSocket
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "confab-sandbox-hub.h"
#include "confab-sandbox-store.h"
#include "confab-sandbox-webhooks.h"

G_BEGIN_DECLS

#define CONFAB_SANDBOX_TYPE_SERVER (confab_sandbox_server_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSandboxServer, confab_sandbox_server, CONFAB_SANDBOX, SERVER, GObject)

/* Request bodies above this get Stream's 413 / code 22. */
#define CONFAB_SANDBOX_MAX_BODY_SIZE (1024 * 1024)
/* WebSocket frames above this close the socket with 1009. */
#define CONFAB_SANDBOX_MAX_FRAME_SIZE (1024 * 1024)

ConfabSandboxServer *confab_sandbox_server_new        (const char           *api_key,
                                                       const char           *api_secret,
                                                       ConfabSandboxStore   *store,
                                                       ConfabSandboxWebhooks *webhooks);
gboolean             confab_sandbox_server_listen     (ConfabSandboxServer  *self,
                                                       GSocketAddress       *address,
                                                       GTlsCertificate      *certificate,
                                                       GError              **error);
char                *confab_sandbox_server_dup_url    (ConfabSandboxServer  *self);
ConfabSandboxStore  *confab_sandbox_server_get_store  (ConfabSandboxServer  *self);
ConfabSandboxHub    *confab_sandbox_server_get_hub    (ConfabSandboxServer  *self);
void                 confab_sandbox_server_shutdown   (ConfabSandboxServer  *self);

G_END_DECLS
