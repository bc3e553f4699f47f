/* confab-impair-profiles.c: named network profiles built from impairment rules
 *
 * The numbers: wifi, 4g and 3g follow the round-trip times the issue names (20, 60 and
 * 300 ms); the faults sit on a 50 ms round trip, the link the targets in design.md are
 * stated for. Loss cannot be made by the proxy (it speaks TCP); the benchmark applies it
 * with iptables inside its own network namespace and skips the profile where it cannot.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-impair-profiles.h"

static const ConfabImpairProfile profiles[] = {
  { "clean", "no impairment (loopback)", "", 0, 0, NULL },
  { "wifi", "20 ms round trip, ±2 ms jitter", "rtt=20 jitter=2", 0, 20, NULL },
  { "4g", "60 ms round trip, ±15 ms jitter, 20 Mbit/s down, 5 Mbit/s up",
    "rtt=60 jitter=15 rate_down=20m rate_up=5m", 0, 60, NULL },
  { "3g", "300 ms round trip, ±40 ms jitter, 1.5 Mbit/s, 1 % loss each way",
    "rtt=300 jitter=40 rate=1.5m", 0.01, 300, NULL },
  { "lossy", "50 ms round trip, ±10 ms jitter, 5 % loss each way", "rtt=50 jitter=10", 0.05, 50, NULL },
  { "corporate-proxy", "50 ms; WebSocket upgrades answered 403, plain HTTP passes", "rtt=50 ws=403", 0, 50, NULL },
  { "ws-blackholed", "50 ms; WebSocket upgrade requests are never answered (the brief's symptom)",
    "rtt=50 ws=swallow", 0, 50, NULL },
  { "ws-blackholed-101", "50 ms; the 101 passes, then nothing more", "rtt=50 ws=blackhole", 0, 50, NULL },
  { "primary-down", "50 ms; the primary endpoint refuses connections, a second endpoint is up",
    "rtt=50 mode=refuse", 0, 50, NULL },
  { "server-restart", "20 ms; the server restarts mid-session", "rtt=20", 0, 20, "restart" },
  { "mid-session-cut", "50 ms; the link goes silent mid-session (no FIN, no RST)", "rtt=50", 0, 50, "cut" },
  { "ws-returns", "50 ms; WebSocket refused (403) at first, allowed again once the client is usable",
    "rtt=50 ws=403", 0, 50, "ws-returns" },
  { "captive-portal", "every HTTP request is redirected (302) to a login page", "mode=captive", 0, 0, NULL },
  { "buffering-proxy", "50 ms; responses are held until complete (breaks streaming)",
    "rtt=50 buffer=on", 0, 50, NULL },
  { "connect-proxy", "an HTTP CONNECT proxy that refuses WebSocket inside its tunnels",
    "proxy=connect ws=403", 0, 0, NULL },
  { "tls-delay", "50 ms; each TLS handshake held 2 s", "rtt=50 tls_delay=2000", 0, 50, NULL },
  { NULL, NULL, NULL, 0, 0, NULL },
};

const ConfabImpairProfile *
confab_impair_profiles (void)
{
  return profiles;
}

const ConfabImpairProfile *
confab_impair_profile_lookup (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  for (const ConfabImpairProfile *p = profiles; p->name != NULL; p++)
    if (g_str_equal (p->name, name))
      return p;
  return NULL;
}

char *
confab_impair_profile_names (void)
{
  GString *names = g_string_new (NULL);

  for (const ConfabImpairProfile *p = profiles; p->name != NULL; p++)
    {
      if (names->len > 0)
        g_string_append (names, ", ");
      g_string_append (names, p->name);
    }
  return g_string_free (names, FALSE);
}

JsonNode *
confab_impair_profiles_json (void)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_array (builder);
  for (const ConfabImpairProfile *p = profiles; p->name != NULL; p++)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, p->name);
      json_builder_set_member_name (builder, "description");
      json_builder_add_string_value (builder, p->description);
      json_builder_set_member_name (builder, "rules");
      json_builder_add_string_value (builder, p->rules);
      json_builder_set_member_name (builder, "loss");
      json_builder_add_double_value (builder, p->loss);
      json_builder_set_member_name (builder, "rtt_ms");
      json_builder_add_int_value (builder, p->rtt_ms);
      json_builder_set_member_name (builder, "event");
      if (p->event != NULL)
        json_builder_add_string_value (builder, p->event);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  return json_builder_get_root (builder);
}
