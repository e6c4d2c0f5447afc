/*
 * test_smtp_session.c - unit tests of the ESMTP state machine, driven over a
 * libevent bufferevent pair: the test writes what a client would and reads
 * the session's replies. Committing is a stub that answers in a later turn
 * of the loop, as the server's group commit does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <glib.h>

#include "ingress/smtp_session.h"

typedef struct fixture {
    struct event_base *base;
    struct bufferevent *client;
    smtp_session *session;
    smtp_session_limits limits;
    smtp_budget budget;
    smtp_session *pending;         /* submitted, to be answered */
    struct event *commit_ev;
    struct timeval commit_delay;   /* how long a commit takes; 0: the next turn */
    bool commit_ok;
    GPtrArray *messages;           /* what was submitted, as strings */
    bool closed;
} fixture;

static bool test_recipient_ok(void *arg, const char *rcpt)
{
    (void)arg;
    const char *at = strrchr(rcpt, '@');
    return at && strcasecmp(at + 1, "mydomain.de") == 0;
}

static void test_commit_cb(evutil_socket_t fd, short what, void *arg)
{
    fixture *f = arg;
    (void)fd;
    (void)what;
    smtp_session *s = f->pending;
    f->pending = NULL;
    if (s) smtp_session_committed(s, f->commit_ok ? SMTP_COMMIT_DONE : SMTP_COMMIT_FAILED);
}

static void test_submit(void *arg, smtp_session *s)
{
    fixture *f = arg;
    size_t len;
    const char *raw = smtp_session_message(s, &len);
    g_ptr_array_add(f->messages, g_strndup(raw, len));
    f->pending = s;
    if (f->commit_delay.tv_sec || f->commit_delay.tv_usec)
        evtimer_add(f->commit_ev, &f->commit_delay);
    else
        event_active(f->commit_ev, EV_TIMEOUT, 1);
}

static void test_closed(void *arg, smtp_session *s)
{
    fixture *f = arg;
    (void)s;
    f->closed = true;
    f->session = NULL;
    f->pending = NULL;
}

static const smtp_session_ops test_ops = {
    .recipient_ok = test_recipient_ok, .submit = test_submit, .closed = test_closed,
};

/* A new session with f->limits, and its client. */
static void fixture_connect(fixture *f)
{
    struct bufferevent *pair[2];
    bufferevent_pair_new(f->base, 0, pair);
    f->client = pair[1];
    bufferevent_enable(f->client, EV_READ | EV_WRITE);
    smtp_session_params params = { .limits = &f->limits, .hostname = "mx.test", .client_addr = "192.0.2.7",
                                   .tls = NULL, .memory = &f->budget, .ops = &test_ops, .arg = f };
    f->session = smtp_session_new(pair[0], &params);
}

static int setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    f->base = event_base_new();
    f->messages = g_ptr_array_new_with_free_func(g_free);
    f->commit_ev = event_new(f->base, -1, 0, test_commit_cb, f);
    f->commit_ok = true;
    f->limits = (smtp_session_limits){ .max_message_size = 100000, .max_line_length = 512,
                                       .max_recipients = 3, .command_timeout_s = 60, .data_timeout_s = 60 };
    f->budget.limit = 1 << 30;
    fixture_connect(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->session) smtp_session_free(f->session);
    bufferevent_free(f->client);
    event_free(f->commit_ev);
    g_ptr_array_free(f->messages, TRUE);
    event_base_free(f->base);
    g_free(f);
    return 0;
}

/* Everything the session has written so far, consumed. */
static char *take_replies(fixture *f)
{
    for (int i = 0; i < 5; i++) event_base_loop(f->base, EVLOOP_NONBLOCK);
    struct evbuffer *in = bufferevent_get_input(f->client);
    size_t len = evbuffer_get_length(in);
    char *out = g_malloc(len + 1);
    evbuffer_remove(in, out, len);
    out[len] = '\0';
    return out;
}

/* Sends text as the client and returns the replies it gets. */
static char *converse(fixture *f, const char *text)
{
    g_free(take_replies(f));
    bufferevent_write(f->client, text, strlen(text));
    return take_replies(f);
}

static void assert_reply(fixture *f, const char *text, const char *expected)
{
    char *got = converse(f, text);
    if (strcmp(got, expected) != 0) fail_msg("sent %s\ngot      %s\nexpected %s", text, got, expected);
    g_free(got);
}

static void test_greeting_and_ehlo(void **state)
{
    fixture *f = *state;
    char *greeting = take_replies(f);
    assert_string_equal(greeting, "220 mx.test ESMTP bouncedemails\r\n");
    g_free(greeting);
    assert_reply(f, "EHLO client.example\r\n",
                 "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-8BITMIME\r\n"
                 "250 ENHANCEDSTATUSCODES\r\n");
}

static void test_pipelined_message_is_unstuffed_and_traced(void **state)
{
    fixture *f = *state;
    assert_reply(f, "EHLO client.example\r\nMAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n",
                 "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
                 "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    assert_reply(f, "Subject: x\r\n\r\n..hidden dot\r\n.\r\n", "250 2.0.0 Ok: committed\r\n");
    assert_int_equal(f->messages->len, 1);
    const char *msg = g_ptr_array_index(f->messages, 0);
    assert_true(g_str_has_prefix(msg, "Return-Path: <>\r\nReceived: from client.example ([192.0.2.7])\r\n"
                                      "\tby mx.test (bouncedemails) with ESMTP\r\n\tfor <no-reply@mydomain.de>; "));
    assert_true(g_str_has_suffix(msg, "\r\nSubject: x\r\n\r\n.hidden dot\r\n"));
    /* The transaction is over: a second one may follow. */
    assert_reply(f, "MAIL FROM:<a@b.example>\r\n", "250 2.1.0 Ok\r\n");
}

static void test_two_messages_in_one_write(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\n"));
    char *got = converse(f, "MAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"
                            "one\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\ntwo\r\n.\r\nQUIT\r\n");
    assert_string_equal(got, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                             "250 2.0.0 Ok: committed\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                             "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: committed\r\n221 2.0.0 Bye\r\n");
    g_free(got);
    assert_int_equal(f->messages->len, 2);
    assert_true(g_str_has_suffix(g_ptr_array_index(f->messages, 1), "\r\ntwo\r\n"));
    assert_true(f->closed);
}

static void test_store_failure_gets_451(void **state)
{
    fixture *f = *state;
    f->commit_ok = false;
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    assert_reply(f, "x\r\n.\r\n", "451 4.3.0 Error: cannot store the message now, try again later\r\n");
    assert_reply(f, "NOOP\r\n", "250 2.0.0 Ok\r\n");
}

static void test_recipient_refused_as_unknown_not_as_relay(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\n"));
    assert_reply(f, "RCPT TO:<someone@elsewhere.example>\r\n",
                 "550 5.1.1 <someone@elsewhere.example>: Recipient address rejected: not a domain of this listener\r\n");
    assert_reply(f, "DATA\r\n", "554 5.5.1 No valid recipients\r\n");
}

/* A smuggling attempt: what follows the bare line end is data, and the
 * message is refused once the real end arrives. Nothing is submitted. */
static void check_smuggling_refused(fixture *f, const char *line_end, const char *reply)
{
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    char *attempt = g_strdup_printf("Subject: one\r\n\r\nbody%sMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\n"
                                    "DATA\r\nSubject: forged\r\n\r\nx\r\n.\r\nNOOP\r\n", line_end);
    char *got = converse(f, attempt);
    char *want = g_strdup_printf("%s\r\n250 2.0.0 Ok\r\n", reply);
    assert_string_equal(got, want);
    assert_int_equal(f->messages->len, 0);
    assert_int_equal(f->budget.used, 0);
    g_free(want);
    g_free(got);
    g_free(attempt);
}

static void test_smuggling_lf_dot_lf(void **state)
{
    check_smuggling_refused(*state, "\n.\n", "550 5.5.2 Error: bare <LF> received");
}

static void test_smuggling_lf_dot_crlf(void **state)
{
    check_smuggling_refused(*state, "\n.\r\n", "550 5.5.2 Error: bare <LF> received");
}

static void test_smuggling_crlf_dot_lf(void **state)
{
    check_smuggling_refused(*state, "\r\n.\n", "550 5.5.2 Error: bare <LF> received");
}

/* A bare CR cannot end a line here, and real bounces quote them (a remote
 * reply wrapped in a CRLF): reject (the fixture's mode) keeps it, in the one
 * message; strict (the config's default) refuses it. */
static void test_bare_cr_kept_unless_strict(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    assert_reply(f, "550-5.7.26 DMARC\r\rbody\r.\rMAIL FROM:<>\r\n.\r\n", "250 2.0.0 Ok: committed\r\n");
    assert_int_equal(f->messages->len, 1);
    assert_true(g_str_has_suffix(g_ptr_array_index(f->messages, 0), "\r\n550-5.7.26 DMARC\r\rbody\r.\rMAIL FROM:<>\r\n"));
    g_ptr_array_set_size(f->messages, 0);
    f->limits.bare_newline = SMTP_BARE_NEWLINE_STRICT;
    check_smuggling_refused(f, "\r.\r", "550 5.5.2 Error: bare <CR> received");
}

static void test_bare_lf_command_refused(void **state)
{
    fixture *f = *state;
    assert_reply(f, "EHLO c\n", "500 5.5.2 Error: bare <LF> received\r\n");
    assert_reply(f, "NOOP\r\n", "250 2.0.0 Ok\r\n");
}

/* normalize: a bare LF is a line end, but the data still ends only at
 * <CRLF>.<CRLF>: one message, the forged part in it. */
static void test_bare_lf_normalized(void **state)
{
    fixture *f = *state;
    f->limits.bare_newline = SMTP_BARE_NEWLINE_NORMALIZE;
    g_free(converse(f, "EHLO c\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\nDATA\r\n"));
    assert_reply(f, "Subject: one\n\nbody\n.\nMAIL FROM:<>\r\nx\r\n.\r\n", "250 2.0.0 Ok: committed\r\n");
    assert_int_equal(f->messages->len, 1);
    assert_true(g_str_has_suffix(g_ptr_array_index(f->messages, 0),
                                 "\r\nSubject: one\r\n\r\nbody\r\n\r\nMAIL FROM:<>\r\nx\r\n"));
}

static void test_require_tls(void **state)
{
    fixture *f = *state;
    f->limits.require_tls = true;
    g_free(converse(f, "EHLO c\r\n"));
    assert_reply(f, "MAIL FROM:<>\r\n", "530 5.7.0 Must issue a STARTTLS command first\r\n");
    f->limits.require_tls = false;
    assert_reply(f, "MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n");
}

/* Beyond the budget, DATA gets 452 at once; a message that outgrows it is
 * read to its end and gets 452; the session's bytes are given back. */
static void test_memory_budget(void **state)
{
    fixture *f = *state;
    f->budget.limit = 64 * 1024;
    f->budget.used = f->budget.limit;   /* others hold it all */
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\n"));
    assert_reply(f, "DATA\r\n", "452 4.3.1 Insufficient system storage, try again later\r\n");
    f->budget.used = 0;
    g_free(converse(f, "DATA\r\n"));
    assert_true(f->budget.used > 0);
    GString *big = g_string_new(NULL);
    for (int i = 0; i < 1500; i++) g_string_append(big, "0123456789012345678901234567890123456789012345678\r\n");
    g_string_append(big, ".\r\n");
    assert_reply(f, big->str, "452 4.3.1 Insufficient system storage, try again later\r\n");
    g_string_free(big, TRUE);
    assert_int_equal(f->messages->len, 0);
    assert_int_equal(f->budget.used, 0);
    /* The budget is free again: the next message goes through. */
    g_free(converse(f, "MAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    assert_reply(f, "x\r\n.\r\n", "250 2.0.0 Ok: committed\r\n");
    assert_int_equal(f->budget.used, 0);
}

/* Waiting for a command is idle; reading data or committing is not; an
 * evicted session says why and goes. */
static void test_idle_and_evict(void **state)
{
    fixture *f = *state;
    gint64 since = 0;
    assert_true(smtp_session_idle(f->session, &since));
    assert_true(since > 0 && since <= g_get_monotonic_time());
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    assert_false(smtp_session_idle(f->session, &since));
    g_free(converse(f, "x\r\n.\r\n"));
    assert_true(smtp_session_idle(f->session, &since));
    smtp_session_evict(f->session);
    char *got = take_replies(f);
    assert_string_equal(got, "421 4.4.2 Idle too long and the server is busy, closing connection\r\n");
    g_free(got);
    assert_true(f->closed);
}

/* A command must be whole within command_timeout, however its bytes trickle
 * in; while the owner commits no deadline runs. */
static void run_for(fixture *f, int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
}

static void test_deadline_is_per_command_not_per_byte(void **state)
{
    fixture *f = *state;
    f->limits.command_timeout_s = 1;
    g_free(converse(f, "EHLO c\r\n"));
    /* Re-armed by the EHLO with the 1 s limit: */
    g_free(converse(f, "NOOP\r\n"));
    for (int i = 0; i < 8 && !f->closed; i++) {
        bufferevent_write(f->client, "N", 1);
        run_for(f, 200);
    }
    char *got = take_replies(f);
    assert_string_equal(got, "421 4.4.2 Timeout exceeded, closing connection\r\n");
    g_free(got);
    assert_true(f->closed);
}

static void test_no_deadline_while_committing(void **state)
{
    fixture *f = *state;
    f->limits.command_timeout_s = 1;
    f->limits.data_timeout_s = 1;
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    /* The commit takes longer than either timeout. */
    event_free(f->commit_ev);
    f->commit_ev = evtimer_new(f->base, test_commit_cb, f);
    f->commit_delay = (struct timeval){ .tv_sec = 2, .tv_usec = 500000 };
    bufferevent_write(f->client, "x\r\n.\r\n", 6);
    run_for(f, 3000);
    char *got = take_replies(f);
    assert_string_equal(got, "250 2.0.0 Ok: committed\r\n");
    g_free(got);
    assert_false(f->closed);
}

static void test_size_limits(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\n"));
    assert_reply(f, "MAIL FROM:<> SIZE=100001\r\n", "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    g_free(converse(f, "MAIL FROM:<> SIZE=99\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    GString *big = g_string_new(NULL);
    for (int i = 0; i < 2000; i++) g_string_append(big, "0123456789012345678901234567890123456789012345678\r\n");
    g_string_append(big, ".\r\n");
    assert_reply(f, big->str, "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    g_string_free(big, TRUE);
    assert_int_equal(f->messages->len, 0);
    assert_reply(f, "NOOP\r\n", "250 2.0.0 Ok\r\n");
}

static void test_long_data_line_is_kept(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    GString *data = g_string_new(".");
    for (int i = 0; i < 70000; i++) g_string_append_c(data, 'a' + i % 26);
    g_string_append(data, "\r\n.\r\n");
    assert_reply(f, data->str, "250 2.0.0 Ok: committed\r\n");
    const char *msg = g_ptr_array_index(f->messages, 0);
    /* The stuffed dot of the long line is gone and the line is whole. */
    const char *body = strstr(msg, ">; ");
    body = strstr(body, "\r\n") + 2;
    assert_int_equal(strlen(body), 70000 + 2);
    assert_memory_equal(body, data->str + 1, 70000);
    g_string_free(data, TRUE);
}

static void test_garbage_survives_then_closes(void **state)
{
    fixture *f = *state;
    assert_reply(f, "GARBAGE\r\n", "500 5.5.2 Command not recognized\r\n");
    assert_reply(f, "MAIL FROM:<>\r\n", "503 5.5.1 Bad sequence of commands\r\n");
    assert_reply(f, "NOOP\r\n", "250 2.0.0 Ok\r\n");
    GString *long_line = g_string_new(NULL);
    for (int i = 0; i < 600; i++) g_string_append_c(long_line, 'x');
    g_string_append(long_line, "\r\n");
    assert_reply(f, long_line->str, "500 5.5.2 Line too long\r\n");
    g_string_free(long_line, TRUE);
    assert_reply(f, "NOOP\r\n", "250 2.0.0 Ok\r\n");
    assert_false(f->closed);
    char *got = converse(f, "A\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\nH\r\nI\r\n");
    assert_non_null(strstr(got, "421 4.7.0 Too many errors"));
    g_free(got);
    assert_true(f->closed);
}

static void test_too_many_recipients(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@mydomain.de>\r\nRCPT TO:<b@mydomain.de>\r\n"
                       "RCPT TO:<c@mydomain.de>\r\n"));
    assert_reply(f, "RCPT TO:<d@mydomain.de>\r\n", "452 4.5.3 Too many recipients\r\n");
    assert_int_equal(smtp_session_n_recipients(f->session), 3);
}

static void test_other_commands(void **state)
{
    fixture *f = *state;
    assert_reply(f, "HELO c\r\n", "250 mx.test\r\n");
    assert_reply(f, "VRFY x\r\n", "252 2.5.0 Cannot VRFY user, but will accept message for our domains\r\n");
    assert_reply(f, "HELP\r\n", "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY\r\n");
    assert_reply(f, "STARTTLS\r\n", "502 5.5.1 STARTTLS not available\r\n");
    assert_reply(f, "MAIL FROM:<> SMTPUTF8\r\n", "555 5.5.4 Unsupported parameter SMTPUTF8\r\n");
    assert_reply(f, "MAIL FROM:<x> \r\n", "553 5.1.7 Bad sender address syntax\r\n");
    assert_reply(f, "MAIL FROM:<a b@b.example>\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
    assert_reply(f, "MAIL FROM:<\"a b\"@b.example>\r\n", "250 2.1.0 Ok\r\n");
    assert_reply(f, "RSET\r\n", "250 2.0.0 Ok\r\n");
    assert_reply(f, "MAIL FROM:<@relay.example:bounce@b.example>\r\n", "250 2.1.0 Ok\r\n");
    assert_reply(f, "RSET\r\n", "250 2.0.0 Ok\r\n");
    assert_reply(f, "RCPT TO:<no-reply@mydomain.de>\r\n", "503 5.5.1 Bad sequence of commands\r\n");
}

/* NOOP, RSET, HELP and VRFY leave the session as idle as it was, so that a
 * client trickling them can still be evicted; a command that moves
 * something makes it busy again. */
static void test_junk_commands_leave_the_session_idle(void **state)
{
    fixture *f = *state;
    gint64 greeted, after_junk, after_mail;
    g_free(converse(f, "EHLO c\r\n"));
    assert_true(smtp_session_idle(f->session, &greeted));
    g_free(converse(f, "NOOP\r\n"));
    g_free(converse(f, "RSET\r\nHELP\r\nVRFY x\r\n"));
    assert_true(smtp_session_idle(f->session, &after_junk));
    assert_int_equal(after_junk, greeted);
    g_free(converse(f, "MAIL FROM:<>\r\n"));
    assert_true(smtp_session_idle(f->session, &after_mail));
    assert_true(after_mail > greeted);
}

/* Past SMTP_SESSION_MAX_JUNK of them, each counts as an error, and the
 * error limit closes the session. */
static void test_junk_past_the_limit_counts_as_errors(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\n"));
    for (int i = 0; i < SMTP_SESSION_MAX_JUNK + SMTP_SESSION_MAX_ERRORS - 1; i++)
        assert_reply(f, "NOOP\r\n", "250 2.0.0 Ok\r\n");
    assert_false(f->closed);
    assert_reply(f, "NOOP\r\n", "250 2.0.0 Ok\r\n421 4.7.0 Too many errors, closing connection\r\n");
    assert_true(f->closed);
}

/* What a client names itself goes into the stored Received: line, and a
 * refused parameter into a reply: neither may carry a bare CR or a control. */
static void test_client_text_is_made_printable(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO evil\rX-Injected:\001y\r\nMAIL FROM:<>\r\n"));
    assert_reply(f, "RCPT TO:<no-reply@mydomain.de> A\rB\r\n", "555 5.5.4 Unsupported parameter A?B\r\n");
    assert_reply(f, "RCPT TO:<no-reply@mydomain.de>\r\nDATA\r\nx\r\n.\r\n",
                 "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: committed\r\n");
    const char *msg = g_ptr_array_index(f->messages, 0);
    assert_non_null(strstr(msg, "Received: from evil?X-Injected:?y ([192.0.2.7])\r\n"));
}

/* A sender that shuts down its side right after the final dot (nc -N) still
 * gets the message's answer, and the session ends once it is written. */
static void test_half_close_after_the_dot_gets_the_answer(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\n"));
    const char *text = "MAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n";
    bufferevent_write(f->client, text, strlen(text));
    bufferevent_flush(f->client, EV_WRITE, BEV_FINISHED);
    char *got = take_replies(f);
    assert_string_equal(got, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                             "250 2.0.0 Ok: committed\r\n221 2.0.0 Bye\r\n");
    g_free(got);
    assert_int_equal(f->messages->len, 1);
    assert_true(f->closed);
}

static void test_half_close_without_quit_ends_the_session(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<no-reply@mydomain.de>\r\nDATA\r\n"));
    bufferevent_write(f->client, "x\r\n.\r\n", 6);
    bufferevent_flush(f->client, EV_WRITE, BEV_FINISHED);
    char *got = take_replies(f);
    assert_string_equal(got, "250 2.0.0 Ok: committed\r\n");
    g_free(got);
    assert_true(f->closed);
}

/* An evicted session whose client does not read its 421 is dropped after
 * 10 s (SMTP_CLOSE_TIMEOUT_S), not after command_timeout (60 s here): the
 * slot it gave up must not keep its descriptor and buffers that long. */
static void test_a_closing_session_whose_client_does_not_read_is_dropped(void **state)
{
    fixture *f = *state;
    g_free(converse(f, "EHLO c\r\n"));
    bufferevent_disable(f->client, EV_READ);
    smtp_session_evict(f->session);
    run_for(f, 1000);
    assert_false(f->closed);
    run_for(f, 10000);
    assert_true(f->closed);
}

/* smtp.max_line_length may exceed the input held by default (256 KiB): a
 * longer command line is still refused as too long, not left to time out. */
static void test_line_limit_beyond_the_read_buffer(void **state)
{
    fixture *f = *state;
    smtp_session_free(f->session);
    f->closed = false;
    f->limits.max_line_length = 300 * 1024;
    bufferevent_free(f->client);
    fixture_connect(f);
    g_free(take_replies(f));
    GString *line = g_string_new("NOOP ");
    while (line->len < 400 * 1024) g_string_append(line, "0123456789abcdef");
    assert_reply(f, line->str, "500 5.5.2 Line too long\r\n");
    g_string_free(line, TRUE);
    assert_reply(f, "\r\nNOOP\r\n", "250 2.0.0 Ok\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_greeting_and_ehlo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_message_is_unstuffed_and_traced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_messages_in_one_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure_gets_451, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recipient_refused_as_unknown_not_as_relay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smuggling_lf_dot_lf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smuggling_lf_dot_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smuggling_crlf_dot_lf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_cr_kept_unless_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_lf_command_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_lf_normalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_require_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_and_evict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_is_per_command_not_per_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_deadline_while_committing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_data_line_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_survives_then_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_junk_commands_leave_the_session_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_junk_past_the_limit_counts_as_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_text_is_made_printable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_after_the_dot_gets_the_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_without_quit_ends_the_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_limit_beyond_the_read_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_closing_session_whose_client_does_not_read_is_dropped, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
