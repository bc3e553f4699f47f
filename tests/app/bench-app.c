/* bench-app.c: the real ConfabApplication with a whole channel's history loaded, for the
 * memory, CPU and wake-up budgets (tests/app/bench-budgets.py)
 *
 * `confab-bench-app URL USER` signs in to the --demo sandbox at URL as USER exactly as
 * `confab --sandbox URL --as USER` does, opens messaging:general, then loads older pages
 * (what scrolling to the top asks for) until the first message, shows the newest again,
 * prints "READY <messages>" on standard output and runs until SIGTERM or SIGINT.
 *
 * SIGUSR1 scrolls the conversation from the newest message to the oldest, one page per
 * frame (a fast fling: every frame binds a whole page of rows it has not shown yet), and
 * prints "SCROLLED frames=N p50_us=… p95_us=… max_us=… over_16ms=… px=… seconds=…": the
 * time each frame took from the frame clock's update to the end of its paint.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>

#include "confab-application.h"
#include "confab-conversation-view.h"
#include "confab-window.h"

#define CHANNEL "messaging:general"

typedef struct
{
  ConfabApplication *app;
  GMainLoop         *loop;
  guint              poll_id;
  guint              pages;
  gint64             started;

  /* The scroll run (SIGUSR1). */
  GtkWidget         *list;
  GdkFrameClock     *frame_clock;
  GArray            *frame_us;
  gint64             frame_begin;
  gint64             scroll_started;
  double             scrolled_px;
  guint              tick_id;
  gulong             update_id;
  gulong             after_paint_id;
} Bench;

static void load_older (Bench *bench);

static GtkWidget *
find_widget (GtkWidget *root,
             GType      type)
{
  if (root == NULL || g_type_is_a (G_OBJECT_TYPE (root), type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static ConfabChannel *
channel (Bench *bench)
{
  ConfabSession *session = confab_application_get_session (bench->app);

  return session != NULL ? confab_chat_store_lookup_channel (confab_session_get_store (session), CHANNEL) : NULL;
}

static void
ready (Bench *bench)
{
  GtkWindow *window = confab_application_get_main_window (bench->app);
  GtkWidget *view = find_widget (GTK_WIDGET (window), CONFAB_TYPE_CONVERSATION_VIEW);
  GtkWidget *list = find_widget (view, GTK_TYPE_LIST_VIEW);

  if (list != NULL)
    {
      GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (list));

      gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
    }
  printf ("READY %u messages, %u pages, %" G_GINT64_FORMAT " ms\n",
          g_list_model_get_n_items (confab_channel_get_messages (channel (bench))), bench->pages,
          (g_get_monotonic_time () - bench->started) / 1000);
  fflush (stdout);
}

static void
on_older_loaded (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Bench *bench = user_data;
  g_autoptr(GError) error = NULL;

  if (!confab_chat_store_load_older_finish (CONFAB_CHAT_STORE (source), result, &error))
    g_printerr ("bench-app: loading older messages: %s\n", error->message);
  bench->pages++;
  load_older (bench);
}

static void
load_older (Bench *bench)
{
  ConfabSession *session = confab_application_get_session (bench->app);

  if (!confab_channel_get_has_more_history (channel (bench)) || bench->pages >= 1000)
    {
      ready (bench);
      return;
    }
  confab_chat_store_load_older_async (confab_session_get_store (session), CHANNEL, NULL, on_older_loaded, bench);
}

/* Polled every 100 ms until signed in, connected and the channel is there. */
static gboolean
poll_cb (gpointer user_data)
{
  Bench *bench = user_data;
  ConfabSession *session = confab_application_get_session (bench->app);

  if (session == NULL ||
      confab_connection_manager_get_state (confab_session_get_manager (session)) != CONFAB_CONNECTION_STATE_CONNECTED ||
      channel (bench) == NULL)
    return G_SOURCE_CONTINUE;

  bench->poll_id = 0;
  confab_window_open_channel (CONFAB_WINDOW (confab_application_get_main_window (bench->app)), CHANNEL);
  load_older (bench);
  return G_SOURCE_REMOVE;
}

/* Scrolling ------------------------------------------------------------------------------ */

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static gint64
percentile (GArray *sorted,
            guint   p)
{
  guint rank;

  if (sorted->len == 0)
    return 0;
  /* Nearest rank, as connbench.py. */
  rank = (sorted->len * p + 99) / 100;
  return g_array_index (sorted, gint64, MAX (rank, 1) - 1);
}

static void
on_frame_update (GdkFrameClock *clock,
                 Bench         *bench)
{
  bench->frame_begin = g_get_monotonic_time ();
}

static void
on_frame_after_paint (GdkFrameClock *clock,
                      Bench         *bench)
{
  gint64 took;

  if (bench->frame_begin == 0)
    return;
  took = g_get_monotonic_time () - bench->frame_begin;
  g_array_append_val (bench->frame_us, took);
  bench->frame_begin = 0;
}

static void
scroll_finish (Bench *bench)
{
  guint over = 0;
  double seconds = (g_get_monotonic_time () - bench->scroll_started) / 1e6;

  g_clear_signal_handler (&bench->update_id, bench->frame_clock);
  g_clear_signal_handler (&bench->after_paint_id, bench->frame_clock);
  g_array_sort (bench->frame_us, compare_gint64);
  for (guint i = 0; i < bench->frame_us->len; i++)
    over += g_array_index (bench->frame_us, gint64, i) > 16667;
  printf ("SCROLLED frames=%u p50_us=%" G_GINT64_FORMAT " p95_us=%" G_GINT64_FORMAT " p99_us=%" G_GINT64_FORMAT
          " max_us=%" G_GINT64_FORMAT " over_16ms=%u px=%.0f seconds=%.1f\n",
          bench->frame_us->len, percentile (bench->frame_us, 50), percentile (bench->frame_us, 95),
          percentile (bench->frame_us, 99),
          bench->frame_us->len > 0 ? g_array_index (bench->frame_us, gint64, bench->frame_us->len - 1) : 0,
          over, bench->scrolled_px, seconds);
  fflush (stdout);
  g_clear_pointer (&bench->frame_us, g_array_unref);
}

static gboolean
scroll_tick (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       user_data)
{
  Bench *bench = user_data;
  GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (widget));
  double value = gtk_adjustment_get_value (adjustment);
  double lower = gtk_adjustment_get_lower (adjustment);

  if (value <= lower)
    {
      bench->tick_id = 0;
      scroll_finish (bench);
      return G_SOURCE_REMOVE;
    }
  gtk_adjustment_set_value (adjustment, MAX (lower, value - gtk_adjustment_get_page_size (adjustment)));
  bench->scrolled_px += value - gtk_adjustment_get_value (adjustment);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_scroll_request (gpointer user_data)
{
  Bench *bench = user_data;
  GtkWindow *window = confab_application_get_main_window (bench->app);
  GtkWidget *view = find_widget (GTK_WIDGET (window), CONFAB_TYPE_CONVERSATION_VIEW);

  bench->list = find_widget (view, GTK_TYPE_LIST_VIEW);
  if (bench->list == NULL || bench->tick_id != 0)
    {
      printf ("SCROLLED error=%s\n", bench->list == NULL ? "no-list" : "busy");
      fflush (stdout);
      return G_SOURCE_CONTINUE;
    }
  bench->frame_clock = gtk_widget_get_frame_clock (bench->list);
  bench->frame_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  bench->frame_begin = 0;
  bench->scrolled_px = 0;
  bench->scroll_started = g_get_monotonic_time ();
  bench->update_id = g_signal_connect (bench->frame_clock, "update", G_CALLBACK (on_frame_update), bench);
  bench->after_paint_id = g_signal_connect (bench->frame_clock, "after-paint", G_CALLBACK (on_frame_after_paint), bench);
  bench->tick_id = gtk_widget_add_tick_callback (bench->list, scroll_tick, bench, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  Bench *bench = user_data;

  g_main_loop_quit (bench->loop);
  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(ConfabAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  Bench bench = { 0 };

  if (argc != 3)
    {
      g_printerr ("usage: %s URL USER\n", argv[0]);
      return 2;
    }

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  bench.started = g_get_monotonic_time ();
  bench.app = confab_application_new ();
  if (confab_application_get_settings (bench.app) == NULL ||
      !g_application_register (G_APPLICATION (bench.app), NULL, &error))
    {
      g_printerr ("bench-app: cannot start: %s\n", error != NULL ? error->message : "no settings schema");
      return 1;
    }
  g_application_activate (G_APPLICATION (bench.app));

  account = confab_account_new (CONFAB_ACCOUNT_KIND_DEMO, argv[1], NULL, argv[2], &error);
  if (account == NULL)
    {
      g_printerr ("bench-app: %s\n", error->message);
      return 2;
    }
  confab_application_sign_in (bench.app, account, NULL);

  bench.loop = g_main_loop_new (NULL, FALSE);
  bench.poll_id = g_timeout_add (100, poll_cb, &bench);
  g_unix_signal_add (SIGTERM, on_signal, &bench);
  g_unix_signal_add (SIGINT, on_signal, &bench);
  g_unix_signal_add (SIGUSR1, on_scroll_request, &bench);
  g_main_loop_run (bench.loop);

  g_clear_handle_id (&bench.poll_id, g_source_remove);
  g_main_loop_unref (bench.loop);
  return 0;
}
