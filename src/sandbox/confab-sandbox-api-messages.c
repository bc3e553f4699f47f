/* confab-sandbox-api-messages.c: message routes (send, get, update, delete)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sandbox-server-private.h"

static JsonObject *
wrap_message (JsonObject *message)
{
  JsonObject *result = json_object_new ();

  json_object_set_object_member (result, "message", message);
  return result;
}

static void
set_channel_counts (ConfabSandboxServer *self,
                    JsonObject          *event,
                    const char          *cid)
{
  g_autoptr(JsonObject) channel = confab_sandbox_store_get_channel (self->store, cid, NULL);

  if (channel == NULL)
    return;
  json_object_set_int_member (event, "channel_member_count",
                              json_object_get_int_member_with_default (channel, "member_count", 0));
  json_object_set_int_member (event, "channel_message_count",
                              json_object_get_int_member_with_default (channel, "message_count", 0));
  if (json_object_has_member (channel, "last_message_at"))
    json_object_set_string_member (event, "channel_last_message_at",
                                   json_object_get_string_member (channel, "last_message_at"));
}

/* Members who are not watching the channel learn of the message through their own
 * connections, with the channel attached (stream-chat-protocol.md §7). */
static void
notify_absent_members (ConfabSandboxServer *self,
                       const char          *cid,
                       const char          *sender,
                       JsonObject          *message)
{
  g_auto(GStrv) members = confab_sandbox_store_member_ids (self->store, cid, NULL);
  g_autoptr(JsonObject) channel = NULL;

  for (guint i = 0; members != NULL && members[i] != NULL; i++)
    {
      g_autoptr(JsonObject) event = NULL;

      if (g_str_equal (members[i], sender) ||
          !confab_sandbox_hub_is_online (self->hub, members[i]) ||
          confab_sandbox_hub_is_watched_by_user (self->hub, cid, members[i]))
        continue;

      if (channel == NULL)
        channel = confab_sandbox_store_get_channel (self->store, cid, NULL);
      if (channel == NULL)
        return;

      event = _confab_sandbox_channel_event_new (self, "notification.message_new", cid, NULL);
      json_object_set_object_member (event, "channel", json_object_ref (channel));
      json_object_set_object_member (event, "message", json_object_ref (message));
      json_object_set_string_member (event, "message_id", json_object_get_string_member (message, "id"));
      _confab_sandbox_server_add_unread (self, event, cid, members[i]);
      confab_sandbox_hub_send_to_user (self->hub, members[i], event);
    }
}

JsonObject *
_confab_sandbox_api_send_message (ConfabSandboxRequest *request,
                                  GError              **error)
{
  ConfabSandboxServer *self = request->server;
  g_autofree char *cid = g_strdup_printf ("%s:%s", request->params[0], request->params[1]);
  g_autoptr(JsonObject) input = NULL;
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) own_read = NULL;
  JsonObject *body_message = NULL;
  const char *user_id;
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  if (!confab_sandbox_json_get_object (request->body, "message", TRUE, &body_message, error))
    return NULL;
  user_id = _confab_sandbox_request_acting_user (request, body_message, error);
  if (user_id == NULL)
    return NULL;

  if (!request->server_auth && !confab_sandbox_store_is_member (self->store, cid, user_id))
    {
      g_autoptr(JsonObject) channel = confab_sandbox_store_get_channel (self->store, cid, error);

      if (channel == NULL)
        return NULL;
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED,
                   "User '%s' with role 'user' is not allowed to perform action CreateMessage in scope '%s'",
                   user_id, cid);
      return NULL;
    }

  /* The author is the caller, never what the body claims. */
  input = json_object_new ();
  json_object_iter_init (&iter, body_message);
  while (json_object_iter_next (&iter, &name, &node))
    if (!g_str_equal (name, "user") && !g_str_equal (name, "user_id"))
      json_object_set_member (input, name, json_node_copy (node));

  message = confab_sandbox_store_insert_message (self->store, cid, user_id, input, error);
  if (message == NULL)
    return NULL;

  _confab_sandbox_server_set_nested_online (self, message, "user");

  /* Sending counts as reading, as on Stream. */
  own_read = confab_sandbox_store_mark_read (self->store, cid, user_id,
                                             json_object_get_string_member (message, "id"), NULL);

  event = _confab_sandbox_channel_event_new (self, "message.new", cid, user_id);
  json_object_set_string_member (event, "message_id", json_object_get_string_member (message, "id"));
  json_object_set_object_member (event, "message", json_object_ref (message));
  set_channel_counts (self, event, cid);
  _confab_sandbox_server_publish (self, cid, event, TRUE);
  notify_absent_members (self, cid, user_id, message);

  return wrap_message (g_steal_pointer (&message));
}

static JsonObject *
load_visible_message (ConfabSandboxRequest *request,
                      const char           *action,
                      gboolean              must_own,
                      GError              **error)
{
  g_autoptr(JsonObject) message = NULL;
  JsonObject *author;
  const char *cid;

  message = confab_sandbox_store_get_message (request->server->store, request->params[0], error);
  if (message == NULL)
    return NULL;
  if (request->server_auth)
    return g_steal_pointer (&message);

  cid = json_object_get_string_member_with_default (message, "cid", "");
  author = json_object_get_object_member (message, "user");
  if (!confab_sandbox_store_is_member (request->server->store, cid, request->user_id) ||
      (must_own && (author == NULL ||
                    g_strcmp0 (json_object_get_string_member_with_default (author, "id", NULL),
                               request->user_id) != 0)))
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED,
                   "User '%s' with role 'user' is not allowed to perform action %s in scope '%s'",
                   request->user_id, action, cid);
      return NULL;
    }
  return g_steal_pointer (&message);
}

static void
publish_message_event (ConfabSandboxServer *self,
                       const char          *type,
                       JsonObject          *message,
                       const char          *user_id,
                       gboolean             hard)
{
  const char *cid = json_object_get_string_member_with_default (message, "cid", NULL);
  g_autoptr(JsonObject) event = NULL;

  if (cid == NULL)
    return;
  event = _confab_sandbox_channel_event_new (self, type, cid, user_id);
  json_object_set_string_member (event, "message_id", json_object_get_string_member (message, "id"));
  json_object_set_object_member (event, "message", json_object_ref (message));
  if (hard)
    json_object_set_boolean_member (event, "hard_delete", TRUE);
  _confab_sandbox_server_publish (self, cid, event, FALSE);
}

JsonObject *
_confab_sandbox_api_get_message (ConfabSandboxRequest *request,
                                 GError              **error)
{
  JsonObject *message = load_visible_message (request, "ReadChannel", FALSE, error);

  return message != NULL ? wrap_message (message) : NULL;
}

JsonObject *
_confab_sandbox_api_update_message (ConfabSandboxRequest *request,
                                    GError              **error)
{
  g_autoptr(JsonObject) current = NULL;
  g_autoptr(JsonObject) updated = NULL;
  JsonObject *input = NULL;

  if (!confab_sandbox_json_get_object (request->body, "message", TRUE, &input, error))
    return NULL;
  current = load_visible_message (request, "UpdateMessage", TRUE, error);
  if (current == NULL)
    return NULL;

  updated = confab_sandbox_store_update_message (request->server->store, request->params[0], input, error);
  if (updated == NULL)
    return NULL;

  publish_message_event (request->server, "message.updated", updated, request->user_id, FALSE);
  return wrap_message (g_steal_pointer (&updated));
}

JsonObject *
_confab_sandbox_api_delete_message (ConfabSandboxRequest *request,
                                    GError              **error)
{
  g_autoptr(JsonObject) current = NULL;
  g_autoptr(JsonObject) deleted = NULL;
  gboolean hard = g_strcmp0 (_confab_sandbox_request_query (request, "hard"), "true") == 0;

  current = load_visible_message (request, "DeleteMessage", TRUE, error);
  if (current == NULL)
    return NULL;

  deleted = confab_sandbox_store_delete_message (request->server->store, request->params[0], hard, error);
  if (deleted == NULL)
    return NULL;

  publish_message_event (request->server, "message.deleted", deleted, request->user_id, hard);
  return wrap_message (g_steal_pointer (&deleted));
}
