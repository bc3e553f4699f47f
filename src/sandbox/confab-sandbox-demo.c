/* confab-sandbox-demo.c: the demo users, channels and history
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "confab-sandbox-demo.h"
#include "confab-sandbox-resources.h"
#include "confab-sandbox-error.h"
#include "confab-sandbox-json.h"

#define DEMO_RESOURCE "/io/github/confab_chat/Sandbox/demo.json"

static const char * const demo_users[] = { "alice", "bob", "carol", NULL };

gboolean
confab_sandbox_demo_is_demo_user (const char *user_id)
{
  return user_id != NULL && g_strv_contains (demo_users, user_id);
}

static JsonObject *
load_demo (GError **error)
{
  g_autoptr(GBytes) bytes = NULL;
  const char *data;
  gsize length = 0;

  /* Through the resource itself, so a static link keeps it. */
  bytes = g_resource_lookup_data (confab_sandbox_get_resource (), DEMO_RESOURCE,
                                 G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (bytes == NULL)
    return NULL;
  data = g_bytes_get_data (bytes, &length);
  return confab_sandbox_json_parse_object (data, length, error);
}

static gboolean
add_message (ConfabSandboxStore  *store,
             const char          *cid,
             JsonArray           *line,
             GError             **error)
{
  g_autoptr(JsonObject) message = json_object_new ();
  g_autoptr(JsonObject) stored = NULL;

  json_object_set_string_member (message, "text", json_array_get_string_element (line, 1));
  stored = confab_sandbox_store_insert_message (store, cid, json_array_get_string_element (line, 0),
                                                message, error);
  return stored != NULL;
}

/* Idempotent: a persistent store that already holds the demo is left as it is.
 * @n_messages replaces the main channel's scripted history with that many messages
 * (0 keeps the script). */
gboolean
confab_sandbox_demo_seed (ConfabSandboxStore  *store,
                          guint                n_messages,
                          GError             **error)
{
  g_autoptr(JsonObject) demo = NULL;
  g_autoptr(JsonObject) existing = NULL;
  JsonArray *users;
  JsonArray *channels;
  JsonArray *filler;
  const char *main_cid;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (store), FALSE);

  demo = load_demo (error);
  if (demo == NULL)
    return FALSE;
  users = json_object_get_array_member (demo, "users");
  channels = json_object_get_array_member (demo, "channels");
  filler = json_object_get_array_member (demo, "filler");
  main_cid = json_object_get_string_member (demo, "main_channel");

  existing = confab_sandbox_store_get_channel (store, main_cid, NULL);
  if (existing != NULL)
    {
      g_debug ("demo data already present");
      return TRUE;
    }

  for (guint i = 0; i < json_array_get_length (users); i++)
    {
      g_autoptr(JsonObject) user = NULL;

      user = confab_sandbox_store_upsert_user (store, json_array_get_object_element (users, i), error);
      if (user == NULL)
        return FALSE;
    }

  for (guint i = 0; i < json_array_get_length (channels); i++)
    {
      JsonObject *spec = json_array_get_object_element (channels, i);
      g_autoptr(JsonObject) data = json_object_new ();
      g_autoptr(JsonObject) channel = NULL;
      JsonArray *messages = json_object_get_array_member (spec, "messages");
      const char *cid;
      gboolean created = FALSE;
      gboolean is_main;

      json_object_set_string_member (data, "name", json_object_get_string_member (spec, "name"));
      json_object_set_array_member (data, "members",
                                    json_array_ref (json_object_get_array_member (spec, "members")));
      channel = confab_sandbox_store_get_or_create_channel (store,
                                                            json_object_get_string_member (spec, "type"),
                                                            json_object_get_string_member (spec, "id"),
                                                            json_object_get_string_member (spec, "created_by"),
                                                            data, &created, error);
      if (channel == NULL)
        return FALSE;

      cid = json_object_get_string_member (channel, "cid");
      is_main = g_str_equal (cid, main_cid);

      if (is_main && n_messages > 0)
        {
          guint script = json_array_get_length (messages);
          guint total_lines = script + json_array_get_length (filler);

          /* The scripted conversation ends the history; filler lines lead up to it. */
          for (guint n = 0; n < n_messages; n++)
            {
              guint from_end = n_messages - 1 - n;
              JsonArray *line;

              if (from_end < script)
                line = json_array_get_array_element (messages, script - 1 - from_end);
              else
                line = json_array_get_array_element (filler, (from_end - script) % (total_lines - script));
              if (!add_message (store, cid, line, error))
                return FALSE;
            }
        }
      else
        {
          for (guint n = 0; n < json_array_get_length (messages); n++)
            if (!add_message (store, cid, json_array_get_array_element (messages, n), error))
              return FALSE;
        }
    }

  g_debug ("demo data created");
  return TRUE;
}
