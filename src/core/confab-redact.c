/* confab-redact.c: keep tokens, keys and personal data out of logs and reports
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "confab-redact.h"

#define HASH_PREFIX      "u_"
#define HASH_HEX_DIGITS  12
#define SALT_BYTES       16

/* Query parameters whose values never reach a log (compared after percent-decoding,
 * lower-cased). connection_id is deliberately absent: it is not secret and support
 * needs it. */
static const char *const url_sensitive_params[] = {
  "authorization", "api_key", "apikey", "key", "secret", "api_secret", "client_secret",
  "token", "access_token", "refresh_token", "id_token", "user_token", "json", "payload",
  "user_id", "email", "password", "code", "code_verifier", "signature", "sig",
  NULL
};

/* In free text the net is narrower: "code=1006" or "key: value" is diagnostics, not a
 * secret. */
#define TEXT_EQUALS_NAMES \
  "authorization|api_key|apikey|api_secret|client_secret|secret|access_token|" \
  "refresh_token|id_token|user_token|token|json|payload|user_id|code_verifier|password|email"
#define TEXT_COLON_NAMES \
  "authorization|api_key|apikey|api_secret|client_secret|secret|access_token|" \
  "refresh_token|id_token|user_token|token|password"

/* Not preceded by a character that would make the name part of a longer one. */
#define NAME_START  "(?<![A-Za-z0-9_.-])"

#define JWT_PATTERN \
  "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+=*\\.[A-Za-z0-9_-]+=*\\.[A-Za-z0-9_=-]*"
#define EQUALS_PATTERN \
  "(?i)" NAME_START "(" TEXT_EQUALS_NAMES ")(=|%3D)((?:[^&;\\s#\"'<>:]|:(?!\\s|$))+)"
#define COLON_PATTERN \
  "(?i)" NAME_START "(\"?(?:" TEXT_COLON_NAMES ")\"?\\s*:\\s*)" \
  "(\"[^\"]*\"|((?:bearer|basic|token)\\s+)?[^\\s\"',;&}]+)"
#define EMAIL_PATTERN \
  "(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+(?:@|%40)" \
  "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"

typedef enum {
  PATTERN_JWT,
  PATTERN_EQUALS,
  PATTERN_COLON,
  PATTERN_EMAIL,
  N_PATTERNS
} Pattern;

static GRegex *
get_pattern (Pattern which)
{
  static GRegex *patterns[N_PATTERNS];
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      const char *sources[N_PATTERNS] = {
        [PATTERN_JWT] = JWT_PATTERN,
        [PATTERN_EQUALS] = EQUALS_PATTERN,
        [PATTERN_COLON] = COLON_PATTERN,
        [PATTERN_EMAIL] = EMAIL_PATTERN,
      };
      guint i;

      for (i = 0; i < N_PATTERNS; i++)
        {
          g_autoptr(GError) error = NULL;

          /* The patterns are constants: a failure here is a bug caught by any test run. */
          patterns[i] = g_regex_new (sources[i], G_REGEX_OPTIMIZE, 0, &error);
          g_assert_no_error (error);
        }
      g_once_init_leave (&initialised, 1);
    }

  return patterns[which];
}

static gboolean
is_word_byte (guchar c)
{
  return g_ascii_isalnum (c) || c >= 0x80;
}

/* Whether position @i of @text starts a word: nothing word-like before it, or a
 * percent-escape ("%22alice" is a quoted id in an encoded URL). */
static gboolean
is_boundary_before (const char *text,
                    gsize       i)
{
  if (i == 0 || !is_word_byte (text[i - 1]))
    return TRUE;
  return i >= 3 && text[i - 3] == '%' && g_ascii_isxdigit (text[i - 2]) && g_ascii_isxdigit (text[i - 1]);
}

/* A byte trie over the ASCII-lower-cased terms: one walk per text position finds the
 * longest term there, whatever the number of terms. */
typedef struct
{
  guint       first_child;   /* index into the node array, 0 = none (0 is the root) */
  guint       next_sibling;
  guchar      byte;
  const char *term;          /* non-NULL where a term ends */
  const char *replacement;
} TrieNode;

static guint
trie_child (GArray *nodes,
            guint   parent,
            guchar  byte)
{
  guint child = g_array_index (nodes, TrieNode, parent).first_child;

  while (child != 0 && g_array_index (nodes, TrieNode, child).byte != byte)
    child = g_array_index (nodes, TrieNode, child).next_sibling;
  return child;
}

static void
trie_insert (GArray     *nodes,
             const char *term,
             const char *replacement)
{
  guint node = 0;
  TrieNode *end;

  for (const char *p = term; *p != '\0'; p++)
    {
      guchar byte = g_ascii_tolower (*p);
      guint child = trie_child (nodes, node, byte);

      if (child == 0)
        {
          TrieNode fresh = { 0, };

          fresh.byte = byte;
          fresh.next_sibling = g_array_index (nodes, TrieNode, node).first_child;
          g_array_append_val (nodes, fresh);
          child = nodes->len - 1;
          g_array_index (nodes, TrieNode, node).first_child = child;
        }
      node = child;
    }

  /* Terms equal but for case share a node: the smallest (strcmp) wins, whatever the
   * table's order. */
  end = &g_array_index (nodes, TrieNode, node);
  if (end->term == NULL || strcmp (term, end->term) < 0)
    {
      end->term = term;
      end->replacement = replacement;
    }
}

/* Whether @term found at @i..@i+@length of @text stands where it may be replaced:
 * anywhere for long terms, between word boundaries for short ones. */
static gboolean
term_fits_at (const char *term,
              const char *text,
              gsize       text_length,
              gsize       i,
              gsize       length)
{
  if (length >= CONFAB_REDACT_SUBSTRING_MIN)
    return TRUE;
  if (is_word_byte (term[0]) && !is_boundary_before (text, i))
    return FALSE;
  if (is_word_byte (term[length - 1]) && i + length < text_length && is_word_byte (text[i + length]))
    return FALSE;
  return TRUE;
}

char *
confab_redact_terms (const char *text,
                     GHashTable *terms)
{
  g_autofree char *valid = NULL;
  g_autoptr(GArray) nodes = NULL;
  g_autoptr(GString) out = NULL;
  GHashTableIter iter;
  gpointer key;
  gpointer value;
  TrieNode root = { 0, };
  gsize text_length;
  gsize i;

  if (text == NULL)
    return NULL;

  valid = g_utf8_make_valid (text, -1);
  if (terms == NULL || g_hash_table_size (terms) == 0)
    return g_steal_pointer (&valid);

  nodes = g_array_new (FALSE, FALSE, sizeof (TrieNode));
  g_array_append_val (nodes, root);
  g_hash_table_iter_init (&iter, terms);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      if (key == NULL || *(const char *) key == '\0')
        continue;
      trie_insert (nodes, key, value != NULL ? value : CONFAB_REDACTED);
    }

  text_length = strlen (valid);
  out = g_string_sized_new (text_length);
  i = 0;
  while (i < text_length)
    {
      const TrieNode *match = NULL;
      gsize match_length = 0;
      guint node = 0;

      for (gsize j = i; j < text_length; j++)
        {
          const TrieNode *current;

          node = trie_child (nodes, node, g_ascii_tolower (valid[j]));
          if (node == 0)
            break;
          current = &g_array_index (nodes, TrieNode, node);
          if (current->term != NULL && term_fits_at (current->term, valid, text_length, i, j + 1 - i))
            {
              match = current;
              match_length = j + 1 - i;
            }
        }

      if (match != NULL)
        {
          g_string_append (out, match->replacement);
          i += match_length;
        }
      else
        {
          g_string_append_c (out, valid[i]);
          i++;
        }
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
replace_colon_value (const GMatchInfo *info,
                     GString          *result,
                     gpointer          user_data)
{
  g_autofree char *name = g_match_info_fetch (info, 1);
  g_autofree char *value = g_match_info_fetch (info, 2);
  g_autofree char *scheme = g_match_info_fetch (info, 3);

  g_string_append (result, name);
  if (value[0] == '"')
    g_string_append (result, "\"" CONFAB_REDACTED "\"");
  else
    g_string_append_printf (result, "%s" CONFAB_REDACTED, scheme != NULL ? scheme : "");
  return FALSE;
}

static char *
regex_replace (Pattern     which,
               const char *text,
               const char *replacement)
{
  g_autoptr(GError) error = NULL;
  char *result;

  result = g_regex_replace (get_pattern (which), text, -1, 0, replacement, 0, &error);
  if (result == NULL)
    {
      /* Only a PCRE resource limit can fail on valid UTF-8; drop the text rather than
       * let it through unredacted. */
      g_debug ("Redaction pattern %d failed: %s", which, error->message);
      return g_strdup (CONFAB_REDACTED);
    }
  return result;
}

char *
confab_redact_text (const char        *text,
                    const char *const *secrets)
{
  g_autofree char *current = NULL;
  g_autoptr(GHashTable) terms = NULL;
  g_autoptr(GError) error = NULL;
  char *next;

  if (text == NULL)
    return NULL;

  terms = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; secrets != NULL && secrets[i] != NULL; i++)
    g_hash_table_insert (terms, (gpointer) secrets[i], (gpointer) CONFAB_REDACTED);
  current = confab_redact_terms (text, terms);

  next = regex_replace (PATTERN_JWT, current, CONFAB_REDACTED);
  g_free (current);
  current = next;

  next = regex_replace (PATTERN_EQUALS, current, "\\1\\2" CONFAB_REDACTED);
  g_free (current);
  current = next;

  next = g_regex_replace_eval (get_pattern (PATTERN_COLON), current, -1, 0, 0,
                               replace_colon_value, NULL, &error);
  g_free (current);
  current = next != NULL ? next : g_strdup (CONFAB_REDACTED);

  next = regex_replace (PATTERN_EMAIL, current, CONFAB_REDACTED_EMAIL);
  g_free (current);
  current = next;

  return g_steal_pointer (&current);
}

char *
confab_redact_line (const char        *text,
                    const char *const *secrets,
                    gsize              max_chars)
{
  g_autofree char *redacted = NULL;
  GString *out;
  gsize count = 0;

  if (text == NULL)
    return NULL;

  redacted = confab_redact_text (text, secrets);
  out = g_string_sized_new (strlen (redacted));
  for (const char *p = redacted; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (max_chars > 0 && count == max_chars)
        {
          /* Cut before the last (partial) word: a secret this pass did not know (the
           * report's final pass knows more) is then dropped whole, never half shown. */
          const char *space = g_utf8_offset_to_pointer (out->str, count - 1);

          while (space > out->str && *space != ' ')
            space--;
          g_string_truncate (out, space - out->str);
          g_string_append (out, "…");
          break;
        }
      if (g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029)
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
      count++;
    }

  return g_string_free (out, FALSE);
}

static gboolean
param_name_is_sensitive (const char *raw,
                         gsize       length)
{
  g_autofree char *encoded = g_strndup (raw, length);
  g_autofree char *decoded = NULL;
  g_autofree char *lower = NULL;

  g_strdelimit (encoded, "+", ' ');
  decoded = g_uri_unescape_string (encoded, NULL);
  /* Undecodable (or hiding a NUL): treat as secret rather than guess. */
  if (decoded == NULL)
    return TRUE;

  lower = g_ascii_strdown (g_strstrip (decoded), -1);
  return g_strv_contains (url_sensitive_params, lower);
}

/* @params: an encoded query or fragment, pairs separated by '&' or ';'. */
static char *
redact_params (const char *params)
{
  GString *out = g_string_sized_new (strlen (params));
  const char *p = params;

  while (TRUE)
    {
      const char *end = p + strcspn (p, "&;");
      const char *equals = memchr (p, '=', end - p);

      if (equals != NULL && equals + 1 < end && param_name_is_sensitive (p, equals - p))
        {
          g_string_append_len (out, p, equals + 1 - p);
          g_string_append (out, CONFAB_REDACTED);
        }
      else
        {
          g_string_append_len (out, p, end - p);
        }

      if (*end == '\0')
        break;
      g_string_append_c (out, *end);
      p = end + 1;
    }

  return g_string_free (out, FALSE);
}

static gboolean
has_control_characters (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      if (*p < 0x20 || *p == 0x7f)
        return TRUE;
    }
  return FALSE;
}

char *
confab_redact_url (const char *url)
{
  g_autofree char *scheme = NULL;
  g_autofree char *host = NULL;
  g_autofree char *path = NULL;
  g_autofree char *query = NULL;
  g_autofree char *fragment = NULL;
  g_autofree char *joined = NULL;
  int port = -1;

  if (url == NULL || *url == '\0' || !g_utf8_validate (url, -1, NULL) || has_control_characters (url))
    return g_strdup (CONFAB_REDACTED_INVALID_URL);

  /* The userinfo is parsed and dropped (never asked for, so never kept). */
  if (!g_uri_split (url, G_URI_FLAGS_ENCODED, &scheme, NULL, &host, &port, &path, &query, &fragment, NULL))
    return g_strdup (CONFAB_REDACTED_INVALID_URL);

  if (scheme != NULL ? (host == NULL || *host == '\0') : path[0] != '/')
    return g_strdup (CONFAB_REDACTED_INVALID_URL);

  if (query != NULL)
    {
      char *redacted = redact_params (query);

      g_free (query);
      query = redacted;
    }
  if (fragment != NULL && strchr (fragment, '=') != NULL)
    {
      char *redacted = redact_params (fragment);

      g_free (fragment);
      fragment = redacted;
    }

  joined = g_uri_join (G_URI_FLAGS_ENCODED, scheme, NULL, host, port, path, query, fragment);
  return confab_redact_text (joined, NULL);
}

char *
confab_hash_id (const char *id,
                const char *salt)
{
  g_autofree char *hmac = NULL;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (salt != NULL, NULL);

  hmac = g_compute_hmac_for_string (G_CHECKSUM_SHA256, (const guchar *) salt, strlen (salt), id, -1);
  return g_strdup_printf (HASH_PREFIX "%.*s", HASH_HEX_DIGITS, hmac);
}

static gboolean
read_system_random (guint8 *buffer,
                    gsize   length)
{
  gsize filled = 0;
  int fd;

  while (filled < length)
    {
      ssize_t n = getrandom (buffer + filled, length - filled, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      filled += n;
    }
  if (filled == length)
    return TRUE;

  /* getrandom() missing (ENOSYS in an old sandbox): the device does the same job. */
  fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  while (filled < length)
    {
      ssize_t n = read (fd, buffer + filled, length - filled);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      filled += n;
    }
  close (fd);
  return filled == length;
}

char *
confab_diagnostics_new_salt (void)
{
  guint8 bytes[SALT_BYTES];
  GString *hex = g_string_sized_new (2 * SALT_BYTES);

  if (!read_system_random (bytes, sizeof bytes))
    {
      /* No system random source at all: GLib's generator is seeded from the clock and
       * the pid then, still different per install. */
      g_debug ("No system random source; salting diagnostics with g_random");
      for (guint i = 0; i < SALT_BYTES; i++)
        bytes[i] = (guint8) g_random_int_range (0, 256);
    }

  for (guint i = 0; i < SALT_BYTES; i++)
    g_string_append_printf (hex, "%02x", bytes[i]);
  return g_string_free (hex, FALSE);
}
