/* confab-endpoint-set.c: the ordered server endpoints, and which one worked on which network
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-endpoint-set.h"
#include "confab-error.h"
#include "confab-secure-url.h"

#define MEMORY_GROUP "endpoints"

struct _ConfabEndpointSet
{
  GObject                    parent_instance;

  GPtrArray                 *urls;          /* char *, normalised */
  char                      *memory_path;
  GKeyFile                  *memory;        /* network hash → URL */
  char                      *network;       /* hash of the current network, or NULL */
  ConfabNetworkIdentityFunc  network_func;
  gpointer                   network_data;
  GDestroyNotify             network_destroy;
};

G_DEFINE_FINAL_TYPE (ConfabEndpointSet, confab_endpoint_set, G_TYPE_OBJECT)

static void
confab_endpoint_set_finalize (GObject *object)
{
  ConfabEndpointSet *self = CONFAB_ENDPOINT_SET (object);

  if (self->network_destroy != NULL)
    self->network_destroy (self->network_data);
  g_clear_pointer (&self->urls, g_ptr_array_unref);
  g_clear_pointer (&self->memory, g_key_file_unref);
  g_free (self->memory_path);
  g_free (self->network);

  G_OBJECT_CLASS (confab_endpoint_set_parent_class)->finalize (object);
}

static void
confab_endpoint_set_class_init (ConfabEndpointSetClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_endpoint_set_finalize;
}

static void
confab_endpoint_set_init (ConfabEndpointSet *self)
{
  self->urls = g_ptr_array_new_with_free_func (g_free);
  self->memory = g_key_file_new ();
}

/* ws → http, wss → https, no trailing '/'. @url has passed confab_secure_url_check(). */
static char *
normalise (const char *url)
{
  g_autofree char *copy = NULL;
  gsize len;

  if (g_ascii_strncasecmp (url, "wss://", 6) == 0)
    copy = g_strconcat ("https://", url + 6, NULL);
  else if (g_ascii_strncasecmp (url, "ws://", 5) == 0)
    copy = g_strconcat ("http://", url + 5, NULL);
  else
    copy = g_strdup (url);

  len = strlen (copy);
  while (len > 0 && copy[len - 1] == '/')
    copy[--len] = '\0';
  return g_steal_pointer (&copy);
}

ConfabEndpointSet *
confab_endpoint_set_new (const char *const  *urls,
                         GError            **error)
{
  g_autoptr(ConfabEndpointSet) self = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (urls == NULL || urls[0] == NULL)
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL, "No server address was given");
      return NULL;
    }

  self = g_object_new (CONFAB_TYPE_ENDPOINT_SET, NULL);
  for (guint i = 0; urls[i] != NULL; i++)
    {
      g_autoptr(GError) local = NULL;
      g_autofree char *url = NULL;

      if (!confab_secure_url_check (urls[i], &local))
        {
          /* The check's message names the scheme and host only. */
          g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                       "Server address %u: %s", i + 1, local->message);
          return NULL;
        }
      url = normalise (urls[i]);
      if (confab_endpoint_set_find (self, url) < 0)
        g_ptr_array_add (self->urls, g_steal_pointer (&url));
    }

  return g_steal_pointer (&self);
}

guint
confab_endpoint_set_get_n_endpoints (ConfabEndpointSet *self)
{
  g_return_val_if_fail (CONFAB_IS_ENDPOINT_SET (self), 0);

  return self->urls->len;
}

const char *
confab_endpoint_set_get_url (ConfabEndpointSet *self,
                             guint              index)
{
  g_return_val_if_fail (CONFAB_IS_ENDPOINT_SET (self), NULL);
  g_return_val_if_fail (index < self->urls->len, NULL);

  return g_ptr_array_index (self->urls, index);
}

int
confab_endpoint_set_find (ConfabEndpointSet *self,
                          const char        *url)
{
  g_autofree char *normal = NULL;

  g_return_val_if_fail (CONFAB_IS_ENDPOINT_SET (self), -1);

  if (url == NULL)
    return -1;
  normal = normalise (url);
  for (guint i = 0; i < self->urls->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (self->urls, i), normal) == 0)
      return (int) i;
  return -1;
}

char *
confab_endpoint_set_dup_label (ConfabEndpointSet *self,
                               guint              index)
{
  g_autoptr(GUri) uri = NULL;

  g_return_val_if_fail (CONFAB_IS_ENDPOINT_SET (self), NULL);
  g_return_val_if_fail (index < self->urls->len, NULL);

  uri = g_uri_parse (g_ptr_array_index (self->urls, index), G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return g_strdup ("?");
  return g_strdup_printf ("%s://%s:%d", g_uri_get_scheme (uri), g_uri_get_host (uri),
                          g_uri_get_port (uri) > 0 ? g_uri_get_port (uri)
                          : g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80);
}

/* The network ---------------------------------------------------------------------------- */

/* The default route's interface and gateway from a /proc/net route table: @dest_col and
 * @gw_col are the columns of the destination and the next hop, @default_dest what a
 * default destination looks like there. */
static char *
default_route_from (const char *path,
                    guint       iface_col,
                    guint       dest_col,
                    guint       prefix_col,
                    guint       gw_col,
                    const char *default_dest)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) cols = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);
      g_autoptr(GPtrArray) fields = g_ptr_array_new ();

      for (guint j = 0; cols[j] != NULL; j++)
        if (*cols[j] != '\0')
          g_ptr_array_add (fields, cols[j]);
      if (fields->len <= MAX (MAX (iface_col, dest_col), MAX (prefix_col, gw_col)))
        continue;
      if (g_strcmp0 (g_ptr_array_index (fields, dest_col), default_dest) != 0 ||
          g_ascii_strtoull (g_ptr_array_index (fields, prefix_col), NULL, 16) != 0)
        continue;
      if (g_str_equal (g_ptr_array_index (fields, iface_col), "lo"))
        continue;
      return g_strdup_printf ("%s via %s", (char *) g_ptr_array_index (fields, iface_col),
                              (char *) g_ptr_array_index (fields, gw_col));
    }
  return NULL;
}

/* What "this network" is, without asking anyone: the default route's interface and
 * gateway. Two Wi-Fi networks behind routers with the same address on the same
 * interface look the same; that costs at most one round starting on the other's
 * endpoint. */
static char *
default_network_identity (gpointer user_data)
{
  char *identity;

  /* Iface Destination Gateway Flags RefCnt Use Metric Mask … (hex, host order) */
  identity = default_route_from ("/proc/net/route", 0, 1, 7, 2, "00000000");
  if (identity == NULL)
    /* dest prefix-len source source-len next-hop metric refcnt use flags iface */
    identity = default_route_from ("/proc/net/ipv6_route", 9, 0, 1, 4,
                                   "00000000000000000000000000000000");
  return identity;
}

static char *
hash_identity (const char *identity)
{
  g_autofree char *sum = NULL;

  if (identity == NULL)
    return NULL;
  sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, identity, -1);
  return g_strndup (sum, 16);
}

void
confab_endpoint_set_set_network_func (ConfabEndpointSet         *self,
                                      ConfabNetworkIdentityFunc  func,
                                      gpointer                   user_data,
                                      GDestroyNotify             destroy)
{
  g_return_if_fail (CONFAB_IS_ENDPOINT_SET (self));

  if (self->network_destroy != NULL)
    self->network_destroy (self->network_data);
  self->network_func = func;
  self->network_data = user_data;
  self->network_destroy = destroy;
  confab_endpoint_set_update_network (self);
}

void
confab_endpoint_set_update_network (ConfabEndpointSet *self)
{
  g_autofree char *identity = NULL;

  g_return_if_fail (CONFAB_IS_ENDPOINT_SET (self));

  identity = self->network_func != NULL ? self->network_func (self->network_data)
                                        : default_network_identity (NULL);
  g_free (self->network);
  self->network = hash_identity (identity);
}

const char *
confab_endpoint_set_get_network (ConfabEndpointSet *self)
{
  g_return_val_if_fail (CONFAB_IS_ENDPOINT_SET (self), NULL);

  return self->network;
}

/* Memory --------------------------------------------------------------------------------- */

static void
save_memory (ConfabEndpointSet *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  gsize length = 0;

  if (self->memory_path == NULL)
    return;
  data = g_key_file_to_data (self->memory, &length, NULL);
  if (!g_file_set_contents_full (self->memory_path, data, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_debug ("Endpoint memory: not written: %s", error->message);
}

void
confab_endpoint_set_set_memory_path (ConfabEndpointSet *self,
                                     const char        *path)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) keys = NULL;

  g_return_if_fail (CONFAB_IS_ENDPOINT_SET (self));

  g_free (self->memory_path);
  self->memory_path = g_strdup (path);
  g_clear_pointer (&self->memory, g_key_file_unref);
  self->memory = g_key_file_new ();
  if (path == NULL)
    return;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_debug ("Endpoint memory: ignored, it is rebuilt on the next success: %s", error->message);
      return;
    }

  /* Only well-formed entries for endpoints of this set are taken. */
  keys = g_key_file_get_keys (file, MEMORY_GROUP, NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *url = g_key_file_get_string (file, MEMORY_GROUP, keys[i], NULL);
      gboolean hex = strlen (keys[i]) == 16;

      for (const char *p = keys[i]; hex && *p != '\0'; p++)
        hex = g_ascii_isxdigit (*p);
      if (hex && url != NULL && confab_endpoint_set_find (self, url) >= 0)
        g_key_file_set_string (self->memory, MEMORY_GROUP, keys[i], url);
      else
        g_debug ("Endpoint memory: an entry ignored");
    }
}

guint
confab_endpoint_set_get_preferred (ConfabEndpointSet *self)
{
  g_autofree char *url = NULL;
  int index;

  g_return_val_if_fail (CONFAB_IS_ENDPOINT_SET (self), 0);

  if (self->network == NULL)
    return 0;
  url = g_key_file_get_string (self->memory, MEMORY_GROUP, self->network, NULL);
  index = confab_endpoint_set_find (self, url);
  return index >= 0 ? (guint) index : 0;
}

void
confab_endpoint_set_remember (ConfabEndpointSet *self,
                              guint              index)
{
  g_autofree char *old = NULL;
  g_auto(GStrv) keys = NULL;
  gsize n_keys = 0;

  g_return_if_fail (CONFAB_IS_ENDPOINT_SET (self));
  g_return_if_fail (index < self->urls->len);

  if (self->network == NULL)
    return;
  old = g_key_file_get_string (self->memory, MEMORY_GROUP, self->network, NULL);
  if (g_strcmp0 (old, g_ptr_array_index (self->urls, index)) == 0)
    return;

  /* Newest last: the entry moves to the end, the oldest go past the bound. */
  g_key_file_remove_key (self->memory, MEMORY_GROUP, self->network, NULL);
  keys = g_key_file_get_keys (self->memory, MEMORY_GROUP, &n_keys, NULL);
  for (gsize i = 0; keys != NULL && n_keys - i >= CONFAB_ENDPOINT_SET_MAX_NETWORKS; i++)
    g_key_file_remove_key (self->memory, MEMORY_GROUP, keys[i], NULL);
  g_key_file_set_string (self->memory, MEMORY_GROUP, self->network, g_ptr_array_index (self->urls, index));
  save_memory (self);
}

void
confab_endpoint_set_network_changed (ConfabEndpointSet *self)
{
  g_return_if_fail (CONFAB_IS_ENDPOINT_SET (self));

  if (self->network != NULL &&
      g_key_file_remove_key (self->memory, MEMORY_GROUP, self->network, NULL))
    save_memory (self);
  confab_endpoint_set_update_network (self);
}

void
confab_endpoint_set_get_order (ConfabEndpointSet *self,
                               guint             *order)
{
  guint preferred;
  guint n = 0;

  g_return_if_fail (CONFAB_IS_ENDPOINT_SET (self));
  g_return_if_fail (order != NULL);

  preferred = confab_endpoint_set_get_preferred (self);
  order[n++] = preferred;
  for (guint i = 0; i < self->urls->len; i++)
    if (i != preferred)
      order[n++] = i;
}

/* Reachability ------------------------------------------------------------------------- */

gboolean
confab_endpoint_set_reachable_offline (ConfabEndpointSet *self,
                                       GNetworkMonitor   *monitor)
{
  GNetworkMonitorInterface *iface;

  g_return_val_if_fail (CONFAB_IS_ENDPOINT_SET (self), FALSE);
  g_return_val_if_fail (G_IS_NETWORK_MONITOR (monitor), FALSE);

  iface = G_NETWORK_MONITOR_GET_INTERFACE (monitor);
  if (iface->can_reach == NULL)
    return FALSE;

  for (guint i = 0; i < self->urls->len; i++)
    {
      g_autoptr(GUri) uri = g_uri_parse (g_ptr_array_index (self->urls, i), G_URI_FLAGS_NONE, NULL);
      g_autoptr(GInetAddress) address = NULL;
      g_autoptr(GSocketAddress) socket_address = NULL;
      const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;
      int port = uri != NULL ? g_uri_get_port (uri) : -1;

      if (host == NULL)
        continue;
      if (g_ascii_strcasecmp (host, "localhost") == 0 || g_ascii_strcasecmp (host, "localhost.") == 0)
        address = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      else
        address = g_inet_address_new_from_string (host);
      /* A name would need a DNS lookup, on the main thread: not asked. */
      if (address == NULL)
        continue;

      socket_address = g_inet_socket_address_new (address, port > 0 ? (guint16) port : 443);
      if (g_network_monitor_can_reach (monitor, G_SOCKET_CONNECTABLE (socket_address), NULL, NULL))
        return TRUE;
    }

  return FALSE;
}
