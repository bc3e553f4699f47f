/* confab-impair-rules.c: parsing, checking and printing impairment rules
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "confab-impair-profiles.h"
#include "confab-impair-rules.h"

#define DEFAULT_CAPTIVE_URL "http://login.captive.invalid/"
#define MAX_RESET_BYTES     (G_GUINT64_CONSTANT (1) << 40)

G_DEFINE_QUARK (confab-impair-error-quark, confab_impair_error)

G_DEFINE_BOXED_TYPE (ConfabImpairRules, confab_impair_rules,
                     confab_impair_rules_copy, confab_impair_rules_free)

static const char *const mode_names[] = { "pass", "refuse", "reset", "blackhole", "captive" };
static const char *const ws_names[] = { "pass", "403", "502", "reset", "swallow", "blackhole" };

const char *
confab_impair_mode_to_string (ConfabImpairMode mode)
{
  g_return_val_if_fail ((guint) mode < G_N_ELEMENTS (mode_names), "?");
  return mode_names[mode];
}

const char *
confab_impair_ws_to_string (ConfabImpairWsAction ws)
{
  g_return_val_if_fail ((guint) ws < G_N_ELEMENTS (ws_names), "?");
  return ws_names[ws];
}

ConfabImpairRules *
confab_impair_rules_new (void)
{
  ConfabImpairRules *rules = g_new0 (ConfabImpairRules, 1);

  rules->handshake = TRUE;
  rules->captive_url = g_strdup (DEFAULT_CAPTIVE_URL);
  return rules;
}

ConfabImpairRules *
confab_impair_rules_copy (const ConfabImpairRules *rules)
{
  ConfabImpairRules *copy;

  g_return_val_if_fail (rules != NULL, NULL);

  copy = g_memdup2 (rules, sizeof *rules);
  copy->captive_url = g_strdup (rules->captive_url);
  return copy;
}

void
confab_impair_rules_free (ConfabImpairRules *rules)
{
  if (rules == NULL)
    return;
  g_free (rules->captive_url);
  g_free (rules);
}

static void
set_invalid (GError    **error,
             const char *key,
             const char *value,
             const char *expected)
{
  g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE,
               "invalid value “%s” for %s: expected %s", value, key, expected);
}

gboolean
confab_impair_parse_ms (const char *text,
                        guint       max_ms,
                        guint      *out_ms,
                        GError    **error)
{
  g_autofree char *number = NULL;
  guint64 value = 0;
  guint64 scale = 1;
  gsize len;

  g_return_val_if_fail (text != NULL, FALSE);

  len = strlen (text);
  if (len > 2 && g_str_has_suffix (text, "ms"))
    number = g_strndup (text, len - 2);
  else if (len > 1 && g_str_has_suffix (text, "s"))
    {
      number = g_strndup (text, len - 1);
      scale = 1000;
    }
  else
    number = g_strdup (text);

  if (!g_ascii_string_to_unsigned (number, 10, 0, G_MAXUINT32, &value, NULL) || value * scale > max_ms)
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE,
                   "invalid duration “%s”: expected 0–%u ms (e.g. 250, 250ms, 2s)", text, max_ms);
      return FALSE;
    }
  *out_ms = (guint) (value * scale);
  return TRUE;
}

/* "1500000", "1.5m", "1.5mbit", "500k", "1g": bits per second. */
static gboolean
parse_rate (const char *key,
            const char *text,
            guint64    *out_bps,
            GError    **error)
{
  g_autofree char *lower = g_ascii_strdown (text, -1);
  char *end = NULL;
  double value;
  double scale = 1;

  errno = 0;
  value = g_ascii_strtod (lower, &end);
  if (end == lower || errno != 0 || !isfinite (value) || value < 0)
    goto invalid;
  if (*end == 'k')
    scale = 1e3, end++;
  else if (*end == 'm')
    scale = 1e6, end++;
  else if (*end == 'g')
    scale = 1e9, end++;
  if (g_str_equal (end, "bit"))
    end += 3;
  if (*end != '\0' || value * scale > (double) CONFAB_IMPAIR_MAX_RATE_BPS)
    goto invalid;
  *out_bps = (guint64) llround (value * scale);
  return TRUE;

invalid:
  set_invalid (error, key, text, "bits per second, 0 (unlimited) to 100g, with an optional k, m or g (e.g. 1.5m)");
  return FALSE;
}

static gboolean
parse_bool (const char *key,
            const char *text,
            gboolean   *out,
            GError    **error)
{
  if (g_str_equal (text, "on") || g_str_equal (text, "true") || g_str_equal (text, "1") || g_str_equal (text, "yes"))
    *out = TRUE;
  else if (g_str_equal (text, "off") || g_str_equal (text, "false") || g_str_equal (text, "0") || g_str_equal (text, "no"))
    *out = FALSE;
  else
    {
      set_invalid (error, key, text, "on or off");
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_enum (const char         *key,
            const char         *text,
            const char * const *names,
            guint               n_names,
            guint              *out,
            GError            **error)
{
  GString *list;

  for (guint i = 0; i < n_names; i++)
    if (g_str_equal (names[i], text))
      {
        *out = i;
        return TRUE;
      }
  list = g_string_new ("one of ");
  for (guint i = 0; i < n_names; i++)
    g_string_append_printf (list, "%s%s", i > 0 ? ", " : "", names[i]);
  set_invalid (error, key, text, list->str);
  g_string_free (list, TRUE);
  return FALSE;
}

static gboolean
parse_loss (const char *text,
            double     *out,
            GError    **error)
{
  char *end = NULL;
  double value;

  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (end != text && *end == '%' && end[1] == '\0')
    value /= 100;
  else if (end == text || *end != '\0')
    value = NAN;
  if (errno != 0 || !isfinite (value) || value < 0 || value > 1)
    {
      set_invalid (error, "loss", text, "a probability 0–1 or a percentage (e.g. 0.01 or 1%)");
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
parse_ports (const char        *text,
             ConfabImpairRules *rules,
             GError           **error)
{
  g_auto(GStrv) parts = NULL;
  guint n = 0;

  if (*text == '\0' || g_str_equal (text, "none"))
    {
      rules->n_deny_ports = 0;
      return TRUE;
    }
  parts = g_strsplit (text, ",", -1);
  if (g_strv_length (parts) > CONFAB_IMPAIR_MAX_DENY_PORTS)
    {
      set_invalid (error, "deny_ports", text, "at most 16 comma-separated ports");
      return FALSE;
    }
  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint64 port = 0;

      if (!g_ascii_string_to_unsigned (parts[i], 10, 1, 65535, &port, NULL))
        {
          set_invalid (error, "deny_ports", text, "comma-separated ports 1–65535 (or none)");
          return FALSE;
        }
      rules->deny_ports[n++] = (guint16) port;
    }
  rules->n_deny_ports = n;
  return TRUE;
}

static gboolean
set_ms (const char *key,
        const char *value,
        guint      *a,
        guint      *b,
        guint       divisor,
        GError    **error)
{
  guint ms = 0;

  if (!confab_impair_parse_ms (value, CONFAB_IMPAIR_MAX_DELAY_MS, &ms, error))
    {
      g_prefix_error (error, "%s: ", key);
      return FALSE;
    }
  *a = ms / divisor;
  if (b != NULL)
    *b = ms - ms / divisor;
  return TRUE;
}

static gboolean
apply_profile (ConfabImpairRules *rules,
               const char        *name,
               GError           **error)
{
  const ConfabImpairProfile *profile = confab_impair_profile_lookup (name);
  g_autoptr(ConfabImpairRules) fresh = NULL;
  g_auto(GStrv) assignments = NULL;

  if (profile == NULL)
    {
      g_autofree char *names = confab_impair_profile_names ();

      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_PROFILE,
                   "unknown profile “%s” (known: %s)", name, names);
      return FALSE;
    }
  fresh = confab_impair_rules_new ();
  assignments = g_strsplit (profile->rules, " ", -1);
  for (guint i = 0; assignments[i] != NULL; i++)
    if (*assignments[i] != '\0' && !confab_impair_rules_apply (fresh, assignments[i], error))
      return FALSE;
  fresh->loss = profile->loss;

  g_free (rules->captive_url);
  *rules = *fresh;
  fresh->captive_url = NULL;
  return TRUE;
}

gboolean
confab_impair_rules_apply (ConfabImpairRules *rules,
                           const char        *assignment,
                           GError           **error)
{
  g_autofree char *key = NULL;
  const char *value;
  const char *eq;
  guint choice = 0;

  g_return_val_if_fail (rules != NULL, FALSE);
  g_return_val_if_fail (assignment != NULL, FALSE);

  eq = strchr (assignment, '=');
  if (eq == NULL || eq == assignment)
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_RULE,
                   "“%s” is not a KEY=VALUE rule", assignment);
      return FALSE;
    }
  key = g_strndup (assignment, eq - assignment);
  value = eq + 1;

  if (g_str_equal (key, "delay_up"))
    return set_ms (key, value, &rules->delay_up_ms, NULL, 1, error);
  if (g_str_equal (key, "delay_down"))
    return set_ms (key, value, &rules->delay_down_ms, NULL, 1, error);
  if (g_str_equal (key, "rtt"))
    return set_ms (key, value, &rules->delay_up_ms, &rules->delay_down_ms, 2, error);
  if (g_str_equal (key, "jitter_up"))
    return set_ms (key, value, &rules->jitter_up_ms, NULL, 1, error);
  if (g_str_equal (key, "jitter_down"))
    return set_ms (key, value, &rules->jitter_down_ms, NULL, 1, error);
  if (g_str_equal (key, "jitter"))
    {
      guint ms = 0;

      if (!set_ms (key, value, &ms, NULL, 1, error))
        return FALSE;
      rules->jitter_up_ms = rules->jitter_down_ms = ms;
      return TRUE;
    }
  if (g_str_equal (key, "rate_up"))
    return parse_rate (key, value, &rules->rate_up_bps, error);
  if (g_str_equal (key, "rate_down"))
    return parse_rate (key, value, &rules->rate_down_bps, error);
  if (g_str_equal (key, "rate"))
    {
      guint64 bps = 0;

      if (!parse_rate (key, value, &bps, error))
        return FALSE;
      rules->rate_up_bps = rules->rate_down_bps = bps;
      return TRUE;
    }
  if (g_str_equal (key, "handshake"))
    return parse_bool (key, value, &rules->handshake, error);
  if (g_str_equal (key, "buffer"))
    return parse_bool (key, value, &rules->buffer, error);
  if (g_str_equal (key, "mode"))
    {
      if (!parse_enum (key, value, mode_names, G_N_ELEMENTS (mode_names), &choice, error))
        return FALSE;
      rules->mode = (ConfabImpairMode) choice;
      return TRUE;
    }
  if (g_str_equal (key, "ws"))
    {
      if (!parse_enum (key, value, ws_names, G_N_ELEMENTS (ws_names), &choice, error))
        return FALSE;
      rules->ws = (ConfabImpairWsAction) choice;
      return TRUE;
    }
  if (g_str_equal (key, "tls_delay"))
    return set_ms (key, value, &rules->tls_delay_ms, NULL, 1, error);
  if (g_str_equal (key, "reset_after_ms"))
    return set_ms (key, value, &rules->reset_after_ms, NULL, 1, error);
  if (g_str_equal (key, "reset_after_bytes"))
    {
      guint64 n = 0;

      if (!g_ascii_string_to_unsigned (value, 10, 0, MAX_RESET_BYTES, &n, NULL))
        {
          set_invalid (error, key, value, "a byte count 0 (never) to 2^40");
          return FALSE;
        }
      rules->reset_after_bytes = n;
      return TRUE;
    }
  if (g_str_equal (key, "captive_url"))
    {
      if (!g_str_has_prefix (value, "http://") && !g_str_has_prefix (value, "https://"))
        {
          set_invalid (error, key, value, "an http:// or https:// URL");
          return FALSE;
        }
      if (strpbrk (value, "\r\n ") != NULL)
        {
          set_invalid (error, key, value, "a URL without spaces or line breaks");
          return FALSE;
        }
      g_free (rules->captive_url);
      rules->captive_url = g_strdup (value);
      return TRUE;
    }
  if (g_str_equal (key, "proxy"))
    {
      if (g_str_equal (value, "connect"))
        rules->connect_proxy = TRUE;
      else if (g_str_equal (value, "off") || g_str_equal (value, "none"))
        rules->connect_proxy = FALSE;
      else
        {
          set_invalid (error, key, value, "connect or off");
          return FALSE;
        }
      return TRUE;
    }
  if (g_str_equal (key, "deny_ports"))
    {
      ConfabImpairRules scratch = *rules;

      if (!parse_ports (value, &scratch, error))
        return FALSE;
      memcpy (rules->deny_ports, scratch.deny_ports, sizeof rules->deny_ports);
      rules->n_deny_ports = scratch.n_deny_ports;
      return TRUE;
    }
  if (g_str_equal (key, "loss"))
    return parse_loss (value, &rules->loss, error);
  if (g_str_equal (key, "profile"))
    return apply_profile (rules, value, error);

  g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_RULE,
               "unknown rule “%s” (known: delay_up, delay_down, rtt, jitter, jitter_up, jitter_down, "
               "rate, rate_up, rate_down, handshake, mode, ws, buffer, tls_delay, reset_after_bytes, "
               "reset_after_ms, captive_url, proxy, deny_ports, loss, profile)", key);
  return FALSE;
}

gboolean
confab_impair_rules_apply_all (ConfabImpairRules  *rules,
                               const char * const *assignments,
                               GError            **error)
{
  g_autoptr(ConfabImpairRules) scratch = NULL;

  g_return_val_if_fail (rules != NULL, FALSE);

  scratch = confab_impair_rules_copy (rules);
  for (guint i = 0; assignments != NULL && assignments[i] != NULL; i++)
    if (!confab_impair_rules_apply (scratch, assignments[i], error))
      return FALSE;

  g_free (rules->captive_url);
  *rules = *scratch;
  scratch->captive_url = NULL;
  return TRUE;
}

gboolean
confab_impair_rules_need_http (const ConfabImpairRules *rules)
{
  return rules->ws != CONFAB_IMPAIR_WS_PASS || rules->buffer || rules->mode == CONFAB_IMPAIR_MODE_CAPTIVE;
}

gboolean
confab_impair_rules_denies_port (const ConfabImpairRules *rules,
                                 guint                    port)
{
  for (guint i = 0; i < rules->n_deny_ports; i++)
    if (rules->deny_ports[i] == port)
      return TRUE;
  return FALSE;
}

void
confab_impair_rules_add_json (const ConfabImpairRules *rules,
                              JsonBuilder             *builder)
{
  g_return_if_fail (rules != NULL);

#define ADD_INT(name, v) G_STMT_START { json_builder_set_member_name (builder, name); \
                                        json_builder_add_int_value (builder, (gint64) (v)); } G_STMT_END
  ADD_INT ("delay_up_ms", rules->delay_up_ms);
  ADD_INT ("delay_down_ms", rules->delay_down_ms);
  ADD_INT ("jitter_up_ms", rules->jitter_up_ms);
  ADD_INT ("jitter_down_ms", rules->jitter_down_ms);
  ADD_INT ("rate_up_bps", rules->rate_up_bps);
  ADD_INT ("rate_down_bps", rules->rate_down_bps);
  ADD_INT ("tls_delay_ms", rules->tls_delay_ms);
  ADD_INT ("reset_after_bytes", rules->reset_after_bytes);
  ADD_INT ("reset_after_ms", rules->reset_after_ms);
#undef ADD_INT
  json_builder_set_member_name (builder, "handshake");
  json_builder_add_boolean_value (builder, rules->handshake);
  json_builder_set_member_name (builder, "mode");
  json_builder_add_string_value (builder, confab_impair_mode_to_string (rules->mode));
  json_builder_set_member_name (builder, "ws");
  json_builder_add_string_value (builder, confab_impair_ws_to_string (rules->ws));
  json_builder_set_member_name (builder, "buffer");
  json_builder_add_boolean_value (builder, rules->buffer);
  json_builder_set_member_name (builder, "captive_url");
  json_builder_add_string_value (builder, rules->captive_url);
  json_builder_set_member_name (builder, "proxy");
  json_builder_add_string_value (builder, rules->connect_proxy ? "connect" : "off");
  json_builder_set_member_name (builder, "deny_ports");
  json_builder_begin_array (builder);
  for (guint i = 0; i < rules->n_deny_ports; i++)
    json_builder_add_int_value (builder, rules->deny_ports[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "loss");
  json_builder_add_double_value (builder, rules->loss);
}

gboolean
confab_impair_address_is_loopback (GInetAddress *address)
{
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);
  return g_inet_address_get_is_loopback (address);
}

GInetSocketAddress *
confab_impair_parse_address (const char *text,
                             gboolean    any_local,
                             GError    **error)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) address = NULL;
  const char *colon;
  guint64 port = 0;

  g_return_val_if_fail (text != NULL, NULL);

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || close[1] != ':')
        goto invalid;
      host = g_strndup (text + 1, close - text - 1);
      colon = close + 1;
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon == NULL)
        goto invalid;
      host = g_strndup (text, colon - text);
    }
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS,
                   "invalid port in “%s”: expected 0–65535", text);
      return NULL;
    }
  if (g_str_equal (host, "localhost"))
    address = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    address = g_inet_address_new_from_string (host);
  if (address == NULL)
    goto invalid;
  if (!any_local && !confab_impair_address_is_loopback (address))
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_NOT_LOOPBACK,
                   "%s is not a loopback address: the impairment proxy only talks to loopback", host);
      return NULL;
    }
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, (guint16) port));

invalid:
  g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS,
               "invalid address “%s”: expected a numeric HOST:PORT, [IPV6]:PORT or localhost:PORT", text);
  return NULL;
}
