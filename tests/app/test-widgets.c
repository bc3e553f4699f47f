/* test-widgets.c: the connection widgets against a real ConnectionManager and the sandbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gmodule.h>

#include "app-test-util.h"
#include "confab-fake-clock.h"
#include "confab-static-token-provider.h"
#include "confab-widgets.h"

#define NO_HEDGE_MS 600000

/* A stand-in for AdwBanner ------------------------------------------------------------------
 *
 * libadwaita 1.2 has no AdwBanner. So that ConfabBanner's run-time path (look the type up by
 * name, set title/button-label/revealed by name, connect "button-clicked" by name) runs here
 * too, a widget with AdwBanner's interface is registered under that name when the
 * libadwaita in use has none. With libadwaita ≥ 1.3 the real one is tested instead. */

typedef struct
{
  GtkWidget  parent_instance;
  char      *title;
  char      *button_label;
  gboolean   revealed;
} StandInBanner;

typedef struct
{
  GtkWidgetClass parent_class;
} StandInBannerClass;

enum {
  BANNER_PROP_0,
  BANNER_PROP_TITLE,
  BANNER_PROP_BUTTON_LABEL,
  BANNER_PROP_REVEALED,
};

static gpointer stand_in_parent_class;

static void
stand_in_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  StandInBanner *self = (StandInBanner *) object;

  switch (prop_id)
    {
    case BANNER_PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case BANNER_PROP_BUTTON_LABEL:
      g_value_set_string (value, self->button_label);
      break;
    case BANNER_PROP_REVEALED:
      g_value_set_boolean (value, self->revealed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
stand_in_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  StandInBanner *self = (StandInBanner *) object;

  switch (prop_id)
    {
    case BANNER_PROP_TITLE:
      g_free (self->title);
      self->title = g_value_dup_string (value);
      break;
    case BANNER_PROP_BUTTON_LABEL:
      g_free (self->button_label);
      self->button_label = g_value_dup_string (value);
      break;
    case BANNER_PROP_REVEALED:
      self->revealed = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
stand_in_finalize (GObject *object)
{
  StandInBanner *self = (StandInBanner *) object;

  g_free (self->title);
  g_free (self->button_label);
  G_OBJECT_CLASS (stand_in_parent_class)->finalize (object);
}

static void
stand_in_class_init (gpointer klass,
                     gpointer data)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  stand_in_parent_class = g_type_class_peek_parent (klass);
  object_class->get_property = stand_in_get_property;
  object_class->set_property = stand_in_set_property;
  object_class->finalize = stand_in_finalize;
  g_object_class_install_property (object_class, BANNER_PROP_TITLE,
                                   g_param_spec_string ("title", NULL, NULL, "", G_PARAM_READWRITE));
  g_object_class_install_property (object_class, BANNER_PROP_BUTTON_LABEL,
                                   g_param_spec_string ("button-label", NULL, NULL, NULL, G_PARAM_READWRITE));
  g_object_class_install_property (object_class, BANNER_PROP_REVEALED,
                                   g_param_spec_boolean ("revealed", NULL, NULL, TRUE, G_PARAM_READWRITE));
  g_signal_new ("button-clicked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static gboolean stand_in_registered;

static void
ensure_adw_banner_type (void)
{
  GModule *self_module = g_module_open (NULL, 0);
  gpointer symbol = NULL;

  if (g_type_from_name ("AdwBanner") == 0 &&
      !(self_module != NULL && g_module_symbol (self_module, "adw_banner_get_type", &symbol)))
    {
      g_type_register_static_simple (GTK_TYPE_WIDGET, "AdwBanner", sizeof (StandInBannerClass),
                                     stand_in_class_init, sizeof (StandInBanner), NULL, 0);
      stand_in_registered = TRUE;
    }
  if (self_module != NULL)
    g_module_close (self_module);
}

/* Helpers -------------------------------------------------------------------------------- */

static GPtrArray *
new_log (void)
{
  return g_ptr_array_new_with_free_func (g_free);
}

static void
assert_log (GPtrArray         *log,
            const char *const *expected)
{
  guint n = g_strv_length ((char **) expected);

  if (log->len != n)
    app_test_print_log ("recorded", log);
  g_assert_cmpuint (log->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (g_ptr_array_index (log, i), ==, expected[i]);
}

static void
assert_accessible_label (GtkWidget  *widget,
                         const char *label)
{
  g_autofree char *mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (widget),
                                                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label);

  if (mismatch != NULL)
    g_test_message ("accessible label is \"%s\", expected \"%s\"", mismatch, label);
  g_assert_null (mismatch);
}

typedef struct
{
  ConfabConnectionManager *manager;
  ConfabStage              stage;
} StageWait;

static gboolean
stage_reached (gpointer user_data)
{
  StageWait *wait = user_data;

  return confab_connection_manager_get_stage (wait->manager) >= wait->stage;
}

static gboolean
reconnecting_for_at_least (gpointer user_data)
{
  ConfabConnectionManager *manager = user_data;

  return confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_RECONNECTING &&
         confab_connection_manager_get_next_retry (manager) > 0;
}

/* Moves a manager on a fake clock through failing rounds until the next one is at least
 * @seconds away, so a countdown has something to count. */
static void
advance_until_retry_is_far (ConfabConnectionManager *manager,
                            ConfabFakeClock         *clock,
                            gint64                   seconds)
{
  for (guint round = 0; round < 20; round++)
    {
      gint64 remaining;

      g_assert_true (core_test_wait_until (reconnecting_for_at_least, manager, APP_TEST_DEADLINE_MS));
      remaining = confab_connection_manager_get_next_retry (manager) - confab_clock_wall (CONFAB_CLOCK (clock));
      if (remaining >= seconds * G_USEC_PER_SEC)
        return;
      /* Let this round start (and fail against the dead port). */
      confab_fake_clock_advance (clock, MAX (remaining, 1));
      g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, APP_TEST_DEADLINE_MS));
    }
  g_assert_not_reached ();
}

/* ConfabConnectionStatus ------------------------------------------------------------------ */

static void
test_status_stages_in_order (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  g_autoptr(ConfabConnectionManager) manager = app_test_manager_new (sandbox->url, token, NULL, NULL, NULL, NULL);
  GtkWidget *status = confab_connection_status_new ();
  GtkWindow *window = app_test_window_new (status);
  g_autoptr(GPtrArray) log = new_log ();
  const char *expected[] = {
    "Looking up the server…", "Connecting…", "Signing in…", "Loading conversations…", "", NULL,
  };

  /* Every stage is shown the moment it starts (no delay), so each one is recorded. */
  confab_connection_status_set_show_delay_ms (CONFAB_CONNECTION_STATUS (status), 0);
  confab_connection_status_set_manager (CONFAB_CONNECTION_STATUS (status), manager);
  app_test_record_string (G_OBJECT (status), "text", log);
  g_assert_cmpstr (confab_connection_status_get_text (CONFAB_CONNECTION_STATUS (status)), ==, "");

  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  assert_log (log, expected);
  assert_accessible_label (status, "");

  confab_connection_manager_disconnect (manager);
  gtk_window_destroy (window);
}

static void
test_status_blip_shows_nothing (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  g_autoptr(ConfabConnectionManager) manager = app_test_manager_new (sandbox->url, token, NULL, NULL, NULL, NULL);
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (G_USEC_PER_SEC);
  GtkWidget *status = confab_connection_status_new ();
  GtkWindow *window = app_test_window_new (status);
  g_autoptr(GPtrArray) log = new_log ();

  /* The show delay runs on a fake clock that this test never advances: a connection that
   * completes before it would show anything shows nothing, and leaves no timer behind. */
  g_assert_cmpuint (confab_connection_status_get_show_delay_ms (CONFAB_CONNECTION_STATUS (status)), ==,
                    CONFAB_CONNECTION_STATUS_DEFAULT_SHOW_DELAY_MS);
  confab_connection_status_set_clock (CONFAB_CONNECTION_STATUS (status), CONFAB_CLOCK (clock));
  confab_connection_status_set_manager (CONFAB_CONNECTION_STATUS (status), manager);
  app_test_record_string (G_OBJECT (status), "text", log);

  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  g_assert_cmpuint (log->len, ==, 0);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);
  confab_fake_clock_advance (clock, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (log->len, ==, 0);

  confab_connection_manager_disconnect (manager);
  g_assert_cmpuint (log->len, ==, 0);
  gtk_window_destroy (window);
}

static void
test_status_stall_shows_after_delay (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CoreTestBlackHole) hole = core_test_black_hole_new (&error);
  g_autofree char *url = NULL;
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(ConfabStaticTokenProvider) provider = NULL;
  g_autofree char *token = NULL;
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (G_USEC_PER_SEC);
  GtkWidget *status = confab_connection_status_new ();
  GtkWindow *window = app_test_window_new (status);
  StageWait stage_wait = { NULL, CONFAB_STAGE_UPGRADING };

  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u", hole->port);
  /* A server that accepts and never answers; no long-poll hedge in this test. */
  token = core_test_sign_jwt ("{\"user_id\":\"alice\"}", "any-secret");
  provider = confab_static_token_provider_new (token);
  manager = g_object_new (CONFAB_TYPE_CONNECTION_MANAGER, "base-url", url, "api-key", APP_TEST_API_KEY,
                          "token-provider", provider, "hedge-ms", NO_HEDGE_MS, NULL);
  confab_connection_status_set_clock (CONFAB_CONNECTION_STATUS (status), CONFAB_CLOCK (clock));
  confab_connection_status_set_manager (CONFAB_CONNECTION_STATUS (status), manager);

  app_test_manager_connect (manager, "alice");
  stage_wait.manager = manager;
  g_assert_true (core_test_wait_until (stage_reached, &stage_wait, APP_TEST_DEADLINE_MS));
  g_assert_cmpstr (confab_connection_status_get_text (CONFAB_CONNECTION_STATUS (status)), ==, "");

  confab_fake_clock_advance (clock, 999 * 1000);
  g_assert_cmpstr (confab_connection_status_get_text (CONFAB_CONNECTION_STATUS (status)), ==, "");
  confab_fake_clock_advance (clock, 1000);
  g_assert_cmpstr (confab_connection_status_get_text (CONFAB_CONNECTION_STATUS (status)), ==, "Connecting…");
  assert_accessible_label (status, "Connecting…");
  g_assert_nonnull (app_test_find_by_text (status, "Connecting…"));

  /* Gone the moment the attempt ends. */
  confab_connection_manager_disconnect (manager);
  g_assert_cmpstr (confab_connection_status_get_text (CONFAB_CONNECTION_STATUS (status)), ==, "");
  gtk_window_destroy (window);
}

static void
test_status_long_poll_fallback (void)
{
  const char *extra[] = { "--no-websocket", NULL };
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (extra);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  g_autoptr(ConfabConnectionManager) manager = app_test_manager_new (sandbox->url, token, NULL, NULL, NULL, NULL);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *status = confab_connection_status_new ();
  GtkWidget *badge = confab_quality_badge_new ();
  GtkWindow *window = NULL;
  g_autoptr(GPtrArray) log = new_log ();
  const char *expected[] = {
    "Looking up the server…", "Connecting…", "Trying another route…", "Signing in…",
    "Loading conversations…", "Using a slower connection (long-polling)", NULL,
  };

  gtk_box_append (GTK_BOX (box), status);
  gtk_box_append (GTK_BOX (box), badge);
  window = app_test_window_new (box);
  confab_connection_status_set_show_delay_ms (CONFAB_CONNECTION_STATUS (status), 0);
  confab_connection_status_set_manager (CONFAB_CONNECTION_STATUS (status), manager);
  confab_quality_badge_set_manager (CONFAB_QUALITY_BADGE (badge), manager);
  app_test_record_string (G_OBJECT (status), "text", log);

  /* The upgrade is refused (HTTP 403): long-poll starts at once, and the user is told. */
  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  g_assert_cmpstr (confab_connection_manager_get_transport (manager), ==, "longpoll");
  assert_log (log, expected);

  /* Long-poll is never better than Good. */
  g_assert_cmpstr (confab_quality_badge_get_label (CONFAB_QUALITY_BADGE (badge)), ==, "Good");
  assert_accessible_label (badge, "Connection quality: Good");
  g_assert_true (gtk_widget_has_css_class (badge, "good"));
  {
    g_autofree char *tooltip = confab_quality_badge_dup_tooltip_text (CONFAB_QUALITY_BADGE (badge));

    g_assert_nonnull (strstr (tooltip, "Transport: long-polling"));
  }

  confab_connection_manager_disconnect (manager);
  g_assert_cmpstr (confab_connection_status_get_text (CONFAB_CONNECTION_STATUS (status)), ==, "");
  gtk_window_destroy (window);
}

/* ConfabQualityBadge ------------------------------------------------------------------------- */

static void
count_notify (guint *counter)
{
  (*counter)++;
}

static void
test_badge_reflects_quality (void)
{
  const char *no_websocket[] = { "--no-websocket", NULL };
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autoptr(AppTestSandbox) slow_sandbox = app_test_sandbox_start (no_websocket);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  g_autofree char *slow_token = app_test_sandbox_token (slow_sandbox, "alice");
  g_autoptr(AppTestDelayProxy) proxy = app_test_delay_proxy_new (slow_sandbox->url, 500);
  g_autoptr(ConfabConnectionManager) manager = app_test_manager_new (sandbox->url, token, NULL, NULL, NULL, NULL);
  g_autoptr(ConfabConnectionManager) slow = NULL;
  GtkWidget *badge = confab_quality_badge_new ();
  GtkWindow *window = app_test_window_new (badge);
  g_autoptr(GPtrArray) log = new_log ();
  g_autofree char *tooltip = NULL;
  const char *endpoint;

  confab_quality_badge_set_manager (CONFAB_QUALITY_BADGE (badge), manager);
  app_test_record_string (G_OBJECT (badge), "label", log);
  g_assert_cmpstr (confab_quality_badge_get_label (CONFAB_QUALITY_BADGE (badge)), ==, "");
  assert_accessible_label (badge, "Connection quality unknown");

  /* Loopback WebSocket: a round trip of a millisecond or so. */
  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  g_assert_cmpint (confab_connection_manager_get_quality (manager), ==, CONFAB_QUALITY_EXCELLENT);
  g_assert_cmpstr (confab_quality_badge_get_label (CONFAB_QUALITY_BADGE (badge)), ==, "Excellent");
  g_assert_nonnull (app_test_find_by_text (badge, "Excellent"));
  g_assert_true (gtk_widget_has_css_class (badge, "excellent"));
  assert_accessible_label (badge, "Connection quality: Excellent");

  /* The tooltip: round trip, transport and the endpoint, which carries no token. It is
   * built when GTK asks for it, never set as a text. */
  g_assert_true (gtk_widget_get_has_tooltip (badge));
  g_assert_null (gtk_widget_get_tooltip_text (badge));
  tooltip = confab_quality_badge_dup_tooltip_text (CONFAB_QUALITY_BADGE (badge));
  endpoint = confab_connection_manager_get_endpoint (manager);
  g_test_message ("tooltip: %s", tooltip);
  g_assert_nonnull (endpoint);
  g_assert_nonnull (strstr (tooltip, "Connection quality: Excellent"));
  g_assert_nonnull (strstr (tooltip, "Round trip: "));
  g_assert_nonnull (strstr (tooltip, "Transport: WebSocket"));
  g_assert_nonnull (strstr (tooltip, endpoint));
  g_assert_null (strstr (tooltip, token));
  g_assert_null (strstr (tooltip, "authorization"));
  g_assert_null (strstr (tooltip, "api_key"));
  {
    g_autofree char *description = g_strdup_printf ("%s", strchr (tooltip, '\n') + 1);
    g_autofree char *mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (badge),
                                                                    GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                                                    description);

    g_assert_null (mismatch);
  }

  /* An RTT sample with the same rating (what the manager notifies after each probe)
   * changes no style class and sets no tooltip: no relayout, no tooltip timer. */
  {
    guint css_changes = 0;
    guint label_changes = 0;
    gulong css_id = g_signal_connect_swapped (badge, "notify::css-classes", G_CALLBACK (count_notify), &css_changes);
    gulong label_id = g_signal_connect_swapped (badge, "notify::label", G_CALLBACK (count_notify), &label_changes);

    for (guint i = 0; i < 3; i++)
      g_object_notify (G_OBJECT (manager), "rtt-ms");
    g_assert_cmpuint (css_changes, ==, 0);
    g_assert_cmpuint (label_changes, ==, 0);
    g_assert_true (gtk_widget_has_css_class (badge, "excellent"));
    g_assert_null (gtk_widget_get_tooltip_text (badge));
    g_signal_handler_disconnect (badge, css_id);
    g_signal_handler_disconnect (badge, label_id);
  }

  /* Nothing to rate once disconnected. */
  confab_connection_manager_disconnect (manager);
  g_assert_cmpstr (confab_quality_badge_get_label (CONFAB_QUALITY_BADGE (badge)), ==, "");
  g_assert_false (gtk_widget_has_css_class (badge, "excellent"));
  g_assert_null (confab_quality_badge_dup_tooltip_text (CONFAB_QUALITY_BADGE (badge)));
  g_assert_false (gtk_widget_get_has_tooltip (badge));
  assert_accessible_label (badge, "Connection quality unknown");

  /* Every request held 500 ms on the way: a slow link is Poor, in red and in words. */
  slow = app_test_manager_new (app_test_delay_proxy_get_url (proxy), slow_token, NULL, NULL, NULL, NULL);
  confab_quality_badge_set_manager (CONFAB_QUALITY_BADGE (badge), slow);
  app_test_manager_connect (slow, "alice");
  g_assert_true (app_test_wait_state (slow, CONFAB_CONNECTION_STATE_CONNECTED, 3 * APP_TEST_DEADLINE_MS));
  g_assert_cmpint (confab_connection_manager_get_rtt_ms (slow), >=, 400);
  g_assert_cmpstr (confab_quality_badge_get_label (CONFAB_QUALITY_BADGE (badge)), ==, "Poor");
  g_assert_true (gtk_widget_has_css_class (badge, "poor"));
  assert_accessible_label (badge, "Connection quality: Poor");

  {
    const char *expected[] = { "Excellent", "", "Poor", NULL };

    assert_log (log, expected);
  }

  confab_connection_manager_disconnect (slow);
  gtk_window_destroy (window);
}

/* ConfabBanner ------------------------------------------------------------------------------- */

static GtkWidget *
banner_button (GtkWidget *banner)
{
  GtkWidget *revealer = app_test_find_widget (banner, GTK_TYPE_REVEALER);

  g_assert_nonnull (revealer);
  return app_test_find_widget (revealer, GTK_TYPE_BUTTON);
}

static void
assert_banner (GtkWidget  *banner,
               GtkWidget  *adw_banner,
               const char *title,
               const char *button_label)
{
  g_assert_true (confab_banner_get_revealed (CONFAB_BANNER (banner)));
  g_assert_cmpstr (confab_banner_get_title (CONFAB_BANNER (banner)), ==, title);
  g_assert_cmpstr (confab_banner_get_button_label (CONFAB_BANNER (banner)), ==, button_label);

  /* What the user sees. */
  if (adw_banner != NULL)
    {
      g_autofree char *shown_title = NULL;
      g_autofree char *shown_button = NULL;
      gboolean revealed = FALSE;

      g_object_get (adw_banner, "title", &shown_title, "button-label", &shown_button, "revealed", &revealed, NULL);
      g_assert_cmpstr (shown_title, ==, title);
      g_assert_cmpstr (shown_button, ==, button_label);
      g_assert_true (revealed);
    }
  else
    {
      GtkWidget *revealer = app_test_find_widget (banner, GTK_TYPE_REVEALER);

      g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (revealer)));
      g_assert_nonnull (app_test_find_by_text (banner, title));
      g_assert_true (gtk_widget_get_visible (banner_button (banner)));
      g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (banner_button (banner))), ==, button_label);
    }
}

static void
assert_hidden (GtkWidget *banner,
               GtkWidget *adw_banner)
{
  g_assert_false (confab_banner_get_revealed (CONFAB_BANNER (banner)));
  if (adw_banner != NULL)
    {
      gboolean revealed = TRUE;

      g_object_get (adw_banner, "revealed", &revealed, NULL);
      g_assert_false (revealed);
    }
  else
    g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (app_test_find_widget (banner, GTK_TYPE_REVEALER))));
}

static void
press_button (GtkWidget *banner,
              GtkWidget *adw_banner)
{
  if (adw_banner != NULL)
    g_signal_emit_by_name (adw_banner, "button-clicked");
  else
    g_signal_emit_by_name (banner_button (banner), "clicked");
}

static void
countdown_and_retry_now (gboolean use_adw_banner)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (G_USEC_PER_SEC);
  g_autoptr(ConfabConnectionManager) manager = NULL;
  GtkWidget *banner = g_object_new (CONFAB_TYPE_BANNER, "use-adw-banner", use_adw_banner, NULL);
  GtkWindow *window = app_test_window_new (banner);
  GtkWidget *adw_banner = NULL;
  g_autoptr(GPtrArray) titles = new_log ();
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  guint pending;
  gint64 remaining;
  int seconds;

  /* Everything the manager schedules (retries, backoff) runs on the fake clock, and the
   * banner counts down on the manager's clock: only this test moves time. */
  confab_fake_clock_set_wall (clock, g_get_real_time ());
  manager = app_test_manager_new (sandbox->url, token, NULL, CONFAB_CLOCK (clock), NULL, NULL);
  confab_banner_set_manager (CONFAB_BANNER (banner), manager);
  app_test_record_string (G_OBJECT (banner), "title", titles);
  g_assert_cmpint (confab_banner_get_uses_adw_banner (CONFAB_BANNER (banner)), ==, use_adw_banner);
  if (use_adw_banner)
    {
      adw_banner = app_test_find_widget (banner, g_type_from_name ("AdwBanner"));
      g_assert_nonnull (adw_banner);
    }

  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  g_assert_false (confab_banner_get_revealed (CONFAB_BANNER (banner)));

  /* The server dies: the banner says when the next attempt is and offers to try now. */
  app_test_sandbox_kill (sandbox);
  g_assert_true (core_test_wait_until (reconnecting_for_at_least, manager, APP_TEST_DEADLINE_MS));
  assert_banner (banner, adw_banner, "Reconnecting in 1 s…", "Retry now");
  assert_accessible_label (banner, "Connection lost. Reconnecting automatically.");

  /* Back on the same port with the same data. Time stands still on the fake clock, so
   * the scheduled retry never comes: only "Retry now" can reconnect, and it does at once. */
  app_test_sandbox_restart (sandbox);
  press_button (banner, adw_banner);
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  assert_hidden (banner, adw_banner);

  /* Down again, for long enough that the next round is seconds away. */
  app_test_sandbox_kill (sandbox);
  advance_until_retry_is_far (manager, clock, 2);
  remaining = confab_connection_manager_get_next_retry (manager) - confab_clock_wall (CONFAB_CLOCK (clock));
  seconds = (int) ((remaining + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  first = g_strdup_printf ("Reconnecting in %d s…", seconds);
  assert_banner (banner, adw_banner, first, "Retry now");

  /* A live countdown: one second later, one less. */
  confab_fake_clock_advance (clock, G_USEC_PER_SEC);
  second = g_strdup_printf ("Reconnecting in %d s…", seconds - 1);
  assert_banner (banner, adw_banner, second, "Retry now");
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_RECONNECTING);

  /* The 1 s tick exists only while the countdown can be seen. */
  pending = confab_fake_clock_get_n_pending (clock);
  gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, pending - 1);
  gtk_window_present (window);
  g_assert_true (core_test_wait_until ((CoreTestCondition) gtk_widget_get_mapped, banner, APP_TEST_DEADLINE_MS));
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, pending);

  /* When the countdown ends the attempt is made, and succeeds. */
  app_test_sandbox_restart (sandbox);
  remaining = confab_connection_manager_get_next_retry (manager) - confab_clock_wall (CONFAB_CLOCK (clock));
  confab_fake_clock_advance (clock, remaining);
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  assert_hidden (banner, adw_banner);
  app_test_print_log ("banner titles", titles);

  confab_connection_manager_disconnect (manager);
  gtk_window_destroy (window);
}

static void
test_banner_countdown_fallback (void)
{
  countdown_and_retry_now (FALSE);
}

static void
test_banner_countdown_adw_banner (void)
{
  if (stand_in_registered)
    g_test_message ("libadwaita has no AdwBanner: testing the run-time path with a stand-in");
  countdown_and_retry_now (TRUE);
}

static void
test_banner_fallback_forced_by_env (void)
{
  GtkWidget *banner;

  g_setenv (CONFAB_BANNER_FALLBACK_ENV, "1", TRUE);
  banner = g_object_ref_sink (confab_banner_new ());
  g_assert_false (confab_banner_get_uses_adw_banner (CONFAB_BANNER (banner)));
  g_unsetenv (CONFAB_BANNER_FALLBACK_ENV);
  g_object_unref (banner);

  banner = g_object_ref_sink (confab_banner_new ());
  g_assert_true (confab_banner_get_uses_adw_banner (CONFAB_BANNER (banner)));
  g_object_unref (banner);
}

static void
test_banner_offline (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  g_autoptr(AppTestMonitor) monitor = app_test_monitor_new ();
  g_autoptr(ConfabConnectionManager) manager = app_test_manager_new (sandbox->url, token, monitor, NULL, NULL, NULL);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *banner = g_object_new (CONFAB_TYPE_BANNER, "use-adw-banner", FALSE, NULL);
  GtkWidget *status = confab_connection_status_new ();
  GtkWindow *window = NULL;

  gtk_box_append (GTK_BOX (box), banner);
  gtk_box_append (GTK_BOX (box), status);
  window = app_test_window_new (box);
  confab_connection_status_set_show_delay_ms (CONFAB_CONNECTION_STATUS (status), 0);
  confab_connection_status_set_manager (CONFAB_CONNECTION_STATUS (status), manager);
  confab_banner_set_manager (CONFAB_BANNER (banner), manager);

  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));

  app_test_monitor_set_available (monitor, FALSE);
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK);
  g_assert_true (confab_banner_get_revealed (CONFAB_BANNER (banner)));
  g_assert_cmpstr (confab_banner_get_title (CONFAB_BANNER (banner)), ==,
                   "Offline — messages will be sent when you’re back online");
  g_assert_cmpstr (confab_banner_get_button_label (CONFAB_BANNER (banner)), ==, "");
  g_assert_false (gtk_widget_get_visible (banner_button (banner)));
  assert_accessible_label (banner, "Offline — messages will be sent when you’re back online");
  g_assert_cmpstr (confab_connection_status_get_text (CONFAB_CONNECTION_STATUS (status)), ==, "Waiting for network…");

  app_test_monitor_set_available (monitor, TRUE);
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  g_assert_false (confab_banner_get_revealed (CONFAB_BANNER (banner)));
  g_assert_cmpstr (confab_connection_status_get_text (CONFAB_CONNECTION_STATUS (status)), ==, "");

  confab_connection_manager_disconnect (manager);
  gtk_window_destroy (window);
}

/* "Limited connection: …" names what is unavailable. The core does not enter LIMITED yet
 * (SSE limited mode comes with the gateway); whoever knows sets the features, and the
 * banner renders them over a working connection. */
static void
test_banner_limited (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  g_autoptr(ConfabConnectionManager) manager = app_test_manager_new (sandbox->url, token, NULL, NULL, NULL, NULL);
  GtkWidget *banner = g_object_new (CONFAB_TYPE_BANNER, "use-adw-banner", FALSE, NULL);
  GtkWindow *window = app_test_window_new (banner);
  const char *expected = "Limited connection: new messages may arrive late, no typing indicators, no read receipts";

  confab_banner_set_manager (CONFAB_BANNER (banner), manager);
  /* Set before there is a connection: nothing to say while idle. */
  confab_banner_set_unavailable (CONFAB_BANNER (banner), CONFAB_UNAVAILABLE_TYPING | CONFAB_UNAVAILABLE_READ_RECEIPTS |
                                                           CONFAB_UNAVAILABLE_LIVE_UPDATES);
  g_assert_cmpint (confab_banner_get_unavailable (CONFAB_BANNER (banner)), ==,
                   CONFAB_UNAVAILABLE_TYPING | CONFAB_UNAVAILABLE_READ_RECEIPTS | CONFAB_UNAVAILABLE_LIVE_UPDATES);
  g_assert_false (confab_banner_get_revealed (CONFAB_BANNER (banner)));

  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  g_assert_true (confab_banner_get_revealed (CONFAB_BANNER (banner)));
  g_assert_cmpstr (confab_banner_get_title (CONFAB_BANNER (banner)), ==, expected);
  g_assert_cmpstr (confab_banner_get_button_label (CONFAB_BANNER (banner)), ==, "");
  g_assert_nonnull (app_test_find_by_text (banner, expected));
  g_assert_false (gtk_widget_get_visible (banner_button (banner)));
  assert_accessible_label (banner, expected);

  /* One feature. */
  confab_banner_set_unavailable (CONFAB_BANNER (banner), CONFAB_UNAVAILABLE_PRESENCE);
  g_assert_cmpstr (confab_banner_get_title (CONFAB_BANNER (banner)), ==, "Limited connection: no presence");

  /* Everything works again. */
  confab_banner_set_unavailable (CONFAB_BANNER (banner), CONFAB_UNAVAILABLE_NONE);
  g_assert_false (confab_banner_get_revealed (CONFAB_BANNER (banner)));

  confab_connection_manager_disconnect (manager);
  gtk_window_destroy (window);
}

static void
on_sign_in_requested (ConfabBanner *banner,
                      guint        *count)
{
  (*count)++;
}

static void
test_banner_signed_out (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *forged = core_test_sign_jwt ("{\"user_id\":\"alice\"}", "not-the-secret");
  g_autoptr(ConfabConnectionManager) manager = app_test_manager_new (sandbox->url, forged, NULL, NULL, NULL, NULL);
  GtkWidget *banner = g_object_new (CONFAB_TYPE_BANNER, "use-adw-banner", FALSE, NULL);
  GtkWindow *window = app_test_window_new (banner);
  const GError *error;
  guint requested = 0;

  confab_banner_set_manager (CONFAB_BANNER (banner), manager);
  g_signal_connect (banner, "sign-in-requested", G_CALLBACK (on_sign_in_requested), &requested);

  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_FAILED, APP_TEST_DEADLINE_MS));
  error = confab_connection_manager_get_last_error (manager);
  g_assert_nonnull (error);
  g_test_message ("refused with %s %d", g_quark_to_string (error->domain), error->code);

  /* Decided by the error's domain and code, not its text. */
  g_assert_true (confab_banner_get_revealed (CONFAB_BANNER (banner)));
  g_assert_cmpstr (confab_banner_get_title (CONFAB_BANNER (banner)), ==, "Signed out");
  g_assert_cmpstr (confab_banner_get_button_label (CONFAB_BANNER (banner)), ==, "Sign in");
  assert_accessible_label (banner, "Signed out. Sign in again to keep chatting.");
  g_signal_emit_by_name (banner_button (banner), "clicked");
  g_assert_cmpuint (requested, ==, 1);
  /* Signing in is the app's business: the manager was not asked to retry. */
  g_assert_cmpint (confab_connection_manager_get_state (manager), ==, CONFAB_CONNECTION_STATE_FAILED);

  gtk_window_destroy (window);
}

/* ConfabConnectionDetailsDialog ---------------------------------------------------------- */

static guint
count_rows (GtkWidget *list)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (list); child != NULL; child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_LIST_BOX_ROW (child))
      n++;
  return n;
}

typedef struct
{
  GtkWidget *list;
  guint      at_least;
} RowsWait;

static gboolean
rows_at_least (gpointer user_data)
{
  RowsWait *wait = user_data;

  return count_rows (wait->list) >= wait->at_least;
}

static void
test_details_live_and_copy (void)
{
  g_autoptr(AppTestSandbox) sandbox = app_test_sandbox_start (NULL);
  g_autofree char *token = app_test_sandbox_token (sandbox, "alice");
  g_autoptr(ConfabConnectionManager) manager = app_test_manager_new (sandbox->url, token, NULL, NULL, NULL, NULL);
  GtkWidget *dialog = NULL;
  GtkWidget *list = NULL;
  GtkWidget *row = NULL;
  GtkWidget *copy = NULL;
  g_autofree char *report = NULL;
  RowsWait rows = { 0 };

  app_test_manager_connect (manager, "alice");
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));

  dialog = confab_connection_details_dialog_new (manager);
  gtk_window_present (GTK_WINDOW (dialog));
  g_assert_true (core_test_wait_until ((CoreTestCondition) gtk_widget_get_mapped, dialog, APP_TEST_DEADLINE_MS));

  /* One attempt so far: its transport, endpoint and stage durations. */
  row = app_test_find_widget (dialog, ADW_TYPE_EXPANDER_ROW);
  g_assert_nonnull (row);
  list = gtk_widget_get_ancestor (row, GTK_TYPE_LIST_BOX);
  g_assert_nonnull (list);
  g_assert_cmpuint (count_rows (list), ==, 1);
  g_test_message ("attempt row: %s / %s", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                  adw_expander_row_get_subtitle (ADW_EXPANDER_ROW (row)));
  g_assert_true (g_str_has_prefix (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), "WebSocket · ws://127.0.0.1:"));
  g_assert_nonnull (strstr (adw_expander_row_get_subtitle (ADW_EXPANDER_ROW (row)), "connected in"));
  g_assert_nonnull (app_test_find_by_text (dialog, "Connected"));
  g_assert_nonnull (app_test_find_by_text (dialog, "Excellent"));

  /* Live: the server dies, and the failed attempts appear while the window is open. */
  app_test_sandbox_kill (sandbox);
  rows.list = list;
  rows.at_least = 2;
  g_assert_true (core_test_wait_until (rows_at_least, &rows, APP_TEST_DEADLINE_MS));
  g_assert_true (app_test_wait_state (manager, CONFAB_CONNECTION_STATE_RECONNECTING, APP_TEST_DEADLINE_MS));
  g_assert_nonnull (app_test_find_by_text (dialog, "Waiting to reconnect"));

  /* Copy Report: what lands on the clipboard is the anonymised report. */
  copy = app_test_find_by_text (dialog, "Copy Report");
  g_assert_nonnull (copy);
  g_signal_emit_by_name (copy, "clicked");
  report = app_test_read_clipboard (gtk_widget_get_clipboard (dialog));
  g_assert_nonnull (report);
  g_assert_true (g_str_has_prefix (report, "Confab diagnostics report"));
  g_assert_nonnull (strstr (report, "== Circuit breakers (now) =="));
  g_assert_nonnull (strstr (report, "== Connection quality =="));
  g_assert_null (strstr (report, "alice"));
  g_assert_null (strstr (report, "Alice"));
  g_assert_null (strstr (report, token));
  g_assert_null (strstr (report, "eyJ"));

  confab_connection_manager_disconnect (manager);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

int
main (int   argc,
      char *argv[])
{
  app_test_init (&argc, &argv);
  ensure_adw_banner_type ();

  g_test_add_func ("/confab/widgets/status/stages-in-order", test_status_stages_in_order);
  g_test_add_func ("/confab/widgets/status/blip-shows-nothing", test_status_blip_shows_nothing);
  g_test_add_func ("/confab/widgets/status/stall-shows-after-delay", test_status_stall_shows_after_delay);
  g_test_add_func ("/confab/widgets/status/long-poll-fallback", test_status_long_poll_fallback);
  g_test_add_func ("/confab/widgets/badge/reflects-quality", test_badge_reflects_quality);
  g_test_add_func ("/confab/widgets/banner/countdown-and-retry-now/fallback", test_banner_countdown_fallback);
  g_test_add_func ("/confab/widgets/banner/countdown-and-retry-now/adw-banner", test_banner_countdown_adw_banner);
  g_test_add_func ("/confab/widgets/banner/fallback-forced-by-env", test_banner_fallback_forced_by_env);
  g_test_add_func ("/confab/widgets/banner/offline", test_banner_offline);
  g_test_add_func ("/confab/widgets/banner/signed-out", test_banner_signed_out);
  g_test_add_func ("/confab/widgets/banner/limited-names-what-is-unavailable", test_banner_limited);
  g_test_add_func ("/confab/widgets/details/live-and-copy", test_details_live_and_copy);

  return g_test_run ();
}
