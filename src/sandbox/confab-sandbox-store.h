/* confab-sandbox-store.h: the sandbox's users, channels, members, messages and read state
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CONFAB_SANDBOX_TYPE_STORE (confab_sandbox_store_get_type ())

G_DECLARE_FINAL_TYPE (ConfabSandboxStore, confab_sandbox_store, CONFAB_SANDBOX, STORE, GObject)

#define CONFAB_SANDBOX_STORE_SCHEMA_VERSION 1

/* A page of channel messages, Stream's `messages:{…}` query. Ids are NULL when unset;
 * limit 0 means the default of 100. */
typedef struct {
  guint       limit;
  const char *id_lt;
  const char *id_gt;
  const char *id_lte;
  const char *id_gte;
  const char *id_around;
} ConfabSandboxPage;

/* Objects returned are new references in Stream's wire shape (custom fields flat,
 * timestamps via confab_sandbox_format_time). Errors are CONFAB_STREAM_ERROR:
 * INPUT (4) for bad values or duplicates, DOES_NOT_EXIST (16), INTERNAL (-1) for SQLite. */

ConfabSandboxStore *confab_sandbox_store_new                 (const char         *data_dir,
                                                              GError            **error);
int                 confab_sandbox_store_get_schema_version  (ConfabSandboxStore *self);

/* Users */
JsonObject *confab_sandbox_store_upsert_user          (ConfabSandboxStore  *self,
                                                       JsonObject          *user,
                                                       GError             **error);
JsonObject *confab_sandbox_store_partial_update_user  (ConfabSandboxStore  *self,
                                                       const char          *user_id,
                                                       JsonObject          *set,
                                                       char               **unset,
                                                       GError             **error);
JsonObject *confab_sandbox_store_get_user             (ConfabSandboxStore  *self,
                                                       const char          *user_id,
                                                       GError             **error);
GPtrArray  *confab_sandbox_store_query_users          (ConfabSandboxStore  *self,
                                                       char               **ids,
                                                       guint                limit,
                                                       guint                offset,
                                                       GError             **error);
gboolean    confab_sandbox_store_touch_user           (ConfabSandboxStore  *self,
                                                       const char          *user_id,
                                                       gint64               now_usec,
                                                       GError             **error);

/* Channels and members */
JsonObject *confab_sandbox_store_get_or_create_channel (ConfabSandboxStore *self,
                                                        const char         *type,
                                                        const char         *id,
                                                        const char         *created_by,
                                                        JsonObject         *data,
                                                        gboolean           *out_created,
                                                        GError            **error);
JsonObject *confab_sandbox_store_get_channel          (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       GError             **error);
GPtrArray  *confab_sandbox_store_query_channels       (ConfabSandboxStore  *self,
                                                       const char          *member_id,
                                                       char               **cids,
                                                       const char          *type,
                                                       guint                limit,
                                                       guint                offset,
                                                       GError             **error);
gboolean    confab_sandbox_store_add_members          (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       char               **user_ids,
                                                       GError             **error);
GPtrArray  *confab_sandbox_store_list_members         (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       GError             **error);
char      **confab_sandbox_store_member_ids           (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       GError             **error);
gboolean    confab_sandbox_store_is_member            (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       const char          *user_id);

/* Messages */
JsonObject *confab_sandbox_store_insert_message       (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       const char          *user_id,
                                                       JsonObject          *message,
                                                       GError             **error);
JsonObject *confab_sandbox_store_get_message          (ConfabSandboxStore  *self,
                                                       const char          *message_id,
                                                       GError             **error);
JsonObject *confab_sandbox_store_update_message       (ConfabSandboxStore  *self,
                                                       const char          *message_id,
                                                       JsonObject          *message,
                                                       GError             **error);
JsonObject *confab_sandbox_store_delete_message       (ConfabSandboxStore  *self,
                                                       const char          *message_id,
                                                       gboolean             hard,
                                                       GError             **error);
GPtrArray  *confab_sandbox_store_list_messages        (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       const ConfabSandboxPage *page,
                                                       GError             **error);
GPtrArray  *confab_sandbox_store_messages_by_ids      (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       char               **ids,
                                                       GError             **error);
GPtrArray  *confab_sandbox_store_messages_since       (ConfabSandboxStore  *self,
                                                       char               **cids,
                                                       gint64               since_usec,
                                                       guint                limit,
                                                       GError             **error);
/* The same messages in the order of the events /sync makes of them (a new message at its
 * creation, an edited or deleted one at its last change), so a client can page on from
 * the last event's time. */
GPtrArray  *confab_sandbox_store_sync_messages        (ConfabSandboxStore  *self,
                                                       char               **cids,
                                                       gint64               since_usec,
                                                       guint                limit,
                                                       GError             **error);

/* Read state */
JsonObject *confab_sandbox_store_mark_read            (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       const char          *user_id,
                                                       const char          *message_id,
                                                       GError             **error);
gboolean    confab_sandbox_store_mark_all_read        (ConfabSandboxStore  *self,
                                                       const char          *user_id,
                                                       GError             **error);
GPtrArray  *confab_sandbox_store_list_reads           (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       GError             **error);
guint       confab_sandbox_store_unread_count         (ConfabSandboxStore  *self,
                                                       const char          *cid,
                                                       const char          *user_id);
void        confab_sandbox_store_unread_totals        (ConfabSandboxStore  *self,
                                                       const char          *user_id,
                                                       guint               *out_total,
                                                       guint               *out_channels);

G_END_DECLS
