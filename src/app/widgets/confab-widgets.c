/* confab-widgets.c: what the connection widgets share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "confab-error.h"
#include "confab-widgets.h"
#include "confab-widgets-private.h"
#include "confab-widgets-resources.h"

#define STYLE_DATA_KEY "confab-widgets-style"

void
_confab_widgets_ensure_resources (void)
{
  static gsize registered = 0;

  if (g_once_init_enter (&registered))
    {
      /* Registered by hand: a static library's constructor would be dropped by the
       * linker when nothing else in its object file is used. */
      confab_widgets_register_resource ();
      g_once_init_leave (&registered, 1);
    }
}

void
_confab_widgets_ensure_style (GtkWidget *widget)
{
  GdkDisplay *display = widget != NULL ? gtk_widget_get_display (widget) : gdk_display_get_default ();
  g_autoptr(GtkCssProvider) provider = NULL;

  if (display == NULL || g_object_get_data (G_OBJECT (display), STYLE_DATA_KEY) != NULL)
    return;

  _confab_widgets_ensure_resources ();
  provider = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (provider, CONFAB_WIDGETS_RESOURCE_PATH "confab-widgets.css");
  gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (provider),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_object_set_data_full (G_OBJECT (display), STYLE_DATA_KEY, g_steal_pointer (&provider), g_object_unref);
}

ConfabClock *
_confab_widgets_pick_clock (ConfabClock             *explicit_clock,
                            ConfabConnectionManager *manager)
{
  ConfabClock *clock = NULL;

  if (explicit_clock != NULL)
    return g_object_ref (explicit_clock);
  if (manager != NULL)
    g_object_get (manager, "clock", &clock, NULL);
  if (clock == NULL)
    clock = g_object_ref (confab_clock_get_default ());
  return clock;
}

gint64
_confab_widgets_wall (ConfabClock *clock)
{
  return confab_clock_wall (clock);
}

gboolean
_confab_widgets_error_is_auth (const GError *error)
{
  ConfabErrorCode code;

  if (error == NULL)
    return FALSE;
  code = confab_error_classify (error);
  return code == CONFAB_ERROR_AUTH || code == CONFAB_ERROR_TOKEN_EXPIRED;
}

const char *
_confab_widgets_transport_name (const char *nick)
{
  if (g_strcmp0 (nick, "websocket") == 0)
    return _("WebSocket");
  if (g_strcmp0 (nick, "longpoll") == 0)
    return _("long-polling");
  if (g_strcmp0 (nick, "sse") == 0)
    return _("server-sent events");
  return nick != NULL ? nick : "";
}

const char *
_confab_widgets_quality_word (ConfabQuality quality)
{
  switch (quality)
    {
    case CONFAB_QUALITY_EXCELLENT:
      return C_("connection quality", "Excellent");
    case CONFAB_QUALITY_GOOD:
      return C_("connection quality", "Good");
    case CONFAB_QUALITY_POOR:
      return C_("connection quality", "Poor");
    case CONFAB_QUALITY_UNKNOWN:
    default:
      return NULL;
    }
}

void
confab_widgets_init (void)
{
  _confab_widgets_ensure_resources ();
  g_type_ensure (CONFAB_TYPE_CONNECTION_STATUS);
  g_type_ensure (CONFAB_TYPE_QUALITY_BADGE);
  g_type_ensure (CONFAB_TYPE_BANNER);
  g_type_ensure (CONFAB_TYPE_CONNECTION_DETAILS_DIALOG);
  _confab_widgets_ensure_style (NULL);
}
