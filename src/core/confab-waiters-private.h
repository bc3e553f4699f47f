/* confab-waiters-private.h: callers waiting for one outcome, each free to stop waiting
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* For the core's own use (the connection manager's connect_async() callers): a list of
 * GTasks resolved together. A task whose cancellable is cancelled leaves the list alone
 * (from an idle in its own context, never in the cancelling thread) and returns
 * G_IO_ERROR_CANCELLED; the others go on waiting. Each task must hold a reference on
 * the object that owns the list (its source object), so the list outlives it. */
typedef struct _ConfabWaiters ConfabWaiters;

ConfabWaiters *_confab_waiters_new     (void);
/* Returns the tasks still waiting with G_IO_ERROR_CANCELLED, then frees the list. */
void           _confab_waiters_free    (ConfabWaiters *self);
/* Takes @task (transfer full). */
void           _confab_waiters_add     (ConfabWaiters *self,
                                        GTask         *task);
/* Ends every wait: TRUE when @error is NULL, else a copy of @error. Tasks added by the
 * callbacks wait for the next call. */
void           _confab_waiters_resolve (ConfabWaiters *self,
                                        const GError  *error);
guint          _confab_waiters_get_n   (ConfabWaiters *self);

G_END_DECLS
