/* confab-impair-pipe.c: one client connection through the proxy, impaired both ways
 *
 * Each direction (up = client → server, down = server → client) is a queue of chunks,
 * each with the time it is due at the other end: now + one-way delay ± jitter, after
 * the bytes ahead of it have crossed a link of the given rate, never before the chunk
 * ahead of it (TCP keeps order). The proxy terminates TCP on both sides, so the kernel's
 * handshake costs nothing; with handshake=on the first client bytes are held one round
 * trip, as a real SYN/SYN-ACK would hold them.
 *
 * HTTP heads are read on the way (requests up, responses down) to find WebSocket
 * upgrades, answer for a captive portal or a blocking proxy, buffer whole responses and
 * act as a CONNECT proxy. Anything that is not HTTP (TLS, the frames after a 101) passes
 * as opaque bytes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "confab-impair-http.h"
#include "confab-impair-pipe.h"

#define READ_SIZE   16384
#define MAX_QUEUED  (4 * 1024 * 1024)   /* per direction; reading pauses beyond it */
#define MAX_HELD    (16 * 1024 * 1024)  /* buffer=on: the most held back at once */

enum { UP, DOWN };

typedef enum {
  CHUNK_DATA,
  CHUNK_EOF,    /* shut the write side down (the peer's FIN, delayed like data) */
  CHUNK_CLOSE,  /* close both sides after what came before */
  CHUNK_RESET,  /* reset both sides */
} ChunkKind;

typedef struct
{
  ChunkKind kind;
  GBytes   *bytes;
  gint64    due_us;
} Chunk;

typedef enum {
  INSPECT_START,       /* nothing seen yet: TLS, HTTP or a proxy request? */
  INSPECT_OPAQUE,
  INSPECT_HEAD,        /* collecting an HTTP head */
  INSPECT_PROXY_HEAD,  /* collecting a request to the CONNECT proxy */
  INSPECT_BODY,
  INSPECT_DROP,        /* swallowed */
  INSPECT_HOLD,        /* buffer=on after a 101: held until the server closes */
} Inspect;

typedef struct
{
  ConfabImpairPipe       *pipe;
  guint                   index;
  GQueue                  chunks;
  gsize                   queued;
  gboolean                reading;
  gboolean                writing;
  gboolean                read_done;
  gboolean                shut;
  gint64                  last_due_us;
  gint64                  wire_free_us;
  guint                   timer_id;
  Inspect                 inspect;
  GByteArray             *head;
  ConfabImpairBodyFramer  framer;
  GByteArray             *held;        /* buffer=on: the response being held */
} Direction;

struct _ConfabImpairPipe
{
  GObject               parent_instance;

  ConfabImpairListener *listener;      /* not owned: it outlives its pipes */
  GSocketConnection    *client;
  GSocketConnection    *upstream;
  GCancellable         *cancellable;
  Direction             dirs[2];
  GQueue                methods;       /* char *: requests still waiting for a response */
  gint64                accepted_us;
  guint64               forwarded;
  guint                 reset_timer_id;
  gboolean              stalled;
  gboolean              closed;
  gboolean              connecting;
  gboolean              tunnel_pending;  /* CONNECT: answer once upstream is connected */
  gboolean              blackhole_after_101;
  gboolean              dead;            /* past a black-holed 101: nothing moves */
  gboolean              reset_after_write;
};

enum {
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ConfabImpairPipe, confab_impair_pipe, G_TYPE_OBJECT)

static void pump           (Direction        *d);
static void start_reading  (Direction        *d);
static void finish         (ConfabImpairPipe *self,
                            gboolean          reset);
static void process        (Direction        *d,
                            const guint8     *data,
                            gsize             len);

/* Sockets ----------------------------------------------------------------------------- */

void
confab_impair_socket_reset (GSocket *socket)
{
  struct linger linger = { 1, 0 };

  g_return_if_fail (G_IS_SOCKET (socket));

  if (g_socket_is_closed (socket))
    return;
  /* SO_LINGER with a zero timeout makes close() send a RST instead of a FIN. */
  (void) setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
  g_socket_close (socket, NULL);
}

static void
set_nodelay (GSocketConnection *connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);

  /* Nagle would add its own delay to the small writes the rules schedule. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

static GInputStream *
dir_in (Direction *d)
{
  GSocketConnection *c = d->index == UP ? d->pipe->client : d->pipe->upstream;

  return c != NULL ? g_io_stream_get_input_stream (G_IO_STREAM (c)) : NULL;
}

static GSocketConnection *
dir_out_connection (Direction *d)
{
  return d->index == UP ? d->pipe->upstream : d->pipe->client;
}

/* Scheduling -------------------------------------------------------------------------- */

static void
chunk_free (Chunk *c)
{
  g_clear_pointer (&c->bytes, g_bytes_unref);
  g_free (c);
}

/* When @len bytes handed over now (or at @not_before_us) arrive at the other end;
 * advances the direction's clock. */
static gint64
advance (Direction *d,
         gsize      len,
         gint64     not_before_us,
         guint      extra_ms)
{
  ConfabImpairPipe *self = d->pipe;
  const ConfabImpairRules *rules = confab_impair_listener_get_rules (self->listener);
  gint64 now = g_get_monotonic_time ();
  gint64 send_at = MAX (now, not_before_us);
  guint delay = d->index == UP ? rules->delay_up_ms : rules->delay_down_ms;
  guint jitter = d->index == UP ? rules->jitter_up_ms : rules->jitter_down_ms;
  guint64 rate = d->index == UP ? rules->rate_up_bps : rules->rate_down_bps;
  gint64 offset;
  gint64 due;

  /* The client could not have sent before its SYN-ACK came back. */
  if (d->index == UP && rules->handshake)
    send_at = MAX (send_at, self->accepted_us + (gint64) (rules->delay_up_ms + rules->delay_down_ms) * 1000);
  if (rate > 0 && len > 0)
    {
      gint64 start = MAX (send_at, d->wire_free_us);

      d->wire_free_us = start + (gint64) ((double) len * 8 * G_USEC_PER_SEC / (double) rate);
      send_at = d->wire_free_us;
    }
  offset = ((gint64) delay + extra_ms) * 1000;
  if (jitter > 0)
    offset += g_rand_int_range (confab_impair_listener_get_rand (self->listener),
                                -(gint32) jitter * 1000, (gint32) jitter * 1000 + 1);
  due = send_at + MAX (offset, 0);
  due = MAX (due, d->last_due_us);
  d->last_due_us = due;
  return due;
}

/* Takes @bytes. */
static void
push (Direction *d,
      ChunkKind  kind,
      GBytes    *bytes,
      gint64     due_us)
{
  Chunk *c = g_new0 (Chunk, 1);

  c->kind = kind;
  c->bytes = bytes;
  c->due_us = due_us;
  if (bytes != NULL)
    d->queued += g_bytes_get_size (bytes);
  g_queue_push_tail (&d->chunks, c);
  pump (d);
}

static void
forward (Direction    *d,
         const guint8 *data,
         gsize         len,
         guint         extra_ms)
{
  gint64 due;

  if (len == 0)
    return;
  due = advance (d, len, 0, extra_ms);
  push (d, CHUNK_DATA, g_bytes_new (data, len), due);
}

static void
clear_timer (guint *id)
{
  GSource *source;

  if (*id == 0)
    return;
  source = g_main_context_find_source_by_id (g_main_context_get_thread_default (), *id);
  if (source != NULL)
    g_source_destroy (source);
  *id = 0;
}

/* Timers run in the context the pipe was started in (tests run the proxy in a thread). */
static guint
timeout_add (guint       ms,
             GSourceFunc function,
             gpointer    data)
{
  g_autoptr(GSource) source = g_timeout_source_new (ms);

  g_source_set_callback (source, function, data, NULL);
  return g_source_attach (source, g_main_context_get_thread_default ());
}

static gboolean
pump_timer_cb (gpointer user_data)
{
  Direction *d = user_data;

  d->timer_id = 0;
  pump (d);
  return G_SOURCE_REMOVE;
}

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data,
          guint         index)
{
  g_autoptr(ConfabImpairPipe) self = user_data;
  Direction *d = &self->dirs[index];
  g_autoptr(GError) error = NULL;
  gsize written = 0;
  Chunk *c;

  d->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error))
    {
      if (!self->closed)
        finish (self, TRUE);
      return;
    }
  if (self->closed)
    return;

  c = g_queue_pop_head (&d->chunks);
  d->queued -= g_bytes_get_size (c->bytes);
  chunk_free (c);
  if (self->reset_after_write)
    {
      finish (self, TRUE);
      return;
    }
  pump (d);
  start_reading (d);
}

static void
write_up_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  write_cb (source, result, user_data, UP);
}

static void
write_down_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  write_cb (source, result, user_data, DOWN);
}

static void
maybe_finish (ConfabImpairPipe *self)
{
  if (self->dirs[UP].shut && self->dirs[DOWN].shut)
    finish (self, FALSE);
}

static void
pump (Direction *d)
{
  ConfabImpairPipe *self = d->pipe;
  const ConfabImpairRules *rules;
  GSocketConnection *out;
  Chunk *c;
  gint64 now;

  if (self->closed || d->writing || self->stalled)
    return;
  c = g_queue_peek_head (&d->chunks);
  if (c == NULL)
    return;
  now = g_get_monotonic_time ();
  if (c->due_us > now)
    {
      if (d->timer_id == 0)
        d->timer_id = timeout_add ((guint) ((c->due_us - now + 999) / 1000), pump_timer_cb, d);
      return;
    }
  clear_timer (&d->timer_id);

  out = dir_out_connection (d);
  switch (c->kind)
    {
    case CHUNK_DATA:
      {
        gsize size = 0;
        const guint8 *data = g_bytes_get_data (c->bytes, &size);

        if (out == NULL)
          return;   /* upstream still connecting: its callback pumps */
        rules = confab_impair_listener_get_rules (self->listener);
        if (rules->reset_after_bytes > 0 && self->forwarded + size >= rules->reset_after_bytes)
          {
            gsize allowed = (gsize) (rules->reset_after_bytes - MIN (self->forwarded, rules->reset_after_bytes));

            if (allowed == 0)
              {
                finish (self, TRUE);
                return;
              }
            /* Write exactly up to the limit, then reset. */
            if (allowed < size)
              {
                GBytes *part = g_bytes_new_from_bytes (c->bytes, 0, allowed);

                d->queued -= size - allowed;
                g_bytes_unref (c->bytes);
                c->bytes = part;
                data = g_bytes_get_data (part, &size);
              }
            self->reset_after_write = TRUE;
          }
        /* Counted as it leaves: the peer may answer before this write's callback runs. */
        self->forwarded += size;
        confab_impair_listener_count (self->listener,
                                      d->index == UP ? CONFAB_IMPAIR_STAT_BYTES_UP : CONFAB_IMPAIR_STAT_BYTES_DOWN,
                                      size);
        d->writing = TRUE;
        g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (out)), data, size,
                                         G_PRIORITY_DEFAULT, self->cancellable,
                                         d->index == UP ? write_up_cb : write_down_cb, g_object_ref (self));
      }
      return;
    case CHUNK_EOF:
      if (out == NULL)
        return;
      chunk_free (g_queue_pop_head (&d->chunks));
      g_socket_shutdown (g_socket_connection_get_socket (out), FALSE, TRUE, NULL);
      d->shut = TRUE;
      maybe_finish (self);
      return;
    case CHUNK_CLOSE:
      chunk_free (g_queue_pop_head (&d->chunks));
      finish (self, FALSE);
      return;
    case CHUNK_RESET:
      chunk_free (g_queue_pop_head (&d->chunks));
      finish (self, TRUE);
      return;
    default:
      g_assert_not_reached ();
    }
}

/* Answers, as the proxy, on the client's side: the request of @request_len bytes is
 * taken to have crossed the link first. */
static void
respond (ConfabImpairPipe *self,
         gsize             request_len,
         int               status,
         const char       *reason,
         const char       *extra_headers,
         gboolean          close_after)
{
  Direction *up = &self->dirs[UP];
  Direction *down = &self->dirs[DOWN];
  g_autofree char *body = NULL;
  g_autofree char *text = NULL;
  gint64 up_due = advance (up, request_len, 0, 0);
  gint64 due;
  gsize len;

  if (status == 200)
    text = g_strdup_printf ("HTTP/1.1 200 %s\r\n\r\n", reason);
  else
    {
      body = g_strdup_printf ("%d %s (confab-impair)\n", status, reason);
      text = g_strdup_printf ("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s%s\r\n%s",
                              status, reason, strlen (body), extra_headers != NULL ? extra_headers : "",
                              close_after ? "Connection: close\r\n" : "", body);
    }
  len = strlen (text);
  due = advance (down, len, up_due, 0);
  push (down, CHUNK_DATA, g_bytes_new_take (g_steal_pointer (&text), len), due);
  if (close_after)
    push (down, CHUNK_CLOSE, NULL, due);
}

/* A reset as the proxy's answer to a request of @request_len bytes. */
static void
respond_reset (ConfabImpairPipe *self,
               gsize             request_len)
{
  gint64 up_due = advance (&self->dirs[UP], request_len, 0, 0);

  push (&self->dirs[DOWN], CHUNK_RESET, NULL, advance (&self->dirs[DOWN], 0, up_due, 0));
}

/* Upstream ---------------------------------------------------------------------------- */

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(ConfabImpairPipe) self = user_data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  self->connecting = FALSE;
  if (self->closed)
    {
      g_clear_object (&connection);
      return;
    }
  if (connection == NULL)
    {
      confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_UPSTREAM_FAILED, 1);
      g_debug ("upstream connect failed: %s", error->message);
      if (self->tunnel_pending)
        {
          self->tunnel_pending = FALSE;
          respond (self, 0, 502, "Bad Gateway", NULL, TRUE);
          self->dirs[UP].inspect = INSPECT_DROP;
        }
      else
        /* The server refused: the client gets the same news, as a reset. */
        finish (self, TRUE);
      return;
    }

  self->upstream = connection;
  set_nodelay (connection);
  if (self->tunnel_pending)
    {
      self->tunnel_pending = FALSE;
      confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_TUNNELS, 1);
      respond (self, 0, 200, "Connection established", NULL, FALSE);
    }
  start_reading (&self->dirs[DOWN]);
  pump (&self->dirs[UP]);
}

static void
connect_upstream (ConfabImpairPipe   *self,
                  GInetSocketAddress *address)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();

  if (self->upstream != NULL || self->connecting)
    return;
  /* Never through a proxy from the environment: loopback only, directly. */
  g_socket_client_set_enable_proxy (client, FALSE);
  self->connecting = TRUE;
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), self->cancellable,
                                 connect_cb, g_object_ref (self));
}

/* HTTP -------------------------------------------------------------------------------- */

static void flush_held (Direction *d);

static void
hold_or_forward (Direction    *d,
                 const guint8 *data,
                 gsize         len)
{
  if (d->held == NULL)
    {
      forward (d, data, len, 0);
      return;
    }
  g_byte_array_append (d->held, data, len);
  /* A response that never ends (a stream) is not held forever in memory. */
  if (d->held->len > MAX_HELD)
    {
      flush_held (d);
      d->held = g_byte_array_new ();
    }
}

static void
flush_held (Direction *d)
{
  GByteArray *held = g_steal_pointer (&d->held);
  gsize len;

  if (held == NULL)
    return;
  len = held->len;
  if (len == 0)
    {
      g_byte_array_unref (held);
      return;
    }
  push (d, CHUNK_DATA, g_byte_array_free_to_bytes (held), advance (d, len, 0, 0));
}

static void
start_body (Direction *d)
{
  d->inspect = d->framer.done ? INSPECT_HEAD : INSPECT_BODY;
  if (d->framer.done && d->index == DOWN)
    flush_held (d);
}

static void
handle_request (Direction    *d,
                const guint8 *data,
                gsize         len)
{
  ConfabImpairPipe *self = d->pipe;
  const ConfabImpairRules *rules = confab_impair_listener_get_rules (self->listener);
  g_autoptr(ConfabImpairHttpHead) head = confab_impair_http_head_parse (data, len, TRUE);
  g_autoptr(GString) rewritten = NULL;
  gboolean websocket;

  if (head == NULL)
    {
      if (rules->mode == CONFAB_IMPAIR_MODE_CAPTIVE)
        {
          respond (self, len, 400, "Bad Request", NULL, TRUE);
          d->inspect = INSPECT_DROP;
          return;
        }
      /* Not HTTP after all: pass it on untouched from here. */
      forward (d, data, len, 0);
      d->inspect = INSPECT_OPAQUE;
      self->dirs[DOWN].inspect = INSPECT_OPAQUE;
      return;
    }
  confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_HTTP_REQUESTS, 1);

  if (rules->mode == CONFAB_IMPAIR_MODE_CAPTIVE)
    {
      g_autofree char *location = g_strdup_printf ("Location: %s\r\n", rules->captive_url);

      confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_CAPTIVE, 1);
      respond (self, len, 302, "Found", location, TRUE);
      d->inspect = INSPECT_DROP;
      return;
    }

  websocket = confab_impair_http_head_is_websocket (head);
  if (websocket)
    {
      confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_WS_SEEN, 1);
      switch (rules->ws)
        {
        case CONFAB_IMPAIR_WS_403:
        case CONFAB_IMPAIR_WS_502:
          confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_WS_BLOCKED, 1);
          if (rules->ws == CONFAB_IMPAIR_WS_403)
            respond (self, len, 403, "Forbidden", NULL, TRUE);
          else
            respond (self, len, 502, "Bad Gateway", NULL, TRUE);
          d->inspect = INSPECT_DROP;
          return;
        case CONFAB_IMPAIR_WS_RESET:
          confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_WS_BLOCKED, 1);
          respond_reset (self, len);
          d->inspect = INSPECT_DROP;
          return;
        case CONFAB_IMPAIR_WS_SWALLOW:
          confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_WS_BLOCKED, 1);
          d->inspect = INSPECT_DROP;
          return;
        case CONFAB_IMPAIR_WS_BLACKHOLE:
          self->blackhole_after_101 = TRUE;
          break;
        case CONFAB_IMPAIR_WS_PASS:
        default:
          break;
        }
    }

  /* A request in absolute form (a client using us as its HTTP proxy) goes on in origin
   * form: the path only. */
  if (g_str_has_prefix (head->target, "http://"))
    {
      const char *path = strchr (head->target + strlen ("http://"), '/');
      const guint8 *space = memchr (data, ' ', len);
      const guint8 *line_end = memchr (data, '\n', len);
      const guint8 *version = line_end != NULL ? (const guint8 *) g_strrstr_len ((const char *) data, line_end - data, " ")
                                               : NULL;

      if (space != NULL && version != NULL && version > space)
        {
          rewritten = g_string_new_len ((const char *) data, space - data + 1);
          g_string_append (rewritten, path != NULL ? path : "/");
          g_string_append_len (rewritten, (const char *) version, len - (version - data));
        }
    }

  if (rewritten != NULL)
    forward (d, (const guint8 *) rewritten->str, rewritten->len, 0);
  else
    forward (d, data, len, 0);
  g_queue_push_tail (&self->methods, g_strdup (head->method));

  if (websocket || confab_impair_http_head_get (head, "Upgrade") != NULL)
    {
      /* Whatever follows an upgrade request is the new protocol's. */
      d->inspect = INSPECT_OPAQUE;
      return;
    }
  if (!confab_impair_body_framer_init (&d->framer, head, NULL))
    {
      d->inspect = INSPECT_OPAQUE;
      return;
    }
  start_body (d);
}

static void
handle_response (Direction    *d,
                 const guint8 *data,
                 gsize         len)
{
  ConfabImpairPipe *self = d->pipe;
  const ConfabImpairRules *rules = confab_impair_listener_get_rules (self->listener);
  g_autoptr(ConfabImpairHttpHead) head = confab_impair_http_head_parse (data, len, FALSE);
  g_autofree char *method = NULL;

  if (head == NULL)
    {
      forward (d, data, len, 0);
      d->inspect = INSPECT_OPAQUE;
      return;
    }
  if (head->status >= 200 || head->status == 101)
    method = g_queue_pop_head (&self->methods);

  if (head->status == 101)
    {
      if (self->blackhole_after_101)
        {
          forward (d, data, len, 0);
          self->dead = TRUE;
          d->inspect = INSPECT_DROP;
          self->dirs[UP].inspect = INSPECT_DROP;
          return;
        }
      if (rules->buffer)
        {
          /* A buffering proxy that does not understand upgrades: nothing gets through
           * until the server closes. */
          d->held = g_byte_array_new ();
          g_byte_array_append (d->held, data, len);
          d->inspect = INSPECT_HOLD;
          return;
        }
      forward (d, data, len, 0);
      d->inspect = INSPECT_OPAQUE;
      return;
    }

  if (!confab_impair_body_framer_init (&d->framer, head, method))
    {
      forward (d, data, len, 0);
      d->inspect = INSPECT_OPAQUE;
      return;
    }
  if (rules->buffer)
    d->held = g_byte_array_new ();
  hold_or_forward (d, data, len);
  start_body (d);
}

static void
handle_proxy_request (Direction    *d,
                      const guint8 *data,
                      gsize         len)
{
  ConfabImpairPipe *self = d->pipe;
  const ConfabImpairRules *rules = confab_impair_listener_get_rules (self->listener);
  g_autoptr(ConfabImpairHttpHead) head = confab_impair_http_head_parse (data, len, TRUE);
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *authority = NULL;
  gboolean is_connect;

  if (head == NULL)
    {
      respond (self, len, 400, "Bad Request", NULL, TRUE);
      d->inspect = INSPECT_DROP;
      return;
    }
  is_connect = g_ascii_strcasecmp (head->method, "CONNECT") == 0;
  if (is_connect)
    authority = g_strdup (head->target);
  else if (g_str_has_prefix (head->target, "http://"))
    {
      const char *start = head->target + strlen ("http://");
      const char *slash = strchr (start, '/');

      authority = slash != NULL ? g_strndup (start, slash - start) : g_strdup (start);
      if (strchr (authority, ':') == NULL || (authority[0] == '[' && g_str_has_suffix (authority, "]")))
        {
          char *with_port = g_strconcat (authority, ":80", NULL);

          g_free (authority);
          authority = with_port;
        }
    }
  else
    {
      respond (self, len, 400, "Bad Request", NULL, TRUE);
      d->inspect = INSPECT_DROP;
      return;
    }

  address = confab_impair_parse_address (authority, FALSE, &error);
  if (address == NULL || confab_impair_rules_denies_port (rules, g_inet_socket_address_get_port (address)))
    {
      g_debug ("proxy request refused: %s", error != NULL ? error->message : "port denied");
      confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_PROXY_DENIED, 1);
      respond (self, len, 403, "Forbidden", NULL, TRUE);
      d->inspect = INSPECT_DROP;
      return;
    }

  if (is_connect)
    {
      /* The tunnel's content is looked at afresh: TLS passes, plain HTTP meets the rules. */
      self->tunnel_pending = TRUE;
      d->inspect = INSPECT_START;
      self->dirs[DOWN].inspect = INSPECT_START;
      /* The request crossed the link: later data queues behind it. */
      advance (d, len, 0, 0);
      connect_upstream (self, address);
      return;
    }
  connect_upstream (self, address);
  handle_request (d, data, len);
}

/* Reading ----------------------------------------------------------------------------- */

static void
process_head (Direction    *d,
              const guint8 *data,
              gsize         len,
              gsize        *consumed)
{
  gssize end;
  gsize before = d->head->len;

  g_byte_array_append (d->head, data, len);
  end = confab_impair_http_find_head_end (d->head->data, d->head->len);
  if (end < 0)
    {
      *consumed = len;
      if (d->head->len > CONFAB_IMPAIR_HTTP_MAX_HEAD)
        {
          /* Too long to be a head we care about: pass it on. */
          forward (d, d->head->data, d->head->len, 0);
          g_byte_array_set_size (d->head, 0);
          d->inspect = INSPECT_OPAQUE;
        }
      return;
    }
  *consumed = (gsize) end - before;
  {
    g_autoptr(GByteArray) head = g_steal_pointer (&d->head);
    Inspect state = d->inspect;

    d->head = g_byte_array_new ();
    if (d->index == DOWN)
      handle_response (d, head->data, (gsize) end);
    else if (state == INSPECT_PROXY_HEAD)
      handle_proxy_request (d, head->data, (gsize) end);
    else
      handle_request (d, head->data, (gsize) end);
  }
}

static void
process (Direction    *d,
         const guint8 *data,
         gsize         len)
{
  ConfabImpairPipe *self = d->pipe;

  while (len > 0 && !self->closed)
    {
      const ConfabImpairRules *rules = confab_impair_listener_get_rules (self->listener);
      gsize consumed = 0;

      switch (d->inspect)
        {
        case INSPECT_OPAQUE:
          forward (d, data, len, 0);
          return;
        case INSPECT_DROP:
          return;
        case INSPECT_HOLD:
          hold_or_forward (d, data, len);
          return;
        case INSPECT_START:
          if (d->index == DOWN)
            {
              /* The server spoke first, or the client's protocol is undecided. */
              d->inspect = INSPECT_OPAQUE;
              continue;
            }
          if (rules->connect_proxy && !self->tunnel_pending && self->upstream == NULL && !self->connecting)
            {
              d->inspect = INSPECT_PROXY_HEAD;
              continue;
            }
          if (data[0] == 0x16)
            {
              /* A TLS ClientHello: opaque both ways, the handshake held if asked. */
              d->inspect = INSPECT_OPAQUE;
              self->dirs[DOWN].inspect = INSPECT_OPAQUE;
              forward (d, data, len, rules->tls_delay_ms);
              return;
            }
          if (!confab_impair_http_looks_like_request (data, len) && rules->mode != CONFAB_IMPAIR_MODE_CAPTIVE)
            {
              /* Some other protocol: bytes, both ways. */
              d->inspect = INSPECT_OPAQUE;
              self->dirs[DOWN].inspect = INSPECT_OPAQUE;
              continue;
            }
          d->inspect = INSPECT_HEAD;
          self->dirs[DOWN].inspect = INSPECT_HEAD;
          continue;
        case INSPECT_HEAD:
        case INSPECT_PROXY_HEAD:
          process_head (d, data, len, &consumed);
          break;
        case INSPECT_BODY:
          {
            gssize n = confab_impair_body_framer_consume (&d->framer, data, len);

            if (n < 0)
              {
                flush_held (d);
                d->inspect = INSPECT_OPAQUE;
                continue;
              }
            hold_or_forward (d, data, (gsize) n);
            consumed = (gsize) n;
            if (d->framer.done)
              start_body (d);
          }
          break;
        default:
          g_assert_not_reached ();
        }
      data += consumed;
      len -= consumed;
    }
}

static void
on_eof (Direction *d)
{
  ConfabImpairPipe *self = d->pipe;

  d->read_done = TRUE;
  if (self->dead)
    {
      finish (self, FALSE);
      return;
    }
  if (d->index == UP && (d->inspect == INSPECT_DROP || (self->upstream == NULL && !self->connecting)))
    {
      /* Nobody upstream to tell. An answer of ours still queued ends with a close. */
      if (g_queue_is_empty (&self->dirs[DOWN].chunks))
        finish (self, FALSE);
      return;
    }
  flush_held (d);
  push (d, CHUNK_EOF, NULL, advance (d, 0, 0, 0));
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data,
         guint         index)
{
  g_autoptr(ConfabImpairPipe) self = user_data;
  Direction *d = &self->dirs[index];
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gsize len = 0;
  const guint8 *data;

  d->reading = FALSE;
  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (self->closed)
    return;
  if (bytes == NULL)
    {
      /* The peer reset: pass the reset on, as late as its data would have arrived. */
      g_debug ("read (%s): %s", index == UP ? "client" : "upstream", error->message);
      d->read_done = TRUE;
      push (d, CHUNK_RESET, NULL, advance (d, 0, 0, 0));
      return;
    }
  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    {
      on_eof (d);
      return;
    }
  if (!self->dead)
    process (d, data, len);
  start_reading (d);
}

static void
read_up_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  read_cb (source, result, user_data, UP);
}

static void
read_down_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  read_cb (source, result, user_data, DOWN);
}

static void
start_reading (Direction *d)
{
  ConfabImpairPipe *self = d->pipe;
  GInputStream *in = dir_in (d);

  if (self->closed || d->reading || d->read_done || in == NULL || d->queued >= MAX_QUEUED)
    return;
  d->reading = TRUE;
  g_input_stream_read_bytes_async (in, READ_SIZE, G_PRIORITY_DEFAULT, self->cancellable,
                                   d->index == UP ? read_up_cb : read_down_cb, g_object_ref (self));
}

/* Life -------------------------------------------------------------------------------- */

static void
direction_clear (Direction *d)
{
  clear_timer (&d->timer_id);
  g_queue_clear_full (&d->chunks, (GDestroyNotify) chunk_free);
  d->queued = 0;
  g_clear_pointer (&d->head, g_byte_array_unref);
  g_clear_pointer (&d->held, g_byte_array_unref);
}

static void
finish (ConfabImpairPipe *self,
        gboolean          reset)
{
  g_autoptr(ConfabImpairPipe) hold = NULL;

  if (self->closed)
    return;
  hold = g_object_ref (self);
  self->closed = TRUE;
  g_cancellable_cancel (self->cancellable);
  clear_timer (&self->reset_timer_id);
  for (guint i = 0; i < 2; i++)
    direction_clear (&self->dirs[i]);

  if (reset)
    confab_impair_listener_count (self->listener, CONFAB_IMPAIR_STAT_RESETS, 1);
  if (self->client != NULL)
    {
      GSocket *socket = g_socket_connection_get_socket (self->client);

      if (reset)
        confab_impair_socket_reset (socket);
      else
        g_socket_close (socket, NULL);
    }
  if (self->upstream != NULL)
    {
      GSocket *socket = g_socket_connection_get_socket (self->upstream);

      if (reset)
        confab_impair_socket_reset (socket);
      else
        g_socket_close (socket, NULL);
    }
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
}

static gboolean
reset_timer_cb (gpointer user_data)
{
  ConfabImpairPipe *self = user_data;

  self->reset_timer_id = 0;
  finish (self, TRUE);
  return G_SOURCE_REMOVE;
}

void
confab_impair_pipe_start (ConfabImpairPipe *self,
                          gboolean          stalled)
{
  const ConfabImpairRules *rules;
  GInetSocketAddress *upstream;

  g_return_if_fail (CONFAB_IMPAIR_IS_PIPE (self));

  rules = confab_impair_listener_get_rules (self->listener);
  self->stalled = stalled;
  self->accepted_us = g_get_monotonic_time ();
  set_nodelay (self->client);

  switch (rules->mode)
    {
    case CONFAB_IMPAIR_MODE_RESET:
    case CONFAB_IMPAIR_MODE_REFUSE:   /* accepted just before the port closed */
      finish (self, TRUE);
      return;
    case CONFAB_IMPAIR_MODE_BLACKHOLE:
      self->dirs[UP].inspect = INSPECT_DROP;
      start_reading (&self->dirs[UP]);
      return;
    case CONFAB_IMPAIR_MODE_CAPTIVE:
      self->dirs[UP].inspect = INSPECT_HEAD;
      start_reading (&self->dirs[UP]);
      return;
    case CONFAB_IMPAIR_MODE_PASS:
    default:
      break;
    }

  if (rules->reset_after_ms > 0)
    self->reset_timer_id = timeout_add (rules->reset_after_ms, reset_timer_cb, self);
  if (!rules->connect_proxy)
    {
      upstream = confab_impair_listener_get_upstream (self->listener);
      if (upstream == NULL)
        {
          finish (self, TRUE);
          return;
        }
      connect_upstream (self, upstream);
    }
  start_reading (&self->dirs[UP]);
}

void
confab_impair_pipe_reset (ConfabImpairPipe *self)
{
  g_return_if_fail (CONFAB_IMPAIR_IS_PIPE (self));
  finish (self, TRUE);
}

void
confab_impair_pipe_stall (ConfabImpairPipe *self,
                          gboolean          stalled)
{
  g_return_if_fail (CONFAB_IMPAIR_IS_PIPE (self));

  if (self->stalled == stalled)
    return;
  self->stalled = stalled;
  for (guint i = 0; i < 2; i++)
    {
      if (stalled)
        clear_timer (&self->dirs[i].timer_id);
      else
        pump (&self->dirs[i]);
    }
}

gboolean
confab_impair_pipe_is_closed (ConfabImpairPipe *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_PIPE (self), TRUE);
  return self->closed;
}

ConfabImpairPipe *
confab_impair_pipe_new (ConfabImpairListener *listener,
                        GSocketConnection    *client)
{
  ConfabImpairPipe *self;

  g_return_val_if_fail (CONFAB_IMPAIR_IS_LISTENER (listener), NULL);
  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (client), NULL);

  self = g_object_new (CONFAB_IMPAIR_TYPE_PIPE, NULL);
  self->listener = listener;
  self->client = g_object_ref (client);
  return self;
}

static void
confab_impair_pipe_dispose (GObject *object)
{
  ConfabImpairPipe *self = CONFAB_IMPAIR_PIPE (object);

  if (!self->closed)
    {
      self->closed = TRUE;
      g_cancellable_cancel (self->cancellable);
    }
  clear_timer (&self->reset_timer_id);
  for (guint i = 0; i < 2; i++)
    direction_clear (&self->dirs[i]);
  g_queue_clear_full (&self->methods, g_free);
  g_clear_object (&self->client);
  g_clear_object (&self->upstream);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (confab_impair_pipe_parent_class)->dispose (object);
}

static void
confab_impair_pipe_class_init (ConfabImpairPipeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_impair_pipe_dispose;

  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
confab_impair_pipe_init (ConfabImpairPipe *self)
{
  self->cancellable = g_cancellable_new ();
  for (guint i = 0; i < 2; i++)
    {
      self->dirs[i].pipe = self;
      self->dirs[i].index = i;
      self->dirs[i].inspect = INSPECT_START;
      self->dirs[i].head = g_byte_array_new ();
      g_queue_init (&self->dirs[i].chunks);
    }
  g_queue_init (&self->methods);
}
