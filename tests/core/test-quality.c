/* test-quality.c: the quality rating, its thresholds and its hysteresis; the seen-id set
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-quality.h"
#include "confab-seen-ids.h"

static void
feed_rtt (ConfabQualityMeter *meter,
          guint               rtt_ms,
          guint               n)
{
  for (guint i = 0; i < n; i++)
    confab_quality_meter_add_rtt (meter, rtt_ms);
}

static void
test_unknown_then_first_sample (void)
{
  g_autoptr(ConfabQualityMeter) meter = confab_quality_meter_new ();

  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_UNKNOWN);
  g_assert_cmpint (confab_quality_meter_get_rtt_ms (meter), ==, -1);
  g_assert_cmpfloat (confab_quality_meter_get_loss (meter), ==, 0);

  g_assert_true (confab_quality_meter_add_rtt (meter, 50));
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
  g_assert_cmpint (confab_quality_meter_get_rtt_ms (meter), ==, 50);
  g_assert_cmpstr (confab_quality_to_string (CONFAB_QUALITY_POOR), ==, "poor");
}

static void
test_thresholds (void)
{
  struct { guint rtt; ConfabQuality want; } cases[] = {
    { 10, CONFAB_QUALITY_EXCELLENT },
    { 149, CONFAB_QUALITY_EXCELLENT },
    { 150, CONFAB_QUALITY_GOOD },
    { 399, CONFAB_QUALITY_GOOD },
    { 400, CONFAB_QUALITY_POOR },
    { 5000, CONFAB_QUALITY_POOR },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(ConfabQualityMeter) meter = confab_quality_meter_new ();

      confab_quality_meter_add_rtt (meter, cases[i].rtt);
      g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, cases[i].want);
    }
}

static void
test_ewma (void)
{
  g_autoptr(ConfabQualityMeter) meter = confab_quality_meter_new ();

  confab_quality_meter_add_rtt (meter, 100);
  confab_quality_meter_add_rtt (meter, 200);
  /* 0.3 × 200 + 0.7 × 100 = 130 */
  g_assert_cmpint (confab_quality_meter_get_rtt_ms (meter), ==, 130);
  confab_quality_meter_add_rtt (meter, 0);
  /* 0.7 × 130 = 91 */
  g_assert_cmpint (confab_quality_meter_get_rtt_ms (meter), ==, 91);
}

static void
test_hysteresis_worse (void)
{
  g_autoptr(ConfabQualityMeter) meter = confab_quality_meter_new ();

  confab_quality_meter_add_rtt (meter, 50);
  /* One very slow sample pushes the EWMA over 150 but must not flip the rating. */
  g_assert_false (confab_quality_meter_add_rtt (meter, 600));  /* ewma 215 */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
  g_assert_false (confab_quality_meter_add_rtt (meter, 100));  /* ewma 180: GOOD, 2nd */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
  g_assert_true (confab_quality_meter_add_rtt (meter, 200));   /* ewma 186: GOOD, 3rd */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_GOOD);
}

static void
test_hysteresis_interrupted (void)
{
  g_autoptr(ConfabQualityMeter) meter = confab_quality_meter_new ();

  confab_quality_meter_add_rtt (meter, 100);                /* EXCELLENT */
  confab_quality_meter_add_rtt (meter, 300);                /* 160 GOOD (1) */
  confab_quality_meter_add_rtt (meter, 180);                /* 166 GOOD (2) */
  confab_quality_meter_add_rtt (meter, 20);                 /* 122 EXCELLENT: run broken */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
  confab_quality_meter_add_rtt (meter, 300);                /* 175 GOOD (1) */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
}

static void
test_hysteresis_improve_margin (void)
{
  g_autoptr(ConfabQualityMeter) meter = confab_quality_meter_new ();

  confab_quality_meter_add_rtt (meter, 200);                 /* GOOD */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_GOOD);
  /* Hovering just under 150 (not under 120) never improves it. */
  for (guint i = 0; i < 40; i++)
    confab_quality_meter_add_rtt (meter, 140);
  g_assert_cmpint (confab_quality_meter_get_rtt_ms (meter), <, 150);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_GOOD);
  /* Clearly inside: three samples under 120 ms improve it. */
  feed_rtt (meter, 60, 2);                                    /* ewma 116 then 99 */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_GOOD);
  for (guint i = 0; i < 3 && confab_quality_meter_get_rating (meter) != CONFAB_QUALITY_EXCELLENT; i++)
    confab_quality_meter_add_rtt (meter, 60);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
}

static void
test_loss (void)
{
  g_autoptr(ConfabQualityMeter) meter = confab_quality_meter_new ();

  confab_quality_meter_add_rtt (meter, 50);
  for (guint i = 0; i < 19; i++)
    confab_quality_meter_add_probe (meter, TRUE);
  confab_quality_meter_add_probe (meter, FALSE);
  g_assert_cmpfloat_with_epsilon (confab_quality_meter_get_loss (meter), 0.05, 1e-9);
  /* 5 % loss is not < 5 %: POOR, after it holds for three samples. */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
  confab_quality_meter_add_rtt (meter, 50);
  confab_quality_meter_add_rtt (meter, 50);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_POOR);

  /* The window is the last 20: twenty answered probes forget the loss. */
  for (guint i = 0; i < 20; i++)
    confab_quality_meter_add_probe (meter, TRUE);
  g_assert_cmpfloat (confab_quality_meter_get_loss (meter), ==, 0);
  /* The improvement must hold for three samples: this was the first. */
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_POOR);
  confab_quality_meter_add_rtt (meter, 50);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_POOR);
  confab_quality_meter_add_rtt (meter, 50);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
}

static void
test_ceiling (void)
{
  g_autoptr(ConfabQualityMeter) meter = confab_quality_meter_new ();

  confab_quality_meter_add_rtt (meter, 10);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_EXCELLENT);
  g_assert_true (confab_quality_meter_set_ceiling (meter, CONFAB_QUALITY_GOOD));
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_GOOD);
  feed_rtt (meter, 5, 10);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_GOOD);
  feed_rtt (meter, 900, 10);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_POOR);

  confab_quality_meter_reset (meter);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_UNKNOWN);
  confab_quality_meter_add_rtt (meter, 10);
  g_assert_cmpint (confab_quality_meter_get_rating (meter), ==, CONFAB_QUALITY_GOOD);
}

static void
test_seen_ids (void)
{
  g_autoptr(ConfabSeenIds) seen = confab_seen_ids_new (3);

  g_assert_true (confab_seen_ids_add (seen, "a"));
  g_assert_false (confab_seen_ids_add (seen, "a"));
  g_assert_true (confab_seen_ids_add (seen, "b"));
  g_assert_true (confab_seen_ids_add (seen, "c"));
  g_assert_cmpuint (confab_seen_ids_get_size (seen), ==, 3);
  g_assert_true (confab_seen_ids_add (seen, "d"));      /* forgets "a" */
  g_assert_cmpuint (confab_seen_ids_get_size (seen), ==, 3);
  g_assert_false (confab_seen_ids_contains (seen, "a"));
  g_assert_true (confab_seen_ids_contains (seen, "b"));
  g_assert_false (confab_seen_ids_add (seen, "d"));
  g_assert_true (confab_seen_ids_add (seen, "a"));
  confab_seen_ids_clear (seen);
  g_assert_cmpuint (confab_seen_ids_get_size (seen), ==, 0);
  g_assert_cmpuint (confab_seen_ids_get_capacity (seen), ==, 3);
}

static void
test_seen_ids_default_bound (void)
{
  g_autoptr(ConfabSeenIds) seen = confab_seen_ids_new (CONFAB_SEEN_IDS_DEFAULT_CAPACITY);

  for (guint i = 0; i < 2 * CONFAB_SEEN_IDS_DEFAULT_CAPACITY; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%u", i);

      g_assert_true (confab_seen_ids_add (seen, id));
    }
  g_assert_cmpuint (confab_seen_ids_get_size (seen), ==, CONFAB_SEEN_IDS_DEFAULT_CAPACITY);
  g_assert_false (confab_seen_ids_add (seen, "m9999"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/quality/first-sample", test_unknown_then_first_sample);
  g_test_add_func ("/core/quality/thresholds", test_thresholds);
  g_test_add_func ("/core/quality/ewma", test_ewma);
  g_test_add_func ("/core/quality/hysteresis-worse", test_hysteresis_worse);
  g_test_add_func ("/core/quality/hysteresis-interrupted", test_hysteresis_interrupted);
  g_test_add_func ("/core/quality/hysteresis-improve-margin", test_hysteresis_improve_margin);
  g_test_add_func ("/core/quality/loss", test_loss);
  g_test_add_func ("/core/quality/ceiling", test_ceiling);
  g_test_add_func ("/core/quality/seen-ids", test_seen_ids);
  g_test_add_func ("/core/quality/seen-ids-bound", test_seen_ids_default_bound);

  return g_test_run ();
}
