/* test-clock.c: the fake clock's dispatch rules and the system clock on a real loop
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-clock.h"
#include "confab-fake-clock.h"
#include "confab-system-clock.h"

#define START G_GINT64_CONSTANT (1000000000)  /* 1000 s: not 0, like a real monotonic clock */
#define MS    G_GINT64_CONSTANT (1000)

/* Shared by the timeouts of one test: what ran, at which time. */
typedef struct
{
  ConfabClock *clock;
  gint64       origin;
  GString     *log;  /* "name@ms-since-origin " per call */
} Record;

typedef struct
{
  Record     *record;
  const char *name;
  guint       repeat;  /* return CONTINUE this many times, then REMOVE */
  guint       calls;
  guint       notifies;
  gint64      last_run;
} Probe;

static void
record_init (Record      *record,
             ConfabClock *clock)
{
  record->clock = clock;
  record->origin = confab_clock_now (clock);
  record->log = g_string_new (NULL);
}

static void
record_clear (Record *record)
{
  g_string_free (record->log, TRUE);
}

static void
probe_init (Probe      *probe,
            Record     *record,
            const char *name,
            guint       repeat)
{
  probe->record = record;
  probe->name = name;
  probe->repeat = repeat;
  probe->calls = 0;
  probe->notifies = 0;
  probe->last_run = 0;
}

static gboolean
probe_cb (gpointer user_data)
{
  Probe *probe = user_data;

  probe->calls++;
  probe->last_run = confab_clock_now (probe->record->clock);
  g_string_append_printf (probe->record->log, "%s@%" G_GINT64_FORMAT " ", probe->name,
                          (probe->last_run - probe->record->origin) / MS);

  return probe->calls <= probe->repeat ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
probe_notify (gpointer user_data)
{
  Probe *probe = user_data;

  probe->notifies++;
}

static guint
add_probe (ConfabClock *clock,
           guint        ms,
           Probe       *probe)
{
  return confab_clock_add_timeout (clock, ms, probe_cb, probe, probe_notify);
}

/* ---- fake clock ---- */

static void
test_fake_order (void)
{
  g_autoptr(ConfabFakeClock) fake = confab_fake_clock_new (START);
  ConfabClock *clock = CONFAB_CLOCK (fake);
  Record record;
  Probe c30, a10, b10, d20, e0;

  record_init (&record, clock);
  probe_init (&c30, &record, "c30", 0);
  probe_init (&a10, &record, "a10", 0);
  probe_init (&b10, &record, "b10", 0);
  probe_init (&d20, &record, "d20", 0);
  probe_init (&e0, &record, "e0", 0);

  g_assert_cmpint (confab_clock_now (clock), ==, START);
  add_probe (clock, 30, &c30);
  add_probe (clock, 10, &a10);
  add_probe (clock, 20, &d20);
  add_probe (clock, 10, &b10);  /* same deadline as a10, added later: runs after it */
  add_probe (clock, 0, &e0);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 5);

  /* Nothing runs until time is moved; advance (0) runs only what is due now. */
  g_assert_cmpstr (record.log->str, ==, "");
  confab_fake_clock_advance (fake, 0);
  g_assert_cmpstr (record.log->str, ==, "e0@0 ");

  /* Each runs at (and reads) its own deadline, in deadline order. */
  confab_fake_clock_advance (fake, 15 * MS);
  g_assert_cmpstr (record.log->str, ==, "e0@0 a10@10 b10@10 ");
  g_assert_cmpint (confab_clock_now (clock), ==, START + 15 * MS);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 2);

  /* One microsecond short of a deadline is not enough. */
  confab_fake_clock_advance (fake, 5 * MS - 1);
  g_assert_cmpstr (record.log->str, ==, "e0@0 a10@10 b10@10 ");
  confab_fake_clock_advance (fake, 1);
  g_assert_cmpstr (record.log->str, ==, "e0@0 a10@10 b10@10 d20@20 ");

  confab_fake_clock_advance (fake, 100 * MS);
  g_assert_cmpstr (record.log->str, ==, "e0@0 a10@10 b10@10 d20@20 c30@30 ");
  g_assert_cmpint (confab_clock_now (clock), ==, START + 120 * MS);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 0);

  /* Every one-shot ran once and was notified once. */
  g_assert_cmpuint (a10.calls + b10.calls + c30.calls + d20.calls + e0.calls, ==, 5);
  g_assert_cmpuint (a10.notifies + b10.notifies + c30.notifies + d20.notifies + e0.notifies, ==, 5);
  record_clear (&record);
}

static void
test_fake_repeating (void)
{
  g_autoptr(ConfabFakeClock) fake = confab_fake_clock_new (START);
  ConfabClock *clock = CONFAB_CLOCK (fake);
  Record record;
  Probe tick, zero;

  record_init (&record, clock);
  probe_init (&tick, &record, "t", 3);  /* runs 4 times */

  add_probe (clock, 10, &tick);
  confab_fake_clock_advance (fake, 35 * MS);
  g_assert_cmpstr (record.log->str, ==, "t@10 t@20 t@30 ");
  g_assert_cmpuint (tick.notifies, ==, 0);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 1);

  confab_fake_clock_advance (fake, 5 * MS);
  g_assert_cmpstr (record.log->str, ==, "t@10 t@20 t@30 t@40 ");
  g_assert_cmpuint (tick.notifies, ==, 1);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 0);

  confab_fake_clock_advance (fake, 100 * MS);
  g_assert_cmpuint (tick.calls, ==, 4);

  /* A repeating 0 ms timeout runs once per advance instead of spinning forever. */
  probe_init (&zero, &record, "z", 2);
  add_probe (clock, 0, &zero);
  confab_fake_clock_advance (fake, 0);
  g_assert_cmpuint (zero.calls, ==, 1);
  confab_fake_clock_advance (fake, 7 * MS);
  g_assert_cmpuint (zero.calls, ==, 2);
  g_assert_cmpuint (zero.notifies, ==, 0);
  confab_fake_clock_advance (fake, 0);
  g_assert_cmpuint (zero.calls, ==, 3);
  g_assert_cmpuint (zero.notifies, ==, 1);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 0);
  record_clear (&record);
}

typedef struct
{
  ConfabClock *clock;
  guint        self_id;
  guint        other_id;
  guint        calls;
  guint        notifies;
} Remover;

/* Removes another timeout and itself, yet asks to continue: the removal wins. */
static gboolean
remover_cb (gpointer user_data)
{
  Remover *remover = user_data;

  remover->calls++;
  confab_clock_remove (remover->clock, remover->other_id);
  confab_clock_remove (remover->clock, remover->self_id);
  /* Its own notify waits until it has returned. */
  g_assert_cmpuint (remover->notifies, ==, 0);
  return G_SOURCE_CONTINUE;
}

static void
remover_notify (gpointer user_data)
{
  Remover *remover = user_data;

  remover->notifies++;
}

static void
test_fake_remove (void)
{
  g_autoptr(ConfabFakeClock) fake = confab_fake_clock_new (START);
  ConfabClock *clock = CONFAB_CLOCK (fake);
  Record record;
  Probe keep, gone, victim, cleared;
  Remover remover = { clock, 0, 0, 0, 0 };
  guint id;

  record_init (&record, clock);
  probe_init (&keep, &record, "keep", 0);
  probe_init (&gone, &record, "gone", 0);
  probe_init (&victim, &record, "victim", 0);
  probe_init (&cleared, &record, "cleared", 0);

  add_probe (clock, 20, &keep);
  id = add_probe (clock, 10, &gone);
  g_assert_cmpuint (id, !=, 0);
  confab_clock_remove (clock, id);
  g_assert_cmpuint (gone.notifies, ==, 1);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 1);

  /* Removing it again, an unknown id or 0 changes nothing, and is no critical. */
  confab_clock_remove (clock, id);
  confab_clock_remove (clock, 0);
  confab_clock_remove (clock, 987654);
  g_assert_cmpuint (gone.notifies, ==, 1);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 1);

  confab_fake_clock_advance (fake, 30 * MS);
  g_assert_cmpstr (record.log->str, ==, "keep@20 ");
  g_assert_cmpuint (gone.calls, ==, 0);

  /* Removal from inside a timeout, of another one and of itself. */
  remover.other_id = add_probe (clock, 50, &victim);
  remover.self_id = confab_clock_add_timeout (clock, 10, remover_cb, &remover, remover_notify);
  confab_fake_clock_advance (fake, 100 * MS);
  g_assert_cmpuint (remover.calls, ==, 1);
  g_assert_cmpuint (remover.notifies, ==, 1);
  g_assert_cmpuint (victim.calls, ==, 0);
  g_assert_cmpuint (victim.notifies, ==, 1);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 0);

  /* confab_clock_clear_timeout removes and zeroes; a zero id is left alone. */
  id = add_probe (clock, 10, &cleared);
  confab_clock_clear_timeout (clock, &id);
  g_assert_cmpuint (id, ==, 0);
  g_assert_cmpuint (cleared.notifies, ==, 1);
  confab_clock_clear_timeout (clock, &id);
  confab_fake_clock_advance (fake, 100 * MS);
  g_assert_cmpuint (cleared.calls, ==, 0);
  g_assert_cmpuint (cleared.notifies, ==, 1);
  record_clear (&record);
}

typedef struct
{
  Record *record;
  Probe   soon;   /* +5 ms: due within the same advance */
  Probe   now;    /* +0 ms: due at once, after the spawner */
  Probe   later;  /* +50 ms: beyond the advance */
  guint   calls;
} Spawner;

static gboolean
spawner_cb (gpointer user_data)
{
  Spawner *spawner = user_data;

  spawner->calls++;
  g_string_append (spawner->record->log, "spawner ");
  add_probe (spawner->record->clock, 5, &spawner->soon);
  add_probe (spawner->record->clock, 0, &spawner->now);
  add_probe (spawner->record->clock, 50, &spawner->later);
  return G_SOURCE_REMOVE;
}

static void
test_fake_add_during_dispatch (void)
{
  g_autoptr(ConfabFakeClock) fake = confab_fake_clock_new (START);
  ConfabClock *clock = CONFAB_CLOCK (fake);
  Record record;
  Spawner spawner;
  Probe after;

  record_init (&record, clock);
  spawner.record = &record;
  spawner.calls = 0;
  probe_init (&spawner.soon, &record, "soon", 0);
  probe_init (&spawner.now, &record, "now", 0);
  probe_init (&spawner.later, &record, "later", 0);
  probe_init (&after, &record, "after", 0);

  confab_clock_add_timeout (clock, 10, spawner_cb, &spawner, NULL);
  add_probe (clock, 20, &after);

  /* Added at 10 for 15 and 10 (≤ 30): both run in this advance, interleaved by
   * deadline with the older timeout at 20; the one for 60 waits. */
  confab_fake_clock_advance (fake, 30 * MS);
  g_assert_cmpstr (record.log->str, ==, "spawner now@10 soon@15 after@20 ");
  g_assert_cmpuint (spawner.later.calls, ==, 0);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 1);

  confab_fake_clock_advance (fake, 30 * MS);
  g_assert_cmpstr (record.log->str, ==, "spawner now@10 soon@15 after@20 later@60 ");
  g_assert_cmpuint (spawner.later.notifies, ==, 1);
  record_clear (&record);
}

static void
test_fake_dispose (void)
{
  ConfabFakeClock *fake = confab_fake_clock_new (START);
  Record record;
  Probe one, two;

  record_init (&record, CONFAB_CLOCK (fake));
  probe_init (&one, &record, "one", 0);
  probe_init (&two, &record, "two", 5);
  add_probe (CONFAB_CLOCK (fake), 10, &one);
  add_probe (CONFAB_CLOCK (fake), 20, &two);

  /* Like a main context going away: pending timeouts are notified, never run. */
  g_assert_finalize_object (fake);
  g_assert_cmpuint (one.notifies, ==, 1);
  g_assert_cmpuint (two.notifies, ==, 1);
  g_assert_cmpuint (one.calls + two.calls, ==, 0);
  record_clear (&record);
}

static void
count_cb (GObject    *object,
          GParamSpec *pspec,
          gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_fake_wall (void)
{
  g_autoptr(ConfabFakeClock) fake = confab_fake_clock_new (START);
  ConfabClock *clock = CONFAB_CLOCK (fake);
  const gint64 epoch = G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC;
  guint now_notifies = 0;
  gint64 now = 0;

  g_signal_connect (fake, "notify::now", G_CALLBACK (count_cb), &now_notifies);

  g_assert_cmpint (confab_clock_wall (clock), ==, START);
  confab_fake_clock_set_wall (fake, epoch);
  g_assert_cmpint (confab_clock_wall (clock), ==, epoch);
  g_assert_cmpint (confab_clock_now (clock), ==, START);

  confab_fake_clock_advance (fake, 5 * G_USEC_PER_SEC);
  g_assert_cmpint (confab_clock_wall (clock), ==, epoch + 5 * G_USEC_PER_SEC);
  g_assert_cmpint (confab_clock_now (clock), ==, START + 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (now_notifies, ==, 1);
  g_object_get (fake, "now", &now, NULL);
  g_assert_cmpint (now, ==, START + 5 * G_USEC_PER_SEC);

  /* A wall-clock jump (NTP, suspend) leaves monotonic time alone. */
  confab_fake_clock_set_wall (fake, epoch - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);
  g_assert_cmpint (confab_clock_wall (clock), ==, epoch - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);
  g_assert_cmpint (confab_clock_now (clock), ==, START + 5 * G_USEC_PER_SEC);

  /* Not moving time is no change. */
  confab_fake_clock_advance (fake, 0);
  g_assert_cmpuint (now_notifies, ==, 1);
}

/* ---- system clock, on real main loops ---- */

/* A moved timeout keeps its id, function and notify, and runs once, at its new time;
 * moving costs no run. */
static void
test_fake_move (void)
{
  g_autoptr(ConfabFakeClock) fake = confab_fake_clock_new (START);
  ConfabClock *clock = CONFAB_CLOCK (fake);
  Record record;
  Probe late;
  Probe soon;
  Probe other;
  guint late_id;
  guint soon_id;

  record_init (&record, clock);
  probe_init (&late, &record, "late", 0);
  probe_init (&soon, &record, "soon", 0);
  probe_init (&other, &record, "other", 0);
  late_id = add_probe (clock, 10000, &late);
  soon_id = add_probe (clock, 10000, &soon);
  add_probe (clock, 12000, &other);

  confab_fake_clock_advance (fake, 5000 * MS);
  /* Later (traffic at t = 5 s: due at 15 s, not 10 s) and sooner. */
  g_assert_true (confab_clock_move_timeout (clock, late_id, 10000));
  g_assert_true (confab_clock_move_timeout (clock, soon_id, 1000));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 3);
  g_assert_cmpuint (confab_fake_clock_get_n_fired (fake), ==, 0);

  confab_fake_clock_advance (fake, 5000 * MS);   /* t = 10 s */
  g_assert_cmpstr (record.log->str, ==, "soon@6000 ");
  confab_fake_clock_advance (fake, 10000 * MS);  /* t = 20 s */
  g_assert_cmpstr (record.log->str, ==, "soon@6000 other@12000 late@15000 ");
  g_assert_cmpuint (confab_fake_clock_get_n_fired (fake), ==, 3);
  g_assert_cmpuint (late.notifies, ==, 1);
  g_assert_cmpuint (late.calls, ==, 1);

  /* Gone ids, 0, and a timeout moving itself from its own function: FALSE, no change. */
  g_assert_false (confab_clock_move_timeout (clock, late_id, 10));
  g_assert_false (confab_clock_move_timeout (clock, 0, 10));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (fake), ==, 0);
  record_clear (&record);
}

static gboolean
flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @context until *@counter reaches @target or @timeout_ms pass. */
static gboolean
wait_for (GMainContext *context,
          const guint  *counter,
          guint         target,
          guint         timeout_ms)
{
  gboolean expired = FALSE;
  GSource *deadline = g_timeout_source_new (timeout_ms);

  g_source_set_callback (deadline, flag_cb, &expired, NULL);
  g_source_attach (deadline, context);
  while (*counter < target && !expired)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);

  return *counter >= target;
}

static void
test_system_default (void)
{
  ConfabClock *clock = confab_clock_get_default ();
  gint64 first;
  gint64 second;
  gint64 wall;

  g_assert_true (CONFAB_IS_SYSTEM_CLOCK (clock));
  g_assert_true (confab_clock_get_default () == clock);

  first = confab_clock_now (clock);
  second = confab_clock_now (clock);
  g_assert_cmpint (first, >, 0);
  g_assert_cmpint (second, >=, first);

  wall = confab_clock_wall (clock);
  g_assert_cmpint (ABS (wall - g_get_real_time ()), <, 5 * G_USEC_PER_SEC);
}

static void
test_system_timeout (void)
{
  ConfabClock *clock = confab_clock_get_default ();
  Record record;
  Probe probe;
  gint64 added_at;
  guint id;

  record_init (&record, clock);
  probe_init (&probe, &record, "p", 0);

  added_at = confab_clock_now (clock);
  id = add_probe (clock, 10, &probe);
  g_assert_cmpuint (id, !=, 0);

  g_assert_true (wait_for (NULL, &probe.calls, 1, 5000));
  g_assert_cmpint (probe.last_run - added_at, >=, 10 * MS);
  g_assert_true (wait_for (NULL, &probe.notifies, 1, 5000));
  g_assert_cmpuint (probe.calls, ==, 1);

  /* Its id is gone now: removing it is harmless. */
  confab_clock_remove (clock, id);
  g_assert_cmpuint (probe.notifies, ==, 1);
  record_clear (&record);
}

static void
test_system_thread_default (void)
{
  ConfabClock *clock = confab_clock_get_default ();
  g_autoptr(GMainContext) context = g_main_context_new ();
  Record record;
  Probe probe;

  record_init (&record, clock);
  probe_init (&probe, &record, "p", 0);

  /* Added while @context is the thread-default, so it runs there: only @context is
   * iterated below. */
  g_main_context_push_thread_default (context);
  add_probe (clock, 10, &probe);
  g_main_context_pop_thread_default (context);

  g_assert_true (wait_for (context, &probe.calls, 1, 5000));
  g_assert_cmpuint (probe.notifies, ==, 1);
  record_clear (&record);
}

static void
test_system_remove_and_repeat (void)
{
  ConfabClock *clock = confab_clock_get_default ();
  Record record;
  Probe removed, tick;
  Remover remover = { NULL, 0, 0, 0, 0 };
  guint id;

  record_init (&record, clock);
  probe_init (&removed, &record, "removed", 0);
  probe_init (&tick, &record, "tick", 2);  /* runs 3 times */

  id = add_probe (clock, 10, &removed);
  add_probe (clock, 5, &tick);
  confab_clock_remove (clock, id);
  g_assert_cmpuint (removed.notifies, ==, 1);

  g_assert_true (wait_for (NULL, &tick.notifies, 1, 5000));
  g_assert_cmpuint (tick.calls, ==, 3);

  /* A timeout that removes itself while asking to continue runs once. */
  remover.clock = clock;
  remover.self_id = confab_clock_add_timeout (clock, 1, remover_cb, &remover, remover_notify);
  g_assert_true (wait_for (NULL, &remover.notifies, 1, 5000));
  g_assert_cmpuint (remover.calls, ==, 1);

  /* Well past the removed one's deadline, it never ran. */
  g_assert_cmpint (confab_clock_now (clock) - record.origin, >, 10 * MS);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (removed.calls, ==, 0);
  g_assert_cmpuint (removed.notifies, ==, 1);
  record_clear (&record);
}

static void
test_system_clock_outlives_timeouts (void)
{
  ConfabSystemClock *system = confab_system_clock_new ();
  gpointer weak = system;
  Record record;
  Probe probe;

  record_init (&record, CONFAB_CLOCK (system));
  probe_init (&probe, &record, "p", 0);
  g_object_add_weak_pointer (G_OBJECT (system), &weak);

  add_probe (CONFAB_CLOCK (system), 5, &probe);
  g_object_unref (system);
  g_assert_nonnull (weak);  /* kept by its pending timeout */

  g_assert_true (wait_for (NULL, &probe.notifies, 1, 5000));
  g_assert_cmpuint (probe.calls, ==, 1);
  g_assert_null (weak);
  record_clear (&record);
}

/* The real clock moves the GSource's ready time: later, then sooner. */
static void
test_system_move (void)
{
  ConfabClock *clock = confab_clock_get_default ();
  Record record;
  Probe probe;
  gint64 added_at;
  guint id;

  record_init (&record, clock);
  probe_init (&probe, &record, "p", 0);

  added_at = confab_clock_now (clock);
  id = add_probe (clock, 20, &probe);
  g_assert_true (confab_clock_move_timeout (clock, id, 300));
  /* Not at its first time… */
  g_assert_false (wait_for (NULL, &probe.calls, 1, 150));
  /* …but at the moved one, once. */
  g_assert_true (wait_for (NULL, &probe.calls, 1, 5000));
  g_assert_cmpint (probe.last_run - added_at, >=, 300 * MS);
  g_assert_true (wait_for (NULL, &probe.notifies, 1, 5000));
  g_assert_false (confab_clock_move_timeout (clock, id, 10));

  /* Sooner: a 60 s timeout moved to 10 ms runs now. */
  probe_init (&probe, &record, "q", 0);
  added_at = confab_clock_now (clock);
  id = add_probe (clock, 60000, &probe);
  g_assert_true (confab_clock_move_timeout (clock, id, 10));
  g_assert_true (wait_for (NULL, &probe.calls, 1, 5000));
  g_assert_cmpint (probe.last_run - added_at, <, 30000 * MS);
  g_assert_true (wait_for (NULL, &probe.notifies, 1, 5000));
  record_clear (&record);
}

/* A timeout moved from inside its own function: GLib drops (or re-arms) the source right
 * after the function returns, so the move cannot hold. Both clocks say FALSE. */
typedef struct
{
  ConfabClock *clock;
  guint        id;
  guint        calls;
  gboolean     moved;
} SelfMover;

static gboolean
self_mover_cb (gpointer user_data)
{
  SelfMover *mover = user_data;

  mover->calls++;
  mover->moved = confab_clock_move_timeout (mover->clock, mover->id, 10);
  return G_SOURCE_REMOVE;
}

static void
check_move_from_own_function (ConfabClock *clock,
                              gboolean     fake)
{
  SelfMover mover = { clock, 0, 0, TRUE };

  mover.id = confab_clock_add_timeout (clock, 5, self_mover_cb, &mover, NULL);
  if (fake)
    confab_fake_clock_advance (CONFAB_FAKE_CLOCK (clock), 5 * MS);
  else
    g_assert_true (wait_for (NULL, &mover.calls, 1, 5000));
  g_assert_cmpuint (mover.calls, ==, 1);
  g_assert_false (mover.moved);
  g_assert_false (confab_clock_move_timeout (clock, mover.id, 10));
}

static void
test_move_from_own_function (void)
{
  g_autoptr(ConfabFakeClock) fake = confab_fake_clock_new (START);

  check_move_from_own_function (CONFAB_CLOCK (fake), TRUE);
  check_move_from_own_function (confab_clock_get_default (), FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/clock/fake/order", test_fake_order);
  g_test_add_func ("/core/clock/fake/repeating", test_fake_repeating);
  g_test_add_func ("/core/clock/fake/remove", test_fake_remove);
  g_test_add_func ("/core/clock/fake/add-during-dispatch", test_fake_add_during_dispatch);
  g_test_add_func ("/core/clock/fake/dispose", test_fake_dispose);
  g_test_add_func ("/core/clock/fake/wall", test_fake_wall);
  g_test_add_func ("/core/clock/fake/move", test_fake_move);
  g_test_add_func ("/core/clock/system/default", test_system_default);
  g_test_add_func ("/core/clock/system/timeout", test_system_timeout);
  g_test_add_func ("/core/clock/system/thread-default", test_system_thread_default);
  g_test_add_func ("/core/clock/system/remove-and-repeat", test_system_remove_and_repeat);
  g_test_add_func ("/core/clock/system/outlives-timeouts", test_system_clock_outlives_timeouts);
  g_test_add_func ("/core/clock/system/move", test_system_move);
  g_test_add_func ("/core/clock/move-from-own-function", test_move_from_own_function);

  return g_test_run ();
}
