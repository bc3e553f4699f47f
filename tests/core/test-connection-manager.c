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
#include "manager-test-util.h"

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
  const char     *block_answer;   /* the whole HTTP answer to a blocked upgrade; NULL: 403 */
  gboolean        hold_websocket; /* swallow upgrades: accept, never answer (the brief's 30 s) */
  guint           n_held;
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

/* A held upgrade: read (and drop) until the client hangs up. */
static void
pipe_held_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Pipe *p = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      g_io_stream_close (G_IO_STREAM (p->down), NULL, NULL);
      pipe_free (p);
      return;
    }
  g_input_stream_read_async (G_INPUT_STREAM (source), p->buf, sizeof p->buf, G_PRIORITY_DEFAULT, NULL,
                             pipe_held_read, p);
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

  if (p->proxy->hold_websocket && n >= 12 && strncmp (p->buf, "GET /connect", 12) == 0)
    {
      p->proxy->n_held++;
      g_input_stream_read_async (G_INPUT_STREAM (source), p->buf, sizeof p->buf, G_PRIORITY_DEFAULT, NULL,
                                 pipe_held_read, p);
      return;
    }

  if (p->proxy->block_websocket && n >= 12 && strncmp (p->buf, "GET /connect", 12) == 0)
    {
      const char *answer = p->proxy->block_answer != NULL
        ? p->proxy->block_answer
        : "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

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

/* The brief's symptom: the WebSocket upgrade is swallowed (accepted, never answered).
 * Long-poll starts after the hedge delay, wins, and the held upgrade is closed; the time
 * to usable is the hedge plus a round trip, not 30 s. */
static void
test_websocket_black_holed (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  Proxy *proxy = proxy_new (sandbox->url);
  gint64 start;
  gint64 elapsed;

  proxy->hold_websocket = TRUE;
  url = g_strdup_printf ("http://127.0.0.1:%u", proxy->port);
  manager = new_manager (url, provider, monitor, 300, NULL, NULL);

  start = g_get_monotonic_time ();
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  elapsed = core_test_elapsed_ms (start);
  g_test_message ("upgrade black-holed: usable on long-poll after %" G_GINT64_FORMAT " ms (hedge 300 ms)", elapsed);
  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "longpoll");
  g_assert_cmpint (elapsed, >=, 300);
  g_assert_cmpuint (proxy->n_held, ==, 1);
  /* The swallowed upgrade was given up, not left hanging. */
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "websocket", 0, DEADLINE_MS));
  g_assert_true (report_has (manager, "starting long-poll in parallel"));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_clear_object (&manager);
  proxy_free (proxy);
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

static gboolean
states_has_reconnecting (gpointer user_data)
{
  GArray *states = user_data;

  for (guint i = 0; i < states->len; i++)
    if (g_array_index (states, ConfabConnectionState, i) == CONFAB_CONNECTION_STATE_RECONNECTING)
      return TRUE;
  return FALSE;
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
  g_autoptr(GArray) states = g_array_new (FALSE, FALSE, sizeof (ConfabConnectionState));
  gint64 start;
  gint64 elapsed;

  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  /* Recorded, not polled: RECONNECTING may last only until the next round starts. */
  g_signal_connect (manager, "notify::state", G_CALLBACK (record_state), states);

  /* The server stops answering (a dead link); a network change probes it. */
  g_assert_true (core_test_sandbox_pause (sandbox, DEADLINE_MS));
  start = g_get_monotonic_time ();
  test_monitor_set_available (monitor, TRUE);
  was_connected = confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_CONNECTED;
  noticed = core_test_wait_until (states_has_reconnecting, states, DEADLINE_MS);
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
  g_signal_handlers_disconnect_by_data (manager, states);
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
  /* ...and then gives each open breaker its one trial early: two attempts, not more. */
  confab_fake_clock_advance (clock, 999 * 1000);
  g_assert_cmpuint (n_attempts (manager), ==, 6);
  confab_fake_clock_advance (clock, 1000);
  w.attempts = 8;
  g_assert_true (core_test_wait_until (round_over, &w, DEADLINE_MS));
  g_assert_cmpuint (n_attempts (manager), ==, 8);
  /* The failed trials re-open the breakers for 15 s again (an early trial does not
   * double the wait): the next round waits for them. */
  g_assert_cmpint (retry_in_ms (manager, clock), >=, 13000);
  g_assert_cmpint (retry_in_ms (manager, clock), <=, 15000);
  confab_fake_clock_advance (clock, 5000 * 1000);
  g_assert_cmpuint (n_attempts (manager), ==, 8);

  /* A network change resets the breakers and tries at once. */
  test_monitor_set_available (monitor, TRUE);
  w.attempts = 10;
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

/* Rate limits ------------------------------------------------------------------------- */

typedef struct
{
  ConfabConnectionManager *manager;
  GArray                  *next_retry_in;  /* gint64 ms: next-retry minus the wall time, when set */
  GArray                  *next_retry_at;  /* gint64: next-retry itself */
  guint                    rate_limited;   /* last-error changes to a rate limit */
} RetryLog;

static void
record_next_retry (GObject    *object,
                   GParamSpec *pspec,
                   RetryLog   *log)
{
  gint64 next = confab_connection_manager_get_next_retry (log->manager);
  gint64 in_ms;

  if (next == 0)
    return;
  in_ms = (next - g_get_real_time ()) / 1000;
  g_array_append_val (log->next_retry_in, in_ms);
  g_array_append_val (log->next_retry_at, next);
}

static void
record_rate_limited (GObject    *object,
                     GParamSpec *pspec,
                     RetryLog   *log)
{
  const GError *error = confab_connection_manager_get_last_error (log->manager);

  if (error != NULL && confab_error_classify (error) == CONFAB_ERROR_RATE_LIMITED)
    log->rate_limited++;
}

static void
record_item_rate_limited (ConfabOutboxItem *item,
                          GParamSpec       *pspec,
                          guint            *count)
{
  const GError *error = confab_outbox_item_get_last_error (item);

  if (error != NULL && confab_error_classify (error) == CONFAB_ERROR_RATE_LIMITED)
    (*count)++;
}

static gboolean
item_sent (gpointer user_data)
{
  return confab_outbox_item_get_status (user_data) == CONFAB_OUTBOX_STATUS_SENT;
}

/* An outbox send answered 429 waits for the server's Retry-After (seconds), then for its
 * X-RateLimit-Reset (Unix seconds), then goes through once. */
static void
test_rate_limit_outbox (void)
{
  g_autofree char *outbox_dir = g_dir_make_tmp ("confab-cm-rl-XXXXXX", NULL);
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *token = NULL;
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", &token);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (outbox_dir, &error);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GArray) in_ms = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) at = g_array_new (FALSE, FALSE, sizeof (gint64));
  const char *path = "/channels/messaging/general/message";
  gint64 reset_s;
  RetryLog log = { 0 };
  ConfabOutboxItem *item;
  guint item_rate_limited = 0;
  gint64 started;
  gint64 took;

  g_assert_no_error (error);
  manager = new_manager (sandbox->url, provider, monitor, 1500, outbox, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);

  /* The first send: "Retry-After: 1"; the second: "X-RateLimit-Reset" 2–3 s from now (whole
   * seconds), so 1–2 s after the first wait. */
  g_assert_true (core_test_sandbox_rate_limit (sandbox, path, 1, "1", 0, &error));
  g_assert_no_error (error);
  reset_s = g_get_real_time () / G_USEC_PER_SEC + 3;
  g_assert_true (core_test_sandbox_rate_limit (sandbox, path, 1, NULL, reset_s, &error));
  g_assert_no_error (error);

  log.manager = manager;
  log.next_retry_in = in_ms;
  log.next_retry_at = at;
  g_signal_connect (manager, "notify::next-retry", G_CALLBACK (record_next_retry), &log);
  g_signal_connect (manager, "notify::last-error", G_CALLBACK (record_rate_limited), &log);

  started = g_get_monotonic_time ();
  item = confab_connection_manager_send_text (manager, "messaging:general", "rate limited twice", &error);
  g_assert_no_error (error);
  g_signal_connect (item, "notify::last-error", G_CALLBACK (record_item_rate_limited), &item_rate_limited);
  g_assert_true (core_test_wait_until (item_sent, item, 15000));
  g_signal_handlers_disconnect_by_data (item, &item_rate_limited);
  took = core_test_elapsed_ms (started);
  g_test_message ("sent after two 429s in %" G_GINT64_FORMAT " ms; waits announced: %u", took, in_ms->len);

  /* Two refusals, each announced in next-retry no earlier than the server said. */
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 2);
  g_assert_cmpuint (in_ms->len, >=, 2);
  g_assert_cmpint (g_array_index (in_ms, gint64, 0), >=, 900);
  g_assert_cmpint (g_array_index (in_ms, gint64, 0), <=, 1100);
  /* The second is announced for the server's reset time, not before. */
  g_assert_cmpint (g_array_index (at, gint64, 1), >=, reset_s * G_USEC_PER_SEC - 1000);
  g_assert_cmpint (g_array_index (in_ms, gint64, 1), <=, 2100);
  g_assert_cmpint (took, >=, 1900);
  /* The UI saw why: a rate limit, in last-error while it waited and on the item. */
  g_assert_cmpuint (log.rate_limited, >=, 1);
  g_assert_cmpuint (item_rate_limited, >=, 1);
  /* Cleared once it went through; nothing else waits; the connection stayed up. */
  g_assert_null (confab_connection_manager_get_last_error (manager));
  g_assert_cmpint (confab_connection_manager_get_next_retry (manager), ==, 0);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);
  g_assert_cmpuint (count_in_channel (sandbox, token, confab_outbox_item_get_id (item)), ==, 1);

  g_signal_handlers_disconnect_by_data (manager, &log);
  confab_connection_manager_disconnect (manager);
  g_clear_object (&manager);
  g_clear_object (&outbox);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", outbox_dir);

    g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
  }
}

/* A connect round whose catch-up is answered 429 waits for Retry-After, capped at the
 * backoff cap, and for X-RateLimit-Reset; "Retry now" does not jump the queue. On a fake
 * clock, so no test waits 30 s. */
static void
test_rate_limit_rounds (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  ConnectResult r = { 0 };
  guint attempts;
  gint64 delay;

  confab_fake_clock_set_wall (clock, g_get_real_time ());
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", sandbox->url, "api-key", API_KEY, "token-provider", provider,
                          "network-monitor", monitor, "clock", clock, NULL);

  /* The server asks for two minutes: the manager waits its cap, 30 s. */
  g_assert_true (core_test_sandbox_rate_limit (sandbox, "/channels", 1, "120", 0, &error));
  g_assert_no_error (error);
  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &r);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, DEADLINE_MS));
  g_assert_cmpint (confab_error_classify (confab_connection_manager_get_last_error (manager)), ==,
                   CONFAB_ERROR_RATE_LIMITED);
  delay = retry_in_ms (manager, clock);
  g_test_message ("Retry-After 120 → next round in %" G_GINT64_FORMAT " ms", delay);
  g_assert_cmpint (delay, >=, 29000);
  g_assert_cmpint (delay, <=, 30000);
  attempts = n_attempts (manager);
  g_assert_false (r.done);

  /* Neither a "Retry now" nor a network change starts a round before then. */
  confab_connection_manager_retry_now (manager);
  test_monitor_set_available (monitor, TRUE);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_RECONNECTING);
  g_assert_cmpint (retry_in_ms (manager, clock), >=, 29000);
  confab_fake_clock_advance (clock, 29000 * 1000);
  g_assert_cmpuint (n_attempts (manager), ==, attempts);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_RECONNECTING);

  /* Then it connects. */
  confab_fake_clock_advance (clock, 1100 * 1000);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);

  /* Stream's own header, X-RateLimit-Reset (Unix seconds), after a reconnect. */
  g_assert_true (core_test_sandbox_rate_limit (sandbox, "/channels", 1, NULL,
                                               confab_clock_wall (CONFAB_CLOCK (clock)) / G_USEC_PER_SEC + 6,
                                               &error));
  g_assert_no_error (error);
  test_monitor_set_available (monitor, FALSE);
  test_monitor_set_available (monitor, TRUE);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, DEADLINE_MS));
  delay = retry_in_ms (manager, clock);
  g_test_message ("X-RateLimit-Reset in 6 s → next round in %" G_GINT64_FORMAT " ms", delay);
  g_assert_cmpint (delay, >=, 4900);
  g_assert_cmpint (delay, <=, 6100);
  confab_fake_clock_advance (clock, (delay + 100) * 1000);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, DEADLINE_MS));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
}

/* A WebSocket upgrade answered 429 is not failed over to long-poll: the round waits. */
static void
test_rate_limit_upgrade (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autofree char *url = NULL;
  Proxy *proxy = proxy_new (sandbox->url);
  ConnectResult r = { 0 };
  gint64 delay;
  gint64 started = g_get_real_time ();

  /* The fake wall clock stands still at the start; the server's "7 s" counts from its answer. */
  confab_fake_clock_set_wall (clock, started);
  proxy->block_websocket = TRUE;
  proxy->block_answer = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n";
  url = g_strdup_printf ("http://127.0.0.1:%u", proxy->port);
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", url, "api-key", API_KEY, "token-provider", provider,
                          "network-monitor", monitor, "clock", clock, NULL);

  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &r);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, DEADLINE_MS));
  g_assert_cmpuint (n_attempts (manager), ==, 1);
  g_assert_error (confab_connection_manager_get_last_error (manager), CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED);
  delay = retry_in_ms (manager, clock);
  g_assert_cmpint (delay, >=, 6900);
  g_assert_cmpint (delay, <=, 7100 + (g_get_real_time () - started) / 1000);
  g_assert_cmpint (core_test_sandbox_stat (sandbox, "longpoll"), ==, 0);

  /* After the wait the upgrade works again. */
  proxy->block_websocket = FALSE;
  confab_fake_clock_advance (clock, (delay + 100) * 1000);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_assert_true (r.ok);
  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "websocket");

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_clear_object (&manager);
  proxy_free (proxy);
}

/* Liveness loss feeds quality ------------------------------------------------------------ */

typedef struct
{
  ConfabConnectionManager *manager;
  ConfabQuality            quality;
} QualityWait;

static gboolean
quality_is (gpointer user_data)
{
  QualityWait *w = user_data;

  return confab_connection_manager_get_quality (w->manager) == w->quality;
}

static gboolean
quality_is_not (gpointer user_data)
{
  QualityWait *w = user_data;

  return confab_connection_manager_get_quality (w->manager) != w->quality;
}

static gboolean
some_loss (gpointer user_data)
{
  return confab_connection_manager_get_loss (user_data) > 0;
}

/* The sandbox stops answering for one probe (SIGSTOP, resumed as soon as the manager
 * counted the loss): loss rises and the rating goes to poor, the connection lives on,
 * and answered probes bring the rating back. */
static void
test_probe_loss (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  QualityWait w = { 0 };
  gboolean lost;
  const char *first_id;
  g_autofree char *first = NULL;

  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", sandbox->url, "api-key", API_KEY, "token-provider", provider,
                          "network-monitor", monitor,
                          "websocket-idle-probe-ms", 100, "websocket-probe-timeout-ms", 1000, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  first_id = confab_connection_manager_get_connection_id (manager);
  first = g_strdup (first_id);
  g_assert_cmpfloat (confab_connection_manager_get_loss (manager), ==, 0);
  g_assert_cmpint (confab_connection_manager_get_quality (manager), !=, CONFAB_QUALITY_POOR);

  g_assert_true (core_test_sandbox_pause (sandbox, DEADLINE_MS));
  lost = core_test_wait_until (some_loss, manager, DEADLINE_MS);
  g_subprocess_send_signal (sandbox->process, SIGCONT);
  g_assert_true (lost);
  g_test_message ("loss %.2f after one unanswered probe", confab_connection_manager_get_loss (manager));

  w.manager = manager;
  w.quality = CONFAB_QUALITY_POOR;
  g_assert_true (core_test_wait_until (quality_is, &w, DEADLINE_MS));
  /* The link itself survived the lost probe. */
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);
  g_assert_cmpstr (confab_connection_manager_get_connection_id (manager), ==, first);
  g_assert_true (report_has (manager, "a liveness probe went unanswered"));

  /* Answered probes push the loss out of the window: the rating recovers. */
  g_assert_true (core_test_wait_until (quality_is_not, &w, 20000));
  g_assert_cmpstr (confab_connection_manager_get_connection_id (manager), ==, first);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

/* Resume ------------------------------------------------------------------------------ */

/* A resume while reconnecting starts a round at once; while idle it does nothing. */
static void
test_resume_retries_now (void)
{
  g_autofree char *token = make_token ("alice", API_SECRET);
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", core_test_refused_port ());
  ConnectResult r = { 0 };
  RoundWait w = { 0 };

  confab_fake_clock_set_wall (clock, g_get_real_time ());
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", url, "api-key", API_KEY, "token-provider", provider,
                          "network-monitor", monitor, "clock", clock, NULL);
  confab_connection_manager_notify_resumed (manager);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_IDLE);
  g_assert_cmpuint (n_attempts (manager), ==, 0);

  w.manager = manager;
  w.attempts = 2;
  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &r);
  g_assert_true (core_test_wait_until (round_over, &w, DEADLINE_MS));
  g_assert_cmpint (retry_in_ms (manager, clock), >=, 250);

  /* No time passes on the manager's clock: the resume alone starts the next round. */
  confab_connection_manager_notify_resumed (manager);
  w.attempts = 4;
  g_assert_true (core_test_wait_until (round_over, &w, DEADLINE_MS));
  g_assert_true (report_has (manager, "resumed from a suspend"));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_clear_error (&r.error);
}

/* No logind needed: the wall clock running ahead of the monotonic one between two
 * wake-ups is a suspend. With the sandbox frozen, the probe that follows goes
 * unanswered and the link is dropped within the probe deadline, not after 15 s. The
 * wake-up here is the manager's own "stable for 10 s" timer; without the jump, the same
 * timer probes nothing. */
static void
test_resume_clock_jump (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  gboolean stayed;
  gboolean dropped;
  gboolean control;

  confab_fake_clock_set_wall (clock, g_get_real_time ());
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", sandbox->url, "api-key", API_KEY, "token-provider", provider,
                          "network-monitor", monitor, "clock", clock, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);

  /* Suspended for an hour: the wall clock jumps, the monotonic one does not. */
  g_assert_true (core_test_sandbox_pause (sandbox, DEADLINE_MS));
  confab_fake_clock_set_wall (clock, confab_clock_wall (CONFAB_CLOCK (clock)) + G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);
  confab_fake_clock_advance (clock, (CONFAB_CONNECTION_MANAGER_STABLE_MS + 100) * 1000);
  stayed = confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_CONNECTED;
  confab_fake_clock_advance (clock, (CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS + 100) * 1000);
  dropped = confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_RECONNECTING;
  g_subprocess_send_signal (sandbox->process, SIGCONT);
  g_assert_true (stayed);
  g_assert_true (dropped);
  g_assert_true (report_has (manager, "resumed from a suspend"));
  g_assert_error (confab_connection_manager_get_last_error (manager), CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST);

  /* Back, and the control: the same wake-up without a jump probes nothing. */
  confab_fake_clock_advance (clock, 1000 * 1000);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, DEADLINE_MS));
  g_assert_true (core_test_sandbox_pause (sandbox, DEADLINE_MS));
  confab_fake_clock_advance (clock, (CONFAB_CONNECTION_MANAGER_STABLE_MS + CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS + 200) * 1000);
  control = confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_CONNECTED;
  g_subprocess_send_signal (sandbox->process, SIGCONT);
  g_assert_true (control);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

/* Logging -------------------------------------------------------------------------------- */

typedef struct
{
  GPtrArray    *lines;
  GLogFunc      previous;
  gpointer      previous_data;
} LogCapture;

static void
capture_log (const char     *domain,
             GLogLevelFlags  level,
             const char     *message,
             gpointer        user_data)
{
  LogCapture *capture = user_data;

  g_ptr_array_add (capture->lines, g_strdup (message));
  capture->previous (domain, level, message, capture->previous_data);
}

typedef struct
{
  GPtrArray *expected;   /* "state A → B" / "stage A → B" lines the notifications imply */
  int        state;
  int        stage;
} Transitions;

static void
expect_state (GObject     *object,
              GParamSpec  *pspec,
              Transitions *t)
{
  int state = confab_connection_manager_get_state (CONFAB_CONNECTION_MANAGER (object));
  g_autoptr(GEnumClass) klass = g_type_class_ref (CONFAB_TYPE_CONNECTION_STATE);

  g_ptr_array_add (t->expected, g_strdup_printf ("state %s → %s", g_enum_get_value (klass, t->state)->value_nick,
                                                 g_enum_get_value (klass, state)->value_nick));
  t->state = state;
}

static void
expect_stage (GObject     *object,
              GParamSpec  *pspec,
              Transitions *t)
{
  int stage = confab_connection_manager_get_stage (CONFAB_CONNECTION_MANAGER (object));
  g_autoptr(GEnumClass) klass = g_type_class_ref (CONFAB_TYPE_STAGE);

  g_ptr_array_add (t->expected, g_strdup_printf ("stage %s → %s", g_enum_get_value (klass, t->stage)->value_nick,
                                                 g_enum_get_value (klass, stage)->value_nick));
  t->stage = stage;
}

static void
count_event (ConfabConnectionManager *manager,
             JsonObject              *event,
             guint                   *n)
{
  g_assert_nonnull (json_object_get_string_member_with_default (event, "type", NULL));
  (*n)++;
}

/* Every state and stage transition is in a g_debug line; no line (from any library)
 * holds the token, the API key or a credential-bearing query. Also: ::event carries
 * every event, ::message-received each message. */
static void
test_logging (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *token = NULL;
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", &token);
  g_autofree char *bob_token = NULL;
  g_autoptr(ConfabTokenProvider) bob = demo_token_provider (sandbox, "bob", &bob_token);
  g_autofree char *bad = make_token ("alice", "not-the-secret");
  g_autoptr(ConfabTokenProvider) bad_provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (bad));
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_autoptr(ConfabConnectionManager) refused = new_manager (sandbox->url, bad_provider, monitor, 1500, NULL, NULL);
  g_autoptr(GPtrArray) posted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  LogCapture capture = { 0 };
  Transitions t = { 0 };
  guint n_events = 0;

  capture.lines = g_ptr_array_new_with_free_func (g_free);
  capture.previous = g_log_set_default_handler (capture_log, &capture);
  capture.previous_data = NULL;
  t.expected = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (manager, "notify::state", G_CALLBACK (expect_state), &t);
  g_signal_connect (manager, "notify::stage", G_CALLBACK (expect_stage), &t);
  g_signal_connect (manager, "event", G_CALLBACK (count_event), &n_events);
  g_signal_connect (manager, "message-received", G_CALLBACK (on_message), counts);

  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  posted = core_test_sandbox_post_messages (sandbox, bob_token, "bob", "messaging:general", "logged", 1);
  g_assert_true (core_test_wait_until ((CoreTestCondition) g_hash_table_size, counts, DEADLINE_MS));
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, g_ptr_array_index (posted, 0))), ==, 1);
  g_assert_cmpuint (n_events, >=, 1);
  test_monitor_set_available (monitor, FALSE);
  test_monitor_set_available (monitor, TRUE);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, DEADLINE_MS));
  confab_connection_manager_disconnect (manager);
  g_assert_false (connect_and_wait (refused, "alice", &error));
  g_clear_error (&error);

  g_log_set_default_handler (capture.previous, capture.previous_data);
  g_signal_handlers_disconnect_by_data (manager, &t);
  g_signal_handlers_disconnect_by_data (manager, &n_events);
  g_signal_handlers_disconnect_by_data (manager, counts);

  g_assert_cmpuint (t.expected->len, >=, 8);
  for (guint i = 0; i < t.expected->len; i++)
    {
      gboolean found = FALSE;

      for (guint j = 0; j < capture.lines->len && !found; j++)
        found = strstr (g_ptr_array_index (capture.lines, j), g_ptr_array_index (t.expected, i)) != NULL;
      if (!found)
        g_error ("no g_debug line says “%s”", (char *) g_ptr_array_index (t.expected, i));
    }
  g_assert_cmpuint (capture.lines->len, >, t.expected->len);
  for (guint j = 0; j < capture.lines->len; j++)
    {
      const char *line = g_ptr_array_index (capture.lines, j);

      g_assert_null (strstr (line, token));
      g_assert_null (strstr (line, bad));
      g_assert_null (strstr (line, bob_token));
      g_assert_null (strstr (line, API_KEY));
      g_assert_null (strstr (line, "authorization="));
      g_assert_null (strstr (line, "eyJ"));
    }

  g_ptr_array_unref (t.expected);
  g_ptr_array_unref (capture.lines);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

/* A held long-poll never starves REST ---------------------------------------------------- */

typedef struct
{
  guint ok;
  guint failed;
} RestCount;

static void
rest_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  RestCount *count = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_query_channels_finish (CONFAB_STREAM_CLIENT (source), result, &error);

  if (answer != NULL)
    count->ok++;
  else
    count->failed++;
}

static void
test_longpoll_leaves_rest_free (void)
{
  const char *extra[] = { "--demo", "--no-websocket", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_autoptr(GError) error = NULL;
  ConfabStreamClient *client;
  RestCount count = { 0 };

  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "longpoll");
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "longpoll", 1, DEADLINE_MS));

  /* The sandbox holds each poll for 20 s; eight REST calls at once all finish meanwhile. */
  client = confab_connection_manager_get_client (manager);
  for (guint i = 0; i < 8; i++)
    confab_stream_client_query_channels_async (client, FALSE, FALSE, 5, 0, 1, NULL, rest_done, &count);
  g_assert_true (core_test_wait_count (&count.ok, 8, DEADLINE_MS));
  g_assert_cmpuint (count.failed, ==, 0);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);
  g_assert_cmpint (core_test_sandbox_stat (sandbox, "longpoll"), ==, 1);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

/* Outbox items that arrive without send_text ------------------------------------------- */

typedef struct
{
  ConfabOutboxItem *item;
  guint             sending;  /* times it turned SENDING */
} StatusLog;

static void
record_sending (ConfabOutboxItem *item,
                GParamSpec       *pspec,
                StatusLog        *log)
{
  if (confab_outbox_item_get_status (item) == CONFAB_OUTBOX_STATUS_SENDING)
    log->sending++;
}

static gboolean
item_failed (gpointer user_data)
{
  return confab_outbox_item_get_status (user_data) == CONFAB_OUTBOX_STATUS_FAILED;
}

/* Enqueued straight into the outbox (as another writer of it would) while connected: sent
 * with nothing else to trigger the pump. A message the server refuses for good becomes
 * FAILED; the user's Retry (confab_outbox_retry, as ConfabChatStore calls it) sends it
 * again at once, and once the server accepts it, it is SENT and on the server. */
static void
test_outbox_pumped_on_pending (void)
{
  g_autofree char *outbox_dir = g_dir_make_tmp ("confab-cm-outbox-XXXXXX", NULL);
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice_token = NULL;
  g_autofree char *bob_token = NULL;
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", &alice_token);
  g_autoptr(ConfabTokenProvider) bob = demo_token_provider (sandbox, "bob", &bob_token);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (outbox_dir, &error);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autofree char *channel_id = g_strdup_printf ("later-%u", g_random_int ());
  g_autofree char *cid = g_strdup_printf ("messaging:%s", channel_id);
  g_autofree char *url = NULL;
  g_autofree char *body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(ConfabOutboxItem) direct = NULL;
  g_autoptr(ConfabOutboxItem) refused = NULL;
  StatusLog log = { 0 };
  guint status = 0;

  g_assert_no_error (error);
  manager = new_manager (sandbox->url, provider, monitor, 1500, outbox, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);

  /* Straight into the outbox: the manager sends it on its own. */
  direct = g_object_ref (confab_outbox_enqueue (outbox, "messaging:general", "enqueued directly", &error));
  g_assert_no_error (error);
  g_assert_true (core_test_wait_until (item_sent, direct, DEADLINE_MS));
  g_assert_cmpuint (count_in_channel (sandbox, bob_token, confab_outbox_item_get_id (direct)), ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 0);

  /* A channel that does not exist yet: refused, not transient, so FAILED (not requeued). */
  refused = g_object_ref (confab_outbox_enqueue (outbox, cid, "refused at first", &error));
  g_assert_no_error (error);
  g_assert_true (core_test_wait_until (item_failed, refused, DEADLINE_MS));
  g_assert_nonnull (confab_outbox_item_get_last_error (refused));
  g_assert_false (confab_error_is_transient (confab_outbox_item_get_last_error (refused)));
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);

  /* Alice creates it; the user's Retry sends again with no other trigger. */
  url = g_strdup_printf ("%s/channels/messaging/%s/query?api_key=%s&user_id=alice", sandbox->url, channel_id, API_KEY);
  body = g_strdup ("{\"data\":{\"members\":[\"alice\"]}}");
  answer = core_test_rest ("POST", url, alice_token, body, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 201);

  log.item = refused;
  g_signal_connect (refused, "notify::status", G_CALLBACK (record_sending), &log);
  confab_outbox_retry (outbox, refused);
  g_assert_cmpint (confab_outbox_item_get_status (refused), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_true (core_test_wait_until (item_sent, refused, DEADLINE_MS));
  g_assert_cmpuint (log.sending, ==, 1);
  g_signal_handlers_disconnect_by_data (refused, &log);
  g_assert_null (confab_outbox_item_get_last_error (refused));
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 0);

  /* Not connected: an enqueued item waits (no send, no error) for the next connection. */
  confab_connection_manager_disconnect (manager);
  g_clear_object (&direct);
  direct = g_object_ref (confab_outbox_enqueue (outbox, "messaging:general", "while disconnected", &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (confab_outbox_item_get_status (direct), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  g_assert_true (core_test_wait_until (item_sent, direct, DEADLINE_MS));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_clear_object (&manager);
  g_clear_object (&outbox);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", outbox_dir);
    g_autoptr(GError) rm_error = NULL;

    g_spawn_command_line_sync (cmd, NULL, NULL, NULL, &rm_error);
  }
}

/* "Retry now" after the server was gone long enough to open every breaker: the server is
 * back, and one press connects at once — the manager's clock never reaches the breakers'
 * retry time. */
static void
test_retry_now_open_breakers (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) first = start_sandbox (extra);
  g_autoptr(CoreTestSandbox) second = NULL;
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (first, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base_url = g_strdup (first->url);
  g_autofree char *port = g_strdup (strrchr (first->url, ':') + 1);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%s", port);
  g_autofree char *ws_open = g_strdup_printf ("websocket http://127.0.0.1:%s: open", port);
  g_autofree char *lp_open = g_strdup_printf ("longpoll http://127.0.0.1:%s: open", port);
  const char *again[] = { "--demo", "--listen", listen, NULL };
  RoundWait w = { 0 };
  gint64 opened_now;
  gint64 next_retry;
  guint rounds = 0;

  confab_fake_clock_set_wall (clock, g_get_real_time ());
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", base_url, "api-key", API_KEY, "token-provider", provider,
                          "network-monitor", monitor, "clock", clock, "hedge-ms", 1500, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);

  /* The server goes away; the rounds that follow (on the fake clock) open both breakers. */
  core_test_sandbox_stop (g_steal_pointer (&first));
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, DEADLINE_MS));
  w.manager = manager;
  while (!(report_has (manager, ws_open) && report_has (manager, lp_open)))
    {
      g_assert_cmpuint (++rounds, <=, 6);
      w.attempts = n_attempts (manager) + 1;
      confab_fake_clock_advance (clock, MAX (retry_in_ms (manager, clock), 0) * 1000 + 1000);
      g_assert_true (core_test_wait_until (round_over, &w, DEADLINE_MS));
    }
  /* Nothing can be tried before a breaker half-opens, ≥ 13 s away. */
  next_retry = retry_in_ms (manager, clock);
  g_assert_cmpint (next_retry, >=, 13000);
  opened_now = confab_clock_now (CONFAB_CLOCK (clock));

  /* Back on the same port. The countdown alone would not notice it for ≥ 13 s... */
  second = start_sandbox (again);
  g_assert_cmpstr (second->url, ==, base_url);

  /* ...Retry now does, at once: the breakers each admit one trial. */
  confab_connection_manager_retry_now (manager);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, DEADLINE_MS));
  g_assert_cmpint (confab_clock_now (CONFAB_CLOCK (clock)), ==, opened_now);
  g_assert_true (report_has (manager, "retry now: websocket may try once"));
  g_assert_false (report_has (manager, ws_open));
  g_assert_cmpint (confab_connection_manager_get_next_retry (manager), ==, 0);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (second, "connections", 0, DEADLINE_MS));
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *sandbox = NULL;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/connection-manager/send-without-outbox", test_send_without_outbox);
  g_test_add_func ("/core/connection-manager/retry-backoff-breakers", test_retry_backoff_breakers);
  g_test_add_func ("/core/connection-manager/resume-retries-now", test_resume_retries_now);

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
  g_test_add_func ("/core/connection-manager/longpoll-leaves-rest-free", test_longpoll_leaves_rest_free);
  g_test_add_func ("/core/connection-manager/logging", test_logging);
  g_test_add_func ("/core/connection-manager/disconnect-black-hole", test_disconnect_black_hole);
  g_test_add_func ("/core/connection-manager/network-changes", test_network_changes);
  g_test_add_func ("/core/connection-manager/websocket-black-holed", test_websocket_black_holed);
  g_test_add_func ("/core/connection-manager/upgrade-to-websocket", test_upgrade_to_websocket);
  g_test_add_func ("/core/connection-manager/probe-timeout", test_probe_timeout);
  g_test_add_func ("/core/connection-manager/restart-catch-up-outbox", test_restart_catch_up_outbox);
  g_test_add_func ("/core/connection-manager/rate-limit/outbox", test_rate_limit_outbox);
  g_test_add_func ("/core/connection-manager/rate-limit/rounds", test_rate_limit_rounds);
  g_test_add_func ("/core/connection-manager/rate-limit/upgrade", test_rate_limit_upgrade);
  g_test_add_func ("/core/connection-manager/probe-loss", test_probe_loss);
  g_test_add_func ("/core/connection-manager/resume-clock-jump", test_resume_clock_jump);
  g_test_add_func ("/core/connection-manager/outbox-pumped-on-pending", test_outbox_pumped_on_pending);
  g_test_add_func ("/core/connection-manager/retry-now-open-breakers", test_retry_now_open_breakers);

  return g_test_run ();
}
