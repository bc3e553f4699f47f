/* confab-url-token-provider.h: a token fetched from an HTTPS endpoint
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-token-provider.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_URL_TOKEN_PROVIDER (confab_url_token_provider_get_type ())

G_DECLARE_FINAL_TYPE (ConfabUrlTokenProvider, confab_url_token_provider,
                      CONFAB, URL_TOKEN_PROVIDER, GObject)

/* Fetches `{"token": "<JWT>"}` with @method ("GET" or "POST"; NULL: GET) from @url, which
 * must be https:// (http:// only to loopback; else CONFAB_ERROR_INSECURE_URL). A POST
 * sends ConfabUrlTokenProvider:request-body (default `{}`) as JSON. Redirects are not
 * followed.
 *
 * Errors: 401/403 → CONFAB_ERROR_AUTH; 429 → RATE_LIMITED; 5xx → SERVER; another status
 * → REJECTED; an answer that is not a JSON object, has no "token" or a "token" that is
 * not a string → PROTOCOL; a "token" that is not a JWT → AUTH; no answer within
 * ConfabUrlTokenProvider:timeout-ms → TIMEOUT; transport errors as GIO/TLS errors. */
ConfabUrlTokenProvider *confab_url_token_provider_new               (const char              *url,
                                                                     const char              *method,
                                                                     GError                 **error);

const char             *confab_url_token_provider_get_url           (ConfabUrlTokenProvider  *self);
guint                   confab_url_token_provider_get_timeout_ms    (ConfabUrlTokenProvider  *self);
void                    confab_url_token_provider_set_timeout_ms    (ConfabUrlTokenProvider  *self,
                                                                     guint                    timeout_ms);
/* The Authorization header sent to the endpoint (e.g. a session credential), or NULL
 * for none. Write-only: it is a secret. */
void                    confab_url_token_provider_set_authorization (ConfabUrlTokenProvider  *self,
                                                                     const char              *authorization);

G_END_DECLS
