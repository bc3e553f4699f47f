/* confab-conversation-view.c: one channel's messages, who is typing, and the composer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "confab-conversation-view.h"
#include "confab-error.h"
#include "confab-message-row.h"
#include "confab-outbox.h"
#include "confab-pace.h"
#include "confab-paced-list-model.h"
#include "confab-resources.h"

struct _ConfabConversationView
{
  AdwBin                parent_instance;

  GtkScrolledWindow    *scroller;
  GtkListView          *list_view;
  GtkWidget            *jump_button;
  GtkRevealer          *older_revealer;
  GtkLabel             *typing_label;
  ConfabComposer       *composer;

  ConfabChatStore      *store;
  ConfabChannel        *channel;
  GListModel           *messages;           /* the channel's, while one is open */
  ConfabPacedListModel *shown;              /* what the list shows of them */
  GBinding             *typing_binding;
  GtkAdjustment        *vadjustment;
  GHashTable           *drafts;             /* cid → unsent text */
  GCancellable         *cancellable;        /* loading older history of this channel */
  GtkWindow            *window;             /* the root, while rooted */

  gboolean              stick;
  gboolean              stick_after_layout; /* scroll to the end once this frame's layout is done */
  guint                 stick_tick_id;
  GdkFrameClock        *frame_clock;        /* while mapped */
  gulong                layout_handler;
  gboolean              loading_older;
  gboolean              reading;
  guint                 older_exhausted_at; /* n_items when a page added nothing */
};

G_DEFINE_FINAL_TYPE (ConfabConversationView, confab_conversation_view, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_STORE,
  PROP_CHANNEL,
  PROP_STICK_TO_BOTTOM,
  PROP_LOADING_OLDER,
  PROP_READING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void maybe_load_older       (ConfabConversationView *self);
static void disconnect_frame_clock (ConfabConversationView *self);

static void
add_toast (ConfabConversationView *self,
           const char             *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);
  g_autofree char *escaped = NULL;

  if (overlay == NULL)
    {
      g_message ("%s", text);
      return;
    }
  /* Adw 1.2 toasts parse markup. */
  escaped = g_markup_escape_text (text, -1);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (escaped));
}

/* Marking read ------------------------------------------------------------------------- */

static gboolean
is_reading (ConfabConversationView *self)
{
  return self->store != NULL && self->channel != NULL && self->stick &&
         self->window != NULL && gtk_window_is_active (self->window) &&
         gtk_widget_get_mapped (GTK_WIDGET (self));
}

/* The store marks the channel read, and keeps what arrives while it is read from
 * counting as unread (one mark-read per burst, not per message). */
static void
update_reading (ConfabConversationView *self)
{
  gboolean reading = is_reading (self);

  if (self->store != NULL)
    confab_chat_store_set_reading_channel (self->store, reading ? confab_channel_get_cid (self->channel) : NULL);
  if (self->reading == reading)
    return;
  self->reading = reading;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READING]);
}

/* Sticking to the bottom --------------------------------------------------------------- */

static gboolean
is_near_bottom (GtkAdjustment *adjustment)
{
  double value = gtk_adjustment_get_value (adjustment);
  double upper = gtk_adjustment_get_upper (adjustment);
  double page = gtk_adjustment_get_page_size (adjustment);

  return upper - (value + page) <= CONFAB_CONVERSATION_VIEW_BOTTOM_SLACK;
}

static void
set_stick (ConfabConversationView *self,
           gboolean                stick)
{
  if (self->stick == stick)
    return;
  self->stick = stick;
  gtk_widget_set_visible (self->jump_button, !stick);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STICK_TO_BOTTOM]);
  update_reading (self);
}

/* Our own scroll to the end is due: until it is done, moves come from the layout. */
static gboolean
stick_pending (ConfabConversationView *self)
{
  return self->stick_tick_id != 0 || self->stick_after_layout;
}

static double
bottom_gap (GtkAdjustment *adjustment)
{
  return gtk_adjustment_get_upper (adjustment) -
         (gtk_adjustment_get_value (adjustment) + gtk_adjustment_get_page_size (adjustment));
}

static void
stick_now (ConfabConversationView *self)
{
  GtkAdjustment *adjustment = self->vadjustment;

  if (self->stick && bottom_gap (adjustment) > 0.5)
    gtk_adjustment_set_value (adjustment,
                              gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment));
}

static gboolean
on_stick_tick (GtkWidget     *widget,
               GdkFrameClock *frame_clock,
               gpointer       user_data)
{
  ConfabConversationView *self = user_data;

  self->stick_tick_id = 0;
  stick_now (self);
  return G_SOURCE_REMOVE;
}

/* After the next layout, so the new rows are measured. */
static void
schedule_stick (ConfabConversationView *self)
{
  if (self->stick_tick_id == 0)
    self->stick_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self->list_view), on_stick_tick,
                                                        self, NULL);
}

/* Runs after the window's layout, in the same frame: new rows are measured and placed,
 * so the end is known. Scrolling there now makes GTK lay the list out once more before
 * it paints: one frame per message, where a tick callback would scroll, lay out and
 * paint in a second frame. */
static void
on_frame_layout (GdkFrameClock          *frame_clock,
                 ConfabConversationView *self)
{
  if (!self->stick_after_layout)
    return;
  self->stick_after_layout = FALSE;
  stick_now (self);
}

static void
connect_frame_clock (ConfabConversationView *self)
{
  GdkFrameClock *frame_clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));

  if (frame_clock == NULL || frame_clock == self->frame_clock)
    return;
  disconnect_frame_clock (self);
  /* Connected after the window's surface, which lays the window out. */
  self->frame_clock = g_object_ref (frame_clock);
  self->layout_handler = g_signal_connect_after (frame_clock, "layout", G_CALLBACK (on_frame_layout), self);
}

static void
disconnect_frame_clock (ConfabConversationView *self)
{
  if (self->frame_clock != NULL)
    g_clear_signal_handler (&self->layout_handler, self->frame_clock);
  g_clear_object (&self->frame_clock);
  self->stick_after_layout = FALSE;
}

/* The end moved (rows came, or were measured): follow it if sticking. */
static void
stick_after_layout (ConfabConversationView *self)
{
  if (self->frame_clock != NULL)
    self->stick_after_layout = TRUE;
  else
    schedule_stick (self);
}

static void
on_adjustment_value_changed (ConfabConversationView *self,
                             GtkAdjustment          *adjustment)
{
  if (!stick_pending (self))
    set_stick (self, is_near_bottom (adjustment));
  maybe_load_older (self);
}

static void
on_adjustment_changed (ConfabConversationView *self,
                       GtkAdjustment          *adjustment)
{
  if (self->stick && bottom_gap (adjustment) > 0.5)
    stick_after_layout (self);
  maybe_load_older (self);
}

static void
on_messages_changed (ConfabConversationView *self,
                     guint                   position,
                     guint                   removed,
                     guint                   added,
                     GListModel             *model)
{
  /* The list lays the new rows out in the coming frame. */
  if (self->stick && added > 0)
    stick_after_layout (self);
}

/* Older history ------------------------------------------------------------------------ */

static void
set_loading_older (ConfabConversationView *self,
                   gboolean                loading)
{
  if (self->loading_older == loading)
    return;
  self->loading_older = loading;
  gtk_revealer_set_reveal_child (self->older_revealer, loading);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING_OLDER]);
}

typedef struct
{
  ConfabConversationView *self;
  ConfabChannel          *channel;
  guint                   n_before;
} OlderLoad;

static void
on_older_loaded (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  OlderLoad *load = user_data;
  ConfabConversationView *self = load->self;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = confab_chat_store_load_older_finish (CONFAB_CHAT_STORE (source), result, &error);
  if (self->channel == load->channel && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      set_loading_older (self, FALSE);
      if (!ok)
        g_debug ("older history not loaded: %s", error->message);
      /* Nothing came (an error, offline, a server that says "more" and sends none):
       * no automatic retry until the model changes. */
      if (g_list_model_get_n_items (self->messages) == load->n_before)
        self->older_exhausted_at = load->n_before;
    }
  g_object_unref (load->channel);
  g_object_unref (load->self);
  g_free (load);
}

static void
maybe_load_older (ConfabConversationView *self)
{
  OlderLoad *load;
  guint n_items;

  if (self->store == NULL || self->channel == NULL || self->loading_older ||
      stick_pending (self) || !confab_channel_get_has_more_history (self->channel))
    return;
  /* Within a screen of the top, or everything fits on one screen. */
  if (gtk_adjustment_get_value (self->vadjustment) > gtk_adjustment_get_page_size (self->vadjustment))
    return;
  n_items = g_list_model_get_n_items (self->messages);
  if (n_items == self->older_exhausted_at)
    return;

  load = g_new0 (OlderLoad, 1);
  load->self = g_object_ref (self);
  load->channel = g_object_ref (self->channel);
  load->n_before = n_items;
  set_loading_older (self, TRUE);
  confab_chat_store_load_older_async (self->store, confab_channel_get_cid (self->channel),
                                      self->cancellable, on_older_loaded, load);
}

/* Rows --------------------------------------------------------------------------------- */

static void
on_row_retry (ConfabConversationView *self,
              ConfabMessage          *message)
{
  if (self->store != NULL)
    confab_chat_store_retry (self->store, message);
}

static void
on_row_discard (ConfabConversationView *self,
                ConfabMessage          *message)
{
  if (self->store != NULL)
    confab_chat_store_discard (self->store, message);
}

static void
update_show_date (ConfabConversationView *self,
                  GtkListItem            *item)
{
  GtkWidget *row = gtk_list_item_get_child (item);
  guint position = gtk_list_item_get_position (item);

  if (row == NULL || gtk_list_item_get_item (item) == NULL || self->channel == NULL ||
      position == GTK_INVALID_LIST_POSITION)
    return;
  confab_message_row_set_show_date (CONFAB_MESSAGE_ROW (row),
                                    confab_channel_starts_new_day (self->channel, position));
}

/* Older messages prepended move a row: its day separator may change. */
static void
on_item_position (GtkListItem            *item,
                  GParamSpec             *pspec,
                  ConfabConversationView *self)
{
  update_show_date (self, item);
}

static void
on_setup_row (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              ConfabConversationView   *self)
{
  GtkWidget *row = confab_message_row_new ();

  gtk_list_item_set_child (item, row);
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
  g_signal_connect_object (row, "retry", G_CALLBACK (on_row_retry), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (row, "discard", G_CALLBACK (on_row_discard), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (item, "notify::position", G_CALLBACK (on_item_position), self, 0);
}

static void
on_bind_row (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             ConfabConversationView   *self)
{
  ConfabMessageRow *row = CONFAB_MESSAGE_ROW (gtk_list_item_get_child (item));

  confab_message_row_set_message (row, gtk_list_item_get_item (item));
  update_show_date (self, item);
}

static void
on_unbind_row (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               ConfabConversationView   *self)
{
  confab_message_row_set_message (CONFAB_MESSAGE_ROW (gtk_list_item_get_child (item)), NULL);
}

/* Composer ----------------------------------------------------------------------------- */

static void
on_composer_send (ConfabConversationView *self,
                  const char             *text,
                  ConfabComposer         *composer)
{
  g_autoptr(GError) error = NULL;
  glong length;

  if (self->store == NULL || self->channel == NULL)
    return;

  length = g_utf8_strlen (text, -1);
  if (length > CONFAB_OUTBOX_MAX_TEXT_CHARS)
    {
      g_autofree char *message = g_strdup_printf (_("The message is too long to send: %ld characters, at most %d"),
                                                  length, CONFAB_OUTBOX_MAX_TEXT_CHARS);
      add_toast (self, message);
      return;
    }

  if (confab_chat_store_send_text (self->store, confab_channel_get_cid (self->channel), text, &error) == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("Could not send the message: %s"), error->message);

      add_toast (self, message);
      return;
    }
  confab_composer_clear (composer);
  g_hash_table_remove (self->drafts, confab_channel_get_cid (self->channel));
  /* One's own message shows at once, not with the next batch. */
  if (self->shown != NULL)
    confab_paced_list_model_flush (self->shown);
  set_stick (self, TRUE);
  schedule_stick (self);
}

static void
on_composer_typing (ConfabConversationView *self,
                    ConfabComposer         *composer)
{
  if (self->store != NULL && self->channel != NULL)
    confab_chat_store_notify_typing (self->store, confab_channel_get_cid (self->channel));
}

static void
on_jump_clicked (ConfabConversationView *self)
{
  confab_conversation_view_scroll_to_bottom (self);
}

/* Channel ------------------------------------------------------------------------------ */

static void
on_channel_notify (ConfabConversationView *self,
                   GParamSpec             *pspec,
                   ConfabChannel          *channel)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "has-more-history"))
    maybe_load_older (self);
}

static void
save_draft (ConfabConversationView *self)
{
  g_autofree char *text = NULL;

  if (self->channel == NULL)
    return;
  text = confab_composer_dup_text (self->composer);
  if (*text != '\0')
    g_hash_table_replace (self->drafts, g_strdup (confab_channel_get_cid (self->channel)),
                          g_steal_pointer (&text));
  else
    g_hash_table_remove (self->drafts, confab_channel_get_cid (self->channel));
}

static void
on_active_changed (ConfabConversationView *self)
{
  update_reading (self);
}

static void
confab_conversation_view_root (GtkWidget *widget)
{
  ConfabConversationView *self = CONFAB_CONVERSATION_VIEW (widget);
  GtkRoot *root;

  GTK_WIDGET_CLASS (confab_conversation_view_parent_class)->root (widget);

  root = gtk_widget_get_root (widget);
  if (GTK_IS_WINDOW (root))
    {
      self->window = GTK_WINDOW (root);
      g_signal_connect_object (root, "notify::is-active", G_CALLBACK (on_active_changed), self,
                               G_CONNECT_SWAPPED);
    }
}

static void
confab_conversation_view_unroot (GtkWidget *widget)
{
  ConfabConversationView *self = CONFAB_CONVERSATION_VIEW (widget);

  if (self->window != NULL)
    g_signal_handlers_disconnect_by_func (self->window, on_active_changed, self);
  self->window = NULL;
  update_reading (self);

  GTK_WIDGET_CLASS (confab_conversation_view_parent_class)->unroot (widget);
}

static void
confab_conversation_view_map (GtkWidget *widget)
{
  ConfabConversationView *self = CONFAB_CONVERSATION_VIEW (widget);

  GTK_WIDGET_CLASS (confab_conversation_view_parent_class)->map (widget);
  connect_frame_clock (self);
  if (self->stick)
    schedule_stick (self);
  update_reading (self);
}

static void
confab_conversation_view_unmap (GtkWidget *widget)
{
  ConfabConversationView *self = CONFAB_CONVERSATION_VIEW (widget);

  disconnect_frame_clock (self);
  GTK_WIDGET_CLASS (confab_conversation_view_parent_class)->unmap (widget);
  update_reading (self);
}

/* GObject ------------------------------------------------------------------------------ */

static void
confab_conversation_view_dispose (GObject *object)
{
  ConfabConversationView *self = CONFAB_CONVERSATION_VIEW (object);

  confab_conversation_view_set_channel (self, NULL);
  g_clear_object (&self->store);
  g_cancellable_cancel (self->cancellable);
  if (self->stick_tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->list_view), self->stick_tick_id);
  self->stick_tick_id = 0;
  disconnect_frame_clock (self);
  if (self->vadjustment != NULL)
    g_signal_handlers_disconnect_by_data (self->vadjustment, self);
  g_clear_object (&self->vadjustment);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_CONVERSATION_VIEW);

  G_OBJECT_CLASS (confab_conversation_view_parent_class)->dispose (object);
}

static void
confab_conversation_view_finalize (GObject *object)
{
  ConfabConversationView *self = CONFAB_CONVERSATION_VIEW (object);

  g_clear_pointer (&self->drafts, g_hash_table_unref);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (confab_conversation_view_parent_class)->finalize (object);
}

static void
confab_conversation_view_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  ConfabConversationView *self = CONFAB_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_CHANNEL:
      g_value_set_object (value, self->channel);
      break;
    case PROP_STICK_TO_BOTTOM:
      g_value_set_boolean (value, self->stick);
      break;
    case PROP_LOADING_OLDER:
      g_value_set_boolean (value, self->loading_older);
      break;
    case PROP_READING:
      g_value_set_boolean (value, self->reading);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_conversation_view_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  ConfabConversationView *self = CONFAB_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
    case PROP_STORE:
      confab_conversation_view_set_store (self, g_value_get_object (value));
      break;
    case PROP_CHANNEL:
      confab_conversation_view_set_channel (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_conversation_view_class_init (ConfabConversationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_conversation_view_dispose;
  object_class->finalize = confab_conversation_view_finalize;
  object_class->get_property = confab_conversation_view_get_property;
  object_class->set_property = confab_conversation_view_set_property;
  widget_class->root = confab_conversation_view_root;
  widget_class->unroot = confab_conversation_view_unroot;
  widget_class->map = confab_conversation_view_map;
  widget_class->unmap = confab_conversation_view_unmap;

  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, CONFAB_TYPE_CHAT_STORE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CHANNEL] =
    g_param_spec_object ("channel", NULL, NULL, CONFAB_TYPE_CHANNEL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STICK_TO_BOTTOM] =
    g_param_spec_boolean ("stick-to-bottom", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOADING_OLDER] =
    g_param_spec_boolean ("loading-older", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_READING] =
    g_param_spec_boolean ("reading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (CONFAB_TYPE_COMPOSER);
  confab_app_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab_chat/Confab/ui/confab-conversation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabConversationView, scroller);
  gtk_widget_class_bind_template_child (widget_class, ConfabConversationView, list_view);
  gtk_widget_class_bind_template_child (widget_class, ConfabConversationView, jump_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabConversationView, older_revealer);
  gtk_widget_class_bind_template_child (widget_class, ConfabConversationView, typing_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabConversationView, composer);
  gtk_widget_class_bind_template_callback (widget_class, on_composer_send);
  gtk_widget_class_bind_template_callback (widget_class, on_composer_typing);
  gtk_widget_class_bind_template_callback (widget_class, on_jump_clicked);
  gtk_widget_class_set_css_name (widget_class, "confab-conversation-view");
}

static void
confab_conversation_view_init (ConfabConversationView *self)
{
  GtkListItemFactory *factory;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->stick = TRUE;
  self->older_exhausted_at = G_MAXUINT;
  self->cancellable = g_cancellable_new ();
  self->drafts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (on_setup_row), self);
  g_signal_connect (factory, "bind", G_CALLBACK (on_bind_row), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (on_unbind_row), self);
  gtk_list_view_set_factory (self->list_view, factory);
  g_object_unref (factory);

  self->vadjustment = g_object_ref (gtk_scrolled_window_get_vadjustment (self->scroller));
  g_signal_connect_swapped (self->vadjustment, "value-changed",
                            G_CALLBACK (on_adjustment_value_changed), self);
  g_signal_connect_swapped (self->vadjustment, "changed", G_CALLBACK (on_adjustment_changed), self);
}

GtkWidget *
confab_conversation_view_new (void)
{
  return g_object_new (CONFAB_TYPE_CONVERSATION_VIEW, NULL);
}

ConfabChatStore *
confab_conversation_view_get_store (ConfabConversationView *self)
{
  g_return_val_if_fail (CONFAB_IS_CONVERSATION_VIEW (self), NULL);

  return self->store;
}

void
confab_conversation_view_set_store (ConfabConversationView *self,
                                    ConfabChatStore        *store)
{
  g_return_if_fail (CONFAB_IS_CONVERSATION_VIEW (self));
  g_return_if_fail (store == NULL || CONFAB_IS_CHAT_STORE (store));

  if (self->store == store)
    return;
  confab_conversation_view_set_channel (self, NULL);
  g_hash_table_remove_all (self->drafts);
  if (self->store != NULL)
    confab_chat_store_set_reading_channel (self->store, NULL);
  g_set_object (&self->store, store);
  update_reading (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STORE]);
}

ConfabChannel *
confab_conversation_view_get_channel (ConfabConversationView *self)
{
  g_return_val_if_fail (CONFAB_IS_CONVERSATION_VIEW (self), NULL);

  return self->channel;
}

void
confab_conversation_view_set_channel (ConfabConversationView *self,
                                      ConfabChannel          *channel)
{
  g_autoptr(GtkSelectionModel) selection = NULL;
  const char *draft = NULL;

  g_return_if_fail (CONFAB_IS_CONVERSATION_VIEW (self));
  g_return_if_fail (channel == NULL || CONFAB_IS_CHANNEL (channel));

  if (self->channel == channel)
    return;

  if (self->channel != NULL)
    {
      save_draft (self);
      g_signal_handlers_disconnect_by_data (self->channel, self);
      g_signal_handlers_disconnect_by_data (self->shown, self);
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
      self->cancellable = g_cancellable_new ();
      set_loading_older (self, FALSE);
    }
  g_clear_pointer (&self->typing_binding, g_binding_unbind);
  self->messages = NULL;
  g_clear_object (&self->shown);
  self->older_exhausted_at = G_MAXUINT;

  g_set_object (&self->channel, channel);
  if (channel != NULL)
    {
      self->messages = confab_channel_get_messages (channel);
      self->shown = confab_paced_list_model_new (self->messages, CONFAB_PACE_INTERVAL_MS);
      selection = GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->shown))));
      g_signal_connect_object (self->shown, "items-changed", G_CALLBACK (on_messages_changed),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (channel, "notify", G_CALLBACK (on_channel_notify), self, G_CONNECT_SWAPPED);
      self->typing_binding = g_object_bind_property (channel, "typing-text", self->typing_label, "label",
                                                     G_BINDING_SYNC_CREATE);
      draft = g_hash_table_lookup (self->drafts, confab_channel_get_cid (channel));
    }
  else
    gtk_label_set_text (self->typing_label, "");

  gtk_list_view_set_model (self->list_view, selection);
  confab_composer_set_text (self->composer, draft);
  gtk_widget_set_sensitive (GTK_WIDGET (self->composer), channel != NULL);

  self->stick = FALSE;
  set_stick (self, TRUE);
  if (channel != NULL)
    schedule_stick (self);
  update_reading (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHANNEL]);
}

gboolean
confab_conversation_view_get_stick_to_bottom (ConfabConversationView *self)
{
  g_return_val_if_fail (CONFAB_IS_CONVERSATION_VIEW (self), FALSE);

  return self->stick;
}

gboolean
confab_conversation_view_get_loading_older (ConfabConversationView *self)
{
  g_return_val_if_fail (CONFAB_IS_CONVERSATION_VIEW (self), FALSE);

  return self->loading_older;
}

gboolean
confab_conversation_view_get_reading (ConfabConversationView *self)
{
  g_return_val_if_fail (CONFAB_IS_CONVERSATION_VIEW (self), FALSE);

  return self->reading;
}

void
confab_conversation_view_scroll_to_bottom (ConfabConversationView *self)
{
  g_return_if_fail (CONFAB_IS_CONVERSATION_VIEW (self));

  set_stick (self, TRUE);
  schedule_stick (self);
}

GtkListView *
confab_conversation_view_get_list_view (ConfabConversationView *self)
{
  g_return_val_if_fail (CONFAB_IS_CONVERSATION_VIEW (self), NULL);

  return self->list_view;
}

ConfabComposer *
confab_conversation_view_get_composer (ConfabConversationView *self)
{
  g_return_val_if_fail (CONFAB_IS_CONVERSATION_VIEW (self), NULL);

  return self->composer;
}

GtkLabel *
confab_conversation_view_get_typing_label (ConfabConversationView *self)
{
  g_return_val_if_fail (CONFAB_IS_CONVERSATION_VIEW (self), NULL);

  return self->typing_label;
}
