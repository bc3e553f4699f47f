/* test-chat-model.c: the chat model without a server: batches, bad input, typing, cache
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <malloc.h>
#include <string.h>

#include "confab-chat-private.h"
#include "confab-chat-store.h"
#include "confab-error.h"
#include "confab-fake-clock.h"
#include "confab-history-cache.h"
#include "confab-static-token-provider.h"

#define CID "messaging:general"

/* Helpers ------------------------------------------------------------------------------- */

typedef struct
{
  guint n_signals;
  guint last_position;
  guint last_removed;
  guint last_added;
} ChangeCounter;

static void
on_items_changed (GListModel    *model,
                  guint          position,
                  guint          removed,
                  guint          added,
                  ChangeCounter *counter)
{
  counter->n_signals++;
  counter->last_position = position;
  counter->last_removed = removed;
  counter->last_added = added;
}

static char *
make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("confab-chat-model-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
}

/* A manager that never connects: the tests play its ::event signal. */
static ConfabConnectionManager *
new_manager (ConfabOutbox *outbox)
{
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new ("unused"));

  return g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                       "base-url", "http://127.0.0.1:9",
                       "api-key", "key",
                       "token-provider", provider,
                       "outbox", outbox,
                       NULL);
}

static ConfabChatStore *
new_store (ConfabConnectionManager *manager,
           const char              *cache_dir,
           ConfabClock             *clock)
{
  return g_object_new (CONFAB_TYPE_CHAT_STORE,
                       "manager", manager,
                       "cache-dir", cache_dir,
                       "clock", clock,
                       NULL);
}

static void
emit_json (ConfabConnectionManager *manager,
           const char              *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  if (JSON_NODE_HOLDS_OBJECT (root))
    g_signal_emit_by_name (manager, "event", json_node_get_object (root));
}

static void
emit_object (ConfabConnectionManager *manager,
             JsonObject              *event)
{
  g_signal_emit_by_name (manager, "event", event);
}

static JsonObject *
user_object (const char *id,
             const char *name)
{
  JsonObject *user = json_object_new ();

  json_object_set_string_member (user, "id", id);
  if (name != NULL)
    json_object_set_string_member (user, "name", name);
  return user;
}

static char *
iso_time (gint64 usec)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) precise = g_date_time_add (time, usec % G_USEC_PER_SEC);

  return g_date_time_format (precise, "%Y-%m-%dT%H:%M:%S.%fZ");
}

static JsonObject *
message_new_event (const char *cid,
                   const char *id,
                   const char *user_id,
                   const char *user_name,
                   const char *text,
                   gint64      created_at)
{
  JsonObject *event = json_object_new ();
  JsonObject *message = json_object_new ();
  g_autofree char *time = iso_time (created_at);

  json_object_set_string_member (message, "id", id);
  json_object_set_string_member (message, "text", text);
  json_object_set_string_member (message, "type", "regular");
  json_object_set_string_member (message, "cid", cid);
  json_object_set_string_member (message, "created_at", time);
  json_object_set_object_member (message, "user", user_object (user_id, user_name));
  json_object_set_string_member (event, "type", "message.new");
  json_object_set_string_member (event, "cid", cid);
  json_object_set_string_member (event, "created_at", time);
  json_object_set_object_member (event, "message", message);
  json_object_set_object_member (event, "user", user_object (user_id, user_name));
  return event;
}

static void
emit_message (ConfabConnectionManager *manager,
              const char              *cid,
              const char              *id,
              const char              *user_id,
              const char              *user_name,
              const char              *text,
              gint64                   created_at)
{
  g_autoptr(JsonObject) event = message_new_event (cid, id, user_id, user_name, text, created_at);

  emit_object (manager, event);
}

static gboolean
never (gpointer user_data)
{
  return G_SOURCE_REMOVE;
}

static gboolean
deadline_passed (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until *@flag or 5 s. */
static gboolean
wait_flag (const gboolean *flag)
{
  gboolean expired = FALSE;
  guint deadline = g_timeout_add (5000, deadline_passed, &expired);

  while (!*flag && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (deadline);
  return *flag;
}

/* Runs what is ready now (the store's batch flush is an idle callback). */
static void
drain (void)
{
  guint guard = g_timeout_add (50, never, NULL);

  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_source_remove (guard);
}

static ConfabMessage *
message_at (GListModel *model,
            guint       position)
{
  g_autoptr(ConfabMessage) message = g_list_model_get_item (model, position);

  return message;  /* the model keeps it alive */
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

/* /core/chat-model/message-list --------------------------------------------------------- */

static ConfabMessage *
make_message (ConfabChatUser *user,
              const char     *cid_ref,
              const char     *id,
              gint64          created_at)
{
  return _confab_message_new (id, cid_ref, user, "text", created_at, CONFAB_MESSAGE_STATUS_SENT, FALSE, FALSE);
}

static void
assert_ids (GListModel *model,
            const char *expected)
{
  g_autoptr(GString) ids = g_string_new (NULL);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (ids, "%s%s", i > 0 ? " " : "", confab_message_get_id (message_at (model, i)));
  g_assert_cmpstr (ids->str, ==, expected);
}

static void
test_message_list (void)
{
  g_autoptr(ConfabChatMessageList) list = _confab_chat_message_list_new ();
  g_autoptr(ConfabChatUser) user = _confab_chat_user_new ("bob");
  g_autoptr(GPtrArray) add = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) remove = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) moves = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));
  char *cid = g_ref_string_new (CID);
  ChangeCounter counter = { 0 };
  GListModel *model = G_LIST_MODEL (list);
  gint64 t;

  g_signal_connect (list, "items-changed", G_CALLBACK (on_items_changed), &counter);
  g_assert_true (g_list_model_get_item_type (model) == CONFAB_TYPE_MESSAGE);

  /* Appended, in any order: one signal. */
  g_ptr_array_add (add, make_message (user, cid, "c", 30));
  g_ptr_array_add (add, make_message (user, cid, "a", 10));
  g_ptr_array_add (add, make_message (user, cid, "b", 20));
  _confab_chat_message_list_apply (list, NULL, NULL, NULL, add);
  g_ptr_array_set_size (add, 0);
  g_assert_cmpuint (counter.n_signals, ==, 1);
  g_assert_cmpuint (counter.last_position, ==, 0);
  g_assert_cmpuint (counter.last_added, ==, 3);
  assert_ids (model, "a b c");

  /* Older ones prepended; a tie in time is ordered by id. */
  g_ptr_array_add (add, make_message (user, cid, "z0", 5));
  g_ptr_array_add (add, make_message (user, cid, "y0", 5));
  _confab_chat_message_list_apply (list, NULL, NULL, NULL, add);
  g_ptr_array_set_size (add, 0);
  g_assert_cmpuint (counter.n_signals, ==, 2);
  g_assert_cmpuint (counter.last_position, ==, 0);
  g_assert_cmpuint (counter.last_removed, ==, 0);
  g_assert_cmpuint (counter.last_added, ==, 2);
  assert_ids (model, "y0 z0 a b c");

  /* Into the middle and at the end at once: one signal from the first change. */
  g_ptr_array_add (add, make_message (user, cid, "ab", 15));
  g_ptr_array_add (add, make_message (user, cid, "d", 40));
  _confab_chat_message_list_apply (list, NULL, NULL, NULL, add);
  g_ptr_array_set_size (add, 0);
  g_assert_cmpuint (counter.n_signals, ==, 3);
  g_assert_cmpuint (counter.last_position, ==, 3);
  g_assert_cmpuint (counter.last_removed, ==, 2);
  g_assert_cmpuint (counter.last_added, ==, 4);
  assert_ids (model, "y0 z0 a ab b c d");
  g_assert_true (confab_chat_message_list_lookup (list, "ab") == message_at (model, 3));

  /* A message whose time changed moves; one signal over the range between. */
  g_ptr_array_add (moves, g_object_ref (message_at (model, 2)));  /* "a" */
  t = 35;
  g_array_append_val (times, t);
  _confab_chat_message_list_apply (list, NULL, moves, times, NULL);
  g_ptr_array_set_size (moves, 0);
  g_array_set_size (times, 0);
  g_assert_cmpuint (counter.n_signals, ==, 4);
  g_assert_cmpuint (counter.last_position, ==, 2);
  g_assert_cmpuint (counter.last_removed, ==, 4);
  g_assert_cmpuint (counter.last_added, ==, 4);
  assert_ids (model, "y0 z0 ab b c a d");
  g_assert_cmpint (confab_message_get_created_at (message_at (model, 5)), ==, 35);

  /* Removed. */
  g_ptr_array_add (remove, g_object_ref (message_at (model, 0)));
  g_ptr_array_add (remove, g_object_ref (message_at (model, 6)));
  _confab_chat_message_list_apply (list, remove, NULL, NULL, NULL);
  g_assert_cmpuint (counter.n_signals, ==, 5);
  g_assert_cmpuint (counter.last_position, ==, 0);
  g_assert_cmpuint (counter.last_removed, ==, 7);
  g_assert_cmpuint (counter.last_added, ==, 5);
  assert_ids (model, "z0 ab b c a");
  g_assert_null (confab_chat_message_list_lookup (list, "y0"));
  g_assert_null (confab_chat_message_list_lookup (list, "d"));

  /* Nothing to do: no signal. */
  _confab_chat_message_list_apply (list, NULL, NULL, NULL, NULL);
  g_assert_cmpuint (counter.n_signals, ==, 5);
  g_assert_null (g_list_model_get_item (model, 99));

  g_ref_string_release (cid);
}

/* /core/chat-model/burst -------------------------------------------------------------- */

typedef struct
{
  guint n;
  guint n_own;
} AddedCounter;

static void
on_message_added (ConfabChatStore *store,
                  ConfabChannel   *channel,
                  ConfabMessage   *message,
                  AddedCounter    *counter)
{
  /* Already in its model when announced. */
  g_assert_true (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (confab_channel_get_messages (channel)),
                                                  confab_message_get_id (message)) == message);
  counter->n++;
  if (confab_message_get_is_own (message))
    counter->n_own++;
}

#define BURST 5000

static void
test_burst (void)
{
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, NULL);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  ChangeCounter channels = { 0 };
  ChangeCounter users = { 0 };
  ChangeCounter messages = { 0 };
  AddedCounter added = { 0 };
  ConfabChannel *channel;
  GListModel *model;
  gint64 start;

  g_signal_connect (confab_chat_store_get_channels (store), "items-changed", G_CALLBACK (on_items_changed), &channels);
  g_signal_connect (confab_chat_store_get_users (store), "items-changed", G_CALLBACK (on_items_changed), &users);
  g_signal_connect (store, "message-added", G_CALLBACK (on_message_added), &added);

  /* A backlog in one burst, out of order, from 50 people. */
  for (guint i = 0; i < BURST; i++)
    {
      guint n = (i * 7919) % BURST;
      g_autofree char *id = g_strdup_printf ("burst-%05u", n);
      g_autofree char *user_id = g_strdup_printf ("user%02u", n % 50);

      g_ptr_array_add (events, message_new_event (CID, id, user_id, NULL, "backlog", 1700000000000000 + n * 1000));
    }
  start = g_get_monotonic_time ();
  for (guint i = 0; i < events->len; i++)
    emit_object (manager, g_ptr_array_index (events, i));
  channel = confab_chat_store_lookup_channel (store, CID);
  g_assert_nonnull (channel);
  model = confab_channel_get_messages (channel);
  g_signal_connect (model, "items-changed", G_CALLBACK (on_items_changed), &messages);
  /* Nothing reaches the models before the batch is flushed. */
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);
  drain ();
  g_test_message ("%u events handled and flushed in %" G_GINT64_FORMAT " ms", BURST,
                  (g_get_monotonic_time () - start) / 1000);

  g_assert_cmpuint (messages.n_signals, ==, 1);
  g_assert_cmpuint (channels.n_signals, ==, 1);
  g_assert_cmpuint (users.n_signals, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, BURST);
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_users (store)), ==, 50);
  g_assert_cmpuint (added.n, ==, BURST);
  assert_sorted_unique (model);
  g_assert_cmpstr (confab_message_get_id (message_at (model, 0)), ==, "burst-00000");
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, BURST);

  /* The same burst again: nothing new, nothing announced, no signal. */
  for (guint i = 0; i < events->len; i++)
    emit_object (manager, g_ptr_array_index (events, i));
  drain ();
  g_assert_cmpuint (messages.n_signals, ==, 1);
  g_assert_cmpuint (added.n, ==, BURST);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, BURST);
}

/* /core/chat-model/bad-input ------------------------------------------------------------- */

static const char * const bad_events[] = {
  "{}",
  "{\"type\":5}",
  "{\"type\":null}",
  "{\"type\":[\"message.new\"]}",
  "{\"type\":\"no.such.event\",\"cid\":\"messaging:general\"}",
  "{\"type\":\"message.new\"}",
  "{\"type\":\"message.new\",\"cid\":\"messaging:general\"}",
  "{\"type\":\"message.new\",\"cid\":\"messaging:general\",\"message\":\"text\"}",
  "{\"type\":\"message.new\",\"cid\":\"messaging:general\",\"message\":{}}",
  "{\"type\":\"message.new\",\"cid\":\"messaging:general\",\"message\":{\"id\":5,\"text\":\"x\"}}",
  "{\"type\":\"message.new\",\"cid\":\"messaging:general\",\"message\":{\"id\":\"\",\"text\":\"x\"}}",
  "{\"type\":\"message.new\",\"cid\":\"nocolon\",\"message\":{\"id\":\"n1\",\"text\":\"x\"}}",
  "{\"type\":\"message.new\",\"cid\":\":\",\"message\":{\"id\":\"n2\",\"text\":\"x\"}}",
  "{\"type\":\"message.new\",\"cid\":5,\"message\":{\"id\":\"n3\",\"text\":\"x\"}}",
  "{\"type\":\"message.new\",\"cid\":\"messaging:general\",\"message\":{\"id\":\"t1\",\"parent_id\":\"p\",\"text\":\"thread reply\"}}",
  "{\"type\":\"message.new\",\"cid\":\"messaging:general\",\"message\":{\"id\":\"e1\",\"type\":\"ephemeral\",\"text\":\"giphy\"}}",
  "{\"type\":\"message.updated\",\"cid\":\"messaging:general\",\"message\":{\"id\":\"unknown\",\"text\":\"x\"}}",
  "{\"type\":\"message.updated\",\"cid\":\"messaging:general\",\"message\":[]}",
  "{\"type\":\"message.deleted\",\"cid\":\"messaging:general\",\"message\":{\"id\":\"unknown\"}}",
  "{\"type\":\"message.deleted\",\"cid\":\"messaging:unknown\",\"message\":{\"id\":\"x\"}}",
  "{\"type\":\"typing.start\",\"cid\":\"messaging:general\"}",
  "{\"type\":\"typing.start\",\"cid\":\"messaging:general\",\"user\":\"bob\"}",
  "{\"type\":\"typing.start\",\"cid\":\"messaging:general\",\"user\":{\"id\":7}}",
  "{\"type\":\"typing.stop\",\"cid\":\"messaging:nowhere\",\"user\":{\"id\":\"bob\"}}",
  "{\"type\":\"user.presence.changed\"}",
  "{\"type\":\"user.presence.changed\",\"user\":{\"id\":\"bob\",\"online\":\"yes\",\"last_active\":12}}",
  "{\"type\":\"user.presence.changed\",\"user\":{\"id\":\"\"}}",
  "{\"type\":\"message.read\",\"cid\":\"messaging:general\",\"user\":{\"id\":5}}",
  "{\"type\":\"notification.mark_read\",\"cid\":\"messaging:general\",\"unread_count\":\"lots\"}",
  "{\"type\":\"notification.mark_read\",\"unread_channels\":-3}",
  "{\"type\":\"member.added\",\"cid\":\"messaging:general\"}",
  "{\"type\":\"member.added\",\"cid\":\"messaging:general\",\"member\":{\"user_id\":[]}}",
  "{\"type\":\"member.removed\",\"cid\":\"messaging:general\",\"member\":5}",
  "{\"type\":\"channel.updated\",\"cid\":\"messaging:general\",\"channel\":[]}",
  "{\"type\":\"channel.updated\",\"cid\":\"messaging:general\",\"channel\":{\"name\":5,\"member_count\":\"many\",\"last_message_at\":\"yesterday\"}}",
  "{\"type\":\"notification.added_to_channel\",\"cid\":\"messaging:added\",\"channel\":{\"cid\":\"messaging:added\",\"name\":\"Added\"}}",
  "{\"type\":\"notification.removed_from_channel\",\"cid\":\"messaging:added\"}",
  "{\"type\":\"health.check\",\"connection_id\":\"x\"}",
};

static void
test_bad_input (void)
{
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, NULL);
  g_autoptr(GString) huge = g_string_new (NULL);
  g_autofree char *long_cid = NULL;
  const char *control = "bell\x07 escape\x1b[31m red\x1b[0m tab\tnewline\nend\x7f";
  const char *rtl = "مرحبا بالعالم \xe2\x80\x8f עברית \xe2\x80\xae reversed";
  const char *markup = "<b>bold</b> &amp; <span foreground='red'>red</span> <a href=\"x\">link";
  const char *emoji = "👩‍👩‍👧‍👦 🏳️‍🌈 \xf0\x9f\x98\x80";
  AddedCounter added = { 0 };
  ConfabChannel *channel;
  GListModel *model;

  g_signal_connect (store, "message-added", G_CALLBACK (on_message_added), &added);

  /* One good message first, so the channel exists. */
  emit_message (manager, CID, "good-1", "bob", "Bob Novak", "hello", 1700000000000000);
  for (guint i = 0; i < G_N_ELEMENTS (bad_events); i++)
    emit_json (manager, bad_events[i]);

  /* Odd but valid text is kept exactly as sent. */
  for (guint i = 0; i < 50 * 1024 / 10; i++)
    g_string_append (huge, "0123456789");
  emit_message (manager, CID, "huge", "bob", NULL, huge->str, 1700000000000001);
  emit_message (manager, CID, "control", "bob", NULL, control, 1700000000000002);
  emit_message (manager, CID, "rtl", "dana", "כרמל", rtl, 1700000000000003);
  emit_message (manager, CID, "markup", "carol", "<i>Carol</i>", markup, 1700000000000004);
  emit_message (manager, CID, "emoji", "erin", NULL, emoji, 1700000000000005);

  /* Invalid UTF-8 and a cid far too long, as a parser might hand them over. */
  {
    g_autoptr(JsonObject) event = message_new_event (CID, "latin1", "bob", NULL, "x", 1700000000000006);
    JsonObject *message = json_object_get_object_member (event, "message");

    json_object_set_string_member (message, "text", "caf\xe9 \xff\xfe");
    emit_object (manager, event);
  }
  long_cid = g_strnfill (10000, 'x');
  long_cid[3] = ':';
  emit_message (manager, long_cid, "long-cid", "bob", NULL, "x", 1700000000000007);
  /* Missing and unparsable times: the message still arrives (at the receiving time). */
  {
    g_autoptr(JsonObject) event = message_new_event (CID, "no-time", "bob", NULL, "no time", 0);
    JsonObject *message = json_object_get_object_member (event, "message");

    json_object_remove_member (message, "created_at");
    json_object_set_string_member (event, "created_at", "not a time");
    emit_object (manager, event);
  }
  {
    g_autoptr(JsonObject) event = message_new_event (CID, "bad-time", "bob", NULL, "bad time", 0);
    JsonObject *message = json_object_get_object_member (event, "message");

    json_object_set_int_member (message, "created_at", 12);
    json_object_set_string_member (message, "text", "bad time");
    json_object_set_int_member (message, "user", 12);
    emit_object (manager, event);
  }
  drain ();

  channel = confab_chat_store_lookup_channel (store, CID);
  g_assert_nonnull (channel);
  model = confab_channel_get_messages (channel);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 9);
  assert_sorted_unique (model);
  g_assert_cmpstr (confab_message_get_text (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "huge")), ==, huge->str);
  g_assert_cmpstr (confab_message_get_text (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "control")), ==, control);
  g_assert_cmpstr (confab_message_get_text (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "rtl")), ==, rtl);
  g_assert_cmpstr (confab_message_get_user_name (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "rtl")), ==, "כרמל");
  g_assert_cmpstr (confab_message_get_text (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "markup")), ==, markup);
  g_assert_cmpstr (confab_message_get_user_name (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "markup")), ==, "<i>Carol</i>");
  g_assert_cmpstr (confab_message_get_text (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "emoji")), ==, emoji);
  g_assert_true (g_utf8_validate (confab_message_get_text (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "latin1")), -1, NULL));
  g_assert_nonnull (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "no-time"));
  {
    ConfabMessage *bad_time = confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "bad-time");

    g_assert_nonnull (bad_time);
    g_assert_cmpstr (confab_message_get_user_id (bad_time), ==, "");
  }
  /* A user whose name is missing shows the id. */
  g_assert_cmpstr (confab_message_get_user_name (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "emoji")), ==, "erin");
  g_assert_cmpuint (added.n, ==, 9);

  /* Only the good channel, and the one added then removed is gone. */
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 1);
  g_assert_null (confab_chat_store_lookup_channel (store, "messaging:added"));
  g_assert_null (confab_channel_get_typing_text (channel));
  g_assert_false (confab_chat_user_get_online (confab_chat_store_lookup_user (store, "bob")));
}

/* /core/chat-model/typing ---------------------------------------------------------------- */

static void
emit_typing (ConfabConnectionManager *manager,
             const char              *type,
             const char              *user_id,
             const char              *name)
{
  g_autoptr(JsonObject) event = json_object_new ();

  json_object_set_string_member (event, "type", type);
  json_object_set_string_member (event, "cid", CID);
  json_object_set_object_member (event, "user", user_object (user_id, name));
  emit_object (manager, event);
}

static void
test_typing (void)
{
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000000);
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, CONFAB_CLOCK (clock));
  ConfabChannel *channel;

  emit_message (manager, CID, "m1", "alice", "Alice Martin", "hi", 1700000000000000);
  drain ();
  channel = confab_chat_store_lookup_channel (store, CID);
  g_assert_null (confab_channel_get_typing_text (channel));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);

  emit_typing (manager, "typing.start", "bob", "Bob Novak");
  g_assert_cmpstr (confab_channel_get_typing_text (channel), ==, "Bob Novak is typing…");
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 1);

  /* A repeated start extends bob's 7 s. */
  confab_fake_clock_advance (clock, 5 * G_USEC_PER_SEC);
  emit_typing (manager, "typing.start", "bob", "Bob Novak");
  confab_fake_clock_advance (clock, 5 * G_USEC_PER_SEC);
  g_assert_cmpstr (confab_channel_get_typing_text (channel), ==, "Bob Novak is typing…");

  emit_typing (manager, "typing.start", "carol", "Carol Ivanova");
  g_assert_cmpstr (confab_channel_get_typing_text (channel), ==, "Bob Novak and Carol Ivanova are typing…");
  emit_typing (manager, "typing.start", "dave", NULL);
  g_assert_cmpstr (confab_channel_get_typing_text (channel), ==, "Several people are typing…");

  /* Bob's 7 s end first. */
  confab_fake_clock_advance (clock, 2 * G_USEC_PER_SEC - 1);
  g_assert_cmpstr (confab_channel_get_typing_text (channel), ==, "Several people are typing…");
  confab_fake_clock_advance (clock, 1);
  g_assert_cmpstr (confab_channel_get_typing_text (channel), ==, "Carol Ivanova and dave are typing…");

  /* A stop, and a message, end a typer at once. */
  emit_typing (manager, "typing.stop", "dave", NULL);
  g_assert_cmpstr (confab_channel_get_typing_text (channel), ==, "Carol Ivanova is typing…");
  emit_message (manager, CID, "m2", "carol", "Carol Ivanova", "done", 1700000000000001);
  g_assert_null (confab_channel_get_typing_text (channel));
  /* No timer is left armed while nobody types. */
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);

  /* Expiry after exactly 7 s of silence. */
  emit_typing (manager, "typing.start", "bob", "Bob Novak");
  confab_fake_clock_advance (clock, 7 * G_USEC_PER_SEC - 1);
  g_assert_nonnull (confab_channel_get_typing_text (channel));
  confab_fake_clock_advance (clock, 1);
  g_assert_null (confab_channel_get_typing_text (channel));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  drain ();
}

/* /core/chat-model/presence-and-unread ------------------------------------------------------ */

static void
emit_member (ConfabConnectionManager *manager,
             const char              *type,
             const char              *user_id,
             const char              *name,
             gint64                   member_count)
{
  g_autoptr(JsonObject) event = json_object_new ();
  JsonObject *member = json_object_new ();

  json_object_set_string_member (member, "user_id", user_id);
  json_object_set_object_member (member, "user", user_object (user_id, name));
  json_object_set_string_member (event, "type", type);
  json_object_set_string_member (event, "cid", CID);
  json_object_set_object_member (event, "member", member);
  json_object_set_int_member (event, "channel_member_count", member_count);
  emit_object (manager, event);
}

static void
emit_presence (ConfabConnectionManager *manager,
               const char              *user_id,
               gboolean                 online)
{
  g_autoptr(JsonObject) event = json_object_new ();
  JsonObject *user = user_object (user_id, NULL);

  json_object_set_boolean_member (user, "online", online);
  json_object_set_string_member (user, "last_active", "2026-11-28T10:00:00.000000Z");
  json_object_set_string_member (event, "type", "user.presence.changed");
  json_object_set_object_member (event, "user", user);
  emit_object (manager, event);
}

static void
test_presence_and_unread (void)
{
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, NULL);
  ChangeCounter members = { 0 };
  ConfabChannel *channel;
  ConfabChatUser *bob;
  GListModel *model;

  emit_message (manager, CID, "m1", "carol", "Carol Ivanova", "hi", 1700000000000000);
  drain ();
  channel = confab_chat_store_lookup_channel (store, CID);
  model = confab_channel_get_members (channel);
  g_signal_connect (model, "items-changed", G_CALLBACK (on_items_changed), &members);

  emit_member (manager, "member.added", "carol", "Carol Ivanova", 1);
  emit_member (manager, "member.added", "bob", "Bob Novak", 2);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 2);
  g_assert_cmpuint (confab_channel_get_member_count (channel), ==, 2);
  g_assert_cmpuint (confab_channel_get_online_count (channel), ==, 0);
  /* By name while nobody is online. */
  {
    g_autoptr(ConfabChatUser) first = g_list_model_get_item (model, 0);

    g_assert_cmpstr (confab_chat_user_get_id (first), ==, "bob");
  }

  emit_presence (manager, "carol", TRUE);
  bob = confab_chat_store_lookup_user (store, "bob");
  g_assert_false (confab_chat_user_get_online (bob));
  g_assert_true (confab_chat_user_get_online (confab_chat_store_lookup_user (store, "carol")));
  g_assert_cmpint (confab_chat_user_get_last_active (confab_chat_store_lookup_user (store, "carol")), >, 0);
  g_assert_cmpuint (confab_channel_get_online_count (channel), ==, 1);
  /* Online first. */
  {
    g_autoptr(ConfabChatUser) first = g_list_model_get_item (model, 0);

    g_assert_cmpstr (confab_chat_user_get_id (first), ==, "carol");
  }
  emit_presence (manager, "bob", TRUE);
  g_assert_cmpuint (confab_channel_get_online_count (channel), ==, 2);
  emit_presence (manager, "carol", FALSE);
  g_assert_cmpuint (confab_channel_get_online_count (channel), ==, 1);
  {
    g_autoptr(ConfabChatUser) first = g_list_model_get_item (model, 0);

    g_assert_cmpstr (confab_chat_user_get_id (first), ==, "bob");
  }
  emit_member (manager, "member.removed", "bob", "Bob Novak", 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 1);
  g_assert_cmpuint (confab_channel_get_online_count (channel), ==, 0);
  g_assert_cmpuint (confab_channel_get_member_count (channel), ==, 1);

  /* Unread: the server's count when the event has one, our own count otherwise. */
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 1);
  {
    g_autoptr(JsonObject) event = message_new_event (CID, "m2", "bob", NULL, "two", 1700000000000002);

    json_object_set_int_member (event, "unread_count", 7);
    emit_object (manager, event);
  }
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 7);
  emit_message (manager, CID, "m3", "bob", NULL, "three", 1700000000000003);
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 8);
  /* Someone else's read does not change ours. */
  emit_json (manager, "{\"type\":\"message.read\",\"cid\":\"messaging:general\",\"user\":{\"id\":\"bob\"}}");
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 8);
  emit_json (manager, "{\"type\":\"notification.mark_read\",\"cid\":\"messaging:general\",\"unread_count\":2,"
                      "\"unread_channels\":1}");
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 2);
  emit_json (manager, "{\"type\":\"notification.mark_read\",\"unread_channels\":0}");
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 0);
  emit_message (manager, CID, "m4", "bob", NULL, "four", 1700000000000004);
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 1);
  confab_chat_store_mark_read (store, CID);
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 0);
  drain ();
}

/* /core/chat-model/channel-order ------------------------------------------------------------ */

static void
test_channel_order (void)
{
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, NULL);
  GListModel *channels = confab_chat_store_get_channels (store);
  ChangeCounter counter = { 0 };

  g_signal_connect (channels, "items-changed", G_CALLBACK (on_items_changed), &counter);
  emit_message (manager, "messaging:a", "a1", "bob", NULL, "a", 1700000000000001);
  emit_message (manager, "messaging:b", "b1", "bob", NULL, "b", 1700000000000002);
  emit_message (manager, "messaging:c", "c1", "bob", NULL, "c", 1700000000000003);
  drain ();
  g_assert_cmpuint (counter.n_signals, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (channels), ==, 3);
  {
    g_autoptr(ConfabChannel) first = g_list_model_get_item (channels, 0);

    g_assert_cmpstr (confab_channel_get_cid (first), ==, "messaging:c");
    g_assert_cmpstr (confab_channel_get_last_message_text (first), ==, "c");
    g_assert_cmpint (confab_channel_get_last_message_at (first), ==, 1700000000000003);
    /* A channel without a name is named after its other members, or its id. */
    g_assert_cmpstr (confab_channel_get_name (first), ==, "c");
  }

  /* The oldest gets a message: to the top, one signal. */
  emit_message (manager, "messaging:a", "a2", "bob", NULL, "a again", 1700000000000004);
  drain ();
  g_assert_cmpuint (counter.n_signals, ==, 2);
  g_assert_cmpuint (counter.last_position, ==, 0);
  g_assert_cmpuint (counter.last_removed, ==, 3);
  g_assert_cmpuint (counter.last_added, ==, 3);
  {
    g_autoptr(ConfabChannel) first = g_list_model_get_item (channels, 0);

    g_assert_cmpstr (confab_channel_get_cid (first), ==, "messaging:a");
  }

  /* A rename and a deletion. */
  emit_json (manager, "{\"type\":\"channel.updated\",\"cid\":\"messaging:b\",\"channel\":{\"cid\":\"messaging:b\","
                      "\"name\":\"Bee\",\"member_count\":4}}");
  g_assert_cmpstr (confab_channel_get_name (confab_chat_store_lookup_channel (store, "messaging:b")), ==, "Bee");
  g_assert_cmpuint (confab_channel_get_member_count (confab_chat_store_lookup_channel (store, "messaging:b")), ==, 4);
  emit_json (manager, "{\"type\":\"message.deleted\",\"cid\":\"messaging:a\",\"message\":{\"id\":\"a2\"}}");
  emit_json (manager, "{\"type\":\"message.updated\",\"cid\":\"messaging:c\",\"message\":{\"id\":\"c1\","
                      "\"text\":\"c edited\",\"user\":{\"id\":\"bob\"}}}");
  emit_json (manager, "{\"type\":\"channel.deleted\",\"cid\":\"messaging:b\"}");
  drain ();
  g_assert_cmpuint (g_list_model_get_n_items (channels), ==, 2);
  g_assert_null (confab_chat_store_lookup_channel (store, "messaging:b"));
  {
    ConfabChannel *a = confab_chat_store_lookup_channel (store, "messaging:a");
    ConfabMessage *a2 = confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (confab_channel_get_messages (a)), "a2");
    ConfabChannel *c = confab_chat_store_lookup_channel (store, "messaging:c");

    g_assert_true (confab_message_get_deleted (a2));
    g_assert_cmpstr (confab_message_get_text (a2), ==, "");
    g_assert_null (confab_channel_get_last_message_text (a));
    g_assert_cmpstr (confab_channel_get_last_message_text (c), ==, "c edited");
  }
}

/* /core/chat-model/starts-new-day ------------------------------------------------------------ */

static gint64
local_usec (int year,
            int month,
            int day,
            int hour)
{
  g_autoptr(GDateTime) time = g_date_time_new_local (year, month, day, hour, 0, 0);

  return g_date_time_to_unix (time) * G_USEC_PER_SEC;
}

static void
test_starts_new_day (void)
{
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, NULL, NULL);
  ConfabChannel *channel;

  emit_message (manager, CID, "d1", "bob", NULL, "morning", local_usec (2026, 3, 1, 9));
  emit_message (manager, CID, "d2", "bob", NULL, "night", local_usec (2026, 3, 1, 23));
  emit_message (manager, CID, "d3", "bob", NULL, "after midnight", local_usec (2026, 3, 2, 1));
  emit_message (manager, CID, "d4", "bob", NULL, "same day", local_usec (2026, 3, 2, 2));
  emit_message (manager, CID, "d5", "bob", NULL, "a year on", local_usec (2027, 3, 2, 2));
  drain ();
  channel = confab_chat_store_lookup_channel (store, CID);
  g_assert_true (confab_channel_starts_new_day (channel, 0));
  g_assert_false (confab_channel_starts_new_day (channel, 1));
  g_assert_true (confab_channel_starts_new_day (channel, 2));
  g_assert_false (confab_channel_starts_new_day (channel, 3));
  g_assert_true (confab_channel_starts_new_day (channel, 4));
  g_assert_false (confab_channel_starts_new_day (channel, 5));
}

/* The cache ---------------------------------------------------------------------------------- */

static void
write_cache (const char *dir,
             const char *owner,
             guint       n)
{
  g_autoptr(ConfabHistoryCache) cache = confab_history_cache_new (dir, NULL);
  g_autoptr(GError) error = NULL;
  ConfabCachedChannel general = { CID, "General", 3, 4, 0, FALSE };
  ConfabCachedChannel design = { "messaging:design", "Design review", 2, 0, 1, TRUE };
  const char *members[] = { "alice", "bob", "carol", NULL };

  g_assert_true (confab_history_cache_open (cache, &error));
  g_assert_no_error (error);
  confab_history_cache_set_owner (cache, owner);
  confab_history_cache_put_user (cache, "alice", "Alice Martin", 0);
  confab_history_cache_put_user (cache, "bob", "Bob Novak", 0);
  confab_history_cache_put_user (cache, "carol", "Carol Ivanova", 0);
  general.last_message_at = 1700000000000000 + n;
  confab_history_cache_put_channel (cache, &general);
  confab_history_cache_put_channel (cache, &design);
  confab_history_cache_set_members (cache, CID, members);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("cached-%06u", i);
      g_autofree char *text = g_strdup_printf ("Message number %u: a line of ordinary chat text, about as long as most.", i);
      ConfabCachedMessage message = { id, CID, i % 3 == 0 ? "alice" : i % 3 == 1 ? "bob" : "carol",
                                      text, 1700000000000000 + i, FALSE };

      confab_history_cache_put_message (cache, &message);
    }
  g_assert_true (confab_history_cache_flush (cache, &error));
  g_assert_no_error (error);
}

static gsize
heap_in_use (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return info.uordblks + info.hblkhd;
}

static void
test_cache_10000 (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = NULL;
  g_autoptr(GError) error = NULL;
  ChangeCounter channels = { 0 };
  ChangeCounter messages = { 0 };
  AddedCounter added = { 0 };
  ConfabChannel *channel;
  GListModel *model;
  gsize heap_before;
  gsize heap_after;
  gint64 start;
  guint own = 0;

  write_cache (dir, "alice", 10000);

  store = new_store (manager, dir, NULL);
  g_signal_connect (confab_chat_store_get_channels (store), "items-changed", G_CALLBACK (on_items_changed), &channels);
  g_signal_connect (store, "message-added", G_CALLBACK (on_message_added), &added);
  malloc_trim (0);
  heap_before = heap_in_use ();
  start = g_get_monotonic_time ();
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  g_test_message ("load_cache: 10000 cached messages in %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  malloc_trim (0);
  heap_after = heap_in_use ();
  if (heap_before == 0 && heap_after == 0)
    g_test_message ("heap for 10000 loaded messages: not measurable here (mallinfo2 says 0: a sanitizer build?)");
  else
    g_test_message ("heap for 10000 loaded messages: %.1f MiB (%" G_GSIZE_FORMAT " bytes per message, "
                    "SQLite page cache released)",
                    (double) (heap_after - heap_before) / (1024 * 1024), (heap_after - heap_before) / 10000);

  g_assert_cmpuint (channels.n_signals, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 2);
  g_assert_cmpuint (added.n, ==, 0);
  g_assert_cmpstr (confab_chat_store_get_own_user_id (store), ==, "alice");
  channel = confab_chat_store_lookup_channel (store, CID);
  g_assert_cmpstr (confab_channel_get_name (channel), ==, "General");
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 4);
  g_assert_true (confab_channel_get_has_more_history (channel));
  g_assert_false (confab_channel_get_has_more_history (confab_chat_store_lookup_channel (store, "messaging:design")));
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_members (channel)), ==, 3);
  model = confab_channel_get_messages (channel);
  g_signal_connect (model, "items-changed", G_CALLBACK (on_items_changed), &messages);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 10000);
  assert_sorted_unique (model);
  for (guint i = 0; i < 10000; i++)
    own += confab_message_get_is_own (message_at (model, i));
  g_assert_cmpuint (own, ==, 3334);
  g_assert_cmpstr (confab_message_get_user_name (message_at (model, 1)), ==, "Bob Novak");

  /* The same messages arriving again from the server change nothing. */
  emit_message (manager, CID, "cached-009999", "carol", "Carol Ivanova",
                "Message number 9999: a line of ordinary chat text, about as long as most.", 1700000000009999);
  drain ();
  g_assert_cmpuint (messages.n_signals, ==, 0);
  g_assert_cmpuint (added.n, ==, 0);

  g_clear_object (&store);
  rm_rf (dir);
}

static void
test_cache_persists (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, dir, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *huge = g_strnfill (50 * 1024, 'w');
  const char *odd = "<b>x</b> \x01 עברית";
  ConfabChannel *channel;
  GListModel *model;

  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  emit_message (manager, CID, "p1", "bob", "Bob Novak", huge, 1700000000000001);
  emit_message (manager, CID, "p2", "carol", "Carol Ivanova", odd, 1700000000000002);
  emit_json (manager, "{\"type\":\"channel.updated\",\"cid\":\"messaging:general\",\"channel\":{\"cid\":\"messaging:general\","
                      "\"name\":\"General\",\"member_count\":3}}");
  emit_json (manager, "{\"type\":\"message.deleted\",\"cid\":\"messaging:general\",\"message\":{\"id\":\"p1\"}}");
  drain ();
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  g_assert_no_error (error);
  g_clear_object (&store);

  store = new_store (manager, dir, NULL);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  channel = confab_chat_store_lookup_channel (store, CID);
  g_assert_nonnull (channel);
  g_assert_cmpstr (confab_channel_get_name (channel), ==, "General");
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 2);
  model = confab_channel_get_messages (channel);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 2);
  g_assert_true (confab_message_get_deleted (message_at (model, 0)));
  g_assert_cmpstr (confab_message_get_text (message_at (model, 1)), ==, odd);
  g_assert_cmpstr (confab_message_get_user_name (message_at (model, 1)), ==, "Carol Ivanova");

  g_clear_object (&store);
  rm_rf (dir);
}

static void
test_corrupt_cache (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) handle = NULL;
  guint8 junk[4096];
  const char *name;
  guint aside = 0;

  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) g_random_int_range (0, 256);
  g_assert_true (g_file_set_contents (path, (const char *) junk, sizeof junk, &error));

  store = new_store (manager, dir, NULL);
  g_assert_false (confab_chat_store_load_cache (store, &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT);
  g_clear_error (&error);
  handle = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (handle)) != NULL)
    if (g_str_has_prefix (name, CONFAB_HISTORY_CACHE_FILE_NAME ".corrupt-"))
      aside++;
  g_assert_cmpuint (aside, ==, 1);

  /* The store and the rebuilt cache work. */
  emit_message (manager, CID, "after", "bob", NULL, "after the rebuild", 1700000000000001);
  drain ();
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (confab_chat_store_lookup_channel (store, CID))), ==, 1);
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  g_clear_object (&store);
  store = new_store (manager, dir, NULL);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (confab_chat_store_lookup_channel (store, CID))), ==, 1);

  g_clear_object (&store);
  rm_rf (dir);
}

static void
test_unwritable_cache (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_autofree char *below = g_build_filename (file, "cache", NULL);
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (file, "", 0, &error));
  store = new_store (manager, below, NULL);
  g_assert_false (confab_chat_store_load_cache (store, &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE);
  g_clear_error (&error);

  emit_message (manager, CID, "m1", "bob", NULL, "in memory", 1700000000000001);
  drain ();
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (confab_chat_store_lookup_channel (store, CID))), ==, 1);
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  g_assert_no_error (error);

  g_clear_object (&store);
  rm_rf (dir);
}

/* /core/chat-model/outbox ---------------------------------------------------------------------- */

static void
record_status (ConfabMessage *message,
               GParamSpec    *pspec,
               GString       *log)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (CONFAB_TYPE_MESSAGE_STATUS);

  g_string_append_printf (log, "%s ", g_enum_get_value (klass, confab_message_get_status (message))->value_nick);
}

static void
test_outbox (void)
{
  g_autofree char *cache_dir = make_dir ();
  g_autofree char *outbox_dir = make_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (outbox_dir, &error);
  g_autoptr(ConfabConnectionManager) manager = new_manager (outbox);
  g_autoptr(ConfabChatStore) store = new_store (manager, cache_dir, NULL);
  g_autoptr(GString) log = g_string_new (NULL);
  g_autoptr(GError) refused = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_REJECTED, "refused");
  g_autofree char *kept_id = NULL;
  ChangeCounter counter = { 0 };
  ConfabMessage *message;
  ConfabMessage *kept;
  ConfabChannel *channel;
  GListModel *model;

  g_assert_no_error (error);
  write_cache (cache_dir, "alice", 3);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  channel = confab_chat_store_lookup_channel (store, CID);
  model = confab_channel_get_messages (channel);
  g_signal_connect (model, "items-changed", G_CALLBACK (on_items_changed), &counter);

  /* Offline: in the model at once, queued, ours. */
  message = confab_chat_store_send_text (store, CID, "composed offline", &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpuint (counter.n_signals, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 4);
  g_assert_true (message_at (model, 3) == message);
  g_assert_cmpint (confab_message_get_status (message), ==, CONFAB_MESSAGE_STATUS_QUEUED);
  g_assert_true (confab_message_get_is_own (message));
  g_assert_cmpstr (confab_message_get_user_id (message), ==, "alice");
  g_assert_cmpstr (confab_channel_get_last_message_text (channel), ==, "composed offline");

  /* Refused → FAILED with its error; Retry → QUEUED; Discard → gone. */
  g_signal_connect (message, "notify::status", G_CALLBACK (record_status), log);
  confab_outbox_mark_sending (outbox, confab_outbox_lookup (outbox, confab_message_get_id (message)));
  confab_outbox_mark_failed (outbox, confab_outbox_lookup (outbox, confab_message_get_id (message)), refused);
  g_assert_cmpint (confab_message_get_status (message), ==, CONFAB_MESSAGE_STATUS_FAILED);
  g_assert_error ((GError *) confab_message_get_last_error (message), CONFAB_ERROR, CONFAB_ERROR_REJECTED);
  confab_chat_store_retry (store, message);
  g_assert_cmpint (confab_message_get_status (message), ==, CONFAB_MESSAGE_STATUS_QUEUED);
  g_assert_null (confab_message_get_last_error (message));
  g_assert_cmpstr (log->str, ==, "sending failed queued ");
  confab_chat_store_discard (store, message);
  drain ();
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 3);
  g_assert_cmpuint (counter.n_signals, ==, 2);

  /* Bad input from the user: a clear error, nothing queued. */
  g_assert_null (confab_chat_store_send_text (store, CID, "", &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED);
  g_clear_error (&error);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 3);

  /* One more, kept over a restart. */
  kept = confab_chat_store_send_text (store, CID, "kept over a restart", &error);
  g_assert_no_error (error);
  kept_id = g_strdup (confab_message_get_id (kept));
  g_clear_object (&store);
  g_clear_object (&manager);
  g_clear_object (&outbox);

  outbox = confab_outbox_new (outbox_dir, &error);
  g_assert_no_error (error);
  manager = new_manager (outbox);
  store = new_store (manager, cache_dir, NULL);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  model = confab_channel_get_messages (confab_chat_store_lookup_channel (store, CID));
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 4);
  kept = confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), kept_id);
  g_assert_nonnull (kept);
  g_assert_cmpint (confab_message_get_status (kept), ==, CONFAB_MESSAGE_STATUS_QUEUED);
  g_assert_cmpstr (confab_message_get_text (kept), ==, "kept over a restart");

  /* The server's copy (same id) merges into it: one message, sent, not announced. */
  {
    AddedCounter added = { 0 };

    g_signal_connect (store, "message-added", G_CALLBACK (on_message_added), &added);
    emit_message (manager, CID, kept_id, "alice", "Alice Martin", "kept over a restart", 1800000000000000);
    drain ();
    g_assert_cmpuint (added.n, ==, 0);
  }
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 4);
  g_assert_cmpint (confab_message_get_status (kept), ==, CONFAB_MESSAGE_STATUS_SENT);
  g_assert_cmpint (confab_message_get_created_at (kept), ==, 1800000000000000);
  assert_sorted_unique (model);

  g_clear_object (&store);
  rm_rf (cache_dir);
  rm_rf (outbox_dir);
}

/* /core/chat-model/outbox-before-cache ---------------------------------------------------------- */

static void
ignore_connect (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  gboolean *done = user_data;

  confab_connection_manager_connect_finish (CONFAB_CONNECTION_MANAGER (source), result, NULL);
  *done = TRUE;
}

static void
test_outbox_before_cache (void)
{
  g_autofree char *cache_dir = make_dir ();
  g_autofree char *outbox_dir = make_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (outbox_dir, &error);
  g_autoptr(ConfabConnectionManager) manager = new_manager (outbox);
  g_autoptr(ConfabChatStore) store = NULL;
  ChangeCounter counter = { 0 };
  ConfabChannel *channel;
  GListModel *model;
  gboolean done = FALSE;

  g_assert_no_error (error);
  write_cache (cache_dir, "alice", 3);
  g_assert_nonnull (confab_outbox_enqueue (outbox, CID, "left from last time", &error));
  g_assert_no_error (error);

  /* Signing in (to nowhere) names the user before the store exists: the outbox's
   * message gets a channel of its own first, which the cache then fills in. */
  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, ignore_connect, &done);
  store = new_store (manager, cache_dir, NULL);
  channel = confab_chat_store_lookup_channel (store, CID);
  g_assert_nonnull (channel);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_messages (channel)), ==, 1);
  g_assert_cmpstr (confab_channel_get_name (channel), ==, "general");
  g_signal_connect (confab_channel_get_messages (channel), "items-changed", G_CALLBACK (on_items_changed), &counter);

  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  /* The cached history joins the queued message in one change. */
  g_assert_cmpuint (counter.n_signals, ==, 1);
  g_assert_cmpuint (counter.last_position, ==, 0);
  g_assert_cmpuint (counter.last_added, ==, 3);
  g_assert_true (confab_chat_store_lookup_channel (store, CID) == channel);
  g_assert_cmpstr (confab_channel_get_name (channel), ==, "General");
  g_assert_cmpuint (confab_channel_get_unread_count (channel), ==, 4);
  g_assert_cmpuint (confab_channel_get_member_count (channel), ==, 3);
  g_assert_cmpuint (g_list_model_get_n_items (confab_channel_get_members (channel)), ==, 3);
  model = confab_channel_get_messages (channel);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 4);
  g_assert_cmpint (confab_message_get_status (message_at (model, 3)), ==, CONFAB_MESSAGE_STATUS_QUEUED);
  g_assert_true (confab_message_get_is_own (message_at (model, 3)));
  assert_sorted_unique (model);

  confab_connection_manager_disconnect (manager);
  g_assert_true (wait_flag (&done));
  g_clear_object (&store);
  rm_rf (cache_dir);
  rm_rf (outbox_dir);
}

/* /core/chat-model/another-user ---------------------------------------------------------------- */

static void
test_another_user (void)
{
  g_autofree char *cache_dir = make_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabConnectionManager) manager = new_manager (NULL);
  g_autoptr(ConfabChatStore) store = new_store (manager, cache_dir, NULL);
  ChangeCounter channels = { 0 };
  gboolean done = FALSE;

  write_cache (cache_dir, "alice", 3);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_cmpstr (confab_chat_store_get_own_user_id (store), ==, "alice");
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 2);
  g_signal_connect (confab_chat_store_get_channels (store), "items-changed", G_CALLBACK (on_items_changed), &channels);

  /* bob signs in on this machine: nothing of alice's may show, or stay cached. */
  confab_connection_manager_connect_async (manager, "bob", NULL, NULL, ignore_connect, &done);
  g_assert_cmpstr (confab_chat_store_get_own_user_id (store), ==, "bob");
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 0);
  g_assert_cmpuint (channels.n_signals, ==, 1);
  g_assert_null (confab_chat_store_lookup_channel (store, CID));
  g_assert_true (confab_chat_store_flush_cache (store, &error));
  confab_connection_manager_disconnect (manager);
  g_assert_true (wait_flag (&done));
  g_clear_object (&store);

  store = new_store (manager, cache_dir, NULL);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_cmpstr (confab_chat_store_get_own_user_id (store), ==, "bob");
  g_assert_cmpuint (g_list_model_get_n_items (confab_chat_store_get_channels (store)), ==, 0);

  g_clear_object (&store);
  rm_rf (cache_dir);
}

/* /core/chat-model/message-storage ----------------------------------------------------------- */

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              guint      *counter)
{
  (*counter)++;
}

/* The id and the first text share one block; an edit or a deletion goes aside, and the
 * id's address never changes (callers and the models' id sets rely on it). */
static void
test_message_storage (void)
{
  g_autoptr(ConfabChatUser) user = _confab_chat_user_new ("bob");
  char *cid = g_ref_string_new (CID);
  g_autoptr(ConfabMessage) message = _confab_message_new ("m-1", cid, user, "first", 1, CONFAB_MESSAGE_STATUS_SENT,
                                                          FALSE, FALSE);
  g_autoptr(ConfabMessage) empty = _confab_message_new ("m-2", cid, user, "", 2, CONFAB_MESSAGE_STATUS_SENT,
                                                        FALSE, FALSE);
  g_autoptr(ConfabMessage) gone = _confab_message_new ("m-3", cid, user, "secret", 3, CONFAB_MESSAGE_STATUS_SENT,
                                                       FALSE, TRUE);
  g_autoptr(GHashTable) set = _confab_message_id_set_new ();
  g_autoptr(GError) refused = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_REJECTED, "refused");
  const char *id = confab_message_get_id (message);
  g_autofree char *property_text = NULL;
  guint text_notifies = 0;

  g_ref_string_release (cid);
  g_signal_connect (message, "notify::text", G_CALLBACK (count_notify), &text_notifies);

  g_assert_cmpstr (confab_message_get_text (message), ==, "first");
  g_assert_cmpstr (_confab_message_get_raw_text (message), ==, "first");
  g_assert_cmpstr (confab_message_get_text (empty), ==, "");
  g_assert_null (_confab_message_get_raw_text (empty));
  g_assert_cmpstr (confab_message_get_text (gone), ==, "");
  g_assert_true (confab_message_get_deleted (gone));

  _confab_message_set_text (message, "first");
  g_assert_cmpuint (text_notifies, ==, 0);
  _confab_message_set_text (message, "edited");
  g_assert_cmpuint (text_notifies, ==, 1);
  g_assert_cmpstr (confab_message_get_text (message), ==, "edited");
  g_object_get (message, "text", &property_text, NULL);
  g_assert_cmpstr (property_text, ==, "edited");
  _confab_message_set_text (message, "edited again");
  g_assert_cmpstr (confab_message_get_text (message), ==, "edited again");
  _confab_message_set_deleted (message, TRUE);
  g_assert_cmpstr (confab_message_get_text (message), ==, "");
  g_assert_null (_confab_message_get_raw_text (message));
  g_assert_cmpuint (text_notifies, ==, 3);
  g_assert_true (confab_message_get_id (message) == id);
  g_assert_cmpstr (id, ==, "m-1");

  _confab_message_set_last_error (message, refused);
  g_assert_error ((GError *) confab_message_get_last_error (message), CONFAB_ERROR, CONFAB_ERROR_REJECTED);
  _confab_message_set_last_error (message, NULL);
  g_assert_null (confab_message_get_last_error (message));

  /* Sets by id. */
  g_assert_true (g_hash_table_add (set, message));
  g_assert_true (g_hash_table_add (set, empty));
  g_assert_false (g_hash_table_add (set, message));
  g_assert_true (_confab_message_id_set_lookup (set, "m-1") == message);
  g_assert_true (_confab_message_id_set_lookup (set, "m-2") == empty);
  g_assert_null (_confab_message_id_set_lookup (set, "m-3"));
  g_assert_true (g_hash_table_remove (set, message));
  g_assert_null (_confab_message_id_set_lookup (set, "m-1"));
}

/* /core/chat-model/dispose-frees-everything ------------------------------------------------ */

static void
add_weak (gpointer *slot,
          gpointer  object)
{
  *slot = object;
  g_object_add_weak_pointer (object, slot);
}

/* Dropping the store frees every channel, message, user and model it made, and leaves no
 * timer behind, whatever was in progress (live messages, typing both ways, an unsent
 * message with an error, an edit). Under AddressSanitizer the leak check says the rest. */
static void
test_dispose_frees_everything (void)
{
  g_autofree char *cache_dir = make_dir ();
  g_autofree char *outbox_dir = make_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (outbox_dir, &error);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000000);
  g_autoptr(ConfabConnectionManager) manager = new_manager (outbox);
  g_autoptr(GError) refused = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_REJECTED, "refused");
  ConfabChatStore *store = new_store (manager, cache_dir, CONFAB_CLOCK (clock));
  gpointer weak[10] = { NULL };
  ConfabChannel *channel;
  GListModel *model;
  ConfabMessage *own;

  g_assert_no_error (error);
  write_cache (cache_dir, "alice", 1000);
  g_assert_true (confab_chat_store_load_cache (store, &error));
  g_assert_no_error (error);
  channel = confab_chat_store_lookup_channel (store, CID);
  model = confab_channel_get_messages (channel);

  emit_message (manager, CID, "live-1", "bob", "Bob Novak", "hello", 1800000000000000);
  emit_json (manager, "{\"type\":\"message.updated\",\"cid\":\"messaging:general\",\"message\":{\"id\":\"cached-000001\","
                      "\"text\":\"edited\",\"user\":{\"id\":\"bob\"},\"created_at\":\"2023-11-14T22:13:20.000001Z\"}}");
  drain ();
  emit_typing (manager, "typing.start", "bob", "Bob Novak");
  confab_chat_store_notify_typing (store, CID);
  own = confab_chat_store_send_text (store, CID, "unsent", &error);
  g_assert_no_error (error);
  confab_outbox_mark_sending (outbox, confab_outbox_lookup (outbox, confab_message_get_id (own)));
  confab_outbox_mark_failed (outbox, confab_outbox_lookup (outbox, confab_message_get_id (own)), refused);
  g_assert_nonnull (confab_message_get_last_error (own));
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 1002);
  g_assert_cmpstr (confab_message_get_text (confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model),
                                                                             "cached-000001")), ==, "edited");
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), >=, 2);

  add_weak (&weak[0], store);
  add_weak (&weak[1], confab_chat_store_get_channels (store));
  add_weak (&weak[2], channel);
  add_weak (&weak[3], model);
  add_weak (&weak[4], confab_channel_get_members (channel));
  add_weak (&weak[5], message_at (model, 0));
  add_weak (&weak[6], confab_chat_message_list_lookup (CONFAB_CHAT_MESSAGE_LIST (model), "live-1"));
  add_weak (&weak[7], own);
  add_weak (&weak[8], confab_chat_store_lookup_user (store, "bob"));
  add_weak (&weak[9], confab_chat_store_get_users (store));

  g_object_unref (store);
  for (guint i = 0; i < G_N_ELEMENTS (weak); i++)
    {
      if (weak[i] != NULL)
        g_test_message ("object %u (%s) is still alive", i, G_OBJECT_TYPE_NAME (weak[i]));
      g_assert_null (weak[i]);
    }
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);

  rm_rf (cache_dir);
  rm_rf (outbox_dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/chat-model/message-list", test_message_list);
  g_test_add_func ("/core/chat-model/burst", test_burst);
  g_test_add_func ("/core/chat-model/bad-input", test_bad_input);
  g_test_add_func ("/core/chat-model/typing", test_typing);
  g_test_add_func ("/core/chat-model/presence-and-unread", test_presence_and_unread);
  g_test_add_func ("/core/chat-model/channel-order", test_channel_order);
  g_test_add_func ("/core/chat-model/starts-new-day", test_starts_new_day);
  g_test_add_func ("/core/chat-model/cache-10000", test_cache_10000);
  g_test_add_func ("/core/chat-model/cache-persists", test_cache_persists);
  g_test_add_func ("/core/chat-model/corrupt-cache", test_corrupt_cache);
  g_test_add_func ("/core/chat-model/unwritable-cache", test_unwritable_cache);
  g_test_add_func ("/core/chat-model/outbox", test_outbox);
  g_test_add_func ("/core/chat-model/outbox-before-cache", test_outbox_before_cache);
  g_test_add_func ("/core/chat-model/another-user", test_another_user);
  g_test_add_func ("/core/chat-model/message-storage", test_message_storage);
  g_test_add_func ("/core/chat-model/dispose-frees-everything", test_dispose_frees_everything);

  return g_test_run ();
}
