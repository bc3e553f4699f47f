/* confab-websocket-transport.h: Stream's /connect WebSocket
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-transport.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_WEBSOCKET_TRANSPORT (confab_websocket_transport_get_type ())

G_DECLARE_FINAL_TYPE (ConfabWebsocketTransport, confab_websocket_transport, CONFAB, WEBSOCKET_TRANSPORT, ConfabTransport)

/* Defaults: usable within 10 s or give up. After 10 s of silence send a probe; a probe
 * not answered within 2.5 s is lost (the "probe-lost" signal; the manager's loss
 * figure). While nothing at all is heard, probe again; the second lost probe in a row
 * declares the link dead. So a silent drop is noticed within 15 s, well under Stream's
 * own 35 s, without waking an idle app more than every 10 s, and one lost probe on a
 * lossy link is a loss sample, not a reconnect. Frames up to 4 MiB. */
#define CONFAB_WEBSOCKET_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define CONFAB_WEBSOCKET_DEFAULT_IDLE_PROBE_MS      10000
#define CONFAB_WEBSOCKET_DEFAULT_PROBE_TIMEOUT_MS   2500
#define CONFAB_WEBSOCKET_DEFAULT_MAX_LOST_PROBES    2
#define CONFAB_WEBSOCKET_MAX_FRAME_BYTES            (4 * 1024 * 1024)

ConfabTransport *confab_websocket_transport_new (void);

G_END_DECLS
