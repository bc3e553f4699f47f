/* confab-circuit-breaker.h: a circuit breaker for one endpoint × transport
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "confab-clock.h"

G_BEGIN_DECLS

typedef enum {
  CONFAB_CIRCUIT_STATE_CLOSED,     /* attempts go through */
  CONFAB_CIRCUIT_STATE_OPEN,       /* no attempts until retry-at */
  CONFAB_CIRCUIT_STATE_HALF_OPEN,  /* one trial attempt decides */
} ConfabCircuitState;

#define CONFAB_TYPE_CIRCUIT_STATE (confab_circuit_state_get_type ())
GType confab_circuit_state_get_type (void);

/* See docs/retry-policy.md for why these numbers. */
#define CONFAB_CIRCUIT_BREAKER_DEFAULT_FAILURE_THRESHOLD 3
#define CONFAB_CIRCUIT_BREAKER_DEFAULT_OPEN_MS           15000
#define CONFAB_CIRCUIT_BREAKER_DEFAULT_MAX_OPEN_MS       300000
/* The largest open-ms / max-open-ms accepted (a day). */
#define CONFAB_CIRCUIT_BREAKER_LIMIT_MS                  (24 * 60 * 60 * 1000)

#define CONFAB_TYPE_CIRCUIT_BREAKER (confab_circuit_breaker_get_type ())

G_DECLARE_FINAL_TYPE (ConfabCircuitBreaker, confab_circuit_breaker, CONFAB, CIRCUIT_BREAKER, GObject)

ConfabCircuitBreaker *confab_circuit_breaker_new                     (const char           *name,
                                                                      ConfabClock          *clock);

gboolean              confab_circuit_breaker_allow                   (ConfabCircuitBreaker *self);
void                  confab_circuit_breaker_record_success          (ConfabCircuitBreaker *self);
void                  confab_circuit_breaker_record_failure          (ConfabCircuitBreaker *self,
                                                                      const GError         *error);
gboolean              confab_circuit_breaker_allow_trial             (ConfabCircuitBreaker *self);
void                  confab_circuit_breaker_reset                   (ConfabCircuitBreaker *self);
char                 *confab_circuit_breaker_describe                (ConfabCircuitBreaker *self);

const char           *confab_circuit_breaker_get_name                (ConfabCircuitBreaker *self);
ConfabClock          *confab_circuit_breaker_get_clock               (ConfabCircuitBreaker *self);
ConfabCircuitState    confab_circuit_breaker_get_state               (ConfabCircuitBreaker *self);
guint                 confab_circuit_breaker_get_consecutive_failures (ConfabCircuitBreaker *self);
gint64                confab_circuit_breaker_get_opened_at           (ConfabCircuitBreaker *self);
gint64                confab_circuit_breaker_get_retry_at            (ConfabCircuitBreaker *self);
guint                 confab_circuit_breaker_get_failure_threshold   (ConfabCircuitBreaker *self);
void                  confab_circuit_breaker_set_failure_threshold   (ConfabCircuitBreaker *self,
                                                                      guint                 threshold);
guint                 confab_circuit_breaker_get_open_ms             (ConfabCircuitBreaker *self);
void                  confab_circuit_breaker_set_open_ms             (ConfabCircuitBreaker *self,
                                                                      guint                 open_ms);
guint                 confab_circuit_breaker_get_max_open_ms         (ConfabCircuitBreaker *self);
void                  confab_circuit_breaker_set_max_open_ms         (ConfabCircuitBreaker *self,
                                                                      guint                 max_open_ms);

G_END_DECLS
