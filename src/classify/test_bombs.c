/*
 * test_bombs.c - unit tests that no input makes the classifier's work grow
 * faster than the input (issue 13): each hostile shape (a body of capitals,
 * a long Subject, a long header line, a report naming many recipients, many
 * parts, a long diagnostic, deep quoting, long lines without spaces, many
 * recipients with a long text) is generated here and classified, and its
 * CPU time compared with that of an ordinary bounce padded to the same
 * size. A ratio, not a time, so that the test holds on any machine and
 * under the sanitizers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "classify/classify_internal.h"

/* Big enough that a quadratic scan costs hundreds of times the ordinary
 * bounce, small enough that the sanitizer build runs in seconds. */
#define BOMB_SIZE (256 * 1024)
/* A bomb may cost this many times an ordinary bounce of its size: some
 * shapes cost more per byte (a part is an object, each recipient is looked
 * for in the text), while a scan that grows with the square of the input
 * costs thousands of times as much at this size. */
#define BOMB_RATIO_MAX 60.0
#define BOMB_RUNS 3

static const char bomb_headers[] =
    "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
    "To: no-reply@mydomain.de\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "MIME-Version: 1.0\n";

/* A Postfix bounce, padded with prose in its own text so that every byte
 * of it is read as the bombs' are. */
static const char bomb_ordinary_head[] =
    "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
    "To: no-reply@mydomain.de\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B42\"\n\n"
    "--B42\nContent-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.org\n\n"
    "Final-Recipient: rfc822; nosuchuser@example.org\nAction: failed\nStatus: 5.1.1\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nosuchuser@example.org>: User unknown\n\n"
    "--B42\nContent-Type: text/plain\n\n"
    "This is the mail system at host mx.example.org.\n\n"
    "<nosuchuser@example.org>: host mx.example.org[192.0.2.25] said: 550 5.1.1\n"
    "    <nosuchuser@example.org>: Recipient address rejected: User unknown\n"
    "    (in reply to RCPT TO command)\n\n";

/* Appends unit until s holds size bytes. */
static void
bomb_fill(GString *s, const char *unit, size_t size)
{
    size_t n = strlen(unit);
    while (s->len + n <= size)
        g_string_append_len(s, unit, (gssize)n);
}

static GString *
bomb_ordinary(size_t size)
{
    GString *s = g_string_new(bomb_ordinary_head);
    bomb_fill(s, "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\n", size - 8);
    g_string_append(s, "\n--B42--\n");
    return s;
}

/* A plain-text bounce whose body is unit repeated. */
static GString *
bomb_plain_body(const char *unit, size_t size)
{
    GString *s = g_string_new(bomb_headers);
    g_string_append(s, "Content-Type: text/plain\n\n");
    bomb_fill(s, unit, size);
    return s;
}

/* A multipart/report whose text part is text_unit repeated to fill, and
 * whose delivery-status part names n recipients. */
static GString *
bomb_report(size_t n, const char *text_unit, const char *diagnostic_unit, size_t size)
{
    GString *ds = g_string_new("Reporting-MTA: dns; mx.example.org\n\n");
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(ds, "Final-Recipient: rfc822; user%07zu@example.org\nAction: failed\n"
                                   "Status: 5.0.0\n\n", i);
    if (diagnostic_unit != NULL) {
        g_string_append(ds, "Final-Recipient: rfc822; someone@example.org\nAction: failed\n"
                            "Status: 5.0.0\nDiagnostic-Code: smtp; ");
        bomb_fill(ds, diagnostic_unit, size - 512);
        g_string_append_c(ds, '\n');
    }
    GString *s = g_string_new(bomb_headers);
    g_string_append(s, "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B42\"\n\n"
                       "--B42\nContent-Type: text/plain\n\n");
    if (text_unit != NULL)
        bomb_fill(s, text_unit, size > ds->len + 512 ? size - ds->len - 256 : 0);
    g_string_append(s, "\n--B42\nContent-Type: message/delivery-status\n\n");
    g_string_append_len(s, ds->str, (gssize)ds->len);
    g_string_append(s, "\n--B42--\n");
    g_string_free(ds, TRUE);
    return s;
}

static double
bomb_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The least CPU time of a few runs: the least disturbed by other load. */
static double
bomb_classify_time(const GString *msg)
{
    double best = 0;
    for (int i = 0; i < BOMB_RUNS; i++) {
        double t0 = bomb_cpu_seconds();
        classify_report *r = classify_message(msg->str, msg->len);
        double t = bomb_cpu_seconds() - t0;
        classify_report_free(r);
        if (i == 0 || t < best)
            best = t;
    }
    return best;
}

/* Classifies bomb and an ordinary bounce of its size; fails when the bomb
 * costs more than BOMB_RATIO_MAX times as much. Takes bomb. */
static void
bomb_check(const char *name, GString *bomb)
{
    GString *ordinary = bomb_ordinary(bomb->len);
    classify_report *r = classify_message(ordinary->str, ordinary->len);
    assert_int_equal(r->n_recipients, 1); /* the reference is read as a bounce */
    classify_report_free(r);

    double t_ordinary = bomb_classify_time(ordinary);
    double t_bomb = bomb_classify_time(bomb);
    /* A floor for the reference, so that a clock's resolution cannot fail
     * a test. */
    double ratio = t_bomb / (t_ordinary > 1e-4 ? t_ordinary : 1e-4);
    print_message("%-24s %zu bytes: %.4f s, ordinary %.4f s, ratio %.1f\n", name, bomb->len, t_bomb,
                  t_ordinary, ratio);
    if (ratio > BOMB_RATIO_MAX)
        fail_msg("%s: %.1f times the CPU time of an ordinary bounce of the same size", name, ratio);
    g_string_free(ordinary, TRUE);
    g_string_free(bomb, TRUE);
}

static void
test_capitals_body(void **state)
{
    (void)state;
    bomb_check("capitals body", bomb_plain_body("A", BOMB_SIZE));
    bomb_check("capital words", bomb_plain_body("AAAA BBB CC ", BOMB_SIZE));
    /* An auto-reply's text is searched for bounce wording, several words
     * of which start with a U. */
    GString *s = g_string_new("From: someone@example.org\nTo: no-reply@mydomain.de\n"
                              "Subject: Out of office\nContent-Type: text/plain\n\n");
    bomb_fill(s, "U", BOMB_SIZE);
    bomb_check("auto-reply of capitals", s);
}

static void
test_long_subject(void **state)
{
    (void)state;
    GString *s = g_string_new("From: MAILER-DAEMON@mx.example.org\nTo: no-reply@mydomain.de\nSubject: ");
    bomb_fill(s, "A", BOMB_SIZE);
    g_string_append(s, "\n\n<x@example.org>: user unknown\n");
    bomb_check("long subject", s);
}

static void
test_long_header_line(void **state)
{
    (void)state;
    GString *s = g_string_new(bomb_headers);
    g_string_append(s, "X-Long: ");
    bomb_fill(s, "Aa", BOMB_SIZE);
    g_string_append(s, "\nContent-Type: text/plain\n\nbody\n");
    bomb_check("long header line", s);
    s = g_string_new(bomb_headers);
    bomb_fill(s, "X-H: a\n", BOMB_SIZE);
    g_string_append(s, "\nbody\n");
    bomb_check("many header fields", s);
}

static void
test_many_recipients(void **state)
{
    (void)state;
    /* Each block takes 70 bytes: the report names 30,000, which costs
     * little once the list stops at CLASSIFY_MAX_RECIPIENTS. */
    bomb_check("many recipients", bomb_report(8 * BOMB_SIZE / 70, NULL, NULL, 8 * BOMB_SIZE));
}

static void
test_recipients_and_long_text(void **state)
{
    (void)state;
    /* Each recipient is looked for in a text where its first letter is
     * everywhere, or where one of them is named again and again. */
    bomb_check("recipients, text of u", bomb_report(1000, "u", NULL, BOMB_SIZE));
    bomb_check("recipients, named text", bomb_report(1000, "user0000001@example.org ", NULL, BOMB_SIZE));
    bomb_check("recipients, commands",
               bomb_report(1000, "in reply to RCPT TO command\n", NULL, BOMB_SIZE));
}

static void
test_many_parts(void **state)
{
    (void)state;
    GString *s = g_string_new(bomb_headers);
    g_string_append(s, "Content-Type: multipart/mixed; boundary=\"B\"\n\n");
    bomb_fill(s, "--B\nContent-Type: text/plain\n\nx\n", BOMB_SIZE);
    g_string_append(s, "--B--\n");
    bomb_check("many parts", s);
}

static void
test_long_diagnostic(void **state)
{
    (void)state;
    bomb_check("long diagnostic", bomb_report(1, NULL, "user unknown mailbox full ", BOMB_SIZE));
}

static void
test_deep_quoting(void **state)
{
    (void)state;
    bomb_check("deep quoting", bomb_plain_body(">", BOMB_SIZE));
    bomb_check("quoted lines", bomb_plain_body("> > > > > > > > > > > > > > > > > > > text\n", BOMB_SIZE));
}

static void
test_long_lines_without_spaces(void **state)
{
    (void)state;
    bomb_check("line of @", bomb_plain_body("@", BOMB_SIZE));
    bomb_check("line of dashes", bomb_plain_body("-", BOMB_SIZE));
    bomb_check("line of codes", bomb_plain_body("5.5.5.", BOMB_SIZE));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capitals_body),
        cmocka_unit_test(test_long_subject),
        cmocka_unit_test(test_long_header_line),
        cmocka_unit_test(test_many_recipients),
        cmocka_unit_test(test_recipients_and_long_text),
        cmocka_unit_test(test_many_parts),
        cmocka_unit_test(test_long_diagnostic),
        cmocka_unit_test(test_deep_quoting),
        cmocka_unit_test(test_long_lines_without_spaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
