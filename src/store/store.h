/*
 * store.h - the durable state, behind one interface with two backends:
 * SQLite (store_sqlite.c, one machine) and PostgreSQL (store_pg.c, several
 * processes on several machines sharing one database). Every function
 * returns 0 on success and -1 on failure, with the reason in store_errmsg().
 * A store handle belongs to one thread at a time; each thread opens its own.
 *
 * Tables: soft-bounce counters per (address, domain); permanent bounces; the
 * event log (one row per recipient verdict, the audit trail); the outbox of
 * platform notifications; fingerprints of processed messages; the quarantine
 * of messages that could not be parsed or routed. The schema carries a
 * version number and is created and migrated by store_open().
 *
 * Addresses and domains are compared without regard to ASCII case, so
 * "Foo@Example.org" and "foo@example.org" share one counter. Times are Unix
 * seconds. Several processes may use one database at once (the daemon,
 * `bouncedemails stdin` from Postfix, the admin commands): a write waits for
 * another's lock up to a timeout (SQLite's busy timeout at store_begin(),
 * PostgreSQL's lock_timeout at each statement), so a failure there means the
 * store is unavailable for now (EX_TEMPFAIL).
 */
#ifndef BOUNCEDEMAILS_STORE_H
#define BOUNCEDEMAILS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "config.h"

typedef struct store store;

/* Opens the backend that cfg->store.backend names ("sqlite" when unset; the
 * SQLite file is cfg->handler.dbfile, its folder created when missing), and
 * creates or migrates the schema. NULL with the reason in err on failure. */
store *store_open(const config *cfg, char *err, size_t err_len);
void store_close(store *st);
const char *store_errmsg(const store *st);
/* Whether the last failure is one that no retry can fix, because the store
 * refused the data itself (a constraint, a value or index row too large),
 * as opposed to the store being unavailable (a lock, a lost connection, a
 * full disk). The caller quarantines such a message instead of asking for
 * it again. */
bool store_error_permanent(const store *st);

/* Everything one message (or one batch of messages) causes is written between
 * begin and commit. store_rollback() outside a transaction does nothing, so
 * error paths may always call it. */
int store_begin(store *st);
int store_commit(store *st);
int store_rollback(store *st);
/* A savepoint inside a transaction, so that one message of a batch can be
 * undone without the others. Savepoints nest; release and rollback act on the
 * innermost, and both end it. */
int store_savepoint(store *st);
int store_savepoint_release(store *st);
int store_savepoint_rollback(store *st);

/* Records a message fingerprint. *seen is set to 1 when it was already
 * recorded (the message was processed before), else 0. */
int store_message_seen(store *st, const char *fingerprint, time_t now, int *seen);

/* Adds one soft bounce for (address, domain) and returns the new count in
 * *count. A counter whose last bounce is more than window_s before now starts
 * again at one (window_s <= 0: counters never expire). */
int store_soft_increment(store *st, const char *address, const char *domain,
                         time_t now, long window_s, int *count);
/* Removes the counter for (address, domain); domain NULL: for every domain. */
int store_soft_reset(store *st, const char *address, const char *domain);

typedef struct store_permanent {
    const char *address;
    const char *domain;
    const char *reason;
    const char *status;       /* DSN status or "" */
    time_t when;
} store_permanent;

/* Records (or refreshes: reason, status and time are replaced, the platform's
 * last answer is kept) a permanent bounce. */
int store_permanent_add(store *st, const store_permanent *p);
/* Lifts a suppression; domain NULL: for every domain. *removed: rows removed. */
int store_permanent_remove(store *st, const char *address, const char *domain, int *removed);

typedef struct store_event {
    const char *message_id;   /* fingerprint of the message */
    const char *address;
    const char *domain;       /* or NULL when unrouted */
    const char *verdict;      /* permanent, temporary, complaint, ignore, escalated */
    const char *reason;
    const char *status;
    const char *diagnostic;
    const char *ingress;      /* stdin, amqp, smtp, replay */
    time_t when;
    const char *final;        /* where a forwarded recipient failed, or NULL */
} store_event;

int store_event_add(store *st, const store_event *ev);

/* ---- outbox ---- */

typedef enum store_outbox_state {
    STORE_OUTBOX_PENDING = 0,
    STORE_OUTBOX_DONE,
    STORE_OUTBOX_GIVEN_UP,
} store_outbox_state;

typedef struct store_outbox_item {
    int64_t id;
    char *address;
    char *domain;
    char *reason;
    char *status;
    char *diagnostic;
    time_t created;
    time_t next_attempt;
    int attempts;
    store_outbox_state state;
    char *last_result;        /* "200 / body", "timeout", ... or NULL */
    int64_t claims;           /* claims taken of it so far: its claim's own number */
} store_outbox_item;

/* Queues a notification for (address, domain), due at now. At most one item
 * per pair is open (pending or given up):
 *  - one pending already: nothing changes (it keeps its reason and backoff);
 *  - one given up: it is revived with the new reason, status and diagnostic,
 *    pending and due now, attempts back at zero (last_result kept);
 *  - else a new pending item. Done items are history and never block. */
int store_outbox_add(store *st, const char *address, const char *domain, const char *reason,
                     const char *status, const char *diagnostic, time_t now);
/* Up to max pending items due at now, oldest first. Free with store_outbox_free(). */
int store_outbox_due(store *st, time_t now, size_t max, store_outbox_item **items, size_t *n);
/* Like store_outbox_due(), but moves each item's next_attempt to now +
 * lease_s in the same statement, so that another process (the daemon and a
 * `bouncedemails stdin` both draining) does not attempt it at the same time.
 * store_outbox_finish() sets the real outcome; an item whose attempt never
 * finished (a crash) comes due again when the lease ends. The items come
 * back oldest first, with next_attempt already at the lease's end. */
int store_outbox_claim(store *st, time_t now, long lease_s, size_t max,
                       store_outbox_item **items, size_t *n);
/* Pending and given-up items, pending first, each oldest first (for
 * `bouncedemails outbox`). */
int store_outbox_list(store *st, store_outbox_item **items, size_t *n);
void store_outbox_free(store_outbox_item *items, size_t n);
/* The outcome of one attempt at item, as claimed: done, given up, or retry
 * at next_attempt (state STORE_OUTBOX_PENDING). Counts the attempt and
 * records result. An item that is gone is an error, and so is one whose id
 * now names another notification: SQLite gives the id of the newest row to
 * the next one once that row is deleted (reset-address removes open items,
 * also one whose request is in flight). So is one claimed again since
 * (claims counts every claim): its lease ended while the request was in
 * flight (a process stopped, a store that refused the outcome for that
 * long), another process claimed it, and only the later claim's outcome
 * is recorded, whichever comes first, so that a late failure does not
 * bring back a notification already done, nor settle one given up and
 * revived meanwhile. */
int store_outbox_finish(store *st, const store_outbox_item *item, store_outbox_state state, time_t next_attempt,
                        const char *result);
/* Records what the platform answered to the notification item (as
 * claimed) on its suppression; before store_outbox_finish() of it.
 * Nothing happens when the suppression was lifted meanwhile, nor when the
 * item was claimed again since (see store_outbox_finish()): the later
 * claim's answer stands. */
int store_permanent_set_answer(store *st, const store_outbox_item *item, const char *answer);
/* Moves every given-up item back to pending, due now, with attempts back at
 * zero (so that the notifier's max_attempts counts afresh). *count: items
 * moved. */
int store_outbox_retry_given_up(store *st, time_t now, int *count);
/* Removes the open (pending or given-up) items for address in domain, or in
 * every domain when domain is NULL, so that a lifted suppression is not sent
 * after all (reset-address). *count: items removed. */
int store_outbox_cancel(store *st, const char *address, const char *domain, int *count);
/* Moves every pending item of domain due before until (claimed ones
 * included) to until, without counting an attempt: the notifier's answer
 * to a platform that does not answer, so that its backlog waits instead of
 * taking every request slot from the other platforms. *count: items moved. */
int store_outbox_defer_domain(store *st, const char *domain, time_t until, int *count);
/* Earliest next_attempt among pending items; *any = 0 when none. */
int store_outbox_next_due(store *st, time_t *when, int *any);
/* From now on the handle remembers the (address, domain) of every
 * store_outbox_add(), so that a `stdin` run attempts what it queued and
 * nothing of other runs' backlog. */
void store_outbox_remember(store *st);
/* store_outbox_claim() restricted to what the handle remembers, which it
 * then forgets: the items still pending and due (one queued before and
 * waiting out its backoff is not). Free with store_outbox_free(). */
int store_outbox_claim_remembered(store *st, time_t now, long lease_s, store_outbox_item **items, size_t *n);
/* How many store_outbox_add() calls the handle remembers. */
size_t store_outbox_remembered(const store *st);

/* ---- quarantine ---- */

typedef struct store_quarantine_item {
    int64_t id;
    char *reason;
    char *envelope_recipient; /* or NULL */
    char *ingress;
    time_t when;
    char *raw;                /* NUL-terminated beyond raw_len; NULL unless with_raw */
    size_t raw_len;           /* filled with or without raw */
} store_quarantine_item;

int store_quarantine_add(store *st, const char *raw, size_t raw_len, const char *envelope_recipient,
                         const char *ingress, const char *reason, time_t now);
/* Keeps a message that is no bounce (a person's reply or spam to the
 * no-reply address) for handler's retention.notbounce_days: a row of the
 * quarantine table with kind 'notbounce', which the quarantine's list,
 * count, remove and replay never see. Pruning deletes the rows
 * "kind = 'notbounce' AND at < cutoff". */
int store_notbounce_add(store *st, const char *raw, size_t raw_len, const char *envelope_recipient,
                        const char *ingress, time_t now);
/* All quarantined messages, oldest first. raw is filled only when with_raw. */
int store_quarantine_list(store *st, int with_raw, store_quarantine_item **items, size_t *n);
int store_quarantine_remove(store *st, int64_t id);
void store_quarantine_free(store_quarantine_item *items, size_t n);

/* ---- admin ---- */

typedef struct store_address_info {
    char *domain;
    int soft_count;           /* 0 when none */
    time_t soft_first, soft_last;
    int permanent;            /* 1 when suppressed */
    char *permanent_reason;
    char *permanent_status;
    time_t permanent_when;
    char *platform_answer;
} store_address_info;

/* What is known about address, one entry per domain it has a counter or a
 * suppression for, ordered by domain. */
int store_find_address(store *st, const char *address, store_address_info **info, size_t *n);
void store_address_info_free(store_address_info *info, size_t n);

typedef struct store_domain_stats {
    char *domain;
    long soft_addresses;      /* counters in the window (last bounce within window_s of now) */
    long permanent;
    long complaints;          /* events with verdict "complaint" */
    long events;
    long outbox_pending;
    long outbox_given_up;
} store_domain_stats;

/* One entry per domain found in any table, ordered by domain; *quarantined:
 * messages in the quarantine. window_s as for store_soft_increment(). */
int store_stats(store *st, time_t now, long window_s, store_domain_stats **stats, size_t *n,
                long *quarantined);
void store_stats_free(store_domain_stats *stats, size_t n);

/* ---- gauges, for the metrics ---- */

typedef struct store_outbox_gauge {
    char *domain;
    long pending;
    long given_up;
    time_t oldest_pending;    /* creation of the oldest pending item, 0 when none */
} store_outbox_gauge;

/* Open outbox items per domain, ordered by domain. Cheap: reads only the
 * open items, never the event log. */
int store_outbox_gauges(store *st, store_outbox_gauge **gauges, size_t *n);
void store_outbox_gauges_free(store_outbox_gauge *gauges, size_t n);

typedef struct store_quarantine_size {
    long messages;
    long long bytes;          /* of the kept messages */
} store_quarantine_size;

int store_quarantine_size_get(store *st, store_quarantine_size *size);
/* ---- switch-over and operations ---- */

/* Every address with a counter or a suppression whose spelling contains part
 * (without regard to ASCII case), sorted, at most max. Free with
 * store_strings_free(). */
int store_match_addresses(store *st, const char *part, size_t max, char ***addresses, size_t *n);
void store_strings_free(char **strings, size_t n);

/* Brings in a counter or a suppression from another system (import-original)
 * unless (address, domain) has one already: what this store knows wins, so
 * that importing twice changes nothing. *added: 1 when a row was written. */
int store_import_soft(store *st, const char *address, const char *domain, int count,
                      time_t first, time_t last, int *added);
int store_import_permanent(store *st, const store_permanent *p, const char *answer, int *added);

/* One quarantined message, raw included, by id; the quarantine is read one
 * message at a time (replay) so that memory holds one, not all. *found = 0
 * when no message has the id. Free with store_quarantine_free(item, 1). */
int store_quarantine_get(store *st, int64_t id, store_quarantine_item **item, int *found);

/* ---- history: the event log of one address ---- */

typedef struct store_history_item {
    time_t when;
    char *address;            /* as the event spelt it */
    char *domain, *verdict, *reason, *status, *diagnostic, *ingress, *message_id;
    /* The notification that the event queued (permanent, escalated,
     * complaint): the latest outbox item of (address, domain) created by then.
     * notify_state -1 when there is none (not one of those verdicts, or
     * cancelled by reset-address). */
    int notify_state;         /* store_outbox_state */
    int notify_attempts;
    char *notify_result;      /* last answer, or NULL */
    char *final;              /* where a forwarded recipient failed, or NULL */
} store_history_item;

/* Every event of address (in domain, or every domain when NULL), oldest
 * first. Free with store_history_free(). */
int store_history(store *st, const char *address, const char *domain, store_history_item **items,
                  size_t *n);
void store_history_free(store_history_item *items, size_t n);

/* ---- retention ---- */

typedef enum store_purge_kind {
    STORE_PURGE_FINGERPRINTS = 0,   /* message_seen */
    STORE_PURGE_EVENTS,             /* the event log */
    STORE_PURGE_QUARANTINE,         /* quarantined messages */
    STORE_PURGE_NOTBOUNCES,         /* kept non-bounces: quarantine rows of kind 'notbounce' */
    STORE_PURGE_KIND_COUNT
} store_purge_kind;

/* Removes up to batch rows of kind older than before (one statement: the
 * caller keeps each transaction short), or with dry_run counts all of them.
 * *count: rows removed or counted. A store without the rows of a kind (no
 * quarantine kind column) counts 0. */
int store_purge(store *st, store_purge_kind kind, time_t before, long batch, int dry_run,
                long *count);

#endif
