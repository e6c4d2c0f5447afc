/*
 * policy.h - the one path every ingress feeds: classify a message, find the
 * platform it belongs to, decide per recipient, and commit every effect in
 * one transaction: counters, permanent bounces, the event log, the outbox,
 * the message's fingerprint, or the quarantine. An ingress acknowledges a
 * message only when this returns an outcome other than POLICY_STORE_FAILED.
 *
 * A message is the same message when its bytes (less a leading mbox "From "
 * line, which Postfix's local(8) adds with the time of each attempt, and
 * less the ingress's own trace) and its envelope recipient are the same.
 *
 * A policy owns no store; it uses the one it is given, from one thread.
 */
#ifndef BOUNCEDEMAILS_POLICY_H
#define BOUNCEDEMAILS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "config.h"
#include "store/store.h"

typedef struct policy_envelope {
    const char *recipient;    /* SMTP envelope recipient, or NULL */
    const char *sender;       /* SMTP envelope sender, or NULL */
    const char *ingress;      /* "stdin", "amqp", "smtp", "replay" */
    /* Bytes at the start of raw that the ingress itself added (its
     * Return-Path: and Received: lines), or 0. They are left out of the
     * fingerprint, so that a sender's retry of a message that was committed
     * (its 250 lost) is still recognised as the same message. */
    size_t trace_len;
    /* metrics_clock() when the ingress took the message in (end of DATA, a
     * delivery read), so that the handling time an operator sees includes
     * the wait for a batch; 0: when the policy took it. */
    double received;
} policy_envelope;

typedef struct policy_message {
    const char *raw;
    size_t len;
    policy_envelope envelope;
} policy_message;

typedef enum policy_outcome {
    POLICY_HANDLED = 0,       /* committed */
    POLICY_DUPLICATE,         /* processed before: nothing changed */
    POLICY_QUARANTINED,       /* unreadable or unrouted: committed to the quarantine */
    POLICY_STORE_FAILED,      /* nothing committed: do not acknowledge */
} policy_outcome;

typedef struct policy policy;

policy *policy_new(const config *cfg, store *st);
void policy_free(policy *p);

/* Called after a commit that queued notifications, e.g. to wake the notifier. */
void policy_set_commit_hook(policy *p, void (*hook)(void *arg), void *arg);

/* Postfix's local(8) starts a piped message with an mbox "From sender date"
 * line: envelope, not message, and its date differs on every attempt.
 * Returns the length of that line at the start of raw, 0 when there is
 * none. The policy leaves it out of what it reads and fingerprints. */
size_t policy_from_line_len(const char *raw, size_t len);

/* Handles one message in its own transaction. */
policy_outcome policy_handle(policy *p, const char *raw, size_t len, const policy_envelope *env);

/* Quarantines a message with reason without reading it, in its own
 * transaction (a message delivered twice is a duplicate, as for
 * policy_handle()). For an ingress that keeps only a reference to a message
 * too large to handle: its header and its size. */
policy_outcome policy_quarantine(policy *p, const char *raw, size_t len, const policy_envelope *env,
                                 const char *reason);
/* The line that heads what the quarantine keeps of a message of size bytes
 * (the SHA-256 of the whole of it in hex) when it keeps only its header
 * block: two such messages with the same header are told apart, and each
 * can be matched with its sender's copy. g_free() it. */
char *policy_quarantine_note(uint64_t size, const char *sha256);
/* The reason of a message quarantined unread because processes died while
 * handling it (the AMQP consumer's crash guard): `replay` leaves such
 * messages alone unless asked for one by id. */
#define POLICY_REASON_DIED_HANDLING "the process stopped while handling it (a crash?): kept unread"

/* What policy_handle() would do, without writing anything (the transaction
 * is rolled back, nothing is archived): for `ingest --dry-run`. A message
 * that an earlier dry run of this policy would have handled is a duplicate,
 * as it would be in a real run; counters do not carry over, so a
 * temporary failure is counted as if it were the address's only one since
 * the store's last commit. */
policy_outcome policy_handle_dry_run(policy *p, const char *raw, size_t len, const policy_envelope *env);

/* Handles n messages in one transaction and fills out[i]. A message that
 * the store refuses costs only itself: the batch is handled again, each
 * message under its own savepoint. When the commit fails every outcome is
 * POLICY_STORE_FAILED. */
void policy_handle_batch(policy *p, const policy_message *msgs, size_t n, policy_outcome *out);

const char *policy_outcome_name(policy_outcome outcome);

/* Fixes the policy's clock at now (tests); 0 returns it to the real time. */
void policy_set_time(policy *p, time_t now);

/* Handles a quarantined message again with the current config, in its own
 * transaction. It leaves the quarantine when it is handled now
 * (POLICY_HANDLED), else it stays with its new reason (POLICY_QUARANTINED;
 * *reason, when reason is not NULL, is set to a newly allocated copy of it;
 * free with free()). With dry_run nothing is written: the outcome says what
 * would happen. */
policy_outcome policy_replay(policy *p, const store_quarantine_item *item, bool dry_run, char **reason);

/* ---- the archive of raw permanent bounces (archive.c) ---- */

/* dir/<first two characters>/<address>.gz, where the address is made a safe
 * file name: bytes outside [A-Za-z0-9@._+=-] and a leading dot are
 * percent-encoded, so "/" and ".." cannot leave dir. Newly allocated (free
 * with free()), or NULL for an empty address. */
char *policy_archive_path(const char *dir, const char *address);

/* A message's copy for the archive, shared by its recipients. */
typedef struct policy_archive_copy policy_archive_copy;

/* Queues raw for address, to be written by the archive's own thread at
 * policy_archive_path(dir, address), gzipped at level (0-9, 0 storing the
 * bytes uncompressed), creating the folders, atomically (a
 * temporary file renamed into place). *copy is the message's copy: NULL for
 * its first recipient, when raw is copied and *copy set (let go of it with
 * policy_archive_release()); the next recipients' files become hard links to
 * the first one's. -1 when the address makes no file name, else 0 (a failed
 * write is logged by the writer). */
int policy_archive_write(const char *dir, const char *address, const char *raw, size_t len, int level,
                         policy_archive_copy **copy);
void policy_archive_release(policy_archive_copy *copy);
/* Returns once everything queued so far is written. */
void policy_archive_flush(void);

#endif
