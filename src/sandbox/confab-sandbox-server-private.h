/* confab-sandbox-server-private.h: what the server's route files share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-sandbox-error.h"
#include "confab-sandbox-json.h"
#include "confab-sandbox-jwt.h"
#include "confab-sandbox-server.h"

G_BEGIN_DECLS

struct _ConfabSandboxServer
{
  GObject                parent_instance;

  char                  *api_key;
  char                  *api_secret;
  gboolean               allow_dev_tokens;
  gboolean               websocket_enabled;
  gboolean               demo;
  guint                  longpoll_hold;
  guint                  longpoll_idle;

  ConfabSandboxStore    *store;
  ConfabSandboxHub      *hub;
  ConfabSandboxWebhooks *webhooks;
  SoupServer            *soup;
  gulong                 presence_id;
  GPtrArray             *rate_limits;   /* ConfabSandboxRateLimit, from /sandbox/rate-limit */
};

/* POST /sandbox/rate-limit (with --demo): the next @remaining requests for @path answer
 * HTTP 429 / code 9 with these headers, as Stream does when an app or user sends too much. */
typedef struct
{
  char   *path;
  guint   remaining;
  char   *retry_after;   /* Retry-After as given (seconds or an HTTP-date), or NULL */
  gint64  reset;         /* X-RateLimit-Reset (Unix seconds), or 0 */
} ConfabSandboxRateLimit;

void        _confab_sandbox_rate_limit_free      (ConfabSandboxRateLimit *limit);
gboolean    _confab_sandbox_rate_limited         (ConfabSandboxServer  *self,
                                                  SoupServerMessage    *msg,
                                                  const char           *path);

/* One authenticated REST call. */
typedef struct
{
  ConfabSandboxServer     *server;
  SoupServerMessage       *msg;
  char                   **params;       /* the path's '*' segments, decoded */
  GHashTable              *query;        /* may be NULL */
  JsonObject              *body;         /* never NULL: {} without a body */
  const char              *user_id;      /* NULL with a server token */
  gboolean                 server_auth;
  ConfabSandboxConnection *connection;   /* from ?connection_id=, may be NULL */
  ConfabSandboxClaims      claims;
} ConfabSandboxRequest;

typedef JsonObject *(*ConfabSandboxRoute) (ConfabSandboxRequest *request,
                                           GError              **error);

const char *_confab_sandbox_request_query        (ConfabSandboxRequest *request,
                                                  const char           *name);
const char *_confab_sandbox_request_acting_user  (ConfabSandboxRequest *request,
                                                  JsonObject           *object,
                                                  GError              **error);

/* Responses */
void        _confab_sandbox_respond_json         (SoupServerMessage    *msg,
                                                  guint                 status,
                                                  const char           *body);
void        _confab_sandbox_respond_error        (SoupServerMessage    *msg,
                                                  const GError         *error,
                                                  guint                 status);
void        _confab_sandbox_respond_error_literal (SoupServerMessage   *msg,
                                                  guint                 status,
                                                  int                   code,
                                                  const char           *message);

/* Events */
JsonObject *_confab_sandbox_event_new            (const char           *type);
JsonObject *_confab_sandbox_channel_event_new    (ConfabSandboxServer  *self,
                                                  const char           *type,
                                                  const char           *cid,
                                                  const char           *user_id);
void        _confab_sandbox_server_publish       (ConfabSandboxServer  *self,
                                                  const char           *cid,
                                                  JsonObject           *event,
                                                  gboolean              personal_unread);
void        _confab_sandbox_server_webhook       (ConfabSandboxServer  *self,
                                                  JsonObject           *event);
void        _confab_sandbox_server_add_unread    (ConfabSandboxServer  *self,
                                                  JsonObject           *event,
                                                  const char           *cid,
                                                  const char           *user_id);
JsonObject *_confab_sandbox_server_me            (ConfabSandboxServer  *self,
                                                  JsonObject           *user);
void        _confab_sandbox_server_set_online    (ConfabSandboxServer  *self,
                                                  JsonObject           *user);
void        _confab_sandbox_server_set_nested_online (ConfabSandboxServer *self,
                                                      JsonObject          *object,
                                                      const char          *member);
JsonObject *_confab_sandbox_server_channel_state (ConfabSandboxServer  *self,
                                                  const char           *cid,
                                                  const char           *user_id,
                                                  const ConfabSandboxPage *page,
                                                  guint                 member_limit,
                                                  GError              **error);
JsonArray  *_confab_sandbox_array_from_objects   (GPtrArray            *objects);

/* Realtime transports (confab-sandbox-realtime.c) */
void        _confab_sandbox_realtime_setup       (ConfabSandboxServer  *self);
void        _confab_sandbox_longpoll             (ConfabSandboxServer  *self,
                                                  SoupServerMessage    *msg,
                                                  GHashTable           *query);

/* Routes */
JsonObject *_confab_sandbox_api_query_channels   (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_query_channel    (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_stop_watching    (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_send_event       (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_mark_read        (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_mark_all_read    (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_send_message     (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_messages_by_id   (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_get_message      (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_update_message   (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_delete_message   (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_query_users      (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_upsert_users     (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_update_users     (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_sync             (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_app              (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_hi               (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_demo_token       (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_stats            (ConfabSandboxRequest *request, GError **error);
JsonObject *_confab_sandbox_api_rate_limit       (ConfabSandboxRequest *request, GError **error);

G_END_DECLS
