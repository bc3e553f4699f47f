/* confab-system-clock.c: the real clock (monotonic time, GLib main-context timeouts)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-system-clock.h"

/* Timeouts get the clock's own ids rather than GSource ids: GSource ids are only unique
 * within one GMainContext, and g_source_remove() looks in the global default context
 * only, while our timeouts live on whichever thread-default context added them. A table
 * of our own also makes removing an id that already fired harmless. */
struct _ConfabSystemClock
{
  GObject     parent_instance;

  GMutex      mutex;
  GHashTable *timeouts;  /* id → Timeout*, not owned; an entry lives as long as its source */
  guint       next_id;
};

typedef struct
{
  ConfabSystemClock *clock;   /* owned: a clock outlives its pending timeouts */
  guint              id;
  GSource           *source;  /* borrowed: valid while the entry is in clock->timeouts */
  GSourceFunc        func;
  gpointer           data;
  GDestroyNotify     notify;
  gboolean           dispatching;  /* under clock->mutex: its function is running */
} Timeout;

static void confab_system_clock_iface_init (ConfabClockInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabSystemClock, confab_system_clock, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CONFAB_TYPE_CLOCK,
                                                      confab_system_clock_iface_init))

static gboolean
timeout_dispatch (gpointer user_data)
{
  Timeout *timeout = user_data;
  gboolean again;

  g_mutex_lock (&timeout->clock->mutex);
  timeout->dispatching = TRUE;
  g_mutex_unlock (&timeout->clock->mutex);
  again = timeout->func (timeout->data);
  g_mutex_lock (&timeout->clock->mutex);
  timeout->dispatching = FALSE;
  g_mutex_unlock (&timeout->clock->mutex);
  return again;
}

/* The source's destroy notify: runs once, whether the function returned
 * G_SOURCE_REMOVE or the timeout was removed. */
static void
timeout_free (gpointer user_data)
{
  Timeout *timeout = user_data;
  ConfabSystemClock *self = timeout->clock;

  g_mutex_lock (&self->mutex);
  g_hash_table_remove (self->timeouts, GUINT_TO_POINTER (timeout->id));
  g_mutex_unlock (&self->mutex);

  if (timeout->notify != NULL)
    timeout->notify (timeout->data);

  g_object_unref (self);
  g_free (timeout);
}

static gint64
confab_system_clock_now (ConfabClock *clock)
{
  return g_get_monotonic_time ();
}

static gint64
confab_system_clock_wall (ConfabClock *clock)
{
  return g_get_real_time ();
}

static guint
confab_system_clock_add_timeout (ConfabClock    *clock,
                                 guint           ms,
                                 GSourceFunc     func,
                                 gpointer        data,
                                 GDestroyNotify  notify)
{
  ConfabSystemClock *self = CONFAB_SYSTEM_CLOCK (clock);
  GMainContext *context = g_main_context_ref_thread_default ();
  GSource *source = g_timeout_source_new (ms);
  Timeout *timeout = g_new0 (Timeout, 1);
  guint id;

  timeout->clock = g_object_ref (self);
  timeout->source = source;
  timeout->func = func;
  timeout->data = data;
  timeout->notify = notify;

  g_source_set_static_name (source, "[confab] clock timeout");
  g_source_set_callback (source, timeout_dispatch, timeout, timeout_free);

  /* Listed before it is attached: once attached it may fire (and free itself) on the
   * context's own thread. */
  g_mutex_lock (&self->mutex);
  do
    id = self->next_id++;
  while (id == 0 || g_hash_table_contains (self->timeouts, GUINT_TO_POINTER (id)));
  timeout->id = id;
  g_hash_table_insert (self->timeouts, GUINT_TO_POINTER (id), timeout);
  g_mutex_unlock (&self->mutex);

  g_source_attach (source, context);
  g_source_unref (source);
  g_main_context_unref (context);

  return id;
}

static void
confab_system_clock_remove (ConfabClock *clock,
                            guint        id)
{
  ConfabSystemClock *self = CONFAB_SYSTEM_CLOCK (clock);
  GSource *source = NULL;
  Timeout *timeout;

  g_mutex_lock (&self->mutex);
  timeout = g_hash_table_lookup (self->timeouts, GUINT_TO_POINTER (id));
  if (timeout != NULL)
    source = g_source_ref (timeout->source);
  g_mutex_unlock (&self->mutex);

  if (source == NULL)
    return;

  /* Runs timeout_free (now, or after the dispatch if it is running), which unlists it. */
  g_source_destroy (source);
  g_source_unref (source);
}

static gboolean
confab_system_clock_move_timeout (ConfabClock *clock,
                                  guint        id,
                                  guint        ms)
{
  ConfabSystemClock *self = CONFAB_SYSTEM_CLOCK (clock);
  GSource *source = NULL;
  Timeout *timeout;

  g_mutex_lock (&self->mutex);
  timeout = g_hash_table_lookup (self->timeouts, GUINT_TO_POINTER (id));
  /* While its function runs, GLib re-arms or drops the source right after it returns,
   * so a move would be lost: say so, as the fake clock does. */
  if (timeout != NULL && !timeout->dispatching)
    source = g_source_ref (timeout->source);
  g_mutex_unlock (&self->mutex);

  if (source == NULL)
    return FALSE;

  /* A GTimeoutSource keeps its expiry as the ready time: this moves it (and wakes the
   * context only if the new time is sooner). g_source_set_ready_time() is thread-safe. */
  if (g_source_is_destroyed (source))
    {
      g_source_unref (source);
      return FALSE;
    }
  g_source_set_ready_time (source, g_get_monotonic_time () + (gint64) ms * 1000);
  g_source_unref (source);
  return TRUE;
}

static void
confab_system_clock_finalize (GObject *object)
{
  ConfabSystemClock *self = CONFAB_SYSTEM_CLOCK (object);

  /* Every pending timeout holds a reference, so none is left here. */
  g_hash_table_unref (self->timeouts);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (confab_system_clock_parent_class)->finalize (object);
}

static void
confab_system_clock_iface_init (ConfabClockInterface *iface)
{
  iface->now = confab_system_clock_now;
  iface->wall = confab_system_clock_wall;
  iface->add_timeout = confab_system_clock_add_timeout;
  iface->remove = confab_system_clock_remove;
  iface->move_timeout = confab_system_clock_move_timeout;
}

static void
confab_system_clock_class_init (ConfabSystemClockClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_system_clock_finalize;
}

static void
confab_system_clock_init (ConfabSystemClock *self)
{
  g_mutex_init (&self->mutex);
  self->timeouts = g_hash_table_new (NULL, NULL);
  self->next_id = 1;
}

/**
 * confab_system_clock_new:
 *
 * A clock on g_get_monotonic_time() and g_get_real_time() whose timeouts run on the
 * thread-default main context of the thread that adds them. Most code wants the
 * shared one, confab_clock_get_default().
 *
 * Returns: (transfer full): a new #ConfabSystemClock
 */
ConfabSystemClock *
confab_system_clock_new (void)
{
  return g_object_new (CONFAB_TYPE_SYSTEM_CLOCK, NULL);
}
