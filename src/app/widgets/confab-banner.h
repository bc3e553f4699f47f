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

/* What a limited connection cannot do, for "Limited connection: …". */
typedef enum {
  CONFAB_UNAVAILABLE_NONE          = 0,
  CONFAB_UNAVAILABLE_TYPING        = 1 << 0,
  CONFAB_UNAVAILABLE_PRESENCE      = 1 << 1,
  CONFAB_UNAVAILABLE_READ_RECEIPTS = 1 << 2,
  CONFAB_UNAVAILABLE_LIVE_UPDATES  = 1 << 3, /* new messages arrive late (polled) */
  CONFAB_UNAVAILABLE_SENDING       = 1 << 4, /* messages wait in the outbox */
} ConfabUnavailableFeatures;

/* What the core's LIMITED state means until it says more (SSE limited mode: events come,
 * nothing ephemeral goes out). */
#define CONFAB_UNAVAILABLE_LIMITED_DEFAULT \
  (CONFAB_UNAVAILABLE_TYPING | CONFAB_UNAVAILABLE_PRESENCE | CONFAB_UNAVAILABLE_READ_RECEIPTS)

#define CONFAB_TYPE_UNAVAILABLE_FEATURES (confab_unavailable_features_get_type ())
GType confab_unavailable_features_get_type (void);

#define CONFAB_TYPE_BANNER (confab_banner_get_type ())

G_DECLARE_FINAL_TYPE (ConfabBanner, confab_banner, CONFAB, BANNER, AdwBin)

/* One banner, two implementations: an AdwBanner when the libadwaita found at run time
 * has one (≥ 1.3; looked up by name, as the build pins the 1.2 API), else a GtkRevealer
 * with a label and a button.
 *
 * Properties: manager (ConfabConnectionManager), clock (ConfabClock for the countdown;
 * NULL = the manager's clock), use-adw-banner (construct-only, default TRUE: FALSE
 * forces the fallback), unavailable (ConfabUnavailableFeatures: what the connection
 * cannot do now; while the manager is LIMITED, or CONNECTED/UPDATING with any set, the
 * banner says "Limited connection: " and names each; LIMITED with none set names
 * CONFAB_UNAVAILABLE_LIMITED_DEFAULT), and read-only uses-adw-banner, title,
 * button-label ("" when there is no button) and revealed.
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
ConfabUnavailableFeatures confab_banner_get_unavailable    (ConfabBanner            *self);
void                     confab_banner_set_unavailable      (ConfabBanner              *self,
                                                             ConfabUnavailableFeatures  unavailable);
gboolean                 confab_banner_get_uses_adw_banner  (ConfabBanner            *self);
const char              *confab_banner_get_title            (ConfabBanner            *self);
const char              *confab_banner_get_button_label     (ConfabBanner            *self);
gboolean                 confab_banner_get_revealed         (ConfabBanner            *self);

G_END_DECLS
