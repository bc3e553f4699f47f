/* confab-banner.h: the connection banner (retry countdown, offline, signed out)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-clock.h"
#include "confab-connection-manager.h"

G_BEGIN_DECLS

/* Set to 1 to use the GtkRevealer fallback even where AdwBanner exists. */
#define CONFAB_BANNER_FALLBACK_ENV "CONFAB_BANNER_FALLBACK"

#define CONFAB_TYPE_BANNER (confab_banner_get_type ())

G_DECLARE_FINAL_TYPE (ConfabBanner, confab_banner, CONFAB, BANNER, AdwBin)

/* One banner, two implementations: an AdwBanner when the libadwaita found at run time
 * has one (≥ 1.3; looked up by name, as the build pins the 1.2 API), else a GtkRevealer
 * with a label and a button.
 *
 * Properties: manager (ConfabConnectionManager), clock (ConfabClock for the countdown;
 * NULL = the manager's clock), use-adw-banner (construct-only, default TRUE: FALSE
 * forces the fallback), and read-only uses-adw-banner, title, button-label ("" when
 * there is no button) and revealed.
 *
 * Signals: ::sign-in-requested () when the user presses "Sign in" after the server
 * refused the credentials. "Retry now" calls confab_connection_manager_retry_now(). */
GtkWidget               *confab_banner_new                  (void);

ConfabConnectionManager *confab_banner_get_manager          (ConfabBanner            *self);
void                     confab_banner_set_manager          (ConfabBanner            *self,
                                                             ConfabConnectionManager *manager);
ConfabClock             *confab_banner_get_clock            (ConfabBanner            *self);
void                     confab_banner_set_clock            (ConfabBanner            *self,
                                                             ConfabClock             *clock);
gboolean                 confab_banner_get_uses_adw_banner  (ConfabBanner            *self);
const char              *confab_banner_get_title            (ConfabBanner            *self);
const char              *confab_banner_get_button_label     (ConfabBanner            *self);
gboolean                 confab_banner_get_revealed         (ConfabBanner            *self);

G_END_DECLS
