/* confab-connection-manager.h: the one connection to Stream, observed by the app
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "confab-clock.h"
#include "confab-diagnostics.h"
#include "confab-endpoint-set.h"
#include "confab-outbox.h"
#include "confab-quality.h"
#include "confab-sleep-monitor.h"
#include "confab-stream-client.h"
#include "confab-token-provider.h"
#include "confab-transport.h"

G_BEGIN_DECLS

typedef enum {
  CONFAB_CONNECTION_STATE_IDLE,
  CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK,
  CONFAB_CONNECTION_STATE_CONNECTING,
  CONFAB_CONNECTION_STATE_UPDATING,      /* usable; catching up (re-watch, /sync) */
  CONFAB_CONNECTION_STATE_CONNECTED,
  CONFAB_CONNECTION_STATE_RECONNECTING,  /* waiting for next-retry */
  CONFAB_CONNECTION_STATE_LIMITED,       /* reserved for the SSE limited mode; unused */
  CONFAB_CONNECTION_STATE_FAILED,        /* see last-error; needs the user (sign in) */
} ConfabConnectionState;

GType confab_connection_state_get_type (void) G_GNUC_CONST;
#define CONFAB_TYPE_CONNECTION_STATE (confab_connection_state_get_type ())

#define CONFAB_CONNECTION_MANAGER_DEFAULT_HEDGE_MS             1500
#define CONFAB_CONNECTION_MANAGER_DEFAULT_WEBSOCKET_TIMEOUT_MS 10000
/* The backoff is reset once a connection stayed usable this long. */
#define CONFAB_CONNECTION_MANAGER_STABLE_MS                    10000
/* While on long-poll, WebSocket is tried again after 15 s, doubling to 60 s. */
#define CONFAB_CONNECTION_MANAGER_UPGRADE_PROBE_MIN_MS         15000
#define CONFAB_CONNECTION_MANAGER_UPGRADE_PROBE_MAX_MS         60000
/* A probe after a network change or a resume must be answered within this: the target
 * is "dead link noticed ≤ 3 s after a network-change event", and the half second left
 * covers the event's delivery and the dispatch. */
#define CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS            2500
/* Happy-Eyeballs: the next endpoint's attempt starts this long after the one before,
 * unless that one failed sooner. */
#define CONFAB_CONNECTION_MANAGER_ENDPOINT_STAGGER_MS          250
/* When the wall clock moved this much further than the monotonic one between two of the
 * manager's wake-ups, the machine was suspended (the monotonic clock stops): act as on a
 * resume. */
#define CONFAB_CONNECTION_MANAGER_SUSPEND_GAP_MS               10000

#define CONFAB_TYPE_CONNECTION_MANAGER (confab_connection_manager_get_type ())

G_DECLARE_FINAL_TYPE (ConfabConnectionManager, confab_connection_manager, CONFAB, CONNECTION_MANAGER, GObject)

/* Properties (read-only, notified on change): state, stage, transport ("websocket",
 * "longpoll" or NULL), endpoint, quality, rtt-ms (-1 unknown), loss, last-error
 * (G_TYPE_ERROR), next-retry (wall µs of the next attempt, 0 if none), connection-id,
 * user-id. Construct-only: base-url (the primary endpoint), endpoints (GStrv: more base
 * URLs, tried after base-url, or all of them when base-url is NULL), endpoint-set (a
 * ConfabEndpointSet instead of the two; base-url then reads back its first URL), api-key,
 * token-provider, clock (default: the
 * system clock), outbox (nullable; whatever becomes pending in it — send_text, the
 * user's confab_outbox_retry(), another writer — is sent while CONNECTED), diagnostics (created if NULL), network-monitor
 * (default g_network_monitor_get_default()), state-dir (nullable: where the catch-up
 * watermark is kept), hedge-ms, websocket-timeout-ms, websocket-idle-probe-ms and
 * websocket-probe-timeout-ms (the WebSocket's liveness probes), sleep-monitor (default: a
 * ConfabSleepMonitor on the system bus).
 *
 * Endpoints: each round starts WebSocket on the endpoint that last worked on this
 * network (remembered in state-dir/endpoints; the primary when none), the next endpoint
 * ENDPOINT_STAGGER_MS later or at once when one fails fast, long-poll after hedge-ms;
 * the first usable attempt wins, and REST calls follow it. A bad URL in the list makes
 * connect_async() fail with CONFAB_ERROR_INSECURE_URL. A network change forgets what
 * worked on the network that was left. When the monitor says there is no network, a
 * round still starts if an endpoint is reachable without one (loopback, a local route:
 * confab_endpoint_set_reachable_offline()).
 *
 * Catch-up (state UPDATING, after every connect and transport change): the user's
 * channels are re-watched (every page of them), then what was missed since the stored
 * watermark is fetched with /sync, page after page while Stream answers its cap of
 * 1000 events; when /sync is refused (a watermark older than 30 days, more than 255
 * channels) each channel's messages since the watermark are queried instead, page by
 * page. Missed events are delivered in order, each message once, before the state says
 * CONNECTED; live events that arrive meanwhile are held and delivered after them.
 *
 * Rate limits: an answer "too many requests" (HTTP 429, Stream code 9, 60 or 71) that
 * says when to come back (Retry-After, in seconds or as an HTTP-date, or Stream's
 * X-RateLimit-Reset) holds every connect round and outbox send until then, at most the
 * backoff cap (30 s); next-retry shows when, last-error carries the error (classified
 * CONFAB_ERROR_RATE_LIMITED).
 *
 * Signals: ::event (JsonObject *event) for every incoming event, ::message-received
 * (JsonObject *message) for each message.new's message, de-duplicated by id. */
ConfabConnectionManager *confab_connection_manager_new            (const char              *base_url,
                                                                   const char              *api_key,
                                                                   ConfabTokenProvider     *token_provider);

/* Resolves once CONNECTED (usable and caught up), or fails with the error that made the
 * state FAILED (or G_IO_ERROR_CANCELLED after disconnect()); it waits through
 * RECONNECTING rounds. A connect for the same user while one is in progress joins it;
 * another user's fails with CONFAB_ERROR_BUSY until disconnect(). Cancelling
 * @cancellable ends this caller's wait only (G_IO_ERROR_CANCELLED); the connection goes
 * on until disconnect(). */
void                     confab_connection_manager_connect_async  (ConfabConnectionManager *self,
                                                                   const char              *user_id,
                                                                   JsonObject              *user_details,
                                                                   GCancellable            *cancellable,
                                                                   GAsyncReadyCallback      callback,
                                                                   gpointer                 user_data);
gboolean                 confab_connection_manager_connect_finish (ConfabConnectionManager *self,
                                                                   GAsyncResult            *result,
                                                                   GError                 **error);
/* Cancels everything in flight, closes the connection; state IDLE. */
void                     confab_connection_manager_disconnect     (ConfabConnectionManager *self);
/* The user's "Retry now": starts a round now, in which each OPEN circuit breaker admits
 * one early trial (at most one immediate round per second; a rate limit still waits). */
void                     confab_connection_manager_retry_now      (ConfabConnectionManager *self);
/* The machine resumed from a suspend: as on a network change, a connected link is probed
 * at once (and dropped if it does not answer within PROBE_DEADLINE_MS) and a waiting
 * round starts now. The sleep monitor and a jump of the wall clock call this too; the
 * app may call it on its own signal (a portal, a screen unlock). */
void                     confab_connection_manager_notify_resumed (ConfabConnectionManager *self);
/* Enqueues @text for @cid in the outbox (written to disk before this returns) and
 * starts sending when connected. Needs an outbox. */
ConfabOutboxItem        *confab_connection_manager_send_text      (ConfabConnectionManager *self,
                                                                   const char              *cid,
                                                                   const char              *text,
                                                                   GError                 **error);

ConfabConnectionState    confab_connection_manager_get_state         (ConfabConnectionManager *self);
ConfabStage              confab_connection_manager_get_stage         (ConfabConnectionManager *self);
const char              *confab_connection_manager_get_transport     (ConfabConnectionManager *self);
const char              *confab_connection_manager_get_endpoint      (ConfabConnectionManager *self);
ConfabQuality            confab_connection_manager_get_quality       (ConfabConnectionManager *self);
int                      confab_connection_manager_get_rtt_ms        (ConfabConnectionManager *self);
double                   confab_connection_manager_get_loss          (ConfabConnectionManager *self);
const GError            *confab_connection_manager_get_last_error    (ConfabConnectionManager *self);
gint64                   confab_connection_manager_get_next_retry    (ConfabConnectionManager *self);
const char              *confab_connection_manager_get_connection_id (ConfabConnectionManager *self);
const char              *confab_connection_manager_get_user_id       (ConfabConnectionManager *self);
ConfabDiagnostics       *confab_connection_manager_get_diagnostics   (ConfabConnectionManager *self);
/* The REST client of the current session (transfer none), NULL before the first
 * connect_async(); it carries the connection_id once usable, so REST calls such as
 * watching a channel subscribe this connection. Replaced on a connect for another user. */
ConfabStreamClient      *confab_connection_manager_get_client        (ConfabConnectionManager *self);
/* The wall µs of the newest event seen (the catch-up watermark), 0 if none. */
gint64                   confab_connection_manager_get_watermark     (ConfabConnectionManager *self);

G_END_DECLS
