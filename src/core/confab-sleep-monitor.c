/* confab-sleep-monitor.c: logind's suspend and resume, for an immediate reconnect check
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sleep-monitor.h"

#define LOGIN1_NAME      "org.freedesktop.login1"
#define LOGIN1_PATH      "/org/freedesktop/login1"
#define LOGIN1_INTERFACE "org.freedesktop.login1.Manager"

struct _ConfabSleepMonitor
{
  GObject          parent_instance;

  GDBusConnection *connection;
  gboolean         looking_up;      /* the system-bus lookup is under way */
  guint            subscription;
  gboolean         ready;
  gboolean         sleeping;
};

G_DEFINE_FINAL_TYPE (ConfabSleepMonitor, confab_sleep_monitor, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CONNECTION,
  PROP_ACTIVE,
  PROP_READY,
  PROP_SLEEPING,
  N_PROPS
};

enum {
  SIGNAL_RESUMED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
set_sleeping (ConfabSleepMonitor *self,
              gboolean            sleeping)
{
  if (self->sleeping == sleeping)
    return;
  self->sleeping = sleeping;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SLEEPING]);
}

static void
on_prepare_for_sleep (GDBusConnection *connection,
                      const char      *sender_name,
                      const char      *object_path,
                      const char      *interface_name,
                      const char      *signal_name,
                      GVariant        *parameters,
                      gpointer         user_data)
{
  ConfabSleepMonitor *self = user_data;
  gboolean start = FALSE;

  /* Anyone may emit a signal with this name; only logind's well-formed one counts. */
  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(b)")))
    {
      g_debug ("Sleep monitor: ignoring PrepareForSleep with arguments %s",
               g_variant_get_type_string (parameters));
      return;
    }
  g_variant_get (parameters, "(b)", &start);

  g_debug ("Sleep monitor: %s", start ? "suspending" : "resumed");
  if (start)
    {
      set_sleeping (self, TRUE);
      return;
    }

  g_object_ref (self);
  set_sleeping (self, FALSE);
  g_signal_emit (self, signals[SIGNAL_RESUMED], 0);
  g_object_unref (self);
}

static void
set_ready (ConfabSleepMonitor *self)
{
  if (self->ready)
    return;
  self->ready = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READY]);
}

static void
subscribe (ConfabSleepMonitor *self)
{
  /* The sender is a well-known name: the bus daemon delivers only what its owner sends. */
  self->subscription = g_dbus_connection_signal_subscribe (self->connection, LOGIN1_NAME,
                                                           LOGIN1_INTERFACE, "PrepareForSleep",
                                                           LOGIN1_PATH, NULL,
                                                           G_DBUS_SIGNAL_FLAGS_NONE,
                                                           on_prepare_for_sleep, self, NULL);
  g_debug ("Sleep monitor: listening for logind's PrepareForSleep");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
  set_ready (self);
}

static void
on_bus (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr(ConfabSleepMonitor) self = g_weak_ref_get (weak);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = g_bus_get_finish (result, &error);

  g_weak_ref_clear (weak);
  g_free (weak);

  /* Gone, or disposed meanwhile: nothing to do. */
  if (self == NULL || !self->looking_up)
    return;
  self->looking_up = FALSE;

  if (connection == NULL)
    {
      /* Not an error for the app: it just will not hear of suspends. */
      g_debug ("Sleep monitor: no system bus (%s); a resume is noticed from the clock only",
               error->message);
      set_ready (self);
      return;
    }

  self->connection = g_steal_pointer (&connection);
  subscribe (self);
}

static void
confab_sleep_monitor_constructed (GObject *object)
{
  ConfabSleepMonitor *self = CONFAB_SLEEP_MONITOR (object);
  GWeakRef *weak;

  G_OBJECT_CLASS (confab_sleep_monitor_parent_class)->constructed (object);

  if (self->connection != NULL)
    {
      subscribe (self);
      return;
    }

  /* A weak reference, so the monitor can go before the answer. No cancellable: GLib
   * shares one lookup of the system bus between all its callers, and cancelling it for
   * one fails it for the others too. */
  weak = g_new0 (GWeakRef, 1);
  g_weak_ref_init (weak, self);
  self->looking_up = TRUE;
  g_bus_get (G_BUS_TYPE_SYSTEM, NULL, on_bus, weak);
}

static void
confab_sleep_monitor_dispose (GObject *object)
{
  ConfabSleepMonitor *self = CONFAB_SLEEP_MONITOR (object);

  self->looking_up = FALSE;
  if (self->subscription != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->subscription);
  self->subscription = 0;
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (confab_sleep_monitor_parent_class)->dispose (object);
}

static void
confab_sleep_monitor_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  ConfabSleepMonitor *self = CONFAB_SLEEP_MONITOR (object);

  switch (prop_id)
    {
    case PROP_CONNECTION:
      g_value_set_object (value, self->connection);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, self->subscription != 0);
      break;
    case PROP_READY:
      g_value_set_boolean (value, self->ready);
      break;
    case PROP_SLEEPING:
      g_value_set_boolean (value, self->sleeping);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_sleep_monitor_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  ConfabSleepMonitor *self = CONFAB_SLEEP_MONITOR (object);

  switch (prop_id)
    {
    case PROP_CONNECTION:
      self->connection = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_sleep_monitor_class_init (ConfabSleepMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_sleep_monitor_constructed;
  object_class->dispose = confab_sleep_monitor_dispose;
  object_class->get_property = confab_sleep_monitor_get_property;
  object_class->set_property = confab_sleep_monitor_set_property;

  properties[PROP_CONNECTION] =
    g_param_spec_object ("connection", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ACTIVE] =
    g_param_spec_boolean ("active", NULL, NULL, FALSE, ro);
  properties[PROP_READY] =
    g_param_spec_boolean ("ready", NULL, NULL, FALSE, ro);
  properties[PROP_SLEEPING] =
    g_param_spec_boolean ("sleeping", NULL, NULL, FALSE, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabSleepMonitor::resumed:
   *
   * The machine woke from a suspend: sockets may be dead and the network different.
   */
  signals[SIGNAL_RESUMED] =
    g_signal_new ("resumed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
confab_sleep_monitor_init (ConfabSleepMonitor *self)
{
}

ConfabSleepMonitor *
confab_sleep_monitor_new (GDBusConnection *connection)
{
  g_return_val_if_fail (connection == NULL || G_IS_DBUS_CONNECTION (connection), NULL);

  return g_object_new (CONFAB_TYPE_SLEEP_MONITOR, "connection", connection, NULL);
}

gboolean
confab_sleep_monitor_get_active (ConfabSleepMonitor *self)
{
  g_return_val_if_fail (CONFAB_IS_SLEEP_MONITOR (self), FALSE);
  return self->subscription != 0;
}

gboolean
confab_sleep_monitor_get_ready (ConfabSleepMonitor *self)
{
  g_return_val_if_fail (CONFAB_IS_SLEEP_MONITOR (self), FALSE);
  return self->ready;
}

gboolean
confab_sleep_monitor_get_sleeping (ConfabSleepMonitor *self)
{
  g_return_val_if_fail (CONFAB_IS_SLEEP_MONITOR (self), FALSE);
  return self->sleeping;
}
