/* confab-conversation-view.h: one channel's messages, who is typing, and the composer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-chat-store.h"
#include "confab-composer.h"

G_BEGIN_DECLS

/* Within this many pixels of the end counts as "at the bottom" (stick to new messages). */
#define CONFAB_CONVERSATION_VIEW_BOTTOM_SLACK 48

#define CONFAB_TYPE_CONVERSATION_VIEW (confab_conversation_view_get_type ())

G_DECLARE_FINAL_TYPE (ConfabConversationView, confab_conversation_view,
                      CONFAB, CONVERSATION_VIEW, AdwBin)

/* Properties: store, channel (a ConfabChannel of the store, or NULL), stick-to-bottom
 * (read-only: the view follows new messages; FALSE once the user scrolls up),
 * loading-older (read-only), reading (read-only: the channel is on screen, at its
 * newest message, in the active window, so what arrives is marked read).
 *
 * The messages are a GtkListView (only the rows on screen exist) over the channel's
 * model. Scrolling near the top loads older history; while the view is at the bottom,
 * in an active window, the channel is marked read. Enter in the composer sends through
 * the store's outbox; drafts are kept per channel while the window lives. */
GtkWidget       *confab_conversation_view_new                 (void);

ConfabChatStore *confab_conversation_view_get_store           (ConfabConversationView *self);
void             confab_conversation_view_set_store           (ConfabConversationView *self,
                                                               ConfabChatStore        *store);
ConfabChannel   *confab_conversation_view_get_channel         (ConfabConversationView *self);
void             confab_conversation_view_set_channel         (ConfabConversationView *self,
                                                               ConfabChannel          *channel);
gboolean         confab_conversation_view_get_stick_to_bottom (ConfabConversationView *self);
gboolean         confab_conversation_view_get_loading_older   (ConfabConversationView *self);
gboolean         confab_conversation_view_get_reading         (ConfabConversationView *self);
/* Follows new messages again and scrolls to the newest. */
void             confab_conversation_view_scroll_to_bottom    (ConfabConversationView *self);

GtkListView     *confab_conversation_view_get_list_view       (ConfabConversationView *self);
ConfabComposer  *confab_conversation_view_get_composer        (ConfabConversationView *self);
GtkLabel        *confab_conversation_view_get_typing_label    (ConfabConversationView *self);

G_END_DECLS
