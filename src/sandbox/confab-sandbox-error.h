/* confab-sandbox-error.h: Stream Chat's API error codes as a GError domain
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CONFAB_STREAM_ERROR (confab_stream_error_quark ())

/* The numeric values are Stream's own `code` field (stream-chat-js src/errors.ts),
 * so an error crosses the wire unchanged. */
typedef enum {
  CONFAB_STREAM_ERROR_INTERNAL = -1,
  CONFAB_STREAM_ERROR_ACCESS_KEY = 2,
  CONFAB_STREAM_ERROR_AUTHENTICATION_FAILED = 3,
  CONFAB_STREAM_ERROR_INPUT = 4,
  CONFAB_STREAM_ERROR_AUTH = 5,
  CONFAB_STREAM_ERROR_RATE_LIMIT = 9,
  CONFAB_STREAM_ERROR_DOES_NOT_EXIST = 16,
  CONFAB_STREAM_ERROR_NOT_ALLOWED = 17,
  CONFAB_STREAM_ERROR_MESSAGE_TOO_LONG = 20,
  CONFAB_STREAM_ERROR_PAYLOAD_TOO_BIG = 22,
  CONFAB_STREAM_ERROR_TOKEN_EXPIRED = 40,
  CONFAB_STREAM_ERROR_TOKEN_NOT_VALID_YET = 41,
  CONFAB_STREAM_ERROR_TOKEN_USED_BEFORE_IAT = 42,
  CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID = 43,
  CONFAB_STREAM_ERROR_CONNECTION_ID_NOT_FOUND = 46,
} ConfabStreamError;

GQuark      confab_stream_error_quark        (void);
guint       confab_stream_error_http_status  (const GError *error);
JsonNode   *confab_stream_error_to_json      (const GError *error,
                                              guint         status);
char       *confab_stream_error_to_string    (const GError *error,
                                              guint         status);

G_END_DECLS
