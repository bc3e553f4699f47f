/* confab-outbox.c: the durable outbox, so a composed message is never lost
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "confab-error.h"
#include "confab-outbox.h"

/*
 * One file per message, DIR/<id>.json:
 *
 *   {"version":1,"id":"<uuid>","cid":"type:id","text":"…","created_at":<µs>,
 *    "status":"queued"|"sending"|"failed","attempts":<n>}
 *
 * Writes are synchronous: each is one small file, written to a temporary file, fsync'd
 * and renamed over the old one (g_file_set_contents_full() with CONSISTENT | DURABLE,
 * mode 0600), and for a new file the directory is fsync'd too. confab_outbox_enqueue()
 * therefore returns only once the message would survive a crash or a power cut; one
 * fsync per message costs a few milliseconds at most, nothing at chat rates, and a
 * synchronous write leaves no window in which the UI shows a message that is not yet
 * safe.
 *
 * A SENT message's file is deleted at once; the item stays in the model, shown as
 * sent, until confab_outbox_prune(). Errors (last-error) are not stored: after a
 * restart a FAILED message is still FAILED, without its reason.
 *
 * A message found in SENDING (the app stopped mid-attempt) loads as QUEUED and is sent
 * again with the same id; if the first attempt had arrived, the server answers code 4
 * "already exists" (confab_api_error_is_duplicate()), which means delivered.
 *
 * The directory belongs to one ConfabOutbox at a time (the app is single-instance);
 * there is no lock between processes.
 */

#define FILE_VERSION   1
#define FILE_SUFFIX    ".json"
#define MAX_CID_PART   64

struct _ConfabOutbox
{
  GObject     parent_instance;

  char       *directory;
  GPtrArray  *items;          /* ConfabOutboxItem, creation order */
  GHashTable *by_id;          /* id → ConfabOutboxItem (borrowed from items) */
  GPtrArray  *corrupt_paths;  /* char *, NULL-terminated */
  gint64      last_created_at;
  guint       n_pending;
  guint       n_failed;
  guint       n_items;

  guint       initialized : 1;
  guint       init_ok : 1;
  GError     *init_error;
};

static void confab_outbox_list_model_init (GListModelInterface *iface);
static void confab_outbox_initable_init   (GInitableIface      *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ConfabOutbox, confab_outbox, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, confab_outbox_list_model_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, confab_outbox_initable_init))

enum {
  PROP_0,
  PROP_DIRECTORY,
  PROP_N_ITEMS,
  PROP_N_PENDING,
  PROP_N_FAILED,
  PROP_N_CORRUPT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CORRUPT_FILE,
  SIGNAL_STORAGE_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- validation ---------------------------------------------------------------- */

static gboolean
cid_type_char_ok (char c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '-';
}

static gboolean
cid_id_char_ok (char c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '-' || c == '!';
}

static gboolean
cid_is_valid (const char *cid)
{
  const char *colon;
  gsize type_len;
  gsize id_len;

  if (cid == NULL)
    return FALSE;

  colon = strchr (cid, ':');
  if (colon == NULL)
    return FALSE;

  type_len = (gsize) (colon - cid);
  id_len = strlen (colon + 1);
  if (type_len == 0 || type_len > MAX_CID_PART || id_len == 0 || id_len > MAX_CID_PART)
    return FALSE;

  for (const char *p = cid; p < colon; p++)
    if (!cid_type_char_ok (*p))
      return FALSE;
  for (const char *p = colon + 1; *p != '\0'; p++)
    if (!cid_id_char_ok (*p))
      return FALSE;

  return TRUE;
}

/**
 * confab_outbox_validate:
 * @cid: (nullable): a channel, "type:id"
 * @text: (nullable): a message text
 * @error: return location for a %CONFAB_ERROR_REJECTED error
 *
 * The checks confab_outbox_enqueue() makes, for a composer that wants to tell the user
 * before trying: @cid has Stream's "type:id" shape (a type of letters, digits, "_"
 * and "-", an id of letters, digits and "!-_", each 1–64 characters), @text is
 * non-empty valid UTF-8 of at most %CONFAB_OUTBOX_MAX_TEXT_CHARS characters. Error
 * messages never include the text.
 *
 * Returns: whether both are acceptable
 */
gboolean
confab_outbox_validate (const char  *cid,
                        const char  *text,
                        GError     **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!cid_is_valid (cid))
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                           "The channel is not of the form type:id");
      return FALSE;
    }
  if (text == NULL || text[0] == '\0')
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                           "The message is empty");
      return FALSE;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                           "The message is not valid UTF-8");
      return FALSE;
    }
  if (g_utf8_strlen (text, -1) > CONFAB_OUTBOX_MAX_TEXT_CHARS)
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                   "The message is longer than %d characters", CONFAB_OUTBOX_MAX_TEXT_CHARS);
      return FALSE;
    }

  return TRUE;
}

/* ---- files --------------------------------------------------------------------- */

static char *
item_path (ConfabOutbox     *self,
           ConfabOutboxItem *item)
{
  g_autofree char *name = g_strconcat (confab_outbox_item_get_id (item), FILE_SUFFIX, NULL);

  return g_build_filename (self->directory, name, NULL);
}

static const char *
status_to_string (ConfabOutboxStatus status)
{
  switch (status)
    {
    case CONFAB_OUTBOX_STATUS_QUEUED:
      return "queued";
    case CONFAB_OUTBOX_STATUS_SENDING:
      return "sending";
    case CONFAB_OUTBOX_STATUS_FAILED:
      return "failed";
    case CONFAB_OUTBOX_STATUS_SENT:
    default:
      /* SENT messages have no file. */
      g_return_val_if_reached ("queued");
    }
}

static gboolean
status_from_string (const char         *s,
                    ConfabOutboxStatus *status)
{
  if (g_strcmp0 (s, "queued") == 0)
    *status = CONFAB_OUTBOX_STATUS_QUEUED;
  else if (g_strcmp0 (s, "sending") == 0)
    *status = CONFAB_OUTBOX_STATUS_SENDING;
  else if (g_strcmp0 (s, "failed") == 0)
    *status = CONFAB_OUTBOX_STATUS_FAILED;
  else
    return FALSE;
  return TRUE;
}

static char *
item_to_json (ConfabOutboxItem *item,
              gsize            *length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, FILE_VERSION);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, confab_outbox_item_get_id (item));
  json_builder_set_member_name (builder, "cid");
  json_builder_add_string_value (builder, confab_outbox_item_get_cid (item));
  json_builder_set_member_name (builder, "text");
  json_builder_add_string_value (builder, confab_outbox_item_get_text (item));
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_int_value (builder, confab_outbox_item_get_created_at (item));
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, status_to_string (confab_outbox_item_get_status (item)));
  json_builder_set_member_name (builder, "attempts");
  json_builder_add_int_value (builder, confab_outbox_item_get_attempts (item));
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, length);
}

static gboolean
fsync_directory (const char  *directory,
                 GError     **error)
{
  int fd;
  int saved_errno;

  fd = g_open (directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "Cannot open the outbox directory “%s”: %s", directory, g_strerror (saved_errno));
      return FALSE;
    }

  if (fsync (fd) != 0 && errno != EINVAL)
    {
      saved_errno = errno;
      close (fd);
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "Cannot sync the outbox directory “%s”: %s", directory, g_strerror (saved_errno));
      return FALSE;
    }

  close (fd);
  return TRUE;
}

/* Writes @item's file atomically and durably. */
static gboolean
write_item (ConfabOutbox      *self,
            ConfabOutboxItem  *item,
            GError           **error)
{
  g_autofree char *path = item_path (self, item);
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length = 0;

  data = item_to_json (item, &length);
  if (!g_file_set_contents_full (path, data, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local_error))
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "Cannot write to the outbox directory “%s”: %s",
                   self->directory, local_error->message);
      return FALSE;
    }

  return TRUE;
}

static gboolean
remove_item_file (ConfabOutbox      *self,
                  ConfabOutboxItem  *item,
                  GError           **error)
{
  g_autofree char *path = item_path (self, item);
  int saved_errno;

  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      saved_errno = errno;
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "Cannot remove a message from the outbox directory “%s”: %s",
                   self->directory, g_strerror (saved_errno));
      return FALSE;
    }

  return TRUE;
}

static void
report_storage_error (ConfabOutbox *self,
                      const GError *error)
{
  g_message ("Outbox: %s", error->message);
  g_signal_emit (self, signals[SIGNAL_STORAGE_ERROR], 0, error);
}

/* ---- loading ------------------------------------------------------------------- */

static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
member_int (JsonObject *object,
            const char *name,
            gint64     *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

/* Parses one file's contents; on failure @reason says why (for the debug log; it never
 * quotes the content). */
static ConfabOutboxItem *
parse_item (const char  *name,
            const char  *data,
            gsize        length,
            const char **reason)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *expected_name = NULL;
  JsonNode *root;
  JsonObject *object;
  const char *id;
  const char *cid;
  const char *text;
  const char *status_string;
  gint64 version = 0;
  gint64 created_at = 0;
  gint64 attempts = 0;
  ConfabOutboxStatus status = CONFAB_OUTBOX_STATUS_QUEUED;

  if (!json_parser_load_from_data (parser, data, (gssize) length, NULL))
    {
      *reason = "not JSON";
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      *reason = "not a JSON object";
      return NULL;
    }
  object = json_node_get_object (root);

  if (!member_int (object, "version", &version) || version != FILE_VERSION)
    {
      *reason = "missing or unknown version";
      return NULL;
    }

  id = member_string (object, "id");
  cid = member_string (object, "cid");
  text = member_string (object, "text");
  status_string = member_string (object, "status");
  if (id == NULL || cid == NULL || text == NULL || status_string == NULL ||
      !member_int (object, "created_at", &created_at) ||
      !member_int (object, "attempts", &attempts))
    {
      *reason = "a field is missing or has the wrong type";
      return NULL;
    }

  if (!g_uuid_string_is_valid (id))
    {
      *reason = "the id is not a UUID";
      return NULL;
    }
  expected_name = g_strconcat (id, FILE_SUFFIX, NULL);
  if (strcmp (name, expected_name) != 0)
    {
      *reason = "the id does not match the file name";
      return NULL;
    }
  if (!confab_outbox_validate (cid, text, NULL))
    {
      *reason = "the channel or the text is not acceptable";
      return NULL;
    }
  if (created_at < 0 || attempts < 0 || attempts > G_MAXUINT)
    {
      *reason = "a number is out of range";
      return NULL;
    }
  if (!status_from_string (status_string, &status))
    {
      *reason = "unknown status";
      return NULL;
    }

  /* The app stopped mid-attempt: send again, with the same id. */
  if (status == CONFAB_OUTBOX_STATUS_SENDING)
    status = CONFAB_OUTBOX_STATUS_QUEUED;

  return _confab_outbox_item_new (id, cid, text, created_at, status, (guint) attempts);
}

/* Renames @path to "<path>.corrupt-<UTC time>" (never over an existing file) and
 * reports it. */
static void
set_aside (ConfabOutbox *self,
           const char   *path,
           const char   *reason)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  g_autofree char *target = g_strdup_printf ("%s.corrupt-%s", path, stamp);
  const char *reported = path;
  int saved_errno = EEXIST;

  /* Never rename over an earlier copy. */
  for (guint n = 1; g_file_test (target, G_FILE_TEST_EXISTS) && n < 1000; n++)
    {
      g_free (target);
      target = g_strdup_printf ("%s.corrupt-%s-%u", path, stamp, n);
    }

  if (!g_file_test (target, G_FILE_TEST_EXISTS))
    {
      if (g_rename (path, target) == 0)
        reported = target;
      else
        saved_errno = errno;
    }

  if (reported == target)
    g_debug ("Outbox: %s is unreadable (%s); kept aside as %s", path, reason, target);
  else
    g_message ("Outbox: %s is unreadable (%s) and could not be set aside: %s",
               path, reason, g_strerror (saved_errno));

  g_ptr_array_insert (self->corrupt_paths, (int) self->corrupt_paths->len - 1, g_strdup (reported));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CORRUPT]);
  g_signal_emit (self, signals[SIGNAL_CORRUPT_FILE], 0, reported);
}

static void
load_file (ConfabOutbox *self,
           const char   *name,
           GPtrArray    *loaded)
{
  g_autofree char *path = g_build_filename (self->directory, name, NULL);
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  ConfabOutboxItem *item;
  const char *reason = NULL;
  GStatBuf st;
  gsize length = 0;

  if (g_lstat (path, &st) != 0)
    {
      g_debug ("Outbox: %s vanished while loading", path);
      return;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_debug ("Outbox: ignoring %s, not a regular file", path);
      return;
    }
  if (st.st_size > CONFAB_OUTBOX_MAX_FILE_SIZE)
    {
      set_aside (self, path, "too large");
      return;
    }

  if (!g_file_get_contents (path, &data, &length, &error))
    {
      set_aside (self, path, "cannot be read");
      return;
    }
  if (length > CONFAB_OUTBOX_MAX_FILE_SIZE)
    {
      set_aside (self, path, "too large");
      return;
    }

  item = parse_item (name, data, length, &reason);
  if (item == NULL)
    {
      set_aside (self, path, reason);
      return;
    }

  g_ptr_array_add (loaded, item);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static int
compare_items (gconstpointer a,
               gconstpointer b)
{
  ConfabOutboxItem *item_a = *(ConfabOutboxItem **) a;
  ConfabOutboxItem *item_b = *(ConfabOutboxItem **) b;
  gint64 ta = confab_outbox_item_get_created_at (item_a);
  gint64 tb = confab_outbox_item_get_created_at (item_b);

  if (ta != tb)
    return ta < tb ? -1 : 1;
  return strcmp (confab_outbox_item_get_id (item_a), confab_outbox_item_get_id (item_b));
}

/* ---- counts -------------------------------------------------------------------- */

static void
update_counts (ConfabOutbox *self)
{
  guint n_pending = 0;
  guint n_failed = 0;

  for (guint i = 0; i < self->items->len; i++)
    {
      switch (confab_outbox_item_get_status (g_ptr_array_index (self->items, i)))
        {
        case CONFAB_OUTBOX_STATUS_QUEUED:
        case CONFAB_OUTBOX_STATUS_SENDING:
          n_pending++;
          break;
        case CONFAB_OUTBOX_STATUS_FAILED:
          n_failed++;
          break;
        case CONFAB_OUTBOX_STATUS_SENT:
        default:
          break;
        }
    }

  g_object_freeze_notify (G_OBJECT (self));
  if (self->n_pending != n_pending)
    {
      self->n_pending = n_pending;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_PENDING]);
    }
  if (self->n_failed != n_failed)
    {
      self->n_failed = n_failed;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_FAILED]);
    }
  if (self->n_items != self->items->len)
    {
      self->n_items = self->items->len;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

/* ---- GInitable ----------------------------------------------------------------- */

static gboolean
load_directory (ConfabOutbox  *self,
                GError       **error)
{
  g_autoptr(GPtrArray) loaded = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autofree char *probe = NULL;
  const char *name;
  int saved_errno;

  if (self->directory == NULL || self->directory[0] == '\0')
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                           "No outbox directory was given");
      return FALSE;
    }

  if (g_mkdir_with_parents (self->directory, 0700) != 0)
    {
      saved_errno = errno;
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "Cannot create the outbox directory “%s”: %s",
                   self->directory, g_strerror (saved_errno));
      return FALSE;
    }

  /* Find out now, not when the first message is lost: write a file for real (an
   * access() check would say yes to root on a read-only mount or directory). */
  probe = g_build_filename (self->directory, ".write-probe", NULL);
  if (!g_file_set_contents_full (probe, "", 0, G_FILE_SET_CONTENTS_NONE, 0600, &local_error))
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "The outbox directory “%s” is not writable: %s",
                   self->directory, local_error->message);
      return FALSE;
    }
  g_unlink (probe);

  dir = g_dir_open (self->directory, 0, &local_error);
  if (dir == NULL)
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "Cannot read the outbox directory “%s”: %s",
                   self->directory, local_error->message);
      return FALSE;
    }

  /* Collect the names first: setting a file aside renames inside the directory. */
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, FILE_SUFFIX))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);  /* a stable corrupt-file order */

  for (guint i = 0; i < names->len; i++)
    load_file (self, g_ptr_array_index (names, i), loaded);

  g_ptr_array_sort (loaded, compare_items);
  for (guint i = 0; i < loaded->len; i++)
    {
      ConfabOutboxItem *item = g_ptr_array_index (loaded, i);

      g_ptr_array_add (self->items, g_object_ref (item));
      g_hash_table_insert (self->by_id, (gpointer) confab_outbox_item_get_id (item), item);
      self->last_created_at = MAX (self->last_created_at, confab_outbox_item_get_created_at (item));
    }

  g_debug ("Outbox: %u messages loaded from %s, %u set aside",
           self->items->len, self->directory, self->corrupt_paths->len - 1);

  if (self->items->len > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, self->items->len);
  update_counts (self);

  return TRUE;
}

static gboolean
confab_outbox_initable_init_impl (GInitable     *initable,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  ConfabOutbox *self = CONFAB_OUTBOX (initable);

  if (!self->initialized)
    {
      self->initialized = TRUE;
      self->init_ok = load_directory (self, &self->init_error);
    }

  if (!self->init_ok)
    {
      if (error != NULL)
        *error = g_error_copy (self->init_error);
      return FALSE;
    }
  return TRUE;
}

static void
confab_outbox_initable_init (GInitableIface *iface)
{
  iface->init = confab_outbox_initable_init_impl;
}

/* ---- GListModel ---------------------------------------------------------------- */

static GType
confab_outbox_get_item_type (GListModel *model)
{
  return CONFAB_TYPE_OUTBOX_ITEM;
}

static guint
confab_outbox_get_n_items (GListModel *model)
{
  ConfabOutbox *self = CONFAB_OUTBOX (model);

  return self->items->len;
}

static gpointer
confab_outbox_get_item (GListModel *model,
                        guint       position)
{
  ConfabOutbox *self = CONFAB_OUTBOX (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
confab_outbox_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = confab_outbox_get_item_type;
  iface->get_n_items = confab_outbox_get_n_items;
  iface->get_item = confab_outbox_get_item;
}

/* ---- GObject ------------------------------------------------------------------- */

static void
confab_outbox_dispose (GObject *object)
{
  ConfabOutbox *self = CONFAB_OUTBOX (object);

  if (self->by_id != NULL)
    g_hash_table_remove_all (self->by_id);
  if (self->items != NULL)
    g_ptr_array_set_size (self->items, 0);

  G_OBJECT_CLASS (confab_outbox_parent_class)->dispose (object);
}

static void
confab_outbox_finalize (GObject *object)
{
  ConfabOutbox *self = CONFAB_OUTBOX (object);

  g_clear_pointer (&self->directory, g_free);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->corrupt_paths, g_ptr_array_unref);
  g_clear_error (&self->init_error);

  G_OBJECT_CLASS (confab_outbox_parent_class)->finalize (object);
}

static void
confab_outbox_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  ConfabOutbox *self = CONFAB_OUTBOX (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY:
      g_value_set_string (value, self->directory);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->items->len);
      break;
    case PROP_N_PENDING:
      g_value_set_uint (value, self->n_pending);
      break;
    case PROP_N_FAILED:
      g_value_set_uint (value, self->n_failed);
      break;
    case PROP_N_CORRUPT:
      g_value_set_uint (value, self->corrupt_paths->len - 1);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_outbox_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  ConfabOutbox *self = CONFAB_OUTBOX (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY:
      g_free (self->directory);
      self->directory = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_outbox_class_init (ConfabOutboxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_outbox_dispose;
  object_class->finalize = confab_outbox_finalize;
  object_class->get_property = confab_outbox_get_property;
  object_class->set_property = confab_outbox_set_property;

  /**
   * ConfabOutbox:directory:
   *
   * Where the message files live (created 0700 if missing).
   */
  properties[PROP_DIRECTORY] =
    g_param_spec_string ("directory", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutbox:n-items:
   *
   * The number of items in the model (sent ones included until pruned).
   */
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutbox:n-pending:
   *
   * Messages not yet delivered and still being tried (QUEUED or SENDING).
   */
  properties[PROP_N_PENDING] =
    g_param_spec_uint ("n-pending", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutbox:n-failed:
   *
   * Messages the server refused, waiting for the user's Retry or Discard.
   */
  properties[PROP_N_FAILED] =
    g_param_spec_uint ("n-failed", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabOutbox:n-corrupt:
   *
   * Unreadable files found while loading, each kept aside (see
   * confab_outbox_get_corrupt_paths()).
   */
  properties[PROP_N_CORRUPT] =
    g_param_spec_uint ("n-corrupt", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabOutbox::corrupt-file:
   * @self: the outbox
   * @path: where the unreadable file is now kept (its original path if it could not
   *   be renamed)
   *
   * Emitted while loading (during g_initable_init(): to hear it, create the outbox
   * with g_object_new(), connect, then call g_initable_init(); after
   * confab_outbox_new() read confab_outbox_get_corrupt_paths()) for each message file
   * that could not be read. The file is renamed to "<name>.corrupt-<UTC time>",
   * never deleted; loading goes on with the others.
   */
  signals[SIGNAL_CORRUPT_FILE] =
    g_signal_new ("corrupt-file", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  /**
   * ConfabOutbox::storage-error:
   * @self: the outbox
   * @error: a %CONFAB_ERROR_STORAGE error naming the directory
   *
   * A status change could not be written (the new status holds in memory; on disk the
   * message keeps its previous state, which at worst means one more attempt after a
   * restart, answered as a duplicate). confab_outbox_enqueue() reports its own
   * failures through its #GError instead.
   */
  signals[SIGNAL_STORAGE_ERROR] =
    g_signal_new ("storage-error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
confab_outbox_init (ConfabOutbox *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->corrupt_paths = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->corrupt_paths, NULL);
}

/* ---- public API ---------------------------------------------------------------- */

/**
 * confab_outbox_new:
 * @directory: where to keep the messages (created 0700 if needed)
 * @error: return location for a %CONFAB_ERROR_STORAGE error
 *
 * Opens the outbox in @directory and loads every message file found there; files that
 * cannot be read are set aside (see #ConfabOutbox::corrupt-file) and do not make this
 * fail. Fails only when @directory cannot be created, written or listed.
 *
 * Returns: (transfer full) (nullable): the outbox
 */
ConfabOutbox *
confab_outbox_new (const char  *directory,
                   GError     **error)
{
  g_return_val_if_fail (directory != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (CONFAB_TYPE_OUTBOX, NULL, error, "directory", directory, NULL);
}

/**
 * confab_outbox_get_directory:
 * @self: a #ConfabOutbox
 *
 * Returns: the outbox directory
 */
const char *
confab_outbox_get_directory (ConfabOutbox *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), NULL);

  return self->directory;
}

/**
 * confab_outbox_get_n_pending:
 * @self: a #ConfabOutbox
 *
 * Returns: the number of QUEUED and SENDING messages
 */
guint
confab_outbox_get_n_pending (ConfabOutbox *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), 0);

  return self->n_pending;
}

/**
 * confab_outbox_get_n_failed:
 * @self: a #ConfabOutbox
 *
 * Returns: the number of FAILED messages
 */
guint
confab_outbox_get_n_failed (ConfabOutbox *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), 0);

  return self->n_failed;
}

/**
 * confab_outbox_get_n_corrupt:
 * @self: a #ConfabOutbox
 *
 * Returns: the number of files set aside while loading
 */
guint
confab_outbox_get_n_corrupt (ConfabOutbox *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), 0);

  return self->corrupt_paths->len - 1;
}

/**
 * confab_outbox_get_corrupt_paths:
 * @self: a #ConfabOutbox
 *
 * Returns: (transfer none) (array zero-terminated=1): where each file set aside while
 *   loading now is, in the order they were found
 */
const char * const *
confab_outbox_get_corrupt_paths (ConfabOutbox *self)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), NULL);

  return (const char * const *) self->corrupt_paths->pdata;
}

static gboolean
owns (ConfabOutbox     *self,
      ConfabOutboxItem *item)
{
  if (g_hash_table_lookup (self->by_id, confab_outbox_item_get_id (item)) == item)
    return TRUE;

  g_debug ("Outbox: message %s is not (or no longer) in the outbox; ignored",
           confab_outbox_item_get_id (item));
  return FALSE;
}

/**
 * confab_outbox_enqueue:
 * @self: a #ConfabOutbox
 * @cid: the channel, "type:id"
 * @text: the message text
 * @error: return location for an error
 *
 * Gives the message its id (a UUIDv4, reused by every attempt) and writes it to disk;
 * returns only once the file is durable (fsync'd, directory included). The item is
 * appended to the model as QUEUED.
 *
 * Errors: %CONFAB_ERROR_REJECTED when @cid or @text is not acceptable (see
 * confab_outbox_validate()), %CONFAB_ERROR_STORAGE when the file cannot be written;
 * in both cases nothing is queued.
 *
 * Returns: (transfer none) (nullable): the new item, owned by the outbox (valid until
 *   it is discarded or pruned; take a reference to keep it longer)
 */
ConfabOutboxItem *
confab_outbox_enqueue (ConfabOutbox  *self,
                       const char    *cid,
                       const char    *text,
                       GError       **error)
{
  g_autoptr(ConfabOutboxItem) item = NULL;
  g_autoptr(GError) sync_error = NULL;
  g_autofree char *id = NULL;
  gint64 created_at;

  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), NULL);
  g_return_val_if_fail (self->init_ok, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!confab_outbox_validate (cid, text, error))
    return NULL;

  do
    {
      g_free (id);
      id = g_uuid_string_random ();
    }
  while (g_hash_table_contains (self->by_id, id));

  /* Strictly increasing, so the creation order survives a reload even when the wall
   * clock stands still or steps back. */
  created_at = MAX (g_get_real_time (), self->last_created_at + 1);
  item = _confab_outbox_item_new (id, cid, text, created_at, CONFAB_OUTBOX_STATUS_QUEUED, 0);

  if (!write_item (self, item, error))
    return NULL;
  if (!fsync_directory (self->directory, &sync_error))
    {
      /* Not durable: take it back rather than let it come back after a crash as a
       * message the user was told had not been queued. */
      remove_item_file (self, item, NULL);
      g_propagate_error (error, g_steal_pointer (&sync_error));
      return NULL;
    }

  self->last_created_at = created_at;
  g_ptr_array_add (self->items, g_object_ref (item));
  g_hash_table_insert (self->by_id, (gpointer) confab_outbox_item_get_id (item), item);
  g_debug ("Outbox: message %s queued for %s", id, cid);

  g_list_model_items_changed (G_LIST_MODEL (self), self->items->len - 1, 0, 1);
  update_counts (self);

  return item;
}

/**
 * confab_outbox_next_pending:
 * @self: a #ConfabOutbox
 *
 * The next message to send: the oldest QUEUED one whose channel has no older message
 * in flight (SENDING), so each channel gets its messages in order while channels do
 * not wait for each other. A message re-queued after a transient failure keeps its
 * place, so it goes before the channel's newer ones. FAILED messages do not hold their
 * channel back.
 *
 * Returns: (transfer none) (nullable): the item, or %NULL when nothing can be sent now
 */
ConfabOutboxItem *
confab_outbox_next_pending (ConfabOutbox *self)
{
  g_autoptr(GHashTable) busy = NULL;

  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), NULL);

  busy = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < self->items->len; i++)
    {
      ConfabOutboxItem *item = g_ptr_array_index (self->items, i);
      const char *cid = confab_outbox_item_get_cid (item);

      switch (confab_outbox_item_get_status (item))
        {
        case CONFAB_OUTBOX_STATUS_SENDING:
          g_hash_table_add (busy, (gpointer) cid);
          break;
        case CONFAB_OUTBOX_STATUS_QUEUED:
          if (!g_hash_table_contains (busy, cid))
            return item;
          break;
        case CONFAB_OUTBOX_STATUS_SENT:
        case CONFAB_OUTBOX_STATUS_FAILED:
        default:
          break;
        }
    }

  return NULL;
}

/**
 * confab_outbox_lookup:
 * @self: a #ConfabOutbox
 * @id: a message id
 *
 * Finds a message by id, e.g. when the server's own `message.new` for it arrives.
 *
 * Returns: (transfer none) (nullable): the item
 */
ConfabOutboxItem *
confab_outbox_lookup (ConfabOutbox *self,
                      const char   *id)
{
  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  return g_hash_table_lookup (self->by_id, id);
}

static void
persist (ConfabOutbox     *self,
         ConfabOutboxItem *item)
{
  g_autoptr(GError) error = NULL;

  if (!write_item (self, item, &error))
    report_storage_error (self, error);
}

/**
 * confab_outbox_mark_sending:
 * @self: a #ConfabOutbox
 * @item: a QUEUED item of @self
 *
 * An attempt starts. Ignored unless @item is QUEUED (and still in the outbox).
 */
void
confab_outbox_mark_sending (ConfabOutbox     *self,
                            ConfabOutboxItem *item)
{
  g_return_if_fail (CONFAB_IS_OUTBOX (self));
  g_return_if_fail (CONFAB_IS_OUTBOX_ITEM (item));

  if (!owns (self, item))
    return;
  if (confab_outbox_item_get_status (item) != CONFAB_OUTBOX_STATUS_QUEUED)
    {
      g_debug ("Outbox: message %s is not queued; not marked sending", confab_outbox_item_get_id (item));
      return;
    }

  _confab_outbox_item_set_status (item, CONFAB_OUTBOX_STATUS_SENDING);
  persist (self, item);
  update_counts (self);
}

/**
 * confab_outbox_mark_sent:
 * @self: a #ConfabOutbox
 * @item: an item of @self
 *
 * The server has the message (it answered, it sent its `message.new`, or it said the
 * id already exists). Its file is deleted; the item stays in the model, SENT, until
 * confab_outbox_prune(). Ignored for an item already sent or no longer in the outbox.
 */
void
confab_outbox_mark_sent (ConfabOutbox     *self,
                         ConfabOutboxItem *item)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (CONFAB_IS_OUTBOX (self));
  g_return_if_fail (CONFAB_IS_OUTBOX_ITEM (item));

  if (!owns (self, item) || confab_outbox_item_get_status (item) == CONFAB_OUTBOX_STATUS_SENT)
    return;

  g_object_freeze_notify (G_OBJECT (item));
  _confab_outbox_item_set_status (item, CONFAB_OUTBOX_STATUS_SENT);
  _confab_outbox_item_set_last_error (item, NULL);
  g_object_thaw_notify (G_OBJECT (item));

  /* A file left behind only means one more attempt after a restart, which the server
   * answers as a duplicate. */
  if (!remove_item_file (self, item, &error))
    report_storage_error (self, error);
  update_counts (self);
}

/**
 * confab_outbox_mark_failed:
 * @self: a #ConfabOutbox
 * @item: a QUEUED or SENDING item of @self
 * @error: why the attempt failed
 *
 * An attempt failed. A transient @error (confab_error_is_transient(): network,
 * timeout, lost connection, server, rate limit) puts the message back to QUEUED with
 * one more attempt counted, for a later retry; any other error marks it FAILED until
 * the user retries or discards it. Stream's duplicate-id answer
 * (confab_api_error_is_duplicate()) marks it SENT instead. Ignored for an item
 * that is SENT, FAILED or no longer in the outbox.
 */
void
confab_outbox_mark_failed (ConfabOutbox     *self,
                           ConfabOutboxItem *item,
                           const GError     *error)
{
  ConfabOutboxStatus status;

  g_return_if_fail (CONFAB_IS_OUTBOX (self));
  g_return_if_fail (CONFAB_IS_OUTBOX_ITEM (item));
  g_return_if_fail (error != NULL);

  if (!owns (self, item))
    return;
  status = confab_outbox_item_get_status (item);
  if (status != CONFAB_OUTBOX_STATUS_QUEUED && status != CONFAB_OUTBOX_STATUS_SENDING)
    return;

  if (confab_api_error_is_duplicate (error))
    {
      g_debug ("Outbox: message %s already delivered", confab_outbox_item_get_id (item));
      confab_outbox_mark_sent (self, item);
      return;
    }

  g_object_freeze_notify (G_OBJECT (item));
  _confab_outbox_item_set_attempts (item, confab_outbox_item_get_attempts (item) + 1);
  _confab_outbox_item_set_last_error (item, error);
  _confab_outbox_item_set_status (item, confab_error_is_transient (error)
                                        ? CONFAB_OUTBOX_STATUS_QUEUED
                                        : CONFAB_OUTBOX_STATUS_FAILED);
  persist (self, item);
  update_counts (self);
  g_object_thaw_notify (G_OBJECT (item));
}

/**
 * confab_outbox_retry:
 * @self: a #ConfabOutbox
 * @item: a FAILED item of @self
 *
 * The user's Retry: FAILED → QUEUED (same id; the attempt count is kept, the error
 * cleared). Ignored for an item in any other state.
 */
void
confab_outbox_retry (ConfabOutbox     *self,
                     ConfabOutboxItem *item)
{
  g_return_if_fail (CONFAB_IS_OUTBOX (self));
  g_return_if_fail (CONFAB_IS_OUTBOX_ITEM (item));

  if (!owns (self, item) || confab_outbox_item_get_status (item) != CONFAB_OUTBOX_STATUS_FAILED)
    return;

  g_object_freeze_notify (G_OBJECT (item));
  _confab_outbox_item_set_status (item, CONFAB_OUTBOX_STATUS_QUEUED);
  _confab_outbox_item_set_last_error (item, NULL);
  persist (self, item);
  update_counts (self);
  g_object_thaw_notify (G_OBJECT (item));
}

static void
remove_at (ConfabOutbox *self,
           guint         position,
           guint         n)
{
  for (guint i = position; i < position + n; i++)
    g_hash_table_remove (self->by_id,
                         confab_outbox_item_get_id (g_ptr_array_index (self->items, i)));
  g_ptr_array_remove_range (self->items, position, n);
  g_list_model_items_changed (G_LIST_MODEL (self), position, n, 0);
}

/**
 * confab_outbox_discard:
 * @self: a #ConfabOutbox
 * @item: an item of @self
 *
 * The user's Discard: the message leaves the outbox and the model, and its file is
 * deleted. (Discarding a SENDING message cannot recall an attempt already in flight.)
 */
void
confab_outbox_discard (ConfabOutbox     *self,
                       ConfabOutboxItem *item)
{
  g_autoptr(ConfabOutboxItem) keep = NULL;
  g_autoptr(GError) error = NULL;
  guint position;

  g_return_if_fail (CONFAB_IS_OUTBOX (self));
  g_return_if_fail (CONFAB_IS_OUTBOX_ITEM (item));

  if (!owns (self, item) || !g_ptr_array_find (self->items, item, &position))
    return;

  keep = g_object_ref (item);
  if (!remove_item_file (self, item, &error) ||
      !fsync_directory (self->directory, &error))
    report_storage_error (self, error);

  g_debug ("Outbox: message %s discarded", confab_outbox_item_get_id (item));
  remove_at (self, position, 1);
  update_counts (self);
}

static gboolean
is_sent_at (ConfabOutbox *self,
            guint         position)
{
  ConfabOutboxItem *item = g_ptr_array_index (self->items, position);

  return confab_outbox_item_get_status (item) == CONFAB_OUTBOX_STATUS_SENT;
}

/**
 * confab_outbox_prune:
 * @self: a #ConfabOutbox
 *
 * Removes the SENT items from the model (their files are already gone), one
 * #GListModel::items-changed per run of neighbouring items, last run first.
 *
 * Returns: how many items were removed
 */
guint
confab_outbox_prune (ConfabOutbox *self)
{
  guint removed = 0;
  guint end;

  g_return_val_if_fail (CONFAB_IS_OUTBOX (self), 0);

  end = self->items->len;
  while (end > 0)
    {
      guint start;

      if (!is_sent_at (self, end - 1))
        {
          end--;
          continue;
        }

      start = end - 1;
      while (start > 0 && is_sent_at (self, start - 1))
        start--;

      remove_at (self, start, end - start);
      removed += end - start;
      end = start;
    }

  if (removed > 0)
    update_counts (self);
  return removed;
}
