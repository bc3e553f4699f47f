/* confab-circuit-breaker.c: a circuit breaker for one endpoint × transport
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "confab-circuit-breaker.h"
#include "confab-error.h"

/* CLOSED ──failure-threshold consecutive failures──► OPEN ──retry-at──► HALF_OPEN
 *   ▲                                                 ▲                     │
 *   └──────────── success (from any state) ───────────┼──── trial fails ────┘
 *                                                     (open time doubles, ≤ max-open-ms)
 *
 * OPEN → HALF_OPEN happens on a clock timeout (so :state notifies) and, lazily, in
 * allow() if the timeout has not run yet. In HALF_OPEN exactly one attempt (the trial)
 * is let through until its outcome is recorded. Failures that are not the endpoint's
 * fault (refused credentials, a rejected request, a cancelled attempt) are not counted. */
struct _ConfabCircuitBreaker
{
  GObject             parent_instance;

  char               *name;
  ConfabClock        *clock;

  ConfabCircuitState  state;
  guint               consecutive_failures;
  gint64              opened_at;
  gint64              retry_at;
  guint               current_open_ms;  /* length of the last opening; 0 when closed */
  gboolean            trial_out;
  gboolean            forced;           /* this half-open came from allow_trial() */
  guint               timer_id;

  guint               failure_threshold;
  guint               open_ms;
  guint               max_open_ms;
};

enum {
  PROP_0,
  PROP_NAME,
  PROP_CLOCK,
  PROP_STATE,
  PROP_FAILURE_THRESHOLD,
  PROP_OPEN_MS,
  PROP_MAX_OPEN_MS,
  PROP_CONSECUTIVE_FAILURES,
  PROP_OPENED_AT,
  PROP_RETRY_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_ENUM_TYPE (ConfabCircuitState, confab_circuit_state,
  G_DEFINE_ENUM_VALUE (CONFAB_CIRCUIT_STATE_CLOSED, "closed"),
  G_DEFINE_ENUM_VALUE (CONFAB_CIRCUIT_STATE_OPEN, "open"),
  G_DEFINE_ENUM_VALUE (CONFAB_CIRCUIT_STATE_HALF_OPEN, "half-open"))

G_DEFINE_FINAL_TYPE (ConfabCircuitBreaker, confab_circuit_breaker, G_TYPE_OBJECT)

static const char *
state_nick (ConfabCircuitState state)
{
  switch (state)
    {
    case CONFAB_CIRCUIT_STATE_CLOSED:
      return "closed";
    case CONFAB_CIRCUIT_STATE_OPEN:
      return "open";
    case CONFAB_CIRCUIT_STATE_HALF_OPEN:
      return "half-open";
    default:
      return "unknown";
    }
}

static const char *
display_name (ConfabCircuitBreaker *self)
{
  return self->name != NULL && *self->name != '\0' ? self->name : "circuit";
}

/* Whether a failure is the endpoint's (or the path's) fault. Refused credentials and a
 * request the server rejected would fail the same on any endpoint, and a cancelled
 * attempt (the loser of a race, a shutdown) did not fail at all. */
static gboolean
error_counts (const GError *error)
{
  ConfabErrorCode code;

  if (error == NULL)
    return TRUE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;

  code = confab_error_classify (error);
  return code != CONFAB_ERROR_AUTH &&
         code != CONFAB_ERROR_TOKEN_EXPIRED &&
         code != CONFAB_ERROR_REJECTED;
}

static void
set_state (ConfabCircuitBreaker *self,
           ConfabCircuitState    state)
{
  if (self->state == state)
    return;

  g_debug ("circuit %s: %s -> %s", display_name (self),
           state_nick (self->state), state_nick (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_consecutive_failures (ConfabCircuitBreaker *self,
                          guint                 failures)
{
  if (self->consecutive_failures == failures)
    return;

  self->consecutive_failures = failures;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONSECUTIVE_FAILURES]);
}

static void
set_times (ConfabCircuitBreaker *self,
           gint64                opened_at,
           gint64                retry_at)
{
  if (self->opened_at != opened_at)
    {
      self->opened_at = opened_at;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OPENED_AT]);
    }
  if (self->retry_at != retry_at)
    {
      self->retry_at = retry_at;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RETRY_AT]);
    }
}

static void
enter_half_open (ConfabCircuitBreaker *self)
{
  confab_clock_clear_timeout (self->clock, &self->timer_id);
  self->trial_out = FALSE;
  self->forced = FALSE;
  set_state (self, CONFAB_CIRCUIT_STATE_HALF_OPEN);
}

static void arm_timer (ConfabCircuitBreaker *self);

static gboolean
on_retry_timer (gpointer user_data)
{
  ConfabCircuitBreaker *self = user_data;

  self->timer_id = 0;
  if (self->state != CONFAB_CIRCUIT_STATE_OPEN)
    return G_SOURCE_REMOVE;

  /* A main-loop timeout can fire a little early (it counts from the loop's cached
   * time): wait out the rest rather than open the door early. */
  if (confab_clock_now (self->clock) < self->retry_at)
    arm_timer (self);
  else
    enter_half_open (self);

  return G_SOURCE_REMOVE;
}

static void
arm_timer (ConfabCircuitBreaker *self)
{
  gint64 remaining = self->retry_at - confab_clock_now (self->clock);
  gint64 ms = remaining <= 0 ? 0 : (remaining + 999) / 1000;

  confab_clock_clear_timeout (self->clock, &self->timer_id);
  /* The breaker's dispose removes the timeout, so it needs no reference. */
  self->timer_id = confab_clock_add_timeout (self->clock, (guint) MIN (ms, (gint64) G_MAXUINT),
                                             on_retry_timer, self, NULL);
}

static void
open_circuit (ConfabCircuitBreaker *self,
              guint                 duration_ms)
{
  gint64 now = confab_clock_now (self->clock);

  duration_ms = MIN (duration_ms, self->max_open_ms);
  g_debug ("circuit %s: open for %u ms after %u consecutive failures",
           display_name (self), duration_ms, self->consecutive_failures);

  self->current_open_ms = duration_ms;
  self->trial_out = FALSE;
  self->forced = FALSE;
  set_times (self, now, now + (gint64) duration_ms * 1000);
  set_state (self, CONFAB_CIRCUIT_STATE_OPEN);
  arm_timer (self);
}

static void
close_circuit (ConfabCircuitBreaker *self)
{
  confab_clock_clear_timeout (self->clock, &self->timer_id);
  self->current_open_ms = 0;
  self->trial_out = FALSE;
  self->forced = FALSE;
  set_consecutive_failures (self, 0);
  set_times (self, 0, 0);
  set_state (self, CONFAB_CIRCUIT_STATE_CLOSED);
}

/**
 * confab_circuit_breaker_allow:
 * @self: a #ConfabCircuitBreaker
 *
 * Asks whether an attempt on this endpoint may start now. Closed: yes. Open: no until
 * #ConfabCircuitBreaker:retry-at, then the breaker turns half-open and the caller gets
 * the one trial. Half-open: yes for the trial only, no while it is out. The outcome of
 * every allowed attempt must be recorded (success or failure; a cancelled attempt is a
 * failure with %G_IO_ERROR_CANCELLED, which frees the trial without counting).
 *
 * Returns: whether to attempt
 */
gboolean
confab_circuit_breaker_allow (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), FALSE);

  switch (self->state)
    {
    case CONFAB_CIRCUIT_STATE_CLOSED:
      return TRUE;

    case CONFAB_CIRCUIT_STATE_OPEN:
      if (confab_clock_now (self->clock) < self->retry_at)
        return FALSE;
      enter_half_open (self);
      G_GNUC_FALLTHROUGH;

    case CONFAB_CIRCUIT_STATE_HALF_OPEN:
      if (self->trial_out)
        return FALSE;
      self->trial_out = TRUE;
      g_debug ("circuit %s: trial attempt", display_name (self));
      return TRUE;

    default:
      g_return_val_if_reached (FALSE);
    }
}

/**
 * confab_circuit_breaker_record_success:
 * @self: a #ConfabCircuitBreaker
 *
 * The endpoint worked: closed, failures forgotten, the open time back to
 * #ConfabCircuitBreaker:open-ms.
 */
void
confab_circuit_breaker_record_success (ConfabCircuitBreaker *self)
{
  g_return_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self));

  g_object_freeze_notify (G_OBJECT (self));
  close_circuit (self);
  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * confab_circuit_breaker_record_failure:
 * @self: a #ConfabCircuitBreaker
 * @error: (nullable): why the attempt failed
 *
 * Counts a failed attempt. Errors that are not the endpoint's fault do not count:
 * those confab_error_classify() calls %CONFAB_ERROR_AUTH, %CONFAB_ERROR_TOKEN_EXPIRED
 * or %CONFAB_ERROR_REJECTED, and %G_IO_ERROR_CANCELLED; in half-open they hand the
 * trial back. A %NULL @error counts. Reaching #ConfabCircuitBreaker:failure-threshold
 * opens the breaker; a failed trial re-opens it for twice as long as last time, up to
 * #ConfabCircuitBreaker:max-open-ms.
 */
void
confab_circuit_breaker_record_failure (ConfabCircuitBreaker *self,
                                       const GError         *error)
{
  g_return_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self));

  if (!error_counts (error))
    {
      g_debug ("circuit %s: failure not counted (%s)", display_name (self),
               g_quark_to_string (error->domain));
      self->trial_out = FALSE;
      return;
    }

  g_object_freeze_notify (G_OBJECT (self));

  if (self->consecutive_failures < G_MAXUINT)
    set_consecutive_failures (self, self->consecutive_failures + 1);

  switch (self->state)
    {
    case CONFAB_CIRCUIT_STATE_CLOSED:
      if (self->consecutive_failures >= self->failure_threshold)
        open_circuit (self, self->open_ms);
      break;

    case CONFAB_CIRCUIT_STATE_HALF_OPEN:
      /* A trial the user asked for early does not lengthen the schedule's wait. */
      if (self->forced)
        open_circuit (self, self->current_open_ms);
      else
        open_circuit (self, (guint) MIN ((guint64) self->current_open_ms * 2,
                                         (guint64) self->max_open_ms));
      break;

    case CONFAB_CIRCUIT_STATE_OPEN:
      /* A late report from an attempt that started before it opened. */
      break;

    default:
      g_assert_not_reached ();
    }

  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * confab_circuit_breaker_allow_trial:
 * @self: a #ConfabCircuitBreaker
 *
 * Someone asked to try now ("Retry now"): an OPEN breaker turns half-open at once,
 * before #ConfabCircuitBreaker:retry-at, so the next allow() gets the one trial. If that
 * trial fails the breaker opens again for as long as last time (a trial asked for early
 * does not double the wait); a success closes it. Closed and half-open breakers are left
 * as they are, so a trial already out stays the only one.
 *
 * Returns: whether the breaker turned half-open
 */
gboolean
confab_circuit_breaker_allow_trial (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), FALSE);

  if (self->state != CONFAB_CIRCUIT_STATE_OPEN)
    return FALSE;

  g_debug ("circuit %s: trial allowed early", display_name (self));
  g_object_freeze_notify (G_OBJECT (self));
  enter_half_open (self);
  self->forced = TRUE;
  g_object_thaw_notify (G_OBJECT (self));
  return TRUE;
}

/**
 * confab_circuit_breaker_reset:
 * @self: a #ConfabCircuitBreaker
 *
 * Forgets everything (a new network, a changed endpoint list): closed, no failures.
 */
void
confab_circuit_breaker_reset (ConfabCircuitBreaker *self)
{
  g_return_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self));

  g_object_freeze_notify (G_OBJECT (self));
  close_circuit (self);
  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * confab_circuit_breaker_describe:
 * @self: a #ConfabCircuitBreaker
 *
 * One line for the diagnostics report, e.g.
 * "websocket wss://host:443: open, 3 failures, retry in 12 s". Not translated.
 *
 * Returns: (transfer full): the description
 */
char *
confab_circuit_breaker_describe (ConfabCircuitBreaker *self)
{
  GString *text;

  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), NULL);

  text = g_string_new (display_name (self));
  g_string_append_printf (text, ": %s", state_nick (self->state));

  if (self->consecutive_failures > 0)
    g_string_append_printf (text, ", %u %s", self->consecutive_failures,
                            self->consecutive_failures == 1 ? "failure" : "failures");

  if (self->state == CONFAB_CIRCUIT_STATE_OPEN)
    {
      gint64 remaining = self->retry_at - confab_clock_now (self->clock);

      if (remaining > 0)
        g_string_append_printf (text, ", retry in %" G_GINT64_FORMAT " s",
                                (remaining + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
      else
        g_string_append (text, ", retry due");
    }
  else if (self->state == CONFAB_CIRCUIT_STATE_HALF_OPEN)
    {
      g_string_append (text, self->trial_out ? ", trial in progress" : ", trial allowed");
    }

  return g_string_free (text, FALSE);
}

const char *
confab_circuit_breaker_get_name (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), NULL);

  return self->name;
}

ConfabClock *
confab_circuit_breaker_get_clock (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), NULL);

  return self->clock;
}

ConfabCircuitState
confab_circuit_breaker_get_state (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), CONFAB_CIRCUIT_STATE_CLOSED);

  return self->state;
}

guint
confab_circuit_breaker_get_consecutive_failures (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), 0);

  return self->consecutive_failures;
}

gint64
confab_circuit_breaker_get_opened_at (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), 0);

  return self->opened_at;
}

gint64
confab_circuit_breaker_get_retry_at (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), 0);

  return self->retry_at;
}

guint
confab_circuit_breaker_get_failure_threshold (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), 0);

  return self->failure_threshold;
}

/* Takes effect at the next failure; a breaker already at or over a lowered threshold
 * opens then. */
void
confab_circuit_breaker_set_failure_threshold (ConfabCircuitBreaker *self,
                                              guint                 threshold)
{
  g_return_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self));
  g_return_if_fail (threshold >= 1);

  if (self->failure_threshold == threshold)
    return;

  self->failure_threshold = threshold;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAILURE_THRESHOLD]);
}

guint
confab_circuit_breaker_get_open_ms (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), 0);

  return self->open_ms;
}

/* Takes effect at the next opening from closed. */
void
confab_circuit_breaker_set_open_ms (ConfabCircuitBreaker *self,
                                    guint                 open_ms)
{
  g_return_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self));
  g_return_if_fail (open_ms >= 1 && open_ms <= CONFAB_CIRCUIT_BREAKER_LIMIT_MS);

  if (self->open_ms == open_ms)
    return;

  self->open_ms = open_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OPEN_MS]);
}

guint
confab_circuit_breaker_get_max_open_ms (ConfabCircuitBreaker *self)
{
  g_return_val_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self), 0);

  return self->max_open_ms;
}

/* Takes effect at the next opening. */
void
confab_circuit_breaker_set_max_open_ms (ConfabCircuitBreaker *self,
                                        guint                 max_open_ms)
{
  g_return_if_fail (CONFAB_IS_CIRCUIT_BREAKER (self));
  g_return_if_fail (max_open_ms >= 1 && max_open_ms <= CONFAB_CIRCUIT_BREAKER_LIMIT_MS);

  if (self->max_open_ms == max_open_ms)
    return;

  self->max_open_ms = max_open_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_OPEN_MS]);
}

static void
confab_circuit_breaker_constructed (GObject *object)
{
  ConfabCircuitBreaker *self = CONFAB_CIRCUIT_BREAKER (object);

  G_OBJECT_CLASS (confab_circuit_breaker_parent_class)->constructed (object);

  if (self->clock == NULL)
    self->clock = g_object_ref (confab_clock_get_default ());
}

static void
confab_circuit_breaker_dispose (GObject *object)
{
  ConfabCircuitBreaker *self = CONFAB_CIRCUIT_BREAKER (object);

  if (self->clock != NULL)
    confab_clock_clear_timeout (self->clock, &self->timer_id);
  g_clear_object (&self->clock);

  G_OBJECT_CLASS (confab_circuit_breaker_parent_class)->dispose (object);
}

static void
confab_circuit_breaker_finalize (GObject *object)
{
  ConfabCircuitBreaker *self = CONFAB_CIRCUIT_BREAKER (object);

  g_free (self->name);

  G_OBJECT_CLASS (confab_circuit_breaker_parent_class)->finalize (object);
}

static void
confab_circuit_breaker_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  ConfabCircuitBreaker *self = CONFAB_CIRCUIT_BREAKER (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_FAILURE_THRESHOLD:
      g_value_set_uint (value, self->failure_threshold);
      break;
    case PROP_OPEN_MS:
      g_value_set_uint (value, self->open_ms);
      break;
    case PROP_MAX_OPEN_MS:
      g_value_set_uint (value, self->max_open_ms);
      break;
    case PROP_CONSECUTIVE_FAILURES:
      g_value_set_uint (value, self->consecutive_failures);
      break;
    case PROP_OPENED_AT:
      g_value_set_int64 (value, self->opened_at);
      break;
    case PROP_RETRY_AT:
      g_value_set_int64 (value, self->retry_at);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_circuit_breaker_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  ConfabCircuitBreaker *self = CONFAB_CIRCUIT_BREAKER (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    case PROP_FAILURE_THRESHOLD:
      confab_circuit_breaker_set_failure_threshold (self, g_value_get_uint (value));
      break;
    case PROP_OPEN_MS:
      confab_circuit_breaker_set_open_ms (self, g_value_get_uint (value));
      break;
    case PROP_MAX_OPEN_MS:
      confab_circuit_breaker_set_max_open_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_circuit_breaker_class_init (ConfabCircuitBreakerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = confab_circuit_breaker_constructed;
  object_class->dispose = confab_circuit_breaker_dispose;
  object_class->finalize = confab_circuit_breaker_finalize;
  object_class->get_property = confab_circuit_breaker_get_property;
  object_class->set_property = confab_circuit_breaker_set_property;

  /**
   * ConfabCircuitBreaker:name:
   *
   * What it guards, for diagnostics, e.g. "websocket wss://host:443". Never put a
   * token or a user name in it: it is logged.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCircuitBreaker:clock:
   *
   * The clock for opened-at, retry-at and the half-open timeout; the default system
   * clock if none is given.
   */
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL,
                         CONFAB_TYPE_CLOCK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCircuitBreaker:state:
   *
   * Closed, open or half-open; notifies on every change, including the timed move from
   * open to half-open.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       CONFAB_TYPE_CIRCUIT_STATE, CONFAB_CIRCUIT_STATE_CLOSED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCircuitBreaker:failure-threshold:
   *
   * Consecutive counted failures that open a closed breaker.
   */
  properties[PROP_FAILURE_THRESHOLD] =
    g_param_spec_uint ("failure-threshold", NULL, NULL,
                       1, G_MAXUINT, CONFAB_CIRCUIT_BREAKER_DEFAULT_FAILURE_THRESHOLD,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCircuitBreaker:open-ms:
   *
   * How long the first opening lasts before half-open; each failed trial doubles it.
   */
  properties[PROP_OPEN_MS] =
    g_param_spec_uint ("open-ms", NULL, NULL,
                       1, CONFAB_CIRCUIT_BREAKER_LIMIT_MS, CONFAB_CIRCUIT_BREAKER_DEFAULT_OPEN_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCircuitBreaker:max-open-ms:
   *
   * No opening lasts longer than this.
   */
  properties[PROP_MAX_OPEN_MS] =
    g_param_spec_uint ("max-open-ms", NULL, NULL,
                       1, CONFAB_CIRCUIT_BREAKER_LIMIT_MS, CONFAB_CIRCUIT_BREAKER_DEFAULT_MAX_OPEN_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCircuitBreaker:consecutive-failures:
   *
   * Counted failures since the last success or reset.
   */
  properties[PROP_CONSECUTIVE_FAILURES] =
    g_param_spec_uint ("consecutive-failures", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCircuitBreaker:opened-at:
   *
   * The clock's monotonic time (µs) of the last opening; 0 when closed.
   */
  properties[PROP_OPENED_AT] =
    g_param_spec_int64 ("opened-at", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCircuitBreaker:retry-at:
   *
   * The clock's monotonic time (µs) at which an open breaker turns half-open (in
   * half-open: when it did); 0 when closed.
   */
  properties[PROP_RETRY_AT] =
    g_param_spec_int64 ("retry-at", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_circuit_breaker_init (ConfabCircuitBreaker *self)
{
  self->state = CONFAB_CIRCUIT_STATE_CLOSED;
  self->failure_threshold = CONFAB_CIRCUIT_BREAKER_DEFAULT_FAILURE_THRESHOLD;
  self->open_ms = CONFAB_CIRCUIT_BREAKER_DEFAULT_OPEN_MS;
  self->max_open_ms = CONFAB_CIRCUIT_BREAKER_DEFAULT_MAX_OPEN_MS;
}

/**
 * confab_circuit_breaker_new:
 * @name: (nullable): what it guards, e.g. "websocket wss://host:443"
 * @clock: (nullable): the clock, or %NULL for confab_clock_get_default()
 *
 * Returns: (transfer full): a closed breaker with the default threshold and times
 */
ConfabCircuitBreaker *
confab_circuit_breaker_new (const char  *name,
                            ConfabClock *clock)
{
  g_return_val_if_fail (clock == NULL || CONFAB_IS_CLOCK (clock), NULL);

  return g_object_new (CONFAB_TYPE_CIRCUIT_BREAKER,
                       "name", name,
                       "clock", clock,
                       NULL);
}
