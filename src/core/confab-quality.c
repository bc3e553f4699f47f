/* confab-quality.c: a connection-quality rating from RTT and loss, with hysteresis
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-quality.h"

struct _ConfabQualityMeter
{
  GObject        parent_instance;

  double         rtt;          /* EWMA, < 0 before the first sample */
  gboolean       probes[CONFAB_QUALITY_LOSS_WINDOW];  /* TRUE = lost */
  guint          n_probes;
  guint          probe_pos;
  ConfabQuality  rating;
  ConfabQuality  pending;
  guint          pending_count;
  ConfabQuality  ceiling;
};

G_DEFINE_FINAL_TYPE (ConfabQualityMeter, confab_quality_meter, G_TYPE_OBJECT)

GType
confab_quality_get_type (void)
{
  static gsize type_id = 0;

  if (g_once_init_enter (&type_id))
    {
      static const GEnumValue values[] = {
        { CONFAB_QUALITY_UNKNOWN, "CONFAB_QUALITY_UNKNOWN", "unknown" },
        { CONFAB_QUALITY_EXCELLENT, "CONFAB_QUALITY_EXCELLENT", "excellent" },
        { CONFAB_QUALITY_GOOD, "CONFAB_QUALITY_GOOD", "good" },
        { CONFAB_QUALITY_POOR, "CONFAB_QUALITY_POOR", "poor" },
        { 0, NULL, NULL },
      };
      GType type = g_enum_register_static (g_intern_static_string ("ConfabQuality"), values);

      g_once_init_leave (&type_id, type);
    }

  return type_id;
}

const char *
confab_quality_to_string (ConfabQuality quality)
{
  switch (quality)
    {
    case CONFAB_QUALITY_EXCELLENT:
      return "excellent";
    case CONFAB_QUALITY_GOOD:
      return "good";
    case CONFAB_QUALITY_POOR:
      return "poor";
    case CONFAB_QUALITY_UNKNOWN:
    default:
      return "unknown";
    }
}

static void
confab_quality_meter_class_init (ConfabQualityMeterClass *klass)
{
}

static void
confab_quality_meter_init (ConfabQualityMeter *self)
{
  self->ceiling = CONFAB_QUALITY_EXCELLENT;
  confab_quality_meter_reset (self);
}

ConfabQualityMeter *
confab_quality_meter_new (void)
{
  return g_object_new (CONFAB_TYPE_QUALITY_METER, NULL);
}

void
confab_quality_meter_reset (ConfabQualityMeter *self)
{
  g_return_if_fail (CONFAB_IS_QUALITY_METER (self));

  self->rtt = -1;
  self->n_probes = 0;
  self->probe_pos = 0;
  self->rating = CONFAB_QUALITY_UNKNOWN;
  self->pending = CONFAB_QUALITY_UNKNOWN;
  self->pending_count = 0;
}

double
confab_quality_meter_get_loss (ConfabQualityMeter *self)
{
  guint lost = 0;

  g_return_val_if_fail (CONFAB_IS_QUALITY_METER (self), 0);

  if (self->n_probes == 0)
    return 0;

  for (guint i = 0; i < self->n_probes; i++)
    lost += self->probes[i] ? 1 : 0;

  return (double) lost / self->n_probes;
}

/* Lower enum value = better, apart from UNKNOWN. */
static ConfabQuality
cap (ConfabQualityMeter *self,
     ConfabQuality       quality)
{
  if (quality != CONFAB_QUALITY_UNKNOWN && quality < self->ceiling)
    return self->ceiling;
  return quality;
}

static ConfabQuality
classify (ConfabQualityMeter *self,
          double              margin)
{
  double loss = confab_quality_meter_get_loss (self);

  if (self->rtt < 0)
    return CONFAB_QUALITY_UNKNOWN;
  if (self->rtt < CONFAB_QUALITY_EXCELLENT_RTT_MS * margin && loss < CONFAB_QUALITY_EXCELLENT_LOSS)
    return cap (self, CONFAB_QUALITY_EXCELLENT);
  if (self->rtt < CONFAB_QUALITY_GOOD_RTT_MS * margin && loss < CONFAB_QUALITY_GOOD_LOSS)
    return cap (self, CONFAB_QUALITY_GOOD);
  return CONFAB_QUALITY_POOR;
}

static gboolean
evaluate (ConfabQualityMeter *self)
{
  ConfabQuality now = classify (self, 1.0);

  if (now == CONFAB_QUALITY_UNKNOWN)
    return FALSE;

  if (self->rating == CONFAB_QUALITY_UNKNOWN)
    {
      self->rating = now;
      self->pending_count = 0;
      return TRUE;
    }

  if (now == self->rating)
    {
      self->pending_count = 0;
      return FALSE;
    }

  /* An improvement must be clearly inside the better band. */
  if (now < self->rating && classify (self, CONFAB_QUALITY_IMPROVE_MARGIN) > now)
    {
      self->pending_count = 0;
      return FALSE;
    }

  if (now != self->pending)
    {
      self->pending = now;
      self->pending_count = 0;
    }

  if (++self->pending_count < CONFAB_QUALITY_HOLD_SAMPLES)
    return FALSE;

  self->rating = now;
  self->pending_count = 0;
  return TRUE;
}

gboolean
confab_quality_meter_add_rtt (ConfabQualityMeter *self,
                              guint               rtt_ms)
{
  g_return_val_if_fail (CONFAB_IS_QUALITY_METER (self), FALSE);

  if (self->rtt < 0)
    self->rtt = rtt_ms;
  else
    self->rtt = CONFAB_QUALITY_ALPHA * rtt_ms + (1 - CONFAB_QUALITY_ALPHA) * self->rtt;

  return evaluate (self);
}

gboolean
confab_quality_meter_add_probe (ConfabQualityMeter *self,
                                gboolean            answered)
{
  g_return_val_if_fail (CONFAB_IS_QUALITY_METER (self), FALSE);

  self->probes[self->probe_pos] = !answered;
  self->probe_pos = (self->probe_pos + 1) % CONFAB_QUALITY_LOSS_WINDOW;
  if (self->n_probes < CONFAB_QUALITY_LOSS_WINDOW)
    self->n_probes++;

  return evaluate (self);
}

gboolean
confab_quality_meter_set_ceiling (ConfabQualityMeter *self,
                                  ConfabQuality       ceiling)
{
  ConfabQuality before;

  g_return_val_if_fail (CONFAB_IS_QUALITY_METER (self), FALSE);
  g_return_val_if_fail (ceiling == CONFAB_QUALITY_EXCELLENT || ceiling == CONFAB_QUALITY_GOOD, FALSE);

  self->ceiling = ceiling;
  before = self->rating;
  self->rating = cap (self, self->rating);

  return before != self->rating;
}

ConfabQuality
confab_quality_meter_get_rating (ConfabQualityMeter *self)
{
  g_return_val_if_fail (CONFAB_IS_QUALITY_METER (self), CONFAB_QUALITY_UNKNOWN);

  return self->rating;
}

int
confab_quality_meter_get_rtt_ms (ConfabQualityMeter *self)
{
  g_return_val_if_fail (CONFAB_IS_QUALITY_METER (self), -1);

  return self->rtt < 0 ? -1 : (int) (self->rtt + 0.5);
}
