/*
 * test_store.c - unit tests of the store's SQLite backend, each on a fresh
 * database file in a temporary folder: every function, the soft-bounce
 * window, the unique keys, the outbox's lifecycle, the quarantine with binary
 * data, savepoints, several handles on one file, the schema version, and
 * files that cannot be opened. The cases every backend shares are in
 * test_store_cases.inc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

#include "test_store_cases.inc"

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

static long long fixture_int(fixture *f, const char *sql)
{
    return sql_int(f->dbfile, sql);
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

/* Under the usual umask 022 the files still hold addresses: 0640, and the
 * folder 0750, never readable by every local user. */
static void test_files_are_not_world_readable(void **state)
{
    fixture *f = *state;
    mode_t old = umask(022);
    char *dbfile = g_build_filename(f->dir, "modes", "bounces.sqlite", NULL);
    config cfg = { 0 };
    cfg.handler.dbfile = dbfile;
    store *st = open_store(&cfg);
    umask(old);
    assert_int_equal(soft(st, "a@example.org", "openhpi.de", T0, DAY), 1);
    const char *const suffixes[] = { "", "-wal", "-shm" };
    for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        char *file = g_strconcat(dbfile, suffixes[i], NULL);
        GStatBuf sb;
        assert_int_equal(g_stat(file, &sb), 0);
        if ((sb.st_mode & 0777) != 0640) fail_msg("%s is %03o, not 0640", file, (unsigned)(sb.st_mode & 0777));
        g_free(file);
    }
    char *dir = g_path_get_dirname(dbfile);
    GStatBuf sb;
    assert_int_equal(g_stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0750);
    store_close(st);
    g_free(dir);
    g_free(dbfile);
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

/* Closes the store and takes its file back to schema 5, before
 * fingerprints were kept as bytes, holding a hex and another fingerprint;
 * the current version. */
static sqlite3_int64 back_to_text_fingerprints(fixture *f)
{
    sqlite3_int64 version = sql_int(f->dbfile, "PRAGMA user_version");
    store_close(f->st);
    f->st = NULL;
    sql_exec(f->dbfile, "PRAGMA user_version = 5");
    sql_exec(f->dbfile,
             "DROP TABLE message_seen;"
             "CREATE TABLE message_seen (fingerprint TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID;"
             "CREATE INDEX message_seen_at ON message_seen (seen_at);"
             "INSERT INTO message_seen VALUES ('" FINGERPRINT_HEX "', 1700000000), ('fp-old', 1700000001);"
             "CREATE INDEX permanent_bounce_domain ON permanent_bounce (domain);");
    return version;
}

/* A file from before fingerprints were kept as bytes: its hex fingerprints
 * are converted, and a message seen then is still a duplicate; the index of
 * permanent bounces by domain is gone. */
static void test_migration_keeps_fingerprints(void **state)
{
    fixture *f = *state;
    sqlite3_int64 version = back_to_text_fingerprints(f);
    f->st = open_store(&f->cfg);
    assert_int_equal(sql_int(f->dbfile, "PRAGMA user_version"), version);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM sqlite_master WHERE name = 'permanent_bounce_domain'"),
                     0);
    expect_text_fingerprints_kept(f);
}

/* A daemon of the version before, still running when a new process (a
 * `stdin` run) upgraded the file, records fingerprints with the statement it
 * prepared before: SQLite prepares it again after the schema change, and it
 * would keep the 64 hex digits as text, which this version never matches
 * (a message it handled, delivered again, would be handled twice). It must
 * fail instead, so that its messages are retried until it is restarted. */
static void test_older_version_cannot_record_after_the_upgrade(void **state)
{
    fixture *f = *state;
    back_to_text_fingerprints(f);
    sqlite3 *older;
    sqlite3_stmt *seen_stmt;
    assert_int_equal(sqlite3_open(f->dbfile, &older), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(older,
                                        "INSERT INTO message_seen (fingerprint, seen_at) VALUES (?1, ?2)"
                                        " ON CONFLICT DO NOTHING",
                                        -1, &seen_stmt, NULL),
                     SQLITE_OK);
    f->st = open_store(&f->cfg);
    const char *later = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    sqlite3_bind_text(seen_stmt, 1, later, -1, SQLITE_STATIC);
    sqlite3_bind_int64(seen_stmt, 2, T0);
    assert_int_not_equal(sqlite3_step(seen_stmt), SQLITE_DONE);
    sqlite3_finalize(seen_stmt);
    sqlite3_close(older);
    int seen = -1;
    assert_int_equal(store_message_seen(f->st, later, T0, &seen), 0);
    assert_int_equal(seen, 0);
}

/* How many temporary tables (OpenEphemeral) the program of sql opens. */
static int sql_ephemeral_tables(const char *dbfile, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_open_v2(dbfile, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *explain = g_strconcat("EXPLAIN ", sql, NULL);
    assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &stmt, NULL), SQLITE_OK);
    int n = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW)
        n += strcmp((const char *)sqlite3_column_text(stmt, 1), "OpenEphemeral") == 0;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    g_free(explain);
    return n;
}

/* Queueing a notification and recording its outcome open no temporary
 * table for the check of the state (each cost a pager of its own). SQLite
 * 3.40 codes a CHECK's IN list of three values that way: on migration 8's
 * table this finds one in each program. */
static void test_outbox_writes_open_no_temporary_table(void **state)
{
    fixture *f = *state;
    assert_int_equal(sql_ephemeral_tables(f->dbfile, "INSERT INTO outbox (address, domain, created, next_attempt)"
                                                     " VALUES ('a@example.org', 'openhpi.de', 1, 1)"),
                     0);
    assert_int_equal(sql_ephemeral_tables(f->dbfile, "UPDATE outbox SET state = 1 WHERE id = 1"), 0);
}

/* A file of schema 8, whose outbox checked its state with IN: the items
 * keep their ids and states, every index is made again, and the state is
 * still checked. */
static void test_migration_keeps_the_outbox(void **state)
{
    fixture *f = *state;
    sqlite3_int64 version = sql_int(f->dbfile, "PRAGMA user_version");
    store_close(f->st);
    f->st = NULL;
    sql_exec(f->dbfile,
             "DROP TABLE outbox;"
             "CREATE TABLE outbox (id INTEGER PRIMARY KEY, address TEXT NOT NULL COLLATE NOCASE,"
             " domain TEXT NOT NULL COLLATE NOCASE, reason TEXT, status TEXT, diagnostic TEXT,"
             " created INTEGER NOT NULL, next_attempt INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
             " state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)), last_result TEXT);"
             "CREATE UNIQUE INDEX outbox_open ON outbox (address, domain) WHERE state <> 1;"
             "CREATE INDEX outbox_address ON outbox (address, domain, created);"
             "CREATE INDEX outbox_pending ON outbox (next_attempt) WHERE state = 0;"
             "CREATE INDEX outbox_domain ON outbox (domain, state) WHERE state <> 1;"
             "INSERT INTO outbox VALUES (7, 'a@example.org', 'openhpi.de', 'r', '5.1.1', 'd', 1, 2, 0, 0, NULL),"
             " (9, 'b@example.org', 'openhpi.de', NULL, NULL, NULL, 1, 3, 1, 1, '200'),"
             " (12, 'c@example.org', 'opensap.com', NULL, NULL, NULL, 1, 4, 5, 2, '500');"
             "PRAGMA user_version = 8;");

    f->st = open_store(&f->cfg);
    assert_int_equal(sql_int(f->dbfile, "PRAGMA user_version"), version);
    /* Every column of every item, NULLs compared with IS. */
    assert_int_equal(sql_int(f->dbfile,
                             "SELECT count(*) FROM outbox AS o JOIN (VALUES"
                             " (7, 'a@example.org', 'openhpi.de', 'r', '5.1.1', 'd', 1, 2, 0, 0, NULL),"
                             " (9, 'b@example.org', 'openhpi.de', NULL, NULL, NULL, 1, 3, 1, 1, '200'),"
                             " (12, 'c@example.org', 'opensap.com', NULL, NULL, NULL, 1, 4, 5, 2, '500')) AS v"
                             " ON o.id = v.column1 AND o.address IS v.column2 AND o.domain IS v.column3"
                             " AND o.reason IS v.column4 AND o.status IS v.column5 AND o.diagnostic IS v.column6"
                             " AND o.created IS v.column7 AND o.next_attempt IS v.column8"
                             " AND o.attempts IS v.column9 AND o.state IS v.column10 AND o.last_result IS v.column11"),
                     3);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM outbox"), 3);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'outbox' AND sql IN ("
                                        "'CREATE UNIQUE INDEX outbox_open ON outbox (address, domain) WHERE state <> 1',"
                                        "'CREATE INDEX outbox_address ON outbox (address, domain, created)',"
                                        "'CREATE INDEX outbox_pending ON outbox (next_attempt) WHERE state = 0',"
                                        "'CREATE INDEX outbox_domain ON outbox (domain, state) WHERE state <> 1')"),
                     4);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'outbox'"),
                     4);
    assert_int_equal(sql_ephemeral_tables(f->dbfile, "UPDATE outbox SET state = 1 WHERE id = 7"), 0);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->dbfile, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE outbox SET state = 3 WHERE id = 7", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(db, "UPDATE outbox SET state = 1.5 WHERE id = 7", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);

    /* The next item gets a new id, past the copied ones. */
    assert_int_equal(store_outbox_add(f->st, "d@example.org", "openhpi.de", NULL, NULL, NULL, T0), 0);
    assert_int_equal(sql_int(f->dbfile, "SELECT max(id) FROM outbox WHERE address = 'd@example.org'"), 13);
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

    /* The PostgreSQL backend is a module: without it, an error naming it. */
    char *dir = g_strdup(getenv("BOUNCEDEMAILS_MODULE_DIR"));
    g_setenv("BOUNCEDEMAILS_MODULE_DIR", "/nonexistent", TRUE);
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/bouncedemails-pgsql.so"));
    if (dir)
        g_setenv("BOUNCEDEMAILS_MODULE_DIR", dir, TRUE);
    else
        g_unsetenv("BOUNCEDEMAILS_MODULE_DIR");
    g_free(dir);

    cfg.store.backend = "oracle";
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "unknown store backend"));

    cfg.store.backend = "sqlite";
    store *st = open_store(&cfg);
    store_close(st);
    store_close(NULL);
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

/* A notification that is done leaves the outbox's per-domain index, which
 * holds the open items that `stats` and the gauges count: finishing one
 * writes less, and a gauges scrape does not read the outbox's history. */
static void test_done_items_leave_the_domain_index(void **state)
{
    fixture *f = *state;
    const char *domains[] = { "openhpi.de", "openhpi.de", "opensap.com", "opensap.com" };
    for (int i = 0; i < 4; i++) {
        char address[32];
        snprintf(address, sizeof address, "a%d@x.de", i);
        assert_int_equal(store_outbox_add(f->st, address, domains[i], "r", "5.1.1", "", T0), 0);
    }
    store_outbox_item *items;
    size_t n;
    assert_int_equal(store_outbox_claim(f->st, T0, 60, 10, &items, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(store_outbox_finish(f->st, &items[0], STORE_OUTBOX_DONE, T0, "200 / ok"), 0);
    assert_int_equal(store_outbox_finish(f->st, &items[2], STORE_OUTBOX_DONE, T0, "200 / ok"), 0);
    assert_int_equal(store_outbox_finish(f->st, &items[3], STORE_OUTBOX_GIVEN_UP, T0, "400 / no"), 0);
    store_outbox_free(items, n);
    assert_int_equal(fixture_int(f, "SELECT sum(ncell) FROM dbstat WHERE name = 'outbox_domain' AND pagetype = 'leaf'"), 2);
    store_outbox_gauge *gauges;
    assert_int_equal(store_outbox_gauges(f->st, &gauges, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(gauges[0].pending, 1);
    assert_int_equal(gauges[0].given_up, 0);
    assert_int_equal(gauges[1].pending, 0);
    assert_int_equal(gauges[1].given_up, 1);
    store_outbox_gauges_free(gauges, n);
    store_domain_stats *stats;
    long quarantined;
    assert_int_equal(store_stats(f->st, T0, 0, &stats, &n, &quarantined), 0);
    assert_int_equal(n, 2);
    assert_int_equal(stats[0].outbox_pending, 1);
    assert_int_equal(stats[1].outbox_pending, 0);
    assert_int_equal(stats[1].outbox_given_up, 1);
    store_stats_free(stats, n);
}

/* What a `stdin` run does to the store, then its close: closing runs no
 * ANALYZE (PRAGMA optimize ran one of the outbox at every close, because its
 * partial indexes, empty when every notification is done, never count as
 * analysed), which read the whole table: a run got slower with every bounce
 * the store had taken. */
static void test_close_reads_no_whole_table(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 50; i++) {
        char address[32];
        snprintf(address, sizeof address, "a%d@x.de", i);
        assert_int_equal(store_outbox_add(f->st, address, "openhpi.de", "r", "5.1.1", "", T0), 0);
    }
    for (int run = 0; run < 3; run++) {
        store_outbox_remember(f->st);
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_outbox_add(f->st, "mine@x.de", "openhpi.de", "r", "5.1.1", "", T0 + run), 0);
        assert_int_equal(store_commit(f->st), 0);
        store_outbox_item *items;
        size_t n;
        assert_int_equal(store_outbox_claim_remembered(f->st, T0 + run, 60, &items, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(store_outbox_finish(f->st, &items[0], STORE_OUTBOX_DONE, T0 + run, "200 / ok"), 0);
        store_outbox_free(items, n);
        assert_int_equal(store_outbox_due(f->st, T0 + run, 10, &items, &n), 0);
        store_outbox_free(items, n);
        store_close(f->st);
        f->st = NULL;
        assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'"), 0);
        f->st = open_store(&f->cfg);
    }
}

/* Statistics an earlier version left (here: of an outbox of 10 items) are
 * dropped at the next open, so that the planner no longer reads the
 * outbox's whole history for the gauges as the table outgrows them. */
static void test_open_drops_stale_statistics(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    sql_exec(f->dbfile, "ANALYZE sqlite_schema;"
                        "INSERT INTO sqlite_stat1 VALUES ('outbox', 'outbox_address', '10 1 1 1');");
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM sqlite_stat1"), 1);
    f->st = open_store(&f->cfg);
    assert_int_equal(sql_int(f->dbfile, "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'"), 0);
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(test_open_creates_folder_and_schema),
        FIXTURE_TEST(test_reopen_keeps_data_and_version),
        FIXTURE_TEST(test_files_are_not_world_readable),
        FIXTURE_TEST(test_migrates_an_empty_database),
        FIXTURE_TEST(test_migration_keeps_fingerprints),
        FIXTURE_TEST(test_older_version_cannot_record_after_the_upgrade),
        FIXTURE_TEST(test_migration_keeps_the_outbox),
        FIXTURE_TEST(test_outbox_writes_open_no_temporary_table),
        FIXTURE_TEST(test_newer_schema_is_refused),
        FIXTURE_TEST(test_unopenable_store_is_an_error),
        FIXTURE_TEST(test_backend_choice),
        FIXTURE_TEST(test_message_seen),
        FIXTURE_TEST(test_message_seen_keeps_a_digest_as_bytes),
        FIXTURE_TEST(test_soft_unique_key),
        FIXTURE_TEST(test_soft_window_restart),
        FIXTURE_TEST(test_soft_reset),
        FIXTURE_TEST(test_permanent),
        FIXTURE_TEST(test_find_address_joins_soft_and_permanent),
        FIXTURE_TEST(test_event_add_and_stats),
        FIXTURE_TEST(test_stats_counts_permanent_per_domain),
        FIXTURE_TEST(test_outbox_lifecycle),
        FIXTURE_TEST(test_outbox_claim_remembered),
        FIXTURE_TEST(test_outbox_outcome_of_a_removed_item_lands_nowhere),
        FIXTURE_TEST(test_outbox_outcome_after_a_claim_was_taken_over_is_refused),
        FIXTURE_TEST(test_outbox_outcome_of_a_claim_before_a_revival_is_refused),
        FIXTURE_TEST(test_close_reads_no_whole_table),
        FIXTURE_TEST(test_open_drops_stale_statistics),
        FIXTURE_TEST(test_outbox_claim_between_handles),
        FIXTURE_TEST(test_outbox_cancel),
        FIXTURE_TEST(test_outbox_defer_domain),
        FIXTURE_TEST(test_quarantine_binary_round_trip),
        FIXTURE_TEST(test_notbounce_kept_apart),
        FIXTURE_TEST(test_transaction_rollback),
        FIXTURE_TEST(test_savepoint_rollback),
        FIXTURE_TEST(test_match_addresses_by_substring),
        FIXTURE_TEST(test_import_keeps_what_the_store_knows),
        FIXTURE_TEST(test_quarantine_get_one),
        FIXTURE_TEST(test_history_joins_the_notification),
        FIXTURE_TEST(test_history_keeps_the_forward_target),
        FIXTURE_TEST(test_purge_in_batches),
        FIXTURE_TEST(test_two_handles_see_commits_only),
        FIXTURE_TEST(test_outbox_gauges_and_quarantine_size),
        FIXTURE_TEST(test_concurrent_writers),
        FIXTURE_TEST(test_concurrent_first_open),
        FIXTURE_TEST(test_done_items_leave_the_domain_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
