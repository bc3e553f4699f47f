/* test-outbox.c: the durable outbox keeps every message through failures and crashes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "confab-error.h"
#include "confab-outbox.h"

#define KILL_DIR_ENV "CONFAB_TEST_OUTBOX_DIR"

/* ---- helpers ------------------------------------------------------------------- */

static void
rm_rf (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return;

  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = NULL;
      const char *name;

      g_chmod (path, 0700);
      dir = g_dir_open (path, 0, NULL);
      g_assert_nonnull (dir);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          rm_rf (child);
        }
      g_assert_cmpint (g_rmdir (path), ==, 0);
    }
  else
    {
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
}

static char *
make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("confab-outbox-XXXXXX", &error);

  g_assert_no_error (error);
  g_assert_nonnull (dir);
  return dir;
}

static char *
item_file (ConfabOutbox     *outbox,
           ConfabOutboxItem *item)
{
  g_autofree char *name = g_strconcat (confab_outbox_item_get_id (item), ".json", NULL);

  return g_build_filename (confab_outbox_get_directory (outbox), name, NULL);
}

static JsonObject *
read_json_object (const char *path)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_nonnull (root);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

static const char *
status_on_disk (ConfabOutbox     *outbox,
                ConfabOutboxItem *item)
{
  g_autofree char *path = item_file (outbox, item);
  g_autoptr(JsonObject) object = read_json_object (path);

  /* An interned copy, so the object can go. */
  return g_intern_string (json_object_get_string_member (object, "status"));
}

static gint64
attempts_on_disk (ConfabOutbox     *outbox,
                  ConfabOutboxItem *item)
{
  g_autofree char *path = item_file (outbox, item);
  g_autoptr(JsonObject) object = read_json_object (path);

  return json_object_get_int_member (object, "attempts");
}

static ConfabOutboxItem *
enqueue_ok (ConfabOutbox *outbox,
            const char   *cid,
            const char   *text)
{
  g_autoptr(GError) error = NULL;
  ConfabOutboxItem *item = confab_outbox_enqueue (outbox, cid, text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (item);
  return item;
}

static ConfabOutboxItem *
model_item (ConfabOutbox *outbox,
            guint         position)
{
  /* The model holds a reference too; hand back a borrowed pointer. */
  g_autoptr(ConfabOutboxItem) item = g_list_model_get_item (G_LIST_MODEL (outbox), position);

  g_assert_nonnull (item);
  return item;
}

static void
count_cb (GObject    *object,
          GParamSpec *pspec,
          guint      *count)
{
  (*count)++;
}

static void
items_changed_count_cb (GListModel *model,
                        guint       position,
                        guint       removed,
                        guint       added,
                        guint      *count)
{
  (*count)++;
}

static void
write_file (const char *path,
            const char *data,
            gssize      length)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
}

/* Whether this process can write into a 0500 directory (root can). */
static gboolean
chmod_stops_writes (const char *tmp)
{
  g_autofree char *dir = g_build_filename (tmp, "probe-ro", NULL);
  g_autofree char *file = g_build_filename (dir, "x", NULL);
  gboolean stops;

  g_assert_cmpint (g_mkdir (dir, 0500), ==, 0);
  g_assert_cmpint (g_chmod (dir, 0500), ==, 0);
  stops = !g_file_set_contents (file, "x", 1, NULL);
  rm_rf (dir);
  return stops;
}

/* ---- enqueue ------------------------------------------------------------------- */

static void
test_enqueue_writes_file (void)
{
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *dir = g_build_filename (tmp, "nested", "outbox", NULL);
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autofree char *path = NULL;
  ConfabOutboxItem *item;
  const char *text = "Hello \"world\"\n\tünïcödé ✓";
  GStatBuf st;
  guint n_pending_notifies = 0;
  const char *id;

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (outbox);
  g_assert_cmpstr (confab_outbox_get_directory (outbox), ==, dir);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 0);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (outbox)) == CONFAB_TYPE_OUTBOX_ITEM);

  /* The outbox made the directory, private. */
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  g_signal_connect (outbox, "notify::n-pending", G_CALLBACK (count_cb), &n_pending_notifies);

  item = enqueue_ok (outbox, "messaging:general", text);
  id = confab_outbox_item_get_id (item);
  /* A UUIDv4, made before any attempt. */
  g_assert_true (g_uuid_string_is_valid (id));
  g_assert_cmpint (id[14], ==, '4');
  g_assert_true (strchr ("89ab", id[19]) != NULL);
  g_assert_cmpstr (confab_outbox_item_get_cid (item), ==, "messaging:general");
  g_assert_cmpstr (confab_outbox_item_get_text (item), ==, text);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 0);
  g_assert_null (confab_outbox_item_get_last_error (item));
  g_assert_cmpint (confab_outbox_item_get_created_at (item), >, 0);
  g_assert_true (confab_outbox_lookup (outbox, id) == item);
  g_assert_null (confab_outbox_lookup (outbox, "00000000-0000-4000-8000-000000000000"));

  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 1);
  g_assert_cmpuint (n_pending_notifies, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 1);
  g_assert_true (model_item (outbox, 0) == item);
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (outbox), 1));

  /* On disk, 0600, with every field, before enqueue returned. */
  path = item_file (outbox, item);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  object = read_json_object (path);
  g_assert_cmpint (json_object_get_int_member (object, "version"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (object, "id"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (object, "cid"), ==, "messaging:general");
  g_assert_cmpstr (json_object_get_string_member (object, "text"), ==, text);
  g_assert_cmpint (json_object_get_int_member (object, "created_at"), ==,
                   confab_outbox_item_get_created_at (item));
  g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "queued");
  g_assert_cmpint (json_object_get_int_member (object, "attempts"), ==, 0);

  /* No leftovers next to it (the write probe, temporary files). */
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    guint n = 0;

    while (g_dir_read_name (d) != NULL)
      n++;
    g_assert_cmpuint (n, ==, 1);
  }

  g_clear_object (&outbox);
  rm_rf (tmp);
}

static void
test_enqueue_validation (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) long_ascii = g_string_new (NULL);
  g_autoptr(GString) max_wide = g_string_new (NULL);
  g_autofree char *long_id = NULL;
  guint changes = 0;
  const char *bad_cids[] = {
    "", "messaging", ":general", "messaging:", "messaging:a:b", "messaging:has space",
    "messaging:a/b", "mess aging:x", "messaging:ü", "messaging:a?b", NULL,
  };
  const char *bad_texts[] = { "", "bad \xff utf-8 secret-text" };

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_signal_connect (outbox, "items-changed", G_CALLBACK (items_changed_count_cb), &changes);

  for (guint i = 0; i < G_N_ELEMENTS (bad_cids); i++)
    {
      g_assert_null (confab_outbox_enqueue (outbox, bad_cids[i], "hello", &error));
      g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED);
      g_clear_error (&error);
    }

  long_id = g_strnfill (65, 'a');
  {
    g_autofree char *cid = g_strconcat ("messaging:", long_id, NULL);

    g_assert_null (confab_outbox_enqueue (outbox, cid, "hello", &error));
    g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED);
    g_clear_error (&error);
    /* 64 is fine. */
    cid[strlen (cid) - 1] = '\0';
    g_assert_true (confab_outbox_validate (cid, "hello", &error));
    g_assert_no_error (error);
  }

  for (guint i = 0; i < G_N_ELEMENTS (bad_texts); i++)
    {
      g_assert_null (confab_outbox_enqueue (outbox, "messaging:general", bad_texts[i], &error));
      g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED);
      /* The text never shows up in an error. */
      g_assert_null (strstr (error->message, "secret-text"));
      g_clear_error (&error);
    }
  g_assert_null (confab_outbox_enqueue (outbox, "messaging:general", NULL, &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED);
  g_clear_error (&error);

  /* 5000 characters is the limit, counted in characters, not bytes. */
  for (guint i = 0; i < CONFAB_OUTBOX_MAX_TEXT_CHARS + 1; i++)
    g_string_append_c (long_ascii, 'x');
  g_assert_null (confab_outbox_enqueue (outbox, "messaging:general", long_ascii->str, &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_REJECTED);
  g_clear_error (&error);

  for (guint i = 0; i < CONFAB_OUTBOX_MAX_TEXT_CHARS; i++)
    g_string_append (max_wide, "é");

  /* Nothing was queued by any of the refusals. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 0);
  g_assert_cmpuint (changes, ==, 0);
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);

    g_assert_null (g_dir_read_name (d));
  }

  enqueue_ok (outbox, "messaging:general", max_wide->str);
  enqueue_ok (outbox, "team:!members-Ab_9", "hi");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 2);
  g_assert_cmpuint (changes, ==, 2);

  g_clear_object (&outbox);
  rm_rf (dir);
}

/* ---- reload -------------------------------------------------------------------- */

static void
test_reopen (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(ConfabOutbox) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) refused = confab_api_error_new (CONFAB_API_ERROR_NOT_ALLOWED, 403, "SendMessage failed");
  g_autoptr(GError) dropped = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "closed");
  const char *texts[] = { "first", "second ✓", "third\nline", "fourth" };
  char *ids[G_N_ELEMENTS (texts)];
  gint64 created[G_N_ELEMENTS (texts)];
  ConfabOutboxItem *items[G_N_ELEMENTS (texts)];

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      items[i] = enqueue_ok (outbox, i % 2 == 0 ? "messaging:a" : "messaging:b", texts[i]);
      ids[i] = g_strdup (confab_outbox_item_get_id (items[i]));
      created[i] = confab_outbox_item_get_created_at (items[i]);
      if (i > 0)
        g_assert_cmpint (created[i], >, created[i - 1]);
    }

  /* 0 stays queued; 1 is mid-attempt; 2 failed for good; 3 failed once, transiently. */
  confab_outbox_mark_sending (outbox, items[1]);
  g_assert_cmpstr (status_on_disk (outbox, items[1]), ==, "sending");
  confab_outbox_mark_sending (outbox, items[2]);
  confab_outbox_mark_failed (outbox, items[2], refused);
  confab_outbox_mark_sending (outbox, items[3]);
  confab_outbox_mark_failed (outbox, items[3], dropped);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 3);
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 1);

  /* A second outbox on the same directory, as the next start would make. */
  again = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (again)), ==, G_N_ELEMENTS (texts));
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      ConfabOutboxItem *item = model_item (again, i);

      g_assert_cmpstr (confab_outbox_item_get_id (item), ==, ids[i]);
      g_assert_cmpstr (confab_outbox_item_get_text (item), ==, texts[i]);
      g_assert_cmpstr (confab_outbox_item_get_cid (item), ==, i % 2 == 0 ? "messaging:a" : "messaging:b");
      g_assert_cmpint (confab_outbox_item_get_created_at (item), ==, created[i]);
      g_assert_null (confab_outbox_item_get_last_error (item));
    }
  g_assert_cmpint (confab_outbox_item_get_status (model_item (again, 0)), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  /* Stuck in SENDING → QUEUED, to be resent with the same id. */
  g_assert_cmpint (confab_outbox_item_get_status (model_item (again, 1)), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_cmpint (confab_outbox_item_get_status (model_item (again, 2)), ==, CONFAB_OUTBOX_STATUS_FAILED);
  g_assert_cmpuint (confab_outbox_item_get_attempts (model_item (again, 2)), ==, 1);
  g_assert_cmpint (confab_outbox_item_get_status (model_item (again, 3)), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_cmpuint (confab_outbox_item_get_attempts (model_item (again, 3)), ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_pending (again), ==, 3);
  g_assert_cmpuint (confab_outbox_get_n_failed (again), ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_corrupt (again), ==, 0);

  /* A message made after the reload still sorts last next time. */
  enqueue_ok (again, "messaging:a", "fifth");
  g_clear_object (&again);
  g_clear_object (&outbox);
  again = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (again)), ==, 5);
  g_assert_cmpstr (confab_outbox_item_get_text (model_item (again, 4)), ==, "fifth");

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    g_free (ids[i]);
  g_clear_object (&again);
  rm_rf (dir);
}

static void
write_item_file (const char *dir,
                 const char *id,
                 const char *text,
                 gint64      created_at,
                 const char *status)
{
  g_autofree char *name = g_strconcat (id, ".json", NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *data = g_strdup_printf ("{\"version\":1,\"id\":\"%s\",\"cid\":\"messaging:x\","
                                           "\"text\":\"%s\",\"created_at\":%" G_GINT64_FORMAT ","
                                           "\"status\":\"%s\",\"attempts\":2,\"future\":[1]}",
                                           id, text, created_at, status);

  write_file (path, data, -1);
}

static void
test_order_from_created_at (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  gint64 future = g_get_real_time () + (gint64) G_USEC_PER_SEC * 3600;
  ConfabOutboxItem *item;

  /* File names sort the other way round; an unknown extra member is fine. */
  write_item_file (dir, "00000000-0000-4000-8000-000000000003", "one", 100, "queued");
  write_item_file (dir, "00000000-0000-4000-8000-000000000002", "two", 200, "sending");
  write_item_file (dir, "00000000-0000-4000-8000-000000000001", "three", future, "failed");

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 3);
  g_assert_cmpstr (confab_outbox_item_get_text (model_item (outbox, 0)), ==, "one");
  g_assert_cmpstr (confab_outbox_item_get_text (model_item (outbox, 1)), ==, "two");
  g_assert_cmpint (confab_outbox_item_get_status (model_item (outbox, 1)), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_cmpuint (confab_outbox_item_get_attempts (model_item (outbox, 1)), ==, 2);
  g_assert_cmpstr (confab_outbox_item_get_text (model_item (outbox, 2)), ==, "three");
  g_assert_cmpint (confab_outbox_item_get_status (model_item (outbox, 2)), ==, CONFAB_OUTBOX_STATUS_FAILED);

  /* Even with a stored time ahead of the clock, a new message goes last. */
  item = enqueue_ok (outbox, "messaging:x", "four");
  g_assert_cmpint (confab_outbox_item_get_created_at (item), ==, future + 1);

  g_clear_object (&outbox);
  rm_rf (dir);
}

/* ---- state changes ------------------------------------------------------------- */

static void
test_mark_sent_removes_file (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(ConfabOutbox) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  ConfabOutboxItem *item;
  ConfabOutboxItem *other;
  guint status_notifies = 0;

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  item = enqueue_ok (outbox, "messaging:general", "hello");
  other = enqueue_ok (outbox, "messaging:general", "world");
  path = item_file (outbox, item);
  g_signal_connect (item, "notify::status", G_CALLBACK (count_cb), &status_notifies);

  g_assert_true (confab_outbox_next_pending (outbox) == item);
  confab_outbox_mark_sending (outbox, item);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_SENDING);
  g_assert_cmpuint (status_notifies, ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 2);
  /* A second mark_sending changes nothing. */
  confab_outbox_mark_sending (outbox, item);
  g_assert_cmpuint (status_notifies, ==, 1);

  confab_outbox_mark_sent (outbox, item);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_SENT);
  g_assert_cmpuint (status_notifies, ==, 2);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 1);
  /* Still shown (as sent) until pruned. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 2);
  g_assert_true (model_item (outbox, 0) == item);
  g_assert_true (confab_outbox_next_pending (outbox) == other);

  /* Sent is final: a late failure report is ignored. */
  {
    g_autoptr(GError) late = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "late");

    confab_outbox_mark_failed (outbox, item, late);
    g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_SENT);
    g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 0);
  }

  again = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (again)), ==, 1);
  g_assert_cmpstr (confab_outbox_item_get_id (model_item (again, 0)), ==, confab_outbox_item_get_id (other));

  /* Pruning drops it from the model (and the outbox's reference with it). */
  {
    g_autofree char *id = g_strdup (confab_outbox_item_get_id (item));

    g_assert_true (confab_outbox_lookup (outbox, id) == item);
    g_assert_cmpuint (confab_outbox_prune (outbox), ==, 1);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 1);
    g_assert_true (model_item (outbox, 0) == other);
    g_assert_null (confab_outbox_lookup (outbox, id));
  }

  g_clear_object (&again);
  g_clear_object (&outbox);
  rm_rf (dir);
}

static void
test_failures_and_retry (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) refused = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "refused");
  g_autoptr(GError) rate = confab_api_error_new (CONFAB_API_ERROR_RATE_LIMIT, 429, "Too many requests");
  g_autoptr(GError) too_long = confab_api_error_new (CONFAB_API_ERROR_MESSAGE_TOO_LONG, 400,
                                                     "SendMessage failed with error: \"message is too long\"");
  ConfabOutboxItem *item;
  const GError *last;
  guint failed_notifies = 0;
  guint error_notifies = 0;

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  item = enqueue_ok (outbox, "messaging:general", "hello");
  g_signal_connect (outbox, "notify::n-failed", G_CALLBACK (count_cb), &failed_notifies);
  g_signal_connect (item, "notify::last-error", G_CALLBACK (count_cb), &error_notifies);

  /* Transient: back to QUEUED, one more attempt, the reason kept. */
  confab_outbox_mark_sending (outbox, item);
  confab_outbox_mark_failed (outbox, item, refused);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 1);
  last = confab_outbox_item_get_last_error (item);
  g_assert_error (last, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpuint (error_notifies, ==, 1);
  g_assert_cmpstr (status_on_disk (outbox, item), ==, "queued");
  g_assert_cmpint (attempts_on_disk (outbox, item), ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 0);
  g_assert_true (confab_outbox_next_pending (outbox) == item);

  confab_outbox_mark_sending (outbox, item);
  confab_outbox_mark_failed (outbox, item, rate);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 2);
  g_assert_error (confab_outbox_item_get_last_error (item), CONFAB_API_ERROR, CONFAB_API_ERROR_RATE_LIMIT);
  g_assert_cmpuint (confab_api_error_get_http_status (confab_outbox_item_get_last_error (item)), ==, 429);

  /* Permanent: FAILED, out of the queue. */
  confab_outbox_mark_sending (outbox, item);
  confab_outbox_mark_failed (outbox, item, too_long);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_FAILED);
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 3);
  g_assert_error (confab_outbox_item_get_last_error (item), CONFAB_API_ERROR, CONFAB_API_ERROR_MESSAGE_TOO_LONG);
  g_assert_cmpstr (status_on_disk (outbox, item), ==, "failed");
  g_assert_cmpint (attempts_on_disk (outbox, item), ==, 3);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 0);
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 1);
  g_assert_cmpuint (failed_notifies, ==, 1);
  g_assert_null (confab_outbox_next_pending (outbox));

  /* Only Retry moves it on: mark_sending and another failure are ignored. */
  confab_outbox_mark_sending (outbox, item);
  confab_outbox_mark_failed (outbox, item, refused);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_FAILED);
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 3);

  confab_outbox_retry (outbox, item);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);
  g_assert_null (confab_outbox_item_get_last_error (item));
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 3);
  g_assert_cmpstr (status_on_disk (outbox, item), ==, "queued");
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_failed (outbox), ==, 0);
  g_assert_cmpuint (failed_notifies, ==, 2);
  g_assert_true (confab_outbox_next_pending (outbox) == item);

  /* Retry on a queued item is a no-op. */
  confab_outbox_retry (outbox, item);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);

  g_clear_object (&outbox);
  rm_rf (dir);
}

static void
test_duplicate_delivery (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) duplicate = NULL;
  g_autoptr(GError) other_input = confab_api_error_new (CONFAB_API_ERROR_INPUT, 400,
                                                        "SendMessage failed with error: \"message.text is too long\"");
  g_autoptr(GError) other_code = confab_api_error_new (CONFAB_API_ERROR_NOT_ALLOWED, 403,
                                                       "a channel with ID x already exists");
  g_autoptr(GError) other_domain = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_REJECTED,
                                                        "a message with ID x already exists");
  g_autofree char *text = NULL;
  g_autofree char *path = NULL;
  ConfabOutboxItem *item;

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  item = enqueue_ok (outbox, "messaging:general", "hello");
  path = item_file (outbox, item);

  /* Stream's own answer (protocol §6.1/§6.3). */
  text = g_strdup_printf ("SendMessage failed with error: \"a message with ID %s already exists\"",
                          confab_outbox_item_get_id (item));
  duplicate = confab_api_error_new (CONFAB_API_ERROR_INPUT, 400, text);

  g_assert_true (confab_api_error_is_duplicate (duplicate));
  g_assert_false (confab_api_error_is_duplicate (other_input));
  g_assert_false (confab_api_error_is_duplicate (other_code));
  g_assert_false (confab_api_error_is_duplicate (other_domain));
  g_assert_false (confab_api_error_is_duplicate (NULL));
  /* The same error over the socket (no HTTP status) still counts. */
  {
    g_autoptr(GError) over_ws = confab_api_error_new (CONFAB_API_ERROR_INPUT, 0, text);

    g_assert_true (confab_api_error_is_duplicate (over_ws));
  }

  /* Another code-4 error is a refusal… */
  {
    ConfabOutboxItem *refused = enqueue_ok (outbox, "messaging:general", "too long");

    confab_outbox_mark_sending (outbox, refused);
    confab_outbox_mark_failed (outbox, refused, other_input);
    g_assert_cmpint (confab_outbox_item_get_status (refused), ==, CONFAB_OUTBOX_STATUS_FAILED);
  }

  /* …while the duplicate answer means delivered, even when reported as a failure. */
  confab_outbox_mark_sending (outbox, item);
  confab_outbox_mark_failed (outbox, item, duplicate);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_SENT);
  g_assert_cmpuint (confab_outbox_item_get_attempts (item), ==, 0);
  g_assert_null (confab_outbox_item_get_last_error (item));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 0);

  g_clear_object (&outbox);
  rm_rf (dir);
}

static void
test_next_pending_order (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) dropped = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "closed");
  g_autoptr(GError) refused = confab_api_error_new (CONFAB_API_ERROR_NOT_ALLOWED, 403, "not allowed");
  ConfabOutboxItem *a1;
  ConfabOutboxItem *b1;
  ConfabOutboxItem *a2;
  ConfabOutboxItem *b2;

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_null (confab_outbox_next_pending (outbox));

  a1 = enqueue_ok (outbox, "messaging:a", "a1");
  b1 = enqueue_ok (outbox, "messaging:b", "b1");
  a2 = enqueue_ok (outbox, "messaging:a", "a2");
  b2 = enqueue_ok (outbox, "messaging:b", "b2");

  g_assert_true (confab_outbox_next_pending (outbox) == a1);
  confab_outbox_mark_sending (outbox, a1);
  /* a2 waits for a1; b does not wait for a. */
  g_assert_true (confab_outbox_next_pending (outbox) == b1);
  confab_outbox_mark_sending (outbox, b1);
  g_assert_null (confab_outbox_next_pending (outbox));

  /* a1 fails transiently: it keeps its place ahead of a2. */
  confab_outbox_mark_failed (outbox, a1, dropped);
  g_assert_true (confab_outbox_next_pending (outbox) == a1);
  confab_outbox_mark_sending (outbox, a1);
  confab_outbox_mark_sent (outbox, a1);
  g_assert_true (confab_outbox_next_pending (outbox) == a2);

  /* A message that failed for good does not hold its channel back. */
  confab_outbox_mark_failed (outbox, b1, refused);
  g_assert_true (confab_outbox_next_pending (outbox) == a2);
  confab_outbox_mark_sending (outbox, a2);
  g_assert_true (confab_outbox_next_pending (outbox) == b2);

  g_clear_object (&outbox);
  rm_rf (dir);
}

/* ---- GListModel ---------------------------------------------------------------- */

typedef struct
{
  GListModel *model;
  GPtrArray  *shadow;   /* what a view would hold, updated only from items-changed */
  GArray     *changes;  /* guint triples: position, removed, added */
} ModelWatch;

static void
items_changed_cb (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  ModelWatch *watch)
{
  guint triple[3] = { position, removed, added };

  g_array_append_vals (watch->changes, triple, 3);

  g_assert_cmpuint (position + removed, <=, watch->shadow->len);
  g_ptr_array_remove_range (watch->shadow, position, removed);
  for (guint i = 0; i < added; i++)
    g_ptr_array_insert (watch->shadow, (int) (position + i), g_list_model_get_item (model, position + i));
  g_assert_cmpuint (watch->shadow->len, ==, g_list_model_get_n_items (model));
}

static void
watch_check (ModelWatch *watch)
{
  g_assert_cmpuint (watch->shadow->len, ==, g_list_model_get_n_items (watch->model));
  for (guint i = 0; i < watch->shadow->len; i++)
    {
      g_autoptr(GObject) item = g_list_model_get_item (watch->model, i);

      g_assert_true (g_ptr_array_index (watch->shadow, i) == (gpointer) item);
    }
}

static void
watch_expect (ModelWatch  *watch,
              const guint *expected,
              guint        n_triples)
{
  g_assert_cmpuint (watch->changes->len, ==, n_triples * 3);
  for (guint i = 0; i < n_triples * 3; i++)
    g_assert_cmpuint (g_array_index (watch->changes, guint, i), ==, expected[i]);
  g_array_set_size (watch->changes, 0);
  watch_check (watch);
}

static void
test_items_changed (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) shadow = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) changes = g_array_new (FALSE, FALSE, sizeof (guint));
  ModelWatch watch = { NULL, shadow, changes };
  ConfabOutboxItem *items[6];
  guint n_items_notifies = 0;

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  watch.model = G_LIST_MODEL (outbox);
  g_signal_connect (outbox, "items-changed", G_CALLBACK (items_changed_cb), &watch);
  g_signal_connect (outbox, "notify::n-items", G_CALLBACK (count_cb), &n_items_notifies);

  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    {
      guint expected[] = { i, 0, 1 };
      g_autofree char *text = g_strdup_printf ("m%u", i);

      items[i] = enqueue_ok (outbox, "messaging:general", text);
      watch_expect (&watch, expected, 1);
    }
  g_assert_cmpuint (n_items_notifies, ==, 6);

  /* Status changes are the items' own notify, not items-changed. */
  confab_outbox_mark_sent (outbox, items[0]);
  confab_outbox_mark_sent (outbox, items[1]);
  confab_outbox_mark_sent (outbox, items[3]);
  confab_outbox_mark_sent (outbox, items[5]);
  watch_expect (&watch, NULL, 0);

  /* Prune: one change per run, the last run first so positions stay valid. */
  {
    guint expected[] = { 5, 1, 0, 3, 1, 0, 0, 2, 0 };

    g_assert_cmpuint (confab_outbox_prune (outbox), ==, 4);
    watch_expect (&watch, expected, 3);
  }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 2);
  g_assert_true (model_item (outbox, 0) == items[2]);
  g_assert_true (model_item (outbox, 1) == items[4]);
  g_assert_cmpuint (n_items_notifies, ==, 7);

  /* Nothing to prune: no signal. */
  g_assert_cmpuint (confab_outbox_prune (outbox), ==, 0);
  watch_expect (&watch, NULL, 0);

  /* Discard removes at once, file included. */
  {
    guint expected[] = { 0, 1, 0 };
    g_autofree char *path = item_file (outbox, items[2]);

    g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
    confab_outbox_discard (outbox, items[2]);
    watch_expect (&watch, expected, 1);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 1);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 1);

  /* A view created before loading sees the loaded items arrive in one change. */
  {
    g_autoptr(ConfabOutbox) loaded = NULL;
    g_autoptr(GPtrArray) shadow2 = g_ptr_array_new_with_free_func (g_object_unref);
    g_autoptr(GArray) changes2 = g_array_new (FALSE, FALSE, sizeof (guint));
    ModelWatch watch2 = { NULL, shadow2, changes2 };
    guint expected[] = { 0, 0, 1 };

    enqueue_ok (outbox, "messaging:general", "m6");
    g_array_set_size (changes, 0);
    g_ptr_array_set_size (shadow, 0);  /* not checked from here on */

    loaded = g_object_new (CONFAB_TYPE_OUTBOX, "directory", dir, NULL);
    watch2.model = G_LIST_MODEL (loaded);
    g_signal_connect (loaded, "items-changed", G_CALLBACK (items_changed_cb), &watch2);
    g_assert_true (g_initable_init (G_INITABLE (loaded), NULL, &error));
    g_assert_no_error (error);
    expected[2] = 2;
    watch_expect (&watch2, expected, 1);
    /* init twice is harmless. */
    g_assert_true (g_initable_init (G_INITABLE (loaded), NULL, &error));
    watch_expect (&watch2, NULL, 0);
  }

  g_signal_handlers_disconnect_by_data (outbox, &watch);
  g_clear_object (&outbox);
  rm_rf (dir);
}

/* ---- corrupt files ------------------------------------------------------------- */

static void
corrupt_cb (ConfabOutbox *outbox,
            const char   *path,
            GPtrArray    *seen)
{
  g_ptr_array_add (seen, g_strdup (path));
}

typedef struct
{
  const char *name;
  char       *data;
  gsize       length;
} BadFile;

static void
test_corrupt_files (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(ConfabOutbox) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *good_a = NULL;
  g_autofree char *good_b = NULL;
  g_autofree char *huge = NULL;
  g_autofree char *unrelated = g_build_filename (dir, "README", NULL);
  g_autofree char *subdir = g_build_filename (dir, "folder.json", NULL);
  guint corrupt_notifies = 0;
  const char *valid_tail = "\"cid\":\"messaging:x\",\"text\":\"t\",\"created_at\":1,"
                           "\"status\":\"queued\",\"attempts\":0}";
  BadFile bad[] = {
    { "10000000-0000-4000-8000-000000000001.json", g_strdup ("{\"version\":1,\"id\":"), 0 },
    { "10000000-0000-4000-8000-000000000002.json", g_strdup ("not json at all \x01\xff"), 0 },
    { "10000000-0000-4000-8000-000000000003.json", g_strdup (""), 0 },
    { "10000000-0000-4000-8000-000000000004.json", g_strdup ("[1,2,3]"), 0 },
    /* wrong types */
    { "10000000-0000-4000-8000-000000000005.json",
      g_strdup ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-000000000005\",\"cid\":\"messaging:x\","
                "\"text\":\"t\",\"created_at\":1,\"status\":\"queued\",\"attempts\":\"0\"}"), 0 },
    { "10000000-0000-4000-8000-000000000006.json",
      g_strdup ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-000000000006\",\"cid\":\"messaging:x\","
                "\"text\":42,\"created_at\":1,\"status\":\"queued\",\"attempts\":0}"), 0 },
    { "10000000-0000-4000-8000-000000000007.json",
      g_strdup ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-000000000007\",\"cid\":\"messaging:x\","
                "\"text\":\"t\",\"created_at\":1.5,\"status\":\"queued\",\"attempts\":0}"), 0 },
    /* missing fields */
    { "10000000-0000-4000-8000-000000000008.json",
      g_strdup ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-000000000008\",\"cid\":\"messaging:x\","
                "\"created_at\":1,\"status\":\"queued\",\"attempts\":0}"), 0 },
    { "10000000-0000-4000-8000-000000000009.json",
      g_strdup ("{\"id\":\"10000000-0000-4000-8000-000000000009\",\"cid\":\"messaging:x\","
                "\"text\":\"t\",\"created_at\":1,\"status\":\"queued\",\"attempts\":0}"), 0 },
    /* bad ids: not a UUID, and a UUID that is not the file's */
    { "not-a-uuid.json", g_strdup_printf ("{\"version\":1,\"id\":\"not-a-uuid\",%s", valid_tail), 0 },
    { "10000000-0000-4000-8000-00000000000a.json",
      g_strdup_printf ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-0000000000ff\",%s", valid_tail), 0 },
    /* bad values: unknown version, status, a cid that is not type:id, negative attempts */
    { "10000000-0000-4000-8000-00000000000b.json",
      g_strdup_printf ("{\"version\":2,\"id\":\"10000000-0000-4000-8000-00000000000b\",%s", valid_tail), 0 },
    { "10000000-0000-4000-8000-00000000000c.json",
      g_strdup ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-00000000000c\",\"cid\":\"messaging:x\","
                "\"text\":\"t\",\"created_at\":1,\"status\":\"sent\",\"attempts\":0}"), 0 },
    { "10000000-0000-4000-8000-00000000000d.json",
      g_strdup ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-00000000000d\",\"cid\":\"nocolon\","
                "\"text\":\"t\",\"created_at\":1,\"status\":\"queued\",\"attempts\":0}"), 0 },
    { "10000000-0000-4000-8000-00000000000e.json",
      g_strdup ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-00000000000e\",\"cid\":\"messaging:x\","
                "\"text\":\"t\",\"created_at\":1,\"status\":\"queued\",\"attempts\":-1}"), 0 },
    /* huge: > 256 KiB (valid JSON otherwise) */
    { "10000000-0000-4000-8000-00000000000f.json", NULL, 0 },
  };

  /* Two good messages first. */
  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  good_a = g_strdup (confab_outbox_item_get_id (enqueue_ok (outbox, "messaging:x", "good a")));
  good_b = g_strdup (confab_outbox_item_get_id (enqueue_ok (outbox, "messaging:x", "good b")));
  g_clear_object (&outbox);

  {
    GString *s = g_string_new ("{\"version\":1,\"id\":\"10000000-0000-4000-8000-00000000000f\",");

    while (s->len <= CONFAB_OUTBOX_MAX_FILE_SIZE)
      g_string_append (s, "                                                                ");
    g_string_append (s, valid_tail);
    huge = g_string_free (s, FALSE);
    bad[G_N_ELEMENTS (bad) - 1].data = g_strdup (huge);
  }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = g_build_filename (dir, bad[i].name, NULL);

      bad[i].length = strlen (bad[i].data);
      write_file (path, bad[i].data, (gssize) bad[i].length);
    }
  /* Not ours: left alone, not counted. */
  write_file (unrelated, "notes", -1);
  g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);

  outbox = g_object_new (CONFAB_TYPE_OUTBOX, "directory", dir, NULL);
  g_signal_connect (outbox, "corrupt-file", G_CALLBACK (corrupt_cb), seen);
  g_signal_connect (outbox, "notify::n-corrupt", G_CALLBACK (count_cb), &corrupt_notifies);
  g_assert_true (g_initable_init (G_INITABLE (outbox), NULL, &error));
  g_assert_no_error (error);

  /* The good files still load. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 2);
  g_assert_cmpstr (confab_outbox_item_get_id (model_item (outbox, 0)), ==, good_a);
  g_assert_cmpstr (confab_outbox_item_get_id (model_item (outbox, 1)), ==, good_b);

  g_assert_cmpuint (seen->len, ==, G_N_ELEMENTS (bad));
  g_assert_cmpuint (confab_outbox_get_n_corrupt (outbox), ==, G_N_ELEMENTS (bad));
  g_assert_cmpuint (corrupt_notifies, ==, G_N_ELEMENTS (bad));
  g_assert_cmpuint (g_strv_length ((char **) confab_outbox_get_corrupt_paths (outbox)), ==, G_N_ELEMENTS (bad));

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = g_build_filename (dir, bad[i].name, NULL);
      g_autofree char *prefix = g_strconcat (path, ".corrupt-", NULL);
      g_autofree char *contents = NULL;
      const char *aside = NULL;
      gsize length = 0;

      /* Reported once, under its new name… */
      for (guint j = 0; j < seen->len; j++)
        if (g_str_has_prefix (g_ptr_array_index (seen, j), prefix))
          {
            g_assert_null (aside);
            aside = g_ptr_array_index (seen, j);
          }
      g_assert_nonnull (aside);
      g_assert_true (g_strv_contains (confab_outbox_get_corrupt_paths (outbox), aside));

      /* …gone from its old name, kept byte for byte under the new one. */
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
      g_assert_true (g_file_get_contents (aside, &contents, &length, NULL));
      g_assert_cmpmem (contents, length, bad[i].data, bad[i].length);
    }

  g_assert_true (g_file_test (unrelated, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (subdir, G_FILE_TEST_IS_DIR));

  /* Set-aside files are not read again. */
  again = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (confab_outbox_get_n_corrupt (again), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (again)), ==, 2);

  /* The same name going bad again never overwrites the first copy. */
  {
    g_autofree char *path = g_build_filename (dir, bad[0].name, NULL);
    g_autoptr(ConfabOutbox) third = NULL;
    const char *aside;
    g_autofree char *contents = NULL;

    write_file (path, "second copy", -1);
    third = confab_outbox_new (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (confab_outbox_get_n_corrupt (third), ==, 1);
    aside = confab_outbox_get_corrupt_paths (third)[0];
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    g_assert_true (g_str_has_prefix (aside, path));
    g_assert_nonnull (strstr (aside, ".corrupt-"));
    for (guint j = 0; j < seen->len; j++)
      g_assert_cmpstr (g_ptr_array_index (seen, j), !=, aside);
    g_assert_true (g_file_get_contents (aside, &contents, NULL, NULL));
    g_assert_cmpstr (contents, ==, "second copy");
    for (guint j = 0; j < seen->len; j++)
      if (g_str_has_prefix (g_ptr_array_index (seen, j), path))
        {
          g_autofree char *first = NULL;

          g_assert_true (g_file_get_contents (g_ptr_array_index (seen, j), &first, NULL, NULL));
          g_assert_cmpstr (first, ==, bad[0].data);
        }
  }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_free (bad[i].data);
  g_clear_object (&again);
  g_clear_object (&outbox);
  rm_rf (dir);
}

/* ---- storage errors ------------------------------------------------------------ */

static void
assert_storage_error (const char *directory)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabOutbox) outbox = confab_outbox_new (directory, &error);

  g_assert_null (outbox);
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, directory));
}

static void
storage_error_cb (ConfabOutbox *outbox,
                  const GError *error,
                  guint        *count)
{
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE);
  (*count)++;
}

static void
test_unwritable_directory (void)
{
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *file = g_build_filename (tmp, "regular-file", NULL);
  g_autofree char *under_file = g_build_filename (file, "outbox", NULL);
  g_autofree char *dir = g_build_filename (tmp, "outbox", NULL);
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  ConfabOutboxItem *item;
  guint storage_errors = 0;
  guint changes = 0;

  write_file (file, "x", -1);

  /* A path under a regular file cannot be created… */
  assert_storage_error (under_file);
  /* …and a regular file is no directory. */
  assert_storage_error (file);

  /* A read-only directory, where chmod means something (not for root). */
  if (chmod_stops_writes (tmp))
    {
      g_autofree char *ro = g_build_filename (tmp, "read-only", NULL);

      g_assert_cmpint (g_mkdir (ro, 0700), ==, 0);
      g_assert_cmpint (g_chmod (ro, 0500), ==, 0);
      assert_storage_error (ro);
      rm_rf (ro);
    }
  else
    {
      g_test_message ("chmod 0500 does not stop writes here (root); checked the other cases only");
    }

  /* The directory goes away under an open outbox: enqueue fails and queues nothing. */
  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  item = enqueue_ok (outbox, "messaging:general", "before");
  g_signal_connect (outbox, "storage-error", G_CALLBACK (storage_error_cb), &storage_errors);
  g_signal_connect (outbox, "items-changed", G_CALLBACK (items_changed_count_cb), &changes);

  rm_rf (dir);
  write_file (dir, "now a file", -1);

  g_assert_null (confab_outbox_enqueue (outbox, "messaging:general", "after", &error));
  g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, dir));
  g_clear_error (&error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 1);
  g_assert_cmpuint (changes, ==, 0);

  /* A status change that cannot be written still happens in memory, and says so. */
  confab_outbox_mark_sending (outbox, item);
  g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_SENDING);
  g_assert_cmpuint (storage_errors, ==, 1);

  g_clear_object (&outbox);
  rm_rf (tmp);
}

/* ---- crashes ------------------------------------------------------------------- */

static void
test_dropped_without_sending (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      ConfabOutboxItem *item = enqueue_ok (outbox, "messaging:general", text);

      g_ptr_array_add (ids, g_strdup (confab_outbox_item_get_id (item)));
      if (i % 3 == 0)
        confab_outbox_mark_sending (outbox, item);
    }
  /* Gone without a word, as a crashed app's would be. */
  g_assert_finalize_object (g_steal_pointer (&outbox));

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 10);
  for (guint i = 0; i < 10; i++)
    {
      ConfabOutboxItem *item = model_item (outbox, i);

      g_assert_cmpstr (confab_outbox_item_get_id (item), ==, g_ptr_array_index (ids, i));
      g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);
    }
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 10);

  g_clear_object (&outbox);
  rm_rf (dir);
}

#define KILL_N 30

static void
test_killed (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;

  if (g_test_subprocess ())
    {
      /* The child: queue, start some attempts, deliver one, then die by SIGKILL
       * (no dispose, no atexit, no flush). */
      outbox = confab_outbox_new (g_getenv (KILL_DIR_ENV), &error);
      g_assert_no_error (error);
      for (guint i = 0; i < KILL_N; i++)
        {
          g_autofree char *text = g_strdup_printf ("message %u", i);
          ConfabOutboxItem *item = enqueue_ok (outbox, i % 2 == 0 ? "messaging:a" : "messaging:b", text);

          if (i % 4 == 1)
            confab_outbox_mark_sending (outbox, item);
          if (i == 7)
            {
              confab_outbox_mark_sending (outbox, item);
              confab_outbox_mark_sent (outbox, item);
            }
        }
      kill (getpid (), SIGKILL);
      g_assert_not_reached ();
    }

  dir = make_tmp_dir ();
  g_setenv (KILL_DIR_ENV, dir, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_unsetenv (KILL_DIR_ENV);

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (confab_outbox_get_n_corrupt (outbox), ==, 0);
  /* Everything but the delivered one, in order, queued again. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, KILL_N - 1);
  for (guint i = 0, pos = 0; i < KILL_N; i++)
    {
      g_autofree char *text = NULL;
      ConfabOutboxItem *item;

      if (i == 7)
        continue;
      text = g_strdup_printf ("message %u", i);
      item = model_item (outbox, pos++);
      g_assert_cmpstr (confab_outbox_item_get_text (item), ==, text);
      g_assert_cmpint (confab_outbox_item_get_status (item), ==, CONFAB_OUTBOX_STATUS_QUEUED);
      g_assert_true (g_uuid_string_is_valid (confab_outbox_item_get_id (item)));
    }

  g_clear_object (&outbox);
  rm_rf (dir);
}

static void
test_round_trip_1000 (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(ConfabOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) unique = g_hash_table_new (g_str_hash, g_str_equal);

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *cid = g_strdup_printf ("messaging:room-%u", i % 7);
      g_autofree char *text = g_strdup_printf ("message %u ✓", i);
      ConfabOutboxItem *item = enqueue_ok (outbox, cid, text);

      g_ptr_array_add (ids, g_strdup (confab_outbox_item_get_id (item)));
      g_hash_table_add (unique, g_ptr_array_index (ids, i));
    }
  g_assert_cmpuint (g_hash_table_size (unique), ==, 1000);
  g_clear_object (&outbox);

  outbox = confab_outbox_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (outbox)), ==, 1000);
  g_assert_cmpuint (confab_outbox_get_n_pending (outbox), ==, 1000);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *cid = g_strdup_printf ("messaging:room-%u", i % 7);
      g_autofree char *text = g_strdup_printf ("message %u ✓", i);
      ConfabOutboxItem *item = model_item (outbox, i);

      g_assert_cmpstr (confab_outbox_item_get_id (item), ==, g_ptr_array_index (ids, i));
      g_assert_cmpstr (confab_outbox_item_get_cid (item), ==, cid);
      g_assert_cmpstr (confab_outbox_item_get_text (item), ==, text);
    }

  g_clear_object (&outbox);
  rm_rf (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/outbox/enqueue-writes-file", test_enqueue_writes_file);
  g_test_add_func ("/core/outbox/enqueue-validation", test_enqueue_validation);
  g_test_add_func ("/core/outbox/reopen", test_reopen);
  g_test_add_func ("/core/outbox/order-from-created-at", test_order_from_created_at);
  g_test_add_func ("/core/outbox/mark-sent-removes-file", test_mark_sent_removes_file);
  g_test_add_func ("/core/outbox/failures-and-retry", test_failures_and_retry);
  g_test_add_func ("/core/outbox/duplicate-delivery", test_duplicate_delivery);
  g_test_add_func ("/core/outbox/next-pending-order", test_next_pending_order);
  g_test_add_func ("/core/outbox/items-changed", test_items_changed);
  g_test_add_func ("/core/outbox/corrupt-files", test_corrupt_files);
  g_test_add_func ("/core/outbox/unwritable-directory", test_unwritable_directory);
  g_test_add_func ("/core/outbox/dropped-without-sending", test_dropped_without_sending);
  g_test_add_func ("/core/outbox/killed", test_killed);
  g_test_add_func ("/core/outbox/round-trip-1000", test_round_trip_1000);

  return g_test_run ();
}
