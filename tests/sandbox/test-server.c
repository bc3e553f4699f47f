/* test-server.c: the sandbox server end to end, over real HTTP and WebSocket sockets
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each test gets its own in-memory store and a server on a free 127.0.0.1 port, and talks
 * to it with a SoupSession. Nothing sleeps: every wait ends on an observable event or
 * fails at SANDBOX_TEST_DEADLINE_MS.
 *
 * Under AddressSanitizer, run with G_SLICE=always-malloc: GLib 2.74 allocates GObjects
 * from its slice allocator, where a use-after-free of a ConfabSandboxConnection is
 * invisible. (Then add ASAN_OPTIONS=detect_leaks=0: libsoup 3.2 itself leaks accepted
 * GSockets, which LeakSanitizer only sees with that setting.)
 */
#include <string.h>

#include "confab-sandbox-demo.h"
#include "confab-sandbox-error.h"
#include "confab-sandbox-hub.h"
#include "confab-sandbox-jwt.h"
#include "confab-sandbox-server-private.h"
#include "sandbox-test-util.h"

#define ROOM      "/channels/messaging/room"
#define ROOM_CID  "messaging:room"

static const SandboxFixtureOptions default_options = {
  .websocket_enabled = TRUE, .longpoll_hold_seconds = 20,
};
static const SandboxFixtureOptions no_websocket_options = {
  .websocket_enabled = FALSE, .longpoll_hold_seconds = 20,
};
static const SandboxFixtureOptions short_hold_options = {
  .websocket_enabled = TRUE, .longpoll_hold_seconds = 1,
};
static const SandboxFixtureOptions demo_options = {
  .demo = TRUE, .websocket_enabled = TRUE, .longpoll_hold_seconds = 20,
};

static void
setup (SandboxFixture *fixture,
       gconstpointer   data)
{
  sandbox_fixture_init (fixture, data);
}

static void
teardown (SandboxFixture *fixture,
          gconstpointer   data)
{
  sandbox_fixture_clear (fixture);
}

/* Helpers ------------------------------------------------------------------------- */

/* alice, bob and carol are members of messaging:room (made by alice); dave is not. */
static void
seed_room (SandboxFixture *fixture)
{
  sandbox_fixture_create_users (fixture, "alice", "bob", "carol", "dave", NULL);
  sandbox_fixture_create_channel (fixture, "messaging", "room", "alice", "alice", "bob", "carol", NULL);
}

/* POST /channels/messaging/room/query?connection_id=… as @user_id. */
static JsonObject *
watch_room (SandboxFixture *fixture,
            const char     *user_id,
            const char     *connection_id,
            gboolean        presence)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, user_id);
  g_autofree char *path = g_strdup_printf (ROOM "/query?connection_id=%s", connection_id);

  return sandbox_fixture_call_ok (fixture, "POST", path, token,
                                  presence ? "{\"watch\":true,\"state\":true,\"presence\":true}"
                                           : "{\"watch\":true,\"state\":true}");
}

/* Sends @text to the room as @user_id (with message id @id unless NULL); returns the
 * stored message. */
static JsonObject *
send_message (SandboxFixture *fixture,
              const char     *user_id,
              const char     *id,
              const char     *text)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, user_id);
  g_autofree char *body = NULL;
  g_autoptr(JsonObject) result = NULL;
  JsonObject *message;

  if (id != NULL)
    body = g_strdup_printf ("{\"message\":{\"id\":\"%s\",\"text\":\"%s\"}}", id, text);
  else
    body = g_strdup_printf ("{\"message\":{\"text\":\"%s\"}}", text);
  result = sandbox_fixture_call_ok (fixture, "POST", ROOM "/message", token, body);
  message = json_object_get_object_member (result, "message");
  g_assert_nonnull (message);
  g_assert_cmpstr (sandbox_json_get_string (message, "text"), ==, text);
  return json_object_ref (message);
}

/* After a rejected request, an ordinary authenticated call still works. */
static void
assert_still_serving (SandboxFixture *fixture)
{
  g_autoptr(JsonObject) message = send_message (fixture, "alice", NULL, "still here");

  g_assert_true (sandbox_is_uuid (sandbox_json_get_string (message, "id")));
}

/* Frames of @type at index >= @from whose @path member equals @value. */
static guint
count_frames (SandboxWs  *client,
              const char *type,
              const char *path,
              const char *value,
              guint       from)
{
  guint n = 0;

  for (guint i = from; i < client->frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (client->frames, i);

      if (g_strcmp0 (sandbox_json_get_string (frame, "type"), type) == 0 &&
          (path == NULL || g_strcmp0 (sandbox_json_get_string (frame, path), value) == 0))
        n++;
    }
  return n;
}

static guint
hub_count (SandboxFixture         *fixture,
           ConfabSandboxTransport  transport)
{
  return confab_sandbox_hub_get_n_connections (confab_sandbox_server_get_hub (fixture->server), transport);
}

/* Sends @body (a complete, possibly invalid JSON text) to @path as alice. */
static SandboxResponse *
post_as_alice (SandboxFixture *fixture,
               const char     *path,
               const char     *body,
               gssize          length)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  g_autofree char *full = g_strconcat (path, "?api_key=" SANDBOX_TEST_API_KEY, NULL);
  g_autoptr(SoupMessage) msg = sandbox_fixture_new_message (fixture, "POST", full, token, body, length);

  return sandbox_send (fixture->session, msg);
}

/* Routing ------------------------------------------------------------------------- */

static void
test_routing_unknown (SandboxFixture *fixture,
                      gconstpointer   data)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  const char *paths[] = { "/nope", "/channels/messaging/room/unknown", "/users/alice", "/sandbox" };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(SandboxResponse) authed = sandbox_fixture_call (fixture, "GET", paths[i], token, NULL);
      g_autoptr(SoupMessage) msg = sandbox_fixture_new_message (fixture, "GET", paths[i], NULL, NULL, 0);
      g_autoptr(SandboxResponse) bare = sandbox_send (fixture->session, msg);

      sandbox_assert_stream_error (authed, 404, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
      sandbox_assert_stream_error (bare, 404, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
    }
}

static void
test_routing_wrong_method (SandboxFixture *fixture,
                           gconstpointer   data)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  const struct { const char *method, *path, *allow; } cases[] = {
    { "DELETE", "/channels", "POST, GET" },
    { "GET", "/channels/messaging/x/message", "POST" },
    { "PUT", "/users", "GET, POST, PATCH" },
    { "GET", "/sandbox/demo-token", "POST" },
    { "POST", "/longpoll", "GET" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(SandboxResponse) response = sandbox_fixture_call (fixture, cases[i].method, cases[i].path,
                                                                  token, NULL);
      const char *allow = NULL;

      sandbox_assert_stream_error (response, 405, CONFAB_STREAM_ERROR_INPUT);
      allow = soup_message_headers_get_one (response->headers, "Allow");
      g_assert_cmpstr (allow, ==, cases[i].allow);
    }
}

static void
test_routing_percent_encoded (SandboxFixture *fixture,
                              gconstpointer   data)
{
  g_autofree char *token = NULL;
  g_autoptr(JsonObject) state = NULL;
  g_autoptr(JsonObject) sent = NULL;

  sandbox_fixture_create_users (fixture, "alice", NULL);
  state = sandbox_fixture_call_ok (fixture, "POST", "/channels/messaging/room%40home/query",
                                   fixture->server_token,
                                   "{\"data\":{\"members\":[\"alice\"],\"created_by_id\":\"alice\"}}");
  g_assert_cmpstr (sandbox_json_get_string (state, "channel.id"), ==, "room@home");
  g_assert_cmpstr (sandbox_json_get_string (state, "channel.cid"), ==, "messaging:room@home");

  /* The encoded and the plain spelling are the same channel. */
  token = sandbox_fixture_user_token (fixture, "alice");
  sent = sandbox_fixture_call_ok (fixture, "POST", "/channels/messaging/room@home/message", token,
                                  "{\"message\":{\"text\":\"hi\"}}");
  g_assert_cmpstr (sandbox_json_get_string (sent, "message.cid"), ==, "messaging:room@home");
  g_clear_pointer (&state, json_object_unref);
  state = sandbox_fixture_call_ok (fixture, "POST", "/channels/m%65ssaging/room%40home/query", token, "{}");
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (state, "messages")), ==, 1);
}

static gboolean
is_stream_error (SandboxResponse *response,
                 guint            status,
                 int              code)
{
  return response->error == NULL && response->status == status && response->body != NULL &&
         sandbox_json_get_int (response->body, "code") == code &&
         sandbox_json_get_int (response->body, "StatusCode") == (gint64) status;
}

static void
test_routing_malformed_escape (SandboxFixture *fixture,
                               gconstpointer   data)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  g_autoptr(SandboxResponse) lone = NULL;
  g_autoptr(SandboxResponse) nul = NULL;
  g_autoptr(SandboxResponse) raw = NULL;
  g_autofree char *request = NULL;

  sandbox_fixture_create_users (fixture, "alice", NULL);
  sandbox_fixture_create_channel (fixture, "messaging", "room", "alice", "alice", NULL);

  /* A lone UTF-8 lead byte: decodes, but not to text. */
  lone = sandbox_fixture_call (fixture, "POST", "/channels/messaging/%C3/query", token, "{}");
  sandbox_assert_stream_error (lone, 400, CONFAB_STREAM_ERROR_INPUT);

  /* An escaped NUL. */
  nul = sandbox_fixture_call (fixture, "POST", "/channels/messaging/%00/query", token, "{}");
  g_assert_no_error (nul->error);
  g_assert_cmpuint (nul->status, ==, 400);
  g_assert_true (is_stream_error (nul, 400, CONFAB_STREAM_ERROR_INPUT));

  /* A syntactically broken escape, which libsoup's client refuses to send. */
  request = g_strdup_printf ("POST /channels/messaging/%%ZZ/query?api_key=%s HTTP/1.1\r\n"
                             "Host: 127.0.0.1\r\nAuthorization: %s\r\nContent-Type: application/json\r\n"
                             "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                             SANDBOX_TEST_API_KEY, token);
  raw = sandbox_fixture_raw_request (fixture, request);
  g_assert_no_error (raw->error);
  g_assert_cmpuint (raw->status, ==, 400);

  assert_still_serving (fixture);
}

/* The path is percent-decoded exactly once. */
static void
test_routing_single_decoding (SandboxFixture *fixture,
                              gconstpointer   data)
{
  g_autoptr(SandboxResponse) double_escaped = NULL;
  g_autoptr(SandboxResponse) slash = NULL;
  g_autoptr(JsonObject) state = NULL;

  sandbox_fixture_create_users (fixture, "alice", NULL);
  state = sandbox_fixture_call_ok (fixture, "POST", "/channels/messaging/room@home/query", fixture->server_token,
                                   "{\"data\":{\"created_by_id\":\"alice\"}}");

  /* %2540 is "%40", not "@": a channel id with '%' in it, which is invalid. */
  double_escaped = sandbox_fixture_call (fixture, "POST", "/channels/messaging/room%2540home/query",
                                         fixture->server_token, "{\"data\":{\"created_by_id\":\"alice\"}}");
  g_assert_no_error (double_escaped->error);
  sandbox_assert_stream_error (double_escaped, 400, CONFAB_STREAM_ERROR_INPUT);

  /* An escaped '/' is part of the id (invalid), not a separator that changes the route. */
  slash = sandbox_fixture_call (fixture, "POST", "/channels/messaging/a%2Fb/query",
                                fixture->server_token, "{\"data\":{\"created_by_id\":\"alice\"}}");
  g_assert_no_error (slash->error);
  g_assert_true (is_stream_error (slash, 400, CONFAB_STREAM_ERROR_INPUT));
}

static void
test_routing_trailing_slash (SandboxFixture *fixture,
                             gconstpointer   data)
{
  g_autofree char *token = NULL;
  g_autoptr(JsonObject) state = NULL;
  g_autoptr(JsonObject) app = NULL;

  seed_room (fixture);
  token = sandbox_fixture_user_token (fixture, "bob");
  state = sandbox_fixture_call_ok (fixture, "POST", ROOM "/query/", token, "{}");
  g_assert_cmpstr (sandbox_json_get_string (state, "channel.cid"), ==, ROOM_CID);
  app = sandbox_fixture_call_ok (fixture, "GET", "/app/", token, NULL);
  g_assert_cmpstr (sandbox_json_get_string (app, "app.name"), ==, "confab-sandbox");
}

/* Auth ----------------------------------------------------------------------------- */

static void
test_auth_api_key (SandboxFixture *fixture,
                   gconstpointer   data)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  g_autoptr(SoupMessage) missing = sandbox_fixture_new_message (fixture, "GET", "/app", token, NULL, 0);
  g_autoptr(SoupMessage) wrong = sandbox_fixture_new_message (fixture, "GET", "/app?api_key=other-key",
                                                              token, NULL, 0);
  g_autoptr(SoupMessage) prefix = sandbox_fixture_new_message (fixture, "GET", "/app?api_key=test",
                                                               token, NULL, 0);
  g_autoptr(SandboxResponse) r1 = sandbox_send (fixture->session, missing);
  g_autoptr(SandboxResponse) r2 = sandbox_send (fixture->session, wrong);
  g_autoptr(SandboxResponse) r3 = sandbox_send (fixture->session, prefix);
  g_autoptr(JsonObject) ok = NULL;

  sandbox_assert_stream_error (r1, 401, CONFAB_STREAM_ERROR_ACCESS_KEY);
  sandbox_assert_stream_error (r2, 401, CONFAB_STREAM_ERROR_ACCESS_KEY);
  sandbox_assert_stream_error (r3, 401, CONFAB_STREAM_ERROR_ACCESS_KEY);
  ok = sandbox_fixture_call_ok (fixture, "GET", "/app", token, NULL);
}

static void
test_auth_token (SandboxFixture *fixture,
                 gconstpointer   data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *good = sandbox_fixture_user_token (fixture, "alice");
  g_autofree char *expired = confab_sandbox_jwt_user_token ("alice", SANDBOX_TEST_API_SECRET,
                                                            now - 7200, now - 3600);
  g_autofree char *other_secret = confab_sandbox_jwt_user_token ("alice", "another-secret", now, 0);
  g_autofree char *bearer = g_strconcat ("Bearer ", good, NULL);
  g_autofree char *swapped = NULL;
  g_autofree char *mallory_payload = NULL;
  g_autoptr(SandboxResponse) none = NULL;
  g_autoptr(SandboxResponse) r_swapped = NULL;
  g_autoptr(SandboxResponse) r_other = NULL;
  g_autoptr(SandboxResponse) r_expired = NULL;
  g_autoptr(SandboxResponse) r_bearer = NULL;
  g_auto(GStrv) parts = g_strsplit (good, ".", -1);
  g_autoptr(JsonObject) ok = NULL;

  none = sandbox_fixture_call (fixture, "GET", "/app", NULL, NULL);
  sandbox_assert_stream_error (none, 401, CONFAB_STREAM_ERROR_AUTH);

  /* alice's signature on a payload that says mallory. */
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  mallory_payload = g_base64_encode ((const guchar *) "{\"user_id\":\"mallory\"}", 21);
  g_strdelimit (mallory_payload, "+", '-');
  g_strdelimit (mallory_payload, "/", '_');
  g_strdelimit (mallory_payload, "=", '\0');
  swapped = g_strjoin (".", parts[0], mallory_payload, parts[2], NULL);
  r_swapped = sandbox_fixture_call (fixture, "GET", "/app", swapped, NULL);
  sandbox_assert_stream_error (r_swapped, 401, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);

  r_other = sandbox_fixture_call (fixture, "GET", "/app", other_secret, NULL);
  sandbox_assert_stream_error (r_other, 401, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);

  r_expired = sandbox_fixture_call (fixture, "GET", "/app", expired, NULL);
  sandbox_assert_stream_error (r_expired, 401, CONFAB_STREAM_ERROR_TOKEN_EXPIRED);

  /* Stream takes the raw JWT; a Bearer prefix makes it malformed. */
  r_bearer = sandbox_fixture_call (fixture, "GET", "/app", bearer, NULL);
  sandbox_assert_stream_error (r_bearer, 401, CONFAB_STREAM_ERROR_AUTH);

  ok = sandbox_fixture_call_ok (fixture, "GET", "/app", good, NULL);
}

static void
test_auth_server_only (SandboxFixture *fixture,
                       gconstpointer   data)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  g_autoptr(SandboxResponse) upsert = NULL;
  g_autoptr(SandboxResponse) update = NULL;
  g_autoptr(JsonObject) users = NULL;

  sandbox_fixture_create_users (fixture, "alice", NULL);
  upsert = sandbox_fixture_call (fixture, "POST", "/users", token,
                                 "{\"users\":{\"alice\":{\"id\":\"alice\",\"role\":\"admin\"}}}");
  sandbox_assert_stream_error (upsert, 403, CONFAB_STREAM_ERROR_NOT_ALLOWED);
  update = sandbox_fixture_call (fixture, "PATCH", "/users", token,
                                 "{\"users\":[{\"id\":\"alice\",\"set\":{\"role\":\"admin\"}}]}");
  sandbox_assert_stream_error (update, 403, CONFAB_STREAM_ERROR_NOT_ALLOWED);

  users = sandbox_fixture_call_ok (fixture, "GET",
                                   "/users?payload=%7B%22filter_conditions%22%3A%7B%22id%22%3A%22alice%22%7D%7D",
                                   token, NULL);
  g_assert_cmpstr (sandbox_json_get_string (json_array_get_object_element (
                     json_object_get_array_member (users, "users"), 0), "role"), ==, "user");
}

/* bob names alice's connection in his query: it must not start watching for her. */
static void
test_auth_foreign_connection_id (SandboxFixture *fixture,
                                 gconstpointer   data)
{
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(JsonObject) state = NULL;
  g_autoptr(JsonObject) message = NULL;
  JsonObject *notification;
  guint from;

  seed_room (fixture);
  alice = sandbox_fixture_ws_connect (fixture, "alice");
  from = alice->frames->len;

  state = watch_room (fixture, "bob", alice->connection_id, FALSE);
  g_assert_cmpint (sandbox_json_get_int (state, "watcher_count"), ==, 0);

  message = send_message (fixture, "bob", NULL, "who is watching?");
  notification = sandbox_ws_wait_for_type (alice, "notification.message_new", from);
  g_assert_cmpstr (sandbox_json_get_string (notification, "message.id"), ==,
                   sandbox_json_get_string (message, "id"));
  sandbox_ws_ping (alice);
  g_assert_cmpuint (sandbox_ws_count_type (alice, "message.new", from), ==, 0);
  g_assert_cmpuint (sandbox_ws_count_type (alice, "user.watching.start", from), ==, 0);
}

/* Bad input ------------------------------------------------------------------------ */

static void
test_input_malformed_json (SandboxFixture *fixture,
                           gconstpointer   data)
{
  const char *bodies[] = {
    "{\"message\":", "{message:{}}", "{\"message\":{\"text\":\"a\"}", "{\"a\":1}}", "\x01",
  };

  seed_room (fixture);
  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(SandboxResponse) response = post_as_alice (fixture, ROOM "/message", bodies[i], -1);

      sandbox_assert_stream_error (response, 400, CONFAB_STREAM_ERROR_INPUT);
      assert_still_serving (fixture);
    }
}

static void
test_input_not_an_object (SandboxFixture *fixture,
                          gconstpointer   data)
{
  const char *bodies[] = { "[]", "[{\"message\":{\"text\":\"a\"}}]", "\"x\"", "5", "null", "true" };

  seed_room (fixture);
  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(SandboxResponse) message = post_as_alice (fixture, ROOM "/message", bodies[i], -1);
      g_autoptr(SandboxResponse) query = post_as_alice (fixture, ROOM "/query", bodies[i], -1);

      sandbox_assert_stream_error (message, 400, CONFAB_STREAM_ERROR_INPUT);
      sandbox_assert_stream_error (query, 400, CONFAB_STREAM_ERROR_INPUT);
      assert_still_serving (fixture);
    }
}

static void
test_input_wrong_types (SandboxFixture *fixture,
                        gconstpointer   data)
{
  const struct { const char *path, *body; } cases[] = {
    { ROOM "/message", "{\"message\":{\"text\":5}}" },
    { ROOM "/message", "{\"message\":\"x\"}" },
    { ROOM "/message", "{\"message\":{\"id\":[\"a\"],\"text\":\"x\"}}" },
    { ROOM "/query", "{\"watch\":\"yes\"}" },
    { ROOM "/query", "{\"messages\":{\"limit\":\"ten\"}}" },
    { ROOM "/event", "{\"event\":{\"type\":7}}" },
    { "/channels", "{\"filter_conditions\":[]}" },
  };

  seed_room (fixture);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(SandboxResponse) response = post_as_alice (fixture, cases[i].path, cases[i].body, -1);

      sandbox_assert_stream_error (response, 400, CONFAB_STREAM_ERROR_INPUT);
      assert_still_serving (fixture);
    }
}

static void
test_input_missing_field (SandboxFixture *fixture,
                          gconstpointer   data)
{
  g_autoptr(SandboxResponse) empty = NULL;
  g_autoptr(SandboxResponse) no_body = NULL;
  g_autoptr(SandboxResponse) no_type = NULL;

  seed_room (fixture);
  empty = post_as_alice (fixture, ROOM "/message", "{}", -1);
  sandbox_assert_stream_error (empty, 400, CONFAB_STREAM_ERROR_INPUT);
  g_assert_nonnull (strstr (sandbox_json_get_string (empty->body, "message"), "message"));
  no_body = post_as_alice (fixture, ROOM "/message", NULL, 0);
  sandbox_assert_stream_error (no_body, 400, CONFAB_STREAM_ERROR_INPUT);
  no_type = post_as_alice (fixture, ROOM "/event", "{\"event\":{}}", -1);
  sandbox_assert_stream_error (no_type, 400, CONFAB_STREAM_ERROR_INPUT);
  assert_still_serving (fixture);
}

static char *
big_body (gsize size)
{
  static const char head[] = "{\"message\":{\"text\":\"";
  static const char tail[] = "\"}}";
  char *body = g_malloc (size + 1);

  memset (body, 'a', size);
  memcpy (body, head, strlen (head));
  memcpy (body + size - strlen (tail), tail, strlen (tail));
  body[size] = '\0';
  return body;
}

static void
test_input_too_large (SandboxFixture *fixture,
                      gconstpointer   data)
{
  g_autofree char *body = big_body (CONFAB_SANDBOX_MAX_BODY_SIZE + 1024);
  g_autoptr(SandboxResponse) response = NULL;

  seed_room (fixture);
  response = post_as_alice (fixture, ROOM "/message", body, -1);
  sandbox_assert_stream_error (response, 413, CONFAB_STREAM_ERROR_PAYLOAD_TOO_BIG);
  assert_still_serving (fixture);
}

/* With Expect: 100-continue the body never comes unless the server asks for it, so a 413
 * here can only have been decided from the Content-Length. (Over a raw socket: libsoup
 * 3.2's own client mishandles an early final response to Expect: 100-continue.) */
static void
test_input_too_large_expect (SandboxFixture *fixture,
                             gconstpointer   data)
{
  g_autofree char *token = NULL;
  g_autofree char *request = NULL;
  g_autoptr(SandboxResponse) response = NULL;

  seed_room (fixture);
  token = sandbox_fixture_user_token (fixture, "alice");
  request = g_strdup_printf ("POST " ROOM "/message?api_key=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Authorization: %s\r\nContent-Type: application/json\r\n"
                             "Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
                             SANDBOX_TEST_API_KEY, token, CONFAB_SANDBOX_MAX_BODY_SIZE + 1);
  response = sandbox_fixture_raw_request (fixture, request);
  sandbox_assert_stream_error (response, 413, CONFAB_STREAM_ERROR_PAYLOAD_TOO_BIG);
  assert_still_serving (fixture);
}

static void
test_input_too_large_chunked (SandboxFixture *fixture,
                              gconstpointer   data)
{
  g_autofree char *token = NULL;
  gsize size = CONFAB_SANDBOX_MAX_BODY_SIZE + 1024;
  char *body = big_body (size);
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_data (body, size, g_free);
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(SandboxResponse) response = NULL;

  seed_room (fixture);
  token = sandbox_fixture_user_token (fixture, "alice");
  msg = sandbox_fixture_new_message (fixture, "POST", ROOM "/message?api_key=" SANDBOX_TEST_API_KEY,
                                     token, NULL, 0);
  soup_message_set_request_body (msg, "application/json", stream, -1);
  response = sandbox_send (fixture->session, msg);
  g_assert_cmpint (soup_message_headers_get_encoding (soup_message_get_request_headers (msg)), ==,
                   SOUP_ENCODING_CHUNKED);
  sandbox_assert_stream_error (response, 413, CONFAB_STREAM_ERROR_PAYLOAD_TOO_BIG);
  assert_still_serving (fixture);
}

static void
test_input_invalid_utf8 (SandboxFixture *fixture,
                         gconstpointer   data)
{
  static const char body[] = "{\"message\":{\"text\":\"caf\xc3\x28 \xff\xfe\"}}";
  g_autoptr(SandboxResponse) response = NULL;

  seed_room (fixture);
  response = post_as_alice (fixture, ROOM "/message", body, sizeof body - 1);
  sandbox_assert_stream_error (response, 400, CONFAB_STREAM_ERROR_INPUT);
  assert_still_serving (fixture);
}

static void
test_input_query_users_payload (SandboxFixture *fixture,
                                gconstpointer   data)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  const char *paths[] = {
    "/users?payload=not-json",
    "/users?payload=%5B%5D",                              /* [] */
    "/users?payload=%7B%22limit%22%3A%22x%22%7D",         /* {"limit":"x"} */
  };
  g_autoptr(JsonObject) ok = NULL;

  seed_room (fixture);
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(SandboxResponse) response = sandbox_fixture_call (fixture, "GET", paths[i], token, NULL);

      sandbox_assert_stream_error (response, 400, CONFAB_STREAM_ERROR_INPUT);
    }
  ok = sandbox_fixture_call_ok (fixture, "GET", "/users?payload=%7B%7D", token, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (ok, "users")), ==, 4);
}

/* WebSocket ------------------------------------------------------------------------ */

static void
test_ws_connect_query (SandboxFixture *fixture,
                       gconstpointer   data)
{
  g_autoptr(SandboxWs) client = NULL;
  JsonObject *hello;

  sandbox_fixture_create_users (fixture, "alice", NULL);
  client = sandbox_fixture_ws_connect (fixture, "alice");
  hello = g_ptr_array_index (client->frames, 0);
  g_assert_cmpstr (sandbox_json_get_string (hello, "type"), ==, "health.check");
  g_assert_true (sandbox_is_uuid (sandbox_json_get_string (hello, "connection_id")));
  g_assert_cmpstr (sandbox_json_get_string (hello, "cid"), ==, "*");
  g_assert_cmpstr (sandbox_json_get_string (hello, "me.id"), ==, "alice");
  g_assert_cmpint (sandbox_json_get_int (hello, "me.total_unread_count"), ==, 0);
  g_assert_cmpint (sandbox_json_get_int (hello, "me.unread_channels"), ==, 0);
  g_assert_cmpint (sandbox_json_get_int (hello, "me.unread_count"), ==, 0);
  g_assert_true (sandbox_json_lookup (hello, "me.privacy_settings.typing_indicators.enabled") != NULL);
  g_assert_nonnull (sandbox_json_get_string (hello, "created_at"));
  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_WEBSOCKET), ==, 1);
}

static void
test_ws_connect_headers (SandboxFixture *fixture,
                         gconstpointer   data)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "bob");
  g_autofree char *json = g_uri_escape_string ("{\"user_id\":\"bob\",\"user_details\":"
                                               "{\"id\":\"bob\",\"name\":\"Bobby\",\"role\":\"admin\"}}",
                                               NULL, FALSE);
  g_autofree char *url = g_strdup_printf ("%s/connect?api_key=%s&json=%s", fixture->ws_url,
                                          SANDBOX_TEST_API_KEY, json);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(SandboxWs) client = NULL;
  JsonObject *hello;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", token);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Stream-Auth-Type", "jwt");
  client = sandbox_ws_start (fixture->session, msg);
  g_assert_true (sandbox_ws_wait_open (client));
  hello = sandbox_ws_wait_for_type (client, "health.check", 0);
  g_assert_true (hello == g_ptr_array_index (client->frames, 0));
  g_assert_true (sandbox_is_uuid (client->connection_id));
  g_assert_cmpstr (sandbox_json_get_string (hello, "me.id"), ==, "bob");
  /* Connecting upserts the user from user_details, except for the role. */
  g_assert_cmpstr (sandbox_json_get_string (hello, "me.name"), ==, "Bobby");
  g_assert_cmpstr (sandbox_json_get_string (hello, "me.role"), ==, "user");
}

/* Connects with @url and asserts exactly one connection.error with @code, then close 1000. */
static void
assert_ws_refused (SandboxFixture *fixture,
                   const char     *url,
                   int             code)
{
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(SandboxWs) client = NULL;
  JsonObject *frame;

  g_assert_nonnull (msg);
  client = sandbox_ws_start (fixture->session, msg);
  g_assert_true (sandbox_ws_wait_open (client));
  sandbox_ws_wait_closed (client);
  g_assert_cmpuint (client->close_code, ==, SOUP_WEBSOCKET_CLOSE_NORMAL);
  g_assert_cmpuint (client->frames->len, ==, 1);
  g_assert_cmpuint (client->n_other, ==, 0);
  frame = g_ptr_array_index (client->frames, 0);
  g_assert_cmpstr (sandbox_json_get_string (frame, "type"), ==, "connection.error");
  g_assert_cmpstr (sandbox_json_get_string (frame, "connection_id"), ==, "");
  g_assert_cmpint (sandbox_json_get_int (frame, "error.code"), ==, code);
  g_assert_cmpint (sandbox_json_get_int (frame, "error.StatusCode"), ==,
                   code == CONFAB_STREAM_ERROR_INPUT ? 400 : 401);
  g_assert_nonnull (sandbox_json_get_string (frame, "error.message"));
  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_WEBSOCKET), ==, 0);
}

static void
test_ws_refused (SandboxFixture *fixture,
                 gconstpointer   data)
{
  g_autofree char *good = sandbox_fixture_user_token (fixture, "alice");
  g_autofree char *forged = confab_sandbox_jwt_user_token ("alice", "another-secret", 0, 0);
  g_autofree char *bad_token_url = sandbox_fixture_connect_url (fixture, "alice", forged, NULL);
  g_autofree char *no_token_url = sandbox_fixture_connect_url (fixture, "alice", NULL, NULL);
  g_autofree char *mismatch_url = sandbox_fixture_connect_url (fixture, "alice", good, "{\"id\":\"bob\"}");
  g_autofree char *escaped = g_uri_escape_string (good, NULL, FALSE);
  g_autofree char *no_details_url = g_strdup_printf ("%s/connect?json=%%7B%%22user_id%%22%%3A%%22alice%%22%%7D"
                                                     "&api_key=%s&authorization=%s&stream-auth-type=jwt",
                                                     fixture->ws_url, SANDBOX_TEST_API_KEY, escaped);
  g_autoptr(SandboxWs) still_fine = NULL;

  sandbox_fixture_create_users (fixture, "alice", "bob", NULL);
  assert_ws_refused (fixture, bad_token_url, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);
  assert_ws_refused (fixture, no_token_url, CONFAB_STREAM_ERROR_AUTH);
  assert_ws_refused (fixture, no_details_url, CONFAB_STREAM_ERROR_INPUT);
  assert_ws_refused (fixture, mismatch_url, CONFAB_STREAM_ERROR_AUTH);

  still_fine = sandbox_fixture_ws_connect (fixture, "alice");
}

static void
test_ws_ping (SandboxFixture *fixture,
              gconstpointer   data)
{
  g_autoptr(SandboxWs) client = NULL;
  JsonObject *reply;

  sandbox_fixture_create_users (fixture, "alice", NULL);
  client = sandbox_fixture_ws_connect (fixture, "alice");
  reply = sandbox_ws_ping (client);
  g_assert_cmpstr (sandbox_json_get_string (reply, "connection_id"), ==, client->connection_id);
  g_assert_cmpstr (sandbox_json_get_string (reply, "cid"), ==, "*");
  g_assert_cmpuint (client->frames->len, ==, 2);

  /* A bare object is answered too. */
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"health.check\"}");
  reply = sandbox_ws_wait_for_type (client, "health.check", 2);
  g_assert_cmpstr (sandbox_json_get_string (reply, "connection_id"), ==, client->connection_id);
}

static void
test_ws_ignored_frames (SandboxFixture *fixture,
                        gconstpointer   data)
{
  static const guint8 binary[] = { 0x00, 0xff, 0x7b, 0x7d };
  const char *texts[] = {
    "garbage", "{\"type\":", "{\"type\":\"unknown\"}", "[]", "[1,2]", "{}", "null",
    "[{\"type\":\"message.new\",\"text\":\"x\"}]",
  };
  g_autoptr(SandboxWs) client = NULL;
  JsonObject *reply;

  sandbox_fixture_create_users (fixture, "alice", NULL);
  client = sandbox_fixture_ws_connect (fixture, "alice");
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    soup_websocket_connection_send_text (client->ws, texts[i]);
  soup_websocket_connection_send_binary (client->ws, binary, sizeof binary);

  reply = sandbox_ws_ping (client);
  g_assert_cmpstr (sandbox_json_get_string (reply, "connection_id"), ==, client->connection_id);
  /* Nothing but the hello and the ping reply came back. */
  g_assert_cmpuint (client->frames->len, ==, 2);
  g_assert_cmpuint (client->n_other, ==, 0);
  g_assert_false (client->closed);
}

static void
test_ws_frame_too_big (SandboxFixture *fixture,
                       gconstpointer   data)
{
  g_autoptr(SandboxWs) victim = NULL;
  g_autoptr(SandboxWs) bystander = NULL;
  g_autoptr(GString) big_ping = g_string_new ("[{\"type\":\"health.check\",\"client_id\":\"");
  g_autofree char *huge = g_malloc (CONFAB_SANDBOX_MAX_FRAME_SIZE + 17);
  JsonObject *reply;
  guint from;

  sandbox_fixture_create_users (fixture, "alice", "bob", NULL);
  victim = sandbox_fixture_ws_connect (fixture, "alice");
  bystander = sandbox_fixture_ws_connect (fixture, "bob");

  /* Far above libsoup's default 128 KiB limit but under the sandbox's: still served. */
  from = victim->frames->len;
  while (big_ping->len < CONFAB_SANDBOX_MAX_FRAME_SIZE / 2)
    g_string_append (big_ping, "0123456789abcdef");
  g_string_append (big_ping, "\"}]");
  soup_websocket_connection_send_text (victim->ws, big_ping->str);
  reply = sandbox_ws_wait_for_type (victim, "health.check", from);
  g_assert_cmpstr (sandbox_json_get_string (reply, "connection_id"), ==, victim->connection_id);

  memset (huge, 'a', CONFAB_SANDBOX_MAX_FRAME_SIZE + 16);
  huge[CONFAB_SANDBOX_MAX_FRAME_SIZE + 16] = '\0';
  soup_websocket_connection_send_text (victim->ws, huge);
  sandbox_ws_wait_closed (victim);
  SANDBOX_WAIT_UNTIL (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_WEBSOCKET) == 1, SANDBOX_TEST_DEADLINE_MS);
  /* libsoup 3.2 queues its 1009 close frame but shuts the stream at once, so the client
   * usually sees an abnormal close: either way the frame was refused. */
  g_assert_true (victim->close_code == SOUP_WEBSOCKET_CLOSE_TOO_BIG ||
                 victim->close_code == 0 || victim->close_code == SOUP_WEBSOCKET_CLOSE_ABNORMAL);

  sandbox_ws_ping (bystander);
  g_assert_false (bystander->closed);
}

static void
test_ws_disabled (SandboxFixture *fixture,
                  gconstpointer   data)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  g_autofree char *url = sandbox_fixture_connect_url (fixture, "alice", token, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree char *http_url = NULL;
  g_autoptr(SoupMessage) plain = NULL;
  g_autoptr(SandboxResponse) refused = NULL;
  g_autoptr(SandboxWs) client = NULL;
  g_autoptr(JsonObject) app = NULL;

  sandbox_fixture_create_users (fixture, "alice", NULL);
  client = sandbox_ws_start (fixture->session, msg);
  g_assert_false (sandbox_ws_wait_open (client));
  g_assert_nonnull (client->connect_error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, SOUP_STATUS_FORBIDDEN);
  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_WEBSOCKET), ==, 0);

  /* The same URL as a plain GET shows the Stream error the upgrade got. */
  http_url = g_strconcat ("http", url + strlen ("ws"), NULL);
  plain = soup_message_new ("GET", http_url);
  g_assert_nonnull (plain);
  refused = sandbox_send (fixture->session, plain);
  sandbox_assert_stream_error (refused, 403, CONFAB_STREAM_ERROR_NOT_ALLOWED);

  app = sandbox_fixture_call_ok (fixture, "GET", "/app", token, NULL);
}

/* Fan-out -------------------------------------------------------------------------- */

static void
test_fanout_message_new (SandboxFixture *fixture,
                         gconstpointer   data)
{
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(SandboxWs) bob = NULL;
  g_autoptr(SandboxWs) carol = NULL;
  g_autoptr(SandboxWs) dave = NULL;
  g_autoptr(JsonObject) state_a = NULL;
  g_autoptr(JsonObject) state_b = NULL;
  g_autoptr(JsonObject) message = NULL;
  JsonObject *at_alice;
  JsonObject *at_bob;
  JsonObject *at_carol;
  const char *id;
  guint from_a, from_b, from_c, from_d;

  seed_room (fixture);
  alice = sandbox_fixture_ws_connect (fixture, "alice");
  bob = sandbox_fixture_ws_connect (fixture, "bob");
  carol = sandbox_fixture_ws_connect (fixture, "carol");
  dave = sandbox_fixture_ws_connect (fixture, "dave");
  state_a = watch_room (fixture, "alice", alice->connection_id, FALSE);
  state_b = watch_room (fixture, "bob", bob->connection_id, FALSE);
  g_assert_cmpint (sandbox_json_get_int (state_b, "watcher_count"), ==, 2);

  from_a = alice->frames->len;
  from_b = bob->frames->len;
  from_c = carol->frames->len;
  from_d = dave->frames->len;
  message = send_message (fixture, "alice", NULL, "hello room");
  id = sandbox_json_get_string (message, "id");

  at_bob = sandbox_ws_wait_for_type (bob, "message.new", from_b);
  g_assert_cmpstr (sandbox_json_get_string (at_bob, "message_id"), ==, id);
  g_assert_cmpstr (sandbox_json_get_string (at_bob, "message.id"), ==, id);
  g_assert_cmpstr (sandbox_json_get_string (at_bob, "message.text"), ==, "hello room");
  g_assert_cmpstr (sandbox_json_get_string (at_bob, "message.user.id"), ==, "alice");
  g_assert_cmpstr (sandbox_json_get_string (at_bob, "cid"), ==, ROOM_CID);
  g_assert_cmpstr (sandbox_json_get_string (at_bob, "user.id"), ==, "alice");
  g_assert_cmpint (sandbox_json_get_int (at_bob, "unread_count"), ==, 1);
  g_assert_cmpint (sandbox_json_get_int (at_bob, "total_unread_count"), ==, 1);
  g_assert_cmpint (sandbox_json_get_int (at_bob, "watcher_count"), ==, 2);

  at_alice = sandbox_ws_wait_for_type (alice, "message.new", from_a);
  g_assert_cmpstr (sandbox_json_get_string (at_alice, "message.id"), ==, id);
  g_assert_cmpint (sandbox_json_get_int (at_alice, "unread_count"), ==, 0);

  at_carol = sandbox_ws_wait_for_type (carol, "notification.message_new", from_c);
  g_assert_cmpstr (sandbox_json_get_string (at_carol, "message.id"), ==, id);
  g_assert_cmpstr (sandbox_json_get_string (at_carol, "channel.cid"), ==, ROOM_CID);
  g_assert_cmpint (sandbox_json_get_int (at_carol, "unread_count"), ==, 1);

  /* Sentinels: whatever else was sent to these sockets has arrived before the replies. */
  sandbox_ws_ping (carol);
  sandbox_ws_ping (dave);
  sandbox_ws_ping (bob);
  g_assert_cmpuint (sandbox_ws_count_type (carol, "message.new", from_c), ==, 0);
  g_assert_cmpuint (sandbox_ws_count_type (carol, "notification.message_new", from_c), ==, 1);
  g_assert_cmpuint (sandbox_ws_count_type (bob, "message.new", from_b), ==, 1);
  g_assert_cmpuint (sandbox_ws_count_type (bob, "notification.message_new", from_b), ==, 0);
  g_assert_cmpuint (dave->frames->len - from_d, ==, 1);   /* the ping reply alone */
}

static void
test_fanout_typing (SandboxFixture *fixture,
                    gconstpointer   data)
{
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(SandboxWs) bob = NULL;
  g_autoptr(JsonObject) state_a = NULL;
  g_autoptr(JsonObject) state_b = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autofree char *token = NULL;
  JsonObject *typing;
  guint from_b;

  seed_room (fixture);
  alice = sandbox_fixture_ws_connect (fixture, "alice");
  bob = sandbox_fixture_ws_connect (fixture, "bob");
  state_a = watch_room (fixture, "alice", alice->connection_id, FALSE);
  state_b = watch_room (fixture, "bob", bob->connection_id, FALSE);

  from_b = bob->frames->len;
  token = sandbox_fixture_user_token (fixture, "alice");
  result = sandbox_fixture_call_ok (fixture, "POST", ROOM "/event", token,
                                    "{\"event\":{\"type\":\"typing.start\",\"parent_id\":\"p1\"}}");
  g_assert_cmpstr (sandbox_json_get_string (result, "event.type"), ==, "typing.start");
  g_assert_cmpstr (sandbox_json_get_string (result, "event.user.id"), ==, "alice");

  typing = sandbox_ws_wait_for_type (bob, "typing.start", from_b);
  g_assert_cmpstr (sandbox_json_get_string (typing, "cid"), ==, ROOM_CID);
  g_assert_cmpstr (sandbox_json_get_string (typing, "channel_id"), ==, "room");
  g_assert_cmpstr (sandbox_json_get_string (typing, "channel_type"), ==, "messaging");
  g_assert_cmpstr (sandbox_json_get_string (typing, "user.id"), ==, "alice");
  g_assert_cmpstr (sandbox_json_get_string (typing, "parent_id"), ==, "p1");
}

static void
test_fanout_mark_read (SandboxFixture *fixture,
                       gconstpointer   data)
{
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(SandboxWs) bob = NULL;
  g_autoptr(JsonObject) state_a = NULL;
  g_autoptr(JsonObject) state_b = NULL;
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autofree char *token = NULL;
  JsonObject *read_at_alice;
  JsonObject *read_at_bob;
  JsonObject *notification;
  guint from_a, from_b;

  seed_room (fixture);
  alice = sandbox_fixture_ws_connect (fixture, "alice");
  bob = sandbox_fixture_ws_connect (fixture, "bob");
  state_a = watch_room (fixture, "alice", alice->connection_id, FALSE);
  state_b = watch_room (fixture, "bob", bob->connection_id, FALSE);
  message = send_message (fixture, "alice", NULL, "read me");
  sandbox_ws_wait_for_type (bob, "message.new", 0);

  from_a = alice->frames->len;
  from_b = bob->frames->len;
  token = sandbox_fixture_user_token (fixture, "bob");
  result = sandbox_fixture_call_ok (fixture, "POST", ROOM "/read", token, "{}");
  g_assert_cmpstr (sandbox_json_get_string (result, "event.type"), ==, "message.read");

  read_at_alice = sandbox_ws_wait_for_type (alice, "message.read", from_a);
  g_assert_cmpstr (sandbox_json_get_string (read_at_alice, "user.id"), ==, "bob");
  g_assert_cmpstr (sandbox_json_get_string (read_at_alice, "cid"), ==, ROOM_CID);
  g_assert_cmpstr (sandbox_json_get_string (read_at_alice, "last_read_message_id"), ==,
                   sandbox_json_get_string (message, "id"));
  read_at_bob = sandbox_ws_wait_for_type (bob, "message.read", from_b);
  g_assert_cmpstr (sandbox_json_get_string (read_at_bob, "user.id"), ==, "bob");

  notification = sandbox_ws_wait_for_type (bob, "notification.mark_read", from_b);
  g_assert_cmpstr (sandbox_json_get_string (notification, "cid"), ==, ROOM_CID);
  g_assert_cmpint (sandbox_json_get_int (notification, "unread_count"), ==, 0);
  g_assert_cmpint (sandbox_json_get_int (notification, "total_unread_count"), ==, 0);
  g_assert_cmpint (sandbox_json_get_int (notification, "unread_channels"), ==, 0);

  /* The notification is the reader's own. */
  sandbox_ws_ping (alice);
  g_assert_cmpuint (sandbox_ws_count_type (alice, "notification.mark_read", from_a), ==, 0);
}

static guint
count_presence (SandboxWs  *client,
                const char *user_id,
                gboolean    online,
                guint       from)
{
  guint n = 0;

  for (guint i = from; i < client->frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (client->frames, i);
      JsonNode *node = sandbox_json_lookup (frame, "user.online");

      if (g_strcmp0 (sandbox_json_get_string (frame, "type"), "user.presence.changed") == 0 &&
          g_strcmp0 (sandbox_json_get_string (frame, "user.id"), user_id) == 0 &&
          node != NULL && json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
          json_node_get_boolean (node) == online)
        n++;
    }
  return n;
}

static void
test_fanout_presence (SandboxFixture *fixture,
                      gconstpointer   data)
{
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(SandboxWs) bob1 = NULL;
  g_autoptr(SandboxWs) bob2 = NULL;
  g_autoptr(JsonObject) state = NULL;
  guint from;

  seed_room (fixture);
  alice = sandbox_fixture_ws_connect (fixture, "alice");
  state = watch_room (fixture, "alice", alice->connection_id, TRUE);
  from = alice->frames->len;

  /* bob's first socket: online. */
  bob1 = sandbox_fixture_ws_connect (fixture, "bob");
  SANDBOX_WAIT_UNTIL (count_presence (alice, "bob", TRUE, from) == 1, SANDBOX_TEST_DEADLINE_MS);

  /* A second socket and closing one of two change nothing. */
  bob2 = sandbox_fixture_ws_connect (fixture, "bob");
  sandbox_ws_close (bob1);
  SANDBOX_WAIT_UNTIL (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_WEBSOCKET) == 2, SANDBOX_TEST_DEADLINE_MS);
  sandbox_ws_ping (alice);
  g_assert_cmpuint (sandbox_ws_count_type (alice, "user.presence.changed", from), ==, 1);

  /* The last one: offline. */
  sandbox_ws_close (bob2);
  SANDBOX_WAIT_UNTIL (count_presence (alice, "bob", FALSE, from) == 1, SANDBOX_TEST_DEADLINE_MS);
  sandbox_ws_ping (alice);
  g_assert_cmpuint (sandbox_ws_count_type (alice, "user.presence.changed", from), ==, 2);
  g_assert_cmpuint (count_presence (alice, "bob", TRUE, from), ==, 1);
}

static void
test_fanout_watching (SandboxFixture *fixture,
                      gconstpointer   data)
{
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(SandboxWs) bob = NULL;
  g_autoptr(JsonObject) state_a = NULL;
  g_autoptr(JsonObject) state_b = NULL;
  g_autoptr(JsonObject) stopped = NULL;
  g_autoptr(JsonObject) message = NULL;
  g_autofree char *token = NULL;
  g_autofree char *path = NULL;
  JsonObject *event;
  guint from_a, from_b;

  seed_room (fixture);
  alice = sandbox_fixture_ws_connect (fixture, "alice");
  bob = sandbox_fixture_ws_connect (fixture, "bob");
  state_a = watch_room (fixture, "alice", alice->connection_id, FALSE);

  from_a = alice->frames->len;
  state_b = watch_room (fixture, "bob", bob->connection_id, FALSE);
  event = sandbox_ws_wait_for_type (alice, "user.watching.start", from_a);
  g_assert_cmpstr (sandbox_json_get_string (event, "user.id"), ==, "bob");
  g_assert_cmpstr (sandbox_json_get_string (event, "cid"), ==, ROOM_CID);
  g_assert_cmpint (sandbox_json_get_int (event, "watcher_count"), ==, 2);

  /* Watching twice on one connection announces nothing new. */
  g_clear_pointer (&state_b, json_object_unref);
  state_b = watch_room (fixture, "bob", bob->connection_id, FALSE);
  sandbox_ws_ping (alice);
  g_assert_cmpuint (sandbox_ws_count_type (alice, "user.watching.start", from_a), ==, 1);

  from_a = alice->frames->len;
  token = sandbox_fixture_user_token (fixture, "bob");
  path = g_strdup_printf (ROOM "/stop-watching?connection_id=%s", bob->connection_id);
  stopped = sandbox_fixture_call_ok (fixture, "POST", path, token, "{}");
  event = sandbox_ws_wait_for_type (alice, "user.watching.stop", from_a);
  g_assert_cmpstr (sandbox_json_get_string (event, "user.id"), ==, "bob");
  g_assert_cmpint (sandbox_json_get_int (event, "watcher_count"), ==, 1);

  /* bob is still a member, so he hears of messages as a notification only. */
  from_b = bob->frames->len;
  message = send_message (fixture, "alice", NULL, "are you there?");
  event = sandbox_ws_wait_for_type (bob, "notification.message_new", from_b);
  g_assert_cmpstr (sandbox_json_get_string (event, "message.id"), ==, sandbox_json_get_string (message, "id"));
  sandbox_ws_ping (bob);
  g_assert_cmpuint (sandbox_ws_count_type (bob, "message.new", from_b), ==, 0);
}

/* Long-poll ------------------------------------------------------------------------ */

static SoupMessage *
longpoll_message (SandboxFixture *fixture,
                  const char     *user_id,
                  const char     *connection_id,
                  const char     *extra)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, user_id);
  g_autofree char *path = NULL;

  if (connection_id == NULL)
    {
      g_autofree char *json = g_strdup_printf ("{\"user_id\":\"%s\",\"user_details\":{\"id\":\"%s\"}}",
                                               user_id, user_id);
      g_autofree char *escaped = g_uri_escape_string (json, NULL, FALSE);

      path = g_strdup_printf ("/longpoll?api_key=%s&json=%s", SANDBOX_TEST_API_KEY, escaped);
    }
  else
    path = g_strdup_printf ("/longpoll?api_key=%s&connection_id=%s%s", SANDBOX_TEST_API_KEY,
                            connection_id, extra != NULL ? extra : "");
  return sandbox_fixture_new_message (fixture, "GET", path, token, NULL, 0);
}

/* Opens a long-poll connection for @user_id; returns its connection_id. */
static char *
longpoll_connect (SandboxFixture *fixture,
                  const char     *user_id)
{
  g_autoptr(SoupMessage) msg = longpoll_message (fixture, user_id, NULL, NULL);
  g_autoptr(SandboxResponse) response = sandbox_send (fixture->session, msg);
  const char *connection_id;

  g_assert_no_error (response->error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_nonnull (response->body);
  g_assert_cmpstr (sandbox_json_get_string (response->body, "event.type"), ==, "health.check");
  g_assert_cmpstr (sandbox_json_get_string (response->body, "event.me.id"), ==, user_id);
  g_assert_cmpstr (sandbox_json_get_string (response->body, "event.cid"), ==, "*");
  g_assert_nonnull (sandbox_json_get_string (response->body, "duration"));
  connection_id = sandbox_json_get_string (response->body, "event.connection_id");
  g_assert_true (sandbox_is_uuid (connection_id));
  return g_strdup (connection_id);
}

static JsonArray *
events_of (SandboxResponse *response)
{
  JsonNode *node;

  g_assert_no_error (response->error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_nonnull (response->body);
  node = json_object_get_member (response->body, "events");
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  return json_node_get_array (node);
}

static void
on_request_read (SoupServer        *soup,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  guint *n_polls = user_data;

  if (g_str_equal (g_uri_get_path (soup_server_message_get_uri (msg)), "/longpoll"))
    (*n_polls)++;
}

static void
test_longpoll_connect (SandboxFixture *fixture,
                       gconstpointer   data)
{
  g_autofree char *connection_id = NULL;
  g_autoptr(SoupMessage) no_token = NULL;
  g_autoptr(SandboxResponse) refused = NULL;
  g_autoptr(JsonObject) stats = NULL;

  sandbox_fixture_create_users (fixture, "carol", NULL);
  connection_id = longpoll_connect (fixture, "carol");
  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_LONGPOLL), ==, 1);
  stats = sandbox_fixture_call_ok (fixture, "GET", "/sandbox/stats", NULL, NULL);
  g_assert_cmpint (sandbox_json_get_int (stats, "longpoll"), ==, 1);

  no_token = longpoll_message (fixture, "carol", NULL, NULL);
  soup_message_headers_remove (soup_message_get_request_headers (no_token), "Authorization");
  refused = sandbox_send (fixture->session, no_token);
  sandbox_assert_stream_error (refused, 401, CONFAB_STREAM_ERROR_AUTH);
}

static void
test_longpoll_held (SandboxFixture *fixture,
                    gconstpointer   data)
{
  g_autofree char *connection_id = NULL;
  g_autoptr(SoupMessage) first = NULL;
  g_autoptr(SoupMessage) second = NULL;
  g_autoptr(SandboxResponse) first_response = NULL;
  g_autoptr(SandboxResponse) second_response = NULL;
  g_autoptr(JsonObject) state = NULL;
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) hi = NULL;
  SandboxRequest *pending;
  JsonArray *events;
  JsonObject *event;
  guint n_polls = 0;
  gulong handler;

  seed_room (fixture);
  connection_id = longpoll_connect (fixture, "carol");
  state = watch_room (fixture, "carol", connection_id, FALSE);

  /* Queued meanwhile (carol's own user.watching.start): answered at once. */
  first = longpoll_message (fixture, "carol", connection_id, NULL);
  first_response = sandbox_send (fixture->session, first);
  events = events_of (first_response);
  g_assert_cmpuint (json_array_get_length (events), ==, 1);
  g_assert_cmpstr (sandbox_json_get_string (json_array_get_object_element (events, 0), "type"), ==,
                   "user.watching.start");

  /* Nothing queued: held. */
  handler = g_signal_connect (fixture->server->soup, "request-read", G_CALLBACK (on_request_read), &n_polls);
  second = longpoll_message (fixture, "carol", connection_id, NULL);
  pending = sandbox_send_start (fixture->session, second);
  SANDBOX_WAIT_UNTIL (n_polls == 1, SANDBOX_TEST_DEADLINE_MS);
  g_signal_handler_disconnect (fixture->server->soup, handler);
  /* A full round trip after the server read the poll: its handler has run by now. */
  hi = sandbox_fixture_call_ok (fixture, "GET", "/hi", NULL, NULL);
  g_assert_false (sandbox_request_is_done (pending));

  message = send_message (fixture, "alice", NULL, "for the poller");
  second_response = sandbox_request_finish (pending);
  events = events_of (second_response);
  g_assert_cmpuint (json_array_get_length (events), >=, 1);
  event = json_array_get_object_element (events, 0);
  g_assert_cmpstr (sandbox_json_get_string (event, "type"), ==, "message.new");
  g_assert_cmpstr (sandbox_json_get_string (event, "message.id"), ==, sandbox_json_get_string (message, "id"));
  g_assert_cmpstr (sandbox_json_get_string (event, "message.text"), ==, "for the poller");
  g_assert_cmpint (sandbox_json_get_int (event, "unread_count"), ==, 1);
}

static void
test_longpoll_unknown_id (SandboxFixture *fixture,
                          gconstpointer   data)
{
  g_autofree char *unknown = g_uuid_string_random ();
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(SandboxResponse) response = NULL;
  g_autoptr(SandboxWs) ws = NULL;
  g_autoptr(SoupMessage) ws_id_msg = NULL;
  g_autoptr(SandboxResponse) ws_id_response = NULL;

  sandbox_fixture_create_users (fixture, "carol", NULL);
  msg = longpoll_message (fixture, "carol", unknown, NULL);
  response = sandbox_send (fixture->session, msg);
  sandbox_assert_stream_error (response, 400, CONFAB_STREAM_ERROR_CONNECTION_ID_NOT_FOUND);

  /* A WebSocket's connection id is not a long-poll one. */
  ws = sandbox_fixture_ws_connect (fixture, "carol");
  ws_id_msg = longpoll_message (fixture, "carol", ws->connection_id, NULL);
  ws_id_response = sandbox_send (fixture->session, ws_id_msg);
  sandbox_assert_stream_error (ws_id_response, 400, CONFAB_STREAM_ERROR_CONNECTION_ID_NOT_FOUND);
}

static void
test_longpoll_close (SandboxFixture *fixture,
                     gconstpointer   data)
{
  g_autofree char *connection_id = NULL;
  g_autoptr(SoupMessage) close_msg = NULL;
  g_autoptr(SoupMessage) later = NULL;
  g_autoptr(SoupMessage) foreign = NULL;
  g_autoptr(SandboxResponse) closed = NULL;
  g_autoptr(SandboxResponse) later_response = NULL;
  g_autoptr(SandboxResponse) foreign_response = NULL;

  sandbox_fixture_create_users (fixture, "carol", "dave", NULL);
  connection_id = longpoll_connect (fixture, "carol");

  /* Someone else's token cannot poll or close it. */
  foreign = longpoll_message (fixture, "dave", connection_id, "&close=true");
  foreign_response = sandbox_send (fixture->session, foreign);
  sandbox_assert_stream_error (foreign_response, 403, CONFAB_STREAM_ERROR_NOT_ALLOWED);
  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_LONGPOLL), ==, 1);

  close_msg = longpoll_message (fixture, "carol", connection_id, "&close=true");
  closed = sandbox_send (fixture->session, close_msg);
  g_assert_no_error (closed->error);
  g_assert_cmpuint (closed->status, ==, 200);
  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_LONGPOLL), ==, 0);

  later = longpoll_message (fixture, "carol", connection_id, NULL);
  later_response = sandbox_send (fixture->session, later);
  sandbox_assert_stream_error (later_response, 400, CONFAB_STREAM_ERROR_CONNECTION_ID_NOT_FOUND);
}

/* The JS SDK's disconnect sends close=true while its poll loop still has a poll out. */
static void
test_longpoll_close_while_held (SandboxFixture *fixture,
                                gconstpointer   data)
{
  g_autofree char *connection_id = NULL;
  g_autoptr(SoupMessage) held = NULL;
  g_autoptr(SoupMessage) close_msg = NULL;
  g_autoptr(SandboxResponse) closed = NULL;
  g_autoptr(SandboxResponse) answered = NULL;
  SandboxRequest *pending;
  guint n_polls = 0;
  gulong handler;

  sandbox_fixture_create_users (fixture, "carol", NULL);
  connection_id = longpoll_connect (fixture, "carol");

  handler = g_signal_connect (fixture->server->soup, "request-read", G_CALLBACK (on_request_read), &n_polls);
  held = longpoll_message (fixture, "carol", connection_id, NULL);
  pending = sandbox_send_start (fixture->session, held);
  SANDBOX_WAIT_UNTIL (n_polls == 1, SANDBOX_TEST_DEADLINE_MS);
  g_signal_handler_disconnect (fixture->server->soup, handler);

  close_msg = longpoll_message (fixture, "carol", connection_id, "&close=true");
  closed = sandbox_send (fixture->session, close_msg);
  g_assert_no_error (closed->error);
  g_assert_cmpuint (closed->status, ==, 200);

  /* The held poll is answered at once, not after the 20 s hold. */
  answered = sandbox_request_finish (pending);
  g_assert_cmpuint (json_array_get_length (events_of (answered)), ==, 0);
  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_LONGPOLL), ==, 0);
}

static void
test_longpoll_idle (SandboxFixture *fixture,
                    gconstpointer   data)
{
  g_autofree char *connection_id = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(SandboxResponse) response = NULL;
  gint64 started;

  sandbox_fixture_create_users (fixture, "carol", NULL);
  connection_id = longpoll_connect (fixture, "carol");
  msg = longpoll_message (fixture, "carol", connection_id, NULL);
  started = g_get_monotonic_time ();
  response = sandbox_send (fixture->session, msg);
  g_assert_cmpuint (json_array_get_length (events_of (response)), ==, 0);
  /* It was held for the hold time (1 s), not answered at once. */
  g_assert_cmpint (g_get_monotonic_time () - started, >=, G_USEC_PER_SEC / 2);
  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_LONGPOLL), ==, 1);
}

/* A long-poll client that stops polling is cut off once 10000 events are queued for it;
 * the events are pushed through the hub directly, 10000 REST calls would be slow. */
static void
test_longpoll_overflow (SandboxFixture *fixture,
                        gconstpointer   data)
{
  ConfabSandboxHub *hub = confab_sandbox_server_get_hub (fixture->server);
  g_autofree char *connection_id = NULL;
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(JsonObject) state_a = NULL;
  g_autoptr(JsonObject) state_c = NULL;
  g_autoptr(JsonObject) event = json_object_new ();
  g_autoptr(SoupMessage) poll = NULL;
  g_autoptr(SandboxResponse) response = NULL;
  guint from;

  /* In a child: a regression here aborts on a GLib critical, and the rest should still run. */
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }

  seed_room (fixture);
  alice = sandbox_fixture_ws_connect (fixture, "alice");
  state_a = watch_room (fixture, "alice", alice->connection_id, FALSE);
  connection_id = longpoll_connect (fixture, "carol");
  state_c = watch_room (fixture, "carol", connection_id, FALSE);

  json_object_set_string_member (event, "type", "custom.tick");
  json_object_set_string_member (event, "cid", ROOM_CID);
  from = alice->frames->len;
  for (guint i = 0; i < 10001; i++)
    confab_sandbox_hub_send_to_watchers (hub, ROOM_CID, event, NULL, NULL);

  g_assert_cmpuint (hub_count (fixture, CONFAB_SANDBOX_TRANSPORT_LONGPOLL), ==, 0);
  poll = longpoll_message (fixture, "carol", connection_id, NULL);
  response = sandbox_send (fixture->session, poll);
  sandbox_assert_stream_error (response, 400, CONFAB_STREAM_ERROR_CONNECTION_ID_NOT_FOUND);

  /* The WebSocket watcher got every event and is still served. */
  sandbox_ws_ping (alice);
  g_assert_cmpuint (sandbox_ws_count_type (alice, "custom.tick", from), ==, 10001);
  sandbox_ws_close (alice);
}

/* Messages ------------------------------------------------------------------------- */

static void
test_message_duplicate_id (SandboxFixture *fixture,
                           gconstpointer   data)
{
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(SandboxWs) bob = NULL;
  g_autoptr(JsonObject) state_a = NULL;
  g_autoptr(JsonObject) state_b = NULL;
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(SandboxResponse) again = NULL;
  g_autoptr(SandboxResponse) by_bob = NULL;
  g_autoptr(JsonObject) state = NULL;
  const char *id = "0b2ad4a1-6d5e-4c8e-9d7f-1a2b3c4d5e6f";
  g_autofree char *body = g_strdup_printf ("{\"message\":{\"id\":\"%s\",\"text\":\"second\"}}", id);
  g_autofree char *bob_token = NULL;
  guint from_b;

  seed_room (fixture);
  alice = sandbox_fixture_ws_connect (fixture, "alice");
  bob = sandbox_fixture_ws_connect (fixture, "bob");
  state_a = watch_room (fixture, "alice", alice->connection_id, FALSE);
  state_b = watch_room (fixture, "bob", bob->connection_id, FALSE);
  from_b = bob->frames->len;

  first = send_message (fixture, "alice", id, "first");
  g_assert_cmpstr (sandbox_json_get_string (first, "id"), ==, id);

  again = post_as_alice (fixture, ROOM "/message", body, -1);
  sandbox_assert_stream_error (again, 400, CONFAB_STREAM_ERROR_INPUT);
  g_assert_nonnull (strstr (sandbox_json_get_string (again->body, "message"), "already exists"));
  g_assert_nonnull (strstr (sandbox_json_get_string (again->body, "message"), id));

  /* Another author reusing the id is refused the same way. */
  bob_token = sandbox_fixture_user_token (fixture, "bob");
  by_bob = sandbox_fixture_call (fixture, "POST", ROOM "/message", bob_token, body);
  sandbox_assert_stream_error (by_bob, 400, CONFAB_STREAM_ERROR_INPUT);

  sandbox_ws_ping (bob);
  g_assert_cmpuint (count_frames (bob, "message.new", "message.id", id, from_b), ==, 1);
  g_assert_cmpstr (sandbox_json_get_string (sandbox_ws_wait_for_type (bob, "message.new", from_b), "message.text"),
                   ==, "first");

  state = sandbox_fixture_call_ok (fixture, "POST", ROOM "/query", bob_token, "{}");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (state, "messages")), ==, 1);
}

/* Sandbox stats -------------------------------------------------------------------- */

static gboolean
stats_are (SandboxFixture *fixture,
           gint64          websocket,
           gint64          longpoll,
           gint64          online)
{
  g_autoptr(JsonObject) stats = sandbox_fixture_call_ok (fixture, "GET", "/sandbox/stats", NULL, NULL);

  return sandbox_json_get_int (stats, "websocket") == websocket &&
         sandbox_json_get_int (stats, "longpoll") == longpoll &&
         sandbox_json_get_int (stats, "connections") == websocket + longpoll &&
         sandbox_json_get_int (stats, "online_users") == online;
}

static void
test_stats (SandboxFixture *fixture,
            gconstpointer   data)
{
  g_autoptr(SandboxWs) alice = NULL;
  g_autoptr(SandboxWs) alice2 = NULL;
  g_autoptr(SandboxWs) bob = NULL;
  g_autofree char *carol = NULL;
  g_autoptr(SoupMessage) close_msg = NULL;
  g_autoptr(SandboxResponse) closed = NULL;

  sandbox_fixture_create_users (fixture, "alice", "bob", "carol", NULL);
  g_assert_true (stats_are (fixture, 0, 0, 0));

  alice = sandbox_fixture_ws_connect (fixture, "alice");
  alice2 = sandbox_fixture_ws_connect (fixture, "alice");
  bob = sandbox_fixture_ws_connect (fixture, "bob");
  carol = longpoll_connect (fixture, "carol");
  g_assert_true (stats_are (fixture, 3, 1, 3));

  sandbox_ws_close (alice);
  SANDBOX_WAIT_UNTIL (stats_are (fixture, 2, 1, 3), SANDBOX_TEST_DEADLINE_MS);

  sandbox_ws_close (alice2);
  sandbox_ws_close (bob);
  close_msg = longpoll_message (fixture, "carol", carol, "&close=true");
  closed = sandbox_send (fixture->session, close_msg);
  g_assert_cmpuint (closed->status, ==, 200);
  SANDBOX_WAIT_UNTIL (stats_are (fixture, 0, 0, 0), SANDBOX_TEST_DEADLINE_MS);
}

/* Demo ----------------------------------------------------------------------------- */

static void
test_demo_token (SandboxFixture *fixture,
                 gconstpointer   data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autoptr(SandboxResponse) unknown = NULL;
  g_autoptr(SandboxResponse) missing = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(SandboxWs) client = NULL;
  g_autofree char *url = NULL;
  JsonObject *hello;
  const char *token;

  g_assert_true (confab_sandbox_demo_seed (fixture->store, 0, &error));
  g_assert_no_error (error);

  result = sandbox_fixture_call_ok (fixture, "POST", "/sandbox/demo-token", NULL, "{\"user_id\":\"alice\"}");
  g_assert_cmpstr (sandbox_json_get_string (result, "user_id"), ==, "alice");
  g_assert_cmpstr (sandbox_json_get_string (result, "api_key"), ==, SANDBOX_TEST_API_KEY);
  token = sandbox_json_get_string (result, "token");
  g_assert_nonnull (token);

  url = sandbox_fixture_connect_url (fixture, "alice", token, NULL);
  msg = soup_message_new ("GET", url);
  client = sandbox_ws_start (fixture->session, msg);
  g_assert_true (sandbox_ws_wait_open (client));
  hello = sandbox_ws_wait_for_type (client, "health.check", 0);
  g_assert_true (hello == g_ptr_array_index (client->frames, 0));
  g_assert_cmpstr (sandbox_json_get_string (hello, "me.id"), ==, "alice");

  unknown = sandbox_fixture_call (fixture, "POST", "/sandbox/demo-token", NULL, "{\"user_id\":\"mallory\"}");
  sandbox_assert_stream_error (unknown, 404, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  missing = sandbox_fixture_call (fixture, "POST", "/sandbox/demo-token", NULL, "{}");
  sandbox_assert_stream_error (missing, 400, CONFAB_STREAM_ERROR_INPUT);
}

static void
test_demo_disabled (SandboxFixture *fixture,
                    gconstpointer   data)
{
  g_autoptr(SandboxResponse) response = NULL;

  response = sandbox_fixture_call (fixture, "POST", "/sandbox/demo-token", NULL, "{\"user_id\":\"alice\"}");
  sandbox_assert_stream_error (response, 404, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_assert_null (sandbox_json_get_string (response->body, "token"));
}

/* Sync ------------------------------------------------------------------------------ */

static JsonArray *
sync_events (SandboxFixture *fixture,
             gint64          since,
             JsonObject    **out_result)
{
  g_autofree char *token = sandbox_fixture_user_token (fixture, "alice");
  g_autofree char *when = confab_sandbox_format_time (since);
  g_autofree char *body = g_strdup_printf ("{\"channel_cids\":[\"" ROOM_CID "\"],\"last_sync_at\":\"%s\"}", when);

  *out_result = sandbox_fixture_call_ok (fixture, "POST", "/sync", token, body);
  return json_object_get_array_member (*out_result, "events");
}

/* Events come in the order of their own times, so a client paging past the cap of 1 000
 * can go on from the last one: an edit of an older message comes after newer ones. */
static void
test_sync_order (SandboxFixture *fixture,
                 gconstpointer   data)
{
  g_autoptr(JsonObject) a = NULL;
  g_autoptr(JsonObject) b = NULL;
  g_autoptr(JsonObject) edited = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autofree char *token = NULL;
  g_autofree char *path = NULL;
  JsonArray *events;
  gint64 between;

  seed_room (fixture);
  a = send_message (fixture, "alice", NULL, "first");
  between = g_get_real_time ();
  b = send_message (fixture, "alice", NULL, "second");
  token = sandbox_fixture_user_token (fixture, "alice");
  path = g_strdup_printf ("/messages/%s?api_key=" SANDBOX_TEST_API_KEY, sandbox_json_get_string (a, "id"));
  edited = sandbox_fixture_call_ok (fixture, "POST", path, token, "{\"message\":{\"text\":\"first, edited\"}}");

  events = sync_events (fixture, between, &result);
  g_assert_cmpuint (json_array_get_length (events), ==, 2);
  g_assert_cmpstr (sandbox_json_get_string (json_array_get_object_element (events, 0), "type"), ==, "message.new");
  g_assert_cmpstr (sandbox_json_get_string (json_array_get_object_element (events, 0), "message.id"), ==,
                   sandbox_json_get_string (b, "id"));
  g_assert_cmpstr (sandbox_json_get_string (json_array_get_object_element (events, 1), "type"), ==, "message.updated");
  g_assert_cmpstr (sandbox_json_get_string (json_array_get_object_element (events, 1), "message.id"), ==,
                   sandbox_json_get_string (a, "id"));
  g_assert_cmpstr (sandbox_json_get_string (json_array_get_object_element (events, 0), "created_at"), <=,
                   sandbox_json_get_string (json_array_get_object_element (events, 1), "created_at"));
}

/* Stream refuses a last_sync_at older than 30 days (its clients then query channels). */
static void
test_sync_too_old (SandboxFixture *fixture,
                   gconstpointer   data)
{
  g_autofree char *token = NULL;
  g_autofree char *when = NULL;
  g_autofree char *body = NULL;
  g_autoptr(SandboxResponse) response = NULL;
  g_autoptr(JsonObject) result = NULL;
  gint64 day = G_GINT64_CONSTANT (24) * 3600 * G_USEC_PER_SEC;

  seed_room (fixture);
  token = sandbox_fixture_user_token (fixture, "alice");
  when = confab_sandbox_format_time (g_get_real_time () - 31 * day);
  body = g_strdup_printf ("{\"channel_cids\":[\"" ROOM_CID "\"],\"last_sync_at\":\"%s\"}", when);
  response = sandbox_fixture_call (fixture, "POST", "/sync", token, body);
  sandbox_assert_stream_error (response, 400, CONFAB_STREAM_ERROR_INPUT);
  g_assert_nonnull (strstr (sandbox_json_get_string (response->body, "message"), "30 days"));

  /* 29 days is fine. */
  g_assert_nonnull (sync_events (fixture, g_get_real_time () - 29 * day, &result));
}

/* Rate limits (sandbox-only) ------------------------------------------------------------ */

static void
test_rate_limit (SandboxFixture *fixture,
                 gconstpointer   data)
{
  g_autofree char *token = NULL;
  g_autoptr(JsonObject) set = NULL;
  g_autoptr(JsonObject) other = NULL;
  g_autoptr(JsonObject) after = NULL;
  const char *bad[] = {
    "{\"path\":\"channels\"}", "{\"path\":\"/sandbox/stats\"}", "{\"path\":\"/channels\",\"count\":0}",
    "{\"path\":\"/channels\",\"count\":1001}", "{\"path\":\"/channels\",\"retry_after\":\"1\\r\\nX-Evil: 1\"}",
    "{\"path\":\"/channels\",\"reset\":-5}", "{\"count\":1}", "{\"path\":5}",
  };

  seed_room (fixture);
  token = sandbox_fixture_user_token (fixture, "alice");
  set = sandbox_fixture_call_ok (fixture, "POST", "/sandbox/rate-limit", NULL,
                                 "{\"path\":\"/channels\",\"count\":2,\"retry_after\":\"3\",\"reset\":1767225600}");

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(SandboxResponse) limited = sandbox_fixture_call (fixture, "POST", "/channels", token, "{}");

      sandbox_assert_stream_error (limited, 429, CONFAB_STREAM_ERROR_RATE_LIMIT);
      g_assert_cmpstr (soup_message_headers_get_one (limited->headers, "Retry-After"), ==, "3");
      g_assert_cmpstr (soup_message_headers_get_one (limited->headers, "X-RateLimit-Reset"), ==, "1767225600");
      g_assert_cmpstr (soup_message_headers_get_one (limited->headers, "X-RateLimit-Remaining"), ==, "0");
      /* Other paths are not limited meanwhile. */
      if (i == 0)
        other = send_message (fixture, "alice", NULL, "not limited");
    }
  after = sandbox_fixture_call_ok (fixture, "POST", "/channels", token, "{}");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(SandboxResponse) refused = sandbox_fixture_call (fixture, "POST", "/sandbox/rate-limit", NULL, bad[i]);

      g_test_message ("bad rate limit #%u", i);
      sandbox_assert_stream_error (refused, 400, CONFAB_STREAM_ERROR_INPUT);
    }
  assert_still_serving (fixture);
}

static void
test_rate_limit_disabled (SandboxFixture *fixture,
                          gconstpointer   data)
{
  g_autoptr(SandboxResponse) response = NULL;

  response = sandbox_fixture_call (fixture, "POST", "/sandbox/rate-limit", NULL, "{\"path\":\"/channels\"}");
  sandbox_assert_stream_error (response, 404, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
}

/* --------------------------------------------------------------------------------- */

#define ADD(path, func, options) \
  g_test_add ("/sandbox/server/" path, SandboxFixture, (options), setup, func, teardown)

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  ADD ("routing/unknown-route", test_routing_unknown, &default_options);
  ADD ("routing/wrong-method", test_routing_wrong_method, &default_options);
  ADD ("routing/percent-encoded", test_routing_percent_encoded, &default_options);
  ADD ("routing/malformed-escape", test_routing_malformed_escape, &default_options);
  ADD ("routing/single-decoding", test_routing_single_decoding, &default_options);
  ADD ("routing/trailing-slash", test_routing_trailing_slash, &default_options);

  ADD ("auth/api-key", test_auth_api_key, &default_options);
  ADD ("auth/token", test_auth_token, &default_options);
  ADD ("auth/server-only-route", test_auth_server_only, &default_options);
  ADD ("auth/foreign-connection-id", test_auth_foreign_connection_id, &default_options);

  ADD ("input/malformed-json", test_input_malformed_json, &default_options);
  ADD ("input/not-an-object", test_input_not_an_object, &default_options);
  ADD ("input/wrong-types", test_input_wrong_types, &default_options);
  ADD ("input/missing-field", test_input_missing_field, &default_options);
  ADD ("input/too-large", test_input_too_large, &default_options);
  ADD ("input/too-large-expect-continue", test_input_too_large_expect, &default_options);
  ADD ("input/too-large-chunked", test_input_too_large_chunked, &default_options);
  ADD ("input/invalid-utf8", test_input_invalid_utf8, &default_options);
  ADD ("input/query-users-payload", test_input_query_users_payload, &default_options);

  ADD ("ws/connect-query", test_ws_connect_query, &default_options);
  ADD ("ws/connect-headers", test_ws_connect_headers, &default_options);
  ADD ("ws/refused", test_ws_refused, &default_options);
  ADD ("ws/ping", test_ws_ping, &default_options);
  ADD ("ws/ignored-frames", test_ws_ignored_frames, &default_options);
  ADD ("ws/frame-too-big", test_ws_frame_too_big, &default_options);
  ADD ("ws/disabled", test_ws_disabled, &no_websocket_options);

  ADD ("fanout/message-new", test_fanout_message_new, &default_options);
  ADD ("fanout/typing", test_fanout_typing, &default_options);
  ADD ("fanout/mark-read", test_fanout_mark_read, &default_options);
  ADD ("fanout/presence", test_fanout_presence, &default_options);
  ADD ("fanout/watching", test_fanout_watching, &default_options);

  ADD ("longpoll/connect", test_longpoll_connect, &default_options);
  ADD ("longpoll/held", test_longpoll_held, &default_options);
  ADD ("longpoll/unknown-connection-id", test_longpoll_unknown_id, &default_options);
  ADD ("longpoll/close", test_longpoll_close, &default_options);
  ADD ("longpoll/close-while-held", test_longpoll_close_while_held, &default_options);
  ADD ("longpoll/overflow", test_longpoll_overflow, &default_options);
  ADD ("longpoll/idle", test_longpoll_idle, &short_hold_options);

  ADD ("messages/duplicate-id", test_message_duplicate_id, &default_options);
  ADD ("stats/connections", test_stats, &default_options);
  ADD ("demo/token", test_demo_token, &demo_options);
  ADD ("demo/disabled", test_demo_disabled, &default_options);
  ADD ("sync/order", test_sync_order, &default_options);
  ADD ("sync/too-old", test_sync_too_old, &default_options);
  ADD ("demo/rate-limit", test_rate_limit, &demo_options);
  ADD ("demo/rate-limit-disabled", test_rate_limit_disabled, &default_options);

  return g_test_run ();
}
