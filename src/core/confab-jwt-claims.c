/* confab-jwt-claims.c: the claims of a Stream user token, read without verifying it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "confab-error.h"
#include "confab-json-private.h"
#include "confab-jwt-claims.h"

/* Far above any real token (Stream's are ~150 bytes); bounds the work on junk. */
#define MAX_TOKEN_LENGTH 8192
#define MIN_REFRESH_MARGIN_SEC 60
/* Thirty million years in seconds: beyond it a "date" is junk, and the arithmetic on
 * two of them cannot overflow. */
#define MAX_NUMERIC_DATE G_GINT64_CONSTANT (1000000000000000)

G_DEFINE_BOXED_TYPE (ConfabJwtClaims, confab_jwt_claims, confab_jwt_claims_copy, confab_jwt_claims_free)

/* Claims --------------------------------------------------------------------------- */

static gpointer
not_a_token (GError **error)
{
  g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_AUTH, "The credential is not a valid token");
  return NULL;
}

/* base64url (RFC 7515: no padding) or standard base64 with padding; nothing else. */
static GBytes *
decode_part (const char *part,
             gsize       length)
{
  g_autoptr(GString) text = NULL;
  guchar *decoded;
  gsize decoded_length = 0;
  gsize padding = 0;

  if (length == 0)
    return NULL;

  text = g_string_sized_new (length + 3);
  for (gsize i = 0; i < length; i++)
    {
      char c = part[i];

      if (c == '=')
        {
          padding++;
          continue;
        }
      if (padding > 0)
        return NULL;            /* data after padding */
      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (!g_ascii_isalnum (c) && c != '+' && c != '/')
        return NULL;
      g_string_append_c (text, c);
    }

  if (padding > 2 || text->len % 4 == 1 ||
      (padding > 0 && (text->len + padding) % 4 != 0))
    return NULL;
  while (text->len % 4 != 0)
    g_string_append_c (text, '=');

  decoded = g_base64_decode (text->str, &decoded_length);
  return g_bytes_new_take (decoded, decoded_length);
}

static JsonObject *
decode_json_part (const char *part,
                  gsize       length)
{
  g_autoptr(GBytes) bytes = decode_part (part, length);
  const char *data;
  gsize size = 0;

  if (bytes == NULL)
    return NULL;
  data = g_bytes_get_data (bytes, &size);
  return _confab_json_parse_untrusted_object (data, size, NULL);
}

/* A NumericDate: an integer or a finite number of seconds. Absent is fine; another type
 * is a broken token. */
static gboolean
get_time_claim (JsonObject *payload,
                const char *name,
                gboolean   *has,
                gint64     *value)
{
  JsonNode *node = json_object_get_member (payload, name);
  GType type;

  *has = FALSE;
  *value = 0;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *value = json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    {
      double d = json_node_get_double (node);

      if (!isfinite (d) || d > MAX_NUMERIC_DATE || d < -MAX_NUMERIC_DATE)
        return FALSE;
      /* Round down (refreshing a fraction of a second early), without libm. */
      *value = (gint64) d;
      if ((double) *value > d)
        (*value)--;
    }
  else
    return FALSE;

  if (*value > MAX_NUMERIC_DATE || *value < -MAX_NUMERIC_DATE)
    return FALSE;

  *has = TRUE;
  return TRUE;
}

ConfabJwtClaims *
confab_jwt_claims_parse (const char  *token,
                         GError     **error)
{
  g_autoptr(ConfabJwtClaims) claims = NULL;
  g_autoptr(JsonObject) header = NULL;
  g_autoptr(JsonObject) payload = NULL;
  const char *first_dot;
  const char *second_dot;
  JsonNode *user_id;
  gsize length;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (token == NULL)
    return not_a_token (error);
  length = strnlen (token, MAX_TOKEN_LENGTH + 1);
  if (length == 0 || length > MAX_TOKEN_LENGTH)
    return not_a_token (error);

  first_dot = strchr (token, '.');
  second_dot = first_dot != NULL ? strchr (first_dot + 1, '.') : NULL;
  if (second_dot == NULL || strchr (second_dot + 1, '.') != NULL)
    return not_a_token (error);

  /* The signature is the server's business, but it must at least look like one. */
  for (const char *p = second_dot + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '+' && *p != '/' && *p != '=')
      return not_a_token (error);

  header = decode_json_part (token, first_dot - token);
  payload = decode_json_part (first_dot + 1, second_dot - first_dot - 1);
  if (header == NULL || payload == NULL)
    return not_a_token (error);

  claims = g_new0 (ConfabJwtClaims, 1);
  if (!get_time_claim (payload, "exp", &claims->has_exp, &claims->exp) ||
      !get_time_claim (payload, "iat", &claims->has_iat, &claims->iat))
    return not_a_token (error);

  user_id = json_object_get_member (payload, "user_id");
  if (user_id != NULL && !JSON_NODE_HOLDS_NULL (user_id))
    {
      if (!JSON_NODE_HOLDS_VALUE (user_id) || json_node_get_value_type (user_id) != G_TYPE_STRING)
        return not_a_token (error);
      if (*json_node_get_string (user_id) != '\0')
        claims->user_id = g_strdup (json_node_get_string (user_id));
    }

  return g_steal_pointer (&claims);
}

ConfabJwtClaims *
confab_jwt_claims_copy (const ConfabJwtClaims *claims)
{
  ConfabJwtClaims *copy;

  g_return_val_if_fail (claims != NULL, NULL);

  copy = g_memdup2 (claims, sizeof *claims);
  copy->user_id = g_strdup (claims->user_id);
  return copy;
}

void
confab_jwt_claims_free (ConfabJwtClaims *claims)
{
  if (claims == NULL)
    return;
  g_free (claims->user_id);
  g_free (claims);
}

gint64
confab_jwt_claims_get_refresh_time (const ConfabJwtClaims *claims,
                                    gint64                 obtained_at)
{
  gint64 start;
  gint64 lifetime;
  gint64 margin;

  g_return_val_if_fail (claims != NULL, G_MAXINT64);

  if (!claims->has_exp)
    return G_MAXINT64;

  start = claims->has_iat ? claims->iat : obtained_at;
  lifetime = claims->exp > start ? claims->exp - start : 0;
  margin = MAX (MIN_REFRESH_MARGIN_SEC, lifetime / 10);
  return claims->exp - margin;
}
