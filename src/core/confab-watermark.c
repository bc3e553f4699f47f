/* confab-watermark.c: the time of the newest event delivered, kept across restarts
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>

#include "confab-system-clock.h"
#include "confab-watermark.h"

struct _ConfabWatermark
{
  GObject      parent_instance;

  char        *path;
  ConfabClock *clock;
  gint64       value;
  gboolean     dirty;    /* not on disk yet */
  guint        save_id;
};

enum {
  PROP_0,
  PROP_PATH,
  PROP_CLOCK,
  PROP_VALUE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (ConfabWatermark, confab_watermark, G_TYPE_OBJECT)

gint64
confab_watermark_parse_time (const char *text)
{
  g_autoptr(GDateTime) dt = NULL;

  if (text == NULL)
    return 0;
  dt = g_date_time_new_from_iso8601 (text, NULL);
  if (dt == NULL)
    return 0;
  return g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
}

static void
load (ConfabWatermark *self)
{
  g_autofree char *text = NULL;
  gint64 value;
  char *end = NULL;

  if (self->path == NULL || !g_file_get_contents (self->path, &text, NULL, NULL))
    return;

  errno = 0;
  value = g_ascii_strtoll (g_strstrip (text), &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value <= 0)
    {
      g_debug ("Watermark: ignoring an unreadable watermark file");
      return;
    }
  self->value = value;
}

void
confab_watermark_flush (ConfabWatermark *self)
{
  g_autofree char *dir = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (CONFAB_IS_WATERMARK (self));

  confab_clock_clear_timeout (self->clock, &self->save_id);
  if (!self->dirty || self->path == NULL)
    return;

  self->dirty = FALSE;
  dir = g_path_get_dirname (self->path);
  text = g_strdup_printf ("%" G_GINT64_FORMAT "\n", self->value);
  if (g_mkdir_with_parents (dir, 0700) != 0 ||
      !g_file_set_contents_full (self->path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_debug ("Watermark: cannot store the watermark: %s",
             error != NULL ? error->message : g_strerror (errno));
}

static gboolean
save_cb (gpointer user_data)
{
  ConfabWatermark *self = user_data;

  self->save_id = 0;
  confab_watermark_flush (self);
  return G_SOURCE_REMOVE;
}

void
confab_watermark_advance (ConfabWatermark *self,
                          gint64           at_usec)
{
  g_return_if_fail (CONFAB_IS_WATERMARK (self));

  if (at_usec <= self->value)
    return;

  self->value = at_usec;
  if (self->path != NULL)
    {
      self->dirty = TRUE;
      if (self->save_id == 0)
        self->save_id = confab_clock_add_timeout (self->clock, CONFAB_WATERMARK_SAVE_MS, save_cb, self, NULL);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VALUE]);
}

gint64
confab_watermark_get_value (ConfabWatermark *self)
{
  g_return_val_if_fail (CONFAB_IS_WATERMARK (self), 0);
  return self->value;
}

const char *
confab_watermark_get_path (ConfabWatermark *self)
{
  g_return_val_if_fail (CONFAB_IS_WATERMARK (self), NULL);
  return self->path;
}

static void
confab_watermark_constructed (GObject *object)
{
  ConfabWatermark *self = CONFAB_WATERMARK (object);

  G_OBJECT_CLASS (confab_watermark_parent_class)->constructed (object);

  if (self->clock == NULL)
    self->clock = CONFAB_CLOCK (confab_system_clock_new ());
  load (self);
}

static void
confab_watermark_dispose (GObject *object)
{
  ConfabWatermark *self = CONFAB_WATERMARK (object);

  /* A value not written yet is written now: it is what the next catch-up starts from. */
  if (self->clock != NULL)
    confab_watermark_flush (self);
  g_clear_object (&self->clock);

  G_OBJECT_CLASS (confab_watermark_parent_class)->dispose (object);
}

static void
confab_watermark_finalize (GObject *object)
{
  ConfabWatermark *self = CONFAB_WATERMARK (object);

  g_free (self->path);

  G_OBJECT_CLASS (confab_watermark_parent_class)->finalize (object);
}

static void
confab_watermark_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  ConfabWatermark *self = CONFAB_WATERMARK (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_VALUE:
      g_value_set_int64 (value, self->value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_watermark_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  ConfabWatermark *self = CONFAB_WATERMARK (object);

  switch (prop_id)
    {
    case PROP_PATH:
      self->path = g_value_dup_string (value);
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_watermark_class_init (ConfabWatermarkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_watermark_constructed;
  object_class->dispose = confab_watermark_dispose;
  object_class->finalize = confab_watermark_finalize;
  object_class->get_property = confab_watermark_get_property;
  object_class->set_property = confab_watermark_set_property;

  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL, co);
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, CONFAB_TYPE_CLOCK, co);
  properties[PROP_VALUE] =
    g_param_spec_int64 ("value", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_watermark_init (ConfabWatermark *self)
{
}

ConfabWatermark *
confab_watermark_new (const char  *path,
                      ConfabClock *clock)
{
  g_return_val_if_fail (clock == NULL || CONFAB_IS_CLOCK (clock), NULL);

  return g_object_new (CONFAB_TYPE_WATERMARK, "path", path, "clock", clock, NULL);
}
