/* sandbox-test-util.h: an in-process sandbox server and real HTTP/WebSocket clients for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Everything here runs on the thread-default main context: the server, the SoupSession
 * and every wait. A test never sleeps; it waits with SANDBOX_WAIT_UNTIL (or a helper that
 * uses it) for something observable to happen, and fails when a deadline passes.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "confab-sandbox-server.h"
#include "confab-sandbox-store.h"

G_BEGIN_DECLS

#define SANDBOX_TEST_API_KEY    "test-key"
#define SANDBOX_TEST_API_SECRET "test-secret-0123456789abcdef"
/* How long any single wait may take before the test fails. Generous, because a
 * sanitizer build is several times slower; a passing test never waits this long. */
#define SANDBOX_TEST_DEADLINE_MS 30000

/* Waiting ------------------------------------------------------------------------- */

typedef gboolean (*SandboxCondition) (gpointer user_data);

/* Iterates the thread-default main context until @condition returns TRUE (TRUE) or
 * @timeout_ms pass (FALSE). Blocks in poll between events: no busy loop, no sleep. */
gboolean sandbox_wait_until (SandboxCondition condition,
                             gpointer         user_data,
                             guint            timeout_ms);

/* The pieces SANDBOX_WAIT_UNTIL is made of; use the macro. */
typedef struct {
  gint64 deadline;   /* monotonic µs */
  guint  wake_id;    /* a timeout at the deadline, so a blocking iteration returns */
} SandboxWait;

void     sandbox_wait_begin   (SandboxWait *wait,
                               guint        timeout_ms);
gboolean sandbox_wait_iterate (SandboxWait *wait);   /* FALSE once the deadline passed */
void     sandbox_wait_end     (SandboxWait *wait);

/* Waits until the C expression @cond is true; fails the test (as g_assert does) naming
 * the expression when @timeout_ms pass first. @cond is re-evaluated after every main
 * context iteration, so it may read state that signal handlers update. */
#define SANDBOX_WAIT_UNTIL(cond, timeout_ms)                                          \
  G_STMT_START {                                                                      \
    SandboxWait sandbox_wait_;                                                        \
    sandbox_wait_begin (&sandbox_wait_, (timeout_ms));                                \
    while (!(cond))                                                                   \
      {                                                                               \
        if (!sandbox_wait_iterate (&sandbox_wait_))                                   \
          {                                                                           \
            sandbox_wait_end (&sandbox_wait_);                                        \
            g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC,         \
                                 "timed out waiting for: " #cond);                    \
          }                                                                           \
      }                                                                               \
    sandbox_wait_end (&sandbox_wait_);                                                \
  } G_STMT_END

/* The fixture ---------------------------------------------------------------------- */

/* Server settings a test can ask for; sandbox_fixture_options_default () gives the
 * server's own defaults (WebSocket on, no demo, no dev tokens, 20 s long-poll hold). */
typedef struct {
  gboolean demo;
  gboolean websocket_enabled;
  gboolean allow_dev_tokens;
  guint    longpoll_hold_seconds;
} SandboxFixtureOptions;

typedef struct {
  ConfabSandboxStore  *store;          /* in memory */
  ConfabSandboxServer *server;         /* listening on 127.0.0.1, a free port */
  SoupSession         *session;        /* the client side, real sockets */
  char                *url;            /* "http://127.0.0.1:PORT", no trailing slash */
  char                *ws_url;         /* "ws://127.0.0.1:PORT" */
  char                *server_token;   /* {"server":true} signed with the secret */
} SandboxFixture;

SandboxFixtureOptions sandbox_fixture_options_default (void);

/* @options may be NULL for the defaults. Asserts on any failure. */
void  sandbox_fixture_init           (SandboxFixture              *fixture,
                                      const SandboxFixtureOptions *options);
/* Closes every client, disposes the server and asserts it was finalized. */
void  sandbox_fixture_clear          (SandboxFixture              *fixture);

/* A user JWT (no exp, iat) for @user_id, signed with the fixture's secret. */
char *sandbox_fixture_user_token     (SandboxFixture              *fixture,
                                      const char                  *user_id);

/* REST ----------------------------------------------------------------------------- */

typedef struct {
  guint               status;
  GBytes             *raw;        /* the response body as received */
  JsonObject         *body;       /* raw parsed, or NULL if it is not a JSON object */
  SoupMessageHeaders *headers;    /* response headers */
  GError             *error;      /* transport error (then status is 0) */
} SandboxResponse;

void sandbox_response_free (SandboxResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SandboxResponse, sandbox_response_free)

/* A SoupMessage for @method on @url + @path (@path may carry a query string and is
 * used exactly as given: no api_key is added). @token, if not NULL, becomes the raw
 * Authorization header; @body, if not NULL, is sent as application/json with
 * @body_length bytes (-1: strlen). */
SoupMessage     *sandbox_fixture_new_message (SandboxFixture *fixture,
                                              const char     *method,
                                              const char     *path,
                                              const char     *token,
                                              const char     *body,
                                              gssize          body_length);

/* Sends @msg on @session and waits for the whole response; never NULL. */
SandboxResponse *sandbox_send                (SoupSession    *session,
                                              SoupMessage    *msg);

/* The same in two steps, for a request that is answered later (a held long-poll):
 * sandbox_send_start returns at once; sandbox_request_is_done tells whether the
 * response is in; sandbox_request_finish waits for it and frees @request. */
typedef struct _SandboxRequest SandboxRequest;

SandboxRequest  *sandbox_send_start          (SoupSession    *session,
                                              SoupMessage    *msg);
gboolean         sandbox_request_is_done     (SandboxRequest *request);
SandboxResponse *sandbox_request_finish      (SandboxRequest *request);

/* The usual call: adds api_key=<key> to @path's query, @token as Authorization.
 * @body is a JSON text or NULL. */
SandboxResponse *sandbox_fixture_call        (SandboxFixture *fixture,
                                              const char     *method,
                                              const char     *path,
                                              const char     *token,
                                              const char     *body);

/* The same, asserting a 2xx answer with a JSON object body; returns that body (owned). */
JsonObject      *sandbox_fixture_call_ok     (SandboxFixture *fixture,
                                              const char     *method,
                                              const char     *path,
                                              const char     *token,
                                              const char     *body);

/* Writes @request_text (a whole HTTP/1.1 request; say "Connection: close") as is on a new
 * TCP connection and reads until the server closes it. For requests libsoup will not
 * build, such as a path with a malformed percent-escape. */
SandboxResponse *sandbox_fixture_raw_request (SandboxFixture *fixture,
                                              const char     *request_text);

/* Asserts Stream's error shape {code, message, StatusCode, duration, more_info} with
 * HTTP @status, StatusCode @status and @code. */
#define sandbox_assert_stream_error(response, status, code) \
  sandbox_assert_stream_error_impl ((response), (status), (code), __FILE__, __LINE__)
void sandbox_assert_stream_error_impl (SandboxResponse *response,
                                       guint            status,
                                       int              code,
                                       const char      *file,
                                       int              line);

/* Seeding through the REST API with the server token. */
void sandbox_fixture_create_users    (SandboxFixture *fixture,
                                      const char     *first_user_id,
                                      ...) G_GNUC_NULL_TERMINATED;
/* POST /channels/@type/@id/query {"data":{"members":[…],"created_by_id":@creator}};
 * @creator is also made a member. */
void sandbox_fixture_create_channel  (SandboxFixture *fixture,
                                      const char     *type,
                                      const char     *id,
                                      const char     *creator,
                                      const char     *first_member,
                                      ...) G_GNUC_NULL_TERMINATED;

/* JSON helpers ----------------------------------------------------------------------- */

/* Parses @data as a JSON object; NULL if it is not one. */
JsonObject *sandbox_json_parse_object (const char *data,
                                       gssize      length);
/* A member by dotted path ("message.user.id") or NULL; intermediate members must be
 * objects. */
JsonNode   *sandbox_json_lookup       (JsonObject *object,
                                       const char *path);
const char *sandbox_json_get_string   (JsonObject *object,
                                       const char *path);
/* -1 when absent or not an integer. */
gint64      sandbox_json_get_int      (JsonObject *object,
                                       const char *path);
gboolean    sandbox_is_uuid           (const char *text);

/* WebSocket client ----------------------------------------------------------------- */

typedef struct {
  SoupWebsocketConnection *ws;            /* NULL until connected (or if it failed) */
  SoupMessage             *msg;           /* the upgrade request */
  GCancellable            *cancellable;
  gboolean                 connect_done;  /* the handshake finished, either way */
  GError                  *connect_error; /* why it failed */
  GPtrArray               *frames;        /* JsonObject *: every text frame that is a JSON object */
  guint                    n_other;       /* text frames that were not JSON objects, binary frames */
  gboolean                 closed;        /* the "closed" signal came */
  gushort                  close_code;    /* the peer's close code, once closed */
  char                    *connection_id; /* from the first health.check, if any */
} SandboxWs;

void       sandbox_ws_free          (SandboxWs      *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SandboxWs, sandbox_ws_free)

/* Starts a WebSocket handshake with @msg (a GET on ws://…/connect…) and returns at once;
 * frames are collected from the moment the socket opens. */
SandboxWs *sandbox_ws_start         (SoupSession    *session,
                                     SoupMessage    *msg);

/* The /connect URL the JS SDK builds: json={"user_id","user_details":{"id":…}},
 * api_key, authorization=@token, stream-auth-type=jwt; @user_details_json replaces the
 * default user_details if not NULL; a NULL @token leaves authorization out. */
char      *sandbox_fixture_connect_url (SandboxFixture *fixture,
                                        const char     *user_id,
                                        const char     *token,
                                        const char     *user_details_json);

/* Connects @user_id with a fresh token (query-parameter form), asserts the handshake
 * and the first frame (a health.check), and records its connection_id. */
SandboxWs *sandbox_fixture_ws_connect  (SandboxFixture *fixture,
                                        const char     *user_id);

/* Waits for the handshake to end; returns whether the socket opened. */
gboolean   sandbox_ws_wait_open     (SandboxWs      *client);
/* Waits for the first frame (index >= @from) of @type and returns it (borrowed);
 * fails the test at the deadline. */
JsonObject *sandbox_ws_wait_for_type (SandboxWs     *client,
                                      const char    *type,
                                      guint          from);
/* Number of frames of @type received so far (at index >= @from). */
guint      sandbox_ws_count_type    (SandboxWs      *client,
                                     const char     *type,
                                     guint           from);
/* Sends the JS SDK's ping and waits for the health.check that answers it; returns it
 * (borrowed). Everything the server sent on this socket before the reply has arrived
 * by then, so it doubles as a sentinel for "nothing else came". */
JsonObject *sandbox_ws_ping         (SandboxWs      *client);
/* Closes with 1000 and waits until the socket is closed. */
void       sandbox_ws_close         (SandboxWs      *client);
/* Waits until the peer closed the socket. */
void       sandbox_ws_wait_closed   (SandboxWs      *client);

G_END_DECLS
