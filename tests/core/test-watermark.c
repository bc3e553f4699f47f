/* test-watermark.c: the catch-up watermark, in memory and on disk
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "confab-fake-clock.h"
#include "confab-watermark.h"

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("confab-watermark-XXXXXX", &error);
  g_assert_no_error (error);
  /* In a directory that does not exist yet: the first write makes it. */
  f->path = g_build_filename (f->dir, "state", CONFAB_WATERMARK_FILE, NULL);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *state = g_path_get_dirname (f->path);

  g_remove (f->path);
  g_rmdir (state);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static char *
file_text (const char *path)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return text;
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              guint      *count)
{
  (*count)++;
}

/* Forward only; in memory at once, on disk after CONFAB_WATERMARK_SAVE_MS (one write for
 * many events), at once on flush; read back by the next instance. */
static void
test_advance_and_store (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabWatermark) watermark = confab_watermark_new (f->path, CONFAB_CLOCK (clock));
  g_autoptr(ConfabWatermark) again = NULL;
  g_autofree char *text = NULL;
  guint notified = 0;

  g_signal_connect (watermark, "notify::value", G_CALLBACK (count_notify), &notified);
  g_assert_cmpint (confab_watermark_get_value (watermark), ==, 0);
  g_assert_cmpstr (confab_watermark_get_path (watermark), ==, f->path);

  confab_watermark_advance (watermark, 1000);
  confab_watermark_advance (watermark, 3000);
  confab_watermark_advance (watermark, 2000);   /* older: ignored */
  confab_watermark_advance (watermark, 3000);   /* the same: ignored */
  g_assert_cmpint (confab_watermark_get_value (watermark), ==, 3000);
  g_assert_cmpuint (notified, ==, 2);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));

  confab_fake_clock_advance (clock, (CONFAB_WATERMARK_SAVE_MS - 1) * 1000);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
  confab_fake_clock_advance (clock, 1000);
  text = file_text (f->path);
  g_assert_cmpstr (text, ==, "3000\n");
  g_clear_pointer (&text, g_free);

  confab_watermark_advance (watermark, 4000);
  confab_watermark_flush (watermark);
  text = file_text (f->path);
  g_assert_cmpstr (text, ==, "4000\n");
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);

  again = confab_watermark_new (f->path, CONFAB_CLOCK (clock));
  g_assert_cmpint (confab_watermark_get_value (again), ==, 4000);
}

/* The last value is written when the watermark goes away (the connection stops). */
static void
test_written_on_dispose (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  ConfabWatermark *watermark = confab_watermark_new (f->path, CONFAB_CLOCK (clock));
  g_autofree char *text = NULL;

  confab_watermark_advance (watermark, 42);
  g_object_unref (watermark);
  text = file_text (f->path);
  g_assert_cmpstr (text, ==, "42\n");
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
}

/* A file that is not a positive number counts as none. */
static void
test_bad_file (Fixture       *f,
               gconstpointer  data)
{
  const char *bad[] = { "", "\n", "abc\n", "12abc\n", "-5\n", "0\n", "99999999999999999999999\n", "\xff\xfe" };
  g_autofree char *state = g_path_get_dirname (f->path);

  g_assert_cmpint (g_mkdir_with_parents (state, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ConfabWatermark) watermark = NULL;

      g_assert_true (g_file_set_contents (f->path, bad[i], -1, &error));
      g_assert_no_error (error);
      watermark = confab_watermark_new (f->path, NULL);
      g_assert_cmpint (confab_watermark_get_value (watermark), ==, 0);
    }
}

/* No path: memory only, no timer, nothing written. */
static void
test_memory_only (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabWatermark) watermark = confab_watermark_new (NULL, CONFAB_CLOCK (clock));

  confab_watermark_advance (watermark, 7);
  g_assert_cmpint (confab_watermark_get_value (watermark), ==, 7);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  confab_watermark_flush (watermark);
}

/* An unwritable place: logged, no crash, the value holds in memory. */
static void
test_unwritable (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (0);
  g_autoptr(ConfabWatermark) watermark = confab_watermark_new ("/proc/confab-no/watermark", CONFAB_CLOCK (clock));

  confab_watermark_advance (watermark, 9);
  confab_watermark_flush (watermark);
  g_assert_cmpint (confab_watermark_get_value (watermark), ==, 9);
}

static void
test_parse_time (void)
{
  g_assert_cmpint (confab_watermark_parse_time (NULL), ==, 0);
  g_assert_cmpint (confab_watermark_parse_time (""), ==, 0);
  g_assert_cmpint (confab_watermark_parse_time ("yesterday"), ==, 0);
  g_assert_cmpint (confab_watermark_parse_time ("1970-01-01T00:00:01.000002Z"), ==, G_USEC_PER_SEC + 2);
  g_assert_cmpint (confab_watermark_parse_time ("2026-11-28T04:00:00.123456Z"), ==,
                   G_GINT64_CONSTANT (1795838400) * G_USEC_PER_SEC + 123456);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/core/watermark/advance-and-store", Fixture, NULL, fixture_set_up, test_advance_and_store, fixture_tear_down);
  g_test_add ("/core/watermark/written-on-dispose", Fixture, NULL, fixture_set_up, test_written_on_dispose, fixture_tear_down);
  g_test_add ("/core/watermark/bad-file", Fixture, NULL, fixture_set_up, test_bad_file, fixture_tear_down);
  g_test_add_func ("/core/watermark/memory-only", test_memory_only);
  g_test_add_func ("/core/watermark/unwritable", test_unwritable);
  g_test_add_func ("/core/watermark/parse-time", test_parse_time);

  return g_test_run ();
}
