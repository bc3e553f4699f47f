/* test-connection-cycles.c: 1 000 connect/disconnect cycles leave no descriptor behind
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-connection-manager.h"
#include "core-test-util.h"
#include "manager-test-util.h"

static gboolean
fds_at_most (gpointer user_data)
{
  return core_test_count_fds () <= GPOINTER_TO_INT (user_data);
}

/* The figure: 1 000 cycles without growth in open descriptors, proven by the
 * normal build's run of this test. Under AddressSanitizer with full malloc stacks a cycle
 * is 30–50 times slower (0.45–0.9 s on a busy 2-core machine), so the sanitizer run
 * checks 50, to stay within a minute (`build-aux/confab-dev test` runs both). */
#if defined(__SANITIZE_ADDRESS__)
#define CYCLES 50u
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

int
main (int   argc,
      char *argv[])
{
  g_autofree char *sandbox = NULL;

  g_test_init (&argc, &argv, NULL);

  sandbox = core_test_sandbox_path ();
  if (sandbox == NULL)
    {
      g_test_message ("no confab-sandbox binary; set CONFAB_SANDBOX");
      return g_test_run ();
    }
  g_test_add_func ("/core/connection-manager/cycles", test_cycles);

  return g_test_run ();
}
