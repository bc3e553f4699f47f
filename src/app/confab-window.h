/* confab-window.h: the main window: channels, the conversation, the connection widgets
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-chat-store.h"
#include "confab-connection-manager.h"

G_BEGIN_DECLS

/* What the window shows while there is no chat store. */
typedef enum {
  CONFAB_WINDOW_STATUS_CHAT,            /* a store is set: channels and conversation */
  CONFAB_WINDOW_STATUS_SIGNING_IN,      /* waiting for the first sign-in */
  CONFAB_WINDOW_STATUS_SIGNED_OUT,      /* no account: "Sign In…" opens Preferences */
  CONFAB_WINDOW_STATUS_SIGN_IN_FAILED,  /* the detail says why; "Try Again" */
} ConfabWindowStatus;

GType confab_window_status_get_type (void) G_GNUC_CONST;
#define CONFAB_TYPE_WINDOW_STATUS (confab_window_status_get_type ())

#define CONFAB_TYPE_WINDOW (confab_window_get_type ())

G_DECLARE_FINAL_TYPE (ConfabWindow, confab_window, CONFAB, WINDOW, AdwApplicationWindow)

/* Properties: manager, store (set together with confab_window_set_session()), channel
 * (the open ConfabChannel or NULL), status, status-detail, folded (read-only: the
 * narrow, one-pane layout). The window remembers its size in the application's
 * settings when the application is a ConfabApplication. */
ConfabWindow            *confab_window_new               (GtkApplication          *application);

/* Shows @store's channels and binds the connection widgets to @manager; NULL for both
 * clears the window (signed out). Switches the status to CHAT when @store is set. */
void                     confab_window_set_session       (ConfabWindow            *self,
                                                          ConfabConnectionManager *manager,
                                                          ConfabChatStore         *store);
ConfabConnectionManager *confab_window_get_manager       (ConfabWindow            *self);
ConfabChatStore         *confab_window_get_store         (ConfabWindow            *self);

void                     confab_window_set_status        (ConfabWindow            *self,
                                                          ConfabWindowStatus       status,
                                                          const char              *detail);
ConfabWindowStatus       confab_window_get_status        (ConfabWindow            *self);

/* Opens the channel @cid of the store (FALSE if the store has no such channel). */
gboolean                 confab_window_open_channel      (ConfabWindow            *self,
                                                          const char              *cid);
ConfabChannel           *confab_window_get_channel       (ConfabWindow            *self);

/* A toast with plain @text (escaped: Adw 1.2 toasts parse markup). */
void                     confab_window_add_toast         (ConfabWindow            *self,
                                                          const char              *text);

G_END_DECLS
