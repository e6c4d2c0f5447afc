/*
 * notify.h - tells the platforms about permanent failures, by draining the
 * outbox with libcurl: several requests in flight, connection reuse, connect
 * and total timeouts, retries with exponential backoff and jitter. An item
 * leaves the outbox only with an outcome recorded.
 *
 * Items are taken with store_outbox_claim(), so that the daemon and a
 * `bouncedemails stdin` never attempt one item together. Each attempt ends in
 * store_outbox_finish(): 2xx done; 404 and 410 done, the address unknown at
 * the platform; other 4xx given up; no answer, 5xx, 408 and 429 retried until
 * cfg->notify.max_attempts, then given up (a 429 or 503 with Retry-After
 * after the time it asks for, at most retry_max; the rest after the backoff). A final outcome is also written
 * with store_permanent_set_answer(): "200 / body", "unknown at platform:
 * 404 / body" or "given up: ...". Each answer is logged as the original did
 * ("Response:  200 / body"); retries and give-ups are warnings naming the
 * address and domain, never a header value or a URL.
 */
#ifndef BOUNCEDEMAILS_NOTIFY_H
#define BOUNCEDEMAILS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "config.h"
#include "store/store.h"

typedef struct notify notify;

/* st is used only by the notifier (from its own thread once started).
 * libcurl is loaded by the first request, or by notify_start(): a process
 * that notifies nobody never loads it. notify_free() stops a started worker
 * first. */
notify *notify_new(const config *cfg, store *st);
void notify_free(notify *n);

/* Attempts every notification due at now, and returns when each attempt has
 * an outcome recorded. *attempted: the number of attempts made. A request
 * that gets no answer at all (timeout, refused connection) ends the pass
 * early: what is in flight finishes, and what was not started yet stays due
 * for the daemon, so that a backlog costs one timeout, not one per batch.
 * Returns -1 when the outbox could not be read or libcurl could not be
 * loaded (what was attempted still has its outcome), else 0. */
int notify_run_once(notify *n, time_t now, size_t *attempted);

/* notify_run_once() for only the items that the notifier's store handle
 * remembers queueing (store_outbox_remember()): a `stdin` run attempts its
 * own notifications, never another run's or another platform's backlog. */
int notify_run_remembered(notify *n, time_t now, size_t *attempted);

/* The daemon's worker thread: attempts what is due, then sleeps until the
 * next item is due or notify_wake() is called. notify_stop() lets the
 * requests in flight finish, then joins. notify_wake() is cheap and may be
 * called from any thread, e.g. right after a commit that queued an item. */
int notify_start(notify *n);   /* -1: libcurl cannot be loaded, or no thread */
void notify_wake(notify *n);
void notify_stop(notify *n);

/* The URL template with {address} expanded as RFC 6570 simple expansion does
 * (everything but unreserved characters percent-encoded, each UTF-8 byte on
 * its own). Every {address} in the template is expanded. Newly allocated:
 * free with g_free() (or free()). */
char *notify_expand_url(const char *url_template, const char *address);

/* What an attempt's answer means for the outbox item. */
typedef enum notify_outcome {
    NOTIFY_DONE = 0,   /* 2xx: the platform suspended the address */
    NOTIFY_UNKNOWN,    /* 404, 410: done, the platform does not know the address */
    NOTIFY_GIVE_UP,    /* other 4xx (and 1xx, 3xx): asking again cannot help */
    NOTIFY_RETRY,      /* 5xx, 408, 429, or no answer at all */
} notify_outcome;

/* The outcome of an HTTP status code; 0 (no answer) is NOTIFY_RETRY. */
notify_outcome notify_outcome_of_status(long status);

/* Seconds to wait after the attempt-th failed attempt (1 = the first):
 * retry_initial_s doubled per attempt, capped at retry_max_s, minus up to
 * half of that as jitter: jitter in [0, 1) picks within [ceil(base/2), base]. */
long notify_backoff_s(const config_notify *cn, int attempt, double jitter);

/* Seconds to wait after the attempt-th failed attempt: the platform's
 * Retry-After (retry_after > 0, in seconds) capped at retry_max_s, else
 * notify_backoff_s(). */
long notify_retry_delay_s(const config_notify *cn, int attempt, long retry_after, double jitter);

/* A claimed notification may wait in memory for its platform's turn up to
 * NOTIFY_HOLD_S; its claim (lease) lasts long enough for that wait, a
 * request (a xikolo resolve and the POST, each up to the timeout) and a
 * margin, so that no other process takes it while it is in hand. */
#define NOTIFY_HOLD_S 60
long notify_lease_s(const config_notify *cn);
/* Whether a notification claimed at claimed may still start at now: one
 * held for longer would outlast its lease, and goes back to the outbox
 * unattempted instead (due again when the lease ends). */
bool notify_may_start(time_t claimed, time_t now);

#endif
