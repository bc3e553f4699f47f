/* confab-chat-json.c: JSON access for the chat model that never trusts the input's types
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-chat-private.h"

/* json-glib's own getters warn (fatal in tests) on a member of another type: a server
 * sending {"text": 5} must not be able to do that. */

static JsonNode *
member (JsonObject *object,
        const char *name)
{
  if (object == NULL)
    return NULL;
  return json_object_get_member (object, name);
}

const char *
_confab_chat_json_string (JsonObject *object,
                          const char *name)
{
  JsonNode *node = member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

JsonObject *
_confab_chat_json_object (JsonObject *object,
                          const char *name)
{
  JsonNode *node = member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

JsonArray *
_confab_chat_json_array (JsonObject *object,
                         const char *name)
{
  JsonNode *node = member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  return json_node_get_array (node);
}

gboolean
_confab_chat_json_int (JsonObject *object,
                       const char *name,
                       gint64     *out)
{
  JsonNode *node = member (object, name);
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (type == G_TYPE_DOUBLE)
    {
      double value = json_node_get_double (node);

      if (!(value >= (double) G_MININT64 && value <= (double) G_MAXINT64))
        return FALSE;
      *out = (gint64) value;
      return TRUE;
    }
  return FALSE;
}

gboolean
_confab_chat_json_bool (JsonObject *object,
                        const char *name,
                        gboolean   *out)
{
  JsonNode *node = member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return FALSE;
  *out = json_node_get_boolean (node);
  return TRUE;
}

gint64
_confab_chat_json_time (JsonObject *object,
                        const char *name)
{
  const char *text = _confab_chat_json_string (object, name);
  g_autoptr(GDateTime) time = NULL;

  if (text == NULL || *text == '\0')
    return 0;
  time = g_date_time_new_from_iso8601 (text, NULL);
  if (time == NULL)
    return 0;
  return g_date_time_to_unix (time) * G_USEC_PER_SEC + g_date_time_get_microsecond (time);
}
