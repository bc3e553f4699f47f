/* confab-static-token-provider.h: a fixed token, which cannot be refreshed
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-token-provider.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_STATIC_TOKEN_PROVIDER (confab_static_token_provider_get_type ())

G_DECLARE_FINAL_TYPE (ConfabStaticTokenProvider, confab_static_token_provider,
                      CONFAB, STATIC_TOKEN_PROVIDER, GObject)

/* Always returns @token (a JWT). Once it is cached, a forced refresh (the server said
 * it expired) fails with CONFAB_ERROR_AUTH: nothing here can make a new one. */
ConfabStaticTokenProvider *confab_static_token_provider_new (const char *token);

G_END_DECLS
