/* confab-attempt.h: one connection attempt, stage by stage, for diagnostics
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Where an attempt got to. A stage is marked when it starts; it lasts until the next
 * stage reached (stages may be skipped: no TLS on ws://, no upgrade on long-poll, no
 * resolving on a reused connection) or until the attempt finishes. */
typedef enum {
  CONFAB_ATTEMPT_STAGE_NONE = -1,      /* nothing marked yet */
  CONFAB_ATTEMPT_STAGE_RESOLVING,      /* DNS lookup started */
  CONFAB_ATTEMPT_STAGE_CONNECTING,     /* TCP connect started */
  CONFAB_ATTEMPT_STAGE_TLS,            /* TLS handshake started */
  CONFAB_ATTEMPT_STAGE_UPGRADING,      /* HTTP request (the upgrade) sent */
  CONFAB_ATTEMPT_STAGE_AUTHENTICATING, /* 101 received / long-poll connect sent */
  CONFAB_ATTEMPT_STAGE_FIRST_FRAME,    /* health.check with a connection_id: usable */
  CONFAB_ATTEMPT_STAGE_READY,          /* catch-up done */
} ConfabAttemptStage;

#define CONFAB_ATTEMPT_N_STAGES (CONFAB_ATTEMPT_STAGE_READY + 1)

typedef enum {
  CONFAB_ATTEMPT_OUTCOME_PENDING,
  CONFAB_ATTEMPT_OUTCOME_SUCCEEDED,
  CONFAB_ATTEMPT_OUTCOME_FAILED,
  CONFAB_ATTEMPT_OUTCOME_CANCELLED,    /* finished with G_IO_ERROR_CANCELLED (e.g. lost the race) */
} ConfabAttemptOutcome;

#define CONFAB_TYPE_ATTEMPT_STAGE (confab_attempt_stage_get_type ())
GType confab_attempt_stage_get_type (void);

#define CONFAB_TYPE_ATTEMPT_OUTCOME (confab_attempt_outcome_get_type ())
GType confab_attempt_outcome_get_type (void);

#define CONFAB_TYPE_ATTEMPT (confab_attempt_get_type ())
G_DECLARE_FINAL_TYPE (ConfabAttempt, confab_attempt, CONFAB, ATTEMPT, GObject)

/* @transport: "websocket", "longpoll" or "sse"; @endpoint: the URL, already redacted
 * (it is passed through confab_redact_url() again; a non-URL label through
 * confab_redact_text()); @started_at_usec: wall-clock µs (g_get_real_time()). */
ConfabAttempt       *confab_attempt_new                (const char          *transport,
                                                        const char          *endpoint,
                                                        gint64               started_at_usec);

const char          *confab_attempt_get_transport      (ConfabAttempt       *self);
const char          *confab_attempt_get_endpoint       (ConfabAttempt       *self);
gint64               confab_attempt_get_started_at     (ConfabAttempt       *self);

/* Records that @stage started at @at_usec (wall µs, >= 0). The first mark of a stage
 * counts (a second CONNECTING for the next address is part of the same stage); marks
 * after the attempt finished are ignored. */
void                 confab_attempt_mark_stage         (ConfabAttempt       *self,
                                                        ConfabAttemptStage   stage,
                                                        gint64               at_usec);

/* Ends the attempt now (g_get_real_time()): @error NULL is success, G_IO_ERROR_CANCELLED
 * is "cancelled", anything else "failed". The error's message is kept redacted
 * (confab_redact_text()), made valid UTF-8, on one line, and bounded. @next_step_reason
 * (nullable) says why the next step was chosen, e.g. "WebSocket black-holed 2.0 s:
 * starting long-poll in parallel"; it follows one set earlier ("…; then …"), NULL
 * keeps that. A second finish is ignored. */
void                 confab_attempt_finish             (ConfabAttempt       *self,
                                                        const GError        *error,
                                                        const char          *next_step_reason);
/* The same at an explicit time, for an owner with its own (or an injected) clock. */
void                 confab_attempt_finish_at          (ConfabAttempt       *self,
                                                        gint64               at_usec,
                                                        const GError        *error,
                                                        const char          *next_step_reason);
/* Why the next step was chosen, while the attempt still runs (the hedge starts
 * long-poll next to a WebSocket that has not failed yet). */
void                 confab_attempt_set_reason         (ConfabAttempt       *self,
                                                        const char          *reason);

/* The latest stage reached, or CONFAB_ATTEMPT_STAGE_NONE. */
ConfabAttemptStage   confab_attempt_get_stage          (ConfabAttempt       *self);
/* When @stage started (wall µs), or -1 if it was not reached. */
gint64               confab_attempt_get_stage_time     (ConfabAttempt       *self,
                                                        ConfabAttemptStage   stage);
/* How long @stage lasted in µs: until the next stage reached, or until the finish for
 * the last one; -1 if it was not reached or has not ended yet. Never negative (a wall
 * clock stepping back gives 0). */
gint64               confab_attempt_get_stage_duration (ConfabAttempt       *self,
                                                        ConfabAttemptStage   stage);

ConfabAttemptOutcome confab_attempt_get_outcome        (ConfabAttempt       *self);
/* Wall µs of the finish, or -1 while pending. */
gint64               confab_attempt_get_finished_at    (ConfabAttempt       *self);
/* Start to finish in µs (never negative), or -1 while pending. */
gint64               confab_attempt_get_duration       (ConfabAttempt       *self);
/* The error it finished with: domain 0, code 0 and message NULL on success or while
 * pending. The message is redacted. */
GQuark               confab_attempt_get_error_domain   (ConfabAttempt       *self);
int                  confab_attempt_get_error_code     (ConfabAttempt       *self);
const char          *confab_attempt_get_error_message  (ConfabAttempt       *self);
/* The HTTP status of a CONFAB_API_ERROR, else 0. */
guint                confab_attempt_get_http_status    (ConfabAttempt       *self);
const char          *confab_attempt_get_reason         (ConfabAttempt       *self);

/* The error it failed (or was cancelled) with, for people: "timeout (confab-error 2)",
 * "token expired (Stream code 40, HTTP 401, token expired)", "Connection refused
 * (g-io-error 39, network)" — message, domain, code, HTTP status, and for errors outside
 * CONFAB_ERROR the decision confab_error_classify() makes of them. NULL if none.
 * Returns: (transfer full) (nullable) */
char                *confab_attempt_describe_error     (ConfabAttempt       *self);

/* One line for people: local start time, transport, endpoint, how long each stage
 * took, and the outcome, e.g.
 * "12:03:04.512 websocket wss://chat.example:443/connect  dns 12 ms · tcp 20 ms ·
 * tls 45 ms · upgrade 30 ms · first frame 8 ms → ok (115 ms)" or
 * "… → failed after 2 000 ms: timeout (confab-error 2) — starting long-poll in parallel".
 * Returns: (transfer full) */
char                *confab_attempt_describe           (ConfabAttempt       *self);

G_END_DECLS
