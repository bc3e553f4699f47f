/* confab-net-warmup.c: the one-time costs of a first connection, paid in a thread ahead of it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-error.h"
#include "confab-net-warmup.h"

/* A process's first connection pays for things no later one does: GIO loads the proxy
 * resolver module (libproxy, which reads GSettings through dconf), NSS loads its
 * modules for the first name lookup, and the first TLS connection loads the GnuTLS
 * backend and parses the system CA bundle (80–130 ms on the benchmark machine). Each is
 * a process-wide singleton behind a lock, so doing them in a worker thread while the
 * caller does what must come first anyway (building the manager, fetching the token,
 * reading the state, building the UI) takes them off the connect path; a connect that
 * gets there first simply waits on the same lock, never longer than it would have. */

typedef struct {
  char    *url;        /* the REST base, http(s)://… */
  char    *host;
  gboolean tls;
} Warmup;

static void
warmup_free (Warmup *warmup)
{
  g_free (warmup->url);
  g_free (warmup->host);
  g_free (warmup);
}

static void
warmup_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Warmup *warmup = task_data;
  ConfabNetWarmupFlags done = 0;
  gint64 start = g_get_monotonic_time ();
  gint64 t;

  /* The proxy resolver first: every connection asks it, TLS or not. Its answer is not
   * kept (GSocketClient asks again), only the loaded module and its settings. */
  if (!g_cancellable_is_cancelled (cancellable))
    {
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) proxies = NULL;

      t = g_get_monotonic_time ();
      proxies = g_proxy_resolver_lookup (g_proxy_resolver_get_default (), warmup->url, cancellable, &error);
      g_debug ("warm-up: proxy resolver ready in %" G_GINT64_FORMAT " us%s", g_get_monotonic_time () - t,
               proxies == NULL ? " (lookup failed)" : "");
      done |= CONFAB_NET_WARMUP_PROXY;
    }

  /* An IP literal needs no lookup; a name loads NSS and warms whatever cache the
   * system resolver has. */
  if (!g_cancellable_is_cancelled (cancellable) && !g_hostname_is_ip_address (warmup->host))
    {
      g_autolist(GInetAddress) addresses = NULL;
      g_autoptr(GError) error = NULL;

      t = g_get_monotonic_time ();
      addresses = g_resolver_lookup_by_name (g_resolver_get_default (), warmup->host, cancellable, &error);
      g_debug ("warm-up: host looked up in %" G_GINT64_FORMAT " us%s", g_get_monotonic_time () - t,
               addresses == NULL ? " (lookup failed)" : "");
      done |= CONFAB_NET_WARMUP_RESOLVER;
    }

  if (!g_cancellable_is_cancelled (cancellable) && warmup->tls)
    {
      g_autoptr(GTlsDatabase) database = NULL;

      t = g_get_monotonic_time ();
      database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
      g_debug ("warm-up: TLS database %s in %" G_GINT64_FORMAT " us",
               database != NULL ? "loaded" : "unavailable", g_get_monotonic_time () - t);
      done |= CONFAB_NET_WARMUP_TLS;
    }

  g_debug ("warm-up done in %" G_GINT64_FORMAT " us", g_get_monotonic_time () - start);
  if (g_task_return_error_if_cancelled (task))
    return;
  g_task_return_int (task, done);
}

/**
 * confab_net_warmup_async:
 * @base_url: the server's REST base (`https://host[:port]`, or `http://` for loopback)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (nullable): called when the warm-up is done
 * @user_data: for @callback
 *
 * Loads, in a worker thread, what the first connection to @base_url would otherwise
 * load on its critical path: the default #GProxyResolver (and its first answer), the
 * name lookup machinery for the host (not for an IP literal), and for `https://` the
 * TLS backend's default CA database. Start it as early as the endpoint is known; it
 * sends nothing over the network except a name lookup. Safe to call more than once
 * (the second call finds everything loaded).
 */
void
confab_net_warmup_async (const char          *base_url,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GUri) uri = NULL;
  Warmup *warmup;
  const char *scheme;

  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_net_warmup_async);
  g_task_set_name (task, "[confab] network warm-up");

  if (base_url != NULL)
    uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (g_ascii_strcasecmp (scheme, "https") != 0 && g_ascii_strcasecmp (scheme, "http") != 0 &&
       g_ascii_strcasecmp (scheme, "wss") != 0 && g_ascii_strcasecmp (scheme, "ws") != 0))
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                               "the server address is not a valid http(s) URL");
      return;
    }

  warmup = g_new0 (Warmup, 1);
  warmup->url = g_strdup (base_url);
  warmup->host = g_strdup (g_uri_get_host (uri));
  warmup->tls = g_ascii_strcasecmp (scheme, "https") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0;
  g_task_set_task_data (task, warmup, (GDestroyNotify) warmup_free);
  g_task_run_in_thread (task, warmup_thread);
}

/**
 * confab_net_warmup_finish:
 * @result: the result passed to the callback
 * @error: return location for an error: %CONFAB_ERROR_INSECURE_URL for an address
 *   that is not an http(s) URL, %G_IO_ERROR_CANCELLED
 *
 * Returns: what was warmed, or 0 with @error set
 */
ConfabNetWarmupFlags
confab_net_warmup_finish (GAsyncResult  *result,
                          GError       **error)
{
  gssize done;

  g_return_val_if_fail (g_task_is_valid (result, NULL), 0);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == confab_net_warmup_async, 0);

  done = g_task_propagate_int (G_TASK (result), error);
  return done < 0 ? 0 : (ConfabNetWarmupFlags) done;
}

/**
 * confab_net_warmup_start:
 * @base_url: (nullable): as for confab_net_warmup_async(); %NULL or a bad URL does nothing
 *
 * Fire and forget: confab_net_warmup_async() with no callback, for a caller that only
 * wants its first connection to be faster.
 */
void
confab_net_warmup_start (const char *base_url)
{
  if (base_url == NULL)
    return;
  confab_net_warmup_async (base_url, NULL, NULL, NULL);
}
