/*
 * bench_classify.c - times classify_message() in-process on one core: every
 * message of the corpus (../shared/corpus/sisimai/maildir, or the folder
 * given as argument, or the project's own tests/data/classify) loaded into
 * memory, one warm-up pass, then whole passes until the time budget is
 * spent (CPU time of this process, so that other load on the machine does
 * not count). Prints messages/s, MB/s, time per message and peak RSS. A
 * benchmark, never a test: it does not fail on a slow machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <glib.h>
#include "classify/classify_internal.h"

#ifndef BENCH_DEFAULT_DATA
#define BENCH_DEFAULT_DATA "tests/data/classify"
#endif

typedef struct bench_msg {
    const char *data;
    size_t len;
} bench_msg;

static double
bench_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loads every file of dir and splits it into messages; the file buffers
 * stay alive in keep. */
static void
bench_load(const char *dir, GArray *msgs, GPtrArray *keep)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d == NULL) {
        fprintf(stderr, "bench_classify: cannot open %s\n", dir);
        exit(1);
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL)
        g_ptr_array_add(names, g_build_filename(dir, name, NULL));
    g_dir_close(d);
    g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);

    for (guint i = 0; i < names->len; i++) {
        char *data;
        gsize len;
        if (!g_file_get_contents(g_ptr_array_index(names, i), &data, &len, NULL))
            continue;
        g_ptr_array_add(keep, data);
        size_t pos = 0, mlen;
        const char *m;
        while (classify_mbox_next(data, len, &pos, &m, &mlen)) {
            bench_msg bm = { m, mlen };
            g_array_append_val(msgs, bm);
        }
    }
    g_ptr_array_free(names, TRUE);
}

/* The MIME preparation alone (GMime parse, decoding, the walk), to show
 * how the time divides between it and the detectors. */
static void
bench_prepare_pass(const GArray *msgs)
{
    for (guint i = 0; i < msgs->len; i++) {
        const bench_msg *m = &g_array_index(msgs, bench_msg, i);
        classify_msg msg;
        classify_msg_init(&msg, m->data, m->len);
        classify_msg_clear(&msg);
    }
}

/* Each detector's cost when it is tried on every message (the table's
 * order decides which run in practice), the costliest first: where to look
 * when the classifier gets slower. */
static void
bench_detectors(const GArray *msgs)
{
    double *cost = g_new0(double, classify_n_detectors);
    for (guint i = 0; i < msgs->len; i++) {
        const bench_msg *m = &g_array_index(msgs, bench_msg, i);
        classify_msg msg;
        classify_msg_init(&msg, m->data, m->len);
        for (size_t d = 0; d < classify_n_detectors; d++) {
            classify_report *rep = g_new0(classify_report, 1);
            double t = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
            classify_detectors[d].detect(&msg, rep);
            cost[d] += bench_clock(CLOCK_PROCESS_CPUTIME_ID) - t;
            rep->format = "";
            classify_report_free(rep);
        }
        classify_msg_clear(&msg);
    }
    printf("  costliest detectors (us/message when tried on every message):");
    for (int shown = 0; shown < 5; shown++) {
        size_t best = 0;
        for (size_t d = 1; d < classify_n_detectors; d++)
            if (cost[d] > cost[best])
                best = d;
        if (cost[best] <= 0)
            break;
        printf(" %s %.1f", classify_detectors[best].name, cost[best] * 1e6 / msgs->len);
        cost[best] = -1;
    }
    printf("\n");
    g_free(cost);
}

static size_t
bench_pass(const GArray *msgs)
{
    size_t found = 0;
    for (guint i = 0; i < msgs->len; i++) {
        const bench_msg *m = &g_array_index(msgs, bench_msg, i);
        classify_report *rep = classify_message(m->data, m->len);
        found += rep->n_recipients;
        classify_report_free(rep);
    }
    return found;
}

int
main(int argc, char **argv)
{
    const char *corpus = getenv("BOUNCEDEMAILS_CORPUS");
    char *dir = argc > 1 ? g_strdup(argv[1])
                : corpus != NULL && *corpus ? g_build_filename(corpus, "sisimai", "maildir", NULL)
                : g_strdup(BENCH_DEFAULT_DATA);
    double budget = getenv("BENCH_SECONDS") != NULL ? atof(getenv("BENCH_SECONDS")) : 5.0;

    GArray *msgs = g_array_new(FALSE, FALSE, sizeof(bench_msg));
    GPtrArray *keep = g_ptr_array_new_with_free_func(g_free);
    bench_load(dir, msgs, keep);
    if (msgs->len == 0) {
        fprintf(stderr, "bench_classify: no messages in %s\n", dir);
        return 1;
    }
    size_t bytes = 0;
    for (guint i = 0; i < msgs->len; i++)
        bytes += g_array_index(msgs, bench_msg, i).len;

    size_t recipients = bench_pass(msgs); /* warm-up: GMime init, caches */
    /* Throughput is per CPU second of this process, so that other load on
     * the machine does not count; wall time is printed beside it. */
    int passes = 0;
    double wall = bench_clock(CLOCK_MONOTONIC), start = bench_clock(CLOCK_PROCESS_CPUTIME_ID), elapsed;
    do {
        bench_pass(msgs);
        passes++;
        elapsed = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - start;
    } while (elapsed < budget);
    wall = bench_clock(CLOCK_MONOTONIC) - wall;

    int prep_passes = 0;
    double prep = bench_clock(CLOCK_PROCESS_CPUTIME_ID), prep_elapsed;
    do {
        bench_prepare_pass(msgs);
        prep_passes++;
        prep_elapsed = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - prep;
    } while (prep_elapsed < budget / 2);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double n = (double)msgs->len * passes;
    printf("classifier, in-process, one core (%s)\n", dir);
    printf("  %-22s %u (%.1f MB, %zu recipients per pass)\n", "messages", msgs->len, bytes / 1e6, recipients);
    printf("  %-22s %d passes in %.2f s CPU (%.2f s wall)\n", "runs", passes, elapsed, wall);
    printf("  %-22s %.0f (per CPU second)\n", "messages/s", n / elapsed);
    printf("  %-22s %.1f\n", "MB/s", (double)bytes * passes / 1e6 / elapsed);
    printf("  %-22s %.1f (MIME preparation alone: %.1f)\n", "us/message, of which", elapsed * 1e6 / n,
           prep_elapsed * 1e6 / ((double)msgs->len * prep_passes));
    printf("  %-22s %.1f MB\n", "peak RSS", ru.ru_maxrss / 1024.0);

    bench_detectors(msgs);

    g_array_free(msgs, TRUE);
    g_ptr_array_free(keep, TRUE);
    g_free(dir);
    return 0;
}
