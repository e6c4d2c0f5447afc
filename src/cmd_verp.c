/*
 * cmd_verp.c - `verp-address`: prints the signed return path a platform
 * sends a message to an address with (verp.h), so that an operator can check
 * the platform's own computation against ours.
 */
#include "cmd.h"

#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "policy/verp.h"

#define VERP_DEFAULT_LOCAL "no-reply"

static int verp_address_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: bouncedemails [--config PATH] [--env NAME] verp-address --address ADDRESS\n"
            "                     --domain DOMAIN [--local-part NAME]\n"
            "\n"
            "Prints the return path (envelope sender) a platform sends a message to ADDRESS\n"
            "with, signed with handler.verp_secret for this week:\n"
            "  no-reply+user=example.com-<tag>@DOMAIN\n"
            "\n"
            "options:\n"
            "  --address ADDRESS    the recipient of the platform's message\n"
            "  --domain DOMAIN      the no-reply address's domain, a configured platform's\n"
            "  --local-part NAME    the no-reply address's local part (default no-reply)\n"
            "  --help               this help\n"
            "\n"
            "exit status: 0 printed, 64 usage, 78 the config (no handler.verp_secret)\n");
    return status;
}

static int verp_address_print(const config *cfg, const char *local, const char *domain, const char *address)
{
    const config_handler *h = &cfg->handler;
    if (!h->verp_secret) {
        fprintf(stderr, "bouncedemails verp-address: handler.verp_secret is not set in %s\n", cfg->path);
        return EX_CONFIG;
    }
    if (!*h->verp_delimiter) {
        fprintf(stderr, "bouncedemails verp-address: handler.verp_delimiter is empty in %s\n", cfg->path);
        return EX_CONFIG;
    }
    if (!config_find_domain(cfg, domain)) {
        fprintf(stderr, "bouncedemails verp-address: --domain: %s is not a configured platform's\n", domain);
        return EX_USAGE;
    }
    char *path = verp_return_path(h->verp_secret, local, domain, h->verp_delimiter, h->verp_at_sign, address,
                                  time(NULL));
    if (!path) {
        fprintf(stderr, "bouncedemails verp-address: --address: \"%s\" is not an email address\n", address);
        return EX_USAGE;
    }
    printf("%s\n", path);
    g_free(path);
    return 0;
}

int cmd_verp_address(const cmd_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        { "address", required_argument, NULL, 'a' },
        { "domain", required_argument, NULL, 'd' },
        { "local-part", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *address = NULL, *domain = NULL, *local = VERP_DEFAULT_LOCAL;
    int opt;

    cmd_normalize_options(argc, argv);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'a': address = optarg; break;
        case 'd': domain = optarg; break;
        case 'l': local = optarg; break;
        case 'h': return verp_address_usage(0);
        default: return verp_address_usage(EX_USAGE);
        }
    }
    if (optind < argc || !address || !domain || !*local)
        return verp_address_usage(EX_USAGE);
    config *cfg = NULL;
    int status = cmd_load_config(ctx, &cfg);
    if (status == 0) status = verp_address_print(cfg, local, domain, address);
    if (cfg) config_free(cfg);
    return status;
}
