/* confab-connection-details-dialog.c: the attempt timeline, breakers and quality, live
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "confab-connection-details-dialog.h"
#include "confab-redact.h"
#include "confab-widgets-private.h"

/* The newest quality samples shown (the report has them all). */
#define QUALITY_ROWS_MAX 20

struct _ConfabConnectionDetailsDialog
{
  AdwWindow                parent_instance;

  AdwToastOverlay         *toast_overlay;
  AdwActionRow            *state_row;
  AdwActionRow            *transport_row;
  AdwActionRow            *endpoint_row;
  AdwActionRow            *quality_row;
  AdwActionRow            *rtt_row;
  AdwActionRow            *loss_row;
  GtkListBox              *attempts_list;
  GtkLabel                *attempts_empty;
  GtkListBox              *breakers_list;
  GtkLabel                *breakers_empty;
  GtkListBox              *quality_list;
  GtkLabel                *quality_empty;

  ConfabConnectionManager *manager;
  ConfabDiagnostics       *diagnostics;
  GtkSortListModel        *attempts;   /* the diagnostics' attempts, newest first */
};

G_DEFINE_FINAL_TYPE (ConfabConnectionDetailsDialog, confab_connection_details_dialog, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_MANAGER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *
state_words (ConfabConnectionState state)
{
  switch (state)
    {
    case CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK:
      return _("Waiting for network");
    case CONFAB_CONNECTION_STATE_CONNECTING:
      return _("Connecting");
    case CONFAB_CONNECTION_STATE_UPDATING:
      return _("Loading conversations");
    case CONFAB_CONNECTION_STATE_CONNECTED:
      return _("Connected");
    case CONFAB_CONNECTION_STATE_RECONNECTING:
      return _("Waiting to reconnect");
    case CONFAB_CONNECTION_STATE_LIMITED:
      return _("Limited connection");
    case CONFAB_CONNECTION_STATE_FAILED:
      return _("Stopped: needs you");
    case CONFAB_CONNECTION_STATE_IDLE:
    default:
      return _("Not connected");
    }
}

static char *
format_duration (gint64 usec)
{
  if (usec < 0)
    return g_strdup ("—");
  if (usec < 1000)
    return g_strdup (_("<1 ms"));
  /* Translators: a duration in milliseconds. */
  return g_strdup_printf (_("%d ms"), (int) MIN (usec / 1000, (gint64) G_MAXINT));
}

static char *
format_time (gint64 wall_usec)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (wall_usec / G_USEC_PER_SEC);

  return time != NULL ? g_date_time_format (time, "%H:%M:%S") : g_strdup ("");
}

/* Attempts ------------------------------------------------------------------------------ */

static void
refresh_attempt_row (AdwExpanderRow *row,
                     ConfabAttempt  *attempt)
{
  static const struct {
    ConfabAttemptStage  stage;
    const char         *name;
  } stages[] = {
    { CONFAB_ATTEMPT_STAGE_RESOLVING, N_("DNS lookup") },
    { CONFAB_ATTEMPT_STAGE_CONNECTING, N_("TCP connect") },
    { CONFAB_ATTEMPT_STAGE_TLS, N_("TLS handshake") },
    { CONFAB_ATTEMPT_STAGE_UPGRADING, N_("Upgrade (request to answer)") },
    { CONFAB_ATTEMPT_STAGE_AUTHENTICATING, N_("First frame (signed in)") },
    { CONFAB_ATTEMPT_STAGE_FIRST_FRAME, N_("Catch-up") },
  };
  GtkLabel *details = g_object_get_data (G_OBJECT (row), "details");
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *started = format_time (confab_attempt_get_started_at (attempt));
  g_autofree char *duration = format_duration (confab_attempt_get_duration (attempt));
  g_autofree char *endpoint = confab_redact_url (confab_attempt_get_endpoint (attempt));
  g_autofree char *error = confab_attempt_describe_error (attempt);
  const char *reason = confab_attempt_get_reason (attempt);

  /* Translators: "WebSocket · ws://host/connect". */
  title = g_strdup_printf (_("%s · %s"), _confab_widgets_transport_name (confab_attempt_get_transport (attempt)),
                           endpoint);
  switch (confab_attempt_get_outcome (attempt))
    {
    case CONFAB_ATTEMPT_OUTCOME_SUCCEEDED:
      /* Translators: "12:03:04 — connected in 115 ms". */
      subtitle = g_strdup_printf (_("%s — connected in %s"), started, duration);
      break;
    case CONFAB_ATTEMPT_OUTCOME_FAILED:
      subtitle = g_strdup_printf (_("%s — failed after %s"), started, duration);
      break;
    case CONFAB_ATTEMPT_OUTCOME_CANCELLED:
      subtitle = g_strdup_printf (_("%s — stopped after %s"), started, duration);
      break;
    case CONFAB_ATTEMPT_OUTCOME_PENDING:
    default:
      subtitle = g_strdup_printf (_("%s — in progress"), started);
      break;
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_expander_row_set_subtitle (row, subtitle);

  for (guint i = 0; i < G_N_ELEMENTS (stages); i++)
    {
      g_autofree char *lasted = NULL;

      if (confab_attempt_get_stage_time (attempt, stages[i].stage) < 0)
        continue;
      lasted = format_duration (confab_attempt_get_stage_duration (attempt, stages[i].stage));
      g_string_append_printf (text, "%s: %s\n", _(stages[i].name), lasted);
    }
  if (text->len == 0)
    g_string_append_printf (text, "%s\n", _("No stage reached yet"));
  if (error != NULL)
    g_string_append_printf (text, _("Error: %s\n"), error);
  if (reason != NULL && *reason != '\0')
    g_string_append_printf (text, _("Next step: %s\n"), reason);
  if (text->len > 0)
    g_string_truncate (text, text->len - 1);
  gtk_label_set_text (details, text->str);
}

static void
on_attempt_notify (ConfabAttempt  *attempt,
                   GParamSpec     *pspec,
                   AdwExpanderRow *row)
{
  refresh_attempt_row (row, attempt);
}

static GtkWidget *
create_attempt_row (gpointer item,
                    gpointer user_data)
{
  ConfabAttempt *attempt = item;
  GtkWidget *row = adw_expander_row_new ();
  GtkWidget *details = gtk_label_new (NULL);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  gtk_label_set_xalign (GTK_LABEL (details), 0);
  gtk_label_set_wrap (GTK_LABEL (details), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (details), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (details), TRUE);
  gtk_widget_set_margin_start (details, 12);
  gtk_widget_set_margin_end (details, 12);
  gtk_widget_set_margin_top (details, 6);
  gtk_widget_set_margin_bottom (details, 6);
  adw_expander_row_add_row (ADW_EXPANDER_ROW (row), details);
  g_object_set_data (G_OBJECT (row), "details", details);

  refresh_attempt_row (ADW_EXPANDER_ROW (row), attempt);
  g_signal_connect_object (attempt, "notify", G_CALLBACK (on_attempt_notify), row, 0);
  return row;
}

static int
newest_first (gconstpointer a,
              gconstpointer b,
              gpointer      user_data)
{
  gint64 ta = confab_attempt_get_started_at (CONFAB_ATTEMPT ((gpointer) a));
  gint64 tb = confab_attempt_get_started_at (CONFAB_ATTEMPT ((gpointer) b));

  return ta > tb ? -1 : ta < tb ? 1 : 0;
}

/* Now ------------------------------------------------------------------- */

static void
refresh_now (ConfabConnectionDetailsDialog *self)
{
  ConfabConnectionManager *manager = self->manager;
  const char *transport = NULL;
  const char *quality = NULL;
  g_autofree char *endpoint = NULL;
  g_autofree char *rtt = NULL;
  g_autofree char *loss = NULL;
  int rtt_ms = -1;

  if (manager != NULL)
    {
      transport = confab_connection_manager_get_transport (manager);
      quality = _confab_widgets_quality_word (confab_connection_manager_get_quality (manager));
      if (confab_connection_manager_get_endpoint (manager) != NULL)
        endpoint = confab_redact_url (confab_connection_manager_get_endpoint (manager));
      rtt_ms = confab_connection_manager_get_rtt_ms (manager);
      loss = g_strdup_printf (_("%.1f %%"), confab_connection_manager_get_loss (manager) * 100.0);
    }
  if (rtt_ms >= 0)
    rtt = g_strdup_printf (_("%d ms"), rtt_ms);

  adw_action_row_set_subtitle (self->state_row,
                               state_words (manager != NULL ? confab_connection_manager_get_state (manager)
                                                            : CONFAB_CONNECTION_STATE_IDLE));
  adw_action_row_set_subtitle (self->transport_row, transport != NULL ? _confab_widgets_transport_name (transport) : "—");
  adw_action_row_set_subtitle (self->endpoint_row, endpoint != NULL ? endpoint : "—");
  adw_action_row_set_subtitle (self->quality_row, quality != NULL ? quality : _("Not measured yet"));
  adw_action_row_set_subtitle (self->rtt_row, rtt != NULL ? rtt : "—");
  adw_action_row_set_subtitle (self->loss_row, loss != NULL && rtt_ms >= 0 ? loss : "—");
}

static char *
build_report (ConfabConnectionDetailsDialog *self)
{
  if (self->manager == NULL)
    return g_strdup ("");
  return confab_diagnostics_report (confab_connection_manager_get_diagnostics (self->manager));
}

/* Breakers and quality history ----------------------------------------------------------- */

static void
clear_list (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

/* One part of a breaker line after the name, in the user's words; parts the core adds
 * later are shown as they are. */
static char *
breaker_part_words (const char *part)
{
  guint64 n = 0;
  char *end = NULL;

  if (g_str_equal (part, "closed"))
    return g_strdup (C_("circuit breaker", "In use"));
  if (g_str_equal (part, "open"))
    return g_strdup (C_("circuit breaker", "Resting after failures"));
  if (g_str_equal (part, "half-open"))
    return g_strdup (C_("circuit breaker", "Ready to try once"));
  if (g_str_equal (part, "retry due"))
    return g_strdup (C_("circuit breaker", "next try due"));
  if (g_str_equal (part, "trial allowed"))
    return g_strdup (C_("circuit breaker", "one try allowed"));
  if (g_str_equal (part, "trial in progress"))
    return g_strdup (C_("circuit breaker", "trying now"));
  if (g_str_has_prefix (part, "retry in "))
    {
      n = g_ascii_strtoull (part + strlen ("retry in "), &end, 10);
      if (end != NULL && g_str_equal (end, " s") && n <= G_MAXINT)
        return g_strdup_printf (ngettext ("next try in %d second", "next try in %d seconds", (gulong) n), (int) n);
    }
  if (g_ascii_isdigit (*part))
    {
      n = g_ascii_strtoull (part, &end, 10);
      if (end != NULL && (g_str_equal (end, " failure") || g_str_equal (end, " failures")) && n <= G_MAXINT)
        return g_strdup_printf (ngettext ("%d failure in a row", "%d failures in a row", (gulong) n), (int) n);
    }
  return g_strdup (part);
}

/* "websocket http://host:443: open, 3 failures, retry in 12 s" (the core's line, see
 * confab_diagnostics_dup_breakers()) as a row: the route, then its state. */
static GtkWidget *
create_breaker_row (const char *line)
{
  GtkWidget *row = adw_action_row_new ();
  const char *colon = strstr (line, ": ");
  g_autofree char *name = colon != NULL ? g_strndup (line, colon - line) : g_strdup (line);
  g_auto(GStrv) parts = colon != NULL ? g_strsplit (colon + 2, ", ", -1) : NULL;
  g_autoptr(GString) words = g_string_new (NULL);
  g_autofree char *title = NULL;
  const char *space = strchr (name, ' ');

  /* "websocket http://…" → "WebSocket · http://…" */
  if (space != NULL)
    {
      g_autofree char *nick = g_strndup (name, space - name);

      title = g_strdup_printf (_("%s · %s"), _confab_widgets_transport_name (nick), space + 1);
    }
  for (guint i = 0; parts != NULL && parts[i] != NULL; i++)
    {
      g_autofree char *part = breaker_part_words (parts[i]);

      if (words->len > 0)
        g_string_append (words, ", ");
      g_string_append (words, part);
    }

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title != NULL ? title : name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), words->str);
  return row;
}

static const char *
rating_words (const char *rating)
{
  const char *word = NULL;

  if (g_strcmp0 (rating, "excellent") == 0)
    word = _confab_widgets_quality_word (CONFAB_QUALITY_EXCELLENT);
  else if (g_strcmp0 (rating, "good") == 0)
    word = _confab_widgets_quality_word (CONFAB_QUALITY_GOOD);
  else if (g_strcmp0 (rating, "poor") == 0)
    word = _confab_widgets_quality_word (CONFAB_QUALITY_POOR);
  return word != NULL ? word : "—";
}

static GtkWidget *
create_quality_row (gint64      at_usec,
                    const char *rating,
                    int         rtt_ms,
                    double      loss)
{
  GtkWidget *row = adw_action_row_new ();
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (at_usec / G_USEC_PER_SEC);
  g_autofree char *time = when != NULL ? g_date_time_format (when, "%X") : NULL;
  g_autofree char *rtt = rtt_ms >= 0 ? g_strdup_printf (_("%d ms"), rtt_ms) : g_strdup ("—");
  g_autofree char *lost = !isnan (loss) ? g_strdup_printf (_("%.1f %%"), loss * 100.0) : g_strdup ("—");
  g_autofree char *first = g_strdup_printf (_("%s · %s"), rating_words (rating), rtt);
  g_autofree char *subtitle = g_strdup_printf (_("%s · %s"), first, lost);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), time != NULL ? time : "—");
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  return row;
}

static void
refresh_history (ConfabConnectionDetailsDialog *self)
{
  g_auto(GStrv) breakers = NULL;
  guint n_samples = 0;
  guint shown = 0;

  clear_list (self->breakers_list);
  clear_list (self->quality_list);

  if (self->diagnostics != NULL)
    {
      breakers = confab_diagnostics_dup_breakers (self->diagnostics);
      n_samples = confab_diagnostics_get_n_quality_samples (self->diagnostics);
    }
  for (guint i = 0; breakers != NULL && breakers[i] != NULL; i++)
    gtk_list_box_append (self->breakers_list, create_breaker_row (breakers[i]));
  for (guint i = n_samples; i > 0 && shown < QUALITY_ROWS_MAX; i--, shown++)
    {
      const char *rating = NULL;
      gint64 at = 0;
      int rtt_ms = -1;
      double loss = NAN;

      if (confab_diagnostics_get_quality_sample (self->diagnostics, i - 1, &at, &rating, &rtt_ms, &loss))
        gtk_list_box_append (self->quality_list, create_quality_row (at, rating, rtt_ms, loss));
    }

  gtk_widget_set_visible (GTK_WIDGET (self->breakers_empty), breakers == NULL || breakers[0] == NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->breakers_list), breakers != NULL && breakers[0] != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->quality_empty), shown == 0);
  gtk_widget_set_visible (GTK_WIDGET (self->quality_list), shown > 0);
}

/* The diagnostics' ::changed (already coalesced to a few a second): only while the
 * window is shown; mapping it refreshes anyway. */
static void
on_diagnostics_changed (ConfabConnectionDetailsDialog *self)
{
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    refresh_history (self);
}

/* Something about the connection changed. */
static void
changed (ConfabConnectionDetailsDialog *self)
{
  refresh_now (self);
  gtk_widget_set_visible (GTK_WIDGET (self->attempts_empty),
                          self->attempts == NULL || g_list_model_get_n_items (G_LIST_MODEL (self->attempts)) == 0);
}

static void
on_copy_clicked (ConfabConnectionDetailsDialog *self)
{
  confab_connection_details_dialog_copy_report (self);
}

/* GObject ------------------------------------------------------------------------------ */

static void
confab_connection_details_dialog_map (GtkWidget *widget)
{
  ConfabConnectionDetailsDialog *self = CONFAB_CONNECTION_DETAILS_DIALOG (widget);

  GTK_WIDGET_CLASS (confab_connection_details_dialog_parent_class)->map (widget);
  refresh_now (self);
  refresh_history (self);
}

static void
disconnect_manager (ConfabConnectionDetailsDialog *self)
{
  if (self->attempts != NULL)
    g_signal_handlers_disconnect_by_data (self->attempts, self);
  gtk_list_box_bind_model (self->attempts_list, NULL, NULL, NULL, NULL);
  g_clear_object (&self->attempts);
  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->manager);
  if (self->diagnostics != NULL)
    g_signal_handlers_disconnect_by_data (self->diagnostics, self);
  g_clear_object (&self->diagnostics);
}

static void
confab_connection_details_dialog_dispose (GObject *object)
{
  ConfabConnectionDetailsDialog *self = CONFAB_CONNECTION_DETAILS_DIALOG (object);

  if (self->attempts_list != NULL)
    disconnect_manager (self);
  /* AdwWindow's own dispose would unparent the template's content a second time. */
  adw_window_set_content (ADW_WINDOW (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_CONNECTION_DETAILS_DIALOG);

  G_OBJECT_CLASS (confab_connection_details_dialog_parent_class)->dispose (object);
}

static void
confab_connection_details_dialog_get_property (GObject    *object,
                                               guint       prop_id,
                                               GValue     *value,
                                               GParamSpec *pspec)
{
  ConfabConnectionDetailsDialog *self = CONFAB_CONNECTION_DETAILS_DIALOG (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      g_value_set_object (value, self->manager);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_connection_details_dialog_set_property (GObject      *object,
                                               guint         prop_id,
                                               const GValue *value,
                                               GParamSpec   *pspec)
{
  ConfabConnectionDetailsDialog *self = CONFAB_CONNECTION_DETAILS_DIALOG (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      confab_connection_details_dialog_set_manager (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_connection_details_dialog_class_init (ConfabConnectionDetailsDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_connection_details_dialog_dispose;
  object_class->get_property = confab_connection_details_dialog_get_property;
  object_class->set_property = confab_connection_details_dialog_set_property;
  widget_class->map = confab_connection_details_dialog_map;

  properties[PROP_MANAGER] =
    g_param_spec_object ("manager", NULL, NULL, CONFAB_TYPE_CONNECTION_MANAGER,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  _confab_widgets_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               CONFAB_WIDGETS_RESOURCE_PATH "confab-connection-details-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, state_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, transport_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, endpoint_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, quality_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, rtt_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, loss_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, attempts_list);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, attempts_empty);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, breakers_list);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, breakers_empty);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, quality_list);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionDetailsDialog, quality_empty);
  gtk_widget_class_bind_template_callback (widget_class, on_copy_clicked);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
confab_connection_details_dialog_init (ConfabConnectionDetailsDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  _confab_widgets_ensure_style (GTK_WIDGET (self));
  refresh_now (self);
  refresh_history (self);
}

GtkWidget *
confab_connection_details_dialog_new (ConfabConnectionManager *manager)
{
  g_return_val_if_fail (manager == NULL || CONFAB_IS_CONNECTION_MANAGER (manager), NULL);

  return g_object_new (CONFAB_TYPE_CONNECTION_DETAILS_DIALOG, "manager", manager, NULL);
}

ConfabConnectionManager *
confab_connection_details_dialog_get_manager (ConfabConnectionDetailsDialog *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_DETAILS_DIALOG (self), NULL);
  return self->manager;
}

void
confab_connection_details_dialog_set_manager (ConfabConnectionDetailsDialog *self,
                                              ConfabConnectionManager       *manager)
{
  static const char *const watched[] = {
    "notify::state", "notify::stage", "notify::transport", "notify::endpoint", "notify::quality",
    "notify::rtt-ms", "notify::loss", "notify::last-error",
  };

  g_return_if_fail (CONFAB_IS_CONNECTION_DETAILS_DIALOG (self));
  g_return_if_fail (manager == NULL || CONFAB_IS_CONNECTION_MANAGER (manager));

  if (self->manager == manager)
    return;

  disconnect_manager (self);
  if (manager != NULL)
    {
      GListModel *timeline = confab_diagnostics_get_attempts (confab_connection_manager_get_diagnostics (manager));

      self->manager = g_object_ref (manager);
      for (guint i = 0; i < G_N_ELEMENTS (watched); i++)
        g_signal_connect_object (manager, watched[i], G_CALLBACK (changed), self, G_CONNECT_SWAPPED);

      self->diagnostics = g_object_ref (confab_connection_manager_get_diagnostics (manager));
      g_signal_connect_object (self->diagnostics, "changed", G_CALLBACK (on_diagnostics_changed), self,
                               G_CONNECT_SWAPPED);

      self->attempts = gtk_sort_list_model_new (g_object_ref (timeline),
                                                GTK_SORTER (gtk_custom_sorter_new (newest_first, NULL, NULL)));
      g_signal_connect_object (self->attempts, "items-changed", G_CALLBACK (changed), self, G_CONNECT_SWAPPED);
      gtk_list_box_bind_model (self->attempts_list, G_LIST_MODEL (self->attempts), create_attempt_row, NULL, NULL);
    }
  changed (self);
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    refresh_history (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MANAGER]);
}

void
confab_connection_details_dialog_copy_report (ConfabConnectionDetailsDialog *self)
{
  g_autofree char *report = NULL;
  AdwToast *toast;

  g_return_if_fail (CONFAB_IS_CONNECTION_DETAILS_DIALOG (self));

  report = build_report (self);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), report);
  toast = adw_toast_new (_("Report copied"));
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}
