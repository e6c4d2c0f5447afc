/*
 * cmd_history.c - `bouncedemails history --address A [--domain D] [--json]`:
 * the audit trail of one address, read from the event log: every verdict,
 * when, through which ingress, with its reason, status and diagnostic, the
 * notification it queued and what the platform answered, and the archived
 * bounce. The event log is not touched by reset-address, so the history
 * outlives a lifted suppression (retention.event_days limits it).
 */
#include "cmd.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <glib.h>
#include <jansson.h>

#include "log.h"
#include "policy/policy.h"

typedef struct history_args {
    const char *address;
    const char *domain;
    bool json;
} history_args;

static const char *const history_states[] = {
    [STORE_OUTBOX_PENDING] = "pending",
    [STORE_OUTBOX_DONE] = "done",
    [STORE_OUTBOX_GIVEN_UP] = "given up",
};

static const char *history_state(int state)
{
    return state >= 0 && state < (int)G_N_ELEMENTS(history_states) ? history_states[state] : NULL;
}

/* The archived raw bounce of an event that suspended: the address's file,
 * when it is there. Newly allocated, or NULL. */
static char *history_archive(const config *cfg, const store_history_item *it)
{
    const char *dir = cfg->handler.permanent_bounced_emails_path;
    if (!it->verdict || (strcmp(it->verdict, "permanent") != 0 && strcmp(it->verdict, "escalated") != 0 &&
                         strcmp(it->verdict, "complaint") != 0))
        return NULL;
    char *path = dir && *dir ? policy_archive_path(dir, it->address) : NULL;
    if (path && !g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        free(path);
        path = NULL;
    }
    return path;
}

static void history_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "%lld", (long long)t);
}

static void history_print_text(const store_history_item *it, const char *archive)
{
    char when[32];
    history_time(it->when, when, sizeof when);
    /* Stored text came from bounces and platforms: escaped as the log does. */
    const char *raw[] = { it->domain, it->ingress, it->verdict, it->reason, it->status, it->diagnostic,
                          it->notify_result, it->final };
    char *f[G_N_ELEMENTS(raw)];
    for (size_t i = 0; i < G_N_ELEMENTS(raw); i++) f[i] = log_escape_text(raw[i], SIZE_MAX);
    printf("%s  %s  via %s  %s  %s  %s\n", when, f[0], f[1], f[2], f[3], f[4]);
    printf("    diagnostic:   %s\n", f[5]);
    if (it->final) printf("    forwarded to: %s\n", f[7]);
    if (history_state(it->notify_state))
        printf("    notification: %s, %d attempt(s), last answer %s\n", history_state(it->notify_state),
               it->notify_attempts, f[6]);
    if (archive) printf("    archive:      %s\n", archive);
    for (size_t i = 0; i < G_N_ELEMENTS(f); i++) g_free(f[i]);
}

static void history_print_json(const store_history_item *it, const char *archive)
{
    char when[32];
    history_time(it->when, when, sizeof when);
    json_t *notification = json_null();
    if (history_state(it->notify_state))
        notification = json_pack("{s:s, s:i, s:s?}", "state", history_state(it->notify_state), "attempts",
                                 it->notify_attempts, "result", it->notify_result);
    json_t *o = json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:s?}",
                          "address", it->address ? it->address : "", "when", when, "time", (json_int_t)it->when, "domain", it->domain,
                          "ingress", it->ingress, "verdict", it->verdict, "reason", it->reason, "status",
                          it->status, "diagnostic", it->diagnostic, "final", it->final, "message",
                          it->message_id, "notification", notification, "archive", archive);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (text) puts(text);
    free(text);
    json_decref(o);
}

static int history_run(const config *cfg, store *st, const history_args *args)
{
    const config_domain *d = args->domain ? config_find_domain(cfg, args->domain) : NULL;
    const char *domain = d ? d->name : args->domain;
    store_history_item *items = NULL;
    size_t n = 0;
    if (store_history(st, args->address, domain, &items, &n) != 0) {
        fprintf(stderr, "bouncedemails history: %s\n", store_errmsg(st));
        return EX_TEMPFAIL;
    }
    if (!args->json) {
        char *shown = log_escape_text(args->address, SIZE_MAX);
        printf("%s: %zu event(s)%s%s\n", shown, n, domain ? " in " : "", domain ? domain : "");
        g_free(shown);
    }
    for (size_t i = 0; i < n; i++) {
        char *archive = history_archive(cfg, &items[i]);
        if (args->json) history_print_json(&items[i], archive);
        else history_print_text(&items[i], archive);
        free(archive);
    }
    store_history_free(items, n);
    return 0;
}

static int history_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: bouncedemails [--config PATH] [--env NAME] history --address ADDRESS\n"
            "                     [--domain DOMAIN] [--json]\n"
            "\n"
            "Prints every event recorded for ADDRESS, oldest first: when, the domain, the\n"
            "ingress it came through, the verdict, reason, status and diagnostic, the\n"
            "address a forward of it failed at (\"forwarded to\"), the notification it\n"
            "queued with the platform's last answer, and the archived bounce.\n"
            "reset-address leaves the history as it is.\n"
            "\n"
            "options:\n"
            "  --address ADDRESS  the address (case does not matter)\n"
            "  --domain DOMAIN    only this platform domain\n"
            "  --json             one JSON object per event (JSON Lines)\n"
            "  --help             this help\n");
    return status;
}

int cmd_history(const cmd_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        { "address", required_argument, NULL, 'a' },
        { "domain", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    history_args args = { 0 };
    int opt;

    cmd_normalize_options(argc, argv);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'a': args.address = optarg; break;
        case 'd': args.domain = optarg; break;
        case 'j': args.json = true; break;
        case 'h': return history_usage(0);
        default: return history_usage(EX_USAGE);
        }
    }
    if (optind < argc || !args.address || !strchr(args.address, '@')) return history_usage(EX_USAGE);
    config *cfg = NULL;
    store *st = NULL;
    int status = cmd_load_config(ctx, &cfg);
    if (status == 0) status = cmd_open_store(cfg, &st);
    if (status == 0) status = history_run(cfg, st, &args);
    store_close(st);
    if (cfg) config_free(cfg);
    return status;
}
