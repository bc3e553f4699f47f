/* test-cli.c: confab-cli, spawned against the real sandbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "core-test-util.h"

#define API_KEY         "cli-key"
#define API_SECRET      "cli-secret"
#define DEFAULT_CLI     "/work/main/_build/src/cli/confab-cli"
#define DEADLINE_MS     15000

/* A running confab-cli ------------------------------------------------------------------- */

typedef struct
{
  GSubprocess      *process;
  GDataInputStream *out;
  GDataInputStream *err;
  GPtrArray        *lines;      /* stdout lines */
  GString          *errors;     /* stderr */
  gboolean          out_eof;
  gboolean          err_eof;
  gboolean          exited;
  int               status;     /* exit status, -1 if killed by a signal */
} Cli;

static char *
cli_path (void)
{
  const char *path = g_getenv ("CONFAB_CLI");

  return g_strdup (path != NULL && *path != '\0' ? path : DEFAULT_CLI);
}

static void read_out (Cli *cli);
static void read_err (Cli *cli);

static void
out_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  Cli *cli = user_data;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  if (line == NULL)
    {
      cli->out_eof = TRUE;
      return;
    }
  g_ptr_array_add (cli->lines, line);
  read_out (cli);
}

static void
read_out (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->out, G_PRIORITY_DEFAULT, NULL, out_cb, cli);
}

static void
err_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  Cli *cli = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  if (line == NULL)
    {
      cli->err_eof = TRUE;
      return;
    }
  g_string_append_printf (cli->errors, "%s\n", line);
  read_err (cli);
}

static void
read_err (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->err, G_PRIORITY_DEFAULT, NULL, err_cb, cli);
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Cli *cli = user_data;
  GSubprocess *process = G_SUBPROCESS (source);

  g_subprocess_wait_finish (process, result, NULL);
  cli->status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  cli->exited = TRUE;
}

/* Spawns confab-cli @argv (NULL-terminated, without the program) with @input on stdin
 * (NULL: /dev/null) and XDG_STATE_HOME in @state_dir. */
static Cli *
cli_spawn (const char *const *argv,
           const char        *input,
           const char        *state_dir)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  Cli *cli = g_new0 (Cli, 1);
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;

  flags |= input != NULL ? G_SUBPROCESS_FLAGS_STDIN_PIPE : G_SUBPROCESS_FLAGS_STDIN_INHERIT;
  launcher = g_subprocess_launcher_new (flags);
  if (state_dir != NULL)
    g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", state_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C", TRUE);
  g_ptr_array_add (args, cli_path ());
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (argv[i]));
  g_ptr_array_add (args, NULL);

  cli->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);
  cli->lines = g_ptr_array_new_with_free_func (g_free);
  cli->errors = g_string_new (NULL);
  cli->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (cli->process));
  cli->err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (cli->process));
  read_out (cli);
  read_err (cli);
  g_subprocess_wait_async (cli->process, NULL, wait_cb, cli);

  if (input != NULL)
    {
      GOutputStream *in = g_subprocess_get_stdin_pipe (cli->process);

      g_output_stream_write_all (in, input, strlen (input), NULL, NULL, &error);
      g_assert_no_error (error);
      g_output_stream_close (in, NULL, &error);
      g_assert_no_error (error);
    }
  return cli;
}

static gboolean
cli_done (gpointer user_data)
{
  Cli *cli = user_data;

  return cli->exited && cli->out_eof && cli->err_eof;
}

/* Waits for the exit (and all output); returns the exit status. */
static int
cli_wait (Cli *cli)
{
  if (!core_test_wait_until (cli_done, cli, DEADLINE_MS))
    {
      g_subprocess_force_exit (cli->process);
      core_test_wait_until (cli_done, cli, DEADLINE_MS);
      g_error ("confab-cli did not exit in time; stderr: %s", cli->errors->str);
    }
  return cli->status;
}

static void
cli_free (Cli *cli)
{
  if (!cli->exited)
    {
      g_subprocess_force_exit (cli->process);
      core_test_wait_until (cli_done, cli, DEADLINE_MS);
    }
  g_clear_object (&cli->out);
  g_clear_object (&cli->err);
  g_clear_object (&cli->process);
  g_ptr_array_unref (cli->lines);
  g_string_free (cli->errors, TRUE);
  g_free (cli);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Cli, cli_free)

static JsonObject *
parse_line (const char *line)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, line, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* The stdout lines (JSON) whose kind is @kind. */
static GPtrArray *
lines_of_kind (Cli        *cli,
               const char *kind)
{
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  for (guint i = 0; i < cli->lines->len; i++)
    {
      JsonObject *object = parse_line (g_ptr_array_index (cli->lines, i));

      g_assert_true (json_object_has_member (object, "elapsed_ms"));
      if (g_strcmp0 (json_object_get_string_member_with_default (object, "kind", NULL), kind) == 0)
        g_ptr_array_add (found, object);
      else
        json_object_unref (object);
    }
  return found;
}

static guint
lines_of_kind_count (Cli        *cli,
                     const char *kind)
{
  g_autoptr(GPtrArray) found = lines_of_kind (cli, kind);

  return found->len;
}

typedef struct
{
  Cli        *cli;
  const char *needle;
} LineCondition;

static gboolean
has_line (gpointer user_data)
{
  LineCondition *condition = user_data;

  for (guint i = 0; i < condition->cli->lines->len; i++)
    if (strstr (g_ptr_array_index (condition->cli->lines, i), condition->needle) != NULL)
      return TRUE;
  return condition->cli->exited && condition->cli->out_eof;
}

/* Waits for a stdout line holding @needle; fails at the deadline or if it exits first. */
static void
cli_wait_line (Cli        *cli,
               const char *needle)
{
  LineCondition condition = { cli, needle };

  g_assert_true (core_test_wait_until (has_line, &condition, DEADLINE_MS));
  for (guint i = 0; i < cli->lines->len; i++)
    if (strstr (g_ptr_array_index (cli->lines, i), needle) != NULL)
      return;
  g_error ("confab-cli exited (%d) without a line holding %s; stderr: %s", cli->status, needle, cli->errors->str);
}

/* Fixture: a demo sandbox and alice's token ------------------------------------------- */

typedef struct
{
  CoreTestSandbox *sandbox;
  char            *token;
  char            *state_dir;
} Fixture;

static void
fixture_setup_with (Fixture           *fixture,
                    const char *const *extra)
{
  g_autoptr(GError) error = NULL;

  fixture->sandbox = core_test_sandbox_start (API_KEY, API_SECRET, extra, &error);
  g_assert_no_error (error);
  fixture->token = core_test_sandbox_demo_token (fixture->sandbox, "alice", &error);
  g_assert_no_error (error);
  fixture->state_dir = g_dir_make_tmp ("confab-cli-test-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  const char *extra[] = { "--demo", NULL };

  fixture_setup_with (fixture, extra);
}

static void
fixture_setup_no_websocket (Fixture       *fixture,
                            gconstpointer  data)
{
  const char *extra[] = { "--demo", "--no-websocket", NULL };

  fixture_setup_with (fixture, extra);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);

        remove_tree (child);
      }
  g_remove (path);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  remove_tree (fixture->state_dir);
  g_free (fixture->state_dir);
  g_free (fixture->token);
  core_test_sandbox_stop (fixture->sandbox);
}

/* argv: the command, the connection options, then @extra. */
static GStrv
build_args (Fixture           *fixture,
            const char        *command,
            const char        *token,
            const char *const *extra)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  GStrv argv;

  g_strv_builder_add_many (builder, command, "--base-url", fixture->sandbox->url, "--api-key", API_KEY,
                           "--user", "alice", NULL);
  if (token != NULL)
    g_strv_builder_add_many (builder, "--token", token, NULL);
  if (extra != NULL)
    g_strv_builder_addv (builder, (const char **) extra);
  argv = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return argv;
}

/* Tests --------------------------------------------------------------------------------- */

static void
assert_usable (Cli        *cli,
               const char *transport)
{
  g_autoptr(JsonObject) last = NULL;

  g_assert_cmpint (cli_wait (cli), ==, 0);
  g_assert_cmpuint (cli->lines->len, >, 1);
  last = parse_line (g_ptr_array_index (cli->lines, cli->lines->len - 1));
  g_assert_cmpstr (json_object_get_string_member (last, "kind"), ==, "usable");
  g_assert_cmpint (json_object_get_int_member (last, "time_to_usable_ms"), >=, 0);
  /* Usable (the first health.check) comes before connected (after catch-up). */
  g_assert_cmpint (json_object_get_int_member (last, "time_to_connected_ms"), >=,
                   json_object_get_int_member (last, "time_to_usable_ms"));
  /* The connect call comes after the client is built and before usable; its own line is
   * the first one, before any stage. */
  g_assert_cmpint (json_object_get_int_member (last, "connect_call_ms"), >=, 0);
  g_assert_cmpint (json_object_get_int_member (last, "connect_call_ms"), <=,
                   json_object_get_int_member (last, "time_to_usable_ms"));
  {
    g_autoptr(JsonObject) first = parse_line (g_ptr_array_index (cli->lines, 0));

    g_assert_cmpstr (json_object_get_string_member (first, "kind"), ==, "connect");
    /* Read from the clock just after connect_call_ms: the same millisecond or the next. */
    g_assert_cmpint (json_object_get_int_member (first, "elapsed_ms"), >=,
                     json_object_get_int_member (last, "connect_call_ms"));
    g_assert_cmpint (json_object_get_int_member (first, "elapsed_ms"), <=,
                     json_object_get_int_member (last, "time_to_usable_ms"));
  }
  g_assert_cmpstr (json_object_get_string_member (last, "transport"), ==, transport);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (last, "endpoint"),
                                   g_str_equal (transport, "websocket") ? "ws://127.0.0.1:" : "http://127.0.0.1:"));
  g_assert_null (strstr (g_ptr_array_index (cli->lines, cli->lines->len - 1), "eyJ"));
}

static void
test_connect_once (Fixture       *fixture,
                   gconstpointer  data)
{
  const char *extra[] = { "--json", "--once", NULL };
  g_auto(GStrv) argv = build_args (fixture, "connect", fixture->token, extra);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);
  g_autoptr(GPtrArray) stages = NULL;
  g_autoptr(GPtrArray) states = NULL;

  assert_usable (cli, "websocket");
  stages = lines_of_kind (cli, "stage");
  states = lines_of_kind (cli, "state");
  g_assert_cmpuint (stages->len, >, 0);
  g_assert_cmpuint (states->len, >, 0);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (states, states->len - 1), "state"),
                   ==, "connected");
  for (guint i = 0; i < cli->lines->len; i++)
    g_assert_null (strstr (g_ptr_array_index (cli->lines, i), fixture->token));
}

/* A readable line: "[  123 ms] text"; returns the milliseconds and points @text at the text. */
static gboolean
parse_readable (const char  *line,
                gint64      *out_ms,
                const char **text)
{
  const char *p = line;
  char *end = NULL;

  if (*p++ != '[')
    return FALSE;
  while (*p == ' ')
    p++;
  *out_ms = g_ascii_strtoll (p, &end, 10);
  if (end == p || !g_str_has_prefix (end, " ms] "))
    return FALSE;
  *text = end + strlen (" ms] ");
  return TRUE;
}

static gboolean
has_readable (Cli        *cli,
              const char *prefix)
{
  for (guint i = 0; i < cli->lines->len; i++)
    {
      const char *text = NULL;
      gint64 ms;

      if (parse_readable (g_ptr_array_index (cli->lines, i), &ms, &text) && g_str_has_prefix (text, prefix))
        return TRUE;
    }
  return FALSE;
}

/* Without --json: a readable line for every stage, state and quality change, each with
 * the milliseconds since the start, in order; then the usable line. */
static void
test_connect_readable (Fixture       *fixture,
                       gconstpointer  data)
{
  const char *extra[] = { "--once", NULL };
  g_auto(GStrv) argv = build_args (fixture, "connect", fixture->token, extra);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);
  gint64 previous = 0;

  g_assert_cmpint (cli_wait (cli), ==, 0);
  g_assert_cmpuint (cli->lines->len, >=, 6);
  for (guint i = 0; i + 1 < cli->lines->len; i++)
    {
      const char *line = g_ptr_array_index (cli->lines, i);
      const char *text = NULL;
      gint64 ms = -1;

      if (!parse_readable (line, &ms, &text))
        g_error ("not a readable line: %s", line);
      g_assert_cmpint (ms, >=, previous);
      previous = ms;
      g_assert_null (strstr (line, fixture->token));
      g_assert_null (strstr (line, "{"));
    }
  g_assert_true (has_readable (cli, "State: connecting"));
  g_assert_true (has_readable (cli, "Stage: looking up the server"));
  g_assert_true (has_readable (cli, "Stage: asking for a WebSocket"));
  g_assert_true (has_readable (cli, "Stage: signing in"));
  g_assert_true (has_readable (cli, "Stage: fetching what was missed"));
  g_assert_true (has_readable (cli, "Stage: ready"));
  g_assert_true (has_readable (cli, "State: connected, catching up (websocket, ws://127.0.0.1:"));
  g_assert_true (has_readable (cli, "State: connected (websocket, ws://127.0.0.1:"));
  g_assert_true (has_readable (cli, "Quality: "));
  g_assert_true (g_str_has_prefix (g_ptr_array_index (cli->lines, cli->lines->len - 1), "Usable after "));
}

/* And while it cannot connect: what went wrong and when the next attempt is, readable and
 * as JSON ("retry"); exit 1 at the timeout. */
static void
test_connect_readable_retrying (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autofree char *refused = g_strdup_printf ("http://127.0.0.1:%u", core_test_refused_port ());
  const char *plain_argv[] = { "connect", "--base-url", refused, "--api-key", API_KEY, "--user", "alice",
                               "--token", fixture->token, "--timeout", "1", NULL };
  const char *json_argv[] = { "connect", "--base-url", refused, "--api-key", API_KEY, "--user", "alice",
                              "--token", fixture->token, "--timeout", "1", "--json", NULL };
  g_autoptr(Cli) plain = cli_spawn (plain_argv, NULL, fixture->state_dir);
  g_autoptr(Cli) json = cli_spawn (json_argv, NULL, fixture->state_dir);
  g_autoptr(GPtrArray) retries = NULL;

  g_assert_cmpint (cli_wait (plain), ==, 1);
  g_assert_true (has_readable (plain, "Problem: "));
  g_assert_true (has_readable (plain, "State: reconnecting"));
  g_assert_true (has_readable (plain, "Next attempt in "));
  g_assert_nonnull (strstr (plain->errors->str, "(timeout)"));

  g_assert_cmpint (cli_wait (json), ==, 1);
  retries = lines_of_kind (json, "retry");
  g_assert_cmpuint (retries->len, >=, 1);
  g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (retries, 0), "in_ms"), >=, 0);
  g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (retries, 0), "in_ms"), <=, 30000);
}

static void
test_connect_longpoll (Fixture       *fixture,
                       gconstpointer  data)
{
  const char *extra[] = { "--json", "--once", NULL };
  g_auto(GStrv) argv = build_args (fixture, "connect", fixture->token, extra);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);

  assert_usable (cli, "longpoll");
}

static void
test_connect_token_command (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autofree char *command = g_strdup_printf ("printf %s", fixture->token);
  const char *extra[] = { "--token-command", command, "--json", "--once", NULL };
  g_auto(GStrv) argv = build_args (fixture, "connect", NULL, extra);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);

  assert_usable (cli, "websocket");
}

static void
test_connect_bad_token (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *bad = g_strconcat (fixture->token, "x", NULL);
  const char *extra[] = { "--json", "--once", "--timeout", "30", NULL };
  g_auto(GStrv) argv = build_args (fixture, "connect", bad, extra);
  gint64 start = g_get_monotonic_time ();
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);
  g_autoptr(GPtrArray) errors = NULL;
  JsonObject *error;

  g_assert_cmpint (cli_wait (cli), ==, 1);
  /* A permanent failure: no retry loop, far under the 30 s timeout. */
  g_assert_cmpint (core_test_elapsed_ms (start), <, 5000);
  errors = lines_of_kind (cli, "error");
  g_assert_cmpuint (errors->len, ==, 1);
  error = g_ptr_array_index (errors, 0);
  g_assert_cmpstr (json_object_get_string_member (error, "decision"), ==, "auth");
  g_assert_true (json_object_has_member (error, "domain"));
  g_assert_true (json_object_has_member (error, "code"));
  g_assert_true (json_object_has_member (error, "message"));
  for (guint i = 0; i < cli->lines->len; i++)
    g_assert_null (strstr (g_ptr_array_index (cli->lines, i), bad));
}

static void
test_connect_bad_token_plain (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autofree char *bad = g_strconcat (fixture->token, "x", NULL);
  const char *extra[] = { "--once", NULL };
  g_auto(GStrv) argv = build_args (fixture, "connect", bad, extra);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);

  g_assert_cmpint (cli_wait (cli), ==, 1);
  g_assert_nonnull (strstr (cli->errors->str, "(auth)"));
  g_assert_null (strstr (cli->errors->str, fixture->token));
}

static void
test_connect_insecure (Fixture       *fixture,
                       gconstpointer  data)
{
  const char *argv[] = { "connect", "--base-url", "http://chat.example.com", "--api-key", API_KEY,
                         "--user", "alice", "--token", fixture->token, "--json", "--once", NULL };
  g_autoptr(Cli) cli = cli_spawn (argv, NULL, fixture->state_dir);
  g_autoptr(GPtrArray) errors = NULL;

  g_assert_cmpint (cli_wait (cli), ==, 1);
  errors = lines_of_kind (cli, "error");
  g_assert_cmpuint (errors->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (errors, 0), "decision"), ==, "insecure-url");
}

static void
test_connect_until_signal (Fixture       *fixture,
                           gconstpointer  data)
{
  const char *extra[] = { "--json", NULL };
  g_auto(GStrv) argv = build_args (fixture, "connect", fixture->token, extra);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);

  cli_wait_line (cli, "\"state\":\"connected\"");
  g_assert_false (cli->exited);
  g_subprocess_send_signal (cli->process, SIGTERM);
  g_assert_cmpint (cli_wait (cli), ==, 0);
  /* The connection was closed: the sandbox sees none open. */
  g_assert_true (core_test_sandbox_wait_stat (fixture->sandbox, "connections", 0, DEADLINE_MS));
}

static void
test_send_listen (Fixture       *fixture,
                  gconstpointer  data)
{
  const char *listen_extra[] = { "--count", "1", "--channel", "messaging:general", NULL };
  const char *send_extra[] = { "--channel", "messaging:general", "hello from the cli", NULL };
  g_auto(GStrv) listen_argv = build_args (fixture, "listen", fixture->token, listen_extra);
  g_auto(GStrv) send_argv = build_args (fixture, "send", fixture->token, send_extra);
  g_autoptr(Cli) listener = cli_spawn ((const char * const *) listen_argv, NULL, fixture->state_dir);
  g_autoptr(Cli) sender = NULL;
  g_autoptr(GPtrArray) sent = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  JsonObject *message;

  cli_wait_line (listener, "\"state\":\"connected\"");
  sender = cli_spawn ((const char * const *) send_argv, NULL, fixture->state_dir);
  g_assert_cmpint (cli_wait (sender), ==, 0);
  sent = lines_of_kind (sender, "sent");
  g_assert_cmpuint (sent->len, ==, 1);
  g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (sent, 0), "line"), ==, 1);

  g_assert_cmpint (cli_wait (listener), ==, 0);
  messages = lines_of_kind (listener, "message");
  g_assert_cmpuint (messages->len, ==, 1);
  message = g_ptr_array_index (messages, 0);
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, "hello from the cli");
  g_assert_cmpstr (json_object_get_string_member (message, "cid"), ==, "messaging:general");
  g_assert_cmpstr (json_object_get_string_member (message, "user"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (message, "id"), ==,
                   json_object_get_string_member (g_ptr_array_index (sent, 0), "id"));
  g_assert_nonnull (json_object_get_string_member (message, "created_at"));
}

static void
test_send_stdin (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *outbox = g_build_filename (fixture->state_dir, "outbox", NULL);
  const char *extra[] = { "--channel", "messaging:general", "--outbox-dir", outbox, NULL };
  g_auto(GStrv) argv = build_args (fixture, "send", fixture->token, extra);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, "first line\nsecond line\nthird line\n",
                                  fixture->state_dir);
  g_autoptr(GPtrArray) sent = NULL;
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *url = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;
  JsonArray *messages;
  guint status = 0;

  g_assert_cmpint (cli_wait (cli), ==, 0);
  sent = lines_of_kind (cli, "sent");
  g_assert_cmpuint (sent->len, ==, 3);
  for (guint i = 0; i < sent->len; i++)
    {
      JsonObject *line = g_ptr_array_index (sent, i);

      g_assert_true (g_hash_table_add (ids, (gpointer) json_object_get_string_member (line, "id")));
    }
  g_assert_cmpuint (g_hash_table_size (ids), ==, 3);
  g_assert_cmpint (g_stat (outbox, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* The channel holds each exactly once. */
  url = g_strdup_printf ("%s/channels/messaging/general/query?api_key=%s", fixture->sandbox->url, API_KEY);
  answer = core_test_rest ("POST", url, fixture->token, "{\"messages\":{\"limit\":100}}", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status / 100, ==, 2);
  messages = json_object_get_array_member (answer, "messages");
  g_assert_nonnull (messages);
  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      const char *id = json_object_get_string_member (json_array_get_object_element (messages, i), "id");

      if (g_hash_table_contains (ids, id))
        g_assert_true (g_hash_table_remove (ids, id));  /* fails on a second copy */
    }
  g_assert_cmpuint (g_hash_table_size (ids), ==, 0);
}

/* A sender that cannot reach the server gives up at --timeout (exit 1, decision timeout)
 * and leaves the message in the outbox; the next run sends it (line 0: from before). */
static void
test_send_resume (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *outbox = g_build_filename (fixture->state_dir, "outbox", NULL);
  g_autofree char *refused = g_strdup_printf ("http://127.0.0.1:%u", core_test_refused_port ());
  const char *first_argv[] = { "send", "--base-url", refused, "--api-key", API_KEY, "--user", "alice",
                               "--token", fixture->token, "--channel", "messaging:general",
                               "--outbox-dir", outbox, "--timeout", "1", "--json", "left behind", NULL };
  const char *extra[] = { "--channel", "messaging:general", "--outbox-dir", outbox, NULL };
  g_auto(GStrv) argv = build_args (fixture, "send", fixture->token, extra);
  g_autoptr(Cli) first = cli_spawn (first_argv, NULL, fixture->state_dir);
  g_autoptr(Cli) second = NULL;
  g_autoptr(GPtrArray) errors = NULL;
  g_autoptr(GPtrArray) sent = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  JsonArray *messages;
  guint copies = 0;
  guint status = 0;

  g_assert_cmpint (cli_wait (first), ==, 1);
  errors = lines_of_kind (first, "error");
  g_assert_cmpuint (errors->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (errors, 0), "decision"), ==, "timeout");
  g_assert_cmpuint (lines_of_kind_count (first, "sent"), ==, 0);

  second = cli_spawn ((const char * const *) argv, "", fixture->state_dir);
  g_assert_cmpint (cli_wait (second), ==, 0);
  sent = lines_of_kind (second, "sent");
  g_assert_cmpuint (sent->len, ==, 1);
  g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (sent, 0), "line"), ==, 0);

  url = g_strdup_printf ("%s/channels/messaging/general/query?api_key=%s", fixture->sandbox->url, API_KEY);
  answer = core_test_rest ("POST", url, fixture->token, "{\"messages\":{\"limit\":100}}", &status, &error);
  g_assert_no_error (error);
  messages = json_object_get_array_member (answer, "messages");
  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject *message = json_array_get_object_element (messages, i);

      if (g_strcmp0 (json_object_get_string_member (message, "text"), "left behind") == 0)
        {
          copies++;
          g_assert_cmpstr (json_object_get_string_member (message, "id"), ==,
                           json_object_get_string_member (g_ptr_array_index (sent, 0), "id"));
        }
    }
  g_assert_cmpuint (copies, ==, 1);
}

/* A line the outbox refuses (too long) stores nothing, sends nothing: exit 1. */
static void
test_send_bad_line (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *outbox = g_build_filename (fixture->state_dir, "outbox", NULL);
  g_autofree char *long_line = g_strnfill (6000, 'x');
  g_autofree char *input = g_strdup_printf ("fine\n%s\n", long_line);
  const char *extra[] = { "--channel", "messaging:general", "--outbox-dir", outbox, "--json", NULL };
  g_auto(GStrv) argv = build_args (fixture, "send", fixture->token, extra);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, input, fixture->state_dir);
  g_autoptr(GPtrArray) errors = NULL;

  g_assert_cmpint (cli_wait (cli), ==, 1);
  errors = lines_of_kind (cli, "error");
  g_assert_cmpuint (errors->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (errors, 0), "decision"), ==, "rejected");
  g_assert_cmpuint (lines_of_kind_count (cli, "sent"), ==, 0);
  g_assert_null (strstr (cli->errors->str, long_line));
  g_assert_false (g_file_test (outbox, G_FILE_TEST_EXISTS));
}

static void
test_diagnose (Fixture       *fixture,
               gconstpointer  data)
{
  g_auto(GStrv) argv = build_args (fixture, "diagnose", fixture->token, NULL);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);
  g_autofree char *output = NULL;

  g_assert_cmpint (cli_wait (cli), ==, 0);
  g_ptr_array_add (cli->lines, NULL);
  output = g_strjoinv ("\n", (char **) cli->lines->pdata);
  g_ptr_array_remove_index (cli->lines, cli->lines->len - 1);
  g_assert_nonnull (strstr (output, "Confab diagnostics report"));
  g_assert_null (strstr (output, "alice"));
  g_assert_null (strstr (output, fixture->token));
  g_assert_null (strstr (output, API_KEY));
}

static void
test_diagnose_failed (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *bad = g_strconcat (fixture->token, "x", NULL);
  g_auto(GStrv) argv = build_args (fixture, "diagnose", bad, NULL);
  g_autoptr(Cli) cli = cli_spawn ((const char * const *) argv, NULL, fixture->state_dir);
  g_autofree char *output = NULL;

  /* Connecting failed, but the report is what support needs: exit 0 with it. */
  g_assert_cmpint (cli_wait (cli), ==, 0);
  g_ptr_array_add (cli->lines, NULL);
  output = g_strjoinv ("\n", (char **) cli->lines->pdata);
  g_ptr_array_remove_index (cli->lines, cli->lines->len - 1);
  g_assert_nonnull (strstr (output, "Confab diagnostics report"));
  g_assert_null (strstr (output, "alice"));
  g_assert_null (strstr (output, fixture->token));
}

static int
run_status (const char *const *argv,
            const char        *expect_in_output)
{
  g_autoptr(Cli) cli = cli_spawn (argv, NULL, NULL);
  int status = cli_wait (cli);
  g_autofree char *output = NULL;

  g_ptr_array_add (cli->lines, NULL);
  output = g_strjoinv ("\n", (char **) cli->lines->pdata);
  g_ptr_array_remove_index (cli->lines, cli->lines->len - 1);
  if (expect_in_output != NULL)
    g_assert_nonnull (strstr (status == 0 ? output : cli->errors->str, expect_in_output));
  return status;
}

static void
test_help (void)
{
  const char *top[] = { "--help", NULL };
  const char *connect[] = { "connect", "--help", NULL };
  const char *send[] = { "send", "--help", NULL };
  const char *listen[] = { "listen", "--help", NULL };
  const char *diagnose[] = { "diagnose", "--help", NULL };

  g_assert_cmpint (run_status (top, "diagnose"), ==, 0);
  g_assert_cmpint (run_status (top, "Exit status"), ==, 0);
  g_assert_cmpint (run_status (connect, "--once"), ==, 0);
  g_assert_cmpint (run_status (connect, "--token-command"), ==, 0);
  g_assert_cmpint (run_status (connect, "time_to_usable_ms"), ==, 0);
  g_assert_cmpint (run_status (connect, "Quality"), ==, 0);
  g_assert_cmpint (run_status (connect, "Exit status"), ==, 0);
  g_assert_cmpint (run_status (send, "{id, line}"), ==, 0);
  g_assert_cmpint (run_status (listen, "{id, cid, user, text, created_at}"), ==, 0);
  g_assert_cmpint (run_status (diagnose, "hashed"), ==, 0);
  g_assert_cmpint (run_status (send, "--outbox-dir"), ==, 0);
  g_assert_cmpint (run_status (listen, "--count"), ==, 0);
  g_assert_cmpint (run_status (diagnose, "--timeout"), ==, 0);
}

static void
test_bad_options (void)
{
  const char *none[] = { NULL };
  const char *unknown_command[] = { "frobnicate", NULL };
  const char *unknown_option[] = { "connect", "--bogus", NULL };
  const char *missing[] = { "connect", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--token", "t", NULL };
  const char *both[] = { "connect", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--user", "alice",
                         "--token", "t", "--token-command", "printf t", NULL };
  const char *no_channel[] = { "send", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--user", "alice",
                               "--token", "t", "hi", NULL };
  const char *bad_channel[] = { "send", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--user", "alice",
                                "--token", "t", "--channel", "general", "hi", NULL };
  const char *bad_timeout[] = { "connect", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--user", "alice",
                                "--token", "t", "--timeout", "0", NULL };
  const char *not_int[] = { "listen", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--user", "alice",
                            "--token", "t", "--count", "many", NULL };
  const char *bad_user[] = { "connect", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--user", "../x",
                             "--token", "t", NULL };
  const char *bad_command[] = { "connect", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--user", "alice",
                                "--token-command", "printf 'unterminated", NULL };
  const char *extra_arg[] = { "connect", "--base-url", "http://127.0.0.1:1", "--api-key", "k", "--user", "alice",
                              "--token", "t", "stray", NULL };

  g_assert_cmpint (run_status (none, NULL), ==, 2);
  g_assert_cmpint (run_status (unknown_command, "frobnicate"), ==, 2);
  g_assert_cmpint (run_status (unknown_option, "--bogus"), ==, 2);
  g_assert_cmpint (run_status (missing, "--user"), ==, 2);
  g_assert_cmpint (run_status (both, "--token-command"), ==, 2);
  g_assert_cmpint (run_status (no_channel, "--channel"), ==, 2);
  g_assert_cmpint (run_status (bad_channel, "TYPE:ID"), ==, 2);
  g_assert_cmpint (run_status (bad_timeout, "--timeout"), ==, 2);
  g_assert_cmpint (run_status (not_int, "many"), ==, 2);
  g_assert_cmpint (run_status (bad_user, "--user"), ==, 2);
  g_assert_cmpint (run_status (bad_command, "--token-command"), ==, 2);
  g_assert_cmpint (run_status (extra_arg, NULL), ==, 2);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *sandbox = NULL;
  g_autofree char *cli = NULL;

  g_test_init (&argc, &argv, NULL);

  sandbox = core_test_sandbox_path ();
  cli = cli_path ();
  if (sandbox == NULL || !g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("the sandbox or confab-cli binary is missing");
      return g_test_run ();
    }

  g_test_add_func ("/cli/help", test_help);
  g_test_add_func ("/cli/bad-options", test_bad_options);
  g_test_add ("/cli/connect/once", Fixture, NULL, fixture_setup, test_connect_once, fixture_teardown);
  g_test_add ("/cli/connect/readable", Fixture, NULL, fixture_setup, test_connect_readable, fixture_teardown);
  g_test_add ("/cli/connect/readable-retrying", Fixture, NULL, fixture_setup, test_connect_readable_retrying,
              fixture_teardown);
  g_test_add ("/cli/connect/longpoll", Fixture, NULL, fixture_setup_no_websocket, test_connect_longpoll,
              fixture_teardown);
  g_test_add ("/cli/connect/token-command", Fixture, NULL, fixture_setup, test_connect_token_command,
              fixture_teardown);
  g_test_add ("/cli/connect/bad-token", Fixture, NULL, fixture_setup, test_connect_bad_token, fixture_teardown);
  g_test_add ("/cli/connect/bad-token-plain", Fixture, NULL, fixture_setup, test_connect_bad_token_plain,
              fixture_teardown);
  g_test_add ("/cli/connect/insecure", Fixture, NULL, fixture_setup, test_connect_insecure, fixture_teardown);
  g_test_add ("/cli/connect/until-signal", Fixture, NULL, fixture_setup, test_connect_until_signal,
              fixture_teardown);
  g_test_add ("/cli/send/listen", Fixture, NULL, fixture_setup, test_send_listen, fixture_teardown);
  g_test_add ("/cli/send/stdin", Fixture, NULL, fixture_setup, test_send_stdin, fixture_teardown);
  g_test_add ("/cli/send/resume", Fixture, NULL, fixture_setup, test_send_resume, fixture_teardown);
  g_test_add ("/cli/send/bad-line", Fixture, NULL, fixture_setup, test_send_bad_line, fixture_teardown);
  g_test_add ("/cli/diagnose/ok", Fixture, NULL, fixture_setup, test_diagnose, fixture_teardown);
  g_test_add ("/cli/diagnose/failed", Fixture, NULL, fixture_setup, test_diagnose_failed, fixture_teardown);

  return g_test_run ();
}
