/*
 * test_smtp_data.c - unit tests of the DATA decoder: every string of up to
 * seven CR, LF, dot and letter bytes, followed by a proper end of data, fed
 * whole and split at every point, against a reference written the other way
 * round (searching the text for "\r\n.\r\n" and rewriting it line by line);
 * and the three smuggling line ends by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include <glib.h>

#include "ingress/smtp_data.h"

#define TERMINATOR "\r\n.\r\n"

typedef struct decoded {
    GString *content;
    size_t consumed;
    unsigned bare;
    bool ended;
} decoded;

static void collect(void *arg, const char *bytes, size_t len)
{
    g_string_append_len(arg, bytes, (gssize)len);
}

/* The decoder over in, fed in two pieces split at split. */
static decoded decode(const char *in, size_t len, size_t split)
{
    decoded r = { .content = g_string_new(NULL) };
    smtp_data d;
    smtp_data_init(&d);
    r.consumed = smtp_data_feed(&d, in, split, collect, r.content);
    if (d.state != SMTP_DATA_END) r.consumed += smtp_data_feed(&d, in + split, len - split, collect, r.content);
    r.bare = d.bare;
    r.ended = d.state == SMTP_DATA_END;
    return r;
}

/* The reference: the data ends at the first "\r\n.\r\n" counting the CRLF
 * that ended the DATA command; every line loses one leading dot; a line that
 * ends in a bare LF ends in CRLF; bare LFs and CRs are reported. */
static decoded reference(const char *in, size_t len)
{
    decoded r = { .content = g_string_new(NULL), .ended = true };
    GString *s = g_string_new("\r\n");
    g_string_append_len(s, in, (gssize)len);
    const char *hit = g_strstr_len(s->str, (gssize)s->len, TERMINATOR);
    assert_non_null(hit);
    size_t end = (size_t)(hit - s->str);
    r.consumed = end + 3;
    for (size_t k = 0; k < r.consumed; k++) {
        if (in[k] == '\n' && (k == 0 || in[k - 1] != '\r')) r.bare |= SMTP_DATA_BARE_LF;
        if (in[k] == '\r' && in[k + 1] != '\n') r.bare |= SMTP_DATA_BARE_CR;
    }
    for (size_t start = 0; start < end;) {
        const char *lf = memchr(in + start, '\n', end - start);
        size_t k = (size_t)(lf - in);
        size_t body_end = k > start && in[k - 1] == '\r' ? k - 1 : k;
        size_t body = start < body_end && in[start] == '.' ? start + 1 : start;
        g_string_append_len(r.content, in + body, (gssize)(body_end - body));
        g_string_append(r.content, "\r\n");
        start = k + 1;
    }
    g_string_free(s, TRUE);
    return r;
}

static char *printable(const char *in, size_t len)
{
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\r')
            g_string_append(out, "\\r");
        else if (in[i] == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, in[i]);
    }
    return g_string_free(out, FALSE);
}

static void check_input(const char *in, size_t len)
{
    decoded want = reference(in, len);
    for (size_t split = 0; split <= len; split++) {
        decoded got = decode(in, len, split);
        if (!got.ended || got.consumed != want.consumed || got.bare != want.bare ||
            !g_string_equal(got.content, want.content)) {
            char *i = printable(in, len), *g = printable(got.content->str, got.content->len),
                 *w = printable(want.content->str, want.content->len);
            fail_msg("input \"%s\" split at %zu: got ended %d consumed %zu bare %d \"%s\"; "
                     "want consumed %zu bare %d \"%s\"",
                     i, split, got.ended, got.consumed, got.bare, g, want.consumed, want.bare, w);
        }
        g_string_free(got.content, TRUE);
    }
    g_string_free(want.content, TRUE);
}

static void test_every_cr_lf_dot_combination(void **state)
{
    (void)state;
    static const char alphabet[] = { '\r', '\n', '.', 'a' };
    char buf[16];
    for (size_t n = 0; n <= 7; n++) {
        size_t combinations = 1;
        for (size_t k = 0; k < n; k++) combinations *= G_N_ELEMENTS(alphabet);
        for (size_t c = 0; c < combinations; c++) {
            size_t rest = c;
            for (size_t k = 0; k < n; k++, rest /= G_N_ELEMENTS(alphabet)) buf[k] = alphabet[rest % G_N_ELEMENTS(alphabet)];
            memcpy(buf + n, TERMINATOR, strlen(TERMINATOR));
            check_input(buf, n + strlen(TERMINATOR));
        }
    }
}

/* A smuggling attempt: the first message, a line end the attacker hopes is
 * taken for the end of data, then a second transaction. */
static void check_smuggling(const char *line_end, unsigned bare)
{
    GString *in = g_string_new("Subject: one\r\n\r\nbody");
    g_string_append(in, line_end);
    g_string_append(in, "MAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\nSubject: forged\r\n\r\nx\r\n.\r\nNEXT");
    decoded got = decode(in->str, in->len, in->len);
    assert_true(got.ended);
    assert_int_equal(got.bare, bare);
    /* Only the real end ended it: the forged transaction is data. */
    assert_int_equal(got.consumed, in->len - strlen("NEXT"));
    assert_non_null(strstr(got.content->str, "Subject: forged"));
    g_string_free(got.content, TRUE);
    g_string_free(in, TRUE);
}

static void test_lf_dot_lf_does_not_end_data(void **state)
{
    (void)state;
    check_smuggling("\n.\n", SMTP_DATA_BARE_LF);
}

static void test_lf_dot_crlf_does_not_end_data(void **state)
{
    (void)state;
    check_smuggling("\n.\r\n", SMTP_DATA_BARE_LF);
}

static void test_crlf_dot_lf_does_not_end_data(void **state)
{
    (void)state;
    check_smuggling("\r\n.\n", SMTP_DATA_BARE_LF);
}

static void test_cr_dot_cr_does_not_end_data(void **state)
{
    (void)state;
    check_smuggling("\r.\r", SMTP_DATA_BARE_CR);
}

static void test_clean_data_is_unstuffed(void **state)
{
    (void)state;
    static const char in[] = "a\r\n..b\r\n.\r\nQUIT\r\n";
    decoded got = decode(in, strlen(in), strlen(in));
    assert_true(got.ended);
    assert_int_equal(got.bare, 0);
    assert_string_equal(got.content->str, "a\r\n.b\r\n");
    assert_int_equal(got.consumed, strlen(in) - strlen("QUIT\r\n"));
    g_string_free(got.content, TRUE);
}

static void count_runs(void *arg, const char *bytes, size_t len)
{
    (void)bytes;
    (void)len;
    (*(int *)arg)++;
}

/* Lines without a leading dot or a bare line end are handed on in one run,
 * not byte by byte or line by line. */
static void test_clean_data_is_passed_in_one_run(void **state)
{
    (void)state;
    static const char in[] = "Subject: x\r\n\r\nline one\r\nline two\r\n.\r\n";
    smtp_data d;
    int runs = 0;
    smtp_data_init(&d);
    assert_int_equal(smtp_data_feed(&d, in, strlen(in), count_runs, &runs), strlen(in));
    assert_int_equal(d.state, SMTP_DATA_END);
    assert_int_equal(runs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cr_lf_dot_combination),
        cmocka_unit_test(test_lf_dot_lf_does_not_end_data),
        cmocka_unit_test(test_lf_dot_crlf_does_not_end_data),
        cmocka_unit_test(test_crlf_dot_lf_does_not_end_data),
        cmocka_unit_test(test_cr_dot_cr_does_not_end_data),
        cmocka_unit_test(test_clean_data_is_unstuffed),
        cmocka_unit_test(test_clean_data_is_passed_in_one_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
