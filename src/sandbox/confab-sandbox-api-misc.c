/* confab-sandbox-api-misc.c: /sync, /app, /hi and the sandbox-only routes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-sandbox-demo.h"
#include "confab-sandbox-server-private.h"

/* Stream's /sync returns at most this many events; clients page on from the last one. */
#define SYNC_MAX_EVENTS 1000
/* …and refuses a last_sync_at older than this; clients query the channels instead. */
#define SYNC_MAX_AGE_USEC (G_GINT64_CONSTANT (30) * 24 * 60 * 60 * G_USEC_PER_SEC)

JsonObject *
_confab_sandbox_api_sync (ConfabSandboxRequest *request,
                          GError              **error)
{
  ConfabSandboxServer *self = request->server;
  g_auto(GStrv) cids = NULL;
  g_autoptr(GStrvBuilder) allowed = g_strv_builder_new ();
  g_auto(GStrv) allowed_cids = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  const char *since_text = NULL;
  gint64 since = 0;
  JsonArray *inaccessible;
  JsonArray *events;
  JsonObject *result;

  cids = confab_sandbox_json_get_strv (request->body, "channel_cids", error);
  if (cids == NULL ||
      !confab_sandbox_json_get_string (request->body, "last_sync_at", TRUE, &since_text, error) ||
      !confab_sandbox_parse_time (since_text, &since, error))
    return NULL;

  if (since < g_get_real_time () - SYNC_MAX_AGE_USEC)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: last_sync_at is more than 30 days ago");
      return NULL;
    }

  if (g_strv_length (cids) > 255)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: channel_cids has more than 255 entries");
      return NULL;
    }

  inaccessible = json_array_new ();
  for (guint i = 0; cids[i] != NULL; i++)
    {
      if (request->server_auth ||
          confab_sandbox_store_is_member (self->store, cids[i], request->user_id))
        g_strv_builder_add (allowed, cids[i]);
      else
        json_array_add_string_element (inaccessible, cids[i]);
    }
  allowed_cids = g_strv_builder_end (allowed);

  messages = confab_sandbox_store_sync_messages (self->store, allowed_cids, since, SYNC_MAX_EVENTS, error);
  if (messages == NULL)
    {
      json_array_unref (inaccessible);
      return NULL;
    }

  events = json_array_new ();
  for (guint i = 0; i < messages->len; i++)
    {
      JsonObject *message = g_ptr_array_index (messages, i);
      const char *created = json_object_get_string_member_with_default (message, "created_at", "");
      const char *type = json_object_get_string_member_with_default (message, "type", "regular");
      JsonObject *author = json_object_get_object_member (message, "user");
      gint64 created_us = 0;
      const char *event_type = "message.new";
      JsonObject *event;

      confab_sandbox_parse_time (created, &created_us, NULL);
      if (g_str_equal (type, "deleted"))
        event_type = "message.deleted";
      else if (created_us <= since)
        event_type = "message.updated";

      event = _confab_sandbox_channel_event_new (self, event_type,
                                                 json_object_get_string_member (message, "cid"), NULL);
      /* A missed event keeps the time it happened, not the time of the sync. */
      json_object_set_string_member (event, "created_at",
                                     g_str_equal (event_type, "message.new")
                                     ? created
                                     : json_object_get_string_member_with_default (message, "updated_at", created));
      if (author != NULL)
        json_object_set_object_member (event, "user", json_object_ref (author));
      json_object_set_string_member (event, "message_id", json_object_get_string_member (message, "id"));
      json_object_set_object_member (event, "message", json_object_ref (message));
      json_array_add_object_element (events, event);
    }

  result = json_object_new ();
  json_object_set_array_member (result, "events", events);
  json_object_set_array_member (result, "inaccessible_cids", inaccessible);
  return result;
}

JsonObject *
_confab_sandbox_api_app (ConfabSandboxRequest *request,
                         GError              **error)
{
  g_autoptr(JsonObject) channel = NULL;
  JsonObject *result = json_object_new ();
  JsonObject *app = json_object_new ();
  JsonObject *configs = json_object_new ();
  JsonObject *messaging = json_object_new ();

  json_object_set_string_member (app, "name", "confab-sandbox");
  json_object_set_string_member (app, "organization", "confab");
  json_object_set_boolean_member (app, "disable_auth_checks", request->server->allow_dev_tokens);
  json_object_set_boolean_member (app, "disable_permissions_checks", FALSE);
  json_object_set_boolean_member (app, "suspended", FALSE);
  json_object_set_array_member (app, "webhook_events", json_array_new ());

  json_object_set_boolean_member (messaging, "typing_events", TRUE);
  json_object_set_boolean_member (messaging, "read_events", TRUE);
  json_object_set_boolean_member (messaging, "connect_events", TRUE);
  json_object_set_boolean_member (messaging, "replies", TRUE);
  json_object_set_boolean_member (messaging, "custom_events", TRUE);
  json_object_set_int_member (messaging, "max_message_length", 5000);
  json_object_set_object_member (configs, "messaging", messaging);
  json_object_set_object_member (app, "channel_configs", configs);

  json_object_set_object_member (result, "app", app);
  return result;
}

JsonObject *
_confab_sandbox_api_hi (ConfabSandboxRequest *request,
                        GError              **error)
{
  return json_object_new ();
}

/* Sandbox-only: a token for a demo user, so the app and the README's run command can
 * sign in without a Stream account. Exists only with --demo. */
JsonObject *
_confab_sandbox_api_demo_token (ConfabSandboxRequest *request,
                                GError              **error)
{
  g_autofree char *token = NULL;
  const char *user_id = NULL;
  JsonObject *result;

  if (!request->server->demo)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST,
                           "the requested path does not exist");
      return NULL;
    }

  if (!confab_sandbox_json_get_string (request->body, "user_id", TRUE, &user_id, error))
    return NULL;
  if (!confab_sandbox_demo_is_demo_user (user_id))
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST,
                           "only the demo users alice, bob and carol can get a demo token");
      return NULL;
    }

  token = confab_sandbox_jwt_user_token (user_id, request->server->api_secret,
                                         g_get_real_time () / G_USEC_PER_SEC, 0);
  result = json_object_new ();
  json_object_set_string_member (result, "api_key", request->server->api_key);
  json_object_set_string_member (result, "user_id", user_id);
  json_object_set_string_member (result, "token", token);
  return result;
}

JsonObject *
_confab_sandbox_api_stats (ConfabSandboxRequest *request,
                           GError              **error)
{
  ConfabSandboxHub *hub = request->server->hub;
  JsonObject *result = json_object_new ();
  guint websocket = confab_sandbox_hub_get_n_connections (hub, CONFAB_SANDBOX_TRANSPORT_WEBSOCKET);
  guint longpoll = confab_sandbox_hub_get_n_connections (hub, CONFAB_SANDBOX_TRANSPORT_LONGPOLL);

  json_object_set_int_member (result, "connections", websocket + longpoll);
  json_object_set_int_member (result, "websocket", websocket);
  json_object_set_int_member (result, "longpoll", longpoll);
  json_object_set_int_member (result, "online_users", confab_sandbox_hub_get_n_online_users (hub));
  return result;
}

/* Rate limits (sandbox-only fault injection) ----------------------------------------- */

#define MAX_RATE_LIMITS 64

void
_confab_sandbox_rate_limit_free (ConfabSandboxRateLimit *limit)
{
  g_free (limit->path);
  g_free (limit->retry_after);
  g_free (limit);
}

/* A header value we may send back: printable ASCII, no line breaks. */
static gboolean
is_header_text (const char *text)
{
  if (*text == '\0' || strlen (text) > 128)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (*p < 0x20 || *p > 0x7e)
      return FALSE;
  return TRUE;
}

/* Answers @msg with 429 when a rule for @path has requests left; TRUE if it did. */
gboolean
_confab_sandbox_rate_limited (ConfabSandboxServer *self,
                              SoupServerMessage   *msg,
                              const char          *path)
{
  SoupMessageHeaders *headers;

  if (self->rate_limits == NULL)
    return FALSE;

  for (guint i = 0; i < self->rate_limits->len; i++)
    {
      ConfabSandboxRateLimit *limit = g_ptr_array_index (self->rate_limits, i);

      if (!g_str_equal (limit->path, path))
        continue;

      _confab_sandbox_respond_error_literal (msg, 429, CONFAB_STREAM_ERROR_RATE_LIMIT,
                                            "Too many requests, check response headers for more information.");
      headers = soup_server_message_get_response_headers (msg);
      soup_message_headers_replace (headers, "X-RateLimit-Limit", "60");
      soup_message_headers_replace (headers, "X-RateLimit-Remaining", "0");
      if (limit->retry_after != NULL)
        soup_message_headers_replace (headers, "Retry-After", limit->retry_after);
      if (limit->reset > 0)
        {
          g_autofree char *reset = g_strdup_printf ("%" G_GINT64_FORMAT, limit->reset);

          soup_message_headers_replace (headers, "X-RateLimit-Reset", reset);
        }
      g_debug ("%s → 429 (rate limit, %u left)", path, limit->remaining - 1);
      if (--limit->remaining == 0)
        g_ptr_array_remove_index (self->rate_limits, i);
      return TRUE;
    }
  return FALSE;
}

/* Sandbox-only: {"path": "/channels", "count": 2, "retry_after": "3", "reset": 1767225600}
 * makes the next `count` requests for exactly `path` answer 429. Exists only with --demo. */
JsonObject *
_confab_sandbox_api_rate_limit (ConfabSandboxRequest *request,
                                GError              **error)
{
  ConfabSandboxServer *self = request->server;
  ConfabSandboxRateLimit *limit;
  const char *path = NULL;
  const char *retry_after = NULL;
  gint64 count = 1;
  gint64 reset = 0;

  if (!self->demo)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST,
                           "the requested path does not exist");
      return NULL;
    }

  if (!confab_sandbox_json_get_string (request->body, "path", TRUE, &path, error) ||
      !confab_sandbox_json_get_int (request->body, "count", 1, &count, error) ||
      !confab_sandbox_json_get_string (request->body, "retry_after", FALSE, &retry_after, error) ||
      !confab_sandbox_json_get_int (request->body, "reset", 0, &reset, error))
    return NULL;
  if (path[0] != '/' || g_str_has_prefix (path, "/sandbox/") || count < 1 || count > 1000 || reset < 0 ||
      (retry_after != NULL && !is_header_text (retry_after)))
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: path must start with / (not /sandbox/), count must be 1 to 1000, "
                           "retry_after printable text, reset a Unix time");
      return NULL;
    }
  if (self->rate_limits == NULL)
    self->rate_limits = g_ptr_array_new_with_free_func ((GDestroyNotify) _confab_sandbox_rate_limit_free);
  if (self->rate_limits->len >= MAX_RATE_LIMITS)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: too many rate limits at once");
      return NULL;
    }

  limit = g_new0 (ConfabSandboxRateLimit, 1);
  limit->path = g_strdup (path);
  limit->remaining = (guint) count;
  limit->retry_after = g_strdup (retry_after);
  limit->reset = reset;
  g_ptr_array_add (self->rate_limits, limit);
  return json_object_new ();
}
