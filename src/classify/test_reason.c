/*
 * test_reason.c - unit tests for the reason tables: reason names, the hard
 * flag, the default verdicts, and classify_reason_guess() on wording written
 * for these tests (one or more cases per reason), including the precedence
 * between a status code and wording that contradicts it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "classify/classify_internal.h"

struct guess_case {
    const char *status;
    const char *reply;
    const char *diagnostic;
    classify_reason want;
};

#define R(id) CLASSIFY_REASON_##id

static void
check_cases(const struct guess_case *cases, size_t n)
{
    int failures = 0;

    for (size_t i = 0; i < n; i++) {
        classify_reason got = classify_reason_guess(cases[i].status, cases[i].reply,
                                                    cases[i].diagnostic);
        if (got != cases[i].want) {
            print_error("case %zu [%s %s] \"%s\": want %s, got %s\n", i,
                        cases[i].status ? cases[i].status : "(null)",
                        cases[i].reply ? cases[i].reply : "(null)",
                        cases[i].diagnostic ? cases[i].diagnostic : "(null)",
                        classify_reason_name(cases[i].want), classify_reason_name(got));
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

#define CHECK(cases) check_cases(cases, sizeof(cases) / sizeof((cases)[0]))

static void
test_reason_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < CLASSIFY_REASON_COUNT; i++) {
        classify_reason back = CLASSIFY_REASON_COUNT;
        const char *name = classify_reason_name((classify_reason)i);
        assert_non_null(name);
        assert_true(classify_reason_from_name(name, &back));
        assert_int_equal(back, i);
    }
    assert_string_equal(classify_reason_name(R(USERUNKNOWN)), "userunknown");
    assert_string_equal(classify_reason_name(R(NOTCOMPLIANTRFC)), "notcompliantrfc");
    assert_string_equal(classify_reason_name(CLASSIFY_REASON_COUNT), "undefined");
}

static void
test_reason_from_unknown_name(void **state)
{
    classify_reason out = R(BLOCKED);

    (void)state;
    assert_false(classify_reason_from_name("nosuchreason", &out));
    assert_false(classify_reason_from_name("UserUnknown", &out));
    assert_false(classify_reason_from_name("", &out));
    assert_false(classify_reason_from_name(NULL, &out));
    assert_int_equal(out, R(BLOCKED));
}

static void
test_reason_hard_flag(void **state)
{
    (void)state;
    assert_true(classify_is_hard(R(USERUNKNOWN), "5.1.1", "550"));
    assert_true(classify_is_hard(R(USERUNKNOWN), "", ""));
    assert_true(classify_is_hard(R(HOSTUNKNOWN), "5.1.2", ""));
    assert_true(classify_is_hard(R(HASMOVED), "", "551"));
    /* notaccept is hard unless a code says it is temporary */
    assert_true(classify_is_hard(R(NOTACCEPT), "5.1.10", ""));
    assert_true(classify_is_hard(R(NOTACCEPT), "", "556"));
    assert_false(classify_is_hard(R(NOTACCEPT), "4.3.2", "421"));
    assert_false(classify_is_hard(R(NOTACCEPT), "", "421"));
    assert_false(classify_is_hard(R(NOTACCEPT), "4.7.27", ""));
    /* an account disabled or closed is hard unless a code says temporary */
    assert_true(classify_is_hard(R(SUSPEND), "5.2.1", "550"));
    assert_true(classify_is_hard(R(SUSPEND), "", "554"));
    assert_false(classify_is_hard(R(SUSPEND), "4.2.1", "450"));
    /* a final report without any code is taken as permanent */
    assert_true(classify_is_hard(R(NOTACCEPT), "", ""));
    assert_true(classify_is_hard(R(NOTACCEPT), NULL, NULL));

    static const classify_reason soft[] = {
        R(MAILBOXFULL), R(EXPIRED), R(BLOCKED), R(SPAMDETECTED),
        R(FILTERED), R(REJECTED), R(SYSTEMERROR), R(ONHOLD), R(UNDEFINED),
        R(FEEDBACK), R(VACATION), R(DELIVERED),
    };
    for (size_t i = 0; i < sizeof soft / sizeof soft[0]; i++)
        assert_false(classify_is_hard(soft[i], "5.0.0", "550"));
}

static void
test_reason_default_verdicts(void **state)
{
    static const classify_reason permanent[] = {
        R(USERUNKNOWN), R(HOSTUNKNOWN), R(HASMOVED), R(NOTACCEPT),
    };
    static const classify_reason ignored[] = {
        R(BLOCKED), R(SPAMDETECTED), R(POLICYVIOLATION), R(BADREPUTATION), R(REJECTED),
        R(NORELAYING), R(SECURITYERROR), R(AUTHFAILURE), R(REQUIREPTR), R(NOTCOMPLIANTRFC),
        R(VIRUSDETECTED), R(CONTENTERROR), R(SYNTAXERROR), R(SPEEDING),
        R(FILTERED), R(MESGTOOBIG), R(EXCEEDLIMIT), R(TOOMANYCONN), R(VACATION), R(DELIVERED),
    };
    static const classify_reason temporary[] = {
        R(MAILBOXFULL), R(SUSPEND), R(EXPIRED),
        R(NETWORKERROR), R(SYSTEMERROR), R(SYSTEMFULL), R(MAILERERROR),
        R(ONHOLD), R(UNDEFINED),
    };
    int seen[CLASSIFY_REASON_COUNT] = {0};

    (void)state;
    for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++, seen[permanent[i - 1]]++)
        assert_int_equal(classify_default_verdict(permanent[i]), CLASSIFY_VERDICT_PERMANENT);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++, seen[ignored[i - 1]]++)
        assert_int_equal(classify_default_verdict(ignored[i]), CLASSIFY_VERDICT_IGNORE);
    for (size_t i = 0; i < sizeof temporary / sizeof temporary[0]; i++, seen[temporary[i - 1]]++)
        assert_int_equal(classify_default_verdict(temporary[i]), CLASSIFY_VERDICT_TEMPORARY);
    assert_int_equal(classify_default_verdict(R(FEEDBACK)), CLASSIFY_VERDICT_COMPLAINT);
    seen[R(FEEDBACK)]++;
    /* every reason is in exactly one of the lists above */
    for (int i = 0; i < CLASSIFY_REASON_COUNT; i++)
        assert_int_equal(seen[i], 1);
}

/* One case or more per reason, each worded the way a mail system words it,
 * under a generic status code so that the wording has to decide. */
static void
test_reason_wording(void **state)
{
    static const struct guess_case cases[] = {
        {"5.0.0", "550", "550 Requested action not taken: no such user here", R(USERUNKNOWN)},
        {"", "550", "550 <bob@example.org>: Recipient address rejected: User unknown in local recipient table", R(USERUNKNOWN)},
        {"5.5.0", "550", "550 mailbox unavailable: this mailbox does not exist", R(USERUNKNOWN)},
        {"", "", "The e-mail address you entered couldn't be found. Please check the recipient's address.", R(USERUNKNOWN)},
        {"5.0.0", "", "Host or domain name not found. Name service error for name=mail.invalid type=MX", R(HOSTUNKNOWN)},
        {"", "", "Domain does not exist: nowhere.example", R(HOSTUNKNOWN)},
        {"5.0.0", "550", "550 Destination mailbox has moved, no forwarding address", R(HASMOVED)},
        {"5.0.0", "", "example.net does not accept mail (nullMX)", R(NOTACCEPT)},
        {"5.0.0", "552", "552 Sorry, the mailbox of this user is full", R(MAILBOXFULL)},
        {"4.0.0", "452", "452 user is over quota, please try again later", R(MAILBOXFULL)},
        {"5.0.0", "552", "552 Message header size exceeds limit", R(EXCEEDLIMIT)},
        {"5.0.0", "552", "552 Message too big for this system", R(MESGTOOBIG)},
        {"5.0.0", "550", "550 This mailbox is disabled (554.30)", R(SUSPEND)},
        {"5.0.0", "550", "550 account has been suspended by the administrator", R(SUSPEND)},
        {"4.0.0", "", "Message expired after sitting in queue for 5 days", R(EXPIRED)},
        {"", "", "retry timeout exceeded", R(EXPIRED)},
        {"5.0.0", "554", "554 Too many hops (mail loop?)", R(NETWORKERROR)},
        {"4.0.0", "", "Malformed or unexpected name server reply", R(NETWORKERROR)},
        {"4.0.0", "451", "451 local error in processing, please retry", R(SYSTEMERROR)},
        {"4.0.0", "452", "452 Mail system full, try again later", R(SYSTEMFULL)},
        {"4.0.0", "421", "421 Too many concurrent SMTP connections from this IP", R(TOOMANYCONN)},
        {"5.0.0", "", "Command died with status 1: \"/usr/bin/deliver\"", R(MAILERERROR)},
        {"5.7.1", "554", "554 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org", R(BLOCKED)},
        {"5.7.1", "550", "550 Your IP address is listed in a blocklist, connection refused", R(BLOCKED)},
        {"5.0.0", "553", "553 sorry, your client host [192.0.2.7] is listed as an open relay", R(BLOCKED)},
        {"", "", "The domain name in this address does not appear to be registered", R(HOSTUNKNOWN)},
        {"5.7.1", "554", "554 Message rejected: this message appears to be spam", R(SPAMDETECTED)},
        {"5.7.1", "550", "550 Message rejected due to local policy", R(POLICYVIOLATION)},
        {"5.7.1", "550", "550 Our system has detected that this message is suspicious due to the very low reputation of the sending domain", R(BADREPUTATION)},
        {"5.0.0", "553", "553 Sender address rejected: not owned by the authenticated user", R(REJECTED)},
        {"5.7.1", "554", "554 Relay access denied", R(NORELAYING)},
        {"5.7.0", "530", "530 Authentication required", R(SECURITYERROR)},
        {"5.7.1", "550", "550 Email rejected because example.com's DMARC policy says reject", R(AUTHFAILURE)},
        {"5.7.1", "550", "550 Client host rejected: cannot find your hostname, [192.0.2.77]", R(REQUIREPTR)},
        {"5.7.1", "550", "550 This message is not RFC 5322 compliant: duplicate Date header", R(NOTCOMPLIANTRFC)},
        {"5.7.1", "554", "554 Rejected: virus found in attachment invoice.zip", R(VIRUSDETECTED)},
        {"5.0.0", "554", "554 Transaction failed: improper use of 8-bit data in message header", R(CONTENTERROR)},
        {"5.0.0", "550", "Too many \"Received\" headers - suspected mail loop", R(CONTENTERROR)},
        {"5.0.0", "554", "554 5.0.0 Message exceeded 40 hops, this may indicate a mail loop", R(NETWORKERROR)},
        {"5.0.0", "550", "550 Message refused due to recipient preferences", R(FILTERED)},
        {"5.0.0", "501", "501 Syntax error in parameters or arguments", R(SYNTAXERROR)},
        {"4.7.0", "421", "421 Please try again slower, you are sending too quickly", R(SPEEDING)},
    };

    (void)state;
    CHECK(cases);
}

/* A specific status code decides over wording that merely mentions another
 * failure, but wording that names a cause beyond the address overrules it. */
static void
test_reason_code_and_wording_precedence(void **state)
{
    static const struct guess_case cases[] = {
        /* specific codes decide when the text says nothing else */
        {"5.1.1", "550", "550 5.1.1 see https://support.example/answer", R(USERUNKNOWN)},
        {"5.1.1", "", "", R(USERUNKNOWN)},
        {"5.1.2", "", "", R(HOSTUNKNOWN)},
        {"5.2.2", "552", "552 5.2.2 recipient rejected", R(MAILBOXFULL)},
        {"5.7.26", "550", "550 5.7.26 message rejected", R(AUTHFAILURE)},
        {"5.3.4", "552", "552 5.3.4 rejected", R(MESGTOOBIG)},
        /* the code decides against wording for a reason it does not let overrule it */
        {"5.2.2", "552", "552 5.2.2 user unknown or mailbox full", R(MAILBOXFULL)},
        {"5.1.1", "550", "550 5.1.1 recipient address rejected: unknown user", R(USERUNKNOWN)},
        /* catch-all words never overrule a code */
        {"5.1.1", "550", "550 5.1.1 <x@example.org>: rejected", R(USERUNKNOWN)},
        {"5.1.1", "550", "550 5.1.1 access denied", R(USERUNKNOWN)},
        /* a failed login is not an unknown recipient, whatever its wording */
        {"5.7.8", "535", "535 5.7.8 Error: authentication failed: invalid user", R(SECURITYERROR)},
        /* wording that names another cause overrules a misleading code */
        {"5.1.1", "550", "550 5.1.1 <a@example.com> - 192.0.2.5 has sent too many messages this hour", R(SPEEDING)},
        {"5.1.1", "552", "552 sorry, mailbox is over quota temporarily (#5.1.1)", R(MAILBOXFULL)},
        {"5.1.1", "550", "550 5.1.1 Relaying denied for this address", R(NORELAYING)},
        {"5.1.1", "554", "554 5.1.1 Service unavailable; client host blocked using bl.example.net", R(BLOCKED)},
        /* a generic code leaves the choice to the wording */
        {"5.7.1", "550", "550 5.7.1 User unknown", R(USERUNKNOWN)},
        {"5.0.0", "550", "550 5.0.0 mailbox full", R(MAILBOXFULL)},
        {"4.0.0", "421", "421 4.0.0 Connection timed out", R(EXPIRED)},
        /* several failures in the wording: the ordered table decides */
        {"5.0.0", "550", "550 User unknown; also blocked using rbl.example", R(USERUNKNOWN)},
        {"5.0.0", "550", "550 mailbox full for unknown user", R(MAILBOXFULL)},
        {"5.0.0", "550", "550 DMARC policy rejection: message rejected as spam", R(AUTHFAILURE)},
        /* a refused sender is our problem, not a bad recipient host */
        {"5.0.0", "550", "550 Sender domain mailer.example does not exist", R(REJECTED)},
        {"5.0.0", "553", "553 Domain of sender address bounce@mailer.example does not exist", R(REJECTED)},
        /* an unknown user answered to the message's content is a filter */
        {"5.0.0", "550", "SMTP error from remote mail server after end of data: 550 User unknown", R(USERUNKNOWN)},
        {"5.0.0", "550", "550 Unknown user (in reply to DATA command)", R(USERUNKNOWN)},
        /* ... unless the receiver says so explicitly in its own words */
        {"5.0.0", "554", "554 delivery error: dd This user doesn't have a example.net account (x@example.net) [0] (in reply to end of DATA command)", R(USERUNKNOWN)},
    };

    (void)state;
    CHECK(cases);
}

/* What is left when neither a specific code nor the wording decides. */
static void
test_reason_fallbacks(void **state)
{
    static const struct guess_case cases[] = {
        {"5.7.1", "550", "550 5.7.1 go read our web page", R(SECURITYERROR)},
        {"5.2.0", "550", "550 5.2.0 see the web page", R(FILTERED)},
        {"4.4.7", "", "", R(EXPIRED)},
        {"5.6.0", "", "", R(CONTENTERROR)},
        {"", "551", "551 please try <someone@example.net>", R(HASMOVED)},
        {"", "521", "521 example.org", R(NOTACCEPT)},
        {"", "", "some words nobody has taught us", R(ONHOLD)},
        {"", "", "", R(UNDEFINED)},
        {NULL, NULL, NULL, R(UNDEFINED)},
        {"5.0.0", NULL, "   \t  ", R(UNDEFINED)},
        /* catch-all wording decides when nothing else does */
        {"5.0.0", "550", "550 <x@example.org>: Recipient address rejected.", R(ONHOLD)},
        {"5.0.0", "550", "550 <x@example.org>: Recipient address rejected. (in reply to RCPT TO command)",
         R(USERUNKNOWN)},
        {"", "", "Connection refused", R(NETWORKERROR)},
        /* but never makes a bad address of a temporary failure */
        {"4.2.0", "451", "451 4.2.0 <x@example.org>: Recipient address rejected: try later", R(SYSTEMERROR)},
        {"4.2.0", "450", "450 4.2.0 <x@example.org>: Recipient address rejected: Greylisted, see http://greylisting.example/", R(BLOCKED)},
    };

    (void)state;
    CHECK(cases);
}

/* Upper case, folded lines, '*' patterns and provider tokens. */
static void
test_reason_matching_rules(void **state)
{
    static const struct guess_case cases[] = {
        {"5.0.0", "550", "550 USER UNKNOWN", R(USERUNKNOWN)},
        {"5.0.0", "552", "552 Mailbox\n   Full", R(MAILBOXFULL)},
        {"5.0.0", "552", "552 Mailbox\t\tfull", R(MAILBOXFULL)},
        {"5.0.0", "550", "550 user chris.doe does not exist here", R(USERUNKNOWN)},
        {"5.0.0", "550", "550 does not exist user", R(ONHOLD)},
        {"5.0.0", "550", "550 5.0.0 Mail refused. OFR_416 [416]", R(USERUNKNOWN)},
        {"5.1.1", "550", "550 5.1.1 RCP-P2 refused by recipient", R(FILTERED)},
    };

    (void)state;
    CHECK(cases);
}

/* Every wording rule names who documents it: a provider token, a
 * documented reply, a reason table's row and a catch-all, each explained
 * with its source. */
/* Our own account's sending quota, under codes that would otherwise say
 * "mailbox full", "congestion" or nothing: a failure of our sending, never
 * counted against the address (smtp-replies.md 2.1, 2.2). */
static void
test_reason_sender_quota_is_ours(void **state)
{
    static const struct guess_case cases[] = {
        {"5.7.1", "550", "550 5.7.1 Email quota exceeded", R(SPEEDING)},
        {"5.4.5", "550", "550 5.4.5 Daily user sending limit exceeded", R(SPEEDING)},
        {"5.2.2", "550", "550 5.2.2 Submission quota exceeded", R(SPEEDING)},
        {"5.1.90", "550", "550 5.1.90 You have reached your daily limit for message recipients", R(SPEEDING)},
    };

    (void)state;
    CHECK(cases);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(classify_default_verdict(cases[i].want), CLASSIFY_VERDICT_IGNORE);
}

static void
test_reason_rules_name_a_source(void **state)
{
    static const struct guess_case cases[] = {
        {"", "550", "550 Mail refused. OFR_416", R(USERUNKNOWN)},
        {"", "550", "550 The email account that you tried to reach does not exist", R(USERUNKNOWN)},
        {"", "552", "552 Mailbox full", R(MAILBOXFULL)},
        {"", "554", "554 Insufficient disk space", R(SYSTEMFULL)},
        {"", "", "host mx.example.org refused to talk to me: 554 go away", R(BLOCKED)},
        {"", "", "550 no (in reply to EHLO command)", R(BLOCKED)},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        classify_evidence ev = {0};
        assert_int_equal(classify_reason_explain(cases[i].status, cases[i].reply, cases[i].diagnostic, &ev),
                         cases[i].want);
        assert_non_null(ev.matched);
        assert_non_null(ev.source);
        assert_true(ev.source[0] != '\0');
    }
}

static void
test_reason_long_diagnostic(void **state)
{
    size_t len = 1024 * 1024;
    char *text = malloc(len + 1);

    (void)state;
    assert_non_null(text);
    memset(text, 'x', len);
    memcpy(text, "550 mailbox full ", 17);
    text[len] = '\0';
    assert_int_equal(classify_reason_guess("5.0.0", "550", text), R(MAILBOXFULL));
    /* a cause stated only far beyond what is read does not count */
    memset(text, 'x', len);
    memcpy(text + len - 20, " user unknown", 13);
    assert_int_equal(classify_reason_guess("", "", text), R(ONHOLD));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_names_round_trip),
        cmocka_unit_test(test_reason_from_unknown_name),
        cmocka_unit_test(test_reason_hard_flag),
        cmocka_unit_test(test_reason_default_verdicts),
        cmocka_unit_test(test_reason_wording),
        cmocka_unit_test(test_reason_code_and_wording_precedence),
        cmocka_unit_test(test_reason_fallbacks),
        cmocka_unit_test(test_reason_matching_rules),
        cmocka_unit_test(test_reason_long_diagnostic),
        cmocka_unit_test(test_reason_rules_name_a_source),
        cmocka_unit_test(test_reason_sender_quota_is_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
