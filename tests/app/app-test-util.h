/* app-test-util.h: shared helpers for the GTK tests (sandbox, manager, widgets, proxy)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-connection-manager.h"
#include "core-test-util.h"

G_BEGIN_DECLS

#define APP_TEST_API_KEY    "confab-app-test-key"
#define APP_TEST_API_SECRET "confab-app-test-secret"
#define APP_TEST_DEADLINE_MS 10000

/* g_test_init, gtk_init and adw_init in the C locale, with the widgets registered. */
void         app_test_init                 (int                     *argc,
                                            char                  ***argv);

/* A GNetworkMonitor whose availability the test sets ------------------------------------ */

#define APP_TEST_TYPE_MONITOR (app_test_monitor_get_type ())
G_DECLARE_FINAL_TYPE (AppTestMonitor, app_test_monitor, APP_TEST, MONITOR, GObject)

AppTestMonitor *app_test_monitor_new           (void);
void            app_test_monitor_set_available (AppTestMonitor *self,
                                                gboolean        available);

/* The sandbox, restartable on the same port with the same data --------------------------- */

typedef struct
{
  CoreTestSandbox *sandbox;   /* NULL while killed */
  char            *url;       /* stays the same across restarts */
  char            *data_dir;  /* removed by app_test_sandbox_free(); NULL in memory */
  GStrv            extra;     /* the options it was started with */
  GHashTable      *tokens;    /* user id → demo token */
  gboolean         attached;  /* another process runs it (app_test_sandbox_attach) */
} AppTestSandbox;

/* Starts `confab-sandbox --demo --data-dir TMP @extra…` (the API key and secret above). */
AppTestSandbox *app_test_sandbox_start     (const char *const *extra);
/* The same without --data-dir (much faster to fill); it cannot be restarted. */
AppTestSandbox *app_test_sandbox_start_in_memory (const char *const *extra);
/* A handle on a sandbox another process (a test's parent) started: REST calls and
 * app_test_sandbox_set_member() work; freeing it leaves the sandbox and its data alone. */
AppTestSandbox *app_test_sandbox_attach    (const char        *url,
                                            const char        *data_dir);
/* SIGKILL, as a crash or a pulled cable would look, and waits for the exit. */
void            app_test_sandbox_kill      (AppTestSandbox    *sandbox);
/* Starts it again on the same port with the same data directory. */
void            app_test_sandbox_restart   (AppTestSandbox    *sandbox);
void            app_test_sandbox_free      (AppTestSandbox    *sandbox);
/* A demo user's token (alice, bob or carol). */
char           *app_test_sandbox_token     (AppTestSandbox    *sandbox,
                                            const char        *user_id);
/* A REST call as @user_id with their demo token; @path starts with "/"; api_key and
 * user_id are added to the query. Returns the answer; asserts it came. */
JsonObject     *app_test_sandbox_rest      (AppTestSandbox    *sandbox,
                                            const char        *user_id,
                                            const char        *method,
                                            const char        *path,
                                            const char        *body,
                                            guint             *out_status);

/* Makes @user_id a member of @cid again (@member) or not, by editing the running
 * sandbox's database (started with app_test_sandbox_start): the server then refuses
 * that user's messages there for real (HTTP 403, Stream code 17). Removing keeps the
 * membership row aside, so adding it back restores it as it was. */
void            app_test_sandbox_set_member (AppTestSandbox   *sandbox,
                                             const char       *cid,
                                             const char       *user_id,
                                             gboolean          member);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AppTestSandbox, app_test_sandbox_free)

/* The connection manager ------------------------------------------------------------------- */

/* A manager for @user_id's demo token on @base_url. @monitor, @clock, @outbox_dir and
 * @state_dir are optional. */
ConfabConnectionManager *app_test_manager_new     (const char        *base_url,
                                                   const char        *token,
                                                   AppTestMonitor    *monitor,
                                                   ConfabClock       *clock,
                                                   const char        *outbox_dir,
                                                   const char        *state_dir);
/* Starts connect_async for @user_id; the result is ignored (watch the state instead). */
void                     app_test_manager_connect (ConfabConnectionManager *manager,
                                                   const char              *user_id);
/* Iterates until the manager's state is @state, or the deadline passes (FALSE). */
gboolean                 app_test_wait_state      (ConfabConnectionManager *manager,
                                                   ConfabConnectionState    state,
                                                   guint                    timeout_ms);

/* Widgets ------------------------------------------------------------------------------------ */

/* A presented window around @child (transfer floating); destroy with gtk_window_destroy. */
GtkWindow   *app_test_window_new           (GtkWidget               *child);
/* The first descendant of @root (depth first) of type @type, or NULL. */
GtkWidget   *app_test_find_widget          (GtkWidget               *root,
                                            GType                    type);
/* The first GtkLabel or GtkButton under @root whose text is @text, or NULL. */
GtkWidget   *app_test_find_by_text         (GtkWidget               *root,
                                            const char              *text);
/* Records each value of @object's string property @property (on notify) in @log. */
void         app_test_record_string        (GObject                 *object,
                                            const char              *property,
                                            GPtrArray               *log);
/* The clipboard's text, read the way a paste would (GdkClipboard), or NULL. */
char        *app_test_read_clipboard       (GdkClipboard            *clipboard);
/* g_test_message()s @log, one line each, for a failing run's TAP output. */
void         app_test_print_log            (const char              *what,
                                            GPtrArray               *log);

/* A TCP proxy that holds each chunk from client to server for @delay_ms --------------------- */

typedef struct _AppTestDelayProxy AppTestDelayProxy;

AppTestDelayProxy *app_test_delay_proxy_new     (const char        *target_url,
                                                 guint              delay_ms);
/* http://127.0.0.1:PORT of the proxy. */
const char        *app_test_delay_proxy_get_url (AppTestDelayProxy *proxy);
void               app_test_delay_proxy_free    (AppTestDelayProxy *proxy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AppTestDelayProxy, app_test_delay_proxy_free)

G_END_DECLS
