/* confab-jwt-claims.h: the claims of a Stream user token, read without verifying it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_JWT_CLAIMS (confab_jwt_claims_get_type ())

/* What the client needs from a token: whose it is and how long it lasts. The signature
 * is NOT checked (the client has no secret); the server does that. */
typedef struct
{
  char     *user_id;   /* NULL if the token has none (a server token) */
  gboolean  has_exp;
  gint64    exp;       /* seconds since the epoch */
  gboolean  has_iat;
  gint64    iat;       /* seconds since the epoch */
} ConfabJwtClaims;

GType            confab_jwt_claims_get_type         (void) G_GNUC_CONST;

/* Parses a compact JWT (header.payload.signature; base64url or, as in Stream's dev
 * tokens, standard base64 with padding). Fails with CONFAB_ERROR_AUTH when @token is not
 * a token; the message never contains the token. */
ConfabJwtClaims *confab_jwt_claims_parse            (const char             *token,
                                                     GError                **error);
ConfabJwtClaims *confab_jwt_claims_copy             (const ConfabJwtClaims  *claims);
void             confab_jwt_claims_free             (ConfabJwtClaims        *claims);

/* When a token obtained at @obtained_at (seconds since the epoch) should be replaced:
 * once less than max (60 s, 10 % of its lifetime) remains before exp. The lifetime runs
 * from iat, or from @obtained_at when the token has no iat. G_MAXINT64 when it has no
 * exp (it never expires). */
gint64           confab_jwt_claims_get_refresh_time (const ConfabJwtClaims  *claims,
                                                     gint64                  obtained_at);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabJwtClaims, confab_jwt_claims_free)

G_END_DECLS
