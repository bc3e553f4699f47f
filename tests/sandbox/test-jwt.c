/* test-jwt.c: HS256 token signing and verification against the JS SDK's tokens
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "confab-sandbox-error.h"
#include "confab-sandbox-jwt.h"

#define NOW         G_GINT64_CONSTANT (1700000000)
#define HS256       "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* Vectors computed once with Node 20 (tests/conformance/node_modules):
 *
 *   const crypto = require ('crypto');
 *   const b64u = (s) => Buffer.from (s).toString ('base64url');
 *   function sign (payload, secret) {
 *     const h = b64u (JSON.stringify ({ alg: 'HS256', typ: 'JWT' }));
 *     const p = b64u (JSON.stringify (payload));
 *     return h + '.' + p + '.' +
 *            crypto.createHmac ('sha256', secret).update (h + '.' + p).digest ('base64url');
 *   }
 *   sign ({ user_id: 'alice' }, 'secret');
 *   sign ({ user_id: 'alice', exp: 1700003600, iat: 1700000000 }, 'secret');
 *   sign ({ server: true }, 'secret');
 *
 * stream-chat 9.53.0's new StreamChat ('key', 'secret').createToken ('alice'[, 1700003600,
 * 1700000000]) and jsonwebtoken's sign ({ server: true }, …, { noTimestamp: true }) give the
 * same strings byte for byte. The dev tokens are stream-chat's DevToken ('alice') and
 * DevToken ('dev-a?aa>'), the latter chosen so its payload has '/', '+' and '='. */
#define SDK_ALICE        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiYWxpY2UifQ." \
                         "YbDM4fmZOvvxOWjBdMVV--0AGcSWNENiVdni8bfgD_M"
#define SDK_ALICE_TIMED  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
                         "eyJ1c2VyX2lkIjoiYWxpY2UiLCJleHAiOjE3MDAwMDM2MDAsImlhdCI6MTcwMDAwMDAwMH0." \
                         "8CerPVF7vxAasqogWbYH4EJi1Dyauuo2XFKIrnejmGM"
#define SDK_SERVER       "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzZXJ2ZXIiOnRydWV9." \
                         "DHnfQolWsEGFcTR7ZwVBbIVUFAvxzDJXzB6UlyU-7JQ"
#define SDK_DEV_ALICE    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiYWxpY2UifQ==.devtoken"
#define SDK_DEV_SYMBOLS  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiZGV2LWE/YWE+In0=.devtoken"

/* An encoder independent of the one under test. */
static char *
b64url (const void *data,
        gsize       length)
{
  g_autofree char *text = g_base64_encode (data, length);
  GString *out = g_string_new (NULL);
  const char *p;

  for (p = text; *p != '\0' && *p != '='; p++)
    g_string_append_c (out, *p == '+' ? '-' : *p == '/' ? '_' : *p);

  return g_string_free (out, FALSE);
}

static char *
make_token (const char *header_json,
            const char *payload_json,
            const char *secret)
{
  g_autofree char *header = b64url (header_json, strlen (header_json));
  g_autofree char *payload = b64url (payload_json, strlen (payload_json));
  g_autofree char *input = g_strconcat (header, ".", payload, NULL);
  g_autofree char *signature = NULL;
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  g_hmac_update (hmac, (const guchar *) input, strlen (input));
  g_hmac_get_digest (hmac, digest, &digest_len);
  signature = b64url (digest, digest_len);

  return g_strconcat (input, ".", signature, NULL);
}

static void
assert_rejected (const char *token,
                 const char *secret,
                 gboolean    allow_dev,
                 int         code)
{
  g_auto(ConfabSandboxClaims) claims = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_false (confab_sandbox_jwt_verify (token, secret, allow_dev, NOW, &claims, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, code);
  g_assert_true (g_str_has_prefix (error->message, "JWTAuth error: "));
  g_assert_null (claims.user_id);
  g_assert_false (claims.server);
  /* The token is a credential: it must not leak into the message. */
  if (token != NULL && strlen (token) > 8)
    g_assert_null (strstr (error->message, token));
}

static void
assert_payload_rejected (const char *payload_json,
                         int         code)
{
  g_autofree char *token = make_token (HS256, payload_json, "secret");

  assert_rejected (token, "secret", FALSE, code);
}

static void
assert_payload_accepted (const char *payload_json)
{
  g_autofree char *token = make_token (HS256, payload_json, "secret");
  g_autoptr(GError) error = NULL;

  g_assert_true (confab_sandbox_jwt_verify (token, "secret", FALSE, NOW, NULL, &error));
  g_assert_no_error (error);
}

static void
test_sdk_vectors (void)
{
  g_autofree char *alice = confab_sandbox_jwt_user_token ("alice", "secret", 0, 0);
  g_autofree char *timed = confab_sandbox_jwt_user_token ("alice", "secret", NOW, NOW + 3600);
  g_autofree char *server = confab_sandbox_jwt_server_token ("secret");
  g_auto(ConfabSandboxClaims) claims = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (alice, ==, SDK_ALICE);
  g_assert_cmpstr (timed, ==, SDK_ALICE_TIMED);
  g_assert_cmpstr (server, ==, SDK_SERVER);

  g_assert_true (confab_sandbox_jwt_verify (SDK_ALICE, "secret", FALSE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.user_id, ==, "alice");
  g_assert_false (claims.server);
  g_assert_false (claims.dev);
  g_assert_false (claims.has_exp);
  g_assert_false (claims.has_iat);
  confab_sandbox_claims_clear (&claims);

  g_assert_true (confab_sandbox_jwt_verify (SDK_ALICE_TIMED, "secret", FALSE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.user_id, ==, "alice");
  g_assert_true (claims.has_exp);
  g_assert_cmpint (claims.exp, ==, NOW + 3600);
  g_assert_true (claims.has_iat);
  g_assert_cmpint (claims.iat, ==, NOW);
}

static void
test_round_trip (void)
{
  g_autoptr(JsonObject) payload = json_object_new ();
  g_autofree char *token = NULL;
  g_auto(ConfabSandboxClaims) claims = { 0 };
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (payload, "user_id", "Zoë «quoted\" / id»");
  json_object_set_int_member (payload, "iat", NOW - 60);
  json_object_set_string_member (payload, "extra", "ignored");
  token = confab_sandbox_jwt_sign (payload, "s3cr3t");

  g_assert_nonnull (token);
  g_assert_true (g_str_has_prefix (token, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
  g_assert_null (strchr (token, '='));
  g_assert_null (strchr (token, '+'));
  g_assert_null (strchr (token, '/'));

  g_assert_true (confab_sandbox_jwt_verify (token, "s3cr3t", FALSE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.user_id, ==, "Zoë «quoted\" / id»");
  g_assert_true (claims.has_iat);
  g_assert_cmpint (claims.iat, ==, NOW - 60);
  g_assert_false (claims.has_exp);
}

static void
test_server_token (void)
{
  g_auto(ConfabSandboxClaims) claims = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (confab_sandbox_jwt_verify (SDK_SERVER, "secret", FALSE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_true (claims.server);
  g_assert_null (claims.user_id);
  g_assert_false (claims.dev);

  assert_rejected (SDK_SERVER, "other secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);
  /* server must be the boolean true */
  assert_payload_rejected ("{\"server\":false}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"server\":\"true\"}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"server\":1}", CONFAB_STREAM_ERROR_AUTH);
}

static void
test_expired (void)
{
  g_autofree char *at_now = confab_sandbox_jwt_user_token ("alice", "secret", 0, NOW);
  g_autofree char *before = confab_sandbox_jwt_user_token ("alice", "secret", 0, NOW - 3600);
  g_autofree char *after = confab_sandbox_jwt_user_token ("alice", "secret", 0, NOW + 1);
  g_autoptr(GError) error = NULL;

  assert_rejected (at_now, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_EXPIRED);
  assert_rejected (before, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_EXPIRED);
  g_assert_true (confab_sandbox_jwt_verify (after, "secret", FALSE, NOW, NULL, &error));
  g_assert_no_error (error);

  confab_sandbox_jwt_verify (before, "secret", FALSE, NOW, NULL, &error);
  g_assert_cmpstr (error->message, ==, "JWTAuth error: token is expired (exp)");

  /* NumericDate may be fractional */
  assert_payload_accepted ("{\"user_id\":\"a\",\"exp\":1700000000.5}");
  assert_payload_rejected ("{\"user_id\":\"a\",\"exp\":1699999999.5}", CONFAB_STREAM_ERROR_TOKEN_EXPIRED);
}

static void
test_not_before (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = make_token (HS256, "{\"user_id\":\"a\",\"nbf\":1700000010}", "secret");

  assert_rejected (token, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_NOT_VALID_YET);
  confab_sandbox_jwt_verify (token, "secret", FALSE, NOW, NULL, &error);
  g_assert_cmpstr (error->message, ==, "JWTAuth error: token is not valid yet (nbf)");

  assert_payload_accepted ("{\"user_id\":\"a\",\"nbf\":1700000000}");
  assert_payload_accepted ("{\"user_id\":\"a\",\"nbf\":1}");
}

static void
test_issued_at (void)
{
  g_autofree char *future = confab_sandbox_jwt_user_token ("alice", "secret", NOW + 6, 0);
  g_autofree char *leeway = confab_sandbox_jwt_user_token ("alice", "secret", NOW + 5, 0);
  g_autoptr(GError) error = NULL;

  assert_rejected (future, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_USED_BEFORE_IAT);
  confab_sandbox_jwt_verify (future, "secret", FALSE, NOW, NULL, &error);
  g_assert_cmpstr (error->message, ==, "JWTAuth error: token used before issued at (iat)");
  g_clear_error (&error);

  g_assert_true (confab_sandbox_jwt_verify (leeway, "secret", FALSE, NOW, NULL, &error));
  g_assert_no_error (error);
}

static void
test_claim_types (void)
{
  assert_payload_rejected ("{\"user_id\":\"a\",\"exp\":\"1800000000\"}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user_id\":\"a\",\"exp\":null}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user_id\":\"a\",\"iat\":true}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user_id\":\"a\",\"nbf\":[1]}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user_id\":\"a\",\"nbf\":{}}", CONFAB_STREAM_ERROR_AUTH);
  /* huge values clamp instead of overflowing */
  assert_payload_accepted ("{\"user_id\":\"a\",\"exp\":1e300}");
  assert_payload_rejected ("{\"user_id\":\"a\",\"exp\":-1e300}", CONFAB_STREAM_ERROR_TOKEN_EXPIRED);
}

static void
test_tampered (void)
{
  g_autofree char *bob_payload = b64url ("{\"user_id\":\"bob\"}", strlen ("{\"user_id\":\"bob\"}"));
  g_auto(GStrv) parts = g_strsplit (SDK_ALICE, ".", -1);
  g_autofree char *swapped = g_strjoin (".", parts[0], bob_payload, parts[2], NULL);
  g_autofree char *flipped = g_strdup (SDK_ALICE);
  g_autofree char *truncated = g_strndup (SDK_ALICE, strlen (SDK_ALICE) - 3);
  g_autoptr(GError) error = NULL;

  assert_rejected (swapped, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);

  /* one signature character changed */
  flipped[strlen (flipped) - 2] = flipped[strlen (flipped) - 2] == 'A' ? 'B' : 'A';
  assert_rejected (flipped, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);

  assert_rejected (truncated, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);

  confab_sandbox_jwt_verify (swapped, "secret", FALSE, NOW, NULL, &error);
  g_assert_cmpstr (error->message, ==,
                   "JWTAuth error: signature is not valid. "
                   "Make sure the token is created with the right secret");
}

static void
test_wrong_secret (void)
{
  assert_rejected (SDK_ALICE, "Secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);
  assert_rejected (SDK_ALICE, "", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);
  assert_rejected (SDK_ALICE, "secret ", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);
}

static void
test_algorithms (void)
{
  const char *payload = "{\"user_id\":\"alice\"}";
  const char *none = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
  g_autofree char *header_none = b64url (none, strlen (none));
  g_autofree char *payload_part = b64url (payload, strlen (payload));
  g_autofree char *unsigned_token = g_strconcat (header_none, ".", payload_part, ".", NULL);
  /* correctly HMAC'd with the secret, but claiming another algorithm */
  g_autofree char *none_signed = make_token (none, payload, "secret");
  g_autofree char *hs512 = make_token ("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, "secret");
  g_autofree char *lower = make_token ("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", payload, "secret");
  g_autofree char *rs256 = make_token ("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, "secret");
  g_autofree char *no_alg = make_token ("{\"typ\":\"JWT\"}", payload, "secret");
  g_autofree char *alg_number = make_token ("{\"alg\":256}", payload, "secret");
  g_autofree char *alg_only = make_token ("{\"alg\":\"HS256\"}", payload, "secret");
  g_autoptr(GError) error = NULL;

  assert_rejected (unsigned_token, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (unsigned_token, "secret", TRUE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (none_signed, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (hs512, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (lower, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (rs256, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (no_alg, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (alg_number, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);

  /* typ is optional, as in jsonwebtoken */
  g_assert_true (confab_sandbox_jwt_verify (alg_only, "secret", FALSE, NOW, NULL, &error));
  g_assert_no_error (error);
}

static void
test_malformed (void)
{
  g_auto(GStrv) parts = g_strsplit (SDK_ALICE, ".", -1);
  g_autofree char *two = g_strjoin (".", parts[0], parts[1], NULL);
  g_autofree char *four = g_strconcat (SDK_ALICE, ".", parts[2], NULL);
  g_autofree char *trailing_dot = g_strconcat (SDK_ALICE, ".", NULL);
  g_autofree char *bad_char = g_strjoin (".", parts[0], "eyJ1c2VyX2lkIjoiYWxpY2UifQ!", parts[2], NULL);
  g_autofree char *bad_space = g_strjoin (".", parts[0], "eyJ1c2VyX2lk IjoiYWxpY2UifQ", parts[2], NULL);
  g_autofree char *bad_length = g_strjoin (".", parts[0], "eyJ1c", parts[2], NULL);
  g_autofree char *bad_padding = g_strjoin (".", parts[0], "eyJ1c2VyX2lkIjoiYWxpY2UifQ=", parts[2], NULL);
  g_autofree char *bad_signature = g_strjoin (".", parts[0], parts[1], "not*base64", NULL);
  g_autofree char *header_text = make_token ("alg=HS256", "{\"user_id\":\"a\"}", "secret");
  g_autofree char *header_array = make_token ("[\"HS256\"]", "{\"user_id\":\"a\"}", "secret");
  g_autofree char *payload_array = make_token (HS256, "[{\"user_id\":\"a\"}]", "secret");
  g_autofree char *payload_text = make_token (HS256, "user_id=a", "secret");
  g_autofree char *payload_empty = make_token (HS256, "", "secret");
  g_autofree char *payload_trailing = make_token (HS256, "{\"user_id\":\"a\"} x", "secret");
  g_autofree char *payload_latin1 = make_token (HS256, "{\"user_id\":\"\xfc\"}", "secret");
  g_autofree char *huge_id = g_strnfill (9000, 'x');
  g_autofree char *huge = confab_sandbox_jwt_user_token (huge_id, "secret", 0, 0);
  g_autofree char *big_id = g_strnfill (5000, 'x');
  g_autofree char *big = confab_sandbox_jwt_user_token (big_id, "secret", 0, 0);
  g_autoptr(GError) error = NULL;

  assert_rejected (two, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (four, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (trailing_dot, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected ("", "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (NULL, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected ("..", "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected ("a.b.c", "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected ("Bearer " SDK_ALICE, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (bad_char, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (bad_space, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (bad_length, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (bad_padding, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (bad_signature, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (header_text, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (header_array, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (payload_array, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (payload_text, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (payload_empty, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (payload_trailing, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  assert_rejected (payload_latin1, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);

  g_assert_cmpuint (strlen (huge), >, 8192);
  assert_rejected (huge, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  /* below the bound a long token is still fine */
  g_assert_true (confab_sandbox_jwt_verify (big, "secret", FALSE, NOW, NULL, &error));
  g_assert_no_error (error);

  confab_sandbox_jwt_verify (four, "secret", FALSE, NOW, NULL, &error);
  g_assert_cmpstr (error->message, ==, "JWTAuth error: token is malformed");
}

static void
test_padding_accepted (void)
{
  g_auto(GStrv) parts = g_strsplit (SDK_ALICE, ".", -1);
  g_autofree char *input = NULL;
  g_autofree char *signature = NULL;
  g_autofree char *padded = NULL;
  g_autofree char *padded_signature_only = NULL;
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) "secret", 6);
  g_auto(ConfabSandboxClaims) claims = { 0 };
  g_autoptr(GError) error = NULL;
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  /* The signature covers the parts as sent, so a padded payload is signed padded. */
  input = g_strconcat (parts[0], ".", parts[1], "==", NULL);
  g_hmac_update (hmac, (const guchar *) input, strlen (input));
  g_hmac_get_digest (hmac, digest, &digest_len);
  signature = b64url (digest, digest_len);
  padded = g_strconcat (input, ".", signature, "=", NULL);

  g_assert_true (confab_sandbox_jwt_verify (padded, "secret", FALSE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.user_id, ==, "alice");
  confab_sandbox_claims_clear (&claims);

  /* 43 signature characters: one '=' makes it a whole quantum */
  padded_signature_only = g_strconcat (SDK_ALICE, "=", NULL);
  g_assert_true (confab_sandbox_jwt_verify (padded_signature_only, "secret", FALSE, NOW, &claims, &error));
  g_assert_no_error (error);

  /* padding the payload after signing changes the signed text */
  g_free (padded);
  padded = g_strconcat (parts[0], ".", parts[1], "==.", parts[2], NULL);
  assert_rejected (padded, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);
}

static void
test_missing_user_id (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = make_token (HS256, "{\"foo\":1}", "secret");

  assert_rejected (token, "secret", FALSE, CONFAB_STREAM_ERROR_AUTH);
  confab_sandbox_jwt_verify (token, "secret", FALSE, NOW, NULL, &error);
  g_assert_cmpstr (error->message, ==, "JWTAuth error: token has no user_id");

  assert_payload_rejected ("{}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user_id\":\"\"}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user_id\":42}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user_id\":null}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user_id\":[\"a\"]}", CONFAB_STREAM_ERROR_AUTH);
  assert_payload_rejected ("{\"user\":{\"id\":\"a\"}}", CONFAB_STREAM_ERROR_AUTH);
}

static void
test_dev_token (void)
{
  g_auto(ConfabSandboxClaims) claims = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *dev_server = NULL;
  g_autofree char *dev_no_user = NULL;
  g_autofree char *dev_expired = NULL;
  g_autofree char *dev_url_alphabet = g_strdup (SDK_DEV_SYMBOLS);
  char *p;

  g_assert_true (confab_sandbox_jwt_verify (SDK_DEV_ALICE, "secret", TRUE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.user_id, ==, "alice");
  g_assert_true (claims.dev);
  g_assert_false (claims.server);
  confab_sandbox_claims_clear (&claims);

  assert_rejected (SDK_DEV_ALICE, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);

  /* standard alphabet with '/', '+' and '=' */
  g_assert_nonnull (strchr (SDK_DEV_SYMBOLS, '/'));
  g_assert_nonnull (strchr (SDK_DEV_SYMBOLS, '+'));
  g_assert_nonnull (strstr (SDK_DEV_SYMBOLS, "=.devtoken"));
  g_assert_true (confab_sandbox_jwt_verify (SDK_DEV_SYMBOLS, "secret", TRUE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.user_id, ==, "dev-a?aa>");
  g_assert_true (claims.dev);
  confab_sandbox_claims_clear (&claims);
  assert_rejected (SDK_DEV_SYMBOLS, "secret", FALSE, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID);

  /* the same payload in the url-safe alphabet */
  for (p = dev_url_alphabet; *p != '\0'; p++)
    *p = *p == '/' ? '_' : *p == '+' ? '-' : *p;
  g_assert_true (confab_sandbox_jwt_verify (dev_url_alphabet, "secret", TRUE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (claims.user_id, ==, "dev-a?aa>");
  confab_sandbox_claims_clear (&claims);

  /* a dev token never grants server rights */
  dev_server = g_strdup_printf ("%s.%s.devtoken", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
                                "eyJzZXJ2ZXIiOnRydWUsInVzZXJfaWQiOiJtYWxsb3J5In0=");
  g_assert_true (confab_sandbox_jwt_verify (dev_server, "secret", TRUE, NOW, &claims, &error));
  g_assert_no_error (error);
  g_assert_false (claims.server);
  g_assert_cmpstr (claims.user_id, ==, "mallory");
  confab_sandbox_claims_clear (&claims);

  dev_no_user = g_strdup_printf ("%s.%s.devtoken", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
                                 "eyJzZXJ2ZXIiOnRydWV9");
  assert_rejected (dev_no_user, "secret", TRUE, CONFAB_STREAM_ERROR_AUTH);

  /* time claims still apply: {"user_id":"a","exp":1} */
  dev_expired = g_strdup_printf ("%s.%s.devtoken", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
                                 "eyJ1c2VyX2lkIjoiYSIsImV4cCI6MX0=");
  assert_rejected (dev_expired, "secret", TRUE, CONFAB_STREAM_ERROR_TOKEN_EXPIRED);

  /* a dev token still needs an HS256 header */
  assert_rejected ("eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoiYWxpY2UifQ==.devtoken", "secret", TRUE,
                   CONFAB_STREAM_ERROR_AUTH);
}

static void
test_hmac_hex (void)
{
  /* RFC 4231 test cases 1 and 2 */
  const char key1[] = "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b";
  g_autofree char *case1 = confab_sandbox_hmac_sha256_hex (key1, "Hi There", 8);
  g_autofree char *case2 = confab_sandbox_hmac_sha256_hex ("Jefe", "what do ya want for nothing?", 28);
  g_autofree char *empty = confab_sandbox_hmac_sha256_hex ("key", NULL, 0);

  g_assert_cmpstr (case1, ==, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  g_assert_cmpstr (case2, ==, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  /* HMAC-SHA256("key", "") */
  g_assert_cmpstr (empty, ==, "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
}

static void
test_constant_time_equal (void)
{
  g_assert_true (confab_sandbox_constant_time_equal ("", ""));
  g_assert_true (confab_sandbox_constant_time_equal ("abc", "abc"));
  g_assert_false (confab_sandbox_constant_time_equal ("abc", "abd"));
  g_assert_false (confab_sandbox_constant_time_equal ("abc", "xbc"));
  g_assert_false (confab_sandbox_constant_time_equal ("abc", "ab"));
  g_assert_false (confab_sandbox_constant_time_equal ("ab", "abc"));
  g_assert_false (confab_sandbox_constant_time_equal ("", "a"));
  g_assert_false (confab_sandbox_constant_time_equal ("a", ""));
  g_assert_false (confab_sandbox_constant_time_equal ("abc", NULL));
  g_assert_false (confab_sandbox_constant_time_equal (NULL, "abc"));
  g_assert_true (confab_sandbox_constant_time_equal (NULL, NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sandbox/jwt/sdk-vectors", test_sdk_vectors);
  g_test_add_func ("/sandbox/jwt/round-trip", test_round_trip);
  g_test_add_func ("/sandbox/jwt/server-token", test_server_token);
  g_test_add_func ("/sandbox/jwt/expired", test_expired);
  g_test_add_func ("/sandbox/jwt/not-before", test_not_before);
  g_test_add_func ("/sandbox/jwt/issued-at", test_issued_at);
  g_test_add_func ("/sandbox/jwt/claim-types", test_claim_types);
  g_test_add_func ("/sandbox/jwt/tampered", test_tampered);
  g_test_add_func ("/sandbox/jwt/wrong-secret", test_wrong_secret);
  g_test_add_func ("/sandbox/jwt/algorithms", test_algorithms);
  g_test_add_func ("/sandbox/jwt/malformed", test_malformed);
  g_test_add_func ("/sandbox/jwt/padding-accepted", test_padding_accepted);
  g_test_add_func ("/sandbox/jwt/missing-user-id", test_missing_user_id);
  g_test_add_func ("/sandbox/jwt/dev-token", test_dev_token);
  g_test_add_func ("/sandbox/jwt/hmac-hex", test_hmac_hex);
  g_test_add_func ("/sandbox/jwt/constant-time-equal", test_constant_time_equal);

  return g_test_run ();
}
