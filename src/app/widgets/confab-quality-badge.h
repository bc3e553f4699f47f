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
 * accessible label names the rating and the accessible description holds the details.
 * Only what changed is touched on each update (an RTT sample with the same rating
 * changes no CSS class and sets no tooltip). */
GtkWidget               *confab_quality_badge_new         (void);

ConfabConnectionManager *confab_quality_badge_get_manager (ConfabQualityBadge      *self);
void                     confab_quality_badge_set_manager (ConfabQualityBadge      *self,
                                                           ConfabConnectionManager *manager);
const char              *confab_quality_badge_get_label   (ConfabQualityBadge      *self);
/* What the tooltip shows (built when GTK asks for it, in a ::query-tooltip handler), or
 * NULL when the quality is unknown and there is no tooltip. (transfer full) */
char                    *confab_quality_badge_dup_tooltip_text (ConfabQualityBadge *self);

G_END_DECLS
