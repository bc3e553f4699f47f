/* test-app-cli.c: the real confab binary as the README runs it: `confab --sandbox URL
 * --as alice` and `--as bob` side by side, signed in and chatting through their windows,
 * and the menu's Open Another Demo User… starting a second user
 *
 * Every confab process runs in this binary's private session (run-in-session.sh): its
 * display, session bus and keyring. The test reaches them as a user's desktop would:
 * GApplication's actions on the session bus (org.gtk.Actions), keys through the X server
 * (xdotool, XTEST), and what each one leaves in its own state folder. Every process
 * started is ended and waited for; this process is a child subreaper, so a confab
 * started by another confab is reaped here if its parent goes first.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app-test-app.h"
#include "confab-account.h"
#include "confab-history-cache.h"

/* Two apps starting and signing in at once (registering, the keyring, the demo token,
 * connecting): seconds here, much more in a sanitizer build on a busy machine. */
#if defined(__SANITIZE_ADDRESS__)
#define SIGN_IN_MS (9 * APP_TEST_DEADLINE_MS)
#define WAIT_MS    (3 * APP_TEST_DEADLINE_MS)
#else
#define SIGN_IN_MS (3 * APP_TEST_DEADLINE_MS)
#define WAIT_MS    APP_TEST_DEADLINE_MS
#endif

typedef struct
{
  char        *user_id;
  char        *app_id;       /* one GApplication per account */
  char        *object_path;
  char        *cache_path;   /* STATE/confab/ACCOUNT/cache/history.sqlite */
  GSubprocess *process;      /* NULL when another process started it */
  GPid         pid;
} Instance;

static void
instance_free (Instance *instance)
{
  g_assert_null (instance->process);   /* stopped */
  g_free (instance->user_id);
  g_free (instance->app_id);
  g_free (instance->object_path);
  g_free (instance->cache_path);
  g_free (instance);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Instance, instance_free)

static GDBusConnection *
session_bus (void)
{
  static GDBusConnection *bus;

  if (bus == NULL)
    {
      g_autoptr(GError) error = NULL;

      bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
      g_assert_no_error (error);
    }
  return bus;
}

/* What the app computes for @user_id on @url: its application id and state folder. */
static Instance *
instance_new (const char *url,
              const char *user_id)
{
  Instance *instance = g_new0 (Instance, 1);
  g_autoptr(ConfabAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = NULL;

  account = confab_account_new (CONFAB_ACCOUNT_KIND_DEMO, url, NULL, user_id, &error);
  g_assert_no_error (error);
  instance->user_id = g_strdup (user_id);
  instance->app_id = confab_account_dup_application_id (account, APP_ID);
  g_assert_true (g_application_id_is_valid (instance->app_id));
  /* GApplication's object path: the id with '.' → '/' and '-' → '_'. */
  instance->object_path = g_strdelimit (g_strconcat ("/", instance->app_id, NULL), ".", '/');
  g_strdelimit (instance->object_path, "-", '_');
  state_dir = confab_account_dup_state_dir (account);
  instance->cache_path = g_build_filename (state_dir, "cache", CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  return instance;
}

/* `confab --sandbox URL --as USER`, as typed in a terminal. */
static Instance *
start_confab (const char *url,
              const char *user_id)
{
  Instance *instance = instance_new (url, user_id);
  const char *argv[] = { g_getenv ("CONFAB_BINARY"), "--sandbox", url, "--as", user_id, NULL };
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (argv[0]);
  instance->process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  instance->pid = atoi (g_subprocess_get_identifier (instance->process));
  return instance;
}

static void
on_exited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

/* SIGTERM (what Ctrl+C or a logout does), then waits: it quits cleanly, with status 0. */
static void
stop_confab (Instance *instance)
{
  g_autoptr(GSubprocess) process = g_steal_pointer (&instance->process);
  gboolean exited = FALSE;

  g_subprocess_wait_async (process, NULL, on_exited, &exited);
  g_subprocess_send_signal (process, SIGTERM);
  if (!core_test_wait_flag (&exited, WAIT_MS))
    {
      g_subprocess_force_exit (process);
      g_assert_true (core_test_wait_flag (&exited, WAIT_MS));
      g_assert_not_reached ();
    }
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
}

/* The session bus -------------------------------------------------------------------------- */

static gboolean
name_owned (gpointer user_data)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean owned = FALSE;

  reply = g_dbus_connection_call_sync (session_bus (), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", user_data),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_nonnull (reply);
  g_variant_get (reply, "(b)", &owned);
  return owned;
}

static GPid
name_owner_pid (const char *name)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint32 pid = 0;

  reply = g_dbus_connection_call_sync (session_bus (), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                       g_variant_new ("(s)", name), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &pid);
  return (GPid) pid;
}

static gboolean
action_enabled (gpointer user_data)
{
  Instance *instance = ((gpointer *) user_data)[0];
  const char *action = ((gpointer *) user_data)[1];
  g_autoptr(GVariant) reply = NULL;
  gboolean enabled = FALSE;

  reply = g_dbus_connection_call_sync (session_bus (), instance->app_id, instance->object_path,
                                       "org.gtk.Actions", "Describe", g_variant_new ("(s)", action),
                                       G_VARIANT_TYPE ("((bgav))"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "((b@g@av))", &enabled, NULL, NULL);
  return enabled;
}

/* Activates the app action @action of the running @instance over the session bus, as
 * a desktop shell or `gapplication action` would, once it is enabled. */
static void
activate_action (Instance   *instance,
                 const char *action,
                 GVariant   *parameter)
{
  gpointer wait[] = { instance, (gpointer) action };
  GVariantBuilder parameters;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (core_test_wait_until (action_enabled, wait, WAIT_MS));
  g_variant_builder_init (&parameters, G_VARIANT_TYPE ("av"));
  if (parameter != NULL)
    g_variant_builder_add (&parameters, "v", parameter);
  reply = g_dbus_connection_call_sync (session_bus (), instance->app_id, instance->object_path,
                                       "org.gtk.Actions", "Activate",
                                       g_variant_new ("(sava{sv})", action, &parameters, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
}

/* The sandbox's view ------------------------------------------------------------------------ */

typedef struct
{
  AppTestSandbox *sandbox;
  const char     *user_ids[3];
} OnlineWait;

/* Every user of @user_ids is online, as another user (carol) sees them. */
static gboolean
users_online (gpointer user_data)
{
  OnlineWait *wait = user_data;
  g_autofree char *payload = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonObject) answer = NULL;
  JsonArray *users;
  guint online = 0;
  guint wanted = 0;
  guint status = 0;

  payload = g_strdup_printf ("{\"filter_conditions\":{\"id\":{\"$in\":[\"%s\",\"%s\"]}},\"presence\":false}",
                             wait->user_ids[0], wait->user_ids[1] != NULL ? wait->user_ids[1] : wait->user_ids[0]);
  escaped = g_uri_escape_string (payload, NULL, FALSE);
  path = g_strdup_printf ("/users?payload=%s", escaped);
  answer = app_test_sandbox_rest (wait->sandbox, "carol", "GET", path, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  users = json_object_get_array_member (answer, "users");
  g_assert_nonnull (users);
  for (guint i = 0; wait->user_ids[i] != NULL; i++)
    wanted++;
  for (guint i = 0; i < json_array_get_length (users); i++)
    {
      JsonObject *user = json_array_get_object_element (users, i);

      if (json_object_get_boolean_member_with_default (user, "online", FALSE) &&
          g_strv_contains (wait->user_ids, json_object_get_string_member_with_default (user, "id", "")))
        online++;
    }
  return online == wanted;
}

typedef struct
{
  const char *path;
  const char *text;
} CacheWait;

/* @text is a message in the history cache at @path (the app writes it as it arrives). */
static gboolean
cache_holds (gpointer user_data)
{
  CacheWait *wait = user_data;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gboolean found = FALSE;

  if (!g_file_test (wait->path, G_FILE_TEST_EXISTS))
    return FALSE;
  if (sqlite3_open_v2 (wait->path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_busy_timeout (db, 1000) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "SELECT COUNT(*) FROM messages WHERE text = ?1 AND cid = ?2", -1, &stmt, NULL) == SQLITE_OK)
    {
      sqlite3_bind_text (stmt, 1, wait->text, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, APP_TEST_CHANNEL, -1, SQLITE_STATIC);
      if (sqlite3_step (stmt) == SQLITE_ROW)
        found = sqlite3_column_int (stmt, 0) == 1;
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return found;
}

typedef struct
{
  AppTestSandbox *sandbox;
  const char     *text;
} ServerWait;

static gboolean
on_server_once (gpointer user_data)
{
  ServerWait *wait = user_data;

  return app_test_count_on_server (wait->sandbox, "carol", wait->text) == 1;
}

/* The X server ------------------------------------------------------------------------------ */

static gboolean
have_xdotool (void)
{
  g_autofree char *path = g_find_program_in_path ("xdotool");

  return path != NULL;
}

/* Runs xdotool with @args (NULL-terminated); returns its stdout. */
static char *
xdotool (const char *first,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;
  va_list args;

  g_ptr_array_add (argv, (char *) "xdotool");
  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  /* "search" exits 1 when nothing matches. */
  return g_steal_pointer (&out);
}

typedef struct
{
  GPid   pid;
  guint  n;
  GStrv  windows;
} WindowWait;

/* @pid has exactly wait->n windows mapped on the display. */
static gboolean
windows_mapped (gpointer user_data)
{
  WindowWait *wait = user_data;
  g_autofree char *pid = g_strdup_printf ("%d", wait->pid);
  g_autofree char *out = xdotool ("search", "--onlyvisible", "--pid", pid, NULL);

  g_clear_pointer (&wait->windows, g_strfreev);
  wait->windows = g_strsplit (g_strstrip (out), "\n", -1);
  if (wait->windows[0] != NULL && *wait->windows[0] == '\0')
    g_clear_pointer (&wait->windows, g_strfreev);
  return wait->windows != NULL && g_strv_length (wait->windows) == wait->n;
}

typedef struct
{
  AppTestSandbox *sandbox;
  const char     *user_id;
} ReadWait;

/* The server says @user_id has read all of General: their app had it open, at the
 * newest message, in the active window (that is when the app marks it read). */
static gboolean
general_read (gpointer user_data)
{
  ReadWait *wait = user_data;
  g_autoptr(JsonObject) answer = NULL;
  JsonArray *reads;
  guint status = 0;

  answer = app_test_sandbox_rest (wait->sandbox, wait->user_id, "POST", "/channels/messaging/general/query",
                                  "{}", &status);
  g_assert_cmpuint (status, ==, 201);
  reads = json_object_get_array_member (answer, "read");
  g_assert_nonnull (reads);
  for (guint i = 0; i < json_array_get_length (reads); i++)
    {
      JsonObject *read = json_array_get_object_element (reads, i);
      JsonObject *user = json_object_get_object_member (read, "user");

      if (user != NULL && g_strcmp0 (json_object_get_string_member_with_default (user, "id", NULL), wait->user_id) == 0)
        return json_object_get_int_member_with_default (read, "unread_messages", -1) == 0;
    }
  return FALSE;
}

/* Writes @text in @instance's window with real keys: the window takes the keyboard
 * focus, General opens (its app.open-channel action) and is read, xdotool types, Enter. */
static void
type_in_window (AppTestSandbox *sandbox,
                Instance       *instance,
                const char     *text)
{
  WindowWait wait = { instance->pid, 1, NULL };
  ReadWait read = { sandbox, instance->user_id };

  g_assert_true (core_test_wait_until (windows_mapped, &wait, WAIT_MS));
  /* --sync: until the X server has moved the focus (keys typed before that are lost). */
  g_free (xdotool ("windowfocus", "--sync", wait.windows[0], NULL));
  activate_action (instance, "open-channel", g_variant_new_string (APP_TEST_CHANNEL));
  /* Typing only once General is on screen in the focused window: the app read it. */
  g_assert_true (core_test_wait_until (general_read, &read, 2 * WAIT_MS));
  g_free (xdotool ("type", "--delay", "1", text, NULL));
  g_free (xdotool ("key", "Return", NULL));
  g_strfreev (wait.windows);
}

static GPid
parent_pid (GPid pid)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  const char *end;

  g_assert_true (g_file_get_contents (stat_path, &stat, NULL, NULL));
  end = strrchr (stat, ')');
  g_assert_nonnull (end);
  /* ") S PPID …" */
  return atoi (end + 4);
}

static gboolean
reparented_here (gpointer user_data)
{
  return parent_pid (GPOINTER_TO_INT (user_data)) == getpid ();
}

typedef struct
{
  GPid pid;
  int  status;
} Reap;

/* waitpid() without blocking, for a child GLib does not watch. */
static gboolean
reap (gpointer user_data)
{
  Reap *reap = user_data;

  return waitpid (reap->pid, &reap->status, WNOHANG) == reap->pid;
}

/* Two users side by side ------------------------------------------------------------------- */

static void
test_two_users_chat (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start_in_memory (NULL);
  g_autoptr(Instance) alice = start_confab (sandbox->url, "alice");
  g_autoptr(Instance) bob = start_confab (sandbox->url, "bob");
  OnlineWait online = { sandbox, { "alice", "bob", NULL } };
  CacheWait in_bob = { bob->cache_path, "hello bob, from alice's window" };
  CacheWait in_alice = { alice->cache_path, "hi alice, from bob's window" };
  gint64 started;

  /* Each account is its own application on the bus, beside the other. */
  g_assert_true (core_test_wait_until (name_owned, alice->app_id, SIGN_IN_MS));
  g_assert_true (core_test_wait_until (name_owned, bob->app_id, SIGN_IN_MS));
  g_assert_cmpint (name_owner_pid (alice->app_id), ==, alice->pid);
  g_assert_cmpint (name_owner_pid (bob->app_id), ==, bob->pid);
  g_assert_cmpstr (alice->cache_path, !=, bob->cache_path);

  /* alice has unread messages in General: her reading it, later, is news. */
  {
    ReadWait unread = { sandbox, "alice" };

    g_assert_false (general_read (&unread));
  }

  /* Both signed in: connected, as the server sees it. */
  started = g_get_monotonic_time ();
  g_assert_true (core_test_wait_until (users_online, &online, SIGN_IN_MS));
  g_test_message ("both online after %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - started) / 1000);
  g_assert_true (core_test_sandbox_wait_stat (sandbox->sandbox, "connections", 2, WAIT_MS));

  /* And chatting: each writes in their window; the other's process receives it (it is
   * in their own state folder's cache), and the server has it once. */
  if (have_xdotool ())
    {
      ServerWait on_server = { sandbox, in_bob.text };

      type_in_window (sandbox, alice, in_bob.text);
      g_assert_true (core_test_wait_until (on_server_once, &on_server, WAIT_MS));
      g_assert_true (core_test_wait_until (cache_holds, &in_bob, WAIT_MS));
      type_in_window (sandbox, bob, in_alice.text);
      on_server.text = in_alice.text;
      g_assert_true (core_test_wait_until (on_server_once, &on_server, WAIT_MS));
      g_assert_true (core_test_wait_until (cache_holds, &in_alice, WAIT_MS));
    }
  else
    {
      g_test_message ("xdotool is not installed: the messages are posted over REST, not typed");
      g_free (app_test_post_message (sandbox, "alice", in_bob.text));
      g_assert_true (core_test_wait_until (cache_holds, &in_bob, WAIT_MS));
      g_free (app_test_post_message (sandbox, "bob", in_alice.text));
      g_assert_true (core_test_wait_until (cache_holds, &in_alice, WAIT_MS));
    }
  g_assert_cmpuint (app_test_count_on_server (sandbox, "carol", in_bob.text), ==, 1);
  g_assert_cmpuint (app_test_count_on_server (sandbox, "carol", in_alice.text), ==, 1);
  /* Each has its own message too, once (sent, then cached). */
  in_bob.path = alice->cache_path;
  in_alice.path = bob->cache_path;
  g_assert_true (core_test_wait_until (cache_holds, &in_bob, WAIT_MS));
  g_assert_true (core_test_wait_until (cache_holds, &in_alice, WAIT_MS));

  /* `confab --as alice` again raises the running one: no second alice. */
  {
    const char *argv[] = { g_getenv ("CONFAB_BINARY"), "--sandbox", sandbox->url, "--as", "alice", NULL };
    g_autoptr(GSubprocess) again = NULL;
    g_autoptr(GError) error = NULL;
    gboolean exited = FALSE;

    again = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);
    g_assert_no_error (error);
    g_subprocess_wait_async (again, NULL, on_exited, &exited);
    g_assert_true (core_test_wait_flag (&exited, 2 * WAIT_MS));
    g_assert_true (g_subprocess_get_successful (again));
    g_assert_cmpint (name_owner_pid (alice->app_id), ==, alice->pid);
  }

  stop_confab (alice);
  stop_confab (bob);
  g_assert_true (core_test_sandbox_wait_stat (sandbox->sandbox, "connections", 0, WAIT_MS));
}

/* Open Another Demo User… ------------------------------------------------------------------- */

static void
test_open_another_user (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start_in_memory (NULL);
  g_autoptr(Instance) alice = start_confab (sandbox->url, "alice");
  g_autoptr(Instance) bob = instance_new (sandbox->url, "bob");
  OnlineWait online = { sandbox, { "alice", NULL, NULL } };
  WindowWait windows = { alice->pid, 1, NULL };
  Reap reaped = { 0, 0 };
  g_autofree char *cmdline_path = NULL;
  g_autofree char *cmdline = NULL;
  gsize length = 0;

  if (!have_xdotool ())
    {
      stop_confab (alice);
      g_test_skip ("xdotool is not installed: the dialog's Open cannot be pressed");
      return;
    }
  g_assert_true (core_test_wait_until (users_online, &online, SIGN_IN_MS));
  g_assert_true (core_test_wait_until (windows_mapped, &windows, WAIT_MS));
  g_assert_false (name_owned (bob->app_id));

  /* The menu item, then the dialog's Enter: it proposes bob. */
  activate_action (alice, "open-another-user", NULL);
  windows.n = 2;
  g_assert_true (core_test_wait_until (windows_mapped, &windows, WAIT_MS));
  g_free (xdotool ("key", "Return", NULL));

  /* A second process, started by alice's, signed in as bob. */
  g_assert_true (core_test_wait_until (name_owned, bob->app_id, SIGN_IN_MS));
  bob->pid = name_owner_pid (bob->app_id);
  g_assert_cmpint (bob->pid, !=, alice->pid);
  g_assert_cmpint (parent_pid (bob->pid), ==, alice->pid);
  cmdline_path = g_strdup_printf ("/proc/%d/cmdline", bob->pid);
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &length, NULL));
  /* Its arguments (NUL-separated): the same sandbox, as bob. */
  {
    g_autoptr(GPtrArray) args = g_ptr_array_new ();

    for (gsize at = 0; at < length; at += strlen (cmdline + at) + 1)
      g_ptr_array_add (args, cmdline + at);
    g_assert_cmpuint (args->len, ==, 5);
    g_assert_cmpstr (g_ptr_array_index (args, 1), ==, "--sandbox");
    g_assert_cmpstr (g_ptr_array_index (args, 2), ==, sandbox->url);
    g_assert_cmpstr (g_ptr_array_index (args, 3), ==, "--as");
    g_assert_cmpstr (g_ptr_array_index (args, 4), ==, "bob");
  }
  online.user_ids[1] = "bob";
  g_assert_true (core_test_wait_until (users_online, &online, SIGN_IN_MS));
  g_assert_true (core_test_sandbox_wait_stat (sandbox->sandbox, "connections", 2, WAIT_MS));

  /* Ended: alice first; bob's process, orphaned, comes to this subreaper and keeps
   * running; then bob, reaped here: both quit cleanly (status 0; in a sanitizer build,
   * without a leak). Nobody stays connected. */
  stop_confab (alice);
  g_assert_true (core_test_wait_until (reparented_here, GINT_TO_POINTER (bob->pid), WAIT_MS));
  g_assert_true (name_owned (bob->app_id));
  g_assert_cmpint (kill (bob->pid, SIGTERM), ==, 0);
  reaped.pid = bob->pid;
  g_assert_true (core_test_wait_until (reap, &reaped, WAIT_MS));
  g_assert_true (WIFEXITED (reaped.status));
  g_assert_cmpint (WEXITSTATUS (reaped.status), ==, 0);
  g_assert_true (core_test_sandbox_wait_stat (sandbox->sandbox, "connections", 0, WAIT_MS));
  g_strfreev (windows.windows);
}

int
main (int   argc,
      char *argv[])
{
  /* No GTK here: this process only watches. (A display of its own would also take part
   * in the X clipboard and its selection traffic, which leaks in GTK 4.8's X11
   * backend.) */
  setlocale (LC_ALL, "C.UTF-8");
  g_unsetenv ("LANGUAGE");
  g_test_init (&argc, &argv, NULL);
  /* Orphans of the confab processes this test starts come here, to be reaped. */
  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1), ==, 0);
  /* Somewhere for the apps' notifications to go (answered while this process waits). */
  app_test_notifications ();

  g_test_add_func ("/confab/app/cli/two-users-chat", test_two_users_chat);
  g_test_add_func ("/confab/app/cli/open-another-user", test_open_another_user);

  return g_test_run ();
}
