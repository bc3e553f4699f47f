/* manager-test-util.h: what the connection manager's test programs share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-connection-manager.h"
#include "confab-outbox.h"
#include "core-test-util.h"

G_BEGIN_DECLS

#define API_KEY     "cm-key"
#define API_SECRET  "cm-secret"
#define DEADLINE_MS 10000

/* A network monitor the test switches: network-available, and "network-changed". */
#define TEST_TYPE_MONITOR (test_monitor_get_type ())
G_DECLARE_FINAL_TYPE (TestMonitor, test_monitor, TEST, MONITOR, GObject)

void                     test_monitor_set_available (TestMonitor             *self,
                                                     gboolean                 available);
/* Whether loopback addresses can be reached while network-available is FALSE (as with
 * the system's monitor); by default nothing can. */
void                     test_monitor_set_loopback_reachable (TestMonitor    *self,
                                                     gboolean                 reachable);
/* Emits "network-changed" without changing anything. */
void                     test_monitor_network_changed (TestMonitor           *self);

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
  gint64    finished_us;
} ConnectResult;

/* A GAsyncReadyCallback for confab_connection_manager_connect_async(): fills the
 * ConnectResult in @user_data. */
void                     connect_done               (GObject                 *source,
                                                     GAsyncResult            *result,
                                                     gpointer                 user_data);
/* Iterates the main context until the state is @state (FALSE at the deadline). */
gboolean                 wait_state                 (ConfabConnectionManager *manager,
                                                     ConfabConnectionState    state,
                                                     guint                    timeout_ms);
/* A notify::state handler appending each new state to the GArray in @states. */
void                     record_state               (GObject                 *object,
                                                     GParamSpec              *pspec,
                                                     GArray                  *states);
/* Attempts in the manager's diagnostics. */
guint                    n_attempts                 (ConfabConnectionManager *manager);
/* A sandbox with API_KEY and API_SECRET; asserts it started. */
CoreTestSandbox         *start_sandbox              (const char *const       *extra);
/* A static provider with @user_id's demo token (also in *@out_token if not NULL). */
ConfabTokenProvider     *demo_token_provider        (CoreTestSandbox         *sandbox,
                                                     const char              *user_id,
                                                     char                   **out_token);
ConfabConnectionManager *new_manager                (const char              *base_url,
                                                     ConfabTokenProvider     *provider,
                                                     TestMonitor             *monitor,
                                                     guint                    hedge_ms,
                                                     ConfabOutbox            *outbox,
                                                     const char              *state_dir);
/* Connects and waits (DEADLINE_MS, or @timeout_ms, at most); FALSE with @error on failure. */
gboolean                 connect_and_wait           (ConfabConnectionManager *manager,
                                                     const char              *user_id,
                                                     GError                 **error);
gboolean                 connect_and_wait_for       (ConfabConnectionManager *manager,
                                                     const char              *user_id,
                                                     guint                    timeout_ms,
                                                     GError                 **error);
/* HS256 tokens for @user_id signed with @secret, with an exp (0: none). */
char                    *make_token_exp             (const char              *user_id,
                                                     const char              *secret,
                                                     gint64                   exp);
char                    *make_token                 (const char              *user_id,
                                                     const char              *secret);
/* Whether the manager's diagnostics report holds @needle. */
gboolean                 report_has                 (ConfabConnectionManager *manager,
                                                     const char              *needle);

G_END_DECLS
