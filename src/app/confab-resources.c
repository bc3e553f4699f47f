/* confab-resources.c: the app's compiled templates, style and icons
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "confab-app-resources.h"
#include "confab-resources.h"

void
confab_app_ensure_resources (void)
{
  static gsize registered = 0;

  if (g_once_init_enter (&registered))
    {
      /* By hand: a static library's resource constructor would be dropped by the linker. */
      confab_app_register_resource ();
      g_once_init_leave (&registered, 1);
    }
}
