/* confab-outbox-pump.h: sends what waits in the outbox, one message at a time
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-clock.h"
#include "confab-diagnostics.h"
#include "confab-outbox.h"
#include "confab-stream-client.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_OUTBOX_PUMP (confab_outbox_pump_get_type ())

G_DECLARE_FINAL_TYPE (ConfabOutboxPump, confab_outbox_pump, CONFAB, OUTBOX_PUMP, GObject)

/* Sends the outbox's pending items through client, oldest first, one at a time, while
 * active (the connection manager: while CONNECTED). An item sent, or answered "already
 * exists" (Stream code 4: an earlier attempt got through), is marked sent. A permanent
 * failure marks it failed and goes on with the next. A transient one (5xx, timeout, rate
 * limit) puts it back in the queue and resends after a delay from the pump's own
 * ConfabBackoff (reset by a success), or after not-before, whichever is later; a send
 * cut off by stop() fails with CONFAB_ERROR_CONNECTION_LOST and waits for the next
 * kick. Items that become pending without kick() (the user's Retry, another writer of
 * the same outbox) are sent from an idle while active.
 *
 * Properties: outbox, clock (default: the system clock), diagnostics (nullable: where
 * notes go), all construct-only; client (the REST client to send with; nothing is sent
 * without one), active, not-before (wall µs: nothing is sent before it, a server's rate
 * limit), read-write; next-retry (wall µs of a scheduled resend, 0 if none, read-only).
 * All notified on change only.
 *
 * Signals: ::sent (ConfabOutboxItem *item) after an item is marked sent; ::rate-limited
 * (GError *error, gint64 retry_at) when a send was refused as "too many requests"
 * (retry_at: the client's time to come back, 0 if the answer gave none), before the
 * resend is scheduled, so a handler may still move not-before. */
ConfabOutboxPump   *confab_outbox_pump_new            (ConfabOutbox       *outbox,
                                                       ConfabClock        *clock,
                                                       ConfabDiagnostics  *diagnostics);

ConfabOutbox       *confab_outbox_pump_get_outbox     (ConfabOutboxPump   *self);
ConfabStreamClient *confab_outbox_pump_get_client     (ConfabOutboxPump   *self);
void                confab_outbox_pump_set_client     (ConfabOutboxPump   *self,
                                                       ConfabStreamClient *client);
gboolean            confab_outbox_pump_get_active     (ConfabOutboxPump   *self);
/* Becoming active does not send by itself: kick() does. */
void                confab_outbox_pump_set_active     (ConfabOutboxPump   *self,
                                                       gboolean            active);
gint64              confab_outbox_pump_get_not_before (ConfabOutboxPump   *self);
void                confab_outbox_pump_set_not_before (ConfabOutboxPump   *self,
                                                       gint64              not_before);
gint64              confab_outbox_pump_get_next_retry (ConfabOutboxPump   *self);
/* Whether a send is in flight. */
gboolean            confab_outbox_pump_get_sending    (ConfabOutboxPump   *self);

/* Sends the next pending item now, unless inactive, a send is in flight, a resend is
 * scheduled or not-before has not come (then the send is scheduled for it). */
void                confab_outbox_pump_kick           (ConfabOutboxPump   *self);
/* Cancels the send in flight and a scheduled resend (the connection ended). */
void                confab_outbox_pump_stop           (ConfabOutboxPump   *self);
/* A new session: resends start again from the shortest delay. */
void                confab_outbox_pump_reset_backoff  (ConfabOutboxPump   *self);

G_END_DECLS
