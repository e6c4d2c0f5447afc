/*
 * cmd_run.c - the daemon: `run` starts every ingress the config enables (the
 * RabbitMQ consumer, the SMTP listener) and the notifier in one process;
 * `run-smtpserver` (the original's command) starts the SMTP listener and the
 * notifier only. Each ingress thread has its own store handle and policy.
 * SIGTERM and SIGINT stop taking messages, let what is in hand commit, and
 * exit cleanly. With libsystemd, readiness and stopping are reported to
 * systemd (Type=notify), and when the unit sets WatchdogSec the event loop
 * says WATCHDOG=1 at half that interval, so that a hung loop gets the
 * daemon restarted. The metrics endpoint (metrics.listen) serves
 * /metrics, /healthz and /readyz on the same event loop.
 *
 * It is built into the daemon module, which cmd_daemon.c loads; its two
 * entry points are the module's interface.
 */
#include "cmd.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <event2/event.h>
#include <glib.h>

#include "build_config.h"
#include "dynlib.h"
#include "ingress/amqp_ingress.h"
#include "ingress/crash_guard.h"
#include "ingress/smtp.h"
#include "log.h"
#include "metrics/metrics.h"
#include "notify/notify.h"
#include "policy/policy.h"
#include "retention.h"

#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

/* libsystemd, loaded only when systemd waits to hear from the daemon
 * (NOTIFY_SOCKET is set; the watchdog's messages go there too): other
 * commands, and a daemon started by hand, never map it (dynlib.h). */
static struct {
    __typeof__(sd_notify) *notify;
    __typeof__(sd_watchdog_enabled) *watchdog_enabled;
} run_systemd;

static int run_systemd_load(void)
{
    static const char *const symbols[] = { "sd_notify", "sd_watchdog_enabled" };
    void **const slots[] = { (void **)&run_systemd.notify, (void **)&run_systemd.watchdog_enabled };
    char err[512];
    if (!getenv("NOTIFY_SOCKET")) return 0;
    if (dynlib_load("libsystemd.so.0", symbols, slots, 2, err, sizeof err) == 0) return 0;
    log_error("NOTIFY_SOCKET is set, but %s", err);
    return EX_SOFTWARE;
}

static void run_sd_notify(const char *state)
{
    if (run_systemd.notify) run_systemd.notify(0, state);
}
#else
static int run_systemd_load(void) { return 0; }
static void run_sd_notify(const char *state) { (void)state; }
#endif

typedef struct run_ingress {
    store *st;
    policy *pol;
} run_ingress;

typedef struct run_daemon {
    const config *cfg;
    struct event_base *base;
    store *notify_store;
    notify *notifier;
    run_ingress amqp_side, smtp_side;
    amqp_ingress *amqp;
    smtp_server *smtp;
    metrics_server *metrics;
    struct event *watchdog;
    store *purge_store;
    retention_thread *retention;
} run_daemon;

static void run_wake_notifier(void *arg)
{
    notify_wake(arg);
}

static int run_ingress_open(run_daemon *d, run_ingress *side)
{
    int status = cmd_open_store(d->cfg, &side->st);
    if (status) return status;
    side->pol = policy_new(d->cfg, side->st);
    if (!side->pol) return EX_SOFTWARE;
    policy_set_commit_hook(side->pol, run_wake_notifier, d->notifier);
    return 0;
}

static void run_ingress_close(run_ingress *side)
{
    if (side->pol) policy_free(side->pol);
    if (side->st) store_close(side->st);
    side->pol = NULL;
    side->st = NULL;
}

static void run_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    run_daemon *d = arg;
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    run_sd_notify("STOPPING=1");
    event_base_loopbreak(d->base);
}

/* The endpoint, with a store handle of its own for the gauges. Bounces go
 * on without it: when its port is taken (the original's two units, `run`
 * and `run-smtpserver`, on one machine with one config), the second daemon
 * says so and runs unwatched. */
static int run_metrics_start(run_daemon *d)
{
    char err[512];
    store *st = NULL;
    if (!d->cfg->metrics.listen) return 0;
    int status = cmd_open_store(d->cfg, &st);
    if (status) return status;
    d->metrics = metrics_server_new(d->base, d->cfg, st, err, sizeof err);
    if (!d->metrics)
        log_error("%s; running without /metrics, /healthz and /readyz (give each daemon its own "
                  "metrics.listen)", err);
    return 0;
}

#if HAVE_LIBSYSTEMD
static void run_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    run_sd_notify("WATCHDOG=1");
}

/* A persistent timer at half the watchdog interval, when systemd asks for
 * one (WATCHDOG_USEC); it runs in the loop that serves SMTP and signals,
 * so it stops when the loop stops. */
static void run_watchdog_start(run_daemon *d)
{
    uint64_t usec = 0;
    if (!run_systemd.watchdog_enabled || run_systemd.watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    struct timeval half = { (time_t)(usec / 2 / 1000000), (suseconds_t)(usec / 2 % 1000000) };
    d->watchdog = event_new(d->base, -1, EV_PERSIST, run_on_watchdog, d);
    if (d->watchdog) event_add(d->watchdog, &half);
    log_debug("watchdog: WATCHDOG=1 every %llu ms", (unsigned long long)(usec / 2000));
}
#else
static void run_watchdog_start(run_daemon *d) { (void)d; }
#endif

/* Retention prunes in a thread of its own (retention.h), with its own store
 * handle. */
static int run_purge_start(run_daemon *d)
{
    int status = cmd_open_store(d->cfg, &d->purge_store);
    if (status) return status;
    d->retention = retention_start(d->cfg, d->purge_store);
    return d->retention ? 0 : EX_OSERR;
}

/* Removes the crash marks of messages that never came back (purged from
 * the queue, deleted from Postfix's queue): the RabbitMQ consumer's and
 * `stdin` runs' (ingress/crash_guard.h), whichever ingresses this daemon
 * runs. */
static void run_sweep_crash_marks(const config *cfg)
{
    char *dir = g_build_filename(cfg->handler.permanent_bounced_emails_path, CRASH_GUARD_FOLDER, NULL);
    crash_guard_sweep(dir, CRASH_GUARD_MAX_AGE_S);
    g_free(dir);
}

static int run_start(run_daemon *d)
{
    run_sweep_crash_marks(d->cfg);
    if (metrics_init(d->cfg) != 0) return EX_OSERR;
    int status = run_metrics_start(d);
    if (status) return status;
    status = cmd_open_store(d->cfg, &d->notify_store);
    if (status) return status;
    d->notifier = notify_new(d->cfg, d->notify_store);
    if (notify_start(d->notifier) != 0) {
        log_error("cannot start the notifier");
        return EX_SOFTWARE;
    }
    if (d->cfg->amqp.enabled) {
        if ((status = run_ingress_open(d, &d->amqp_side))) return status;
        d->amqp = amqp_ingress_new(d->cfg, d->amqp_side.pol);
        if (!d->amqp || amqp_ingress_start(d->amqp) != 0) {
            log_error("cannot start the AMQP consumer");
            return EX_SOFTWARE;
        }
    }
    if ((status = run_purge_start(d))) return status;
    if (d->cfg->smtp.enabled) {
        char err[512];
        if ((status = run_ingress_open(d, &d->smtp_side))) return status;
        d->smtp = smtp_server_new(d->base, d->cfg, d->smtp_side.pol, err, sizeof err);
        if (!d->smtp) {
            log_error("cannot start the SMTP listener: %s", err);
            return EX_UNAVAILABLE;
        }
        metrics_set_ready(METRICS_PART_SMTP, true, NULL);
    }
    return 0;
}

static void run_stop(run_daemon *d)
{
    if (d->smtp) smtp_server_free(d->smtp);
    if (d->amqp) {
        amqp_ingress_stop(d->amqp);
        amqp_ingress_free(d->amqp);
    }
    if (d->notifier) {
        notify_stop(d->notifier);
        notify_free(d->notifier);
    }
    run_ingress_close(&d->smtp_side);
    run_ingress_close(&d->amqp_side);
    retention_stop(d->retention);
    if (d->purge_store) store_close(d->purge_store);
    if (d->notify_store) store_close(d->notify_store);
    metrics_server_free(d->metrics);
}

static int run_daemon_main(config *cfg)
{
    run_daemon d = { .cfg = cfg };
    struct event *sigterm, *sigint;
    int status;

    signal(SIGPIPE, SIG_IGN);
    if ((status = run_systemd_load())) return status;
    d.base = event_base_new();
    if (!d.base) return EX_OSERR;
    sigterm = evsignal_new(d.base, SIGTERM, run_on_signal, &d);
    sigint = evsignal_new(d.base, SIGINT, run_on_signal, &d);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);

    status = run_start(&d);
    if (status == 0) {
        char smtp[300] = "off";
        if (cfg->smtp.enabled) snprintf(smtp, sizeof smtp, "%s:%d", cfg->smtp.host, cfg->smtp.port);
        log_info("bouncedemails %s started (env %s): queue %s, SMTP %s, notifier on, metrics %s",
                 BOUNCEDEMAILS_VERSION, cfg->env, cfg->amqp.enabled ? cfg->amqp.queue : "off", smtp,
                 cfg->metrics.listen ? cfg->metrics.listen : "off");
        run_sd_notify("READY=1");
        run_watchdog_start(&d);
        event_base_dispatch(d.base);
    }
    if (d.watchdog) event_free(d.watchdog);
    run_stop(&d);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(d.base);
    if (status == 0) log_info("stopped");
    return status;
}

static int run_usage(const char *name, int status)
{
    FILE *out = status ? stderr : stdout;
    if (strcmp(name, "run") == 0)
        fprintf(out, "usage: bouncedemails [--config PATH] [--env NAME] [--debug] run\n\n"
                     "Runs the service in the foreground: the RabbitMQ consumer when amqp.url is\n"
                     "set, the SMTP listener when smtp.enabled is true, and the notifier.\n"
                     "Logs go to stdout. SIGTERM or SIGINT stops it cleanly.\n");
    else
        fprintf(out, "usage: bouncedemails [--config PATH] [--env NAME] [--debug] run-smtpserver\n"
                     "                     [--host HOST] [--port PORT]\n\n"
                     "Runs the SMTP listener (default smtp.host and smtp.port of the config,\n"
                     "127.0.0.1:2525) and the notifier in the foreground.\n");
    return status;
}

DYNLIB_MODULE_ABI;

__attribute__((visibility("default"))) int cmd_run_module_run(const cmd_context *ctx, int argc, char **argv)
{
    config *cfg;
    int status;
    if (argc > 1) return run_usage(argv[0], strcmp(argv[1], "--help") == 0 ? 0 : EX_USAGE);
    if ((status = cmd_load_config(ctx, &cfg))) return status;
    status = run_daemon_main(cfg);
    config_free(cfg);
    return status;
}

__attribute__((visibility("default"))) int cmd_run_module_smtpserver(const cmd_context *ctx, int argc,
                                                                    char **argv)
{
    static const struct option options[] = {
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *host = NULL, *port = NULL;
    config *cfg;
    int opt, status;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = optarg; break;
        case 'h': return run_usage(argv[0], 0);
        default: return run_usage(argv[0], EX_USAGE);
        }
    }
    if (optind < argc) return run_usage(argv[0], EX_USAGE);
    char *end = NULL;
    long port_number = port ? strtol(port, &end, 10) : 0;
    if (port && (*end || port_number < 1 || port_number > 65535)) {
        fprintf(stderr, "bouncedemails: --port: '%s' is not a port number\n", port);
        return EX_USAGE;
    }
    if ((status = cmd_load_config(ctx, &cfg))) return status;
    cfg->amqp.enabled = false;
    cfg->smtp.enabled = true;
    if (host) {
        free(cfg->smtp.host);
        cfg->smtp.host = strdup(host);
    }
    if (port) cfg->smtp.port = (int)port_number;
    status = run_daemon_main(cfg);
    config_free(cfg);
    return status;
}
