/*
 * retention.c - prunes the store by age, by hand or in the daemon's thread
 * (see retention.h).
 */
#include "retention.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

#define RETENTION_DAY 86400L

/* Each kind of row, its name and its retention key. */
static const struct {
    const char *name;
    size_t days;              /* offset of its int in config */
} retention_kinds[STORE_PURGE_KIND_COUNT] = {
    [STORE_PURGE_FINGERPRINTS] = { "fingerprints", offsetof(config, retention.fingerprint_days) },
    [STORE_PURGE_EVENTS] = { "events", offsetof(config, retention.event_days) },
    [STORE_PURGE_QUARANTINE] = { "quarantined messages", offsetof(config, retention.quarantine_days) },
    [STORE_PURGE_NOTBOUNCES] = { "kept non-bounces", offsetof(config, retention.notbounce_days) },
};

const char *retention_kind_name(store_purge_kind kind)
{
    return retention_kinds[kind].name;
}

int retention_days(const config *cfg, store_purge_kind kind)
{
    return *(const int *)(const void *)((const char *)cfg + retention_kinds[kind].days);
}

static long retention_elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

/* One batch of kind in its own transaction; *removed: rows. */
static int retention_batch(const config *cfg, store *st, store_purge_kind kind, time_t before,
                           long *removed)
{
    if (store_begin(st) != 0) return -1;
    if (store_purge(st, kind, before, cfg->retention.batch, 0, removed) != 0 || store_commit(st) != 0) {
        store_rollback(st);
        return -1;
    }
    return 0;
}

int retention_purge(const config *cfg, store *st, time_t now, bool dry_run, long budget_ms,
                    retention_counts *counts)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int k = 0; k < STORE_PURGE_KIND_COUNT; k++) {
        int days = retention_days(cfg, (store_purge_kind)k);
        if (days == 0) continue;
        time_t before = now - (time_t)days * RETENTION_DAY;
        long rows = 0;
        if (dry_run) {
            if (store_purge(st, (store_purge_kind)k, before, 1, 1, &rows) != 0) return -1;
            counts->rows[k] += rows;
            continue;
        }
        do {
            if (budget_ms > 0 && retention_elapsed_ms(&start) >= budget_ms) return 0;
            if (retention_batch(cfg, st, (store_purge_kind)k, before, &rows) != 0) return -1;
            counts->rows[k] += rows;
        } while (rows == cfg->retention.batch);
    }
    return 1;
}

/* ---- the daemon's thread ---- */

/* A turn prunes for at most RETENTION_TURN_MS; what is left waits
 * RETENTION_PAUSE_MS, so that the ingresses' commits go in between. */
#define RETENTION_TURN_MS 50
#define RETENTION_PAUSE_MS 50

struct retention_thread {
    const config *cfg;
    store *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static void retention_log(const retention_counts *c)
{
    long total = 0;
    for (int k = 0; k < STORE_PURGE_KIND_COUNT; k++) total += c->rows[k];
    if (total)
        log_info("retention: removed %ld fingerprint(s), %ld event(s), %ld quarantined message(s), "
                 "%ld kept non-bounce(s)", c->rows[STORE_PURGE_FINGERPRINTS], c->rows[STORE_PURGE_EVENTS],
                 c->rows[STORE_PURGE_QUARANTINE], c->rows[STORE_PURGE_NOTBOUNCES]);
}

/* Sleeps ms unless stopped; false once stopping. */
static bool retention_sleep(retention_thread *t, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    while (!t->stopping && pthread_cond_clockwait(&t->wake, &t->lock, CLOCK_MONOTONIC, &until) == 0)
        ;
    bool go_on = !t->stopping;
    pthread_mutex_unlock(&t->lock);
    return go_on;
}

static void *retention_main(void *arg)
{
    retention_thread *t = arg;
    retention_counts purged = { { 0 } };
    long pause_ms = 0;
    while (retention_sleep(t, pause_ms)) {
        int rc = retention_purge(t->cfg, t->st, time(NULL), false, RETENTION_TURN_MS, &purged);
        pause_ms = t->cfg->retention.interval_s * 1000L;
        if (rc == 0) {
            pause_ms = RETENTION_PAUSE_MS;
            continue;
        }
        if (rc < 0)
            log_warn("retention: %s; trying again in %d s", store_errmsg(t->st), t->cfg->retention.interval_s);
        retention_log(&purged);
        purged = (retention_counts){ { 0 } };
    }
    return NULL;
}

retention_thread *retention_start(const config *cfg, store *st)
{
    retention_thread *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cfg = cfg;
    t->st = st;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    if (pthread_create(&t->thread, NULL, retention_main, t) != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
    }
    pthread_setname_np(t->thread, "retention");
    return t;
}

void retention_stop(retention_thread *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
