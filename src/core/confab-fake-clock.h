/* confab-fake-clock.h: a clock that moves only when told, for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-clock.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_FAKE_CLOCK (confab_fake_clock_get_type ())

G_DECLARE_FINAL_TYPE (ConfabFakeClock, confab_fake_clock, CONFAB, FAKE_CLOCK, GObject)

ConfabFakeClock *confab_fake_clock_new           (gint64           start_usec);

void             confab_fake_clock_advance       (ConfabFakeClock *self,
                                                  gint64           usec);
void             confab_fake_clock_set_wall      (ConfabFakeClock *self,
                                                  gint64           wall_usec);
guint            confab_fake_clock_get_n_pending (ConfabFakeClock *self);
guint            confab_fake_clock_get_n_fired   (ConfabFakeClock *self);

G_END_DECLS
