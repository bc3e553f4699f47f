/* confab-impair-main.c: confab-impair, the impairment proxy, and its control client
 *
 *   confab-impair [--control WHERE] [--seed N] [--config FILE] [--die-with-parent]
 *                 [--listener "NAME listen=HOST:PORT upstream=HOST:PORT [KEY=VALUE…]"]…
 *   confab-impair --list-profiles
 *   confab-impair ctl WHERE COMMAND [ARG…]
 *
 * Prints one JSON line once every listener is up: {"control":…,"listeners":[…]}.
 * See tests/impair/README.md.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "confab-impair-control.h"
#include "confab-impair-profiles.h"
#include "confab-impair-proxy.h"

#define EXIT_USAGE 2
#define CTL_TIMEOUT_MS 10000

static int
fail_usage (const char *message)
{
  g_printerr ("confab-impair: %s\n", message);
  g_printerr ("Run “confab-impair --help” for usage.\n");
  return EXIT_USAGE;
}

static char *
node_to_line (JsonNode *node)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, node);
  return json_generator_to_data (generator, NULL);
}

/* JSON goes out as UTF-8 whatever the locale (g_print would convert it). */
static void
print_line (const char *line)
{
  fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

static int
run_ctl (int    argc,
         char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *answer = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (argc < 4)
    return fail_usage ("usage: confab-impair ctl WHERE COMMAND [ARG…]");
  line = g_strjoinv (" ", argv + 3);
  answer = confab_impair_control_call (argv[2], line, CTL_TIMEOUT_MS, &error);
  if (answer == NULL)
    {
      g_printerr ("confab-impair ctl: %s\n", error->message);
      return 1;
    }
  print_line (answer);
  if (!json_parser_load_from_data (parser, answer, -1, NULL))
    return 1;
  root = json_parser_get_root (parser);
  return JSON_NODE_HOLDS_OBJECT (root) &&
         json_object_get_boolean_member_with_default (json_node_get_object (root), "ok", FALSE) ? 0 : 1;
}

/* One listener from the config file, as the words --listener takes. */
static GStrv
config_listener_words (JsonNode  *node,
                       guint      index,
                       GError   **error)
{
  g_autoptr(GStrvBuilder) words = g_strv_builder_new ();
  JsonObject *object;
  JsonNode *rules;
  const char *name;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    goto invalid;
  object = json_node_get_object (node);
  name = json_object_get_string_member_with_default (object, "name", NULL);
  if (name == NULL)
    goto invalid;
  g_strv_builder_add (words, name);
  for (const char *const *key = (const char *const[]) { "listen", "upstream", NULL }; *key != NULL; key++)
    {
      const char *value = json_object_get_string_member_with_default (object, *key, NULL);

      if (value != NULL)
        {
          g_autofree char *word = g_strdup_printf ("%s=%s", *key, value);

          g_strv_builder_add (words, word);
        }
    }
  rules = json_object_get_member (object, "rules");
  if (rules != NULL && JSON_NODE_HOLDS_VALUE (rules) && json_node_get_value_type (rules) == G_TYPE_STRING)
    {
      g_auto(GStrv) parts = g_strsplit (json_node_get_string (rules), " ", -1);

      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_strv_builder_add (words, parts[i]);
    }
  else if (rules != NULL && JSON_NODE_HOLDS_OBJECT (rules))
    {
      JsonObjectIter iter;
      const char *key;
      JsonNode *value;

      json_object_iter_init (&iter, json_node_get_object (rules));
      while (json_object_iter_next (&iter, &key, &value))
        {
          g_autofree char *text = NULL;
          g_autofree char *word = NULL;

          if (!JSON_NODE_HOLDS_VALUE (value))
            goto invalid;
          if (json_node_get_value_type (value) == G_TYPE_STRING)
            text = g_strdup (json_node_get_string (value));
          else if (json_node_get_value_type (value) == G_TYPE_INT64)
            text = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (value));
          else if (json_node_get_value_type (value) == G_TYPE_BOOLEAN)
            text = g_strdup (json_node_get_boolean (value) ? "on" : "off");
          else if (json_node_get_value_type (value) == G_TYPE_DOUBLE)
            {
              char buffer[G_ASCII_DTOSTR_BUF_SIZE];

              text = g_strdup (g_ascii_dtostr (buffer, sizeof buffer, json_node_get_double (value)));
            }
          else
            goto invalid;
          word = g_strdup_printf ("%s=%s", key, text);
          g_strv_builder_add (words, word);
        }
    }
  else if (rules != NULL)
    goto invalid;
  return g_strv_builder_end (words);

invalid:
  g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE,
               "listeners[%u]: expected {\"name\", \"listen\", \"upstream\", \"rules\": \"K=V …\" or {K: V}}",
               index);
  return NULL;
}

static gboolean
load_config (ConfabImpairProxy *proxy,
             const char        *path,
             char             **control,
             GError           **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object;
  JsonArray *listeners;

  if (!json_parser_load_from_file (parser, path, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE, "%s: expected an object", path);
      return FALSE;
    }
  object = json_node_get_object (json_parser_get_root (parser));
  if (*control == NULL && json_object_has_member (object, "control"))
    *control = g_strdup (json_object_get_string_member_with_default (object, "control", NULL));
  if (!json_object_has_member (object, "listeners"))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "listeners")))
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE, "%s: listeners must be an array", path);
      return FALSE;
    }
  listeners = json_object_get_array_member (object, "listeners");
  for (guint i = 0; i < json_array_get_length (listeners); i++)
    {
      g_auto(GStrv) words = config_listener_words (json_array_get_element (listeners, i), i, error);

      if (words == NULL || confab_impair_proxy_add_listener (proxy, (const char * const *) words, error) == NULL)
        {
          g_prefix_error (error, "%s: ", path);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_quit (ConfabImpairProxy *proxy,
         GMainLoop         *loop)
{
  g_main_loop_quit (loop);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *control_where = NULL;
  g_autofree char *config = NULL;
  g_auto(GStrv) listener_specs = NULL;
  gboolean list_profiles = FALSE;
  gboolean die_with_parent = FALSE;
  gint64 seed = -1;
  GOptionEntry entries[] = {
    { "listener", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listener_specs,
      "A listener: \"NAME listen=HOST:PORT upstream=HOST:PORT [KEY=VALUE…]\" (repeatable)", "SPEC" },
    { "control", 'c', 0, G_OPTION_ARG_STRING, &control_where,
      "Control socket: a Unix socket path, or a loopback HOST:PORT", "WHERE" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Listeners and control from a JSON file", "FILE" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed for jitter (default: random)", "N" },
    { "die-with-parent", 0, 0, G_OPTION_ARG_NONE, &die_with_parent, "Exit when the parent process dies", NULL },
    { "list-profiles", 0, 0, G_OPTION_ARG_NONE, &list_profiles, "Print the network profiles as JSON and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabImpairProxy) proxy = NULL;
  g_autoptr(ConfabImpairControl) control = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) ready = NULL;
  g_autofree char *line = NULL;
  guint sigint_id;
  guint sigterm_id;

  if (argc >= 2 && g_str_equal (argv[1], "ctl"))
    return run_ctl (argc, argv);

  context = g_option_context_new ("— the impairment proxy (or: ctl WHERE COMMAND…)");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Sits between clients and a server on loopback and impairs the traffic per listener:\n"
    "latency and jitter per direction, bandwidth, refusals, resets, black holes, blocked\n"
    "WebSocket upgrades, TLS handshake delay, response buffering, a captive portal, an HTTP\n"
    "CONNECT proxy; cut and restore on command. Rules: see tests/impair/README.md.\n"
    "Control: confab-impair ctl WHERE \"set NAME rtt=50\" (ping, list, profiles, get, set,\n"
    "clear, profile, cut, restore, add, remove, quit).");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return fail_usage (error->message);
  if (argc > 1)
    return fail_usage ("unexpected arguments");

  if (list_profiles)
    {
      g_autoptr(JsonNode) profiles = confab_impair_profiles_json ();
      g_autofree char *text = node_to_line (profiles);

      print_line (text);
      return 0;
    }
  if (die_with_parent)
    prctl (PR_SET_PDEATHSIG, SIGTERM);
  if (seed < -1 || seed > G_MAXUINT32)
    return fail_usage ("--seed must be 0–4294967295");

  proxy = confab_impair_proxy_new (seed >= 0 ? (guint32) seed : g_random_int ());
  if (config != NULL && !load_config (proxy, config, &control_where, &error))
    {
      g_printerr ("confab-impair: %s\n", error->message);
      return EXIT_USAGE;
    }
  for (guint i = 0; listener_specs != NULL && listener_specs[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit_set (listener_specs[i], " \t", -1);
      g_autoptr(GStrvBuilder) words = g_strv_builder_new ();
      g_auto(GStrv) list = NULL;

      for (guint j = 0; parts[j] != NULL; j++)
        if (*parts[j] != '\0')
          g_strv_builder_add (words, parts[j]);
      list = g_strv_builder_end (words);
      if (confab_impair_proxy_add_listener (proxy, (const char * const *) list, &error) == NULL)
        {
          g_printerr ("confab-impair: --listener %s: %s\n", listener_specs[i], error->message);
          return EXIT_USAGE;
        }
    }
  if (confab_impair_proxy_get_listeners (proxy)->len == 0 && control_where == NULL)
    return fail_usage ("give at least one --listener (or a --control socket to add them later)");
  if (control_where != NULL)
    {
      control = confab_impair_control_new (proxy, control_where, &error);
      if (control == NULL)
        {
          g_printerr ("confab-impair: %s\n", error->message);
          return EXIT_USAGE;
        }
    }

  loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (proxy, "quit", G_CALLBACK (on_quit), loop);
  sigint_id = g_unix_signal_add (SIGINT, on_signal, loop);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, loop);
  signal (SIGPIPE, SIG_IGN);

  ready = confab_impair_proxy_to_json (proxy);
  if (control != NULL)
    json_object_set_string_member (json_node_get_object (ready), "control", confab_impair_control_get_address (control));
  else
    json_object_set_null_member (json_node_get_object (ready), "control");
  line = node_to_line (ready);
  print_line (line);

  g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (control != NULL)
    confab_impair_control_close (control);
  confab_impair_proxy_stop (proxy);
  return 0;
}
