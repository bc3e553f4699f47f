/* confab-quality.h: a connection-quality rating from RTT and loss, with hysteresis
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* How good the link is, for the UI's indicator. */
typedef enum {
  CONFAB_QUALITY_UNKNOWN,    /* no sample yet */
  CONFAB_QUALITY_EXCELLENT,
  CONFAB_QUALITY_GOOD,
  CONFAB_QUALITY_POOR,
} ConfabQuality;

GType confab_quality_get_type (void) G_GNUC_CONST;
#define CONFAB_TYPE_QUALITY (confab_quality_get_type ())

/* The rules (ConfabQualityMeter):
 *
 * - RTT is an EWMA of the samples, alpha 0.3 (the first sample is taken as is).
 * - Loss is probes without an answer / probes, over the last 20 probes (0 with none).
 * - The instantaneous rating: EXCELLENT when rtt < 150 ms and loss < 1 %, GOOD when
 *   rtt < 400 ms and loss < 5 %, else POOR.
 * - Hysteresis: the first sample sets the rating at once (UNKNOWN → something). After
 *   that a different rating must be the instantaneous rating for 3 consecutive samples
 *   (RTT samples and probe results both count) before it is adopted; to count towards an
 *   improvement, the RTT must also be 20 % inside the better band's threshold (< 120 ms
 *   for EXCELLENT, < 320 ms for GOOD). So one slow ping never flips the indicator, and
 *   an RTT hovering at a threshold does not flicker.
 * - A ceiling (set_ceiling) caps the rating: long-poll is never better than GOOD, as it
 *   adds latency by design. */
#define CONFAB_QUALITY_ALPHA               0.3
#define CONFAB_QUALITY_LOSS_WINDOW         20
#define CONFAB_QUALITY_EXCELLENT_RTT_MS    150
#define CONFAB_QUALITY_EXCELLENT_LOSS      0.01
#define CONFAB_QUALITY_GOOD_RTT_MS         400
#define CONFAB_QUALITY_GOOD_LOSS           0.05
#define CONFAB_QUALITY_HOLD_SAMPLES        3
#define CONFAB_QUALITY_IMPROVE_MARGIN      0.8

#define CONFAB_TYPE_QUALITY_METER (confab_quality_meter_get_type ())

G_DECLARE_FINAL_TYPE (ConfabQualityMeter, confab_quality_meter, CONFAB, QUALITY_METER, GObject)

ConfabQualityMeter *confab_quality_meter_new         (void);

/* Each returns TRUE when the (hysteresis-filtered) rating changed. */
gboolean            confab_quality_meter_add_rtt     (ConfabQualityMeter *self,
                                                      guint               rtt_ms);
gboolean            confab_quality_meter_add_probe   (ConfabQualityMeter *self,
                                                      gboolean            answered);
/* CONFAB_QUALITY_EXCELLENT (no cap) or GOOD; returns TRUE if the rating changed. */
gboolean            confab_quality_meter_set_ceiling (ConfabQualityMeter *self,
                                                      ConfabQuality       ceiling);
void                confab_quality_meter_reset       (ConfabQualityMeter *self);

ConfabQuality       confab_quality_meter_get_rating  (ConfabQualityMeter *self);
/* The EWMA in ms, or -1 before the first sample. */
int                 confab_quality_meter_get_rtt_ms  (ConfabQualityMeter *self);
double              confab_quality_meter_get_loss    (ConfabQualityMeter *self);

/* "unknown", "excellent", "good", "poor". */
const char         *confab_quality_to_string         (ConfabQuality       quality);

G_END_DECLS
