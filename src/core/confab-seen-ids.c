/* confab-seen-ids.c: a bounded set of recently seen ids, for de-duplication
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-seen-ids.h"

struct _ConfabSeenIds
{
  GHashTable *set;    /* char * (owned by order) → itself */
  GQueue      order;  /* oldest at the head */
  guint       capacity;
};

ConfabSeenIds *
confab_seen_ids_new (guint capacity)
{
  ConfabSeenIds *self = g_new0 (ConfabSeenIds, 1);

  self->set = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->order);
  self->capacity = MAX (capacity, 1);

  return self;
}

void
confab_seen_ids_clear (ConfabSeenIds *self)
{
  g_return_if_fail (self != NULL);

  g_hash_table_remove_all (self->set);
  g_queue_clear_full (&self->order, g_free);
}

void
confab_seen_ids_free (ConfabSeenIds *self)
{
  if (self == NULL)
    return;

  confab_seen_ids_clear (self);
  g_hash_table_unref (self->set);
  g_free (self);
}

gboolean
confab_seen_ids_add (ConfabSeenIds *self,
                     const char    *id)
{
  char *copy;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  if (g_hash_table_contains (self->set, id))
    return FALSE;

  while (self->order.length >= self->capacity)
    {
      char *oldest = g_queue_pop_head (&self->order);

      g_hash_table_remove (self->set, oldest);
      g_free (oldest);
    }

  copy = g_strdup (id);
  g_queue_push_tail (&self->order, copy);
  g_hash_table_add (self->set, copy);

  return TRUE;
}

gboolean
confab_seen_ids_contains (ConfabSeenIds *self,
                          const char    *id)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return id != NULL && g_hash_table_contains (self->set, id);
}

guint
confab_seen_ids_get_size (ConfabSeenIds *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->order.length;
}

guint
confab_seen_ids_get_capacity (ConfabSeenIds *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->capacity;
}
