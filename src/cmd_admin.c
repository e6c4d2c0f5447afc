/*
 * cmd_admin.c - the administrator's commands: find-address and
 * set-permanent-bounced-address (the original service's, same names and
 * options), reset-address, stats and outbox. Each reads the config, opens the
 * store, and exits with a sysexits(3) status: 64 for a usage error, 78 for
 * the config, 75 when the store is unavailable.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <glib.h>
#include <jansson.h>

#include "log.h"
#include "notify/notify.h"

#define ADMIN_SYNOPSIS "usage: bouncedemails [--config PATH] [--env NAME] [--debug] "
#define ADMIN_DAY 86400L

/* One command's options: each takes a value, stored in *value. */
typedef struct admin_option {
    const char *name;
    const char **value;
} admin_option;

typedef struct admin_command {
    const char *usage;        /* printed after ADMIN_SYNOPSIS */
    const admin_option *options;
    size_t n_options;
    size_t max_args;          /* words after the options */
} admin_command;

static int admin_usage(const admin_command *cmd, int status)
{
    fprintf(status ? stderr : stdout, ADMIN_SYNOPSIS "%s", cmd->usage);
    return status;
}

/* Parses argv (argv[0] the command's name) into the command's options, both
 * --long_name and --long-name. Returns -1 when parsed, else the exit status
 * (0 after --help). *first_arg: index of the first word after the options. */
static int admin_parse(const admin_command *cmd, int argc, char **argv, int *first_arg)
{
    struct option *longopts = g_new0(struct option, cmd->n_options + 2);
    size_t i;
    for (i = 0; i < cmd->n_options; i++)
        longopts[i] = (struct option){ cmd->options[i].name, required_argument, NULL, (int)i };
    longopts[i] = (struct option){ "help", no_argument, NULL, 'h' };

    cmd_normalize_options(argc, argv);
    optind = 1;
    int opt, status = -1;
    while (status < 0 && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 'h')
            status = admin_usage(cmd, 0);
        else if (opt >= 0 && (size_t)opt < cmd->n_options)
            *cmd->options[opt].value = optarg;
        else
            status = admin_usage(cmd, EX_USAGE);
    }
    g_free(longopts);
    if (status >= 0) return status;
    if ((size_t)(argc - optind) > cmd->max_args) {
        fprintf(stderr, "bouncedemails %s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
        return admin_usage(cmd, EX_USAGE);
    }
    *first_arg = optind;
    return -1;
}

/* An option that must be given, and look like an address when it names one. */
static int admin_require(const char *command, const char *option, const char *value, bool address)
{
    if (!value || !*value) {
        fprintf(stderr, "bouncedemails %s: --%s is required (see --help)\n", command, option);
        return EX_USAGE;
    }
    const char *at = strrchr(value, '@');
    if (address && (!at || at == value || !at[1])) {
        fprintf(stderr, "bouncedemails %s: --%s: \"%s\" is not an email address\n", command,
                option, value);
        return EX_USAGE;
    }
    return 0;
}

/* What the options gave: each command reads the fields it has options for. */
typedef struct admin_args {
    const char *address;
    const char *domain;
    bool retry;
    bool json;
} admin_args;

typedef int (*admin_run_fn)(const config *cfg, store *st, const admin_args *args);

/* Runs a command's work with the config loaded and the store open. */
static int admin_with_store(const cmd_context *ctx, admin_run_fn run, const admin_args *args)
{
    config *cfg = NULL;
    store *st = NULL;
    int status = cmd_load_config(ctx, &cfg);
    if (status == 0) status = cmd_open_store(cfg, &st);
    if (status == 0) status = run(cfg, st, args);
    store_close(st);
    if (cfg) config_free(cfg);
    return status;
}

/* A store error after opening: the store is there but not usable now. */
static int admin_store_failed(store *st, const char *what)
{
    fprintf(stderr, "bouncedemails: %s: %s\n", what, store_errmsg(st));
    store_rollback(st);
    return EX_TEMPFAIL;
}

static const char *admin_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "%lld", (long long)t);
    return buf;
}

/* The configured domain that a --domain value names (by registrable domain),
 * or the value itself when none does: data may outlive a domain's config. */
static const char *admin_domain_name(const config *cfg, const char *value)
{
    const config_domain *d = config_find_domain(cfg, value);
    return d ? d->name : value;
}

/* ---- find-address ---- */

static void find_print_soft(const config *cfg, const store_address_info *in, time_t now)
{
    char first[32], last[32], until[32];
    long window = (long)cfg->handler.temporary_window_days * ADMIN_DAY;
    time_t ends = in->soft_last + window;
    if (in->soft_count == 0) {
        printf("    soft bounces:    none counted\n");
    } else if (ends < now) {
        printf("    soft bounces:    %d, expired (the last on %s is more than %d days old;"
               " the next one counts as 1)\n", in->soft_count,
               admin_time(in->soft_last, last, sizeof last), cfg->handler.temporary_window_days);
    } else {
        printf("    soft bounces:    %d (threshold %d), first %s, last %s, counted until %s\n",
               in->soft_count, cfg->handler.temporary_threshold,
               admin_time(in->soft_first, first, sizeof first),
               admin_time(in->soft_last, last, sizeof last), admin_time(ends, until, sizeof until));
    }
}

static void find_print_permanent(const store_address_info *in)
{
    char when[32];
    if (!in->permanent) {
        printf("    suppressed:      no\n");
        return;
    }
    char *reason = log_escape_text(in->permanent_reason, 80);
    char *status = log_escape_text(in->permanent_status && *in->permanent_status
                                   ? in->permanent_status : NULL, 20);
    char *answer = log_escape_text(in->platform_answer, 300);
    printf("    suppressed:      yes, since %s, reason %s, status %s\n",
           admin_time(in->permanent_when, when, sizeof when), reason, status);
    printf("    platform answer: %s\n", in->platform_answer ? answer : "none yet");
    g_free(reason);
    g_free(status);
    g_free(answer);
}

static void find_print_outbox(const store_outbox_item *it)
{
    char when[32];
    char *result = log_escape_text(it->last_result, 200);
    if (it->state == STORE_OUTBOX_PENDING)
        printf("    notification:    pending, %d attempt(s), next %s, last result %s\n",
               it->attempts, admin_time(it->next_attempt, when, sizeof when), result);
    else
        printf("    notification:    given up after %d attempt(s), last result %s"
               " (`bouncedemails outbox retry` sends it again)\n", it->attempts, result);
    g_free(result);
}

/* Everything known about one address, per domain. */
static int find_print_address(const config *cfg, store *st, const char *address,
                              const store_outbox_item *items, size_t n_items)
{
    store_address_info *info = NULL;
    size_t n = 0;
    if (store_find_address(st, address, &info, &n) < 0) return -1;
    char *shown = log_escape_text(address, 320);
    printf("%s\n", shown);
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        char *domain = log_escape_text(info[i].domain, 255);
        printf("  %s\n", domain);
        find_print_soft(cfg, &info[i], now);
        find_print_permanent(&info[i]);
        for (size_t j = 0; j < n_items; j++)
            if (g_ascii_strcasecmp(items[j].address, address) == 0 &&
                g_ascii_strcasecmp(items[j].domain, info[i].domain) == 0)
                find_print_outbox(&items[j]);
        g_free(domain);
    }
    g_free(shown);
    store_address_info_free(info, n);
    return 0;
}

/* Like the original, --address is a part of an address: every address that
 * contains it is listed, each with what is known about it. */
#define FIND_MAX_MATCHES 1000

static int find_address_run(const config *cfg, store *st, const admin_args *args)
{
    char **matches = NULL;
    store_outbox_item *items = NULL;
    size_t n = 0, n_items = 0;
    if (store_match_addresses(st, args->address, FIND_MAX_MATCHES + 1, &matches, &n) < 0)
        return admin_store_failed(st, "find-address");
    if (store_outbox_list(st, &items, &n_items) < 0) {
        store_strings_free(matches, n);
        return admin_store_failed(st, "find-address");
    }
    int status = 0;
    if (n == 0) {
        char *shown = log_escape_text(args->address, 320);
        printf("%s: nothing known\n", shown);
        g_free(shown);
    }
    for (size_t i = 0; i < n && i < FIND_MAX_MATCHES && status == 0; i++)
        if (find_print_address(cfg, st, matches[i], items, n_items) < 0)
            status = admin_store_failed(st, "find-address");
    if (n > FIND_MAX_MATCHES)
        printf("(more than %d addresses match; give more of the address)\n", FIND_MAX_MATCHES);
    store_outbox_free(items, n_items);
    store_strings_free(matches, n);
    return status;
}

int cmd_find_address(const cmd_context *ctx, int argc, char **argv)
{
    admin_args args = { 0 };
    const admin_option options[] = { { "address", &args.address } };
    const admin_command cmd = {
        "find-address --address PART\n"
        "\n"
        "Lists every address that contains PART (as the original did; a whole address\n"
        "matches itself) and shows, for each platform domain, its soft-bounce count\n"
        "and window, whether it is suppressed (since when, why, and what the platform\n"
        "answered), and a notification still in the outbox.\n"
        "\n"
        "options:\n"
        "  --address PART     the address or a part of it (case does not matter)\n"
        "  --help             this help\n",
        options, G_N_ELEMENTS(options), 0,
    };
    int arg, status = admin_parse(&cmd, argc, argv, &arg);
    if (status >= 0) return status;
    if ((status = admin_require(argv[0], "address", args.address, false))) return status;
    return admin_with_store(ctx, find_address_run, &args);
}

/* ---- set-permanent-bounced-address ---- */

/* Records the suppression, its event and its notification in one transaction. */
static int set_permanent_commit(store *st, const char *address, const char *domain, time_t now)
{
    store_permanent p = { address, domain, "manual", "", now };
    store_event ev = { "admin", address, domain, "permanent", "manual", "",
                       "set-permanent-bounced-address", "admin", now, NULL };
    if (store_begin(st) < 0 || store_permanent_add(st, &p) < 0 || store_event_add(st, &ev) < 0 ||
        store_outbox_add(st, address, domain, "manual", "", "set by an administrator", now) < 0 ||
        store_commit(st) < 0)
        return admin_store_failed(st, "set-permanent-bounced-address");
    return 0;
}

static int set_permanent_run(const config *cfg, store *st, const admin_args *args)
{
    const char *address = args->address, *domain_arg = args->domain;
    const config_domain *d = config_find_domain(cfg, domain_arg);
    if (!d) {
        fprintf(stderr, "bouncedemails set-permanent-bounced-address: --domain %s is not one of"
                        " the configured domains:", domain_arg);
        for (size_t i = 0; i < cfg->handler.n_domains; i++)
            fprintf(stderr, " %s", cfg->handler.domains[i].name);
        fprintf(stderr, "\n");
        return EX_USAGE;
    }
    /* Only this address's notification is sent now, not the outbox's
     * backlog, which is the daemon's. */
    store_outbox_remember(st);
    int status = set_permanent_commit(st, address, d->name, time(NULL));
    if (status) return status;
    log_field("Domain:", "%s", d->name);
    log_field("Permanent:", "%s (set by an administrator)", address);
    /* As the original did, the platform is told at once; what fails stays in
     * the outbox for `bouncedemails run`. */
    notify *n = notify_new(cfg, st);
    size_t attempted = 0;
    if (notify_run_remembered(n, time(NULL), &attempted) != 0)
        log_warn("the notification stays in the outbox for `bouncedemails run`");
    notify_free(n);
    return 0;
}

int cmd_set_permanent_bounced_address(const cmd_context *ctx, int argc, char **argv)
{
    admin_args args = { 0 };
    const admin_option options[] = { { "bounced-address", &args.address },
                                     { "domain", &args.domain } };
    const admin_command cmd = {
        "set-permanent-bounced-address --bounced_address ADDRESS --domain DOMAIN\n"
        "\n"
        "Records ADDRESS as permanently bounced for the platform DOMAIN and tells the\n"
        "platform, as a permanent failure in a bounce would: the notification is\n"
        "queued in the outbox and attempted at once; if the platform cannot be\n"
        "reached it stays there for `bouncedemails run`.\n"
        "\n"
        "options:\n"
        "  --bounced_address ADDRESS  the address (also --bounced-address)\n"
        "  --domain DOMAIN            a configured platform domain, or a host in it\n"
        "  --help                     this help\n",
        options, G_N_ELEMENTS(options), 0,
    };
    int arg, status = admin_parse(&cmd, argc, argv, &arg);
    if (status >= 0) return status;
    if ((status = admin_require(argv[0], "bounced_address", args.address, true)) ||
        (status = admin_require(argv[0], "domain", args.domain, false)))
        return status;
    return admin_with_store(ctx, set_permanent_run, &args);
}

/* ---- reset-address ---- */

static int reset_address_run(const config *cfg, store *st, const admin_args *args)
{
    const char *address = args->address;
    const char *domain = args->domain ? admin_domain_name(cfg, args->domain) : NULL;
    time_t now = time(NULL);
    store_address_info *info = NULL;
    size_t n = 0;
    int lifted = 0, cancelled = 0;
    store_event ev = { "admin", address, domain, "reset", "manual", "", "reset-address", "admin",
                       now, NULL };
    if (store_begin(st) < 0 || store_find_address(st, address, &info, &n) < 0)
        return admin_store_failed(st, "reset-address");
    int counters = 0;
    for (size_t i = 0; i < n; i++)
        if (info[i].soft_count && (!domain || g_ascii_strcasecmp(info[i].domain, domain) == 0))
            counters++;
    store_address_info_free(info, n);
    if (store_soft_reset(st, address, domain) < 0 ||
        store_permanent_remove(st, address, domain, &lifted) < 0 ||
        store_outbox_cancel(st, address, domain, &cancelled) < 0 ||
        store_event_add(st, &ev) < 0 || store_commit(st) < 0)
        return admin_store_failed(st, "reset-address");

    char *shown = log_escape_text(address, 320);
    printf("%s%s%s: %d soft-bounce counter(s) cleared, %d suppression(s) lifted, %d queued"
           " notification(s) cancelled\n", shown, domain ? " in " : "", domain ? domain : "",
           counters, lifted, cancelled);
    if (lifted)
        printf("The platform is not told: lift the suspension there as well.\n");
    g_free(shown);
    return 0;
}

int cmd_reset_address(const cmd_context *ctx, int argc, char **argv)
{
    admin_args args = { 0 };
    const admin_option options[] = { { "address", &args.address }, { "domain", &args.domain } };
    const admin_command cmd = {
        "reset-address --address ADDRESS [--domain DOMAIN]\n"
        "\n"
        "Clears ADDRESS's soft-bounce counters and lifts its suppression, for DOMAIN or\n"
        "for every domain, and cancels its notifications still in the outbox. The\n"
        "platform is not told; lift the suspension there as well. The event log\n"
        "keeps the history, with this reset in it.\n"
        "\n"
        "options:\n"
        "  --address ADDRESS  the address (case does not matter)\n"
        "  --domain DOMAIN    only this platform domain (default: all)\n"
        "  --help             this help\n",
        options, G_N_ELEMENTS(options), 0,
    };
    int arg, status = admin_parse(&cmd, argc, argv, &arg);
    if (status >= 0) return status;
    if ((status = admin_require(argv[0], "address", args.address, true))) return status;
    if (args.domain && (status = admin_require(argv[0], "domain", args.domain, false)))
        return status;
    return admin_with_store(ctx, reset_address_run, &args);
}

/* ---- stats ---- */

static void stats_print(const store_domain_stats *ds)
{
    char *domain = log_escape_text(ds->domain, 30);
    printf("%-30s %10ld %10ld %10ld %10ld %10ld %10ld\n", domain, ds->soft_addresses,
           ds->permanent, ds->complaints, ds->events, ds->outbox_pending, ds->outbox_given_up);
    g_free(domain);
}

/* One JSON object, for scripts and checks: the table's numbers, and the
 * quarantine's bytes and the oldest pending notification's age that the
 * metrics export too. */
static int stats_print_json(const config *cfg, store *st, const store_domain_stats *stats, size_t n,
                            long quarantined)
{
    store_outbox_gauge *gauges = NULL;
    size_t n_gauges = 0;
    store_quarantine_size q = { 0 };
    if (store_outbox_gauges(st, &gauges, &n_gauges) < 0 || store_quarantine_size_get(st, &q) < 0)
        return admin_store_failed(st, "stats");
    time_t now = time(NULL), oldest = 0;
    for (size_t i = 0; i < n_gauges; i++)
        if (gauges[i].oldest_pending && (!oldest || gauges[i].oldest_pending < oldest))
            oldest = gauges[i].oldest_pending;
    store_outbox_gauges_free(gauges, n_gauges);
    json_t *domains = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(domains, json_pack("{s:s?, s:I, s:I, s:I, s:I, s:I, s:I}",
            "domain", stats[i].domain, "soft_addresses", (json_int_t)stats[i].soft_addresses,
            "permanent", (json_int_t)stats[i].permanent, "complaints", (json_int_t)stats[i].complaints,
            "events", (json_int_t)stats[i].events, "outbox_pending", (json_int_t)stats[i].outbox_pending,
            "outbox_given_up", (json_int_t)stats[i].outbox_given_up));
    json_t *doc = json_pack("{s:o, s:i, s:I, s:I, s:I}", "domains", domains,
        "soft_window_days", cfg->handler.temporary_window_days, "quarantined", (json_int_t)quarantined,
        "quarantine_bytes", (json_int_t)q.bytes,
        "outbox_oldest_pending_age_seconds", (json_int_t)(oldest && now > oldest ? now - oldest : 0));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("%s\n", text);
    free(text);
    json_decref(doc);
    return 0;
}

static int stats_run(const config *cfg, store *st, const admin_args *args)
{
    store_domain_stats *stats = NULL;
    size_t n = 0;
    long quarantined = 0;
    long window = (long)cfg->handler.temporary_window_days * ADMIN_DAY;
    if (store_stats(st, time(NULL), window, &stats, &n, &quarantined) < 0)
        return admin_store_failed(st, "stats");
    if (args->json) {
        int status = stats_print_json(cfg, st, stats, n, quarantined);
        store_stats_free(stats, n);
        return status;
    }
    printf("%-30s %10s %10s %10s %10s %10s %10s\n", "domain", "soft", "permanent",
           "complaints", "events", "pending", "given-up");
    for (size_t i = 0; i < n; i++) stats_print(&stats[i]);
    printf("soft: addresses with a soft bounce in the last %d days\n",
           cfg->handler.temporary_window_days);
    printf("quarantined messages: %ld\n", quarantined);
    store_stats_free(stats, n);
    return 0;
}

int cmd_stats(const cmd_context *ctx, int argc, char **argv)
{
    const admin_command cmd = {
        "stats [--json]\n"
        "\n"
        "Per platform domain: addresses with soft bounces inside the window,\n"
        "suppressed addresses, complaints and verdicts in the event log, and\n"
        "notifications pending or given up in the outbox; then the number of\n"
        "messages in the quarantine.\n"
        "\n"
        "options:\n"
        "  --json  one JSON object instead of the table, with the quarantine's bytes\n"
        "          and the age of the oldest pending notification\n"
        "  --help  this help\n",
        NULL, 0, 0,
    };
    admin_args args = { 0 };
    /* A flag, which admin_parse() (options with values) does not take. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0) {
            args.json = true;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
            argc--;
            i--;
        }
    int arg, status = admin_parse(&cmd, argc, argv, &arg);
    if (status >= 0) return status;
    return admin_with_store(ctx, stats_run, &args);
}

/* ---- outbox ---- */

static void outbox_print(const store_outbox_item *it)
{
    char created[32], next[32];
    char *address = log_escape_text(it->address, 120);
    char *domain = log_escape_text(it->domain, 60);
    char *reason = log_escape_text(it->reason, 40);
    char *result = log_escape_text(it->last_result, 200);
    printf("#%lld %s %s at %s: %s, queued %s, %d attempt(s)", (long long)it->id,
           it->state == STORE_OUTBOX_PENDING ? "pending " : "given up", address, domain, reason,
           admin_time(it->created, created, sizeof created), it->attempts);
    if (it->state == STORE_OUTBOX_PENDING)
        printf(", next %s", admin_time(it->next_attempt, next, sizeof next));
    printf(", last result: %s\n", result);
    g_free(address);
    g_free(domain);
    g_free(reason);
    g_free(result);
}

static int outbox_list_run(store *st)
{
    store_outbox_item *items = NULL;
    size_t n = 0;
    if (store_outbox_list(st, &items, &n) < 0) return admin_store_failed(st, "outbox");
    size_t given_up = 0;
    for (size_t i = 0; i < n; i++) {
        outbox_print(&items[i]);
        given_up += items[i].state == STORE_OUTBOX_GIVEN_UP;
    }
    printf("%zu pending, %zu given up", n - given_up, given_up);
    printf(given_up ? " (`bouncedemails outbox retry` queues them again)\n" : "\n");
    store_outbox_free(items, n);
    return 0;
}

static int outbox_retry_run(store *st)
{
    int moved = 0;
    if (store_begin(st) < 0 || store_outbox_retry_given_up(st, time(NULL), &moved) < 0 ||
        store_commit(st) < 0)
        return admin_store_failed(st, "outbox retry");
    printf("%d given-up notification(s) queued again; `bouncedemails run` sends them\n", moved);
    return 0;
}

static int outbox_run(const config *cfg, store *st, const admin_args *args)
{
    (void)cfg;
    return args->retry ? outbox_retry_run(st) : outbox_list_run(st);
}

int cmd_outbox(const cmd_context *ctx, int argc, char **argv)
{
    const admin_command cmd = {
        "outbox [retry]\n"
        "\n"
        "Lists the platform notifications not yet delivered: pending ones (with their\n"
        "next attempt) and given-up ones (a 4xx answer other than 404 and 410, or too\n"
        "many attempts), each with the last result.\n"
        "\n"
        "  retry   queues every given-up notification again, due now, its attempts\n"
        "          counted afresh\n"
        "\n"
        "options:\n"
        "  --help  this help\n",
        NULL, 0, 1,
    };
    int arg, status = admin_parse(&cmd, argc, argv, &arg);
    if (status >= 0) return status;
    admin_args args = { .retry = arg < argc };
    if (args.retry && strcmp(argv[arg], "retry") != 0) {
        fprintf(stderr, "bouncedemails outbox: unknown subcommand \"%s\"\n", argv[arg]);
        return admin_usage(&cmd, EX_USAGE);
    }
    return admin_with_store(ctx, outbox_run, &args);
}
