/* confab-error.h: errors the UI can act on, and Stream's API errors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_ERROR (confab_error_quark ())

/* What went wrong, in the terms a caller decides by (banner, retry, sign-in) — never
 * by parsing the message text. */
typedef enum {
  CONFAB_ERROR_FAILED,            /* none of the below */
  CONFAB_ERROR_NETWORK,           /* refused, reset, unreachable, name not resolved */
  CONFAB_ERROR_TIMEOUT,           /* a deadline passed with no answer */
  CONFAB_ERROR_TLS,               /* certificate or TLS handshake failure; never waved through */
  CONFAB_ERROR_INSECURE_URL,      /* http:// or ws:// to a host other than loopback */
  CONFAB_ERROR_UPGRADE_REJECTED,  /* the WebSocket upgrade got an HTTP answer other than 101 */
  CONFAB_ERROR_PROTOCOL,          /* a frame or response that breaks Stream's protocol */
  CONFAB_ERROR_CONNECTION_LOST,   /* an established connection ended (1006, 1011, code 46, …) */
  CONFAB_ERROR_AUTH,              /* the credentials were refused; retrying cannot help */
  CONFAB_ERROR_TOKEN_EXPIRED,     /* refresh the token, then retry */
  CONFAB_ERROR_RATE_LIMITED,      /* slow down (429, code 9) */
  CONFAB_ERROR_SERVER,            /* the server failed (5xx, code -1) */
  CONFAB_ERROR_REJECTED,          /* the server refused this request (4xx); do not resend */
  CONFAB_ERROR_BUSY,              /* another user's connect is in progress */
  CONFAB_ERROR_STORAGE,           /* a local file could not be read or written */
  CONFAB_ERROR_CORRUPT,           /* a local file was unreadable; it was kept aside */
} ConfabErrorCode;

#define CONFAB_API_ERROR (confab_api_error_quark ())

/* Stream's own `code` field (stream-chat-js src/errors.ts); the error also carries the
 * HTTP status (0 when it came over a socket). */
typedef enum {
  CONFAB_API_ERROR_INTERNAL = -1,
  CONFAB_API_ERROR_ACCESS_KEY = 2,
  CONFAB_API_ERROR_AUTHENTICATION_FAILED = 3,
  CONFAB_API_ERROR_INPUT = 4,
  CONFAB_API_ERROR_AUTH = 5,
  CONFAB_API_ERROR_RATE_LIMIT = 9,
  CONFAB_API_ERROR_DOES_NOT_EXIST = 16,
  CONFAB_API_ERROR_NOT_ALLOWED = 17,
  CONFAB_API_ERROR_MESSAGE_TOO_LONG = 20,
  CONFAB_API_ERROR_PAYLOAD_TOO_BIG = 22,
  CONFAB_API_ERROR_REQUEST_TIMEOUT = 23,
  CONFAB_API_ERROR_TOKEN_EXPIRED = 40,
  CONFAB_API_ERROR_TOKEN_NOT_VALID_YET = 41,
  CONFAB_API_ERROR_TOKEN_USED_BEFORE_IAT = 42,
  CONFAB_API_ERROR_TOKEN_SIGNATURE_INVALID = 43,
  CONFAB_API_ERROR_CONNECTION_ID_NOT_FOUND = 46,
  CONFAB_API_ERROR_COOL_DOWN = 60,
  CONFAB_API_ERROR_TOO_MANY_CONNECTIONS = 71,
  CONFAB_API_ERROR_APP_SUSPENDED = 99,
} ConfabApiErrorCode;

GQuark   confab_error_quark                (void);
GQuark   confab_api_error_quark            (void);

GError  *confab_api_error_new              (int           stream_code,
                                            guint         http_status,
                                            const char   *message);
guint    confab_api_error_get_http_status  (const GError *error);

/* The decision an API or transport error means (an error already in CONFAB_ERROR is
 * returned as is). */
ConfabErrorCode confab_error_classify      (const GError *error);
/* Whether trying again later can succeed: network, timeout, lost connection, server,
 * rate limit; never auth or a rejected request. */
gboolean confab_error_is_transient         (const GError *error);
/* Stream's own table (errors.ts): the codes its SDK retries. */
gboolean confab_api_error_code_is_retryable (int          stream_code);
/* Stream's answer to a message id it already has (code 4, "…already exists"): the message
 * was delivered by an earlier attempt (stream-chat-protocol.md §6.3). */
gboolean confab_api_error_is_duplicate      (const GError *error);

G_END_DECLS
