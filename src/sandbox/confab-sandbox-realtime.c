/* confab-sandbox-realtime.c: the /connect WebSocket and the /longpoll fallback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sandbox-server-private.h"

static const char *
lookup_param (GHashTable         *query,
              SoupMessageHeaders *headers,
              const char         *query_name,
              const char         *header_name)
{
  const char *value = query != NULL ? g_hash_table_lookup (query, query_name) : NULL;

  if ((value == NULL || *value == '\0') && headers != NULL)
    value = soup_message_headers_get_one (headers, header_name);
  return value;
}

/* The connect handshake shared by both transports (stream-chat-protocol.md §1.9):
 * api key, `json.user_details`, a user JWT for the same user; then the user is
 * upserted from the details it sent. */
static JsonObject *
authenticate_connect (ConfabSandboxServer *self,
                      GHashTable          *query,
                      SoupMessageHeaders  *headers,
                      GError             **error)
{
  g_auto(ConfabSandboxClaims) claims = { 0 };
  g_autoptr(JsonObject) payload = NULL;
  g_autoptr(JsonObject) details_copy = NULL;
  const char *api_key = lookup_param (query, NULL, "api_key", NULL);
  const char *auth_type = lookup_param (query, headers, "stream-auth-type", "Stream-Auth-Type");
  const char *token = lookup_param (query, headers, "authorization", "Authorization");
  const char *json = lookup_param (query, NULL, "json", NULL);
  JsonObject *details = NULL;
  const char *details_id = NULL;
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  JsonObject *user;

  if (api_key == NULL || !confab_sandbox_constant_time_equal (api_key, self->api_key))
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_ACCESS_KEY,
                           "api_key not found");
      return NULL;
    }

  if (json == NULL)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "json is a required field");
      return NULL;
    }
  payload = confab_sandbox_json_parse_object (json, -1, error);
  if (payload == NULL)
    return NULL;
  if (!confab_sandbox_json_get_object (payload, "user_details", TRUE, &details, error) ||
      !confab_sandbox_json_get_string (details, "id", TRUE, &details_id, error))
    {
      g_prefix_error (error, "Connect failed with error: ");
      return NULL;
    }

  if (auth_type != NULL && g_ascii_strcasecmp (auth_type, "jwt") != 0)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED,
                           "anonymous access is not enabled on this app");
      return NULL;
    }
  if (token == NULL || *token == '\0')
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_AUTH,
                           "JWTAuth error: token is missing");
      return NULL;
    }
  if (!confab_sandbox_jwt_verify (token, self->api_secret, self->allow_dev_tokens,
                                  g_get_real_time () / G_USEC_PER_SEC, &claims, error))
    return NULL;
  if (claims.user_id == NULL || !g_str_equal (claims.user_id, details_id))
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_AUTH,
                           "JWTAuth error: the token's user_id does not match user_details.id");
      return NULL;
    }

  /* Connecting may set a user's name, image and custom fields, never their role. */
  details_copy = json_object_new ();
  json_object_iter_init (&iter, details);
  while (json_object_iter_next (&iter, &name, &node))
    if (!g_str_equal (name, "role"))
      json_object_set_member (details_copy, name, json_node_copy (node));

  user = confab_sandbox_store_get_user (self->store, details_id, NULL);
  if (user != NULL)
    {
      json_object_unref (user);
      json_object_remove_member (details_copy, "id");
      user = confab_sandbox_store_partial_update_user (self->store, details_id, details_copy, NULL, error);
    }
  else
    user = confab_sandbox_store_upsert_user (self->store, details_copy, error);

  return user;
}

static char *
health_check_with_me (ConfabSandboxServer     *self,
                      ConfabSandboxConnection *connection,
                      JsonObject              *user)
{
  g_autoptr(JsonObject) event = _confab_sandbox_event_new ("health.check");

  json_object_set_string_member (event, "connection_id", confab_sandbox_connection_get_id (connection));
  json_object_set_string_member (event, "cid", "*");
  json_object_set_object_member (event, "me", _confab_sandbox_server_me (self, user));
  return confab_sandbox_json_to_string (event);
}

/* WebSocket ------------------------------------------------------------------------ */

static void
on_websocket (SoupServer              *soup,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  ConfabSandboxServer *self = user_data;
  g_autoptr(GHashTable) query = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) user = NULL;
  g_autoptr(ConfabSandboxConnection) connection = NULL;
  g_autofree char *hello = NULL;
  GUri *uri = soup_server_message_get_uri (msg);
  const char *raw_query = g_uri_get_query (uri);

  /* libsoup refuses a payload equal to the limit too; the documented limit is "above". */
  g_object_set (ws, "max-incoming-payload-size", (guint64) CONFAB_SANDBOX_MAX_FRAME_SIZE + 1, NULL);

  if (raw_query != NULL)
    query = soup_form_decode (raw_query);

  user = authenticate_connect (self, query, soup_server_message_get_request_headers (msg), &error);
  if (user == NULL)
    {
      g_autoptr(JsonObject) event = _confab_sandbox_event_new ("connection.error");
      g_autoptr(JsonNode) error_node = NULL;
      g_autofree char *text = NULL;

      error_node = confab_stream_error_to_json (error, confab_stream_error_http_status (error));
      json_object_set_string_member (event, "connection_id", "");
      json_object_set_member (event, "error", g_steal_pointer (&error_node));
      text = confab_sandbox_json_to_string (event);

      g_debug ("websocket connect refused: code %d", error->code);
      soup_websocket_connection_send_text (ws, text);
      /* 1000 tells the SDK the rejection is permanent: no reconnect loop. */
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "connection.error");
      return;
    }

  connection = confab_sandbox_connection_new_websocket (json_object_get_string_member (user, "id"), ws);
  hello = health_check_with_me (self, connection, user);
  confab_sandbox_hub_add (self->hub, connection);
  confab_sandbox_connection_send_text (connection, hello);
}

/* With --no-websocket the upgrade is refused with a plain HTTP error, the way a
 * restrictive proxy would, so clients have to fall back. */
static void
on_connect_http (SoupServer        *soup,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  ConfabSandboxServer *self = user_data;

  if (!self->websocket_enabled)
    _confab_sandbox_respond_error_literal (msg, SOUP_STATUS_FORBIDDEN, CONFAB_STREAM_ERROR_NOT_ALLOWED,
                                          "WebSocket connections are disabled on this server");
}

void
_confab_sandbox_realtime_setup (ConfabSandboxServer *self)
{
  soup_server_add_handler (self->soup, "/connect", on_connect_http, self, NULL);
  soup_server_add_websocket_handler (self->soup, "/connect", NULL, NULL, on_websocket, self, NULL);
  /* permessage-deflate would let a small compressed frame inflate past the frame limit. */
  soup_server_remove_websocket_extension (self->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
}

/* Long-poll ------------------------------------------------------------------------ */

static gboolean
authenticate_poll (ConfabSandboxServer     *self,
                   SoupServerMessage       *msg,
                   GHashTable              *query,
                   ConfabSandboxConnection *connection,
                   GError                 **error)
{
  g_auto(ConfabSandboxClaims) claims = { 0 };
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *api_key = lookup_param (query, NULL, "api_key", NULL);
  const char *token = lookup_param (query, headers, "authorization", "Authorization");

  if (api_key == NULL || !confab_sandbox_constant_time_equal (api_key, self->api_key))
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_ACCESS_KEY,
                           "api_key not found");
      return FALSE;
    }
  if (token == NULL ||
      !confab_sandbox_jwt_verify (token, self->api_secret, self->allow_dev_tokens,
                                  g_get_real_time () / G_USEC_PER_SEC, &claims, error))
    {
      if (token == NULL)
        g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_AUTH,
                             "JWTAuth error: token is missing");
      return FALSE;
    }
  if (g_strcmp0 (claims.user_id, confab_sandbox_connection_get_user_id (connection)) != 0)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED,
                           "this connection belongs to another user");
      return FALSE;
    }
  return TRUE;
}

void
_confab_sandbox_longpoll (ConfabSandboxServer *self,
                          SoupServerMessage   *msg,
                          GHashTable          *query)
{
  g_autoptr(GError) error = NULL;
  const char *connection_id = query != NULL ? g_hash_table_lookup (query, "connection_id") : NULL;
  const char *close = query != NULL ? g_hash_table_lookup (query, "close") : NULL;
  ConfabSandboxConnection *connection;

  if (connection_id == NULL || *connection_id == '\0')
    {
      g_autoptr(JsonObject) user = NULL;
      g_autoptr(ConfabSandboxConnection) fresh = NULL;
      g_autofree char *hello = NULL;
      g_autofree char *body = NULL;

      user = authenticate_connect (self, query, soup_server_message_get_request_headers (msg), &error);
      if (user == NULL)
        {
          _confab_sandbox_respond_error (msg, error, 0);
          return;
        }

      fresh = confab_sandbox_connection_new_longpoll (json_object_get_string_member (user, "id"),
                                                      self->longpoll_idle);
      hello = health_check_with_me (self, fresh, user);
      confab_sandbox_hub_add (self->hub, fresh);
      body = g_strdup_printf ("{\"event\":%s,\"duration\":\"0.00ms\"}", hello);
      _confab_sandbox_respond_json (msg, SOUP_STATUS_OK, body);
      return;
    }

  connection = confab_sandbox_hub_lookup (self->hub, connection_id);
  if (connection == NULL ||
      confab_sandbox_connection_get_transport (connection) != CONFAB_SANDBOX_TRANSPORT_LONGPOLL)
    {
      _confab_sandbox_respond_error_literal (msg, SOUP_STATUS_BAD_REQUEST,
                                            CONFAB_STREAM_ERROR_CONNECTION_ID_NOT_FOUND,
                                            "connection_id not found");
      return;
    }

  if (!authenticate_poll (self, msg, query, connection, &error))
    {
      _confab_sandbox_respond_error (msg, error, 0);
      return;
    }

  if (g_strcmp0 (close, "true") == 0)
    {
      confab_sandbox_connection_close (connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      _confab_sandbox_respond_json (msg, SOUP_STATUS_OK, "{\"duration\":\"0.00ms\"}");
      return;
    }

  confab_sandbox_connection_hold_poll (connection, msg, self->longpoll_hold);
}
