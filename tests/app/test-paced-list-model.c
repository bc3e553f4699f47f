/* test-paced-list-model.c: ConfabPacedListModel shows appends in bursts paced, passes
 * every other change at once, and always agrees with its model; confab_pace_add() puts
 * everything on one beat
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "confab-pace.h"
#include "confab-paced-list-model.h"

#define INTERVAL_MS 100
#define DEADLINE_US (5 * G_USEC_PER_SEC)

typedef struct
{
  GListStore           *store;
  ConfabPacedListModel *paced;
  guint                 n_changes;
  /* A copy of what the paced model announced, kept by replaying its items-changed: must
   * always equal the model's first n_items. */
  GPtrArray            *mirror;
} Fixture;

static void
on_paced_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Fixture    *f)
{
  f->n_changes++;
  g_assert_cmpuint (position + removed, <=, f->mirror->len);
  g_ptr_array_remove_range (f->mirror, position, removed);
  for (guint i = 0; i < added; i++)
    {
      GObject *item = g_list_model_get_item (model, position + i);

      g_assert_nonnull (item);
      g_ptr_array_insert (f->mirror, position + i, item);
    }
  g_assert_cmpuint (f->mirror->len, ==, g_list_model_get_n_items (model));
}

static void
assert_consistent (Fixture *f)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (f->paced));

  g_assert_cmpuint (n, ==, f->mirror->len);
  g_assert_cmpuint (n + confab_paced_list_model_get_n_held (f->paced), ==,
                    g_list_model_get_n_items (G_LIST_MODEL (f->store)));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GObject) shown = g_list_model_get_item (G_LIST_MODEL (f->paced), i);
      g_autoptr(GObject) source = g_list_model_get_item (G_LIST_MODEL (f->store), i);

      g_assert_true (shown == source);
      g_assert_true (shown == g_ptr_array_index (f->mirror, i));
    }
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (f->paced), n));
}

static GObject *
item_new (void)
{
  return G_OBJECT (g_simple_action_new ("x", NULL));
}

static void
append (Fixture *f)
{
  g_autoptr(GObject) item = item_new ();

  g_list_store_append (f->store, item);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->store = g_list_store_new (G_TYPE_OBJECT);
  for (guint i = 0; i < 5; i++)
    append (f);
  f->paced = confab_paced_list_model_new (G_LIST_MODEL (f->store), INTERVAL_MS);
  f->mirror = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < 5; i++)
    g_ptr_array_add (f->mirror, g_list_model_get_item (G_LIST_MODEL (f->store), i));
  g_signal_connect (f->paced, "items-changed", G_CALLBACK (on_paced_changed), f);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->paced);
  g_clear_object (&f->store);
  g_clear_pointer (&f->mirror, g_ptr_array_unref);
}

/* Iterates the main context until nothing is held back, or fails at the deadline. */
static void
wait_for_nothing_held (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;

  while (confab_paced_list_model_get_n_held (f->paced) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
test_first_append_shows_at_once (Fixture       *f,
                                 gconstpointer  data)
{
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->paced)), ==, 5);
  append (f);
  g_assert_cmpuint (f->n_changes, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->paced)), ==, 6);
  assert_consistent (f);
}

static void
test_burst_is_one_change (Fixture       *f,
                          gconstpointer  data)
{
  append (f);
  for (guint i = 0; i < 10; i++)
    append (f);
  /* Held back: the first one was shown a moment ago. */
  g_assert_cmpuint (f->n_changes, ==, 1);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 10);
  assert_consistent (f);

  wait_for_nothing_held (f);
  g_assert_cmpuint (f->n_changes, ==, 2);
  assert_consistent (f);
}

static void
test_changes_within_shown_pass_at_once (Fixture       *f,
                                        gconstpointer  data)
{
  g_autoptr(GObject) older = item_new ();

  append (f);
  append (f);
  append (f);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 2);

  /* Older history at the top, a removal in the middle: passed on, the tail still held. */
  g_list_store_insert (f->store, 0, older);
  g_assert_cmpuint (f->n_changes, ==, 2);
  assert_consistent (f);
  g_list_store_remove (f->store, 3);
  g_assert_cmpuint (f->n_changes, ==, 3);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 2);
  assert_consistent (f);

  wait_for_nothing_held (f);
  assert_consistent (f);
}

static void
test_change_across_the_held_tail (Fixture       *f,
                                  gconstpointer  data)
{
  GObject *items[3];
  guint n;

  append (f);
  append (f);
  append (f);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 2);

  /* Replace the last shown item and the held ones in one splice. */
  n = g_list_model_get_n_items (G_LIST_MODEL (f->store));
  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    items[i] = item_new ();
  g_list_store_splice (f->store, n - 3, 3, (gpointer *) items, G_N_ELEMENTS (items));
  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    g_object_unref (items[i]);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 0);
  assert_consistent (f);

  /* Only inside the held tail: nothing shown changes. */
  append (f);
  append (f);
  append (f);
  n = f->n_changes;
  g_list_store_remove (f->store, g_list_model_get_n_items (G_LIST_MODEL (f->store)) - 1);
  g_assert_cmpuint (f->n_changes, ==, n);
  assert_consistent (f);
  wait_for_nothing_held (f);
  assert_consistent (f);
}

static void
test_flush (Fixture       *f,
            gconstpointer  data)
{
  append (f);
  append (f);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 1);
  confab_paced_list_model_flush (f->paced);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 0);
  assert_consistent (f);
  /* And the next append shows at once, though the last was a moment ago. */
  append (f);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 0);
  assert_consistent (f);
}

static void
test_no_timer_when_quiet (Fixture       *f,
                          gconstpointer  data)
{
  append (f);
  /* Nothing held: no source is left to wake the main loop. */
  g_assert_false (g_main_context_pending (NULL));
  g_assert_cmpuint (confab_paced_list_model_get_n_held (f->paced), ==, 0);
}

static void
test_disposed_while_holding (void)
{
  g_autoptr(GListStore) store = g_list_store_new (G_TYPE_OBJECT);
  ConfabPacedListModel *paced = confab_paced_list_model_new (G_LIST_MODEL (store), INTERVAL_MS);
  g_autoptr(GObject) a = item_new ();
  g_autoptr(GObject) b = item_new ();

  g_list_store_append (store, a);
  g_list_store_append (store, b);
  g_assert_cmpuint (confab_paced_list_model_get_n_held (paced), ==, 1);
  g_object_unref (paced);
  /* Its timer went with it; the store can change on. */
  g_list_store_append (store, a);
  g_assert_false (g_main_context_pending (NULL));
}

static gboolean
count_call (gpointer user_data)
{
  guint *calls = user_data;

  (*calls)++;
  return G_SOURCE_REMOVE;
}

/* Two things paced a moment apart are due on the same beat: one main-loop iteration
 * runs both (the window then lays out and paints once for both). */
static void
test_pace_shares_the_beat (void)
{
  guint a = 0, b = 0;
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;

  confab_pace_add (INTERVAL_MS, count_call, &a);
  confab_pace_add (INTERVAL_MS, count_call, &b);
  while (a == 0 && b == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (a, ==, 1);
  g_assert_cmpuint (b, ==, 1);
  g_assert_false (g_main_context_pending (NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/confab/paced-list-model/first-append-shows-at-once", Fixture, NULL,
              fixture_set_up, test_first_append_shows_at_once, fixture_tear_down);
  g_test_add ("/confab/paced-list-model/burst-is-one-change", Fixture, NULL,
              fixture_set_up, test_burst_is_one_change, fixture_tear_down);
  g_test_add ("/confab/paced-list-model/changes-within-shown-pass-at-once", Fixture, NULL,
              fixture_set_up, test_changes_within_shown_pass_at_once, fixture_tear_down);
  g_test_add ("/confab/paced-list-model/change-across-the-held-tail", Fixture, NULL,
              fixture_set_up, test_change_across_the_held_tail, fixture_tear_down);
  g_test_add ("/confab/paced-list-model/flush", Fixture, NULL,
              fixture_set_up, test_flush, fixture_tear_down);
  g_test_add ("/confab/paced-list-model/no-timer-when-quiet", Fixture, NULL,
              fixture_set_up, test_no_timer_when_quiet, fixture_tear_down);
  g_test_add_func ("/confab/paced-list-model/disposed-while-holding", test_disposed_while_holding);
  g_test_add_func ("/confab/pace/shares-the-beat", test_pace_shares_the_beat);

  return g_test_run ();
}
