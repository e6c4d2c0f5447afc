/*
 * policy_internal.h - what policy.c and route.c share; not an interface for
 * other modules (theirs is policy.h).
 */
#ifndef BOUNCEDEMAILS_POLICY_INTERNAL_H
#define BOUNCEDEMAILS_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "classify/classify.h"
#include "config.h"
#include "policy/policy.h"
#include "policy/verp.h"

/* One message on its way through the policy. */
typedef struct policy_job {
    const char *raw;               /* without a leading mbox "From " line */
    size_t len;
    const policy_envelope *env;
    size_t trace_len;              /* the ingress's own trace at the start of raw */
    time_t now;
    bool dry_run;                  /* write no files (replay --dry-run) */
    const char *quarantine_as;     /* quarantine with this reason, unread (policy_quarantine) */
    char fingerprint[65];          /* SHA-256 of the raw bytes, hex; "" until computed */
    classify_report *report;
    const config_domain *domain;   /* the platform, or NULL */
    char *route_address;           /* the no-reply address that decided it (g_free) */
    char *verp;                    /* the recipient that address carries, or NULL (g_free) */
    verp_signature verp_signed;    /* whether that address is signed (verp.h) */
    bool routed;                   /* policy_route() has run (ahead, on a pool thread) */
    char *quarantine;              /* why it is quarantined (g_free) */
    int queued;                    /* notifications queued */
    policy_archive_copy *archived; /* the message's archive copy, or NULL */
} policy_job;

/* Fills job->domain, job->route_address, job->verp and job->verp_signed
 * (checked against handler.verp_secret at job->now) from the envelope and
 * the report: the first candidate address at a configured domain wins, in
 * the order envelope recipient, X-Original-To, Delivered-To, To, the
 * classifier's platform address, the original message's sender. When none
 * matches, route_address is the first candidate seen (for the quarantine
 * reason) and domain stays NULL. */
void policy_route(const config *cfg, policy_job *job);

/* The address the platform mailed when rcpt failed at a forward the report
 * does not name (no Original-Recipient, no "expanded from"): the enclosed
 * original's one To: mailbox, a valid one, when that original came from the routed
 * no-reply address or a VERP of it and no recipient of the report is that
 * address already. Else NULL. Borrowed from the report. */
const char *policy_route_forwarded(const config *cfg, const policy_job *job, const classify_recipient *rcpt);

/* The recipient a VERP address carries ("no-reply+user=example.com@x" with
 * delimiter "+" and at_sign "=": "user@example.com"), lower case, or NULL
 * (g_free). The first delimiter starts the recipient (its own local part may
 * hold another), the last at_sign stands for its @. */
char *policy_route_verp(const char *address, const char *delimiter, const char *at_sign);

/* The first mailbox's address in a header value, or NULL (g_free). */
char *policy_route_mailbox(const char *header);

/* A From header as the original logged it: "address (Display Name)", or
 * NULL (g_free). */
char *policy_route_display(const char *header);

policy_outcome policy_job_run(policy *p, policy_job *job, bool check_duplicate);

/* store_quarantine_add() of what the quarantine keeps of raw: all of it up
 * to retention.quarantine_max_bytes, else its header and a hash, logged
 * (quarantine.c). */
int policy_quarantine_add(store *st, const config *cfg, const char *raw, size_t len,
                          const char *envelope_recipient, const char *ingress, const char *reason,
                          time_t when);

/* Threads kept to run a function over a batch's indices on every CPU
 * (pool.c): policy_pool_run() calls fn(arg, i) once for each i < n, from
 * any of the threads and the caller, and returns when all calls have. */
typedef struct policy_pool policy_pool;
policy_pool *policy_pool_new(void);
void policy_pool_run(policy_pool *pool, size_t n, void (*fn)(void *arg, size_t i), void *arg);
void policy_pool_free(policy_pool *pool);

#endif
