/* confab-longpoll-transport.c: Stream's /longpoll fallback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>

#include "confab-error.h"
#include "confab-json-private.h"
#include "confab-longpoll-transport.h"
#include "confab-rate-limit.h"

/* A held poll answer is small; anything this big is not Stream. */
#define MAX_RESPONSE_BYTES (16 * 1024 * 1024)
/* RFC 6585; libsoup 3.2 has no name for it. */
#define HTTP_TOO_MANY_REQUESTS 429

struct _ConfabLongpollTransport
{
  ConfabTransport      parent_instance;

  guint                connect_timeout_ms;
  guint                poll_timeout_ms;

  SoupSession         *session;
  ConfabConnectParams *params;
  char                *endpoint;       /* http(s)://host:port/longpoll, no query */

  GTask               *connect_task;
  GCancellable        *external_cancellable;
  gulong               external_cancel_id;
  GCancellable        *cancellable;    /* the request in flight (connect or poll) */
  guint                deadline_id;
  gboolean             timed_out;
  gint64               sent_at;

  gboolean             usable;
  gboolean             closing;
};

G_DEFINE_FINAL_TYPE (ConfabLongpollTransport, confab_longpoll_transport, CONFAB_TYPE_TRANSPORT)

enum {
  PROP_0,
  PROP_CONNECT_TIMEOUT_MS,
  PROP_POLL_TIMEOUT_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void start_poll (ConfabLongpollTransport *self);

static void
finish_connect (ConfabLongpollTransport *self,
                GError                  *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);

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
      g_debug ("long-poll connect failed: %s %d", g_quark_to_string (error->domain), error->code);
      _confab_transport_set_stage (CONFAB_TRANSPORT (self), CONFAB_STAGE_IDLE);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

static void
stop_request (ConfabLongpollTransport *self)
{
  g_clear_handle_id (&self->deadline_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
}

static void
send_close (ConfabLongpollTransport *self)
{
  const char *connection_id = confab_transport_get_connection_id (CONFAB_TRANSPORT (self));
  g_autoptr(SoupMessage) msg = NULL;
  g_autofree char *url = NULL;
  g_autofree char *escaped_id = NULL;
  g_autofree char *escaped_key = NULL;

  if (!self->usable || connection_id == NULL || self->params == NULL)
    return;

  /* Fire and forget, so the server drops presence at once instead of after its timeout. */
  escaped_id = g_uri_escape_string (connection_id, NULL, FALSE);
  escaped_key = g_uri_escape_string (self->params->api_key, NULL, FALSE);
  url = g_strdup_printf ("%s?close=true&connection_id=%s&api_key=%s", self->endpoint, escaped_id, escaped_key);
  msg = soup_message_new ("GET", url);
  if (msg == NULL)
    return;
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", self->params->token);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "stream-auth-type", "jwt");
  soup_session_send_and_read_async (self->session, msg, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static void
confab_longpoll_transport_dispose (GObject *object)
{
  ConfabLongpollTransport *self = (ConfabLongpollTransport *) object;

  self->closing = TRUE;
  stop_request (self);
  finish_connect (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "disposed"));
  g_clear_object (&self->session);

  G_OBJECT_CLASS (confab_longpoll_transport_parent_class)->dispose (object);
}

static void
confab_longpoll_transport_finalize (GObject *object)
{
  ConfabLongpollTransport *self = (ConfabLongpollTransport *) object;

  g_clear_pointer (&self->params, confab_connect_params_free);
  g_clear_pointer (&self->endpoint, g_free);

  G_OBJECT_CLASS (confab_longpoll_transport_parent_class)->finalize (object);
}

static void
confab_longpoll_transport_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  ConfabLongpollTransport *self = CONFAB_LONGPOLL_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_CONNECT_TIMEOUT_MS:
      g_value_set_uint (value, self->connect_timeout_ms);
      break;
    case PROP_POLL_TIMEOUT_MS:
      g_value_set_uint (value, self->poll_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_longpoll_transport_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  ConfabLongpollTransport *self = CONFAB_LONGPOLL_TRANSPORT (object);
  guint *field = prop_id == PROP_CONNECT_TIMEOUT_MS ? &self->connect_timeout_ms : &self->poll_timeout_ms;

  switch (prop_id)
    {
    case PROP_CONNECT_TIMEOUT_MS:
    case PROP_POLL_TIMEOUT_MS:
      if (*field != g_value_get_uint (value))
        {
          *field = g_value_get_uint (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Requests -------------------------------------------------------------------------------- */

static SoupMessage *
new_request (ConfabLongpollTransport *self,
             gboolean                 connect)
{
  g_autoptr(GString) url = g_string_new (self->endpoint);
  SoupMessage *msg;

  g_string_append (url, "?api_key=");
  g_string_append_uri_escaped (url, self->params->api_key, NULL, FALSE);
  g_string_append (url, "&user_id=");
  g_string_append_uri_escaped (url, self->params->user_id, NULL, FALSE);
  if (connect)
    {
      g_autofree char *payload = confab_connect_params_build_payload (self->params, FALSE);

      g_string_append (url, "&json=");
      g_string_append_uri_escaped (url, payload, NULL, FALSE);
    }
  else
    {
      g_string_append (url, "&connection_id=");
      g_string_append_uri_escaped (url, confab_transport_get_connection_id (CONFAB_TRANSPORT (self)), NULL, FALSE);
    }

  msg = soup_message_new ("GET", url->str);
  if (msg == NULL)
    return NULL;
  /* Stream's REST auth: the raw JWT, no "Bearer" (stream-chat-protocol.md §5.4). */
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", self->params->token);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "stream-auth-type", "jwt");
  soup_message_headers_replace (soup_message_get_request_headers (msg), "X-Stream-Client", "confab-" PACKAGE_VERSION);
  return msg;
}

static gboolean
on_deadline (gpointer user_data)
{
  ConfabLongpollTransport *self = user_data;

  self->deadline_id = 0;
  self->timed_out = TRUE;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  return G_SOURCE_REMOVE;
}

/* The body as a JSON object, or the error it means: Stream's error JSON, another HTTP
 * failure, or something that is not Stream at all. A "too many requests" answer also
 * notes when the server allows the next attempt. */
static JsonObject *
read_response (ConfabLongpollTransport  *self,
               SoupMessage              *msg,
               GBytes                   *body,
               GError                  **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) parse_error = NULL;
  guint status = soup_message_get_status (msg);
  const char *data;
  gsize length = 0;

  data = g_bytes_get_data (body, &length);
  if (length <= MAX_RESPONSE_BYTES)
    object = _confab_json_parse_untrusted_object (data, length, &parse_error);

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      GError *refusal;

      if (object != NULL && json_object_has_member (object, "code"))
        {
          gint64 code = json_object_get_int_member_with_default (object, "code", CONFAB_API_ERROR_INTERNAL);
          const char *message = json_object_get_string_member_with_default (object, "message", "long-poll refused");

          refusal = confab_api_error_new (code, status, message);
        }
      else
        refusal = g_error_new (CONFAB_ERROR,
                               status == HTTP_TOO_MANY_REQUESTS ? CONFAB_ERROR_RATE_LIMITED
                               : status >= 500 ? CONFAB_ERROR_SERVER : CONFAB_ERROR_REJECTED,
                               "long-poll answered HTTP %u without a Stream error", status);
      /* "Too many requests" (429, code 9, 60, 71): when may we come back? */
      if (confab_error_classify (refusal) == CONFAB_ERROR_RATE_LIMITED)
        _confab_transport_set_retry_at (CONFAB_TRANSPORT (self),
                                        confab_rate_limit_retry_at (soup_message_get_response_headers (msg),
                                                                    g_get_real_time ()));
      g_propagate_error (error, refusal);
      return NULL;
    }

  if (object == NULL)
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                   "long-poll answered HTTP %u with something that is not a JSON object", status);
      return NULL;
    }
  return g_steal_pointer (&object);
}

static GError *
transport_error (ConfabLongpollTransport *self,
                 GError                  *error,
                 guint                    timeout_ms)
{
  if (self->timed_out)
    {
      g_error_free (error);
      return g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT, "no long-poll answer within %u ms", timeout_ms);
    }
  return error;
}

static void
lose (ConfabLongpollTransport *self,
      GError                  *error)
{
  g_autoptr(GError) owned = error;

  self->usable = FALSE;
  _confab_transport_set_stage (CONFAB_TRANSPORT (self), CONFAB_STAGE_IDLE);
  if (!self->closing)
    _confab_transport_emit_lost (CONFAB_TRANSPORT (self), owned);
}

static void
on_poll_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(ConfabLongpollTransport) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonObject) response = NULL;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  JsonArray *events = NULL;
  JsonNode *events_node;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (self->closing || (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !self->timed_out))
    return;
  g_clear_handle_id (&self->deadline_id, g_source_remove);

  if (body == NULL)
    {
      lose (self, transport_error (self, g_steal_pointer (&error), self->poll_timeout_ms));
      return;
    }
  response = read_response (self, msg, body, &error);
  if (response == NULL)
    {
      lose (self, g_steal_pointer (&error));
      return;
    }

  _confab_transport_touch (CONFAB_TRANSPORT (self));
  events_node = json_object_get_member (response, "events");
  if (events_node != NULL && JSON_NODE_HOLDS_ARRAY (events_node))
    events = json_node_get_array (events_node);
  else if (events_node != NULL && !JSON_NODE_HOLDS_NULL (events_node))
    {
      lose (self, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                                       "long-poll events is not an array"));
      return;
    }

  for (guint i = 0; events != NULL && i < json_array_get_length (events); i++)
    {
      JsonNode *node = json_array_get_element (events, i);
      JsonObject *event;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      event = json_node_get_object (node);
      if (json_object_get_string_member_with_default (event, "type", NULL) == NULL)
        continue;
      _confab_transport_emit_event (CONFAB_TRANSPORT (self), event);
      if (self->closing || !self->usable)
        return;   /* a handler disconnected us */
    }

  start_poll (self);
}

static void
start_request (ConfabLongpollTransport *self,
               SoupMessage             *msg,
               guint                    timeout_ms,
               GAsyncReadyCallback      callback)
{
  stop_request (self);
  self->cancellable = g_cancellable_new ();
  self->timed_out = FALSE;
  self->sent_at = g_get_monotonic_time ();
  self->deadline_id = g_timeout_add (timeout_ms, on_deadline, self);
  soup_session_send_and_read_async (self->session, msg, G_PRIORITY_DEFAULT, self->cancellable,
                                    callback, g_object_ref (self));
}

static void
start_poll (ConfabLongpollTransport *self)
{
  g_autoptr(SoupMessage) msg = new_request (self, FALSE);

  if (msg == NULL)
    {
      lose (self, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL, "cannot build the poll URL"));
      return;
    }
  start_request (self, msg, self->poll_timeout_ms, on_poll_done);
}

/* Connecting ------------------------------------------------------------------------------- */

static void
on_connect_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(ConfabLongpollTransport) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonObject) response = NULL;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  JsonObject *event = NULL;
  JsonNode *node;
  JsonNode *me;
  GError *frame_error;
  gint64 rtt_ms;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_clear_handle_id (&self->deadline_id, g_source_remove);
  if (self->connect_task == NULL)
    return;
  if (body == NULL)
    {
      finish_connect (self, transport_error (self, g_steal_pointer (&error), self->connect_timeout_ms));
      return;
    }
  _confab_transport_mark_answered (CONFAB_TRANSPORT (self));
  response = read_response (self, msg, body, &error);
  if (response == NULL)
    {
      finish_connect (self, g_steal_pointer (&error));
      return;
    }

  node = json_object_get_member (response, "event");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    event = json_node_get_object (node);
  if (event != NULL && (frame_error = _confab_transport_error_from_frame (event)) != NULL)
    {
      finish_connect (self, frame_error);
      return;
    }
  node = event != NULL ? json_object_get_member (event, "connection_id") : NULL;
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING || *json_node_get_string (node) == '\0')
    {
      finish_connect (self, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                                                 "the long-poll connect answer has no health.check with a connection_id"));
      return;
    }

  me = json_object_get_member (event, "me");
  self->usable = TRUE;
  _confab_transport_set_usable (CONFAB_TRANSPORT (self), json_node_get_string (node),
                                me != NULL && JSON_NODE_HOLDS_OBJECT (me) ? json_node_get_object (me) : NULL);
  rtt_ms = (g_get_monotonic_time () - self->sent_at) / 1000;
  _confab_transport_emit_rtt (CONFAB_TRANSPORT (self), (guint) CLAMP (rtt_ms, 0, G_MAXINT));
  g_debug ("long-poll usable");
  finish_connect (self, NULL);
  if (self->usable && !self->closing)
    start_poll (self);
}

static void
on_connect_cancelled (GCancellable *cancellable,
                      gpointer      user_data)
{
  ConfabLongpollTransport *self = user_data;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
}

static void
confab_longpoll_transport_connect_async (ConfabTransport           *transport,
                                         const ConfabConnectParams *params,
                                         GCancellable              *cancellable,
                                         GAsyncReadyCallback        callback,
                                         gpointer                   user_data)
{
  ConfabLongpollTransport *self = CONFAB_LONGPOLL_TRANSPORT (transport);
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupMessage) msg = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_longpoll_transport_connect_async);

  if (self->connect_task != NULL || self->usable)
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
  g_free (self->endpoint);
  self->endpoint = _confab_transport_endpoint_url (params->base_url, FALSE, "longpoll", &error);
  if (self->endpoint == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  _confab_transport_set_endpoint (transport, self->endpoint);

  g_clear_pointer (&self->params, confab_connect_params_free);
  self->params = confab_connect_params_copy (params);
  self->closing = FALSE;
  self->connect_task = g_steal_pointer (&task);
  _confab_transport_reset_handshake (transport);

  msg = new_request (self, TRUE);
  if (msg == NULL)
    {
      finish_connect (self, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                                                 "the server address is not a valid URL"));
      return;
    }
  _confab_transport_follow_network_events (transport, msg, CONFAB_STAGE_AUTHENTICATING);
  _confab_transport_set_stage (transport, CONFAB_STAGE_RESOLVING);
  g_debug ("long-poll: connecting to %s", self->endpoint);
  start_request (self, msg, self->connect_timeout_ms, on_connect_done);
  if (cancellable != NULL)
    {
      self->external_cancellable = g_object_ref (cancellable);
      self->external_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_connect_cancelled),
                                                        self, NULL);
    }
}

static gboolean
confab_longpoll_transport_connect_finish (ConfabTransport  *transport,
                                          GAsyncResult     *result,
                                          GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, transport), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
confab_longpoll_transport_disconnect (ConfabTransport *transport)
{
  ConfabLongpollTransport *self = CONFAB_LONGPOLL_TRANSPORT (transport);

  self->closing = TRUE;
  stop_request (self);
  finish_connect (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "disconnected"));
  send_close (self);
  self->usable = FALSE;
  _confab_transport_set_stage (transport, CONFAB_STAGE_IDLE);
}

static void
confab_longpoll_transport_class_init (ConfabLongpollTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ConfabTransportClass *transport_class = CONFAB_TRANSPORT_CLASS (klass);

  object_class->dispose = confab_longpoll_transport_dispose;
  object_class->finalize = confab_longpoll_transport_finalize;
  object_class->get_property = confab_longpoll_transport_get_property;
  object_class->set_property = confab_longpoll_transport_set_property;

  transport_class->connect_async = confab_longpoll_transport_connect_async;
  transport_class->connect_finish = confab_longpoll_transport_connect_finish;
  transport_class->disconnect = confab_longpoll_transport_disconnect;

  properties[PROP_CONNECT_TIMEOUT_MS] =
    g_param_spec_uint ("connect-timeout-ms", NULL, NULL, 1, 600000,
                       CONFAB_LONGPOLL_DEFAULT_CONNECT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_POLL_TIMEOUT_MS] =
    g_param_spec_uint ("poll-timeout-ms", NULL, NULL, 1, 600000,
                       CONFAB_LONGPOLL_DEFAULT_POLL_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_longpoll_transport_init (ConfabLongpollTransport *self)
{
  self->connect_timeout_ms = CONFAB_LONGPOLL_DEFAULT_CONNECT_TIMEOUT_MS;
  self->poll_timeout_ms = CONFAB_LONGPOLL_DEFAULT_POLL_TIMEOUT_MS;
  /* Its own session, so a held poll never starves REST calls (libsoup allows 2 per host). */
  self->session = soup_session_new_with_options ("user-agent", "confab/" PACKAGE_VERSION,
                                                 "max-conns-per-host", 2,
                                                 "timeout", 0,
                                                 NULL);
}

ConfabTransport *
confab_longpoll_transport_new (void)
{
  return g_object_new (CONFAB_TYPE_LONGPOLL_TRANSPORT,
                       "kind", CONFAB_TRANSPORT_KIND_LONGPOLL,
                       NULL);
}
