/* confab-composer.h: where a message is written: Enter sends, Shift+Enter adds a line
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_COMPOSER (confab_composer_get_type ())

G_DECLARE_FINAL_TYPE (ConfabComposer, confab_composer, CONFAB, COMPOSER, AdwBin)

/* Properties: empty (read-only: nothing but white space written).
 *
 * Signals: ::send (const char *text) when the user sends (Enter, or the Send button)
 * non-empty text; the handler clears the composer once the message is queued.
 * ::typing () when the user changes the text (the view turns it into typing events). */
GtkWidget   *confab_composer_new           (void);

/* The text as written (transfer full). */
char        *confab_composer_dup_text      (ConfabComposer *self);
void         confab_composer_set_text      (ConfabComposer *self,
                                            const char     *text);
void         confab_composer_clear         (ConfabComposer *self);
gboolean     confab_composer_get_empty     (ConfabComposer *self);
/* What Enter does: emits ::send with the text, unless it is empty. Returns whether it did. */
gboolean     confab_composer_submit        (ConfabComposer *self);
GtkTextView *confab_composer_get_text_view (ConfabComposer *self);

G_END_DECLS
