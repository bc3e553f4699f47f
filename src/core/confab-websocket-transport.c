/* confab-websocket-transport.c: Stream's /connect WebSocket
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>

#include "confab-error.h"
#include "confab-json-private.h"
#include "confab-rate-limit.h"
#include "confab-websocket-transport.h"

/* RFC 6585; libsoup 3.2 has no name for it. */
#define HTTP_TOO_MANY_REQUESTS 429

struct _ConfabWebsocketTransport
{
  ConfabTransport          parent_instance;

  guint                    connect_timeout_ms;
  guint                    idle_probe_ms;
  guint                    probe_timeout_ms;
  guint                    max_lost_probes;

  SoupSession             *session;
  SoupMessage             *handshake;
  SoupWebsocketConnection *ws;
  char                    *client_id;

  GTask                   *connect_task;      /* pending until the first health.check */
  GCancellable            *connect_cancellable;
  gulong                   external_cancel_id;
  GCancellable            *external_cancellable;
  guint                    cancel_idle_id;    /* the caller cancelled: finish from an idle */
  guint                    connect_timeout_id;
  gboolean                 timed_out;
  GError                  *frame_error;       /* a connection.error before the close */
  GError                  *socket_error;      /* why libsoup closed it (bad UTF-8, too big…) */

  gboolean                 usable;
  gboolean                 closing;           /* we asked for it: no "lost" */
  ConfabClock             *clock;             /* the base's: liveness runs on it */
  guint                    liveness_id;       /* one clock timeout: the idle or the probe deadline */
  gint64                   probe_sent_at;     /* 0 when no probe is out */
  guint                    pings_out;         /* health.checks sent, not yet answered */
  gint64                   silent_since;      /* the first unanswered probe of a series */
  guint                    n_unanswered;      /* lost probes in a row, nothing else heard */
};

G_DEFINE_FINAL_TYPE (ConfabWebsocketTransport, confab_websocket_transport, CONFAB_TYPE_TRANSPORT)

enum {
  PROP_0,
  PROP_CONNECT_TIMEOUT_MS,
  PROP_IDLE_PROBE_MS,
  PROP_PROBE_TIMEOUT_MS,
  PROP_MAX_LOST_PROBES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void teardown_socket (ConfabWebsocketTransport *self);
static void arm_liveness    (ConfabWebsocketTransport *self,
                             guint                     delay_ms);

static void
finish_connect (ConfabWebsocketTransport *self,
                GError                   *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);

  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  g_clear_handle_id (&self->cancel_idle_id, g_source_remove);
  if (self->external_cancellable != NULL)
    g_cancellable_disconnect (self->external_cancellable, self->external_cancel_id);
  self->external_cancel_id = 0;
  g_clear_object (&self->external_cancellable);

  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }

  if (error != NULL)
    {
      g_debug ("websocket connect failed: %s %d", g_quark_to_string (error->domain), error->code);
      teardown_socket (self);
      _confab_transport_set_stage (CONFAB_TRANSPORT (self), CONFAB_STAGE_IDLE);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

static void
teardown_socket (ConfabWebsocketTransport *self)
{
  confab_clock_clear_timeout (self->clock, &self->liveness_id);
  if (self->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->ws, self);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&self->ws);
    }
  if (self->handshake != NULL)
    g_signal_handlers_disconnect_by_data (self->handshake, self);
  g_clear_object (&self->handshake);
  self->usable = FALSE;
  self->probe_sent_at = 0;
  self->pings_out = 0;
  self->silent_since = 0;
  self->n_unanswered = 0;
}

static void
confab_websocket_transport_dispose (GObject *object)
{
  ConfabWebsocketTransport *self = (ConfabWebsocketTransport *) object;

  self->closing = TRUE;
  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  finish_connect (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "disposed"));
  teardown_socket (self);
  g_clear_object (&self->connect_cancellable);
  g_clear_object (&self->session);
  g_clear_error (&self->frame_error);
  g_clear_error (&self->socket_error);

  G_OBJECT_CLASS (confab_websocket_transport_parent_class)->dispose (object);
}

static void
confab_websocket_transport_finalize (GObject *object)
{
  ConfabWebsocketTransport *self = (ConfabWebsocketTransport *) object;

  g_clear_pointer (&self->client_id, g_free);
  g_clear_object (&self->clock);

  G_OBJECT_CLASS (confab_websocket_transport_parent_class)->finalize (object);
}

static void
confab_websocket_transport_get_property (GObject    *object,
                                         guint       prop_id,
                                         GValue     *value,
                                         GParamSpec *pspec)
{
  ConfabWebsocketTransport *self = CONFAB_WEBSOCKET_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_CONNECT_TIMEOUT_MS:
      g_value_set_uint (value, self->connect_timeout_ms);
      break;
    case PROP_IDLE_PROBE_MS:
      g_value_set_uint (value, self->idle_probe_ms);
      break;
    case PROP_PROBE_TIMEOUT_MS:
      g_value_set_uint (value, self->probe_timeout_ms);
      break;
    case PROP_MAX_LOST_PROBES:
      g_value_set_uint (value, self->max_lost_probes);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_uint (ConfabWebsocketTransport *self,
          guint                    *field,
          guint                     value,
          guint                     prop_id)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
confab_websocket_transport_set_property (GObject      *object,
                                         guint         prop_id,
                                         const GValue *value,
                                         GParamSpec   *pspec)
{
  ConfabWebsocketTransport *self = CONFAB_WEBSOCKET_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_CONNECT_TIMEOUT_MS:
      set_uint (self, &self->connect_timeout_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_IDLE_PROBE_MS:
      set_uint (self, &self->idle_probe_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_PROBE_TIMEOUT_MS:
      set_uint (self, &self->probe_timeout_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_MAX_LOST_PROBES:
      set_uint (self, &self->max_lost_probes, g_value_get_uint (value), prop_id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Frames ------------------------------------------------------------------------------- */

/* A text frame as a JSON object, or NULL: not UTF-8, not JSON, not an object, or nested
 * deeper than json-glib's recursion can take (a 4 MiB frame of "[[[[" would overflow the
 * stack). */
static JsonObject *
parse_frame (GBytes *message)
{
  const char *data;
  gsize length = 0;

  data = g_bytes_get_data (message, &length);
  return _confab_json_parse_untrusted_object (data, length, NULL);
}

static void
handle_first_frame (ConfabWebsocketTransport *self,
                    JsonObject               *frame)
{
  GError *error = _confab_transport_error_from_frame (frame);
  JsonNode *id_node = json_object_get_member (frame, "connection_id");
  JsonNode *me_node = json_object_get_member (frame, "me");

  if (error != NULL)
    {
      /* The close that follows must not hide why. */
      g_clear_error (&self->frame_error);
      self->frame_error = g_error_copy (error);
      finish_connect (self, error);
      return;
    }

  if (g_strcmp0 (json_object_get_string_member_with_default (frame, "type", ""), "health.check") != 0 ||
      id_node == NULL || json_node_get_value_type (id_node) != G_TYPE_STRING ||
      *json_node_get_string (id_node) == '\0' ||
      (me_node != NULL && !JSON_NODE_HOLDS_OBJECT (me_node) && !JSON_NODE_HOLDS_NULL (me_node)))
    {
      finish_connect (self, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                                                 "the server's first frame was not a valid health.check"));
      return;
    }

  self->usable = TRUE;
  _confab_transport_set_usable (CONFAB_TRANSPORT (self), json_node_get_string (id_node),
                                me_node != NULL && JSON_NODE_HOLDS_OBJECT (me_node)
                                ? json_node_get_object (me_node) : NULL);
  arm_liveness (self, self->idle_probe_ms);
  g_debug ("websocket usable");
  finish_connect (self, NULL);
}

static void
on_message (SoupWebsocketConnection *ws,
            gint                     type,
            GBytes                  *message,
            gpointer                 user_data)
{
  ConfabWebsocketTransport *self = user_data;
  g_autoptr(JsonObject) frame = NULL;
  const char *frame_type;

  _confab_transport_touch (CONFAB_TRANSPORT (self));
  /* Any frame proves the link: the idle probe is due idle-probe-ms after the last one.
   * Moving the one timer's deadline costs no wake-up (a probe out keeps its own). */
  if (self->usable && self->probe_sent_at == 0 && self->liveness_id != 0)
    confab_clock_move_timeout (self->clock, self->liveness_id, self->idle_probe_ms);

  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    frame = parse_frame (message);

  if (!self->usable)
    {
      if (frame == NULL)
        finish_connect (self, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                                                   "the server's first frame was not JSON"));
      else
        handle_first_frame (self, frame);
      return;
    }

  /* Later junk is dropped, as Stream's SDK does; it must not end a working connection. */
  if (frame == NULL)
    {
      g_debug ("websocket: ignoring a frame that is not a JSON object");
      return;
    }
  frame_type = json_object_get_string_member_with_default (frame, "type", NULL);
  if (frame_type == NULL || *frame_type == '\0')
    {
      g_debug ("websocket: ignoring an event without a type");
      return;
    }

  if (g_str_equal (frame_type, "health.check") && self->probe_sent_at != 0 && self->pings_out > 1)
    {
      /* The answer to an earlier ping (answers come in order): the newest is still out. */
      self->pings_out--;
      g_debug ("websocket: an earlier ping answered; %u still out", self->pings_out);
    }
  else if (g_str_equal (frame_type, "health.check") && self->probe_sent_at != 0)
    {
      gint64 rtt = (confab_clock_now (self->clock) - self->probe_sent_at) / 1000;

      g_debug ("websocket: probe answered after %" G_GINT64_FORMAT " ms", rtt);

      self->probe_sent_at = 0;
      self->pings_out = 0;
      self->n_unanswered = 0;
      self->silent_since = 0;
      /* The next probe after idle-probe-ms of silence, not when this one would have expired. */
      arm_liveness (self, self->idle_probe_ms);
      _confab_transport_emit_rtt (CONFAB_TRANSPORT (self), (guint) CLAMP (rtt, 0, G_MAXINT));
    }

  _confab_transport_emit_event (CONFAB_TRANSPORT (self), frame);
}

static GError *
close_error (ConfabWebsocketTransport *self)
{
  gushort code = self->ws != NULL ? soup_websocket_connection_get_close_code (self->ws) : 0;

  if (self->frame_error != NULL)
    return g_error_copy (self->frame_error);
  if (self->socket_error != NULL)
    return g_error_new (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL, "the server broke the WebSocket protocol (%s)",
                        self->socket_error->message);
  /* A close for a broken frame (invalid UTF-8, too big, bad data) is a protocol error,
   * whichever side noticed it. */
  if (code == SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR || code == SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA ||
      code == SOUP_WEBSOCKET_CLOSE_BAD_DATA || code == SOUP_WEBSOCKET_CLOSE_TOO_BIG)
    return g_error_new (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                        "the WebSocket was closed because a frame broke the protocol (code %u)", code);
  return g_error_new (CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST,
                      "the server closed the connection (code %u)", code);
}

/* libsoup refuses a frame (invalid UTF-8 in a text frame, over the size limit, a bad
 * opcode) by closing the socket; keep why, so the close is not a mystery. */
static void
on_socket_error (SoupWebsocketConnection *ws,
                 GError                  *error,
                 gpointer                 user_data)
{
  ConfabWebsocketTransport *self = user_data;

  g_debug ("websocket error: %s %d", g_quark_to_string (error->domain), error->code);
  /* A socket that just failed (G_IO_ERROR) is a lost connection, said by on_closed(). */
  if (self->socket_error == NULL && error->domain == SOUP_WEBSOCKET_ERROR)
    self->socket_error = g_error_copy (error);
}

static void
on_closed (SoupWebsocketConnection *ws,
           gpointer                 user_data)
{
  ConfabWebsocketTransport *self = user_data;
  g_autoptr(GError) error = close_error (self);
  gboolean was_usable = self->usable;

  g_debug ("websocket closed (code %u)", soup_websocket_connection_get_close_code (ws));
  if (!was_usable)
    {
      finish_connect (self, g_steal_pointer (&error));
      return;
    }

  teardown_socket (self);
  _confab_transport_set_stage (CONFAB_TRANSPORT (self), CONFAB_STAGE_IDLE);
  if (!self->closing)
    _confab_transport_emit_lost (CONFAB_TRANSPORT (self), error);
}

/* Liveness ------------------------------------------------------------------------------- */

static gboolean
send_probe (ConfabWebsocketTransport *self)
{
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  if (self->ws == NULL || soup_websocket_connection_get_state (self->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return FALSE;

  /* Exactly what Stream's SDK sends (stream-chat-protocol.md §1.8), with the user id
   * escaped as JSON. */
  builder = json_builder_new ();
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "health.check");
  json_builder_set_member_name (builder, "client_id");
  json_builder_add_string_value (builder, self->client_id);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  soup_websocket_connection_send_text (self->ws, text);
  self->probe_sent_at = confab_clock_now (self->clock);
  self->pings_out++;
  return TRUE;
}

static void
declare_dead (ConfabWebsocketTransport *self,
              gint64                    silent_ms)
{
  ConfabTransport *transport = CONFAB_TRANSPORT (self);
  g_autoptr(GError) error = g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                                         "no answer from the server for %" G_GINT64_FORMAT " ms",
                                         silent_ms);

  g_debug ("websocket dead: %u probes unanswered, silent for %" G_GINT64_FORMAT " ms",
           self->n_unanswered, silent_ms);
  teardown_socket (self);
  _confab_transport_set_stage (transport, CONFAB_STAGE_IDLE);
  if (!self->closing)
    _confab_transport_emit_lost (transport, error);
}

/* A probe's deadline passed without its answer: it counts as lost. If nothing at all was
 * heard since the series began, ask again, up to max-lost-probes; then the link is dead.
 * If other frames came, the link lives and only the answer was missing. */
static void
probe_deadline_passed (ConfabWebsocketTransport *self,
                       gint64                    now)
{
  ConfabTransport *transport = CONFAB_TRANSPORT (self);
  gboolean heard = confab_transport_get_last_activity (transport) >= self->silent_since;
  g_autoptr(ConfabWebsocketTransport) hold = g_object_ref (self);

  self->probe_sent_at = 0;
  self->pings_out = 0;
  self->n_unanswered++;
  g_debug ("websocket: probe %u unanswered after %u ms", self->n_unanswered, self->probe_timeout_ms);
  _confab_transport_emit_probe_lost (transport);
  if (self->ws == NULL || self->closing)
    return;   /* a handler disconnected us */

  if (heard)
    {
      self->n_unanswered = 0;
      self->silent_since = 0;
      arm_liveness (self, self->idle_probe_ms);
      return;
    }
  if (self->n_unanswered >= MAX (self->max_lost_probes, 1))
    {
      declare_dead (self, (now - self->silent_since) / 1000);
      return;
    }
  send_probe (self);
  arm_liveness (self, self->probe_timeout_ms);
}

static gboolean
on_liveness (gpointer user_data)
{
  ConfabWebsocketTransport *self = user_data;
  ConfabTransport *transport = CONFAB_TRANSPORT (self);
  gint64 now = confab_clock_now (self->clock);
  gint64 idle_ms = (now - confab_transport_get_last_activity (transport)) / 1000;

  self->liveness_id = 0;

  if (self->probe_sent_at != 0)
    {
      gint64 waited_ms = (now - self->probe_sent_at) / 1000;

      if (waited_ms >= self->probe_timeout_ms)
        probe_deadline_passed (self, now);
      else
        arm_liveness (self, self->probe_timeout_ms - waited_ms);
      return G_SOURCE_REMOVE;
    }

  if (idle_ms >= self->idle_probe_ms)
    {
      self->silent_since = now;
      self->n_unanswered = 0;
      send_probe (self);
      arm_liveness (self, self->probe_timeout_ms);
    }
  else
    arm_liveness (self, self->idle_probe_ms - idle_ms);

  return G_SOURCE_REMOVE;
}

/* One timer for the next deadline: idle-probe-ms after the last frame (on_message()
 * moves it without waking up), or a probe's answer deadline. An idle connection wakes
 * once every idle-probe-ms, a busy one only when it falls quiet. */
static void
arm_liveness (ConfabWebsocketTransport *self,
              guint                     delay_ms)
{
  if (self->liveness_id != 0 &&
      confab_clock_move_timeout (self->clock, self->liveness_id, MAX (delay_ms, 1)))
    return;
  confab_clock_clear_timeout (self->clock, &self->liveness_id);
  self->liveness_id = confab_clock_add_timeout (self->clock, MAX (delay_ms, 1), on_liveness, self, NULL);
}

static gboolean
confab_websocket_transport_probe (ConfabTransport *transport)
{
  ConfabWebsocketTransport *self = CONFAB_WEBSOCKET_TRANSPORT (transport);
  gboolean in_flight = self->probe_sent_at != 0;

  if (!self->usable)
    return FALSE;
  /* A ping already out may have been answered just before the link died, its answer
   * still unread: a fresh ping, whose answer comes after that one, is what proves the
   * link is alive now. */
  if (!send_probe (self))
    return in_flight;
  if (!in_flight)
    {
      self->silent_since = self->probe_sent_at;
      self->n_unanswered = 0;
    }
  arm_liveness (self, self->probe_timeout_ms);
  return TRUE;
}

/* Connecting ----------------------------------------------------------------------------- */

static void
on_websocket_connected (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(ConfabWebsocketTransport) self = user_data;
  g_autoptr(GError) error = NULL;
  SoupWebsocketConnection *ws;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (ws == NULL)
    {
      guint status = self->handshake != NULL ? soup_message_get_status (self->handshake) : 0;

      if (self->connect_task == NULL)
        return;
      if (self->timed_out)
        finish_connect (self, g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                                           "no WebSocket connection within %u ms", self->connect_timeout_ms));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        finish_connect (self, g_steal_pointer (&error));
      else if (status == HTTP_TOO_MANY_REQUESTS)
        {
          /* Slow down rather than fail over: the limit is the app's or the user's. */
          _confab_transport_set_retry_at (CONFAB_TRANSPORT (self),
                                          confab_rate_limit_retry_at (soup_message_get_response_headers (self->handshake),
                                                                      g_get_real_time ()));
          finish_connect (self, g_error_new (CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED,
                                             "the WebSocket upgrade was answered with HTTP %u (too many requests)",
                                             status));
        }
      else if (status >= 100 && status != SOUP_STATUS_SWITCHING_PROTOCOLS)
        finish_connect (self, g_error_new (CONFAB_ERROR, CONFAB_ERROR_UPGRADE_REJECTED,
                                           "the WebSocket upgrade was answered with HTTP %u", status));
      else
        finish_connect (self, g_steal_pointer (&error));
      return;
    }

  if (self->connect_task == NULL)
    {
      /* Cancelled meanwhile: leave nothing open on the server. */
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref (ws);
      return;
    }

  _confab_transport_mark_answered (CONFAB_TRANSPORT (self));
  self->ws = ws;
  g_object_set (ws,
                "max-incoming-payload-size", (guint64) CONFAB_WEBSOCKET_MAX_FRAME_BYTES,
                "keepalive-interval", (guint) 0,
                NULL);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), self);
  g_signal_connect (ws, "error", G_CALLBACK (on_socket_error), self);
  _confab_transport_set_stage (CONFAB_TRANSPORT (self), CONFAB_STAGE_AUTHENTICATING);
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  ConfabWebsocketTransport *self = user_data;

  self->connect_timeout_id = 0;
  self->timed_out = TRUE;
  g_debug ("websocket: not usable within %u ms", self->connect_timeout_ms);
  if (self->ws != NULL)
    finish_connect (self, g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                                       "connected, but no health.check within %u ms",
                                       self->connect_timeout_ms));
  else if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancel_idle (gpointer user_data)
{
  ConfabWebsocketTransport *self = user_data;

  self->cancel_idle_id = 0;
  finish_connect (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
  return G_SOURCE_REMOVE;
}

static void
on_external_cancel (GCancellable *cancellable,
                    gpointer      user_data)
{
  ConfabWebsocketTransport *self = user_data;

  /* From any thread in theory; here always the owner's, as GTask requires. */
  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  /* After the upgrade nothing watches connect_cancellable: end the attempt (and close
   * the socket) ourselves, from an idle because finish_connect() disconnects from
   * @cancellable, which must not happen inside its own "cancelled" handler. */
  if (self->cancel_idle_id == 0)
    self->cancel_idle_id = g_idle_add (on_cancel_idle, self);
}

/* ws(s)://host[:port][/prefix]/connect?json=…&api_key=…&authorization=…&stream-auth-type=jwt */
static char *
build_url (const ConfabConnectParams  *params,
           char                      **out_endpoint,
           GError                    **error)
{
  g_autoptr(GString) url = NULL;
  g_autofree char *payload = NULL;

  *out_endpoint = _confab_transport_endpoint_url (params->base_url, TRUE, "connect", error);
  if (*out_endpoint == NULL)
    return NULL;

  payload = confab_connect_params_build_payload (params, TRUE);
  url = g_string_new (*out_endpoint);
  g_string_append (url, "?json=");
  g_string_append_uri_escaped (url, payload, NULL, FALSE);
  g_string_append (url, "&api_key=");
  g_string_append_uri_escaped (url, params->api_key, NULL, FALSE);
  g_string_append (url, "&authorization=");
  g_string_append_uri_escaped (url, params->token, NULL, FALSE);
  g_string_append (url, "&stream-auth-type=jwt&X-Stream-Client=confab-" PACKAGE_VERSION);
  return g_string_free (g_steal_pointer (&url), FALSE);
}

static void
confab_websocket_transport_connect_async (ConfabTransport           *transport,
                                          const ConfabConnectParams *params,
                                          GCancellable              *cancellable,
                                          GAsyncReadyCallback        callback,
                                          gpointer                   user_data)
{
  ConfabWebsocketTransport *self = CONFAB_WEBSOCKET_TRANSPORT (transport);
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *endpoint = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_websocket_transport_connect_async);

  if (self->connect_task != NULL || self->ws != NULL)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_BUSY,
                               "this transport is already connecting or connected");
      return;
    }
  if (!_confab_transport_check_params (params, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  url = build_url (params, &endpoint, &error);
  if (url == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  _confab_transport_set_endpoint (transport, endpoint);

  g_free (self->client_id);
  {
    g_autofree char *random = g_uuid_string_random ();
    self->client_id = g_strdup_printf ("%s--%s", params->user_id, random);
  }

  self->closing = FALSE;
  self->timed_out = FALSE;
  _confab_transport_reset_handshake (transport);
  g_clear_error (&self->frame_error);
  g_clear_error (&self->socket_error);
  self->connect_task = g_steal_pointer (&task);
  g_clear_object (&self->connect_cancellable);
  self->connect_cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      self->external_cancellable = g_object_ref (cancellable);
      self->external_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_external_cancel), self, NULL);
    }
  self->connect_timeout_id = g_timeout_add (self->connect_timeout_ms, on_connect_timeout, self);

  self->handshake = soup_message_new ("GET", url);
  if (self->handshake == NULL)
    {
      finish_connect (self, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                                                 "the server address is not a valid URL"));
      return;
    }
  _confab_transport_follow_network_events (transport, self->handshake, CONFAB_STAGE_UPGRADING);
  _confab_transport_set_stage (transport, CONFAB_STAGE_RESOLVING);

  g_debug ("websocket: connecting to %s", endpoint);
  soup_session_websocket_connect_async (self->session, self->handshake, NULL, NULL,
                                        G_PRIORITY_DEFAULT, self->connect_cancellable,
                                        on_websocket_connected, g_object_ref (self));
}

static gboolean
confab_websocket_transport_connect_finish (ConfabTransport  *transport,
                                           GAsyncResult     *result,
                                           GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, transport), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
confab_websocket_transport_disconnect (ConfabTransport *transport)
{
  ConfabWebsocketTransport *self = CONFAB_WEBSOCKET_TRANSPORT (transport);

  self->closing = TRUE;
  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  finish_connect (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "disconnected"));
  teardown_socket (self);
  _confab_transport_set_stage (transport, CONFAB_STAGE_IDLE);
}

static void
confab_websocket_transport_constructed (GObject *object)
{
  ConfabWebsocketTransport *self = (ConfabWebsocketTransport *) object;

  G_OBJECT_CLASS (confab_websocket_transport_parent_class)->constructed (object);
  self->clock = g_object_ref (confab_transport_get_clock (CONFAB_TRANSPORT (self)));
}

static void
confab_websocket_transport_class_init (ConfabWebsocketTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ConfabTransportClass *transport_class = CONFAB_TRANSPORT_CLASS (klass);

  object_class->constructed = confab_websocket_transport_constructed;
  object_class->dispose = confab_websocket_transport_dispose;
  object_class->finalize = confab_websocket_transport_finalize;
  object_class->get_property = confab_websocket_transport_get_property;
  object_class->set_property = confab_websocket_transport_set_property;

  transport_class->connect_async = confab_websocket_transport_connect_async;
  transport_class->connect_finish = confab_websocket_transport_connect_finish;
  transport_class->disconnect = confab_websocket_transport_disconnect;
  transport_class->probe = confab_websocket_transport_probe;

  properties[PROP_CONNECT_TIMEOUT_MS] =
    g_param_spec_uint ("connect-timeout-ms", NULL, NULL, 1, 600000,
                       CONFAB_WEBSOCKET_DEFAULT_CONNECT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_IDLE_PROBE_MS] =
    g_param_spec_uint ("idle-probe-ms", NULL, NULL, 1, 600000,
                       CONFAB_WEBSOCKET_DEFAULT_IDLE_PROBE_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROBE_TIMEOUT_MS] =
    g_param_spec_uint ("probe-timeout-ms", NULL, NULL, 1, 600000,
                       CONFAB_WEBSOCKET_DEFAULT_PROBE_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Probes in a row without any frame heard before the link is declared dead. */
  properties[PROP_MAX_LOST_PROBES] =
    g_param_spec_uint ("max-lost-probes", NULL, NULL, 1, 100,
                       CONFAB_WEBSOCKET_DEFAULT_MAX_LOST_PROBES,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_websocket_transport_init (ConfabWebsocketTransport *self)
{
  self->connect_timeout_ms = CONFAB_WEBSOCKET_DEFAULT_CONNECT_TIMEOUT_MS;
  self->idle_probe_ms = CONFAB_WEBSOCKET_DEFAULT_IDLE_PROBE_MS;
  self->probe_timeout_ms = CONFAB_WEBSOCKET_DEFAULT_PROBE_TIMEOUT_MS;
  self->max_lost_probes = CONFAB_WEBSOCKET_DEFAULT_MAX_LOST_PROBES;
  /* Its own session: nothing else queues behind the upgrade. */
  self->session = soup_session_new_with_options ("user-agent", "confab/" PACKAGE_VERSION,
                                                 "timeout", 0,
                                                 "idle-timeout", 60,
                                                 NULL);
}

ConfabTransport *
confab_websocket_transport_new (void)
{
  return g_object_new (CONFAB_TYPE_WEBSOCKET_TRANSPORT,
                       "kind", CONFAB_TRANSPORT_KIND_WEBSOCKET,
                       NULL);
}
