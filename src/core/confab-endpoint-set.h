/* confab-endpoint-set.h: the ordered server endpoints, and which one worked on which network
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The name of the memory file in the manager's state-dir. */
#define CONFAB_ENDPOINT_SET_MEMORY_FILE  "endpoints"
/* At most this many networks are remembered; the oldest entry goes first. */
#define CONFAB_ENDPOINT_SET_MAX_NETWORKS 32

#define CONFAB_TYPE_ENDPOINT_SET (confab_endpoint_set_get_type ())

G_DECLARE_FINAL_TYPE (ConfabEndpointSet, confab_endpoint_set, CONFAB, ENDPOINT_SET, GObject)

/* Returns the identity of the network the machine is on now (transfer full), or NULL
 * when it cannot tell (then nothing is remembered). */
typedef char *(*ConfabNetworkIdentityFunc) (gpointer user_data);

/* The base URLs in order: the primary first, then the alternates (other hosts, ports).
 * Each must pass confab_secure_url_check() (https:// or wss://; http:// or ws:// only to
 * loopback); ws/wss are taken as http/https, a trailing '/' is dropped, a repeated URL
 * is kept once. An empty list, an empty string, another scheme, no host, or plain http
 * to another host fails with CONFAB_ERROR_INSECURE_URL, naming the position of the bad
 * entry (never its path or query). */
ConfabEndpointSet *confab_endpoint_set_new                (const char *const          *urls,
                                                           GError                    **error);

guint              confab_endpoint_set_get_n_endpoints    (ConfabEndpointSet          *self);
/* The normalised base URL @index (0 = primary). */
const char        *confab_endpoint_set_get_url            (ConfabEndpointSet          *self,
                                                           guint                       index);
/* The index of @url (normalised as above), or -1. */
int                confab_endpoint_set_find               (ConfabEndpointSet          *self,
                                                           const char                 *url);
/* "scheme://host:port" of @index: a label for breakers and logs, without path or query. */
char              *confab_endpoint_set_dup_label          (ConfabEndpointSet          *self,
                                                           guint                       index);

/* Where the per-network memory is kept (a small key file; NULL: in memory only). It is
 * read at once; a missing file is an empty memory, an unreadable or garbled one is
 * ignored (g_debug) and rewritten on the next success, never an error. */
void               confab_endpoint_set_set_memory_path    (ConfabEndpointSet          *self,
                                                           const char                 *path);
/* How the current network is recognised. The default hashes the interface and gateway
 * of the default route (/proc/net/route, then /proc/net/ipv6_route); NULL restores it. */
void               confab_endpoint_set_set_network_func   (ConfabEndpointSet          *self,
                                                           ConfabNetworkIdentityFunc   func,
                                                           gpointer                    user_data,
                                                           GDestroyNotify              destroy);
/* Asks the identity function again (on a network change). The identity is kept as a
 * hash only (16 hex digits). */
void               confab_endpoint_set_update_network     (ConfabEndpointSet          *self);
/* The hashed identity of the current network, NULL if unknown. */
const char        *confab_endpoint_set_get_network        (ConfabEndpointSet          *self);

/* The endpoint that last worked on the current network, else 0 (the primary). */
guint              confab_endpoint_set_get_preferred      (ConfabEndpointSet          *self);
/* Endpoint @index worked on the current network: remembered (and written when it
 * changed). Nothing is remembered while the network is unknown. */
void               confab_endpoint_set_remember           (ConfabEndpointSet          *self,
                                                           guint                       index);
/* The network changed: what worked on the network we were on is forgotten (also on
 * disk), and the current network is recognised again, so its own memory, if any,
 * applies. */
void               confab_endpoint_set_network_changed    (ConfabEndpointSet          *self);
/* The order of a round: the preferred endpoint first, then the others in list order.
 * Fills @order (room for get_n_endpoints() entries). */
void               confab_endpoint_set_get_order          (ConfabEndpointSet          *self,
                                                           guint                      *order);

/* Whether some endpoint can be reached although @monitor says the network is not
 * available (no default route): asks g_network_monitor_can_reach() about endpoints
 * whose host is a literal address or "localhost" (no DNS lookup is made). The system's
 * netlink monitor answers yes for loopback and for addresses on a local route. A
 * monitor without can_reach() answers no. */
gboolean           confab_endpoint_set_reachable_offline  (ConfabEndpointSet          *self,
                                                           GNetworkMonitor            *monitor);

G_END_DECLS
