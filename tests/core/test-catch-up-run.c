/* test-catch-up-run.c: ConfabCatchUp alone against the sandbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-catch-up.h"
#include "confab-error.h"
#include "confab-static-token-provider.h"
#include "confab-watermark.h"
#include "core-test-util.h"
#include "manager-test-util.h"

/* A thousand events take ~0.4 s, but 20 s under AddressSanitizer with full malloc stacks. */
#define RUN_DEADLINE_MS 60000

typedef struct
{
  GPtrArray *ids;          /* message ids of message.new events, in order */
  GPtrArray *times;        /* every event's time, in order */
  guint      n_events;
  guint      n_rtt;
  guint      cancel_after; /* cancel in the handler of this event (0: never) */
  GCancellable *cancellable;
  gboolean   done;
  gboolean   ok;
  GError    *error;
} Run;

static void
on_event (ConfabCatchUp *catch_up,
          JsonObject    *event,
          Run           *run)
{
  JsonObject *message = NULL;

  run->n_events++;
  if (json_object_has_member (event, "message") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (event, "message")))
    message = json_object_get_object_member (event, "message");
  if (g_strcmp0 (json_object_get_string_member_with_default (event, "type", NULL), "message.new") == 0 &&
      message != NULL)
    g_ptr_array_add (run->ids, g_strdup (json_object_get_string_member_with_default (message, "id", "")));
  g_ptr_array_add (run->times, g_strdup (json_object_get_string_member_with_default (event, "created_at", "")));
  if (run->cancel_after != 0 && run->n_events == run->cancel_after)
    g_cancellable_cancel (run->cancellable);
}

static void
on_rest_rtt (ConfabCatchUp *catch_up,
             guint          rtt_ms,
             Run           *run)
{
  run->n_rtt++;
  g_assert_cmpuint (rtt_ms, <, RUN_DEADLINE_MS);
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Run *run = user_data;

  run->ok = confab_catch_up_run_finish (CONFAB_CATCH_UP (source), result, &run->error);
  run->done = TRUE;
}

/* Runs a catch-up for alice from @since; fills @run. */
static ConfabCatchUp *
run_catch_up (CoreTestSandbox     *sandbox,
              ConfabTokenProvider *provider,
              gint64               since,
              Run                 *run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabStreamClient) client = confab_stream_client_new (sandbox->url, API_KEY, "alice", provider, &error);
  ConfabCatchUp *catch_up;

  g_assert_no_error (error);
  catch_up = confab_catch_up_new (client, since, NULL, NULL);
  g_assert_true (confab_catch_up_get_client (catch_up) == client);
  g_assert_cmpint (confab_catch_up_get_since (catch_up), ==, since);
  run->ids = g_ptr_array_new_with_free_func (g_free);
  run->times = g_ptr_array_new_with_free_func (g_free);
  run->cancellable = g_cancellable_new ();
  g_signal_connect (catch_up, "event", G_CALLBACK (on_event), run);
  g_signal_connect (catch_up, "rest-rtt", G_CALLBACK (on_rest_rtt), run);
  confab_catch_up_run_async (catch_up, run->cancellable, run_done, run);
  g_assert_true (core_test_wait_flag (&run->done, RUN_DEADLINE_MS));
  return catch_up;
}

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->ids, g_ptr_array_unref);
  g_clear_pointer (&run->times, g_ptr_array_unref);
  g_clear_object (&run->cancellable);
  g_clear_error (&run->error);
  memset (run, 0, sizeof *run);
}

static void
assert_in_time_order (Run *run)
{
  for (guint i = 1; i < run->times->len; i++)
    g_assert_cmpstr (g_ptr_array_index (run->times, i - 1), <=, g_ptr_array_index (run->times, i));
}

static void
assert_unique (Run *run)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < run->ids->len; i++)
    g_assert_true (g_hash_table_add (seen, g_ptr_array_index (run->ids, i)));
}

/* Every id of @expected exactly once in @run, in the same order. */
static void
assert_ids (Run       *run,
            GPtrArray *expected)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint next = 0;

  for (guint i = 0; i < run->ids->len; i++)
    g_assert_true (g_hash_table_add (seen, g_ptr_array_index (run->ids, i)));
  for (guint i = 0; i < run->ids->len && next < expected->len; i++)
    if (g_str_equal (g_ptr_array_index (run->ids, i), g_ptr_array_index (expected, next)))
      next++;
  g_assert_cmpuint (next, ==, expected->len);
}

#define MISSED 1100

/* 1 100 messages after the watermark: /sync's cap of 1 000 makes two pages; every
 * message once, in order; one REST round-trip sample. */
static void
test_run_sync_pages (void)
{
  g_autofree char *count = g_strdup_printf ("%u", MISSED);
  const char *extra[] = { "--demo", "--demo-messages", count, NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autofree char *carol_token = NULL;
  g_autoptr(ConfabTokenProvider) carol = demo_token_provider (sandbox, "carol", &carol_token);
  g_autoptr(GPtrArray) later = NULL;
  g_autoptr(ConfabCatchUp) catch_up = NULL;
  Run run = { 0 };
  gint64 before;

  catch_up = run_catch_up (sandbox, provider, g_get_real_time () - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC, &run);
  g_assert_no_error (run.error);
  g_assert_true (run.ok);
  /* The demo's own few messages in other channels come too. */
  g_assert_cmpuint (run.ids->len, >=, MISSED);
  g_assert_cmpuint (run.ids->len, <, MISSED + 10);
  assert_unique (&run);
  g_assert_cmpuint (confab_catch_up_get_n_sync_pages (catch_up), ==, 2);
  g_assert_cmpuint (confab_catch_up_get_n_delivered (catch_up), ==, run.n_events);
  g_assert_cmpuint (confab_catch_up_get_n_channels (catch_up), >, 0);
  g_assert_cmpuint (run.n_rtt, ==, 1);
  assert_in_time_order (&run);
  run_clear (&run);
  g_clear_object (&catch_up);

  /* From a watermark just before carol's three: exactly those, one page. */
  before = g_get_real_time ();
  later = core_test_sandbox_post_messages (sandbox, carol_token, "carol", "messaging:design", "later", 3);
  catch_up = run_catch_up (sandbox, provider, before, &run);
  g_assert_no_error (run.error);
  g_assert_cmpuint (confab_catch_up_get_n_sync_pages (catch_up), ==, 1);
  assert_ids (&run, later);
  g_assert_cmpuint (run.ids->len, ==, 3);
  run_clear (&run);
}

/* No watermark (a first start): the channels are watched, nothing is fetched. */
static void
test_run_no_watermark (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(ConfabCatchUp) catch_up = NULL;
  Run run = { 0 };

  catch_up = run_catch_up (sandbox, provider, 0, &run);
  g_assert_no_error (run.error);
  g_assert_true (run.ok);
  g_assert_cmpuint (run.n_events, ==, 0);
  g_assert_cmpuint (confab_catch_up_get_n_sync_pages (catch_up), ==, 0);
  g_assert_cmpuint (confab_catch_up_get_n_channels (catch_up), >, 0);
  run_clear (&run);
}

/* A watermark older than 30 days: /sync is refused, the channels are read instead and
 * their messages delivered as message.new, in order, once each. */
static void
test_run_fallback (void)
{
  const char *extra[] = { "--demo", "--demo-messages", "350", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(ConfabCatchUp) catch_up = NULL;
  Run run = { 0 };

  catch_up = run_catch_up (sandbox, provider, g_get_real_time () - G_GINT64_CONSTANT (31) * 24 * 3600 * G_USEC_PER_SEC,
                           &run);
  g_assert_no_error (run.error);
  g_assert_true (run.ok);
  g_assert_cmpuint (run.ids->len, >=, 350);
  g_assert_cmpuint (run.ids->len, ==, run.n_events);
  assert_unique (&run);
  g_assert_cmpuint (confab_catch_up_get_n_delivered (catch_up), ==, run.n_events);
  assert_in_time_order (&run);
  run_clear (&run);
}

/* A handler that cancels: no further event, and the run ends CANCELLED. */
static void
test_run_cancel_in_handler (void)
{
  const char *extra[] = { "--demo", "--demo-messages", "50", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(ConfabCatchUp) catch_up = NULL;
  Run run = { .cancel_after = 3 };

  catch_up = run_catch_up (sandbox, provider, g_get_real_time () - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC, &run);
  g_assert_false (run.ok);
  g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (run.n_events, ==, 3);
  run_clear (&run);
}

/* A refused token: the REST error, classified as the UI needs it; no event. */
static void
test_run_error (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *token = make_token ("alice", "not-the-secret");
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));
  g_autoptr(ConfabCatchUp) catch_up = NULL;
  Run run = { 0 };

  catch_up = run_catch_up (sandbox, provider, g_get_real_time () - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC, &run);
  g_assert_false (run.ok);
  g_assert_nonnull (run.error);
  g_assert_false (g_error_matches (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_assert_cmpint (confab_error_classify (run.error), ==, CONFAB_ERROR_AUTH);
  g_assert_cmpuint (run.n_events, ==, 0);
  run_clear (&run);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *sandbox = NULL;

  g_test_init (&argc, &argv, NULL);

  sandbox = core_test_sandbox_path ();
  if (sandbox == NULL)
    {
      g_test_message ("no confab-sandbox binary; set CONFAB_SANDBOX");
      return g_test_run ();
    }
  g_test_add_func ("/core/catch-up/run/sync-pages", test_run_sync_pages);
  g_test_add_func ("/core/catch-up/run/no-watermark", test_run_no_watermark);
  g_test_add_func ("/core/catch-up/run/fallback", test_run_fallback);
  g_test_add_func ("/core/catch-up/run/cancel-in-handler", test_run_cancel_in_handler);
  g_test_add_func ("/core/catch-up/run/error", test_run_error);

  return g_test_run ();
}
