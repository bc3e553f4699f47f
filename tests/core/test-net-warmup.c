/* test-net-warmup.c: the first-connection warm-up: what it loads, bad addresses, cancel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-error.h"
#include "confab-net-warmup.h"

#define WAIT_MS 20000  /* a loaded CI machine parses the CA bundle in well under this */

typedef struct
{
  gboolean             done;
  ConfabNetWarmupFlags flags;
  GError              *error;
} Outcome;

static void
on_warmed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Outcome *outcome = user_data;

  g_assert_null (source);
  outcome->flags = confab_net_warmup_finish (result, &outcome->error);
  outcome->done = TRUE;
}

static gboolean
expire (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs one warm-up to its end on the main context (a deadline is a failure). */
static void
warm (const char   *url,
      GCancellable *cancellable,
      Outcome      *outcome)
{
  gboolean expired = FALSE;
  guint deadline = g_timeout_add (WAIT_MS, expire, &expired);

  confab_net_warmup_async (url, cancellable, on_warmed, outcome);
  while (!outcome->done && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (deadline);
  g_assert_true (outcome->done);
}

static void
test_loopback (void)
{
  Outcome outcome = { 0 };

  /* An IP literal over http: the proxy resolver only (no lookup, no TLS). */
  warm ("http://127.0.0.1:8270", NULL, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_cmpint (outcome.flags, ==, CONFAB_NET_WARMUP_PROXY);
}

static void
test_tls_and_name (void)
{
  Outcome outcome = { 0 };
  g_autoptr(GTlsDatabase) database = NULL;
  gint64 start;

  /* A name over https: the lookup and the TLS database too; no connection is made
   * (port 1 on loopback: nothing listens, nothing is sent). */
  warm ("https://localhost:1", NULL, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_cmpint (outcome.flags, ==,
                   CONFAB_NET_WARMUP_PROXY | CONFAB_NET_WARMUP_RESOLVER | CONFAB_NET_WARMUP_TLS);

  /* What a first TLS connect would have loaded is there now: asking again is instant. */
  start = g_get_monotonic_time ();
  database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  g_test_message ("default TLS database after the warm-up: %s in %" G_GINT64_FORMAT " us",
                  database != NULL ? "there" : "none (no TLS backend)", g_get_monotonic_time () - start);
  if (g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    g_assert_nonnull (database);
}

static void
test_bad_addresses (void)
{
  const char *bad[] = { "", "not a url", "ftp://example.org", "https://", "file:///etc/passwd", NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      Outcome outcome = { 0 };

      warm (bad[i], NULL, &outcome);
      g_assert_error (outcome.error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL);
      g_assert_cmpint (outcome.flags, ==, 0);
      g_clear_error (&outcome.error);
    }

  /* Fire and forget with nothing usable does nothing, and says nothing. */
  confab_net_warmup_start (NULL);
  confab_net_warmup_start ("not a url");
}

static void
test_cancelled (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Outcome outcome = { 0 };

  g_cancellable_cancel (cancellable);
  warm ("https://localhost:1", cancellable, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (outcome.flags, ==, 0);
  g_clear_error (&outcome.error);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/net-warmup/loopback", test_loopback);
  g_test_add_func ("/core/net-warmup/tls-and-name", test_tls_and_name);
  g_test_add_func ("/core/net-warmup/bad-addresses", test_bad_addresses);
  g_test_add_func ("/core/net-warmup/cancelled", test_cancelled);

  return g_test_run ();
}
