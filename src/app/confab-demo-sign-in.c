/* confab-demo-sign-in.c: sign in to a --demo sandbox as one of its demo users
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "confab-demo-sign-in.h"
#include "confab-error.h"
#include "confab-secure-url.h"

#define TIMEOUT_S     10
/* {"api_key", "user_id", "token"}: a few hundred bytes. */
#define MAX_ANSWER    (64 * 1024)
#define MAX_FIELD     4096

typedef struct
{
  SoupSession *session;
  SoupMessage *message;
  char        *buffer;
  gsize        length;
} SignIn;

typedef struct
{
  char *api_key;
  char *token;
} Answer;

static void
sign_in_free (SignIn *sign_in)
{
  g_clear_object (&sign_in->message);
  g_clear_object (&sign_in->session);
  g_free (sign_in->buffer);
  g_free (sign_in);
}

static void
wipe_free (char *secret)
{
  if (secret == NULL)
    return;
  memset (secret, 0, strlen (secret));
  g_free (secret);
}

static void
answer_free (Answer *answer)
{
  g_free (answer->api_key);
  wipe_free (answer->token);
  g_free (answer);
}

static gboolean
get_field (JsonObject  *object,
           const char  *name,
           char       **value)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *text;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  text = json_node_get_string (node);
  if (text == NULL || *text == '\0' || strlen (text) > MAX_FIELD)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isgraph (*p))
      return FALSE;
  *value = g_strdup (text);
  return TRUE;
}

static void
finish_with_answer (GTask *task)
{
  SignIn *sign_in = g_task_get_task_data (task);
  guint status = soup_message_get_status (sign_in->message);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  Answer *answer;
  JsonNode *root;

  g_debug ("demo sign-in → HTTP %u", status);
  if (status == SOUP_STATUS_NOT_FOUND || status == SOUP_STATUS_BAD_REQUEST ||
      status == SOUP_STATUS_FORBIDDEN || status == SOUP_STATUS_UNAUTHORIZED)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                               _("The server refused the demo sign-in: it is not a sandbox started with --demo, or it has no such demo user (try alice, bob or carol)"));
      return;
    }
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_task_return_new_error (task, CONFAB_ERROR, status >= 500 ? CONFAB_ERROR_SERVER : CONFAB_ERROR_REJECTED,
                               _("The server answered the demo sign-in with HTTP %u"), status);
      return;
    }

  if (!g_utf8_validate (sign_in->buffer, sign_in->length, NULL) ||
      !json_parser_load_from_data (parser, sign_in->buffer, sign_in->length, &error) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                               _("The server's answer to the demo sign-in is not a JSON object"));
      return;
    }

  answer = g_new0 (Answer, 1);
  if (!get_field (json_node_get_object (root), "api_key", &answer->api_key) ||
      !get_field (json_node_get_object (root), "token", &answer->token))
    {
      answer_free (answer);
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                               _("The server's answer to the demo sign-in lacks an API key or a token"));
      return;
    }
  g_task_return_pointer (task, answer, (GDestroyNotify) answer_free);
}

static GError *
network_error (GError *error)
{
  GError *ours;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (error);
  g_debug ("demo sign-in: %s", error->message);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    ours = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_TIMEOUT,
                                _("The server did not answer the demo sign-in"));
  else
    ours = g_error_new (CONFAB_ERROR, CONFAB_ERROR_NETWORK,
                        _("Could not reach the server: %s"), error->message);
  return ours;
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SignIn *sign_in = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gsize n_read = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n_read, &error))
    {
      g_task_return_error (task, network_error (error));
      return;
    }
  sign_in->length = n_read;
  if (n_read > MAX_ANSWER)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_PROTOCOL,
                               _("The server's answer to the demo sign-in is too large"));
      return;
    }
  finish_with_answer (task);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SignIn *sign_in = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;

  stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (stream == NULL)
    {
      g_task_return_error (task, network_error (error));
      return;
    }
  /* One byte more than allowed tells "too large" from "exactly the limit". */
  sign_in->buffer = g_malloc (MAX_ANSWER + 1);
  g_input_stream_read_all_async (stream, sign_in->buffer, MAX_ANSWER + 1, G_PRIORITY_DEFAULT,
                                 cancellable, on_read, g_steal_pointer (&task));
}

void
confab_demo_sign_in_async (const char          *base_url,
                           const char          *user_id,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *json = NULL;
  SignIn *sign_in;
  gsize length = 0;

  g_return_if_fail (base_url != NULL);
  g_return_if_fail (user_id != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_demo_sign_in_async);

  url = g_strconcat (base_url, g_str_has_suffix (base_url, "/") ? "" : "/", "sandbox/demo-token", NULL);
  if (!confab_secure_url_check (url, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  sign_in = g_new0 (SignIn, 1);
  g_task_set_task_data (task, sign_in, (GDestroyNotify) sign_in_free);
  sign_in->message = soup_message_new ("POST", url);
  if (sign_in->message == NULL)
    {
      g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                               _("The server address is not a valid URL"));
      return;
    }
  soup_message_add_flags (sign_in->message, SOUP_MESSAGE_NO_REDIRECT);
  soup_message_headers_replace (soup_message_get_request_headers (sign_in->message),
                                "Accept", "application/json");

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "user_id");
  json_builder_add_string_value (builder, user_id);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, &length);
  body = g_bytes_new_take (g_steal_pointer (&json), length);
  soup_message_set_request_body_from_bytes (sign_in->message, "application/json", body);

  sign_in->session = soup_session_new_with_options ("user-agent", "confab/" PACKAGE_VERSION,
                                                    "timeout", TIMEOUT_S,
                                                    NULL);
  soup_session_send_async (sign_in->session, sign_in->message, G_PRIORITY_DEFAULT, cancellable,
                           on_sent, g_steal_pointer (&task));
}

gboolean
confab_demo_sign_in_finish (GAsyncResult  *result,
                            char         **api_key,
                            char         **token,
                            GError       **error)
{
  Answer *answer;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == confab_demo_sign_in_async, FALSE);

  answer = g_task_propagate_pointer (G_TASK (result), error);
  if (answer == NULL)
    return FALSE;
  if (api_key != NULL)
    *api_key = g_steal_pointer (&answer->api_key);
  if (token != NULL)
    *token = g_steal_pointer (&answer->token);
  answer_free (answer);
  return TRUE;
}
