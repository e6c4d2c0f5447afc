/*
 * main.c - the bouncedemails command line: global options, then a command.
 *
 *   bouncedemails [--config PATH] [--env NAME] [--debug] COMMAND [ARGS...]
 *
 * The global options may also follow the command, as the original service's
 * users typed them, --no-debug included. Command names take dashes or
 * underscores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "build_config.h"
#include "cmd.h"
#include "log.h"

typedef int (*main_command_fn)(const cmd_context *ctx, int argc, char **argv);

static const struct main_command {
    const char *name;
    main_command_fn fn;
    const char *summary;
} main_commands[] = {
    { "run", cmd_run, "run the service in the foreground: queue, SMTP listener, notifier" },
    { "run-smtpserver", cmd_run_smtpserver, "run only the SMTP listener (and the notifier)" },
    { "stdin", cmd_stdin, "handle one bounce from standard input (a Postfix pipe)" },
    { "classify", cmd_classify, "classify bounces in files, mboxes or Maildirs and print the results" },
    { "find-address", cmd_find_address, "show what is known about an address" },
    { "set-permanent-bounced-address", cmd_set_permanent_bounced_address,
      "mark an address as permanently bounced for a domain and notify the platform" },
    { "reset-address", cmd_reset_address, "clear an address's counters and lift its suppression" },
    { "stats", cmd_stats, "per-domain counts" },
    { "replay", cmd_replay, "process the quarantine again with the current config" },
    { "outbox", cmd_outbox, "list pending and given-up notifications; 'outbox retry' revives them" },
    { "history", cmd_history, "every event of an address: verdicts, notifications, archive" },
    { "purge", cmd_purge, "remove what the retention settings no longer keep" },
    { "ingest", cmd_ingest, "run old bounces (mboxes, Maildirs, directories) through the policy" },
    { "import-original", cmd_import_original,
      "bring the original service's database and archive into this store" },
    { "verp-address", cmd_verp_address, "print the signed return path a platform sends to an address with" },
};

static void main_usage(FILE *out)
{
    fprintf(out,
            "usage: bouncedemails [--config PATH] [--env NAME] [--debug] COMMAND [ARGS...]\n"
            "\n"
            "Handles bounced mail for learning platforms: counts soft bounces, tells the\n"
            "platform about permanent ones.\n"
            "\n"
            "options:\n"
            "  --config PATH  config file (default ./config.yml, then /etc/bouncedemails/config.yml)\n"
            "  --env NAME     section of the config file to use (default production)\n"
            "  --debug        log debugging detail (--no-debug, the original's default: not)\n"
            "  --help         this help; COMMAND --help for a command's\n"
            "  --version      print the version\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof main_commands / sizeof main_commands[0]; i++)
        fprintf(out, "  %-31s %s\n", main_commands[i].name, main_commands[i].summary);
}

static const struct main_command *main_find_command(char *name)
{
    for (char *p = name; *p; p++)
        if (*p == '_') *p = '-';
    for (size_t i = 0; i < sizeof main_commands / sizeof main_commands[0]; i++)
        if (strcmp(main_commands[i].name, name) == 0) return &main_commands[i];
    return NULL;
}

/* Takes a global option at argv[*i] (and its value) into ctx. Returns 1 when
 * it was one, 0 when not, -1 when its value is missing. */
static int main_take_global(cmd_context *ctx, int argc, char **argv, int *i)
{
    const struct {
        const char *name;
        const char **value;
    } valued[] = { { "--config", &ctx->config_path }, { "--env", &ctx->env } };
    const char *arg = argv[*i];
    if (strcmp(arg, "--debug") == 0 || strcmp(arg, "--no-debug") == 0) {
        ctx->debug = arg[2] == 'd';
        return 1;
    }
    for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
        size_t len = strlen(valued[k].name);
        if (strcmp(arg, valued[k].name) == 0) {
            if (*i + 1 >= argc) return -1;
            *valued[k].value = argv[++*i];
            return 1;
        }
        if (strncmp(arg, valued[k].name, len) == 0 && arg[len] == '=') {
            *valued[k].value = arg + len + 1;
            return 1;
        }
    }
    return 0;
}

/* The word before the command: --help, --version, or the command's name.
 * Returns -1 when the command is found, else the exit status. */
static int main_take_command(char *arg, const struct main_command **command)
{
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        main_usage(stdout);
        return 0;
    }
    if (strcmp(arg, "--version") == 0) {
        printf("bouncedemails %s\n", BOUNCEDEMAILS_VERSION);
        return 0;
    }
    if (arg[0] != '-' && (*command = main_find_command(arg)) != NULL) return -1;
    fprintf(stderr, "bouncedemails: unknown %s '%s'\n\n", arg[0] == '-' ? "option" : "command",
            arg);
    main_usage(stderr);
    return EX_USAGE;
}

/* Splits argv into ctx's global options and the command's words (rest).
 * Returns -1 when a command is to run, else the exit status. */
static int main_parse(int argc, char **argv, cmd_context *ctx, char **rest, int *n_rest,
                      const struct main_command **command)
{
    for (int i = 1; i < argc; i++) {
        int taken = main_take_global(ctx, argc, argv, &i);
        if (taken < 0) {
            fprintf(stderr, "bouncedemails: %s needs a value\n", argv[i]);
            return EX_USAGE;
        }
        if (taken) continue;
        if (!*command) {
            int status = main_take_command(argv[i], command);
            if (status >= 0) return status;
        }
        rest[(*n_rest)++] = argv[i];
    }
    if (*command) return -1;
    main_usage(stderr);
    return EX_USAGE;
}

int main(int argc, char **argv)
{
    cmd_context ctx = { .config_path = NULL, .env = "production", .debug = false };
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n_rest = 0;
    const struct main_command *command = NULL;
    if (!rest) return EX_OSERR;
    /* Everything we create (database, archive, folders) holds addresses:
     * the service's group may read it, other users may not. */
    umask(027);

    int status = main_parse(argc, argv, &ctx, rest, &n_rest, &command);
    if (status < 0) {
        log_set_debug(ctx.debug);
        status = command->fn(&ctx, n_rest, rest);
    }
    free(rest);
    return status;
}
