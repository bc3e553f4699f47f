/* confab-impair-proxy.h: the set of listeners and the command language that drives them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "confab-impair-listener.h"

G_BEGIN_DECLS

#define CONFAB_IMPAIR_TYPE_PROXY (confab_impair_proxy_get_type ())

G_DECLARE_FINAL_TYPE (ConfabImpairProxy, confab_impair_proxy, CONFAB_IMPAIR, PROXY, GObject)

/* Signal ::quit when a client sends "quit". */
ConfabImpairProxy    *confab_impair_proxy_new          (guint32             seed);
/* Adds and starts a listener from words: NAME listen=HOST:PORT [upstream=HOST:PORT]
 * [KEY=VALUE…] (the rules; see confab_impair_rules_apply()). */
ConfabImpairListener *confab_impair_proxy_add_listener (ConfabImpairProxy  *self,
                                                        const char * const *words,
                                                        GError            **error);
ConfabImpairListener *confab_impair_proxy_lookup       (ConfabImpairProxy  *self,
                                                        const char         *name);
/* Every listener (transfer none). */
GPtrArray            *confab_impair_proxy_get_listeners (ConfabImpairProxy *self);
/* Runs one command line and returns its one-line JSON answer: {"ok":true,…} or
 * {"ok":false,"error":"…"}. Commands: ping, list, profiles, get NAME,
 * set NAME KEY=VALUE…, clear NAME, profile NAME PROFILE, cut NAME|all [silent|reset|refuse],
 * restore NAME|all, add NAME listen=… [upstream=…] [KEY=VALUE…], remove NAME, quit. */
char                 *confab_impair_proxy_execute      (ConfabImpairProxy  *self,
                                                        const char         *line);
/* {"listeners":[…]} */
JsonNode             *confab_impair_proxy_to_json      (ConfabImpairProxy  *self);
/* Closes every listener and connection. */
void                  confab_impair_proxy_stop         (ConfabImpairProxy  *self);

G_END_DECLS
