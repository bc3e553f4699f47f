/* confab-quality-badge.c: connection quality as a coloured dot and a word
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <math.h>

#include "confab-quality-badge.h"
#include "confab-redact.h"
#include "confab-widgets-private.h"

struct _ConfabQualityBadge
{
  AdwBin                   parent_instance;

  GtkWidget               *box;
  GtkWidget               *dot;
  GtkLabel                *label;

  ConfabConnectionManager *manager;
  const char              *css_class;  /* the rating's class on self, or NULL */
  char                    *word;       /* shown now; "" when hidden */
  char                    *accessible_details; /* the accessible description set last */
};

G_DEFINE_FINAL_TYPE (ConfabQualityBadge, confab_quality_badge, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_MANAGER,
  PROP_LABEL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *
quality_class (ConfabQuality quality)
{
  switch (quality)
    {
    case CONFAB_QUALITY_EXCELLENT:
      return "excellent";
    case CONFAB_QUALITY_GOOD:
      return "good";
    case CONFAB_QUALITY_POOR:
      return "poor";
    case CONFAB_QUALITY_UNKNOWN:
    default:
      return NULL;
    }
}

/* The details, one per line, for the tooltip and the accessible description. */
static char *
describe_details (ConfabQualityBadge *self)
{
  ConfabConnectionManager *manager = self->manager;
  g_autoptr(GString) details = g_string_new (NULL);
  g_autofree char *endpoint = NULL;
  const char *transport = confab_connection_manager_get_transport (manager);
  int rtt_ms = confab_connection_manager_get_rtt_ms (manager);
  double loss = confab_connection_manager_get_loss (manager);

  if (rtt_ms >= 0)
    g_string_append_printf (details, _("Round trip: %d ms"), rtt_ms);
  else
    g_string_append (details, _("Round trip: not measured yet"));
  g_string_append_c (details, '\n');
  if (!isnan (loss))
    {
      g_string_append_printf (details, _("Packet loss: %.0f %%"), CLAMP (loss, 0.0, 1.0) * 100.0);
      g_string_append_c (details, '\n');
    }
  if (transport != NULL)
    {
      g_string_append_printf (details, _("Transport: %s"), _confab_widgets_transport_name (transport));
      g_string_append_c (details, '\n');
    }
  /* The manager's endpoint carries no token; redacted again all the same. */
  if (confab_connection_manager_get_endpoint (manager) != NULL)
    {
      endpoint = confab_redact_url (confab_connection_manager_get_endpoint (manager));
      g_string_append_printf (details, _("Server: %s"), endpoint);
      g_string_append_c (details, '\n');
    }
  if (details->len > 0 && details->str[details->len - 1] == '\n')
    g_string_truncate (details, details->len - 1);

  return g_string_free (g_steal_pointer (&details), FALSE);
}

static void
set_word (ConfabQualityBadge *self,
          const char         *word)
{
  if (word == NULL)
    word = "";
  if (g_strcmp0 (self->word, word) == 0)
    return;

  g_free (self->word);
  self->word = g_strdup (word);
  gtk_label_set_text (self->label, word);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABEL]);
}

static ConfabQuality
shown_quality (ConfabQualityBadge *self)
{
  ConfabConnectionState state;

  if (self->manager == NULL)
    return CONFAB_QUALITY_UNKNOWN;
  state = confab_connection_manager_get_state (self->manager);
  /* Only a usable connection has a quality worth showing. */
  if (state != CONFAB_CONNECTION_STATE_CONNECTED && state != CONFAB_CONNECTION_STATE_UPDATING)
    return CONFAB_QUALITY_UNKNOWN;
  return confab_connection_manager_get_quality (self->manager);
}

/* Built when GTK asks (the pointer rests on the badge), not on every RTT sample: setting
 * a tooltip text makes GTK query the pointer and arm its tooltip timer each time. */
static gboolean
on_query_tooltip (ConfabQualityBadge *self,
                  int                 x,
                  int                 y,
                  gboolean            keyboard_mode,
                  GtkTooltip         *tooltip)
{
  g_autofree char *text = confab_quality_badge_dup_tooltip_text (self);

  if (text == NULL)
    return FALSE;
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* Runs for every change the manager notifies (each RTT sample among them) and touches
 * only what differs: an unchanged rating costs no style change and no relayout. */
static void
update (ConfabQualityBadge *self)
{
  ConfabQuality quality = shown_quality (self);
  const char *word = _confab_widgets_quality_word (quality);
  const char *css_class = quality_class (quality);
  gboolean word_changed;
  g_autofree char *name = NULL;
  g_autofree char *details = NULL;

  if (g_strcmp0 (self->css_class, css_class) != 0)
    {
      if (self->css_class != NULL)
        gtk_widget_remove_css_class (GTK_WIDGET (self), self->css_class);
      self->css_class = css_class;
      if (css_class != NULL)
        gtk_widget_add_css_class (GTK_WIDGET (self), css_class);
    }

  word_changed = g_strcmp0 (self->word, word != NULL ? word : "") != 0;
  gtk_widget_set_visible (self->box, word != NULL);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), word != NULL);
  set_word (self, word);

  if (word == NULL)
    {
      if (word_changed || self->accessible_details == NULL || *self->accessible_details != '\0')
        {
          g_free (self->accessible_details);
          self->accessible_details = g_strdup ("");
          gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                          GTK_ACCESSIBLE_PROPERTY_LABEL, _("Connection quality unknown"),
                                          GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "",
                                          -1);
        }
      return;
    }

  details = describe_details (self);
  if (!word_changed && g_strcmp0 (details, self->accessible_details) == 0)
    return;
  /* Translators: %s is Excellent, Good or Poor. */
  name = g_strdup_printf (_("Connection quality: %s"), word);
  g_free (self->accessible_details);
  self->accessible_details = g_steal_pointer (&details);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, name,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, self->accessible_details,
                                  -1);
}

static void
confab_quality_badge_dispose (GObject *object)
{
  ConfabQualityBadge *self = CONFAB_QUALITY_BADGE (object);

  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->manager);
  /* AdwBin's own dispose would unparent the template's child a second time. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_QUALITY_BADGE);

  G_OBJECT_CLASS (confab_quality_badge_parent_class)->dispose (object);
}

static void
confab_quality_badge_finalize (GObject *object)
{
  ConfabQualityBadge *self = CONFAB_QUALITY_BADGE (object);

  g_free (self->word);
  g_free (self->accessible_details);

  G_OBJECT_CLASS (confab_quality_badge_parent_class)->finalize (object);
}

static void
confab_quality_badge_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  ConfabQualityBadge *self = CONFAB_QUALITY_BADGE (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      g_value_set_object (value, self->manager);
      break;
    case PROP_LABEL:
      g_value_set_string (value, self->word);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_quality_badge_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  ConfabQualityBadge *self = CONFAB_QUALITY_BADGE (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      confab_quality_badge_set_manager (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_quality_badge_class_init (ConfabQualityBadgeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_quality_badge_dispose;
  object_class->finalize = confab_quality_badge_finalize;
  object_class->get_property = confab_quality_badge_get_property;
  object_class->set_property = confab_quality_badge_set_property;

  properties[PROP_MANAGER] =
    g_param_spec_object ("manager", NULL, NULL, CONFAB_TYPE_CONNECTION_MANAGER,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LABEL] =
    g_param_spec_string ("label", NULL, NULL, "",
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  _confab_widgets_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               CONFAB_WIDGETS_RESOURCE_PATH "confab-quality-badge.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabQualityBadge, box);
  gtk_widget_class_bind_template_child (widget_class, ConfabQualityBadge, dot);
  gtk_widget_class_bind_template_child (widget_class, ConfabQualityBadge, label);
  gtk_widget_class_set_css_name (widget_class, "confab-quality-badge");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_STATUS);
}

static void
confab_quality_badge_init (ConfabQualityBadge *self)
{
  self->word = g_strdup ("");
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect (self, "query-tooltip", G_CALLBACK (on_query_tooltip), NULL);
  _confab_widgets_ensure_style (GTK_WIDGET (self));
  update (self);
}

GtkWidget *
confab_quality_badge_new (void)
{
  return g_object_new (CONFAB_TYPE_QUALITY_BADGE, NULL);
}

ConfabConnectionManager *
confab_quality_badge_get_manager (ConfabQualityBadge *self)
{
  g_return_val_if_fail (CONFAB_IS_QUALITY_BADGE (self), NULL);
  return self->manager;
}

void
confab_quality_badge_set_manager (ConfabQualityBadge      *self,
                                  ConfabConnectionManager *manager)
{
  static const char *const watched[] = {
    "notify::quality", "notify::state", "notify::rtt-ms", "notify::loss",
    "notify::transport", "notify::endpoint",
  };

  g_return_if_fail (CONFAB_IS_QUALITY_BADGE (self));
  g_return_if_fail (manager == NULL || CONFAB_IS_CONNECTION_MANAGER (manager));

  if (self->manager == manager)
    return;

  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_set_object (&self->manager, manager);
  if (manager != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (watched); i++)
      g_signal_connect_object (manager, watched[i], G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MANAGER]);
}

const char *
confab_quality_badge_get_label (ConfabQualityBadge *self)
{
  g_return_val_if_fail (CONFAB_IS_QUALITY_BADGE (self), NULL);
  return self->word;
}

char *
confab_quality_badge_dup_tooltip_text (ConfabQualityBadge *self)
{
  const char *word;
  g_autofree char *name = NULL;
  g_autofree char *details = NULL;

  g_return_val_if_fail (CONFAB_IS_QUALITY_BADGE (self), NULL);

  word = _confab_widgets_quality_word (shown_quality (self));
  if (word == NULL)
    return NULL;
  /* Translators: %s is Excellent, Good or Poor. */
  name = g_strdup_printf (_("Connection quality: %s"), word);
  details = describe_details (self);
  return g_strdup_printf ("%s\n%s", name, details);
}
