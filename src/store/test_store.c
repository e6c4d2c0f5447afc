/*
 * test_store.c - unit tests of the store's SQLite backend, each on a fresh
 * database file in a temporary folder: every function, the soft-bounce
 * window, the unique keys, the outbox's lifecycle, the quarantine with binary
 * data, savepoints, several handles on one file, the schema version, and
 * files that cannot be opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "store/store.h"

#define DAY 86400L
#define T0 ((time_t)1790000000)

typedef struct fixture {
    char *dir;
    char *dbfile;
    config cfg;
    store *st;
} fixture;

static void remove_tree(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *name;
        while (d && (name = g_dir_read_name(d))) {
            char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
            g_free(child);
        }
        if (d) g_dir_close(d);
    }
    g_remove(path);
}

static store *open_store(const config *cfg)
{
    char err[512] = "";
    store *st = store_open(cfg, err, sizeof err);
    if (!st) fail_msg("store_open: %s", err);
    return st;
}

static int setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    f->dir = g_dir_make_tmp("test_store_XXXXXX", NULL);
    assert_non_null(f->dir);
    /* A folder that does not exist yet: store_open creates it. */
    f->dbfile = g_build_filename(f->dir, "var", "db", "bounces.sqlite", NULL);
    f->cfg.handler.dbfile = f->dbfile;
    f->st = open_store(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    remove_tree(f->dir);
    g_free(f->dbfile);
    g_free(f->dir);
    g_free(f);
    return 0;
}

/* A second look at the file, bypassing the store, for what its interface
 * does not show (row counts, the schema version). */
static sqlite3_int64 sql_int(const char *dbfile, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_open_v2(dbfile, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    sqlite3_int64 v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
}

static void sql_exec(const char *dbfile, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbfile, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int soft(store *st, const char *address, const char *domain, time_t now, long window)
{
    int count = -1;
    assert_int_equal(store_soft_increment(st, address, domain, now, window, &count), 0);
    return count;
}

/* The find_address entry for domain, or NULL. */
static const store_address_info *info_for(const store_address_info *info, size_t n,
                                          const char *domain)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(info[i].domain, domain) == 0) return &info[i];
    return NULL;
}

/* ---- opening and the schema ---- */

static void test_open_creates_folder_and_schema(void **state)
{
    fixture *f = *state;
    assert_true(g_file_test(f->dbfile, G_FILE_TEST_IS_REGULAR));
    assert_true(sql_int(f->dbfile, "PRAGMA user_version") >= 1);
    sqlite3 *db;
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_open(f->dbfile, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void test_reopen_keeps_data_and_version(void **state)
{
    fixture *f = *state;
    sqlite3_int64 version = sql_int(f->dbfile, "PRAGMA user_version");
    assert_int_equal(soft(f->st, "a@example.org", "openhpi.de", T0, 30 * DAY), 1);
    store_close(f->st);
    f->st = open_store(&f->cfg);
    assert_int_equal(sql_int(f->dbfile, "PRAGMA user_version"), version);
    assert_int_equal(soft(f->st, "a@example.org", "openhpi.de", T0 + 1, 30 * DAY), 2);
}

static void test_migrates_an_empty_database(void **state)
{
    fixture *f = *state;
    char *path = g_build_filename(f->dir, "old.sqlite", NULL);
    /* A file at version 0 with someone's table in it: the schema is added. */
    sql_exec(path, "CREATE TABLE unrelated (x INTEGER); INSERT INTO unrelated VALUES (7);");
    assert_int_equal(sql_int(path, "PRAGMA user_version"), 0);
    config cfg = { 0 };
    cfg.handler.dbfile = path;
    store *st = open_store(&cfg);
    assert_int_equal(sql_int(path, "PRAGMA user_version"),
                     sql_int(f->dbfile, "PRAGMA user_version"));
    assert_int_equal(sql_int(path, "SELECT x FROM unrelated"), 7);
    assert_int_equal(soft(st, "a@example.org", "openhpi.de", T0, DAY), 1);
    store_close(st);
    g_free(path);
}

static void test_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    sql_exec(f->dbfile, "PRAGMA user_version = 999");
    char err[512] = "";
    assert_null(store_open(&f->cfg, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    assert_non_null(strstr(err, "999"));
}

static void test_unopenable_store_is_an_error(void **state)
{
    fixture *f = *state;
    char err[512];
    config cfg = { 0 };

    /* The folder cannot be created: a regular file stands in its way. */
    char *blocker = g_build_filename(f->dir, "blocker", NULL);
    assert_true(g_file_set_contents(blocker, "x", 1, NULL));
    char *under = g_build_filename(blocker, "sub", "db.sqlite", NULL);
    cfg.handler.dbfile = under;
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "folder"));

    /* The path is a folder. */
    cfg.handler.dbfile = f->dir;
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_true(err[0] != '\0');

    /* The file is not a database; it is left as it was. */
    char *junk = g_build_filename(f->dir, "junk.sqlite", NULL);
    char garbage[4096];
    memset(garbage, 'J', sizeof garbage);
    assert_true(g_file_set_contents(junk, garbage, sizeof garbage, NULL));
    cfg.handler.dbfile = junk;
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "not a database"));
    char *back;
    gsize len;
    assert_true(g_file_get_contents(junk, &back, &len, NULL));
    assert_int_equal(len, sizeof garbage);
    assert_memory_equal(back, garbage, len);
    g_free(back);

    /* No file name at all. */
    cfg.handler.dbfile = NULL;
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "handler.dbfile"));

    g_free(junk);
    g_free(under);
    g_free(blocker);
}

static void test_backend_choice(void **state)
{
    fixture *f = *state;
    char err[512];
    config cfg = f->cfg;

    cfg.store.backend = "postgresql";
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "store.url"));

    cfg.store.backend = "oracle";
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "unknown store backend"));

    cfg.store.backend = "sqlite";
    store *st = open_store(&cfg);
    store_close(st);
    store_close(NULL);
}

/* ---- fingerprints and counters ---- */

static void test_message_seen(void **state)
{
    fixture *f = *state;
    int seen = -1;
    assert_int_equal(store_message_seen(f->st, "fp-1", T0, &seen), 0);
    assert_int_equal(seen, 0);
    assert_int_equal(store_message_seen(f->st, "fp-1", T0 + 5, &seen), 0);
    assert_int_equal(seen, 1);
    assert_int_equal(store_message_seen(f->st, "fp-2", T0, &seen), 0);
    assert_int_equal(seen, 0);
    assert_int_equal(store_message_seen(f->st, NULL, T0, &seen), -1);
    assert_non_null(strstr(store_errmsg(f->st), "fingerprint"));
}

static void test_soft_unique_key(void **state)
{
    fixture *f = *state;
    for (int i = 1; i <= 25; i++)
        assert_int_equal(soft(f->st, "a@example.org", "openhpi.de", T0 + i, 30 * DAY), i);
    /* Case does not split the counter. */
    assert_int_equal(soft(f->st, "A@Example.ORG", "OpenHPI.de", T0 + 30, 30 * DAY), 26);
    /* Another domain, another counter. */
    assert_int_equal(soft(f->st, "a@example.org", "opensap.com", T0 + 30, 30 * DAY), 1);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM soft_bounce"), 2);

    int count;
    assert_int_equal(store_soft_increment(f->st, "", "openhpi.de", T0, DAY, &count), -1);
    assert_int_equal(store_soft_increment(f->st, "a@example.org", NULL, T0, DAY, &count), -1);
    assert_non_null(strstr(store_errmsg(f->st), "domain"));
}

static void test_soft_window_restart(void **state)
{
    fixture *f = *state;
    const long w = 30 * DAY;
    const char *a = "w@example.org";
    assert_int_equal(soft(f->st, a, "openhpi.de", T0, w), 1);
    assert_int_equal(soft(f->st, a, "openhpi.de", T0 + 10 * DAY, w), 2);
    /* Exactly window_s after the last one: still inside. */
    assert_int_equal(soft(f->st, a, "openhpi.de", T0 + 40 * DAY, w), 3);
    /* One second more than the window after the last one: starts again. */
    time_t restart = T0 + 70 * DAY + 1;
    assert_int_equal(soft(f->st, a, "openhpi.de", restart, w), 1);

    store_address_info *info;
    size_t n;
    assert_int_equal(store_find_address(f->st, a, &info, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(info[0].soft_count, 1);
    assert_int_equal(info[0].soft_first, restart);
    assert_int_equal(info[0].soft_last, restart);
    store_address_info_free(info, n);

    /* An older bounce processed late neither restarts nor moves last_seen back. */
    assert_int_equal(soft(f->st, a, "openhpi.de", restart - DAY, w), 2);
    assert_int_equal(store_find_address(f->st, a, &info, &n), 0);
    assert_int_equal(info[0].soft_last, restart);
    store_address_info_free(info, n);

    /* No window: never starts again. */
    assert_int_equal(soft(f->st, "n@example.org", "openhpi.de", T0, 0), 1);
    assert_int_equal(soft(f->st, "n@example.org", "openhpi.de", T0 + 5000 * DAY, 0), 2);
}

static void test_soft_reset(void **state)
{
    fixture *f = *state;
    soft(f->st, "r@example.org", "openhpi.de", T0, DAY);
    soft(f->st, "r@example.org", "opensap.com", T0, DAY);
    soft(f->st, "other@example.org", "openhpi.de", T0, DAY);

    assert_int_equal(store_soft_reset(f->st, "r@example.org", "openhpi.de"), 0);
    assert_int_equal(soft(f->st, "r@example.org", "openhpi.de", T0 + 1, DAY), 1);
    assert_int_equal(soft(f->st, "r@example.org", "opensap.com", T0 + 1, DAY), 2);

    assert_int_equal(store_soft_reset(f->st, "R@example.org", NULL), 0);
    assert_int_equal(soft(f->st, "r@example.org", "openhpi.de", T0 + 2, DAY), 1);
    assert_int_equal(soft(f->st, "r@example.org", "opensap.com", T0 + 2, DAY), 1);
    assert_int_equal(soft(f->st, "other@example.org", "openhpi.de", T0 + 2, DAY), 2);
}

/* ---- permanent bounces, events ---- */

static void test_permanent(void **state)
{
    fixture *f = *state;
    store_permanent p = { "p@example.org", "openhpi.de", "userunknown", "5.1.1", T0 };
    assert_int_equal(store_permanent_add(f->st, &p), 0);
    assert_int_equal(store_permanent_set_answer(f->st, "p@example.org", "openhpi.de",
                                                "200 / {\"processd_email\": \"p@example.org\"}"),
                     0);
    /* A refresh replaces reason, status and time and keeps the answer. */
    store_permanent p2 = { "p@example.org", "openhpi.de", "hostunknown", "5.1.2", T0 + 60 };
    assert_int_equal(store_permanent_add(f->st, &p2), 0);
    store_permanent p3 = { "p@example.org", "opensap.com", "suspend", "", T0 + 90 };
    assert_int_equal(store_permanent_add(f->st, &p3), 0);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM permanent_bounce"), 2);

    store_address_info *info;
    size_t n;
    assert_int_equal(store_find_address(f->st, "p@example.org", &info, &n), 0);
    assert_int_equal(n, 2);
    const store_address_info *hpi = info_for(info, n, "openhpi.de");
    assert_non_null(hpi);
    assert_int_equal(hpi->permanent, 1);
    assert_int_equal(hpi->soft_count, 0);
    assert_string_equal(hpi->permanent_reason, "hostunknown");
    assert_string_equal(hpi->permanent_status, "5.1.2");
    assert_int_equal(hpi->permanent_when, T0 + 60);
    assert_string_equal(hpi->platform_answer, "200 / {\"processd_email\": \"p@example.org\"}");
    const store_address_info *sap = info_for(info, n, "opensap.com");
    assert_non_null(sap);
    assert_null(sap->platform_answer);
    store_address_info_free(info, n);

    int removed = -1;
    assert_int_equal(store_permanent_remove(f->st, "p@example.org", "opensap.com", &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(store_permanent_remove(f->st, "p@example.org", "opensap.com", &removed), 0);
    assert_int_equal(removed, 0);
    /* An answer for a lifted suppression is not an error, and adds nothing. */
    assert_int_equal(store_permanent_set_answer(f->st, "p@example.org", "opensap.com", "200"), 0);
    assert_int_equal(store_permanent_add(f->st, &p3), 0);
    assert_int_equal(store_permanent_remove(f->st, "P@EXAMPLE.ORG", NULL, &removed), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(store_find_address(f->st, "p@example.org", &info, &n), 0);
    assert_int_equal(n, 0);
    store_address_info_free(info, n);
}

static void test_find_address_joins_soft_and_permanent(void **state)
{
    fixture *f = *state;
    soft(f->st, "j@example.org", "opensap.com", T0, DAY);
    soft(f->st, "j@example.org", "opensap.com", T0 + 5, DAY);
    store_permanent p = { "j@example.org", "openhpi.de", "userunknown", "5.1.1", T0 };
    store_permanent_add(f->st, &p);
    soft(f->st, "j@example.org", "openhpi.de", T0 + 9, DAY);
    soft(f->st, "someone-else@example.org", "openhpi.de", T0, DAY);

    store_address_info *info;
    size_t n;
    assert_int_equal(store_find_address(f->st, "j@example.org", &info, &n), 0);
    assert_int_equal(n, 2);
    /* Ordered by domain. */
    assert_string_equal(info[0].domain, "openhpi.de");
    assert_int_equal(info[0].soft_count, 1);
    assert_int_equal(info[0].permanent, 1);
    assert_string_equal(info[1].domain, "opensap.com");
    assert_int_equal(info[1].soft_count, 2);
    assert_int_equal(info[1].soft_first, T0);
    assert_int_equal(info[1].soft_last, T0 + 5);
    assert_int_equal(info[1].permanent, 0);
    assert_null(info[1].permanent_reason);
    store_address_info_free(info, n);
}

static void test_event_add_and_stats(void **state)
{
    fixture *f = *state;
    store_event ev = { "fp-1", "e@example.org", "openhpi.de", "temporary", "mailboxfull",
                       "4.2.2", "552 mailbox full", "stdin", T0 };
    assert_int_equal(store_event_add(f->st, &ev), 0);
    ev.verdict = "complaint";
    ev.reason = "feedback";
    assert_int_equal(store_event_add(f->st, &ev), 0);
    ev.domain = NULL; /* unrouted */
    ev.verdict = "ignore";
    assert_int_equal(store_event_add(f->st, &ev), 0);
    ev.verdict = NULL;
    assert_int_equal(store_event_add(f->st, &ev), -1);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM event"), 3);

    soft(f->st, "old@example.org", "openhpi.de", T0 - 40 * DAY, 30 * DAY);
    soft(f->st, "new@example.org", "openhpi.de", T0 - DAY, 30 * DAY);
    store_permanent p = { "p@example.org", "opensap.com", "userunknown", "5.1.1", T0 };
    store_permanent_add(f->st, &p);
    store_outbox_add(f->st, "p@example.org", "opensap.com", "userunknown", "5.1.1", "", T0);
    store_outbox_add(f->st, "q@example.org", "opensap.com", "userunknown", "5.1.1", "", T0);
    store_outbox_item *items;
    size_t n;
    store_outbox_due(f->st, T0, 1, &items, &n);
    assert_int_equal(n, 1);
    store_outbox_finish(f->st, items[0].id, STORE_OUTBOX_GIVEN_UP, T0, "400 / bad");
    store_outbox_free(items, n);
    store_quarantine_add(f->st, "x", 1, NULL, "stdin", "unrouted", T0);
    store_quarantine_add(f->st, "y", 1, NULL, "stdin", "unrouted", T0);

    store_domain_stats *stats;
    long quarantined = -1;
    assert_int_equal(store_stats(f->st, T0, 30 * DAY, &stats, &n, &quarantined), 0);
    assert_int_equal(quarantined, 2);
    assert_int_equal(n, 2);
    assert_string_equal(stats[0].domain, "openhpi.de");
    assert_int_equal(stats[0].soft_addresses, 1); /* old@ is outside the window */
    assert_int_equal(stats[0].permanent, 0);
    assert_int_equal(stats[0].complaints, 1);
    assert_int_equal(stats[0].events, 2);
    assert_int_equal(stats[0].outbox_pending, 0);
    assert_string_equal(stats[1].domain, "opensap.com");
    assert_int_equal(stats[1].soft_addresses, 0);
    assert_int_equal(stats[1].permanent, 1);
    assert_int_equal(stats[1].events, 0);
    assert_int_equal(stats[1].outbox_pending, 1);
    assert_int_equal(stats[1].outbox_given_up, 1);
    store_stats_free(stats, n);

    /* Without a window every counter counts. */
    assert_int_equal(store_stats(f->st, T0, 0, &stats, &n, &quarantined), 0);
    assert_int_equal(stats[0].soft_addresses, 2);
    store_stats_free(stats, n);
}

/* ---- outbox ---- */

static const store_outbox_item *item_for(const store_outbox_item *items, size_t n,
                                         const char *address)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].address, address) == 0) return &items[i];
    return NULL;
}

static void test_outbox_lifecycle(void **state)
{
    fixture *f = *state;
    store *st = f->st;
    store_outbox_item *items;
    size_t n;
    time_t when;
    int any = -1;

    assert_int_equal(store_outbox_next_due(st, &when, &any), 0);
    assert_int_equal(any, 0);

    assert_int_equal(store_outbox_add(st, "o@example.org", "openhpi.de", "userunknown", "5.1.1",
                                      "550 no such user", T0), 0);
    /* At most one pending per pair: a second add changes nothing. */
    assert_int_equal(store_outbox_add(st, "O@example.org", "openhpi.de", "hostunknown", "5.1.2",
                                      "other", T0 + 5), 0);
    assert_int_equal(store_outbox_list(st, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].reason, "userunknown");
    assert_string_equal(items[0].diagnostic, "550 no such user");
    assert_int_equal(items[0].created, T0);
    assert_int_equal(items[0].state, STORE_OUTBOX_PENDING);
    assert_int_equal(items[0].attempts, 0);
    assert_null(items[0].last_result);
    int64_t id = items[0].id;
    store_outbox_free(items, n);

    assert_int_equal(store_outbox_next_due(st, &when, &any), 0);
    assert_int_equal(any, 1);
    assert_int_equal(when, T0);
    assert_int_equal(store_outbox_due(st, T0 - 1, 10, &items, &n), 0);
    assert_int_equal(n, 0);
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_due(st, T0, 10, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].id, id);
    store_outbox_free(items, n);

    /* A retry: not due before next_attempt, attempt counted. */
    assert_int_equal(store_outbox_finish(st, id, STORE_OUTBOX_PENDING, T0 + 60, "503 / busy"), 0);
    assert_int_equal(store_outbox_due(st, T0 + 59, 10, &items, &n), 0);
    assert_int_equal(n, 0);
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_next_due(st, &when, &any), 0);
    assert_int_equal(when, T0 + 60);
    assert_int_equal(store_outbox_due(st, T0 + 60, 10, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].attempts, 1);
    assert_string_equal(items[0].last_result, "503 / busy");
    store_outbox_free(items, n);

    /* Given up: listed, never due. */
    assert_int_equal(store_outbox_finish(st, id, STORE_OUTBOX_GIVEN_UP, T0 + 60, "403 / no"), 0);
    assert_int_equal(store_outbox_due(st, T0 + 10 * DAY, 10, &items, &n), 0);
    assert_int_equal(n, 0);
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_next_due(st, &when, &any), 0);
    assert_int_equal(any, 0);
    assert_int_equal(store_outbox_list(st, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].state, STORE_OUTBOX_GIVEN_UP);
    assert_int_equal(items[0].attempts, 2);
    store_outbox_free(items, n);

    /* A new bounce for a given-up pair revives that item. */
    assert_int_equal(store_outbox_add(st, "o@example.org", "openhpi.de", "hostunknown", "5.1.2",
                                      "again", T0 + 100), 0);
    assert_int_equal(store_outbox_list(st, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].id, id);
    assert_int_equal(items[0].state, STORE_OUTBOX_PENDING);
    assert_int_equal(items[0].attempts, 0);
    assert_int_equal(items[0].next_attempt, T0 + 100);
    assert_string_equal(items[0].reason, "hostunknown");
    assert_string_equal(items[0].last_result, "403 / no");
    store_outbox_free(items, n);

    /* outbox retry: given up back to pending, due now, attempts from zero. */
    assert_int_equal(store_outbox_finish(st, id, STORE_OUTBOX_GIVEN_UP, T0 + 100, "403 / no"), 0);
    assert_int_equal(store_outbox_add(st, "b@example.org", "openhpi.de", "userunknown", "5.1.1",
                                      "", T0 + 100), 0);
    int moved = -1;
    assert_int_equal(store_outbox_retry_given_up(st, T0 + 200, &moved), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(store_outbox_due(st, T0 + 200, 10, &items, &n), 0);
    assert_int_equal(n, 2);
    /* Oldest due first: b@ was due at T0 + 100, o@ at T0 + 200. */
    assert_string_equal(items[0].address, "b@example.org");
    assert_int_equal(items[1].id, id);
    assert_int_equal(items[1].attempts, 0);
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_retry_given_up(st, T0 + 200, &moved), 0);
    assert_int_equal(moved, 0);

    /* max limits the batch. */
    assert_int_equal(store_outbox_due(st, T0 + 200, 1, &items, &n), 0);
    assert_int_equal(n, 1);
    store_outbox_free(items, n);

    /* Done: gone from the list; a later bounce queues a new item. */
    assert_int_equal(store_outbox_finish(st, id, STORE_OUTBOX_DONE, T0 + 200, "200 / ok"), 0);
    assert_int_equal(store_outbox_list(st, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_null(item_for(items, n, "o@example.org"));
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_add(st, "o@example.org", "openhpi.de", "userunknown", "5.1.1",
                                      "", T0 + 300), 0);
    assert_int_equal(store_outbox_list(st, &items, &n), 0);
    assert_int_equal(n, 2);
    const store_outbox_item *o = item_for(items, n, "o@example.org");
    assert_non_null(o);
    assert_true(o->id != id);
    store_outbox_free(items, n);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM outbox"), 3);

    assert_int_equal(store_outbox_finish(st, 987654, STORE_OUTBOX_DONE, T0, "200"), -1);
    assert_non_null(strstr(store_errmsg(st), "987654"));
    assert_int_equal(store_outbox_finish(st, id, (store_outbox_state)7, T0, "200"), -1);
}

static void test_outbox_claim_between_handles(void **state)
{
    fixture *f = *state;
    store *other = open_store(&f->cfg);
    store_outbox_item *items;
    size_t n;
    for (int i = 0; i < 3; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "c%d@example.org", i);
        assert_int_equal(store_outbox_add(f->st, addr, "openhpi.de", "userunknown", "5.1.1", "",
                                          T0 + i), 0);
    }
    assert_int_equal(store_outbox_claim(f->st, T0 + 10, 60, 2, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].address, "c0@example.org");
    assert_string_equal(items[1].address, "c1@example.org");
    assert_int_equal(items[0].next_attempt, T0 + 70);
    int64_t first = items[0].id;
    store_outbox_free(items, n);

    /* The other process gets only what was not claimed. */
    assert_int_equal(store_outbox_claim(other, T0 + 10, 60, 10, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].address, "c2@example.org");
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_claim(other, T0 + 10, 60, 10, &items, &n), 0);
    assert_int_equal(n, 0);
    store_outbox_free(items, n);

    /* An attempt that never finished comes due when its lease ends. */
    assert_int_equal(store_outbox_finish(f->st, first, STORE_OUTBOX_DONE, T0 + 11, "200"), 0);
    assert_int_equal(store_outbox_claim(other, T0 + 70, 60, 10, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].address, "c1@example.org");
    assert_string_equal(items[1].address, "c2@example.org");
    store_outbox_free(items, n);
    store_close(other);
}

static void test_outbox_cancel(void **state)
{
    fixture *f = *state;
    store *st = f->st;
    store_outbox_item *items;
    size_t n;
    store_outbox_add(st, "x@example.org", "openhpi.de", "userunknown", "5.1.1", "", T0);
    store_outbox_add(st, "x@example.org", "opensap.com", "userunknown", "5.1.1", "", T0);
    store_outbox_add(st, "y@example.org", "openhpi.de", "userunknown", "5.1.1", "", T0);
    assert_int_equal(store_outbox_due(st, T0, 10, &items, &n), 0);
    assert_int_equal(n, 3);
    /* x@ in openhpi.de: one done (history stays), one given up. */
    store_outbox_finish(st, items[0].id, STORE_OUTBOX_DONE, T0, "200");
    store_outbox_free(items, n);
    store_outbox_add(st, "x@example.org", "openhpi.de", "userunknown", "5.1.1", "", T0 + 1);
    assert_int_equal(store_outbox_due(st, T0 + 1, 1, &items, &n), 0);
    store_outbox_finish(st, items[0].id, STORE_OUTBOX_GIVEN_UP, T0, "400");
    store_outbox_free(items, n);

    int count = -1;
    assert_int_equal(store_outbox_cancel(st, "X@example.org", "openhpi.de", &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(store_outbox_cancel(st, "x@example.org", NULL, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(store_outbox_list(st, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].address, "y@example.org");
    store_outbox_free(items, n);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM outbox WHERE state = 1"), 1);
}

/* ---- quarantine ---- */

static void test_quarantine_binary_round_trip(void **state)
{
    fixture *f = *state;
    char raw[1024];
    for (size_t i = 0; i < sizeof raw; i++) raw[i] = (char)(i * 7 % 256);
    raw[0] = '\0';
    raw[500] = '\0';
    assert_int_equal(store_quarantine_add(f->st, raw, sizeof raw, "no-reply@unknown.example",
                                          "smtp", "unrouted", T0), 0);
    assert_int_equal(store_quarantine_add(f->st, "", 0, NULL, "stdin", "empty", T0 + 1), 0);
    assert_int_equal(store_quarantine_add(f->st, NULL, 5, NULL, "stdin", "x", T0), -1);

    store_quarantine_item *items;
    size_t n;
    assert_int_equal(store_quarantine_list(f->st, 1, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(items[0].raw_len, sizeof raw);
    assert_memory_equal(items[0].raw, raw, sizeof raw);
    assert_string_equal(items[0].envelope_recipient, "no-reply@unknown.example");
    assert_string_equal(items[0].ingress, "smtp");
    assert_string_equal(items[0].reason, "unrouted");
    assert_int_equal(items[0].when, T0);
    assert_int_equal(items[1].raw_len, 0);
    assert_non_null(items[1].raw);
    assert_int_equal(items[1].raw[0], '\0');
    assert_null(items[1].envelope_recipient);
    int64_t id = items[0].id;
    store_quarantine_free(items, n);

    assert_int_equal(store_quarantine_list(f->st, 0, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_null(items[0].raw);
    assert_int_equal(items[0].raw_len, sizeof raw);
    store_quarantine_free(items, n);

    assert_int_equal(store_quarantine_remove(f->st, id), 0);
    assert_int_equal(store_quarantine_remove(f->st, id), -1);
    assert_int_equal(store_quarantine_list(f->st, 0, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].reason, "empty");
    store_quarantine_free(items, n);
}

/* ---- transactions ---- */

static void test_transaction_rollback(void **state)
{
    fixture *f = *state;
    assert_int_equal(store_begin(f->st), 0);
    soft(f->st, "t@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_rollback(f->st), 0);
    assert_int_equal(soft(f->st, "t@example.org", "openhpi.de", T0, DAY), 1);
    /* Outside a transaction a rollback is harmless. */
    assert_int_equal(store_rollback(f->st), 0);
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_begin(f->st), -1);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_commit(f->st), -1);
}

static void test_savepoint_rollback(void **state)
{
    fixture *f = *state;
    store *st = f->st;
    int seen;
    assert_int_equal(store_savepoint(st), -1);
    assert_non_null(strstr(store_errmsg(st), "outside a transaction"));

    assert_int_equal(store_begin(st), 0);
    soft(st, "a@example.org", "openhpi.de", T0, DAY);
    /* message 2 of the batch fails halfway and is undone alone */
    assert_int_equal(store_savepoint(st), 0);
    assert_int_equal(store_message_seen(st, "fp-b", T0, &seen), 0);
    soft(st, "b@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_savepoint_rollback(st), 0);
    /* message 3, with a nested savepoint that is undone */
    assert_int_equal(store_savepoint(st), 0);
    soft(st, "c@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_savepoint(st), 0);
    soft(st, "d@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_savepoint_rollback(st), 0);
    assert_int_equal(store_savepoint_release(st), 0);
    assert_int_equal(store_commit(st), 0);

    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM soft_bounce"), 2);
    assert_int_equal(sql_int(f->dbfile,
                             "SELECT count(*) FROM soft_bounce WHERE address IN"
                             " ('a@example.org', 'c@example.org')"), 2);
    assert_int_equal(store_message_seen(st, "fp-b", T0, &seen), 0);
    assert_int_equal(seen, 0);
}

static void test_two_handles_see_commits_only(void **state)
{
    fixture *f = *state;
    store *other = open_store(&f->cfg);
    store_address_info *info;
    size_t n;

    assert_int_equal(store_begin(f->st), 0);
    soft(f->st, "v@example.org", "openhpi.de", T0, DAY);
    /* WAL: the reader is not blocked and sees the last commit. */
    assert_int_equal(store_find_address(other, "v@example.org", &info, &n), 0);
    assert_int_equal(n, 0);
    store_address_info_free(info, n);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_find_address(other, "v@example.org", &info, &n), 0);
    assert_int_equal(n, 1);
    store_address_info_free(info, n);
    store_close(other);
}

#define WRITERS 4
#define ROUNDS 50
#define PER_ROUND 5

/* One process's worth of writes: its own handle, transactions of several
 * increments on the same counter as every other writer. */
static gpointer writer(gpointer data)
{
    const config *cfg = data;
    char err[512];
    store *st = store_open(cfg, err, sizeof err);
    if (!st) return GINT_TO_POINTER(1);
    int failures = 0;
    for (int r = 0; r < ROUNDS; r++) {
        if (store_begin(st) < 0) { failures++; continue; }
        int ok = 1;
        for (int i = 0; i < PER_ROUND; i++) {
            int count;
            ok &= store_soft_increment(st, "shared@example.org", "openhpi.de", T0, DAY,
                                       &count) == 0;
        }
        if (!ok || store_commit(st) < 0) {
            store_rollback(st);
            failures++;
        }
    }
    store_close(st);
    return GINT_TO_POINTER(failures);
}

static void test_concurrent_writers(void **state)
{
    fixture *f = *state;
    GThread *threads[WRITERS];
    for (int i = 0; i < WRITERS; i++) threads[i] = g_thread_new("writer", writer, &f->cfg);
    for (int i = 0; i < WRITERS; i++) assert_int_equal(GPOINTER_TO_INT(g_thread_join(threads[i])), 0);
    assert_int_equal(soft(f->st, "shared@example.org", "openhpi.de", T0, DAY),
                     WRITERS * ROUNDS * PER_ROUND + 1);
}

/* Processes starting together on a new file: each switches it to WAL and
 * finds the schema created exactly once. */
static gpointer opener(gpointer data)
{
    const config *cfg = data;
    char err[512];
    store *st = store_open(cfg, err, sizeof err);
    if (!st) {
        fprintf(stderr, "opener: %s\n", err);
        return GINT_TO_POINTER(1);
    }
    int count;
    int failed = store_soft_increment(st, "first@example.org", "openhpi.de", T0, DAY, &count);
    store_close(st);
    return GINT_TO_POINTER(failed ? 1 : 0);
}

static void test_concurrent_first_open(void **state)
{
    fixture *f = *state;
    char *path = g_build_filename(f->dir, "fresh", "new.sqlite", NULL);
    config cfg = { 0 };
    cfg.handler.dbfile = path;
    GThread *threads[WRITERS];
    for (int i = 0; i < WRITERS; i++) threads[i] = g_thread_new("opener", opener, &cfg);
    for (int i = 0; i < WRITERS; i++) assert_int_equal(GPOINTER_TO_INT(g_thread_join(threads[i])), 0);
    assert_int_equal(sql_int(path, "PRAGMA user_version"),
                     sql_int(f->dbfile, "PRAGMA user_version"));
    assert_int_equal(sql_int(path, "SELECT count FROM soft_bounce"), WRITERS);
    g_free(path);
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(test_open_creates_folder_and_schema),
        FIXTURE_TEST(test_reopen_keeps_data_and_version),
        FIXTURE_TEST(test_migrates_an_empty_database),
        FIXTURE_TEST(test_newer_schema_is_refused),
        FIXTURE_TEST(test_unopenable_store_is_an_error),
        FIXTURE_TEST(test_backend_choice),
        FIXTURE_TEST(test_message_seen),
        FIXTURE_TEST(test_soft_unique_key),
        FIXTURE_TEST(test_soft_window_restart),
        FIXTURE_TEST(test_soft_reset),
        FIXTURE_TEST(test_permanent),
        FIXTURE_TEST(test_find_address_joins_soft_and_permanent),
        FIXTURE_TEST(test_event_add_and_stats),
        FIXTURE_TEST(test_outbox_lifecycle),
        FIXTURE_TEST(test_outbox_claim_between_handles),
        FIXTURE_TEST(test_outbox_cancel),
        FIXTURE_TEST(test_quarantine_binary_round_trip),
        FIXTURE_TEST(test_transaction_rollback),
        FIXTURE_TEST(test_savepoint_rollback),
        FIXTURE_TEST(test_two_handles_see_commits_only),
        FIXTURE_TEST(test_concurrent_writers),
        FIXTURE_TEST(test_concurrent_first_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
