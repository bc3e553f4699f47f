/* confab-command-token-provider.c: a token printed by a command (a credential helper)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "confab-command-token-provider.h"
#include "confab-error.h"
#include "confab-jwt-claims.h"

#define DEFAULT_TIMEOUT_MS 10000
/* A JWT is a few hundred bytes; more than this is not a token. */
#define MAX_OUTPUT 16384
#define READ_CHUNK 4096

struct _ConfabCommandTokenProvider
{
  GObject   parent_instance;

  char    **argv;
  guint     timeout_ms;
};

static void confab_command_token_provider_iface_init (ConfabTokenProviderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabCommandTokenProvider, confab_command_token_provider, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CONFAB_TYPE_TOKEN_PROVIDER,
                                                      confab_command_token_provider_iface_init))

enum {
  PROP_0,
  PROP_ARGV,
  PROP_TIMEOUT_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* One run of the command. */
typedef struct
{
  GSubprocess  *process;
  GCancellable *cancellable;   /* stops the read and the wait */
  GCancellable *outer;         /* the caller's, chained to cancellable */
  gulong        outer_id;
  GSource      *deadline;
  GByteArray   *output;
  guint         timeout_ms;
  gboolean      read_done;
  gboolean      wait_done;
  gboolean      returned;
} CommandRun;

static void
command_run_free (CommandRun *run)
{
  if (run->outer != NULL)
    g_cancellable_disconnect (run->outer, run->outer_id);
  g_clear_object (&run->outer);
  if (run->deadline != NULL)
    g_source_destroy (run->deadline);
  g_clear_pointer (&run->deadline, g_source_unref);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->process);
  if (run->output != NULL && run->output->len > 0)
    memset (run->output->data, 0, run->output->len);
  g_clear_pointer (&run->output, g_byte_array_unref);
  g_free (run);
}

/* In the child, before exec: a process group of its own, so a deadline can end the
 * command and whatever it started (a shell's children hold the pipe open too). */
static void
child_setup (gpointer user_data)
{
  setpgid (0, 0);
}

static void
kill_process (CommandRun *run)
{
  const char *identifier;
  guint64 pid = 0;

  if (run->process == NULL || run->wait_done)
    return;

  /* Not yet reaped, so the pid (and its group id) cannot have been reused. */
  identifier = g_subprocess_get_identifier (run->process);
  if (identifier != NULL && g_ascii_string_to_unsigned (identifier, 10, 2, G_MAXINT, &pid, NULL))
    kill (-(pid_t) pid, SIGKILL);
  g_subprocess_force_exit (run->process);
}

/* Returns @token or @error, once; the rest of the run is stopped. Takes @error. */
static void
command_run_return (GTask  *task,
                    char   *token,
                    GError *error)
{
  CommandRun *run = g_task_get_task_data (task);

  if (run->returned)
    {
      g_clear_error (&error);
      g_free (token);
      return;
    }
  run->returned = TRUE;

  kill_process (run);
  g_cancellable_cancel (run->cancellable);
  if (run->deadline != NULL)
    g_source_destroy (run->deadline);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, token, g_free);
}

/* An error from the read or the wait: a cancellation is the caller's (or ours, after
 * we returned); anything else is a failure to talk to the command. */
static void
command_run_fail (GTask  *task,
                  GError *error)
{
  GCancellable *outer = g_task_get_cancellable (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      outer != NULL && g_cancellable_is_cancelled (outer))
    {
      command_run_return (task, NULL, error);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (error);
      command_run_return (task, NULL, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_FAILED,
                                                           "The token command was stopped"));
      return;
    }

  g_debug ("token command: %s", error->message);
  g_error_free (error);
  command_run_return (task, NULL, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                                       "Could not read the token command's output"));
}

static gboolean
is_token_text (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p <= ' ' || (guchar) *p >= 0x7f)
      return FALSE;
  return TRUE;
}

static void
maybe_complete (GTask *task)
{
  CommandRun *run = g_task_get_task_data (task);
  g_autoptr(ConfabJwtClaims) claims = NULL;
  g_autofree char *text = NULL;
  gboolean has_nul;
  char *token;

  if (!run->read_done || !run->wait_done || run->returned)
    return;

  if (g_subprocess_get_if_signaled (run->process))
    {
      command_run_return (task, NULL,
                          g_error_new (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                       "The token command was killed by signal %d",
                                       g_subprocess_get_term_sig (run->process)));
      return;
    }
  if (!g_subprocess_get_if_exited (run->process))
    {
      command_run_return (task, NULL, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                                           "The token command did not exit normally"));
      return;
    }
  if (g_subprocess_get_exit_status (run->process) != 0)
    {
      command_run_return (task, NULL,
                          g_error_new (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                       "The token command failed (exit status %d)",
                                       g_subprocess_get_exit_status (run->process)));
      return;
    }

  if (run->output->len == 0)
    {
      command_run_return (task, NULL, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                                           "The token command printed nothing"));
      return;
    }

  has_nul = memchr (run->output->data, '\0', run->output->len) != NULL;
  text = g_strndup ((const char *) run->output->data, run->output->len);
  token = g_strstrip (text);
  if (*token == '\0' && !has_nul)
    {
      command_run_return (task, NULL, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                                           "The token command printed nothing"));
    }
  else if (has_nul ||
           !is_token_text (token) ||
           (claims = confab_jwt_claims_parse (token, NULL)) == NULL)
    {
      command_run_return (task, NULL, g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                                           "The token command's output is not a token"));
    }
  else
    command_run_return (task, g_strdup (token), NULL);

  memset (text, 0, run->output->len);
}

static void
read_next (GTask *task);

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CommandRun *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gsize size;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (run->returned)
    return;
  if (bytes == NULL)
    {
      command_run_fail (task, g_steal_pointer (&error));
      return;
    }

  size = g_bytes_get_size (bytes);
  if (size == 0)
    {
      run->read_done = TRUE;
      maybe_complete (task);
      return;
    }

  if (run->output->len + size > MAX_OUTPUT)
    {
      command_run_return (task, NULL,
                          g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                               "The token command's output is too long to be a token"));
      return;
    }
  g_byte_array_append (run->output, g_bytes_get_data (bytes, NULL), size);
  read_next (task);
}

static void
read_next (GTask *task)
{
  CommandRun *run = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (run->process), READ_CHUNK,
                                   G_PRIORITY_DEFAULT, run->cancellable,
                                   on_read, g_object_ref (task));
}

static void
on_wait (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CommandRun *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error))
    {
      if (!run->returned)
        command_run_fail (task, g_steal_pointer (&error));
      return;
    }

  run->wait_done = TRUE;
  maybe_complete (task);
}

static gboolean
on_deadline (gpointer user_data)
{
  GTask *task = user_data;
  CommandRun *run = g_task_get_task_data (task);

  g_debug ("token command: no answer within %u ms", run->timeout_ms);
  command_run_return (task, NULL,
                      g_error_new (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                                   "The token command did not finish within %u ms", run->timeout_ms));
  return G_SOURCE_REMOVE;
}

static void
on_outer_cancelled (GCancellable *outer,
                    gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static void
confab_command_token_provider_fetch_token_async (ConfabTokenProvider *provider,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data)
{
  ConfabCommandTokenProvider *self = CONFAB_COMMAND_TOKEN_PROVIDER (provider);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;
  CommandRun *run;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_command_token_provider_fetch_token_async);
  run = g_new0 (CommandRun, 1);
  run->output = g_byte_array_new ();
  run->cancellable = g_cancellable_new ();
  run->timeout_ms = self->timeout_ms;
  g_task_set_task_data (task, run, (GDestroyNotify) command_run_free);

  if (g_task_return_error_if_cancelled (task))
    return;

  if (self->argv == NULL || self->argv[0] == NULL || *self->argv[0] == '\0')
    {
      run->returned = TRUE;
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_AUTH, "No token command is set");
      return;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  run->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) self->argv, &error);
  if (run->process == NULL)
    {
      run->returned = TRUE;
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_AUTH,
                               "Could not run the token command: %s", error->message);
      return;
    }

  if (cancellable != NULL)
    {
      run->outer = g_object_ref (cancellable);
      run->outer_id = g_cancellable_connect (cancellable, G_CALLBACK (on_outer_cancelled),
                                             run->cancellable, NULL);
    }

  /* The source lives no longer than the run (command_run_free destroys it), and the
   * run no longer than the task, so the task pointer stays valid while it can fire. */
  run->deadline = g_timeout_source_new (run->timeout_ms);
  g_source_set_callback (run->deadline, on_deadline, task, NULL);
  g_source_set_static_name (run->deadline, "[confab] token command deadline");
  g_source_attach (run->deadline, g_task_get_context (task));

  read_next (task);
  g_subprocess_wait_async (run->process, run->cancellable, on_wait, g_object_ref (task));
}

static char *
confab_command_token_provider_fetch_token_finish (ConfabTokenProvider  *provider,
                                                  GAsyncResult         *result,
                                                  GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, provider), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
confab_command_token_provider_iface_init (ConfabTokenProviderInterface *iface)
{
  iface->fetch_token_async = confab_command_token_provider_fetch_token_async;
  iface->fetch_token_finish = confab_command_token_provider_fetch_token_finish;
}

static void
confab_command_token_provider_finalize (GObject *object)
{
  ConfabCommandTokenProvider *self = CONFAB_COMMAND_TOKEN_PROVIDER (object);

  g_clear_pointer (&self->argv, g_strfreev);

  G_OBJECT_CLASS (confab_command_token_provider_parent_class)->finalize (object);
}

static void
confab_command_token_provider_get_property (GObject    *object,
                                            guint       prop_id,
                                            GValue     *value,
                                            GParamSpec *pspec)
{
  ConfabCommandTokenProvider *self = CONFAB_COMMAND_TOKEN_PROVIDER (object);

  switch (prop_id)
    {
    case PROP_ARGV:
      g_value_set_boxed (value, self->argv);
      break;
    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_command_token_provider_set_property (GObject      *object,
                                            guint         prop_id,
                                            const GValue *value,
                                            GParamSpec   *pspec)
{
  ConfabCommandTokenProvider *self = CONFAB_COMMAND_TOKEN_PROVIDER (object);

  switch (prop_id)
    {
    case PROP_ARGV:
      g_assert (self->argv == NULL);
      self->argv = g_value_dup_boxed (value);
      break;
    case PROP_TIMEOUT_MS:
      confab_command_token_provider_set_timeout_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_command_token_provider_class_init (ConfabCommandTokenProviderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_command_token_provider_finalize;
  object_class->get_property = confab_command_token_provider_get_property;
  object_class->set_property = confab_command_token_provider_set_property;

  /**
   * ConfabCommandTokenProvider:argv:
   *
   * The command and its arguments, run without a shell.
   */
  properties[PROP_ARGV] =
    g_param_spec_boxed ("argv", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabCommandTokenProvider:timeout-ms:
   *
   * How long the command may run before it is killed and the fetch fails with
   * CONFAB_ERROR_TIMEOUT.
   */
  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL, 1, G_MAXINT, DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_command_token_provider_init (ConfabCommandTokenProvider *self)
{
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
}

ConfabCommandTokenProvider *
confab_command_token_provider_new (const char * const *argv)
{
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  return g_object_new (CONFAB_TYPE_COMMAND_TOKEN_PROVIDER, "argv", argv, NULL);
}

guint
confab_command_token_provider_get_timeout_ms (ConfabCommandTokenProvider *self)
{
  g_return_val_if_fail (CONFAB_IS_COMMAND_TOKEN_PROVIDER (self), 0);

  return self->timeout_ms;
}

void
confab_command_token_provider_set_timeout_ms (ConfabCommandTokenProvider *self,
                                              guint                       timeout_ms)
{
  g_return_if_fail (CONFAB_IS_COMMAND_TOKEN_PROVIDER (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_MS]);
}
