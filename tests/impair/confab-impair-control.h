/* confab-impair-control.h: the control socket: one command per line, one JSON answer per line
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-impair-proxy.h"

G_BEGIN_DECLS

#define CONFAB_IMPAIR_CONTROL_MAX_LINE (64 * 1024)

#define CONFAB_IMPAIR_TYPE_CONTROL (confab_impair_control_get_type ())

G_DECLARE_FINAL_TYPE (ConfabImpairControl, confab_impair_control, CONFAB_IMPAIR, CONTROL, GObject)

/* @where: a Unix socket path (anything containing '/'; an existing socket file there is
 * replaced) or a loopback HOST:PORT (port 0 picks one). */
ConfabImpairControl *confab_impair_control_new         (ConfabImpairProxy   *proxy,
                                                        const char          *where,
                                                        GError             **error);
/* The path, or HOST:PORT with the bound port. */
const char          *confab_impair_control_get_address (ConfabImpairControl *self);
/* Stops listening and removes the socket file. */
void                 confab_impair_control_close       (ConfabImpairControl *self);

/* The client side: connects to @where, sends @line, returns the answer line (without
 * its newline). Blocking, with a @timeout_ms deadline. */
char                *confab_impair_control_call        (const char          *where,
                                                        const char          *line,
                                                        guint                timeout_ms,
                                                        GError             **error);

G_END_DECLS
