/* confab-token-provider.h: where Stream user tokens come from, cached and refreshed early
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_TOKEN_PROVIDER (confab_token_provider_get_type ())

G_DECLARE_INTERFACE (ConfabTokenProvider, confab_token_provider, CONFAB, TOKEN_PROVIDER, GObject)

/* The wall-clock time in microseconds since the epoch, like g_get_real_time(). Tests
 * inject one to move time without waiting. */
typedef gint64 (*ConfabTokenClockFunc) (gpointer user_data);

/**
 * ConfabTokenProviderInterface:
 * @fetch_token_async: get a new token from the source (a command, a URL, …). No caching:
 *   confab_token_provider_get_token_async() does that, and never runs two fetches of
 *   one provider at once. Errors are CONFAB_ERROR (AUTH, TIMEOUT, …) or transport
 *   errors, and never contain a token.
 * @fetch_token_finish: the token, or %NULL with the error.
 * @can_refresh: whether a second fetch can give a different token; %NULL means yes.
 */
struct _ConfabTokenProviderInterface
{
  GTypeInterface parent_iface;

  void      (*fetch_token_async)  (ConfabTokenProvider  *self,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data);
  char     *(*fetch_token_finish) (ConfabTokenProvider  *self,
                                   GAsyncResult         *result,
                                   GError              **error);
  gboolean  (*can_refresh)        (ConfabTokenProvider  *self);
};

/* The current token. A cached token is returned until less than max (60 s, 10 % of its
 * lifetime) remains before its exp (ConfabJwtClaims), or when @force_refresh is set
 * (the server said code 40, token expired). Calls made while a fetch is in flight join
 * it. A refresh ahead of expiry that fails still returns the cached token while it has
 * not expired (and waits 15 s before trying again); a forced refresh returns the error.
 * A provider that cannot refresh (a static token) fails a forced refresh with
 * CONFAB_ERROR_AUTH. The token (a secret) must never be logged. */
void      confab_token_provider_get_token_async  (ConfabTokenProvider   *self,
                                                  gboolean               force_refresh,
                                                  GCancellable          *cancellable,
                                                  GAsyncReadyCallback    callback,
                                                  gpointer               user_data);
char     *confab_token_provider_get_token_finish (ConfabTokenProvider   *self,
                                                  GAsyncResult          *result,
                                                  GError               **error);

/* Forgets the cached token (sign-out, account change); a fetch in flight still answers
 * its callers but is not cached. */
void      confab_token_provider_invalidate       (ConfabTokenProvider   *self);

/* Replaces the wall clock used to decide expiry (%NULL: g_get_real_time()). */
void      confab_token_provider_set_clock        (ConfabTokenProvider   *self,
                                                  ConfabTokenClockFunc   clock,
                                                  gpointer               user_data);

G_END_DECLS
