/* confab-sandbox-store.c: the sandbox's users, channels, members, messages and read state
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "confab-sandbox-store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "confab-sandbox-error.h"
#include "confab-sandbox-json.h"

#define DB_FILE_NAME          "sandbox.db"
#define BUSY_TIMEOUT_MS       5000
#define MAX_USER_ID_LENGTH    255
#define MAX_CHANNEL_ID_LENGTH 64
#define MAX_TYPE_LENGTH       64
#define MAX_MESSAGE_ID_LENGTH 255
#define MAX_MESSAGE_LENGTH    5000
#define MAX_IDS_PER_LOOKUP    50

#define COL_TEXT(stmt, col) ((const char *) sqlite3_column_text ((stmt), (col)))
#define COL_IS_NULL(stmt, col) (sqlite3_column_type ((stmt), (col)) == SQLITE_NULL)

#define USER_COLUMNS "id, name, image, role, data, created_at, updated_at, last_active"
enum {
  USER_ID,
  USER_NAME,
  USER_IMAGE,
  USER_ROLE,
  USER_DATA,
  USER_CREATED_AT,
  USER_UPDATED_AT,
  USER_LAST_ACTIVE,
};

#define MESSAGE_COLUMNS \
  "seq, id, cid, user_id, text, type, parent_id, data, created_at, updated_at, deleted_at"
enum {
  MSG_SEQ,
  MSG_ID,
  MSG_CID,
  MSG_USER_ID,
  MSG_TEXT,
  MSG_TYPE,
  MSG_PARENT_ID,
  MSG_DATA,
  MSG_CREATED_AT,
  MSG_UPDATED_AT,
  MSG_DELETED_AT,
};

static const char schema_sql[] =
  "CREATE TABLE users ("
  "  id          TEXT PRIMARY KEY,"
  "  name        TEXT,"
  "  image       TEXT,"
  "  role        TEXT NOT NULL DEFAULT 'user',"
  "  data        TEXT NOT NULL DEFAULT '{}',"
  "  created_at  INTEGER NOT NULL,"
  "  updated_at  INTEGER NOT NULL,"
  "  last_active INTEGER"
  ");"
  "CREATE INDEX users_created ON users (created_at, id);"
  "CREATE TABLE channels ("
  "  cid             TEXT PRIMARY KEY,"
  "  type            TEXT NOT NULL,"
  "  id              TEXT NOT NULL,"
  "  created_by      TEXT REFERENCES users (id),"
  "  data            TEXT NOT NULL DEFAULT '{}',"
  "  created_at      INTEGER NOT NULL,"
  "  updated_at      INTEGER NOT NULL,"
  "  last_message_at INTEGER,"
  "  message_count   INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE members ("
  "  cid          TEXT NOT NULL REFERENCES channels (cid) ON DELETE CASCADE,"
  "  user_id      TEXT NOT NULL REFERENCES users (id),"
  "  channel_role TEXT NOT NULL DEFAULT 'channel_member',"
  "  created_at   INTEGER NOT NULL,"
  "  updated_at   INTEGER NOT NULL,"
  "  PRIMARY KEY (cid, user_id)"
  ");"
  "CREATE INDEX members_user ON members (user_id);"
  "CREATE TABLE messages ("
  "  seq        INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  id         TEXT NOT NULL UNIQUE,"
  "  cid        TEXT NOT NULL REFERENCES channels (cid) ON DELETE CASCADE,"
  "  user_id    TEXT NOT NULL REFERENCES users (id),"
  "  text       TEXT NOT NULL DEFAULT '',"
  "  type       TEXT NOT NULL DEFAULT 'regular',"
  "  parent_id  TEXT,"
  "  data       TEXT NOT NULL DEFAULT '{}',"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  deleted_at INTEGER"
  ");"
  "CREATE INDEX messages_channel ON messages (cid, seq);"
  "CREATE INDEX messages_parent ON messages (parent_id);"
  "CREATE TABLE reads ("
  "  cid                  TEXT NOT NULL REFERENCES channels (cid) ON DELETE CASCADE,"
  "  user_id              TEXT NOT NULL REFERENCES users (id),"
  "  last_read            INTEGER NOT NULL,"
  "  last_read_message_id TEXT,"
  "  PRIMARY KEY (cid, user_id)"
  ");";

/* Members that are the store's own (computed or read-only): never kept as custom data,
 * so custom fields cannot shadow them in the flat wire shape. */
static const char * const user_skip[] = {
  "id", "name", "image", "role",
  "created_at", "updated_at", "last_active", "online", "banned", "shadow_banned",
  "teams", "devices", "deactivated_at", "deleted_at", "revoke_tokens_issued_before",
  "last_engaged_at", "mutes", "channel_mutes", "unread_count", "total_unread_count",
  "unread_channels", "unread_threads",
  NULL
};

static const char * const channel_skip[] = {
  "members", "id", "type", "cid", "created_at", "updated_at", "deleted_at",
  "truncated_at", "created_by", "created_by_id", "frozen", "disabled", "hidden",
  "member_count", "message_count", "last_message_at", "config", "own_capabilities",
  NULL
};

static const char * const message_skip[] = {
  "id", "text", "type", "parent_id", "user", "user_id", "cid",
  "created_at", "updated_at", "deleted_at", "html", "latest_reactions", "own_reactions",
  "reaction_counts", "reaction_scores", "reply_count", "deleted_reply_count",
  "mentioned_users", "attachments", "silent", "shadowed", "pinned", "pinned_at",
  "pinned_by", "pin_expires", "restricted_visibility", "channel", "member", "i18n",
  "quoted_message", "thread_participants", "mentioned_channel", "mentioned_here",
  "command",
  NULL
};

static const char * const own_capabilities[] = {
  "send-message", "read-events", "typing-events", "update-own-message",
  "delete-own-message", "send-reply", "upload-file", "flag-message", "join-channel",
  "leave-channel", "connect-events", "send-typing-events", "mute-channel", "pin-message",
  "quote-message", "search-messages", "send-reaction",
  NULL
};

struct _ConfabSandboxStore
{
  GObject       parent_instance;

  sqlite3      *db;
  guint         txn_depth;
  gint64        last_now;

  /* Hot statements, prepared once and reset after each use */
  sqlite3_stmt *get_user_stmt;
  sqlite3_stmt *insert_message_stmt;
  sqlite3_stmt *list_older_stmt;
  sqlite3_stmt *list_newer_stmt;
  sqlite3_stmt *reply_count_stmt;

  /* Every query_int64() statement, by SQL text: compiling them on each call cost the
   * sandbox half its CPU under load (docs/sandbox.md, Load). */
  GHashTable   *int_queries;
};

G_DEFINE_FINAL_TYPE (ConfabSandboxStore, confab_sandbox_store, G_TYPE_OBJECT)

/* A cached statement in use: released by resetting it, never by finalising it. */
typedef sqlite3_stmt StoreCursor;

static void
store_cursor_release (StoreCursor *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreCursor, store_cursor_release)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

static JsonObject *lookup_user (ConfabSandboxStore *self,
                                const char         *user_id,
                                GError            **error);

/* ---------------------------------------------------------------------------------------- */
/* SQLite plumbing */

static gboolean
db_error (ConfabSandboxStore  *self,
          GError             **error)
{
  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
               "database error: %s", sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
exec_sql (ConfabSandboxStore  *self,
          const char          *sql,
          GError             **error)
{
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return db_error (self, error);
  return TRUE;
}

static sqlite3_stmt *
prepare (ConfabSandboxStore  *self,
         const char          *sql,
         GError             **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      db_error (self, error);
      sqlite3_finalize (stmt);
      return NULL;
    }
  return stmt;
}

static gboolean
prepare_persistent (ConfabSandboxStore  *self,
                    const char          *sql,
                    sqlite3_stmt       **out_stmt,
                    GError             **error)
{
  if (sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out_stmt, NULL) != SQLITE_OK)
    return db_error (self, error);
  return TRUE;
}

/* 1 for a row, 0 when done, -1 on error (set). */
static int
step (ConfabSandboxStore  *self,
      sqlite3_stmt        *stmt,
      GError             **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  db_error (self, error);
  return -1;
}

static void
bind_text (sqlite3_stmt *stmt,
           int           index,
           const char   *value)
{
  sqlite3_bind_text (stmt, index, value, -1, SQLITE_TRANSIENT);
}

/* Binds ?1 and ?2 as far as the statement has them. */
static void
bind_params (sqlite3_stmt *stmt,
             const char   *arg1,
             const char   *arg2)
{
  int count = sqlite3_bind_parameter_count (stmt);

  if (count >= 1)
    bind_text (stmt, 1, arg1);
  if (count >= 2)
    bind_text (stmt, 2, arg2);
}

/* Runs a statement with up to two text parameters that returns nothing. */
static gboolean
run_sql (ConfabSandboxStore  *self,
         const char          *sql,
         const char          *arg1,
         const char          *arg2,
         GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (self, sql, error);

  if (stmt == NULL)
    return FALSE;
  bind_params (stmt, arg1, arg2);
  return step (self, stmt, error) >= 0;
}

/* Prepared once per SQL text and kept; the caller resets it after use. */
static sqlite3_stmt *
cached_statement (ConfabSandboxStore  *self,
                  const char          *sql,
                  GError             **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->int_queries, sql);

  if (stmt == NULL)
    {
      if (!prepare_persistent (self, sql, &stmt, error))
        return NULL;
      g_hash_table_insert (self->int_queries, g_strdup (sql), stmt);
    }
  return stmt;
}

/* First column of the first row as an integer; *out_found is FALSE (and *out_value 0)
 * when there is no row. */
static gboolean
query_int64 (ConfabSandboxStore  *self,
             const char          *sql,
             const char          *arg1,
             const char          *arg2,
             gint64              *out_value,
             gboolean            *out_found,
             GError             **error)
{
  sqlite3_stmt *stmt = cached_statement (self, sql, error);
  int rc;

  *out_value = 0;
  if (out_found != NULL)
    *out_found = FALSE;
  if (stmt == NULL)
    return FALSE;
  bind_params (stmt, arg1, arg2);

  rc = step (self, stmt, error);
  if (rc > 0)
    {
      *out_value = sqlite3_column_int64 (stmt, 0);
      if (out_found != NULL)
        *out_found = TRUE;
    }
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return rc >= 0;
}

/* Transactions nest through savepoints, so helpers can open their own. */
static gboolean
txn_begin (ConfabSandboxStore  *self,
           GError             **error)
{
  if (!exec_sql (self, self->txn_depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT nested", error))
    return FALSE;
  self->txn_depth++;
  return TRUE;
}

static void
txn_rollback (ConfabSandboxStore *self)
{
  g_return_if_fail (self->txn_depth > 0);

  /* SQLite may already have rolled back by itself (e.g. on a full disk): ignore errors. */
  if (self->txn_depth == 1)
    {
      if (!sqlite3_get_autocommit (self->db))
        sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
    }
  else
    {
      sqlite3_exec (self->db, "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL);
    }
  self->txn_depth--;
}

static gboolean
txn_commit (ConfabSandboxStore  *self,
            GError             **error)
{
  g_return_val_if_fail (self->txn_depth > 0, FALSE);

  if (!exec_sql (self, self->txn_depth == 1 ? "COMMIT" : "RELEASE nested", error))
    {
      txn_rollback (self);
      return FALSE;
    }
  self->txn_depth--;
  return TRUE;
}

/* Strictly increasing, so timestamps order like the writes that made them. */
static gint64
store_now (ConfabSandboxStore *self)
{
  gint64 now = g_get_real_time ();

  if (now <= self->last_now)
    now = self->last_now + 1;
  self->last_now = now;
  return now;
}

/* ---------------------------------------------------------------------------------------- */
/* Validation and errors */

static gboolean
matches_charset (const char *text,
                 gsize       max_length,
                 gboolean    allow_upper,
                 const char *punctuation)
{
  gsize length = 0;

  if (text == NULL || *text == '\0')
    return FALSE;

  for (const char *p = text; *p != '\0'; p++, length++)
    {
      if (length >= max_length)
        return FALSE;
      if (g_ascii_islower (*p) || g_ascii_isdigit (*p) ||
          (allow_upper && g_ascii_isupper (*p)) || strchr (punctuation, *p) != NULL)
        continue;
      return FALSE;
    }
  return TRUE;
}

static gboolean
valid_user_id (const char *id)
{
  return matches_charset (id, MAX_USER_ID_LENGTH, TRUE, "@_-");
}

/* Identifiers are echoed in error messages only when they look like identifiers, so odd
 * input never ends up in a message or a log. */
static const char *
printable_id (const char *id)
{
  if (matches_charset (id, 255, TRUE, "@_!:.-"))
    return id;
  return "(invalid id)";
}

static gboolean
input_error (GError     **error,
             const char  *message)
{
  g_set_error_literal (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT, message);
  return FALSE;
}

static void
user_missing (const char  *user_id,
              GError     **error)
{
  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST,
               "user \"%s\" does not exist", printable_id (user_id));
}

static void
channel_missing (const char  *cid,
                 GError     **error)
{
  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST,
               "channel \"%s\" does not exist", printable_id (cid));
}

static void
message_missing (const char  *message_id,
                 GError     **error)
{
  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST,
               "message \"%s\" does not exist", printable_id (message_id));
}

static gboolean
channel_exists (ConfabSandboxStore  *self,
                const char          *cid,
                GError             **error)
{
  gint64 unused;
  gboolean found = FALSE;

  if (!query_int64 (self, "SELECT 1 FROM channels WHERE cid = ?1", cid, NULL,
                    &unused, &found, error))
    return FALSE;
  if (!found)
    {
      channel_missing (cid, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
user_exists (ConfabSandboxStore  *self,
             const char          *user_id,
             gboolean            *out_exists,
             GError             **error)
{
  g_autoptr(StoreCursor) stmt = self->get_user_stmt;
  int rc;

  bind_text (stmt, 1, user_id);
  rc = step (self, stmt, error);
  *out_exists = rc > 0;
  return rc >= 0;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON and string helpers */

static void
replace_string (char       **target,
                const char  *value)
{
  char *copy = g_strdup (value);

  g_free (*target);
  *target = copy;
}

static void
set_time (JsonObject *object,
          const char *member,
          gint64      usec)
{
  g_autofree char *text = confab_sandbox_format_time (usec);

  json_object_set_string_member (object, member, text);
}

static void
set_time_column (JsonObject   *object,
                 const char   *member,
                 sqlite3_stmt *stmt,
                 int           col)
{
  if (COL_IS_NULL (stmt, col))
    return;
  set_time (object, member, sqlite3_column_int64 (stmt, col));
}

static JsonNode *
parse_stored (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = NULL;

  if (text != NULL)
    node = json_from_string (text, &error);
  if (node != NULL && !JSON_NODE_HOLDS_OBJECT (node))
    g_clear_pointer (&node, json_node_unref);
  if (node == NULL)
    g_debug ("Ignoring stored custom data that is not a JSON object");
  return node;
}

/* Stored custom data as a new object (empty when there is none). */
static JsonObject *
stored_object (const char *text)
{
  g_autoptr(JsonNode) node = parse_stored (text);

  if (node == NULL)
    return json_object_new ();
  return json_object_ref (json_node_get_object (node));
}

/* Adds each stored custom member to @object unless @object already has it. */
static void
merge_custom (JsonObject *object,
              JsonObject *custom)
{
  g_autoptr(GList) names = json_object_get_members (custom);

  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;

      if (!json_object_has_member (object, name))
        json_object_set_member (object, name,
                                json_node_copy (json_object_get_member (custom, name)));
    }
}

static void
copy_custom_members (JsonObject         *from,
                     const char * const *skip,
                     JsonObject         *custom,
                     gboolean            flatten_custom)
{
  g_autoptr(GList) names = json_object_get_members (from);

  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (from, name);

      if (g_strv_contains (skip, name))
        continue;
      /* Newer Stream APIs nest custom data in `custom:{}`; accept it and store it flat. */
      if (flatten_custom && g_str_equal (name, "custom") && JSON_NODE_HOLDS_OBJECT (node))
        {
          copy_custom_members (json_node_get_object (node), skip, custom, FALSE);
          continue;
        }
      json_object_set_member (custom, name, json_node_copy (node));
    }
}

/* Every member of @input except @skip, into @custom (replacing what is there). */
static void
collect_custom (JsonObject         *input,
                const char * const *skip,
                JsonObject         *custom)
{
  if (input != NULL)
    copy_custom_members (input, skip, custom, TRUE);
}

static char *
strv_to_json (char **strv)
{
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(JsonNode) node = NULL;

  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    json_array_add_string_element (array, strv[i]);
  node = json_node_init_array (json_node_alloc (), array);
  return json_to_string (node, FALSE);
}

static int
compare_strings (const void *a,
                 const void *b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* Sorted, without duplicates. */
static char **
sort_unique (char **ids)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char **sorted = NULL;
  guint n = ids != NULL ? g_strv_length (ids) : 0;

  sorted = g_new0 (char *, n + 1);
  if (n > 0)
    memcpy (sorted, ids, n * sizeof (char *));
  qsort (sorted, n, sizeof (char *), compare_strings);

  for (guint i = 0; i < n; i++)
    if (i == 0 || strcmp (sorted[i], sorted[i - 1]) != 0)
      g_strv_builder_add (builder, sorted[i]);

  return g_strv_builder_end (builder);
}

static GPtrArray *
object_array_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
}

/* ---------------------------------------------------------------------------------------- */
/* Opening */

static void
confab_sandbox_store_finalize (GObject *object)
{
  ConfabSandboxStore *self = CONFAB_SANDBOX_STORE (object);

  g_clear_pointer (&self->get_user_stmt, sqlite3_finalize);
  g_clear_pointer (&self->insert_message_stmt, sqlite3_finalize);
  g_clear_pointer (&self->list_older_stmt, sqlite3_finalize);
  g_clear_pointer (&self->list_newer_stmt, sqlite3_finalize);
  g_clear_pointer (&self->reply_count_stmt, sqlite3_finalize);
  g_clear_pointer (&self->int_queries, g_hash_table_unref);
  g_clear_pointer (&self->db, sqlite3_close);

  G_OBJECT_CLASS (confab_sandbox_store_parent_class)->finalize (object);
}

static void
confab_sandbox_store_class_init (ConfabSandboxStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_sandbox_store_finalize;
}

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static void
confab_sandbox_store_init (ConfabSandboxStore *self)
{
  self->int_queries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, finalize_statement);
}

/* Refuse a file that is not a SQLite database before SQLite opens it, so the refusal does
 * not depend on how SQLite copes with it and nothing is ever written beside or over it. */
static gboolean
check_existing_file (const char  *path,
                     GError     **error)
{
  static const char magic[16] = "SQLite format 3";
  char header[16] = { 0 };
  GStatBuf st;
  FILE *file;
  size_t n;

  if (g_stat (path, &st) != 0)
    return TRUE;
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                   "%s is not a regular file; refusing to use it", path);
      return FALSE;
    }
  if (st.st_size == 0)
    return TRUE;

  file = g_fopen (path, "rb");
  if (file == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                   "cannot read %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  n = fread (header, 1, sizeof header, file);
  fclose (file);

  if (n != sizeof header || memcmp (header, magic, sizeof header) != 0)
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                   "%s is not a SQLite database; refusing to open or overwrite it", path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_user_version (ConfabSandboxStore  *self,
                   const char          *path,
                   int                 *out_version,
                   GError             **error)
{
  sqlite3_stmt *raw = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &raw, NULL);
  stmt = raw;
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *out_version = sqlite3_column_int (stmt, 0);
      return TRUE;
    }

  if (sqlite3_errcode (self->db) == SQLITE_NOTADB)
    g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                 "%s is not a SQLite database; refusing to open or overwrite it", path);
  else
    g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                 "cannot read %s: %s", path, sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
check_version (int          version,
               const char  *path,
               GError     **error)
{
  if (version > CONFAB_SANDBOX_STORE_SCHEMA_VERSION || version < 0)
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                   "%s has schema version %d but this sandbox supports up to version %d; "
                   "refusing to open it", path, version, CONFAB_SANDBOX_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  return TRUE;
}

static gboolean
open_schema (ConfabSandboxStore  *self,
             const char          *path,
             gboolean             on_disk,
             GError             **error)
{
  int version = 0;
  gint64 table_count = 0;

  /* Read before any pragma that writes, so a foreign or newer file stays untouched. */
  if (!read_user_version (self, path, &version, error) ||
      !check_version (version, path, error))
    return FALSE;

  if (version == 0)
    {
      if (!query_int64 (self, "SELECT COUNT(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
                        NULL, NULL, &table_count, NULL, error))
        return FALSE;
      if (table_count > 0)
        {
          g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                       "%s is a SQLite database of another program (schema version 0 with "
                       "existing tables); refusing to change it", path);
          return FALSE;
        }
    }

  if (!exec_sql (self, "PRAGMA foreign_keys = ON", error))
    return FALSE;
  if (on_disk &&
      (!exec_sql (self, "PRAGMA journal_mode = WAL", error) ||
       !exec_sql (self, "PRAGMA synchronous = NORMAL", error)))
    return FALSE;

  if (!txn_begin (self, error))
    return FALSE;
  /* Another process may have created the schema since the first look. */
  if (!read_user_version (self, path, &version, error) ||
      !check_version (version, path, error))
    {
      txn_rollback (self);
      return FALSE;
    }
  if (version == 0)
    {
      g_autofree char *set_version =
        g_strdup_printf ("PRAGMA user_version = %d", CONFAB_SANDBOX_STORE_SCHEMA_VERSION);

      if (!exec_sql (self, schema_sql, error) || !exec_sql (self, set_version, error))
        {
          txn_rollback (self);
          return FALSE;
        }
    }
  return txn_commit (self, error);
}

static gboolean
prepare_hot_statements (ConfabSandboxStore  *self,
                        GError             **error)
{
  return prepare_persistent (self, "SELECT " USER_COLUMNS " FROM users WHERE id = ?1",
                             &self->get_user_stmt, error) &&
         prepare_persistent (self,
                             "INSERT INTO messages (id, cid, user_id, text, type, parent_id, data, "
                             "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                             &self->insert_message_stmt, error) &&
         prepare_persistent (self,
                             "SELECT " MESSAGE_COLUMNS " FROM messages WHERE cid = ?1 "
                             "AND parent_id IS NULL AND seq > ?2 AND seq < ?3 "
                             "ORDER BY seq DESC LIMIT ?4",
                             &self->list_older_stmt, error) &&
         prepare_persistent (self,
                             "SELECT " MESSAGE_COLUMNS " FROM messages WHERE cid = ?1 "
                             "AND parent_id IS NULL AND seq > ?2 AND seq < ?3 "
                             "ORDER BY seq ASC LIMIT ?4",
                             &self->list_newer_stmt, error) &&
         prepare_persistent (self, "SELECT COUNT(*) FROM messages WHERE parent_id = ?1",
                             &self->reply_count_stmt, error);
}

ConfabSandboxStore *
confab_sandbox_store_new (const char  *data_dir,
                          GError     **error)
{
  g_autoptr(ConfabSandboxStore) self = NULL;
  g_autofree char *path = NULL;

  if (data_dir != NULL)
    {
      if (g_mkdir_with_parents (data_dir, 0700) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                       "cannot create data directory %s: %s", data_dir, g_strerror (saved_errno));
          return NULL;
        }
      path = g_build_filename (data_dir, DB_FILE_NAME, NULL);
      if (!check_existing_file (path, error))
        return NULL;
    }
  else
    {
      path = g_strdup (":memory:");
    }

  self = g_object_new (CONFAB_SANDBOX_TYPE_STORE, NULL);
  if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL,
                   "cannot open %s: %s", path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : "out of memory");
      return NULL;
    }
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  if (!open_schema (self, path, data_dir != NULL, error) ||
      !prepare_hot_statements (self, error))
    return NULL;

  return g_steal_pointer (&self);
}

int
confab_sandbox_store_get_schema_version (ConfabSandboxStore *self)
{
  gint64 version = -1;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), -1);

  if (!query_int64 (self, "PRAGMA user_version", NULL, NULL, &version, NULL, NULL))
    return -1;
  return (int) version;
}

/* ---------------------------------------------------------------------------------------- */
/* Users */

static JsonObject *
user_from_row (sqlite3_stmt *stmt)
{
  JsonObject *user = json_object_new ();
  g_autoptr(JsonObject) custom = stored_object (COL_TEXT (stmt, USER_DATA));

  json_object_set_string_member (user, "id", COL_TEXT (stmt, USER_ID));
  if (!COL_IS_NULL (stmt, USER_NAME))
    json_object_set_string_member (user, "name", COL_TEXT (stmt, USER_NAME));
  if (!COL_IS_NULL (stmt, USER_IMAGE))
    json_object_set_string_member (user, "image", COL_TEXT (stmt, USER_IMAGE));
  json_object_set_string_member (user, "role", COL_TEXT (stmt, USER_ROLE));
  set_time_column (user, "created_at", stmt, USER_CREATED_AT);
  set_time_column (user, "updated_at", stmt, USER_UPDATED_AT);
  set_time_column (user, "last_active", stmt, USER_LAST_ACTIVE);
  json_object_set_boolean_member (user, "online", FALSE);
  json_object_set_boolean_member (user, "banned", FALSE);
  json_object_set_array_member (user, "teams", json_array_new ());
  merge_custom (user, custom);

  return user;
}

static JsonObject *
lookup_user (ConfabSandboxStore  *self,
             const char          *user_id,
             GError             **error)
{
  g_autoptr(StoreCursor) stmt = self->get_user_stmt;
  int rc;

  bind_text (stmt, 1, user_id);
  rc = step (self, stmt, error);
  if (rc < 0)
    return NULL;
  if (rc == 0)
    {
      user_missing (user_id, error);
      return NULL;
    }
  return user_from_row (stmt);
}

/* For embedding: the user object, or JSON null when it is gone. */
static void
set_user_member (ConfabSandboxStore *self,
                 JsonObject         *object,
                 const char         *member,
                 const char         *user_id)
{
  JsonObject *user = user_id != NULL ? lookup_user (self, user_id, NULL) : NULL;

  if (user != NULL)
    json_object_set_object_member (object, member, user);
  else
    json_object_set_null_member (object, member);
}

static gboolean
read_user_strings (JsonObject  *object,
                   const char **out_name,
                   const char **out_image,
                   const char **out_role,
                   GError     **error)
{
  if (!confab_sandbox_json_get_string (object, "name", FALSE, out_name, error) ||
      !confab_sandbox_json_get_string (object, "image", FALSE, out_image, error) ||
      !confab_sandbox_json_get_string (object, "role", FALSE, out_role, error))
    return FALSE;
  if (*out_role != NULL && **out_role == '\0')
    return input_error (error, "invalid request: role must not be empty");
  return TRUE;
}

static gboolean
check_user_id (const char  *id,
               GError     **error)
{
  if (!valid_user_id (id))
    return input_error (error, "invalid request: user id must be 1 to 255 characters "
                               "of a-z, A-Z, 0-9, @, _ and -");
  return TRUE;
}

JsonObject *
confab_sandbox_store_upsert_user (ConfabSandboxStore  *self,
                                  JsonObject          *user,
                                  GError             **error)
{
  g_autoptr(JsonObject) custom = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *custom_text = NULL;
  const char *id = NULL;
  const char *name = NULL;
  const char *image = NULL;
  const char *role = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (user == NULL)
    {
      input_error (error, "invalid request: user is a required field");
      return NULL;
    }
  if (!confab_sandbox_json_get_string (user, "id", TRUE, &id, error) ||
      !check_user_id (id, error) ||
      !read_user_strings (user, &name, &image, &role, error))
    return NULL;

  custom = json_object_new ();
  collect_custom (user, user_skip, custom);
  custom_text = confab_sandbox_json_to_string (custom);

  /* A single statement is atomic; an upsert replaces everything but created_at. */
  stmt = prepare (self,
                  "INSERT INTO users (id, name, image, role, data, created_at, updated_at) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) "
                  "ON CONFLICT (id) DO UPDATE SET name = excluded.name, image = excluded.image, "
                  "role = excluded.role, data = excluded.data, updated_at = excluded.updated_at",
                  error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, id);
  bind_text (stmt, 2, name);
  bind_text (stmt, 3, image);
  bind_text (stmt, 4, role != NULL ? role : "user");
  bind_text (stmt, 5, custom_text);
  sqlite3_bind_int64 (stmt, 6, store_now (self));
  if (step (self, stmt, error) < 0)
    return NULL;

  return lookup_user (self, id, error);
}

static gboolean
apply_partial_update (ConfabSandboxStore  *self,
                      const char          *user_id,
                      JsonObject          *set,
                      char               **unset,
                      GError             **error)
{
  g_autoptr(sqlite3_stmt) select = NULL;
  g_autoptr(sqlite3_stmt) update = NULL;
  g_autoptr(JsonObject) custom = NULL;
  g_autofree char *name = NULL;
  g_autofree char *image = NULL;
  g_autofree char *role = NULL;
  g_autofree char *custom_text = NULL;
  int rc;

  select = prepare (self, "SELECT name, image, role, data FROM users WHERE id = ?1", error);
  if (select == NULL)
    return FALSE;
  bind_text (select, 1, user_id);
  rc = step (self, select, error);
  if (rc < 0)
    return FALSE;
  if (rc == 0)
    {
      user_missing (user_id, error);
      return FALSE;
    }
  name = g_strdup (COL_TEXT (select, 0));
  image = g_strdup (COL_TEXT (select, 1));
  role = g_strdup (COL_TEXT (select, 2));
  custom = stored_object (COL_TEXT (select, 3));

  if (set != NULL)
    {
      const char *new_id = NULL;
      const char *new_name = NULL;
      const char *new_image = NULL;
      const char *new_role = NULL;

      if (!confab_sandbox_json_get_string (set, "id", FALSE, &new_id, error) ||
          !read_user_strings (set, &new_name, &new_image, &new_role, error))
        return FALSE;
      if (new_id != NULL && !g_str_equal (new_id, user_id))
        return input_error (error, "invalid request: a user's id cannot be changed");

      /* A member set to null clears it. */
      if (json_object_has_member (set, "name"))
        replace_string (&name, new_name);
      if (json_object_has_member (set, "image"))
        replace_string (&image, new_image);
      if (json_object_has_member (set, "role"))
        replace_string (&role, new_role != NULL ? new_role : "user");
      collect_custom (set, user_skip, custom);
    }

  for (guint i = 0; unset != NULL && unset[i] != NULL; i++)
    {
      const char *key = unset[i];

      if (g_str_equal (key, "id"))
        return input_error (error, "invalid request: a user's id cannot be unset");
      else if (g_str_equal (key, "name"))
        g_clear_pointer (&name, g_free);
      else if (g_str_equal (key, "image"))
        g_clear_pointer (&image, g_free);
      else if (g_str_equal (key, "role"))
        replace_string (&role, "user");
      else if (json_object_has_member (custom, key))
        json_object_remove_member (custom, key);
    }

  custom_text = confab_sandbox_json_to_string (custom);
  update = prepare (self,
                    "UPDATE users SET name = ?2, image = ?3, role = ?4, data = ?5, updated_at = ?6 "
                    "WHERE id = ?1",
                    error);
  if (update == NULL)
    return FALSE;
  bind_text (update, 1, user_id);
  bind_text (update, 2, name);
  bind_text (update, 3, image);
  bind_text (update, 4, role);
  bind_text (update, 5, custom_text);
  sqlite3_bind_int64 (update, 6, store_now (self));
  return step (self, update, error) >= 0;
}

JsonObject *
confab_sandbox_store_partial_update_user (ConfabSandboxStore  *self,
                                          const char          *user_id,
                                          JsonObject          *set,
                                          char               **unset,
                                          GError             **error)
{
  g_autoptr(JsonObject) user = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (user_id == NULL)
    {
      input_error (error, "invalid request: id is a required field");
      return NULL;
    }

  if (!txn_begin (self, error))
    return NULL;
  if (!apply_partial_update (self, user_id, set, unset, error) ||
      (user = lookup_user (self, user_id, error)) == NULL)
    {
      txn_rollback (self);
      return NULL;
    }
  if (!txn_commit (self, error))
    return NULL;

  return g_steal_pointer (&user);
}

JsonObject *
confab_sandbox_store_get_user (ConfabSandboxStore  *self,
                               const char          *user_id,
                               GError             **error)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (user_id == NULL)
    {
      user_missing (NULL, error);
      return NULL;
    }
  return lookup_user (self, user_id, error);
}

GPtrArray *
confab_sandbox_store_query_users (ConfabSandboxStore  *self,
                                  char               **ids,
                                  guint                limit,
                                  guint                offset,
                                  GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) users = object_array_new ();
  g_autofree char *ids_json = NULL;
  int rc;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (limit == 0)
    limit = 30;
  limit = MIN (limit, 100);

  stmt = prepare (self,
                  "SELECT " USER_COLUMNS " FROM users "
                  "WHERE ?1 IS NULL OR id IN (SELECT value FROM json_each (?1)) "
                  "ORDER BY created_at, id LIMIT ?2 OFFSET ?3",
                  error);
  if (stmt == NULL)
    return NULL;
  if (ids != NULL)
    ids_json = strv_to_json (ids);
  bind_text (stmt, 1, ids_json);
  sqlite3_bind_int64 (stmt, 2, limit);
  sqlite3_bind_int64 (stmt, 3, offset);

  while ((rc = step (self, stmt, error)) > 0)
    g_ptr_array_add (users, user_from_row (stmt));
  if (rc < 0)
    return NULL;

  return g_steal_pointer (&users);
}

gboolean
confab_sandbox_store_touch_user (ConfabSandboxStore  *self,
                                 const char          *user_id,
                                 gint64               now_usec,
                                 GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), FALSE);

  stmt = prepare (self, "UPDATE users SET last_active = ?2 WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, user_id);
  sqlite3_bind_int64 (stmt, 2, now_usec > 0 ? now_usec : store_now (self));
  if (step (self, stmt, error) < 0)
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      user_missing (user_id, error);
      return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* Channels and members */

static JsonObject *
channel_config (void)
{
  JsonObject *config = json_object_new ();

  json_object_set_boolean_member (config, "typing_events", TRUE);
  json_object_set_boolean_member (config, "read_events", TRUE);
  json_object_set_boolean_member (config, "connect_events", TRUE);
  json_object_set_boolean_member (config, "delivery_events", FALSE);
  json_object_set_boolean_member (config, "reactions", TRUE);
  json_object_set_boolean_member (config, "replies", TRUE);
  json_object_set_boolean_member (config, "mutes", TRUE);
  json_object_set_boolean_member (config, "uploads", TRUE);
  json_object_set_boolean_member (config, "url_enrichment", FALSE);
  json_object_set_boolean_member (config, "custom_events", TRUE);
  json_object_set_boolean_member (config, "push_notifications", TRUE);
  json_object_set_int_member (config, "max_message_length", MAX_MESSAGE_LENGTH);
  json_object_set_array_member (config, "commands", json_array_new ());
  return config;
}

static JsonObject *
channel_object (ConfabSandboxStore  *self,
                const char          *cid,
                GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonObject) channel = NULL;
  g_autoptr(JsonObject) custom = NULL;
  JsonArray *capabilities;
  gint64 member_count = 0;
  int rc;

  stmt = prepare (self,
                  "SELECT id, type, cid, created_by, data, created_at, updated_at, "
                  "last_message_at, message_count FROM channels WHERE cid = ?1",
                  error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, cid);
  rc = step (self, stmt, error);
  if (rc < 0)
    return NULL;
  if (rc == 0)
    {
      channel_missing (cid, error);
      return NULL;
    }
  if (!query_int64 (self, "SELECT COUNT(*) FROM members WHERE cid = ?1", cid, NULL,
                    &member_count, NULL, error))
    return NULL;

  channel = json_object_new ();
  json_object_set_string_member (channel, "id", COL_TEXT (stmt, 0));
  json_object_set_string_member (channel, "type", COL_TEXT (stmt, 1));
  json_object_set_string_member (channel, "cid", COL_TEXT (stmt, 2));
  set_time_column (channel, "created_at", stmt, 5);
  set_time_column (channel, "updated_at", stmt, 6);
  set_user_member (self, channel, "created_by", COL_TEXT (stmt, 3));
  json_object_set_boolean_member (channel, "frozen", FALSE);
  json_object_set_boolean_member (channel, "disabled", FALSE);
  json_object_set_int_member (channel, "member_count", member_count);
  json_object_set_int_member (channel, "message_count", sqlite3_column_int64 (stmt, 8));
  set_time_column (channel, "last_message_at", stmt, 7);
  json_object_set_object_member (channel, "config", channel_config ());

  capabilities = json_array_new ();
  for (guint i = 0; own_capabilities[i] != NULL; i++)
    json_array_add_string_element (capabilities, own_capabilities[i]);
  json_object_set_array_member (channel, "own_capabilities", capabilities);

  custom = stored_object (COL_TEXT (stmt, 4));
  merge_custom (channel, custom);

  return g_steal_pointer (&channel);
}

/* Checks that every id is a known user; the error lists the missing ones, Stream-style. */
static gboolean
check_users_exist (ConfabSandboxStore  *self,
                   char               **user_ids,
                   const char          *operation,
                   const char          *action,
                   GError             **error)
{
  g_autoptr(GPtrArray) missing = g_ptr_array_new ();
  g_autofree char *list = NULL;

  for (guint i = 0; user_ids != NULL && user_ids[i] != NULL; i++)
    {
      gboolean exists = FALSE;

      if (!valid_user_id (user_ids[i]))
        return input_error (error, "invalid request: members must be valid user ids");
      if (!user_exists (self, user_ids[i], &exists, error))
        return FALSE;
      if (!exists)
        g_ptr_array_add (missing, user_ids[i]);
    }
  if (missing->len == 0)
    return TRUE;

  g_ptr_array_add (missing, NULL);
  list = g_strjoinv (" ", (char **) missing->pdata);
  g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
               "%s failed with error: \"The following users are involved in channel %s "
               "operation, but don't exist: [%s]. Please create the user objects before "
               "setting up the channel.\"", operation, action, list);
  return FALSE;
}

static gboolean
insert_members (ConfabSandboxStore  *self,
                const char          *cid,
                const char          *created_by,
                char               **user_ids,
                gint64               now,
                GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  stmt = prepare (self,
                  "INSERT INTO members (cid, user_id, channel_role, created_at, updated_at) "
                  "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (cid, user_id) DO NOTHING",
                  error);
  if (stmt == NULL)
    return FALSE;

  for (guint i = 0; user_ids != NULL && user_ids[i] != NULL; i++)
    {
      sqlite3_reset (stmt);
      bind_text (stmt, 1, cid);
      bind_text (stmt, 2, user_ids[i]);
      bind_text (stmt, 3, g_strcmp0 (user_ids[i], created_by) == 0 ? "owner" : "channel_member");
      sqlite3_bind_int64 (stmt, 4, now);
      if (step (self, stmt, error) < 0)
        return FALSE;
    }
  return TRUE;
}

static gboolean
create_channel (ConfabSandboxStore  *self,
                const char          *cid,
                const char          *type,
                const char          *id,
                const char          *created_by,
                JsonObject          *data,
                char               **members,
                GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonObject) custom = json_object_new ();
  g_autofree char *custom_text = NULL;
  gint64 now = store_now (self);

  if (created_by != NULL)
    {
      gboolean exists = FALSE;

      if (!user_exists (self, created_by, &exists, error))
        return FALSE;
      if (!exists)
        {
          user_missing (created_by, error);
          return FALSE;
        }
    }
  if (!check_users_exist (self, members, "GetOrCreateChannel", "create", error))
    return FALSE;

  collect_custom (data, channel_skip, custom);
  custom_text = confab_sandbox_json_to_string (custom);

  stmt = prepare (self,
                  "INSERT INTO channels (cid, type, id, created_by, data, created_at, updated_at) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                  error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cid);
  bind_text (stmt, 2, type);
  bind_text (stmt, 3, id);
  bind_text (stmt, 4, created_by);
  bind_text (stmt, 5, custom_text);
  sqlite3_bind_int64 (stmt, 6, now);
  if (step (self, stmt, error) < 0)
    return FALSE;

  return insert_members (self, cid, created_by, members, now, error);
}

JsonObject *
confab_sandbox_store_get_or_create_channel (ConfabSandboxStore  *self,
                                            const char          *type,
                                            const char          *id,
                                            const char          *created_by,
                                            JsonObject          *data,
                                            gboolean            *out_created,
                                            GError             **error)
{
  g_autoptr(JsonObject) channel = NULL;
  g_auto(GStrv) listed = NULL;
  g_auto(GStrv) members = NULL;
  g_autofree char *distinct_id = NULL;
  g_autofree char *cid = NULL;
  gboolean created = FALSE;
  gint64 unused;
  gboolean found = FALSE;

  if (out_created != NULL)
    *out_created = FALSE;
  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (!matches_charset (type, MAX_TYPE_LENGTH, FALSE, "_-"))
    {
      input_error (error, "invalid request: channel type must match [a-z0-9_-]+");
      return NULL;
    }

  listed = confab_sandbox_json_get_strv (data, "members", error);
  if (listed == NULL)
    return NULL;
  members = sort_unique (listed);

  if (id == NULL || *id == '\0')
    {
      g_autofree char *joined = NULL;
      g_autofree char *digest = NULL;

      /* A distinct channel: its id is a function of the member set alone. */
      if (g_strv_length (members) < 2)
        {
          input_error (error, "invalid request: a channel without an id needs data.members "
                              "with at least 2 distinct users");
          return NULL;
        }
      joined = g_strjoinv (",", members);
      digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, joined, -1);
      distinct_id = g_strdup_printf ("!members-%.40s", digest);
      id = distinct_id;
    }
  else if (!matches_charset (id, MAX_CHANNEL_ID_LENGTH, TRUE, "@_!-"))
    {
      input_error (error, "invalid request: channel id must be 1 to 64 characters "
                          "of a-z, A-Z, 0-9, @, _, ! and -");
      return NULL;
    }

  cid = g_strdup_printf ("%s:%s", type, id);

  if (!txn_begin (self, error))
    return NULL;
  if (!query_int64 (self, "SELECT 1 FROM channels WHERE cid = ?1", cid, NULL,
                    &unused, &found, error))
    goto fail;
  if (!found)
    {
      if (!create_channel (self, cid, type, id, created_by, data, members, error))
        goto fail;
      created = TRUE;
    }
  channel = channel_object (self, cid, error);
  if (channel == NULL)
    goto fail;
  if (!txn_commit (self, error))
    return NULL;

  if (out_created != NULL)
    *out_created = created;
  return g_steal_pointer (&channel);

fail:
  txn_rollback (self);
  return NULL;
}

JsonObject *
confab_sandbox_store_get_channel (ConfabSandboxStore  *self,
                                  const char          *cid,
                                  GError             **error)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  return channel_object (self, cid, error);
}

GPtrArray *
confab_sandbox_store_query_channels (ConfabSandboxStore  *self,
                                     const char          *member_id,
                                     char               **cids,
                                     const char          *type,
                                     guint                limit,
                                     guint                offset,
                                     GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) channels = object_array_new ();
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *cids_json = NULL;
  int rc;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (limit == 0)
    limit = 10;
  limit = MIN (limit, 100);

  stmt = prepare (self,
                  "SELECT cid FROM channels c "
                  "WHERE (?1 IS NULL OR EXISTS (SELECT 1 FROM members m "
                  "                             WHERE m.cid = c.cid AND m.user_id = ?1)) "
                  "AND (?2 IS NULL OR c.cid IN (SELECT value FROM json_each (?2))) "
                  "AND (?3 IS NULL OR c.type = ?3) "
                  "ORDER BY c.last_message_at IS NULL, c.last_message_at DESC, "
                  "c.created_at DESC, c.cid "
                  "LIMIT ?4 OFFSET ?5",
                  error);
  if (stmt == NULL)
    return NULL;
  if (cids != NULL)
    cids_json = strv_to_json (cids);
  bind_text (stmt, 1, member_id);
  bind_text (stmt, 2, cids_json);
  bind_text (stmt, 3, type);
  sqlite3_bind_int64 (stmt, 4, limit);
  sqlite3_bind_int64 (stmt, 5, offset);

  while ((rc = step (self, stmt, error)) > 0)
    g_ptr_array_add (found, g_strdup (COL_TEXT (stmt, 0)));
  if (rc < 0)
    return NULL;

  for (guint i = 0; i < found->len; i++)
    {
      JsonObject *channel = channel_object (self, found->pdata[i], error);

      if (channel == NULL)
        return NULL;
      g_ptr_array_add (channels, channel);
    }

  return g_steal_pointer (&channels);
}

gboolean
confab_sandbox_store_add_members (ConfabSandboxStore  *self,
                                  const char          *cid,
                                  char               **user_ids,
                                  GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *created_by = NULL;
  int rc;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), FALSE);

  if (!txn_begin (self, error))
    return FALSE;

  stmt = prepare (self, "SELECT created_by FROM channels WHERE cid = ?1", error);
  if (stmt == NULL)
    goto fail;
  bind_text (stmt, 1, cid);
  rc = step (self, stmt, error);
  if (rc < 0)
    goto fail;
  if (rc == 0)
    {
      channel_missing (cid, error);
      goto fail;
    }
  created_by = g_strdup (COL_TEXT (stmt, 0));
  sqlite3_reset (stmt);

  /* All or nothing: no member is added when any user is missing. */
  if (!check_users_exist (self, user_ids, "UpdateChannel", "update", error) ||
      !insert_members (self, cid, created_by, user_ids, store_now (self), error))
    goto fail;

  return txn_commit (self, error);

fail:
  txn_rollback (self);
  return FALSE;
}

static JsonObject *
member_from_row (ConfabSandboxStore *self,
                 sqlite3_stmt       *stmt)
{
  JsonObject *member = json_object_new ();
  const char *channel_role = COL_TEXT (stmt, 1);

  json_object_set_string_member (member, "user_id", COL_TEXT (stmt, 0));
  set_user_member (self, member, "user", COL_TEXT (stmt, 0));
  json_object_set_string_member (member, "role",
                                 g_str_equal (channel_role, "owner") ? "owner" : "member");
  json_object_set_string_member (member, "channel_role", channel_role);
  set_time_column (member, "created_at", stmt, 2);
  set_time_column (member, "updated_at", stmt, 3);
  json_object_set_boolean_member (member, "banned", FALSE);
  json_object_set_boolean_member (member, "shadow_banned", FALSE);
  json_object_set_boolean_member (member, "notifications_muted", FALSE);
  return member;
}

GPtrArray *
confab_sandbox_store_list_members (ConfabSandboxStore  *self,
                                   const char          *cid,
                                   GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) members = object_array_new ();
  int rc;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (!channel_exists (self, cid, error))
    return NULL;

  stmt = prepare (self,
                  "SELECT user_id, channel_role, created_at, updated_at FROM members "
                  "WHERE cid = ?1 ORDER BY created_at, user_id",
                  error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, cid);
  while ((rc = step (self, stmt, error)) > 0)
    g_ptr_array_add (members, member_from_row (self, stmt));
  if (rc < 0)
    return NULL;

  return g_steal_pointer (&members);
}

char **
confab_sandbox_store_member_ids (ConfabSandboxStore  *self,
                                 const char          *cid,
                                 GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  int rc;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (!channel_exists (self, cid, error))
    return NULL;

  stmt = prepare (self, "SELECT user_id FROM members WHERE cid = ?1 ORDER BY user_id", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, cid);
  while ((rc = step (self, stmt, error)) > 0)
    g_strv_builder_add (builder, COL_TEXT (stmt, 0));
  if (rc < 0)
    return NULL;

  return g_strv_builder_end (builder);
}

gboolean
confab_sandbox_store_is_member (ConfabSandboxStore *self,
                                const char         *cid,
                                const char         *user_id)
{
  gint64 unused;
  gboolean found = FALSE;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), FALSE);

  if (cid == NULL || user_id == NULL)
    return FALSE;
  if (!query_int64 (self, "SELECT 1 FROM members WHERE cid = ?1 AND user_id = ?2",
                    cid, user_id, &unused, &found, NULL))
    return FALSE;
  return found;
}

/* ---------------------------------------------------------------------------------------- */
/* Messages */

static gint64
reply_count (ConfabSandboxStore *self,
             const char         *message_id)
{
  g_autoptr(StoreCursor) stmt = self->reply_count_stmt;

  bind_text (stmt, 1, message_id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return 0;
  return sqlite3_column_int64 (stmt, 0);
}

static JsonObject *
message_from_row (ConfabSandboxStore *self,
                  sqlite3_stmt       *stmt)
{
  JsonObject *message = json_object_new ();
  g_autoptr(JsonObject) data = stored_object (COL_TEXT (stmt, MSG_DATA));
  const char *id = COL_TEXT (stmt, MSG_ID);
  const char *text = COL_TEXT (stmt, MSG_TEXT);
  JsonArray *mentioned = json_array_new ();
  JsonNode *node;

  json_object_set_string_member (message, "id", id);
  json_object_set_string_member (message, "text", text);
  if (text[0] != '\0')
    {
      g_autofree char *escaped = g_markup_escape_text (text, -1);
      g_autofree char *html = g_strdup_printf ("<p>%s</p>\n", escaped);

      json_object_set_string_member (message, "html", html);
    }
  else
    {
      json_object_set_string_member (message, "html", "");
    }
  json_object_set_string_member (message, "type", COL_TEXT (stmt, MSG_TYPE));
  set_user_member (self, message, "user", COL_TEXT (stmt, MSG_USER_ID));
  json_object_set_string_member (message, "cid", COL_TEXT (stmt, MSG_CID));
  set_time_column (message, "created_at", stmt, MSG_CREATED_AT);
  set_time_column (message, "updated_at", stmt, MSG_UPDATED_AT);

  node = json_object_get_member (data, "attachments");
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    json_object_set_member (message, "attachments", json_node_copy (node));
  else
    json_object_set_array_member (message, "attachments", json_array_new ());
  json_object_set_array_member (message, "latest_reactions", json_array_new ());
  json_object_set_array_member (message, "own_reactions", json_array_new ());
  json_object_set_object_member (message, "reaction_counts", json_object_new ());
  json_object_set_object_member (message, "reaction_scores", json_object_new ());
  json_object_set_int_member (message, "reply_count", reply_count (self, id));
  json_object_set_int_member (message, "deleted_reply_count", 0);

  node = json_object_get_member (data, "mentioned_users");
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *ids = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (ids); i++)
        {
          const char *user_id = json_array_get_string_element (ids, i);
          JsonObject *user = user_id != NULL ? lookup_user (self, user_id, NULL) : NULL;

          if (user != NULL)
            json_array_add_object_element (mentioned, user);
        }
    }
  json_object_set_array_member (message, "mentioned_users", mentioned);

  node = json_object_get_member (data, "silent");
  json_object_set_boolean_member (message, "silent",
                                  node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
                                  json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
                                  json_node_get_boolean (node));
  json_object_set_boolean_member (message, "shadowed", FALSE);
  json_object_set_boolean_member (message, "pinned", FALSE);
  json_object_set_null_member (message, "pinned_at");
  json_object_set_null_member (message, "pinned_by");
  json_object_set_null_member (message, "pin_expires");
  json_object_set_array_member (message, "restricted_visibility", json_array_new ());
  if (!COL_IS_NULL (stmt, MSG_PARENT_ID))
    json_object_set_string_member (message, "parent_id", COL_TEXT (stmt, MSG_PARENT_ID));
  set_time_column (message, "deleted_at", stmt, MSG_DELETED_AT);

  merge_custom (message, data);
  return message;
}

static JsonObject *
lookup_message (ConfabSandboxStore  *self,
                const char          *message_id,
                GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  stmt = prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, message_id);
  rc = step (self, stmt, error);
  if (rc < 0)
    return NULL;
  if (rc == 0)
    {
      message_missing (message_id, error);
      return NULL;
    }
  return message_from_row (self, stmt);
}

static gboolean
check_text (const char  *text,
            const char  *operation,
            GError     **error)
{
  if (!g_utf8_validate (text, -1, NULL))
    return input_error (error, "invalid request: text must be valid UTF-8");
  if (g_utf8_strlen (text, -1) > MAX_MESSAGE_LENGTH)
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_MESSAGE_TOO_LONG,
                   "%s failed with error: \"message is too long\"", operation);
      return FALSE;
    }
  return TRUE;
}

/* The stored data of a message: custom members plus attachments, mentioned user ids and
 * silent, which have their own places in the wire shape. */
static JsonObject *
read_message_data (JsonObject  *message,
                   GError     **error)
{
  g_autoptr(JsonObject) data = json_object_new ();
  JsonArray *attachments = NULL;
  JsonArray *mentioned = NULL;
  gboolean silent = FALSE;

  if (!confab_sandbox_json_get_array (message, "attachments", FALSE, &attachments, error) ||
      !confab_sandbox_json_get_array (message, "mentioned_users", FALSE, &mentioned, error) ||
      !confab_sandbox_json_get_boolean (message, "silent", FALSE, &silent, error))
    return NULL;

  collect_custom (message, message_skip, data);

  if (attachments != NULL && json_array_get_length (attachments) > 0)
    json_object_set_array_member (data, "attachments", json_array_ref (attachments));

  if (mentioned != NULL && json_array_get_length (mentioned) > 0)
    {
      JsonArray *ids = json_array_new ();

      json_object_set_array_member (data, "mentioned_users", ids);
      for (guint i = 0; i < json_array_get_length (mentioned); i++)
        {
          JsonNode *node = json_array_get_element (mentioned, i);
          const char *user_id = NULL;

          /* Ids as the JS SDK sends them, or user objects. */
          if (json_node_get_value_type (node) == G_TYPE_STRING)
            user_id = json_node_get_string (node);
          else if (JSON_NODE_HOLDS_OBJECT (node))
            user_id = json_object_get_string_member_with_default (json_node_get_object (node),
                                                                  "id", NULL);
          if (user_id == NULL)
            {
              input_error (error, "invalid request: mentioned_users must be an array of user ids");
              return NULL;
            }
          json_array_add_string_element (ids, user_id);
        }
    }

  if (silent)
    json_object_set_boolean_member (data, "silent", TRUE);

  return g_steal_pointer (&data);
}

/* A new message: the channel's counters move in the same transaction. */
static gboolean
bump_channel (ConfabSandboxStore  *self,
              const char          *cid,
              gint64               now,
              GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  stmt = prepare (self,
                  "UPDATE channels SET last_message_at = ?2, updated_at = ?2, "
                  "message_count = message_count + 1 WHERE cid = ?1",
                  error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cid);
  sqlite3_bind_int64 (stmt, 2, now);
  return step (self, stmt, error) >= 0;
}

static gboolean
insert_message_row (ConfabSandboxStore  *self,
                    const char          *id,
                    const char          *cid,
                    const char          *user_id,
                    const char          *text,
                    const char          *type,
                    const char          *parent_id,
                    JsonObject          *data,
                    GError             **error)
{
  g_autoptr(StoreCursor) stmt = self->insert_message_stmt;
  g_autofree char *data_text = confab_sandbox_json_to_string (data);
  gint64 now = store_now (self);

  bind_text (stmt, 1, id);
  bind_text (stmt, 2, cid);
  bind_text (stmt, 3, user_id);
  bind_text (stmt, 4, text);
  bind_text (stmt, 5, type);
  bind_text (stmt, 6, parent_id);
  bind_text (stmt, 7, data_text);
  sqlite3_bind_int64 (stmt, 8, now);
  if (step (self, stmt, error) < 0)
    return FALSE;

  return bump_channel (self, cid, now, error);
}

static gboolean
check_new_message (ConfabSandboxStore  *self,
                   const char          *cid,
                   const char          *user_id,
                   const char          *id,
                   const char          *parent_id,
                   GError             **error)
{
  gboolean exists = FALSE;
  gint64 unused;

  if (!channel_exists (self, cid, error) ||
      !user_exists (self, user_id, &exists, error))
    return FALSE;
  if (!exists)
    {
      user_missing (user_id, error);
      return FALSE;
    }

  if (!query_int64 (self, "SELECT 1 FROM messages WHERE id = ?1", id, NULL,
                    &unused, &exists, error))
    return FALSE;
  if (exists)
    {
      /* Stream's exact wording: clients match it to treat a resend as delivered. */
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                   "SendMessage failed with error: \"a message with ID %s already exists\"", id);
      return FALSE;
    }

  if (parent_id != NULL)
    {
      if (!query_int64 (self, "SELECT 1 FROM messages WHERE id = ?1 AND cid = ?2",
                        parent_id, cid, &unused, &exists, error))
        return FALSE;
      if (!exists)
        return input_error (error, "invalid request: parent_id does not name a message "
                                   "in this channel");
    }
  return TRUE;
}

JsonObject *
confab_sandbox_store_insert_message (ConfabSandboxStore  *self,
                                     const char          *cid,
                                     const char          *user_id,
                                     JsonObject          *message,
                                     GError             **error)
{
  g_autoptr(JsonObject) data = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autofree char *generated_id = NULL;
  const char *id = NULL;
  const char *text = NULL;
  const char *type = NULL;
  const char *parent_id = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (!confab_sandbox_json_get_string (message, "id", FALSE, &id, error) ||
      !confab_sandbox_json_get_string (message, "text", FALSE, &text, error) ||
      !confab_sandbox_json_get_string (message, "type", FALSE, &type, error) ||
      !confab_sandbox_json_get_string (message, "parent_id", FALSE, &parent_id, error))
    return NULL;

  if (id == NULL || *id == '\0')
    id = generated_id = g_uuid_string_random ();
  else if (strlen (id) > MAX_MESSAGE_ID_LENGTH)
    {
      input_error (error, "invalid request: message id must be at most 255 characters");
      return NULL;
    }
  if (text == NULL)
    text = "";
  if (!check_text (text, "SendMessage", error))
    return NULL;
  if (type == NULL)
    type = "regular";
  else if (!g_str_equal (type, "regular") && !g_str_equal (type, "system"))
    {
      input_error (error, "invalid request: message type must be regular or system");
      return NULL;
    }
  if (parent_id != NULL && *parent_id == '\0')
    parent_id = NULL;
  if (parent_id != NULL)
    type = "reply";

  data = read_message_data (message, error);
  if (data == NULL)
    return NULL;

  if (!txn_begin (self, error))
    return NULL;
  if (!check_new_message (self, cid, user_id, id, parent_id, error) ||
      !insert_message_row (self, id, cid, user_id, text, type, parent_id, data, error) ||
      (result = lookup_message (self, id, error)) == NULL)
    {
      txn_rollback (self);
      return NULL;
    }
  if (!txn_commit (self, error))
    return NULL;

  return g_steal_pointer (&result);
}

JsonObject *
confab_sandbox_store_get_message (ConfabSandboxStore  *self,
                                  const char          *message_id,
                                  GError             **error)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  return lookup_message (self, message_id, error);
}

JsonObject *
confab_sandbox_store_update_message (ConfabSandboxStore  *self,
                                     const char          *message_id,
                                     JsonObject          *message,
                                     GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonObject) data = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autofree char *data_text = NULL;
  const char *id = NULL;
  const char *text = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (message == NULL)
    {
      input_error (error, "invalid request: message is a required field");
      return NULL;
    }
  if (!confab_sandbox_json_get_string (message, "id", FALSE, &id, error) ||
      !confab_sandbox_json_get_string (message, "text", FALSE, &text, error))
    return NULL;
  if (id != NULL && g_strcmp0 (id, message_id) != 0)
    {
      input_error (error, "invalid request: message id does not match the message updated");
      return NULL;
    }
  /* Like Stream, an update replaces the message: what is not sent is cleared. */
  if (text == NULL)
    text = "";
  if (!check_text (text, "UpdateMessage", error))
    return NULL;
  data = read_message_data (message, error);
  if (data == NULL)
    return NULL;
  data_text = confab_sandbox_json_to_string (data);

  stmt = prepare (self, "UPDATE messages SET text = ?2, data = ?3, updated_at = ?4 WHERE id = ?1",
                  error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, message_id);
  bind_text (stmt, 2, text);
  bind_text (stmt, 3, data_text);
  sqlite3_bind_int64 (stmt, 4, store_now (self));

  if (!txn_begin (self, error))
    return NULL;
  if (step (self, stmt, error) < 0)
    goto fail;
  if (sqlite3_changes (self->db) == 0)
    {
      message_missing (message_id, error);
      goto fail;
    }
  result = lookup_message (self, message_id, error);
  if (result == NULL)
    goto fail;
  if (!txn_commit (self, error))
    return NULL;

  return g_steal_pointer (&result);

fail:
  txn_rollback (self);
  return NULL;
}

static gboolean
remove_message (ConfabSandboxStore  *self,
                const char          *message_id,
                gboolean             hard,
                gint64               now,
                JsonObject         **out_message,
                GError             **error)
{
  g_autoptr(JsonObject) message = lookup_message (self, message_id, error);

  if (message == NULL)
    return FALSE;

  if (hard)
    {
      if (!run_sql (self, "DELETE FROM messages WHERE id = ?1", message_id, NULL, error) ||
          !run_sql (self,
                    "UPDATE channels SET message_count = MAX (message_count - 1, 0) "
                    "WHERE cid = ?1",
                    json_object_get_string_member (message, "cid"), NULL, error))
        return FALSE;
      /* The last state, as a deleted message, for the event that announces it. */
      json_object_set_string_member (message, "type", "deleted");
      set_time (message, "deleted_at", now);
      set_time (message, "updated_at", now);
    }
  else
    {
      g_autoptr(sqlite3_stmt) stmt = NULL;

      stmt = prepare (self,
                      "UPDATE messages SET type = 'deleted', "
                      "deleted_at = COALESCE (deleted_at, ?2), updated_at = ?2 WHERE id = ?1",
                      error);
      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, message_id);
      sqlite3_bind_int64 (stmt, 2, now);
      if (step (self, stmt, error) < 0)
        return FALSE;
      g_clear_pointer (&message, json_object_unref);
      message = lookup_message (self, message_id, error);
      if (message == NULL)
        return FALSE;
    }

  *out_message = g_steal_pointer (&message);
  return TRUE;
}

JsonObject *
confab_sandbox_store_delete_message (ConfabSandboxStore  *self,
                                     const char          *message_id,
                                     gboolean             hard,
                                     GError             **error)
{
  JsonObject *message = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (!txn_begin (self, error))
    return NULL;
  if (!remove_message (self, message_id, hard, store_now (self), &message, error))
    {
      txn_rollback (self);
      return NULL;
    }
  if (!txn_commit (self, error))
    {
      json_object_unref (message);
      return NULL;
    }
  return message;
}

/* The seq of a message of @cid named by a page parameter. */
static gboolean
resolve_page_id (ConfabSandboxStore  *self,
                 const char          *cid,
                 const char          *parameter,
                 const char          *message_id,
                 gint64              *out_seq,
                 GError             **error)
{
  gboolean found = FALSE;

  if (!query_int64 (self, "SELECT seq FROM messages WHERE id = ?1 AND cid = ?2",
                    message_id, cid, out_seq, &found, error))
    return FALSE;
  if (!found)
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT,
                   "invalid request: message %s \"%s\" not found in this channel",
                   parameter, printable_id (message_id));
      return FALSE;
    }
  return TRUE;
}

/* Appends up to @limit top-level messages with lower < seq < upper, in ascending order:
 * the oldest ones when @from_oldest, else the newest ones. */
static gboolean
append_range (ConfabSandboxStore  *self,
              const char          *cid,
              gint64               lower,
              gint64               upper,
              guint                limit,
              gboolean             from_oldest,
              GPtrArray           *messages,
              GError             **error)
{
  g_autoptr(StoreCursor) stmt = from_oldest ? self->list_newer_stmt : self->list_older_stmt;
  guint start = messages->len;
  int rc;

  bind_text (stmt, 1, cid);
  sqlite3_bind_int64 (stmt, 2, lower);
  sqlite3_bind_int64 (stmt, 3, upper);
  sqlite3_bind_int64 (stmt, 4, limit);
  while ((rc = step (self, stmt, error)) > 0)
    g_ptr_array_add (messages, message_from_row (self, stmt));
  if (rc < 0)
    return FALSE;

  if (!from_oldest)
    {
      /* Fetched newest first; reverse in place. */
      for (guint i = start, j = messages->len; j > 0 && i + 1 < j; i++, j--)
        {
          gpointer tmp = messages->pdata[i];

          messages->pdata[i] = messages->pdata[j - 1];
          messages->pdata[j - 1] = tmp;
        }
    }
  return TRUE;
}

GPtrArray *
confab_sandbox_store_list_messages (ConfabSandboxStore       *self,
                                    const char               *cid,
                                    const ConfabSandboxPage  *page,
                                    GError                  **error)
{
  static const ConfabSandboxPage defaults = { 0 };
  g_autoptr(GPtrArray) messages = object_array_new ();
  gint64 lower = 0;
  gint64 upper = G_MAXINT64;
  gint64 seq = 0;
  guint limit;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (page == NULL)
    page = &defaults;
  limit = page->limit == 0 ? 100 : MIN (page->limit, 300);

  if (!channel_exists (self, cid, error))
    return NULL;

  if (page->id_around != NULL)
    {
      guint before = limit / 2;

      if (!resolve_page_id (self, cid, "id_around", page->id_around, &seq, error) ||
          !append_range (self, cid, 0, seq, before, FALSE, messages, error) ||
          !append_range (self, cid, seq - 1, G_MAXINT64, limit - before, TRUE, messages, error))
        return NULL;
      return g_steal_pointer (&messages);
    }

  if (page->id_gt != NULL)
    {
      if (!resolve_page_id (self, cid, "id_gt", page->id_gt, &seq, error))
        return NULL;
      lower = MAX (lower, seq);
    }
  if (page->id_gte != NULL)
    {
      if (!resolve_page_id (self, cid, "id_gte", page->id_gte, &seq, error))
        return NULL;
      lower = MAX (lower, seq - 1);
    }
  if (page->id_lt != NULL)
    {
      if (!resolve_page_id (self, cid, "id_lt", page->id_lt, &seq, error))
        return NULL;
      upper = MIN (upper, seq);
    }
  if (page->id_lte != NULL)
    {
      if (!resolve_page_id (self, cid, "id_lte", page->id_lte, &seq, error))
        return NULL;
      upper = MIN (upper, seq + 1);
    }

  /* A lower bound pages forward from it; otherwise the newest before the upper bound. */
  if (!append_range (self, cid, lower, upper, limit,
                     page->id_gt != NULL || page->id_gte != NULL, messages, error))
    return NULL;

  return g_steal_pointer (&messages);
}

static GPtrArray *
messages_from_query (ConfabSandboxStore  *self,
                     sqlite3_stmt        *stmt,
                     GError             **error)
{
  g_autoptr(GPtrArray) messages = object_array_new ();
  int rc;

  while ((rc = step (self, stmt, error)) > 0)
    g_ptr_array_add (messages, message_from_row (self, stmt));
  if (rc < 0)
    return NULL;
  return g_steal_pointer (&messages);
}

GPtrArray *
confab_sandbox_store_messages_by_ids (ConfabSandboxStore  *self,
                                      const char          *cid,
                                      char               **ids,
                                      GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *ids_json = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (ids != NULL && g_strv_length (ids) > MAX_IDS_PER_LOOKUP)
    {
      input_error (error, "invalid request: ids can name at most 50 messages");
      return NULL;
    }
  if (!channel_exists (self, cid, error))
    return NULL;

  stmt = prepare (self,
                  "SELECT " MESSAGE_COLUMNS " FROM messages "
                  "WHERE cid = ?1 AND id IN (SELECT value FROM json_each (?2)) ORDER BY seq",
                  error);
  if (stmt == NULL)
    return NULL;
  ids_json = strv_to_json (ids);
  bind_text (stmt, 1, cid);
  bind_text (stmt, 2, ids_json);
  return messages_from_query (self, stmt, error);
}

static GPtrArray *
messages_since (ConfabSandboxStore  *self,
                char               **cids,
                gint64               since_usec,
                guint                limit,
                const char          *order,
                GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *cids_json = NULL;
  g_autofree char *sql = NULL;

  if (limit == 0)
    limit = 1000;

  sql = g_strdup_printf ("SELECT " MESSAGE_COLUMNS " FROM messages "
                         "WHERE cid IN (SELECT value FROM json_each (?1)) "
                         "AND MAX (created_at, updated_at) > ?2 ORDER BY %s LIMIT ?3", order);
  stmt = prepare (self, sql, error);
  if (stmt == NULL)
    return NULL;
  cids_json = strv_to_json (cids);
  bind_text (stmt, 1, cids_json);
  sqlite3_bind_int64 (stmt, 2, since_usec);
  sqlite3_bind_int64 (stmt, 3, limit);
  return messages_from_query (self, stmt, error);
}

GPtrArray *
confab_sandbox_store_messages_since (ConfabSandboxStore  *self,
                                     char               **cids,
                                     gint64               since_usec,
                                     guint                limit,
                                     GError             **error)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  return messages_since (self, cids, since_usec, limit, "seq", error);
}

GPtrArray *
confab_sandbox_store_sync_messages (ConfabSandboxStore  *self,
                                    char               **cids,
                                    gint64               since_usec,
                                    guint                limit,
                                    GError             **error)
{
  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  /* The time of the event /sync reports for each: the creation for a message new since
   * @since_usec, else its last change (an edit, a deletion). */
  return messages_since (self, cids, since_usec, limit,
                         "CASE WHEN type != 'deleted' AND created_at > ?2 THEN created_at "
                         "ELSE updated_at END, seq", error);
}

/* ---------------------------------------------------------------------------------------- */
/* Read state */

/* Messages after the last read message if it still exists, else after the last read
 * time; everything when never read. Only members have unread messages. The count is an
 * index range scan over (cid, seq), so it costs what is unread, not the channel's size. */
static gboolean
count_unread (ConfabSandboxStore  *self,
              const char          *cid,
              const char          *user_id,
              gint64              *out_count,
              GError             **error)
{
  sqlite3_stmt *stmt;
  gint64 member = 0;
  gint64 after = 0;
  gboolean found = FALSE;
  int rc;

  *out_count = 0;
  if (!query_int64 (self, "SELECT 1 FROM members WHERE cid = ?1 AND user_id = ?2",
                    cid, user_id, &member, NULL, error))
    return FALSE;
  if (!member)
    return TRUE;

  if (!query_int64 (self,
                    "SELECT COALESCE ((SELECT seq FROM messages x "
                    "                   WHERE x.id = reads.last_read_message_id AND x.cid = reads.cid), "
                    "                 (SELECT MAX (seq) FROM messages y "
                    "                   WHERE y.cid = reads.cid AND y.created_at <= reads.last_read), 0) "
                    "FROM reads WHERE cid = ?1 AND user_id = ?2",
                    cid, user_id, &after, &found, error))
    return FALSE;
  if (!found)
    after = 0;

  stmt = cached_statement (self,
                           "SELECT COUNT(*) FROM messages "
                           "WHERE cid = ?1 AND seq > ?2 AND user_id != ?3 "
                           "AND type != 'deleted' AND parent_id IS NULL",
                           error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cid);
  sqlite3_bind_int64 (stmt, 2, after);
  bind_text (stmt, 3, user_id);
  rc = step (self, stmt, error);
  if (rc > 0)
    *out_count = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return rc >= 0;
}

static JsonObject *
read_entry (ConfabSandboxStore  *self,
            const char          *cid,
            const char          *user_id,
            GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonObject) entry = json_object_new ();
  JsonObject *user;
  gint64 unread = 0;
  int rc;

  user = lookup_user (self, user_id, error);
  if (user == NULL)
    return NULL;
  json_object_set_object_member (entry, "user", user);

  /* Members who never read count as having read when they joined. */
  stmt = prepare (self,
                  "SELECT COALESCE (r.last_read, m.created_at), r.last_read_message_id "
                  "FROM members m LEFT JOIN reads r ON r.cid = m.cid AND r.user_id = m.user_id "
                  "WHERE m.cid = ?1 AND m.user_id = ?2",
                  error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, cid);
  bind_text (stmt, 2, user_id);
  rc = step (self, stmt, error);
  if (rc < 0)
    return NULL;
  if (rc > 0)
    set_time_column (entry, "last_read", stmt, 0);
  else
    json_object_set_null_member (entry, "last_read");

  if (!count_unread (self, cid, user_id, &unread, error))
    return NULL;
  json_object_set_int_member (entry, "unread_messages", unread);
  if (rc > 0 && !COL_IS_NULL (stmt, 1))
    json_object_set_string_member (entry, "last_read_message_id", COL_TEXT (stmt, 1));

  return g_steal_pointer (&entry);
}

/* Records that @user_id has read @cid up to @message_id (NULL: the newest message). */
static gboolean
write_read (ConfabSandboxStore  *self,
            const char          *cid,
            const char          *user_id,
            const char          *message_id,
            gint64               now,
            GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *read_id = NULL;
  int rc;

  if (message_id != NULL)
    {
      stmt = prepare (self, "SELECT id FROM messages WHERE id = ?1 AND cid = ?2", error);
      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, message_id);
      bind_text (stmt, 2, cid);
    }
  else
    {
      stmt = prepare (self,
                      "SELECT id FROM messages WHERE cid = ?1 AND parent_id IS NULL "
                      "ORDER BY seq DESC LIMIT 1",
                      error);
      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, cid);
    }
  rc = step (self, stmt, error);
  if (rc < 0)
    return FALSE;
  if (rc == 0 && message_id != NULL)
    return input_error (error, "invalid request: message_id does not name a message "
                               "in this channel");
  if (rc > 0)
    read_id = g_strdup (COL_TEXT (stmt, 0));
  g_clear_pointer (&stmt, sqlite3_finalize);

  stmt = prepare (self,
                  "INSERT INTO reads (cid, user_id, last_read, last_read_message_id) "
                  "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (cid, user_id) DO UPDATE SET "
                  "last_read = excluded.last_read, "
                  "last_read_message_id = excluded.last_read_message_id",
                  error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cid);
  bind_text (stmt, 2, user_id);
  sqlite3_bind_int64 (stmt, 3, now);
  bind_text (stmt, 4, read_id);
  return step (self, stmt, error) >= 0;
}

static gboolean
check_can_read (ConfabSandboxStore  *self,
                const char          *cid,
                const char          *user_id,
                GError             **error)
{
  gint64 unused;
  gboolean member = FALSE;

  if (!channel_exists (self, cid, error) ||
      !query_int64 (self, "SELECT 1 FROM members WHERE cid = ?1 AND user_id = ?2",
                    cid, user_id, &unused, &member, error))
    return FALSE;
  if (!member)
    {
      g_set_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED,
                   "MarkRead failed with error: \"User '%s' is not allowed to perform action "
                   "ReadChannel in channel '%s': only members can mark a channel read\"",
                   printable_id (user_id), printable_id (cid));
      return FALSE;
    }
  return TRUE;
}

JsonObject *
confab_sandbox_store_mark_read (ConfabSandboxStore  *self,
                                const char          *cid,
                                const char          *user_id,
                                const char          *message_id,
                                GError             **error)
{
  g_autoptr(JsonObject) entry = NULL;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (message_id != NULL && *message_id == '\0')
    message_id = NULL;

  if (!txn_begin (self, error))
    return NULL;
  if (!check_can_read (self, cid, user_id, error) ||
      !write_read (self, cid, user_id, message_id, store_now (self), error) ||
      (entry = read_entry (self, cid, user_id, error)) == NULL)
    {
      txn_rollback (self);
      return NULL;
    }
  if (!txn_commit (self, error))
    return NULL;

  return g_steal_pointer (&entry);
}

static char **
member_cids (ConfabSandboxStore  *self,
             const char          *user_id,
             GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  int rc;

  stmt = prepare (self, "SELECT cid FROM members WHERE user_id = ?1 ORDER BY cid", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, user_id);
  while ((rc = step (self, stmt, error)) > 0)
    g_strv_builder_add (builder, COL_TEXT (stmt, 0));
  if (rc < 0)
    return NULL;
  return g_strv_builder_end (builder);
}

gboolean
confab_sandbox_store_mark_all_read (ConfabSandboxStore  *self,
                                    const char          *user_id,
                                    GError             **error)
{
  g_auto(GStrv) cids = NULL;
  gboolean exists = FALSE;
  gint64 now;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), FALSE);

  if (!user_exists (self, user_id, &exists, error))
    return FALSE;
  if (!exists)
    {
      user_missing (user_id, error);
      return FALSE;
    }

  if (!txn_begin (self, error))
    return FALSE;
  cids = member_cids (self, user_id, error);
  if (cids == NULL)
    goto fail;
  now = store_now (self);
  for (guint i = 0; cids[i] != NULL; i++)
    if (!write_read (self, cids[i], user_id, NULL, now, error))
      goto fail;
  return txn_commit (self, error);

fail:
  txn_rollback (self);
  return FALSE;
}

GPtrArray *
confab_sandbox_store_list_reads (ConfabSandboxStore  *self,
                                 const char          *cid,
                                 GError             **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) users = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) reads = object_array_new ();
  int rc;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), NULL);

  if (!channel_exists (self, cid, error))
    return NULL;

  stmt = prepare (self, "SELECT user_id FROM members WHERE cid = ?1 ORDER BY created_at, user_id",
                  error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, cid);
  while ((rc = step (self, stmt, error)) > 0)
    g_ptr_array_add (users, g_strdup (COL_TEXT (stmt, 0)));
  if (rc < 0)
    return NULL;

  for (guint i = 0; i < users->len; i++)
    {
      JsonObject *entry = read_entry (self, cid, users->pdata[i], error);

      if (entry == NULL)
        return NULL;
      g_ptr_array_add (reads, entry);
    }
  return g_steal_pointer (&reads);
}

guint
confab_sandbox_store_unread_count (ConfabSandboxStore *self,
                                   const char         *cid,
                                   const char         *user_id)
{
  gint64 count = 0;

  g_return_val_if_fail (CONFAB_SANDBOX_IS_STORE (self), 0);

  if (cid == NULL || user_id == NULL || !count_unread (self, cid, user_id, &count, NULL))
    return 0;
  return (guint) count;
}

void
confab_sandbox_store_unread_totals (ConfabSandboxStore *self,
                                    const char         *user_id,
                                    guint              *out_total,
                                    guint              *out_channels)
{
  g_auto(GStrv) cids = NULL;
  guint total = 0;
  guint channels = 0;

  if (out_total != NULL)
    *out_total = 0;
  if (out_channels != NULL)
    *out_channels = 0;
  g_return_if_fail (CONFAB_SANDBOX_IS_STORE (self));

  if (user_id == NULL)
    return;
  cids = member_cids (self, user_id, NULL);
  for (guint i = 0; cids != NULL && cids[i] != NULL; i++)
    {
      gint64 count = 0;

      if (!count_unread (self, cids[i], user_id, &count, NULL))
        continue;
      total += (guint) count;
      if (count > 0)
        channels++;
    }

  if (out_total != NULL)
    *out_total = total;
  if (out_channels != NULL)
    *out_channels = channels;
}
