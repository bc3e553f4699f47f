/* confab-connection-status.c: the connection's stage in words ("Signing in…")
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "confab-connection-status.h"
#include "confab-widgets-private.h"

struct _ConfabConnectionStatus
{
  AdwBin                   parent_instance;

  GtkRevealer             *revealer;
  GtkSpinner              *spinner;
  GtkLabel                *label;

  ConfabConnectionManager *manager;
  GListModel              *attempts;       /* the manager's diagnostics' timeline */
  ConfabClock             *clock;          /* as set; NULL = the manager's */
  ConfabClock             *timer_clock;    /* the clock show_id belongs to */
  guint                    show_delay_ms;
  guint                    show_id;
  char                    *text;           /* shown now; "" when nothing */

  /* "Trying another route…": a round's attempt on another transport than its first. */
  ConfabConnectionState    last_state;
  char                    *round_transport;
  gboolean                 fallback;
  ConfabStage              fallback_stage;
};

G_DEFINE_FINAL_TYPE (ConfabConnectionStatus, confab_connection_status, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_MANAGER,
  PROP_CLOCK,
  PROP_SHOW_DELAY_MS,
  PROP_TEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gboolean
is_secure (ConfabConnectionManager *manager)
{
  g_autofree char *base_url = NULL;

  g_object_get (manager, "base-url", &base_url, NULL);
  return base_url != NULL && g_ascii_strncasecmp (base_url, "https:", 6) == 0;
}

/* What the state and stage mean for the user now; NULL for nothing to say. */
static const char *
describe (ConfabConnectionStatus *self)
{
  ConfabConnectionManager *manager = self->manager;
  ConfabStage stage;

  if (manager == NULL)
    return NULL;

  stage = confab_connection_manager_get_stage (manager);
  switch (confab_connection_manager_get_state (manager))
    {
    case CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK:
      return _("Waiting for network…");
    case CONFAB_CONNECTION_STATE_CONNECTING:
      if (self->fallback && stage <= self->fallback_stage)
        return _("Trying another route…");
      switch (stage)
        {
        case CONFAB_STAGE_IDLE:
        case CONFAB_STAGE_RESOLVING:
          return _("Looking up the server…");
        case CONFAB_STAGE_CONNECTING:
        case CONFAB_STAGE_TLS:
        case CONFAB_STAGE_UPGRADING:
          /* Plain ws:// is for loopback only; it is not "secure". */
          return is_secure (manager) ? _("Opening a secure connection…") : _("Connecting…");
        case CONFAB_STAGE_AUTHENTICATING:
          return _("Signing in…");
        case CONFAB_STAGE_SYNCING:
        case CONFAB_STAGE_READY:
        default:
          return _("Loading conversations…");
        }
    case CONFAB_CONNECTION_STATE_UPDATING:
      return _("Loading conversations…");
    case CONFAB_CONNECTION_STATE_CONNECTED:
      if (g_strcmp0 (confab_connection_manager_get_transport (manager), "longpoll") == 0)
        return _("Using a slower connection (long-polling)");
      return NULL;
    case CONFAB_CONNECTION_STATE_RECONNECTING:
      return _("Not connected");
    case CONFAB_CONNECTION_STATE_LIMITED:
      return _("Limited connection");
    case CONFAB_CONNECTION_STATE_FAILED:
      if (_confab_widgets_error_is_auth (confab_connection_manager_get_last_error (manager)))
        return _("Signed out");
      return _("Not connected");
    case CONFAB_CONNECTION_STATE_IDLE:
    default:
      return NULL;
    }
}

/* Whether the state is work in progress (a spinner), not a standing condition. */
static gboolean
in_progress (ConfabConnectionStatus *self)
{
  switch (self->manager != NULL ? confab_connection_manager_get_state (self->manager) : CONFAB_CONNECTION_STATE_IDLE)
    {
    case CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK:
    case CONFAB_CONNECTION_STATE_CONNECTING:
    case CONFAB_CONNECTION_STATE_UPDATING:
      return TRUE;
    case CONFAB_CONNECTION_STATE_IDLE:
    case CONFAB_CONNECTION_STATE_CONNECTED:
    case CONFAB_CONNECTION_STATE_RECONNECTING:
    case CONFAB_CONNECTION_STATE_LIMITED:
    case CONFAB_CONNECTION_STATE_FAILED:
    default:
      return FALSE;
    }
}

static void
set_text (ConfabConnectionStatus *self,
          const char             *text)
{
  gboolean shown = text != NULL && *text != '\0';
  gboolean spinning = shown && in_progress (self);

  if (text == NULL)
    text = "";

  gtk_revealer_set_reveal_child (self->revealer, shown);
  gtk_spinner_set_spinning (self->spinner, spinning);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), spinning);
  if (g_strcmp0 (self->text, text) == 0)
    return;

  g_free (self->text);
  self->text = g_strdup (text);
  gtk_label_set_text (self->label, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, text,
                                  -1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

static void
cancel_show (ConfabConnectionStatus *self)
{
  if (self->show_id != 0)
    confab_clock_clear_timeout (self->timer_clock, &self->show_id);
  g_clear_object (&self->timer_clock);
}

static gboolean
show_cb (gpointer user_data)
{
  ConfabConnectionStatus *self = user_data;

  self->show_id = 0;
  g_clear_object (&self->timer_clock);
  set_text (self, describe (self));

  return G_SOURCE_REMOVE;
}

static void
update (ConfabConnectionStatus *self)
{
  const char *text = describe (self);

  if (text == NULL)
    {
      /* Hidden at once: a blip ends here without ever being seen. */
      cancel_show (self);
      set_text (self, NULL);
      return;
    }

  if (*self->text != '\0' || self->show_delay_ms == 0)
    {
      set_text (self, text);
      return;
    }

  /* Nothing shown yet: show only if there is still something to say after the delay. */
  if (self->show_id == 0)
    {
      self->timer_clock = _confab_widgets_pick_clock (self->clock, self->manager);
      self->show_id = confab_clock_add_timeout (self->timer_clock, self->show_delay_ms, show_cb, self, NULL);
    }
}

static void
on_state_changed (ConfabConnectionStatus *self)
{
  ConfabConnectionState state = confab_connection_manager_get_state (self->manager);

  if (state != self->last_state)
    {
      if (state == CONFAB_CONNECTION_STATE_CONNECTING || self->last_state == CONFAB_CONNECTION_STATE_CONNECTING)
        {
          /* A new round, or the end of one. */
          g_clear_pointer (&self->round_transport, g_free);
          self->fallback = FALSE;
        }
      self->last_state = state;
    }
  update (self);
}

static void
on_attempts_changed (ConfabConnectionStatus *self,
                     guint                   position,
                     guint                   removed,
                     guint                   added,
                     GListModel             *attempts)
{
  if (self->manager == NULL ||
      confab_connection_manager_get_state (self->manager) != CONFAB_CONNECTION_STATE_CONNECTING)
    return;

  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(ConfabAttempt) attempt = g_list_model_get_item (attempts, i);
      const char *transport = confab_attempt_get_transport (attempt);

      if (self->round_transport == NULL)
        self->round_transport = g_strdup (transport);
      else if (g_strcmp0 (self->round_transport, transport) != 0 && !self->fallback)
        {
          self->fallback = TRUE;
          self->fallback_stage = confab_connection_manager_get_stage (self->manager);
        }
    }
  update (self);
}

static void
disconnect_manager (ConfabConnectionStatus *self)
{
  if (self->attempts != NULL)
    g_signal_handlers_disconnect_by_data (self->attempts, self);
  g_clear_object (&self->attempts);
  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->manager);
  g_clear_pointer (&self->round_transport, g_free);
  self->fallback = FALSE;
  self->last_state = CONFAB_CONNECTION_STATE_IDLE;
  cancel_show (self);
}

static void
confab_connection_status_dispose (GObject *object)
{
  ConfabConnectionStatus *self = CONFAB_CONNECTION_STATUS (object);

  disconnect_manager (self);
  g_clear_object (&self->clock);
  /* AdwBin's own dispose would unparent the template's child a second time. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_CONNECTION_STATUS);

  G_OBJECT_CLASS (confab_connection_status_parent_class)->dispose (object);
}

static void
confab_connection_status_finalize (GObject *object)
{
  ConfabConnectionStatus *self = CONFAB_CONNECTION_STATUS (object);

  g_free (self->text);

  G_OBJECT_CLASS (confab_connection_status_parent_class)->finalize (object);
}

static void
confab_connection_status_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  ConfabConnectionStatus *self = CONFAB_CONNECTION_STATUS (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      g_value_set_object (value, self->manager);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_SHOW_DELAY_MS:
      g_value_set_uint (value, self->show_delay_ms);
      break;
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_connection_status_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  ConfabConnectionStatus *self = CONFAB_CONNECTION_STATUS (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      confab_connection_status_set_manager (self, g_value_get_object (value));
      break;
    case PROP_CLOCK:
      confab_connection_status_set_clock (self, g_value_get_object (value));
      break;
    case PROP_SHOW_DELAY_MS:
      confab_connection_status_set_show_delay_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_connection_status_class_init (ConfabConnectionStatusClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = confab_connection_status_dispose;
  object_class->finalize = confab_connection_status_finalize;
  object_class->get_property = confab_connection_status_get_property;
  object_class->set_property = confab_connection_status_set_property;

  properties[PROP_MANAGER] =
    g_param_spec_object ("manager", NULL, NULL, CONFAB_TYPE_CONNECTION_MANAGER, rw);
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, CONFAB_TYPE_CLOCK, rw);
  properties[PROP_SHOW_DELAY_MS] =
    g_param_spec_uint ("show-delay-ms", NULL, NULL, 0, 60000,
                       CONFAB_CONNECTION_STATUS_DEFAULT_SHOW_DELAY_MS, rw);
  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, "",
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  _confab_widgets_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               CONFAB_WIDGETS_RESOURCE_PATH "confab-connection-status.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionStatus, revealer);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionStatus, spinner);
  gtk_widget_class_bind_template_child (widget_class, ConfabConnectionStatus, label);
  gtk_widget_class_set_css_name (widget_class, "confab-connection-status");
  /* Screen readers announce a status's changes without moving the focus. */
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_STATUS);
}

static void
confab_connection_status_init (ConfabConnectionStatus *self)
{
  self->show_delay_ms = CONFAB_CONNECTION_STATUS_DEFAULT_SHOW_DELAY_MS;
  self->text = g_strdup ("");
  self->last_state = CONFAB_CONNECTION_STATE_IDLE;
  gtk_widget_init_template (GTK_WIDGET (self));
  _confab_widgets_ensure_style (GTK_WIDGET (self));
}

GtkWidget *
confab_connection_status_new (void)
{
  return g_object_new (CONFAB_TYPE_CONNECTION_STATUS, NULL);
}

ConfabConnectionManager *
confab_connection_status_get_manager (ConfabConnectionStatus *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_STATUS (self), NULL);
  return self->manager;
}

void
confab_connection_status_set_manager (ConfabConnectionStatus  *self,
                                      ConfabConnectionManager *manager)
{
  g_return_if_fail (CONFAB_IS_CONNECTION_STATUS (self));
  g_return_if_fail (manager == NULL || CONFAB_IS_CONNECTION_MANAGER (manager));

  if (self->manager == manager)
    return;

  disconnect_manager (self);
  if (manager != NULL)
    {
      ConfabDiagnostics *diagnostics = confab_connection_manager_get_diagnostics (manager);

      self->manager = g_object_ref (manager);
      self->last_state = confab_connection_manager_get_state (manager);
      g_signal_connect_object (manager, "notify::state", G_CALLBACK (on_state_changed), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (manager, "notify::stage", G_CALLBACK (update), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (manager, "notify::transport", G_CALLBACK (update), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (manager, "notify::last-error", G_CALLBACK (update), self, G_CONNECT_SWAPPED);
      if (diagnostics != NULL)
        {
          self->attempts = g_object_ref (confab_diagnostics_get_attempts (diagnostics));
          g_signal_connect_object (self->attempts, "items-changed", G_CALLBACK (on_attempts_changed),
                                   self, G_CONNECT_SWAPPED);
        }
    }
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MANAGER]);
}

ConfabClock *
confab_connection_status_get_clock (ConfabConnectionStatus *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_STATUS (self), NULL);
  return self->clock;
}

void
confab_connection_status_set_clock (ConfabConnectionStatus *self,
                                    ConfabClock            *clock)
{
  g_return_if_fail (CONFAB_IS_CONNECTION_STATUS (self));
  g_return_if_fail (clock == NULL || CONFAB_IS_CLOCK (clock));

  if (!g_set_object (&self->clock, clock))
    return;

  /* A pending show belongs to the old clock: start it again on the new one. */
  if (self->show_id != 0)
    {
      cancel_show (self);
      update (self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOCK]);
}

guint
confab_connection_status_get_show_delay_ms (ConfabConnectionStatus *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_STATUS (self), 0);
  return self->show_delay_ms;
}

void
confab_connection_status_set_show_delay_ms (ConfabConnectionStatus *self,
                                            guint                   show_delay_ms)
{
  g_return_if_fail (CONFAB_IS_CONNECTION_STATUS (self));

  if (self->show_delay_ms == show_delay_ms)
    return;

  self->show_delay_ms = show_delay_ms;
  if (self->show_id != 0)
    {
      cancel_show (self);
      update (self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_DELAY_MS]);
}

const char *
confab_connection_status_get_text (ConfabConnectionStatus *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_STATUS (self), NULL);
  return self->text;
}
