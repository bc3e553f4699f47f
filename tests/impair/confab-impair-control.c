/* confab-impair-control.c: the control socket: one command per line, one JSON answer per line
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>

#include "confab-impair-control.h"

struct _ConfabImpairControl
{
  GObject            parent_instance;

  ConfabImpairProxy *proxy;
  GSocketService    *service;
  GPtrArray         *clients;
  char              *path;      /* Unix socket file, or NULL */
  char              *address;
};

G_DEFINE_FINAL_TYPE (ConfabImpairControl, confab_impair_control, G_TYPE_OBJECT)

/* One connected controller. */
typedef struct
{
  ConfabImpairControl *control;
  GSocketConnection   *connection;
  GCancellable        *cancellable;
  GByteArray          *buffer;
  GQueue               answers;   /* char *, written in order */
  gboolean             writing;
  gboolean             closing;   /* close once the answers are out */
} Client;

static void client_read (Client *client);

static void
client_free (Client *client)
{
  g_cancellable_cancel (client->cancellable);
  g_clear_object (&client->cancellable);
  g_io_stream_close (G_IO_STREAM (client->connection), NULL, NULL);
  g_clear_object (&client->connection);
  g_clear_pointer (&client->buffer, g_byte_array_unref);
  g_queue_clear_full (&client->answers, g_free);
  g_free (client);
}

static void
client_drop (Client *client)
{
  g_ptr_array_remove (client->control->clients, client);
}

static void client_write (Client *client);

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        client_drop (client);
      return;
    }
  client->writing = FALSE;
  g_free (g_queue_pop_head (&client->answers));
  client_write (client);
}

static void
client_write (Client *client)
{
  const char *answer;

  if (client->writing)
    return;
  answer = g_queue_peek_head (&client->answers);
  if (answer == NULL)
    {
      if (client->closing)
        client_drop (client);
      return;
    }
  client->writing = TRUE;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (client->connection)),
                                   answer, strlen (answer), G_PRIORITY_DEFAULT, client->cancellable,
                                   write_cb, client);
}

static void
client_answer (Client     *client,
               const char *line)
{
  g_autofree char *answer = confab_impair_proxy_execute (client->control->proxy, line);

  g_queue_push_tail (&client->answers, g_strconcat (answer, "\n", NULL));
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  const guint8 *data;
  gsize len = 0;

  if (bytes == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        client_drop (client);
      return;
    }
  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    {
      /* The controller is done sending: finish answering, then close. */
      client->closing = TRUE;
      client_write (client);
      return;
    }
  g_byte_array_append (client->buffer, data, len);
  for (;;)
    {
      guint8 *nl = memchr (client->buffer->data, '\n', client->buffer->len);
      g_autofree char *line = NULL;

      if (nl == NULL)
        break;
      if (memchr (client->buffer->data, '\0', nl - client->buffer->data) == NULL)
        line = g_strndup ((const char *) client->buffer->data, nl - client->buffer->data);
      g_byte_array_remove_range (client->buffer, 0, (guint) (nl - client->buffer->data) + 1);
      if (line != NULL)
        client_answer (client, line);
      else
        g_queue_push_tail (&client->answers, g_strdup ("{\"ok\":false,\"error\":\"the command holds a NUL byte\"}\n"));
    }
  if (client->buffer->len > CONFAB_IMPAIR_CONTROL_MAX_LINE)
    {
      g_queue_push_tail (&client->answers,
                         g_strdup ("{\"ok\":false,\"error\":\"command line longer than 64 KiB\"}\n"));
      client->closing = TRUE;
      client_write (client);
      return;
    }
  client_write (client);
  client_read (client);
}

static void
client_read (Client *client)
{
  g_input_stream_read_bytes_async (g_io_stream_get_input_stream (G_IO_STREAM (client->connection)),
                                   4096, G_PRIORITY_DEFAULT, client->cancellable, read_cb, client);
}

static gboolean
on_incoming (GSocketService      *service,
             GSocketConnection   *connection,
             GObject             *source,
             ConfabImpairControl *self)
{
  Client *client = g_new0 (Client, 1);

  client->control = self;
  client->connection = g_object_ref (connection);
  client->cancellable = g_cancellable_new ();
  client->buffer = g_byte_array_new ();
  g_queue_init (&client->answers);
  g_ptr_array_add (self->clients, client);
  client_read (client);
  return TRUE;
}

static GSocketAddress *
parse_where (const char *where,
             gboolean   *is_unix,
             GError    **error)
{
  if (strchr (where, '/') != NULL)
    {
      *is_unix = TRUE;
      if (strlen (where) >= 108)
        {
          g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS,
                       "control socket path too long (at most 107 bytes)");
          return NULL;
        }
      return g_unix_socket_address_new (where);
    }
  *is_unix = FALSE;
  return G_SOCKET_ADDRESS (confab_impair_parse_address (where, FALSE, error));
}

ConfabImpairControl *
confab_impair_control_new (ConfabImpairProxy *proxy,
                           const char        *where,
                           GError           **error)
{
  g_autoptr(ConfabImpairControl) self = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  gboolean is_unix = FALSE;

  g_return_val_if_fail (CONFAB_IMPAIR_IS_PROXY (proxy), NULL);
  g_return_val_if_fail (where != NULL, NULL);

  address = parse_where (where, &is_unix, error);
  if (address == NULL)
    return NULL;
  self = g_object_new (CONFAB_IMPAIR_TYPE_CONTROL, NULL);
  self->proxy = g_object_ref (proxy);
  self->service = g_socket_service_new ();
  if (is_unix)
    {
      GStatBuf st;

      /* A stale socket from a killed run is replaced; any other file is not. */
      if (g_lstat (where, &st) == 0)
        {
          if (!S_ISSOCK (st.st_mode))
            {
              g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_BIND,
                           "%s exists and is not a socket", where);
              return NULL;
            }
          g_unlink (where);
        }
    }
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, &effective, error))
    {
      g_prefix_error (error, "control socket %s: ", where);
      return NULL;
    }
  if (is_unix)
    {
      self->path = g_strdup (where);
      self->address = g_strdup (where);
    }
  else
    {
      g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (effective)));

      self->address = g_strdup_printf ("%s:%u", host,
                                       g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
    }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  return g_steal_pointer (&self);
}

const char *
confab_impair_control_get_address (ConfabImpairControl *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_CONTROL (self), NULL);
  return self->address;
}

void
confab_impair_control_close (ConfabImpairControl *self)
{
  g_return_if_fail (CONFAB_IMPAIR_IS_CONTROL (self));

  if (self->service != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_clear_object (&self->service);
    }
  if (self->path != NULL)
    {
      g_unlink (self->path);
      g_clear_pointer (&self->path, g_free);
    }
  g_ptr_array_set_size (self->clients, 0);
}

char *
confab_impair_control_call (const char *where,
                            const char *line,
                            guint       timeout_ms,
                            GError    **error)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GString) answer = g_string_new (NULL);
  g_autofree char *request = NULL;
  gboolean is_unix = FALSE;
  gsize sent = 0;
  gint64 deadline;

  g_return_val_if_fail (where != NULL, NULL);
  g_return_val_if_fail (line != NULL, NULL);

  if (strchr (line, '\n') != NULL)
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_COMMAND,
                   "one command per call (no line breaks)");
      return NULL;
    }
  address = parse_where (where, &is_unix, error);
  if (address == NULL)
    return NULL;
  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_timeout (socket, (timeout_ms + 999) / 1000);
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  if (!g_socket_connect (socket, address, NULL, error))
    {
      g_prefix_error (error, "control socket %s: ", where);
      return NULL;
    }
  request = g_strconcat (line, "\n", NULL);
  while (sent < strlen (request))
    {
      gssize n = g_socket_send (socket, request + sent, strlen (request) - sent, NULL, error);

      if (n < 0)
        return NULL;
      sent += (gsize) n;
    }
  g_socket_shutdown (socket, FALSE, TRUE, NULL);
  for (;;)
    {
      char buffer[4096];
      gssize n;

      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer from %s within %u ms", where, timeout_ms);
          return NULL;
        }
      n = g_socket_receive (socket, buffer, sizeof buffer, NULL, error);
      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      g_string_append_len (answer, buffer, n);
      if (memchr (buffer, '\n', (gsize) n) != NULL)
        break;
    }
  if (answer->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "%s closed without answering", where);
      return NULL;
    }
  g_strchomp (answer->str);
  return g_string_free (g_steal_pointer (&answer), FALSE);
}

static void
confab_impair_control_dispose (GObject *object)
{
  ConfabImpairControl *self = CONFAB_IMPAIR_CONTROL (object);

  if (self->clients != NULL)
    {
      confab_impair_control_close (self);
      g_clear_pointer (&self->clients, g_ptr_array_unref);
    }
  g_clear_object (&self->proxy);

  G_OBJECT_CLASS (confab_impair_control_parent_class)->dispose (object);
}

static void
confab_impair_control_finalize (GObject *object)
{
  ConfabImpairControl *self = CONFAB_IMPAIR_CONTROL (object);

  g_free (self->path);
  g_free (self->address);

  G_OBJECT_CLASS (confab_impair_control_parent_class)->finalize (object);
}

static void
confab_impair_control_class_init (ConfabImpairControlClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_impair_control_dispose;
  object_class->finalize = confab_impair_control_finalize;
}

static void
confab_impair_control_init (ConfabImpairControl *self)
{
  self->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
}
