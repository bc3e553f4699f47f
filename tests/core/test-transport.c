/* test-transport.c: the WebSocket and long-poll transports, against the sandbox and fakes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <libsoup/soup.h>

#include "confab-connection-manager.h"
#include "confab-error.h"
#include "confab-fake-clock.h"
#include "confab-longpoll-transport.h"
#include "confab-static-token-provider.h"
#include "confab-websocket-transport.h"
#include "core-test-util.h"

#define API_KEY        "K"
#define API_SECRET     "S"
#define FAKE_TOKEN     "fake.jwt.token"
#define WAIT_MS        5000   /* any single step that should take milliseconds */

/* A recorder around one transport -------------------------------------------------------- */

typedef struct
{
  ConfabTransport *transport;
  GArray          *stages;       /* ConfabStage, one per notify::stage */
  GPtrArray       *events;       /* JsonObject */
  guint            n_events;
  guint            n_lost;
  GError          *lost_error;   /* the first */
  gint64           lost_at;
  guint            n_rtt;
  guint            last_rtt;
  guint            n_probe_lost;
  GCancellable    *cancellable;  /* passed to the next connect when set */
  gboolean         pending;
  gboolean         done;
  gboolean         ok;
  GError          *error;
  gint64           started_at;
  gint64           finished_at;
} Recorder;

static void
on_stage (GObject    *object,
          GParamSpec *pspec,
          gpointer    user_data)
{
  Recorder *rec = user_data;
  ConfabStage stage = confab_transport_get_stage (rec->transport);

  g_array_append_val (rec->stages, stage);
}

static void
on_event (ConfabTransport *transport,
          JsonObject      *event,
          gpointer         user_data)
{
  Recorder *rec = user_data;

  g_assert_nonnull (event);
  g_ptr_array_add (rec->events, json_object_ref (event));
  rec->n_events++;
}

static void
on_lost (ConfabTransport *transport,
         const GError    *error,
         gpointer         user_data)
{
  Recorder *rec = user_data;

  g_assert_nonnull (error);
  rec->n_lost++;
  if (rec->lost_error == NULL)
    {
      rec->lost_error = g_error_copy (error);
      rec->lost_at = g_get_monotonic_time ();
    }
}

static void
on_rtt (ConfabTransport *transport,
        guint            rtt_ms,
        gpointer         user_data)
{
  Recorder *rec = user_data;

  rec->n_rtt++;
  rec->last_rtt = rtt_ms;
}

static void
on_probe_lost (ConfabTransport *transport,
               gpointer         user_data)
{
  Recorder *rec = user_data;

  rec->n_probe_lost++;
}

static Recorder *
recorder_new (ConfabTransport *transport)
{
  Recorder *rec = g_new0 (Recorder, 1);

  rec->transport = transport;
  rec->stages = g_array_new (FALSE, FALSE, sizeof (ConfabStage));
  rec->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_signal_connect (transport, "notify::stage", G_CALLBACK (on_stage), rec);
  g_signal_connect (transport, "event", G_CALLBACK (on_event), rec);
  g_signal_connect (transport, "lost", G_CALLBACK (on_lost), rec);
  g_signal_connect (transport, "rtt", G_CALLBACK (on_rtt), rec);
  g_signal_connect (transport, "probe-lost", G_CALLBACK (on_probe_lost), rec);
  return rec;
}

static Recorder *
recorder_new_websocket (void)
{
  return recorder_new (confab_websocket_transport_new ());
}

static Recorder *
recorder_new_longpoll (void)
{
  return recorder_new (confab_longpoll_transport_new ());
}

static void
recorder_free (Recorder *rec)
{
  if (rec->pending)
    {
      confab_transport_disconnect (rec->transport);
      if (!core_test_wait_flag (&rec->done, WAIT_MS))
        g_error ("a connect still had not finished after disconnect()");
    }
  g_signal_handlers_disconnect_by_data (rec->transport, rec);
  g_object_unref (rec->transport);
  g_array_unref (rec->stages);
  g_ptr_array_unref (rec->events);
  g_clear_error (&rec->lost_error);
  g_clear_error (&rec->error);
  g_clear_object (&rec->cancellable);
  g_free (rec);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Recorder, recorder_free)

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Recorder *rec = user_data;

  g_assert_true (rec->pending);
  g_assert_false (rec->done);
  rec->ok = confab_transport_connect_finish (CONFAB_TRANSPORT (source), result, &rec->error);
  g_assert_true (rec->ok == (rec->error == NULL));
  rec->pending = FALSE;
  rec->done = TRUE;
  rec->finished_at = g_get_monotonic_time ();
  if (rec->error != NULL)
    g_test_message ("connect failed: %s %d: %s", g_quark_to_string (rec->error->domain),
                    rec->error->code, rec->error->message);
}

static void
recorder_start (Recorder                  *rec,
                const ConfabConnectParams *params)
{
  g_assert_false (rec->pending);
  rec->done = FALSE;
  rec->ok = FALSE;
  rec->pending = TRUE;
  g_clear_error (&rec->error);
  rec->started_at = g_get_monotonic_time ();
  confab_transport_connect_async (rec->transport, params, rec->cancellable, on_connected, rec);
}

/* Connects and waits for the outcome (the deadline is a test failure). */
static void
recorder_connect (Recorder                  *rec,
                  const ConfabConnectParams *params,
                  guint                      timeout_ms)
{
  recorder_start (rec, params);
  if (!core_test_wait_flag (&rec->done, timeout_ms))
    g_error ("connect did not finish within %u ms", timeout_ms);
}

static gint64
recorder_connect_ms (Recorder *rec)
{
  return (rec->finished_at - rec->started_at) / 1000;
}

static gboolean
recorder_lost (gpointer user_data)
{
  Recorder *rec = user_data;

  return rec->n_lost > 0;
}

/* Whether @rec saw an event of @type, about the message @message_id when not NULL. */
static gboolean
recorder_has_event (Recorder   *rec,
                    const char *type,
                    const char *message_id)
{
  for (guint i = 0; i < rec->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (rec->events, i);
      JsonNode *message;

      if (g_strcmp0 (json_object_get_string_member_with_default (event, "type", NULL), type) != 0)
        continue;
      if (message_id == NULL)
        return TRUE;
      message = json_object_get_member (event, "message");
      if (message != NULL && JSON_NODE_HOLDS_OBJECT (message) &&
          g_strcmp0 (json_object_get_string_member_with_default (json_node_get_object (message), "id", NULL),
                     message_id) == 0)
        return TRUE;
    }
  return FALSE;
}

typedef struct
{
  Recorder   *rec;
  const char *type;
  const char *message_id;
} EventCondition;

static gboolean
event_arrived (gpointer user_data)
{
  EventCondition *condition = user_data;

  return recorder_has_event (condition->rec, condition->type, condition->message_id);
}

static gboolean
wait_for_event (Recorder   *rec,
                const char *type,
                const char *message_id,
                guint       timeout_ms)
{
  EventCondition condition = { rec, type, message_id };

  return core_test_wait_until (event_arrived, &condition, timeout_ms);
}

static void
assert_classified (const GError    *error,
                   ConfabErrorCode  expected)
{
  g_assert_nonnull (error);
  if (confab_error_classify (error) != expected)
    g_test_message ("unexpected error %s %d: %s", g_quark_to_string (error->domain), error->code, error->message);
  g_assert_cmpint (confab_error_classify (error), ==, expected);
}

static gboolean
stages_contain (GArray      *stages,
                ConfabStage  stage)
{
  for (guint i = 0; i < stages->len; i++)
    if (g_array_index (stages, ConfabStage, i) == stage)
      return TRUE;
  return FALSE;
}

static char *
stages_to_string (GArray *stages)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GEnumClass) klass = g_type_class_ref (CONFAB_TYPE_STAGE);

  for (guint i = 0; i < stages->len; i++)
    {
      GEnumValue *value = g_enum_get_value (klass, g_array_index (stages, ConfabStage, i));

      g_string_append_printf (text, "%s%s", i > 0 ? " -> " : "", value != NULL ? value->value_nick : "?");
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The sandbox ------------------------------------------------------------------------------ */

static CoreTestSandbox *the_sandbox;        /* --demo */
static CoreTestSandbox *the_sandbox_nows;   /* --demo --no-websocket */

static CoreTestSandbox *
get_sandbox (gboolean websocket)
{
  static const char *const ws_args[] = { "--demo", NULL };
  static const char *const nows_args[] = { "--demo", "--no-websocket", NULL };
  CoreTestSandbox **slot = websocket ? &the_sandbox : &the_sandbox_nows;
  g_autofree char *path = core_test_sandbox_path ();
  g_autoptr(GError) error = NULL;

  if (path == NULL)
    {
      g_test_skip ("no confab-sandbox binary (set CONFAB_SANDBOX)");
      return NULL;
    }
  if (*slot == NULL)
    {
      *slot = core_test_sandbox_start (API_KEY, API_SECRET, websocket ? ws_args : nows_args, &error);
      g_assert_no_error (error);
      g_assert_nonnull (*slot);
    }
  /* Every test leaves the sandbox without connections. */
  g_assert_true (core_test_sandbox_wait_stat (*slot, "connections", 0, WAIT_MS));
  return *slot;
}

static ConfabConnectParams *
sandbox_params (CoreTestSandbox *sandbox,
                const char      *user_id)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = core_test_sandbox_demo_token (sandbox, user_id, &error);

  g_assert_no_error (error);
  g_assert_nonnull (token);
  return confab_connect_params_new (sandbox->url, API_KEY, user_id, token);
}

/* The same token, signed with another secret. */
static char *
resign_token (const char *token,
              const char *secret)
{
  const char *dot = strrchr (token, '.');
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  g_autofree char *signature = NULL;
  guint8 digest[32];
  gsize length = sizeof digest;
  char *end;

  g_assert_nonnull (dot);
  g_hmac_update (hmac, (const guchar *) token, dot - token);
  g_hmac_get_digest (hmac, digest, &length);
  signature = g_base64_encode (digest, length);
  g_strdelimit (signature, "+", '-');
  g_strdelimit (signature, "/", '_');
  end = strchr (signature, '=');
  if (end != NULL)
    *end = '\0';
  return g_strdup_printf ("%.*s.%s", (int) (dot - token), token, signature);
}

/* POST /channels/messaging/general/query with watch, for @connection_id. */
static void
sandbox_watch_general (CoreTestSandbox           *sandbox,
                       const ConfabConnectParams *params,
                       const char                *connection_id)
{
  g_autofree char *url = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  url = g_strdup_printf ("%s/channels/messaging/general/query?api_key=%s&user_id=%s&connection_id=%s",
                         sandbox->url, API_KEY, params->user_id, connection_id);
  answer = core_test_rest ("POST", url, params->token, "{\"watch\":true,\"state\":true}", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, >=, 200);
  g_assert_cmpuint (status, <, 300);
  g_assert_true (json_object_has_member (answer, "channel"));
}

/* Sends a message to messaging:general as @user_id; returns its id. */
static char *
sandbox_send_message (CoreTestSandbox *sandbox,
                      const char      *user_id)
{
  g_autoptr(ConfabConnectParams) params = sandbox_params (sandbox, user_id);
  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *url = g_strdup_printf ("%s/channels/messaging/general/message?api_key=%s", sandbox->url, API_KEY);
  g_autofree char *body = g_strdup_printf ("{\"message\":{\"id\":\"%s\",\"text\":\"transport test\"}}", id);
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *message;
  guint status = 0;

  answer = core_test_rest ("POST", url, params->token, body, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, >=, 200);
  g_assert_cmpuint (status, <, 300);
  message = json_object_get_object_member (answer, "message");
  g_assert_nonnull (message);
  g_assert_cmpstr (json_object_get_string_member_with_default (message, "id", NULL), ==, id);
  return g_steal_pointer (&id);
}

static char *
expected_endpoint (CoreTestSandbox *sandbox,
                   gboolean         websocket)
{
  g_assert_true (g_str_has_prefix (sandbox->url, "http://"));
  return g_strdup_printf ("%s%s/%s", websocket ? "ws://" : "http://", sandbox->url + strlen ("http://"),
                          websocket ? "connect" : "longpoll");
}

static void
assert_usable (Recorder                  *rec,
               const ConfabConnectParams *params)
{
  const char *connection_id = confab_transport_get_connection_id (rec->transport);
  JsonObject *me = confab_transport_get_me (rec->transport);
  const char *endpoint = confab_transport_get_endpoint (rec->transport);

  g_assert_no_error (rec->error);
  g_assert_true (rec->ok);
  g_assert_nonnull (connection_id);
  g_assert_true (g_uuid_string_is_valid (connection_id));
  g_assert_nonnull (me);
  g_assert_cmpstr (json_object_get_string_member_with_default (me, "id", NULL), ==, params->user_id);
  g_assert_nonnull (endpoint);
  g_assert_null (strstr (endpoint, params->token));
  g_assert_null (strchr (endpoint, '?'));
  g_assert_cmpint (rec->n_lost, ==, 0);
}

/* /core/transport/websocket/sandbox/connect */
static void
test_websocket_sandbox_connect (void)
{
  CoreTestSandbox *sandbox = get_sandbox (TRUE);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = NULL;
  g_autofree char *endpoint = NULL;
  g_autofree char *sequence = NULL;
  ConfabStage previous = CONFAB_STAGE_IDLE;

  if (sandbox == NULL)
    return;
  params = sandbox_params (sandbox, "alice");
  rec = recorder_new_websocket ();

  g_assert_cmpint (confab_transport_get_kind (rec->transport), ==, CONFAB_TRANSPORT_KIND_WEBSOCKET);
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_null (confab_transport_get_connection_id (rec->transport));
  g_assert_null (confab_transport_get_me (rec->transport));
  g_assert_false (confab_transport_probe (rec->transport));

  recorder_connect (rec, params, WAIT_MS);
  assert_usable (rec, params);

  endpoint = expected_endpoint (sandbox, TRUE);
  g_assert_cmpstr (confab_transport_get_endpoint (rec->transport), ==, endpoint);

  /* RESOLVING/CONNECTING → UPGRADING → AUTHENTICATING, never backwards. */
  sequence = stages_to_string (rec->stages);
  g_test_message ("stages: %s", sequence);
  g_assert_cmpuint (rec->stages->len, >=, 3);
  g_assert_cmpint (g_array_index (rec->stages, ConfabStage, 0), ==, CONFAB_STAGE_RESOLVING);
  for (guint i = 0; i < rec->stages->len; i++)
    {
      ConfabStage stage = g_array_index (rec->stages, ConfabStage, i);

      g_assert_cmpint (stage, >, previous);
      previous = stage;
    }
  g_assert_true (stages_contain (rec->stages, CONFAB_STAGE_UPGRADING));
  g_assert_false (stages_contain (rec->stages, CONFAB_STAGE_TLS));
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_AUTHENTICATING);

  g_assert_cmpint (core_test_sandbox_stat (sandbox, "websocket"), ==, 1);
  g_assert_cmpint (core_test_sandbox_stat (sandbox, "longpoll"), ==, 0);

  confab_transport_disconnect (rec->transport);
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "websocket", 0, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);

  /* A second disconnect is harmless. */
  confab_transport_disconnect (rec->transport);
  g_assert_cmpint (rec->n_lost, ==, 0);
}

/* /core/transport/websocket/sandbox/events */
static void
test_websocket_sandbox_events (void)
{
  CoreTestSandbox *sandbox = get_sandbox (TRUE);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = NULL;
  g_autofree char *message_id = NULL;

  if (sandbox == NULL)
    return;
  params = sandbox_params (sandbox, "alice");
  rec = recorder_new_websocket ();
  recorder_connect (rec, params, WAIT_MS);
  assert_usable (rec, params);

  sandbox_watch_general (sandbox, params, confab_transport_get_connection_id (rec->transport));
  message_id = sandbox_send_message (sandbox, "bob");
  g_assert_true (wait_for_event (rec, "message.new", message_id, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);

  confab_transport_disconnect (rec->transport);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);
}

/* /core/transport/websocket/sandbox/probe */
static void
test_websocket_sandbox_probe (void)
{
  CoreTestSandbox *sandbox = get_sandbox (TRUE);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = NULL;
  gint64 before;

  if (sandbox == NULL)
    return;
  params = sandbox_params (sandbox, "alice");
  rec = recorder_new_websocket ();
  recorder_connect (rec, params, WAIT_MS);
  assert_usable (rec, params);
  g_assert_cmpuint (rec->n_rtt, ==, 0);

  before = confab_transport_get_last_activity (rec->transport);
  g_assert_true (confab_transport_probe (rec->transport));
  g_assert_true (core_test_wait_count (&rec->n_rtt, 1, WAIT_MS));
  g_assert_cmpuint (rec->n_rtt, ==, 1);
  g_assert_cmpint (confab_transport_get_last_activity (rec->transport), >, before);

  /* And again: a probe is not a one-off. */
  g_assert_true (confab_transport_probe (rec->transport));
  g_assert_true (core_test_wait_count (&rec->n_rtt, 2, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);

  confab_transport_disconnect (rec->transport);
  g_assert_false (confab_transport_probe (rec->transport));
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, WAIT_MS));
}

/* /core/transport/websocket/sandbox/bad-signature */
static void
test_websocket_sandbox_bad_signature (void)
{
  CoreTestSandbox *sandbox = get_sandbox (TRUE);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = NULL;

  if (sandbox == NULL)
    return;
  params = sandbox_params (sandbox, "alice");
  {
    char *forged = resign_token (params->token, "not-the-secret");

    g_free (params->token);
    params->token = forged;
  }

  rec = recorder_new_websocket ();
  recorder_connect (rec, params, WAIT_MS);
  g_assert_false (rec->ok);
  g_assert_error (rec->error, CONFAB_API_ERROR, CONFAB_API_ERROR_TOKEN_SIGNATURE_INVALID);
  g_assert_cmpuint (confab_api_error_get_http_status (rec->error), ==, 401);
  assert_classified (rec->error, CONFAB_ERROR_AUTH);
  g_assert_false (confab_error_is_transient (rec->error));
  g_assert_null (strstr (rec->error->message, params->token));
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_cmpint (rec->n_lost, ==, 0);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, WAIT_MS));
}

/* /core/transport/websocket/sandbox/no-websocket */
static void
test_websocket_sandbox_no_websocket (void)
{
  CoreTestSandbox *sandbox = get_sandbox (FALSE);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = NULL;

  if (sandbox == NULL)
    return;
  params = sandbox_params (sandbox, "alice");
  rec = recorder_new_websocket ();
  g_object_set (rec->transport, "connect-timeout-ms", 10000, NULL);
  recorder_connect (rec, params, WAIT_MS);
  g_assert_false (rec->ok);
  g_assert_error (rec->error, CONFAB_ERROR, CONFAB_ERROR_UPGRADE_REJECTED);
  /* A fast failure, nowhere near the timeout. */
  g_test_message ("rejected after %" G_GINT64_FORMAT " ms", recorder_connect_ms (rec));
  g_assert_cmpint (recorder_connect_ms (rec), <, 1000);
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_null (confab_transport_get_connection_id (rec->transport));
  g_assert_cmpint (rec->n_lost, ==, 0);
  g_assert_cmpint (core_test_sandbox_stat (sandbox, "connections"), ==, 0);
}

/* /core/transport/longpoll/sandbox/connect */
static void
test_longpoll_sandbox_connect (void)
{
  CoreTestSandbox *sandbox = get_sandbox (FALSE);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = NULL;
  g_autofree char *endpoint = NULL;
  g_autofree char *message_id = NULL;

  if (sandbox == NULL)
    return;
  params = sandbox_params (sandbox, "alice");
  rec = recorder_new_longpoll ();
  g_assert_cmpint (confab_transport_get_kind (rec->transport), ==, CONFAB_TRANSPORT_KIND_LONGPOLL);

  recorder_connect (rec, params, WAIT_MS);
  assert_usable (rec, params);
  endpoint = expected_endpoint (sandbox, FALSE);
  g_assert_cmpstr (confab_transport_get_endpoint (rec->transport), ==, endpoint);
  g_assert_cmpint (rec->stages->len, >, 0);
  g_assert_cmpint (g_array_index (rec->stages, ConfabStage, 0), ==, CONFAB_STAGE_RESOLVING);
  g_assert_cmpint (core_test_sandbox_stat (sandbox, "longpoll"), ==, 1);
  g_assert_cmpint (core_test_sandbox_stat (sandbox, "websocket"), ==, 0);

  sandbox_watch_general (sandbox, params, confab_transport_get_connection_id (rec->transport));
  message_id = sandbox_send_message (sandbox, "bob");
  g_assert_true (wait_for_event (rec, "message.new", message_id, WAIT_MS));

  /* A second message rides the next poll. */
  g_free (message_id);
  message_id = sandbox_send_message (sandbox, "bob");
  g_assert_true (wait_for_event (rec, "message.new", message_id, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);

  /* close=true: the server forgets the connection at once, not after its idle timeout. */
  confab_transport_disconnect (rec->transport);
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "longpoll", 0, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);
}

/* /core/transport/longpoll/sandbox/bad-signature */
static void
test_longpoll_sandbox_bad_signature (void)
{
  CoreTestSandbox *sandbox = get_sandbox (FALSE);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = NULL;

  if (sandbox == NULL)
    return;
  params = sandbox_params (sandbox, "alice");
  {
    char *forged = resign_token (params->token, "not-the-secret");

    g_free (params->token);
    params->token = forged;
  }
  rec = recorder_new_longpoll ();
  recorder_connect (rec, params, WAIT_MS);
  g_assert_false (rec->ok);
  g_assert_error (rec->error, CONFAB_API_ERROR, CONFAB_API_ERROR_TOKEN_SIGNATURE_INVALID);
  g_assert_cmpuint (confab_api_error_get_http_status (rec->error), ==, 401);
  assert_classified (rec->error, CONFAB_ERROR_AUTH);
  g_assert_cmpint (rec->n_lost, ==, 0);
  g_assert_cmpint (core_test_sandbox_stat (sandbox, "connections"), ==, 0);
}

static gboolean
fds_back (gpointer user_data)
{
  int *limit = user_data;

  return core_test_count_fds () <= *limit;
}

/* /core/transport/websocket/sandbox/cycles */
static void
test_websocket_sandbox_cycles (void)
{
  CoreTestSandbox *sandbox = get_sandbox (TRUE);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) reused = NULL;
  int before;
  int limit;

  if (sandbox == NULL)
    return;
  params = sandbox_params (sandbox, "alice");
  reused = recorder_new_websocket ();

  /* Warm up whatever GIO opens once per process (resolver, network monitor, …). */
  recorder_connect (reused, params, WAIT_MS);
  assert_usable (reused, params);
  confab_transport_disconnect (reused->transport);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, WAIT_MS));

  before = core_test_count_fds ();
  g_assert_cmpint (before, >, 0);

  /* Half on one transport (reconnecting works), half on fresh ones. */
  for (guint i = 0; i < 50; i++)
    {
      g_autoptr(Recorder) fresh = i % 2 == 1 ? recorder_new_websocket () : NULL;
      Recorder *rec = fresh != NULL ? fresh : reused;
      g_autofree char *previous_id = g_strdup (confab_transport_get_connection_id (rec->transport));

      recorder_connect (rec, params, WAIT_MS);
      assert_usable (rec, params);
      g_assert_cmpstr (confab_transport_get_connection_id (rec->transport), !=, previous_id);
      confab_transport_disconnect (rec->transport);
      g_assert_cmpint (rec->n_lost, ==, 0);
    }

  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, 5000));
  limit = before + 2;
  core_test_wait_until (fds_back, &limit, WAIT_MS);
  g_test_message ("open fds: %d before, %d after 50 cycles", before, core_test_count_fds ());
  g_assert_cmpint (core_test_count_fds (), <=, before + 2);
  g_assert_cmpint (reused->n_lost, ==, 0);
}

/* Local fakes ------------------------------------------------------------------------------- */

static ConfabConnectParams *
fake_params (const char *base_url)
{
  return confab_connect_params_new (base_url, API_KEY, "alice", FAKE_TOKEN);
}

/* /core/transport/refused */
static void
test_refused (void)
{
  guint16 port = core_test_refused_port ();
  g_autofree char *url = NULL;
  g_autoptr(ConfabConnectParams) params = NULL;

  g_assert_cmpuint (port, !=, 0);
  url = g_strdup_printf ("http://127.0.0.1:%u", port);
  params = fake_params (url);

  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(Recorder) rec = kind == 0 ? recorder_new_websocket () : recorder_new_longpoll ();

      g_object_set (rec->transport, "connect-timeout-ms", 10000, NULL);
      recorder_connect (rec, params, WAIT_MS);
      g_assert_false (rec->ok);
      assert_classified (rec->error, CONFAB_ERROR_NETWORK);
      g_assert_true (confab_error_is_transient (rec->error));
      g_assert_cmpint (recorder_connect_ms (rec), <, 1000);
      g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
      g_assert_cmpint (rec->n_lost, ==, 0);
    }
}

static gboolean
hole_has_connection (gpointer user_data)
{
  CoreTestBlackHole *hole = user_data;

  return hole->connections->len > 0;
}

static gboolean
hole_all_closed (gpointer user_data)
{
  CoreTestBlackHole *hole = user_data;

  return hole->connections->len > 0 && hole->n_closed == hole->connections->len;
}

/* /core/transport/black-hole/timeout */
static void
test_black_hole_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CoreTestBlackHole) hole = core_test_black_hole_new (&error);
  g_autofree char *url = NULL;
  g_autoptr(ConfabConnectParams) params = NULL;

  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u", hole->port);
  params = fake_params (url);

  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(Recorder) rec = kind == 0 ? recorder_new_websocket () : recorder_new_longpoll ();
      guint seen = hole->connections->len;

      g_object_set (rec->transport, "connect-timeout-ms", 300, NULL);
      recorder_connect (rec, params, WAIT_MS);
      g_assert_false (rec->ok);
      g_assert_error (rec->error, CONFAB_ERROR, CONFAB_ERROR_TIMEOUT);
      g_test_message ("timed out after %" G_GINT64_FORMAT " ms", recorder_connect_ms (rec));
      g_assert_cmpint (recorder_connect_ms (rec), >=, 300);
      g_assert_cmpint (recorder_connect_ms (rec), <, 2000);
      g_assert_cmpuint (hole->connections->len, >, seen);
      g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
      g_assert_cmpint (rec->n_lost, ==, 0);
    }

  /* Nothing was left open. */
  core_test_black_hole_watch (hole);
  g_assert_true (core_test_wait_until (hole_all_closed, hole, WAIT_MS));
}

/* /core/transport/black-hole/disconnect */
static void
test_black_hole_disconnect (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CoreTestBlackHole) hole = core_test_black_hole_new (&error);
  g_autofree char *url = NULL;
  g_autoptr(ConfabConnectParams) params = NULL;

  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u", hole->port);
  params = fake_params (url);
  core_test_black_hole_watch (hole);

  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(Recorder) rec = kind == 0 ? recorder_new_websocket () : recorder_new_longpoll ();
      guint closed = hole->n_closed;

      g_object_set (rec->transport, "connect-timeout-ms", 10000, NULL);
      recorder_start (rec, params);
      g_assert_true (core_test_wait_count (&hole->connections->len, kind + 1, WAIT_MS));
      g_assert_false (rec->done);

      confab_transport_disconnect (rec->transport);
      g_assert_true (core_test_wait_flag (&rec->done, WAIT_MS));
      g_assert_false (rec->ok);
      g_assert_error (rec->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (recorder_connect_ms (rec), <, 2000);
      g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
      g_assert_true (core_test_wait_count (&hole->n_closed, closed + 1, WAIT_MS));
      g_assert_cmpint (rec->n_lost, ==, 0);
    }
}

/* A fake Stream WebSocket server ---------------------------------------------------------- */

typedef enum {
  FIRST_HEALTH_CHECK,     /* a good one: usable */
  FIRST_TEXT,             /* fake->first_text */
  FIRST_TEXT_THEN_CLOSE,  /* fake->first_text, then close 1000 */
  FIRST_BINARY,
  FIRST_NOTHING,
  FIRST_CLOSE,            /* no frame: close 1011 at once */
} FirstFrame;

#define FAKE_HEALTH_CHECK \
  "{\"type\":\"health.check\",\"connection_id\":\"fake-connection-1\",\"cid\":\"*\"," \
  "\"me\":{\"id\":\"alice\",\"name\":\"Alice\"},\"created_at\":\"2026-01-01T00:00:00Z\"}"

typedef struct
{
  SoupServer              *server;
  char                    *url;
  guint                    http_status;  /* non-zero: /connect is a plain handler with this status */
  const char              *http_body;
  const char              *http_retry_after;  /* a Retry-After header on that answer */
  FirstFrame               first;
  const char              *first_text;
  SoupWebsocketConnection *ws;           /* the server's side of the last upgrade */
  GSocket                 *socket;
  guint                    n_requests;
  guint                    n_upgrades;
  gboolean                 ws_closed;
  gushort                  close_code;   /* what the client sent in its close frame */
  GPtrArray               *received;     /* char *: text frames from the client */
  ConfabFakeClock         *delay_clock;  /* set: the upgrade "takes" delay_us on this clock */
  gint64                   delay_us;
} FakeStream;

static void
on_fake_ws_message (SoupWebsocketConnection *ws,
                    gint                     type,
                    GBytes                  *message,
                    gpointer                 user_data)
{
  FakeStream *fake = user_data;
  gsize length = 0;
  const char *data = g_bytes_get_data (message, &length);

  g_ptr_array_add (fake->received, g_strndup (data, length));
}

static void
on_fake_ws_closed (SoupWebsocketConnection *ws,
                   gpointer                 user_data)
{
  FakeStream *fake = user_data;

  fake->ws_closed = TRUE;
  fake->close_code = soup_websocket_connection_get_close_code (ws);
}

static void
on_fake_ws (SoupServer              *server,
            SoupServerMessage       *msg,
            const char              *path,
            SoupWebsocketConnection *ws,
            gpointer                 user_data)
{
  FakeStream *fake = user_data;

  fake->n_upgrades++;
  if (fake->ws != NULL)
    g_signal_handlers_disconnect_by_data (fake->ws, fake);
  g_set_object (&fake->ws, ws);
  g_set_object (&fake->socket, soup_server_message_get_socket (msg));
  fake->ws_closed = FALSE;
  fake->close_code = 0;
  g_object_set (ws, "max-incoming-payload-size", (guint64) 0, NULL);
  g_signal_connect (ws, "message", G_CALLBACK (on_fake_ws_message), fake);
  g_signal_connect (ws, "closed", G_CALLBACK (on_fake_ws_closed), fake);
  /* The client reads the 101 only after this returns: time spent here is its round trip. */
  if (fake->delay_clock != NULL)
    confab_fake_clock_advance (fake->delay_clock, fake->delay_us);

  switch (fake->first)
    {
    case FIRST_HEALTH_CHECK:
      soup_websocket_connection_send_text (ws, FAKE_HEALTH_CHECK);
      break;
    case FIRST_TEXT:
      soup_websocket_connection_send_text (ws, fake->first_text);
      break;
    case FIRST_TEXT_THEN_CLOSE:
      soup_websocket_connection_send_text (ws, fake->first_text);
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      break;
    case FIRST_BINARY:
      soup_websocket_connection_send_binary (ws, "\x01\x02{}", 4);
      break;
    case FIRST_CLOSE:
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
      break;
    case FIRST_NOTHING:
    default:
      break;
    }
}

static void
on_fake_connect_http (SoupServer        *server,
                      SoupServerMessage *msg,
                      const char        *path,
                      GHashTable        *query,
                      gpointer           user_data)
{
  FakeStream *fake = user_data;
  const char *body = fake->http_body != NULL ? fake->http_body : "";

  fake->n_requests++;
  soup_server_message_set_status (msg, fake->http_status, NULL);
  if (fake->http_retry_after != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                  fake->http_retry_after);
  soup_server_message_set_response (msg, g_str_has_prefix (body, "{") ? "application/json" : "text/html",
                                    SOUP_MEMORY_COPY, body, strlen (body));
}

static FakeStream *
fake_stream_new (guint http_status)
{
  FakeStream *fake = g_new0 (FakeStream, 1);
  g_autoptr(GError) error = NULL;

  fake->server = core_test_soup_server_new (&fake->url, &error);
  g_assert_no_error (error);
  fake->http_status = http_status;
  fake->received = g_ptr_array_new_with_free_func (g_free);
  if (http_status != 0)
    soup_server_add_handler (fake->server, "/connect", on_fake_connect_http, fake, NULL);
  else
    soup_server_add_websocket_handler (fake->server, "/connect", NULL, NULL, on_fake_ws, fake, NULL);
  return fake;
}

static void
fake_stream_free (FakeStream *fake)
{
  if (fake->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (fake->ws, fake);
      if (soup_websocket_connection_get_state (fake->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (fake->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    }
  g_clear_object (&fake->ws);
  g_clear_object (&fake->socket);
  soup_server_disconnect (fake->server);
  g_object_unref (fake->server);
  g_ptr_array_unref (fake->received);
  g_free (fake->url);
  g_free (fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeStream, fake_stream_free)

/* Connects a WebSocket transport to a fresh fake whose first frame is @first. */
static Recorder *
connect_to_fake (FakeStream *fake,
                 guint       connect_timeout_ms)
{
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  Recorder *rec = recorder_new_websocket ();

  g_object_set (rec->transport, "connect-timeout-ms", connect_timeout_ms, NULL);
  recorder_connect (rec, params, WAIT_MS);
  return rec;
}

/* /core/transport/websocket/upgrade-rejected */
static void
test_websocket_upgrade_rejected (void)
{
  static const struct {
    guint       status;
    const char *body;
  } answers[] = {
    { 200, "<html><body>Welcome to the captive portal</body></html>" },
    { 403, "{\"code\":17,\"message\":\"WebSocket connections are disabled\",\"StatusCode\":403}" },
    { 502, "<html><head><title>502 Bad Gateway</title></head></html>" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (answers); i++)
    {
      g_autoptr(FakeStream) fake = fake_stream_new (answers[i].status);
      g_autoptr(Recorder) rec = NULL;

      fake->http_body = answers[i].body;
      g_test_message ("upgrade answered %u", answers[i].status);
      rec = connect_to_fake (fake, 10000);
      g_assert_cmpuint (fake->n_requests, ==, 1);
      g_assert_false (rec->ok);
      g_assert_error (rec->error, CONFAB_ERROR, CONFAB_ERROR_UPGRADE_REJECTED);
      g_assert_cmpint (recorder_connect_ms (rec), <, 1000);
      g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
      g_assert_cmpint (rec->n_lost, ==, 0);
    }
}

/* /core/transport/websocket/first-frame/... */
typedef struct
{
  FirstFrame       first;
  const char      *text;
  GQuark         (*domain) (void);
  int              code;
  ConfabErrorCode  classified;
} FirstFrameCase;

static void
test_websocket_first_frame (gconstpointer data)
{
  const FirstFrameCase *c = data;
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(Recorder) rec = NULL;

  fake->first = c->first;
  fake->first_text = c->text;
  rec = connect_to_fake (fake, c->first == FIRST_NOTHING ? 300 : 10000);
  g_assert_cmpuint (fake->n_upgrades, ==, 1);
  g_assert_false (rec->ok);
  g_assert_error (rec->error, c->domain (), c->code);
  assert_classified (rec->error, c->classified);
  if (c->first == FIRST_NOTHING)
    g_assert_cmpint (recorder_connect_ms (rec), >=, 300);
  else
    g_assert_cmpint (recorder_connect_ms (rec), <, 1000);
  g_assert_null (confab_transport_get_connection_id (rec->transport));
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_cmpint (rec->n_events, ==, 0);

  /* The transport hangs up; nothing is left open and no "lost" follows. */
  g_assert_true (core_test_wait_flag (&fake->ws_closed, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);
}

static const FirstFrameCase first_frame_cases[] = {
  { FIRST_TEXT, "token invalid", confab_error_quark, CONFAB_ERROR_PROTOCOL, CONFAB_ERROR_PROTOCOL },
  { FIRST_BINARY, NULL, confab_error_quark, CONFAB_ERROR_PROTOCOL, CONFAB_ERROR_PROTOCOL },
  { FIRST_TEXT, "{}", confab_error_quark, CONFAB_ERROR_PROTOCOL, CONFAB_ERROR_PROTOCOL },
  { FIRST_TEXT, "{\"type\":\"health.check\",\"connection_id\":5}",
    confab_error_quark, CONFAB_ERROR_PROTOCOL, CONFAB_ERROR_PROTOCOL },
  { FIRST_TEXT, "{\"type\":\"health.check\",\"connection_id\":\"\"}",
    confab_error_quark, CONFAB_ERROR_PROTOCOL, CONFAB_ERROR_PROTOCOL },
  { FIRST_TEXT, "{\"type\":\"health.check\",\"connection_id\":\"c\",\"me\":\"alice\"}",
    confab_error_quark, CONFAB_ERROR_PROTOCOL, CONFAB_ERROR_PROTOCOL },
  { FIRST_TEXT, "[{\"type\":\"health.check\",\"connection_id\":\"c\"}]",
    confab_error_quark, CONFAB_ERROR_PROTOCOL, CONFAB_ERROR_PROTOCOL },
  { FIRST_TEXT, "{\"type\":\"connection.error\",\"error\":\"bad\"}",
    confab_error_quark, CONFAB_ERROR_PROTOCOL, CONFAB_ERROR_PROTOCOL },
  { FIRST_TEXT_THEN_CLOSE,
    "{\"type\":\"connection.error\",\"connection_id\":\"\",\"error\":{\"code\":40,"
    "\"message\":\"JWTAuth error: token is expired (exp)\",\"StatusCode\":401}}",
    confab_api_error_quark, CONFAB_API_ERROR_TOKEN_EXPIRED, CONFAB_ERROR_TOKEN_EXPIRED },
  { FIRST_NOTHING, NULL, confab_error_quark, CONFAB_ERROR_TIMEOUT, CONFAB_ERROR_TIMEOUT },
  { FIRST_CLOSE, NULL, confab_error_quark, CONFAB_ERROR_CONNECTION_LOST, CONFAB_ERROR_CONNECTION_LOST },
};

static const char *const first_frame_names[] = {
  "not-json", "binary", "no-type", "numeric-connection-id", "empty-connection-id",
  "me-not-object", "array", "error-not-object", "token-expired", "silence", "close-1011",
};

G_STATIC_ASSERT (G_N_ELEMENTS (first_frame_cases) == G_N_ELEMENTS (first_frame_names));

/* /core/transport/websocket/usable */
static void
test_websocket_usable (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  g_autoptr(Recorder) rec = NULL;
  g_autoptr(Recorder) second = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GHashTable) query = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *payload;
  JsonObject *me;

  fake->first = FIRST_HEALTH_CHECK;
  rec = recorder_new_websocket ();
  recorder_start (rec, params);

  /* A second connect while the first is pending is refused, not queued. */
  second = recorder_new (g_object_ref (rec->transport));
  recorder_connect (second, params, WAIT_MS);
  g_assert_error (second->error, CONFAB_ERROR, CONFAB_ERROR_BUSY);

  g_assert_true (core_test_wait_flag (&rec->done, WAIT_MS));
  g_assert_no_error (rec->error);
  g_assert_cmpstr (confab_transport_get_connection_id (rec->transport), ==, "fake-connection-1");
  me = confab_transport_get_me (rec->transport);
  g_assert_nonnull (me);
  g_assert_cmpstr (json_object_get_string_member (me, "name"), ==, "Alice");
  g_assert_cmpint (rec->n_events, ==, 0);

  /* And refused while connected. */
  recorder_connect (second, params, WAIT_MS);
  g_assert_error (second->error, CONFAB_ERROR, CONFAB_ERROR_BUSY);
  g_assert_cmpstr (confab_transport_get_connection_id (rec->transport), ==, "fake-connection-1");

  /* The upgrade carried what Stream's SDK sends. */
  g_assert_nonnull (fake->ws);
  uri = g_uri_ref (soup_websocket_connection_get_uri (fake->ws));
  g_assert_cmpstr (g_uri_get_path (uri), ==, "/connect");
  query = soup_form_decode (g_uri_get_query (uri));
  g_assert_cmpstr (g_hash_table_lookup (query, "api_key"), ==, API_KEY);
  g_assert_cmpstr (g_hash_table_lookup (query, "authorization"), ==, FAKE_TOKEN);
  g_assert_cmpstr (g_hash_table_lookup (query, "stream-auth-type"), ==, "jwt");
  g_assert_true (json_parser_load_from_data (parser, g_hash_table_lookup (query, "json"), -1, NULL));
  payload = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (payload, "user_id"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (payload, "user_details"), "id"),
                   ==, "alice");
  g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (payload, "client_request_id")));

  /* disconnect() closes with 1000 and emits no "lost". */
  confab_transport_disconnect (rec->transport);
  g_assert_true (core_test_wait_flag (&fake->ws_closed, WAIT_MS));
  g_assert_cmpuint (fake->close_code, ==, SOUP_WEBSOCKET_CLOSE_NORMAL);
  g_assert_cmpint (rec->n_lost, ==, 0);
}

static Recorder *
usable_fake_connection (FakeStream *fake)
{
  Recorder *rec;

  fake->first = FIRST_HEALTH_CHECK;
  rec = connect_to_fake (fake, 10000);
  g_assert_no_error (rec->error);
  g_assert_true (rec->ok);
  g_assert_nonnull (fake->ws);
  return rec;
}

/* /core/transport/websocket/junk-after-usable */
static void
test_websocket_junk_after_usable (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(Recorder) rec = usable_fake_connection (fake);
  JsonObject *event;

  soup_websocket_connection_send_text (fake->ws, "garbage, not JSON");
  soup_websocket_connection_send_binary (fake->ws, "\x00\xff\x10", 3);
  soup_websocket_connection_send_text (fake->ws, "{\"no_type\":true}");
  soup_websocket_connection_send_text (fake->ws, "{\"type\":\"\"}");
  soup_websocket_connection_send_text (fake->ws, "{\"type\":7}");
  soup_websocket_connection_send_text (fake->ws, "[{\"type\":\"message.new\"}]");
  soup_websocket_connection_send_text (fake->ws, "\"message.new\"");
  soup_websocket_connection_send_text (fake->ws, "{\"type\":\"message.new\",\"message\":{\"id\":\"m-1\"}}");

  g_assert_true (wait_for_event (rec, "message.new", "m-1", WAIT_MS));
  g_assert_cmpuint (rec->n_events, ==, 1);
  event = g_ptr_array_index (rec->events, 0);
  g_assert_cmpstr (json_object_get_string_member (event, "type"), ==, "message.new");
  g_assert_cmpint (rec->n_lost, ==, 0);
  g_assert_false (fake->ws_closed);
  g_assert_cmpstr (confab_transport_get_connection_id (rec->transport), ==, "fake-connection-1");

  /* Server health checks are events too, and keep it alive. */
  soup_websocket_connection_send_text (fake->ws, "{\"type\":\"health.check\",\"connection_id\":\"fake-connection-1\"}");
  g_assert_true (wait_for_event (rec, "health.check", NULL, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);
}

/* /core/transport/websocket/close/... */
static void
test_websocket_server_close (gconstpointer data)
{
  guint code = GPOINTER_TO_UINT (data);
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(Recorder) rec = usable_fake_connection (fake);

  if (code == SOUP_WEBSOCKET_CLOSE_ABNORMAL)
    {
      /* 1006: the TCP connection just goes. */
      g_assert_nonnull (fake->socket);
      g_assert_true (g_socket_shutdown (fake->socket, TRUE, TRUE, NULL));
    }
  else
    soup_websocket_connection_close (fake->ws, code, "bye");

  g_assert_true (core_test_wait_until (recorder_lost, rec, WAIT_MS));
  g_assert_error (rec->lost_error, CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST);
  g_assert_true (confab_error_is_transient (rec->lost_error));
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_false (confab_transport_probe (rec->transport));

  /* Exactly once, also after a disconnect() that comes too late. */
  confab_transport_disconnect (rec->transport);
  g_assert_cmpuint (rec->n_lost, ==, 1);

  /* The same transport connects again. */
  {
    g_autoptr(ConfabConnectParams) params = fake_params (fake->url);

    recorder_connect (rec, params, WAIT_MS);
    g_assert_no_error (rec->error);
    g_assert_cmpuint (fake->n_upgrades, ==, 2);
    g_assert_cmpstr (confab_transport_get_connection_id (rec->transport), ==, "fake-connection-1");
    g_assert_cmpuint (rec->n_lost, ==, 1);
  }
}

/* /core/transport/websocket/silence */
static void
test_websocket_silence (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(Recorder) rec = NULL;
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  gint64 usable_at;

  fake->first = FIRST_HEALTH_CHECK;
  rec = recorder_new_websocket ();
  g_object_set (rec->transport, "idle-probe-ms", 200, "probe-timeout-ms", 200, NULL);
  recorder_connect (rec, params, WAIT_MS);
  g_assert_no_error (rec->error);
  usable_at = rec->finished_at;

  g_assert_true (core_test_wait_until (recorder_lost, rec, 2000));
  g_test_message ("declared dead %" G_GINT64_FORMAT " ms after usable", (rec->lost_at - usable_at) / 1000);
  g_assert_error (rec->lost_error, CONFAB_ERROR, CONFAB_ERROR_TIMEOUT);
  g_assert_cmpint ((rec->lost_at - usable_at) / 1000, >=, 350);
  g_assert_cmpint ((rec->lost_at - usable_at) / 1000, <, 1000);
  g_assert_cmpuint (rec->n_lost, ==, 1);
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  /* Two probes, both lost ("probe-lost" each), before it gave up. */
  g_assert_cmpuint (rec->n_probe_lost, ==, CONFAB_WEBSOCKET_DEFAULT_MAX_LOST_PROBES);

  /* It asked before giving up, the way Stream's SDK does. */
  g_assert_cmpuint (fake->received->len, >=, CONFAB_WEBSOCKET_DEFAULT_MAX_LOST_PROBES);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (fake->received, 0), "[{\"type\":\"health.check\""));
  /* And it hung up. */
  g_assert_true (core_test_wait_flag (&fake->ws_closed, WAIT_MS));
}

/* /core/transport/websocket/answered-probes-keep-alive */
static void
test_websocket_answered_probes (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(Recorder) rec = NULL;
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  guint answered = 0;

  fake->first = FIRST_HEALTH_CHECK;
  rec = recorder_new_websocket ();
  g_object_set (rec->transport, "idle-probe-ms", 100, "probe-timeout-ms", 500, NULL);
  recorder_connect (rec, params, WAIT_MS);
  g_assert_no_error (rec->error);

  /* Answer three idle probes as Stream does: the connection lives on. */
  while (answered < 3)
    {
      g_assert_true (core_test_wait_count (&fake->received->len, answered + 1, WAIT_MS));
      soup_websocket_connection_send_text (fake->ws, "{\"type\":\"health.check\",\"connection_id\":\"fake-connection-1\"}");
      answered++;
      g_assert_true (core_test_wait_count (&rec->n_rtt, answered, WAIT_MS));
    }
  g_assert_cmpuint (rec->n_lost, ==, 0);
  g_assert_false (fake->ws_closed);
}

static Recorder *
recorder_new_websocket_on (ConfabFakeClock *clock)
{
  return recorder_new (g_object_new (CONFAB_TYPE_WEBSOCKET_TRANSPORT,
                                     "kind", CONFAB_TRANSPORT_KIND_WEBSOCKET,
                                     "clock", clock,
                                     NULL));
}

/* /core/transport/websocket/idle-deadline-moves: the idle probe is due idle-probe-ms
 * after the last frame, on one timer whose deadline a frame moves without a wake-up. */
static void
test_websocket_idle_deadline_moves (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (G_USEC_PER_SEC * 1000);
  g_autoptr(Recorder) rec = NULL;
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  guint fired;

  fake->first = FIRST_HEALTH_CHECK;
  rec = recorder_new_websocket_on (clock);
  g_object_set (rec->transport, "idle-probe-ms", 10000, "probe-timeout-ms", 2500, NULL);
  recorder_connect (rec, params, WAIT_MS);
  g_assert_no_error (rec->error);
  g_assert_true (confab_transport_get_clock (rec->transport) == CONFAB_CLOCK (clock));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);
  fired = confab_fake_clock_get_n_fired (clock);

  /* t = 5 s: the server sends something. */
  confab_fake_clock_advance (clock, 5 * G_USEC_PER_SEC);
  soup_websocket_connection_send_text (fake->ws, "{\"type\":\"user.watching.start\"}");
  g_assert_true (core_test_wait_count (&rec->n_events, 1, WAIT_MS));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);

  /* t = 10 s: no wake-up at all (the old timer fired here and re-armed for 5 s). */
  confab_fake_clock_advance (clock, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (confab_fake_clock_get_n_fired (clock), ==, fired);
  g_assert_cmpuint (fake->received->len, ==, 0);

  /* t = 15 s: ten quiet seconds after the frame, one wake-up, one probe. */
  confab_fake_clock_advance (clock, 5 * G_USEC_PER_SEC - 1);
  g_assert_cmpuint (confab_fake_clock_get_n_fired (clock), ==, fired);
  confab_fake_clock_advance (clock, 1);
  g_assert_cmpuint (confab_fake_clock_get_n_fired (clock), ==, fired + 1);
  g_assert_true (core_test_wait_count (&fake->received->len, 1, WAIT_MS));
  g_assert_true (g_str_has_prefix (g_ptr_array_index (fake->received, 0), "[{\"type\":\"health.check\""));

  /* Answered 40 ms later: an RTT sample, and the next probe 10 s after the answer. */
  confab_fake_clock_advance (clock, 40 * 1000);
  soup_websocket_connection_send_text (fake->ws, "{\"type\":\"health.check\",\"connection_id\":\"fake-connection-1\"}");
  g_assert_true (core_test_wait_count (&rec->n_rtt, 1, WAIT_MS));
  g_assert_cmpuint (rec->last_rtt, ==, 40);
  confab_fake_clock_advance (clock, 10 * G_USEC_PER_SEC - 1);
  g_assert_cmpuint (confab_fake_clock_get_n_fired (clock), ==, fired + 1);
  confab_fake_clock_advance (clock, 1);
  g_assert_cmpuint (confab_fake_clock_get_n_fired (clock), ==, fired + 2);
  g_assert_true (core_test_wait_count (&fake->received->len, 2, WAIT_MS));
  g_assert_cmpuint (rec->n_lost, ==, 0);

  /* Disconnected: no timer left behind. */
  confab_transport_disconnect (rec->transport);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
}

/* /core/transport/websocket/handshake-rtt: the first RTT sample is the upgrade's round
 * trip, not the instant between the 101 and the health.check that follows it. */
static void
test_websocket_handshake_rtt (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (G_USEC_PER_SEC * 1000);
  g_autoptr(Recorder) rec = NULL;
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);

  fake->first = FIRST_HEALTH_CHECK;
  fake->delay_clock = clock;
  fake->delay_us = 100 * 1000;
  rec = recorder_new_websocket_on (clock);
  g_assert_cmpint (confab_transport_get_handshake_rtt_ms (rec->transport), ==, -1);
  recorder_connect (rec, params, WAIT_MS);
  g_assert_no_error (rec->error);
  g_assert_cmpint (confab_transport_get_handshake_rtt_ms (rec->transport), ==, 100);

  /* A new connect measures its own. */
  confab_transport_disconnect (rec->transport);
  fake->delay_us = 30 * 1000;
  recorder_connect (rec, params, WAIT_MS);
  g_assert_no_error (rec->error);
  g_assert_cmpint (confab_transport_get_handshake_rtt_ms (rec->transport), ==, 30);
  confab_transport_disconnect (rec->transport);
}

/* /core/transport/websocket/frame-size */
static char *
padded_event (gsize total)
{
  static const char head[] = "{\"type\":\"big\",\"pad\":\"";
  static const char tail[] = "\"}";
  GString *text = g_string_sized_new (total + 1);

  g_assert_cmpuint (total, >, strlen (head) + strlen (tail));
  g_string_append (text, head);
  while (text->len < total - strlen (tail))
    g_string_append_c (text, 'x');
  g_string_append (text, tail);
  g_assert_cmpuint (text->len, ==, total);
  return g_string_free (text, FALSE);
}

static gboolean
event_or_lost (gpointer user_data)
{
  Recorder *rec = user_data;

  return rec->n_events > 0 || rec->n_lost > 0;
}

static void
test_websocket_frame_size (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(Recorder) rec = usable_fake_connection (fake);
  g_autofree char *largest = padded_event (CONFAB_WEBSOCKET_MAX_FRAME_BYTES);
  g_autofree char *too_big = padded_event (CONFAB_WEBSOCKET_MAX_FRAME_BYTES + 1);

  /* "Frames up to 4 MiB": the limit itself is allowed. */
  soup_websocket_connection_send_text (fake->ws, largest);
  g_assert_true (core_test_wait_until (event_or_lost, rec, 10000));
  if (rec->lost_error != NULL)
    g_test_message ("a frame of exactly the limit ended the connection: %s", rec->lost_error->message);
  g_assert_cmpuint (rec->n_lost, ==, 0);
  g_assert_cmpuint (rec->n_events, ==, 1);
  g_assert_true (recorder_has_event (rec, "big", NULL));

  /* One byte more ends it (libsoup closes with 1009): PROTOCOL when libsoup reported why
   * before the socket went, CONNECTION_LOST when the close won the race. */
  soup_websocket_connection_send_text (fake->ws, too_big);
  g_assert_true (core_test_wait_until (recorder_lost, rec, 10000));
  g_test_message ("a frame over the limit: %s", rec->lost_error->message);
  g_assert_true (g_error_matches (rec->lost_error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL) ||
                 g_error_matches (rec->lost_error, CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST));
  g_assert_true (confab_error_is_transient (rec->lost_error));
  g_assert_cmpuint (rec->n_events, ==, 1);
  g_assert_cmpuint (rec->n_lost, ==, 1);
}

/* A fake Stream long-poll server ----------------------------------------------------------- */

typedef struct
{
  guint       status;   /* 0: hold the request, never answer */
  const char *body;
  const char *retry_after;
} Answer;

#define LONGPOLL_HELLO \
  "{\"event\":{\"type\":\"health.check\",\"connection_id\":\"lp-connection-1\",\"cid\":\"*\"," \
  "\"me\":{\"id\":\"alice\"}},\"duration\":\"0.00ms\"}"

typedef struct
{
  SoupServer *server;
  char       *url;
  Answer      connect;
  Answer      polls[4];          /* in order; then every poll is held */
  guint       n_connects;
  guint       n_polls;
  guint       n_closes;
  char       *poll_connection_id;
  char       *poll_authorization;
  char       *close_connection_id;
  gboolean    token_in_query;
} FakeLongpoll;

static void
answer (SoupServerMessage *msg,
        const Answer      *reply)
{
  if (reply->status == 0)
    {
      soup_server_message_pause (msg);
      return;
    }
  soup_server_message_set_status (msg, reply->status, NULL);
  if (reply->retry_after != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                  reply->retry_after);
  soup_server_message_set_response (msg, g_str_has_prefix (reply->body, "<") ? "text/html" : "application/json",
                                    SOUP_MEMORY_COPY, reply->body, strlen (reply->body));
}

static void
on_fake_longpoll (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  FakeLongpoll *fake = user_data;
  const char *connection_id = query != NULL ? g_hash_table_lookup (query, "connection_id") : NULL;
  const char *authorization = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                            "Authorization");
  static const Answer held = { 0, NULL };

  if (query != NULL && g_hash_table_contains (query, "authorization"))
    fake->token_in_query = TRUE;

  if (query != NULL && g_strcmp0 (g_hash_table_lookup (query, "close"), "true") == 0)
    {
      static const Answer closed = { 200, "{\"duration\":\"0.00ms\"}" };

      fake->n_closes++;
      g_free (fake->close_connection_id);
      fake->close_connection_id = g_strdup (connection_id);
      answer (msg, &closed);
      return;
    }

  if (connection_id == NULL)
    {
      fake->n_connects++;
      answer (msg, &fake->connect);
      return;
    }

  g_free (fake->poll_connection_id);
  fake->poll_connection_id = g_strdup (connection_id);
  g_free (fake->poll_authorization);
  fake->poll_authorization = g_strdup (authorization);
  answer (msg, fake->n_polls < G_N_ELEMENTS (fake->polls) && fake->polls[fake->n_polls].status != 0
               ? &fake->polls[fake->n_polls] : &held);
  fake->n_polls++;
}

static FakeLongpoll *
fake_longpoll_new (void)
{
  FakeLongpoll *fake = g_new0 (FakeLongpoll, 1);
  g_autoptr(GError) error = NULL;

  fake->server = core_test_soup_server_new (&fake->url, &error);
  g_assert_no_error (error);
  fake->connect = (Answer) { 200, LONGPOLL_HELLO };
  soup_server_add_handler (fake->server, "/longpoll", on_fake_longpoll, fake, NULL);
  return fake;
}

static void
fake_longpoll_free (FakeLongpoll *fake)
{
  soup_server_disconnect (fake->server);
  g_object_unref (fake->server);
  g_free (fake->poll_connection_id);
  g_free (fake->poll_authorization);
  g_free (fake->close_connection_id);
  g_free (fake->url);
  g_free (fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeLongpoll, fake_longpoll_free)

static Recorder *
connect_longpoll_to_fake (FakeLongpoll *fake,
                          guint         poll_timeout_ms)
{
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  Recorder *rec = recorder_new_longpoll ();

  g_object_set (rec->transport, "connect-timeout-ms", 2000, "poll-timeout-ms", poll_timeout_ms, NULL);
  recorder_connect (rec, params, WAIT_MS);
  return rec;
}

typedef struct
{
  Answer           reply;
  ConfabErrorCode  classified;
} LongpollCase;

/* /core/transport/longpoll/connect-answer/... */
static void
test_longpoll_connect_answer (gconstpointer data)
{
  const LongpollCase *c = data;
  g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
  g_autoptr(Recorder) rec = NULL;

  fake->connect = c->reply;
  rec = connect_longpoll_to_fake (fake, 30000);
  g_assert_cmpuint (fake->n_connects, ==, 1);
  g_assert_false (rec->ok);
  assert_classified (rec->error, c->classified);
  g_assert_cmpint (recorder_connect_ms (rec), <, 1000);
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_null (confab_transport_get_connection_id (rec->transport));
  g_assert_cmpuint (fake->n_polls, ==, 0);
  g_assert_cmpint (rec->n_lost, ==, 0);

  /* A failed connect has nothing to close. */
  confab_transport_disconnect (rec->transport);
  g_assert_cmpuint (fake->n_closes, ==, 0);
}

static const LongpollCase longpoll_truncated = {
  { 200, "{\"event\":{\"type\":\"health.check\",\"connection_id\":\"lp-" }, CONFAB_ERROR_PROTOCOL
};
static const LongpollCase longpoll_html_502 = {
  { 502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>" }, CONFAB_ERROR_SERVER
};
static const LongpollCase longpoll_bad_signature = {
  { 401, "{\"code\":43,\"message\":\"JWTAuth error: signature is not valid\",\"StatusCode\":401,"
         "\"duration\":\"0.01ms\"}" }, CONFAB_ERROR_AUTH
};
static const LongpollCase longpoll_no_connection_id = {
  { 200, "{\"event\":{\"type\":\"health.check\"}}" }, CONFAB_ERROR_PROTOCOL
};
static const LongpollCase longpoll_not_object = {
  { 200, "[]" }, CONFAB_ERROR_PROTOCOL
};
static const LongpollCase longpoll_error_event = {
  { 200, "{\"event\":{\"type\":\"connection.error\",\"error\":{\"code\":40,\"message\":\"JWTAuth error: token is "
         "expired (exp)\",\"StatusCode\":401}}}" }, CONFAB_ERROR_TOKEN_EXPIRED
};

/* /core/transport/longpoll/usable */
static void
test_longpoll_usable (void)
{
  g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
  g_autoptr(Recorder) rec = NULL;

  fake->polls[0] = (Answer) { 200, "{\"events\":[1,\"x\",null,{},{\"type\":5},"
                                   "{\"type\":\"message.new\",\"message\":{\"id\":\"m-1\"}}]}" };
  fake->polls[1] = (Answer) { 200, "{\"duration\":\"20000ms\"}" };
  fake->polls[2] = (Answer) { 200, "{\"events\":null}" };
  fake->polls[3] = (Answer) { 200, "{\"events\":[{\"type\":\"message.new\",\"message\":{\"id\":\"m-2\"}}]}" };
  rec = connect_longpoll_to_fake (fake, 30000);
  g_assert_no_error (rec->error);
  g_assert_cmpstr (confab_transport_get_connection_id (rec->transport), ==, "lp-connection-1");
  g_assert_cmpstr (json_object_get_string_member (confab_transport_get_me (rec->transport), "id"), ==, "alice");

  /* Junk in the events array is skipped; empty answers just poll again. */
  g_assert_true (wait_for_event (rec, "message.new", "m-2", WAIT_MS));
  g_assert_true (recorder_has_event (rec, "message.new", "m-1"));
  g_assert_cmpuint (rec->n_events, ==, 2);
  g_assert_true (core_test_wait_count (&fake->n_polls, 5, WAIT_MS));
  g_assert_cmpint (rec->n_lost, ==, 0);

  /* Polls echo the connection id; the token travels in a header, never in a URL. */
  g_assert_cmpstr (fake->poll_connection_id, ==, "lp-connection-1");
  g_assert_cmpstr (fake->poll_authorization, ==, FAKE_TOKEN);
  g_assert_false (fake->token_in_query);

  confab_transport_disconnect (rec->transport);
  g_assert_true (core_test_wait_count (&fake->n_closes, 1, WAIT_MS));
  g_assert_cmpstr (fake->close_connection_id, ==, "lp-connection-1");
  g_assert_cmpint (rec->n_lost, ==, 0);
}

/* /core/transport/longpoll/close-after-unref */
static void
test_longpoll_close_after_unref (void)
{
  g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
  Recorder *rec = connect_longpoll_to_fake (fake, 30000);

  g_assert_no_error (rec->error);
  g_assert_true (core_test_wait_count (&fake->n_polls, 1, WAIT_MS));

  /* The usual owner pattern: disconnect, then drop the transport at once. The polite
   * close must still reach the server. */
  confab_transport_disconnect (rec->transport);
  recorder_free (rec);
  g_assert_true (core_test_wait_count (&fake->n_closes, 1, WAIT_MS));
  g_assert_cmpstr (fake->close_connection_id, ==, "lp-connection-1");
}

/* /core/transport/longpoll/poll-answer/... */
static void
test_longpoll_poll_answer (gconstpointer data)
{
  const LongpollCase *c = data;
  g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
  g_autoptr(Recorder) rec = NULL;

  fake->polls[0] = c->reply;
  /* A short poll timeout only where it is the point, so a slow machine never turns
   * an answer into a timeout. */
  rec = connect_longpoll_to_fake (fake, c->reply.status == 0 ? 300 : 10000);
  g_assert_no_error (rec->error);
  g_assert_true (rec->ok);

  g_assert_true (core_test_wait_until (recorder_lost, rec, WAIT_MS));
  assert_classified (rec->lost_error, c->classified);
  if (c->reply.status == 0)
    g_assert_cmpint ((rec->lost_at - rec->finished_at) / 1000, >=, 250);
  g_assert_cmpuint (rec->n_lost, ==, 1);
  g_assert_cmpuint (fake->n_polls, ==, 1);
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_cmpuint (rec->n_events, ==, 0);

  /* A lost connection is not resurrected by a late disconnect(). */
  confab_transport_disconnect (rec->transport);
  g_assert_cmpuint (rec->n_lost, ==, 1);
}

static const LongpollCase poll_events_not_array = {
  { 200, "{\"events\":\"x\"}" }, CONFAB_ERROR_PROTOCOL
};
static const LongpollCase poll_connection_id_not_found = {
  { 400, "{\"code\":46,\"message\":\"connection_id not found\",\"StatusCode\":400}" }, CONFAB_ERROR_CONNECTION_LOST
};
static const LongpollCase poll_never_answered = {
  { 0, NULL }, CONFAB_ERROR_TIMEOUT
};
static const LongpollCase poll_html_503 = {
  { 503, "<html>Service Unavailable</html>" }, CONFAB_ERROR_SERVER
};
static const LongpollCase poll_truncated = {
  { 200, "{\"events\":[{\"type\":\"message.new\"" }, CONFAB_ERROR_PROTOCOL
};

/* /core/transport/websocket/upgrade-rate-limited */
static void
test_websocket_upgrade_rate_limited (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (429);
  g_autoptr(Recorder) rec = NULL;
  gint64 before = g_get_real_time ();
  gint64 retry_at;

  fake->http_body = "{\"code\":9,\"message\":\"Too many requests\",\"StatusCode\":429}";
  fake->http_retry_after = "7";
  rec = connect_to_fake (fake, 10000);
  g_assert_false (rec->ok);
  g_assert_error (rec->error, CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED);
  g_assert_true (confab_error_is_transient (rec->error));
  retry_at = confab_transport_get_retry_at (rec->transport);
  g_assert_cmpint (retry_at, >=, before + 7 * G_USEC_PER_SEC);
  g_assert_cmpint (retry_at, <=, g_get_real_time () + 7 * G_USEC_PER_SEC);

  /* The next attempt starts clean. */
  fake->http_retry_after = NULL;
  {
    g_autoptr(ConfabConnectParams) params = fake_params (fake->url);

    recorder_connect (rec, params, WAIT_MS);
    g_assert_error (rec->error, CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED);
    g_assert_cmpint (confab_transport_get_retry_at (rec->transport), ==, 0);
  }
}

/* A first frame of "[[[[…" that json-glib would recurse into until the stack ends. */
static char *
deeply_nested (gsize depth)
{
  GString *text = g_string_sized_new (depth * 2);

  for (gsize i = 0; i < depth; i++)
    g_string_append_c (text, '[');
  for (gsize i = 0; i < depth; i++)
    g_string_append_c (text, ']');
  return g_string_free (text, FALSE);
}

/* /core/transport/websocket/deep-nesting */
static void
test_websocket_deep_nesting (void)
{
  g_autofree char *deep = deeply_nested (1000000);
  g_autofree char *deep_object = g_strdup_printf ("{\"type\":\"message.new\",\"x\":%s}", deep);

  /* As the first frame: refused, no crash. */
  {
    g_autoptr(FakeStream) fake = fake_stream_new (0);
    g_autoptr(Recorder) rec = NULL;

    fake->first = FIRST_TEXT;
    fake->first_text = deep;
    rec = connect_to_fake (fake, 10000);
    g_assert_error (rec->error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL);
  }

  /* Later: dropped like other junk; the connection goes on. */
  {
    g_autoptr(FakeStream) fake = fake_stream_new (0);
    g_autoptr(Recorder) rec = usable_fake_connection (fake);

    soup_websocket_connection_send_text (fake->ws, deep_object);
    soup_websocket_connection_send_text (fake->ws, "{\"type\":\"message.new\",\"message\":{\"id\":\"after\"}}");
    g_assert_true (wait_for_event (rec, "message.new", "after", 10000));
    g_assert_cmpuint (rec->n_events, ==, 1);
    g_assert_cmpuint (rec->n_lost, ==, 0);
  }
}

/* Answers the client's health.check pings by the test's rule. */
typedef struct
{
  FakeStream *fake;
  guint       seen;       /* pings seen so far */
  guint       answered;
  gboolean    answer_odd; /* answer the 2nd, 4th… ping, ignore the 1st, 3rd… */
} PingPeer;

static gboolean
peer_has_pings (gpointer user_data)
{
  PingPeer *peer = user_data;

  return peer->fake->received->len > peer->seen;
}

/* Waits for the next ping; answers it when the rule says so. */
static void
peer_take_ping (PingPeer *peer)
{
  g_assert_true (core_test_wait_until (peer_has_pings, peer, WAIT_MS));
  g_assert_true (g_str_has_prefix (g_ptr_array_index (peer->fake->received, peer->seen), "[{\"type\":\"health.check\""));
  peer->seen++;
  if (peer->answer_odd && peer->seen % 2 == 0)
    {
      soup_websocket_connection_send_text (peer->fake->ws,
                                           "{\"type\":\"health.check\",\"connection_id\":\"fake-connection-1\"}");
      peer->answered++;
    }
}

/* /core/transport/websocket/probe-loss */
static void
test_websocket_probe_loss (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  g_autoptr(Recorder) rec = NULL;
  PingPeer peer = { fake, 0, 0, TRUE };

  fake->first = FIRST_HEALTH_CHECK;
  rec = recorder_new_websocket ();
  g_object_set (rec->transport, "idle-probe-ms", 50, "probe-timeout-ms", 300, NULL);
  recorder_connect (rec, params, WAIT_MS);
  g_assert_no_error (rec->error);

  /* Every other ping answered: each unanswered one is a "probe-lost", the link lives. */
  for (guint round = 1; round <= 3; round++)
    {
      peer_take_ping (&peer);   /* ignored */
      g_assert_true (core_test_wait_count (&rec->n_probe_lost, round, WAIT_MS));
      peer_take_ping (&peer);   /* answered */
      g_assert_true (core_test_wait_count (&rec->n_rtt, round, WAIT_MS));
    }
  g_assert_cmpuint (rec->n_probe_lost, ==, 3);
  g_assert_cmpuint (rec->n_lost, ==, 0);
  g_assert_false (fake->ws_closed);

  /* A peer that ignores pings but keeps talking: lost probes, a live link. */
  peer.answer_odd = FALSE;
  for (guint i = 0; i < 2; i++)
    {
      guint before = rec->n_probe_lost;

      peer_take_ping (&peer);
      soup_websocket_connection_send_text (fake->ws, "{\"type\":\"user.presence.changed\"}");
      g_assert_true (core_test_wait_count (&rec->n_probe_lost, before + 1, WAIT_MS));
    }
  g_assert_cmpuint (rec->n_lost, ==, 0);

  /* Silence and no answers: two lost probes in a row, then dead. */
  g_assert_true (core_test_wait_until (recorder_lost, rec, WAIT_MS));
  g_assert_error (rec->lost_error, CONFAB_ERROR, CONFAB_ERROR_TIMEOUT);
  g_assert_cmpuint (rec->n_lost, ==, 1);
}

/* /core/transport/longpoll/rate-limited */
static void
test_longpoll_rate_limited (void)
{
  static const Answer stream_json = { 429, "{\"code\":9,\"message\":\"Too many requests\",\"StatusCode\":429}", "3" };
  static const Answer html = { 429, "<html>slow down</html>", NULL };
  const Answer *answers[] = { &stream_json, &html };

  for (guint i = 0; i < G_N_ELEMENTS (answers); i++)
    {
      g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
      g_autoptr(Recorder) rec = NULL;
      gint64 before = g_get_real_time ();

      fake->connect = *answers[i];
      rec = connect_longpoll_to_fake (fake, 30000);
      g_assert_false (rec->ok);
      assert_classified (rec->error, CONFAB_ERROR_RATE_LIMITED);
      if (answers[i]->retry_after != NULL)
        g_assert_cmpint (confab_transport_get_retry_at (rec->transport), >=, before + 3 * G_USEC_PER_SEC);
      else
        g_assert_cmpint (confab_transport_get_retry_at (rec->transport), ==, 0);
    }
}

/* /core/transport/longpoll/deep-nesting */
static void
test_longpoll_deep_nesting (void)
{
  g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
  g_autoptr(Recorder) rec = NULL;
  g_autofree char *deep = deeply_nested (1000000);
  g_autofree char *body = g_strdup_printf ("{\"events\":%s}", deep);

  fake->polls[0] = (Answer) { 200, body, NULL };
  rec = connect_longpoll_to_fake (fake, 10000);
  g_assert_no_error (rec->error);
  g_assert_true (core_test_wait_until (recorder_lost, rec, WAIT_MS));
  assert_classified (rec->lost_error, CONFAB_ERROR_PROTOCOL);
  g_assert_cmpuint (rec->n_events, ==, 0);
}

/* libsoup will not send invalid UTF-8 in a text frame, so the fake writes the frame
 * itself: FIN + text, unmasked (server to client), a short length, the bytes. */
static void
send_raw_text_frame (FakeStream *fake,
                     const char *data,
                     gsize       length)
{
  g_autoptr(GError) error = NULL;
  guint8 frame[128];

  g_assert_cmpuint (length, <, 126);
  frame[0] = 0x81;
  frame[1] = (guint8) length;
  memcpy (frame + 2, data, length);
  g_assert_cmpint (g_socket_send (fake->socket, (const char *) frame, length + 2, NULL, &error), ==, (gssize) length + 2);
  g_assert_no_error (error);
}

/* /core/transport/websocket/invalid-utf8 */
static void
test_websocket_invalid_utf8 (void)
{
  static const char bad[] = "{\"type\":\"message.new\",\"text\":\"\xff\xfe\"}";

  /* As the first frame: the connect fails, saying why. */
  {
    g_autoptr(FakeStream) fake = fake_stream_new (0);
    g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
    g_autoptr(Recorder) rec = recorder_new_websocket ();

    fake->first = FIRST_NOTHING;
    recorder_start (rec, params);
    g_assert_true (core_test_wait_count (&fake->n_upgrades, 1, WAIT_MS));
    send_raw_text_frame (fake, bad, sizeof bad - 1);
    g_assert_true (core_test_wait_flag (&rec->done, WAIT_MS));
    g_assert_error (rec->error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL);
    g_assert_cmpint (rec->n_lost, ==, 0);
  }

  /* Later: libsoup closes the socket (1007); "lost" says it was the protocol. */
  {
    g_autoptr(FakeStream) fake = fake_stream_new (0);
    g_autoptr(Recorder) rec = usable_fake_connection (fake);

    send_raw_text_frame (fake, bad, sizeof bad - 1);
    g_assert_true (core_test_wait_until (recorder_lost, rec, WAIT_MS));
    g_assert_error (rec->lost_error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL);
    g_assert_true (confab_error_is_transient (rec->lost_error));
    g_assert_cmpuint (rec->n_events, ==, 0);
  }
}

/* /core/transport/websocket/liveness-defaults: the numbers behind "a dead link is noticed
 * well under Stream's 35 s"; the mechanism is proven at a smaller scale by ./silence. */
static void
test_websocket_liveness_defaults (void)
{
  g_autoptr(ConfabTransport) transport = confab_websocket_transport_new ();
  guint idle = 0;
  guint timeout = 0;
  guint max_lost = 0;
  guint connect = 0;

  g_object_get (transport, "idle-probe-ms", &idle, "probe-timeout-ms", &timeout,
                "max-lost-probes", &max_lost, "connect-timeout-ms", &connect, NULL);
  g_assert_cmpuint (idle, ==, CONFAB_WEBSOCKET_DEFAULT_IDLE_PROBE_MS);
  g_assert_cmpuint (timeout, ==, CONFAB_WEBSOCKET_DEFAULT_PROBE_TIMEOUT_MS);
  g_assert_cmpuint (max_lost, ==, CONFAB_WEBSOCKET_DEFAULT_MAX_LOST_PROBES);
  /* The worst case from the last frame to "lost": idle, then every probe's deadline. */
  g_assert_cmpuint (idle + max_lost * timeout, <=, 15000);
  g_assert_cmpuint (connect, >, 0);
  g_assert_cmpuint (connect, <=, 10000);
}

static char *
tls_data_path (const char *name)
{
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");

  if (srcdir != NULL)
    return g_build_filename (srcdir, "..", "sandbox", "data", name, NULL);
  return g_build_filename ("tests", "sandbox", "data", name, NULL);
}

static gboolean
manager_reconnecting (gpointer user_data)
{
  return confab_connection_manager_get_state (user_data) == CONFAB_CONNECTION_STATE_RECONNECTING;
}

static void
untrusted_tls_child (void)
{
  g_autofree char *cert_path = tls_data_path ("test-cert.pem");
  g_autofree char *key_path = tls_data_path ("test-key.pem");
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autoptr(FakeStream) fake = fake_stream_new (0);   /* only for its handlers' state */
  GSList *uris;

  certificate = g_tls_certificate_new_from_files (cert_path, key_path, &error);
  g_assert_no_error (error);
  server = soup_server_new ("tls-certificate", certificate, NULL);
  soup_server_add_websocket_handler (server, "/connect", NULL, NULL, on_fake_ws, fake, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY | SOUP_SERVER_LISTEN_HTTPS, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("https://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  /* Both strategies refuse a certificate the system does not trust, and say so. */
  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(ConfabConnectParams) params = fake_params (url);
      g_autoptr(Recorder) rec = kind == 0 ? recorder_new_websocket () : recorder_new_longpoll ();

      recorder_connect (rec, params, WAIT_MS);
      g_assert_false (rec->ok);
      g_assert_error (rec->error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
      assert_classified (rec->error, CONFAB_ERROR_TLS);
      g_assert_false (confab_error_is_transient (rec->error));
      g_assert_nonnull (strstr (rec->error->message, "certificate"));
      g_assert_true (stages_contain (rec->stages, CONFAB_STAGE_TLS));
    }
  g_assert_cmpuint (fake->n_upgrades, ==, 0);

  /* The manager keeps the error for the UI: CONFAB_ERROR_TLS by classification, with a
   * message that names the certificate; no token went out. */
  {
    g_autofree char *token = core_test_sign_jwt ("{\"user_id\":\"alice\"}", API_SECRET);
    g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));
    g_autoptr(ConfabConnectionManager) manager = confab_connection_manager_new (url, API_KEY, provider);
    const GError *last;

    confab_connection_manager_connect_async (manager, "alice", NULL, NULL, NULL, NULL);
    g_assert_true (core_test_wait_until (manager_reconnecting, manager, WAIT_MS));
    last = confab_connection_manager_get_last_error (manager);
    g_assert_nonnull (last);
    g_assert_cmpint (confab_error_classify (last), ==, CONFAB_ERROR_TLS);
    g_assert_nonnull (strstr (last->message, "certificate"));
    g_assert_cmpuint (fake->n_upgrades, ==, 0);
    confab_connection_manager_disconnect (manager);
  }
  soup_server_disconnect (server);
}

/* /core/transport/untrusted-certificate (in a child: see the stream client's test for why) */
static void
test_untrusted_certificate (void)
{
  if (g_test_subprocess ())
    {
      untrusted_tls_child ();
#ifdef __SANITIZE_ADDRESS__
      _exit (0);
#endif
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* Cancelling and re-entrancy --------------------------------------------------------------- */

typedef struct
{
  Recorder *rec;
  guint    *n_upgrades;
} AuthenticatingCondition;

static gboolean
is_authenticating (gpointer user_data)
{
  AuthenticatingCondition *condition = user_data;

  return *condition->n_upgrades > 0 &&
         confab_transport_get_stage (condition->rec->transport) == CONFAB_STAGE_AUTHENTICATING;
}

/* /core/transport/cancel/already-cancelled */
static void
test_cancel_already_cancelled (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(FakeLongpoll) lp = fake_longpoll_new ();

  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(ConfabConnectParams) params = fake_params (kind == 0 ? fake->url : lp->url);
      g_autoptr(Recorder) rec = kind == 0 ? recorder_new_websocket () : recorder_new_longpoll ();

      rec->cancellable = g_cancellable_new ();
      g_cancellable_cancel (rec->cancellable);
      recorder_connect (rec, params, WAIT_MS);
      g_assert_error (rec->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
      g_assert_null (confab_transport_get_connection_id (rec->transport));
      g_assert_cmpint (rec->n_lost, ==, 0);
    }
  g_assert_cmpuint (fake->n_upgrades, ==, 0);
  g_assert_cmpuint (lp->n_connects, ==, 0);
}

/* /core/transport/cancel/websocket-handshake */
static void
test_cancel_websocket_handshake (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CoreTestBlackHole) hole = core_test_black_hole_new (&error);
  g_autofree char *url = NULL;
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = recorder_new_websocket ();

  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u", hole->port);
  params = fake_params (url);
  core_test_black_hole_watch (hole);

  g_object_set (rec->transport, "connect-timeout-ms", 5000, NULL);
  rec->cancellable = g_cancellable_new ();
  recorder_start (rec, params);
  g_assert_true (core_test_wait_until (hole_has_connection, hole, WAIT_MS));
  g_cancellable_cancel (rec->cancellable);
  g_assert_true (core_test_wait_flag (&rec->done, 1000));
  g_assert_error (rec->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (core_test_wait_count (&hole->n_closed, 1, WAIT_MS));
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_cmpint (rec->n_lost, ==, 0);
}

/* /core/transport/cancel/websocket-authenticating: upgraded, no health.check yet */
static void
test_cancel_websocket_authenticating (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  g_autoptr(Recorder) rec = recorder_new_websocket ();
  AuthenticatingCondition condition = { rec, &fake->n_upgrades };

  fake->first = FIRST_NOTHING;
  g_object_set (rec->transport, "connect-timeout-ms", 5000, NULL);
  rec->cancellable = g_cancellable_new ();
  recorder_start (rec, params);
  g_assert_true (core_test_wait_until (is_authenticating, &condition, WAIT_MS));

  g_cancellable_cancel (rec->cancellable);
  if (!core_test_wait_flag (&rec->done, 1000))
    g_test_message ("cancelling in AUTHENTICATING did not end the connect within 1 s");
  g_assert_true (rec->done);
  g_assert_error (rec->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Nothing stays open behind a connect the caller was told had failed. */
  g_assert_true (core_test_wait_flag (&fake->ws_closed, WAIT_MS));
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_false (confab_transport_probe (rec->transport));
  g_assert_cmpint (rec->n_lost, ==, 0);
}

/* /core/transport/cancel/longpoll-connect */
static void
test_cancel_longpoll_connect (void)
{
  g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  g_autoptr(Recorder) rec = recorder_new_longpoll ();

  fake->connect = (Answer) { 0, NULL };   /* held */
  rec->cancellable = g_cancellable_new ();
  recorder_start (rec, params);
  g_assert_true (core_test_wait_count (&fake->n_connects, 1, WAIT_MS));
  g_cancellable_cancel (rec->cancellable);
  g_assert_true (core_test_wait_flag (&rec->done, 1000));
  g_assert_error (rec->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_null (confab_transport_get_connection_id (rec->transport));
  g_assert_cmpuint (fake->n_polls, ==, 0);
  g_assert_cmpint (rec->n_lost, ==, 0);
}

static void
disconnect_on_event (ConfabTransport *transport,
                     JsonObject      *event,
                     gpointer         user_data)
{
  confab_transport_disconnect (transport);
}

/* /core/transport/websocket/disconnect-in-handler */
static void
test_websocket_disconnect_in_handler (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(Recorder) rec = usable_fake_connection (fake);

  g_signal_connect (rec->transport, "event", G_CALLBACK (disconnect_on_event), NULL);
  soup_websocket_connection_send_text (fake->ws, "{\"type\":\"message.new\",\"message\":{\"id\":\"m-1\"}}");
  soup_websocket_connection_send_text (fake->ws, "{\"type\":\"message.new\",\"message\":{\"id\":\"m-2\"}}");
  g_assert_true (core_test_wait_flag (&fake->ws_closed, WAIT_MS));
  g_assert_cmpuint (rec->n_events, ==, 1);
  g_assert_true (recorder_has_event (rec, "message.new", "m-1"));
  g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
  g_assert_cmpint (rec->n_lost, ==, 0);
  g_signal_handlers_disconnect_by_func (rec->transport, disconnect_on_event, NULL);
}

typedef struct
{
  ConfabTransport *transport;   /* the only reference */
  guint            n_lost;
  GError          *error;
} Owner;

static void
owner_drops_on_lost (ConfabTransport *transport,
                     const GError    *error,
                     gpointer         user_data)
{
  Owner *owner = user_data;

  owner->n_lost++;
  owner->error = g_error_copy (error);
  /* What a connection manager does: forget this transport from inside the signal. */
  g_clear_object (&owner->transport);
}

static void
on_owner_connected (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  gboolean *ok = user_data;
  g_autoptr(GError) error = NULL;

  *ok = confab_transport_connect_finish (CONFAB_TRANSPORT (source), result, &error);
  g_assert_no_error (error);
}

static gboolean
owner_gone (gpointer user_data)
{
  Owner *owner = user_data;

  return owner->n_lost > 0;
}

/* /core/transport/websocket/unref-in-lost */
static void
test_websocket_unref_in_lost (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  Owner owner = { confab_websocket_transport_new (), 0, NULL };
  gpointer alive = NULL;
  gboolean ok = FALSE;

  fake->first = FIRST_HEALTH_CHECK;
  alive = owner.transport;
  g_object_add_weak_pointer (G_OBJECT (owner.transport), &alive);
  g_signal_connect (owner.transport, "lost", G_CALLBACK (owner_drops_on_lost), &owner);
  confab_transport_connect_async (owner.transport, params, NULL, on_owner_connected, &ok);
  g_assert_true (core_test_wait_flag (&ok, WAIT_MS));

  soup_websocket_connection_close (fake->ws, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
  g_assert_true (core_test_wait_until (owner_gone, &owner, WAIT_MS));
  g_assert_error (owner.error, CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST);
  g_assert_null (owner.transport);
  g_assert_null (alive);   /* finalized */
  g_clear_error (&owner.error);
}

/* /core/transport/longpoll/disconnect-in-handler */
static void
test_longpoll_disconnect_in_handler (void)
{
  g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
  g_autoptr(Recorder) rec = NULL;

  fake->polls[0] = (Answer) { 200, "{\"events\":[{\"type\":\"message.new\",\"message\":{\"id\":\"m-1\"}},"
                                   "{\"type\":\"message.new\",\"message\":{\"id\":\"m-2\"}}]}" };
  rec = recorder_new_longpoll ();
  g_signal_connect (rec->transport, "event", G_CALLBACK (disconnect_on_event), NULL);
  {
    g_autoptr(ConfabConnectParams) params = fake_params (fake->url);

    recorder_connect (rec, params, WAIT_MS);
  }
  g_assert_no_error (rec->error);
  g_assert_true (core_test_wait_count (&fake->n_closes, 1, WAIT_MS));
  g_assert_cmpuint (rec->n_events, ==, 1);
  g_assert_cmpuint (fake->n_polls, ==, 1);
  g_assert_cmpint (rec->n_lost, ==, 0);
  g_signal_handlers_disconnect_by_func (rec->transport, disconnect_on_event, NULL);
}

/* /core/transport/longpoll/unref-in-lost */
static void
test_longpoll_unref_in_lost (void)
{
  g_autoptr(FakeLongpoll) fake = fake_longpoll_new ();
  g_autoptr(ConfabConnectParams) params = fake_params (fake->url);
  Owner owner = { confab_longpoll_transport_new (), 0, NULL };
  gpointer alive = NULL;
  gboolean ok = FALSE;

  fake->polls[0] = poll_connection_id_not_found.reply;
  alive = owner.transport;
  g_object_add_weak_pointer (G_OBJECT (owner.transport), &alive);
  g_signal_connect (owner.transport, "lost", G_CALLBACK (owner_drops_on_lost), &owner);
  confab_transport_connect_async (owner.transport, params, NULL, on_owner_connected, &ok);
  g_assert_true (core_test_wait_flag (&ok, WAIT_MS));
  g_assert_true (core_test_wait_until (owner_gone, &owner, WAIT_MS));
  g_assert_error (owner.error, CONFAB_API_ERROR, CONFAB_API_ERROR_CONNECTION_ID_NOT_FOUND);
  g_clear_error (&owner.error);
  g_assert_null (owner.transport);
  g_assert_null (alive);   /* finalized once the poll callback returned */
}

/* Addresses and frames the client builds ----------------------------------------------------- */

/* /core/transport/websocket/base-url-path */
static void
test_websocket_base_url_path (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autofree char *base = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = recorder_new_websocket ();

  /* A proxy that serves Stream under a prefix. */
  soup_server_remove_handler (fake->server, "/connect");
  soup_server_add_websocket_handler (fake->server, "/chat/connect", NULL, NULL, on_fake_ws, fake, NULL);
  fake->first = FIRST_HEALTH_CHECK;
  base = g_strdup_printf ("%s/chat/", fake->url);
  expected = g_strdup_printf ("ws://%s/chat/connect", fake->url + strlen ("http://"));
  params = fake_params (base);

  recorder_connect (rec, params, WAIT_MS);
  g_assert_no_error (rec->error);
  g_assert_cmpstr (confab_transport_get_endpoint (rec->transport), ==, expected);
}

/* /core/transport/websocket/probe-frame */
static void
test_websocket_probe_frame (void)
{
  g_autoptr(FakeStream) fake = fake_stream_new (0);
  g_autoptr(ConfabConnectParams) params = NULL;
  g_autoptr(Recorder) rec = recorder_new_websocket ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *probe;

  /* An id that needs escaping in JSON must not break the probe. */
  params = confab_connect_params_new (fake->url, API_KEY, "o\"brien\\x", FAKE_TOKEN);
  fake->first = FIRST_HEALTH_CHECK;
  recorder_connect (rec, params, WAIT_MS);
  g_assert_no_error (rec->error);

  g_assert_true (confab_transport_probe (rec->transport));
  g_assert_true (core_test_wait_count (&fake->received->len, 1, WAIT_MS));
  if (!json_parser_load_from_data (parser, g_ptr_array_index (fake->received, 0), -1, NULL))
    g_test_message ("probe frame is not JSON: %s", (char *) g_ptr_array_index (fake->received, 0));
  root = json_parser_get_root (parser);
  g_assert_nonnull (root);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  probe = json_array_get_object_element (json_node_get_array (root), 0);
  g_assert_cmpstr (json_object_get_string_member (probe, "type"), ==, "health.check");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (probe, "client_id"), "o\"brien\\x--"));
}

/* Bad parameters ------------------------------------------------------------------------- */

#define COUNTING_TYPE_RESOLVER (counting_resolver_get_type ())
G_DECLARE_FINAL_TYPE (CountingResolver, counting_resolver, COUNTING, RESOLVER, GResolver)

struct _CountingResolver
{
  GResolver parent_instance;
  guint     n_lookups;
};

G_DEFINE_FINAL_TYPE (CountingResolver, counting_resolver, G_TYPE_RESOLVER)

static GList *
counting_lookup_by_name (GResolver     *resolver,
                         const char    *hostname,
                         GCancellable  *cancellable,
                         GError       **error)
{
  COUNTING_RESOLVER (resolver)->n_lookups++;
  g_set_error_literal (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no lookups in this test");
  return NULL;
}

static void
counting_lookup_by_name_async (GResolver           *resolver,
                               const char          *hostname,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (resolver, cancellable, callback, user_data);

  COUNTING_RESOLVER (resolver)->n_lookups++;
  g_task_return_new_error (task, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no lookups in this test");
}

static GList *
counting_lookup_by_name_finish (GResolver     *resolver,
                                GAsyncResult  *result,
                                GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static GList *
counting_lookup_by_name_with_flags (GResolver                 *resolver,
                                    const char                *hostname,
                                    GResolverNameLookupFlags   flags,
                                    GCancellable              *cancellable,
                                    GError                   **error)
{
  return counting_lookup_by_name (resolver, hostname, cancellable, error);
}

static void
counting_lookup_by_name_with_flags_async (GResolver                *resolver,
                                          const char               *hostname,
                                          GResolverNameLookupFlags  flags,
                                          GCancellable             *cancellable,
                                          GAsyncReadyCallback       callback,
                                          gpointer                  user_data)
{
  counting_lookup_by_name_async (resolver, hostname, cancellable, callback, user_data);
}

static void
counting_resolver_class_init (CountingResolverClass *klass)
{
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  resolver_class->lookup_by_name = counting_lookup_by_name;
  resolver_class->lookup_by_name_async = counting_lookup_by_name_async;
  resolver_class->lookup_by_name_finish = counting_lookup_by_name_finish;
  resolver_class->lookup_by_name_with_flags = counting_lookup_by_name_with_flags;
  resolver_class->lookup_by_name_with_flags_async = counting_lookup_by_name_with_flags_async;
  resolver_class->lookup_by_name_with_flags_finish = counting_lookup_by_name_finish;
}

static void
counting_resolver_init (CountingResolver *self)
{
}

/* /core/transport/bad-params */
static void
test_bad_params (void)
{
  static const struct {
    const char      *base_url;
    const char      *token;
    ConfabErrorCode  expected;
  } cases[] = {
    { "http://example.com", FAKE_TOKEN, CONFAB_ERROR_INSECURE_URL },
    { "ws://example.com", FAKE_TOKEN, CONFAB_ERROR_INSECURE_URL },
    { "http://127.0.0.1.example.com", FAKE_TOKEN, CONFAB_ERROR_INSECURE_URL },
    { "ftp://127.0.0.1", FAKE_TOKEN, CONFAB_ERROR_INSECURE_URL },
    { "not a url", FAKE_TOKEN, CONFAB_ERROR_INSECURE_URL },
    { "", FAKE_TOKEN, CONFAB_ERROR_INSECURE_URL },
    { NULL, FAKE_TOKEN, CONFAB_ERROR_INSECURE_URL },
    { "https://chat.example.com", NULL, CONFAB_ERROR_AUTH },
  };
  g_autoptr(GResolver) previous = g_resolver_get_default ();
  g_autoptr(CountingResolver) resolver = g_object_new (COUNTING_TYPE_RESOLVER, NULL);

  g_resolver_set_default (G_RESOLVER (resolver));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint kind = 0; kind < 2; kind++)
      {
        g_autoptr(ConfabConnectParams) params = confab_connect_params_new (cases[i].base_url, API_KEY, "alice",
                                                                           cases[i].token);
        g_autoptr(Recorder) rec = kind == 0 ? recorder_new_websocket () : recorder_new_longpoll ();

        g_test_message ("base URL %s, %s", cases[i].base_url, kind == 0 ? "websocket" : "long-poll");
        recorder_connect (rec, params, WAIT_MS);
        g_assert_false (rec->ok);
        g_assert_error (rec->error, CONFAB_ERROR, (int) cases[i].expected);
        g_assert_false (confab_error_is_transient (rec->error));
        /* Refused before any network activity: no lookup, no stage, no endpoint. */
        g_assert_cmpuint (resolver->n_lookups, ==, 0);
        g_assert_cmpuint (rec->stages->len, ==, 0);
        g_assert_cmpint (confab_transport_get_stage (rec->transport), ==, CONFAB_STAGE_IDLE);
        g_assert_null (confab_transport_get_endpoint (rec->transport));
        g_assert_cmpint (rec->n_lost, ==, 0);
      }

  g_resolver_set_default (previous);
}

int
main (int    argc,
      char **argv)
{
  int result;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/transport/websocket/sandbox/connect", test_websocket_sandbox_connect);
  g_test_add_func ("/core/transport/websocket/sandbox/events", test_websocket_sandbox_events);
  g_test_add_func ("/core/transport/websocket/sandbox/probe", test_websocket_sandbox_probe);
  g_test_add_func ("/core/transport/websocket/sandbox/bad-signature", test_websocket_sandbox_bad_signature);
  g_test_add_func ("/core/transport/websocket/sandbox/cycles", test_websocket_sandbox_cycles);
  g_test_add_func ("/core/transport/websocket/sandbox/no-websocket", test_websocket_sandbox_no_websocket);
  g_test_add_func ("/core/transport/longpoll/sandbox/connect", test_longpoll_sandbox_connect);
  g_test_add_func ("/core/transport/longpoll/sandbox/bad-signature", test_longpoll_sandbox_bad_signature);

  g_test_add_func ("/core/transport/refused", test_refused);
  g_test_add_func ("/core/transport/black-hole/timeout", test_black_hole_timeout);
  g_test_add_func ("/core/transport/black-hole/disconnect", test_black_hole_disconnect);
  g_test_add_func ("/core/transport/bad-params", test_bad_params);

  g_test_add_func ("/core/transport/websocket/upgrade-rejected", test_websocket_upgrade_rejected);
  for (guint i = 0; i < G_N_ELEMENTS (first_frame_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/transport/websocket/first-frame/%s", first_frame_names[i]);

      g_test_add_data_func (path, &first_frame_cases[i], test_websocket_first_frame);
    }
  g_test_add_func ("/core/transport/websocket/usable", test_websocket_usable);
  g_test_add_func ("/core/transport/websocket/junk-after-usable", test_websocket_junk_after_usable);
  g_test_add_data_func ("/core/transport/websocket/close/1006", GUINT_TO_POINTER (SOUP_WEBSOCKET_CLOSE_ABNORMAL),
                        test_websocket_server_close);
  g_test_add_data_func ("/core/transport/websocket/close/1011", GUINT_TO_POINTER (SOUP_WEBSOCKET_CLOSE_SERVER_ERROR),
                        test_websocket_server_close);
  g_test_add_data_func ("/core/transport/websocket/close/4000", GUINT_TO_POINTER (4000),
                        test_websocket_server_close);
  g_test_add_data_func ("/core/transport/websocket/close/1000", GUINT_TO_POINTER (SOUP_WEBSOCKET_CLOSE_NORMAL),
                        test_websocket_server_close);
  g_test_add_func ("/core/transport/websocket/silence", test_websocket_silence);
  g_test_add_func ("/core/transport/websocket/answered-probes", test_websocket_answered_probes);
  g_test_add_func ("/core/transport/websocket/frame-size", test_websocket_frame_size);
  g_test_add_func ("/core/transport/websocket/upgrade-rate-limited", test_websocket_upgrade_rate_limited);
  g_test_add_func ("/core/transport/websocket/deep-nesting", test_websocket_deep_nesting);
  g_test_add_func ("/core/transport/websocket/probe-loss", test_websocket_probe_loss);
  g_test_add_func ("/core/transport/websocket/invalid-utf8", test_websocket_invalid_utf8);
  g_test_add_func ("/core/transport/websocket/liveness-defaults", test_websocket_liveness_defaults);
  g_test_add_func ("/core/transport/websocket/idle-deadline-moves", test_websocket_idle_deadline_moves);
  g_test_add_func ("/core/transport/websocket/handshake-rtt", test_websocket_handshake_rtt);
  g_test_add_func ("/core/transport/untrusted-certificate", test_untrusted_certificate);
  g_test_add_func ("/core/transport/longpoll/rate-limited", test_longpoll_rate_limited);
  g_test_add_func ("/core/transport/longpoll/deep-nesting", test_longpoll_deep_nesting);

  g_test_add_data_func ("/core/transport/longpoll/connect-answer/truncated", &longpoll_truncated,
                        test_longpoll_connect_answer);
  g_test_add_data_func ("/core/transport/longpoll/connect-answer/html-502", &longpoll_html_502,
                        test_longpoll_connect_answer);
  g_test_add_data_func ("/core/transport/longpoll/connect-answer/bad-signature", &longpoll_bad_signature,
                        test_longpoll_connect_answer);
  g_test_add_data_func ("/core/transport/longpoll/connect-answer/no-connection-id", &longpoll_no_connection_id,
                        test_longpoll_connect_answer);
  g_test_add_data_func ("/core/transport/longpoll/connect-answer/not-object", &longpoll_not_object,
                        test_longpoll_connect_answer);
  g_test_add_data_func ("/core/transport/longpoll/connect-answer/error-event", &longpoll_error_event,
                        test_longpoll_connect_answer);
  g_test_add_func ("/core/transport/longpoll/usable", test_longpoll_usable);
  g_test_add_func ("/core/transport/longpoll/close-after-unref", test_longpoll_close_after_unref);
  g_test_add_data_func ("/core/transport/longpoll/poll-answer/events-not-array", &poll_events_not_array,
                        test_longpoll_poll_answer);
  g_test_add_data_func ("/core/transport/longpoll/poll-answer/connection-id-not-found",
                        &poll_connection_id_not_found, test_longpoll_poll_answer);
  g_test_add_data_func ("/core/transport/longpoll/poll-answer/never", &poll_never_answered,
                        test_longpoll_poll_answer);
  g_test_add_data_func ("/core/transport/longpoll/poll-answer/html-503", &poll_html_503,
                        test_longpoll_poll_answer);
  g_test_add_data_func ("/core/transport/longpoll/poll-answer/truncated", &poll_truncated,
                        test_longpoll_poll_answer);

  g_test_add_func ("/core/transport/cancel/already-cancelled", test_cancel_already_cancelled);
  g_test_add_func ("/core/transport/cancel/websocket-handshake", test_cancel_websocket_handshake);
  g_test_add_func ("/core/transport/cancel/websocket-authenticating", test_cancel_websocket_authenticating);
  g_test_add_func ("/core/transport/cancel/longpoll-connect", test_cancel_longpoll_connect);
  g_test_add_func ("/core/transport/websocket/disconnect-in-handler", test_websocket_disconnect_in_handler);
  g_test_add_func ("/core/transport/websocket/unref-in-lost", test_websocket_unref_in_lost);
  g_test_add_func ("/core/transport/longpoll/disconnect-in-handler", test_longpoll_disconnect_in_handler);
  g_test_add_func ("/core/transport/longpoll/unref-in-lost", test_longpoll_unref_in_lost);
  g_test_add_func ("/core/transport/websocket/base-url-path", test_websocket_base_url_path);
  g_test_add_func ("/core/transport/websocket/probe-frame", test_websocket_probe_frame);

  result = g_test_run ();

  g_clear_pointer (&the_sandbox, core_test_sandbox_stop);
  g_clear_pointer (&the_sandbox_nows, core_test_sandbox_stop);
  return result;
}
