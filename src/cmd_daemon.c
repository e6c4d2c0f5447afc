/*
 * cmd_daemon.c - `run` and `run-smtpserver` load the daemon module
 * (bouncedemails-daemon.so: cmd_run.c, the ingresses and the metrics
 * endpoint) and hand it the command. The module brings libevent,
 * rabbitmq-c and OpenSSL's TLS, whose tables every process that maps them
 * relocates at start-up; the other commands, a `stdin` run above all, never
 * map them (dynlib_module() says where it is looked for).
 */
#include "cmd.h"

#include <stdio.h>
#include <sysexits.h>

#include "dynlib.h"

typedef int (*cmd_daemon_fn)(const cmd_context *ctx, int argc, char **argv);

static int cmd_daemon_call(const char *entry, const cmd_context *ctx, int argc, char **argv)
{
    char err[1024];
    cmd_daemon_fn fn = NULL;
    *(void **)&fn = dynlib_module("bouncedemails-daemon.so", entry, err, sizeof err);
    if (fn == NULL) {
        fprintf(stderr, "bouncedemails: %s needs the daemon module: %s\n", argv[0], err);
        return EX_UNAVAILABLE;
    }
    return fn(ctx, argc, argv);
}

int cmd_run(const cmd_context *ctx, int argc, char **argv)
{
    return cmd_daemon_call("cmd_run_module_run", ctx, argc, argv);
}

int cmd_run_smtpserver(const cmd_context *ctx, int argc, char **argv)
{
    return cmd_daemon_call("cmd_run_module_smtpserver", ctx, argc, argv);
}
