/* confab-history-cache.c: the chat history on disk (SQLite), so the app opens on it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "confab-error.h"
#include "confab-history-cache.h"

/* A cache is rebuilt, never migrated: any other schema version is set aside. */
static const char schema_sql[] =
  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
  "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, "
  "  last_active INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
  "CREATE TABLE channels (cid TEXT PRIMARY KEY, name TEXT, "
  "  member_count INTEGER NOT NULL DEFAULT 0, unread_count INTEGER NOT NULL DEFAULT 0, "
  "  last_message_at INTEGER NOT NULL DEFAULT 0, "
  "  history_complete INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
  "CREATE TABLE members (cid TEXT NOT NULL, user_id TEXT NOT NULL, "
  "  PRIMARY KEY (cid, user_id)) WITHOUT ROWID;"
  "CREATE TABLE messages (id TEXT PRIMARY KEY, cid TEXT NOT NULL, user_id TEXT NOT NULL, "
  "  text TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, "
  "  deleted INTEGER NOT NULL DEFAULT 0);"
  "CREATE INDEX messages_by_time ON messages (cid, created_at, id);"
  "PRAGMA user_version = 1;";

typedef enum {
  STMT_PUT_META,
  STMT_GET_META,
  STMT_PUT_USER,
  STMT_PUT_CHANNEL,
  STMT_DELETE_MEMBERS,
  STMT_PUT_MEMBER,
  STMT_PUT_MESSAGE,
  STMT_DELETE_MESSAGE,
  STMT_DELETE_CHANNEL_MESSAGES,
  STMT_DELETE_CHANNEL,
  STMT_TRIM,
  STMT_SELECT_USERS,
  STMT_SELECT_CHANNELS,
  STMT_SELECT_MEMBERS,
  STMT_COUNT_MESSAGES,
  STMT_SELECT_MESSAGES,
  N_STMTS
} Stmt;

static const char * const stmt_sql[N_STMTS] = {
  [STMT_PUT_META] =
    "INSERT INTO meta (key, value) VALUES (?1, ?2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  [STMT_GET_META] = "SELECT value FROM meta WHERE key = ?1",
  [STMT_PUT_USER] =
    "INSERT INTO users (id, name, last_active) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
    "last_active = MAX (last_active, excluded.last_active)",
  [STMT_PUT_CHANNEL] =
    "INSERT INTO channels (cid, name, member_count, unread_count, last_message_at, history_complete) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (cid) DO UPDATE SET name = excluded.name, "
    "member_count = excluded.member_count, unread_count = excluded.unread_count, "
    "last_message_at = excluded.last_message_at, history_complete = excluded.history_complete",
  [STMT_DELETE_MEMBERS] = "DELETE FROM members WHERE cid = ?1",
  [STMT_PUT_MEMBER] = "INSERT OR IGNORE INTO members (cid, user_id) VALUES (?1, ?2)",
  [STMT_PUT_MESSAGE] =
    "INSERT INTO messages (id, cid, user_id, text, created_at, deleted) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET cid = excluded.cid, "
    "user_id = excluded.user_id, text = excluded.text, created_at = excluded.created_at, "
    "deleted = excluded.deleted",
  [STMT_DELETE_MESSAGE] = "DELETE FROM messages WHERE id = ?1",
  [STMT_DELETE_CHANNEL_MESSAGES] = "DELETE FROM messages WHERE cid = ?1",
  [STMT_DELETE_CHANNEL] = "DELETE FROM channels WHERE cid = ?1",
  [STMT_TRIM] =
    "DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE cid = ?1 "
    "ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?2)",
  [STMT_SELECT_USERS] = "SELECT id, name, last_active FROM users",
  [STMT_SELECT_CHANNELS] =
    "SELECT cid, name, member_count, unread_count, last_message_at, history_complete FROM channels",
  [STMT_SELECT_MEMBERS] = "SELECT cid, user_id FROM members",
  [STMT_COUNT_MESSAGES] = "SELECT COUNT(*) FROM messages WHERE cid = ?1",
  [STMT_SELECT_MESSAGES] =
    "SELECT id, user_id, text, created_at, deleted FROM messages WHERE cid = ?1 "
    "ORDER BY created_at, id LIMIT -1 OFFSET ?2",
};

typedef enum {
  OP_META,
  OP_USER,
  OP_CHANNEL,
  OP_MEMBERS,
  OP_MESSAGE,
  OP_DELETE_MESSAGE,
  OP_DELETE_CHANNEL,
  OP_TRIM,
  OP_CLEAR,
} OpKind;

/* One queued change; the strings are copies. */
typedef struct
{
  OpKind    kind;
  char     *key;      /* meta key, user id, cid or message id */
  char     *s1;       /* meta value, name, or the message's cid */
  char     *s2;       /* the message's user id */
  char     *s3;       /* the message's text */
  gint64    t;        /* last_active, last_message_at, created_at */
  guint     u1;       /* member_count, trim limit */
  guint     u2;       /* unread_count */
  gboolean  flag;     /* history_complete, deleted */
  char    **strv;     /* members */
} Op;

typedef enum {
  OPEN_OK,
  OPEN_CORRUPT,
  OPEN_FAILED,
} OpenResult;

struct _ConfabHistoryCache
{
  GObject       parent_instance;

  char         *directory;
  char         *path;
  ConfabClock  *clock;
  sqlite3      *db;
  sqlite3_stmt *stmts[N_STMTS];
  char         *owner;
  GQueue        ops;
  guint         timer_id;
  guint         idle_id;
  GPtrArray    *set_aside;  /* char *, NULL-terminated */
};

G_DEFINE_FINAL_TYPE (ConfabHistoryCache, confab_history_cache, G_TYPE_OBJECT)

enum {
  SIGNAL_RESET,
  SIGNAL_STORAGE_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void schedule_write (ConfabHistoryCache *self);

static void
op_free (Op *op)
{
  g_free (op->key);
  g_free (op->s1);
  g_free (op->s2);
  g_free (op->s3);
  g_strfreev (op->strv);
  g_free (op);
}

static gboolean
is_corruption (int rc)
{
  rc &= 0xff;
  return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_FORMAT;
}

static gboolean
is_busy (int rc)
{
  rc &= 0xff;
  return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* SQLite's messages name tables and columns, never the data. */
static void
set_sqlite_error (GError     **error,
                  sqlite3     *db,
                  int          rc,
                  const char  *what)
{
  g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE, "history cache: %s: %s (%d)",
               what, db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc), rc);
}

static void
close_db (ConfabHistoryCache *self)
{
  for (guint i = 0; i < N_STMTS; i++)
    g_clear_pointer (&self->stmts[i], sqlite3_finalize);
  if (self->db != NULL)
    {
      sqlite3_close (self->db);
      self->db = NULL;
    }
}

static int
exec (ConfabHistoryCache *self,
      const char         *sql)
{
  return sqlite3_exec (self->db, sql, NULL, NULL, NULL);
}

static int
query_int (ConfabHistoryCache *self,
           const char         *sql,
           gint64             *out)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return rc;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *out = sqlite3_column_int64 (stmt, 0);
      rc = SQLITE_OK;
    }
  sqlite3_finalize (stmt);
  return rc;
}

static void
read_owner (ConfabHistoryCache *self)
{
  sqlite3_stmt *stmt = self->stmts[STMT_GET_META];

  g_clear_pointer (&self->owner, g_free);
  sqlite3_bind_text (stmt, 1, "owner", -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_type (stmt, 0) == SQLITE_TEXT)
    self->owner = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

static OpenResult
try_open (ConfabHistoryCache  *self,
          GError             **error)
{
  g_autofree char *journal = NULL;
  gint64 version = 0;
  gint64 n_tables = 0;
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, NULL, rc, "cannot open the file");
      close_db (self);
      return OPEN_FAILED;
    }
  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, 200);
  /* Private history: only the user may read it (SQLite gives its WAL the same mode). */
  if (g_chmod (self->path, 0600) != 0)
    g_debug ("History cache: cannot restrict the file's permissions: %s", g_strerror (errno));

  /* The first read of the file: random bytes fail here (SQLITE_NOTADB). */
  rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          journal = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
          rc = SQLITE_OK;
        }
    }
  g_clear_pointer (&stmt, sqlite3_finalize);
  if (rc == SQLITE_OK)
    rc = exec (self, "PRAGMA synchronous = NORMAL");
  if (rc == SQLITE_OK)
    rc = query_int (self, "PRAGMA user_version", &version);
  if (rc == SQLITE_OK)
    rc = query_int (self, "SELECT COUNT(*) FROM sqlite_master", &n_tables);
  if (rc != SQLITE_OK)
    goto failed;
  if (g_strcmp0 (journal, "wal") != 0)
    g_debug ("History cache: journal mode %s, not WAL", journal != NULL ? journal : "unknown");

  if (version == 0 && n_tables == 0)
    {
      rc = exec (self, "BEGIN IMMEDIATE");
      if (rc == SQLITE_OK)
        rc = exec (self, schema_sql);
      if (rc == SQLITE_OK)
        rc = exec (self, "COMMIT");
      else
        exec (self, "ROLLBACK");
      if (rc != SQLITE_OK)
        goto failed;
      g_debug ("History cache: created (schema %d)", CONFAB_HISTORY_CACHE_SCHEMA_VERSION);
    }
  else if (version != CONFAB_HISTORY_CACHE_SCHEMA_VERSION)
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT,
                   "history cache: schema version %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
                   " tables), expected %d", version, n_tables, CONFAB_HISTORY_CACHE_SCHEMA_VERSION);
      close_db (self);
      return OPEN_CORRUPT;
    }

  /* A table or column that is not ours fails here. */
  for (guint i = 0; i < N_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (self->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmts[i], NULL);
      if (rc != SQLITE_OK)
        {
          if (!is_busy (rc))
            {
              g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT,
                           "history cache: not our schema: %s", sqlite3_errmsg (self->db));
              close_db (self);
              return OPEN_CORRUPT;
            }
          goto failed;
        }
    }

  read_owner (self);
  return OPEN_OK;

failed:
  if (is_corruption (rc))
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT,
                   "history cache: unreadable: %s (%d)", sqlite3_errmsg (self->db), rc);
      close_db (self);
      return OPEN_CORRUPT;
    }
  set_sqlite_error (error, self->db, rc, "cannot open");
  close_db (self);
  return OPEN_FAILED;
}

/* Renames the file (and its WAL and shared-memory files, which belong to it and must not
 * meet the new file) to PATH.corrupt-YYYYMMDD-HHMMSS[-N]. */
static gboolean
set_aside (ConfabHistoryCache  *self,
           GError             **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_from_unix_local (confab_clock_wall (self->clock) / G_USEC_PER_SEC);
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *aside = NULL;
  static const char * const suffixes[] = { "-wal", "-shm" };

  close_db (self);

  for (guint n = 1; aside == NULL || g_file_test (aside, G_FILE_TEST_EXISTS); n++)
    {
      g_free (aside);
      if (n == 1)
        aside = g_strdup_printf ("%s.corrupt-%s", self->path, stamp);
      else
        aside = g_strdup_printf ("%s.corrupt-%s-%u", self->path, stamp, n);
    }

  if (g_rename (self->path, aside) != 0)
    {
      int saved = errno;

      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "history cache: cannot set the unreadable file aside: %s", g_strerror (saved));
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *from = g_strconcat (self->path, suffixes[i], NULL);
      g_autofree char *to = g_strconcat (aside, suffixes[i], NULL);

      if (g_file_test (from, G_FILE_TEST_EXISTS) && g_rename (from, to) != 0)
        g_unlink (from);
    }

  g_message ("History cache: an unreadable cache file was set aside and the cache rebuilt");
  g_ptr_array_insert (self->set_aside, self->set_aside->len - 1, g_steal_pointer (&aside));
  return TRUE;
}

/* After a corrupt file: set it aside and open an empty one. On success @error holds the
 * CONFAB_ERROR_CORRUPT report; on failure a CONFAB_ERROR_STORAGE one. */
static gboolean
rebuild (ConfabHistoryCache  *self,
         GError             **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!set_aside (self, &local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (try_open (self, &local_error) != OPEN_OK)
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "history cache: cannot rebuild: %s", local_error->message);
      return FALSE;
    }
  g_clear_pointer (&self->owner, g_free);
  g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT,
                       "history cache: the cache file was unreadable; it was set aside and rebuilt");
  return TRUE;
}

/* Writing --------------------------------------------------------------------------------- */

static void
bind_text (sqlite3_stmt *stmt,
           int           column,
           const char   *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, column);
  else
    sqlite3_bind_text (stmt, column, text, -1, SQLITE_STATIC);
}

static int
run (sqlite3_stmt *stmt)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int
apply_op (ConfabHistoryCache *self,
          Op                 *op)
{
  sqlite3_stmt *stmt;
  int rc = SQLITE_OK;

  switch (op->kind)
    {
    case OP_META:
      stmt = self->stmts[STMT_PUT_META];
      bind_text (stmt, 1, op->key);
      bind_text (stmt, 2, op->s1);
      return run (stmt);

    case OP_USER:
      stmt = self->stmts[STMT_PUT_USER];
      bind_text (stmt, 1, op->key);
      bind_text (stmt, 2, op->s1);
      sqlite3_bind_int64 (stmt, 3, op->t);
      return run (stmt);

    case OP_CHANNEL:
      stmt = self->stmts[STMT_PUT_CHANNEL];
      bind_text (stmt, 1, op->key);
      bind_text (stmt, 2, op->s1);
      sqlite3_bind_int64 (stmt, 3, op->u1);
      sqlite3_bind_int64 (stmt, 4, op->u2);
      sqlite3_bind_int64 (stmt, 5, op->t);
      sqlite3_bind_int (stmt, 6, op->flag);
      return run (stmt);

    case OP_MEMBERS:
      stmt = self->stmts[STMT_DELETE_MEMBERS];
      bind_text (stmt, 1, op->key);
      rc = run (stmt);
      for (guint i = 0; rc == SQLITE_OK && op->strv != NULL && op->strv[i] != NULL; i++)
        {
          stmt = self->stmts[STMT_PUT_MEMBER];
          bind_text (stmt, 1, op->key);
          bind_text (stmt, 2, op->strv[i]);
          rc = run (stmt);
        }
      return rc;

    case OP_MESSAGE:
      stmt = self->stmts[STMT_PUT_MESSAGE];
      bind_text (stmt, 1, op->key);
      bind_text (stmt, 2, op->s1);
      bind_text (stmt, 3, op->s2 != NULL ? op->s2 : "");
      bind_text (stmt, 4, op->s3 != NULL ? op->s3 : "");
      sqlite3_bind_int64 (stmt, 5, op->t);
      sqlite3_bind_int (stmt, 6, op->flag);
      return run (stmt);

    case OP_DELETE_MESSAGE:
      stmt = self->stmts[STMT_DELETE_MESSAGE];
      bind_text (stmt, 1, op->key);
      return run (stmt);

    case OP_DELETE_CHANNEL:
      stmt = self->stmts[STMT_DELETE_CHANNEL_MESSAGES];
      bind_text (stmt, 1, op->key);
      rc = run (stmt);
      if (rc == SQLITE_OK)
        {
          stmt = self->stmts[STMT_DELETE_MEMBERS];
          bind_text (stmt, 1, op->key);
          rc = run (stmt);
        }
      if (rc == SQLITE_OK)
        {
          stmt = self->stmts[STMT_DELETE_CHANNEL];
          bind_text (stmt, 1, op->key);
          rc = run (stmt);
        }
      return rc;

    case OP_TRIM:
      stmt = self->stmts[STMT_TRIM];
      bind_text (stmt, 1, op->key);
      sqlite3_bind_int64 (stmt, 2, op->u1);
      return run (stmt);

    case OP_CLEAR:
      return exec (self, "DELETE FROM messages; DELETE FROM members; DELETE FROM channels; "
                         "DELETE FROM users; DELETE FROM meta;");

    default:
      g_assert_not_reached ();
    }
}

/* One transaction of at most @max_ops changes, taken off the queue only once committed
 * (or dropped after a failure that retrying cannot fix). Returns FALSE with @error
 * after a failure. */
static gboolean
write_chunk (ConfabHistoryCache  *self,
             guint                max_ops,
             gboolean            *out_busy,
             GError             **error)
{
  guint n = 0;
  int rc;

  *out_busy = FALSE;
  if (self->db == NULL)
    {
      g_queue_clear_full (&self->ops, (GDestroyNotify) op_free);
      return TRUE;
    }

  rc = exec (self, "BEGIN IMMEDIATE");
  for (GList *l = self->ops.head; rc == SQLITE_OK && l != NULL && n < max_ops; l = l->next, n++)
    rc = apply_op (self, l->data);
  if (rc == SQLITE_OK)
    rc = exec (self, "COMMIT");

  if (rc == SQLITE_OK)
    {
      for (guint i = 0; i < n; i++)
        op_free (g_queue_pop_head (&self->ops));
      return TRUE;
    }

  exec (self, "ROLLBACK");
  if (is_busy (rc))
    {
      /* Another process holds the file: keep the changes for the next round. */
      *out_busy = TRUE;
      set_sqlite_error (error, self->db, rc, "busy");
      return FALSE;
    }

  for (guint i = 0; i < n && !g_queue_is_empty (&self->ops); i++)
    op_free (g_queue_pop_head (&self->ops));

  if (is_corruption (rc))
    {
      g_autoptr(GError) rebuilt = NULL;

      g_queue_clear_full (&self->ops, (GDestroyNotify) op_free);
      if (rebuild (self, &rebuilt))
        {
          g_signal_emit (self, signals[SIGNAL_RESET], 0);
          return TRUE;
        }
      g_propagate_error (error, g_steal_pointer (&rebuilt));
      return FALSE;
    }

  set_sqlite_error (error, self->db, rc, "write failed");
  return FALSE;
}

static void
report (ConfabHistoryCache *self,
        const GError       *error)
{
  g_message ("History cache: %s", error->message);
  g_signal_emit (self, signals[SIGNAL_STORAGE_ERROR], 0, error);
}

static gboolean
write_idle_cb (gpointer user_data)
{
  ConfabHistoryCache *self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean busy = FALSE;

  self->idle_id = 0;
  if (!write_chunk (self, CONFAB_HISTORY_CACHE_WRITE_CHUNK, &busy, &error))
    {
      if (!busy)
        report (self, error);
    }
  if (!g_queue_is_empty (&self->ops))
    {
      if (busy)
        schedule_write (self);
      else
        self->idle_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, write_idle_cb, self, NULL);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
write_timer_cb (gpointer user_data)
{
  ConfabHistoryCache *self = user_data;

  self->timer_id = 0;
  if (self->idle_id == 0)
    write_idle_cb (self);
  return G_SOURCE_REMOVE;
}

/* One-shot: nothing is armed while nothing changes. */
static void
schedule_write (ConfabHistoryCache *self)
{
  if (self->timer_id != 0 || self->idle_id != 0)
    return;
  self->timer_id = confab_clock_add_timeout (self->clock, CONFAB_HISTORY_CACHE_WRITE_DELAY_MS,
                                             write_timer_cb, self, NULL);
}

static Op *
push (ConfabHistoryCache *self,
      OpKind              kind,
      const char         *key)
{
  Op *op;

  if (self->db == NULL)
    return NULL;
  op = g_new0 (Op, 1);
  op->kind = kind;
  op->key = g_strdup (key);
  g_queue_push_tail (&self->ops, op);
  schedule_write (self);
  return op;
}

/* GObject ---------------------------------------------------------------------------------- */

static void
confab_history_cache_dispose (GObject *object)
{
  ConfabHistoryCache *self = CONFAB_HISTORY_CACHE (object);
  g_autoptr(GError) error = NULL;

  if (self->db != NULL && !g_queue_is_empty (&self->ops) &&
      !confab_history_cache_flush (self, &error))
    g_message ("History cache: pending writes lost at close: %s", error->message);
  g_queue_clear_full (&self->ops, (GDestroyNotify) op_free);
  if (self->clock != NULL)
    confab_clock_clear_timeout (self->clock, &self->timer_id);
  g_clear_handle_id (&self->idle_id, g_source_remove);
  close_db (self);
  g_clear_object (&self->clock);

  G_OBJECT_CLASS (confab_history_cache_parent_class)->dispose (object);
}

static void
confab_history_cache_finalize (GObject *object)
{
  ConfabHistoryCache *self = CONFAB_HISTORY_CACHE (object);

  g_clear_pointer (&self->directory, g_free);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->owner, g_free);
  g_clear_pointer (&self->set_aside, g_ptr_array_unref);

  G_OBJECT_CLASS (confab_history_cache_parent_class)->finalize (object);
}

static void
confab_history_cache_class_init (ConfabHistoryCacheClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_history_cache_dispose;
  object_class->finalize = confab_history_cache_finalize;

  /**
   * ConfabHistoryCache::reset:
   *
   * A write met a corrupt file: it was set aside and an empty cache took its place.
   * Write again everything that should be cached.
   */
  signals[SIGNAL_RESET] =
    g_signal_new ("reset", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  /**
   * ConfabHistoryCache::storage-error:
   * @error: what failed
   *
   * A batch of changes could not be written and was dropped.
   */
  signals[SIGNAL_STORAGE_ERROR] =
    g_signal_new ("storage-error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
confab_history_cache_init (ConfabHistoryCache *self)
{
  g_queue_init (&self->ops);
  self->set_aside = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->set_aside, NULL);
}

/* Public API ------------------------------------------------------------------------------- */

ConfabHistoryCache *
confab_history_cache_new (const char  *directory,
                          ConfabClock *clock)
{
  ConfabHistoryCache *self;

  g_return_val_if_fail (directory != NULL, NULL);
  g_return_val_if_fail (clock == NULL || CONFAB_IS_CLOCK (clock), NULL);

  self = g_object_new (CONFAB_TYPE_HISTORY_CACHE, NULL);
  self->directory = g_strdup (directory);
  self->path = g_build_filename (directory, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  self->clock = clock != NULL ? g_object_ref (clock) : g_object_ref (confab_clock_get_default ());
  return self;
}

gboolean
confab_history_cache_open (ConfabHistoryCache  *self,
                           GError             **error)
{
  g_autoptr(GError) local_error = NULL;
  OpenResult result;

  g_return_val_if_fail (CONFAB_IS_HISTORY_CACHE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->db != NULL)
    return TRUE;

  if (g_mkdir_with_parents (self->directory, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   "history cache: cannot create its directory: %s", g_strerror (saved));
      return FALSE;
    }

  result = try_open (self, &local_error);
  if (result == OPEN_OK)
    return TRUE;
  if (result == OPEN_FAILED)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  g_debug ("History cache: %s", local_error->message);
  rebuild (self, error);
  return FALSE;
}

gboolean
confab_history_cache_is_open (ConfabHistoryCache *self)
{
  g_return_val_if_fail (CONFAB_IS_HISTORY_CACHE (self), FALSE);

  return self->db != NULL;
}

const char *
confab_history_cache_get_path (ConfabHistoryCache *self)
{
  g_return_val_if_fail (CONFAB_IS_HISTORY_CACHE (self), NULL);

  return self->path;
}

const char * const *
confab_history_cache_get_set_aside_paths (ConfabHistoryCache *self)
{
  g_return_val_if_fail (CONFAB_IS_HISTORY_CACHE (self), NULL);

  return (const char * const *) self->set_aside->pdata;
}

const char *
confab_history_cache_get_owner (ConfabHistoryCache *self)
{
  g_return_val_if_fail (CONFAB_IS_HISTORY_CACHE (self), NULL);

  return self->owner;
}

static const char *
column_text (sqlite3_stmt *stmt,
             int           column)
{
  if (sqlite3_column_type (stmt, column) != SQLITE_TEXT)
    return NULL;
  return (const char *) sqlite3_column_text (stmt, column);
}

static int
load_all (ConfabHistoryCache             *self,
          const ConfabHistoryCacheLoader *loader,
          gpointer                        user_data)
{
  g_autoptr(GPtrArray) cids = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *stmt;
  int rc;

  stmt = self->stmts[STMT_SELECT_USERS];
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *id = column_text (stmt, 0);

      if (id != NULL && loader->user != NULL)
        loader->user (user_data, id, column_text (stmt, 1), sqlite3_column_int64 (stmt, 2));
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return rc;

  stmt = self->stmts[STMT_SELECT_CHANNELS];
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      ConfabCachedChannel channel = {
        .cid = column_text (stmt, 0),
        .name = column_text (stmt, 1),
        .member_count = (guint) CLAMP (sqlite3_column_int64 (stmt, 2), 0, G_MAXUINT),
        .unread_count = (guint) CLAMP (sqlite3_column_int64 (stmt, 3), 0, G_MAXUINT),
        .last_message_at = sqlite3_column_int64 (stmt, 4),
        .history_complete = sqlite3_column_int (stmt, 5) != 0,
      };

      if (channel.cid == NULL)
        continue;
      g_ptr_array_add (cids, g_strdup (channel.cid));
      if (loader->channel != NULL)
        loader->channel (user_data, &channel);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return rc;

  stmt = self->stmts[STMT_SELECT_MEMBERS];
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *cid = column_text (stmt, 0);
      const char *user_id = column_text (stmt, 1);

      if (cid != NULL && user_id != NULL && loader->member != NULL)
        loader->member (user_data, cid, user_id);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return rc;

  for (guint i = 0; i < cids->len; i++)
    {
      const char *cid = g_ptr_array_index (cids, i);
      gint64 count = 0;
      gint64 skip = 0;

      stmt = self->stmts[STMT_COUNT_MESSAGES];
      sqlite3_bind_text (stmt, 1, cid, -1, SQLITE_STATIC);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        count = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      if (rc != SQLITE_ROW)
        return rc;

      if (count > CONFAB_HISTORY_CACHE_MAX_MESSAGES_PER_CHANNEL)
        {
          Op *op = push (self, OP_TRIM, cid);

          skip = count - CONFAB_HISTORY_CACHE_MAX_MESSAGES_PER_CHANNEL;
          op->u1 = CONFAB_HISTORY_CACHE_MAX_MESSAGES_PER_CHANNEL;
        }

      stmt = self->stmts[STMT_SELECT_MESSAGES];
      sqlite3_bind_text (stmt, 1, cid, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, skip);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          ConfabCachedMessage message = {
            .id = column_text (stmt, 0),
            .cid = cid,
            .user_id = column_text (stmt, 1),
            .text = column_text (stmt, 2),
            .created_at = sqlite3_column_int64 (stmt, 3),
            .deleted = sqlite3_column_int (stmt, 4) != 0,
          };

          if (message.id != NULL && loader->message != NULL)
            loader->message (user_data, &message);
        }
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      if (rc != SQLITE_DONE)
        return rc;
    }

  return SQLITE_OK;
}

gboolean
confab_history_cache_load (ConfabHistoryCache             *self,
                           const ConfabHistoryCacheLoader *loader,
                           gpointer                        user_data,
                           GError                        **error)
{
  int rc;

  g_return_val_if_fail (CONFAB_IS_HISTORY_CACHE (self), FALSE);
  g_return_val_if_fail (loader != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->db == NULL)
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE, "history cache: not open");
      return FALSE;
    }

  /* One read transaction: a consistent picture, and no lock taken per statement. */
  rc = exec (self, "BEGIN");
  if (rc == SQLITE_OK)
    {
      rc = load_all (self, loader, user_data);
      exec (self, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK");
    }
  /* The page cache filled while reading is not needed any more. */
  sqlite3_db_release_memory (self->db);

  if (rc == SQLITE_OK)
    return TRUE;

  if (is_corruption (rc) || (rc & 0xff) == SQLITE_IOERR)
    {
      g_debug ("History cache: unreadable while loading (%d)", rc);
      g_queue_clear_full (&self->ops, (GDestroyNotify) op_free);
      rebuild (self, error);
      return FALSE;
    }

  set_sqlite_error (error, self->db, rc, "cannot read");
  return FALSE;
}

void
confab_history_cache_set_owner (ConfabHistoryCache *self,
                                const char         *user_id)
{
  Op *op;

  g_return_if_fail (CONFAB_IS_HISTORY_CACHE (self));

  if (self->db == NULL || g_strcmp0 (self->owner, user_id) == 0)
    return;
  g_free (self->owner);
  self->owner = g_strdup (user_id);
  op = push (self, OP_META, "owner");
  op->s1 = g_strdup (user_id);
}

void
confab_history_cache_put_user (ConfabHistoryCache *self,
                               const char         *id,
                               const char         *name,
                               gint64              last_active)
{
  Op *op;

  g_return_if_fail (CONFAB_IS_HISTORY_CACHE (self));
  g_return_if_fail (id != NULL);

  if ((op = push (self, OP_USER, id)) == NULL)
    return;
  op->s1 = g_strdup (name);
  op->t = last_active;
}

void
confab_history_cache_put_channel (ConfabHistoryCache        *self,
                                  const ConfabCachedChannel *channel)
{
  Op *op;

  g_return_if_fail (CONFAB_IS_HISTORY_CACHE (self));
  g_return_if_fail (channel != NULL && channel->cid != NULL);

  if ((op = push (self, OP_CHANNEL, channel->cid)) == NULL)
    return;
  op->s1 = g_strdup (channel->name);
  op->u1 = channel->member_count;
  op->u2 = channel->unread_count;
  op->t = channel->last_message_at;
  op->flag = channel->history_complete;
}

void
confab_history_cache_set_members (ConfabHistoryCache *self,
                                  const char         *cid,
                                  const char * const *user_ids)
{
  Op *op;

  g_return_if_fail (CONFAB_IS_HISTORY_CACHE (self));
  g_return_if_fail (cid != NULL);

  if ((op = push (self, OP_MEMBERS, cid)) == NULL)
    return;
  op->strv = g_strdupv ((char **) user_ids);
}

void
confab_history_cache_put_message (ConfabHistoryCache        *self,
                                  const ConfabCachedMessage *message)
{
  Op *op;

  g_return_if_fail (CONFAB_IS_HISTORY_CACHE (self));
  g_return_if_fail (message != NULL && message->id != NULL && message->cid != NULL);

  if ((op = push (self, OP_MESSAGE, message->id)) == NULL)
    return;
  op->s1 = g_strdup (message->cid);
  op->s2 = g_strdup (message->user_id);
  op->s3 = g_strdup (message->text);
  op->t = message->created_at;
  op->flag = message->deleted;
}

void
confab_history_cache_remove_message (ConfabHistoryCache *self,
                                     const char         *id)
{
  g_return_if_fail (CONFAB_IS_HISTORY_CACHE (self));
  g_return_if_fail (id != NULL);

  push (self, OP_DELETE_MESSAGE, id);
}

void
confab_history_cache_remove_channel (ConfabHistoryCache *self,
                                     const char         *cid)
{
  g_return_if_fail (CONFAB_IS_HISTORY_CACHE (self));
  g_return_if_fail (cid != NULL);

  push (self, OP_DELETE_CHANNEL, cid);
}

void
confab_history_cache_clear (ConfabHistoryCache *self)
{
  g_return_if_fail (CONFAB_IS_HISTORY_CACHE (self));

  if (self->db == NULL)
    return;
  /* What was queued before is forgotten with the rest. */
  g_queue_clear_full (&self->ops, (GDestroyNotify) op_free);
  g_clear_pointer (&self->owner, g_free);
  push (self, OP_CLEAR, NULL);
}

guint
confab_history_cache_get_n_pending (ConfabHistoryCache *self)
{
  g_return_val_if_fail (CONFAB_IS_HISTORY_CACHE (self), 0);

  return self->ops.length;
}

gboolean
confab_history_cache_flush (ConfabHistoryCache  *self,
                            GError             **error)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (CONFAB_IS_HISTORY_CACHE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  confab_clock_clear_timeout (self->clock, &self->timer_id);
  g_clear_handle_id (&self->idle_id, g_source_remove);

  while (!g_queue_is_empty (&self->ops))
    {
      g_autoptr(GError) local_error = NULL;
      gboolean busy = FALSE;

      if (!write_chunk (self, CONFAB_HISTORY_CACHE_WRITE_CHUNK, &busy, &local_error))
        {
          if (busy)
            {
              /* Kept for a later round. */
              schedule_write (self);
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          report (self, local_error);
          if (ok)
            g_propagate_error (error, g_steal_pointer (&local_error));
          ok = FALSE;
        }
    }
  return ok;
}
