/*
 * test_store_pg.c - unit tests of the store's PostgreSQL backend against the
 * server that $PG_URL names (scripts/test-server postgresql start); without
 * it every test is skipped, saying so. Each test gets a schema of its own
 * (search_path through the URL's options), dropped afterwards. The cases
 * every backend shares (test_store_cases.inc), and what PostgreSQL and
 * several processes on one database add: migration under a lock, ASCII case
 * folding of the keys, text that is not UTF-8, claims that skip locked rows,
 * a failed statement failing the commit, deadlocks as errors, reconnecting,
 * concurrent increments of one counter reaching the exact total,
 * fingerprints deduped across connections, an outbox item going to one
 * claimer only, and no error showing the password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <libpq-fe.h>

#include "store/store.h"

#define DAY 86400L
#define T0 ((time_t)1790000000)

typedef struct fixture {
    PGconn *admin;            /* bypasses the store, in the test's schema */
    char *schema;
    char *url;                /* PG_URL with the schema as search_path */
    config cfg;
    store *st;
} fixture;

#include "test_store_cases.inc"

static void admin_exec(fixture *f, const char *sql)
{
    PGresult *res = PQexec(f->admin, sql);
    ExecStatusType rc = PQresultStatus(res);
    if (rc != PGRES_COMMAND_OK && rc != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
}

/* A second look at the database, for what the store's interface does not
 * show (row counts, the schema version). */
static long long fixture_int(fixture *f, const char *sql)
{
    PGresult *res = PQexec(f->admin, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    long long v = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

/* PG_URL with options=-csearch_path=schema added, percent-encoded. */
static char *url_with_schema(const char *url, const char *schema)
{
    return g_strdup_printf("%s%coptions=-csearch_path%%3D%s", url, strchr(url, '?') ? '&' : '?',
                           schema);
}

static int setup(void **state)
{
    static int serial;
    const char *url = getenv("PG_URL");
    fixture *f = g_new0(fixture, 1);
    *state = f;
    f->admin = PQconnectdb(url);
    if (PQstatus(f->admin) != CONNECTION_OK) {
        print_error("connecting to PG_URL: %s", PQerrorMessage(f->admin));
        return -1;
    }
    f->schema = g_strdup_printf("bd_test_%ld_%d", (long)getpid(), ++serial);
    char *sql = g_strdup_printf("SET client_min_messages = warning;"
                                " DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s;"
                                " SET search_path TO %s", f->schema, f->schema, f->schema);
    admin_exec(f, sql);
    g_free(sql);
    f->url = url_with_schema(url, f->schema);
    f->cfg.store.backend = "postgresql";
    f->cfg.store.url = f->url;
    f->st = open_store(&f->cfg);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    if (f->schema && PQstatus(f->admin) == CONNECTION_OK) {
        char *sql = g_strdup_printf("DROP SCHEMA %s CASCADE", f->schema);
        admin_exec(f, sql);
        g_free(sql);
    }
    PQfinish(f->admin);
    g_free(f->schema);
    g_free(f->url);
    g_free(f);
    return 0;
}

/* ---- opening and the schema ---- */

static void test_open_creates_schema_and_reopen_keeps_it(void **state)
{
    fixture *f = *state;
    long long version =
        fixture_int(f, "SELECT value FROM bouncedemails_meta WHERE name = 'schema_version'");
    assert_true(version >= 1);
    assert_int_equal(soft(f->st, "a@example.org", "openhpi.de", T0, 30 * DAY), 1);
    store_close(f->st);
    f->st = open_store(&f->cfg);
    assert_int_equal(fixture_int(f, "SELECT value FROM bouncedemails_meta"
                                " WHERE name = 'schema_version'"), version);
    assert_int_equal(soft(f->st, "a@example.org", "openhpi.de", T0 + 1, 30 * DAY), 2);
}

static void test_migrates_a_schema_with_foreign_tables(void **state)
{
    fixture *f = *state;
    char *other = g_strdup_printf("%s_old", f->schema);
    char *sql = g_strdup_printf("CREATE SCHEMA %s; CREATE TABLE %s.unrelated (x integer);"
                                " INSERT INTO %s.unrelated VALUES (7)", other, other, other);
    admin_exec(f, sql);
    g_free(sql);
    char *url = url_with_schema(getenv("PG_URL"), other);
    config cfg = { 0 };
    cfg.store.backend = "postgresql";
    cfg.store.url = url;
    store *st = open_store(&cfg);
    assert_int_equal(soft(st, "a@example.org", "openhpi.de", T0, DAY), 1);
    store_close(st);
    sql = g_strdup_printf("SELECT x + (SELECT value FROM %s.bouncedemails_meta) FROM %s.unrelated",
                          other, other);
    assert_int_equal(fixture_int(f, sql), 7 + fixture_int(f, "SELECT value FROM bouncedemails_meta"));
    g_free(sql);
    sql = g_strdup_printf("DROP SCHEMA %s CASCADE", other);
    admin_exec(f, sql);
    g_free(sql);
    g_free(url);
    g_free(other);
}

/* Closes the store and takes its schema back to schema 5, before fingerprints
 * were kept as bytes, holding a hex and another fingerprint; the current
 * version. */
static long long back_to_text_fingerprints(fixture *f)
{
    long long version = fixture_int(f, "SELECT value FROM bouncedemails_meta WHERE name = 'schema_version'");
    store_close(f->st);
    f->st = NULL;
    admin_exec(f, "ALTER TABLE message_seen RENAME COLUMN digest TO fingerprint;"
                  "ALTER TABLE message_seen ALTER COLUMN fingerprint TYPE text COLLATE \"C\""
                  " USING encode(fingerprint, 'hex');"
                  "INSERT INTO message_seen VALUES ('" FINGERPRINT_HEX "', 1700000000), ('fp-old', 1700000001);"
                  "CREATE INDEX permanent_bounce_domain ON permanent_bounce (domain_key);"
                  "UPDATE bouncedemails_meta SET value = 5 WHERE name = 'schema_version'");
    return version;
}

/* A schema from before fingerprints were kept as bytes: its hex
 * fingerprints are converted, and a message seen then is still a
 * duplicate; the index of permanent bounces by domain is gone. */
static void test_migration_keeps_fingerprints(void **state)
{
    fixture *f = *state;
    long long version = back_to_text_fingerprints(f);
    f->st = open_store(&f->cfg);
    assert_int_equal(fixture_int(f, "SELECT value FROM bouncedemails_meta WHERE name = 'schema_version'"),
                     version);
    assert_int_equal(fixture_int(f, "SELECT count(to_regclass('permanent_bounce_domain'))"), 0);
    expect_text_fingerprints_kept(f);
}

/* A process of the version before, on another machine, still running after
 * this one upgraded the schema, prepares its statement again when its
 * connection was reset (or first uses it then): PostgreSQL would take its
 * 64 hex digits as bytea's text form, a 64-byte key this version never
 * matches (a message it handled, delivered again, would be handled twice).
 * It must fail instead, so that its messages are retried until it is
 * upgraded. */
static void test_older_version_cannot_record_after_the_upgrade(void **state)
{
    fixture *f = *state;
    back_to_text_fingerprints(f);
    f->st = open_store(&f->cfg);
    const char *later = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    PGresult *res = PQprepare(f->admin, "older_seen",
                              "INSERT INTO message_seen (fingerprint, seen_at) VALUES ($1, $2)"
                              " ON CONFLICT DO NOTHING",
                              0, NULL);
    ExecStatusType rc = PQresultStatus(res);
    PQclear(res);
    if (rc == PGRES_COMMAND_OK) {
        const char *values[] = { later, "1767225600" };
        res = PQexecPrepared(f->admin, "older_seen", 2, values, NULL, NULL, 0);
        rc = PQresultStatus(res);
        PQclear(res);
    }
    assert_int_not_equal(rc, PGRES_COMMAND_OK);
    int seen = -1;
    assert_int_equal(store_message_seen(f->st, later, T0, &seen), 0);
    assert_int_equal(seen, 0);
}

static void test_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    admin_exec(f, "UPDATE bouncedemails_meta SET value = 999 WHERE name = 'schema_version'");
    char err[512] = "";
    assert_null(store_open(&f->cfg, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    assert_non_null(strstr(err, "999"));
}

/* Processes starting at once on an empty database: one migrates, none fails. */
static gpointer opener(gpointer data)
{
    char err[512];
    store *st = store_open(data, err, sizeof err);
    if (!st) return g_strdup(err);
    store_close(st);
    return NULL;
}

static void test_concurrent_first_open(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    admin_exec(f, "DROP TABLE soft_bounce, permanent_bounce, event, outbox, message_seen,"
                  " quarantine, bouncedemails_meta");
    GThread *threads[6];
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
        threads[i] = g_thread_new("opener", opener, &f->cfg);
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++) {
        char *err = g_thread_join(threads[i]);
        if (err) fail_msg("store_open: %s", err);
    }
    f->st = open_store(&f->cfg);
    assert_int_equal(soft(f->st, "a@example.org", "openhpi.de", T0, DAY), 1);
}

static void test_connection_errors_hide_the_password(void **state)
{
    fixture *f = *state;
    char err[512];
    config cfg = { 0 };
    cfg.store.backend = "postgresql";

    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "store.url"));

    /* The real server, the wrong password. */
    PQconninfoOption *opts = PQconninfo(f->admin);
    const char *host = NULL, *port = NULL, *user = NULL, *db = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0) host = o->val;
        if (strcmp(o->keyword, "port") == 0) port = o->val;
        if (strcmp(o->keyword, "user") == 0) user = o->val;
        if (strcmp(o->keyword, "dbname") == 0) db = o->val;
    }
    char *url = g_strdup_printf("postgresql://%s:Wr0ng-s3cret@%s:%s/%s", user, host, port, db);
    PQconninfoFree(opts);
    cfg.store.url = url;
    err[0] = '\0';
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "password"));
    assert_null(strstr(err, "Wr0ng-s3cret"));
    g_free(url);

    /* Nothing listens; a malformed URL, whose error would quote the password. */
    const char *const bad[] = {
        "postgresql://bd:Wr0ng-s3cret@127.0.0.1:1/bouncedemails?connect_timeout=2",
        "postgresql://bd:Wr0ng-s3cret@127.0.0.1:notaport/bouncedemails",
        "postgresql://bd:Wr0ng%2Ds3cret@127.0.0.1:1/bouncedemails?nosuchoption=Wr0ng-s3cret",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        cfg.store.url = (char *)bad[i];
        err[0] = '\0';
        assert_null(store_open(&cfg, err, sizeof err));
        assert_true(err[0] != '\0');
        if (strstr(err, "Wr0ng")) fail_msg("the password shows: %s", err);
    }
}

/* ---- what PostgreSQL makes different ---- */

/* Key columns fold the ASCII case only (as SQLite's NOCASE), for every
 * statement that looks a pair up; rows keep the spelling they came with. */
static void test_keys_fold_ascii_case_only(void **state)
{
    fixture *f = *state;
    assert_int_equal(soft(f->st, "Mixed@Example.org", "OpenHPI.de", T0, DAY), 1);
    assert_int_equal(soft(f->st, "mixed@example.ORG", "openhpi.DE", T0, DAY), 2);
    assert_int_equal(fixture_int(f, "SELECT count(*) FROM soft_bounce"
                                    " WHERE address = 'Mixed@Example.org' AND domain = 'OpenHPI.de'"),
                     1);
    assert_int_equal(soft(f->st, "\xc3\xa4@example.org", "openhpi.de", T0, DAY), 1);
    assert_int_equal(soft(f->st, "\xc3\x84@example.org", "openhpi.de", T0, DAY), 1);

    store_permanent p = { "Mixed@Example.org", "openhpi.de", "userunknown", "5.1.1", T0 };
    assert_int_equal(store_permanent_add(f->st, &p), 0);
    assert_int_equal(answer_for(f->st, "MIXED@example.org", "OPENHPI.de", "200"), 0);
    store_address_info *info;
    size_t n;
    assert_int_equal(store_find_address(f->st, "mixed@EXAMPLE.org", &info, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(info[0].soft_count, 2);
    assert_string_equal(info[0].platform_answer, "200");
    store_address_info_free(info, n);
    assert_int_equal(store_soft_reset(f->st, "MIXED@example.org", "openhpi.DE"), 0);
    assert_int_equal(fixture_int(f, "SELECT count(*) FROM soft_bounce"), 2);
}

static void test_text_that_is_not_utf8_is_kept_repaired(void **state)
{
    fixture *f = *state;
    /* Latin-1 from a bounce's diagnostic: stored, not refused. */
    store_permanent p = { "l@example.org", "openhpi.de", "Benutzer unbekannt \xfc", "5.1.1", T0 };
    assert_int_equal(store_permanent_add(f->st, &p), 0);
    store_event ev = { "fp-l", "l@example.org", "openhpi.de", "permanent", "userunknown",
                       "5.1.1", "550 Empf\xe4nger unbekannt", "stdin", T0, NULL };
    assert_int_equal(store_event_add(f->st, &ev), 0);
    store_address_info *info;
    size_t n;
    assert_int_equal(store_find_address(f->st, "l@example.org", &info, &n), 0);
    assert_int_equal(n, 1);
    assert_true(g_utf8_validate(info[0].permanent_reason, -1, NULL));
    assert_true(g_str_has_prefix(info[0].permanent_reason, "Benutzer unbekannt "));
    assert_true(g_str_has_suffix(info[0].permanent_reason, "\xef\xbf\xbd"));
    store_address_info_free(info, n);
    assert_int_equal(fixture_int(f, "SELECT count(*) FROM event WHERE diagnostic LIKE '550 Empf%'"), 1);
}

/* A claim inside a transaction that is still open: its rows stay locked, the
 * other claimer skips them instead of waiting, and gets the rest. */
static void test_outbox_claim_skips_locked_rows(void **state)
{
    fixture *f = *state;
    store *other = open_store(&f->cfg);
    store_outbox_item *items;
    size_t n;
    store_outbox_add(f->st, "k0@example.org", "openhpi.de", "userunknown", "5.1.1", "", T0);
    store_outbox_add(f->st, "k1@example.org", "openhpi.de", "userunknown", "5.1.1", "", T0 + 1);
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_outbox_claim(f->st, T0 + 10, 60, 1, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].address, "k0@example.org");
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_claim(other, T0 + 10, 60, 10, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].address, "k1@example.org");
    store_outbox_free(items, n);
    /* Rolled back: the first claim never happened, k0 is due again. */
    assert_int_equal(store_rollback(f->st), 0);
    assert_int_equal(store_outbox_claim(other, T0 + 10, 60, 10, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].address, "k0@example.org");
    store_outbox_free(items, n);
    store_close(other);
}

/* In PostgreSQL a failed statement aborts the transaction: a savepoint
 * rollback recovers it, and a commit without one is an error, never a
 * silent rollback reported as success. */
static void test_failed_statement_fails_the_commit(void **state)
{
    fixture *f = *state;
    store *st = f->st;
    admin_exec(f, "ALTER TABLE event ADD CONSTRAINT no_bad CHECK (verdict <> 'bad')");
    store_event ev = { "fp-1", "f@example.org", "openhpi.de", "bad", "x", "", "", "stdin", T0, NULL };

    assert_int_equal(store_begin(st), 0);
    soft(st, "f@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_savepoint(st), 0);
    assert_int_equal(store_event_add(st, &ev), -1);
    assert_non_null(strstr(store_errmsg(st), "no_bad"));
    assert_int_equal(store_savepoint_rollback(st), 0);
    soft(st, "g@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(fixture_int(f, "SELECT count(*) FROM soft_bounce"), 2);

    assert_int_equal(store_begin(st), 0);
    soft(st, "h@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_event_add(st, &ev), -1);
    int count;
    assert_int_equal(store_soft_increment(st, "i@example.org", "openhpi.de", T0, DAY, &count), -1);
    assert_int_equal(store_commit(st), -1);
    assert_non_null(strstr(store_errmsg(st), "rolled back"));
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(fixture_int(f, "SELECT count(*) FROM soft_bounce"), 2);
    /* The handle works on. */
    assert_int_equal(soft(st, "h@example.org", "openhpi.de", T0, DAY), 1);
}

static void test_broken_connection_is_reset(void **state)
{
    fixture *f = *state;
    /* A name of its own, so that only this handle's session is ended. */
    config cfg = f->cfg;
    char *url = g_strdup_printf("%s&application_name=%s", f->url, f->schema);
    cfg.store.url = url;
    store *st = open_store(&cfg);
    assert_int_equal(soft(st, "z@example.org", "openhpi.de", T0, DAY), 1);
    /* The server ends the session (an administrator, a failover): the next
     * statement outside a transaction reconnects. */
    char *sql = g_strdup_printf("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                " WHERE application_name = '%s'", f->schema);
    assert_int_equal(fixture_int(f, sql), 1);
    g_free(sql);
    int count = -1;
    int rc = store_soft_increment(st, "z@example.org", "openhpi.de", T0, DAY, &count);
    if (rc < 0) /* libpq learns of the loss only when it next uses the connection */
        rc = store_soft_increment(st, "z@example.org", "openhpi.de", T0, DAY, &count);
    assert_int_equal(rc, 0);
    assert_int_equal(count, 2);
    store_close(st);
    g_free(url);
}

/* A row lock held by another transaction is waited for only lock_timeout
 * (ours 10 s; the URL's options override it, and keep their search_path),
 * then the statement fails as the store being unavailable for now. */
static void test_lock_wait_ends_in_an_error(void **state)
{
    fixture *f = *state;
    config cfg = f->cfg;
    char *url = g_strdup_printf("%s%%20-clock_timeout%%3D300ms", f->url);
    cfg.store.url = url;
    store *impatient = open_store(&cfg);
    assert_int_equal(store_begin(f->st), 0);
    soft(f->st, "l@example.org", "openhpi.de", T0, DAY);
    int count;
    gint64 t0 = g_get_monotonic_time();
    assert_int_equal(store_soft_increment(impatient, "l@example.org", "openhpi.de", T0, DAY,
                                          &count), -1);
    assert_true(g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC);
    assert_non_null(strstr(store_errmsg(impatient), "lock timeout"));
    assert_false(store_error_permanent(impatient));
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(soft(impatient, "l@example.org", "openhpi.de", T0, DAY), 2);
    store_close(impatient);
    g_free(url);
}

typedef struct late_answer {
    store *st;
    const store_outbox_item *item;
    int rc;
} late_answer;

static gpointer late_answer_write(gpointer data)
{
    late_answer *l = data;
    g_atomic_int_set(&l->rc, store_permanent_set_answer(l->st, l->item, "given up: timeout"));
    return NULL;
}

/* A notifier whose claim's lease ended writes its answer while the process
 * that took the notification over (b) has written its own answer and
 * outcome, uncommitted. The late answer changes nothing, and does not wait
 * for b: should it wait for b's lock on the suppression's row, READ
 * COMMITTED would re-check only that row once b commits, not the outbox. */
static void test_a_late_answer_during_the_takeover_changes_nothing(void **state)
{
    fixture *f = *state;
    store *b = open_store(&f->cfg);
    store_permanent p = { "late@example.org", "openhpi.de", "userunknown", "5.1.1", T0 };
    assert_int_equal(store_permanent_add(f->st, &p), 0);
    assert_int_equal(store_outbox_add(f->st, "late@example.org", "openhpi.de", "userunknown", "5.1.1", "", T0), 0);
    store_outbox_item *first, *second;
    size_t n_first, n_second;
    assert_int_equal(store_outbox_claim(f->st, T0, 60, 10, &first, &n_first), 0);
    assert_int_equal(store_outbox_claim(b, T0 + 61, 60, 10, &second, &n_second), 0);
    assert_int_equal(n_first + n_second, 2);
    assert_int_equal(store_begin(b), 0);
    assert_int_equal(store_permanent_set_answer(b, &second[0], "200 / second"), 0);
    assert_int_equal(store_outbox_finish(b, &second[0], STORE_OUTBOX_DONE, T0 + 62, "200 / second"), 0);
    late_answer a = { .st = f->st, .item = &first[0] };
    assert_int_equal(store_begin(a.st), 0);
    a.rc = 1;
    GThread *t = g_thread_new("late", late_answer_write, &a);
    /* Until it returns, or waits for b's lock (then b commits, so that the
     * test ends, and fails). */
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (g_atomic_int_get(&a.rc) == 1 &&
           fixture_int(f, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                          " AND datname = current_database()") == 0) {
        assert_true(g_get_monotonic_time() < deadline);
        g_usleep(10 * 1000);
    }
    bool waited = g_atomic_int_get(&a.rc) == 1;
    assert_int_equal(store_commit(b), 0);
    g_thread_join(t);
    assert_false(waited);
    assert_int_equal(a.rc, 0);
    assert_int_equal(store_outbox_finish(a.st, &first[0], STORE_OUTBOX_GIVEN_UP, T0 + 600, "timeout"), -1);
    assert_int_equal(store_commit(a.st), 0);
    store_address_info *info;
    size_t n;
    assert_int_equal(store_find_address(f->st, "late@example.org", &info, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(info[0].platform_answer, "200 / second");
    store_address_info_free(info, n);
    store_outbox_free(first, n_first);
    store_outbox_free(second, n_second);
    store_close(b);
}

typedef struct deadlock_side {
    store *st;
    int rc;
    char err[512];
} deadlock_side;

static gpointer deadlock_second_step(gpointer data)
{
    deadlock_side *d = data;
    int count;
    d->rc = store_soft_increment(d->st, "y@example.org", "openhpi.de", T0, DAY, &count);
    g_strlcpy(d->err, store_errmsg(d->st), sizeof d->err);
    return NULL;
}

/* Two batches that take the same counters in opposite order: PostgreSQL
 * breaks the deadlock by failing one of them, which the store reports as an
 * error (the ingress requeues the batch); the other commits. */
static void test_deadlock_is_an_error_to_retry(void **state)
{
    fixture *f = *state;
    deadlock_side a = { .st = f->st };
    store *b = open_store(&f->cfg);
    assert_int_equal(store_begin(a.st), 0);
    assert_int_equal(store_begin(b), 0);
    soft(a.st, "x@example.org", "openhpi.de", T0, DAY);
    soft(b, "y@example.org", "openhpi.de", T0, DAY);
    GThread *t = g_thread_new("deadlock", deadlock_second_step, &a); /* waits for b */
    int count;
    int rc_b = store_soft_increment(b, "x@example.org", "openhpi.de", T0, DAY, &count);
    const char *err_b = rc_b < 0 ? store_errmsg(b) : "";
    if (rc_b < 0) store_rollback(b);
    g_thread_join(t);
    /* Exactly one side failed, saying why. */
    assert_true((rc_b < 0) != (a.rc < 0));
    assert_non_null(strstr(rc_b < 0 ? err_b : a.err, "deadlock"));
    if (a.rc < 0) {
        store_rollback(a.st);
        assert_int_equal(store_commit(b), 0);
    } else {
        assert_int_equal(store_commit(a.st), 0);
    }
    assert_int_equal(fixture_int(f, "SELECT sum(count) FROM soft_bounce"), 2);
    store_close(b);
}

/* ---- several processes at once (a connection per thread) ---- */

#define WRITERS 6
#define ROUNDS 40
#define PER_ROUND 5
#define FINGERPRINTS 200

typedef struct worker {
    const config *cfg;
    int index;
    int failures;
    int new_fingerprints;
    GArray *claimed;          /* int64_t ids */
} worker;

/* A worker's own connection; failures -1 when there is none. */
static store *worker_open(worker *w)
{
    char err[512];
    store *st = store_open(w->cfg, err, sizeof err);
    if (!st) {
        print_error("store_open: %s\n", err);
        w->failures = -1;
    }
    return st;
}

/* Batches of increments of the same counter as every other writer, plus a
 * fingerprint each that every writer also records. A batch that fails
 * (deadlock, lock timeout) is retried, as the ingress requeues. */
static gpointer counter_writer(gpointer data)
{
    worker *w = data;
    store *st = worker_open(w);
    if (!st) return NULL;
    for (int r = 0; r < ROUNDS; r++) {
        for (int attempt = 0;; attempt++) {
            int ok = store_begin(st) == 0, count, seen = 0;
            for (int i = 0; ok && i < PER_ROUND; i++)
                ok = store_soft_increment(st, "shared@example.org", "openhpi.de", T0, DAY,
                                          &count) == 0;
            char fp[32];
            snprintf(fp, sizeof fp, "fp-%d", (r * 7 + w->index) % FINGERPRINTS);
            ok = ok && store_message_seen(st, fp, T0, &seen) == 0;
            if (ok && store_commit(st) == 0) {
                w->new_fingerprints += !seen;
                break;
            }
            store_rollback(st);
            w->failures++;
            if (attempt == 20) {
                store_close(st);
                return NULL;
            }
        }
    }
    store_close(st);
    return NULL;
}

static void test_concurrent_writers_lose_no_update(void **state)
{
    fixture *f = *state;
    worker workers[WRITERS] = { 0 };
    GThread *threads[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        workers[i].cfg = &f->cfg;
        workers[i].index = i;
        threads[i] = g_thread_new("writer", counter_writer, &workers[i]);
    }
    int new_fingerprints = 0, retries = 0;
    for (int i = 0; i < WRITERS; i++) {
        g_thread_join(threads[i]);
        assert_true(workers[i].failures >= 0);
        retries += workers[i].failures;
        new_fingerprints += workers[i].new_fingerprints;
    }
    print_message("concurrent writers: %d batches retried\n", retries);
    assert_int_equal(soft(f->st, "shared@example.org", "openhpi.de", T0, DAY),
                     WRITERS * ROUNDS * PER_ROUND + 1);
    /* Each fingerprint was new to exactly one committed batch. */
    long long distinct = fixture_int(f, "SELECT count(*) FROM message_seen");
    assert_int_equal(new_fingerprints, distinct);
}

#define CLAIMERS 4
#define ITEMS 300

static gpointer claimer(gpointer data)
{
    worker *w = data;
    store *st = worker_open(w);
    if (!st) return NULL;
    for (;;) {
        store_outbox_item *items;
        size_t n;
        if (store_outbox_claim(st, T0 + 10, 600, 7, &items, &n) < 0) {
            w->failures++;
            break;
        }
        for (size_t i = 0; i < n; i++) g_array_append_val(w->claimed, items[i].id);
        store_outbox_free(items, n);
        if (n == 0) break;
    }
    store_close(st);
    return NULL;
}

static void test_outbox_claim_hands_each_item_to_one_claimer(void **state)
{
    fixture *f = *state;
    assert_int_equal(store_begin(f->st), 0);
    for (int i = 0; i < ITEMS; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "m%d@example.org", i);
        assert_int_equal(store_outbox_add(f->st, addr, "openhpi.de", "userunknown", "5.1.1", "",
                                          T0), 0);
    }
    assert_int_equal(store_commit(f->st), 0);

    worker workers[CLAIMERS] = { 0 };
    GThread *threads[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) {
        workers[i].cfg = &f->cfg;
        workers[i].claimed = g_array_new(FALSE, FALSE, sizeof(int64_t));
        threads[i] = g_thread_new("claimer", claimer, &workers[i]);
    }
    GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    size_t total = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        g_thread_join(threads[i]);
        assert_int_equal(workers[i].failures, 0);
        for (guint k = 0; k < workers[i].claimed->len; k++) {
            int64_t *id = g_new(int64_t, 1);
            *id = g_array_index(workers[i].claimed, int64_t, k);
            if (!g_hash_table_add(seen, id)) fail_msg("item %lld claimed twice", (long long)*id);
        }
        total += workers[i].claimed->len;
        g_array_free(workers[i].claimed, TRUE);
    }
    assert_int_equal(total, ITEMS);
    assert_int_equal(g_hash_table_size(seen), ITEMS);
    g_hash_table_destroy(seen);
}

static void test_skipped_without_server(void **state)
{
    (void)state;
    print_message("PG_URL is not set: no PostgreSQL to test against"
                  " (start one with scripts/test-server postgresql start)\n");
    skip();
}

/* ---- errors a retry cannot fix; passwords the URL cannot carry as libpq reads it ---- */

/* PostgreSQL refuses an index row larger than about 2.7 kB (SQLSTATE 54000):
 * a 3,000-character address that does not compress can never be stored. A
 * lost connection can: it is not permanent. */
static void test_index_row_too_large_is_permanent(void **state)
{
    fixture *f = *state;
    GString *address = g_string_new(NULL);
    GRand *rand = g_rand_new_with_seed(13);
    while (address->len < 3000) g_string_append_c(address, "abcdefghijklmnopqrstuvwxyz0123456789"[g_rand_int_range(rand, 0, 36)]);
    g_string_append(address, "@example.com");
    g_rand_free(rand);
    int count = 0;
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_soft_increment(f->st, address->str, "openhpi.de", T0, DAY, &count), -1);
    assert_true(store_error_permanent(f->st));
    assert_int_equal(store_rollback(f->st), 0);
    store_permanent p = { address->str, "openhpi.de", "unknown", "5.1.1", T0 };
    assert_int_equal(store_permanent_add(f->st, &p), -1);
    assert_true(store_error_permanent(f->st));
    /* The same store still works, and a short address is stored. */
    assert_int_equal(soft(f->st, "short@example.org", "openhpi.de", T0, DAY), 1);
    g_string_free(address, TRUE);

    config cfg = f->cfg;
    char *url = g_strdup_printf("%s&application_name=%s", f->url, f->schema);
    cfg.store.url = url;
    store *st = open_store(&cfg);
    assert_int_equal(store_begin(st), 0);
    char *sql = g_strdup_printf("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                " WHERE application_name = '%s'", f->schema);
    assert_int_equal(fixture_int(f, sql), 1);
    assert_int_equal(store_soft_increment(st, "z@example.org", "openhpi.de", T0, DAY, &count), -1);
    assert_false(store_error_permanent(st));
    store_rollback(st);
    store_close(st);
    g_free(sql);
    g_free(url);
}

/* A password holding "/", ":" and "@" as they are: libpq's own reading took
 * the part after the "/" for the host ("could not translate host name"),
 * and quoted it. Our role's password is changed for the test and put back. */
static void test_password_with_slash_and_colon_connects(void **state)
{
    fixture *f = *state;
    const char *pw = "S3cret/Pw:x@y";
    PQconninfoOption *opts = PQconninfo(f->admin);
    const char *host = NULL, *port = NULL, *user = NULL, *db = NULL, *old = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0) host = o->val;
        if (strcmp(o->keyword, "port") == 0) port = o->val;
        if (strcmp(o->keyword, "user") == 0) user = o->val;
        if (strcmp(o->keyword, "dbname") == 0) db = o->val;
        if (strcmp(o->keyword, "password") == 0) old = o->val;
    }
    char *set = g_strdup_printf("ALTER ROLE %s PASSWORD '%s'", user, pw);
    char *reset = g_strdup_printf("ALTER ROLE %s PASSWORD '%s'", user, old);
    char *url = g_strdup_printf("postgresql://%s:%s@%s:%s/%s?options=-csearch_path%%3D%s", user, pw, host, port,
                                db, f->schema);
    config cfg = f->cfg;
    cfg.store.url = url;
    char err[512] = "";
    admin_exec(f, set);
    store *st = store_open(&cfg, err, sizeof err);
    admin_exec(f, reset);
    if (!st) fail_msg("store_open: %s", err);
    assert_int_equal(soft(st, "pw@example.org", "openhpi.de", T0, DAY), 1);
    store_close(st);

    /* The wrong password, spelt the same way: refused, and not shown. */
    char *wrong = g_strdup_printf("postgresql://%s:Wr0ng/Pw:x@%s:%s/%s", user, host, port, db);
    cfg.store.url = wrong;
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "password"));
    if (strstr(err, "Wr0ng") || strstr(err, "Pw:x")) fail_msg("the password shows: %s", err);
    PQconninfoFree(opts);
    g_free(wrong);
    g_free(url);
    g_free(set);
    g_free(reset);
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    if (!getenv("PG_URL") || !*getenv("PG_URL")) {
        const struct CMUnitTest none[] = { cmocka_unit_test(test_skipped_without_server) };
        cmocka_run_group_tests(none, NULL, NULL);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(test_open_creates_schema_and_reopen_keeps_it),
        FIXTURE_TEST(test_migrates_a_schema_with_foreign_tables),
        FIXTURE_TEST(test_migration_keeps_fingerprints),
        FIXTURE_TEST(test_older_version_cannot_record_after_the_upgrade),
        FIXTURE_TEST(test_newer_schema_is_refused),
        FIXTURE_TEST(test_concurrent_first_open),
        FIXTURE_TEST(test_connection_errors_hide_the_password),
        FIXTURE_TEST(test_message_seen),
        FIXTURE_TEST(test_message_seen_keeps_a_digest_as_bytes),
        FIXTURE_TEST(test_soft_unique_key),
        FIXTURE_TEST(test_soft_window_restart),
        FIXTURE_TEST(test_soft_reset),
        FIXTURE_TEST(test_permanent),
        FIXTURE_TEST(test_keys_fold_ascii_case_only),
        FIXTURE_TEST(test_text_that_is_not_utf8_is_kept_repaired),
        FIXTURE_TEST(test_find_address_joins_soft_and_permanent),
        FIXTURE_TEST(test_event_add_and_stats),
        FIXTURE_TEST(test_stats_counts_permanent_per_domain),
        FIXTURE_TEST(test_outbox_lifecycle),
        FIXTURE_TEST(test_outbox_claim_remembered),
        FIXTURE_TEST(test_outbox_outcome_of_a_removed_item_lands_nowhere),
        FIXTURE_TEST(test_outbox_outcome_after_a_claim_was_taken_over_is_refused),
        FIXTURE_TEST(test_outbox_outcome_of_a_claim_before_a_revival_is_refused),
        FIXTURE_TEST(test_outbox_claim_between_handles),
        FIXTURE_TEST(test_outbox_claim_skips_locked_rows),
        FIXTURE_TEST(test_outbox_cancel),
        FIXTURE_TEST(test_outbox_defer_domain),
        FIXTURE_TEST(test_quarantine_binary_round_trip),
        FIXTURE_TEST(test_notbounce_kept_apart),
        FIXTURE_TEST(test_transaction_rollback),
        FIXTURE_TEST(test_savepoint_rollback),
        FIXTURE_TEST(test_failed_statement_fails_the_commit),
        FIXTURE_TEST(test_broken_connection_is_reset),
        FIXTURE_TEST(test_lock_wait_ends_in_an_error),
        FIXTURE_TEST(test_deadlock_is_an_error_to_retry),
        FIXTURE_TEST(test_a_late_answer_during_the_takeover_changes_nothing),
        FIXTURE_TEST(test_match_addresses_by_substring),
        FIXTURE_TEST(test_import_keeps_what_the_store_knows),
        FIXTURE_TEST(test_quarantine_get_one),
        FIXTURE_TEST(test_history_joins_the_notification),
        FIXTURE_TEST(test_history_keeps_the_forward_target),
        FIXTURE_TEST(test_purge_in_batches),
        FIXTURE_TEST(test_two_handles_see_commits_only),
        FIXTURE_TEST(test_outbox_gauges_and_quarantine_size),
        FIXTURE_TEST(test_concurrent_writers_lose_no_update),
        FIXTURE_TEST(test_outbox_claim_hands_each_item_to_one_claimer),
        FIXTURE_TEST(test_index_row_too_large_is_permanent),
        FIXTURE_TEST(test_password_with_slash_and_colon_connects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
