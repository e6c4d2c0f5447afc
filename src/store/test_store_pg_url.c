/*
 * test_store_pg_url.c - unit tests of store_pg_url.c, without a server:
 * store.url taken apart into libpq's keywords (passwords holding "/", ":"
 * and "@", percent-encoding, host lists, IPv6, query keywords, key=value
 * strings), errors that quote nothing from the URL, and redaction of every
 * spelling of the password from a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "store/store_pg_url.h"

#define OURS "-c lock_timeout=10s"

static const char *const defaults[][2] = {
    { "application_name", "bouncedemails" }, { "connect_timeout", "10" }, { NULL, NULL },
};

static const char *value(const pg_url *u, const char *key)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->keys[i], key) == 0) return u->values[i];
    return NULL;
}

static void parse(const char *url, pg_url *u)
{
    char err[512] = "";
    if (pg_url_parse(url, defaults, OURS, u, err, sizeof err) < 0) fail_msg("%s: %s", url, err);
    assert_null(u->keys[u->n]);
}

static void test_password_with_slash_colon_and_at(void **state)
{
    (void)state;
    pg_url u;
    parse("postgresql://bd:S3cret/Pw:x@y@127.0.0.1:5433/bouncedemails", &u);
    assert_string_equal(value(&u, "user"), "bd");
    assert_string_equal(value(&u, "password"), "S3cret/Pw:x@y");
    assert_string_equal(value(&u, "host"), "127.0.0.1");
    assert_string_equal(value(&u, "port"), "5433");
    assert_string_equal(value(&u, "dbname"), "bouncedemails");
    assert_string_equal(value(&u, "application_name"), "bouncedemails");
    assert_string_equal(value(&u, "client_encoding"), "UTF8");
    assert_string_equal(value(&u, "options"), OURS);
    pg_url_free(&u);
}

static void test_percent_encoding_and_query(void **state)
{
    (void)state;
    pg_url u;
    parse("postgres://b%40d:p%2Fq%3Ar%25@db.example.org/my%20db?sslmode=disable&application_name=ops"
          "&options=-csearch_path%3Dbd", &u);
    assert_string_equal(value(&u, "user"), "b@d");
    assert_string_equal(value(&u, "password"), "p/q:r%");
    assert_string_equal(value(&u, "host"), "db.example.org");
    assert_null(value(&u, "port"));
    assert_string_equal(value(&u, "dbname"), "my db");
    assert_string_equal(value(&u, "sslmode"), "disable");
    assert_string_equal(value(&u, "application_name"), "ops");
    assert_string_equal(value(&u, "options"), OURS " -csearch_path=bd");
    pg_url_free(&u);
}

static void test_hosts_ipv6_and_sockets(void **state)
{
    (void)state;
    pg_url u;
    parse("postgresql://[::1]:5432,db2.example.org:5433,db3/x", &u);
    assert_string_equal(value(&u, "host"), "::1,db2.example.org,db3");
    assert_string_equal(value(&u, "port"), "5432,5433,");
    assert_null(value(&u, "user"));
    assert_null(value(&u, "password"));
    pg_url_free(&u);
    parse("postgresql:///bouncedemails?host=%2Fvar%2Frun%2Fpostgresql", &u);
    assert_string_equal(value(&u, "host"), "/var/run/postgresql");
    assert_string_equal(value(&u, "dbname"), "bouncedemails");
    pg_url_free(&u);
}

static void test_key_value_string(void **state)
{
    (void)state;
    pg_url u;
    parse("host=127.0.0.1 port=5432 user=bd password='S3 cret/x' dbname=bouncedemails", &u);
    assert_string_equal(value(&u, "password"), "S3 cret/x");
    assert_string_equal(value(&u, "host"), "127.0.0.1");
    char *shown = pg_url_redact(&u, "password authentication failed for \"S3 cret/x\"");
    assert_string_equal(shown, "password authentication failed for \"***\"");
    g_free(shown);
    pg_url_free(&u);
}

static void test_errors_quote_nothing(void **state)
{
    (void)state;
    const char *const bad[] = {
        "postgresql://bd:S3cret@127.0.0.1:S3cret/x",
        "postgresql://bd:S3cr%ZZet@127.0.0.1/x",
        "postgresql://bd:S3cret@[::1/x",
        "postgresql://bd:pw@h/x?S3cret",
        "host=h password=S3cret unknown_keyword=S3cret",
        "S3cret",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        pg_url u;
        char err[512] = "";
        assert_int_equal(pg_url_parse(bad[i], defaults, OURS, &u, err, sizeof err), -1);
        assert_non_null(strstr(err, "store.url"));
        if (strstr(err, "S3cr")) fail_msg("%s: the error quotes the URL: %s", bad[i], err);
        pg_url_free(&u);
    }
}

/* Every spelling: as written, decoded, the whole user information; and the
 * message on one line. */
static void test_redaction(void **state)
{
    (void)state;
    pg_url u;
    parse("postgresql://bd:Pa%2Fss:w0rd@127.0.0.1:1/x?password=Q-s3cret", &u);
    const char *msg = "could not connect: \"Pa/ss:w0rd\" \"Pa%2Fss:w0rd\" \"bd:Pa%2Fss:w0rd\" Q-s3cret\n"
                      "\tIs the server running?\n";
    char *shown = pg_url_redact(&u, msg);
    assert_null(strstr(shown, "Pa"));
    assert_null(strstr(shown, "w0rd"));
    assert_null(strstr(shown, "s3cret"));
    assert_null(strchr(shown, '\n'));
    assert_string_equal(shown, "could not connect: \"***\" \"***\" \"***\" ***; Is the server running?");
    g_free(shown);
    pg_url_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_with_slash_colon_and_at),
        cmocka_unit_test(test_percent_encoding_and_query),
        cmocka_unit_test(test_hosts_ipv6_and_sockets),
        cmocka_unit_test(test_key_value_string),
        cmocka_unit_test(test_errors_quote_nothing),
        cmocka_unit_test(test_redaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
