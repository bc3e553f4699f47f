/* confab-connection-manager.c: the one connection to Stream, observed by the app
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-backoff.h"
#include "confab-catch-up.h"
#include "confab-circuit-breaker.h"
#include "confab-connection-manager.h"
#include "confab-endpoint-set.h"
#include "confab-error.h"
#include "confab-longpoll-transport.h"
#include "confab-outbox-pump.h"
#include "confab-seen-ids.h"
#include "confab-stream-client.h"
#include "confab-system-clock.h"
#include "confab-waiters-private.h"
#include "confab-watermark.h"
#include "confab-websocket-transport.h"

/* The ladder, as data: the transports, each tried on every endpoint (ConfabEndpointSet:
 * the one that last worked on this network first, then the others). WebSocket attempts
 * start ENDPOINT_STAGGER_MS apart, or at once when the one before fails fast; long-poll
 * starts when no WebSocket is usable by hedge-ms (or every one failed). A step is one
 * transport on one endpoint: kind × n_endpoints + endpoint. SSE goes here later. */
typedef ConfabTransport *(*TransportFactory) (void);

typedef struct
{
  ConfabTransportKind  kind;
  const char          *nick;
  TransportFactory     factory;
} LadderStep;

static const LadderStep ladder[] = {
  { CONFAB_TRANSPORT_KIND_WEBSOCKET, "websocket", confab_websocket_transport_new },
  { CONFAB_TRANSPORT_KIND_LONGPOLL, "longpoll", confab_longpoll_transport_new },
};

#define N_KINDS G_N_ELEMENTS (ladder)
#define WEBSOCKET_KIND 0
#define LONGPOLL_KIND  1

/* At most one immediate round per second (retry-policy.md). */
#define IMMEDIATE_ROUND_GAP_US G_USEC_PER_SEC

typedef struct _Candidate Candidate;

struct _ConfabConnectionManager
{
  GObject                parent_instance;

  /* construct-only */
  char                  *base_url;
  GStrv                  endpoint_urls;
  ConfabEndpointSet     *endpoints;
  GError                *endpoints_error; /* a bad endpoint list, reported by connect */
  char                  *api_key;
  ConfabTokenProvider   *token_provider;
  ConfabClock           *clock;
  ConfabOutbox          *outbox;
  ConfabDiagnostics     *diagnostics;
  GNetworkMonitor       *network_monitor;
  char                  *state_dir;
  guint                  hedge_ms;
  guint                  websocket_timeout_ms;
  guint                  websocket_idle_probe_ms;
  guint                  websocket_probe_timeout_ms;
  ConfabSleepMonitor    *sleep_monitor;

  /* observable */
  ConfabConnectionState  state;
  ConfabStage            stage;
  const char            *transport_nick;
  char                  *endpoint;
  ConfabQuality          quality;
  int                    rtt_ms;
  double                 loss;
  GError                *last_error;
  gint64                 next_retry;
  char                  *connection_id;
  char                  *user_id;

  /* the session */
  JsonObject            *user_details;
  ConfabStreamClient    *rest;
  ConfabWaiters         *waiters;         /* connect_async() callers */
  ConfabBackoff         *backoff;
  guint                  n_steps;         /* N_KINDS × endpoints */
  ConfabCircuitBreaker **breakers;        /* [n_steps] */
  ConfabQualityMeter    *meter;
  ConfabSeenIds         *seen;
  ConfabWatermark       *watermark;       /* the newest event delivered */
  gint64                 rate_limited_until;  /* wall µs; nothing is sent before it */
  ConfabOutboxPump      *pump;            /* NULL without an outbox */
  GPtrArray             *held;            /* JsonObject: live events during catch-up */
  gboolean               holding;
  gint64                 awake_wall;      /* the clocks at the last wake-up, to see a suspend */
  gint64                 awake_now;
  gboolean               awake_known;

  Candidate            **candidates;      /* [n_steps]: this round's attempts */
  guint                 *order;           /* [n_endpoints]: this round's endpoint order */
  guint                  cursor[N_KINDS]; /* per kind: the next index into order */
  gboolean               longpoll_open;   /* the hedge (or failures) let long-poll start */
  Candidate             *active;
  Candidate             *previous;        /* the long-poll being swapped out */
  Candidate             *upgrade;         /* a background WebSocket trial */
  GCancellable          *catch_up;
  ConfabCatchUp         *catch_up_run;
  gint64                 last_immediate;
  gint64                 round_started;

  guint                  hedge_id;
  guint                  stagger_id;
  guint                  retry_id;
  guint                  stable_id;
  guint                  upgrade_id;
  guint                  upgrade_interval_ms;
  guint                  probe_id;
  guint                  resume_id;
  gulong                 network_handler;
  gulong                 sleep_handler;
};

struct _Candidate
{
  gatomicrefcount          ref_count;
  ConfabConnectionManager *self;      /* NULL once abandoned */
  guint                    step;
  ConfabTransport         *transport;
  ConfabAttempt           *attempt;
  GCancellable            *cancellable;
  gboolean                 refreshed;
  gboolean                 upgrade;
  gboolean                 usable;
  gulong                   handlers[5];
};

enum {
  PROP_0,
  PROP_STATE,
  PROP_STAGE,
  PROP_TRANSPORT,
  PROP_ENDPOINT,
  PROP_QUALITY,
  PROP_RTT_MS,
  PROP_LOSS,
  PROP_LAST_ERROR,
  PROP_NEXT_RETRY,
  PROP_CONNECTION_ID,
  PROP_USER_ID,
  PROP_BASE_URL,
  PROP_API_KEY,
  PROP_TOKEN_PROVIDER,
  PROP_CLOCK,
  PROP_OUTBOX,
  PROP_DIAGNOSTICS,
  PROP_NETWORK_MONITOR,
  PROP_STATE_DIR,
  PROP_HEDGE_MS,
  PROP_WEBSOCKET_TIMEOUT_MS,
  PROP_WEBSOCKET_IDLE_PROBE_MS,
  PROP_WEBSOCKET_PROBE_TIMEOUT_MS,
  PROP_SLEEP_MONITOR,
  PROP_ENDPOINTS,
  PROP_ENDPOINT_SET,
  N_PROPS
};

enum {
  SIGNAL_EVENT,
  SIGNAL_MESSAGE_RECEIVED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ConfabConnectionManager, confab_connection_manager, G_TYPE_OBJECT)

static void start_round          (ConfabConnectionManager *self);
static void round_failed         (ConfabConnectionManager *self,
                                  const GError            *error);
static void fail_session         (ConfabConnectionManager *self,
                                  const GError            *error);
static void start_candidate      (ConfabConnectionManager *self,
                                  guint                    step,
                                  gboolean                 refreshed,
                                  gboolean                 upgrade);
static void begin_catch_up       (ConfabConnectionManager *self);
static void drop_catch_up        (ConfabConnectionManager *self);
static void pump_outbox          (ConfabConnectionManager *self);
static guint rate_limit_wait_ms  (ConfabConnectionManager *self);
static void note_rate_limit      (ConfabConnectionManager *self,
                                  gint64                   retry_at);
static void schedule_upgrade     (ConfabConnectionManager *self);
static void check_clock_jump     (ConfabConnectionManager *self);

GType
confab_connection_state_get_type (void)
{
  static gsize type_id = 0;

  if (g_once_init_enter (&type_id))
    {
      static const GEnumValue values[] = {
        { CONFAB_CONNECTION_STATE_IDLE, "CONFAB_CONNECTION_STATE_IDLE", "idle" },
        { CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK, "CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK", "waiting-for-network" },
        { CONFAB_CONNECTION_STATE_CONNECTING, "CONFAB_CONNECTION_STATE_CONNECTING", "connecting" },
        { CONFAB_CONNECTION_STATE_UPDATING, "CONFAB_CONNECTION_STATE_UPDATING", "updating" },
        { CONFAB_CONNECTION_STATE_CONNECTED, "CONFAB_CONNECTION_STATE_CONNECTED", "connected" },
        { CONFAB_CONNECTION_STATE_RECONNECTING, "CONFAB_CONNECTION_STATE_RECONNECTING", "reconnecting" },
        { CONFAB_CONNECTION_STATE_LIMITED, "CONFAB_CONNECTION_STATE_LIMITED", "limited" },
        { CONFAB_CONNECTION_STATE_FAILED, "CONFAB_CONNECTION_STATE_FAILED", "failed" },
        { 0, NULL, NULL },
      };
      GType type = g_enum_register_static (g_intern_static_string ("ConfabConnectionState"), values);

      g_once_init_leave (&type_id, type);
    }

  return type_id;
}

static const char *
enum_nick (GType type,
           int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *ev = g_enum_get_value (klass, value);

  return ev != NULL ? ev->value_nick : "?";
}

/* Steps: one transport on one endpoint ------------------------------------------------- */

static guint
n_endpoints (ConfabConnectionManager *self)
{
  return self->n_steps / N_KINDS;
}

static guint
kind_of (ConfabConnectionManager *self,
         guint                    step)
{
  return step / n_endpoints (self);
}

static guint
endpoint_of (ConfabConnectionManager *self,
             guint                    step)
{
  return step % n_endpoints (self);
}

static guint
step_for (ConfabConnectionManager *self,
          guint                    kind,
          guint                    endpoint)
{
  return kind * n_endpoints (self) + endpoint;
}

static const char *
nick_of (ConfabConnectionManager *self,
         guint                    step)
{
  return ladder[kind_of (self, step)].nick;
}

/* Logging and diagnostics ------------------------------------------------------------- */

/* "Connection manager: …" in the debug log and the diagnostics timeline. */
#define note(self, ...) \
  confab_diagnostics_note ((self)->diagnostics, confab_clock_wall ((self)->clock), "Connection manager", __VA_ARGS__)

static void
update_breakers (ConfabConnectionManager *self)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < self->n_steps; i++)
    if (self->breakers[i] != NULL)
      g_ptr_array_add (lines, confab_circuit_breaker_describe (self->breakers[i]));

  confab_diagnostics_set_breakers (self->diagnostics, lines);
}

/* Property setters (notify on change only) -------------------------------------------- */

static void
set_state (ConfabConnectionManager *self,
           ConfabConnectionState    state)
{
  if (self->state == state)
    return;

  note (self, "state %s → %s",
        enum_nick (CONFAB_TYPE_CONNECTION_STATE, self->state),
        enum_nick (CONFAB_TYPE_CONNECTION_STATE, state));
  self->state = state;
  if (self->pump != NULL)
    confab_outbox_pump_set_active (self->pump, state == CONFAB_CONNECTION_STATE_CONNECTED);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_stage (ConfabConnectionManager *self,
           ConfabStage              stage)
{
  if (self->stage == stage)
    return;

  note (self, "stage %s → %s", enum_nick (CONFAB_TYPE_STAGE, self->stage),
        enum_nick (CONFAB_TYPE_STAGE, stage));
  self->stage = stage;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STAGE]);
}

static void
set_string (ConfabConnectionManager  *self,
            char                    **field,
            const char               *value,
            guint                     prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;

  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_transport_nick (ConfabConnectionManager *self,
                    const char              *nick)
{
  if (g_strcmp0 (self->transport_nick, nick) == 0)
    return;

  self->transport_nick = nick;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRANSPORT]);
}

static void
set_next_retry (ConfabConnectionManager *self,
                gint64                   next_retry)
{
  if (self->next_retry == next_retry)
    return;

  self->next_retry = next_retry;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NEXT_RETRY]);
}

static void
set_last_error (ConfabConnectionManager *self,
                const GError            *error)
{
  if (error == NULL && self->last_error == NULL)
    return;
  if (error != NULL && self->last_error != NULL &&
      error->domain == self->last_error->domain && error->code == self->last_error->code &&
      g_strcmp0 (error->message, self->last_error->message) == 0)
    return;

  g_clear_error (&self->last_error);
  if (error != NULL)
    self->last_error = g_error_copy (error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

static void
sync_quality (ConfabConnectionManager *self)
{
  ConfabQuality quality = confab_quality_meter_get_rating (self->meter);
  int rtt_ms = confab_quality_meter_get_rtt_ms (self->meter);
  double loss = confab_quality_meter_get_loss (self->meter);

  g_object_freeze_notify (G_OBJECT (self));
  if (self->quality != quality)
    {
      note (self, "quality %s → %s", confab_quality_to_string (self->quality),
            confab_quality_to_string (quality));
      self->quality = quality;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QUALITY]);
    }
  if (self->rtt_ms != rtt_ms)
    {
      self->rtt_ms = rtt_ms;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT_MS]);
    }
  if (self->loss != loss)
    {
      self->loss = loss;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOSS]);
    }
  g_object_thaw_notify (G_OBJECT (self));

  if (rtt_ms >= 0)
    confab_diagnostics_add_quality_sample (self->diagnostics, confab_clock_wall (self->clock),
                                           quality == CONFAB_QUALITY_UNKNOWN ? NULL : confab_quality_to_string (quality),
                                           rtt_ms, loss);
}

/* The REST client: catch-up, the outbox and the app's calls go through it. */
static void
set_rest (ConfabConnectionManager *self,
          ConfabStreamClient      *rest)
{
  g_clear_object (&self->rest);
  self->rest = rest;
  if (self->pump != NULL)
    confab_outbox_pump_set_client (self->pump, rest);
}

/* Incoming events --------------------------------------------------------------------- */

static void
handle_event (ConfabConnectionManager *self,
              JsonObject              *event)
{
  const char *type = json_object_get_string_member_with_default (event, "type", NULL);
  JsonObject *message = NULL;

  if (type == NULL)
    return;

  if (g_strcmp0 (type, "health.check") != 0)
    confab_watermark_advance (self->watermark,
                              confab_watermark_parse_time (json_object_get_string_member_with_default (event, "created_at", NULL)));

  if (g_strcmp0 (type, "message.new") == 0 && json_object_has_member (event, "message") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (event, "message")))
    message = json_object_get_object_member (event, "message");

  if (message != NULL)
    {
      const char *id = json_object_get_string_member_with_default (message, "id", NULL);

      /* A race or a transport swap can bring one message twice: show it once. */
      if (id == NULL || !confab_seen_ids_add (self->seen, id))
        return;
    }

  g_signal_emit (self, signals[SIGNAL_EVENT], 0, event);
  if (message != NULL)
    g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, message);
}

/* Rate limits ------------------------------------------------------------------------- */

/* How long nothing may be sent, in ms (0: go ahead). */
static guint
rate_limit_wait_ms (ConfabConnectionManager *self)
{
  gint64 left = self->rate_limited_until - confab_clock_wall (self->clock);

  return left > 0 ? (guint) MIN ((left + 999) / 1000, (gint64) G_MAXUINT) : 0;
}

/* The server said "too many requests" and, if @retry_at is not 0, when to come back (wall
 * µs). Every connect round and resend waits until then, but never longer than the
 * backoff's cap: a server asking for an hour gets asked again after 30 s. */
static void
note_rate_limit (ConfabConnectionManager *self,
                 gint64                   retry_at)
{
  gint64 now = confab_clock_wall (self->clock);
  gint64 cap = (gint64) confab_backoff_get_cap_ms (self->backoff) * 1000;
  gint64 wait;

  if (retry_at <= 0)
    {
      note (self, "rate limited, without a time to come back: backing off");
      return;
    }
  wait = CLAMP (retry_at - now, 0, cap);
  self->rate_limited_until = MAX (self->rate_limited_until, now + wait);
  if (self->pump != NULL)
    confab_outbox_pump_set_not_before (self->pump, self->rate_limited_until);
  note (self, "rate limited: nothing is sent for %" G_GINT64_FORMAT " ms%s", wait / 1000,
        retry_at - now > cap ? " (the server asked for longer; capped)" : "");
}

/* Candidates (one attempt on one transport) -------------------------------------------- */

static Candidate *
candidate_ref (Candidate *c)
{
  g_atomic_ref_count_inc (&c->ref_count);
  return c;
}

static void
candidate_unref (Candidate *c)
{
  if (!g_atomic_ref_count_dec (&c->ref_count))
    return;

  if (c->transport != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (c->handlers); i++)
      g_clear_signal_handler (&c->handlers[i], c->transport);
  g_clear_object (&c->transport);
  g_clear_object (&c->attempt);
  g_clear_object (&c->cancellable);
  g_free (c);
}

/* Ends @c: cancels what it does, closes its transport and records @error (NULL: it was
 * a success that is now over; cancelled: it lost a race or was abandoned). */
static void
candidate_abandon (Candidate    *c,
                   const GError *error,
                   const char   *reason)
{
  ConfabConnectionManager *self = c->self;

  if (self == NULL)
    return;

  c->self = NULL;
  g_cancellable_cancel (c->cancellable);
  for (guint i = 0; i < G_N_ELEMENTS (c->handlers); i++)
    g_clear_signal_handler (&c->handlers[i], c->transport);
  if (c->transport != NULL)
    confab_transport_disconnect (c->transport);

  if (confab_attempt_get_outcome (c->attempt) == CONFAB_ATTEMPT_OUTCOME_PENDING)
    {
      g_autoptr(GError) cancelled = NULL;

      if (error == NULL)
        error = cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
      confab_attempt_finish_at (c->attempt, confab_clock_wall (self->clock), error, reason);
      /* A race loser hands a half-open trial back without counting. */
      confab_circuit_breaker_record_failure (self->breakers[c->step], error);
      update_breakers (self);
    }

  candidate_unref (c);
}

/* Stops what belongs to the current connection: its timers, catch-up, the outbox pump,
 * a WebSocket upgrade in progress (@reason says why) and a transport being replaced. */
static void
stop_connection_work (ConfabConnectionManager *self,
                      const char              *reason)
{
  confab_clock_clear_timeout (self->clock, &self->stable_id);
  confab_clock_clear_timeout (self->clock, &self->probe_id);
  confab_clock_clear_timeout (self->clock, &self->upgrade_id);
  g_cancellable_cancel (self->catch_up);
  drop_catch_up (self);
  if (self->pump != NULL)
    confab_outbox_pump_stop (self->pump);
  /* Held live events were not delivered, so the watermark has not passed them: the next
   * catch-up fetches them again. */
  self->holding = FALSE;
  g_ptr_array_set_size (self->held, 0);
  if (self->upgrade != NULL)
    {
      Candidate *upgrade = g_steal_pointer (&self->upgrade);

      candidate_abandon (upgrade, NULL, reason);
    }
  if (self->previous != NULL)
    {
      Candidate *previous = g_steal_pointer (&self->previous);

      candidate_abandon (previous, NULL, NULL);
    }
}

static ConfabAttemptStage
attempt_stage_for (ConfabStage stage)
{
  switch (stage)
    {
    case CONFAB_STAGE_RESOLVING:
      return CONFAB_ATTEMPT_STAGE_RESOLVING;
    case CONFAB_STAGE_CONNECTING:
      return CONFAB_ATTEMPT_STAGE_CONNECTING;
    case CONFAB_STAGE_TLS:
      return CONFAB_ATTEMPT_STAGE_TLS;
    case CONFAB_STAGE_UPGRADING:
      return CONFAB_ATTEMPT_STAGE_UPGRADING;
    case CONFAB_STAGE_AUTHENTICATING:
      return CONFAB_ATTEMPT_STAGE_AUTHENTICATING;
    case CONFAB_STAGE_SYNCING:
    case CONFAB_STAGE_READY:
      return CONFAB_ATTEMPT_STAGE_FIRST_FRAME;
    case CONFAB_STAGE_IDLE:
    default:
      return CONFAB_ATTEMPT_STAGE_NONE;
    }
}

static void
on_transport_stage (ConfabTransport *transport,
                    GParamSpec      *pspec,
                    Candidate       *c)
{
  ConfabConnectionManager *self = c->self;
  ConfabStage stage = confab_transport_get_stage (transport);
  ConfabAttemptStage astage = attempt_stage_for (stage);

  if (self == NULL)
    return;

  if (astage != CONFAB_ATTEMPT_STAGE_NONE)
    confab_attempt_mark_stage (c->attempt, astage, confab_clock_wall (self->clock));

  /* The manager's stage follows the furthest attempt of a round in progress. */
  if (!c->usable && !c->upgrade &&
      (self->state == CONFAB_CONNECTION_STATE_CONNECTING) &&
      stage > self->stage && stage < CONFAB_STAGE_SYNCING)
    set_stage (self, stage);
}

static void
on_transport_event (ConfabTransport *transport,
                    JsonObject      *event,
                    Candidate       *c)
{
  ConfabConnectionManager *self = c->self;

  if (self == NULL || !c->usable)
    return;
  if (c != self->active && c != self->previous)
    return;

  check_clock_jump (self);
  /* During catch-up, live events wait for the missed ones, so the order holds. */
  if (self->holding)
    {
      g_ptr_array_add (self->held, json_object_ref (event));
      return;
    }
  handle_event (self, event);
}

/* The transport reports each of its probes: answered ("rtt") or not ("probe-lost");
 * both feed the loss figure, including the ones this manager asked for. */
static void
on_transport_rtt (ConfabTransport *transport,
                  guint            rtt_ms,
                  Candidate       *c)
{
  ConfabConnectionManager *self = c->self;

  if (self == NULL || c != self->active)
    return;

  check_clock_jump (self);
  confab_clock_clear_timeout (self->clock, &self->probe_id);
  confab_quality_meter_add_probe (self->meter, TRUE);
  confab_quality_meter_add_rtt (self->meter, rtt_ms);
  sync_quality (self);
}

static void
on_transport_probe_lost (ConfabTransport *transport,
                         Candidate       *c)
{
  ConfabConnectionManager *self = c->self;

  if (self == NULL || c != self->active)
    return;

  check_clock_jump (self);
  note (self, "a liveness probe went unanswered");
  confab_quality_meter_add_probe (self->meter, FALSE);
  sync_quality (self);
}

static void
connection_lost (ConfabConnectionManager *self,
                 const GError            *error)
{
  Candidate *active = self->active;

  note (self, "connection lost (%s)", error->message);
  self->active = NULL;
  stop_connection_work (self, "the connection it would replace was lost");

  if (active != NULL)
    {
      /* A lost link counts against its breaker. */
      confab_circuit_breaker_record_failure (self->breakers[active->step], error);
      update_breakers (self);
      candidate_abandon (active, NULL, NULL);
    }

  confab_stream_client_set_connection_id (self->rest, NULL);
  set_string (self, &self->connection_id, NULL, PROP_CONNECTION_ID);
  set_transport_nick (self, NULL);
  set_string (self, &self->endpoint, NULL, PROP_ENDPOINT);
  confab_quality_meter_reset (self->meter);
  sync_quality (self);

  if (confab_error_classify (error) == CONFAB_ERROR_AUTH)
    fail_session (self, error);
  else
    round_failed (self, error);
}

static void
on_transport_lost (ConfabTransport *transport,
                   const GError    *error,
                   Candidate       *c)
{
  ConfabConnectionManager *self = c->self;

  if (self == NULL)
    return;

  check_clock_jump (self);
  if (c == self->previous)
    {
      self->previous = NULL;
      candidate_abandon (c, NULL, NULL);
      return;
    }
  if (c == self->upgrade)
    {
      self->upgrade = NULL;
      candidate_abandon (c, error, NULL);
      schedule_upgrade (self);
      return;
    }
  if (c != self->active)
    return;

  connection_lost (self, error);
}

static gboolean
any_candidate_running (ConfabConnectionManager *self)
{
  for (guint i = 0; i < self->n_steps; i++)
    if (self->candidates[i] != NULL)
      return TRUE;
  return FALSE;
}

static gboolean
kind_running (ConfabConnectionManager *self,
              guint                    kind)
{
  for (guint e = 0; e < n_endpoints (self); e++)
    if (self->candidates[step_for (self, kind, e)] != NULL)
      return TRUE;
  return FALSE;
}

static gboolean
kind_left (ConfabConnectionManager *self,
           guint                    kind)
{
  return self->cursor[kind] < n_endpoints (self);
}

/* Starts @kind on the next endpoint of this round's order that its breaker allows;
 * FALSE if none is left. */
static gboolean
start_next_of_kind (ConfabConnectionManager *self,
                    guint                    kind,
                    const char              *reason)
{
  while (kind_left (self, kind))
    {
      guint endpoint = self->order[self->cursor[kind]++];
      guint step = step_for (self, kind, endpoint);

      if (!confab_circuit_breaker_allow (self->breakers[step]))
        {
          note (self, "skipping %s on endpoint %u: its circuit breaker is open", ladder[kind].nick, endpoint + 1);
          update_breakers (self);
          continue;
        }

      if (reason != NULL)
        note (self, "%s", reason);
      start_candidate (self, step, FALSE, FALSE);
      return TRUE;
    }

  return FALSE;
}

static gboolean stagger_cb (gpointer user_data);

/* The next WebSocket endpoint (or, once long-poll may start, the next long-poll one)
 * starts ENDPOINT_STAGGER_MS from now, Happy-Eyeballs style. */
static void
schedule_stagger (ConfabConnectionManager *self)
{
  confab_clock_clear_timeout (self->clock, &self->stagger_id);
  if (kind_left (self, WEBSOCKET_KIND) || (self->longpoll_open && kind_left (self, LONGPOLL_KIND)))
    self->stagger_id = confab_clock_add_timeout (self->clock, CONFAB_CONNECTION_MANAGER_ENDPOINT_STAGGER_MS,
                                                 stagger_cb, self, NULL);
}

static gboolean
stagger_cb (gpointer user_data)
{
  ConfabConnectionManager *self = user_data;
  guint kind = kind_left (self, WEBSOCKET_KIND) ? WEBSOCKET_KIND : LONGPOLL_KIND;
  g_autofree char *reason = NULL;

  self->stagger_id = 0;
  check_clock_jump (self);
  reason = g_strdup_printf ("nothing usable after %u ms: starting %s on the next endpoint too",
                            CONFAB_CONNECTION_MANAGER_ENDPOINT_STAGGER_MS, ladder[kind].nick);
  start_next_of_kind (self, kind, reason);
  schedule_stagger (self);

  return G_SOURCE_REMOVE;
}

/* Long-poll may start now: the hedge delay passed, or no WebSocket is left to wait for. */
static gboolean
open_longpoll (ConfabConnectionManager *self,
               const char              *reason)
{
  gboolean started;

  confab_clock_clear_timeout (self->clock, &self->hedge_id);
  self->longpoll_open = TRUE;
  started = start_next_of_kind (self, LONGPOLL_KIND, reason);
  schedule_stagger (self);
  return started;
}

static void
cancel_round (ConfabConnectionManager *self,
              const char              *reason)
{
  confab_clock_clear_timeout (self->clock, &self->hedge_id);
  confab_clock_clear_timeout (self->clock, &self->stagger_id);
  for (guint i = 0; i < self->n_steps; i++)
    {
      Candidate *c = g_steal_pointer (&self->candidates[i]);

      if (c != NULL)
        candidate_abandon (c, NULL, reason);
    }
}

static void
candidate_usable (Candidate *c)
{
  ConfabConnectionManager *self = c->self;
  g_autofree char *reason = NULL;
  int handshake_rtt;

  c->usable = TRUE;
  confab_attempt_mark_stage (c->attempt, CONFAB_ATTEMPT_STAGE_FIRST_FRAME, confab_clock_wall (self->clock));
  /* The connect request's round trip (upgrade → 101, long-poll connect → answer) is the
   * first RTT sample; 101 → health.check is ≈ 0 on any link (same flight), so the
   * authenticating stage would rate a 100 ms link "excellent, 0 ms". */
  handshake_rtt = confab_transport_get_handshake_rtt_ms (c->transport);
  if (handshake_rtt >= 0 && !c->upgrade)
    {
      confab_quality_meter_reset (self->meter);
      confab_quality_meter_add_rtt (self->meter, (guint) handshake_rtt);
    }
  confab_circuit_breaker_record_success (self->breakers[c->step]);
  update_breakers (self);
  /* What worked on this network is tried first next time. */
  confab_endpoint_set_remember (self->endpoints, endpoint_of (self, c->step));

  if (c->upgrade)
    {
      /* Back on WebSocket: catch up on it, then close the long-poll. */
      note (self, "%s usable again: moving over from %s", nick_of (self, c->step),
            self->active != NULL ? nick_of (self, self->active->step) : "nothing");
      self->upgrade = NULL;
      self->upgrade_interval_ms = CONFAB_CONNECTION_MANAGER_UPGRADE_PROBE_MIN_MS;
      if (self->previous != NULL)
        {
          Candidate *previous = g_steal_pointer (&self->previous);

          candidate_abandon (previous, NULL, NULL);
        }
      self->previous = self->active;
      self->active = c;
      begin_catch_up (self);
      return;
    }

  /* The first usable one wins; the others are cancelled. */
  self->candidates[c->step] = NULL;
  self->active = c;
  reason = g_strdup_printf ("lost the race to %s on endpoint %u", nick_of (self, c->step),
                            endpoint_of (self, c->step) + 1);
  cancel_round (self, reason);
  note (self, "%s on endpoint %u usable after %" G_GINT64_FORMAT " ms", nick_of (self, c->step),
        endpoint_of (self, c->step) + 1, (confab_clock_now (self->clock) - self->round_started) / 1000);
  begin_catch_up (self);
}

static void
candidate_failed (Candidate    *c,
                  const GError *error)
{
  ConfabConnectionManager *self = c->self;
  ConfabErrorCode code = confab_error_classify (error);
  guint step = c->step;
  guint kind = kind_of (self, step);
  gboolean upgrade = c->upgrade;
  const char *reason = NULL;

  if (upgrade)
    self->upgrade = NULL;
  else
    self->candidates[step] = NULL;

  if (code == CONFAB_ERROR_TOKEN_EXPIRED && !c->refreshed)
    {
      candidate_abandon (c, error, "token expired: refreshing it and retrying at once");
      start_candidate (self, step, TRUE, upgrade);
      return;
    }

  if (code == CONFAB_ERROR_AUTH || code == CONFAB_ERROR_TOKEN_EXPIRED || code == CONFAB_ERROR_REJECTED)
    reason = "credentials refused: not retrying";
  else if (code == CONFAB_ERROR_RATE_LIMITED)
    reason = "rate limited: no attempt until the server allows one";
  else if (!upgrade && kind_left (self, kind))
    reason = "failed: trying the next endpoint at once";
  else if (!upgrade && kind == WEBSOCKET_KIND && kind_left (self, LONGPOLL_KIND))
    reason = "failed: trying the next transport at once";

  if (code == CONFAB_ERROR_RATE_LIMITED)
    note_rate_limit (self, confab_transport_get_retry_at (c->transport));

  confab_attempt_finish_at (c->attempt, confab_clock_wall (self->clock), error, reason);
  confab_circuit_breaker_record_failure (self->breakers[step], error);
  update_breakers (self);
  note (self, "%s attempt on endpoint %u failed: %s", nick_of (self, step), endpoint_of (self, step) + 1,
        error->message);
  candidate_abandon (c, error, NULL);

  if (upgrade)
    {
      schedule_upgrade (self);
      return;
    }

  if (code == CONFAB_ERROR_AUTH || code == CONFAB_ERROR_TOKEN_EXPIRED || code == CONFAB_ERROR_REJECTED)
    {
      fail_session (self, error);
      return;
    }

  /* A rate limit is the app's or the user's, not the endpoint's: failing over would only
   * be refused too. The round ends and waits. */
  if (code == CONFAB_ERROR_RATE_LIMITED)
    {
      round_failed (self, error);
      return;
    }

  /* A fast failure moves on at once: the same transport on the next endpoint; when no
   * WebSocket is left running or to start, long-poll without waiting for the hedge. */
  if (!start_next_of_kind (self, kind, NULL) && kind == WEBSOCKET_KIND &&
      !kind_running (self, WEBSOCKET_KIND) && !self->longpoll_open)
    open_longpoll (self, NULL);
  else
    schedule_stagger (self);

  if (!any_candidate_running (self) && self->active == NULL)
    round_failed (self, error);
}

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Candidate *c = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = confab_transport_connect_finish (CONFAB_TRANSPORT (source), result, &error);

  if (c->self != NULL)
    {
      if (ok)
        candidate_usable (c);
      else
        candidate_failed (c, error);
    }

  candidate_unref (c);
}

static void
token_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Candidate *c = user_data;
  ConfabConnectionManager *self = c->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = confab_token_provider_get_token_finish (CONFAB_TOKEN_PROVIDER (source), result, &error);
  g_autoptr(ConfabConnectParams) params = NULL;

  if (self == NULL)
    {
      candidate_unref (c);
      return;
    }

  if (token == NULL)
    {
      candidate_failed (c, error);
      candidate_unref (c);
      return;
    }

  params = confab_connect_params_new (confab_endpoint_set_get_url (self->endpoints, endpoint_of (self, c->step)),
                                      self->api_key, self->user_id, token);
  if (self->user_details != NULL)
    params->user_details = json_object_ref (self->user_details);

  confab_transport_connect_async (c->transport, params, c->cancellable, connect_cb, c);
}

static void
start_candidate (ConfabConnectionManager *self,
                 guint                    step,
                 gboolean                 refreshed,
                 gboolean                 upgrade)
{
  Candidate *c = g_new0 (Candidate, 1);
  const LadderStep *rung = &ladder[kind_of (self, step)];
  const char *base_url = confab_endpoint_set_get_url (self->endpoints, endpoint_of (self, step));
  g_autofree char *endpoint = NULL;

  g_atomic_ref_count_init (&c->ref_count);
  c->self = self;
  c->step = step;
  c->refreshed = refreshed;
  c->upgrade = upgrade;
  c->cancellable = g_cancellable_new ();
  c->transport = rung->factory ();
  if (rung->kind == CONFAB_TRANSPORT_KIND_WEBSOCKET)
    g_object_set (c->transport,
                  "connect-timeout-ms", MAX (self->websocket_timeout_ms, 1),
                  "idle-probe-ms", MAX (self->websocket_idle_probe_ms, 1),
                  "probe-timeout-ms", MAX (self->websocket_probe_timeout_ms, 1),
                  NULL);

  endpoint = _confab_transport_endpoint_url (base_url,
                                             rung->kind == CONFAB_TRANSPORT_KIND_WEBSOCKET,
                                             rung->kind == CONFAB_TRANSPORT_KIND_WEBSOCKET ? "connect" : "longpoll",
                                             NULL);
  c->attempt = confab_attempt_new (rung->nick, endpoint != NULL ? endpoint : base_url,
                                   confab_clock_wall (self->clock));
  confab_diagnostics_add_attempt (self->diagnostics, c->attempt);

  c->handlers[0] = g_signal_connect (c->transport, "notify::stage", G_CALLBACK (on_transport_stage), c);
  c->handlers[1] = g_signal_connect (c->transport, "event", G_CALLBACK (on_transport_event), c);
  c->handlers[2] = g_signal_connect (c->transport, "lost", G_CALLBACK (on_transport_lost), c);
  c->handlers[3] = g_signal_connect (c->transport, "rtt", G_CALLBACK (on_transport_rtt), c);
  c->handlers[4] = g_signal_connect (c->transport, "probe-lost", G_CALLBACK (on_transport_probe_lost), c);

  if (upgrade)
    self->upgrade = c;
  else
    self->candidates[step] = c;

  note (self, "starting a %s attempt on endpoint %u%s%s", rung->nick, endpoint_of (self, step) + 1,
        refreshed ? " with a refreshed token" : "", upgrade ? " (upgrade probe)" : "");

  /* The token is fetched for every attempt. */
  confab_token_provider_get_token_async (self->token_provider, refreshed, c->cancellable,
                                         token_cb, candidate_ref (c));
}

/* Rounds ------------------------------------------------------------------------------ */

static gboolean
hedge_cb (gpointer user_data)
{
  ConfabConnectionManager *self = user_data;
  g_autofree char *reason = NULL;

  self->hedge_id = 0;
  check_clock_jump (self);
  reason = g_strdup_printf ("WebSocket not usable after %u ms: starting long-poll in parallel",
                            self->hedge_ms);
  for (guint e = 0; e < n_endpoints (self); e++)
    {
      Candidate *ws = self->candidates[step_for (self, WEBSOCKET_KIND, e)];

      if (ws != NULL)
        confab_attempt_set_reason (ws->attempt, reason);
    }
  open_longpoll (self, reason);

  return G_SOURCE_REMOVE;
}

/* Whether a round may start: the monitor says there is a network, or one of the
 * endpoints can be reached without one (loopback, a local route). */
static gboolean
network_available (ConfabConnectionManager *self)
{
  return self->network_monitor == NULL ||
         g_network_monitor_get_network_available (self->network_monitor) ||
         (self->endpoints != NULL &&
          confab_endpoint_set_reachable_offline (self->endpoints, self->network_monitor));
}

static void
start_round (ConfabConnectionManager *self)
{
  confab_clock_clear_timeout (self->clock, &self->retry_id);
  set_next_retry (self, 0);

  if (!network_available (self))
    {
      set_state (self, CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK);
      return;
    }

  cancel_round (self, "superseded by a new round");
  self->round_started = confab_clock_now (self->clock);
  confab_endpoint_set_get_order (self->endpoints, self->order);
  for (guint k = 0; k < N_KINDS; k++)
    self->cursor[k] = 0;
  self->longpoll_open = FALSE;
  set_stage (self, CONFAB_STAGE_IDLE);
  set_state (self, CONFAB_CONNECTION_STATE_CONNECTING);
  if (self->order[0] != 0)
    note (self, "starting with endpoint %u: it worked last time on this network", self->order[0] + 1);

  /* Every WebSocket breaker open: long-poll at once. */
  if (!start_next_of_kind (self, WEBSOCKET_KIND, NULL) && !open_longpoll (self, NULL))
    {
      g_autoptr(GError) error = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_NETWORK,
                                                     "every transport's circuit breaker is open");

      round_failed (self, error);
      return;
    }

  schedule_stagger (self);
  if (!self->longpoll_open && kind_left (self, LONGPOLL_KIND))
    self->hedge_id = confab_clock_add_timeout (self->clock, self->hedge_ms, hedge_cb, self, NULL);
}

static gboolean
retry_cb (gpointer user_data)
{
  ConfabConnectionManager *self = user_data;

  self->retry_id = 0;
  check_clock_jump (self);
  start_round (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_round (ConfabConnectionManager *self,
                guint                    delay_ms)
{
  confab_clock_clear_timeout (self->clock, &self->retry_id);
  self->retry_id = confab_clock_add_timeout (self->clock, MAX (delay_ms, 1), retry_cb, self, NULL);
  set_next_retry (self, confab_clock_wall (self->clock) + (gint64) delay_ms * 1000);
}

static void
round_failed (ConfabConnectionManager *self,
              const GError            *error)
{
  guint delay_ms = confab_backoff_next_delay (self->backoff);
  gint64 earliest = G_MAXINT64;
  gboolean all_open = TRUE;

  cancel_round (self, NULL);
  set_last_error (self, error);
  set_stage (self, CONFAB_STAGE_IDLE);

  for (guint i = 0; i < self->n_steps; i++)
    {
      if (confab_circuit_breaker_get_state (self->breakers[i]) != CONFAB_CIRCUIT_STATE_OPEN)
        all_open = FALSE;
      else
        earliest = MIN (earliest, confab_circuit_breaker_get_retry_at (self->breakers[i]));
    }
  if (all_open && earliest != G_MAXINT64)
    {
      gint64 wait_ms = (earliest - confab_clock_now (self->clock)) / 1000;

      if (wait_ms > delay_ms)
        delay_ms = (guint) MIN (wait_ms, (gint64) G_MAXUINT);
    }
  delay_ms = MAX (delay_ms, rate_limit_wait_ms (self));

  note (self, "round failed: retrying in %u ms", delay_ms);
  set_state (self, CONFAB_CONNECTION_STATE_RECONNECTING);
  schedule_round (self, delay_ms);
}

/* Ends every wait with @error (G_IO_ERROR_CANCELLED on disconnect). */
static void
resolve_waiters (ConfabConnectionManager *self,
                 const GError            *error)
{
  _confab_waiters_resolve (self->waiters, error);
}

/* Stops everything; the session (user, REST client) stays unless @forget. */
static void
stop_all (ConfabConnectionManager *self)
{
  cancel_round (self, "disconnected");
  confab_clock_clear_timeout (self->clock, &self->retry_id);
  confab_clock_clear_timeout (self->clock, &self->resume_id);
  stop_connection_work (self, "disconnected");
  confab_watermark_flush (self->watermark);
  if (self->active != NULL)
    {
      Candidate *c = g_steal_pointer (&self->active);

      candidate_abandon (c, NULL, NULL);
    }
  if (self->rest != NULL)
    confab_stream_client_set_connection_id (self->rest, NULL);

  g_object_freeze_notify (G_OBJECT (self));
  set_next_retry (self, 0);
  set_stage (self, CONFAB_STAGE_IDLE);
  set_transport_nick (self, NULL);
  set_string (self, &self->endpoint, NULL, PROP_ENDPOINT);
  set_string (self, &self->connection_id, NULL, PROP_CONNECTION_ID);
  confab_quality_meter_reset (self->meter);
  sync_quality (self);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
fail_session (ConfabConnectionManager *self,
              const GError            *error)
{
  note (self, "giving up: %s", error->message);
  stop_all (self);
  set_last_error (self, error);
  set_state (self, CONFAB_CONNECTION_STATE_FAILED);
  resolve_waiters (self, error);
}

/* Catch-up ----------------------------------------------------------------------------- */

static gboolean
stable_cb (gpointer user_data)
{
  ConfabConnectionManager *self = user_data;

  self->stable_id = 0;
  check_clock_jump (self);
  note (self, "usable for %u s: backoff reset", CONFAB_CONNECTION_MANAGER_STABLE_MS / 1000);
  confab_backoff_reset (self->backoff);

  return G_SOURCE_REMOVE;
}

static gboolean
upgrade_cb (gpointer user_data)
{
  ConfabConnectionManager *self = user_data;
  guint ws_step;

  self->upgrade_id = 0;
  check_clock_jump (self);
  if (self->upgrade != NULL || self->active == NULL || kind_of (self, self->active->step) == WEBSOCKET_KIND)
    return G_SOURCE_REMOVE;

  /* WebSocket to the endpoint the long-poll works on. */
  ws_step = step_for (self, WEBSOCKET_KIND, endpoint_of (self, self->active->step));
  if (!confab_circuit_breaker_allow (self->breakers[ws_step]))
    {
      update_breakers (self);
      schedule_upgrade (self);
      return G_SOURCE_REMOVE;
    }

  start_candidate (self, ws_step, FALSE, TRUE);

  return G_SOURCE_REMOVE;
}

static void
schedule_upgrade (ConfabConnectionManager *self)
{
  guint interval = self->upgrade_interval_ms;

  confab_clock_clear_timeout (self->clock, &self->upgrade_id);
  if (self->active == NULL || kind_of (self, self->active->step) == WEBSOCKET_KIND)
    return;

  self->upgrade_interval_ms = MIN (interval * 2, CONFAB_CONNECTION_MANAGER_UPGRADE_PROBE_MAX_MS);
  interval = MAX (interval, rate_limit_wait_ms (self));
  self->upgrade_id = confab_clock_add_timeout (self->clock, interval, upgrade_cb, self, NULL);
}

static void
drop_catch_up (ConfabConnectionManager *self)
{
  if (self->catch_up_run == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->catch_up_run, self);
  g_clear_object (&self->catch_up_run);
}

static void
catch_up_failed (ConfabConnectionManager *self,
                 ConfabCatchUp           *run,
                 const GError            *error)
{
  note (self, "catch-up failed: %s", error->message);
  if (confab_error_classify (error) == CONFAB_ERROR_RATE_LIMITED)
    note_rate_limit (self, confab_stream_client_get_retry_at (confab_catch_up_get_client (run)));
  if (self->active != NULL)
    confab_attempt_set_reason (self->active->attempt, "catch-up failed: reconnecting");
  connection_lost (self, error);
}

/* Delivers the live events held during catch-up; FALSE if a handler ended it. */
static gboolean
release_held (ConfabConnectionManager *self,
              GCancellable            *cancellable)
{
  g_autoptr(GPtrArray) held = g_steal_pointer (&self->held);

  self->held = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  self->holding = FALSE;
  if (held->len > 0)
    note (self, "catch-up: delivering %u events that arrived meanwhile", held->len);
  for (guint i = 0; i < held->len; i++)
    {
      handle_event (self, g_ptr_array_index (held, i));
      if (g_cancellable_is_cancelled (cancellable))
        return FALSE;
    }
  return TRUE;
}

static void
catch_up_done (ConfabConnectionManager *self)
{
  g_autoptr(GCancellable) cancellable = g_object_ref (self->catch_up);
  Candidate *c = self->active;

  if (!release_held (self, cancellable))
    return;

  if (self->previous != NULL)
    {
      Candidate *previous = g_steal_pointer (&self->previous);

      note (self, "closing %s after moving to %s", nick_of (self, previous->step), nick_of (self, c->step));
      candidate_abandon (previous, NULL, NULL);
    }

  if (confab_watermark_get_value (self->watermark) == 0)
    confab_watermark_advance (self->watermark, confab_clock_wall (self->clock));

  confab_attempt_mark_stage (c->attempt, CONFAB_ATTEMPT_STAGE_READY, confab_clock_wall (self->clock));
  confab_attempt_finish_at (c->attempt, confab_clock_wall (self->clock), NULL, NULL);
  set_last_error (self, NULL);
  set_stage (self, CONFAB_STAGE_READY);
  set_state (self, CONFAB_CONNECTION_STATE_CONNECTED);

  confab_clock_clear_timeout (self->clock, &self->stable_id);
  self->stable_id = confab_clock_add_timeout (self->clock, CONFAB_CONNECTION_MANAGER_STABLE_MS,
                                              stable_cb, self, NULL);
  if (kind_of (self, c->step) != WEBSOCKET_KIND && self->upgrade_id == 0 && self->upgrade == NULL)
    {
      self->upgrade_interval_ms = CONFAB_CONNECTION_MANAGER_UPGRADE_PROBE_MIN_MS;
      schedule_upgrade (self);
    }

  resolve_waiters (self, NULL);
  pump_outbox (self);
}

static void
on_catch_up_event (ConfabCatchUp           *run,
                   JsonObject              *event,
                   ConfabConnectionManager *self)
{
  handle_event (self, event);
}

/* The first REST round trip is a quality sample too (the only one on long-poll). */
static void
on_catch_up_rest_rtt (ConfabCatchUp           *run,
                      guint                    rtt_ms,
                      ConfabConnectionManager *self)
{
  confab_quality_meter_add_rtt (self->meter, rtt_ms);
  sync_quality (self);
}

/* The run may end after the manager is gone (a cancelled REST call still answers), so
 * it holds a weak reference. */
static void
catch_up_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr(ConfabConnectionManager) self = g_weak_ref_get (weak);
  ConfabCatchUp *run = CONFAB_CATCH_UP (source);
  g_autoptr(GError) error = NULL;
  gboolean ok = confab_catch_up_run_finish (run, result, &error);

  g_weak_ref_clear (weak);
  g_free (weak);

  /* Superseded or stopped: nothing to do. */
  if (self == NULL || run != self->catch_up_run ||
      g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    return;

  /* It holds the REST client, and with it a connection. */
  drop_catch_up (self);
  if (ok)
    catch_up_done (self);
  else
    catch_up_failed (self, run, error);
}

/* REST calls (catch-up, the outbox, the app's) go to the endpoint that won. */
static void
follow_endpoint (ConfabConnectionManager *self,
                 guint                    endpoint)
{
  const char *url = confab_endpoint_set_get_url (self->endpoints, endpoint);
  g_autoptr(GError) error = NULL;
  ConfabStreamClient *rest;

  if (self->rest == NULL ||
      confab_endpoint_set_find (self->endpoints, confab_stream_client_get_base_url (self->rest)) == (int) endpoint)
    return;

  rest = confab_stream_client_new (url, self->api_key, self->user_id, self->token_provider, &error);
  if (rest == NULL)
    {
      /* Cannot happen: the set checked every URL. */
      note (self, "REST stays where it was: %s", error->message);
      return;
    }
  confab_stream_client_set_timeout_ms (rest, confab_stream_client_get_timeout_ms (self->rest));
  note (self, "REST calls now go to endpoint %u", endpoint + 1);
  set_rest (self, rest);
}

static void
begin_catch_up (ConfabConnectionManager *self)
{
  Candidate *c = self->active;
  GWeakRef *weak = g_new0 (GWeakRef, 1);

  follow_endpoint (self, endpoint_of (self, c->step));

  if (kind_of (self, c->step) != WEBSOCKET_KIND)
    confab_quality_meter_set_ceiling (self->meter, CONFAB_QUALITY_GOOD);
  else
    confab_quality_meter_set_ceiling (self->meter, CONFAB_QUALITY_EXCELLENT);

  g_object_freeze_notify (G_OBJECT (self));
  set_transport_nick (self, nick_of (self, c->step));
  set_string (self, &self->endpoint, confab_transport_get_endpoint (c->transport), PROP_ENDPOINT);
  set_string (self, &self->connection_id, confab_transport_get_connection_id (c->transport), PROP_CONNECTION_ID);
  set_stage (self, CONFAB_STAGE_SYNCING);
  set_state (self, CONFAB_CONNECTION_STATE_UPDATING);
  g_object_thaw_notify (G_OBJECT (self));
  sync_quality (self);

  confab_stream_client_set_connection_id (self->rest, self->connection_id);
  g_cancellable_cancel (self->catch_up);
  g_clear_object (&self->catch_up);
  self->catch_up = g_cancellable_new ();
  /* Live events from now on wait for the missed ones. */
  self->holding = TRUE;

  drop_catch_up (self);
  self->catch_up_run = confab_catch_up_new (self->rest, confab_watermark_get_value (self->watermark),
                                            self->clock, self->diagnostics);
  g_signal_connect (self->catch_up_run, "event", G_CALLBACK (on_catch_up_event), self);
  g_signal_connect (self->catch_up_run, "rest-rtt", G_CALLBACK (on_catch_up_rest_rtt), self);
  g_weak_ref_init (weak, self);
  confab_catch_up_run_async (self->catch_up_run, self->catch_up, catch_up_cb, weak);
}

/* Outbox ------------------------------------------------------------------------------- */

static void
pump_outbox (ConfabConnectionManager *self)
{
  if (self->pump != NULL)
    confab_outbox_pump_kick (self->pump);
}

static void
on_pump_sent (ConfabOutboxPump        *pump,
              ConfabOutboxItem        *item,
              ConfabConnectionManager *self)
{
  if (self->last_error != NULL && confab_error_classify (self->last_error) == CONFAB_ERROR_RATE_LIMITED &&
      self->state == CONFAB_CONNECTION_STATE_CONNECTED)
    set_last_error (self, NULL);
}

/* A rate-limited send holds every send and round, as any other rate limit does. */
static void
on_pump_rate_limited (ConfabOutboxPump        *pump,
                      const GError            *error,
                      gint64                   retry_at,
                      ConfabConnectionManager *self)
{
  note_rate_limit (self, retry_at);
  set_last_error (self, error);
}

/* next-retry shows a scheduled resend too. */
static void
on_pump_next_retry (ConfabOutboxPump        *pump,
                    GParamSpec              *pspec,
                    ConfabConnectionManager *self)
{
  set_next_retry (self, confab_outbox_pump_get_next_retry (pump));
}

/* Network ------------------------------------------------------------------------------ */

static gboolean
probe_timeout_cb (gpointer user_data)
{
  ConfabConnectionManager *self = user_data;
  g_autoptr(GError) error = NULL;

  self->probe_id = 0;
  check_clock_jump (self);
  /* The transport counted the probe as lost itself ("probe-lost"). */
  error = g_error_new (CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST,
                       "no answer to a probe within %u ms after a network change or a resume",
                       CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS);
  if (self->active != NULL)
    connection_lost (self, error);

  return G_SOURCE_REMOVE;
}

static void
immediate_round (ConfabConnectionManager *self,
                 const char              *why)
{
  gint64 now = confab_clock_now (self->clock);
  gint64 gap = now - self->last_immediate;
  guint wait_ms = rate_limit_wait_ms (self);

  if (wait_ms > 0)
    {
      note (self, "%s: rate limited, next round in %u ms", why, wait_ms);
      schedule_round (self, wait_ms);
      set_state (self, CONFAB_CONNECTION_STATE_RECONNECTING);
      return;
    }
  if (self->last_immediate != 0 && gap < IMMEDIATE_ROUND_GAP_US)
    {
      note (self, "%s: next round in %" G_GINT64_FORMAT " ms (one immediate round per second)",
            why, (IMMEDIATE_ROUND_GAP_US - gap) / 1000);
      schedule_round (self, (guint) ((IMMEDIATE_ROUND_GAP_US - gap) / 1000));
      set_state (self, CONFAB_CONNECTION_STATE_RECONNECTING);
      return;
    }

  note (self, "%s: starting a round now", why);
  self->last_immediate = now;
  start_round (self);
}

/* Something says the link may have changed (network up, a resume): the breakers'
 * failures describe the old situation; a connection is probed at once, a waiting round
 * starts now. */
static void
wake_up (ConfabConnectionManager *self,
         const char              *why)
{
  for (guint i = 0; i < self->n_steps; i++)
    confab_circuit_breaker_reset (self->breakers[i]);
  update_breakers (self);

  switch (self->state)
    {
    case CONFAB_CONNECTION_STATE_CONNECTED:
    case CONFAB_CONNECTION_STATE_UPDATING:
      if (self->active != NULL && self->probe_id == 0 && confab_transport_probe (self->active->transport))
        {
          note (self, "%s: probing the connection", why);
          self->probe_id = confab_clock_add_timeout (self->clock, CONFAB_CONNECTION_MANAGER_PROBE_DEADLINE_MS,
                                                     probe_timeout_cb, self, NULL);
        }
      if (self->active != NULL && kind_of (self, self->active->step) != WEBSOCKET_KIND &&
          self->upgrade == NULL)
        {
          self->upgrade_interval_ms = CONFAB_CONNECTION_MANAGER_UPGRADE_PROBE_MIN_MS;
          confab_clock_clear_timeout (self->clock, &self->upgrade_id);
          upgrade_cb (self);
        }
      break;
    case CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK:
    case CONFAB_CONNECTION_STATE_RECONNECTING:
      immediate_round (self, why);
      break;
    case CONFAB_CONNECTION_STATE_IDLE:
    case CONFAB_CONNECTION_STATE_CONNECTING:
    case CONFAB_CONNECTION_STATE_LIMITED:
    case CONFAB_CONNECTION_STATE_FAILED:
    default:
      break;
    }
}

static void
on_network_changed (GNetworkMonitor *monitor,
                    gboolean         available,
                    gpointer         user_data)
{
  ConfabConnectionManager *self = user_data;

  /* What worked describes the network we were on. */
  if (self->endpoints != NULL)
    confab_endpoint_set_network_changed (self->endpoints);

  if (self->user_id == NULL || self->state == CONFAB_CONNECTION_STATE_IDLE ||
      self->state == CONFAB_CONNECTION_STATE_FAILED)
    return;

  check_clock_jump (self);
  note (self, "network changed (available: %s)", available ? "yes" : "no");
  confab_diagnostics_set_fact (self->diagnostics, "network available", available ? "yes" : "no");

  /* No default route does not stop a server that can be reached anyway (loopback, a
   * local route): that is a change like any other. */
  if (!available && !network_available (self))
    {
      stop_all (self);
      set_state (self, CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK);
      return;
    }

  wake_up (self, "network available");
}

/* Suspend and resume --------------------------------------------------------------------- */

static gboolean
resume_cb (gpointer user_data)
{
  ConfabConnectionManager *self = user_data;

  self->resume_id = 0;
  confab_connection_manager_notify_resumed (self);
  return G_SOURCE_REMOVE;
}

/* Called wherever the manager wakes up anyway: the monotonic clock stops during a
 * suspend and the wall clock does not, so a wall clock that ran far ahead since the last
 * wake-up means the machine slept (no logind needed). Handled from a fresh timeout, not
 * in the middle of whatever woke us. */
static void
check_clock_jump (ConfabConnectionManager *self)
{
  gint64 wall = confab_clock_wall (self->clock);
  gint64 now = confab_clock_now (self->clock);
  gint64 gap = (wall - self->awake_wall) - (now - self->awake_now);

  if (self->awake_known && self->resume_id == 0 &&
      gap > (gint64) CONFAB_CONNECTION_MANAGER_SUSPEND_GAP_MS * 1000)
    {
      note (self, "the wall clock ran %" G_GINT64_FORMAT " s ahead of the monotonic one: resumed from a suspend",
            gap / G_USEC_PER_SEC);
      self->resume_id = confab_clock_add_timeout (self->clock, 0, resume_cb, self, NULL);
    }
  self->awake_wall = wall;
  self->awake_now = now;
  self->awake_known = TRUE;
}

static void
on_sleep_monitor_resumed (ConfabSleepMonitor      *monitor,
                          ConfabConnectionManager *self)
{
  confab_connection_manager_notify_resumed (self);
}

/* GObject ------------------------------------------------------------------------------ */

/* The endpoint set: an injected one, or base-url followed by endpoints. A bad list is
 * kept as endpoints_error, which connect_async() reports. Then a breaker per endpoint ×
 * transport, named from scheme://host:port only. */
static void
setup_endpoints (ConfabConnectionManager *self)
{
  if (self->endpoints == NULL)
    {
      g_autoptr(GPtrArray) urls = g_ptr_array_new ();

      if (self->base_url != NULL)
        g_ptr_array_add (urls, self->base_url);
      for (guint i = 0; self->endpoint_urls != NULL && self->endpoint_urls[i] != NULL; i++)
        g_ptr_array_add (urls, self->endpoint_urls[i]);
      g_ptr_array_add (urls, NULL);
      if (urls->len > 1)
        self->endpoints = confab_endpoint_set_new ((const char *const *) urls->pdata, &self->endpoints_error);
      if (self->endpoints == NULL)
        return;
    }

  if (self->base_url == NULL)
    self->base_url = g_strdup (confab_endpoint_set_get_url (self->endpoints, 0));
  if (self->state_dir != NULL)
    {
      g_autofree char *path = g_build_filename (self->state_dir, CONFAB_ENDPOINT_SET_MEMORY_FILE, NULL);

      confab_endpoint_set_set_memory_path (self->endpoints, path);
    }
  confab_endpoint_set_update_network (self->endpoints);

  self->n_steps = N_KINDS * confab_endpoint_set_get_n_endpoints (self->endpoints);
  self->breakers = g_new0 (ConfabCircuitBreaker *, self->n_steps);
  self->candidates = g_new0 (Candidate *, self->n_steps);
  self->order = g_new0 (guint, confab_endpoint_set_get_n_endpoints (self->endpoints));
  for (guint i = 0; i < self->n_steps; i++)
    {
      g_autofree char *label = confab_endpoint_set_dup_label (self->endpoints, endpoint_of (self, i));
      g_autofree char *name = g_strdup_printf ("%s %s", nick_of (self, i), label);

      self->breakers[i] = confab_circuit_breaker_new (name, self->clock);
      confab_circuit_breaker_set_max_open_ms (self->breakers[i], 60000);
    }
  update_breakers (self);
}

static void
confab_connection_manager_constructed (GObject *object)
{
  ConfabConnectionManager *self = CONFAB_CONNECTION_MANAGER (object);
  g_autofree char *path = NULL;

  G_OBJECT_CLASS (confab_connection_manager_parent_class)->constructed (object);

  if (self->clock == NULL)
    self->clock = CONFAB_CLOCK (confab_system_clock_new ());
  if (self->diagnostics == NULL)
    self->diagnostics = confab_diagnostics_new (NULL);
  if (self->network_monitor == NULL)
    self->network_monitor = g_object_ref (g_network_monitor_get_default ());

  setup_endpoints (self);

  if (self->state_dir != NULL)
    path = g_build_filename (self->state_dir, CONFAB_WATERMARK_FILE, NULL);
  self->watermark = confab_watermark_new (path, self->clock);

  if (self->outbox != NULL)
    {
      self->pump = confab_outbox_pump_new (self->outbox, self->clock, self->diagnostics);
      g_signal_connect (self->pump, "sent", G_CALLBACK (on_pump_sent), self);
      g_signal_connect (self->pump, "rate-limited", G_CALLBACK (on_pump_rate_limited), self);
      g_signal_connect (self->pump, "notify::next-retry", G_CALLBACK (on_pump_next_retry), self);
    }
  self->network_handler = g_signal_connect (self->network_monitor, "network-changed",
                                            G_CALLBACK (on_network_changed), self);
  if (self->sleep_monitor == NULL)
    self->sleep_monitor = confab_sleep_monitor_new (NULL);
  self->sleep_handler = g_signal_connect (self->sleep_monitor, "resumed",
                                          G_CALLBACK (on_sleep_monitor_resumed), self);
}

static void
confab_connection_manager_dispose (GObject *object)
{
  ConfabConnectionManager *self = CONFAB_CONNECTION_MANAGER (object);

  if (self->clock != NULL)
    stop_all (self);
  if (self->waiters != NULL && _confab_waiters_get_n (self->waiters) > 0)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                     "the connection manager was destroyed");

      resolve_waiters (self, error);
    }
  g_clear_signal_handler (&self->network_handler, self->network_monitor);
  g_clear_object (&self->network_monitor);
  if (self->pump != NULL)
    {
      /* A send in flight keeps the pump until it ends (cancelled): nothing more to do. */
      g_signal_handlers_disconnect_by_data (self->pump, self);
      confab_outbox_pump_set_active (self->pump, FALSE);
      g_clear_object (&self->pump);
    }
  drop_catch_up (self);
  if (self->sleep_monitor != NULL)
    g_clear_signal_handler (&self->sleep_handler, self->sleep_monitor);
  g_clear_object (&self->sleep_monitor);
  for (guint i = 0; i < self->n_steps && self->breakers != NULL; i++)
    g_clear_object (&self->breakers[i]);
  g_clear_object (&self->endpoints);
  g_clear_object (&self->catch_up);
  g_clear_object (&self->watermark);
  g_clear_object (&self->rest);
  g_clear_object (&self->token_provider);
  g_clear_object (&self->outbox);
  g_clear_object (&self->diagnostics);
  g_clear_object (&self->backoff);
  g_clear_object (&self->meter);
  g_clear_object (&self->clock);
  g_clear_pointer (&self->user_details, json_object_unref);

  G_OBJECT_CLASS (confab_connection_manager_parent_class)->dispose (object);
}

static void
confab_connection_manager_finalize (GObject *object)
{
  ConfabConnectionManager *self = CONFAB_CONNECTION_MANAGER (object);

  g_free (self->base_url);
  g_strfreev (self->endpoint_urls);
  g_clear_error (&self->endpoints_error);
  g_free (self->breakers);
  g_free (self->candidates);
  g_free (self->order);
  g_free (self->api_key);
  g_free (self->state_dir);
  g_free (self->endpoint);
  g_free (self->connection_id);
  g_free (self->user_id);
  g_clear_error (&self->last_error);
  g_clear_pointer (&self->waiters, _confab_waiters_free);
  g_clear_pointer (&self->held, g_ptr_array_unref);
  g_clear_pointer (&self->seen, confab_seen_ids_free);

  G_OBJECT_CLASS (confab_connection_manager_parent_class)->finalize (object);
}

static void
confab_connection_manager_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  ConfabConnectionManager *self = CONFAB_CONNECTION_MANAGER (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_STAGE:
      g_value_set_enum (value, self->stage);
      break;
    case PROP_TRANSPORT:
      g_value_set_string (value, self->transport_nick);
      break;
    case PROP_ENDPOINT:
      g_value_set_string (value, self->endpoint);
      break;
    case PROP_QUALITY:
      g_value_set_enum (value, self->quality);
      break;
    case PROP_RTT_MS:
      g_value_set_int (value, self->rtt_ms);
      break;
    case PROP_LOSS:
      g_value_set_double (value, self->loss);
      break;
    case PROP_LAST_ERROR:
      g_value_set_boxed (value, self->last_error);
      break;
    case PROP_NEXT_RETRY:
      g_value_set_int64 (value, self->next_retry);
      break;
    case PROP_CONNECTION_ID:
      g_value_set_string (value, self->connection_id);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, self->user_id);
      break;
    case PROP_BASE_URL:
      g_value_set_string (value, self->base_url);
      break;
    case PROP_API_KEY:
      g_value_set_string (value, self->api_key);
      break;
    case PROP_TOKEN_PROVIDER:
      g_value_set_object (value, self->token_provider);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_OUTBOX:
      g_value_set_object (value, self->outbox);
      break;
    case PROP_DIAGNOSTICS:
      g_value_set_object (value, self->diagnostics);
      break;
    case PROP_NETWORK_MONITOR:
      g_value_set_object (value, self->network_monitor);
      break;
    case PROP_STATE_DIR:
      g_value_set_string (value, self->state_dir);
      break;
    case PROP_HEDGE_MS:
      g_value_set_uint (value, self->hedge_ms);
      break;
    case PROP_WEBSOCKET_TIMEOUT_MS:
      g_value_set_uint (value, self->websocket_timeout_ms);
      break;
    case PROP_WEBSOCKET_IDLE_PROBE_MS:
      g_value_set_uint (value, self->websocket_idle_probe_ms);
      break;
    case PROP_WEBSOCKET_PROBE_TIMEOUT_MS:
      g_value_set_uint (value, self->websocket_probe_timeout_ms);
      break;
    case PROP_SLEEP_MONITOR:
      g_value_set_object (value, self->sleep_monitor);
      break;
    case PROP_ENDPOINTS:
      g_value_set_boxed (value, self->endpoint_urls);
      break;
    case PROP_ENDPOINT_SET:
      g_value_set_object (value, self->endpoints);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_connection_manager_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  ConfabConnectionManager *self = CONFAB_CONNECTION_MANAGER (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      self->base_url = g_value_dup_string (value);
      break;
    case PROP_API_KEY:
      self->api_key = g_value_dup_string (value);
      break;
    case PROP_TOKEN_PROVIDER:
      self->token_provider = g_value_dup_object (value);
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    case PROP_OUTBOX:
      self->outbox = g_value_dup_object (value);
      break;
    case PROP_DIAGNOSTICS:
      self->diagnostics = g_value_dup_object (value);
      break;
    case PROP_NETWORK_MONITOR:
      self->network_monitor = g_value_dup_object (value);
      break;
    case PROP_STATE_DIR:
      self->state_dir = g_value_dup_string (value);
      break;
    case PROP_HEDGE_MS:
      self->hedge_ms = g_value_get_uint (value);
      break;
    case PROP_WEBSOCKET_TIMEOUT_MS:
      self->websocket_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_WEBSOCKET_IDLE_PROBE_MS:
      self->websocket_idle_probe_ms = g_value_get_uint (value);
      break;
    case PROP_WEBSOCKET_PROBE_TIMEOUT_MS:
      self->websocket_probe_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_SLEEP_MONITOR:
      self->sleep_monitor = g_value_dup_object (value);
      break;
    case PROP_ENDPOINTS:
      self->endpoint_urls = g_value_dup_boxed (value);
      break;
    case PROP_ENDPOINT_SET:
      self->endpoints = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_connection_manager_class_init (ConfabConnectionManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_connection_manager_constructed;
  object_class->dispose = confab_connection_manager_dispose;
  object_class->finalize = confab_connection_manager_finalize;
  object_class->get_property = confab_connection_manager_get_property;
  object_class->set_property = confab_connection_manager_set_property;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, CONFAB_TYPE_CONNECTION_STATE,
                       CONFAB_CONNECTION_STATE_IDLE, ro);
  properties[PROP_STAGE] =
    g_param_spec_enum ("stage", NULL, NULL, CONFAB_TYPE_STAGE, CONFAB_STAGE_IDLE, ro);
  properties[PROP_TRANSPORT] =
    g_param_spec_string ("transport", NULL, NULL, NULL, ro);
  properties[PROP_ENDPOINT] =
    g_param_spec_string ("endpoint", NULL, NULL, NULL, ro);
  properties[PROP_QUALITY] =
    g_param_spec_enum ("quality", NULL, NULL, CONFAB_TYPE_QUALITY, CONFAB_QUALITY_UNKNOWN, ro);
  properties[PROP_RTT_MS] =
    g_param_spec_int ("rtt-ms", NULL, NULL, -1, G_MAXINT, -1, ro);
  properties[PROP_LOSS] =
    g_param_spec_double ("loss", NULL, NULL, 0, 1, 0, ro);
  properties[PROP_LAST_ERROR] =
    g_param_spec_boxed ("last-error", NULL, NULL, G_TYPE_ERROR, ro);
  properties[PROP_NEXT_RETRY] =
    g_param_spec_int64 ("next-retry", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_CONNECTION_ID] =
    g_param_spec_string ("connection-id", NULL, NULL, NULL, ro);
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL, ro);
  properties[PROP_BASE_URL] =
    g_param_spec_string ("base-url", NULL, NULL, NULL, co);
  properties[PROP_API_KEY] =
    g_param_spec_string ("api-key", NULL, NULL, NULL, co);
  properties[PROP_TOKEN_PROVIDER] =
    g_param_spec_object ("token-provider", NULL, NULL, CONFAB_TYPE_TOKEN_PROVIDER, co);
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, CONFAB_TYPE_CLOCK, co);
  properties[PROP_OUTBOX] =
    g_param_spec_object ("outbox", NULL, NULL, CONFAB_TYPE_OUTBOX, co);
  properties[PROP_DIAGNOSTICS] =
    g_param_spec_object ("diagnostics", NULL, NULL, CONFAB_TYPE_DIAGNOSTICS, co);
  properties[PROP_NETWORK_MONITOR] =
    g_param_spec_object ("network-monitor", NULL, NULL, G_TYPE_NETWORK_MONITOR, co);
  properties[PROP_STATE_DIR] =
    g_param_spec_string ("state-dir", NULL, NULL, NULL, co);
  properties[PROP_HEDGE_MS] =
    g_param_spec_uint ("hedge-ms", NULL, NULL, 1, 600000,
                       CONFAB_CONNECTION_MANAGER_DEFAULT_HEDGE_MS, co);
  properties[PROP_WEBSOCKET_TIMEOUT_MS] =
    g_param_spec_uint ("websocket-timeout-ms", NULL, NULL, 1, 600000,
                       CONFAB_CONNECTION_MANAGER_DEFAULT_WEBSOCKET_TIMEOUT_MS, co);

  properties[PROP_WEBSOCKET_IDLE_PROBE_MS] =
    g_param_spec_uint ("websocket-idle-probe-ms", NULL, NULL, 1, 600000,
                       CONFAB_WEBSOCKET_DEFAULT_IDLE_PROBE_MS, co);
  properties[PROP_WEBSOCKET_PROBE_TIMEOUT_MS] =
    g_param_spec_uint ("websocket-probe-timeout-ms", NULL, NULL, 1, 600000,
                       CONFAB_WEBSOCKET_DEFAULT_PROBE_TIMEOUT_MS, co);
  properties[PROP_SLEEP_MONITOR] =
    g_param_spec_object ("sleep-monitor", NULL, NULL, CONFAB_TYPE_SLEEP_MONITOR, co);
  properties[PROP_ENDPOINTS] =
    g_param_spec_boxed ("endpoints", NULL, NULL, G_TYPE_STRV, co);
  properties[PROP_ENDPOINT_SET] =
    g_param_spec_object ("endpoint-set", NULL, NULL, CONFAB_TYPE_ENDPOINT_SET, co);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
  signals[SIGNAL_MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
}

static void
confab_connection_manager_init (ConfabConnectionManager *self)
{
  self->waiters = _confab_waiters_new ();
  self->backoff = confab_backoff_new ();
  self->held = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  self->meter = confab_quality_meter_new ();
  self->seen = confab_seen_ids_new (CONFAB_SEEN_IDS_DEFAULT_CAPACITY);
  self->rtt_ms = -1;
  self->hedge_ms = CONFAB_CONNECTION_MANAGER_DEFAULT_HEDGE_MS;
  self->websocket_timeout_ms = CONFAB_CONNECTION_MANAGER_DEFAULT_WEBSOCKET_TIMEOUT_MS;
  self->websocket_idle_probe_ms = CONFAB_WEBSOCKET_DEFAULT_IDLE_PROBE_MS;
  self->websocket_probe_timeout_ms = CONFAB_WEBSOCKET_DEFAULT_PROBE_TIMEOUT_MS;
  self->upgrade_interval_ms = CONFAB_CONNECTION_MANAGER_UPGRADE_PROBE_MIN_MS;
}

/* Public API ----------------------------------------------------------------------------- */

ConfabConnectionManager *
confab_connection_manager_new (const char          *base_url,
                               const char          *api_key,
                               ConfabTokenProvider *token_provider)
{
  g_return_val_if_fail (base_url != NULL, NULL);
  g_return_val_if_fail (api_key != NULL, NULL);
  g_return_val_if_fail (CONFAB_IS_TOKEN_PROVIDER (token_provider), NULL);

  return g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                       "base-url", base_url,
                       "api-key", api_key,
                       "token-provider", token_provider,
                       NULL);
}

void
confab_connection_manager_connect_async (ConfabConnectionManager *self,
                                         const char              *user_id,
                                         JsonObject              *user_details,
                                         GCancellable            *cancellable,
                                         GAsyncReadyCallback      callback,
                                         gpointer                 user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  gboolean session_open;

  g_return_if_fail (CONFAB_IS_CONNECTION_MANAGER (self));
  g_return_if_fail (user_id != NULL && *user_id != '\0');

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_connection_manager_connect_async);

  if (self->endpoints_error != NULL)
    {
      set_last_error (self, self->endpoints_error);
      set_state (self, CONFAB_CONNECTION_STATE_FAILED);
      g_task_return_error (task, g_error_copy (self->endpoints_error));
      return;
    }

  if (self->endpoints == NULL || self->api_key == NULL || self->token_provider == NULL)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_FAILED,
                               "the connection manager needs base-url, api-key and token-provider");
      return;
    }

  session_open = self->user_id != NULL && self->state != CONFAB_CONNECTION_STATE_IDLE &&
                 self->state != CONFAB_CONNECTION_STATE_FAILED;

  if (session_open && g_strcmp0 (self->user_id, user_id) != 0)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_BUSY,
                               "another user's connection is in progress; disconnect first");
      return;
    }

  if (session_open && self->state == CONFAB_CONNECTION_STATE_CONNECTED)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  if (session_open)
    {
      note (self, "connect joins the one in progress");
      _confab_waiters_add (self->waiters, g_steal_pointer (&task));
      return;
    }

  /* A new session. */
  set_rest (self, confab_stream_client_new (confab_endpoint_set_get_url (self->endpoints,
                                                                         confab_endpoint_set_get_preferred (self->endpoints)),
                                             self->api_key, user_id,
                                             self->token_provider, &error));
  if (self->rest == NULL)
    {
      set_last_error (self, error);
      set_state (self, CONFAB_CONNECTION_STATE_FAILED);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  set_string (self, &self->user_id, user_id, PROP_USER_ID);
  g_clear_pointer (&self->user_details, json_object_unref);
  if (user_details != NULL)
    self->user_details = json_object_ref (user_details);
  set_last_error (self, NULL);
  confab_backoff_reset (self->backoff);
  self->rate_limited_until = 0;
  if (self->pump != NULL)
    {
      confab_outbox_pump_reset_backoff (self->pump);
      confab_outbox_pump_set_not_before (self->pump, 0);
    }
  for (guint i = 0; i < self->n_steps; i++)
    confab_circuit_breaker_reset (self->breakers[i]);
  check_clock_jump (self);
  confab_diagnostics_set_identity (self->diagnostics, user_id, NULL, NULL, NULL);

  _confab_waiters_add (self->waiters, g_steal_pointer (&task));
  start_round (self);
}

gboolean
confab_connection_manager_connect_finish (ConfabConnectionManager *self,
                                          GAsyncResult            *result,
                                          GError                 **error)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == confab_connection_manager_connect_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
confab_connection_manager_disconnect (ConfabConnectionManager *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (CONFAB_IS_CONNECTION_MANAGER (self));

  note (self, "disconnect");
  stop_all (self);
  set_state (self, CONFAB_CONNECTION_STATE_IDLE);
  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "disconnected");
  resolve_waiters (self, error);
  set_string (self, &self->user_id, NULL, PROP_USER_ID);
  set_rest (self, NULL);
}

void
confab_connection_manager_retry_now (ConfabConnectionManager *self)
{
  g_return_if_fail (CONFAB_IS_CONNECTION_MANAGER (self));

  if (self->user_id == NULL)
    return;

  switch (self->state)
    {
    case CONFAB_CONNECTION_STATE_RECONNECTING:
    case CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK:
    case CONFAB_CONNECTION_STATE_FAILED:
      /* The user asked: each open breaker gets its one trial now, not at retry-at
       * (the one-immediate-round-per-second floor and a rate limit still hold). */
      for (guint i = 0; i < self->n_steps; i++)
        if (confab_circuit_breaker_allow_trial (self->breakers[i]))
          note (self, "retry now: %s may try once before its breaker's time (endpoint %u)",
                nick_of (self, i), endpoint_of (self, i) + 1);
      update_breakers (self);
      immediate_round (self, "retry now");
      break;
    case CONFAB_CONNECTION_STATE_IDLE:
    case CONFAB_CONNECTION_STATE_CONNECTING:
    case CONFAB_CONNECTION_STATE_UPDATING:
    case CONFAB_CONNECTION_STATE_CONNECTED:
    case CONFAB_CONNECTION_STATE_LIMITED:
    default:
      break;
    }
}

void
confab_connection_manager_notify_resumed (ConfabConnectionManager *self)
{
  g_return_if_fail (CONFAB_IS_CONNECTION_MANAGER (self));

  confab_clock_clear_timeout (self->clock, &self->resume_id);
  self->awake_wall = confab_clock_wall (self->clock);
  self->awake_now = confab_clock_now (self->clock);
  if (self->user_id == NULL || self->state == CONFAB_CONNECTION_STATE_IDLE ||
      self->state == CONFAB_CONNECTION_STATE_FAILED)
    return;

  note (self, "resumed from a suspend");
  if (!network_available (self))
    {
      stop_all (self);
      set_state (self, CONFAB_CONNECTION_STATE_WAITING_FOR_NETWORK);
      return;
    }
  wake_up (self, "resumed from a suspend");
}

ConfabOutboxItem *
confab_connection_manager_send_text (ConfabConnectionManager *self,
                                     const char              *cid,
                                     const char              *text,
                                     GError                 **error)
{
  ConfabOutboxItem *item;

  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->outbox == NULL)
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                           "no outbox: the connection manager was made without one");
      return NULL;
    }

  item = confab_outbox_enqueue (self->outbox, cid, text, error);
  if (item != NULL)
    pump_outbox (self);

  return item;
}

ConfabConnectionState
confab_connection_manager_get_state (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), CONFAB_CONNECTION_STATE_IDLE);
  return self->state;
}

ConfabStage
confab_connection_manager_get_stage (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), CONFAB_STAGE_IDLE);
  return self->stage;
}

const char *
confab_connection_manager_get_transport (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), NULL);
  return self->transport_nick;
}

const char *
confab_connection_manager_get_endpoint (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), NULL);
  return self->endpoint;
}

ConfabQuality
confab_connection_manager_get_quality (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), CONFAB_QUALITY_UNKNOWN);
  return self->quality;
}

int
confab_connection_manager_get_rtt_ms (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), -1);
  return self->rtt_ms;
}

double
confab_connection_manager_get_loss (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), 0);
  return self->loss;
}

const GError *
confab_connection_manager_get_last_error (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), NULL);
  return self->last_error;
}

gint64
confab_connection_manager_get_next_retry (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), 0);
  return self->next_retry;
}

const char *
confab_connection_manager_get_connection_id (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), NULL);
  return self->connection_id;
}

const char *
confab_connection_manager_get_user_id (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), NULL);
  return self->user_id;
}

ConfabDiagnostics *
confab_connection_manager_get_diagnostics (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), NULL);
  return self->diagnostics;
}

gint64
confab_connection_manager_get_watermark (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), 0);
  return confab_watermark_get_value (self->watermark);
}

ConfabStreamClient *
confab_connection_manager_get_client (ConfabConnectionManager *self)
{
  g_return_val_if_fail (CONFAB_IS_CONNECTION_MANAGER (self), NULL);
  return self->rest;
}
