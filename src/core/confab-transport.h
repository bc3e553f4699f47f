/* confab-transport.h: the strategy base for a real-time connection to Stream
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "confab-clock.h"

G_BEGIN_DECLS

/* How far an attempt has got; the manager adds SYNCING and READY. */
typedef enum {
  CONFAB_STAGE_IDLE,
  CONFAB_STAGE_RESOLVING,
  CONFAB_STAGE_CONNECTING,
  CONFAB_STAGE_TLS,
  CONFAB_STAGE_UPGRADING,
  CONFAB_STAGE_AUTHENTICATING,
  CONFAB_STAGE_SYNCING,
  CONFAB_STAGE_READY,
} ConfabStage;

typedef enum {
  CONFAB_TRANSPORT_KIND_WEBSOCKET,
  CONFAB_TRANSPORT_KIND_LONGPOLL,
} ConfabTransportKind;

GType confab_stage_get_type          (void) G_GNUC_CONST;
GType confab_transport_kind_get_type (void) G_GNUC_CONST;
#define CONFAB_TYPE_STAGE          (confab_stage_get_type ())
#define CONFAB_TYPE_TRANSPORT_KIND (confab_transport_kind_get_type ())

/* What a connect needs; the token is fetched by the caller for each attempt. */
typedef struct {
  char       *base_url;     /* REST base: https://host[:port] (http only for loopback) */
  char       *api_key;
  char       *user_id;
  char       *token;
  JsonObject *user_details; /* {"id": user_id, …}; NULL means {"id": user_id} */
} ConfabConnectParams;

ConfabConnectParams *confab_connect_params_new  (const char          *base_url,
                                                 const char          *api_key,
                                                 const char          *user_id,
                                                 const char          *token);
ConfabConnectParams *confab_connect_params_copy (const ConfabConnectParams *params);
void                 confab_connect_params_free (ConfabConnectParams *params);
char                *confab_connect_params_build_payload (const ConfabConnectParams *params,
                                                          gboolean                   with_request_id);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabConnectParams, confab_connect_params_free)

#define CONFAB_TYPE_TRANSPORT (confab_transport_get_type ())

G_DECLARE_DERIVABLE_TYPE (ConfabTransport, confab_transport, CONFAB, TRANSPORT, GObject)

struct _ConfabTransportClass
{
  GObjectClass parent_class;

  /* Resolves once the connection is usable: the first health.check carrying a
   * connection_id has arrived (an HTTP 101 alone is not success). */
  void      (*connect_async)  (ConfabTransport           *self,
                               const ConfabConnectParams *params,
                               GCancellable              *cancellable,
                               GAsyncReadyCallback        callback,
                               gpointer                   user_data);
  gboolean  (*connect_finish) (ConfabTransport           *self,
                               GAsyncResult              *result,
                               GError                   **error);
  /* Closes politely; emits no "lost". Safe at any time, also mid-connect. */
  void      (*disconnect)     (ConfabTransport           *self);
  /* An application-level probe; the answer arrives as an "rtt" sample. */
  gboolean  (*probe)          (ConfabTransport           *self);

  gpointer padding[8];
};

void                 confab_transport_connect_async     (ConfabTransport           *self,
                                                         const ConfabConnectParams *params,
                                                         GCancellable              *cancellable,
                                                         GAsyncReadyCallback        callback,
                                                         gpointer                   user_data);
gboolean             confab_transport_connect_finish    (ConfabTransport           *self,
                                                         GAsyncResult              *result,
                                                         GError                   **error);
void                 confab_transport_disconnect        (ConfabTransport           *self);
gboolean             confab_transport_probe             (ConfabTransport           *self);

ConfabTransportKind  confab_transport_get_kind          (ConfabTransport           *self);
const char          *confab_transport_get_endpoint      (ConfabTransport           *self);
const char          *confab_transport_get_connection_id (ConfabTransport           *self);
ConfabStage          confab_transport_get_stage         (ConfabTransport           *self);
JsonObject          *confab_transport_get_me            (ConfabTransport           *self);
gint64               confab_transport_get_last_activity (ConfabTransport           *self);
/* After a failed connect answered "too many requests" (HTTP 429): when the server allows
 * the next attempt (wall µs, from Retry-After or X-RateLimit-Reset), 0 if it did not say.
 * Cleared when the next connect starts. */
gint64               confab_transport_get_retry_at      (ConfabTransport           *self);
ConfabClock         *confab_transport_get_clock         (ConfabTransport           *self);
/* The connect request's round trip (upgrade → 101, long-poll connect → answer) in ms,
 * -1 if not measured: the first RTT sample worth having. */
int                  confab_transport_get_handshake_rtt_ms (ConfabTransport        *self);

/* For subclasses. */
void                 _confab_transport_set_stage        (ConfabTransport           *self,
                                                         ConfabStage                stage);
void                 _confab_transport_set_endpoint     (ConfabTransport           *self,
                                                         const char                *endpoint);
void                 _confab_transport_set_usable       (ConfabTransport           *self,
                                                         const char                *connection_id,
                                                         JsonObject                *me);
void                 _confab_transport_emit_event       (ConfabTransport           *self,
                                                         JsonObject                *event);
void                 _confab_transport_emit_lost        (ConfabTransport           *self,
                                                         const GError              *error);
void                 _confab_transport_emit_rtt         (ConfabTransport           *self,
                                                         guint                      rtt_ms);
void                 _confab_transport_emit_probe_lost  (ConfabTransport           *self);
void                 _confab_transport_set_retry_at     (ConfabTransport           *self,
                                                         gint64                     retry_at);
void                 _confab_transport_touch            (ConfabTransport           *self);
void                 _confab_transport_reset_handshake  (ConfabTransport           *self);
void                 _confab_transport_mark_answered    (ConfabTransport           *self);
GError              *_confab_transport_error_from_frame (JsonObject                *frame);
gboolean             _confab_transport_check_params     (const ConfabConnectParams *params,
                                                         GError                   **error);
void                 _confab_transport_follow_network_events (ConfabTransport      *self,
                                                              SoupMessage          *msg,
                                                              ConfabStage           request_stage);
char                *_confab_transport_endpoint_url     (const char                *base_url,
                                                         gboolean                   websocket,
                                                         const char                *suffix,
                                                         GError                   **error);

G_END_DECLS
