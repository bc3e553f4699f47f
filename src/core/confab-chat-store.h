/* confab-chat-store.h: the chat as the app shows it: channels, messages, people, cached
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "confab-chat-channel.h"
#include "confab-chat-message.h"
#include "confab-chat-user.h"
#include "confab-clock.h"
#include "confab-connection-manager.h"

G_BEGIN_DECLS

/* The defaults of the page-size properties below. */
/* Messages per channel in the channel list query (Stream's default). */
#define CONFAB_CHAT_STORE_CHANNEL_PAGE     25
/* Messages per confab_chat_store_load_older_async() page. */
#define CONFAB_CHAT_STORE_HISTORY_PAGE     100
/* Messages per page when closing a gap between the cache and the newest page (Stream's
 * maximum is 300), and how many such pages at most: past that (3 000 missed messages)
 * the older cached messages are dropped and paged back in on demand. */
#define CONFAB_CHAT_STORE_GAP_PAGE         300
#define CONFAB_CHAT_STORE_GAP_MAX_PAGES    10
/* The largest value the page-size properties accept (Stream's message page limit). */
#define CONFAB_CHAT_STORE_MAX_PAGE         300
/* Channels per query-channels page (Stream's maximum is 30). */
#define CONFAB_CHAT_STORE_CHANNELS_PER_PAGE 30
/* A page closing a gap is tried at most this many times (the retries with the store's
 * backoff, while connected) before the older cached messages are dropped instead. */
#define CONFAB_CHAT_STORE_GAP_MAX_ATTEMPTS 5
/* typing.start at most this often while typing; typing.stop after this long without a
 * keystroke. */
#define CONFAB_CHAT_STORE_TYPING_START_MS  2000
#define CONFAB_CHAT_STORE_TYPING_STOP_MS   3000
/* While a channel is being read (reading-channel), the server is told it was read once
 * no message has come for READ_SETTLE_MS, and at least every READ_MAX_DELAY_MS during a
 * long burst: not once per message. */
#define CONFAB_CHAT_STORE_READ_SETTLE_MS     1000
#define CONFAB_CHAT_STORE_READ_MAX_DELAY_MS  10000

#define CONFAB_TYPE_CHAT_STORE (confab_chat_store_get_type ())

G_DECLARE_FINAL_TYPE (ConfabChatStore, confab_chat_store, CONFAB, CHAT_STORE, GObject)

/* Construct-only properties: manager, cache-dir (NULL: nothing is cached), clock (default:
 * the system clock; it drives the typing timers, the retries and the cache's batched
 * writes), and the page sizes channel-message-limit (messages per channel in the channel
 * query, default CONFAB_CHAT_STORE_CHANNEL_PAGE), history-page-size (load_older,
 * CONFAB_CHAT_STORE_HISTORY_PAGE), gap-page-size and gap-max-pages
 * (CONFAB_CHAT_STORE_GAP_PAGE, CONFAB_CHAT_STORE_GAP_MAX_PAGES).
 * Read-only, notified on change:
 * - own-user-id: the signed-in user (the manager's, or the cache's owner before the
 *   first connect);
 * - refreshing: TRUE from each CONNECTED until the channel list is complete and merged,
 *   including the waits between retries; FALSE once it is, or when the connection is
 *   lost meanwhile (after the query in flight, if any, has ended); TRUE again at the
 *   next CONNECTED;
 * - last-error (G_TYPE_ERROR, nullable): why the last REST call the store made on its
 *   own failed (the channel list, a channel's state, a page that closes a history gap,
 *   a read receipt), in CONFAB_ERROR with confab_error_classify()'s code; NULL again once
 *   the store has recovered (a whole channel list arrived, or every request that waited
 *   for a retry succeeded). Worth a toast, not a dialog: the store retries by itself;
 * - next-retry (gint64): when that retry is due (wall µs on the store's clock), 0 when
 *   nothing waits for one.
 * Read-write:
 * - reading-channel (string, nullable): the cid the user is reading right now (on
 *   screen, at its newest message, in the active window); NULL when none. Set, it marks
 *   the channel read if it has unread messages; while set, messages arriving there are
 *   not counted unread, and the server is told once the burst settles (see
 *   CONFAB_CHAT_STORE_READ_SETTLE_MS) instead of per message; changed or cleared, what
 *   was read there is told at once.
 *
 * Once the manager is CONNECTED (and after each reconnect) the store queries the user's
 * channels (state, watch, presence) and merges them with what it has; it follows the
 * manager's ::event (messages, typing, presence, reads, channel and member changes;
 * anything else is ignored) and the outbox's items. Changes reach the models in batches
 * from an idle callback: one ::items-changed per model for a whole backlog. Whatever the
 * server sent is written to the cache in batched transactions.
 *
 * Failures never leave a partial channel list as final: while CONNECTED, a failed
 * channel query (refused, timed out, rate limited, a malformed answer) is tried again
 * with a backoff on the store's clock (0.25 s floor, doubling from 0.5 s to a 30 s cap,
 * full jitter; no sooner than a rate limit's Retry-After, capped the same), and again at
 * the next CONNECTED. A channel's own query and read receipts are retried the same way;
 * a page closing a history gap is tried CONFAB_CHAT_STORE_GAP_MAX_ATTEMPTS times, then
 * (or when the connection is lost) the older cached messages are dropped so the history
 * never has a hole (has-more-history turns TRUE).
 *
 * Signals: ::message-added (ConfabChannel *channel, ConfabMessage *message) for each new
 * message from someone else that arrives as an event (live or in the catch-up after a
 * reconnect), once, after it is in the channel's model; never for the cache, for pages of
 * history, or for ids already seen. */
ConfabChatStore         *confab_chat_store_new              (ConfabConnectionManager  *manager,
                                                             const char               *cache_dir);

ConfabConnectionManager *confab_chat_store_get_manager      (ConfabChatStore          *self);
const char              *confab_chat_store_get_cache_dir    (ConfabChatStore          *self);
const char              *confab_chat_store_get_own_user_id  (ConfabChatStore          *self);
gboolean                 confab_chat_store_get_refreshing   (ConfabChatStore          *self);
/* (nullable) See the last-error property. */
const GError            *confab_chat_store_get_last_error   (ConfabChatStore          *self);
gint64                   confab_chat_store_get_next_retry   (ConfabChatStore          *self);
/* Retries what failed now instead of after the backoff (a toast's "Retry" button); the
 * channel list is queried again if it is not complete. Does nothing unless CONNECTED. */
void                     confab_chat_store_retry_now        (ConfabChatStore          *self);

/* (transfer none) ConfabChannel, newest last-message-at first. */
GListModel              *confab_chat_store_get_channels     (ConfabChatStore          *self);
/* (transfer none) (nullable) */
ConfabChannel           *confab_chat_store_lookup_channel   (ConfabChatStore          *self,
                                                             const char               *cid);
/* (transfer none) ConfabChatUser: everyone known, in the order they became known. */
GListModel              *confab_chat_store_get_users        (ConfabChatStore          *self);
/* (transfer none) (nullable) */
ConfabChatUser          *confab_chat_store_lookup_user      (ConfabChatStore          *self,
                                                             const char               *id);

/* Fills the channels and their messages from the cache on disk at once (one
 * ::items-changed per model), then adds the outbox's unsent messages. Returns TRUE when
 * the cache was read as it was, or when there is no cache-dir. Otherwise FALSE, and the
 * store works either way:
 * - CONFAB_ERROR_CORRUPT: the cache file was unreadable; it was renamed aside (kept) and
 *   an empty cache took its place (show a short notice at most);
 * - CONFAB_ERROR_STORAGE: the cache cannot be used (directory not writable, …); the store
 *   keeps everything in memory only.
 * Call it once, before or after connecting. */
gboolean                 confab_chat_store_load_cache       (ConfabChatStore          *self,
                                                             GError                  **error);
/* Writes the pending cache changes now (e.g. at quit). */
gboolean                 confab_chat_store_flush_cache      (ConfabChatStore          *self,
                                                             GError                  **error);

/* Sends @text through the manager's durable outbox. The message is in @cid's model when
 * this returns (QUEUED, or SENDING when connected) and follows SENDING → SENT (or
 * FAILED); the server's copy (same id) is merged into it. Errors as
 * confab_connection_manager_send_text() (CONFAB_ERROR_REJECTED for an empty or too long
 * text, CONFAB_ERROR_STORAGE). Returns: (transfer none) the message. */
ConfabMessage           *confab_chat_store_send_text        (ConfabChatStore          *self,
                                                             const char               *cid,
                                                             const char               *text,
                                                             GError                  **error);
/* A FAILED message of ours goes back to QUEUED (same id); it goes out when the manager
 * next works through its outbox. */
void                     confab_chat_store_retry            (ConfabChatStore          *self,
                                                             ConfabMessage            *message);
/* An unsent message of ours leaves the outbox and its channel. */
void                     confab_chat_store_discard          (ConfabChatStore          *self,
                                                             ConfabMessage            *message);

/* One page (history-page-size) of messages older than the oldest loaded,
 * prepended to the channel's model (one ::items-changed) before the callback runs;
 * has-more-history turns FALSE at the start of the history. Errors:
 * G_IO_ERROR_NOT_FOUND (no such channel), CONFAB_ERROR_NETWORK (not connected), or the
 * REST call's. Resolves TRUE at once when there is no more history. */
void                     confab_chat_store_load_older_async  (ConfabChatStore         *self,
                                                             const char               *cid,
                                                             GCancellable             *cancellable,
                                                             GAsyncReadyCallback       callback,
                                                             gpointer                  user_data);
gboolean                 confab_chat_store_load_older_finish (ConfabChatStore         *self,
                                                             GAsyncResult             *result,
                                                             GError                  **error);

/* The user has seen @cid: unread-count is 0 at once; the server is told now, or after
 * the next connect. */
void                     confab_chat_store_mark_read        (ConfabChatStore          *self,
                                                             const char               *cid);
/* See the reading-channel property. */
const char              *confab_chat_store_get_reading_channel (ConfabChatStore       *self);
void                     confab_chat_store_set_reading_channel (ConfabChatStore       *self,
                                                                const char            *cid);
/* Call on each keystroke in @cid's composer: typing.start at most every 2 s, typing.stop
 * 3 s after the last keystroke (or when a message is sent). Nothing is sent offline. */
void                     confab_chat_store_notify_typing    (ConfabChatStore          *self,
                                                             const char               *cid);

G_END_DECLS
