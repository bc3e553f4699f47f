/* confab-fake-clock.c: a clock that moves only when told, for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-fake-clock.h"

/* Time stands still until confab_fake_clock_advance(), which walks it forward and runs
 * every timeout that falls due, in deadline order (ties in the order they were added),
 * with confab_clock_now() reading each timeout's own deadline while it runs. Nothing
 * here touches a GMainContext: a test needs no main loop and never waits. */
typedef struct _FakeTimeout FakeTimeout;

struct _ConfabFakeClock
{
  GObject      parent_instance;

  gint64       now;
  gint64       wall_offset;  /* wall = now + wall_offset */
  GPtrArray   *pending;      /* FakeTimeout*, owned, in scheduling order */
  FakeTimeout *current;      /* the one whose function is running, or NULL */
  guint        next_id;
  guint        generation;   /* bumped by every advance */
  guint        n_fired;      /* timeout functions run so far */
  gboolean     dispatching;
};

struct _FakeTimeout
{
  guint           id;
  guint           interval_ms;
  gint64          deadline;
  guint           held;        /* not before the advance after this generation */
  gboolean        removed;     /* removed while its own function ran */
  GSourceFunc     func;
  gpointer        data;
  GDestroyNotify  notify;
};

enum {
  PROP_0,
  PROP_NOW,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void confab_fake_clock_iface_init (ConfabClockInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabFakeClock, confab_fake_clock, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CONFAB_TYPE_CLOCK,
                                                      confab_fake_clock_iface_init))

static gint64
add_saturated (gint64 a,
               gint64 b)
{
  g_assert (b >= 0);

  return a > G_MAXINT64 - b ? G_MAXINT64 : a + b;
}

static void
fake_timeout_free (FakeTimeout *timeout)
{
  if (timeout->notify != NULL)
    timeout->notify (timeout->data);
  g_free (timeout);
}

static void
schedule (ConfabFakeClock *self,
          FakeTimeout     *timeout)
{
  /* The array stays in scheduling order, which breaks deadline ties. */
  timeout->deadline = add_saturated (self->now, (gint64) timeout->interval_ms * 1000);
  g_ptr_array_add (self->pending, timeout);
}

static gboolean
confab_fake_clock_move_timeout (ConfabClock *clock,
                                guint        id,
                                guint        ms)
{
  ConfabFakeClock *self = CONFAB_FAKE_CLOCK (clock);
  guint i;

  /* As on the real clock, a repeating timeout moved from its own function repeats at
   * its interval; a one-shot one is gone once its function returns. */
  if (self->current != NULL && self->current->id == id)
    return FALSE;

  for (i = 0; i < self->pending->len; i++)
    {
      FakeTimeout *timeout = g_ptr_array_index (self->pending, i);

      if (timeout->id == id)
        {
          /* Keeps its place in the array: ties still go by when it was added. */
          timeout->deadline = add_saturated (self->now, (gint64) ms * 1000);
          return TRUE;
        }
    }

  return FALSE;
}

static gint64
confab_fake_clock_now (ConfabClock *clock)
{
  return CONFAB_FAKE_CLOCK (clock)->now;
}

static gint64
confab_fake_clock_wall (ConfabClock *clock)
{
  ConfabFakeClock *self = CONFAB_FAKE_CLOCK (clock);

  return self->now + self->wall_offset;
}

static guint
confab_fake_clock_add_timeout (ConfabClock    *clock,
                               guint           ms,
                               GSourceFunc     func,
                               gpointer        data,
                               GDestroyNotify  notify)
{
  ConfabFakeClock *self = CONFAB_FAKE_CLOCK (clock);
  FakeTimeout *timeout = g_new0 (FakeTimeout, 1);
  guint i;

  /* Ids stay unique among live timeouts, even after the counter wraps. */
  for (;;)
    {
      gboolean used = FALSE;

      timeout->id = self->next_id++;
      if (timeout->id == 0)
        continue;
      if (self->current != NULL && self->current->id == timeout->id)
        used = TRUE;
      for (i = 0; i < self->pending->len && !used; i++)
        used = ((FakeTimeout *) g_ptr_array_index (self->pending, i))->id == timeout->id;
      if (!used)
        break;
    }

  timeout->interval_ms = ms;
  timeout->func = func;
  timeout->data = data;
  timeout->notify = notify;
  schedule (self, timeout);

  return timeout->id;
}

static void
confab_fake_clock_remove (ConfabClock *clock,
                          guint        id)
{
  ConfabFakeClock *self = CONFAB_FAKE_CLOCK (clock);
  guint i;

  if (self->current != NULL && self->current->id == id)
    {
      /* Freed (and notified) when its function returns. */
      self->current->removed = TRUE;
      return;
    }

  for (i = 0; i < self->pending->len; i++)
    {
      FakeTimeout *timeout = g_ptr_array_index (self->pending, i);

      if (timeout->id == id)
        {
          g_ptr_array_remove_index (self->pending, i);
          fake_timeout_free (timeout);
          return;
        }
    }
}

/* The pending timeout due first at or before @limit, or -1. */
static int
find_next_due (ConfabFakeClock *self,
               gint64           limit)
{
  FakeTimeout *best = NULL;
  int best_index = -1;
  guint i;

  for (i = 0; i < self->pending->len; i++)
    {
      FakeTimeout *timeout = g_ptr_array_index (self->pending, i);

      if (timeout->deadline > limit || timeout->held == self->generation)
        continue;
      if (best == NULL || timeout->deadline < best->deadline)
        {
          best = timeout;
          best_index = (int) i;
        }
    }

  return best_index;
}

/**
 * confab_fake_clock_advance:
 * @self: a #ConfabFakeClock
 * @usec: how far to move time, in microseconds (0 runs what is due now)
 *
 * Moves time forward by @usec, running every timeout that falls due on the way in
 * deadline order; while one runs, time reads its deadline. A timeout added or
 * re-armed during this call runs in it too if it falls due by the new time, except a
 * repeating 0 ms timeout, which runs once per call (it would never let time move on).
 * Must not be called from a timeout's function.
 */
void
confab_fake_clock_advance (ConfabFakeClock *self,
                           gint64           usec)
{
  gint64 start;
  gint64 target;
  int index;

  g_return_if_fail (CONFAB_IS_FAKE_CLOCK (self));
  g_return_if_fail (usec >= 0);
  g_return_if_fail (!self->dispatching);

  g_object_ref (self);
  start = self->now;
  target = add_saturated (self->now, usec);
  self->dispatching = TRUE;
  if (++self->generation == 0)  /* 0 is every new timeout's "held" */
    self->generation = 1;

  while ((index = find_next_due (self, target)) >= 0)
    {
      FakeTimeout *timeout = g_ptr_array_steal_index (self->pending, (guint) index);
      gboolean again;

      if (timeout->deadline > self->now)
        self->now = timeout->deadline;

      self->current = timeout;
      self->n_fired++;
      again = timeout->func (timeout->data);
      self->current = NULL;

      if (again && !timeout->removed)
        {
          if (timeout->interval_ms == 0)
            timeout->held = self->generation;
          schedule (self, timeout);
        }
      else
        {
          fake_timeout_free (timeout);
        }
    }

  self->now = target;
  self->dispatching = FALSE;

  if (self->now != start)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NOW]);
  g_object_unref (self);
}

/**
 * confab_fake_clock_set_wall:
 * @self: a #ConfabFakeClock
 * @wall_usec: the wall-clock time to read from now on, in µs since the epoch
 *
 * Sets (or jumps, as NTP or a suspend would) the wall clock; the monotonic clock is
 * untouched, and both move together on advance.
 */
void
confab_fake_clock_set_wall (ConfabFakeClock *self,
                            gint64           wall_usec)
{
  g_return_if_fail (CONFAB_IS_FAKE_CLOCK (self));

  self->wall_offset = wall_usec - self->now;
}

/**
 * confab_fake_clock_get_n_pending:
 * @self: a #ConfabFakeClock
 *
 * Returns: how many timeouts are waiting (not counting one whose function is running)
 */
guint
confab_fake_clock_get_n_pending (ConfabFakeClock *self)
{
  g_return_val_if_fail (CONFAB_IS_FAKE_CLOCK (self), 0);

  return self->pending->len;
}

/**
 * confab_fake_clock_get_n_fired:
 * @self: a #ConfabFakeClock
 *
 * Returns: how many times a timeout's function has run on this clock: the wake-ups a
 *   real clock would have cost
 */
guint
confab_fake_clock_get_n_fired (ConfabFakeClock *self)
{
  g_return_val_if_fail (CONFAB_IS_FAKE_CLOCK (self), 0);

  return self->n_fired;
}

static void
confab_fake_clock_dispose (GObject *object)
{
  ConfabFakeClock *self = CONFAB_FAKE_CLOCK (object);

  /* Like a main context going away: each pending timeout's notify runs. A notify may
   * touch the clock, so each is unlisted before it runs. */
  while (self->pending->len > 0)
    fake_timeout_free (g_ptr_array_steal_index (self->pending, 0));

  G_OBJECT_CLASS (confab_fake_clock_parent_class)->dispose (object);
}

static void
confab_fake_clock_finalize (GObject *object)
{
  ConfabFakeClock *self = CONFAB_FAKE_CLOCK (object);

  g_ptr_array_unref (self->pending);

  G_OBJECT_CLASS (confab_fake_clock_parent_class)->finalize (object);
}

static void
confab_fake_clock_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  ConfabFakeClock *self = CONFAB_FAKE_CLOCK (object);

  switch (prop_id)
    {
    case PROP_NOW:
      g_value_set_int64 (value, self->now);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_fake_clock_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  ConfabFakeClock *self = CONFAB_FAKE_CLOCK (object);

  switch (prop_id)
    {
    case PROP_NOW:
      self->now = g_value_get_int64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_fake_clock_iface_init (ConfabClockInterface *iface)
{
  iface->now = confab_fake_clock_now;
  iface->wall = confab_fake_clock_wall;
  iface->add_timeout = confab_fake_clock_add_timeout;
  iface->remove = confab_fake_clock_remove;
  iface->move_timeout = confab_fake_clock_move_timeout;
}

static void
confab_fake_clock_class_init (ConfabFakeClockClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_fake_clock_dispose;
  object_class->finalize = confab_fake_clock_finalize;
  object_class->get_property = confab_fake_clock_get_property;
  object_class->set_property = confab_fake_clock_set_property;

  /**
   * ConfabFakeClock:now:
   *
   * The monotonic time in µs: set at construction (start at a non-zero time, as the
   * real clock does, so "0 = never" fields stay unambiguous), then moved only by
   * confab_fake_clock_advance(), which notifies once per call.
   */
  properties[PROP_NOW] =
    g_param_spec_int64 ("now", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_fake_clock_init (ConfabFakeClock *self)
{
  self->pending = g_ptr_array_new ();
  self->next_id = 1;
}

/**
 * confab_fake_clock_new:
 * @start_usec: the monotonic time to start at, in µs (≥ 0); the wall clock starts at
 *   the same value until confab_fake_clock_set_wall()
 *
 * Returns: (transfer full): a new #ConfabFakeClock
 */
ConfabFakeClock *
confab_fake_clock_new (gint64 start_usec)
{
  g_return_val_if_fail (start_usec >= 0, NULL);

  return g_object_new (CONFAB_TYPE_FAKE_CLOCK, "now", start_usec, NULL);
}
