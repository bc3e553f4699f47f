/* confab-sandbox-demo.h: the demo users, channels and history
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-sandbox-store.h"

G_BEGIN_DECLS

gboolean confab_sandbox_demo_seed         (ConfabSandboxStore  *store,
                                           guint                n_messages,
                                           GError             **error);
gboolean confab_sandbox_demo_is_demo_user (const char          *user_id);

G_END_DECLS
