/* confab-pace.h: one shared beat for the widgets that show a burst of changes a few
 * times a second
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How often, at most, a burst of new messages shows (a change after a quiet moment shows
 * at once): each change the window shows costs layouts, a paint and, on X11, round trips
 * to the server, whatever its size. At 20 messages a second, 250 ms measured 4.8-6.4 % of
 * a core, 400 ms 2.9-3.7 % (docs/performance-app.md). */
#define CONFAB_PACE_INTERVAL_MS 400

/* Calls @func (which returns G_SOURCE_REMOVE) at the next multiple of @interval_ms on the
 * monotonic clock, in the default main context. Everything paced with the same interval
 * is due at the same instant, so it changes in the same main-loop iteration and the
 * window lays out and paints once for all of it. Returns the source id. */
guint confab_pace_add (guint       interval_ms,
                       GSourceFunc func,
                       gpointer    data);

G_END_DECLS
