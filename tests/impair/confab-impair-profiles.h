/* confab-impair-profiles.h: named network profiles built from impairment rules
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct
{
  const char *name;
  const char *description;
  const char *rules;        /* space-separated key=value, applied to default rules */
  double      loss;         /* packet loss each way, applied with iptables in a namespace */
  guint       rtt_ms;       /* the round-trip time the rules add (for the handshake floor) */
  const char *event;        /* what the benchmark does during a run: NULL, "cut", "restart", "ws-returns" */
} ConfabImpairProfile;

const ConfabImpairProfile *confab_impair_profile_lookup (const char *name);
/* The profiles, NULL-terminated by a zeroed entry. */
const ConfabImpairProfile *confab_impair_profiles       (void);
/* A JSON array describing every profile. */
JsonNode                  *confab_impair_profiles_json  (void);
/* "clean, wifi, …" for error messages. */
char                      *confab_impair_profile_names  (void);

G_END_DECLS
