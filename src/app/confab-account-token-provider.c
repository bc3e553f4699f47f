/* confab-account-token-provider.c: an account's token, from sign-in, the keyring or a refresh
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "confab-account-token-provider.h"
#include "confab-error.h"

struct _ConfabAccountTokenProvider
{
  GObject              parent_instance;

  ConfabAccount       *account;
  ConfabSecretStore   *secrets;
  ConfabTokenProvider *refresh;
  char                *handed_over;    /* from set_token(), returned by the next fetch */
  gboolean             keyring_tried;  /* the keyring is asked on the first fetch only */
  GCancellable        *cancellable;    /* keyring writes; cancelled on dispose */
};

static void confab_account_token_provider_iface_init (ConfabTokenProviderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabAccountTokenProvider, confab_account_token_provider, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CONFAB_TYPE_TOKEN_PROVIDER,
                                                      confab_account_token_provider_iface_init))

static void
wipe_free (char *secret)
{
  if (secret == NULL)
    return;
  memset (secret, 0, strlen (secret));
  g_free (secret);
}

static void
on_stored (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* A failure turns ConfabSecretStore:available off; the app says so once. */
  if (!confab_secret_store_store_finish (CONFAB_SECRET_STORE (source), result, &error))
    g_debug ("the token stays in memory only: %s", error->message);
}

static void
remember (ConfabAccountTokenProvider *self,
          const char                 *token)
{
  if (self->secrets == NULL)
    return;
  confab_secret_store_store_async (self->secrets,
                                   confab_account_get_base_url (self->account),
                                   confab_account_get_user_id (self->account),
                                   token, self->cancellable, on_stored, NULL);
}

static void
on_refreshed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConfabAccountTokenProvider *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  char *token;

  token = confab_token_provider_get_token_finish (CONFAB_TOKEN_PROVIDER (source), result, &error);
  if (token == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  remember (self, token);
  g_task_return_pointer (task, token, (GDestroyNotify) wipe_free);
}

static void
fetch_from_refresh (GTask *task)
{
  ConfabAccountTokenProvider *self = g_task_get_source_object (task);

  if (self->refresh == NULL)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_AUTH,
                               _("No token is stored for this account; sign in again"));
      g_object_unref (task);
      return;
    }
  confab_token_provider_get_token_async (self->refresh, TRUE, g_task_get_cancellable (task),
                                         on_refreshed, task);
}

static void
on_looked_up (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;
  char *token;

  token = confab_secret_store_lookup_finish (CONFAB_SECRET_STORE (source), result, &error);
  if (token != NULL)
    {
      g_task_return_pointer (task, token, (GDestroyNotify) wipe_free);
      g_object_unref (task);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (error != NULL)
    g_debug ("no token from the keyring: %s", error->message);
  fetch_from_refresh (task);
}

static void
confab_account_token_provider_fetch_token_async (ConfabTokenProvider *provider,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data)
{
  ConfabAccountTokenProvider *self = CONFAB_ACCOUNT_TOKEN_PROVIDER (provider);
  GTask *task;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_account_token_provider_fetch_token_async);

  if (self->handed_over != NULL)
    {
      self->keyring_tried = TRUE;
      g_task_return_pointer (task, g_steal_pointer (&self->handed_over), (GDestroyNotify) wipe_free);
      g_object_unref (task);
      return;
    }

  if (!self->keyring_tried && self->secrets != NULL)
    {
      self->keyring_tried = TRUE;
      confab_secret_store_lookup_async (self->secrets,
                                        confab_account_get_base_url (self->account),
                                        confab_account_get_user_id (self->account),
                                        cancellable, on_looked_up, task);
      return;
    }

  fetch_from_refresh (task);
}

static char *
confab_account_token_provider_fetch_token_finish (ConfabTokenProvider  *provider,
                                                  GAsyncResult         *result,
                                                  GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, provider), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
confab_account_token_provider_can_refresh (ConfabTokenProvider *provider)
{
  ConfabAccountTokenProvider *self = CONFAB_ACCOUNT_TOKEN_PROVIDER (provider);

  return self->refresh != NULL || self->handed_over != NULL;
}

static void
confab_account_token_provider_iface_init (ConfabTokenProviderInterface *iface)
{
  iface->fetch_token_async = confab_account_token_provider_fetch_token_async;
  iface->fetch_token_finish = confab_account_token_provider_fetch_token_finish;
  iface->can_refresh = confab_account_token_provider_can_refresh;
}

static void
confab_account_token_provider_dispose (GObject *object)
{
  ConfabAccountTokenProvider *self = CONFAB_ACCOUNT_TOKEN_PROVIDER (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->refresh);
  g_clear_object (&self->secrets);

  G_OBJECT_CLASS (confab_account_token_provider_parent_class)->dispose (object);
}

static void
confab_account_token_provider_finalize (GObject *object)
{
  ConfabAccountTokenProvider *self = CONFAB_ACCOUNT_TOKEN_PROVIDER (object);

  g_clear_object (&self->account);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->handed_over, wipe_free);

  G_OBJECT_CLASS (confab_account_token_provider_parent_class)->finalize (object);
}

static void
confab_account_token_provider_class_init (ConfabAccountTokenProviderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_account_token_provider_dispose;
  object_class->finalize = confab_account_token_provider_finalize;
}

static void
confab_account_token_provider_init (ConfabAccountTokenProvider *self)
{
  self->cancellable = g_cancellable_new ();
}

ConfabAccountTokenProvider *
confab_account_token_provider_new (ConfabAccount       *account,
                                   ConfabSecretStore   *secrets,
                                   ConfabTokenProvider *refresh)
{
  ConfabAccountTokenProvider *self;

  g_return_val_if_fail (CONFAB_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (secrets == NULL || CONFAB_IS_SECRET_STORE (secrets), NULL);
  g_return_val_if_fail (refresh == NULL || CONFAB_IS_TOKEN_PROVIDER (refresh), NULL);

  self = g_object_new (CONFAB_TYPE_ACCOUNT_TOKEN_PROVIDER, NULL);
  self->account = g_object_ref (account);
  g_set_object (&self->secrets, secrets);
  g_set_object (&self->refresh, refresh);
  return self;
}

void
confab_account_token_provider_set_token (ConfabAccountTokenProvider *self,
                                         const char                 *token)
{
  g_return_if_fail (CONFAB_IS_ACCOUNT_TOKEN_PROVIDER (self));
  g_return_if_fail (token != NULL && *token != '\0');

  g_clear_pointer (&self->handed_over, wipe_free);
  self->handed_over = g_strdup (token);
  confab_token_provider_invalidate (CONFAB_TOKEN_PROVIDER (self));
  remember (self, token);
}

void
confab_account_token_provider_forget (ConfabAccountTokenProvider *self)
{
  g_return_if_fail (CONFAB_IS_ACCOUNT_TOKEN_PROVIDER (self));

  g_clear_pointer (&self->handed_over, wipe_free);
  self->keyring_tried = TRUE;
  confab_token_provider_invalidate (CONFAB_TOKEN_PROVIDER (self));
}

ConfabAccount *
confab_account_token_provider_get_account (ConfabAccountTokenProvider *self)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT_TOKEN_PROVIDER (self), NULL);

  return self->account;
}
