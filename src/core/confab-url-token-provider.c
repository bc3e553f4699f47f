/* confab-url-token-provider.c: a token fetched from an HTTPS endpoint
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-error.h"
#include "confab-http-private.h"
#include "confab-json-private.h"
#include "confab-jwt-claims.h"
#include "confab-secure-url.h"
#include "confab-url-token-provider.h"

/* RFC 6585; libsoup 3.2 has no name for it. */
#define HTTP_TOO_MANY_REQUESTS 429
#define DEFAULT_TIMEOUT_MS 10000
/* {"token": "<a few hundred bytes>"}, with room for extra fields. */
#define MAX_RESPONSE_SIZE (64 * 1024)

struct _ConfabUrlTokenProvider
{
  GObject      parent_instance;

  char        *url;
  char        *method;
  char        *request_body;
  char        *authorization;
  guint        timeout_ms;
  SoupSession *session;
  gboolean     initialized;
};

static void confab_url_token_provider_iface_init (ConfabTokenProviderInterface *iface);
static void confab_url_token_provider_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabUrlTokenProvider, confab_url_token_provider, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CONFAB_TYPE_TOKEN_PROVIDER,
                                                      confab_url_token_provider_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      confab_url_token_provider_initable_iface_init))

enum {
  PROP_0,
  PROP_URL,
  PROP_METHOD,
  PROP_REQUEST_BODY,
  PROP_AUTHORIZATION,
  PROP_TIMEOUT_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
wipe_free (char *secret)
{
  if (secret == NULL)
    return;
  memset (secret, 0, strlen (secret));
  g_free (secret);
}

static GError *
error_for_status (guint status)
{
  if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
    return g_error_new (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                        "The token endpoint refused the request (HTTP %u)", status);
  if (status == HTTP_TOO_MANY_REQUESTS)
    return g_error_new (CONFAB_ERROR, CONFAB_ERROR_RATE_LIMITED,
                        "The token endpoint asked to slow down (HTTP %u)", status);
  if (status >= 500)
    return g_error_new (CONFAB_ERROR, CONFAB_ERROR_SERVER,
                        "The token endpoint failed (HTTP %u)", status);
  return g_error_new (CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                      "The token endpoint answered HTTP %u", status);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SoupMessage *msg = g_task_get_task_data (task);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) error = NULL;
  const char *data;
  gsize length = 0;
  JsonNode *node;
  guint status;

  body = _confab_http_send_finish (result, &error);
  if (body == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_prefix_error (&error, "Token endpoint: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  status = soup_message_get_status (msg);
  g_debug ("token endpoint → %u", status);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_task_return_error (task, error_for_status (status));
      return;
    }

  data = g_bytes_get_data (body, &length);
  object = _confab_json_parse_untrusted_object (data, length, NULL);
  if (object == NULL)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                               "The token endpoint's answer (HTTP %u) is not a JSON object", status);
      return;
    }

  node = json_object_get_member (object, "token");
  if (node == NULL)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                               "The token endpoint's answer has no “token”");
      return;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                               "The token endpoint's “token” is not a string");
      return;
    }

  {
    g_autoptr(ConfabJwtClaims) claims = confab_jwt_claims_parse (json_node_get_string (node), NULL);

    if (claims == NULL)
      {
        g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                 "The token endpoint's “token” is not a valid token");
        return;
      }
  }

  g_task_return_pointer (task, g_strdup (json_node_get_string (node)), g_free);
}

static void
confab_url_token_provider_fetch_token_async (ConfabTokenProvider *provider,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data)
{
  ConfabUrlTokenProvider *self = CONFAB_URL_TOKEN_PROVIDER (provider);
  g_autoptr(GTask) task = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  SoupMessageHeaders *headers;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_url_token_provider_fetch_token_async);

  if (!self->initialized)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                               "The token provider was not created with confab_url_token_provider_new ()");
      return;
    }

  msg = soup_message_new (self->method, self->url);
  if (msg == NULL)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                               "The token endpoint's address is not a valid URL");
      return;
    }
  /* A redirect could lead to plain http:// elsewhere. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);

  headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (self->authorization != NULL)
    soup_message_headers_replace (headers, "Authorization", self->authorization);
  if (g_str_equal (self->method, "POST"))
    {
      const char *body = self->request_body != NULL ? self->request_body : "{}";
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }

  g_task_set_task_data (task, g_object_ref (msg), g_object_unref);
  _confab_http_send_async (self->session, msg, MAX_RESPONSE_SIZE, self->timeout_ms,
                           cancellable, on_sent, g_steal_pointer (&task));
}

static char *
confab_url_token_provider_fetch_token_finish (ConfabTokenProvider  *provider,
                                              GAsyncResult         *result,
                                              GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, provider), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
confab_url_token_provider_iface_init (ConfabTokenProviderInterface *iface)
{
  iface->fetch_token_async = confab_url_token_provider_fetch_token_async;
  iface->fetch_token_finish = confab_url_token_provider_fetch_token_finish;
}

static gboolean
confab_url_token_provider_initable_init (GInitable     *initable,
                                         GCancellable  *cancellable,
                                         GError       **error)
{
  ConfabUrlTokenProvider *self = CONFAB_URL_TOKEN_PROVIDER (initable);

  if (!confab_secure_url_check (self->url, error))
    return FALSE;
  if (!g_str_equal (self->method, "GET") && !g_str_equal (self->method, "POST"))
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_FAILED,
                   "A token endpoint is asked with GET or POST, not %s", self->method);
      return FALSE;
    }
  self->initialized = TRUE;
  return TRUE;
}

static void
confab_url_token_provider_initable_iface_init (GInitableIface *iface)
{
  iface->init = confab_url_token_provider_initable_init;
}

static void
confab_url_token_provider_dispose (GObject *object)
{
  ConfabUrlTokenProvider *self = CONFAB_URL_TOKEN_PROVIDER (object);

  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (confab_url_token_provider_parent_class)->dispose (object);
}

static void
confab_url_token_provider_finalize (GObject *object)
{
  ConfabUrlTokenProvider *self = CONFAB_URL_TOKEN_PROVIDER (object);

  g_clear_pointer (&self->url, g_free);
  g_clear_pointer (&self->method, g_free);
  g_clear_pointer (&self->request_body, wipe_free);
  g_clear_pointer (&self->authorization, wipe_free);

  G_OBJECT_CLASS (confab_url_token_provider_parent_class)->finalize (object);
}

static void
confab_url_token_provider_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  ConfabUrlTokenProvider *self = CONFAB_URL_TOKEN_PROVIDER (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_METHOD:
      g_value_set_string (value, self->method);
      break;
    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_url_token_provider_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  ConfabUrlTokenProvider *self = CONFAB_URL_TOKEN_PROVIDER (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_assert (self->url == NULL);
      self->url = g_value_dup_string (value);
      break;
    case PROP_METHOD:
      {
        const char *method = g_value_get_string (value);

        g_free (self->method);
        self->method = g_ascii_strup (method != NULL ? method : "GET", -1);
      }
      break;
    case PROP_REQUEST_BODY:
      g_assert (self->request_body == NULL);
      self->request_body = g_value_dup_string (value);
      break;
    case PROP_AUTHORIZATION:
      confab_url_token_provider_set_authorization (self, g_value_get_string (value));
      break;
    case PROP_TIMEOUT_MS:
      confab_url_token_provider_set_timeout_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_url_token_provider_class_init (ConfabUrlTokenProviderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_url_token_provider_dispose;
  object_class->finalize = confab_url_token_provider_finalize;
  object_class->get_property = confab_url_token_provider_get_property;
  object_class->set_property = confab_url_token_provider_set_property;

  /**
   * ConfabUrlTokenProvider:url:
   *
   * The token endpoint: https://, or http:// to loopback.
   */
  properties[PROP_URL] =
    g_param_spec_string ("url", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabUrlTokenProvider:method:
   *
   * "GET" or "POST".
   */
  properties[PROP_METHOD] =
    g_param_spec_string ("method", NULL, NULL, "GET",
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabUrlTokenProvider:request-body:
   *
   * The JSON sent with a POST (default `{}`). Write-only: it may hold a credential.
   */
  properties[PROP_REQUEST_BODY] =
    g_param_spec_string ("request-body", NULL, NULL, NULL,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabUrlTokenProvider:authorization:
   *
   * The Authorization header for the endpoint, or %NULL. Write-only: a secret.
   */
  properties[PROP_AUTHORIZATION] =
    g_param_spec_string ("authorization", NULL, NULL, NULL,
                         G_PARAM_WRITABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * ConfabUrlTokenProvider:timeout-ms:
   *
   * How long the endpoint has to answer.
   */
  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL, 1, G_MAXINT, DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_url_token_provider_init (ConfabUrlTokenProvider *self)
{
  self->method = g_strdup ("GET");
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->session = soup_session_new_with_options ("user-agent", "confab/" PACKAGE_VERSION,
                                                 "timeout", 0,
                                                 NULL);
}

ConfabUrlTokenProvider *
confab_url_token_provider_new (const char  *url,
                               const char  *method,
                               GError     **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (CONFAB_TYPE_URL_TOKEN_PROVIDER, NULL, error,
                         "url", url,
                         "method", method != NULL ? method : "GET",
                         NULL);
}

const char *
confab_url_token_provider_get_url (ConfabUrlTokenProvider *self)
{
  g_return_val_if_fail (CONFAB_IS_URL_TOKEN_PROVIDER (self), NULL);
  return self->url;
}

guint
confab_url_token_provider_get_timeout_ms (ConfabUrlTokenProvider *self)
{
  g_return_val_if_fail (CONFAB_IS_URL_TOKEN_PROVIDER (self), 0);
  return self->timeout_ms;
}

void
confab_url_token_provider_set_timeout_ms (ConfabUrlTokenProvider *self,
                                          guint                   timeout_ms)
{
  g_return_if_fail (CONFAB_IS_URL_TOKEN_PROVIDER (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_MS]);
}

void
confab_url_token_provider_set_authorization (ConfabUrlTokenProvider *self,
                                             const char             *authorization)
{
  g_return_if_fail (CONFAB_IS_URL_TOKEN_PROVIDER (self));

  if (g_strcmp0 (self->authorization, authorization) == 0)
    return;
  wipe_free (self->authorization);
  self->authorization = g_strdup (authorization);
  /* Changing the credential means a new token is due. */
  confab_token_provider_invalidate (CONFAB_TOKEN_PROVIDER (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTHORIZATION]);
}
