/* confab-history-cache.h: the chat history on disk (SQLite), so the app opens on it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-clock.h"

G_BEGIN_DECLS

#define CONFAB_HISTORY_CACHE_FILE_NAME             "history.sqlite"
#define CONFAB_HISTORY_CACHE_SCHEMA_VERSION        1
/* Writes wait this long after the first change, then go in batched transactions. */
#define CONFAB_HISTORY_CACHE_WRITE_DELAY_MS        1000
/* At most this many changes per transaction; the rest follow from an idle callback, so
 * the main loop is never held long. */
#define CONFAB_HISTORY_CACHE_WRITE_CHUNK           500
/* Older messages than the newest this many of a channel are dropped from the cache. */
#define CONFAB_HISTORY_CACHE_MAX_MESSAGES_PER_CHANNEL 20000

typedef struct
{
  const char *cid;
  const char *name;              /* NULL: none */
  guint       member_count;
  guint       unread_count;
  gint64      last_message_at;   /* wall µs, 0 if unknown */
  gboolean    history_complete;  /* the oldest message is loaded */
} ConfabCachedChannel;

typedef struct
{
  const char *id;
  const char *cid;
  const char *user_id;
  const char *text;              /* NULL or "" when empty */
  gint64      created_at;        /* wall µs */
  gboolean    deleted;
} ConfabCachedMessage;

/* What confab_history_cache_load() reads, in this order: users, channels, members,
 * then each channel's messages oldest first. Strings are valid during the call only. */
typedef struct
{
  void (*user)    (gpointer                    user_data,
                   const char                 *id,
                   const char                 *name,
                   gint64                      last_active);
  void (*channel) (gpointer                    user_data,
                   const ConfabCachedChannel  *channel);
  void (*member)  (gpointer                    user_data,
                   const char                 *cid,
                   const char                 *user_id);
  void (*message) (gpointer                    user_data,
                   const ConfabCachedMessage  *message);
} ConfabHistoryCacheLoader;

#define CONFAB_TYPE_HISTORY_CACHE (confab_history_cache_get_type ())

G_DECLARE_FINAL_TYPE (ConfabHistoryCache, confab_history_cache, CONFAB, HISTORY_CACHE, GObject)

/* Signals: ::reset () after a corrupt file met while writing was set aside and an empty
 * cache took its place (write everything you hold again); ::storage-error (GError *)
 * when a batch could not be written (it is dropped: the cache is only a cache). */

/* Nothing is opened yet. @clock (NULL: the system clock) times the batched writes. */
ConfabHistoryCache *confab_history_cache_new            (const char                     *directory,
                                                         ConfabClock                    *clock);

/* Opens (or creates) DIRECTORY/history.sqlite: WAL, a versioned schema, statements
 * prepared once. Returns TRUE when the cache is open as it was. Otherwise FALSE and:
 * - CONFAB_ERROR_CORRUPT: the file was unreadable (random bytes, truncated, another
 *   schema or version); it was renamed aside as history.sqlite.corrupt-YYYYMMDD-HHMMSS
 *   (kept, see get_set_aside_paths()) and an empty cache is open and usable;
 * - CONFAB_ERROR_STORAGE: the directory or file cannot be used (nothing is cached;
 *   every write is dropped quietly). */
gboolean            confab_history_cache_open           (ConfabHistoryCache             *self,
                                                         GError                        **error);
gboolean            confab_history_cache_is_open        (ConfabHistoryCache             *self);
const char         *confab_history_cache_get_path       (ConfabHistoryCache             *self);
const char * const *confab_history_cache_get_set_aside_paths (ConfabHistoryCache        *self);

/* Reads everything (each channel's newest CONFAB_HISTORY_CACHE_MAX_MESSAGES_PER_CHANNEL
 * messages) through @loader. On FALSE the caller must drop what it was given: a corrupt
 * file met while reading is set aside and replaced as in open() (CONFAB_ERROR_CORRUPT). */
gboolean            confab_history_cache_load           (ConfabHistoryCache             *self,
                                                         const ConfabHistoryCacheLoader *loader,
                                                         gpointer                        user_data,
                                                         GError                        **error);

/* The user the cached history belongs to, NULL if none yet. */
const char         *confab_history_cache_get_owner      (ConfabHistoryCache             *self);

/* Changes, queued and written later in batches (see the limits above); each copies what
 * it is given. Ignored when the cache is not open. */
void                confab_history_cache_set_owner      (ConfabHistoryCache             *self,
                                                         const char                     *user_id);
void                confab_history_cache_put_user       (ConfabHistoryCache             *self,
                                                         const char                     *id,
                                                         const char                     *name,
                                                         gint64                          last_active);
void                confab_history_cache_put_channel    (ConfabHistoryCache             *self,
                                                         const ConfabCachedChannel      *channel);
void                confab_history_cache_set_members    (ConfabHistoryCache             *self,
                                                         const char                     *cid,
                                                         const char * const             *user_ids);
void                confab_history_cache_put_message    (ConfabHistoryCache             *self,
                                                         const ConfabCachedMessage      *message);
void                confab_history_cache_remove_message (ConfabHistoryCache             *self,
                                                         const char                     *id);
void                confab_history_cache_remove_channel (ConfabHistoryCache             *self,
                                                         const char                     *cid);
/* Forgets every user, channel and message (the owner too). */
void                confab_history_cache_clear          (ConfabHistoryCache             *self);

guint               confab_history_cache_get_n_pending  (ConfabHistoryCache             *self);
/* Writes everything pending now (app quit, tests). FALSE with CONFAB_ERROR_STORAGE when a
 * batch failed (it is dropped). */
gboolean            confab_history_cache_flush          (ConfabHistoryCache             *self,
                                                         GError                        **error);

G_END_DECLS
