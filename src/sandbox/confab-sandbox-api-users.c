/* confab-sandbox-api-users.c: user routes (query with presence, upsert, partial update)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sandbox-server-private.h"

static gboolean
require_server_auth (ConfabSandboxRequest *request,
                     const char           *action,
                     GError              **error)
{
  if (request->server_auth)
    return TRUE;
  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED,
               "%s failed with error: \"this action needs server-side auth\"", action);
  return FALSE;
}

JsonObject *
_confab_sandbox_api_query_users (ConfabSandboxRequest *request,
                                 GError              **error)
{
  g_autoptr(GPtrArray) users = NULL;
  g_auto(GStrv) ids = NULL;
  JsonObject *filter = NULL;
  JsonObject *result;
  JsonNode *id_node;
  gboolean presence = FALSE;
  gint64 limit = 30;
  gint64 offset = 0;

  if (!confab_sandbox_json_get_object (request->body, "filter_conditions", FALSE, &filter, error) ||
      !confab_sandbox_json_get_boolean (request->body, "presence", FALSE, &presence, error) ||
      !confab_sandbox_json_get_int (request->body, "limit", 30, &limit, error) ||
      !confab_sandbox_json_get_int (request->body, "offset", 0, &offset, error))
    return NULL;

  if (limit < 0 || limit > 100 || offset < 0 || offset > 1000)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: limit must be 0–100 and offset 0–1000");
      return NULL;
    }

  if (filter != NULL && json_object_get_size (filter) > 0)
    {
      JsonObject *ops = NULL;

      id_node = json_object_get_member (filter, "id");
      if (id_node == NULL || json_object_get_size (filter) != 1)
        {
          g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                               "invalid request: the sandbox filters users by id only");
          return NULL;
        }
      if (json_node_get_value_type (id_node) == G_TYPE_STRING)
        {
          char *one[] = { (char *) json_node_get_string (id_node), NULL };
          ids = g_strdupv (one);
        }
      else if (JSON_NODE_HOLDS_OBJECT (id_node) &&
               json_object_has_member ((ops = json_node_get_object (id_node)), "$in"))
        {
          ids = confab_sandbox_json_get_strv (ops, "$in", error);
          if (ids == NULL)
            return NULL;
        }
      else if (JSON_NODE_HOLDS_OBJECT (id_node) && json_object_has_member (ops, "$eq"))
        {
          const char *value = NULL;

          if (!confab_sandbox_json_get_string (ops, "$eq", TRUE, &value, error))
            return NULL;
          {
            char *one[] = { (char *) value, NULL };
            ids = g_strdupv (one);
          }
        }
      else
        {
          g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                               "invalid request: filter on id must be a string, $eq or $in");
          return NULL;
        }
    }

  users = confab_sandbox_store_query_users (request->server->store, ids, limit, offset, error);
  if (users == NULL)
    return NULL;

  for (guint i = 0; i < users->len; i++)
    {
      JsonObject *user = g_ptr_array_index (users, i);

      _confab_sandbox_server_set_online (request->server, user);
      if (presence && request->connection != NULL)
        confab_sandbox_connection_subscribe_presence (request->connection,
                                                      json_object_get_string_member (user, "id"));
    }

  result = json_object_new ();
  json_object_set_array_member (result, "users", _confab_sandbox_array_from_objects (users));
  return result;
}

JsonObject *
_confab_sandbox_api_upsert_users (ConfabSandboxRequest *request,
                                  GError              **error)
{
  g_autoptr(JsonObject) stored = json_object_new ();
  JsonObject *users = NULL;
  JsonObject *result;
  JsonObjectIter iter;
  const char *key;
  JsonNode *node;

  if (!require_server_auth (request, "UpdateUsers", error) ||
      !confab_sandbox_json_get_object (request->body, "users", TRUE, &users, error))
    return NULL;

  json_object_iter_init (&iter, users);
  while (json_object_iter_next (&iter, &key, &node))
    {
      g_autoptr(JsonObject) user = NULL;
      const char *id = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                       "invalid request: users.%s must be an object", key);
          return NULL;
        }
      if (!confab_sandbox_json_get_string (json_node_get_object (node), "id", FALSE, &id, error))
        return NULL;
      if (id != NULL && !g_str_equal (id, key))
        {
          g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                       "invalid request: users.%s has a different id", key);
          return NULL;
        }
      if (id == NULL)
        json_object_set_string_member (json_node_get_object (node), "id", key);

      user = confab_sandbox_store_upsert_user (request->server->store, json_node_get_object (node), error);
      if (user == NULL)
        return NULL;
      json_object_set_object_member (stored, key, g_steal_pointer (&user));
    }

  result = json_object_new ();
  json_object_set_object_member (result, "users", g_steal_pointer (&stored));
  return result;
}

JsonObject *
_confab_sandbox_api_update_users (ConfabSandboxRequest *request,
                                  GError              **error)
{
  g_autoptr(JsonObject) stored = json_object_new ();
  JsonArray *updates = NULL;
  JsonObject *result;

  if (!require_server_auth (request, "UpdateUsersPartial", error) ||
      !confab_sandbox_json_get_array (request->body, "users", TRUE, &updates, error))
    return NULL;

  for (guint i = 0; i < json_array_get_length (updates); i++)
    {
      JsonNode *node = json_array_get_element (updates, i);
      g_autoptr(JsonObject) user = NULL;
      g_auto(GStrv) unset = NULL;
      JsonObject *update;
      JsonObject *set = NULL;
      const char *id = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                               "invalid request: users must be an array of objects");
          return NULL;
        }
      update = json_node_get_object (node);
      if (!confab_sandbox_json_get_string (update, "id", TRUE, &id, error) ||
          !confab_sandbox_json_get_object (update, "set", FALSE, &set, error))
        return NULL;
      unset = confab_sandbox_json_get_strv (update, "unset", error);
      if (unset == NULL)
        return NULL;

      user = confab_sandbox_store_partial_update_user (request->server->store, id, set, unset, error);
      if (user == NULL)
        return NULL;
      json_object_set_object_member (stored, id, g_steal_pointer (&user));
    }

  result = json_object_new ();
  json_object_set_object_member (result, "users", g_steal_pointer (&stored));
  return result;
}
