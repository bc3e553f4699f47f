/* confab-pace.c: one shared beat for the widgets that show a burst of changes a few
 * times a second
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-pace.h"

static gboolean
pace_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs pace_funcs = {
  NULL,
  NULL,
  pace_dispatch,
  NULL,
  NULL,
  NULL,
};

guint
confab_pace_add (guint       interval_ms,
                 GSourceFunc func,
                 gpointer    data)
{
  gint64 interval_us = (gint64) MAX (interval_ms, 1) * 1000;
  gint64 now = g_get_monotonic_time ();
  GSource *source;
  guint id;

  g_return_val_if_fail (func != NULL, 0);

  /* An exact ready time, not a timeout in ms from now: two sources added a moment apart
   * for the same beat are due at the same microsecond. */
  source = g_source_new (&pace_funcs, sizeof (GSource));
  g_source_set_ready_time (source, (now / interval_us + 1) * interval_us);
  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, "[confab] pace");
  id = g_source_attach (source, NULL);
  g_source_unref (source);
  return id;
}
