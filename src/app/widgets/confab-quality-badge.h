/* confab-quality-badge.h: connection quality as a coloured dot and a word
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-connection-manager.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_QUALITY_BADGE (confab_quality_badge_get_type ())

G_DECLARE_FINAL_TYPE (ConfabQualityBadge, confab_quality_badge, CONFAB, QUALITY_BADGE, AdwBin)

/* Properties: manager (ConfabConnectionManager), label (read-only: the word shown,
 * "Excellent", "Good" or "Poor"; "" while the quality is unknown and nothing is shown).
 * The tooltip holds the round trip, loss, transport and (redacted) endpoint; the
 * accessible label says the same in words. */
GtkWidget               *confab_quality_badge_new         (void);

ConfabConnectionManager *confab_quality_badge_get_manager (ConfabQualityBadge      *self);
void                     confab_quality_badge_set_manager (ConfabQualityBadge      *self,
                                                           ConfabConnectionManager *manager);
const char              *confab_quality_badge_get_label   (ConfabQualityBadge      *self);

G_END_DECLS
