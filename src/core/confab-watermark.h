/* confab-watermark.h: the time of the newest event delivered, kept across restarts
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-clock.h"

G_BEGIN_DECLS

/* The file in the state directory. */
#define CONFAB_WATERMARK_FILE    "watermark"
/* Writes are at most this far apart: a catch-up of thousands of events is one write,
 * not thousands of fsyncs. */
#define CONFAB_WATERMARK_SAVE_MS 1000

#define CONFAB_TYPE_WATERMARK (confab_watermark_get_type ())

G_DECLARE_FINAL_TYPE (ConfabWatermark, confab_watermark, CONFAB, WATERMARK, GObject)

/* Properties: path (construct-only, nullable: kept in memory only; read at
 * construction, a file that cannot be read or parsed counts as none), clock
 * (construct-only, default: the system clock), value (read-only, wall µs, 0 if none,
 * notified on change). */
ConfabWatermark *confab_watermark_new        (const char      *path,
                                              ConfabClock     *clock);

gint64           confab_watermark_get_value  (ConfabWatermark *self);
const char      *confab_watermark_get_path   (ConfabWatermark *self);
/* Moves the value forward to @at_usec (never back) at once; the file follows within
 * CONFAB_WATERMARK_SAVE_MS. */
void             confab_watermark_advance    (ConfabWatermark *self,
                                              gint64           at_usec);
/* Writes a value not yet on disk now (the connection stops). A failed write is logged
 * with g_debug; the next advance writes again. */
void             confab_watermark_flush      (ConfabWatermark *self);

/* The wall µs of an ISO 8601 time as Stream writes it (created_at), 0 if @text is NULL
 * or not one. */
gint64           confab_watermark_parse_time (const char      *text);

G_END_DECLS
