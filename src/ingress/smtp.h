/*
 * smtp.h - the SMTP listener (libevent): an ESMTP server that takes bounces
 * for the configured platform domains and answers 250 after DATA only once
 * the message is committed.
 */
#ifndef BOUNCEDEMAILS_SMTP_H
#define BOUNCEDEMAILS_SMTP_H

#include <stddef.h>
#include <event2/event.h>
#include "config.h"
#include "policy/policy.h"

typedef struct smtp_server smtp_server;

/* Listens on cfg->smtp.host:port on base; handled messages go through p
 * (used only from base's thread). NULL with a reason in err on failure. */
smtp_server *smtp_server_new(struct event_base *base, const config *cfg, policy *p,
                             char *err, size_t err_len);
/* Stops accepting, closes every session. */
void smtp_server_free(smtp_server *srv);

#endif
