/* confab-chat-message-list.c: a channel's messages as a sorted, de-duplicated GListModel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-chat-message-list.h"
#include "confab-chat-private.h"

struct _ConfabChatMessageList
{
  GObject     parent_instance;

  GPtrArray  *items;  /* ConfabMessage, sorted by _confab_message_compare() */
  GHashTable *by_id;  /* ConfabMessage set, by id (_confab_message_id_set_new()) */
};

static void confab_chat_message_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabChatMessageList, confab_chat_message_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, confab_chat_message_list_model_init))

static GType
confab_chat_message_list_get_item_type (GListModel *model)
{
  return CONFAB_TYPE_MESSAGE;
}

static guint
confab_chat_message_list_get_n_items (GListModel *model)
{
  return CONFAB_CHAT_MESSAGE_LIST (model)->items->len;
}

static gpointer
confab_chat_message_list_get_item (GListModel *model,
                                   guint       position)
{
  ConfabChatMessageList *self = CONFAB_CHAT_MESSAGE_LIST (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
confab_chat_message_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = confab_chat_message_list_get_item_type;
  iface->get_n_items = confab_chat_message_list_get_n_items;
  iface->get_item = confab_chat_message_list_get_item;
}

static void
confab_chat_message_list_finalize (GObject *object)
{
  ConfabChatMessageList *self = CONFAB_CHAT_MESSAGE_LIST (object);

  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->items, g_ptr_array_unref);

  G_OBJECT_CLASS (confab_chat_message_list_parent_class)->finalize (object);
}

static void
confab_chat_message_list_class_init (ConfabChatMessageListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_chat_message_list_finalize;
}

static void
confab_chat_message_list_init (ConfabChatMessageList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = _confab_message_id_set_new ();
}

/* The position of @message (which is in the list, with the key it was sorted by). */
static guint
find_position (ConfabChatMessageList *self,
               ConfabMessage         *message)
{
  guint lo = 0;
  guint hi = self->items->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      int c = _confab_message_compare (g_ptr_array_index (self->items, mid), message);

      if (c == 0)
        return mid;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  /* Not found by key: someone changed it behind our back; look it up the slow way. */
  for (guint i = 0; i < self->items->len; i++)
    if (g_ptr_array_index (self->items, i) == message)
      return i;
  return G_MAXUINT;
}

static int
compare_messages (gconstpointer a,
                  gconstpointer b)
{
  return _confab_message_compare (*(ConfabMessage **) a, *(ConfabMessage **) b);
}

ConfabChatMessageList *
_confab_chat_message_list_new (void)
{
  return g_object_new (CONFAB_TYPE_CHAT_MESSAGE_LIST, NULL);
}

guint
_confab_chat_message_list_get_n (ConfabChatMessageList *self)
{
  return self->items->len;
}

ConfabMessage *
_confab_chat_message_list_get (ConfabChatMessageList *self,
                               guint                  position)
{
  if (position >= self->items->len)
    return NULL;
  return g_ptr_array_index (self->items, position);
}

void
_confab_chat_message_list_apply (ConfabChatMessageList *self,
                                 GPtrArray             *remove,
                                 GPtrArray             *moves,
                                 GArray                *move_times,
                                 GPtrArray             *add)
{
  g_autoptr(GPtrArray) incoming = g_ptr_array_new ();
  g_autoptr(GPtrArray) merged = NULL;
  g_autofree gboolean *dropped = NULL;
  GPtrArray *old = self->items;
  guint old_n = old->len;
  guint n_dropped = 0;
  guint prefix = 0;
  guint suffix = 0;
  guint new_n;
  guint i;
  guint j;

  /* Sorted newcomers: the additions and the moved messages under their new time. */
  for (i = 0; add != NULL && i < add->len; i++)
    g_ptr_array_add (incoming, g_object_ref (g_ptr_array_index (add, i)));

  if ((remove == NULL || remove->len == 0) && (moves == NULL || moves->len == 0))
    {
      if (incoming->len == 0)
        return;
      g_ptr_array_sort (incoming, compare_messages);

      /* The usual case: everything is newer than what we have. */
      if (old_n == 0 || _confab_message_compare (g_ptr_array_index (old, old_n - 1),
                                                 g_ptr_array_index (incoming, 0)) < 0)
        {
          for (i = 0; i < incoming->len; i++)
            {
              ConfabMessage *message = g_ptr_array_index (incoming, i);

              g_ptr_array_add (old, message);
              g_hash_table_add (self->by_id, message);
            }
          g_ptr_array_set_size (incoming, 0);
          g_list_model_items_changed (G_LIST_MODEL (self), old_n, 0, old->len - old_n);
          return;
        }
    }

  /* Take out what is removed or moved. */
  dropped = g_new0 (gboolean, MAX (old_n, 1));
  for (i = 0; remove != NULL && i < remove->len; i++)
    {
      guint position = find_position (self, g_ptr_array_index (remove, i));

      if (position != G_MAXUINT && !dropped[position])
        {
          dropped[position] = TRUE;
          n_dropped++;
          g_hash_table_remove (self->by_id, g_ptr_array_index (old, position));
        }
    }
  for (i = 0; moves != NULL && i < moves->len; i++)
    {
      ConfabMessage *message = g_ptr_array_index (moves, i);
      guint position = find_position (self, message);

      if (position == G_MAXUINT || dropped[position])
        continue;
      dropped[position] = TRUE;
      n_dropped++;
      _confab_message_set_created_at (message, g_array_index (move_times, gint64, i));
      g_ptr_array_add (incoming, g_object_ref (message));
    }
  g_ptr_array_sort (incoming, compare_messages);

  /* Merge the rest of the old list with the newcomers. */
  merged = g_ptr_array_new_full (old_n - n_dropped + incoming->len, g_object_unref);
  i = 0;
  j = 0;
  while (i < old_n || j < incoming->len)
    {
      ConfabMessage *next;

      if (i < old_n && dropped[i])
        {
          i++;
          continue;
        }
      if (j >= incoming->len ||
          (i < old_n && _confab_message_compare (g_ptr_array_index (old, i),
                                                 g_ptr_array_index (incoming, j)) < 0))
        next = g_object_ref (g_ptr_array_index (old, i++));
      else
        {
          next = g_ptr_array_index (incoming, j);
          g_ptr_array_index (incoming, j++) = NULL;
          g_hash_table_add (self->by_id, next);
        }
      g_ptr_array_add (merged, next);
    }
  g_ptr_array_set_size (incoming, 0);

  /* One signal for the smallest range that differs. */
  new_n = merged->len;
  while (prefix < old_n && prefix < new_n &&
         g_ptr_array_index (old, prefix) == g_ptr_array_index (merged, prefix))
    prefix++;
  while (suffix < old_n - prefix && suffix < new_n - prefix &&
         g_ptr_array_index (old, old_n - 1 - suffix) == g_ptr_array_index (merged, new_n - 1 - suffix))
    suffix++;

  self->items = g_steal_pointer (&merged);
  merged = old;  /* freed on return, after the swap */

  if (old_n - prefix - suffix > 0 || new_n - prefix - suffix > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), prefix, old_n - prefix - suffix, new_n - prefix - suffix);
}

/* Public API --------------------------------------------------------------------------- */

ConfabMessage *
confab_chat_message_list_lookup (ConfabChatMessageList *self,
                                 const char            *id)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_MESSAGE_LIST (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  return _confab_message_id_set_lookup (self->by_id, id);
}
