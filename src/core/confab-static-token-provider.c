/* confab-static-token-provider.c: a fixed token, which cannot be refreshed
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-error.h"
#include "confab-static-token-provider.h"

struct _ConfabStaticTokenProvider
{
  GObject  parent_instance;

  char    *token;
};

static void confab_static_token_provider_iface_init (ConfabTokenProviderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabStaticTokenProvider, confab_static_token_provider, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CONFAB_TYPE_TOKEN_PROVIDER,
                                                      confab_static_token_provider_iface_init))

enum {
  PROP_0,
  PROP_TOKEN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
confab_static_token_provider_fetch_token_async (ConfabTokenProvider *provider,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data)
{
  ConfabStaticTokenProvider *self = CONFAB_STATIC_TOKEN_PROVIDER (provider);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, confab_static_token_provider_fetch_token_async);
  if (self->token == NULL || *self->token == '\0')
    g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_AUTH, "No token was given");
  else
    g_task_return_pointer (task, g_strdup (self->token), g_free);
}

static char *
confab_static_token_provider_fetch_token_finish (ConfabTokenProvider  *provider,
                                                 GAsyncResult         *result,
                                                 GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, provider), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
confab_static_token_provider_can_refresh (ConfabTokenProvider *provider)
{
  return FALSE;
}

static void
confab_static_token_provider_iface_init (ConfabTokenProviderInterface *iface)
{
  iface->fetch_token_async = confab_static_token_provider_fetch_token_async;
  iface->fetch_token_finish = confab_static_token_provider_fetch_token_finish;
  iface->can_refresh = confab_static_token_provider_can_refresh;
}

static void
confab_static_token_provider_finalize (GObject *object)
{
  ConfabStaticTokenProvider *self = CONFAB_STATIC_TOKEN_PROVIDER (object);

  if (self->token != NULL)
    memset (self->token, 0, strlen (self->token));
  g_clear_pointer (&self->token, g_free);

  G_OBJECT_CLASS (confab_static_token_provider_parent_class)->finalize (object);
}

static void
confab_static_token_provider_set_property (GObject      *object,
                                           guint         prop_id,
                                           const GValue *value,
                                           GParamSpec   *pspec)
{
  ConfabStaticTokenProvider *self = CONFAB_STATIC_TOKEN_PROVIDER (object);

  switch (prop_id)
    {
    case PROP_TOKEN:
      g_assert (self->token == NULL);
      self->token = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_static_token_provider_class_init (ConfabStaticTokenProviderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_static_token_provider_finalize;
  object_class->set_property = confab_static_token_provider_set_property;

  /**
   * ConfabStaticTokenProvider:token:
   *
   * The token. Write-only: a secret is not handed out through a property.
   */
  properties[PROP_TOKEN] =
    g_param_spec_string ("token", NULL, NULL, NULL,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_static_token_provider_init (ConfabStaticTokenProvider *self)
{
}

ConfabStaticTokenProvider *
confab_static_token_provider_new (const char *token)
{
  g_return_val_if_fail (token != NULL, NULL);

  return g_object_new (CONFAB_TYPE_STATIC_TOKEN_PROVIDER, "token", token, NULL);
}
