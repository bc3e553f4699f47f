/* confab-member-row.c: a channel member in the members popover: name and presence
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "confab-member-row.h"
#include "confab-resources.h"
#include "confab-text.h"

struct _ConfabMemberRow
{
  AdwBin          parent_instance;

  GtkWidget      *dot;
  GtkLabel       *name_label;
  GtkLabel       *presence_label;

  ConfabChatUser *user;
};

G_DEFINE_FINAL_TYPE (ConfabMemberRow, confab_member_row, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_USER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
update (ConfabMemberRow *self)
{
  g_autofree char *name = NULL;
  gboolean online;

  if (self->user == NULL)
    return;
  name = confab_text_for_single_line (confab_chat_user_get_name (self->user), 120);
  online = confab_chat_user_get_online (self->user);
  gtk_label_set_text (self->name_label, name);
  gtk_label_set_text (self->presence_label, online ? _("online") : _("offline"));
  if (online)
    gtk_widget_add_css_class (self->dot, "online");
  else
    gtk_widget_remove_css_class (self->dot, "online");
}

static void
on_user_notify (ConfabMemberRow *self,
                GParamSpec      *pspec,
                ConfabChatUser  *user)
{
  update (self);
}

static void
confab_member_row_dispose (GObject *object)
{
  ConfabMemberRow *self = CONFAB_MEMBER_ROW (object);

  confab_member_row_set_user (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_MEMBER_ROW);

  G_OBJECT_CLASS (confab_member_row_parent_class)->dispose (object);
}

static void
confab_member_row_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  ConfabMemberRow *self = CONFAB_MEMBER_ROW (object);

  switch (prop_id)
    {
    case PROP_USER:
      g_value_set_object (value, self->user);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_member_row_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  ConfabMemberRow *self = CONFAB_MEMBER_ROW (object);

  switch (prop_id)
    {
    case PROP_USER:
      confab_member_row_set_user (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_member_row_class_init (ConfabMemberRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_member_row_dispose;
  object_class->get_property = confab_member_row_get_property;
  object_class->set_property = confab_member_row_set_property;

  properties[PROP_USER] =
    g_param_spec_object ("user", NULL, NULL, CONFAB_TYPE_CHAT_USER,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  confab_app_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab_chat/Confab/ui/confab-member-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabMemberRow, dot);
  gtk_widget_class_bind_template_child (widget_class, ConfabMemberRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabMemberRow, presence_label);
  gtk_widget_class_set_css_name (widget_class, "confab-member-row");
}

static void
confab_member_row_init (ConfabMemberRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
confab_member_row_new (void)
{
  return g_object_new (CONFAB_TYPE_MEMBER_ROW, NULL);
}

ConfabChatUser *
confab_member_row_get_user (ConfabMemberRow *self)
{
  g_return_val_if_fail (CONFAB_IS_MEMBER_ROW (self), NULL);

  return self->user;
}

void
confab_member_row_set_user (ConfabMemberRow *self,
                            ConfabChatUser  *user)
{
  g_return_if_fail (CONFAB_IS_MEMBER_ROW (self));
  g_return_if_fail (user == NULL || CONFAB_IS_CHAT_USER (user));

  if (self->user == user)
    return;
  if (self->user != NULL)
    g_signal_handlers_disconnect_by_func (self->user, on_user_notify, self);
  g_set_object (&self->user, user);
  if (user != NULL)
    g_signal_connect_object (user, "notify", G_CALLBACK (on_user_notify), self, G_CONNECT_SWAPPED);
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER]);
}
