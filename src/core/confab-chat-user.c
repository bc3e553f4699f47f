/* confab-chat-user.c: one chat user as the app shows them: a name and presence
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-chat-private.h"
#include "confab-chat-user.h"

struct _ConfabChatUser
{
  GObject   parent_instance;

  char     *id;     /* GRefString, interned */
  char     *name;   /* NULL: show the id */
  gint64    last_active;
  gboolean  online;
};

G_DEFINE_FINAL_TYPE (ConfabChatUser, confab_chat_user, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_ONLINE,
  PROP_LAST_ACTIVE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
confab_chat_user_finalize (GObject *object)
{
  ConfabChatUser *self = CONFAB_CHAT_USER (object);

  g_clear_pointer (&self->id, g_ref_string_release);
  g_clear_pointer (&self->name, g_free);

  G_OBJECT_CLASS (confab_chat_user_parent_class)->finalize (object);
}

static void
confab_chat_user_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  ConfabChatUser *self = CONFAB_CHAT_USER (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, confab_chat_user_get_name (self));
      break;
    case PROP_ONLINE:
      g_value_set_boolean (value, self->online);
      break;
    case PROP_LAST_ACTIVE:
      g_value_set_int64 (value, self->last_active);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_chat_user_class_init (ConfabChatUserClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_chat_user_finalize;
  object_class->get_property = confab_chat_user_get_property;

  /**
   * ConfabChatUser:id:
   *
   * Stream's user id.
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabChatUser:name:
   *
   * The name to show: the user's name, or the id when the user has none.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabChatUser:online:
   *
   * Whether the user is connected now, as far as presence events tell (FALSE until
   * the server says otherwise; never restored from the cache).
   */
  properties[PROP_ONLINE] =
    g_param_spec_boolean ("online", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabChatUser:last-active:
   *
   * When the user was last active: wall-clock microseconds since the epoch, 0 if unknown.
   */
  properties[PROP_LAST_ACTIVE] =
    g_param_spec_int64 ("last-active", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_chat_user_init (ConfabChatUser *self)
{
}

ConfabChatUser *
_confab_chat_user_new (const char *id)
{
  ConfabChatUser *self;

  g_return_val_if_fail (id != NULL, NULL);

  self = g_object_new (CONFAB_TYPE_CHAT_USER, NULL);
  self->id = g_ref_string_new_intern (id);
  return self;
}

gboolean
_confab_chat_user_set_name (ConfabChatUser *self,
                            const char     *name)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (self), FALSE);

  if (name != NULL && *name == '\0')
    name = NULL;
  if (g_strcmp0 (self->name, name) == 0)
    return FALSE;
  g_free (self->name);
  self->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
  return TRUE;
}

gboolean
_confab_chat_user_set_online (ConfabChatUser *self,
                              gboolean        online)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (self), FALSE);

  online = !!online;
  if (self->online == online)
    return FALSE;
  self->online = online;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ONLINE]);
  return TRUE;
}

gboolean
_confab_chat_user_set_last_active (ConfabChatUser *self,
                                   gint64          last_active)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (self), FALSE);

  if (last_active <= 0 || self->last_active == last_active)
    return FALSE;
  self->last_active = last_active;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ACTIVE]);
  return TRUE;
}

/* The stored name (NULL when the user has none), for the cache. */
const char *
_confab_chat_user_get_raw_name (ConfabChatUser *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (self), NULL);

  return self->name;
}

/* Public API ---------------------------------------------------------------------------- */

const char *
confab_chat_user_get_id (ConfabChatUser *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (self), NULL);

  return self->id;
}

const char *
confab_chat_user_get_name (ConfabChatUser *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (self), NULL);

  return self->name != NULL ? self->name : self->id;
}

gboolean
confab_chat_user_get_online (ConfabChatUser *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (self), FALSE);

  return self->online;
}

gint64
confab_chat_user_get_last_active (ConfabChatUser *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (self), 0);

  return self->last_active;
}
