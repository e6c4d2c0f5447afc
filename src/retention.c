/*
 * retention.c - prunes the store by age (see retention.h).
 */
#include "retention.h"

#include <stddef.h>
#include <time.h>

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
