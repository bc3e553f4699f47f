/* confab-widgets-private.h: what the connection widgets share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "confab-clock.h"
#include "confab-connection-manager.h"

G_BEGIN_DECLS

#define CONFAB_WIDGETS_RESOURCE_PATH "/io/github/confab_chat/Confab/widgets/"

/* Registers the compiled resource (the templates) once. */
void         _confab_widgets_ensure_resources (void);
/* Adds the widgets' style sheet to @widget's display once per display. */
void         _confab_widgets_ensure_style     (GtkWidget               *widget);
/* @explicit_clock if set, else @manager's clock, else the system clock.
 * Returns: (transfer full) */
ConfabClock *_confab_widgets_pick_clock       (ConfabClock             *explicit_clock,
                                               ConfabConnectionManager *manager);
/* The wall time on @clock in µs. */
gint64       _confab_widgets_wall             (ConfabClock             *clock);
/* Whether @error means the credentials were refused (sign in again), by domain and code. */
gboolean     _confab_widgets_error_is_auth    (const GError            *error);
/* "WebSocket", "long-polling" or the nick as is; translated. */
const char  *_confab_widgets_transport_name   (const char              *nick);
/* "Excellent", "Good", "Poor"; NULL for unknown. Translated. */
const char  *_confab_widgets_quality_word     (ConfabQuality            quality);

G_END_DECLS
