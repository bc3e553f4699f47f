/* confab-account-token-provider.h: an account's token, from sign-in, the keyring or a refresh
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-account.h"
#include "confab-secret-store.h"
#include "confab-token-provider.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_ACCOUNT_TOKEN_PROVIDER (confab_account_token_provider_get_type ())

G_DECLARE_FINAL_TYPE (ConfabAccountTokenProvider, confab_account_token_provider,
                      CONFAB, ACCOUNT_TOKEN_PROVIDER, GObject)

/* Where a fetch gets the token, in order: a token handed over with set_token() (just
 * signed in), the keyring (first fetch only), then @refresh (for a demo account a
 * ConfabUrlTokenProvider asking the sandbox's demo-token endpoint; NULL for a token the
 * user typed, which cannot be refreshed). Tokens from set_token() and @refresh are
 * written to the keyring; when that fails the token is kept in memory and @secrets'
 * ConfabSecretStore:available turns FALSE, which the app reports. @secrets may be NULL
 * (no keyring at all). */
ConfabAccountTokenProvider *confab_account_token_provider_new         (ConfabAccount              *account,
                                                                       ConfabSecretStore          *secrets,
                                                                       ConfabTokenProvider        *refresh);
/* A token just obtained (demo sign-in, typed in Preferences): the next fetch returns it. */
void                        confab_account_token_provider_set_token   (ConfabAccountTokenProvider *self,
                                                                       const char                 *token);
/* Forgets any stored token: the next fetch asks @refresh (a token the keyring kept from an
 * earlier run was refused). */
void                        confab_account_token_provider_forget      (ConfabAccountTokenProvider *self);
ConfabAccount              *confab_account_token_provider_get_account (ConfabAccountTokenProvider *self);

G_END_DECLS
