/* confab-preferences-window.h: the account (server, API key, user, token) and notifications
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-application.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_PREFERENCES_WINDOW (confab_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (ConfabPreferencesWindow, confab_preferences_window,
                      CONFAB, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* Filled from @application's settings; "Sign In" calls confab_application_sign_in()
 * (an empty token means a demo sandbox: the token comes from its demo endpoint),
 * "Sign Out" confab_application_sign_out(). */
GtkWindow *confab_preferences_window_new (ConfabApplication *application);

G_END_DECLS
