/* test-rate-limit.c: reading when a rate-limiting server allows the next request
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>

#include "confab-rate-limit.h"

/* A fixed "now": 2026-01-01T00:00:00Z. */
#define NOW_S   G_GINT64_CONSTANT (1767225600)
#define NOW_US  (NOW_S * G_USEC_PER_SEC)

static gint64
retry_at (const char *retry_after,
          const char *reset)
{
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);

  if (retry_after != NULL)
    soup_message_headers_replace (headers, "Retry-After", retry_after);
  if (reset != NULL)
    soup_message_headers_replace (headers, "X-RateLimit-Reset", reset);
  return confab_rate_limit_retry_at (headers, NOW_US);
}

static char *
http_date (gint64 unix_s)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (unix_s);

  return soup_date_time_to_string (dt, SOUP_DATE_HTTP);
}

static void
test_retry_after_seconds (void)
{
  g_assert_cmpint (retry_at ("5", NULL), ==, NOW_US + 5 * G_USEC_PER_SEC);
  g_assert_cmpint (retry_at ("0", NULL), ==, NOW_US);
  g_assert_cmpint (retry_at (" 120 ", NULL), ==, NOW_US + 120 * G_USEC_PER_SEC);
  g_assert_cmpint (retry_at ("86400", NULL), ==, NOW_US + G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC);
}

static void
test_retry_after_date (void)
{
  g_autofree char *future = http_date (NOW_S + 90);
  g_autofree char *past = http_date (NOW_S - 3600);
  g_autofree char *far = http_date (NOW_S + 2 * 86400);

  g_assert_cmpint (retry_at (future, NULL), ==, NOW_US + 90 * G_USEC_PER_SEC);
  /* A date already gone still means "rate limited": now, never 0. */
  g_assert_cmpint (retry_at (past, NULL), ==, NOW_US);
  /* More than a day away is not believed. */
  g_assert_cmpint (retry_at (far, NULL), ==, 0);
}

static void
test_reset (void)
{
  g_autofree char *in_30 = g_strdup_printf ("%" G_GINT64_FORMAT, NOW_S + 30);
  g_autofree char *ago = g_strdup_printf ("%" G_GINT64_FORMAT, NOW_S - 30);
  g_autofree char *far = g_strdup_printf ("%" G_GINT64_FORMAT, NOW_S + 3 * 86400);

  g_assert_cmpint (retry_at (NULL, in_30), ==, NOW_US + 30 * G_USEC_PER_SEC);
  g_assert_cmpint (retry_at (NULL, ago), ==, NOW_US);
  g_assert_cmpint (retry_at (NULL, far), ==, 0);
  /* Both: the later wins, either way round. */
  g_assert_cmpint (retry_at ("10", in_30), ==, NOW_US + 30 * G_USEC_PER_SEC);
  g_assert_cmpint (retry_at ("60", in_30), ==, NOW_US + 60 * G_USEC_PER_SEC);
}

static void
test_junk (void)
{
  static const char *const junk[] = {
    "", " ", "-1", "+5", "5s", "1e3", "0x10", "5.5", "soon", "99999999999", "999999999999",
    "Wed, 99 Foo 2026 99:99:99 GMT", "\xff\xfe", "5, 6",
  };

  g_assert_cmpint (retry_at (NULL, NULL), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (junk); i++)
    {
      g_test_message ("junk #%u", i);
      g_assert_cmpint (retry_at (junk[i], NULL), ==, 0);
      g_assert_cmpint (retry_at (NULL, junk[i]), ==, 0);
    }
  /* Junk in one header does not hide a good other one. */
  g_assert_cmpint (retry_at ("soon", "1767225700"), ==, NOW_US + 100 * G_USEC_PER_SEC);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/rate-limit/retry-after-seconds", test_retry_after_seconds);
  g_test_add_func ("/core/rate-limit/retry-after-date", test_retry_after_date);
  g_test_add_func ("/core/rate-limit/reset", test_reset);
  g_test_add_func ("/core/rate-limit/junk", test_junk);

  return g_test_run ();
}
