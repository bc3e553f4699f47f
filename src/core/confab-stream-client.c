/* confab-stream-client.c: Stream Chat's REST API, as its own SDK speaks it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-error.h"
#include "confab-http-private.h"
#include "confab-json-private.h"
#include "confab-jwt-claims.h"
#include "confab-rate-limit.h"
#include "confab-secure-url.h"
#include "confab-stream-client.h"

/* Stream's SDK gives a request 3 s. That fails on a slow or lossy link (a satellite hop,
 * a congested hotel Wi-Fi, a TCP retransmit or two), where the answer would have come:
 * a timed-out send is retried, which costs more than waiting. 10 s covers those links
 * and is still well under what a person waits before giving up. */
#define DEFAULT_TIMEOUT_MS 10000
/* RFC 6585; libsoup 3.2 has no name for it. */
#define HTTP_TOO_MANY_REQUESTS 429
/* The largest answer accepted; Stream's biggest (a query of 30 channels with 300
 * messages each) is a few MiB. */
#define MAX_RESPONSE_SIZE (16 * 1024 * 1024)
/* The most of Stream's own error message an error carries. */
#define MAX_ERROR_MESSAGE 512
/* Parallel requests: the SDK's browser gets 6 per host. */
#define MAX_CONNS_PER_HOST 6
#define MAX_CONNS 12

struct _ConfabStreamClient
{
  GObject              parent_instance;

  char                *base_url;      /* without a trailing "/" */
  char                *api_key;
  char                *user_id;
  ConfabTokenProvider *token_provider;
  char                *connection_id;
  guint                timeout_ms;
  SoupSession         *session;
  gboolean             initialized;   /* GInitable passed: the base URL is allowed */
  gint64               retry_at;      /* from the last "too many requests" answer */
};

static void confab_stream_client_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabStreamClient, confab_stream_client, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      confab_stream_client_initable_iface_init))

enum {
  PROP_0,
  PROP_BASE_URL,
  PROP_API_KEY,
  PROP_USER_ID,
  PROP_TOKEN_PROVIDER,
  PROP_CONNECTION_ID,
  PROP_TIMEOUT_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
on_outer_cancelled (GCancellable *outer,
                    gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Chains @outer (may be NULL) to @inner; returns the handler id for the disconnect. */
static gulong
chain_cancellable (GCancellable *outer,
                   GCancellable *inner)
{
  if (outer == NULL)
    return 0;
  return g_cancellable_connect (outer, G_CALLBACK (on_outer_cancelled), inner, NULL);
}

/* Requests ------------------------------------------------------------------------- */

typedef struct
{
  char         *method;
  char         *path;
  GHashTable   *query;        /* char * → char *, or NULL */
  GBytes       *body;         /* JSON for the request body, or NULL */
  char         *payload;      /* JSON for ?payload= (GET, DELETE), or NULL */
  GCancellable *cancellable;  /* ours: the caller's and the deadline both cancel it */
  GCancellable *outer;
  gulong        outer_id;
  GSource      *deadline;
  gboolean      timed_out;
  gboolean      refreshed;    /* already replayed once with a fresh token */
  gint64        started;      /* monotonic µs, this attempt */
  SoupMessage  *msg;
} Request;

static void
request_free (Request *request)
{
  if (request->outer != NULL)
    g_cancellable_disconnect (request->outer, request->outer_id);
  g_clear_object (&request->outer);
  if (request->deadline != NULL)
    g_source_destroy (request->deadline);
  g_clear_pointer (&request->deadline, g_source_unref);
  g_clear_object (&request->cancellable);
  g_clear_object (&request->msg);
  g_clear_pointer (&request->body, g_bytes_unref);
  g_clear_pointer (&request->payload, g_free);
  g_clear_pointer (&request->query, g_hash_table_unref);
  g_clear_pointer (&request->path, g_free);
  g_clear_pointer (&request->method, g_free);
  g_free (request);
}

static void
request_stop_deadline (Request *request)
{
  if (request->deadline != NULL)
    g_source_destroy (request->deadline);
  g_clear_pointer (&request->deadline, g_source_unref);
}

static void
request_return_error (GTask  *task,
                      GError *error)
{
  ConfabStreamClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && request->timed_out)
    {
      g_error_free (error);
      error = g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                           "Stream did not answer %s %s within %u ms",
                           request->method, request->path, self->timeout_ms);
    }
  request_stop_deadline (request);
  g_task_return_error (task, error);
}

static gboolean
on_request_deadline (gpointer user_data)
{
  Request *request = user_data;

  request->timed_out = TRUE;
  g_cancellable_cancel (request->cancellable);
  return G_SOURCE_REMOVE;
}

static void
append_query (GString    *url,
              gboolean   *first,
              const char *name,
              const char *value)
{
  g_string_append_c (url, *first ? '?' : '&');
  *first = FALSE;
  g_string_append_uri_escaped (url, name, NULL, FALSE);
  g_string_append_c (url, '=');
  g_string_append_uri_escaped (url, value, NULL, FALSE);
}

static gboolean
is_reserved_query (const char *name)
{
  return g_str_equal (name, "api_key") || g_str_equal (name, "user_id") ||
         g_str_equal (name, "connection_id") || g_str_equal (name, "payload");
}

static SoupMessage *
build_message (ConfabStreamClient  *self,
               Request             *request,
               const char          *token,
               GError             **error)
{
  g_autoptr(GString) url = g_string_new (self->base_url);
  g_autoptr(SoupMessage) msg = NULL;
  g_autofree char *request_id = g_uuid_string_random ();
  SoupMessageHeaders *headers;
  gboolean first = TRUE;

  g_string_append (url, request->path);
  append_query (url, &first, "api_key", self->api_key);
  append_query (url, &first, "user_id", self->user_id);
  if (self->connection_id != NULL)
    append_query (url, &first, "connection_id", self->connection_id);
  if (request->payload != NULL)
    append_query (url, &first, "payload", request->payload);

  if (request->query != NULL)
    {
      g_autoptr(GList) names = g_list_sort (g_hash_table_get_keys (request->query),
                                            (GCompareFunc) strcmp);

      for (GList *l = names; l != NULL; l = l->next)
        if (!is_reserved_query (l->data))
          append_query (url, &first, l->data, g_hash_table_lookup (request->query, l->data));
    }

  msg = soup_message_new (request->method, url->str);
  if (msg == NULL)
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_FAILED,
                   "Cannot build a request for %s %s", request->method, request->path);
      return NULL;
    }

  /* A redirect could lead to plain http:// elsewhere, with the token: never follow one. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);

  headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (headers, "Authorization", token);
  soup_message_headers_replace (headers, "stream-auth-type", "jwt");
  soup_message_headers_replace (headers, "X-Stream-Client", "confab-" PACKAGE_VERSION);
  soup_message_headers_replace (headers, "x-client-request-id", request_id);
  soup_message_headers_replace (headers, "Accept", "application/json");

  if (request->body != NULL)
    soup_message_set_request_body_from_bytes (msg, "application/json", request->body);

  return g_steal_pointer (&msg);
}

/* Stream's error JSON, or a classified error naming the status for anything else. */
static GError *
error_from_response (Request *request,
                     guint    status,
                     GBytes  *body)
{
  g_autoptr(JsonObject) object = NULL;
  const char *data;
  gsize length = 0;
  JsonNode *code;
  JsonNode *message;
  ConfabErrorCode decision;
  const char *what;

  data = g_bytes_get_data (body, &length);
  if (length > 0)
    object = _confab_json_parse_untrusted_object (data, length, NULL);
  code = object != NULL ? json_object_get_member (object, "code") : NULL;

  if (code != NULL && JSON_NODE_HOLDS_VALUE (code) && json_node_get_value_type (code) == G_TYPE_INT64 &&
      json_node_get_int (code) >= G_MININT && json_node_get_int (code) <= G_MAXINT)
    {
      g_autofree char *text = NULL;

      message = json_object_get_member (object, "message");
      if (message != NULL && JSON_NODE_HOLDS_VALUE (message) &&
          json_node_get_value_type (message) == G_TYPE_STRING)
        {
          const char *end = NULL;

          text = g_strdup (json_node_get_string (message));
          if (strlen (text) > MAX_ERROR_MESSAGE)
            {
              g_utf8_validate (text, MAX_ERROR_MESSAGE, &end);
              text[end - text] = '\0';
            }
        }
      else
        text = g_strdup_printf ("Stream error code %d (HTTP %u)", (int) json_node_get_int (code), status);

      return confab_api_error_new ((int) json_node_get_int (code), status, text);
    }

  if (status == HTTP_TOO_MANY_REQUESTS)
    decision = CONFAB_ERROR_RATE_LIMITED;
  else if (status >= 500)
    decision = CONFAB_ERROR_SERVER;
  else
    decision = CONFAB_ERROR_PROTOCOL;

  if (length == 0)
    what = "with an empty body";
  else if (object == NULL)
    what = "with a body that is not JSON";
  else
    what = "with JSON";
  return g_error_new (CONFAB_ERROR, decision, "%s %s: HTTP %u %s, without Stream's error details",
                      request->method, request->path, status, what);
}

static void start_attempt (GTask    *task,
                           gboolean  force_refresh);

static void
on_response (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) local_error = NULL;
  GError *error = NULL;
  const char *data;
  gsize length = 0;
  guint status;

  body = _confab_http_send_finish (result, &error);
  if (body == NULL)
    {
      g_debug ("%s %s → %s (%" G_GINT64_FORMAT " ms)", request->method, request->path,
               request->timed_out ? "timed out" : "failed",
               (g_get_monotonic_time () - request->started) / 1000);
      request_return_error (task, error);
      return;
    }

  status = soup_message_get_status (request->msg);
  g_debug ("%s %s → %u (%" G_GINT64_FORMAT " ms)", request->method, request->path, status,
           (g_get_monotonic_time () - request->started) / 1000);

  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      data = g_bytes_get_data (body, &length);
      object = _confab_json_parse_untrusted_object (data, length, &local_error);
      if (object == NULL)
        {
          request_return_error (task, g_error_new (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                                                   "%s %s: Stream's answer (HTTP %u) is unusable: %s",
                                                   request->method, request->path, status,
                                                   local_error->message));
          return;
        }
      request_stop_deadline (request);
      g_task_return_pointer (task, g_steal_pointer (&object), (GDestroyNotify) json_object_unref);
      return;
    }

  error = error_from_response (request, status, body);
  if (confab_error_classify (error) == CONFAB_ERROR_RATE_LIMITED)
    {
      ConfabStreamClient *self = g_task_get_source_object (task);

      self->retry_at = confab_rate_limit_retry_at (soup_message_get_response_headers (request->msg),
                                                   g_get_real_time ());
      g_debug ("%s %s: rate limited; the server allows the next request in %" G_GINT64_FORMAT " ms",
               request->method, request->path,
               self->retry_at > 0 ? (self->retry_at - g_get_real_time ()) / 1000 : -1);
    }
  if (g_error_matches (error, CONFAB_API_ERROR, CONFAB_API_ERROR_TOKEN_EXPIRED) && !request->refreshed)
    {
      g_debug ("%s %s: token expired, replaying once with a fresh one", request->method, request->path);
      g_error_free (error);
      request->refreshed = TRUE;
      g_clear_object (&request->msg);
      start_attempt (task, TRUE);
      return;
    }
  request_return_error (task, error);
}

static void
on_token (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConfabStreamClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(ConfabJwtClaims) claims = NULL;
  g_autofree char *token = NULL;
  GError *error = NULL;

  token = confab_token_provider_get_token_finish (CONFAB_TOKEN_PROVIDER (source), result, &error);
  if (token == NULL)
    {
      request_return_error (task, error);
      return;
    }

  /* As the SDK does (UserFromToken): a token for someone else is a setup error. */
  claims = confab_jwt_claims_parse (token, NULL);
  if (claims != NULL && claims->user_id != NULL && g_strcmp0 (claims->user_id, self->user_id) != 0)
    {
      memset (token, 0, strlen (token));
      request_return_error (task, g_error_new (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                               "The token is for user %s, not %s",
                                               claims->user_id, self->user_id));
      return;
    }

  request->msg = build_message (self, request, token, &error);
  memset (token, 0, strlen (token));
  if (request->msg == NULL)
    {
      request_return_error (task, error);
      return;
    }

  _confab_http_send_async (self->session, request->msg, MAX_RESPONSE_SIZE, 0,
                           request->cancellable, on_response, g_steal_pointer (&task));
}

static void
start_attempt (GTask    *task,
               gboolean  force_refresh)
{
  ConfabStreamClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);

  /* One deadline per attempt, over getting the token and the exchange; the request
   * outlives the source (request_free destroys it). */
  request_stop_deadline (request);
  request->deadline = g_timeout_source_new (self->timeout_ms);
  g_source_set_callback (request->deadline, on_request_deadline, request, NULL);
  g_source_set_static_name (request->deadline, "[confab] Stream request deadline");
  g_source_attach (request->deadline, g_task_get_context (task));
  request->started = g_get_monotonic_time ();

  confab_token_provider_get_token_async (self->token_provider, force_refresh, request->cancellable,
                                         on_token, g_object_ref (task));
}

static gboolean
method_has_body (const char *method)
{
  return !g_str_equal (method, "GET") && !g_str_equal (method, "DELETE") && !g_str_equal (method, "HEAD");
}

static void
request_start (ConfabStreamClient  *self,
               const char          *method,
               const char          *path,
               GHashTable          *query,
               JsonObject          *body,
               gpointer             source_tag,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Request *request;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  request = g_new0 (Request, 1);
  request->method = g_ascii_strup (method, -1);
  request->path = g_strdup (path);
  request->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  if (query != NULL)
    {
      GHashTableIter iter;
      gpointer name, value;

      request->query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_iter_init (&iter, query);
      while (g_hash_table_iter_next (&iter, &name, &value))
        g_hash_table_insert (request->query, g_strdup (name), g_strdup (value));
    }

  if (body != NULL)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), body);
      gsize length = 0;
      char *json = json_to_string (node, FALSE);

      length = strlen (json);
      if (method_has_body (request->method))
        request->body = g_bytes_new_take (json, length);
      else
        request->payload = json;
    }

  if (!self->initialized)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                               "The client was not created with confab_stream_client_new ()");
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  if (cancellable != NULL)
    {
      request->outer = g_object_ref (cancellable);
      request->outer_id = chain_cancellable (cancellable, request->cancellable);
    }

  start_attempt (task, FALSE);
}

static JsonObject *
request_finish (ConfabStreamClient  *self,
                GAsyncResult        *result,
                gpointer             source_tag,
                GError             **error)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
confab_stream_client_request_async (ConfabStreamClient  *self,
                                    const char          *method,
                                    const char          *path,
                                    GHashTable          *query,
                                    JsonObject          *body,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));
  g_return_if_fail (method != NULL && *method != '\0');
  g_return_if_fail (path != NULL && path[0] == '/');
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  request_start (self, method, path, query, body, confab_stream_client_request_async,
                 cancellable, callback, user_data);
}

JsonObject *
confab_stream_client_request_finish (ConfabStreamClient  *self,
                                     GAsyncResult        *result,
                                     GError             **error)
{
  return request_finish (self, result, confab_stream_client_request_async, error);
}

/* Typed endpoints ----------------------------------------------------------------- */

static char *
escape_segment (const char *segment)
{
  return g_uri_escape_string (segment, NULL, FALSE);
}

/* "/channels/{type}/{id}/@action" from "type:id", or NULL if @cid is not one. */
static char *
channel_path (const char *cid,
              const char *action)
{
  g_autofree char *type = NULL;
  g_autofree char *escaped_type = NULL;
  g_autofree char *escaped_id = NULL;
  const char *colon = strchr (cid, ':');

  if (colon == NULL || colon == cid || colon[1] == '\0')
    return NULL;
  type = g_strndup (cid, colon - cid);
  escaped_type = escape_segment (type);
  escaped_id = escape_segment (colon + 1);
  return g_strdup_printf ("/channels/%s/%s/%s", escaped_type, escaped_id, action);
}

static void
return_bad_cid (ConfabStreamClient  *self,
                gpointer             source_tag,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_FAILED,
                           "A channel id must look like “type:id”");
}

static JsonArray *
strv_to_array (const char * const *strv)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    json_array_add_string_element (array, strv[i]);
  return array;
}

void
confab_stream_client_query_channels_async (ConfabStreamClient  *self,
                                           gboolean             watch,
                                           gboolean             presence,
                                           int                  limit,
                                           int                  offset,
                                           int                  message_limit,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  g_autoptr(JsonObject) body = json_object_new ();
  JsonObject *filter;
  JsonObject *members;
  JsonObject *sort;
  JsonArray *in;
  JsonArray *sorts;

  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));

  in = json_array_new ();
  json_array_add_string_element (in, self->user_id);
  members = json_object_new ();
  json_object_set_array_member (members, "$in", in);
  filter = json_object_new ();
  json_object_set_object_member (filter, "members", members);
  json_object_set_object_member (body, "filter_conditions", filter);

  sort = json_object_new ();
  json_object_set_string_member (sort, "field", "last_message_at");
  json_object_set_int_member (sort, "direction", -1);
  sorts = json_array_new ();
  json_array_add_object_element (sorts, sort);
  json_object_set_array_member (body, "sort", sorts);

  json_object_set_boolean_member (body, "state", TRUE);
  json_object_set_boolean_member (body, "watch", watch);
  json_object_set_boolean_member (body, "presence", presence);
  if (limit >= 0)
    json_object_set_int_member (body, "limit", limit);
  if (offset > 0)
    json_object_set_int_member (body, "offset", offset);
  if (message_limit >= 0)
    json_object_set_int_member (body, "message_limit", message_limit);

  request_start (self, "POST", "/channels", NULL, body, confab_stream_client_query_channels_async,
                 cancellable, callback, user_data);
}

JsonObject *
confab_stream_client_query_channels_finish (ConfabStreamClient  *self,
                                            GAsyncResult        *result,
                                            GError             **error)
{
  return request_finish (self, result, confab_stream_client_query_channels_async, error);
}

void
confab_stream_client_query_channel_async (ConfabStreamClient  *self,
                                          const char          *type,
                                          const char          *id,
                                          gboolean             watch,
                                          gboolean             presence,
                                          int                  message_limit,
                                          const char          *id_lt,
                                          const char          *id_gt,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autofree char *escaped_type = NULL;
  g_autofree char *escaped_id = NULL;
  g_autofree char *path = NULL;
  JsonObject *messages;

  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));
  g_return_if_fail (type != NULL && *type != '\0');
  g_return_if_fail (id != NULL && *id != '\0');

  escaped_type = escape_segment (type);
  escaped_id = escape_segment (id);
  path = g_strdup_printf ("/channels/%s/%s/query", escaped_type, escaped_id);

  json_object_set_boolean_member (body, "state", TRUE);
  json_object_set_boolean_member (body, "watch", watch);
  json_object_set_boolean_member (body, "presence", presence);

  messages = json_object_new ();
  if (message_limit >= 0)
    json_object_set_int_member (messages, "limit", message_limit);
  if (id_lt != NULL)
    json_object_set_string_member (messages, "id_lt", id_lt);
  if (id_gt != NULL)
    json_object_set_string_member (messages, "id_gt", id_gt);
  if (json_object_get_size (messages) > 0)
    json_object_set_object_member (body, "messages", messages);
  else
    json_object_unref (messages);

  request_start (self, "POST", path, NULL, body, confab_stream_client_query_channel_async,
                 cancellable, callback, user_data);
}

JsonObject *
confab_stream_client_query_channel_finish (ConfabStreamClient  *self,
                                           GAsyncResult        *result,
                                           GError             **error)
{
  return request_finish (self, result, confab_stream_client_query_channel_async, error);
}

void
confab_stream_client_send_message_async (ConfabStreamClient  *self,
                                         const char          *cid,
                                         const char          *message_id,
                                         const char          *text,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(JsonObject) body = NULL;
  g_autofree char *path = NULL;
  JsonObject *message;

  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));
  g_return_if_fail (cid != NULL);
  g_return_if_fail (message_id != NULL && *message_id != '\0');
  g_return_if_fail (text != NULL);

  path = channel_path (cid, "message");
  if (path == NULL)
    {
      return_bad_cid (self, confab_stream_client_send_message_async, callback, user_data);
      return;
    }

  message = json_object_new ();
  json_object_set_string_member (message, "id", message_id);
  json_object_set_string_member (message, "text", text);
  body = json_object_new ();
  json_object_set_object_member (body, "message", message);

  request_start (self, "POST", path, NULL, body, confab_stream_client_send_message_async,
                 cancellable, callback, user_data);
}

JsonObject *
confab_stream_client_send_message_finish (ConfabStreamClient  *self,
                                          GAsyncResult        *result,
                                          GError             **error)
{
  return request_finish (self, result, confab_stream_client_send_message_async, error);
}

void
confab_stream_client_mark_read_async (ConfabStreamClient  *self,
                                      const char          *cid,
                                      const char          *message_id,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autofree char *path = NULL;

  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));
  g_return_if_fail (cid != NULL);

  path = channel_path (cid, "read");
  if (path == NULL)
    {
      return_bad_cid (self, confab_stream_client_mark_read_async, callback, user_data);
      return;
    }

  if (message_id != NULL)
    json_object_set_string_member (body, "message_id", message_id);

  request_start (self, "POST", path, NULL, body, confab_stream_client_mark_read_async,
                 cancellable, callback, user_data);
}

JsonObject *
confab_stream_client_mark_read_finish (ConfabStreamClient  *self,
                                       GAsyncResult        *result,
                                       GError             **error)
{
  return request_finish (self, result, confab_stream_client_mark_read_async, error);
}

void
confab_stream_client_send_event_async (ConfabStreamClient  *self,
                                       const char          *cid,
                                       const char          *event_type,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(JsonObject) body = NULL;
  g_autofree char *path = NULL;
  JsonObject *event;

  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));
  g_return_if_fail (cid != NULL);
  g_return_if_fail (event_type != NULL && *event_type != '\0');

  path = channel_path (cid, "event");
  if (path == NULL)
    {
      return_bad_cid (self, confab_stream_client_send_event_async, callback, user_data);
      return;
    }

  event = json_object_new ();
  json_object_set_string_member (event, "type", event_type);
  body = json_object_new ();
  json_object_set_object_member (body, "event", event);

  request_start (self, "POST", path, NULL, body, confab_stream_client_send_event_async,
                 cancellable, callback, user_data);
}

JsonObject *
confab_stream_client_send_event_finish (ConfabStreamClient  *self,
                                        GAsyncResult        *result,
                                        GError             **error)
{
  return request_finish (self, result, confab_stream_client_send_event_async, error);
}

void
confab_stream_client_query_users_async (ConfabStreamClient  *self,
                                        const char * const  *user_ids,
                                        gboolean             presence,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(JsonObject) body = json_object_new ();
  JsonObject *filter;
  JsonObject *id;
  guint n;

  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));
  g_return_if_fail (user_ids != NULL);

  n = g_strv_length ((char **) user_ids);
  g_return_if_fail (n <= 100);

  id = json_object_new ();
  json_object_set_array_member (id, "$in", strv_to_array (user_ids));
  filter = json_object_new ();
  json_object_set_object_member (filter, "id", id);
  json_object_set_object_member (body, "filter_conditions", filter);
  json_object_set_boolean_member (body, "presence", presence);
  /* Stream's default page (30) would cut a longer list short. */
  json_object_set_int_member (body, "limit", MAX (n, 1));

  request_start (self, "GET", "/users", NULL, body, confab_stream_client_query_users_async,
                 cancellable, callback, user_data);
}

JsonObject *
confab_stream_client_query_users_finish (ConfabStreamClient  *self,
                                         GAsyncResult        *result,
                                         GError             **error)
{
  return request_finish (self, result, confab_stream_client_query_users_async, error);
}

/* RFC 3339 in UTC with microseconds, as Stream writes its own timestamps. */
static char *
format_rfc3339 (gint64 unix_usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (unix_usec / G_USEC_PER_SEC);
  g_autofree char *base = NULL;

  if (dt == NULL)
    return NULL;
  base = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%06dZ", base, (int) (unix_usec % G_USEC_PER_SEC));
}

void
confab_stream_client_sync_async (ConfabStreamClient  *self,
                                 const char * const  *cids,
                                 gint64               last_sync_at,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autofree char *since = NULL;

  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));
  g_return_if_fail (cids != NULL);
  g_return_if_fail (last_sync_at >= 0);

  since = format_rfc3339 (last_sync_at);
  if (since == NULL)
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, confab_stream_client_sync_async);
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_FAILED, "The last sync time is out of range");
      return;
    }

  json_object_set_array_member (body, "channel_cids", strv_to_array (cids));
  json_object_set_string_member (body, "last_sync_at", since);

  request_start (self, "POST", "/sync", NULL, body, confab_stream_client_sync_async,
                 cancellable, callback, user_data);
}

JsonObject *
confab_stream_client_sync_finish (ConfabStreamClient  *self,
                                  GAsyncResult        *result,
                                  GError             **error)
{
  return request_finish (self, result, confab_stream_client_sync_async, error);
}

/* GObject -------------------------------------------------------------------------- */

static gboolean
confab_stream_client_initable_init (GInitable     *initable,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  ConfabStreamClient *self = CONFAB_STREAM_CLIENT (initable);

  if (!confab_secure_url_check (self->base_url, error))
    return FALSE;
  if (self->api_key == NULL || *self->api_key == '\0' ||
      self->user_id == NULL || *self->user_id == '\0' ||
      self->token_provider == NULL)
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_FAILED,
                           "A Stream client needs an API key, a user id and a token provider");
      return FALSE;
    }

  self->initialized = TRUE;
  return TRUE;
}

static void
confab_stream_client_initable_iface_init (GInitableIface *iface)
{
  iface->init = confab_stream_client_initable_init;
}

static void
confab_stream_client_dispose (GObject *object)
{
  ConfabStreamClient *self = CONFAB_STREAM_CLIENT (object);

  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);
  g_clear_object (&self->token_provider);

  G_OBJECT_CLASS (confab_stream_client_parent_class)->dispose (object);
}

static void
confab_stream_client_finalize (GObject *object)
{
  ConfabStreamClient *self = CONFAB_STREAM_CLIENT (object);

  g_clear_pointer (&self->base_url, g_free);
  g_clear_pointer (&self->api_key, g_free);
  g_clear_pointer (&self->user_id, g_free);
  g_clear_pointer (&self->connection_id, g_free);

  G_OBJECT_CLASS (confab_stream_client_parent_class)->finalize (object);
}

static void
confab_stream_client_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  ConfabStreamClient *self = CONFAB_STREAM_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      g_value_set_string (value, self->base_url);
      break;
    case PROP_API_KEY:
      g_value_set_string (value, self->api_key);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, self->user_id);
      break;
    case PROP_TOKEN_PROVIDER:
      g_value_set_object (value, self->token_provider);
      break;
    case PROP_CONNECTION_ID:
      g_value_set_string (value, self->connection_id);
      break;
    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_stream_client_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  ConfabStreamClient *self = CONFAB_STREAM_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      {
        const char *url = g_value_get_string (value);
        gsize length = url != NULL ? strlen (url) : 0;

        while (length > 0 && url[length - 1] == '/')
          length--;
        g_assert (self->base_url == NULL);
        self->base_url = url != NULL ? g_strndup (url, length) : NULL;
      }
      break;
    case PROP_API_KEY:
      g_assert (self->api_key == NULL);
      self->api_key = g_value_dup_string (value);
      break;
    case PROP_USER_ID:
      g_assert (self->user_id == NULL);
      self->user_id = g_value_dup_string (value);
      break;
    case PROP_TOKEN_PROVIDER:
      g_assert (self->token_provider == NULL);
      self->token_provider = g_value_dup_object (value);
      break;
    case PROP_CONNECTION_ID:
      confab_stream_client_set_connection_id (self, g_value_get_string (value));
      break;
    case PROP_TIMEOUT_MS:
      confab_stream_client_set_timeout_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_stream_client_class_init (ConfabStreamClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_stream_client_dispose;
  object_class->finalize = confab_stream_client_finalize;
  object_class->get_property = confab_stream_client_get_property;
  object_class->set_property = confab_stream_client_set_property;

  /**
   * ConfabStreamClient:base-url:
   *
   * The REST base, e.g. `https://chat.stream-io-api.com`; http:// only to loopback.
   */
  properties[PROP_BASE_URL] =
    g_param_spec_string ("base-url", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabStreamClient:api-key:
   *
   * The app's API key (public, but still kept out of logs).
   */
  properties[PROP_API_KEY] =
    g_param_spec_string ("api-key", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabStreamClient:user-id:
   *
   * The signed-in user; tokens must be for this user.
   */
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabStreamClient:token-provider:
   *
   * Where each request's token comes from.
   */
  properties[PROP_TOKEN_PROVIDER] =
    g_param_spec_object ("token-provider", NULL, NULL, CONFAB_TYPE_TOKEN_PROVIDER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabStreamClient:connection-id:
   *
   * The id of the usable WebSocket or long-poll connection, sent with every request
   * so Stream ties watches to it; %NULL when there is none.
   */
  properties[PROP_CONNECTION_ID] =
    g_param_spec_string ("connection-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabStreamClient:timeout-ms:
   *
   * The deadline of one attempt of a request, token included. 10 s by default rather
   * than the SDK's 3 s, which fails on slow links where the answer would have come.
   */
  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL, 1, G_MAXINT, DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_stream_client_init (ConfabStreamClient *self)
{
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  /* Deadlines are ours (timeout-ms), so the session's own I/O timeout is off. */
  self->session = soup_session_new_with_options ("user-agent", "confab/" PACKAGE_VERSION,
                                                 "max-conns-per-host", MAX_CONNS_PER_HOST,
                                                 "max-conns", MAX_CONNS,
                                                 "timeout", 0,
                                                 NULL);
}

/* Public API ---------------------------------------------------------------------- */

ConfabStreamClient *
confab_stream_client_new (const char           *base_url,
                          const char           *api_key,
                          const char           *user_id,
                          ConfabTokenProvider  *token_provider,
                          GError              **error)
{
  g_return_val_if_fail (api_key != NULL, NULL);
  g_return_val_if_fail (user_id != NULL, NULL);
  g_return_val_if_fail (CONFAB_IS_TOKEN_PROVIDER (token_provider), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (CONFAB_TYPE_STREAM_CLIENT, NULL, error,
                         "base-url", base_url,
                         "api-key", api_key,
                         "user-id", user_id,
                         "token-provider", token_provider,
                         NULL);
}

const char *
confab_stream_client_get_base_url (ConfabStreamClient *self)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (self), NULL);
  return self->base_url;
}

const char *
confab_stream_client_get_api_key (ConfabStreamClient *self)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (self), NULL);
  return self->api_key;
}

const char *
confab_stream_client_get_user_id (ConfabStreamClient *self)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (self), NULL);
  return self->user_id;
}

ConfabTokenProvider *
confab_stream_client_get_token_provider (ConfabStreamClient *self)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (self), NULL);
  return self->token_provider;
}

const char *
confab_stream_client_get_connection_id (ConfabStreamClient *self)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (self), NULL);
  return self->connection_id;
}

void
confab_stream_client_set_connection_id (ConfabStreamClient *self,
                                        const char         *connection_id)
{
  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));

  if (connection_id != NULL && *connection_id == '\0')
    connection_id = NULL;
  if (g_strcmp0 (self->connection_id, connection_id) == 0)
    return;
  g_free (self->connection_id);
  self->connection_id = g_strdup (connection_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION_ID]);
}

guint
confab_stream_client_get_timeout_ms (ConfabStreamClient *self)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (self), 0);
  return self->timeout_ms;
}

void
confab_stream_client_set_timeout_ms (ConfabStreamClient *self,
                                     guint               timeout_ms)
{
  g_return_if_fail (CONFAB_IS_STREAM_CLIENT (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_MS]);
}

gint64
confab_stream_client_get_retry_at (ConfabStreamClient *self)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (self), 0);
  return self->retry_at;
}
