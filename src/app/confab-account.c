/* confab-account.c: who is signed in where, and where their local data lives
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "confab-account.h"
#include "confab-error.h"
#include "confab-secure-url.h"

/* Hex digits of the SHA-256 kept for the id: 64 bits, plenty for one user's accounts. */
#define ID_LENGTH 16

struct _ConfabAccount
{
  GObject            parent_instance;

  ConfabAccountKind  kind;
  char              *base_url;
  char              *api_key;
  char              *user_id;
  char              *id;
};

G_DEFINE_ENUM_TYPE (ConfabAccountKind, confab_account_kind,
                    G_DEFINE_ENUM_VALUE (CONFAB_ACCOUNT_KIND_DEMO, "demo"),
                    G_DEFINE_ENUM_VALUE (CONFAB_ACCOUNT_KIND_TOKEN, "token"))

G_DEFINE_FINAL_TYPE (ConfabAccount, confab_account, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_KIND,
  PROP_BASE_URL,
  PROP_API_KEY,
  PROP_USER_ID,
  PROP_ID,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

char *
confab_account_normalize_base_url (const char *base_url)
{
  g_autofree char *url = NULL;
  gsize length;

  if (base_url == NULL)
    return NULL;
  url = g_strstrip (g_strdup (base_url));
  length = strlen (url);
  while (length > 0 && url[length - 1] == '/')
    url[--length] = '\0';
  if (length == 0)
    return NULL;
  return g_steal_pointer (&url);
}

gboolean
confab_account_check_user_id (const char  *user_id,
                              GError     **error)
{
  gsize length;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  length = user_id != NULL ? strlen (user_id) : 0;
  if (length == 0 || length > CONFAB_ACCOUNT_MAX_USER_ID_LENGTH)
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                   _("A user id has 1 to %d characters"), CONFAB_ACCOUNT_MAX_USER_ID_LENGTH);
      return FALSE;
    }
  for (gsize i = 0; i < length; i++)
    {
      char c = user_id[i];

      if (!g_ascii_isalnum (c) && c != '@' && c != '_' && c != '-')
        {
          g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                               _("A user id may only contain Latin letters, digits, “@”, “_” and “-”"));
          return FALSE;
        }
    }
  return TRUE;
}

static void
confab_account_constructed (GObject *object)
{
  ConfabAccount *self = CONFAB_ACCOUNT (object);
  g_autofree char *key = NULL;
  g_autofree char *digest = NULL;

  G_OBJECT_CLASS (confab_account_parent_class)->constructed (object);

  key = g_strconcat (self->base_url != NULL ? self->base_url : "", "\n",
                     self->user_id != NULL ? self->user_id : "", NULL);
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  self->id = g_strndup (digest, ID_LENGTH);
}

static void
confab_account_finalize (GObject *object)
{
  ConfabAccount *self = CONFAB_ACCOUNT (object);

  g_free (self->base_url);
  g_free (self->api_key);
  g_free (self->user_id);
  g_free (self->id);

  G_OBJECT_CLASS (confab_account_parent_class)->finalize (object);
}

static void
confab_account_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  ConfabAccount *self = CONFAB_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_BASE_URL:
      g_value_set_string (value, self->base_url);
      break;
    case PROP_API_KEY:
      g_value_set_string (value, self->api_key);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, self->user_id);
      break;
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_account_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  ConfabAccount *self = CONFAB_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_KIND:
      self->kind = g_value_get_enum (value);
      break;
    case PROP_BASE_URL:
      self->base_url = confab_account_normalize_base_url (g_value_get_string (value));
      break;
    case PROP_API_KEY:
      confab_account_set_api_key (self, g_value_get_string (value));
      break;
    case PROP_USER_ID:
      self->user_id = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_account_class_init (ConfabAccountClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = confab_account_constructed;
  object_class->finalize = confab_account_finalize;
  object_class->get_property = confab_account_get_property;
  object_class->set_property = confab_account_set_property;

  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL, CONFAB_TYPE_ACCOUNT_KIND, CONFAB_ACCOUNT_KIND_DEMO, co);
  properties[PROP_BASE_URL] =
    g_param_spec_string ("base-url", NULL, NULL, NULL, co);
  properties[PROP_API_KEY] =
    g_param_spec_string ("api-key", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL, co);
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_account_init (ConfabAccount *self)
{
}

ConfabAccount *
confab_account_new (ConfabAccountKind   kind,
                    const char         *base_url,
                    const char         *api_key,
                    const char         *user_id,
                    GError            **error)
{
  g_autofree char *normalized = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  normalized = confab_account_normalize_base_url (base_url);
  if (normalized == NULL)
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                           _("The server address is empty"));
      return NULL;
    }
  if (!confab_secure_url_check (normalized, error))
    return NULL;
  if (!confab_account_check_user_id (user_id, error))
    return NULL;

  return g_object_new (CONFAB_TYPE_ACCOUNT,
                       "kind", kind,
                       "base-url", normalized,
                       "api-key", api_key,
                       "user-id", user_id,
                       NULL);
}

ConfabAccount *
confab_account_new_from_settings (GSettings *settings)
{
  g_autofree char *base_url = NULL;
  g_autofree char *api_key = NULL;
  g_autofree char *user_id = NULL;
  g_autofree char *kind = NULL;
  g_autoptr(GError) error = NULL;
  ConfabAccount *account;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  base_url = g_settings_get_string (settings, "base-url");
  api_key = g_settings_get_string (settings, "api-key");
  user_id = g_settings_get_string (settings, "user-id");
  kind = g_settings_get_string (settings, "account-kind");
  if (*kind == '\0' || *base_url == '\0' || *user_id == '\0')
    return NULL;

  account = confab_account_new (g_str_equal (kind, "token") ? CONFAB_ACCOUNT_KIND_TOKEN
                                                            : CONFAB_ACCOUNT_KIND_DEMO,
                                base_url, *api_key != '\0' ? api_key : NULL, user_id, &error);
  if (account == NULL)
    g_message ("The saved account is not usable: %s", error->message);
  return account;
}

void
confab_account_save_to_settings (ConfabAccount *self,
                                 GSettings     *settings)
{
  g_return_if_fail (CONFAB_IS_ACCOUNT (self));
  g_return_if_fail (G_IS_SETTINGS (settings));

  g_settings_delay (settings);
  g_settings_set_string (settings, "base-url", self->base_url);
  g_settings_set_string (settings, "api-key", self->api_key != NULL ? self->api_key : "");
  g_settings_set_string (settings, "user-id", self->user_id);
  g_settings_set_string (settings, "account-kind",
                         self->kind == CONFAB_ACCOUNT_KIND_TOKEN ? "token" : "demo");
  g_settings_apply (settings);
}

void
confab_account_clear_settings (GSettings *settings)
{
  g_return_if_fail (G_IS_SETTINGS (settings));

  g_settings_delay (settings);
  g_settings_set_string (settings, "user-id", "");
  g_settings_set_string (settings, "account-kind", "");
  g_settings_set_string (settings, "last-channel", "");
  g_settings_apply (settings);
}

ConfabAccountKind
confab_account_get_kind (ConfabAccount *self)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), CONFAB_ACCOUNT_KIND_DEMO);

  return self->kind;
}

const char *
confab_account_get_base_url (ConfabAccount *self)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), NULL);

  return self->base_url;
}

const char *
confab_account_get_api_key (ConfabAccount *self)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), NULL);

  return self->api_key;
}

void
confab_account_set_api_key (ConfabAccount *self,
                            const char    *api_key)
{
  g_return_if_fail (CONFAB_IS_ACCOUNT (self));

  if (api_key != NULL && *api_key == '\0')
    api_key = NULL;
  if (g_strcmp0 (self->api_key, api_key) == 0)
    return;
  g_free (self->api_key);
  self->api_key = g_strdup (api_key);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_API_KEY]);
}

const char *
confab_account_get_user_id (ConfabAccount *self)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), NULL);

  return self->user_id;
}

const char *
confab_account_get_id (ConfabAccount *self)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), NULL);

  return self->id;
}

gboolean
confab_account_equal (ConfabAccount *self,
                      ConfabAccount *other)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), FALSE);
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (other), FALSE);

  return self->kind == other->kind &&
         g_strcmp0 (self->base_url, other->base_url) == 0 &&
         g_strcmp0 (self->user_id, other->user_id) == 0;
}

char *
confab_account_dup_state_dir (ConfabAccount *self)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), NULL);

  return g_build_filename (g_get_user_state_dir (), "confab", self->id, NULL);
}

char *
confab_account_dup_application_id (ConfabAccount *self,
                                   const char    *base_application_id)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), NULL);
  g_return_val_if_fail (base_application_id != NULL, NULL);

  return g_strconcat (base_application_id, ".User_", self->id, NULL);
}

char *
confab_account_dup_demo_token_url (ConfabAccount *self)
{
  g_return_val_if_fail (CONFAB_IS_ACCOUNT (self), NULL);

  return g_strconcat (self->base_url, "/sandbox/demo-token", NULL);
}
