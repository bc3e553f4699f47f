/* confab-chat-message.c: one message in a channel, as the app shows it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-chat-message.h"
#include "confab-chat-private.h"

G_DEFINE_ENUM_TYPE (ConfabMessageStatus, confab_message_status,
                    G_DEFINE_ENUM_VALUE (CONFAB_MESSAGE_STATUS_SENT, "sent"),
                    G_DEFINE_ENUM_VALUE (CONFAB_MESSAGE_STATUS_QUEUED, "queued"),
                    G_DEFINE_ENUM_VALUE (CONFAB_MESSAGE_STATUS_SENDING, "sending"),
                    G_DEFINE_ENUM_VALUE (CONFAB_MESSAGE_STATUS_FAILED, "failed"))

/* Lean on purpose: a channel may hold tens of thousands (64 bytes here, plus one block
 * for the id and the text; see docs/chat-model.md). The cid is the channel's shared
 * GRefString, the sender a shared ConfabChatUser, the time a plain integer. The id and
 * the text as received share one allocation, made once: the id's address never changes.
 * What is rare lives in qdata: a text changed later (an edit, a deletion) and the last
 * send error. */
struct _ConfabMessage
{
  GObject         parent_instance;

  char           *cid;           /* GRefString */
  ConfabChatUser *user;
  char           *strings;       /* "id\0text\0"; the text part only when has_text */
  gint64          created_at;
  guint32         id_length;
  guint8          status;
  guint8          has_text : 1;  /* the text after the id is the current one */
  guint8          edited : 1;    /* the current text is text_quark's (NULL: empty) */
  guint8          is_own : 1;
  guint8          deleted : 1;
};

G_STATIC_ASSERT (sizeof (struct _ConfabMessage) <= sizeof (GObject) + 5 * sizeof (gpointer));

static GQuark text_quark;
static GQuark error_quark;

G_DEFINE_FINAL_TYPE (ConfabMessage, confab_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_CID,
  PROP_USER,
  PROP_USER_ID,
  PROP_USER_NAME,
  PROP_TEXT,
  PROP_CREATED_AT,
  PROP_STATUS,
  PROP_IS_OWN,
  PROP_DELETED,
  PROP_LAST_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
confab_message_finalize (GObject *object)
{
  ConfabMessage *self = CONFAB_MESSAGE (object);

  g_clear_pointer (&self->strings, g_free);
  g_clear_pointer (&self->cid, g_ref_string_release);
  g_clear_object (&self->user);

  G_OBJECT_CLASS (confab_message_parent_class)->finalize (object);
}

static void
confab_message_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  ConfabMessage *self = CONFAB_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->strings);
      break;
    case PROP_CID:
      g_value_set_string (value, self->cid);
      break;
    case PROP_USER:
      g_value_set_object (value, self->user);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, confab_message_get_user_id (self));
      break;
    case PROP_USER_NAME:
      g_value_set_string (value, confab_message_get_user_name (self));
      break;
    case PROP_TEXT:
      g_value_set_string (value, confab_message_get_text (self));
      break;
    case PROP_CREATED_AT:
      g_value_set_int64 (value, self->created_at);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_IS_OWN:
      g_value_set_boolean (value, self->is_own);
      break;
    case PROP_DELETED:
      g_value_set_boolean (value, self->deleted);
      break;
    case PROP_LAST_ERROR:
      g_value_set_boxed (value, confab_message_get_last_error (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_message_class_init (ConfabMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = confab_message_finalize;
  object_class->get_property = confab_message_get_property;

  text_quark = g_quark_from_static_string ("confab-message-edited-text");
  error_quark = g_quark_from_static_string ("confab-message-last-error");

  /**
   * ConfabMessage:id:
   *
   * Stream's message id; for our own messages the UUID the outbox gave it.
   */
  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);

  /**
   * ConfabMessage:cid:
   *
   * The channel, "type:id".
   */
  properties[PROP_CID] = g_param_spec_string ("cid", NULL, NULL, NULL, flags);

  /**
   * ConfabMessage:user:
   *
   * The sender (shared with the store's other messages and lists).
   */
  properties[PROP_USER] = g_param_spec_object ("user", NULL, NULL, CONFAB_TYPE_CHAT_USER, flags);

  /**
   * ConfabMessage:user-id:
   *
   * The sender's user id ("" when the server did not say).
   */
  properties[PROP_USER_ID] = g_param_spec_string ("user-id", NULL, NULL, NULL, flags);

  /**
   * ConfabMessage:user-name:
   *
   * The sender's display name, or the user id when there is none.
   */
  properties[PROP_USER_NAME] = g_param_spec_string ("user-name", NULL, NULL, NULL, flags);

  /**
   * ConfabMessage:text:
   *
   * The text exactly as received: plain text, never markup. Empty once deleted.
   */
  properties[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, NULL, flags);

  /**
   * ConfabMessage:created-at:
   *
   * Wall-clock microseconds since the Unix epoch; the list is ordered by it.
   */
  properties[PROP_CREATED_AT] = g_param_spec_int64 ("created-at", NULL, NULL, G_MININT64, G_MAXINT64, 0, flags);

  /**
   * ConfabMessage:status:
   *
   * Where our own message is on its way; SENT for everyone else's.
   */
  properties[PROP_STATUS] = g_param_spec_enum ("status", NULL, NULL, CONFAB_TYPE_MESSAGE_STATUS,
                                               CONFAB_MESSAGE_STATUS_SENT, flags);

  /**
   * ConfabMessage:is-own:
   *
   * Whether the signed-in user wrote it.
   */
  properties[PROP_IS_OWN] = g_param_spec_boolean ("is-own", NULL, NULL, FALSE, flags);

  /**
   * ConfabMessage:deleted:
   *
   * Whether the message was deleted (it keeps its place, without text).
   */
  properties[PROP_DELETED] = g_param_spec_boolean ("deleted", NULL, NULL, FALSE, flags);

  /**
   * ConfabMessage:last-error: (nullable)
   *
   * Why the last attempt to send our message failed, or %NULL.
   */
  properties[PROP_LAST_ERROR] = g_param_spec_boxed ("last-error", NULL, NULL, G_TYPE_ERROR, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_message_init (ConfabMessage *self)
{
}

/* Internal API (confab-chat-private.h) ------------------------------------------------- */

/* @cid must be a GRefString (the channel's); it is acquired. */
ConfabMessage *
_confab_message_new (const char          *id,
                     const char          *cid,
                     ConfabChatUser      *user,
                     const char          *text,
                     gint64               created_at,
                     ConfabMessageStatus  status,
                     gboolean             is_own,
                     gboolean             deleted)
{
  ConfabMessage *self;
  gsize id_length;
  gsize text_length;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (cid != NULL, NULL);
  g_return_val_if_fail (CONFAB_IS_CHAT_USER (user), NULL);

  id_length = strlen (id);
  g_return_val_if_fail (id_length < G_MAXUINT32, NULL);
  if (deleted || text == NULL)
    text = "";
  text_length = strlen (text);

  self = g_object_new (CONFAB_TYPE_MESSAGE, NULL);
  self->strings = g_malloc (id_length + 1 + (text_length > 0 ? text_length + 1 : 0));
  memcpy (self->strings, id, id_length + 1);
  if (text_length > 0)
    memcpy (self->strings + id_length + 1, text, text_length + 1);
  self->id_length = (guint32) id_length;
  self->has_text = text_length > 0;
  self->cid = g_ref_string_acquire ((char *) cid);
  self->user = g_object_ref (user);
  self->created_at = created_at;
  self->status = status;
  self->is_own = !!is_own;
  self->deleted = !!deleted;
  return self;
}

void
_confab_message_set_text (ConfabMessage *self,
                          const char    *text)
{
  if (text != NULL && *text == '\0')
    text = NULL;
  if (g_strcmp0 (_confab_message_get_raw_text (self), text) == 0)
    return;
  /* The first text stays where it is (the id's block is never moved). */
  self->edited = TRUE;
  g_object_set_qdata_full (G_OBJECT (self), text_quark, g_strdup (text), text != NULL ? g_free : NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

void
_confab_message_set_deleted (ConfabMessage *self,
                             gboolean       deleted)
{
  deleted = !!deleted;
  if (self->deleted == (guint) deleted)
    return;
  g_object_freeze_notify (G_OBJECT (self));
  self->deleted = deleted;
  if (deleted)
    _confab_message_set_text (self, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DELETED]);
  g_object_thaw_notify (G_OBJECT (self));
}

void
_confab_message_set_status (ConfabMessage       *self,
                            ConfabMessageStatus  status)
{
  if (self->status == status)
    return;
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

void
_confab_message_set_last_error (ConfabMessage *self,
                                const GError  *error)
{
  const GError *last_error = confab_message_get_last_error (self);

  if (last_error == NULL && error == NULL)
    return;
  if (last_error != NULL && error != NULL &&
      last_error->domain == error->domain && last_error->code == error->code &&
      g_strcmp0 (last_error->message, error->message) == 0)
    return;
  g_object_set_qdata_full (G_OBJECT (self), error_quark, error != NULL ? g_error_copy (error) : NULL,
                           error != NULL ? (GDestroyNotify) g_error_free : NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

/* Only the channel calls this, while the message is out of its list. */
void
_confab_message_set_created_at (ConfabMessage *self,
                                gint64         created_at)
{
  if (self->created_at == created_at)
    return;
  self->created_at = created_at;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CREATED_AT]);
}

void
_confab_message_set_user (ConfabMessage  *self,
                          ConfabChatUser *user)
{
  if (self->user == user)
    return;
  g_object_freeze_notify (G_OBJECT (self));
  g_set_object (&self->user, user);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER_ID]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER_NAME]);
  g_object_thaw_notify (G_OBJECT (self));
}

void
_confab_message_set_is_own (ConfabMessage *self,
                            gboolean       is_own)
{
  is_own = !!is_own;
  if (self->is_own == (guint) is_own)
    return;
  self->is_own = is_own;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IS_OWN]);
}

/* The text as stored (NULL when empty or deleted), for the cache. */
const char *
_confab_message_get_raw_text (ConfabMessage *self)
{
  if (self->edited)
    return g_object_get_qdata (G_OBJECT (self), text_quark);
  return self->has_text ? self->strings + self->id_length + 1 : NULL;
}

/* Orders by created-at, then id. */
int
_confab_message_compare (ConfabMessage *a,
                         ConfabMessage *b)
{
  if (a->created_at != b->created_at)
    return a->created_at < b->created_at ? -1 : 1;
  return strcmp (a->strings, b->strings);
}

/* Sets of messages keyed by id. The key is the message itself (GHashTable then keeps no
 * separate value array); a lookup by id goes through a stack probe that has only the id. */
static guint
message_id_hash (gconstpointer message)
{
  return g_str_hash (((const ConfabMessage *) message)->strings);
}

static gboolean
message_id_equal (gconstpointer a,
                  gconstpointer b)
{
  return strcmp (((const ConfabMessage *) a)->strings, ((const ConfabMessage *) b)->strings) == 0;
}

GHashTable *
_confab_message_id_set_new (void)
{
  return g_hash_table_new (message_id_hash, message_id_equal);
}

ConfabMessage *
_confab_message_id_set_lookup (GHashTable *set,
                               const char *id)
{
  ConfabMessage probe = { .strings = (char *) id };

  return g_hash_table_lookup (set, &probe);
}

/* Public API ---------------------------------------------------------------------------- */

const char *
confab_message_get_id (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), NULL);

  return self->strings;
}

const char *
confab_message_get_cid (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), NULL);

  return self->cid;
}

ConfabChatUser *
confab_message_get_user (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), NULL);

  return self->user;
}

const char *
confab_message_get_user_id (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), NULL);

  return confab_chat_user_get_id (self->user);
}

const char *
confab_message_get_user_name (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), NULL);

  return confab_chat_user_get_name (self->user);
}

const char *
confab_message_get_text (ConfabMessage *self)
{
  const char *text;

  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), NULL);

  text = _confab_message_get_raw_text (self);
  return text != NULL ? text : "";
}

gint64
confab_message_get_created_at (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), 0);

  return self->created_at;
}

ConfabMessageStatus
confab_message_get_status (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), CONFAB_MESSAGE_STATUS_SENT);

  return self->status;
}

gboolean
confab_message_get_is_own (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), FALSE);

  return self->is_own;
}

gboolean
confab_message_get_deleted (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), FALSE);

  return self->deleted;
}

const GError *
confab_message_get_last_error (ConfabMessage *self)
{
  g_return_val_if_fail (CONFAB_IS_MESSAGE (self), NULL);

  return g_object_get_qdata (G_OBJECT (self), error_quark);
}
