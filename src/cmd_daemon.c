/*
 * cmd_daemon.c - `run` and `run-smtpserver` load the daemon module
 * (bouncedemails-daemon.so: cmd_run.c, the ingresses and the metrics
 * endpoint) and hand it the command. The module brings libevent,
 * rabbitmq-c and OpenSSL's TLS, whose tables every process that maps them
 * relocates at start-up; the other commands, a `stdin` run above all, never
 * map them. BOUNCEDEMAILS_MODULE_DIR overrides where the module is looked
 * for (the build tree, for the tests).
 */
#include "cmd.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <glib.h>

#include "build_config.h"

typedef int (*cmd_daemon_fn)(const cmd_context *ctx, int argc, char **argv);

static int cmd_daemon_call(const char *entry, const cmd_context *ctx, int argc, char **argv)
{
    const char *dir = getenv("BOUNCEDEMAILS_MODULE_DIR");
    char *path = g_build_filename(dir && *dir ? dir : BOUNCEDEMAILS_MODULE_DIR, "bouncedemails-daemon.so", NULL);
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cmd_daemon_fn fn = NULL;
    if (module)
        *(void **)&fn = dlsym(module, entry);
    if (fn == NULL)
        fprintf(stderr, "bouncedemails: %s needs the module %s: %s\n", argv[0], path, dlerror());
    g_free(path);
    return fn != NULL ? fn(ctx, argc, argv) : EX_UNAVAILABLE;
}

int cmd_run(const cmd_context *ctx, int argc, char **argv)
{
    return cmd_daemon_call("cmd_run_module_run", ctx, argc, argv);
}

int cmd_run_smtpserver(const cmd_context *ctx, int argc, char **argv)
{
    return cmd_daemon_call("cmd_run_module_smtpserver", ctx, argc, argv);
}
