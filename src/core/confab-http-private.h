/* confab-http-private.h: one HTTP exchange with a deadline and a bound on the answer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* For the core's own use: sends @msg on @session and reads the whole body, at most
 * @max_size bytes (more → CONFAB_ERROR_PROTOCOL). With @timeout_ms > 0 the exchange
 * fails with CONFAB_ERROR_TIMEOUT after that long. The status and headers stay on @msg. */
void    _confab_http_send_async  (SoupSession          *session,
                                  SoupMessage          *msg,
                                  gsize                 max_size,
                                  guint                 timeout_ms,
                                  GCancellable         *cancellable,
                                  GAsyncReadyCallback   callback,
                                  gpointer              user_data);
GBytes *_confab_http_send_finish (GAsyncResult         *result,
                                  GError              **error);

G_END_DECLS
