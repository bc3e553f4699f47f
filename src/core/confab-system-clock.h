/* confab-system-clock.h: the real clock (monotonic time, GLib main-context timeouts)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-clock.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_SYSTEM_CLOCK (confab_system_clock_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSystemClock, confab_system_clock, CONFAB, SYSTEM_CLOCK, GObject)

ConfabSystemClock *confab_system_clock_new (void);

G_END_DECLS
