/*
 * bench_store.c - how many messages a second the store commits, with the
 * writes one bounce causes: its fingerprint, a soft-bounce increment and an
 * event row, several messages per transaction as the AMQP and SMTP
 * ingresses batch them (no savepoint a message, as the policy when the
 * store refuses none); one message in twenty is permanent and also queues a
 * notification.
 *
 *     bench_store [FOLDER [MESSAGES]]
 *
 * Prints one line per batch size, then how many times a second a process can
 * open the store, handle one message and close it again (what each
 * `bouncedemails stdin` does). Numbers, never pass/fail.
 *
 *     BENCH_PG_URL=postgresql://... bench_store FOLDER MESSAGES
 *
 * does the same on PostgreSQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "store/store.h"

#define ADDRESSES 10000

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process, user and system: on a machine busy with other
 * work the wall clock says more about the neighbours than about the store. */
static double bench_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The writes of message i; 0 or -1. */
static int bench_message(store *st, long run, long i, time_t now)
{
    char id[64], fp[65], addr[64];
    int seen, count;
    /* Fingerprints are digests: their keys land all over the index. */
    snprintf(id, sizeof id, "run%ld-msg%ld", run, i);
    gchar *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, id, -1);
    g_strlcpy(fp, digest, sizeof fp);
    g_free(digest);
    snprintf(addr, sizeof addr, "user%ld@example.org", (i * 7919) % ADDRESSES);
    int permanent = i % 20 == 0;
    store_event ev = { fp, addr, "openhpi.de", permanent ? "permanent" : "temporary",
                       permanent ? "userunknown" : "mailboxfull", permanent ? "5.1.1" : "4.2.2",
                       "552 5.2.2 mailbox full", "amqp", now, NULL };
    if (store_message_seen(st, fp, now, &seen) < 0) return -1;
    if (permanent) {
        store_permanent p = { addr, "openhpi.de", "userunknown", "5.1.1", now };
        if (store_permanent_add(st, &p) < 0 ||
            store_outbox_add(st, addr, "openhpi.de", "userunknown", "5.1.1", "", now) < 0)
            return -1;
    } else if (store_soft_increment(st, addr, "openhpi.de", now, 30 * 86400L, &count) < 0) {
        return -1;
    }
    return store_event_add(st, &ev);
}

static int bench_run(store *st, long run, long messages, long batch)
{
    time_t now = time(NULL);
    double t0 = bench_now(), c0 = bench_cpu();
    for (long i = 0; i < messages; i += batch) {
        if (store_begin(st) < 0) goto fail;
        for (long j = i; j < i + batch && j < messages; j++)
            if (bench_message(st, run, j, now) < 0) goto fail;
        if (store_commit(st) < 0) goto fail;
    }
    double secs = bench_now() - t0, cpu = bench_cpu() - c0;
    printf("batch %4ld: %8ld messages in %6.2f s = %7.0f messages/s (%6.2f s CPU = %7.0f per CPU-second)\n",
           batch, messages, secs, (double)messages / secs, cpu, (double)messages / cpu);
    return 0;
fail:
    fprintf(stderr, "bench_store: %s\n", store_errmsg(st));
    return -1;
}

/* The store's share of one `bouncedemails stdin`: open, one message in its
 * own transaction, close. */
static int bench_open_close(const config *cfg, long rounds)
{
    char err[512];
    double t0 = bench_now(), c0 = bench_cpu();
    for (long i = 0; i < rounds; i++) {
        store *st = store_open(cfg, err, sizeof err);
        if (!st) {
            fprintf(stderr, "bench_store: %s\n", err);
            return -1;
        }
        int ok = store_begin(st) == 0 && bench_message(st, 99, i, time(NULL)) == 0 &&
                 store_commit(st) == 0;
        if (!ok) fprintf(stderr, "bench_store: %s\n", store_errmsg(st));
        store_close(st);
        if (!ok) return -1;
    }
    double secs = bench_now() - t0, cpu = bench_cpu() - c0;
    printf("open, 1 message, close: %ld in %.2f s = %.0f a second (%.2f s CPU = %.0f per CPU-second)\n",
           rounds, secs, (double)rounds / secs, cpu, (double)rounds / cpu);
    return 0;
}

int main(int argc, char **argv)
{
    char *dir = argc > 1 ? g_strdup(argv[1]) : g_dir_make_tmp("bench_store_XXXXXX", NULL);
    long messages = argc > 2 ? atol(argv[2]) : 200000;
    char *dbfile = g_build_filename(dir, "bench.sqlite", NULL);
    config cfg = { 0 };
    cfg.handler.dbfile = dbfile;
    /* BENCH_PG_URL: the same writes on that PostgreSQL database instead (a
     * schema of its own per run: the fingerprints repeat from run to run). */
    const char *pg_url = getenv("BENCH_PG_URL");
    if (pg_url && *pg_url) {
        cfg.store.backend = "postgresql";
        cfg.store.url = (char *)pg_url;
        printf("store: postgresql (BENCH_PG_URL)\n");
    }
    char err[512];
    store *st = store_open(&cfg, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    printf("store: %s, %d addresses, 1 in 20 permanent\n", dbfile, ADDRESSES);
    static const long batches[] = { 1, 10, 100, 500 };
    int ret = 0;
    for (size_t b = 0; b < G_N_ELEMENTS(batches) && ret == 0; b++) {
        long n = batches[b] == 1 ? messages / 10 : messages;
        ret = bench_run(st, (long)b, n, batches[b]);
    }
    store_close(st);
    if (ret == 0) ret = bench_open_close(&cfg, 2000);
    if (argc <= 1) {
        const char *suffixes[] = { "", "-wal", "-shm" };
        for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
            char *f = g_strconcat(dbfile, suffixes[i], NULL);
            g_remove(f);
            g_free(f);
        }
        g_rmdir(dir);
    }
    g_free(dbfile);
    g_free(dir);
    return ret ? 1 : 0;
}
