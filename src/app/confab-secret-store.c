/* confab-secret-store.c: account tokens in the keyring (libsecret), with a deadline
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>
#include <string.h>

#include "confab-error.h"
#include "confab-secret-store.h"

struct _ConfabSecretStore
{
  GObject   parent_instance;

  gboolean  available;
  guint     timeout_ms;
};

G_DEFINE_FINAL_TYPE (ConfabSecretStore, confab_secret_store, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_AVAILABLE,
  PROP_TIMEOUT_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const SecretSchema *
token_schema (void)
{
  static const SecretSchema schema = {
    "io.github.confab_chat.Confab.Token", SECRET_SCHEMA_NONE,
    {
      { "base-url", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "user-id", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };

  return &schema;
}

/* One keyring operation: the caller's cancellable, ours (cancelled by the deadline or
 * the caller), and whether the deadline fired. */
typedef struct
{
  GCancellable *cancellable;
  GCancellable *caller;
  gulong        caller_id;
  guint         timeout_id;
  gboolean      timed_out;
} Operation;

static void
operation_free (Operation *op)
{
  g_clear_handle_id (&op->timeout_id, g_source_remove);
  if (op->caller != NULL)
    g_cancellable_disconnect (op->caller, op->caller_id);
  g_clear_object (&op->caller);
  g_clear_object (&op->cancellable);
  g_free (op);
}

static gboolean
on_operation_timeout (gpointer user_data)
{
  Operation *op = user_data;

  op->timeout_id = 0;
  op->timed_out = TRUE;
  g_cancellable_cancel (op->cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_caller_cancelled (GCancellable *caller,
                     GCancellable *ours)
{
  g_cancellable_cancel (ours);
}

static GTask *
operation_start (ConfabSecretStore   *self,
                 gpointer             source_tag,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Operation *op = g_new0 (Operation, 1);

  g_task_set_source_tag (task, source_tag);
  op->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      op->caller = g_object_ref (cancellable);
      op->caller_id = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled),
                                             op->cancellable, NULL);
    }
  op->timeout_id = g_timeout_add (self->timeout_ms, on_operation_timeout, op);
  g_task_set_task_data (task, op, (GDestroyNotify) operation_free);
  return task;
}

static void
set_available (ConfabSecretStore *self,
               gboolean           available)
{
  if (self->available == available)
    return;
  self->available = available;
  g_debug ("keyring %s", available ? "available" : "unavailable");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AVAILABLE]);
}

/* Maps libsecret's answer to ours; TRUE if @error is set. */
static gboolean
operation_failed (GTask   *task,
                  GError  *secret_error,
                  GError **error)
{
  ConfabSecretStore *self = g_task_get_source_object (task);
  Operation *op = g_task_get_task_data (task);

  if (secret_error == NULL)
    {
      set_available (self, TRUE);
      return FALSE;
    }

  if (g_error_matches (secret_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !op->timed_out)
    {
      g_propagate_error (error, secret_error);
      return TRUE;
    }

  /* The details (a D-Bus name, a path) mean nothing to the user; the log has them. */
  g_debug ("keyring: %s", secret_error->message);
  if (op->timed_out)
    g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                         _("The keyring did not answer"));
  else
    g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                         _("No keyring is available"));
  g_error_free (secret_error);
  set_available (self, FALSE);
  return TRUE;
}

/* Lookup ----------------------------------------------------------------------------- */

static void
on_lookup (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *secret_error = NULL;
  g_autoptr(GError) error = NULL;
  char *password;

  password = secret_password_lookup_finish (result, &secret_error);
  if (operation_failed (task, secret_error, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (password == NULL)
    {
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  /* Copied into plain memory so callers can use g_free; the copy is wiped by them. */
  g_task_return_pointer (task, g_strdup (password), g_free);
  secret_password_free (password);
}

void
confab_secret_store_lookup_async (ConfabSecretStore   *self,
                                  const char          *base_url,
                                  const char          *user_id,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task;
  Operation *op;

  g_return_if_fail (CONFAB_IS_SECRET_STORE (self));
  g_return_if_fail (base_url != NULL && user_id != NULL);

  task = operation_start (self, confab_secret_store_lookup_async, cancellable, callback, user_data);
  op = g_task_get_task_data (task);
  secret_password_lookup (token_schema (), op->cancellable, on_lookup, task,
                          "base-url", base_url,
                          "user-id", user_id,
                          NULL);
}

char *
confab_secret_store_lookup_finish (ConfabSecretStore  *self,
                                   GAsyncResult       *result,
                                   GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Store ------------------------------------------------------------------------------ */

static void
on_stored (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *secret_error = NULL;
  g_autoptr(GError) error = NULL;

  secret_password_store_finish (result, &secret_error);
  if (operation_failed (task, secret_error, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
confab_secret_store_store_async (ConfabSecretStore   *self,
                                 const char          *base_url,
                                 const char          *user_id,
                                 const char          *token,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autofree char *label = NULL;
  g_autoptr(GUri) uri = NULL;
  GTask *task;
  Operation *op;

  g_return_if_fail (CONFAB_IS_SECRET_STORE (self));
  g_return_if_fail (base_url != NULL && user_id != NULL && token != NULL);

  task = operation_start (self, confab_secret_store_store_async, cancellable, callback, user_data);
  op = g_task_get_task_data (task);
  uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
  /* Translators: the keyring item's name, as seen in Passwords and Keys; %s are a
   * user id and a host name. */
  label = g_strdup_printf (_("Confab sign-in for %s on %s"), user_id,
                           uri != NULL && g_uri_get_host (uri) != NULL ? g_uri_get_host (uri) : base_url);
  secret_password_store (token_schema (), SECRET_COLLECTION_DEFAULT, label, token,
                         op->cancellable, on_stored, task,
                         "base-url", base_url,
                         "user-id", user_id,
                         NULL);
}

gboolean
confab_secret_store_store_finish (ConfabSecretStore  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Clear ------------------------------------------------------------------------------ */

static void
on_cleared (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *secret_error = NULL;
  g_autoptr(GError) error = NULL;

  secret_password_clear_finish (result, &secret_error);
  if (operation_failed (task, secret_error, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
confab_secret_store_clear_async (ConfabSecretStore   *self,
                                 const char          *base_url,
                                 const char          *user_id,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;
  Operation *op;

  g_return_if_fail (CONFAB_IS_SECRET_STORE (self));
  g_return_if_fail (base_url != NULL && user_id != NULL);

  task = operation_start (self, confab_secret_store_clear_async, cancellable, callback, user_data);
  op = g_task_get_task_data (task);
  secret_password_clear (token_schema (), op->cancellable, on_cleared, task,
                         "base-url", base_url,
                         "user-id", user_id,
                         NULL);
}

gboolean
confab_secret_store_clear_finish (ConfabSecretStore  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* GObject ---------------------------------------------------------------------------- */

static void
confab_secret_store_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  ConfabSecretStore *self = CONFAB_SECRET_STORE (object);

  switch (prop_id)
    {
    case PROP_AVAILABLE:
      g_value_set_boolean (value, self->available);
      break;
    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_secret_store_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  ConfabSecretStore *self = CONFAB_SECRET_STORE (object);

  switch (prop_id)
    {
    case PROP_TIMEOUT_MS:
      confab_secret_store_set_timeout_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_secret_store_class_init (ConfabSecretStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = confab_secret_store_get_property;
  object_class->set_property = confab_secret_store_set_property;

  properties[PROP_AVAILABLE] =
    g_param_spec_boolean ("available", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL, 1, G_MAXINT, CONFAB_SECRET_STORE_DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_secret_store_init (ConfabSecretStore *self)
{
  self->available = TRUE;
  self->timeout_ms = CONFAB_SECRET_STORE_DEFAULT_TIMEOUT_MS;
}

ConfabSecretStore *
confab_secret_store_new (void)
{
  return g_object_new (CONFAB_TYPE_SECRET_STORE, NULL);
}

gboolean
confab_secret_store_get_available (ConfabSecretStore *self)
{
  g_return_val_if_fail (CONFAB_IS_SECRET_STORE (self), FALSE);

  return self->available;
}

guint
confab_secret_store_get_timeout_ms (ConfabSecretStore *self)
{
  g_return_val_if_fail (CONFAB_IS_SECRET_STORE (self), 0);

  return self->timeout_ms;
}

void
confab_secret_store_set_timeout_ms (ConfabSecretStore *self,
                                    guint              timeout_ms)
{
  g_return_if_fail (CONFAB_IS_SECRET_STORE (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_MS]);
}
