/* confab-chat-channel.c: one conversation: its messages, members, unread count and typers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>
#include <time.h>

#include "confab-chat-channel.h"
#include "confab-chat-private.h"

/* Pending batches larger than this give their memory back after the flush. */
#define PENDING_KEEP 256

typedef struct
{
  ConfabChatUser *user;
  gint64          expires;  /* monotonic µs on the channel's clock */
} Typer;

struct _ConfabChannel
{
  GObject                parent_instance;

  char                  *cid;           /* GRefString, shared with the messages */
  char                  *name;          /* the server's; NULL if none */
  char                  *display_name;
  char                  *own_id;
  char                  *last_message_text;
  gint64                 last_message_at;
  gint64                 server_last_message_at;
  guint                  unread_count;
  guint                  member_count;
  guint                  online_count;
  char                  *typing_text;
  gboolean               has_more_history;
  ConfabClock           *clock;

  ConfabChatMessageList *messages;
  GListStore            *members;       /* ConfabChatUser, online first, then by name */
  GHashTable            *member_set;    /* ConfabChatUser * (held by members) */

  /* The batch the next flush applies. */
  GPtrArray             *pending_add;   /* ConfabMessage */
  GHashTable            *pending_by_id; /* ConfabMessage set (by id) of pending_add */
  GPtrArray             *pending_live;  /* ConfabMessage, a subset of pending_add */
  GPtrArray             *pending_remove;
  GPtrArray             *pending_moves;
  GArray                *pending_move_times;

  GArray                *typers;        /* Typer, in the order they started */
  guint                  typing_timer;
};

G_DEFINE_FINAL_TYPE (ConfabChannel, confab_channel, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CID,
  PROP_NAME,
  PROP_LAST_MESSAGE_TEXT,
  PROP_LAST_MESSAGE_AT,
  PROP_UNREAD_COUNT,
  PROP_MEMBER_COUNT,
  PROP_ONLINE_COUNT,
  PROP_TYPING_TEXT,
  PROP_HAS_MORE_HISTORY,
  PROP_MESSAGES,
  PROP_MEMBERS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
typer_clear (Typer *typer)
{
  g_clear_object (&typer->user);
}

static void
set_string (ConfabChannel  *self,
            char          **field,
            const char     *value,
            guint           prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_uint (ConfabChannel *self,
          guint         *field,
          guint          value,
          guint          prop)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
confab_channel_dispose (GObject *object)
{
  ConfabChannel *self = CONFAB_CHANNEL (object);

  if (self->clock != NULL)
    confab_clock_clear_timeout (self->clock, &self->typing_timer);
  if (self->typers != NULL)
    g_array_set_size (self->typers, 0);
  g_clear_object (&self->clock);

  G_OBJECT_CLASS (confab_channel_parent_class)->dispose (object);
}

static void
confab_channel_finalize (GObject *object)
{
  ConfabChannel *self = CONFAB_CHANNEL (object);

  g_clear_pointer (&self->cid, g_ref_string_release);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->display_name, g_free);
  g_clear_pointer (&self->own_id, g_free);
  g_clear_pointer (&self->last_message_text, g_free);
  g_clear_pointer (&self->typing_text, g_free);
  g_clear_object (&self->messages);
  g_clear_object (&self->members);
  g_clear_pointer (&self->member_set, g_hash_table_unref);
  g_clear_pointer (&self->pending_by_id, g_hash_table_unref);
  g_clear_pointer (&self->pending_add, g_ptr_array_unref);
  g_clear_pointer (&self->pending_live, g_ptr_array_unref);
  g_clear_pointer (&self->pending_remove, g_ptr_array_unref);
  g_clear_pointer (&self->pending_moves, g_ptr_array_unref);
  g_clear_pointer (&self->pending_move_times, g_array_unref);
  g_clear_pointer (&self->typers, g_array_unref);

  G_OBJECT_CLASS (confab_channel_parent_class)->finalize (object);
}

static void
confab_channel_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  ConfabChannel *self = CONFAB_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_CID:
      g_value_set_string (value, self->cid);
      break;
    case PROP_NAME:
      g_value_set_string (value, confab_channel_get_name (self));
      break;
    case PROP_LAST_MESSAGE_TEXT:
      g_value_set_string (value, self->last_message_text);
      break;
    case PROP_LAST_MESSAGE_AT:
      g_value_set_int64 (value, self->last_message_at);
      break;
    case PROP_UNREAD_COUNT:
      g_value_set_uint (value, self->unread_count);
      break;
    case PROP_MEMBER_COUNT:
      g_value_set_uint (value, self->member_count);
      break;
    case PROP_ONLINE_COUNT:
      g_value_set_uint (value, self->online_count);
      break;
    case PROP_TYPING_TEXT:
      g_value_set_string (value, self->typing_text);
      break;
    case PROP_HAS_MORE_HISTORY:
      g_value_set_boolean (value, self->has_more_history);
      break;
    case PROP_MESSAGES:
      g_value_set_object (value, self->messages);
      break;
    case PROP_MEMBERS:
      g_value_set_object (value, self->members);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_channel_class_init (ConfabChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = confab_channel_dispose;
  object_class->finalize = confab_channel_finalize;
  object_class->get_property = confab_channel_get_property;

  /**
   * ConfabChannel:cid:
   *
   * Stream's channel id, "type:id".
   */
  properties[PROP_CID] = g_param_spec_string ("cid", NULL, NULL, NULL, flags);

  /**
   * ConfabChannel:name:
   *
   * The name to show: the channel's own, or its other members' names.
   */
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);

  /**
   * ConfabChannel:last-message-text: (nullable)
   *
   * The newest message's text (plain text, never markup), %NULL if none.
   */
  properties[PROP_LAST_MESSAGE_TEXT] = g_param_spec_string ("last-message-text", NULL, NULL, NULL, flags);

  /**
   * ConfabChannel:last-message-at:
   *
   * When the newest message was written (wall µs since the epoch), 0 if never; the
   * store's channel list is sorted by it, newest first.
   */
  properties[PROP_LAST_MESSAGE_AT] = g_param_spec_int64 ("last-message-at", NULL, NULL, 0, G_MAXINT64, 0, flags);

  /**
   * ConfabChannel:unread-count:
   *
   * Messages from others the user has not read, as the server counts them.
   */
  properties[PROP_UNREAD_COUNT] = g_param_spec_uint ("unread-count", NULL, NULL, 0, G_MAXUINT, 0, flags);

  /**
   * ConfabChannel:member-count:
   *
   * How many members the channel has.
   */
  properties[PROP_MEMBER_COUNT] = g_param_spec_uint ("member-count", NULL, NULL, 0, G_MAXUINT, 0, flags);

  /**
   * ConfabChannel:online-count:
   *
   * How many of the known members are online.
   */
  properties[PROP_ONLINE_COUNT] = g_param_spec_uint ("online-count", NULL, NULL, 0, G_MAXUINT, 0, flags);

  /**
   * ConfabChannel:typing-text: (nullable)
   *
   * Who is typing, as a translated sentence, or %NULL.
   */
  properties[PROP_TYPING_TEXT] = g_param_spec_string ("typing-text", NULL, NULL, NULL, flags);

  /**
   * ConfabChannel:has-more-history:
   *
   * Whether older messages than the loaded ones may exist.
   */
  properties[PROP_HAS_MORE_HISTORY] = g_param_spec_boolean ("has-more-history", NULL, NULL, TRUE, flags);

  /**
   * ConfabChannel:messages:
   *
   * The messages, as confab_channel_get_messages().
   */
  properties[PROP_MESSAGES] = g_param_spec_object ("messages", NULL, NULL, G_TYPE_LIST_MODEL, flags);

  /**
   * ConfabChannel:members:
   *
   * The members, as confab_channel_get_members().
   */
  properties[PROP_MEMBERS] = g_param_spec_object ("members", NULL, NULL, G_TYPE_LIST_MODEL, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_channel_init (ConfabChannel *self)
{
  self->has_more_history = TRUE;
  self->messages = _confab_chat_message_list_new ();
  self->members = g_list_store_new (CONFAB_TYPE_CHAT_USER);
  self->member_set = g_hash_table_new (NULL, NULL);
  self->pending_add = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending_by_id = _confab_message_id_set_new ();
  self->pending_live = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending_remove = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending_moves = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending_move_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->typers = g_array_new (FALSE, TRUE, sizeof (Typer));
  g_array_set_clear_func (self->typers, (GDestroyNotify) typer_clear);
}

/* Names ----------------------------------------------------------------------------------- */

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  ConfabChatUser *ua = *(ConfabChatUser **) a;
  ConfabChatUser *ub = *(ConfabChatUser **) b;
  int c = g_utf8_collate (confab_chat_user_get_name (ua), confab_chat_user_get_name (ub));

  return c != 0 ? c : strcmp (confab_chat_user_get_id (ua), confab_chat_user_get_id (ub));
}

static void
update_display_name (ConfabChannel *self)
{
  g_autoptr(GPtrArray) others = NULL;
  g_autoptr(GString) joined = NULL;
  const char *colon;
  guint n;

  if (self->name != NULL)
    {
      set_string (self, &self->display_name, self->name, PROP_NAME);
      return;
    }

  /* A channel without a name (a direct conversation): who else is in it. */
  others = g_ptr_array_new ();
  n = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ConfabChatUser) user = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      if (g_strcmp0 (confab_chat_user_get_id (user), self->own_id) != 0)
        g_ptr_array_add (others, user);
    }
  g_ptr_array_sort (others, compare_names);

  joined = g_string_new (NULL);
  for (guint i = 0; i < others->len; i++)
    {
      if (i > 0)
        /* Translators: between the names of a conversation's members, "Alice, Bob" */
        g_string_append (joined, C_("list of names", ", "));
      g_string_append (joined, confab_chat_user_get_name (g_ptr_array_index (others, i)));
    }
  if (joined->len == 0)
    {
      colon = strchr (self->cid, ':');
      g_string_append (joined, colon != NULL ? colon + 1 : self->cid);
    }
  set_string (self, &self->display_name, joined->str, PROP_NAME);
}

/* Members --------------------------------------------------------------------------------- */

static int
compare_members (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  ConfabChatUser *ua = (ConfabChatUser *) a;
  ConfabChatUser *ub = (ConfabChatUser *) b;
  gboolean online_a = confab_chat_user_get_online (ua);
  gboolean online_b = confab_chat_user_get_online (ub);

  if (online_a != online_b)
    return online_a ? -1 : 1;
  return compare_names (&ua, &ub);
}

static void
update_online_count (ConfabChannel *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  guint online = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ConfabChatUser) user = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      if (confab_chat_user_get_online (user))
        online++;
    }
  set_uint (self, &self->online_count, online, PROP_ONLINE_COUNT);
}

static int
compare_member_ptrs (gconstpointer a,
                     gconstpointer b)
{
  return compare_members (*(ConfabChatUser **) a, *(ConfabChatUser **) b, NULL);
}

void
_confab_channel_set_members (ConfabChannel *self,
                             GPtrArray     *users)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  gboolean same;

  g_hash_table_remove_all (self->member_set);
  for (guint i = 0; i < users->len; i++)
    {
      ConfabChatUser *user = g_ptr_array_index (users, i);

      if (g_hash_table_add (self->member_set, user))
        g_ptr_array_add (sorted, user);
    }
  g_ptr_array_sort (sorted, compare_member_ptrs);

  same = sorted->len == n_old;
  for (guint i = 0; same && i < n_old; i++)
    {
      g_autoptr(ConfabChatUser) user = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      same = user == g_ptr_array_index (sorted, i);
    }
  if (!same)
    g_list_store_splice (self->members, 0, n_old, sorted->pdata, sorted->len);

  update_online_count (self);
  update_display_name (self);
}

gboolean
_confab_channel_has_member (ConfabChannel  *self,
                            ConfabChatUser *user)
{
  return g_hash_table_contains (self->member_set, user);
}

void
_confab_channel_add_member (ConfabChannel  *self,
                            ConfabChatUser *user)
{
  if (!g_hash_table_add (self->member_set, user))
    return;
  g_list_store_insert_sorted (self->members, user, compare_members, NULL);
  update_online_count (self);
  update_display_name (self);
}

void
_confab_channel_remove_member (ConfabChannel  *self,
                               ConfabChatUser *user)
{
  guint position = 0;

  if (!g_hash_table_remove (self->member_set, user))
    return;
  if (g_list_store_find (self->members, user, &position))
    g_list_store_remove (self->members, position);
  update_online_count (self);
  update_display_name (self);
}

void
_confab_channel_member_changed (ConfabChannel  *self,
                                ConfabChatUser *user)
{
  guint position = 0;
  guint n;
  gboolean in_place;

  if (!g_hash_table_contains (self->member_set, user) ||
      !g_list_store_find (self->members, user, &position))
    return;

  /* Moved only when it is out of order with a neighbour now. */
  n = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  in_place = TRUE;
  if (position > 0)
    {
      g_autoptr(ConfabChatUser) before = g_list_model_get_item (G_LIST_MODEL (self->members), position - 1);

      in_place = compare_members (before, user, NULL) <= 0;
    }
  if (in_place && position + 1 < n)
    {
      g_autoptr(ConfabChatUser) after = g_list_model_get_item (G_LIST_MODEL (self->members), position + 1);

      in_place = compare_members (user, after, NULL) <= 0;
    }
  if (!in_place)
    {
      g_object_ref (user);
      g_list_store_remove (self->members, position);
      g_list_store_insert_sorted (self->members, user, compare_members, NULL);
      g_object_unref (user);
    }
  update_online_count (self);
  update_display_name (self);
  /* The typing sentence names people too. */
  for (guint i = 0; i < self->typers->len; i++)
    if (g_array_index (self->typers, Typer, i).user == user)
      {
        _confab_channel_typing_stop (self, NULL);
        break;
      }
}

char **
_confab_channel_dup_member_ids (ConfabChannel *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  char **ids = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ConfabChatUser) user = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      ids[i] = g_strdup (confab_chat_user_get_id (user));
    }
  return ids;
}

/* Typing ---------------------------------------------------------------------------------- */

static void schedule_typing_expiry (ConfabChannel *self);

static void
update_typing_text (ConfabChannel *self)
{
  g_autofree char *text = NULL;

  switch (self->typers->len)
    {
    case 0:
      break;
    case 1:
      /* Translators: %s is a person's name */
      text = g_strdup_printf (_("%s is typing…"),
                              confab_chat_user_get_name (g_array_index (self->typers, Typer, 0).user));
      break;
    case 2:
      /* Translators: the two %s are people's names */
      text = g_strdup_printf (_("%s and %s are typing…"),
                              confab_chat_user_get_name (g_array_index (self->typers, Typer, 0).user),
                              confab_chat_user_get_name (g_array_index (self->typers, Typer, 1).user));
      break;
    default:
      text = g_strdup (_("Several people are typing…"));
      break;
    }
  set_string (self, &self->typing_text, text, PROP_TYPING_TEXT);
}

static gboolean
typing_expired_cb (gpointer user_data)
{
  ConfabChannel *self = user_data;
  gint64 now = confab_clock_now (self->clock);

  self->typing_timer = 0;
  for (guint i = self->typers->len; i > 0; i--)
    if (g_array_index (self->typers, Typer, i - 1).expires <= now)
      g_array_remove_index (self->typers, i - 1);
  update_typing_text (self);
  schedule_typing_expiry (self);
  return G_SOURCE_REMOVE;
}

/* One one-shot timer for the earliest expiry; none while nobody types. */
static void
schedule_typing_expiry (ConfabChannel *self)
{
  gint64 earliest = G_MAXINT64;
  gint64 now;
  gint64 delay_ms;

  confab_clock_clear_timeout (self->clock, &self->typing_timer);
  if (self->typers->len == 0)
    return;

  for (guint i = 0; i < self->typers->len; i++)
    earliest = MIN (earliest, g_array_index (self->typers, Typer, i).expires);
  now = confab_clock_now (self->clock);
  delay_ms = MAX (1, (earliest - now + 999) / 1000);
  self->typing_timer = confab_clock_add_timeout (self->clock, (guint) MIN (delay_ms, G_MAXUINT),
                                                 typing_expired_cb, self, NULL);
}

void
_confab_channel_typing_start (ConfabChannel  *self,
                              ConfabChatUser *user)
{
  gint64 expires = confab_clock_now (self->clock) + (gint64) CONFAB_CHAT_TYPING_TIMEOUT_MS * 1000;
  Typer typer = { NULL, expires };

  for (guint i = 0; i < self->typers->len; i++)
    {
      Typer *existing = &g_array_index (self->typers, Typer, i);

      if (existing->user == user)
        {
          existing->expires = expires;
          schedule_typing_expiry (self);
          return;
        }
    }

  typer.user = g_object_ref (user);
  g_array_append_val (self->typers, typer);
  update_typing_text (self);
  schedule_typing_expiry (self);
}

/* @user NULL: only refresh the sentence (a typer was renamed). */
void
_confab_channel_typing_stop (ConfabChannel  *self,
                             ConfabChatUser *user)
{
  for (guint i = 0; user != NULL && i < self->typers->len; i++)
    if (g_array_index (self->typers, Typer, i).user == user)
      {
        g_array_remove_index (self->typers, i);
        schedule_typing_expiry (self);
        break;
      }
  update_typing_text (self);
}

/* Messages -------------------------------------------------------------------------------- */

ConfabChannel *
_confab_channel_new (const char  *cid,
                     ConfabClock *clock)
{
  ConfabChannel *self;

  g_return_val_if_fail (cid != NULL, NULL);
  g_return_val_if_fail (CONFAB_IS_CLOCK (clock), NULL);

  self = g_object_new (CONFAB_TYPE_CHANNEL, NULL);
  self->cid = g_ref_string_new (cid);
  self->clock = g_object_ref (clock);
  update_display_name (self);
  return self;
}

const char *
_confab_channel_get_cid_ref (ConfabChannel *self)
{
  return self->cid;
}

ConfabMessage *
_confab_channel_lookup_message (ConfabChannel *self,
                                const char    *id)
{
  ConfabMessage *message = confab_chat_message_list_lookup (self->messages, id);

  if (message == NULL)
    message = _confab_message_id_set_lookup (self->pending_by_id, id);
  return message;
}

void
_confab_channel_queue_add (ConfabChannel *self,
                           ConfabMessage *message,
                           gboolean       live)
{
  const char *id = confab_message_get_id (message);

  if (_confab_channel_lookup_message (self, id) != NULL)
    return;
  g_ptr_array_add (self->pending_add, g_object_ref (message));
  g_hash_table_add (self->pending_by_id, message);
  if (live)
    g_ptr_array_add (self->pending_live, g_object_ref (message));
}

void
_confab_channel_queue_remove (ConfabChannel *self,
                              ConfabMessage *message)
{
  guint index = 0;

  if (_confab_message_id_set_lookup (self->pending_by_id, confab_message_get_id (message)) == message)
    {
      g_hash_table_remove (self->pending_by_id, message);
      g_ptr_array_remove (self->pending_live, message);
      g_ptr_array_remove (self->pending_add, message);
      return;
    }
  if (confab_chat_message_list_lookup (self->messages, confab_message_get_id (message)) != message)
    return;
  if (g_ptr_array_find (self->pending_moves, message, &index))
    {
      g_ptr_array_remove_index (self->pending_moves, index);
      g_array_remove_index (self->pending_move_times, index);
    }
  if (!g_ptr_array_find (self->pending_remove, message, NULL))
    g_ptr_array_add (self->pending_remove, g_object_ref (message));
}

void
_confab_channel_queue_move (ConfabChannel *self,
                            ConfabMessage *message,
                            gint64         created_at)
{
  guint index = 0;

  /* Not in the list yet: it is sorted when it goes in. */
  if (_confab_message_id_set_lookup (self->pending_by_id, confab_message_get_id (message)) == message)
    {
      _confab_message_set_created_at (message, created_at);
      return;
    }
  if (confab_chat_message_list_lookup (self->messages, confab_message_get_id (message)) != message ||
      g_ptr_array_find (self->pending_remove, message, NULL))
    return;
  if (g_ptr_array_find (self->pending_moves, message, &index))
    {
      g_array_index (self->pending_move_times, gint64, index) = created_at;
      return;
    }
  if (created_at == confab_message_get_created_at (message))
    return;
  g_ptr_array_add (self->pending_moves, g_object_ref (message));
  g_array_append_val (self->pending_move_times, created_at);
}

gboolean
_confab_channel_has_pending (ConfabChannel *self)
{
  return self->pending_add->len > 0 || self->pending_remove->len > 0 || self->pending_moves->len > 0;
}

static void
update_last_message (ConfabChannel *self)
{
  guint n = _confab_chat_message_list_get_n (self->messages);
  ConfabMessage *last = n > 0 ? _confab_chat_message_list_get (self->messages, n - 1) : NULL;

  g_object_freeze_notify (G_OBJECT (self));
  if (last != NULL)
    {
      gint64 at = MAX (0, confab_message_get_created_at (last));

      set_string (self, &self->last_message_text, _confab_message_get_raw_text (last), PROP_LAST_MESSAGE_TEXT);
      if (self->last_message_at != at)
        {
          self->last_message_at = at;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_MESSAGE_AT]);
        }
    }
  else
    {
      set_string (self, &self->last_message_text, NULL, PROP_LAST_MESSAGE_TEXT);
      if (self->last_message_at != self->server_last_message_at)
        {
          self->last_message_at = self->server_last_message_at;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_MESSAGE_AT]);
        }
    }
  g_object_thaw_notify (G_OBJECT (self));
}

void
_confab_channel_flush (ConfabChannel *self,
                       GPtrArray     *live_out)
{
  if (_confab_channel_has_pending (self))
    {
      _confab_chat_message_list_apply (self->messages, self->pending_remove, self->pending_moves,
                                       self->pending_move_times, self->pending_add);
      g_hash_table_remove_all (self->pending_by_id);
      /* A backlog's worth of room is not kept for the next few messages. */
      if (self->pending_add->len > PENDING_KEEP)
        {
          g_ptr_array_unref (self->pending_add);
          self->pending_add = g_ptr_array_new_with_free_func (g_object_unref);
          g_hash_table_unref (self->pending_by_id);
          self->pending_by_id = _confab_message_id_set_new ();
        }
      g_ptr_array_set_size (self->pending_add, 0);
      g_ptr_array_set_size (self->pending_remove, 0);
      g_ptr_array_set_size (self->pending_moves, 0);
      g_array_set_size (self->pending_move_times, 0);
    }

  for (guint i = 0; live_out != NULL && i < self->pending_live->len; i++)
    g_ptr_array_add (live_out, g_object_ref (g_ptr_array_index (self->pending_live, i)));
  g_ptr_array_set_size (self->pending_live, 0);

  /* Also after in-place changes (the newest message edited or deleted). */
  update_last_message (self);
}

ConfabMessage *
_confab_channel_get_oldest_sent (ConfabChannel *self)
{
  guint n = _confab_chat_message_list_get_n (self->messages);

  for (guint i = 0; i < n; i++)
    {
      ConfabMessage *message = _confab_chat_message_list_get (self->messages, i);

      if (confab_message_get_status (message) == CONFAB_MESSAGE_STATUS_SENT)
        return message;
    }
  return NULL;
}

ConfabMessage *
_confab_channel_get_newest_sent (ConfabChannel *self)
{
  for (guint i = _confab_chat_message_list_get_n (self->messages); i > 0; i--)
    {
      ConfabMessage *message = _confab_chat_message_list_get (self->messages, i - 1);

      if (confab_message_get_status (message) == CONFAB_MESSAGE_STATUS_SENT)
        return message;
    }
  return NULL;
}

guint
_confab_channel_get_n_messages (ConfabChannel *self)
{
  return _confab_chat_message_list_get_n (self->messages);
}

/* Plain state ----------------------------------------------------------------------------- */

const char *
_confab_channel_get_raw_name (ConfabChannel *self)
{
  return self->name;
}

void
_confab_channel_set_own_id (ConfabChannel *self,
                            const char    *own_id)
{
  if (g_strcmp0 (self->own_id, own_id) == 0)
    return;
  g_free (self->own_id);
  self->own_id = g_strdup (own_id);
  update_display_name (self);
}

void
_confab_channel_set_name (ConfabChannel *self,
                          const char    *name)
{
  if (name != NULL && *name == '\0')
    name = NULL;
  if (g_strcmp0 (self->name, name) == 0)
    return;
  g_free (self->name);
  self->name = g_strdup (name);
  update_display_name (self);
}

void
_confab_channel_set_unread_count (ConfabChannel *self,
                                  guint          unread_count)
{
  set_uint (self, &self->unread_count, unread_count, PROP_UNREAD_COUNT);
}

void
_confab_channel_set_member_count (ConfabChannel *self,
                                  guint          member_count)
{
  set_uint (self, &self->member_count, member_count, PROP_MEMBER_COUNT);
}

void
_confab_channel_set_has_more_history (ConfabChannel *self,
                                      gboolean       has_more)
{
  has_more = !!has_more;
  if (self->has_more_history == has_more)
    return;
  self->has_more_history = has_more;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MORE_HISTORY]);
}

void
_confab_channel_set_server_last_message_at (ConfabChannel *self,
                                            gint64         last_message_at)
{
  self->server_last_message_at = MAX (0, last_message_at);
  update_last_message (self);
}

/* Public API ------------------------------------------------------------------------------ */

const char *
confab_channel_get_cid (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), NULL);

  return self->cid;
}

const char *
confab_channel_get_name (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), NULL);

  return self->display_name;
}

const char *
confab_channel_get_last_message_text (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), NULL);

  return self->last_message_text;
}

gint64
confab_channel_get_last_message_at (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), 0);

  return self->last_message_at;
}

guint
confab_channel_get_unread_count (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), 0);

  return self->unread_count;
}

guint
confab_channel_get_member_count (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), 0);

  return self->member_count;
}

guint
confab_channel_get_online_count (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), 0);

  return self->online_count;
}

const char *
confab_channel_get_typing_text (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), NULL);

  return self->typing_text;
}

gboolean
confab_channel_get_has_more_history (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), FALSE);

  return self->has_more_history;
}

GListModel *
confab_channel_get_messages (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), NULL);

  return G_LIST_MODEL (self->messages);
}

GListModel *
confab_channel_get_members (ConfabChannel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), NULL);

  return G_LIST_MODEL (self->members);
}

static gboolean
local_day (gint64     usec,
           struct tm *out)
{
  time_t seconds = (time_t) (usec >= 0 ? usec / G_USEC_PER_SEC : (usec - G_USEC_PER_SEC + 1) / G_USEC_PER_SEC);

  return localtime_r (&seconds, out) != NULL;
}

gboolean
confab_channel_starts_new_day (ConfabChannel *self,
                               guint          position)
{
  ConfabMessage *message;
  ConfabMessage *previous;
  struct tm day;
  struct tm previous_day;

  g_return_val_if_fail (CONFAB_IS_CHANNEL (self), FALSE);

  message = _confab_chat_message_list_get (self->messages, position);
  if (message == NULL)
    return FALSE;
  if (position == 0)
    return TRUE;
  previous = _confab_chat_message_list_get (self->messages, position - 1);
  if (!local_day (confab_message_get_created_at (message), &day) ||
      !local_day (confab_message_get_created_at (previous), &previous_day))
    return FALSE;
  return day.tm_year != previous_day.tm_year || day.tm_yday != previous_day.tm_yday;
}
