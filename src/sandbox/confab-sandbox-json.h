/* confab-sandbox-json.h: strict JSON input and Stream-style timestamps
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CONFAB_SANDBOX_JSON_MAX_DEPTH 64

/* Every request body and frame is untrusted: these helpers turn each way it can be
 * wrong into a CONFAB_STREAM_ERROR_INPUT error that names the field. */
gboolean    confab_sandbox_json_check_depth  (const char   *data,
                                              gsize         length,
                                              GError      **error);
JsonObject *confab_sandbox_json_parse_object (const char   *data,
                                              gssize        length,
                                              GError      **error);
gboolean    confab_sandbox_json_get_string   (JsonObject   *object,
                                              const char   *member,
                                              gboolean      required,
                                              const char  **out_value,
                                              GError      **error);
gboolean    confab_sandbox_json_get_boolean  (JsonObject   *object,
                                              const char   *member,
                                              gboolean      default_value,
                                              gboolean     *out_value,
                                              GError      **error);
gboolean    confab_sandbox_json_get_int      (JsonObject   *object,
                                              const char   *member,
                                              gint64        default_value,
                                              gint64       *out_value,
                                              GError      **error);
gboolean    confab_sandbox_json_get_object   (JsonObject   *object,
                                              const char   *member,
                                              gboolean      required,
                                              JsonObject  **out_value,
                                              GError      **error);
gboolean    confab_sandbox_json_get_array    (JsonObject   *object,
                                              const char   *member,
                                              gboolean      required,
                                              JsonArray   **out_value,
                                              GError      **error);
char      **confab_sandbox_json_get_strv     (JsonObject   *object,
                                              const char   *member,
                                              GError      **error);
char       *confab_sandbox_json_to_string    (JsonObject   *object);

/* RFC 3339 UTC with nanosecond digits, as Stream sends them. */
char       *confab_sandbox_format_time       (gint64        unix_usec);
gboolean    confab_sandbox_parse_time        (const char   *text,
                                              gint64       *out_unix_usec,
                                              GError      **error);

G_END_DECLS
