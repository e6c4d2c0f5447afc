/*
 * policy.c - the one path every ingress feeds (stdin, AMQP, SMTP, replay).
 *
 * For one message: fingerprint it (a message delivered twice has its effects
 * once), classify it, route it to a platform by the no-reply address it was
 * sent to (route.c), then decide per recipient and write every effect and the
 * audit trail in the caller's transaction. What cannot be read or routed is
 * quarantined with its reason, never dropped. Log lines follow the original
 * service's format, so journald searches keep working.
 */
#include "policy/policy.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

/* SHA256_Init and its kin, deprecated by OpenSSL 3.0 in favour of EVP (see
 * policy_fingerprint for why they are used). */
#define OPENSSL_API_COMPAT 10101
#include <openssl/sha.h>

#include "log.h"
#include "metrics/metrics.h"
#include "policy/policy_internal.h"

struct policy {
    const config *cfg;
    store *st;
    void (*hook)(void *arg);
    void *hook_arg;
    time_t fixed_now;
    policy_pool *pool;         /* classifies batches; started by the first */
    GHashTable *dry_run_seen;  /* fingerprints policy_handle_dry_run() would have recorded */
};

/* One recipient as the policy treats it: the classifier's findings, or the
 * recipient a VERP address names. */
typedef struct policy_rcpt {
    const char *address;
    const char *action;        /* NULL: failed */
    classify_reason reason;
    classify_verdict verdict;  /* after the config's overrides */
    const char *status;
    const char *diagnostic;
    const char *feedback_type;
    bool valid;                /* a valid RFC 5321 mailbox */
    const char *final;         /* where a forward of address failed, or NULL */
} policy_rcpt;

static const char *const policy_outcome_names[] = {
    [POLICY_HANDLED] = "handled",
    [POLICY_DUPLICATE] = "duplicate",
    [POLICY_QUARANTINED] = "quarantined",
    [POLICY_STORE_FAILED] = "store failed",
};

static const metrics_outcome policy_metrics_outcomes[] = {
    [POLICY_HANDLED] = METRICS_OUTCOME_HANDLED,
    [POLICY_DUPLICATE] = METRICS_OUTCOME_DUPLICATE,
    [POLICY_QUARANTINED] = METRICS_OUTCOME_QUARANTINED,
    [POLICY_STORE_FAILED] = METRICS_OUTCOME_FAILED,
};

/* What the metrics call a message's outcome: a handled one that was no
 * bounce (kept apart, nothing acted on) is "notbounce". Read before the job
 * is cleared. */
static metrics_outcome policy_metrics_of(const policy_job *job, policy_outcome out)
{
    if (out == POLICY_HANDLED && job->report && job->report->kind == CLASSIFY_KIND_NOTBOUNCE)
        return METRICS_OUTCOME_NOTBOUNCE;
    return policy_metrics_outcomes[out];
}

/* Counts a message whose outcome is final, started at metrics_clock() start. */
static void policy_count(const policy_envelope *env, metrics_outcome out, double start)
{
    if (env && env->received > 0 && env->received < start)
        start = env->received;
    metrics_message(env ? env->ingress : NULL, out, metrics_clock() - start);
}

const char *policy_outcome_name(policy_outcome outcome)
{
    if ((size_t)outcome >= G_N_ELEMENTS(policy_outcome_names))
        return "?";
    return policy_outcome_names[outcome];
}

policy *policy_new(const config *cfg, store *st)
{
    policy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cfg = cfg;
    p->st = st;
    return p;
}

void policy_free(policy *p)
{
    /* The archive's writer runs behind; what this policy queued is written
     * before the caller (a `stdin` run) may exit. */
    policy_archive_flush();
    policy_pool_free(p->pool);
    if (p->dry_run_seen)
        g_hash_table_destroy(p->dry_run_seen);
    free(p);
}

void policy_set_commit_hook(policy *p, void (*hook)(void *arg), void *arg)
{
    p->hook = hook;
    p->hook_arg = arg;
}

void policy_set_time(policy *p, time_t now)
{
    p->fixed_now = now;
}

static time_t policy_now(const policy *p)
{
    return p->fixed_now ? p->fixed_now : time(NULL);
}

static int policy_store_failed(policy *p, const char *what)
{
    log_error("store: %s: %s", what, store_errmsg(p->st));
    return -1;
}

/* The envelope recipient and the message less the ingress's trace: the same
 * bounce to two platforms is two messages, a retry is one. The hex digest is
 * the one earlier versions stored, so a redelivery after an upgrade is still
 * known.
 *
 * OpenSSL's SHA-256 uses the CPU's SHA extensions, five times as fast as
 * GLib's GChecksum (3.2 against 16 µs for 5 KB), and every message is
 * hashed whole. Its low-level interface, not EVP: EVP's first fetch in a
 * process builds OpenSSL's table of algorithm names, 0.8 to 1.6 ms of CPU,
 * a tenth of a `stdin` run, where SHA256_Init costs nothing to set up. */
static void policy_fingerprint(const policy_job *job, char out[65])
{
    static const unsigned char separator = 0;
    size_t skip = job->trace_len;
    const char *rcpt = job->env->recipient ? job->env->recipient : "";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, rcpt, strlen(rcpt));
    SHA256_Update(&ctx, &separator, 1);
    SHA256_Update(&ctx, job->raw + skip, job->len - skip);
    SHA256_Final(md, &ctx);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

size_t policy_from_line_len(const char *raw, size_t len)
{
    if (len < 5 || memcmp(raw, "From ", 5) != 0)
        return 0;
    const char *nl = memchr(raw, '\n', len);
    return nl ? (size_t)(nl - raw) + 1 : len;
}

static bool policy_blank(const char *raw, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isspace(raw[i]))
            return false;
    return true;
}

/* ---- per recipient ---- */

/* The config's verdict for a reason the config names, else the classifier's
 * own, which also weighs the codes and the wording (a disabled account with
 * a 5xx is permanent, a temporarily suspended one temporary). */
static classify_verdict policy_verdict(const config *cfg, classify_reason reason, classify_verdict classifier)
{
    return cfg->handler.verdict_named[reason] ? cfg->handler.verdicts[reason] : classifier;
}

static int policy_event(policy *p, const policy_job *job, const policy_rcpt *r, const char *verdict)
{
    store_event ev = {
        .message_id = job->fingerprint,
        .address = r->address,
        .domain = job->domain ? job->domain->name : NULL,
        .verdict = verdict,
        .reason = classify_reason_name(r->reason),
        .status = r->status ? r->status : "",
        .diagnostic = r->diagnostic ? r->diagnostic : "",
        .ingress = job->env->ingress ? job->env->ingress : "",
        .when = job->now,
        .final = r->final,
    };
    if (store_event_add(p->st, &ev) != 0)
        return policy_store_failed(p, "event log");
    metrics_recipient(ev.domain, verdict, r->reason);
    return 0;
}

/* Suppresses the address at the platform: recorded, a notification queued,
 * the raw bounce archived. */
static int policy_suspend(policy *p, policy_job *job, const policy_rcpt *r, const char *verdict)
{
    const char *domain = job->domain->name;
    const char *reason = classify_reason_name(r->reason);
    const char *status = r->status ? r->status : "";
    const char *diagnostic = r->diagnostic ? r->diagnostic : "";
    store_permanent perm = { r->address, domain, reason, status, job->now };
    if (store_permanent_add(p->st, &perm) != 0)
        return policy_store_failed(p, "permanent bounce");
    if (store_outbox_add(p->st, r->address, domain, reason, status, diagnostic, job->now) != 0)
        return policy_store_failed(p, "outbox");
    if (policy_event(p, job, r, verdict) != 0)
        return -1;
    job->queued++;
    /* The archive is a copy for people; a full disk must not hold up the
     * notification, so a failure is logged (by archive.c) and passed over. */
    const char *dir = p->cfg->handler.permanent_bounced_emails_path;
    if (!job->dry_run && dir && *dir)
        policy_archive_write(dir, r->address, job->raw, job->len, p->cfg->handler.archive_compression_level,
                             &job->archived);
    return 0;
}

static int policy_temporary(policy *p, policy_job *job, const policy_rcpt *r)
{
    const config_handler *h = &p->cfg->handler;
    const char *reason = classify_reason_name(r->reason);
    long window_s = (long)h->temporary_window_days * 86400L;
    int count = 0;
    if (store_soft_increment(p->st, r->address, job->domain->name, job->now, window_s, &count) != 0)
        return policy_store_failed(p, "soft-bounce counter");
    if (count <= h->temporary_threshold) {
        log_field("Temporary:", "%s (%s, %d of %d)", r->address, reason, count, h->temporary_threshold);
        return policy_event(p, job, r, "temporary");
    }
    if (store_soft_reset(p->st, r->address, job->domain->name) != 0)
        return policy_store_failed(p, "soft-bounce counter reset");
    log_field("Permanent:", "%s (%s, escalated: %d soft bounces within %d days)", r->address, reason, count,
              h->temporary_window_days);
    return policy_suspend(p, job, r, "escalated");
}

static int policy_complaint(policy *p, policy_job *job, const policy_rcpt *r)
{
    const char *type = r->feedback_type ? r->feedback_type : classify_reason_name(r->reason);
    if (!p->cfg->handler.complaint_suspends) {
        log_field("Complaint:", "%s (%s, recorded only)", r->address, type);
        return policy_event(p, job, r, "complaint");
    }
    log_field("Complaint:", "%s (%s)", r->address, type);
    return policy_suspend(p, job, r, "complaint");
}

static bool policy_is_failure(const char *action)
{
    return !action || !*action || g_ascii_strcasecmp(action, "failed") == 0;
}

/* With handler.require_signed_verp, only the recipient that a correctly
 * signed return path names may be suspended: anyone can forge the rest. */
static bool policy_verified(const config *cfg, const policy_job *job, const char *address)
{
    if (!cfg->handler.require_signed_verp) return true;
    return job->verp_signed == VERP_SIGNED && job->verp && g_ascii_strcasecmp(job->verp, address) == 0;
}

/* An unverified failure counts as a soft bounce, but never escalates: a
 * forger who sends it again and again still suspends nobody, and a later
 * signed soft bounce finds the count. */
static int policy_unverified(policy *p, policy_job *job, const policy_rcpt *r)
{
    const config_handler *h = &p->cfg->handler;
    long window_s = (long)h->temporary_window_days * 86400L;
    int count = 0;
    if (store_soft_increment(p->st, r->address, job->domain->name, job->now, window_s, &count) != 0)
        return policy_store_failed(p, "soft-bounce counter");
    /* A signed return path vouches for the one address it names. */
    const char *why = job->verp_signed == VERP_SIGNED ? "another address's" : verp_signature_name(job->verp_signed);
    log_field("Unverified:", " %s (%s, %s return path, counted as soft: %d of %d)", r->address,
              classify_reason_name(r->reason), why, count, h->temporary_threshold);
    return policy_event(p, job, r, "unverified");
}

/* Longest address an event keeps of an invalid one: the longest valid
 * mailbox (RFC 5321), so that the event log's index takes any row. */
#define POLICY_INVALID_KEPT 254

/* Not a mailbox the platform can have mailed: recorded, never suspended or
 * sent, so that a crafted report cannot reach a real address. An address
 * too long for any mailbox is recorded by its start and its length. */
static int policy_invalid(policy *p, policy_job *job, const policy_rcpt *r)
{
    const char *reason = classify_reason_name(r->reason);
    size_t len = strlen(r->address);
    char *shown = NULL;
    if (len > POLICY_INVALID_KEPT) {
        const char *cut = r->address + POLICY_INVALID_KEPT - 32;
        if (!g_utf8_validate(r->address, cut - r->address, NULL))
            cut = g_utf8_find_prev_char(r->address, cut);
        shown = g_strdup_printf("%.*s... (%zu octets)", (int)(cut - r->address), r->address, len);
    }
    policy_rcpt kept = *r;
    kept.address = shown ? shown : r->address;
    log_field("Ignored:", "%s (invalid address, %s)", kept.address, reason);
    int rc = policy_event(p, job, &kept, "invalid address");
    g_free(shown);
    return rc;
}

static int policy_recipient(policy *p, policy_job *job, const policy_rcpt *r)
{
    const char *reason = classify_reason_name(r->reason);
    if (!r->address || !*r->address) {
        /* Nothing can be counted or suspended without an address. */
        policy_rcpt none = *r;
        none.address = "";
        log_field("Ignored:", "(no address) (%s)", reason);
        return policy_event(p, job, &none, "ignore");
    }
    if (!policy_is_failure(r->action)) {
        log_field("Ignored:", "%s (%s, %s)", r->address, r->action, reason);
        return policy_event(p, job, r, "ignore");
    }
    if (!r->valid)
        return policy_invalid(p, job, r);
    if (r->final)
        log_field("Forwarded:", "%s (failed at %s)", r->address, r->final);
    if (r->verdict != CLASSIFY_VERDICT_IGNORE && !policy_verified(p->cfg, job, r->address))
        return policy_unverified(p, job, r);
    switch (r->verdict) {
    case CLASSIFY_VERDICT_TEMPORARY:
        return policy_temporary(p, job, r);
    case CLASSIFY_VERDICT_PERMANENT:
        log_field("Permanent:", "%s", r->address);
        return policy_suspend(p, job, r, "permanent");
    case CLASSIFY_VERDICT_COMPLAINT:
        return policy_complaint(p, job, r);
    default:
        log_field("Ignored:", "%s (%s)", r->address, reason);
        return policy_event(p, job, r, "ignore");
    }
}

static policy_rcpt policy_rcpt_from(const config *cfg, const classify_recipient *c)
{
    return (policy_rcpt){
        .address = c->address,
        .action = c->action,
        .reason = c->reason,
        .verdict = policy_verdict(cfg, c->reason, c->verdict),
        .status = c->status,
        .diagnostic = c->diagnostic,
        .feedback_type = c->feedback_type,
        .valid = c->valid,
        .final = c->final,
    };
}

/* The recipient a VERP address names is the one that failed, whatever the
 * report says: with the report's finding for it when there is one, else the
 * first failure's, else what the kind of message implies. */
static policy_rcpt policy_rcpt_verp(const config *cfg, const policy_job *job)
{
    const classify_report *rep = job->report;
    const classify_recipient *like = NULL;
    for (size_t i = 0; i < rep->n_recipients && !like; i++)
        if (policy_is_failure(rep->recipients[i].action))
            like = &rep->recipients[i];
    if (!like && rep->n_recipients > 0)
        like = &rep->recipients[0];
    if (like) {
        policy_rcpt r = policy_rcpt_from(cfg, like);
        r.address = job->verp;
        r.valid = classify_address_is_valid(job->verp);
        return r;
    }
    classify_reason reason = rep->kind == CLASSIFY_KIND_AUTOREPLY   ? CLASSIFY_REASON_VACATION
                             : rep->kind == CLASSIFY_KIND_DELIVERED ? CLASSIFY_REASON_DELIVERED
                                                                    : CLASSIFY_REASON_UNDEFINED;
    return (policy_rcpt){
        .address = job->verp,
        .reason = reason,
        .verdict = policy_verdict(cfg, reason, classify_default_verdict(reason)),
        .status = "",
        .diagnostic = "",
        .valid = classify_address_is_valid(job->verp),
    };
}

static bool policy_report_names(const classify_report *rep, const char *address)
{
    for (size_t i = 0; i < rep->n_recipients; i++)
        if (rep->recipients[i].address && g_ascii_strcasecmp(rep->recipients[i].address, address) == 0)
            return true;
    return false;
}

/* An auto-reply names no failed recipient; its sender is written to the
 * event log so that it leaves a trace. */
static int policy_autoreply(policy *p, policy_job *job)
{
    char *sender = policy_route_mailbox(job->report->from);
    policy_rcpt r = {
        .address = sender ? sender : "(unknown)",
        .reason = CLASSIFY_REASON_VACATION,
        .status = "",
        .diagnostic = job->report->subject ? job->report->subject : "",
    };
    log_field("Ignored:", "%s (vacation, auto-reply)", r.address);
    int rc = policy_event(p, job, &r, "ignore");
    g_free(sender);
    return rc;
}

static int policy_recipients(policy *p, policy_job *job)
{
    const classify_report *rep = job->report;
    if (job->verp && !policy_report_names(rep, job->verp)) {
        policy_rcpt r = policy_rcpt_verp(p->cfg, job);
        return policy_recipient(p, job, &r);
    }
    if (rep->n_recipients == 0)
        return policy_autoreply(p, job);
    for (size_t i = 0; i < rep->n_recipients; i++) {
        policy_rcpt r = policy_rcpt_from(p->cfg, &rep->recipients[i]);
        const char *mailed = policy_route_forwarded(p->cfg, job, &rep->recipients[i]);
        if (mailed) {
            r.final = r.address;
            r.address = mailed;
            r.valid = classify_address_is_valid(mailed);
        }
        if (policy_recipient(p, job, &r) != 0)
            return -1;
    }
    return 0;
}

/* ---- one message ---- */

static void policy_log_headers(const policy_job *job)
{
    const classify_report *rep = job->report;
    char *from = policy_route_display(rep->from);
    const char *to = job->route_address ? job->route_address
                     : rep->to          ? rep->to
                     : job->env->recipient ? job->env->recipient
                                           : "(none)";
    log_field("From:", "%s", from ? from : "(none)");
    log_field("Subject:", "%s", rep->subject ? rep->subject : "(none)");
    log_field("To:", "%s", to);
    log_field("Domain:", "%s", job->domain ? job->domain->name : "(none)");
    g_free(from);
}

static policy_outcome policy_quarantine_reason(policy_job *job, char *reason)
{
    job->quarantine = reason;
    log_field("Quarantine:", " %s", reason);
    return POLICY_QUARANTINED;
}

/* Why a classified and routed message cannot be handled, or NULL. */
static char *policy_unhandled(const config *cfg, const policy_job *job)
{
    const classify_report *rep = job->report;
    bool readable = rep->n_recipients > 0 || job->verp || rep->kind == CLASSIFY_KIND_AUTOREPLY;
    if (!readable && rep->kind == CLASSIFY_KIND_UNKNOWN)
        return g_strdup("no bounce found: unreadable, or not a bounce");
    if (!readable)
        return g_strdup_printf("no recipient found in the %s report", classify_kind_name(rep->kind));
    if (!job->domain)
        return job->route_address ? g_strdup_printf("unknown domain: %s", job->route_address)
                                  : g_strdup("no platform address");
    /* One forged report must not suspend thousands: a person looks first. */
    if (rep->n_recipients > (size_t)cfg->handler.max_recipients_per_bounce)
        return g_strdup_printf("the report names %zu recipients, more than handler.max_recipients_per_bounce (%d)",
                               rep->n_recipients, cfg->handler.max_recipients_per_bounce);
    return NULL;
}

/* A person's reply or spam to the no-reply address: nothing to act on and
 * nothing for the quarantine; kept for retention.notbounce_days in case
 * someone asks for it. */
static policy_outcome policy_notbounce(policy *p, policy_job *job)
{
    log_field("Ignored:", "not a bounce");
    if (!job->dry_run && store_notbounce_add(p->st, job->raw, job->len, job->env->recipient, job->env->ingress,
                                             job->now) != 0) {
        policy_store_failed(p, "keeping a message that is not a bounce");
        return POLICY_STORE_FAILED;
    }
    return POLICY_HANDLED;
}

policy_outcome policy_job_run(policy *p, policy_job *job, bool check_duplicate)
{
    log_info("------------- INCOMING MESSAGE -------------");
    if (!job->fingerprint[0])
        policy_fingerprint(job, job->fingerprint);
    if (check_duplicate) {
        int seen = 0;
        if (store_message_seen(p->st, job->fingerprint, job->now, &seen) != 0) {
            policy_store_failed(p, "fingerprint");
            return POLICY_STORE_FAILED;
        }
        /* A dry run's fingerprints are rolled back with the rest. */
        if (job->dry_run && p->dry_run_seen && g_hash_table_contains(p->dry_run_seen, job->fingerprint))
            seen = 1;
        if (seen) {
            log_field("Duplicate:", "%.16s (handled before)", job->fingerprint);
            return POLICY_DUPLICATE;
        }
    }
    if (job->quarantine_as)
        return policy_quarantine_reason(job, g_strdup(job->quarantine_as));
    if (policy_blank(job->raw, job->len))
        return policy_quarantine_reason(job, g_strdup("empty message"));
    if (!job->report)
        job->report = classify_message(job->raw, job->len);
    if (!job->routed)
        policy_route(p->cfg, job);
    policy_log_headers(job);
    if (job->report->kind == CLASSIFY_KIND_NOTBOUNCE)
        return policy_notbounce(p, job);
    char *why = policy_unhandled(p->cfg, job);
    if (why)
        return policy_quarantine_reason(job, why);
    log_debug("format %s, %zu recipient(s), message %.16s", job->report->format ? job->report->format : "-",
              job->report->n_recipients, job->fingerprint);
    if (policy_recipients(p, job) != 0)
        return POLICY_STORE_FAILED;
    return POLICY_HANDLED;
}

static void policy_job_prepare(policy_job *job, const char *raw, size_t len, const policy_envelope *env,
                               time_t now)
{
    static const policy_envelope none = { NULL, NULL, NULL, 0, 0 };
    memset(job, 0, sizeof *job);
    size_t from_line = policy_from_line_len(raw, len);
    job->raw = raw + from_line;
    job->len = len - from_line;
    job->env = env ? env : &none;
    /* The trace was counted from the start of raw, the From line included. */
    size_t trace = job->env->trace_len > from_line ? job->env->trace_len - from_line : 0;
    job->trace_len = trace <= job->len ? trace : 0;
    job->now = now;
}

static void policy_job_init(policy_job *job, const char *raw, size_t len, const policy_envelope *env, time_t now)
{
    policy_job_prepare(job, raw, len, env, now);
    log_hold();
}

static void policy_job_drop(policy_job *job)
{
    if (job->report)
        classify_report_free(job->report);
    g_free(job->route_address);
    g_free(job->verp);
    g_free(job->quarantine);
    policy_archive_release(job->archived);
    memset(job, 0, sizeof *job);
}

static void policy_job_clear(policy_job *job)
{
    policy_job_drop(job);
    log_flush();
}

/* Runs the job and writes a quarantined message to the quarantine. */
static policy_outcome policy_job_handle(policy *p, policy_job *job)
{
    policy_outcome out = policy_job_run(p, job, true);
    if (out != POLICY_QUARANTINED)
        return out;
    if (policy_quarantine_add(p->st, p->cfg, job->raw, job->len, job->env->recipient, job->env->ingress,
                              job->quarantine, job->now) != 0) {
        policy_store_failed(p, "quarantine");
        return POLICY_STORE_FAILED;
    }
    return out;
}

/* A message the store refused for what it holds (a constraint, an index row
 * too large) would be refused on every retry, and Postfix or the broker
 * would offer it forever: after the caller undid its writes, it goes to the
 * quarantine, where a person sees why (a replayed one stays there). */
static void policy_take_refusal(policy *p, policy_job *job)
{
    job->queued = 0;
    g_free(job->quarantine);
    job->quarantine = g_strdup_printf("refused by the store: %s", store_errmsg(p->st));
    log_field("Quarantine:", " %s", job->quarantine);
}

static policy_outcome policy_refused(policy *p, policy_job *job)
{
    int seen = 0;
    if (store_message_seen(p->st, job->fingerprint, job->now, &seen) != 0 ||
        policy_quarantine_add(p->st, p->cfg, job->raw, job->len, job->env->recipient, job->env->ingress,
                              job->quarantine, job->now) != 0) {
        policy_store_failed(p, "quarantine");
        return POLICY_STORE_FAILED;
    }
    return POLICY_QUARANTINED;
}

/* Commits (or rolls back what failed) and tells the hook about new
 * notifications. */
static policy_outcome policy_finish(policy *p, policy_outcome out, int queued)
{
    if (out == POLICY_STORE_FAILED) {
        store_rollback(p->st);
        log_error("nothing of this message was committed; it will be retried");
        return out;
    }
    policy_archive_flush();
    if (store_commit(p->st) != 0) {
        policy_store_failed(p, "commit");
        store_rollback(p->st);
        return POLICY_STORE_FAILED;
    }
    metrics_commit();
    if (queued && p->hook)
        p->hook(p->hook_arg);
    return out;
}

static policy_outcome policy_handle_as(policy *p, const char *raw, size_t len, const policy_envelope *env,
                                       const char *quarantine_as)
{
    double start = metrics_clock();
    metrics_discard();
    if (store_begin(p->st) != 0) {
        policy_store_failed(p, "begin");
        policy_count(env, METRICS_OUTCOME_FAILED, start);
        return POLICY_STORE_FAILED;
    }
    policy_job job;
    policy_job_init(&job, raw, len, env, policy_now(p));
    job.quarantine_as = quarantine_as;
    policy_outcome out = policy_job_handle(p, &job);
    if (out == POLICY_STORE_FAILED && store_error_permanent(p->st)) {
        policy_take_refusal(p, &job);
        store_rollback(p->st);
        metrics_discard();
        out = store_begin(p->st) == 0 ? policy_refused(p, &job) : POLICY_STORE_FAILED;
    }
    out = policy_finish(p, out, job.queued);
    metrics_outcome counted = policy_metrics_of(&job, out);
    policy_job_clear(&job);
    policy_count(env, counted, start);
    return out;
}

policy_outcome policy_handle(policy *p, const char *raw, size_t len, const policy_envelope *env)
{
    return policy_handle_as(p, raw, len, env, NULL);
}

policy_outcome policy_quarantine(policy *p, const char *raw, size_t len, const policy_envelope *env,
                                 const char *reason)
{
    return policy_handle_as(p, raw, len, env, reason);
}

policy_outcome policy_handle_dry_run(policy *p, const char *raw, size_t len, const policy_envelope *env)
{
    if (store_begin(p->st) != 0) {
        policy_store_failed(p, "begin");
        return POLICY_STORE_FAILED;
    }
    policy_job job;
    policy_job_init(&job, raw, len, env, policy_now(p));
    job.dry_run = true;
    policy_outcome out = policy_job_handle(p, &job);
    if (out == POLICY_HANDLED || out == POLICY_QUARANTINED) {
        if (!p->dry_run_seen)
            p->dry_run_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_add(p->dry_run_seen, g_strdup(job.fingerprint));
    }
    store_rollback(p->st);
    policy_job_clear(&job);
    return out;
}

/* One message of a batch under its own savepoint; *queued grows by its
 * notifications when it stays; *counted: its outcome for the metrics. */
static policy_outcome policy_batch_one(policy *p, policy_job *job, int *queued, metrics_outcome *counted)
{
    size_t staged = metrics_mark();
    *counted = METRICS_OUTCOME_FAILED;
    if (store_savepoint(p->st) != 0) {
        policy_store_failed(p, "savepoint");
        return POLICY_STORE_FAILED;
    }
    policy_outcome out = policy_job_handle(p, job);
    if (out == POLICY_STORE_FAILED && store_error_permanent(p->st)) {
        policy_take_refusal(p, job);
        bool undone = store_savepoint_rollback(p->st) == 0 && store_savepoint(p->st) == 0;
        metrics_rewind(staged);
        out = undone ? policy_refused(p, job) : POLICY_STORE_FAILED;
    }
    if (out != POLICY_STORE_FAILED && store_savepoint_release(p->st) != 0) {
        policy_store_failed(p, "savepoint release");
        out = POLICY_STORE_FAILED;
    }
    if (out == POLICY_STORE_FAILED) {
        store_savepoint_rollback(p->st);
        metrics_rewind(staged);
    } else
        *queued += job->queued;
    *counted = policy_metrics_of(job, out);
    return out;
}

/* counted NULL: every message failed. */
static void policy_count_batch(const policy_message *msgs, size_t n, const metrics_outcome *counted, double start)
{
    for (size_t i = 0; i < n; i++)
        policy_count(&msgs[i].envelope, counted ? counted[i] : METRICS_OUTCOME_FAILED, start);
}

typedef struct policy_batch {
    const policy *p;
    policy_job *jobs;
} policy_batch;

/* A pool thread's share of a batch: what policy_job_run() would compute
 * without the store (the fingerprint, the report, the route), computed
 * ahead of the transaction (for a duplicate too: finding it needs the
 * transaction, and the rest is only wasted time). */
static void policy_batch_classify(void *arg, size_t i)
{
    const policy_batch *batch = arg;
    policy_job *job = &batch->jobs[i];
    policy_fingerprint(job, job->fingerprint);
    if (policy_blank(job->raw, job->len))
        return;
    job->report = classify_message(job->raw, job->len);
    policy_route(batch->p->cfg, job);
    job->routed = true;
}

/* The jobs handled in the open transaction with no savepoint of their own:
 * SQLite copies every page a message writes into a savepoint's journal, a
 * fifth of the store's CPU a message. false at the first store failure,
 * which leaves the transaction to be rolled back. */
static bool policy_batch_at_once(policy *p, policy_job *jobs, size_t n, policy_outcome *out, int *queued,
                                 metrics_outcome *counted)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = policy_job_handle(p, &jobs[i]);
        if (out[i] == POLICY_STORE_FAILED)
            return false;
        *queued += jobs[i].queued;
        counted[i] = policy_metrics_of(&jobs[i], out[i]);
        /* The queued writes hold the copy: the archive's queue, bounded by
         * the copies alive, must not wait for the end of the batch. */
        policy_archive_release(jobs[i].archived);
        jobs[i].archived = NULL;
    }
    return true;
}

/* What handling left in a job, undone before it is handled again; its
 * report and route stay. */
static void policy_job_rewind(policy_job *job)
{
    g_free(job->quarantine);
    job->quarantine = NULL;
    job->queued = 0;
    policy_archive_release(job->archived);
    job->archived = NULL;
}

/* The batch again after a store failure, in a new transaction, each message
 * under a savepoint, so that a message the store refuses costs only itself.
 * *said moves past the warning, which stays whatever happens next. false
 * when no transaction could begin. */
static bool policy_batch_one_by_one(policy *p, policy_job *jobs, size_t n, policy_outcome *out, int *queued,
                                    metrics_outcome *counted, log_mark *said)
{
    store_rollback(p->st);
    metrics_discard();
    *queued = 0;
    /* The first pass's lines describe what the rollback undid: the second
     * pass says again what happens to each message. */
    bool unsaid = log_rewind(*said);
    log_warn("store: nothing of the batch's %zu messages was committed; each is handled again on its own%s", n,
             unsaid ? "" : " (lines above about some of them describe nothing committed)");
    *said = log_mark_here();
    if (store_begin(p->st) != 0) {
        policy_store_failed(p, "begin");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        policy_job_rewind(&jobs[i]);
        out[i] = policy_batch_one(p, &jobs[i], queued, &counted[i]);
        /* As policy_batch_at_once() does: the archive's queue is bounded by
         * the copies alive, and the next message may wait for room in it. */
        policy_archive_release(jobs[i].archived);
        jobs[i].archived = NULL;
    }
    return true;
}

/* Handles the classified jobs in the open transaction, in order, and drops
 * them; false when the transaction is gone. */
static bool policy_batch_handle(policy *p, policy_job *jobs, size_t n, policy_outcome *out, int *queued,
                                metrics_outcome *counted, log_mark *said)
{
    bool ok = policy_batch_at_once(p, jobs, n, out, queued, counted) ||
              policy_batch_one_by_one(p, jobs, n, out, queued, counted, said);
    for (size_t i = 0; i < n; i++)
        policy_job_drop(&jobs[i]);
    return ok;
}

/* The batch's messages are classified on every CPU before its write
 * transaction begins, so that the commit thread, which every message
 * passes, holds the write lock only for the store's work. */
void policy_handle_batch(policy *p, const policy_message *msgs, size_t n, policy_outcome *out)
{
    if (n == 0)
        return;
    double start = metrics_clock();
    metrics_discard();
    time_t now = policy_now(p);
    policy_job *jobs = g_new(policy_job, n);
    for (size_t i = 0; i < n; i++)
        policy_job_prepare(&jobs[i], msgs[i].raw, msgs[i].len, &msgs[i].envelope, now);
    if (!p->pool)
        p->pool = policy_pool_new();
    policy_pool_run(p->pool, n, policy_batch_classify, &(policy_batch){ p, jobs });
    if (store_begin(p->st) != 0) {
        policy_store_failed(p, "begin");
        for (size_t i = 0; i < n; i++) {
            out[i] = POLICY_STORE_FAILED;
            policy_job_drop(&jobs[i]);
        }
        g_free(jobs);
        policy_count_batch(msgs, n, NULL, start);
        return;
    }
    int queued = 0;
    metrics_outcome *counted = g_new(metrics_outcome, n);
    /* The messages' lines are held until the commit, and go out in one
     * write if it succeeds; what a rollback undid is not said. */
    log_hold();
    log_mark said = log_mark_here();
    bool ok = policy_batch_handle(p, jobs, n, out, &queued, counted, &said);
    g_free(jobs);
    if (ok) {
        /* The raw bounces are on disk before the commit that lets the
         * ingress acknowledge them; the writer worked while the batch was
         * handled. */
        policy_archive_flush();
        ok = store_commit(p->st) == 0;
        if (!ok)
            policy_store_failed(p, "commit");
    }
    if (!ok && !log_rewind(said))
        log_warn("store: the batch was not committed: lines above about its messages describe nothing committed");
    log_flush();
    if (!ok) {
        store_rollback(p->st);
        for (size_t i = 0; i < n; i++)
            out[i] = POLICY_STORE_FAILED;
        policy_count_batch(msgs, n, NULL, start);
        g_free(counted);
        return;
    }
    metrics_commit();
    policy_count_batch(msgs, n, counted, start);
    g_free(counted);
    if (queued && p->hook)
        p->hook(p->hook_arg);
}

/* Keeps a message that is still unhandled, under its new reason and its
 * first time. */
static int policy_requarantine(policy *p, const store_quarantine_item *item, const char *reason)
{
    if (item->reason && strcmp(item->reason, reason) == 0)
        return 0;
    if (store_quarantine_remove(p->st, item->id) != 0 ||
        policy_quarantine_add(p->st, p->cfg, item->raw, item->raw_len, item->envelope_recipient,
                              item->ingress, reason, item->when) != 0)
        return policy_store_failed(p, "quarantine");
    return 0;
}

policy_outcome policy_replay(policy *p, const store_quarantine_item *item, bool dry_run, char **reason)
{
    if (reason)
        *reason = NULL;
    double start = metrics_clock();
    metrics_discard();
    if (store_begin(p->st) != 0) {
        policy_store_failed(p, "begin");
        return POLICY_STORE_FAILED;
    }
    policy_envelope env = { item->envelope_recipient, NULL, "replay", 0, 0 };
    policy_job job;
    policy_job_init(&job, item->raw ? item->raw : "", item->raw ? item->raw_len : 0, &env, policy_now(p));
    job.dry_run = dry_run;
    /* Its fingerprint was recorded when it was quarantined. */
    policy_outcome out = policy_job_run(p, &job, false);
    if (out == POLICY_STORE_FAILED && store_error_permanent(p->st)) {
        policy_take_refusal(p, &job);
        store_rollback(p->st);
        metrics_discard();
        out = store_begin(p->st) == 0 ? POLICY_QUARANTINED : POLICY_STORE_FAILED;
    }
    if (!dry_run && out == POLICY_QUARANTINED && policy_requarantine(p, item, job.quarantine) != 0)
        out = POLICY_STORE_FAILED;
    if (!dry_run && out == POLICY_HANDLED && store_quarantine_remove(p->st, item->id) != 0) {
        policy_store_failed(p, "quarantine");
        out = POLICY_STORE_FAILED;
    }
    if (dry_run && out != POLICY_STORE_FAILED)
        store_rollback(p->st);
    else
        out = policy_finish(p, out, job.queued);
    if (reason && out == POLICY_QUARANTINED)
        *reason = strdup(job.quarantine);
    metrics_outcome counted = policy_metrics_of(&job, out);
    policy_job_clear(&job);
    if (!dry_run)
        policy_count(&env, counted, start);
    return out;
}
