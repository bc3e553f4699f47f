/* confab-connection-status.h: the connection's stage in words ("Signing in…")
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-clock.h"
#include "confab-connection-manager.h"

G_BEGIN_DECLS

/* Nothing is shown for a state that lasts less than this. */
#define CONFAB_CONNECTION_STATUS_DEFAULT_SHOW_DELAY_MS 1000

#define CONFAB_TYPE_CONNECTION_STATUS (confab_connection_status_get_type ())

G_DECLARE_FINAL_TYPE (ConfabConnectionStatus, confab_connection_status, CONFAB, CONNECTION_STATUS, AdwBin)

/* Properties: manager (ConfabConnectionManager), clock (ConfabClock for the show delay;
 * NULL = the manager's clock), show-delay-ms, text (read-only: what is shown now, ""
 * when nothing). */
GtkWidget               *confab_connection_status_new               (void);

ConfabConnectionManager *confab_connection_status_get_manager       (ConfabConnectionStatus  *self);
void                     confab_connection_status_set_manager       (ConfabConnectionStatus  *self,
                                                                     ConfabConnectionManager *manager);
ConfabClock             *confab_connection_status_get_clock         (ConfabConnectionStatus  *self);
void                     confab_connection_status_set_clock         (ConfabConnectionStatus  *self,
                                                                     ConfabClock             *clock);
guint                    confab_connection_status_get_show_delay_ms (ConfabConnectionStatus  *self);
void                     confab_connection_status_set_show_delay_ms (ConfabConnectionStatus  *self,
                                                                     guint                    show_delay_ms);
const char              *confab_connection_status_get_text          (ConfabConnectionStatus  *self);

G_END_DECLS
