/*
 * cmd.c - what the commands share: loading the config and opening the store
 * with the right exit status, the original's underscore option names, and the
 * options of the commands that take only --dry-run.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"

int cmd_load_config(const cmd_context *ctx, config **cfg)
{
    char err[1024];
    const char *path = ctx->config_path ? ctx->config_path : config_default_path();
    if (!ctx->config_path && access(path, F_OK) != 0) {
        *cfg = NULL;
        fprintf(stderr, "bouncedemails: no config file: tried %s (or give --config PATH)\n",
                config_default_paths_tried());
        return EX_CONFIG;
    }
    *cfg = config_load(path, ctx->env, err, sizeof err);
    if (!*cfg) {
        fprintf(stderr, "bouncedemails: %s\n", err);
        return EX_CONFIG;
    }
    return 0;
}

int cmd_open_store(const config *cfg, store **st)
{
    char err[1024];
    *st = store_open(cfg, err, sizeof err);
    if (!*st) {
        log_error("store unavailable: %s", err);
        return EX_TEMPFAIL;
    }
    return 0;
}

void cmd_normalize_options(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return;
        if (strncmp(argv[i], "--", 2) != 0) continue;
        for (char *p = argv[i] + 2; *p && *p != '='; p++)
            if (*p == '_') *p = '-';
    }
}

int cmd_dry_run_options(int argc, char **argv, bool *dry_run)
{
    static const struct option options[] = {
        { "dry-run", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    cmd_normalize_options(argc, argv);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'n': *dry_run = true; break;
        case 'h': return 1;
        default: return -1;
        }
    }
    return 0;
}
