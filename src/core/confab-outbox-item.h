/* confab-outbox-item.h: one message waiting in the durable outbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * ConfabOutboxStatus:
 * @CONFAB_OUTBOX_STATUS_QUEUED: waiting to be sent (new, or a transient failure to retry)
 * @CONFAB_OUTBOX_STATUS_SENDING: an attempt is in flight
 * @CONFAB_OUTBOX_STATUS_SENT: the server has it; the file is gone, the item stays in
 *   the model until confab_outbox_prune()
 * @CONFAB_OUTBOX_STATUS_FAILED: the server refused it; only the user's Retry or
 *   Discard moves it on
 */
typedef enum {
  CONFAB_OUTBOX_STATUS_QUEUED,
  CONFAB_OUTBOX_STATUS_SENDING,
  CONFAB_OUTBOX_STATUS_SENT,
  CONFAB_OUTBOX_STATUS_FAILED,
} ConfabOutboxStatus;

#define CONFAB_TYPE_OUTBOX_STATUS (confab_outbox_status_get_type ())
GType confab_outbox_status_get_type (void) G_GNUC_CONST;

#define CONFAB_TYPE_OUTBOX_ITEM (confab_outbox_item_get_type ())

G_DECLARE_FINAL_TYPE (ConfabOutboxItem, confab_outbox_item, CONFAB, OUTBOX_ITEM, GObject)

const char        *confab_outbox_item_get_id         (ConfabOutboxItem *self);
const char        *confab_outbox_item_get_cid        (ConfabOutboxItem *self);
const char        *confab_outbox_item_get_text       (ConfabOutboxItem *self);
gint64             confab_outbox_item_get_created_at (ConfabOutboxItem *self);
ConfabOutboxStatus confab_outbox_item_get_status     (ConfabOutboxItem *self);
guint              confab_outbox_item_get_attempts   (ConfabOutboxItem *self);
const GError      *confab_outbox_item_get_last_error (ConfabOutboxItem *self);

/* Private to ConfabOutbox (confab-outbox.c), which owns every state change: the
 * properties are read-only to everyone else. */
ConfabOutboxItem *_confab_outbox_item_new            (const char         *id,
                                                      const char         *cid,
                                                      const char         *text,
                                                      gint64              created_at,
                                                      ConfabOutboxStatus  status,
                                                      guint               attempts);
void              _confab_outbox_item_set_status     (ConfabOutboxItem   *self,
                                                      ConfabOutboxStatus  status);
void              _confab_outbox_item_set_attempts   (ConfabOutboxItem   *self,
                                                      guint               attempts);
void              _confab_outbox_item_set_last_error (ConfabOutboxItem   *self,
                                                      const GError       *error);

G_END_DECLS
