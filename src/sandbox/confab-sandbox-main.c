/* confab-sandbox-main.c: the confab-sandbox command
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>

#include "confab-sandbox-demo.h"
#include "confab-sandbox-server.h"

/* How long a shutdown waits for clients to take their close frames. */
#define DRAIN_SECONDS 1

typedef struct
{
  GMainLoop           *loop;
  ConfabSandboxServer *server;
  int                  signal_number;
} Sandbox;

static gboolean
on_signal (gpointer user_data)
{
  Sandbox *sandbox = user_data;

  g_message ("signal received, shutting down");
  g_main_loop_quit (sandbox->loop);
  return G_SOURCE_REMOVE;
}

/* HOST:PORT, [IPv6]:PORT or localhost:PORT; port 0 picks a free port. */
static GSocketAddress *
parse_listen (const char  *text,
              GError     **error)
{
  g_autofree char *host = NULL;
  const char *colon;
  guint64 port = 0;
  GSocketAddress *address;

  colon = strrchr (text, ':');
  if (colon == NULL || colon[1] == '\0' ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--listen needs HOST:PORT, for example 127.0.0.1:0 (got “%s”)"), text);
      return NULL;
    }

  host = g_strndup (text, colon - text);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
    }
  if (g_str_equal (host, "localhost") || host[0] == '\0')
    {
      g_free (host);
      host = g_strdup ("127.0.0.1");
    }

  address = g_inet_socket_address_new_from_string (host, port);
  if (address == NULL)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 _("--listen needs a numeric IP address or localhost (got “%s”)"), host);
  return address;
}

static void
drain (Sandbox *sandbox)
{
  ConfabSandboxHub *hub = confab_sandbox_server_get_hub (sandbox->server);
  gint64 deadline = g_get_monotonic_time () + DRAIN_SECONDS * G_USEC_PER_SEC;
  guint open = 0;

  confab_sandbox_server_shutdown (sandbox->server);
  do
    {
      g_object_get (hub, "n-connections", &open, NULL);
      if (open == 0)
        break;
      g_main_context_iteration (NULL, FALSE);
    }
  while (g_get_monotonic_time () < deadline);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(ConfabSandboxStore) store = NULL;
  g_autoptr(ConfabSandboxWebhooks) webhooks = NULL;
  g_autoptr(ConfabSandboxServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *api_key = NULL;
  g_autofree char *api_secret = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *webhook_url = NULL;
  g_autofree char *url = NULL;
  gboolean allow_dev_tokens = FALSE;
  gboolean demo = FALSE;
  gboolean no_websocket = FALSE;
  gboolean version = FALSE;
  int demo_messages = 0;
  int longpoll_hold = 20;
  Sandbox sandbox = { 0 };
  GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
      N_("Address to listen on (default 127.0.0.1:0, a free port)"), N_("HOST:PORT") },
    { "api-key", 0, 0, G_OPTION_ARG_STRING, &api_key,
      N_("The app's API key (default confab-sandbox)"), N_("KEY") },
    { "api-secret", 0, 0, G_OPTION_ARG_STRING, &api_secret,
      N_("The secret that signs tokens and webhooks (default: random)"), N_("SECRET") },
    { "allow-dev-tokens", 0, 0, G_OPTION_ARG_NONE, &allow_dev_tokens,
      N_("Accept unsigned development tokens"), NULL },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
      N_("Keep users, channels and messages in DIR (default: in memory)"), N_("DIR") },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert,
      N_("Serve HTTPS and WSS with this PEM certificate"), N_("FILE") },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key,
      N_("The PEM private key for --tls-cert"), N_("FILE") },
    { "webhook-url", 0, 0, G_OPTION_ARG_STRING, &webhook_url,
      N_("POST every event, signed, to URL"), N_("URL") },
    { "demo", 0, 0, G_OPTION_ARG_NONE, &demo,
      N_("Create the demo users alice, bob and carol with channels and history"), NULL },
    { "demo-messages", 0, 0, G_OPTION_ARG_INT, &demo_messages,
      N_("Put N history messages in the demo's main channel"), N_("N") },
    { "no-websocket", 0, 0, G_OPTION_ARG_NONE, &no_websocket,
      N_("Refuse WebSocket upgrades, so clients must use long-polling"), NULL },
    { "longpoll-hold", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &longpoll_hold,
      N_("Seconds an idle long-poll is held open"), N_("SECONDS") },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      N_("Print the version and exit"), NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context,
                                _("A local stand-in for the Stream Chat service: its WebSocket, "
                                  "long-poll and REST protocol, for offline demos and tests.\n"
                                  "When ready it prints one JSON line: {\"listening\":\"URL\"}."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("confab-sandbox: %s\n", error->message);
      return 2;
    }

  if (version)
    {
      g_print ("confab-sandbox %s\n", PACKAGE_VERSION);
      return 0;
    }

  if (demo_messages < 0 || demo_messages > 1000000 || (demo_messages > 0 && !demo))
    {
      g_printerr ("confab-sandbox: %s\n", _("--demo-messages needs --demo and a count from 0 to 1000000"));
      return 2;
    }
  if (longpoll_hold < 1 || longpoll_hold > 120)
    {
      g_printerr ("confab-sandbox: %s\n", _("--longpoll-hold must be from 1 to 120 seconds"));
      return 2;
    }
  if ((tls_cert == NULL) != (tls_key == NULL))
    {
      g_printerr ("confab-sandbox: %s\n", _("--tls-cert and --tls-key go together"));
      return 2;
    }

  address = parse_listen (listen != NULL ? listen : "127.0.0.1:0", &error);
  if (address == NULL)
    {
      g_printerr ("confab-sandbox: %s\n", error->message);
      return 2;
    }

  if (tls_cert != NULL)
    {
      certificate = g_tls_certificate_new_from_files (tls_cert, tls_key, &error);
      if (certificate == NULL)
        {
          g_printerr ("confab-sandbox: %s: %s\n", _("cannot load the TLS certificate"), error->message);
          return 1;
        }
    }

  if (webhook_url != NULL && !confab_sandbox_webhooks_validate_url (webhook_url, &error))
    {
      g_printerr ("confab-sandbox: --webhook-url: %s\n", error->message);
      return 2;
    }

  if (api_key == NULL)
    api_key = g_strdup ("confab-sandbox");
  if (api_secret == NULL)
    {
      /* Nobody can forge tokens for a sandbox they were not told the secret of. */
      g_autofree char *a = g_uuid_string_random ();
      g_autofree char *b = g_uuid_string_random ();

      api_secret = g_strconcat (a, b, NULL);
    }
  if (*api_key == '\0' || *api_secret == '\0')
    {
      g_printerr ("confab-sandbox: %s\n", _("the API key and secret must not be empty"));
      return 2;
    }

  store = confab_sandbox_store_new (data_dir, &error);
  if (store == NULL)
    {
      g_printerr ("confab-sandbox: %s: %s\n", _("cannot open the data store"), error->message);
      return 1;
    }

  if (demo && !confab_sandbox_demo_seed (store, demo_messages, &error))
    {
      g_printerr ("confab-sandbox: %s: %s\n", _("cannot create the demo data"), error->message);
      return 1;
    }

  if (webhook_url != NULL)
    webhooks = confab_sandbox_webhooks_new (webhook_url, api_key, api_secret);

  server = confab_sandbox_server_new (api_key, api_secret, store, webhooks);
  g_object_set (server,
                "allow-dev-tokens", allow_dev_tokens,
                "websocket-enabled", !no_websocket,
                "demo", demo,
                "longpoll-hold-seconds", (guint) longpoll_hold,
                NULL);

  if (!confab_sandbox_server_listen (server, address, certificate, &error))
    {
      g_printerr ("confab-sandbox: %s: %s\n", _("cannot listen"), error->message);
      return 1;
    }

  loop = g_main_loop_new (NULL, FALSE);
  sandbox.loop = loop;
  sandbox.server = server;
  g_unix_signal_add (SIGTERM, on_signal, &sandbox);
  g_unix_signal_add (SIGINT, on_signal, &sandbox);

  url = confab_sandbox_server_dup_url (server);
  g_print ("{\"listening\":\"%s\"}\n", url);
  fflush (stdout);

  g_main_loop_run (loop);
  drain (&sandbox);

  return 0;
}
