/* confab-rate-limit.c: when a server that said "too many requests" allows the next one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "confab-rate-limit.h"

/* Digits only, no sign, no junk after them; at most 11 of them (year 5138 in seconds). */
static gboolean
parse_seconds (const char *text,
               gint64     *out)
{
  g_autofree char *copy = NULL;
  guint64 value;
  char *end = NULL;

  if (text == NULL)
    return FALSE;
  copy = g_strstrip (g_strdup (text));
  if (*copy == '\0' || strlen (copy) > 11)
    return FALSE;
  for (const char *p = copy; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  errno = 0;
  value = g_ascii_strtoull (copy, &end, 10);
  if (errno != 0 || end == copy || *end != '\0')
    return FALSE;
  *out = (gint64) value;
  return TRUE;
}

gint64
confab_rate_limit_retry_at (SoupMessageHeaders *headers,
                            gint64              now_wall_us)
{
  const char *retry_after;
  const char *reset;
  gint64 seconds = 0;
  gint64 at = 0;

  g_return_val_if_fail (headers != NULL, 0);

  retry_after = soup_message_headers_get_one (headers, "Retry-After");
  if (parse_seconds (retry_after, &seconds))
    {
      if (seconds <= CONFAB_RATE_LIMIT_MAX_DELAY_S)
        at = now_wall_us + seconds * G_USEC_PER_SEC;
    }
  else if (retry_after != NULL)
    {
      g_autoptr(GDateTime) date = soup_date_time_new_from_http_string (retry_after);

      if (date != NULL &&
          g_date_time_to_unix (date) <= now_wall_us / G_USEC_PER_SEC + CONFAB_RATE_LIMIT_MAX_DELAY_S)
        at = g_date_time_to_unix (date) * G_USEC_PER_SEC;
    }

  reset = soup_message_headers_get_one (headers, "X-RateLimit-Reset");
  if (parse_seconds (reset, &seconds) &&
      seconds <= now_wall_us / G_USEC_PER_SEC + CONFAB_RATE_LIMIT_MAX_DELAY_S)
    at = MAX (at, seconds * G_USEC_PER_SEC);

  /* A date in the past still says "rate limited, try now": keep it distinct from 0. */
  if (at != 0 && at < now_wall_us)
    at = now_wall_us;
  return at;
}
