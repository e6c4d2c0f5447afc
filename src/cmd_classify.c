/*
 * cmd_classify.c - `bouncedemails classify [--json | --explain] PATH...`: classifies the
 * messages in files (one message or an mbox), directories (Maildir or plain:
 * every regular file, sorted by name, Maildir's cur/ and new/ included) or
 * stdin ("-"), and prints a short table or, with --json, one JSON object per
 * message, or with --explain why each recipient got its verdict. It needs no configuration and touches no store. The paths are
 * read by cmd_sources.c: an unreadable path is reported on stderr and the
 * rest is still processed; the exit status is then EX_NOINPUT.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <glib.h>
#include "cmd.h"
#include "classify/classify.h"

typedef enum classify_output { CLASSIFY_OUT_TABLE, CLASSIFY_OUT_JSON, CLASSIFY_OUT_EXPLAIN } classify_output;

typedef struct classify_run {
    classify_output output;
} classify_run;

static int
classify_usage(int status)
{
    FILE *out = status == 0 ? stdout : stderr;
    fprintf(out,
            "usage: bouncedemails classify [--json | --explain] PATH...\n"
            "\n"
            "Classifies the bounces in each PATH: a file holding one message or an mbox,\n"
            "a Maildir or plain directory (every file, sorted by name), or - for stdin.\n"
            "Prints a table, or with --json one JSON object per message, or with\n"
            "--explain, per recipient, the detector, the evidence (stage, codes, matched\n"
            "wording) and the rule that decided, with its source.\n"
            "Exit status 66 when a path could not be read, else 0.\n");
    return status;
}

static void
classify_print_table(const classify_report *rep, const char *source, int index)
{
    if (rep->n_recipients == 0) {
        printf("%s#%d\t%s\t%s\t-\n", source, index, classify_kind_name(rep->kind), rep->format);
        return;
    }
    for (size_t i = 0; i < rep->n_recipients; i++) {
        const classify_recipient *r = &rep->recipients[i];
        printf("%s#%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", source, index, classify_kind_name(rep->kind),
               rep->format, r->address, r->action, r->status[0] ? r->status : "-",
               r->reply_code[0] ? r->reply_code : "-", classify_reason_name(r->reason), r->hard ? "hard" : "soft",
               classify_verdict_name(r->verdict));
    }
}

static int
classify_one(void *arg, const char *source, int index, const char *msg, size_t len)
{
    const classify_run *run = arg;
    classify_report *rep = classify_message(msg, len);
    if (run->output == CLASSIFY_OUT_JSON) {
        char *j = classify_report_json(rep, source, index);
        puts(j);
        free(j);
    } else if (run->output == CLASSIFY_OUT_EXPLAIN) {
        char *text = classify_explain(rep, source, index);
        fputs(text, stdout);
        g_free(text);
    } else {
        classify_print_table(rep, source, index);
    }
    classify_report_free(rep);
    return 0;
}

int
cmd_classify(const cmd_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "explain", no_argument, NULL, 'e' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    classify_run run = { 0 };
    int opt;

    (void)ctx;
    cmd_normalize_options(argc, argv);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'j': run.output = CLASSIFY_OUT_JSON; break;
        case 'e': run.output = CLASSIFY_OUT_EXPLAIN; break;
        case 'h': return classify_usage(0);
        default: return classify_usage(EX_USAGE);
        }
    }
    if (optind >= argc)
        return classify_usage(EX_USAGE);
    if (run.output == CLASSIFY_OUT_TABLE)
        printf("SOURCE#MESSAGE\tKIND\tFORMAT\tADDRESS\tACTION\tSTATUS\tREPLY\tREASON\tHARD\tVERDICT\n");

    return cmd_each_message("classify", argv + optind, argc - optind, classify_one, &run);
}
