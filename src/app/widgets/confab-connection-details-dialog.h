/* confab-connection-details-dialog.h: the attempt timeline, breakers and quality, live
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-connection-manager.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_CONNECTION_DETAILS_DIALOG (confab_connection_details_dialog_get_type ())

G_DECLARE_FINAL_TYPE (ConfabConnectionDetailsDialog, confab_connection_details_dialog,
                      CONFAB, CONNECTION_DETAILS_DIALOG, AdwWindow)

/* A window: the connection now (state, transport, server, quality, round trip, loss),
 * every kept attempt newest first (transport, endpoint, each stage's duration, the
 * error and why the next step was chosen) and the anonymised report (circuit breakers,
 * quality history, recent events), refreshed while shown. "Copy Report" puts the report
 * on the clipboard.
 *
 * Properties: manager (ConfabConnectionManager). */
GtkWidget               *confab_connection_details_dialog_new         (ConfabConnectionManager       *manager);

ConfabConnectionManager *confab_connection_details_dialog_get_manager (ConfabConnectionDetailsDialog *self);
void                     confab_connection_details_dialog_set_manager (ConfabConnectionDetailsDialog *self,
                                                                       ConfabConnectionManager       *manager);
/* What "Copy Report" does: the report to the clipboard, with a toast. */
void                     confab_connection_details_dialog_copy_report (ConfabConnectionDetailsDialog *self);

G_END_DECLS
