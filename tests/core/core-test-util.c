/* core-test-util.c: shared helpers for the core tests (waits, the sandbox, REST, fakes)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "core-test-util.h"

#define DEFAULT_SANDBOX_PATH "/work/main/_build/src/sandbox/confab-sandbox"
/* A sandbox seeding a large demo history under AddressSanitizer (full malloc stacks)
 * needs longer than a plain one. */
#if defined(__SANITIZE_ADDRESS__)
#define READY_TIMEOUT_MS     30000
#else
#define READY_TIMEOUT_MS     5000
#endif
#define REST_TIMEOUT_MS      5000
#define STOP_TIMEOUT_MS      3000
#define POLL_INTERVAL_MS     20

/* Waiting ------------------------------------------------------------------------------ */

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Wakes the loop now and then, so a condition that no source of ours drives (a counter
 * of file descriptors, say) is looked at again. */
static gboolean
on_wake (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
core_test_wait_until (CoreTestCondition condition,
                      gpointer          user_data,
                      guint             timeout_ms)
{
  GMainContext *context = g_main_context_ref_thread_default ();
  gboolean expired = FALSE;
  gboolean result;
  GSource *deadline;
  GSource *wake;

  deadline = g_timeout_source_new (timeout_ms);
  g_source_set_callback (deadline, on_deadline, &expired, NULL);
  g_source_attach (deadline, context);
  wake = g_timeout_source_new (POLL_INTERVAL_MS);
  g_source_set_callback (wake, on_wake, NULL, NULL);
  g_source_attach (wake, context);

  while (!(result = condition (user_data)) && !expired)
    g_main_context_iteration (context, TRUE);

  g_source_destroy (deadline);
  g_source_unref (deadline);
  g_source_destroy (wake);
  g_source_unref (wake);
  g_main_context_unref (context);
  return result;
}

static gboolean
flag_is_set (gpointer user_data)
{
  const gboolean *flag = user_data;

  return *flag;
}

gboolean
core_test_wait_flag (const gboolean *flag,
                     guint           timeout_ms)
{
  return core_test_wait_until (flag_is_set, (gpointer) flag, timeout_ms);
}

typedef struct
{
  const guint *counter;
  guint        at_least;
} CountCondition;

static gboolean
count_reached (gpointer user_data)
{
  CountCondition *condition = user_data;

  return *condition->counter >= condition->at_least;
}

gboolean
core_test_wait_count (const guint *counter,
                      guint        at_least,
                      guint        timeout_ms)
{
  CountCondition condition = { counter, at_least };

  return core_test_wait_until (count_reached, &condition, timeout_ms);
}

static gboolean
never (gpointer user_data)
{
  return FALSE;
}

/* Only a polling interval between two looks at something outside this process. */
static void
poll_interval (void)
{
  core_test_wait_until (never, NULL, POLL_INTERVAL_MS);
}

gint64
core_test_elapsed_ms (gint64 start_us)
{
  return (g_get_monotonic_time () - start_us) / 1000;
}

int
core_test_count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  int count = 0;

  if (dir == NULL)
    return -1;
  while (g_dir_read_name (dir) != NULL)
    count++;
  return count;
}

/* The sandbox --------------------------------------------------------------------------- */

char *
core_test_sandbox_path (void)
{
  const char *path = g_getenv ("CONFAB_SANDBOX");

  if (path == NULL || *path == '\0')
    path = DEFAULT_SANDBOX_PATH;
  if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    return NULL;
  return g_strdup (path);
}

typedef struct
{
  gboolean  done;
  char     *line;
  GError   *error;
} LineRead;

static void
on_line_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  LineRead *read = user_data;

  read->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                          NULL, &read->error);
  read->done = TRUE;
}

static void
on_process_exited (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  gboolean *exited = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *exited = TRUE;
}

/* In the child, before exec: a test that aborts must not leave its sandbox running. */
static void
die_with_parent (gpointer user_data)
{
#ifdef __linux__
  /* SIGKILL, not SIGTERM: a sandbox a test has SIGSTOPped would hold SIGTERM pending
   * (and the test's output pipe open) forever. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
}

static void
sandbox_free (CoreTestSandbox *sandbox)
{
  g_clear_object (&sandbox->process);
  g_free (sandbox->url);
  g_free (sandbox->api_key);
  g_free (sandbox);
}

CoreTestSandbox *
core_test_sandbox_start (const char        *api_key,
                         const char        *api_secret,
                         const char *const *extra_args,
                         GError           **error)
{
  g_autofree char *path = core_test_sandbox_path ();
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  CoreTestSandbox *sandbox;
  LineRead read = { 0 };
  JsonNode *root;
  const char *url = NULL;

  if (path == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "no confab-sandbox binary (set CONFAB_SANDBOX)");
      return NULL;
    }

  g_ptr_array_add (argv, path);
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, (gpointer) "127.0.0.1:0");
  g_ptr_array_add (argv, (gpointer) "--api-key");
  g_ptr_array_add (argv, (gpointer) api_key);
  g_ptr_array_add (argv, (gpointer) "--api-secret");
  g_ptr_array_add (argv, (gpointer) api_secret);
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra_args[i]);
  g_ptr_array_add (argv, NULL);

  sandbox = g_new0 (CoreTestSandbox, 1);
  sandbox->api_key = g_strdup (api_key);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  sandbox->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
  if (sandbox->process == NULL)
    {
      sandbox_free (sandbox);
      return NULL;
    }

  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (sandbox->process));
  /* The pipe stays open after the ready line, so a later print cannot SIGPIPE it. */
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (lines), FALSE);
  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, cancellable, on_line_read, &read);
  if (!core_test_wait_flag (&read.done, READY_TIMEOUT_MS))
    {
      g_cancellable_cancel (cancellable);
      core_test_wait_flag (&read.done, 1000);
      g_clear_error (&read.error);
      g_free (read.line);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "the sandbox printed no ready line within %d ms", READY_TIMEOUT_MS);
      core_test_sandbox_stop (sandbox);
      return NULL;
    }
  if (read.line == NULL)
    {
      if (read.error != NULL)
        g_propagate_error (error, read.error);
      else
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the sandbox exited before it was ready");
      core_test_sandbox_stop (sandbox);
      return NULL;
    }

  if (json_parser_load_from_data (parser, read.line, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    url = json_object_get_string_member_with_default (json_node_get_object (root), "listening", NULL);
  if (url == NULL || !g_str_has_prefix (url, "http://127.0.0.1:"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "unexpected ready line: %s", read.line);
      g_free (read.line);
      core_test_sandbox_stop (sandbox);
      return NULL;
    }
  sandbox->url = g_strdup (url);
  if (g_str_has_suffix (sandbox->url, "/"))
    sandbox->url[strlen (sandbox->url) - 1] = '\0';
  g_free (read.line);
  return sandbox;
}

void
core_test_sandbox_stop (CoreTestSandbox *sandbox)
{
  gboolean exited = FALSE;

  if (sandbox == NULL)
    return;

  if (sandbox->process != NULL)
    {
      g_subprocess_wait_async (sandbox->process, NULL, on_process_exited, &exited);
      g_subprocess_send_signal (sandbox->process, SIGTERM);
      if (!core_test_wait_flag (&exited, STOP_TIMEOUT_MS))
        {
          g_subprocess_force_exit (sandbox->process);
          core_test_wait_flag (&exited, STOP_TIMEOUT_MS);
        }
    }
  sandbox_free (sandbox);
}

char *
core_test_sandbox_demo_token (CoreTestSandbox  *sandbox,
                              const char       *user_id,
                              GError          **error)
{
  g_autofree char *url = g_strdup_printf ("%s/sandbox/demo-token", sandbox->url);
  g_autofree char *body = g_strdup_printf ("{\"user_id\":\"%s\"}", user_id);
  g_autoptr(JsonObject) answer = NULL;
  const char *token;
  guint status = 0;

  answer = core_test_rest ("POST", url, NULL, body, &status, error);
  if (answer == NULL)
    return NULL;
  token = json_object_get_string_member_with_default (answer, "token", NULL);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status) || token == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "demo-token answered HTTP %u", status);
      return NULL;
    }
  return g_strdup (token);
}

gint64
core_test_sandbox_stat (CoreTestSandbox *sandbox,
                        const char      *member)
{
  g_autofree char *url = g_strdup_printf ("%s/sandbox/stats", sandbox->url);
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  answer = core_test_rest ("GET", url, NULL, NULL, &status, &error);
  if (answer == NULL || status != SOUP_STATUS_OK)
    return -1;
  return json_object_get_int_member_with_default (answer, member, -1);
}

gboolean
core_test_sandbox_wait_stat (CoreTestSandbox *sandbox,
                             const char      *member,
                             gint64           value,
                             guint            timeout_ms)
{
  gint64 start = g_get_monotonic_time ();

  for (;;)
    {
      gint64 current = core_test_sandbox_stat (sandbox, member);

      if (current == value)
        return TRUE;
      if (core_test_elapsed_ms (start) >= timeout_ms)
        {
          g_test_message ("sandbox stat %s is %" G_GINT64_FORMAT ", waited for %" G_GINT64_FORMAT,
                          member, current, value);
          return FALSE;
        }
      poll_interval ();
    }
}

gboolean
core_test_sandbox_rate_limit (CoreTestSandbox  *sandbox,
                              const char       *path,
                              guint             count,
                              const char       *retry_after,
                              gint64            reset,
                              GError          **error)
{
  g_autofree char *url = g_strdup_printf ("%s/sandbox/rate-limit", sandbox->url);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *body = NULL;
  guint status = 0;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, path);
  json_builder_set_member_name (builder, "count");
  json_builder_add_int_value (builder, count);
  if (retry_after != NULL)
    {
      json_builder_set_member_name (builder, "retry_after");
      json_builder_add_string_value (builder, retry_after);
    }
  if (reset > 0)
    {
      json_builder_set_member_name (builder, "reset");
      json_builder_add_int_value (builder, reset);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  body = json_to_string (root, FALSE);

  answer = core_test_rest ("POST", url, NULL, body, &status, error);
  if (answer == NULL)
    return FALSE;
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "rate-limit answered HTTP %u", status);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  guint       in_flight;
  guint       done;
  GPtrArray  *order;   /* ids as the server answered (created_at order) */
  GPtrArray  *created; /* the matching created_at */
  GError     *error;
} PostBatch;

typedef struct
{
  PostBatch   *batch;
  SoupMessage *msg;
} PostOne;

static void
on_post_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PostOne *one = user_data;
  PostBatch *batch = one->batch;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                                              batch->error == NULL ? &batch->error : NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();

  batch->in_flight--;
  batch->done++;
  if (body != NULL && soup_message_get_status (one->msg) == SOUP_STATUS_CREATED &&
      json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body), NULL))
    {
      JsonObject *message = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)),
                                                           "message");

      g_ptr_array_add (batch->order, g_strdup (json_object_get_string_member (message, "id")));
      g_ptr_array_add (batch->created, g_strdup (json_object_get_string_member (message, "created_at")));
    }
  else if (batch->error == NULL)
    g_set_error (&batch->error, G_IO_ERROR, G_IO_ERROR_FAILED, "a message POST answered HTTP %u",
                 soup_message_get_status (one->msg));
  g_object_unref (one->msg);
  g_free (one);
}

static gboolean
batch_below (gpointer user_data)
{
  PostBatch *batch = user_data;

  return batch->in_flight < 8;
}

static gboolean
batch_idle (gpointer user_data)
{
  PostBatch *batch = user_data;

  return batch->in_flight == 0;
}

static int
compare_created (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  GPtrArray *created = user_data;
  guint ia = *(const guint *) a;
  guint ib = *(const guint *) b;
  int c = strcmp (g_ptr_array_index (created, ia), g_ptr_array_index (created, ib));

  return c != 0 ? c : (ia < ib ? -1 : ia > ib);
}

GPtrArray *
core_test_sandbox_post_messages (CoreTestSandbox *sandbox,
                                 const char      *token,
                                 const char      *user_id,
                                 const char      *cid,
                                 const char      *prefix,
                                 guint            n)
{
  g_autoptr(SoupSession) session = soup_session_new_with_options ("max-conns-per-host", 8, NULL);
  g_auto(GStrv) parts = g_strsplit (cid, ":", 2);
  g_autoptr(GArray) index = g_array_new (FALSE, FALSE, sizeof (guint));
  PostBatch batch = { 0 };
  GPtrArray *ids;

  g_assert_nonnull (parts[1]);
  batch.order = g_ptr_array_new_with_free_func (g_free);
  batch.created = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *url = g_strdup_printf ("%s/channels/%s/%s/message?api_key=%s&user_id=%s", sandbox->url,
                                              parts[0], parts[1], sandbox->api_key, user_id);
      g_autofree char *body = g_strdup_printf ("{\"message\":{\"text\":\"%s %u\"}}", prefix, i + 1);
      PostOne *one = g_new0 (PostOne, 1);

      g_assert_true (core_test_wait_until (batch_below, &batch, 30000));
      one->batch = &batch;
      one->msg = soup_message_new ("POST", url);
      soup_message_headers_replace (soup_message_get_request_headers (one->msg), "Authorization", token);
      soup_message_headers_replace (soup_message_get_request_headers (one->msg), "stream-auth-type", "jwt");
      {
        gsize length = strlen (body);
        g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&body), length);

        soup_message_set_request_body_from_bytes (one->msg, "application/json", bytes);
      }
      batch.in_flight++;
      soup_session_send_and_read_async (session, one->msg, G_PRIORITY_DEFAULT, NULL, on_post_done, one);
    }
  g_assert_true (core_test_wait_until (batch_idle, &batch, 60000));
  g_assert_no_error (batch.error);
  g_assert_cmpuint (batch.order->len, ==, n);

  /* In the server's order (created_at; RFC 3339 in UTC sorts as text). */
  for (guint i = 0; i < n; i++)
    g_array_append_val (index, i);
  g_array_sort_with_data (index, compare_created, batch.created);
  ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (ids, g_strdup (g_ptr_array_index (batch.order, g_array_index (index, guint, i))));
  g_ptr_array_unref (batch.order);
  g_ptr_array_unref (batch.created);
  return ids;
}

/* REST --------------------------------------------------------------------------------- */

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

JsonObject *
core_test_rest (const char  *method,
                const char  *url,
                const char  *token,
                const char  *body,
                guint       *out_status,
                GError     **error)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GBytes) answer = NULL;
  RestCall call = { 0 };
  const char *data;
  gsize length = 0;
  JsonNode *root;

  if (out_status != NULL)
    *out_status = 0;
  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad URL %s", url);
      return NULL;
    }
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

  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, cancellable, on_rest_done, &call);
  if (!core_test_wait_flag (&call.done, REST_TIMEOUT_MS))
    {
      g_cancellable_cancel (cancellable);
      core_test_wait_flag (&call.done, 1000);
    }
  if (!call.done)
    g_error ("a cancelled REST call did not finish");

  answer = call.body;
  if (answer == NULL)
    {
      g_propagate_error (error, call.error);
      return NULL;
    }
  if (out_status != NULL)
    *out_status = soup_message_get_status (msg);

  data = g_bytes_get_data (answer, &length);
  if (length == 0)
    return json_object_new ();
  if (!json_parser_load_from_data (parser, data, length, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s %s: not a JSON object", method, url);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* Fakes --------------------------------------------------------------------------------- */

static GSocketAddress *
loopback_any_port (void)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);

  return g_inet_socket_address_new (loopback, 0);
}

SoupServer *
core_test_soup_server_new (char   **out_url,
                           GError **error)
{
  g_autoptr(SoupServer) server = soup_server_new ("server-header", "fake-stream ", NULL);
  g_autoptr(GSocketAddress) address = loopback_any_port ();
  GSList *uris;

  if (!soup_server_listen (server, address, 0, error))
    return NULL;
  uris = soup_server_get_uris (server);
  g_assert_nonnull (uris);
  *out_url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return g_steal_pointer (&server);
}

typedef struct
{
  CoreTestBlackHole *hole;
  GInputStream      *input;
  guint8             buffer[4096];
} HoleReader;

static void read_some (HoleReader *reader);

static void
on_hole_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  HoleReader *reader = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  reader->hole->pending_reads--;
  if (n > 0)
    {
      read_some (reader);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    reader->hole->n_closed++;
  g_object_unref (reader->input);
  g_free (reader);
}

static void
read_some (HoleReader *reader)
{
  reader->hole->pending_reads++;
  g_input_stream_read_async (reader->input, reader->buffer, sizeof reader->buffer, G_PRIORITY_DEFAULT,
                             reader->hole->watching, on_hole_read, reader);
}

static void
watch_connection (CoreTestBlackHole *hole,
                  GSocketConnection *connection)
{
  HoleReader *reader = g_new0 (HoleReader, 1);

  reader->hole = hole;
  reader->input = g_object_ref (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  read_some (reader);
}

static gboolean
on_hole_incoming (GSocketService    *service,
                  GSocketConnection *connection,
                  GObject           *source_object,
                  gpointer           user_data)
{
  CoreTestBlackHole *hole = user_data;

  g_ptr_array_add (hole->connections, g_object_ref (connection));
  if (hole->watching != NULL)
    watch_connection (hole, connection);
  return TRUE;
}

CoreTestBlackHole *
core_test_black_hole_new (GError **error)
{
  g_autoptr(GSocketAddress) address = loopback_any_port ();
  g_autoptr(GSocketAddress) effective = NULL;
  CoreTestBlackHole *hole = g_new0 (CoreTestBlackHole, 1);

  hole->service = g_socket_service_new ();
  hole->connections = g_ptr_array_new_with_free_func (g_object_unref);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (hole->service), address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, error))
    {
      core_test_black_hole_free (hole);
      return NULL;
    }
  hole->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (hole->service, "incoming", G_CALLBACK (on_hole_incoming), hole);
  g_socket_service_start (hole->service);
  return hole;
}

void
core_test_black_hole_watch (CoreTestBlackHole *hole)
{
  g_return_if_fail (hole->watching == NULL);

  hole->watching = g_cancellable_new ();
  for (guint i = 0; i < hole->connections->len; i++)
    watch_connection (hole, g_ptr_array_index (hole->connections, i));
}

static gboolean
no_pending_reads (gpointer user_data)
{
  CoreTestBlackHole *hole = user_data;

  return hole->pending_reads == 0;
}

void
core_test_black_hole_free (CoreTestBlackHole *hole)
{
  if (hole == NULL)
    return;
  if (hole->watching != NULL)
    {
      /* The readers point at the hole: let the cancelled reads finish first. */
      g_cancellable_cancel (hole->watching);
      if (!core_test_wait_until (no_pending_reads, hole, 2000))
        g_error ("cancelled reads on the black hole did not finish");
      g_clear_object (&hole->watching);
    }
  g_socket_service_stop (hole->service);
  g_socket_listener_close (G_SOCKET_LISTENER (hole->service));
  g_signal_handlers_disconnect_by_data (hole->service, hole);
  for (guint i = 0; i < hole->connections->len; i++)
    g_io_stream_close (g_ptr_array_index (hole->connections, i), NULL, NULL);
  g_ptr_array_unref (hole->connections);
  g_object_unref (hole->service);
  g_free (hole);
}

guint16
core_test_refused_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GSocketAddress) address = loopback_any_port ();
  g_autoptr(GSocketAddress) local = NULL;
  guint16 port;

  if (socket == NULL || !g_socket_bind (socket, address, FALSE, NULL))
    return 0;
  local = g_socket_get_local_address (socket, NULL);
  if (local == NULL)
    return 0;
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_socket_close (socket, NULL);
  return port;
}

static char *
base64url (const void *data,
           gsize       length)
{
  char *text = g_base64_encode (data, length);
  char *padding;

  g_strdelimit (text, "+", '-');
  g_strdelimit (text, "/", '_');
  padding = strchr (text, '=');
  if (padding != NULL)
    *padding = '\0';
  return text;
}

char *
core_test_sign_jwt (const char *payload_json,
                    const char *secret)
{
  const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  g_autofree char *header_part = base64url (header, strlen (header));
  g_autofree char *payload_part = base64url (payload_json, strlen (payload_json));
  g_autofree char *signing_input = g_strconcat (header_part, ".", payload_part, NULL);
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  g_autofree char *signature = NULL;
  guint8 digest[32];
  gsize digest_length = sizeof digest;

  g_hmac_update (hmac, (const guchar *) signing_input, -1);
  g_hmac_get_digest (hmac, digest, &digest_length);
  signature = base64url (digest, digest_length);
  return g_strconcat (signing_input, ".", signature, NULL);
}

static gboolean
process_is_stopped (gpointer user_data)
{
  const char *stat_path = user_data;
  g_autofree char *contents = NULL;
  const char *paren;

  if (!g_file_get_contents (stat_path, &contents, NULL, NULL))
    return FALSE;
  /* "pid (comm) S ...": the state follows the last parenthesis. */
  paren = strrchr (contents, ')');
  return paren != NULL && paren[1] == ' ' && (paren[2] == 'T' || paren[2] == 't');
}

gboolean
core_test_sandbox_pause (CoreTestSandbox *sandbox,
                         guint            timeout_ms)
{
  g_autofree char *stat_path = NULL;

  g_return_val_if_fail (sandbox != NULL && sandbox->process != NULL, FALSE);

  stat_path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (sandbox->process));
  g_subprocess_send_signal (sandbox->process, SIGSTOP);
  return core_test_wait_until (process_is_stopped, stat_path, timeout_ms);
}
