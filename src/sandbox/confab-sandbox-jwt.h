/* confab-sandbox-jwt.h: HS256 tokens as Stream signs and checks them, and webhook HMACs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What a verified token says. Start from { 0 } and release with
 * confab_sandbox_claims_clear (or declare it g_auto). */
typedef struct {
  char    *user_id;    /* NULL for a server token */
  gboolean server;
  gboolean dev;        /* accepted dev token */
  gboolean has_exp, has_iat;
  gint64   exp, iat;   /* seconds */
} ConfabSandboxClaims;

void     confab_sandbox_claims_clear        (ConfabSandboxClaims  *claims);

/* Errors are CONFAB_STREAM_ERROR: AUTH (5) malformed or no user_id, TOKEN_EXPIRED (40),
 * TOKEN_NOT_VALID_YET (41), TOKEN_USED_BEFORE_IAT (42), TOKEN_SIGNATURE_INVALID (43).
 * out_claims may be NULL; it is zeroed first and only filled on success. */
gboolean confab_sandbox_jwt_verify          (const char           *token,
                                             const char           *secret,
                                             gboolean              allow_dev_tokens,
                                             gint64                now_sec,
                                             ConfabSandboxClaims  *out_claims,
                                             GError              **error);

/* Header {"alg":"HS256","typ":"JWT"}, base64url without padding. */
char    *confab_sandbox_jwt_sign            (JsonObject           *payload,
                                             const char           *secret);
/* {"user_id", "exp"?, "iat"?} in the JS SDK's order; 0 leaves a claim out. */
char    *confab_sandbox_jwt_user_token      (const char           *user_id,
                                             const char           *secret,
                                             gint64                iat,
                                             gint64                exp);
/* {"server":true} */
char    *confab_sandbox_jwt_server_token    (const char           *secret);

/* Lowercase hex HMAC-SHA256, as webhook X-Signature headers carry it. */
char    *confab_sandbox_hmac_sha256_hex     (const char           *key,
                                             const void           *data,
                                             gsize                 length);
/* Takes time that depends only on the lengths, never on where the strings differ. */
gboolean confab_sandbox_constant_time_equal (const char           *a,
                                             const char           *b);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ConfabSandboxClaims, confab_sandbox_claims_clear)

G_END_DECLS
