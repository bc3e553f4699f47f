/* test-delivery.c: every outbox message reaches the server exactly once, through cuts
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "confab-connection-manager.h"
#include "confab-error.h"
#include "confab-outbox.h"
#include "confab-static-token-provider.h"
#include "core-test-util.h"

#define API_KEY     "dl-key"
#define API_SECRET  "dl-secret"
#define DEADLINE_MS 10000
#define CID         "messaging:general"
#define SEND_PATH   "POST /channels/messaging/general/message"

/* A network monitor the test switches ------------------------------------------------- */

#define TEST_TYPE_MONITOR (test_monitor_get_type ())
G_DECLARE_FINAL_TYPE (TestMonitor, test_monitor, TEST, MONITOR, GObject)

struct _TestMonitor
{
  GObject parent_instance;
};

enum {
  MON_PROP_0,
  MON_PROP_AVAILABLE,
  MON_PROP_METERED,
  MON_PROP_CONNECTIVITY,
};

static gboolean
test_monitor_initable_init (GInitable     *initable,
                            GCancellable  *cancellable,
                            GError       **error)
{
  return TRUE;
}

static void
test_monitor_initable_iface_init (GInitableIface *iface)
{
  iface->init = test_monitor_initable_init;
}

static void
test_monitor_iface_init (GNetworkMonitorInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestMonitor, test_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, test_monitor_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, test_monitor_iface_init))

static void
test_monitor_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  switch (prop_id)
    {
    case MON_PROP_AVAILABLE:
      g_value_set_boolean (value, TRUE);
      break;
    case MON_PROP_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case MON_PROP_CONNECTIVITY:
      g_value_set_enum (value, G_NETWORK_CONNECTIVITY_FULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
test_monitor_class_init (TestMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_monitor_get_property;
  g_object_class_override_property (object_class, MON_PROP_AVAILABLE, "network-available");
  g_object_class_override_property (object_class, MON_PROP_METERED, "network-metered");
  g_object_class_override_property (object_class, MON_PROP_CONNECTIVITY, "connectivity");
}

static void
test_monitor_init (TestMonitor *self)
{
}

/* "The network is back": the manager starts a round at once instead of backing off. */
static void
test_monitor_nudge (TestMonitor *self)
{
  g_signal_emit_by_name (self, "network-changed", TRUE);
}

/* A TCP proxy in front of the sandbox that can cut every connection ------------------- */

typedef struct _Proxy Proxy;
typedef void (*ProxyHook) (Proxy *proxy, gpointer user_data);

struct _Proxy
{
  GSocketService *service;
  guint16         port;
  guint16         target_port;
  GPtrArray      *pipes;        /* Pipe, open */
  gboolean        refusing;     /* between cut() and restore() */
  guint           n_sends;      /* message POSTs seen going up */
  guint           swallow_every; /* the answer to every this-th POST is never delivered */
  guint           n_swallowed;
  guint           n_cuts;
  ProxyHook       on_swallow;   /* called instead of delivering a swallowed answer */
  gpointer        hook_data;
};

typedef struct
{
  Proxy             *proxy;
  GSocketConnection *down;
  GSocketConnection *up;
  GCancellable      *cancellable;
  guint              n_pumps;
  gboolean           swallow_next_answer;
} Pipe;

typedef struct
{
  Pipe          *pipe;
  GInputStream  *in;
  GOutputStream *out;
  gboolean       upward;
  char           buf[16384];
} Pump;

static void pump_read (Pump *pump);

static void
pipe_release (Pipe *p)
{
  if (--p->n_pumps > 0)
    return;
  g_ptr_array_remove (p->proxy->pipes, p);
  g_io_stream_close (G_IO_STREAM (p->down), NULL, NULL);
  if (p->up != NULL)
    g_io_stream_close (G_IO_STREAM (p->up), NULL, NULL);
  g_clear_object (&p->down);
  g_clear_object (&p->up);
  g_clear_object (&p->cancellable);
  g_free (p);
}

static void
pump_end (Pump *pump)
{
  Pipe *p = pump->pipe;

  g_cancellable_cancel (p->cancellable);
  g_free (pump);
  pipe_release (p);
}

static void
proxy_cut (Proxy *proxy)
{
  proxy->refusing = TRUE;
  proxy->n_cuts++;
  for (guint i = 0; i < proxy->pipes->len; i++)
    g_cancellable_cancel (((Pipe *) g_ptr_array_index (proxy->pipes, i))->cancellable);
}

static void
proxy_restore (Proxy *proxy)
{
  proxy->refusing = FALSE;
}

static void
pump_written (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Pump *pump = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      pump_end (pump);
      return;
    }
  pump_read (pump);
}

static void
pump_got (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Pump *pump = user_data;
  Pipe *p = pump->pipe;
  Proxy *proxy = p->proxy;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0 || g_cancellable_is_cancelled (p->cancellable))
    {
      pump_end (pump);
      return;
    }

  if (pump->upward && n >= (gssize) strlen (SEND_PATH) &&
      g_strstr_len (pump->buf, n, SEND_PATH) != NULL)
    {
      proxy->n_sends++;
      if (proxy->swallow_every > 0 && proxy->n_sends % proxy->swallow_every == 0)
        p->swallow_next_answer = TRUE;
    }
  else if (!pump->upward && p->swallow_next_answer)
    {
      /* The server has stored the message; its answer never reaches the client. */
      proxy->n_swallowed++;
      pump_end (pump);
      proxy->on_swallow (proxy, proxy->hook_data);
      return;
    }

  g_output_stream_write_all_async (pump->out, pump->buf, n, G_PRIORITY_DEFAULT, p->cancellable,
                                   pump_written, pump);
}

static void
pump_read (Pump *pump)
{
  g_input_stream_read_async (pump->in, pump->buf, sizeof pump->buf, G_PRIORITY_DEFAULT,
                             pump->pipe->cancellable, pump_got, pump);
}

static void
pump_start (Pipe              *p,
            GSocketConnection *from,
            GSocketConnection *to,
            gboolean           upward)
{
  Pump *pump = g_new0 (Pump, 1);

  pump->pipe = p;
  pump->in = g_io_stream_get_input_stream (G_IO_STREAM (from));
  pump->out = g_io_stream_get_output_stream (G_IO_STREAM (to));
  pump->upward = upward;
  p->n_pumps++;
  pump_read (pump);
}

static gboolean
proxy_incoming (GSocketService    *service,
                GSocketConnection *connection,
                GObject           *source_object,
                gpointer           user_data)
{
  Proxy *proxy = user_data;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnection) up = NULL;
  Pipe *p;

  if (proxy->refusing)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }

  /* Loopback: a blocking connect is immediate. */
  client = g_socket_client_new ();
  up = g_socket_client_connect_to_host (client, "127.0.0.1", proxy->target_port, NULL, NULL);
  if (up == NULL)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }

  p = g_new0 (Pipe, 1);
  p->proxy = proxy;
  p->down = g_object_ref (connection);
  p->up = g_steal_pointer (&up);
  p->cancellable = g_cancellable_new ();
  g_ptr_array_add (proxy->pipes, p);
  pump_start (p, p->down, p->up, TRUE);
  pump_start (p, p->up, p->down, FALSE);
  return TRUE;
}

static Proxy *
proxy_new (const char *target_url)
{
  Proxy *proxy = g_new0 (Proxy, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;

  proxy->target_port = (guint16) g_ascii_strtoull (strrchr (target_url, ':') + 1, NULL, 10);
  proxy->pipes = g_ptr_array_new ();
  proxy->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (proxy->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  proxy->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_assert_cmpuint (proxy->port, >, 0);
  g_signal_connect (proxy->service, "incoming", G_CALLBACK (proxy_incoming), proxy);
  g_socket_service_start (proxy->service);
  return proxy;
}

static gboolean
proxy_idle (gpointer user_data)
{
  return ((Proxy *) user_data)->pipes->len == 0;
}

static void
proxy_free (Proxy *proxy)
{
  g_socket_service_stop (proxy->service);
  g_socket_listener_close (G_SOCKET_LISTENER (proxy->service));
  for (guint i = 0; i < proxy->pipes->len; i++)
    g_cancellable_cancel (((Pipe *) g_ptr_array_index (proxy->pipes, i))->cancellable);
  g_assert_true (core_test_wait_until (proxy_idle, proxy, DEADLINE_MS));
  g_clear_object (&proxy->service);
  g_ptr_array_unref (proxy->pipes);
  g_free (proxy);
}

/* Helpers -------------------------------------------------------------------------------- */

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} ConnectResult;

static void
connect_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ConnectResult *r = user_data;

  r->ok = confab_connection_manager_connect_finish (CONFAB_CONNECTION_MANAGER (source), result, &r->error);
  r->done = TRUE;
}

static CoreTestSandbox *
start_sandbox (void)
{
  const char *extra[] = { "--demo", NULL };
  g_autoptr(GError) error = NULL;
  CoreTestSandbox *sandbox = core_test_sandbox_start (API_KEY, API_SECRET, extra, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sandbox);
  return sandbox;
}

static ConfabConnectionManager *
new_manager (const char   *base_url,
             const char   *token,
             TestMonitor  *monitor,
             ConfabOutbox *outbox)
{
  g_autoptr(ConfabTokenProvider) provider = CONFAB_TOKEN_PROVIDER (confab_static_token_provider_new (token));

  return g_object_new (CONFAB_TYPE_CONNECTION_MANAGER,
                       "base-url", base_url,
                       "api-key", API_KEY,
                       "token-provider", provider,
                       "network-monitor", monitor,
                       "hedge-ms", 1500,
                       "outbox", outbox,
                       NULL);
}

static void
connect_and_wait (ConfabConnectionManager *manager)
{
  ConnectResult r = { 0 };

  confab_connection_manager_connect_async (manager, "alice", NULL, NULL, connect_done, &r);
  g_assert_true (core_test_wait_flag (&r.done, DEADLINE_MS));
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
}

static gboolean
nothing_pending (gpointer user_data)
{
  return confab_outbox_get_n_pending (user_data) == 0;
}

static void
rm_rf (const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
}

/* Asserts that "msg 1".."msg @n" each appear exactly once in messaging:general, in
 * order, and that no other "msg …" is there. */
static void
assert_channel_holds (CoreTestSandbox *sandbox,
                      const char      *token,
                      guint            n)
{
  g_autofree char *url = g_strdup_printf ("%s/channels/messaging/general/query?api_key=%s",
                                          sandbox->url, API_KEY);
  g_autofree guint *seen = g_new0 (guint, n + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = NULL;
  JsonArray *messages;
  guint status = 0;
  guint last = 0;
  guint n_ours = 0;

  answer = core_test_rest ("POST", url, token, "{\"messages\":{\"limit\":300}}", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 201);
  messages = json_object_get_array_member (answer, "messages");
  g_assert_nonnull (messages);
  /* The demo's seeded conversation is there too, before ours. */
  g_assert_cmpuint (json_array_get_length (messages), <, 300);
  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      const char *text = json_object_get_string_member_with_default (json_array_get_object_element (messages, i),
                                                                     "text", "");
      guint64 k = 0;

      if (!g_str_has_prefix (text, "msg "))
        continue;
      n_ours++;
      g_assert_true (g_ascii_string_to_unsigned (text + 4, 10, 1, n, &k, NULL));
      seen[k]++;
      g_assert_cmpuint (seen[k], ==, 1);
      /* In the order they were written. */
      g_assert_cmpuint (k, >, last);
      last = (guint) k;
    }
  g_assert_cmpuint (n_ours, ==, n);
  for (guint k = 1; k <= n; k++)
    g_assert_cmpuint (seen[k], ==, 1);
}

/* /core/delivery/cut-mid-send ------------------------------------------------------------ */

#define N_MESSAGES 50

typedef struct
{
  Proxy                   *proxy;
  ConfabConnectionManager *manager;
  TestMonitor             *monitor;
  guint                    restore_id;
  guint                    n_restored;
} CutTest;

static gboolean
restore_cb (gpointer user_data)
{
  CutTest *t = user_data;

  t->restore_id = 0;
  proxy_restore (t->proxy);
  t->n_restored++;
  test_monitor_nudge (t->monitor);
  return G_SOURCE_REMOVE;
}

/* Once the manager has noticed the cut and waits for its next round, the link is back. */
static void
on_state (GObject    *object,
          GParamSpec *pspec,
          CutTest    *t)
{
  ConfabConnectionState state = confab_connection_manager_get_state (t->manager);

  g_assert_cmpint (state, !=, CONFAB_CONNECTION_STATE_FAILED);
  if (t->proxy->refusing && t->restore_id == 0 && state == CONFAB_CONNECTION_STATE_RECONNECTING)
    t->restore_id = g_idle_add (restore_cb, t);
}

static void
cut_on_swallow (Proxy   *proxy,
                gpointer user_data)
{
  proxy_cut (proxy);
}

static void
test_cut_mid_send (void)
{
  g_autoptr(CoreTestSandbox) sandbox = start_sandbox ();
  g_autoptr(GError) error = NULL;
  g_autofree char *token = core_test_sandbox_demo_token (sandbox, "alice", &error);
  g_autofree char *outbox_dir = g_dir_make_tmp ("confab-delivery-XXXXXX", NULL);
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *url = NULL;
  Proxy *proxy = proxy_new (sandbox->url);
  CutTest t = { 0 };
  gint64 start = g_get_monotonic_time ();

  g_assert_no_error (error);
  g_assert_nonnull (token);
  g_assert_nonnull (outbox_dir);
  outbox = confab_outbox_new (outbox_dir, &error);
  g_assert_no_error (error);

  url = g_strdup_printf ("http://127.0.0.1:%u", proxy->port);
  manager = new_manager (url, token, monitor, outbox);
  t.proxy = proxy;
  t.manager = manager;
  t.monitor = monitor;
  proxy->swallow_every = 5;
  proxy->on_swallow = cut_on_swallow;
  g_signal_connect (manager, "notify::state", G_CALLBACK (on_state), &t);
  connect_and_wait (manager);

  for (guint i = 1; i <= N_MESSAGES; i++)
    {
      g_autofree char *text = g_strdup_printf ("msg %u", i);
      ConfabOutboxItem *item = confab_connection_manager_send_text (manager, CID, text, &error);

      g_assert_no_error (error);
      g_assert_nonnull (item);
      g_ptr_array_add (items, g_object_ref (item));
    }

  g_assert_true (core_test_wait_until (nothing_pending, outbox, 25000));
  g_test_message ("%u sends, %u answers swallowed, %u cuts, %u restores in %" G_GINT64_FORMAT " ms",
                  proxy->n_sends, proxy->n_swallowed, proxy->n_cuts, t.n_restored,
                  core_test_elapsed_ms (start));
  /* Every fifth POST had its answer lost after the server stored it: at least ten
   * resends answered "already exists". */
  g_assert_cmpuint (proxy->n_cuts, >=, 10);
  g_assert_cmpuint (proxy->n_sends, >=, N_MESSAGES + 10);
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 0);
  for (guint i = 0; i < items->len; i++)
    g_assert_cmpint (confab_outbox_item_get_status (g_ptr_array_index (items, i)), ==, CONFAB_OUTBOX_STATUS_SENT);

  assert_channel_holds (sandbox, token, N_MESSAGES);

  g_signal_handlers_disconnect_by_data (manager, &t);
  g_clear_handle_id (&t.restore_id, g_source_remove);
  confab_connection_manager_disconnect (manager);
  g_clear_object (&manager);
  proxy_free (proxy);
  g_clear_object (&outbox);
  rm_rf (outbox_dir);
}

/* /core/delivery/kill-restart ------------------------------------------------------------ */

#define N_KILL_MESSAGES 20
#define KILL_AT_SEND    8

static void
kill_on_swallow (Proxy   *proxy,
                 gpointer user_data)
{
  /* The eighth message is stored on the server; this process dies before it hears so. */
  raise (SIGKILL);
}

static void
kill_restart_child (void)
{
  const char *sandbox_url = g_getenv ("CONFAB_DELIVERY_URL");
  const char *token = g_getenv ("CONFAB_DELIVERY_TOKEN");
  const char *outbox_dir = g_getenv ("CONFAB_DELIVERY_OUTBOX");
  g_autoptr(TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(ConfabConnectionManager) manager = NULL;
  g_autofree char *url = NULL;
  Proxy *proxy;

  g_assert_nonnull (sandbox_url);
  g_assert_nonnull (token);
  g_assert_nonnull (outbox_dir);
  proxy = proxy_new (sandbox_url);
  proxy->swallow_every = KILL_AT_SEND;
  proxy->on_swallow = kill_on_swallow;
  outbox = confab_outbox_new (outbox_dir, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u", proxy->port);
  manager = new_manager (url, token, monitor, outbox);
  connect_and_wait (manager);

  for (guint i = 1; i <= N_KILL_MESSAGES; i++)
    {
      g_autofree char *text = g_strdup_printf ("msg %u", i);

      g_assert_nonnull (confab_connection_manager_send_text (manager, CID, text, &error));
      g_assert_no_error (error);
    }

  core_test_wait_until (nothing_pending, outbox, DEADLINE_MS);
  /* Not reached when the kill happened. */
  g_print ("child-not-killed\n");
}

static void
test_kill_restart (void)
{
  g_autoptr(CoreTestSandbox) sandbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *outbox_dir = NULL;
  g_autoptr(TestMonitor) monitor = NULL;
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(ConfabConnectionManager) manager = NULL;
  guint n_pending;

  if (g_test_subprocess ())
    {
      kill_restart_child ();
      return;
    }

  sandbox = start_sandbox ();
  token = core_test_sandbox_demo_token (sandbox, "alice", &error);
  g_assert_no_error (error);
  outbox_dir = g_dir_make_tmp ("confab-delivery-kill-XXXXXX", NULL);
  g_assert_nonnull (outbox_dir);
  g_setenv ("CONFAB_DELIVERY_URL", sandbox->url, TRUE);
  g_setenv ("CONFAB_DELIVERY_TOKEN", token, TRUE);
  g_setenv ("CONFAB_DELIVERY_OUTBOX", outbox_dir, TRUE);

  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("CONFAB_DELIVERY_TOKEN");
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout_unmatched ("*child-not-killed*");

  /* The seven acknowledged ones are gone from disk; the eighth (stored on the server,
   * its answer lost) and the rest are still there. */
  outbox = confab_outbox_new (outbox_dir, &error);
  g_assert_no_error (error);
  n_pending = confab_outbox_get_n_pending (outbox);
  g_assert_cmpuint (n_pending, ==, N_KILL_MESSAGES - (KILL_AT_SEND - 1));
  g_assert_cmpuint (confab_outbox_get_n_corrupt (outbox), ==, 0);

  monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  manager = new_manager (sandbox->url, token, monitor, outbox);
  connect_and_wait (manager);
  g_assert_true (core_test_wait_until (nothing_pending, outbox, DEADLINE_MS));
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 0);

  assert_channel_holds (sandbox, token, N_KILL_MESSAGES);

  confab_connection_manager_disconnect (manager);
  g_clear_object (&manager);
  g_clear_object (&outbox);
  rm_rf (outbox_dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/delivery/cut-mid-send", test_cut_mid_send);
  g_test_add_func ("/core/delivery/kill-restart", test_kill_restart);

  return g_test_run ();
}
