/* confab-sandbox-error.c: Stream Chat's API error codes as a GError domain
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "confab-sandbox-error.h"

G_DEFINE_QUARK (confab-stream-error-quark, confab_stream_error)

/* Statuses as the real service answers them (stream-chat-protocol.md §1.6, §6.1). */
guint
confab_stream_error_http_status (const GError *error)
{
  g_return_val_if_fail (error != NULL, 500);

  if (error->domain != CONFAB_STREAM_ERROR)
    return 500;

  switch ((ConfabStreamError) error->code)
    {
    case CONFAB_STREAM_ERROR_ACCESS_KEY:
    case CONFAB_STREAM_ERROR_AUTHENTICATION_FAILED:
    case CONFAB_STREAM_ERROR_AUTH:
    case CONFAB_STREAM_ERROR_TOKEN_EXPIRED:
    case CONFAB_STREAM_ERROR_TOKEN_NOT_VALID_YET:
    case CONFAB_STREAM_ERROR_TOKEN_USED_BEFORE_IAT:
    case CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID:
      return 401;
    case CONFAB_STREAM_ERROR_NOT_ALLOWED:
      return 403;
    case CONFAB_STREAM_ERROR_DOES_NOT_EXIST:
      return 404;
    case CONFAB_STREAM_ERROR_PAYLOAD_TOO_BIG:
      return 413;
    case CONFAB_STREAM_ERROR_RATE_LIMIT:
      return 429;
    case CONFAB_STREAM_ERROR_INTERNAL:
      return 500;
    case CONFAB_STREAM_ERROR_INPUT:
    case CONFAB_STREAM_ERROR_MESSAGE_TOO_LONG:
    case CONFAB_STREAM_ERROR_CONNECTION_ID_NOT_FOUND:
    default:
      return 400;
    }
}

/* Stream's APIError shape: {code, message, StatusCode, duration, more_info, details}. */
JsonNode *
confab_stream_error_to_json (const GError *error,
                             guint         status)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  int code = error->domain == CONFAB_STREAM_ERROR ? error->code : CONFAB_STREAM_ERROR_INTERNAL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, code);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, error->message);
  json_builder_set_member_name (builder, "StatusCode");
  json_builder_add_int_value (builder, status);
  json_builder_set_member_name (builder, "duration");
  json_builder_add_string_value (builder, "0.00ms");
  json_builder_set_member_name (builder, "more_info");
  json_builder_add_string_value (builder, "https://getstream.io/chat/docs/api_errors_response");
  json_builder_set_member_name (builder, "details");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

char *
confab_stream_error_to_string (const GError *error,
                               guint         status)
{
  g_autoptr(JsonNode) node = confab_stream_error_to_json (error, status);

  return json_to_string (node, FALSE);
}
