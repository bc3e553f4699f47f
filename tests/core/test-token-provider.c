/* test-token-provider.c: token providers (static, command, URL), their cache, and JWT claims
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "confab-command-token-provider.h"
#include "confab-error.h"
#include "core-test-util.h"
#include "confab-json-private.h"
#include "confab-jwt-claims.h"
#include "confab-static-token-provider.h"
#include "confab-url-token-provider.h"

#define TEST_SECRET "token-test-secret"
/* A passing wait never comes near this; a sanitizer build is several times slower. */
#define DEADLINE_MS 20000
#define T0 G_GINT64_CONSTANT (1700000000)

/* Waiting -------------------------------------------------------------------------- */

static gboolean
on_wake (gpointer user_data)
{
  guint *id = user_data;

  *id = 0;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until @cond holds; fails the test at the deadline. */
#define WAIT_UNTIL(cond, timeout_ms)                                                  \
  G_STMT_START {                                                                      \
    gint64 wait_deadline_ = g_get_monotonic_time () + (gint64) (timeout_ms) * 1000;   \
    guint wait_wake_ = g_timeout_add ((timeout_ms), on_wake, &wait_wake_);            \
    while (!(cond))                                                                   \
      {                                                                               \
        if (g_get_monotonic_time () >= wait_deadline_)                                \
          g_error ("timed out waiting for: %s", #cond);                               \
        g_main_context_iteration (NULL, TRUE);                                        \
      }                                                                               \
    g_clear_handle_id (&wait_wake_, g_source_remove);                                 \
  } G_STMT_END

static gboolean
keep_iterating (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Tokens --------------------------------------------------------------------------- */

/* A real HS256 JWT; the client never checks the signature, the sandbox does. */
static char *
make_jwt (const char *payload_json)
{
  return core_test_sign_jwt (payload_json, TEST_SECRET);
}

static char *
make_user_jwt (const char *user_id,
               gint64      iat,
               gint64      exp)
{
  g_autoptr(GString) payload = g_string_new (NULL);

  g_string_append_printf (payload, "{\"user_id\":\"%s\"", user_id);
  if (iat != 0)
    g_string_append_printf (payload, ",\"iat\":%" G_GINT64_FORMAT, iat);
  if (exp != 0)
    g_string_append_printf (payload, ",\"exp\":%" G_GINT64_FORMAT, exp);
  g_string_append_c (payload, '}');
  return make_jwt (payload->str);
}

/* Results -------------------------------------------------------------------------- */

typedef struct
{
  gboolean  done;
  char     *token;
  GError   *error;
} TokenResult;

static void
token_result_clear (TokenResult *result)
{
  g_clear_pointer (&result->token, g_free);
  g_clear_error (&result->error);
  result->done = FALSE;
}

static void
on_token (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  TokenResult *out = user_data;

  g_assert_false (out->done);
  out->token = confab_token_provider_get_token_finish (CONFAB_TOKEN_PROVIDER (source), result, &out->error);
  g_assert_true ((out->token == NULL) != (out->error == NULL));
  out->done = TRUE;
}

/* Fetches one token and waits for it. */
static void
get_token (ConfabTokenProvider *provider,
           gboolean             force,
           TokenResult         *out)
{
  token_result_clear (out);
  confab_token_provider_get_token_async (provider, force, NULL, on_token, out);
  WAIT_UNTIL (out->done, DEADLINE_MS);
}

static gint64 fake_now;   /* µs */

static gint64
fake_clock (gpointer user_data)
{
  return fake_now;
}

/* Claims --------------------------------------------------------------------------- */

static void
test_claims_parse (void)
{
  g_autofree char *token = make_user_jwt ("alice", T0, T0 + 3600);
  g_autofree char *fractional = make_jwt ("{\"user_id\":\"bob\",\"exp\":1700000000.75,\"iat\":null}");
  g_autofree char *server = make_jwt ("{\"server\":true}");
  g_autofree char *dev_payload = g_base64_encode ((const guchar *) "{\"user_id\":\"carol\"}", 19);
  g_autofree char *dev = g_strconcat ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", dev_payload, ".devtoken",
                                      NULL);
  g_autoptr(ConfabJwtClaims) claims = NULL;
  g_autoptr(ConfabJwtClaims) copy = NULL;
  g_autoptr(GError) error = NULL;

  claims = confab_jwt_claims_parse (token, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (claims->user_id, ==, "alice");
  g_assert_true (claims->has_exp);
  g_assert_cmpint (claims->exp, ==, T0 + 3600);
  g_assert_true (claims->has_iat);
  g_assert_cmpint (claims->iat, ==, T0);
  copy = confab_jwt_claims_copy (claims);
  g_assert_cmpstr (copy->user_id, ==, "alice");
  g_assert_true (copy->user_id != claims->user_id);
  g_clear_pointer (&claims, confab_jwt_claims_free);

  /* A fractional NumericDate rounds down; a null iat is no iat. */
  claims = confab_jwt_claims_parse (fractional, &error);
  g_assert_no_error (error);
  g_assert_cmpint (claims->exp, ==, T0);
  g_assert_false (claims->has_iat);
  g_clear_pointer (&claims, confab_jwt_claims_free);

  claims = confab_jwt_claims_parse (server, &error);
  g_assert_no_error (error);
  g_assert_null (claims->user_id);
  g_assert_false (claims->has_exp);
  g_clear_pointer (&claims, confab_jwt_claims_free);

  /* Stream's dev token: standard base64 with padding and a literal signature. */
  g_assert_nonnull (strchr (dev_payload, '='));
  claims = confab_jwt_claims_parse (dev, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (claims->user_id, ==, "carol");
}

static void
test_claims_invalid (void)
{
  g_autofree char *exp_string = make_jwt ("{\"user_id\":\"a\",\"exp\":\"soon\"}");
  g_autofree char *exp_huge = make_jwt ("{\"user_id\":\"a\",\"exp\":1e300}");
  g_autofree char *exp_int_huge = make_jwt ("{\"user_id\":\"a\",\"exp\":9223372036854775807}");
  g_autofree char *user_number = make_jwt ("{\"user_id\":42}");
  g_autofree char *array = make_jwt ("[1,2]");
  g_autofree char *not_json = make_jwt ("user_id=alice");
  g_autofree char *good = make_user_jwt ("alice", 0, 0);
  g_autofree char *four_parts = g_strconcat (good, ".x", NULL);
  g_autofree char *bad_signature = g_strconcat (good, " ", NULL);
  g_autofree char *padded_middle = g_strdup (good);
  g_autoptr(GString) deep = g_string_new ("{\"a\":");
  g_autofree char *deep_token = NULL;
  g_autofree char *huge = g_strnfill (10000, 'a');
  const char *cases[] = {
    "", "abc", "a.b", "Error: not logged in", "!!!.!!!.sig",
    "eyJhbGciOiJIUzI1NiJ9..sig", exp_string, exp_huge, exp_int_huge, user_number, array,
    not_json, four_parts, bad_signature, padded_middle, NULL, huge,
  };

  /* Padding in the middle of a part. */
  padded_middle[3] = '=';

  for (guint i = 0; i < 600; i++)
    g_string_append (deep, "[");
  deep_token = make_jwt (deep->str);
  cases[G_N_ELEMENTS (cases) - 2] = deep_token;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ConfabJwtClaims) claims = confab_jwt_claims_parse (cases[i], &error);

      if (claims != NULL)
        g_error ("case %u parsed", i);
      g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_AUTH);
      /* The message never quotes the credential. */
      g_assert_null (strstr (error->message, "not logged"));
    }
}

static void
test_claims_refresh_time (void)
{
  ConfabJwtClaims claims = { 0 };

  /* No exp: never. */
  g_assert_cmpint (confab_jwt_claims_get_refresh_time (&claims, T0), ==, G_MAXINT64);

  /* An hour from iat: 10 % (360 s) before exp. */
  claims.has_exp = TRUE;
  claims.exp = T0 + 3600;
  claims.has_iat = TRUE;
  claims.iat = T0;
  g_assert_cmpint (confab_jwt_claims_get_refresh_time (&claims, T0 + 100), ==, T0 + 3600 - 360);

  /* Five minutes: the 60 s floor wins. */
  claims.exp = T0 + 300;
  g_assert_cmpint (confab_jwt_claims_get_refresh_time (&claims, T0), ==, T0 + 300 - 60);

  /* No iat: the lifetime runs from when it was obtained. */
  claims.has_iat = FALSE;
  claims.exp = T0 + 10000;
  g_assert_cmpint (confab_jwt_claims_get_refresh_time (&claims, T0), ==, T0 + 10000 - 1000);
  g_assert_cmpint (confab_jwt_claims_get_refresh_time (&claims, T0 + 9000), ==, T0 + 10000 - 100);
  g_assert_cmpint (confab_jwt_claims_get_refresh_time (&claims, T0 + 9500), ==, T0 + 10000 - 60);

  /* Already past exp when obtained. */
  g_assert_cmpint (confab_jwt_claims_get_refresh_time (&claims, T0 + 20000), ==, T0 + 10000 - 60);
}

static void
test_json_untrusted (void)
{
  g_autofree char *deep = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) error = NULL;
  gsize n = 200000;

  /* json-glib recurses per level: without the depth check this crashes the process. */
  deep = g_malloc (2 * n + 8);
  memcpy (deep, "{\"a\":", 5);
  memset (deep + 5, '[', n);
  memset (deep + 5 + n, ']', n);
  strcpy (deep + 5 + 2 * n, "}");
  object = _confab_json_parse_untrusted_object (deep, strlen (deep), &error);
  g_assert_null (object);
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* Brackets inside strings do not count. */
  object = _confab_json_parse_untrusted_object ("{\"a\":\"[[[[[[\\\"[[[\"}", 19, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (object, "a"), ==, "[[[[[[\"[[[");
  g_clear_pointer (&object, json_object_unref);

  object = _confab_json_parse_untrusted_object ("\xff\xfe{}", 4, &error);
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL);
  g_clear_error (&error);
  object = _confab_json_parse_untrusted_object ("[1]", 3, &error);
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL);
  g_clear_error (&error);
  object = _confab_json_parse_untrusted_object ("{\"a\":", 5, &error);
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL);
  g_clear_error (&error);
  object = _confab_json_parse_untrusted_object ("", 0, &error);
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL);
}

/* Static --------------------------------------------------------------------------- */

static void
test_static (void)
{
  g_autofree char *jwt = make_user_jwt ("alice", 0, 0);
  g_autoptr(ConfabStaticTokenProvider) provider = confab_static_token_provider_new (jwt);
  TokenResult result = { 0 };

  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_no_error (result.error);
  g_assert_cmpstr (result.token, ==, jwt);

  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_cmpstr (result.token, ==, jwt);

  /* The server said it expired: a fixed token cannot help. */
  get_token (CONFAB_TOKEN_PROVIDER (provider), TRUE, &result);
  g_assert_error (result.error, CONFAB_ERROR, CONFAB_ERROR_AUTH);
  g_assert_nonnull (strstr (result.error->message, "cannot be refreshed"));
  g_assert_null (strstr (result.error->message, jwt));

  token_result_clear (&result);
  g_assert_finalize_object (g_steal_pointer (&provider));
}

static void
test_static_expired_is_still_returned (void)
{
  /* The server decides expiry (clocks differ); a static token is not refreshed early. */
  g_autofree char *jwt = make_user_jwt ("alice", T0 - 3600, T0 - 10);
  g_autoptr(ConfabStaticTokenProvider) provider = confab_static_token_provider_new (jwt);
  TokenResult result = { 0 };

  fake_now = T0 * G_USEC_PER_SEC;
  confab_token_provider_set_clock (CONFAB_TOKEN_PROVIDER (provider), fake_clock, NULL);
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_cmpstr (result.token, ==, jwt);
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_cmpstr (result.token, ==, jwt);
  token_result_clear (&result);
}

static void
test_static_not_a_token (void)
{
  g_autoptr(ConfabStaticTokenProvider) provider = confab_static_token_provider_new ("hunter2");
  TokenResult result = { 0 };

  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_error (result.error, CONFAB_ERROR, CONFAB_ERROR_AUTH);
  g_assert_null (strstr (result.error->message, "hunter2"));
  token_result_clear (&result);
}

/* Command -------------------------------------------------------------------------- */

static ConfabCommandTokenProvider *
shell_provider (const char *script)
{
  const char *argv[] = { "/bin/sh", "-c", script, NULL };

  return confab_command_token_provider_new (argv);
}

static void
test_command_token (void)
{
  g_autofree char *jwt = make_user_jwt ("alice", 0, 0);
  g_autofree char *script = g_strdup_printf ("printf '  %s\\n\\n'", jwt);
  g_autoptr(ConfabCommandTokenProvider) provider = shell_provider (script);
  TokenResult result = { 0 };

  g_assert_cmpuint (confab_command_token_provider_get_timeout_ms (provider), ==, 10000);
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_no_error (result.error);
  g_assert_cmpstr (result.token, ==, jwt);
  token_result_clear (&result);
  g_assert_finalize_object (g_steal_pointer (&provider));
}

static void
test_command_errors (void)
{
  const struct {
    const char *script;
    const char *says;
  } cases[] = {
    { "printf 'SECRET-OUTPUT'; exit 3", "exit status 3" },
    { "printf '   \\n\\t\\n'", "printed nothing" },
    { "true", "printed nothing" },
    { "echo 'Error: not logged in SECRET-OUTPUT'", "not a token" },
    { "printf 'eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiYSJ9.sig\\nSECRET-OUTPUT'", "not a token" },
    { "printf 'SECRET-OUTPUT\\0x'", "not a token" },
    { "head -c 20000 /dev/zero | tr '\\0' a", "too long" },
    { "kill -9 $$", "signal 9" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(ConfabCommandTokenProvider) provider = shell_provider (cases[i].script);
      TokenResult result = { 0 };

      get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
      g_assert_null (result.token);
      g_assert_error (result.error, CONFAB_ERROR, CONFAB_ERROR_AUTH);
      if (strstr (result.error->message, cases[i].says) == NULL)
        g_error ("case %u: “%s” does not say “%s”", i, result.error->message, cases[i].says);
      /* The output may be a secret (or half of one): never in the message. */
      g_assert_null (strstr (result.error->message, "SECRET"));
      token_result_clear (&result);
    }
}

static void
test_command_not_found (void)
{
  const char *argv[] = { "/nonexistent/confab-token-helper", NULL };
  g_autoptr(ConfabCommandTokenProvider) provider = confab_command_token_provider_new (argv);
  TokenResult result = { 0 };

  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_error (result.error, CONFAB_ERROR, CONFAB_ERROR_AUTH);
  token_result_clear (&result);
}

static gboolean
process_is_gone (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *paren;

  if (kill (pid, 0) != 0 && errno == ESRCH)
    return TRUE;
  /* A zombie waiting for a reaper (PID 1 in a container may never reap it) is gone too. */
  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  paren = strrchr (stat, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'Z';
}

static void
test_command_timeout (void)
{
  guint recheck = 0;
  g_autofree char *dir = g_dir_make_tmp ("confab-token-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "pid", NULL);
  g_autofree char *script = g_strdup_printf ("sleep 5 & echo $! > '%s'; wait", pid_file);
  g_autoptr(ConfabCommandTokenProvider) provider = shell_provider (script);
  g_autofree char *pid_text = NULL;
  TokenResult result = { 0 };
  gint64 started;
  gint64 elapsed_ms;
  guint64 pid = 0;

  g_assert_nonnull (dir);
  confab_command_token_provider_set_timeout_ms (provider, 200);

  started = g_get_monotonic_time ();
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  elapsed_ms = (g_get_monotonic_time () - started) / 1000;

  g_assert_error (result.error, CONFAB_ERROR, CONFAB_ERROR_TIMEOUT);
  g_assert_cmpint (elapsed_ms, >=, 200);
  /* Well before the command itself would end (5 s). */
  g_assert_cmpint (elapsed_ms, <, 4000);

  /* The whole process group went, not just the shell: the sleep held the pipe. */
  WAIT_UNTIL (g_file_get_contents (pid_file, &pid_text, NULL, NULL), DEADLINE_MS);
  g_assert_true (g_ascii_string_to_unsigned (g_strstrip (pid_text), 10, 2, G_MAXINT, &pid, NULL));
  /* A process's death wakes no main loop: look again every 10 ms until the deadline. */
  recheck = g_timeout_add (10, keep_iterating, NULL);
  WAIT_UNTIL (process_is_gone ((pid_t) pid), DEADLINE_MS);
  g_clear_handle_id (&recheck, g_source_remove);

  token_result_clear (&result);
  g_unlink (pid_file);
  g_rmdir (dir);
}

static void
test_command_cancel (void)
{
  g_autoptr(ConfabCommandTokenProvider) provider = shell_provider ("sleep 5");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TokenResult result = { 0 };
  gint64 started = g_get_monotonic_time ();

  confab_token_provider_get_token_async (CONFAB_TOKEN_PROVIDER (provider), FALSE, cancellable,
                                         on_token, &result);
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (result.done, DEADLINE_MS);
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint ((g_get_monotonic_time () - started) / 1000, <, 4000);
  token_result_clear (&result);
}

/* URL: an in-process token endpoint ------------------------------------------------ */

typedef struct
{
  SoupServer *server;
  char       *base;        /* http://127.0.0.1:PORT */
  guint       hits;        /* requests to /token and /held */
  guint       fail_status; /* when set, /token answers this status */
  char       *token;       /* what /token and /held answer */
  GPtrArray  *held;        /* SoupServerMessage *, paused until released */
  char       *last_method;
  char       *last_authorization;
  char       *last_body;
} TokenServer;

static void
on_held_finished (SoupServerMessage *msg,
                  gpointer           user_data)
{
  TokenServer *server = user_data;

  g_signal_handlers_disconnect_by_func (msg, on_held_finished, server);
  if (g_ptr_array_remove (server->held, msg))
    g_object_unref (msg);
}

static void
hold (TokenServer       *server,
      SoupServerMessage *msg)
{
  g_ptr_array_add (server->held, g_object_ref (msg));
  g_signal_connect (msg, "finished", G_CALLBACK (on_held_finished), server);
  soup_server_message_pause (msg);
}

static void
respond_token (TokenServer       *server,
               SoupServerMessage *msg)
{
  g_autofree char *body = g_strdup_printf ("{\"token\":\"%s\",\"expires_in\":3600}", server->token);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

/* Answers every held request with the current token. */
static void
release_held (TokenServer *server)
{
  while (server->held->len > 0)
    {
      SoupServerMessage *msg = g_ptr_array_steal_index (server->held, 0);

      g_signal_handlers_disconnect_by_func (msg, on_held_finished, server);
      respond_token (server, msg);
      soup_server_message_unpause (msg);
      g_object_unref (msg);
    }
}

static void
on_token_request (SoupServer        *soup,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  TokenServer *server = user_data;
  SoupMessageBody *request_body = soup_server_message_get_request_body (msg);
  SoupMessageHeaders *request_headers = soup_server_message_get_request_headers (msg);
  const struct {
    const char *path;
    guint       status;
    const char *body;
  } canned[] = {
    { "/html", 200, "<html><body>Sign in to the Wi-Fi</body></html>" },
    { "/no-token", 200, "{\"access_token\":\"x\"}" },
    { "/wrong-type", 200, "{\"token\":42}" },
    { "/not-jwt", 200, "{\"token\":\"hunter2\"}" },
    { "/array", 200, "[\"token\"]" },
    { "/truncated", 200, "{\"token\":\"ey" },
    { "/500", 500, "{\"error\":\"boom\"}" },
    { "/401", 401, "" },
    { "/429", 429, "" },
    { "/404", 404, "not found" },
  };

  g_free (server->last_method);
  server->last_method = g_strdup (soup_server_message_get_method (msg));
  g_free (server->last_authorization);
  server->last_authorization = g_strdup (soup_message_headers_get_one (request_headers, "Authorization"));
  g_free (server->last_body);
  server->last_body = g_strndup (request_body->data, request_body->length);

  if (g_str_equal (path, "/token"))
    {
      server->hits++;
      if (server->fail_status != 0)
        soup_server_message_set_status (msg, server->fail_status, NULL);
      else
        respond_token (server, msg);
      return;
    }
  if (g_str_equal (path, "/held"))
    {
      server->hits++;
      hold (server, msg);
      return;
    }
  if (g_str_equal (path, "/redirect"))
    {
      soup_server_message_set_redirect (msg, SOUP_STATUS_FOUND, "http://example.com/token");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (canned); i++)
    if (g_str_equal (path, canned[i].path))
      {
        soup_server_message_set_status (msg, canned[i].status, NULL);
        soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
                                          canned[i].body, strlen (canned[i].body));
        return;
      }
  soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
}

static void
token_server_init (TokenServer *server)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;
  GUri *uri;

  memset (server, 0, sizeof *server);
  server->held = g_ptr_array_new ();
  server->token = make_user_jwt ("alice", 0, 0);
  server->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server->server, NULL, on_token_request, server, NULL);
  soup_server_listen_local (server->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);

  uris = soup_server_get_uris (server->server);
  uri = uris->data;
  server->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uri));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
token_server_clear (TokenServer *server)
{
  release_held (server);
  soup_server_disconnect (server->server);
  g_assert_finalize_object (g_steal_pointer (&server->server));
  g_ptr_array_unref (server->held);
  g_free (server->base);
  g_free (server->token);
  g_free (server->last_method);
  g_free (server->last_authorization);
  g_free (server->last_body);
}

static void
token_server_set_token (TokenServer *server,
                        char        *token)
{
  g_free (server->token);
  server->token = token;
}

static ConfabUrlTokenProvider *
url_provider (TokenServer *server,
              const char  *path,
              const char  *method)
{
  g_autofree char *url = g_strconcat (server->base, path, NULL);
  g_autoptr(GError) error = NULL;
  ConfabUrlTokenProvider *provider = confab_url_token_provider_new (url, method, &error);

  g_assert_no_error (error);
  return provider;
}

static void
test_url_good (void)
{
  TokenServer server;
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  TokenResult result = { 0 };

  token_server_init (&server);
  provider = url_provider (&server, "/token", NULL);

  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_no_error (result.error);
  g_assert_cmpstr (result.token, ==, server.token);
  g_assert_cmpstr (server.last_method, ==, "GET");
  g_assert_null (server.last_authorization);
  g_assert_cmpuint (server.hits, ==, 1);

  /* No exp: cached for good. */
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_cmpstr (result.token, ==, server.token);
  g_assert_cmpuint (server.hits, ==, 1);

  token_result_clear (&result);
  g_assert_finalize_object (g_steal_pointer (&provider));
  token_server_clear (&server);
}

static void
test_url_post (void)
{
  TokenServer server;
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  TokenResult result = { 0 };

  token_server_init (&server);
  url = g_strconcat (server.base, "/token", NULL);
  provider = g_initable_new (CONFAB_TYPE_URL_TOKEN_PROVIDER, NULL, &error,
                             "url", url,
                             "method", "post",
                             "request-body", "{\"user_id\":\"alice\"}",
                             "authorization", "Session abc",
                             NULL);
  g_assert_no_error (error);

  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_no_error (result.error);
  g_assert_cmpstr (result.token, ==, server.token);
  g_assert_cmpstr (server.last_method, ==, "POST");
  g_assert_cmpstr (server.last_authorization, ==, "Session abc");
  g_assert_cmpstr (server.last_body, ==, "{\"user_id\":\"alice\"}");

  /* A new credential means a new token. */
  confab_url_token_provider_set_authorization (provider, "Session def");
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_cmpuint (server.hits, ==, 2);
  g_assert_cmpstr (server.last_authorization, ==, "Session def");

  token_result_clear (&result);
  g_assert_finalize_object (g_steal_pointer (&provider));
  token_server_clear (&server);
}

static void
test_url_bad_answers (void)
{
  TokenServer server;
  const struct {
    const char *path;
    GQuark      domain;
    int         code;
  } cases[] = {
    { "/html", CONFAB_ERROR, CONFAB_ERROR_PROTOCOL },
    { "/no-token", CONFAB_ERROR, CONFAB_ERROR_PROTOCOL },
    { "/wrong-type", CONFAB_ERROR, CONFAB_ERROR_PROTOCOL },
    { "/array", CONFAB_ERROR, CONFAB_ERROR_PROTOCOL },
    { "/truncated", CONFAB_ERROR, CONFAB_ERROR_PROTOCOL },
    { "/not-jwt", CONFAB_ERROR, CONFAB_ERROR_AUTH },
    { "/500", CONFAB_ERROR, CONFAB_ERROR_SERVER },
    { "/401", CONFAB_ERROR, CONFAB_ERROR_AUTH },
    { "/429", CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED },
    { "/404", CONFAB_ERROR, CONFAB_ERROR_REJECTED },
    /* Not followed, so never to http://example.com. */
    { "/redirect", CONFAB_ERROR, CONFAB_ERROR_REJECTED },
  };

  token_server_init (&server);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(ConfabUrlTokenProvider) provider = url_provider (&server, cases[i].path, NULL);
      TokenResult result = { 0 };

      get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
      if (!g_error_matches (result.error, cases[i].domain, cases[i].code))
        g_error ("%s: got %s", cases[i].path, result.error != NULL ? result.error->message : "a token");
      g_assert_null (strstr (result.error->message, "hunter2"));
      token_result_clear (&result);
    }
  token_server_clear (&server);
}

static void
test_url_refused (void)
{
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  TokenResult result = { 0 };

  /* A port that was free a moment ago and has no listener. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  url = g_strdup_printf ("http://127.0.0.1:%u/token",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  provider = confab_url_token_provider_new (url, NULL, &error);
  g_assert_no_error (error);
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpuint (confab_error_classify (result.error), ==, CONFAB_ERROR_NETWORK);
  token_result_clear (&result);
}

static void
test_url_timeout (void)
{
  TokenServer server;
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  TokenResult result = { 0 };
  gint64 started;

  token_server_init (&server);
  provider = url_provider (&server, "/held", NULL);
  confab_url_token_provider_set_timeout_ms (provider, 200);

  started = g_get_monotonic_time ();
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_error (result.error, CONFAB_ERROR, CONFAB_ERROR_TIMEOUT);
  g_assert_cmpint ((g_get_monotonic_time () - started) / 1000, >=, 200);
  g_assert_cmpint ((g_get_monotonic_time () - started) / 1000, <, 5000);

  token_result_clear (&result);
  g_assert_finalize_object (g_steal_pointer (&provider));
  token_server_clear (&server);
}

static void
test_url_insecure (void)
{
  const char *refused[] = {
    "http://example.com/token", "ftp://127.0.0.1/token", "not a url", "", "https:///token",
  };
  const char *allowed[] = {
    "https://example.com/token", "http://127.0.0.1:9/token", "http://localhost/token", "http://[::1]:9/t",
  };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ConfabUrlTokenProvider) provider = confab_url_token_provider_new (refused[i], NULL, &error);

      g_assert_null (provider);
      g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL);
    }
  for (guint i = 0; i < G_N_ELEMENTS (allowed); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ConfabUrlTokenProvider) provider = confab_url_token_provider_new (allowed[i], NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (provider);
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfabUrlTokenProvider) provider = NULL;

    provider = confab_url_token_provider_new ("https://example.com/", "DELETE", &error);

    g_assert_null (provider);
    g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_FAILED);
  }
}

/* The cache: refresh ahead of expiry ------------------------------------------------ */

static void
test_refresh_far_and_near (void)
{
  TokenServer server;
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  ConfabTokenProvider *p;
  g_autofree char *first = NULL;
  TokenResult result = { 0 };

  token_server_init (&server);
  provider = url_provider (&server, "/token", NULL);
  p = CONFAB_TOKEN_PROVIDER (provider);
  fake_now = T0 * G_USEC_PER_SEC;
  confab_token_provider_set_clock (p, fake_clock, NULL);

  /* An hour-long token: cached until less than 360 s (10 %) remain. */
  token_server_set_token (&server, make_user_jwt ("alice", T0, T0 + 3600));
  first = g_strdup (server.token);
  get_token (p, FALSE, &result);
  g_assert_cmpstr (result.token, ==, first);
  g_assert_cmpuint (server.hits, ==, 1);

  token_server_set_token (&server, make_user_jwt ("alice", T0 + 3241, T0 + 7200));
  fake_now = (T0 + 3600 - 361) * G_USEC_PER_SEC;
  get_token (p, FALSE, &result);
  g_assert_cmpstr (result.token, ==, first);
  g_assert_cmpuint (server.hits, ==, 1);

  fake_now = (T0 + 3600 - 359) * G_USEC_PER_SEC;
  get_token (p, FALSE, &result);
  g_assert_cmpuint (server.hits, ==, 2);
  g_assert_cmpstr (result.token, ==, server.token);
  g_assert_cmpstr (result.token, !=, first);

  /* The new one is far from expiry again. */
  get_token (p, FALSE, &result);
  g_assert_cmpuint (server.hits, ==, 2);

  /* A token with 30 s to live (no iat) is inside the 60 s margin from the start: it is
   * used, and re-fetched at most every 10 s rather than on every call. */
  confab_token_provider_invalidate (p);
  fake_now = (T0 + 10000) * G_USEC_PER_SEC;
  token_server_set_token (&server, make_user_jwt ("alice", 0, T0 + 10030));
  get_token (p, FALSE, &result);
  g_assert_cmpuint (server.hits, ==, 3);
  g_assert_cmpstr (result.token, ==, server.token);
  get_token (p, FALSE, &result);
  g_assert_cmpuint (server.hits, ==, 3);
  fake_now += 11 * G_USEC_PER_SEC;
  get_token (p, FALSE, &result);
  g_assert_cmpuint (server.hits, ==, 4);

  token_result_clear (&result);
  g_assert_finalize_object (g_steal_pointer (&provider));
  token_server_clear (&server);
}

static void
test_refresh_failure_keeps_valid_token (void)
{
  TokenServer server;
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  g_autofree char *cached = NULL;
  TokenResult result = { 0 };
  ConfabTokenProvider *p;

  token_server_init (&server);
  token_server_set_token (&server, make_user_jwt ("alice", T0, T0 + 3600));
  cached = g_strdup (server.token);
  provider = url_provider (&server, "/token", NULL);
  p = CONFAB_TOKEN_PROVIDER (provider);
  fake_now = T0 * G_USEC_PER_SEC;
  confab_token_provider_set_clock (p, fake_clock, NULL);
  get_token (p, FALSE, &result);
  g_assert_cmpstr (result.token, ==, cached);
  g_assert_cmpuint (server.hits, ==, 1);

  /* The endpoint is down. Near expiry but still valid: the refresh fails quietly and
   * the cached token is used. */
  server.fail_status = 503;
  fake_now = (T0 + 3500) * G_USEC_PER_SEC;
  get_token (p, FALSE, &result);
  g_assert_no_error (result.error);
  g_assert_cmpstr (result.token, ==, cached);
  g_assert_cmpuint (server.hits, ==, 2);

  /* …and it is not asked again on every call, only after 15 s. */
  get_token (p, FALSE, &result);
  g_assert_cmpstr (result.token, ==, cached);
  g_assert_cmpuint (server.hits, ==, 2);
  fake_now += 16 * G_USEC_PER_SEC;
  get_token (p, FALSE, &result);
  g_assert_cmpstr (result.token, ==, cached);
  g_assert_cmpuint (server.hits, ==, 3);

  /* A forced refresh (the server said expired) reports the failure. */
  get_token (p, TRUE, &result);
  g_assert_error (result.error, CONFAB_ERROR, CONFAB_ERROR_SERVER);
  g_assert_cmpuint (server.hits, ==, 4);

  /* Once expired by the clock, so does a plain call. */
  fake_now = (T0 + 3600) * G_USEC_PER_SEC;
  get_token (p, FALSE, &result);
  g_assert_error (result.error, CONFAB_ERROR, CONFAB_ERROR_SERVER);
  g_assert_cmpuint (server.hits, ==, 5);

  /* Back up: a new token. */
  server.fail_status = 0;
  token_server_set_token (&server, make_user_jwt ("alice", T0 + 3600, T0 + 7200));
  get_token (p, FALSE, &result);
  g_assert_cmpstr (result.token, ==, server.token);

  token_result_clear (&result);
  g_assert_finalize_object (g_steal_pointer (&provider));
  token_server_clear (&server);
}

static void
test_refresh_forced (void)
{
  TokenServer server;
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  TokenResult result = { 0 };

  token_server_init (&server);
  provider = url_provider (&server, "/token", NULL);
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_cmpuint (server.hits, ==, 1);

  token_server_set_token (&server, make_user_jwt ("alice", 0, 0x7fffffff));
  get_token (CONFAB_TOKEN_PROVIDER (provider), TRUE, &result);
  g_assert_cmpuint (server.hits, ==, 2);
  g_assert_cmpstr (result.token, ==, server.token);

  /* And the new one is cached. */
  get_token (CONFAB_TOKEN_PROVIDER (provider), FALSE, &result);
  g_assert_cmpuint (server.hits, ==, 2);
  g_assert_cmpstr (result.token, ==, server.token);

  token_result_clear (&result);
  g_assert_finalize_object (g_steal_pointer (&provider));
  token_server_clear (&server);
}

/* The cache: one fetch for many callers --------------------------------------------- */

static void
test_concurrent_share_one_fetch (void)
{
  TokenServer server;
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  TokenResult results[3] = { { 0 } };

  token_server_init (&server);
  provider = url_provider (&server, "/held", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    confab_token_provider_get_token_async (CONFAB_TOKEN_PROVIDER (provider), i == 2, NULL,
                                           on_token, &results[i]);

  /* The first request is at the server and held there; nothing else comes. */
  WAIT_UNTIL (server.held->len == 1, DEADLINE_MS);
  g_assert_false (results[0].done || results[1].done || results[2].done);
  release_held (&server);
  WAIT_UNTIL (results[0].done && results[1].done && results[2].done, DEADLINE_MS);

  g_assert_cmpuint (server.hits, ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_assert_no_error (results[i].error);
      g_assert_cmpstr (results[i].token, ==, server.token);
      token_result_clear (&results[i]);
    }

  g_assert_finalize_object (g_steal_pointer (&provider));
  token_server_clear (&server);
}

static void
test_concurrent_cancel_one (void)
{
  TokenServer server;
  g_autoptr(ConfabUrlTokenProvider) provider = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TokenResult cancelled = { 0 };
  TokenResult kept = { 0 };
  TokenResult later = { 0 };

  token_server_init (&server);
  provider = url_provider (&server, "/held", NULL);

  confab_token_provider_get_token_async (CONFAB_TOKEN_PROVIDER (provider), FALSE, cancellable,
                                         on_token, &cancelled);
  confab_token_provider_get_token_async (CONFAB_TOKEN_PROVIDER (provider), FALSE, NULL,
                                         on_token, &kept);
  WAIT_UNTIL (server.held->len == 1, DEADLINE_MS);

  /* One caller gives up: it hears so at once; the fetch goes on for the other. */
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (cancelled.done, DEADLINE_MS);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (kept.done);
  g_assert_cmpuint (server.held->len, ==, 1);

  release_held (&server);
  WAIT_UNTIL (kept.done, DEADLINE_MS);
  g_assert_no_error (kept.error);
  g_assert_cmpstr (kept.token, ==, server.token);
  g_assert_cmpuint (server.hits, ==, 1);

  /* When every caller gives up, the fetch stops; the next call starts a new one. */
  g_cancellable_reset (cancellable);
  confab_token_provider_invalidate (CONFAB_TOKEN_PROVIDER (provider));
  token_result_clear (&cancelled);
  confab_token_provider_get_token_async (CONFAB_TOKEN_PROVIDER (provider), FALSE, cancellable,
                                         on_token, &cancelled);
  WAIT_UNTIL (server.held->len == 1, DEADLINE_MS);
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (cancelled.done, DEADLINE_MS);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* A new request reaches the server: the abandoned fetch was not joined. */
  confab_token_provider_get_token_async (CONFAB_TOKEN_PROVIDER (provider), FALSE, NULL,
                                         on_token, &later);
  WAIT_UNTIL (server.hits == 3, DEADLINE_MS);
  release_held (&server);
  WAIT_UNTIL (later.done, DEADLINE_MS);
  g_assert_no_error (later.error);

  token_result_clear (&cancelled);
  token_result_clear (&kept);
  token_result_clear (&later);
  g_assert_finalize_object (g_steal_pointer (&provider));
  token_server_clear (&server);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/token-provider/claims/parse", test_claims_parse);
  g_test_add_func ("/core/token-provider/claims/invalid", test_claims_invalid);
  g_test_add_func ("/core/token-provider/claims/refresh-time", test_claims_refresh_time);
  g_test_add_func ("/core/token-provider/claims/untrusted-json", test_json_untrusted);
  g_test_add_func ("/core/token-provider/static/token", test_static);
  g_test_add_func ("/core/token-provider/static/expired-is-still-returned",
                   test_static_expired_is_still_returned);
  g_test_add_func ("/core/token-provider/static/not-a-token", test_static_not_a_token);
  g_test_add_func ("/core/token-provider/command/token", test_command_token);
  g_test_add_func ("/core/token-provider/command/errors", test_command_errors);
  g_test_add_func ("/core/token-provider/command/not-found", test_command_not_found);
  g_test_add_func ("/core/token-provider/command/timeout", test_command_timeout);
  g_test_add_func ("/core/token-provider/command/cancel", test_command_cancel);
  g_test_add_func ("/core/token-provider/url/good", test_url_good);
  g_test_add_func ("/core/token-provider/url/post", test_url_post);
  g_test_add_func ("/core/token-provider/url/bad-answers", test_url_bad_answers);
  g_test_add_func ("/core/token-provider/url/refused", test_url_refused);
  g_test_add_func ("/core/token-provider/url/timeout", test_url_timeout);
  g_test_add_func ("/core/token-provider/url/insecure", test_url_insecure);
  g_test_add_func ("/core/token-provider/refresh/far-and-near", test_refresh_far_and_near);
  g_test_add_func ("/core/token-provider/refresh/failure-keeps-valid-token",
                   test_refresh_failure_keeps_valid_token);
  g_test_add_func ("/core/token-provider/refresh/forced", test_refresh_forced);
  g_test_add_func ("/core/token-provider/concurrent/share-one-fetch", test_concurrent_share_one_fetch);
  g_test_add_func ("/core/token-provider/concurrent/cancel", test_concurrent_cancel_one);

  return g_test_run ();
}
