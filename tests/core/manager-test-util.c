/* manager-test-util.c: what the connection manager's test programs share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-static-token-provider.h"
#include "manager-test-util.h"

/* A network monitor the test switches ------------------------------------------------- */

struct _TestMonitor
{
  GObject  parent_instance;
  gboolean available;
  gboolean loopback_reachable;
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

/* Like the system's netlink monitor: an address is reachable when there is a network,
 * and loopback also without one if the test says so (by default "no network" means
 * nothing at all, which the older tests rely on). */
static gboolean
test_monitor_can_reach (GNetworkMonitor     *monitor,
                        GSocketConnectable  *connectable,
                        GCancellable        *cancellable,
                        GError             **error)
{
  TestMonitor *self = TEST_MONITOR (monitor);

  if (self->available)
    return TRUE;
  if (self->loopback_reachable && G_IS_INET_SOCKET_ADDRESS (connectable) &&
      g_inet_address_get_is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (connectable))))
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, "Network unreachable");
  return FALSE;
}

static void
test_monitor_iface_init (GNetworkMonitorInterface *iface)
{
  iface->can_reach = test_monitor_can_reach;
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

void
test_monitor_set_available (TestMonitor *self,
                            gboolean     available)
{
  self->available = available;
  g_object_notify (G_OBJECT (self), "network-available");
  g_signal_emit_by_name (self, "network-changed", available);
}

void
test_monitor_set_loopback_reachable (TestMonitor *self,
                                     gboolean     reachable)
{
  self->loopback_reachable = reachable;
}

void
test_monitor_network_changed (TestMonitor *self)
{
  g_signal_emit_by_name (self, "network-changed", self->available);
}

/* Helpers -------------------------------------------------------------------------------- */

void
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

gboolean
wait_state (ConfabConnectionManager *manager,
            ConfabConnectionState    state,
            guint                    timeout_ms)
{
  StateWait w = { manager, state };

  return core_test_wait_until (state_is, &w, timeout_ms);
}

void
record_state (GObject    *object,
              GParamSpec *pspec,
              GArray     *states)
{
  ConfabConnectionState state = confab_connection_manager_get_state (CONFAB_CONNECTION_MANAGER (object));

  g_array_append_val (states, state);
}

guint
n_attempts (ConfabConnectionManager *manager)
{
  return g_list_model_get_n_items (confab_diagnostics_get_attempts (confab_connection_manager_get_diagnostics (manager)));
}

CoreTestSandbox *
start_sandbox (const char *const *extra)
{
  g_autoptr(GError) error = NULL;
  CoreTestSandbox *sandbox = core_test_sandbox_start (API_KEY, API_SECRET, extra, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sandbox);
  return sandbox;
}

ConfabTokenProvider *
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

ConfabConnectionManager *
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

gboolean
connect_and_wait_for (ConfabConnectionManager *manager,
                      const char              *user_id,
                      guint                    timeout_ms,
                      GError                 **error)
{
  ConnectResult r = { 0 };

  confab_connection_manager_connect_async (manager, user_id, NULL, NULL, connect_done, &r);
  if (!core_test_wait_flag (&r.done, timeout_ms))
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

gboolean
connect_and_wait (ConfabConnectionManager *manager,
                  const char              *user_id,
                  GError                 **error)
{
  return connect_and_wait_for (manager, user_id, DEADLINE_MS, error);
}

/* An HS256 token for @user_id signed with @secret. */
char *
make_token_exp (const char *user_id,
                const char *secret,
                gint64      exp)
{
  g_autofree char *payload = exp > 0
    ? g_strdup_printf ("{\"user_id\":\"%s\",\"exp\":%" G_GINT64_FORMAT "}", user_id, exp)
    : g_strdup_printf ("{\"user_id\":\"%s\"}", user_id);

  return core_test_sign_jwt (payload, secret);
}

char *
make_token (const char *user_id,
            const char *secret)
{
  return make_token_exp (user_id, secret, 0);
}

gboolean
report_has (ConfabConnectionManager *manager,
            const char              *needle)
{
  g_autofree char *report = confab_diagnostics_report (confab_connection_manager_get_diagnostics (manager));

  return strstr (report, needle) != NULL;
}
