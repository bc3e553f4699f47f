/* confab-backoff.c: exponential backoff with full jitter, a floor and a cap
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-backoff.h"

/* Delay n (n = attempts so far, from 0) is uniform in
 *
 *   [floor, max (floor, min (cap, base × 2ⁿ))]   (milliseconds, both ends included)
 *
 * AWS's "full jitter" with a floor: the cap is applied before the jitter, so the spread
 * never collapses into lock-step (Socket.IO applies it after, and from attempt 4 every
 * client waits exactly 5 s), and the floor rules out a zero-delay loop (centrifuge-js
 * #407). The numbers and the comparison with other clients: docs/retry-policy.md. */
struct _ConfabBackoff
{
  GObject  parent_instance;

  guint    floor_ms;
  guint    base_ms;
  guint    cap_ms;
  guint    attempt;
  GRand   *rand;
};

enum {
  PROP_0,
  PROP_FLOOR_MS,
  PROP_BASE_MS,
  PROP_CAP_MS,
  PROP_ATTEMPT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (ConfabBackoff, confab_backoff, G_TYPE_OBJECT)

static guint
upper_bound (ConfabBackoff *self)
{
  guint64 ceiling = self->cap_ms;

  /* base ≤ 2²⁷, so the shift cannot overflow 64 bits below 32 doublings; past that
   * the cap (≤ 2²⁷) has long been reached. */
  if (self->attempt < 32)
    ceiling = MIN (ceiling, (guint64) self->base_ms << self->attempt);

  return MAX (self->floor_ms, (guint) ceiling);
}

static void
set_attempt (ConfabBackoff *self,
             guint          attempt)
{
  if (self->attempt == attempt)
    return;

  self->attempt = attempt;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTEMPT]);
}

/**
 * confab_backoff_next_delay:
 * @self: a #ConfabBackoff
 *
 * Draws the delay before the next attempt and counts the attempt.
 *
 * Returns: milliseconds, within [#ConfabBackoff:floor-ms, confab_backoff_peek_max()]
 *   as they were before the call; never 0
 */
guint
confab_backoff_next_delay (ConfabBackoff *self)
{
  guint upper;
  guint delay;

  g_return_val_if_fail (CONFAB_IS_BACKOFF (self), CONFAB_BACKOFF_DEFAULT_CAP_MS);

  upper = upper_bound (self);
  /* Both ends ≤ CONFAB_BACKOFF_MAX_MS, far inside gint32. */
  if (upper == self->floor_ms)
    delay = upper;
  else
    delay = (guint) g_rand_int_range (self->rand, (gint32) self->floor_ms, (gint32) upper + 1);

  if (self->attempt < G_MAXUINT)
    set_attempt (self, self->attempt + 1);

  return delay;
}

/**
 * confab_backoff_peek_max:
 * @self: a #ConfabBackoff
 *
 * The longest the next confab_backoff_next_delay() can return, without drawing it
 * (for a "reconnecting within N s" hint).
 *
 * Returns: milliseconds
 */
guint
confab_backoff_peek_max (ConfabBackoff *self)
{
  g_return_val_if_fail (CONFAB_IS_BACKOFF (self), CONFAB_BACKOFF_DEFAULT_CAP_MS);

  return upper_bound (self);
}

/**
 * confab_backoff_reset:
 * @self: a #ConfabBackoff
 *
 * Back to attempt 0, after a success.
 */
void
confab_backoff_reset (ConfabBackoff *self)
{
  g_return_if_fail (CONFAB_IS_BACKOFF (self));

  set_attempt (self, 0);
}

/**
 * confab_backoff_set_random:
 * @self: a #ConfabBackoff
 * @rand: (nullable): the random source to copy, or %NULL for a new self-seeded one
 *
 * Replaces the random source with a copy of @rand in its current state, so a test
 * that seeds @rand gets a reproducible sequence; the caller keeps @rand.
 */
void
confab_backoff_set_random (ConfabBackoff *self,
                           GRand         *rand)
{
  g_return_if_fail (CONFAB_IS_BACKOFF (self));

  g_clear_pointer (&self->rand, g_rand_free);
  self->rand = rand != NULL ? g_rand_copy (rand) : g_rand_new ();
}

guint
confab_backoff_get_attempt (ConfabBackoff *self)
{
  g_return_val_if_fail (CONFAB_IS_BACKOFF (self), 0);

  return self->attempt;
}

guint
confab_backoff_get_floor_ms (ConfabBackoff *self)
{
  g_return_val_if_fail (CONFAB_IS_BACKOFF (self), 0);

  return self->floor_ms;
}

void
confab_backoff_set_floor_ms (ConfabBackoff *self,
                             guint          floor_ms)
{
  g_return_if_fail (CONFAB_IS_BACKOFF (self));
  g_return_if_fail (floor_ms >= 1 && floor_ms <= CONFAB_BACKOFF_MAX_MS);

  if (self->floor_ms == floor_ms)
    return;

  self->floor_ms = floor_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLOOR_MS]);
}

guint
confab_backoff_get_base_ms (ConfabBackoff *self)
{
  g_return_val_if_fail (CONFAB_IS_BACKOFF (self), 0);

  return self->base_ms;
}

void
confab_backoff_set_base_ms (ConfabBackoff *self,
                            guint          base_ms)
{
  g_return_if_fail (CONFAB_IS_BACKOFF (self));
  g_return_if_fail (base_ms >= 1 && base_ms <= CONFAB_BACKOFF_MAX_MS);

  if (self->base_ms == base_ms)
    return;

  self->base_ms = base_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BASE_MS]);
}

guint
confab_backoff_get_cap_ms (ConfabBackoff *self)
{
  g_return_val_if_fail (CONFAB_IS_BACKOFF (self), 0);

  return self->cap_ms;
}

void
confab_backoff_set_cap_ms (ConfabBackoff *self,
                           guint          cap_ms)
{
  g_return_if_fail (CONFAB_IS_BACKOFF (self));
  g_return_if_fail (cap_ms >= 1 && cap_ms <= CONFAB_BACKOFF_MAX_MS);

  if (self->cap_ms == cap_ms)
    return;

  self->cap_ms = cap_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAP_MS]);
}

static void
confab_backoff_finalize (GObject *object)
{
  ConfabBackoff *self = CONFAB_BACKOFF (object);

  g_clear_pointer (&self->rand, g_rand_free);

  G_OBJECT_CLASS (confab_backoff_parent_class)->finalize (object);
}

static void
confab_backoff_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  ConfabBackoff *self = CONFAB_BACKOFF (object);

  switch (prop_id)
    {
    case PROP_FLOOR_MS:
      g_value_set_uint (value, self->floor_ms);
      break;
    case PROP_BASE_MS:
      g_value_set_uint (value, self->base_ms);
      break;
    case PROP_CAP_MS:
      g_value_set_uint (value, self->cap_ms);
      break;
    case PROP_ATTEMPT:
      g_value_set_uint (value, self->attempt);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_backoff_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  ConfabBackoff *self = CONFAB_BACKOFF (object);

  switch (prop_id)
    {
    case PROP_FLOOR_MS:
      confab_backoff_set_floor_ms (self, g_value_get_uint (value));
      break;
    case PROP_BASE_MS:
      confab_backoff_set_base_ms (self, g_value_get_uint (value));
      break;
    case PROP_CAP_MS:
      confab_backoff_set_cap_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_backoff_class_init (ConfabBackoffClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_backoff_finalize;
  object_class->get_property = confab_backoff_get_property;
  object_class->set_property = confab_backoff_set_property;

  /**
   * ConfabBackoff:floor-ms:
   *
   * No delay is shorter than this (no tight loops), even when it exceeds the cap.
   */
  properties[PROP_FLOOR_MS] =
    g_param_spec_uint ("floor-ms", NULL, NULL,
                       1, CONFAB_BACKOFF_MAX_MS, CONFAB_BACKOFF_DEFAULT_FLOOR_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabBackoff:base-ms:
   *
   * The upper bound of the first delay; it doubles with each attempt.
   */
  properties[PROP_BASE_MS] =
    g_param_spec_uint ("base-ms", NULL, NULL,
                       1, CONFAB_BACKOFF_MAX_MS, CONFAB_BACKOFF_DEFAULT_BASE_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabBackoff:cap-ms:
   *
   * The upper bound never grows past this (applied before the jitter).
   */
  properties[PROP_CAP_MS] =
    g_param_spec_uint ("cap-ms", NULL, NULL,
                       1, CONFAB_BACKOFF_MAX_MS, CONFAB_BACKOFF_DEFAULT_CAP_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabBackoff:attempt:
   *
   * Delays drawn since the last reset.
   */
  properties[PROP_ATTEMPT] =
    g_param_spec_uint ("attempt", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_backoff_init (ConfabBackoff *self)
{
  self->floor_ms = CONFAB_BACKOFF_DEFAULT_FLOOR_MS;
  self->base_ms = CONFAB_BACKOFF_DEFAULT_BASE_MS;
  self->cap_ms = CONFAB_BACKOFF_DEFAULT_CAP_MS;
  self->rand = g_rand_new ();
}

/**
 * confab_backoff_new:
 *
 * Returns: (transfer full): a backoff with the default floor, base and cap
 */
ConfabBackoff *
confab_backoff_new (void)
{
  return g_object_new (CONFAB_TYPE_BACKOFF, NULL);
}
