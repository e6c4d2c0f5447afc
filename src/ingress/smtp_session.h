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
 *
 * Deadlines: the client has command_timeout for each command, counted from
 * when the session is ready for it however slowly its bytes arrive, and for
 * a TLS handshake; data_timeout for the whole of a message's data; nothing
 * runs while the owner commits.
 */
#ifndef BOUNCEDEMAILS_SMTP_SESSION_H
#define BOUNCEDEMAILS_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/bufferevent.h>
#include <glib.h>
#include <openssl/ssl.h>

/* Protocol errors after which a session is closed with 421; a committed
 * message forgives the earlier ones, so a long session is not cut short. */
#define SMTP_SESSION_MAX_ERRORS 10
/* NOOP, RSET, HELP and VRFY a session may send before each counts as an
 * error (Postfix's smtpd_junk_command_limit). */
#define SMTP_SESSION_MAX_JUNK 100

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

/* What a bare LF or CR in a message gets (smtp.bare_newline). A bare CR
 * cannot end a line here, and real bounces quote them, so only strict
 * refuses it. */
typedef enum smtp_bare_newline {
    SMTP_BARE_NEWLINE_REJECT,      /* a bare LF: the message is refused with 550 5.5.2 */
    SMTP_BARE_NEWLINE_STRICT,      /* a bare LF or CR: refused */
    SMTP_BARE_NEWLINE_NORMALIZE,   /* a bare LF is taken as CRLF */
} smtp_bare_newline;

typedef struct smtp_session_limits {
    size_t max_message_size;   /* bytes of message, after unstuffing */
    size_t max_line_length;    /* bytes of a command line, CRLF included */
    int max_recipients;
    int command_timeout_s;
    int data_timeout_s;
    smtp_bare_newline bare_newline;
    bool require_tls;          /* MAIL only after STARTTLS */
} smtp_session_limits;

/* Message bytes held in memory by every session and by the commits in hand,
 * against smtp.max_memory. Used from the event loop's thread only. */
typedef struct smtp_budget {
    size_t used;
    size_t limit;
} smtp_budget;

/* Takes n bytes from the budget, unless that would exceed it. */
bool smtp_budget_take(smtp_budget *b, size_t n);
/* The same, counting as free already the freeing bytes that the caller
 * gives back next. */
bool smtp_budget_take_freeing(smtp_budget *b, size_t n, size_t freeing);
/* Takes n bytes whatever the budget (memory that is held already). */
void smtp_budget_charge(smtp_budget *b, size_t n);
void smtp_budget_give(smtp_budget *b, size_t n);

typedef struct smtp_session_params {
    const smtp_session_limits *limits;
    const char *hostname;      /* ours, in the greeting and Received: */
    const char *client_addr;   /* the client's address, printable */
    SSL_CTX *tls;              /* STARTTLS is offered when not NULL */
    smtp_budget *memory;       /* shared by the owner's sessions; NULL: no bound */
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
 * the caller, who g_free()s it: it may outlive the session. Its bytes leave
 * the session's share of the budget: the caller charges what it keeps, the
 * message's length (the buffer is cut to it). */
char *smtp_session_take_message(smtp_session *s, size_t *len);
/* What the session's message takes from the budget (its buffer, which may
 * be twice its length) until it is taken or dropped. */
size_t smtp_session_held(const smtp_session *s);
/* Envelope sender ("" for the null sender <>), and the accepted recipients. */
const char *smtp_session_sender(const smtp_session *s);
size_t smtp_session_n_recipients(const smtp_session *s);
const char *smtp_session_recipient(const smtp_session *s, size_t i);
const char *smtp_session_client(const smtp_session *s);

/* Whether the session waits for the client's next command (not in DATA,
 * not committing, not closing, not in a TLS handshake), and since when
 * (g_get_monotonic_time()) it has sent nothing but junk (NOOP, RSET, HELP,
 * VRFY): a slot the owner may take back. */
bool smtp_session_idle(const smtp_session *s, gint64 *since);
/* Closes an idle session with 421 to make room for another client. Like
 * every close, the session is freed later, from a libevent callback: once
 * the reply is written, or after a few seconds if the client does not read. */
void smtp_session_evict(smtp_session *s);

/* The owner's answer to a submit. The session then goes on with any
 * pipelined input. Never frees the session. */
typedef enum smtp_commit {
    SMTP_COMMIT_DONE,         /* committed: 250 */
    SMTP_COMMIT_FAILED,       /* the store failed: 451 */
    SMTP_COMMIT_NO_MEMORY,    /* not taken, the copies it needs are beyond smtp.max_memory: 452 */
    SMTP_COMMIT_TOO_LARGE,    /* not taken, its copies alone are beyond smtp.max_memory: 552 */
} smtp_commit;
void smtp_session_committed(smtp_session *s, smtp_commit result);

#endif
