/*
 * cmd.h - the commands of the bouncedemails program. main.c parses the
 * global options (--config, --env, --debug, --help, --version) wherever they
 * stand and calls one of these with the remaining arguments, argv[0] being
 * the command's name. Each returns a sysexits(3) status.
 */
#ifndef BOUNCEDEMAILS_CMD_H
#define BOUNCEDEMAILS_CMD_H

#include <stdbool.h>
#include "config.h"
#include "store/store.h"

typedef struct cmd_context {
    const char *config_path;  /* NULL: config_default_path() */
    const char *env;          /* "production" unless --env */
    bool debug;
} cmd_context;

/* Loads the config (and opens the store): prints the error and returns
 * EX_CONFIG / EX_TEMPFAIL on failure, else 0. */
int cmd_load_config(const cmd_context *ctx, config **cfg);
int cmd_open_store(const config *cfg, store **st);

/* Accepts both --long_name and --long-name: rewrites underscores in option
 * names to dashes in place, for getopt_long. */
void cmd_normalize_options(int argc, char **argv);
/* Parses the options of a command that takes only --dry-run and --help
 * (purge, ingest): returns 0 with optind at the first operand, 1 when --help
 * was asked for, -1 on any other option (getopt has said which on stderr). */
int cmd_dry_run_options(int argc, char **argv, bool *dry_run);

/* Calls fn for every message that the paths hold (cmd_sources.c: files,
 * mboxes, Maildirs, directories, "-" for stdin), source being the file it
 * came from and index its place in it. fn returns nonzero to stop. Returns
 * 0, EX_NOINPUT when a path could not be read (said on stderr, the rest still
 * read), or -1 when fn stopped it. */
typedef int (*cmd_message_fn)(void *arg, const char *source, int index, const char *msg, size_t len);
int cmd_each_message(const char *command, char *const *paths, int n, cmd_message_fn fn, void *arg);

/* One prompt attempt at the notifications this run queued (after
 * store_outbox_remember(st)), never at another run's backlog; what fails
 * stays in the outbox for the daemon, as a warning says. */
void cmd_notify_queued(const config *cfg, store *st);

int cmd_classify(const cmd_context *ctx, int argc, char **argv);
int cmd_stdin(const cmd_context *ctx, int argc, char **argv);
/* In the program, loading the daemon module (cmd_daemon.c); the module's
 * entry points, which they call (cmd_run.c). */
int cmd_run(const cmd_context *ctx, int argc, char **argv);
int cmd_run_smtpserver(const cmd_context *ctx, int argc, char **argv);
int cmd_run_module_run(const cmd_context *ctx, int argc, char **argv);
int cmd_run_module_smtpserver(const cmd_context *ctx, int argc, char **argv);
int cmd_replay(const cmd_context *ctx, int argc, char **argv);
int cmd_find_address(const cmd_context *ctx, int argc, char **argv);
int cmd_set_permanent_bounced_address(const cmd_context *ctx, int argc, char **argv);
int cmd_reset_address(const cmd_context *ctx, int argc, char **argv);
int cmd_stats(const cmd_context *ctx, int argc, char **argv);
int cmd_outbox(const cmd_context *ctx, int argc, char **argv);
int cmd_import_original(const cmd_context *ctx, int argc, char **argv);
int cmd_ingest(const cmd_context *ctx, int argc, char **argv);
int cmd_purge(const cmd_context *ctx, int argc, char **argv);
int cmd_history(const cmd_context *ctx, int argc, char **argv);
int cmd_verp_address(const cmd_context *ctx, int argc, char **argv);

#endif
