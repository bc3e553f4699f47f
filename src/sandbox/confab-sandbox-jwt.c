/* confab-sandbox-jwt.c: HS256 tokens as Stream signs and checks them, and webhook HMACs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "confab-sandbox-jwt.h"

#include <string.h>

#include "confab-sandbox-error.h"
#include "confab-sandbox-json.h"

/* Real tokens are a few hundred bytes; the bound keeps a hostile header cheap to reject. */
#define MAX_TOKEN_LENGTH    8192
/* Clocks drift between the token minter and us. */
#define IAT_LEEWAY_SEC      5
#define SHA256_DIGEST_SIZE  32
#define JWT_HEADER_JSON     "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define DEV_SIGNATURE       "devtoken"

void
confab_sandbox_claims_clear (ConfabSandboxClaims *claims)
{
  if (claims == NULL)
    return;

  g_clear_pointer (&claims->user_id, g_free);
  memset (claims, 0, sizeof *claims);
}

/* The walk covers all of @a whatever @b holds, so the time depends on the lengths only. */
static gboolean
bytes_equal (const guint8 *a,
             gsize         a_len,
             const guint8 *b,
             gsize         b_len)
{
  volatile guint8 diff = a_len == b_len ? 0 : 1;
  gsize i;

  for (i = 0; i < a_len; i++)
    diff |= a[i] ^ (i < b_len ? b[i] : 0);

  return diff == 0;
}

gboolean
confab_sandbox_constant_time_equal (const char *a,
                                    const char *b)
{
  if (a == NULL || b == NULL)
    return a == b;

  return bytes_equal ((const guint8 *) a, strlen (a), (const guint8 *) b, strlen (b));
}

char *
confab_sandbox_hmac_sha256_hex (const char *key,
                                const void *data,
                                gsize       length)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);

  return g_compute_hmac_for_data (G_CHECKSUM_SHA256,
                                  (const guchar *) key, strlen (key),
                                  data != NULL ? data : "", length);
}

static void
hmac_sha256 (const char *key,
             const char *data,
             gsize       length,
             guint8      digest[SHA256_DIGEST_SIZE])
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) key, strlen (key));
  gsize digest_len = SHA256_DIGEST_SIZE;

  g_hmac_update (hmac, (const guchar *) data, length);
  g_hmac_get_digest (hmac, digest, &digest_len);
}

static char *
base64url_encode (const void *data,
                  gsize       length)
{
  char *text = g_base64_encode (data, length);
  char *p;

  for (p = text; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
      else if (*p == '=')
        {
          *p = '\0';
          break;
        }
    }

  return text;
}

/* Accepts base64url and standard base64 (dev tokens use the latter), padded or not.
 * g_base64_decode skips characters it does not know, so the alphabet is checked here,
 * and the result is re-encoded so that each value has a single accepted spelling. */
static GBytes *
base64_decode_strict (const char *text,
                      gsize       length)
{
  g_autoptr(GString) normal = NULL;
  g_autofree guchar *data = NULL;
  g_autofree char *check = NULL;
  gsize n_pad = 0;
  gsize n_symbols;
  gsize data_len = 0;
  gsize i;

  while (n_pad < length && text[length - 1 - n_pad] == '=')
    n_pad++;
  n_symbols = length - n_pad;

  if (n_pad > 2 || n_symbols % 4 == 1)
    return NULL;
  if (n_pad > 0 && length % 4 != 0)
    return NULL;

  normal = g_string_sized_new (n_symbols + 4);
  for (i = 0; i < n_symbols; i++)
    {
      char c = text[i];

      if (g_ascii_isalnum (c) || c == '+' || c == '/')
        g_string_append_c (normal, c);
      else if (c == '-')
        g_string_append_c (normal, '+');
      else if (c == '_')
        g_string_append_c (normal, '/');
      else
        return NULL;
    }
  while (normal->len % 4 != 0)
    g_string_append_c (normal, '=');

  data = g_base64_decode (normal->str, &data_len);
  check = g_base64_encode (data, data_len);
  if (strcmp (check, normal->str) != 0)
    return NULL;

  return g_bytes_new_take (g_steal_pointer (&data), data_len);
}

static JsonObject *
parse_json_object (GBytes *bytes)
{
  g_autoptr(JsonParser) parser = NULL;
  gsize length = 0;
  const char *data = g_bytes_get_data (bytes, &length);
  JsonNode *root;

  if (length == 0 || !g_utf8_validate_len (data, length, NULL))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, NULL))
    return NULL;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;

  return json_object_ref (json_node_get_object (root));
}

/* A NumericDate may be fractional. Rounding up keeps "exp <= now", "nbf > now" and
 * "iat > now + leeway" exact against a whole-second now, without needing libm. */
static gint64
ceil_to_int64 (double value)
{
  gint64 whole;

  if (value >= 9.2e18)
    return G_MAXINT64;
  if (value <= -9.2e18)
    return G_MININT64;

  whole = (gint64) value;
  if ((double) whole < value)
    whole++;
  return whole;
}

static gboolean
get_time_claim (JsonObject *payload,
                const char *name,
                gboolean   *out_present,
                gint64     *out_value)
{
  JsonNode *node = json_object_get_member (payload, name);
  double value;

  *out_present = FALSE;
  *out_value = 0;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      *out_value = json_node_get_int (node);
      break;
    case G_TYPE_DOUBLE:
      value = json_node_get_double (node);
      if (value != value)
        return FALSE;
      *out_value = ceil_to_int64 (value);
      break;
    default:
      return FALSE;
    }

  *out_present = TRUE;
  return TRUE;
}

static gboolean
malformed (GError **error)
{
  /* Never echo the token: it is a credential, and the message ends up in logs. */
  g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_AUTH,
                       "JWTAuth error: token is malformed");
  return FALSE;
}

static gboolean
signature_invalid (GError **error)
{
  g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_TOKEN_SIGNATURE_INVALID,
                       "JWTAuth error: signature is not valid. "
                       "Make sure the token is created with the right secret");
  return FALSE;
}

gboolean
confab_sandbox_jwt_verify (const char           *token,
                           const char           *secret,
                           gboolean              allow_dev_tokens,
                           gint64                now_sec,
                           ConfabSandboxClaims  *out_claims,
                           GError              **error)
{
  g_autoptr(GBytes) header_bytes = NULL;
  g_autoptr(GBytes) payload_bytes = NULL;
  g_autoptr(GBytes) signature_bytes = NULL;
  g_autoptr(JsonObject) header = NULL;
  g_autoptr(JsonObject) payload = NULL;
  const char *first_dot;
  const char *second_dot;
  const char *signature;
  const char *alg;
  const char *user_id = NULL;
  JsonNode *node;
  gsize length;
  gboolean dev;
  gboolean server = FALSE;
  gboolean has_exp, has_nbf, has_iat;
  gint64 exp, nbf, iat;

  g_return_val_if_fail (secret != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (out_claims != NULL)
    memset (out_claims, 0, sizeof *out_claims);

  if (token == NULL)
    return malformed (error);
  length = strnlen (token, MAX_TOKEN_LENGTH + 1);
  if (length == 0 || length > MAX_TOKEN_LENGTH)
    return malformed (error);

  first_dot = strchr (token, '.');
  second_dot = first_dot != NULL ? strchr (first_dot + 1, '.') : NULL;
  if (second_dot == NULL || strchr (second_dot + 1, '.') != NULL)
    return malformed (error);
  signature = second_dot + 1;

  header_bytes = base64_decode_strict (token, first_dot - token);
  payload_bytes = base64_decode_strict (first_dot + 1, second_dot - first_dot - 1);
  if (header_bytes == NULL || payload_bytes == NULL)
    return malformed (error);

  header = parse_json_object (header_bytes);
  if (header == NULL)
    return malformed (error);

  /* Only the algorithm we check with: "none" or a swapped algorithm is the classic forgery. */
  node = json_object_get_member (header, "alg");
  alg = node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
        json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : NULL;
  if (g_strcmp0 (alg, "HS256") != 0)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_AUTH,
                           "JWTAuth error: token must be signed with HS256");
      return FALSE;
    }

  dev = strcmp (signature, DEV_SIGNATURE) == 0;
  if (dev)
    {
      if (!allow_dev_tokens)
        return signature_invalid (error);
    }
  else
    {
      guint8 expected[SHA256_DIGEST_SIZE];
      gsize signature_len = 0;
      const guint8 *signature_data;

      signature_bytes = base64_decode_strict (signature, strlen (signature));
      if (signature_bytes == NULL)
        return malformed (error);

      hmac_sha256 (secret, token, second_dot - token, expected);
      signature_data = g_bytes_get_data (signature_bytes, &signature_len);
      if (!bytes_equal (expected, sizeof expected, signature_data, signature_len))
        return signature_invalid (error);
    }

  /* Only a signed (or knowingly unsigned dev) payload gets parsed. */
  payload = parse_json_object (payload_bytes);
  if (payload == NULL)
    return malformed (error);

  if (!get_time_claim (payload, "exp", &has_exp, &exp) ||
      !get_time_claim (payload, "nbf", &has_nbf, &nbf) ||
      !get_time_claim (payload, "iat", &has_iat, &iat))
    return malformed (error);

  node = json_object_get_member (payload, "server");
  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        return malformed (error);
      /* Anyone can write a dev token, so it never grants server rights. */
      server = json_node_get_boolean (node) && !dev;
    }

  node = json_object_get_member (payload, "user_id");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING &&
      *json_node_get_string (node) != '\0')
    user_id = json_node_get_string (node);

  if (user_id == NULL && !server)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_AUTH,
                           "JWTAuth error: token has no user_id");
      return FALSE;
    }

  if (has_exp && exp <= now_sec)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_TOKEN_EXPIRED,
                           "JWTAuth error: token is expired (exp)");
      return FALSE;
    }
  if (has_nbf && nbf > now_sec)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_TOKEN_NOT_VALID_YET,
                           "JWTAuth error: token is not valid yet (nbf)");
      return FALSE;
    }
  if (has_iat && now_sec <= G_MAXINT64 - IAT_LEEWAY_SEC && iat > now_sec + IAT_LEEWAY_SEC)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_TOKEN_USED_BEFORE_IAT,
                           "JWTAuth error: token used before issued at (iat)");
      return FALSE;
    }

  if (out_claims != NULL)
    {
      out_claims->user_id = server ? NULL : g_strdup (user_id);
      out_claims->server = server;
      out_claims->dev = dev;
      out_claims->has_exp = has_exp;
      out_claims->exp = exp;
      out_claims->has_iat = has_iat;
      out_claims->iat = iat;
    }

  return TRUE;
}

char *
confab_sandbox_jwt_sign (JsonObject *payload,
                         const char *secret)
{
  g_autofree char *payload_json = NULL;
  g_autofree char *header_part = NULL;
  g_autofree char *payload_part = NULL;
  g_autofree char *signing_input = NULL;
  g_autofree char *signature_part = NULL;
  guint8 digest[SHA256_DIGEST_SIZE];

  g_return_val_if_fail (payload != NULL, NULL);
  g_return_val_if_fail (secret != NULL, NULL);

  payload_json = confab_sandbox_json_to_string (payload);
  header_part = base64url_encode (JWT_HEADER_JSON, strlen (JWT_HEADER_JSON));
  payload_part = base64url_encode (payload_json, strlen (payload_json));
  signing_input = g_strconcat (header_part, ".", payload_part, NULL);

  hmac_sha256 (secret, signing_input, strlen (signing_input), digest);
  signature_part = base64url_encode (digest, sizeof digest);

  return g_strconcat (signing_input, ".", signature_part, NULL);
}

char *
confab_sandbox_jwt_user_token (const char *user_id,
                               const char *secret,
                               gint64      iat,
                               gint64      exp)
{
  g_autoptr(JsonObject) payload = NULL;

  g_return_val_if_fail (user_id != NULL && *user_id != '\0', NULL);
  g_return_val_if_fail (secret != NULL, NULL);

  /* stream-chat-js createToken builds {user_id, exp, iat} in this order. */
  payload = json_object_new ();
  json_object_set_string_member (payload, "user_id", user_id);
  if (exp != 0)
    json_object_set_int_member (payload, "exp", exp);
  if (iat != 0)
    json_object_set_int_member (payload, "iat", iat);

  return confab_sandbox_jwt_sign (payload, secret);
}

char *
confab_sandbox_jwt_server_token (const char *secret)
{
  g_autoptr(JsonObject) payload = NULL;

  g_return_val_if_fail (secret != NULL, NULL);

  payload = json_object_new ();
  json_object_set_boolean_member (payload, "server", TRUE);

  return confab_sandbox_jwt_sign (payload, secret);
}
