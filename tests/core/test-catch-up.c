/* test-catch-up.c: what was missed while away arrives in order, once, before "connected"
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-connection-manager.h"
#include "core-test-util.h"
#include "manager-test-util.h"

/* A catch-up of a thousand events takes ~0.4 s, but 20 s under AddressSanitizer with full
 * malloc stacks. */
#define CATCH_UP_DEADLINE_MS 60000

/* Received messages ---------------------------------------------------------------------- */

typedef struct
{
  ConfabConnectionManager *manager;
  GPtrArray               *ids;        /* received message ids, in order */
  GPtrArray               *created;    /* their created_at */
  GHashTable              *counts;     /* id → times received */
  guint                    after_connected;  /* received while the state said CONNECTED */
} Received;

static void
on_received (ConfabConnectionManager *manager,
             JsonObject              *message,
             Received                *rec)
{
  const char *id = json_object_get_string_member_with_default (message, "id", NULL);

  g_assert_nonnull (id);
  g_ptr_array_add (rec->ids, g_strdup (id));
  g_ptr_array_add (rec->created, g_strdup (json_object_get_string_member_with_default (message, "created_at", "")));
  g_hash_table_insert (rec->counts, g_strdup (id),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (rec->counts, id)) + 1));
  if (confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_CONNECTED)
    rec->after_connected++;
}

static void
received_init (Received                *rec,
               ConfabConnectionManager *manager)
{
  rec->manager = manager;
  rec->ids = g_ptr_array_new_with_free_func (g_free);
  rec->created = g_ptr_array_new_with_free_func (g_free);
  rec->counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_signal_connect (manager, "message-received", G_CALLBACK (on_received), rec);
}

static void
received_clear (Received *rec)
{
  g_signal_handlers_disconnect_by_data (rec->manager, rec);
  g_ptr_array_unref (rec->ids);
  g_ptr_array_unref (rec->created);
  g_hash_table_unref (rec->counts);
}

/* Every id of @sent received exactly once, in @sent's order, and everything received in
 * time order. */
static void
assert_received_in_order (Received  *rec,
                          GPtrArray *sent)
{
  guint next = 0;

  for (guint i = 0; i < sent->len; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (rec->counts, g_ptr_array_index (sent, i))), ==, 1);
  for (guint i = 0; i < rec->ids->len && next < sent->len; i++)
    if (g_str_equal (g_ptr_array_index (rec->ids, i), g_ptr_array_index (sent, next)))
      next++;
  g_assert_cmpuint (next, ==, sent->len);
  for (guint i = 1; i < rec->created->len; i++)
    g_assert_cmpstr (g_ptr_array_index (rec->created, i - 1), <=, g_ptr_array_index (rec->created, i));
}

/* Tests --------------------------------------------------------------------------------- */

/* The ids of @cid's messages, oldest first, read page by page as bob. */
static GPtrArray *
channel_ids (CoreTestSandbox *sandbox,
             const char      *token,
             const char      *cid)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) parts = g_strsplit (cid, ":", 2);
  g_autofree char *oldest = NULL;

  for (;;)
    {
      g_autofree char *url = g_strdup_printf ("%s/channels/%s/%s/query?api_key=%s", sandbox->url, parts[0],
                                              parts[1], API_KEY);
      g_autofree char *body = oldest != NULL
        ? g_strdup_printf ("{\"messages\":{\"limit\":300,\"id_lt\":\"%s\"}}", oldest)
        : g_strdup ("{\"messages\":{\"limit\":300}}");
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) answer = NULL;
      g_autoptr(GPtrArray) page = g_ptr_array_new_with_free_func (g_free);
      JsonArray *messages;
      guint status = 0;

      answer = core_test_rest ("POST", url, token, body, &status, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (status / 100, ==, 2);
      messages = json_object_get_array_member (answer, "messages");
      for (guint i = 0; i < json_array_get_length (messages); i++)
        g_ptr_array_add (page, g_strdup (json_object_get_string_member (json_array_get_object_element (messages, i),
                                                                        "id")));
      /* This older page goes before what we have. */
      for (guint i = 0; i < ids->len; i++)
        g_ptr_array_add (page, g_strdup (g_ptr_array_index (ids, i)));
      g_ptr_array_set_size (ids, 0);
      g_ptr_array_extend_and_steal (ids, g_steal_pointer (&page));
      if (json_array_get_length (messages) < 300)
        break;
      g_free (oldest);
      oldest = g_strdup (g_ptr_array_index (ids, 0));
    }
  return ids;
}

static char *
old_watermark (const char *state_dir,
               gint64      age_us)
{
  g_autofree char *path = g_build_filename (state_dir, "watermark", NULL);
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT "\n", g_get_real_time () - age_us);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_no_error (error);
  return g_strdup (state_dir);
}

static void
remove_dir (const char *path)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", path);

  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
}

#define MISSED 1100

/* More than /sync's cap of 1 000 events missed while away (the demo writes them after
 * the stored watermark): paged, in order, exactly once, all before CONNECTED. Then a
 * short absence with a message in another channel: the same on a reconnect. */
static void
test_catch_up_paged (void)
{
  g_autofree char *dir = g_dir_make_tmp ("confab-catch-up-XXXXXX", NULL);
  g_autofree char *state_dir = old_watermark (dir, 60 * G_USEC_PER_SEC);
  g_autofree char *count = g_strdup_printf ("%u", MISSED);
  const char *extra[] = { "--demo", "--demo-messages", count, NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *bob_token = NULL;
  g_autoptr(ConfabTokenProvider) bob = demo_token_provider (sandbox, "bob", &bob_token);
  g_autofree char *carol_token = NULL;
  g_autoptr(ConfabTokenProvider) carol = demo_token_provider (sandbox, "carol", &carol_token);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, state_dir);
  g_autoptr(GPtrArray) general = channel_ids (sandbox, bob_token, "messaging:general");
  g_autoptr(GPtrArray) later = NULL;
  g_autoptr(GError) error = NULL;
  Received rec = { 0 };
  gint64 started;

  g_assert_cmpuint (general->len, ==, MISSED);
  received_init (&rec, manager);
  started = g_get_monotonic_time ();
  g_assert_true (connect_and_wait_for (manager, "alice", CATCH_UP_DEADLINE_MS, &error));
  g_assert_no_error (error);
  g_test_message ("caught up on %u messages in %" G_GINT64_FORMAT " ms", rec.ids->len, core_test_elapsed_ms (started));

  assert_received_in_order (&rec, general);
  g_assert_cmpuint (rec.after_connected, ==, 0);
  g_assert_true (report_has (manager, "/sync page 2"));
  g_assert_cmpuint (g_hash_table_size (rec.counts), ==, rec.ids->len);

  /* Away again; carol writes in another channel; back: caught up before CONNECTED. */
  received_clear (&rec);
  received_init (&rec, manager);
  test_monitor_set_available (monitor, FALSE);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  later = core_test_sandbox_post_messages (sandbox, carol_token, "carol", "messaging:design", "while away", 3);
  test_monitor_set_available (monitor, TRUE);
  g_assert_true (wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, DEADLINE_MS));
  assert_received_in_order (&rec, later);
  g_assert_cmpuint (rec.ids->len, ==, 3);
  g_assert_cmpuint (rec.after_connected, ==, 0);

  received_clear (&rec);
  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_clear_object (&manager);
  remove_dir (dir);
}

/* A watermark older than 30 days: Stream refuses /sync, so each channel's messages since
 * then are read, page after page (350 > one page of 300); still in order, once each,
 * before CONNECTED. */
static void
test_catch_up_fallback (void)
{
  g_autofree char *dir = g_dir_make_tmp ("confab-catch-up-XXXXXX", NULL);
  g_autofree char *state_dir = old_watermark (dir, G_GINT64_CONSTANT (31) * 24 * 3600 * G_USEC_PER_SEC);
  const char *extra[] = { "--demo", "--demo-messages", "350", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *bob_token = NULL;
  g_autoptr(ConfabTokenProvider) bob = demo_token_provider (sandbox, "bob", &bob_token);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) general = channel_ids (sandbox, bob_token, "messaging:general");
  Received rec = { 0 };

  g_assert_cmpuint (general->len, ==, 350);
  manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, state_dir);
  received_init (&rec, manager);
  g_assert_true (connect_and_wait_for (manager, "alice", CATCH_UP_DEADLINE_MS, &error));
  g_assert_no_error (error);

  assert_received_in_order (&rec, general);
  g_assert_cmpuint (rec.after_connected, ==, 0);
  g_assert_true (report_has (manager, "more than 30 days"));
  g_assert_true (report_has (manager, "reading each channel"));
  /* The watermark moved on: the next catch-up can use /sync again. */
  g_assert_cmpint (confab_connection_manager_get_watermark (manager), >,
                   g_get_real_time () - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);

  received_clear (&rec);
  confab_connection_manager_disconnect (manager);
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_clear_object (&manager);
  remove_dir (dir);
}

static void
on_state_updating (ConfabConnectionManager *manager,
                   GParamSpec              *pspec,
                   gboolean                *updating)
{
  if (confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_UPDATING)
    *updating = TRUE;
}

/* The manager goes away in the middle of a catch-up (its REST calls still answer, now
 * cancelled): nothing touches it afterwards, and the connection is closed. The caller
 * stops waiting first, since a waiting connect holds the manager. */
static void
test_catch_up_destroyed (void)
{
  g_autofree char *dir = g_dir_make_tmp ("confab-catch-up-XXXXXX", NULL);
  g_autofree char *state_dir = old_watermark (dir, 60 * G_USEC_PER_SEC);
  g_autofree char *count = g_strdup_printf ("%u", MISSED);
  const char *extra[] = { "--demo", "--demo-messages", count, NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autoptr(ConfabTokenProvider) provider = demo_token_provider (sandbox, "alice", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  ConfabConnectionManager *manager = new_manager (sandbox->url, provider, monitor, 1500, NULL, state_dir);
  GWeakRef weak;
  ConnectResult result = { 0 };
  gboolean updating = FALSE;
  gboolean still_updating;

  g_weak_ref_init (&weak, manager);
  g_signal_connect (manager, "notify::state", G_CALLBACK (on_state_updating), &updating);
  confab_connection_manager_connect_async (manager, "alice", NULL, cancellable, connect_done, &result);
  g_assert_true (core_test_wait_flag (&updating, CATCH_UP_DEADLINE_MS));
  g_cancellable_cancel (cancellable);
  g_assert_true (core_test_wait_flag (&result.done, DEADLINE_MS));
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  still_updating = confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_UPDATING;
  g_signal_handlers_disconnect_by_data (manager, &updating);
  g_object_unref (manager);

  /* Gone at once, and the server sees the socket go. */
  g_assert_null (g_weak_ref_get (&weak));
  g_assert_true (core_test_sandbox_wait_stat (sandbox, "connections", 0, DEADLINE_MS));
  g_test_message ("destroyed %s the catch-up ended", still_updating ? "before" : "after");
  g_weak_ref_clear (&weak);
  g_clear_error (&result.error);
  remove_dir (dir);
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
  g_test_add_func ("/core/catch-up/paged-sync", test_catch_up_paged);
  g_test_add_func ("/core/catch-up/channel-queries", test_catch_up_fallback);
  g_test_add_func ("/core/catch-up/destroyed-while-updating", test_catch_up_destroyed);

  return g_test_run ();
}
