/*
 * test_rules.c - unit tests of the notifier's rules that need no network:
 * URL expansion of unusual addresses, the outcome of each kind of HTTP
 * status, the backoff schedule with its jitter bounds, and the claim's
 * lease against the time a notification may wait in memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>

#include "notify/notify.h"

static void expect_url(const char *tpl, const char *address, const char *want)
{
    char *got = notify_expand_url(tpl, address);
    assert_string_equal(got, want);
    g_free(got);
}

static void test_expand_plain(void **state)
{
    (void)state;
    expect_url("https://p.example/emails/{address}/suspend", "jane.doe_1-x~y@example.com",
               "https://p.example/emails/jane.doe_1-x~y%40example.com/suspend");
}

static void test_expand_reserved(void **state)
{
    (void)state;
    expect_url("http://h/e/{address}", "a+b@x.de", "http://h/e/a%2Bb%40x.de");
    expect_url("http://h/e/{address}", "a/b@x.de", "http://h/e/a%2Fb%40x.de");
    expect_url("http://h/e/{address}", "100%@x.de", "http://h/e/100%25%40x.de");
    expect_url("http://h/e/{address}", "\"john smith\"@x.de", "http://h/e/%22john%20smith%22%40x.de");
    expect_url("http://h/e/{address}", "a?b#c&d=e;f@x.de", "http://h/e/a%3Fb%23c%26d%3De%3Bf%40x.de");
    expect_url("http://h/e/{address}", "{address}@x.de", "http://h/e/%7Baddress%7D%40x.de");
}

static void test_expand_unicode(void **state)
{
    (void)state;
    /* Each UTF-8 byte on its own, upper-case hex (RFC 3986 2.1). */
    expect_url("http://h/e/{address}", "jürgen@bücher.de", "http://h/e/j%C3%BCrgen%40b%C3%BCcher.de");
    expect_url("http://h/e/{address}", "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b.cn",
               "http://h/e/%E7%94%A8%E6%88%B7%40%E4%BE%8B.cn");
}

static void test_expand_template_shapes(void **state)
{
    (void)state;
    expect_url("http://h/{address}/x?again={address}", "a b@c.d", "http://h/a%20b%40c.d/x?again=a%20b%40c.d");
    expect_url("http://h/no-expression", "a@b.c", "http://h/no-expression");
    expect_url("{address}", "", "");
    /* Only the {address} expression is expanded; other braces stay. */
    expect_url("http://h/{other}/{address}", "a@b", "http://h/{other}/a%40b");
}

static void test_outcome_of_status(void **state)
{
    (void)state;
    static const struct { long status; notify_outcome want; } cases[] = {
        { 200, NOTIFY_DONE }, { 201, NOTIFY_DONE }, { 204, NOTIFY_DONE }, { 299, NOTIFY_DONE },
        { 404, NOTIFY_UNKNOWN }, { 410, NOTIFY_UNKNOWN },
        { 400, NOTIFY_GIVE_UP }, { 401, NOTIFY_GIVE_UP }, { 403, NOTIFY_GIVE_UP }, { 422, NOTIFY_GIVE_UP },
        { 499, NOTIFY_GIVE_UP }, { 301, NOTIFY_GIVE_UP }, { 302, NOTIFY_GIVE_UP }, { 100, NOTIFY_GIVE_UP },
        { 408, NOTIFY_RETRY }, { 429, NOTIFY_RETRY },
        { 500, NOTIFY_RETRY }, { 502, NOTIFY_RETRY }, { 503, NOTIFY_RETRY }, { 599, NOTIFY_RETRY },
        { 0, NOTIFY_RETRY }, { 600, NOTIFY_RETRY }, { -1, NOTIFY_RETRY },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        notify_outcome got = notify_outcome_of_status(cases[i].status);
        if (got != cases[i].want)
            fail_msg("status %ld: outcome %d, want %d", cases[i].status, (int)got, (int)cases[i].want);
    }
}

static void test_backoff_doubles_to_ceiling(void **state)
{
    (void)state;
    config_notify cn = { .retry_initial_s = 30, .retry_max_s = 3600 };
    /* With no jitter the schedule is the plain doubling, capped. */
    static const long want[] = { 30, 60, 120, 240, 480, 960, 1920, 3600, 3600 };
    for (int a = 1; a <= (int)(sizeof want / sizeof want[0]); a++)
        assert_int_equal(notify_backoff_s(&cn, a, 0.0), want[a - 1]);
    /* Far-out attempt counts do not overflow. */
    assert_int_equal(notify_backoff_s(&cn, 1000000, 0.0), 3600);
    assert_int_equal(notify_backoff_s(&cn, 1000000, 0.9999), 1801);
}

static void test_backoff_jitter_bounds(void **state)
{
    (void)state;
    config_notify cn = { .retry_initial_s = 7, .retry_max_s = 1000 };
    GRand *rand = g_rand_new_with_seed(42);
    for (int a = 1; a <= 20; a++) {
        long base = 7;
        for (int i = 1; i < a; i++)
            base = base * 2 > 1000 ? 1000 : base * 2;
        long lo = base, hi = 0;
        for (int k = 0; k < 2000; k++) {
            long d = notify_backoff_s(&cn, a, g_rand_double(rand));
            if (d < (base + 1) / 2 || d > base)
                fail_msg("attempt %d: %ld outside [%ld, %ld]", a, d, (base + 1) / 2, base);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* The jitter really spreads the delays over the interval. */
        if (base >= 8)
            assert_true(hi - lo >= base / 4);
    }
    g_rand_free(rand);
    /* The bounds themselves. */
    assert_int_equal(notify_backoff_s(&cn, 1, 0.0), 7);
    assert_int_equal(notify_backoff_s(&cn, 1, 0.9999), 5);
}

static void test_backoff_degenerate_config(void **state)
{
    (void)state;
    config_notify zero = { .retry_initial_s = 0, .retry_max_s = 3600 };
    assert_int_equal(notify_backoff_s(&zero, 5, 0.5), 0);
    config_notify low_max = { .retry_initial_s = 30, .retry_max_s = 10 };
    assert_int_equal(notify_backoff_s(&low_max, 1, 0.0), 10);
    assert_int_equal(notify_backoff_s(&low_max, 3, 0.0), 10);
}

/* A notification held in memory starts only while the rest of its lease
 * covers its whole request: a xikolo resolve and the POST, each up to the
 * timeout. */
static void test_lease_covers_the_longest_hold(void **state)
{
    (void)state;
    const time_t claimed = 1700000000;
    assert_true(notify_may_start(claimed, claimed));
    assert_true(notify_may_start(claimed, claimed + NOTIFY_HOLD_S));
    assert_false(notify_may_start(claimed, claimed + NOTIFY_HOLD_S + 1));
    const long timeouts_ms[] = { 100, 1500, 30000, 3600000 };
    for (size_t i = 0; i < G_N_ELEMENTS(timeouts_ms); i++) {
        config_notify cn = { .timeout_ms = timeouts_ms[i] };
        long request_s = 2 * ((timeouts_ms[i] + 999) / 1000);
        assert_true(NOTIFY_HOLD_S + request_s < notify_lease_s(&cn));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand_plain),
        cmocka_unit_test(test_expand_reserved),
        cmocka_unit_test(test_expand_unicode),
        cmocka_unit_test(test_expand_template_shapes),
        cmocka_unit_test(test_outcome_of_status),
        cmocka_unit_test(test_backoff_doubles_to_ceiling),
        cmocka_unit_test(test_backoff_jitter_bounds),
        cmocka_unit_test(test_backoff_degenerate_config),
        cmocka_unit_test(test_lease_covers_the_longest_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
