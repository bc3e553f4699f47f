/* confab-paced-list-model.h: a list model that shows items appended in a burst a few
 * times a second instead of one by one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_PACED_LIST_MODEL (confab_paced_list_model_get_type ())

G_DECLARE_FINAL_TYPE (ConfabPacedListModel, confab_paced_list_model, CONFAB, PACED_LIST_MODEL, GObject)

/* Properties: model (the GListModel shown; construct-only), interval-ms (construct-only).
 *
 * The items of @model, in its order. Items appended at its end show at once when
 * nothing was appended for @interval_ms; during a burst they are held back and shown
 * together on the next beat of confab_pace_add() (at most @interval_ms later). Every
 * other change (inserting older items, removing, replacing) passes at once, with
 * anything held back if it touches it.
 *
 * Each change a GtkListView shows costs a layout, a paint and, on X11, round trips to
 * the server; twenty messages a second shown one by one cost several times what five
 * batches do. A timer runs only while items are held back. */
ConfabPacedListModel *confab_paced_list_model_new          (GListModel           *model,
                                                            guint                 interval_ms);

GListModel           *confab_paced_list_model_get_model    (ConfabPacedListModel *self);
guint                 confab_paced_list_model_get_interval_ms (ConfabPacedListModel *self);
/* Items appended but not shown yet. */
guint                 confab_paced_list_model_get_n_held   (ConfabPacedListModel *self);
/* Shows what is held back now, and the next append at once (the user sent a message:
 * no wait for their own, which may still be on its way to the model). */
void                  confab_paced_list_model_flush        (ConfabPacedListModel *self);

G_END_DECLS
