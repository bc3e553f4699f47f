/* confab-account.h: who is signed in where, and where their local data lives
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* How an account gets its Stream user token. */
typedef enum {
  CONFAB_ACCOUNT_KIND_DEMO,   /* from a --demo sandbox's POST /sandbox/demo-token */
  CONFAB_ACCOUNT_KIND_TOKEN,  /* a token the user entered, kept in the keyring */
} ConfabAccountKind;

GType confab_account_kind_get_type (void) G_GNUC_CONST;
#define CONFAB_TYPE_ACCOUNT_KIND (confab_account_kind_get_type ())

/* Stream user ids: at most this many of a-z A-Z 0-9 @ _ - */
#define CONFAB_ACCOUNT_MAX_USER_ID_LENGTH 64

#define CONFAB_TYPE_ACCOUNT (confab_account_get_type ())

G_DECLARE_FINAL_TYPE (ConfabAccount, confab_account, CONFAB, ACCOUNT, GObject)

/* Properties: kind, base-url (normalised: no trailing slash), user-id (construct-only),
 * api-key (read/write: a demo sign-in learns it), id (read-only: a hash of base-url and
 * user-id, safe for file names and logs). Checks @base_url (https://, or http:// to
 * loopback) and @user_id; fails with CONFAB_ERROR_INSECURE_URL or CONFAB_ERROR_REJECTED. */
ConfabAccount     *confab_account_new                 (ConfabAccountKind   kind,
                                                       const char         *base_url,
                                                       const char         *api_key,
                                                       const char         *user_id,
                                                       GError            **error);
/* The account saved in @settings (keys base-url, api-key, user-id, account-kind), or
 * NULL when none is saved or it is not valid (no error: the app shows "not signed in"). */
ConfabAccount     *confab_account_new_from_settings   (GSettings          *settings);
void               confab_account_save_to_settings    (ConfabAccount      *self,
                                                       GSettings          *settings);
/* Forgets the account in @settings, keeping the server address for the next sign-in. */
void               confab_account_clear_settings      (GSettings          *settings);

ConfabAccountKind  confab_account_get_kind            (ConfabAccount      *self);
const char        *confab_account_get_base_url        (ConfabAccount      *self);
const char        *confab_account_get_api_key         (ConfabAccount      *self);
void               confab_account_set_api_key         (ConfabAccount      *self,
                                                       const char         *api_key);
const char        *confab_account_get_user_id         (ConfabAccount      *self);
const char        *confab_account_get_id              (ConfabAccount      *self);
gboolean           confab_account_equal               (ConfabAccount      *self,
                                                       ConfabAccount      *other);

/* g_get_user_state_dir()/confab/<id>: the outbox, the catch-up watermark and the history
 * cache of this account. Not created here. */
char              *confab_account_dup_state_dir       (ConfabAccount      *self);
/* @base_application_id + ".User_" + a short hash: one running instance per account, so
 * two demo users can run side by side. */
char              *confab_account_dup_application_id  (ConfabAccount      *self,
                                                       const char         *base_application_id);
/* The sandbox's demo-token endpoint: <base-url>/sandbox/demo-token. */
char              *confab_account_dup_demo_token_url  (ConfabAccount      *self);

gboolean           confab_account_check_user_id       (const char         *user_id,
                                                       GError            **error);
/* Trims spaces and trailing slashes; NULL if nothing is left. */
char              *confab_account_normalize_base_url  (const char         *base_url);

G_END_DECLS
