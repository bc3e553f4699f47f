/* test-history-cache.c: the SQLite history cache: round trip, batching, bad files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "confab-error.h"
#include "confab-fake-clock.h"
#include "confab-history-cache.h"

/* Helpers ------------------------------------------------------------------------------- */

typedef struct
{
  GPtrArray *users;     /* "id|name|last_active" */
  GPtrArray *channels;  /* "cid|name|members|unread|last|complete" */
  GPtrArray *members;   /* "cid|user" */
  GPtrArray *messages;  /* "cid|id|user|text|created|deleted" */
} Loaded;

static void
loaded_init (Loaded *loaded)
{
  loaded->users = g_ptr_array_new_with_free_func (g_free);
  loaded->channels = g_ptr_array_new_with_free_func (g_free);
  loaded->members = g_ptr_array_new_with_free_func (g_free);
  loaded->messages = g_ptr_array_new_with_free_func (g_free);
}

static void
loaded_clear (Loaded *loaded)
{
  g_clear_pointer (&loaded->users, g_ptr_array_unref);
  g_clear_pointer (&loaded->channels, g_ptr_array_unref);
  g_clear_pointer (&loaded->members, g_ptr_array_unref);
  g_clear_pointer (&loaded->messages, g_ptr_array_unref);
}

static void
on_user (gpointer    user_data,
         const char *id,
         const char *name,
         gint64      last_active)
{
  Loaded *loaded = user_data;

  g_ptr_array_add (loaded->users, g_strdup_printf ("%s|%s|%" G_GINT64_FORMAT, id, name ? name : "(null)", last_active));
}

static void
on_channel (gpointer                   user_data,
            const ConfabCachedChannel *channel)
{
  Loaded *loaded = user_data;

  g_ptr_array_add (loaded->channels,
                   g_strdup_printf ("%s|%s|%u|%u|%" G_GINT64_FORMAT "|%d", channel->cid,
                                    channel->name ? channel->name : "(null)", channel->member_count,
                                    channel->unread_count, channel->last_message_at, channel->history_complete));
}

static void
on_member (gpointer    user_data,
           const char *cid,
           const char *user_id)
{
  Loaded *loaded = user_data;

  g_ptr_array_add (loaded->members, g_strdup_printf ("%s|%s", cid, user_id));
}

static void
on_message (gpointer                   user_data,
            const ConfabCachedMessage *message)
{
  Loaded *loaded = user_data;

  g_ptr_array_add (loaded->messages,
                   g_strdup_printf ("%s|%s|%s|%s|%" G_GINT64_FORMAT "|%d", message->cid, message->id,
                                    message->user_id, message->text ? message->text : "",
                                    message->created_at, message->deleted));
}

static const ConfabHistoryCacheLoader loader = { on_user, on_channel, on_member, on_message };

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char **) a, *(const char **) b);
}

static char *
make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("confab-history-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
}

static void
put_message (ConfabHistoryCache *cache,
             const char         *cid,
             const char         *id,
             const char         *user_id,
             const char         *text,
             gint64              created_at)
{
  ConfabCachedMessage message = { id, cid, user_id, text, created_at, FALSE };

  confab_history_cache_put_message (cache, &message);
}

static guint
count_set_aside (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    if (g_str_has_prefix (name, CONFAB_HISTORY_CACHE_FILE_NAME ".corrupt-") &&
        !g_str_has_suffix (name, "-wal") && !g_str_has_suffix (name, "-shm"))
      n++;
  return n;
}

/* /core/history-cache/round-trip ---------------------------------------------------------- */

static void
test_round_trip (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000);
  g_autoptr(ConfabHistoryCache) cache = confab_history_cache_new (dir, CONFAB_CLOCK (clock));
  g_autoptr(GError) error = NULL;
  const char *members[] = { "alice", "bob", NULL };
  const char *fewer[] = { "alice", NULL };
  ConfabCachedChannel general = { "messaging:general", "General", 3, 2, 5000, FALSE };
  ConfabCachedChannel design = { "messaging:design", NULL, 2, 0, 4000, TRUE };
  ConfabCachedMessage deleted = { "m4", "messaging:general", "bob", NULL, 4, TRUE };
  Loaded loaded;

  g_assert_true (confab_history_cache_open (cache, &error));
  g_assert_no_error (error);
  g_assert_true (confab_history_cache_is_open (cache));
  g_assert_null (confab_history_cache_get_owner (cache));

  confab_history_cache_set_owner (cache, "alice");
  confab_history_cache_put_user (cache, "alice", "Alice Martin", 10);
  confab_history_cache_put_user (cache, "bob", NULL, 20);
  confab_history_cache_put_user (cache, "bob", "Bob Novak", 15);   /* last_active never goes back */
  confab_history_cache_put_channel (cache, &general);
  confab_history_cache_put_channel (cache, &design);
  confab_history_cache_set_members (cache, "messaging:general", members);
  confab_history_cache_set_members (cache, "messaging:design", members);
  confab_history_cache_set_members (cache, "messaging:design", fewer);
  /* Out of order, with a tie broken by id, an update, markup, RTL and control characters. */
  put_message (cache, "messaging:general", "m3", "alice", "<b>not bold</b>", 3);
  put_message (cache, "messaging:general", "m1", "bob", "first", 1);
  put_message (cache, "messaging:general", "m2b", "bob", "שלום \x01\t", 2);
  put_message (cache, "messaging:general", "m2a", "bob", "tie", 2);
  put_message (cache, "messaging:general", "m1", "bob", "first, edited", 1);
  confab_history_cache_put_message (cache, &deleted);
  put_message (cache, "messaging:design", "d1", "alice", "design", 7);
  put_message (cache, "messaging:gone", "g1", "alice", "orphan", 7);
  confab_history_cache_remove_message (cache, "g1");
  g_assert_cmpuint (confab_history_cache_get_n_pending (cache), ==, 18);

  /* Nothing is written before the batch delay. */
  confab_fake_clock_advance (clock, (CONFAB_HISTORY_CACHE_WRITE_DELAY_MS - 1) * 1000);
  g_assert_cmpuint (confab_history_cache_get_n_pending (cache), ==, 18);
  confab_fake_clock_advance (clock, 1000);
  g_assert_cmpuint (confab_history_cache_get_n_pending (cache), ==, 0);
  /* And no timer stays armed while nothing changes. */
  g_assert_cmpuint (confab_fake_clock_get_n_pending (clock), ==, 0);

  g_clear_object (&cache);
  cache = confab_history_cache_new (dir, CONFAB_CLOCK (clock));
  g_assert_true (confab_history_cache_open (cache, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (confab_history_cache_get_owner (cache), ==, "alice");

  loaded_init (&loaded);
  g_assert_true (confab_history_cache_load (cache, &loader, &loaded, &error));
  g_assert_no_error (error);
  g_ptr_array_sort (loaded.users, compare_strings);
  g_assert_cmpuint (loaded.users->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (loaded.users, 0), ==, "alice|Alice Martin|10");
  g_assert_cmpstr (g_ptr_array_index (loaded.users, 1), ==, "bob|Bob Novak|20");
  g_ptr_array_sort (loaded.channels, compare_strings);
  g_assert_cmpuint (loaded.channels->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (loaded.channels, 0), ==, "messaging:design|(null)|2|0|4000|1");
  g_assert_cmpstr (g_ptr_array_index (loaded.channels, 1), ==, "messaging:general|General|3|2|5000|0");
  g_ptr_array_sort (loaded.members, compare_strings);
  g_assert_cmpuint (loaded.members->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (loaded.members, 0), ==, "messaging:design|alice");

  /* Each channel's messages oldest first; channels in the order of their rows. */
  {
    g_autoptr(GPtrArray) general_messages = g_ptr_array_new ();

    for (guint i = 0; i < loaded.messages->len; i++)
      if (g_str_has_prefix (g_ptr_array_index (loaded.messages, i), "messaging:general|"))
        g_ptr_array_add (general_messages, g_ptr_array_index (loaded.messages, i));
    g_assert_cmpuint (loaded.messages->len, ==, 6);
    g_assert_cmpuint (general_messages->len, ==, 5);
    g_assert_cmpstr (g_ptr_array_index (general_messages, 0), ==, "messaging:general|m1|bob|first, edited|1|0");
    g_assert_cmpstr (g_ptr_array_index (general_messages, 1), ==, "messaging:general|m2a|bob|tie|2|0");
    g_assert_cmpstr (g_ptr_array_index (general_messages, 2), ==, "messaging:general|m2b|bob|שלום \x01\t|2|0");
    g_assert_cmpstr (g_ptr_array_index (general_messages, 3), ==, "messaging:general|m3|alice|<b>not bold</b>|3|0");
    g_assert_cmpstr (g_ptr_array_index (general_messages, 4), ==, "messaging:general|m4|bob||4|1");
  }
  loaded_clear (&loaded);

  /* Removing a channel takes its messages and members; clearing takes everything. */
  confab_history_cache_remove_channel (cache, "messaging:design");
  g_assert_true (confab_history_cache_flush (cache, &error));
  g_assert_no_error (error);
  loaded_init (&loaded);
  g_assert_true (confab_history_cache_load (cache, &loader, &loaded, &error));
  g_assert_cmpuint (loaded.channels->len, ==, 1);
  g_assert_cmpuint (loaded.members->len, ==, 2);
  g_assert_cmpuint (loaded.messages->len, ==, 5);
  loaded_clear (&loaded);

  confab_history_cache_clear (cache);
  g_assert_null (confab_history_cache_get_owner (cache));
  g_assert_true (confab_history_cache_flush (cache, &error));
  loaded_init (&loaded);
  g_assert_true (confab_history_cache_load (cache, &loader, &loaded, &error));
  g_assert_cmpuint (loaded.users->len + loaded.channels->len + loaded.members->len + loaded.messages->len, ==, 0);
  loaded_clear (&loaded);

  g_clear_object (&cache);
  rm_rf (dir);
}

/* /core/history-cache/wal-and-schema -------------------------------------------------------- */

static void
test_wal_and_schema (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  g_autoptr(ConfabHistoryCache) cache = confab_history_cache_new (dir, NULL);
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_true (confab_history_cache_open (cache, &error));
  g_assert_no_error (error);
  g_clear_object (&cache);

  /* Private: the user's alone. */
  {
    GStatBuf st;

    g_assert_cmpint (g_stat (path, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  }
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "wal");
  sqlite3_finalize (stmt);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, CONFAB_HISTORY_CACHE_SCHEMA_VERSION);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  rm_rf (dir);
}

/* /core/history-cache/chunks ---------------------------------------------------------------- */

static gboolean
wake (gpointer user_data)
{
  gboolean *fired = user_data;

  *fired = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_chunks (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr(ConfabFakeClock) clock = confab_fake_clock_new (1000);
  g_autoptr(ConfabHistoryCache) cache = confab_history_cache_new (dir, CONFAB_CLOCK (clock));
  g_autoptr(GError) error = NULL;
  const guint total = CONFAB_HISTORY_CACHE_WRITE_CHUNK * 3 + 7;
  guint rounds = 0;
  gint64 deadline;
  Loaded loaded;

  g_assert_true (confab_history_cache_open (cache, &error));
  for (guint i = 0; i < total; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%05u", i);

      put_message (cache, "messaging:general", id, "bob", "text", i);
    }
  confab_fake_clock_advance (clock, CONFAB_HISTORY_CACHE_WRITE_DELAY_MS * 1000);
  /* The timer wrote one chunk; the rest follows from idle callbacks, one chunk each. */
  g_assert_cmpuint (confab_history_cache_get_n_pending (cache), ==, total - CONFAB_HISTORY_CACHE_WRITE_CHUNK);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (confab_history_cache_get_n_pending (cache) > 0 && g_get_monotonic_time () < deadline)
    {
      guint before = confab_history_cache_get_n_pending (cache);
      gboolean fired = FALSE;
      guint source = g_timeout_add (100, wake, &fired);

      g_main_context_iteration (NULL, TRUE);
      if (!fired)
        g_source_remove (source);
      if (confab_history_cache_get_n_pending (cache) < before)
        {
          g_assert_cmpuint (before - confab_history_cache_get_n_pending (cache), <=, CONFAB_HISTORY_CACHE_WRITE_CHUNK);
          rounds++;
        }
    }
  g_assert_cmpuint (confab_history_cache_get_n_pending (cache), ==, 0);
  g_assert_cmpuint (rounds, ==, 3);

  loaded_init (&loaded);
  g_assert_true (confab_history_cache_load (cache, &loader, &loaded, &error));
  g_assert_cmpuint (loaded.messages->len, ==, 0);  /* no channel row: not loaded */
  loaded_clear (&loaded);
  g_clear_object (&cache);
  rm_rf (dir);
}

/* Bad files ----------------------------------------------------------------------------- */

static void
write_history (const char *dir,
               guint       n)
{
  g_autoptr(ConfabHistoryCache) cache = confab_history_cache_new (dir, NULL);
  g_autoptr(GError) error = NULL;
  ConfabCachedChannel general = { "messaging:general", "General", 3, 0, n, FALSE };

  g_assert_true (confab_history_cache_open (cache, &error));
  g_assert_no_error (error);
  confab_history_cache_put_channel (cache, &general);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("message-%06u", i);
      g_autofree char *text = g_strdup_printf ("Message number %u, with some ordinary words in it.", i);

      put_message (cache, "messaging:general", id, i % 2 ? "bob" : "carol", text, 1000 + i);
    }
  g_assert_true (confab_history_cache_flush (cache, &error));
  g_assert_no_error (error);
}

/* Opens a bad file: set aside, an empty cache in its place that works. @fails_at_open:
 * the damage must show at open (else it may show at open or while reading). */
static void
assert_set_aside_and_rebuilt (const char *dir,
                              gboolean    fails_at_open)
{
  g_autoptr(ConfabHistoryCache) cache = confab_history_cache_new (dir, NULL);
  g_autoptr(GError) error = NULL;
  Loaded loaded;
  const char * const *aside;

  if (!confab_history_cache_open (cache, &error))
    {
      g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT);
      g_test_message ("open: %s", error->message);
      g_clear_error (&error);
    }
  else
    {
      g_assert_false (fails_at_open);
      g_assert_no_error (error);
      loaded_init (&loaded);
      g_assert_false (confab_history_cache_load (cache, &loader, &loaded, &error));
      g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT);
      g_test_message ("load: %s", error->message);
      g_clear_error (&error);
      loaded_clear (&loaded);
    }

  g_assert_true (confab_history_cache_is_open (cache));
  aside = confab_history_cache_get_set_aside_paths (cache);
  g_assert_nonnull (aside[0]);
  g_assert_null (aside[1]);
  g_assert_true (g_file_test (aside[0], G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (count_set_aside (dir), ==, 1);

  /* The rebuilt cache works. */
  put_message (cache, "messaging:general", "new", "alice", "after the rebuild", 5);
  {
    ConfabCachedChannel general = { "messaging:general", "General", 1, 0, 5, FALSE };

    confab_history_cache_put_channel (cache, &general);
  }
  g_assert_true (confab_history_cache_flush (cache, &error));
  g_assert_no_error (error);
  loaded_init (&loaded);
  g_assert_true (confab_history_cache_load (cache, &loader, &loaded, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (loaded.messages->len, ==, 1);
  loaded_clear (&loaded);
}

static void
test_random_bytes (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  g_autoptr(GError) error = NULL;
  guint8 junk[8192];

  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) g_random_int_range (0, 256);
  g_assert_true (g_file_set_contents (path, (const char *) junk, sizeof junk, &error));
  assert_set_aside_and_rebuilt (dir, TRUE);
  rm_rf (dir);
}

static void
test_truncated (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  write_history (dir, 3000);
  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_cmpuint (length, >, 65536);
  g_assert_cmpint (truncate (path, length / 3), ==, 0);
  assert_set_aside_and_rebuilt (dir, FALSE);
  rm_rf (dir);
}

static void
test_damaged_pages (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  /* The schema page intact, the message pages overwritten: found while reading. */
  write_history (dir, 3000);
  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_cmpuint (length, >, 65536);
  for (gsize i = 16384; i < length - 4096; i++)
    contents[i] = (char) (0xa5 ^ (i & 0xff));
  g_assert_true (g_file_set_contents (path, contents, length, &error));
  assert_set_aside_and_rebuilt (dir, FALSE);
  rm_rf (dir);
}

static void
test_tiny_file (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  g_autoptr(GError) error = NULL;

  /* The first bytes of a SQLite header, and nothing more. */
  g_assert_true (g_file_set_contents (path, "SQLite format 3\0\x10\0\x02\x02", 20, &error));
  assert_set_aside_and_rebuilt (dir, TRUE);
  rm_rf (dir);
}

static void
exec_sql (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static void
test_wrong_schema (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);

  /* Some other program's database. */
  exec_sql (path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                  "INSERT INTO notes (body) VALUES ('hello');");
  assert_set_aside_and_rebuilt (dir, TRUE);
  rm_rf (dir);
}

static void
test_right_version_wrong_tables (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);

  /* Our version number, but a messages table without our columns. */
  exec_sql (path, "CREATE TABLE messages (id TEXT PRIMARY KEY, body TEXT); PRAGMA user_version = 1;");
  assert_set_aside_and_rebuilt (dir, TRUE);
  rm_rf (dir);
}

static void
test_future_version (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);

  write_history (dir, 10);
  exec_sql (path, "PRAGMA user_version = 99;");
  assert_set_aside_and_rebuilt (dir, TRUE);
  rm_rf (dir);
}

static void
test_set_aside_twice (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, CONFAB_HISTORY_CACHE_FILE_NAME, NULL);
  g_autoptr(GError) error = NULL;

  /* Two bad files within the same second: neither overwrites the other. */
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(ConfabHistoryCache) cache = confab_history_cache_new (dir, NULL);

      g_assert_true (g_file_set_contents (path, "not a database at all, not at all", -1, &error));
      g_assert_false (confab_history_cache_open (cache, &error));
      g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_CORRUPT);
      g_clear_error (&error);
    }
  g_assert_cmpuint (count_set_aside (dir), ==, 2);
  rm_rf (dir);
}

static void
test_unwritable (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *file = g_build_filename (dir, "a-file", NULL);
  g_autofree char *below = g_build_filename (file, "cache", NULL);
  g_autoptr(ConfabHistoryCache) cache = NULL;
  g_autoptr(GError) error = NULL;

  /* A directory that cannot exist (a file is in its way): root cannot write there either. */
  g_assert_true (g_file_set_contents (file, "", 0, &error));
  cache = confab_history_cache_new (below, NULL);
  g_assert_false (confab_history_cache_open (cache, &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (confab_history_cache_is_open (cache));

  /* Writes are dropped quietly. */
  put_message (cache, "messaging:general", "m1", "bob", "text", 1);
  g_assert_cmpuint (confab_history_cache_get_n_pending (cache), ==, 0);
  g_assert_true (confab_history_cache_flush (cache, &error));
  g_assert_no_error (error);

  /* The database path itself a directory. */
  g_clear_object (&cache);
  {
    g_autofree char *db_dir = g_build_filename (dir, "other", CONFAB_HISTORY_CACHE_FILE_NAME, NULL);

    g_assert_cmpint (g_mkdir_with_parents (db_dir, 0700), ==, 0);
  }
  {
    g_autofree char *other = g_build_filename (dir, "other", NULL);

    cache = confab_history_cache_new (other, NULL);
  }
  g_assert_false (confab_history_cache_open (cache, &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE);
  g_clear_error (&error);

  g_clear_object (&cache);
  rm_rf (dir);
}

/* /core/history-cache/load-10000 ------------------------------------------------------------ */

static void
count_message (gpointer                   user_data,
               const ConfabCachedMessage *message)
{
  (*(guint *) user_data)++;
}

static void
test_load_10000 (void)
{
  static const ConfabHistoryCacheLoader counter = { NULL, NULL, NULL, count_message };
  g_autofree char *dir = make_dir ();
  g_autoptr(ConfabHistoryCache) cache = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;
  guint n = 0;

  start = g_get_monotonic_time ();
  write_history (dir, 10000);
  g_test_message ("writing 10000 messages in batches: %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);

  cache = confab_history_cache_new (dir, NULL);
  start = g_get_monotonic_time ();
  g_assert_true (confab_history_cache_open (cache, &error));
  g_assert_true (confab_history_cache_load (cache, &counter, &n, &error));
  g_assert_no_error (error);
  g_test_message ("opening and reading 10000 cached messages: %.1f ms",
                  (g_get_monotonic_time () - start) / 1000.0);
  g_assert_cmpuint (n, ==, 10000);
  g_clear_object (&cache);
  rm_rf (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/history-cache/round-trip", test_round_trip);
  g_test_add_func ("/core/history-cache/wal-and-schema", test_wal_and_schema);
  g_test_add_func ("/core/history-cache/chunks", test_chunks);
  g_test_add_func ("/core/history-cache/random-bytes", test_random_bytes);
  g_test_add_func ("/core/history-cache/truncated", test_truncated);
  g_test_add_func ("/core/history-cache/damaged-pages", test_damaged_pages);
  g_test_add_func ("/core/history-cache/tiny-file", test_tiny_file);
  g_test_add_func ("/core/history-cache/wrong-schema", test_wrong_schema);
  g_test_add_func ("/core/history-cache/right-version-wrong-tables", test_right_version_wrong_tables);
  g_test_add_func ("/core/history-cache/future-version", test_future_version);
  g_test_add_func ("/core/history-cache/set-aside-twice", test_set_aside_twice);
  g_test_add_func ("/core/history-cache/unwritable", test_unwritable);
  g_test_add_func ("/core/history-cache/load-10000", test_load_10000);

  return g_test_run ();
}
