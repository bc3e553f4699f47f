/* confab-outbox-item.c: one message waiting in the durable outbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "confab-outbox-item.h"

G_DEFINE_ENUM_TYPE (ConfabOutboxStatus, confab_outbox_status,
                    G_DEFINE_ENUM_VALUE (CONFAB_OUTBOX_STATUS_QUEUED, "queued"),
                    G_DEFINE_ENUM_VALUE (CONFAB_OUTBOX_STATUS_SENDING, "sending"),
                    G_DEFINE_ENUM_VALUE (CONFAB_OUTBOX_STATUS_SENT, "sent"),
                    G_DEFINE_ENUM_VALUE (CONFAB_OUTBOX_STATUS_FAILED, "failed"))

struct _ConfabOutboxItem
{
  GObject             parent_instance;

  char               *id;
  char               *cid;
  char               *text;
  gint64              created_at;
  ConfabOutboxStatus  status;
  guint               attempts;
  GError             *last_error;
};

G_DEFINE_FINAL_TYPE (ConfabOutboxItem, confab_outbox_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_CID,
  PROP_TEXT,
  PROP_CREATED_AT,
  PROP_STATUS,
  PROP_ATTEMPTS,
  PROP_LAST_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
confab_outbox_item_finalize (GObject *object)
{
  ConfabOutboxItem *self = CONFAB_OUTBOX_ITEM (object);

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->cid, g_free);
  g_clear_pointer (&self->text, g_free);
  g_clear_error (&self->last_error);

  G_OBJECT_CLASS (confab_outbox_item_parent_class)->finalize (object);
}

static void
confab_outbox_item_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  ConfabOutboxItem *self = CONFAB_OUTBOX_ITEM (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_CID:
      g_value_set_string (value, self->cid);
      break;
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    case PROP_CREATED_AT:
      g_value_set_int64 (value, self->created_at);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_ATTEMPTS:
      g_value_set_uint (value, self->attempts);
      break;
    case PROP_LAST_ERROR:
      g_value_set_boxed (value, self->last_error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_outbox_item_class_init (ConfabOutboxItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_outbox_item_finalize;
  object_class->get_property = confab_outbox_item_get_property;

  /**
   * ConfabOutboxItem:id:
   *
   * The message's UUIDv4, made when it was composed and sent with every attempt, so
   * the server can tell a retry from a new message.
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutboxItem:cid:
   *
   * The channel, as Stream's "type:id".
   */
  properties[PROP_CID] =
    g_param_spec_string ("cid", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutboxItem:text:
   *
   * The message text (never logged).
   */
  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutboxItem:created-at:
   *
   * When the message was composed: wall-clock microseconds since the Unix epoch.
   * Strictly increasing within one outbox, so it also gives the sending order.
   */
  properties[PROP_CREATED_AT] =
    g_param_spec_int64 ("created-at", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutboxItem:status:
   *
   * Where the message is on its way to the server.
   */
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL,
                       CONFAB_TYPE_OUTBOX_STATUS, CONFAB_OUTBOX_STATUS_QUEUED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutboxItem:attempts:
   *
   * How many attempts have failed so far.
   */
  properties[PROP_ATTEMPTS] =
    g_param_spec_uint ("attempts", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutboxItem:last-error: (nullable)
   *
   * Why the last attempt failed (a transient error while the message waits for a
   * retry, the refusal once it has failed); %NULL once sent or retried by the user,
   * and after a restart (errors are not stored on disk).
   */
  properties[PROP_LAST_ERROR] =
    g_param_spec_boxed ("last-error", NULL, NULL, G_TYPE_ERROR,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
confab_outbox_item_init (ConfabOutboxItem *self)
{
}

ConfabOutboxItem *
_confab_outbox_item_new (const char         *id,
                         const char         *cid,
                         const char         *text,
                         gint64              created_at,
                         ConfabOutboxStatus  status,
                         guint               attempts)
{
  ConfabOutboxItem *self;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (cid != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);

  self = g_object_new (CONFAB_TYPE_OUTBOX_ITEM, NULL);
  self->id = g_strdup (id);
  self->cid = g_strdup (cid);
  self->text = g_strdup (text);
  self->created_at = created_at;
  self->status = status;
  self->attempts = attempts;

  return self;
}

static const char *
status_nick (ConfabOutboxStatus status)
{
  GEnumClass *klass = g_type_class_ref (CONFAB_TYPE_OUTBOX_STATUS);
  GEnumValue *value = g_enum_get_value (klass, status);
  const char *nick = value != NULL ? value->value_nick : "?";

  /* The class stays alive: the pspec holds a reference. */
  g_type_class_unref (klass);
  return nick;
}

void
_confab_outbox_item_set_status (ConfabOutboxItem   *self,
                                ConfabOutboxStatus  status)
{
  g_return_if_fail (CONFAB_IS_OUTBOX_ITEM (self));

  if (self->status == status)
    return;

  g_debug ("Outbox message %s: %s → %s", self->id, status_nick (self->status), status_nick (status));
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

void
_confab_outbox_item_set_attempts (ConfabOutboxItem *self,
                                  guint             attempts)
{
  g_return_if_fail (CONFAB_IS_OUTBOX_ITEM (self));

  if (self->attempts == attempts)
    return;

  self->attempts = attempts;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTEMPTS]);
}

static gboolean
errors_equal (const GError *a,
              const GError *b)
{
  if (a == NULL || b == NULL)
    return a == b;

  return a->domain == b->domain && a->code == b->code && g_strcmp0 (a->message, b->message) == 0;
}

void
_confab_outbox_item_set_last_error (ConfabOutboxItem *self,
                                    const GError     *error)
{
  g_return_if_fail (CONFAB_IS_OUTBOX_ITEM (self));

  if (errors_equal (self->last_error, error))
    return;

  g_clear_error (&self->last_error);
  if (error != NULL)
    self->last_error = g_error_copy (error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

/**
 * confab_outbox_item_get_id:
 * @self: a #ConfabOutboxItem
 *
 * Returns: the message's UUIDv4, the same on every attempt
 */
const char *
confab_outbox_item_get_id (ConfabOutboxItem *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_ITEM (self), NULL);

  return self->id;
}

/**
 * confab_outbox_item_get_cid:
 * @self: a #ConfabOutboxItem
 *
 * Returns: the channel, "type:id"
 */
const char *
confab_outbox_item_get_cid (ConfabOutboxItem *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_ITEM (self), NULL);

  return self->cid;
}

/**
 * confab_outbox_item_get_text:
 * @self: a #ConfabOutboxItem
 *
 * Returns: the message text
 */
const char *
confab_outbox_item_get_text (ConfabOutboxItem *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_ITEM (self), NULL);

  return self->text;
}

/**
 * confab_outbox_item_get_created_at:
 * @self: a #ConfabOutboxItem
 *
 * Returns: when the message was composed, wall-clock µs since the Unix epoch
 */
gint64
confab_outbox_item_get_created_at (ConfabOutboxItem *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_ITEM (self), 0);

  return self->created_at;
}

/**
 * confab_outbox_item_get_status:
 * @self: a #ConfabOutboxItem
 *
 * Returns: the item's #ConfabOutboxStatus
 */
ConfabOutboxStatus
confab_outbox_item_get_status (ConfabOutboxItem *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_ITEM (self), CONFAB_OUTBOX_STATUS_QUEUED);

  return self->status;
}

/**
 * confab_outbox_item_get_attempts:
 * @self: a #ConfabOutboxItem
 *
 * Returns: how many attempts have failed
 */
guint
confab_outbox_item_get_attempts (ConfabOutboxItem *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_ITEM (self), 0);

  return self->attempts;
}

/**
 * confab_outbox_item_get_last_error:
 * @self: a #ConfabOutboxItem
 *
 * Returns: (nullable) (transfer none): why the last attempt failed
 */
const GError *
confab_outbox_item_get_last_error (ConfabOutboxItem *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX_ITEM (self), NULL);

  return self->last_error;
}
