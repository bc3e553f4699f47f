/* test-outbox-pump.c: ConfabOutboxPump alone against the sandbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-error.h"
#include "confab-outbox-pump.h"
#include "core-test-util.h"
#include "manager-test-util.h"

#define CID "messaging:general"

typedef struct
{
  char                *dir;
  CoreTestSandbox     *sandbox;
  ConfabTokenProvider *provider;
  ConfabOutbox        *outbox;
  ConfabStreamClient  *client;
  ConfabOutboxPump    *pump;
  GPtrArray           *sent;          /* ConfabOutboxItem, in the order of ::sent */
  guint                rate_limited;
  gint64               retry_at;
} Fixture;

static void
on_sent (ConfabOutboxPump *pump,
         ConfabOutboxItem *item,
         Fixture          *f)
{
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_SENT);
  g_ptr_array_add (f->sent, g_object_ref (item));
}

/* As the connection manager does: the server's time holds every send. */
static void
on_rate_limited (ConfabOutboxPump *pump,
                 const GError     *error,
                 gint64            retry_at,
                 Fixture          *f)
{
  g_assert_cmpint (confab_error_classify (error), ==, CONFAB_ERROR_RATE_LIMITED);
  f->rate_limited++;
  f->retry_at = retry_at;
  confab_outbox_pump_set_not_before (pump, retry_at);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("confab-pump-XXXXXX", &error);
  g_assert_no_error (error);
  f->sandbox = start_sandbox (extra);
  f->provider = demo_token_provider (f->sandbox, "alice", NULL);
  f->outbox = confab_outbox_new (f->dir, &error);
  g_assert_no_error (error);
  f->client = confab_stream_client_new (f->sandbox->url, API_KEY, "alice", f->provider, &error);
  g_assert_no_error (error);
  f->pump = confab_outbox_pump_new (f->outbox, NULL, NULL);
  f->sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (f->pump, "sent", G_CALLBACK (on_sent), f);
  g_signal_connect (f->pump, "rate-limited", G_CALLBACK (on_rate_limited), f);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);

  g_clear_object (&f->pump);
  g_clear_object (&f->client);
  g_clear_object (&f->outbox);
  g_clear_object (&f->provider);
  g_clear_pointer (&f->sandbox, core_test_sandbox_stop);
  g_clear_pointer (&f->sent, g_ptr_array_unref);
  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
  g_free (f->dir);
}

static gboolean
all_sent (gpointer user_data)
{
  Fixture *f = user_data;

  return confab_outbox_get_n_pending (f->outbox) == 0 && !confab_outbox_pump_get_sending (f->pump);
}

static gboolean
not_sending (gpointer user_data)
{
  Fixture *f = user_data;

  return !confab_outbox_pump_get_sending (f->pump);
}

static gboolean
resend_scheduled (gpointer user_data)
{
  Fixture *f = user_data;

  return confab_outbox_pump_get_next_retry (f->pump) != 0;
}

static ConfabOutboxItem *
enqueue (Fixture    *f,
         const char *text)
{
  g_autoptr(GError) error = NULL;
  ConfabOutboxItem *item = confab_outbox_enqueue (f->outbox, CID, text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (item);
  return item;
}

/* Active with a client: every pending item goes, oldest first, each once. */
static void
test_sends_in_order (Fixture       *f,
                     gconstpointer  data)
{
  ConfabOutboxItem *items[3];

  items[0] = enqueue (f, "one");
  items[1] = enqueue (f, "two");
  items[2] = enqueue (f, "three");
  confab_outbox_pump_set_client (f->pump, f->client);
  confab_outbox_pump_set_active (f->pump, TRUE);
  confab_outbox_pump_kick (f->pump);
  g_assert_true (confab_outbox_pump_get_sending (f->pump));
  g_assert_true (core_test_wait_until (all_sent, f, DEADLINE_MS));

  g_assert_cmpuint (f->sent->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (g_ptr_array_index (f->sent, i) == items[i]);
      g_assert_cmpuint (confab_outbox_item_get_attempts (items[i]), ==, 0);   /* failed attempts */
    }
  g_assert_cmpint (confab_outbox_pump_get_next_retry (f->pump), ==, 0);
}

/* Nothing is sent while inactive or without a client; items that became pending then
 * go once it may send, and later ones without a kick (from the outbox's notification). */
static void
test_gated (Fixture       *f,
            gconstpointer  data)
{
  enqueue (f, "waits");
  confab_outbox_pump_kick (f->pump);
  g_assert_false (confab_outbox_pump_get_sending (f->pump));
  confab_outbox_pump_set_active (f->pump, TRUE);
  confab_outbox_pump_kick (f->pump);
  g_assert_false (confab_outbox_pump_get_sending (f->pump));
  confab_outbox_pump_set_active (f->pump, FALSE);
  confab_outbox_pump_set_client (f->pump, f->client);
  confab_outbox_pump_kick (f->pump);
  g_assert_false (confab_outbox_pump_get_sending (f->pump));
  g_assert_cmpuint (confab_outbox_get_n_pending (f->outbox), ==, 1);

  confab_outbox_pump_set_active (f->pump, TRUE);
  g_assert_false (confab_outbox_pump_get_sending (f->pump));
  confab_outbox_pump_kick (f->pump);
  g_assert_true (core_test_wait_until (all_sent, f, DEADLINE_MS));
  g_assert_cmpuint (f->sent->len, ==, 1);

  /* Enqueued by someone else, no kick. */
  enqueue (f, "from elsewhere");
  g_assert_true (core_test_wait_until (all_sent, f, DEADLINE_MS));
  g_assert_cmpuint (f->sent->len, ==, 2);
}

/* stop() during a send: the item is queued again with CONNECTION_LOST, nothing lost;
 * the next kick sends it. */
static void
test_stop_mid_send (Fixture       *f,
                    gconstpointer  data)
{
  ConfabOutboxItem *item = enqueue (f, "cut off");

  confab_outbox_pump_set_client (f->pump, f->client);
  confab_outbox_pump_set_active (f->pump, TRUE);
  confab_outbox_pump_kick (f->pump);
  g_assert_true (confab_outbox_pump_get_sending (f->pump));
  confab_outbox_pump_stop (f->pump);
  g_assert_true (core_test_wait_until (not_sending, f, DEADLINE_MS));
  if (f->sent->len == 0)
    {
      g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);
      g_assert_error (confab_outbox_item_get_last_error (item), CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST);
      confab_outbox_pump_kick (f->pump);
      g_assert_true (core_test_wait_until (all_sent, f, DEADLINE_MS));
    }
  g_assert_cmpuint (f->sent->len, ==, 1);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_SENT);
}

/* 429 with Retry-After: ::rate-limited says when, next-retry is no earlier, then the
 * item goes through on the resend. */
static void
test_rate_limited (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  ConfabOutboxItem *item;

  g_assert_true (core_test_sandbox_rate_limit (f->sandbox, "/channels/messaging/general/message", 1, "1", 0, &error));
  g_assert_no_error (error);
  item = enqueue (f, "rate limited once");
  confab_outbox_pump_set_client (f->pump, f->client);
  confab_outbox_pump_set_active (f->pump, TRUE);
  confab_outbox_pump_kick (f->pump);
  g_assert_true (core_test_wait_until (resend_scheduled, f, DEADLINE_MS));
  g_assert_cmpuint (f->rate_limited, ==, 1);
  g_assert_cmpint (f->retry_at, >, 0);
  g_assert_cmpint (confab_outbox_pump_get_not_before (f->pump), ==, f->retry_at);
  g_assert_cmpint (confab_outbox_pump_get_next_retry (f->pump), >=, f->retry_at - 1000);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);

  g_assert_true (core_test_wait_until (all_sent, f, DEADLINE_MS));
  g_assert_cmpuint (f->sent->len, ==, 1);
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 1);   /* the refused one */
  g_assert_cmpint (confab_outbox_pump_get_next_retry (f->pump), ==, 0);
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
  g_test_add ("/core/outbox-pump/sends-in-order", Fixture, NULL, fixture_set_up, test_sends_in_order, fixture_tear_down);
  g_test_add ("/core/outbox-pump/gated", Fixture, NULL, fixture_set_up, test_gated, fixture_tear_down);
  g_test_add ("/core/outbox-pump/stop-mid-send", Fixture, NULL, fixture_set_up, test_stop_mid_send, fixture_tear_down);
  g_test_add ("/core/outbox-pump/rate-limited", Fixture, NULL, fixture_set_up, test_rate_limited, fixture_tear_down);

  return g_test_run ();
}
