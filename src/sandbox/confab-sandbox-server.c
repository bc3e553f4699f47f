/* confab-sandbox-server.c: the Stream Chat protocol over HTTP and WebSocket
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sandbox-server-private.h"

#define DEFAULT_LONGPOLL_HOLD_SECONDS 20
#define DEFAULT_LONGPOLL_IDLE_SECONDS 45
#define LISTEN_BACKLOG 1024

G_DEFINE_FINAL_TYPE (ConfabSandboxServer, confab_sandbox_server, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ALLOW_DEV_TOKENS,
  PROP_WEBSOCKET_ENABLED,
  PROP_DEMO,
  PROP_LONGPOLL_HOLD_SECONDS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef struct
{
  const char         *method;
  const char         *pattern;
  gboolean            public;   /* no api_key / token needed */
  ConfabSandboxRoute  func;
} Route;

/* '*' stands for one path segment; the segments it matched become request->params. */
static const char *request_body (SoupServerMessage *msg,
                                 gsize             *length);

static const Route routes[] = {
  { "POST",   "/channels",                  FALSE, _confab_sandbox_api_query_channels },
  { "GET",    "/channels",                  FALSE, _confab_sandbox_api_query_channels },
  { "POST",   "/channels/read",             FALSE, _confab_sandbox_api_mark_all_read },
  { "POST",   "/channels/*/query",          FALSE, _confab_sandbox_api_query_channel },
  { "POST",   "/channels/*/*/query",        FALSE, _confab_sandbox_api_query_channel },
  { "POST",   "/channels/*/*/message",      FALSE, _confab_sandbox_api_send_message },
  { "GET",    "/channels/*/*/messages",     FALSE, _confab_sandbox_api_messages_by_id },
  { "POST",   "/channels/*/*/read",         FALSE, _confab_sandbox_api_mark_read },
  { "POST",   "/channels/*/*/event",        FALSE, _confab_sandbox_api_send_event },
  { "POST",   "/channels/*/*/stop-watching", FALSE, _confab_sandbox_api_stop_watching },
  { "GET",    "/messages/*",                FALSE, _confab_sandbox_api_get_message },
  { "POST",   "/messages/*",                FALSE, _confab_sandbox_api_update_message },
  { "DELETE", "/messages/*",                FALSE, _confab_sandbox_api_delete_message },
  { "GET",    "/users",                     FALSE, _confab_sandbox_api_query_users },
  { "POST",   "/users",                     FALSE, _confab_sandbox_api_upsert_users },
  { "PATCH",  "/users",                     FALSE, _confab_sandbox_api_update_users },
  { "POST",   "/sync",                      FALSE, _confab_sandbox_api_sync },
  { "GET",    "/app",                       FALSE, _confab_sandbox_api_app },
  { "GET",    "/hi",                        TRUE,  _confab_sandbox_api_hi },
  { "POST",   "/sandbox/demo-token",        TRUE,  _confab_sandbox_api_demo_token },
  { "GET",    "/sandbox/stats",             TRUE,  _confab_sandbox_api_stats },
  { "POST",   "/sandbox/rate-limit",        TRUE,  _confab_sandbox_api_rate_limit },
};

static void
confab_sandbox_server_dispose (GObject *object)
{
  ConfabSandboxServer *self = (ConfabSandboxServer *) object;

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  if (self->hub != NULL)
    g_clear_signal_handler (&self->presence_id, self->hub);
  g_clear_object (&self->soup);
  g_clear_object (&self->hub);
  g_clear_object (&self->webhooks);
  g_clear_object (&self->store);
  g_clear_pointer (&self->rate_limits, g_ptr_array_unref);

  G_OBJECT_CLASS (confab_sandbox_server_parent_class)->dispose (object);
}

static void
confab_sandbox_server_finalize (GObject *object)
{
  ConfabSandboxServer *self = (ConfabSandboxServer *) object;

  g_clear_pointer (&self->api_key, g_free);
  if (self->api_secret != NULL)
    memset (self->api_secret, 0, strlen (self->api_secret));
  g_clear_pointer (&self->api_secret, g_free);

  G_OBJECT_CLASS (confab_sandbox_server_parent_class)->finalize (object);
}

static void
confab_sandbox_server_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  ConfabSandboxServer *self = CONFAB_SANDBOX_SERVER (object);

  switch (prop_id)
    {
    case PROP_ALLOW_DEV_TOKENS:
      g_value_set_boolean (value, self->allow_dev_tokens);
      break;
    case PROP_WEBSOCKET_ENABLED:
      g_value_set_boolean (value, self->websocket_enabled);
      break;
    case PROP_DEMO:
      g_value_set_boolean (value, self->demo);
      break;
    case PROP_LONGPOLL_HOLD_SECONDS:
      g_value_set_uint (value, self->longpoll_hold);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_boolean (ConfabSandboxServer *self,
             gboolean            *field,
             gboolean             value,
             guint                prop_id)
{
  value = !!value;
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
confab_sandbox_server_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  ConfabSandboxServer *self = CONFAB_SANDBOX_SERVER (object);

  switch (prop_id)
    {
    case PROP_ALLOW_DEV_TOKENS:
      set_boolean (self, &self->allow_dev_tokens, g_value_get_boolean (value), prop_id);
      break;
    case PROP_WEBSOCKET_ENABLED:
      set_boolean (self, &self->websocket_enabled, g_value_get_boolean (value), prop_id);
      break;
    case PROP_DEMO:
      set_boolean (self, &self->demo, g_value_get_boolean (value), prop_id);
      break;
    case PROP_LONGPOLL_HOLD_SECONDS:
      if (self->longpoll_hold != g_value_get_uint (value))
        {
          self->longpoll_hold = g_value_get_uint (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_sandbox_server_class_init (ConfabSandboxServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_sandbox_server_dispose;
  object_class->finalize = confab_sandbox_server_finalize;
  object_class->get_property = confab_sandbox_server_get_property;
  object_class->set_property = confab_sandbox_server_set_property;

  properties[PROP_ALLOW_DEV_TOKENS] =
    g_param_spec_boolean ("allow-dev-tokens", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_WEBSOCKET_ENABLED] =
    g_param_spec_boolean ("websocket-enabled", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DEMO] =
    g_param_spec_boolean ("demo", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LONGPOLL_HOLD_SECONDS] =
    g_param_spec_uint ("longpoll-hold-seconds", NULL, NULL, 1, 120, DEFAULT_LONGPOLL_HOLD_SECONDS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_sandbox_server_init (ConfabSandboxServer *self)
{
  self->websocket_enabled = TRUE;
  self->longpoll_hold = DEFAULT_LONGPOLL_HOLD_SECONDS;
  self->longpoll_idle = DEFAULT_LONGPOLL_IDLE_SECONDS;
}

/* Responses ----------------------------------------------------------------------- */

void
_confab_sandbox_respond_json (SoupServerMessage *msg,
              guint              status,
              const char        *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

void
_confab_sandbox_respond_error (SoupServerMessage *msg,
               const GError      *error,
               guint              status)
{
  g_autofree char *body = NULL;

  if (status == 0)
    status = confab_stream_error_http_status (error);
  body = confab_stream_error_to_string (error, status);
  _confab_sandbox_respond_json (msg, status, body);
}

void
_confab_sandbox_respond_error_literal (SoupServerMessage *msg,
                       guint              status,
                       int                code,
                       const char        *message)
{
  g_autoptr(GError) error = g_error_new_literal (CONFAB_STREAM_ERROR, code, message);

  _confab_sandbox_respond_error (msg, error, status);
}

/* Routing ------------------------------------------------------------------------- */

static char **
split_path (const char *path)
{
  g_auto(GStrv) raw = g_strsplit (path + (path[0] == '/'), "/", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; raw[i] != NULL; i++)
    {
      g_autofree char *segment = NULL;

      if (raw[i][0] == '\0')
        {
          if (raw[i + 1] == NULL && i > 0)
            continue;             /* tolerate one trailing slash */
          return NULL;
        }
      segment = g_uri_unescape_string (raw[i], "/");
      if (segment == NULL || !g_utf8_validate (segment, -1, NULL))
        return NULL;
      g_strv_builder_add (builder, segment);
    }
  return g_strv_builder_end (builder);
}

static gboolean
match_route (const Route  *route,
             char        **segments,
             char       ***out_params)
{
  g_auto(GStrv) pattern = g_strsplit (route->pattern + 1, "/", -1);
  g_autoptr(GStrvBuilder) params = g_strv_builder_new ();

  if (g_strv_length (pattern) != g_strv_length (segments))
    return FALSE;

  for (guint i = 0; pattern[i] != NULL; i++)
    {
      if (g_str_equal (pattern[i], "*"))
        g_strv_builder_add (params, segments[i]);
      else if (!g_str_equal (pattern[i], segments[i]))
        return FALSE;
    }

  *out_params = g_strv_builder_end (params);
  return TRUE;
}

const char *
_confab_sandbox_request_query (ConfabSandboxRequest *request,
                               const char           *name)
{
  return request->query != NULL ? g_hash_table_lookup (request->query, name) : NULL;
}

/* With a server token the acting user comes from the body (`user_id` or `user.id`);
 * with a user token it is the token's user. */
const char *
_confab_sandbox_request_acting_user (ConfabSandboxRequest *request,
                                     JsonObject           *object,
                                     GError              **error)
{
  const char *user_id = NULL;
  JsonObject *user = NULL;

  if (!request->server_auth)
    return request->user_id;

  if (!confab_sandbox_json_get_string (object, "user_id", FALSE, &user_id, error))
    return NULL;
  if (user_id == NULL)
    {
      if (!confab_sandbox_json_get_object (object, "user", FALSE, &user, error))
        return NULL;
      if (user != NULL && !confab_sandbox_json_get_string (user, "id", FALSE, &user_id, error))
        return NULL;
    }
  if (user_id == NULL || *user_id == '\0')
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "either user.id or user_id are required when using server-side auth");
      return NULL;
    }
  return user_id;
}

static gboolean
authenticate (ConfabSandboxServer  *self,
              SoupServerMessage    *msg,
              ConfabSandboxRequest *request,
              GError              **error)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *api_key = _confab_sandbox_request_query (request, "api_key");
  const char *auth_type = soup_message_headers_get_one (headers, "Stream-Auth-Type");
  const char *token = soup_message_headers_get_one (headers, "Authorization");

  if (api_key == NULL || !confab_sandbox_constant_time_equal (api_key, self->api_key))
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_ACCESS_KEY,
                           "api_key not found");
      return FALSE;
    }

  if (auth_type != NULL && g_ascii_strcasecmp (auth_type, "jwt") != 0)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED,
                           "anonymous access is not enabled on this app");
      return FALSE;
    }

  if (token == NULL || *token == '\0')
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_AUTH,
                           "JWTAuth error: token is missing from the Authorization header");
      return FALSE;
    }

  if (!confab_sandbox_jwt_verify (token, self->api_secret, self->allow_dev_tokens,
                                  g_get_real_time () / G_USEC_PER_SEC, &request->claims, error))
    return FALSE;

  request->server_auth = request->claims.server;
  request->user_id = request->claims.user_id;
  request->connection = confab_sandbox_hub_lookup (self->hub,
                                                   _confab_sandbox_request_query (request, "connection_id"));
  /* A connection id only speaks for the user that opened it. */
  if (request->connection != NULL && request->user_id != NULL &&
      g_strcmp0 (confab_sandbox_connection_get_user_id (request->connection), request->user_id) != 0)
    request->connection = NULL;

  return TRUE;
}

static gboolean
read_body (ConfabSandboxRequest *request,
           SoupServerMessage    *msg,
           const char           *method,
           GError              **error)
{
  const char *payload;
  const char *data;
  gsize length = 0;

  /* GET calls carry their JSON in ?payload= (query users, query channels). */
  if (g_str_equal (method, "GET") || g_str_equal (method, "DELETE"))
    {
      payload = _confab_sandbox_request_query (request, "payload");
      if (payload != NULL)
        request->body = confab_sandbox_json_parse_object (payload, -1, error);
      else
        request->body = json_object_new ();
      return request->body != NULL;
    }

  data = request_body (msg, &length);
  if (length == 0)
    {
      request->body = json_object_new ();
      return TRUE;
    }

  request->body = confab_sandbox_json_parse_object (data, length, error);
  return request->body != NULL;
}

static void
on_request (SoupServer        *soup,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  ConfabSandboxServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  g_auto(GStrv) segments = NULL;
  g_auto(GStrv) params = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autofree char *body = NULL;
  ConfabSandboxRequest request = { 0 };
  g_autoptr(GString) allowed = NULL;
  const Route *route = NULL;
  gsize body_length = 0;
  gint64 started = g_get_monotonic_time ();
  char duration[32];

  if (_confab_sandbox_rate_limited (self, msg, path))
    return;

  /* Long-poll is the REST pipeline too, but answers later. */
  if (g_str_equal (path, "/longpoll"))
    {
      if (!g_str_equal (method, "GET"))
        {
          soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET");
          _confab_sandbox_respond_error_literal (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, CONFAB_STREAM_ERROR_INPUT,
                               "method not allowed");
        }
      else
        _confab_sandbox_longpoll (self, msg, query);
      return;
    }

  request_body (msg, &body_length);
  if (body_length > CONFAB_SANDBOX_MAX_BODY_SIZE)
    {
      _confab_sandbox_respond_error_literal (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                             CONFAB_STREAM_ERROR_PAYLOAD_TOO_BIG, "request body is too large");
      return;
    }

  segments = split_path (path);
  if (segments == NULL)
    {
      _confab_sandbox_respond_error_literal (msg, SOUP_STATUS_BAD_REQUEST, CONFAB_STREAM_ERROR_INPUT,
                             "invalid request: malformed path");
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (routes) && route == NULL; i++)
    {
      g_auto(GStrv) matched = NULL;

      if (!match_route (&routes[i], segments, &matched))
        continue;
      if (g_str_equal (routes[i].method, method))
        {
          route = &routes[i];
          params = g_steal_pointer (&matched);
        }
      else
        {
          if (allowed == NULL)
            allowed = g_string_new (routes[i].method);
          else
            g_string_append_printf (allowed, ", %s", routes[i].method);
        }
    }

  if (route == NULL)
    {
      if (allowed != NULL)
        soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allowed->str);
      if (allowed != NULL)
        _confab_sandbox_respond_error_literal (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, CONFAB_STREAM_ERROR_INPUT,
                               "method not allowed for this path");
      else
        _confab_sandbox_respond_error_literal (msg, SOUP_STATUS_NOT_FOUND, CONFAB_STREAM_ERROR_DOES_NOT_EXIST,
                               "the requested path does not exist");
      return;
    }

  request.server = self;
  request.msg = msg;
  request.params = params;
  request.query = query;

  if ((route->public || authenticate (self, msg, &request, &error)) &&
      read_body (&request, msg, method, &error))
    result = route->func (&request, &error);

  if (result == NULL)
    {
      if (error == NULL)
        g_set_error_literal (&error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                             "internal error");
      g_debug ("%s %s → error %d", method, route->pattern, error->code);
      _confab_sandbox_respond_error (msg, error, 0);
    }
  else
    {
      g_snprintf (duration, sizeof duration, "%.2fms", (g_get_monotonic_time () - started) / 1000.0);
      json_object_set_string_member (result, "duration", duration);
      body = confab_sandbox_json_to_string (result);
      _confab_sandbox_respond_json (msg, g_str_equal (method, "POST") ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, body);
    }

  g_clear_pointer (&request.body, json_object_unref);
  confab_sandbox_claims_clear (&request.claims);
}

#define BOUNDED_BODY_KEY "confab-sandbox-bounded-body"

/* A body of unannounced length is collected here, never past the limit, so an endless
 * chunked upload cannot grow the server's memory. */
static void
on_got_chunk (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  GByteArray *body = g_object_get_data (G_OBJECT (msg), BOUNDED_BODY_KEY);
  gsize length = g_bytes_get_size (chunk);

  if (body->len <= CONFAB_SANDBOX_MAX_BODY_SIZE)
    g_byte_array_append (body, g_bytes_get_data (chunk, NULL),
                         MIN (length, CONFAB_SANDBOX_MAX_BODY_SIZE + 1 - body->len));
}

/* Refuse oversized bodies from their Content-Length, before reading them; bound the rest. */
static void
on_early_request (SoupServer        *soup,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);

  if (encoding == SOUP_ENCODING_CONTENT_LENGTH)
    {
      if (soup_message_headers_get_content_length (headers) > CONFAB_SANDBOX_MAX_BODY_SIZE)
        _confab_sandbox_respond_error_literal (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                                              CONFAB_STREAM_ERROR_PAYLOAD_TOO_BIG,
                                              "request body is too large");
      return;
    }

  if (encoding == SOUP_ENCODING_CHUNKED || encoding == SOUP_ENCODING_EOF)
    {
      soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
      g_object_set_data_full (G_OBJECT (msg), BOUNDED_BODY_KEY, g_byte_array_new (),
                              (GDestroyNotify) g_byte_array_unref);
      g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), NULL);
    }
}

/* The request body, wherever on_early_request() put it. */
static const char *
request_body (SoupServerMessage *msg,
              gsize             *length)
{
  GByteArray *bounded = g_object_get_data (G_OBJECT (msg), BOUNDED_BODY_KEY);
  SoupMessageBody *body;

  if (bounded != NULL)
    {
      *length = bounded->len;
      return (const char *) bounded->data;
    }
  body = soup_server_message_get_request_body (msg);
  *length = body->length;
  return body->data;
}

/* Presence ------------------------------------------------------------------------ */

static void
on_presence_changed (ConfabSandboxHub *hub,
                     const char       *user_id,
                     gboolean          online,
                     gpointer          user_data)
{
  ConfabSandboxServer *self = user_data;
  g_autoptr(JsonObject) user = NULL;
  g_autoptr(JsonObject) event = NULL;
  gint64 now = g_get_real_time ();

  confab_sandbox_store_touch_user (self->store, user_id, now, NULL);
  user = confab_sandbox_store_get_user (self->store, user_id, NULL);
  if (user == NULL)
    return;

  json_object_set_boolean_member (user, "online", online);
  event = _confab_sandbox_event_new ("user.presence.changed");
  json_object_set_object_member (event, "user", g_steal_pointer (&user));
  confab_sandbox_hub_send_presence (self->hub, user_id, event);
  _confab_sandbox_server_webhook (self, event);
}

/* Public API ---------------------------------------------------------------------- */

ConfabSandboxServer *
confab_sandbox_server_new (const char            *api_key,
                           const char            *api_secret,
                           ConfabSandboxStore    *store,
                           ConfabSandboxWebhooks *webhooks)
{
  ConfabSandboxServer *self;

  g_return_val_if_fail (api_key != NULL && *api_key != '\0', NULL);
  g_return_val_if_fail (api_secret != NULL && *api_secret != '\0', NULL);
  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (store), NULL);
  g_return_val_if_fail (webhooks == NULL || CONFAB_SANDBOX_IS_WEBHOOKS (webhooks), NULL);

  self = g_object_new (CONFAB_SANDBOX_TYPE_SERVER, NULL);
  self->api_key = g_strdup (api_key);
  self->api_secret = g_strdup (api_secret);
  self->store = g_object_ref (store);
  self->webhooks = webhooks != NULL ? g_object_ref (webhooks) : NULL;
  self->hub = confab_sandbox_hub_new ();
  self->presence_id = g_signal_connect (self->hub, "presence-changed",
                                        G_CALLBACK (on_presence_changed), self);

  return self;
}

gboolean
confab_sandbox_server_listen (ConfabSandboxServer *self,
                              GSocketAddress      *address,
                              GTlsCertificate     *certificate,
                              GError             **error)
{
  g_autoptr(GSocket) socket = NULL;
  SoupServerListenOptions options = 0;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_SERVER (self), FALSE);
  g_return_val_if_fail (self->soup == NULL, FALSE);

  /* raw-paths: split_path() decodes each segment once, so an escaped '/' or '%' in a
   * channel id stays part of the id instead of being decoded twice. */
  self->soup = soup_server_new ("server-header", "confab-sandbox/" PACKAGE_VERSION " ",
                                "tls-certificate", certificate,
                                "raw-paths", TRUE,
                                NULL);
  soup_server_add_early_handler (self->soup, NULL, on_early_request, self, NULL);
  soup_server_add_handler (self->soup, NULL, on_request, self, NULL);
  _confab_sandbox_realtime_setup (self);

  if (certificate != NULL)
    options |= SOUP_SERVER_LISTEN_HTTPS;

  /* Our own socket, for a backlog that survives a mass reconnect: libsoup's default of
   * 10 makes the 11th simultaneous connect wait a second for a SYN retry. */
  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    goto failed;
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error) ||
      !g_socket_listen (socket, error) ||
      !soup_server_listen_socket (self->soup, socket, options, error))
    goto failed;
  return TRUE;

failed:
  g_clear_object (&self->soup);
  return FALSE;
}

char *
confab_sandbox_server_dup_url (ConfabSandboxServer *self)
{
  GSList *uris;
  char *url = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_SERVER (self), NULL);
  g_return_val_if_fail (self->soup != NULL, NULL);

  uris = soup_server_get_uris (self->soup);
  if (uris != NULL)
    {
      GUri *uri = uris->data;
      const char *host = g_uri_get_host (uri);
      gboolean v6 = strchr (host, ':') != NULL;

      url = g_strdup_printf ("%s://%s%s%s:%d", g_uri_get_scheme (uri),
                             v6 ? "[" : "", host, v6 ? "]" : "", g_uri_get_port (uri));
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return url;
}

ConfabSandboxStore *
confab_sandbox_server_get_store (ConfabSandboxServer *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_SERVER (self), NULL);
  return self->store;
}

ConfabSandboxHub *
confab_sandbox_server_get_hub (ConfabSandboxServer *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_SERVER (self), NULL);
  return self->hub;
}

/* Close every client politely, then stop listening. */
void
confab_sandbox_server_shutdown (ConfabSandboxServer *self)
{
  g_return_if_fail (CONFAB_SANDBOX_IS_SERVER (self));

  confab_sandbox_hub_close_all (self->hub);
  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
}
