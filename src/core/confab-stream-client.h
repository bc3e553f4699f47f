/* confab-stream-client.h: Stream Chat's REST API, as its own SDK speaks it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "confab-token-provider.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_STREAM_CLIENT (confab_stream_client_get_type ())

G_DECLARE_FINAL_TYPE (ConfabStreamClient, confab_stream_client, CONFAB, STREAM_CLIENT, GObject)

/* Every request carries, as in stream-chat-protocol.md §5.4: `Authorization: <raw JWT>`
 * (no "Bearer"), `stream-auth-type: jwt`, `X-Stream-Client: confab-<version>`, a fresh
 * UUIDv4 in `x-client-request-id`, and `api_key`, `user_id` and (once set)
 * `connection_id` in the query. Bodies are JSON; a GET's body goes JSON-encoded in
 * `?payload=`.
 *
 * Answers: a 2xx JSON object is the result. Stream's error JSON becomes
 * confab_api_error_new (code, HTTP status, Stream's message). Any other answer (a proxy's
 * HTML 502, an empty or truncated body, a redirect, more than 16 MiB) is CONFAB_ERROR_SERVER
 * (5xx), CONFAB_ERROR_RATE_LIMITED (429) or CONFAB_ERROR_PROTOCOL, naming the HTTP status.
 * Transport errors are GIO/TLS errors as they come (see confab_error_classify()); an
 * untrusted certificate is never accepted. No answer within ConfabStreamClient:timeout-ms
 * → CONFAB_ERROR_TIMEOUT. Code 40 (token expired) makes the client ask the token provider
 * for a fresh token and replay the request once; other auth errors are never retried.
 *
 * Everything runs in the thread-default main context of the thread that created the
 * client. */

/* Fails with CONFAB_ERROR_INSECURE_URL unless @base_url is https:// (or http:// to
 * loopback), e.g. "https://chat.stream-io-api.com" or "http://127.0.0.1:8080". */
ConfabStreamClient  *confab_stream_client_new                    (const char           *base_url,
                                                                  const char           *api_key,
                                                                  const char           *user_id,
                                                                  ConfabTokenProvider  *token_provider,
                                                                  GError              **error);

const char          *confab_stream_client_get_base_url           (ConfabStreamClient   *self);
const char          *confab_stream_client_get_api_key            (ConfabStreamClient   *self);
const char          *confab_stream_client_get_user_id            (ConfabStreamClient   *self);
ConfabTokenProvider *confab_stream_client_get_token_provider     (ConfabStreamClient   *self);
const char          *confab_stream_client_get_connection_id      (ConfabStreamClient   *self);
/* The transport sets it once its connection is usable, and clears it (NULL) when the
 * connection ends; requests carry it so Stream ties watches to that connection. */
void                 confab_stream_client_set_connection_id      (ConfabStreamClient   *self,
                                                                  const char           *connection_id);
/* After an answer that said "too many requests" (HTTP 429, or Stream's codes 9, 60 and
 * 71): when the server allows the next request, in wall µs, from its Retry-After or
 * X-RateLimit-Reset header; 0 when it did not say. Replaced by each such answer. */
gint64               confab_stream_client_get_retry_at           (ConfabStreamClient   *self);
guint                confab_stream_client_get_timeout_ms         (ConfabStreamClient   *self);
void                 confab_stream_client_set_timeout_ms         (ConfabStreamClient   *self,
                                                                  guint                 timeout_ms);

/* Any endpoint. @path starts with "/" and is used as given (escape ids yourself);
 * @query maps names to values (both char *), may be NULL, and cannot override api_key,
 * user_id or connection_id; @body may be NULL. */
void                 confab_stream_client_request_async          (ConfabStreamClient   *self,
                                                                  const char           *method,
                                                                  const char           *path,
                                                                  GHashTable           *query,
                                                                  JsonObject           *body,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
JsonObject          *confab_stream_client_request_finish         (ConfabStreamClient   *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);

/* POST /channels: the user's channels ({"members":{"$in":[user-id]}}), most recent
 * message first, with their state. A negative @limit or @message_limit leaves the
 * server's default. */
void                 confab_stream_client_query_channels_async   (ConfabStreamClient   *self,
                                                                  gboolean              watch,
                                                                  gboolean              presence,
                                                                  int                   limit,
                                                                  int                   offset,
                                                                  int                   message_limit,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
JsonObject          *confab_stream_client_query_channels_finish  (ConfabStreamClient   *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);

/* POST /channels/{type}/{id}/query: one channel's state and a page of messages:
 * the newest @message_limit (negative: server default), or those older than @id_lt /
 * newer than @id_gt (either may be NULL). */
void                 confab_stream_client_query_channel_async    (ConfabStreamClient   *self,
                                                                  const char           *type,
                                                                  const char           *id,
                                                                  gboolean              watch,
                                                                  gboolean              presence,
                                                                  int                   message_limit,
                                                                  const char           *id_lt,
                                                                  const char           *id_gt,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
JsonObject          *confab_stream_client_query_channel_finish   (ConfabStreamClient   *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);

/* POST /channels/{type}/{id}/message with the caller's @message_id (from the outbox;
 * reused on every retry). Sending an id Stream already has fails with code 4; see
 * confab_api_error_is_duplicate(). @cid is "type:id". */
void                 confab_stream_client_send_message_async     (ConfabStreamClient   *self,
                                                                  const char           *cid,
                                                                  const char           *message_id,
                                                                  const char           *text,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
JsonObject          *confab_stream_client_send_message_finish    (ConfabStreamClient   *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);

/* POST /channels/{type}/{id}/read, up to @message_id (NULL: everything). */
void                 confab_stream_client_mark_read_async        (ConfabStreamClient   *self,
                                                                  const char           *cid,
                                                                  const char           *message_id,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
JsonObject          *confab_stream_client_mark_read_finish       (ConfabStreamClient   *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);

/* POST /channels/{type}/{id}/event {"event":{"type":@event_type}}, e.g. "typing.start". */
void                 confab_stream_client_send_event_async       (ConfabStreamClient   *self,
                                                                  const char           *cid,
                                                                  const char           *event_type,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
JsonObject          *confab_stream_client_send_event_finish      (ConfabStreamClient   *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);

/* GET /users?payload=…: the users with these ids (at most 100). */
void                 confab_stream_client_query_users_async      (ConfabStreamClient   *self,
                                                                  const char * const   *user_ids,
                                                                  gboolean              presence,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
JsonObject          *confab_stream_client_query_users_finish     (ConfabStreamClient   *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);

/* POST /sync: the events in @cids after @last_sync_at (wall-clock µs since the epoch,
 * sent as RFC 3339 with microseconds). */
void                 confab_stream_client_sync_async             (ConfabStreamClient   *self,
                                                                  const char * const   *cids,
                                                                  gint64                last_sync_at,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
JsonObject          *confab_stream_client_sync_finish            (ConfabStreamClient   *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);

G_END_DECLS
