/* confab-sandbox-hub.c: live connections, subscriptions and event fan-out
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-sandbox-hub.h"
#include "confab-sandbox-json.h"

struct _ConfabSandboxHub
{
  GObject     parent_instance;

  GHashTable *connections;   /* connection id → ConfabSandboxConnection */
  GHashTable *by_user;       /* user id → GPtrArray of ConfabSandboxConnection (unowned) */
  guint       n_by_transport[2];
};

G_DEFINE_FINAL_TYPE (ConfabSandboxHub, confab_sandbox_hub, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_N_CONNECTIONS,
  N_PROPS
};

enum {
  SIGNAL_PRESENCE_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void on_connection_closed (ConfabSandboxConnection *connection,
                                  gpointer                 user_data);

static void
confab_sandbox_hub_dispose (GObject *object)
{
  ConfabSandboxHub *self = (ConfabSandboxHub *) object;

  if (self->connections != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->connections);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_signal_handlers_disconnect_by_func (value, on_connection_closed, self);
    }
  g_clear_pointer (&self->by_user, g_hash_table_unref);
  g_clear_pointer (&self->connections, g_hash_table_unref);

  G_OBJECT_CLASS (confab_sandbox_hub_parent_class)->dispose (object);
}

static void
confab_sandbox_hub_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  ConfabSandboxHub *self = CONFAB_SANDBOX_HUB (object);

  switch (prop_id)
    {
    case PROP_N_CONNECTIONS:
      g_value_set_uint (value, self->connections != NULL ? g_hash_table_size (self->connections) : 0);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_sandbox_hub_class_init (ConfabSandboxHubClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_sandbox_hub_dispose;
  object_class->get_property = confab_sandbox_hub_get_property;

  properties[PROP_N_CONNECTIONS] =
    g_param_spec_uint ("n-connections", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabSandboxHub::presence-changed:
   * @user_id: the user
   * @online: whether the user now has at least one connection
   *
   * Emitted on a user's first connect and last disconnect, as Stream does.
   */
  signals[SIGNAL_PRESENCE_CHANGED] =
    g_signal_new ("presence-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
confab_sandbox_hub_init (ConfabSandboxHub *self)
{
  self->connections = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  self->by_user = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_ptr_array_unref);
}

ConfabSandboxHub *
confab_sandbox_hub_new (void)
{
  return g_object_new (CONFAB_SANDBOX_TYPE_HUB, NULL);
}

static void
on_connection_closed (ConfabSandboxConnection *connection,
                      gpointer                 user_data)
{
  ConfabSandboxHub *self = user_data;
  g_autoptr(ConfabSandboxConnection) hold = g_object_ref (connection);
  g_autofree char *user_id = g_strdup (confab_sandbox_connection_get_user_id (connection));
  GPtrArray *mine;
  gboolean last = FALSE;

  g_signal_handlers_disconnect_by_func (connection, on_connection_closed, self);
  if (!g_hash_table_remove (self->connections, confab_sandbox_connection_get_id (connection)))
    return;

  self->n_by_transport[confab_sandbox_connection_get_transport (connection)]--;
  mine = g_hash_table_lookup (self->by_user, user_id);
  if (mine != NULL)
    {
      g_ptr_array_remove (mine, connection);
      if (mine->len == 0)
        {
          g_hash_table_remove (self->by_user, user_id);
          last = TRUE;
        }
    }

  g_debug ("connection %s removed; %u open", confab_sandbox_connection_get_id (connection),
           g_hash_table_size (self->connections));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CONNECTIONS]);
  if (last)
    g_signal_emit (self, signals[SIGNAL_PRESENCE_CHANGED], 0, user_id, FALSE);
}

void
confab_sandbox_hub_add (ConfabSandboxHub        *self,
                        ConfabSandboxConnection *connection)
{
  const char *user_id;
  GPtrArray *mine;
  gboolean first = FALSE;

  g_return_if_fail (CONFAB_SANDBOX_IS_HUB (self));
  g_return_if_fail (CONFAB_SANDBOX_IS_CONNECTION (connection));
  g_return_if_fail (!confab_sandbox_connection_is_closed (connection));

  user_id = confab_sandbox_connection_get_user_id (connection);
  g_hash_table_insert (self->connections,
                       (gpointer) confab_sandbox_connection_get_id (connection),
                       g_object_ref (connection));
  self->n_by_transport[confab_sandbox_connection_get_transport (connection)]++;

  mine = g_hash_table_lookup (self->by_user, user_id);
  if (mine == NULL)
    {
      mine = g_ptr_array_new ();
      g_hash_table_insert (self->by_user, g_strdup (user_id), mine);
      first = TRUE;
    }
  g_ptr_array_add (mine, connection);
  g_signal_connect (connection, "closed", G_CALLBACK (on_connection_closed), self);

  g_debug ("connection %s added; %u open", confab_sandbox_connection_get_id (connection),
           g_hash_table_size (self->connections));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CONNECTIONS]);
  if (first)
    g_signal_emit (self, signals[SIGNAL_PRESENCE_CHANGED], 0, user_id, TRUE);
}

ConfabSandboxConnection *
confab_sandbox_hub_lookup (ConfabSandboxHub *self,
                           const char       *connection_id)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_HUB (self), NULL);

  if (connection_id == NULL)
    return NULL;
  return g_hash_table_lookup (self->connections, connection_id);
}

gboolean
confab_sandbox_hub_is_online (ConfabSandboxHub *self,
                              const char       *user_id)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_HUB (self), FALSE);
  return user_id != NULL && g_hash_table_contains (self->by_user, user_id);
}

guint
confab_sandbox_hub_get_n_connections (ConfabSandboxHub       *self,
                                      ConfabSandboxTransport  transport)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_HUB (self), 0);
  return self->n_by_transport[transport];
}

guint
confab_sandbox_hub_get_n_online_users (ConfabSandboxHub *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_HUB (self), 0);
  return g_hash_table_size (self->by_user);
}

static GPtrArray *
snapshot (ConfabSandboxHub *self)
{
  GPtrArray *all = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (all, g_object_ref (value));
  return all;
}

void
confab_sandbox_hub_close_all (ConfabSandboxHub *self)
{
  g_autoptr(GPtrArray) all = NULL;

  g_return_if_fail (CONFAB_SANDBOX_IS_HUB (self));

  all = snapshot (self);
  for (guint i = 0; i < all->len; i++)
    confab_sandbox_connection_close (g_ptr_array_index (all, i),
                                     SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down");
}

gboolean
confab_sandbox_hub_is_watched_by_user (ConfabSandboxHub *self,
                                       const char       *cid,
                                       const char       *user_id)
{
  GPtrArray *mine;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_HUB (self), FALSE);

  mine = g_hash_table_lookup (self->by_user, user_id);
  for (guint i = 0; mine != NULL && i < mine->len; i++)
    if (confab_sandbox_connection_is_watching (g_ptr_array_index (mine, i), cid))
      return TRUE;
  return FALSE;
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

/* Distinct user ids watching @cid, sorted. */
char **
confab_sandbox_hub_dup_watchers (ConfabSandboxHub *self,
                                 const char       *cid)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;
  gpointer value;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_HUB (self), NULL);

  g_hash_table_iter_init (&iter, self->by_user);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GPtrArray *mine = value;

      for (guint i = 0; i < mine->len; i++)
        if (confab_sandbox_connection_is_watching (g_ptr_array_index (mine, i), cid))
          {
            g_ptr_array_add (ids, key);
            break;
          }
    }

  g_ptr_array_sort (ids, compare_strings);
  for (guint i = 0; i < ids->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (ids, i));
  return g_strv_builder_end (builder);
}

/* Personalising sets top-level members only, so nested values can be shared. */
static JsonObject *
shallow_copy (JsonObject *event)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  json_object_iter_init (&iter, event);
  while (json_object_iter_next (&iter, &name, &node))
    json_object_set_member (copy, name, json_node_copy (node));
  return copy;
}

/* Sending can close a connection (a long-poll client too far behind), which changes the
 * hub's tables: every fan-out works on a snapshot of its targets. */
typedef struct
{
  char                    *user_id;
  ConfabSandboxConnection *connection;
} Target;

static void
target_clear (gpointer data)
{
  Target *target = data;

  g_free (target->user_id);
  g_object_unref (target->connection);
}

static GArray *
watching_targets (ConfabSandboxHub *self,
                  const char       *cid)
{
  GArray *targets = g_array_new (FALSE, FALSE, sizeof (Target));
  GHashTableIter iter;
  gpointer key;
  gpointer value;

  g_array_set_clear_func (targets, target_clear);
  g_hash_table_iter_init (&iter, self->by_user);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GPtrArray *mine = value;

      for (guint i = 0; i < mine->len; i++)
        if (confab_sandbox_connection_is_watching (g_ptr_array_index (mine, i), cid))
          {
            Target target = { g_strdup (key), g_object_ref (g_ptr_array_index (mine, i)) };

            g_array_append_val (targets, target);
          }
    }
  return targets;
}

void
confab_sandbox_hub_send_to_watchers (ConfabSandboxHub         *self,
                                     const char               *cid,
                                     JsonObject               *event,
                                     ConfabSandboxPersonalize  personalize,
                                     gpointer                  user_data)
{
  g_autoptr(GArray) targets = NULL;
  g_autofree char *shared = NULL;
  g_autofree char *personal = NULL;
  const char *personal_for = NULL;

  g_return_if_fail (CONFAB_SANDBOX_IS_HUB (self));
  g_return_if_fail (cid != NULL && event != NULL);

  if (personalize == NULL)
    shared = confab_sandbox_json_to_string (event);

  /* Grouped by user, so a personalised copy is serialised once however many tabs they have. */
  targets = watching_targets (self, cid);
  for (guint i = 0; i < targets->len; i++)
    {
      Target *target = &g_array_index (targets, Target, i);

      if (shared == NULL && g_strcmp0 (personal_for, target->user_id) != 0)
        {
          g_autoptr(JsonObject) copy = shallow_copy (event);

          personalize (copy, target->user_id, user_data);
          g_free (personal);
          personal = confab_sandbox_json_to_string (copy);
          personal_for = target->user_id;
        }
      confab_sandbox_connection_send_text (target->connection, shared != NULL ? shared : personal);
    }
}

void
confab_sandbox_hub_send_to_user (ConfabSandboxHub *self,
                                 const char       *user_id,
                                 JsonObject       *event)
{
  g_autoptr(GPtrArray) targets = NULL;
  g_autofree char *text = NULL;
  GPtrArray *mine;

  g_return_if_fail (CONFAB_SANDBOX_IS_HUB (self));

  mine = g_hash_table_lookup (self->by_user, user_id);
  if (mine == NULL)
    return;

  targets = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < mine->len; i++)
    g_ptr_array_add (targets, g_object_ref (g_ptr_array_index (mine, i)));
  text = confab_sandbox_json_to_string (event);
  for (guint i = 0; i < targets->len; i++)
    confab_sandbox_connection_send_text (g_ptr_array_index (targets, i), text);
}

void
confab_sandbox_hub_send_presence (ConfabSandboxHub *self,
                                  const char       *user_id,
                                  JsonObject       *event)
{
  g_autoptr(GPtrArray) all = NULL;
  g_autofree char *text = NULL;

  g_return_if_fail (CONFAB_SANDBOX_IS_HUB (self));

  text = confab_sandbox_json_to_string (event);
  all = snapshot (self);
  for (guint i = 0; i < all->len; i++)
    if (confab_sandbox_connection_wants_presence (g_ptr_array_index (all, i), user_id))
      confab_sandbox_connection_send_text (g_ptr_array_index (all, i), text);
}
