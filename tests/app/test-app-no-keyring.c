/* test-app-no-keyring.c: with no keyring in the session, the app says so and still works
 *
 * Runs under `run-in-session.sh --no-keyring`: a private D-Bus session where nothing
 * provides org.freedesktop.secrets and nothing can be activated.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "app-test-app.h"

static gboolean
keyring_gone (gpointer user_data)
{
  return !confab_secret_store_get_available (user_data);
}

static gboolean
message_sent (gpointer user_data)
{
  return confab_message_get_status (user_data) == CONFAB_MESSAGE_STATUS_SENT;
}

static void
test_no_keyring (void)
{
  g_autoptr(AppTestSandbox) sandbox = NULL;
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *text = NULL;
  ConfabMessage *message;
  ConfabApplication *app;
  ConfabSession *session;
  ConfabChannel *channel;
  GtkWidget *window;

  if (g_strcmp0 (g_getenv ("CONFAB_TEST_SESSION_KEYRING"), "0") != 0)
    {
      g_test_skip ("needs tests/app/run-in-session.sh --no-keyring");
      return;
    }

  sandbox = app_test_sandbox_start (NULL);
  app = app_test_app_start (sandbox->url, "alice");
  window = GTK_WIDGET (app_test_app_window (app));

  /* A clear message, once the token could not be stored. */
  g_assert_true (app_test_wait_text (window, "No keyring is available: you stay signed in only until Confab quits"));
  g_assert_true (core_test_wait_until (keyring_gone, confab_application_get_secret_store (app), APP_TEST_DEADLINE_MS));

  /* And the app works: connected, reading and sending. */
  session = app_test_app_wait_connected (app);
  channel = app_test_app_open_channel (app, APP_TEST_CHANNEL);
  g_assert_nonnull (session);
  text = g_strdup_printf ("sent without a keyring %s", uuid);
  app_test_app_type_and_send (app, text);
  message = app_test_find_message (channel, text, NULL);
  g_assert_nonnull (message);
  g_assert_true (core_test_wait_until (message_sent, message, APP_TEST_DEADLINE_MS));
  g_assert_cmpuint (app_test_count_on_server (sandbox, "bob", text), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  app_test_init (&argc, &argv);

  g_test_add_func ("/confab/app/no-keyring", test_no_keyring);

  return g_test_run ();
}
