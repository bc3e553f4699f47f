/* test-redact.c: URL and text redaction, term replacement, id hashing
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-redact.h"

#define JWT "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiYWxpY2UifQ.c2lnbmF0dXJlLXBhcnQ_-x"

static guint
count_occurrences (const char *haystack,
                   const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p != NULL; p = strstr (p + strlen (needle), needle))
    n++;
  return n;
}

static void
test_url_every_sensitive_param (void)
{
  const char *names[] = {
    "authorization", "api_key", "apikey", "key", "secret", "api_secret", "client_secret",
    "token", "access_token", "refresh_token", "id_token", "user_token", "json", "payload",
    "user_id", "email", "password", "code", "code_verifier", "signature", "sig",
    "Authorization", "API_KEY", "Json",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *url = g_strdup_printf ("wss://chat.example:443/connect?%s=SeCrEtVaLuE42"
                                              "&connection_id=conn-77&stream-auth-type=jwt",
                                              names[i]);
      g_autofree char *redacted = confab_redact_url (url);
      g_autofree char *expected = g_strdup_printf ("%s=[redacted]", names[i]);

      g_test_message ("%s → %s", url, redacted);
      g_assert_null (strstr (redacted, "SeCrEtVaLuE42"));
      g_assert_nonnull (strstr (redacted, expected));
      g_assert_nonnull (strstr (redacted, "connection_id=conn-77"));
      g_assert_nonnull (strstr (redacted, "stream-auth-type=jwt"));
      g_assert_true (g_str_has_prefix (redacted, "wss://chat.example:443/connect?"));
    }
}

static void
test_url_exact_and_idempotent (void)
{
  const char *url = "wss://chat.example:443/connect?api_key=k1&authorization=t1&json=%7B%7D"
                    "&connection_id=c1&X-Stream-Client=confab-0.1";
  g_autofree char *once = confab_redact_url (url);
  g_autofree char *twice = confab_redact_url (once);

  g_assert_cmpstr (once, ==, "wss://chat.example:443/connect?api_key=[redacted]&authorization=[redacted]"
                             "&json=[redacted]&connection_id=c1&X-Stream-Client=confab-0.1");
  g_assert_cmpstr (twice, ==, once);
}

static void
test_url_percent_encoded_names (void)
{
  const char *url = "https://chat.example/channels?api%5Fkey=S1&%61uthorization=S2&user%5fid=S3"
                    "&to%6Ben=S4&json+=S5&%20password%20=S6&limit=30";
  g_autofree char *redacted = confab_redact_url (url);

  g_test_message ("%s", redacted);
  for (guint i = 1; i <= 6; i++)
    {
      g_autofree char *secret = g_strdup_printf ("=S%u", i);

      g_assert_null (strstr (redacted, secret));
    }
  g_assert_cmpuint (count_occurrences (redacted, "=[redacted]"), ==, 6);
  g_assert_nonnull (strstr (redacted, "limit=30"));
}

static void
test_url_repeated_params (void)
{
  g_autofree char *redacted = confab_redact_url ("https://h.example/x?token=AAA111&token=BBB222&x=1"
                                                 "&token=CCC333;api_key=DDD444");

  g_assert_null (strstr (redacted, "AAA111"));
  g_assert_null (strstr (redacted, "BBB222"));
  g_assert_null (strstr (redacted, "CCC333"));
  g_assert_null (strstr (redacted, "DDD444"));
  g_assert_cmpuint (count_occurrences (redacted, "[redacted]"), ==, 4);
  g_assert_nonnull (strstr (redacted, "&x=1&"));
}

static void
test_url_stream_connect (void)
{
  /* What the JS SDK puts in the WebSocket URL (protocol §1.2), percent-encoded. */
  const char *url = "wss://chat.stream-io-api.com/connect?json=%7B%22user_id%22%3A%22alice%22%2C"
                    "%22user_details%22%3A%7B%22id%22%3A%22alice%22%2C%22name%22%3A%22Alice%20L%22%7D%7D"
                    "&api_key=mmhfdzb5evj2&authorization=" JWT "&stream-auth-type=jwt";
  g_autofree char *redacted = confab_redact_url (url);

  g_assert_null (strstr (redacted, "alice"));
  g_assert_null (strstr (redacted, "Alice"));
  g_assert_null (strstr (redacted, "mmhfdzb5evj2"));
  g_assert_null (strstr (redacted, "eyJ"));
  g_assert_cmpstr (redacted, ==, "wss://chat.stream-io-api.com/connect?json=[redacted]&api_key=[redacted]"
                                 "&authorization=[redacted]&stream-auth-type=jwt");
}

static void
test_url_userinfo_fragment_path (void)
{
  g_autofree char *userinfo = confab_redact_url ("wss://bob:hunter2@chat.example:8443/connect?a=1");
  g_autofree char *fragment = confab_redact_url ("http://127.0.0.1:1234/callback#access_token=T0K3Nvalue&state=xyz");
  g_autofree char *oauth = confab_redact_url ("http://127.0.0.1:1234/callback#code=0AuthC0de&sig=s1g&state=xyz");
  g_autofree char *path = confab_redact_url ("https://gw.example/v1/users/alice@example.com/t/" JWT "/x");
  g_autofree char *relative = confab_redact_url ("/longpoll?connection_id=c9&api_key=k9k9k9");
  g_autofree char *empty = confab_redact_url ("wss://chat.example/connect?authorization=&api_key=kk1");
  g_autofree char *ipv6 = confab_redact_url ("ws://[::1]:8080/connect?token=zz9");

  g_assert_cmpstr (userinfo, ==, "wss://chat.example:8443/connect?a=1");
  g_assert_cmpstr (fragment, ==, "http://127.0.0.1:1234/callback#access_token=[redacted]&state=xyz");
  g_assert_cmpstr (oauth, ==, "http://127.0.0.1:1234/callback#code=[redacted]&sig=[redacted]&state=xyz");
  g_assert_cmpstr (path, ==, "https://gw.example/v1/users/[email]/t/[redacted]/x");
  g_assert_cmpstr (relative, ==, "/longpoll?connection_id=c9&api_key=[redacted]");
  /* An empty authorization means anonymous: support needs to see it is empty. */
  g_assert_cmpstr (empty, ==, "wss://chat.example/connect?authorization=&api_key=[redacted]");
  g_assert_cmpstr (ipv6, ==, "ws://[::1]:8080/connect?token=[redacted]");
}

static void
test_url_invalid (void)
{
  const char *garbage[] = {
    "",
    "%%%",
    "http://[::1/x?token=secret1",
    "a b c token=secret1",
    "mailto:alice@example.com",
    "http://h.example/\n?token=secret1",
    "http://h.example/\xff\xfe?token=secret1",
    "http://h.example/x?a=%zz&token=secret1",
    "http://:80/x?token=secret1",
  };
  g_autofree char *null_url = confab_redact_url (NULL);

  g_assert_cmpstr (null_url, ==, CONFAB_REDACTED_INVALID_URL);
  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    {
      g_autofree char *redacted = confab_redact_url (garbage[i]);

      g_assert_cmpstr (redacted, ==, CONFAB_REDACTED_INVALID_URL);
    }
}

static void
test_text_jwt (void)
{
  const char *texts[] = {
    "token was " JWT " and more",
    JWT,
    "Authorization: Bearer " JWT,
    "{\"token\":\"" JWT "\"}",
    "alg none: eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. trailing",
    "in a url ?authorization=" JWT "&x=1",
  };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autofree char *redacted = confab_redact_text (texts[i], NULL);

      g_test_message ("%s → %s", texts[i], redacted);
      g_assert_null (strstr (redacted, "eyJ"));
      g_assert_null (strstr (redacted, "c2lnbmF0dXJlLXBhcnQ"));
      g_assert_nonnull (strstr (redacted, "[redacted]"));
    }

  {
    g_autofree char *around = confab_redact_text ("before " JWT " after", NULL);
    g_autofree char *lookalike = confab_redact_text ("eyJust a word. Not.a.jwt", NULL);

    g_assert_cmpstr (around, ==, "before [redacted] after");
    g_assert_cmpstr (lookalike, ==, "eyJust a word. Not.a.jwt");
  }
}

static void
test_text_email (void)
{
  g_autofree char *plain = confab_redact_text ("contact alice.smith+tag@mail.example.co.uk now", NULL);
  g_autofree char *encoded = confab_redact_text ("GET /users?q=alice%40example.com&limit=1", NULL);
  g_autofree char *untouched = confab_redact_text ("12 ms · tcp 20 ms → ok (115 ms) v1.2.3", NULL);

  g_assert_cmpstr (plain, ==, "contact [email] now");
  g_assert_null (strstr (encoded, "alice"));
  g_assert_nonnull (strstr (encoded, "[email]"));
  g_assert_nonnull (strstr (encoded, "&limit=1"));
  g_assert_cmpstr (untouched, ==, "12 ms · tcp 20 ms → ok (115 ms) v1.2.3");
}

static void
test_text_secrets (void)
{
  const char *secrets[] = { "sk_live_ABCDEF123", "K9", "", NULL };
  g_autofree char *redacted = NULL;
  g_autofree char *no_secrets = NULL;

  redacted = confab_redact_text ("key sk_live_ABCDEF123, glued xsk_live_ABCDEF123y, shouted "
                                 "SK_LIVE_abcdef123; short K9 and K99 and k9.", secrets);
  g_assert_cmpstr (redacted, ==, "key [redacted], glued x[redacted]y, shouted [redacted]; "
                                 "short [redacted] and K99 and [redacted].");

  no_secrets = confab_redact_text ("nothing to hide", NULL);
  g_assert_cmpstr (no_secrets, ==, "nothing to hide");
  g_assert_null (confab_redact_text (NULL, secrets));
}

static void
test_text_params (void)
{
  g_autofree char *query = confab_redact_text ("GET /connect?api_key=abc123&connection_id=c1 failed", NULL);
  g_autofree char *header = confab_redact_text ("sent Authorization: Bearer opaque-token-value today", NULL);
  g_autofree char *json = confab_redact_text ("{\"refresh_token\": \"r3fr3sh value\", \"id\": 3}", NULL);
  g_autofree char *close = confab_redact_text ("closed code=1006 reason=abnormal key: value", NULL);
  g_autofree char *encoded = confab_redact_text ("password%3Dhunter2 sent", NULL);

  g_assert_cmpstr (query, ==, "GET /connect?api_key=[redacted]&connection_id=c1 failed");
  g_assert_cmpstr (header, ==, "sent Authorization: Bearer [redacted] today");
  g_assert_cmpstr (json, ==, "{\"refresh_token\": \"[redacted]\", \"id\": 3}");
  g_assert_cmpstr (close, ==, "closed code=1006 reason=abnormal key: value");
  g_assert_cmpstr (encoded, ==, "password%3D[redacted] sent");
}

static void
test_text_invalid_utf8 (void)
{
  g_autofree char *redacted = confab_redact_text ("bad \xff\xfe bytes, mail bob@example.org", NULL);

  g_assert_true (g_utf8_validate (redacted, -1, NULL));
  g_assert_nonnull (strstr (redacted, "\xef\xbf\xbd"));
  g_assert_nonnull (strstr (redacted, "[email]"));
}

static void
test_line (void)
{
  g_autofree char *one_line = confab_redact_line ("state\nUser: x\r\tdone", NULL, 0);
  g_autofree char *cut = confab_redact_line ("aaa bbb SECRETSECRETSECRET tail", NULL, 12);
  g_autofree char *one_word = confab_redact_line ("SECRETSECRETSECRET", NULL, 5);
  g_autofree char *short_enough = confab_redact_line ("short", NULL, 5);

  g_assert_cmpstr (one_line, ==, "state User: x  done");
  g_assert_cmpstr (cut, ==, "aaa bbb…");
  g_assert_cmpstr (one_word, ==, "…");
  g_assert_cmpstr (short_enough, ==, "short");
  g_assert_null (confab_redact_line (NULL, NULL, 10));
}

static void
test_terms (void)
{
  g_autoptr(GHashTable) terms = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *longest = NULL;
  g_autofree char *words = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *utf8 = NULL;

  g_hash_table_insert (terms, "alice", "u_1");
  g_hash_table_insert (terms, "alice smith", "[name]");
  g_hash_table_insert (terms, "u_1", "NOT-AGAIN");
  g_hash_table_insert (terms, "al", "[al]");
  g_hash_table_insert (terms, "bob", "u_b");
  g_hash_table_insert (terms, "", "never");

  /* Longest first, and a replacement is never rewritten. */
  longest = confab_redact_terms ("Alice Smith and ALICE and alice", terms);
  g_assert_cmpstr (longest, ==, "[name] and u_1 and u_1");

  /* Short terms only as whole words. */
  words = confab_redact_terms ("al always normal al-x (al)", terms);
  g_assert_cmpstr (words, ==, "[al] always normal [al]-x ([al])");

  /* A percent-escape counts as a boundary: a quoted id in an encoded URL. */
  escaped = confab_redact_terms ("%22bob%22 bobby %2Cbob", terms);
  g_assert_cmpstr (escaped, ==, "%22u_b%22 bobby %2Cu_b");

  /* Terms equal but for case: the smallest (strcmp) wins, whatever the table's order. */
  {
    g_autoptr(GHashTable) clashing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    const char *names[] = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel" };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_hash_table_insert (clashing, g_strdup (names[i]), "lower");
        g_hash_table_insert (clashing, g_strdup_printf ("%c%s", g_ascii_toupper (names[i][0]), names[i] + 1),
                             "capital");
      }
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree char *replaced = confab_redact_terms (names[i], clashing);

        g_assert_cmpstr (replaced, ==, "capital");
      }
  }

  utf8 = confab_redact_terms ("\xff bob", terms);
  g_assert_cmpstr (utf8, ==, "\xef\xbf\xbd u_b");
  g_assert_null (confab_redact_terms (NULL, terms));
}

static void
test_hash (void)
{
  g_autofree char *a1 = confab_hash_id ("alice", "salt-one");
  g_autofree char *a2 = confab_hash_id ("alice", "salt-one");
  g_autofree char *other_salt = confab_hash_id ("alice", "salt-two");
  g_autofree char *other_id = confab_hash_id ("alice2", "salt-one");
  g_autofree char *empty_salt = confab_hash_id ("alice", "");

  /* HMAC-SHA256(key "salt-one", "alice"), first 12 hex digits (Python's hmac). */
  g_assert_cmpstr (a1, ==, "u_f58a4b550e3f");
  g_assert_cmpstr (a1, ==, a2);
  g_assert_cmpstr (a1, !=, other_salt);
  g_assert_cmpstr (a1, !=, other_id);
  g_assert_cmpstr (empty_salt, ==, "u_ce3837f76a54");
  g_assert_null (strstr (a1, "alice"));
  g_assert_null (strstr (other_salt, "alice"));
  g_assert_cmpuint (strlen (other_salt), ==, 14);
  g_assert_true (g_str_has_prefix (other_salt, "u_"));
}

static void
test_hash_preconditions (void)
{
  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*id != NULL*");
  g_assert_null (confab_hash_id (NULL, "salt"));
  g_test_assert_expected_messages ();

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*salt != NULL*");
  g_assert_null (confab_hash_id ("alice", NULL));
  g_test_assert_expected_messages ();
}

static void
test_salt (void)
{
  g_autofree char *s1 = confab_diagnostics_new_salt ();
  g_autofree char *s2 = confab_diagnostics_new_salt ();

  g_assert_cmpuint (strlen (s1), ==, 32);
  for (const char *p = s1; *p != '\0'; p++)
    g_assert_true (g_ascii_isxdigit (*p) && !g_ascii_isupper (*p));
  g_assert_cmpstr (s1, !=, s2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/redact/url/every-sensitive-param", test_url_every_sensitive_param);
  g_test_add_func ("/core/redact/url/exact-and-idempotent", test_url_exact_and_idempotent);
  g_test_add_func ("/core/redact/url/percent-encoded-names", test_url_percent_encoded_names);
  g_test_add_func ("/core/redact/url/repeated-params", test_url_repeated_params);
  g_test_add_func ("/core/redact/url/stream-connect", test_url_stream_connect);
  g_test_add_func ("/core/redact/url/userinfo-fragment-path", test_url_userinfo_fragment_path);
  g_test_add_func ("/core/redact/url/invalid", test_url_invalid);
  g_test_add_func ("/core/redact/text/jwt", test_text_jwt);
  g_test_add_func ("/core/redact/text/email", test_text_email);
  g_test_add_func ("/core/redact/text/secrets", test_text_secrets);
  g_test_add_func ("/core/redact/text/params", test_text_params);
  g_test_add_func ("/core/redact/text/invalid-utf8", test_text_invalid_utf8);
  g_test_add_func ("/core/redact/line", test_line);
  g_test_add_func ("/core/redact/terms", test_terms);
  g_test_add_func ("/core/redact/hash", test_hash);
  g_test_add_func ("/core/redact/hash-preconditions", test_hash_preconditions);
  g_test_add_func ("/core/redact/salt", test_salt);

  return g_test_run ();
}
