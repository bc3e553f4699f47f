/* test-impair.c: the impairment proxy's rules, over loopback
 *
 * The proxy runs in its own thread (its own main context), with a blocking upstream
 * server beside it (GThreadedSocketService); the test thread is the client, with
 * blocking sockets and deadlines, and drives the proxy through its control socket. Time
 * is only ever asserted as a lower bound (a rule that adds 200 ms must not take less);
 * "nothing arrives" is checked over a short window, as the only way to see silence.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>

#include "confab-impair-control.h"
#include "confab-impair-http.h"
#include "confab-impair-profiles.h"
#include "confab-impair-proxy.h"
#include "confab-impair-rules.h"

#define IO_TIMEOUT_MS  5000
#define SILENCE_MS     300     /* the window in which nothing may arrive */

/* Rules, addresses, HTTP parsing: no network ------------------------------------------- */

static void
test_rules_parse (void)
{
  g_autoptr(ConfabImpairRules) rules = confab_impair_rules_new ();
  g_autoptr(GError) error = NULL;
  const char *good[] = { "rtt=101", "jitter=4ms", "rate_down=1.5m", "rate_up=500kbit", "ws=swallow",
                         "mode=blackhole", "buffer=on", "tls_delay=2s", "reset_after_bytes=1000",
                         "reset_after_ms=250", "captive_url=http://portal.test/login", "proxy=connect",
                         "deny_ports=80,8443", "loss=1%", "handshake=off", NULL };

  g_assert_true (rules->handshake);
  g_assert_true (confab_impair_rules_apply_all (rules, good, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rules->delay_up_ms, ==, 50);
  g_assert_cmpuint (rules->delay_down_ms, ==, 51);
  g_assert_cmpuint (rules->jitter_up_ms, ==, 4);
  g_assert_cmpuint (rules->jitter_down_ms, ==, 4);
  g_assert_cmpuint (rules->rate_down_bps, ==, 1500000);
  g_assert_cmpuint (rules->rate_up_bps, ==, 500000);
  g_assert_cmpint (rules->ws, ==, CONFAB_IMPAIR_WS_SWALLOW);
  g_assert_cmpint (rules->mode, ==, CONFAB_IMPAIR_MODE_BLACKHOLE);
  g_assert_true (rules->buffer);
  g_assert_cmpuint (rules->tls_delay_ms, ==, 2000);
  g_assert_cmpuint (rules->reset_after_bytes, ==, 1000);
  g_assert_cmpuint (rules->reset_after_ms, ==, 250);
  g_assert_cmpstr (rules->captive_url, ==, "http://portal.test/login");
  g_assert_true (rules->connect_proxy);
  g_assert_cmpuint (rules->n_deny_ports, ==, 2);
  g_assert_true (confab_impair_rules_denies_port (rules, 8443));
  g_assert_false (confab_impair_rules_denies_port (rules, 8444));
  g_assert_cmpfloat_with_epsilon (rules->loss, 0.01, 1e-9);
  g_assert_false (rules->handshake);
}

static void
test_rules_invalid (void)
{
  struct { const char *rule; ConfabImpairErrorCode code; const char *mentions; } cases[] = {
    { "nonsense", CONFAB_IMPAIR_ERROR_UNKNOWN_RULE, "KEY=VALUE" },
    { "=5", CONFAB_IMPAIR_ERROR_UNKNOWN_RULE, "KEY=VALUE" },
    { "latency=5", CONFAB_IMPAIR_ERROR_UNKNOWN_RULE, "latency" },
    { "rtt=-1", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "-1" },
    { "rtt=abc", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "abc" },
    { "rtt=", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "duration" },
    { "rtt=601s", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "600000" },
    { "jitter=1.5", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "1.5" },
    { "rate=fast", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "fast" },
    { "rate=1.5x", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "1.5x" },
    { "rate=-3", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "-3" },
    { "rate=200g", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "200g" },
    { "mode=closed", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "refuse" },
    { "ws=404", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "swallow" },
    { "buffer=maybe", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "on or off" },
    { "loss=2", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "probability" },
    { "loss=ten", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "probability" },
    { "deny_ports=0", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "1–65535" },
    { "deny_ports=80,70000", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "1–65535" },
    { "captive_url=ftp://x", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "http://" },
    { "captive_url=http://x/\r\nSet-Cookie:a", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "line breaks" },
    { "proxy=socks", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "connect or off" },
    { "reset_after_bytes=lots", CONFAB_IMPAIR_ERROR_INVALID_VALUE, "byte count" },
    { "profile=5g", CONFAB_IMPAIR_ERROR_UNKNOWN_PROFILE, "wifi" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(ConfabImpairRules) rules = confab_impair_rules_new ();
      g_autoptr(ConfabImpairRules) before = confab_impair_rules_copy (rules);
      g_autoptr(GError) error = NULL;

      g_test_message ("rule %s", cases[i].rule);
      g_assert_false (confab_impair_rules_apply (rules, cases[i].rule, &error));
      g_assert_error (error, CONFAB_IMPAIR_ERROR, (gint) cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].mentions));
      /* Nothing half-applied. */
      g_assert_cmpmem (rules->deny_ports, sizeof rules->deny_ports, before->deny_ports, sizeof before->deny_ports);
      g_assert_cmpuint (rules->delay_up_ms, ==, before->delay_up_ms);
      g_assert_cmpstr (rules->captive_url, ==, before->captive_url);
    }
}

static void
test_rules_all_or_nothing (void)
{
  g_autoptr(ConfabImpairRules) rules = confab_impair_rules_new ();
  g_autoptr(GError) error = NULL;
  const char *mixed[] = { "rtt=80", "ws=403", "rate=nope", NULL };

  g_assert_false (confab_impair_rules_apply_all (rules, mixed, &error));
  g_assert_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE);
  g_assert_cmpuint (rules->delay_up_ms, ==, 0);
  g_assert_cmpint (rules->ws, ==, CONFAB_IMPAIR_WS_PASS);
}

static void
test_profiles (void)
{
  g_autoptr(JsonNode) json = confab_impair_profiles_json ();
  const char *names[] = { "clean", "wifi", "4g", "3g", "lossy", "corporate-proxy", "ws-blackholed",
                          "primary-down", "server-restart", "mid-session-cut" };

  g_assert_true (JSON_NODE_HOLDS_ARRAY (json));
  for (const ConfabImpairProfile *p = confab_impair_profiles (); p->name != NULL; p++)
    {
      g_autoptr(ConfabImpairRules) rules = confab_impair_rules_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *assignment = g_strconcat ("profile=", p->name, NULL);

      /* Every profile's rules parse, and its stated round trip is what they add. */
      g_assert_true (confab_impair_rules_apply (rules, assignment, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (rules->delay_up_ms + rules->delay_down_ms, ==, p->rtt_ms);
      g_assert_cmpfloat (rules->loss, ==, p->loss);
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_assert_nonnull (confab_impair_profile_lookup (names[i]));
  g_assert_null (confab_impair_profile_lookup ("5g"));
  {
    g_autoptr(ConfabImpairRules) rules = confab_impair_rules_new ();

    g_assert_true (confab_impair_rules_apply (rules, "profile=3g", NULL));
    g_assert_cmpuint (rules->rate_down_bps, ==, 1500000);
    g_assert_cmpfloat (rules->loss, ==, 0.01);
    /* A profile replaces the rules before it. */
    g_assert_true (confab_impair_rules_apply (rules, "ws=403", NULL));
    g_assert_true (confab_impair_rules_apply (rules, "profile=clean", NULL));
    g_assert_cmpint (rules->ws, ==, CONFAB_IMPAIR_WS_PASS);
    g_assert_cmpuint (rules->rate_down_bps, ==, 0);
  }
}

static void
test_addresses (void)
{
  struct { const char *text; gboolean any_local; int code; guint16 port; } cases[] = {
    { "127.0.0.1:8080", FALSE, -1, 8080 },
    { "127.8.9.10:0", FALSE, -1, 0 },
    { "localhost:1", FALSE, -1, 1 },
    { "[::1]:443", FALSE, -1, 443 },
    { "10.0.0.1:80", FALSE, CONFAB_IMPAIR_ERROR_NOT_LOOPBACK, 0 },
    { "8.8.8.8:53", FALSE, CONFAB_IMPAIR_ERROR_NOT_LOOPBACK, 0 },
    { "10.0.0.1:80", TRUE, -1, 80 },
    { "example.com:80", FALSE, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS, 0 },
    { "127.0.0.1", FALSE, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS, 0 },
    { "127.0.0.1:65536", FALSE, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS, 0 },
    { "127.0.0.1:-5", FALSE, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS, 0 },
    { "127.0.0.1:http", FALSE, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS, 0 },
    { "[::1:80", FALSE, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) address = confab_impair_parse_address (cases[i].text, cases[i].any_local, &error);

      g_test_message ("address %s", cases[i].text);
      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_nonnull (address);
          g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, cases[i].port);
        }
      else
        {
          g_assert_null (address);
          g_assert_error (error, CONFAB_IMPAIR_ERROR, cases[i].code);
        }
    }
}

static void
test_http_heads (void)
{
  const char *request = "GET /connect?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                        "Upgrade: WebSocket\r\nContent-Length: 0\r\n\r\nrest";
  gssize end = confab_impair_http_find_head_end ((const guint8 *) request, strlen (request));
  g_autoptr(ConfabImpairHttpHead) head = NULL;
  g_autoptr(ConfabImpairHttpHead) response = NULL;
  ConfabImpairBodyFramer framer;

  g_assert_cmpint (end, ==, (gssize) strlen (request) - 4);
  head = confab_impair_http_head_parse ((const guint8 *) request, (gsize) end, TRUE);
  g_assert_nonnull (head);
  g_assert_cmpstr (head->method, ==, "GET");
  g_assert_cmpstr (head->target, ==, "/connect?x=1");
  g_assert_true (confab_impair_http_head_is_websocket (head));
  g_assert_true (confab_impair_http_head_has_token (head, "connection", "upgrade"));
  g_assert_cmpstr (confab_impair_http_head_get (head, "host"), ==, "a");

  g_assert_cmpint (confab_impair_http_find_head_end ((const guint8 *) "GET / HTTP/1.1\r\nHost: a\r\n", 25), ==, -1);
  g_assert_true (confab_impair_http_looks_like_request ((const guint8 *) "GET /x", 6));
  g_assert_true (confab_impair_http_looks_like_request ((const guint8 *) "CONN", 4));
  g_assert_false (confab_impair_http_looks_like_request ((const guint8 *) "ECHO x", 6));
  g_assert_false (confab_impair_http_looks_like_request ((const guint8 *) "GETX /", 6));
  g_assert_false (confab_impair_http_looks_like_request ((const guint8 *) "\x16\x03", 2));
  g_assert_null (confab_impair_http_head_parse ((const guint8 *) "\x16\x03\x01\x02\x00\r\n\r\n", 9, TRUE));
  g_assert_null (confab_impair_http_head_parse ((const guint8 *) "GET /\r\n\r\n", 9, TRUE));
  g_assert_null (confab_impair_http_head_parse ((const guint8 *) "GET / HTTP/1.1\r\nNo colon\r\n\r\n", 28, TRUE));
  g_assert_null (confab_impair_http_head_parse ((const guint8 *) "HTTP/1.1 abc OK\r\n\r\n", 19, FALSE));

  response = confab_impair_http_head_parse ((const guint8 *) "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 38, FALSE);
  g_assert_nonnull (response);
  g_assert_cmpint (response->status, ==, 200);
  g_assert_true (confab_impair_body_framer_init (&framer, response, "GET"));
  g_assert_cmpint (framer.kind, ==, CONFAB_IMPAIR_BODY_LENGTH);
  g_assert_cmpint (confab_impair_body_framer_consume (&framer, (const guint8 *) "abcdefg", 7), ==, 5);
  g_assert_true (framer.done);
  /* A HEAD request's response has no body, whatever it says. */
  g_assert_true (confab_impair_body_framer_init (&framer, response, "HEAD"));
  g_assert_true (framer.done);
}

static void
test_http_chunked (void)
{
  const char *body = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  g_autoptr(ConfabImpairHttpHead) head = confab_impair_http_head_parse (
    (const guint8 *) "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 52, FALSE);
  ConfabImpairBodyFramer framer;
  gsize total = 0;

  g_assert_nonnull (head);
  /* Fed one byte at a time: the end is found exactly, before "NEXT". */
  g_assert_true (confab_impair_body_framer_init (&framer, head, "GET"));
  g_assert_cmpint (framer.kind, ==, CONFAB_IMPAIR_BODY_CHUNKED);
  for (gsize i = 0; i < strlen (body) && !framer.done; i++)
    {
      gssize n = confab_impair_body_framer_consume (&framer, (const guint8 *) body + i, 1);

      g_assert_cmpint (n, ==, 1);
      total += (gsize) n;
    }
  g_assert_true (framer.done);
  g_assert_cmpuint (total, ==, strlen (body) - 4);

  /* All at once: the same answer. */
  g_assert_true (confab_impair_body_framer_init (&framer, head, "GET"));
  g_assert_cmpint (confab_impair_body_framer_consume (&framer, (const guint8 *) body, strlen (body)), ==,
                   (gssize) strlen (body) - 4);
  g_assert_true (framer.done);

  /* A size that is not hex is malformed. */
  g_assert_true (confab_impair_body_framer_init (&framer, head, "GET"));
  g_assert_cmpint (confab_impair_body_framer_consume (&framer, (const guint8 *) "zz\r\n", 4), ==, -1);
}

/* Commands, without traffic ----------------------------------------------------------- */

static JsonObject *
parse_answer (const char *answer,
              JsonParser *parser)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, answer, -1, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_get_object (json_parser_get_root (parser));
}

static void
assert_refused (ConfabImpairProxy *proxy,
                const char        *command,
                const char        *mentions)
{
  g_autofree char *answer = confab_impair_proxy_execute (proxy, command);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object = parse_answer (answer, parser);
  /* Some commands are deliberately not UTF-8: escaped, so the TAP output stays text. */
  g_autofree char *shown = g_strescape (command, NULL);

  g_test_message ("%s → %s", shown, answer);
  g_assert_false (json_object_get_boolean_member (object, "ok"));
  g_assert_nonnull (strstr (json_object_get_string_member (object, "error"), mentions));
}

static void
test_commands (void)
{
  g_autoptr(ConfabImpairProxy) proxy = confab_impair_proxy_new (1);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *added = NULL;
  g_autofree char *set = NULL;
  g_autofree char *got = NULL;
  JsonObject *object;
  JsonObject *rules;

  added = confab_impair_proxy_execute (proxy, "add a listen=127.0.0.1:0 upstream=127.0.0.1:9 profile=wifi");
  object = parse_answer (added, parser);
  g_assert_true (json_object_get_boolean_member (object, "ok"));
  object = json_object_get_object_member (object, "listener");
  g_assert_cmpstr (json_object_get_string_member (object, "name"), ==, "a");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (object, "listen"), "127.0.0.1:"));
  g_assert_false (g_str_has_suffix (json_object_get_string_member (object, "listen"), ":0"));
  rules = json_object_get_object_member (object, "rules");
  g_assert_cmpint (json_object_get_int_member (rules, "delay_up_ms"), ==, 10);

  set = confab_impair_proxy_execute (proxy, "set a ws=502 rate=2m");
  object = json_object_get_object_member (parse_answer (set, parser), "listener");
  rules = json_object_get_object_member (object, "rules");
  g_assert_cmpstr (json_object_get_string_member (rules, "ws"), ==, "502");
  g_assert_cmpint (json_object_get_int_member (rules, "rate_up_bps"), ==, 2000000);
  g_assert_cmpint (json_object_get_int_member (rules, "delay_up_ms"), ==, 10);

  assert_refused (proxy, "", "empty");
  assert_refused (proxy, "frobnicate", "unknown command");
  assert_refused (proxy, "set", "usage");
  assert_refused (proxy, "set b rtt=5", "no listener named “b” (listeners: a)");
  assert_refused (proxy, "set a rtt=fast", "invalid duration");
  assert_refused (proxy, "set a colour=blue", "unknown rule");
  assert_refused (proxy, "set a listen=127.0.0.1:5", "cannot change");
  assert_refused (proxy, "set a upstream=192.168.1.1:80", "not a loopback");
  assert_refused (proxy, "profile a 5g", "unknown profile");
  assert_refused (proxy, "cut a sideways", "expected silent, reset or refuse");
  assert_refused (proxy, "cut nobody", "no listener");
  assert_refused (proxy, "add a listen=127.0.0.1:0 upstream=127.0.0.1:9", "exists already");
  assert_refused (proxy, "add all listen=127.0.0.1:0 upstream=127.0.0.1:9", "invalid listener name");
  assert_refused (proxy, "add b/c listen=127.0.0.1:0 upstream=127.0.0.1:9", "invalid listener name");
  assert_refused (proxy, "add b upstream=127.0.0.1:9", "needs listen");
  assert_refused (proxy, "add b listen=127.0.0.1:0", "needs upstream");
  assert_refused (proxy, "add b listen=127.0.0.1:0 upstream=127.0.0.1:0", "1–65535");
  assert_refused (proxy, "add b listen=127.0.0.1:0 upstream=10.1.1.1:80", "not a loopback");
  assert_refused (proxy, "add b listen=127.0.0.1:99999 upstream=127.0.0.1:9", "invalid port");
  assert_refused (proxy, "\xff\xfe", "UTF-8");

  /* The values above changed nothing. */
  got = confab_impair_proxy_execute (proxy, "get a");
  object = json_object_get_object_member (parse_answer (got, parser), "listener");
  rules = json_object_get_object_member (object, "rules");
  g_assert_cmpstr (json_object_get_string_member (rules, "ws"), ==, "502");
  g_assert_cmpint (json_object_get_int_member (rules, "delay_up_ms"), ==, 10);
}

/* The proxy thread -------------------------------------------------------------------- */

typedef struct
{
  GThread             *thread;
  GMainContext        *context;
  GMainLoop           *loop;
  ConfabImpairProxy   *proxy;
  ConfabImpairControl *control;
  GSocketService      *upstream;
  guint16              upstream_port;
  char                *dir;
  char                *control_path;
  GMutex               lock;
  GCond                cond;
  gboolean             ready;
  gboolean             go;           /* lets /chunked send its second part */
  guint                upstream_connections;
} Fixture;

/* The upstream server: one blocking thread per connection. "ECHO…" or a TLS record →
 * echo everything; otherwise HTTP: /plain, /ws (101, "frame1", then echo), /chunked
 * (one chunk, then the rest once the test says go), /close (a body until close). */
static gboolean
read_head (GSocket    *socket,
           GByteArray *buffer,
           gssize     *end)
{
  while ((*end = confab_impair_http_find_head_end (buffer->data, buffer->len)) < 0)
    {
      char chunk[4096];
      gssize n = g_socket_receive (socket, chunk, sizeof chunk, NULL, NULL);

      if (n <= 0)
        return FALSE;
      g_byte_array_append (buffer, (const guint8 *) chunk, (guint) n);
      if (buffer->len >= 2 && (buffer->data[0] == 0x16 || memcmp (buffer->data, "EC", 2) == 0))
        return TRUE;
    }
  return TRUE;
}

static void
send_text (GSocket    *socket,
           const char *text)
{
  g_socket_send (socket, text, strlen (text), NULL, NULL);
}

static void
echo (GSocket    *socket,
      GByteArray *pending)
{
  if (pending->len > 0)
    g_socket_send (socket, (const char *) pending->data, pending->len, NULL, NULL);
  for (;;)
    {
      char chunk[16384];
      gssize n = g_socket_receive (socket, chunk, sizeof chunk, NULL, NULL);
      gssize sent = 0;

      if (n <= 0)
        return;
      while (sent < n)
        {
          gssize m = g_socket_send (socket, chunk + sent, (gsize) (n - sent), NULL, NULL);

          if (m <= 0)
            return;
          sent += m;
        }
    }
}

static gboolean
upstream_run (GThreadedSocketService *service,
              GSocketConnection      *connection,
              GObject                *source,
              Fixture                *f)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr(GByteArray) buffer = g_byte_array_new ();

  g_socket_set_timeout (socket, 20);
  g_mutex_lock (&f->lock);
  f->upstream_connections++;
  g_mutex_unlock (&f->lock);
  for (;;)
    {
      g_autoptr(ConfabImpairHttpHead) head = NULL;
      gssize end = -1;

      if (!read_head (socket, buffer, &end))
        return TRUE;
      if (end < 0)
        {
          echo (socket, buffer);
          return TRUE;
        }
      head = confab_impair_http_head_parse (buffer->data, (gsize) end, TRUE);
      g_byte_array_remove_range (buffer, 0, (guint) end);
      if (head == NULL)
        return TRUE;
      if (g_str_equal (head->target, "/ws"))
        {
          send_text (socket, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframe1");
          echo (socket, buffer);
          return TRUE;
        }
      if (g_str_equal (head->target, "/chunked"))
        {
          gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

          send_text (socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
          g_mutex_lock (&f->lock);
          while (!f->go)
            if (!g_cond_wait_until (&f->cond, &f->lock, deadline))
              break;
          g_mutex_unlock (&f->lock);
          send_text (socket, "6\r\nsecond\r\n0\r\n\r\n");
          continue;
        }
      if (g_str_equal (head->target, "/close"))
        {
          send_text (socket, "HTTP/1.1 200 OK\r\n\r\nbody-until-close");
          return TRUE;
        }
      send_text (socket, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    }
}

static gpointer
proxy_thread (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) effective = NULL;

  g_main_context_push_thread_default (f->context);
  f->proxy = confab_impair_proxy_new (42);
  f->control = confab_impair_control_new (f->proxy, f->control_path, &error);
  g_assert_no_error (error);
  f->upstream = g_threaded_socket_service_new (16);
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (f->upstream), any, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error));
  g_assert_no_error (error);
  f->upstream_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (f->upstream, "run", G_CALLBACK (upstream_run), f);
  g_socket_service_start (f->upstream);

  g_mutex_lock (&f->lock);
  f->ready = TRUE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);

  g_main_loop_run (f->loop);

  confab_impair_control_close (f->control);
  confab_impair_proxy_stop (f->proxy);
  g_socket_service_stop (f->upstream);
  g_socket_listener_close (G_SOCKET_LISTENER (f->upstream));
  /* Let cancelled operations finish in this context before their objects go. */
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_clear_object (&f->control);
  g_clear_object (&f->proxy);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->dir = g_dir_make_tmp ("test-impair-XXXXXX", &error);
  g_assert_no_error (error);
  f->control_path = g_build_filename (f->dir, "control.sock", NULL);
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  f->thread = g_thread_new ("proxy", proxy_thread, f);
  g_mutex_lock (&f->lock);
  while (!f->ready)
    g_cond_wait (&f->cond, &f->lock);
  g_mutex_unlock (&f->lock);
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_mutex_lock (&f->lock);
  f->go = TRUE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
  g_main_context_invoke (f->context, quit_cb, f->loop);
  g_thread_join (f->thread);
  g_clear_object (&f->upstream);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  g_rmdir (f->dir);
  g_free (f->control_path);
  g_free (f->dir);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
}

/* Through the control socket, as the benchmark drives it. */
static JsonObject *
ctl (Fixture    *f,
     JsonParser *parser,
     const char *format,
     ...) G_GNUC_PRINTF (3, 4);

static JsonObject *
ctl (Fixture    *f,
     JsonParser *parser,
     const char *format,
     ...)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *answer = NULL;
  JsonObject *object;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  answer = confab_impair_control_call (f->control_path, line, IO_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  object = parse_answer (answer, parser);
  if (!json_object_get_boolean_member (object, "ok"))
    g_error ("“%s” failed: %s", line, answer);
  return object;
}

/* Adds a listener in front of the upstream server; returns its port. */
static guint16
add_listener (Fixture    *f,
              const char *name,
              const char *rules)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object = ctl (f, parser, "add %s listen=127.0.0.1:0 upstream=127.0.0.1:%u %s", name,
                            f->upstream_port, rules);
  const char *listen = json_object_get_string_member (json_object_get_object_member (object, "listener"), "listen");

  return (guint16) g_ascii_strtoull (strrchr (listen, ':') + 1, NULL, 10);
}

static guint64
stat_of (Fixture    *f,
         const char *listener,
         const char *stat)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object = ctl (f, parser, "get %s", listener);

  object = json_object_get_object_member (json_object_get_object_member (object, "listener"), "stats");
  return (guint64) json_object_get_int_member (object, stat);
}

/* The client side: blocking sockets with deadlines. */
static GSocketConnection *
client_connect (guint16   port,
                GError  **error)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  GSocketConnection *connection;

  g_socket_client_set_timeout (client, IO_TIMEOUT_MS / 1000);
  g_socket_client_set_enable_proxy (client, FALSE);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, error);
  if (connection != NULL)
    g_socket_set_timeout (g_socket_connection_get_socket (connection), IO_TIMEOUT_MS / 1000);
  return connection;
}

static GSocketConnection *
must_connect (guint16 port)
{
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection = client_connect (port, &error);

  g_assert_no_error (error);
  return connection;
}

static void
client_send (GSocketConnection *connection,
             const char        *data,
             gsize              len)
{
  g_autoptr(GError) error = NULL;
  gsize sent = 0;

  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                            data, len, &sent, NULL, &error));
  g_assert_no_error (error);
}

static void
client_send_text (GSocketConnection *connection,
                  const char        *text)
{
  client_send (connection, text, strlen (text));
}

typedef enum {
  END_NONE,      /* the text was found (or the deadline passed) */
  END_EOF,
  END_ERROR,     /* a reset */
} End;

/* Reads until @needle has arrived, the peer closes or resets, or the deadline passes. */
static GString *
client_read_until (GSocketConnection *connection,
                   const char        *needle,
                   guint              timeout_ms,
                   End               *end)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  GString *got = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  *end = END_NONE;
  while (needle == NULL || strstr (got->str, needle) == NULL)
    {
      char chunk[16384];
      gint64 left = deadline - g_get_monotonic_time ();
      g_autoptr(GError) error = NULL;
      gssize n;

      if (left <= 0 || !g_socket_condition_timed_wait (socket, G_IO_IN, left, NULL, NULL))
        break;
      n = g_socket_receive (socket, chunk, sizeof chunk, NULL, &error);
      if (n < 0)
        {
          *end = END_ERROR;
          break;
        }
      if (n == 0)
        {
          *end = END_EOF;
          break;
        }
      g_string_append_len (got, chunk, n);
    }
  return got;
}

static char *
client_expect (GSocketConnection *connection,
               const char        *needle)
{
  End end;
  GString *got = client_read_until (connection, needle, IO_TIMEOUT_MS, &end);

  if (strstr (got->str, needle) == NULL)
    g_error ("expected “%s”, got “%s” (end %d)", needle, got->str, end);
  return g_string_free (got, FALSE);
}

/* Nothing arrives within the window and the connection stays open. */
static void
client_expect_silence (GSocketConnection *connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);

  g_assert_false (g_socket_condition_timed_wait (socket, G_IO_IN, SILENCE_MS * 1000, NULL, NULL));
}

/* The connection ends (reset or closed) within the I/O timeout; returns how. */
static End
client_expect_end (GSocketConnection *connection)
{
  End end;
  g_autoptr(GString) got = client_read_until (connection, NULL, IO_TIMEOUT_MS, &end);

  g_assert_cmpint (end, !=, END_NONE);
  return end;
}

/* A connection the proxy resets at once: the reset may even beat connect()'s return. */
static void
expect_reset_connection (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) c = client_connect (port, &error);

  if (c == NULL)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  else
    g_assert_cmpint (client_expect_end (c), ==, END_ERROR);
}

static gint64
elapsed_ms (gint64 since_us)
{
  return (g_get_monotonic_time () - since_us) / 1000;
}

/* Traffic ----------------------------------------------------------------------------- */

static void
test_pass_through (Fixture       *f,
                   gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autofree char *got = NULL;
  g_autofree char *second = NULL;

  client_send_text (c, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  got = client_expect (c, "hello");
  g_assert_true (g_str_has_prefix (got, "HTTP/1.1 200 OK"));
  /* Keep-alive: a second request on the same connection. */
  client_send_text (c, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  second = client_expect (c, "hello");
  g_assert_cmpuint (stat_of (f, "main", "http_requests"), ==, 2);
  g_assert_cmpuint (stat_of (f, "main", "bytes_up"), ==, 64);
}

static void
test_latency (Fixture       *f,
              gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "rtt=200");
  /* From before the connect: the emulated handshake is held from the proxy's accept. */
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  /* The first exchange pays the emulated handshake too: two round trips. */
  client_send_text (c, "ECHO one");
  a = client_expect (c, "ECHO one");
  g_assert_cmpint (elapsed_ms (start), >=, 400);
  start = g_get_monotonic_time ();
  client_send_text (c, "ECHO two");
  b = client_expect (c, "ECHO two");
  g_assert_cmpint (elapsed_ms (start), >=, 200);
}

static void
test_latency_per_direction (Fixture       *f,
                            gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "delay_up=0 delay_down=250 handshake=off");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autofree char *a = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  gint64 start = g_get_monotonic_time ();

  client_send_text (c, "ECHO down");
  a = client_expect (c, "ECHO down");
  g_assert_cmpint (elapsed_ms (start), >=, 250);

  /* Changed while running: applies to the next bytes. */
  ctl (f, parser, "set main delay_down=0 delay_up=300");
  start = g_get_monotonic_time ();
  client_send_text (c, "ECHO up");
  g_free (client_expect (c, "ECHO up"));
  g_assert_cmpint (elapsed_ms (start), >=, 300);
}

static void
test_jitter_keeps_order (Fixture       *f,
                         gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "rtt=20 jitter=15");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autoptr(GString) sent = g_string_new (NULL);
  g_autofree char *got = NULL;

  /* Many small writes, each delayed 10 ± 15 ms each way: bunched, never reordered. */
  for (guint i = 0; i < 60; i++)
    {
      g_autofree char *piece = g_strdup_printf (i == 0 ? "ECHO<%u>" : "<%u>", i);

      client_send (c, piece, strlen (piece));
      g_string_append (sent, piece);
    }
  got = client_expect (c, "<59>");
  g_assert_cmpstr (got, ==, sent->str);
}

static void
test_bandwidth (Fixture       *f,
                gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "rate_up=800k handshake=off");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autofree char *payload = g_malloc (50000);
  End end;
  g_autoptr(GString) got = NULL;
  gint64 start;

  memset (payload, 'x', 50000);
  memcpy (payload, "ECHO", 4);
  payload[49999] = '!';
  start = g_get_monotonic_time ();
  client_send (c, payload, 50000);
  got = client_read_until (c, "!", IO_TIMEOUT_MS, &end);
  g_assert_cmpuint (got->len, ==, 50000);
  /* 400 000 bits at 800 kbit/s: half a second at least. */
  g_assert_cmpint (elapsed_ms (start), >=, 490);
}

static void
test_refuse_and_back (Fixture       *f,
                      gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "mode=refuse");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) refused = client_connect (port, &error);
  g_autoptr(GSocketConnection) c = NULL;

  g_assert_null (refused);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  /* Listening again, on the same port. */
  ctl (f, parser, "set main mode=pass");
  c = must_connect (port);
  client_send_text (c, "ECHO back");
  g_free (client_expect (c, "ECHO back"));
}

static void
test_reset (Fixture       *f,
            gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "mode=reset");

  expect_reset_connection (port);
  g_assert_cmpuint (stat_of (f, "main", "resets"), ==, 1);
}

static void
test_reset_after_bytes (Fixture       *f,
                        gconstpointer  data)
{
  /* 10 bytes up, 10 echoed down, then the limit falls inside the next 10 up. */
  guint16 port = add_listener (f, "main", "reset_after_bytes=25 handshake=off");
  g_autoptr(GSocketConnection) c = must_connect (port);

  client_send_text (c, "ECHO 12345");
  g_free (client_expect (c, "ECHO 12345"));
  client_send_text (c, "abcdefghij");
  g_assert_cmpint (client_expect_end (c), ==, END_ERROR);
  g_assert_cmpuint (stat_of (f, "main", "bytes_up"), ==, 15);
  g_assert_cmpuint (stat_of (f, "main", "bytes_down"), ==, 10);
}

static void
test_reset_after_ms (Fixture       *f,
                     gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "reset_after_ms=300");
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GSocketConnection) c = must_connect (port);

  client_send_text (c, "ECHO x");
  g_free (client_expect (c, "ECHO x"));
  g_assert_cmpint (client_expect_end (c), ==, END_ERROR);
  g_assert_cmpint (elapsed_ms (start), >=, 300);
}

static void
test_blackhole (Fixture       *f,
                gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "mode=blackhole");
  g_autoptr(GSocketConnection) c = must_connect (port);

  client_send_text (c, "GET /plain HTTP/1.1\r\n\r\n");
  client_expect_silence (c);
  g_assert_cmpuint (f->upstream_connections, ==, 0);
}

static void
test_upstream_refused (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GSocket) closed = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  JsonObject *object;
  const char *listen;

  /* A port nobody listens on: bound, never listening. */
  g_assert_true (g_socket_bind (closed, any, FALSE, NULL));
  bound = g_socket_get_local_address (closed, NULL);
  object = ctl (f, parser, "add main listen=127.0.0.1:0 upstream=127.0.0.1:%u",
                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  listen = json_object_get_string_member (json_object_get_object_member (object, "listener"), "listen");
  expect_reset_connection ((guint16) g_ascii_strtoull (strrchr (listen, ':') + 1, NULL, 10));
  g_assert_cmpuint (stat_of (f, "main", "upstream_failed"), ==, 1);
}

static void
assert_ws_answer (guint16     port,
                  const char *status)
{
  g_autoptr(GSocketConnection) plain = must_connect (port);
  g_autoptr(GSocketConnection) ws = must_connect (port);
  g_autofree char *got = NULL;

  /* Plain HTTP passes... */
  client_send_text (plain, "GET /plain HTTP/1.1\r\n\r\n");
  g_free (client_expect (plain, "hello"));
  /* ...the upgrade does not. */
  client_send_text (ws, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  got = client_expect (ws, "\r\n\r\n");
  g_assert_true (g_str_has_prefix (got, status));
  g_assert_null (strstr (got, "frame1"));
  g_assert_cmpint (client_expect_end (ws), ==, END_EOF);
}

static void
test_ws_refused (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  guint16 port = add_listener (f, "main", "ws=403 rtt=40");
  gint64 start = g_get_monotonic_time ();

  assert_ws_answer (port, "HTTP/1.1 403 Forbidden");
  /* The proxy's own answer crosses the link like the server's would. */
  g_assert_cmpint (elapsed_ms (start), >=, 80);
  ctl (f, parser, "set main ws=502");
  assert_ws_answer (port, "HTTP/1.1 502 Bad Gateway");
  g_assert_cmpuint (stat_of (f, "main", "ws_blocked"), ==, 2);
  g_assert_cmpuint (stat_of (f, "main", "ws_seen"), ==, 2);
}

static void
test_ws_reset (Fixture       *f,
               gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "ws=reset");
  g_autoptr(GSocketConnection) ws = must_connect (port);

  client_send_text (ws, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
  g_assert_cmpint (client_expect_end (ws), ==, END_ERROR);
}

static void
test_ws_swallowed (Fixture       *f,
                   gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "ws=swallow");
  g_autoptr(GSocketConnection) ws = must_connect (port);
  g_autoptr(GSocketConnection) plain = must_connect (port);

  client_send_text (ws, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
  client_expect_silence (ws);
  client_send_text (plain, "GET /plain HTTP/1.1\r\n\r\n");
  g_free (client_expect (plain, "hello"));
  g_assert_cmpuint (stat_of (f, "main", "ws_blocked"), ==, 1);
}

static void
test_ws_blackholed_after_101 (Fixture       *f,
                              gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "ws=blackhole");
  g_autoptr(GSocketConnection) ws = must_connect (port);
  g_autofree char *got = NULL;

  client_send_text (ws, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
  got = client_expect (ws, "\r\n\r\n");
  g_assert_true (g_str_has_prefix (got, "HTTP/1.1 101"));
  /* Neither the server's first frame nor any echo gets through. */
  g_assert_null (strstr (got, "frame1"));
  client_send_text (ws, "ping");
  client_expect_silence (ws);
}

static void
test_tls_delay (Fixture       *f,
                gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "tls_delay=400 handshake=off");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autoptr(GSocketConnection) plain = must_connect (port);
  const char hello[] = "\x16\x03\x01\x00\x05hello";
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GString) got = NULL;
  End end;

  client_send (c, hello, sizeof hello - 1);
  got = client_read_until (c, "hello", IO_TIMEOUT_MS, &end);
  g_assert_cmpmem (got->str, got->len, hello, sizeof hello - 1);
  g_assert_cmpint (elapsed_ms (start), >=, 400);
  /* Plain HTTP on the same listener is not held. */
  client_send_text (plain, "GET /plain HTTP/1.1\r\n\r\n");
  g_free (client_expect (plain, "hello"));
}

static void
test_buffering (Fixture       *f,
                gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "buffer=on");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autofree char *got = NULL;

  client_send_text (c, "GET /chunked HTTP/1.1\r\n\r\n");
  /* The first chunk is on its way from the server, but held... */
  client_expect_silence (c);
  g_mutex_lock (&f->lock);
  f->go = TRUE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
  /* ...until the response is complete. */
  got = client_expect (c, "0\r\n\r\n");
  g_assert_nonnull (strstr (got, "first"));
  g_assert_nonnull (strstr (got, "second"));
  /* The connection is still usable afterwards. */
  client_send_text (c, "GET /plain HTTP/1.1\r\n\r\n");
  g_free (client_expect (c, "hello"));
}

static void
test_streaming_without_buffering (Fixture       *f,
                                  gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "");
  g_autoptr(GSocketConnection) c = must_connect (port);

  client_send_text (c, "GET /chunked HTTP/1.1\r\n\r\n");
  g_free (client_expect (c, "first"));
}

static void
test_buffering_until_close (Fixture       *f,
                            gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "buffer=on");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autofree char *got = NULL;

  client_send_text (c, "GET /close HTTP/1.1\r\n\r\n");
  got = client_expect (c, "body-until-close");
  g_assert_true (g_str_has_prefix (got, "HTTP/1.1 200 OK"));
  g_assert_cmpint (client_expect_end (c), ==, END_EOF);
}

static void
test_captive_portal (Fixture       *f,
                     gconstpointer  data)
{
  guint16 port = add_listener (f, "main", "mode=captive captive_url=http://portal.test/login");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autoptr(GSocketConnection) ws = must_connect (port);
  g_autofree char *got = NULL;
  g_autofree char *got_ws = NULL;

  client_send_text (c, "GET /plain HTTP/1.1\r\n\r\n");
  got = client_expect (c, "\r\n\r\n");
  g_assert_true (g_str_has_prefix (got, "HTTP/1.1 302 Found\r\n"));
  g_assert_nonnull (strstr (got, "Location: http://portal.test/login\r\n"));
  g_assert_cmpint (client_expect_end (c), ==, END_EOF);
  client_send_text (ws, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
  got_ws = client_expect (ws, "\r\n\r\n");
  g_assert_true (g_str_has_prefix (got_ws, "HTTP/1.1 302"));
  g_assert_cmpuint (f->upstream_connections, ==, 0);
  g_assert_cmpuint (stat_of (f, "main", "captive"), ==, 2);
}

static guint16
add_connect_proxy (Fixture    *f,
                   const char *rules)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object = ctl (f, parser, "add proxy listen=127.0.0.1:0 proxy=connect %s", rules);
  const char *listen = json_object_get_string_member (json_object_get_object_member (object, "listener"), "listen");

  return (guint16) g_ascii_strtoull (strrchr (listen, ':') + 1, NULL, 10);
}

static void
test_connect_proxy (Fixture       *f,
                    gconstpointer  data)
{
  guint16 port = add_connect_proxy (f, "ws=403");
  g_autoptr(GSocketConnection) tunnel = must_connect (port);
  g_autoptr(GSocketConnection) ws = must_connect (port);
  g_autoptr(GSocketConnection) forward = must_connect (port);
  g_autoptr(GSocketConnection) outside = must_connect (port);
  g_autofree char *connect = g_strdup_printf ("CONNECT 127.0.0.1:%u HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n",
                                              f->upstream_port, f->upstream_port);
  g_autofree char *get = g_strdup_printf ("GET http://127.0.0.1:%u/plain HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                                          f->upstream_port);
  g_autofree char *got = NULL;
  g_autofree char *got_ws = NULL;

  /* A tunnel, and plain HTTP inside it. */
  client_send (tunnel, connect, strlen (connect));
  got = client_expect (tunnel, "\r\n\r\n");
  g_assert_true (g_str_has_prefix (got, "HTTP/1.1 200 Connection established\r\n"));
  client_send_text (tunnel, "GET /plain HTTP/1.1\r\n\r\n");
  g_free (client_expect (tunnel, "hello"));

  /* WebSocket inside a tunnel is refused, as the rule says. */
  client_send (ws, connect, strlen (connect));
  g_free (client_expect (ws, "established\r\n\r\n"));
  client_send_text (ws, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
  got_ws = client_expect (ws, "\r\n\r\n");
  g_assert_true (g_str_has_prefix (got_ws, "HTTP/1.1 403"));

  /* A request in absolute form goes on in origin form. */
  client_send (forward, get, strlen (get));
  g_free (client_expect (forward, "hello"));

  /* Only loopback, ever. */
  client_send_text (outside, "CONNECT 93.184.216.34:443 HTTP/1.1\r\n\r\n");
  g_free (client_expect (outside, "HTTP/1.1 403"));
  g_assert_cmpuint (stat_of (f, "proxy", "tunnels"), ==, 2);
  g_assert_cmpuint (stat_of (f, "proxy", "proxy_denied"), ==, 1);
}

static void
test_connect_proxy_denied_port (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *rules = g_strdup_printf ("deny_ports=8443,%u", f->upstream_port);
  guint16 port = add_connect_proxy (f, rules);
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autoptr(GSocketConnection) junk = must_connect (port);
  g_autofree char *connect = g_strdup_printf ("CONNECT 127.0.0.1:%u HTTP/1.1\r\n\r\n", f->upstream_port);

  client_send (c, connect, strlen (connect));
  g_free (client_expect (c, "HTTP/1.1 403"));
  g_assert_cmpint (client_expect_end (c), ==, END_EOF);
  client_send_text (junk, "HELLO\r\n\r\n");
  g_free (client_expect (junk, "HTTP/1.1 400"));
  g_assert_cmpuint (f->upstream_connections, ==, 0);
}

static void
test_cut_silent (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  guint16 port = add_listener (f, "main", "");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autoptr(GSocketConnection) during = NULL;

  client_send_text (c, "ECHO before");
  g_free (client_expect (c, "ECHO before"));
  ctl (f, parser, "cut main silent");
  /* A dead link: nothing either way, nothing closed, new connections hang too. */
  client_send_text (c, "after");
  client_expect_silence (c);
  during = must_connect (port);
  client_send_text (during, "ECHO during");
  client_expect_silence (during);
  /* Back: what was held flows, as TCP would retransmit it. */
  ctl (f, parser, "restore main");
  g_free (client_expect (c, "after"));
  g_free (client_expect (during, "ECHO during"));
}

static void
test_cut_reset_and_refuse (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  guint16 port = add_listener (f, "main", "");
  g_autoptr(GSocketConnection) c = must_connect (port);
  g_autoptr(GSocketConnection) refused = NULL;
  g_autoptr(GSocketConnection) e = NULL;
  g_autoptr(GError) error = NULL;

  client_send_text (c, "ECHO x");
  g_free (client_expect (c, "ECHO x"));
  ctl (f, parser, "cut all reset");
  g_assert_cmpint (client_expect_end (c), ==, END_ERROR);
  expect_reset_connection (port);

  ctl (f, parser, "cut main refuse");
  refused = client_connect (port, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);

  ctl (f, parser, "restore all");
  e = must_connect (port);
  client_send_text (e, "ECHO again");
  g_free (client_expect (e, "ECHO again"));
}

static void
test_control_socket_bad_input (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = NULL;
  g_autoptr(GSocketConnection) raw = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (f->control_path);
  g_autofree char *huge = g_malloc (70 * 1024);
  g_autofree char *got = NULL;

  answer = confab_impair_control_call (f->control_path, "set nobody rtt=1", IO_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (answer, "{\"ok\":false,\"error\":\"no listener named"));
  g_assert_null (confab_impair_control_call (f->control_path, "ping\nquit", IO_TIMEOUT_MS, &error));
  g_assert_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_COMMAND);
  g_clear_error (&error);
  g_assert_null (confab_impair_control_call ("/nonexistent/dir/x.sock", "ping", IO_TIMEOUT_MS, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* Several commands on one connection, a NUL byte, then a line past the limit. */
  raw = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (g_socket_connection_get_socket (raw), IO_TIMEOUT_MS / 1000);
  client_send (raw, "ping\nget x\nbad\0cmd\n", 19);
  memset (huge, 'a', 70 * 1024);
  client_send (raw, huge, 70 * 1024);
  got = client_expect (raw, "64 KiB");
  g_assert_true (g_str_has_prefix (got, "{\"ok\":true}\n{\"ok\":false,\"error\":\"no listener named"));
  g_assert_nonnull (strstr (got, "NUL byte"));
  /* Closed (a reset, when the rest of the long line was never read). */
  client_expect_end (raw);

  /* And it still answers. */
  g_free (answer);
  answer = confab_impair_control_call (f->control_path, "ping", IO_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (answer, ==, "{\"ok\":true}");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/impair/rules/parse", test_rules_parse);
  g_test_add_func ("/impair/rules/invalid", test_rules_invalid);
  g_test_add_func ("/impair/rules/all-or-nothing", test_rules_all_or_nothing);
  g_test_add_func ("/impair/rules/profiles", test_profiles);
  g_test_add_func ("/impair/rules/addresses", test_addresses);
  g_test_add_func ("/impair/http/heads", test_http_heads);
  g_test_add_func ("/impair/http/chunked", test_http_chunked);
  g_test_add_func ("/impair/commands", test_commands);

#define ADD(path, fn) g_test_add ("/impair/proxy/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("pass-through", test_pass_through);
  ADD ("latency", test_latency);
  ADD ("latency-per-direction", test_latency_per_direction);
  ADD ("jitter-keeps-order", test_jitter_keeps_order);
  ADD ("bandwidth", test_bandwidth);
  ADD ("refuse-and-back", test_refuse_and_back);
  ADD ("reset", test_reset);
  ADD ("reset-after-bytes", test_reset_after_bytes);
  ADD ("reset-after-ms", test_reset_after_ms);
  ADD ("blackhole", test_blackhole);
  ADD ("upstream-refused", test_upstream_refused);
  ADD ("ws-refused", test_ws_refused);
  ADD ("ws-reset", test_ws_reset);
  ADD ("ws-swallowed", test_ws_swallowed);
  ADD ("ws-blackholed-after-101", test_ws_blackholed_after_101);
  ADD ("tls-delay", test_tls_delay);
  ADD ("buffering", test_buffering);
  ADD ("streaming-without-buffering", test_streaming_without_buffering);
  ADD ("buffering-until-close", test_buffering_until_close);
  ADD ("captive-portal", test_captive_portal);
  ADD ("connect-proxy", test_connect_proxy);
  ADD ("connect-proxy-denied-port", test_connect_proxy_denied_port);
  ADD ("cut-silent", test_cut_silent);
  ADD ("cut-reset-and-refuse", test_cut_reset_and_refuse);
  ADD ("control-socket-bad-input", test_control_socket_bad_input);
#undef ADD

  return g_test_run ();
}
