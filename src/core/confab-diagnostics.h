/* confab-diagnostics.h: a bounded connection timeline and the anonymised report
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-attempt.h"
#include "confab-redact.h"

G_BEGIN_DECLS

#define CONFAB_DIAGNOSTICS_DEFAULT_MAX_ATTEMPTS  200
#define CONFAB_DIAGNOSTICS_MAX_QUALITY_SAMPLES   500
#define CONFAB_DIAGNOSTICS_MAX_EVENTS            500

#define CONFAB_TYPE_DIAGNOSTICS (confab_diagnostics_get_type ())
G_DECLARE_FINAL_TYPE (ConfabDiagnostics, confab_diagnostics, CONFAB, DIAGNOSTICS, GObject)

/* @salt (nullable): the install's salt for hashing ids (keep it with the settings); NULL
 * makes a fresh one, so hashes then hold for this object's life only. Main thread only. */
ConfabDiagnostics *confab_diagnostics_new                (const char          *salt);

const char        *confab_diagnostics_get_salt           (ConfabDiagnostics   *self);
/* NULL or "" makes a fresh salt. */
void               confab_diagnostics_set_salt           (ConfabDiagnostics   *self,
                                                          const char          *salt);

guint              confab_diagnostics_get_max_attempts   (ConfabDiagnostics   *self);
/* At least 1; lowering it drops the oldest attempts at once (and counts them). */
void               confab_diagnostics_set_max_attempts   (ConfabDiagnostics   *self,
                                                          guint                max_attempts);

/* Keeps a reference; the owner goes on marking and finishing @attempt, and the report
 * shows it as it is then. Past max-attempts the oldest is dropped. Adding the same
 * attempt twice does nothing. */
void               confab_diagnostics_add_attempt        (ConfabDiagnostics   *self,
                                                          ConfabAttempt       *attempt);
/* (transfer none): the kept ConfabAttempts, oldest first, for Connection Details. */
GListModel        *confab_diagnostics_get_attempts       (ConfabDiagnostics   *self);
/* How many attempts were dropped to keep the bound, since creation. */
guint              confab_diagnostics_get_dropped_attempts (ConfabDiagnostics *self);

/* A quality measurement at @at_usec (wall µs): @quality a rating ("excellent", "good",
 * "poor"; NULL = "unknown"), @rtt_ms (< 0 = unknown), @loss a fraction 0–1 (NaN or
 * < 0 = unknown; > 1 counts as 1). The last 500 are kept. */
void               confab_diagnostics_add_quality_sample (ConfabDiagnostics   *self,
                                                          gint64               at_usec,
                                                          const char          *quality,
                                                          int                  rtt_ms,
                                                          double               loss);
/* The kept quality samples, oldest first (at most 500). */
guint              confab_diagnostics_get_n_quality_samples (ConfabDiagnostics *self);
/* Sample @index (0 = oldest): its wall time (µs), rating ("excellent", "good", "poor",
 * "unknown"; owned by @self, valid until the sample is dropped), RTT in ms (-1 =
 * unknown) and loss 0–1 (NaN = unknown). Every out argument is nullable. FALSE (and
 * nothing set) when @index is past the end. */
gboolean           confab_diagnostics_get_quality_sample (ConfabDiagnostics   *self,
                                                          guint                index,
                                                          gint64              *at_usec,
                                                          const char         **rating,
                                                          int                 *rtt_ms,
                                                          double              *loss);
/* Free text from the core, e.g. "state connecting → connected" (redacted, one line,
 * bounded). The last 500 are kept. NULL is ignored. */
void               confab_diagnostics_add_event          (ConfabDiagnostics   *self,
                                                          gint64               at_usec,
                                                          const char          *what);
/* Logs "WHO: text" with g_debug and, when @self is not NULL, adds the text as an event
 * at @at_usec: the one way the core's parts narrate what they do. */
void               confab_diagnostics_note               (ConfabDiagnostics   *self,
                                                          gint64               at_usec,
                                                          const char          *who,
                                                          const char          *format,
                                                          ...) G_GNUC_PRINTF (4, 5);
/* The current circuit-breaker lines, one per endpoint (copied; NULL clears). */
void               confab_diagnostics_set_breakers       (ConfabDiagnostics   *self,
                                                          GPtrArray           *lines);
/* (transfer full): the breaker lines as last set (redacted), one per endpoint × transport,
 * as confab_circuit_breaker_describe() writes them: "NAME: STATE[, N failures][, retry
 * in N s | retry due | trial allowed | trial in progress]" — the "retry in" counts from
 * the last change. Never NULL (empty when there are none). */
GStrv              confab_diagnostics_dup_breakers       (ConfabDiagnostics   *self);
/* An environment fact ("app version", "libsoup", "network available"); facts keep
 * the order they were first set in. @value NULL removes the fact. */
void               confab_diagnostics_set_fact           (ConfabDiagnostics   *self,
                                                          const char          *key,
                                                          const char          *value);

/* Who is signed in, so the report can leave them out: @user_id is replaced by its hash,
 * @user_name (and each word of it) by "[name]", @email (and its local part) by
 * "[email]", each of @secrets (tokens, API key; NULL-terminated) by "[redacted]".
 * Every argument is nullable; a new call replaces the previous identity. */
void               confab_diagnostics_set_identity       (ConfabDiagnostics   *self,
                                                          const char          *user_id,
                                                          const char          *user_name,
                                                          const char          *email,
                                                          const char *const   *secrets);
/* Another id the report must show only hashed (a channel member's, say). Kept for the
 * object's life; a thousand ids cost the report about 20 ms. */
void               confab_diagnostics_add_known_id       (ConfabDiagnostics   *self,
                                                          const char          *id);

/* The plain-text report for support ("Copy Diagnostics Report"): header with the
 * privacy scheme, facts, breakers, the attempt timeline (newest last) with a summary,
 * the quality history summary and recent events — anonymised as a last pass over the
 * whole text (confab_redact_text() with the identity's secrets, then the ids hashed,
 * the name and email removed via confab_redact_terms()).
 * Returns: (transfer full) */
char              *confab_diagnostics_report             (ConfabDiagnostics   *self);

G_END_DECLS
