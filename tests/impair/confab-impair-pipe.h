/* confab-impair-pipe.h: one client connection through the proxy, impaired both ways
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-impair-listener.h"

G_BEGIN_DECLS

#define CONFAB_IMPAIR_TYPE_PIPE (confab_impair_pipe_get_type ())

G_DECLARE_FINAL_TYPE (ConfabImpairPipe, confab_impair_pipe, CONFAB_IMPAIR, PIPE, GObject)

/* The listener outlives its pipes (it stops them in dispose). Signal ::closed once the
 * pipe is finished; the listener then drops it. */
ConfabImpairPipe *confab_impair_pipe_new     (ConfabImpairListener *listener,
                                              GSocketConnection    *client);
/* Starts reading, connects upstream as the rules say; @stalled starts it silent. */
void              confab_impair_pipe_start   (ConfabImpairPipe     *self,
                                              gboolean              stalled);
/* Resets (RST) both sides now. */
void              confab_impair_pipe_reset   (ConfabImpairPipe     *self);
/* Stops (or resumes) every delivery; held data flows again when resumed. */
void              confab_impair_pipe_stall   (ConfabImpairPipe     *self,
                                              gboolean              stalled);
gboolean          confab_impair_pipe_is_closed (ConfabImpairPipe   *self);

/* Sets SO_LINGER 0 and closes, so the peer gets a RST. */
void              confab_impair_socket_reset (GSocket              *socket);

G_END_DECLS
