/* confab-clock.c: an injectable clock, so every timer in the core can be driven by a fake
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-clock.h"
#include "confab-system-clock.h"

G_DEFINE_INTERFACE (ConfabClock, confab_clock, G_TYPE_OBJECT)

static void
confab_clock_default_init (ConfabClockInterface *iface)
{
}

/**
 * confab_clock_get_default:
 *
 * The clock the core uses unless it is given another: a process-wide
 * #ConfabSystemClock (monotonic time, timeouts on the thread-default main context
 * of the thread that adds them).
 *
 * Returns: (transfer none): the shared system clock
 */
ConfabClock *
confab_clock_get_default (void)
{
  static gsize default_clock = 0;

  if (g_once_init_enter (&default_clock))
    {
      ConfabSystemClock *clock = confab_system_clock_new ();

      g_once_init_leave (&default_clock, (gsize) clock);
    }

  return CONFAB_CLOCK ((gpointer) default_clock);
}

/**
 * confab_clock_now:
 * @self: a #ConfabClock
 *
 * Returns: monotonic time in microseconds (only differences are meaningful)
 */
gint64
confab_clock_now (ConfabClock *self)
{
  g_return_val_if_fail (CONFAB_IS_CLOCK (self), 0);

  return CONFAB_CLOCK_GET_IFACE (self)->now (self);
}

/**
 * confab_clock_wall:
 * @self: a #ConfabClock
 *
 * Returns: real time in microseconds since the Unix epoch (may jump)
 */
gint64
confab_clock_wall (ConfabClock *self)
{
  g_return_val_if_fail (CONFAB_IS_CLOCK (self), 0);

  return CONFAB_CLOCK_GET_IFACE (self)->wall (self);
}

/**
 * confab_clock_add_timeout:
 * @self: a #ConfabClock
 * @ms: delay in milliseconds
 * @func: called when the delay has passed; return %G_SOURCE_REMOVE for a one-shot,
 *   %G_SOURCE_CONTINUE to be called again every @ms
 * @data: passed to @func and @notify
 * @notify: (nullable): called once with @data when the timeout is gone
 *
 * Returns: a non-zero id for confab_clock_remove()
 */
guint
confab_clock_add_timeout (ConfabClock    *self,
                          guint           ms,
                          GSourceFunc     func,
                          gpointer        data,
                          GDestroyNotify  notify)
{
  g_return_val_if_fail (CONFAB_IS_CLOCK (self), 0);
  g_return_val_if_fail (func != NULL, 0);

  return CONFAB_CLOCK_GET_IFACE (self)->add_timeout (self, ms, func, data, notify);
}

/**
 * confab_clock_remove:
 * @self: a #ConfabClock
 * @id: an id from confab_clock_add_timeout() on the same clock
 *
 * Removes a pending timeout: its function is not called again and its notify runs.
 * Unlike g_source_remove(), 0 and ids that already finished are quietly ignored.
 */
void
confab_clock_remove (ConfabClock *self,
                     guint        id)
{
  g_return_if_fail (CONFAB_IS_CLOCK (self));

  if (id == 0)
    return;

  CONFAB_CLOCK_GET_IFACE (self)->remove (self, id);
}

/**
 * confab_clock_clear_timeout:
 * @self: a #ConfabClock
 * @id: (inout): a timeout id, or 0
 *
 * Removes the timeout *@id if it is not 0, then sets *@id to 0 (the clock's
 * g_clear_handle_id()).
 */
void
confab_clock_clear_timeout (ConfabClock *self,
                            guint       *id)
{
  guint old;

  g_return_if_fail (CONFAB_IS_CLOCK (self));
  g_return_if_fail (id != NULL);

  old = *id;
  *id = 0;
  if (old != 0)
    CONFAB_CLOCK_GET_IFACE (self)->remove (self, old);
}

/**
 * confab_clock_move_timeout:
 * @self: a #ConfabClock
 * @id: an id from confab_clock_add_timeout() on the same clock
 * @ms: the new delay, from now, in milliseconds
 *
 * Moves a pending timeout's deadline to @ms from now, later or sooner, keeping its id,
 * function and notify: the real clock sets the GSource's ready time
 * (g_source_set_ready_time()), so a deadline pushed back on every incoming frame
 * costs no wake-up at all. For a repeating timeout only the next run moves. Not for a
 * timeout's own function (return %G_SOURCE_REMOVE and add a new one there). 0, ids
 * that are gone and clocks that cannot move a timeout give %FALSE: remove and add
 * instead.
 *
 * Returns: %TRUE if @id was pending and now falls due @ms from now
 */
gboolean
confab_clock_move_timeout (ConfabClock *self,
                           guint        id,
                           guint        ms)
{
  g_return_val_if_fail (CONFAB_IS_CLOCK (self), FALSE);

  if (id == 0 || CONFAB_CLOCK_GET_IFACE (self)->move_timeout == NULL)
    return FALSE;

  return CONFAB_CLOCK_GET_IFACE (self)->move_timeout (self, id, ms);
}
