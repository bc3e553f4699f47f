/* app-test-app.h: driving the real ConfabApplication in-process for the app tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "app-test-util.h"
#include "confab-application.h"
#include "confab-composer.h"
#include "confab-window.h"

G_BEGIN_DECLS

#define APP_TEST_CHANNEL "messaging:general"

/* A stand-in notification server (org.freedesktop.Notifications) on the session bus, so
 * GNotifications have somewhere to go; each Notify is kept as "SUMMARY\nBODY". Started
 * by app_test_app_start(). (transfer none) */
GPtrArray               *app_test_notifications      (void);

/* Registers and activates a ConfabApplication (its startup and main window, as
 * g_application_run() would) and signs in to @base_url as the demo user @user_id. */
ConfabApplication       *app_test_app_start          (const char        *base_url,
                                                      const char        *user_id);
/* The same, signing in as @account (an API key set there opens its cache at once, with
 * no sandbox needed) with @token (NULL: the keyring's). */
ConfabApplication       *app_test_app_start_account  (ConfabAccount     *account,
                                                      const char        *token);
/* The first widget of @type in the main window (asserts there is one). */
GtkWidget               *app_test_app_find           (ConfabApplication *app,
                                                      GType              type);
/* The first toplevel window of @type, or NULL. */
GtkWindow               *app_test_find_toplevel      (GType              type);
/* Waits until a toplevel of @type exists and is mapped; returns it (asserts). */
GtkWindow               *app_test_wait_toplevel      (GType              type);
/* The main window (asserts there is one). */
ConfabWindow            *app_test_app_window         (ConfabApplication *app);
/* Waits for the session, then for the manager to be CONNECTED. */
ConfabSession           *app_test_app_wait_connected (ConfabApplication *app);
/* Opens @cid in the window once the store knows it, and waits for its first messages. */
ConfabChannel           *app_test_app_open_channel   (ConfabApplication *app,
                                                      const char        *cid);
/* Writes @text in the window's composer and presses Enter (asserts it was sent). */
void                     app_test_app_type_and_send  (ConfabApplication *app,
                                                      const char        *text);
/* The message in @channel's model with exactly @text, or NULL; *count gets how many. */
ConfabMessage           *app_test_find_message       (ConfabChannel     *channel,
                                                      const char        *text,
                                                      guint             *count);
/* Waits until a GtkLabel/GtkButton with exactly @text is in @window (a toast, say). */
gboolean                 app_test_wait_text          (GtkWidget         *window,
                                                      const char        *text);
/* How many messages of messaging:general, as @user_id reads it over REST, have @text. */
guint                    app_test_count_on_server    (AppTestSandbox    *sandbox,
                                                      const char        *user_id,
                                                      const char        *text);
/* Sends @text to messaging:general as @user_id over REST; returns the message id. */
char                    *app_test_post_message       (AppTestSandbox    *sandbox,
                                                      const char        *user_id,
                                                      const char        *text);

G_END_DECLS
