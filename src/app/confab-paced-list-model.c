/* confab-paced-list-model.c: a list model that shows items appended in a burst a few
 * times a second instead of one by one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-pace.h"
#include "confab-paced-list-model.h"

struct _ConfabPacedListModel
{
  GObject     parent_instance;

  GListModel *model;
  guint       interval_ms;
  guint       n_shown;      /* the first n_shown items of model; the rest are held back */
  gint64      shown_at;     /* monotonic µs of the last append shown; 0: never */
  guint       timeout_id;   /* while items are held back */
};

static void confab_paced_list_model_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabPacedListModel, confab_paced_list_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      confab_paced_list_model_list_model_init))

enum {
  PROP_0,
  PROP_MODEL,
  PROP_INTERVAL_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* GListModel ----------------------------------------------------------------------------- */

static GType
confab_paced_list_model_get_item_type (GListModel *list)
{
  ConfabPacedListModel *self = CONFAB_PACED_LIST_MODEL (list);

  return g_list_model_get_item_type (self->model);
}

static guint
confab_paced_list_model_get_n_items (GListModel *list)
{
  ConfabPacedListModel *self = CONFAB_PACED_LIST_MODEL (list);

  return self->n_shown;
}

static gpointer
confab_paced_list_model_get_item (GListModel *list,
                                  guint       position)
{
  ConfabPacedListModel *self = CONFAB_PACED_LIST_MODEL (list);

  if (position >= self->n_shown)
    return NULL;
  return g_list_model_get_item (self->model, position);
}

static void
confab_paced_list_model_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = confab_paced_list_model_get_item_type;
  iface->get_n_items = confab_paced_list_model_get_n_items;
  iface->get_item = confab_paced_list_model_get_item;
}

/* Pacing --------------------------------------------------------------------------------- */

static void
show_held (ConfabPacedListModel *self)
{
  guint n_items = g_list_model_get_n_items (self->model);
  guint before = self->n_shown;

  g_clear_handle_id (&self->timeout_id, g_source_remove);
  if (n_items <= before)
    return;
  self->n_shown = n_items;
  self->shown_at = g_get_monotonic_time ();
  g_list_model_items_changed (G_LIST_MODEL (self), before, 0, n_items - before);
}

static gboolean
on_timeout (gpointer user_data)
{
  ConfabPacedListModel *self = user_data;

  self->timeout_id = 0;
  show_held (self);
  return G_SOURCE_REMOVE;
}

static void
on_items_changed (ConfabPacedListModel *self,
                  guint                 position,
                  guint                 removed,
                  guint                 added,
                  GListModel           *model)
{
  guint n_items = g_list_model_get_n_items (model);
  guint n_before = n_items - added + removed;

  /* Appended at the end: now if the last append shown is old enough, else with the
   * others on the next beat. */
  if (removed == 0 && position == n_before)
    {
      gint64 due = self->shown_at + (gint64) self->interval_ms * 1000;

      if (added == 0 || self->timeout_id != 0)
        return;
      if (self->shown_at == 0 || g_get_monotonic_time () >= due)
        show_held (self);
      else
        self->timeout_id = confab_pace_add (self->interval_ms, on_timeout, self);
      return;
    }

  /* Within what is shown: passed on as it is; the held tail stays held. */
  if (position + removed <= self->n_shown)
    {
      self->n_shown = self->n_shown - removed + added;
      g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
      return;
    }

  /* Only in the held tail: nothing shown changes. */
  if (position >= self->n_shown)
    {
      if (self->timeout_id == 0)
        show_held (self);
      return;
    }

  /* Across the end of what is shown: everything from @position on is replaced. */
  {
    guint shown_removed = self->n_shown - position;

    g_clear_handle_id (&self->timeout_id, g_source_remove);
    self->n_shown = n_items;
    self->shown_at = g_get_monotonic_time ();
    g_list_model_items_changed (G_LIST_MODEL (self), position, shown_removed, n_items - position);
  }
}

/* GObject -------------------------------------------------------------------------------- */

static void
confab_paced_list_model_constructed (GObject *object)
{
  ConfabPacedListModel *self = CONFAB_PACED_LIST_MODEL (object);

  G_OBJECT_CLASS (confab_paced_list_model_parent_class)->constructed (object);

  g_assert (self->model != NULL);
  self->n_shown = g_list_model_get_n_items (self->model);
  g_signal_connect_object (self->model, "items-changed", G_CALLBACK (on_items_changed), self,
                           G_CONNECT_SWAPPED);
}

static void
confab_paced_list_model_dispose (GObject *object)
{
  ConfabPacedListModel *self = CONFAB_PACED_LIST_MODEL (object);

  g_clear_handle_id (&self->timeout_id, g_source_remove);
  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_clear_object (&self->model);

  G_OBJECT_CLASS (confab_paced_list_model_parent_class)->dispose (object);
}

static void
confab_paced_list_model_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  ConfabPacedListModel *self = CONFAB_PACED_LIST_MODEL (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_object (value, self->model);
      break;
    case PROP_INTERVAL_MS:
      g_value_set_uint (value, self->interval_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_paced_list_model_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  ConfabPacedListModel *self = CONFAB_PACED_LIST_MODEL (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      self->model = g_value_dup_object (value);
      break;
    case PROP_INTERVAL_MS:
      self->interval_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_paced_list_model_class_init (ConfabPacedListModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = confab_paced_list_model_constructed;
  object_class->dispose = confab_paced_list_model_dispose;
  object_class->get_property = confab_paced_list_model_get_property;
  object_class->set_property = confab_paced_list_model_set_property;

  properties[PROP_MODEL] =
    g_param_spec_object ("model", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);
  properties[PROP_INTERVAL_MS] =
    g_param_spec_uint ("interval-ms", NULL, NULL, 0, 10000, 250,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_paced_list_model_init (ConfabPacedListModel *self)
{
}

/* Public --------------------------------------------------------------------------------- */

ConfabPacedListModel *
confab_paced_list_model_new (GListModel *model,
                             guint       interval_ms)
{
  g_return_val_if_fail (G_IS_LIST_MODEL (model), NULL);

  return g_object_new (CONFAB_TYPE_PACED_LIST_MODEL,
                       "model", model,
                       "interval-ms", interval_ms,
                       NULL);
}

GListModel *
confab_paced_list_model_get_model (ConfabPacedListModel *self)
{
  g_return_val_if_fail (CONFAB_IS_PACED_LIST_MODEL (self), NULL);

  return self->model;
}

guint
confab_paced_list_model_get_interval_ms (ConfabPacedListModel *self)
{
  g_return_val_if_fail (CONFAB_IS_PACED_LIST_MODEL (self), 0);

  return self->interval_ms;
}

guint
confab_paced_list_model_get_n_held (ConfabPacedListModel *self)
{
  g_return_val_if_fail (CONFAB_IS_PACED_LIST_MODEL (self), 0);

  return g_list_model_get_n_items (self->model) - self->n_shown;
}

void
confab_paced_list_model_flush (ConfabPacedListModel *self)
{
  g_return_if_fail (CONFAB_IS_PACED_LIST_MODEL (self));

  show_held (self);
  /* The next append too, if it is still on its way. */
  self->shown_at = 0;
}
