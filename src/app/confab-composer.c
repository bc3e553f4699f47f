/* confab-composer.c: where a message is written: Enter sends, Shift+Enter adds a line
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "confab-composer.h"
#include "confab-resources.h"

struct _ConfabComposer
{
  AdwBin       parent_instance;

  GtkTextView *text_view;
  GtkLabel    *placeholder;
  GtkButton   *send_button;

  gboolean     empty;
  gboolean     setting_text;   /* set_text()/clear(): not typing */
};

G_DEFINE_FINAL_TYPE (ConfabComposer, confab_composer, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_EMPTY,
  N_PROPS
};

enum {
  SIGNAL_SEND,
  SIGNAL_TYPING,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static gboolean
text_is_blank (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static void
on_buffer_changed (ConfabComposer *self,
                   GtkTextBuffer  *buffer)
{
  g_autofree char *text = confab_composer_dup_text (self);
  gboolean empty = text_is_blank (text);

  gtk_widget_set_visible (GTK_WIDGET (self->placeholder), gtk_text_buffer_get_char_count (buffer) == 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->send_button), !empty);
  if (self->empty != empty)
    {
      self->empty = empty;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EMPTY]);
    }
  if (!self->setting_text && !empty)
    g_signal_emit (self, signals[SIGNAL_TYPING], 0);
}

static gboolean
on_key_pressed (ConfabComposer        *self,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                GtkEventControllerKey *controller)
{
  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
    return GDK_EVENT_PROPAGATE;
  /* Shift+Enter (and Ctrl/Alt+Enter) is left to the text view: a new line. */
  if ((state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK | GDK_ALT_MASK)) != 0)
    return GDK_EVENT_PROPAGATE;
  confab_composer_submit (self);
  return GDK_EVENT_STOP;
}

static void
on_send_clicked (ConfabComposer *self)
{
  confab_composer_submit (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

static gboolean
confab_composer_grab_focus (GtkWidget *widget)
{
  ConfabComposer *self = CONFAB_COMPOSER (widget);

  return gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

static void
confab_composer_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), CONFAB_TYPE_COMPOSER);

  G_OBJECT_CLASS (confab_composer_parent_class)->dispose (object);
}

static void
confab_composer_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  ConfabComposer *self = CONFAB_COMPOSER (object);

  switch (prop_id)
    {
    case PROP_EMPTY:
      g_value_set_boolean (value, self->empty);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_composer_class_init (ConfabComposerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_composer_dispose;
  object_class->get_property = confab_composer_get_property;
  widget_class->grab_focus = confab_composer_grab_focus;

  properties[PROP_EMPTY] =
    g_param_spec_boolean ("empty", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabComposer::send:
   * @text: what was written
   *
   * The user sends @text (never empty); clear the composer once it is queued.
   */
  signals[SIGNAL_SEND] =
    g_signal_new ("send", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * ConfabComposer::typing:
   *
   * The user changed the text.
   */
  signals[SIGNAL_TYPING] =
    g_signal_new ("typing", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  confab_app_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab_chat/Confab/ui/confab-composer.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabComposer, text_view);
  gtk_widget_class_bind_template_child (widget_class, ConfabComposer, placeholder);
  gtk_widget_class_bind_template_child (widget_class, ConfabComposer, send_button);
  gtk_widget_class_bind_template_callback (widget_class, on_send_clicked);
  gtk_widget_class_set_css_name (widget_class, "confab-composer");
}

static void
confab_composer_init (ConfabComposer *self)
{
  GtkEventController *keys;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->empty = TRUE;

  /* Before the text view's own handler, which would insert a newline. */
  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self->text_view), keys);

  g_signal_connect_object (gtk_text_view_get_buffer (self->text_view), "changed",
                           G_CALLBACK (on_buffer_changed), self, G_CONNECT_SWAPPED);
}

GtkWidget *
confab_composer_new (void)
{
  return g_object_new (CONFAB_TYPE_COMPOSER, NULL);
}

char *
confab_composer_dup_text (ConfabComposer *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  g_return_val_if_fail (CONFAB_IS_COMPOSER (self), NULL);

  buffer = gtk_text_view_get_buffer (self->text_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

void
confab_composer_set_text (ConfabComposer *self,
                          const char     *text)
{
  g_return_if_fail (CONFAB_IS_COMPOSER (self));

  self->setting_text = TRUE;
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), text != NULL ? text : "", -1);
  self->setting_text = FALSE;
}

void
confab_composer_clear (ConfabComposer *self)
{
  confab_composer_set_text (self, "");
}

gboolean
confab_composer_get_empty (ConfabComposer *self)
{
  g_return_val_if_fail (CONFAB_IS_COMPOSER (self), TRUE);

  return self->empty;
}

gboolean
confab_composer_submit (ConfabComposer *self)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (CONFAB_IS_COMPOSER (self), FALSE);

  text = confab_composer_dup_text (self);
  if (text_is_blank (text))
    return FALSE;
  g_signal_emit (self, signals[SIGNAL_SEND], 0, text);
  return TRUE;
}

GtkTextView *
confab_composer_get_text_view (ConfabComposer *self)
{
  g_return_val_if_fail (CONFAB_IS_COMPOSER (self), NULL);

  return self->text_view;
}
