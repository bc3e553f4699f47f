/* confab-rate-limit.h: when a server that said "too many requests" allows the next one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* The most a server's Retry-After may ask for that is still read as a number: beyond a
 * day it is junk (and the manager caps every wait at its backoff cap anyway). */
#define CONFAB_RATE_LIMIT_MAX_DELAY_S (24 * 60 * 60)

/* From a "too many requests" answer's @headers: the wall time (µs since the epoch) at
 * which the next request is allowed. Reads `Retry-After` (delta seconds or an HTTP-date,
 * RFC 9110 §10.2.3) and Stream's `X-RateLimit-Reset` (Unix seconds), and takes the later
 * of the two. 0 when neither is there or readable; a time in the past means "now".
 * @now_wall_us is the current wall time (the caller's clock). */
gint64 confab_rate_limit_retry_at (SoupMessageHeaders *headers,
                                   gint64              now_wall_us);

G_END_DECLS
