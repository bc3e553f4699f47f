/* test-sleep-monitor.c: logind's PrepareForSleep on a private bus, and what the manager does with it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>

#include "confab-connection-manager.h"
#include "confab-error.h"
#include "confab-sleep-monitor.h"
#include "confab-static-token-provider.h"
#include "core-test-util.h"

#define DEADLINE_MS 10000
#define API_KEY     "sleep-key"
#define API_SECRET  "sleep-secret"

/* A private bus with a fake logind ------------------------------------------------------ */

typedef struct
{
  GTestDBus       *bus;
  GDBusConnection *login1;     /* owns org.freedesktop.login1 */
  GDBusConnection *listener;   /* what the monitor listens on */
  gboolean         owned;
} Bus;

static GDBusConnection *
bus_connect (Bus *bus)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection;

  connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (bus->bus),
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  ((Bus *) user_data)->owned = TRUE;
}

static gboolean
dbus_daemon_available (void)
{
  g_autofree char *path = g_find_program_in_path ("dbus-daemon");

  return path != NULL;
}

static Bus *
bus_new (void)
{
  Bus *bus = g_new0 (Bus, 1);
  guint owner;

  bus->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus->bus);
  bus->login1 = bus_connect (bus);
  bus->listener = bus_connect (bus);
  owner = g_bus_own_name_on_connection (bus->login1, "org.freedesktop.login1", G_BUS_NAME_OWNER_FLAGS_NONE,
                                        on_name_acquired, NULL, bus, NULL);
  g_assert_true (core_test_wait_flag (&bus->owned, DEADLINE_MS));
  /* The name stays ours until the connection closes. */
  (void) owner;
  return bus;
}

static void
bus_free (Bus *bus)
{
  g_dbus_connection_close_sync (bus->login1, NULL, NULL);
  g_dbus_connection_close_sync (bus->listener, NULL, NULL);
  g_clear_object (&bus->login1);
  g_clear_object (&bus->listener);
  g_test_dbus_down (bus->bus);
  g_clear_object (&bus->bus);
  g_free (bus);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Bus, bus_free)

/* A round trip to the bus daemon on @connection: its earlier messages (the monitor's
 * AddMatch) have been handled once this returns, so a signal sent next is not missed. */
static void
bus_round_trip (GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetId", NULL, G_VARIANT_TYPE ("(s)"),
                                       G_DBUS_CALL_FLAGS_NONE, DEADLINE_MS, NULL, &error);
  g_assert_no_error (error);
}

static void
emit_prepare_for_sleep (GDBusConnection *from,
                        GVariant        *parameters)
{
  g_autoptr(GError) error = NULL;

  g_dbus_connection_emit_signal (from, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                 "PrepareForSleep", parameters, &error);
  g_assert_no_error (error);
  g_dbus_connection_flush_sync (from, NULL, &error);
  g_assert_no_error (error);
}

/* Monitor recordings ---------------------------------------------------------------------- */

typedef struct
{
  ConfabSleepMonitor *monitor;
  guint               n_resumed;
  guint               n_sleeping;   /* notify::sleeping to TRUE */
} Watch;

static void
on_resumed (ConfabSleepMonitor *monitor,
            Watch              *watch)
{
  g_assert_false (confab_sleep_monitor_get_sleeping (monitor));
  watch->n_resumed++;
}

static void
on_sleeping (ConfabSleepMonitor *monitor,
             GParamSpec         *pspec,
             Watch              *watch)
{
  if (confab_sleep_monitor_get_sleeping (monitor))
    watch->n_sleeping++;
}

static void
watch_init (Watch              *watch,
            ConfabSleepMonitor *monitor)
{
  watch->monitor = monitor;
  g_signal_connect (monitor, "resumed", G_CALLBACK (on_resumed), watch);
  g_signal_connect (monitor, "notify::sleeping", G_CALLBACK (on_sleeping), watch);
}

static gboolean
is_ready (gpointer user_data)
{
  return confab_sleep_monitor_get_ready (user_data);
}

/* Tests --------------------------------------------------------------------------------- */

static void
test_suspend_resume (void)
{
  g_autoptr(Bus) bus = NULL;
  g_autoptr(ConfabSleepMonitor) monitor = NULL;
  Watch watch = { 0 };

  if (!dbus_daemon_available ())
    {
      g_test_skip ("no dbus-daemon");
      return;
    }
  bus = bus_new ();
  monitor = confab_sleep_monitor_new (bus->listener);
  bus_round_trip (bus->listener);
  watch_init (&watch, monitor);
  g_assert_true (confab_sleep_monitor_get_active (monitor));
  g_assert_true (confab_sleep_monitor_get_ready (monitor));
  g_assert_false (confab_sleep_monitor_get_sleeping (monitor));

  emit_prepare_for_sleep (bus->login1, g_variant_new ("(b)", TRUE));
  g_assert_true (core_test_wait_count (&watch.n_sleeping, 1, DEADLINE_MS));
  g_assert_true (confab_sleep_monitor_get_sleeping (monitor));
  g_assert_cmpuint (watch.n_resumed, ==, 0);

  emit_prepare_for_sleep (bus->login1, g_variant_new ("(b)", FALSE));
  g_assert_true (core_test_wait_count (&watch.n_resumed, 1, DEADLINE_MS));
  g_assert_false (confab_sleep_monitor_get_sleeping (monitor));

  /* A resume without a suspend seen first (the monitor started while asleep) counts. */
  emit_prepare_for_sleep (bus->login1, g_variant_new ("(b)", FALSE));
  g_assert_true (core_test_wait_count (&watch.n_resumed, 2, DEADLINE_MS));
  g_signal_handlers_disconnect_by_data (monitor, &watch);
}

/* Only logind's own, well-formed signal counts. */
static void
test_ignores_others (void)
{
  g_autoptr(Bus) bus = NULL;
  g_autoptr(ConfabSleepMonitor) monitor = NULL;
  g_autoptr(GDBusConnection) stranger = NULL;
  Watch watch = { 0 };

  if (!dbus_daemon_available ())
    {
      g_test_skip ("no dbus-daemon");
      return;
    }
  bus = bus_new ();
  stranger = bus_connect (bus);
  monitor = confab_sleep_monitor_new (bus->listener);
  bus_round_trip (bus->listener);
  watch_init (&watch, monitor);

  /* Someone else on the bus, and logind with the wrong arguments. */
  emit_prepare_for_sleep (stranger, g_variant_new ("(b)", FALSE));
  emit_prepare_for_sleep (bus->login1, g_variant_new ("(s)", "false"));
  emit_prepare_for_sleep (bus->login1, g_variant_new ("(bb)", FALSE, FALSE));
  /* Then the real one, as a marker: everything before it has been delivered by now. */
  emit_prepare_for_sleep (bus->login1, g_variant_new ("(b)", TRUE));
  g_assert_true (core_test_wait_count (&watch.n_sleeping, 1, DEADLINE_MS));
  g_assert_cmpuint (watch.n_resumed, ==, 0);

  g_dbus_connection_close_sync (stranger, NULL, NULL);
  g_signal_handlers_disconnect_by_data (monitor, &watch);
}

/* No system bus: no monitor, no error (the test runs with fatal warnings). */
static void
test_no_bus (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(ConfabSleepMonitor) monitor = NULL;

      g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/confab-test/system_bus_socket", TRUE);
      monitor = confab_sleep_monitor_new (NULL);
      g_assert_false (confab_sleep_monitor_get_ready (monitor));
      g_assert_true (core_test_wait_until (is_ready, monitor, DEADLINE_MS));
      g_assert_false (confab_sleep_monitor_get_active (monitor));
      g_assert_false (confab_sleep_monitor_get_sleeping (monitor));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* The default is the system bus, fetched without blocking; dropping the monitor while the
 * lookup is under way is safe. */
static void
test_system_bus (void)
{
  if (!dbus_daemon_available ())
    {
      g_test_skip ("no dbus-daemon");
      return;
    }
  if (g_test_subprocess ())
    {
      g_autoptr(Bus) bus = bus_new ();
      g_autoptr(ConfabSleepMonitor) dropped = NULL;
      g_autoptr(ConfabSleepMonitor) monitor = NULL;
      Watch watch = { 0 };

      g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address (bus->bus), TRUE);
      dropped = confab_sleep_monitor_new (NULL);
      g_clear_object (&dropped);
      monitor = confab_sleep_monitor_new (NULL);
      watch_init (&watch, monitor);
      g_assert_true (core_test_wait_until (is_ready, monitor, DEADLINE_MS));
      g_assert_true (confab_sleep_monitor_get_active (monitor));
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) system = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);

        g_assert_no_error (error);
        bus_round_trip (system);
      }
      emit_prepare_for_sleep (bus->login1, g_variant_new ("(b)", FALSE));
      g_assert_true (core_test_wait_count (&watch.n_resumed, 1, DEADLINE_MS));
      g_signal_handlers_disconnect_by_data (monitor, &watch);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* The whole chain: logind says "resumed", the manager probes its connection at once; a
 * server that froze meanwhile is noticed within the probe deadline. */
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

typedef struct
{
  gboolean done;
  gboolean ok;
  GError  *error;
} ConnectResult;

static void
connect_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ConnectResult *r = user_data;

  r->ok = confab_connection_manager_connect_finish (CONFAB_CONNECTION_MANAGER (source), result, &r->error);
  r->done = TRUE;
}

static void
test_manager_probes_on_resume (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(Bus) bus = NULL;
  g_autoptr(ConfabSleepMonitor) monitor = NULL;
  g_autoptr(CoreTestSandbox) sandbox = NULL;
  g_autoptr(ConfabTokenProvider) provider = NULL;
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *sandbox_path = core_test_sandbox_path ();
  ConnectResult r = { 0 };
  StateWait w = { 0 };
  gboolean noticed;
  gint64 start;
  gint64 elapsed;

  if (!dbus_daemon_available () || sandbox_path == NULL)
    {
      g_test_skip ("no dbus-daemon or no sandbox");
      return;
    }
  bus = bus_new ();
  monitor = confab_sleep_monitor_new (bus->listener);
  bus_round_trip (bus->listener);
  sandbox = core_test_sandbox_start (API_KEY, API_SECRET, extra, &error);
  g_assert_no_error (error);
  token = core_test_sandbox_demo_token (sandbox, "alice", &error);
  g_assert_no_error (error);
  provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                          "base-url", sandbox->url, "api-key", API_KEY, "token-provider", provider,
                          "sleep-monitor", monitor, NULL);
  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &r);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_assert_no_error (r.error);

  /* The server froze while we slept. */
  g_assert_true (core_test_sandbox_pause (sandbox, DEADLINE_MS));
  emit_prepare_for_sleep (bus->login1, g_variant_new ("(b)", TRUE));
  emit_prepare_for_sleep (bus->login1, g_variant_new ("(b)", FALSE));
  start = g_get_monotonic_time ();
  w.manager = manager;
  w.state = CONFAB_CONNECTION_STATE_RECONNECTING;
  noticed = core_test_wait_until (state_is, &w, DEADLINE_MS);
  elapsed = core_test_elapsed_ms (start);
  g_subprocess_send_signal (sandbox->process, SIGCONT);
  g_test_message ("a dead link noticed %" G_GINT64_FORMAT " ms after the resume", elapsed);
  g_assert_true (noticed);
  /* The probe deadline (3 s), far under the 15 s of the idle probes; margin for CI. */
  g_assert_cmpint (elapsed, <, CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS + 2000);

  w.state = CONFAB_CONNECTION_STATE_CONNECTED;
  g_assert_true (core_test_wait_until (state_is, &w, DEADLINE_MS));
  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/sleep-monitor/suspend-resume", test_suspend_resume);
  g_test_add_func ("/core/sleep-monitor/ignores-others", test_ignores_others);
  g_test_add_func ("/core/sleep-monitor/no-bus", test_no_bus);
  g_test_add_func ("/core/sleep-monitor/system-bus", test_system_bus);
  g_test_add_func ("/core/sleep-monitor/manager-probes-on-resume", test_manager_probes_on_resume);

  return g_test_run ();
}
