/* confab-sleep-monitor.h: logind's suspend and resume, for an immediate reconnect check
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_SLEEP_MONITOR (confab_sleep_monitor_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSleepMonitor, confab_sleep_monitor, CONFAB, SLEEP_MONITOR, GObject)

/* Listens for org.freedesktop.login1.Manager.PrepareForSleep (b) from
 * org.freedesktop.login1 on /org/freedesktop/login1: TRUE before a suspend, FALSE after
 * the resume.
 *
 * @connection (nullable): the bus to listen on; NULL means the system bus, fetched
 * asynchronously (the caller's main loop is never blocked). Without a bus — a container,
 * a session without logind — there is no monitor: one g_debug, no error, and
 * ConfabSleepMonitor:active stays FALSE.
 *
 * Properties (read-only, notified on change): active (listening), ready (the bus lookup
 * has finished, either way), sleeping (between PrepareForSleep (true) and (false)).
 * Signal ::resumed, after each resume. Everything runs in the thread-default main
 * context of the thread that created the monitor. */
ConfabSleepMonitor *confab_sleep_monitor_new          (GDBusConnection    *connection);

gboolean            confab_sleep_monitor_get_active   (ConfabSleepMonitor *self);
gboolean            confab_sleep_monitor_get_ready    (ConfabSleepMonitor *self);
gboolean            confab_sleep_monitor_get_sleeping (ConfabSleepMonitor *self);

G_END_DECLS
