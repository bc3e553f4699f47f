/* confab-widgets.h: the connection widgets (status, quality badge, banner, details)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-banner.h"
#include "confab-connection-details-dialog.h"
#include "confab-connection-status.h"
#include "confab-quality-badge.h"

G_BEGIN_DECLS

/* Registers the widgets' types (so GtkBuilder files can name them), their templates and
 * their style sheet on the default display. Idempotent; each widget also does it on
 * first use. Call after adw_init() (or from AdwApplication's startup). */
void confab_widgets_init (void);

G_END_DECLS
