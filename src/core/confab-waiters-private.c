/* confab-waiters-private.c: callers waiting for one outcome, each free to stop waiting
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-waiters-private.h"

struct _ConfabWaiters
{
  GPtrArray *tasks;   /* GTask */
};

#define CANCEL_ID "confab-waiters-cancel-id"
#define WAITERS   "confab-waiters"

static void
forget_cancellable (GTask *task)
{
  gulong id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (task), CANCEL_ID));

  g_object_set_data (G_OBJECT (task), WAITERS, NULL);
  if (id != 0)
    {
      g_object_set_data (G_OBJECT (task), CANCEL_ID, NULL);
      g_cancellable_disconnect (g_task_get_cancellable (task), id);
    }
}

/* One caller gave up waiting: only its wait ends. */
static gboolean
cancel_idle (gpointer user_data)
{
  GTask *task = user_data;
  ConfabWaiters *self = g_object_get_data (G_OBJECT (task), WAITERS);
  guint index;

  if (self != NULL && g_ptr_array_find (self->tasks, task, &index))
    {
      GTask *stolen = g_ptr_array_steal_index (self->tasks, index);

      forget_cancellable (stolen);
      g_task_return_error_if_cancelled (stolen);
      g_object_unref (stolen);
    }

  return G_SOURCE_REMOVE;
}

static void
cancelled_cb (GCancellable *cancellable,
              gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GSource) source = g_idle_source_new ();

  g_source_set_callback (source, cancel_idle, g_object_ref (task), g_object_unref);
  g_source_set_static_name (source, "[confab] wait cancelled");
  g_source_attach (source, g_task_get_context (task));
}

ConfabWaiters *
_confab_waiters_new (void)
{
  ConfabWaiters *self = g_new0 (ConfabWaiters, 1);

  self->tasks = g_ptr_array_new_with_free_func (g_object_unref);
  return self;
}

void
_confab_waiters_free (ConfabWaiters *self)
{
  g_autoptr(GError) error = NULL;

  if (self == NULL)
    return;

  if (self->tasks->len > 0)
    {
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "nobody waits any more");
      _confab_waiters_resolve (self, error);
    }
  g_ptr_array_unref (self->tasks);
  g_free (self);
}

void
_confab_waiters_add (ConfabWaiters *self,
                     GTask         *task)
{
  GCancellable *cancellable = g_task_get_cancellable (task);

  g_ptr_array_add (self->tasks, task);
  g_object_set_data (G_OBJECT (task), WAITERS, self);
  if (cancellable != NULL)
    {
      gulong id = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), task, NULL);

      g_object_set_data (G_OBJECT (task), CANCEL_ID, GSIZE_TO_POINTER (id));
    }
}

void
_confab_waiters_resolve (ConfabWaiters *self,
                         const GError  *error)
{
  g_autoptr(GPtrArray) tasks = g_steal_pointer (&self->tasks);

  self->tasks = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < tasks->len; i++)
    {
      GTask *task = g_ptr_array_index (tasks, i);

      forget_cancellable (task);
      if (error == NULL)
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, g_error_copy (error));
    }
}

guint
_confab_waiters_get_n (ConfabWaiters *self)
{
  return self->tasks->len;
}
