/* confab-json-private.c: JSON from the network or a file, parsed without trusting it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-error.h"
#include "confab-json-private.h"

/* json-glib recurses once per level; far deeper than any Stream answer. */
#define MAX_JSON_DEPTH 512

static gboolean
json_depth_ok (const char *data,
               gsize       length,
               guint       max_depth)
{
  gboolean in_string = FALSE;
  gboolean escaped = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }

      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '[':
        case '{':
          if (++depth > max_depth)
            return FALSE;
          break;
        case ']':
        case '}':
          if (depth > 0)
            depth--;
          break;
        default:
          break;
        }
    }
  return TRUE;
}

JsonObject *
_confab_json_parse_untrusted_object (const char  *data,
                                     gsize        length,
                                     GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (length == 0)
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL, "the body is empty");
      return NULL;
    }
  if (!g_utf8_validate_len (data, length, NULL))
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL, "the body is not UTF-8 text");
      return NULL;
    }
  if (!json_depth_ok (data, length, MAX_JSON_DEPTH))
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                   "the JSON is nested more than %d levels deep", MAX_JSON_DEPTH);
      return NULL;
    }

  parser = json_parser_new_immutable ();
  /* json-glib's message may quote the text; it stays out of ours. */
  if (!json_parser_load_from_data (parser, data, length, NULL))
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL, "the body is not valid JSON");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL, "the JSON is not an object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}
