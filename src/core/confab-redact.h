/* confab-redact.h: keep tokens, keys and personal data out of logs and reports
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What a removed value is replaced with. */
#define CONFAB_REDACTED  "[redacted]"
#define CONFAB_REDACTED_EMAIL  "[email]"
#define CONFAB_REDACTED_NAME  "[name]"
/* What confab_redact_url() returns for anything it cannot read as a URL. */
#define CONFAB_REDACTED_INVALID_URL  "[invalid url]"

/* Terms (see confab_redact_terms()) at least this many bytes long are replaced wherever
 * they occur; shorter ones only as whole words, so a two-letter name or a short key
 * cannot shred the text around it. */
#define CONFAB_REDACT_SUBSTRING_MIN  6

/* @url with its userinfo removed and the values of sensitive query (and fragment)
 * parameters replaced by "[redacted]": authorization, api_key, apikey, key, secret,
 * api_secret, client_secret, token, access_token, refresh_token, id_token, user_token,
 * json (it carries the user's details), payload, user_id, email, password, code,
 * code_verifier, signature, sig. Names match case-insensitively after percent-decoding
 * ("api%5Fkey"), every repetition is redacted, empty values stay empty (an empty
 * `authorization` says "anonymous", which support needs to see). connection_id stays:
 * it is not secret. JWT- and email-shaped text anywhere else in the URL is redacted
 * as confab_redact_text() does. NULL, empty, invalid UTF-8, control characters, a
 * malformed URL, or a reference that is neither absolute (scheme and host) nor a
 * path from the root give "[invalid url]", never a part of the input.
 * Returns: (transfer full) (not nullable) */
char    *confab_redact_url            (const char        *url);

/* @text (NULL gives NULL) made valid UTF-8 (bad bytes become U+FFFD), then with every
 * occurrence of each of @secrets (NULL-terminated, may be NULL; empty strings are
 * ignored; matched as by confab_redact_terms()), anything JWT-shaped (a header starting
 * "eyJ", three base64url parts joined by dots) and the values of sensitive
 * `name=value` / `"name": value` / `Authorization: Bearer …` pairs replaced by
 * "[redacted]", and email addresses (also with a percent-encoded "@") by "[email]".
 * Returns: (transfer full) (nullable) */
char    *confab_redact_text           (const char        *text,
                                       const char *const *secrets);

/* confab_redact_text() (NULL gives NULL) on one line, for a single field of a log or a
 * report: control characters (newlines included) become spaces, and text longer than
 * @max_chars characters (0: no limit) is cut at the last space before the limit,
 * ending in "…", so a word (a secret the caller did not know of) is never cut in half.
 * Returns: (transfer full) (nullable) */
char    *confab_redact_line           (const char        *text,
                                       const char *const *secrets,
                                       gsize              max_chars);

/* @text (NULL gives NULL) with each key of @terms (const char * → const char *
 * replacement) replaced in one left-to-right pass, the longest term winning at any
 * position, so a replacement is never itself rewritten. Matching ignores ASCII case;
 * terms of CONFAB_REDACT_SUBSTRING_MIN bytes or more match anywhere, shorter ones only
 * between word boundaries (a percent-escape such as "%22" counts as a boundary).
 * Empty terms are ignored. @text is made valid UTF-8 first.
 * Returns: (transfer full) (nullable) */
char    *confab_redact_terms          (const char        *text,
                                       GHashTable        *terms);

/* "u_" + the first 12 hex digits of HMAC-SHA256 keyed with @salt over @id: stable for
 * one install (one salt), not reversible without the salt, never containing @id.
 * Returns: (transfer full) */
char    *confab_hash_id               (const char        *id,
                                       const char        *salt);

/* A new salt for confab_hash_id(): 32 hex digits from the system's random source.
 * Keep it per install and never put it in a report.
 * Returns: (transfer full) */
char    *confab_diagnostics_new_salt  (void);

G_END_DECLS
