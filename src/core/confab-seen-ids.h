/* confab-seen-ids.h: a bounded set of recently seen ids, for de-duplication
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_SEEN_IDS_DEFAULT_CAPACITY 5000

typedef struct _ConfabSeenIds ConfabSeenIds;

/* Remembers the last @capacity ids added (at least 1); the oldest is forgotten first. */
ConfabSeenIds *confab_seen_ids_new          (guint          capacity);
void           confab_seen_ids_free         (ConfabSeenIds *self);

/* Adds @id; TRUE if it was new (deliver it), FALSE if it was already there. */
gboolean       confab_seen_ids_add          (ConfabSeenIds *self,
                                             const char    *id);
gboolean       confab_seen_ids_contains     (ConfabSeenIds *self,
                                             const char    *id);
guint          confab_seen_ids_get_size     (ConfabSeenIds *self);
guint          confab_seen_ids_get_capacity (ConfabSeenIds *self);
void           confab_seen_ids_clear        (ConfabSeenIds *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabSeenIds, confab_seen_ids_free)

G_END_DECLS
