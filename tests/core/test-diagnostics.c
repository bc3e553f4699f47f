/* test-diagnostics.c: attempts, the bounded timeline and the anonymised report
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "confab-attempt.h"
#include "confab-diagnostics.h"
#include "confab-error.h"

/* 2024-05-02 12:03:04.512 UTC, in wall µs; every time below is injected from here. */
#define T0     G_GINT64_CONSTANT (1714651384512000)
#define MS(n)  ((gint64) (n) * 1000)

#define JWT "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiYWxpY2UtMTIzNCJ9.SflKxwRJSMeKKF2QT4fw"

static char *
local_hms (gint64 usec)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);
  g_autofree char *hms = g_date_time_format (when, "%H:%M:%S");

  return g_strdup_printf ("%s.%03d", hms, (int) ((usec % G_USEC_PER_SEC) / 1000));
}

static void
assert_contains (const char *haystack,
                 const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("expected to find “%s” in:\n%s", needle, haystack);
}

static void
assert_lacks_ci (const char *haystack,
                 const char *needle)
{
  g_autofree char *hay = g_ascii_strdown (haystack, -1);
  g_autofree char *nee = g_ascii_strdown (needle, -1);

  if (strstr (hay, nee) != NULL)
    g_error ("“%s” leaked into:\n%s", needle, haystack);
}

/* The brief's example: 12 + 20 + 45 + 30 + 8 = 115 ms to the first frame. */
static ConfabAttempt *
new_clean_websocket_attempt (gboolean with_catch_up)
{
  ConfabAttempt *attempt = confab_attempt_new ("websocket", "wss://chat.example:443/connect", T0);

  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING, T0);
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (12));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_TLS, T0 + MS (32));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_UPGRADING, T0 + MS (77));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_AUTHENTICATING, T0 + MS (107));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_FIRST_FRAME, T0 + MS (115));
  if (with_catch_up)
    {
      confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_READY, T0 + MS (140));
      confab_attempt_finish_at (attempt, T0 + MS (140), NULL, NULL);
    }
  else
    {
      confab_attempt_finish_at (attempt, T0 + MS (115), NULL, NULL);
    }
  return attempt;
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_attempt_stage_durations (void)
{
  g_autoptr(ConfabAttempt) attempt = confab_attempt_new ("websocket", "wss://chat.example:443/connect", T0);
  guint stage_notifies = 0;
  guint outcome_notifies = 0;

  g_signal_connect (attempt, "notify::stage", G_CALLBACK (count_notify), &stage_notifies);
  g_signal_connect (attempt, "notify::outcome", G_CALLBACK (count_notify), &outcome_notifies);

  g_assert_cmpint (confab_attempt_get_stage (attempt), ==, CONFAB_ATTEMPT_STAGE_NONE);
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING), ==, -1);

  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING, T0);
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (12));
  /* A second address: the same stage, the first mark counts. */
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (250));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_TLS, T0 + MS (32));

  /* The stage in progress has no duration yet; the ones before it do. */
  g_assert_cmpint (confab_attempt_get_stage (attempt), ==, CONFAB_ATTEMPT_STAGE_TLS);
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING), ==, MS (12));
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_CONNECTING), ==, MS (20));
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_TLS), ==, -1);
  g_assert_cmpint (confab_attempt_get_duration (attempt), ==, -1);
  g_assert_cmpint (confab_attempt_get_finished_at (attempt), ==, -1);

  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_UPGRADING, T0 + MS (77));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_AUTHENTICATING, T0 + MS (107));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_FIRST_FRAME, T0 + MS (115));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_READY, T0 + MS (140));
  confab_attempt_finish_at (attempt, T0 + MS (141), NULL, NULL);
  /* After the finish nothing moves. */
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING, T0 + MS (500));
  confab_attempt_finish_at (attempt, T0 + MS (900), NULL, "ignored");

  g_assert_cmpint (stage_notifies, ==, 7);
  g_assert_cmpint (outcome_notifies, ==, 1);
  g_assert_cmpint (confab_attempt_get_outcome (attempt), ==, CONFAB_ATTEMPT_OUTCOME_SUCCEEDED);
  g_assert_cmpint (confab_attempt_get_stage_time (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING), ==, T0);
  g_assert_cmpint (confab_attempt_get_stage_time (attempt, CONFAB_ATTEMPT_STAGE_CONNECTING), ==, T0 + MS (12));
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_TLS), ==, MS (45));
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_UPGRADING), ==, MS (30));
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_AUTHENTICATING), ==, MS (8));
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_FIRST_FRAME), ==, MS (25));
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_READY), ==, MS (1));
  g_assert_cmpint (confab_attempt_get_duration (attempt), ==, MS (141));
  g_assert_cmpint (confab_attempt_get_finished_at (attempt), ==, T0 + MS (141));
  g_assert_null (confab_attempt_get_reason (attempt));
  g_assert_cmpuint (confab_attempt_get_error_domain (attempt), ==, 0);
  g_assert_null (confab_attempt_get_error_message (attempt));
}

static void
test_attempt_skipped_stages (void)
{
  /* ws:// on loopback: no TLS; long-poll: no upgrade; a wall clock stepping back. */
  g_autoptr(ConfabAttempt) plain = confab_attempt_new ("longpoll", "http://127.0.0.1:8080/longpoll", T0);

  confab_attempt_mark_stage (plain, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (1));
  confab_attempt_mark_stage (plain, CONFAB_ATTEMPT_STAGE_AUTHENTICATING, T0 + MS (4));
  confab_attempt_mark_stage (plain, CONFAB_ATTEMPT_STAGE_FIRST_FRAME, T0 + MS (2));
  confab_attempt_finish_at (plain, T0 + MS (3), NULL, NULL);

  g_assert_cmpint (confab_attempt_get_stage_duration (plain, CONFAB_ATTEMPT_STAGE_RESOLVING), ==, -1);
  g_assert_cmpint (confab_attempt_get_stage_duration (plain, CONFAB_ATTEMPT_STAGE_TLS), ==, -1);
  g_assert_cmpint (confab_attempt_get_stage_duration (plain, CONFAB_ATTEMPT_STAGE_CONNECTING), ==, MS (3));
  g_assert_cmpint (confab_attempt_get_stage_duration (plain, CONFAB_ATTEMPT_STAGE_AUTHENTICATING), ==, 0);
  g_assert_cmpint (confab_attempt_get_stage_duration (plain, CONFAB_ATTEMPT_STAGE_FIRST_FRAME), ==, MS (1));
  g_assert_cmpint (confab_attempt_get_stage (plain), ==, CONFAB_ATTEMPT_STAGE_FIRST_FRAME);
}

static void
test_attempt_describe_success (void)
{
  g_autoptr(ConfabAttempt) attempt = new_clean_websocket_attempt (FALSE);
  g_autoptr(ConfabAttempt) with_catch_up = new_clean_websocket_attempt (TRUE);
  g_autofree char *line = confab_attempt_describe (attempt);
  g_autofree char *line2 = confab_attempt_describe (with_catch_up);
  g_autofree char *hms = local_hms (T0);
  g_autofree char *expected = g_strdup_printf ("%s websocket wss://chat.example:443/connect  dns 12 ms · "
                                               "tcp 20 ms · tls 45 ms · upgrade 30 ms · first frame 8 ms "
                                               "→ ok (115 ms)", hms);

  g_assert_cmpstr (line, ==, expected);
  assert_contains (line2, "first frame 8 ms · catch-up 25 ms → ok (140 ms)");
  g_assert_null (strchr (line, '\n'));
}

static void
test_attempt_describe_failure (void)
{
  g_autoptr(ConfabAttempt) attempt = confab_attempt_new ("websocket", "wss://chat.example:443/connect", T0);
  g_autoptr(GError) error = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT, "timeout");
  g_autofree char *pending = NULL;
  g_autofree char *line = NULL;
  guint reason_notifies = 0;

  g_signal_connect (attempt, "notify::reason", G_CALLBACK (count_notify), &reason_notifies);
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING, T0);
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (5));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_TLS, T0 + MS (10));
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_UPGRADING, T0 + MS (40));

  pending = confab_attempt_describe (attempt);
  assert_contains (pending, "dns 5 ms · tcp 5 ms · tls 30 ms · upgrade … → in progress (upgrading)");

  /* The hedge fires while the WebSocket still runs. */
  confab_attempt_set_reason (attempt, "WebSocket black-holed 2.0 s: starting long-poll in parallel");
  confab_attempt_set_reason (attempt, "WebSocket black-holed 2.0 s: starting long-poll in parallel");
  g_assert_cmpuint (reason_notifies, ==, 1);
  confab_attempt_finish_at (attempt, T0 + MS (2000), error, NULL);

  line = confab_attempt_describe (attempt);
  g_assert_cmpint (confab_attempt_get_outcome (attempt), ==, CONFAB_ATTEMPT_OUTCOME_FAILED);
  g_assert_cmpuint (confab_attempt_get_error_domain (attempt), ==, CONFAB_ERROR);
  g_assert_cmpint (confab_attempt_get_error_code (attempt), ==, CONFAB_ERROR_TIMEOUT);
  g_assert_cmpstr (confab_attempt_get_error_message (attempt), ==, "timeout");
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, CONFAB_ATTEMPT_STAGE_UPGRADING), ==, MS (1960));
  assert_contains (line, "websocket wss://chat.example:443/connect  dns 5 ms · tcp 5 ms · tls 30 ms · "
                         "upgrade 1 960 ms → failed after 2 000 ms: timeout (confab-error 2) — "
                         "WebSocket black-holed 2.0 s: starting long-poll in parallel");
}

static void
test_attempt_describe_other_errors (void)
{
  g_autoptr(ConfabAttempt) api = confab_attempt_new ("websocket", "wss://chat.example/connect", T0);
  g_autoptr(ConfabAttempt) refused = confab_attempt_new ("websocket", "wss://relay.example:8443/connect", T0);
  g_autoptr(ConfabAttempt) cancelled = confab_attempt_new ("websocket", "wss://chat.example/connect", T0);
  g_autoptr(ConfabAttempt) instant = confab_attempt_new ("sse", "https://gw.example/v1/events", T0);
  g_autoptr(GError) expired = confab_api_error_new (CONFAB_API_ERROR_TOKEN_EXPIRED, 401, "token expired");
  g_autoptr(GError) refusal = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "Connection refused");
  g_autoptr(GError) cancel = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
  g_autoptr(GError) insecure = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL, "");
  g_autofree char *api_line = NULL;
  g_autofree char *refused_line = NULL;
  g_autofree char *cancelled_line = NULL;
  g_autofree char *instant_line = NULL;

  confab_attempt_finish_at (api, T0 + MS (300), expired, "refreshing the token once");
  confab_attempt_finish_at (refused, T0 + MS (3), refusal, NULL);
  confab_attempt_finish_at (cancelled, T0 + MS (1200), cancel, "long-poll won");
  confab_attempt_finish_at (instant, T0, insecure, NULL);

  api_line = confab_attempt_describe (api);
  refused_line = confab_attempt_describe (refused);
  cancelled_line = confab_attempt_describe (cancelled);
  instant_line = confab_attempt_describe (instant);

  assert_contains (api_line, "→ failed after 300 ms: token expired (Stream code 40, HTTP 401, token expired)"
                             " — refreshing the token once");
  g_assert_cmpuint (confab_attempt_get_http_status (api), ==, 401);
  assert_contains (refused_line, "→ failed after 3 ms: Connection refused (g-io-error 39, network)");
  assert_contains (cancelled_line, "→ cancelled after 1 200 ms — long-poll won");
  g_assert_cmpint (confab_attempt_get_outcome (cancelled), ==, CONFAB_ATTEMPT_OUTCOME_CANCELLED);
  assert_contains (instant_line, "sse https://gw.example/v1/events  → failed after 0 ms: no message (confab-error 4)");
}

static void
test_attempt_error_message_sanitised (void)
{
  g_autoptr(ConfabAttempt) attempt = confab_attempt_new ("websocket", "wss://chat.example/connect", T0);
  g_autoptr(GError) error = g_error_new (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                         "bad \xff\xfe bytes\nnext line token " JWT " for bob@example.org");
  g_autofree char *line = NULL;
  const char *message;

  confab_attempt_finish_at (attempt, T0 + MS (10), error, "line\nbreak");
  message = confab_attempt_get_error_message (attempt);
  line = confab_attempt_describe (attempt);

  g_assert_true (g_utf8_validate (message, -1, NULL));
  g_assert_true (g_utf8_validate (line, -1, NULL));
  assert_contains (message, "\xef\xbf\xbd");
  g_assert_null (strchr (message, '\n'));
  g_assert_null (strchr (line, '\n'));
  g_assert_null (strstr (message, "eyJ"));
  g_assert_null (strstr (message, "bob@"));
  assert_contains (message, "[redacted]");
  assert_contains (message, "[email]");
  g_assert_cmpstr (confab_attempt_get_reason (attempt), ==, "line break");
}

static void
test_attempt_endpoint_redacted (void)
{
  g_autoptr(ConfabAttempt) url = confab_attempt_new ("websocket",
                                                     "wss://u:pw@chat.example/connect?api_key=k1k1k1&authorization="
                                                     JWT "&connection_id=c1", T0);
  g_autoptr(ConfabAttempt) label = confab_attempt_new ("websocket", "relay :8443 token=abcdef", T0);
  g_autoptr(ConfabAttempt) broken = confab_attempt_new ("websocket", "wss://[bad/connect?token=zzz", T0);
  g_autoptr(ConfabAttempt) nothing = confab_attempt_new (NULL, NULL, T0);
  g_autofree char *nothing_line = confab_attempt_describe (nothing);

  g_assert_cmpstr (confab_attempt_get_endpoint (url), ==,
                   "wss://chat.example/connect?api_key=[redacted]&authorization=[redacted]&connection_id=c1");
  g_assert_cmpstr (confab_attempt_get_endpoint (label), ==, "relay :8443 token=[redacted]");
  g_assert_cmpstr (confab_attempt_get_endpoint (broken), ==, CONFAB_REDACTED_INVALID_URL);
  assert_contains (nothing_line, "unknown (no endpoint)  → in progress");
}

static void
test_attempt_preconditions (void)
{
  g_autoptr(ConfabAttempt) attempt = confab_attempt_new ("websocket", "wss://chat.example/connect", T0);

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*stage_is_valid*");
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_NONE, T0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*stage_is_valid*");
  confab_attempt_mark_stage (attempt, (ConfabAttemptStage) 42, T0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*at_usec >= 0*");
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING, -1);
  g_test_assert_expected_messages ();

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*stage_is_valid*");
  g_assert_cmpint (confab_attempt_get_stage_duration (attempt, (ConfabAttemptStage) 7), ==, -1);
  g_test_assert_expected_messages ();

  g_assert_cmpint (confab_attempt_get_stage (attempt), ==, CONFAB_ATTEMPT_STAGE_NONE);
}

static void
test_ring_bounds (void)
{
  g_autoptr(ConfabDiagnostics) diagnostics = confab_diagnostics_new ("salt");
  g_autoptr(ConfabAttempt) first = NULL;
  g_autoptr(ConfabAttempt) last = NULL;
  g_autofree char *report = NULL;
  GListModel *attempts = confab_diagnostics_get_attempts (diagnostics);
  guint dropped_notifies = 0;

  g_signal_connect (diagnostics, "notify::dropped-attempts", G_CALLBACK (count_notify), &dropped_notifies);
  g_assert_cmpuint (confab_diagnostics_get_max_attempts (diagnostics), ==, 200);
  g_assert_true (g_list_model_get_item_type (attempts) == CONFAB_TYPE_ATTEMPT);

  for (guint i = 0; i < 250; i++)
    {
      g_autoptr(ConfabAttempt) attempt = confab_attempt_new ("websocket", "wss://chat.example/connect", T0 + i);

      confab_diagnostics_add_attempt (diagnostics, attempt);
      /* Adding the same one again does nothing. */
      confab_diagnostics_add_attempt (diagnostics, attempt);
    }

  g_assert_cmpuint (g_list_model_get_n_items (attempts), ==, 200);
  g_assert_cmpuint (confab_diagnostics_get_dropped_attempts (diagnostics), ==, 50);
  g_assert_cmpuint (dropped_notifies, ==, 50);
  first = g_list_model_get_item (attempts, 0);
  last = g_list_model_get_item (attempts, 199);
  g_assert_cmpint (confab_attempt_get_started_at (first), ==, T0 + 50);
  g_assert_cmpint (confab_attempt_get_started_at (last), ==, T0 + 249);

  report = confab_diagnostics_report (diagnostics);
  assert_contains (report, "Kept: 200 (at most 200); 50 older attempts dropped");
  assert_contains (report, "Outcomes: 0 ok, 0 failed, 0 cancelled, 200 in progress");

  /* Lowering the bound drops at once. */
  confab_diagnostics_set_max_attempts (diagnostics, 10);
  g_assert_cmpuint (g_list_model_get_n_items (attempts), ==, 10);
  g_assert_cmpuint (confab_diagnostics_get_dropped_attempts (diagnostics), ==, 240);
  g_clear_object (&first);
  first = g_list_model_get_item (attempts, 0);
  g_assert_cmpint (confab_attempt_get_started_at (first), ==, T0 + 240);
}

static void
test_ring_events_and_samples (void)
{
  g_autoptr(ConfabDiagnostics) diagnostics = confab_diagnostics_new ("salt");
  g_autofree char *report = NULL;

  for (guint i = 0; i < 600; i++)
    {
      g_autofree char *what = g_strdup_printf ("event-%04u;", i);

      confab_diagnostics_add_event (diagnostics, T0 + MS (i), what);
      confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (i), i < 550 ? "good" : "poor", 40, 0.0);
    }

  report = confab_diagnostics_report (diagnostics);
  assert_contains (report, "(100 older events dropped)");
  assert_contains (report, "; 100 older samples dropped");
  assert_contains (report, "Samples: 500,");
  assert_contains (report, "Ratings: good 450 · poor 50");
  assert_contains (report, "event-0100;");
  assert_contains (report, "event-0599;");
  g_assert_null (strstr (report, "event-0099;"));
  g_assert_null (strstr (report, "event-0000;"));
}

/* Everything a support engineer needs, from a realistic hedged connect. */
static ConfabDiagnostics *
new_populated_diagnostics (void)
{
  ConfabDiagnostics *diagnostics = confab_diagnostics_new ("install-salt-1");
  g_autoptr(ConfabAttempt) ok = new_clean_websocket_attempt (TRUE);
  g_autoptr(ConfabAttempt) black_holed = confab_attempt_new ("websocket", "wss://chat.example:443/connect", T0 + MS (60000));
  g_autoptr(ConfabAttempt) long_poll = confab_attempt_new ("longpoll", "https://chat.example/longpoll", T0 + MS (62000));
  g_autoptr(GError) timeout = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT, "timeout");
  g_autoptr(GError) cancel = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
  g_autoptr(GPtrArray) breakers = g_ptr_array_new ();

  confab_diagnostics_set_fact (diagnostics, "app version", "0.1.0");
  confab_diagnostics_set_fact (diagnostics, "libsoup", "3.2.3");
  confab_diagnostics_set_fact (diagnostics, "network available", "yes");

  g_ptr_array_add (breakers, "wss://chat.example:443/connect: open, 3 failures, retry in 8 s");
  g_ptr_array_add (breakers, "https://chat.example/longpoll: closed");
  confab_diagnostics_set_breakers (diagnostics, breakers);

  confab_diagnostics_add_attempt (diagnostics, ok);

  confab_attempt_mark_stage (black_holed, CONFAB_ATTEMPT_STAGE_RESOLVING, T0 + MS (60000));
  confab_attempt_mark_stage (black_holed, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (60010));
  confab_attempt_mark_stage (black_holed, CONFAB_ATTEMPT_STAGE_TLS, T0 + MS (60030));
  confab_attempt_mark_stage (black_holed, CONFAB_ATTEMPT_STAGE_UPGRADING, T0 + MS (60070));
  confab_diagnostics_add_attempt (diagnostics, black_holed);
  confab_attempt_set_reason (black_holed, "WebSocket black-holed 2.0 s: starting long-poll in parallel");

  confab_attempt_mark_stage (long_poll, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (62000));
  confab_attempt_mark_stage (long_poll, CONFAB_ATTEMPT_STAGE_TLS, T0 + MS (62010));
  confab_attempt_mark_stage (long_poll, CONFAB_ATTEMPT_STAGE_AUTHENTICATING, T0 + MS (62050));
  confab_attempt_mark_stage (long_poll, CONFAB_ATTEMPT_STAGE_FIRST_FRAME, T0 + MS (62110));
  confab_attempt_mark_stage (long_poll, CONFAB_ATTEMPT_STAGE_READY, T0 + MS (62200));
  confab_attempt_finish_at (long_poll, T0 + MS (62200), NULL, NULL);
  confab_diagnostics_add_attempt (diagnostics, long_poll);
  confab_attempt_finish_at (black_holed, T0 + MS (62200), cancel, "long-poll won; probing WebSocket in the background");

  {
    g_autoptr(ConfabAttempt) failed = confab_attempt_new ("websocket", "wss://chat.example:443/connect", T0 + MS (90000));

    confab_attempt_finish_at (failed, T0 + MS (92000), timeout, NULL);
    confab_diagnostics_add_attempt (diagnostics, failed);
  }

  confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (1000), "excellent", 30, 0.0);
  confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (2000), "good", 45, 0.01);
  confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (3000), "poor", 300, 0.04);
  confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (4000), "good", -1, NAN);

  confab_diagnostics_add_event (diagnostics, T0 + MS (1), "state connecting → connected");
  confab_diagnostics_add_event (diagnostics, T0 + MS (60000), "network changed: probing");

  return diagnostics;
}

static void
test_report_contents (void)
{
  g_autoptr(ConfabDiagnostics) diagnostics = new_populated_diagnostics ();
  g_autofree char *report = NULL;
  g_autofree char *hms = local_hms (T0);
  g_autofree char *clean_line = NULL;
  g_autoptr(ConfabAttempt) clean = NULL;
  const char *first_event;
  const char *second_event;

  confab_diagnostics_set_identity (diagnostics, "alice-1234", NULL, NULL, NULL);
  report = confab_diagnostics_report (diagnostics);
  g_test_message ("%s", report);

  g_assert_true (g_str_has_prefix (report, "Confab diagnostics report\nGenerated: "));
  assert_contains (report, "user ids are hashed per install");
  assert_contains (report, "User: u_");

  /* Facts in the order set. */
  assert_contains (report, "app version: 0.1.0\nlibsoup: 3.2.3\nnetwork available: yes\n");
  /* Breakers as the manager gave them. */
  assert_contains (report, "wss://chat.example:443/connect: open, 3 failures, retry in 8 s\n"
                           "https://chat.example/longpoll: closed\n");

  /* The timeline: each attempt's line, newest last, with the why. */
  clean = g_list_model_get_item (confab_diagnostics_get_attempts (diagnostics), 0);
  clean_line = confab_attempt_describe (clean);
  assert_contains (report, clean_line);
  assert_contains (report, hms);
  assert_contains (report, "upgrade 2 130 ms → cancelled after 2 200 ms — WebSocket black-holed 2.0 s: starting long-poll "
                           "in parallel; then long-poll won; probing WebSocket in the background");
  assert_contains (report, "longpoll https://chat.example/longpoll  tcp 10 ms · tls 40 ms · first frame 60 ms · "
                           "catch-up 90 ms → ok (200 ms)");
  assert_contains (report, "→ failed after 2 000 ms: timeout (confab-error 2)");
  g_assert_true (strstr (report, clean_line) < strstr (report, "longpoll https://"));
  g_assert_true (strstr (report, "longpoll https://") < strstr (report, "→ failed after 2 000 ms"));

  /* The summary. */
  assert_contains (report, "Outcomes: 2 ok, 1 failed, 1 cancelled, 0 in progress");
  assert_contains (report, "Transports: websocket 3 · longpoll 1");
  assert_contains (report, "Time to usable (successful attempts): min 110 ms · median 113 ms · max 115 ms");
  assert_contains (report, "Failures: timeout (confab-error 2) ×1");
  assert_contains (report, "Next steps chosen: WebSocket black-holed 2.0 s: starting long-poll in parallel; then long-poll "
                           "won; probing WebSocket in the background ×1");

  /* Quality history. */
  assert_contains (report, "RTT: min 30 ms · median 45 ms · max 300 ms (3 samples)");
  assert_contains (report, "Loss: mean 1.7 % · max 4.0 % (3 samples)");
  assert_contains (report, "Ratings: good 2 · excellent 1 · poor 1");
  assert_contains (report, "→ poor, RTT 300 ms, loss 4.0 %");

  /* Events, newest last. */
  first_event = strstr (report, "state connecting → connected");
  second_event = strstr (report, "network changed: probing");
  g_assert_nonnull (first_event);
  g_assert_nonnull (second_event);
  g_assert_true (first_event < second_event);

  g_assert_true (g_utf8_validate (report, -1, NULL));
  g_assert_null (strstr (report, "install-salt-1"));
}

static void
test_report_anonymised (void)
{
  g_autoptr(ConfabDiagnostics) diagnostics = new_populated_diagnostics ();
  const char *secrets[] = { "k3yk3yk3y9", JWT, "opaque-refresh-123", NULL };
  g_autoptr(ConfabAttempt) leaky = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) breakers = g_ptr_array_new ();
  g_autofree char *report = NULL;
  g_autofree char *user_hash = confab_hash_id ("alice-1234", "install-salt-1");
  g_autofree char *member_hash = confab_hash_id ("bob-5678", "install-salt-1");
  const char *leaks[] = {
    "alice", "Liddell", "rabbit", "wonder.example", "k3yk3yk3y9", "opaque-refresh", "eyJ", "bob-5678", "@",
    "SflKxwRJSMeKKF2QT4fw", "install-salt-1",
  };

  confab_diagnostics_set_identity (diagnostics, "alice-1234", "Alice Liddell", "white.rabbit42@wonder.example", secrets);
  confab_diagnostics_add_known_id (diagnostics, "bob-5678");

  /* Slipped into an endpoint URL (userinfo, query, percent-encoded JSON) ... */
  leaky = confab_attempt_new ("websocket",
                              "wss://alice-1234:k3yk3yk3y9@chat.example/connect?user_id=alice-1234"
                              "&json=%7B%22user_details%22%3A%7B%22name%22%3A%22Alice%20Liddell%22%7D%7D"
                              "&api_key=k3yk3yk3y9&authorization=" JWT "&connection_id=conn-for-alice-1234",
                              T0 + MS (100000));
  /* ... an error message ... */
  error = g_error_new (CONFAB_API_ERROR, CONFAB_API_ERROR_AUTH,
                       "user alice-1234 (Alice Liddell <white.rabbit42@wonder.example>) refused: token %s, "
                       "key k3yk3yk3y9, refresh opaque-refresh-123, peer bob-5678 \xff", JWT);
  confab_attempt_finish_at (leaky, T0 + MS (100050), error, "asking Alice to sign in again");
  confab_diagnostics_add_attempt (diagnostics, leaky);
  /* ... an event, a fact and a breaker line. */
  confab_diagnostics_add_event (diagnostics, T0 + MS (100060),
                                "signed out ALICE-1234 / alice liddell / White.Rabbit42@Wonder.Example / k3yk3yk3y9");
  confab_diagnostics_add_event (diagnostics, T0 + MS (100065), "mailbox white.rabbit42 is full");
  confab_diagnostics_add_event (diagnostics, T0 + MS (100070), "token refreshed: " JWT);
  confab_diagnostics_set_fact (diagnostics, "account", "Alice Liddell <white.rabbit42@wonder.example> via k3yk3yk3y9");
  confab_diagnostics_set_fact (diagnostics, "last user", "alice-1234");
  g_ptr_array_add (breakers, "wss://chat.example/connect?user_id=alice-1234: open for alice-1234");
  confab_diagnostics_set_breakers (diagnostics, breakers);

  report = confab_diagnostics_report (diagnostics);
  g_test_message ("%s", report);

  for (guint i = 0; i < G_N_ELEMENTS (leaks); i++)
    assert_lacks_ci (report, leaks[i]);

  /* What stays: the hashes, placeholders, the attempts and the breakers. */
  assert_contains (report, user_hash);
  assert_contains (report, member_hash);
  {
    g_autofree char *user_line = g_strdup_printf ("User: %s\n", user_hash);
    g_autofree char *fact_line = g_strdup_printf ("last user: %s\n", user_hash);
    g_autofree char *breaker_line = g_strdup_printf ("wss://chat.example/connect?user_id=[redacted]: open for %s",
                                                     user_hash);
    g_autofree char *connection = g_strdup_printf ("connection_id=conn-for-%s", user_hash);

    assert_contains (report, user_line);
    assert_contains (report, fact_line);
    assert_contains (report, breaker_line);
    assert_contains (report, connection);
  }
  assert_contains (report, "[name]");
  assert_contains (report, "[email]");
  assert_contains (report, "[redacted]");
  assert_contains (report, "(Stream code 5, auth)");
  assert_contains (report, "asking [name] to sign in again");
  assert_contains (report, "mailbox [email] is full");
  /* The breaker lines are the current ones: a new set replaces the old. */
  g_assert_null (strstr (report, "3 failures"));
  assert_contains (report, "→ ok (140 ms)");
  g_assert_true (g_utf8_validate (report, -1, NULL));
  assert_contains (report, "\xef\xbf\xbd");
}

static void
test_report_empty (void)
{
  g_autoptr(ConfabDiagnostics) diagnostics = confab_diagnostics_new (NULL);
  g_autofree char *report = confab_diagnostics_report (diagnostics);

  assert_contains (report, "Confab diagnostics report\n");
  assert_contains (report, "User: not signed in\n");
  assert_contains (report, "== Environment ==\n(none recorded)\n");
  assert_contains (report, "== Circuit breakers (now) ==\n(none reported)\n");
  assert_contains (report, "== Connection attempts (newest last) ==\n(none yet)\n");
  assert_contains (report, "== Connection quality ==\n(no samples)\n");
  assert_contains (report, "== Recent events (newest last) ==\n(none)\n");
  g_assert_true (g_str_has_suffix (report, "== End of report ==\n"));
}

static void
test_garbage_inputs (void)
{
  g_autoptr(ConfabDiagnostics) diagnostics = confab_diagnostics_new (NULL);
  g_autoptr(GPtrArray) breakers = g_ptr_array_new ();
  g_autofree char *report = NULL;
  g_autofree char *salt = g_strdup (confab_diagnostics_get_salt (diagnostics));
  const char *secrets[] = { "", NULL };

  /* A fresh salt when none is given, and again for "". */
  g_assert_cmpuint (strlen (salt), ==, 32);
  confab_diagnostics_set_salt (diagnostics, "");
  g_assert_cmpuint (strlen (confab_diagnostics_get_salt (diagnostics)), ==, 32);
  g_assert_cmpstr (confab_diagnostics_get_salt (diagnostics), !=, salt);

  confab_diagnostics_add_event (diagnostics, T0, NULL);
  confab_diagnostics_add_event (diagnostics, T0, "state\nUser: injected \xc3\x28 tail");
  confab_diagnostics_add_quality_sample (diagnostics, T0, NULL, -5, NAN);
  confab_diagnostics_add_quality_sample (diagnostics, T0 + 1, "\xff", 20, 5.0);
  confab_diagnostics_add_quality_sample (diagnostics, T0 + 2, "ok", 20, -0.5);
  confab_diagnostics_set_fact (diagnostics, "gone", "soon");
  confab_diagnostics_set_fact (diagnostics, "kept", "first");
  confab_diagnostics_set_fact (diagnostics, "gone", NULL);
  confab_diagnostics_set_fact (diagnostics, "kept", "second");
  confab_diagnostics_set_fact (diagnostics, "never set", NULL);
  confab_diagnostics_set_fact (diagnostics, "multi\nline", "v\x01v");
  g_ptr_array_add (breakers, "one");
  g_ptr_array_add (breakers, NULL);
  confab_diagnostics_set_breakers (diagnostics, breakers);
  confab_diagnostics_set_breakers (diagnostics, NULL);
  confab_diagnostics_set_identity (diagnostics, "", NULL, "not-an-email", secrets);
  confab_diagnostics_set_identity (diagnostics, NULL, NULL, NULL, NULL);
  confab_diagnostics_add_known_id (diagnostics, "");

  report = confab_diagnostics_report (diagnostics);
  g_test_message ("%s", report);
  g_assert_true (g_utf8_validate (report, -1, NULL));
  g_assert_null (strstr (report, "\nUser: injected"));
  assert_contains (report, "state User: injected \xef\xbf\xbd( tail");
  assert_contains (report, "kept: second\n");
  g_assert_null (strstr (report, "gone"));
  g_assert_null (strstr (report, "never set"));
  assert_contains (report, "multi line: v v\n");
  assert_contains (report, "(none reported)");
  assert_contains (report, "Ratings: unknown 1 · \xef\xbf\xbd 1 · ok 1");
  assert_contains (report, "Loss: mean 100.0 % · max 100.0 % (1 samples)");
  assert_contains (report, "RTT: min 20 ms · median 20 ms · max 20 ms (2 samples)");
  assert_contains (report, "User: not signed in");

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*id != NULL*");
  confab_diagnostics_add_known_id (diagnostics, NULL);
  g_test_assert_expected_messages ();

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*key != NULL*");
  confab_diagnostics_set_fact (diagnostics, NULL, "x");
  g_test_assert_expected_messages ();

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*max_attempts >= 1*");
  confab_diagnostics_set_max_attempts (diagnostics, 0);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (confab_diagnostics_get_max_attempts (diagnostics), ==, 200);

  g_test_expect_message ("confab-core", G_LOG_LEVEL_CRITICAL, "*CONFAB_IS_ATTEMPT*");
  confab_diagnostics_add_attempt (diagnostics, NULL);
  g_test_assert_expected_messages ();
}

static void
test_finalize (void)
{
  ConfabDiagnostics *diagnostics = new_populated_diagnostics ();
  ConfabAttempt *attempt = confab_attempt_new ("sse", "https://gw.example/v1/events", T0);

  confab_diagnostics_add_attempt (diagnostics, attempt);
  g_assert_finalize_object (diagnostics);
  g_assert_finalize_object (attempt);
}

/* The structured accessors Connection Details reads instead of the report text. */
static void
test_structured_accessors (void)
{
  g_autoptr(ConfabDiagnostics) diagnostics = confab_diagnostics_new ("install-salt-1");
  g_autoptr(GPtrArray) breakers = g_ptr_array_new ();
  g_auto(GStrv) lines = NULL;
  const char *rating = "unset";
  gint64 at = -1;
  int rtt = -2;
  double loss = -2;

  lines = confab_diagnostics_dup_breakers (diagnostics);
  g_assert_nonnull (lines);
  g_assert_cmpuint (g_strv_length (lines), ==, 0);
  g_clear_pointer (&lines, g_strfreev);

  g_ptr_array_add (breakers, "websocket http://127.0.0.1:80: open, 3 failures, retry in 8 s");
  g_ptr_array_add (breakers, NULL);  /* skipped */
  g_ptr_array_add (breakers, "longpoll http://127.0.0.1:80?api_key=k3yk3yk3y9: closed\nsecond line");
  confab_diagnostics_set_breakers (diagnostics, breakers);
  lines = confab_diagnostics_dup_breakers (diagnostics);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  g_assert_cmpstr (lines[0], ==, "websocket http://127.0.0.1:80: open, 3 failures, retry in 8 s");
  /* Redacted to one line, secrets out, as in the report. */
  g_assert_null (strchr (lines[1], '\n'));
  g_assert_null (strstr (lines[1], "k3yk3yk3y9"));
  g_assert_true (g_str_has_prefix (lines[1], "longpoll http://127.0.0.1:80"));
  g_clear_pointer (&lines, g_strfreev);
  confab_diagnostics_set_breakers (diagnostics, NULL);
  lines = confab_diagnostics_dup_breakers (diagnostics);
  g_assert_cmpuint (g_strv_length (lines), ==, 0);

  g_assert_cmpuint (confab_diagnostics_get_n_quality_samples (diagnostics), ==, 0);
  g_assert_false (confab_diagnostics_get_quality_sample (diagnostics, 0, &at, &rating, &rtt, &loss));
  g_assert_cmpint (at, ==, -1);  /* untouched */
  g_assert_cmpstr (rating, ==, "unset");

  confab_diagnostics_add_quality_sample (diagnostics, T0, "good", 80, 0.01);
  confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (1000), NULL, -5, NAN);
  confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (2000), "poor", 900, 7.0);
  g_assert_cmpuint (confab_diagnostics_get_n_quality_samples (diagnostics), ==, 3);
  g_assert_true (confab_diagnostics_get_quality_sample (diagnostics, 0, &at, &rating, &rtt, &loss));
  g_assert_cmpint (at, ==, T0);
  g_assert_cmpstr (rating, ==, "good");
  g_assert_cmpint (rtt, ==, 80);
  g_assert_cmpfloat_with_epsilon (loss, 0.01, 1e-9);
  g_assert_true (confab_diagnostics_get_quality_sample (diagnostics, 1, &at, &rating, &rtt, &loss));
  g_assert_cmpint (at, ==, T0 + MS (1000));
  g_assert_cmpstr (rating, ==, "unknown");
  g_assert_cmpint (rtt, ==, -1);
  g_assert_true (isnan (loss));
  g_assert_true (confab_diagnostics_get_quality_sample (diagnostics, 2, NULL, NULL, NULL, &loss));
  g_assert_cmpfloat (loss, ==, 1.0);
  g_assert_false (confab_diagnostics_get_quality_sample (diagnostics, 3, NULL, NULL, NULL, NULL));

  /* Bounded: the oldest go first. */
  for (guint i = 0; i < CONFAB_DIAGNOSTICS_MAX_QUALITY_SAMPLES; i++)
    confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (10000 + i), "excellent", (int) i, 0);
  g_assert_cmpuint (confab_diagnostics_get_n_quality_samples (diagnostics), ==, CONFAB_DIAGNOSTICS_MAX_QUALITY_SAMPLES);
  g_assert_true (confab_diagnostics_get_quality_sample (diagnostics, 0, &at, NULL, &rtt, NULL));
  g_assert_cmpint (at, ==, T0 + MS (10000));
  g_assert_cmpint (rtt, ==, 0);
}

static void
count_changed (ConfabDiagnostics *diagnostics,
               guint             *count)
{
  (*count)++;
}

/* Iterates the default context until *count reaches @n or 5 s pass. */
static gboolean
wait_changed (guint *count,
              guint  n)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (*count < n && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  return *count >= n;
}

/* Ends the wait of drain_idle(). */
static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default context for @ms (a timeout of the test's own, not a sleep: whatever
 * the diagnostics scheduled within that time runs too). */
static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* ::changed: after attempts (added, progressing, dropped), breakers and quality change;
 * many changes at once are one emission; no timer while nothing changes or nobody
 * listens. */
/* Whether @diagnostics has a source in the default context (its ::changed timer). */
static gboolean
has_timer (ConfabDiagnostics *diagnostics)
{
  return g_main_context_find_source_by_user_data (NULL, diagnostics) != NULL;
}

static void
test_changed_signal (void)
{
  g_autoptr(ConfabDiagnostics) diagnostics = confab_diagnostics_new ("install-salt-1");
  g_autoptr(ConfabAttempt) attempt = confab_attempt_new ("websocket", "wss://chat.example/connect", T0);
  g_autoptr(ConfabAttempt) second = confab_attempt_new ("longpoll", "https://chat.example/longpoll", T0);
  g_autoptr(GPtrArray) breakers = g_ptr_array_new ();
  guint changed = 0;
  gint64 start;

  /* Nobody listens: nothing scheduled. */
  confab_diagnostics_add_quality_sample (diagnostics, T0, "good", 10, 0);
  g_assert_false (has_timer (diagnostics));

  g_signal_connect (diagnostics, "changed", G_CALLBACK (count_changed), &changed);

  /* A burst: one emission, not before the interval. */
  start = g_get_monotonic_time ();
  confab_diagnostics_add_attempt (diagnostics, attempt);
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_RESOLVING, T0);
  for (guint i = 0; i < 50; i++)
    confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (i), "good", (int) i, 0);
  g_ptr_array_add (breakers, "websocket wss://chat.example:443: closed");
  confab_diagnostics_set_breakers (diagnostics, breakers);
  g_assert_cmpuint (changed, ==, 0);
  g_assert_true (wait_changed (&changed, 1));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 200 * 1000);
  run_for (400);
  g_assert_cmpuint (changed, ==, 1);

  /* Idle: no timer left behind. */
  g_assert_false (has_timer (diagnostics));

  /* The same breaker lines again: no change. */
  confab_diagnostics_set_breakers (diagnostics, breakers);
  g_assert_false (has_timer (diagnostics));
  run_for (300);
  g_assert_cmpuint (changed, ==, 1);

  /* Each kind of change on its own. */
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (5));
  g_assert_true (wait_changed (&changed, 2));
  g_ptr_array_index (breakers, 0) = "websocket wss://chat.example:443: open, 3 failures, retry in 15 s";
  confab_diagnostics_set_breakers (diagnostics, breakers);
  g_assert_true (wait_changed (&changed, 3));
  confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (100), "poor", 700, 0.2);
  g_assert_true (wait_changed (&changed, 4));
  confab_diagnostics_add_attempt (diagnostics, second);
  g_assert_true (wait_changed (&changed, 5));

  /* A dropped attempt no longer counts as a change. */
  confab_diagnostics_set_max_attempts (diagnostics, 1);
  g_assert_true (wait_changed (&changed, 6));
  g_assert_cmpuint (g_list_model_get_n_items (confab_diagnostics_get_attempts (diagnostics)), ==, 1);
  confab_attempt_mark_stage (attempt, CONFAB_ATTEMPT_STAGE_TLS, T0 + MS (9));
  g_assert_false (has_timer (diagnostics));

  /* Disposed with a change pending: the timer goes with it. */
  confab_diagnostics_add_quality_sample (diagnostics, T0 + MS (200), "good", 10, 0);
  g_assert_true (has_timer (diagnostics));
  g_clear_object (&diagnostics);
  run_for (400);
  g_assert_cmpuint (changed, ==, 6);
  /* The attempt outlives the diagnostics without a dangling handler. */
  confab_attempt_mark_stage (second, CONFAB_ATTEMPT_STAGE_CONNECTING, T0 + MS (9));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/diagnostics/attempt/stage-durations", test_attempt_stage_durations);
  g_test_add_func ("/core/diagnostics/attempt/skipped-stages", test_attempt_skipped_stages);
  g_test_add_func ("/core/diagnostics/attempt/describe-success", test_attempt_describe_success);
  g_test_add_func ("/core/diagnostics/attempt/describe-failure", test_attempt_describe_failure);
  g_test_add_func ("/core/diagnostics/attempt/describe-other-errors", test_attempt_describe_other_errors);
  g_test_add_func ("/core/diagnostics/attempt/error-message-sanitised", test_attempt_error_message_sanitised);
  g_test_add_func ("/core/diagnostics/attempt/endpoint-redacted", test_attempt_endpoint_redacted);
  g_test_add_func ("/core/diagnostics/attempt/preconditions", test_attempt_preconditions);
  g_test_add_func ("/core/diagnostics/ring/attempts", test_ring_bounds);
  g_test_add_func ("/core/diagnostics/ring/events-and-samples", test_ring_events_and_samples);
  g_test_add_func ("/core/diagnostics/report/contents", test_report_contents);
  g_test_add_func ("/core/diagnostics/report/anonymised", test_report_anonymised);
  g_test_add_func ("/core/diagnostics/report/empty", test_report_empty);
  g_test_add_func ("/core/diagnostics/garbage-inputs", test_garbage_inputs);
  g_test_add_func ("/core/diagnostics/finalize", test_finalize);
  g_test_add_func ("/core/diagnostics/structured-accessors", test_structured_accessors);
  g_test_add_func ("/core/diagnostics/changed-signal", test_changed_signal);

  return g_test_run ();
}
