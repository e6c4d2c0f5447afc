/*
 * smtp_server.c - the SMTP listener: accepts connections on smtp.host:port,
 * turns away clients outside smtp.allow_networks (554) and beyond the
 * connection limits (421), offers STARTTLS when a certificate is configured,
 * and commits what the sessions (smtp_session.c) collect.
 *
 * Group commit: the policy runs in a thread of its own. The messages whose
 * final dot arrived during one turn of the event loop (a callback that
 * libevent runs after that turn's read callbacks) go to it together, in one
 * policy_handle_batch() transaction; whatever arrives while it is busy goes
 * with the next batch, so batches grow with the load while the loop keeps
 * serving every connection. Each session is answered after the commit, when
 * the thread wakes the loop through an eventfd. A message addressed
 * to several platform domains is handed to the policy once per domain, each
 * copy with the first envelope recipient of its domain (its Received: names
 * that recipient), since the envelope recipient decides the platform; it is
 * answered 250 only when every copy was committed.
 *
 * The server keeps the memory budget (smtp.max_memory) that its sessions
 * and the batches in hand draw from, and, when every slot is taken, closes
 * the session that has waited longest for its client to make room.
 */
#include "ingress/smtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <glib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ingress/smtp_session.h"
#include "log.h"
#include "metrics/metrics.h"

/* The defaults of config.h, for a config that leaves a limit at zero. */
#define SMTP_DEFAULT_MAX_MESSAGE_SIZE ((size_t)26214400)
#define SMTP_DEFAULT_MAX_LINE_LENGTH ((size_t)4096)
#define SMTP_DEFAULT_MAX_RECIPIENTS 100
#define SMTP_DEFAULT_MAX_CONNECTIONS 512
#define SMTP_DEFAULT_MAX_PER_CLIENT 32
#define SMTP_DEFAULT_COMMAND_TIMEOUT_S 300
#define SMTP_DEFAULT_DATA_TIMEOUT_S 600
#define SMTP_DEFAULT_MAX_MEMORY ((size_t)256 << 20)
#define SMTP_LISTEN_BACKLOG 511
/* How long accepting pauses when accept() fails, e.g. out of descriptors. */
#define SMTP_ACCEPT_PAUSE_S 1
/* When every slot is taken, a session idle for this long at least may be
 * closed to let a new client in: long enough that a client in the middle of
 * a normal exchange is never cut off. */
#define SMTP_EVICT_MIN_IDLE_US (1000 * 1000)

static const char *const smtp_default_networks[] = { "127.0.0.0/8", "::1/128" };

/* Messages handed to the worker together, with everything they point to. */
typedef struct smtp_batch {
    GPtrArray *sessions;      /* smtp_session *, NULL once its client has gone */
    GArray *msgs;             /* policy_message */
    GArray *owner;            /* guint: the index in sessions of each message */
    GPtrArray *keep;          /* memory the messages point to: g_free()d */
    policy_outcome *out;
    smtp_budget *memory;
    size_t charged;           /* to memory: the sessions' own copies, and smtp_batch_extra() for the others */
} smtp_batch;

typedef struct smtp_net {
    int family;
    unsigned char addr[16];
    int prefix;
} smtp_net;

struct smtp_server {
    struct event_base *base;
    const config *cfg;
    policy *pol;
    struct evconnlistener *listener;
    struct event *accept_pause;
    SSL_CTX *tls;
    char *hostname;
    smtp_session_limits limits;
    int max_connections, max_per_client;
    GArray *nets;             /* smtp_net */
    GHashTable *sessions;     /* smtp_session * set */
    GHashTable *evicted;      /* those of them closing to make room */
    GHashTable *per_client;   /* client address -> count */
    smtp_budget memory;       /* message bytes in sessions and batches */
    GPtrArray *pending;       /* submitted sessions, for the next batch */
    struct event *commit_ev;  /* at the end of the loop's turn: dispatch */
    smtp_batch *in_flight;    /* with the worker (loop thread's view) */
    /* The worker thread and what it shares with the loop, under lock. */
    pthread_t worker;
    bool worker_running;
    GMutex lock;
    GCond cond;
    smtp_batch *todo;         /* for the worker */
    smtp_batch *done;         /* committed, for the loop */
    bool stopping;
    int done_fd;              /* eventfd: the worker wakes the loop */
    struct event *done_ev;
};

/* ---- allowed networks ---- */

static int smtp_net_parse(const char *cidr, smtp_net *net)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(cidr) >= sizeof buf) return -1;
    strcpy(buf, cidr);
    char *slash = strchr(buf, '/');
    if (slash) *slash = '\0';
    memset(net, 0, sizeof *net);
    if (inet_pton(AF_INET, buf, net->addr) == 1)
        net->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, net->addr) == 1)
        net->family = AF_INET6;
    else
        return -1;
    int max = net->family == AF_INET ? 32 : 128;
    net->prefix = max;
    if (slash) {
        char *end;
        long prefix = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || prefix < 0 || prefix > max) return -1;
        net->prefix = (int)prefix;
    }
    return 0;
}

static bool smtp_net_match(const smtp_net *net, int family, const unsigned char *addr)
{
    if (net->family != family) return false;
    int whole = net->prefix / 8, bits = net->prefix % 8;
    if (memcmp(net->addr, addr, (size_t)whole) != 0) return false;
    if (bits == 0) return true;
    unsigned char mask = (unsigned char)(0xff << (8 - bits));
    return (net->addr[whole] & mask) == (addr[whole] & mask);
}

static int smtp_server_parse_networks(smtp_server *srv, char *err, size_t err_len)
{
    const config_smtp *c = &srv->cfg->smtp;
    const char *const *list = c->n_allow_networks ? (const char *const *)c->allow_networks : smtp_default_networks;
    size_t n = c->n_allow_networks ? c->n_allow_networks : G_N_ELEMENTS(smtp_default_networks);
    srv->nets = g_array_new(FALSE, FALSE, sizeof(smtp_net));
    for (size_t i = 0; i < n; i++) {
        smtp_net net;
        if (smtp_net_parse(list[i], &net) != 0) {
            snprintf(err, err_len, "smtp.allow_networks: '%s' is not an IPv4 or IPv6 network", list[i]);
            return -1;
        }
        g_array_append_val(srv->nets, net);
    }
    return 0;
}

/* The client's address in printable form, IPv4-mapped IPv6 shown as IPv4,
 * and whether it is in an allowed network. */
static bool smtp_server_client(const smtp_server *srv, const struct sockaddr *sa, char *out, size_t out_len)
{
    int family = sa->sa_family;
    const unsigned char *addr;
    if (family == AF_INET) {
        addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        addr = a6->s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            addr += 12;
        }
    } else {
        snprintf(out, out_len, "unknown");
        return false;
    }
    inet_ntop(family, addr, out, (socklen_t)out_len);
    for (guint i = 0; i < srv->nets->len; i++)
        if (smtp_net_match(&g_array_index(srv->nets, smtp_net, i), family, addr)) return true;
    return false;
}

/* ---- sessions ---- */

/* Every recipient, as the original took them (the listener relays nothing:
 * the policy routes by the headers); or, with smtp.recipient_domains, those
 * at one of its domains or their subdomains. */
static bool smtp_server_recipient_ok(void *arg, const char *rcpt)
{
    smtp_server *srv = arg;
    const config_smtp *c = &srv->cfg->smtp;
    const char *at = strrchr(rcpt, '@');
    if (c->n_recipient_domains == 0 || !at) return true;   /* without @: postmaster */
    const char *domain = at + 1;
    size_t len = strlen(domain);
    for (size_t i = 0; i < c->n_recipient_domains; i++) {
        const char *want = c->recipient_domains[i];
        size_t want_len = strlen(want);
        if (strcasecmp(domain, want) == 0 ||
            (len > want_len && domain[len - want_len - 1] == '.' && strcasecmp(domain + len - want_len, want) == 0))
            return true;
    }
    return false;
}

static void smtp_server_submit(void *arg, smtp_session *s)
{
    smtp_server *srv = arg;
    g_ptr_array_add(srv->pending, s);
    event_active(srv->commit_ev, EV_TIMEOUT, 1);
}

static void smtp_server_closed(void *arg, smtp_session *s)
{
    smtp_server *srv = arg;
    const char *client = smtp_session_client(s);
    gpointer count = g_hash_table_lookup(srv->per_client, client);
    g_ptr_array_remove_fast(srv->pending, s);
    /* Its message still commits; there is nobody left to answer. */
    for (guint i = 0; srv->in_flight && i < srv->in_flight->sessions->len; i++)
        if (g_ptr_array_index(srv->in_flight->sessions, i) == s) g_ptr_array_index(srv->in_flight->sessions, i) = NULL;
    g_hash_table_remove(srv->sessions, s);
    metrics_smtp_open(-1);
    g_hash_table_remove(srv->evicted, s);
    if (GPOINTER_TO_INT(count) <= 1)
        g_hash_table_remove(srv->per_client, client);
    else
        g_hash_table_insert(srv->per_client, g_strdup(client), GINT_TO_POINTER(GPOINTER_TO_INT(count) - 1));
}

static const smtp_session_ops smtp_server_ops = {
    .recipient_ok = smtp_server_recipient_ok,
    .submit = smtp_server_submit,
    .closed = smtp_server_closed,
};

/* ---- group commit ---- */


static void smtp_batch_free(smtp_batch *b)
{
    if (!b) return;
    smtp_budget_give(b->memory, b->charged);
    g_ptr_array_free(b->sessions, TRUE);
    g_array_free(b->msgs, TRUE);
    g_array_free(b->owner, TRUE);
    g_ptr_array_free(b->keep, TRUE);
    g_free(b->out);
    g_free(b);
}

static const char *smtp_batch_keep(smtp_batch *b, char *p)
{
    g_ptr_array_add(b->keep, p);
    return p;
}

/* Which recipients the message is handed to the policy for: the first of
 * each platform domain; or, when none is at a platform domain (the
 * original's set-up, e.g. bouncedemails@<mail host>), the first recipient
 * only, and the policy routes it by its headers. */
static bool *smtp_batch_copies(smtp_server *srv, smtp_session *s)
{
    size_t n = smtp_session_n_recipients(s);
    const config_domain **domains = g_new0(const config_domain *, n);
    bool *copy = g_new0(bool, n), any_platform = false;
    for (size_t i = 0; i < n; i++) {
        domains[i] = config_find_domain(srv->cfg, smtp_session_recipient(s, i));
        any_platform = any_platform || domains[i];
    }
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) seen = domains[k] == domains[i];
        copy[i] = !seen && (domains[i] || !any_platform);
    }
    g_free(domains);
    return copy;
}

/* What the copies of a message beyond its first take from the memory
 * budget, at most: each is the message with a trace naming its recipient. */
static size_t smtp_batch_extra(const smtp_session *s, const bool *copy, size_t main_len)
{
    size_t extra = 0;
    for (size_t i = 1; i < smtp_session_n_recipients(s); i++)
        if (copy[i]) extra += main_len + strlen(smtp_session_recipient(s, i));
    return extra;
}

/* Whether the other copies of the message fit in the memory budget: they
 * are taken from it, counting the session's own copy at its length, as the
 * batch keeps it, rather than at its buffer's size. */
static smtp_commit smtp_batch_room(const smtp_batch *b, const smtp_session *s, const bool *copy, size_t main_len,
                                   size_t extra)
{
    size_t own = copy[0] ? main_len : 0;
    if (own + extra > b->memory->limit)
        return SMTP_COMMIT_TOO_LARGE;   /* no retry would fit it */
    size_t held = smtp_session_held(s), freeing = copy[0] && held > main_len ? held - main_len : 0;
    return smtp_budget_take_freeing(b->memory, extra, freeing) ? SMTP_COMMIT_DONE : SMTP_COMMIT_NO_MEMORY;
}

/* One policy message per recipient that smtp_batch_copies() picks. The
 * bytes are charged to the memory budget until the batch is freed: the
 * session's own copy moves from its share to the batch's, the others are
 * taken; when the budget cannot give them the session is left out, and the
 * answer it is owed returned. */
static smtp_commit smtp_batch_add(smtp_server *srv, smtp_batch *b, smtp_session *s)
{
    guint index = b->sessions->len, first = b->msgs->len;
    size_t n = smtp_session_n_recipients(s);
    bool *copy = smtp_batch_copies(srv, s);
    /* The trace differs per copy and per attempt: the fingerprint skips it. */
    size_t main_len;
    smtp_session_message(s, &main_len);
    size_t extra = smtp_batch_extra(s, copy, main_len);
    smtp_commit room = smtp_batch_room(b, s, copy, main_len, extra);
    if (room != SMTP_COMMIT_DONE) {
        g_free(copy);
        return room;
    }
    b->charged += extra;
    g_ptr_array_add(b->sessions, s);
    const char *sender = smtp_batch_keep(b, g_strdup(smtp_session_sender(s)));
    size_t trace_len = smtp_session_trace_len(s), body_len = main_len - trace_len;
    double received = metrics_clock();
    for (size_t i = 0; i < n; i++) {
        if (!copy[i]) continue;
        const char *rcpt = smtp_session_recipient(s, i);
        policy_message m = { .envelope = { .sender = sender, .ingress = "smtp", .received = received } };
        m.envelope.recipient = smtp_batch_keep(b, g_strdup(rcpt));
        /* The first recipient's copy last: taking it leaves the session without one. */
        m.raw = i == 0 ? NULL : smtp_batch_keep(b, smtp_session_message_for(s, rcpt, &m.len));
        m.envelope.trace_len = i == 0 ? trace_len : m.len - body_len;
        g_array_append_val(b->msgs, m);
        g_array_append_val(b->owner, index);
    }
    if (copy[0]) {
        policy_message *main_copy = &g_array_index(b->msgs, policy_message, first);
        main_copy->raw = smtp_batch_keep(b, smtp_session_take_message(s, &main_copy->len));
        smtp_budget_charge(b->memory, main_copy->len);
        b->charged += main_copy->len;
    }
    g_free(copy);
    return SMTP_COMMIT_DONE;
}

/* A session left out of a batch, and the answer it is owed. */
typedef struct smtp_refusal {
    smtp_session *session;
    smtp_commit answer;
} smtp_refusal;

/* The sessions whose copies the memory budget could not take are put in
 * refused (smtp_refusal), for the caller to answer. */
static smtp_batch *smtp_batch_new(smtp_server *srv, GPtrArray *sessions, GArray *refused)
{
    smtp_batch *b = g_new0(smtp_batch, 1);
    b->sessions = g_ptr_array_new();
    b->msgs = g_array_new(FALSE, FALSE, sizeof(policy_message));
    b->owner = g_array_new(FALSE, FALSE, sizeof(guint));
    b->keep = g_ptr_array_new_with_free_func(g_free);
    b->memory = &srv->memory;
    for (guint i = 0; i < sessions->len; i++) {
        smtp_refusal r = { g_ptr_array_index(sessions, i), SMTP_COMMIT_DONE };
        r.answer = smtp_batch_add(srv, b, r.session);
        if (r.answer != SMTP_COMMIT_DONE) g_array_append_val(refused, r);
    }
    b->out = g_new(policy_outcome, b->msgs->len);
    return b;
}

/* The worker thread: the policy is used from here only, so that a slow or
 * locked store never holds up the event loop. */
static void *smtp_worker_main(void *arg)
{
    smtp_server *srv = arg;
    uint64_t one = 1;
    g_mutex_lock(&srv->lock);
    for (;;) {
        while (!srv->todo && !srv->stopping) g_cond_wait(&srv->cond, &srv->lock);
        if (srv->stopping) break;
        smtp_batch *b = srv->todo;
        g_mutex_unlock(&srv->lock);
        policy_handle_batch(srv->pol, (const policy_message *)(void *)b->msgs->data, b->msgs->len, b->out);
        g_mutex_lock(&srv->lock);
        srv->todo = NULL;
        srv->done = b;
        if (write(srv->done_fd, &one, sizeof one) < 0) log_error("SMTP: cannot wake the event loop: %s", strerror(errno));
    }
    g_mutex_unlock(&srv->lock);
    return NULL;
}

/* Hands what was submitted to the worker, unless it is busy: then it goes
 * with the next batch, which grows with the load. */
static void smtp_server_dispatch(smtp_server *srv)
{
    if (srv->in_flight || srv->pending->len == 0) return;
    GArray *refused = g_array_new(FALSE, FALSE, sizeof(smtp_refusal));
    smtp_batch *b = smtp_batch_new(srv, srv->pending, refused);
    g_ptr_array_set_size(srv->pending, 0);
    if (b->msgs->len > 0) {
        srv->in_flight = b;
        g_mutex_lock(&srv->lock);
        srv->todo = b;
        g_cond_signal(&srv->cond);
        g_mutex_unlock(&srv->lock);
    } else {
        smtp_batch_free(b);
    }
    /* Answered once pending is empty: a pipelined message may be submitted
     * at once. */
    for (guint i = 0; i < refused->len; i++) {
        smtp_refusal *r = &g_array_index(refused, smtp_refusal, i);
        smtp_session_committed(r->session, r->answer);
    }
    g_array_free(refused, TRUE);
}

static void smtp_server_commit_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smtp_server_dispatch(arg);
}

static void smtp_server_answer(const smtp_batch *b)
{
    for (guint i = 0; i < b->sessions->len; i++) {
        smtp_session *s = g_ptr_array_index(b->sessions, i);
        bool ok = true;
        for (guint k = 0; k < b->msgs->len; k++)
            if (g_array_index(b->owner, guint, k) == i && b->out[k] == POLICY_STORE_FAILED) ok = false;
        if (!s) continue;
        if (!ok) log_warn("SMTP %s: message not committed, answered 451", smtp_session_client(s));
        smtp_session_committed(s, ok ? SMTP_COMMIT_DONE : SMTP_COMMIT_FAILED);
    }
}

/* The worker is done with a batch: answer, and hand it the next one. */
static void smtp_server_done_cb(evutil_socket_t fd, short what, void *arg)
{
    smtp_server *srv = arg;
    uint64_t count;
    (void)what;
    if (read(fd, &count, sizeof count) < 0) return;
    g_mutex_lock(&srv->lock);
    smtp_batch *b = srv->done;
    srv->done = NULL;
    g_mutex_unlock(&srv->lock);
    if (!b) return;
    srv->in_flight = NULL;
    log_debug("SMTP: committed %u messages of %u sessions", b->msgs->len, b->sessions->len);
    smtp_server_answer(b);
    smtp_batch_free(b);
    smtp_server_dispatch(srv);
}

static int smtp_server_worker_start(smtp_server *srv, char *err, size_t err_len)
{
    srv->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->done_fd < 0) {
        snprintf(err, err_len, "eventfd: %s", strerror(errno));
        return -1;
    }
    srv->done_ev = event_new(srv->base, srv->done_fd, EV_READ | EV_PERSIST, smtp_server_done_cb, srv);
    event_add(srv->done_ev, NULL);
    int rc = pthread_create(&srv->worker, NULL, smtp_worker_main, srv);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the SMTP commit thread: %s", strerror(rc));
        return -1;
    }
    /* Named so that top -H, perf and bench_smtp.py tell its CPU time apart. */
    pthread_setname_np(srv->worker, "smtp-commit");
    srv->worker_running = true;
    return 0;
}

/* Waits for the batch in hand (its sessions are not answered: their
 * senders retry) and ends the worker. */
static void smtp_server_worker_stop(smtp_server *srv)
{
    if (srv->worker_running) {
        g_mutex_lock(&srv->lock);
        srv->stopping = true;
        g_cond_signal(&srv->cond);
        g_mutex_unlock(&srv->lock);
        pthread_join(srv->worker, NULL);
    }
    if (srv->done_ev) event_free(srv->done_ev);
    if (srv->done_fd >= 0) close(srv->done_fd);
    if (srv->done != srv->in_flight) smtp_batch_free(srv->done);
    smtp_batch_free(srv->in_flight);
}

/* ---- accepting ---- */

/* Tells a turned-away client why, without waiting for it. */
static void smtp_server_refuse(evutil_socket_t fd, const char *reply)
{
    ssize_t n = send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    shutdown(fd, SHUT_WR);
    evutil_closesocket(fd);
}

/* Closes the session that has waited longest for its client's next
 * command, if one has waited SMTP_EVICT_MIN_IDLE_US. */
static bool smtp_server_evict(smtp_server *srv)
{
    gint64 oldest = g_get_monotonic_time() - SMTP_EVICT_MIN_IDLE_US, since;
    smtp_session *victim = NULL;
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, srv->sessions);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (g_hash_table_contains(srv->evicted, key) || !smtp_session_idle(key, &since) || since > oldest)
            continue;
        oldest = since;
        victim = key;
    }
    if (!victim) return false;
    g_hash_table_add(srv->evicted, victim);
    smtp_session_evict(victim);
    return true;
}

/* The sessions that hold a slot: not those closing to make room. */
static int smtp_server_open_sessions(const smtp_server *srv)
{
    return (int)(g_hash_table_size(srv->sessions) - g_hash_table_size(srv->evicted));
}

static int smtp_server_check_limits(smtp_server *srv, const char *client)
{
    if (GPOINTER_TO_INT(g_hash_table_lookup(srv->per_client, client)) >= srv->max_per_client) {
        log_warn("SMTP %s: refused, %d connections from this address already", client, srv->max_per_client);
        return -1;
    }
    /* A session closing to make room keeps its descriptor until its client
     * has taken the 421, for a few seconds at most (smtp_session_evict):
     * no more of them than max_connections at once, so that clients who do
     * not read cannot open sessions without bound by having theirs evicted. */
    if (smtp_server_open_sessions(srv) >= srv->max_connections &&
        ((int)g_hash_table_size(srv->evicted) >= srv->max_connections || !smtp_server_evict(srv))) {
        log_warn("SMTP %s: refused, %d connections already", client, srv->max_connections);
        return -1;
    }
    return 0;
}

static void smtp_server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                                  int socklen, void *arg)
{
    smtp_server *srv = arg;
    char client[INET6_ADDRSTRLEN];
    (void)listener;
    (void)socklen;
    if (!smtp_server_client(srv, sa, client, sizeof client)) {
        log_warn("SMTP %s: refused, not in smtp.allow_networks", client);
        metrics_smtp_session(METRICS_SMTP_DENIED);
        smtp_server_refuse(fd, "554 5.7.1 Access denied\r\n");
        return;
    }
    if (smtp_server_check_limits(srv, client) != 0) {
        metrics_smtp_session(METRICS_SMTP_BUSY);
        smtp_server_refuse(fd, "421 4.7.0 Too many connections, try again later\r\n");
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bufferevent *bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    smtp_session_params params = {
        .limits = &srv->limits, .hostname = srv->hostname, .client_addr = client,
        .tls = srv->tls, .memory = &srv->memory, .ops = &smtp_server_ops, .arg = srv,
    };
    smtp_session *s = smtp_session_new(bev, &params);
    g_hash_table_add(srv->sessions, s);
    metrics_smtp_session(METRICS_SMTP_ACCEPTED);
    metrics_smtp_open(+1);
    gpointer count = g_hash_table_lookup(srv->per_client, client);
    g_hash_table_insert(srv->per_client, g_strdup(client), GINT_TO_POINTER(GPOINTER_TO_INT(count) + 1));
    log_debug("SMTP %s: connected", client);
}

static void smtp_server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    smtp_server *srv = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(srv->listener);
}

/* accept() failing (EMFILE) would wake the loop again at once: pause. */
static void smtp_server_accept_error_cb(struct evconnlistener *listener, void *arg)
{
    smtp_server *srv = arg;
    struct timeval pause = { .tv_sec = SMTP_ACCEPT_PAUSE_S };
    log_error("SMTP: accept failed: %s; pausing for %d s", strerror(errno), SMTP_ACCEPT_PAUSE_S);
    evconnlistener_disable(listener);
    evtimer_add(srv->accept_pause, &pause);
}

/* ---- set-up ---- */

static void smtp_server_tls_error(const char *what, const char *path, char *err, size_t err_len)
{
    char reason[256];
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    snprintf(err, err_len, "%s %s: %s", what, path, reason);
}

static int smtp_server_tls_init(smtp_server *srv, char *err, size_t err_len)
{
    const config_smtp *c = &srv->cfg->smtp;
    if (!c->tls_certificate || !c->tls_key || !*c->tls_certificate || !*c->tls_key) return 0;
    srv->tls = SSL_CTX_new(TLS_server_method());
    if (!srv->tls) {
        smtp_server_tls_error("cannot create the TLS context for", c->tls_certificate, err, err_len);
        return -1;
    }
    SSL_CTX_set_min_proto_version(srv->tls, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(srv->tls, c->tls_certificate) != 1) {
        smtp_server_tls_error("smtp.tls_certificate", c->tls_certificate, err, err_len);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(srv->tls, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(srv->tls) != 1) {
        smtp_server_tls_error("smtp.tls_key", c->tls_key, err, err_len);
        return -1;
    }
    return 0;
}

static void smtp_server_limits(smtp_server *srv)
{
    const config_smtp *c = &srv->cfg->smtp;
    srv->limits = (smtp_session_limits){
        .max_message_size = c->max_message_size ? c->max_message_size : SMTP_DEFAULT_MAX_MESSAGE_SIZE,
        .max_line_length = c->max_line_length ? c->max_line_length : SMTP_DEFAULT_MAX_LINE_LENGTH,
        .max_recipients = c->max_recipients > 0 ? c->max_recipients : SMTP_DEFAULT_MAX_RECIPIENTS,
        .command_timeout_s = c->command_timeout_s > 0 ? c->command_timeout_s : SMTP_DEFAULT_COMMAND_TIMEOUT_S,
        .data_timeout_s = c->data_timeout_s > 0 ? c->data_timeout_s : SMTP_DEFAULT_DATA_TIMEOUT_S,
        .bare_newline = c->bare_newline == CONFIG_BARE_NEWLINE_NORMALIZE ? SMTP_BARE_NEWLINE_NORMALIZE
                        : c->bare_newline == CONFIG_BARE_NEWLINE_STRICT  ? SMTP_BARE_NEWLINE_STRICT
                                                                         : SMTP_BARE_NEWLINE_REJECT,
        .require_tls = c->require_tls,
    };
    srv->memory.limit = c->max_memory ? c->max_memory : SMTP_DEFAULT_MAX_MEMORY;
    srv->max_connections = c->max_connections > 0 ? c->max_connections : SMTP_DEFAULT_MAX_CONNECTIONS;
    srv->max_per_client = c->max_connections_per_client > 0 ? c->max_connections_per_client
                                                            : SMTP_DEFAULT_MAX_PER_CLIENT;
}

static char *smtp_server_hostname(const config *cfg)
{
    char name[256];
    if (cfg->smtp.hostname && *cfg->smtp.hostname) return g_strdup(cfg->smtp.hostname);
    if (gethostname(name, sizeof name) != 0) return g_strdup("localhost");
    name[sizeof name - 1] = '\0';
    return g_strdup(name);
}

static int smtp_server_listen(smtp_server *srv, char *err, size_t err_len)
{
    const char *host = srv->cfg->smtp.host && *srv->cfg->smtp.host ? srv->cfg->smtp.host : "127.0.0.1";
    int port = srv->cfg->smtp.port > 0 ? srv->cfg->smtp.port : 2525;
    char service[16];
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai;
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) {
        snprintf(err, err_len, "smtp.host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    srv->listener = evconnlistener_new_bind(srv->base, smtp_server_accept_cb, srv,
                                            LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                            SMTP_LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (!srv->listener) {
        snprintf(err, err_len, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(srv->listener, smtp_server_accept_error_cb);
    log_info("SMTP listening on %s:%d%s", host, port, srv->tls ? " (STARTTLS offered)" : "");
    return 0;
}

smtp_server *smtp_server_new(struct event_base *base, const config *cfg, policy *p, char *err, size_t err_len)
{
    smtp_server *srv = g_new0(smtp_server, 1);
    srv->base = base;
    srv->cfg = cfg;
    srv->pol = p;
    srv->hostname = smtp_server_hostname(cfg);
    srv->sessions = g_hash_table_new(NULL, NULL);
    srv->evicted = g_hash_table_new(NULL, NULL);
    srv->per_client = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    srv->pending = g_ptr_array_new();
    srv->commit_ev = event_new(base, -1, 0, smtp_server_commit_cb, srv);
    srv->accept_pause = evtimer_new(base, smtp_server_resume_cb, srv);
    srv->done_fd = -1;
    g_mutex_init(&srv->lock);
    g_cond_init(&srv->cond);
    smtp_server_limits(srv);
    if (smtp_server_parse_networks(srv, err, err_len) != 0 || smtp_server_tls_init(srv, err, err_len) != 0 ||
        smtp_server_worker_start(srv, err, err_len) != 0 || smtp_server_listen(srv, err, err_len) != 0) {
        smtp_server_free(srv);
        return NULL;
    }
    return srv;
}

void smtp_server_free(smtp_server *srv)
{
    if (!srv) return;
    if (srv->listener) evconnlistener_free(srv->listener);
    smtp_server_worker_stop(srv);
    srv->in_flight = NULL;
    /* Messages not yet committed are not answered: their senders retry. */
    g_ptr_array_set_size(srv->pending, 0);
    GList *sessions = g_hash_table_get_keys(srv->sessions);
    for (GList *l = sessions; l; l = l->next) smtp_session_free(l->data);
    g_list_free(sessions);
    event_free(srv->commit_ev);
    event_free(srv->accept_pause);
    if (srv->tls) SSL_CTX_free(srv->tls);
    if (srv->nets) g_array_free(srv->nets, TRUE);
    g_hash_table_destroy(srv->sessions);
    g_hash_table_destroy(srv->evicted);
    g_hash_table_destroy(srv->per_client);
    g_ptr_array_free(srv->pending, TRUE);
    g_mutex_clear(&srv->lock);
    g_cond_clear(&srv->cond);
    g_free(srv->hostname);
    g_free(srv);
}
