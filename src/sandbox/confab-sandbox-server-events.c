/* confab-sandbox-server-events.c: building events and channel state, and fanning out
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sandbox-server-private.h"

JsonArray *
_confab_sandbox_array_from_objects (GPtrArray *objects)
{
  JsonArray *array = json_array_sized_new (objects != NULL ? objects->len : 0);

  for (guint i = 0; objects != NULL && i < objects->len; i++)
    json_array_add_object_element (array, json_object_ref (g_ptr_array_index (objects, i)));
  return array;
}

JsonObject *
_confab_sandbox_event_new (const char *type)
{
  JsonObject *event = json_object_new ();
  g_autofree char *now = confab_sandbox_format_time (g_get_real_time ());

  json_object_set_string_member (event, "type", type);
  json_object_set_string_member (event, "created_at", now);
  return event;
}

void
_confab_sandbox_server_set_online (ConfabSandboxServer *self,
                                   JsonObject          *user)
{
  const char *id = json_object_get_string_member_with_default (user, "id", NULL);

  json_object_set_boolean_member (user, "online", confab_sandbox_hub_is_online (self->hub, id));
}

JsonObject *
_confab_sandbox_channel_event_new (ConfabSandboxServer *self,
                                   const char          *type,
                                   const char          *cid,
                                   const char          *user_id)
{
  JsonObject *event = _confab_sandbox_event_new (type);
  const char *colon = strchr (cid, ':');

  json_object_set_string_member (event, "cid", cid);
  if (colon != NULL)
    {
      g_autofree char *channel_type = g_strndup (cid, colon - cid);

      json_object_set_string_member (event, "channel_type", channel_type);
      json_object_set_string_member (event, "channel_id", colon + 1);
    }

  if (user_id != NULL)
    {
      g_autoptr(JsonObject) user = confab_sandbox_store_get_user (self->store, user_id, NULL);

      if (user != NULL)
        {
          _confab_sandbox_server_set_online (self, user);
          json_object_set_object_member (event, "user", g_steal_pointer (&user));
        }
    }
  return event;
}

void
_confab_sandbox_server_add_unread (ConfabSandboxServer *self,
                                   JsonObject          *event,
                                   const char          *cid,
                                   const char          *user_id)
{
  guint total = 0;
  guint channels = 0;

  confab_sandbox_store_unread_totals (self->store, user_id, &total, &channels);
  if (cid != NULL)
    json_object_set_int_member (event, "unread_count",
                                confab_sandbox_store_unread_count (self->store, cid, user_id));
  json_object_set_int_member (event, "total_unread_count", total);
  json_object_set_int_member (event, "unread_channels", channels);
}

static void
personalize_unread (JsonObject *event,
                    const char *recipient_id,
                    gpointer    user_data)
{
  ConfabSandboxServer *self = user_data;

  _confab_sandbox_server_add_unread (self, event,
                                     json_object_get_string_member_with_default (event, "cid", NULL),
                                     recipient_id);
}

void
_confab_sandbox_server_webhook (ConfabSandboxServer *self,
                                JsonObject          *event)
{
  if (self->webhooks != NULL)
    confab_sandbox_webhooks_enqueue (self->webhooks, event);
}

/* Send a channel event to every connection watching @cid, and to the webhook. */
void
_confab_sandbox_server_publish (ConfabSandboxServer *self,
                                const char          *cid,
                                JsonObject          *event,
                                gboolean             personal_unread)
{
  g_auto(GStrv) watchers = confab_sandbox_hub_dup_watchers (self->hub, cid);

  json_object_set_int_member (event, "watcher_count", g_strv_length (watchers));
  confab_sandbox_hub_send_to_watchers (self->hub, cid, event,
                                       personal_unread ? personalize_unread : NULL, self);
  _confab_sandbox_server_webhook (self, event);
}

/* The OwnUser of the first health.check (stream-chat-protocol.md §1.4). */
JsonObject *
_confab_sandbox_server_me (ConfabSandboxServer *self,
                           JsonObject          *user)
{
  JsonObject *me = json_object_ref (user);
  JsonObject *privacy = json_object_new ();
  JsonObject *enabled = NULL;
  const char *user_id = json_object_get_string_member (user, "id");

  json_object_set_array_member (me, "devices", json_array_new ());
  json_object_set_array_member (me, "mutes", json_array_new ());
  json_object_set_array_member (me, "channel_mutes", json_array_new ());
  json_object_set_array_member (me, "blocked_user_ids", json_array_new ());
  json_object_set_boolean_member (me, "invisible", FALSE);
  json_object_set_boolean_member (me, "online", TRUE);
  json_object_set_int_member (me, "unread_threads", 0);
  _confab_sandbox_server_add_unread (self, me, NULL, user_id);
  /* OwnUser.unread_count is the user's total, as on Stream. */
  json_object_set_int_member (me, "unread_count",
                              json_object_get_int_member_with_default (me, "total_unread_count", 0));
  if (!json_object_has_member (me, "last_active"))
    {
      g_autofree char *now = confab_sandbox_format_time (g_get_real_time ());

      json_object_set_string_member (me, "last_active", now);
    }

  enabled = json_object_new ();
  json_object_set_boolean_member (enabled, "enabled", TRUE);
  json_object_set_object_member (privacy, "typing_indicators", json_object_ref (enabled));
  json_object_set_object_member (privacy, "read_receipts", json_object_ref (enabled));
  json_object_set_object_member (privacy, "delivery_receipts", enabled);
  json_object_set_object_member (me, "privacy_settings", privacy);

  return me;
}

void
_confab_sandbox_server_set_nested_online (ConfabSandboxServer *self,
                                          JsonObject          *object,
                                          const char          *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    _confab_sandbox_server_set_online (self, json_node_get_object (node));
}

static JsonObject *
find_member (GPtrArray  *members,
             const char *user_id)
{
  for (guint i = 0; user_id != NULL && i < members->len; i++)
    {
      JsonObject *member = g_ptr_array_index (members, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (member, "user_id", NULL), user_id) == 0)
        return member;
    }
  return NULL;
}

/* Stream's ChannelState: {channel, messages, pinned_messages, members, membership, read,
 * watcher_count, watchers, threads, hidden}. */
JsonObject *
_confab_sandbox_server_channel_state (ConfabSandboxServer     *self,
                                      const char              *cid,
                                      const char              *user_id,
                                      const ConfabSandboxPage *page,
                                      guint                    member_limit,
                                      GError                 **error)
{
  g_autoptr(JsonObject) state = json_object_new ();
  g_autoptr(JsonObject) channel = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GPtrArray) reads = NULL;
  g_auto(GStrv) watchers = NULL;
  JsonArray *member_array;
  JsonArray *watcher_array;
  JsonObject *membership;

  channel = confab_sandbox_store_get_channel (self->store, cid, error);
  if (channel == NULL)
    return NULL;
  messages = confab_sandbox_store_list_messages (self->store, cid, page, error);
  if (messages == NULL)
    return NULL;
  members = confab_sandbox_store_list_members (self->store, cid, error);
  if (members == NULL)
    return NULL;
  reads = confab_sandbox_store_list_reads (self->store, cid, error);
  if (reads == NULL)
    return NULL;

  /* Every embedded user says whether they are online now, not when they were stored. */
  _confab_sandbox_server_set_nested_online (self, channel, "created_by");
  for (guint i = 0; i < messages->len; i++)
    _confab_sandbox_server_set_nested_online (self, g_ptr_array_index (messages, i), "user");
  for (guint i = 0; i < reads->len; i++)
    _confab_sandbox_server_set_nested_online (self, g_ptr_array_index (reads, i), "user");

  member_array = json_array_new ();
  for (guint i = 0; i < members->len && (member_limit == 0 || i < member_limit); i++)
    {
      JsonObject *member = g_ptr_array_index (members, i);
      JsonObject *user = json_object_get_object_member (member, "user");

      if (user != NULL)
        _confab_sandbox_server_set_online (self, user);
      json_array_add_object_element (member_array, json_object_ref (member));
    }

  watchers = confab_sandbox_hub_dup_watchers (self->hub, cid);
  watcher_array = json_array_new ();
  for (guint i = 0; watchers[i] != NULL; i++)
    {
      JsonObject *user = confab_sandbox_store_get_user (self->store, watchers[i], NULL);

      if (user == NULL)
        continue;
      json_object_set_boolean_member (user, "online", TRUE);
      json_array_add_object_element (watcher_array, user);
    }

  json_object_set_object_member (state, "channel", g_steal_pointer (&channel));
  json_object_set_array_member (state, "messages", _confab_sandbox_array_from_objects (messages));
  json_object_set_array_member (state, "pinned_messages", json_array_new ());
  json_object_set_array_member (state, "members", member_array);
  membership = find_member (members, user_id);
  if (membership != NULL)
    json_object_set_object_member (state, "membership", json_object_ref (membership));
  json_object_set_array_member (state, "read", _confab_sandbox_array_from_objects (reads));
  json_object_set_int_member (state, "watcher_count", g_strv_length (watchers));
  json_object_set_array_member (state, "watchers", watcher_array);
  json_object_set_array_member (state, "threads", json_array_new ());
  json_object_set_boolean_member (state, "hidden", FALSE);

  return g_steal_pointer (&state);
}
