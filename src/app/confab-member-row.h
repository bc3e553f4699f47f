/* confab-member-row.h: a channel member in the members popover: name and presence
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "confab-chat-user.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_MEMBER_ROW (confab_member_row_get_type ())

G_DECLARE_FINAL_TYPE (ConfabMemberRow, confab_member_row, CONFAB, MEMBER_ROW, AdwBin)

/* Property: user (ConfabChatUser; followed live). Presence is a dot and a word. */
GtkWidget      *confab_member_row_new      (void);

ConfabChatUser *confab_member_row_get_user (ConfabMemberRow *self);
void            confab_member_row_set_user (ConfabMemberRow *self,
                                            ConfabChatUser  *user);

G_END_DECLS
