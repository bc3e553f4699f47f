/* confab-session.h: one signed-in account at work: outbox, connection and chat store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-account.h"
#include "confab-chat-store.h"
#include "confab-connection-manager.h"
#include "confab-outbox.h"
#include "confab-token-provider.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_SESSION (confab_session_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSession, confab_session, CONFAB, SESSION, GObject)

/* Creates the account's state directory (@state_dir, or NULL for
 * confab_account_dup_state_dir()) and takes its lock, so one account is never open
 * twice; then the outbox (<state>/outbox), the ConfabConnectionManager (state-dir
 * <state>, for the catch-up watermark) and the ConfabChatStore (cache <state>/cache).
 * Nothing connects until confab_session_start(). @diagnostics_salt: the installation's
 * salt for hashing ids in the report (NULL: a fresh one).
 * Errors: CONFAB_ERROR_BUSY (open in another Confab window), CONFAB_ERROR_STORAGE. */
ConfabSession           *confab_session_new            (ConfabAccount        *account,
                                                        ConfabTokenProvider  *token_provider,
                                                        const char           *state_dir,
                                                        const char           *diagnostics_salt,
                                                        GError              **error);

/* Fills the store from the cache of the last run (fast; works offline). A damaged cache
 * is set aside and rebuilt: the store still opens and @error says what happened. */
gboolean                 confab_session_load_cache     (ConfabSession        *self,
                                                        GError              **error);
/* Connects (the manager retries on its own); again after a FAILED state. */
void                     confab_session_start          (ConfabSession        *self);
/* Disconnects; the outbox keeps what was not sent. */
void                     confab_session_stop           (ConfabSession        *self);

ConfabAccount           *confab_session_get_account        (ConfabSession *self);
ConfabTokenProvider     *confab_session_get_token_provider (ConfabSession *self);
ConfabConnectionManager *confab_session_get_manager        (ConfabSession *self);
ConfabChatStore         *confab_session_get_store          (ConfabSession *self);
ConfabOutbox            *confab_session_get_outbox         (ConfabSession *self);
const char              *confab_session_get_state_dir      (ConfabSession *self);

G_END_DECLS
