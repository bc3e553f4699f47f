/* confab-application.c: the desktop app: accounts, sessions, menu actions, notifications
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <signal.h>

#include "confab-account-token-provider.h"
#include "confab-application.h"
#include "confab-demo-sign-in.h"
#include "confab-error.h"
#include "confab-preferences-window.h"
#include "confab-resources.h"
#include "confab-text.h"
#include "confab-url-token-provider.h"
#include "confab-widgets.h"
#include "confab-window.h"

#define RESOURCE_BASE_PATH  "/io/github/confab_chat/Confab"
#define APP_ICON_NAME       "io.github.confab_chat.Confab"
/* A notification shows the start of a message. */
#define NOTIFICATION_CHARS  200

struct _ConfabApplication
{
  AdwApplication     parent_instance;

  GSettings         *settings;
  ConfabSecretStore *secrets;
  ConfabAccount     *command_line_account;
  ConfabAccount     *account;           /* signed in, or signing in */
  ConfabSession     *session;
  GCancellable      *sign_in_cancellable;
  ConfabWindow      *window;            /* weak */
  gboolean           started;
  gboolean           keyring_warned;
  gboolean           auth_retried;      /* a refused stored token was replaced once */
  guint              sigint_id;
  guint              sigterm_id;
};

G_DEFINE_FINAL_TYPE (ConfabApplication, confab_application, ADW_TYPE_APPLICATION)

static void open_session       (ConfabApplication *self,
                                const char        *token);
static void start_demo_sign_in (ConfabApplication *self);

/* Settings ------------------------------------------------------------------------------ */

/* The schema installed with the app, else the one compiled in the build directory, so
 * an uninstalled build runs without GSETTINGS_SCHEMA_DIR. */
static GSettings *
make_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchemaSource) build_source = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema == NULL && g_file_test (CONFAB_BUILD_SCHEMA_DIR, G_FILE_TEST_IS_DIR))
    {
      build_source = g_settings_schema_source_new_from_directory (CONFAB_BUILD_SCHEMA_DIR, source,
                                                                  FALSE, NULL);
      if (build_source != NULL)
        schema = g_settings_schema_source_lookup (build_source, APP_ID, FALSE);
    }
  if (schema == NULL)
    return NULL;
  return g_settings_new_full (schema, NULL, NULL);
}

static char *
dup_diagnostics_salt (ConfabApplication *self)
{
  g_autofree char *salt = g_settings_get_string (self->settings, "diagnostics-salt");

  if (*salt == '\0')
    {
      g_free (salt);
      salt = g_uuid_string_random ();
      g_settings_set_string (self->settings, "diagnostics-salt", salt);
    }
  return g_steal_pointer (&salt);
}

/* Helpers ------------------------------------------------------------------------------- */

static void
toast (ConfabApplication *self,
       const char        *text)
{
  if (self->window != NULL)
    confab_window_add_toast (self->window, text);
  else
    g_message ("%s", text);
}

static void
set_action_enabled (ConfabApplication *self,
                    const char        *name,
                    gboolean           enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

static void
update_actions (ConfabApplication *self)
{
  gboolean demo = self->account != NULL &&
                  confab_account_get_kind (self->account) == CONFAB_ACCOUNT_KIND_DEMO &&
                  confab_account_get_api_key (self->account) != NULL;

  set_action_enabled (self, "copy-diagnostics", self->session != NULL);
  set_action_enabled (self, "connection-details", self->session != NULL);
  set_action_enabled (self, "retry-now", self->session != NULL);
  set_action_enabled (self, "open-another-user", demo);
  set_action_enabled (self, "sign-out", self->account != NULL);
}

static char *
notification_id (const char *cid)
{
  return g_strconcat ("channel-", cid, NULL);
}

/* Notifications ------------------------------------------------------------------------ */

static void
on_message_added (ConfabChatStore   *store,
                  ConfabChannel     *channel,
                  ConfabMessage     *message,
                  ConfabApplication *self)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *body = NULL;
  g_autofree char *title = NULL;
  g_autofree char *id = NULL;
  g_autofree char *sender = NULL;
  g_autofree char *channel_name = NULL;
  const char *cid = confab_channel_get_cid (channel);

  /* Cheapest first: this runs for every message, a settings lookup is not free. */
  if (self->window != NULL && gtk_window_is_active (GTK_WINDOW (self->window)))
    return;
  if (cid == NULL || confab_message_get_is_own (message))
    return;
  if (!g_settings_get_boolean (self->settings, "notifications"))
    return;

  sender = confab_text_for_single_line (confab_message_get_user_name (message), 80);
  channel_name = confab_text_for_single_line (confab_channel_get_name (channel), 80);
  if (confab_channel_get_member_count (channel) > 2 && *channel_name != '\0')
    /* Translators: a notification's title: "Bob in Design review". */
    title = g_strdup_printf (_("%s in %s"), sender, channel_name);
  else
    title = g_strdup (sender);
  body = confab_text_for_single_line (confab_message_get_text (message), NOTIFICATION_CHARS);

  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  g_notification_set_default_action_and_target (notification, "app.open-channel", "s", cid);
  /* One notification per channel: a newer message replaces the older one. */
  id = notification_id (cid);
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

static void
withdraw_channel_notification (ConfabApplication *self)
{
  ConfabChannel *channel;
  g_autofree char *id = NULL;

  if (self->window == NULL || !gtk_window_is_active (GTK_WINDOW (self->window)))
    return;
  channel = confab_window_get_channel (self->window);
  if (channel == NULL || confab_channel_get_cid (channel) == NULL)
    return;
  id = notification_id (confab_channel_get_cid (channel));
  g_application_withdraw_notification (G_APPLICATION (self), id);
}

/* Sessions ----------------------------------------------------------------------------- */

static void
on_keyring_available (ConfabSecretStore *secrets,
                      GParamSpec        *pspec,
                      ConfabApplication *self)
{
  if (confab_secret_store_get_available (secrets) || self->keyring_warned)
    return;
  self->keyring_warned = TRUE;
  toast (self, _("No keyring is available: you stay signed in only until Confab quits"));
}

static void
on_manager_state (ConfabConnectionManager *manager,
                  GParamSpec              *pspec,
                  ConfabApplication       *self)
{
  ConfabConnectionState state = confab_connection_manager_get_state (manager);
  const GError *error = confab_connection_manager_get_last_error (manager);

  if (state == CONFAB_CONNECTION_STATE_CONNECTED)
    {
      self->auth_retried = FALSE;
      return;
    }
  /* A demo token kept from an earlier sandbox run is refused once that sandbox is gone
   * (each run signs with a new secret): ask the running one for a fresh token, once. */
  if (state == CONFAB_CONNECTION_STATE_FAILED && error != NULL &&
      confab_error_classify (error) == CONFAB_ERROR_AUTH &&
      self->account != NULL && confab_account_get_kind (self->account) == CONFAB_ACCOUNT_KIND_DEMO &&
      !self->auth_retried)
    {
      self->auth_retried = TRUE;
      g_debug ("the stored demo token was refused; signing in again");
      start_demo_sign_in (self);
    }
}

static void
on_window_channel (ConfabWindow      *window,
                   GParamSpec        *pspec,
                   ConfabApplication *self)
{
  ConfabChannel *channel = confab_window_get_channel (window);

  if (channel != NULL && confab_channel_get_cid (channel) != NULL)
    g_settings_set_string (self->settings, "last-channel", confab_channel_get_cid (channel));
  withdraw_channel_notification (self);
}

static void
on_window_active (GtkWindow         *window,
                  GParamSpec        *pspec,
                  ConfabApplication *self)
{
  withdraw_channel_notification (self);
}

static void
end_session (ConfabApplication *self)
{
  g_cancellable_cancel (self->sign_in_cancellable);
  g_clear_object (&self->sign_in_cancellable);

  if (self->session == NULL)
    return;
  g_signal_handlers_disconnect_by_data (confab_session_get_store (self->session), self);
  g_signal_handlers_disconnect_by_data (confab_session_get_manager (self->session), self);
  confab_session_stop (self->session);
  {
    g_autoptr(GError) error = NULL;

    /* What the last seconds brought is on disk for the next start. */
    if (!confab_chat_store_flush_cache (confab_session_get_store (self->session), &error))
      g_debug ("the cache was not written: %s", error->message);
  }
  if (self->window != NULL)
    confab_window_set_session (self->window, NULL, NULL);
  g_clear_object (&self->session);
}

static ConfabTokenProvider *
make_token_provider (ConfabApplication *self,
                     ConfabAccount     *account)
{
  g_autoptr(ConfabTokenProvider) refresh = NULL;

  if (confab_account_get_kind (account) == CONFAB_ACCOUNT_KIND_DEMO)
    {
      g_autofree char *url = confab_account_dup_demo_token_url (account);
      g_autofree char *body = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "user_id");
      json_builder_add_string_value (builder, confab_account_get_user_id (account));
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      json_generator_set_root (generator, root);
      body = json_generator_to_data (generator, NULL);

      refresh = g_initable_new (CONFAB_TYPE_URL_TOKEN_PROVIDER, NULL, &error,
                                "url", url,
                                "method", "POST",
                                "request-body", body,
                                NULL);
      if (refresh == NULL)
        g_message ("no token refresh for this account: %s", error->message);
    }
  return CONFAB_TOKEN_PROVIDER (confab_account_token_provider_new (account, self->secrets, refresh));
}

static void
add_toolkit_facts (ConfabDiagnostics *diagnostics)
{
  g_autofree char *gtk = g_strdup_printf ("%u.%u.%u", gtk_get_major_version (),
                                          gtk_get_minor_version (), gtk_get_micro_version ());
  g_autofree char *adw = g_strdup_printf ("%u.%u.%u", adw_get_major_version (),
                                          adw_get_minor_version (), adw_get_micro_version ());

  confab_diagnostics_set_fact (diagnostics, "gtk", gtk);
  confab_diagnostics_set_fact (diagnostics, "libadwaita", adw);
}

static void
open_session (ConfabApplication *self,
              const char        *token)
{
  g_autoptr(ConfabTokenProvider) provider = NULL;
  g_autoptr(ConfabSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *salt = NULL;
  g_autofree char *last_channel = NULL;

  g_assert (self->account != NULL);
  g_assert (self->session == NULL);

  provider = make_token_provider (self, self->account);
  if (token != NULL)
    confab_account_token_provider_set_token (CONFAB_ACCOUNT_TOKEN_PROVIDER (provider), token);

  salt = dup_diagnostics_salt (self);
  session = confab_session_new (self->account, provider, NULL, salt, &error);
  if (session == NULL)
    {
      if (self->window != NULL)
        confab_window_set_status (self->window, CONFAB_WINDOW_STATUS_SIGN_IN_FAILED, error->message);
      update_actions (self);
      return;
    }

  if (!confab_session_load_cache (session, &error) || error != NULL)
    {
      if (g_error_matches (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT))
        toast (self, _("The saved conversations could not be read; they were set aside and will be loaded again"));
      else if (error != NULL)
        {
          g_autofree char *text = g_strdup_printf (_("Could not open the saved conversations: %s"),
                                                   error->message);
          toast (self, text);
        }
      g_clear_error (&error);
    }

  self->session = g_steal_pointer (&session);
  self->auth_retried = FALSE;
  add_toolkit_facts (confab_connection_manager_get_diagnostics (confab_session_get_manager (self->session)));
  g_signal_connect (confab_session_get_store (self->session), "message-added",
                    G_CALLBACK (on_message_added), self);
  g_signal_connect (confab_session_get_manager (self->session), "notify::state",
                    G_CALLBACK (on_manager_state), self);

  if (self->window != NULL)
    {
      confab_window_set_session (self->window,
                                 confab_session_get_manager (self->session),
                                 confab_session_get_store (self->session));
      last_channel = g_settings_get_string (self->settings, "last-channel");
      if (*last_channel != '\0')
        confab_window_open_channel (self->window, last_channel);
    }

  confab_session_start (self->session);
  update_actions (self);
}

static void
on_demo_signed_in (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ConfabApplication *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *api_key = NULL;
  g_autofree char *token = NULL;

  if (!confab_demo_sign_in_finish (result, &api_key, &token, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          if (self->session != NULL)
            {
              g_autofree char *text = g_strdup_printf (_("Could not sign in: %s"), error->message);

              toast (self, text);
            }
          else if (self->window != NULL)
            confab_window_set_status (self->window, CONFAB_WINDOW_STATUS_SIGN_IN_FAILED, error->message);
        }
      g_application_release (G_APPLICATION (self));
      return;
    }

  if (self->account != NULL)
    {
      /* The manager's API key is fixed: a new one needs a new session. */
      gboolean same_key = self->session != NULL &&
                          g_strcmp0 (api_key, confab_account_get_api_key (self->account)) == 0;

      confab_account_set_api_key (self->account, api_key);
      confab_account_save_to_settings (self->account, self->settings);
      if (same_key)
        {
          ConfabTokenProvider *provider = confab_session_get_token_provider (self->session);

          confab_account_token_provider_set_token (CONFAB_ACCOUNT_TOKEN_PROVIDER (provider), token);
          confab_session_stop (self->session);
          confab_session_start (self->session);
        }
      else
        {
          end_session (self);
          open_session (self, token);
        }
    }
  g_application_release (G_APPLICATION (self));
}

static void
start_demo_sign_in (ConfabApplication *self)
{
  g_return_if_fail (self->account != NULL);

  if (self->sign_in_cancellable != NULL)
    g_cancellable_cancel (self->sign_in_cancellable);
  g_clear_object (&self->sign_in_cancellable);
  self->sign_in_cancellable = g_cancellable_new ();

  if (self->session == NULL && self->window != NULL)
    confab_window_set_status (self->window, CONFAB_WINDOW_STATUS_SIGNING_IN, NULL);
  g_application_hold (G_APPLICATION (self));
  confab_demo_sign_in_async (confab_account_get_base_url (self->account),
                             confab_account_get_user_id (self->account),
                             self->sign_in_cancellable, on_demo_signed_in, self);
}

/* Starts @account: at once from its cache when its API key is known, else after asking
 * the demo sandbox for one. */
static void
begin_account (ConfabApplication *self,
               ConfabAccount     *account,
               const char        *token)
{
  end_session (self);
  g_set_object (&self->account, account);
  update_actions (self);

  if (confab_account_get_api_key (account) == NULL)
    {
      if (confab_account_get_kind (account) == CONFAB_ACCOUNT_KIND_DEMO)
        start_demo_sign_in (self);
      else if (self->window != NULL)
        confab_window_set_status (self->window, CONFAB_WINDOW_STATUS_SIGN_IN_FAILED,
                                  _("The account has no API key; enter it in Preferences"));
      return;
    }
  open_session (self, token);
}

void
confab_application_sign_in (ConfabApplication *self,
                            ConfabAccount     *account,
                            const char        *token)
{
  g_return_if_fail (CONFAB_IS_APPLICATION (self));
  g_return_if_fail (CONFAB_IS_ACCOUNT (account));

  confab_account_save_to_settings (account, self->settings);
  if (self->account == NULL || !confab_account_equal (self->account, account))
    g_settings_set_string (self->settings, "last-channel", "");
  begin_account (self, account, token);
}

static void
on_token_cleared (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!confab_secret_store_clear_finish (CONFAB_SECRET_STORE (source), result, &error))
    g_debug ("could not remove the token from the keyring: %s", error->message);
}

/* Removes @file and, for a directory, everything in it; symbolic links are removed, not
 * followed. */
static gboolean
remove_tree (GFile   *file,
             GError **error)
{
  g_autoptr(GFileEnumerator) children = NULL;
  GFileType type;

  /* Only a real directory is entered: a symbolic link (to a directory or anywhere else)
   * is removed itself, never followed, so nothing outside the account's folder goes. */
  type = g_file_query_file_type (file, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL);
  if (type == G_FILE_TYPE_UNKNOWN)
    return TRUE;   /* already gone */
  if (type == G_FILE_TYPE_DIRECTORY)
    {
      children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                            G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, error);
      if (children == NULL)
        return FALSE;
      for (;;)
        {
          GFileInfo *info = NULL;
          GFile *child = NULL;

          if (!g_file_enumerator_iterate (children, &info, &child, NULL, error))
            return FALSE;
          if (info == NULL)
            break;
          if (!remove_tree (child, error))
            return FALSE;
        }
    }
  return g_file_delete (file, NULL, error);
}

void
confab_application_sign_out (ConfabApplication *self)
{
  g_autofree char *state_dir = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (CONFAB_IS_APPLICATION (self));

  if (self->account != NULL)
    state_dir = confab_account_dup_state_dir (self->account);
  /* The session lets go of the state directory (its lock, the cache, the outbox). */
  end_session (self);
  if (self->account != NULL)
    confab_secret_store_clear_async (self->secrets,
                                     confab_account_get_base_url (self->account),
                                     confab_account_get_user_id (self->account),
                                     NULL, on_token_cleared, NULL);
  /* What this account left on this computer: its saved conversations, its unsent
   * messages (the user was asked), the catch-up watermark. */
  if (state_dir != NULL)
    {
      g_autoptr(GFile) dir = g_file_new_for_path (state_dir);

      if (!remove_tree (dir, &error))
        g_message ("the account's saved data was not all removed: %s", error->message);
    }
  g_clear_object (&self->account);
  confab_account_clear_settings (self->settings);
  if (self->window != NULL)
    confab_window_set_status (self->window, CONFAB_WINDOW_STATUS_SIGNED_OUT, NULL);
  update_actions (self);
}

guint
confab_application_get_n_unsent (ConfabApplication *self)
{
  ConfabOutbox *outbox;

  g_return_val_if_fail (CONFAB_IS_APPLICATION (self), 0);

  if (self->session == NULL)
    return 0;
  outbox = confab_session_get_outbox (self->session);
  return confab_outbox_get_n_pending (outbox) + confab_outbox_get_n_failed (outbox);
}

static void
on_sign_out_response (AdwMessageDialog  *dialog,
                      const char        *response,
                      ConfabApplication *self)
{
  if (g_str_equal (response, "sign-out"))
    confab_application_sign_out (self);
}

void
confab_application_confirm_sign_out (ConfabApplication *self,
                                     GtkWindow         *parent)
{
  g_autofree char *body = NULL;
  GtkWidget *dialog;
  guint n_unsent;

  g_return_if_fail (CONFAB_IS_APPLICATION (self));
  g_return_if_fail (parent == NULL || GTK_IS_WINDOW (parent));

  n_unsent = confab_application_get_n_unsent (self);
  if (n_unsent == 0)
    {
      confab_application_sign_out (self);
      return;
    }

  body = g_strdup_printf (ngettext ("%u message has not been sent yet. Signing out deletes it, and the conversations saved on this computer.",
                                    "%u messages have not been sent yet. Signing out deletes them, and the conversations saved on this computer.",
                                    n_unsent),
                          n_unsent);
  dialog = adw_message_dialog_new (parent != NULL ? parent : confab_application_get_main_window (self),
                                   _("Sign Out?"), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "sign-out", _("_Sign Out"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "sign-out",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_sign_out_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
start_first_account (ConfabApplication *self)
{
  g_autoptr(ConfabAccount) account = NULL;

  if (self->command_line_account != NULL)
    {
      g_autoptr(ConfabAccount) saved = confab_account_new_from_settings (self->settings);
      g_autofree char *saved_url = g_settings_get_string (self->settings, "base-url");
      g_autofree char *saved_key = g_settings_get_string (self->settings, "api-key");

      account = g_object_ref (self->command_line_account);
      /* The API key belongs to the server: keep the one learnt there before, so the
       * cache opens at once, even with the server down. */
      if (g_strcmp0 (saved_url, confab_account_get_base_url (account)) == 0 && *saved_key != '\0')
        confab_account_set_api_key (account, saved_key);
      if (saved == NULL || !confab_account_equal (saved, account))
        g_settings_set_string (self->settings, "last-channel", "");
      confab_account_save_to_settings (account, self->settings);
    }
  else
    account = confab_account_new_from_settings (self->settings);

  if (account == NULL)
    {
      if (self->window != NULL)
        confab_window_set_status (self->window, CONFAB_WINDOW_STATUS_SIGNED_OUT, NULL);
      return;
    }
  begin_account (self, account, NULL);
}

/* Actions ------------------------------------------------------------------------------ */

static void
on_quit (GSimpleAction *action,
         GVariant      *parameter,
         gpointer       user_data)
{
  ConfabApplication *self = user_data;
  GList *windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (self)));

  /* Closing (not destroying) lets the main window save its size. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
  g_list_free (windows);
  g_application_quit (G_APPLICATION (self));
}

static void
on_preferences (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  ConfabApplication *self = user_data;
  GtkWindow *preferences = confab_preferences_window_new (self);

  gtk_window_set_transient_for (preferences, confab_application_get_main_window (self));
  gtk_window_present (preferences);
}

static void
on_about (GSimpleAction *action,
          GVariant      *parameter,
          gpointer       user_data)
{
  ConfabApplication *self = user_data;
  const char *developers[] = { _("Confab developers"), NULL };
  g_autofree char *report = NULL;
  GtkWidget *about;

  if (self->session != NULL)
    report = confab_diagnostics_report (confab_connection_manager_get_diagnostics (
                                          confab_session_get_manager (self->session)));

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", confab_application_get_main_window (self),
                        "application-icon", APP_ICON_NAME,
                        "application-name", _("Confab"),
                        "developer-name", _("Confab developers"),
                        "developers", developers,
                        "version", PACKAGE_VERSION,
                        "comments", _("Team chat that connects on any network, says what the connection is doing, and never loses a message."),
                        "website", "https://github.com/confab-chat/confab",
                        "issue-url", "https://github.com/confab-chat/confab/issues",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "copyright", "© 2026 Confab developers",
                        /* Translators: your names, one per line, as "Name <email>" or "Name https://…". */
                        "translator-credits", _("translator-credits"),
                        "debug-info", report != NULL ? report : "",
                        "debug-info-filename", "confab-diagnostics.txt",
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
on_copy_diagnostics (GSimpleAction *action,
                     GVariant      *parameter,
                     gpointer       user_data)
{
  ConfabApplication *self = user_data;
  g_autofree char *report = NULL;
  ConfabDiagnostics *diagnostics;

  if (self->session == NULL || self->window == NULL)
    return;
  diagnostics = confab_connection_manager_get_diagnostics (confab_session_get_manager (self->session));
  report = confab_diagnostics_report (diagnostics);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self->window)), report);
  toast (self, _("Diagnostics report copied. It holds no names, user ids, emails or keys."));
}

static void
on_connection_details (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  ConfabApplication *self = user_data;
  GtkWidget *dialog;

  if (self->session == NULL)
    return;
  dialog = confab_connection_details_dialog_new (confab_session_get_manager (self->session));
  gtk_window_set_transient_for (GTK_WINDOW (dialog), confab_application_get_main_window (self));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_retry_now (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  ConfabApplication *self = user_data;
  ConfabConnectionManager *manager;

  if (self->session == NULL)
    return;
  manager = confab_session_get_manager (self->session);
  if (confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_FAILED ||
      confab_connection_manager_get_state (manager) == CONFAB_CONNECTION_STATE_IDLE)
    confab_session_start (self->session);
  else
    confab_connection_manager_retry_now (manager);
}

static void
spawn_demo_user (ConfabApplication *self,
                 const char        *user_id)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *program = NULL;
  const char *argv[6];

  if (!confab_account_check_user_id (user_id, &error))
    {
      toast (self, error->message);
      return;
    }
  program = g_file_read_link ("/proc/self/exe", &error);
  if (program == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not start another Confab: %s"), error->message);

      toast (self, text);
      return;
    }

  argv[0] = program;
  argv[1] = "--sandbox";
  argv[2] = confab_account_get_base_url (self->account);
  argv[3] = "--as";
  argv[4] = user_id;
  argv[5] = NULL;
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (process == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not start another Confab: %s"), error->message);

      toast (self, text);
      return;
    }
  g_debug ("started a second demo user as process %s", g_subprocess_get_identifier (process));
}

static void
on_another_user_response (AdwMessageDialog  *dialog,
                          const char        *response,
                          ConfabApplication *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  g_autofree char *user_id = NULL;

  if (!g_str_equal (response, "open") || self->account == NULL)
    return;
  user_id = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  spawn_demo_user (self, user_id);
}

static void
on_another_user_activate (GtkEntry         *entry,
                          AdwMessageDialog *dialog)
{
  adw_message_dialog_response (dialog, "open");
  gtk_window_close (GTK_WINDOW (dialog));
}

static void
on_open_another_user (GSimpleAction *action,
                      GVariant      *parameter,
                      gpointer       user_data)
{
  ConfabApplication *self = user_data;
  const char *current;
  GtkWidget *dialog;
  GtkWidget *entry;

  if (self->account == NULL)
    return;
  current = confab_account_get_user_id (self->account);

  dialog = adw_message_dialog_new (confab_application_get_main_window (self),
                                   _("Open Another Demo User"),
                                   _("Starts a second Confab signed in to this sandbox as another user, so you can chat between the two. The demo users are alice, bob and carol."));
  entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), g_str_equal (current, "bob") ? "alice" : "bob");
  gtk_entry_set_activates_default (GTK_ENTRY (entry), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("User"),
                                  -1);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "open", _("_Open"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "open",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "open");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_another_user_response), self, 0);
  g_signal_connect_object (entry, "activate", G_CALLBACK (on_another_user_activate), dialog, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_sign_in (GSimpleAction *action,
            GVariant      *parameter,
            gpointer       user_data)
{
  ConfabApplication *self = user_data;

  if (self->account != NULL && confab_account_get_kind (self->account) == CONFAB_ACCOUNT_KIND_DEMO)
    {
      if (self->session != NULL)
        confab_account_token_provider_forget (
          CONFAB_ACCOUNT_TOKEN_PROVIDER (confab_session_get_token_provider (self->session)));
      start_demo_sign_in (self);
      return;
    }
  g_action_group_activate_action (G_ACTION_GROUP (self), "preferences", NULL);
}

static void
on_sign_out (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  ConfabApplication *self = user_data;

  confab_application_confirm_sign_out (self, confab_application_get_main_window (self));
}

static void
on_open_channel (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  ConfabApplication *self = user_data;
  const char *cid = g_variant_get_string (parameter, NULL);

  g_application_activate (G_APPLICATION (self));
  if (self->window != NULL)
    confab_window_open_channel (self->window, cid);
}

static const GActionEntry app_actions[] = {
  { "quit", on_quit, NULL, NULL, NULL, { 0 } },
  { "preferences", on_preferences, NULL, NULL, NULL, { 0 } },
  { "about", on_about, NULL, NULL, NULL, { 0 } },
  { "copy-diagnostics", on_copy_diagnostics, NULL, NULL, NULL, { 0 } },
  { "connection-details", on_connection_details, NULL, NULL, NULL, { 0 } },
  { "retry-now", on_retry_now, NULL, NULL, NULL, { 0 } },
  { "open-another-user", on_open_another_user, NULL, NULL, NULL, { 0 } },
  { "sign-in", on_sign_in, NULL, NULL, NULL, { 0 } },
  { "sign-out", on_sign_out, NULL, NULL, NULL, { 0 } },
  { "open-channel", on_open_channel, "s", NULL, NULL, { 0 } },
};

/* GApplication ------------------------------------------------------------------------- */

static int
confab_application_handle_local_options (GApplication *app,
                                         GVariantDict *options)
{
  ConfabApplication *self = CONFAB_APPLICATION (app);
  g_autoptr(GError) error = NULL;
  g_autofree char *application_id = NULL;
  const char *sandbox = NULL;
  const char *user_id = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("confab %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (self->settings == NULL)
    {
      g_printerr (_("confab: the settings schema %s is not installed; install Confab, or run it from its build directory\n"),
                  APP_ID);
      return 1;
    }

  g_variant_dict_lookup (options, "sandbox", "&s", &sandbox);
  g_variant_dict_lookup (options, "as", "&s", &user_id);
  if ((sandbox == NULL) != (user_id == NULL))
    {
      g_printerr ("confab: %s\n", _("--sandbox and --as go together: confab --sandbox URL --as USER"));
      return 2;
    }
  if (sandbox == NULL)
    return -1;

  self->command_line_account = confab_account_new (CONFAB_ACCOUNT_KIND_DEMO, sandbox, NULL, user_id, &error);
  if (self->command_line_account == NULL)
    {
      g_printerr ("confab: %s\n", error->message);
      return 2;
    }
  /* One instance per account: another user runs beside this one, the same user again
   * raises this window. */
  application_id = confab_account_dup_application_id (self->command_line_account,
                                                      g_application_get_application_id (app));
  g_application_set_application_id (app, application_id);
  return -1;
}

/* Ctrl+C in the terminal, or a kill: quit as from the menu, so the cache is written. */
static gboolean
on_quit_signal (gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
  return G_SOURCE_CONTINUE;
}

static void
confab_application_startup (GApplication *app)
{
  ConfabApplication *self = CONFAB_APPLICATION (app);
  const char *quit_accels[] = { "<Primary>q", NULL };
  const char *preferences_accels[] = { "<Primary>comma", NULL };
  const char *help_accels[] = { "<Primary>question", NULL };
  const char *retry_accels[] = { "<Primary>r", NULL };

  G_APPLICATION_CLASS (confab_application_parent_class)->startup (app);

  confab_widgets_init ();
  gtk_window_set_default_icon_name (APP_ICON_NAME);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-help-overlay", help_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.retry-now", retry_accels);
  update_actions (self);

  self->sigint_id = g_unix_signal_add (SIGINT, on_quit_signal, self);
  self->sigterm_id = g_unix_signal_add (SIGTERM, on_quit_signal, self);

  self->secrets = confab_secret_store_new ();
  g_signal_connect (self->secrets, "notify::available", G_CALLBACK (on_keyring_available), self);
}

static void
confab_application_activate (GApplication *app)
{
  ConfabApplication *self = CONFAB_APPLICATION (app);

  if (self->window == NULL)
    {
      self->window = confab_window_new (GTK_APPLICATION (self));
      g_object_add_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
      g_signal_connect_object (self->window, "notify::channel", G_CALLBACK (on_window_channel), self, 0);
      g_signal_connect_object (self->window, "notify::is-active", G_CALLBACK (on_window_active), self, 0);
    }
  gtk_window_present (GTK_WINDOW (self->window));

  if (!self->started)
    {
      self->started = TRUE;
      start_first_account (self);
    }
}

static void
confab_application_shutdown (GApplication *app)
{
  ConfabApplication *self = CONFAB_APPLICATION (app);

  end_session (self);
  g_clear_handle_id (&self->sigint_id, g_source_remove);
  g_clear_handle_id (&self->sigterm_id, g_source_remove);
  G_APPLICATION_CLASS (confab_application_parent_class)->shutdown (app);
}

static void
confab_application_dispose (GObject *object)
{
  ConfabApplication *self = CONFAB_APPLICATION (object);

  end_session (self);
  if (self->secrets != NULL)
    g_signal_handlers_disconnect_by_data (self->secrets, self);
  g_clear_object (&self->secrets);
  g_clear_object (&self->account);
  g_clear_object (&self->command_line_account);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (confab_application_parent_class)->dispose (object);
}

static void
confab_application_constructed (GObject *object)
{
  G_OBJECT_CLASS (confab_application_parent_class)->constructed (object);

  /* Fixed, whatever the (per-account, or .Devel) application id. */
  g_application_set_resource_base_path (G_APPLICATION (object), RESOURCE_BASE_PATH);
}

static void
confab_application_class_init (ConfabApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->constructed = confab_application_constructed;
  object_class->dispose = confab_application_dispose;
  app_class->handle_local_options = confab_application_handle_local_options;
  app_class->startup = confab_application_startup;
  app_class->activate = confab_application_activate;
  app_class->shutdown = confab_application_shutdown;

  confab_app_ensure_resources ();
}

static void
confab_application_init (ConfabApplication *self)
{
  GApplication *app = G_APPLICATION (self);

  self->settings = make_settings ();

  g_application_add_main_option (app, "sandbox", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING,
                                 _("Sign in to the --demo confab-sandbox at URL"), _("URL"));
  g_application_add_main_option (app, "as", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING,
                                 _("The demo user to sign in as (alice, bob or carol)"), _("USER"));
  g_application_add_main_option (app, "version", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE,
                                 _("Print the version and exit"), NULL);
  g_application_set_option_context_summary (app, _("Confab: team chat that connects on any network.\n\nWith no options, signs in with the account from the last run."));
}

ConfabApplication *
confab_application_new (void)
{
  return g_object_new (CONFAB_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       NULL);
}

GSettings *
confab_application_get_settings (ConfabApplication *self)
{
  g_return_val_if_fail (CONFAB_IS_APPLICATION (self), NULL);

  return self->settings;
}

ConfabSecretStore *
confab_application_get_secret_store (ConfabApplication *self)
{
  g_return_val_if_fail (CONFAB_IS_APPLICATION (self), NULL);

  return self->secrets;
}

ConfabSession *
confab_application_get_session (ConfabApplication *self)
{
  g_return_val_if_fail (CONFAB_IS_APPLICATION (self), NULL);

  return self->session;
}

GtkWindow *
confab_application_get_main_window (ConfabApplication *self)
{
  g_return_val_if_fail (CONFAB_IS_APPLICATION (self), NULL);

  return self->window != NULL ? GTK_WINDOW (self->window) : NULL;
}
