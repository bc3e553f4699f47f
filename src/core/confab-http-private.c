/* confab-http-private.c: one HTTP exchange with a deadline and a bound on the answer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-error.h"
#include "confab-http-private.h"

#define READ_CHUNK (64 * 1024)

typedef struct
{
  SoupSession  *session;
  SoupMessage  *msg;
  GInputStream *stream;
  GByteArray   *body;
  gsize         max_size;
  GCancellable *cancellable;   /* ours: the caller's and the deadline both cancel it */
  GCancellable *outer;
  gulong        outer_id;
  GSource      *deadline;
  guint         timeout_ms;
  gboolean      timed_out;
} HttpExchange;

static void
http_exchange_free (HttpExchange *exchange)
{
  if (exchange->outer != NULL)
    g_cancellable_disconnect (exchange->outer, exchange->outer_id);
  g_clear_object (&exchange->outer);
  if (exchange->deadline != NULL)
    g_source_destroy (exchange->deadline);
  g_clear_pointer (&exchange->deadline, g_source_unref);
  g_clear_object (&exchange->cancellable);
  g_clear_object (&exchange->stream);
  g_clear_pointer (&exchange->body, g_byte_array_unref);
  g_clear_object (&exchange->msg);
  g_clear_object (&exchange->session);
  g_free (exchange);
}

static void
on_outer_cancelled (GCancellable *outer,
                    gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Chains @outer (may be NULL) to @inner; returns the handler id for the disconnect. */
static gulong
chain_cancellable (GCancellable *outer,
                   GCancellable *inner)
{
  if (outer == NULL)
    return 0;
  return g_cancellable_connect (outer, G_CALLBACK (on_outer_cancelled), inner, NULL);
}

static void
http_exchange_return_error (GTask  *task,
                            GError *error)
{
  HttpExchange *exchange = g_task_get_task_data (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && exchange->timed_out)
    {
      g_error_free (error);
      error = g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                           "No answer within %u ms", exchange->timeout_ms);
    }
  if (exchange->deadline != NULL)
    g_source_destroy (exchange->deadline);
  g_task_return_error (task, error);
}

static GError *
too_large (HttpExchange *exchange)
{
  return g_error_new (CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                      "The answer (HTTP %u) is larger than %" G_GSIZE_FORMAT " bytes",
                      soup_message_get_status (exchange->msg), exchange->max_size);
}

static void http_exchange_read_next (GTask *task);

static void
on_http_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HttpExchange *exchange = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;
  gsize size;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (bytes == NULL)
    {
      http_exchange_return_error (task, error);
      return;
    }

  size = g_bytes_get_size (bytes);
  if (size == 0)
    {
      if (exchange->deadline != NULL)
        g_source_destroy (exchange->deadline);
      g_task_return_pointer (task, g_byte_array_free_to_bytes (g_steal_pointer (&exchange->body)),
                             (GDestroyNotify) g_bytes_unref);
      return;
    }

  if (exchange->body->len + size > exchange->max_size)
    {
      http_exchange_return_error (task, too_large (exchange));
      return;
    }
  g_byte_array_append (exchange->body, g_bytes_get_data (bytes, NULL), size);
  http_exchange_read_next (task);
}

static void
http_exchange_read_next (GTask *task)
{
  HttpExchange *exchange = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (exchange->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   exchange->cancellable, on_http_read, g_object_ref (task));
}

static void
on_http_sent (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HttpExchange *exchange = g_task_get_task_data (task);
  SoupMessageHeaders *headers;
  GError *error = NULL;

  exchange->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (exchange->stream == NULL)
    {
      http_exchange_return_error (task, error);
      return;
    }

  /* Refuse an announced oversize body before reading any of it. */
  headers = soup_message_get_response_headers (exchange->msg);
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (headers) > (goffset) exchange->max_size)
    {
      http_exchange_return_error (task, too_large (exchange));
      return;
    }

  http_exchange_read_next (task);
}

static gboolean
on_http_deadline (gpointer user_data)
{
  HttpExchange *exchange = user_data;

  exchange->timed_out = TRUE;
  g_cancellable_cancel (exchange->cancellable);
  return G_SOURCE_REMOVE;
}

void
_confab_http_send_async (SoupSession         *session,
                         SoupMessage         *msg,
                         gsize                max_size,
                         guint                timeout_ms,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  HttpExchange *exchange;

  g_return_if_fail (SOUP_IS_SESSION (session));
  g_return_if_fail (SOUP_IS_MESSAGE (msg));
  g_return_if_fail (max_size > 0);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, _confab_http_send_async);

  exchange = g_new0 (HttpExchange, 1);
  exchange->session = g_object_ref (session);
  exchange->msg = g_object_ref (msg);
  exchange->body = g_byte_array_new ();
  exchange->max_size = max_size;
  exchange->timeout_ms = timeout_ms;
  exchange->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, exchange, (GDestroyNotify) http_exchange_free);

  if (g_task_return_error_if_cancelled (task))
    return;

  if (cancellable != NULL)
    {
      exchange->outer = g_object_ref (cancellable);
      exchange->outer_id = chain_cancellable (cancellable, exchange->cancellable);
    }

  /* The exchange outlives the source (its free destroys it), so no reference is taken. */
  if (timeout_ms > 0)
    {
      exchange->deadline = g_timeout_source_new (timeout_ms);
      g_source_set_callback (exchange->deadline, on_http_deadline, exchange, NULL);
      g_source_set_static_name (exchange->deadline, "[confab] HTTP deadline");
      g_source_attach (exchange->deadline, g_task_get_context (task));
    }

  /* No handler on SoupMessage::accept-certificate: a certificate the system does not
   * trust fails the request with G_TLS_ERROR, always. */
  soup_session_send_async (session, msg, G_PRIORITY_DEFAULT, exchange->cancellable,
                           on_http_sent, g_object_ref (task));
}

GBytes *
_confab_http_send_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == _confab_http_send_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
