/* confab-impair-listener.h: one listening address, its upstream, its rules and connections
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "confab-impair-rules.h"

G_BEGIN_DECLS

/* "Cut everything now": what happens to the connections a listener carries until
 * confab_impair_listener_restore(). */
typedef enum {
  CONFAB_IMPAIR_CUT_NONE,
  CONFAB_IMPAIR_CUT_SILENT,   /* nothing moves either way, nothing is closed (a dead link);
                                 held data flows again on restore, as TCP would retransmit it */
  CONFAB_IMPAIR_CUT_RESET,    /* every connection is reset, new ones too */
  CONFAB_IMPAIR_CUT_REFUSE,   /* every connection is reset and the port stops listening */
} ConfabImpairCut;

typedef enum {
  CONFAB_IMPAIR_STAT_ACCEPTED,
  CONFAB_IMPAIR_STAT_UPSTREAM_FAILED,
  CONFAB_IMPAIR_STAT_WS_SEEN,         /* WebSocket upgrade requests */
  CONFAB_IMPAIR_STAT_WS_BLOCKED,      /* … answered 403/502, reset or swallowed */
  CONFAB_IMPAIR_STAT_HTTP_REQUESTS,
  CONFAB_IMPAIR_STAT_CAPTIVE,         /* requests redirected */
  CONFAB_IMPAIR_STAT_RESETS,          /* connections the proxy reset */
  CONFAB_IMPAIR_STAT_BYTES_UP,
  CONFAB_IMPAIR_STAT_BYTES_DOWN,
  CONFAB_IMPAIR_STAT_TUNNELS,         /* CONNECT tunnels opened */
  CONFAB_IMPAIR_STAT_PROXY_DENIED,    /* CONNECT or proxy requests refused */
  CONFAB_IMPAIR_N_STATS,
} ConfabImpairStat;

#define CONFAB_IMPAIR_TYPE_LISTENER (confab_impair_listener_get_type ())

G_DECLARE_FINAL_TYPE (ConfabImpairListener, confab_impair_listener, CONFAB_IMPAIR, LISTENER, GObject)

/* @listen may be on any local address (port 0 picks one); @upstream must be loopback,
 * or NULL for a CONNECT proxy. @seed makes jitter reproducible. */
ConfabImpairListener *confab_impair_listener_new          (const char              *name,
                                                           GInetSocketAddress      *listen,
                                                           GInetSocketAddress      *upstream,
                                                           const ConfabImpairRules *rules,
                                                           guint32                  seed);
/* Binds (and, with mode=refuse, closes again: the port is kept). */
gboolean              confab_impair_listener_start        (ConfabImpairListener    *self,
                                                           GError                 **error);
/* Closes the port and every connection. */
void                  confab_impair_listener_stop         (ConfabImpairListener    *self);
/* Replaces the rules; binds or unbinds the port as mode=refuse comes or goes. Delay,
 * jitter and rate apply to data in flight at once; the other rules to new connections
 * and requests. */
gboolean              confab_impair_listener_set_rules    (ConfabImpairListener    *self,
                                                           const ConfabImpairRules *rules,
                                                           GError                 **error);
gboolean              confab_impair_listener_set_upstream (ConfabImpairListener    *self,
                                                           GInetSocketAddress      *upstream,
                                                           GError                 **error);
gboolean              confab_impair_listener_cut          (ConfabImpairListener    *self,
                                                           ConfabImpairCut          cut,
                                                           GError                 **error);
gboolean              confab_impair_listener_restore      (ConfabImpairListener    *self,
                                                           GError                 **error);

const char           *confab_impair_listener_get_name     (ConfabImpairListener    *self);
const ConfabImpairRules *confab_impair_listener_get_rules (ConfabImpairListener    *self);
GInetSocketAddress   *confab_impair_listener_get_upstream (ConfabImpairListener    *self);
/* The bound port (also while refusing). */
guint16               confab_impair_listener_get_port     (ConfabImpairListener    *self);
GInetSocketAddress   *confab_impair_listener_get_address  (ConfabImpairListener    *self);
ConfabImpairCut       confab_impair_listener_get_cut      (ConfabImpairListener    *self);
guint                 confab_impair_listener_get_n_connections (ConfabImpairListener *self);
guint64               confab_impair_listener_get_stat     (ConfabImpairListener    *self,
                                                           ConfabImpairStat         stat);
/* For the connections it carries. */
void                  confab_impair_listener_count        (ConfabImpairListener    *self,
                                                           ConfabImpairStat         stat,
                                                           guint64                  n);
GRand                *confab_impair_listener_get_rand     (ConfabImpairListener    *self);
void                  confab_impair_listener_add_json     (ConfabImpairListener    *self,
                                                           JsonBuilder             *builder);

const char           *confab_impair_cut_to_string         (ConfabImpairCut          cut);
gboolean              confab_impair_cut_from_string       (const char              *text,
                                                           ConfabImpairCut         *out);

G_END_DECLS
