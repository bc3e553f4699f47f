/* confab-demo-sign-in.h: sign in to a --demo sandbox as one of its demo users
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* POSTs {"user_id": @user_id} to @base_url/sandbox/demo-token and finishes with the
 * sandbox's API key and a user token. Errors: CONFAB_ERROR_INSECURE_URL (not https://
 * nor loopback), CONFAB_ERROR_NETWORK / _TIMEOUT (no answer), CONFAB_ERROR_REJECTED
 * (not a --demo sandbox, or no such demo user), CONFAB_ERROR_PROTOCOL (a malformed
 * answer). Messages name neither the user nor the token. */
void     confab_demo_sign_in_async  (const char           *base_url,
                                     const char           *user_id,
                                     GCancellable         *cancellable,
                                     GAsyncReadyCallback   callback,
                                     gpointer              user_data);
gboolean confab_demo_sign_in_finish (GAsyncResult         *result,
                                     char                **api_key,
                                     char                **token,
                                     GError              **error);

G_END_DECLS
