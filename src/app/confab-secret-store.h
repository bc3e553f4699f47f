/* confab-secret-store.h: account tokens in the keyring (libsecret), with a deadline
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A keyring that does not answer within this (a locked keyring's prompt nobody sees, a
 * hung service) counts as unavailable. */
#define CONFAB_SECRET_STORE_DEFAULT_TIMEOUT_MS 5000

#define CONFAB_TYPE_SECRET_STORE (confab_secret_store_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSecretStore, confab_secret_store, CONFAB, SECRET_STORE, GObject)

/* Properties: available (read-only: FALSE once an operation failed because no keyring
 * answered; TRUE again after one succeeds), timeout-ms.
 *
 * Items use the schema "io.github.confab_chat.Confab.Token" with the attributes
 * "base-url" and "user-id". Errors are CONFAB_ERROR_STORAGE (no keyring, or it failed)
 * or CONFAB_ERROR_TIMEOUT, with G_IO_ERROR_CANCELLED when the caller cancelled. */
ConfabSecretStore *confab_secret_store_new            (void);

gboolean           confab_secret_store_get_available  (ConfabSecretStore   *self);
guint              confab_secret_store_get_timeout_ms (ConfabSecretStore   *self);
void               confab_secret_store_set_timeout_ms (ConfabSecretStore   *self,
                                                       guint                timeout_ms);

/* Finishes with the token, or NULL and no error when none is stored. */
void               confab_secret_store_lookup_async   (ConfabSecretStore   *self,
                                                       const char          *base_url,
                                                       const char          *user_id,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
char              *confab_secret_store_lookup_finish  (ConfabSecretStore   *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
void               confab_secret_store_store_async    (ConfabSecretStore   *self,
                                                       const char          *base_url,
                                                       const char          *user_id,
                                                       const char          *token,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean           confab_secret_store_store_finish   (ConfabSecretStore   *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
void               confab_secret_store_clear_async    (ConfabSecretStore   *self,
                                                       const char          *base_url,
                                                       const char          *user_id,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean           confab_secret_store_clear_finish   (ConfabSecretStore   *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);

G_END_DECLS
