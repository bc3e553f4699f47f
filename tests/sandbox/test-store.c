/* test-store.c: unit tests for the sandbox's SQLite store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "confab-sandbox-error.h"
#include "confab-sandbox-json.h"
#include "confab-sandbox-store.h"

/* ---------------------------------------------------------------------------------------- */
/* Helpers */

static ConfabSandboxStore *
memory_store (void)
{
  g_autoptr(GError) error = NULL;
  ConfabSandboxStore *store = confab_sandbox_store_new (NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static JsonObject *
parse (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonObject *object = confab_sandbox_json_parse_object (json, -1, &error);

  g_assert_no_error (error);
  g_assert_nonnull (object);
  return object;
}

static void
add_user (ConfabSandboxStore *store,
          const char         *id)
{
  g_autoptr(JsonObject) input = json_object_new ();
  g_autoptr(JsonObject) user = NULL;
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (input, "id", id);
  json_object_set_string_member (input, "name", id);
  user = confab_sandbox_store_upsert_user (store, input, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (user, "id"), ==, id);
}

/* Creates TYPE:ID with DATA (JSON text or NULL) and returns its cid. */
static char *
add_channel (ConfabSandboxStore *store,
             const char         *type,
             const char         *id,
             const char         *created_by,
             const char         *data_json)
{
  g_autoptr(JsonObject) data = data_json != NULL ? parse (data_json) : NULL;
  g_autoptr(JsonObject) channel = NULL;
  g_autoptr(GError) error = NULL;
  gboolean created = FALSE;

  channel = confab_sandbox_store_get_or_create_channel (store, type, id, created_by, data,
                                                        &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  return g_strdup (json_object_get_string_member (channel, "cid"));
}

/* Sends a message (ID NULL: generated) and returns its id. */
static char *
post_with_id (ConfabSandboxStore *store,
              const char         *cid,
              const char         *user_id,
              const char         *id,
              const char         *text)
{
  g_autoptr(JsonObject) input = json_object_new ();
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(GError) error = NULL;

  if (id != NULL)
    json_object_set_string_member (input, "id", id);
  json_object_set_string_member (input, "text", text);
  message = confab_sandbox_store_insert_message (store, cid, user_id, input, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  return g_strdup (json_object_get_string_member (message, "id"));
}

static char *
post (ConfabSandboxStore *store,
      const char         *cid,
      const char         *user_id,
      const char         *text)
{
  return post_with_id (store, cid, user_id, NULL, text);
}

static JsonObject *
get_channel (ConfabSandboxStore *store,
             const char         *cid)
{
  g_autoptr(GError) error = NULL;
  JsonObject *channel = confab_sandbox_store_get_channel (store, cid, &error);

  g_assert_no_error (error);
  g_assert_nonnull (channel);
  return channel;
}

static gint64
channel_int (ConfabSandboxStore *store,
             const char         *cid,
             const char         *member)
{
  g_autoptr(JsonObject) channel = get_channel (store, cid);

  return json_object_get_int_member (channel, member);
}

static gint64
time_member (JsonObject *object,
             const char *member)
{
  g_autoptr(GError) error = NULL;
  gint64 usec = 0;

  g_assert_true (json_object_has_member (object, member));
  confab_sandbox_parse_time (json_object_get_string_member (object, member), &usec, &error);
  g_assert_no_error (error);
  return usec;
}

/* The MEMBER string of each object, joined with commas. */
static char *
join_member (GPtrArray  *objects,
             const char *member)
{
  g_autoptr(GString) joined = g_string_new (NULL);

  g_assert_nonnull (objects);
  for (guint i = 0; i < objects->len; i++)
    {
      if (i > 0)
        g_string_append_c (joined, ',');
      g_string_append (joined, json_object_get_string_member (objects->pdata[i], member));
    }
  return g_string_free (g_steal_pointer (&joined), FALSE);
}

static void
assert_ids (GPtrArray  *objects,
            const char *member,
            const char *expected)
{
  g_autofree char *joined = join_member (objects, member);

  g_assert_cmpstr (joined, ==, expected);
}

static GPtrArray *
list_page (ConfabSandboxStore      *store,
           const char              *cid,
           const ConfabSandboxPage *page)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *messages = confab_sandbox_store_list_messages (store, cid, page, &error);

  g_assert_no_error (error);
  g_assert_nonnull (messages);
  return messages;
}

static void
remove_tree (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  if (handle == NULL)
    return;
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_tree (path);
      else
        g_assert_cmpint (g_remove (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static char *
make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("confab-store-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
raw_exec (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}

/* The first column of the first row of SQL, as text. */
static char *
raw_query (const char *path,
           const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *result;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  result = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
  return result;
}

/* ---------------------------------------------------------------------------------------- */
/* Schema and files */

static void
test_schema_reopen (void)
{
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *data_dir = g_build_filename (tmp, "nested", "data", NULL);
  g_autofree char *db_path = g_build_filename (data_dir, "sandbox.db", NULL);
  g_autofree char *cid = NULL;
  g_autofree char *m1 = NULL;
  g_autofree char *m2 = NULL;
  g_autofree char *m3 = NULL;
  g_autofree char *m4 = NULL;
  g_autofree char *version = NULL;
  g_autofree char *journal = NULL;
  g_autoptr(ConfabSandboxStore) store = NULL;
  g_autoptr(JsonObject) read_entry = NULL;
  g_autoptr(JsonObject) alice = NULL;
  g_autoptr(JsonObject) channel = NULL;
  g_autoptr(JsonObject) input = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GPtrArray) reads = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  GStatBuf st;
  JsonObject *bob_read;

  store = confab_sandbox_store_new (data_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (confab_sandbox_store_get_schema_version (store), ==, 1);

  g_assert_cmpint (g_stat (data_dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  input = parse ("{\"id\":\"alice\",\"name\":\"Alice\",\"color\":\"teal\"}");
  alice = confab_sandbox_store_upsert_user (store, input, &error);
  g_assert_no_error (error);
  g_clear_pointer (&alice, json_object_unref);
  add_user (store, "bob");
  cid = add_channel (store, "messaging", "general", "alice",
                     "{\"name\":\"General\",\"members\":[\"alice\",\"bob\"]}");
  m1 = post (store, cid, "alice", "one");
  m2 = post (store, cid, "alice", "two");
  m3 = post (store, cid, "alice", "three");
  read_entry = confab_sandbox_store_mark_read (store, cid, "bob", m2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (read_entry, "unread_messages"), ==, 1);
  g_clear_object (&store);

  version = raw_query (db_path, "PRAGMA user_version");
  g_assert_cmpstr (version, ==, "1");
  journal = raw_query (db_path, "PRAGMA journal_mode");
  g_assert_cmpstr (journal, ==, "wal");

  store = confab_sandbox_store_new (data_dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  g_assert_cmpint (confab_sandbox_store_get_schema_version (store), ==, 1);

  alice = confab_sandbox_store_get_user (store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (alice, "name"), ==, "Alice");
  g_assert_cmpstr (json_object_get_string_member (alice, "color"), ==, "teal");

  channel = get_channel (store, cid);
  g_assert_cmpstr (json_object_get_string_member (channel, "name"), ==, "General");
  g_assert_cmpint (json_object_get_int_member (channel, "member_count"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (channel, "message_count"), ==, 3);
  g_assert_true (confab_sandbox_store_is_member (store, cid, "bob"));

  messages = list_page (store, cid, NULL);
  expected = g_strjoin (",", m1, m2, m3, NULL);
  assert_ids (messages, "id", expected);

  reads = confab_sandbox_store_list_reads (store, cid, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reads->len, ==, 2);
  bob_read = reads->pdata[1];
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (bob_read, "user"), "id"),
                   ==, "bob");
  g_assert_cmpstr (json_object_get_string_member (bob_read, "last_read_message_id"), ==, m2);
  g_assert_cmpint (json_object_get_int_member (bob_read, "unread_messages"), ==, 1);

  /* Sequence numbers carry on after a reopen: the new message sorts last. */
  m4 = post (store, cid, "alice", "four");
  g_clear_pointer (&messages, g_ptr_array_unref);
  g_clear_pointer (&expected, g_free);
  messages = list_page (store, cid, NULL);
  expected = g_strjoin (",", m1, m2, m3, m4, NULL);
  assert_ids (messages, "id", expected);

  g_clear_object (&store);
  remove_tree (tmp);
}

static void
test_schema_newer_refused (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *db_path = g_build_filename (dir, "sandbox.db", NULL);
  g_autofree char *version = NULL;
  g_autofree char *tables = NULL;
  g_autoptr(ConfabSandboxStore) store = NULL;
  g_autoptr(GError) error = NULL;

  raw_exec (db_path, "CREATE TABLE future (x); PRAGMA user_version = 2;");

  store = confab_sandbox_store_new (dir, &error);
  g_assert_null (store);
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "version 2"));
  g_assert_nonnull (strstr (error->message, "version 1"));

  version = raw_query (db_path, "PRAGMA user_version");
  g_assert_cmpstr (version, ==, "2");
  tables = raw_query (db_path, "SELECT group_concat (name) FROM sqlite_schema");
  g_assert_cmpstr (tables, ==, "future");

  remove_tree (dir);
}

static void
test_schema_garbage_refused (void)
{
  const gsize sizes[] = { 10, 8192 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *dir = make_tmp_dir ();
      g_autofree char *db_path = g_build_filename (dir, "sandbox.db", NULL);
      g_autofree char *wal_path = g_build_filename (dir, "sandbox.db-wal", NULL);
      g_autofree char *garbage = g_malloc (sizes[i]);
      g_autofree char *after = NULL;
      g_autoptr(ConfabSandboxStore) store = NULL;
      g_autoptr(GError) error = NULL;
      gsize after_length = 0;

      for (gsize j = 0; j < sizes[i]; j++)
        garbage[j] = (char) ("not a database! "[j % 16]);
      g_assert_true (g_file_set_contents (db_path, garbage, sizes[i], NULL));

      store = confab_sandbox_store_new (dir, &error);
      g_assert_null (store);
      g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL);
      g_assert_nonnull (strstr (error->message, "not a SQLite database"));

      g_assert_true (g_file_get_contents (db_path, &after, &after_length, NULL));
      g_assert_cmpmem (after, after_length, garbage, sizes[i]);
      g_assert_false (g_file_test (wal_path, G_FILE_TEST_EXISTS));

      remove_tree (dir);
    }
}

static void
test_schema_foreign_database_refused (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *db_path = g_build_filename (dir, "sandbox.db", NULL);
  g_autofree char *tables = NULL;
  g_autoptr(ConfabSandboxStore) store = NULL;
  g_autoptr(GError) error = NULL;

  raw_exec (db_path, "CREATE TABLE notes (body TEXT);");

  store = confab_sandbox_store_new (dir, &error);
  g_assert_null (store);
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INTERNAL);

  tables = raw_query (db_path, "SELECT group_concat (name) FROM sqlite_schema");
  g_assert_cmpstr (tables, ==, "notes");

  remove_tree (dir);
}

/* ---------------------------------------------------------------------------------------- */
/* Users */

static void
test_user_validation (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *long_id = g_strnfill (256, 'a');
  g_autofree char *long_json = g_strdup_printf ("{\"id\":\"%s\"}", long_id);
  g_autofree char *max_json = g_strdup_printf ("{\"id\":\"%.255s\"}", long_id);
  const char *bad[] = {
    "{}",
    "{\"id\":5}",
    "{\"id\":null}",
    "{\"id\":\"\"}",
    "{\"id\":\"a b\"}",
    "{\"id\":\"caf\\u00e9\"}",
    "{\"id\":\"x/y\"}",
    "{\"id\":\"x:y\"}",
    long_json,
    "{\"id\":\"ok\",\"name\":3}",
    "{\"id\":\"ok\",\"image\":[]}",
    "{\"id\":\"ok\",\"role\":true}",
    "{\"id\":\"ok\",\"role\":\"\"}",
  };
  const char *good[] = { max_json, "{\"id\":\"A-z_0@9\"}" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonObject) input = parse (bad[i]);
      g_autoptr(JsonObject) user = confab_sandbox_store_upsert_user (store, input, &error);

      g_assert_null (user);
      g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
      g_clear_error (&error);
    }

  g_assert_null (confab_sandbox_store_upsert_user (store, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);

  users = confab_sandbox_store_query_users (store, NULL, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 0);
  g_clear_pointer (&users, g_ptr_array_unref);

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(JsonObject) input = parse (good[i]);
      g_autoptr(JsonObject) user = confab_sandbox_store_upsert_user (store, input, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (json_object_get_string_member (user, "id"), ==,
                       json_object_get_string_member (input, "id"));
    }

  users = confab_sandbox_store_query_users (store, NULL, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 2);
}

static void
test_user_upsert (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) first_input = NULL;
  g_autoptr(JsonObject) second_input = NULL;
  g_autoptr(JsonObject) nested_input = NULL;
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) second = NULL;
  g_autoptr(JsonObject) fetched = NULL;
  g_autoptr(JsonObject) nested = NULL;
  g_autoptr(GError) error = NULL;

  first_input = parse ("{\"id\":\"alice\",\"name\":\"Alice\",\"image\":\"https://x/a.png\","
                       "\"color\":\"red\",\"box\":{\"a\":1},\"online\":true,"
                       "\"created_at\":\"2001-01-01T00:00:00Z\",\"teams\":[\"t\"]}");
  first = confab_sandbox_store_upsert_user (store, first_input, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (first, "name"), ==, "Alice");
  g_assert_cmpstr (json_object_get_string_member (first, "image"), ==, "https://x/a.png");
  g_assert_cmpstr (json_object_get_string_member (first, "role"), ==, "user");
  g_assert_cmpstr (json_object_get_string_member (first, "color"), ==, "red");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (first, "box"), "a"),
                   ==, 1);
  g_assert_false (json_object_get_boolean_member (first, "online"));
  g_assert_false (json_object_get_boolean_member (first, "banned"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (first, "teams")), ==, 0);
  g_assert_false (json_object_has_member (first, "last_active"));
  /* The client's created_at is read-only and ignored. */
  g_assert_cmpint (time_member (first, "created_at"), >, G_GINT64_CONSTANT (1500000000) * G_USEC_PER_SEC);

  second_input = parse ("{\"id\":\"alice\",\"role\":\"admin\",\"mood\":\"happy\"}");
  second = confab_sandbox_store_upsert_user (store, second_input, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (second, "created_at"), ==,
                   json_object_get_string_member (first, "created_at"));
  g_assert_cmpint (time_member (second, "updated_at"), >, time_member (first, "updated_at"));
  g_assert_cmpstr (json_object_get_string_member (second, "role"), ==, "admin");
  g_assert_cmpstr (json_object_get_string_member (second, "mood"), ==, "happy");
  g_assert_false (json_object_has_member (second, "color"));
  g_assert_false (json_object_has_member (second, "box"));
  g_assert_false (json_object_has_member (second, "name"));
  g_assert_false (json_object_has_member (second, "image"));

  fetched = confab_sandbox_store_get_user (store, "alice", &error);
  g_assert_no_error (error);
  g_assert_true (json_object_equal (fetched, second));

  /* Custom data nested in `custom` is stored flat. */
  nested_input = parse ("{\"id\":\"carol\",\"custom\":{\"x\":1,\"created_at\":\"no\"}}");
  nested = confab_sandbox_store_upsert_user (store, nested_input, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (nested, "x"), ==, 1);
  g_assert_false (json_object_has_member (nested, "custom"));
  g_assert_cmpstr (json_object_get_string_member (nested, "created_at"), !=, "no");
}

static void
test_user_partial_update (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) input = parse ("{\"id\":\"alice\",\"name\":\"Alice\",\"color\":\"red\","
                                       "\"size\":3}");
  g_autoptr(JsonObject) original = NULL;
  g_autoptr(JsonObject) updated = NULL;
  g_autoptr(JsonObject) set = NULL;
  g_autoptr(JsonObject) after = NULL;
  g_autoptr(GError) error = NULL;
  const char *unset_size[] = { "size", NULL };
  const char *unset_name_role[] = { "name", "role", NULL };

  original = confab_sandbox_store_upsert_user (store, input, &error);
  g_assert_no_error (error);

  set = parse ("{\"name\":\"Alice B\",\"color\":\"blue\",\"hobby\":\"chess\",\"role\":\"admin\"}");
  updated = confab_sandbox_store_partial_update_user (store, "alice", set, (char **) unset_size,
                                                      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (updated, "name"), ==, "Alice B");
  g_assert_cmpstr (json_object_get_string_member (updated, "color"), ==, "blue");
  g_assert_cmpstr (json_object_get_string_member (updated, "hobby"), ==, "chess");
  g_assert_cmpstr (json_object_get_string_member (updated, "role"), ==, "admin");
  g_assert_false (json_object_has_member (updated, "size"));
  g_assert_cmpstr (json_object_get_string_member (updated, "created_at"), ==,
                   json_object_get_string_member (original, "created_at"));
  g_assert_cmpint (time_member (updated, "updated_at"), >, time_member (original, "updated_at"));
  g_clear_pointer (&updated, json_object_unref);

  updated = confab_sandbox_store_partial_update_user (store, "alice", NULL,
                                                      (char **) unset_name_role, &error);
  g_assert_no_error (error);
  g_assert_false (json_object_has_member (updated, "name"));
  g_assert_cmpstr (json_object_get_string_member (updated, "role"), ==, "user");
  g_assert_cmpstr (json_object_get_string_member (updated, "color"), ==, "blue");
  g_clear_pointer (&updated, json_object_unref);

  /* A wrong type changes nothing. */
  g_clear_pointer (&set, json_object_unref);
  set = parse ("{\"color\":\"green\",\"name\":3}");
  g_assert_null (confab_sandbox_store_partial_update_user (store, "alice", set, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);
  after = confab_sandbox_store_get_user (store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (after, "color"), ==, "blue");

  g_clear_pointer (&set, json_object_unref);
  set = parse ("{\"id\":\"mallory\"}");
  g_assert_null (confab_sandbox_store_partial_update_user (store, "alice", set, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);

  g_assert_null (confab_sandbox_store_partial_update_user (store, "ghost", NULL,
                                                           (char **) unset_size, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
}

static void
test_user_get_query_touch (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(JsonObject) touched = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected_time = NULL;
  const char *some[] = { "u005", "u003", "ghost", NULL };
  const gint64 when = G_GINT64_CONSTANT (1700000000123456);

  g_assert_null (confab_sandbox_store_get_user (store, "ghost", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_assert_cmpstr (error->message, ==, "user \"ghost\" does not exist");
  g_clear_error (&error);

  g_assert_null (confab_sandbox_store_get_user (store, "bad\nid\"", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_assert_null (strchr (error->message, '\n'));
  g_clear_error (&error);

  for (guint i = 0; i < 120; i++)
    {
      g_autofree char *id = g_strdup_printf ("u%03u", i);

      add_user (store, id);
    }

  users = confab_sandbox_store_query_users (store, NULL, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 30);
  g_assert_cmpstr (json_object_get_string_member (users->pdata[0], "id"), ==, "u000");
  g_assert_cmpstr (json_object_get_string_member (users->pdata[29], "id"), ==, "u029");
  g_clear_pointer (&users, g_ptr_array_unref);

  users = confab_sandbox_store_query_users (store, NULL, 10, 115, &error);
  g_assert_no_error (error);
  assert_ids (users, "id", "u115,u116,u117,u118,u119");
  g_clear_pointer (&users, g_ptr_array_unref);

  users = confab_sandbox_store_query_users (store, NULL, 500, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 100);
  g_clear_pointer (&users, g_ptr_array_unref);

  users = confab_sandbox_store_query_users (store, (char **) some, 0, 0, &error);
  g_assert_no_error (error);
  assert_ids (users, "id", "u003,u005");

  g_assert_true (confab_sandbox_store_touch_user (store, "u003", when, &error));
  g_assert_no_error (error);
  touched = confab_sandbox_store_get_user (store, "u003", &error);
  g_assert_no_error (error);
  expected_time = confab_sandbox_format_time (when);
  g_assert_cmpstr (json_object_get_string_member (touched, "last_active"), ==, expected_time);

  g_assert_false (confab_sandbox_store_touch_user (store, "ghost", when, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
}

/* ---------------------------------------------------------------------------------------- */
/* Channels and members */

static void
test_channel_distinct (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) data = NULL;
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) again = NULL;
  g_autoptr(JsonObject) three = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "alice,bob", -1);
  g_autofree char *expected_id = g_strdup_printf ("!members-%.40s", digest);
  g_autofree char *expected_cid = g_strdup_printf ("messaging:%s", expected_id);
  gboolean created = FALSE;
  const char *bad[] = {
    "{\"members\":[\"alice\"]}",
    "{\"members\":[\"alice\",\"alice\"]}",
    "{\"members\":\"alice,bob\"}",
    "{\"members\":[1,2]}",
    "{}",
  };

  add_user (store, "alice");
  add_user (store, "bob");
  add_user (store, "carol");

  data = parse ("{\"members\":[\"bob\",\"alice\",\"bob\"]}");
  first = confab_sandbox_store_get_or_create_channel (store, "messaging", NULL, "alice", data,
                                                      &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_cmpstr (json_object_get_string_member (first, "id"), ==, expected_id);
  g_assert_cmpstr (json_object_get_string_member (first, "cid"), ==, expected_cid);
  g_assert_cmpint (json_object_get_int_member (first, "member_count"), ==, 2);

  g_clear_pointer (&data, json_object_unref);
  data = parse ("{\"members\":[\"alice\",\"bob\"]}");
  again = confab_sandbox_store_get_or_create_channel (store, "messaging", "", "bob", data,
                                                      &created, &error);
  g_assert_no_error (error);
  g_assert_false (created);
  g_assert_cmpstr (json_object_get_string_member (again, "cid"), ==, expected_cid);

  g_clear_pointer (&data, json_object_unref);
  data = parse ("{\"members\":[\"carol\",\"alice\",\"bob\"]}");
  three = confab_sandbox_store_get_or_create_channel (store, "messaging", NULL, "alice", data,
                                                      &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_cmpstr (json_object_get_string_member (three, "cid"), !=, expected_cid);
  g_assert_cmpint (json_object_get_int_member (three, "member_count"), ==, 3);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonObject) bad_data = parse (bad[i]);

      g_assert_null (confab_sandbox_store_get_or_create_channel (store, "messaging", NULL, "alice",
                                                                 bad_data, &created, &error));
      g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
      g_assert_false (created);
      g_clear_error (&error);
    }
  g_assert_null (confab_sandbox_store_get_or_create_channel (store, "messaging", NULL, "alice",
                                                             NULL, &created, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
}

static void
test_channel_create (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) data = NULL;
  g_autoptr(JsonObject) channel = NULL;
  g_autoptr(JsonObject) again = NULL;
  g_autoptr(JsonObject) orphan = NULL;
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *long_id = g_strnfill (65, 'a');
  g_autofree char *team_cid = NULL;
  JsonObject *config;
  JsonObject *member;
  JsonArray *capabilities;
  gboolean created = FALSE;
  const char *bad_types[] = { "Messaging", "bad type", "", NULL };
  const char *bad_ids[] = { "a b", "a:b", "caf\xc3\xa9", long_id };

  add_user (store, "alice");
  add_user (store, "bob");

  data = parse ("{\"name\":\"General\",\"topic\":\"x\",\"members\":[\"bob\"],"
                "\"cid\":\"evil:x\",\"frozen\":true,\"config\":{\"reactions\":false}}");
  channel = confab_sandbox_store_get_or_create_channel (store, "messaging", "general", "alice",
                                                        data, &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_cmpstr (json_object_get_string_member (channel, "id"), ==, "general");
  g_assert_cmpstr (json_object_get_string_member (channel, "type"), ==, "messaging");
  g_assert_cmpstr (json_object_get_string_member (channel, "cid"), ==, "messaging:general");
  g_assert_cmpstr (json_object_get_string_member (channel, "name"), ==, "General");
  g_assert_cmpstr (json_object_get_string_member (channel, "topic"), ==, "x");
  g_assert_false (json_object_get_boolean_member (channel, "frozen"));
  g_assert_false (json_object_get_boolean_member (channel, "disabled"));
  g_assert_false (json_object_has_member (channel, "members"));
  g_assert_false (json_object_has_member (channel, "last_message_at"));
  g_assert_cmpint (json_object_get_int_member (channel, "member_count"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (channel, "message_count"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (channel, "created_by"),
                                                  "id"), ==, "alice");
  config = json_object_get_object_member (channel, "config");
  g_assert_true (json_object_get_boolean_member (config, "reactions"));
  g_assert_true (json_object_get_boolean_member (config, "typing_events"));
  g_assert_false (json_object_get_boolean_member (config, "delivery_events"));
  g_assert_cmpint (json_object_get_int_member (config, "max_message_length"), ==, 5000);
  capabilities = json_object_get_array_member (channel, "own_capabilities");
  g_assert_cmpuint (json_array_get_length (capabilities), ==, 17);
  g_assert_cmpstr (json_array_get_string_element (capabilities, 0), ==, "send-message");

  /* The creator is a member only when listed. */
  g_assert_false (confab_sandbox_store_is_member (store, "messaging:general", "alice"));
  g_assert_true (confab_sandbox_store_is_member (store, "messaging:general", "bob"));
  members = confab_sandbox_store_list_members (store, "messaging:general", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (members->len, ==, 1);
  member = members->pdata[0];
  g_assert_cmpstr (json_object_get_string_member (member, "user_id"), ==, "bob");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (member, "user"), "id"),
                   ==, "bob");
  g_assert_cmpstr (json_object_get_string_member (member, "role"), ==, "member");
  g_assert_cmpstr (json_object_get_string_member (member, "channel_role"), ==, "channel_member");
  g_assert_false (json_object_get_boolean_member (member, "banned"));
  g_clear_pointer (&members, g_ptr_array_unref);

  /* Existing: returned as it is, data ignored. */
  g_clear_pointer (&data, json_object_unref);
  data = parse ("{\"name\":\"Renamed\",\"members\":[\"alice\"]}");
  again = confab_sandbox_store_get_or_create_channel (store, "messaging", "general", "bob",
                                                      data, &created, &error);
  g_assert_no_error (error);
  g_assert_false (created);
  g_assert_cmpstr (json_object_get_string_member (again, "name"), ==, "General");
  g_assert_cmpint (json_object_get_int_member (again, "member_count"), ==, 1);

  team_cid = add_channel (store, "team", "red", "alice", "{\"members\":[\"bob\",\"alice\"]}");
  members = confab_sandbox_store_list_members (store, team_cid, &error);
  g_assert_no_error (error);
  assert_ids (members, "user_id", "alice,bob");
  g_assert_cmpstr (json_object_get_string_member (members->pdata[0], "role"), ==, "owner");
  g_assert_cmpstr (json_object_get_string_member (members->pdata[0], "channel_role"), ==, "owner");
  g_assert_cmpstr (json_object_get_string_member (members->pdata[1], "role"), ==, "member");

  for (guint i = 0; i < G_N_ELEMENTS (bad_types); i++)
    {
      g_assert_null (confab_sandbox_store_get_or_create_channel (store, bad_types[i], "x", "alice",
                                                                 NULL, &created, &error));
      g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
      g_clear_error (&error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_ids); i++)
    {
      g_assert_null (confab_sandbox_store_get_or_create_channel (store, "messaging", bad_ids[i],
                                                                 "alice", NULL, &created, &error));
      g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
      g_clear_error (&error);
    }

  g_assert_null (confab_sandbox_store_get_or_create_channel (store, "messaging", "lost", "ghost",
                                                             NULL, &created, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_get_channel (store, "messaging:lost", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);

  orphan = confab_sandbox_store_get_or_create_channel (store, "livestream", "a@b_c!-9", NULL,
                                                       NULL, &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (orphan, "created_by")));
  g_assert_cmpint (json_object_get_int_member (orphan, "member_count"), ==, 0);
}

static void
test_members_must_exist (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) data = NULL;
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *joined = NULL;
  gboolean created = TRUE;
  const char *with_ghost[] = { "bob", "ghost", NULL };
  const char *two[] = { "carol", "bob", NULL };

  add_user (store, "alice");
  add_user (store, "bob");
  add_user (store, "carol");

  data = parse ("{\"members\":[\"alice\",\"ghost\",\"phantom\"]}");
  g_assert_null (confab_sandbox_store_get_or_create_channel (store, "messaging", "room", "alice",
                                                             data, &created, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_assert_false (created);
  g_assert_nonnull (strstr (error->message, "don't exist"));
  g_assert_nonnull (strstr (error->message, "ghost"));
  g_assert_nonnull (strstr (error->message, "phantom"));
  g_assert_null (strstr (error->message, "alice"));
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_get_channel (store, "messaging:room", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);

  cid = add_channel (store, "messaging", "room", "alice", "{\"members\":[\"alice\"]}");

  /* All or nothing. */
  g_assert_false (confab_sandbox_store_add_members (store, cid, (char **) with_ghost, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "ghost"));
  g_clear_error (&error);
  g_assert_false (confab_sandbox_store_is_member (store, cid, "bob"));

  g_assert_true (confab_sandbox_store_add_members (store, cid, (char **) two, &error));
  g_assert_no_error (error);
  g_assert_true (confab_sandbox_store_add_members (store, cid, (char **) two, &error));
  g_assert_no_error (error);
  g_assert_cmpint (channel_int (store, cid, "member_count"), ==, 3);

  ids = confab_sandbox_store_member_ids (store, cid, &error);
  g_assert_no_error (error);
  joined = g_strjoinv (",", ids);
  g_assert_cmpstr (joined, ==, "alice,bob,carol");

  members = confab_sandbox_store_list_members (store, cid, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (members->len, ==, 3);
  g_assert_cmpstr (json_object_get_string_member (members->pdata[0], "user_id"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (members->pdata[0], "role"), ==, "owner");

  g_assert_false (confab_sandbox_store_add_members (store, "messaging:nope", (char **) two, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_member_ids (store, "messaging:nope", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_false (confab_sandbox_store_is_member (store, NULL, "bob"));
  g_assert_false (confab_sandbox_store_is_member (store, cid, NULL));
}

static void
test_query_channels (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(GPtrArray) channels = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;
  g_autofree char *d = NULL;
  g_autofree char *m1 = NULL;
  g_autofree char *m2 = NULL;
  const char *some[] = { "team:c", "messaging:a", "messaging:zzz", NULL };
  const char *only_d[] = { "messaging:d", NULL };
  const char *none[] = { NULL };

  add_user (store, "alice");
  add_user (store, "bob");
  a = add_channel (store, "messaging", "a", "alice", "{\"members\":[\"alice\",\"bob\"]}");
  b = add_channel (store, "messaging", "b", "alice", "{\"members\":[\"alice\"]}");
  c = add_channel (store, "team", "c", "alice", "{\"members\":[\"alice\",\"bob\"]}");
  d = add_channel (store, "messaging", "d", "bob", "{\"members\":[\"bob\"]}");

  /* Without messages: newest created first. */
  channels = confab_sandbox_store_query_channels (store, NULL, NULL, NULL, 0, 0, &error);
  g_assert_no_error (error);
  assert_ids (channels, "cid", "messaging:d,team:c,messaging:b,messaging:a");
  g_clear_pointer (&channels, g_ptr_array_unref);

  /* Channels with messages come first, the most recent message first. */
  m1 = post (store, b, "alice", "to b");
  m2 = post (store, a, "alice", "to a");
  channels = confab_sandbox_store_query_channels (store, NULL, NULL, NULL, 0, 0, &error);
  g_assert_no_error (error);
  assert_ids (channels, "cid", "messaging:a,messaging:b,messaging:d,team:c");
  g_assert_true (json_object_has_member (channels->pdata[0], "last_message_at"));
  g_assert_false (json_object_has_member (channels->pdata[2], "last_message_at"));
  g_clear_pointer (&channels, g_ptr_array_unref);

  channels = confab_sandbox_store_query_channels (store, "alice", NULL, NULL, 0, 0, &error);
  g_assert_no_error (error);
  assert_ids (channels, "cid", "messaging:a,messaging:b,team:c");
  g_clear_pointer (&channels, g_ptr_array_unref);

  channels = confab_sandbox_store_query_channels (store, "bob", NULL, "messaging", 0, 0, &error);
  g_assert_no_error (error);
  assert_ids (channels, "cid", "messaging:a,messaging:d");
  g_clear_pointer (&channels, g_ptr_array_unref);

  channels = confab_sandbox_store_query_channels (store, NULL, (char **) some, NULL, 0, 0, &error);
  g_assert_no_error (error);
  assert_ids (channels, "cid", "messaging:a,team:c");
  g_clear_pointer (&channels, g_ptr_array_unref);

  channels = confab_sandbox_store_query_channels (store, NULL, (char **) none, NULL, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (channels->len, ==, 0);
  g_clear_pointer (&channels, g_ptr_array_unref);

  channels = confab_sandbox_store_query_channels (store, "alice", (char **) only_d, NULL, 0, 0,
                                                  &error);
  g_assert_no_error (error);
  g_assert_cmpuint (channels->len, ==, 0);
  g_clear_pointer (&channels, g_ptr_array_unref);

  channels = confab_sandbox_store_query_channels (store, NULL, NULL, NULL, 2, 1, &error);
  g_assert_no_error (error);
  assert_ids (channels, "cid", "messaging:b,messaging:d");
}

/* ---------------------------------------------------------------------------------------- */
/* Messages */

static void
test_message_duplicate_id (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) input = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *first = NULL;
  g_autofree char *long_id = g_strnfill (256, 'x');
  g_autofree char *long_json = g_strdup_printf ("{\"id\":\"%s\",\"text\":\"hi\"}", long_id);
  const char *bad[] = { "{\"id\":5,\"text\":\"hi\"}", "{\"id\":[],\"text\":\"hi\"}", long_json };

  add_user (store, "alice");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\"]}");
  first = post_with_id (store, cid, "alice", "m-1", "original");
  g_assert_cmpstr (first, ==, "m-1");

  input = parse ("{\"id\":\"m-1\",\"text\":\"again\"}");
  g_assert_null (confab_sandbox_store_insert_message (store, cid, "alice", input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_assert_cmpstr (error->message, ==,
                   "SendMessage failed with error: \"a message with ID m-1 already exists\"");
  g_clear_error (&error);

  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 1);
  stored = confab_sandbox_store_get_message (store, "m-1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (stored, "text"), ==, "original");
  messages = list_page (store, cid, NULL);
  g_assert_cmpuint (messages->len, ==, 1);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonObject) bad_input = parse (bad[i]);

      g_assert_null (confab_sandbox_store_insert_message (store, cid, "alice", bad_input, &error));
      g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
      g_clear_error (&error);
    }
  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 1);
}

static void
test_message_generated_id (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autofree char *cid = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  add_user (store, "alice");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\"]}");
  a = post (store, cid, "alice", "one");
  b = post_with_id (store, cid, "alice", "", "two");
  g_assert_true (g_uuid_string_is_valid (a));
  g_assert_true (g_uuid_string_is_valid (b));
  g_assert_cmpstr (a, !=, b);
}

/* Sends TEXT as alice; the message, or NULL with ERROR set. */
static JsonObject *
send_text (ConfabSandboxStore  *store,
           const char          *cid,
           const char          *text,
           GError             **error)
{
  g_autoptr(JsonObject) input = json_object_new ();

  json_object_set_string_member (input, "text", text);
  return confab_sandbox_store_insert_message (store, cid, "alice", input, error);
}

static void
test_message_too_long (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(GString) accented = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) numeric = parse ("{\"text\":42}");
  g_autofree char *cid = NULL;
  g_autofree char *plain = g_strnfill (5001, 'a');
  g_autofree char *fits = NULL;

  add_user (store, "alice");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\"]}");

  g_assert_null (send_text (store, cid, plain, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_MESSAGE_TOO_LONG);
  g_assert_cmpstr (error->message, ==, "SendMessage failed with error: \"message is too long\"");
  g_clear_error (&error);
  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 0);

  /* The limit counts characters, not bytes. */
  for (guint i = 0; i < 5000; i++)
    g_string_append (accented, "\xc3\xa9");
  fits = post (store, cid, "alice", accented->str);
  g_assert_nonnull (fits);

  g_string_append (accented, "\xc3\xa9");
  g_assert_null (send_text (store, cid, accented->str, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_MESSAGE_TOO_LONG);
  g_clear_error (&error);

  g_assert_null (confab_sandbox_store_insert_message (store, cid, "alice", numeric, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 1);
}

static void
test_message_shape (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) input = NULL;
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) parent = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(JsonObject) empty = NULL;
  g_autoptr(JsonObject) system = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *other = NULL;
  g_autofree char *elsewhere = NULL;
  JsonArray *mentioned;
  const char *bad[] = {
    "{\"type\":\"ephemeral\"}",
    "{\"type\":3}",
    "{\"parent_id\":\"nope\"}",
    "{\"attachments\":\"x\"}",
    "{\"mentioned_users\":[1]}",
    "{\"silent\":\"yes\"}",
  };

  add_user (store, "alice");
  add_user (store, "bob");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\",\"bob\"]}");
  other = add_channel (store, "messaging", "other", "alice", "{\"members\":[\"alice\"]}");
  elsewhere = post_with_id (store, other, "alice", "elsewhere", "hi");

  input = parse ("{\"id\":\"m1\",\"text\":\"<b>hi</b> & bye\",\"color\":\"green\","
                 "\"html\":\"<script>\",\"reply_count\":99,\"attachments\":[{\"type\":\"image\"}],"
                 "\"mentioned_users\":[\"bob\",\"ghost\"],\"silent\":true,"
                 "\"custom\":{\"k\":\"v\"},\"user\":{\"id\":\"mallory\"}}");
  message = confab_sandbox_store_insert_message (store, cid, "alice", input, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (message, "id"), ==, "m1");
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, "<b>hi</b> & bye");
  g_assert_cmpstr (json_object_get_string_member (message, "html"), ==,
                   "<p>&lt;b&gt;hi&lt;/b&gt; &amp; bye</p>\n");
  g_assert_cmpstr (json_object_get_string_member (message, "type"), ==, "regular");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "user"), "id"),
                   ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (message, "cid"), ==, cid);
  g_assert_cmpstr (json_object_get_string_member (message, "color"), ==, "green");
  g_assert_cmpstr (json_object_get_string_member (message, "k"), ==, "v");
  g_assert_false (json_object_has_member (message, "custom"));
  g_assert_cmpint (json_object_get_int_member (message, "reply_count"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (message, "deleted_reply_count"), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (message, "attachments")),
                    ==, 1);
  mentioned = json_object_get_array_member (message, "mentioned_users");
  g_assert_cmpuint (json_array_get_length (mentioned), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (mentioned, 0), "id"),
                   ==, "bob");
  g_assert_true (json_object_get_boolean_member (message, "silent"));
  g_assert_false (json_object_get_boolean_member (message, "pinned"));
  g_assert_false (json_object_get_boolean_member (message, "shadowed"));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (message, "pinned_at")));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (message, "latest_reactions")),
                    ==, 0);
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (message, "reaction_counts")),
                    ==, 0);
  g_assert_false (json_object_has_member (message, "parent_id"));
  g_assert_false (json_object_has_member (message, "deleted_at"));
  g_assert_cmpstr (json_object_get_string_member (message, "created_at"), ==,
                   json_object_get_string_member (message, "updated_at"));

  empty = confab_sandbox_store_insert_message (store, cid, "bob", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (empty, "text"), ==, "");
  g_assert_cmpstr (json_object_get_string_member (empty, "html"), ==, "");

  g_clear_pointer (&input, json_object_unref);
  input = parse ("{\"text\":\"joined\",\"type\":\"system\"}");
  system = confab_sandbox_store_insert_message (store, cid, "alice", input, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (system, "type"), ==, "system");

  g_clear_pointer (&input, json_object_unref);
  input = parse ("{\"text\":\"in thread\",\"parent_id\":\"m1\"}");
  reply = confab_sandbox_store_insert_message (store, cid, "bob", input, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (reply, "type"), ==, "reply");
  g_assert_cmpstr (json_object_get_string_member (reply, "parent_id"), ==, "m1");
  parent = confab_sandbox_store_get_message (store, "m1", &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (parent, "reply_count"), ==, 1);

  /* Replies stay out of the channel list, but count as channel messages. */
  messages = list_page (store, cid, NULL);
  g_assert_cmpuint (messages->len, ==, 3);
  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 4);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonObject) bad_input = parse (bad[i]);

      g_assert_null (confab_sandbox_store_insert_message (store, cid, "alice", bad_input, &error));
      g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
      g_clear_error (&error);
    }

  /* A parent in another channel does not count. */
  g_clear_pointer (&input, json_object_unref);
  input = parse ("{\"text\":\"x\",\"parent_id\":\"elsewhere\"}");
  g_assert_null (confab_sandbox_store_insert_message (store, cid, "alice", input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);

  g_assert_null (confab_sandbox_store_insert_message (store, "messaging:nope", "alice", NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_insert_message (store, cid, "ghost", NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_get_message (store, "nope", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);

  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 4);
}

static void
assert_page (ConfabSandboxStore      *store,
             const char              *cid,
             const ConfabSandboxPage *page,
             guint                    first,
             guint                    count)
{
  g_autoptr(GPtrArray) messages = list_page (store, cid, page);

  g_assert_cmpuint (messages->len, ==, count);
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *expected = g_strdup_printf ("m%03u", first + i);

      g_assert_cmpstr (json_object_get_string_member (messages->pdata[i], "id"), ==, expected);
    }
}

static void
test_pagination (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GPtrArray) walked = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *other = NULL;
  g_autofree char *foreign = NULL;
  g_autofree char *cursor = NULL;
  g_autoptr(JsonObject) reply_input = parse ("{\"text\":\"r\",\"parent_id\":\"m249\"}");
  g_autoptr(JsonObject) reply = NULL;
  ConfabSandboxPage p = { 0 };

  add_user (store, "alice");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\"]}");
  other = add_channel (store, "messaging", "other", "alice", "{\"members\":[\"alice\"]}");
  foreign = post (store, other, "alice", "elsewhere");
  for (guint i = 0; i < 250; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%03u", i);
      g_autofree char *sent = post_with_id (store, cid, "alice", id, id);

      g_assert_cmpstr (sent, ==, id);
    }
  reply = confab_sandbox_store_insert_message (store, cid, "alice", reply_input, &error);
  g_assert_no_error (error);

  /* The newest 100 by default, oldest first, without the thread reply. */
  assert_page (store, cid, NULL, 150, 100);
  assert_page (store, cid, &p, 150, 100);

  /* Walking back with id_lt reaches the first message with no gap or overlap. */
  p.limit = 30;
  page = list_page (store, cid, &p);
  for (guint round = 0; page->len > 0; round++)
    {
      /* A page that repeats its cursor would never end. */
      g_assert_cmpuint (round, <, 10);
      for (guint i = page->len; i > 0; i--)
        g_ptr_array_insert (walked, 0,
                            g_strdup (json_object_get_string_member (page->pdata[i - 1], "id")));
      g_free (cursor);
      cursor = g_strdup (json_object_get_string_member (page->pdata[0], "id"));
      p.id_lt = cursor;
      g_clear_pointer (&page, g_ptr_array_unref);
      page = list_page (store, cid, &p);
    }
  g_assert_cmpuint (walked->len, ==, 250);
  for (guint i = 0; i < walked->len; i++)
    {
      g_autofree char *expected = g_strdup_printf ("m%03u", i);

      g_assert_cmpstr (walked->pdata[i], ==, expected);
    }

  /* Walking forward with id_gt from the first message. */
  g_ptr_array_set_size (walked, 0);
  g_ptr_array_add (walked, g_strdup ("m000"));
  p = (ConfabSandboxPage) { .limit = 40, .id_gt = "m000" };
  g_clear_pointer (&page, g_ptr_array_unref);
  page = list_page (store, cid, &p);
  for (guint round = 0; page->len > 0; round++)
    {
      g_assert_cmpuint (round, <, 10);
      for (guint i = 0; i < page->len; i++)
        g_ptr_array_add (walked, g_strdup (json_object_get_string_member (page->pdata[i], "id")));
      g_free (cursor);
      cursor = g_strdup (json_object_get_string_member (page->pdata[page->len - 1], "id"));
      p.id_gt = cursor;
      g_clear_pointer (&page, g_ptr_array_unref);
      page = list_page (store, cid, &p);
    }
  g_assert_cmpuint (walked->len, ==, 250);
  for (guint i = 0; i < walked->len; i++)
    {
      g_autofree char *expected = g_strdup_printf ("m%03u", i);

      g_assert_cmpstr (walked->pdata[i], ==, expected);
    }

  p = (ConfabSandboxPage) { .limit = 10, .id_around = "m100" };
  assert_page (store, cid, &p, 95, 10);
  p = (ConfabSandboxPage) { .limit = 10, .id_around = "m002" };
  assert_page (store, cid, &p, 0, 7);
  p = (ConfabSandboxPage) { .limit = 5, .id_lte = "m010" };
  assert_page (store, cid, &p, 6, 5);
  p = (ConfabSandboxPage) { .limit = 10, .id_gte = "m245" };
  assert_page (store, cid, &p, 245, 5);
  p = (ConfabSandboxPage) { .limit = 10, .id_gt = "m100", .id_lt = "m105" };
  assert_page (store, cid, &p, 101, 4);
  p = (ConfabSandboxPage) { .limit = 1000 };
  assert_page (store, cid, &p, 0, 250);

  p = (ConfabSandboxPage) { .id_lt = "missing" };
  g_assert_null (confab_sandbox_store_list_messages (store, cid, &p, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "id_lt"));
  g_clear_error (&error);
  p = (ConfabSandboxPage) { .id_gt = foreign };
  g_assert_null (confab_sandbox_store_list_messages (store, cid, &p, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_list_messages (store, "messaging:nope", NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);

  /* At most 300 per page. */
  for (guint i = 250; i < 310; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%03u", i);
      g_autofree char *sent = post_with_id (store, cid, "alice", id, id);

      g_assert_cmpstr (sent, ==, id);
    }
  p = (ConfabSandboxPage) { .limit = 1000 };
  assert_page (store, cid, &p, 10, 300);
}

static void
test_messages_by_ids (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *other = NULL;
  g_autofree char *x0 = NULL;
  const char *some[] = { "m3", "m1", "ghost", "x0", NULL };
  const char *none[] = { NULL };

  add_user (store, "alice");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\"]}");
  other = add_channel (store, "messaging", "other", "alice", "{\"members\":[\"alice\"]}");
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%u", i);
      g_autofree char *sent = post_with_id (store, cid, "alice", id, "x");

      g_assert_cmpstr (sent, ==, id);
    }
  x0 = post_with_id (store, other, "alice", "x0", "x");

  messages = confab_sandbox_store_messages_by_ids (store, cid, (char **) some, &error);
  g_assert_no_error (error);
  assert_ids (messages, "id", "m1,m3");
  g_clear_pointer (&messages, g_ptr_array_unref);

  messages = confab_sandbox_store_messages_by_ids (store, cid, (char **) none, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 0);
  g_clear_pointer (&messages, g_ptr_array_unref);

  for (guint i = 0; i < 50; i++)
    g_ptr_array_add (many, g_strdup_printf ("m%u", i));
  g_ptr_array_add (many, NULL);
  messages = confab_sandbox_store_messages_by_ids (store, cid, (char **) many->pdata, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 5);
  g_clear_pointer (&messages, g_ptr_array_unref);

  /* 51 ids */
  g_ptr_array_remove_index (many, many->len - 1);
  g_ptr_array_add (many, g_strdup ("m50"));
  g_ptr_array_add (many, NULL);
  g_assert_null (confab_sandbox_store_messages_by_ids (store, cid, (char **) many->pdata, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);

  g_assert_null (confab_sandbox_store_messages_by_ids (store, "messaging:nope", (char **) some,
                                                       &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
}

static void
test_messages_since (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(JsonObject) m1 = NULL;
  g_autoptr(JsonObject) edit = parse ("{\"text\":\"edited\"}");
  g_autoptr(JsonObject) edited = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *other = NULL;
  g_autofree char *x0 = NULL;
  const char *one[] = { "messaging:general", NULL };
  const char *both[] = { "messaging:general", "messaging:other", NULL };
  const char *none[] = { NULL };
  gint64 since;

  add_user (store, "alice");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\"]}");
  other = add_channel (store, "messaging", "other", "alice", "{\"members\":[\"alice\"]}");
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%u", i);
      g_autofree char *sent = post_with_id (store, cid, "alice", id, "x");

      g_assert_cmpstr (sent, ==, id);
    }
  x0 = post_with_id (store, other, "alice", "x0", "x");

  m1 = confab_sandbox_store_get_message (store, "m1", &error);
  g_assert_no_error (error);
  since = time_member (m1, "created_at");

  messages = confab_sandbox_store_messages_since (store, (char **) one, since, 0, &error);
  g_assert_no_error (error);
  assert_ids (messages, "id", "m2,m3,m4");
  g_clear_pointer (&messages, g_ptr_array_unref);

  /* An edit after the watermark brings an older message back, in seq order. */
  edited = confab_sandbox_store_update_message (store, "m0", edit, &error);
  g_assert_no_error (error);
  messages = confab_sandbox_store_messages_since (store, (char **) one, since, 0, &error);
  g_assert_no_error (error);
  assert_ids (messages, "id", "m0,m2,m3,m4");
  g_clear_pointer (&messages, g_ptr_array_unref);

  messages = confab_sandbox_store_messages_since (store, (char **) both, since, 0, &error);
  g_assert_no_error (error);
  assert_ids (messages, "id", "m0,m2,m3,m4,x0");
  g_clear_pointer (&messages, g_ptr_array_unref);

  messages = confab_sandbox_store_messages_since (store, (char **) both, 0, 2, &error);
  g_assert_no_error (error);
  assert_ids (messages, "id", "m0,m1");
  g_clear_pointer (&messages, g_ptr_array_unref);

  messages = confab_sandbox_store_messages_since (store, (char **) none, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 0);
  g_clear_pointer (&messages, g_ptr_array_unref);

  messages = confab_sandbox_store_messages_since (store, NULL, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 0);
}

static void
test_message_update (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) original = NULL;
  g_autoptr(JsonObject) input = NULL;
  g_autoptr(JsonObject) updated = NULL;
  g_autoptr(JsonObject) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *too_long = g_strnfill (5001, 'b');

  add_user (store, "alice");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\"]}");
  input = parse ("{\"id\":\"m1\",\"text\":\"a\",\"color\":\"red\"}");
  original = confab_sandbox_store_insert_message (store, cid, "alice", input, &error);
  g_assert_no_error (error);

  g_clear_pointer (&input, json_object_unref);
  input = parse ("{\"id\":\"m1\",\"text\":\"b & c\",\"mood\":\"ok\"}");
  updated = confab_sandbox_store_update_message (store, "m1", input, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (updated, "text"), ==, "b & c");
  g_assert_cmpstr (json_object_get_string_member (updated, "html"), ==, "<p>b &amp; c</p>\n");
  g_assert_cmpstr (json_object_get_string_member (updated, "mood"), ==, "ok");
  g_assert_false (json_object_has_member (updated, "color"));
  g_assert_cmpstr (json_object_get_string_member (updated, "created_at"), ==,
                   json_object_get_string_member (original, "created_at"));
  g_assert_cmpint (time_member (updated, "updated_at"), >, time_member (original, "updated_at"));
  g_assert_cmpstr (json_object_get_string_member (updated, "type"), ==, "regular");

  g_clear_pointer (&input, json_object_unref);
  input = json_object_new ();
  json_object_set_string_member (input, "text", too_long);
  g_assert_null (confab_sandbox_store_update_message (store, "m1", input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_MESSAGE_TOO_LONG);
  g_clear_error (&error);
  after = confab_sandbox_store_get_message (store, "m1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (after, "text"), ==, "b & c");

  g_clear_pointer (&input, json_object_unref);
  input = parse ("{\"text\":\"x\"}");
  g_assert_null (confab_sandbox_store_update_message (store, "ghost", input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);

  g_clear_pointer (&input, json_object_unref);
  input = parse ("{\"id\":\"m2\",\"text\":\"x\"}");
  g_assert_null (confab_sandbox_store_update_message (store, "m1", input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);

  g_clear_pointer (&input, json_object_unref);
  input = parse ("{\"text\":5}");
  g_assert_null (confab_sandbox_store_update_message (store, "m1", input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
}

static void
test_message_delete (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) soft = NULL;
  g_autoptr(JsonObject) fetched = NULL;
  g_autoptr(JsonObject) hard = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;
  g_autofree char *expected = NULL;

  add_user (store, "alice");
  add_user (store, "bob");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\",\"bob\"]}");
  a = post (store, cid, "alice", "a");
  b = post (store, cid, "alice", "b");
  c = post (store, cid, "alice", "c");
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, cid, "bob"), ==, 3);

  soft = confab_sandbox_store_delete_message (store, b, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (soft, "type"), ==, "deleted");
  g_assert_cmpstr (json_object_get_string_member (soft, "text"), ==, "b");
  g_assert_true (json_object_has_member (soft, "deleted_at"));
  fetched = confab_sandbox_store_get_message (store, b, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (fetched, "type"), ==, "deleted");
  messages = list_page (store, cid, NULL);
  g_assert_cmpuint (messages->len, ==, 3);
  g_clear_pointer (&messages, g_ptr_array_unref);
  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 3);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, cid, "bob"), ==, 2);

  hard = confab_sandbox_store_delete_message (store, c, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (hard, "id"), ==, c);
  g_assert_cmpstr (json_object_get_string_member (hard, "type"), ==, "deleted");
  g_assert_true (json_object_has_member (hard, "deleted_at"));
  g_assert_null (confab_sandbox_store_get_message (store, c, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 2);
  messages = list_page (store, cid, NULL);
  expected = g_strjoin (",", a, b, NULL);
  assert_ids (messages, "id", expected);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, cid, "bob"), ==, 1);

  g_assert_null (confab_sandbox_store_delete_message (store, c, TRUE, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_cmpint (channel_int (store, cid, "message_count"), ==, 2);
}

/* ---------------------------------------------------------------------------------------- */
/* Read state */

static void
test_reads (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) entry = NULL;
  g_autoptr(GPtrArray) reads = NULL;
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(JsonObject) gone = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *c1 = NULL;
  g_autofree char *c2 = NULL;
  g_autofree char *first = NULL;
  g_autofree char *elsewhere = NULL;
  g_autofree char *bobs = NULL;
  g_autofree char *newest = NULL;
  g_autofree char *latest = NULL;
  g_autofree char *after_delete = NULL;
  JsonObject *carol;
  guint total = 99;
  guint channels = 99;

  add_user (store, "alice");
  add_user (store, "bob");
  add_user (store, "carol");
  add_user (store, "dave");
  c1 = add_channel (store, "messaging", "one", "alice",
                    "{\"members\":[\"alice\",\"bob\",\"carol\"]}");
  c2 = add_channel (store, "messaging", "two", "alice", "{\"members\":[\"alice\",\"bob\"]}");

  first = post (store, c1, "alice", "1");
  for (guint i = 0; i < 2; i++)
    g_free (post (store, c1, "alice", "more"));
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c1, "bob"), ==, 3);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c1, "alice"), ==, 0);

  /* Your own messages are never unread. */
  bobs = post (store, c1, "bob", "mine");
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c1, "bob"), ==, 3);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c1, "alice"), ==, 1);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c1, "dave"), ==, 0);

  g_assert_null (confab_sandbox_store_mark_read (store, c1, "dave", NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_mark_read (store, "messaging:nope", "bob", NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);

  entry = confab_sandbox_store_mark_read (store, c1, "bob", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (entry, "unread_messages"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (entry, "last_read_message_id"), ==, bobs);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (entry, "user"), "id"),
                   ==, "bob");
  g_assert_true (json_object_has_member (entry, "last_read"));
  g_clear_pointer (&entry, json_object_unref);

  for (guint i = 0; i < 2; i++)
    g_free (post (store, c1, "alice", "later"));
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c1, "bob"), ==, 2);

  /* Marking an older message read makes what follows it unread again. */
  entry = confab_sandbox_store_mark_read (store, c1, "bob", first, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (entry, "unread_messages"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (entry, "last_read_message_id"), ==, first);
  g_clear_pointer (&entry, json_object_unref);

  elsewhere = post (store, c2, "alice", "two");
  g_assert_null (confab_sandbox_store_mark_read (store, c1, "bob", "nope", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_mark_read (store, c1, "bob", elsewhere, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c1, "bob"), ==, 4);

  /* Every member has an entry; carol never read, so it dates from when she joined. */
  reads = confab_sandbox_store_list_reads (store, c1, &error);
  g_assert_no_error (error);
  members = confab_sandbox_store_list_members (store, c1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reads->len, ==, 3);
  carol = reads->pdata[2];
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (carol, "user"), "id"),
                   ==, "carol");
  g_assert_cmpstr (json_object_get_string_member (carol, "last_read"), ==,
                   json_object_get_string_member (members->pdata[2], "created_at"));
  g_assert_cmpint (json_object_get_int_member (carol, "unread_messages"), ==, 6);
  g_assert_false (json_object_has_member (carol, "last_read_message_id"));
  g_clear_pointer (&reads, g_ptr_array_unref);
  g_assert_null (confab_sandbox_store_list_reads (store, "messaging:nope", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);

  confab_sandbox_store_unread_totals (store, "bob", &total, &channels);
  g_assert_cmpuint (total, ==, 5);
  g_assert_cmpuint (channels, ==, 2);
  confab_sandbox_store_unread_totals (store, "dave", &total, &channels);
  g_assert_cmpuint (total, ==, 0);
  g_assert_cmpuint (channels, ==, 0);

  g_assert_true (confab_sandbox_store_mark_all_read (store, "bob", &error));
  g_assert_no_error (error);
  confab_sandbox_store_unread_totals (store, "bob", &total, &channels);
  g_assert_cmpuint (total, ==, 0);
  g_assert_cmpuint (channels, ==, 0);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c2, "bob"), ==, 0);
  g_assert_false (confab_sandbox_store_mark_all_read (store, "ghost", &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);

  /* If the last read message is gone, the last read time still counts: the older
   * message stays read. */
  latest = post (store, c2, "alice", "latest");
  entry = confab_sandbox_store_mark_read (store, c2, "bob", NULL, &error);
  g_assert_no_error (error);
  newest = g_strdup (json_object_get_string_member (entry, "last_read_message_id"));
  g_assert_cmpstr (newest, ==, latest);
  gone = confab_sandbox_store_delete_message (store, newest, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c2, "bob"), ==, 0);
  after_delete = post (store, c2, "alice", "new");
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, c2, "bob"), ==, 1);
  confab_sandbox_store_unread_totals (store, "bob", &total, &channels);
  g_assert_cmpuint (total, ==, 1);
  g_assert_cmpuint (channels, ==, 1);
}

/* Missing arguments are errors, never crashes. */
static void
test_null_arguments (void)
{
  g_autoptr(ConfabSandboxStore) store = memory_store ();
  g_autoptr(JsonObject) input = parse ("{\"text\":\"x\"}");
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  guint total = 99;

  add_user (store, "alice");
  cid = add_channel (store, "messaging", "general", "alice", "{\"members\":[\"alice\"]}");

  g_assert_null (confab_sandbox_store_get_user (store, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_partial_update_user (store, NULL, NULL, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (confab_sandbox_store_touch_user (store, NULL, 0, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_get_or_create_channel (store, NULL, "x", "alice", NULL, NULL,
                                                             &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_get_channel (store, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_false (confab_sandbox_store_add_members (store, NULL, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_true (confab_sandbox_store_add_members (store, cid, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (confab_sandbox_store_list_members (store, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_insert_message (store, NULL, "alice", input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_insert_message (store, cid, NULL, input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_get_message (store, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_update_message (store, NULL, input, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_delete_message (store, NULL, TRUE, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_list_messages (store, NULL, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_messages_by_ids (store, NULL, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_mark_read (store, NULL, NULL, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_mark_read (store, cid, NULL, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_NOT_ALLOWED);
  g_clear_error (&error);
  g_assert_false (confab_sandbox_store_mark_all_read (store, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_null (confab_sandbox_store_list_reads (store, NULL, &error));
  g_assert_error (error, CONFAB_STREAM_ERROR, CONFAB_STREAM_ERROR_DOES_NOT_EXIST);
  g_clear_error (&error);
  g_assert_cmpuint (confab_sandbox_store_unread_count (store, NULL, NULL), ==, 0);
  confab_sandbox_store_unread_totals (store, NULL, &total, NULL);
  g_assert_cmpuint (total, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sandbox/store/schema/reopen", test_schema_reopen);
  g_test_add_func ("/sandbox/store/schema/newer-version-refused", test_schema_newer_refused);
  g_test_add_func ("/sandbox/store/schema/garbage-refused", test_schema_garbage_refused);
  g_test_add_func ("/sandbox/store/schema/foreign-database-refused",
                   test_schema_foreign_database_refused);
  g_test_add_func ("/sandbox/store/users/validation", test_user_validation);
  g_test_add_func ("/sandbox/store/users/upsert", test_user_upsert);
  g_test_add_func ("/sandbox/store/users/partial-update", test_user_partial_update);
  g_test_add_func ("/sandbox/store/users/get-query-touch", test_user_get_query_touch);
  g_test_add_func ("/sandbox/store/channels/distinct", test_channel_distinct);
  g_test_add_func ("/sandbox/store/channels/create", test_channel_create);
  g_test_add_func ("/sandbox/store/channels/members-must-exist", test_members_must_exist);
  g_test_add_func ("/sandbox/store/channels/query", test_query_channels);
  g_test_add_func ("/sandbox/store/messages/duplicate-id", test_message_duplicate_id);
  g_test_add_func ("/sandbox/store/messages/generated-id", test_message_generated_id);
  g_test_add_func ("/sandbox/store/messages/too-long", test_message_too_long);
  g_test_add_func ("/sandbox/store/messages/shape", test_message_shape);
  g_test_add_func ("/sandbox/store/messages/pagination", test_pagination);
  g_test_add_func ("/sandbox/store/messages/by-ids", test_messages_by_ids);
  g_test_add_func ("/sandbox/store/messages/since", test_messages_since);
  g_test_add_func ("/sandbox/store/messages/update", test_message_update);
  g_test_add_func ("/sandbox/store/messages/delete", test_message_delete);
  g_test_add_func ("/sandbox/store/reads/unread", test_reads);
  g_test_add_func ("/sandbox/store/null-arguments", test_null_arguments);

  return g_test_run ();
}
