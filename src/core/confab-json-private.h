/* confab-json-private.h: JSON from the network or a file, parsed without trusting it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* For the core's own use: parses untrusted @data as a JSON object. Refuses invalid
 * UTF-8 and nesting deeper than 512 levels (json-glib recurses per level, so a body of
 * "[[[[…" would overflow the stack). Fails with CONFAB_ERROR_PROTOCOL. */
JsonObject *_confab_json_parse_untrusted_object (const char  *data,
                                                 gsize        length,
                                                 GError     **error);

G_END_DECLS
