/* confab-impair-rules.h: what an impairment listener does to the traffic it carries
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CONFAB_IMPAIR_ERROR (confab_impair_error_quark ())
GQuark confab_impair_error_quark (void);

typedef enum {
  CONFAB_IMPAIR_ERROR_UNKNOWN_RULE,      /* no such key */
  CONFAB_IMPAIR_ERROR_INVALID_VALUE,     /* the key exists, its value does not parse or is out of range */
  CONFAB_IMPAIR_ERROR_UNKNOWN_PROFILE,
  CONFAB_IMPAIR_ERROR_UNKNOWN_LISTENER,
  CONFAB_IMPAIR_ERROR_INVALID_ADDRESS,   /* not HOST:PORT, or a port outside 0–65535 */
  CONFAB_IMPAIR_ERROR_NOT_LOOPBACK,      /* the proxy only ever talks to loopback */
  CONFAB_IMPAIR_ERROR_BIND,              /* could not listen */
  CONFAB_IMPAIR_ERROR_UNKNOWN_COMMAND,
  CONFAB_IMPAIR_ERROR_DUPLICATE,         /* a listener with that name exists */
} ConfabImpairErrorCode;

/* What happens to a new connection. */
typedef enum {
  CONFAB_IMPAIR_MODE_PASS,       /* forward, subject to the other rules */
  CONFAB_IMPAIR_MODE_REFUSE,     /* not listening: connect() fails with ECONNREFUSED */
  CONFAB_IMPAIR_MODE_RESET,      /* accepted, then reset (RST) at once */
  CONFAB_IMPAIR_MODE_BLACKHOLE,  /* accepted, read and dropped, never answered, never closed */
  CONFAB_IMPAIR_MODE_CAPTIVE,    /* every HTTP request gets a 302 to captive-url */
} ConfabImpairMode;

/* What happens to an HTTP request carrying "Upgrade: websocket". */
typedef enum {
  CONFAB_IMPAIR_WS_PASS,
  CONFAB_IMPAIR_WS_403,          /* answered 403 Forbidden, then closed */
  CONFAB_IMPAIR_WS_502,          /* answered 502 Bad Gateway, then closed */
  CONFAB_IMPAIR_WS_RESET,        /* the connection is reset */
  CONFAB_IMPAIR_WS_SWALLOW,      /* never answered; the connection stays open */
  CONFAB_IMPAIR_WS_BLACKHOLE,    /* the 101 passes, then nothing more in either direction */
} ConfabImpairWsAction;

#define CONFAB_IMPAIR_MAX_DENY_PORTS 16
#define CONFAB_IMPAIR_MAX_DELAY_MS   600000          /* ten minutes */
#define CONFAB_IMPAIR_MAX_RATE_BPS   100000000000ull /* 100 Gbit/s */

typedef struct _ConfabImpairRules ConfabImpairRules;

struct _ConfabImpairRules
{
  guint                delay_up_ms;      /* one way, client → server */
  guint                delay_down_ms;    /* one way, server → client */
  guint                jitter_up_ms;     /* each chunk's delay varies by up to ± this */
  guint                jitter_down_ms;
  guint64              rate_up_bps;      /* bits per second, 0 = unlimited */
  guint64              rate_down_bps;
  gboolean             handshake;        /* emulate the TCP handshake's round trip */
  ConfabImpairMode     mode;
  ConfabImpairWsAction ws;
  gboolean             buffer;           /* hold each HTTP response until it is complete */
  guint                tls_delay_ms;     /* hold a TLS ClientHello this long */
  guint64              reset_after_bytes;/* 0 = never */
  guint                reset_after_ms;   /* 0 = never */
  char                *captive_url;
  gboolean             connect_proxy;    /* the listener is an HTTP (CONNECT) proxy */
  guint16              deny_ports[CONFAB_IMPAIR_MAX_DENY_PORTS];
  guint                n_deny_ports;
  double               loss;             /* informational: applied by iptables in a namespace */
};

#define CONFAB_IMPAIR_TYPE_RULES (confab_impair_rules_get_type ())
GType              confab_impair_rules_get_type    (void) G_GNUC_CONST;

ConfabImpairRules *confab_impair_rules_new         (void);
ConfabImpairRules *confab_impair_rules_copy        (const ConfabImpairRules *rules);
void               confab_impair_rules_free        (ConfabImpairRules       *rules);

/* Applies one "key=value" to @rules; on error @rules is unchanged. Keys: see
 * tests/impair/README.md (delay_up, delay_down, rtt, jitter, jitter_up, jitter_down,
 * rate, rate_up, rate_down, handshake, mode, ws, buffer, tls_delay, reset_after_bytes,
 * reset_after_ms, captive_url, proxy, deny_ports, loss, profile). */
gboolean           confab_impair_rules_apply       (ConfabImpairRules       *rules,
                                                    const char              *assignment,
                                                    GError                 **error);
/* Applies every assignment, all or nothing. */
gboolean           confab_impair_rules_apply_all   (ConfabImpairRules       *rules,
                                                    const char * const      *assignments,
                                                    GError                 **error);
/* Adds the rules as members of the object @builder is in. */
void               confab_impair_rules_add_json    (const ConfabImpairRules *rules,
                                                    JsonBuilder             *builder);
/* Whether the rules need the proxy to read HTTP heads. */
gboolean           confab_impair_rules_need_http   (const ConfabImpairRules *rules);
gboolean           confab_impair_rules_denies_port (const ConfabImpairRules *rules,
                                                    guint                    port);

const char        *confab_impair_mode_to_string    (ConfabImpairMode         mode);
const char        *confab_impair_ws_to_string      (ConfabImpairWsAction     ws);

/* Parses a duration ("250", "250ms", "2s") into milliseconds. */
gboolean           confab_impair_parse_ms          (const char              *text,
                                                    guint                    max_ms,
                                                    guint                   *out_ms,
                                                    GError                 **error);

/* Parses "HOST:PORT" / "[V6]:PORT" into a numeric address. Only loopback hosts (127/8,
 * ::1, "localhost") are accepted unless @any_local is TRUE (listening addresses on an
 * interface the harness created). */
GInetSocketAddress *confab_impair_parse_address    (const char              *text,
                                                    gboolean                 any_local,
                                                    GError                 **error);
gboolean           confab_impair_address_is_loopback (GInetAddress          *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabImpairRules, confab_impair_rules_free)

G_END_DECLS
