/* confab-impair-http.h: just enough HTTP/1.1 to find heads, upgrades and body ends
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_IMPAIR_HTTP_MAX_HEAD (64 * 1024)

typedef struct
{
  gboolean   is_request;
  char      *method;       /* requests */
  char      *target;
  int        status;       /* responses */
  GPtrArray *names;        /* char *, as sent */
  GPtrArray *values;       /* char *, trimmed */
} ConfabImpairHttpHead;

/* The offset just past the blank line ending a head in @data, or -1 if not there yet. */
gssize                confab_impair_http_find_head_end (const guint8         *data,
                                                        gsize                 len);
/* Whether @data starts like an HTTP/1.1 request line (a known method and a space; a
 * prefix of one counts, as the rest may be on its way). */
gboolean              confab_impair_http_looks_like_request (const guint8  *data,
                                                             gsize          len);
/* Parses a head (the bytes up to and including the blank line); NULL if malformed. */
ConfabImpairHttpHead *confab_impair_http_head_parse    (const guint8         *data,
                                                        gsize                 len,
                                                        gboolean              is_request);
void                  confab_impair_http_head_free     (ConfabImpairHttpHead *head);
/* The first value of a header, case-insensitively, or NULL. */
const char           *confab_impair_http_head_get      (ConfabImpairHttpHead *head,
                                                        const char           *name);
/* Whether a comma-separated header holds @token (case-insensitive). */
gboolean              confab_impair_http_head_has_token (ConfabImpairHttpHead *head,
                                                        const char           *name,
                                                        const char           *token);
gboolean              confab_impair_http_head_is_websocket (ConfabImpairHttpHead *head);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabImpairHttpHead, confab_impair_http_head_free)

/* Finds where a message body ends, fed the bytes after the head as they come. */
typedef enum {
  CONFAB_IMPAIR_BODY_NONE,          /* no body: done at once */
  CONFAB_IMPAIR_BODY_LENGTH,        /* Content-Length */
  CONFAB_IMPAIR_BODY_CHUNKED,
  CONFAB_IMPAIR_BODY_UNTIL_CLOSE,   /* a response without a length */
} ConfabImpairBodyKind;

typedef struct
{
  ConfabImpairBodyKind kind;
  guint64              remaining;   /* LENGTH, or the current chunk's data left */
  int                  state;       /* chunked: private */
  gsize                line_len;    /* chunked: bytes of the current line */
  char                 line[128];   /* chunked: the current size line */
  guint64              chunk_size;
  gboolean             done;
} ConfabImpairBodyFramer;

/* Sets @framer up for the body following @head; @request_method is the method of the
 * request a response answers (HEAD responses have no body). FALSE if the framing
 * headers are malformed. */
gboolean confab_impair_body_framer_init    (ConfabImpairBodyFramer *framer,
                                            ConfabImpairHttpHead   *head,
                                            const char             *request_method);
/* Consumes body bytes from @data; returns how many belong to the body (framer->done is
 * set when the body ended). -1 on a malformed chunked body. */
gssize   confab_impair_body_framer_consume (ConfabImpairBodyFramer *framer,
                                            const guint8           *data,
                                            gsize                   len);

G_END_DECLS
