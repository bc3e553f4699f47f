/* confab-cli-output.c: confab-cli's JSON lines and error reports
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>

#include "confab-cli-private.h"
#include "confab-error.h"

/* Output ------------------------------------------------------------------------------- */

gint64
cli_elapsed_ms (Cli *cli)
{
  return (g_get_monotonic_time () - cli->start_us) / 1000;
}

JsonBuilder *
cli_line_begin (Cli        *cli,
                const char *kind)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "elapsed_ms");
  json_builder_add_int_value (builder, cli_elapsed_ms (cli));
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, kind);
  return builder;
}

void
cli_add_string (JsonBuilder *builder,
                const char  *name,
                const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
cli_add_int (JsonBuilder *builder,
             const char  *name,
             gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

void
cli_line_end (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
  fflush (stdout);
  g_object_unref (builder);
}

const char *
cli_enum_nick (GType type,
               int   value)
{
  GEnumClass *klass = g_type_class_ref (type);
  GEnumValue *ev = g_enum_get_value (klass, value);
  const char *nick = ev != NULL ? ev->value_nick : "unknown";

  g_type_class_unref (klass);
  return nick;
}

static const char *
decision_name (ConfabErrorCode code)
{
  switch (code)
    {
    case CONFAB_ERROR_NETWORK:          return "network";
    case CONFAB_ERROR_TIMEOUT:          return "timeout";
    case CONFAB_ERROR_TLS:              return "tls";
    case CONFAB_ERROR_INSECURE_URL:     return "insecure-url";
    case CONFAB_ERROR_UPGRADE_REJECTED: return "upgrade-rejected";
    case CONFAB_ERROR_PROTOCOL:         return "protocol";
    case CONFAB_ERROR_CONNECTION_LOST:  return "connection-lost";
    case CONFAB_ERROR_AUTH:             return "auth";
    case CONFAB_ERROR_TOKEN_EXPIRED:    return "token-expired";
    case CONFAB_ERROR_RATE_LIMITED:     return "rate-limited";
    case CONFAB_ERROR_SERVER:           return "server";
    case CONFAB_ERROR_REJECTED:         return "rejected";
    case CONFAB_ERROR_BUSY:             return "busy";
    case CONFAB_ERROR_STORAGE:          return "storage";
    case CONFAB_ERROR_CORRUPT:          return "corrupt";
    case CONFAB_ERROR_FAILED:
    default:                            return "failed";
    }
}

void
cli_report_error (Cli          *cli,
                  const GError *error)
{
  if (cli->json)
    {
      JsonBuilder *builder = cli_line_begin (cli, "error");

      cli_add_string (builder, "domain", g_quark_to_string (error->domain));
      cli_add_int (builder, "code", error->code);
      cli_add_string (builder, "decision", decision_name (confab_error_classify (error)));
      cli_add_string (builder, "message", error->message);
      cli_line_end (builder);
    }
  else
    {
      g_printerr ("confab-cli: %s (%s)\n", error->message,
                  decision_name (confab_error_classify (error)));
    }
}
