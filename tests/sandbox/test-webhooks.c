/* test-webhooks.c: webhook delivery against an in-process SoupServer receiver
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <libsoup/soup.h>

#include "confab-sandbox-error.h"
#include "confab-sandbox-json.h"
#include "confab-sandbox-webhooks.h"

#define API_KEY      "test-key"
#define API_SECRET   "test-secret-0123456789"
/* Only event bodies carry this, so finding it in a log line means a body leaked. */
#define BODY_MARKER  "BODY-MARKER"
#define DEADLINE_SEC 5
/* The module logs in the library's domain, which differs from the test's own. */
#define MODULE_DOMAIN "confab-sandbox"

typedef struct {
  char *method;
  char *path;
  char *content_type;
  char *signature;
  char *webhook_id;
  char *attempt;
  char *api_key;
  char *body;
} Received;

typedef struct {
  SoupServer *server;
  char       *url;
  GPtrArray  *received;    /* Received, in arrival order */
  GPtrArray  *paused;      /* SoupServerMessage left unanswered */
  guint       fail_first;  /* answer 500 to this many requests first */
  gboolean    pause;
  GString    *log;
  guint       log_handler;
} Fixture;

static void
received_free (Received *r)
{
  g_free (r->method);
  g_free (r->path);
  g_free (r->content_type);
  g_free (r->signature);
  g_free (r->webhook_id);
  g_free (r->attempt);
  g_free (r->api_key);
  g_free (r->body);
  g_free (r);
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @cond holds; the tick makes a blocking iteration come back
 * to check the deadline even when nothing else happens. */
#define WAIT_FOR(cond) \
  G_STMT_START { \
    gint64 deadline_ = g_get_monotonic_time () + DEADLINE_SEC * G_USEC_PER_SEC; \
    guint tick_ = g_timeout_add (20, on_tick, NULL); \
    while (!(cond)) \
      { \
        if (g_get_monotonic_time () > deadline_) \
          g_error ("%s: timed out waiting for %s", G_STRLOC, #cond); \
        g_main_context_iteration (NULL, TRUE); \
      } \
    g_source_remove (tick_); \
  } G_STMT_END

static void
capture_log (const char     *domain,
             GLogLevelFlags  level,
             const char     *message,
             gpointer        user_data)
{
  Fixture *f = user_data;

  g_string_append_printf (f->log, "%s\n", message);
  /* Still print what matters; fatality is decided by g_log itself. */
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
    g_log_default_handler (domain, level, message, NULL);
}

static guint
count_in_log (Fixture    *f,
              const char *needle)
{
  const char *p = f->log->str;
  guint n = 0;

  while ((p = strstr (p, needle)) != NULL)
    {
      n++;
      p += strlen (needle);
    }

  return n;
}

static void
on_request (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  Fixture *f = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  Received *r = g_new0 (Received, 1);
  gsize length = 0;
  const char *data = g_bytes_get_data (body, &length);

  r->method = g_strdup (soup_server_message_get_method (msg));
  r->path = g_strdup (path);
  r->content_type = g_strdup (soup_message_headers_get_one (headers, "Content-Type"));
  r->signature = g_strdup (soup_message_headers_get_one (headers, "X-Signature"));
  r->webhook_id = g_strdup (soup_message_headers_get_one (headers, "X-Webhook-Id"));
  r->attempt = g_strdup (soup_message_headers_get_one (headers, "X-Webhook-Attempt"));
  r->api_key = g_strdup (soup_message_headers_get_one (headers, "X-Api-Key"));
  r->body = g_strndup (data, length);
  g_ptr_array_add (f->received, r);

  if (f->pause)
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (f->paused, g_object_ref (msg));
      return;
    }

  if (f->received->len <= f->fail_first)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL);
      return;
    }

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, "{}", 2);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  f->log = g_string_new (NULL);
  f->log_handler = g_log_set_handler (MODULE_DOMAIN, G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL |
                                      G_LOG_FLAG_RECURSION, capture_log, f);
  f->received = g_ptr_array_new_with_free_func ((GDestroyNotify) received_free);
  f->paused = g_ptr_array_new_with_free_func (g_object_unref);

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, on_request, f, NULL);
  soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);

  uris = soup_server_get_uris (f->server);
  g_assert_nonnull (uris);
  f->url = g_strdup_printf ("http://127.0.0.1:%d/hook", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  guint i;

  for (i = 0; i < f->paused->len; i++)
    {
      SoupServerMessage *msg = f->paused->pdata[i];

      soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      soup_server_message_unpause (msg);
    }
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_clear_pointer (&f->paused, g_ptr_array_unref);

  /* Logs name events by id only: never the body, the secret or a signature. */
  g_assert_null (strstr (f->log->str, BODY_MARKER));
  g_assert_null (strstr (f->log->str, API_SECRET));
  for (i = 0; i < f->received->len; i++)
    {
      Received *r = f->received->pdata[i];

      if (r->signature != NULL)
        g_assert_null (strstr (f->log->str, r->signature));
    }

  g_clear_pointer (&f->received, g_ptr_array_unref);
  g_free (f->url);
  g_log_remove_handler (MODULE_DOMAIN, f->log_handler);
  g_string_free (f->log, TRUE);
}

static JsonObject *
make_event (guint seq)
{
  JsonObject *event = json_object_new ();
  JsonObject *message = json_object_new ();

  json_object_set_string_member (message, "text", BODY_MARKER " ünïcödé \"quoted\"");
  json_object_set_string_member (event, "type", "message.new");
  json_object_set_int_member (event, "seq", seq);
  json_object_set_object_member (event, "message", message);

  return event;
}

static gint64
received_seq (Received *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = confab_sandbox_json_parse_object (r->body, -1, &error);

  g_assert_no_error (error);
  return json_object_get_int_member (body, "seq");
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

/* Bound then closed: nothing listens there, so connecting is refused. */
static char *
closed_port_url (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  guint16 port;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, &error);
  g_assert_no_error (error);

  return g_strdup_printf ("http://127.0.0.1:%u/hook", port);
}

static void
test_deliver (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(ConfabSandboxWebhooks) hooks = confab_sandbox_webhooks_new (f->url, API_KEY, API_SECRET);
  g_autoptr(JsonObject) event = make_event (7);
  g_autofree char *expected_body = confab_sandbox_json_to_string (event);
  g_autofree char *expected_signature = NULL;
  guint n_pending = 0, n_delivered = 0, n_dropped = 0;
  Received *r;

  g_signal_connect (hooks, "notify::pending", G_CALLBACK (count_notify), &n_pending);
  g_signal_connect (hooks, "notify::delivered", G_CALLBACK (count_notify), &n_delivered);
  g_signal_connect (hooks, "notify::dropped", G_CALLBACK (count_notify), &n_dropped);

  confab_sandbox_webhooks_enqueue (hooks, event);
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 1);
  g_assert_cmpuint (n_pending, ==, 1);

  WAIT_FOR (confab_sandbox_webhooks_get_delivered (hooks) == 1);

  g_assert_cmpuint (f->received->len, ==, 1);
  r = f->received->pdata[0];
  g_assert_cmpstr (r->method, ==, "POST");
  g_assert_cmpstr (r->path, ==, "/hook");
  g_assert_cmpstr (r->content_type, ==, "application/json");
  g_assert_cmpstr (r->body, ==, expected_body);
  g_assert_cmpint (received_seq (r), ==, 7);
  g_assert_cmpstr (r->api_key, ==, API_KEY);
  g_assert_cmpstr (r->attempt, ==, "1");
  g_assert_nonnull (r->webhook_id);
  g_assert_true (g_uuid_string_is_valid (r->webhook_id));

  /* what a receiver does: HMAC the raw body with the secret, lowercase hex */
  expected_signature = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
                                                  (const guchar *) API_SECRET, strlen (API_SECRET),
                                                  r->body, -1);
  g_assert_cmpstr (r->signature, ==, expected_signature);

  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 0);
  g_assert_cmpuint (confab_sandbox_webhooks_get_dropped (hooks), ==, 0);
  g_assert_cmpuint (n_pending, ==, 2);
  g_assert_cmpuint (n_delivered, ==, 1);
  g_assert_cmpuint (n_dropped, ==, 0);
}

static void
test_retry (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(ConfabSandboxWebhooks) hooks = NULL;
  g_autoptr(JsonObject) event = make_event (1);
  guint i;

  f->fail_first = 2;
  hooks = g_object_new (CONFAB_SANDBOX_TYPE_WEBHOOKS,
                        "url", f->url, "api-key", API_KEY, "api-secret", API_SECRET,
                        "retry-base-ms", 10,
                        NULL);

  confab_sandbox_webhooks_enqueue (hooks, event);
  WAIT_FOR (confab_sandbox_webhooks_get_delivered (hooks) == 1);

  g_assert_cmpuint (f->received->len, ==, 3);
  for (i = 0; i < 3; i++)
    {
      Received *r = f->received->pdata[i];
      Received *first = f->received->pdata[0];
      g_autofree char *attempt = g_strdup_printf ("%u", i + 1);

      g_assert_cmpstr (r->attempt, ==, attempt);
      g_assert_cmpstr (r->webhook_id, ==, first->webhook_id);
      g_assert_cmpstr (r->signature, ==, first->signature);
      g_assert_cmpstr (r->body, ==, first->body);
    }
  g_assert_cmpuint (confab_sandbox_webhooks_get_dropped (hooks), ==, 0);
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 0);
  g_assert_cmpuint (count_in_log (f, "answered HTTP 500"), ==, 2);
}

static void
test_unreachable (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *url = closed_port_url ();
  g_autoptr(ConfabSandboxWebhooks) hooks = NULL;
  g_autoptr(JsonObject) event = make_event (1);
  guint n_dropped = 0;

  hooks = g_object_new (CONFAB_SANDBOX_TYPE_WEBHOOKS,
                        "url", url, "api-key", API_KEY, "api-secret", API_SECRET,
                        "max-attempts", 2, "retry-base-ms", 10,
                        NULL);
  g_signal_connect (hooks, "notify::dropped", G_CALLBACK (count_notify), &n_dropped);

  confab_sandbox_webhooks_enqueue (hooks, event);
  WAIT_FOR (confab_sandbox_webhooks_get_dropped (hooks) == 1);

  g_assert_cmpuint (confab_sandbox_webhooks_get_delivered (hooks), ==, 0);
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 0);
  g_assert_cmpuint (n_dropped, ==, 1);
  g_assert_cmpuint (count_in_log (f, "attempt 1 failed"), ==, 1);
  g_assert_cmpuint (count_in_log (f, "attempt 2 failed"), ==, 1);
  g_assert_cmpuint (count_in_log (f, "dropped after 2 failed attempts"), ==, 1);
  g_assert_cmpuint (f->received->len, ==, 0);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(ConfabSandboxWebhooks) hooks = NULL;
  g_autoptr(JsonObject) event = make_event (1);
  Received *first, *second;

  f->pause = TRUE;
  hooks = g_object_new (CONFAB_SANDBOX_TYPE_WEBHOOKS,
                        "url", f->url, "api-key", API_KEY, "api-secret", API_SECRET,
                        "max-attempts", 2, "retry-base-ms", 10, "timeout-ms", 100,
                        NULL);

  confab_sandbox_webhooks_enqueue (hooks, event);
  WAIT_FOR (confab_sandbox_webhooks_get_dropped (hooks) == 1);

  g_assert_cmpuint (f->received->len, ==, 2);
  first = f->received->pdata[0];
  second = f->received->pdata[1];
  g_assert_cmpstr (first->attempt, ==, "1");
  g_assert_cmpstr (second->attempt, ==, "2");
  g_assert_cmpstr (first->webhook_id, ==, second->webhook_id);
  g_assert_cmpuint (count_in_log (f, "timed out after 100 ms"), ==, 2);
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 0);
}

static void
test_capacity (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(ConfabSandboxWebhooks) hooks = NULL;
  g_autoptr(ConfabSandboxWebhooks) narrow = NULL;
  guint n_pending = 0, n_dropped = 0;
  guint i;

  f->pause = TRUE;
  hooks = g_object_new (CONFAB_SANDBOX_TYPE_WEBHOOKS,
                        "url", f->url, "api-key", API_KEY, "api-secret", API_SECRET,
                        "capacity", 3, "max-in-flight", 1,
                        NULL);
  g_signal_connect (hooks, "notify::pending", G_CALLBACK (count_notify), &n_pending);
  g_signal_connect (hooks, "notify::dropped", G_CALLBACK (count_notify), &n_dropped);

  for (i = 0; i < 10; i++)
    {
      g_autoptr(JsonObject) event = make_event (i);

      confab_sandbox_webhooks_enqueue (hooks, event);
      g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), <=, 3);
    }

  /* event 0 went out at once; 1…7 were pushed out by newer ones; 8 and 9 wait */
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 3);
  g_assert_cmpuint (confab_sandbox_webhooks_get_dropped (hooks), ==, 7);
  g_assert_cmpuint (n_pending, ==, 3);
  g_assert_cmpuint (n_dropped, ==, 7);
  g_assert_cmpuint (count_in_log (f, "queue is full"), ==, 1);

  WAIT_FOR (f->received->len == 1);
  g_assert_cmpint (received_seq (f->received->pdata[0]), ==, 0);

  for (i = 10; i < 15; i++)
    {
      g_autoptr(JsonObject) event = make_event (i);

      confab_sandbox_webhooks_enqueue (hooks, event);
    }
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 3);
  g_assert_cmpuint (confab_sandbox_webhooks_get_dropped (hooks), ==, 12);
  g_assert_cmpuint (confab_sandbox_webhooks_get_delivered (hooks), ==, 0);

  /* Fewer slots in the queue than requests in flight: the newcomer is the one dropped. */
  narrow = g_object_new (CONFAB_SANDBOX_TYPE_WEBHOOKS,
                         "url", f->url, "api-key", API_KEY, "api-secret", API_SECRET,
                         "capacity", 2, "max-in-flight", 4,
                         NULL);
  for (i = 0; i < 5; i++)
    {
      g_autoptr(JsonObject) event = make_event (100 + i);

      confab_sandbox_webhooks_enqueue (narrow, event);
    }
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (narrow), ==, 2);
  g_assert_cmpuint (confab_sandbox_webhooks_get_dropped (narrow), ==, 3);

  /* Lowering the capacity at run time trims what has not started. */
  g_object_set (hooks, "capacity", 1, NULL);
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 1);
  g_assert_cmpuint (confab_sandbox_webhooks_get_dropped (hooks), ==, 14);

  WAIT_FOR (f->received->len == 3);

  /* Both objects go away with requests still out (see test_dispose_in_flight). */
  g_clear_object (&hooks);
  g_clear_object (&narrow);
  WAIT_FOR (count_in_log (f, "released after dispose") == 3);
}

static void
test_order (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(ConfabSandboxWebhooks) hooks = NULL;
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  guint i;

  hooks = g_object_new (CONFAB_SANDBOX_TYPE_WEBHOOKS,
                        "url", f->url, "api-key", API_KEY, "api-secret", API_SECRET,
                        "max-in-flight", 1,
                        NULL);

  for (i = 0; i < 20; i++)
    {
      g_autoptr(JsonObject) event = make_event (i);

      confab_sandbox_webhooks_enqueue (hooks, event);
    }
  WAIT_FOR (confab_sandbox_webhooks_get_delivered (hooks) == 20);

  g_assert_cmpuint (f->received->len, ==, 20);
  for (i = 0; i < 20; i++)
    {
      Received *r = f->received->pdata[i];

      g_assert_cmpint (received_seq (r), ==, i);
      g_assert_cmpstr (r->attempt, ==, "1");
      g_assert_true (g_hash_table_add (ids, r->webhook_id));
    }
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 0);
}

static void
test_concurrent (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(ConfabSandboxWebhooks) hooks = confab_sandbox_webhooks_new (f->url, API_KEY, API_SECRET);
  gboolean seen[20] = { FALSE, };
  guint i;

  for (i = 0; i < 20; i++)
    {
      g_autoptr(JsonObject) event = make_event (i);

      confab_sandbox_webhooks_enqueue (hooks, event);
    }
  /* default max-in-flight is 4: the rest wait in the queue */
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 20);

  WAIT_FOR (confab_sandbox_webhooks_get_delivered (hooks) == 20);

  /* With several connections the arrival order is not promised, but each arrives once. */
  g_assert_cmpuint (f->received->len, ==, 20);
  for (i = 0; i < 20; i++)
    {
      gint64 seq = received_seq (f->received->pdata[i]);

      g_assert_cmpint (seq, >=, 0);
      g_assert_cmpint (seq, <, 20);
      g_assert_false (seen[seq]);
      seen[seq] = TRUE;
    }
  g_assert_cmpuint (confab_sandbox_webhooks_get_dropped (hooks), ==, 0);
}

static void
test_validate_url (Fixture       *f,
                   gconstpointer  data)
{
  const char *good[] = {
    "http://127.0.0.1:8080/hook",
    "https://example.com/webhooks/stream?token=abc",
    "HTTP://EXAMPLE.COM",
    "http://[::1]:9000/",
  };
  const char *bad[] = {
    NULL,
    "",
    "example.com/hook",
    "not a url",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "ws://example.com/hook",
    "javascript:alert(1)",
    "http://",
    "http:///hook",
    "https://user:pw@/hook",
  };
  g_autoptr(ConfabSandboxWebhooks) hooks = NULL;
  g_autoptr(JsonObject) event = make_event (1);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (confab_sandbox_webhooks_validate_url (good[i], &error));
      g_assert_no_error (error);
    }

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (confab_sandbox_webhooks_validate_url (bad[i], &error));
      g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
      g_assert_null (strstr (error->message, "example.com"));
    }

  /* Constructed anyway (a programming error): loud, and every event is dropped. */
  g_test_expect_message (MODULE_DOMAIN, G_LOG_LEVEL_CRITICAL, "Webhooks disabled*");
  hooks = confab_sandbox_webhooks_new ("ftp://example.com/hook", API_KEY, API_SECRET);
  g_test_assert_expected_messages ();
  confab_sandbox_webhooks_enqueue (hooks, event);
  g_assert_cmpuint (confab_sandbox_webhooks_get_dropped (hooks), ==, 1);
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (hooks), ==, 0);
}

static void
test_dispose_in_flight (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *closed_url = closed_port_url ();
  ConfabSandboxWebhooks *sending;
  ConfabSandboxWebhooks *retrying;
  guint i;

  f->pause = TRUE;
  sending = confab_sandbox_webhooks_new (f->url, API_KEY, API_SECRET);
  retrying = g_object_new (CONFAB_SANDBOX_TYPE_WEBHOOKS,
                           "url", closed_url, "api-key", API_KEY, "api-secret", API_SECRET,
                           "retry-base-ms", 30000,
                           NULL);
  g_object_add_weak_pointer (G_OBJECT (sending), (gpointer *) &sending);
  g_object_add_weak_pointer (G_OBJECT (retrying), (gpointer *) &retrying);

  for (i = 0; i < 6; i++)
    {
      g_autoptr(JsonObject) event = make_event (i);

      confab_sandbox_webhooks_enqueue (sending, event);
    }
  for (i = 0; i < 2; i++)
    {
      g_autoptr(JsonObject) event = make_event (i);

      confab_sandbox_webhooks_enqueue (retrying, event);
    }

  /* four requests held by the receiver, two waiting; two events waiting to retry */
  WAIT_FOR (f->received->len == 4 && count_in_log (f, "attempt 1 failed") == 2);
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (sending), ==, 6);
  g_assert_cmpuint (confab_sandbox_webhooks_get_pending (retrying), ==, 2);

  g_object_unref (sending);
  g_object_unref (retrying);
  g_assert_null (sending);
  g_assert_null (retrying);

  /* Each cancelled request comes back once and is freed then; nothing fires later. */
  WAIT_FOR (count_in_log (f, "released after dispose") == 4);
  g_assert_cmpuint (count_in_log (f, "attempt 2"), ==, 0);
  g_assert_cmpuint (count_in_log (f, "delivered"), ==, 0);
}

static void
test_properties (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(ConfabSandboxWebhooks) hooks = confab_sandbox_webhooks_new (f->url, API_KEY, API_SECRET);
  g_autofree char *url = NULL;
  g_autofree char *api_key = NULL;
  guint capacity, max_attempts, retry_base_ms, max_in_flight, timeout_ms, pending;
  guint64 delivered, dropped;
  guint n_capacity = 0;
  GParamSpec *pspec;

  g_object_get (hooks,
                "url", &url, "api-key", &api_key,
                "capacity", &capacity, "max-attempts", &max_attempts,
                "retry-base-ms", &retry_base_ms, "max-in-flight", &max_in_flight,
                "timeout-ms", &timeout_ms, "pending", &pending,
                "delivered", &delivered, "dropped", &dropped,
                NULL);
  g_assert_cmpstr (url, ==, f->url);
  g_assert_cmpstr (api_key, ==, API_KEY);
  g_assert_cmpuint (capacity, ==, 10000);
  g_assert_cmpuint (max_attempts, ==, 6);
  g_assert_cmpuint (retry_base_ms, ==, 500);
  g_assert_cmpuint (max_in_flight, ==, 4);
  g_assert_cmpuint (timeout_ms, ==, 5000);
  g_assert_cmpuint (pending, ==, 0);
  g_assert_cmpuint (delivered, ==, 0);
  g_assert_cmpuint (dropped, ==, 0);

  /* the secret cannot be read back */
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (hooks), "api-secret");
  g_assert_nonnull (pspec);
  g_assert_false (pspec->flags & G_PARAM_READABLE);

  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (hooks), "pending");
  g_assert_false (pspec->flags & G_PARAM_WRITABLE);
  g_assert_true (pspec->flags & G_PARAM_EXPLICIT_NOTIFY);

  /* notified only on change */
  g_signal_connect (hooks, "notify::capacity", G_CALLBACK (count_notify), &n_capacity);
  g_object_set (hooks, "capacity", 10000, NULL);
  g_assert_cmpuint (n_capacity, ==, 0);
  g_object_set (hooks, "capacity", 50, NULL);
  g_assert_cmpuint (n_capacity, ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/sandbox/webhooks/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("deliver", test_deliver);
  ADD ("retry", test_retry);
  ADD ("unreachable", test_unreachable);
  ADD ("timeout", test_timeout);
  ADD ("capacity", test_capacity);
  ADD ("order", test_order);
  ADD ("concurrent", test_concurrent);
  ADD ("validate-url", test_validate_url);
  ADD ("dispose-in-flight", test_dispose_in_flight);
  ADD ("properties", test_properties);

#undef ADD

  return g_test_run ();
}
