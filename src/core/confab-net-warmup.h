/* confab-net-warmup.h: the one-time costs of a first connection, paid in a thread ahead of it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a warm-up did, for logs and tests. */
typedef enum {
  CONFAB_NET_WARMUP_PROXY    = 1 << 0,  /* the default GProxyResolver asked once (libproxy, GSettings) */
  CONFAB_NET_WARMUP_RESOLVER = 1 << 1,  /* the host looked up once (NSS modules, resolver caches) */
  CONFAB_NET_WARMUP_TLS      = 1 << 2,  /* the TLS backend and its default CA database loaded */
} ConfabNetWarmupFlags;

void                 confab_net_warmup_async  (const char           *base_url,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
ConfabNetWarmupFlags confab_net_warmup_finish (GAsyncResult         *result,
                                               GError              **error);
void                 confab_net_warmup_start  (const char           *base_url);

G_END_DECLS
