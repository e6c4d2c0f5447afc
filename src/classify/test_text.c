/*
 * test_text.c - unit tests of the detectors' text helpers and of the
 * report's recipient list (text.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "classify/classify_internal.h"

static void
test_find_ci(void **state)
{
    (void)state;
    const char *s = "Delivery to the following RECIPIENTS failed";
    assert_ptr_equal(classify_find_ci(s, strlen(s), "recipients"), s + 26);
    assert_ptr_equal(classify_find_ci(s, strlen(s), "delivery"), s);
    assert_null(classify_find_ci(s, strlen(s), "bounced"));
    /* The length bounds the search: no match past hay_len. */
    assert_null(classify_find_ci(s, 20, "recipients"));
    assert_null(classify_find_ci(s, strlen(s), "failed!"));
}

/* Eight bytes are lower-cased at a time: every byte value, at every
 * position of a word and in the tail, comes out as g_ascii_tolower has it
 * (letters A-Z only; UTF-8 and other bytes unchanged). */
static void
test_lower_ascii(void **state)
{
    (void)state;
    char src[256 + 7], dst[256 + 7];
    for (size_t shift = 0; shift < 8; shift++) {
        for (size_t i = 0; i < sizeof src; i++)
            src[i] = (char)(unsigned char)((i + shift * 37) & 0xff);
        for (size_t n = 0; n <= sizeof src; n += 1 + n / 16) {
            memset(dst, '#', sizeof dst);
            classify_lower_ascii(dst, src, n);
            for (size_t i = 0; i < n; i++)
                assert_int_equal((unsigned char)dst[i], (unsigned char)g_ascii_tolower(src[i]));
            for (size_t i = n; i < sizeof dst; i++)
                assert_int_equal(dst[i], '#');
        }
    }
}

/* A diagnostic's white space collapses to single spaces, none at either
 * end; it is cut after 8192 bytes (text.c), where a space pending at the
 * limit still comes out with the byte after it. */
static void
test_set_diagnostic(void **state)
{
    (void)state;
    classify_recipient r = { 0 };
    static const char messy[] = " \t550  user\n unknown\0here \r\n";
    classify_recipient_set_diagnostic(&r, messy, sizeof messy - 1);
    assert_string_equal(r.diagnostic, "550 user unknown here");

    char long_text[8200];
    memset(long_text, 'x', sizeof long_text);
    long_text[8191] = ' ';
    classify_recipient_set_diagnostic(&r, long_text, sizeof long_text);
    assert_int_equal(strlen(r.diagnostic), 8193);
    assert_int_equal(r.diagnostic[8191], ' ');
    assert_int_equal(r.diagnostic[8192], 'x');

    classify_recipient_set_diagnostic(&r, NULL, 5);
    assert_string_equal(r.diagnostic, "");
    g_free(r.diagnostic);
}

/* Where the first byte of the needle is everywhere, the search reads the
 * text in lower-cased chunks: matches at the start, across a chunk's seam,
 * at the very end, and none, as the plain compare finds them. */
static void
test_find_ci_dense(void **state)
{
    (void)state;
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 20000; i++)
        g_string_append_c(s, 'U');
    const char *needle = "user@Example.ORG";
    assert_null(classify_find_ci(s->str, s->len, needle));
    size_t offsets[] = { 0, 17, 255, 256 - 7, 4096 - 3, 4096 * 2 + 100, 20000 - 16 };
    for (size_t k = 0; k < G_N_ELEMENTS(offsets); k++) {
        GString *t = g_string_new_len(s->str, (gssize)s->len);
        memcpy(t->str + offsets[k], "USER@example.org", 16);
        assert_ptr_equal(classify_find_ci(t->str, t->len, needle), t->str + offsets[k]);
        /* Searching again past the match finds nothing. */
        assert_null(classify_find_ci(t->str + offsets[k] + 1, t->len - offsets[k] - 1, needle));
        g_string_free(t, TRUE);
    }
    g_string_free(s, TRUE);
}

static void
test_find_status(void **state)
{
    (void)state;
    char out[16];
    const char *s = "host 10.5.1.1 said: 550 5.1.1 <a@b.example>: user unknown";
    assert_true(classify_find_status(s, strlen(s), out));
    assert_string_equal(out, "5.1.1");
    s = "#4.4.7 timeout";
    assert_true(classify_find_status(s, strlen(s), out));
    assert_string_equal(out, "4.4.7");
    s = "Status: 5.7.26";
    assert_true(classify_find_status(s, strlen(s), out));
    assert_string_equal(out, "5.7.26");
    s = "version 1.2.3 and 192.168.5.1 only";
    assert_false(classify_find_status(s, strlen(s), out));
    s = "5.1.10.2";
    assert_false(classify_find_status(s, strlen(s), out));
}

static void
test_find_reply_code(void **state)
{
    (void)state;
    char out[4];
    const char *s = "192.168.250.1 said: 550-5.1.1 The email account";
    assert_true(classify_find_reply_code(s, strlen(s), out));
    assert_string_equal(out, "550");
    s = "in 2005 at port 25, error 451";
    assert_true(classify_find_reply_code(s, strlen(s), out));
    assert_string_equal(out, "451");
    s = "no code 5.1.1 here, 1550 nor 590";
    assert_false(classify_find_reply_code(s, strlen(s), out));
}

static void
test_find_address(void **state)
{
    (void)state;
    const char *s = "<Kijitora.Neko@Example.JP>: host mx said";
    char *a = classify_find_address(s, strlen(s));
    assert_string_equal(a, "kijitora.neko@example.jp");
    g_free(a);
    s = "mail to user+tag@host. failed";
    a = classify_find_address(s, strlen(s));
    assert_string_equal(a, "user+tag@host");
    g_free(a);
    s = "nothing @ here, nor @.";
    assert_null(classify_find_address(s, strlen(s)));
}

static void
test_report_add(void **state)
{
    (void)state;
    classify_report report = {0};
    classify_recipient *r = classify_report_add(&report, "rfc822; <User@Example.COM>");
    assert_non_null(r);
    assert_string_equal(r->address, "user@example.com");
    assert_string_equal(r->action, "failed");
    assert_int_equal(r->reason, CLASSIFY_REASON_UNDEFINED);
    r = classify_report_add(&report, "\"mailto:user@example.com\"");
    assert_int_equal(report.n_recipients, 1);
    assert_ptr_equal(r, &report.recipients[0]);
    assert_null(classify_report_add(&report, "undisclosed recipients"));
    r = classify_report_add(&report, "Mail for other@example.org; failed");
    assert_string_equal(r->address, "other@example.org");
    assert_int_equal(report.n_recipients, 2);

    const char *diag = "  550 5.1.1\r\n   user\tunknown \xff ";
    classify_recipient_set_diagnostic(r, diag, strlen(diag));
    assert_string_equal(r->diagnostic, "550 5.1.1 user unknown \xef\xbf\xbd");
    classify_recipient_set_string(&r->remote_mta, "mx.example.org");
    assert_string_equal(r->remote_mta, "mx.example.org");
    classify_recipient_set_string(&r->remote_mta, NULL);
    assert_null(r->remote_mta);

    for (size_t i = 0; i < report.n_recipients; i++) {
        g_free(report.recipients[i].address);
        g_free(report.recipients[i].action);
        g_free(report.recipients[i].diagnostic);
    }
    g_free(report.recipients);
}

/* Thousands of recipients: each address once, duplicates found however
 * many came before, and no more than CLASSIFY_MAX_RECIPIENTS kept. */
static void
test_report_many(void **state)
{
    (void)state;
    classify_report report = { 0 };
    char address[64];
    for (int i = 0; i < CLASSIFY_MAX_RECIPIENTS + 500; i++) {
        snprintf(address, sizeof address, "User%d@Example.org", i);
        classify_recipient *r = classify_report_add(&report, address);
        if (i < CLASSIFY_MAX_RECIPIENTS) {
            assert_non_null(r);
            snprintf(address, sizeof address, "user%d@example.org", i);
            assert_string_equal(r->address, address);
        } else {
            assert_null(r);
        }
    }
    assert_int_equal(report.n_recipients, CLASSIFY_MAX_RECIPIENTS);
    for (int i = 0; i < CLASSIFY_MAX_RECIPIENTS; i += 97) {
        snprintf(address, sizeof address, "<USER%d@example.org>", i);
        assert_ptr_equal(classify_report_add(&report, address), &report.recipients[i]);
    }
    assert_int_equal(report.n_recipients, CLASSIFY_MAX_RECIPIENTS);
    for (size_t i = 0; i < report.n_recipients; i++) {
        g_free(report.recipients[i].address);
        g_free(report.recipients[i].action);
        g_free(report.recipients[i].diagnostic);
    }
    classify_report_index_free(&report);
    g_free(report.recipients);
}

/* A forward rewrites a recipient's address: afterwards the report finds
 * it by the address the platform mailed and by the one that failed, with
 * few recipients (compared in order) and with many (the index); a second
 * forward for the same recipient is ignored. */
static void
test_report_forwarded(void **state)
{
    (void)state;
    static const size_t counts[] = { 2, 20 };
    for (size_t c = 0; c < G_N_ELEMENTS(counts); c++) {
        classify_report report = { 0 };
        char address[64];
        for (size_t i = 0; i < counts[c]; i++) {
            snprintf(address, sizeof address, "forward%zu@example.net", i);
            assert_non_null(classify_report_add(&report, address));
        }
        classify_recipient *r = &report.recipients[1];
        classify_report_forwarded(&report, r, "rfc822; <Mailed@School.example>");
        assert_string_equal(r->address, "mailed@school.example");
        assert_string_equal(r->final, "forward1@example.net");

        assert_ptr_equal(classify_report_add(&report, "mailed@school.example"), &report.recipients[1]);
        assert_ptr_equal(classify_report_add(&report, "forward1@example.net"), &report.recipients[1]);
        assert_int_equal(report.n_recipients, counts[c]);

        /* A second forward named for it (a hostile or broken report) changes
         * nothing: the first one's addresses stay, and still find it. Found
         * by the fuzzer: the index kept the freed address of the first. */
        classify_report_forwarded(&report, r, "rfc822; <other@school.example>");
        assert_string_equal(r->address, "mailed@school.example");
        assert_string_equal(r->final, "forward1@example.net");
        assert_ptr_equal(classify_report_add(&report, "forward1@example.net"), &report.recipients[1]);
        assert_ptr_equal(classify_report_add(&report, "mailed@school.example"), &report.recipients[1]);
        assert_int_equal(report.n_recipients, counts[c]);

        for (size_t i = 0; i < report.n_recipients; i++) {
            g_free(report.recipients[i].address);
            g_free(report.recipients[i].final);
            g_free(report.recipients[i].action);
            g_free(report.recipients[i].diagnostic);
        }
        classify_report_index_free(&report);
        g_free(report.recipients);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_ci),
        cmocka_unit_test(test_lower_ascii),
        cmocka_unit_test(test_set_diagnostic),
        cmocka_unit_test(test_find_ci_dense),
        cmocka_unit_test(test_report_many),
        cmocka_unit_test(test_find_status),
        cmocka_unit_test(test_find_reply_code),
        cmocka_unit_test(test_find_address),
        cmocka_unit_test(test_report_add),
        cmocka_unit_test(test_report_forwarded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
