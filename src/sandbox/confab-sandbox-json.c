/* confab-sandbox-json.c: strict JSON input and Stream-style timestamps
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "confab-sandbox-json.h"

#include "confab-sandbox-error.h"

/* json-glib parses recursively: 100 000 nested brackets overflow the stack. Stream's own
 * payloads nest a handful of levels, so anything past the limit is refused unparsed. */
gboolean
confab_sandbox_json_check_depth (const char  *data,
                                 gsize        length,
                                 GError     **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > CONFAB_SANDBOX_JSON_MAX_DEPTH)
            {
              g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: JSON nested deeper than %d levels",
                           CONFAB_SANDBOX_JSON_MAX_DEPTH);
              return FALSE;
            }
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

JsonObject *
confab_sandbox_json_parse_object (const char  *data,
                                  gssize       length,
                                  GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (length < 0)
    length = data != NULL ? strlen (data) : 0;

  if (data == NULL || length == 0)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: body is empty, a JSON object is required");
      return NULL;
    }

  if (!g_utf8_validate_len (data, length, NULL))
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: body is not valid UTF-8");
      return NULL;
    }

  if (!confab_sandbox_json_check_depth (data, length, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                   "invalid request: body is not valid JSON: %s", local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: body must be a JSON object");
      return NULL;
    }

  return json_object_ref (json_node_get_object (root));
}

static JsonNode *
lookup (JsonObject  *object,
        const char  *member,
        gboolean     required,
        GError     **error)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                     "invalid request: %s is a required field", member);
      return NULL;
    }

  return node;
}

static gboolean
type_error (const char  *member,
            const char  *expected,
            GError     **error)
{
  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
               "invalid request: %s must be %s", member, expected);
  return FALSE;
}

gboolean
confab_sandbox_json_get_string (JsonObject  *object,
                                const char  *member,
                                gboolean     required,
                                const char **out_value,
                                GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *node = lookup (object, member, required, &local_error);

  *out_value = NULL;
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return type_error (member, "a string", error);

  *out_value = json_node_get_string (node);
  if (required && **out_value == '\0')
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                   "invalid request: %s must not be empty", member);
      return FALSE;
    }
  return TRUE;
}

gboolean
confab_sandbox_json_get_boolean (JsonObject *object,
                                 const char *member,
                                 gboolean    default_value,
                                 gboolean   *out_value,
                                 GError    **error)
{
  JsonNode *node = lookup (object, member, FALSE, NULL);

  *out_value = default_value;
  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return type_error (member, "a boolean", error);

  *out_value = json_node_get_boolean (node);
  return TRUE;
}

gboolean
confab_sandbox_json_get_int (JsonObject *object,
                             const char *member,
                             gint64      default_value,
                             gint64     *out_value,
                             GError    **error)
{
  JsonNode *node = lookup (object, member, FALSE, NULL);

  *out_value = default_value;
  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    {
      *out_value = json_node_get_int (node);
      return TRUE;
    }
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    {
      double d = json_node_get_double (node);

      if (d == (double) (gint64) d)
        {
          *out_value = (gint64) d;
          return TRUE;
        }
    }
  return type_error (member, "an integer", error);
}

gboolean
confab_sandbox_json_get_object (JsonObject  *object,
                                const char  *member,
                                gboolean     required,
                                JsonObject **out_value,
                                GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *node = lookup (object, member, required, &local_error);

  *out_value = NULL;
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return type_error (member, "an object", error);

  *out_value = json_node_get_object (node);
  return TRUE;
}

gboolean
confab_sandbox_json_get_array (JsonObject  *object,
                               const char  *member,
                               gboolean     required,
                               JsonArray  **out_value,
                               GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *node = lookup (object, member, required, &local_error);

  *out_value = NULL;
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return type_error (member, "an array", error);

  *out_value = json_node_get_array (node);
  return TRUE;
}

/* An array of strings; absent gives an empty vector, anything else an error. */
char **
confab_sandbox_json_get_strv (JsonObject  *object,
                              const char  *member,
                              GError     **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array = NULL;

  if (!confab_sandbox_json_get_array (object, member, FALSE, &array, error))
    return NULL;

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);

      if (json_node_get_value_type (node) != G_TYPE_STRING)
        {
          type_error (member, "an array of strings", error);
          return NULL;
        }
      g_strv_builder_add (builder, json_node_get_string (node));
    }

  return g_strv_builder_end (builder);
}

char *
confab_sandbox_json_to_string (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

char *
confab_sandbox_format_time (gint64 unix_usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (unix_usec / G_USEC_PER_SEC);
  g_autofree char *base = NULL;

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00.000000000Z");

  base = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%06" G_GINT64_FORMAT "000Z", base, unix_usec % G_USEC_PER_SEC);
}

gboolean
confab_sandbox_parse_time (const char  *text,
                           gint64      *out_unix_usec,
                           GError     **error)
{
  g_autoptr(GDateTime) dt = NULL;

  if (text != NULL)
    dt = g_date_time_new_from_iso8601 (text, NULL);
  if (dt == NULL)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: timestamp must be RFC 3339");
      return FALSE;
    }

  *out_unix_usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}
