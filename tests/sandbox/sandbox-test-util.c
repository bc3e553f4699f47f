/* sandbox-test-util.c: an in-process sandbox server and real HTTP/WebSocket clients for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdarg.h>
#include <string.h>

#include "confab-sandbox-hub.h"
#include "confab-sandbox-jwt.h"
#include "sandbox-test-util.h"

/* Waiting ------------------------------------------------------------------------- */

static gboolean
on_wait_deadline (gpointer user_data)
{
  SandboxWait *wait = user_data;

  wait->wake_id = 0;
  return G_SOURCE_REMOVE;
}

void
sandbox_wait_begin (SandboxWait *wait,
                    guint        timeout_ms)
{
  wait->deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  wait->wake_id = g_timeout_add (timeout_ms, on_wait_deadline, wait);
}

gboolean
sandbox_wait_iterate (SandboxWait *wait)
{
  if (g_get_monotonic_time () >= wait->deadline)
    return FALSE;
  g_main_context_iteration (NULL, TRUE);
  return TRUE;
}

void
sandbox_wait_end (SandboxWait *wait)
{
  g_clear_handle_id (&wait->wake_id, g_source_remove);
}

gboolean
sandbox_wait_until (SandboxCondition condition,
                    gpointer         user_data,
                    guint            timeout_ms)
{
  SandboxWait wait;
  gboolean met;

  sandbox_wait_begin (&wait, timeout_ms);
  while (!(met = condition (user_data)))
    if (!sandbox_wait_iterate (&wait))
      break;
  sandbox_wait_end (&wait);
  return met;
}

/* JSON helpers --------------------------------------------------------------------- */

JsonObject *
sandbox_json_parse_object (const char *data,
                           gssize      length)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (data == NULL)
    return NULL;
  if (length < 0)
    length = strlen (data);
  if (length == 0 || !g_utf8_validate_len (data, length, NULL) ||
      !json_parser_load_from_data (parser, data, length, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

JsonNode *
sandbox_json_lookup (JsonObject *object,
                     const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = NULL;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (object == NULL)
        return NULL;
      node = json_object_get_member (object, parts[i]);
      if (node == NULL)
        return NULL;
      object = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    }
  return node;
}

const char *
sandbox_json_get_string (JsonObject *object,
                         const char *path)
{
  JsonNode *node = sandbox_json_lookup (object, path);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gint64
sandbox_json_get_int (JsonObject *object,
                      const char *path)
{
  JsonNode *node = sandbox_json_lookup (object, path);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
    return -1;
  return json_node_get_int (node);
}

/* 8-4-4-4-12 hex digits. */
gboolean
sandbox_is_uuid (const char *text)
{
  static const guint groups[] = { 8, 4, 4, 4, 12 };
  const char *p = text;

  if (text == NULL || strlen (text) != 36)
    return FALSE;
  for (guint g = 0; g < G_N_ELEMENTS (groups); g++)
    {
      for (guint i = 0; i < groups[g]; i++, p++)
        if (!g_ascii_isxdigit (*p))
          return FALSE;
      if (g + 1 < G_N_ELEMENTS (groups) && *p++ != '-')
        return FALSE;
    }
  return *p == '\0';
}

/* The fixture ---------------------------------------------------------------------- */

SandboxFixtureOptions
sandbox_fixture_options_default (void)
{
  SandboxFixtureOptions options = {
    .demo = FALSE,
    .websocket_enabled = TRUE,
    .allow_dev_tokens = FALSE,
    .longpoll_hold_seconds = 20,
  };

  return options;
}

void
sandbox_fixture_init (SandboxFixture              *fixture,
                      const SandboxFixtureOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  SandboxFixtureOptions defaults = sandbox_fixture_options_default ();

  if (options == NULL)
    options = &defaults;

  memset (fixture, 0, sizeof *fixture);

  fixture->store = confab_sandbox_store_new (NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->store);

  fixture->server = confab_sandbox_server_new (SANDBOX_TEST_API_KEY, SANDBOX_TEST_API_SECRET,
                                               fixture->store, NULL);
  g_assert_nonnull (fixture->server);
  g_object_set (fixture->server,
                "demo", options->demo,
                "websocket-enabled", options->websocket_enabled,
                "allow-dev-tokens", options->allow_dev_tokens,
                "longpoll-hold-seconds", options->longpoll_hold_seconds,
                NULL);

  address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_assert_true (confab_sandbox_server_listen (fixture->server, address, NULL, &error));
  g_assert_no_error (error);

  fixture->url = confab_sandbox_server_dup_url (fixture->server);
  g_assert_true (g_str_has_prefix (fixture->url, "http://127.0.0.1:"));
  fixture->ws_url = g_strconcat ("ws://", fixture->url + strlen ("http://"), NULL);
  fixture->server_token = confab_sandbox_jwt_server_token (SANDBOX_TEST_API_SECRET);

  /* Held long-polls and several sockets per test: do not let the pool queue requests.
   * No proxy either, whatever the environment says. */
  fixture->session = soup_session_new_with_options ("max-conns", 64,
                                                    "max-conns-per-host", 64,
                                                    "proxy-resolver", NULL,
                                                    NULL);
}

static gboolean
hub_is_empty (gpointer user_data)
{
  ConfabSandboxHub *hub = user_data;

  return confab_sandbox_hub_get_n_connections (hub, CONFAB_SANDBOX_TRANSPORT_WEBSOCKET) == 0 &&
         confab_sandbox_hub_get_n_connections (hub, CONFAB_SANDBOX_TRANSPORT_LONGPOLL) == 0;
}

static void
drain_main_context (void)
{
  /* Bounded: a periodic source must not keep the teardown spinning. */
  for (guint i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

void
sandbox_fixture_clear (SandboxFixture *fixture)
{
  if (fixture->session != NULL)
    {
      soup_session_abort (fixture->session);
      g_clear_object (&fixture->session);
    }

  if (fixture->server != NULL)
    {
      /* Long-poll connections only go away on close=true or their idle timeout, so
       * the shutdown is what empties the hub; it must do so promptly. */
      confab_sandbox_server_shutdown (fixture->server);
      g_assert_true (sandbox_wait_until (hub_is_empty, confab_sandbox_server_get_hub (fixture->server),
                                         SANDBOX_TEST_DEADLINE_MS));
      drain_main_context ();
      g_assert_finalize_object (g_steal_pointer (&fixture->server));
    }
  drain_main_context ();
  if (fixture->store != NULL)
    g_assert_finalize_object (g_steal_pointer (&fixture->store));

  g_clear_pointer (&fixture->url, g_free);
  g_clear_pointer (&fixture->ws_url, g_free);
  g_clear_pointer (&fixture->server_token, g_free);
}

char *
sandbox_fixture_user_token (SandboxFixture *fixture,
                            const char     *user_id)
{
  return confab_sandbox_jwt_user_token (user_id, SANDBOX_TEST_API_SECRET,
                                        g_get_real_time () / G_USEC_PER_SEC, 0);
}

/* REST ----------------------------------------------------------------------------- */

struct _SandboxRequest {
  SoupMessage     *msg;
  gboolean         done;
  SandboxResponse *response;
};

void
sandbox_response_free (SandboxResponse *response)
{
  if (response == NULL)
    return;
  g_clear_pointer (&response->raw, g_bytes_unref);
  g_clear_pointer (&response->body, json_object_unref);
  g_clear_pointer (&response->headers, soup_message_headers_unref);
  g_clear_error (&response->error);
  g_free (response);
}

static void
request_clear (SandboxRequest *request)
{
  g_clear_object (&request->msg);
  g_clear_pointer (&request->response, sandbox_response_free);
}

static void
on_send_and_read (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  SandboxRequest *request = user_data;
  SandboxResponse *response = g_new0 (SandboxResponse, 1);

  response->raw = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &response->error);
  if (response->error == NULL)
    {
      gsize length = 0;
      const char *data = g_bytes_get_data (response->raw, &length);

      response->status = soup_message_get_status (request->msg);
      response->body = sandbox_json_parse_object (data, length);
    }
  response->headers = soup_message_headers_ref (soup_message_get_response_headers (request->msg));

  request->response = response;
  request->done = TRUE;
  g_rc_box_release_full (request, (GDestroyNotify) request_clear);
}

SandboxRequest *
sandbox_send_start (SoupSession *session,
                    SoupMessage *msg)
{
  SandboxRequest *request = g_rc_box_new0 (SandboxRequest);

  request->msg = g_object_ref (msg);
  /* The callback holds the second reference. */
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_send_and_read,
                                    g_rc_box_acquire (request));
  return request;
}

gboolean
sandbox_request_is_done (SandboxRequest *request)
{
  return request->done;
}

SandboxResponse *
sandbox_request_finish (SandboxRequest *request)
{
  SandboxResponse *response;

  SANDBOX_WAIT_UNTIL (request->done, SANDBOX_TEST_DEADLINE_MS);
  response = g_steal_pointer (&request->response);
  g_rc_box_release_full (request, (GDestroyNotify) request_clear);
  return response;
}

SandboxResponse *
sandbox_send (SoupSession *session,
              SoupMessage *msg)
{
  return sandbox_request_finish (sandbox_send_start (session, msg));
}

SoupMessage *
sandbox_fixture_new_message (SandboxFixture *fixture,
                             const char     *method,
                             const char     *path,
                             const char     *token,
                             const char     *body,
                             gssize          body_length)
{
  g_autofree char *uri = g_strconcat (fixture->url, path, NULL);
  SoupMessage *msg = soup_message_new (method, uri);

  if (msg == NULL)
    g_error ("libsoup refuses the URI %s", uri);
  if (token != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", token);
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, body_length < 0 ? strlen (body) : (gsize) body_length);

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  return msg;
}

SandboxResponse *
sandbox_fixture_call (SandboxFixture *fixture,
                      const char     *method,
                      const char     *path,
                      const char     *token,
                      const char     *body)
{
  g_autofree char *full = g_strconcat (path, strchr (path, '?') != NULL ? "&" : "?",
                                       "api_key=" SANDBOX_TEST_API_KEY, NULL);
  g_autoptr(SoupMessage) msg = sandbox_fixture_new_message (fixture, method, full, token, body, -1);

  return sandbox_send (fixture->session, msg);
}

JsonObject *
sandbox_fixture_call_ok (SandboxFixture *fixture,
                         const char     *method,
                         const char     *path,
                         const char     *token,
                         const char     *body)
{
  g_autoptr(SandboxResponse) response = sandbox_fixture_call (fixture, method, path, token, body);

  g_assert_no_error (response->error);
  if (response->status < 200 || response->status >= 300)
    g_error ("%s %s: HTTP %u: %.*s", method, path, response->status,
             (int) g_bytes_get_size (response->raw), (const char *) g_bytes_get_data (response->raw, NULL));
  g_assert_nonnull (response->body);
  g_assert_nonnull (sandbox_json_get_string (response->body, "duration"));
  return g_steal_pointer (&response->body);
}

void
sandbox_assert_stream_error_impl (SandboxResponse *response,
                                  guint            status,
                                  int              code,
                                  const char      *file,
                                  int              line)
{
  g_autofree char *where = g_strdup_printf ("%s:%d", file, line);
  const char *raw = response->raw != NULL ? g_bytes_get_data (response->raw, NULL) : NULL;
  int length = response->raw != NULL ? (int) g_bytes_get_size (response->raw) : 0;
  JsonNode *node;

  if (response->error != NULL)
    g_error ("%s: transport error: %s", where, response->error->message);
  if (response->status != status || response->body == NULL ||
      sandbox_json_get_int (response->body, "code") != code ||
      sandbox_json_get_int (response->body, "StatusCode") != (gint64) status ||
      sandbox_json_get_string (response->body, "message") == NULL ||
      *sandbox_json_get_string (response->body, "message") == '\0' ||
      sandbox_json_get_string (response->body, "duration") == NULL ||
      sandbox_json_get_string (response->body, "more_info") == NULL)
    g_error ("%s: expected HTTP %u with a Stream error code %d, got HTTP %u: %.*s",
             where, status, code, response->status, length, raw != NULL ? raw : "");

  node = json_object_get_member (response->body, "details");
  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    g_error ("%s: details is not an array", where);
  if (g_strcmp0 (soup_message_headers_get_content_type (response->headers, NULL), "application/json") != 0)
    g_error ("%s: the error is not served as application/json", where);
}

static char *
json_string_array (va_list *args,
                   const char *first)
{
  g_autoptr(GString) out = g_string_new ("[");

  for (const char *id = first; id != NULL; id = va_arg (*args, const char *))
    g_string_append_printf (out, "%s\"%s\"", out->len > 1 ? "," : "", id);
  g_string_append_c (out, ']');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

void
sandbox_fixture_create_users (SandboxFixture *fixture,
                              const char     *first_user_id,
                              ...)
{
  g_autoptr(GString) body = g_string_new ("{\"users\":{");
  g_autoptr(JsonObject) result = NULL;
  va_list args;

  va_start (args, first_user_id);
  for (const char *id = first_user_id; id != NULL; id = va_arg (args, const char *))
    g_string_append_printf (body, "%s\"%s\":{\"id\":\"%s\",\"name\":\"User %s\"}",
                            body->str[body->len - 1] == '{' ? "" : ",", id, id, id);
  va_end (args);
  g_string_append (body, "}}");

  result = sandbox_fixture_call_ok (fixture, "POST", "/users", fixture->server_token, body->str);
  g_assert_nonnull (sandbox_json_lookup (result, "users"));
}

void
sandbox_fixture_create_channel (SandboxFixture *fixture,
                                const char     *type,
                                const char     *id,
                                const char     *creator,
                                const char     *first_member,
                                ...)
{
  g_autofree char *members = NULL;
  g_autofree char *path = g_strdup_printf ("/channels/%s/%s/query", type, id);
  g_autofree char *body = NULL;
  g_autofree char *cid = g_strdup_printf ("%s:%s", type, id);
  g_autoptr(JsonObject) result = NULL;
  va_list args;

  va_start (args, first_member);
  members = json_string_array (&args, first_member);
  va_end (args);

  body = g_strdup_printf ("{\"data\":{\"members\":%s,\"created_by_id\":\"%s\"}}", members, creator);
  result = sandbox_fixture_call_ok (fixture, "POST", path, fixture->server_token, body);
  g_assert_cmpstr (sandbox_json_get_string (result, "channel.cid"), ==, cid);
}

/* WebSocket client ----------------------------------------------------------------- */

static void
on_ws_message (SoupWebsocketConnection *ws,
               gint                     type,
               GBytes                  *message,
               gpointer                 user_data)
{
  SandboxWs *client = user_data;
  gsize length = 0;
  const char *data = g_bytes_get_data (message, &length);
  JsonObject *frame = NULL;

  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    frame = sandbox_json_parse_object (data, length);
  if (frame == NULL)
    {
      client->n_other++;
      return;
    }

  if (client->connection_id == NULL &&
      g_strcmp0 (sandbox_json_get_string (frame, "type"), "health.check") == 0 &&
      sandbox_json_get_string (frame, "connection_id") != NULL)
    client->connection_id = g_strdup (sandbox_json_get_string (frame, "connection_id"));
  g_ptr_array_add (client->frames, frame);
}

static void
on_ws_closed (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  SandboxWs *client = user_data;

  client->closed = TRUE;
  client->close_code = soup_websocket_connection_get_close_code (ws);
}

static void
ws_clear (SandboxWs *client)
{
  if (client->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (client->ws, client);
      if (soup_websocket_connection_get_state (client->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&client->ws);
    }
  g_clear_object (&client->msg);
  g_clear_object (&client->cancellable);
  g_clear_error (&client->connect_error);
  g_clear_pointer (&client->frames, g_ptr_array_unref);
  g_clear_pointer (&client->connection_id, g_free);
}

static void
on_ws_connected (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  SandboxWs *client = user_data;
  SoupWebsocketConnection *ws;
  g_autoptr(GError) error = NULL;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (g_cancellable_is_cancelled (client->cancellable))
    {
      /* sandbox_ws_free ran: only this callback's reference is left. */
      g_clear_object (&ws);
    }
  else if (ws == NULL)
    client->connect_error = g_steal_pointer (&error);
  else
    {
      /* Connected before any frame can be dispatched: the socket's input source only
       * runs in a later iteration. */
      client->ws = ws;
      g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), client);
      g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), client);
    }
  client->connect_done = TRUE;
  g_rc_box_release_full (client, (GDestroyNotify) ws_clear);
}

SandboxWs *
sandbox_ws_start (SoupSession *session,
                  SoupMessage *msg)
{
  SandboxWs *client = g_rc_box_new0 (SandboxWs);

  client->msg = g_object_ref (msg);
  client->cancellable = g_cancellable_new ();
  client->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        client->cancellable, on_ws_connected,
                                        g_rc_box_acquire (client));
  return client;
}

void
sandbox_ws_free (SandboxWs *client)
{
  if (client == NULL)
    return;
  g_cancellable_cancel (client->cancellable);
  g_rc_box_release_full (client, (GDestroyNotify) ws_clear);
}

static void
append_param (GString    *query,
              const char *name,
              const char *value)
{
  g_autofree char *escaped = g_uri_escape_string (value, NULL, FALSE);

  g_string_append_printf (query, "%s%s=%s", query->len > 0 ? "&" : "", name, escaped);
}

char *
sandbox_fixture_connect_url (SandboxFixture *fixture,
                             const char     *user_id,
                             const char     *token,
                             const char     *user_details_json)
{
  g_autoptr(GString) query = g_string_new (NULL);
  g_autofree char *default_details = g_strdup_printf ("{\"id\":\"%s\"}", user_id);
  g_autofree char *request_id = g_uuid_string_random ();
  g_autofree char *json = NULL;

  json = g_strdup_printf ("{\"user_id\":\"%s\",\"user_details\":%s,\"client_request_id\":\"%s\"}",
                          user_id, user_details_json != NULL ? user_details_json : default_details,
                          request_id);
  append_param (query, "json", json);
  append_param (query, "api_key", SANDBOX_TEST_API_KEY);
  if (token != NULL)
    {
      append_param (query, "authorization", token);
      append_param (query, "stream-auth-type", "jwt");
    }
  append_param (query, "X-Stream-Client", "confab-sandbox-test");
  return g_strdup_printf ("%s/connect?%s", fixture->ws_url, query->str);
}

gboolean
sandbox_ws_wait_open (SandboxWs *client)
{
  SANDBOX_WAIT_UNTIL (client->connect_done, SANDBOX_TEST_DEADLINE_MS);
  return client->ws != NULL;
}

SandboxWs *
sandbox_fixture_ws_connect (SandboxFixture *fixture,
                            const char     *user_id)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, user_id);
  g_autofree char *url = sandbox_fixture_connect_url (fixture, user_id, token, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  SandboxWs *client;
  JsonObject *hello;

  g_assert_nonnull (msg);
  client = sandbox_ws_start (fixture->session, msg);
  if (!sandbox_ws_wait_open (client))
    g_error ("WebSocket connect for %s failed: %s", user_id, client->connect_error->message);

  hello = sandbox_ws_wait_for_type (client, "health.check", 0);
  g_assert_true (hello == g_ptr_array_index (client->frames, 0));
  g_assert_true (sandbox_is_uuid (client->connection_id));
  g_assert_cmpstr (sandbox_json_get_string (hello, "me.id"), ==, user_id);
  return client;
}

static JsonObject *
find_type (SandboxWs  *client,
           const char *type,
           guint       from)
{
  for (guint i = from; i < client->frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (client->frames, i);

      if (g_strcmp0 (sandbox_json_get_string (frame, "type"), type) == 0)
        return frame;
    }
  return NULL;
}

JsonObject *
sandbox_ws_wait_for_type (SandboxWs  *client,
                          const char *type,
                          guint       from)
{
  JsonObject *frame = NULL;
  SandboxWait wait;

  sandbox_wait_begin (&wait, SANDBOX_TEST_DEADLINE_MS);
  while ((frame = find_type (client, type, from)) == NULL)
    if (!sandbox_wait_iterate (&wait))
      break;
  sandbox_wait_end (&wait);

  if (frame == NULL)
    g_error ("no %s frame came (%u frames since %u, socket %s)", type,
             client->frames->len - MIN (from, client->frames->len), from,
             client->closed ? "closed" : "open");
  return frame;
}

guint
sandbox_ws_count_type (SandboxWs  *client,
                       const char *type,
                       guint       from)
{
  guint n = 0;

  for (guint i = from; i < client->frames->len; i++)
    if (g_strcmp0 (sandbox_json_get_string (g_ptr_array_index (client->frames, i), "type"), type) == 0)
      n++;
  return n;
}

JsonObject *
sandbox_ws_ping (SandboxWs *client)
{
  guint from = client->frames->len;

  g_assert_nonnull (client->ws);
  g_assert_cmpint (soup_websocket_connection_get_state (client->ws), ==, SOUP_WEBSOCKET_STATE_OPEN);
  soup_websocket_connection_send_text (client->ws, "[{\"type\":\"health.check\",\"client_id\":\"x\"}]");
  return sandbox_ws_wait_for_type (client, "health.check", from);
}

void
sandbox_ws_wait_closed (SandboxWs *client)
{
  g_assert_nonnull (client->ws);
  SANDBOX_WAIT_UNTIL (client->closed, SANDBOX_TEST_DEADLINE_MS);
}

void
sandbox_ws_close (SandboxWs *client)
{
  g_assert_nonnull (client->ws);
  if (soup_websocket_connection_get_state (client->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  sandbox_ws_wait_closed (client);
}

/* Raw HTTP --------------------------------------------------------------------------- */

typedef struct {
  GSocketConnection *connection;
  GByteArray        *received;
  GError            *error;
  gboolean           done;
  guint8             buffer[4096];
} RawExchange;

static void read_more (RawExchange *exchange);

static void
on_raw_read (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  RawExchange *exchange = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &exchange->error);

  if (n <= 0)
    {
      exchange->done = TRUE;
      return;
    }
  g_byte_array_append (exchange->received, exchange->buffer, n);
  read_more (exchange);
}

static void
read_more (RawExchange *exchange)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (exchange->connection));

  g_input_stream_read_async (input, exchange->buffer, sizeof exchange->buffer, G_PRIORITY_DEFAULT,
                             NULL, on_raw_read, exchange);
}

static void
on_raw_written (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  RawExchange *exchange = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &exchange->error))
    exchange->done = TRUE;
  else
    read_more (exchange);
}

SandboxResponse *
sandbox_fixture_raw_request (SandboxFixture *fixture,
                             const char     *request_text)
{
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GUri) uri = g_uri_parse (fixture->url, G_URI_FLAGS_NONE, NULL);
  SandboxResponse *response = g_new0 (SandboxResponse, 1);
  RawExchange exchange = { 0 };
  const char *data;
  const char *end;

  g_assert_nonnull (uri);
  address = g_inet_socket_address_new_from_string ("127.0.0.1", g_uri_get_port (uri));
  exchange.connection = g_socket_client_connect (socket_client, G_SOCKET_CONNECTABLE (address),
                                                 NULL, &exchange.error);
  g_assert_no_error (exchange.error);
  exchange.received = g_byte_array_new ();

  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (exchange.connection)),
                                   request_text, strlen (request_text), G_PRIORITY_DEFAULT, NULL,
                                   on_raw_written, &exchange);
  SANDBOX_WAIT_UNTIL (exchange.done, SANDBOX_TEST_DEADLINE_MS);
  g_clear_object (&exchange.connection);

  response->error = exchange.error;
  response->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_byte_array_append (exchange.received, (const guint8 *) "", 1);   /* NUL-terminate */
  data = (const char *) exchange.received->data;
  end = strstr (data, "\r\n\r\n");
  if (end != NULL &&
      soup_headers_parse_response (data, end + 4 - data, response->headers, NULL, &response->status, NULL))
    {
      response->raw = g_bytes_new (end + 4, strlen (end + 4));
      response->body = sandbox_json_parse_object (end + 4, -1);
    }
  else
    response->raw = g_bytes_new (data, strlen (data));
  g_byte_array_unref (exchange.received);
  return response;
}
