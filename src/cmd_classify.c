/*
 * cmd_classify.c - `bouncedemails classify [--json | --explain] PATH...`: classifies the
 * messages in files (one message or an mbox), directories (Maildir or plain:
 * every regular file, sorted by name, Maildir's cur/ and new/ included) or
 * stdin ("-"), and prints a short table or, with --json, one JSON object per
 * message. It needs no configuration and touches no store. An unreadable
 * path is reported on stderr and the rest is still processed; the exit
 * status is then EX_NOINPUT.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <glib.h>
#include "cmd.h"
#include "classify/classify.h"

typedef enum classify_output { CLASSIFY_OUT_TABLE, CLASSIFY_OUT_JSON, CLASSIFY_OUT_EXPLAIN } classify_output;

typedef struct classify_run {
    classify_output output;
    bool failed; /* a path could not be read */
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

/* Classifies every message of one buffer (an mbox of one or more). */
static void
classify_buffer(const classify_run *run, const char *data, size_t len, const char *source)
{
    size_t pos = 0, mlen = 0;
    const char *m = NULL;
    int index = 0;
    bool any = false;

    while ((any = classify_mbox_next(data, len, &pos, &m, &mlen)) || index == 0) {
        if (!any) {
            m = data; /* empty input is still one (unreadable) message */
            mlen = len;
        }
        classify_report *rep = classify_message(m, mlen);
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
        index++;
        if (!any)
            break;
    }
}

static void
classify_path_failed(classify_run *run, const char *path, const char *why)
{
    fprintf(stderr, "bouncedemails classify: %s: %s\n", path, why);
    run->failed = true;
}

static void
classify_file(classify_run *run, const char *path)
{
    GError *err = NULL;
    char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        classify_path_failed(run, path, err->message);
        g_error_free(err);
        return;
    }
    classify_buffer(run, data, len, path);
    g_free(data);
}

static void
classify_stdin(classify_run *run)
{
    GByteArray *buf = g_byte_array_new();
    guint8 chunk[65536];
    ssize_t n;

    while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            classify_path_failed(run, "-", g_strerror(errno));
            g_byte_array_free(buf, TRUE);
            return;
        }
        g_byte_array_append(buf, chunk, (guint)n);
    }
    classify_buffer(run, (const char *)buf->data, buf->len, "-");
    g_byte_array_free(buf, TRUE);
}

static gint
classify_compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file below dir (Maildir's tmp/ excluded: half-written),
 * sorted by path so that the output is stable. */
static void
classify_collect(classify_run *run, const char *dir, GPtrArray *files, int depth)
{
    GError *err = NULL;
    GDir *d = g_dir_open(dir, 0, &err);

    if (d == NULL) {
        classify_path_failed(run, dir, err->message);
        g_error_free(err);
        return;
    }
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        if (name[0] == '.')
            continue; /* hidden files and a Maildir's own bookkeeping */
        char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
            if (depth < 8 && strcmp(name, "tmp") != 0)
                classify_collect(run, path, files, depth + 1);
            g_free(path);
        } else if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            g_ptr_array_add(files, path);
        } else {
            g_free(path);
        }
    }
    g_dir_close(d);
}

static void
classify_directory(classify_run *run, const char *dir)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);

    classify_collect(run, dir, files, 0);
    g_ptr_array_sort(files, classify_compare_names);
    for (guint i = 0; i < files->len; i++)
        classify_file(run, g_ptr_array_index(files, i));
    g_ptr_array_free(files, TRUE);
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

    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        if (strcmp(path, "-") == 0)
            classify_stdin(&run);
        else if (g_file_test(path, G_FILE_TEST_IS_DIR))
            classify_directory(&run, path);
        else
            classify_file(&run, path);
        fflush(stdout);
    }
    return run.failed ? EX_NOINPUT : 0;
}
