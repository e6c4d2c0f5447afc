/*
 * smtp_session.c - the per-connection ESMTP state machine (RFC 5321, with
 * PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES and STARTTLS).
 *
 * Replies are collected in s->out while the input at hand is processed and
 * written in one piece afterwards, so the EHLO reply and the replies of a
 * pipelined group leave in one segment. The session never blocks: a message
 * is handed to the owner with ops->submit and the final dot is answered when
 * the owner calls smtp_session_committed(); meanwhile pipelined input waits
 * in the bufferevent, bounded by its read watermark.
 *
 * A session frees itself only from libevent callbacks (the client left, its
 * last reply was written, or its deadline passed), never from inside a
 * function the owner calls.
 *
 * One timer per session is its deadline (see smtp_session.h); the
 * bufferevent's own timeouts are not used, since they restart with every
 * byte and so let a client that sends one byte at a time hold a slot for
 * ever. For the same reason the commands that move nothing (NOOP, RSET,
 * HELP, VRFY: "junk" in Postfix's words) leave the session idle, so that it
 * may be evicted, and past SMTP_SESSION_MAX_JUNK of them each counts as an
 * error.
 */
#include "ingress/smtp_session.h"
#include "ingress/smtp_data.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <glib.h>

#include "log.h"

/* What a message starts with: trace headers and a small bounce. */
#define SMTP_MESSAGE_INITIAL (16 * 1024)
/* Input chunks decoded per step of DATA. */
#define SMTP_DATA_IOVECS 8
/* Input kept unread at most while a message commits or a line is incomplete. */
#define SMTP_READ_HIGH_WATERMARK (256 * 1024)
/* Replies a client has not read yet, at most: beyond this the session stops
 * taking commands until they are written, so a client that sends without
 * reading cannot grow our buffers. */
#define SMTP_MAX_UNSENT (64 * 1024)
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets, a domain 255. */
#define SMTP_MAX_PATH 256
#define SMTP_MAX_DOMAIN 255
/* What of a refused parameter a reply repeats. */
#define SMTP_MAX_ECHO 64
/* How long a client has to take the last reply before it is dropped. */
#define SMTP_CLOSE_TIMEOUT_S 10

typedef enum smtp_state {
    SMTP_STATE_CONNECTED,   /* greeting sent, waiting for EHLO or HELO */
    SMTP_STATE_GREETED,     /* no transaction */
    SMTP_STATE_MAIL,        /* MAIL accepted, no recipient yet */
    SMTP_STATE_RCPT,        /* at least one recipient */
    SMTP_STATE_DATA,        /* reading the message */
    SMTP_STATE_COMMITTING,  /* submitted, waiting for smtp_session_committed() */
    SMTP_STATE_CLOSING,     /* the last reply is being written */
} smtp_state;

/* Why a message's data is read to its end but not kept. */
typedef enum smtp_refusal {
    SMTP_REFUSAL_NONE,
    SMTP_REFUSAL_SIZE,      /* beyond max_message_size */
    SMTP_REFUSAL_MEMORY,    /* beyond the memory budget */
} smtp_refusal;

struct smtp_session {
    struct bufferevent *bev;
    smtp_session_params params;
    char *client;
    smtp_state state;
    bool esmtp;             /* EHLO rather than HELO */
    bool tls;               /* STARTTLS done */
    bool processing;        /* inside smtp_session_process() */
    bool handshaking;       /* STARTTLS answered, the TLS handshake not done */
    bool discard_line;      /* the rest of an over-long command line is dropped */
    bool moved;             /* a command other than junk, or data, was taken */
    bool input_closed;      /* the client half-closed while its message committed */
    int errors;
    int junk;               /* NOOP, RSET, HELP and VRFY taken */
    char *helo;
    char *sender;
    GPtrArray *rcpts;
    GString *msg;           /* trace headers, then the data */
    size_t header_len;
    size_t data_len;        /* data bytes seen, kept or not */
    size_t held;            /* bytes of msg taken from params.memory */
    smtp_data data;         /* the DATA decoder */
    smtp_refusal refusal;   /* why the data is being discarded */
    struct evbuffer *out;   /* replies not yet written */
    struct event *deadline; /* what the client must have done by when */
    gint64 idle_since;      /* when the session became ready for a command */
};

typedef void (*smtp_command_fn)(smtp_session *s, char *args);

static void smtp_session_process(smtp_session *s);
static void smtp_session_read_cb(struct bufferevent *bev, void *arg);
static void smtp_session_write_cb(struct bufferevent *bev, void *arg);
static void smtp_session_event_cb(struct bufferevent *bev, short events, void *arg);

/* ---- replies ---- */

static void smtp_reply(smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void smtp_reply(smtp_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(s->out, fmt, ap);
    va_end(ap);
    evbuffer_add(s->out, "\r\n", 2);
}

static void smtp_flush(smtp_session *s)
{
    if (evbuffer_get_length(s->out) > 0) bufferevent_write_buffer(s->bev, s->out);
}

/* ---- deadlines ---- */

static void smtp_deadline(smtp_session *s, int seconds)
{
    struct timeval tv = { .tv_sec = seconds };
    evtimer_add(s->deadline, &tv);
}

/* The session is ready for the client's next command; it is idle since
 * its last command that moved something. */
static void smtp_await_command(smtp_session *s)
{
    if (s->moved)
        s->idle_since = g_get_monotonic_time();
    s->moved = false;
    smtp_deadline(s, s->params.limits->command_timeout_s);
}

/* Nothing more is read, and the session is freed once its replies have been
 * written (smtp_session_write_cb), or when a client that does not read them
 * has had SMTP_CLOSE_TIMEOUT_S: a session closing to make room must not
 * hold its descriptor and buffers for a whole command_timeout. */
static void smtp_end(smtp_session *s)
{
    s->state = SMTP_STATE_CLOSING;
    bufferevent_disable(s->bev, EV_READ);
    smtp_deadline(s, evbuffer_get_length(s->out) || evbuffer_get_length(bufferevent_get_output(s->bev))
                         ? SMTP_CLOSE_TIMEOUT_S : 0);
}

/* The last reply, then smtp_end(). */
static void smtp_close(smtp_session *s, const char *reply)
{
    smtp_reply(s, "%s", reply);
    smtp_end(s);
}

/* A protocol error: counted, and too many of them end the session. */
static void smtp_count_error(smtp_session *s)
{
    if (++s->errors >= SMTP_SESSION_MAX_ERRORS && s->state != SMTP_STATE_CLOSING) {
        log_warn("SMTP %s: too many errors, closing", s->client);
        smtp_close(s, "421 4.7.0 Too many errors, closing connection");
    }
}

static void smtp_error(smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void smtp_error(smtp_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(s->out, fmt, ap);
    va_end(ap);
    evbuffer_add(s->out, "\r\n", 2);
    smtp_count_error(s);
}

/* ---- the memory budget ---- */

bool smtp_budget_take(smtp_budget *b, size_t n)
{
    return smtp_budget_take_freeing(b, n, 0);
}

bool smtp_budget_take_freeing(smtp_budget *b, size_t n, size_t freeing)
{
    size_t after = b->used > freeing ? b->used - freeing : 0;
    if (after + n > b->limit) return false;
    b->used += n;
    return true;
}

void smtp_budget_charge(smtp_budget *b, size_t n)
{
    b->used += n;
}

void smtp_budget_give(smtp_budget *b, size_t n)
{
    b->used = n < b->used ? b->used - n : 0;
}

/* Takes from the budget what the message will hold once it has grown to
 * allocated bytes; false (and nothing taken) when the budget cannot give it. */
static bool smtp_hold(smtp_session *s, size_t allocated)
{
    smtp_budget *b = s->params.memory;
    if (!b || allocated <= s->held) return true;
    if (!smtp_budget_take(b, allocated - s->held)) return false;
    s->held = allocated;
    return true;
}

/* What the message's allocation becomes when len bytes are appended. GString
 * doubles it; should it grow more than that, smtp_data_keep charges the
 * difference afterwards. */
static size_t smtp_grown(const GString *msg, size_t len)
{
    size_t need = msg->len + len + 1, allocated = msg->allocated_len;
    while (allocated < need) allocated *= 2;
    return allocated;
}

/* what: "DATA" refused at once, or a "message" read to its end. */
static void smtp_refuse_no_memory(smtp_session *s, const char *what)
{
    log_warn("SMTP %s: %s refused, smtp.max_memory (%zu bytes) is in use", s->client, what, s->params.memory->limit);
    smtp_reply(s, "452 4.3.1 Insufficient system storage, try again later");
}

/* The message's bytes leave the session's share of the budget. */
static void smtp_release(smtp_session *s)
{
    if (s->params.memory) smtp_budget_give(s->params.memory, s->held);
    s->held = 0;
}

static void smtp_free_message(smtp_session *s)
{
    if (s->msg) g_string_free(s->msg, TRUE);
    s->msg = NULL;
    smtp_release(s);
}

/* ---- state ---- */

static void smtp_set_state(smtp_session *s, smtp_state state)
{
    s->state = state;
    if (state == SMTP_STATE_DATA)
        smtp_deadline(s, s->params.limits->data_timeout_s);
    else if (state == SMTP_STATE_COMMITTING)   /* our own time is not the client's */
        evtimer_del(s->deadline);
}

static void smtp_transaction_reset(smtp_session *s)
{
    g_free(s->sender);
    s->sender = NULL;
    g_ptr_array_set_size(s->rcpts, 0);
    smtp_free_message(s);
    s->header_len = s->data_len = 0;
    s->refusal = SMTP_REFUSAL_NONE;
}

/* ---- parsing ---- */

/* Takes the path in "<path> params" (or a bare address) off the front of arg,
 * in place: returns the address without brackets and source route, and
 * points *params at what follows; NULL on a syntax error. */
static char *smtp_parse_path(char *arg, char **params)
{
    char *addr, *end;
    while (*arg == ' ') arg++;
    if (*arg == '<') {
        bool quoted = false;
        addr = ++arg;
        for (end = arg; *end && (quoted || *end != '>'); end++)
            if (*end == '"') quoted = !quoted;
        if (*end != '>') return NULL;
        *end++ = '\0';
    } else {
        addr = arg;
        end = arg + strcspn(arg, " ");
        if (*end) *end++ = '\0';
    }
    if (*addr == '@') {            /* a source route: @a,@b:user@c */
        char *colon = strchr(addr, ':');
        if (!colon) return NULL;
        addr = colon + 1;
    }
    if (strlen(addr) > SMTP_MAX_PATH) return NULL;
    bool quoted = false;
    for (const char *p = addr; *p; p++) {
        if (*p == '"') quoted = !quoted;
        if ((unsigned char)*p < ' ' || *p == 0x7f || (*p == ' ' && !quoted)) return NULL;
    }
    while (*end == ' ') end++;
    *params = end;
    return addr;
}

/* Matches "KEYWORD:" at the start of arg, case-insensitively. */
static char *smtp_after_keyword(char *arg, const char *keyword)
{
    size_t n = strlen(keyword);
    if (strncasecmp(arg, keyword, n) != 0) return NULL;
    return arg + n;
}

/* The next "KEY=VALUE" of an ESMTP parameter list, in place. */
static bool smtp_next_param(char **params, char **key, char **value)
{
    char *p = *params;
    while (*p == ' ') p++;
    if (!*p) return false;
    *key = p;
    p += strcspn(p, " ");
    if (*p) *p++ = '\0';
    *params = p;
    char *eq = strchr(*key, '=');
    *value = eq ? eq + 1 : NULL;
    if (eq) *eq = '\0';
    return true;
}

static bool smtp_address_ok(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at && at != addr && at[1] != '\0';
}

/* ---- trace headers ---- */

static void smtp_append_date(GString *out, time_t now)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    gmtime_r(&now, &tm);
    g_string_append_printf(out, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                           tm.tm_sec);
}

/* A client's text as a reply or a trace header may repeat it: at most max
 * bytes, each byte that is not printable ASCII made a '?' (a bare CR in a
 * stored Received: line would end the header block for the classifier). */
static char *smtp_printable(const char *text, size_t max)
{
    char *out = g_strndup(text, max);
    for (char *c = out; *c; c++)
        if (!g_ascii_isprint(*c)) *c = '?';
    return out;
}

static void smtp_refuse_parameter(smtp_session *s, const char *param)
{
    char *shown = smtp_printable(param, SMTP_MAX_ECHO);
    smtp_error(s, "555 5.5.4 Unsupported parameter %s", shown);
    g_free(shown);
}

/* Return-Path: and Received: as the final delivery adds them (RFC 5321 4.4). */
static void smtp_append_trace(const smtp_session *s, GString *out, const char *rcpt)
{
    bool v6 = strchr(s->client, ':') != NULL;
    g_string_append_printf(out, "Return-Path: <%s>\r\n", s->sender);
    g_string_append_printf(out, "Received: from %s ([%s%s])\r\n\tby %s (bouncedemails) with %s%s\r\n",
                           s->helo, v6 ? "IPv6:" : "", s->client, s->params.hostname,
                           s->esmtp ? "ESMTP" : "SMTP", s->tls ? "S" : "");
    g_string_append_printf(out, "\tfor <%s>; ", rcpt);
    smtp_append_date(out, time(NULL));
    g_string_append(out, "\r\n");
}

/* ---- commands ---- */

static void smtp_reply_ehlo(smtp_session *s)
{
    GString *r = g_string_new(NULL);
    g_string_append_printf(r, "250-%s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n250-8BITMIME\r\n",
                           s->params.hostname, s->params.limits->max_message_size);
    if (s->params.tls && !s->tls) g_string_append(r, "250-STARTTLS\r\n");
    g_string_append(r, "250 ENHANCEDSTATUSCODES\r\n");
    evbuffer_add(s->out, r->str, r->len);
    g_string_free(r, TRUE);
}

static void smtp_greet(smtp_session *s, char *args, bool esmtp)
{
    if (!*args) {
        smtp_error(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
        return;
    }
    args[strcspn(args, " ")] = '\0';
    smtp_transaction_reset(s);
    g_free(s->helo);
    s->helo = smtp_printable(args, SMTP_MAX_DOMAIN);
    s->esmtp = esmtp;
    smtp_set_state(s, SMTP_STATE_GREETED);
    if (esmtp)
        smtp_reply_ehlo(s);
    else
        smtp_reply(s, "250 %s", s->params.hostname);
}

static void smtp_cmd_ehlo(smtp_session *s, char *args) { smtp_greet(s, args, true); }
static void smtp_cmd_helo(smtp_session *s, char *args) { smtp_greet(s, args, false); }

/* The MAIL parameters we take: SIZE=n and BODY=7BIT|8BITMIME. 0, or -1
 * after an error reply. */
static int smtp_mail_params(smtp_session *s, char *params)
{
    char *key, *value;
    while (smtp_next_param(&params, &key, &value)) {
        if (strcasecmp(key, "SIZE") == 0 && value && *value && strspn(value, "0123456789") == strlen(value)) {
            if (strtoull(value, NULL, 10) > s->params.limits->max_message_size) {
                smtp_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
                return -1;
            }
        } else if (strcasecmp(key, "BODY") == 0 && value &&
                   (strcasecmp(value, "7BIT") == 0 || strcasecmp(value, "8BITMIME") == 0)) {
            continue;
        } else {
            smtp_refuse_parameter(s, key);
            return -1;
        }
    }
    return 0;
}

static void smtp_cmd_mail(smtp_session *s, char *args)
{
    char *params, *addr, *path = smtp_after_keyword(args, "FROM:");
    if (!path || !(addr = smtp_parse_path(path, &params))) {
        smtp_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    if (*addr && !smtp_address_ok(addr)) {
        smtp_error(s, "553 5.1.7 Bad sender address syntax");
        return;
    }
    if (s->params.limits->require_tls && !s->tls) {
        smtp_error(s, "530 5.7.0 Must issue a STARTTLS command first");
        return;
    }
    if (smtp_mail_params(s, params) != 0) return;
    s->sender = g_strdup(addr);
    smtp_set_state(s, SMTP_STATE_MAIL);
    smtp_reply(s, "250 2.1.0 Ok");
}

static void smtp_cmd_rcpt(smtp_session *s, char *args)
{
    char *params, *addr, *path = smtp_after_keyword(args, "TO:");
    if (!path || !(addr = smtp_parse_path(path, &params)) || !*addr) {
        smtp_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    if (*params) {
        smtp_refuse_parameter(s, params);
        return;
    }
    bool postmaster = strcasecmp(addr, "postmaster") == 0;
    if (!postmaster && !smtp_address_ok(addr)) {
        smtp_error(s, "553 5.1.3 Bad recipient address syntax");
        return;
    }
    if ((int)s->rcpts->len >= s->params.limits->max_recipients) {
        smtp_reply(s, "452 4.5.3 Too many recipients");
        return;
    }
    if (!s->params.ops->recipient_ok(s->params.arg, addr)) {
        log_info("SMTP %s: recipient <%s> refused, not in smtp.recipient_domains", s->client, addr);
        smtp_error(s, "550 5.1.1 <%s>: Recipient address rejected: not a domain of this listener", addr);
        return;
    }
    g_ptr_array_add(s->rcpts, g_strdup(addr));
    smtp_set_state(s, SMTP_STATE_RCPT);
    smtp_reply(s, "250 2.1.5 Ok");
}

static void smtp_cmd_data(smtp_session *s, char *args)
{
    if (*args) {
        smtp_error(s, "501 5.5.4 Syntax: DATA");
        return;
    }
    if (s->rcpts->len == 0) {
        smtp_error(s, "554 5.5.1 No valid recipients");
        return;
    }
    s->msg = g_string_sized_new(SMTP_MESSAGE_INITIAL);
    if (!smtp_hold(s, s->msg->allocated_len)) {
        smtp_free_message(s);
        smtp_refuse_no_memory(s, "DATA");
        return;
    }
    smtp_append_trace(s, s->msg, smtp_session_recipient(s, 0));
    s->header_len = s->msg->len;
    smtp_data_init(&s->data);
    smtp_set_state(s, SMTP_STATE_DATA);
    smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void smtp_cmd_rset(smtp_session *s, char *args)
{
    (void)args;
    smtp_transaction_reset(s);
    if (s->state != SMTP_STATE_CONNECTED) smtp_set_state(s, SMTP_STATE_GREETED);
    smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_cmd_noop(smtp_session *s, char *args)
{
    (void)args;
    smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_cmd_quit(smtp_session *s, char *args)
{
    (void)args;
    smtp_close(s, "221 2.0.0 Bye");
}

static void smtp_cmd_help(smtp_session *s, char *args)
{
    (void)args;
    smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY%s",
               s->params.tls && !s->tls ? " STARTTLS" : "");
}

static void smtp_cmd_vrfy(smtp_session *s, char *args)
{
    if (!*args) {
        smtp_error(s, "501 5.5.4 Syntax: VRFY address");
        return;
    }
    smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message for our domains");
}

/* Input held unread at most: a command line of max_line_length must fit. */
static size_t smtp_read_watermark(const smtp_session *s)
{
    return MAX(SMTP_READ_HIGH_WATERMARK, s->params.limits->max_line_length);
}

/* Puts a TLS filter over the connection: the client starts afresh with EHLO,
 * once the handshake is done, within command_timeout. */
static int smtp_start_tls(smtp_session *s)
{
    SSL *ssl = SSL_new(s->params.tls);
    struct bufferevent *tls = ssl ? bufferevent_openssl_filter_new(bufferevent_get_base(s->bev), s->bev, ssl,
                                                                    BUFFEREVENT_SSL_ACCEPTING,
                                                                    BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!tls) {
        if (ssl) SSL_free(ssl);
        return -1;
    }
    s->bev = tls;
    s->tls = true;
    bufferevent_setcb(tls, smtp_session_read_cb, smtp_session_write_cb, smtp_session_event_cb, s);
    bufferevent_setwatermark(tls, EV_READ, 0, smtp_read_watermark(s));
    bufferevent_enable(tls, EV_READ | EV_WRITE);
    smtp_transaction_reset(s);
    g_free(s->helo);
    s->helo = NULL;
    s->state = SMTP_STATE_CONNECTED;
    s->handshaking = true;
    smtp_deadline(s, s->params.limits->command_timeout_s);
    return 0;
}

/* Replies 220 in plain text and drops whatever the client pipelined after
 * the command (RFC 3207 5: it must not be taken into the TLS session). */
static void smtp_cmd_starttls(smtp_session *s, char *args)
{
    if (!s->params.tls || s->tls) {
        smtp_error(s, s->tls ? "503 5.5.1 TLS already active" : "502 5.5.1 STARTTLS not available");
        return;
    }
    if (*args) {
        smtp_error(s, "501 5.5.4 Syntax: STARTTLS");
        return;
    }
    smtp_reply(s, "220 2.0.0 Ready to start TLS");
    smtp_flush(s);
    struct evbuffer *in = bufferevent_get_input(s->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    if (smtp_start_tls(s) != 0) {
        log_error("SMTP %s: cannot start TLS", s->client);
        smtp_close(s, "421 4.7.0 TLS not available, closing connection");
    }
}

#define SMTP_ST(x) (1u << SMTP_STATE_##x)
#define SMTP_ST_COMMAND (SMTP_ST(CONNECTED) | SMTP_ST(GREETED) | SMTP_ST(MAIL) | SMTP_ST(RCPT))

/* Which command is allowed in which state. */
static const struct smtp_command {
    const char *name;
    smtp_command_fn fn;
    unsigned states;
    bool junk;              /* moves nothing: the session stays idle */
} smtp_commands[] = {
    { "EHLO", smtp_cmd_ehlo, SMTP_ST_COMMAND, false },
    { "HELO", smtp_cmd_helo, SMTP_ST_COMMAND, false },
    { "MAIL", smtp_cmd_mail, SMTP_ST(GREETED), false },
    { "RCPT", smtp_cmd_rcpt, SMTP_ST(MAIL) | SMTP_ST(RCPT), false },
    { "DATA", smtp_cmd_data, SMTP_ST(MAIL) | SMTP_ST(RCPT), false },
    { "RSET", smtp_cmd_rset, SMTP_ST_COMMAND, true },
    { "NOOP", smtp_cmd_noop, SMTP_ST_COMMAND, true },
    { "QUIT", smtp_cmd_quit, SMTP_ST_COMMAND, false },
    { "HELP", smtp_cmd_help, SMTP_ST_COMMAND, true },
    { "VRFY", smtp_cmd_vrfy, SMTP_ST_COMMAND, true },
    { "STARTTLS", smtp_cmd_starttls, SMTP_ST(GREETED), false },
};

static void smtp_dispatch(smtp_session *s, char *line)
{
    size_t verb_len = strcspn(line, " ");
    char *args = line + verb_len;
    while (*args == ' ') args++;
    for (size_t i = 0; i < G_N_ELEMENTS(smtp_commands); i++) {
        const struct smtp_command *c = &smtp_commands[i];
        if (strlen(c->name) != verb_len || strncasecmp(c->name, line, verb_len) != 0) continue;
        if (!(c->states & (1u << s->state))) {
            smtp_error(s, "503 5.5.1 Bad sequence of commands");
            return;
        }
        c->fn(s, args);
        if (!c->junk)
            s->moved = true;
        else if (++s->junk > SMTP_SESSION_MAX_JUNK)
            smtp_count_error(s);
        return;
    }
    smtp_error(s, "500 5.5.2 Command not recognized");
}

/* ---- input ---- */

/* One command line, if a whole one is there. False when more input is needed. */
static bool smtp_command_step(smtp_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t eol_len, max = s->params.limits->max_line_length;
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (eol.pos < 0) {
        size_t len = evbuffer_get_length(in);
        if (len < max) return false;
        evbuffer_drain(in, len);
        if (!s->discard_line) smtp_error(s, "500 5.5.2 Line too long");
        s->discard_line = true;
        return false;
    }
    if (s->discard_line || (size_t)eol.pos + eol_len > max) {
        evbuffer_drain(in, (size_t)eol.pos + eol_len);
        if (!s->discard_line) smtp_error(s, "500 5.5.2 Line too long");
        s->discard_line = false;
        return true;
    }
    size_t n = (size_t)eol.pos;
    char *line = g_malloc(n + 1);
    evbuffer_remove(in, line, n);
    line[n] = '\0';
    evbuffer_drain(in, eol_len);
    if (strlen(line) != n)
        smtp_error(s, "500 5.5.2 NUL in command");
    else if (eol_len == 1 && s->params.limits->bare_newline != SMTP_BARE_NEWLINE_NORMALIZE)
        smtp_error(s, "500 5.5.2 Error: bare <LF> received");
    else
        smtp_dispatch(s, line);
    g_free(line);
    return true;
}

/* Whether the bare line ends seen so far refuse the message. */
static bool smtp_bare_refused(const smtp_session *s)
{
    switch (s->params.limits->bare_newline) {
    case SMTP_BARE_NEWLINE_REJECT: return s->data.bare & SMTP_DATA_BARE_LF;
    case SMTP_BARE_NEWLINE_STRICT: return s->data.bare != 0;
    case SMTP_BARE_NEWLINE_NORMALIZE: return false;
    }
    return true;
}

/* The decoder's output: kept, unless the message is refused already or now
 * (beyond the size limit or the memory budget, or a bare line end that
 * smtp.bare_newline rejects); then only counted. */
static void smtp_data_keep(void *arg, const char *bytes, size_t len)
{
    smtp_session *s = arg;
    s->data_len += len;
    if (!s->msg) return;   /* refused already */
    if (!smtp_bare_refused(s)) {
        if (s->data_len > s->params.limits->max_message_size)
            s->refusal = SMTP_REFUSAL_SIZE;
        else if (!smtp_hold(s, smtp_grown(s->msg, len)))
            s->refusal = SMTP_REFUSAL_MEMORY;
        else {
            g_string_append_len(s->msg, bytes, (gssize)len);
            if (s->params.memory && s->msg->allocated_len > s->held) {
                smtp_budget_charge(s->params.memory, s->msg->allocated_len - s->held);
                s->held = s->msg->allocated_len;
            }
            return;
        }
    }
    smtp_free_message(s);   /* smtp_data_refused() says why at the end */
}

/* The reply to a message that was read to its end but not kept. */
static void smtp_data_refused(smtp_session *s)
{
    if (smtp_bare_refused(s)) {
        const char *bare = smtp_data_bare_name(s->data.bare);
        log_warn("SMTP %s: message refused, bare <%s> received (smtp.bare_newline)", s->client, bare);
        smtp_reply(s, "550 5.5.2 Error: bare <%s> received", bare);
    } else if (s->refusal == SMTP_REFUSAL_SIZE) {
        log_info("SMTP %s: message of %zu bytes refused (limit %zu)", s->client, s->data_len,
                 s->params.limits->max_message_size);
        smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
    } else {
        smtp_refuse_no_memory(s, "message");
    }
    smtp_transaction_reset(s);
    smtp_set_state(s, SMTP_STATE_GREETED);
}

static void smtp_data_end(smtp_session *s)
{
    if (!s->msg) {
        smtp_data_refused(s);
        return;
    }
    smtp_set_state(s, SMTP_STATE_COMMITTING);
    s->params.ops->submit(s->params.arg, s);
}

/* Decodes the data at hand. False when more input is needed. */
static bool smtp_data_step(smtp_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    struct evbuffer_iovec v[SMTP_DATA_IOVECS];
    /* The length, not the peek's count: a buffer may hold empty chains. */
    if (evbuffer_get_length(in) == 0) return false;
    int n = evbuffer_peek(in, -1, NULL, v, SMTP_DATA_IOVECS);
    size_t used = 0;
    for (int i = 0; i < n && i < SMTP_DATA_IOVECS && s->data.state != SMTP_DATA_END; i++)
        used += smtp_data_feed(&s->data, v[i].iov_base, v[i].iov_len, smtp_data_keep, s);
    evbuffer_drain(in, used);
    s->moved = true;
    if (s->data.state == SMTP_DATA_END) smtp_data_end(s);
    return true;
}

static bool smtp_output_full(const smtp_session *s)
{
    return evbuffer_get_length(s->out) + evbuffer_get_length(bufferevent_get_output(s->bev)) > SMTP_MAX_UNSENT;
}

static bool smtp_awaits_command(const smtp_session *s)
{
    return (SMTP_ST_COMMAND & (1u << s->state)) && !s->handshaking;
}

static void smtp_session_process(smtp_session *s)
{
    bool progress = false;
    s->processing = true;
    for (;;) {
        bool more;
        if (smtp_output_full(s))
            more = false;      /* smtp_session_write_cb goes on once it is written */
        else if (s->state == SMTP_STATE_DATA)
            more = smtp_data_step(s);
        else if (s->state == SMTP_STATE_COMMITTING || s->state == SMTP_STATE_CLOSING)
            more = false;
        else
            more = smtp_command_step(s);
        if (!more) break;
        progress = true;
    }
    s->processing = false;
    /* A command's deadline runs from when the session is ready for it: bytes
     * of an incomplete command do not move it. */
    if (progress && smtp_awaits_command(s)) smtp_await_command(s);
    /* A client that half-closed after its message: once what it sent has
     * been answered, the session ends. */
    if (s->input_closed && smtp_awaits_command(s)) smtp_end(s);
    smtp_flush(s);
}

/* ---- libevent callbacks ---- */

static void smtp_session_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    smtp_session_process(arg);
}

/* Under TLS the last reply has left the filter but maybe not the socket. */
static void smtp_session_underlying_write_cb(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) smtp_session_free(arg);
}

static void smtp_session_write_cb(struct bufferevent *bev, void *arg)
{
    smtp_session *s = arg;
    if (s->state != SMTP_STATE_CLOSING) {
        if (evbuffer_get_length(bufferevent_get_input(bev)) > 0 && !s->processing) smtp_session_process(s);
        return;
    }
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) return;
    struct bufferevent *under = bufferevent_get_underlying(bev);
    if (under && evbuffer_get_length(bufferevent_get_output(under)) > 0) {
        /* Nothing more goes through the filter: the socket's side takes over. */
        bufferevent_setcb(under, NULL, smtp_session_underlying_write_cb, smtp_session_event_cb, s);
        return;
    }
    smtp_session_free(s);
}

static void smtp_session_event_cb(struct bufferevent *bev, short events, void *arg)
{
    smtp_session *s = arg;
    (void)bev;
    if (events & BEV_EVENT_CONNECTED) {   /* the TLS handshake is done */
        s->handshaking = false;
        smtp_await_command(s);
        return;
    }
    /* The end of the client's input while its message commits: it may still
     * read the answer (a sender that shuts down its side after the dot). */
    if (events == (BEV_EVENT_EOF | BEV_EVENT_READING) && s->state == SMTP_STATE_COMMITTING) {
        log_debug("SMTP %s: disconnected while its message commits (its answer is still sent, in case "
                  "it only shut down its side)", s->client);
        s->input_closed = true;
        return;
    }
    log_debug("SMTP %s: %s", s->client, events & BEV_EVENT_ERROR ? "connection error" : "disconnected");
    smtp_session_free(s);
}

static void smtp_session_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    smtp_session *s = arg;
    (void)fd;
    (void)what;
    if (s->state == SMTP_STATE_CLOSING || s->handshaking) {
        if (s->handshaking || evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
            log_info("SMTP %s: %s, closing", s->client,
                     s->handshaking ? "TLS handshake not done in time" : "last reply not taken in time");
        smtp_session_free(s);
        return;
    }
    log_info("SMTP %s: timeout%s, closing", s->client, s->state == SMTP_STATE_DATA ? " in DATA" : "");
    smtp_transaction_reset(s);
    smtp_close(s, "421 4.4.2 Timeout exceeded, closing connection");
    smtp_flush(s);
}

/* ---- public ---- */

smtp_session *smtp_session_new(struct bufferevent *bev, const smtp_session_params *params)
{
    smtp_session *s = g_new0(smtp_session, 1);
    s->bev = bev;
    s->params = *params;
    s->client = g_strdup(params->client_addr);
    s->rcpts = g_ptr_array_new_with_free_func(g_free);
    s->out = evbuffer_new();
    s->state = SMTP_STATE_CONNECTED;
    s->moved = true;   /* connecting: idle from now */
    bufferevent_setcb(bev, smtp_session_read_cb, smtp_session_write_cb, smtp_session_event_cb, s);
    bufferevent_setwatermark(bev, EV_READ, 0, smtp_read_watermark(s));
    s->deadline = evtimer_new(bufferevent_get_base(bev), smtp_session_deadline_cb, s);
    smtp_await_command(s);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    smtp_reply(s, "220 %s ESMTP bouncedemails", params->hostname);
    smtp_flush(s);
    return s;
}

void smtp_session_free(smtp_session *s)
{
    if (!s) return;
    s->params.ops->closed(s->params.arg, s);
    bufferevent_free(s->bev);
    event_free(s->deadline);
    evbuffer_free(s->out);
    smtp_transaction_reset(s);
    g_ptr_array_free(s->rcpts, TRUE);
    g_free(s->helo);
    g_free(s->client);
    g_free(s);
}

const char *smtp_session_message(const smtp_session *s, size_t *len)
{
    *len = s->msg ? s->msg->len : 0;
    return s->msg ? s->msg->str : NULL;
}

size_t smtp_session_trace_len(const smtp_session *s)
{
    return s->msg ? s->header_len : 0;
}

char *smtp_session_message_for(const smtp_session *s, const char *rcpt, size_t *len)
{
    GString *out = g_string_sized_new(s->msg->len + 64);
    smtp_append_trace(s, out, rcpt);
    g_string_append_len(out, s->msg->str + s->header_len, (gssize)(s->msg->len - s->header_len));
    *len = out->len;
    return g_string_free(out, FALSE);
}

char *smtp_session_take_message(smtp_session *s, size_t *len)
{
    if (!s->msg) {
        *len = 0;
        return NULL;
    }
    *len = s->msg->len;
    char *raw = g_realloc(g_string_free(s->msg, FALSE), *len + 1);
    s->msg = NULL;
    smtp_release(s);
    return raw;
}

size_t smtp_session_held(const smtp_session *s) { return s->held; }

const char *smtp_session_sender(const smtp_session *s) { return s->sender ? s->sender : ""; }
size_t smtp_session_n_recipients(const smtp_session *s) { return s->rcpts->len; }
const char *smtp_session_recipient(const smtp_session *s, size_t i) { return g_ptr_array_index(s->rcpts, i); }
const char *smtp_session_client(const smtp_session *s) { return s->client; }

void smtp_session_committed(smtp_session *s, smtp_commit result)
{
    if (s->state != SMTP_STATE_COMMITTING) return;
    if (result == SMTP_COMMIT_DONE) {
        smtp_reply(s, "250 2.0.0 Ok: committed");
        s->errors = 0;
    } else if (result == SMTP_COMMIT_NO_MEMORY) {
        smtp_refuse_no_memory(s, "message");
    } else if (result == SMTP_COMMIT_TOO_LARGE) {
        log_warn("SMTP %s: message refused, its copies (one a platform domain) are more than smtp.max_memory"
                 " (%zu bytes)", s->client, s->params.memory->limit);
        smtp_reply(s, "552 5.3.4 Message too large for its copies to fit in memory");
    } else {
        smtp_reply(s, "451 4.3.0 Error: cannot store the message now, try again later");
    }
    smtp_transaction_reset(s);
    s->state = SMTP_STATE_GREETED;
    smtp_await_command(s);
    if (!s->processing) smtp_session_process(s);
}

bool smtp_session_idle(const smtp_session *s, gint64 *since)
{
    if (!smtp_awaits_command(s)) return false;
    *since = s->idle_since;
    return true;
}

void smtp_session_evict(smtp_session *s)
{
    log_info("SMTP %s: idle, closed to make room for another client", s->client);
    smtp_transaction_reset(s);
    smtp_close(s, "421 4.4.2 Idle too long and the server is busy, closing connection");
    smtp_flush(s);
}
