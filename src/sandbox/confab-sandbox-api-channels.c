/* confab-sandbox-api-channels.c: channel routes (query, watch, events, read state)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sandbox-server-private.h"

#define DEFAULT_CHANNEL_LIMIT 10
#define MAX_CHANNEL_LIMIT 30
#define DEFAULT_MESSAGE_LIMIT_IN_LIST 25
#define DEFAULT_MEMBER_LIMIT 100

static char *
make_cid (ConfabSandboxRequest *request)
{
  return g_strdup_printf ("%s:%s", request->params[0], request->params[1]);
}

/* Messaging channels are private to their members (Stream's default permissions). */
static gboolean
check_member (ConfabSandboxRequest *request,
              const char           *cid,
              const char           *action,
              GError              **error)
{
  if (request->server_auth)
    return TRUE;
  if (confab_sandbox_store_is_member (request->server->store, cid, request->user_id))
    return TRUE;

  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED,
               "User '%s' with role 'user' is not allowed to perform action %s in scope '%s'",
               request->user_id, action, cid);
  return FALSE;
}

static gboolean
parse_page (JsonObject        *object,
            ConfabSandboxPage *page,
            guint              default_limit,
            GError           **error)
{
  JsonObject *messages = NULL;
  gint64 limit = default_limit;

  memset (page, 0, sizeof *page);
  page->limit = default_limit;

  if (!confab_sandbox_json_get_object (object, "messages", FALSE, &messages, error))
    return FALSE;
  if (messages == NULL)
    return TRUE;

  if (!confab_sandbox_json_get_int (messages, "limit", default_limit, &limit, error) ||
      !confab_sandbox_json_get_string (messages, "id_lt", FALSE, &page->id_lt, error) ||
      !confab_sandbox_json_get_string (messages, "id_gt", FALSE, &page->id_gt, error) ||
      !confab_sandbox_json_get_string (messages, "id_lte", FALSE, &page->id_lte, error) ||
      !confab_sandbox_json_get_string (messages, "id_gte", FALSE, &page->id_gte, error) ||
      !confab_sandbox_json_get_string (messages, "id_around", FALSE, &page->id_around, error))
    return FALSE;

  if (limit < 0 || limit > 300)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: messages.limit must be between 0 and 300");
      return FALSE;
    }
  page->limit = limit;
  return TRUE;
}

static void
start_watching (ConfabSandboxRequest *request,
                const char           *cid)
{
  g_autoptr(JsonObject) event = NULL;

  if (request->connection == NULL ||
      !confab_sandbox_connection_watch (request->connection, cid))
    return;

  event = _confab_sandbox_channel_event_new (request->server, "user.watching.start", cid,
                                             confab_sandbox_connection_get_user_id (request->connection));
  _confab_sandbox_server_publish (request->server, cid, event, FALSE);
}

static void
subscribe_member_presence (ConfabSandboxRequest *request,
                           const char           *cid)
{
  g_auto(GStrv) ids = NULL;

  if (request->connection == NULL)
    return;
  ids = confab_sandbox_store_member_ids (request->server->store, cid, NULL);
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    confab_sandbox_connection_subscribe_presence (request->connection, ids[i]);
}

/* Filters -------------------------------------------------------------------------- */

/* `"x"`, `{"$eq":"x"}` or `{"$in":["x","y"]}` as a string vector. */
static char **
filter_values (JsonObject  *filter,
               const char  *field,
               GError     **error)
{
  JsonNode *node = json_object_get_member (filter, field);
  JsonObject *ops;

  if (node == NULL)
    return NULL;
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      char *values[] = { (char *) json_node_get_string (node), NULL };
      return g_strdupv (values);
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      ops = json_node_get_object (node);
      if (json_object_get_size (ops) == 1 && json_object_has_member (ops, "$in"))
        return confab_sandbox_json_get_strv (ops, "$in", error);
      if (json_object_get_size (ops) == 1 && json_object_has_member (ops, "$eq"))
        {
          const char *value = NULL;

          if (!confab_sandbox_json_get_string (ops, "$eq", TRUE, &value, error))
            return NULL;
          {
            char *values[] = { (char *) value, NULL };
            return g_strdupv (values);
          }
        }
    }

  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
               "invalid request: filter on %s must be a string, $eq or $in", field);
  return NULL;
}

static gint
compare_by_activity (gconstpointer a,
                     gconstpointer b)
{
  JsonObject *ca = *(JsonObject **) a;
  JsonObject *cb = *(JsonObject **) b;
  const char *la = json_object_get_string_member_with_default (ca, "last_message_at", "");
  const char *lb = json_object_get_string_member_with_default (cb, "last_message_at", "");
  int cmp = g_strcmp0 (lb, la);

  if (cmp == 0)
    cmp = g_strcmp0 (json_object_get_string_member_with_default (cb, "created_at", ""),
                     json_object_get_string_member_with_default (ca, "created_at", ""));
  if (cmp == 0)
    cmp = g_strcmp0 (json_object_get_string_member (ca, "cid"), json_object_get_string_member (cb, "cid"));
  return cmp;
}

static GPtrArray *
find_channels (ConfabSandboxRequest *request,
               JsonObject           *filter,
               guint                 limit,
               guint                 offset,
               GError              **error)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) members = NULL;
  g_auto(GStrv) cids = NULL;
  g_auto(GStrv) ids = NULL;
  g_auto(GStrv) types = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *page;
  JsonObjectIter iter;
  const char *name;
  const char *type = NULL;

  json_object_iter_init (&iter, filter);
  while (json_object_iter_next (&iter, &name, NULL))
    if (!g_str_equal (name, "members") && !g_str_equal (name, "cid") &&
        !g_str_equal (name, "id") && !g_str_equal (name, "type"))
      {
        g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                     "invalid request: the sandbox does not support filtering on %s", name);
        return NULL;
      }

  members = filter_values (filter, "members", &local_error);
  if (local_error == NULL)
    cids = filter_values (filter, "cid", &local_error);
  if (local_error == NULL)
    ids = filter_values (filter, "id", &local_error);
  if (local_error == NULL)
    types = filter_values (filter, "type", &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (types != NULL)
    type = types[0];

  if (ids != NULL)
    {
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

      if (type == NULL)
        {
          g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                               "invalid request: filtering on id needs a type");
          return NULL;
        }
      for (guint i = 0; ids[i] != NULL; i++)
        {
          g_autofree char *cid = g_strdup_printf ("%s:%s", type, ids[i]);
          g_strv_builder_add (builder, cid);
        }
      g_clear_pointer (&cids, g_strfreev);
      cids = g_strv_builder_end (builder);
    }

  /* One query per member (a $in is a union), then one sort and one page over all. */
  for (guint m = 0; m == 0 || (members != NULL && members[m] != NULL); m++)
    {
      const char *member = members != NULL ? members[m] : NULL;

      if (members != NULL && member == NULL)
        break;
      page = confab_sandbox_store_query_channels (request->server->store, member, cids, type,
                                                  100, 0, error);
      if (page == NULL)
        return NULL;
      for (guint i = 0; i < page->len; i++)
        {
          JsonObject *channel = g_ptr_array_index (page, i);
          const char *cid = json_object_get_string_member (channel, "cid");

          if (g_hash_table_contains (seen, cid))
            continue;
          if (!request->server_auth &&
              !confab_sandbox_store_is_member (request->server->store, cid, request->user_id))
            continue;
          g_hash_table_add (seen, (gpointer) cid);
          g_ptr_array_add (found, json_object_ref (channel));
        }
      /* seen keys point into found, which keeps the channels alive */
      g_ptr_array_unref (page);
      if (members == NULL)
        break;
    }

  g_ptr_array_sort (found, compare_by_activity);
  page = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  for (guint i = offset; i < found->len && page->len < limit; i++)
    g_ptr_array_add (page, json_object_ref (g_ptr_array_index (found, i)));
  return page;
}

/* Routes --------------------------------------------------------------------------- */

JsonObject *
_confab_sandbox_api_query_channels (ConfabSandboxRequest *request,
                                    GError              **error)
{
  g_autoptr(JsonObject) result = json_object_new ();
  g_autoptr(GPtrArray) channels = NULL;
  g_autoptr(JsonObject) empty = json_object_new ();
  JsonObject *filter = NULL;
  JsonArray *states;
  gboolean watch = FALSE;
  gboolean presence = FALSE;
  gint64 limit = DEFAULT_CHANNEL_LIMIT;
  gint64 offset = 0;
  gint64 message_limit = DEFAULT_MESSAGE_LIMIT_IN_LIST;
  gint64 member_limit = DEFAULT_MEMBER_LIMIT;

  if (!confab_sandbox_json_get_object (request->body, "filter_conditions", FALSE, &filter, error) ||
      !confab_sandbox_json_get_boolean (request->body, "watch", FALSE, &watch, error) ||
      !confab_sandbox_json_get_boolean (request->body, "presence", FALSE, &presence, error) ||
      !confab_sandbox_json_get_int (request->body, "limit", DEFAULT_CHANNEL_LIMIT, &limit, error) ||
      !confab_sandbox_json_get_int (request->body, "offset", 0, &offset, error) ||
      !confab_sandbox_json_get_int (request->body, "message_limit", DEFAULT_MESSAGE_LIMIT_IN_LIST, &message_limit, error) ||
      !confab_sandbox_json_get_int (request->body, "member_limit", DEFAULT_MEMBER_LIMIT, &member_limit, error))
    return NULL;

  if (limit < 0 || limit > MAX_CHANNEL_LIMIT || offset < 0 || offset > 1000 ||
      message_limit < 0 || message_limit > 300 || member_limit < 0 || member_limit > 100)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: limit, offset, message_limit or member_limit out of range");
      return NULL;
    }

  channels = find_channels (request, filter != NULL ? filter : empty, limit, offset, error);
  if (channels == NULL)
    return NULL;

  states = json_array_new ();
  json_object_set_array_member (result, "channels", states);
  for (guint i = 0; i < channels->len; i++)
    {
      const char *cid = json_object_get_string_member (g_ptr_array_index (channels, i), "cid");
      ConfabSandboxPage page = { .limit = message_limit };
      JsonObject *state;

      if (watch)
        start_watching (request, cid);
      if (presence)
        subscribe_member_presence (request, cid);

      state = _confab_sandbox_server_channel_state (request->server, cid, request->user_id,
                                                    &page, member_limit, error);
      if (state == NULL)
        return NULL;
      json_array_add_object_element (states, state);
    }

  return g_steal_pointer (&result);
}

static void
announce_new_channel (ConfabSandboxRequest *request,
                      const char           *cid,
                      const char           *creator)
{
  g_autoptr(GPtrArray) members = confab_sandbox_store_list_members (request->server->store, cid, NULL);
  g_autoptr(JsonObject) channel = confab_sandbox_store_get_channel (request->server->store, cid, NULL);
  g_autoptr(JsonObject) created = NULL;

  if (members == NULL || channel == NULL)
    return;

  for (guint i = 0; i < members->len; i++)
    {
      JsonObject *member = g_ptr_array_index (members, i);
      const char *user_id = json_object_get_string_member_with_default (member, "user_id", NULL);
      g_autoptr(JsonObject) event = NULL;

      if (g_strcmp0 (user_id, creator) == 0)
        continue;
      event = _confab_sandbox_channel_event_new (request->server, "notification.added_to_channel", cid, NULL);
      json_object_set_object_member (event, "channel", json_object_ref (channel));
      json_object_set_object_member (event, "member", json_object_ref (member));
      confab_sandbox_hub_send_to_user (request->server->hub, user_id, event);
    }

  created = _confab_sandbox_channel_event_new (request->server, "channel.created", cid, creator);
  json_object_set_object_member (created, "channel", json_object_ref (channel));
  _confab_sandbox_server_webhook (request->server, created);
}

JsonObject *
_confab_sandbox_api_query_channel (ConfabSandboxRequest *request,
                                   GError              **error)
{
  g_autoptr(JsonObject) channel = NULL;
  g_autoptr(JsonObject) existing = NULL;
  g_autofree char *explicit_cid = NULL;
  const char *type = request->params[0];
  const char *id = request->params[1];
  const char *creator = request->user_id;
  const char *cid;
  JsonObject *data = NULL;
  JsonObject *members_page = NULL;
  JsonObject *created_by = NULL;
  ConfabSandboxPage page;
  gboolean watch = FALSE;
  gboolean presence = FALSE;
  gboolean created = FALSE;
  gint64 member_limit = DEFAULT_MEMBER_LIMIT;

  if (!confab_sandbox_json_get_object (request->body, "data", FALSE, &data, error) ||
      !confab_sandbox_json_get_boolean (request->body, "watch", FALSE, &watch, error) ||
      !confab_sandbox_json_get_boolean (request->body, "presence", FALSE, &presence, error) ||
      !confab_sandbox_json_get_object (request->body, "members", FALSE, &members_page, error) ||
      !confab_sandbox_json_get_int (members_page, "limit", DEFAULT_MEMBER_LIMIT, &member_limit, error) ||
      !parse_page (request->body, &page, 100, error))
    return NULL;

  if (request->server_auth && data != NULL)
    {
      if (!confab_sandbox_json_get_string (data, "created_by_id", FALSE, &creator, error) ||
          !confab_sandbox_json_get_object (data, "created_by", FALSE, &created_by, error) ||
          (creator == NULL && created_by != NULL &&
           !confab_sandbox_json_get_string (created_by, "id", FALSE, &creator, error)))
        return NULL;
    }

  if (id != NULL)
    {
      explicit_cid = g_strdup_printf ("%s:%s", type, id);
      existing = confab_sandbox_store_get_channel (request->server->store, explicit_cid, NULL);
    }

  if (existing != NULL)
    channel = g_steal_pointer (&existing);
  else
    {
      g_autoptr(JsonObject) stripped = json_object_new ();

      if (creator == NULL)
        {
          g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                               "GetOrCreateChannel failed with error: \"either data.created_by or data.created_by_id must be provided when using server side auth.\"");
          return NULL;
        }
      if (data != NULL)
        {
          JsonObjectIter iter;
          const char *name;
          JsonNode *node;

          json_object_iter_init (&iter, data);
          while (json_object_iter_next (&iter, &name, &node))
            if (!g_str_equal (name, "created_by") && !g_str_equal (name, "created_by_id"))
              json_object_set_member (stripped, name, json_node_copy (node));
        }
      channel = confab_sandbox_store_get_or_create_channel (request->server->store, type, id, creator,
                                                            stripped, &created, error);
      if (channel == NULL)
        return NULL;
    }

  cid = json_object_get_string_member (channel, "cid");
  if (!check_member (request, cid, "ReadChannel", error))
    return NULL;

  if (created)
    announce_new_channel (request, cid, creator);
  if (watch)
    start_watching (request, cid);
  if (presence)
    subscribe_member_presence (request, cid);

  return _confab_sandbox_server_channel_state (request->server, cid, request->user_id, &page,
                                               CLAMP (member_limit, 0, 100), error);
}

JsonObject *
_confab_sandbox_api_stop_watching (ConfabSandboxRequest *request,
                                   GError              **error)
{
  g_autofree char *cid = make_cid (request);

  if (request->connection != NULL && confab_sandbox_connection_unwatch (request->connection, cid))
    {
      g_autoptr(JsonObject) event = NULL;

      event = _confab_sandbox_channel_event_new (request->server, "user.watching.stop", cid,
                                                 confab_sandbox_connection_get_user_id (request->connection));
      _confab_sandbox_server_publish (request->server, cid, event, FALSE);
    }

  return json_object_new ();
}

JsonObject *
_confab_sandbox_api_send_event (ConfabSandboxRequest *request,
                                GError              **error)
{
  g_autofree char *cid = make_cid (request);
  g_autoptr(JsonObject) channel = NULL;
  g_autoptr(JsonObject) event = NULL;
  JsonObject *input = NULL;
  JsonObject *result;
  const char *type = NULL;
  const char *user_id;
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  if (!confab_sandbox_json_get_object (request->body, "event", TRUE, &input, error) ||
      !confab_sandbox_json_get_string (input, "type", TRUE, &type, error))
    return NULL;
  user_id = _confab_sandbox_request_acting_user (request, input, error);
  if (user_id == NULL)
    return NULL;

  channel = confab_sandbox_store_get_channel (request->server->store, cid, error);
  if (channel == NULL || !check_member (request, cid, "SendCustomEvent", error))
    return NULL;

  event = _confab_sandbox_channel_event_new (request->server, type, cid, user_id);
  json_object_iter_init (&iter, input);
  while (json_object_iter_next (&iter, &name, &node))
    if (!json_object_has_member (event, name) && !g_str_equal (name, "user_id"))
      json_object_set_member (event, name, json_node_copy (node));

  _confab_sandbox_server_publish (request->server, cid, event, FALSE);

  result = json_object_new ();
  json_object_set_object_member (result, "event", g_steal_pointer (&event));
  return result;
}

JsonObject *
_confab_sandbox_api_mark_read (ConfabSandboxRequest *request,
                               GError              **error)
{
  g_autofree char *cid = make_cid (request);
  g_autoptr(JsonObject) read = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) notification = NULL;
  const char *message_id = NULL;
  const char *user_id;
  const char *last_read_id;
  JsonObject *result;

  user_id = _confab_sandbox_request_acting_user (request, request->body, error);
  if (user_id == NULL ||
      !confab_sandbox_json_get_string (request->body, "message_id", FALSE, &message_id, error))
    return NULL;

  read = confab_sandbox_store_mark_read (request->server->store, cid, user_id, message_id, error);
  if (read == NULL)
    return NULL;
  last_read_id = json_object_get_string_member_with_default (read, "last_read_message_id", NULL);

  event = _confab_sandbox_channel_event_new (request->server, "message.read", cid, user_id);
  if (last_read_id != NULL)
    json_object_set_string_member (event, "last_read_message_id", last_read_id);
  _confab_sandbox_server_publish (request->server, cid, event, FALSE);

  notification = _confab_sandbox_channel_event_new (request->server, "notification.mark_read", cid, user_id);
  if (last_read_id != NULL)
    json_object_set_string_member (notification, "last_read_message_id", last_read_id);
  _confab_sandbox_server_add_unread (request->server, notification, cid, user_id);
  confab_sandbox_hub_send_to_user (request->server->hub, user_id, notification);

  result = json_object_new ();
  json_object_set_object_member (result, "event", g_steal_pointer (&event));
  return result;
}

JsonObject *
_confab_sandbox_api_mark_all_read (ConfabSandboxRequest *request,
                                   GError              **error)
{
  g_autoptr(JsonObject) notification = NULL;
  const char *user_id = _confab_sandbox_request_acting_user (request, request->body, error);

  if (user_id == NULL ||
      !confab_sandbox_store_mark_all_read (request->server->store, user_id, error))
    return NULL;

  notification = _confab_sandbox_event_new ("notification.mark_read");
  _confab_sandbox_server_add_unread (request->server, notification, NULL, user_id);
  json_object_set_int_member (notification, "unread_count", 0);
  confab_sandbox_hub_send_to_user (request->server->hub, user_id, notification);

  return json_object_new ();
}

JsonObject *
_confab_sandbox_api_messages_by_id (ConfabSandboxRequest *request,
                                    GError              **error)
{
  g_autofree char *cid = make_cid (request);
  g_autoptr(GPtrArray) messages = NULL;
  g_auto(GStrv) ids = NULL;
  const char *raw = _confab_sandbox_request_query (request, "ids");
  JsonObject *result;

  if (raw == NULL || *raw == '\0')
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: ids is a required field");
      return NULL;
    }
  if (!check_member (request, cid, "ReadChannel", error))
    return NULL;

  ids = g_strsplit (raw, ",", -1);
  messages = confab_sandbox_store_messages_by_ids (request->server->store, cid, ids, error);
  if (messages == NULL)
    return NULL;

  result = json_object_new ();
  json_object_set_array_member (result, "messages", _confab_sandbox_array_from_objects (messages));
  return result;
}
