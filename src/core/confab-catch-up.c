/* confab-catch-up.c: what was missed while away, fetched after a (re)connect
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-catch-up.h"
#include "confab-error.h"
#include "confab-system-clock.h"
#include "confab-watermark.h"

struct _ConfabCatchUp
{
  GObject             parent_instance;

  /* construct-only */
  ConfabStreamClient *client;
  gint64              since;         /* the watermark before this connection's events */
  ConfabClock        *clock;
  ConfabDiagnostics  *diagnostics;

  GTask              *task;          /* the run in progress */
  gint64              started;
  GPtrArray          *cids;          /* char *: the user's channels */
  guint               channel_pages;
  /* /sync */
  gint64              page_since;    /* last_sync_at of the page in flight */
  GHashTable         *boundary;      /* events delivered at the last page's last time */
  guint               sync_pages;
  guint               n_delivered;
  /* the fallback: channel queries */
  guint               channel;       /* index into cids */
  char               *oldest_id;     /* id_lt of this channel's next page */
  guint               message_pages;
  GPtrArray          *found;         /* JsonObject: synthesised message.new events */
};

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_SINCE,
  PROP_CLOCK,
  PROP_DIAGNOSTICS,
  PROP_N_DELIVERED,
  PROP_N_SYNC_PAGES,
  N_PROPS
};

enum {
  SIGNAL_EVENT,
  SIGNAL_REST_RTT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ConfabCatchUp, confab_catch_up, G_TYPE_OBJECT)

/* "Catch-up: …" in the debug log and the diagnostics timeline. */
#define note(self, ...) \
  confab_diagnostics_note ((self)->diagnostics, confab_clock_wall ((self)->clock), "Catch-up", __VA_ARGS__)

static GCancellable *
cancellable (ConfabCatchUp *self)
{
  return g_task_get_cancellable (self->task);
}

static gboolean
is_cancelled (ConfabCatchUp *self)
{
  return g_cancellable_is_cancelled (cancellable (self));
}

/* Ends the run: with @error (transfer full), or a success when NULL. A cancelled run
 * reports G_IO_ERROR_CANCELLED (the task checks its cancellable). */
static void
finish (ConfabCatchUp *self,
        GError        *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->task);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
finish_cancelled (ConfabCatchUp *self)
{
  finish (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "catch-up cancelled"));
}

/* Emits @event; FALSE if a handler cancelled the run. */
static gboolean
deliver (ConfabCatchUp *self,
         JsonObject    *event)
{
  g_signal_emit (self, signals[SIGNAL_EVENT], 0, event);
  return !is_cancelled (self);
}

static void
add_delivered (ConfabCatchUp *self,
               guint          n)
{
  if (n == 0)
    return;
  self->n_delivered += n;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_DELIVERED]);
}

typedef struct
{
  JsonObject *event;
  gint64      at;
  guint       index;
} SortedEvent;

/* When an event happened: its own created_at (Stream's /sync keeps the time of the
 * event, which is also what last_sync_at is compared with); the message's for an event
 * without one. */
static gint64
event_time (JsonObject *event)
{
  JsonObject *message = NULL;

  if (json_object_has_member (event, "created_at"))
    return confab_watermark_parse_time (json_object_get_string_member_with_default (event, "created_at", NULL));
  if (json_object_has_member (event, "message") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (event, "message")))
    message = json_object_get_object_member (event, "message");
  if (message != NULL)
    return confab_watermark_parse_time (json_object_get_string_member_with_default (message, "created_at", NULL));
  return 0;
}

static int
compare_events (gconstpointer a,
                gconstpointer b)
{
  const SortedEvent *ea = a;
  const SortedEvent *eb = b;

  if (ea->at != eb->at)
    return ea->at < eb->at ? -1 : 1;
  return ea->index < eb->index ? -1 : ea->index > eb->index ? 1 : 0;
}

/* The objects of @array in time order (stable for equal times). */
static GArray *
sorted_events (JsonArray *array)
{
  GArray *events = g_array_new (FALSE, FALSE, sizeof (SortedEvent));

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      SortedEvent e;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      e.event = json_node_get_object (node);
      e.at = event_time (e.event);
      e.index = i;
      g_array_append_val (events, e);
    }
  g_array_sort (events, compare_events);
  return events;
}

/* What tells two events at the same time apart across /sync pages. */
static char *
event_key (JsonObject *event)
{
  JsonObject *message = NULL;
  const char *message_id = json_object_get_string_member_with_default (event, "message_id", NULL);

  if (message_id == NULL && json_object_has_member (event, "message") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (event, "message")))
    message = json_object_get_object_member (event, "message");
  if (message != NULL)
    message_id = json_object_get_string_member_with_default (message, "id", NULL);
  return g_strdup_printf ("%s\n%s\n%s",
                          json_object_get_string_member_with_default (event, "type", ""),
                          message_id != NULL ? message_id : "",
                          json_object_get_string_member_with_default (event, "created_at", ""));
}

/* /sync ---------------------------------------------------------------------------------- */

static void start_fallback (ConfabCatchUp *self,
                            const char    *why);

static void sync_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data);

static void
request_sync_page (ConfabCatchUp *self)
{
  g_autoptr(GPtrArray) cids = g_ptr_array_new ();

  for (guint i = 0; i < self->cids->len; i++)
    g_ptr_array_add (cids, g_ptr_array_index (self->cids, i));
  g_ptr_array_add (cids, NULL);
  self->sync_pages++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SYNC_PAGES]);
  confab_stream_client_sync_async (self->client, (const char * const *) cids->pdata, self->page_since,
                                   cancellable (self), sync_cb, g_object_ref (self));
}

static void
sync_page (ConfabCatchUp *self,
           JsonObject    *answer)
{
  g_autoptr(GArray) events = NULL;
  g_autoptr(GHashTable) boundary = NULL;
  JsonArray *array = NULL;
  guint n_raw;
  guint n_new = 0;
  gint64 last;

  if (json_object_has_member (answer, "events") &&
      JSON_NODE_HOLDS_ARRAY (json_object_get_member (answer, "events")))
    array = json_object_get_array_member (answer, "events");
  n_raw = array != NULL ? json_array_get_length (array) : 0;

  /* Missed events in order. A page starts 1 µs before the last page's last event, so
   * an event sharing that microsecond is not skipped; the ones delivered already are. */
  events = sorted_events (array);
  last = events->len > 0 ? g_array_index (events, SortedEvent, events->len - 1).at : 0;
  boundary = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < events->len; i++)
    {
      SortedEvent *e = &g_array_index (events, SortedEvent, i);
      g_autofree char *key = event_key (e->event);

      if (self->boundary != NULL && g_hash_table_contains (self->boundary, key))
        continue;
      if (e->at == last)
        g_hash_table_add (boundary, g_steal_pointer (&key));
      n_new++;
      if (!deliver (self, e->event))
        {
          finish_cancelled (self);
          return;
        }
    }
  add_delivered (self, n_new);
  g_clear_pointer (&self->boundary, g_hash_table_unref);
  self->boundary = g_steal_pointer (&boundary);
  note (self, "catch-up: /sync page %u: %u events, %u new", self->sync_pages, n_raw, n_new);

  if (n_raw < CONFAB_CATCH_UP_SYNC_PAGE_EVENTS)
    {
      note (self, "catch-up: %u missed events in %u pages", self->n_delivered, self->sync_pages);
      finish (self, NULL);
      return;
    }

  /* A full page: there is more. Page on from its last event, unless that would not move
   * (a thousand events in one microsecond, or none with a time): then read the channels. */
  if (last - 1 <= self->page_since)
    {
      start_fallback (self, "/sync pages do not advance");
      return;
    }
  if (self->sync_pages >= CONFAB_CATCH_UP_SYNC_MAX_PAGES)
    {
      note (self, "catch-up: stopping after %u /sync pages", self->sync_pages);
      finish (self, NULL);
      return;
    }
  self->page_since = last - 1;
  request_sync_page (self);
}

static void
sync_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(ConfabCatchUp) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_sync_finish (CONFAB_STREAM_CLIENT (source), result, &error);

  if (is_cancelled (self))
    finish_cancelled (self);
  else if (answer == NULL && confab_error_classify (error) == CONFAB_ERROR_REJECTED)
    /* Stream refuses /sync beyond 30 days or 255 channels. */
    start_fallback (self, error->message);
  else if (answer == NULL)
    finish (self, g_steal_pointer (&error));
  else
    sync_page (self, answer);
}

/* The fallback: each channel's messages since the watermark ------------------------------ */

static void fallback_next (ConfabCatchUp *self);

static void
fallback_done (ConfabCatchUp *self)
{
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(GArray) events = NULL;

  for (guint i = 0; i < self->found->len; i++)
    json_array_add_object_element (array, json_object_ref (g_ptr_array_index (self->found, i)));
  events = sorted_events (array);
  note (self, "catch-up: %u missed messages from %u channel queries", events->len, self->cids->len);
  for (guint i = 0; i < events->len; i++)
    {
      add_delivered (self, 1);
      if (!deliver (self, g_array_index (events, SortedEvent, i).event))
        {
          finish_cancelled (self);
          return;
        }
    }
  finish (self, NULL);
}

/* A message.new like the one Stream would have sent, for a message read from a page. */
static JsonObject *
synthesise_message_new (const char *cid,
                        JsonObject *message)
{
  JsonObject *event = json_object_new ();
  const char *colon = strchr (cid, ':');
  const char *created_at = json_object_get_string_member_with_default (message, "created_at", NULL);
  JsonNode *user = json_object_get_member (message, "user");

  json_object_set_string_member (event, "type", "message.new");
  json_object_set_string_member (event, "cid", cid);
  if (colon != NULL)
    {
      g_autofree char *type = g_strndup (cid, colon - cid);

      json_object_set_string_member (event, "channel_type", type);
      json_object_set_string_member (event, "channel_id", colon + 1);
    }
  json_object_set_string_member (event, "message_id", json_object_get_string_member_with_default (message, "id", ""));
  json_object_set_object_member (event, "message", json_object_ref (message));
  if (user != NULL && JSON_NODE_HOLDS_OBJECT (user))
    json_object_set_object_member (event, "user", json_object_ref (json_node_get_object (user)));
  if (created_at != NULL)
    json_object_set_string_member (event, "created_at", created_at);
  return event;
}

static void
channel_page (ConfabCatchUp *self,
              JsonObject    *answer)
{
  const char *cid = g_ptr_array_index (self->cids, self->channel);
  JsonArray *messages = NULL;
  JsonObject *oldest = NULL;
  guint n;

  if (json_object_has_member (answer, "messages") &&
      JSON_NODE_HOLDS_ARRAY (json_object_get_member (answer, "messages")))
    messages = json_object_get_array_member (answer, "messages");
  n = messages != NULL ? json_array_get_length (messages) : 0;

  /* A page is oldest first; keep what is newer than the watermark. */
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      JsonObject *message;
      const char *type;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      message = json_node_get_object (node);
      if (oldest == NULL)
        oldest = message;
      type = json_object_get_string_member_with_default (message, "type", "regular");
      if (g_strcmp0 (type, "deleted") == 0 ||
          confab_watermark_parse_time (json_object_get_string_member_with_default (message, "created_at", NULL)) <= self->since ||
          json_object_get_string_member_with_default (message, "id", NULL) == NULL)
        continue;
      g_ptr_array_add (self->found, synthesise_message_new (cid, message));
    }

  self->message_pages++;
  if (n >= CONFAB_CATCH_UP_FALLBACK_PAGE && oldest != NULL &&
      confab_watermark_parse_time (json_object_get_string_member_with_default (oldest, "created_at", NULL)) > self->since &&
      json_object_get_string_member_with_default (oldest, "id", NULL) != NULL)
    {
      if (self->message_pages < CONFAB_CATCH_UP_FALLBACK_MAX_PAGES)
        {
          g_free (self->oldest_id);
          self->oldest_id = g_strdup (json_object_get_string_member (oldest, "id"));
          fallback_next (self);
          return;
        }
      note (self, "catch-up: more than %u missed messages in one channel; the oldest are left to its history",
            CONFAB_CATCH_UP_FALLBACK_PAGE * CONFAB_CATCH_UP_FALLBACK_MAX_PAGES);
    }

  self->channel++;
  self->message_pages = 0;
  g_clear_pointer (&self->oldest_id, g_free);
  fallback_next (self);
}

static void
channel_page_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(ConfabCatchUp) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_query_channel_finish (CONFAB_STREAM_CLIENT (source), result, &error);

  if (is_cancelled (self))
    finish_cancelled (self);
  else if (answer == NULL)
    finish (self, g_steal_pointer (&error));
  else
    channel_page (self, answer);
}

static void
fallback_next (ConfabCatchUp *self)
{
  const char *cid;
  const char *colon;
  g_autofree char *type = NULL;

  /* Skip anything that is not "type:id" (the server's answer is not trusted). */
  while (self->channel < self->cids->len)
    {
      cid = g_ptr_array_index (self->cids, self->channel);
      colon = strchr (cid, ':');
      if (colon != NULL && colon != cid && colon[1] != '\0')
        break;
      self->channel++;
    }
  if (self->channel >= self->cids->len)
    {
      fallback_done (self);
      return;
    }

  cid = g_ptr_array_index (self->cids, self->channel);
  colon = strchr (cid, ':');
  type = g_strndup (cid, colon - cid);
  confab_stream_client_query_channel_async (self->client, type, colon + 1, FALSE, FALSE,
                                            CONFAB_CATCH_UP_FALLBACK_PAGE, self->oldest_id, NULL,
                                            cancellable (self), channel_page_cb, g_object_ref (self));
}

static void
start_fallback (ConfabCatchUp *self,
                const char    *why)
{
  note (self, "catch-up: %s; reading each channel's messages since the watermark instead", why);
  g_clear_pointer (&self->found, g_ptr_array_unref);
  self->found = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  self->channel = 0;
  self->message_pages = 0;
  g_clear_pointer (&self->oldest_id, g_free);
  fallback_next (self);
}

/* Re-watching ------------------------------------------------------------------------------ */

static void query_channels_cb (GObject      *source,
                               GAsyncResult *result,
                               gpointer      user_data);

static void
channels_page (ConfabCatchUp *self,
               JsonObject    *answer)
{
  JsonArray *channels = NULL;
  guint n;

  /* The REST round trip is a quality sample too (the only one on long-poll). */
  if (self->channel_pages == 0)
    g_signal_emit (self, signals[SIGNAL_REST_RTT], 0,
                   (guint) MAX (0, (confab_clock_now (self->clock) - self->started) / 1000));
  self->channel_pages++;

  if (json_object_has_member (answer, "channels") &&
      JSON_NODE_HOLDS_ARRAY (json_object_get_member (answer, "channels")))
    channels = json_object_get_array_member (answer, "channels");
  n = channels != NULL ? json_array_get_length (channels) : 0;

  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (channels, i);
      JsonObject *channel = NULL;
      const char *cid = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      if (json_object_has_member (json_node_get_object (node), "channel") &&
          JSON_NODE_HOLDS_OBJECT (json_object_get_member (json_node_get_object (node), "channel")))
        channel = json_object_get_object_member (json_node_get_object (node), "channel");
      if (channel != NULL)
        cid = json_object_get_string_member_with_default (channel, "cid", NULL);
      if (cid != NULL)
        g_ptr_array_add (self->cids, g_strdup (cid));
    }

  /* A full page: more channels to watch. */
  if (n >= CONFAB_CATCH_UP_CHANNEL_PAGE && self->channel_pages < CONFAB_CATCH_UP_MAX_CHANNEL_PAGES)
    {
      confab_stream_client_query_channels_async (self->client, TRUE, FALSE, CONFAB_CATCH_UP_CHANNEL_PAGE,
                                                 (int) (self->channel_pages * CONFAB_CATCH_UP_CHANNEL_PAGE), 1,
                                                 cancellable (self), query_channels_cb, g_object_ref (self));
      return;
    }
  note (self, "catch-up: watching %u channels", self->cids->len);

  if (self->cids->len == 0 || self->since == 0)
    {
      finish (self, NULL);
      return;
    }

  if (self->cids->len > CONFAB_CATCH_UP_SYNC_MAX_CHANNELS)
    {
      g_autofree char *why = g_strdup_printf ("%u channels are more than /sync takes", self->cids->len);

      start_fallback (self, why);
      return;
    }

  self->page_since = self->since;
  request_sync_page (self);
}

static void
query_channels_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(ConfabCatchUp) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_query_channels_finish (CONFAB_STREAM_CLIENT (source), result, &error);

  if (is_cancelled (self))
    finish_cancelled (self);
  else if (answer == NULL)
    finish (self, g_steal_pointer (&error));
  else
    channels_page (self, answer);
}

/* GObject ------------------------------------------------------------------------------- */

static void
confab_catch_up_constructed (GObject *object)
{
  ConfabCatchUp *self = CONFAB_CATCH_UP (object);

  G_OBJECT_CLASS (confab_catch_up_parent_class)->constructed (object);

  if (self->clock == NULL)
    self->clock = CONFAB_CLOCK (confab_system_clock_new ());
}

static void
confab_catch_up_dispose (GObject *object)
{
  ConfabCatchUp *self = CONFAB_CATCH_UP (object);

  /* A run holds a reference on this object until it ends, so no task is left here. */
  g_clear_object (&self->client);
  g_clear_object (&self->clock);
  g_clear_object (&self->diagnostics);
  g_clear_pointer (&self->cids, g_ptr_array_unref);
  g_clear_pointer (&self->boundary, g_hash_table_unref);
  g_clear_pointer (&self->found, g_ptr_array_unref);

  G_OBJECT_CLASS (confab_catch_up_parent_class)->dispose (object);
}

static void
confab_catch_up_finalize (GObject *object)
{
  ConfabCatchUp *self = CONFAB_CATCH_UP (object);

  g_free (self->oldest_id);

  G_OBJECT_CLASS (confab_catch_up_parent_class)->finalize (object);
}

static void
confab_catch_up_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  ConfabCatchUp *self = CONFAB_CATCH_UP (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_SINCE:
      g_value_set_int64 (value, self->since);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_DIAGNOSTICS:
      g_value_set_object (value, self->diagnostics);
      break;
    case PROP_N_DELIVERED:
      g_value_set_uint (value, self->n_delivered);
      break;
    case PROP_N_SYNC_PAGES:
      g_value_set_uint (value, self->sync_pages);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_catch_up_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  ConfabCatchUp *self = CONFAB_CATCH_UP (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_SINCE:
      self->since = g_value_get_int64 (value);
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    case PROP_DIAGNOSTICS:
      self->diagnostics = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_catch_up_class_init (ConfabCatchUpClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_catch_up_constructed;
  object_class->dispose = confab_catch_up_dispose;
  object_class->finalize = confab_catch_up_finalize;
  object_class->get_property = confab_catch_up_get_property;
  object_class->set_property = confab_catch_up_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, CONFAB_TYPE_STREAM_CLIENT, co);
  properties[PROP_SINCE] =
    g_param_spec_int64 ("since", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, CONFAB_TYPE_CLOCK, co);
  properties[PROP_DIAGNOSTICS] =
    g_param_spec_object ("diagnostics", NULL, NULL, CONFAB_TYPE_DIAGNOSTICS, co);
  properties[PROP_N_DELIVERED] =
    g_param_spec_uint ("n-delivered", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_N_SYNC_PAGES] =
    g_param_spec_uint ("n-sync-pages", NULL, NULL, 0, G_MAXUINT, 0, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
  signals[SIGNAL_REST_RTT] =
    g_signal_new ("rest-rtt", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
confab_catch_up_init (ConfabCatchUp *self)
{
}

/* Public API -------------------------------------------------------------------------------- */

ConfabCatchUp *
confab_catch_up_new (ConfabStreamClient *client,
                     gint64              since,
                     ConfabClock        *clock,
                     ConfabDiagnostics  *diagnostics)
{
  g_return_val_if_fail (CONFAB_IS_STREAM_CLIENT (client), NULL);
  g_return_val_if_fail (since >= 0, NULL);
  g_return_val_if_fail (clock == NULL || CONFAB_IS_CLOCK (clock), NULL);
  g_return_val_if_fail (diagnostics == NULL || CONFAB_IS_DIAGNOSTICS (diagnostics), NULL);

  return g_object_new (CONFAB_TYPE_CATCH_UP,
                       "client", client,
                       "since", since,
                       "clock", clock,
                       "diagnostics", diagnostics,
                       NULL);
}

void
confab_catch_up_run_async (ConfabCatchUp      *self,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  g_autoptr(GCancellable) own = NULL;

  g_return_if_fail (CONFAB_IS_CATCH_UP (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (self->task == NULL && self->cids == NULL);

  /* The run checks for cancellation between events, so it always has a cancellable. */
  if (cancellable == NULL)
    cancellable = own = g_cancellable_new ();
  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, confab_catch_up_run_async);
  g_task_set_name (self->task, "[confab] catch-up");

  self->started = confab_clock_now (self->clock);
  self->cids = g_ptr_array_new_with_free_func (g_free);
  /* watch:true re-subscribes this connection to every channel of the user. */
  confab_stream_client_query_channels_async (self->client, TRUE, FALSE, CONFAB_CATCH_UP_CHANNEL_PAGE, 0, 1,
                                             cancellable, query_channels_cb, g_object_ref (self));
}

gboolean
confab_catch_up_run_finish (ConfabCatchUp *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (CONFAB_IS_CATCH_UP (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == confab_catch_up_run_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gint64
confab_catch_up_get_since (ConfabCatchUp *self)
{
  g_return_val_if_fail (CONFAB_IS_CATCH_UP (self), 0);
  return self->since;
}

ConfabStreamClient *
confab_catch_up_get_client (ConfabCatchUp *self)
{
  g_return_val_if_fail (CONFAB_IS_CATCH_UP (self), NULL);
  return self->client;
}

guint
confab_catch_up_get_n_delivered (ConfabCatchUp *self)
{
  g_return_val_if_fail (CONFAB_IS_CATCH_UP (self), 0);
  return self->n_delivered;
}

guint
confab_catch_up_get_n_sync_pages (ConfabCatchUp *self)
{
  g_return_val_if_fail (CONFAB_IS_CATCH_UP (self), 0);
  return self->sync_pages;
}

guint
confab_catch_up_get_n_channels (ConfabCatchUp *self)
{
  g_return_val_if_fail (CONFAB_IS_CATCH_UP (self), 0);
  return self->cids != NULL ? self->cids->len : 0;
}
