/* confab-sandbox-bench.c: load benchmark for confab-sandbox
 *
 * Starts the sandbox (or uses --url), creates users and channels over REST with a server
 * token, connects every client over a real WebSocket, has each one watch its channel,
 * then sends messages at a fixed aggregate rate and measures, at every receiving client,
 * the send-to-receive latency of each message.new. Prints a table and one JSON line.
 *
 * Everything runs on one GMainLoop; every wait has a deadline; traffic goes only to the
 * loopback address. See tests/bench/README.md and docs/sandbox.md ("Load").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#define BENCH_VERSION           "1"
#define DEFAULT_API_KEY         "confab-bench"

#define USERS_PER_BATCH         100
#define SETUP_CONCURRENCY       8        /* in flight at once: the sandbox listens with a backlog of 10 */
#define MAX_INFLIGHT_SENDS      256      /* beyond this a scheduled send is skipped */
/* HTTP connections to the sandbox at once (the session's max-conns-per-host). A WebSocket
 * holds one only during its handshake (libsoup then steals it), so this bounds the REST
 * pool: past it, sends wait in the client instead of opening connections in bursts (the
 * sandbox serves one request at a time anyway). It is small because libsoup probes every
 * idle pooled connection with a recv() each time it picks one for a request. */
#define MAX_REST_CONNECTIONS    16
#define MAX_MESSAGES            5000000  /* rate x (warm-up + duration) */

#define SANDBOX_START_SECONDS   15
#define SETUP_PHASE_SECONDS     60
#define DRAIN_IDLE_SECONDS      10       /* give up after this long without progress... */
#define DRAIN_MAX_SECONDS       120      /* ...or this long in all */
#define CLOSE_SECONDS           5
#define STOP_SECONDS            10
#define PROGRESS_SECONDS        5

#define WS_MAX_PAYLOAD          (8 * 1024 * 1024)

typedef enum
{
  PHASE_INIT,
  PHASE_SANDBOX,
  PHASE_USERS,
  PHASE_CHANNELS,
  PHASE_CONNECT,
  PHASE_WATCH,
  PHASE_LOAD,      /* warm-up, then the measured window */
  PHASE_DRAIN,
  PHASE_CLOSE,
  PHASE_STOP,
  PHASE_DONE,
} Phase;

static const char * const phase_names[] = {
  "init", "start sandbox", "create users", "create channels", "connect",
  "watch", "load", "drain", "close", "stop sandbox", "done",
};

typedef enum
{
  REC_IN_FLIGHT = 1,
  REC_OK,
  REC_FAILED,
} RecordState;

/* One sent message. Indexed by its sequence number (the bench_seq custom field). */
typedef struct
{
  char    id[40];
  gint64  sent_us;      /* g_get_real_time () when the send started */
  gint64  sent_mono;
  guint32 channel;
  guint32 received;     /* distinct receiving clients */
  guint8  measured;     /* sent inside the measured window */
  guint8  state;        /* RecordState */
} Record;

typedef struct _Bench Bench;

typedef struct
{
  Bench                   *bench;
  guint                    index;
  guint                    channel;
  guint                    member;        /* index among the channel's members */
  char                    *user_id;
  char                    *token;
  char                    *connection_id;
  char                    *send_path;
  SoupWebsocketConnection *ws;
  gulong                   message_handler;
  gulong                   closed_handler;
  gboolean                 closing;
} Client;

typedef void (*StepFunc) (Bench *bench,
                          guint  index);

typedef struct
{
  double user_s;       /* CPU seconds */
  gint64 mono;
  gboolean valid;
} CpuMark;

/* The whole machine's busy time, from /proc/stat. */
typedef struct
{
  double busy_s;
  double load1;        /* 1-minute load average at the mark */
  gboolean valid;
} MachineMark;

struct _Bench
{
  /* Options */
  int          n_clients;
  int          n_channels;
  double       rate;
  double       duration;
  double       warmup;
  char        *url;
  char        *api_key;
  char        *api_secret;
  char        *sandbox_path;
  gboolean     json_only;
  gboolean     smoke;
  gboolean     new_connections;
  guint        fault_drop_every;   /* CONFAB_BENCH_FAULT=drop:N, to check the checker */
  guint        fault_dup_every;    /* CONFAB_BENCH_FAULT=dup:N */
  guint64      fault_counter;

  /* Plumbing */
  GMainLoop   *loop;
  SoupSession *session;
  JsonParser  *parser;
  GCancellable *net_cancel;      /* REST calls and WebSocket connects */
  GCancellable *child_cancel;    /* the sandbox's stdout */
  char        *run_id;
  char        *base_url;         /* http://127.0.0.1:PORT */
  char        *ws_base;          /* ws://127.0.0.1:PORT */
  char        *server_token;
  char        *api_key_escaped;
  guint        ops;              /* async operations whose callback has not run yet */

  /* The sandbox child */
  GSubprocess *child;
  GDataInputStream *child_out;
  pid_t        child_pid;
  gboolean     child_exited;
  gboolean     child_out_eof;
  gboolean     child_killed;
  int          child_exit_code;  /* -1 unless it exited normally */
  int          child_signal;     /* 0 unless a signal ended it */

  /* Phases */
  Phase        phase;
  gboolean     aborting;
  guint        phase_timer;
  guint        step_total;
  guint        step_next;
  guint        step_done;
  guint        step_inflight;
  guint        step_concurrency;
  StepFunc     step_func;
  gint64       phase_started;
  double       setup_seconds[PHASE_DONE];
  GPtrArray   *failures;

  /* Clients and channels */
  Client      *clients;
  char       **channel_ids;
  guint       *channel_members;
  guint        max_members;
  guint        open_ws;

  /* Load */
  guint        send_timer;
  guint        progress_timer;
  guint        tick_ms;
  gint64       load_start;       /* monotonic */
  gint64       measure_start;    /* monotonic, nominal */
  gint64       measure_end;      /* monotonic, nominal */
  guint64      scheduled;
  Record      *records;
  guint        max_records;
  guint        n_records;
  guint8      *bits;             /* per record: one bit per channel member */
  guint        bits_stride;
  guint        inflight_sends;
  guint64      sent_measured;
  guint64      send_errors;
  guint64      send_skipped;
  guint64      expected_ok;      /* sum of members over records whose send succeeded */
  guint64      received_unique;
  guint64      received_of_ok;   /* distinct receptions of messages whose send succeeded */
  guint64      received_in_window;
  guint64      duplicates;
  guint64      unexpected;
  guint64      other_events;
  guint64      bad_frames;
  GArray      *latencies;        /* gint64 µs, messages sent in the measured window */
  GArray      *rest_latencies;   /* gint64 µs, REST send round trips in the window */
  GPtrArray   *error_samples;
  guint        progress_index;
  guint64      progress_sent;
  guint64      progress_received;
  gint64       progress_mono;
  double       progress_sandbox_cpu;
  gint64       last_progress;    /* monotonic: the last reception or send reply */

  /* Resources */
  CpuMark      sandbox_cpu_start, sandbox_cpu_end;
  CpuMark      self_cpu_start, self_cpu_end;
  MachineMark  machine_start, machine_end;
  gint64       sandbox_hwm_kib;

  /* Results */
  gboolean     stats_done;
  guint64      lost;
  double       lat_p50, lat_p90, lat_p99, lat_max, lat_mean;
  double       rest_p50, rest_p99, rest_max;
};

static void begin_users    (Bench *b);
static void begin_channels (Bench *b);
static void begin_connect  (Bench *b);
static void begin_watch    (Bench *b);
static void begin_load     (Bench *b);
static void begin_drain    (Bench *b);
static void begin_close    (Bench *b);
static void begin_stop     (Bench *b);
static void check_close_done (Bench *b);
static void check_stop_done  (Bench *b);
static void bench_fail (Bench *b, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Small helpers ----------------------------------------------------------------------- */

static void
progress (Bench      *b,
          const char *format,
          ...) G_GNUC_PRINTF (2, 3);

static void
progress (Bench      *b,
          const char *format,
          ...)
{
  g_autofree char *text = NULL;
  va_list args;

  if (b->json_only)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("bench: %s\n", text);
}

static char *
base64url (const guchar *data,
           gsize         length)
{
  char *text = g_base64_encode (data, length);
  char *out = text;

  for (char *p = text; *p != '\0'; p++)
    {
      if (*p == '=')
        continue;
      *out++ = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
  *out = '\0';
  return text;
}

/* HS256 as Stream signs tokens: header {"alg":"HS256","typ":"JWT"}, base64url, no padding. */
static char *
mint_token (const char *payload_json,
            const char *secret)
{
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  g_autofree char *h = base64url ((const guchar *) header, strlen (header));
  g_autofree char *p = base64url ((const guchar *) payload_json, strlen (payload_json));
  g_autofree char *signing_input = g_strconcat (h, ".", p, NULL);
  g_autofree char *s = NULL;
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  guint8 digest[32];
  gsize digest_length = sizeof digest;

  g_hmac_update (hmac, (const guchar *) signing_input, -1);
  g_hmac_get_digest (hmac, digest, &digest_length);
  s = base64url (digest, digest_length);
  return g_strconcat (signing_input, ".", s, NULL);
}

static gboolean
is_loopback_host (const char *host)
{
  g_autoptr(GInetAddress) address = NULL;

  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  address = g_inet_address_new_from_string (host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

/* Validates an http URL on this machine and returns it without a trailing slash. */
static char *
normalise_url (const char  *text,
               GError     **error)
{
  g_autoptr(GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, error);
  g_autofree char *host = NULL;

  if (uri == NULL)
    return NULL;
  if (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "only http:// URLs are supported (got '%s')", text);
      return NULL;
    }
  if (!is_loopback_host (g_uri_get_host (uri)))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "the URL must point at this machine: 127.0.0.0/8, localhost or [::1] (got '%s')",
                   text);
      return NULL;
    }
  if (g_uri_get_port (uri) <= 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "the URL needs an explicit port (got '%s')", text);
      return NULL;
    }
  host = g_strdup (g_uri_get_host (uri));
  if (strchr (host, ':') != NULL)
    {
      char *bracketed = g_strdup_printf ("[%s]", host);
      g_free (host);
      host = bracketed;
    }
  return g_strdup_printf ("http://%s:%d", host, g_uri_get_port (uri));
}

static void
set_base_url (Bench *b,
              char  *url)
{
  b->base_url = url;
  b->ws_base = g_strconcat ("ws", url + strlen ("http"), NULL);
}

static double
mono_seconds (gint64 from,
              gint64 to)
{
  return (to - from) / (double) G_USEC_PER_SEC;
}

/* utime + stime of a process, in seconds. */
static gboolean
read_proc_cpu (pid_t   pid,
               double *out_seconds)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after;
  long ticks_per_second = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  /* The command name may hold spaces and parentheses: start after the last ')'. */
  after = strrchr (contents, ')');
  if (after == NULL || ticks_per_second <= 0)
    return FALSE;
  fields = g_strsplit (after + 2, " ", -1);
  /* after ')' come state(3) ppid(4) ... utime(14) stime(15): indexes 11 and 12 here */
  if (g_strv_length (fields) < 13)
    return FALSE;
  *out_seconds = (g_ascii_strtoull (fields[11], NULL, 10) +
                  g_ascii_strtoull (fields[12], NULL, 10)) / (double) ticks_per_second;
  return TRUE;
}

/* VmHWM (peak resident set) in KiB, or -1. */
static gint64
read_proc_hwm_kib (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *contents = NULL;
  const char *line;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return -1;
  line = strstr (contents, "\nVmHWM:");
  if (line == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("\nVmHWM:"), NULL, 10);
}

static double
self_cpu_seconds (void)
{
  struct rusage usage;

  if (getrusage (RUSAGE_SELF, &usage) != 0)
    return 0;
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void
mark_machine (MachineMark *mark)
{
  g_autofree char *stat = NULL;
  g_autofree char *loadavg = NULL;
  g_auto(GStrv) fields = NULL;
  long ticks_per_second = sysconf (_SC_CLK_TCK);
  guint64 busy = 0;

  mark->valid = FALSE;
  if (!g_file_get_contents ("/proc/stat", &stat, NULL, NULL) || !g_str_has_prefix (stat, "cpu ") ||
      ticks_per_second <= 0)
    return;
  *strchr (stat, '\n') = '\0';
  fields = g_strsplit_set (stat + 4, " ", -1);
  /* user nice system idle iowait irq softirq steal: busy is all but idle and iowait */
  for (guint i = 0, column = 0; fields[i] != NULL && column < 8; i++)
    {
      if (fields[i][0] == '\0')
        continue;
      if (column != 3 && column != 4)
        busy += g_ascii_strtoull (fields[i], NULL, 10);
      column++;
    }
  mark->busy_s = busy / (double) ticks_per_second;
  mark->load1 = g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL) ?
                g_ascii_strtod (loadavg, NULL) : 0;
  mark->valid = TRUE;
}

static void
mark_cpu (Bench   *b,
          CpuMark *sandbox,
          CpuMark *self)
{
  gint64 now = g_get_monotonic_time ();

  mark_machine (self == &b->self_cpu_start ? &b->machine_start : &b->machine_end);
  sandbox->valid = b->child_pid > 0 && !b->child_exited && read_proc_cpu (b->child_pid, &sandbox->user_s);
  sandbox->mono = now;
  self->user_s = self_cpu_seconds ();
  self->mono = now;
  self->valid = TRUE;
}

static gboolean
cpu_usage (const CpuMark *start,
           const CpuMark *end,
           double        *out_seconds,
           double        *out_share)
{
  double wall;

  if (!start->valid || !end->valid)
    return FALSE;
  wall = mono_seconds (start->mono, end->mono);
  *out_seconds = end->user_s - start->user_s;
  *out_share = wall > 0 ? *out_seconds / wall : 0;
  return TRUE;
}

/* CPU that neither the sandbox nor the bench used during the window, in cores: other
 * processes on the machine, which make the numbers less trustworthy. */
static gboolean
other_cpu_cores (Bench  *b,
                 double *out_cores)
{
  double sandbox_s = 0, self_s = 0, share;
  double wall;

  if (!b->machine_start.valid || !b->machine_end.valid || !b->self_cpu_start.valid || !b->self_cpu_end.valid)
    return FALSE;
  wall = mono_seconds (b->self_cpu_start.mono, b->self_cpu_end.mono);
  if (wall <= 0)
    return FALSE;
  cpu_usage (&b->sandbox_cpu_start, &b->sandbox_cpu_end, &sandbox_s, &share);
  cpu_usage (&b->self_cpu_start, &b->self_cpu_end, &self_s, &share);
  *out_cores = MAX (0, (b->machine_end.busy_s - b->machine_start.busy_s - sandbox_s - self_s) / wall);
  return TRUE;
}

/* ceil() for non-negative values, without libm. */
static double
ceil_positive (double value)
{
  double whole = (double) (guint64) value;

  return whole < value ? whole + 1 : whole;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in ms. */
static double
percentile_ms (GArray *sorted,
               double  p)
{
  gsize rank;

  if (sorted->len == 0)
    return 0;
  rank = (gsize) ceil_positive (p / 100.0 * sorted->len);
  if (rank < 1)
    rank = 1;
  if (rank > sorted->len)
    rank = sorted->len;
  return g_array_index (sorted, gint64, rank - 1) / 1000.0;
}

/* Phases -------------------------------------------------------------------------------- */

static void
clear_phase_timer (Bench *b)
{
  g_clear_handle_id (&b->phase_timer, g_source_remove);
}

static gboolean
on_phase_deadline (gpointer user_data)
{
  Bench *b = user_data;
  Phase phase = b->phase;

  b->phase_timer = 0;
  switch (phase)
    {
    case PHASE_DRAIN:
      {
        gint64 now = g_get_monotonic_time ();

        /* A slow sandbox (a sanitizer build, a busy machine) may still be working through
         * its backlog: wait as long as deliveries keep coming, within bounds. */
        if (mono_seconds (b->last_progress, now) < DRAIN_IDLE_SECONDS &&
            mono_seconds (b->phase_started, now) < DRAIN_MAX_SECONDS)
          {
            b->phase_timer = g_timeout_add_seconds (1, on_phase_deadline, b);
            break;
          }
        /* Not a failure in itself: whatever is missing is counted as lost. */
        progress (b, "drain: gave up after %.0f s (%u sends in flight, %.0f s without progress)",
                  mono_seconds (b->phase_started, now), b->inflight_sends,
                  mono_seconds (b->last_progress, now));
        begin_close (b);
      }
      break;
    case PHASE_CLOSE:
      progress (b, "close: %u WebSockets still open after %d s; going on", b->open_ws, CLOSE_SECONDS);
      g_cancellable_cancel (b->net_cancel);
      begin_stop (b);
      break;
    case PHASE_STOP:
      bench_fail (b, "the sandbox did not exit within %d s of SIGTERM; killing it", STOP_SECONDS);
      b->child_killed = TRUE;
      if (b->child != NULL && !b->child_exited)
        g_subprocess_force_exit (b->child);
      /* give the kill and the pipe a moment, bounded */
      b->phase_timer = g_timeout_add_seconds (2, on_phase_deadline, b);
      b->phase = PHASE_DONE;
      break;
    case PHASE_DONE:
      g_main_loop_quit (b->loop);
      break;
    case PHASE_SANDBOX:
    case PHASE_USERS:
    case PHASE_CHANNELS:
    case PHASE_CONNECT:
    case PHASE_WATCH:
      bench_fail (b, "%s: timed out (%u of %u done)", phase_names[phase], b->step_done, b->step_total);
      break;
    case PHASE_INIT:
    case PHASE_LOAD:
    default:
      bench_fail (b, "%s: timed out", phase_names[phase]);
      break;
    }
  return G_SOURCE_REMOVE;
}

static void
enter_phase (Bench *b,
             Phase  phase,
             guint  deadline_seconds)
{
  gint64 now = g_get_monotonic_time ();

  if (b->phase >= PHASE_SANDBOX && b->phase <= PHASE_WATCH)
    b->setup_seconds[b->phase] = mono_seconds (b->phase_started, now);
  b->phase = phase;
  b->phase_started = now;
  clear_phase_timer (b);
  if (deadline_seconds > 0)
    b->phase_timer = g_timeout_add_seconds (deadline_seconds, on_phase_deadline, b);
}

static void
bench_fail (Bench      *b,
            const char *format,
            ...)
{
  va_list args;
  char *text;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  if (!b->json_only)
    g_printerr ("bench: FAIL: %s\n", text);
  g_ptr_array_add (b->failures, text);

  if (b->aborting || b->phase >= PHASE_CLOSE)
    return;
  b->aborting = TRUE;
  begin_close (b);
}

static void
fill_steps (Bench *b)
{
  while (!b->aborting && b->step_next < b->step_total && b->step_inflight < b->step_concurrency)
    {
      guint index = b->step_next++;

      b->step_inflight++;
      b->step_func (b, index);
    }
}

static void
start_steps (Bench    *b,
             Phase     phase,
             guint     total,
             guint     concurrency,
             StepFunc  func)
{
  enter_phase (b, phase, SETUP_PHASE_SECONDS);
  b->step_total = total;
  b->step_next = 0;
  b->step_done = 0;
  b->step_inflight = 0;
  b->step_concurrency = concurrency;
  b->step_func = func;
  fill_steps (b);
}

static void
step_done (Bench *b)
{
  Phase phase = b->phase;

  b->step_inflight--;
  b->step_done++;
  if (b->aborting)
    return;
  if (b->step_done < b->step_total)
    {
      fill_steps (b);
      return;
    }

  switch (phase)
    {
    case PHASE_USERS:
      begin_channels (b);
      break;
    case PHASE_CHANNELS:
      begin_connect (b);
      break;
    case PHASE_CONNECT:
      begin_watch (b);
      break;
    case PHASE_WATCH:
      begin_load (b);
      break;
    case PHASE_INIT:
    case PHASE_SANDBOX:
    case PHASE_LOAD:
    case PHASE_DRAIN:
    case PHASE_CLOSE:
    case PHASE_STOP:
    case PHASE_DONE:
    default:
      g_assert_not_reached ();
    }
}

/* REST ------------------------------------------------------------------------------------ */

typedef void (*RestDone) (Bench        *b,
                          guint         status,
                          GBytes       *body,
                          const GError *error,
                          gpointer      data);

typedef struct
{
  Bench       *bench;
  SoupMessage *msg;
  RestDone     done;
  gpointer     data;
} RestCall;

static void
on_rest_reply (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  RestCall *call = user_data;
  Bench *b = call->bench;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;

  b->ops--;
  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  call->done (b, body != NULL ? soup_message_get_status (call->msg) : 0, body, error, call->data);
  g_object_unref (call->msg);
  g_free (call);

  if (b->phase == PHASE_CLOSE)
    check_close_done (b);
}

/* POST @path with a JSON body; @as NULL means the server token. */
static void
rest_post (Bench        *b,
           const char   *path,
           const Client *as,
           const char   *body,
           RestDone      done,
           gpointer      data)
{
  g_autofree char *url = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
  SoupMessageHeaders *headers;
  RestCall *call;

  if (as != NULL)
    url = g_strdup_printf ("%s%s?api_key=%s&user_id=%s&connection_id=%s", b->base_url, path,
                           b->api_key_escaped, as->user_id, as->connection_id);
  else
    url = g_strdup_printf ("%s%s?api_key=%s", b->base_url, path, b->api_key_escaped);

  call = g_new0 (RestCall, 1);
  call->bench = b;
  call->done = done;
  call->data = data;
  call->msg = soup_message_new ("POST", url);
  g_assert (call->msg != NULL);
  headers = soup_message_get_request_headers (call->msg);
  soup_message_headers_replace (headers, "Authorization", as != NULL ? as->token : b->server_token);
  soup_message_headers_replace (headers, "stream-auth-type", "jwt");
  soup_message_headers_replace (headers, "X-Stream-Client", "confab-sandbox-bench-" BENCH_VERSION);
  soup_message_set_request_body_from_bytes (call->msg, "application/json", bytes);
  /* libsoup sends a POST only on a fresh connection unless it is marked idempotent. Every
   * POST here is safe to resend (a message carries its own id, so a resend is refused as
   * a duplicate), and browsers and axios keep connections alive, so reuse them. */
  if (!b->new_connections)
    soup_message_add_flags (call->msg, SOUP_MESSAGE_IDEMPOTENT);

  b->ops++;
  soup_session_send_and_read_async (b->session, call->msg, G_PRIORITY_DEFAULT, b->net_cancel,
                                    on_rest_reply, call);
}

static char *
describe_rest_failure (guint         status,
                       GBytes       *body,
                       const GError *error)
{
  gsize length = 0;
  const char *data;

  if (error != NULL)
    return g_strdup (error->message);
  data = body != NULL ? g_bytes_get_data (body, &length) : NULL;
  return g_strdup_printf ("HTTP %u: %.*s", status, (int) MIN (length, 300), data != NULL ? data : "");
}

/* A setup step's reply: 2xx or the run fails. */
static gboolean
setup_reply_ok (Bench        *b,
                const char   *what,
                guint         status,
                GBytes       *body,
                const GError *error)
{
  g_autofree char *why = NULL;

  if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;
  if (error == NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
    return TRUE;
  why = describe_rest_failure (status, body, error);
  bench_fail (b, "%s: %s", what, why);
  return FALSE;
}

/* Sandbox child -------------------------------------------------------------------------- */

static void read_child_line (Bench *b);

static void
on_child_line (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Bench *b = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *url = NULL;
  JsonNode *root;
  const char *listening = NULL;

  b->ops--;
  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  if (line == NULL)
    {
      b->child_out_eof = TRUE;
      if (b->phase == PHASE_SANDBOX)
        bench_fail (b, "the sandbox exited or closed its output before saying where it listens%s%s",
                    error != NULL ? ": " : "", error != NULL ? error->message : "");
      check_stop_done (b);
      check_close_done (b);
      return;
    }

  if (b->phase != PHASE_SANDBOX)
    {
      /* Anything it prints later goes to our stderr, so the pipe never fills. */
      if (!b->json_only)
        g_printerr ("sandbox: %s\n", line);
      read_child_line (b);
      return;
    }

  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, line, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    listening = json_object_get_string_member_with_default (json_node_get_object (root), "listening", NULL);
  if (listening == NULL)
    {
      bench_fail (b, "the sandbox's first line is not {\"listening\":URL}: %s", line);
      read_child_line (b);
      return;
    }
  url = normalise_url (listening, &error);
  if (url == NULL)
    {
      bench_fail (b, "the sandbox listens somewhere unexpected: %s", error->message);
      read_child_line (b);
      return;
    }

  set_base_url (b, g_steal_pointer (&url));
  progress (b, "sandbox pid %d listening on %s", (int) b->child_pid, b->base_url);
  read_child_line (b);
  begin_users (b);
}

static void
read_child_line (Bench *b)
{
  b->ops++;
  g_data_input_stream_read_line_async (b->child_out, G_PRIORITY_DEFAULT, b->child_cancel,
                                       on_child_line, b);
}

static void
on_child_exited (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Bench *b = user_data;
  GSubprocess *child = G_SUBPROCESS (source);

  b->ops--;
  if (!g_subprocess_wait_finish (child, result, NULL))
    return;
  b->child_exited = TRUE;
  if (g_subprocess_get_if_exited (child))
    b->child_exit_code = g_subprocess_get_exit_status (child);
  else if (g_subprocess_get_if_signaled (child))
    b->child_signal = g_subprocess_get_term_sig (child);

  if (b->phase < PHASE_STOP)
    {
      if (b->child_signal != 0)
        bench_fail (b, "the sandbox died during '%s' (signal %d)", phase_names[b->phase], b->child_signal);
      else
        bench_fail (b, "the sandbox exited during '%s' with status %d", phase_names[b->phase],
                    b->child_exit_code);
    }
  check_stop_done (b);
  check_close_done (b);
}

static void
child_setup (gpointer user_data)
{
  /* If the bench dies, the sandbox goes too. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
begin_sandbox (Bench *b)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  const char *identifier;
  const char *argv[] = {
    b->sandbox_path, "--listen", "127.0.0.1:0", "--api-key", b->api_key, "--api-secret", b->api_secret, NULL,
  };

  enter_phase (b, PHASE_SANDBOX, SANDBOX_START_SECONDS);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  b->child = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (b->child == NULL)
    {
      bench_fail (b, "cannot start the sandbox %s: %s", b->sandbox_path, error->message);
      return;
    }
  identifier = g_subprocess_get_identifier (b->child);
  b->child_pid = identifier != NULL ? (pid_t) g_ascii_strtoll (identifier, NULL, 10) : 0;
  b->child_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (b->child));

  b->ops++;
  g_subprocess_wait_async (b->child, NULL, on_child_exited, b);
  read_child_line (b);
}

/* Users and channels ----------------------------------------------------------------------- */

static void
on_users_reply (Bench        *b,
                guint         status,
                GBytes       *body,
                const GError *error,
                gpointer      data)
{
  if (setup_reply_ok (b, "POST /users", status, body, error))
    step_done (b);
}

static void
users_step (Bench *b,
            guint  batch)
{
  g_autoptr(GString) body = g_string_new ("{\"users\":{");
  guint first = batch * USERS_PER_BATCH;
  guint last = MIN ((guint) b->n_clients, first + USERS_PER_BATCH);

  for (guint i = first; i < last; i++)
    {
      Client *c = &b->clients[i];

      g_string_append_printf (body, "%s\"%s\":{\"id\":\"%s\",\"name\":\"Bench user %u\"}",
                              i > first ? "," : "", c->user_id, c->user_id, i);
    }
  g_string_append (body, "}}");
  rest_post (b, "/users", NULL, body->str, on_users_reply, NULL);
}

static void
begin_users (Bench *b)
{
  progress (b, "creating %d users", b->n_clients);
  start_steps (b, PHASE_USERS, (b->n_clients + USERS_PER_BATCH - 1) / USERS_PER_BATCH,
               SETUP_CONCURRENCY, users_step);
}

static void
on_channel_reply (Bench        *b,
                  guint         status,
                  GBytes       *body,
                  const GError *error,
                  gpointer      data)
{
  g_autofree char *what = g_strdup_printf ("creating channel %s", b->channel_ids[GPOINTER_TO_UINT (data)]);

  if (setup_reply_ok (b, what, status, body, error))
    step_done (b);
}

static void
channel_step (Bench *b,
              guint  channel)
{
  g_autoptr(GString) body = g_string_new ("{\"data\":{\"name\":\"Bench channel\",\"members\":[");
  g_autofree char *path = g_strdup_printf ("/channels/messaging/%s/query", b->channel_ids[channel]);
  const char *creator = NULL;

  for (guint i = channel; i < (guint) b->n_clients; i += b->n_channels)
    {
      g_string_append_printf (body, "%s\"%s\"", creator != NULL ? "," : "", b->clients[i].user_id);
      if (creator == NULL)
        creator = b->clients[i].user_id;
    }
  g_string_append_printf (body, "],\"created_by_id\":\"%s\"}}", creator);
  rest_post (b, path, NULL, body->str, on_channel_reply, GUINT_TO_POINTER (channel));
}

static void
begin_channels (Bench *b)
{
  progress (b, "creating %d channels", b->n_channels);
  start_steps (b, PHASE_CHANNELS, b->n_channels, SETUP_CONCURRENCY, channel_step);
}

/* WebSockets -------------------------------------------------------------------------------- */

static void
client_release_ws (Client *c)
{
  Bench *b = c->bench;

  if (c->ws == NULL)
    return;
  g_clear_signal_handler (&c->message_handler, c->ws);
  g_clear_signal_handler (&c->closed_handler, c->ws);
  g_clear_object (&c->ws);
  b->open_ws--;
}

static gint64
int_member (JsonObject *object,
            const char *name,
            gint64      fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return fallback;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      return json_node_get_int (node);
    case G_TYPE_DOUBLE:
      return (gint64) json_node_get_double (node);
    default:
      return fallback;
    }
}

static void
on_message_new (Bench      *b,
                Client     *c,
                JsonObject *event,
                gint64      now_real,
                gint64      now_mono)
{
  JsonObject *message;
  const char *id;
  const char *run;
  gint64 seq;
  gint64 sent_us;
  Record *record;
  guint8 *byte;
  guint8 bit;

  message = json_object_get_object_member (event, "message");
  if (message == NULL)
    {
      b->bad_frames++;
      return;
    }
  run = json_object_get_string_member_with_default (message, "bench_run", NULL);
  id = json_object_get_string_member_with_default (message, "id", NULL);
  seq = int_member (message, "bench_seq", -1);
  sent_us = int_member (message, "bench_sent_us", -1);
  if (g_strcmp0 (run, b->run_id) != 0 || id == NULL || seq < 0 || seq >= b->n_records || sent_us < 0)
    {
      b->unexpected++;
      return;
    }
  record = &b->records[seq];
  if (!g_str_equal (record->id, id) || record->channel != c->channel)
    {
      b->unexpected++;
      return;
    }

  byte = &b->bits[(gsize) seq * b->bits_stride + c->member / 8];
  bit = (guint8) (1u << (c->member % 8));
  if (*byte & bit)
    {
      b->duplicates++;
      return;
    }
  *byte |= bit;
  b->last_progress = now_mono;
  record->received++;
  b->received_unique++;
  if (record->state == REC_OK)
    b->received_of_ok++;

  if (now_mono >= b->measure_start && now_mono < b->measure_end)
    b->received_in_window++;
  if (record->measured)
    {
      gint64 latency = now_real - sent_us;
      g_array_append_val (b->latencies, latency);
    }

  if (b->phase == PHASE_DRAIN && b->inflight_sends == 0 && b->received_of_ok >= b->expected_ok)
    begin_close (b);
}

static void
on_ws_message (SoupWebsocketConnection *ws,
               gint                     type,
               GBytes                  *message,
               gpointer                 user_data)
{
  Client *c = user_data;
  Bench *b = c->bench;
  gint64 now_real = g_get_real_time ();
  gint64 now_mono = g_get_monotonic_time ();
  gsize length = 0;
  const char *data;
  JsonNode *root;
  JsonObject *event;
  const char *event_type;

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      b->bad_frames++;
      return;
    }
  data = g_bytes_get_data (message, &length);
  if (!json_parser_load_from_data (b->parser, data, length, NULL) ||
      (root = json_parser_get_root (b->parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      b->bad_frames++;
      return;
    }
  event = json_node_get_object (root);
  event_type = json_object_get_string_member_with_default (event, "type", "");

  if (c->connection_id == NULL)
    {
      const char *connection_id = json_object_get_string_member_with_default (event, "connection_id", NULL);

      if (json_object_has_member (event, "error") || !g_str_equal (event_type, "health.check") ||
          connection_id == NULL || *connection_id == '\0')
        {
          g_autofree char *text = g_strndup (data, MIN (length, 300));

          bench_fail (b, "client %s: the first frame is not a health.check: %s", c->user_id, text);
          return;
        }
      c->connection_id = g_strdup (connection_id);
      if (b->phase == PHASE_CONNECT)
        step_done (b);
      return;
    }

  if (g_str_equal (event_type, "message.new"))
    {
      b->fault_counter++;
      if (b->fault_drop_every > 0 && b->fault_counter % b->fault_drop_every == 0)
        return;
      on_message_new (b, c, event, now_real, now_mono);
      if (b->fault_dup_every > 0 && b->fault_counter % b->fault_dup_every == 0)
        on_message_new (b, c, event, now_real, now_mono);
    }
  else
    b->other_events++;
}

static void
on_ws_closed (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  Client *c = user_data;
  Bench *b = c->bench;

  if (!c->closing && b->phase < PHASE_CLOSE)
    bench_fail (b, "client %s: the WebSocket closed unexpectedly (code %u, '%s')", c->user_id,
                soup_websocket_connection_get_close_code (ws),
                soup_websocket_connection_get_close_data (ws) != NULL ?
                  soup_websocket_connection_get_close_data (ws) : "");
  client_release_ws (c);
  check_close_done (b);
}

static void
on_ws_connected (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Client *c = user_data;
  Bench *b = c->bench;
  g_autoptr(GError) error = NULL;
  SoupWebsocketConnection *ws;

  b->ops--;
  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (ws == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        bench_fail (b, "client %s: WebSocket connect failed: %s", c->user_id, error->message);
      check_close_done (b);
      return;
    }

  c->ws = ws;
  b->open_ws++;
  g_object_set (ws, "max-incoming-payload-size", (guint64) WS_MAX_PAYLOAD, NULL);
  c->message_handler = g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), c);
  c->closed_handler = g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), c);

  if (b->aborting || b->phase >= PHASE_CLOSE)
    {
      c->closing = TRUE;
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "bench stopping");
    }
  /* The step completes on the first frame, the health.check. */
}

static void
connect_step (Bench *b,
              guint  index)
{
  Client *c = &b->clients[index];
  g_autofree char *request_id = g_uuid_string_random ();
  g_autofree char *json = g_strdup_printf ("{\"user_id\":\"%s\",\"user_details\":{\"id\":\"%s\",\"name\":\"Bench user %u\"},"
                                           "\"client_request_id\":\"%s\"}",
                                           c->user_id, c->user_id, index, request_id);
  g_autofree char *json_escaped = g_uri_escape_string (json, NULL, FALSE);
  g_autofree char *url = g_strdup_printf ("%s/connect?json=%s&api_key=%s&authorization=%s&stream-auth-type=jwt"
                                          "&X-Stream-Client=confab-sandbox-bench-" BENCH_VERSION,
                                          b->ws_base, json_escaped, b->api_key_escaped, c->token);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);

  g_assert (msg != NULL);
  b->ops++;
  soup_session_websocket_connect_async (b->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, b->net_cancel,
                                        on_ws_connected, c);
}

static void
begin_connect (Bench *b)
{
  progress (b, "connecting %d WebSockets", b->n_clients);
  start_steps (b, PHASE_CONNECT, b->n_clients, SETUP_CONCURRENCY, connect_step);
}

static void
on_watch_reply (Bench        *b,
                guint         status,
                GBytes       *body,
                const GError *error,
                gpointer      data)
{
  Client *c = data;
  g_autofree char *what = g_strdup_printf ("client %s watching %s", c->user_id, b->channel_ids[c->channel]);

  if (setup_reply_ok (b, what, status, body, error))
    step_done (b);
}

static void
watch_step (Bench *b,
            guint  index)
{
  Client *c = &b->clients[index];
  g_autofree char *path = g_strdup_printf ("/channels/messaging/%s/query", b->channel_ids[c->channel]);

  rest_post (b, path, c, "{\"state\":true,\"watch\":true,\"presence\":false}", on_watch_reply, c);
}

static void
begin_watch (Bench *b)
{
  progress (b, "watching: every client its own channel");
  start_steps (b, PHASE_WATCH, b->n_clients, SETUP_CONCURRENCY, watch_step);
}

/* Load -------------------------------------------------------------------------------------- */

static void
on_send_reply (Bench        *b,
               guint         status,
               GBytes       *body,
               const GError *error,
               gpointer      data)
{
  Record *record = &b->records[GPOINTER_TO_UINT (data)];
  gint64 now = g_get_monotonic_time ();

  b->inflight_sends--;
  b->last_progress = now;
  if (error == NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      record->state = REC_OK;
      b->expected_ok += b->channel_members[record->channel];
      b->received_of_ok += record->received;   /* those that arrived before the reply */
      if (record->measured)
        {
          gint64 round_trip = now - record->sent_mono;
          g_array_append_val (b->rest_latencies, round_trip);
        }
    }
  else
    {
      record->state = REC_FAILED;
      b->send_errors++;
      if (b->error_samples->len < 5)
        g_ptr_array_add (b->error_samples, describe_rest_failure (status, body, error));
    }

  if (b->phase == PHASE_DRAIN && b->inflight_sends == 0 && b->received_of_ok >= b->expected_ok)
    begin_close (b);
}

static void
send_one (Bench  *b,
          gint64  now_mono,
          gboolean measured)
{
  guint seq = b->n_records++;
  Record *record = &b->records[seq];
  Client *c = &b->clients[b->scheduled % b->n_clients];
  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *body = NULL;

  g_strlcpy (record->id, id, sizeof record->id);
  record->channel = c->channel;
  record->measured = measured;
  record->state = REC_IN_FLIGHT;
  record->sent_mono = now_mono;
  record->sent_us = g_get_real_time ();
  body = g_strdup_printf ("{\"message\":{\"id\":\"%s\",\"text\":\"bench message %u\",\"bench_run\":\"%s\","
                          "\"bench_seq\":%u,\"bench_sent_us\":%" G_GINT64_FORMAT "}}",
                          record->id, seq, b->run_id, seq, record->sent_us);
  b->inflight_sends++;
  if (measured)
    b->sent_measured++;
  rest_post (b, c->send_path, c, body, on_send_reply, GUINT_TO_POINTER (seq));
}

static gboolean
on_send_tick (gpointer user_data)
{
  Bench *b = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 until = MIN (now, b->measure_end);
  guint64 due = (guint64) (b->rate * mono_seconds (b->load_start, until));   /* floor: both >= 0 */

  if (!b->self_cpu_start.valid && now >= b->measure_start)
    {
      mark_cpu (b, &b->sandbox_cpu_start, &b->self_cpu_start);
      b->progress_mono = now;
      b->progress_sandbox_cpu = b->sandbox_cpu_start.valid ? b->sandbox_cpu_start.user_s : 0;
      progress (b, "warm-up over; measuring for %g s", b->duration);
    }

  while (b->scheduled < due && b->n_records < b->max_records)
    {
      /* A slot's phase is when it was due, not when the tick ran. */
      gint64 slot_mono = b->load_start + (gint64) (b->scheduled / b->rate * G_USEC_PER_SEC);
      gboolean measured = slot_mono >= b->measure_start;

      if (b->inflight_sends >= MAX_INFLIGHT_SENDS)
        b->send_skipped++;
      else
        send_one (b, now, measured);
      b->scheduled++;
    }

  if (now >= b->measure_end)
    {
      b->send_timer = 0;
      mark_cpu (b, &b->sandbox_cpu_end, &b->self_cpu_end);
      if (!b->sandbox_cpu_start.valid)
        b->sandbox_cpu_end.valid = FALSE;
      begin_drain (b);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_progress (gpointer user_data)
{
  Bench *b = user_data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GArray) slice = NULL;
  double seconds;
  double sandbox_cpu = 0;
  char cpu_text[64] = "";

  if (!b->self_cpu_start.valid)
    return G_SOURCE_CONTINUE;
  seconds = mono_seconds (b->progress_mono, now);
  slice = g_array_sized_new (FALSE, FALSE, sizeof (gint64), b->latencies->len - b->progress_index);
  g_array_append_vals (slice, &g_array_index (b->latencies, gint64, b->progress_index),
                       b->latencies->len - b->progress_index);
  g_array_sort (slice, compare_gint64);
  if (b->child_pid > 0 && !b->child_exited && read_proc_cpu (b->child_pid, &sandbox_cpu) &&
      b->progress_sandbox_cpu > 0 && b->sent_measured > b->progress_sent)
    g_snprintf (cpu_text, sizeof cpu_text, ", sandbox %.2f ms CPU/msg",
                (sandbox_cpu - b->progress_sandbox_cpu) * 1000 / (b->sent_measured - b->progress_sent));
  progress (b, "  t=%4.1f s: %6.1f msg/s sent, %8.1f deliveries/s, p50 %.2f ms, p99 %.2f ms, %u sends in flight%s",
            mono_seconds (b->measure_start, now),
            seconds > 0 ? (b->sent_measured - b->progress_sent) / seconds : 0,
            seconds > 0 ? (b->received_unique - b->progress_received) / seconds : 0,
            percentile_ms (slice, 50), percentile_ms (slice, 99), b->inflight_sends, cpu_text);
  b->progress_sandbox_cpu = sandbox_cpu;
  b->progress_index = b->latencies->len;
  b->progress_sent = b->sent_measured;
  b->progress_received = b->received_unique;
  b->progress_mono = now;
  return G_SOURCE_CONTINUE;
}

static void
begin_load (Bench *b)
{
  enter_phase (b, PHASE_LOAD, 0);
  b->load_start = g_get_monotonic_time ();
  b->measure_start = b->load_start + (gint64) (b->warmup * G_USEC_PER_SEC);
  b->measure_end = b->measure_start + (gint64) (b->duration * G_USEC_PER_SEC);
  b->tick_ms = (guint) CLAMP (1000.0 / b->rate, 1, 20);
  progress (b, "sending %g msg/s over %d clients: %g s warm-up, then %g s measured",
            b->rate, b->n_clients, b->warmup, b->duration);
  b->send_timer = g_timeout_add (b->tick_ms, on_send_tick, b);
  if (!b->json_only)
    b->progress_timer = g_timeout_add_seconds (PROGRESS_SECONDS, on_progress, b);
}

static void
begin_drain (Bench *b)
{
  g_clear_handle_id (&b->progress_timer, g_source_remove);
  enter_phase (b, PHASE_DRAIN, 1);
  b->last_progress = g_get_monotonic_time ();
  if (b->inflight_sends == 0 && b->received_of_ok >= b->expected_ok)
    begin_close (b);
}

/* Results ------------------------------------------------------------------------------------ */

static void
compute_stats (Bench *b)
{
  gint64 sum = 0;

  if (b->stats_done)
    return;
  b->stats_done = TRUE;

  b->lost = 0;
  for (guint i = 0; i < b->n_records; i++)
    {
      const Record *record = &b->records[i];

      if (record->state == REC_OK && record->received < b->channel_members[record->channel])
        b->lost += b->channel_members[record->channel] - record->received;
    }

  g_array_sort (b->latencies, compare_gint64);
  for (guint i = 0; i < b->latencies->len; i++)
    sum += g_array_index (b->latencies, gint64, i);
  b->lat_p50 = percentile_ms (b->latencies, 50);
  b->lat_p90 = percentile_ms (b->latencies, 90);
  b->lat_p99 = percentile_ms (b->latencies, 99);
  b->lat_max = percentile_ms (b->latencies, 100);
  b->lat_mean = b->latencies->len > 0 ? sum / 1000.0 / b->latencies->len : 0;

  g_array_sort (b->rest_latencies, compare_gint64);
  b->rest_p50 = percentile_ms (b->rest_latencies, 50);
  b->rest_p99 = percentile_ms (b->rest_latencies, 99);
  b->rest_max = percentile_ms (b->rest_latencies, 100);
}

/* Shutdown ----------------------------------------------------------------------------------- */

static void
begin_close (Bench *b)
{
  if (b->phase >= PHASE_CLOSE)
    return;

  g_clear_handle_id (&b->send_timer, g_source_remove);
  g_clear_handle_id (&b->progress_timer, g_source_remove);
  if (b->self_cpu_start.valid && !b->self_cpu_end.valid)
    mark_cpu (b, &b->sandbox_cpu_end, &b->self_cpu_end);
  if (b->child_pid > 0 && !b->child_exited)
    b->sandbox_hwm_kib = read_proc_hwm_kib (b->child_pid);
  if (b->phase >= PHASE_LOAD)
    compute_stats (b);

  enter_phase (b, PHASE_CLOSE, CLOSE_SECONDS);
  g_cancellable_cancel (b->net_cancel);
  for (int i = 0; i < b->n_clients; i++)
    {
      Client *c = &b->clients[i];

      if (c->ws == NULL)
        continue;
      c->closing = TRUE;
      if (soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "bench done");
    }
  check_close_done (b);
}

static void
check_close_done (Bench *b)
{
  /* Only the child's wait and its stdout may still be pending. */
  guint child_ops = (b->child != NULL && !b->child_exited ? 1 : 0) +
                    (b->child_out != NULL && !b->child_out_eof ? 1 : 0);

  if (b->phase == PHASE_CLOSE && b->open_ws == 0 && b->ops <= child_ops)
    begin_stop (b);
}

static void
begin_stop (Bench *b)
{
  if (b->phase >= PHASE_STOP)
    return;
  enter_phase (b, PHASE_STOP, STOP_SECONDS);
  if (b->child != NULL && !b->child_exited)
    {
      progress (b, "stopping the sandbox (SIGTERM)");
      g_subprocess_send_signal (b->child, SIGTERM);
    }
  check_stop_done (b);
}

static void
check_stop_done (Bench *b)
{
  if (b->phase < PHASE_STOP)
    return;
  if (b->child != NULL && (!b->child_exited || !b->child_out_eof))
    return;
  clear_phase_timer (b);
  b->phase = PHASE_DONE;
  g_main_loop_quit (b->loop);
}

static gboolean
on_interrupt (gpointer user_data)
{
  Bench *b = user_data;

  bench_fail (b, "interrupted");
  return G_SOURCE_CONTINUE;
}

/* Report ------------------------------------------------------------------------------------- */

/* Name every reason the run fails in the failures list, so a CI log says why. */
static void
explain_failure (Bench *b)
{
  if (b->stats_done && b->lost > 0)
    g_ptr_array_add (b->failures, g_strdup_printf ("%" G_GUINT64_FORMAT " deliveries lost", b->lost));
  if (b->duplicates > 0)
    g_ptr_array_add (b->failures, g_strdup_printf ("%" G_GUINT64_FORMAT " duplicate deliveries", b->duplicates));
  if (b->unexpected > 0)
    g_ptr_array_add (b->failures, g_strdup_printf ("%" G_GUINT64_FORMAT " unexpected message.new events", b->unexpected));
  if (b->send_errors > 0)
    g_ptr_array_add (b->failures, g_strdup_printf ("%" G_GUINT64_FORMAT " sends failed", b->send_errors));
  if (b->stats_done && b->n_records == 0)
    g_ptr_array_add (b->failures, g_strdup ("no message was sent"));
  if (b->child != NULL && b->child_exited && b->child_signal == 0 && b->child_exit_code != 0)
    g_ptr_array_add (b->failures, g_strdup_printf ("the sandbox exited with status %d", b->child_exit_code));
  else if (b->child != NULL && b->child_signal != 0 && b->phase >= PHASE_STOP && !b->child_killed)
    g_ptr_array_add (b->failures, g_strdup_printf ("the sandbox was ended by signal %d", b->child_signal));
}

static gboolean
bench_passed (Bench *b)
{
  return b->failures->len == 0 && b->stats_done && b->lost == 0 && b->duplicates == 0 &&
         b->unexpected == 0 && b->send_errors == 0 && b->n_records > 0 &&
         (b->child == NULL || (b->child_exit_code == 0 && b->child_signal == 0 && !b->child_killed));
}

/* A tiny JSON writer: json-glib prints doubles with 17 digits. */
typedef struct
{
  GString *out;
  gboolean first;
} JsonOut;

static void
jkey (JsonOut    *j,
      const char *name)
{
  if (!j->first)
    g_string_append_c (j->out, ',');
  j->first = FALSE;
  g_string_append_printf (j->out, "\"%s\":", name);
}

static void
jopen (JsonOut    *j,
       const char *name)
{
  if (name != NULL)
    jkey (j, name);
  g_string_append_c (j->out, '{');
  j->first = TRUE;
}

static void
jclose (JsonOut *j)
{
  g_string_append_c (j->out, '}');
  j->first = FALSE;
}

static void
jint (JsonOut    *j,
      const char *name,
      gint64      value)
{
  jkey (j, name);
  g_string_append_printf (j->out, "%" G_GINT64_FORMAT, value);
}

static void
jdouble (JsonOut    *j,
         const char *name,
         double      value,
         int         decimals)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  char format[16];

  jkey (j, name);
  g_snprintf (format, sizeof format, "%%.%df", decimals);
  g_string_append (j->out, g_ascii_formatd (buffer, sizeof buffer, format, value));
}

static void
jnull (JsonOut    *j,
       const char *name)
{
  jkey (j, name);
  g_string_append (j->out, "null");
}

static void
jstring_value (JsonOut    *j,
               const char *value)
{
  g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), value);
  g_autofree char *text = json_to_string (node, FALSE);

  g_string_append (j->out, text);
}

static void
jstring (JsonOut    *j,
         const char *name,
         const char *value)
{
  jkey (j, name);
  jstring_value (j, value);
}

static char *
report_json (Bench *b)
{
  JsonOut j = { g_string_new (NULL), TRUE };
  double cpu_s = 0, cpu_share = 0;
  struct rusage usage;

  jopen (&j, NULL);
  jstring (&j, "bench", "confab-sandbox-bench");
  jint (&j, "version", 1);
  jstring (&j, "result", bench_passed (b) ? "pass" : "fail");
  jint (&j, "clients", b->n_clients);
  jint (&j, "channels", b->n_channels);
  jdouble (&j, "target_rate", b->rate, 1);
  jdouble (&j, "duration_s", b->duration, 1);
  jdouble (&j, "warmup_s", b->warmup, 1);
  jint (&j, "sent", b->sent_measured);
  jint (&j, "sent_total", b->n_records);
  jdouble (&j, "achieved_send_rate", b->sent_measured / b->duration, 1);
  jdouble (&j, "delivered_per_s", b->received_in_window / b->duration, 1);
  jint (&j, "expected_deliveries", b->expected_ok);
  jint (&j, "received_deliveries", b->received_unique);
  jint (&j, "lost", b->lost);
  jint (&j, "duplicates", b->duplicates);
  jint (&j, "unexpected", b->unexpected);
  jint (&j, "send_errors", b->send_errors);
  jint (&j, "send_skipped", b->send_skipped);

  jopen (&j, "latency_ms");
  jdouble (&j, "p50", b->lat_p50, 3);
  jdouble (&j, "p90", b->lat_p90, 3);
  jdouble (&j, "p99", b->lat_p99, 3);
  jdouble (&j, "max", b->lat_max, 3);
  jdouble (&j, "mean", b->lat_mean, 3);
  jint (&j, "samples", b->latencies->len);
  jclose (&j);

  jopen (&j, "rest_send_ms");
  jdouble (&j, "p50", b->rest_p50, 3);
  jdouble (&j, "p99", b->rest_p99, 3);
  jdouble (&j, "max", b->rest_max, 3);
  jclose (&j);

  if (b->child != NULL)
    {
      jopen (&j, "sandbox");
      jint (&j, "pid", b->child_pid);
      if (cpu_usage (&b->sandbox_cpu_start, &b->sandbox_cpu_end, &cpu_s, &cpu_share))
        {
          jdouble (&j, "cpu_s", cpu_s, 2);
          jdouble (&j, "cpu_cores", cpu_share, 3);
          if (b->sent_measured > 0)
            jdouble (&j, "cpu_ms_per_message", cpu_s * 1000 / b->sent_measured, 3);
          else
            jnull (&j, "cpu_ms_per_message");
        }
      else
        {
          jnull (&j, "cpu_s");
          jnull (&j, "cpu_cores");
          jnull (&j, "cpu_ms_per_message");
        }
      if (b->sandbox_hwm_kib >= 0)
        jint (&j, "peak_rss_kib", b->sandbox_hwm_kib);
      else
        jnull (&j, "peak_rss_kib");
      if (b->child_exited && b->child_signal == 0)
        jint (&j, "exit_status", b->child_exit_code);
      else
        jnull (&j, "exit_status");
      jint (&j, "exit_signal", b->child_signal);
      jclose (&j);
    }
  else
    jnull (&j, "sandbox");

  jopen (&j, "bench_process");
  if (cpu_usage (&b->self_cpu_start, &b->self_cpu_end, &cpu_s, &cpu_share))
    {
      jdouble (&j, "cpu_s", cpu_s, 2);
      jdouble (&j, "cpu_cores", cpu_share, 3);
    }
  if (getrusage (RUSAGE_SELF, &usage) == 0)
    jint (&j, "peak_rss_kib", usage.ru_maxrss);
  jclose (&j);

  jopen (&j, "machine");
  jint (&j, "cores", sysconf (_SC_NPROCESSORS_ONLN));
  if (other_cpu_cores (b, &cpu_share))
    jdouble (&j, "other_cpu_cores", cpu_share, 3);
  else
    jnull (&j, "other_cpu_cores");
  if (b->machine_start.valid)
    jdouble (&j, "loadavg_1m_start", b->machine_start.load1, 2);
  jclose (&j);

  jopen (&j, "setup_s");
  for (Phase p = PHASE_SANDBOX; p <= PHASE_WATCH; p++)
    if (b->setup_seconds[p] > 0)
      {
        g_autofree char *name = g_strdelimit (g_strdup (phase_names[p]), " ", '_');
        jdouble (&j, name, b->setup_seconds[p], 3);
      }
  jclose (&j);

  jkey (&j, "failures");
  g_string_append_c (j.out, '[');
  for (guint i = 0; i < b->failures->len; i++)
    {
      if (i > 0)
        g_string_append_c (j.out, ',');
      jstring_value (&j, g_ptr_array_index (b->failures, i));
    }
  g_string_append_c (j.out, ']');
  jclose (&j);

  return g_string_free (j.out, FALSE);
}

static void
print_table (Bench *b)
{
  double cpu_s = 0, cpu_share = 0;
  double per_channel = b->n_clients / (double) b->n_channels;

  g_print ("\nconfab-sandbox-bench: %d clients in %d channels (%.3g per channel), target %g msg/s, "
           "%g s measured after %g s warm-up\n",
           b->n_clients, b->n_channels, per_channel, b->rate, b->duration, b->warmup);
  g_print ("  %-22s %" G_GUINT64_FORMAT " in the window (%.1f msg/s), %u in all; %" G_GUINT64_FORMAT
           " errors, %" G_GUINT64_FORMAT " skipped (sends in flight at the cap of %d)\n",
           "sent", b->sent_measured, b->sent_measured / b->duration, b->n_records,
           b->send_errors, b->send_skipped, MAX_INFLIGHT_SENDS);
  g_print ("  %-22s %" G_GUINT64_FORMAT " expected, %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT
           " lost, %" G_GUINT64_FORMAT " duplicates, %" G_GUINT64_FORMAT " unexpected\n",
           "deliveries", b->expected_ok, b->received_unique, b->lost, b->duplicates, b->unexpected);
  g_print ("  %-22s %.1f deliveries/s in the window\n", "delivered", b->received_in_window / b->duration);
  g_print ("  %-22s p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  mean %.2f  (%u samples)\n",
           "latency ms (send->recv)", b->lat_p50, b->lat_p90, b->lat_p99, b->lat_max, b->lat_mean,
           b->latencies->len);
  g_print ("  %-22s p50 %.2f  p99 %.2f  max %.2f\n", "REST send ms", b->rest_p50, b->rest_p99, b->rest_max);
  if (b->child != NULL)
    {
      if (cpu_usage (&b->sandbox_cpu_start, &b->sandbox_cpu_end, &cpu_s, &cpu_share))
        g_print ("  %-22s CPU %.2f s in the window = %.0f%% of one core (%.2f ms per message); ", "sandbox",
                 cpu_s, cpu_share * 100, b->sent_measured > 0 ? cpu_s * 1000 / b->sent_measured : 0);
      else
        g_print ("  %-22s CPU n/a; ", "sandbox");
      if (b->sandbox_hwm_kib >= 0)
        g_print ("peak RSS %.1f MiB; ", b->sandbox_hwm_kib / 1024.0);
      if (b->child_signal != 0)
        g_print ("ended by signal %d\n", b->child_signal);
      else if (b->child_exited)
        g_print ("exit status %d\n", b->child_exit_code);
      else
        g_print ("still running\n");
    }
  else
    g_print ("  %-22s external (%s): CPU and memory not measured\n", "sandbox", b->base_url);
  if (cpu_usage (&b->self_cpu_start, &b->self_cpu_end, &cpu_s, &cpu_share))
    {
      struct rusage usage;

      getrusage (RUSAGE_SELF, &usage);
      g_print ("  %-22s CPU %.2f s in the window = %.0f%% of one core; peak RSS %.1f MiB\n",
               "bench (this process)", cpu_s, cpu_share * 100, usage.ru_maxrss / 1024.0);
    }
  if (other_cpu_cores (b, &cpu_share))
    g_print ("  %-22s %ld cores; other processes used %.2f cores during the window%s\n", "machine",
             sysconf (_SC_NPROCESSORS_ONLN), cpu_share,
             cpu_share > 0.2 ? " (the machine was busy: numbers are pessimistic)" : "");
  g_print ("  %-22s users %.2f s, channels %.2f s, connect %.2f s, watch %.2f s\n", "setup",
           b->setup_seconds[PHASE_USERS], b->setup_seconds[PHASE_CHANNELS],
           b->setup_seconds[PHASE_CONNECT], b->setup_seconds[PHASE_WATCH]);
  for (guint i = 0; i < b->error_samples->len; i++)
    g_print ("  %-22s %s\n", i == 0 ? "send errors (first)" : "", (char *) g_ptr_array_index (b->error_samples, i));
  for (guint i = 0; i < b->failures->len; i++)
    g_print ("  %-22s %s\n", i == 0 ? "failures" : "", (char *) g_ptr_array_index (b->failures, i));
  g_print ("  %-22s %s\n\n", "result", bench_passed (b) ? "PASS" : "FAIL");
}

/* Options ------------------------------------------------------------------------------------ */

typedef struct
{
  char    *clients;
  char    *channels;
  char    *rate;
  char    *duration;
  char    *warmup;
  char    *url;
  char    *api_key;
  char    *api_secret;
  char    *sandbox;
  gboolean json_only;
  gboolean smoke;
  gboolean new_connections;
} RawOptions;

static gboolean
parse_int_option (const char  *name,
                  const char  *text,
                  int          fallback,
                  int          min,
                  int          max,
                  int         *out,
                  GError     **error)
{
  guint64 value = 0;

  if (text == NULL)
    {
      *out = fallback;
      return TRUE;
    }
  if (!g_ascii_string_to_unsigned (text, 10, min, max, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s needs a whole number from %d to %d (got '%s')", name, min, max, text);
      return FALSE;
    }
  *out = (int) value;
  return TRUE;
}

static gboolean
parse_double_option (const char  *name,
                     const char  *text,
                     double       fallback,
                     double       min,
                     gboolean     min_inclusive,
                     double       max,
                     const char  *unit,
                     double      *out,
                     GError     **error)
{
  char *end = NULL;
  double value;

  if (text == NULL)
    {
      *out = fallback;
      return TRUE;
    }
  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite (value) ||
      (min_inclusive ? value < min : value <= min) || value > max)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s needs a number of %s %s %g and at most %g (got '%s')", name, unit,
                   min_inclusive ? "from" : "above", min, max, text);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
validate_options (Bench       *b,
                  RawOptions  *raw,
                  GError     **error)
{
  /* --smoke: small and quick enough for CI; explicit options still win. */
  int clients_default = raw->smoke ? 20 : 200;
  int channels_default = raw->smoke ? 4 : 20;
  double rate_default = raw->smoke ? 10 : 400;
  double duration_default = raw->smoke ? 2 : 20;
  double warmup_default = raw->smoke ? 0.5 : 2;
  double total;

  b->smoke = raw->smoke;
  b->json_only = raw->json_only;
  b->new_connections = raw->new_connections;

  if (!parse_int_option ("--clients", raw->clients, clients_default, 1, 10000, &b->n_clients, error) ||
      !parse_int_option ("--channels", raw->channels, channels_default, 1, 10000, &b->n_channels, error) ||
      !parse_double_option ("--rate", raw->rate, rate_default, 0, FALSE, 50000, "messages per second",
                            &b->rate, error) ||
      !parse_double_option ("--duration", raw->duration, duration_default, 0, FALSE, 3600, "seconds",
                            &b->duration, error) ||
      !parse_double_option ("--warmup", raw->warmup, warmup_default, 0, TRUE, 600, "seconds",
                            &b->warmup, error))
    return FALSE;

  if (b->n_channels > b->n_clients)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--channels (%d) cannot exceed --clients (%d): every channel needs a member",
                   b->n_channels, b->n_clients);
      return FALSE;
    }
  total = ceil_positive (b->rate * (b->warmup + b->duration));
  if (total > MAX_MESSAGES)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--rate x (--warmup + --duration) would send %.0f messages; the bench keeps at most %d",
                   total, MAX_MESSAGES);
      return FALSE;
    }
  if (b->rate * b->duration < 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--rate x --duration must be at least one message (got %g x %g)", b->rate, b->duration);
      return FALSE;
    }

  if (g_getenv ("CONFAB_BENCH_FAULT") != NULL)
    {
      const char *fault = g_getenv ("CONFAB_BENCH_FAULT");
      guint64 every = 0;

      if ((!g_str_has_prefix (fault, "drop:") && !g_str_has_prefix (fault, "dup:")) ||
          !g_ascii_string_to_unsigned (strchr (fault, ':') + 1, 10, 1, G_MAXUINT, &every, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "CONFAB_BENCH_FAULT must be drop:N or dup:N (got '%s')", fault);
          return FALSE;
        }
      if (fault[1] == 'r')
        b->fault_drop_every = every;
      else
        b->fault_dup_every = every;
    }

  b->api_key = g_strdup (raw->api_key != NULL ? raw->api_key : DEFAULT_API_KEY);
  if (*b->api_key == '\0')
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--api-key must not be empty");
      return FALSE;
    }

  if (raw->url != NULL)
    {
      if (raw->sandbox != NULL)
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                               "--url and --sandbox exclude each other: --url uses a sandbox that is already running");
          return FALSE;
        }
      if (raw->api_secret == NULL || *raw->api_secret == '\0')
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                               "--url needs --api-secret (the running sandbox's secret) to sign tokens");
          return FALSE;
        }
      b->url = normalise_url (raw->url, error);
      if (b->url == NULL)
        {
          g_prefix_error (error, "--url: ");
          return FALSE;
        }
      b->api_secret = g_strdup (raw->api_secret);
      return TRUE;
    }

  b->sandbox_path = g_strdup (raw->sandbox != NULL ? raw->sandbox : g_getenv ("CONFAB_SANDBOX"));
  if (b->sandbox_path == NULL || *b->sandbox_path == '\0')
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "no sandbox to run: give --sandbox PATH, set CONFAB_SANDBOX, or use --url");
      return FALSE;
    }
  if (!g_file_test (b->sandbox_path, G_FILE_TEST_IS_REGULAR) ||
      !g_file_test (b->sandbox_path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "the sandbox '%s' is not an executable file", b->sandbox_path);
      return FALSE;
    }
  if (raw->api_secret != NULL)
    {
      if (*raw->api_secret == '\0')
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--api-secret must not be empty");
          return FALSE;
        }
      b->api_secret = g_strdup (raw->api_secret);
    }
  else
    {
      g_autofree char *a = g_uuid_string_random ();
      g_autofree char *c = g_uuid_string_random ();

      b->api_secret = g_strconcat (a, c, NULL);
    }
  return TRUE;
}

/* Set-up and tear-down ----------------------------------------------------------------------- */

static void
raise_fd_limit (guint wanted)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted)
    return;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : MIN ((rlim_t) wanted, limit.rlim_max);
  setrlimit (RLIMIT_NOFILE, &limit);
}

static void
bench_prepare (Bench *b)
{
  guint8 random_bytes[4];
  g_autofree char *server_payload = g_strdup ("{\"server\":true}");

  for (guint i = 0; i < sizeof random_bytes; i++)
    random_bytes[i] = (guint8) g_random_int_range (0, 256);
  b->run_id = g_strdup_printf ("%02x%02x%02x%02x", random_bytes[0], random_bytes[1],
                               random_bytes[2], random_bytes[3]);
  b->server_token = mint_token (server_payload, b->api_secret);
  b->api_key_escaped = g_uri_escape_string (b->api_key, NULL, FALSE);
  b->failures = g_ptr_array_new_with_free_func (g_free);
  b->error_samples = g_ptr_array_new_with_free_func (g_free);
  b->latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
  b->rest_latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
  b->parser = json_parser_new_immutable ();
  b->net_cancel = g_cancellable_new ();
  b->child_cancel = g_cancellable_new ();
  b->child_exit_code = -1;
  b->sandbox_hwm_kib = -1;

  b->channel_ids = g_new0 (char *, b->n_channels + 1);
  b->channel_members = g_new0 (guint, b->n_channels);
  for (int j = 0; j < b->n_channels; j++)
    b->channel_ids[j] = g_strdup_printf ("bench-%s-c%d", b->run_id, j);

  b->clients = g_new0 (Client, b->n_clients);
  for (int i = 0; i < b->n_clients; i++)
    {
      Client *c = &b->clients[i];
      g_autofree char *payload = NULL;

      c->bench = b;
      c->index = i;
      c->channel = i % b->n_channels;
      c->member = b->channel_members[c->channel]++;
      c->user_id = g_strdup_printf ("bench-%s-u%d", b->run_id, i);
      payload = g_strdup_printf ("{\"user_id\":\"%s\"}", c->user_id);
      c->token = mint_token (payload, b->api_secret);
      c->send_path = g_strdup_printf ("/channels/messaging/%s/message", b->channel_ids[c->channel]);
    }
  for (int j = 0; j < b->n_channels; j++)
    b->max_members = MAX (b->max_members, b->channel_members[j]);

  b->max_records = (guint) ceil_positive (b->rate * (b->warmup + b->duration)) + 1;
  b->records = g_new0 (Record, b->max_records);
  b->bits_stride = (b->max_members + 7) / 8;
  b->bits = g_malloc0 ((gsize) b->max_records * b->bits_stride);

  raise_fd_limit (2 * b->n_clients + MAX_INFLIGHT_SENDS + 256);
  b->session = soup_session_new_with_options ("max-conns", b->n_clients + MAX_REST_CONNECTIONS + 64,
                                              "max-conns-per-host", MAX_REST_CONNECTIONS,
                                              "timeout", 30,
                                              "user-agent", "confab-sandbox-bench/" BENCH_VERSION,
                                              NULL);
  /* Straight to 127.0.0.1, whatever http_proxy says. */
  soup_session_set_proxy_resolver (b->session, NULL);
  b->loop = g_main_loop_new (NULL, FALSE);
}

static gboolean
on_start (gpointer user_data)
{
  Bench *b = user_data;

  if (b->url != NULL)
    {
      set_base_url (b, g_strdup (b->url));
      progress (b, "using the running sandbox at %s", b->base_url);
    }
  if (b->url == NULL)
    begin_sandbox (b);
  else
    begin_users (b);
  return G_SOURCE_REMOVE;
}

static void
bench_free (Bench *b)
{
  for (int i = 0; b->clients != NULL && i < b->n_clients; i++)
    {
      Client *c = &b->clients[i];

      client_release_ws (c);
      g_free (c->user_id);
      g_free (c->token);
      g_free (c->connection_id);
      g_free (c->send_path);
    }
  g_free (b->clients);
  g_strfreev (b->channel_ids);
  g_free (b->channel_members);
  g_free (b->records);
  g_free (b->bits);
  g_clear_handle_id (&b->phase_timer, g_source_remove);
  g_clear_handle_id (&b->send_timer, g_source_remove);
  g_clear_handle_id (&b->progress_timer, g_source_remove);
  g_clear_object (&b->child_out);
  g_clear_object (&b->child);
  g_clear_object (&b->session);
  g_clear_object (&b->parser);
  g_clear_object (&b->net_cancel);
  g_clear_object (&b->child_cancel);
  g_clear_pointer (&b->loop, g_main_loop_unref);
  g_clear_pointer (&b->failures, g_ptr_array_unref);
  g_clear_pointer (&b->error_samples, g_ptr_array_unref);
  g_clear_pointer (&b->latencies, g_array_unref);
  g_clear_pointer (&b->rest_latencies, g_array_unref);
  g_free (b->run_id);
  g_free (b->base_url);
  g_free (b->ws_base);
  g_free (b->server_token);
  g_free (b->api_key_escaped);
  g_free (b->url);
  g_free (b->api_key);
  g_free (b->api_secret);
  g_free (b->sandbox_path);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  RawOptions raw = { 0 };
  Bench bench = { 0 };
  Bench *b = &bench;
  guint sigint, sigterm;
  int status;
  GOptionEntry entries[] = {
    { "clients", 0, 0, G_OPTION_ARG_STRING, &raw.clients, "WebSocket clients, one user each (default 200)", "N" },
    { "channels", 0, 0, G_OPTION_ARG_STRING, &raw.channels, "Channels; clients are split evenly (default 20)", "C" },
    { "rate", 0, 0, G_OPTION_ARG_STRING, &raw.rate, "Aggregate messages per second, spread over all clients (default 400)", "MSG/S" },
    { "duration", 0, 0, G_OPTION_ARG_STRING, &raw.duration, "Measured seconds (default 20)", "SECONDS" },
    { "warmup", 0, 0, G_OPTION_ARG_STRING, &raw.warmup, "Seconds of load before measuring (default 2)", "SECONDS" },
    { "url", 0, 0, G_OPTION_ARG_STRING, &raw.url, "Use a sandbox already running at this loopback URL", "http://127.0.0.1:PORT" },
    { "api-key", 0, 0, G_OPTION_ARG_STRING, &raw.api_key, "API key (default " DEFAULT_API_KEY ")", "KEY" },
    { "api-secret", 0, 0, G_OPTION_ARG_STRING, &raw.api_secret, "API secret that signs the tokens (default: random; required with --url)", "SECRET" },
    { "sandbox", 0, 0, G_OPTION_ARG_FILENAME, &raw.sandbox, "The confab-sandbox binary to start (default $CONFAB_SANDBOX)", "PATH" },
    { "json-only", 0, 0, G_OPTION_ARG_NONE, &raw.json_only, "Print only the JSON result line", NULL },
    { "new-connections", 0, 0, G_OPTION_ARG_NONE, &raw.new_connections, "Open a new TCP connection for every REST call (libsoup's default for POST)", NULL },
    { "smoke", 0, 0, G_OPTION_ARG_NONE, &raw.smoke, "CI preset: 20 clients, 4 channels, 10 msg/s, 2 s after 0.5 s warm-up", NULL },
    { NULL }
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    "Load benchmark for confab-sandbox: N WebSocket clients watch C channels while messages are\n"
    "sent over REST at a fixed aggregate rate; reports delivery, send-to-receive latency\n"
    "(p50/p90/p99/max), the sandbox's CPU and peak memory, as a table and one JSON line.\n"
    "Exit status: 0 pass, 1 loss, duplicates, errors or a failed setup, 2 bad options.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("confab-sandbox-bench: %s\n", error->message);
      status = 2;
      goto out_options;
    }
  if (argc > 1)
    {
      g_printerr ("confab-sandbox-bench: unexpected argument '%s' (see --help)\n", argv[1]);
      status = 2;
      goto out_options;
    }
  if (!validate_options (b, &raw, &error))
    {
      g_printerr ("confab-sandbox-bench: %s\n", error->message);
      status = 2;
      bench_free (b);
      goto out_options;
    }

  bench_prepare (b);
  sigint = g_unix_signal_add (SIGINT, on_interrupt, b);
  sigterm = g_unix_signal_add (SIGTERM, on_interrupt, b);
  g_idle_add (on_start, b);

  g_main_loop_run (b->loop);

  /* Let cancelled operations deliver their callbacks (bounded). */
  {
    gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

    g_cancellable_cancel (b->net_cancel);
    g_cancellable_cancel (b->child_cancel);
    while (b->ops > 0 && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, FALSE);
  }
  g_source_remove (sigint);
  g_source_remove (sigterm);

  if (!b->stats_done && b->n_records > 0)
    compute_stats (b);
  explain_failure (b);
  if (!b->json_only)
    print_table (b);
  json = report_json (b);
  g_print ("%s\n", json);
  status = bench_passed (b) ? 0 : 1;
  bench_free (b);

out_options:
  g_free (raw.clients);
  g_free (raw.channels);
  g_free (raw.rate);
  g_free (raw.duration);
  g_free (raw.warmup);
  g_free (raw.url);
  g_free (raw.api_key);
  g_free (raw.api_secret);
  g_free (raw.sandbox);
  return status;
}
