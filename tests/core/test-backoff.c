/* test-backoff.c: full-jitter backoff bounds, growth, cap, reset and determinism
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-backoff.h"

#define SAMPLES 10000

static void
count_cb (GObject    *object,
          GParamSpec *pspec,
          gpointer    user_data)
{
  (*(guint *) user_data)++;
}

/* A backoff whose draws follow the test's seed (rerun a failure with --seed). */
static ConfabBackoff *
seeded_backoff (void)
{
  ConfabBackoff *backoff = confab_backoff_new ();
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());

  confab_backoff_set_random (backoff, rand);
  g_rand_free (rand);
  return backoff;
}

static void
advance_to (ConfabBackoff *backoff,
            guint          attempt)
{
  confab_backoff_reset (backoff);
  while (confab_backoff_get_attempt (backoff) < attempt)
    confab_backoff_next_delay (backoff);
}

static void
test_defaults (void)
{
  g_autoptr(ConfabBackoff) backoff = confab_backoff_new ();
  guint floor_ms = 0, base_ms = 0, cap_ms = 0, attempt = 99;

  g_object_get (backoff,
                "floor-ms", &floor_ms,
                "base-ms", &base_ms,
                "cap-ms", &cap_ms,
                "attempt", &attempt,
                NULL);
  g_assert_cmpuint (floor_ms, ==, 250);
  g_assert_cmpuint (base_ms, ==, 500);
  g_assert_cmpuint (cap_ms, ==, 30000);
  g_assert_cmpuint (attempt, ==, 0);
  g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, 500);
}

/* 10 000 draws for each attempt: all within [floor, min (cap, base·2ⁿ)], both ends
 * reached (full jitter, not "equal jitter"), and centred. */
static void
test_bounds (void)
{
  g_autoptr(ConfabBackoff) backoff = seeded_backoff ();
  guint attempt;

  for (attempt = 0; attempt <= 12; attempt++)
    {
      guint64 grown = (guint64) 500 << attempt;
      guint upper = (guint) MIN (grown, 30000);
      guint range = upper - 250;
      guint lowest = G_MAXUINT;
      guint highest = 0;
      double sum = 0;
      double mean;
      guint i;

      for (i = 0; i < SAMPLES; i++)
        {
          guint delay;

          advance_to (backoff, attempt);
          g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, upper);
          delay = confab_backoff_next_delay (backoff);
          g_assert_cmpuint (delay, >=, 250);
          g_assert_cmpuint (delay, <=, upper);
          lowest = MIN (lowest, delay);
          highest = MAX (highest, delay);
          sum += delay;
        }

      /* P(missing the bottom or top 2 % in 10 000 draws) ≈ e⁻²⁰². */
      g_assert_cmpuint (lowest, <=, 250 + range / 50);
      g_assert_cmpuint (highest, >=, upper - range / 50);
      /* The mean's standard error is 0.3 % of the range: ±3 % is ten of them. */
      mean = sum / SAMPLES;
      g_assert_cmpfloat (mean, >, 250 + range * 0.47);
      g_assert_cmpfloat (mean, <, 250 + range * 0.53);

      /* The first attempt spans only 251 values: both ends are drawn (inclusive). */
      if (attempt == 0)
        {
          g_assert_cmpuint (lowest, ==, 250);
          g_assert_cmpuint (highest, ==, 500);
        }
    }
}

static void
test_growth (void)
{
  g_autoptr(ConfabBackoff) backoff = seeded_backoff ();
  const guint expected[] = { 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000 };
  guint notifies = 0;
  guint i;

  g_signal_connect (backoff, "notify::attempt", G_CALLBACK (count_cb), &notifies);

  for (i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_cmpuint (confab_backoff_get_attempt (backoff), ==, i);
      g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, expected[i]);
      /* Peeking draws nothing and counts nothing. */
      g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, expected[i]);
      g_assert_cmpuint (confab_backoff_get_attempt (backoff), ==, i);
      g_assert_cmpuint (confab_backoff_next_delay (backoff), <=, expected[i]);
      g_assert_cmpuint (notifies, ==, i + 1);
    }
}

static void
test_cap (void)
{
  g_autoptr(ConfabBackoff) backoff = seeded_backoff ();
  const guint expected[] = { 1000, 2000, 4000, 5000, 5000 };
  guint i;

  /* Past 32 and 64 doublings: no overflow (500 << 62 would wrap to 0), the cap holds. */
  for (i = 6; i <= 200; i++)
    {
      advance_to (backoff, i);
      g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, 30000);
    }
  advance_to (backoff, 1000);
  g_assert_cmpuint (confab_backoff_get_attempt (backoff), ==, 1000);
  g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, 30000);
  for (i = 0; i < SAMPLES; i++)
    {
      guint delay = confab_backoff_next_delay (backoff);

      g_assert_cmpuint (delay, >=, 250);
      g_assert_cmpuint (delay, <=, 30000);
    }

  /* Other numbers: the cap is applied before the jitter. */
  g_object_set (backoff, "base-ms", 1000, "cap-ms", 5000, NULL);
  confab_backoff_reset (backoff);
  for (i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, expected[i]);
      g_assert_cmpuint (confab_backoff_next_delay (backoff), <=, expected[i]);
    }
}

static void
test_reset (void)
{
  g_autoptr(ConfabBackoff) backoff = seeded_backoff ();
  guint notifies = 0;

  advance_to (backoff, 5);
  g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, 16000);

  g_signal_connect (backoff, "notify::attempt", G_CALLBACK (count_cb), &notifies);
  confab_backoff_reset (backoff);
  g_assert_cmpuint (notifies, ==, 1);
  g_assert_cmpuint (confab_backoff_get_attempt (backoff), ==, 0);
  g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, 500);
  g_assert_cmpuint (confab_backoff_next_delay (backoff), <=, 500);

  /* Resetting at 0 is no change, so no notify. */
  confab_backoff_reset (backoff);
  g_assert_cmpuint (notifies, ==, 3);
  confab_backoff_reset (backoff);
  g_assert_cmpuint (notifies, ==, 3);
}

static void
draw (ConfabBackoff *backoff,
      guint         *out,
      guint          n)
{
  guint i;

  for (i = 0; i < n; i++)
    out[i] = confab_backoff_next_delay (backoff);
}

static void
test_deterministic (void)
{
  g_autoptr(ConfabBackoff) first = confab_backoff_new ();
  g_autoptr(ConfabBackoff) second = confab_backoff_new ();
  g_autoptr(ConfabBackoff) other = confab_backoff_new ();
  GRand *rand = g_rand_new_with_seed (42);
  GRand *fresh = g_rand_new_with_seed (42);
  GRand *seven = g_rand_new_with_seed (7);
  guint a[40], b[40], c[40];

  confab_backoff_set_random (first, rand);
  confab_backoff_set_random (second, rand);
  confab_backoff_set_random (other, seven);

  /* The backoff drew from a copy: the caller's generator has not moved. */
  g_assert_cmpuint (g_rand_int (rand), ==, g_rand_int (fresh));

  draw (first, a, G_N_ELEMENTS (a));
  draw (second, b, G_N_ELEMENTS (b));
  draw (other, c, G_N_ELEMENTS (c));
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  g_assert_true (memcmp (a, c, sizeof a) != 0);

  /* The same seed after a reset gives the same delays again. */
  g_rand_set_seed (rand, 42);
  confab_backoff_set_random (first, rand);
  confab_backoff_reset (first);
  draw (first, b, G_N_ELEMENTS (b));
  g_assert_cmpmem (a, sizeof a, b, sizeof b);

  /* NULL goes back to a self-seeded source, still within bounds. */
  confab_backoff_set_random (first, NULL);
  confab_backoff_reset (first);
  g_assert_cmpuint (confab_backoff_next_delay (first), >=, 250);

  g_rand_free (rand);
  g_rand_free (fresh);
  g_rand_free (seven);
}

static void
test_never_zero (void)
{
  g_autoptr(ConfabBackoff) tiny = NULL;
  g_autoptr(ConfabBackoff) backoff = seeded_backoff ();
  guint notifies = 0;
  guint i;

  /* The smallest configuration still waits. */
  tiny = g_object_new (CONFAB_TYPE_BACKOFF, "floor-ms", 1, "base-ms", 1, "cap-ms", 1, NULL);
  for (i = 0; i < 100; i++)
    g_assert_cmpuint (confab_backoff_next_delay (tiny), ==, 1);

  /* A floor of 0 is refused, and the old floor stays. */
  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*floor_ms >= 1*");
  confab_backoff_set_floor_ms (backoff, 0);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (confab_backoff_get_floor_ms (backoff), ==, 250);
  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*cap_ms >= 1*");
  confab_backoff_set_cap_ms (backoff, 0);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (confab_backoff_get_cap_ms (backoff), ==, 30000);

  /* A floor above the cap wins: no delay is ever shorter than the floor. */
  g_signal_connect (backoff, "notify::cap-ms", G_CALLBACK (count_cb), &notifies);
  confab_backoff_set_floor_ms (backoff, 5000);
  confab_backoff_set_cap_ms (backoff, 1000);
  g_assert_cmpuint (notifies, ==, 1);
  confab_backoff_set_cap_ms (backoff, 1000);
  g_assert_cmpuint (notifies, ==, 1);
  for (i = 0; i < 20; i++)
    {
      g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, 5000);
      g_assert_cmpuint (confab_backoff_next_delay (backoff), ==, 5000);
    }

  /* A base below the floor: the floor until base·2ⁿ passes it. */
  g_object_set (backoff, "floor-ms", 250, "base-ms", 100, "cap-ms", 30000, NULL);
  confab_backoff_reset (backoff);
  g_assert_cmpuint (confab_backoff_next_delay (backoff), ==, 250);  /* max (250, 100) */
  g_assert_cmpuint (confab_backoff_next_delay (backoff), ==, 250);  /* max (250, 200) */
  g_assert_cmpuint (confab_backoff_peek_max (backoff), ==, 400);
  for (i = 0; i < 1000; i++)
    {
      guint delay;

      advance_to (backoff, 2);
      delay = confab_backoff_next_delay (backoff);
      g_assert_cmpuint (delay, >=, 250);
      g_assert_cmpuint (delay, <=, 400);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/backoff/defaults", test_defaults);
  g_test_add_func ("/core/backoff/bounds", test_bounds);
  g_test_add_func ("/core/backoff/growth", test_growth);
  g_test_add_func ("/core/backoff/cap", test_cap);
  g_test_add_func ("/core/backoff/reset", test_reset);
  g_test_add_func ("/core/backoff/deterministic", test_deterministic);
  g_test_add_func ("/core/backoff/never-zero", test_never_zero);

  return g_test_run ();
}
