/* confab-session.c: one signed-in account at work: outbox, connection and chat store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "confab-diagnostics.h"
#include "confab-error.h"
#include "confab-net-warmup.h"  /* firstconnect: warm-up */
#include "confab-session.h"

struct _ConfabSession
{
  GObject                  parent_instance;

  ConfabAccount           *account;
  ConfabTokenProvider     *token_provider;
  char                    *state_dir;
  int                      lock_fd;
  ConfabOutbox            *outbox;
  ConfabConnectionManager *manager;
  ConfabChatStore         *store;
  GCancellable            *cancellable;
};

G_DEFINE_FINAL_TYPE (ConfabSession, confab_session, G_TYPE_OBJECT)

static void
confab_session_dispose (GObject *object)
{
  ConfabSession *self = CONFAB_SESSION (object);

  g_cancellable_cancel (self->cancellable);
  if (self->manager != NULL)
    confab_connection_manager_disconnect (self->manager);
  g_clear_object (&self->store);
  g_clear_object (&self->manager);
  g_clear_object (&self->outbox);
  g_clear_object (&self->token_provider);

  G_OBJECT_CLASS (confab_session_parent_class)->dispose (object);
}

static void
confab_session_finalize (GObject *object)
{
  ConfabSession *self = CONFAB_SESSION (object);

  /* Closing the descriptor releases the lock. */
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_clear_object (&self->account);
  g_clear_object (&self->cancellable);
  g_free (self->state_dir);

  G_OBJECT_CLASS (confab_session_parent_class)->finalize (object);
}

static void
confab_session_class_init (ConfabSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_session_dispose;
  object_class->finalize = confab_session_finalize;
}

static void
confab_session_init (ConfabSession *self)
{
  self->lock_fd = -1;
  self->cancellable = g_cancellable_new ();
}

static gboolean
take_lock (ConfabSession  *self,
           GError        **error)
{
  g_autofree char *path = g_build_filename (self->state_dir, "lock", NULL);
  int saved;

  self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->lock_fd < 0)
    {
      saved = errno;
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   _("Could not open this account's local data: %s"), g_strerror (saved));
      return FALSE;
    }
  if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      saved = errno;
      close (self->lock_fd);
      self->lock_fd = -1;
      if (saved == EWOULDBLOCK)
        g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_BUSY,
                             _("This account is already open in another Confab window"));
      else
        g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                     _("Could not lock this account's local data: %s"), g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

ConfabSession *
confab_session_new (ConfabAccount        *account,
                    ConfabTokenProvider  *token_provider,
                    const char           *state_dir,
                    const char           *diagnostics_salt,
                    GError              **error)
{
  g_autoptr(ConfabSession) self = NULL;
  g_autoptr(ConfabDiagnostics) diagnostics = NULL;
  g_autofree char *outbox_dir = NULL;
  g_autofree char *cache_dir = NULL;

  g_return_val_if_fail (CONFAB_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (CONFAB_IS_TOKEN_PROVIDER (token_provider), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* firstconnect: load the proxy resolver and TLS CA database in a thread while the
   * state, the outbox and the UI are set up, off the first connect's path. */
  confab_net_warmup_start (confab_account_get_base_url (account));

  self = g_object_new (CONFAB_TYPE_SESSION, NULL);
  self->account = g_object_ref (account);
  self->token_provider = g_object_ref (token_provider);
  self->state_dir = state_dir != NULL ? g_strdup (state_dir) : confab_account_dup_state_dir (account);

  if (g_mkdir_with_parents (self->state_dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   _("Could not create this account's local data folder: %s"), g_strerror (saved));
      return NULL;
    }
  if (!take_lock (self, error))
    return NULL;

  outbox_dir = g_build_filename (self->state_dir, "outbox", NULL);
  self->outbox = confab_outbox_new (outbox_dir, error);
  if (self->outbox == NULL)
    return NULL;

  diagnostics = confab_diagnostics_new (diagnostics_salt);
  confab_diagnostics_set_fact (diagnostics, "app version", "confab " PACKAGE_VERSION);
  self->manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                                "base-url", confab_account_get_base_url (account),
                                "api-key", confab_account_get_api_key (account),
                                "token-provider", token_provider,
                                "outbox", self->outbox,
                                "diagnostics", diagnostics,
                                "state-dir", self->state_dir,
                                NULL);

  cache_dir = g_build_filename (self->state_dir, "cache", NULL);
  self->store = confab_chat_store_new (self->manager, cache_dir);

  g_debug ("session for account %s ready", confab_account_get_id (account));
  return g_steal_pointer (&self);
}

gboolean
confab_session_load_cache (ConfabSession  *self,
                           GError        **error)
{
  g_return_val_if_fail (CONFAB_IS_SESSION (self), FALSE);

  return confab_chat_store_load_cache (self->store, error);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* The manager's state and last-error say what happened; the window shows them. */
  if (!confab_connection_manager_connect_finish (CONFAB_CONNECTION_MANAGER (source), result, &error))
    g_debug ("connect ended: %s", error->message);
}

void
confab_session_start (ConfabSession *self)
{
  const char *secrets[2] = { NULL, NULL };

  g_return_if_fail (CONFAB_IS_SESSION (self));

  confab_connection_manager_connect_async (self->manager, confab_account_get_user_id (self->account),
                                           NULL, self->cancellable, on_connected, NULL);
  /* After connect_async, which sets the identity without the secrets. */
  secrets[0] = confab_account_get_api_key (self->account);
  confab_diagnostics_set_identity (confab_connection_manager_get_diagnostics (self->manager),
                                   confab_account_get_user_id (self->account), NULL, NULL, secrets);
}

void
confab_session_stop (ConfabSession *self)
{
  g_return_if_fail (CONFAB_IS_SESSION (self));

  confab_connection_manager_disconnect (self->manager);
}

ConfabAccount *
confab_session_get_account (ConfabSession *self)
{
  g_return_val_if_fail (CONFAB_IS_SESSION (self), NULL);

  return self->account;
}

ConfabTokenProvider *
confab_session_get_token_provider (ConfabSession *self)
{
  g_return_val_if_fail (CONFAB_IS_SESSION (self), NULL);

  return self->token_provider;
}

ConfabConnectionManager *
confab_session_get_manager (ConfabSession *self)
{
  g_return_val_if_fail (CONFAB_IS_SESSION (self), NULL);

  return self->manager;
}

ConfabChatStore *
confab_session_get_store (ConfabSession *self)
{
  g_return_val_if_fail (CONFAB_IS_SESSION (self), NULL);

  return self->store;
}

ConfabOutbox *
confab_session_get_outbox (ConfabSession *self)
{
  g_return_val_if_fail (CONFAB_IS_SESSION (self), NULL);

  return self->outbox;
}

const char *
confab_session_get_state_dir (ConfabSession *self)
{
  g_return_val_if_fail (CONFAB_IS_SESSION (self), NULL);

  return self->state_dir;
}
