/*
 * cmd_ingest.c - the commands that feed messages to the policy by hand:
 * `stdin` (one message from a Postfix pipe) and `replay` (the quarantine
 * again, after the config is fixed). Both take the same path as the daemon's
 * ingresses, then make one prompt attempt at the notifications they queued;
 * what fails stays in the outbox for the daemon. A `stdin` run leaves its
 * notifications to the daemon instead when one runs (notify/handoff.h), and
 * handles its message under the crash guard (ingress/crash_guard.h): Postfix
 * retries a run that died, and a message that kills every run must end in
 * the quarantine, not in Postfix's queue until it gives up.
 */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ingress/crash_guard.h"
#include "log.h"
#include "notify/handoff.h"
#include "notify/notify.h"
#include "policy/policy.h"

static void ingest_count_commit(void *arg)
{
    (*(int *)arg)++;
}

void cmd_notify_queued(const config *cfg, store *st)
{
    notify *n = notify_new(cfg, st);
    size_t attempted = 0;
    if (notify_run_remembered(n, time(NULL), &attempted) != 0)
        log_warn("notifications not sent now stay in the outbox for `bouncedemails run`");
    log_debug("%zu notification(s) attempted", attempted);
    notify_free(n);
}

/* ---- stdin ---- */

/* Leaves what the run queued to the daemon's notifier, when one listens:
 * true when it took the wake-up. */
static bool stdin_hand_off(const config *cfg, const store *st)
{
    size_t queued = store_outbox_remembered(st);
    if (queued == 0 || !cfg->notify.stdin_handoff || !handoff_send(cfg))
        return false;
    log_info("notify: %zu notification(s) left to the running daemon", queued);
    return true;
}

static int stdin_usage(int status)
{
    FILE *out = status ? stderr : stdout;
    fprintf(out,
            "usage: bouncedemails [--config PATH] [--env NAME] [--debug] stdin\n"
            "                     [--recipient ADDRESS] [--sender ADDRESS]\n"
            "\n"
            "Handles one message from standard input, as a Postfix pipe delivers it, then\n"
            "makes one attempt at the notifications it queued (what fails stays in the\n"
            "outbox for `bouncedemails run`), or leaves them to the daemon when one runs\n"
            "(notify.stdin_handoff). A leading mbox \"From \" line is dropped.\n"
            "\n"
            "options:\n"
            "  --recipient ADDRESS  the envelope recipient (the no-reply address); it decides\n"
            "                       the platform. Default: $ORIGINAL_RECIPIENT, else $RECIPIENT,\n"
            "                       which Postfix's local(8) sets for an /etc/aliases pipe.\n"
            "                       With pipe(8) in master.cf pass it yourself:\n"
            "                         argv=bouncedemails stdin --recipient ${original_recipient}\n"
            "  --sender ADDRESS     the envelope sender (default $SENDER)\n"
            "  --help               this help\n"
            "\n"
            "exit status (sysexits, as Postfix reads it):\n"
            "  0   handled, or quarantined, or a duplicate of a message handled before\n"
            "  74  standard input could not be read\n"
            "  75  the store is unavailable: Postfix keeps the message and retries\n"
            "  78  the configuration is invalid\n");
    return status;
}

/* Reads all of fd. Returns NULL on a read error. */
static GByteArray *stdin_read_all(int fd)
{
    GByteArray *buf = g_byte_array_sized_new(16384);
    guint8 chunk[65536];
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got == 0)
            return buf;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            g_byte_array_free(buf, TRUE);
            return NULL;
        }
        g_byte_array_append(buf, chunk, (guint)got);
    }
}

/* Handles the message under the crash guard: quarantined unread once
 * CRASH_GUARD_DEATHS_BEFORE_QUARANTINE runs died handling the same delivery
 * (the message less local(8)'s From line, whose date changes at every
 * retry, and the envelope). The mark stays when that quarantine failed, so
 * that the next run sets the message aside again. */
static policy_outcome stdin_handle_guarded(const config *cfg, policy *p, const GByteArray *msg,
                                           const policy_envelope *env)
{
    const char *raw = (const char *)msg->data;
    size_t from_line = policy_from_line_len(raw, msg->len);
    char *dir = g_build_filename(cfg->handler.permanent_bounced_emails_path, CRASH_GUARD_FOLDER, NULL);
    char *envelope = g_strdup_printf("stdin\n%s\n%s", env->recipient ? env->recipient : "",
                                     env->sender ? env->sender : "");
    int unfinished = 0;
    crash_guard *guard = crash_guard_begin(dir, raw + from_line, msg->len - from_line, envelope, &unfinished);
    policy_outcome out;
    bool set_aside = unfinished >= CRASH_GUARD_DEATHS_BEFORE_QUARANTINE;
    if (set_aside) {
        log_error("stdin: %d runs stopped while handling this message of %u bytes: quarantined unread, so that "
                  "it cannot stop the next ones", unfinished, msg->len);
        out = policy_quarantine(p, raw, msg->len, env, POLICY_REASON_DIED_HANDLING);
    } else {
        if (unfinished > 0) {
            log_warn("stdin: a run stopped while handling this message of %u bytes: trying it once more, and "
                     "setting it aside if that fails the same way", msg->len);
            crash_guard_sweep(dir, CRASH_GUARD_MAX_AGE_S);
        }
        out = policy_handle(p, raw, msg->len, env);
    }
    if (set_aside && out == POLICY_STORE_FAILED)
        crash_guard_keep(guard);
    else
        crash_guard_end(guard);
    g_free(envelope);
    g_free(dir);
    return out;
}

static const char *stdin_env_first(const char *const *names)
{
    for (; *names; names++) {
        const char *v = getenv(*names);
        if (v && *v)
            return v;
    }
    return NULL;
}

int cmd_stdin(const cmd_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        { "recipient", required_argument, NULL, 'r' },
        { "sender", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const recipient_env[] = { "ORIGINAL_RECIPIENT", "RECIPIENT", NULL };
    static const char *const sender_env[] = { "SENDER", NULL };
    const char *recipient = NULL, *sender = NULL;
    int opt;

    cmd_normalize_options(argc, argv);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'r': recipient = optarg; break;
        case 's': sender = optarg; break;
        case 'h': return stdin_usage(0);
        default: return stdin_usage(EX_USAGE);
        }
    }
    if (optind < argc)
        return stdin_usage(EX_USAGE);
    if (!recipient)
        recipient = stdin_env_first(recipient_env);
    if (!sender)
        sender = stdin_env_first(sender_env);

    GByteArray *msg = stdin_read_all(STDIN_FILENO);
    if (!msg) {
        log_error("cannot read standard input: %s", strerror(errno));
        return EX_IOERR;
    }
    config *cfg = NULL;
    store *st = NULL;
    int status = cmd_load_config(ctx, &cfg);
    if (status == 0)
        status = cmd_open_store(cfg, &st);
    if (status == 0) {
        store_outbox_remember(st);
        policy *p = policy_new(cfg, st);
        int commits = 0;
        policy_outcome out = POLICY_STORE_FAILED;   /* Postfix keeps the bounce and tries again */
        if (p) {
            policy_set_commit_hook(p, ingest_count_commit, &commits);
            policy_envelope env = { recipient, sender, "stdin", 0, 0 };
            out = stdin_handle_guarded(cfg, p, msg, &env);
            policy_free(p);
        }
        if (out == POLICY_STORE_FAILED)
            status = EX_TEMPFAIL;
        else if (commits && !stdin_hand_off(cfg, st))
            cmd_notify_queued(cfg, st);
    }
    if (st)
        store_close(st);
    if (cfg)
        config_free(cfg);
    g_byte_array_free(msg, TRUE);
    return status;
}

/* ---- replay ---- */

static int replay_usage(int status)
{
    FILE *out = status ? stderr : stdout;
    fprintf(out,
            "usage: bouncedemails [--config PATH] [--env NAME] [--debug] replay [--id N] [--dry-run]\n"
            "\n"
            "Processes the quarantined messages again with the current config, through the\n"
            "same path as new mail. A message that is handled now leaves the quarantine;\n"
            "one that still is not stays, with its reason brought up to date. Then one\n"
            "attempt is made at the notifications this queued. A message set aside because\n"
            "the daemon died while handling it is skipped unless --id names it.\n"
            "\n"
            "options:\n"
            "  --id N     only the quarantined message with this id\n"
            "  --dry-run  say what would happen, change nothing\n"
            "  --help     this help\n"
            "\n"
            "exit status: 0 done, 65 no quarantined message has that id, 75 the store\n"
            "failed (nothing of the message in hand was changed), 78 config error.\n");
    return status;
}

typedef struct replay_counts {
    int handled, kept, failed, skipped;
} replay_counts;

/* Replays one item; returns -1 when the store failed. */
static int replay_one(policy *p, const store_quarantine_item *item, bool dry_run, replay_counts *c)
{
    char *reason = NULL;
    policy_outcome out = policy_replay(p, item, dry_run, &reason);
    const char *would = dry_run ? "would be " : "";
    switch (out) {
    case POLICY_HANDLED:
    case POLICY_DUPLICATE:
        log_field("Replay:", "#%" PRId64 " %shandled", item->id, would);
        c->handled++;
        break;
    case POLICY_QUARANTINED:
        log_field("Replay:", "#%" PRId64 " %skept: %s", item->id, would, reason ? reason : "");
        c->kept++;
        break;
    case POLICY_STORE_FAILED:
        log_field("Replay:", "#%" PRId64 " failed: store error, left as it was", item->id);
        c->failed++;
        break;
    }
    free(reason);
    return out == POLICY_STORE_FAILED ? -1 : 0;
}

/* Replays the message with this id, read on its own: the quarantine is
 * listed without the messages and each is loaded only when its turn comes,
 * so that memory holds one message, however many are kept. */
static int replay_by_id(policy *p, store *st, int64_t id, bool dry_run, replay_counts *c)
{
    store_quarantine_item *item = NULL;
    int found = 0;
    if (store_quarantine_get(st, id, &item, &found) != 0) {
        log_error("store: quarantine: %s", store_errmsg(st));
        c->failed++;
        return -1;
    }
    if (!found)
        return 0;   /* gone since the listing (another replay) */
    int rc = replay_one(p, item, dry_run, c);
    store_quarantine_free(item, 1);
    return rc;
}

static int replay_run(const config *cfg, store *st, int64_t only_id, bool dry_run)
{
    store_quarantine_item *items = NULL;
    size_t n = 0;
    if (store_quarantine_list(st, 0, &items, &n) != 0) {
        log_error("store: quarantine: %s", store_errmsg(st));
        return EX_TEMPFAIL;
    }
    policy *p = policy_new(cfg, st);
    if (!p) {
        store_quarantine_free(items, n);
        return EX_SOFTWARE;
    }
    int commits = 0;
    replay_counts c = { 0, 0, 0, 0 };
    bool found = false;
    policy_set_commit_hook(p, ingest_count_commit, &commits);
    for (size_t i = 0; i < n; i++) {
        if (only_id > 0 && items[i].id != only_id)
            continue;
        found = true;
        /* It may kill this process as it killed the daemon, and the rest
         * of the quarantine would never be replayed. */
        if (only_id <= 0 && items[i].reason && strcmp(items[i].reason, POLICY_REASON_DIED_HANDLING) == 0) {
            log_field("Replay:", "#%" PRId64 " skipped: the daemon died handling it; replay --id %" PRId64
                      " tries it", items[i].id, items[i].id);
            c.skipped++;
            continue;
        }
        if (replay_by_id(p, st, items[i].id, dry_run, &c) != 0)
            break;
    }
    policy_free(p);
    store_quarantine_free(items, n);
    log_info("replay%s: %d handled, %d kept in the quarantine, %d skipped%s", dry_run ? " (dry run)" : "",
             c.handled, c.kept, c.skipped, c.failed ? ", stopped on a store error" : "");
    if (commits)
        cmd_notify_queued(cfg, st);
    if (only_id > 0 && !found) {
        fprintf(stderr, "bouncedemails: replay: no quarantined message has id %" PRId64 "\n", only_id);
        return EX_DATAERR;
    }
    return c.failed ? EX_TEMPFAIL : 0;
}

int cmd_replay(const cmd_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        { "id", required_argument, NULL, 'i' },
        { "dry-run", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int64_t only_id = 0;
    bool dry_run = false;
    int opt;
    char *end;

    cmd_normalize_options(argc, argv);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'i':
            only_id = strtoll(optarg, &end, 10);
            if (*end || only_id <= 0) {
                fprintf(stderr, "bouncedemails: replay: --id: '%s' is not an id\n", optarg);
                return EX_USAGE;
            }
            break;
        case 'n': dry_run = true; break;
        case 'h': return replay_usage(0);
        default: return replay_usage(EX_USAGE);
        }
    }
    if (optind < argc)
        return replay_usage(EX_USAGE);
    config *cfg = NULL;
    store *st = NULL;
    int status = cmd_load_config(ctx, &cfg);
    if (status == 0)
        status = cmd_open_store(cfg, &st);
    if (status == 0) {
        store_outbox_remember(st);
        status = replay_run(cfg, st, only_id, dry_run);
    }
    if (st)
        store_close(st);
    if (cfg)
        config_free(cfg);
    return status;
}
