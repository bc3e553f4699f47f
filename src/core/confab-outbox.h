/* confab-outbox.h: the durable outbox, so a composed message is never lost
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-outbox-item.h"

G_BEGIN_DECLS

/* Limits enqueue enforces (and loading checks again). */
#define CONFAB_OUTBOX_MAX_TEXT_CHARS 5000
#define CONFAB_OUTBOX_MAX_FILE_SIZE  (256 * 1024)

#define CONFAB_TYPE_OUTBOX (confab_outbox_get_type ())

G_DECLARE_FINAL_TYPE (ConfabOutbox, confab_outbox, CONFAB, OUTBOX, GObject)

ConfabOutbox       *confab_outbox_new                    (const char         *directory,
                                                          GError            **error);

const char         *confab_outbox_get_directory          (ConfabOutbox       *self);
guint               confab_outbox_get_n_pending          (ConfabOutbox       *self);
guint               confab_outbox_get_n_failed           (ConfabOutbox       *self);
guint               confab_outbox_get_n_corrupt          (ConfabOutbox       *self);
const char * const *confab_outbox_get_corrupt_paths      (ConfabOutbox       *self);

/* Items returned here are owned by the outbox (transfer none): valid until discarded
 * or pruned; g_object_ref() one to hold it across an async send. */
ConfabOutboxItem   *confab_outbox_enqueue                (ConfabOutbox       *self,
                                                          const char         *cid,
                                                          const char         *text,
                                                          GError            **error);
ConfabOutboxItem   *confab_outbox_next_pending           (ConfabOutbox       *self);
ConfabOutboxItem   *confab_outbox_lookup                 (ConfabOutbox       *self,
                                                          const char         *id);

/* Status changes are written at once; a write that fails is logged and emitted as
 * ::storage-error, and the change still holds in memory. Calls for an item that is not
 * (or no longer) in the outbox, or not in a state the change applies to, are ignored. */
void                confab_outbox_mark_sending           (ConfabOutbox       *self,
                                                          ConfabOutboxItem   *item);
void                confab_outbox_mark_sent              (ConfabOutbox       *self,
                                                          ConfabOutboxItem   *item);
void                confab_outbox_mark_failed            (ConfabOutbox       *self,
                                                          ConfabOutboxItem   *item,
                                                          const GError       *error);
void                confab_outbox_retry                  (ConfabOutbox       *self,
                                                          ConfabOutboxItem   *item);
void                confab_outbox_discard                (ConfabOutbox       *self,
                                                          ConfabOutboxItem   *item);
guint               confab_outbox_prune                  (ConfabOutbox       *self);

gboolean            confab_outbox_validate               (const char         *cid,
                                                          const char         *text,
                                                          GError            **error);

G_END_DECLS
