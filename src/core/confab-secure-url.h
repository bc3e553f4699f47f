/* confab-secure-url.h: the https/wss-only rule, with loopback as the one exception
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether @host (as GUri gives it: no brackets around an IPv6 address) is this machine:
 * an address in 127.0.0.0/8, ::1, or the name "localhost". Other names that may resolve
 * to a loopback address are not trusted to. */
gboolean confab_host_is_loopback  (const char  *host);

/* Whether @url parses and its host is loopback (see confab_host_is_loopback()). */
gboolean confab_url_is_loopback   (const char  *url);

/* TRUE if Confab may talk to @url: https:// or wss:// anywhere, http:// or ws:// only
 * to loopback. Anything else (another scheme, no host, not a URL at all) fails with
 * CONFAB_ERROR_INSECURE_URL. The message names the scheme and host, never the path or
 * query, which can carry keys. */
gboolean confab_secure_url_check  (const char  *url,
                                   GError     **error);

G_END_DECLS
