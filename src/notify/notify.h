/*
 * notify.h - tells the platforms about permanent failures, by draining the
 * outbox with libcurl: several requests in flight, connection reuse, connect
 * and total timeouts, retries with exponential backoff and jitter. An item
 * leaves the outbox only with an outcome recorded.
 */
#ifndef BOUNCEDEMAILS_NOTIFY_H
#define BOUNCEDEMAILS_NOTIFY_H

#include <stddef.h>
#include <time.h>
#include "config.h"
#include "store/store.h"

typedef struct notify notify;

/* st is used only by the notifier (from its own thread once started). */
notify *notify_new(const config *cfg, store *st);
void notify_free(notify *n);

/* Attempts every notification due at now, and returns when each attempt has
 * an outcome recorded. *attempted: the number of attempts made. */
int notify_run_once(notify *n, time_t now, size_t *attempted);

/* The daemon's worker thread: attempts what is due, then sleeps until the
 * next item is due or notify_wake() is called. notify_stop() lets the
 * requests in flight finish, then joins. */
int notify_start(notify *n);
void notify_wake(notify *n);
void notify_stop(notify *n);

/* The URL template with {address} expanded as RFC 6570 simple expansion does
 * (everything but unreserved characters percent-encoded). Newly allocated. */
char *notify_expand_url(const char *url_template, const char *address);

#endif
