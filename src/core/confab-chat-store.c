/* confab-chat-store.c: the chat as the app shows it: channels, messages, people, cached
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-backoff.h"
#include "confab-chat-private.h"
#include "confab-chat-store.h"
#include "confab-error.h"
#include "confab-history-cache.h"

/* Query-channels pages at most (offset is capped at 1000 by Stream). */
#define MAX_CHANNEL_PAGES 30
/* Longest cid accepted from the server ("type:id", each part ≤ 64 in Stream). */
#define MAX_CID_LENGTH 256

typedef struct
{
  ConfabChatStore  *store;
  ConfabOutboxItem *item;
  ConfabMessage    *message;
  gulong            handler;
} Tracked;

typedef struct
{
  ConfabChatStore *store;
  char            *cid;
  gint64           last_start;   /* monotonic µs of the last typing.start sent, 0 none */
  guint            stop_timer;
} TypingOut;

/* Closing a gap between the cached history and the newest page, one id_gt page at a
 * time. Shared (GRcBox): the store's gap_fills holds one reference, a request in flight
 * another. */
typedef struct
{
  ConfabChatStore *store;      /* not a reference: gap_fills (the store's) owns the fill */
  ConfabChannel   *channel;
  char            *after;      /* id_gt for the next page */
  GHashTable      *page_ids;   /* ids of the newest page: reaching one closes the gap */
  guint            pages;
  guint            failures;
  gboolean         waiting;    /* for the store's next retry round */
  gboolean         abandoned;  /* out of gap_fills: a late answer is ignored */
} GapFill;

struct _ConfabChatStore
{
  GObject                  parent_instance;

  ConfabConnectionManager *manager;
  char                    *cache_dir;
  ConfabClock             *clock;
  ConfabHistoryCache      *cache;        /* NULL without a cache-dir */
  ConfabOutbox            *outbox;       /* the manager's, may be NULL */
  char                    *own_id;

  GListStore              *channel_list; /* ConfabChannel, newest first */
  GHashTable              *channels;     /* cid → ConfabChannel */
  GHashTable              *synced;       /* cid set: state from the server in this run */
  GListStore              *user_list;    /* ConfabChatUser */
  GHashTable              *users;        /* id → ConfabChatUser */
  GPtrArray               *new_users;    /* ConfabChatUser, appended at the next flush */

  GHashTable              *dirty;        /* ConfabChannel set: flush pending */
  gboolean                 order_dirty;
  guint                    flush_id;

  GHashTable              *tracked;      /* outbox item id → Tracked */
  gboolean                 outbox_attached;
  guint                    prune_id;

  GHashTable              *typing_out;   /* cid → TypingOut */
  GHashTable              *unsent_reads; /* cid set: mark_read to repeat once connected */

  /* The channel the user is reading: what arrives there is not unread, and the server
   * is told once a burst settles instead of after every message. */
  char                    *reading_cid;
  gboolean                 read_owed;      /* messages came while reading; not told yet */
  gint64                   read_owed_since; /* monotonic µs on the clock */
  gint64                   last_read_news;  /* monotonic µs of the latest such message */
  guint                    read_timer;     /* on the clock */

  GCancellable            *cancellable;
  ConfabConnectionState    last_state;
  gboolean                 refreshing;     /* the property */
  gboolean                 refresh_in_flight;
  gboolean                 refresh_again;  /* CONNECTED again while one was in flight */
  GHashTable              *refresh_seen;   /* the in-flight refresh's cid set, or NULL */
  gboolean                 list_stale;     /* the channel list is not complete yet */
  gboolean                 list_complete;  /* a whole channel list arrived in this run */
  gboolean                 cache_loaded;

  /* Recovering from failed REST calls, while CONNECTED. */
  ConfabBackoff           *backoff;
  guint                    retry_id;       /* on the clock */
  gint64                   retry_due;      /* monotonic µs on the clock */
  gint64                   next_retry;     /* the property: wall µs, 0 if none */
  GHashTable              *pending_channels; /* cid set: a channel's own query to repeat */
  GHashTable              *gap_fills;      /* cid → GapFill */
  GError                  *last_error;

  guint                    channel_message_limit;
  guint                    history_page_size;
  guint                    gap_page_size;
  guint                    gap_max_pages;

  gulong                   event_handler;
  gulong                   state_handler;
  gulong                   user_handler;
  gulong                   outbox_handler;
  gulong                   cache_reset_handler;
};

G_DEFINE_FINAL_TYPE (ConfabChatStore, confab_chat_store, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MANAGER,
  PROP_CACHE_DIR,
  PROP_CLOCK,
  PROP_CHANNEL_MESSAGE_LIMIT,
  PROP_HISTORY_PAGE_SIZE,
  PROP_GAP_PAGE_SIZE,
  PROP_GAP_MAX_PAGES,
  PROP_OWN_USER_ID,
  PROP_REFRESHING,
  PROP_LAST_ERROR,
  PROP_NEXT_RETRY,
  PROP_READING_CHANNEL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_MESSAGE_ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void flush_now          (ConfabChatStore *self);
static void refresh_channels   (ConfabChatStore *self);
static void send_unsent_reads  (ConfabChatStore *self);
static void owe_read           (ConfabChatStore *self);

static gboolean
is_reading (ConfabChatStore *self,
            const char      *cid)
{
  return self->reading_cid != NULL && cid != NULL && g_str_equal (self->reading_cid, cid);
}
static void track_item         (ConfabChatStore *self,
                                ConfabOutboxItem *item);
static void retry_pending      (ConfabChatStore *self);
static void remove_gap_fill    (ConfabChatStore *self,
                                GapFill         *fill);

/* Helpers ---------------------------------------------------------------------------------- */

static gboolean
valid_cid (const char *cid)
{
  const char *colon;

  if (cid == NULL || *cid == '\0' || strlen (cid) > MAX_CID_LENGTH)
    return FALSE;
  colon = strchr (cid, ':');
  return colon != NULL && colon != cid && colon[1] != '\0' && g_utf8_validate (cid, -1, NULL);
}

static gboolean
split_cid (const char  *cid,
           char       **out_type,
           char       **out_id)
{
  const char *colon = strchr (cid, ':');

  if (colon == NULL)
    return FALSE;
  *out_type = g_strndup (cid, colon - cid);
  *out_id = g_strdup (colon + 1);
  return TRUE;
}

static gboolean
is_usable (ConfabChatStore *self)
{
  ConfabConnectionState state = confab_connection_manager_get_state (self->manager);

  return (state == CONFAB_CONNECTION_STATE_CONNECTED || state == CONFAB_CONNECTION_STATE_UPDATING) &&
         confab_connection_manager_get_client (self->manager) != NULL;
}

/* Where the store starts its own requests and retries them: after the catch-up. */
static gboolean
is_connected (ConfabChatStore *self)
{
  return confab_connection_manager_get_state (self->manager) == CONFAB_CONNECTION_STATE_CONNECTED &&
         confab_connection_manager_get_client (self->manager) != NULL;
}

static gboolean
is_own (ConfabChatStore *self,
        const char      *user_id)
{
  return self->own_id != NULL && user_id != NULL && g_str_equal (self->own_id, user_id);
}

/* Text as received, made valid UTF-8 if it was not (a label cannot show anything else). */
static char *
sanitize_text (const char *text)
{
  if (text == NULL)
    return NULL;
  if (g_utf8_validate (text, -1, NULL))
    return g_strdup (text);
  return g_utf8_make_valid (text, -1);
}

static gboolean
flush_cb (gpointer user_data)
{
  ConfabChatStore *self = user_data;

  self->flush_id = 0;
  flush_now (self);
  return G_SOURCE_REMOVE;
}

/* Before GTK's layout and paint (G_PRIORITY_HIGH_IDLE + 20), after the I/O that brought
 * the changes: a burst of events becomes one batch. */
static void
schedule_flush (ConfabChatStore *self)
{
  if (self->flush_id == 0)
    self->flush_id = g_idle_add_full (G_PRIORITY_HIGH_IDLE + 10, flush_cb, self, NULL);
}

static void
mark_dirty (ConfabChatStore *self,
            ConfabChannel   *channel)
{
  g_hash_table_add (self->dirty, channel);
  schedule_flush (self);
}

/* Recovering from failed requests ------------------------------------------------------ */

static void
set_refreshing (ConfabChatStore *self,
                gboolean         refreshing)
{
  refreshing = !!refreshing;
  if (self->refreshing == refreshing)
    return;
  self->refreshing = refreshing;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REFRESHING]);
}

/* @error NULL clears it. The message names the request, never what the user wrote. */
static void
set_last_error (ConfabChatStore *self,
                const char      *what,
                const GError    *error)
{
  g_autoptr(GError) copy = NULL;

  if (error != NULL)
    copy = g_error_new (CONFAB_ERROR, confab_error_classify (error), "%s: %s", what, error->message);
  if (copy == NULL && self->last_error == NULL)
    return;
  if (copy != NULL && self->last_error != NULL && copy->code == self->last_error->code &&
      g_str_equal (copy->message, self->last_error->message))
    return;
  g_clear_error (&self->last_error);
  self->last_error = g_steal_pointer (&copy);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

static void
set_next_retry (ConfabChatStore *self,
                gint64           next_retry)
{
  if (self->next_retry == next_retry)
    return;
  self->next_retry = next_retry;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NEXT_RETRY]);
}

static void
cancel_retry (ConfabChatStore *self)
{
  confab_clock_clear_timeout (self->clock, &self->retry_id);
  set_next_retry (self, 0);
}

static gboolean
retry_cb (gpointer user_data)
{
  ConfabChatStore *self = user_data;

  self->retry_id = 0;
  set_next_retry (self, 0);
  /* Not connected: the next CONNECTED queries everything anyway. */
  if (!is_connected (self))
    return G_SOURCE_REMOVE;
  g_debug ("Chat store: retrying what failed%s", self->list_stale ? " (the channel list)" : "");
  /* A whole channel list covers the channels' own queries; the rest follows it. */
  if (self->list_stale)
    refresh_channels (self);
  else
    retry_pending (self);
  return G_SOURCE_REMOVE;
}

/* One retry round for whatever failed, after the backoff (and no sooner than a rate
 * limit allows). Only while CONNECTED; otherwise the next CONNECTED does it. */
static void
schedule_retry (ConfabChatStore *self,
                const GError    *error)
{
  ConfabStreamClient *client = confab_connection_manager_get_client (self->manager);
  gint64 now = confab_clock_now (self->clock);
  gint64 delay_ms;
  gint64 due;

  if (!is_connected (self))
    return;
  /* Several failures of one round wait for one timer (the backoff grows once). */
  if (self->retry_id != 0)
    delay_ms = MAX (0, (self->retry_due - now) / 1000);
  else
    delay_ms = confab_backoff_next_delay (self->backoff);

  if (error != NULL && confab_error_classify (error) == CONFAB_ERROR_RATE_LIMITED && client != NULL &&
      confab_stream_client_get_retry_at (client) > 0)
    {
      gint64 wait_ms = (confab_stream_client_get_retry_at (client) - confab_clock_wall (self->clock) + 999) / 1000;

      delay_ms = MAX (delay_ms, CLAMP (wait_ms, 0, (gint64) confab_backoff_get_cap_ms (self->backoff)));
    }

  due = now + delay_ms * 1000;
  if (self->retry_id != 0 && self->retry_due >= due)
    return;
  confab_clock_clear_timeout (self->clock, &self->retry_id);
  self->retry_due = due;
  self->retry_id = confab_clock_add_timeout (self->clock, (guint) MIN (delay_ms, G_MAXUINT), retry_cb, self, NULL);
  set_next_retry (self, confab_clock_wall (self->clock) + delay_ms * 1000);
  g_debug ("Chat store: next retry in %" G_GINT64_FORMAT " ms", delay_ms);
}

/* A request succeeded: when nothing else waits for a retry, the store has recovered. */
static void
maybe_clear_last_error (ConfabChatStore *self)
{
  if (self->last_error == NULL || self->list_stale || self->retry_id != 0 ||
      g_hash_table_size (self->pending_channels) > 0)
    return;
  set_last_error (self, NULL, NULL);
}

/* A channel that came from the server while a channel list is being fetched: that list
 * may predate it, so it must not be taken for one the server no longer lists. */
static void
note_live_channel (ConfabChatStore *self,
                   const char      *cid)
{
  if (self->refresh_seen != NULL)
    g_hash_table_add (self->refresh_seen, g_strdup (cid));
}

/* Cache writes ----------------------------------------------------------------------------- */

static gboolean
cache_usable (ConfabChatStore *self)
{
  return self->cache != NULL && confab_history_cache_is_open (self->cache);
}

static void
cache_put_user (ConfabChatStore *self,
                ConfabChatUser  *user)
{
  if (!cache_usable (self))
    return;
  confab_history_cache_put_user (self->cache, confab_chat_user_get_id (user),
                                 _confab_chat_user_get_raw_name (user),
                                 confab_chat_user_get_last_active (user));
}

static void
cache_put_message (ConfabChatStore *self,
                   ConfabMessage   *message)
{
  ConfabCachedMessage row;

  /* Our unsent messages live in the outbox until the server has them. */
  if (!cache_usable (self) || confab_message_get_status (message) != CONFAB_MESSAGE_STATUS_SENT)
    return;
  row.id = confab_message_get_id (message);
  row.cid = confab_message_get_cid (message);
  row.user_id = confab_message_get_user_id (message);
  row.text = _confab_message_get_raw_text (message);
  row.created_at = confab_message_get_created_at (message);
  row.deleted = confab_message_get_deleted (message);
  confab_history_cache_put_message (self->cache, &row);
}

static void
cache_put_channel (ConfabChatStore *self,
                   ConfabChannel   *channel)
{
  ConfabCachedChannel row;

  if (!cache_usable (self))
    return;
  row.cid = confab_channel_get_cid (channel);
  row.name = _confab_channel_get_raw_name (channel);
  row.member_count = confab_channel_get_member_count (channel);
  row.unread_count = confab_channel_get_unread_count (channel);
  row.last_message_at = confab_channel_get_last_message_at (channel);
  row.history_complete = !confab_channel_get_has_more_history (channel);
  confab_history_cache_put_channel (self->cache, &row);
}

static void
cache_put_members (ConfabChatStore *self,
                   ConfabChannel   *channel)
{
  g_auto(GStrv) ids = NULL;

  if (!cache_usable (self))
    return;
  ids = _confab_channel_dup_member_ids (channel);
  confab_history_cache_set_members (self->cache, confab_channel_get_cid (channel), (const char * const *) ids);
}

/* A corrupt file met while writing was replaced by an empty one: write it all again. */
static void
on_cache_reset (ConfabHistoryCache *cache,
                ConfabChatStore    *self)
{
  GHashTableIter iter;
  gpointer value;

  if (self->own_id != NULL)
    confab_history_cache_set_owner (cache, self->own_id);
  g_hash_table_iter_init (&iter, self->users);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    cache_put_user (self, value);
  g_hash_table_iter_init (&iter, self->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      ConfabChannel *channel = value;
      GListModel *messages = confab_channel_get_messages (channel);
      guint n = g_list_model_get_n_items (messages);

      cache_put_channel (self, channel);
      cache_put_members (self, channel);
      for (guint i = 0; i < n; i++)
        cache_put_message (self, _confab_chat_message_list_get (CONFAB_CHAT_MESSAGE_LIST (messages), i));
    }
}

/* Users ------------------------------------------------------------------------------------ */

static ConfabChatUser *
ensure_user (ConfabChatStore *self,
             const char      *id)
{
  ConfabChatUser *user = g_hash_table_lookup (self->users, id);

  if (user != NULL)
    return user;
  user = _confab_chat_user_new (id);
  g_hash_table_insert (self->users, (gpointer) confab_chat_user_get_id (user), user);
  /* The stand-in for "the server did not say who" is not someone to list. */
  if (*id != '\0')
    {
      g_ptr_array_add (self->new_users, g_object_ref (user));
      schedule_flush (self);
    }
  return user;
}

static void
user_changed (ConfabChatStore *self,
              ConfabChatUser  *user)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    _confab_channel_member_changed (value, user);
}

/* A user object from the server. @trust_presence: its `online` is current (events, and
 * channel queries with presence), not a copy frozen into an old message. */
static ConfabChatUser *
apply_user (ConfabChatStore *self,
            JsonObject      *object,
            gboolean         trust_presence)
{
  const char *id = _confab_chat_json_string (object, "id");
  ConfabChatUser *user;
  gboolean online = FALSE;
  gboolean changed = FALSE;
  gboolean renamed;
  g_autofree char *name = NULL;

  if (id == NULL || *id == '\0' || !g_utf8_validate (id, -1, NULL))
    return NULL;
  user = ensure_user (self, id);

  name = sanitize_text (_confab_chat_json_string (object, "name"));
  renamed = name != NULL && _confab_chat_user_set_name (user, name);
  if (_confab_chat_user_set_last_active (user, _confab_chat_json_time (object, "last_active")))
    changed = TRUE;
  if (trust_presence && _confab_chat_json_bool (object, "online", &online) &&
      _confab_chat_user_set_online (user, online))
    changed = TRUE;

  if (renamed || changed)
    user_changed (self, user);
  if (renamed)
    cache_put_user (self, user);
  return user;
}

/* Channels --------------------------------------------------------------------------------- */

static ConfabChannel *
ensure_channel (ConfabChatStore *self,
                const char      *cid)
{
  ConfabChannel *channel = g_hash_table_lookup (self->channels, cid);

  if (channel != NULL)
    return channel;
  channel = _confab_channel_new (cid, self->clock);
  _confab_channel_set_own_id (channel, self->own_id);
  g_hash_table_insert (self->channels, (gpointer) _confab_channel_get_cid_ref (channel), channel);
  self->order_dirty = TRUE;
  mark_dirty (self, channel);
  return channel;
}

static void
remove_channel (ConfabChatStore *self,
                const char      *cid)
{
  ConfabChannel *channel = g_hash_table_lookup (self->channels, cid);
  GapFill *fill;

  if (channel == NULL)
    return;
  fill = g_hash_table_lookup (self->gap_fills, cid);
  if (fill != NULL)
    remove_gap_fill (self, fill);
  g_hash_table_remove (self->pending_channels, cid);
  if (cache_usable (self))
    confab_history_cache_remove_channel (self->cache, cid);
  g_hash_table_remove (self->dirty, channel);
  g_hash_table_remove (self->synced, cid);
  g_hash_table_remove (self->channels, cid);
  self->order_dirty = TRUE;
  schedule_flush (self);
}

static int
compare_channels (gconstpointer a,
                  gconstpointer b)
{
  ConfabChannel *ca = *(ConfabChannel **) a;
  ConfabChannel *cb = *(ConfabChannel **) b;
  gint64 ta = confab_channel_get_last_message_at (ca);
  gint64 tb = confab_channel_get_last_message_at (cb);

  if (ta != tb)
    return ta > tb ? -1 : 1;
  return strcmp (confab_channel_get_cid (ca), confab_channel_get_cid (cb));
}

/* The channel list, re-sorted with one ::items-changed over the range that differs. */
static void
sort_channel_list (ConfabChatStore *self)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  GListModel *model = G_LIST_MODEL (self->channel_list);
  guint old_n = g_list_model_get_n_items (model);
  guint new_n;
  guint prefix = 0;
  guint suffix = 0;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sorted, value);
  g_ptr_array_sort (sorted, compare_channels);
  new_n = sorted->len;

  while (prefix < old_n && prefix < new_n)
    {
      g_autoptr(ConfabChannel) item = g_list_model_get_item (model, prefix);

      if (item != g_ptr_array_index (sorted, prefix))
        break;
      prefix++;
    }
  while (suffix < old_n - prefix && suffix < new_n - prefix)
    {
      g_autoptr(ConfabChannel) item = g_list_model_get_item (model, old_n - 1 - suffix);

      if (item != g_ptr_array_index (sorted, new_n - 1 - suffix))
        break;
      suffix++;
    }
  if (old_n - prefix - suffix == 0 && new_n - prefix - suffix == 0)
    return;
  g_list_store_splice (self->channel_list, prefix, old_n - prefix - suffix,
                       sorted->pdata + prefix, new_n - prefix - suffix);
}

/* channel (Stream's Channel object): name, counts, time. */
static void
apply_channel_info (ConfabChatStore *self,
                    ConfabChannel   *channel,
                    JsonObject      *object)
{
  g_autofree char *name = NULL;
  gint64 count = 0;
  gint64 last = 0;

  if (object == NULL)
    return;
  if (json_object_has_member (object, "name"))
    {
      name = sanitize_text (_confab_chat_json_string (object, "name"));
      _confab_channel_set_name (channel, name);
    }
  if (_confab_chat_json_int (object, "member_count", &count))
    _confab_channel_set_member_count (channel, (guint) CLAMP (count, 0, G_MAXUINT));
  last = _confab_chat_json_time (object, "last_message_at");
  if (last > 0)
    _confab_channel_set_server_last_message_at (channel, last);
  self->order_dirty = TRUE;
  mark_dirty (self, channel);
}

/* Messages --------------------------------------------------------------------------------- */

static ConfabMessageStatus
status_from_outbox (ConfabOutboxStatus status)
{
  switch (status)
    {
    case CONFAB_OUTBOX_STATUS_QUEUED:
      return CONFAB_MESSAGE_STATUS_QUEUED;
    case CONFAB_OUTBOX_STATUS_SENDING:
      return CONFAB_MESSAGE_STATUS_SENDING;
    case CONFAB_OUTBOX_STATUS_FAILED:
      return CONFAB_MESSAGE_STATUS_FAILED;
    case CONFAB_OUTBOX_STATUS_SENT:
    default:
      return CONFAB_MESSAGE_STATUS_SENT;
    }
}

static void
untrack (ConfabChatStore *self,
         const char      *id)
{
  g_hash_table_remove (self->tracked, id);
}

/* Merges one Stream Message object into @channel. Returns the message (new or updated),
 * or NULL when it is not one to show (no id, a thread reply). */
static ConfabMessage *
upsert_message (ConfabChatStore *self,
                ConfabChannel   *channel,
                JsonObject      *object,
                gboolean         live,
                gboolean        *out_new)
{
  const char *id = _confab_chat_json_string (object, "id");
  const char *type = _confab_chat_json_string (object, "type");
  JsonObject *user_object = _confab_chat_json_object (object, "user");
  const char *parent_id = _confab_chat_json_string (object, "parent_id");
  g_autofree char *text = NULL;
  ConfabChatUser *user = NULL;
  ConfabMessage *message;
  gboolean deleted;
  gboolean shown_in_channel = FALSE;
  gint64 created_at;

  *out_new = FALSE;
  if (id == NULL || *id == '\0' || !g_utf8_validate (id, -1, NULL))
    return NULL;
  /* Thread replies belong to their thread, unless also shown in the channel. */
  if (parent_id != NULL && *parent_id != '\0' &&
      !(_confab_chat_json_bool (object, "show_in_channel", &shown_in_channel) && shown_in_channel))
    return NULL;
  if (g_strcmp0 (type, "ephemeral") == 0 || g_strcmp0 (type, "error") == 0)
    return NULL;

  if (user_object != NULL)
    user = apply_user (self, user_object, FALSE);
  if (user == NULL)
    {
      const char *user_id = _confab_chat_json_string (object, "user_id");

      user = ensure_user (self, user_id != NULL && g_utf8_validate (user_id, -1, NULL) ? user_id : "");
    }

  text = sanitize_text (_confab_chat_json_string (object, "text"));
  deleted = g_strcmp0 (type, "deleted") == 0 || _confab_chat_json_time (object, "deleted_at") > 0;
  created_at = _confab_chat_json_time (object, "created_at");

  message = _confab_channel_lookup_message (channel, id);
  if (message != NULL)
    {
      /* Ours coming back from the server (its echo, or a page that holds it): delivered. */
      if (confab_message_get_status (message) != CONFAB_MESSAGE_STATUS_SENT)
        {
          _confab_message_set_status (message, CONFAB_MESSAGE_STATUS_SENT);
          _confab_message_set_last_error (message, NULL);
          untrack (self, id);
        }
      if (deleted)
        _confab_message_set_deleted (message, TRUE);
      else if (text != NULL)
        _confab_message_set_text (message, text);
      if (confab_message_get_user (message) != user && *confab_chat_user_get_id (user) != '\0')
        {
          _confab_message_set_user (message, user);
          _confab_message_set_is_own (message, is_own (self, confab_chat_user_get_id (user)));
        }
      if (created_at > 0 && created_at != confab_message_get_created_at (message))
        _confab_channel_queue_move (channel, message, created_at);
      cache_put_message (self, message);
      mark_dirty (self, channel);
      return message;
    }

  if (created_at <= 0)
    created_at = confab_clock_wall (self->clock);
  message = _confab_message_new (id, _confab_channel_get_cid_ref (channel), user, text, created_at,
                                 CONFAB_MESSAGE_STATUS_SENT, is_own (self, confab_chat_user_get_id (user)),
                                 deleted);
  _confab_channel_queue_add (channel, message, live && !confab_message_get_is_own (message));
  cache_put_message (self, message);
  mark_dirty (self, channel);
  g_object_unref (message);
  *out_new = TRUE;
  return message;
}

static const char *
event_cid (JsonObject *event)
{
  const char *cid = _confab_chat_json_string (event, "cid");

  if (cid == NULL)
    cid = _confab_chat_json_string (_confab_chat_json_object (event, "message"), "cid");
  if (cid == NULL)
    cid = _confab_chat_json_string (_confab_chat_json_object (event, "channel"), "cid");
  return valid_cid (cid) ? cid : NULL;
}

/* Events ----------------------------------------------------------------------------------- */

static void query_one_channel (ConfabChatStore *self,
                               const char      *cid);

static void
handle_message_new (ConfabChatStore *self,
                    JsonObject      *event,
                    const char      *cid)
{
  JsonObject *object = _confab_chat_json_object (event, "message");
  ConfabChannel *channel;
  ConfabMessage *message;
  gboolean added = FALSE;
  gint64 unread = 0;

  if (object == NULL)
    return;
  /* A conversation we did not know (someone started it): its name and members. */
  if (!g_hash_table_contains (self->channels, cid))
    query_one_channel (self, cid);
  note_live_channel (self, cid);
  channel = ensure_channel (self, cid);
  apply_channel_info (self, channel, _confab_chat_json_object (event, "channel"));
  message = upsert_message (self, channel, object, TRUE, &added);
  if (message == NULL)
    return;

  if (added && !confab_message_get_is_own (message))
    _confab_channel_typing_stop (channel, confab_message_get_user (message));

  /* Read as it arrives: nothing unread, and the server is told once the burst settles. */
  if (is_reading (self, cid))
    {
      _confab_channel_set_unread_count (channel, 0);
      if (added && !confab_message_get_is_own (message))
        owe_read (self);
    }
  /* The server counts per recipient; without its count, count ourselves. */
  else if (_confab_chat_json_int (event, "unread_count", &unread))
    _confab_channel_set_unread_count (channel, (guint) CLAMP (unread, 0, G_MAXUINT));
  else if (added && !confab_message_get_is_own (message))
    _confab_channel_set_unread_count (channel, confab_channel_get_unread_count (channel) + 1);
  self->order_dirty = TRUE;
}

static void
handle_message_changed (ConfabChatStore *self,
                        JsonObject      *event,
                        const char      *cid,
                        gboolean         deleted)
{
  JsonObject *object = _confab_chat_json_object (event, "message");
  ConfabChannel *channel = g_hash_table_lookup (self->channels, cid);
  const char *id = _confab_chat_json_string (object, "id");
  ConfabMessage *message;
  gboolean added = FALSE;

  if (channel == NULL || id == NULL)
    return;
  message = _confab_channel_lookup_message (channel, id);
  if (message == NULL)
    return;  /* never seen: nothing to change */
  if (deleted)
    {
      _confab_message_set_deleted (message, TRUE);
      cache_put_message (self, message);
      mark_dirty (self, channel);
      return;
    }
  upsert_message (self, channel, object, FALSE, &added);
}

static void
handle_typing (ConfabChatStore *self,
               JsonObject      *event,
               const char      *cid,
               gboolean         start)
{
  ConfabChannel *channel = g_hash_table_lookup (self->channels, cid);
  JsonObject *user_object = _confab_chat_json_object (event, "user");
  ConfabChatUser *user;

  /* Thread typing is not shown in the channel. */
  if (channel == NULL || user_object == NULL || _confab_chat_json_string (event, "parent_id") != NULL)
    return;
  user = apply_user (self, user_object, FALSE);
  if (user == NULL || is_own (self, confab_chat_user_get_id (user)))
    return;
  if (start)
    _confab_channel_typing_start (channel, user);
  else
    _confab_channel_typing_stop (channel, user);
}

static void
handle_read (ConfabChatStore *self,
             JsonObject      *event,
             const char      *cid,
             gboolean         notification)
{
  ConfabChannel *channel = cid != NULL ? g_hash_table_lookup (self->channels, cid) : NULL;
  gint64 value = 0;

  if (notification)
    {
      /* notification.mark_read goes to our own connections only. */
      if (_confab_chat_json_int (event, "unread_channels", &value) && value == 0)
        {
          GHashTableIter iter;
          gpointer channel_value;

          g_hash_table_iter_init (&iter, self->channels);
          while (g_hash_table_iter_next (&iter, NULL, &channel_value))
            {
              _confab_channel_set_unread_count (channel_value, 0);
              mark_dirty (self, channel_value);
            }
          return;
        }
      if (channel == NULL)
        return;
      if (_confab_chat_json_int (event, "unread_count", &value))
        _confab_channel_set_unread_count (channel, (guint) CLAMP (value, 0, G_MAXUINT));
      else
        _confab_channel_set_unread_count (channel, 0);
      mark_dirty (self, channel);
      return;
    }

  /* message.read goes to every watcher: only ours resets our count. */
  if (channel != NULL &&
      is_own (self, _confab_chat_json_string (_confab_chat_json_object (event, "user"), "id")))
    {
      _confab_channel_set_unread_count (channel, 0);
      mark_dirty (self, channel);
    }
}

static void
handle_member (ConfabChatStore *self,
               JsonObject      *event,
               const char      *cid,
               gboolean         removed)
{
  ConfabChannel *channel = g_hash_table_lookup (self->channels, cid);
  JsonObject *member = _confab_chat_json_object (event, "member");
  JsonObject *user_object = _confab_chat_json_object (member, "user");
  ConfabChatUser *user = NULL;
  gint64 count = 0;

  if (channel == NULL)
    return;
  if (user_object != NULL)
    user = apply_user (self, user_object, FALSE);
  if (user == NULL)
    {
      const char *user_id = _confab_chat_json_string (member, "user_id");

      if (user_id == NULL || *user_id == '\0' || !g_utf8_validate (user_id, -1, NULL))
        return;
      user = ensure_user (self, user_id);
    }

  if (removed)
    {
      /* We left: the channel goes. */
      if (is_own (self, confab_chat_user_get_id (user)))
        {
          remove_channel (self, cid);
          return;
        }
      _confab_channel_remove_member (channel, user);
    }
  else
    _confab_channel_add_member (channel, user);

  if (_confab_chat_json_int (event, "channel_member_count", &count))
    _confab_channel_set_member_count (channel, (guint) CLAMP (count, 0, G_MAXUINT));
  cache_put_members (self, channel);
  mark_dirty (self, channel);
}

static void
on_event (ConfabConnectionManager *manager,
          JsonObject              *event,
          ConfabChatStore         *self)
{
  const char *type = _confab_chat_json_string (event, "type");
  const char *cid;
  JsonObject *user_object;

  if (type == NULL || g_str_equal (type, "health.check"))
    return;
  cid = event_cid (event);

  if (g_str_equal (type, "message.new") || g_str_equal (type, "notification.message_new"))
    {
      if (cid != NULL)
        handle_message_new (self, event, cid);
    }
  else if (g_str_equal (type, "message.updated") || g_str_equal (type, "message.undeleted"))
    {
      if (cid != NULL)
        handle_message_changed (self, event, cid, FALSE);
    }
  else if (g_str_equal (type, "message.deleted"))
    {
      if (cid != NULL)
        handle_message_changed (self, event, cid, TRUE);
    }
  else if (g_str_equal (type, "typing.start") || g_str_equal (type, "typing.stop"))
    {
      if (cid != NULL)
        handle_typing (self, event, cid, g_str_equal (type, "typing.start"));
    }
  else if (g_str_equal (type, "user.presence.changed") || g_str_equal (type, "user.updated") ||
           g_str_equal (type, "user.watching.start") || g_str_equal (type, "user.watching.stop"))
    {
      user_object = _confab_chat_json_object (event, "user");
      if (user_object != NULL)
        apply_user (self, user_object, TRUE);
    }
  else if (g_str_equal (type, "message.read"))
    handle_read (self, event, cid, FALSE);
  else if (g_str_equal (type, "notification.mark_read"))
    handle_read (self, event, cid, TRUE);
  else if (g_str_equal (type, "channel.updated") || g_str_equal (type, "channel.visible"))
    {
      if (cid != NULL && g_hash_table_contains (self->channels, cid))
        apply_channel_info (self, g_hash_table_lookup (self->channels, cid),
                            _confab_chat_json_object (event, "channel"));
    }
  else if (g_str_equal (type, "member.added") || g_str_equal (type, "member.updated"))
    {
      if (cid != NULL)
        handle_member (self, event, cid, FALSE);
    }
  else if (g_str_equal (type, "member.removed"))
    {
      if (cid != NULL)
        handle_member (self, event, cid, TRUE);
    }
  else if (g_str_equal (type, "notification.added_to_channel"))
    {
      if (cid != NULL)
        {
          note_live_channel (self, cid);
          apply_channel_info (self, ensure_channel (self, cid), _confab_chat_json_object (event, "channel"));
          query_one_channel (self, cid);
        }
    }
  else if (g_str_equal (type, "notification.removed_from_channel") ||
           g_str_equal (type, "channel.deleted") ||
           g_str_equal (type, "notification.channel_deleted"))
    {
      if (cid != NULL)
        remove_channel (self, cid);
    }
  /* Anything else (reactions, threads, polls, custom events, types to come) is not
   * shown by this model. */
}

/* Channel state from REST ---------------------------------------------------------------- */

typedef struct
{
  ConfabChannel *channel;
  guint          n_messages;
  gboolean       gap;           /* the page does not meet what we had */
  char          *newest_before; /* the newest message the server knows we had */
} StateResult;

static void
state_result_clear (StateResult *result)
{
  g_clear_object (&result->channel);
  g_clear_pointer (&result->newest_before, g_free);
}

/* Merges a ChannelState (query-channels element or /query answer). @page_limit: the
 * message limit asked for, to tell a full page (maybe more before it) from the whole
 * history. */
static gboolean
apply_channel_state (ConfabChatStore *self,
                     JsonObject      *state,
                     guint            page_limit,
                     StateResult     *result)
{
  JsonObject *channel_object = _confab_chat_json_object (state, "channel");
  const char *cid = _confab_chat_json_string (channel_object, "cid");
  JsonArray *members = _confab_chat_json_array (state, "members");
  JsonArray *reads = _confab_chat_json_array (state, "read");
  JsonArray *messages = _confab_chat_json_array (state, "messages");
  ConfabChannel *channel;
  ConfabMessage *newest;
  gboolean had_messages;
  gboolean first_known = FALSE;

  memset (result, 0, sizeof *result);
  if (!valid_cid (cid))
    return FALSE;

  channel = ensure_channel (self, cid);
  result->channel = g_object_ref (channel);
  g_hash_table_add (self->synced, g_strdup (cid));
  apply_channel_info (self, channel, channel_object);

  if (members != NULL)
    {
      g_autoptr(GPtrArray) users = g_ptr_array_new ();

      for (guint i = 0; i < json_array_get_length (members); i++)
        {
          JsonNode *node = json_array_get_element (members, i);
          JsonObject *member;
          ConfabChatUser *user;

          if (!JSON_NODE_HOLDS_OBJECT (node))
            continue;
          member = json_node_get_object (node);
          user = apply_user (self, _confab_chat_json_object (member, "user"), TRUE);
          if (user != NULL)
            g_ptr_array_add (users, user);
        }
      _confab_channel_set_members (channel, users);
      if (!json_object_has_member (channel_object, "member_count"))
        _confab_channel_set_member_count (channel, users->len);
      cache_put_members (self, channel);
    }

  for (guint i = 0; reads != NULL && i < json_array_get_length (reads); i++)
    {
      JsonNode *node = json_array_get_element (reads, i);
      JsonObject *read;
      gint64 unread = 0;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      read = json_node_get_object (node);
      if (!is_own (self, _confab_chat_json_string (_confab_chat_json_object (read, "user"), "id")))
        continue;
      if (g_hash_table_contains (self->unsent_reads, cid))
        _confab_channel_set_unread_count (channel, 0);
      else if (is_reading (self, cid))
        {
          /* Being read: what the server still counts (missed while away) is read now. */
          _confab_channel_set_unread_count (channel, 0);
          if (_confab_chat_json_int (read, "unread_messages", &unread) && unread > 0)
            owe_read (self);
        }
      else if (_confab_chat_json_int (read, "unread_messages", &unread))
        _confab_channel_set_unread_count (channel, (guint) CLAMP (unread, 0, G_MAXUINT));
    }

  newest = _confab_channel_get_newest_sent (channel);
  had_messages = newest != NULL;
  if (had_messages)
    result->newest_before = g_strdup (confab_message_get_id (newest));

  for (guint i = 0; messages != NULL && i < json_array_get_length (messages); i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      gboolean added = FALSE;
      const char *id;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      id = _confab_chat_json_string (json_node_get_object (node), "id");
      if (result->n_messages == 0 && id != NULL)
        first_known = _confab_channel_lookup_message (channel, id) != NULL;
      if (upsert_message (self, channel, json_node_get_object (node), FALSE, &added) != NULL)
        result->n_messages++;
    }

  if (!had_messages)
    _confab_channel_set_has_more_history (channel, result->n_messages >= page_limit);
  else if (result->n_messages >= page_limit && !first_known)
    result->gap = TRUE;

  mark_dirty (self, channel);
  return TRUE;
}

/* Gap filling ------------------------------------------------------------------------------ */

static void
gap_fill_clear (GapFill *fill)
{
  g_clear_object (&fill->channel);
  g_clear_pointer (&fill->after, g_free);
  g_clear_pointer (&fill->page_ids, g_hash_table_unref);
}

static void
gap_fill_release (GapFill *fill)
{
  g_rc_box_release_full (fill, (GDestroyNotify) gap_fill_clear);
}

/* gap_fills' value destructor: whatever is still in flight is ignored when it ends. */
static void
gap_fill_forget (GapFill *fill)
{
  fill->abandoned = TRUE;
  gap_fill_release (fill);
}

static void
remove_gap_fill (ConfabChatStore *self,
                 GapFill         *fill)
{
  g_hash_table_remove (self->gap_fills, confab_channel_get_cid (fill->channel));
}

/* Too much was missed (or it could not be fetched): keep the newest page, page the rest
 * back in on demand. The history never has a hole. */
static void
drop_before (ConfabChatStore *self,
             ConfabChannel   *channel,
             GHashTable      *keep_from_ids)
{
  GListModel *model = confab_channel_get_messages (channel);
  guint n;
  gint64 keep_after = G_MAXINT64;
  guint dropped = 0;

  /* The newest page may still be queued: it must be in the list to be found. */
  flush_now (self);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      ConfabMessage *message = _confab_chat_message_list_get (CONFAB_CHAT_MESSAGE_LIST (model), i);

      if (g_hash_table_contains (keep_from_ids, confab_message_get_id (message)))
        {
          keep_after = confab_message_get_created_at (message);
          break;
        }
    }
  for (guint i = 0; i < n; i++)
    {
      ConfabMessage *message = _confab_chat_message_list_get (CONFAB_CHAT_MESSAGE_LIST (model), i);

      if (confab_message_get_created_at (message) >= keep_after)
        break;
      if (confab_message_get_status (message) != CONFAB_MESSAGE_STATUS_SENT)
        continue;
      _confab_channel_queue_remove (channel, message);
      if (cache_usable (self))
        confab_history_cache_remove_message (self->cache, confab_message_get_id (message));
      dropped++;
    }
  g_debug ("Chat store: %u older messages dropped from a channel; they page back in on demand", dropped);
  _confab_channel_set_has_more_history (channel, TRUE);
  mark_dirty (self, channel);
  flush_now (self);
}

static void gap_fill_next (GapFill *fill);

static void
gap_fill_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GapFill *fill = user_data;
  ConfabChatStore *self = fill->store;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_query_channel_finish (CONFAB_STREAM_CLIENT (source), result, &error);
  JsonArray *messages;
  gboolean closed = FALSE;
  guint n = 0;

  if (fill->abandoned)
    goto out;

  if (answer == NULL)
    {
      fill->failures++;
      set_last_error (self, "closing a history gap", error);
      if (is_connected (self) && fill->failures < CONFAB_CHAT_STORE_GAP_MAX_ATTEMPTS)
        {
          g_debug ("Chat store: a page closing a history gap failed (%s); trying again", error->message);
          fill->waiting = TRUE;
          schedule_retry (self, error);
        }
      else
        {
          g_debug ("Chat store: closing a history gap failed (%s); dropping the older messages", error->message);
          drop_before (self, fill->channel, fill->page_ids);
          remove_gap_fill (self, fill);
        }
      goto out;
    }

  messages = _confab_chat_json_array (answer, "messages");
  for (guint i = 0; messages != NULL && i < json_array_get_length (messages); i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      const char *id;
      gboolean added = FALSE;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      id = _confab_chat_json_string (json_node_get_object (node), "id");
      n++;
      if (id != NULL && g_hash_table_contains (fill->page_ids, id))
        closed = TRUE;
      if (id != NULL)
        {
          g_free (fill->after);
          fill->after = g_strdup (id);
        }
      upsert_message (self, fill->channel, json_node_get_object (node), FALSE, &added);
    }
  fill->pages++;
  fill->failures = 0;
  maybe_clear_last_error (self);

  if (closed || n < self->gap_page_size)
    {
      g_debug ("Chat store: history gap closed in %u pages", fill->pages);
      flush_now (self);
      remove_gap_fill (self, fill);
    }
  else if (fill->pages >= self->gap_max_pages)
    {
      g_debug ("Chat store: history gap over %u pages; dropping the older messages", fill->pages);
      drop_before (self, fill->channel, fill->page_ids);
      remove_gap_fill (self, fill);
    }
  else
    {
      flush_now (self);
      gap_fill_next (fill);
    }

out:
  gap_fill_release (fill);
  g_object_unref (self);
}

static void
gap_fill_next (GapFill *fill)
{
  ConfabChatStore *self = fill->store;
  ConfabStreamClient *client = confab_connection_manager_get_client (self->manager);
  g_autofree char *type = NULL;
  g_autofree char *id = NULL;

  fill->waiting = FALSE;
  if (client == NULL || !split_cid (confab_channel_get_cid (fill->channel), &type, &id))
    {
      drop_before (self, fill->channel, fill->page_ids);
      remove_gap_fill (self, fill);
      return;
    }
  /* The request keeps the store and the fill alive until it ends. */
  g_object_ref (self);
  confab_stream_client_query_channel_async (client, type, id, FALSE, FALSE, (int) self->gap_page_size, NULL,
                                            fill->after, self->cancellable, gap_fill_cb, g_rc_box_acquire (fill));
}

static void
start_gap_fill (ConfabChatStore *self,
                StateResult     *state,
                JsonObject      *state_object)
{
  JsonArray *messages = _confab_chat_json_array (state_object, "messages");
  const char *cid = confab_channel_get_cid (state->channel);
  GapFill *previous = g_hash_table_lookup (self->gap_fills, cid);
  GapFill *fill = g_rc_box_new0 (GapFill);

  fill->store = self;
  fill->channel = g_object_ref (state->channel);
  fill->after = g_strdup (state->newest_before);
  fill->page_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; messages != NULL && i < json_array_get_length (messages); i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      const char *id = JSON_NODE_HOLDS_OBJECT (node) ? _confab_chat_json_string (json_node_get_object (node), "id") : NULL;

      if (id != NULL)
        g_hash_table_add (fill->page_ids, g_strdup (id));
    }

  /* Still closing an older gap: two holes are one too many; start again from this page. */
  if (previous != NULL)
    {
      g_debug ("Chat store: a new history gap while closing one; dropping the older messages");
      remove_gap_fill (self, previous);
      drop_before (self, fill->channel, fill->page_ids);
      gap_fill_release (fill);
      return;
    }

  g_hash_table_insert (self->gap_fills, (gpointer) confab_channel_get_cid (fill->channel), fill);
  g_debug ("Chat store: the newest page does not meet the cached history; closing the gap");
  gap_fill_next (fill);
}

/* Refreshing the channel list ---------------------------------------------------------- */

typedef struct
{
  ConfabChatStore *store;
  GHashTable      *seen;   /* cid set */
  int              offset;
  guint            pages;
} Refresh;

static void
refresh_free (Refresh *refresh)
{
  if (refresh->store->refresh_seen == refresh->seen)
    refresh->store->refresh_seen = NULL;
  g_clear_object (&refresh->store);
  g_clear_pointer (&refresh->seen, g_hash_table_unref);
  g_free (refresh);
}

static gboolean
has_unsent (ConfabChannel *channel)
{
  GListModel *model = confab_channel_get_messages (channel);
  guint n = g_list_model_get_n_items (model);

  for (guint i = n; i > 0; i--)
    if (confab_message_get_status (_confab_chat_message_list_get (CONFAB_CHAT_MESSAGE_LIST (model), i - 1)) !=
        CONFAB_MESSAGE_STATUS_SENT)
      return TRUE;
  return FALSE;
}

static void refresh_page (Refresh *refresh);

/* @error NULL: the whole list arrived. */
static void
refresh_done (Refresh      *refresh,
              const GError *error)
{
  ConfabChatStore *self = refresh->store;
  gboolean again = self->refresh_again;

  self->refresh_in_flight = FALSE;
  self->refresh_again = FALSE;

  if (error == NULL)
    {
      /* Channels the server no longer lists for us are gone (unless a message of ours
       * still waits to be sent there: the outbox reports what becomes of it). */
      g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
      GHashTableIter iter;
      gpointer key;
      gpointer value;

      g_hash_table_iter_init (&iter, self->channels);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (!g_hash_table_contains (refresh->seen, key) && !has_unsent (value))
          g_ptr_array_add (gone, g_strdup (key));
      for (guint i = 0; i < gone->len; i++)
        remove_channel (self, g_ptr_array_index (gone, i));

      self->list_stale = FALSE;
      self->list_complete = TRUE;
      /* The whole list has every channel's state: nothing to ask one by one. */
      g_hash_table_remove_all (self->pending_channels);
      confab_backoff_reset (self->backoff);
      set_last_error (self, NULL, NULL);
    }
  else
    {
      /* What arrived stays (it is the server's), but the list is not final. */
      self->list_stale = TRUE;
      set_last_error (self, "querying the channel list", error);
    }

  flush_now (self);

  if (again)
    {
      /* Connected anew while this one ran: query again, still refreshing. */
      refresh_channels (self);
      return;
    }
  if (error != NULL && is_connected (self))
    {
      schedule_retry (self, error);
      return;
    }
  set_refreshing (self, FALSE);
  if (error == NULL)
    retry_pending (self);
}

static void
refresh_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Refresh *refresh = user_data;
  ConfabChatStore *self = refresh->store;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_query_channels_finish (CONFAB_STREAM_CLIENT (source), result, &error);
  JsonArray *channels;
  guint n = 0;

  if (answer == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        self->refresh_in_flight = FALSE;  /* disposed */
      else
        {
          g_debug ("Chat store: querying channels failed: %s", error->message);
          refresh_done (refresh, error);
        }
      refresh_free (refresh);
      return;
    }

  channels = _confab_chat_json_array (answer, "channels");
  if (channels == NULL)
    {
      g_autoptr(GError) malformed = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                                                         "the answer has no channel list");

      g_debug ("Chat store: querying channels: %s", malformed->message);
      refresh_done (refresh, malformed);
      refresh_free (refresh);
      return;
    }

  for (guint i = 0; i < json_array_get_length (channels); i++)
    {
      JsonNode *node = json_array_get_element (channels, i);
      StateResult state;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      n++;
      if (!apply_channel_state (self, json_node_get_object (node), self->channel_message_limit, &state))
        continue;
      g_hash_table_add (refresh->seen, g_strdup (confab_channel_get_cid (state.channel)));
      if (state.gap)
        start_gap_fill (self, &state, json_node_get_object (node));
      state_result_clear (&state);
    }
  refresh->pages++;
  g_debug ("Chat store: %u channels on page %u", n, refresh->pages);

  if (n >= CONFAB_CHAT_STORE_CHANNELS_PER_PAGE && refresh->pages < MAX_CHANNEL_PAGES)
    {
      flush_now (self);
      refresh->offset += n;
      refresh_page (refresh);
      return;
    }
  refresh_done (refresh, NULL);
  refresh_free (refresh);
}

static void
refresh_page (Refresh *refresh)
{
  ConfabChatStore *self = refresh->store;
  ConfabStreamClient *client = confab_connection_manager_get_client (self->manager);

  if (client == NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_NETWORK, "not connected");

      refresh_done (refresh, error);
      refresh_free (refresh);
      return;
    }
  confab_stream_client_query_channels_async (client, TRUE, TRUE, CONFAB_CHAT_STORE_CHANNELS_PER_PAGE,
                                             refresh->offset, (int) self->channel_message_limit,
                                             self->cancellable, refresh_cb, refresh);
}

static void
refresh_channels (ConfabChatStore *self)
{
  Refresh *refresh;

  set_refreshing (self, TRUE);
  if (self->refresh_in_flight)
    {
      self->refresh_again = TRUE;
      return;
    }
  cancel_retry (self);
  self->refresh_in_flight = TRUE;
  refresh = g_new0 (Refresh, 1);
  refresh->store = g_object_ref (self);
  refresh->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->refresh_seen = refresh->seen;
  refresh_page (refresh);
}

typedef struct
{
  ConfabChatStore *store;
  char            *cid;
} OneChannel;

static void
one_channel_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  OneChannel *one = user_data;
  ConfabChatStore *self = one->store;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_query_channel_finish (CONFAB_STREAM_CLIENT (source), result, &error);
  StateResult state;

  if (answer != NULL && apply_channel_state (self, answer, self->channel_message_limit, &state))
    {
      note_live_channel (self, one->cid);
      g_hash_table_remove (self->pending_channels, one->cid);
      flush_now (self);
      state_result_clear (&state);
      maybe_clear_last_error (self);
    }
  else if (answer != NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (error == NULL)
        error = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL, "the answer has no channel");
      g_debug ("Chat store: querying a channel failed: %s", error->message);
      set_last_error (self, "querying a channel", error);
      /* Gone or refused: the whole channel list says whether it is still ours. */
      if (confab_error_is_transient (error))
        g_hash_table_add (self->pending_channels, g_strdup (one->cid));
      else
        {
          g_hash_table_remove (self->pending_channels, one->cid);
          self->list_stale = TRUE;
        }
      schedule_retry (self, error);
    }
  g_clear_object (&one->store);
  g_free (one->cid);
  g_free (one);
}

/* A channel we were just added to: its state, watched, with presence. */
static void
query_one_channel (ConfabChatStore *self,
                   const char      *cid)
{
  ConfabStreamClient *client = confab_connection_manager_get_client (self->manager);
  g_autofree char *type = NULL;
  g_autofree char *id = NULL;
  OneChannel *one;

  if (client == NULL || !is_usable (self) || !split_cid (cid, &type, &id))
    return;
  one = g_new0 (OneChannel, 1);
  one->store = g_object_ref (self);
  one->cid = g_strdup (cid);
  confab_stream_client_query_channel_async (client, type, id, TRUE, TRUE, (int) self->channel_message_limit,
                                            NULL, NULL, self->cancellable, one_channel_cb, one);
}

/* What failed besides the channel list: channels' own queries, gap pages, reads. */
static void
retry_pending (ConfabChatStore *self)
{
  g_autoptr(GPtrArray) cids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) fills = g_ptr_array_new_with_free_func ((GDestroyNotify) gap_fill_release);
  GHashTableIter iter;
  gpointer key;
  gpointer value;

  g_hash_table_iter_init (&iter, self->pending_channels);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (cids, g_strdup (key));
  for (guint i = 0; i < cids->len; i++)
    query_one_channel (self, g_ptr_array_index (cids, i));

  g_hash_table_iter_init (&iter, self->gap_fills);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((GapFill *) value)->waiting)
      g_ptr_array_add (fills, g_rc_box_acquire (value));
  for (guint i = 0; i < fills->len; i++)
    {
      GapFill *fill = g_ptr_array_index (fills, i);

      if (!fill->abandoned)
        gap_fill_next (fill);
    }

  send_unsent_reads (self);
}

/* The connection was lost: gap pages waiting for a retry cannot resume after the next
 * connect (its newest page would not show the hole), so the older messages go now. */
static void
abandon_waiting_gap_fills (ConfabChatStore *self)
{
  g_autoptr(GPtrArray) fills = g_ptr_array_new_with_free_func ((GDestroyNotify) gap_fill_release);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->gap_fills);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((GapFill *) value)->waiting)
      g_ptr_array_add (fills, g_rc_box_acquire (value));
  for (guint i = 0; i < fills->len; i++)
    {
      GapFill *fill = g_ptr_array_index (fills, i);

      if (fill->abandoned)
        continue;
      drop_before (self, fill->channel, fill->page_ids);
      remove_gap_fill (self, fill);
    }
}

/* Flushing --------------------------------------------------------------------------------- */

typedef struct
{
  ConfabChannel *channel;
  GPtrArray     *messages;
} Announcement;

static void
flush_now (ConfabChatStore *self)
{
  g_autoptr(GPtrArray) channels = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) announcements = g_array_new (FALSE, FALSE, sizeof (Announcement));
  GHashTableIter iter;
  gpointer key;

  g_clear_handle_id (&self->flush_id, g_source_remove);

  if (self->new_users->len > 0)
    {
      g_autoptr(GPtrArray) users = g_steal_pointer (&self->new_users);

      self->new_users = g_ptr_array_new_with_free_func (g_object_unref);
      g_list_store_splice (self->user_list, g_list_model_get_n_items (G_LIST_MODEL (self->user_list)), 0,
                           users->pdata, users->len);
    }

  /* Taken first: a handler of the signals below may change the store again. */
  g_hash_table_iter_init (&iter, self->dirty);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (channels, g_object_ref (key));
  g_hash_table_remove_all (self->dirty);

  for (guint i = 0; i < channels->len; i++)
    {
      ConfabChannel *channel = g_ptr_array_index (channels, i);
      Announcement announcement = { channel, g_ptr_array_new_with_free_func (g_object_unref) };
      gint64 before = confab_channel_get_last_message_at (channel);

      _confab_channel_flush (channel, announcement.messages);
      if (confab_channel_get_last_message_at (channel) != before)
        self->order_dirty = TRUE;
      if (g_hash_table_lookup (self->channels, confab_channel_get_cid (channel)) == channel)
        cache_put_channel (self, channel);
      g_array_append_val (announcements, announcement);
    }

  if (self->order_dirty)
    {
      self->order_dirty = FALSE;
      sort_channel_list (self);
    }

  for (guint i = 0; i < announcements->len; i++)
    {
      Announcement *announcement = &g_array_index (announcements, Announcement, i);

      for (guint j = 0; j < announcement->messages->len; j++)
        g_signal_emit (self, signals[SIGNAL_MESSAGE_ADDED], 0, announcement->channel,
                       g_ptr_array_index (announcement->messages, j));
      g_ptr_array_unref (announcement->messages);
    }
}

/* The outbox ------------------------------------------------------------------------------- */

static void
tracked_free (Tracked *tracked)
{
  g_clear_signal_handler (&tracked->handler, tracked->item);
  g_clear_object (&tracked->item);
  g_clear_object (&tracked->message);
  g_free (tracked);
}

static gboolean
prune_cb (gpointer user_data)
{
  ConfabChatStore *self = user_data;

  self->prune_id = 0;
  if (self->outbox != NULL)
    confab_outbox_prune (self->outbox);
  return G_SOURCE_REMOVE;
}

static void
on_item_changed (ConfabOutboxItem *item,
                 GParamSpec       *pspec,
                 Tracked          *tracked)
{
  ConfabChatStore *self = tracked->store;
  g_autoptr(ConfabMessage) message = g_object_ref (tracked->message);
  ConfabMessageStatus status = status_from_outbox (confab_outbox_item_get_status (item));

  _confab_message_set_last_error (message, confab_outbox_item_get_last_error (item));
  _confab_message_set_status (message, status);
  if (status == CONFAB_MESSAGE_STATUS_SENT)
    {
      /* Delivered: from now on the server's copy is the truth. */
      untrack (self, confab_message_get_id (message));
      cache_put_message (self, message);
      if (self->prune_id == 0)
        self->prune_id = g_idle_add_full (G_PRIORITY_LOW, prune_cb, self, NULL);
    }
}

static void
track_item (ConfabChatStore  *self,
            ConfabOutboxItem *item)
{
  const char *id = confab_outbox_item_get_id (item);
  const char *cid = confab_outbox_item_get_cid (item);
  g_autoptr(ConfabMessage) message = NULL;
  ConfabChannel *channel;
  ConfabChatUser *user;
  Tracked *tracked;

  if (confab_outbox_item_get_status (item) == CONFAB_OUTBOX_STATUS_SENT ||
      g_hash_table_contains (self->tracked, id) || !valid_cid (cid))
    return;

  channel = ensure_channel (self, cid);
  /* Already delivered and cached by an earlier run: the server's copy stands. */
  if (_confab_channel_lookup_message (channel, id) != NULL)
    return;

  user = ensure_user (self, self->own_id != NULL ? self->own_id : "");
  message = _confab_message_new (id, _confab_channel_get_cid_ref (channel), user,
                                 confab_outbox_item_get_text (item),
                                 confab_outbox_item_get_created_at (item),
                                 status_from_outbox (confab_outbox_item_get_status (item)),
                                 TRUE, FALSE);
  _confab_message_set_last_error (message, confab_outbox_item_get_last_error (item));
  _confab_channel_queue_add (channel, message, FALSE);
  mark_dirty (self, channel);

  tracked = g_new0 (Tracked, 1);
  tracked->store = self;
  tracked->item = g_object_ref (item);
  tracked->message = g_object_ref (message);
  tracked->handler = g_signal_connect (item, "notify", G_CALLBACK (on_item_changed), tracked);
  g_hash_table_insert (self->tracked, g_strdup (id), tracked);
}

static void
on_outbox_items_changed (GListModel      *outbox,
                         guint            position,
                         guint            removed,
                         guint            added,
                         ConfabChatStore *self)
{
  if (removed > 0)
    {
      /* Discarded (or pruned): whatever we track that the outbox no longer has. */
      g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
      GHashTableIter iter;
      gpointer key;
      gpointer value;

      g_hash_table_iter_init (&iter, self->tracked);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (confab_outbox_lookup (self->outbox, key) == NULL)
          g_ptr_array_add (gone, g_strdup (key));
      for (guint i = 0; i < gone->len; i++)
        {
          Tracked *tracked = g_hash_table_lookup (self->tracked, g_ptr_array_index (gone, i));
          ConfabChannel *channel = g_hash_table_lookup (self->channels, confab_message_get_cid (tracked->message));

          if (channel != NULL && confab_message_get_status (tracked->message) != CONFAB_MESSAGE_STATUS_SENT)
            {
              _confab_channel_queue_remove (channel, tracked->message);
              mark_dirty (self, channel);
            }
          untrack (self, g_ptr_array_index (gone, i));
        }
    }

  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(ConfabOutboxItem) item = g_list_model_get_item (outbox, i);

      if (item != NULL)
        track_item (self, item);
    }

  /* At once, so a message just composed is in its channel before the send starts. */
  flush_now (self);
}

static void
attach_outbox (ConfabChatStore *self)
{
  guint n;

  if (self->outbox == NULL || self->outbox_attached)
    return;
  self->outbox_attached = TRUE;
  self->outbox_handler = g_signal_connect (self->outbox, "items-changed",
                                           G_CALLBACK (on_outbox_items_changed), self);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->outbox));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ConfabOutboxItem) item = g_list_model_get_item (G_LIST_MODEL (self->outbox), i);

      track_item (self, item);
    }
}

/* Who we are ------------------------------------------------------------------------------- */

/* Another user signed in: nothing of the previous one's may show. */
static void
forget_everything (ConfabChatStore *self)
{
  g_debug ("Chat store: another user; forgetting the cached chat");
  g_hash_table_remove_all (self->tracked);
  g_hash_table_remove_all (self->dirty);
  g_hash_table_remove_all (self->gap_fills);
  g_hash_table_remove_all (self->pending_channels);
  g_hash_table_remove_all (self->channels);
  g_hash_table_remove_all (self->synced);
  g_hash_table_remove_all (self->unsent_reads);
  g_hash_table_remove_all (self->typing_out);
  if (self->refresh_seen != NULL)
    g_hash_table_remove_all (self->refresh_seen);
  self->list_complete = FALSE;
  self->order_dirty = TRUE;
  if (cache_usable (self))
    confab_history_cache_clear (self->cache);
  self->outbox_attached = FALSE;
  g_clear_signal_handler (&self->outbox_handler, self->outbox);
}

static void
set_own_id (ConfabChatStore *self,
            const char      *own_id)
{
  GHashTableIter iter;
  gpointer value;

  if (own_id == NULL || g_strcmp0 (self->own_id, own_id) == 0)
    return;
  if (self->own_id != NULL)
    forget_everything (self);
  g_free (self->own_id);
  self->own_id = g_strdup (own_id);
  g_hash_table_iter_init (&iter, self->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    _confab_channel_set_own_id (value, own_id);
  /* Messages composed before we knew who we are. */
  g_hash_table_iter_init (&iter, self->tracked);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      ConfabMessage *message = ((Tracked *) value)->message;

      if (*confab_message_get_user_id (message) == '\0')
        _confab_message_set_user (message, ensure_user (self, own_id));
    }
  if (cache_usable (self))
    confab_history_cache_set_owner (self->cache, own_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OWN_USER_ID]);
  attach_outbox (self);
  flush_now (self);
}

static void
on_user_id_changed (ConfabConnectionManager *manager,
                    GParamSpec              *pspec,
                    ConfabChatStore         *self)
{
  set_own_id (self, confab_connection_manager_get_user_id (manager));
}

static void
on_state_changed (ConfabConnectionManager *manager,
                  GParamSpec              *pspec,
                  ConfabChatStore         *self)
{
  ConfabConnectionState state = confab_connection_manager_get_state (manager);
  ConfabConnectionState previous = self->last_state;

  self->last_state = state;
  if (state == CONFAB_CONNECTION_STATE_CONNECTED && previous != CONFAB_CONNECTION_STATE_CONNECTED)
    {
      set_own_id (self, confab_connection_manager_get_user_id (manager));
      /* Whatever waited for a retry is covered by this query and what follows it. */
      confab_backoff_reset (self->backoff);
      refresh_channels (self);
    }
  else if (state != CONFAB_CONNECTION_STATE_CONNECTED && previous == CONFAB_CONNECTION_STATE_CONNECTED)
    {
      /* Nothing is retried until the next CONNECTED, which queries everything again. */
      cancel_retry (self);
      abandon_waiting_gap_fills (self);
      if (!self->refresh_in_flight)
        set_refreshing (self, FALSE);
    }
}

/* Reads and typing ------------------------------------------------------------------------- */

typedef struct
{
  ConfabChatStore *store;
  char            *cid;
} ReadCall;

static void
mark_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ReadCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_mark_read_finish (CONFAB_STREAM_CLIENT (source), result, &error);

  if (answer != NULL || (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
                         !confab_error_is_transient (error)))
    {
      if (answer == NULL)
        g_debug ("Chat store: mark read refused: %s", error->message);
      g_hash_table_remove (call->store->unsent_reads, call->cid);
      if (answer != NULL)
        maybe_clear_last_error (call->store);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Still unsent: the next retry round (or connect) sends it again. */
      g_debug ("Chat store: mark read failed: %s", error->message);
      set_last_error (call->store, "sending a read receipt", error);
      schedule_retry (call->store, error);
    }
  g_clear_object (&call->store);
  g_free (call->cid);
  g_free (call);
}

static void
send_read (ConfabChatStore *self,
           const char      *cid)
{
  ConfabStreamClient *client = confab_connection_manager_get_client (self->manager);
  ReadCall *call;

  if (client == NULL || !is_usable (self))
    return;
  call = g_new0 (ReadCall, 1);
  call->store = g_object_ref (self);
  call->cid = g_strdup (cid);
  confab_stream_client_mark_read_async (client, cid, NULL, self->cancellable, mark_read_cb, call);
}

static void
send_unsent_reads (ConfabChatStore *self)
{
  g_autoptr(GPtrArray) cids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->unsent_reads);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (cids, g_strdup (key));
  for (guint i = 0; i < cids->len; i++)
    send_read (self, g_ptr_array_index (cids, i));
}

/* Tells the server what the user read while messages kept coming. */
static void
pay_read (ConfabChatStore *self)
{
  confab_clock_clear_timeout (self->clock, &self->read_timer);
  if (!self->read_owed)
    return;
  self->read_owed = FALSE;
  if (self->reading_cid != NULL)
    confab_chat_store_mark_read (self, self->reading_cid);
}

static gboolean
read_timer_cb (gpointer user_data)
{
  ConfabChatStore *self = user_data;
  gint64 now = confab_clock_now (self->clock);
  gint64 quiet = now - self->last_read_news;
  gint64 owed = now - self->read_owed_since;
  gint64 settle = (gint64) CONFAB_CHAT_STORE_READ_SETTLE_MS * 1000;
  gint64 longest = (gint64) CONFAB_CHAT_STORE_READ_MAX_DELAY_MS * 1000;
  gint64 wait;

  self->read_timer = 0;
  if (!self->read_owed)
    return G_SOURCE_REMOVE;
  if (quiet >= settle || owed >= longest)
    {
      pay_read (self);
      return G_SOURCE_REMOVE;
    }
  /* Still busy: look again when it could have settled, or at the latest allowed. */
  wait = MIN (settle - quiet, longest - owed);
  self->read_timer = confab_clock_add_timeout (self->clock, (guint) ((wait + 999) / 1000), read_timer_cb, self, NULL);
  return G_SOURCE_REMOVE;
}

/* A message arrived in the channel being read. One timer for the whole burst: it is not
 * moved per message, it looks at the time of the latest when it fires. */
static void
owe_read (ConfabChatStore *self)
{
  gint64 now = confab_clock_now (self->clock);

  if (!self->read_owed)
    {
      self->read_owed = TRUE;
      self->read_owed_since = now;
    }
  self->last_read_news = now;
  if (self->read_timer == 0)
    self->read_timer = confab_clock_add_timeout (self->clock, CONFAB_CHAT_STORE_READ_SETTLE_MS,
                                                 read_timer_cb, self, NULL);
}

static void
typing_out_free (TypingOut *typing)
{
  if (typing->store != NULL)
    confab_clock_clear_timeout (typing->store->clock, &typing->stop_timer);
  g_free (typing->cid);
  g_free (typing);
}

static void
send_event_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_send_event_finish (CONFAB_STREAM_CLIENT (source), result, &error);

  if (answer == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("Chat store: a typing event was not sent: %s", error->message);
}

static void
send_typing_event (ConfabChatStore *self,
                   const char      *cid,
                   const char      *type)
{
  ConfabStreamClient *client = confab_connection_manager_get_client (self->manager);

  if (client == NULL || confab_connection_manager_get_state (self->manager) != CONFAB_CONNECTION_STATE_CONNECTED)
    return;
  confab_stream_client_send_event_async (client, cid, type, self->cancellable, send_event_cb, NULL);
}

static gboolean
typing_stop_cb (gpointer user_data)
{
  TypingOut *typing = user_data;

  typing->stop_timer = 0;
  typing->last_start = 0;
  send_typing_event (typing->store, typing->cid, "typing.stop");
  return G_SOURCE_REMOVE;
}

static void
stop_typing_now (ConfabChatStore *self,
                 const char      *cid)
{
  TypingOut *typing = g_hash_table_lookup (self->typing_out, cid);

  if (typing == NULL || typing->stop_timer == 0)
    return;
  confab_clock_clear_timeout (self->clock, &typing->stop_timer);
  typing->last_start = 0;
  send_typing_event (self, cid, "typing.stop");
}

/* GObject ---------------------------------------------------------------------------------- */

static void
confab_chat_store_constructed (GObject *object)
{
  ConfabChatStore *self = CONFAB_CHAT_STORE (object);

  G_OBJECT_CLASS (confab_chat_store_parent_class)->constructed (object);

  g_assert (self->manager != NULL);
  if (self->clock == NULL)
    self->clock = g_object_ref (confab_clock_get_default ());
  g_object_get (self->manager, "outbox", &self->outbox, NULL);
  if (self->cache_dir != NULL)
    {
      self->cache = confab_history_cache_new (self->cache_dir, self->clock);
      self->cache_reset_handler = g_signal_connect (self->cache, "reset", G_CALLBACK (on_cache_reset), self);
    }

  self->event_handler = g_signal_connect (self->manager, "event", G_CALLBACK (on_event), self);
  self->state_handler = g_signal_connect (self->manager, "notify::state", G_CALLBACK (on_state_changed), self);
  self->user_handler = g_signal_connect (self->manager, "notify::user-id", G_CALLBACK (on_user_id_changed), self);

  set_own_id (self, confab_connection_manager_get_user_id (self->manager));
  self->last_state = confab_connection_manager_get_state (self->manager);
  if (self->last_state == CONFAB_CONNECTION_STATE_CONNECTED)
    refresh_channels (self);
}

static void
confab_chat_store_dispose (GObject *object)
{
  ConfabChatStore *self = CONFAB_CHAT_STORE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->clock != NULL)
    confab_clock_clear_timeout (self->clock, &self->retry_id);
  if (self->clock != NULL)
    confab_clock_clear_timeout (self->clock, &self->read_timer);
  if (self->gap_fills != NULL)
    g_hash_table_remove_all (self->gap_fills);
  if (self->manager != NULL)
    {
      g_clear_signal_handler (&self->event_handler, self->manager);
      g_clear_signal_handler (&self->state_handler, self->manager);
      g_clear_signal_handler (&self->user_handler, self->manager);
    }
  if (self->outbox != NULL)
    g_clear_signal_handler (&self->outbox_handler, self->outbox);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->prune_id, g_source_remove);
  if (self->tracked != NULL)
    g_hash_table_remove_all (self->tracked);
  if (self->typing_out != NULL)
    g_hash_table_remove_all (self->typing_out);
  if (self->cache != NULL)
    {
      g_clear_signal_handler (&self->cache_reset_handler, self->cache);
      g_object_run_dispose (G_OBJECT (self->cache));  /* writes what is pending */
      g_clear_object (&self->cache);
    }
  if (self->channels != NULL)
    g_hash_table_remove_all (self->channels);
  if (self->dirty != NULL)
    g_hash_table_remove_all (self->dirty);
  g_clear_object (&self->outbox);
  g_clear_object (&self->manager);
  g_clear_object (&self->clock);
  g_clear_object (&self->backoff);

  G_OBJECT_CLASS (confab_chat_store_parent_class)->dispose (object);
}

static void
confab_chat_store_finalize (GObject *object)
{
  ConfabChatStore *self = CONFAB_CHAT_STORE (object);

  g_clear_pointer (&self->cache_dir, g_free);
  g_clear_pointer (&self->own_id, g_free);
  g_clear_object (&self->channel_list);
  g_clear_pointer (&self->channels, g_hash_table_unref);
  g_clear_pointer (&self->synced, g_hash_table_unref);
  g_clear_object (&self->user_list);
  g_clear_pointer (&self->users, g_hash_table_unref);
  g_clear_pointer (&self->new_users, g_ptr_array_unref);
  g_clear_pointer (&self->dirty, g_hash_table_unref);
  g_clear_pointer (&self->tracked, g_hash_table_unref);
  g_clear_pointer (&self->typing_out, g_hash_table_unref);
  g_clear_pointer (&self->unsent_reads, g_hash_table_unref);
  g_clear_pointer (&self->reading_cid, g_free);
  g_clear_pointer (&self->pending_channels, g_hash_table_unref);
  g_clear_pointer (&self->gap_fills, g_hash_table_unref);
  g_clear_error (&self->last_error);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (confab_chat_store_parent_class)->finalize (object);
}

static void
confab_chat_store_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  ConfabChatStore *self = CONFAB_CHAT_STORE (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      g_value_set_object (value, self->manager);
      break;
    case PROP_CACHE_DIR:
      g_value_set_string (value, self->cache_dir);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_OWN_USER_ID:
      g_value_set_string (value, self->own_id);
      break;
    case PROP_REFRESHING:
      g_value_set_boolean (value, self->refreshing);
      break;
    case PROP_LAST_ERROR:
      g_value_set_boxed (value, self->last_error);
      break;
    case PROP_NEXT_RETRY:
      g_value_set_int64 (value, self->next_retry);
      break;
    case PROP_READING_CHANNEL:
      g_value_set_string (value, self->reading_cid);
      break;
    case PROP_CHANNEL_MESSAGE_LIMIT:
      g_value_set_uint (value, self->channel_message_limit);
      break;
    case PROP_HISTORY_PAGE_SIZE:
      g_value_set_uint (value, self->history_page_size);
      break;
    case PROP_GAP_PAGE_SIZE:
      g_value_set_uint (value, self->gap_page_size);
      break;
    case PROP_GAP_MAX_PAGES:
      g_value_set_uint (value, self->gap_max_pages);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_chat_store_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  ConfabChatStore *self = CONFAB_CHAT_STORE (object);

  switch (prop_id)
    {
    case PROP_MANAGER:
      self->manager = g_value_dup_object (value);
      break;
    case PROP_CACHE_DIR:
      self->cache_dir = g_value_dup_string (value);
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    case PROP_READING_CHANNEL:
      confab_chat_store_set_reading_channel (self, g_value_get_string (value));
      break;
    case PROP_CHANNEL_MESSAGE_LIMIT:
      self->channel_message_limit = g_value_get_uint (value);
      break;
    case PROP_HISTORY_PAGE_SIZE:
      self->history_page_size = g_value_get_uint (value);
      break;
    case PROP_GAP_PAGE_SIZE:
      self->gap_page_size = g_value_get_uint (value);
      break;
    case PROP_GAP_MAX_PAGES:
      self->gap_max_pages = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_chat_store_class_init (ConfabChatStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  const GParamFlags readable = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_chat_store_constructed;
  object_class->dispose = confab_chat_store_dispose;
  object_class->finalize = confab_chat_store_finalize;
  object_class->get_property = confab_chat_store_get_property;
  object_class->set_property = confab_chat_store_set_property;

  /**
   * ConfabChatStore:manager:
   *
   * The connection this chat comes through (required).
   */
  properties[PROP_MANAGER] =
    g_param_spec_object ("manager", NULL, NULL, CONFAB_TYPE_CONNECTION_MANAGER, construct);

  /**
   * ConfabChatStore:cache-dir: (nullable)
   *
   * Where the history cache lives; %NULL: in memory only.
   */
  properties[PROP_CACHE_DIR] = g_param_spec_string ("cache-dir", NULL, NULL, NULL, construct);

  /**
   * ConfabChatStore:clock:
   *
   * The clock for typing timers and batched cache writes (default: the system clock).
   */
  properties[PROP_CLOCK] = g_param_spec_object ("clock", NULL, NULL, CONFAB_TYPE_CLOCK, construct);

  /**
   * ConfabChatStore:channel-message-limit:
   *
   * Messages per channel asked for with the channel list (and a channel's own query).
   */
  properties[PROP_CHANNEL_MESSAGE_LIMIT] =
    g_param_spec_uint ("channel-message-limit", NULL, NULL, 1, CONFAB_CHAT_STORE_MAX_PAGE,
                       CONFAB_CHAT_STORE_CHANNEL_PAGE, construct);

  /**
   * ConfabChatStore:history-page-size:
   *
   * Messages per confab_chat_store_load_older_async() page.
   */
  properties[PROP_HISTORY_PAGE_SIZE] =
    g_param_spec_uint ("history-page-size", NULL, NULL, 1, CONFAB_CHAT_STORE_MAX_PAGE,
                       CONFAB_CHAT_STORE_HISTORY_PAGE, construct);

  /**
   * ConfabChatStore:gap-page-size:
   *
   * Messages per page when closing a gap between the cache and the newest messages.
   */
  properties[PROP_GAP_PAGE_SIZE] =
    g_param_spec_uint ("gap-page-size", NULL, NULL, 1, CONFAB_CHAT_STORE_MAX_PAGE,
                       CONFAB_CHAT_STORE_GAP_PAGE, construct);

  /**
   * ConfabChatStore:gap-max-pages:
   *
   * Pages fetched at most to close such a gap; past them the older cached messages are
   * dropped (and paged back in on demand).
   */
  properties[PROP_GAP_MAX_PAGES] =
    g_param_spec_uint ("gap-max-pages", NULL, NULL, 1, 1000, CONFAB_CHAT_STORE_GAP_MAX_PAGES, construct);

  /**
   * ConfabChatStore:own-user-id: (nullable)
   *
   * The signed-in user: the manager's, or the cache's owner before the first connect.
   */
  properties[PROP_OWN_USER_ID] = g_param_spec_string ("own-user-id", NULL, NULL, NULL, readable);

  /**
   * ConfabChatStore:refreshing:
   *
   * Whether the channel list is being brought up to date: from each CONNECTED until it
   * is complete, through the waits between retries; FALSE when the connection is lost
   * meanwhile.
   */
  properties[PROP_REFRESHING] = g_param_spec_boolean ("refreshing", NULL, NULL, FALSE, readable);

  /**
   * ConfabChatStore:last-error: (nullable)
   *
   * Why the last request the store made on its own failed (CONFAB_ERROR, classified), or
   * %NULL since the channel list last arrived whole. The store retries by itself.
   */
  properties[PROP_LAST_ERROR] = g_param_spec_boxed ("last-error", NULL, NULL, G_TYPE_ERROR, readable);

  /**
   * ConfabChatStore:next-retry:
   *
   * When the store next retries what failed (wall µs on its clock), 0 if nothing waits.
   */
  properties[PROP_NEXT_RETRY] = g_param_spec_int64 ("next-retry", NULL, NULL, 0, G_MAXINT64, 0, readable);
  properties[PROP_READING_CHANNEL] =
    g_param_spec_string ("reading-channel", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabChatStore::message-added:
   * @channel: where
   * @message: the new message, already in @channel's model
   *
   * A new message from someone else arrived as an event (live, or caught up after a
   * reconnect); once per id, never for the cache or pages of history.
   */
  signals[SIGNAL_MESSAGE_ADDED] =
    g_signal_new ("message-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, CONFAB_TYPE_CHANNEL, CONFAB_TYPE_MESSAGE);
}

static void
confab_chat_store_init (ConfabChatStore *self)
{
  self->channel_list = g_list_store_new (CONFAB_TYPE_CHANNEL);
  self->channels = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  self->synced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->user_list = g_list_store_new (CONFAB_TYPE_CHAT_USER);
  self->users = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  self->new_users = g_ptr_array_new_with_free_func (g_object_unref);
  self->dirty = g_hash_table_new (NULL, NULL);
  self->tracked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) tracked_free);
  self->typing_out = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) typing_out_free);
  self->unsent_reads = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->pending_channels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->gap_fills = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) gap_fill_forget);
  self->cancellable = g_cancellable_new ();
  self->backoff = confab_backoff_new ();
  self->channel_message_limit = CONFAB_CHAT_STORE_CHANNEL_PAGE;
  self->history_page_size = CONFAB_CHAT_STORE_HISTORY_PAGE;
  self->gap_page_size = CONFAB_CHAT_STORE_GAP_PAGE;
  self->gap_max_pages = CONFAB_CHAT_STORE_GAP_MAX_PAGES;
}

/* Loading the cache ------------------------------------------------------------------------ */

typedef struct
{
  ConfabCachedChannel row;
  char               *cid;
  char               *name;
  GPtrArray          *members;   /* ConfabChatUser */
  GPtrArray          *messages;  /* ConfabMessage */
  char               *cid_ref;   /* GRefString for the messages */
} LoadedChannel;

typedef struct
{
  ConfabChatStore *store;
  const char      *owner;
  GHashTable      *channels;  /* cid → LoadedChannel */
} Load;

static void
loaded_channel_free (LoadedChannel *loaded)
{
  g_free (loaded->cid);
  g_free (loaded->name);
  g_clear_pointer (&loaded->members, g_ptr_array_unref);
  g_clear_pointer (&loaded->messages, g_ptr_array_unref);
  g_clear_pointer (&loaded->cid_ref, g_ref_string_release);
  g_free (loaded);
}

static void
load_user (gpointer    user_data,
           const char *id,
           const char *name,
           gint64      last_active)
{
  Load *load = user_data;
  ConfabChatUser *user = ensure_user (load->store, id);

  if (_confab_chat_user_get_raw_name (user) == NULL)
    _confab_chat_user_set_name (user, name);
  _confab_chat_user_set_last_active (user, last_active);
}

static void
load_channel (gpointer                   user_data,
              const ConfabCachedChannel *row)
{
  Load *load = user_data;
  LoadedChannel *loaded;

  if (!valid_cid (row->cid))
    return;
  loaded = g_new0 (LoadedChannel, 1);
  loaded->row = *row;
  loaded->cid = g_strdup (row->cid);
  loaded->name = g_strdup (row->name);
  loaded->row.cid = loaded->cid;
  loaded->row.name = loaded->name;
  loaded->members = g_ptr_array_new ();
  loaded->messages = g_ptr_array_new_with_free_func (g_object_unref);
  loaded->cid_ref = g_ref_string_new (row->cid);
  g_hash_table_replace (load->channels, loaded->cid, loaded);
}

static void
load_member (gpointer    user_data,
             const char *cid,
             const char *user_id)
{
  Load *load = user_data;
  LoadedChannel *loaded = g_hash_table_lookup (load->channels, cid);

  if (loaded != NULL)
    g_ptr_array_add (loaded->members, ensure_user (load->store, user_id));
}

static void
load_message (gpointer                   user_data,
              const ConfabCachedMessage *row)
{
  Load *load = user_data;
  LoadedChannel *loaded = g_hash_table_lookup (load->channels, row->cid);
  const char *user_id = row->user_id != NULL ? row->user_id : "";
  g_autofree char *fixed = NULL;
  const char *text = row->text;
  ConfabChatUser *user;

  if (loaded == NULL)
    return;
  user = ensure_user (load->store, user_id);
  /* Copied once, by the message, unless it needs repair. */
  if (text != NULL && !g_utf8_validate (text, -1, NULL))
    text = fixed = g_utf8_make_valid (text, -1);
  g_ptr_array_add (loaded->messages,
                   _confab_message_new (row->id, loaded->cid_ref, user, text, row->created_at,
                                        CONFAB_MESSAGE_STATUS_SENT,
                                        load->owner != NULL && g_str_equal (load->owner, user_id),
                                        row->deleted));
}

static void
apply_loaded (ConfabChatStore *self,
              LoadedChannel   *loaded)
{
  ConfabChannel *channel;
  /* What came from the server in this run wins over the cache. */
  gboolean known = g_hash_table_contains (self->synced, loaded->cid);

  /* Loaded after a whole channel list arrived: one it did not have is gone. */
  if (self->list_complete && !known && !g_hash_table_contains (self->channels, loaded->cid))
    {
      confab_history_cache_remove_channel (self->cache, loaded->cid);
      return;
    }
  channel = ensure_channel (self, loaded->cid);

  if (!known || _confab_channel_get_raw_name (channel) == NULL)
    _confab_channel_set_name (channel, loaded->row.name);
  if (!known)
    {
      _confab_channel_set_member_count (channel, loaded->row.member_count);
      _confab_channel_set_unread_count (channel, loaded->row.unread_count);
      _confab_channel_set_has_more_history (channel, !loaded->row.history_complete);
      _confab_channel_set_server_last_message_at (channel, loaded->row.last_message_at);
      _confab_channel_set_members (channel, loaded->members);
    }

  for (guint i = 0; i < loaded->messages->len; i++)
    {
      ConfabMessage *message = g_ptr_array_index (loaded->messages, i);

      _confab_channel_queue_add (channel, message, FALSE);
    }
  mark_dirty (self, channel);
}

/* Public API ------------------------------------------------------------------------------- */

ConfabChatStore *
confab_chat_store_new (ConfabConnectionManager *manager,
                       const char              *cache_dir)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (manager), NULL);

  return g_object_new (CONFAB_TYPE_CHAT_STORE, "manager", manager, "cache-dir", cache_dir, NULL);
}

ConfabConnectionManager *
confab_chat_store_get_manager (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);

  return self->manager;
}

const char *
confab_chat_store_get_cache_dir (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);

  return self->cache_dir;
}

const char *
confab_chat_store_get_own_user_id (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);

  return self->own_id;
}

gboolean
confab_chat_store_get_refreshing (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), FALSE);

  return self->refreshing;
}

const GError *
confab_chat_store_get_last_error (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);

  return self->last_error;
}

gint64
confab_chat_store_get_next_retry (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), 0);

  return self->next_retry;
}

void
confab_chat_store_retry_now (ConfabChatStore *self)
{
  g_return_if_fail (CONFAB_IS_CHAT_STORE (self));

  if (!is_connected (self))
    return;
  cancel_retry (self);
  retry_cb (self);
}

GListModel *
confab_chat_store_get_channels (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);

  return G_LIST_MODEL (self->channel_list);
}

ConfabChannel *
confab_chat_store_lookup_channel (ConfabChatStore *self,
                                  const char      *cid)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);
  g_return_val_if_fail (cid != NULL, NULL);

  return g_hash_table_lookup (self->channels, cid);
}

GListModel *
confab_chat_store_get_users (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);

  return G_LIST_MODEL (self->user_list);
}

ConfabChatUser *
confab_chat_store_lookup_user (ConfabChatStore *self,
                               const char      *id)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  return g_hash_table_lookup (self->users, id);
}

gboolean
confab_chat_store_load_cache (ConfabChatStore  *self,
                              GError          **error)
{
  static const ConfabHistoryCacheLoader loader = { load_user, load_channel, load_member, load_message };
  g_autoptr(GError) open_error = NULL;
  g_autoptr(GError) load_error = NULL;
  g_autoptr(GHashTable) channels = NULL;
  Load load = { self, NULL, NULL };
  GHashTableIter iter;
  gpointer value;
  gint64 started = g_get_monotonic_time ();
  guint n_messages = 0;

  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->cache == NULL)
    {
      attach_outbox (self);
      flush_now (self);
      return TRUE;
    }

  if (!confab_history_cache_open (self->cache, &open_error) && !confab_history_cache_is_open (self->cache))
    {
      /* Unusable: the store runs in memory. */
      g_message ("Chat store: no history cache: %s", open_error->message);
      attach_outbox (self);
      flush_now (self);
      g_propagate_error (error, g_steal_pointer (&open_error));
      return FALSE;
    }

  /* The cache of another user is not shown to this one. */
  if (self->own_id != NULL && confab_history_cache_get_owner (self->cache) != NULL &&
      g_strcmp0 (self->own_id, confab_history_cache_get_owner (self->cache)) != 0)
    {
      confab_history_cache_clear (self->cache);
      confab_history_cache_set_owner (self->cache, self->own_id);
    }
  else
    {
      load.owner = confab_history_cache_get_owner (self->cache);
      channels = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) loaded_channel_free);
      load.channels = channels;
      if (!confab_history_cache_load (self->cache, &loader, &load, &load_error))
        {
          /* Nothing half-read is shown. */
          g_hash_table_remove_all (channels);
          g_message ("Chat store: the history cache could not be read: %s", load_error->message);
        }
      else
        {
          g_hash_table_iter_init (&iter, channels);
          while (g_hash_table_iter_next (&iter, NULL, &value))
            {
              n_messages += ((LoadedChannel *) value)->messages->len;
              apply_loaded (self, value);
            }
          /* Before the first connect, the cache says who we are (its messages were
           * marked as ours by the same id). */
          if (self->own_id == NULL && load.owner != NULL)
            set_own_id (self, load.owner);
        }
      if (self->own_id != NULL)
        confab_history_cache_set_owner (self->cache, self->own_id);
    }

  self->cache_loaded = TRUE;
  attach_outbox (self);
  flush_now (self);
  g_debug ("Chat store: %u cached messages loaded in %.1f ms",
           n_messages, (g_get_monotonic_time () - started) / 1000.0);

  if (load_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&load_error));
      return FALSE;
    }
  if (open_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&open_error));
      return FALSE;
    }
  return TRUE;
}

gboolean
confab_chat_store_flush_cache (ConfabChatStore  *self,
                               GError          **error)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  flush_now (self);
  if (!cache_usable (self))
    return TRUE;
  return confab_history_cache_flush (self->cache, error);
}

ConfabMessage *
confab_chat_store_send_text (ConfabChatStore  *self,
                             const char       *cid,
                             const char       *text,
                             GError          **error)
{
  ConfabOutboxItem *item;
  ConfabChannel *channel;

  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);
  g_return_val_if_fail (cid != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Before the first connect the message is still ours: the cache knows who we are. */
  if (self->own_id == NULL)
    set_own_id (self, confab_connection_manager_get_user_id (self->manager));
  attach_outbox (self);

  item = confab_connection_manager_send_text (self->manager, cid, text, error);
  if (item == NULL)
    return NULL;

  track_item (self, item);
  flush_now (self);
  stop_typing_now (self, cid);

  channel = g_hash_table_lookup (self->channels, cid);
  if (channel == NULL)
    return NULL;
  return _confab_channel_lookup_message (channel, confab_outbox_item_get_id (item));
}

void
confab_chat_store_retry (ConfabChatStore *self,
                         ConfabMessage   *message)
{
  ConfabOutboxItem *item;

  g_return_if_fail (CONFAB_IS_CHAT_STORE (self));
  g_return_if_fail (CONFAB_IS_MESSAGE (message));

  if (self->outbox == NULL)
    return;
  item = confab_outbox_lookup (self->outbox, confab_message_get_id (message));
  if (item != NULL)
    confab_outbox_retry (self->outbox, item);
}

void
confab_chat_store_discard (ConfabChatStore *self,
                           ConfabMessage   *message)
{
  ConfabOutboxItem *item;

  g_return_if_fail (CONFAB_IS_CHAT_STORE (self));
  g_return_if_fail (CONFAB_IS_MESSAGE (message));

  if (self->outbox == NULL || confab_message_get_status (message) == CONFAB_MESSAGE_STATUS_SENT)
    return;
  item = confab_outbox_lookup (self->outbox, confab_message_get_id (message));
  if (item != NULL)
    confab_outbox_discard (self->outbox, item);
}

static void
load_older_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConfabChatStore *self = g_task_get_source_object (task);
  ConfabChannel *channel = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_query_channel_finish (CONFAB_STREAM_CLIENT (source), result, &error);
  JsonArray *messages;
  guint n = 0;

  if (answer == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  messages = _confab_chat_json_array (answer, "messages");
  for (guint i = 0; messages != NULL && i < json_array_get_length (messages); i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      gboolean added = FALSE;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      n++;
      upsert_message (self, channel, json_node_get_object (node), FALSE, &added);
    }
  if (n < self->history_page_size)
    _confab_channel_set_has_more_history (channel, FALSE);
  mark_dirty (self, channel);
  flush_now (self);
  g_task_return_boolean (task, TRUE);
}

void
confab_chat_store_load_older_async (ConfabChatStore     *self,
                                    const char          *cid,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *type = NULL;
  g_autofree char *id = NULL;
  ConfabChannel *channel;
  ConfabMessage *oldest;
  ConfabStreamClient *client;

  g_return_if_fail (CONFAB_IS_CHAT_STORE (self));
  g_return_if_fail (cid != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_chat_store_load_older_async);

  channel = g_hash_table_lookup (self->channels, cid);
  if (channel == NULL || !split_cid (cid, &type, &id))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such channel");
      return;
    }
  g_task_set_task_data (task, g_object_ref (channel), g_object_unref);
  if (!confab_channel_get_has_more_history (channel))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  client = confab_connection_manager_get_client (self->manager);
  if (client == NULL || !is_usable (self))
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_NETWORK, "not connected");
      return;
    }

  flush_now (self);
  oldest = _confab_channel_get_oldest_sent (channel);
  confab_stream_client_query_channel_async (client, type, id, FALSE, FALSE, (int) self->history_page_size,
                                            oldest != NULL ? confab_message_get_id (oldest) : NULL, NULL,
                                            cancellable, load_older_cb, g_steal_pointer (&task));
}

gboolean
confab_chat_store_load_older_finish (ConfabChatStore  *self,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == confab_chat_store_load_older_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
confab_chat_store_mark_read (ConfabChatStore *self,
                             const char      *cid)
{
  ConfabChannel *channel;

  g_return_if_fail (CONFAB_IS_CHAT_STORE (self));
  g_return_if_fail (cid != NULL);

  channel = g_hash_table_lookup (self->channels, cid);
  if (channel == NULL)
    return;
  _confab_channel_set_unread_count (channel, 0);
  mark_dirty (self, channel);
  g_hash_table_add (self->unsent_reads, g_strdup (cid));
  send_read (self, cid);
}

void
confab_chat_store_notify_typing (ConfabChatStore *self,
                                 const char      *cid)
{
  TypingOut *typing;
  gint64 now;

  g_return_if_fail (CONFAB_IS_CHAT_STORE (self));
  g_return_if_fail (cid != NULL);

  if (!g_hash_table_contains (self->channels, cid))
    return;
  typing = g_hash_table_lookup (self->typing_out, cid);
  if (typing == NULL)
    {
      typing = g_new0 (TypingOut, 1);
      typing->store = self;
      typing->cid = g_strdup (cid);
      g_hash_table_insert (self->typing_out, typing->cid, typing);
    }

  now = confab_clock_now (self->clock);
  if (typing->last_start == 0 || now - typing->last_start >= (gint64) CONFAB_CHAT_STORE_TYPING_START_MS * 1000)
    {
      typing->last_start = now;
      send_typing_event (self, cid, "typing.start");
    }
  confab_clock_clear_timeout (self->clock, &typing->stop_timer);
  typing->stop_timer = confab_clock_add_timeout (self->clock, CONFAB_CHAT_STORE_TYPING_STOP_MS,
                                                 typing_stop_cb, typing, NULL);
}

const char *
confab_chat_store_get_reading_channel (ConfabChatStore *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_STORE (self), NULL);

  return self->reading_cid;
}

void
confab_chat_store_set_reading_channel (ConfabChatStore *self,
                                       const char      *cid)
{
  ConfabChannel *channel;

  g_return_if_fail (CONFAB_IS_CHAT_STORE (self));

  if (g_strcmp0 (self->reading_cid, cid) == 0)
    return;

  /* Leaving: what was read there is told now. */
  pay_read (self);
  g_free (self->reading_cid);
  self->reading_cid = g_strdup (cid);

  channel = cid != NULL ? g_hash_table_lookup (self->channels, cid) : NULL;
  if (channel != NULL && confab_channel_get_unread_count (channel) > 0)
    confab_chat_store_mark_read (self, cid);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READING_CHANNEL]);
}
