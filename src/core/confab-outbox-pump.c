/* confab-outbox-pump.c: sends what waits in the outbox, one message at a time
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-backoff.h"
#include "confab-error.h"
#include "confab-outbox-pump.h"
#include "confab-system-clock.h"

struct _ConfabOutboxPump
{
  GObject             parent_instance;

  /* construct-only */
  ConfabOutbox       *outbox;
  ConfabClock        *clock;
  ConfabDiagnostics  *diagnostics;

  ConfabStreamClient *client;
  gboolean            active;
  gint64              not_before;
  gint64              next_retry;

  ConfabBackoff      *backoff;        /* between resends */
  GCancellable       *cancellable;    /* the sends until the next stop() */
  gboolean            sending;
  guint               retry_id;
  GSource            *idle;
  gulong              pending_handler;
};

enum {
  PROP_0,
  PROP_OUTBOX,
  PROP_CLOCK,
  PROP_DIAGNOSTICS,
  PROP_CLIENT,
  PROP_ACTIVE,
  PROP_NOT_BEFORE,
  PROP_NEXT_RETRY,
  N_PROPS
};

enum {
  SIGNAL_SENT,
  SIGNAL_RATE_LIMITED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ConfabOutboxPump, confab_outbox_pump, G_TYPE_OBJECT)

/* "Outbox pump: …" in the debug log and the diagnostics timeline. */
#define note(self, ...) \
  confab_diagnostics_note ((self)->diagnostics, confab_clock_wall ((self)->clock), "Outbox pump", __VA_ARGS__)

static void
set_next_retry (ConfabOutboxPump *self,
                gint64            next_retry)
{
  if (self->next_retry == next_retry)
    return;

  self->next_retry = next_retry;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NEXT_RETRY]);
}

/* How long nothing may be sent, in ms (0: go ahead). */
static guint
wait_ms (ConfabOutboxPump *self)
{
  gint64 left = self->not_before - confab_clock_wall (self->clock);

  return left > 0 ? (guint) MIN ((left + 999) / 1000, (gint64) G_MAXUINT) : 0;
}

static gboolean
retry_cb (gpointer user_data)
{
  ConfabOutboxPump *self = user_data;

  self->retry_id = 0;
  set_next_retry (self, 0);
  confab_outbox_pump_kick (self);
  return G_SOURCE_REMOVE;
}

/* The next send in @delay_ms; next-retry says when. */
static void
schedule (ConfabOutboxPump *self,
          guint             delay_ms)
{
  confab_clock_clear_timeout (self->clock, &self->retry_id);
  self->retry_id = confab_clock_add_timeout (self->clock, MAX (delay_ms, 1), retry_cb, self, NULL);
  set_next_retry (self, confab_clock_wall (self->clock) + (gint64) delay_ms * 1000);
}

typedef struct
{
  ConfabOutboxPump *self;
  ConfabOutboxItem *item;
  GCancellable     *cancellable;
} Send;

static void
send_free (Send *send)
{
  g_clear_object (&send->self);
  g_clear_object (&send->item);
  g_clear_object (&send->cancellable);
  g_free (send);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Send, send_free)

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(Send) send = user_data;
  ConfabOutboxPump *self = send->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = confab_stream_client_send_message_finish (CONFAB_STREAM_CLIENT (source), result, &error);
  gboolean cancelled = g_cancellable_is_cancelled (send->cancellable);
  gboolean again = FALSE;

  if (answer != NULL || confab_api_error_is_duplicate (error))
    {
      confab_outbox_mark_sent (self->outbox, send->item);
      confab_backoff_reset (self->backoff);
      g_signal_emit (self, signals[SIGNAL_SENT], 0, send->item);
      again = !cancelled;
    }
  else if (cancelled || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autoptr(GError) lost = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST,
                                                    "the connection ended during the send");

      confab_outbox_mark_failed (self->outbox, send->item, lost);
    }
  else
    {
      /* Permanent: failed, on to the next. Transient: back to queued and resent after a
       * pause — the server's own when it rate-limits — or after the next kick. */
      confab_outbox_mark_failed (self->outbox, send->item, error);
      again = !confab_error_is_transient (error);
      if (!again)
        {
          guint delay_ms = confab_backoff_next_delay (self->backoff);

          if (confab_error_classify (error) == CONFAB_ERROR_RATE_LIMITED)
            {
              gint64 retry_at = self->client != NULL ? confab_stream_client_get_retry_at (self->client) : 0;

              g_signal_emit (self, signals[SIGNAL_RATE_LIMITED], 0, error, retry_at);
              delay_ms = MAX (delay_ms, wait_ms (self));
            }
          note (self, "outbox send failed (%s): resending in %u ms", error->message, delay_ms);
          schedule (self, delay_ms);
        }
    }

  self->sending = FALSE;
  if (again)
    confab_outbox_pump_kick (self);
}

void
confab_outbox_pump_kick (ConfabOutboxPump *self)
{
  ConfabOutboxItem *item;
  Send *send;
  guint wait;

  g_return_if_fail (CONFAB_IS_OUTBOX_PUMP (self));

  if (self->client == NULL || self->sending || self->retry_id != 0 || !self->active)
    return;
  if (confab_outbox_get_n_pending (self->outbox) == 0)
    return;
  if ((wait = wait_ms (self)) > 0)
    {
      note (self, "outbox: rate limited; sending in %u ms", wait);
      schedule (self, wait);
      return;
    }

  item = confab_outbox_next_pending (self->outbox);
  if (item == NULL)
    return;

  if (self->cancellable == NULL || g_cancellable_is_cancelled (self->cancellable))
    {
      g_clear_object (&self->cancellable);
      self->cancellable = g_cancellable_new ();
    }

  self->sending = TRUE;
  confab_outbox_mark_sending (self->outbox, item);
  send = g_new0 (Send, 1);
  send->self = g_object_ref (self);
  send->item = g_object_ref (item);
  send->cancellable = g_object_ref (self->cancellable);
  confab_stream_client_send_message_async (self->client, confab_outbox_item_get_cid (item),
                                           confab_outbox_item_get_id (item),
                                           confab_outbox_item_get_text (item),
                                           send->cancellable, send_cb, send);
}

void
confab_outbox_pump_stop (ConfabOutboxPump *self)
{
  g_return_if_fail (CONFAB_IS_OUTBOX_PUMP (self));

  confab_clock_clear_timeout (self->clock, &self->retry_id);
  g_cancellable_cancel (self->cancellable);
  set_next_retry (self, 0);
}

void
confab_outbox_pump_reset_backoff (ConfabOutboxPump *self)
{
  g_return_if_fail (CONFAB_IS_OUTBOX_PUMP (self));

  confab_backoff_reset (self->backoff);
}

static gboolean
idle_cb (gpointer user_data)
{
  ConfabOutboxPump *self = user_data;

  g_clear_pointer (&self->idle, g_source_unref);
  confab_outbox_pump_kick (self);
  return G_SOURCE_REMOVE;
}

/* Items can reach the outbox without kick() (the user's Retry, another writer of the
 * same outbox): send them while active. From an idle, so the outbox has finished the
 * change it is notifying about, and several changes cost one kick. */
static void
on_n_pending (ConfabOutbox     *outbox,
              GParamSpec       *pspec,
              ConfabOutboxPump *self)
{
  g_autoptr(GMainContext) context = NULL;

  if (self->idle != NULL || self->sending || self->retry_id != 0 || !self->active ||
      confab_outbox_get_n_pending (outbox) == 0)
    return;

  context = g_main_context_ref_thread_default ();
  self->idle = g_idle_source_new ();
  g_source_set_priority (self->idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->idle, idle_cb, self, NULL);
  g_source_set_static_name (self->idle, "[confab] outbox pump");
  g_source_attach (self->idle, context);
}

/* Properties --------------------------------------------------------------------------- */

ConfabOutbox *
confab_outbox_pump_get_outbox (ConfabOutboxPump *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_PUMP (self), NULL);
  return self->outbox;
}

ConfabStreamClient *
confab_outbox_pump_get_client (ConfabOutboxPump *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_PUMP (self), NULL);
  return self->client;
}

void
confab_outbox_pump_set_client (ConfabOutboxPump   *self,
                               ConfabStreamClient *client)
{
  g_return_if_fail (CONFAB_IS_OUTBOX_PUMP (self));
  g_return_if_fail (client == NULL || CONFAB_IS_STREAM_CLIENT (client));

  if (g_set_object (&self->client, client))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
}

gboolean
confab_outbox_pump_get_active (ConfabOutboxPump *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_PUMP (self), FALSE);
  return self->active;
}

void
confab_outbox_pump_set_active (ConfabOutboxPump *self,
                               gboolean          active)
{
  g_return_if_fail (CONFAB_IS_OUTBOX_PUMP (self));

  active = !!active;
  if (self->active == active)
    return;
  self->active = active;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
}

gint64
confab_outbox_pump_get_not_before (ConfabOutboxPump *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_PUMP (self), 0);
  return self->not_before;
}

void
confab_outbox_pump_set_not_before (ConfabOutboxPump *self,
                                   gint64            not_before)
{
  g_return_if_fail (CONFAB_IS_OUTBOX_PUMP (self));

  if (self->not_before == not_before)
    return;
  self->not_before = not_before;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NOT_BEFORE]);
}

gint64
confab_outbox_pump_get_next_retry (ConfabOutboxPump *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_PUMP (self), 0);
  return self->next_retry;
}

gboolean
confab_outbox_pump_get_sending (ConfabOutboxPump *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_PUMP (self), FALSE);
  return self->sending;
}

/* GObject ------------------------------------------------------------------------------ */

static void
confab_outbox_pump_constructed (GObject *object)
{
  ConfabOutboxPump *self = CONFAB_OUTBOX_PUMP (object);

  G_OBJECT_CLASS (confab_outbox_pump_parent_class)->constructed (object);

  if (self->clock == NULL)
    self->clock = CONFAB_CLOCK (confab_system_clock_new ());
  if (self->outbox != NULL)
    self->pending_handler = g_signal_connect (self->outbox, "notify::n-pending",
                                              G_CALLBACK (on_n_pending), self);
}

static void
confab_outbox_pump_dispose (GObject *object)
{
  ConfabOutboxPump *self = CONFAB_OUTBOX_PUMP (object);

  /* A send in flight holds a reference, so none is left here. */
  if (self->clock != NULL)
    confab_clock_clear_timeout (self->clock, &self->retry_id);
  if (self->outbox != NULL)
    g_clear_signal_handler (&self->pending_handler, self->outbox);
  if (self->idle != NULL)
    g_source_destroy (self->idle);
  g_clear_pointer (&self->idle, g_source_unref);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_object (&self->backoff);
  g_clear_object (&self->diagnostics);
  g_clear_object (&self->outbox);
  g_clear_object (&self->clock);

  G_OBJECT_CLASS (confab_outbox_pump_parent_class)->dispose (object);
}

static void
confab_outbox_pump_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  ConfabOutboxPump *self = CONFAB_OUTBOX_PUMP (object);

  switch (prop_id)
    {
    case PROP_OUTBOX:
      g_value_set_object (value, self->outbox);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_DIAGNOSTICS:
      g_value_set_object (value, self->diagnostics);
      break;
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, self->active);
      break;
    case PROP_NOT_BEFORE:
      g_value_set_int64 (value, self->not_before);
      break;
    case PROP_NEXT_RETRY:
      g_value_set_int64 (value, self->next_retry);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_outbox_pump_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  ConfabOutboxPump *self = CONFAB_OUTBOX_PUMP (object);

  switch (prop_id)
    {
    case PROP_OUTBOX:
      self->outbox = g_value_dup_object (value);
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    case PROP_DIAGNOSTICS:
      self->diagnostics = g_value_dup_object (value);
      break;
    case PROP_CLIENT:
      confab_outbox_pump_set_client (self, g_value_get_object (value));
      break;
    case PROP_ACTIVE:
      confab_outbox_pump_set_active (self, g_value_get_boolean (value));
      break;
    case PROP_NOT_BEFORE:
      confab_outbox_pump_set_not_before (self, g_value_get_int64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_outbox_pump_class_init (ConfabOutboxPumpClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_outbox_pump_constructed;
  object_class->dispose = confab_outbox_pump_dispose;
  object_class->get_property = confab_outbox_pump_get_property;
  object_class->set_property = confab_outbox_pump_set_property;

  properties[PROP_OUTBOX] =
    g_param_spec_object ("outbox", NULL, NULL, CONFAB_TYPE_OUTBOX, co);
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, CONFAB_TYPE_CLOCK, co);
  properties[PROP_DIAGNOSTICS] =
    g_param_spec_object ("diagnostics", NULL, NULL, CONFAB_TYPE_DIAGNOSTICS, co);
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, CONFAB_TYPE_STREAM_CLIENT, rw);
  properties[PROP_ACTIVE] =
    g_param_spec_boolean ("active", NULL, NULL, FALSE, rw);
  properties[PROP_NOT_BEFORE] =
    g_param_spec_int64 ("not-before", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_NEXT_RETRY] =
    g_param_spec_int64 ("next-retry", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_SENT] =
    g_signal_new ("sent", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CONFAB_TYPE_OUTBOX_ITEM);
  signals[SIGNAL_RATE_LIMITED] =
    g_signal_new ("rate-limited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_INT64);
}

static void
confab_outbox_pump_init (ConfabOutboxPump *self)
{
  self->backoff = confab_backoff_new ();
}

ConfabOutboxPump *
confab_outbox_pump_new (ConfabOutbox      *outbox,
                        ConfabClock       *clock,
                        ConfabDiagnostics *diagnostics)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX (outbox), NULL);
  g_return_val_if_fail (clock == NULL || CONFAB_IS_CLOCK (clock), NULL);
  g_return_val_if_fail (diagnostics == NULL || CONFAB_IS_DIAGNOSTICS (diagnostics), NULL);

  return g_object_new (CONFAB_TYPE_OUTBOX_PUMP,
                       "outbox", outbox,
                       "clock", clock,
                       "diagnostics", diagnostics,
                       NULL);
}
