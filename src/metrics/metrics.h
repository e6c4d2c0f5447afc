/*
 * metrics.h - what the daemon tells a monitoring system: Prometheus
 * counters, gauges and histograms, and the HTTP endpoint (libevent's evhttp)
 * that serves them with /healthz and /readyz.
 *
 * Counters live in the process and are bumped with relaxed atomic adds from
 * any thread. Their labels are bounded: platform domains are those of the
 * config (anything else counts as "other"), every other label is a fixed
 * enum. Until metrics_init() is called every update is a no-op, so the
 * commands that export nothing (stdin, classify) pay nothing.
 *
 * What a transaction causes (recipients, escalations) is staged per thread
 * and counted only when the transaction commits: metrics_commit() after a
 * commit, metrics_discard() before a new transaction, metrics_mark() and
 * metrics_rewind() around a savepoint that may be rolled back.
 *
 * Gauges that describe shared state (the outbox, the quarantine) are read
 * from the store by the endpoint's own thread and cached for
 * METRICS_STORE_CACHE_S seconds, so that several daemons on one PostgreSQL
 * report the same values.
 */
#ifndef BOUNCEDEMAILS_METRICS_H
#define BOUNCEDEMAILS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>
#include "classify/classify.h"
#include "config.h"
#include "store/store.h"

#define METRICS_STORE_CACHE_S 5
#define METRICS_STALL_S 60

typedef enum metrics_outcome {
    METRICS_OUTCOME_HANDLED,
    METRICS_OUTCOME_DUPLICATE,
    METRICS_OUTCOME_QUARANTINED,
    METRICS_OUTCOME_NOTBOUNCE,
    METRICS_OUTCOME_FAILED,
    METRICS_OUTCOME_COUNT
} metrics_outcome;

typedef enum metrics_smtp_result {
    METRICS_SMTP_ACCEPTED,    /* served */
    METRICS_SMTP_DENIED,      /* outside smtp.allow_networks: 554 */
    METRICS_SMTP_BUSY,        /* beyond the connection limits: 421 */
    METRICS_SMTP_RESULT_COUNT
} metrics_smtp_result;

/* The parts whose state /readyz reports. */
typedef enum metrics_part {
    METRICS_PART_STORE,
    METRICS_PART_AMQP,
    METRICS_PART_SMTP,
    METRICS_PART_COUNT
} metrics_part;

/* Sets up the counters for cfg's domains. Once, before any thread that
 * updates them starts; cfg must outlive every later call. 0 or -1. */
int metrics_init(const config *cfg);

/* ---- updates (any thread) ---- */

/* A message taken in by ingress ("amqp", "smtp", "stdin", "replay", "ingest";
 * anything else counts as "other"), its outcome, and the seconds from its
 * receipt to its commit. */
void metrics_message(const char *ingress, metrics_outcome outcome, double seconds);

/* Staged: a recipient verdict ("permanent", "temporary", "complaint",
 * "ignore", "escalated", "unverified") for domain (NULL: unrouted).
 * "escalated" also counts an escalation of the domain. */
void metrics_recipient(const char *domain, const char *verdict, classify_reason reason);
size_t metrics_mark(void);
void metrics_rewind(size_t mark);
void metrics_commit(void);
void metrics_discard(void);

/* A notification attempt's outcome as the outbox records it: pending again
 * is "retried", STORE_OUTBOX_DONE is "delivered" (or "unknown" when the
 * platform did not know the address). */
void metrics_notification(const char *domain, store_outbox_state state, bool unknown_at_platform);
/* Seconds the platform took to answer a notification. */
void metrics_platform_answer(const char *domain, double seconds);
/* The notifier found the platform not answering at all and left it alone
 * for a backoff (notify.c, notify_platform_down). */
void metrics_platform_down(const char *domain);

void metrics_amqp_connected(bool connected);
void metrics_amqp_unacked(long n);
void metrics_amqp_reconnect(void);
/* A redelivered message was quarantined unread: processes kept dying while
 * handling it (amqp_ingress.c's crash guard). */
void metrics_amqp_set_aside(void);
void metrics_smtp_session(metrics_smtp_result result);
void metrics_smtp_open(int delta);

/* The notifier's worker calls this each time round its loop; /healthz
 * fails when it has not for a while. */
void metrics_notifier_beat(void);

/* Whether a part is working, for /readyz, with a reason when it is not
 * (copied). Parts never set are not required. */
void metrics_set_ready(metrics_part part, bool ready, const char *why);

/* Whether every part that was set is ready; when not, the first reason in
 * why ("amqp: ..."). */
bool metrics_ready(char *why, size_t why_len);
/* Whether the notifier made progress within METRICS_STALL_S (true when it
 * never started). */
bool metrics_healthy(char *why, size_t why_len);
/* The same as of now, a metrics_clock() time: metrics_healthy() asks it for
 * the present, so that the stall limit can be checked at any instant. */
bool metrics_healthy_at(double now, char *why, size_t why_len);

/* Monotonic seconds, for the durations above. */
double metrics_clock(void);

/* ---- the endpoint ---- */

typedef struct metrics_server metrics_server;

/* Serves /metrics, /healthz and /readyz on cfg->metrics.listen on base,
 * reading the store's gauges with st from a thread of its own. st belongs
 * to the server from now on, also when it fails: NULL, the reason in err. */
metrics_server *metrics_server_new(struct event_base *base, const config *cfg, store *st,
                                   char *err, size_t err_len);
void metrics_server_free(metrics_server *srv);

/* The exposition text (format 0.0.4) of the process's metrics and of the
 * store's gauges (q NULL: the store could not be read, they are left out);
 * free with free(). */
char *metrics_render(const store_outbox_gauge *outbox, size_t n_outbox, const store_quarantine_size *q);

#endif
