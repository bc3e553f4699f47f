/* confab-window.c: the main window: channels, the conversation, the connection widgets
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "confab-application.h"
#include "confab-channel-row.h"
#include "confab-conversation-view.h"
#include "confab-member-row.h"
#include "confab-resources.h"
#include "confab-text.h"
#include "confab-widgets.h"
#include "confab-window.h"

struct _ConfabWindow
{
  AdwApplicationWindow     parent_instance;

  AdwToastOverlay         *toast_overlay;
  GtkStack                *main_stack;
  AdwLeaflet              *leaflet;
  GtkWidget               *sidebar;
  GtkWidget               *content;
  AdwWindowTitle          *sidebar_title;
  GtkStack                *sidebar_stack;
  GtkListView             *channel_list;
  AdwWindowTitle          *channel_title;
  GtkWidget               *members_button;
  GtkListView             *member_list;
  GtkStack                *content_stack;
  ConfabConversationView  *conversation;
  AdwStatusPage           *status_page;
  GtkSpinner              *status_spinner;
  GtkButton               *status_button;

  ConfabConnectionManager *manager;
  ConfabChatStore         *store;
  ConfabChannel           *channel;
  GtkSingleSelection      *channel_selection;
  GListModel              *channels;          /* the store's, while set */
  char                    *pending_cid;       /* asked to open before it was known */
  ConfabWindowStatus       status;
  char                    *status_detail;
  gboolean                 reselecting;
  GHashTable              *channel_rows;      /* ConfabChannel → its bound ConfabChannelRow */
};

G_DEFINE_FINAL_TYPE (ConfabWindow, confab_window, ADW_TYPE_APPLICATION_WINDOW)

G_DEFINE_ENUM_TYPE (ConfabWindowStatus, confab_window_status,
                    G_DEFINE_ENUM_VALUE (CONFAB_WINDOW_STATUS_CHAT, "chat"),
                    G_DEFINE_ENUM_VALUE (CONFAB_WINDOW_STATUS_SIGNING_IN, "signing-in"),
                    G_DEFINE_ENUM_VALUE (CONFAB_WINDOW_STATUS_SIGNED_OUT, "signed-out"),
                    G_DEFINE_ENUM_VALUE (CONFAB_WINDOW_STATUS_SIGN_IN_FAILED, "sign-in-failed"))

enum {
  PROP_0,
  PROP_MANAGER,
  PROP_STORE,
  PROP_CHANNEL,
  PROP_STATUS,
  PROP_STATUS_DETAIL,
  PROP_FOLDED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void set_channel (ConfabWindow  *self,
                         ConfabChannel *channel);

static GSettings *
app_settings (ConfabWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return CONFAB_IS_APPLICATION (app) ? confab_application_get_settings (CONFAB_APPLICATION (app)) : NULL;
}

/* Header ------------------------------------------------------------------------------- */

static void
update_channel_header (ConfabWindow *self)
{
  g_autofree char *name = NULL;
  g_autofree char *members = NULL;
  g_autofree char *online = NULL;
  g_autofree char *subtitle = NULL;
  guint n_members, n_online;

  if (self->channel == NULL)
    {
      adw_window_title_set_title (self->channel_title, "");
      adw_window_title_set_subtitle (self->channel_title, "");
      gtk_widget_set_visible (self->members_button, FALSE);
      return;
    }

  name = confab_text_for_single_line (confab_channel_get_name (self->channel), 200);
  n_members = confab_channel_get_member_count (self->channel);
  n_online = confab_channel_get_online_count (self->channel);
  members = g_strdup_printf (ngettext ("%u member", "%u members", n_members), n_members);
  online = g_strdup_printf (ngettext ("%u online", "%u online", n_online), n_online);
  /* Translators: the conversation's subtitle, "3 members · 2 online". */
  subtitle = g_strdup_printf (_("%s · %s"), members, online);

  adw_window_title_set_title (self->channel_title, name);
  adw_window_title_set_subtitle (self->channel_title, subtitle);
  gtk_widget_set_visible (self->members_button, TRUE);
}

static void
on_channel_notify (ConfabWindow  *self,
                   GParamSpec    *pspec,
                   ConfabChannel *channel)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "name") || g_str_equal (name, "member-count") ||
      g_str_equal (name, "online-count"))
    update_channel_header (self);
}

static void
update_sidebar_title (ConfabWindow *self)
{
  const char *user_id = self->store != NULL ? confab_chat_store_get_own_user_id (self->store) : NULL;

  adw_window_title_set_subtitle (self->sidebar_title, user_id != NULL ? user_id : "");
}

/* Channel list ------------------------------------------------------------------------- */

static guint
find_channel (ConfabWindow  *self,
              ConfabChannel *channel)
{
  guint n;

  if (self->channels == NULL || channel == NULL)
    return GTK_INVALID_LIST_POSITION;
  n = g_list_model_get_n_items (self->channels);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ConfabChannel) item = g_list_model_get_item (self->channels, i);

      if (item == channel)
        return i;
    }
  return GTK_INVALID_LIST_POSITION;
}

static void
reselect (ConfabWindow *self)
{
  guint position;

  if (self->channel_selection == NULL)
    return;
  position = find_channel (self, self->channel);
  if (gtk_single_selection_get_selected (self->channel_selection) == position)
    return;
  self->reselecting = TRUE;
  gtk_single_selection_set_selected (self->channel_selection, position);
  self->reselecting = FALSE;
}

static void
update_sidebar_page (ConfabWindow *self)
{
  gboolean any = self->channels != NULL && g_list_model_get_n_items (self->channels) > 0;

  gtk_stack_set_visible_child_name (self->sidebar_stack, any ? "channels" : "empty");
}

static void
open_first_channel_if_wide (ConfabWindow *self)
{
  g_autoptr(ConfabChannel) first = NULL;

  if (self->channel != NULL || self->channels == NULL || adw_leaflet_get_folded (self->leaflet))
    return;
  first = g_list_model_get_item (self->channels, 0);
  if (first != NULL)
    set_channel (self, first);
}

/* Runs after the selection model has handled the change (connected later). */
static void
on_channels_changed (ConfabWindow *self,
                     guint         position,
                     guint         removed,
                     guint         added,
                     GListModel   *model)
{
  update_sidebar_page (self);
  if (self->pending_cid != NULL && self->store != NULL)
    {
      ConfabChannel *channel = confab_chat_store_lookup_channel (self->store, self->pending_cid);

      if (channel != NULL)
        {
          g_clear_pointer (&self->pending_cid, g_free);
          set_channel (self, channel);
          return;
        }
    }
  reselect (self);
  open_first_channel_if_wide (self);
}

static void
on_selected_item (ConfabWindow       *self,
                  GParamSpec         *pspec,
                  GtkSingleSelection *selection)
{
  ConfabChannel *channel = gtk_single_selection_get_selected_item (selection);

  /* A NULL selection comes from the model moving rows; the open channel stays. */
  if (self->reselecting || channel == NULL)
    return;
  g_clear_pointer (&self->pending_cid, g_free);
  set_channel (self, channel);
  if (adw_leaflet_get_folded (self->leaflet))
    adw_leaflet_set_visible_child (self->leaflet, self->content);
}

/* A click on the row that is already selected still shows it when folded. */
static void
on_channel_activate (ConfabWindow *self,
                     guint         position,
                     GtkListView  *list)
{
  g_autoptr(ConfabChannel) channel = NULL;

  if (self->channels == NULL)
    return;
  channel = g_list_model_get_item (self->channels, position);
  if (channel == NULL)
    return;
  set_channel (self, channel);
  if (adw_leaflet_get_folded (self->leaflet))
    adw_leaflet_set_visible_child (self->leaflet, self->content);
}

static void
on_setup_channel_row (GtkSignalListItemFactory *factory,
                      GtkListItem              *item,
                      gpointer                  user_data)
{
  gtk_list_item_set_child (item, confab_channel_row_new ());
}

/* The open channel's row hides its unread count while the conversation is being read. */
static gboolean
is_reading (ConfabWindow  *self,
            ConfabChannel *channel)
{
  return channel != NULL && channel == self->channel && self->conversation != NULL &&
         confab_conversation_view_get_reading (self->conversation);
}

static void
update_row_reading (ConfabWindow  *self,
                    ConfabChannel *channel)
{
  ConfabChannelRow *row = channel != NULL ? g_hash_table_lookup (self->channel_rows, channel) : NULL;

  if (row != NULL)
    confab_channel_row_set_reading (row, is_reading (self, channel));
}

static void
on_conversation_reading (ConfabWindow *self)
{
  update_row_reading (self, self->channel);
}

static void
on_bind_channel_row (GtkSignalListItemFactory *factory,
                     GtkListItem              *item,
                     ConfabWindow             *self)
{
  ConfabChannelRow *row = CONFAB_CHANNEL_ROW (gtk_list_item_get_child (item));
  ConfabChannel *channel = gtk_list_item_get_item (item);

  g_hash_table_replace (self->channel_rows, channel, row);
  confab_channel_row_set_reading (row, is_reading (self, channel));
  confab_channel_row_set_channel (row, channel);
}

static void
on_unbind_channel_row (GtkSignalListItemFactory *factory,
                       GtkListItem              *item,
                       ConfabWindow             *self)
{
  ConfabChannelRow *row = CONFAB_CHANNEL_ROW (gtk_list_item_get_child (item));
  ConfabChannel *channel = confab_channel_row_get_channel (row);

  if (channel != NULL && g_hash_table_lookup (self->channel_rows, channel) == row)
    g_hash_table_remove (self->channel_rows, channel);
  confab_channel_row_set_channel (row, NULL);
  confab_channel_row_set_reading (row, FALSE);
}

static void
on_setup_member_row (GtkSignalListItemFactory *factory,
                     GtkListItem              *item,
                     gpointer                  user_data)
{
  gtk_list_item_set_child (item, confab_member_row_new ());
  gtk_list_item_set_activatable (item, FALSE);
}

static void
on_bind_member_row (GtkSignalListItemFactory *factory,
                    GtkListItem              *item,
                    gpointer                  user_data)
{
  confab_member_row_set_user (CONFAB_MEMBER_ROW (gtk_list_item_get_child (item)),
                              gtk_list_item_get_item (item));
}

static void
on_unbind_member_row (GtkSignalListItemFactory *factory,
                      GtkListItem              *item,
                      gpointer                  user_data)
{
  confab_member_row_set_user (CONFAB_MEMBER_ROW (gtk_list_item_get_child (item)), NULL);
}

static void
set_channel (ConfabWindow  *self,
             ConfabChannel *channel)
{
  g_autoptr(GtkSelectionModel) members = NULL;
  g_autoptr(ConfabChannel) previous = NULL;

  if (self->channel == channel)
    return;
  if (self->channel != NULL)
    g_signal_handlers_disconnect_by_data (self->channel, self);
  previous = g_steal_pointer (&self->channel);
  g_set_object (&self->channel, channel);
  if (channel != NULL)
    {
      g_signal_connect_object (channel, "notify", G_CALLBACK (on_channel_notify), self, G_CONNECT_SWAPPED);
      members = GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (confab_channel_get_members (channel))));
    }
  gtk_list_view_set_model (self->member_list, members);
  confab_conversation_view_set_channel (self->conversation, channel);
  gtk_stack_set_visible_child_name (self->content_stack, channel != NULL ? "conversation" : "empty");
  update_row_reading (self, previous);
  update_row_reading (self, channel);
  update_channel_header (self);
  reselect (self);
  if (channel != NULL && gtk_widget_get_mapped (GTK_WIDGET (self)))
    gtk_widget_grab_focus (GTK_WIDGET (confab_conversation_view_get_composer (self->conversation)));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHANNEL]);
}

/* Template callbacks --------------------------------------------------------------------- */

static void
on_back_clicked (ConfabWindow *self)
{
  adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
}

static void
on_folded_changed (ConfabWindow *self)
{
  if (!adw_leaflet_get_folded (self->leaflet))
    open_first_channel_if_wide (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FOLDED]);
}

static void
on_sign_in_requested (ConfabWindow *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "app.sign-in", NULL);
}

static void
on_status_button_clicked (ConfabWindow *self)
{
  if (self->status == CONFAB_WINDOW_STATUS_SIGN_IN_FAILED)
    gtk_widget_activate_action (GTK_WIDGET (self), "app.sign-in", NULL);
  else
    gtk_widget_activate_action (GTK_WIDGET (self), "app.preferences", NULL);
}

/* Window actions ------------------------------------------------------------------------- */

static void
step_channel (ConfabWindow *self,
              int           delta)
{
  guint position, n;
  g_autoptr(ConfabChannel) channel = NULL;

  if (self->channels == NULL)
    return;
  n = g_list_model_get_n_items (self->channels);
  position = find_channel (self, self->channel);
  if (n == 0)
    return;
  if (position == GTK_INVALID_LIST_POSITION)
    position = 0;
  else if (delta < 0 && position > 0)
    position--;
  else if (delta > 0 && position + 1 < n)
    position++;
  channel = g_list_model_get_item (self->channels, position);
  set_channel (self, channel);
}

static void
on_previous_channel (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  step_channel (CONFAB_WINDOW (widget), -1);
}

static void
on_next_channel (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  step_channel (CONFAB_WINDOW (widget), 1);
}

/* GtkWindow ---------------------------------------------------------------------------- */

static gboolean
confab_window_close_request (GtkWindow *window)
{
  ConfabWindow *self = CONFAB_WINDOW (window);
  GSettings *settings = app_settings (self);
  int width = 0, height = 0;

  if (settings != NULL)
    {
      gtk_window_get_default_size (window, &width, &height);
      g_settings_delay (settings);
      if (!gtk_window_is_maximized (window) && width > 0 && height > 0)
        {
          g_settings_set_int (settings, "window-width", width);
          g_settings_set_int (settings, "window-height", height);
        }
      g_settings_set_boolean (settings, "window-maximized", gtk_window_is_maximized (window));
      g_settings_apply (settings);
    }
  return GTK_WINDOW_CLASS (confab_window_parent_class)->close_request (window);
}

/* GObject ------------------------------------------------------------------------------ */

static void
confab_window_dispose (GObject *object)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  confab_window_set_session (self, NULL, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_WINDOW);

  G_OBJECT_CLASS (confab_window_parent_class)->dispose (object);
}

static void
confab_window_finalize (GObject *object)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  g_free (self->pending_cid);
  g_free (self->status_detail);
  g_hash_table_unref (self->channel_rows);

  G_OBJECT_CLASS (confab_window_parent_class)->finalize (object);
}

static void
confab_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      g_value_set_object (value, self->manager);
      break;
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_CHANNEL:
      g_value_set_object (value, self->channel);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_STATUS_DETAIL:
      g_value_set_string (value, self->status_detail);
      break;
    case PROP_FOLDED:
      g_value_set_boolean (value, adw_leaflet_get_folded (self->leaflet));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CHANNEL:
      set_channel (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_window_class_init (ConfabWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = confab_window_dispose;
  object_class->finalize = confab_window_finalize;
  object_class->get_property = confab_window_get_property;
  object_class->set_property = confab_window_set_property;
  window_class->close_request = confab_window_close_request;

  properties[PROP_MANAGER] =
    g_param_spec_object ("manager", NULL, NULL, CONFAB_TYPE_CONNECTION_MANAGER,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, CONFAB_TYPE_CHAT_STORE,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CHANNEL] =
    g_param_spec_object ("channel", NULL, NULL, CONFAB_TYPE_CHANNEL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, CONFAB_TYPE_WINDOW_STATUS, CONFAB_WINDOW_STATUS_SIGNED_OUT,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS_DETAIL] =
    g_param_spec_string ("status-detail", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FOLDED] =
    g_param_spec_boolean ("folded", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_install_action (widget_class, "win.previous-channel", NULL, on_previous_channel);
  gtk_widget_class_install_action (widget_class, "win.next-channel", NULL, on_next_channel);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Up, GDK_ALT_MASK, "win.previous-channel", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Down, GDK_ALT_MASK, "win.next-channel", NULL);

  /* Types named by the template. */
  g_type_ensure (CONFAB_TYPE_CONVERSATION_VIEW);
  g_type_ensure (CONFAB_TYPE_BANNER);
  g_type_ensure (CONFAB_TYPE_QUALITY_BADGE);
  g_type_ensure (CONFAB_TYPE_CONNECTION_STATUS);

  confab_app_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab_chat/Confab/ui/confab-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, content);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, sidebar_title);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, sidebar_stack);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, channel_list);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, channel_title);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, members_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, member_list);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, conversation);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, status_page);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, status_spinner);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, status_button);
  gtk_widget_class_bind_template_callback (widget_class, on_back_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_folded_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_in_requested);
  gtk_widget_class_bind_template_callback (widget_class, on_status_button_clicked);
}

static void
confab_window_init (ConfabWindow *self)
{
  GtkListItemFactory *factory;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->channel_rows = g_hash_table_new (NULL, NULL);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (on_setup_channel_row), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (on_bind_channel_row), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (on_unbind_channel_row), self);
  gtk_list_view_set_factory (self->channel_list, factory);
  g_object_unref (factory);
  g_signal_connect_swapped (self->channel_list, "activate", G_CALLBACK (on_channel_activate), self);
  g_signal_connect_swapped (self->conversation, "notify::reading", G_CALLBACK (on_conversation_reading), self);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (on_setup_member_row), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (on_bind_member_row), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (on_unbind_member_row), NULL);
  gtk_list_view_set_factory (self->member_list, factory);
  g_object_unref (factory);

  self->status = CONFAB_WINDOW_STATUS_CHAT;
  confab_window_set_status (self, CONFAB_WINDOW_STATUS_SIGNED_OUT, NULL);
  update_channel_header (self);
  update_sidebar_page (self);
}

ConfabWindow *
confab_window_new (GtkApplication *application)
{
  ConfabWindow *self;
  GSettings *settings;

  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);

  self = g_object_new (CONFAB_TYPE_WINDOW, "application", application, NULL);
  if (DEVELOPMENT_BUILD)
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");

  settings = app_settings (self);
  if (settings != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (self),
                                   MAX (360, g_settings_get_int (settings, "window-width")),
                                   MAX (294, g_settings_get_int (settings, "window-height")));
      if (g_settings_get_boolean (settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
    }
  else
    gtk_window_set_default_size (GTK_WINDOW (self), 960, 640);
  return self;
}

static void
on_own_user_id (ConfabWindow *self)
{
  update_sidebar_title (self);
}

void
confab_window_set_session (ConfabWindow            *self,
                           ConfabConnectionManager *manager,
                           ConfabChatStore         *store)
{
  g_autoptr(GtkSingleSelection) selection = NULL;

  g_return_if_fail (CONFAB_IS_WINDOW (self));
  g_return_if_fail (manager == NULL || CONFAB_IS_CONNECTION_MANAGER (manager));
  g_return_if_fail (store == NULL || CONFAB_IS_CHAT_STORE (store));

  if (self->store == store && self->manager == manager)
    return;

  if (self->store != NULL)
    {
      set_channel (self, NULL);
      g_signal_handlers_disconnect_by_data (self->store, self);
      g_signal_handlers_disconnect_by_data (self->channels, self);
      if (self->channel_selection != NULL)
        g_signal_handlers_disconnect_by_data (self->channel_selection, self);
      gtk_list_view_set_model (self->channel_list, NULL);
      g_clear_object (&self->channel_selection);
      self->channels = NULL;
    }
  g_clear_pointer (&self->pending_cid, g_free);

  if (g_set_object (&self->manager, manager))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MANAGER]);
  if (g_set_object (&self->store, store))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STORE]);

  if (store != NULL)
    {
      self->channels = confab_chat_store_get_channels (store);
      selection = gtk_single_selection_new (g_object_ref (self->channels));
      gtk_single_selection_set_autoselect (selection, FALSE);
      gtk_single_selection_set_can_unselect (selection, TRUE);
      gtk_single_selection_set_selected (selection, GTK_INVALID_LIST_POSITION);
      self->channel_selection = g_object_ref (selection);
      g_signal_connect_object (selection, "notify::selected-item", G_CALLBACK (on_selected_item),
                               self, G_CONNECT_SWAPPED);
      /* After the selection model's own handler, which was connected first. */
      g_signal_connect_object (self->channels, "items-changed", G_CALLBACK (on_channels_changed),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (store, "notify::own-user-id", G_CALLBACK (on_own_user_id),
                               self, G_CONNECT_SWAPPED);
      gtk_list_view_set_model (self->channel_list, GTK_SELECTION_MODEL (selection));
      confab_window_set_status (self, CONFAB_WINDOW_STATUS_CHAT, NULL);
      open_first_channel_if_wide (self);
    }
  update_sidebar_page (self);
  update_sidebar_title (self);
}

ConfabConnectionManager *
confab_window_get_manager (ConfabWindow *self)
{
  g_return_val_if_fail (CONFAB_IS_WINDOW (self), NULL);

  return self->manager;
}

ConfabChatStore *
confab_window_get_store (ConfabWindow *self)
{
  g_return_val_if_fail (CONFAB_IS_WINDOW (self), NULL);

  return self->store;
}

void
confab_window_set_status (ConfabWindow       *self,
                          ConfabWindowStatus  status,
                          const char         *detail)
{
  g_autofree char *escaped = NULL;
  const char *title = NULL;
  const char *button = NULL;
  gboolean spinning = FALSE;

  g_return_if_fail (CONFAB_IS_WINDOW (self));

  switch (status)
    {
    case CONFAB_WINDOW_STATUS_CHAT:
      break;
    case CONFAB_WINDOW_STATUS_SIGNING_IN:
      title = _("Signing In…");
      spinning = TRUE;
      break;
    case CONFAB_WINDOW_STATUS_SIGNED_OUT:
      title = _("Welcome to Confab");
      if (detail == NULL)
        detail = _("Sign in to a Stream Chat server, or to a confab-sandbox demo, in Preferences.");
      button = _("_Sign In…");
      break;
    case CONFAB_WINDOW_STATUS_SIGN_IN_FAILED:
      title = _("Could Not Sign In");
      button = _("_Try Again");
      break;
    default:
      g_return_if_reached ();
    }

  /* Also when the page goes away: a spinning spinner on a hidden stack page still
   * animates its CSS and keeps the frame clock ticking at 60 Hz. */
  gtk_spinner_set_spinning (self->status_spinner, spinning);
  gtk_widget_set_visible (GTK_WIDGET (self->status_spinner), spinning);
  if (status == CONFAB_WINDOW_STATUS_CHAT)
    gtk_stack_set_visible_child_name (self->main_stack, "chat");
  else
    {
      /* AdwStatusPage:description is markup. */
      escaped = detail != NULL ? g_markup_escape_text (detail, -1) : NULL;
      adw_status_page_set_title (self->status_page, title);
      adw_status_page_set_description (self->status_page, escaped);
      gtk_widget_set_visible (GTK_WIDGET (self->status_button), button != NULL);
      if (button != NULL)
        gtk_button_set_label (self->status_button, button);
      gtk_stack_set_visible_child_name (self->main_stack, "status");
    }

  if (g_strcmp0 (self->status_detail, detail) != 0)
    {
      g_free (self->status_detail);
      self->status_detail = g_strdup (detail);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS_DETAIL]);
    }
  if (self->status != status)
    {
      self->status = status;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
    }
}

ConfabWindowStatus
confab_window_get_status (ConfabWindow *self)
{
  g_return_val_if_fail (CONFAB_IS_WINDOW (self), CONFAB_WINDOW_STATUS_SIGNED_OUT);

  return self->status;
}

gboolean
confab_window_open_channel (ConfabWindow *self,
                            const char   *cid)
{
  ConfabChannel *channel;

  g_return_val_if_fail (CONFAB_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (cid != NULL, FALSE);

  if (self->store == NULL)
    return FALSE;
  channel = confab_chat_store_lookup_channel (self->store, cid);
  if (channel == NULL)
    {
      /* Opened as soon as the store learns of it (the first connect). */
      g_free (self->pending_cid);
      self->pending_cid = g_strdup (cid);
      return FALSE;
    }
  g_clear_pointer (&self->pending_cid, g_free);
  set_channel (self, channel);
  if (adw_leaflet_get_folded (self->leaflet))
    adw_leaflet_set_visible_child (self->leaflet, self->content);
  return TRUE;
}

ConfabChannel *
confab_window_get_channel (ConfabWindow *self)
{
  g_return_val_if_fail (CONFAB_IS_WINDOW (self), NULL);

  return self->channel;
}

void
confab_window_add_toast (ConfabWindow *self,
                         const char   *text)
{
  g_autofree char *escaped = NULL;

  g_return_if_fail (CONFAB_IS_WINDOW (self));
  g_return_if_fail (text != NULL);

  /* Adw 1.2 toasts parse markup. */
  escaped = g_markup_escape_text (text, -1);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (escaped));
}
