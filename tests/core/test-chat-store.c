/* test-chat-store.c: the chat store against the sandbox: merge, live, send, typing, presence
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/types.h>

#include "confab-backoff.h"
#include "confab-chat-private.h"
#include "confab-chat-store.h"
#include "confab-error.h"
#include "confab-fake-clock.h"
#include "confab-static-token-provider.h"
#include "core-test-util.h"

#define API_KEY     "cs-key"
#define API_SECRET  "cs-secret"
#define DEADLINE_MS 10000
#define GENERAL     "messaging:general"

/* A network monitor that always says "online" ------------------------------------------ */

#define TEST_TYPE_MONITOR (test_monitor_get_type ())
G_DECLARE_FINAL_TYPE (TestMonitor, test_monitor, TEST, MONITOR, GObject)

struct _TestMonitor
{
  GObject parent_instance;
};

enum {
  MON_PROP_0,
  MON_PROP_AVAILABLE,
  MON_PROP_METERED,
  MON_PROP_CONNECTIVITY,
};

static gboolean
test_monitor_initable_init (GInitable     *initable,
                            GCancellable  *cancellable,
                            GError       **error)
{
  return TRUE;
}

static void
test_monitor_initable_iface_init (GInitableIface *iface)
{
  iface->init = test_monitor_initable_init;
}

static void
test_monitor_iface_init (GNetworkMonitorInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestMonitor, test_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, test_monitor_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, test_monitor_iface_init))

static void
test_monitor_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  switch (prop_id)
    {
    case MON_PROP_AVAILABLE:
      g_value_set_boolean (value, TRUE);
      break;
    case MON_PROP_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case MON_PROP_CONNECTIVITY:
      g_value_set_enum (value, G_NETWORK_CONNECTIVITY_FULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
test_monitor_class_init (TestMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_monitor_get_property;
  g_object_class_override_property (object_class, MON_PROP_AVAILABLE, "network-available");
  g_object_class_override_property (object_class, MON_PROP_METERED, "network-metered");
  g_object_class_override_property (object_class, MON_PROP_CONNECTIVITY, "connectivity");
}

static void
test_monitor_init (TestMonitor *self)
{
}

/* Helpers -------------------------------------------------------------------------------- */

static void
rm_rf (const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
}

static char *
make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("confab-chat-store-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static CoreTestSandbox *
start_sandbox (const char * const *extra)
{
  g_autoptr(GError) error = NULL;
  CoreTestSandbox *sandbox = core_test_sandbox_start (API_KEY, API_SECRET, extra, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sandbox);
  return sandbox;
}

static char *
demo_token (CoreTestSandbox *sandbox,
            const char      *user_id)
{
  g_autoptr(GError) error = NULL;
  char *token = core_test_sandbox_demo_token (sandbox, user_id, &error);

  g_assert_no_error (error);
  g_assert_nonnull (token);
  return token;
}

static ConfabConnectionManager *
new_manager (const char   *base_url,
             const char   *token,
             ConfabOutbox *outbox)
{
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);

  return g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                       "base-url", base_url,
                       "api-key", API_KEY,
                       "token-provider", provider,
                       "network-monitor", monitor,
                       "outbox", outbox,
                       NULL);
}

static ConfabChatStore *
new_store (ConfabConnectionManager *manager,
           const char              *cache_dir,
           ConfabClock             *clock)
{
  return g_object_new (CONFAB_TYPE_CHAT_STORE, "manager", manager, "cache-dir", cache_dir, "clock", clock, NULL);
}

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} AsyncResult;

static void
connect_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncResult *r = user_data;

  r->ok = confab_connection_manager_connect_finish (CONFAB_CONNECTION_MANAGER (source), result, &r->error);
  r->done = TRUE;
}

static void
connect_and_wait (ConfabConnectionManager *manager,
                  const char              *user_id)
{
  AsyncResult r = { 0 };

  confab_connection_manager_connect_async (manager, user_id, NULL, NULL, connect_done, &r);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
}

static gboolean
store_settled (gpointer user_data)
{
  ConfabChatStore *store = user_data;

  return !confab_chat_store_get_refreshing (store) &&
         confab_connection_manager_get_state (confab_chat_store_get_manager (store)) == CONFAB_CONNECTION_STATE_CONNECTED &&
         g_list_model_get_n_items (confab_chat_store_get_channels (store)) > 0;
}

static void
wait_settled (ConfabChatStore *store)
{
  g_assert_true (core_test_wait_until (store_settled, store, DEADLINE_MS));
}

static gboolean
never (gpointer user_data)
{
  return FALSE;
}

/* Lets pending I/O and idle callbacks run for @ms (only where nothing must happen). */
static void
settle_for (guint ms)
{
  core_test_wait_until (never, NULL, ms);
}

static ConfabMessage *
message_at (GListModel *model,
            guint       position)
{
  g_autoptr(ConfabMessage) message = g_list_model_get_item (model, position);

  return message;
}

static void
assert_sorted_unique (GListModel *model)
{
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      ConfabMessage *message = message_at (model, i);

      g_assert_true (g_hash_table_add (ids, (gpointer) confab_message_get_id (message)));
      if (i > 0)
        g_assert_cmpint (_confab_message_compare (message_at (model, i - 1), message), <, 0);
    }
}

static guint
count_id (GListModel *model,
          const char *id)
{
  guint n = g_list_model_get_n_items (model);
  guint count = 0;

  for (guint i = 0; i < n; i++)
    if (g_str_equal (confab_message_get_id (message_at (model, i)), id))
      count++;
  return count;
}

static JsonObject *
rest (CoreTestSandbox *sandbox,
      const char      *token,
      const char      *user_id,
      const char      *path,
      JsonObject      *body)
{
  g_autofree char *url = g_strdup_printf ("%s%s?api_key=%s&user_id=%s", sandbox->url, path, API_KEY, user_id);
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), body);
  g_autofree char *text = json_to_string (node, FALSE);
  g_autoptr(GError) error = NULL;
  JsonObject *answer;
  guint status = 0;

  answer = core_test_rest ("POST", url, token, text, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, >=, 200);
  g_assert_cmpuint (status, <, 300);
  return answer;
}

static void
send_as (CoreTestSandbox *sandbox,
         const char      *token,
         const char      *user_id,
         const char      *id,
         const char      *text)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  JsonObject *message = json_object_new ();

  json_object_set_string_member (message, "id", id);
  json_object_set_string_member (message, "text", text);
  json_object_set_object_member (body, "message", message);
  answer = rest (sandbox, token, user_id, "/channels/messaging/general/message", body);
}

static void
send_event_as (CoreTestSandbox *sandbox,
               const char      *token,
               const char      *user_id,
               const char      *type)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  JsonObject *event = json_object_new ();

  json_object_set_string_member (event, "type", type);
  json_object_set_object_member (body, "event", event);
  answer = rest (sandbox, token, user_id, "/channels/messaging/general/event", body);
}

/* The server's copy of general as @user_id sees it (newest 300 messages). */
static JsonObject *
server_general (CoreTestSandbox *sandbox,
                const char      *token,
                const char      *user_id)
{
  g_autoptr(JsonObject) body = json_object_new ();
  JsonObject *messages = json_object_new ();

  json_object_set_boolean_member (body, "state", TRUE);
  json_object_set_int_member (messages, "limit", 300);
  json_object_set_object_member (body, "messages", messages);
  return rest (sandbox, token, user_id, "/channels/messaging/general/query", body);
}

static guint
server_count_id (CoreTestSandbox *sandbox,
                 const char      *token,
                 const char      *id)
{
  g_autoptr(JsonObject) answer = server_general (sandbox, token, "bob");
  JsonArray *messages = json_object_get_array_member (answer, "messages");
  guint count = 0;

  for (guint i = 0; i < json_array_get_length (messages); i++)
    if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (messages, i), "id"), id) == 0)
      count++;
  return count;
}

static gint64
server_unread (CoreTestSandbox *sandbox,
               const char      *token,
               const char      *user_id)
{
  g_autoptr(JsonObject) answer = server_general (sandbox, token, user_id);
  JsonArray *reads = json_object_get_array_member (answer, "read");

  for (guint i = 0; i < json_array_get_length (reads); i++)
    {
      JsonObject *read = json_array_get_object_element (reads, i);

      if (g_strcmp0 (json_object_get_string_member (json_object_get_object_member (read, "user"), "id"), user_id) == 0)
        return json_object_get_int_member (read, "unread_messages");
    }
  return -1;
}

typedef struct
{
  GPtrArray *messages;  /* ConfabMessage announced by ::message-added */
} Added;

static void
on_message_added (ConfabChatStore *store,
                  ConfabChannel   *channel,
                  ConfabMessage   *message,
                  Added           *added)
{
  g_assert_false (confab_message_get_is_own (message));
  g_ptr_array_add (added->messages, g_object_ref (message));
}

typedef struct
{
  GListModel *model;
  const char *id;
  guint       at_least;
} InModel;

static gboolean
id_in_model (gpointer user_data)
{
  InModel *w = user_data;

  return count_id (w->model, w->id) >= 1;
}

static gboolean
n_items_at_least (gpointer user_data)
{
  InModel *w = user_data;

  return g_list_model_get_n_items (w->model) >= w->at_least;
}

/* /core/chat-store/connect-and-cache --------------------------------------------------------- */

static void
test_connect_and_cache (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *cache_dir = make_dir ();
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, cache_dir, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  ConfabChannel *general;
  ConfabChannel *design;
  GListModel *model;
  guint n;

  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 0);

  connect_and_wait (manager, "alice");
  wait_settled (store);

  /* alice is in general and design, not in backend. */
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 2);
  g_assert_null (confab_chat_store_lookup_channel (store, "messaging:backend"));
  general = confab_chat_store_lookup_channel (store, GENERAL);
  design = confab_chat_store_lookup_channel (store, "messaging:design");
  g_assert_nonnull (general);
  g_assert_nonnull (design);
  g_assert_cmpstr (confab_channel_get_name (general), ==, "General");
  g_assert_cmpstr (confab_channel_get_name (design), ==, "Design review");
  g_assert_cmpuint (confab_channel_get_member_count (general), ==, 3);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_members (general)), ==, 3);
  /* alice is online (connected), the others are not. */
  g_assert_cmpuint (confab_channel_get_online_count (general), ==, 1);
  g_assert_cmpstr (confab_chat_store_get_own_user_id (store), ==, "alice");

  model = confab_channel_get_messages (general);
  n = g_list_model_get_n_items (model);
  g_assert_cmpuint (n, ==, 12);
  assert_sorted_unique (model);
  /* A whole history in one page: nothing older to load. */
  g_assert_false (confab_channel_get_has_more_history (general));
  g_assert_cmpint (confab_channel_get_unread_count (general), ==, server_unread (sandbox, alice, "alice"));
  g_assert_cmpstr (confab_channel_get_last_message_text (general), ==,
                   confab_message_get_text (message_at (model, n - 1)));
  for (guint i = 0; i < n; i++)
    {
      ConfabMessage *message = message_at (model, i);

      g_assert_cmpint (confab_message_get_status (message), ==, CONFAB_MESSAGE_STATUS_SENT);
      g_assert_true (confab_message_get_is_own (message) == g_str_equal (confab_message_get_user_id (message), "alice"));
      g_ptr_array_add (ids, g_strdup (confab_message_get_id (message)));
    }
  /* The list is newest channel first. */
  {
    g_autoptr(ConfabChannel) first = g_list_model_get_item (confab_chat_store_get_channels (store), 0);
    g_autoptr(ConfabChannel) second = g_list_model_get_item (confab_chat_store_get_channels (store), 1);

    g_assert_cmpint (confab_channel_get_last_message_at (first), >=, confab_channel_get_last_message_at (second));
  }

  /* Next start, offline: the same from the cache. */
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  g_assert_no_error (error);
  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  g_clear_object (&manager);

  manager = new_manager (sandbox->url, alice, NULL);
  store = new_store (manager, cache_dir, NULL);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (confab_chat_store_get_own_user_id (store), ==, "alice");
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 2);
  general = confab_chat_store_lookup_channel (store, GENERAL);
  model = confab_channel_get_messages (general);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, ids->len);
  for (guint i = 0; i < ids->len; i++)
    g_assert_cmpstr (confab_message_get_id (message_at (model, i)), ==, g_ptr_array_index (ids, i));
  g_assert_cmpstr (confab_channel_get_name (general), ==, "General");
  g_assert_false (confab_channel_get_has_more_history (general));

  g_clear_object (&store);
  rm_rf (cache_dir);
}

/* /core/chat-store/merge-live-send ---------------------------------------------------------------- */

typedef struct
{
  GString    *statuses;
  const char *id;
} StatusLog;

static void
record_status (ConfabMessage *message,
               GParamSpec    *pspec,
               StatusLog     *log)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (CONFAB_TYPE_MESSAGE_STATUS);

  g_string_append_printf (log->statuses, "%s ", g_enum_get_value (klass, confab_message_get_status (message))->value_nick);
}

/* Records the status each of our messages has when it enters the model, then its changes. */
static void
on_general_changed (GListModel *model,
                    guint       position,
                    guint       removed,
                    guint       added,
                    StatusLog  *log)
{
  for (guint i = position; i < position + added; i++)
    {
      ConfabMessage *message = message_at (model, i);

      if (!confab_message_get_is_own (message) || confab_message_get_status (message) == CONFAB_MESSAGE_STATUS_SENT)
        continue;
      record_status (message, NULL, log);
      g_signal_connect (message, "notify::status", G_CALLBACK (record_status), log);
    }
}

typedef struct
{
  ConfabMessage *message;
  GHashTable    *echoes;  /* id → count of message-received */
} SentWait;

static void
on_message_received (ConfabConnectionManager *manager,
                     JsonObject              *message,
                     GHashTable              *echoes)
{
  const char *id = json_object_get_string_member_with_default (message, "id", "");

  g_hash_table_replace (echoes, g_strdup (id),
                        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (echoes, id)) + 1));
}

static gboolean
sent_and_echoed (gpointer user_data)
{
  SentWait *w = user_data;

  return confab_message_get_status (w->message) == CONFAB_MESSAGE_STATUS_SENT &&
         g_hash_table_lookup (w->echoes, confab_message_get_id (w->message)) != NULL;
}

static gboolean
unread_is_zero_on_server (gpointer user_data)
{
  void **args = user_data;

  return server_unread (args[0], args[1], "alice") == 0;
}

static void
test_merge_live_send (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autofree char *cache_dir = make_dir ();
  g_autofree char *outbox_dir = make_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (outbox_dir, &error);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, outbox);
  g_autoptr(ConfabChatStore) store = new_store (manager, cache_dir, NULL);
  g_autoptr(GHashTable) echoes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GString) statuses = g_string_new (NULL);
  g_autofree char *live_id = g_uuid_string_random ();
  Added added = { g_ptr_array_new_with_free_func (g_object_unref) };
  StatusLog log = { statuses, NULL };
  ConfabChannel *general;
  ConfabMessage *mine;
  GListModel *model;
  InModel in_model;
  SentWait sent;
  guint before;

  g_assert_no_error (error);

  /* A first session fills the cache. */
  g_assert_true (confab_chat_store_load_cache (store, &error));
  connect_and_wait (manager, "alice");
  wait_settled (store);
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  g_clear_object (&manager);

  /* bob writes while alice is away. */
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *id = g_uuid_string_random ();
      g_autofree char *text = g_strdup_printf ("while you were away %u", i);

      send_as (sandbox, bob, "bob", id, text);
    }

  /* The next start: the cache at once, then the server's news merged in. */
  manager = new_manager (sandbox->url, alice, outbox);
  store = new_store (manager, cache_dir, NULL);
  g_signal_connect (store, "message-added", G_CALLBACK (on_message_added), &added);
  g_signal_connect (manager, "message-received", G_CALLBACK (on_message_received), echoes);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  general = confab_chat_store_lookup_channel (store, GENERAL);
  model = confab_channel_get_messages (general);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 12);
  connect_and_wait (manager, "alice");
  wait_settled (store);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 15);
  assert_sorted_unique (model);
  g_assert_cmpstr (confab_message_get_text (message_at (model, 14)), ==, "while you were away 2");
  g_assert_cmpint (confab_channel_get_unread_count (general), ==, server_unread (sandbox, alice, "alice"));

  /* Live from bob: once in the model, announced once. */
  g_ptr_array_set_size (added.messages, 0);
  send_as (sandbox, bob, "bob", live_id, "<b>live</b> from bob");
  in_model.model = model;
  in_model.id = live_id;
  g_assert_true (core_test_wait_until (id_in_model, &in_model, DEADLINE_MS));
  settle_for (200);
  g_assert_cmpuint (count_id (model, live_id), ==, 1);
  g_assert_cmpuint (added.messages->len, ==, 1);
  g_assert_cmpstr (confab_message_get_id (g_ptr_array_index (added.messages, 0)), ==, live_id);
  g_assert_cmpstr (confab_message_get_text (g_ptr_array_index (added.messages, 0)), ==, "<b>live</b> from bob");
  g_assert_cmpstr (confab_message_get_user_name (g_ptr_array_index (added.messages, 0)), ==, "Bob Novak");
  g_assert_cmpint (confab_channel_get_unread_count (general), ==, server_unread (sandbox, alice, "alice"));
  g_assert_cmpuint (confab_channel_get_unread_count (general), >, 0);

  /* Ours: QUEUED → SENDING → SENT, and the server's echo merges into it. */
  g_signal_connect (model, "items-changed", G_CALLBACK (on_general_changed), &log);
  before = g_list_model_get_n_items (model);
  mine = confab_chat_store_send_text (store, GENERAL, "hello from alice", &error);
  g_assert_no_error (error);
  g_assert_nonnull (mine);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, before + 1);
  sent.message = mine;
  sent.echoes = echoes;
  g_assert_true (core_test_wait_until (sent_and_echoed, &sent, DEADLINE_MS));
  settle_for (200);
  g_assert_cmpstr (statuses->str, ==, "queued sending sent ");
  g_assert_cmpuint (count_id (model, confab_message_get_id (mine)), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, before + 1);
  g_assert_cmpuint (server_count_id (sandbox, bob, confab_message_get_id (mine)), ==, 1);
  g_assert_cmpuint (added.messages->len, ==, 1);  /* not for our own */
  g_assert_cmpstr (confab_channel_get_last_message_text (general), ==, "hello from alice");
  assert_sorted_unique (model);
  g_signal_handlers_disconnect_by_func (model, on_general_changed, &log);

  /* Read: 0 at once, and on the server. */
  confab_chat_store_mark_read (store, GENERAL);
  g_assert_cmpuint (confab_channel_get_unread_count (general), ==, 0);
  {
    void *args[] = { sandbox, alice };

    g_assert_true (core_test_wait_until (unread_is_zero_on_server, args, DEADLINE_MS));
  }
  settle_for (200);
  g_assert_cmpuint (confab_channel_get_unread_count (general), ==, 0);

  /* And everything survives in the cache, once. */
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  store = new_store (manager, cache_dir, NULL);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  model = confab_channel_get_messages (confab_chat_store_lookup_channel (store, GENERAL));
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, before + 1);
  assert_sorted_unique (model);
  g_assert_cmpuint (confab_channel_get_unread_count (confab_chat_store_lookup_channel (store, GENERAL)), ==, 0);

  g_ptr_array_unref (added.messages);
  g_clear_object (&store);
  rm_rf (cache_dir);
  rm_rf (outbox_dir);
}

/* /core/chat-store/offline-send --------------------------------------------------------- */

static gboolean
is_state (gpointer user_data)
{
  void **args = user_data;

  return (int) confab_connection_manager_get_state (args[0]) == GPOINTER_TO_INT (args[1]);
}

static gboolean
reconnected_and_sent (gpointer user_data)
{
  void **args = user_data;
  ConfabConnectionManager *manager = args[0];
  ConfabMessage *message = args[1];

  /* Nudged, since the backoff may have grown while the server was away. */
  if (confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_RECONNECTING)
    confab_connection_manager_retry_now (manager);
  return confab_message_get_status (message) == CONFAB_MESSAGE_STATUS_SENT;
}

static void
test_offline_send (void)
{
  g_autofree char *data_dir = make_dir ();
  g_autofree char *outbox_dir = make_dir ();
  const char *extra[] = { "--demo", "--data-dir", data_dir, NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%s", strrchr (sandbox->url, ':') + 1);
  const char *again[] = { "--demo", "--data-dir", data_dir, "--listen", listen, NULL };
  g_autofree char *base_url = g_strdup (sandbox->url);
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (outbox_dir, &error);
  g_autoptr(ConfabConnectionManager) manager = new_manager (base_url, alice, outbox);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, NULL);
  g_autoptr(GString) statuses = g_string_new (NULL);
  StatusLog log = { statuses, NULL };
  ConfabMessage *message;
  GListModel *model;
  guint before;

  g_assert_no_error (error);
  connect_and_wait (manager, "alice");
  wait_settled (store);
  model = confab_channel_get_messages (confab_chat_store_lookup_channel (store, GENERAL));
  before = g_list_model_get_n_items (model);

  /* The server goes away. */
  core_test_sandbox_stop (g_steal_pointer (&sandbox));
  {
    void *args[] = { manager, GINT_TO_POINTER (CONFAB_CONNECTION_STATE_RECONNECTING) };

    g_assert_true (core_test_wait_until (is_state, args, DEADLINE_MS));
  }

  /* Written while it is away: in the model, queued, and it stays queued. */
  message = confab_chat_store_send_text (store, GENERAL, "written while the server was down", &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_signal_connect (message, "notify::status", G_CALLBACK (record_status), &log);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, before + 1);
  g_assert_cmpint (confab_message_get_status (message), ==, CONFAB_MESSAGE_STATUS_QUEUED);
  settle_for (300);
  g_assert_cmpint (confab_message_get_status (message), ==, CONFAB_MESSAGE_STATUS_QUEUED);

  /* Back on the same port with the same data: delivered, once. */
  sandbox = start_sandbox (again);
  g_assert_cmpstr (sandbox->url, ==, base_url);
  {
    void *args[] = { manager, message };

    g_assert_true (core_test_wait_until (reconnected_and_sent, args, 2 * DEADLINE_MS));
  }
  settle_for (300);
  g_assert_cmpuint (server_count_id (sandbox, bob, confab_message_get_id (message)), ==, 1);
  g_assert_cmpuint (count_id (model, confab_message_get_id (message)), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, before + 1);
  g_assert_true (g_str_has_suffix (statuses->str, "sending sent "));
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 0);
  assert_sorted_unique (model);

  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  g_clear_object (&manager);
  core_test_sandbox_stop (g_steal_pointer (&sandbox));
  rm_rf (data_dir);
  rm_rf (outbox_dir);
}

/* /core/chat-store/typing-and-presence --------------------------------------------------- */

static gboolean
typing_text_is (gpointer user_data)
{
  void **args = user_data;

  return g_strcmp0 (confab_channel_get_typing_text (args[0]), args[1]) == 0;
}

static void
wait_typing_text (ConfabChannel *channel,
                  const char    *text)
{
  void *args[] = { channel, (gpointer) text };

  g_assert_true (core_test_wait_until (typing_text_is, args, DEADLINE_MS));
}

static gboolean
user_online_is (gpointer user_data)
{
  void **args = user_data;

  return confab_chat_user_get_online (args[0]) == GPOINTER_TO_INT (args[1]);
}

typedef struct
{
  guint starts;
  guint stops;
} TypingSeen;

static void
on_bob_event (ConfabConnectionManager *manager,
              JsonObject              *event,
              TypingSeen              *seen)
{
  const char *type = json_object_get_string_member_with_default (event, "type", "");
  JsonObject *user = json_object_has_member (event, "user") ? json_object_get_object_member (event, "user") : NULL;

  if (user == NULL || g_strcmp0 (json_object_get_string_member_with_default (user, "id", ""), "alice") != 0)
    return;
  if (g_str_equal (type, "typing.start"))
    seen->starts++;
  else if (g_str_equal (type, "typing.stop"))
    seen->stops++;
}

static void
test_typing_and_presence (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (G_USEC_PER_SEC);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, CONFAB_CLOCK (clock));
  g_autoptr(ConfabConnectionManager) bob_manager = new_manager (sandbox->url, bob, NULL);
  g_autoptr(ConfabChatStore) bob_store = new_store (bob_manager, NULL, NULL);
  TypingSeen seen = { 0 };
  ConfabChannel *general;
  ConfabChatUser *bob_user;
  guint online;

  connect_and_wait (manager, "alice");
  wait_settled (store);
  general = confab_chat_store_lookup_channel (store, GENERAL);
  bob_user = confab_chat_store_lookup_user (store, "bob");
  g_assert_nonnull (bob_user);
  g_assert_false (confab_chat_user_get_online (bob_user));
  online = confab_channel_get_online_count (general);

  /* bob connects: online, counted, listed first among the members with alice. */
  connect_and_wait (bob_manager, "bob");
  wait_settled (bob_store);
  {
    void *args[] = { bob_user, GINT_TO_POINTER (TRUE) };

    g_assert_true (core_test_wait_until (user_online_is, args, DEADLINE_MS));
  }
  g_assert_cmpuint (confab_channel_get_online_count (general), ==, online + 1);
  {
    g_autoptr(ConfabChatUser) last = g_list_model_get_item (confab_channel_get_members (general), 2);

    g_assert_cmpstr (confab_chat_user_get_id (last), ==, "carol");
  }

  /* bob types; 7 s later on alice's clock it has stopped. */
  send_event_as (sandbox, bob, "bob", "typing.start");
  wait_typing_text (general, "Bob Novak is typing…");
  confab_fake_clock_advance (clock, 7 * G_USEC_PER_SEC - 1);
  g_assert_cmpstr (confab_channel_get_typing_text (general), ==, "Bob Novak is typing…");
  confab_fake_clock_advance (clock, 1);
  g_assert_null (confab_channel_get_typing_text (general));
  /* Or at once with typing.stop. */
  send_event_as (sandbox, bob, "bob", "typing.start");
  wait_typing_text (general, "Bob Novak is typing…");
  send_event_as (sandbox, bob, "bob", "typing.stop");
  wait_typing_text (general, NULL);

  /* alice types: one typing.start per 2 s, a typing.stop 3 s after the last key. */
  g_signal_connect (bob_manager, "event", G_CALLBACK (on_bob_event), &seen);
  confab_chat_store_notify_typing (store, GENERAL);
  confab_fake_clock_advance (clock, G_USEC_PER_SEC);
  confab_chat_store_notify_typing (store, GENERAL);
  confab_fake_clock_advance (clock, 900 * 1000);
  confab_chat_store_notify_typing (store, GENERAL);
  g_assert_true (core_test_wait_count (&seen.starts, 1, DEADLINE_MS));
  confab_fake_clock_advance (clock, 200 * 1000);   /* 2.1 s after the first start */
  confab_chat_store_notify_typing (store, GENERAL);
  g_assert_true (core_test_wait_count (&seen.starts, 2, DEADLINE_MS));
  confab_fake_clock_advance (clock, 3 * G_USEC_PER_SEC - 1);
  settle_for (200);
  g_assert_cmpuint (seen.stops, ==, 0);
  confab_fake_clock_advance (clock, 1);
  g_assert_true (core_test_wait_count (&seen.stops, 1, DEADLINE_MS));
  settle_for (200);
  g_assert_cmpuint (seen.starts, ==, 2);
  g_assert_cmpuint (seen.stops, ==, 1);
  /* bob's own store shows alice typing, and never bob himself. */
  g_assert_null (confab_channel_get_typing_text (confab_chat_store_lookup_channel (bob_store, GENERAL)));

  /* bob leaves: offline. */
  confab_connection_manager_disconnect (bob_manager);
  {
    void *args[] = { bob_user, GINT_TO_POINTER (FALSE) };

    g_assert_true (core_test_wait_until (user_online_is, args, DEADLINE_MS));
  }
  g_assert_cmpuint (confab_channel_get_online_count (general), ==, online);

  confab_connection_manager_disconnect (manager);
}

/* /core/chat-store/load-older ---------------------------------------------------------------- */

typedef struct
{
  gboolean done;
  gboolean ok;
  GError  *error;
} OlderResult;

static void
older_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  OlderResult *r = user_data;

  r->ok = confab_chat_store_load_older_finish (CONFAB_CHAT_STORE (source), result, &r->error);
  r->done = TRUE;
}

typedef struct
{
  guint n_signals;
  guint position;
  guint removed;
  guint added;
} Change;

static void
on_change (GListModel *model,
           guint       position,
           guint       removed,
           guint       added,
           Change     *change)
{
  change->n_signals++;
  change->position = position;
  change->removed = removed;
  change->added = added;
}

static void
test_load_older (void)
{
  const char *extra[] = { "--demo", "--demo-messages", "350", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *cache_dir = make_dir ();
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, cache_dir, NULL);
  g_autoptr(GError) error = NULL;
  ConfabChannel *general;
  GListModel *model;
  Change change = { 0 };
  guint pages = 0;

  /* Offline: a clear error. */
  {
    OlderResult r = { 0 };

    g_assert_true (confab_chat_store_load_cache (store, &error));
    confab_chat_store_load_older_async (store, "messaging:nowhere", NULL, older_done, &r);
    g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
    g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_clear_error (&r.error);
  }

  connect_and_wait (manager, "alice");
  wait_settled (store);
  general = confab_chat_store_lookup_channel (store, GENERAL);
  model = confab_channel_get_messages (general);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, CONFAB_CHAT_STORE_CHANNEL_PAGE);
  g_assert_true (confab_channel_get_has_more_history (general));
  g_signal_connect (model, "items-changed", G_CALLBACK (on_change), &change);

  while (confab_channel_get_has_more_history (general))
    {
      OlderResult r = { 0 };
      guint before = g_list_model_get_n_items (model);
      guint signals = change.n_signals;

      g_assert_cmpuint (pages, <, 10);
      confab_chat_store_load_older_async (store, GENERAL, NULL, older_done, &r);
      g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
      g_assert_no_error (r.error);
      g_assert_true (r.ok);
      pages++;
      /* One page, prepended in one signal. */
      g_assert_cmpuint (change.n_signals, ==, signals + 1);
      g_assert_cmpuint (change.position, ==, 0);
      g_assert_cmpuint (change.removed, ==, 0);
      g_assert_cmpuint (change.added, ==, g_list_model_get_n_items (model) - before);
      g_assert_cmpuint (change.added, <=, CONFAB_CHAT_STORE_HISTORY_PAGE);
    }
  g_assert_cmpuint (pages, ==, 4);  /* 25 + 100 + 100 + 100 + 25 */
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 350);
  assert_sorted_unique (model);

  /* At the start of the history: done at once, nothing changes. */
  {
    OlderResult r = { 0 };
    guint signals = change.n_signals;

    confab_chat_store_load_older_async (store, GENERAL, NULL, older_done, &r);
    g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
    g_assert_true (r.ok);
    g_assert_cmpuint (change.n_signals, ==, signals);
  }

  /* The whole history is cached, and known to be whole. */
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  store = new_store (manager, cache_dir, NULL);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  general = confab_chat_store_lookup_channel (store, GENERAL);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (general)), ==, 350);
  g_assert_false (confab_channel_get_has_more_history (general));

  /* Offline with more to load: not connected. */
  {
    OlderResult r = { 0 };

    _confab_channel_set_has_more_history (general, TRUE);
    confab_chat_store_load_older_async (store, GENERAL, NULL, older_done, &r);
    g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
    g_assert_error (r.error, CONFAB_ERROR, CONFAB_ERROR_NETWORK);
    g_clear_error (&r.error);
  }

  g_clear_object (&store);
  rm_rf (cache_dir);
}

/* /core/chat-store/gap ------------------------------------------------------------------- */

static void
test_gap (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autofree char *cache_dir = make_dir ();
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, cache_dir, NULL);
  g_autoptr(GError) error = NULL;
  const guint missed = CONFAB_CHAT_STORE_CHANNEL_PAGE + 15;
  GListModel *model;
  InModel wait;

  g_assert_true (confab_chat_store_load_cache (store, &error));
  connect_and_wait (manager, "alice");
  wait_settled (store);
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);

  /* More is missed than the first page shows: the gap is fetched, not left. */
  for (guint i = 0; i < missed; i++)
    {
      g_autofree char *id = g_strdup_printf ("missed-%03u", i);

      send_as (sandbox, bob, "bob", id, id);
    }
  /* A new manager: no catch-up watermark, so only the channel query brings news. */
  g_clear_object (&manager);
  manager = new_manager (sandbox->url, alice, NULL);
  store = new_store (manager, cache_dir, NULL);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  model = confab_channel_get_messages (confab_chat_store_lookup_channel (store, GENERAL));
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 12);
  connect_and_wait (manager, "alice");
  wait_settled (store);
  wait.model = model;
  wait.at_least = 12 + missed;
  g_assert_true (core_test_wait_until (n_items_at_least, &wait, DEADLINE_MS));
  settle_for (200);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 12 + missed);
  assert_sorted_unique (model);
  for (guint i = 0; i < missed; i++)
    {
      g_autofree char *id = g_strdup_printf ("missed-%03u", i);

      g_assert_cmpstr (confab_message_get_id (message_at (model, 12 + i)), ==, id);
    }

  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  rm_rf (cache_dir);
}

/* /core/chat-store/new-channel --------------------------------------------------------------- */

static gboolean
channel_ready (gpointer user_data)
{
  void **args = user_data;
  ConfabChannel *channel = confab_chat_store_lookup_channel (args[0], args[1]);

  return channel != NULL && g_strcmp0 (confab_channel_get_name (channel), "New room") == 0 &&
         g_list_model_get_n_items (confab_channel_get_members (channel)) == 2;
}

static void
test_new_channel (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, NULL);
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) message_body = json_object_new ();
  g_autoptr(JsonObject) sent = NULL;
  JsonObject *data = json_object_new ();
  JsonArray *members = json_array_new ();
  JsonObject *message = json_object_new ();
  Added added = { g_ptr_array_new_with_free_func (g_object_unref) };
  void *args[] = { store, (gpointer) "messaging:newroom" };
  ConfabChannel *channel;
  GListModel *channels;

  connect_and_wait (manager, "alice");
  wait_settled (store);
  channels = confab_chat_store_get_channels (store);
  g_assert_cmpuint (g_list_model_get_n_items (channels), ==, 2);
  g_signal_connect (store, "message-added", G_CALLBACK (on_message_added), &added);

  /* bob starts a conversation with alice: it appears, named, with its members. */
  json_array_add_string_element (members, "alice");
  json_array_add_string_element (members, "bob");
  json_object_set_string_member (data, "name", "New room");
  json_object_set_array_member (data, "members", members);
  json_object_set_object_member (body, "data", data);
  json_object_set_boolean_member (body, "state", TRUE);
  answer = rest (sandbox, bob, "bob", "/channels/messaging/newroom/query", body);
  g_assert_true (core_test_wait_until (channel_ready, args, DEADLINE_MS));
  g_assert_cmpuint (g_list_model_get_n_items (channels), ==, 3);

  /* And its first message arrives live, at the top of the list. */
  json_object_set_string_member (message, "id", "newroom-1");
  json_object_set_string_member (message, "text", "welcome");
  json_object_set_object_member (message_body, "message", message);
  sent = rest (sandbox, bob, "bob", "/channels/messaging/newroom/message", message_body);
  channel = confab_chat_store_lookup_channel (store, "messaging:newroom");
  {
    InModel w = { confab_channel_get_messages (channel), "newroom-1", 1 };

    g_assert_true (core_test_wait_until (id_in_model, &w, DEADLINE_MS));
  }
  g_assert_cmpuint (added.messages->len, ==, 1);
  {
    g_autoptr(ConfabChannel) first = g_list_model_get_item (channels, 0);

    g_assert_true (first == channel);
  }
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 1);

  g_ptr_array_unref (added.messages);
  confab_connection_manager_disconnect (manager);
}

/* Recovery: what the store does when its own REST calls fail -------------------------------- */

static ConfabChatStore *
new_store_with (ConfabConnectionManager *manager,
                const char              *cache_dir,
                ConfabClock             *clock,
                guint                    channel_message_limit,
                guint                    gap_page_size,
                guint                    gap_max_pages)
{
  return g_object_new (CONFAB_TYPE_CHAT_STORE,
                       "manager", manager,
                       "cache-dir", cache_dir,
                       "clock", clock,
                       "channel-message-limit", channel_message_limit,
                       "gap-page-size", gap_page_size,
                       "gap-max-pages", gap_max_pages,
                       NULL);
}

static void
rate_limit (CoreTestSandbox *sandbox,
            const char      *path,
            guint            count,
            const char      *retry_after)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (core_test_sandbox_rate_limit (sandbox, path, count, retry_after, 0, &error));
  g_assert_no_error (error);
}

static void
signal_sandbox (CoreTestSandbox *sandbox,
                int              signum)
{
  const char *pid = g_subprocess_get_identifier (sandbox->process);

  g_assert_nonnull (pid);
  g_assert_cmpint (kill ((pid_t) g_ascii_strtoll (pid, NULL, 10), signum), ==, 0);
}

static gboolean
has_last_error (gpointer user_data)
{
  return confab_chat_store_get_last_error (user_data) != NULL;
}

static gboolean
has_no_last_error (gpointer user_data)
{
  return confab_chat_store_get_last_error (user_data) == NULL;
}

static gboolean
retry_scheduled (gpointer user_data)
{
  return confab_chat_store_get_next_retry (user_data) != 0;
}

static gboolean
not_refreshing (gpointer user_data)
{
  return !confab_chat_store_get_refreshing (user_data);
}

/* Records the refreshing property's values, "T" and "F", as they are notified. */
static void
record_refreshing (ConfabChatStore *store,
                   GParamSpec      *pspec,
                   GString         *log)
{
  g_string_append (log, confab_chat_store_get_refreshing (store) ? "T" : "F");
}

static void
assert_whole_list (ConfabChatStore *store)
{
  ConfabChannel *general = confab_chat_store_lookup_channel (store, GENERAL);
  ConfabChannel *design = confab_chat_store_lookup_channel (store, "messaging:design");

  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 2);
  g_assert_nonnull (general);
  g_assert_nonnull (design);
  g_assert_cmpstr (confab_channel_get_name (general), ==, "General");
  g_assert_cmpstr (confab_channel_get_name (design), ==, "Design review");
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_members (general)), ==, 3);
  g_assert_cmpuint (confab_channel_get_online_count (general), >=, 1);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (general)), >=, 12);
}

/* /core/chat-store/refresh-rate-limited: the first channel queries are refused (HTTP 429):
 * the store waits as long as Retry-After says, then backs off, until the list is whole. */
static void
test_refresh_rate_limited (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000000);
  g_autoptr(ConfabChatStore) store = NULL;
  g_autoptr(GString) log = g_string_new (NULL);
  const GError *error;
  gint64 due;

  connect_and_wait (manager, "alice");
  /* Retry-After is a wall time; the fake clock's wall starts at the real one. */
  confab_fake_clock_set_wall (clock, g_get_real_time ());
  rate_limit (sandbox, "/channels", 1, "10");

  store = new_store (manager, NULL, CONFAB_CLOCK (clock));
  g_signal_connect (store, "notify::refreshing", G_CALLBACK (record_refreshing), log);
  g_assert_true (confab_chat_store_get_refreshing (store));
  g_assert_true (core_test_wait_until (has_last_error, store, DEADLINE_MS));
  error = confab_chat_store_get_last_error (store);
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED);
  g_test_message ("last-error: %s", error->message);
  /* Not given up, not final: one retry is due. */
  g_assert_true (confab_chat_store_get_refreshing (store));
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 0);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);
  /* Not before the 10 s the server asked for (the backoff alone would be ≤ 0.5 s). */
  due = confab_chat_store_get_next_retry (store);
  g_assert_cmpint (due - confab_clock_wall (CONFAB_CLOCK (clock)), >=, 10 * G_USEC_PER_SEC);
  /* (plus the time the 429 took to arrive, since the fake wall clock was set) */
  g_assert_cmpint (due - confab_clock_wall (CONFAB_CLOCK (clock)), <=, 15 * G_USEC_PER_SEC);
  confab_fake_clock_advance (clock, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);
  g_assert_cmpint (confab_chat_store_get_next_retry (store), ==, due);

  /* The next attempt is refused too (no Retry-After): the backoff again. */
  rate_limit (sandbox, "/channels", 1, NULL);
  confab_fake_clock_advance (clock, 25 * G_USEC_PER_SEC);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  g_assert_cmpint (confab_chat_store_get_next_retry (store), ==, 0);
  g_assert_true (core_test_wait_until (retry_scheduled, store, DEADLINE_MS));
  g_assert_cmpint (confab_chat_store_get_next_retry (store) - confab_clock_wall (CONFAB_CLOCK (clock)), <=,
                   (gint64) CONFAB_BACKOFF_DEFAULT_CAP_MS * 1000);
  g_assert_true (confab_chat_store_get_refreshing (store));
  g_assert_nonnull (confab_chat_store_get_last_error (store));
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 0);

  /* Then it works: the whole list, the error cleared, refreshing over (notified once). */
  confab_fake_clock_advance (clock, 30 * G_USEC_PER_SEC);
  g_assert_true (core_test_wait_until (not_refreshing, store, DEADLINE_MS));
  assert_whole_list (store);
  g_assert_null (confab_chat_store_get_last_error (store));
  g_assert_cmpstr (log->str, ==, "F");
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  g_assert_cmpint (confab_chat_store_get_next_retry (store), ==, 0);

  confab_connection_manager_disconnect (manager);
}

typedef struct
{
  ConfabChatStore *store;
  const char      *cid;
  const char      *name;
  guint            members;
} ChannelWait;

static gboolean
channel_complete (gpointer user_data)
{
  ChannelWait *w = user_data;
  ConfabChannel *channel = confab_chat_store_lookup_channel (w->store, w->cid);

  return channel != NULL && g_strcmp0 (confab_channel_get_name (channel), w->name) == 0 &&
         g_list_model_get_n_items (confab_channel_get_members (channel)) >= w->members;
}

/* /core/chat-store/refresh-stalled: the sandbox stops (SIGSTOP) right after the connection
 * is usable, so the first channel query gets no answer before its deadline; a message
 * arriving meanwhile brings its one channel (the field report: "General" alone). The
 * retry brings the rest. */
static void
test_refresh_stalled (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000000);
  g_autoptr(ConfabChatStore) store = NULL;
  ChannelWait general = { NULL, GENERAL, "General", 3 };
  ConfabStreamClient *client;
  guint timeout_ms;

  connect_and_wait (manager, "alice");
  client = confab_connection_manager_get_client (manager);
  timeout_ms = confab_stream_client_get_timeout_ms (client);
  /* A short REST deadline, so the stall is over quickly (the WebSocket's probes are
   * seconds away: the connection stays CONNECTED throughout). */
  confab_stream_client_set_timeout_ms (client, 300);
  signal_sandbox (sandbox, SIGSTOP);

  store = new_store (manager, NULL, CONFAB_CLOCK (clock));
  g_assert_true (core_test_wait_until (has_last_error, store, DEADLINE_MS));
  g_assert_error (confab_chat_store_get_last_error (store), CONFAB_ERROR, CONFAB_ERROR_TIMEOUT);
  g_assert_true (confab_chat_store_get_refreshing (store));
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 0);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_CONNECTED);

  confab_stream_client_set_timeout_ms (client, timeout_ms);
  signal_sandbox (sandbox, SIGCONT);

  /* bob writes in general: it appears on its own, complete, but the list is not final. */
  send_as (sandbox, bob, "bob", "stalled-1", "are you there?");
  general.store = store;
  g_assert_true (core_test_wait_until (channel_complete, &general, DEADLINE_MS));
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 1);
  g_assert_true (confab_chat_store_get_refreshing (store));
  g_assert_nonnull (confab_chat_store_get_last_error (store));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);

  /* The retry (at most the 30 s cap later) brings the whole list. */
  confab_fake_clock_advance (clock, 30 * G_USEC_PER_SEC);
  g_assert_true (core_test_wait_until (not_refreshing, store, DEADLINE_MS));
  assert_whole_list (store);
  g_assert_cmpuint (count_id (confab_channel_get_messages (confab_chat_store_lookup_channel (store, GENERAL)),
                              "stalled-1"), ==, 1);
  g_assert_null (confab_chat_store_get_last_error (store));

  confab_connection_manager_disconnect (manager);
}

/* /core/chat-store/refresh-after-reconnect: a failed query is not retried while
 * disconnected; the next CONNECTED queries again (the clock never moves here). */
static void
test_refresh_after_reconnect (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000000);
  g_autoptr(ConfabChatStore) store = NULL;
  g_autoptr(GString) log = g_string_new (NULL);

  connect_and_wait (manager, "alice");
  rate_limit (sandbox, "/channels", 1, NULL);
  store = new_store (manager, NULL, CONFAB_CLOCK (clock));
  g_signal_connect (store, "notify::refreshing", G_CALLBACK (record_refreshing), log);
  g_assert_true (core_test_wait_until (has_last_error, store, DEADLINE_MS));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);

  /* Offline: nothing in progress, nothing scheduled. */
  confab_connection_manager_disconnect (manager);
  g_assert_false (confab_chat_store_get_refreshing (store));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);

  connect_and_wait (manager, "alice");
  g_assert_true (core_test_wait_until (not_refreshing, store, DEADLINE_MS));
  assert_whole_list (store);
  g_assert_null (confab_chat_store_get_last_error (store));
  g_assert_cmpstr (log->str, ==, "FTF");

  confab_connection_manager_disconnect (manager);
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
emit_event (ConfabConnectionManager *manager,
            const char              *json)
{
  g_autoptr(JsonObject) event = parse_object (json);

  g_signal_emit_by_name (manager, "event", event);
}

/* /core/chat-store/channel-query-retry: a channel's own query (after
 * notification.added_to_channel) and a read receipt fail once; both are retried (the
 * receipt at once, by confab_chat_store_retry_now()). */
static void
test_channel_query_retry (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000000);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, CONFAB_CLOCK (clock));
  ChannelWait design = { store, "messaging:design", "Design review", 1 };
  g_autofree char *bob = demo_token (sandbox, "bob");
  ConfabChannel *channel;
  void *args[] = { sandbox, alice };

  connect_and_wait (manager, "alice");
  wait_settled (store);
  g_assert_null (confab_chat_store_get_last_error (store));

  /* The store forgets design, then hears it was added to it; its query is refused. */
  emit_event (manager, "{\"type\":\"notification.removed_from_channel\",\"cid\":\"messaging:design\"}");
  g_assert_null (confab_chat_store_lookup_channel (store, "messaging:design"));
  rate_limit (sandbox, "/channels/messaging/design/query", 1, NULL);
  emit_event (manager, "{\"type\":\"notification.added_to_channel\",\"cid\":\"messaging:design\"}");
  g_assert_true (core_test_wait_until (has_last_error, store, DEADLINE_MS));
  g_assert_error (confab_chat_store_get_last_error (store), CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED);
  channel = confab_chat_store_lookup_channel (store, "messaging:design");
  g_assert_nonnull (channel);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_members (channel)), ==, 0);
  /* Only that channel is asked again; the list itself is fine. */
  g_assert_false (confab_chat_store_get_refreshing (store));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);
  g_assert_cmpint (confab_chat_store_get_next_retry (store), >, 0);

  confab_fake_clock_advance (clock, 30 * G_USEC_PER_SEC);
  g_assert_true (core_test_wait_until (channel_complete, &design, DEADLINE_MS));
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (channel)), >, 0);
  g_assert_null (confab_chat_store_get_last_error (store));
  g_assert_false (confab_chat_store_get_refreshing (store));

  /* A read receipt refused once is sent again by the retry. */
  send_as (sandbox, bob, "bob", "unread-1", "news");
  g_assert_cmpint (server_unread (sandbox, alice, "alice"), >, 0);
  rate_limit (sandbox, "/channels/messaging/general/read", 1, NULL);
  confab_chat_store_mark_read (store, GENERAL);
  g_assert_cmpuint (confab_channel_get_unread_count (confab_chat_store_lookup_channel (store, GENERAL)), ==, 0);
  g_assert_true (core_test_wait_until (retry_scheduled, store, DEADLINE_MS));
  g_assert_error (confab_chat_store_get_last_error (store), CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED);
  g_assert_cmpint (server_unread (sandbox, alice, "alice"), >, 0);
  /* "Retry" on the toast: at once, not after the backoff. */
  confab_chat_store_retry_now (store);
  g_assert_cmpint (confab_chat_store_get_next_retry (store), ==, 0);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  g_assert_true (core_test_wait_until (unread_is_zero_on_server, args, DEADLINE_MS));
  g_assert_true (core_test_wait_until (has_no_last_error, store, DEADLINE_MS));

  confab_connection_manager_disconnect (manager);
}

/* Gaps -------------------------------------------------------------------------------------- */

/* alice's cache holds general's 12 messages; bob then writes @missed more while she is
 * away. Returns the server's ids of general, oldest first. */
static GPtrArray *
cache_then_miss (CoreTestSandbox *sandbox,
                 const char      *alice,
                 const char      *bob,
                 const char      *cache_dir,
                 guint            missed)
{
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, cache_dir, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = NULL;
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  JsonArray *messages;

  g_assert_true (confab_chat_store_load_cache (store, &error));
  connect_and_wait (manager, "alice");
  wait_settled (store);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (confab_chat_store_lookup_channel (store, GENERAL))),
                    ==, 12);
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  g_assert_no_error (error);
  confab_connection_manager_disconnect (manager);

  for (guint i = 0; i < missed; i++)
    {
      g_autofree char *id = g_strdup_printf ("missed-%03u", i);

      send_as (sandbox, bob, "bob", id, id);
    }
  answer = server_general (sandbox, bob, "bob");
  messages = json_object_get_array_member (answer, "messages");
  for (guint i = 0; i < json_array_get_length (messages); i++)
    g_ptr_array_add (ids, g_strdup (json_object_get_string_member (json_array_get_object_element (messages, i), "id")));
  g_assert_cmpuint (ids->len, ==, 12 + missed);
  return ids;
}

static void
assert_ids (GListModel *model,
            GPtrArray  *ids,
            guint       from)
{
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, ids->len - from);
  for (guint i = from; i < ids->len; i++)
    g_assert_cmpstr (confab_message_get_id (message_at (model, i - from)), ==, g_ptr_array_index (ids, i));
}

static gboolean
n_items_exactly (gpointer user_data)
{
  InModel *w = user_data;

  return g_list_model_get_n_items (w->model) == w->at_least;
}

/* /core/chat-store/gap-too-large: more is missed than the gap pages may fetch (here a
 * newest page of 3 and 2 gap pages of 3, by the page-size properties; 25 + 10 × 300 by
 * default): the older cached messages are dropped (model and cache), has-more-history is
 * TRUE, and paging back brings the whole history without a hole. */
static void
test_gap_too_large (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autofree char *cache_dir = make_dir ();
  g_autoptr(GPtrArray) ids = cache_then_miss (sandbox, alice, bob, cache_dir, 20);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabChatStore) store = new_store_with (manager, cache_dir, NULL, 3, 3, 2);
  g_autoptr(ConfabConnectionManager) offline_manager = NULL;
  g_autoptr(ConfabChatStore) offline = NULL;
  g_autoptr(GError) error = NULL;
  ConfabChannel *general;
  GListModel *model;
  InModel wait;
  OlderResult r = { 0 };

  g_assert_true (confab_chat_store_load_cache (store, &error));
  general = confab_chat_store_lookup_channel (store, GENERAL);
  model = confab_channel_get_messages (general);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 12);
  g_assert_false (confab_channel_get_has_more_history (general));

  connect_and_wait (manager, "alice");
  wait_settled (store);
  /* 12 cached, then the newest 3, 3 + 3 from the gap pages, then only the newest 3. */
  wait.model = model;
  wait.at_least = 3;
  g_assert_true (core_test_wait_until (n_items_exactly, &wait, DEADLINE_MS));
  settle_for (200);
  assert_ids (model, ids, ids->len - 3);
  g_assert_true (confab_channel_get_has_more_history (general));

  /* The cache forgot them too. */
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  g_assert_no_error (error);
  offline_manager = new_manager (sandbox->url, alice, NULL);
  offline = new_store (offline_manager, cache_dir, NULL);
  g_assert_true (confab_chat_store_load_cache (offline, &error));
  assert_ids (confab_channel_get_messages (confab_chat_store_lookup_channel (offline, GENERAL)), ids, ids->len - 3);
  g_assert_true (confab_channel_get_has_more_history (confab_chat_store_lookup_channel (offline, GENERAL)));
  g_clear_object (&offline);

  /* One page back (100) brings all 29 older ones: no hole, nothing twice. */
  confab_chat_store_load_older_async (store, GENERAL, NULL, older_done, &r);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_assert_no_error (r.error);
  assert_ids (model, ids, 0);
  assert_sorted_unique (model);
  g_assert_false (confab_channel_get_has_more_history (general));

  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  rm_rf (cache_dir);
}

/* /core/chat-store/gap-retry: a gap page refused once is fetched again after the backoff,
 * and the gap closes without dropping anything; refused every time, the store gives up
 * after CONFAB_CHAT_STORE_GAP_MAX_ATTEMPTS and drops the older messages instead. */
static void
test_gap_retry (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autofree char *cache_dir = make_dir ();
  g_autoptr(GPtrArray) ids = cache_then_miss (sandbox, alice, bob, cache_dir, 12);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000000);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(ConfabChatStore) store = NULL;
  g_autoptr(GError) error = NULL;
  ConfabChannel *general;
  GListModel *model;
  InModel wait;

  /* Refused once: closed on the retry, nothing dropped (newest page 5, gap pages 5). */
  rate_limit (sandbox, "/channels/messaging/general/query", 1, NULL);
  manager = new_manager (sandbox->url, alice, NULL);
  store = new_store_with (manager, cache_dir, CONFAB_CLOCK (clock), 5, 5, 10);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  general = confab_chat_store_lookup_channel (store, GENERAL);
  model = confab_channel_get_messages (general);
  connect_and_wait (manager, "alice");
  g_assert_true (core_test_wait_until (retry_scheduled, store, DEADLINE_MS));
  g_assert_error (confab_chat_store_get_last_error (store), CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 12 + 5);
  confab_fake_clock_advance (clock, 30 * G_USEC_PER_SEC);
  wait.model = model;
  wait.at_least = ids->len;
  g_assert_true (core_test_wait_until (n_items_exactly, &wait, DEADLINE_MS));
  g_assert_true (core_test_wait_until (has_no_last_error, store, DEADLINE_MS));
  assert_ids (model, ids, 0);
  g_assert_false (confab_channel_get_has_more_history (general));
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  g_clear_object (&manager);

  /* More missed, and every gap page refused: dropped after the last attempt. */
  for (guint i = 0; i < 12; i++)
    {
      g_autofree char *id = g_strdup_printf ("again-%03u", i);

      send_as (sandbox, bob, "bob", id, id);
      g_ptr_array_add (ids, g_steal_pointer (&id));
    }
  rate_limit (sandbox, "/channels/messaging/general/query", CONFAB_CHAT_STORE_GAP_MAX_ATTEMPTS, NULL);
  manager = new_manager (sandbox->url, alice, NULL);
  store = new_store_with (manager, cache_dir, CONFAB_CLOCK (clock), 5, 5, 10);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  general = confab_chat_store_lookup_channel (store, GENERAL);
  model = confab_channel_get_messages (general);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, ids->len - 12);
  connect_and_wait (manager, "alice");
  for (guint attempt = 1; attempt < CONFAB_CHAT_STORE_GAP_MAX_ATTEMPTS; attempt++)
    {
      g_assert_true (core_test_wait_until (retry_scheduled, store, DEADLINE_MS));
      g_assert_cmpuint (g_list_model_get_n_items (model), ==, ids->len - 12 + 5);
      confab_fake_clock_advance (clock, 30 * G_USEC_PER_SEC);
    }
  wait.model = model;
  wait.at_least = 5;
  g_assert_true (core_test_wait_until (n_items_exactly, &wait, DEADLINE_MS));
  assert_ids (model, ids, ids->len - 5);
  g_assert_true (confab_channel_get_has_more_history (general));
  g_assert_error (confab_chat_store_get_last_error (store), CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED);

  confab_connection_manager_disconnect (manager);
  g_clear_object (&store);
  rm_rf (cache_dir);
}

/* /core/chat-store/reading-channel ----------------------------------------------------------- */

typedef struct
{
  guint mark_reads;    /* notification.mark_read events: one per mark-read call */
  guint max_unread;    /* the highest unread-count general showed while watched */
} ReadWatch;

static void
on_read_event (ConfabConnectionManager *manager,
               JsonObject              *event,
               ReadWatch               *watch)
{
  if (g_strcmp0 (json_object_get_string_member_with_default (event, "type", NULL), "notification.mark_read") == 0)
    watch->mark_reads++;
}

static void
on_unread_notify (ConfabChannel *channel,
                  GParamSpec    *pspec,
                  ReadWatch     *watch)
{
  watch->max_unread = MAX (watch->max_unread, confab_channel_get_unread_count (channel));
}

typedef struct
{
  CoreTestSandbox *sandbox;
  const char      *token;
  gint64           unread;
} ServerUnread;

static gboolean
server_unread_is (gpointer user_data)
{
  ServerUnread *w = user_data;

  return server_unread (w->sandbox, w->token, "alice") == w->unread;
}

/* Sends @n messages as bob and waits until alice's store has them all. */
static void
burst (CoreTestSandbox *sandbox,
       const char      *bob,
       GListModel      *model,
       const char      *prefix,
       guint            n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *uuid = g_uuid_string_random ();
      g_autofree char *id = g_strdup_printf ("%s-%u-%s", prefix, i, uuid);
      InModel wait = { model, id, 1 };

      send_as (sandbox, bob, "bob", id, "a message read as it arrives");
      g_assert_true (core_test_wait_until (id_in_model, &wait, DEADLINE_MS));
    }
}

static void
test_reading_channel (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox (extra);
  g_autofree char *alice = demo_token (sandbox, "alice");
  g_autofree char *bob = demo_token (sandbox, "bob");
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (G_USEC_PER_SEC);
  g_autoptr(ConfabConnectionManager) manager = new_manager (sandbox->url, alice, NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, CONFAB_CLOCK (clock));
  ServerUnread unread = { sandbox, alice, 0 };
  ReadWatch watch = { 0 };
  ConfabChannel *general;
  GListModel *model;
  guint reads;

  g_signal_connect (manager, "event", G_CALLBACK (on_read_event), &watch);
  connect_and_wait (manager, "alice");
  wait_settled (store);
  general = confab_chat_store_lookup_channel (store, GENERAL);
  g_assert_nonnull (general);
  model = confab_channel_get_messages (general);
  g_assert_null (confab_chat_store_get_reading_channel (store));

  /* Not read: bob's message counts as unread, here and on the server. */
  burst (sandbox, bob, model, "before", 1);
  g_assert_cmpuint (confab_channel_get_unread_count (general), >=, 1);
  g_assert_cmpint (server_unread (sandbox, alice, "alice"), >=, 1);

  /* The user opens it: read at once. */
  confab_chat_store_set_reading_channel (store, GENERAL);
  g_assert_cmpstr (confab_chat_store_get_reading_channel (store), ==, GENERAL);
  g_assert_cmpuint (confab_channel_get_unread_count (general), ==, 0);
  g_assert_true (core_test_wait_until (server_unread_is, &unread, DEADLINE_MS));
  g_assert_true (core_test_wait_count (&watch.mark_reads, 1, DEADLINE_MS));
  reads = watch.mark_reads;

  /* A burst of 20 while reading: never unread, and no mark-read per message (the server
   * still counts all 20: nothing told it yet). Time stands still on the store's clock. */
  g_signal_connect (general, "notify::unread-count", G_CALLBACK (on_unread_notify), &watch);
  burst (sandbox, bob, model, "burst", 20);
  g_assert_cmpuint (watch.max_unread, ==, 0);
  g_assert_cmpuint (confab_channel_get_unread_count (general), ==, 0);
  g_assert_cmpint (server_unread (sandbox, alice, "alice"), ==, 20);
  g_assert_cmpuint (watch.mark_reads, ==, reads);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), >=, 1);

  /* Once it has been quiet for READ_SETTLE_MS: one mark-read for the 20. */
  confab_fake_clock_advance (clock, (CONFAB_CHAT_STORE_READ_SETTLE_MS - 1) * 1000);
  g_assert_cmpint (server_unread (sandbox, alice, "alice"), ==, 20);
  confab_fake_clock_advance (clock, 1000);
  g_assert_true (core_test_wait_until (server_unread_is, &unread, DEADLINE_MS));
  g_assert_true (core_test_wait_count (&watch.mark_reads, reads + 1, DEADLINE_MS));
  reads = watch.mark_reads;

  /* A burst that never settles (a message every half second): told at the latest after
   * READ_MAX_DELAY_MS, once. */
  for (guint i = 0; i * 500 < CONFAB_CHAT_STORE_READ_MAX_DELAY_MS; i++)
    {
      burst (sandbox, bob, model, "steady", 1);
      confab_fake_clock_advance (clock, 500 * 1000);
    }
  g_assert_true (core_test_wait_count (&watch.mark_reads, reads + 1, DEADLINE_MS));
  g_assert_cmpuint (watch.max_unread, ==, 0);
  reads = watch.mark_reads;

  /* Leaving tells the server at once what was read there. */
  burst (sandbox, bob, model, "leaving", 3);
  g_assert_cmpint (server_unread (sandbox, alice, "alice"), >=, 3);
  confab_chat_store_set_reading_channel (store, NULL);
  g_assert_null (confab_chat_store_get_reading_channel (store));
  g_assert_true (core_test_wait_until (server_unread_is, &unread, DEADLINE_MS));
  g_assert_true (core_test_wait_count (&watch.mark_reads, reads + 1, DEADLINE_MS));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);

  /* Not read any more: counted again. */
  burst (sandbox, bob, model, "after", 2);
  g_assert_cmpuint (confab_channel_get_unread_count (general), ==, 2);
  g_assert_cmpuint (watch.max_unread, ==, 2);

  g_signal_handlers_disconnect_by_data (general, &watch);
  g_signal_handlers_disconnect_by_data (manager, &watch);
  confab_connection_manager_disconnect (manager);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/chat-store/connect-and-cache", test_connect_and_cache);
  g_test_add_func ("/core/chat-store/merge-live-send", test_merge_live_send);
  g_test_add_func ("/core/chat-store/offline-send", test_offline_send);
  g_test_add_func ("/core/chat-store/typing-and-presence", test_typing_and_presence);
  g_test_add_func ("/core/chat-store/load-older", test_load_older);
  g_test_add_func ("/core/chat-store/gap", test_gap);
  g_test_add_func ("/core/chat-store/new-channel", test_new_channel);
  g_test_add_func ("/core/chat-store/refresh-rate-limited", test_refresh_rate_limited);
  g_test_add_func ("/core/chat-store/refresh-stalled", test_refresh_stalled);
  g_test_add_func ("/core/chat-store/refresh-after-reconnect", test_refresh_after_reconnect);
  g_test_add_func ("/core/chat-store/channel-query-retry", test_channel_query_retry);
  g_test_add_func ("/core/chat-store/gap-too-large", test_gap_too_large);
  g_test_add_func ("/core/chat-store/gap-retry", test_gap_retry);
  g_test_add_func ("/core/chat-store/reading-channel", test_reading_channel);

  return g_test_run ();
}
