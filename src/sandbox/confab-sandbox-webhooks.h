/* confab-sandbox-webhooks.h: signed, retried, bounded webhook delivery (stream-chat-protocol.md §8)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CONFAB_SANDBOX_TYPE_WEBHOOKS (confab_sandbox_webhooks_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSandboxWebhooks, confab_sandbox_webhooks, CONFAB_SANDBOX, WEBHOOKS, GObject)

/* Each event is POSTed with X-Signature (hex HMAC-SHA256 of the body keyed with the
 * secret), X-Webhook-Id (a UUID kept across retries), X-Webhook-Attempt (1-based) and
 * X-Api-Key. Non-2xx answers, transport errors and timeouts are retried with doubling,
 * jittered backoff up to max-attempts; then the event is dropped. At most capacity
 * events are pending (queued, being sent or waiting to retry); past that the oldest
 * queued event is dropped, so enqueueing never blocks. Delivery order is the enqueue
 * order, and with max-in-flight 1 so is arrival order. Timers use the global-default
 * main context, so use the object from the thread that runs it.
 *
 * Properties: url, api-key (construct-only), api-secret (construct-only, write-only),
 * capacity, max-attempts, retry-base-ms, max-in-flight, timeout-ms (read-write), and
 * pending, delivered, dropped (read-only, notified when they change). */

/* Checks what main should check before construction: an http(s) URL with a host.
 * Fails with CONFAB_STREAM_ERROR_INPUT. */
gboolean               confab_sandbox_webhooks_validate_url   (const char             *url,
                                                               GError                **error);

ConfabSandboxWebhooks *confab_sandbox_webhooks_new            (const char             *url,
                                                               const char             *api_key,
                                                               const char             *api_secret);

/* Serialises the event at once; never blocks. */
void                   confab_sandbox_webhooks_enqueue        (ConfabSandboxWebhooks  *self,
                                                               JsonObject             *event);

guint                  confab_sandbox_webhooks_get_pending    (ConfabSandboxWebhooks  *self);
guint64                confab_sandbox_webhooks_get_delivered  (ConfabSandboxWebhooks  *self);
guint64                confab_sandbox_webhooks_get_dropped    (ConfabSandboxWebhooks  *self);

G_END_DECLS
