/* test-connection-manager-endpoints.c: the ladder across endpoints, against the sandbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "confab-endpoint-set.h"
#include "confab-error.h"
#include "confab-fake-clock.h"
#include "confab-static-token-provider.h"
#include "manager-test-util.h"

static char *
network_from (gpointer user_data)
{
  const char *const *name = user_data;

  return g_strdup (*name);
}

static ConfabAttempt *
attempt_at (ConfabConnectionManager *manager,
            guint                    index)
{
  GListModel *attempts = confab_diagnostics_get_attempts (confab_connection_manager_get_diagnostics (manager));
  g_autoptr(ConfabAttempt) attempt = g_list_model_get_item (attempts, index);

  g_assert_nonnull (attempt);
  /* The diagnostics keep it. */
  return attempt;
}

static gboolean
has_port (const char *url,
          guint16     port)
{
  g_autofree char *needle = g_strdup_printf (":%u/", port);

  return url != NULL && strstr (url, needle) != NULL;
}

static guint16
port_of (const char *url)
{
  return (guint16) g_ascii_strtoull (strrchr (url, ':') + 1, NULL, 10);
}

static ConfabConnectionManager *
new_endpoints_manager (ConfabEndpointSet   *set,
                       ConfabTokenProvider *provider,
                       TestMonitor         *monitor,
                       guint                hedge_ms,
                       const char          *state_dir)
{
  return g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                       "endpoint-set", set,
                       "api-key", API_KEY,
                       "token-provider", provider,
                       "network-monitor", monitor,
                       "hedge-ms", hedge_ms,
                       "state-dir", state_dir,
                       NULL);
}

static ConfabEndpointSet *
new_set (const char  *primary,
         const char  *alternate,
         const char **network)
{
  const char *urls[] = { primary, alternate, NULL };
  g_autoptr(GError) error = NULL;
  ConfabEndpointSet *set = confab_endpoint_set_new (urls, &error);

  g_assert_no_error (error);
  if (network != NULL)
    confab_endpoint_set_set_network_func (set, network_from, network, NULL);
  return set;
}

/* The primary refuses: the alternate is tried the moment the refusal arrives, not after
 * the 250 ms stagger or a backoff, and it wins. */
static void
test_primary_refused (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autofree char *refused = g_strdup_printf ("http://127.0.0.1:%u", core_test_refused_port ());
  const char *alternates[] = { sandbox->url, NULL };
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  ConfabAttempt *first;
  ConfabAttempt *second;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  /* The single-URL property stays the primary; endpoints adds the alternates. */
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", refused, "endpoints", alternates, "api-key", API_KEY,
                          "token-provider", provider, "network-monitor", monitor, "hedge-ms", 1500, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  elapsed = core_test_elapsed_ms (start);
  g_test_message ("usable on the alternate after %" G_GINT64_FORMAT " ms", elapsed);

  /* The winner is the alternate, over WebSocket; REST follows it. */
  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "websocket");
  g_assert_true (has_port (confab_connection_manager_get_endpoint (manager), port_of (sandbox->url)));
  g_assert_cmpstr (confab_stream_client_get_base_url (confab_connection_manager_get_client (manager)), ==,
                   sandbox->url);

  /* The order: WebSocket to the primary failed, and its failure started the alternate. */
  g_assert_cmpuint (n_attempts (manager), ==, 2);
  first = attempt_at (manager, 0);
  second = attempt_at (manager, 1);
  g_assert_cmpstr (confab_attempt_get_transport (first), ==, "websocket");
  g_assert_true (has_port (confab_attempt_get_endpoint (first), port_of (refused)));
  g_assert_cmpint (confab_attempt_get_outcome (first), ==, CONFAB_ATTEMPT_OUTCOME_FAILED);
  g_assert_cmpstr (confab_attempt_get_reason (first), ==, "failed: trying the next endpoint at once");
  g_assert_cmpstr (confab_attempt_get_transport (second), ==, "websocket");
  g_assert_true (has_port (confab_attempt_get_endpoint (second), port_of (sandbox->url)));
  g_assert_cmpint (confab_attempt_get_outcome (second), ==, CONFAB_ATTEMPT_OUTCOME_SUCCEEDED);
  g_assert_cmpint (confab_attempt_get_started_at (second), >=, confab_attempt_get_finished_at (first));
  /* An upper bound only (a loaded machine): no backoff, no hedge was waited for. */
  g_assert_cmpint (elapsed, <, 1500);
  g_assert_true (report_has (manager, "websocket http://127.0.0.1:"));

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

/* The primary accepts and never answers: the alternate starts 250 ms later and wins; the
 * primary's attempt is cancelled (it lost the race), and long-poll was never needed. */
static void
test_primary_black_holed (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CoreTestBlackHole) hole = core_test_black_hole_new (&error);
  g_autofree char *hole_url = NULL;
  g_autoptr(ConfabEndpointSet) set = NULL;
  g_autoptr(ConfabConnectionManager) manager = NULL;
  ConfabAttempt *first;
  ConfabAttempt *second;
  gint64 gap_ms;

  g_assert_no_error (error);
  hole_url = g_strdup_printf ("http://127.0.0.1:%u", hole->port);
  set = new_set (hole_url, sandbox->url, NULL);
  /* A hedge far away: only the stagger can explain a quick success. */
  manager = new_endpoints_manager (set, provider, monitor, 8000, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);

  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "websocket");
  g_assert_true (has_port (confab_connection_manager_get_endpoint (manager), port_of (sandbox->url)));
  g_assert_cmpuint (n_attempts (manager), ==, 2);
  first = attempt_at (manager, 0);
  second = attempt_at (manager, 1);
  g_assert_true (has_port (confab_attempt_get_endpoint (first), hole->port));
  g_assert_cmpint (confab_attempt_get_outcome (first), ==, CONFAB_ATTEMPT_OUTCOME_CANCELLED);
  g_assert_true (has_port (confab_attempt_get_endpoint (second), port_of (sandbox->url)));
  g_assert_cmpint (confab_attempt_get_outcome (second), ==, CONFAB_ATTEMPT_OUTCOME_SUCCEEDED);
  gap_ms = (confab_attempt_get_started_at (second) - confab_attempt_get_started_at (first)) / 1000;
  g_test_message ("the alternate started %" G_GINT64_FORMAT " ms after the primary", gap_ms);
  g_assert_cmpint (gap_ms, >=, CONFAB_CONNECTION_MANAGER_ENDPOINT_STAGGER_MS - 5);
  g_assert_cmpint (gap_ms, <, 8000);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

/* What worked is tried first on the next start, on the same network; a network change
 * forgets it. */
static void
test_remembered_and_forgotten (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autofree char *refused = g_strdup_printf ("http://127.0.0.1:%u", core_test_refused_port ());
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = g_dir_make_tmp ("confab-cm-endpoints-XXXXXX", &error);
  g_autofree char *memory = g_build_filename (state_dir, CONFAB_ENDPOINT_SET_MEMORY_FILE, NULL);
  const char *network = "test network A";
  g_autofree char *contents = NULL;

  g_assert_no_error (error);

  /* First start: the primary is refused, the alternate works and is remembered. */
  {
    g_autoptr(ConfabEndpointSet) set = new_set (refused, sandbox->url, &network);
    g_autoptr(ConfabConnectionManager) manager = new_endpoints_manager (set, provider, monitor, 1500, state_dir);

    g_assert_true (connect_and_wait (manager, "alice", &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n_attempts (manager), ==, 2);
    confab_connection_manager_disconnect (manager);
  }
  g_assert_true (g_file_get_contents (memory, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, sandbox->url));

  /* Next start on the same network: straight to the alternate, one attempt. */
  {
    g_autoptr(ConfabEndpointSet) set = new_set (refused, sandbox->url, &network);
    g_autoptr(ConfabConnectionManager) manager = new_endpoints_manager (set, provider, monitor, 1500, state_dir);

    g_assert_true (connect_and_wait (manager, "alice", &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n_attempts (manager), ==, 1);
    g_assert_true (has_port (confab_attempt_get_endpoint (attempt_at (manager, 0)), port_of (sandbox->url)));
    g_assert_true (report_has (manager, "starting with endpoint 2"));

    /* A network change (the connection stays: its probe is answered) forgets it. */
    test_monitor_network_changed (monitor);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 0);
    g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);
    confab_connection_manager_disconnect (manager);
  }
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (memory, &contents, NULL, NULL));
  g_assert_null (strstr (contents, sandbox->url));

  /* So the next start begins with the primary again. */
  {
    g_autoptr(ConfabEndpointSet) set = new_set (refused, sandbox->url, &network);
    g_autoptr(ConfabConnectionManager) manager = new_endpoints_manager (set, provider, monitor, 1500, state_dir);

    g_assert_true (connect_and_wait (manager, "alice", &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n_attempts (manager), ==, 2);
    g_assert_true (has_port (confab_attempt_get_endpoint (attempt_at (manager, 0)), port_of (refused)));
    confab_connection_manager_disconnect (manager);
  }

  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_unlink (memory);
  g_rmdir (state_dir);
}

/* A garbled memory file is ignored and rebuilt; connecting is not disturbed. */
static void
test_corrupt_memory (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autofree char *refused = g_strdup_printf ("http://127.0.0.1:%u", core_test_refused_port ());
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = g_dir_make_tmp ("confab-cm-endpoints-XXXXXX", &error);
  g_autofree char *memory = g_build_filename (state_dir, CONFAB_ENDPOINT_SET_MEMORY_FILE, NULL);
  const char *network = "test network A";
  g_autoptr(ConfabEndpointSet) set = NULL;
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GKeyFile) file = g_key_file_new ();

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (memory, "[endpoints]\n\xff\xfe=\x01garbage\n[[[", -1, NULL));
  set = new_set (refused, sandbox->url, &network);
  manager = new_endpoints_manager (set, provider, monitor, 1500, state_dir);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  g_assert_true (has_port (confab_connection_manager_get_endpoint (manager), port_of (sandbox->url)));
  g_assert_true (g_key_file_load_from_file (file, memory, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 1);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_unlink (memory);
  g_rmdir (state_dir);
}

/* A bad URL anywhere in the list: connect fails at once with a clear error. */
static void
test_bad_urls (void)
{
  const char *bad[] = { "ftp://chat.example.com", "http://chat.example.com", "", "garbage" };
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new ("x.y.z"));
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *alternates[] = { bad[i], NULL };
      g_autoptr(ConfabConnectionManager) manager = NULL;
      ConnectResult r = { 0 };

      manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                              "base-url", "https://chat.example.com", "endpoints", alternates,
                              "api-key", API_KEY, "token-provider", provider, "network-monitor", monitor, NULL);
      confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &r);
      g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
      g_assert_false (r.ok);
      g_assert_error (r.error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL);
      g_assert_nonnull (strstr (r.error->message, "Server address 2"));
      g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_FAILED);
      g_assert_error (confab_connection_manager_get_last_error (manager), CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL);
      g_assert_cmpuint (n_attempts (manager), ==, 0);
      g_clear_error (&r.error);
    }
}

/* No default route, but the server is on loopback: not blocked, and a "no network"
 * event does not drop a connection to it. Without can_reach saying so: waiting. */
static void
test_loopback_offline (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *first_id = NULL;

  test_monitor_set_loopback_reachable (monitor, TRUE);
  test_monitor_set_available (monitor, FALSE);
  manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);
  first_id = g_strdup (confab_connection_manager_get_connection_id (manager));

  /* "No network" again while connected: a change, probed and answered. */
  test_monitor_set_available (monitor, FALSE);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);
  g_assert_cmpstr (confab_connection_manager_get_connection_id (manager), ==, first_id);

  /* The control: a monitor that cannot reach loopback either. */
  test_monitor_set_loopback_reachable (monitor, FALSE);
  test_monitor_set_available (monitor, FALSE);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

/* After a network change an unanswered probe drops the link at the deadline, which
 * leaves room under the 3 s target. On a fake clock: exactly then, not before. */
static void
test_network_change_deadline (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  gboolean before;
  gboolean after;

  g_assert_cmpint (CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS, <=, 2500);
  confab_fake_clock_set_wall (clock, g_get_real_time ());
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", sandbox->url, "api-key", API_KEY, "token-provider", provider,
                          "network-monitor", monitor, "clock", clock, NULL);
  g_assert_true (connect_and_wait (manager, "alice", &error));
  g_assert_no_error (error);

  g_assert_true (core_test_sandbox_pause (sandbox, DEADLINE_MS));
  test_monitor_network_changed (monitor);
  confab_fake_clock_advance (clock, (CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS - 1) * 1000);
  before = confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_CONNECTED;
  confab_fake_clock_advance (clock, 2 * 1000);
  after = confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_RECONNECTING;
  g_subprocess_send_signal (sandbox->process, SIGCONT);
  g_assert_true (before);
  g_assert_true (after);
  g_assert_error (confab_connection_manager_get_last_error (manager), CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST);

  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/connection-manager/endpoints/primary-refused", test_primary_refused);
  g_test_add_func ("/core/connection-manager/endpoints/primary-black-holed", test_primary_black_holed);
  g_test_add_func ("/core/connection-manager/endpoints/remembered-and-forgotten", test_remembered_and_forgotten);
  g_test_add_func ("/core/connection-manager/endpoints/corrupt-memory", test_corrupt_memory);
  g_test_add_func ("/core/connection-manager/endpoints/bad-urls", test_bad_urls);
  g_test_add_func ("/core/connection-manager/endpoints/loopback-offline", test_loopback_offline);
  g_test_add_func ("/core/connection-manager/endpoints/network-change-deadline", test_network_change_deadline);

  return g_test_run ();
}
