/* confab-message-row.c: one message in the conversation list, with its day and status
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "confab-error.h"
#include "confab-message-row.h"
#include "confab-resources.h"
#include "confab-text.h"

struct _ConfabMessageRow
{
  AdwBin         parent_instance;

  GtkBox        *box;
  GtkLabel      *author_label;
  GtkLabel      *time_label;
  GtkLabel      *text_label;
  /* Made when first needed: about 200 rows are alive at once, most need neither. */
  GtkWidget     *date_box;
  GtkLabel      *date_label;
  GtkWidget     *status_box;
  GtkImage      *status_icon;
  GtkLabel      *status_label;
  GtkWidget     *retry_button;
  GtkWidget     *discard_button;

  ConfabMessage *message;
  gboolean       show_date;
};

G_DEFINE_FINAL_TYPE (ConfabMessageRow, confab_message_row, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_MESSAGE,
  PROP_SHOW_DATE,
  N_PROPS
};

enum {
  SIGNAL_RETRY,
  SIGNAL_DISCARD,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

char *
confab_message_row_format_day (gint64 time_usec,
                               gint64 now_usec)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (time_usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) now = g_date_time_new_from_unix_local (now_usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) yesterday = NULL;
  int y, m, d;

  if (when == NULL || now == NULL)
    return g_strdup ("");
  yesterday = g_date_time_add_days (now, -1);
  g_date_time_get_ymd (when, &y, &m, &d);
  if (g_date_time_get_year (now) == y && g_date_time_get_month (now) == m &&
      g_date_time_get_day_of_month (now) == d)
    return g_strdup (_("Today"));
  if (yesterday != NULL && g_date_time_get_year (yesterday) == y &&
      g_date_time_get_month (yesterday) == m && g_date_time_get_day_of_month (yesterday) == d)
    return g_strdup (_("Yesterday"));
  if (g_date_time_get_year (now) == y)
    /* Translators: a day separator in a conversation this year, a g_date_time_format()
     * string: "Monday, March 3". */
    /* xgettext:no-c-format */
    return g_date_time_format (when, _("%A, %B %-e"));
  /* Translators: a day separator for an earlier year: "Monday, March 3, 2025". */
  /* xgettext:no-c-format */
  return g_date_time_format (when, _("%A, %B %-e, %Y"));
}

static char *
format_time (gint64 time_usec)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (time_usec / G_USEC_PER_SEC);

  if (when == NULL)
    return g_strdup ("");
  /* Translators: the time of a message, a g_date_time_format() string. */
  /* xgettext:no-c-format */
  return g_date_time_format (when, _("%H:%M"));
}

static char *
format_full_time (gint64 time_usec)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (time_usec / G_USEC_PER_SEC);

  if (when == NULL)
    return NULL;
  /* Translators: a message's tooltip, a g_date_time_format() string. */
  /* xgettext:no-c-format */
  return g_date_time_format (when, _("%A, %B %-e, %Y, %H:%M:%S"));
}

/* Why sending failed, in a few words. */
static const char *
describe_failure (const GError *error)
{
  if (error == NULL)
    return _("Not sent");
  switch (confab_error_classify (error))
    {
    case CONFAB_ERROR_REJECTED:
      return _("Not sent: the server refused it");
    case CONFAB_ERROR_AUTH:
    case CONFAB_ERROR_TOKEN_EXPIRED:
      return _("Not sent: signed out");
    case CONFAB_ERROR_RATE_LIMITED:
      return _("Not sent: too many messages at once");
    case CONFAB_ERROR_STORAGE:
      return _("Not sent: could not be saved on this computer");
    case CONFAB_ERROR_FAILED:
    case CONFAB_ERROR_NETWORK:
    case CONFAB_ERROR_TIMEOUT:
    case CONFAB_ERROR_TLS:
    case CONFAB_ERROR_INSECURE_URL:
    case CONFAB_ERROR_UPGRADE_REJECTED:
    case CONFAB_ERROR_PROTOCOL:
    case CONFAB_ERROR_CONNECTION_LOST:
    case CONFAB_ERROR_SERVER:
    case CONFAB_ERROR_BUSY:
    case CONFAB_ERROR_CORRUPT:
    default:
      return _("Not sent");
    }
}

static void
update_text (ConfabMessageRow *self)
{
  g_autofree char *text = NULL;

  if (self->message == NULL)
    {
      gtk_label_set_text (self->text_label, "");
      return;
    }
  if (confab_message_get_deleted (self->message))
    {
      gtk_label_set_text (self->text_label, _("This message was deleted"));
      gtk_widget_add_css_class (GTK_WIDGET (self->text_label), "deleted");
      gtk_label_set_selectable (self->text_label, FALSE);
      return;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self->text_label), "deleted");
  gtk_label_set_selectable (self->text_label, TRUE);
  text = confab_text_for_display (confab_message_get_text (self->message), CONFAB_TEXT_MAX_DISPLAY_CHARS);
  gtk_label_set_text (self->text_label, text);
}

static void
update_author (ConfabMessageRow *self)
{
  g_autofree char *name = NULL;
  g_autofree char *time = NULL;

  if (self->message == NULL)
    return;
  name = confab_text_for_single_line (confab_message_get_user_name (self->message), 120);
  gtk_label_set_text (self->author_label, name);
  time = format_time (confab_message_get_created_at (self->message));
  gtk_label_set_text (self->time_label, time);
}

/* The full time is made when asked for: setting a tooltip on every bind would query the
 * pointer from the X server and re-run the tooltip logic each time a message arrives. */
static gboolean
on_time_query_tooltip (GtkWidget        *widget,
                       int               x,
                       int               y,
                       gboolean          keyboard_mode,
                       GtkTooltip       *tooltip,
                       ConfabMessageRow *self)
{
  g_autofree char *full_time = NULL;

  if (self->message == NULL)
    return FALSE;
  full_time = format_full_time (confab_message_get_created_at (self->message));
  if (full_time == NULL)
    return FALSE;
  gtk_tooltip_set_text (tooltip, full_time);
  return TRUE;
}

static void on_retry_clicked   (ConfabMessageRow *self);
static void on_discard_clicked (ConfabMessageRow *self);

static GtkWidget *
small_button (const char *label)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "small-button");
  return button;
}

static void
ensure_status_box (ConfabMessageRow *self)
{
  if (self->status_box != NULL)
    return;
  self->status_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_add_css_class (self->status_box, "message-status");
  self->status_icon = g_object_new (GTK_TYPE_IMAGE,
                                    "pixel-size", 12,
                                    "accessible-role", GTK_ACCESSIBLE_ROLE_PRESENTATION,
                                    NULL);
  self->status_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->status_label, 0);
  gtk_label_set_wrap (self->status_label, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "caption");
  gtk_box_append (GTK_BOX (self->status_box), GTK_WIDGET (self->status_icon));
  gtk_box_append (GTK_BOX (self->status_box), GTK_WIDGET (self->status_label));
  gtk_box_append (self->box, self->status_box);
}

static void
ensure_failure_buttons (ConfabMessageRow *self)
{
  if (self->retry_button != NULL)
    return;
  self->retry_button = small_button (_("_Retry"));
  g_signal_connect_swapped (self->retry_button, "clicked", G_CALLBACK (on_retry_clicked), self);
  self->discard_button = small_button (_("_Discard"));
  gtk_widget_add_css_class (self->discard_button, "flat");
  g_signal_connect_swapped (self->discard_button, "clicked", G_CALLBACK (on_discard_clicked), self);
  gtk_box_append (GTK_BOX (self->status_box), self->retry_button);
  gtk_box_append (GTK_BOX (self->status_box), self->discard_button);
}

static void
update_status (ConfabMessageRow *self)
{
  const char *icon = NULL;
  const char *text = NULL;
  gboolean failed = FALSE;

  if (self->message != NULL && confab_message_get_is_own (self->message) &&
      !confab_message_get_deleted (self->message))
    {
      switch (confab_message_get_status (self->message))
        {
        case CONFAB_MESSAGE_STATUS_QUEUED:
          icon = "document-open-recent-symbolic";
          text = _("Queued: sends when the connection is back");
          break;
        case CONFAB_MESSAGE_STATUS_SENDING:
          icon = "content-loading-symbolic";
          text = _("Sending…");
          break;
        case CONFAB_MESSAGE_STATUS_FAILED:
          icon = "dialog-warning-symbolic";
          text = describe_failure (confab_message_get_last_error (self->message));
          failed = TRUE;
          break;
        case CONFAB_MESSAGE_STATUS_SENT:
        default:
          icon = "emblem-ok-symbolic";
          text = _("Sent");
          break;
        }
    }

  if (self->message != NULL && confab_message_get_is_own (self->message))
    gtk_widget_add_css_class (GTK_WIDGET (self), "own");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "own");

  if (text == NULL)
    {
      if (self->status_box != NULL)
        gtk_widget_set_visible (self->status_box, FALSE);
      return;
    }

  ensure_status_box (self);
  if (failed)
    ensure_failure_buttons (self);
  gtk_widget_set_visible (self->status_box, TRUE);
  if (self->retry_button != NULL)
    {
      gtk_widget_set_visible (self->retry_button, failed);
      gtk_widget_set_visible (self->discard_button, failed);
    }
  if (failed)
    gtk_widget_add_css_class (self->status_box, "failed");
  else
    gtk_widget_remove_css_class (self->status_box, "failed");
  gtk_image_set_from_icon_name (self->status_icon, icon);
  gtk_label_set_text (self->status_label, text);
}

static void
ensure_date_box (ConfabMessageRow *self)
{
  GtkWidget *separator;

  if (self->date_box != NULL)
    return;
  self->date_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_widget_add_css_class (self->date_box, "date-separator");
  gtk_widget_set_margin_top (self->date_box, 12);
  gtk_widget_set_margin_bottom (self->date_box, 6);
  separator = gtk_separator_new (GTK_ORIENTATION_HORIZONTAL);
  gtk_widget_set_hexpand (separator, TRUE);
  gtk_widget_set_valign (separator, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (self->date_box), separator);
  self->date_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->date_label), "dim-label");
  gtk_widget_add_css_class (GTK_WIDGET (self->date_label), "caption-heading");
  gtk_box_append (GTK_BOX (self->date_box), GTK_WIDGET (self->date_label));
  separator = gtk_separator_new (GTK_ORIENTATION_HORIZONTAL);
  gtk_widget_set_hexpand (separator, TRUE);
  gtk_widget_set_valign (separator, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (self->date_box), separator);
  gtk_box_prepend (self->box, self->date_box);
}

static void
update_date (ConfabMessageRow *self)
{
  g_autofree char *day = NULL;

  if (!self->show_date || self->message == NULL)
    {
      if (self->date_box != NULL)
        gtk_widget_set_visible (self->date_box, FALSE);
      return;
    }
  ensure_date_box (self);
  gtk_widget_set_visible (self->date_box, TRUE);
  day = confab_message_row_format_day (confab_message_get_created_at (self->message), g_get_real_time ());
  gtk_label_set_text (self->date_label, day);
}

static void
on_message_notify (ConfabMessageRow *self,
                   GParamSpec       *pspec,
                   ConfabMessage    *message)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "text") || g_str_equal (name, "deleted"))
    update_text (self);
  if (g_str_equal (name, "status") || g_str_equal (name, "deleted") ||
      g_str_equal (name, "last-error") || g_str_equal (name, "is-own"))
    update_status (self);
  if (g_str_equal (name, "user-name") || g_str_equal (name, "created-at"))
    update_author (self);
  if (g_str_equal (name, "created-at"))
    update_date (self);
}

static void
on_retry_clicked (ConfabMessageRow *self)
{
  if (self->message != NULL)
    g_signal_emit (self, signals[SIGNAL_RETRY], 0, self->message);
}

static void
on_discard_clicked (ConfabMessageRow *self)
{
  if (self->message != NULL)
    g_signal_emit (self, signals[SIGNAL_DISCARD], 0, self->message);
}

static void
confab_message_row_dispose (GObject *object)
{
  ConfabMessageRow *self = CONFAB_MESSAGE_ROW (object);

  confab_message_row_set_message (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_MESSAGE_ROW);

  G_OBJECT_CLASS (confab_message_row_parent_class)->dispose (object);
}

static void
confab_message_row_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  ConfabMessageRow *self = CONFAB_MESSAGE_ROW (object);

  switch (prop_id)
    {
    case PROP_MESSAGE:
      g_value_set_object (value, self->message);
      break;
    case PROP_SHOW_DATE:
      g_value_set_boolean (value, self->show_date);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_message_row_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  ConfabMessageRow *self = CONFAB_MESSAGE_ROW (object);

  switch (prop_id)
    {
    case PROP_MESSAGE:
      confab_message_row_set_message (self, g_value_get_object (value));
      break;
    case PROP_SHOW_DATE:
      confab_message_row_set_show_date (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_message_row_class_init (ConfabMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_message_row_dispose;
  object_class->get_property = confab_message_row_get_property;
  object_class->set_property = confab_message_row_set_property;

  properties[PROP_MESSAGE] =
    g_param_spec_object ("message", NULL, NULL, CONFAB_TYPE_MESSAGE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_DATE] =
    g_param_spec_boolean ("show-date", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabMessageRow::retry:
   * @message: the FAILED message
   *
   * The user asked to send @message again.
   */
  signals[SIGNAL_RETRY] =
    g_signal_new ("retry", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CONFAB_TYPE_MESSAGE);
  /**
   * ConfabMessageRow::discard:
   * @message: the FAILED message
   *
   * The user gave up on @message.
   */
  signals[SIGNAL_DISCARD] =
    g_signal_new ("discard", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CONFAB_TYPE_MESSAGE);

  confab_app_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab_chat/Confab/ui/confab-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabMessageRow, box);
  gtk_widget_class_bind_template_child (widget_class, ConfabMessageRow, author_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabMessageRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabMessageRow, text_label);
  gtk_widget_class_set_css_name (widget_class, "confab-message-row");
}

static void
confab_message_row_init (ConfabMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_set_has_tooltip (GTK_WIDGET (self->time_label), TRUE);
  g_signal_connect (self->time_label, "query-tooltip", G_CALLBACK (on_time_query_tooltip), self);
}

GtkWidget *
confab_message_row_new (void)
{
  return g_object_new (CONFAB_TYPE_MESSAGE_ROW, NULL);
}

ConfabMessage *
confab_message_row_get_message (ConfabMessageRow *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE_ROW (self), NULL);

  return self->message;
}

void
confab_message_row_set_message (ConfabMessageRow *self,
                                ConfabMessage    *message)
{
  g_return_if_fail (CONFAB_IS_MESSAGE_ROW (self));
  g_return_if_fail (message == NULL || CONFAB_IS_MESSAGE (message));

  if (self->message == message)
    return;
  if (self->message != NULL)
    g_signal_handlers_disconnect_by_func (self->message, on_message_notify, self);
  g_set_object (&self->message, message);
  if (message != NULL)
    g_signal_connect_object (message, "notify", G_CALLBACK (on_message_notify), self, G_CONNECT_SWAPPED);

  update_author (self);
  update_text (self);
  update_status (self);
  update_date (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
}

gboolean
confab_message_row_get_show_date (ConfabMessageRow *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE_ROW (self), FALSE);

  return self->show_date;
}

void
confab_message_row_set_show_date (ConfabMessageRow *self,
                                  gboolean          show_date)
{
  g_return_if_fail (CONFAB_IS_MESSAGE_ROW (self));

  show_date = !!show_date;
  if (self->show_date == show_date)
    return;
  self->show_date = show_date;
  update_date (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_DATE]);
}

const char *
confab_message_row_get_text (ConfabMessageRow *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE_ROW (self), NULL);

  return gtk_label_get_text (self->text_label);
}

const char *
confab_message_row_get_status_text (ConfabMessageRow *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE_ROW (self), NULL);

  if (self->status_box == NULL || !gtk_widget_get_visible (self->status_box))
    return "";
  return gtk_label_get_text (self->status_label);
}
