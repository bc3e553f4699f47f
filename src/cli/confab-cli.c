/* confab-cli.c: the headless command-line client (connect, send, listen, diagnose)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "confab-command-token-provider.h"
#include "confab-connection-manager.h"
#include "confab-diagnostics.h"
#include "confab-error.h"
#include "confab-net-warmup.h"  /* firstconnect: warm-up */
#include "confab-static-token-provider.h"

#include "confab-cli-private.h"

#define DEFAULT_TIMEOUT_S   30

/* Ending -------------------------------------------------------------------------------- */

void
cli_finish (Cli *cli,
            int  exit_code)
{
  if (cli->finished)
    return;
  cli->finished = TRUE;
  cli->exit_code = exit_code;
  g_main_loop_quit (cli->loop);
}

void
cli_fail (Cli          *cli,
          const GError *error)
{
  cli_report_error (cli, error);
  cli_finish (cli, 1);
}

static void
print_report (Cli *cli)
{
  ConfabDiagnostics *diagnostics = confab_connection_manager_get_diagnostics (cli->manager);
  g_autofree char *report = confab_diagnostics_report (diagnostics);

  g_print ("%s\n", report);
  fflush (stdout);
}

static gboolean
on_timeout (gpointer user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;
  const GError *last = confab_connection_manager_get_last_error (cli->manager);

  cli->timeout_id = 0;
  if (cli->command == COMMAND_DIAGNOSE)
    {
      print_report (cli);
      cli_finish (cli, 0);
      return G_SOURCE_REMOVE;
    }

  if (last != NULL)
    error = g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                         _("Gave up after %d s; the last error: %s"), cli->timeout_s, last->message);
  else
    error = g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                         _("Gave up after %d s"), cli->timeout_s);
  cli_fail (cli, error);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  Cli *cli = user_data;

  if (cli->command == COMMAND_DIAGNOSE)
    print_report (cli);
  /* An interrupted send has not sent everything: what is left stays in the outbox. */
  cli_finish (cli, cli->command == COMMAND_SEND ? 1 : 0);
  return G_SOURCE_CONTINUE;
}

/* Connection changes -------------------------------------------------------------------- */

/* What connect prints without --json: one translated line per change, after the
 * milliseconds since the start. */
G_GNUC_PRINTF (2, 3)
static void
say (Cli        *cli,
     const char *format,
     ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("[%6" G_GINT64_FORMAT " ms] %s\n", cli_elapsed_ms (cli), text);
  fflush (stdout);
}

static gboolean
readable (Cli *cli)
{
  return cli->command == COMMAND_CONNECT && !cli->json && !cli->finished;
}

static const char *
state_text (ConfabConnectionState state)
{
  switch (state)
    {
    case CONFAB_CONNECTION_STATE_IDLE:                return C_("connection state", "not connected");
    case CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK: return C_("connection state", "waiting for the network");
    case CONFAB_CONNECTION_STATE_CONNECTING:          return C_("connection state", "connecting");
    case CONFAB_CONNECTION_STATE_UPDATING:            return C_("connection state", "connected, catching up");
    case CONFAB_CONNECTION_STATE_CONNECTED:           return C_("connection state", "connected");
    case CONFAB_CONNECTION_STATE_RECONNECTING:        return C_("connection state", "reconnecting");
    case CONFAB_CONNECTION_STATE_LIMITED:             return C_("connection state", "limited");
    case CONFAB_CONNECTION_STATE_FAILED:              return C_("connection state", "failed");
    default:                                          return "?";
    }
}

static const char *
stage_text (ConfabStage stage)
{
  switch (stage)
    {
    case CONFAB_STAGE_IDLE:           return C_("connection stage", "none");
    case CONFAB_STAGE_RESOLVING:      return C_("connection stage", "looking up the server");
    case CONFAB_STAGE_CONNECTING:     return C_("connection stage", "opening a connection");
    case CONFAB_STAGE_TLS:            return C_("connection stage", "securing the connection (TLS)");
    case CONFAB_STAGE_UPGRADING:      return C_("connection stage", "asking for a WebSocket");
    case CONFAB_STAGE_AUTHENTICATING: return C_("connection stage", "signing in");
    case CONFAB_STAGE_SYNCING:        return C_("connection stage", "fetching what was missed");
    case CONFAB_STAGE_READY:          return C_("connection stage", "ready");
    default:                          return "?";
    }
}

static const char *
quality_text (ConfabQuality quality)
{
  switch (quality)
    {
    case CONFAB_QUALITY_EXCELLENT: return C_("connection quality", "excellent");
    case CONFAB_QUALITY_GOOD:      return C_("connection quality", "good");
    case CONFAB_QUALITY_POOR:      return C_("connection quality", "poor");
    case CONFAB_QUALITY_UNKNOWN:
    default:                       return C_("connection quality", "unknown");
    }
}

static void
on_stage (ConfabConnectionManager *manager,
          GParamSpec              *pspec,
          Cli                     *cli)
{
  ConfabStage stage = confab_connection_manager_get_stage (manager);
  JsonBuilder *builder;

  if (readable (cli))
    {
      say (cli, _("Stage: %s"), stage_text (stage));
      return;
    }
  if (cli->command != COMMAND_CONNECT || !cli->json)
    return;
  builder = cli_line_begin (cli, "stage");
  cli_add_string (builder, "stage", cli_enum_nick (CONFAB_TYPE_STAGE, stage));
  cli_line_end (builder);
}

static void
on_quality (ConfabConnectionManager *manager,
            GParamSpec              *pspec,
            Cli                     *cli)
{
  JsonBuilder *builder;
  ConfabQuality quality = confab_connection_manager_get_quality (manager);
  int rtt = confab_connection_manager_get_rtt_ms (manager);
  double loss = confab_connection_manager_get_loss (manager);

  if (readable (cli))
    {
      if (rtt >= 0)
        /* TRANSLATORS: the quality, the round-trip time in ms, and the share of lost probes in per cent. */
        say (cli, _("Quality: %s (round trip %d ms, %.0f %% of probes lost)"), quality_text (quality), rtt,
             isnan (loss) ? 0.0 : loss * 100);
      else
        say (cli, _("Quality: %s"), quality_text (quality));
      return;
    }
  if (cli->command != COMMAND_CONNECT || !cli->json)
    return;
  builder = cli_line_begin (cli, "quality");
  cli_add_string (builder, "quality", confab_quality_to_string (quality));
  json_builder_set_member_name (builder, "rtt_ms");
  if (rtt >= 0)
    json_builder_add_int_value (builder, rtt);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "loss");
  if (!isnan (loss) && loss >= 0)
    json_builder_add_double_value (builder, loss);
  else
    json_builder_add_null_value (builder);
  cli_line_end (builder);
}

/* When the next attempt (or resend) is due: a line of its own, since the manager
 * schedules it after announcing the state. */
static void
on_next_retry (ConfabConnectionManager *manager,
               GParamSpec              *pspec,
               Cli                     *cli)
{
  gint64 next = confab_connection_manager_get_next_retry (manager);
  gint64 in_ms;
  JsonBuilder *builder;

  if (next == 0 || cli->command != COMMAND_CONNECT || cli->finished)
    return;
  in_ms = MAX (0, (next - g_get_real_time ()) / 1000);
  if (!cli->json)
    {
      say (cli, _("Next attempt in %.1f s"), in_ms / 1000.0);
      return;
    }
  builder = cli_line_begin (cli, "retry");
  cli_add_int (builder, "in_ms", in_ms);
  cli_line_end (builder);
}

static void
on_last_error (ConfabConnectionManager *manager,
               GParamSpec              *pspec,
               Cli                     *cli)
{
  const GError *error = confab_connection_manager_get_last_error (manager);

  /* Core error messages never hold tokens or keys. */
  if (error != NULL && readable (cli))
    say (cli, _("Problem: %s"), error->message);
}

static void
on_state (ConfabConnectionManager *manager,
          GParamSpec              *pspec,
          Cli                     *cli)
{
  ConfabConnectionState state = confab_connection_manager_get_state (manager);
  const char *nick = cli_enum_nick (CONFAB_TYPE_CONNECTION_STATE, state);

  if (cli->finished)
    return;

  if (!cli->usable && (state == CONFAB_CONNECTION_STATE_UPDATING || state == CONFAB_CONNECTION_STATE_CONNECTED))
    {
      cli->usable = TRUE;
      cli->usable_ms = cli_elapsed_ms (cli);
    }

  /* connect prints every change; listen and send always as JSON lines (their output is
   * JSON lines), so a caller can wait for "connected". */
  if (cli->command != COMMAND_DIAGNOSE && (cli->json || cli->command != COMMAND_CONNECT))
    {
      JsonBuilder *builder = cli_line_begin (cli, "state");

      cli_add_string (builder, "state", nick);
      if (state == CONFAB_CONNECTION_STATE_CONNECTED || state == CONFAB_CONNECTION_STATE_UPDATING)
        {
          cli_add_string (builder, "transport", confab_connection_manager_get_transport (manager));
          cli_add_string (builder, "endpoint", confab_connection_manager_get_endpoint (manager));
        }
      cli_line_end (builder);
    }
  else if (cli->command == COMMAND_CONNECT)
    {
      if (state == CONFAB_CONNECTION_STATE_CONNECTED || state == CONFAB_CONNECTION_STATE_UPDATING)
        /* TRANSLATORS: the state, then the transport ("websocket" or "longpoll") and the server address. */
        say (cli, _("State: %s (%s, %s)"), state_text (state), confab_connection_manager_get_transport (manager),
             confab_connection_manager_get_endpoint (manager));
      else
        say (cli, _("State: %s"), state_text (state));
    }

  if (state == CONFAB_CONNECTION_STATE_FAILED && cli->command != COMMAND_DIAGNOSE)
    {
      const GError *last = confab_connection_manager_get_last_error (manager);
      g_autoptr(GError) fallback = NULL;

      if (last == NULL)
        last = fallback = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_FAILED, _("The connection failed"));
      cli_fail (cli, last);
    }
}

static void
on_message (ConfabConnectionManager *manager,
            JsonObject              *message,
            Cli                     *cli)
{
  JsonBuilder *builder;
  JsonObject *user;
  const char *cid;

  if (cli->command != COMMAND_LISTEN || cli->finished)
    return;
  cid = json_object_get_string_member_with_default (message, "cid", NULL);
  if (cli->channel != NULL && g_strcmp0 (cid, cli->channel) != 0)
    return;

  user = json_object_has_member (message, "user") &&
         JSON_NODE_HOLDS_OBJECT (json_object_get_member (message, "user"))
         ? json_object_get_object_member (message, "user") : NULL;
  builder = cli_line_begin (cli, "message");
  cli_add_string (builder, "id", json_object_get_string_member_with_default (message, "id", NULL));
  cli_add_string (builder, "cid", cid);
  cli_add_string (builder, "user", user != NULL ? json_object_get_string_member_with_default (user, "id", NULL) : NULL);
  cli_add_string (builder, "text", json_object_get_string_member_with_default (message, "text", NULL));
  cli_add_string (builder, "created_at", json_object_get_string_member_with_default (message, "created_at", NULL));
  cli_line_end (builder);

  cli->n_received++;
  if (cli->count > 0 && cli->n_received >= (guint) cli->count)
    cli_finish (cli, 0);
}

static gboolean
valid_cid (const char *cid)
{
  const char *colon = strchr (cid, ':');

  return colon != NULL && colon != cid && colon[1] != '\0' && strchr (colon + 1, ':') == NULL;
}

static gboolean
valid_user_id (const char *id)
{
  if (*id == '\0')
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '@' && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

/* Connecting ---------------------------------------------------------------------------- */

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;

  if (!confab_connection_manager_connect_finish (CONFAB_CONNECTION_MANAGER (source), result, &error))
    {
      if (cli->finished || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (cli->command == COMMAND_DIAGNOSE)
        {
          print_report (cli);
          cli_finish (cli, 0);
        }
      else
        cli_fail (cli, error);
      return;
    }

  cli->connected = TRUE;
  switch (cli->command)
    {
    case COMMAND_CONNECT:
      if (cli->once)
        {
          if (cli->json)
            {
              JsonBuilder *builder = cli_line_begin (cli, "usable");

              cli_add_int (builder, "time_to_usable_ms", cli->usable ? cli->usable_ms : cli_elapsed_ms (cli));
              cli_add_int (builder, "time_to_connected_ms", cli_elapsed_ms (cli));
              cli_add_int (builder, "connect_call_ms", cli->connect_ms);
              cli_add_string (builder, "transport", confab_connection_manager_get_transport (cli->manager));
              cli_add_string (builder, "endpoint", confab_connection_manager_get_endpoint (cli->manager));
              cli_line_end (builder);
            }
          else
            {
              g_print (_("Usable after %d ms over %s (%s)\n"),
                       (int) (cli->usable ? cli->usable_ms : cli_elapsed_ms (cli)),
                       confab_connection_manager_get_transport (cli->manager),
                       confab_connection_manager_get_endpoint (cli->manager));
              fflush (stdout);
            }
          cli_finish (cli, 0);
        }
      else
        g_clear_handle_id (&cli->timeout_id, g_source_remove);
      break;
    case COMMAND_LISTEN:
      g_clear_handle_id (&cli->timeout_id, g_source_remove);
      break;
    case COMMAND_SEND:
      cli_send_check (cli);
      break;
    case COMMAND_DIAGNOSE:
      print_report (cli);
      cli_finish (cli, 0);
      break;
    default:
      g_assert_not_reached ();
    }
}

static ConfabTokenProvider *
make_token_provider (Cli     *cli,
                     GError **error)
{
  g_auto(GStrv) argv = NULL;

  if (cli->token != NULL)
    return CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (cli->token));
  if (!g_shell_parse_argv (cli->token_command, NULL, &argv, error))
    return NULL;
  return CONFAB_TOKEN_PROVIDER (confab_command_token_provider_new ((const char * const *) argv));
}

/* Connects and runs the main loop until the command is done; returns the exit status. */
static int
run_connected (Cli                 *cli,
               ConfabTokenProvider *provider)
{
  cli->manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                               "base-url", cli->base_url,
                               "endpoints", cli->endpoints,
                               "api-key", cli->api_key,
                               "token-provider", provider,
                               "outbox", cli->outbox,
                               NULL);
  g_signal_connect (cli->manager, "notify::stage", G_CALLBACK (on_stage), cli);
  g_signal_connect (cli->manager, "notify::state", G_CALLBACK (on_state), cli);
  g_signal_connect (cli->manager, "notify::quality", G_CALLBACK (on_quality), cli);
  g_signal_connect (cli->manager, "notify::next-retry", G_CALLBACK (on_next_retry), cli);
  g_signal_connect (cli->manager, "notify::last-error", G_CALLBACK (on_last_error), cli);
  g_signal_connect (cli->manager, "message-received", G_CALLBACK (on_message), cli);

  cli->sigint_id = g_unix_signal_add (SIGINT, on_signal, cli);
  cli->sigterm_id = g_unix_signal_add (SIGTERM, on_signal, cli);
  cli->timeout_id = g_timeout_add_seconds (cli->timeout_s, on_timeout, cli);

  /* The SDK's clock in the benchmark starts at connectUser, after `new StreamChat`: this
   * line lets the same boundary be read here, with the client's build time before it. */
  cli->connect_ms = cli_elapsed_ms (cli);
  if (cli->json || cli->command == COMMAND_SEND || cli->command == COMMAND_LISTEN)
    cli_line_end (cli_line_begin (cli, "connect"));
  confab_connection_manager_connect_async (cli->manager, cli->user, NULL, NULL, connect_cb, cli);
  if (cli->command == COMMAND_DIAGNOSE)
    {
      const char *secrets[] = { cli->api_key, cli->token, NULL };

      /* After connect_async, which sets the identity without the secrets. */
      confab_diagnostics_set_identity (confab_connection_manager_get_diagnostics (cli->manager),
                                       cli->user, NULL, NULL, secrets);
      confab_diagnostics_set_fact (confab_connection_manager_get_diagnostics (cli->manager),
                                   "app version", "confab-cli " PACKAGE_VERSION);
    }

  if (!cli->finished)
    g_main_loop_run (cli->loop);

  g_clear_handle_id (&cli->timeout_id, g_source_remove);
  g_clear_handle_id (&cli->sigint_id, g_source_remove);
  g_clear_handle_id (&cli->sigterm_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (cli->manager, cli);
  confab_connection_manager_disconnect (cli->manager);
  g_clear_object (&cli->manager);
  return cli->exit_code;
}

static int
run (Cli *cli)
{
  g_autoptr(ConfabTokenProvider) provider = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  provider = make_token_provider (cli, &error);
  if (provider == NULL)
    {
      g_printerr ("confab-cli: --token-command: %s\n", error->message);
      return CLI_EXIT_USAGE;
    }

  cli->loop = g_main_loop_new (NULL, FALSE);
  cli->tracked = g_ptr_array_new_with_free_func (g_object_unref);
  cli->lines = g_array_new (FALSE, FALSE, sizeof (guint));
  cli->start_us = g_get_monotonic_time ();
  /* firstconnect: load the proxy resolver (and for https the TLS CA database) in a
   * thread while the manager is built; on the clock, nothing moved before it. */
  confab_net_warmup_start (cli->base_url);

  if (cli->command == COMMAND_SEND && !cli_send_prepare (cli, &error))
    {
      cli_report_error (cli, error);
      status = 1;
    }
  else
    status = run_connected (cli, provider);

  for (guint i = 0; i < cli->tracked->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (cli->tracked, i), cli);
  g_clear_pointer (&cli->tracked, g_ptr_array_unref);
  g_clear_pointer (&cli->lines, g_array_unref);
  g_clear_object (&cli->outbox);
  g_clear_pointer (&cli->loop, g_main_loop_unref);
  return status;
}

/* Options ------------------------------------------------------------------------------- */

static const char *const command_names[] = { "connect", "send", "listen", "diagnose" };

static void
print_commands (FILE *to)
{
  fprintf (to, "%s\n\n%s\n", _("Usage: confab-cli COMMAND [OPTION…]"), _("Commands:"));
  fprintf (to, "  connect   %s\n", _("Connect and print every stage, state and quality change"));
  fprintf (to, "  send      %s\n", _("Send TEXT, or each line of standard input, to a channel"));
  fprintf (to, "  listen    %s\n", _("Print received messages as JSON lines"));
  fprintf (to, "  diagnose  %s\n", _("Connect, then print the anonymised diagnostics report"));
  fprintf (to, "\n%s\n", _("Run “confab-cli COMMAND --help” for a command’s options."));
  fprintf (to, "\n%s\n", _("Every command connects as one user with --base-url, --api-key, --user and\n"
                            "--token or --token-command. Exit status: 0 success, 1 failure or timeout,\n"
                            "2 wrong usage. Tokens and keys are never printed."));
}

static int
usage_error (const char *message)
{
  g_printerr ("confab-cli: %s\n", message);
  g_printerr (_("Run “confab-cli --help” for usage.\n"));
  return CLI_EXIT_USAGE;
}

static int
parse_options (Cli    *cli,
               int     argc,
               char  **argv)
{
  GOptionEntry common[] = {
    { "base-url", 0, 0, G_OPTION_ARG_STRING, &cli->base_url, N_("Stream API base URL"), "URL" },
    { "endpoint", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cli->endpoints,
      N_("Another base URL of the same service, tried when --base-url does not answer (repeatable)"), "URL" },
    { "api-key", 0, 0, G_OPTION_ARG_STRING, &cli->api_key, N_("Stream API key"), "KEY" },
    { "user", 0, 0, G_OPTION_ARG_STRING, &cli->user, N_("User id"), "ID" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &cli->token, N_("User token (JWT)"), "TOKEN" },
    { "token-command", 0, 0, G_OPTION_ARG_STRING, &cli->token_command,
      N_("Command that prints the user token (run without a shell)"), "CMD" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &cli->json, N_("Print JSON lines"), NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &cli->timeout_s, N_("Give up after SECONDS (default 30)"), "SECONDS" },
    { NULL }
  };
  GOptionEntry connect_entries[] = {
    { "once", 0, 0, G_OPTION_ARG_NONE, &cli->once, N_("Exit as soon as the connection is usable"), NULL },
    { NULL }
  };
  GOptionEntry send_entries[] = {
    { "channel", 0, 0, G_OPTION_ARG_STRING, &cli->channel, N_("Channel to send to"), "TYPE:ID" },
    { "outbox-dir", 0, 0, G_OPTION_ARG_FILENAME, &cli->outbox_dir,
      N_("Outbox directory (default $XDG_STATE_HOME/confab-cli/outbox-USER)"), "DIR" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &cli->rest, NULL, N_("[TEXT]") },
    { NULL }
  };
  GOptionEntry listen_entries[] = {
    { "channel", 0, 0, G_OPTION_ARG_STRING, &cli->channel, N_("Only this channel"), "TYPE:ID" },
    { "count", 0, 0, G_OPTION_ARG_INT, &cli->count, N_("Exit after N messages"), "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = NULL;
  const char *summary = NULL;
  const char *description = NULL;

  cli->timeout_s = DEFAULT_TIMEOUT_S;
  prgname = g_strconcat ("confab-cli ", command_names[cli->command], NULL);
  g_set_prgname (prgname);

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, common, GETTEXT_PACKAGE);
  switch (cli->command)
    {
    case COMMAND_CONNECT:
      g_option_context_add_main_entries (context, connect_entries, GETTEXT_PACKAGE);
      summary = _("Connects and prints every stage, state and quality change until interrupted.\n"
                  "With --once, exits 0 when the connection is usable, 1 on a permanent\n"
                  "failure or after the timeout.");
      description = _("Without --json, each change is a line “[   ms] …” with the milliseconds since the\n"
                      "start: Stage (looking up the server, opening a connection, TLS, WebSocket,\n"
                      "signing in, fetching what was missed, ready), State (connecting, connected,\n"
                      "reconnecting, waiting for the network, failed…), Quality (excellent, good,\n"
                      "poor, with round trip and lost probes), Next attempt, Problem.\n"
                      "\n"
                      "With --json, one JSON object per line, each with “elapsed_ms” and “kind”:\n"
                      "  stage    {stage}\n"
                      "  state    {state, transport, endpoint}\n"
                      "  quality  {quality, rtt_ms, loss}\n"
                      "  retry    {in_ms}: when the next attempt starts\n"
                      "  connect  {}: the connect call, once the client is built\n"
                      "  usable   {time_to_usable_ms, time_to_connected_ms, connect_call_ms, transport,\n"
                      "           endpoint}: with --once, the last line; usable is the first\n"
                      "           health.check (state updating), connected is after catch-up; all\n"
                      "           three since the start, so usable minus connect_call_ms is the\n"
                      "           connect alone\n"
                      "  error    {domain, code, decision, message}\n"
                      "\n"
                      "Exit status: 0 usable (--once) or stopped by SIGINT/SIGTERM; 1 failed or timed\n"
                      "out; 2 wrong usage.");
      break;
    case COMMAND_SEND:
      g_option_context_add_main_entries (context, send_entries, GETTEXT_PACKAGE);
      summary = _("Sends TEXT, or one message per line of standard input, through a durable\n"
                  "outbox, and prints a JSON line for each message sent. Exits 0 when all are\n"
                  "sent, 1 on a permanent failure or after the timeout.");
      description = _("Each message gets its id before the first attempt and is kept in the outbox\n"
                      "until the server has it, so a run that is cut short sends the rest next time\n"
                      "(its line number is then 0). JSON lines: “sent” {id, line}, “state” {state},\n"
                      "“error” {domain, code, decision, message}.");
      break;
    case COMMAND_LISTEN:
      g_option_context_add_main_entries (context, listen_entries, GETTEXT_PACKAGE);
      summary = _("Prints received messages as JSON lines until interrupted or --count.");
      description = _("JSON lines: “message” {id, cid, user, text, created_at}, each message once, in\n"
                      "order, also those missed while away; “state” {state}; “error”.");
      break;
    case COMMAND_DIAGNOSE:
      summary = _("Connects (until the timeout), then prints the anonymised diagnostics report.");
      description = _("The report lists every attempt with its stages and timings, the circuit\n"
                      "breakers and the quality history. User ids are hashed; names, e-mail\n"
                      "addresses, tokens and keys are left out. It is printed even when connecting\n"
                      "failed.");
      break;
    default:
      g_assert_not_reached ();
    }
  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, description);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (error->message);
  if (argc > 1)
    return usage_error (_("Unexpected arguments"));
  if (cli->base_url == NULL || cli->api_key == NULL || cli->user == NULL)
    return usage_error (_("--base-url, --api-key and --user are required"));
  if ((cli->token == NULL) == (cli->token_command == NULL))
    return usage_error (_("Give exactly one of --token and --token-command"));
  if (!valid_user_id (cli->user))
    return usage_error (_("--user must be a Stream user id (letters, digits, @, _ and -)"));
  if (cli->timeout_s <= 0)
    return usage_error (_("--timeout must be positive"));
  if (cli->count < 0)
    return usage_error (_("--count must not be negative"));
  if (cli->command == COMMAND_SEND && cli->channel == NULL)
    return usage_error (_("--channel is required"));
  if (cli->channel != NULL && !valid_cid (cli->channel))
    return usage_error (_("--channel must look like TYPE:ID"));
  if (cli->command != COMMAND_SEND && cli->rest != NULL && cli->rest[0] != NULL)
    return usage_error (_("Unexpected arguments"));
  return 0;
}

static void
cli_clear (Cli *cli)
{
  g_clear_pointer (&cli->base_url, g_free);
  g_clear_pointer (&cli->endpoints, g_strfreev);
  g_clear_pointer (&cli->api_key, g_free);
  g_clear_pointer (&cli->user, g_free);
  if (cli->token != NULL)
    memset (cli->token, 0, strlen (cli->token));
  g_clear_pointer (&cli->token, g_free);
  g_clear_pointer (&cli->token_command, g_free);
  g_clear_pointer (&cli->channel, g_free);
  g_clear_pointer (&cli->outbox_dir, g_free);
  g_clear_pointer (&cli->rest, g_strfreev);
}

int
main (int    argc,
      char **argv)
{
  Cli cli = { 0 };
  int status;
  gboolean found = FALSE;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2)
    {
      print_commands (stderr);
      return CLI_EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      print_commands (stdout);
      return 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      g_print ("confab-cli %s\n", PACKAGE_VERSION);
      return 0;
    }
  for (guint i = 0; i < G_N_ELEMENTS (command_names); i++)
    if (g_str_equal (argv[1], command_names[i]))
      {
        cli.command = (Command) i;
        found = TRUE;
      }
  if (!found)
    {
      g_autofree char *message = g_strdup_printf (_("Unknown command “%s”"), argv[1]);

      return usage_error (message);
    }

  /* The command's own options: argv[1] stands in for the program name. */
  status = parse_options (&cli, argc - 1, argv + 1);
  if (status == 0)
    status = run (&cli);
  cli_clear (&cli);
  return status;
}
