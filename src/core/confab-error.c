/* confab-error.c: errors the UI can act on, and Stream's API errors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "confab-error.h"

G_DEFINE_QUARK (confab-error-quark, confab_error)

typedef struct
{
  guint http_status;
} ConfabApiErrorPrivate;

static void
confab_api_error_private_init (ConfabApiErrorPrivate *priv)
{
  priv->http_status = 0;
}

static void
confab_api_error_private_copy (const ConfabApiErrorPrivate *src,
                               ConfabApiErrorPrivate       *dest)
{
  dest->http_status = src->http_status;
}

static void
confab_api_error_private_clear (ConfabApiErrorPrivate *priv)
{
}

/* An extended error domain, so the HTTP status travels with the Stream code. */
G_DEFINE_EXTENDED_ERROR (ConfabApiError, confab_api_error)

GError *
confab_api_error_new (int         stream_code,
                      guint       http_status,
                      const char *message)
{
  GError *error = g_error_new_literal (CONFAB_API_ERROR, stream_code,
                                       message != NULL ? message : "Stream API error");
  ConfabApiErrorPrivate *priv = confab_api_error_get_private (error);

  priv->http_status = http_status;
  return error;
}

guint
confab_api_error_get_http_status (const GError *error)
{
  ConfabApiErrorPrivate *priv;

  if (error == NULL || error->domain != CONFAB_API_ERROR)
    return 0;
  priv = confab_api_error_get_private (error);
  return priv != NULL ? priv->http_status : 0;
}

gboolean
confab_api_error_code_is_retryable (int stream_code)
{
  switch (stream_code)
    {
    case CONFAB_API_ERROR_INTERNAL:
    case CONFAB_API_ERROR_AUTHENTICATION_FAILED:
    case CONFAB_API_ERROR_RATE_LIMIT:
    case CONFAB_API_ERROR_REQUEST_TIMEOUT:
    case 45:  /* CustomCommandEndpointCallError */
    case CONFAB_API_ERROR_COOL_DOWN:
    case CONFAB_API_ERROR_TOO_MANY_CONNECTIONS:
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
confab_api_error_is_duplicate (const GError *error)
{
  return error != NULL &&
         g_error_matches (error, CONFAB_API_ERROR, CONFAB_API_ERROR_INPUT) &&
         error->message != NULL &&
         strstr (error->message, "already exists") != NULL;
}

static ConfabErrorCode
classify_api (const GError *error)
{
  guint status = confab_api_error_get_http_status (error);

  switch (error->code)
    {
    case CONFAB_API_ERROR_TOKEN_EXPIRED:
      return CONFAB_ERROR_TOKEN_EXPIRED;
    case CONFAB_API_ERROR_ACCESS_KEY:
    case CONFAB_API_ERROR_AUTH:
    case CONFAB_API_ERROR_TOKEN_NOT_VALID_YET:
    case CONFAB_API_ERROR_TOKEN_USED_BEFORE_IAT:
    case CONFAB_API_ERROR_TOKEN_SIGNATURE_INVALID:
    case CONFAB_API_ERROR_APP_SUSPENDED:
      return CONFAB_ERROR_AUTH;
    case CONFAB_API_ERROR_RATE_LIMIT:
    case CONFAB_API_ERROR_COOL_DOWN:
    case CONFAB_API_ERROR_TOO_MANY_CONNECTIONS:
      return CONFAB_ERROR_RATE_LIMITED;
    case CONFAB_API_ERROR_CONNECTION_ID_NOT_FOUND:
      return CONFAB_ERROR_CONNECTION_LOST;
    case CONFAB_API_ERROR_INTERNAL:
    case CONFAB_API_ERROR_AUTHENTICATION_FAILED:
    case CONFAB_API_ERROR_REQUEST_TIMEOUT:
      return CONFAB_ERROR_SERVER;
    default:
      if (status >= 500)
        return CONFAB_ERROR_SERVER;
      if (status == 429)
        return CONFAB_ERROR_RATE_LIMITED;
      return CONFAB_ERROR_REJECTED;
    }
}

static ConfabErrorCode
classify_io (const GError *error)
{
  switch (error->code)
    {
    case G_IO_ERROR_CANCELLED:
      return CONFAB_ERROR_FAILED;   /* we stopped it ourselves: not the network's fault */
    case G_IO_ERROR_TIMED_OUT:
      return CONFAB_ERROR_TIMEOUT;
    case G_IO_ERROR_CONNECTION_REFUSED:
    case G_IO_ERROR_HOST_NOT_FOUND:
    case G_IO_ERROR_HOST_UNREACHABLE:
    case G_IO_ERROR_NETWORK_UNREACHABLE:
    case G_IO_ERROR_NOT_CONNECTED:
    case G_IO_ERROR_PROXY_FAILED:
    case G_IO_ERROR_PROXY_NOT_ALLOWED:
    case G_IO_ERROR_PROXY_NEED_AUTH:
    case G_IO_ERROR_PROXY_AUTH_FAILED:
      return CONFAB_ERROR_NETWORK;
    case G_IO_ERROR_CONNECTION_CLOSED:  /* also G_IO_ERROR_BROKEN_PIPE */
    case G_IO_ERROR_PARTIAL_INPUT:
      return CONFAB_ERROR_CONNECTION_LOST;
    case G_IO_ERROR_PERMISSION_DENIED:
    case G_IO_ERROR_NO_SPACE:
    case G_IO_ERROR_READ_ONLY:
    case G_IO_ERROR_NOT_FOUND:
    case G_IO_ERROR_IS_DIRECTORY:
    case G_IO_ERROR_NOT_DIRECTORY:
      return CONFAB_ERROR_STORAGE;
    default:
      return CONFAB_ERROR_NETWORK;
    }
}

ConfabErrorCode
confab_error_classify (const GError *error)
{
  g_return_val_if_fail (error != NULL, CONFAB_ERROR_FAILED);

  if (error->domain == CONFAB_ERROR)
    return (ConfabErrorCode) error->code;
  if (error->domain == CONFAB_API_ERROR)
    return classify_api (error);
  if (error->domain == G_IO_ERROR)
    return classify_io (error);
  if (error->domain == G_TLS_ERROR)
    return CONFAB_ERROR_TLS;
  if (error->domain == G_RESOLVER_ERROR)
    return CONFAB_ERROR_NETWORK;
  if (error->domain == SOUP_WEBSOCKET_ERROR)
    return error->code == SOUP_WEBSOCKET_ERROR_NOT_WEBSOCKET || error->code == SOUP_WEBSOCKET_ERROR_BAD_HANDSHAKE
           ? CONFAB_ERROR_UPGRADE_REJECTED : CONFAB_ERROR_PROTOCOL;
  if (error->domain == G_FILE_ERROR)
    return CONFAB_ERROR_STORAGE;
  return CONFAB_ERROR_FAILED;
}

gboolean
confab_error_is_transient (const GError *error)
{
  g_return_val_if_fail (error != NULL, FALSE);

  switch (confab_error_classify (error))
    {
    case CONFAB_ERROR_NETWORK:
    case CONFAB_ERROR_TIMEOUT:
    case CONFAB_ERROR_CONNECTION_LOST:
    case CONFAB_ERROR_SERVER:
    case CONFAB_ERROR_RATE_LIMITED:
    case CONFAB_ERROR_UPGRADE_REJECTED:
    case CONFAB_ERROR_PROTOCOL:
      return TRUE;
    case CONFAB_ERROR_FAILED:
    case CONFAB_ERROR_TLS:
    case CONFAB_ERROR_INSECURE_URL:
    case CONFAB_ERROR_AUTH:
    case CONFAB_ERROR_TOKEN_EXPIRED:
    case CONFAB_ERROR_REJECTED:
    case CONFAB_ERROR_BUSY:
    case CONFAB_ERROR_STORAGE:
    case CONFAB_ERROR_CORRUPT:
    default:
      return FALSE;
    }
}
