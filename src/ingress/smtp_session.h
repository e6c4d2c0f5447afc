/*
 * smtp_session.h - one SMTP connection: the ESMTP state machine over a
 * bufferevent, private to the SMTP listener (smtp_server.c) and its tests.
 *
 * The session parses commands, enforces the per-message limits, collects a
 * message (dot-unstuffed, with Return-Path: and Received: trace headers in
 * front) and hands it to its owner through ops->submit. It answers the final
 * dot only when the owner calls smtp_session_committed(), so a 250 always
 * means committed. Everything the owner decides (which recipients are ours,
 * how and when messages are committed) comes through smtp_session_ops, so the
 * state machine can be tested over a bufferevent pair without a store.
 */
#ifndef BOUNCEDEMAILS_SMTP_SESSION_H
#define BOUNCEDEMAILS_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

/* Protocol errors after which a session is closed with 421; a committed
 * message forgives the earlier ones, so a long session is not cut short. */
#define SMTP_SESSION_MAX_ERRORS 10

typedef struct smtp_session smtp_session;

typedef struct smtp_session_ops {
    /* Whether mail for rcpt (an address, or "postmaster") is accepted. */
    bool (*recipient_ok)(void *arg, const char *rcpt);
    /* A message is complete. The owner commits it, possibly together with
     * others, and then calls smtp_session_committed(); until then the
     * session reads nothing more. */
    void (*submit)(void *arg, smtp_session *s);
    /* The session is being freed (its client left, or it was closed). */
    void (*closed)(void *arg, smtp_session *s);
} smtp_session_ops;

typedef struct smtp_session_limits {
    size_t max_message_size;   /* bytes of message, after unstuffing */
    size_t max_line_length;    /* bytes of a command line, CRLF included */
    int max_recipients;
    int command_timeout_s;
    int data_timeout_s;
} smtp_session_limits;

typedef struct smtp_session_params {
    const smtp_session_limits *limits;
    const char *hostname;      /* ours, in the greeting and Received: */
    const char *client_addr;   /* the client's address, printable */
    SSL_CTX *tls;              /* STARTTLS is offered when not NULL */
    const smtp_session_ops *ops;
    void *arg;
} smtp_session_params;

/* Takes bev over (it is freed with the session) and sends the greeting. */
smtp_session *smtp_session_new(struct bufferevent *bev, const smtp_session_params *params);
void smtp_session_free(smtp_session *s);

/* The submitted message: trace headers for the first recipient, then the data. */
const char *smtp_session_message(const smtp_session *s, size_t *len);
/* The length of its trace headers (Return-Path:, Received:), for
 * policy_envelope.trace_len. */
size_t smtp_session_trace_len(const smtp_session *s);
/* The same message with the trace headers naming rcpt instead: g_free() it. */
char *smtp_session_message_for(const smtp_session *s, const char *rcpt, size_t *len);
/* Hands the submitted message (as smtp_session_message() gives it) over to
 * the caller, who g_free()s it: it may outlive the session. */
char *smtp_session_take_message(smtp_session *s, size_t *len);
/* Envelope sender ("" for the null sender <>), and the accepted recipients. */
const char *smtp_session_sender(const smtp_session *s);
size_t smtp_session_n_recipients(const smtp_session *s);
const char *smtp_session_recipient(const smtp_session *s, size_t i);
const char *smtp_session_client(const smtp_session *s);

/* The owner's answer to a submit: ok means committed (250), else 451. The
 * session then goes on with any pipelined input. Never frees the session. */
void smtp_session_committed(smtp_session *s, bool ok);

#endif
