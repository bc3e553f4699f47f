/* core-test-util.h: shared helpers for the core tests (waits, the sandbox, REST, fakes)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Waiting ------------------------------------------------------------------------------ */

typedef gboolean (*CoreTestCondition) (gpointer user_data);

/* Iterates the thread-default main context until @condition holds or @timeout_ms pass;
 * returns the condition's last value (so FALSE means the deadline passed). */
gboolean     core_test_wait_until          (CoreTestCondition   condition,
                                            gpointer            user_data,
                                            guint               timeout_ms);
/* The same for `*flag` becoming TRUE. */
gboolean     core_test_wait_flag           (const gboolean     *flag,
                                            guint               timeout_ms);
/* The same for `*counter >= at_least`. */
gboolean     core_test_wait_count          (const guint        *counter,
                                            guint               at_least,
                                            guint               timeout_ms);
/* Monotonic milliseconds since @start_us (a g_get_monotonic_time() value). */
gint64       core_test_elapsed_ms          (gint64              start_us);

/* Open file descriptors of this process (/proc/self/fd), or -1. */
int          core_test_count_fds           (void);

/* The sandbox --------------------------------------------------------------------------- */

typedef struct
{
  GSubprocess *process;
  char        *url;      /* http://127.0.0.1:PORT, no trailing slash */
  char        *api_key;
} CoreTestSandbox;

/* The binary from $CONFAB_SANDBOX, else the default build path; NULL if not executable. */
char            *core_test_sandbox_path        (void);
/* Spawns `confab-sandbox --listen 127.0.0.1:0 --api-key @api_key --api-secret @api_secret
 * @extra_args…` and waits (5 s at most) for its ready line. */
CoreTestSandbox *core_test_sandbox_start       (const char        *api_key,
                                                const char        *api_secret,
                                                const char *const *extra_args,
                                                GError           **error);
/* SIGTERM, then waits for the exit (SIGKILL after 3 s). */
void             core_test_sandbox_stop        (CoreTestSandbox   *sandbox);
/* SIGSTOP, then wait until the kernel reports the process stopped, so nothing it had not
 * yet sent can arrive after this returns TRUE. */
gboolean         core_test_sandbox_pause       (CoreTestSandbox   *sandbox,
                                                guint              timeout_ms);
/* POST /sandbox/demo-token for a --demo sandbox; NULL on failure. */
char            *core_test_sandbox_demo_token  (CoreTestSandbox   *sandbox,
                                                const char        *user_id,
                                                GError           **error);
/* GET /sandbox/stats → the integer @member ("connections", "websocket", "longpoll"), or -1. */
gint64           core_test_sandbox_stat        (CoreTestSandbox   *sandbox,
                                                const char        *member);
/* Polls /sandbox/stats until @member equals @value or @timeout_ms pass. */
gboolean         core_test_sandbox_wait_stat   (CoreTestSandbox   *sandbox,
                                                const char        *member,
                                                gint64             value,
                                                guint              timeout_ms);

/* POST /sandbox/rate-limit (a --demo sandbox): the next @count requests for exactly
 * @path answer HTTP 429 / code 9, with `Retry-After: @retry_after` (NULL: none) and
 * `X-RateLimit-Reset: @reset` (0: none). */
gboolean         core_test_sandbox_rate_limit  (CoreTestSandbox   *sandbox,
                                                const char        *path,
                                                guint              count,
                                                const char        *retry_after,
                                                gint64             reset,
                                                GError           **error);
/* Sends @n messages "@prefix 1" … "@prefix n" as @user_id (with @token) to @cid, over
 * one keep-alive session, a few at a time; returns their ids (a GPtrArray of char *) in
 * the order the server created them. Fails the test on any error. */
GPtrArray       *core_test_sandbox_post_messages (CoreTestSandbox *sandbox,
                                                  const char      *token,
                                                  const char      *user_id,
                                                  const char      *cid,
                                                  const char      *prefix,
                                                  guint            n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoreTestSandbox, core_test_sandbox_stop)

/* REST --------------------------------------------------------------------------------- */

/* One HTTP call through the main context (5 s deadline). @token goes in Authorization
 * with stream-auth-type: jwt when not NULL; @body is JSON or NULL. Returns the answer's
 * JSON object (or an empty object for an empty body) and its status in @out_status;
 * NULL with @error when there was no answer or it was not a JSON object. */
JsonObject  *core_test_rest                (const char         *method,
                                            const char         *url,
                                            const char         *token,
                                            const char         *body,
                                            guint              *out_status,
                                            GError            **error);

/* Fakes --------------------------------------------------------------------------------- */

/* A SoupServer listening on 127.0.0.1 only, on a free port; *out_url is
 * http://127.0.0.1:PORT. */
SoupServer  *core_test_soup_server_new     (char              **out_url,
                                            GError            **error);

/* A TCP server on 127.0.0.1 that accepts connections and never reads or answers. */
typedef struct
{
  GSocketService *service;
  guint16         port;
  GPtrArray      *connections;  /* GSocketConnection, accepted */
  guint           n_closed;     /* peers seen gone after core_test_black_hole_watch() */
  GCancellable   *watching;
  guint           pending_reads;
} CoreTestBlackHole;

CoreTestBlackHole *core_test_black_hole_new   (GError           **error);
/* From now on, read (and drop) what each accepted peer sends to notice when it hangs up. */
void               core_test_black_hole_watch (CoreTestBlackHole *hole);
void               core_test_black_hole_free  (CoreTestBlackHole *hole);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoreTestBlackHole, core_test_black_hole_free)

/* A loopback port nothing listens on (bound, noted, closed). 0 on failure. */
guint16      core_test_refused_port        (void);

/* An HS256 JWT of @payload_json signed with @secret (base64url, no padding), as Stream's
 * server SDKs mint them: the sandbox verifies it, the client does not. */
char *core_test_sign_jwt (const char *payload_json,
                          const char *secret);

G_END_DECLS
