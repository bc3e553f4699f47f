/* confab-backoff.h: exponential backoff with full jitter, a floor and a cap
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* See docs/retry-policy.md for why these numbers. */
#define CONFAB_BACKOFF_DEFAULT_FLOOR_MS 250
#define CONFAB_BACKOFF_DEFAULT_BASE_MS  500
#define CONFAB_BACKOFF_DEFAULT_CAP_MS   30000
/* The largest value any of the three properties accepts (a day). */
#define CONFAB_BACKOFF_MAX_MS           (24 * 60 * 60 * 1000)

#define CONFAB_TYPE_BACKOFF (confab_backoff_get_type ())

G_DECLARE_FINAL_TYPE (ConfabBackoff, confab_backoff, CONFAB, BACKOFF, GObject)

ConfabBackoff *confab_backoff_new            (void);

guint          confab_backoff_next_delay     (ConfabBackoff *self);
guint          confab_backoff_peek_max       (ConfabBackoff *self);
void           confab_backoff_reset          (ConfabBackoff *self);
void           confab_backoff_set_random     (ConfabBackoff *self,
                                              GRand         *rand);

guint          confab_backoff_get_attempt    (ConfabBackoff *self);
guint          confab_backoff_get_floor_ms   (ConfabBackoff *self);
void           confab_backoff_set_floor_ms   (ConfabBackoff *self,
                                              guint          floor_ms);
guint          confab_backoff_get_base_ms    (ConfabBackoff *self);
void           confab_backoff_set_base_ms    (ConfabBackoff *self,
                                              guint          base_ms);
guint          confab_backoff_get_cap_ms     (ConfabBackoff *self);
void           confab_backoff_set_cap_ms     (ConfabBackoff *self,
                                              guint          cap_ms);

G_END_DECLS
