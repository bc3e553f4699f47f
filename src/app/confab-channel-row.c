/* confab-channel-row.c: a conversation in the sidebar: name, last message, unread count
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "confab-channel-row.h"
#include "confab-pace.h"
#include "confab-resources.h"
#include "confab-text.h"

/* The preview is one ellipsized line; no need to lay out more. */
#define PREVIEW_CHARS 160
/* Shown as "99+" above this. */
#define MAX_SHOWN_UNREAD 99

typedef enum {
  CHANGED_NAME    = 1 << 0,
  CHANGED_PREVIEW = 1 << 1,
  CHANGED_UNREAD  = 1 << 2,
} Changed;

struct _ConfabChannelRow
{
  AdwBin         parent_instance;

  GtkLabel      *name_label;
  GtkLabel      *preview_label;
  GtkLabel      *unread_label;

  ConfabChannel *channel;
  gboolean       reading;
  guint          shown_unread;   /* what the badge shows; 0: hidden */
  Changed        changed;        /* waiting for update_id */
  gint64         updated_at;     /* monotonic µs of the last paced update */
  guint          update_id;
};

G_DEFINE_FINAL_TYPE (ConfabChannelRow, confab_channel_row, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_CHANNEL,
  PROP_READING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Only what changed: each label set queues a resize, and every relayout of the window
 * costs round trips to the X server. */
static void
update_unread (ConfabChannelRow *self)
{
  g_autofree char *unread = NULL;
  guint n_unread = self->channel != NULL ? confab_channel_get_unread_count (self->channel) : 0;

  /* Being read: marked read in a moment, the badge would only flicker. */
  if (self->reading)
    n_unread = 0;
  if (n_unread == self->shown_unread)
    return;
  self->shown_unread = n_unread;

  if (n_unread > 0)
    {
      if (n_unread > MAX_SHOWN_UNREAD)
        unread = g_strdup_printf ("%u+", MAX_SHOWN_UNREAD);
      else
        unread = g_strdup_printf ("%u", n_unread);
      gtk_label_set_text (self->unread_label, unread);
      gtk_widget_add_css_class (GTK_WIDGET (self->name_label), "unread");
    }
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->name_label), "unread");
  gtk_widget_set_visible (GTK_WIDGET (self->unread_label), n_unread > 0);
}

static void
update_accessible (ConfabChannelRow *self)
{
  g_autofree char *accessible = NULL;

  if (self->shown_unread > 0)
    /* Translators: a conversation's name for screen readers, "General, 3 unread". */
    accessible = g_strdup_printf (ngettext ("%s, %u unread", "%s, %u unread", self->shown_unread),
                                  gtk_label_get_text (self->name_label), self->shown_unread);
  else
    accessible = g_strdup (gtk_label_get_text (self->name_label));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, gtk_label_get_text (self->preview_label),
                                  -1);
}

static void
update_name (ConfabChannelRow *self)
{
  g_autofree char *name = NULL;

  name = confab_text_for_single_line (confab_channel_get_name (self->channel), PREVIEW_CHARS);
  gtk_label_set_text (self->name_label, name);
}

static void
update_preview (ConfabChannelRow *self)
{
  g_autofree char *preview = NULL;

  preview = confab_text_for_single_line (confab_channel_get_last_message_text (self->channel), PREVIEW_CHARS);
  gtk_label_set_text (self->preview_label, *preview != '\0' ? preview : _("No messages yet"));
}

static void
update (ConfabChannelRow *self)
{
  if (self->channel == NULL)
    {
      update_unread (self);
      return;
    }
  update_name (self);
  update_preview (self);
  update_unread (self);
  update_accessible (self);
}

static void
update_changed (ConfabChannelRow *self)
{
  Changed changed = self->changed;

  self->changed = 0;
  self->updated_at = g_get_monotonic_time ();
  if (self->channel == NULL || changed == 0)
    return;
  if (changed & CHANGED_NAME)
    update_name (self);
  if (changed & CHANGED_PREVIEW)
    update_preview (self);
  if (changed & CHANGED_UNREAD)
    update_unread (self);
  update_accessible (self);
}

static gboolean
on_update_timeout (gpointer user_data)
{
  ConfabChannelRow *self = user_data;

  self->update_id = 0;
  update_changed (self);
  return G_SOURCE_REMOVE;
}

static void
on_channel_notify (ConfabChannelRow *self,
                   GParamSpec       *pspec,
                   ConfabChannel    *channel)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "name"))
    self->changed |= CHANGED_NAME;
  else if (g_str_equal (name, "last-message-text"))
    self->changed |= CHANGED_PREVIEW;
  else if (g_str_equal (name, "unread-count"))
    self->changed |= CHANGED_UNREAD;
  else
    return;

  /* A busy channel changes its preview and count with every message: shown on the beat
   * the conversation shows its new messages on (each change is a relayout of the
   * window), the first one after a quiet moment at once. */
  if (self->update_id != 0)
    return;
  if (g_get_monotonic_time () >= self->updated_at + CONFAB_PACE_INTERVAL_MS * 1000)
    update_changed (self);
  else
    self->update_id = confab_pace_add (CONFAB_PACE_INTERVAL_MS, on_update_timeout, self);
}

static void
confab_channel_row_dispose (GObject *object)
{
  ConfabChannelRow *self = CONFAB_CHANNEL_ROW (object);

  confab_channel_row_set_channel (self, NULL);
  g_clear_handle_id (&self->update_id, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_CHANNEL_ROW);

  G_OBJECT_CLASS (confab_channel_row_parent_class)->dispose (object);
}

static void
confab_channel_row_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  ConfabChannelRow *self = CONFAB_CHANNEL_ROW (object);

  switch (prop_id)
    {
    case PROP_CHANNEL:
      g_value_set_object (value, self->channel);
      break;
    case PROP_READING:
      g_value_set_boolean (value, self->reading);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_channel_row_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  ConfabChannelRow *self = CONFAB_CHANNEL_ROW (object);

  switch (prop_id)
    {
    case PROP_CHANNEL:
      confab_channel_row_set_channel (self, g_value_get_object (value));
      break;
    case PROP_READING:
      confab_channel_row_set_reading (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_channel_row_class_init (ConfabChannelRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_channel_row_dispose;
  object_class->get_property = confab_channel_row_get_property;
  object_class->set_property = confab_channel_row_set_property;

  properties[PROP_CHANNEL] =
    g_param_spec_object ("channel", NULL, NULL, CONFAB_TYPE_CHANNEL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_READING] =
    g_param_spec_boolean ("reading", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  confab_app_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab_chat/Confab/ui/confab-channel-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabChannelRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabChannelRow, preview_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabChannelRow, unread_label);
  gtk_widget_class_set_css_name (widget_class, "confab-channel-row");
}

static void
confab_channel_row_init (ConfabChannelRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
confab_channel_row_new (void)
{
  return g_object_new (CONFAB_TYPE_CHANNEL_ROW, NULL);
}

ConfabChannel *
confab_channel_row_get_channel (ConfabChannelRow *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL_ROW (self), NULL);

  return self->channel;
}

void
confab_channel_row_set_channel (ConfabChannelRow *self,
                                ConfabChannel    *channel)
{
  g_return_if_fail (CONFAB_IS_CHANNEL_ROW (self));
  g_return_if_fail (channel == NULL || CONFAB_IS_CHANNEL (channel));

  if (self->channel == channel)
    return;
  if (self->channel != NULL)
    g_signal_handlers_disconnect_by_func (self->channel, on_channel_notify, self);
  g_clear_handle_id (&self->update_id, g_source_remove);
  self->changed = 0;
  g_set_object (&self->channel, channel);
  if (channel != NULL)
    g_signal_connect_object (channel, "notify", G_CALLBACK (on_channel_notify), self, G_CONNECT_SWAPPED);
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHANNEL]);
}

gboolean
confab_channel_row_get_reading (ConfabChannelRow *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL_ROW (self), FALSE);

  return self->reading;
}

void
confab_channel_row_set_reading (ConfabChannelRow *self,
                                gboolean          reading)
{
  g_return_if_fail (CONFAB_IS_CHANNEL_ROW (self));

  reading = !!reading;
  if (self->reading == reading)
    return;
  self->reading = reading;
  update_unread (self);
  update_accessible (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READING]);
}
