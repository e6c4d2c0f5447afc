/*
 * test_address.c - a failed address is taken as the report gives it and
 * checked against RFC 5321 before anything acts on it (issue 13 point 8).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "classify/classify_internal.h"

static void
assert_taken(const char *raw, const char *want)
{
    char *got = classify_address_take(raw);
    assert_non_null(got);
    assert_string_equal(got, want);
    g_free(got);
}

/* The four rewritings of 13.8: a leading dot or quote stays, so the address
 * never becomes another mailbox. */
static void
test_address_not_rewritten(void **state)
{
    (void)state;
    assert_taken("rfc822; .victim1@gmail.com", ".victim1@gmail.com");
    assert_taken("rfc822;'victim2@example.org", "'victim2@example.org");
    assert_taken("<..victim3@example.org>", "..victim3@example.org");
    assert_taken("''victim4@example.org", "''victim4@example.org");
    assert_false(classify_address_is_valid(".victim1@gmail.com"));
    assert_false(classify_address_is_valid("..victim3@example.org"));
    /* a quote is atext: a valid mailbox, but not victim2's */
    assert_true(classify_address_is_valid("'victim2@example.org"));
    assert_true(classify_address_is_valid("''victim4@example.org"));
}

static void
test_address_take_strips_only_wrapping(void **state)
{
    (void)state;
    assert_taken("rfc822; <User@Example.ORG>", "user@example.org");
    assert_taken("  mailto:user@example.org ", "user@example.org");
    assert_taken("\"John Doe\"@example.org", "\"john doe\"@example.org");
    /* more than an address: the first mailbox in it */
    assert_taken("Kijitora Cat <kijitora@example.jp>", "kijitora@example.jp");
    assert_taken("failed: user@example.org (no such user)", "user@example.org");
    assert_null(classify_address_take("no address here"));
}

static void
test_address_validity(void **state)
{
    (void)state;
    assert_true(classify_address_is_valid("user@example.org"));
    assert_true(classify_address_is_valid("first.last+tag@sub.example.co.jp"));
    assert_true(classify_address_is_valid("\"john doe\"@example.org"));
    assert_true(classify_address_is_valid("user@[192.0.2.1]"));
    assert_true(classify_address_is_valid("ユーザー@例え.jp"));
    assert_false(classify_address_is_valid("user"));
    assert_false(classify_address_is_valid("user@localhost"));         /* no dot */
    assert_false(classify_address_is_valid("@example.org"));
    assert_false(classify_address_is_valid("user.@example.org"));
    assert_false(classify_address_is_valid("a..b@example.org"));
    assert_false(classify_address_is_valid("user@-example.org"));
    assert_false(classify_address_is_valid("user@example..org"));
    assert_false(classify_address_is_valid("/var/mail/user@example.org"));  /* a path */
    assert_false(classify_address_is_valid("@relay.example:user@example.org"));
    assert_false(classify_address_is_valid("us\ter@example.org"));
    assert_false(classify_address_is_valid("user@exa\x7fmple.org"));
    assert_false(classify_address_is_valid("\"unterminated@example.org"));

    char local[70], domain[300], both[400];
    memset(local, 'a', 64);
    local[64] = '\0';
    snprintf(both, sizeof both, "%s@example.org", local);
    assert_true(classify_address_is_valid(both));
    memset(local, 'a', 65);
    local[65] = '\0';
    snprintf(both, sizeof both, "%s@example.org", local);
    assert_false(classify_address_is_valid(both));      /* local part over 64 */
    /* 254 octets in all is the limit */
    for (int i = 0; i < 4; i++)
        memset(domain + i * 62, 'd', 61), domain[i * 62 + 61] = '.';
    strcpy(domain + 4 * 62, "org");
    snprintf(both, sizeof both, "u@%s", domain);       /* 2 + 248 + 3 = 253 */
    assert_true(classify_address_is_valid(both));
    snprintf(both, sizeof both, "uuu@%s", domain);     /* 255 */
    assert_false(classify_address_is_valid(both));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_not_rewritten),
        cmocka_unit_test(test_address_take_strips_only_wrapping),
        cmocka_unit_test(test_address_validity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
