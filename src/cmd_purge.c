/*
 * cmd_purge.c - `bouncedemails purge [--dry-run]`: removes what the
 * retention.* keys no longer keep (retention.c), at once, the same way the
 * daemon does every retention.interval: in small transactions.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>
#include <time.h>

#include "log.h"
#include "retention.h"

static int purge_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: bouncedemails [--config PATH] [--env NAME] purge [--dry-run]\n"
            "\n"
            "Removes message fingerprints, events, quarantined messages and kept\n"
            "non-bounces older than their retention (retention.fingerprint_days,\n"
            "event_days, quarantine_days, notbounce_days; 0 keeps them for ever), in\n"
            "batches of retention.batch rows. The daemon does the same every\n"
            "retention.interval. Archive files of permanent bounces are kept.\n"
            "\n"
            "options:\n"
            "  --dry-run  count what would be removed, remove nothing\n"
            "  --help     this help\n"
            "\n"
            "exit status: 0 done, 75 the store failed (what was removed stays removed),\n"
            "78 config error.\n");
    return status;
}

static int purge_run(const config *cfg, store *st, bool dry_run)
{
    retention_counts counts = { { 0 } };
    int rc = retention_purge(cfg, st, time(NULL), dry_run, 0, &counts);
    for (int k = 0; k < STORE_PURGE_KIND_COUNT; k++) {
        int days = retention_days(cfg, (store_purge_kind)k);
        if (days == 0)
            printf("%s: kept for ever\n", retention_kind_name((store_purge_kind)k));
        else
            printf("%s older than %d days: %ld %s\n", retention_kind_name((store_purge_kind)k), days,
                   counts.rows[k], dry_run ? "would be removed" : "removed");
    }
    if (rc < 0) {
        fprintf(stderr, "bouncedemails purge: store: %s\n", store_errmsg(st));
        return EX_TEMPFAIL;
    }
    return 0;
}

int cmd_purge(const cmd_context *ctx, int argc, char **argv)
{
    bool dry_run = false;
    int parsed = cmd_dry_run_options(argc, argv, &dry_run);
    if (parsed != 0) return purge_usage(parsed > 0 ? 0 : EX_USAGE);
    if (optind < argc) return purge_usage(EX_USAGE);
    config *cfg = NULL;
    store *st = NULL;
    int status = cmd_load_config(ctx, &cfg);
    if (status == 0) status = cmd_open_store(cfg, &st);
    if (status == 0) status = purge_run(cfg, st, dry_run);
    store_close(st);
    if (cfg) config_free(cfg);
    return status;
}
