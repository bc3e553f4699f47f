/* test-connection-manager.c: the connection manager against the real sandbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "confab-connection-manager.h"
#include "confab-error.h"
#include "confab-fake-clock.h"
#include "confab-outbox.h"
#include "confab-static-token-provider.h"
#include "core-test-util.h"

#define API_KEY    "cm-key"
#define API_SECRET "cm-secret"
#define DEADLINE_MS 10000

/* A network monitor the test switches ------------------------------------------------- */

#define TEST_TYPE_MONITOR (test_monitor_get_type ())
G_DECLARE_FINAL_TYPE (TestMonitor, test_monitor, TEST, MONITOR, GObject)

struct _TestMonitor
{
  GObject  parent_instance;
  gboolean available;
};

enum {
  MON_PROP_0,
  MON_PROP_AVAILABLE,
  MON_PROP_METERED,
  MON_PROP_CONNECTIVITY,
};

static gboolean
test_monitor_initable_init (GInitable     *initable,
                            GCancellable  *cancellable,
                            GError       **error)
{
  return TRUE;
}

static void
test_monitor_initable_iface_init (GInitableIface *iface)
{
  iface->init = test_monitor_initable_init;
}

static void
test_monitor_iface_init (GNetworkMonitorInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestMonitor, test_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, test_monitor_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, test_monitor_iface_init))

static void
test_monitor_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  TestMonitor *self = TEST_MONITOR (object);

  switch (prop_id)
    {
    case MON_PROP_AVAILABLE:
      g_value_set_boolean (value, self->available);
      break;
    case MON_PROP_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case MON_PROP_CONNECTIVITY:
      g_value_set_enum (value, self->available ? G_NETWORK_CONNECTIVITY_FULL : G_NETWORK_CONNECTIVITY_LOCAL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
test_monitor_class_init (TestMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_monitor_get_property;
  g_object_class_override_property (object_class, MON_PROP_AVAILABLE, "network-available");
  g_object_class_override_property (object_class, MON_PROP_METERED, "network-metered");
  g_object_class_override_property (object_class, MON_PROP_CONNECTIVITY, "connectivity");
}

static void
test_monitor_init (TestMonitor *self)
{
  self->available = TRUE;
}

static void
test_monitor_set_available (TestMonitor *self,
                            gboolean     available)
{
  self->available = available;
  g_object_notify (G_OBJECT (self), "network-available");
  g_signal_emit_by_name (self, "network-changed", available);
}

/* Helpers -------------------------------------------------------------------------------- */

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
  gint64    finished_us;
} ConnectResult;

static void
connect_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ConnectResult *r = user_data;

  r->ok = confab_connection_manager_connect_finish (CONFAB_CONNECTION_MANAGER (source), result, &r->error);
  r->finished_us = g_get_monotonic_time ();
  r->done = TRUE;
}

typedef struct
{
  ConfabConnectionManager *manager;
  ConfabConnectionState    state;
} StateWait;

static gboolean
state_is (gpointer user_data)
{
  StateWait *w = user_data;

  return confab_connection_manager_get_state (w->manager) == w->state;
}

static gboolean
wait_state (ConfabConnectionManager *manager,
            ConfabConnectionState    state,
            guint                    timeout_ms)
{
  StateWait w = { manager, state };

  return core_test_wait_until (state_is, &w, timeout_ms);
}

static void
record_state (GObject    *object,
              GParamSpec *pspec,
              GArray     *states)
{
  ConfabConnectionState state = confab_connection_manager_get_state (CONFAB_CONNECTION_MANAGER (object));

  g_array_append_val (states, state);
}

static guint
n_attempts (ConfabConnectionManager *manager)
{
  return g_list_model_get_n_items (confab_diagnostics_get_attempts (confab_connection_manager_get_diagnostics (manager)));
}

static CoreTestSandbox *
start_sandbox (const char *const *extra)
{
  g_autoptr(GError) error = NULL;
  CoreTestSandbox *sandbox = core_test_sandbox_start (API_KEY, API_SECRET, extra, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sandbox);
  return sandbox;
}

static ConfabTokenProvider *
demo_token_provider (CoreTestSandbox *sandbox,
                     const char      *user_id,
                     char           **out_token)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = core_test_sandbox_demo_token (sandbox, user_id, &error);

  g_assert_no_error (error);
  g_assert_nonnull (token);
  if (out_token != NULL)
    *out_token = g_strdup (token);
  return CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));
}

static ConfabConnectionManager *
new_manager (const char          *base_url,
             ConfabTokenProvider *provider,
             TestMonitor         *monitor,
             guint                hedge_ms,
             ConfabOutbox        *outbox,
             const char          *state_dir)
{
  return g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                       "base-url", base_url,
                       "api-key", API_KEY,
                       "token-provider", provider,
                       "network-monitor", monitor,
                       "hedge-ms", hedge_ms,
                       "outbox", outbox,
                       "state-dir", state_dir,
                       NULL);
}

static gboolean
connect_and_wait (ConfabConnectionManager *manager,
                  const char              *user_id,
                  GError                 **error)
{
  ConnectResult r = { 0 };

  confab_connection_manager_connect_async (manager, user_id, NULL, NULL, connect_done, &r);
  if (!core_test_wait_flag (&r.done, DEADLINE_MS))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "connect did not finish");
      confab_connection_manager_disconnect (manager);
      core_test_wait_flag (&r.done, 1000);
      g_clear_error (&r.error);
      return FALSE;
    }
  if (!r.ok)
    g_propagate_error (error, r.error);
  return r.ok;
}

/* An HS256 token for @user_id signed with @secret. */
static char *
make_token_exp (const char *user_id,
                const char *secret,
                gint64      exp)
{
  g_autofree char *payload = exp > 0
    ? g_strdup_printf ("{\"user_id\":\"%s\",\"exp\":%" G_GINT64_FORMAT "}", user_id, exp)
    : g_strdup_printf ("{\"user_id\":\"%s\"}", user_id);

  return core_test_sign_jwt (payload, secret);
}

static char *
make_token (const char *user_id,
            const char *secret)
{
  return make_token_exp (user_id, secret, 0);
}

/* A token provider handing out a fixed list of tokens, one per fetch ------------------ */

#define TEST_TYPE_PROVIDER (test_provider_get_type ())
G_DECLARE_FINAL_TYPE (TestProvider, test_provider, TEST, PROVIDER, GObject)

struct _TestProvider
{
  GObject    parent_instance;
  GPtrArray *tokens;
  guint      n_fetches;
};

static void
test_provider_fetch_async (ConfabTokenProvider *provider,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  TestProvider *self = TEST_PROVIDER (provider);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  guint index = MIN (self->n_fetches, self->tokens->len - 1);

  self->n_fetches++;
  g_task_return_pointer (task, g_strdup (g_ptr_array_index (self->tokens, index)), g_free);
}

static char *
test_provider_fetch_finish (ConfabTokenProvider  *provider,
                            GAsyncResult         *result,
                            GError              **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
test_provider_iface_init (ConfabTokenProviderInterface *iface)
{
  iface->fetch_token_async = test_provider_fetch_async;
  iface->fetch_token_finish = test_provider_fetch_finish;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestProvider, test_provider, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CONFAB_TYPE_TOKEN_PROVIDER, test_provider_iface_init))

static void
test_provider_finalize (GObject *object)
{
  TestProvider *self = TEST_PROVIDER (object);

  g_ptr_array_unref (self->tokens);
  G_OBJECT_CLASS (test_provider_parent_class)->finalize (object);
}

static void
test_provider_class_init (TestProviderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_provider_finalize;
}

static void
test_provider_init (TestProvider *self)
{
  self->tokens = g_ptr_array_new_with_free_func (g_free);
}

/* The provider's idea of now: long before the expired token's exp, so it trusts it. */
static gint64
long_ago (gpointer user_data)
{
  return (g_get_real_time () / G_USEC_PER_SEC - 7200) * G_USEC_PER_SEC;
}

/* Tests -------------------------------------------------------------------------------- */

static void
test_connect (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_autoptr(GArray) states = g_array_new (FALSE, FALSE, sizeof (ConfabConnectionState));
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) last_error = NULL;
  g_autofree char *transport = NULL;
  g_autofree char *report = NULL;
  ConfabConnectionState expected[] = {
    CONFAB_CONNECTION_STATE_CONNECTING,
    CONFAB_CONNECTION_STATE_UPDATING,
    CONFAB_CONNECTION_STATE_CONNECTED,
  };

  g_signal_connect (manager, "notify::state", G_CALLBACK (record_state), states);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_IDLE);

  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);

  g_assert_cmpuint (states->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (g_array_index (states, ConfabConnectionState, i), ==, expected[i]);

  g_object_get (manager, "transport", &transport, "last-error", &last_error, NULL);
  g_assert_cmpstr (transport, ==, "websocket");
  g_assert_null (last_error);
  g_assert_cmpint (confab_connection_manager_get_stage (manager), ==, CONFAB_STAGE_READY);
  g_assert_nonnull (confab_connection_manager_get_connection_id (manager));
  g_assert_nonnull (confab_connection_manager_get_endpoint (manager));
  g_assert_cmpstr (confab_connection_manager_get_user_id (manager), ==, "alice");
  g_assert_cmpint (confab_connection_manager_get_next_retry (manager), ==, 0);
  g_assert_cmpint (confab_connection_manager_get_quality (manager), !=, CONFAB_QUALITY_UNKNOWN);
  g_assert_cmpint (confab_connection_manager_get_rtt_ms (manager), >=, 0);
  g_assert_cmpuint (n_attempts (manager), ==, 1);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "websocket", 1, DEADLINE_MS));
  /* The breakers are in the diagnostics report, named by transport and endpoint. */
  report = confab_diagnostics_report (confab_connection_manager_get_diagnostics (manager));
  g_assert_nonnull (strstr (report, "websocket http://127.0.0.1:"));
  g_assert_nonnull (strstr (report, "longpoll http://127.0.0.1:"));

  confab_connection_manager_disconnect (manager);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_IDLE);
  g_assert_null (confab_connection_manager_get_transport (manager));
  g_assert_null (confab_connection_manager_get_connection_id (manager));
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

static void
test_join_and_busy (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  ConnectResult first = { 0 }, second = { 0 }, other = { 0 }, later = { 0 };

  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &first);
  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &second);
  confab_connection_manager_connect_async (manager, "bob", NULL, NULL, connect_done, &other);

  /* The other user is refused at once, before the first connect finishes. */
  g_assert_true (core_test_wait_flag (&other.done, DEADLINE_MS));
  g_assert_false (other.ok);
  g_assert_error (other.error, CONFAB_ERROR, CONFAB_ERROR_BUSY);
  g_assert_false (first.done);

  g_assert_true (core_test_wait_flag (&first.done, DEADLINE_MS));
  g_assert_true (core_test_wait_flag (&second.done, DEADLINE_MS));
  g_assert_no_error (first.error);
  g_assert_no_error (second.error);
  g_assert_true (first.ok && second.ok);
  /* One set of attempts for both. */
  g_assert_cmpuint (n_attempts (manager), ==, 1);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 1, DEADLINE_MS));

  /* Connected: the same user resolves at once, another is still busy. */
  confab_connection_manager_connect_async (manager, "bob", NULL, NULL, connect_done, &later);
  g_assert_true (core_test_wait_flag (&later.done, DEADLINE_MS));
  g_assert_error (later.error, CONFAB_ERROR, CONFAB_ERROR_BUSY);
  g_assert_cmpuint (n_attempts (manager), ==, 1);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_clear_error (&other.error);
  g_clear_error (&later.error);
}

static void
test_bad_token (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *token = make_token ("alice", "some-other-secret");
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *report = NULL;
  const GError *last;

  g_assert_false (connect_and_wait (manager, "alice", &error));
  g_assert_nonnull (error);
  g_assert_cmpint (confab_error_classify (error), ==, CONFAB_ERROR_AUTH);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_FAILED);
  last = confab_connection_manager_get_last_error (manager);
  g_assert_nonnull (last);
  g_assert_cmpint (confab_error_classify (last), ==, CONFAB_ERROR_AUTH);
  /* No retry loop: one attempt, nothing scheduled. */
  g_assert_cmpuint (n_attempts (manager), ==, 1);
  g_assert_cmpint (confab_connection_manager_get_next_retry (manager), ==, 0);
  confab_connection_manager_retry_now (manager);  /* a user's retry: one more, no loop */
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_FAILED, DEADLINE_MS));
  g_assert_cmpuint (n_attempts (manager), <=, 2);
  report = confab_diagnostics_report (confab_connection_manager_get_diagnostics (manager));
  g_assert_null (strstr (report, token));
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

static void
test_token_expired (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(TestProvider) provider = g_object_new (TEST_TYPE_PROVIDER, NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;

  /* Expired an hour ago (the server says code 40), then a good one. */
  g_ptr_array_add (provider->tokens, make_token_exp ("alice", API_SECRET, now_s - 3600));
  g_ptr_array_add (provider->tokens, make_token ("alice", API_SECRET));
  confab_token_provider_set_clock (CONFAB_TOKEN_PROVIDER (provider), long_ago, NULL);
  manager = new_manager (sandbox->url, CONFAB_TOKEN_PROVIDER (provider), monitor, 1500, NULL, NULL);

  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "websocket");
  /* One refresh, one retry at once: two attempts, two fetches. */
  g_assert_cmpuint (provider->n_fetches, ==, 2);
  g_assert_cmpuint (n_attempts (manager), ==, 2);
  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

static void
test_token_expired_twice (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(TestProvider) provider = g_object_new (TEST_TYPE_PROVIDER, NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;

  /* Every token is expired: refresh once, then stop (no loop). */
  g_ptr_array_add (provider->tokens, make_token_exp ("alice", API_SECRET, now_s - 3600));
  confab_token_provider_set_clock (CONFAB_TOKEN_PROVIDER (provider), long_ago, NULL);
  manager = new_manager (sandbox->url, CONFAB_TOKEN_PROVIDER (provider), monitor, 1500, NULL, NULL);

  g_assert_false (connect_and_wait (manager, "alice", &error));
  g_assert_nonnull (error);
  g_assert_cmpint (confab_error_classify (error), ==, CONFAB_ERROR_TOKEN_EXPIRED);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_FAILED);
  g_assert_cmpuint (provider->n_fetches, ==, 2);
  g_assert_cmpuint (n_attempts (manager), ==, 2);
  g_assert_cmpint (confab_connection_manager_get_next_retry (manager), ==, 0);
}

static void
test_longpoll_fallback (void)
{
  const char *extra[] = { "--demo", "--no-websocket", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  elapsed = core_test_elapsed_ms (start);
  g_test_message ("--no-websocket: connected on long-poll in %" G_GINT64_FORMAT " ms", elapsed);
  g_assert_cmpint (elapsed, <, 2000);
  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "longpoll");
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);
  /* Long-poll is never rated better than good. */
  g_assert_cmpint (confab_connection_manager_get_quality (manager), !=, CONFAB_QUALITY_EXCELLENT);
  g_assert_cmpint (confab_connection_manager_get_quality (manager), !=, CONFAB_QUALITY_UNKNOWN);
  g_assert_cmpuint (n_attempts (manager), ==, 2);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "longpoll", 1, DEADLINE_MS));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

typedef struct
{
  CoreTestBlackHole *hole;
  guint              n;
} HoleWait;

static gboolean
hole_has (gpointer user_data)
{
  HoleWait *w = user_data;

  return w->hole->connections->len >= w->n;
}

static gboolean
hole_closed (gpointer user_data)
{
  HoleWait *w = user_data;

  return w->hole->n_closed >= w->hole->connections->len;
}

static gboolean
fds_at_most (gpointer user_data)
{
  return core_test_count_fds () <= GPOINTER_TO_INT (user_data);
}

static void
test_disconnect_black_hole (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CoreTestBlackHole) hole = core_test_black_hole_new (&error);
  g_autofree char *url = NULL;
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  ConnectResult r = { 0 };
  ConnectResult cancelled = { 0 };
  HoleWait w = { 0 };
  int fds_before;

  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u", hole->port);
  fds_before = core_test_count_fds ();
  /* A short hedge so both the WebSocket and the long-poll handshakes hang. */
  manager = new_manager (url, provider, monitor, 100, NULL, NULL);
  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &r);
  confab_connection_manager_connect_async (manager, "alice", NULL, cancellable, connect_done, &cancelled);

  w.hole = hole;
  w.n = 2;
  g_assert_true (core_test_wait_until (hole_has, &w, DEADLINE_MS));
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTING);
  g_assert_false (r.done);

  /* One caller giving up ends only its own wait. */
  g_cancellable_cancel (cancellable);
  g_assert_true (core_test_wait_flag (&cancelled.done, DEADLINE_MS));
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&cancelled.error);
  g_assert_false (r.done);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTING);

  core_test_black_hole_watch (hole);
  confab_connection_manager_disconnect (manager);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_IDLE);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);

  /* Every handshake's socket was closed; the real sandbox saw nothing. */
  g_assert_true (core_test_wait_until (hole_closed, &w, DEADLINE_MS));
  g_assert_cmpint (core_test_sandbox_stat (sandbox, "connections"), ==, 0);
  g_clear_object (&manager);
  /* The black hole's own accepted sockets are in this process too. */
  core_test_black_hole_free (g_steal_pointer (&hole));
  g_assert_true (core_test_wait_until (fds_at_most, GINT_TO_POINTER (fds_before), DEADLINE_MS));
}

/* A TCP proxy in front of the sandbox that can refuse WebSocket upgrades ------------- */

typedef struct
{
  GSocketService *service;
  guint16         port;
  guint16         target_port;
  gboolean        block_websocket;
  guint           n_open;
} Proxy;

typedef struct
{
  Proxy             *proxy;
  GSocketConnection *down;
  GSocketConnection *up;
  char               buf[8192];
} Pipe;

static void
pipe_free (Pipe *p)
{
  p->proxy->n_open--;
  g_clear_object (&p->down);
  g_clear_object (&p->up);
  g_free (p);
}

static void
pipe_spliced (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_io_stream_splice_finish (result, NULL);
  pipe_free (user_data);
}

static void
pipe_first_read (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Pipe *p = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);
  g_autoptr(GSocketClient) client = NULL;

  if (n <= 0)
    {
      g_io_stream_close (G_IO_STREAM (p->down), NULL, NULL);
      pipe_free (p);
      return;
    }

  if (p->proxy->block_websocket && n >= 12 && strncmp (p->buf, "GET /connect", 12) == 0)
    {
      const char *answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

      g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (p->down)),
                                 answer, strlen (answer), NULL, NULL, NULL);
      g_io_stream_close (G_IO_STREAM (p->down), NULL, NULL);
      pipe_free (p);
      return;
    }

  client = g_socket_client_new ();
  p->up = g_socket_client_connect_to_host (client, "127.0.0.1", p->proxy->target_port, NULL, NULL);
  if (p->up == NULL ||
      !g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (p->up)), p->buf, n, NULL, NULL, NULL))
    {
      g_io_stream_close (G_IO_STREAM (p->down), NULL, NULL);
      pipe_free (p);
      return;
    }
  g_io_stream_splice_async (G_IO_STREAM (p->down), G_IO_STREAM (p->up),
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                            G_PRIORITY_DEFAULT, NULL, pipe_spliced, p);
}

static gboolean
proxy_incoming (GSocketService    *service,
                GSocketConnection *connection,
                GObject           *source_object,
                gpointer           user_data)
{
  Pipe *p = g_new0 (Pipe, 1);

  p->proxy = user_data;
  p->proxy->n_open++;
  p->down = g_object_ref (connection);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)), p->buf,
                             sizeof p->buf, G_PRIORITY_DEFAULT, NULL, pipe_first_read, p);
  return TRUE;
}

static Proxy *
proxy_new (const char *target_url)
{
  Proxy *proxy = g_new0 (Proxy, 1);
  g_autoptr(GError) error = NULL;

  proxy->target_port = (guint16) g_ascii_strtoull (strrchr (target_url, ':') + 1, NULL, 10);
  proxy->service = g_socket_service_new ();
  proxy->port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (proxy->service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (proxy->service, "incoming", G_CALLBACK (proxy_incoming), proxy);
  g_socket_service_start (proxy->service);
  return proxy;
}

static gboolean
proxy_idle (gpointer user_data)
{
  return ((Proxy *) user_data)->n_open == 0;
}

static void
proxy_free (Proxy *proxy)
{
  g_socket_service_stop (proxy->service);
  g_socket_listener_close (G_SOCKET_LISTENER (proxy->service));
  g_assert_true (core_test_wait_until (proxy_idle, proxy, DEADLINE_MS));
  g_clear_object (&proxy->service);
  g_free (proxy);
}

typedef struct
{
  ConfabConnectionManager *manager;
  const char              *transport;
} TransportWait;

static gboolean
connected_on (gpointer user_data)
{
  TransportWait *w = user_data;

  return confab_connection_manager_get_state (w->manager) == CONFAB_CONNECTION_STATE_CONNECTED &&
         g_strcmp0 (confab_connection_manager_get_transport (w->manager), w->transport) == 0;
}

static void
test_upgrade_to_websocket (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GArray) states = g_array_new (FALSE, FALSE, sizeof (ConfabConnectionState));
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  Proxy *proxy = proxy_new (sandbox->url);
  TransportWait w = { 0 };

  proxy->block_websocket = TRUE;
  url = g_strdup_printf ("http://127.0.0.1:%u", proxy->port);
  manager = new_manager (url, provider, monitor, 1500, NULL, NULL);

  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "longpoll");
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "longpoll", 1, DEADLINE_MS));

  /* WebSocket works again; a network change probes it at once and moves over. */
  proxy->block_websocket = FALSE;
  g_signal_connect (manager, "notify::state", G_CALLBACK (record_state), states);
  test_monitor_set_available (monitor, TRUE);
  w.manager = manager;
  w.transport = "websocket";
  g_assert_true (core_test_wait_until (connected_on, &w, DEADLINE_MS));
  g_assert_cmpuint (states->len, >=, 2);
  g_assert_cmpint (g_array_index (states, ConfabConnectionState, 0), ==, CONFAB_CONNECTION_STATE_UPDATING);
  g_assert_cmpint (g_array_index (states, ConfabConnectionState, states->len - 1), ==, CONFAB_CONNECTION_STATE_CONNECTED);
  /* The long-poll is closed once the WebSocket has caught up. */
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "longpoll", 0, DEADLINE_MS));
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "websocket", 1, DEADLINE_MS));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_clear_object (&manager);
  proxy_free (proxy);
}


static void
on_message (ConfabConnectionManager *manager,
            JsonObject              *message,
            GHashTable              *counts)
{
  const char *id = json_object_get_string_member_with_default (message, "id", NULL);

  g_assert_nonnull (id);
  g_hash_table_insert (counts, g_strdup (id),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, id)) + 1));
}

typedef struct
{
  GHashTable       *counts;
  const char       *id_a;
  const char       *id_b;
  ConfabOutboxItem *item;
} DeliveredWait;

static gboolean
delivered (gpointer user_data)
{
  DeliveredWait *w = user_data;

  return g_hash_table_contains (w->counts, w->id_a) && g_hash_table_contains (w->counts, w->id_b) &&
         confab_outbox_item_get_status (w->item) == CONFAB_OUTBOX_STATUS_SENT;
}

static guint
count_in_channel (CoreTestSandbox *sandbox,
                  const char      *token,
                  const char      *id)
{
  g_autofree char *url = g_strdup_printf ("%s/channels/messaging/general/query?api_key=%s&user_id=bob",
                                          sandbox->url, API_KEY);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = NULL;
  JsonArray *messages;
  guint status = 0;
  guint n = 0;

  answer = core_test_rest ("POST", url, token, "{\"messages\":{\"limit\":200}}", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 201);
  messages = json_object_get_array_member (answer, "messages");
  g_assert_nonnull (messages);
  for (guint i = 0; i < json_array_get_length (messages); i++)
    if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (messages, i), "id"), id) == 0)
      n++;
  return n;
}

static void
test_restart_catch_up_outbox (void)
{
  g_autofree char *data_dir = g_dir_make_tmp ("confab-cm-data-XXXXXX", NULL);
  g_autofree char *outbox_dir = g_dir_make_tmp ("confab-cm-outbox-XXXXXX", NULL);
  g_autofree char *state_dir = g_dir_make_tmp ("confab-cm-state-XXXXXX", NULL);
  const char *extra[] = { "--demo", "--data-dir", data_dir, NULL };
  g_autoptr(CoreTestSandbox) first = start_sandbox (extra);
  g_autoptr(CoreTestSandbox) second = NULL;
  g_autofree char *bob_token = NULL;
  g_autoptr(ConfabTokenProvider) bob = demo_token_provider (first, "bob", &bob_token);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (first, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (outbox_dir, &error);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *base_url = g_strdup (first->url);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%s", strrchr (first->url, ':') + 1);
  const char *again[] = { "--demo", "--data-dir", data_dir, "--listen", listen, NULL };
  g_autofree char *bob_id = g_uuid_string_random ();
  g_autofree char *url = NULL;
  g_autofree char *body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *item_id = NULL;
  ConfabOutboxItem *item;
  DeliveredWait w = { 0 };
  guint status = 0;

  g_assert_no_error (error);
  manager = new_manager (base_url, provider, monitor, 1500, outbox, state_dir);
  g_signal_connect (manager, "message-received", G_CALLBACK (on_message), counts);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  g_assert_cmpint (confab_connection_manager_get_watermark (manager), >, 0);

  /* The server goes away: reconnecting, with the next attempt shown. */
  core_test_sandbox_stop (g_steal_pointer (&first));
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, DEADLINE_MS));
  g_assert_cmpint (confab_connection_manager_get_next_retry (manager), >, 0);
  g_assert_nonnull (confab_connection_manager_get_last_error (manager));

  /* No network: no attempts until it is back. */
  test_monitor_set_available (monitor, FALSE);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK);
  g_assert_cmpint (confab_connection_manager_get_next_retry (manager), ==, 0);

  /* Written while the server is down. */
  item = confab_connection_manager_send_text (manager, "messaging:general", "sent while down", &error);
  g_assert_no_error (error);
  g_assert_nonnull (item);
  item_id = g_strdup (confab_outbox_item_get_id (item));
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);

  /* Back on the same port, with the same data; bob writes before alice reconnects. */
  second = start_sandbox (again);
  g_assert_cmpstr (second->url, ==, base_url);
  url = g_strdup_printf ("%s/channels/messaging/general/message?api_key=%s&user_id=bob", second->url, API_KEY);
  body = g_strdup_printf ("{\"message\":{\"id\":\"%s\",\"text\":\"missed\"}}", bob_id);
  answer = core_test_rest ("POST", url, bob_token, body, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 201);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK);

  test_monitor_set_available (monitor, TRUE);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, DEADLINE_MS));
  /* Caught up before CONNECTED. */
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, bob_id)), ==, 1);

  w.counts = counts;
  w.id_a = bob_id;
  w.id_b = item_id;
  w.item = item;
  g_assert_true (core_test_wait_until (delivered, &w, DEADLINE_MS));
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, bob_id)), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, item_id)), ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 0);
  g_assert_cmpuint (count_in_channel (second, bob_token, item_id), ==, 1);
  g_assert_cmpuint (count_in_channel (second, bob_token, bob_id), ==, 1);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (second, "connections", 0, DEADLINE_MS));

  /* The watermark outlives the manager. */
  g_clear_object (&manager);
  manager = new_manager (base_url, provider, monitor, 1500, NULL, state_dir);
  g_assert_cmpint (confab_connection_manager_get_watermark (manager), >, 0);
  g_clear_object (&manager);
  g_clear_object (&outbox);
  core_test_sandbox_stop (g_steal_pointer (&second));
  /* Best-effort clean-up of the temporary directories. */
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s' '%s' '%s'", data_dir, outbox_dir, state_dir);
    g_autoptr(GError) rm_error = NULL;

    g_spawn_command_line_sync (cmd, NULL, NULL, NULL, &rm_error);
  }
}

/* The figure: 1 000 cycles without growth in open descriptors, proven by the
 * normal build's run of this test. Under AddressSanitizer with full malloc stacks a cycle
 * is ~30 times slower, so the sanitizer run checks 200 (`build-aux/confab-dev test` runs both). */
#if defined(__SANITIZE_ADDRESS__)
#define CYCLES 200u
#else
#define CYCLES 1000u
#endif

static void
test_cycles (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_autoptr(GError) error = NULL;
  gint64 start;
  int fds_before;
  int fds_after;

  /* A warm-up cycle, so lazily opened descriptors do not count as growth. */
  g_assert_true (connect_and_wait (manager, "alice", &error));
  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  fds_before = core_test_count_fds ();
  g_assert_cmpint (fds_before, >, 0);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < CYCLES; i++)
    {
      g_assert_true (connect_and_wait (manager, "alice", &error));
      g_assert_no_error (error);
      g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "websocket");
      confab_connection_manager_disconnect (manager);
    }
  g_test_message ("%u connect/disconnect cycles in %" G_GINT64_FORMAT " ms", CYCLES, core_test_elapsed_ms (start));

  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  core_test_wait_until (fds_at_most, GINT_TO_POINTER (fds_before), 3000);
  fds_after = core_test_count_fds ();
  g_test_message ("fds before %d, after %d", fds_before, fds_after);
  g_assert_cmpint (fds_after, <=, fds_before);
}

static void
test_probe_timeout (void)
{
  gboolean was_connected;
  gboolean noticed;
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_autoptr(GError) error = NULL;
  gint64 start;
  gint64 elapsed;

  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);

  /* The server stops answering (a dead link); a network change probes it. */
  g_subprocess_send_signal (sandbox->process, SIGSTOP);
  start = g_get_monotonic_time ();
  test_monitor_set_available (monitor, TRUE);
  was_connected = confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_CONNECTED;
  noticed = wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, DEADLINE_MS);
  elapsed = core_test_elapsed_ms (start);
  /* Resume it before asserting: a stopped sandbox left behind by a failed assertion would
   * hold the test's output open until meson's timeout. */
  g_subprocess_send_signal (sandbox->process, SIGCONT);
  g_test_message ("unanswered probe declared the link lost after %" G_GINT64_FORMAT " ms", elapsed);
  g_assert_true (was_connected);
  g_assert_true (noticed);
  g_assert_cmpint (elapsed, >=, CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS - 100);
  /* The target is "after a network-change event, ≤ 3 s"; the margin is for loaded CI. */
  g_assert_cmpint (elapsed, <, CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS + 5000);
  g_assert_error (confab_connection_manager_get_last_error (manager), CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST);

  /* It came back: connected again. */
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, DEADLINE_MS));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

static void
test_network_changes (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_autoptr(GError) error = NULL;
  const char *first_id;
  g_autofree char *first = NULL;

  g_assert_true (connect_and_wait (manager, "alice", &error));
  first_id = confab_connection_manager_get_connection_id (manager);
  first = g_strdup (first_id);

  /* A change while connected probes the link; it answers, so nothing changes. */
  test_monitor_set_available (monitor, TRUE);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);

  /* Offline: the connection is closed and nothing is tried. */
  test_monitor_set_available (monitor, FALSE);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));

  /* Online again: an immediate round. */
  test_monitor_set_available (monitor, TRUE);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, DEADLINE_MS));
  g_assert_cmpstr (confab_connection_manager_get_connection_id (manager), !=, first);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 1, DEADLINE_MS));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

typedef struct
{
  ConfabConnectionManager *manager;
  guint                    attempts;
} RoundWait;

static gboolean
round_over (gpointer user_data)
{
  RoundWait *w = user_data;

  return n_attempts (w->manager) >= w->attempts &&
         confab_connection_manager_get_state (w->manager) == CONFAB_CONNECTION_STATE_RECONNECTING;
}

static gint64
retry_in_ms (ConfabConnectionManager *manager,
             ConfabFakeClock         *clock)
{
  return (confab_connection_manager_get_next_retry (manager) - confab_clock_wall (CONFAB_CLOCK (clock))) / 1000;
}

static void
test_retry_backoff_breakers (void)
{
  g_autofree char *token = make_token ("alice", API_SECRET);
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", core_test_refused_port ());
  ConnectResult r = { 0 };
  RoundWait w = { 0 };
  gint64 delay;

  confab_fake_clock_set_wall (clock, g_get_real_time ());
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", url, "api-key", API_KEY, "token-provider", provider,
                          "network-monitor", monitor, "clock", clock, NULL);
  w.manager = manager;

  /* Round 1: WebSocket refused → long-poll at once → refused → reconnecting. */
  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &r);
  w.attempts = 2;
  g_assert_true (core_test_wait_until (round_over, &w, DEADLINE_MS));
  g_assert_cmpuint (n_attempts (manager), ==, 2);
  g_assert_cmpint (confab_error_classify (confab_connection_manager_get_last_error (manager)), ==, CONFAB_ERROR_NETWORK);
  delay = retry_in_ms (manager, clock);
  g_assert_cmpint (delay, >=, 250);
  g_assert_cmpint (delay, <=, 500);
  g_assert_false (r.done);  /* a connect waits through the retries */

  /* Round 2 when the delay is over (and not before). */
  confab_fake_clock_advance (clock, (delay - 1) * 1000);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_RECONNECTING);
  confab_fake_clock_advance (clock, 2000);
  w.attempts = 4;
  g_assert_true (core_test_wait_until (round_over, &w, DEADLINE_MS));
  delay = retry_in_ms (manager, clock);
  g_assert_cmpint (delay, >=, 250);
  g_assert_cmpint (delay, <=, 1000);

  /* Retry now: at once. Three counted failures open both breakers. */
  confab_connection_manager_retry_now (manager);
  w.attempts = 6;
  g_assert_true (core_test_wait_until (round_over, &w, DEADLINE_MS));
  g_assert_cmpuint (n_attempts (manager), ==, 6);

  /* A second retry-now within a second waits for the second to pass... */
  confab_connection_manager_retry_now (manager);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_RECONNECTING);
  g_assert_cmpint (retry_in_ms (manager, clock), <=, 1000);
  /* ...and then does not bypass the open breakers: no attempt, next try when one half-opens. */
  confab_fake_clock_advance (clock, 1000 * 1000);
  g_assert_cmpuint (n_attempts (manager), ==, 6);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_RECONNECTING);
  g_assert_cmpint (retry_in_ms (manager, clock), >=, 13000);

  /* A network change resets the breakers and tries at once. */
  test_monitor_set_available (monitor, TRUE);
  w.attempts = 8;
  g_assert_true (core_test_wait_until (round_over, &w, DEADLINE_MS));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_assert_cmpint (confab_connection_manager_get_next_retry (manager), ==, 0);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
}

static void
test_send_without_outbox (void)
{
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new ("x.y.z"));
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager ("http://127.0.0.1:1", provider, monitor, 1500, NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_null (confab_connection_manager_send_text (manager, "messaging:general", "hi", &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *sandbox = NULL;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/connection-manager/send-without-outbox", test_send_without_outbox);
  g_test_add_func ("/core/connection-manager/retry-backoff-breakers", test_retry_backoff_breakers);

  sandbox = core_test_sandbox_path ();
  if (sandbox == NULL)
    {
      g_test_message ("no confab-sandbox binary; set CONFAB_SANDBOX");
      return g_test_run ();
    }

  g_test_add_func ("/core/connection-manager/connect", test_connect);
  g_test_add_func ("/core/connection-manager/join-and-busy", test_join_and_busy);
  g_test_add_func ("/core/connection-manager/bad-token", test_bad_token);
  g_test_add_func ("/core/connection-manager/token-expired", test_token_expired);
  g_test_add_func ("/core/connection-manager/token-expired-twice", test_token_expired_twice);
  g_test_add_func ("/core/connection-manager/longpoll-fallback", test_longpoll_fallback);
  g_test_add_func ("/core/connection-manager/disconnect-black-hole", test_disconnect_black_hole);
  g_test_add_func ("/core/connection-manager/network-changes", test_network_changes);
  g_test_add_func ("/core/connection-manager/upgrade-to-websocket", test_upgrade_to_websocket);
  g_test_add_func ("/core/connection-manager/probe-timeout", test_probe_timeout);
  g_test_add_func ("/core/connection-manager/restart-catch-up-outbox", test_restart_catch_up_outbox);
  g_test_add_func ("/core/connection-manager/cycles", test_cycles);

  return g_test_run ();
}
