/*
 * test_store_pg.c - unit tests of the store's PostgreSQL backend against the
 * server that $PG_URL names (scripts/test-server postgresql start); without
 * it every test is skipped, saying so. Each test gets a schema of its own
 * (search_path through the URL's options), dropped afterwards. The same
 * behaviours as test_store.c's, and what several processes on one database
 * add: concurrent increments of one counter reach the exact total,
 * fingerprints dedupe across connections, an outbox item goes to one claimer
 * only, a failed statement fails the commit, a broken connection is
 * reconnected, and no error shows the password.
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

static store *open_store(const config *cfg)
{
    char err[512] = "";
    store *st = store_open(cfg, err, sizeof err);
    if (!st) fail_msg("store_open: %s", err);
    return st;
}

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
static long long sql_int(fixture *f, const char *sql)
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

static int soft(store *st, const char *address, const char *domain, time_t now, long window)
{
    int count = -1;
    if (store_soft_increment(st, address, domain, now, window, &count) != 0)
        fail_msg("store_soft_increment: %s", store_errmsg(st));
    return count;
}

static const store_address_info *info_for(const store_address_info *info, size_t n,
                                          const char *domain)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(info[i].domain, domain) == 0) return &info[i];
    return NULL;
}

static const store_outbox_item *item_for(const store_outbox_item *items, size_t n,
                                         const char *address)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].address, address) == 0) return &items[i];
    return NULL;
}

/* ---- opening and the schema ---- */

static void test_open_creates_schema_and_reopen_keeps_it(void **state)
{
    fixture *f = *state;
    long long version =
        sql_int(f, "SELECT value FROM bouncedemails_meta WHERE name = 'schema_version'");
    assert_true(version >= 1);
    assert_int_equal(soft(f->st, "a@example.org", "openhpi.de", T0, 30 * DAY), 1);
    store_close(f->st);
    f->st = open_store(&f->cfg);
    assert_int_equal(sql_int(f, "SELECT value FROM bouncedemails_meta"
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
    assert_int_equal(sql_int(f, sql), 7 + sql_int(f, "SELECT value FROM bouncedemails_meta"));
    g_free(sql);
    sql = g_strdup_printf("DROP SCHEMA %s CASCADE", other);
    admin_exec(f, sql);
    g_free(sql);
    g_free(url);
    g_free(other);
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
    /* ASCII case does not split the counter; the first spelling stays. */
    assert_int_equal(soft(f->st, "A@Example.ORG", "OpenHPI.de", T0 + 30, 30 * DAY), 26);
    assert_int_equal(soft(f->st, "a@example.org", "opensap.com", T0 + 30, 30 * DAY), 1);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM soft_bounce"), 2);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM soft_bounce WHERE address = 'a@example.org'"),
                     2);
    /* Beyond ASCII, case is not folded, as in SQLite's NOCASE. */
    assert_int_equal(soft(f->st, "\xc3\xa4@example.org", "openhpi.de", T0, DAY), 1);
    assert_int_equal(soft(f->st, "\xc3\x84@example.org", "openhpi.de", T0, DAY), 1);

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
    assert_int_equal(soft(f->st, a, "openhpi.de", T0 + 40 * DAY, w), 3);
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

    assert_int_equal(soft(f->st, a, "openhpi.de", restart - DAY, w), 2);
    assert_int_equal(store_find_address(f->st, a, &info, &n), 0);
    assert_int_equal(info[0].soft_last, restart);
    store_address_info_free(info, n);

    assert_int_equal(soft(f->st, "n@example.org", "openhpi.de", T0, 0), 1);
    assert_int_equal(soft(f->st, "n@example.org", "openhpi.de", T0 + 5000 * DAY, 0), 2);
}

static void test_soft_reset(void **state)
{
    fixture *f = *state;
    soft(f->st, "r@example.org", "openhpi.de", T0, DAY);
    soft(f->st, "r@example.org", "opensap.com", T0, DAY);
    soft(f->st, "other@example.org", "openhpi.de", T0, DAY);

    assert_int_equal(store_soft_reset(f->st, "r@example.org", "OpenHPI.de"), 0);
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
    assert_int_equal(store_permanent_set_answer(f->st, "P@example.org", "openhpi.de",
                                                "200 / {\"processd_email\": \"p@example.org\"}"),
                     0);
    store_permanent p2 = { "p@example.org", "openhpi.de", "hostunknown", "5.1.2", T0 + 60 };
    assert_int_equal(store_permanent_add(f->st, &p2), 0);
    store_permanent p3 = { "p@example.org", "opensap.com", "suspend", "", T0 + 90 };
    assert_int_equal(store_permanent_add(f->st, &p3), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM permanent_bounce"), 2);

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
    assert_string_equal(sap->permanent_status, "");
    assert_null(sap->platform_answer);
    store_address_info_free(info, n);

    int removed = -1;
    assert_int_equal(store_permanent_remove(f->st, "p@example.org", "opensap.com", &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(store_permanent_remove(f->st, "p@example.org", "opensap.com", &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(store_permanent_set_answer(f->st, "p@example.org", "opensap.com", "200"), 0);
    assert_int_equal(store_permanent_add(f->st, &p3), 0);
    assert_int_equal(store_permanent_remove(f->st, "P@EXAMPLE.ORG", NULL, &removed), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(store_find_address(f->st, "p@example.org", &info, &n), 0);
    assert_int_equal(n, 0);
    store_address_info_free(info, n);
}

static void test_text_that_is_not_utf8_is_kept_repaired(void **state)
{
    fixture *f = *state;
    /* Latin-1 from a bounce's diagnostic: stored, not refused. */
    store_permanent p = { "l@example.org", "openhpi.de", "Benutzer unbekannt \xfc", "5.1.1", T0 };
    assert_int_equal(store_permanent_add(f->st, &p), 0);
    store_event ev = { "fp-l", "l@example.org", "openhpi.de", "permanent", "userunknown",
                       "5.1.1", "550 Empf\xe4nger unbekannt", "stdin", T0 };
    assert_int_equal(store_event_add(f->st, &ev), 0);
    store_address_info *info;
    size_t n;
    assert_int_equal(store_find_address(f->st, "l@example.org", &info, &n), 0);
    assert_int_equal(n, 1);
    assert_true(g_utf8_validate(info[0].permanent_reason, -1, NULL));
    assert_true(g_str_has_prefix(info[0].permanent_reason, "Benutzer unbekannt "));
    assert_true(g_str_has_suffix(info[0].permanent_reason, "\xef\xbf\xbd"));
    store_address_info_free(info, n);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM event WHERE diagnostic LIKE '550 Empf%'"), 1);
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
    assert_int_equal(store_find_address(f->st, "J@example.org", &info, &n), 0);
    assert_int_equal(n, 2);
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
    ev.domain = "OpenHPI.de";
    assert_int_equal(store_event_add(f->st, &ev), 0);
    ev.domain = NULL;
    ev.verdict = "ignore";
    assert_int_equal(store_event_add(f->st, &ev), 0);
    ev.verdict = NULL;
    assert_int_equal(store_event_add(f->st, &ev), -1);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM event"), 3);

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
    assert_int_equal(stats[0].soft_addresses, 1);
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

    assert_int_equal(store_stats(f->st, T0, 0, &stats, &n, &quarantined), 0);
    assert_int_equal(stats[0].soft_addresses, 2);
    store_stats_free(stats, n);
}

/* ---- outbox ---- */

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
    assert_int_equal(store_outbox_add(st, "O@example.org", "openhpi.de", "hostunknown", "5.1.2",
                                      "other", T0 + 5), 0);
    assert_int_equal(store_outbox_list(st, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].address, "o@example.org");
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

    assert_int_equal(store_outbox_finish(st, id, STORE_OUTBOX_PENDING, T0 + 60, "503 / busy"), 0);
    assert_int_equal(store_outbox_due(st, T0 + 59, 10, &items, &n), 0);
    assert_int_equal(n, 0);
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_due(st, T0 + 60, 10, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].attempts, 1);
    assert_string_equal(items[0].last_result, "503 / busy");
    store_outbox_free(items, n);

    assert_int_equal(store_outbox_finish(st, id, STORE_OUTBOX_GIVEN_UP, T0 + 60, "403 / no"), 0);
    assert_int_equal(store_outbox_due(st, T0 + 10 * DAY, 10, &items, &n), 0);
    assert_int_equal(n, 0);
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_next_due(st, &when, &any), 0);
    assert_int_equal(any, 0);

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

    assert_int_equal(store_outbox_finish(st, id, STORE_OUTBOX_GIVEN_UP, T0 + 100, "403 / no"), 0);
    assert_int_equal(store_outbox_add(st, "b@example.org", "openhpi.de", "userunknown", "5.1.1",
                                      "", T0 + 100), 0);
    int moved = -1;
    assert_int_equal(store_outbox_retry_given_up(st, T0 + 200, &moved), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(store_outbox_due(st, T0 + 200, 10, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].address, "b@example.org");
    assert_int_equal(items[1].id, id);
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_due(st, T0 + 200, 1, &items, &n), 0);
    assert_int_equal(n, 1);
    store_outbox_free(items, n);

    /* Done: history; a later bounce queues a new item. */
    assert_int_equal(store_outbox_finish(st, id, STORE_OUTBOX_DONE, T0 + 200, "200 / ok"), 0);
    assert_int_equal(store_outbox_add(st, "o@example.org", "openhpi.de", "userunknown", "5.1.1",
                                      "", T0 + 300), 0);
    assert_int_equal(store_outbox_list(st, &items, &n), 0);
    assert_int_equal(n, 2);
    const store_outbox_item *o = item_for(items, n, "o@example.org");
    assert_non_null(o);
    assert_true(o->id != id);
    store_outbox_free(items, n);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 3);

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

    assert_int_equal(store_outbox_claim(other, T0 + 10, 60, 10, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].address, "c2@example.org");
    store_outbox_free(items, n);
    assert_int_equal(store_outbox_claim(other, T0 + 10, 60, 10, &items, &n), 0);
    assert_int_equal(n, 0);
    store_outbox_free(items, n);

    assert_int_equal(store_outbox_finish(f->st, first, STORE_OUTBOX_DONE, T0 + 11, "200"), 0);
    assert_int_equal(store_outbox_claim(other, T0 + 70, 60, 10, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].address, "c1@example.org");
    assert_string_equal(items[1].address, "c2@example.org");
    store_outbox_free(items, n);
    store_close(other);
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
    assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE state = 1"), 1);
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
    assert_int_equal(store_savepoint(st), 0);
    assert_int_equal(store_message_seen(st, "fp-b", T0, &seen), 0);
    soft(st, "b@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_savepoint_rollback(st), 0);
    assert_int_equal(store_savepoint(st), 0);
    soft(st, "c@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_savepoint(st), 0);
    soft(st, "d@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_savepoint_rollback(st), 0);
    assert_int_equal(store_savepoint_release(st), 0);
    assert_int_equal(store_commit(st), 0);

    assert_int_equal(sql_int(f, "SELECT count(*) FROM soft_bounce"), 2);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM soft_bounce WHERE address IN"
                                " ('a@example.org', 'c@example.org')"), 2);
    assert_int_equal(store_message_seen(st, "fp-b", T0, &seen), 0);
    assert_int_equal(seen, 0);
}

/* In PostgreSQL a failed statement aborts the transaction: a savepoint
 * rollback recovers it, and a commit without one is an error, never a
 * silent rollback reported as success. */
static void test_failed_statement_fails_the_commit(void **state)
{
    fixture *f = *state;
    store *st = f->st;
    admin_exec(f, "ALTER TABLE event ADD CONSTRAINT no_bad CHECK (verdict <> 'bad')");
    store_event ev = { "fp-1", "f@example.org", "openhpi.de", "bad", "x", "", "", "stdin", T0 };

    assert_int_equal(store_begin(st), 0);
    soft(st, "f@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_savepoint(st), 0);
    assert_int_equal(store_event_add(st, &ev), -1);
    assert_non_null(strstr(store_errmsg(st), "no_bad"));
    assert_int_equal(store_savepoint_rollback(st), 0);
    soft(st, "g@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM soft_bounce"), 2);

    assert_int_equal(store_begin(st), 0);
    soft(st, "h@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_event_add(st, &ev), -1);
    int count;
    assert_int_equal(store_soft_increment(st, "i@example.org", "openhpi.de", T0, DAY, &count), -1);
    assert_int_equal(store_commit(st), -1);
    assert_non_null(strstr(store_errmsg(st), "rolled back"));
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM soft_bounce"), 2);
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
    assert_int_equal(sql_int(f, sql), 1);
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
    assert_int_equal(sql_int(f, "SELECT sum(count) FROM soft_bounce"), 2);
    store_close(b);
}

static void test_two_handles_see_commits_only(void **state)
{
    fixture *f = *state;
    store *other = open_store(&f->cfg);
    store_address_info *info;
    size_t n;
    assert_int_equal(store_begin(f->st), 0);
    soft(f->st, "v@example.org", "openhpi.de", T0, DAY);
    assert_int_equal(store_find_address(other, "v@example.org", &info, &n), 0);
    assert_int_equal(n, 0);
    store_address_info_free(info, n);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_find_address(other, "v@example.org", &info, &n), 0);
    assert_int_equal(n, 1);
    store_address_info_free(info, n);
    store_close(other);
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

/* Batches of increments of the same counter as every other writer, plus a
 * fingerprint each that every writer also records. A batch that fails
 * (deadlock, lock timeout) is retried, as the ingress requeues. */
static gpointer counter_writer(gpointer data)
{
    worker *w = data;
    char err[512];
    store *st = store_open(w->cfg, err, sizeof err);
    if (!st) {
        w->failures = -1;
        return NULL;
    }
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
    long long distinct = sql_int(f, "SELECT count(*) FROM message_seen");
    assert_int_equal(new_fingerprints, distinct);
}

#define CLAIMERS 4
#define ITEMS 300

static gpointer claimer(gpointer data)
{
    worker *w = data;
    char err[512];
    store *st = store_open(w->cfg, err, sizeof err);
    if (!st) {
        w->failures = -1;
        return NULL;
    }
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
        FIXTURE_TEST(test_newer_schema_is_refused),
        FIXTURE_TEST(test_concurrent_first_open),
        FIXTURE_TEST(test_connection_errors_hide_the_password),
        FIXTURE_TEST(test_message_seen),
        FIXTURE_TEST(test_soft_unique_key),
        FIXTURE_TEST(test_soft_window_restart),
        FIXTURE_TEST(test_soft_reset),
        FIXTURE_TEST(test_permanent),
        FIXTURE_TEST(test_text_that_is_not_utf8_is_kept_repaired),
        FIXTURE_TEST(test_find_address_joins_soft_and_permanent),
        FIXTURE_TEST(test_event_add_and_stats),
        FIXTURE_TEST(test_outbox_lifecycle),
        FIXTURE_TEST(test_outbox_claim_between_handles),
        FIXTURE_TEST(test_outbox_claim_skips_locked_rows),
        FIXTURE_TEST(test_outbox_cancel),
        FIXTURE_TEST(test_quarantine_binary_round_trip),
        FIXTURE_TEST(test_transaction_rollback),
        FIXTURE_TEST(test_savepoint_rollback),
        FIXTURE_TEST(test_failed_statement_fails_the_commit),
        FIXTURE_TEST(test_broken_connection_is_reset),
        FIXTURE_TEST(test_deadlock_is_an_error_to_retry),
        FIXTURE_TEST(test_two_handles_see_commits_only),
        FIXTURE_TEST(test_concurrent_writers_lose_no_update),
        FIXTURE_TEST(test_outbox_claim_hands_each_item_to_one_claimer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
