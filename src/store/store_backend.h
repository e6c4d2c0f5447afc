/*
 * store_backend.h - what a store backend implements, shared only by the
 * files of the store module. store.c checks the arguments and dispatches
 * through the backend's table; a backend embeds struct store as the first
 * member of its own handle, so that a store * is also a pointer to it.
 */
#ifndef BOUNCEDEMAILS_STORE_BACKEND_H
#define BOUNCEDEMAILS_STORE_BACKEND_H

#include <glib.h>
#include <stdbool.h>

#include "store/store.h"

typedef struct store_backend {
    const char *name;
    void (*close)(store *st);

    int (*begin)(store *st);
    int (*commit)(store *st);
    int (*rollback)(store *st);
    int (*savepoint)(store *st);
    int (*savepoint_release)(store *st);
    int (*savepoint_rollback)(store *st);

    int (*message_seen)(store *st, const char *fingerprint, time_t now, int *seen);
    int (*soft_increment)(store *st, const char *address, const char *domain, time_t now,
                          long window_s, int *count);
    int (*soft_reset)(store *st, const char *address, const char *domain);

    int (*permanent_add)(store *st, const store_permanent *p);
    int (*permanent_remove)(store *st, const char *address, const char *domain, int *removed);
    int (*permanent_set_answer)(store *st, const store_outbox_item *item,
                                const char *answer);

    int (*event_add)(store *st, const store_event *ev);

    int (*outbox_add)(store *st, const char *address, const char *domain, const char *reason,
                      const char *status, const char *diagnostic, time_t now);
    int (*outbox_due)(store *st, time_t now, size_t max, store_outbox_item **items, size_t *n);
    int (*outbox_claim)(store *st, time_t now, long lease_s, size_t max,
                        store_outbox_item **items, size_t *n);
    int (*outbox_list)(store *st, store_outbox_item **items, size_t *n);
    int (*outbox_finish)(store *st, const store_outbox_item *item, store_outbox_state state, time_t next_attempt,
                         const char *result);
    int (*outbox_retry_given_up)(store *st, time_t now, int *count);
    int (*outbox_cancel)(store *st, const char *address, const char *domain, int *count);
    int (*outbox_defer_domain)(store *st, const char *domain, time_t until, int *count);
    int (*outbox_next_due)(store *st, time_t *when, int *any);
    /* store_outbox_claim() for the one open item of (address, domain);
     * appends it to *items (*n grows) when it is pending and due. */
    int (*outbox_claim_address)(store *st, const char *address, const char *domain, time_t now,
                                long lease_s, GArray *items);

    int (*quarantine_add)(store *st, const char *raw, size_t raw_len,
                          const char *envelope_recipient, const char *ingress,
                          const char *reason, time_t now);
    int (*notbounce_add)(store *st, const char *raw, size_t raw_len, const char *envelope_recipient,
                         const char *ingress, time_t now);
    int (*quarantine_list)(store *st, int with_raw, store_quarantine_item **items, size_t *n);
    int (*quarantine_remove)(store *st, int64_t id);

    int (*find_address)(store *st, const char *address, store_address_info **info, size_t *n);
    int (*stats)(store *st, time_t now, long window_s, store_domain_stats **stats, size_t *n,
                 long *quarantined);

    int (*outbox_gauges)(store *st, store_outbox_gauge **gauges, size_t *n);
    int (*quarantine_size)(store *st, store_quarantine_size *size);
    int (*match_addresses)(store *st, const char *part, size_t max, char ***addresses, size_t *n);
    int (*import_soft)(store *st, const char *address, const char *domain, int count,
                       time_t first, time_t last, int *added);
    int (*import_permanent)(store *st, const store_permanent *p, const char *answer, int *added);
    int (*quarantine_get)(store *st, int64_t id, store_quarantine_item **item, int *found);
    int (*history)(store *st, const char *address, const char *domain, store_history_item **items,
                   size_t *n);
    int (*purge)(store *st, store_purge_kind kind, time_t before, long batch, int dry_run,
                 long *count);
} store_backend;

struct store {
    const store_backend *backend;
    char errmsg[512];
    bool error_permanent;     /* store_error_permanent() */
    GPtrArray *remembered;    /* "address\0domain" queued since store_outbox_remember(), or NULL */
};

/* Sets the message that store_errmsg() returns, as a failure a retry may fix
 * (a backend then marks the ones it knows a retry cannot), and returns -1.
 * Not with store_errmsg() itself among the arguments: the buffers would
 * overlap. */
int store_fail(store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* store_outbox_finish()'s error when the item is not as its claim left it,
 * with the item's id and address. */
#define STORE_OUTBOX_NOT_AS_CLAIMED \
    "no outbox item %lld for %s as it was claimed: removed, or another process took it over " \
    "once its lease had ended, whose outcome stands"

/* Each backend's constructor: fills err and returns NULL on failure. */
store *store_sqlite_open(const config *cfg, char *err, size_t err_len);
/* In the module bouncedemails-pgsql.so, which store.c loads by name. */
store *store_pg_open(const config *cfg, char *err, size_t err_len);

#endif
