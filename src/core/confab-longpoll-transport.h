/* confab-longpoll-transport.h: Stream's /longpoll fallback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "confab-transport.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_LONGPOLL_TRANSPORT (confab_longpoll_transport_get_type ())

G_DECLARE_FINAL_TYPE (ConfabLongpollTransport, confab_longpoll_transport, CONFAB, LONGPOLL_TRANSPORT, ConfabTransport)

/* Stream holds an idle poll for about 20 s; a poll with no answer in 30 s is dead. */
#define CONFAB_LONGPOLL_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define CONFAB_LONGPOLL_DEFAULT_POLL_TIMEOUT_MS    30000

ConfabTransport *confab_longpoll_transport_new (void);

G_END_DECLS
