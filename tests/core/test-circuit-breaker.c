/* test-circuit-breaker.c: the breaker's states and timing on a fake clock
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "confab-circuit-breaker.h"
#include "confab-error.h"
#include "confab-fake-clock.h"

#define START  G_GINT64_CONSTANT (1000000000)  /* 1000 s */
#define MS     G_GINT64_CONSTANT (1000)
#define SEC    G_GINT64_CONSTANT (1000000)
#define NAME   "websocket wss://host:443"

/* ---- a clock whose timeouts run only when the test says, early or late ---- */

#define TEST_TYPE_MANUAL_CLOCK (test_manual_clock_get_type ())
G_DECLARE_FINAL_TYPE (TestManualClock, test_manual_clock, TEST, MANUAL_CLOCK, GObject)

struct _TestManualClock
{
  GObject      parent_instance;
  gint64       now;
  guint        next_id;
  guint        id;       /* the pending timeout (the breaker has at most one), or 0 */
  guint        ms;
  GSourceFunc  func;
  gpointer     data;
  guint        n_added;
  guint        n_removed;
};

static void test_manual_clock_iface_init (ConfabClockInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestManualClock, test_manual_clock, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CONFAB_TYPE_CLOCK,
                                                      test_manual_clock_iface_init))

static gint64
manual_now (ConfabClock *clock)
{
  return TEST_MANUAL_CLOCK (clock)->now;
}

static guint
manual_add_timeout (ConfabClock    *clock,
                    guint           ms,
                    GSourceFunc     func,
                    gpointer        data,
                    GDestroyNotify  notify)
{
  TestManualClock *self = TEST_MANUAL_CLOCK (clock);

  g_assert_cmpuint (self->id, ==, 0);
  g_assert_null (notify);
  self->id = ++self->next_id;
  self->ms = ms;
  self->func = func;
  self->data = data;
  self->n_added++;
  return self->id;
}

static void
manual_remove (ConfabClock *clock,
               guint        id)
{
  TestManualClock *self = TEST_MANUAL_CLOCK (clock);

  if (id == self->id)
    {
      self->id = 0;
      self->n_removed++;
    }
}

static void
test_manual_clock_iface_init (ConfabClockInterface *iface)
{
  iface->now = manual_now;
  iface->wall = manual_now;
  iface->add_timeout = manual_add_timeout;
  iface->remove = manual_remove;
}

static void
test_manual_clock_class_init (TestManualClockClass *klass)
{
}

static void
test_manual_clock_init (TestManualClock *self)
{
  self->now = START;
}

/* Runs the pending timeout now, whatever the time. */
static void
manual_fire (TestManualClock *self)
{
  GSourceFunc func = self->func;

  g_assert_cmpuint (self->id, !=, 0);
  self->id = 0;
  g_assert_false (func (self->data));  /* the breaker's timeout is one-shot */
}

/* ---- helpers ---- */

typedef struct
{
  guint              state;
  guint              failures;
  guint              opened_at;
  guint              retry_at;
  ConfabCircuitState last_state;
} Notifies;

static void
on_notify (ConfabCircuitBreaker *breaker,
           GParamSpec           *pspec,
           Notifies             *notifies)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "state"))
    {
      notifies->state++;
      notifies->last_state = confab_circuit_breaker_get_state (breaker);
      /* Notifications come after the whole change: the times already match. */
      if (notifies->last_state == CONFAB_CIRCUIT_STATE_CLOSED)
        g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, 0);
      else
        g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), >, 0);
    }
  else if (g_str_equal (name, "consecutive-failures"))
    notifies->failures++;
  else if (g_str_equal (name, "opened-at"))
    notifies->opened_at++;
  else if (g_str_equal (name, "retry-at"))
    notifies->retry_at++;
}

static void
watch (ConfabCircuitBreaker *breaker,
       Notifies             *notifies)
{
  *notifies = (Notifies) { 0, 0, 0, 0, CONFAB_CIRCUIT_STATE_CLOSED };
  g_signal_connect (breaker, "notify", G_CALLBACK (on_notify), notifies);
}

static GError *
network_error (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "refused");
}

static void
fail_network (ConfabCircuitBreaker *breaker,
              guint                 times)
{
  guint i;

  for (i = 0; i < times; i++)
    {
      g_autoptr(GError) error = network_error ();

      confab_circuit_breaker_record_failure (breaker, error);
    }
}

static void
assert_describe (ConfabCircuitBreaker *breaker,
                 const char           *expected)
{
  g_autofree char *text = confab_circuit_breaker_describe (breaker);

  g_assert_cmpstr (text, ==, expected);
}

/* ---- tests ---- */

static void
test_defaults (void)
{
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, NULL);
  g_autoptr(GEnumClass) enum_class = g_type_class_ref (CONFAB_TYPE_CIRCUIT_STATE);
  g_autofree char *name = NULL;
  g_autoptr(ConfabClock) clock = NULL;
  ConfabCircuitState state = CONFAB_CIRCUIT_STATE_OPEN;
  guint threshold = 0, open_ms = 0, max_open_ms = 0, failures = 99;
  gint64 opened_at = -1, retry_at = -1;

  g_object_get (breaker,
                "name", &name,
                "clock", &clock,
                "state", &state,
                "failure-threshold", &threshold,
                "open-ms", &open_ms,
                "max-open-ms", &max_open_ms,
                "consecutive-failures", &failures,
                "opened-at", &opened_at,
                "retry-at", &retry_at,
                NULL);
  g_assert_cmpstr (name, ==, NAME);
  g_assert_true (clock == confab_clock_get_default ());
  g_assert_cmpint (state, ==, CONFAB_CIRCUIT_STATE_CLOSED);
  g_assert_cmpuint (threshold, ==, 3);
  g_assert_cmpuint (open_ms, ==, 15000);
  g_assert_cmpuint (max_open_ms, ==, 300000);
  g_assert_cmpuint (failures, ==, 0);
  g_assert_cmpint (opened_at, ==, 0);
  g_assert_cmpint (retry_at, ==, 0);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  assert_describe (breaker, NAME ": closed");

  g_assert_cmpstr (g_enum_get_value (enum_class, CONFAB_CIRCUIT_STATE_CLOSED)->value_nick, ==, "closed");
  g_assert_cmpstr (g_enum_get_value (enum_class, CONFAB_CIRCUIT_STATE_OPEN)->value_nick, ==, "open");
  g_assert_cmpstr (g_enum_get_value (enum_class, CONFAB_CIRCUIT_STATE_HALF_OPEN)->value_nick, ==, "half-open");
}

static void
test_opens_after_threshold (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  Notifies notifies;

  watch (breaker, &notifies);

  fail_network (breaker, 2);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 2);
  g_assert_cmpuint (notifies.failures, ==, 2);
  g_assert_cmpuint (notifies.state, ==, 0);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);

  confab_fake_clock_advance (clock, 2 * SEC);
  fail_network (breaker, 1);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_OPEN);
  g_assert_cmpuint (notifies.state, ==, 1);
  g_assert_cmpint (notifies.last_state, ==, CONFAB_CIRCUIT_STATE_OPEN);
  g_assert_cmpuint (notifies.opened_at, ==, 1);
  g_assert_cmpuint (notifies.retry_at, ==, 1);
  g_assert_cmpint (confab_circuit_breaker_get_opened_at (breaker), ==, START + 2 * SEC);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, START + 17 * SEC);
  g_assert_false (confab_circuit_breaker_allow (breaker));
  g_assert_false (confab_circuit_breaker_allow (breaker));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);

  /* A late failure while open is counted but moves nothing. */
  fail_network (breaker, 1);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 4);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, START + 17 * SEC);
  g_assert_cmpuint (notifies.state, ==, 1);
  g_assert_cmpuint (notifies.retry_at, ==, 1);
}

static void
test_success_resets_count (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));

  fail_network (breaker, 2);
  confab_circuit_breaker_record_success (breaker);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 0);
  fail_network (breaker, 2);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
  fail_network (breaker, 1);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_OPEN);
}

static void
test_auth_not_counted (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  GError *ignored[] = {
    g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_AUTH, "auth"),
    g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_TOKEN_EXPIRED, "expired"),
    g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_REJECTED, "rejected"),
    confab_api_error_new (CONFAB_API_ERROR_TOKEN_EXPIRED, 401, "token expired"),
    confab_api_error_new (CONFAB_API_ERROR_TOKEN_SIGNATURE_INVALID, 401, "bad signature"),
    confab_api_error_new (CONFAB_API_ERROR_AUTH, 403, "not allowed"),
    confab_api_error_new (CONFAB_API_ERROR_INPUT, 400, "bad input"),
    confab_api_error_new (CONFAB_API_ERROR_NOT_ALLOWED, 403, "not allowed"),
    g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"),
  };
  GError *counted[] = {
    g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "refused"),
    g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out"),
    g_error_new_literal (G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE, "bad certificate"),
    g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT, "timeout"),
    g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_UPGRADE_REJECTED, "upgrade"),
    g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST, "lost"),
    confab_api_error_new (CONFAB_API_ERROR_INTERNAL, 500, "internal"),
    confab_api_error_new (CONFAB_API_ERROR_RATE_LIMIT, 429, "slow down"),
    NULL,  /* no detail: counts */
  };
  guint i;
  guint round;

  /* However many, refused credentials and rejected requests never open it. */
  for (round = 0; round < 10; round++)
    for (i = 0; i < G_N_ELEMENTS (ignored); i++)
      confab_circuit_breaker_record_failure (breaker, ignored[i]);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 0);
  g_assert_true (confab_circuit_breaker_allow (breaker));

  /* Each of these is the endpoint's (or the path's) fault. */
  confab_circuit_breaker_set_failure_threshold (breaker, 100);
  for (i = 0; i < G_N_ELEMENTS (counted); i++)
    {
      confab_circuit_breaker_record_failure (breaker, counted[i]);
      g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, i + 1);
    }

  /* An ignored error between counted ones neither counts nor resets the run. */
  confab_circuit_breaker_reset (breaker);
  confab_circuit_breaker_set_failure_threshold (breaker, 3);
  fail_network (breaker, 2);
  confab_circuit_breaker_record_failure (breaker, ignored[0]);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 2);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
  fail_network (breaker, 1);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_OPEN);

  for (i = 0; i < G_N_ELEMENTS (ignored); i++)
    g_error_free (ignored[i]);
  for (i = 0; i < G_N_ELEMENTS (counted); i++)
    g_clear_error (&counted[i]);
}

static void
test_half_open_on_time (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  Notifies notifies;

  fail_network (breaker, 3);
  watch (breaker, &notifies);

  confab_fake_clock_advance (clock, 15 * SEC - 1);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_OPEN);
  g_assert_cmpuint (notifies.state, ==, 0);
  g_assert_false (confab_circuit_breaker_allow (breaker));

  /* At retry-at exactly, the clock's timeout turns it half-open: notify::state fires
   * without anyone calling allow(). */
  confab_fake_clock_advance (clock, 1);
  g_assert_cmpuint (notifies.state, ==, 1);
  g_assert_cmpint (notifies.last_state, ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
  g_assert_cmpint (confab_circuit_breaker_get_opened_at (breaker), ==, START);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, START + 15 * SEC);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  assert_describe (breaker, NAME ": half-open, 3 failures, trial allowed");
}

static void
test_one_trial (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));

  fail_network (breaker, 3);
  confab_fake_clock_advance (clock, 15 * SEC);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);

  g_assert_true (confab_circuit_breaker_allow (breaker));
  g_assert_false (confab_circuit_breaker_allow (breaker));
  g_assert_false (confab_circuit_breaker_allow (breaker));
  assert_describe (breaker, NAME ": half-open, 3 failures, trial in progress");

  /* Time alone does not free the trial: only its outcome does. */
  confab_fake_clock_advance (clock, 3600 * SEC);
  g_assert_false (confab_circuit_breaker_allow (breaker));
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
}

static void
test_success_closes (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  Notifies notifies;
  gint64 now;

  fail_network (breaker, 3);
  confab_fake_clock_advance (clock, 15 * SEC);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  fail_network (breaker, 1);  /* a failed trial: open for 30 s */
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker) -
                   confab_circuit_breaker_get_opened_at (breaker), ==, 30 * SEC);
  confab_fake_clock_advance (clock, 30 * SEC);
  g_assert_true (confab_circuit_breaker_allow (breaker));

  watch (breaker, &notifies);
  confab_circuit_breaker_record_success (breaker);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
  g_assert_cmpuint (notifies.state, ==, 1);
  g_assert_cmpuint (notifies.failures, ==, 1);
  g_assert_cmpuint (notifies.opened_at, ==, 1);
  g_assert_cmpuint (notifies.retry_at, ==, 1);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 0);
  g_assert_cmpint (confab_circuit_breaker_get_opened_at (breaker), ==, 0);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, 0);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  g_assert_true (confab_circuit_breaker_allow (breaker));
  assert_describe (breaker, NAME ": closed");

  /* A second success changes nothing and says nothing. */
  confab_circuit_breaker_record_success (breaker);
  g_assert_cmpuint (notifies.state + notifies.failures + notifies.opened_at + notifies.retry_at, ==, 4);

  /* It takes the full threshold again, and the opening is back to 15 s. */
  fail_network (breaker, 2);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
  fail_network (breaker, 1);
  now = confab_clock_now (CONFAB_CLOCK (clock));
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, now + 15 * SEC);
}

static void
test_failure_reopens_doubled (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  const gint64 expected_s[] = { 15, 30, 60, 120, 240, 300, 300, 300 };
  Notifies notifies;
  guint i;

  watch (breaker, &notifies);
  fail_network (breaker, 3);

  for (i = 0; i < G_N_ELEMENTS (expected_s); i++)
    {
      gint64 opened_at = confab_circuit_breaker_get_opened_at (breaker);
      gint64 retry_at = confab_circuit_breaker_get_retry_at (breaker);

      g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_OPEN);
      g_assert_cmpint (opened_at, ==, confab_clock_now (CONFAB_CLOCK (clock)));
      g_assert_cmpint (retry_at - opened_at, ==, expected_s[i] * SEC);

      /* Not a microsecond early, then half-open and one trial, which fails. */
      confab_fake_clock_advance (clock, retry_at - opened_at - 1);
      g_assert_false (confab_circuit_breaker_allow (breaker));
      confab_fake_clock_advance (clock, 1);
      g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
      g_assert_true (confab_circuit_breaker_allow (breaker));
      fail_network (breaker, 1);
    }

  /* open, then (half-open, open) for each round. */
  g_assert_cmpuint (notifies.state, ==, 1 + 2 * G_N_ELEMENTS (expected_s));
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==,
                    3 + G_N_ELEMENTS (expected_s));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);
}

static void
test_auth_releases_trial (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  g_autoptr(GError) auth = confab_api_error_new (CONFAB_API_ERROR_TOKEN_EXPIRED, 401, "expired");
  g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");

  fail_network (breaker, 3);
  confab_fake_clock_advance (clock, 15 * SEC);

  /* The trial came back with an auth error: not the endpoint's fault, so it neither
   * re-opens nor closes, and the next caller gets the trial. */
  g_assert_true (confab_circuit_breaker_allow (breaker));
  confab_circuit_breaker_record_failure (breaker, auth);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 3);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  g_assert_false (confab_circuit_breaker_allow (breaker));

  /* Same for a trial that was cancelled (it lost a race). */
  confab_circuit_breaker_record_failure (breaker, cancelled);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
  g_assert_true (confab_circuit_breaker_allow (breaker));
}

static void
test_lazy_half_open (void)
{
  g_autoptr(TestManualClock) clock = g_object_new (TEST_TYPE_MANUAL_CLOCK, NULL);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  Notifies notifies;

  fail_network (breaker, 3);
  g_assert_cmpuint (clock->n_added, ==, 1);
  g_assert_cmpuint (clock->ms, ==, 15000);
  watch (breaker, &notifies);

  /* The main loop was busy: the timeout has not run, but allow() looks at the time. */
  clock->now = START + 15 * SEC - 1;
  g_assert_false (confab_circuit_breaker_allow (breaker));
  clock->now = START + 15 * SEC;
  g_assert_true (confab_circuit_breaker_allow (breaker));
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
  g_assert_cmpuint (notifies.state, ==, 1);
  g_assert_false (confab_circuit_breaker_allow (breaker));

  /* Its timeout was withdrawn. */
  g_assert_cmpuint (clock->id, ==, 0);
  g_assert_cmpuint (clock->n_removed, ==, 1);
}

static void
test_early_timer (void)
{
  g_autoptr(TestManualClock) clock = g_object_new (TEST_TYPE_MANUAL_CLOCK, NULL);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));

  fail_network (breaker, 3);

  /* A main-loop timeout may fire a little early: 2.5 ms before retry-at it waits on,
   * for the rounded-up rest. */
  clock->now = START + 15 * SEC - 2500;
  manual_fire (clock);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_OPEN);
  g_assert_cmpuint (clock->n_added, ==, 2);
  g_assert_cmpuint (clock->ms, ==, 3);
  assert_describe (breaker, NAME ": open, 3 failures, retry in 1 s");

  clock->now = START + 15 * SEC;
  manual_fire (clock);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
  g_assert_cmpuint (clock->n_added, ==, 2);

  /* A stale timeout after the breaker moved on changes nothing. */
  g_assert_true (confab_circuit_breaker_allow (breaker));
  confab_circuit_breaker_record_success (breaker);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
}

static void
test_describe (void)
{
  g_autoptr(ConfabFakeClock) fake = confab_fake_clock_new (START);
  g_autoptr(TestManualClock) manual = g_object_new (TEST_TYPE_MANUAL_CLOCK, NULL);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (fake));
  g_autoptr(ConfabCircuitBreaker) unnamed = confab_circuit_breaker_new (NULL, CONFAB_CLOCK (fake));
  g_autoptr(ConfabCircuitBreaker) stalled = confab_circuit_breaker_new ("long-poll https://host:443",
                                                                        CONFAB_CLOCK (manual));

  assert_describe (breaker, NAME ": closed");
  fail_network (breaker, 1);
  assert_describe (breaker, NAME ": closed, 1 failure");
  fail_network (breaker, 2);
  assert_describe (breaker, NAME ": open, 3 failures, retry in 15 s");
  confab_fake_clock_advance (fake, 3200 * MS);
  assert_describe (breaker, NAME ": open, 3 failures, retry in 12 s");  /* 11.8 s, rounded up */
  confab_fake_clock_advance (fake, 11800 * MS);
  assert_describe (breaker, NAME ": half-open, 3 failures, trial allowed");
  g_assert_true (confab_circuit_breaker_allow (breaker));
  assert_describe (breaker, NAME ": half-open, 3 failures, trial in progress");

  assert_describe (unnamed, "circuit: closed");

  /* Past retry-at with the timeout not yet run. */
  fail_network (stalled, 3);
  manual->now += 20 * SEC;
  assert_describe (stalled, "long-poll https://host:443: open, 3 failures, retry due");
}

static void
test_reset (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  Notifies notifies;

  /* Open, a failed trial (30 s), then reset: everything forgotten. */
  fail_network (breaker, 3);
  confab_fake_clock_advance (clock, 15 * SEC);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  fail_network (breaker, 1);
  watch (breaker, &notifies);

  confab_circuit_breaker_reset (breaker);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
  g_assert_cmpuint (notifies.state, ==, 1);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 0);
  g_assert_cmpint (confab_circuit_breaker_get_opened_at (breaker), ==, 0);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, 0);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  g_assert_true (confab_circuit_breaker_allow (breaker));

  fail_network (breaker, 3);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker) -
                   confab_circuit_breaker_get_opened_at (breaker), ==, 15 * SEC);
}

static void
test_dispose_removes_timer (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  ConfabCircuitBreaker *breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));

  fail_network (breaker, 3);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);

  g_assert_finalize_object (breaker);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  confab_fake_clock_advance (clock, 60 * SEC);  /* nothing left to run on a freed breaker */
}

static void
count_cb (GObject    *object,
          GParamSpec *pspec,
          gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_properties (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = NULL;
  guint threshold_notifies = 0;

  breaker = g_object_new (CONFAB_TYPE_CIRCUIT_BREAKER,
                          "clock", clock,
                          "failure-threshold", 1,
                          "open-ms", 20000,
                          "max-open-ms", 50000,
                          NULL);
  g_assert_null (confab_circuit_breaker_get_name (breaker));
  g_assert_true (confab_circuit_breaker_get_clock (breaker) == CONFAB_CLOCK (clock));
  g_signal_connect (breaker, "notify::failure-threshold",
                    G_CALLBACK (count_cb), &threshold_notifies);

  /* Threshold 1: one failure opens it, for 20 s, then 40 s, then the 50 s maximum. */
  fail_network (breaker, 1);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, START + 20 * SEC);
  confab_fake_clock_advance (clock, 20 * SEC);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  fail_network (breaker, 1);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker) -
                   confab_circuit_breaker_get_opened_at (breaker), ==, 40 * SEC);
  confab_fake_clock_advance (clock, 40 * SEC);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  fail_network (breaker, 1);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker) -
                   confab_circuit_breaker_get_opened_at (breaker), ==, 50 * SEC);

  /* An open time above the maximum is held to it. */
  confab_circuit_breaker_reset (breaker);
  g_object_set (breaker, "open-ms", 90000, NULL);
  fail_network (breaker, 1);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker) -
                   confab_circuit_breaker_get_opened_at (breaker), ==, 50 * SEC);

  /* Notify only on change; 0 is refused. */
  confab_circuit_breaker_set_failure_threshold (breaker, 1);
  g_assert_cmpuint (threshold_notifies, ==, 0);
  confab_circuit_breaker_set_failure_threshold (breaker, 4);
  g_assert_cmpuint (threshold_notifies, ==, 1);
  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*threshold >= 1*");
  confab_circuit_breaker_set_failure_threshold (breaker, 0);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (confab_circuit_breaker_get_failure_threshold (breaker), ==, 4);
  g_assert_cmpuint (confab_circuit_breaker_get_open_ms (breaker), ==, 90000);
  g_assert_cmpuint (confab_circuit_breaker_get_max_open_ms (breaker), ==, 50000);
}

/* "Retry now": an open breaker admits its one trial before retry-at; a failed early trial
 * re-opens it for as long as before (not doubled), a later scheduled trial doubles as
 * usual, a success closes it; closed and half-open breakers are not touched. */
static void
test_allow_trial (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (START);
  g_autoptr(ConfabCircuitBreaker) breaker = confab_circuit_breaker_new (NAME, CONFAB_CLOCK (clock));
  g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
  Notifies notifies;
  gint64 opened_at;

  watch (breaker, &notifies);
  g_assert_false (confab_circuit_breaker_allow_trial (breaker));  /* closed */
  g_assert_cmpuint (notifies.state, ==, 0);
  fail_network (breaker, 3);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_OPEN);
  g_assert_cmpuint (notifies.state, ==, 1);

  /* 5 s into 15 s: one trial now, and only one. */
  confab_fake_clock_advance (clock, 5 * SEC);
  g_assert_false (confab_circuit_breaker_allow (breaker));
  g_assert_true (confab_circuit_breaker_allow_trial (breaker));
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
  g_assert_cmpuint (notifies.state, ==, 2);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);  /* its timer is gone */
  g_assert_false (confab_circuit_breaker_allow_trial (breaker));  /* already half-open */
  assert_describe (breaker, NAME ": half-open, 3 failures, trial allowed");
  g_assert_true (confab_circuit_breaker_allow (breaker));
  g_assert_false (confab_circuit_breaker_allow (breaker));
  g_assert_false (confab_circuit_breaker_allow_trial (breaker));  /* trial out: still one */
  g_assert_false (confab_circuit_breaker_allow (breaker));

  /* A cancelled trial hands it back; the next one fails: open 15 s again, not 30. */
  confab_circuit_breaker_record_failure (breaker, cancelled);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  fail_network (breaker, 1);
  opened_at = confab_circuit_breaker_get_opened_at (breaker);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_OPEN);
  g_assert_cmpint (opened_at, ==, START + 5 * SEC);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker) - opened_at, ==, 15 * SEC);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 4);

  /* The scheduled trial at retry-at fails: doubled as usual, to 30 s. */
  confab_fake_clock_advance (clock, 15 * SEC);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_HALF_OPEN);
  g_assert_true (confab_circuit_breaker_allow (breaker));
  fail_network (breaker, 1);
  opened_at = confab_circuit_breaker_get_opened_at (breaker);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker) - opened_at, ==, 30 * SEC);

  /* An early trial that works closes it. */
  confab_fake_clock_advance (clock, 1 * SEC);
  g_assert_true (confab_circuit_breaker_allow_trial (breaker));
  g_assert_true (confab_circuit_breaker_allow (breaker));
  confab_circuit_breaker_record_success (breaker);
  g_assert_cmpint (confab_circuit_breaker_get_state (breaker), ==, CONFAB_CIRCUIT_STATE_CLOSED);
  g_assert_cmpuint (confab_circuit_breaker_get_consecutive_failures (breaker), ==, 0);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker), ==, 0);

  /* Opened afresh: an early trial's failure keeps the fresh 15 s. */
  fail_network (breaker, 3);
  g_assert_true (confab_circuit_breaker_allow_trial (breaker));
  g_assert_true (confab_circuit_breaker_allow (breaker));
  fail_network (breaker, 1);
  opened_at = confab_circuit_breaker_get_opened_at (breaker);
  g_assert_cmpint (confab_circuit_breaker_get_retry_at (breaker) - opened_at, ==, 15 * SEC);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/circuit-breaker/defaults", test_defaults);
  g_test_add_func ("/core/circuit-breaker/opens-after-threshold", test_opens_after_threshold);
  g_test_add_func ("/core/circuit-breaker/success-resets-count", test_success_resets_count);
  g_test_add_func ("/core/circuit-breaker/auth-not-counted", test_auth_not_counted);
  g_test_add_func ("/core/circuit-breaker/half-open-on-time", test_half_open_on_time);
  g_test_add_func ("/core/circuit-breaker/one-trial", test_one_trial);
  g_test_add_func ("/core/circuit-breaker/success-closes", test_success_closes);
  g_test_add_func ("/core/circuit-breaker/failure-reopens-doubled", test_failure_reopens_doubled);
  g_test_add_func ("/core/circuit-breaker/auth-releases-trial", test_auth_releases_trial);
  g_test_add_func ("/core/circuit-breaker/lazy-half-open", test_lazy_half_open);
  g_test_add_func ("/core/circuit-breaker/early-timer", test_early_timer);
  g_test_add_func ("/core/circuit-breaker/describe", test_describe);
  g_test_add_func ("/core/circuit-breaker/reset", test_reset);
  g_test_add_func ("/core/circuit-breaker/allow-trial", test_allow_trial);
  g_test_add_func ("/core/circuit-breaker/dispose-removes-timer", test_dispose_removes_timer);
  g_test_add_func ("/core/circuit-breaker/properties", test_properties);

  return g_test_run ();
}
