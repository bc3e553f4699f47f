/* confab-sandbox-webhooks.c: signed, retried, bounded webhook delivery (stream-chat-protocol.md §8)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "confab-sandbox-webhooks.h"

#include <string.h>

#include <libsoup/soup.h>

#include "confab-sandbox-error.h"
#include "confab-sandbox-json.h"
#include "confab-sandbox-jwt.h"

#define DEFAULT_CAPACITY       10000
#define DEFAULT_MAX_ATTEMPTS   6
#define DEFAULT_RETRY_BASE_MS  500
#define DEFAULT_MAX_IN_FLIGHT  4
#define DEFAULT_TIMEOUT_MS     5000
#define MAX_BACKOFF_MS         30000
#define MAX_IN_FLIGHT_LIMIT    64

/* One event for its whole life: queued, then in a slot while it is sent and while it
 * waits to be retried, so retries cannot be overtaken and max-in-flight 1 keeps order. */
typedef struct {
  ConfabSandboxWebhooks *owner;      /* NULL once the owner is disposed */
  char                  *id;
  GBytes                *body;
  char                  *signature;
  guint                  attempt;
  SoupMessage           *message;    /* set while a request is out */
  GCancellable          *cancellable;
  guint                  timeout_id;
  guint                  retry_id;
  gboolean               timed_out;
} Delivery;

struct _ConfabSandboxWebhooks
{
  GObject      parent_instance;

  char        *url;
  char        *api_key;
  char        *api_secret;
  GUri        *uri;           /* NULL when url is unusable: every event is dropped */

  guint        capacity;
  guint        max_attempts;
  guint        retry_base_ms;
  guint        max_in_flight;
  guint        timeout_ms;

  SoupSession *session;
  GQueue       queued;        /* Delivery, oldest first, not started */
  GQueue       active;        /* Delivery holding an in-flight slot */
  guint64      delivered;
  guint64      dropped;
  gboolean     overflowing;   /* to log a full queue once, not once per event */
};

G_DEFINE_FINAL_TYPE (ConfabSandboxWebhooks, confab_sandbox_webhooks, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_URL,
  PROP_API_KEY,
  PROP_API_SECRET,
  PROP_CAPACITY,
  PROP_MAX_ATTEMPTS,
  PROP_RETRY_BASE_MS,
  PROP_MAX_IN_FLIGHT,
  PROP_TIMEOUT_MS,
  PROP_PENDING,
  PROP_DELIVERED,
  PROP_DROPPED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void start_attempt (ConfabSandboxWebhooks *self,
                           Delivery              *delivery);

static void
delivery_free (Delivery *delivery)
{
  g_clear_handle_id (&delivery->timeout_id, g_source_remove);
  g_clear_handle_id (&delivery->retry_id, g_source_remove);
  g_clear_object (&delivery->message);
  g_clear_object (&delivery->cancellable);
  g_clear_pointer (&delivery->body, g_bytes_unref);
  g_free (delivery->signature);
  g_free (delivery->id);
  g_free (delivery);
}

static Delivery *
delivery_new (ConfabSandboxWebhooks *self,
              JsonObject            *event)
{
  Delivery *delivery = g_new0 (Delivery, 1);
  char *json = confab_sandbox_json_to_string (event);
  gsize length = strlen (json);

  delivery->owner = self;
  delivery->id = g_uuid_string_random ();
  /* The body is fixed now, so the signature is computed once for every attempt. */
  delivery->signature = confab_sandbox_hmac_sha256_hex (self->api_secret, json, length);
  delivery->body = g_bytes_new_take (json, length);

  return delivery;
}

static guint
get_pending (ConfabSandboxWebhooks *self)
{
  return self->queued.length + self->active.length;
}

/* Notifies only what an operation actually changed. */
static void
notify_changes (ConfabSandboxWebhooks *self,
                guint                  old_pending,
                guint64                old_delivered,
                guint64                old_dropped)
{
  if (get_pending (self) != old_pending)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PENDING]);
  if (self->delivered != old_delivered)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DELIVERED]);
  if (self->dropped != old_dropped)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DROPPED]);
}

static void
pump (ConfabSandboxWebhooks *self)
{
  if (self->session == NULL)
    return;

  while (self->active.length < self->max_in_flight && self->queued.length > 0)
    {
      Delivery *delivery = g_queue_pop_head (&self->queued);

      g_queue_push_tail (&self->active, delivery);
      start_attempt (self, delivery);
    }
}

static void
finish (ConfabSandboxWebhooks *self,
        Delivery              *delivery,
        gboolean               delivered)
{
  g_queue_remove (&self->active, delivery);

  if (delivered)
    {
      g_debug ("Webhook %s delivered on attempt %u", delivery->id, delivery->attempt);
      self->delivered++;
    }
  else
    {
      g_message ("Webhook %s dropped after %u failed attempts", delivery->id, delivery->attempt);
      self->dropped++;
    }

  delivery_free (delivery);
  pump (self);
}

/* Evicts the oldest events that have not started; ones in flight are left to finish. */
static void
trim_queue (ConfabSandboxWebhooks *self,
            guint                  room)
{
  while (get_pending (self) + room > self->capacity && self->queued.length > 0)
    {
      Delivery *oldest = g_queue_pop_head (&self->queued);

      if (!self->overflowing)
        g_message ("Webhook queue is full (capacity %u); dropping the oldest events",
                   self->capacity);
      self->overflowing = TRUE;
      g_debug ("Webhook %s dropped from a full queue", oldest->id);
      self->dropped++;
      delivery_free (oldest);
    }
}

static guint
backoff_ms (ConfabSandboxWebhooks *self,
            guint                  failed_attempts)
{
  double delay = self->retry_base_ms;
  guint i;

  for (i = 1; i < failed_attempts && delay < MAX_BACKOFF_MS; i++)
    delay *= 2;

  /* ±20 % spreads the retries of events that failed together */
  delay *= g_random_double_range (0.8, 1.2);

  return (guint) MIN (delay, (double) MAX_BACKOFF_MS);
}

static gboolean
on_retry (gpointer user_data)
{
  Delivery *delivery = user_data;

  delivery->retry_id = 0;
  start_attempt (delivery->owner, delivery);

  return G_SOURCE_REMOVE;
}

static gboolean
on_attempt_timeout (gpointer user_data)
{
  Delivery *delivery = user_data;

  delivery->timeout_id = 0;
  delivery->timed_out = TRUE;
  g_cancellable_cancel (delivery->cancellable);

  return G_SOURCE_REMOVE;
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Delivery *delivery = user_data;
  g_autoptr(ConfabSandboxWebhooks) self = NULL;
  g_autoptr(SoupMessage) message = g_steal_pointer (&delivery->message);
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GError) error = NULL;
  guint old_pending;
  guint64 old_delivered, old_dropped;
  guint status;

  response = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  /* Disposed while the request was out: the delivery is ours alone now. */
  if (delivery->owner == NULL)
    {
      g_debug ("Webhook %s released after dispose", delivery->id);
      delivery_free (delivery);
      return;
    }

  /* A notify handler may drop the last reference. */
  self = g_object_ref (delivery->owner);
  g_clear_handle_id (&delivery->timeout_id, g_source_remove);

  old_pending = get_pending (self);
  old_delivered = self->delivered;
  old_dropped = self->dropped;

  status = soup_message_get_status (message);
  if (response != NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      finish (self, delivery, TRUE);
    }
  else
    {
      if (delivery->timed_out)
        g_debug ("Webhook %s attempt %u timed out after %u ms",
                 delivery->id, delivery->attempt, self->timeout_ms);
      else if (error != NULL)
        g_debug ("Webhook %s attempt %u failed: %s", delivery->id, delivery->attempt, error->message);
      else
        g_debug ("Webhook %s attempt %u answered HTTP %u", delivery->id, delivery->attempt, status);

      if (delivery->attempt >= self->max_attempts)
        finish (self, delivery, FALSE);
      else
        delivery->retry_id = g_timeout_add (backoff_ms (self, delivery->attempt), on_retry, delivery);
    }

  notify_changes (self, old_pending, old_delivered, old_dropped);
}

static void
start_attempt (ConfabSandboxWebhooks *self,
               Delivery              *delivery)
{
  g_autofree char *attempt = NULL;
  SoupMessageHeaders *headers;

  g_assert (delivery->message == NULL);

  delivery->attempt++;
  delivery->timed_out = FALSE;
  attempt = g_strdup_printf ("%u", delivery->attempt);

  delivery->message = soup_message_new_from_uri (SOUP_METHOD_POST, self->uri);
  /* A redirect is a misconfigured receiver; following it would resend the body elsewhere. */
  soup_message_add_flags (delivery->message, SOUP_MESSAGE_NO_REDIRECT);
  soup_message_set_request_body_from_bytes (delivery->message, "application/json", delivery->body);

  headers = soup_message_get_request_headers (delivery->message);
  soup_message_headers_replace (headers, "X-Signature", delivery->signature);
  soup_message_headers_replace (headers, "X-Webhook-Id", delivery->id);
  soup_message_headers_replace (headers, "X-Webhook-Attempt", attempt);
  soup_message_headers_replace (headers, "X-Api-Key", self->api_key);

  /* A cancelled GCancellable stays cancelled, so every attempt gets a fresh one. */
  g_clear_object (&delivery->cancellable);
  delivery->cancellable = g_cancellable_new ();
  delivery->timeout_id = g_timeout_add (self->timeout_ms, on_attempt_timeout, delivery);

  g_debug ("Webhook %s attempt %u", delivery->id, delivery->attempt);
  soup_session_send_and_read_async (self->session, delivery->message, G_PRIORITY_DEFAULT,
                                    delivery->cancellable, on_sent, delivery);
}

gboolean
confab_sandbox_webhooks_validate_url (const char  *url,
                                      GError     **error)
{
  g_autoptr(GUri) uri = NULL;
  const char *scheme;
  const char *host;

  /* The URL may carry credentials, so the messages do not repeat it. */
  if (url != NULL && *url != '\0')
    uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: webhook_url is not a valid URL");
      return FALSE;
    }

  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: webhook_url must be an http or https URL");
      return FALSE;
    }

  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    {
      g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                           "invalid request: webhook_url must name a host");
      return FALSE;
    }

  return TRUE;
}

ConfabSandboxWebhooks *
confab_sandbox_webhooks_new (const char *url,
                             const char *api_key,
                             const char *api_secret)
{
  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (api_key != NULL, NULL);
  g_return_val_if_fail (api_secret != NULL, NULL);

  return g_object_new (CONFAB_SANDBOX_TYPE_WEBHOOKS,
                       "url", url,
                       "api-key", api_key,
                       "api-secret", api_secret,
                       NULL);
}

void
confab_sandbox_webhooks_enqueue (ConfabSandboxWebhooks *self,
                                 JsonObject            *event)
{
  Delivery *delivery;
  guint old_pending;
  guint64 old_delivered, old_dropped;

  g_return_if_fail (CONFAB_SANDBOX_IS_WEBHOOKS (self));
  g_return_if_fail (event != NULL);

  old_pending = get_pending (self);
  old_delivered = self->delivered;
  old_dropped = self->dropped;

  delivery = delivery_new (self, event);

  if (self->uri == NULL || self->session == NULL)
    {
      g_debug ("Webhook %s dropped: no usable URL", delivery->id);
      self->dropped++;
      delivery_free (delivery);
    }
  else
    {
      if (get_pending (self) < self->capacity)
        self->overflowing = FALSE;
      trim_queue (self, 1);

      if (get_pending (self) < self->capacity)
        {
          g_queue_push_tail (&self->queued, delivery);
          pump (self);
        }
      else
        {
          /* Every pending event is in flight (capacity < max-in-flight): the new one goes. */
          g_debug ("Webhook %s dropped: all %u pending events are in flight",
                   delivery->id, get_pending (self));
          self->dropped++;
          delivery_free (delivery);
        }
    }

  notify_changes (self, old_pending, old_delivered, old_dropped);
}

guint
confab_sandbox_webhooks_get_pending (ConfabSandboxWebhooks *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_WEBHOOKS (self), 0);

  return get_pending (self);
}

guint64
confab_sandbox_webhooks_get_delivered (ConfabSandboxWebhooks *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_WEBHOOKS (self), 0);

  return self->delivered;
}

guint64
confab_sandbox_webhooks_get_dropped (ConfabSandboxWebhooks *self)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_WEBHOOKS (self), 0);

  return self->dropped;
}

static void
confab_sandbox_webhooks_constructed (GObject *object)
{
  ConfabSandboxWebhooks *self = CONFAB_SANDBOX_WEBHOOKS (object);
  g_autoptr(GError) error = NULL;

  G_OBJECT_CLASS (confab_sandbox_webhooks_parent_class)->constructed (object);

  if (self->api_key == NULL)
    self->api_key = g_strdup ("");
  if (self->api_secret == NULL)
    self->api_secret = g_strdup ("");

  if (confab_sandbox_webhooks_validate_url (self->url, &error))
    self->uri = g_uri_parse (self->url, SOUP_HTTP_URI_FLAGS, NULL);
  else
    g_critical ("Webhooks disabled: %s", error->message);

  /* Our own slots bound concurrency; libsoup's per-host default of 2 would queue
   * requests where their timeouts already run. */
  self->session = soup_session_new_with_options ("max-conns", MAX_IN_FLIGHT_LIMIT,
                                                 "max-conns-per-host", MAX_IN_FLIGHT_LIMIT,
                                                 "user-agent", "confab-sandbox-webhooks",
                                                 NULL);
}

static void
confab_sandbox_webhooks_dispose (GObject *object)
{
  ConfabSandboxWebhooks *self = CONFAB_SANDBOX_WEBHOOKS (object);
  Delivery *delivery;

  g_queue_clear_full (&self->queued, (GDestroyNotify) delivery_free);

  /* Detach every delivery before cancelling: on_sent may run inside g_cancellable_cancel. */
  while ((delivery = g_queue_pop_head (&self->active)) != NULL)
    {
      delivery->owner = NULL;
      g_clear_handle_id (&delivery->timeout_id, g_source_remove);

      if (delivery->message != NULL)
        {
          /* on_sent frees it once the cancellation reaches it */
          g_autoptr(GCancellable) cancellable = g_object_ref (delivery->cancellable);

          g_cancellable_cancel (cancellable);
        }
      else
        {
          delivery_free (delivery);
        }
    }

  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (confab_sandbox_webhooks_parent_class)->dispose (object);
}

static void
confab_sandbox_webhooks_finalize (GObject *object)
{
  ConfabSandboxWebhooks *self = CONFAB_SANDBOX_WEBHOOKS (object);

  g_clear_pointer (&self->uri, g_uri_unref);
  g_free (self->url);
  g_free (self->api_key);
  g_free (self->api_secret);

  G_OBJECT_CLASS (confab_sandbox_webhooks_parent_class)->finalize (object);
}

static void
set_uint (ConfabSandboxWebhooks *self,
          guint                 *field,
          guint                  value,
          int                    prop_id)
{
  if (*field == value)
    return;

  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
confab_sandbox_webhooks_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  ConfabSandboxWebhooks *self = CONFAB_SANDBOX_WEBHOOKS (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_API_KEY:
      g_value_set_string (value, self->api_key);
      break;
    case PROP_CAPACITY:
      g_value_set_uint (value, self->capacity);
      break;
    case PROP_MAX_ATTEMPTS:
      g_value_set_uint (value, self->max_attempts);
      break;
    case PROP_RETRY_BASE_MS:
      g_value_set_uint (value, self->retry_base_ms);
      break;
    case PROP_MAX_IN_FLIGHT:
      g_value_set_uint (value, self->max_in_flight);
      break;
    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_PENDING:
      g_value_set_uint (value, get_pending (self));
      break;
    case PROP_DELIVERED:
      g_value_set_uint64 (value, self->delivered);
      break;
    case PROP_DROPPED:
      g_value_set_uint64 (value, self->dropped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_sandbox_webhooks_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  ConfabSandboxWebhooks *self = CONFAB_SANDBOX_WEBHOOKS (object);
  guint old_pending = get_pending (self);
  guint64 old_dropped = self->dropped;

  switch (prop_id)
    {
    case PROP_URL:
      self->url = g_value_dup_string (value);
      break;
    case PROP_API_KEY:
      self->api_key = g_value_dup_string (value);
      break;
    case PROP_API_SECRET:
      self->api_secret = g_value_dup_string (value);
      break;
    case PROP_CAPACITY:
      set_uint (self, &self->capacity, g_value_get_uint (value), PROP_CAPACITY);
      trim_queue (self, 0);
      notify_changes (self, old_pending, self->delivered, old_dropped);
      break;
    case PROP_MAX_ATTEMPTS:
      set_uint (self, &self->max_attempts, g_value_get_uint (value), PROP_MAX_ATTEMPTS);
      break;
    case PROP_RETRY_BASE_MS:
      set_uint (self, &self->retry_base_ms, g_value_get_uint (value), PROP_RETRY_BASE_MS);
      break;
    case PROP_MAX_IN_FLIGHT:
      set_uint (self, &self->max_in_flight, g_value_get_uint (value), PROP_MAX_IN_FLIGHT);
      pump (self);
      break;
    case PROP_TIMEOUT_MS:
      set_uint (self, &self->timeout_ms, g_value_get_uint (value), PROP_TIMEOUT_MS);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_sandbox_webhooks_class_init (ConfabSandboxWebhooksClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags tunable = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS;
  GParamFlags counter = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_sandbox_webhooks_constructed;
  object_class->dispose = confab_sandbox_webhooks_dispose;
  object_class->finalize = confab_sandbox_webhooks_finalize;
  object_class->get_property = confab_sandbox_webhooks_get_property;
  object_class->set_property = confab_sandbox_webhooks_set_property;

  properties[PROP_URL] =
    g_param_spec_string ("url", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_API_KEY] =
    g_param_spec_string ("api-key", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* Write-only: nothing needs the secret back, so nothing can leak it that way. */
  properties[PROP_API_SECRET] =
    g_param_spec_string ("api-secret", NULL, NULL, NULL,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, NULL, 1, G_MAXINT, DEFAULT_CAPACITY, tunable);
  properties[PROP_MAX_ATTEMPTS] =
    g_param_spec_uint ("max-attempts", NULL, NULL, 1, 100, DEFAULT_MAX_ATTEMPTS, tunable);
  properties[PROP_RETRY_BASE_MS] =
    g_param_spec_uint ("retry-base-ms", NULL, NULL, 0, MAX_BACKOFF_MS, DEFAULT_RETRY_BASE_MS, tunable);
  properties[PROP_MAX_IN_FLIGHT] =
    g_param_spec_uint ("max-in-flight", NULL, NULL, 1, MAX_IN_FLIGHT_LIMIT, DEFAULT_MAX_IN_FLIGHT, tunable);
  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL, 1, 10 * 60 * 1000, DEFAULT_TIMEOUT_MS, tunable);
  properties[PROP_PENDING] =
    g_param_spec_uint ("pending", NULL, NULL, 0, G_MAXUINT, 0, counter);
  properties[PROP_DELIVERED] =
    g_param_spec_uint64 ("delivered", NULL, NULL, 0, G_MAXUINT64, 0, counter);
  properties[PROP_DROPPED] =
    g_param_spec_uint64 ("dropped", NULL, NULL, 0, G_MAXUINT64, 0, counter);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_sandbox_webhooks_init (ConfabSandboxWebhooks *self)
{
  g_queue_init (&self->queued);
  g_queue_init (&self->active);
}
