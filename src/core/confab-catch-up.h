/* confab-catch-up.h: what was missed while away, fetched after a (re)connect
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "confab-clock.h"
#include "confab-diagnostics.h"
#include "confab-stream-client.h"

G_BEGIN_DECLS

/* The user's channels are re-watched a page at a time; Stream's pages hold at most 30,
 * and it refuses offsets past 1000. */
#define CONFAB_CATCH_UP_CHANNEL_PAGE      30
#define CONFAB_CATCH_UP_MAX_CHANNEL_PAGES 34
/* /sync takes at most 255 channels and answers at most 1000 events. */
#define CONFAB_CATCH_UP_SYNC_MAX_CHANNELS 255
#define CONFAB_CATCH_UP_SYNC_PAGE_EVENTS  1000
/* A bound on the pages of one catch-up: 200 000 events is not a gap, it is a new install. */
#define CONFAB_CATCH_UP_SYNC_MAX_PAGES    200
/* The fallback reads each channel's messages in Stream's largest pages, at most about
 * 10 000 per channel. */
#define CONFAB_CATCH_UP_FALLBACK_PAGE     300
#define CONFAB_CATCH_UP_FALLBACK_MAX_PAGES 34

#define CONFAB_TYPE_CATCH_UP (confab_catch_up_get_type ())

G_DECLARE_FINAL_TYPE (ConfabCatchUp, confab_catch_up, CONFAB, CATCH_UP, GObject)

/* One catch-up, run once, on @client (which must carry the new connection's
 * connection_id, so that watching subscribes it):
 *
 * 1. the user's channels are queried with watch:true, page after page (re-watching);
 * 2. POST /sync from @since (wall µs; 0: nothing is fetched), page after page while
 *    Stream answers its cap of 1000 events, each page from 1 µs before the last one's
 *    newest event, skipping the events of that microsecond already delivered;
 * 3. when /sync is refused (CONFAB_ERROR_REJECTED: a watermark older than 30 days, more
 *    than 255 channels, or pages that do not advance), each channel's messages newer
 *    than @since are read instead, newest page first, and delivered as message.new
 *    events Stream would have sent.
 *
 * Signals: ::event (JsonObject *event) for each missed event, in time order (handlers
 * may cancel the run: no further event is emitted); ::rest-rtt (guint ms), once, the
 * round trip of the first REST answer (a quality sample). Properties: client, since,
 * clock (default: the system clock), diagnostics (nullable: where progress notes go),
 * all construct-only; n-delivered and n-sync-pages (read-only, notified on change).
 *
 * Progress is logged with g_debug and, with diagnostics, added to its events. */
ConfabCatchUp *confab_catch_up_new                (ConfabStreamClient *client,
                                                   gint64              since,
                                                   ConfabClock        *clock,
                                                   ConfabDiagnostics  *diagnostics);

/* Resolves when every missed event was emitted; fails with the REST call's error
 * (CONFAB_API_ERROR, CONFAB_ERROR, G_IO_ERROR…; the client's retry-at holds a rate
 * limit's time), or G_IO_ERROR_CANCELLED once @cancellable is cancelled. Call it once. */
void           confab_catch_up_run_async          (ConfabCatchUp      *self,
                                                   GCancellable       *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer            user_data);
gboolean       confab_catch_up_run_finish         (ConfabCatchUp      *self,
                                                   GAsyncResult       *result,
                                                   GError            **error);

gint64         confab_catch_up_get_since          (ConfabCatchUp      *self);
ConfabStreamClient *confab_catch_up_get_client    (ConfabCatchUp      *self);
/* The events emitted so far, and the /sync pages asked for (0 when /sync was not used). */
guint          confab_catch_up_get_n_delivered    (ConfabCatchUp      *self);
guint          confab_catch_up_get_n_sync_pages   (ConfabCatchUp      *self);
/* The channels found while re-watching (0 before that is done). */
guint          confab_catch_up_get_n_channels     (ConfabCatchUp      *self);

G_END_DECLS
