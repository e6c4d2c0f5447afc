/*
 * test_mta.c - unit tests of the mail-system detectors: the layout scanner's
 * recipient lines, and one hand-written bounce per recognised format in
 * tests/data/mta/ (several recipients, delay warnings, forwarding, quoted
 * originals whose addresses must not come out as failed), each also with
 * CRLF and bare-CR line ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "classify/mta/mta.h"

/* What one hand-written message must give. */
typedef struct mta_case {
    const char *file;
    const char *format;
    const char *addresses[3];  /* the failed recipients, in order */
    const char *action;        /* of every recipient */
    const char *status;        /* of the first recipient */
    const char *reply_code;    /* of the first recipient */
    classify_reason reason;    /* of the first recipient */
} mta_case;

static const mta_case mta_cases[] = {
    { "exim-two-recipients.eml", "exim", { "alice@example.org", "bob@example.com" },
      "failed", "5.1.1", "550", CLASSIFY_REASON_USERUNKNOWN },
    { "exim-delayed.eml", "exim", { "dave@example.org" }, "delayed", "4.7.1", "451",
      CLASSIFY_REASON_UNDEFINED },
    { "postfix-plain.eml", "postfix", { "erin.old@example.net" }, "failed", "5.1.1", "550",
      CLASSIFY_REASON_USERUNKNOWN },
    { "qmail-two.eml", "qmail", { "frank@example.org", "grace@example.net" }, "failed", "5.1.1", "",
      CLASSIFY_REASON_USERUNKNOWN },
    { "sendmail-plain.eml", "sendmail", { "ivan@example.com" }, "failed", "5.1.1", "550",
      CLASSIFY_REASON_USERUNKNOWN },
    { "gmail-delay.eml", "gmail", { "judy@example.org" }, "delayed", "", "",
      CLASSIFY_REASON_EXPIRED },
    { "office365-text.eml", "office365", { "mallory@contoso.com" }, "failed", "5.1.10", "550",
      CLASSIFY_REASON_USERUNKNOWN },
    { "office365-modern.eml", "office365", { "carla@fabrikam.com" }, "failed", "5.1.10", "550",
      CLASSIFY_REASON_USERUNKNOWN },
    { "domino.eml", "domino", { "peggy@example.co.jp" }, "failed", "", "",
      CLASSIFY_REASON_USERUNKNOWN },
    { "opensmtpd.eml", "opensmtpd", { "victor@example.org" }, "failed", "5.1.1", "550",
      CLASSIFY_REASON_USERUNKNOWN },
    { "amazonses-bounce.eml", "amazonses", { "quinn@example.org" }, "failed", "5.1.1", "550",
      CLASSIFY_REASON_USERUNKNOWN },
    { "yahoo.eml", "yahoo", { "xavier@example.org" }, "failed", "5.2.2", "552",
      CLASSIFY_REASON_MAILBOXFULL },
    { "exchange2003.eml", "exchange2003", { "zoe@corp.example.com" }, "failed", "", "",
      CLASSIFY_REASON_USERUNKNOWN },
    { "qmail-expired.eml", "qmail", { "amy@example.org", "bert@example.org" }, "failed", "4.4.1", "",
      CLASSIFY_REASON_NETWORKERROR },
    { "prose-rejected.eml", "prose", { "trent@example.edu" }, "failed", "", "",
      CLASSIFY_REASON_UNDEFINED },
    /* A refusal with no remote answer: the recipient's domain filter. */
    { "ezweb-filter.eml", "ezweb", { "yuki.sato.77@ezweb.ne.jp" }, "failed", "", "",
      CLASSIFY_REASON_FILTERED },
    /* Each transcript belongs to the recipient line it ends in. */
    { "sendmail-transcript.eml", "sendmail", { "nora.vik@example.org", "paul.okafor@example.com" },
      "failed", "", "550", CLASSIFY_REASON_USERUNKNOWN },
    /* Postfix's template under a site's own program name. */
    { "postfix-rebranded.eml", "postfix", { "olga.fenn@example.com" }, "failed", "5.2.2", "552",
      CLASSIFY_REASON_MAILBOXFULL },
    /* The sentence after the address says the failure; the service line
     * below does not make its address a failed one. */
    { "prose-next-sentence.eml", "prose", { "lena.koch@example.de" }, "failed", "", "",
      CLASSIFY_REASON_MAILBOXFULL },
    /* A warning that delivery goes on: delayed, not failed. */
    { "prose-warning.eml", "prose", { "giulia.ferri@example.it" }, "delayed", "", "",
      CLASSIFY_REASON_UNDEFINED },
    /* Nothing from the signature under "-- ", failure words or not. */
    { "prose-signature.eml", "prose", { "kai.werner@example.com" }, "failed", "5.1.1", "550",
      CLASSIFY_REASON_UNDEFINED },
    /* Exchange's X.400 connector: the SMTP address inside the X.400 one. */
    { "exchange2003-x400.eml", "exchange2003", { "hugo.brandt@corp.example.net" }, "failed", "", "",
      CLASSIFY_REASON_USERUNKNOWN },
    /* Screen names alone under the sentence: mailboxes of the notice's domain. */
    { "aol-screenname.eml", "aol", { "wanderfalke@aol.com", "nightowl.77@aol.com" }, "failed",
      "", "", CLASSIFY_REASON_REJECTED },
    /* The summary's To: line, not the copy's Reply-To or its body. */
    { "yahoo-summary.eml", "yahoo", { "kestrel.moor@yahoo.com" }, "failed", "", "",
      CLASSIFY_REASON_UNDEFINED },
    /* Only the address whose own sentence says it failed: not the site's
     * example address, a directory listing, a folded List- field or the
     * quoted message's helpdesk line. */
    { "prose-directory.eml", "prose", { "lmarsh@uni.example.edu" }, "failed", "", "",
      CLASSIFY_REASON_USERUNKNOWN },
};

static char *
mta_read(const char *name, size_t *len)
{
    const char *src = getenv("BOUNCEDEMAILS_SRC");
    char *path = g_build_filename(src != NULL ? src : ".", "tests", "data", "mta", name, NULL);
    char *data = NULL;
    gsize n = 0;

    if (!g_file_get_contents(path, &data, &n, NULL))
        fail_msg("cannot read %s", path);
    g_free(path);
    *len = n;
    return data;
}

/* The message with every LF replaced by eol. */
static char *
mta_with_newlines(const char *data, size_t len, const char *eol, size_t *out_len)
{
    GString *s = g_string_sized_new(len * 2);

    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n')
            g_string_append(s, eol);
        else
            g_string_append_c(s, data[i]);
    }
    *out_len = s->len;
    return g_string_free(s, FALSE);
}

/* CRLF and bare-CR copies give the same recipients as the LF original. */
static void
mta_assert_same_with_newlines(const char *data, size_t len, const classify_report *lf)
{
    static const char *const eols[] = { "\r\n", "\r" };

    for (size_t e = 0; e < G_N_ELEMENTS(eols); e++) {
        size_t n;
        char *copy = mta_with_newlines(data, len, eols[e], &n);
        classify_report *r = classify_message(copy, n);
        assert_string_equal(r->format, lf->format);
        assert_int_equal(r->n_recipients, lf->n_recipients);
        for (size_t k = 0; k < r->n_recipients; k++) {
            assert_string_equal(r->recipients[k].address, lf->recipients[k].address);
            assert_string_equal(r->recipients[k].status, lf->recipients[k].status);
            assert_string_equal(r->recipients[k].diagnostic, lf->recipients[k].diagnostic);
            assert_int_equal(r->recipients[k].reason, lf->recipients[k].reason);
        }
        classify_report_free(r);
        g_free(copy);
    }
}

static void
test_mta_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(mta_cases); i++) {
        const mta_case *c = &mta_cases[i];
        size_t len;
        char *data = mta_read(c->file, &len);
        classify_report *r = classify_message(data, len);
        size_t want = 0;

        while (want < 3 && c->addresses[want] != NULL)
            want++;
        print_message("%s: format %s, %zu recipient(s)\n", c->file, r->format ? r->format : "-",
                      r->n_recipients);
        assert_int_equal(r->kind, CLASSIFY_KIND_BOUNCE);
        assert_string_equal(r->format, c->format);
        assert_int_equal(r->n_recipients, want);
        for (size_t k = 0; k < want; k++) {
            assert_string_equal(r->recipients[k].address, c->addresses[k]);
            assert_string_equal(r->recipients[k].action, c->action);
        }
        assert_string_equal(r->recipients[0].status, c->status);
        assert_string_equal(r->recipients[0].reply_code, c->reply_code);
        if (c->reason != CLASSIFY_REASON_UNDEFINED)
            assert_int_equal(r->recipients[0].reason, c->reason);
        assert_true(r->recipients[0].diagnostic[0] != '\0');
        mta_assert_same_with_newlines(data, len, r);
        classify_report_free(r);
        g_free(data);
    }
}

/* Postfix names the pre-forwarding address in "(expanded from <...>)": that
 * is the address the platform mailed, the expanded one is where it failed. */
static void
test_mta_postfix_expanded(void **state)
{
    size_t len;
    char *data = mta_read("postfix-plain.eml", &len);
    classify_report *r = classify_message(data, len);

    (void)state;
    assert_int_equal(r->n_recipients, 1);
    assert_string_equal(r->recipients[0].address, "erin.old@example.net");
    assert_non_null(r->recipients[0].final);
    assert_string_equal(r->recipients[0].final, "erin@example.org");
    assert_non_null(strstr(r->recipients[0].diagnostic, "User unknown"));
    assert_null(strstr(r->recipients[0].diagnostic, "expanded from"));
    classify_report_free(r);
    g_free(data);
}

/* What a notice says once above its recipients ("in the queue too long")
 * names the reason of those whose own error text names none. */
static void
test_mta_notice_reason(void **state)
{
    size_t len;
    char *data = mta_read("qmail-expired.eml", &len);
    classify_report *r = classify_message(data, len);

    (void)state;
    assert_int_equal(r->n_recipients, 2);
    assert_int_equal(r->recipients[0].reason, CLASSIFY_REASON_NETWORKERROR);
    assert_int_equal(r->recipients[1].reason, CLASSIFY_REASON_EXPIRED);
    assert_false(r->recipients[1].hard);
    classify_report_free(r);
    g_free(data);
}

/* A sendmail transcript ("While talking to host:", ">>>", "<<<") stands
 * above the recipient line it ends in: the second recipient's error is its
 * own host's refusal, not the first host's answer. */
static void
test_mta_sendmail_transcript(void **state)
{
    size_t len;
    char *data = mta_read("sendmail-transcript.eml", &len);
    classify_report *r = classify_message(data, len);

    (void)state;
    assert_int_equal(r->n_recipients, 2);
    assert_non_null(strstr(r->recipients[0].diagnostic, "No such mailbox here"));
    assert_null(strstr(r->recipients[0].diagnostic, "open relay"));
    assert_non_null(strstr(r->recipients[1].diagnostic, "open relay"));
    assert_null(strstr(r->recipients[1].diagnostic, "No such mailbox"));
    assert_string_equal(r->recipients[1].reply_code, "554");
    assert_false(r->recipients[1].hard);
    classify_report_free(r);
    g_free(data);
}

/* A person's reply that names addresses near words of failure is no
 * bounce: no detector of a mail system may claim it. */
static void
test_mta_not_a_bounce(void **state)
{
    size_t len;
    char *data = mta_read("human-reply.eml", &len);
    classify_report *r = classify_message(data, len);

    (void)state;
    assert_int_not_equal(r->kind, CLASSIFY_KIND_BOUNCE);
    assert_int_equal(r->n_recipients, 0);
    classify_report_free(r);
    g_free(data);
}

/* Text that looks like an SES notification's start but holds no JSON object
 * is declined without reading outside it (a fuzzer's find, checked under
 * AddressSanitizer in make test). */
static void
test_mta_amazonses_without_json(void **state)
{
    static const char msg[] = "From: x@example.org\nSubject: y\n\n\"notificationType\": Bounce ]";
    classify_report *r = classify_message(msg, sizeof msg - 1);

    (void)state;
    assert_int_equal(r->n_recipients, 0);
    classify_report_free(r);
}

/* The SMTP command a failure answered decides whose fault "user unknown"
 * is: at RCPT the address does not exist, after DATA a filter refused the
 * message, and at MAIL FROM our sender was refused. */
static void
test_mta_command_decides(void **state)
{
    static const struct {
        const char *after;
        classify_reason reason;
    } cases[] = {
        { "RCPT TO:<una@example.org>", CLASSIFY_REASON_USERUNKNOWN },
        { "end of data", CLASSIFY_REASON_USERUNKNOWN },
        { "MAIL FROM:<no-reply@openhpi.de>", CLASSIFY_REASON_REJECTED },
    };

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *msg = g_strdup_printf(
            "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
            "To: no-reply@openhpi.de\n"
            "Subject: Mail delivery failed: returning message to sender\n\n"
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            "  una@example.org\n"
            "    SMTP error from remote mail server after %s:\n"
            "    550 User unknown\n", cases[i].after);
        classify_report *r = classify_message(msg, strlen(msg));
        assert_int_equal(r->n_recipients, 1);
        if (r->recipients[0].reason != cases[i].reason)
            fail_msg("after %s: reason %s", cases[i].after,
                     classify_reason_name(r->recipients[0].reason));
        classify_report_free(r);
        g_free(msg);
    }
}

/* An SES complaint notification is a complaint about its recipient. */
static void
test_mta_amazonses_complaint(void **state)
{
    size_t len;
    char *data = mta_read("amazonses-complaint.eml", &len);
    classify_report *r = classify_message(data, len);

    (void)state;
    assert_int_equal(r->kind, CLASSIFY_KIND_FEEDBACK);
    assert_string_equal(r->format, "amazonses");
    assert_int_equal(r->n_recipients, 1);
    assert_string_equal(r->recipients[0].address, "rupert@example.com");
    assert_string_equal(r->recipients[0].feedback_type, "abuse");
    assert_int_equal(r->recipients[0].verdict, CLASSIFY_VERDICT_COMPLAINT);
    classify_report_free(r);
    g_free(data);
}

/* Markers are found case-insensitively wherever they stand, also across the
 * seams of the chunks the search works in, and the earliest one wins. */
static void
test_mta_find_any(void **state)
{
    static const char *const markers[] = { "second marker", "First Marker", NULL };
    const size_t len = 20000;
    const size_t at[] = { 0, 100, 3839, 3841, 4090, 4095, 8000, 19987 };

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(at); i++) {
        char *s = g_malloc(len);
        memset(s, 'x', len);
        memcpy(s + at[i], "FIRST MARKER", 12);
        if (at[i] + 500 + 13 <= len)
            memcpy(s + at[i] + 500, "Second Marker", 13);
        const char *hit = mta_find_any(s, len, markers);
        if (hit != s + at[i])
            fail_msg("marker at %zu found at %td", at[i], hit != NULL ? hit - s : -1);
        g_free(s);
    }
    assert_null(mta_find_any("no marker here", 14, markers));
}

/* A line opens a recipient block only in the shapes its layout allows. */
static void
test_mta_rcpt_line(void **state)
{
    static const char *const prefix[] = { ">>>", NULL };
    const mta_layout bare = { .flags = MTA_RCPT_BARE };
    const mta_layout colon = { .flags = MTA_RCPT_COLON | MTA_RCPT_COL0 };
    const mta_layout code = { .flags = MTA_RCPT_DOTS | MTA_RCPT_CODE };
    const mta_layout text = { .prefix = prefix, .flags = MTA_RCPT_TEXT };
    const mta_layout prefixed = { .prefix = (const char *const[]){ "Unknown user:", NULL },
                                  .flags = MTA_RCPT_PREFIXED };
    struct {
        const mta_layout *layout;
        const char *line;
        const char *address; /* NULL: not a recipient line */
    } lines[] = {
        { &bare, "  kijitora@example.jp", "kijitora@example.jp" },
        { &bare, "<neko@example.org>:", "neko@example.org" },
        { &bare, "\"neko@example.org\":", "neko@example.org" },
        { &bare, "  neko@example.org said: 550 no", NULL },
        { &bare, "    host mx.example.org [192.0.2.1]: 550 <a@example.org>", NULL },
        { &bare, "  localpart-only", NULL },
        { &colon, "<a@example.org>: host said 550", "a@example.org" },
        { &colon, "    a@example.org does not exist", NULL },
        { &code, "554 <b@example.org>... Host unknown", "b@example.org" },
        { &code, "<<< 550 <b@example.org>... User unknown", NULL },
        { &text, ">>> c@example.org <c@example.org>", "c@example.org" },
        { &text, "c@example.org [User unknown]", "c@example.org" },
        { &colon, "a@example.org <b@example.net>: malformed", "b@example.net" },
        { &prefixed, "Unknown user: d@example.org", "d@example.org" },
        { &prefixed, "d@example.org", NULL },
    };

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        size_t rest = 0;
        char *got = mta_rcpt_line(lines[i].line, strlen(lines[i].line), lines[i].layout, &rest);
        if (lines[i].address == NULL) {
            if (got != NULL)
                fail_msg("\"%s\" taken as a recipient line (%s)", lines[i].line, got);
        } else {
            if (got == NULL)
                fail_msg("\"%s\" not taken as a recipient line", lines[i].line);
            assert_string_equal(got, lines[i].address);
        }
        g_free(got);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mta_rcpt_line),
        cmocka_unit_test(test_mta_find_any),
        cmocka_unit_test(test_mta_messages),
        cmocka_unit_test(test_mta_postfix_expanded),
        cmocka_unit_test(test_mta_amazonses_complaint),
        cmocka_unit_test(test_mta_notice_reason),
        cmocka_unit_test(test_mta_sendmail_transcript),
        cmocka_unit_test(test_mta_not_a_bounce),
        cmocka_unit_test(test_mta_amazonses_without_json),
        cmocka_unit_test(test_mta_command_decides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
