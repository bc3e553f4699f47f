/* confab-transport.c: the strategy base for a real-time connection to Stream
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-error.h"
#include "confab-secure-url.h"
#include "confab-transport.h"

G_DEFINE_ENUM_TYPE (ConfabStage, confab_stage,
  G_DEFINE_ENUM_VALUE (CONFAB_STAGE_IDLE, "idle"),
  G_DEFINE_ENUM_VALUE (CONFAB_STAGE_RESOLVING, "resolving"),
  G_DEFINE_ENUM_VALUE (CONFAB_STAGE_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (CONFAB_STAGE_TLS, "tls"),
  G_DEFINE_ENUM_VALUE (CONFAB_STAGE_UPGRADING, "upgrading"),
  G_DEFINE_ENUM_VALUE (CONFAB_STAGE_AUTHENTICATING, "authenticating"),
  G_DEFINE_ENUM_VALUE (CONFAB_STAGE_SYNCING, "syncing"),
  G_DEFINE_ENUM_VALUE (CONFAB_STAGE_READY, "ready"))

G_DEFINE_ENUM_TYPE (ConfabTransportKind, confab_transport_kind,
  G_DEFINE_ENUM_VALUE (CONFAB_TRANSPORT_KIND_WEBSOCKET, "websocket"),
  G_DEFINE_ENUM_VALUE (CONFAB_TRANSPORT_KIND_LONGPOLL, "longpoll"))

typedef struct
{
  ConfabTransportKind  kind;
  char                *endpoint;
  char                *connection_id;
  ConfabStage          stage;
  JsonObject          *me;
  gint64               last_activity;
  gint64               retry_at;        /* wall µs from a 429, 0 if none */
  ConfabStage          request_stage;   /* once the request is on its way */
  ConfabClock         *clock;
  gint64               request_sent_at; /* clock µs: the connection was up, the request went */
  int                  handshake_rtt_ms;
} ConfabTransportPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (ConfabTransport, confab_transport, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_KIND,
  PROP_ENDPOINT,
  PROP_CONNECTION_ID,
  PROP_STAGE,
  PROP_CLOCK,
  N_PROPS
};

enum {
  SIGNAL_EVENT,
  SIGNAL_LOST,
  SIGNAL_RTT,
  SIGNAL_PROBE_LOST,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static gboolean
set_str (char       **field,
         const char  *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

/* Connect parameters ------------------------------------------------------------------ */

ConfabConnectParams *
confab_connect_params_new (const char *base_url,
                           const char *api_key,
                           const char *user_id,
                           const char *token)
{
  ConfabConnectParams *params = g_new0 (ConfabConnectParams, 1);

  params->base_url = g_strdup (base_url);
  params->api_key = g_strdup (api_key);
  params->user_id = g_strdup (user_id);
  params->token = g_strdup (token);
  return params;
}

ConfabConnectParams *
confab_connect_params_copy (const ConfabConnectParams *params)
{
  ConfabConnectParams *copy;

  g_return_val_if_fail (params != NULL, NULL);

  copy = confab_connect_params_new (params->base_url, params->api_key, params->user_id, params->token);
  if (params->user_details != NULL)
    copy->user_details = json_object_ref (params->user_details);
  return copy;
}

void
confab_connect_params_free (ConfabConnectParams *params)
{
  if (params == NULL)
    return;
  g_free (params->base_url);
  g_free (params->api_key);
  g_free (params->user_id);
  if (params->token != NULL)
    memset (params->token, 0, strlen (params->token));
  g_free (params->token);
  g_clear_pointer (&params->user_details, json_object_unref);
  g_free (params);
}

/* The `json` parameter of /connect and /longpoll (stream-chat-protocol.md §1.3). */
char *
confab_connect_params_build_payload (const ConfabConnectParams *params,
                                     gboolean                   with_request_id)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (params != NULL && params->user_id != NULL, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "user_id");
  json_builder_add_string_value (builder, params->user_id);
  json_builder_set_member_name (builder, "user_details");
  if (params->user_details != NULL)
    {
      g_autoptr(JsonNode) details = json_node_init_object (json_node_alloc (), params->user_details);

      json_builder_add_value (builder, g_steal_pointer (&details));
    }
  else
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, params->user_id);
      json_builder_end_object (builder);
    }
  if (with_request_id)
    {
      g_autofree char *request_id = g_uuid_string_random ();

      json_builder_set_member_name (builder, "client_request_id");
      json_builder_add_string_value (builder, request_id);
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

/* The transport ------------------------------------------------------------------------ */

static void
confab_transport_finalize (GObject *object)
{
  ConfabTransport *self = CONFAB_TRANSPORT (object);
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_clear_pointer (&priv->endpoint, g_free);
  g_clear_pointer (&priv->connection_id, g_free);
  g_clear_pointer (&priv->me, json_object_unref);
  g_clear_object (&priv->clock);

  G_OBJECT_CLASS (confab_transport_parent_class)->finalize (object);
}

static void
confab_transport_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  ConfabTransport *self = CONFAB_TRANSPORT (object);
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_KIND:
      g_value_set_enum (value, priv->kind);
      break;
    case PROP_ENDPOINT:
      g_value_set_string (value, priv->endpoint);
      break;
    case PROP_CONNECTION_ID:
      g_value_set_string (value, priv->connection_id);
      break;
    case PROP_STAGE:
      g_value_set_enum (value, priv->stage);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, priv->clock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_transport_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  ConfabTransport *self = CONFAB_TRANSPORT (object);
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_KIND:
      priv->kind = g_value_get_enum (value);
      break;
    case PROP_ENDPOINT:
      _confab_transport_set_endpoint (self, g_value_get_string (value));
      break;
    case PROP_CLOCK:
      if (g_value_get_object (value) != NULL)
        g_set_object (&priv->clock, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
confab_transport_real_probe (ConfabTransport *self)
{
  return FALSE;
}

static void
confab_transport_class_init (ConfabTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_transport_finalize;
  object_class->get_property = confab_transport_get_property;
  object_class->set_property = confab_transport_set_property;
  klass->probe = confab_transport_real_probe;

  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL,
                       CONFAB_TYPE_TRANSPORT_KIND, CONFAB_TRANSPORT_KIND_WEBSOCKET,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* The URL this transport connects to, redacted of credentials. */
  properties[PROP_ENDPOINT] =
    g_param_spec_string ("endpoint", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECTION_ID] =
    g_param_spec_string ("connection-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STAGE] =
    g_param_spec_enum ("stage", NULL, NULL,
                       CONFAB_TYPE_STAGE, CONFAB_STAGE_IDLE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* What liveness timers and activity times run on (NULL at construction: the shared
   * system clock); tests give a ConfabFakeClock. */
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, CONFAB_TYPE_CLOCK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabTransport::event:
   * @event: a Stream event (a JSON object with a `type`)
   *
   * Every event that arrives once the connection is usable, in arrival order.
   */
  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);

  /**
   * ConfabTransport::lost:
   * @error: why (CONFAB_ERROR_CONNECTION_LOST, TIMEOUT, AUTH, …)
   *
   * A usable connection ended without confab_transport_disconnect(). Emitted once.
   */
  signals[SIGNAL_LOST] =
    g_signal_new ("lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);

  /**
   * ConfabTransport::rtt:
   * @rtt_ms: one round-trip time sample
   *
   * A probe or health check came back.
   */
  signals[SIGNAL_RTT] =
    g_signal_new ("rtt", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);

  /**
   * ConfabTransport::probe-lost:
   *
   * A liveness probe got no answer within its deadline. The link may still be alive
   * (a lossy or congested one); "lost" follows only when it is declared dead.
   */
  signals[SIGNAL_PROBE_LOST] =
    g_signal_new ("probe-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
confab_transport_init (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  priv->clock = g_object_ref (confab_clock_get_default ());
  priv->handshake_rtt_ms = -1;
}

void
confab_transport_connect_async (ConfabTransport           *self,
                                const ConfabConnectParams *params,
                                GCancellable              *cancellable,
                                GAsyncReadyCallback        callback,
                                gpointer                   user_data)
{
  g_return_if_fail (CONFAB_IS_TRANSPORT (self));
  g_return_if_fail (params != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  _confab_transport_set_retry_at (self, 0);
  CONFAB_TRANSPORT_GET_CLASS (self)->connect_async (self, params, cancellable, callback, user_data);
}

gboolean
confab_transport_connect_finish (ConfabTransport  *self,
                                 GAsyncResult     *result,
                                 GError          **error)
{
  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), FALSE);

  return CONFAB_TRANSPORT_GET_CLASS (self)->connect_finish (self, result, error);
}

void
confab_transport_disconnect (ConfabTransport *self)
{
  g_return_if_fail (CONFAB_IS_TRANSPORT (self));

  CONFAB_TRANSPORT_GET_CLASS (self)->disconnect (self);
}

gboolean
confab_transport_probe (ConfabTransport *self)
{
  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), FALSE);

  return CONFAB_TRANSPORT_GET_CLASS (self)->probe (self);
}

ConfabTransportKind
confab_transport_get_kind (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), CONFAB_TRANSPORT_KIND_WEBSOCKET);
  return priv->kind;
}

const char *
confab_transport_get_endpoint (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), NULL);
  return priv->endpoint;
}

const char *
confab_transport_get_connection_id (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), NULL);
  return priv->connection_id;
}

ConfabStage
confab_transport_get_stage (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), CONFAB_STAGE_IDLE);
  return priv->stage;
}

/* The OwnUser of the first health.check, or NULL before the connection is usable. */
JsonObject *
confab_transport_get_me (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), NULL);
  return priv->me;
}

/* Monotonic µs of the last frame or response; the manager's silence watchdog reads it. */
gint64
confab_transport_get_last_activity (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), 0);
  return priv->last_activity;
}

/**
 * confab_transport_get_clock:
 * @self: a #ConfabTransport
 *
 * Returns: (transfer none): the clock its timers and activity times run on
 */
ConfabClock *
confab_transport_get_clock (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), NULL);
  return priv->clock;
}

/**
 * confab_transport_get_handshake_rtt_ms:
 * @self: a #ConfabTransport
 *
 * The round trip measured while connecting, from the moment the connection was up and
 * the request went out to the server's first answer: the WebSocket upgrade (request to
 * the 101), the long-poll connect (request to its answer). It is the honest first RTT
 * sample: the first health.check follows the 101 in the same flight, so the time from
 * the 101 to it (the "authenticating" stage) says nothing about the link.
 *
 * Returns: milliseconds, or -1 when not measured (not connected yet, or a request on a
 *   reused connection, whose start libsoup does not announce)
 */
int
confab_transport_get_handshake_rtt_ms (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), -1);
  return priv->handshake_rtt_ms;
}

/* For subclasses: a new connect begins (forget the last one's measurement). */
void
_confab_transport_reset_handshake (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  priv->request_sent_at = 0;
  priv->handshake_rtt_ms = -1;
}

/* For subclasses: the server's first answer to the connect request has arrived. */
void
_confab_transport_mark_answered (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);
  gint64 elapsed;

  if (priv->request_sent_at == 0 || priv->handshake_rtt_ms >= 0)
    return;
  elapsed = (confab_clock_now (priv->clock) - priv->request_sent_at) / 1000;
  priv->handshake_rtt_ms = (int) CLAMP (elapsed, 0, G_MAXINT);
}

gint64
confab_transport_get_retry_at (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), 0);
  return priv->retry_at;
}

void
_confab_transport_set_stage (ConfabTransport *self,
                             ConfabStage      stage)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  if (priv->stage == stage)
    return;
  priv->stage = stage;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STAGE]);
}

void
_confab_transport_set_endpoint (ConfabTransport *self,
                                const char      *endpoint)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  if (set_str (&priv->endpoint, endpoint))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENDPOINT]);
}

void
_confab_transport_set_usable (ConfabTransport *self,
                              const char      *connection_id,
                              JsonObject      *me)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_clear_pointer (&priv->me, json_object_unref);
  if (me != NULL)
    priv->me = json_object_ref (me);
  _confab_transport_touch (self);
  if (set_str (&priv->connection_id, connection_id))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION_ID]);
}

void
_confab_transport_emit_event (ConfabTransport *self,
                              JsonObject      *event)
{
  _confab_transport_touch (self);
  g_signal_emit (self, signals[SIGNAL_EVENT], 0, event);
}

void
_confab_transport_emit_lost (ConfabTransport *self,
                             const GError    *error)
{
  g_signal_emit (self, signals[SIGNAL_LOST], 0, error);
}

void
_confab_transport_emit_rtt (ConfabTransport *self,
                            guint            rtt_ms)
{
  g_signal_emit (self, signals[SIGNAL_RTT], 0, rtt_ms);
}

void
_confab_transport_emit_probe_lost (ConfabTransport *self)
{
  g_signal_emit (self, signals[SIGNAL_PROBE_LOST], 0);
}

void
_confab_transport_set_retry_at (ConfabTransport *self,
                                gint64           retry_at)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  priv->retry_at = retry_at;
}

void
_confab_transport_touch (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  priv->last_activity = confab_clock_now (priv->clock);
}

/* Stream's error frame or body, `{"error": {code, message, StatusCode}}`, as a GError;
 * NULL when @frame carries none. */
GError *
_confab_transport_error_from_frame (JsonObject *frame)
{
  JsonNode *node = json_object_get_member (frame, "error");
  JsonObject *error;
  const char *message;
  gint64 code;
  gint64 status;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL, "the server sent a malformed error");

  error = json_node_get_object (node);
  code = json_object_get_int_member_with_default (error, "code", CONFAB_API_ERROR_INTERNAL);
  status = json_object_get_int_member_with_default (error, "StatusCode", 0);
  message = json_object_get_string_member_with_default (error, "message", "the server refused the connection");
  return confab_api_error_new (code, status > 0 && status < 1000 ? status : 0, message);
}

/* scheme://host[:port][/prefix]/@suffix from Stream's REST base URL, after the
 * https-or-loopback rule; @websocket maps http → ws and https → wss. */
char *
_confab_transport_endpoint_url (const char  *base_url,
                                gboolean     websocket,
                                const char  *suffix,
                                GError     **error)
{
  g_autoptr(GUri) base = NULL;
  g_autofree char *path = NULL;
  g_autofree char *host = NULL;
  g_autofree char *port = NULL;
  const char *scheme;

  if (!confab_secure_url_check (base_url, error))
    return NULL;
  base = g_uri_parse (base_url, G_URI_FLAGS_NONE, error);
  if (base == NULL)
    return NULL;

  scheme = g_uri_get_scheme (base);
  if (websocket)
    scheme = g_ascii_strcasecmp (scheme, "https") == 0 ? "wss" : "ws";
  host = strchr (g_uri_get_host (base), ':') != NULL
    ? g_strdup_printf ("[%s]", g_uri_get_host (base))
    : g_strdup (g_uri_get_host (base));
  port = g_uri_get_port (base) > 0 ? g_strdup_printf (":%d", g_uri_get_port (base)) : g_strdup ("");
  path = g_strdup (g_uri_get_path (base));
  if (g_str_has_suffix (path, "/"))
    path[strlen (path) - 1] = '\0';

  return g_strdup_printf ("%s://%s%s%s/%s", scheme, host, port, path, suffix);
}

/* What every connect needs before anything is sent. */
gboolean
_confab_transport_check_params (const ConfabConnectParams  *params,
                                GError                    **error)
{
  if (params->api_key != NULL && params->user_id != NULL && params->token != NULL)
    return TRUE;
  g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_AUTH,
                       "an API key, a user id and a token are needed to connect");
  return FALSE;
}

static void
on_network_event (SoupMessage        *msg,
                  GSocketClientEvent  event,
                  GIOStream          *connection,
                  gpointer            user_data)
{
  ConfabTransport *self = user_data;
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  switch (event)
    {
    case G_SOCKET_CLIENT_RESOLVING:
      _confab_transport_set_stage (self, CONFAB_STAGE_RESOLVING);
      break;
    case G_SOCKET_CLIENT_CONNECTING:
      _confab_transport_set_stage (self, CONFAB_STAGE_CONNECTING);
      break;
    case G_SOCKET_CLIENT_TLS_HANDSHAKING:
      _confab_transport_set_stage (self, CONFAB_STAGE_TLS);
      break;
    case G_SOCKET_CLIENT_COMPLETE:
      /* The request is written right after this: its round trip starts now. */
      priv->request_sent_at = confab_clock_now (priv->clock);
      _confab_transport_set_stage (self, priv->request_stage);
      break;
    case G_SOCKET_CLIENT_RESOLVED:
    case G_SOCKET_CLIENT_CONNECTED:
    case G_SOCKET_CLIENT_PROXY_NEGOTIATING:
    case G_SOCKET_CLIENT_PROXY_NEGOTIATED:
    case G_SOCKET_CLIENT_TLS_HANDSHAKED:
    default:
      break;
    }
}

/* Turns libsoup's connection events for @msg into stages; @request_stage is the stage
 * once the connection is up and the request is sent (UPGRADING for a WebSocket,
 * AUTHENTICATING for a long-poll connect). */
void
_confab_transport_follow_network_events (ConfabTransport *self,
                                         SoupMessage     *msg,
                                         ConfabStage      request_stage)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  priv->request_stage = request_stage;
  g_signal_connect_object (msg, "network-event", G_CALLBACK (on_network_event), self, 0);
}
