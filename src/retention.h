/*
 * retention.h - what the store keeps, and for how long: message
 * fingerprints, the event log, the quarantine and kept non-bounces are
 * removed when older than their retention.*_days (0: kept for ever). Archive
 * files of permanent bounces are kept, as the original kept them. The daemon
 * prunes every retention.interval; `bouncedemails purge` does it by hand.
 * Rows go in batches of retention.batch, each its own short transaction, so
 * that the write lock is never held for long.
 */
#ifndef BOUNCEDEMAILS_RETENTION_H
#define BOUNCEDEMAILS_RETENTION_H

#include <stdbool.h>
#include <time.h>
#include "config.h"
#include "store/store.h"

typedef struct retention_counts {
    long rows[STORE_PURGE_KIND_COUNT];  /* removed, or with dry_run, to be removed */
} retention_counts;

/* Prunes what is older than the config allows at now, adding to counts.
 * Stops when nothing is left (returns 1) or, with budget_ms > 0, when that
 * much time is spent (returns 0: more is left for the next call); -1 when
 * the store failed (the batch in hand is rolled back, the earlier ones
 * stay). With dry_run nothing is removed: counts says what would be. */
int retention_purge(const config *cfg, store *st, time_t now, bool dry_run, long budget_ms,
                    retention_counts *counts);

/* "fingerprints", "events", "quarantined messages", "kept non-bounces". */
const char *retention_kind_name(store_purge_kind kind);
/* The retention of kind in days, 0 for ever. */
int retention_days(const config *cfg, store_purge_kind kind);

/* The daemon's pruning: a thread with its own store handle st (used by
 * nothing else) prunes at once, then every retention.interval, and says
 * what it removed in the log. It is not the event loop's work: a batch that
 * waits for the write lock (held by `stdin`, `import-original`, a backup) or
 * for a PostgreSQL server must not hold up the SMTP sessions and the
 * watchdog. NULL when the thread cannot start. */
typedef struct retention_thread retention_thread;
retention_thread *retention_start(const config *cfg, store *st);
/* Stops the thread once its batch in hand is committed. NULL is fine. */
void retention_stop(retention_thread *t);

#endif
