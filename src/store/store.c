/*
 * store.c - the store's public interface: picks the backend that the config
 * names, checks arguments once for every backend, dispatches through the
 * backend's table, and frees what the queries return.
 */
#include "store/store_backend.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "dynlib.h"

typedef store *(*store_open_fn)(const config *cfg, char *err, size_t err_len);

/* The PostgreSQL backend is a loadable module, the way Postfix ships its
 * pgsql map as a package of its own: libpq brings 24 libraries (Kerberos,
 * LDAP, SASL, ...) that every `stdin` run of a SQLite site mapped and
 * relocated for nothing (dynlib_module() says where it is looked for). */
static store *store_pg_module_open(const config *cfg, char *err, size_t err_len)
{
    char why[1024];
    store_open_fn open = NULL;
    *(void **)&open = dynlib_module("bouncedemails-pgsql.so", "store_pg_open", why, sizeof why);
    if (!open)
        snprintf(err, err_len, "store.backend postgresql needs its module: %s", why);
    return open ? open(cfg, err, err_len) : NULL;
}

static const struct {
    const char *name;
    store_open_fn open;
} store_backends[] = {
    { "sqlite", store_sqlite_open },
    { "postgresql", store_pg_module_open },
};

store *store_open(const config *cfg, char *err, size_t err_len)
{
    const char *name = cfg->store.backend && *cfg->store.backend ? cfg->store.backend : "sqlite";

    for (size_t i = 0; i < G_N_ELEMENTS(store_backends); i++) {
        if (strcmp(store_backends[i].name, name) == 0)
            return store_backends[i].open(cfg, err, err_len);
    }
    snprintf(err, err_len, "unknown store backend \"%s\" (sqlite or postgresql)", name);
    return NULL;
}

void store_close(store *st)
{
    if (!st) return;
    if (st->remembered) g_ptr_array_free(st->remembered, TRUE);
    st->backend->close(st);
}

const char *store_errmsg(const store *st)
{
    return st ? st->errmsg : "no store";
}

bool store_error_permanent(const store *st)
{
    return st && st->error_permanent;
}

int store_fail(store *st, const char *fmt, ...)
{
    st->error_permanent = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
    va_end(ap);
    return -1;
}

/* The keys every row needs; checked here so that no backend stores a NULL. */
static int store_require(store *st, const char *what, const char *value)
{
    if (value && *value) return 0;
    return store_fail(st, "%s is missing", what);
}

/* Rows of counters, permanent bounces and the outbox are keyed by both. */
static int store_require_key(store *st, const char *address, const char *domain)
{
    if (store_require(st, "address", address) < 0) return -1;
    return store_require(st, "domain", domain);
}

int store_begin(store *st) { return st->backend->begin(st); }
int store_commit(store *st) { return st->backend->commit(st); }
int store_rollback(store *st) { return st->backend->rollback(st); }
int store_savepoint(store *st) { return st->backend->savepoint(st); }
int store_savepoint_release(store *st) { return st->backend->savepoint_release(st); }
int store_savepoint_rollback(store *st) { return st->backend->savepoint_rollback(st); }

int store_message_seen(store *st, const char *fingerprint, time_t now, int *seen)
{
    if (store_require(st, "fingerprint", fingerprint) < 0) return -1;
    return st->backend->message_seen(st, fingerprint, now, seen);
}

int store_soft_increment(store *st, const char *address, const char *domain, time_t now,
                         long window_s, int *count)
{
    if (store_require_key(st, address, domain) < 0) return -1;
    return st->backend->soft_increment(st, address, domain, now, window_s, count);
}

int store_soft_reset(store *st, const char *address, const char *domain)
{
    if (store_require(st, "address", address) < 0) return -1;
    return st->backend->soft_reset(st, address, domain);
}

int store_permanent_add(store *st, const store_permanent *p)
{
    if (store_require_key(st, p->address, p->domain) < 0) return -1;
    return st->backend->permanent_add(st, p);
}

int store_permanent_remove(store *st, const char *address, const char *domain, int *removed)
{
    if (store_require(st, "address", address) < 0) return -1;
    return st->backend->permanent_remove(st, address, domain, removed);
}

int store_permanent_set_answer(store *st, const store_outbox_item *item, const char *answer)
{
    if (store_require_key(st, item->address, item->domain) < 0) return -1;
    return st->backend->permanent_set_answer(st, item, answer);
}

int store_event_add(store *st, const store_event *ev)
{
    if (store_require(st, "message id", ev->message_id) < 0 ||
        store_require(st, "verdict", ev->verdict) < 0)
        return -1;
    return st->backend->event_add(st, ev);
}

int store_outbox_add(store *st, const char *address, const char *domain, const char *reason,
                     const char *status, const char *diagnostic, time_t now)
{
    if (store_require_key(st, address, domain) < 0) return -1;
    if (st->backend->outbox_add(st, address, domain, reason, status, diagnostic, now) < 0) return -1;
    if (st->remembered) {
        size_t a = strlen(address), d = strlen(domain);
        char *pair = g_malloc(a + d + 2);
        memcpy(pair, address, a + 1);
        memcpy(pair + a + 1, domain, d + 1);
        g_ptr_array_add(st->remembered, pair);
    }
    return 0;
}

int store_outbox_due(store *st, time_t now, size_t max, store_outbox_item **items, size_t *n)
{
    return st->backend->outbox_due(st, now, max, items, n);
}

int store_outbox_claim(store *st, time_t now, long lease_s, size_t max,
                       store_outbox_item **items, size_t *n)
{
    return st->backend->outbox_claim(st, now, lease_s, max, items, n);
}

void store_outbox_remember(store *st)
{
    if (!st->remembered) st->remembered = g_ptr_array_new_with_free_func(g_free);
}

size_t store_outbox_remembered(const store *st)
{
    return st->remembered ? st->remembered->len : 0;
}

int store_outbox_claim_remembered(store *st, time_t now, long lease_s, store_outbox_item **items, size_t *n)
{
    GArray *claimed = g_array_new(FALSE, TRUE, sizeof(store_outbox_item));
    int rc = 0;
    for (guint i = 0; st->remembered && i < st->remembered->len && rc == 0; i++) {
        const char *address = g_ptr_array_index(st->remembered, i);
        rc = st->backend->outbox_claim_address(st, address, address + strlen(address) + 1, now, lease_s, claimed);
    }
    if (st->remembered) g_ptr_array_set_size(st->remembered, 0);
    *n = claimed->len;
    *items = (store_outbox_item *)(void *)g_array_free(claimed, FALSE);
    if (rc < 0) {
        store_outbox_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    return rc;
}

int store_outbox_list(store *st, store_outbox_item **items, size_t *n)
{
    return st->backend->outbox_list(st, items, n);
}

int store_outbox_finish(store *st, const store_outbox_item *item, store_outbox_state state, time_t next_attempt,
                        const char *result)
{
    return st->backend->outbox_finish(st, item, state, next_attempt, result);
}

int store_outbox_retry_given_up(store *st, time_t now, int *count)
{
    return st->backend->outbox_retry_given_up(st, now, count);
}

int store_outbox_cancel(store *st, const char *address, const char *domain, int *count)
{
    if (store_require(st, "address", address) < 0) return -1;
    return st->backend->outbox_cancel(st, address, domain, count);
}

int store_outbox_defer_domain(store *st, const char *domain, time_t until, int *count)
{
    if (store_require(st, "domain", domain) < 0) return -1;
    return st->backend->outbox_defer_domain(st, domain, until, count);
}

int store_outbox_next_due(store *st, time_t *when, int *any)
{
    return st->backend->outbox_next_due(st, when, any);
}

void store_outbox_free(store_outbox_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_free(items[i].address);
        g_free(items[i].domain);
        g_free(items[i].reason);
        g_free(items[i].status);
        g_free(items[i].diagnostic);
        g_free(items[i].last_result);
    }
    g_free(items);
}

int store_quarantine_add(store *st, const char *raw, size_t raw_len, const char *envelope_recipient,
                         const char *ingress, const char *reason, time_t now)
{
    if (!raw && raw_len) return store_fail(st, "quarantine: no message bytes");
    return st->backend->quarantine_add(st, raw, raw_len, envelope_recipient, ingress, reason, now);
}

int store_notbounce_add(store *st, const char *raw, size_t raw_len, const char *envelope_recipient,
                        const char *ingress, time_t now)
{
    if (!raw && raw_len) return store_fail(st, "not a bounce: no message bytes");
    return st->backend->notbounce_add(st, raw, raw_len, envelope_recipient, ingress, now);
}

int store_quarantine_list(store *st, int with_raw, store_quarantine_item **items, size_t *n)
{
    return st->backend->quarantine_list(st, with_raw, items, n);
}

int store_quarantine_remove(store *st, int64_t id)
{
    return st->backend->quarantine_remove(st, id);
}

void store_quarantine_free(store_quarantine_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_free(items[i].reason);
        g_free(items[i].envelope_recipient);
        g_free(items[i].ingress);
        g_free(items[i].raw);
    }
    g_free(items);
}

int store_find_address(store *st, const char *address, store_address_info **info, size_t *n)
{
    if (store_require(st, "address", address) < 0) return -1;
    return st->backend->find_address(st, address, info, n);
}

void store_address_info_free(store_address_info *info, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_free(info[i].domain);
        g_free(info[i].permanent_reason);
        g_free(info[i].permanent_status);
        g_free(info[i].platform_answer);
    }
    g_free(info);
}

int store_stats(store *st, time_t now, long window_s, store_domain_stats **stats, size_t *n,
                long *quarantined)
{
    return st->backend->stats(st, now, window_s, stats, n, quarantined);
}

void store_stats_free(store_domain_stats *stats, size_t n)
{
    for (size_t i = 0; i < n; i++) g_free(stats[i].domain);
    g_free(stats);
}

int store_outbox_gauges(store *st, store_outbox_gauge **gauges, size_t *n)
{
    return st->backend->outbox_gauges(st, gauges, n);
}

void store_outbox_gauges_free(store_outbox_gauge *gauges, size_t n)
{
    for (size_t i = 0; i < n; i++) g_free(gauges[i].domain);
    g_free(gauges);
}

int store_quarantine_size_get(store *st, store_quarantine_size *size)
{
    return st->backend->quarantine_size(st, size);
}

/* ---- switch-over and operations ---- */

int store_match_addresses(store *st, const char *part, size_t max, char ***addresses, size_t *n)
{
    *addresses = NULL;
    *n = 0;
    if (store_require(st, "address", part) < 0) return -1;
    return st->backend->match_addresses(st, part, max, addresses, n);
}

void store_strings_free(char **strings, size_t n)
{
    for (size_t i = 0; i < n; i++) g_free(strings[i]);
    g_free(strings);
}

int store_import_soft(store *st, const char *address, const char *domain, int count,
                      time_t first, time_t last, int *added)
{
    if (store_require_key(st, address, domain) < 0) return -1;
    if (count < 1) return store_fail(st, "soft-bounce count %d is not positive", count);
    return st->backend->import_soft(st, address, domain, count, first, last, added);
}

int store_import_permanent(store *st, const store_permanent *p, const char *answer, int *added)
{
    if (store_require_key(st, p->address, p->domain) < 0) return -1;
    return st->backend->import_permanent(st, p, answer, added);
}

int store_quarantine_get(store *st, int64_t id, store_quarantine_item **item, int *found)
{
    *item = NULL;
    *found = 0;
    return st->backend->quarantine_get(st, id, item, found);
}

int store_history(store *st, const char *address, const char *domain, store_history_item **items,
                  size_t *n)
{
    *items = NULL;
    *n = 0;
    if (store_require(st, "address", address) < 0) return -1;
    return st->backend->history(st, address, domain, items, n);
}

void store_history_free(store_history_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_free(items[i].address);
        g_free(items[i].domain);
        g_free(items[i].verdict);
        g_free(items[i].reason);
        g_free(items[i].status);
        g_free(items[i].diagnostic);
        g_free(items[i].ingress);
        g_free(items[i].message_id);
        g_free(items[i].notify_result);
        g_free(items[i].final);
    }
    g_free(items);
}

int store_purge(store *st, store_purge_kind kind, time_t before, long batch, int dry_run,
                long *count)
{
    *count = 0;
    if (kind < 0 || kind >= STORE_PURGE_KIND_COUNT) return store_fail(st, "unknown purge kind %d", (int)kind);
    if (batch < 1) return store_fail(st, "purge batch %ld", batch);
    return st->backend->purge(st, kind, before, batch, dry_run, count);
}
