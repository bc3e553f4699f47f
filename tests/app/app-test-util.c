/* app-test-util.c: shared helpers for the GTK tests (sandbox, manager, widgets, proxy)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <locale.h>
#include <signal.h>
#include <sqlite3.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "app-test-util.h"
#include "confab-static-token-provider.h"
#include "confab-widgets.h"

#define SANDBOX_READY_MS 30000
#define REST_DEADLINE_MS 30000

void
app_test_init (int    *argc,
               char ***argv)
{
  /* English, whatever the runner's locale: the tests compare texts. */
  gtk_disable_setlocale ();
  setlocale (LC_ALL, "C.UTF-8");
  g_unsetenv ("LANGUAGE");
  g_test_init (argc, argv, NULL);
  adw_init ();
  confab_widgets_init ();
}

/* AppTestMonitor ------------------------------------------------------------------------ */

struct _AppTestMonitor
{
  GObject  parent_instance;
  gboolean available;
};

enum {
  MON_PROP_0,
  MON_PROP_AVAILABLE,
  MON_PROP_METERED,
  MON_PROP_CONNECTIVITY,
};

static gboolean
app_test_monitor_initable_init (GInitable     *initable,
                                GCancellable  *cancellable,
                                GError       **error)
{
  return TRUE;
}

static void
app_test_monitor_initable_iface_init (GInitableIface *iface)
{
  iface->init = app_test_monitor_initable_init;
}

static void
app_test_monitor_iface_init (GNetworkMonitorInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (AppTestMonitor, app_test_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, app_test_monitor_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, app_test_monitor_iface_init))

static void
app_test_monitor_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  AppTestMonitor *self = APP_TEST_MONITOR (object);

  switch (prop_id)
    {
    case MON_PROP_AVAILABLE:
      g_value_set_boolean (value, self->available);
      break;
    case MON_PROP_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case MON_PROP_CONNECTIVITY:
      g_value_set_enum (value, self->available ? G_NETWORK_CONNECTIVITY_FULL : G_NETWORK_CONNECTIVITY_LOCAL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
app_test_monitor_class_init (AppTestMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = app_test_monitor_get_property;
  g_object_class_override_property (object_class, MON_PROP_AVAILABLE, "network-available");
  g_object_class_override_property (object_class, MON_PROP_METERED, "network-metered");
  g_object_class_override_property (object_class, MON_PROP_CONNECTIVITY, "connectivity");
}

static void
app_test_monitor_init (AppTestMonitor *self)
{
  self->available = TRUE;
}

AppTestMonitor *
app_test_monitor_new (void)
{
  return g_object_new (APP_TEST_TYPE_MONITOR, NULL);
}

void
app_test_monitor_set_available (AppTestMonitor *self,
                                gboolean        available)
{
  if (self->available == available)
    return;
  self->available = available;
  g_object_notify (G_OBJECT (self), "network-available");
  g_signal_emit_by_name (self, "network-changed", available);
}

/* The sandbox -------------------------------------------------------------------------------- */

/* In the child, before exec: a test that aborts must not leave its sandbox running. */
static void
die_with_parent (gpointer user_data)
{
#ifdef __linux__
  prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
}

typedef struct
{
  gboolean  done;
  char     *line;
} ReadyLine;

static void
on_ready_line (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  ReadyLine *ready = user_data;

  ready->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  ready->done = TRUE;
}

/* As core_test_sandbox_start(), with a longer wait for the ready line: a sandbox filling
 * 10 000 demo messages on a busy machine takes seconds. */
static CoreTestSandbox *
spawn (AppTestSandbox *sandbox,
       const char     *listen)
{
  g_autofree char *path = core_test_sandbox_path ();
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  CoreTestSandbox *spawned = g_new0 (CoreTestSandbox, 1);
  ReadyLine ready = { 0 };
  const char *url = NULL;
  JsonNode *root;

  g_assert_nonnull (path);
  g_ptr_array_add (args, path);
  g_ptr_array_add (args, (gpointer) "--listen");
  g_ptr_array_add (args, (gpointer) (listen != NULL ? listen : "127.0.0.1:0"));
  g_ptr_array_add (args, (gpointer) "--api-key");
  g_ptr_array_add (args, (gpointer) APP_TEST_API_KEY);
  g_ptr_array_add (args, (gpointer) "--api-secret");
  g_ptr_array_add (args, (gpointer) APP_TEST_API_SECRET);
  g_ptr_array_add (args, (gpointer) "--demo");
  if (sandbox->data_dir != NULL)
    {
      g_ptr_array_add (args, (gpointer) "--data-dir");
      g_ptr_array_add (args, sandbox->data_dir);
    }
  for (guint i = 0; sandbox->extra != NULL && sandbox->extra[i] != NULL; i++)
    g_ptr_array_add (args, sandbox->extra[i]);
  g_ptr_array_add (args, NULL);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  spawned->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);
  spawned->api_key = g_strdup (APP_TEST_API_KEY);

  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (spawned->process));
  /* The pipe stays open after the ready line, so a later print cannot SIGPIPE it. */
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (lines), FALSE);
  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, NULL, on_ready_line, &ready);
  g_assert_true (core_test_wait_flag (&ready.done, SANDBOX_READY_MS));
  g_assert_nonnull (ready.line);

  if (json_parser_load_from_data (parser, ready.line, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    url = json_object_get_string_member_with_default (json_node_get_object (root), "listening", NULL);
  if (url == NULL || !g_str_has_prefix (url, "http://127.0.0.1:"))
    g_error ("unexpected ready line from the sandbox: %s", ready.line);
  spawned->url = g_strdup (url);
  if (g_str_has_suffix (spawned->url, "/"))
    spawned->url[strlen (spawned->url) - 1] = '\0';
  g_free (ready.line);
  return spawned;
}

static AppTestSandbox *
sandbox_start (const char *const *extra,
               gboolean           persistent)
{
  AppTestSandbox *sandbox = g_new0 (AppTestSandbox, 1);
  g_autoptr(GError) error = NULL;

  if (persistent)
    {
      sandbox->data_dir = g_dir_make_tmp ("confab-app-sandbox-XXXXXX", &error);
      g_assert_no_error (error);
    }
  sandbox->extra = g_strdupv ((char **) extra);
  sandbox->tokens = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sandbox->sandbox = spawn (sandbox, NULL);
  sandbox->url = g_strdup (sandbox->sandbox->url);
  return sandbox;
}

AppTestSandbox *
app_test_sandbox_start (const char *const *extra)
{
  return sandbox_start (extra, TRUE);
}

AppTestSandbox *
app_test_sandbox_start_in_memory (const char *const *extra)
{
  return sandbox_start (extra, FALSE);
}

AppTestSandbox *
app_test_sandbox_attach (const char *url,
                         const char *data_dir)
{
  AppTestSandbox *sandbox = g_new0 (AppTestSandbox, 1);

  g_assert_nonnull (url);
  sandbox->url = g_strdup (url);
  sandbox->data_dir = g_strdup (data_dir);
  sandbox->tokens = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sandbox->attached = TRUE;
  return sandbox;
}

static void
on_exited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  gboolean *exited = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *exited = TRUE;
}

void
app_test_sandbox_kill (AppTestSandbox *sandbox)
{
  CoreTestSandbox *dead = g_steal_pointer (&sandbox->sandbox);
  gboolean exited = FALSE;

  g_assert_nonnull (dead);
  g_subprocess_wait_async (dead->process, NULL, on_exited, &exited);
  g_subprocess_send_signal (dead->process, SIGKILL);
  g_assert_true (core_test_wait_flag (&exited, APP_TEST_DEADLINE_MS));
  /* Already gone: stop() only frees. */
  core_test_sandbox_stop (dead);
}

void
app_test_sandbox_restart (AppTestSandbox *sandbox)
{
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%s", strrchr (sandbox->url, ':') + 1);

  g_assert_null (sandbox->sandbox);
  g_assert_nonnull (sandbox->data_dir);
  sandbox->sandbox = spawn (sandbox, listen);
  g_assert_cmpstr (sandbox->sandbox->url, ==, sandbox->url);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

void
app_test_sandbox_free (AppTestSandbox *sandbox)
{
  if (sandbox == NULL)
    return;
  if (sandbox->sandbox != NULL)
    core_test_sandbox_stop (g_steal_pointer (&sandbox->sandbox));
  if (sandbox->data_dir != NULL && !sandbox->attached)
    remove_tree (sandbox->data_dir);
  g_free (sandbox->data_dir);
  g_free (sandbox->url);
  g_strfreev (sandbox->extra);
  g_hash_table_unref (sandbox->tokens);
  g_free (sandbox);
}

typedef struct
{
  gboolean  done;
  GBytes   *body;
  GError   *error;
} RestCall;

static void
on_rest_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  RestCall *call = user_data;

  call->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &call->error);
  call->done = TRUE;
}

/* As core_test_rest(), with a deadline that suits a sanitizer build drawing a window in
 * the same main loop; asserts an answer came. */
static JsonObject *
rest (const char *method,
      const char *url,
      const char *token,
      const char *body,
      guint      *out_status)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  RestCall call = { 0 };
  const char *data;
  gsize length = 0;
  JsonNode *root;

  g_assert_nonnull (msg);
  if (token != NULL)
    {
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", token);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "stream-auth-type", "jwt");
    }
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_rest_done, &call);
  g_assert_true (core_test_wait_flag (&call.done, REST_DEADLINE_MS));
  g_assert_no_error (call.error);
  if (out_status != NULL)
    *out_status = soup_message_get_status (msg);

  data = g_bytes_get_data (call.body, &length);
  if (length > 0)
    g_assert_true (json_parser_load_from_data (parser, data, (gssize) length, &error));
  g_bytes_unref (call.body);
  g_assert_no_error (error);
  if (length == 0)
    return json_object_new ();
  root = json_parser_get_root (parser);
  g_assert_true (root != NULL && JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

char *
app_test_sandbox_token (AppTestSandbox *sandbox,
                        const char     *user_id)
{
  g_autofree char *url = g_strdup_printf ("%s/sandbox/demo-token", sandbox->url);
  g_autofree char *body = g_strdup_printf ("{\"user_id\":\"%s\"}", user_id);
  g_autoptr(JsonObject) answer = NULL;
  const char *token = g_hash_table_lookup (sandbox->tokens, user_id);
  guint status = 0;

  /* Demo tokens do not expire: one per user for the sandbox's life. */
  if (token != NULL)
    return g_strdup (token);
  g_assert_true (sandbox->sandbox != NULL || sandbox->attached);
  answer = rest ("POST", url, NULL, body, &status);
  g_assert_cmpuint (status, ==, 201);
  token = json_object_get_string_member_with_default (answer, "token", NULL);
  g_assert_nonnull (token);
  g_hash_table_insert (sandbox->tokens, g_strdup (user_id), g_strdup (token));
  return g_strdup (token);
}

JsonObject *
app_test_sandbox_rest (AppTestSandbox *sandbox,
                       const char     *user_id,
                       const char     *method,
                       const char     *path,
                       const char     *body,
                       guint          *out_status)
{
  g_autofree char *token = app_test_sandbox_token (sandbox, user_id);
  g_autofree char *url = g_strdup_printf ("%s%s%capi_key=%s&user_id=%s", sandbox->url, path,
                                          strchr (path, '?') != NULL ? '&' : '?', APP_TEST_API_KEY, user_id);

  return rest (method, url, token, body, out_status);
}

static void
exec_sql (sqlite3    *db,
          const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("sandbox database: %s", message);
}

void
app_test_sandbox_set_member (AppTestSandbox *sandbox,
                             const char     *cid,
                             const char     *user_id,
                             gboolean        member)
{
  g_autofree char *path = NULL;
  g_autofree char *sql = NULL;
  sqlite3 *db = NULL;
  char *quoted;

  g_assert_nonnull (sandbox->data_dir);
  g_assert_true (sandbox->sandbox != NULL || sandbox->attached);
  path = g_build_filename (sandbox->data_dir, "sandbox.db", NULL);
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  /* The sandbox writes too (WAL): wait for its transactions rather than fail. */
  sqlite3_busy_timeout (db, APP_TEST_DEADLINE_MS);
  quoted = sqlite3_mprintf ("cid = %Q AND user_id = %Q", cid, user_id);
  if (member)
    sql = g_strdup_printf ("BEGIN IMMEDIATE;"
                           "INSERT INTO members SELECT * FROM app_test_removed_members WHERE %s;"
                           "DELETE FROM app_test_removed_members WHERE %s;"
                           "COMMIT;", quoted, quoted);
  else
    sql = g_strdup_printf ("BEGIN IMMEDIATE;"
                           "CREATE TABLE IF NOT EXISTS app_test_removed_members AS SELECT * FROM members WHERE 0;"
                           "INSERT INTO app_test_removed_members SELECT * FROM members WHERE %s;"
                           "DELETE FROM members WHERE %s;"
                           "COMMIT;", quoted, quoted);
  sqlite3_free (quoted);
  exec_sql (db, sql);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}

/* The connection manager ------------------------------------------------------------------- */

ConfabConnectionManager *
app_test_manager_new (const char     *base_url,
                      const char     *token,
                      AppTestMonitor *monitor,
                      ConfabClock    *clock,
                      const char     *outbox_dir,
                      const char     *state_dir)
{
  g_autoptr(ConfabStaticTokenProvider) provider = confab_static_token_provider_new (token);
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;

  if (outbox_dir != NULL)
    {
      outbox = confab_outbox_new (outbox_dir, &error);
      g_assert_no_error (error);
    }

  return g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                       "base-url", base_url,
                       "api-key", APP_TEST_API_KEY,
                       "token-provider", provider,
                       "network-monitor", monitor,
                       "clock", clock,
                       "outbox", outbox,
                       "state-dir", state_dir,
                       NULL);
}

static void
connect_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!confab_connection_manager_connect_finish (CONFAB_CONNECTION_MANAGER (source), result, &error))
    g_test_message ("connect ended: %s", error->message);
}

void
app_test_manager_connect (ConfabConnectionManager *manager,
                          const char              *user_id)
{
  confab_connection_manager_connect_async (manager, user_id, NULL, NULL, connect_done, NULL);
}

typedef struct
{
  ConfabConnectionManager *manager;
  ConfabConnectionState    state;
} StateWait;

static gboolean
state_reached (gpointer user_data)
{
  StateWait *wait = user_data;

  return confab_connection_manager_get_state (wait->manager) == wait->state;
}

gboolean
app_test_wait_state (ConfabConnectionManager *manager,
                     ConfabConnectionState    state,
                     guint                    timeout_ms)
{
  StateWait wait = { manager, state };

  return core_test_wait_until (state_reached, &wait, timeout_ms);
}

/* Widgets ------------------------------------------------------------------------------------ */

static gboolean
window_mapped (gpointer user_data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (user_data));
}

GtkWindow *
app_test_window_new (GtkWidget *child)
{
  GtkWindow *window = GTK_WINDOW (gtk_window_new ());

  gtk_window_set_default_size (window, 640, 480);
  gtk_window_set_child (window, child);
  gtk_window_present (window);
  g_assert_true (core_test_wait_until (window_mapped, window, APP_TEST_DEADLINE_MS));
  return window;
}

GtkWidget *
app_test_find_widget (GtkWidget *root,
                      GType      type)
{
  if (root == NULL)
    return NULL;
  if (g_type_is_a (G_OBJECT_TYPE (root), type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = app_test_find_widget (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

GtkWidget *
app_test_find_by_text (GtkWidget  *root,
                       const char *text)
{
  if (root == NULL)
    return NULL;
  if (GTK_IS_LABEL (root) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (root)), text) == 0)
    return root;
  if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), text) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = app_test_find_by_text (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
on_string_notify (GObject    *object,
                  GParamSpec *pspec,
                  GPtrArray  *log)
{
  g_autofree char *value = NULL;

  g_object_get (object, pspec->name, &value, NULL);
  g_ptr_array_add (log, g_strdup (value != NULL ? value : ""));
}

void
app_test_record_string (GObject    *object,
                        const char *property,
                        GPtrArray  *log)
{
  g_autofree char *signal = g_strdup_printf ("notify::%s", property);

  g_signal_connect (object, signal, G_CALLBACK (on_string_notify), log);
}

typedef struct
{
  gboolean  done;
  char     *text;
} ClipboardRead;

static void
on_clipboard_read (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ClipboardRead *read = user_data;
  g_autoptr(GError) error = NULL;

  read->text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);
  if (error != NULL)
    g_test_message ("clipboard read failed: %s", error->message);
  read->done = TRUE;
}

char *
app_test_read_clipboard (GdkClipboard *clipboard)
{
  ClipboardRead read = { 0 };

  gdk_clipboard_read_text_async (clipboard, NULL, on_clipboard_read, &read);
  g_assert_true (core_test_wait_flag (&read.done, APP_TEST_DEADLINE_MS));
  return read.text;
}

void
app_test_print_log (const char *what,
                    GPtrArray  *log)
{
  g_test_message ("%s (%u):", what, log->len);
  for (guint i = 0; i < log->len; i++)
    g_test_message ("  [%u] \"%s\"", i, (const char *) g_ptr_array_index (log, i));
}

/* The delaying proxy ----------------------------------------------------------------------- */

struct _AppTestDelayProxy
{
  GSocketService *service;
  guint16         target_port;
  guint           delay_ms;
  char           *url;
  GPtrArray      *pipes;  /* Pipe */
};

typedef struct
{
  int                ref_count;
  AppTestDelayProxy *proxy;
  GSocketConnection *from;
  GSocketConnection *to;
  gboolean           delayed;
  GCancellable      *cancellable;
  guint8             buf[16384];
  gsize              len;
  guint              timeout_id;
} Pipe;

static void pipe_read (Pipe *pipe);

static Pipe *
pipe_ref (Pipe *pipe)
{
  pipe->ref_count++;
  return pipe;
}

static void
pipe_unref (gpointer data)
{
  Pipe *pipe = data;

  if (--pipe->ref_count > 0)
    return;
  g_clear_object (&pipe->cancellable);
  g_clear_object (&pipe->from);
  g_clear_object (&pipe->to);
  g_free (pipe);
}

/* Closing the sockets (not the streams) works with reads still pending. */
static void
pipe_stop (Pipe *pipe)
{
  g_cancellable_cancel (pipe->cancellable);
  g_clear_handle_id (&pipe->timeout_id, g_source_remove);
  g_socket_close (g_socket_connection_get_socket (pipe->to), NULL);
  g_socket_close (g_socket_connection_get_socket (pipe->from), NULL);
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Pipe *pipe = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    pipe_stop (pipe);
  else if (!g_cancellable_is_cancelled (pipe->cancellable))
    pipe_read (pipe);
  pipe_unref (pipe);
}

static gboolean
pipe_write (gpointer user_data)
{
  Pipe *pipe = user_data;

  pipe->timeout_id = 0;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (pipe->to)), pipe->buf, pipe->len,
                                   G_PRIORITY_DEFAULT, pipe->cancellable, on_written, pipe_ref (pipe));
  return G_SOURCE_REMOVE;
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Pipe *pipe = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n <= 0 || g_cancellable_is_cancelled (pipe->cancellable))
    pipe_stop (pipe);
  else
    {
      pipe->len = (gsize) n;
      if (pipe->delayed)
        pipe->timeout_id = g_timeout_add_full (G_PRIORITY_DEFAULT, pipe->proxy->delay_ms, pipe_write,
                                               pipe_ref (pipe), pipe_unref);
      else
        pipe_write (pipe);
    }
  pipe_unref (pipe);
}

static void
pipe_read (Pipe *pipe)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (pipe->from)), pipe->buf, sizeof pipe->buf,
                             G_PRIORITY_DEFAULT, pipe->cancellable, on_read, pipe_ref (pipe));
}

static void
pipe_drop (gpointer data)
{
  Pipe *pipe = data;

  pipe_stop (pipe);
  pipe_unref (pipe);
}

static Pipe *
pipe_new (AppTestDelayProxy *proxy,
          GSocketConnection *from,
          GSocketConnection *to,
          gboolean           delayed)
{
  Pipe *pipe = g_new0 (Pipe, 1);

  pipe->ref_count = 1;
  pipe->proxy = proxy;
  pipe->from = g_object_ref (from);
  pipe->to = g_object_ref (to);
  pipe->delayed = delayed;
  pipe->cancellable = g_cancellable_new ();
  g_ptr_array_add (proxy->pipes, pipe);
  return pipe;
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  AppTestDelayProxy *proxy = user_data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) upstream = NULL;

  /* Loopback: a blocking connect is instant. */
  upstream = g_socket_client_connect_to_host (client, "127.0.0.1", proxy->target_port, NULL, NULL);
  if (upstream == NULL)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  pipe_read (pipe_new (proxy, connection, upstream, TRUE));
  pipe_read (pipe_new (proxy, upstream, connection, FALSE));
  return TRUE;
}

AppTestDelayProxy *
app_test_delay_proxy_new (const char *target_url,
                          guint       delay_ms)
{
  AppTestDelayProxy *proxy = g_new0 (AppTestDelayProxy, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  proxy->target_port = (guint16) g_ascii_strtoull (strrchr (target_url, ':') + 1, NULL, 10);
  proxy->delay_ms = delay_ms;
  proxy->pipes = g_ptr_array_new_with_free_func (pipe_drop);
  proxy->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (proxy->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  proxy->url = g_strdup_printf ("http://127.0.0.1:%u",
                                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_signal_connect (proxy->service, "incoming", G_CALLBACK (on_incoming), proxy);
  g_socket_service_start (proxy->service);
  return proxy;
}

const char *
app_test_delay_proxy_get_url (AppTestDelayProxy *proxy)
{
  return proxy->url;
}

void
app_test_delay_proxy_free (AppTestDelayProxy *proxy)
{
  if (proxy == NULL)
    return;
  g_socket_service_stop (proxy->service);
  g_socket_listener_close (G_SOCKET_LISTENER (proxy->service));
  g_clear_object (&proxy->service);
  g_ptr_array_unref (proxy->pipes);
  g_free (proxy->url);
  g_free (proxy);
}
