/* app-test-app.c: driving the real ConfabApplication in-process for the app tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "app-test-app.h"

static const char notifications_xml[] =
  "<node>"
  "  <interface name='org.freedesktop.Notifications'>"
  "    <method name='Notify'>"
  "      <arg type='s' direction='in'/><arg type='u' direction='in'/><arg type='s' direction='in'/>"
  "      <arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='as' direction='in'/>"
  "      <arg type='a{sv}' direction='in'/><arg type='i' direction='in'/><arg type='u' direction='out'/>"
  "    </method>"
  "    <method name='CloseNotification'><arg type='u' direction='in'/></method>"
  "    <method name='GetCapabilities'><arg type='as' direction='out'/></method>"
  "    <method name='GetServerInformation'>"
  "      <arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "      <arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "    </method>"
  "  </interface>"
  "</node>";

static GPtrArray *notifications;

static void
on_notifications_call (GDBusConnection       *connection,
                       const char            *sender,
                       const char            *object_path,
                       const char            *interface_name,
                       const char            *method_name,
                       GVariant              *parameters,
                       GDBusMethodInvocation *invocation,
                       gpointer               user_data)
{
  if (g_str_equal (method_name, "Notify"))
    {
      const char *summary = NULL;
      const char *body = NULL;

      g_variant_get_child (parameters, 3, "&s", &summary);
      g_variant_get_child (parameters, 4, "&s", &body);
      g_ptr_array_add (notifications, g_strdup_printf ("%s\n%s", summary, body));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notifications->len));
    }
  else if (g_str_equal (method_name, "GetCapabilities"))
    {
      const char *caps[] = { "body", "actions", NULL };

      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(^as)", caps));
    }
  else if (g_str_equal (method_name, "GetServerInformation"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ssss)", "confab-test", "confab", "1", "1.2"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

GPtrArray *
app_test_notifications (void)
{
  static const GDBusInterfaceVTable vtable = { on_notifications_call, NULL, NULL, { 0 } };
  static gboolean acquired = FALSE;
  g_autoptr(GDBusNodeInfo) info = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;

  if (notifications != NULL)
    return notifications;

  notifications = g_ptr_array_new_with_free_func (g_free);
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  info = g_dbus_node_info_new_for_xml (notifications_xml, &error);
  g_assert_no_error (error);
  g_dbus_connection_register_object (bus, "/org/freedesktop/Notifications", info->interfaces[0],
                                     &vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  g_bus_own_name_on_connection (bus, "org.freedesktop.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                on_name_acquired, NULL, &acquired, NULL);
  g_assert_true (core_test_wait_flag (&acquired, APP_TEST_DEADLINE_MS));
  return notifications;
}

ConfabApplication *
app_test_app_start (const char *base_url,
                    const char *user_id)
{
  ConfabApplication *app = NULL;
  g_autoptr(ConfabAccount) account = NULL;
  g_autoptr(GError) error = NULL;

  app_test_notifications ();
  app = confab_application_new ();
  g_assert_nonnull (confab_application_get_settings (app));
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (app));
  g_assert_nonnull (confab_application_get_main_window (app));

  account = confab_account_new (CONFAB_ACCOUNT_KIND_DEMO, base_url, NULL, user_id, &error);
  g_assert_no_error (error);
  confab_application_sign_in (app, account, NULL);
  return app;
}

ConfabApplication *
app_test_app_start_account (ConfabAccount *account,
                            const char    *token)
{
  ConfabApplication *app = NULL;
  g_autoptr(GError) error = NULL;

  app_test_notifications ();
  app = confab_application_new ();
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (app));
  confab_application_sign_in (app, account, token);
  return app;
}

GtkWidget *
app_test_app_find (ConfabApplication *app,
                   GType              type)
{
  GtkWidget *found = app_test_find_widget (GTK_WIDGET (app_test_app_window (app)), type);

  g_assert_nonnull (found);
  return found;
}

GtkWindow *
app_test_find_toplevel (GType type)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l != NULL; l = l->next)
    if (g_type_is_a (G_OBJECT_TYPE (l->data), type))
      return l->data;
  return NULL;
}

static gboolean
toplevel_mapped (gpointer user_data)
{
  GtkWindow *window = app_test_find_toplevel (GPOINTER_TO_SIZE (user_data));

  return window != NULL && gtk_widget_get_mapped (GTK_WIDGET (window));
}

GtkWindow *
app_test_wait_toplevel (GType type)
{
  g_assert_true (core_test_wait_until (toplevel_mapped, GSIZE_TO_POINTER (type), APP_TEST_DEADLINE_MS));
  return app_test_find_toplevel (type);
}

ConfabWindow *
app_test_app_window (ConfabApplication *app)
{
  GtkWindow *window = confab_application_get_main_window (app);

  g_assert_true (CONFAB_IS_WINDOW (window));
  return CONFAB_WINDOW (window);
}

static gboolean
has_session (gpointer user_data)
{
  return confab_application_get_session (user_data) != NULL;
}

ConfabSession *
app_test_app_wait_connected (ConfabApplication *app)
{
  ConfabSession *session;

  g_assert_true (core_test_wait_until (has_session, app, APP_TEST_DEADLINE_MS));
  session = confab_application_get_session (app);
  g_assert_true (app_test_wait_state (confab_session_get_manager (session),
                                      CONFAB_CONNECTION_STATE_CONNECTED, APP_TEST_DEADLINE_MS));
  return session;
}

typedef struct
{
  ConfabChatStore *store;
  const char      *cid;
} ChannelWait;

static gboolean
channel_has_messages (gpointer user_data)
{
  ChannelWait *wait = user_data;
  ConfabChannel *channel = confab_chat_store_lookup_channel (wait->store, wait->cid);

  return channel != NULL && g_list_model_get_n_items (confab_channel_get_messages (channel)) > 0;
}

ConfabChannel *
app_test_app_open_channel (ConfabApplication *app,
                           const char        *cid)
{
  ConfabSession *session = app_test_app_wait_connected (app);
  ChannelWait wait = { confab_session_get_store (session), cid };

  g_assert_true (core_test_wait_until (channel_has_messages, &wait, APP_TEST_DEADLINE_MS));
  g_assert_true (confab_window_open_channel (app_test_app_window (app), cid));
  g_assert_cmpstr (confab_channel_get_cid (confab_window_get_channel (app_test_app_window (app))), ==, cid);
  return confab_window_get_channel (app_test_app_window (app));
}

void
app_test_app_type_and_send (ConfabApplication *app,
                            const char        *text)
{
  GtkWidget *composer = app_test_find_widget (GTK_WIDGET (app_test_app_window (app)), CONFAB_TYPE_COMPOSER);

  g_assert_nonnull (composer);
  confab_composer_set_text (CONFAB_COMPOSER (composer), text);
  g_assert_true (confab_composer_submit (CONFAB_COMPOSER (composer)));
}

ConfabMessage *
app_test_find_message (ConfabChannel *channel,
                       const char    *text,
                       guint         *count)
{
  GListModel *messages = confab_channel_get_messages (channel);
  ConfabMessage *found = NULL;
  guint n = 0;

  for (guint i = 0; i < g_list_model_get_n_items (messages); i++)
    {
      g_autoptr(ConfabMessage) message = g_list_model_get_item (messages, i);

      if (g_strcmp0 (confab_message_get_text (message), text) == 0)
        {
          n++;
          found = message;
        }
    }
  if (count != NULL)
    *count = n;
  /* The model keeps its own reference. */
  return found;
}

typedef struct
{
  GtkWidget  *window;
  const char *text;
} TextWait;

static gboolean
text_shown (gpointer user_data)
{
  TextWait *wait = user_data;

  return app_test_find_by_text (wait->window, wait->text) != NULL;
}

gboolean
app_test_wait_text (GtkWidget  *window,
                    const char *text)
{
  TextWait wait = { window, text };

  return core_test_wait_until (text_shown, &wait, APP_TEST_DEADLINE_MS);
}

guint
app_test_count_on_server (AppTestSandbox *sandbox,
                          const char     *user_id,
                          const char     *text)
{
  g_autoptr(JsonObject) answer = NULL;
  JsonArray *messages;
  guint status = 0;
  guint n = 0;

  answer = app_test_sandbox_rest (sandbox, user_id, "POST", "/channels/messaging/general/query",
                                  "{\"messages\":{\"limit\":300}}", &status);
  g_assert_cmpuint (status, ==, 201);
  messages = json_object_get_array_member (answer, "messages");
  g_assert_nonnull (messages);
  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject *message = json_array_get_object_element (messages, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (message, "text", NULL), text) == 0)
        n++;
    }
  return n;
}

char *
app_test_post_message (AppTestSandbox *sandbox,
                       const char     *user_id,
                       const char     *text)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *body = NULL;
  char *id = g_uuid_string_random ();
  guint status = 0;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "message");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, id);
  json_builder_set_member_name (builder, "text");
  json_builder_add_string_value (builder, text);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  body = json_generator_to_data (generator, NULL);

  answer = app_test_sandbox_rest (sandbox, user_id, "POST", "/channels/messaging/general/message", body, &status);
  if (status != 201)
    g_test_message ("sending as %s answered HTTP %u", user_id, status);
  g_assert_cmpuint (status, ==, 201);
  return id;
}
