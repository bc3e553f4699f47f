/* confab-resources.h: the app's compiled templates, style and icons
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Registers the app's GResource once (templates under /io/github/confab_chat/Confab/ui/).
 * Every templated widget calls it from class_init, so widgets can be created without a
 * ConfabApplication (tests). */
void confab_app_ensure_resources (void);

G_END_DECLS
