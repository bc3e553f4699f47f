/* confab-clock.h: an injectable clock, so every timer in the core can be driven by a fake
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_CLOCK (confab_clock_get_type ())

G_DECLARE_INTERFACE (ConfabClock, confab_clock, CONFAB, CLOCK, GObject)

/**
 * ConfabClockInterface:
 * @now: monotonic time in microseconds
 * @wall: real (wall-clock) time in microseconds since the Unix epoch
 * @add_timeout: call @func after @ms milliseconds, again every @ms while it returns
 *   %G_SOURCE_CONTINUE; returns a non-zero id; @notify (if any) is called once, with
 *   @data, when the timeout is gone (returned %G_SOURCE_REMOVE, removed, or the clock
 *   went away)
 * @remove: remove a pending timeout; 0 and ids that are already gone are ignored
 * @move_timeout: make a pending timeout fall due @ms milliseconds from now instead
 *   (later or sooner) without removing it, so a deadline that keeps moving costs no
 *   wake-up; returns %FALSE when @id is not pending
 */
struct _ConfabClockInterface
{
  GTypeInterface parent_iface;

  gint64 (*now)         (ConfabClock    *self);
  gint64 (*wall)        (ConfabClock    *self);
  guint  (*add_timeout) (ConfabClock    *self,
                         guint           ms,
                         GSourceFunc     func,
                         gpointer        data,
                         GDestroyNotify  notify);
  void     (*remove)       (ConfabClock    *self,
                            guint           id);
  gboolean (*move_timeout) (ConfabClock    *self,
                            guint           id,
                            guint           ms);
};

ConfabClock *confab_clock_get_default     (void);

gint64       confab_clock_now             (ConfabClock    *self);
gint64       confab_clock_wall            (ConfabClock    *self);
guint        confab_clock_add_timeout     (ConfabClock    *self,
                                           guint           ms,
                                           GSourceFunc     func,
                                           gpointer        data,
                                           GDestroyNotify  notify);
void         confab_clock_remove          (ConfabClock    *self,
                                           guint           id);
void         confab_clock_clear_timeout   (ConfabClock    *self,
                                           guint          *id);
gboolean     confab_clock_move_timeout    (ConfabClock    *self,
                                           guint           id,
                                           guint           ms);

G_END_DECLS
