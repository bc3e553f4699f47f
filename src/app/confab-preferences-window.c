/* confab-preferences-window.c: the account (server, API key, user, token) and notifications
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "confab-error.h"
#include "confab-preferences-window.h"
#include "confab-resources.h"

struct _ConfabPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  AdwEntryRow          *server_row;
  AdwEntryRow          *api_key_row;
  AdwEntryRow          *user_row;
  AdwPasswordEntryRow  *token_row;
  AdwActionRow         *account_row;
  GtkButton            *sign_out_button;
  GtkSwitch            *notifications_switch;

  ConfabApplication    *application;
};

G_DEFINE_FINAL_TYPE (ConfabPreferencesWindow, confab_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
add_toast (ConfabPreferencesWindow *self,
           const char              *text)
{
  /* Adw 1.2 toasts parse markup. */
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (escaped));
}

static char *
entry_text (gpointer row)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
}

static void
update_account_row (ConfabPreferencesWindow *self)
{
  GSettings *settings = confab_application_get_settings (self->application);
  g_autofree char *user_id = g_settings_get_string (settings, "user-id");
  g_autofree char *kind = g_settings_get_string (settings, "account-kind");
  g_autofree char *subtitle = NULL;

  if (*kind != '\0' && *user_id != '\0')
    {
      /* Translators: %s is a user id. */
      subtitle = g_strdup_printf (_("Signed in as %s"), user_id);
      gtk_widget_set_sensitive (GTK_WIDGET (self->sign_out_button), TRUE);
    }
  else
    {
      subtitle = g_strdup (_("Not signed in"));
      gtk_widget_set_sensitive (GTK_WIDGET (self->sign_out_button), FALSE);
    }
  adw_action_row_set_subtitle (self->account_row, subtitle);
}

static void
on_sign_in_clicked (ConfabPreferencesWindow *self)
{
  g_autoptr(ConfabAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *server = entry_text (self->server_row);
  g_autofree char *api_key = entry_text (self->api_key_row);
  g_autofree char *user_id = entry_text (self->user_row);
  g_autofree char *token = entry_text (self->token_row);
  ConfabAccountKind kind = *token != '\0' ? CONFAB_ACCOUNT_KIND_TOKEN : CONFAB_ACCOUNT_KIND_DEMO;

  if (kind == CONFAB_ACCOUNT_KIND_TOKEN && *api_key == '\0')
    {
      add_toast (self, _("Enter the API key that goes with the token"));
      gtk_widget_grab_focus (GTK_WIDGET (self->api_key_row));
      return;
    }
  account = confab_account_new (kind, server, *api_key != '\0' ? api_key : NULL, user_id, &error);
  if (account == NULL)
    {
      add_toast (self, error->message);
      return;
    }

  confab_application_sign_in (self->application, account, kind == CONFAB_ACCOUNT_KIND_TOKEN ? token : NULL);
  memset (token, 0, strlen (token));
  gtk_editable_set_text (GTK_EDITABLE (self->token_row), "");
  gtk_window_close (GTK_WINDOW (self));
}

static void
on_sign_out_clicked (ConfabPreferencesWindow *self)
{
  /* Asks first when messages are still unsent; the row follows the settings. */
  confab_application_confirm_sign_out (self->application, GTK_WINDOW (self));
}

static void
on_account_changed (ConfabPreferencesWindow *self)
{
  g_autofree char *kind = g_settings_get_string (confab_application_get_settings (self->application),
                                                 "account-kind");
  gboolean was_signed_in = gtk_widget_get_sensitive (GTK_WIDGET (self->sign_out_button));

  update_account_row (self);
  if (was_signed_in && *kind == '\0')
    add_toast (self, _("Signed out"));
}

static void
confab_preferences_window_dispose (GObject *object)
{
  ConfabPreferencesWindow *self = CONFAB_PREFERENCES_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->application);

  G_OBJECT_CLASS (confab_preferences_window_parent_class)->dispose (object);
}

static void
confab_preferences_window_class_init (ConfabPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_preferences_window_dispose;

  confab_app_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab_chat/Confab/ui/confab-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferencesWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferencesWindow, api_key_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferencesWindow, user_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferencesWindow, token_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferencesWindow, account_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferencesWindow, sign_out_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferencesWindow, notifications_switch);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_in_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_out_clicked);
}

static void
confab_preferences_window_init (ConfabPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWindow *
confab_preferences_window_new (ConfabApplication *application)
{
  ConfabPreferencesWindow *self;
  GSettings *settings;
  g_autofree char *base_url = NULL;
  g_autofree char *api_key = NULL;
  g_autofree char *user_id = NULL;

  g_return_val_if_fail (CONFAB_IS_APPLICATION (application), NULL);

  self = g_object_new (CONFAB_TYPE_PREFERENCES_WINDOW, "application", application, NULL);
  self->application = g_object_ref (application);

  settings = confab_application_get_settings (application);
  base_url = g_settings_get_string (settings, "base-url");
  api_key = g_settings_get_string (settings, "api-key");
  user_id = g_settings_get_string (settings, "user-id");
  gtk_editable_set_text (GTK_EDITABLE (self->server_row), base_url);
  gtk_editable_set_text (GTK_EDITABLE (self->api_key_row), api_key);
  gtk_editable_set_text (GTK_EDITABLE (self->user_row), user_id);
  g_settings_bind (settings, "notifications", self->notifications_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (settings, "changed::account-kind", G_CALLBACK (on_account_changed), self,
                           G_CONNECT_SWAPPED);
  update_account_row (self);

  return GTK_WINDOW (self);
}
