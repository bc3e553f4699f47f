/* confab-banner.c: the connection banner (retry countdown, offline, signed out)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <gmodule.h>

#include "confab-banner.h"
#include "confab-widgets-private.h"

typedef enum {
  ACTION_NONE,
  ACTION_RETRY,
  ACTION_SIGN_IN,
} BannerAction;

struct _ConfabBanner
{
  AdwBin                   parent_instance;

  /* the fallback, from the template */
  GtkWidget               *box;
  GtkRevealer             *revealer;
  GtkLabel                *title_label;
  GtkButton               *button;

  GtkWidget               *adw_banner;     /* an AdwBanner, or NULL */
  gboolean                 use_adw_banner; /* construct-only */

  ConfabConnectionManager *manager;
  ConfabClock             *clock;          /* as set; NULL = the manager's */
  ConfabClock             *tick_clock;     /* the clock tick_id belongs to */
  guint                    tick_id;

  char                    *title;
  char                    *button_label;
  gboolean                 revealed;
  BannerAction             action;
  gboolean                 counting_down;
  gboolean                 dropped;        /* lost a connection and not back yet */
  ConfabUnavailableFeatures unavailable;
};

G_DEFINE_FINAL_TYPE (ConfabBanner, confab_banner, ADW_TYPE_BIN)

G_DEFINE_FLAGS_TYPE (ConfabUnavailableFeatures, confab_unavailable_features,
                     G_DEFINE_ENUM_VALUE (CONFAB_UNAVAILABLE_NONE, "none"),
                     G_DEFINE_ENUM_VALUE (CONFAB_UNAVAILABLE_TYPING, "typing"),
                     G_DEFINE_ENUM_VALUE (CONFAB_UNAVAILABLE_PRESENCE, "presence"),
                     G_DEFINE_ENUM_VALUE (CONFAB_UNAVAILABLE_READ_RECEIPTS, "read-receipts"),
                     G_DEFINE_ENUM_VALUE (CONFAB_UNAVAILABLE_LIVE_UPDATES, "live-updates"),
                     G_DEFINE_ENUM_VALUE (CONFAB_UNAVAILABLE_SENDING, "sending"))

enum {
  PROP_0,
  PROP_MANAGER,
  PROP_CLOCK,
  PROP_USE_ADW_BANNER,
  PROP_UNAVAILABLE,
  PROP_USES_ADW_BANNER,
  PROP_TITLE,
  PROP_BUTTON_LABEL,
  PROP_REVEALED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGN_IN_REQUESTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void update (ConfabBanner *self);

/* AdwBanner's type if this process's libadwaita has one (≥ 1.3), else 0. Not called
 * by its name: the 1.2 headers the build uses do not declare it. */
static GType
find_adw_banner_type (void)
{
  static GType type = 0;
  static gboolean looked = FALSE;
  GType (*get_type) (void) = NULL;
  GModule *self_module;

  if (looked)
    return type;
  looked = TRUE;

  type = g_type_from_name ("AdwBanner");
  if (type == 0 && (self_module = g_module_open (NULL, 0)) != NULL)
    {
      /* Types are registered on first use: ask the library itself. */
      if (g_module_symbol (self_module, "adw_banner_get_type", (gpointer *) &get_type) && get_type != NULL)
        type = get_type ();
      g_module_close (self_module);
    }
  if (type != 0 && !g_type_is_a (type, GTK_TYPE_WIDGET))
    type = 0;

  return type;
}

/* Ticks -------------------------------------------------------------------------------- */

static void
stop_ticking (ConfabBanner *self)
{
  if (self->tick_id != 0)
    confab_clock_clear_timeout (self->tick_clock, &self->tick_id);
  g_clear_object (&self->tick_clock);
}

static gboolean
tick_cb (gpointer user_data)
{
  ConfabBanner *self = user_data;

  self->tick_id = 0;
  g_clear_object (&self->tick_clock);
  update (self);

  return G_SOURCE_REMOVE;
}

/* One wake-up when the shown number of seconds changes, and only while it is seen. */
static void
schedule_tick (ConfabBanner *self,
               gint64        remaining_us)
{
  guint delay_ms;

  stop_ticking (self);
  if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
    return;

  delay_ms = (guint) ((remaining_us % G_USEC_PER_SEC) / 1000) + 1;
  self->tick_clock = _confab_widgets_pick_clock (self->clock, self->manager);
  self->tick_id = confab_clock_add_timeout (self->tick_clock, delay_ms, tick_cb, self, NULL);
}

/* Showing ------------------------------------------------------------------------------ */

static gboolean
set_string (char       **field,
            const char  *value)
{
  if (value == NULL)
    value = "";
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static void
show (ConfabBanner *self,
      const char   *title,
      const char   *button_label,
      BannerAction  action,
      const char   *accessible_label)
{
  gboolean revealed = title != NULL;
  gboolean title_changed;
  gboolean button_changed;
  gboolean revealed_changed = self->revealed != revealed;

  self->action = action;
  title_changed = set_string (&self->title, title);
  button_changed = set_string (&self->button_label, button_label);
  self->revealed = revealed;

  if (self->adw_banner != NULL)
    {
      g_autofree char *markup = g_markup_escape_text (self->title, -1);

      /* AdwBanner's title is markup. An empty button label hides its button. */
      if (title_changed)
        g_object_set (self->adw_banner, "title", markup, NULL);
      if (button_changed)
        g_object_set (self->adw_banner, "button-label", *self->button_label != '\0' ? self->button_label : NULL, NULL);
      if (revealed_changed)
        g_object_set (self->adw_banner, "revealed", revealed, NULL);
    }
  else
    {
      gtk_label_set_text (self->title_label, self->title);
      gtk_button_set_label (self->button, self->button_label);
      gtk_widget_set_visible (GTK_WIDGET (self->button), *self->button_label != '\0');
      gtk_revealer_set_reveal_child (self->revealer, revealed);
    }

  if (title_changed || revealed_changed)
    gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                    GTK_ACCESSIBLE_PROPERTY_LABEL,
                                    accessible_label != NULL ? accessible_label : self->title,
                                    -1);

  if (title_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
  if (button_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUTTON_LABEL]);
  if (revealed_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVEALED]);
}

static void
show_countdown (ConfabBanner *self)
{
  ConfabClock *clock = NULL;
  gint64 next_retry = confab_connection_manager_get_next_retry (self->manager);
  gint64 remaining = 0;
  g_autofree char *title = NULL;

  if (next_retry > 0)
    {
      clock = _confab_widgets_pick_clock (self->clock, self->manager);
      remaining = next_retry - _confab_widgets_wall (clock);
      g_object_unref (clock);
    }

  if (remaining <= 0)
    {
      self->counting_down = FALSE;
      stop_ticking (self);
      show (self, _("Reconnecting…"), _("Retry now"), ACTION_RETRY, NULL);
      return;
    }

  self->counting_down = TRUE;
  /* Translators: a countdown in whole seconds until the next connection attempt. */
  title = g_strdup_printf (_("Reconnecting in %d s…"),
                           (int) MIN ((remaining + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, (gint64) G_MAXINT));
  /* Screen readers get the news once, not a number every second. */
  show (self, title, _("Retry now"), ACTION_RETRY, _("Connection lost. Reconnecting automatically."));
  schedule_tick (self, remaining);
}

/* "Limited connection: no typing indicators, no read receipts" */
static void
show_limited (ConfabBanner              *self,
              ConfabUnavailableFeatures  unavailable)
{
  static const struct {
    ConfabUnavailableFeatures  feature;
    const char                *text;
  } features[] = {
    { CONFAB_UNAVAILABLE_LIVE_UPDATES, N_("new messages may arrive late") },
    { CONFAB_UNAVAILABLE_SENDING, N_("messages are sent later") },
    { CONFAB_UNAVAILABLE_TYPING, N_("no typing indicators") },
    { CONFAB_UNAVAILABLE_PRESENCE, N_("no presence") },
    { CONFAB_UNAVAILABLE_READ_RECEIPTS, N_("no read receipts") },
  };
  g_autoptr(GString) list = g_string_new (NULL);
  g_autofree char *title = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (features); i++)
    if (unavailable & features[i].feature)
      {
        if (list->len > 0)
          /* Translators: between the items of "Limited connection: a, b, c". */
          g_string_append (list, _(", "));
        g_string_append (list, _(features[i].text));
      }
  /* Translators: %s lists what does not work, e.g. "no typing indicators, no presence". */
  title = g_strdup_printf (_("Limited connection: %s"), list->str);
  show (self, title, NULL, ACTION_NONE, NULL);
}

static void
update (ConfabBanner *self)
{
  ConfabConnectionState state = CONFAB_CONNECTION_STATE_IDLE;

  if (self->manager != NULL)
    state = confab_connection_manager_get_state (self->manager);

  if (state != CONFAB_CONNECTION_STATE_RECONNECTING)
    {
      self->counting_down = FALSE;
      stop_ticking (self);
    }

  switch (state)
    {
    case CONFAB_CONNECTION_STATE_RECONNECTING:
      self->dropped = TRUE;
      show_countdown (self);
      break;
    case CONFAB_CONNECTION_STATE_CONNECTING:
      /* Between two rounds after a loss: no flicker, but nothing to press either. */
      if (self->dropped)
        show (self, _("Reconnecting…"), NULL, ACTION_NONE, NULL);
      else
        show (self, NULL, NULL, ACTION_NONE, NULL);
      break;
    case CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK:
      self->dropped = TRUE;
      show (self, _("Offline — messages will be sent when you’re back online"), NULL, ACTION_NONE, NULL);
      break;
    case CONFAB_CONNECTION_STATE_LIMITED:
      self->dropped = FALSE;
      show_limited (self, self->unavailable != CONFAB_UNAVAILABLE_NONE ? self->unavailable
                                                                     : CONFAB_UNAVAILABLE_LIMITED_DEFAULT);
      break;
    case CONFAB_CONNECTION_STATE_FAILED:
      if (_confab_widgets_error_is_auth (confab_connection_manager_get_last_error (self->manager)))
        show (self, _("Signed out"), _("Sign in"), ACTION_SIGN_IN,
              _("Signed out. Sign in again to keep chatting."));
      else
        show (self, _("Could not connect to the server"), _("Retry now"), ACTION_RETRY, NULL);
      break;
    case CONFAB_CONNECTION_STATE_UPDATING:
    case CONFAB_CONNECTION_STATE_CONNECTED:
      self->dropped = FALSE;
      if (self->unavailable != CONFAB_UNAVAILABLE_NONE)
        show_limited (self, self->unavailable);
      else
        show (self, NULL, NULL, ACTION_NONE, NULL);
      break;
    case CONFAB_CONNECTION_STATE_IDLE:
    default:
      self->dropped = FALSE;
      show (self, NULL, NULL, ACTION_NONE, NULL);
      break;
    }
}

static void
on_button_clicked (ConfabBanner *self)
{
  switch (self->action)
    {
    case ACTION_RETRY:
      if (self->manager != NULL)
        confab_connection_manager_retry_now (self->manager);
      break;
    case ACTION_SIGN_IN:
      g_signal_emit (self, signals[SIGN_IN_REQUESTED], 0);
      break;
    case ACTION_NONE:
    default:
      break;
    }
}

/* GObject ------------------------------------------------------------------------------ */

static void
confab_banner_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (confab_banner_parent_class)->map (widget);
  update (CONFAB_BANNER (widget));
}

static void
confab_banner_unmap (GtkWidget *widget)
{
  stop_ticking (CONFAB_BANNER (widget));
  GTK_WIDGET_CLASS (confab_banner_parent_class)->unmap (widget);
}

static void
confab_banner_constructed (GObject *object)
{
  ConfabBanner *self = CONFAB_BANNER (object);
  const char *forced = g_getenv (CONFAB_BANNER_FALLBACK_ENV);
  GType banner_type = 0;

  G_OBJECT_CLASS (confab_banner_parent_class)->constructed (object);

  if (self->use_adw_banner && (forced == NULL || g_strcmp0 (forced, "0") == 0))
    banner_type = find_adw_banner_type ();

  if (banner_type != 0)
    {
      self->adw_banner = g_object_new (banner_type, "revealed", FALSE, NULL);
      gtk_widget_set_hexpand (self->adw_banner, TRUE);
      g_signal_connect_object (self->adw_banner, "button-clicked", G_CALLBACK (on_button_clicked),
                               self, G_CONNECT_SWAPPED);
      gtk_widget_set_visible (GTK_WIDGET (self->revealer), FALSE);
      gtk_box_append (GTK_BOX (self->box), self->adw_banner);
    }
  g_debug ("Banner: using %s", self->adw_banner != NULL ? "AdwBanner" : "the GtkRevealer fallback");
  update (self);
}

static void
confab_banner_dispose (GObject *object)
{
  ConfabBanner *self = CONFAB_BANNER (object);

  stop_ticking (self);
  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->manager);
  g_clear_object (&self->clock);
  if (self->adw_banner != NULL)
    {
      gtk_box_remove (GTK_BOX (self->box), self->adw_banner);
      self->adw_banner = NULL;
    }
  /* AdwBin's own dispose would unparent the template's child a second time. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_BANNER);

  G_OBJECT_CLASS (confab_banner_parent_class)->dispose (object);
}

static void
confab_banner_finalize (GObject *object)
{
  ConfabBanner *self = CONFAB_BANNER (object);

  g_free (self->title);
  g_free (self->button_label);

  G_OBJECT_CLASS (confab_banner_parent_class)->finalize (object);
}

static void
confab_banner_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  ConfabBanner *self = CONFAB_BANNER (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      g_value_set_object (value, self->manager);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_USE_ADW_BANNER:
      g_value_set_boolean (value, self->use_adw_banner);
      break;
    case PROP_UNAVAILABLE:
      g_value_set_flags (value, self->unavailable);
      break;
    case PROP_USES_ADW_BANNER:
      g_value_set_boolean (value, self->adw_banner != NULL);
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_BUTTON_LABEL:
      g_value_set_string (value, self->button_label);
      break;
    case PROP_REVEALED:
      g_value_set_boolean (value, self->revealed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_banner_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  ConfabBanner *self = CONFAB_BANNER (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      confab_banner_set_manager (self, g_value_get_object (value));
      break;
    case PROP_CLOCK:
      confab_banner_set_clock (self, g_value_get_object (value));
      break;
    case PROP_USE_ADW_BANNER:
      self->use_adw_banner = g_value_get_boolean (value);
      break;
    case PROP_UNAVAILABLE:
      confab_banner_set_unavailable (self, g_value_get_flags (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_banner_class_init (ConfabBannerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_banner_constructed;
  object_class->dispose = confab_banner_dispose;
  object_class->finalize = confab_banner_finalize;
  object_class->get_property = confab_banner_get_property;
  object_class->set_property = confab_banner_set_property;
  widget_class->map = confab_banner_map;
  widget_class->unmap = confab_banner_unmap;

  properties[PROP_MANAGER] =
    g_param_spec_object ("manager", NULL, NULL, CONFAB_TYPE_CONNECTION_MANAGER, rw);
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, CONFAB_TYPE_CLOCK, rw);
  properties[PROP_USE_ADW_BANNER] =
    g_param_spec_boolean ("use-adw-banner", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_UNAVAILABLE] =
    g_param_spec_flags ("unavailable", NULL, NULL, CONFAB_TYPE_UNAVAILABLE_FEATURES,
                        CONFAB_UNAVAILABLE_NONE, rw);
  properties[PROP_USES_ADW_BANNER] =
    g_param_spec_boolean ("uses-adw-banner", NULL, NULL, FALSE, ro);
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, "", ro);
  properties[PROP_BUTTON_LABEL] =
    g_param_spec_string ("button-label", NULL, NULL, "", ro);
  properties[PROP_REVEALED] =
    g_param_spec_boolean ("revealed", NULL, NULL, FALSE, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabBanner::sign-in-requested:
   *
   * The user pressed "Sign in" after the server refused the credentials.
   */
  signals[SIGN_IN_REQUESTED] =
    g_signal_new ("sign-in-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);

  _confab_widgets_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class, CONFAB_WIDGETS_RESOURCE_PATH "confab-banner.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabBanner, box);
  gtk_widget_class_bind_template_child (widget_class, ConfabBanner, revealer);
  gtk_widget_class_bind_template_child (widget_class, ConfabBanner, title_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabBanner, button);
  gtk_widget_class_bind_template_callback (widget_class, on_button_clicked);
  gtk_widget_class_set_css_name (widget_class, "confab-banner");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_STATUS);
}

static void
confab_banner_init (ConfabBanner *self)
{
  self->use_adw_banner = TRUE;
  self->title = g_strdup ("");
  self->button_label = g_strdup ("");
  gtk_widget_init_template (GTK_WIDGET (self));
  _confab_widgets_ensure_style (GTK_WIDGET (self));
}

GtkWidget *
confab_banner_new (void)
{
  return g_object_new (CONFAB_TYPE_BANNER, NULL);
}

ConfabConnectionManager *
confab_banner_get_manager (ConfabBanner *self)
{
  g_return_val_if_fail (CONFAB_IS_BANNER (self), NULL);
  return self->manager;
}

void
confab_banner_set_manager (ConfabBanner            *self,
                           ConfabConnectionManager *manager)
{
  static const char *const watched[] = { "notify::state", "notify::next-retry", "notify::last-error" };

  g_return_if_fail (CONFAB_IS_BANNER (self));
  g_return_if_fail (manager == NULL || CONFAB_IS_CONNECTION_MANAGER (manager));

  if (self->manager == manager)
    return;

  stop_ticking (self);
  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_set_object (&self->manager, manager);
  self->dropped = FALSE;
  if (manager != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (watched); i++)
      g_signal_connect_object (manager, watched[i], G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MANAGER]);
}

ConfabClock *
confab_banner_get_clock (ConfabBanner *self)
{
  g_return_val_if_fail (CONFAB_IS_BANNER (self), NULL);
  return self->clock;
}

void
confab_banner_set_clock (ConfabBanner *self,
                         ConfabClock  *clock)
{
  g_return_if_fail (CONFAB_IS_BANNER (self));
  g_return_if_fail (clock == NULL || CONFAB_IS_CLOCK (clock));

  if (!g_set_object (&self->clock, clock))
    return;

  stop_ticking (self);
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOCK]);
}

gboolean
confab_banner_get_uses_adw_banner (ConfabBanner *self)
{
  g_return_val_if_fail (CONFAB_IS_BANNER (self), FALSE);
  return self->adw_banner != NULL;
}

const char *
confab_banner_get_title (ConfabBanner *self)
{
  g_return_val_if_fail (CONFAB_IS_BANNER (self), NULL);
  return self->title;
}

const char *
confab_banner_get_button_label (ConfabBanner *self)
{
  g_return_val_if_fail (CONFAB_IS_BANNER (self), NULL);
  return self->button_label;
}

gboolean
confab_banner_get_revealed (ConfabBanner *self)
{
  g_return_val_if_fail (CONFAB_IS_BANNER (self), FALSE);
  return self->revealed;
}

ConfabUnavailableFeatures
confab_banner_get_unavailable (ConfabBanner *self)
{
  g_return_val_if_fail (CONFAB_IS_BANNER (self), CONFAB_UNAVAILABLE_NONE);
  return self->unavailable;
}

void
confab_banner_set_unavailable (ConfabBanner              *self,
                               ConfabUnavailableFeatures  unavailable)
{
  g_return_if_fail (CONFAB_IS_BANNER (self));

  if (self->unavailable == unavailable)
    return;
  self->unavailable = unavailable;
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNAVAILABLE]);
}
