/* confab-cli-private.h: what the confab-cli files share (the run, output, sending)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "confab-connection-manager.h"
#include "confab-outbox.h"

G_BEGIN_DECLS

#define CLI_EXIT_USAGE 2

typedef enum {
  COMMAND_CONNECT,
  COMMAND_SEND,
  COMMAND_LISTEN,
  COMMAND_DIAGNOSE,
} Command;

typedef struct
{
  Command                  command;
  /* options */
  char                    *base_url;
  char                   **endpoints;    /* --endpoint: alternates after --base-url */
  char                    *api_key;
  char                    *user;
  char                    *token;
  char                    *token_command;
  char                    *channel;
  char                    *outbox_dir;
  char                   **rest;
  gboolean                 json;
  gboolean                 once;
  int                      timeout_s;
  int                      count;
  /* run */
  gint64                   start_us;
  GMainLoop               *loop;
  ConfabConnectionManager *manager;
  ConfabOutbox            *outbox;
  GPtrArray               *tracked;      /* ConfabOutboxItem being sent by this run */
  GArray                  *lines;        /* guint: stdin line number of tracked[i] */
  guint                    n_sent;
  guint                    n_received;
  gboolean                 connected;
  /* Usable = the first health.check with a connection_id (state UPDATING, design.md),
   * before catch-up; connected = caught up (state CONNECTED). */
  gboolean                 usable;
  gint64                   usable_ms;    /* cli_elapsed_ms() when it became usable */
  gint64                   connect_ms;   /* cli_elapsed_ms() at the connect call: building the client took this */
  gboolean                 finished;
  int                      exit_code;
  guint                    timeout_id;
  guint                    sigint_id;
  guint                    sigterm_id;
} Cli;

/* Output (confab-cli-output.c): one JSON object per line, each with elapsed_ms and kind. */
gint64       cli_elapsed_ms    (Cli          *cli);
JsonBuilder *cli_line_begin    (Cli          *cli,
                                const char   *kind);
void         cli_add_string    (JsonBuilder  *builder,
                                const char   *name,
                                const char   *value);
void         cli_add_int       (JsonBuilder  *builder,
                                const char   *name,
                                gint64        value);
/* Ends the object, prints it as one line and frees @builder. */
void         cli_line_end      (JsonBuilder  *builder);
const char  *cli_enum_nick     (GType         type,
                                int           value);
/* A JSON error line on stdout with --json, a sentence on stderr otherwise. Core error
 * messages never hold tokens or keys. */
void         cli_report_error  (Cli          *cli,
                                const GError *error);

/* The run (confab-cli.c). */
void         cli_finish        (Cli          *cli,
                                int           exit_code);
void         cli_fail          (Cli          *cli,
                                const GError *error);

/* Sending (confab-cli-send.c). */
gboolean     cli_send_prepare  (Cli          *cli,
                                GError      **error);
void         cli_send_check    (Cli          *cli);

G_END_DECLS
