/*
 * smtp.h - the SMTP listener (libevent): an ESMTP server that takes bounces
 * and answers 250 after DATA only once the message is committed (451 4.3.0
 * when the store fails, so the sender retries).
 *
 * - Group commit: the messages that arrive while the commit thread is busy
 *   are committed together with policy_handle_batch(), so batches grow with
 *   the load.
 * - Every recipient is taken from an allowed client (the listener relays
 *   nothing), or those at smtp.recipient_domains (others: 550 5.1.1). A
 *   recipient at a platform domain decides the platform: a message with
 *   recipients at several is handed to the policy once per domain, with that
 *   domain's first recipient; with none at a platform domain it is handed
 *   once, and the policy routes it by its headers.
 * - Return-Path: and Received: (helo, client address, "for <rcpt>", date)
 *   are prepended; data is dot-unstuffed and ends only at <CRLF>.<CRLF>.
 *   Data lines may be longer than RFC 5322's 998 bytes (a bounce quoting a
 *   broken message is not lost); only the message size limits them.
 *   Command lines over smtp.max_line_length get 500 5.5.2.
 * - Clients outside smtp.allow_networks get 554 5.7.1, clients beyond
 *   smtp.max_connections (once no session idle for a second is left to
 *   close) or max_connections_per_client 421 4.7.0; both are closed at once.
 *   Messages in memory count against smtp.max_memory (452 4.3.1 beyond it).
 */
#ifndef BOUNCEDEMAILS_SMTP_H
#define BOUNCEDEMAILS_SMTP_H

#include <stddef.h>
#include <event2/event.h>
#include "config.h"
#include "policy/policy.h"

typedef struct smtp_server smtp_server;

/* Listens on cfg->smtp.host:port on base. Handled messages go through p,
 * which from now on is used only by the listener's own commit thread (so a
 * slow or locked store never holds up the event loop; p's commit hook is
 * called from that thread). NULL with a reason in err on failure. */
smtp_server *smtp_server_new(struct event_base *base, const config *cfg, policy *p,
                             char *err, size_t err_len);
/* Stops accepting, closes every session. */
void smtp_server_free(smtp_server *srv);

#endif
