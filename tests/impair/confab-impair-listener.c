/* confab-impair-listener.c: one listening address, its upstream, its rules and connections
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-impair-listener.h"
#include "confab-impair-pipe.h"

struct _ConfabImpairListener
{
  GObject             parent_instance;

  char               *name;
  GInetSocketAddress *listen;      /* as asked; the port becomes the bound one */
  GInetSocketAddress *upstream;
  ConfabImpairRules  *rules;
  GSocketService     *service;     /* NULL while refusing */
  GPtrArray          *pipes;
  GRand              *rand;
  ConfabImpairCut     cut;
  guint16             port;
  gboolean            started;
  guint64             stats[CONFAB_IMPAIR_N_STATS];
};

G_DEFINE_FINAL_TYPE (ConfabImpairListener, confab_impair_listener, G_TYPE_OBJECT)

static const char *const cut_names[] = { "none", "silent", "reset", "refuse" };
static const char *const stat_names[] = {
  "accepted", "upstream_failed", "ws_seen", "ws_blocked", "http_requests", "captive",
  "resets", "bytes_up", "bytes_down", "tunnels", "proxy_denied",
};

G_STATIC_ASSERT (G_N_ELEMENTS (stat_names) == CONFAB_IMPAIR_N_STATS);

const char *
confab_impair_cut_to_string (ConfabImpairCut cut)
{
  g_return_val_if_fail ((guint) cut < G_N_ELEMENTS (cut_names), "?");
  return cut_names[cut];
}

gboolean
confab_impair_cut_from_string (const char      *text,
                               ConfabImpairCut *out)
{
  for (guint i = 1; i < G_N_ELEMENTS (cut_names); i++)
    if (g_strcmp0 (text, cut_names[i]) == 0)
      {
        *out = (ConfabImpairCut) i;
        return TRUE;
      }
  return FALSE;
}

static void
on_pipe_closed (ConfabImpairPipe     *pipe,
                ConfabImpairListener *self)
{
  g_signal_handlers_disconnect_by_data (pipe, self);
  g_ptr_array_remove_fast (self->pipes, pipe);
}

static gboolean
on_incoming (GSocketService       *service,
             GSocketConnection    *connection,
             GObject              *source,
             ConfabImpairListener *self)
{
  g_autoptr(ConfabImpairPipe) pipe = NULL;

  self->stats[CONFAB_IMPAIR_STAT_ACCEPTED]++;
  if (self->cut == CONFAB_IMPAIR_CUT_RESET || self->cut == CONFAB_IMPAIR_CUT_REFUSE)
    {
      self->stats[CONFAB_IMPAIR_STAT_RESETS]++;
      confab_impair_socket_reset (g_socket_connection_get_socket (connection));
      return TRUE;
    }
  pipe = confab_impair_pipe_new (self, connection);
  g_ptr_array_add (self->pipes, g_object_ref (pipe));
  g_signal_connect (pipe, "closed", G_CALLBACK (on_pipe_closed), self);
  confab_impair_pipe_start (pipe, self->cut == CONFAB_IMPAIR_CUT_SILENT);
  return TRUE;
}

static gboolean
bind_port (ConfabImpairListener *self,
           GError              **error)
{
  g_autoptr(GSocketService) service = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;

  if (self->service != NULL)
    return TRUE;
  address = g_inet_socket_address_new (g_inet_socket_address_get_address (self->listen), self->port);
  service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, &local_error))
    {
      g_autofree char *where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));

      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_BIND,
                   "listener %s cannot listen on %s: %s", self->name, where, local_error->message);
      return FALSE;
    }
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (service);
  self->service = g_steal_pointer (&service);
  return TRUE;
}

static void
unbind_port (ConfabImpairListener *self)
{
  if (self->service == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->service, self);
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_clear_object (&self->service);
}

static gboolean
should_listen (ConfabImpairListener *self)
{
  return self->started && self->rules->mode != CONFAB_IMPAIR_MODE_REFUSE && self->cut != CONFAB_IMPAIR_CUT_REFUSE;
}

static gboolean
sync_port (ConfabImpairListener *self,
           GError              **error)
{
  if (should_listen (self))
    return bind_port (self, error);
  unbind_port (self);
  return TRUE;
}

static gpointer
copy_ref (gconstpointer src,
          gpointer      data)
{
  return g_object_ref ((gpointer) src);
}

static void
reset_all (ConfabImpairListener *self)
{
  g_autoptr(GPtrArray) pipes = g_ptr_array_copy (self->pipes, copy_ref, NULL);

  g_ptr_array_set_free_func (pipes, g_object_unref);
  for (guint i = 0; i < pipes->len; i++)
    confab_impair_pipe_reset (g_ptr_array_index (pipes, i));
}

static void
stall_all (ConfabImpairListener *self,
           gboolean              stalled)
{
  g_autoptr(GPtrArray) pipes = g_ptr_array_copy (self->pipes, copy_ref, NULL);

  g_ptr_array_set_free_func (pipes, g_object_unref);
  for (guint i = 0; i < pipes->len; i++)
    confab_impair_pipe_stall (g_ptr_array_index (pipes, i), stalled);
}

gboolean
confab_impair_listener_start (ConfabImpairListener *self,
                              GError              **error)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), FALSE);

  if (self->started)
    return TRUE;
  self->started = TRUE;
  /* Bind once even when refusing, so the port is known (and stays ours to rebind). */
  if (!bind_port (self, error))
    {
      self->started = FALSE;
      return FALSE;
    }
  return sync_port (self, error);
}

void
confab_impair_listener_stop (ConfabImpairListener *self)
{
  g_return_if_fail (CONFAB_IMPAIR_IS_LISTENER (self));

  self->started = FALSE;
  unbind_port (self);
  reset_all (self);
}

gboolean
confab_impair_listener_set_rules (ConfabImpairListener    *self,
                                  const ConfabImpairRules *rules,
                                  GError                 **error)
{
  ConfabImpairRules *old;

  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), FALSE);
  g_return_val_if_fail (rules != NULL, FALSE);

  if (!rules->connect_proxy && self->upstream == NULL)
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE,
                   "listener %s has no upstream: only proxy=connect works for it", self->name);
      return FALSE;
    }
  old = self->rules;
  self->rules = confab_impair_rules_copy (rules);
  if (!sync_port (self, error))
    {
      confab_impair_rules_free (self->rules);
      self->rules = old;
      return FALSE;
    }
  confab_impair_rules_free (old);
  if (self->rules->mode == CONFAB_IMPAIR_MODE_REFUSE)
    reset_all (self);
  return TRUE;
}

gboolean
confab_impair_listener_set_upstream (ConfabImpairListener *self,
                                     GInetSocketAddress   *upstream,
                                     GError              **error)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (upstream), FALSE);

  if (!confab_impair_address_is_loopback (g_inet_socket_address_get_address (upstream)))
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_NOT_LOOPBACK,
                   "the upstream must be a loopback address");
      return FALSE;
    }
  g_set_object (&self->upstream, upstream);
  return TRUE;
}

gboolean
confab_impair_listener_cut (ConfabImpairListener *self,
                            ConfabImpairCut       cut,
                            GError              **error)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), FALSE);
  g_return_val_if_fail (cut != CONFAB_IMPAIR_CUT_NONE, FALSE);

  if (self->cut == CONFAB_IMPAIR_CUT_SILENT && cut != CONFAB_IMPAIR_CUT_SILENT)
    stall_all (self, FALSE);
  self->cut = cut;
  if (cut == CONFAB_IMPAIR_CUT_SILENT)
    stall_all (self, TRUE);
  else
    reset_all (self);
  return sync_port (self, error);
}

gboolean
confab_impair_listener_restore (ConfabImpairListener *self,
                                GError              **error)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), FALSE);

  if (self->cut == CONFAB_IMPAIR_CUT_SILENT)
    stall_all (self, FALSE);
  self->cut = CONFAB_IMPAIR_CUT_NONE;
  return sync_port (self, error);
}

const char *
confab_impair_listener_get_name (ConfabImpairListener *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), NULL);
  return self->name;
}

const ConfabImpairRules *
confab_impair_listener_get_rules (ConfabImpairListener *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), NULL);
  return self->rules;
}

GInetSocketAddress *
confab_impair_listener_get_upstream (ConfabImpairListener *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), NULL);
  return self->upstream;
}

guint16
confab_impair_listener_get_port (ConfabImpairListener *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), 0);
  return self->port;
}

GInetSocketAddress *
confab_impair_listener_get_address (ConfabImpairListener *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), NULL);
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (g_inet_socket_address_get_address (self->listen),
                                                           self->port));
}

ConfabImpairCut
confab_impair_listener_get_cut (ConfabImpairListener *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), CONFAB_IMPAIR_CUT_NONE);
  return self->cut;
}

guint
confab_impair_listener_get_n_connections (ConfabImpairListener *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), 0);
  return self->pipes->len;
}

guint64
confab_impair_listener_get_stat (ConfabImpairListener *self,
                                 ConfabImpairStat      stat)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), 0);
  g_return_val_if_fail (stat < CONFAB_IMPAIR_N_STATS, 0);
  return self->stats[stat];
}

void
confab_impair_listener_count (ConfabImpairListener *self,
                              ConfabImpairStat      stat,
                              guint64               n)
{
  g_return_if_fail (CONFAB_IMPAIR_IS_LISTENER (self));
  g_return_if_fail (stat < CONFAB_IMPAIR_N_STATS);
  self->stats[stat] += n;
}

GRand *
confab_impair_listener_get_rand (ConfabImpairListener *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (self), NULL);
  return self->rand;
}

static void
add_address (JsonBuilder        *builder,
             const char         *member,
             GInetSocketAddress *address,
             guint16             port)
{
  g_autofree char *host = NULL;
  g_autofree char *text = NULL;

  json_builder_set_member_name (builder, member);
  if (address == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }
  host = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  if (g_inet_address_get_family (g_inet_socket_address_get_address (address)) == G_SOCKET_FAMILY_IPV6)
    text = g_strdup_printf ("[%s]:%u", host, port);
  else
    text = g_strdup_printf ("%s:%u", host, port);
  json_builder_add_string_value (builder, text);
}

void
confab_impair_listener_add_json (ConfabImpairListener *self,
                                 JsonBuilder          *builder)
{
  g_return_if_fail (CONFAB_IMPAIR_IS_LISTENER (self));

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, self->name);
  add_address (builder, "listen", self->listen, self->port);
  add_address (builder, "upstream", self->upstream,
               self->upstream != NULL ? g_inet_socket_address_get_port (self->upstream) : 0);
  json_builder_set_member_name (builder, "listening");
  json_builder_add_boolean_value (builder, self->service != NULL);
  json_builder_set_member_name (builder, "cut");
  json_builder_add_string_value (builder, confab_impair_cut_to_string (self->cut));
  json_builder_set_member_name (builder, "connections");
  json_builder_add_int_value (builder, self->pipes->len);
  json_builder_set_member_name (builder, "rules");
  json_builder_begin_object (builder);
  confab_impair_rules_add_json (self->rules, builder);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "stats");
  json_builder_begin_object (builder);
  for (guint i = 0; i < CONFAB_IMPAIR_N_STATS; i++)
    {
      json_builder_set_member_name (builder, stat_names[i]);
      json_builder_add_int_value (builder, (gint64) self->stats[i]);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
}

ConfabImpairListener *
confab_impair_listener_new (const char              *name,
                            GInetSocketAddress      *listen,
                            GInetSocketAddress      *upstream,
                            const ConfabImpairRules *rules,
                            guint32                  seed)
{
  ConfabImpairListener *self;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (listen), NULL);
  g_return_val_if_fail (upstream == NULL || G_IS_INET_SOCKET_ADDRESS (upstream), NULL);

  self = g_object_new (CONFAB_IMPAIR_TYPE_LISTENER, NULL);
  self->name = g_strdup (name);
  self->listen = g_object_ref (listen);
  self->port = g_inet_socket_address_get_port (listen);
  self->upstream = upstream != NULL ? g_object_ref (upstream) : NULL;
  self->rules = rules != NULL ? confab_impair_rules_copy (rules) : confab_impair_rules_new ();
  self->rand = g_rand_new_with_seed (seed);
  return self;
}

static void
confab_impair_listener_dispose (GObject *object)
{
  ConfabImpairListener *self = CONFAB_IMPAIR_LISTENER (object);

  unbind_port (self);
  if (self->pipes != NULL)
    {
      reset_all (self);
      g_clear_pointer (&self->pipes, g_ptr_array_unref);
    }
  g_clear_object (&self->listen);
  g_clear_object (&self->upstream);

  G_OBJECT_CLASS (confab_impair_listener_parent_class)->dispose (object);
}

static void
confab_impair_listener_finalize (GObject *object)
{
  ConfabImpairListener *self = CONFAB_IMPAIR_LISTENER (object);

  g_free (self->name);
  g_clear_pointer (&self->rules, confab_impair_rules_free);
  g_clear_pointer (&self->rand, g_rand_free);

  G_OBJECT_CLASS (confab_impair_listener_parent_class)->finalize (object);
}

static void
confab_impair_listener_class_init (ConfabImpairListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_impair_listener_dispose;
  object_class->finalize = confab_impair_listener_finalize;
}

static void
confab_impair_listener_init (ConfabImpairListener *self)
{
  self->pipes = g_ptr_array_new_with_free_func (g_object_unref);
}
