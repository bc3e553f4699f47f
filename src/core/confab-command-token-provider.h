/* confab-command-token-provider.h: a token printed by a command (a credential helper)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-token-provider.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_COMMAND_TOKEN_PROVIDER (confab_command_token_provider_get_type ())

G_DECLARE_FINAL_TYPE (ConfabCommandTokenProvider, confab_command_token_provider,
                      CONFAB, COMMAND_TOKEN_PROVIDER, GObject)

/* Runs @argv (no shell; argv[0] is looked up in PATH) with stdin from /dev/null and
 * stderr discarded; the token is its standard output, trimmed. It runs in a process
 * group of its own, and the whole group is killed at the deadline
 * (ConfabCommandTokenProvider:timeout-ms, 10 s by default).
 *
 * Errors, none of which quote the output: a non-zero exit, a signal, no output, output
 * that is not a single JWT, more than 16 KiB, or a command that cannot be run →
 * CONFAB_ERROR_AUTH; the deadline → CONFAB_ERROR_TIMEOUT. */
ConfabCommandTokenProvider *confab_command_token_provider_new (const char * const *argv);

guint confab_command_token_provider_get_timeout_ms (ConfabCommandTokenProvider *self);
void  confab_command_token_provider_set_timeout_ms (ConfabCommandTokenProvider *self,
                                                    guint                       timeout_ms);

G_END_DECLS
