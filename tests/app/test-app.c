/* test-app.c: the desktop app in-process against the sandbox: a message sent offline,
 * the copied report, bad input, a huge backlog, a corrupt cache
 *
 * Each case runs in its own process (g_test_trap_subprocess), since a process has one
 * GApplication; all share this binary's private session (tests/app/run-in-session.sh).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "app-test-app.h"
#include "confab-conversation-view.h"
#include "confab-history-cache.h"
#include "confab-widgets.h"

#define CHILD_TIMEOUT_US (180 * G_USEC_PER_SEC)
#define SANDBOX_URL_ENV  "CONFAB_TEST_SANDBOX_URL"

/* The longest main-loop stall the backlog test tolerates: a freeze the user would see
 * (the machine is shared, so not much less). */
#if defined(__SANITIZE_ADDRESS__)
/* Printed, not checked: with full malloc stacks every frame is seconds long. */
#define MAX_STALL_MS G_MAXINT
/* With full malloc stacks the sanitizer build is ten times slower or more (filling the
 * sandbox, drawing each page): it checks memory errors on a smaller backlog. */
#define BACKLOG_MESSAGES "1000"
#define DEFAULT_BACKLOG_PAGES 1
#define PAGE_DEADLINE_MS 120000
#else
#define PAGE_DEADLINE_MS APP_TEST_DEADLINE_MS
#define MAX_STALL_MS 2000
#define BACKLOG_MESSAGES "10000"
#define DEFAULT_BACKLOG_PAGES 30
#endif
/* DEFAULT_BACKLOG_PAGES: pages of 100 older messages the backlog test loads (scrolling
 * up); the whole 10 000 is 100 pages, which takes this app 20-35 s here: set
 * CONFAB_TEST_BACKLOG_PAGES=100 for that. */

static void
run_in_child (const char *path)
{
  g_test_trap_subprocess (path, CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

#define CHILD_TEST(name, body)          \
  static void                           \
  name (void)                           \
  {                                     \
    if (g_test_subprocess ())           \
      {                                 \
        body ();                        \
        return;                         \
      }                                 \
    run_in_child (NULL);                \
  }

/* A message sent while the server is down ---------------------------------------------- */

static gboolean
message_sent (gpointer user_data)
{
  return confab_message_get_status (user_data) == CONFAB_MESSAGE_STATUS_SENT;
}

static gboolean
outbox_empty (gpointer user_data)
{
  return confab_outbox_get_n_pending (user_data) == 0;
}

static void
offline_send (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  ConfabApplication *app = app_test_app_start (sandbox->url, "alice");
  ConfabSession *session = app_test_app_wait_connected (app);
  ConfabConnectionManager *manager = confab_session_get_manager (session);
  ConfabChannel *channel = app_test_app_open_channel (app, APP_TEST_CHANNEL);
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *text = g_strdup_printf ("written while offline %s", uuid);
  ConfabMessage *message;
  guint count = 0;

  app_test_sandbox_kill (sandbox);
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, APP_TEST_DEADLINE_MS));

  /* Shown at once, as queued: kept in the outbox on disk. */
  app_test_app_type_and_send (app, text);
  message = app_test_find_message (channel, text, &count);
  g_assert_nonnull (message);
  g_assert_cmpuint (count, ==, 1);
  g_assert_true (confab_message_get_is_own (message));
  g_assert_cmpint (confab_message_get_status (message), ==, CONFAB_MESSAGE_STATUS_QUEUED);
  g_assert_cmpuint (confab_outbox_get_n_pending (confab_session_get_outbox (session)), ==, 1);
  g_assert_true (app_test_wait_text (GTK_WIDGET (app_test_app_window (app)),
                                     "Queued: sends when the connection is back"));

  /* The server returns on the same port with the same data; the user asks to retry. */
  app_test_sandbox_restart (sandbox);
  g_action_group_activate_action (G_ACTION_GROUP (app), "retry-now", NULL);
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  g_assert_true (core_test_wait_until (message_sent, message, APP_TEST_DEADLINE_MS));
  /* The server's copy can come back before the send's own answer empties the outbox. */
  g_assert_true (core_test_wait_until (outbox_empty, confab_session_get_outbox (session), APP_TEST_DEADLINE_MS));

  /* Exactly once: on the server, as another user reads it, and in the window. */
  g_assert_cmpuint (app_test_count_on_server (sandbox, "bob", text), ==, 1);
  app_test_find_message (channel, text, &count);
  g_assert_cmpuint (count, ==, 1);
}

CHILD_TEST (test_offline_send, offline_send)

/* The copied report is anonymous --------------------------------------------------------- */

static void
assert_no_identity (const char *report,
                    const char *token)
{
  g_autofree char *lower = g_utf8_strdown (report, -1);
  const char *forbidden[] = {
    "alice", "bob", "carol", "martin", "novak", "ivanova", "@", "eyj", APP_TEST_API_SECRET, NULL,
  };

  for (guint i = 0; forbidden[i] != NULL; i++)
    {
      g_autofree char *needle = g_utf8_strdown (forbidden[i], -1);
      const char *hit = strstr (lower, needle);

      if (hit != NULL)
        g_printerr ("# the report holds \"%s\" at: %.60s\n", forbidden[i], report + (hit - lower));
      g_assert_null (hit);
    }
  g_assert_null (strstr (report, token));
}

static gboolean
window_inactive (gpointer user_data)
{
  return !gtk_window_is_active (user_data);
}

static void
copied_report (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  ConfabApplication *app = app_test_app_start (sandbox->url, "alice");
  GtkWidget *window = NULL;
  GtkWidget *details = NULL;
  g_autofree char *report = NULL;
  g_autoptr(GList) toplevels = NULL;

  app_test_app_open_channel (app, APP_TEST_CHANNEL);
  window = GTK_WIDGET (app_test_app_window (app));

  /* Menu → Connection Details opens the live timeline in a window of its own, which
   * takes the focus from the main window. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "connection-details", NULL);
  toplevels = gtk_window_list_toplevels ();
  for (GList *l = toplevels; l != NULL; l = l->next)
    if (CONFAB_IS_CONNECTION_DETAILS_DIALOG (l->data))
      details = l->data;
  g_assert_nonnull (details);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (details)) == GTK_WINDOW (window));
  g_assert_true (core_test_wait_until (window_inactive, window, APP_TEST_DEADLINE_MS));

  /* Bob writes, so other people's ids and names are known to the app too; the main window
   * is not active, so it is also a notification. */
  g_free (app_test_post_message (sandbox, "bob", "hello from bob"));
  g_assert_true (core_test_wait_count (&app_test_notifications ()->len, 1, APP_TEST_DEADLINE_MS));
  g_assert_cmpstr (g_ptr_array_index (app_test_notifications (), 0), ==, "Bob Novak in General\nhello from bob");

  /* Menu → Copy Diagnostics Report: read back the way a paste would. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "copy-diagnostics", NULL);
  g_assert_true (app_test_wait_text (window, "Diagnostics report copied. It holds no names, user ids, emails or keys."));
  report = app_test_read_clipboard (gtk_widget_get_clipboard (window));
  g_assert_nonnull (report);
  g_assert_true (g_str_has_prefix (report, "Confab diagnostics report"));
  g_assert_nonnull (strstr (report, "User: u_"));
  g_assert_nonnull (strstr (report, "== Connection attempts"));
  assert_no_identity (report, token);
}

CHILD_TEST (test_copied_report, copied_report)

/* Bad input ------------------------------------------------------------------------------ */

static void
post_event (AppTestSandbox *sandbox,
            const char     *event_json)
{
  g_autofree char *body = g_strdup_printf ("{\"event\":%s}", event_json);
  g_autoptr(JsonObject) answer = NULL;
  guint status = 0;

  answer = app_test_sandbox_rest (sandbox, "bob", "POST", "/channels/messaging/general/event", body, &status);
  if (status != 201)
    g_printerr ("# event %s answered HTTP %u\n", event_json, status);
  g_assert_cmpuint (status, ==, 201);
}

typedef struct
{
  ConfabChannel *channel;
  const char    *text;
} MessageWait;

static gboolean
message_arrived (gpointer user_data)
{
  MessageWait *wait = user_data;

  return app_test_find_message (wait->channel, wait->text, NULL) != NULL;
}

static void
wait_message (ConfabChannel *channel,
              const char    *text)
{
  MessageWait wait = { channel, text };

  g_assert_true (core_test_wait_until (message_arrived, &wait, APP_TEST_DEADLINE_MS));
}

static GtkWidget *
find_label (GtkWidget  *root,
            const char *text)
{
  GtkWidget *found = app_test_find_by_text (root, text);

  g_assert_true (found == NULL || GTK_IS_LABEL (found));
  return found;
}

static void
bad_input (void)
{
  const char *texts[] = {
    "<b>not bold</b>",
    "<span foreground=\"red\">not red</span> & <i>not italic &amp; not an entity",
    "control \x01\x02\x07\x1b[31m characters\x7f and a\ttab",
    "مرحبا بالعالم — שלום עולם — \u202Eevil override\u202C — mixed العربية with English",
    "emoji 👩‍👩‍👧‍👦 🎉 🇷🇺 ✔️ 🧑🏽‍💻",
    NULL,
  };
  const char *events[] = {
    "{\"type\":\"confab.unknown.kind\",\"payload\":{\"deep\":[1,2,{\"x\":null}]}}",
    "{\"type\":\"message.new\"}",
    "{\"type\":\"message.new\",\"message\":\"not an object\"}",
    "{\"type\":\"message.new\",\"message\":{\"id\":42,\"text\":[\"x\"],\"created_at\":\"yesterday\"}}",
    "{\"type\":\"message.new\",\"message\":{\"text\":\"no id\"}}",
    "{\"type\":\"message.updated\",\"message\":{\"id\":\"no-such-message\",\"text\":\"edited\"}}",
    "{\"type\":\"message.deleted\",\"message\":{\"id\":null}}",
    "{\"type\":\"typing.start\",\"parent_id\":{\"not\":\"a string\"}}",
    "{\"type\":\"user.presence.changed\",\"online\":\"maybe\"}",
    "{\"type\":\"channel.updated\",\"channel\":42}",
    "{\"type\":\"message.read\",\"last_read_message_id\":{\"a\":1}}",
    "{\"type\":\"notification.message_new\",\"message\":[]}",
    "{\"type\":\"member.added\",\"member\":\"nobody\"}",
    NULL,
  };
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  ConfabApplication *app = app_test_app_start (sandbox->url, "alice");
  ConfabChannel *channel = app_test_app_open_channel (app, APP_TEST_CHANNEL);
  GtkWidget *window = GTK_WIDGET (app_test_app_window (app));
  g_autoptr(GString) longest = g_string_new (NULL);
  g_autoptr(GString) too_long = g_string_new (NULL);
  g_autofree char *after = NULL;
  g_autofree char *toast = NULL;
  GtkWidget *label;
  guint count = 0;

  /* The longest text the server accepts (5 000 characters), from bob, first: it pushes
   * everything before it out of view. */
  while (g_utf8_strlen (longest->str, -1) < 4990)
    g_string_append (longest, "long line ");
  g_free (app_test_post_message (sandbox, "bob", longest->str));
  wait_message (channel, longest->str);

  /* Markup, control characters, right-to-left text and emoji, from bob and from alice. */
  for (guint i = G_N_ELEMENTS (texts) - 1; i-- > 0;)
    {
      g_autofree char *mine = g_strdup_printf ("mine: %s", texts[i]);

      g_free (app_test_post_message (sandbox, "bob", texts[i]));
      app_test_app_type_and_send (app, mine);
      wait_message (channel, texts[i]);
      wait_message (channel, mine);
    }

  /* Shown as typed: never parsed as markup (a parsed label would not hold the tags). */
  label = NULL;
  {
    gboolean shown = app_test_wait_text (window, texts[0]);

    g_assert_true (shown);
    label = find_label (window, texts[0]);
  }
  g_assert_nonnull (label);
  g_assert_false (gtk_label_get_use_markup (GTK_LABEL (label)));
  g_assert_true (app_test_wait_text (window, texts[1]));
  g_assert_true (app_test_wait_text (window, "mine: <b>not bold</b>"));

  /* Events the app does not know, or with fields missing or of the wrong type. */
  for (guint i = 0; events[i] != NULL; i++)
    post_event (sandbox, events[i]);

  /* Still alive and still listening: bob's next message arrives after all of them. */
  after = app_test_post_message (sandbox, "bob", "after the bad events");
  wait_message (channel, "after the bad events");
  g_assert_true (gtk_widget_get_visible (window));
  g_assert_cmpint (confab_connection_manager_get_state (confab_session_get_manager (confab_application_get_session (app))),
                   ==, CONFAB_CONNECTION_STATE_CONNECTED);

  /* 50 KB typed by the user: refused with a clear message; nothing queued. */
  while (too_long->len < 50 * 1024)
    g_string_append (too_long, "fifty kilobytes ");
  app_test_app_type_and_send (app, too_long->str);
  toast = g_strdup_printf ("The message is too long to send: %ld characters, at most %d",
                           g_utf8_strlen (too_long->str, -1), CONFAB_OUTBOX_MAX_TEXT_CHARS);
  g_assert_true (app_test_wait_text (window, toast));
  g_assert_null (app_test_find_message (channel, too_long->str, NULL));
  g_assert_cmpuint (confab_outbox_get_n_pending (confab_session_get_outbox (confab_application_get_session (app))), ==, 0);

  /* Everything alice sent arrived once, as typed. */
  for (guint i = 0; texts[i] != NULL; i++)
    {
      g_autofree char *mine = g_strdup_printf ("mine: %s", texts[i]);

      app_test_find_message (channel, mine, &count);
      g_assert_cmpuint (count, ==, 1);
    }
}

CHILD_TEST (test_bad_input, bad_input)

/* A huge backlog ---------------------------------------------------------------------------- */

typedef struct
{
  gint64 last;
  gint64 longest;
  guint  ticks;
} StallProbe;

#define PROBE_INTERVAL_MS 10

static gboolean
probe_tick (gpointer user_data)
{
  StallProbe *probe = user_data;
  gint64 now = g_get_monotonic_time ();

  if (probe->last != 0)
    probe->longest = MAX (probe->longest, now - probe->last);
  probe->last = now;
  probe->ticks++;
  return G_SOURCE_CONTINUE;
}

typedef struct
{
  gboolean done;
  gboolean ok;
} LoadOlder;

static void
on_older_loaded (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  LoadOlder *load = user_data;
  g_autoptr(GError) error = NULL;

  load->ok = confab_chat_store_load_older_finish (CONFAB_CHAT_STORE (source), result, &error);
  if (error != NULL)
    g_printerr ("# loading older messages: %s\n", error->message);
  load->done = TRUE;
}

static void
on_after_paint (GdkFrameClock *clock,
                guint         *painted)
{
  (*painted)++;
}

/* Lets @widget's window draw @n frames (seconds each with full malloc stacks). */
static void
wait_frames (GtkWidget *widget,
             guint      n)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);
  guint painted = 0;
  gulong id;

  g_assert_nonnull (clock);
  id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &painted);
  gtk_widget_queue_draw (widget);
  g_assert_true (core_test_wait_count (&painted, n, PAGE_DEADLINE_MS));
  g_signal_handler_disconnect (clock, id);
}

static void
huge_backlog (void)
{
  const char *extra[] = { "--demo-messages", BACKLOG_MESSAGES, NULL };
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start_in_memory (extra);
  StallProbe probe = { 0 };
  guint probe_id = g_timeout_add (PROBE_INTERVAL_MS, probe_tick, &probe);
  gint64 started = g_get_monotonic_time ();
  ConfabApplication *app = app_test_app_start (sandbox->url, "alice");
  ConfabChannel *channel = app_test_app_open_channel (app, APP_TEST_CHANNEL);
  ConfabChatStore *store = confab_session_get_store (confab_application_get_session (app));
  GListModel *messages = confab_channel_get_messages (channel);
  GtkWidget *list = NULL;
  GtkAdjustment *adjustment;
  gint64 opened = g_get_monotonic_time ();
  gint64 first_stall;
  gint64 paging_stall;
  gint64 scroll_top_stall;
  gint64 scroll_bottom_stall;
  guint pages = 0;
  guint max_pages = DEFAULT_BACKLOG_PAGES;

  first_stall = probe.longest;
  probe.longest = 0;
  if (g_getenv ("CONFAB_TEST_BACKLOG_PAGES") != NULL)
    max_pages = (guint) g_ascii_strtoull (g_getenv ("CONFAB_TEST_BACKLOG_PAGES"), NULL, 10);
  /* Scrolling up, page by page (what the view asks for at the top), towards the first
   * message of the 10 000. */
  while (confab_channel_get_has_more_history (channel) && pages < max_pages)
    {
      LoadOlder load = { 0 };

      confab_chat_store_load_older_async (store, APP_TEST_CHANNEL, NULL, on_older_loaded, &load);
      g_assert_true (core_test_wait_flag (&load.done, PAGE_DEADLINE_MS));
      g_assert_true (load.ok);
      pages++;
      if (pages % 20 == 0 || pages < 3)
        g_printerr ("# %u pages, %u messages, %" G_GINT64_FORMAT " ms\n", pages,
                    g_list_model_get_n_items (messages), (g_get_monotonic_time () - started) / 1000);
    }
  g_assert_cmpuint (g_list_model_get_n_items (messages), >=,
                    MIN (g_ascii_strtoull (BACKLOG_MESSAGES, NULL, 10), 25 + 100 * max_pages));

  /* The list shows them: scroll to the top and back to the bottom. */
  list = app_test_find_widget (app_test_find_widget (GTK_WIDGET (app_test_app_window (app)), CONFAB_TYPE_CONVERSATION_VIEW),
                               GTK_TYPE_LIST_VIEW);
  g_assert_nonnull (list);
  adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (list));
  paging_stall = probe.longest;
  probe.longest = 0;
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_lower (adjustment));
  wait_frames (list, 3);
  scroll_top_stall = probe.longest;
  probe.longest = 0;
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
  wait_frames (list, 3);

  g_source_remove (probe_id);
  scroll_bottom_stall = probe.longest;
  probe.longest = MAX (MAX (first_stall, paging_stall), MAX (scroll_top_stall, scroll_bottom_stall));
  g_printerr ("# %u messages in %u pages; channel open after %" G_GINT64_FORMAT " ms, pages loaded after %" G_GINT64_FORMAT
              " ms; longest main-loop stall %" G_GINT64_FORMAT " ms (until open %" G_GINT64_FORMAT " ms, paging %"
              G_GINT64_FORMAT " ms, scrolling to the top %" G_GINT64_FORMAT " ms, back down %" G_GINT64_FORMAT " ms)\n",
              g_list_model_get_n_items (messages), pages, (opened - started) / 1000,
              (g_get_monotonic_time () - started) / 1000, probe.longest / 1000 - PROBE_INTERVAL_MS,
              first_stall / 1000, paging_stall / 1000, scroll_top_stall / 1000, scroll_bottom_stall / 1000);
  g_assert_cmpint (probe.longest / 1000 - PROBE_INTERVAL_MS, <, MAX_STALL_MS);
}

CHILD_TEST (test_huge_backlog, huge_backlog)

/* A corrupt cache ------------------------------------------------------------------------------ */

static char *
cache_path_for (const char *base_url)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabAccount) account = confab_account_new (CONFAB_ACCOUNT_KIND_DEMO, base_url, NULL, "alice", &error);
  g_autofree char *state_dir = NULL;

  g_assert_no_error (error);
  state_dir = confab_account_dup_state_dir (account);
  return g_build_filename (state_dir, "cache", CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
}

static void
corrupt_cache_fill (void)
{
  ConfabApplication *app = NULL;
  ConfabSession *session = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_test_subprocess ())
    {
      g_test_skip ("a half of /confab/app/corrupt-cache, run by it");
      return;
    }

  app = app_test_app_start (g_getenv (SANDBOX_URL_ENV), "alice");
  session = app_test_app_wait_connected (app);
  path = cache_path_for (g_getenv (SANDBOX_URL_ENV));
  app_test_app_open_channel (app, APP_TEST_CHANNEL);
  g_assert_true (confab_chat_store_flush_cache (confab_session_get_store (session), &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  confab_session_stop (session);
}

static void
corrupt_cache_reopen (void)
{
  ConfabApplication *app = NULL;
  GtkWidget *window = NULL;
  ConfabSession *session = NULL;
  ConfabChannel *channel = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_test_subprocess ())
    {
      g_test_skip ("a half of /confab/app/corrupt-cache, run by it");
      return;
    }

  app = app_test_app_start (g_getenv (SANDBOX_URL_ENV), "alice");
  window = GTK_WIDGET (app_test_app_window (app));

  /* Told, not crashed; then loaded again from the server. */
  g_assert_true (app_test_wait_text (window, "The saved conversations could not be read; they were set aside and will be loaded again"));
  session = app_test_app_wait_connected (app);
  channel = app_test_app_open_channel (app, APP_TEST_CHANNEL);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (channel)), >, 0);
  g_assert_true (confab_chat_store_flush_cache (confab_session_get_store (session), &error));
  g_assert_no_error (error);
  confab_session_stop (session);
}

static void
test_corrupt_cache (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *path = cache_path_for (sandbox->url);
  g_autofree char *directory = g_path_get_dirname (path);
  g_autoptr(GString) garbage = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  guint set_aside = 0;

  g_setenv (SANDBOX_URL_ENV, sandbox->url, TRUE);
  run_in_child ("/confab/app/corrupt-cache-fill");

  /* Overwritten with something that is not a database at all. */
  while (garbage->len < 64 * 1024)
    g_string_append (garbage, "this is not an SQLite database \x01\x02\xff ");
  g_assert_true (g_file_set_contents (path, garbage->str, (gssize) garbage->len, &error));
  g_assert_no_error (error);
  for (const char *const *suffix = (const char *const[]) { "-wal", "-shm", NULL }; *suffix != NULL; suffix++)
    {
      g_autofree char *side = g_strconcat (path, *suffix, NULL);

      g_unlink (side);
    }

  run_in_child ("/confab/app/corrupt-cache-reopen");

  /* Set aside (kept, not deleted) and rebuilt. */
  dir = g_dir_open (directory, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, CONFAB_HISTORY_CACHE_FILE_NAME ".corrupt-"))
      {
        g_autofree char *aside = g_build_filename (directory, name, NULL);
        g_autofree char *contents = NULL;
        gsize length = 0;

        g_assert_true (g_file_get_contents (aside, &contents, &length, NULL));
        g_assert_cmpmem (contents, length, garbage->str, garbage->len);
        set_aside++;
      }
  g_assert_cmpuint (set_aside, ==, 1);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_unsetenv (SANDBOX_URL_ENV);
}

int
main (int   argc,
      char *argv[])
{
  app_test_init (&argc, &argv);

  g_test_add_func ("/confab/app/offline-send-delivered-once", test_offline_send);
  g_test_add_func ("/confab/app/copied-report-is-anonymous", test_copied_report);
  g_test_add_func ("/confab/app/survives-bad-input", test_bad_input);
  g_test_add_func ("/confab/app/huge-backlog-does-not-freeze", test_huge_backlog);
  g_test_add_func ("/confab/app/corrupt-cache", test_corrupt_cache);
  /* The two halves of /confab/app/corrupt-cache, each in its own process. */
  g_test_add_func ("/confab/app/corrupt-cache-fill", corrupt_cache_fill);
  g_test_add_func ("/confab/app/corrupt-cache-reopen", corrupt_cache_reopen);

  return g_test_run ();
}
