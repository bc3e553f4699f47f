/* confab-application.h: the desktop app: accounts, sessions, menu actions, notifications
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-account.h"
#include "confab-secret-store.h"
#include "confab-session.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_APPLICATION (confab_application_get_type ())

G_DECLARE_FINAL_TYPE (ConfabApplication, confab_application, CONFAB, APPLICATION, AdwApplication)

/* The application (id APP_ID). Command line: `confab [--sandbox URL --as USER]`; with
 * --as the id becomes a per-account one (confab_account_dup_application_id()), so two
 * users run side by side while a second start as the same user raises the first window.
 *
 * Actions (app.*): quit (Ctrl+Q), preferences (Ctrl+,), about, shortcuts (Ctrl+?, the
 * window's show-help-overlay), copy-diagnostics, connection-details, retry-now (Ctrl+R),
 * open-another-user, sign-in, sign-out (confab_application_confirm_sign_out()), open-channel (s: a cid; notifications use it). */
ConfabApplication *confab_application_new                (void);

GSettings         *confab_application_get_settings       (ConfabApplication *self);
ConfabSecretStore *confab_application_get_secret_store   (ConfabApplication *self);
/* The current session (NULL when signed out or still signing in). */
ConfabSession     *confab_application_get_session        (ConfabApplication *self);
/* The main window, created on first activation. */
GtkWindow         *confab_application_get_main_window    (ConfabApplication *self);

/* Signs in as @account (replacing the current one): settings are saved, @token (may be
 * NULL: a demo account asks the sandbox) goes to the keyring, the cache opens at once
 * and the connection starts. */
void               confab_application_sign_in            (ConfabApplication *self,
                                                          ConfabAccount     *account,
                                                          const char        *token);
/* Signs out at once: the token leaves the keyring and the account's data on this
 * computer (saved conversations, unsent messages, catch-up state) is removed. */
void               confab_application_sign_out           (ConfabApplication *self);
/* Messages of the current session not sent yet (queued or failed). */
guint              confab_application_get_n_unsent       (ConfabApplication *self);
/* What "Sign Out" does (app.sign-out, Preferences): signs out at once when nothing is
 * unsent; otherwise asks first ("N messages have not been sent yet…"), in a dialog
 * transient for @parent (NULL: the main window). */
void               confab_application_confirm_sign_out   (ConfabApplication *self,
                                                          GtkWindow         *parent);

G_END_DECLS
