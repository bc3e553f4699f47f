/* confab-attempt.c: one connection attempt, stage by stage, for diagnostics
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "confab-attempt.h"
#include "confab-error.h"
#include "confab-redact.h"

/* Bounds for text that ends up on one line of a report. */
#define MAX_MESSAGE_CHARS    500
#define MAX_REASON_CHARS     300
#define MAX_ENDPOINT_CHARS   300
#define MAX_TRANSPORT_CHARS  40

struct _ConfabAttempt
{
  GObject              parent_instance;

  char                *transport;
  char                *endpoint;
  gint64               started_at;

  gint64               stage_times[CONFAB_ATTEMPT_N_STAGES];
  ConfabAttemptStage   stage;

  ConfabAttemptOutcome outcome;
  gint64               finished_at;
  GQuark               error_domain;
  int                  error_code;
  char                *error_message;
  guint                http_status;
  ConfabErrorCode      decision;
  char                *reason;
};

G_DEFINE_FINAL_TYPE (ConfabAttempt, confab_attempt, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (ConfabAttemptStage, confab_attempt_stage,
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_STAGE_NONE, "none"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_STAGE_RESOLVING, "resolving"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_STAGE_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_STAGE_TLS, "tls"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_STAGE_UPGRADING, "upgrading"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_STAGE_AUTHENTICATING, "authenticating"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_STAGE_FIRST_FRAME, "first-frame"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_STAGE_READY, "ready"))

G_DEFINE_ENUM_TYPE (ConfabAttemptOutcome, confab_attempt_outcome,
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_OUTCOME_PENDING, "pending"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_OUTCOME_SUCCEEDED, "succeeded"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_OUTCOME_FAILED, "failed"),
  G_DEFINE_ENUM_VALUE (CONFAB_ATTEMPT_OUTCOME_CANCELLED, "cancelled"))

enum {
  PROP_0,
  PROP_TRANSPORT,
  PROP_ENDPOINT,
  PROP_STARTED_AT,
  PROP_STAGE,
  PROP_OUTCOME,
  PROP_FINISHED_AT,
  PROP_REASON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* What the time spent in a stage was waiting for, as support reads it. READY is the
 * end point and has no phase of its own. */
static const char *const stage_labels[CONFAB_ATTEMPT_N_STAGES] = {
  [CONFAB_ATTEMPT_STAGE_RESOLVING] = "dns",
  [CONFAB_ATTEMPT_STAGE_CONNECTING] = "tcp",
  [CONFAB_ATTEMPT_STAGE_TLS] = "tls",
  [CONFAB_ATTEMPT_STAGE_UPGRADING] = "upgrade",
  [CONFAB_ATTEMPT_STAGE_AUTHENTICATING] = "first frame",
  [CONFAB_ATTEMPT_STAGE_FIRST_FRAME] = "catch-up",
  [CONFAB_ATTEMPT_STAGE_READY] = NULL,
};

static const char *
decision_nick (ConfabErrorCode code)
{
  switch (code)
    {
    case CONFAB_ERROR_NETWORK:          return "network";
    case CONFAB_ERROR_TIMEOUT:          return "timeout";
    case CONFAB_ERROR_TLS:              return "tls";
    case CONFAB_ERROR_INSECURE_URL:     return "insecure url";
    case CONFAB_ERROR_UPGRADE_REJECTED: return "upgrade rejected";
    case CONFAB_ERROR_PROTOCOL:         return "protocol";
    case CONFAB_ERROR_CONNECTION_LOST:  return "connection lost";
    case CONFAB_ERROR_AUTH:             return "auth";
    case CONFAB_ERROR_TOKEN_EXPIRED:    return "token expired";
    case CONFAB_ERROR_RATE_LIMITED:     return "rate limited";
    case CONFAB_ERROR_SERVER:           return "server";
    case CONFAB_ERROR_REJECTED:         return "rejected";
    case CONFAB_ERROR_BUSY:             return "busy";
    case CONFAB_ERROR_STORAGE:          return "storage";
    case CONFAB_ERROR_CORRUPT:          return "corrupt";
    case CONFAB_ERROR_FAILED:
    default:                            return "failed";
    }
}

static char *
sanitize_endpoint (const char *endpoint)
{
  g_autofree char *as_url = NULL;

  if (endpoint == NULL)
    return NULL;

  as_url = confab_redact_url (endpoint);
  if (g_strcmp0 (as_url, CONFAB_REDACTED_INVALID_URL) != 0 || strstr (endpoint, "://") != NULL)
    return confab_redact_line (as_url, NULL, MAX_ENDPOINT_CHARS);

  /* A label rather than a URL ("relay :8443"): keep it, redacted like any text. */
  return confab_redact_line (endpoint, NULL, MAX_ENDPOINT_CHARS);
}

static void
confab_attempt_finalize (GObject *object)
{
  ConfabAttempt *self = (ConfabAttempt *) object;

  g_clear_pointer (&self->transport, g_free);
  g_clear_pointer (&self->endpoint, g_free);
  g_clear_pointer (&self->error_message, g_free);
  g_clear_pointer (&self->reason, g_free);

  G_OBJECT_CLASS (confab_attempt_parent_class)->finalize (object);
}

static void
confab_attempt_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  ConfabAttempt *self = CONFAB_ATTEMPT (object);

  switch (prop_id)
    {
    case PROP_TRANSPORT:
      g_value_set_string (value, self->transport);
      break;
    case PROP_ENDPOINT:
      g_value_set_string (value, self->endpoint);
      break;
    case PROP_STARTED_AT:
      g_value_set_int64 (value, self->started_at);
      break;
    case PROP_STAGE:
      g_value_set_enum (value, self->stage);
      break;
    case PROP_OUTCOME:
      g_value_set_enum (value, self->outcome);
      break;
    case PROP_FINISHED_AT:
      g_value_set_int64 (value, self->finished_at);
      break;
    case PROP_REASON:
      g_value_set_string (value, self->reason);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_attempt_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  ConfabAttempt *self = CONFAB_ATTEMPT (object);

  switch (prop_id)
    {
    case PROP_TRANSPORT:
      g_free (self->transport);
      self->transport = confab_redact_line (g_value_get_string (value), NULL, MAX_TRANSPORT_CHARS);
      break;
    case PROP_ENDPOINT:
      g_free (self->endpoint);
      self->endpoint = sanitize_endpoint (g_value_get_string (value));
      break;
    case PROP_STARTED_AT:
      self->started_at = g_value_get_int64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_attempt_class_init (ConfabAttemptClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_attempt_finalize;
  object_class->get_property = confab_attempt_get_property;
  object_class->set_property = confab_attempt_set_property;

  /**
   * ConfabAttempt:transport:
   *
   * "websocket", "longpoll" or "sse".
   */
  properties[PROP_TRANSPORT] =
    g_param_spec_string ("transport", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabAttempt:endpoint:
   *
   * The URL tried, redacted.
   */
  properties[PROP_ENDPOINT] =
    g_param_spec_string ("endpoint", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabAttempt:started-at:
   *
   * Wall-clock µs when the attempt began.
   */
  properties[PROP_STARTED_AT] =
    g_param_spec_int64 ("started-at", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabAttempt:stage:
   *
   * The latest stage reached.
   */
  properties[PROP_STAGE] =
    g_param_spec_enum ("stage", NULL, NULL,
                       CONFAB_TYPE_ATTEMPT_STAGE, CONFAB_ATTEMPT_STAGE_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabAttempt:outcome:
   *
   * Pending until confab_attempt_finish(); the error fields are set before this
   * changes.
   */
  properties[PROP_OUTCOME] =
    g_param_spec_enum ("outcome", NULL, NULL,
                       CONFAB_TYPE_ATTEMPT_OUTCOME, CONFAB_ATTEMPT_OUTCOME_PENDING,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabAttempt:finished-at:
   *
   * Wall-clock µs of the finish, -1 while pending.
   */
  properties[PROP_FINISHED_AT] =
    g_param_spec_int64 ("finished-at", NULL, NULL,
                        -1, G_MAXINT64, -1,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabAttempt:reason:
   *
   * Why the next step was chosen, if the owner said.
   */
  properties[PROP_REASON] =
    g_param_spec_string ("reason", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_attempt_init (ConfabAttempt *self)
{
  for (guint i = 0; i < CONFAB_ATTEMPT_N_STAGES; i++)
    self->stage_times[i] = -1;
  self->stage = CONFAB_ATTEMPT_STAGE_NONE;
  self->outcome = CONFAB_ATTEMPT_OUTCOME_PENDING;
  self->finished_at = -1;
  self->decision = CONFAB_ERROR_FAILED;
}

ConfabAttempt *
confab_attempt_new (const char *transport,
                    const char *endpoint,
                    gint64      started_at_usec)
{
  g_return_val_if_fail (started_at_usec >= 0, NULL);

  return g_object_new (CONFAB_TYPE_ATTEMPT,
                       "transport", transport,
                       "endpoint", endpoint,
                       "started-at", started_at_usec,
                       NULL);
}

const char *
confab_attempt_get_transport (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), NULL);

  return self->transport;
}

const char *
confab_attempt_get_endpoint (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), NULL);

  return self->endpoint;
}

gint64
confab_attempt_get_started_at (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), -1);

  return self->started_at;
}

static gboolean
stage_is_valid (ConfabAttemptStage stage)
{
  return stage >= CONFAB_ATTEMPT_STAGE_RESOLVING && stage <= CONFAB_ATTEMPT_STAGE_READY;
}

void
confab_attempt_mark_stage (ConfabAttempt      *self,
                           ConfabAttemptStage  stage,
                           gint64              at_usec)
{
  g_return_if_fail (CONFAB_IS_ATTEMPT (self));
  g_return_if_fail (stage_is_valid (stage));
  g_return_if_fail (at_usec >= 0);

  if (self->outcome != CONFAB_ATTEMPT_OUTCOME_PENDING)
    {
      g_debug ("Attempt %p: stage %d marked after the finish; ignored", self, stage);
      return;
    }
  if (self->stage_times[stage] >= 0)
    return;

  self->stage_times[stage] = at_usec;
  if (stage > self->stage)
    {
      self->stage = stage;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STAGE]);
    }
}

static gboolean
set_reason (ConfabAttempt *self,
            const char    *reason)
{
  g_autofree char *clean = confab_redact_line (reason, NULL, MAX_REASON_CHARS);

  if (g_strcmp0 (clean, self->reason) == 0)
    return FALSE;
  g_free (self->reason);
  self->reason = g_steal_pointer (&clean);
  return TRUE;
}

void
confab_attempt_set_reason (ConfabAttempt *self,
                           const char    *reason)
{
  g_return_if_fail (CONFAB_IS_ATTEMPT (self));

  if (set_reason (self, reason))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REASON]);
}

void
confab_attempt_finish_at (ConfabAttempt *self,
                          gint64         at_usec,
                          const GError  *error,
                          const char    *next_step_reason)
{
  gboolean reason_changed = FALSE;

  g_return_if_fail (CONFAB_IS_ATTEMPT (self));
  g_return_if_fail (at_usec >= 0);

  if (self->outcome != CONFAB_ATTEMPT_OUTCOME_PENDING)
    {
      g_debug ("Attempt %p finished twice; the first outcome stands", self);
      return;
    }

  if (error == NULL)
    {
      self->outcome = CONFAB_ATTEMPT_OUTCOME_SUCCEEDED;
    }
  else
    {
      self->outcome = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                      ? CONFAB_ATTEMPT_OUTCOME_CANCELLED : CONFAB_ATTEMPT_OUTCOME_FAILED;
      self->error_domain = error->domain;
      self->error_code = error->code;
      self->error_message = confab_redact_line (error->message != NULL ? error->message : "",
                                                NULL, MAX_MESSAGE_CHARS);
      self->http_status = confab_api_error_get_http_status (error);
      self->decision = confab_error_classify (error);
    }
  self->finished_at = at_usec;
  if (next_step_reason != NULL && self->reason != NULL && *self->reason != '\0')
    {
      /* Keep the hedge's reason too: "black-holed: long-poll in parallel; then long-poll won". */
      g_autofree char *both = g_strdup_printf ("%s; then %s", self->reason, next_step_reason);

      reason_changed = set_reason (self, both);
    }
  else if (next_step_reason != NULL)
    {
      reason_changed = set_reason (self, next_step_reason);
    }

  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FINISHED_AT]);
  if (reason_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REASON]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OUTCOME]);
  g_object_thaw_notify (G_OBJECT (self));
}

void
confab_attempt_finish (ConfabAttempt *self,
                       const GError  *error,
                       const char    *next_step_reason)
{
  g_return_if_fail (CONFAB_IS_ATTEMPT (self));

  confab_attempt_finish_at (self, g_get_real_time (), error, next_step_reason);
}

ConfabAttemptStage
confab_attempt_get_stage (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), CONFAB_ATTEMPT_STAGE_NONE);

  return self->stage;
}

gint64
confab_attempt_get_stage_time (ConfabAttempt      *self,
                               ConfabAttemptStage  stage)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), -1);
  g_return_val_if_fail (stage_is_valid (stage), -1);

  return self->stage_times[stage];
}

gint64
confab_attempt_get_stage_duration (ConfabAttempt      *self,
                                   ConfabAttemptStage  stage)
{
  gint64 end = -1;

  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), -1);
  g_return_val_if_fail (stage_is_valid (stage), -1);

  if (self->stage_times[stage] < 0)
    return -1;

  for (int next = stage + 1; next < CONFAB_ATTEMPT_N_STAGES && end < 0; next++)
    end = self->stage_times[next];
  if (end < 0)
    end = self->finished_at;
  if (end < 0)
    return -1;

  return MAX (0, end - self->stage_times[stage]);
}

ConfabAttemptOutcome
confab_attempt_get_outcome (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), CONFAB_ATTEMPT_OUTCOME_PENDING);

  return self->outcome;
}

gint64
confab_attempt_get_finished_at (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), -1);

  return self->finished_at;
}

gint64
confab_attempt_get_duration (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), -1);

  if (self->finished_at < 0)
    return -1;
  return MAX (0, self->finished_at - self->started_at);
}

GQuark
confab_attempt_get_error_domain (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), 0);

  return self->error_domain;
}

int
confab_attempt_get_error_code (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), 0);

  return self->error_code;
}

const char *
confab_attempt_get_error_message (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), NULL);

  return self->error_message;
}

guint
confab_attempt_get_http_status (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), 0);

  return self->http_status;
}

const char *
confab_attempt_get_reason (ConfabAttempt *self)
{
  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), NULL);

  return self->reason;
}

/* "12 ms", "2 000 ms", "<1 ms": whole milliseconds with a space between thousands. */
static void
append_ms (GString *out,
           gint64   usec)
{
  gint64 ms = (usec + 500) / 1000;
  char digits[32];
  gsize n;

  if (usec > 0 && ms == 0)
    {
      g_string_append (out, "<1 ms");
      return;
    }

  n = g_snprintf (digits, sizeof digits, "%" G_GINT64_FORMAT, ms);
  for (gsize i = 0; i < n; i++)
    {
      if (i > 0 && (n - i) % 3 == 0)
        g_string_append_c (out, ' ');
      g_string_append_c (out, digits[i]);
    }
  g_string_append (out, " ms");
}

static void
append_local_time (GString *out,
                   gint64   usec)
{
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *hms = NULL;
  gint64 seconds = usec / G_USEC_PER_SEC;
  gint64 rest = usec % G_USEC_PER_SEC;

  if (rest < 0)
    {
      seconds--;
      rest += G_USEC_PER_SEC;
    }
  when = g_date_time_new_from_unix_local (seconds);
  if (when == NULL)
    {
      g_string_append (out, "??:??:??.???");
      return;
    }
  hms = g_date_time_format (when, "%H:%M:%S");
  g_string_append_printf (out, "%s.%03d", hms, (int) (rest / 1000));
}

/* "confab-error", "Stream code", "g-io-error": what support searches for. */
static char *
domain_label (GQuark domain)
{
  const char *name = g_quark_to_string (domain);

  if (domain == CONFAB_API_ERROR)
    return g_strdup ("Stream code");
  if (name == NULL)
    return g_strdup ("unknown");
  if (g_str_has_suffix (name, "-quark"))
    return g_strndup (name, strlen (name) - strlen ("-quark"));
  return g_strdup (name);
}

char *
confab_attempt_describe_error (ConfabAttempt *self)
{
  g_autofree char *domain = NULL;
  GString *out;

  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), NULL);

  if (self->error_domain == 0)
    return NULL;

  domain = domain_label (self->error_domain);
  out = g_string_new (NULL);
  g_string_append_printf (out, "%s (%s %d",
                          self->error_message != NULL && *self->error_message != '\0'
                          ? self->error_message : "no message",
                          domain, self->error_code);
  if (self->http_status != 0)
    g_string_append_printf (out, ", HTTP %u", self->http_status);
  if (self->error_domain != CONFAB_ERROR)
    g_string_append_printf (out, ", %s", decision_nick (self->decision));
  g_string_append_c (out, ')');

  return g_string_free (out, FALSE);
}

char *
confab_attempt_describe (ConfabAttempt *self)
{
  g_autofree char *error_text = NULL;
  GString *out;
  gboolean first = TRUE;

  g_return_val_if_fail (CONFAB_IS_ATTEMPT (self), NULL);

  out = g_string_new (NULL);
  append_local_time (out, self->started_at);
  g_string_append_printf (out, " %s %s  ",
                          self->transport != NULL ? self->transport : "unknown",
                          self->endpoint != NULL ? self->endpoint : "(no endpoint)");

  for (int stage = CONFAB_ATTEMPT_STAGE_RESOLVING; stage < CONFAB_ATTEMPT_N_STAGES; stage++)
    {
      gint64 duration;

      if (stage_labels[stage] == NULL || self->stage_times[stage] < 0)
        continue;
      /* Finished at the first frame, without a catch-up of its own: nothing to show. */
      if (stage == CONFAB_ATTEMPT_STAGE_FIRST_FRAME &&
          self->outcome == CONFAB_ATTEMPT_OUTCOME_SUCCEEDED &&
          self->stage_times[CONFAB_ATTEMPT_STAGE_READY] < 0)
        continue;

      g_string_append_printf (out, "%s%s ", first ? "" : " · ", stage_labels[stage]);
      first = FALSE;
      duration = confab_attempt_get_stage_duration (self, stage);
      if (duration >= 0)
        append_ms (out, duration);
      else
        g_string_append (out, "…");
    }
  if (!first)
    g_string_append_c (out, ' ');

  switch (self->outcome)
    {
    case CONFAB_ATTEMPT_OUTCOME_SUCCEEDED:
      g_string_append (out, "→ ok (");
      append_ms (out, confab_attempt_get_duration (self));
      g_string_append_c (out, ')');
      break;
    case CONFAB_ATTEMPT_OUTCOME_FAILED:
      g_string_append (out, "→ failed after ");
      append_ms (out, confab_attempt_get_duration (self));
      error_text = confab_attempt_describe_error (self);
      g_string_append_printf (out, ": %s", error_text);
      break;
    case CONFAB_ATTEMPT_OUTCOME_CANCELLED:
      g_string_append (out, "→ cancelled after ");
      append_ms (out, confab_attempt_get_duration (self));
      break;
    case CONFAB_ATTEMPT_OUTCOME_PENDING:
    default:
      g_string_append (out, "→ in progress");
      if (self->stage != CONFAB_ATTEMPT_STAGE_NONE)
        {
          GEnumClass *enum_class = g_type_class_ref (CONFAB_TYPE_ATTEMPT_STAGE);
          GEnumValue *value = g_enum_get_value (enum_class, self->stage);

          g_string_append_printf (out, " (%s)", value != NULL ? value->value_nick : "?");
          g_type_class_unref (enum_class);
        }
      break;
    }

  if (self->reason != NULL && *self->reason != '\0')
    g_string_append_printf (out, " — %s", self->reason);

  return g_string_free (out, FALSE);
}
