/*
 * cmd_backfill.c - `bouncedemails ingest [--dry-run] PATH...`: old bounces
 * (mboxes, Maildirs, directories, files; cmd_sources.c reads them) run
 * through the whole policy as if they had arrived now: counted, suspended,
 * archived, notified. Each message is its own transaction and its
 * fingerprint is recorded, so a second run over the same files, or a
 * message the daemon already handled, changes nothing. Routing is by the
 * message's headers: there is no envelope recipient. --dry-run says what
 * would happen and writes nothing.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

#include "log.h"
#include "policy/policy.h"

typedef struct backfill_run {
    policy *pol;
    bool dry_run;
    long outcomes[POLICY_STORE_FAILED + 1];
    int commits;
} backfill_run;

static void backfill_count_commit(void *arg)
{
    (*(int *)arg)++;
}

static int backfill_one(void *arg, const char *source, int index, const char *msg, size_t len)
{
    backfill_run *run = arg;
    policy_envelope env = { NULL, NULL, "ingest", 0, 0 };
    log_debug("ingest: %s#%d", source, index);
    policy_outcome out = run->dry_run ? policy_handle_dry_run(run->pol, msg, len, &env)
                                      : policy_handle(run->pol, msg, len, &env);
    run->outcomes[out]++;
    if (out == POLICY_STORE_FAILED)
        log_error("ingest: %s#%d: store failed; stopping (run it again: what was done is kept)",
                  source, index);
    return out == POLICY_STORE_FAILED;
}

static int backfill_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: bouncedemails [--config PATH] [--env NAME] [--debug] ingest [--dry-run] PATH...\n"
            "\n"
            "Runs old bounces through the whole policy as if they arrived now: each PATH\n"
            "is a file (one message or an mbox), a Maildir or a directory (every file), or\n"
            "- for stdin. Messages handled before (by the daemon or an earlier run) are\n"
            "recognised by their fingerprint and change nothing. Then one attempt is made\n"
            "at the notifications this queued; what fails stays in the outbox.\n"
            "\n"
            "options:\n"
            "  --dry-run  say what would happen, change nothing\n"
            "  --help     this help\n"
            "\n"
            "exit status: 0 done, 66 a path could not be read (the others were ingested),\n"
            "75 the store failed (what was done before is kept), 78 config error.\n");
    return status;
}

static int backfill_main(const config *cfg, store *st, char *const *paths, int n, bool dry_run)
{
    backfill_run run = { .pol = policy_new(cfg, st), .dry_run = dry_run };
    if (!run.pol) return EX_SOFTWARE;
    policy_set_commit_hook(run.pol, backfill_count_commit, &run.commits);
    int status = cmd_each_message("ingest", paths, n, backfill_one, &run);
    policy_free(run.pol);
    log_info("ingest%s: %ld %shandled, %ld duplicate(s), %ld %squarantined%s", dry_run ? " (dry run)" : "",
             run.outcomes[POLICY_HANDLED], dry_run ? "would be " : "", run.outcomes[POLICY_DUPLICATE],
             run.outcomes[POLICY_QUARANTINED], dry_run ? "would be " : "",
             status < 0 ? ", stopped on a store error" : "");
    if (run.commits && !dry_run)
        cmd_notify_queued(cfg, st);
    return status < 0 ? EX_TEMPFAIL : status;
}

int cmd_ingest(const cmd_context *ctx, int argc, char **argv)
{
    bool dry_run = false;
    int parsed = cmd_dry_run_options(argc, argv, &dry_run);
    if (parsed != 0) return backfill_usage(parsed > 0 ? 0 : EX_USAGE);
    if (optind >= argc) return backfill_usage(EX_USAGE);
    config *cfg = NULL;
    store *st = NULL;
    int status = cmd_load_config(ctx, &cfg);
    if (status == 0) status = cmd_open_store(cfg, &st);
    /* The prompt attempt is at what this run queued, never at another
     * platform's backlog (issue 13, point 11). */
    if (status == 0) store_outbox_remember(st);
    if (status == 0) status = backfill_main(cfg, st, argv + optind, argc - optind, dry_run);
    store_close(st);
    if (cfg) config_free(cfg);
    return status;
}
