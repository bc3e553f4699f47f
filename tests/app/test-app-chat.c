/* test-app-chat.c: the real app against the sandbox: the conversation (keys, day
 * separators, typing, presence, reading, older history, notifications), the cache opened
 * offline, the menu's windows, signing out with unsent messages, and Russian
 *
 * Each case runs in its own process (g_test_trap_subprocess): a process has one
 * GApplication. All share this binary's private session (tests/app/run-in-session.sh),
 * so the keyring and the state directory outlive a case, as they outlive a run.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>

#include "app-test-app.h"
#include "confab-channel-row.h"
#include "confab-conversation-view.h"
#include "confab-message-row.h"
#include "confab-preferences-window.h"
#include "confab-widgets.h"

#define CHILD_TIMEOUT_US (120 * G_USEC_PER_SEC)
#define SANDBOX_URL_ENV  "CONFAB_TEST_SANDBOX_URL"
/* Starting the app (registering, building the window) and opening its cache, offline:
 * "instantly" on this shared machine; a sanitizer build is ten times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define CACHE_OPEN_US (20 * G_USEC_PER_SEC)
#else
#define CACHE_OPEN_US (2 * G_USEC_PER_SEC)
#endif

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

/* Waiting ---------------------------------------------------------------------------------- */

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

static gboolean
message_sent (gpointer user_data)
{
  MessageWait *wait = user_data;
  ConfabMessage *message = app_test_find_message (wait->channel, wait->text, NULL);

  return message != NULL && confab_message_get_status (message) == CONFAB_MESSAGE_STATUS_SENT;
}

static void
wait_sent (ConfabChannel *channel,
           const char    *text)
{
  MessageWait wait = { channel, text };

  g_assert_true (core_test_wait_until (message_sent, &wait, APP_TEST_DEADLINE_MS));
}

static gboolean
window_inactive (gpointer user_data)
{
  return !gtk_window_is_active (user_data);
}

static gboolean
window_ready (gpointer user_data)
{
  ConfabApplication *app = user_data;
  ConfabWindow *window = app_test_app_window (app);
  ConfabConversationView *view = CONFAB_CONVERSATION_VIEW (app_test_app_find (app, CONFAB_TYPE_CONVERSATION_VIEW));

  return gtk_window_is_active (GTK_WINDOW (window)) && confab_conversation_view_get_reading (view);
}

/* Before the child exits: every D-Bus reply already on its way (the keyring's, the
 * notification server's) is received and dispatched, so none is left half-delivered. */
static void
settle_dbus (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;

  g_assert_nonnull (bus);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetId", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_nonnull (reply);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Keys, as the X server delivers them (xdotool's XTEST), to the focused composer. */
static gboolean
press_keys (const char *keys)
{
  g_autofree char *xdotool = g_find_program_in_path ("xdotool");
  g_autoptr(GError) error = NULL;
  const char *argv[] = { NULL, "key", "--clearmodifiers", keys, NULL };
  int status = 0;

  if (xdotool == NULL)
    return FALSE;
  argv[0] = xdotool;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return TRUE;
}

/* Without xdotool: the composer's own key handler, as GTK would call it. */
static gboolean
emit_key (GtkWidget       *text_view,
          guint            keyval,
          GdkModifierType  state)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (text_view);
  gboolean handled = FALSE;

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_EVENT_CONTROLLER_KEY (controller))
        {
          g_signal_emit_by_name (controller, "key-pressed", keyval, 0, state, &handled);
          if (handled)
            break;
        }
    }
  return handled;
}

typedef struct
{
  ConfabComposer *composer;
  const char     *text;
} ComposerWait;

static gboolean
composer_holds (gpointer user_data)
{
  ComposerWait *wait = user_data;
  g_autofree char *text = confab_composer_dup_text (wait->composer);

  return g_strcmp0 (text, wait->text) == 0;
}

static void
write_at_end (ConfabComposer *composer,
              const char     *text)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (confab_composer_get_text_view (composer));
  GtkTextIter end;

  confab_composer_set_text (composer, text);
  gtk_text_buffer_get_end_iter (buffer, &end);
  gtk_text_buffer_place_cursor (buffer, &end);
}

typedef struct
{
  ConfabChannel *channel;
  guint          unread;
} UnreadWait;

static gboolean
unread_is (gpointer user_data)
{
  UnreadWait *wait = user_data;

  return confab_channel_get_unread_count (wait->channel) == wait->unread;
}

typedef struct
{
  ConfabChannel *channel;
  guint          online;
} OnlineWait;

static gboolean
online_is (gpointer user_data)
{
  OnlineWait *wait = user_data;

  return confab_channel_get_online_count (wait->channel) == wait->online;
}

typedef struct
{
  GtkLabel   *label;
  const char *prefix;  /* "" waits for an empty label */
} LabelWait;

static gboolean
label_starts_with (gpointer user_data)
{
  LabelWait *wait = user_data;
  const char *text = gtk_label_get_text (wait->label);

  if (*wait->prefix == '\0')
    return *text == '\0';
  return g_str_has_prefix (text, wait->prefix);
}

static ConfabChannelRow *
find_channel_row (GtkWidget     *root,
                  ConfabChannel *channel)
{
  if (root == NULL)
    return NULL;
  if (CONFAB_IS_CHANNEL_ROW (root) && confab_channel_row_get_channel (CONFAB_CHANNEL_ROW (root)) == channel)
    return CONFAB_CHANNEL_ROW (root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      ConfabChannelRow *found = find_channel_row (child, channel);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct
{
  GtkWidget     *window;
  ConfabChannel *channel;
  const char    *accessible;
} RowWait;

/* The sidebar row says what a screen reader hears: "General" or "General, 1 unread". */
static gboolean
row_says (gpointer user_data)
{
  RowWait *wait = user_data;
  ConfabChannelRow *row = find_channel_row (wait->window, wait->channel);
  g_autofree char *mismatch = NULL;

  if (row == NULL)
    return FALSE;
  mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, wait->accessible);
  return mismatch == NULL;
}

static gboolean
near_bottom (gpointer user_data)
{
  GtkAdjustment *adjustment = user_data;

  return gtk_adjustment_get_upper (adjustment) -
         (gtk_adjustment_get_value (adjustment) + gtk_adjustment_get_page_size (adjustment)) <= 1.0;
}

typedef struct
{
  GListModel *model;
  guint       more_than;
} CountWait;

static gboolean
more_items (gpointer user_data)
{
  CountWait *wait = user_data;

  return g_list_model_get_n_items (wait->model) > wait->more_than;
}

/* Scrolls to the top as a user would, again if a scroll to the newest message was still
 * due from the last one that arrived; TRUE once the view has let go of the bottom. */
static gboolean
scrolled_to_top (gpointer user_data)
{
  ConfabConversationView *view = user_data;
  GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (confab_conversation_view_get_list_view (view)));

  if (!confab_conversation_view_get_stick_to_bottom (view))
    return TRUE;
  gtk_adjustment_set_value (adjustment, 0);
  return !confab_conversation_view_get_stick_to_bottom (view);
}

/* Day separators: every row on screen shows one exactly where a new day starts, with
 * the day in words. Returns how many are shown. */
static guint
check_day_separators (GtkWidget     *root,
                      ConfabChannel *channel)
{
  guint shown = 0;

  if (CONFAB_IS_MESSAGE_ROW (root) && confab_message_row_get_message (CONFAB_MESSAGE_ROW (root)) != NULL)
    {
      ConfabMessage *message = confab_message_row_get_message (CONFAB_MESSAGE_ROW (root));
      GListModel *messages = confab_channel_get_messages (channel);
      guint position = GTK_INVALID_LIST_POSITION;

      for (guint i = 0; i < g_list_model_get_n_items (messages); i++)
        {
          g_autoptr(ConfabMessage) item = g_list_model_get_item (messages, i);

          if (item == message)
            position = i;
        }
      g_assert_cmpuint (position, !=, GTK_INVALID_LIST_POSITION);
      g_assert_cmpint (confab_message_row_get_show_date (CONFAB_MESSAGE_ROW (root)), ==,
                       confab_channel_starts_new_day (channel, position));
      if (confab_message_row_get_show_date (CONFAB_MESSAGE_ROW (root)))
        {
          g_autofree char *day = confab_message_row_format_day (confab_message_get_created_at (message),
                                                                g_get_real_time ());

          g_assert_nonnull (app_test_find_by_text (root, day));
          shown++;
        }
      return shown;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    shown += check_day_separators (child, channel);
  return shown;
}

/* The conversation --------------------------------------------------------------------------- */

static void
conversation (void)
{
  const char *extra[] = { "--demo-messages", "150", NULL };
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start_in_memory (extra);
  g_autofree char *bob_token = app_test_sandbox_token (sandbox, "bob");
  ConfabApplication *app = app_test_app_start (sandbox->url, "alice");
  ConfabChannel *channel = app_test_app_open_channel (app, APP_TEST_CHANNEL);
  ConfabSession *session = confab_application_get_session (app);
  ConfabChatStore *store = confab_session_get_store (session);
  GtkWidget *window = GTK_WIDGET (app_test_app_window (app));
  ConfabConversationView *view = CONFAB_CONVERSATION_VIEW (app_test_app_find (app, CONFAB_TYPE_CONVERSATION_VIEW));
  ConfabComposer *composer = confab_conversation_view_get_composer (view);
  GtkWidget *text_view = GTK_WIDGET (confab_composer_get_text_view (composer));
  GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (confab_conversation_view_get_list_view (view)));
  GListModel *messages = confab_channel_get_messages (channel);
  g_autoptr(ConfabConnectionManager) bob = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *members = NULL;
  g_autofree char *sent = NULL;
  GPtrArray *notifications = app_test_notifications ();
  ComposerWait composer_wait = { composer, NULL };
  UnreadWait unread = { channel, 0 };
  OnlineWait online = { channel, 0 };
  LabelWait typing = { confab_conversation_view_get_typing_label (view), NULL };
  RowWait row = { window, channel, "General" };
  CountWait older = { messages, 0 };
  guint n_notifications;
  gboolean real_keys;

  /* Open, in the active window, at the newest message: being read. */
  g_assert_true (core_test_wait_until (window_ready, app, APP_TEST_DEADLINE_MS));
  g_assert_cmpstr (confab_chat_store_get_reading_channel (store), ==, APP_TEST_CHANNEL);
  g_assert_true (core_test_wait_until (near_bottom, adjustment, APP_TEST_DEADLINE_MS));
  g_assert_true (gtk_widget_has_focus (text_view));

  /* Enter sends; Shift+Enter adds a line. */
  write_at_end (composer, "line one");
  real_keys = press_keys ("shift+Return");
  if (!real_keys)
    {
      g_test_message ("xdotool is not installed: calling the composer's key handler instead");
      g_assert_false (emit_key (text_view, GDK_KEY_Return, GDK_SHIFT_MASK));
      g_signal_emit_by_name (text_view, "insert-at-cursor", "\n");
    }
  composer_wait.text = "line one\n";
  g_assert_true (core_test_wait_until (composer_holds, &composer_wait, APP_TEST_DEADLINE_MS));
  g_assert_cmpuint (confab_outbox_get_n_pending (confab_session_get_outbox (session)), ==, 0);
  gtk_text_buffer_insert_at_cursor (gtk_text_view_get_buffer (GTK_TEXT_VIEW (text_view)), "line two", -1);
  if (real_keys)
    g_assert_true (press_keys ("Return"));
  else
    g_assert_true (emit_key (text_view, GDK_KEY_Return, 0));
  wait_sent (channel, "line one\nline two");
  composer_wait.text = "";
  g_assert_true (core_test_wait_until (composer_holds, &composer_wait, APP_TEST_DEADLINE_MS));
  g_assert_cmpuint (app_test_count_on_server (sandbox, "bob", "line one\nline two"), ==, 1);
  g_assert_true (app_test_wait_text (window, "line one\nline two"));

  /* Day separators where a day starts, in words. */
  g_assert_cmpuint (check_day_separators (GTK_WIDGET (confab_conversation_view_get_list_view (view)), channel), >=, 1);

  /* Who is typing. */
  json_object_unref (app_test_sandbox_rest (sandbox, "bob", "POST", "/channels/messaging/general/event",
                                            "{\"event\":{\"type\":\"typing.start\"}}", NULL));
  typing.prefix = "Bob Novak";
  g_assert_true (core_test_wait_until (label_starts_with, &typing, APP_TEST_DEADLINE_MS));
  g_test_message ("typing line: %s", gtk_label_get_text (typing.label));
  g_assert_true (gtk_widget_is_visible (GTK_WIDGET (typing.label)));
  json_object_unref (app_test_sandbox_rest (sandbox, "bob", "POST", "/channels/messaging/general/event",
                                            "{\"event\":{\"type\":\"typing.stop\"}}", NULL));
  typing.prefix = "";
  g_assert_true (core_test_wait_until (label_starts_with, &typing, APP_TEST_DEADLINE_MS));

  /* Presence: bob comes online, and goes. */
  online.online = confab_channel_get_online_count (channel) + 1;
  bob = app_test_manager_new (sandbox->url, bob_token, NULL, NULL, NULL, NULL);
  app_test_manager_connect (bob, "bob");
  g_assert_true (core_test_wait_until (online_is, &online, APP_TEST_DEADLINE_MS));
  members = g_strdup_printf ("%u members", confab_channel_get_member_count (channel));
  subtitle = g_strdup_printf ("%s · %u online", members, online.online);
  g_assert_true (app_test_wait_text (window, subtitle));
  confab_connection_manager_disconnect (bob);
  online.online--;
  g_assert_true (core_test_wait_until (online_is, &online, APP_TEST_DEADLINE_MS));

  /* Read as it arrives: no unread count, in the model or the sidebar, and the view
   * follows the newest. */
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("read as it arrives %u", i);

      g_free (app_test_post_message (sandbox, "bob", text));
      wait_message (channel, text);
    }
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 0);
  g_assert_true (core_test_wait_until (row_says, &row, APP_TEST_DEADLINE_MS));
  g_assert_true (app_test_wait_text (window, "read as it arrives 2"));
  g_assert_true (core_test_wait_until (near_bottom, adjustment, APP_TEST_DEADLINE_MS));
  g_assert_true (confab_conversation_view_get_stick_to_bottom (view));

  /* Notifications only while the window is not in use: a message now makes none. */
  n_notifications = notifications->len;
  g_free (app_test_post_message (sandbox, "bob", "seen in the window"));
  wait_message (channel, "seen in the window");

  /* Scrolled up to older messages: not reading. The top loads older history. */
  older.more_than = g_list_model_get_n_items (messages);
  g_assert_true (core_test_wait_until (scrolled_to_top, view, APP_TEST_DEADLINE_MS));
  g_assert_false (confab_conversation_view_get_stick_to_bottom (view));
  g_assert_false (confab_conversation_view_get_reading (view));
  g_assert_null (confab_chat_store_get_reading_channel (store));
  g_assert_true (core_test_wait_until (more_items, &older, APP_TEST_DEADLINE_MS));
  g_test_message ("older history: %u → %u messages", older.more_than, g_list_model_get_n_items (messages));
  g_free (app_test_post_message (sandbox, "bob", "arrives while reading older ones"));
  wait_message (channel, "arrives while reading older ones");
  unread.unread = 1;
  g_assert_true (core_test_wait_until (unread_is, &unread, APP_TEST_DEADLINE_MS));
  row.accessible = "General, 1 unread";
  g_assert_true (core_test_wait_until (row_says, &row, APP_TEST_DEADLINE_MS));

  /* Back to the newest: read. */
  confab_conversation_view_scroll_to_bottom (view);
  unread.unread = 0;
  g_assert_true (core_test_wait_until (unread_is, &unread, APP_TEST_DEADLINE_MS));
  row.accessible = "General";
  g_assert_true (core_test_wait_until (row_says, &row, APP_TEST_DEADLINE_MS));
  g_assert_true (core_test_wait_until (near_bottom, adjustment, APP_TEST_DEADLINE_MS));

  /* Another window takes the focus: now a message is a notification, the only one since
   * the window was in use (D-Bus keeps the order: an earlier one would be here first). */
  g_action_group_activate_action (G_ACTION_GROUP (app), "connection-details", NULL);
  app_test_wait_toplevel (CONFAB_TYPE_CONNECTION_DETAILS_DIALOG);
  g_assert_true (core_test_wait_until (window_inactive, window, APP_TEST_DEADLINE_MS));
  sent = g_strdup ("while you were away");
  g_free (app_test_post_message (sandbox, "bob", sent));
  g_assert_true (core_test_wait_count (&notifications->len, n_notifications + 1, APP_TEST_DEADLINE_MS));
  g_assert_cmpuint (notifications->len, ==, n_notifications + 1);
  g_assert_cmpstr (g_ptr_array_index (notifications, notifications->len - 1), ==,
                   "Bob Novak in General\nwhile you were away");
  confab_session_stop (session);
}

CHILD_TEST (test_conversation, conversation)

/* The cache, offline ------------------------------------------------------------------------- */

static void
cache_fill (void)
{
  ConfabApplication *app = NULL;
  ConfabSession *session = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_test_subprocess ())
    {
      g_test_skip ("a half of /confab/app/chat/opens-from-cache-offline, run by it");
      return;
    }
  app = app_test_app_start (g_getenv (SANDBOX_URL_ENV), "alice");
  app_test_app_open_channel (app, APP_TEST_CHANNEL);
  app_test_app_type_and_send (app, "saved for the offline start");
  session = confab_application_get_session (app);
  /* Only what the server has is cached (unsent messages live in the outbox). */
  wait_sent (confab_window_get_channel (app_test_app_window (app)), "saved for the offline start");
  g_assert_true (confab_chat_store_flush_cache (confab_session_get_store (session), &error));
  g_assert_no_error (error);
  confab_session_stop (session);
}

typedef struct
{
  gboolean  done;
  char     *token;
} Lookup;

static void
on_token_looked_up (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Lookup *lookup = user_data;

  lookup->token = confab_secret_store_lookup_finish (CONFAB_SECRET_STORE (source), result, NULL);
  lookup->done = TRUE;
}

static void
cache_reopen (void)
{
  Lookup lookup = { 0 };
  ConfabApplication *app = NULL;
  ConfabSession *session = NULL;
  ConfabChannel *channel = NULL;
  g_autoptr(ConfabAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *window;
  gint64 started;

  if (!g_test_subprocess ())
    {
      g_test_skip ("a half of /confab/app/chat/opens-from-cache-offline, run by it");
      return;
    }
  /* The server is gone. The account (with the API key the last run learnt) opens. */
  account = confab_account_new (CONFAB_ACCOUNT_KIND_DEMO, g_getenv (SANDBOX_URL_ENV), APP_TEST_API_KEY, "alice", &error);
  g_assert_no_error (error);
  started = g_get_monotonic_time ();
#if defined(__SANITIZE_ADDRESS__)
  /* libsecret 0.20.5 leaks each lookup's GetSecrets reply: the sanitizer build is given
   * the token instead of reading it from the keyring. (No LeakSanitizer suppression can
   * single it out: the reply is allocated on GDBus's worker thread, a stack of GLib and
   * GIO frames only — g_dbus_message_new_from_blob — with no libsecret frame to name.) */
  app = app_test_app_start_account (account, g_getenv ("CONFAB_TEST_TOKEN"));
#else
  app = app_test_app_start_account (account, NULL);
#endif
  session = confab_application_get_session (app);
  g_assert_nonnull (session);

  /* At once, before any connection: the conversations of the last run. */
  channel = confab_chat_store_lookup_channel (confab_session_get_store (session), APP_TEST_CHANNEL);
  g_assert_nonnull (channel);
  g_printerr ("# started and opened the cache in %" G_GINT64_FORMAT " ms\n", (g_get_monotonic_time () - started) / 1000);
  g_assert_cmpint (g_get_monotonic_time () - started, <, CACHE_OPEN_US);
  g_assert_nonnull (app_test_find_message (channel, "saved for the offline start", NULL));
  g_assert_cmpint (confab_connection_manager_get_state (confab_session_get_manager (session)), !=,
                   CONFAB_CONNECTION_STATE_CONNECTED);
  window = GTK_WIDGET (app_test_app_window (app));
  g_assert_true (confab_window_open_channel (CONFAB_WINDOW (window), APP_TEST_CHANNEL));
  g_assert_true (app_test_wait_text (window, "saved for the offline start"));
  g_assert_cmpint (confab_window_get_status (CONFAB_WINDOW (window)), ==, CONFAB_WINDOW_STATUS_CHAT);
  g_assert_true (app_test_wait_state (confab_session_get_manager (session), CONFAB_CONNECTION_STATE_RECONNECTING,
                                      APP_TEST_DEADLINE_MS));
  g_assert_true (confab_banner_get_revealed (CONFAB_BANNER (app_test_app_find (app, CONFAB_TYPE_BANNER))));
#if !defined(__SANITIZE_ADDRESS__)
  /* The token the last run stored is in the keyring (the session's provider reads it
   * from there too). */
  confab_secret_store_lookup_async (confab_application_get_secret_store (app), g_getenv (SANDBOX_URL_ENV), "alice",
                                    NULL, on_token_looked_up, &lookup);
  g_assert_true (core_test_wait_flag (&lookup.done, APP_TEST_DEADLINE_MS));
  g_assert_nonnull (lookup.token);
  g_assert_true (g_str_has_prefix (lookup.token, "eyJ"));
  g_free (lookup.token);
#else
  (void) lookup;
  (void) on_token_looked_up;
#endif
  confab_session_stop (session);
  settle_dbus ();
}

static void
test_opens_from_cache_offline (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");

  g_setenv (SANDBOX_URL_ENV, sandbox->url, TRUE);
  g_setenv ("CONFAB_TEST_TOKEN", token, TRUE);
  run_in_child ("/confab/app/chat/cache-fill");
  app_test_sandbox_kill (sandbox);
  run_in_child ("/confab/app/chat/cache-reopen");
  g_unsetenv (SANDBOX_URL_ENV);
}

/* A refused message: Retry and Discard -------------------------------------------------- */

#define REFUSED_RETRIED   "refused, then retried"
#define REFUSED_DISCARDED "refused, then discarded"
#define REFUSED_KEPT      "refused, kept over a restart"

static gboolean
message_failed (gpointer user_data)
{
  MessageWait *wait = user_data;
  ConfabMessage *message = app_test_find_message (wait->channel, wait->text, NULL);

  return message != NULL && confab_message_get_status (message) == CONFAB_MESSAGE_STATUS_FAILED;
}

static gboolean
message_gone (gpointer user_data)
{
  MessageWait *wait = user_data;

  return app_test_find_message (wait->channel, wait->text, NULL) == NULL;
}

/* The discarded message's text is nowhere in the window. */
static gboolean
text_not_shown (gpointer user_data)
{
  return app_test_find_by_text (user_data, REFUSED_DISCARDED) == NULL;
}

/* The row on screen that shows @message, or NULL. */
static ConfabMessageRow *
find_message_row (GtkWidget     *root,
                  ConfabMessage *message)
{
  if (root == NULL)
    return NULL;
  if (CONFAB_IS_MESSAGE_ROW (root) && confab_message_row_get_message (CONFAB_MESSAGE_ROW (root)) == message)
    return CONFAB_MESSAGE_ROW (root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      ConfabMessageRow *found = find_message_row (child, message);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct
{
  GtkWidget     *window;
  ConfabMessage *message;
  const char    *status;   /* the row's status line */
  const char    *button;   /* a button that must be visible, or NULL */
} RowStateWait;

static gboolean
row_shows (gpointer user_data)
{
  RowStateWait *wait = user_data;
  ConfabMessageRow *row = find_message_row (wait->window, wait->message);
  GtkWidget *status, *button;

  if (row == NULL || !gtk_widget_get_mapped (GTK_WIDGET (row)))
    return FALSE;
  status = app_test_find_by_text (GTK_WIDGET (row), wait->status);
  if (status == NULL || !gtk_widget_is_visible (status))
    return FALSE;
  if (wait->button == NULL)
    return TRUE;
  button = app_test_find_by_text (GTK_WIDGET (row), wait->button);
  return button != NULL && gtk_widget_is_visible (button) && gtk_widget_is_sensitive (button);
}

/* Waits until @message's row shows it failed (why, when known: a restart forgets the
 * reason) with its Retry and Discard buttons, and returns the button labelled @button
 * (a mnemonic: "_Retry" or "_Discard"). */
static GtkWidget *
failed_row_button (GtkWidget     *window,
                   ConfabMessage *message,
                   const char    *button)
{
  RowStateWait wait = { window, message, NULL, "_Discard" };
  ConfabMessageRow *row;

  wait.status = confab_message_get_last_error (message) != NULL ? "Not sent: the server refused it" : "Not sent";
  g_assert_true (core_test_wait_until (row_shows, &wait, APP_TEST_DEADLINE_MS));
  wait.button = "_Retry";
  g_assert_true (row_shows (&wait));
  row = find_message_row (window, message);
  return app_test_find_by_text (GTK_WIDGET (row), button);
}

static void
on_status_notify (ConfabMessage *message,
                  GParamSpec    *pspec,
                  GArray        *log)
{
  ConfabMessageStatus status = confab_message_get_status (message);

  g_array_append_val (log, status);
}

/* Presses @message's Retry in its row, as a click would, and asserts it goes sending →
 * sent, once, and reaches the server once. */
static void
press_retry (AppTestSandbox *sandbox,
             GtkWidget      *window,
             ConfabChannel  *channel,
             const char     *text)
{
  ConfabMessage *message = app_test_find_message (channel, text, NULL);
  g_autoptr(GArray) log = g_array_new (FALSE, FALSE, sizeof (ConfabMessageStatus));
  g_autofree char *id = g_strdup (confab_message_get_id (message));
  RowStateWait sent = { window, message, "Sent", NULL };
  GtkWidget *retry = failed_row_button (window, message, "_Retry");
  guint n_sending = 0;
  guint count = 0;
  gulong handler;

  g_object_ref (message);
  handler = g_signal_connect (message, "notify::status", G_CALLBACK (on_status_notify), log);
  g_assert_true (gtk_widget_activate (retry));
  wait_sent (channel, text);
  g_signal_handler_disconnect (message, handler);

  for (guint i = 0; i < log->len; i++)
    {
      ConfabMessageStatus status = g_array_index (log, ConfabMessageStatus, i);

      g_test_message ("%s: status %d", text, status);
      if (status == CONFAB_MESSAGE_STATUS_SENDING)
        n_sending++;
      g_assert_cmpint (status, !=, CONFAB_MESSAGE_STATUS_FAILED);
    }
  g_assert_cmpuint (n_sending, ==, 1);
  g_assert_cmpint (g_array_index (log, ConfabMessageStatus, log->len - 1), ==, CONFAB_MESSAGE_STATUS_SENT);
  /* The same message (same id), once in the window and once on the server. */
  g_assert_true (app_test_find_message (channel, text, &count) == message);
  g_assert_cmpuint (count, ==, 1);
  g_assert_cmpstr (confab_message_get_id (message), ==, id);
  g_assert_cmpuint (app_test_count_on_server (sandbox, "bob", text), ==, 1);
  g_assert_true (core_test_wait_until (row_shows, &sent, APP_TEST_DEADLINE_MS));
  g_assert_false (gtk_widget_is_visible (retry));
  g_object_unref (message);
}

static void
retry_discard_first_run (void)
{
  g_autoptr(AppTestSandbox) sandbox = NULL;
  ConfabApplication *app;
  ConfabSession *session;
  ConfabChannel *channel;
  ConfabOutbox *outbox;
  ConfabMessage *discarded;
  GtkWidget *window;
  MessageWait gone = { NULL, REFUSED_DISCARDED };
  const char *texts[] = { REFUSED_RETRIED, REFUSED_DISCARDED, REFUSED_KEPT };
  g_autofree char *discarded_id = NULL;

  if (!g_test_subprocess ())
    {
      g_test_skip ("a half of /confab/app/chat/retry-and-discard, run by it");
      return;
    }
  sandbox = app_test_sandbox_attach (g_getenv (SANDBOX_URL_ENV), g_getenv ("CONFAB_TEST_SANDBOX_DATA"));
  app = app_test_app_start (sandbox->url, "alice");
  channel = app_test_app_open_channel (app, APP_TEST_CHANNEL);
  session = confab_application_get_session (app);
  outbox = confab_session_get_outbox (session);
  window = GTK_WIDGET (app_test_app_window (app));

  /* The server refuses alice's messages in General (no longer a member): each one
   * fails for good, with Retry and Discard in its row. */
  app_test_sandbox_set_member (sandbox, APP_TEST_CHANNEL, "alice", FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      MessageWait failed = { channel, texts[i] };

      app_test_app_type_and_send (app, texts[i]);
      g_assert_true (core_test_wait_until (message_failed, &failed, APP_TEST_DEADLINE_MS));
      failed_row_button (window, app_test_find_message (channel, texts[i], NULL), "_Retry");
    }
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 3);
  g_assert_cmpuint (app_test_count_on_server (sandbox, "bob", REFUSED_RETRIED), ==, 0);

  /* A member again: Retry sends it, once. */
  app_test_sandbox_set_member (sandbox, APP_TEST_CHANNEL, "alice", TRUE);
  press_retry (sandbox, window, channel, REFUSED_RETRIED);
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 2);

  /* Discard: gone from the conversation and the outbox, never sent. */
  discarded = app_test_find_message (channel, REFUSED_DISCARDED, NULL);
  discarded_id = g_strdup (confab_message_get_id (discarded));
  g_assert_nonnull (confab_outbox_lookup (outbox, discarded_id));
  g_assert_true (gtk_widget_activate (failed_row_button (window, discarded, "_Discard")));
  gone.channel = channel;
  g_assert_true (core_test_wait_until (message_gone, &gone, APP_TEST_DEADLINE_MS));
  g_assert_null (confab_outbox_lookup (outbox, discarded_id));
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 1);
  g_assert_true (core_test_wait_until (text_not_shown, window, APP_TEST_DEADLINE_MS));
  g_assert_cmpuint (app_test_count_on_server (sandbox, "bob", REFUSED_DISCARDED), ==, 0);

  /* The third stays failed over the restart. */
  confab_session_stop (session);
  settle_dbus ();
}

static void
retry_discard_second_run (void)
{
  g_autoptr(AppTestSandbox) sandbox = NULL;
  ConfabApplication *app;
  ConfabSession *session;
  ConfabChannel *channel;
  ConfabOutbox *outbox;
  ConfabMessage *kept;
  guint count = 0;

  if (!g_test_subprocess ())
    {
      g_test_skip ("a half of /confab/app/chat/retry-and-discard, run by it");
      return;
    }
  sandbox = app_test_sandbox_attach (g_getenv (SANDBOX_URL_ENV), g_getenv ("CONFAB_TEST_SANDBOX_DATA"));
  app = app_test_app_start (sandbox->url, "alice");
  channel = app_test_app_open_channel (app, APP_TEST_CHANNEL);
  session = confab_application_get_session (app);
  outbox = confab_session_get_outbox (session);

  /* After a restart: the discarded message did not come back; the failed one did,
   * still failed (so a discarded one would have, had it been kept). */
  kept = app_test_find_message (channel, REFUSED_KEPT, &count);
  g_assert_nonnull (kept);
  g_assert_cmpuint (count, ==, 1);
  g_assert_cmpint (confab_message_get_status (kept), ==, CONFAB_MESSAGE_STATUS_FAILED);
  g_assert_null (confab_message_get_last_error (kept));
  g_assert_null (app_test_find_message (channel, REFUSED_DISCARDED, NULL));
  wait_message (channel, REFUSED_RETRIED);
  g_assert_nonnull (app_test_find_message (channel, REFUSED_RETRIED, &count));
  g_assert_cmpuint (count, ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 1);

  /* Its Retry, after the restart, sends it once. */
  press_retry (sandbox, GTK_WIDGET (app_test_app_window (app)), channel, REFUSED_KEPT);
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 0);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 0);
  g_assert_null (app_test_find_message (channel, REFUSED_DISCARDED, NULL));
  g_assert_cmpuint (app_test_count_on_server (sandbox, "bob", REFUSED_DISCARDED), ==, 0);
  confab_session_stop (session);
  settle_dbus ();
}

static void
test_retry_and_discard (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);

  g_setenv (SANDBOX_URL_ENV, sandbox->url, TRUE);
  g_setenv ("CONFAB_TEST_SANDBOX_DATA", sandbox->data_dir, TRUE);
  run_in_child ("/confab/app/chat/retry-discard-first-run");
  run_in_child ("/confab/app/chat/retry-discard-second-run");
  g_unsetenv (SANDBOX_URL_ENV);
  g_unsetenv ("CONFAB_TEST_SANDBOX_DATA");
}

/* The menu's windows ------------------------------------------------------------------------- */

static gboolean
signed_in_as (gpointer user_data)
{
  ConfabApplication *app = user_data;
  ConfabSession *session = confab_application_get_session (app);

  return session != NULL &&
         g_strcmp0 (confab_chat_store_get_own_user_id (confab_session_get_store (session)), "bob") == 0 &&
         confab_connection_manager_get_state (confab_session_get_manager (session)) == CONFAB_CONNECTION_STATE_CONNECTED;
}

static void
menu_windows (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start_in_memory (NULL);
  ConfabApplication *app = app_test_app_start (sandbox->url, "alice");
  GtkWidget *window = GTK_WIDGET (app_test_app_window (app));
  GtkWindow *shortcuts, *about, *preferences;
  g_autofree char *debug_info = NULL;
  g_autofree char *application_name = NULL;
  GtkWidget *row, *button;

  app_test_app_wait_connected (app);

  /* Keyboard Shortcuts (Ctrl+?), from the main menu. */
  g_assert_true (gtk_widget_activate_action (window, "win.show-help-overlay", NULL));
  shortcuts = app_test_wait_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
  g_assert_true (gtk_window_get_transient_for (shortcuts) == GTK_WINDOW (window));
  gtk_window_close (shortcuts);

  /* About, with the diagnostics report as its troubleshooting text. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  about = app_test_wait_toplevel (ADW_TYPE_ABOUT_WINDOW);
  g_object_get (about, "application-name", &application_name, "debug-info", &debug_info, NULL);
  g_assert_cmpstr (application_name, ==, "Confab");
  g_assert_true (g_str_has_prefix (debug_info, "Confab diagnostics report"));
  g_assert_null (strstr (debug_info, "alice"));
  gtk_window_destroy (about);

  /* Preferences show the account in use ... */
  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  preferences = app_test_wait_toplevel (CONFAB_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (app_test_find_by_text (GTK_WIDGET (preferences), "Signed in as alice"));
  row = app_test_find_widget (GTK_WIDGET (preferences), ADW_TYPE_ENTRY_ROW);
  g_assert_nonnull (row);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, sandbox->url);

  /* ... and change it: the same server as bob. */
  for (GtkWidget *r = row; r != NULL; r = gtk_widget_get_next_sibling (r))
    if (ADW_IS_ENTRY_ROW (r) && g_str_equal (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (r)), "User"))
      gtk_editable_set_text (GTK_EDITABLE (r), "bob");
  button = app_test_find_by_text (GTK_WIDGET (preferences), "_Sign In");
  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");
  g_assert_true (core_test_wait_until (signed_in_as, app, 2 * APP_TEST_DEADLINE_MS));
  /* A new session (the old one's memory may be reused: compare what it says). */
  g_assert_cmpstr (confab_connection_manager_get_user_id (confab_session_get_manager (confab_application_get_session (app))),
                   ==, "bob");
  g_assert_true (app_test_wait_text (window, "bob"));
  confab_session_stop (confab_application_get_session (app));
}

CHILD_TEST (test_menu_windows, menu_windows)

/* Signing out -------------------------------------------------------------------------------- */

static gboolean
unsent_is_one (gpointer user_data)
{
  return confab_application_get_n_unsent (user_data) == 1;
}

static void
sign_out (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  ConfabApplication *app = app_test_app_start (sandbox->url, "alice");
  ConfabSession *session = app_test_app_wait_connected (app);
  ConfabWindow *window = app_test_app_window (app);
  g_autofree char *state_dir = g_strdup (confab_session_get_state_dir (session));
  g_autofree char *cache = g_build_filename (state_dir, "cache", NULL);
  GtkWindow *dialog;
  const char *body = "1 message has not been sent yet. Signing out deletes it, and the conversations saved on this computer.";

  app_test_app_open_channel (app, APP_TEST_CHANNEL);
  g_assert_true (confab_chat_store_flush_cache (confab_session_get_store (session), NULL));
  g_assert_true (g_file_test (cache, G_FILE_TEST_IS_DIR));

  /* Offline, a message waits in the outbox. */
  app_test_sandbox_kill (sandbox);
  g_assert_true (app_test_wait_state (confab_session_get_manager (session), CONFAB_CONNECTION_STATE_RECONNECTING,
                                      APP_TEST_DEADLINE_MS));
  app_test_app_type_and_send (app, "not sent before signing out");
  g_assert_true (core_test_wait_until (unsent_is_one, app, APP_TEST_DEADLINE_MS));

  /* Sign Out asks first, saying what would be lost; Cancel keeps everything. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "sign-out", NULL);
  dialog = app_test_wait_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_cmpstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), ==, body);
  g_assert_cmpint (adw_message_dialog_get_response_appearance (ADW_MESSAGE_DIALOG (dialog), "sign-out"), ==,
                   ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_destroy (dialog);
  g_assert_true (confab_application_get_session (app) == session);
  g_assert_cmpuint (confab_application_get_n_unsent (app), ==, 1);

  /* Sign Out, confirmed: signed out, and nothing of the account is left here. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "sign-out", NULL);
  dialog = app_test_wait_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "sign-out");
  gtk_window_destroy (dialog);
  g_assert_null (confab_application_get_session (app));
  g_assert_cmpint (confab_window_get_status (window), ==, CONFAB_WINDOW_STATUS_SIGNED_OUT);
  g_assert_true (app_test_wait_text (GTK_WIDGET (window), "Welcome to Confab"));
  g_assert_false (g_file_test (state_dir, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (confab_application_get_n_unsent (app), ==, 0);
  {
    g_autofree char *user_id = g_settings_get_string (confab_application_get_settings (app), "user-id");

    g_assert_cmpstr (user_id, ==, "");
  }

  /* With nothing unsent, Sign Out asks nothing. */
  app_test_sandbox_restart (sandbox);
  {
    g_autoptr(ConfabAccount) account = NULL;
    g_autoptr(GError) error = NULL;

    account = confab_account_new (CONFAB_ACCOUNT_KIND_DEMO, sandbox->url, NULL, "alice", &error);
    g_assert_no_error (error);
    confab_application_sign_in (app, account, NULL);
  }
  session = app_test_app_wait_connected (app);
  g_assert_true (g_file_test (state_dir, G_FILE_TEST_IS_DIR));
  /* Links in the account's folder are removed, never followed: what they point at stays. */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *outside = g_dir_make_tmp ("confab-outside-XXXXXX", &error);
    g_autofree char *kept = NULL;
    g_autofree char *dir_link = g_build_filename (state_dir, "link-to-dir", NULL);
    g_autofree char *file_link = g_build_filename (state_dir, "link-to-file", NULL);

    g_assert_no_error (error);
    kept = g_build_filename (outside, "keep", NULL);
    g_assert_true (g_file_set_contents (kept, "mine", -1, NULL));
    g_assert_cmpint (symlink (outside, dir_link), ==, 0);
    g_assert_cmpint (symlink (kept, file_link), ==, 0);

    g_action_group_activate_action (G_ACTION_GROUP (app), "sign-out", NULL);
    g_assert_null (app_test_find_toplevel (ADW_TYPE_MESSAGE_DIALOG));
    g_assert_null (confab_application_get_session (app));
    g_assert_false (g_file_test (state_dir, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (kept, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpint (g_remove (kept), ==, 0);
    g_assert_cmpint (g_rmdir (outside), ==, 0);
  }
  settle_dbus ();
}

CHILD_TEST (test_sign_out, sign_out)

/* Russian ------------------------------------------------------------------------------------ */

static void
test_russian_complete (void)
{
  g_autofree char *po = g_build_filename (g_getenv ("CONFAB_TEST_PO_DIR"), "ru.po", NULL);
  const char *argv[] = { "msgfmt", "--check", "--statistics", "-o", "/dev/null", po, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (g_getenv ("CONFAB_TEST_PO_DIR") == NULL)
    {
      g_test_skip ("CONFAB_TEST_PO_DIR is not set (meson sets it)");
      return;
    }
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("msgfmt: %s", err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "translated message"));
  g_assert_null (strstr (err, "untranslated"));
  g_assert_null (strstr (err, "fuzzy"));
}

/* The badge's word in Russian, whichever rating the loaded machine measures. */
static gboolean
russian_badge_shown (gpointer user_data)
{
  GtkWidget *window = user_data;

  return app_test_find_by_text (window, "Отличное") != NULL ||
         app_test_find_by_text (window, "Хорошее") != NULL ||
         app_test_find_by_text (window, "Плохое") != NULL;
}

static void
russian (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start_in_memory (NULL);
  ConfabApplication *app = NULL;
  GtkWidget *window;

  /* As `LANGUAGE=ru confab` would run, with the build tree's catalogue (the same
   * CONFAB_LOCALEDIR main() honours). */
  g_assert_nonnull (setlocale (LC_ALL, "ru_RU.UTF-8"));
  g_setenv ("LANGUAGE", "ru", TRUE);
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("CONFAB_TEST_LOCALEDIR"));
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = app_test_app_start (sandbox->url, "alice");
  app_test_app_open_channel (app, APP_TEST_CHANNEL);
  window = GTK_WIDGET (app_test_app_window (app));
  g_assert_true (core_test_wait_until (russian_badge_shown, window, APP_TEST_DEADLINE_MS));
  g_assert_null (app_test_find_by_text (window, "Excellent"));
  g_assert_null (app_test_find_by_text (window, "Good"));
  g_assert_null (app_test_find_by_text (window, "Poor"));

  /* The banner's countdown too. */
  app_test_sandbox_kill (sandbox);
  g_assert_true (app_test_wait_state (confab_session_get_manager (confab_application_get_session (app)),
                                      CONFAB_CONNECTION_STATE_RECONNECTING, APP_TEST_DEADLINE_MS));
  g_assert_true (app_test_wait_text (window, "Повторить сейчас"));
  confab_session_stop (confab_application_get_session (app));
}

static void
test_russian_shown (void)
{
  if (g_getenv ("CONFAB_TEST_LOCALEDIR") == NULL || setlocale (LC_ALL, "ru_RU.UTF-8") == NULL)
    {
      g_test_skip ("no ru_RU.UTF-8 locale or CONFAB_TEST_LOCALEDIR");
      return;
    }
  setlocale (LC_ALL, "C.UTF-8");
  if (g_test_subprocess ())
    {
      russian ();
      return;
    }
  run_in_child (NULL);
}

int
main (int   argc,
      char *argv[])
{
  app_test_init (&argc, &argv);

  g_test_add_func ("/confab/app/chat/conversation", test_conversation);
  g_test_add_func ("/confab/app/chat/opens-from-cache-offline", test_opens_from_cache_offline);
  /* The two halves of opens-from-cache-offline: GLib needs them registered in the parent
   * too, where they skip; they run in its child processes. */
  g_test_add_func ("/confab/app/chat/cache-fill", cache_fill);
  g_test_add_func ("/confab/app/chat/cache-reopen", cache_reopen);
  g_test_add_func ("/confab/app/chat/retry-and-discard", test_retry_and_discard);
  /* Its two runs of the app, before and after a restart (skipped in the parent). */
  g_test_add_func ("/confab/app/chat/retry-discard-first-run", retry_discard_first_run);
  g_test_add_func ("/confab/app/chat/retry-discard-second-run", retry_discard_second_run);
  g_test_add_func ("/confab/app/chat/menu-windows", test_menu_windows);
  g_test_add_func ("/confab/app/chat/sign-out", test_sign_out);
  g_test_add_func ("/confab/app/chat/russian-complete", test_russian_complete);
  g_test_add_func ("/confab/app/chat/russian-shown", test_russian_shown);

  return g_test_run ();
}
