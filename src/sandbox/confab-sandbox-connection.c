/* confab-sandbox-connection.c: one client connection (WebSocket or long-poll)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sandbox-connection.h"
#include "confab-sandbox-json.h"

/* Stream's client pings every 25 s and gives up after 35 s of silence, so the server's
 * own health.check every 25 s keeps even a silent client alive. */
#define HEALTH_CHECK_INTERVAL_SECONDS 25
/* A long-poll client that stops polling has gone; a slow one must not hoard memory. */
#define LONGPOLL_MAX_QUEUED_EVENTS 10000

struct _ConfabSandboxConnection
{
  GObject                  parent_instance;

  char                    *id;
  char                    *user_id;
  ConfabSandboxTransport   transport;
  gboolean                 closed;

  SoupWebsocketConnection *ws;
  gulong                   ws_closed_id;
  gulong                   ws_message_id;
  guint                    health_id;

  GQueue                  *queued;       /* serialised events (char *) for long-poll */
  SoupServerMessage       *held;
  gulong                   held_finished_id;
  guint                    hold_id;
  guint                    idle_id;
  guint                    idle_timeout;

  GHashTable              *watched;      /* cid → cid */
  GHashTable              *presence;     /* user id → user id */
};

G_DEFINE_FINAL_TYPE (ConfabSandboxConnection, confab_sandbox_connection, G_TYPE_OBJECT)

enum {
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void release_held_poll (ConfabSandboxConnection *self);
static void arm_idle_timer    (ConfabSandboxConnection *self);

static void
mark_closed (ConfabSandboxConnection *self)
{
  g_autoptr(ConfabSandboxConnection) hold = g_object_ref (self);

  if (self->closed)
    return;

  self->closed = TRUE;
  g_clear_handle_id (&self->health_id, g_source_remove);
  g_clear_handle_id (&self->idle_id, g_source_remove);
  g_debug ("connection %s closed", self->id);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
}

static void
confab_sandbox_connection_dispose (GObject *object)
{
  ConfabSandboxConnection *self = (ConfabSandboxConnection *) object;

  release_held_poll (self);
  g_clear_handle_id (&self->health_id, g_source_remove);
  g_clear_handle_id (&self->idle_id, g_source_remove);
  if (self->ws != NULL)
    {
      g_clear_signal_handler (&self->ws_closed_id, self->ws);
      g_clear_signal_handler (&self->ws_message_id, self->ws);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      g_clear_object (&self->ws);
    }

  G_OBJECT_CLASS (confab_sandbox_connection_parent_class)->dispose (object);
}

static void
confab_sandbox_connection_finalize (GObject *object)
{
  ConfabSandboxConnection *self = (ConfabSandboxConnection *) object;

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->user_id, g_free);
  if (self->queued != NULL)
    g_queue_free_full (g_steal_pointer (&self->queued), g_free);
  g_clear_pointer (&self->watched, g_hash_table_unref);
  g_clear_pointer (&self->presence, g_hash_table_unref);

  G_OBJECT_CLASS (confab_sandbox_connection_parent_class)->finalize (object);
}

static void
confab_sandbox_connection_class_init (ConfabSandboxConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_sandbox_connection_dispose;
  object_class->finalize = confab_sandbox_connection_finalize;

  /**
   * ConfabSandboxConnection::closed:
   *
   * The client went away (socket closed, long-poll abandoned or closed). Emitted once.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
confab_sandbox_connection_init (ConfabSandboxConnection *self)
{
  self->id = g_uuid_string_random ();
  self->watched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->presence = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

static char *
health_check_text (ConfabSandboxConnection *self)
{
  g_autofree char *now = confab_sandbox_format_time (g_get_real_time ());

  return g_strdup_printf ("{\"type\":\"health.check\",\"connection_id\":\"%s\",\"cid\":\"*\",\"created_at\":\"%s\"}",
                          self->id, now);
}

static gboolean
on_health_timeout (gpointer user_data)
{
  ConfabSandboxConnection *self = user_data;
  g_autofree char *text = health_check_text (self);

  confab_sandbox_connection_send_text (self, text);
  return G_SOURCE_CONTINUE;
}

/* The JS SDK sends `[{"type":"health.check","client_id":…}]`; anything else on the
 * socket is ignored, as Stream does: every other action goes over REST. */
static void
on_ws_message (SoupWebsocketConnection *ws,
               gint                     type,
               GBytes                  *message,
               gpointer                 user_data)
{
  ConfabSandboxConnection *self = user_data;
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *reply = NULL;
  const char *data;
  gsize length = 0;
  JsonNode *root;
  JsonObject *object = NULL;

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      g_debug ("connection %s: ignoring a binary frame", self->id);
      return;
    }

  data = g_bytes_get_data (message, &length);
  parser = json_parser_new_immutable ();
  if (length == 0 || !g_utf8_validate_len (data, length, NULL) ||
      !confab_sandbox_json_check_depth (data, length, NULL) ||
      !json_parser_load_from_data (parser, data, length, NULL))
    {
      g_debug ("connection %s: ignoring a frame that is not JSON", self->id);
      return;
    }

  root = json_parser_get_root (parser);
  if (JSON_NODE_HOLDS_ARRAY (root) && json_array_get_length (json_node_get_array (root)) > 0)
    {
      JsonNode *first = json_array_get_element (json_node_get_array (root), 0);

      if (JSON_NODE_HOLDS_OBJECT (first))
        object = json_node_get_object (first);
    }
  else if (JSON_NODE_HOLDS_OBJECT (root))
    object = json_node_get_object (root);

  if (object == NULL ||
      g_strcmp0 (json_object_get_string_member_with_default (object, "type", ""), "health.check") != 0)
    {
      g_debug ("connection %s: ignoring an unknown frame", self->id);
      return;
    }

  reply = health_check_text (self);
  confab_sandbox_connection_send_text (self, reply);
}

static void
on_ws_closed (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  mark_closed (CONFAB_SANDBOX_CONNECTION (user_data));
}

ConfabSandboxConnection *
confab_sandbox_connection_new_websocket (const char              *user_id,
                                         SoupWebsocketConnection *ws)
{
  ConfabSandboxConnection *self;

  g_return_val_if_fail (user_id != NULL, NULL);
  g_return_val_if_fail (SOUP_IS_WEBSOCKET_CONNECTION (ws), NULL);

  self = g_object_new (CONFAB_SANDBOX_TYPE_CONNECTION, NULL);
  self->user_id = g_strdup (user_id);
  self->transport = CONFAB_SANDBOX_TRANSPORT_WEBSOCKET;
  self->ws = g_object_ref (ws);
  self->ws_closed_id = g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), self);
  self->ws_message_id = g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), self);
  self->health_id = g_timeout_add_seconds (HEALTH_CHECK_INTERVAL_SECONDS, on_health_timeout, self);

  return self;
}

static gboolean
on_idle_timeout (gpointer user_data)
{
  ConfabSandboxConnection *self = user_data;

  self->idle_id = 0;
  g_debug ("long-poll connection %s abandoned", self->id);
  mark_closed (self);
  return G_SOURCE_REMOVE;
}

static void
arm_idle_timer (ConfabSandboxConnection *self)
{
  g_clear_handle_id (&self->idle_id, g_source_remove);
  if (!self->closed)
    self->idle_id = g_timeout_add_seconds (self->idle_timeout, on_idle_timeout, self);
}

ConfabSandboxConnection *
confab_sandbox_connection_new_longpoll (const char *user_id,
                                        guint       idle_timeout_seconds)
{
  ConfabSandboxConnection *self;

  g_return_val_if_fail (user_id != NULL, NULL);

  self = g_object_new (CONFAB_SANDBOX_TYPE_CONNECTION, NULL);
  self->user_id = g_strdup (user_id);
  self->transport = CONFAB_SANDBOX_TRANSPORT_LONGPOLL;
  self->queued = g_queue_new ();
  self->idle_timeout = MAX (idle_timeout_seconds, 1);
  arm_idle_timer (self);

  return self;
}

const char *
confab_sandbox_connection_get_id (ConfabSandboxConnection *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), NULL);
  return self->id;
}

const char *
confab_sandbox_connection_get_user_id (ConfabSandboxConnection *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), NULL);
  return self->user_id;
}

ConfabSandboxTransport
confab_sandbox_connection_get_transport (ConfabSandboxConnection *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), CONFAB_SANDBOX_TRANSPORT_WEBSOCKET);
  return self->transport;
}

gboolean
confab_sandbox_connection_is_closed (ConfabSandboxConnection *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), TRUE);
  return self->closed;
}

static void
on_held_finished (SoupServerMessage *msg,
                  gpointer           user_data)
{
  ConfabSandboxConnection *self = user_data;

  /* The client hung up (or the answer went out): the message is no longer ours. */
  if (self->held == msg)
    {
      g_clear_signal_handler (&self->held_finished_id, self->held);
      g_clear_handle_id (&self->hold_id, g_source_remove);
      g_clear_object (&self->held);
      arm_idle_timer (self);
    }
}

/* Answer the held poll (if any) with every queued event. */
static void
flush_poll (ConfabSandboxConnection *self)
{
  g_autoptr(GString) body = g_string_new ("{\"events\":[");
  g_autoptr(SoupServerMessage) msg = NULL;
  char *text;
  gboolean first = TRUE;

  if (self->held == NULL)
    return;

  msg = g_steal_pointer (&self->held);
  g_clear_signal_handler (&self->held_finished_id, msg);
  g_clear_handle_id (&self->hold_id, g_source_remove);

  while ((text = g_queue_pop_head (self->queued)) != NULL)
    {
      if (!first)
        g_string_append_c (body, ',');
      g_string_append (body, text);
      g_free (text);
      first = FALSE;
    }
  g_string_append (body, "],\"duration\":\"0.00ms\"}");

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body->str, body->len);
  soup_server_message_unpause (msg);
  arm_idle_timer (self);
}

static void
release_held_poll (ConfabSandboxConnection *self)
{
  if (self->held != NULL)
    flush_poll (self);
}

static gboolean
on_hold_timeout (gpointer user_data)
{
  ConfabSandboxConnection *self = user_data;

  self->hold_id = 0;
  flush_poll (self);
  return G_SOURCE_REMOVE;
}

void
confab_sandbox_connection_hold_poll (ConfabSandboxConnection *self,
                                     SoupServerMessage       *msg,
                                     guint                    hold_seconds)
{
  g_return_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self));
  g_return_if_fail (self->transport == CONFAB_SANDBOX_TRANSPORT_LONGPOLL);

  /* A newer poll supersedes an older one: answer the old one now. */
  release_held_poll (self);
  g_clear_handle_id (&self->idle_id, g_source_remove);

  self->held = g_object_ref (msg);
  self->held_finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_held_finished), self);
  soup_server_message_pause (msg);

  if (!g_queue_is_empty (self->queued) || self->closed)
    flush_poll (self);
  else
    self->hold_id = g_timeout_add_seconds (MAX (hold_seconds, 1), on_hold_timeout, self);
}

void
confab_sandbox_connection_send_text (ConfabSandboxConnection *self,
                                     const char              *text)
{
  g_return_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self));
  g_return_if_fail (text != NULL);

  if (self->closed)
    return;

  if (self->transport == CONFAB_SANDBOX_TRANSPORT_WEBSOCKET)
    {
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_text (self->ws, text);
      return;
    }

  if (g_queue_get_length (self->queued) >= LONGPOLL_MAX_QUEUED_EVENTS)
    {
      g_message ("long-poll connection %s fell too far behind; closing it", self->id);
      confab_sandbox_connection_close (self, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, NULL);
      return;
    }

  g_queue_push_tail (self->queued, g_strdup (text));
  flush_poll (self);
}

void
confab_sandbox_connection_send (ConfabSandboxConnection *self,
                                JsonObject              *event)
{
  g_autofree char *text = NULL;

  g_return_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self));
  g_return_if_fail (event != NULL);

  text = confab_sandbox_json_to_string (event);
  confab_sandbox_connection_send_text (self, text);
}

void
confab_sandbox_connection_close (ConfabSandboxConnection *self,
                                 gushort                  code,
                                 const char              *reason)
{
  g_return_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self));

  if (self->transport == CONFAB_SANDBOX_TRANSPORT_WEBSOCKET)
    {
      SoupWebsocketState state = soup_websocket_connection_get_state (self->ws);

      if (state == SOUP_WEBSOCKET_STATE_OPEN)
        {
          soup_websocket_connection_close (self->ws, code, reason);
          return; /* "closed" follows */
        }
      mark_closed (self);
      return;
    }

  {
    /* Emitting "closed" can drop the hub's reference, the last one. */
    g_autoptr(ConfabSandboxConnection) hold = g_object_ref (self);

    mark_closed (self);
    release_held_poll (self);
  }
}

gboolean
confab_sandbox_connection_watch (ConfabSandboxConnection *self,
                                 const char              *cid)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), FALSE);
  return g_hash_table_add (self->watched, g_strdup (cid));
}

gboolean
confab_sandbox_connection_unwatch (ConfabSandboxConnection *self,
                                   const char              *cid)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), FALSE);
  return g_hash_table_remove (self->watched, cid);
}

gboolean
confab_sandbox_connection_is_watching (ConfabSandboxConnection *self,
                                       const char              *cid)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), FALSE);
  return g_hash_table_contains (self->watched, cid);
}

GPtrArray *
confab_sandbox_connection_dup_watched (ConfabSandboxConnection *self)
{
  GPtrArray *cids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), cids);

  g_hash_table_iter_init (&iter, self->watched);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (cids, g_strdup (key));

  return cids;
}

void
confab_sandbox_connection_subscribe_presence (ConfabSandboxConnection *self,
                                              const char              *user_id)
{
  g_return_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self));
  g_hash_table_add (self->presence, g_strdup (user_id));
}

gboolean
confab_sandbox_connection_wants_presence (ConfabSandboxConnection *self,
                                          const char              *user_id)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_CONNECTION (self), FALSE);
  return g_hash_table_contains (self->presence, user_id);
}
