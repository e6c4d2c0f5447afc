/*
 * amqp_ingress.c - the RabbitMQ consumer (rabbitmq-c), on a thread of its own.
 *
 * It declares amqp.queue durable (so that Postfix's `amqp-publish -r
 * bouncedemails` to the default exchange reaches it), takes up to
 * amqp.prefetch unacknowledged messages, commits them through the policy in
 * batches of up to amqp.batch, and acknowledges a batch with one
 * multiple-ack only after the commit. A message the store could not take is
 * rejected with requeue and the consumer backs off. When the broker goes
 * away it reconnects with backoff, without exiting; while it cannot consume
 * it says so in the log every minute and /readyz fails.
 *
 * A queue that the original service declared non-durable makes the durable
 * declare fail (406 PRECONDITION_FAILED): it is then consumed as it is,
 * declared passively, with one warning that says how to migrate it.
 *
 * A batch also ends once it holds AMQP_INGRESS_BATCH_MAX_BYTES of messages.
 * A message larger than amqp.max_message_size is not handled: only its
 * header block and its size go to the quarantine, and it ends its batch.
 *
 * A redelivered message (a consumer had it and did not acknowledge it: it
 * was stopped, or died, maybe of this very message) also ends its batch and
 * is handled alone, under a crash guard (crash_guard.h). If two attempts at
 * it alone never returned, it is not read again but quarantined: one message
 * that kills the process costs three restarts, not the queue.
 */
#include "ingress/amqp_ingress.h"

#include <errno.h>
#include <inttypes.h>
#include <glib.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "ingress/crash_guard.h"
#include "log.h"
#include "metrics/metrics.h"

#define AMQP_INGRESS_CHANNEL 1
#define AMQP_INGRESS_BACKOFF_MAX_MS 30000
#define AMQP_INGRESS_POLL_MS 500
#define AMQP_INGRESS_ENVELOPE_HEADER "x-original-recipient"
#define AMQP_INGRESS_OUTAGE_REPORT_S 60
/* What of an oversize message's header block is kept, at most. */
#define AMQP_INGRESS_REFERENCE_MAX 65536
/* A batch takes no more messages once it holds this many bytes: amqp.batch
 * counts messages, and 250 messages of up to amqp.max_message_size would
 * be gigabytes. A real bounce is a few KiB, so this ends a batch early only
 * when large ones queue up; a single message of any allowed size still
 * makes a batch of its own. */
#define AMQP_INGRESS_BATCH_MAX_BYTES (16u << 20)

struct amqp_ingress {
    const config *cfg;
    policy *pol;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    pthread_mutex_t lock;     /* guards wake, for the interruptible backoff */
    pthread_cond_t wake;
    /* Consumer thread only: */
    char why[300];            /* why it is not consuming */
    double down_since;        /* metrics_clock() when it stopped consuming, 0 while consuming */
    double reported_at;       /* when the outage was last logged */
    bool warned_not_durable;
    char *guard_dir;          /* the crash guard's marks, under the archive (built once) */
};

/* Deliveries in hand: what the policy needs, and the tag to acknowledge. */
typedef struct amqp_ingress_batch {
    uint64_t *tags;
    policy_message *messages;
    policy_outcome *outcomes;
    char **recipients;
    char **bodies;            /* the message, or an oversize one's header block */
    char **oversize;          /* why a message is only referenced, else NULL */
    size_t n, cap;
    size_t bytes;             /* of the bodies held */
    bool last_redelivered;    /* the last message was delivered before: handled alone */
    crash_guard *guard;       /* its mark, until the broker has its answer */
    bool set_aside;           /* it was quarantined unread */
} amqp_ingress_batch;

amqp_ingress *amqp_ingress_new(const config *cfg, policy *p)
{
    amqp_ingress *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->cfg = cfg;
    in->pol = p;
    in->guard_dir = g_build_filename(cfg->handler.permanent_bounced_emails_path, CRASH_GUARD_FOLDER, NULL);
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->wake, NULL);
    return in;
}

void amqp_ingress_free(amqp_ingress *in)
{
    if (!in) return;
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->wake);
    g_free(in->guard_dir);
    free(in);
}

/* Sleeps ms milliseconds, or less when stopping. */
static void amqp_ingress_pause(amqp_ingress *in, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&in->lock);
    while (!atomic_load(&in->stopping)) {
        if (pthread_cond_timedwait(&in->wake, &in->lock, &until) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&in->lock);
}

/* The reply's error in words, for the log. */
static void amqp_ingress_describe(amqp_rpc_reply_t reply, char *buf, size_t len)
{
    switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(buf, len, "ok");
        break;
    case AMQP_RESPONSE_NONE:
        snprintf(buf, len, "missing reply");
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(buf, len, "%s", amqp_error_string2(reply.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = reply.reply.decoded;
            snprintf(buf, len, "server closed the connection: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = reply.reply.decoded;
            snprintf(buf, len, "server closed the channel: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else {
            snprintf(buf, len, "server error, method 0x%08x", reply.reply.id);
        }
        break;
    }
}

/* Not consuming, for why (also in the log as a warning). */
static void amqp_ingress_down(amqp_ingress *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void amqp_ingress_down(amqp_ingress *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->why, sizeof in->why, fmt, ap);
    va_end(ap);
    log_warn("%s", in->why);
    if (in->down_since == 0) in->down_since = metrics_clock();
    metrics_amqp_connected(false);
    metrics_set_ready(METRICS_PART_AMQP, false, in->why);
}

static void amqp_ingress_up(amqp_ingress *in)
{
    in->down_since = 0;
    in->reported_at = 0;
    metrics_amqp_connected(true);
    metrics_set_ready(METRICS_PART_AMQP, true, NULL);
}

/* Every AMQP_INGRESS_OUTAGE_REPORT_S while it cannot consume. */
static void amqp_ingress_report_outage(amqp_ingress *in)
{
    double now = metrics_clock();
    if (in->down_since == 0 || now - in->down_since < AMQP_INGRESS_OUTAGE_REPORT_S ||
        now - in->reported_at < AMQP_INGRESS_OUTAGE_REPORT_S)
        return;
    in->reported_at = now;
    log_error("AMQP: not consuming queue %s for %.0f s (readiness fails): %s", in->cfg->amqp.queue,
              now - in->down_since, in->why);
}

static int amqp_ingress_check(amqp_ingress *in, amqp_connection_state_t conn, const char *what)
{
    char why[512];
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return 0;
    amqp_ingress_describe(reply, why, sizeof why);
    amqp_ingress_down(in, "AMQP %s failed: %s", what, why);
    return -1;
}

static bool amqp_ingress_precondition_failed(amqp_rpc_reply_t reply)
{
    return reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
           ((amqp_channel_close_t *)reply.reply.decoded)->reply_code == AMQP_PRECONDITION_FAILED;
}

/* Declares the queue durable. When it exists with other properties (406:
 * the original service declared it non-durable), the broker has closed the
 * channel: it is reopened and the queue consumed as it is. */
static int amqp_ingress_declare(amqp_ingress *in, amqp_connection_state_t conn, amqp_bytes_t queue)
{
    char why[512];
    amqp_queue_declare(conn, AMQP_INGRESS_CHANNEL, queue, 0, 1, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return 0;
    amqp_ingress_describe(reply, why, sizeof why);
    if (!amqp_ingress_precondition_failed(reply)) {
        amqp_ingress_down(in, "AMQP queue.declare failed: %s", why);
        return -1;
    }
    amqp_channel_close_ok_t close_ok = { 0 };
    if (amqp_send_method(conn, AMQP_INGRESS_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok) != AMQP_STATUS_OK) {
        amqp_ingress_down(in, "AMQP channel.close-ok failed after: %s", why);
        return -1;
    }
    amqp_channel_open(conn, AMQP_INGRESS_CHANNEL);
    if (amqp_ingress_check(in, conn, "channel.open")) return -1;
    amqp_queue_declare(conn, AMQP_INGRESS_CHANNEL, queue, 1, 0, 0, 0, amqp_empty_table);
    if (amqp_ingress_check(in, conn, "queue.declare (passive)")) return -1;
    if (!in->warned_not_durable)
        log_warn("AMQP queue %s exists with other properties than ours (%s): it is not durable, so the broker "
                 "loses its messages when it restarts. Consuming it as it is. To migrate: stop publishing to "
                 "it, let it drain, delete it (rabbitmqctl delete_queue %s) and restart bouncedemails, which "
                 "declares it durable", in->cfg->amqp.queue, why, in->cfg->amqp.queue);
    in->warned_not_durable = true;
    return 0;
}

/* Connects, logs in, declares the queue and starts consuming. */
static amqp_connection_state_t amqp_ingress_connect(amqp_ingress *in)
{
    struct amqp_connection_info info;
    char *url = strdup(in->cfg->amqp.url);
    amqp_connection_state_t conn = NULL;
    amqp_socket_t *sock;
    char why[512];

    if (!url) return NULL;
    if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) {
        amqp_ingress_down(in, "amqp.url is not an AMQP URL");
        goto fail;
    }
    conn = amqp_new_connection();
    sock = info.ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
    if (!sock) goto fail;
    /* rabbitmq-c verifies the peer and its name, but loads no CAs itself. */
    if (info.ssl && amqp_ssl_socket_set_cacert(sock, in->cfg->amqp.tls_ca_file) != AMQP_STATUS_OK) {
        amqp_ingress_down(in, "amqp.tls_ca_file: cannot load %s", in->cfg->amqp.tls_ca_file);
        goto fail;
    }
    int status = amqp_socket_open(sock, info.host, info.port);
    if (status != AMQP_STATUS_OK) {
        amqp_ingress_down(in, "AMQP connection to %s:%d failed: %s", info.host, info.port,
                          amqp_error_string2(status));
        goto fail;
    }
    amqp_rpc_reply_t login = amqp_login(conn, info.vhost, 0, 131072, in->cfg->amqp.heartbeat_s,
                                        AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (login.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_ingress_describe(login, why, sizeof why);
        amqp_ingress_down(in, "AMQP login to %s:%d vhost '%s' as %s failed: %s", info.host, info.port,
                          info.vhost, info.user, why);
        goto fail;
    }
    amqp_channel_open(conn, AMQP_INGRESS_CHANNEL);
    if (amqp_ingress_check(in, conn, "channel.open")) goto fail;
    amqp_bytes_t queue = amqp_cstring_bytes(in->cfg->amqp.queue);
    if (amqp_ingress_declare(in, conn, queue)) goto fail;
    amqp_basic_qos(conn, AMQP_INGRESS_CHANNEL, 0, (uint16_t)in->cfg->amqp.prefetch, 0);
    if (amqp_ingress_check(in, conn, "basic.qos")) goto fail;
    amqp_basic_consume(conn, AMQP_INGRESS_CHANNEL, queue, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (amqp_ingress_check(in, conn, "basic.consume")) goto fail;
    amqp_ingress_up(in);
    log_info("AMQP consuming queue %s on %s:%d vhost '%s'", in->cfg->amqp.queue, info.host, info.port,
             info.vhost);
    free(url);
    return conn;
fail:
    if (conn) amqp_destroy_connection(conn);
    free(url);
    return NULL;
}

static void amqp_ingress_disconnect(amqp_connection_state_t conn)
{
    amqp_channel_close(conn, AMQP_INGRESS_CHANNEL, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

static int amqp_ingress_batch_grow(amqp_ingress_batch *b)
{
    if (b->n < b->cap) return 0;
    size_t cap = b->cap ? b->cap * 2 : 16;
    uint64_t *t = realloc(b->tags, cap * sizeof *t);
    if (t) b->tags = t;
    policy_message *m = realloc(b->messages, cap * sizeof *m);
    if (m) b->messages = m;
    policy_outcome *o = realloc(b->outcomes, cap * sizeof *o);
    if (o) b->outcomes = o;
    char **r = realloc(b->recipients, cap * sizeof *r);
    if (r) b->recipients = r;
    char **body = realloc(b->bodies, cap * sizeof *body);
    if (body) b->bodies = body;
    char **why = realloc(b->oversize, cap * sizeof *why);
    if (why) b->oversize = why;
    if (!t || !m || !o || !r || !body || !why) return -1;
    b->cap = cap;
    return 0;
}

/* The envelope recipient, when the publisher passed it as a message header. */
static char *amqp_ingress_envelope_recipient(const amqp_basic_properties_t *props)
{
    if (!(props->_flags & AMQP_BASIC_HEADERS_FLAG)) return NULL;
    const amqp_table_t *headers = &props->headers;
    for (int i = 0; i < headers->num_entries; i++) {
        const amqp_table_entry_t *e = &headers->entries[i];
        if (e->key.len == strlen(AMQP_INGRESS_ENVELOPE_HEADER) &&
            strncasecmp(e->key.bytes, AMQP_INGRESS_ENVELOPE_HEADER, e->key.len) == 0 &&
            e->value.kind == AMQP_FIELD_KIND_UTF8 && e->value.value.bytes.len > 0)
            return strndup(e->value.value.bytes.bytes, e->value.value.bytes.len);
    }
    return NULL;
}

/* The next frame of the delivery being read, of the given type; a close
 * from the broker or anything else ends the connection (-1). */
static int amqp_ingress_content_frame(amqp_connection_state_t conn, uint8_t type, amqp_frame_t *frame)
{
    int rc = amqp_simple_wait_frame(conn, frame);
    if (rc != AMQP_STATUS_OK) {
        log_warn("AMQP connection lost: %s", amqp_error_string2(rc));
        return -1;
    }
    if (frame->frame_type == type && frame->channel == AMQP_INGRESS_CHANNEL) return 0;
    log_warn("AMQP: the broker sent frame type %u in the middle of a message", frame->frame_type);
    return -1;
}

/* An oversize message keeps its header block only. */
static size_t amqp_ingress_header_block(const char *body, size_t len)
{
    const char *end = memmem(body, len, "\n\r\n", 3);
    if (!end) end = memmem(body, len, "\n\n", 2);
    return end ? (size_t)(end - body) + 1 : len;
}

/* What is kept of an oversize message, of which body holds the first *len
 * bytes: its header block, under the quarantine's line with its size and
 * SHA-256 (sum). Frees body; NULL when out of memory. */
static char *amqp_ingress_reference(char *body, size_t *len, uint64_t size, GChecksum *sum)
{
    char *note = policy_quarantine_note(size, g_checksum_get_string(sum));
    size_t header = amqp_ingress_header_block(body, *len), note_len = strlen(note);
    char *kept = malloc(note_len + header + 1);
    if (kept) {
        memcpy(kept, note, note_len);
        memcpy(kept + note_len, body, header);
        *len = note_len + header;
        kept[*len] = '\0';
    }
    g_free(note);
    free(body);
    return kept;
}

/* Reads the content of the delivery tagged tag (a header frame, then body
 * frames) into the batch. Each frame goes back to the library as soon as
 * its bytes are copied, so a message is held once (rabbitmq-c's own reader
 * holds every frame and the copy); a body over max_size is read past, its
 * first AMQP_INGRESS_REFERENCE_MAX bytes kept and the whole of it digested.
 * 1, or -1 when the connection failed. */
static int amqp_ingress_content(amqp_connection_state_t conn, amqp_ingress_batch *b, uint64_t tag,
                                size_t max_size)
{
    amqp_frame_t frame;
    if (amqp_ingress_content_frame(conn, AMQP_FRAME_HEADER, &frame)) return -1;
    uint64_t size = frame.payload.properties.body_size;
    bool oversize = size > max_size;
    size_t room = oversize ? AMQP_INGRESS_REFERENCE_MAX : (size_t)size, held = 0;
    char *rcpt = amqp_ingress_envelope_recipient(frame.payload.properties.decoded);
    char *body = malloc(room + 1);
    /* An oversize message's digest, so that two with the same header are not one. */
    GChecksum *sum = oversize ? g_checksum_new(G_CHECKSUM_SHA256) : NULL;
    amqp_maybe_release_buffers_on_channel(conn, AMQP_INGRESS_CHANNEL);
    uint64_t got = 0;
    while (body && got < size && amqp_ingress_content_frame(conn, AMQP_FRAME_BODY, &frame) == 0) {
        size_t len = frame.payload.body_fragment.len;
        size_t take = len < room - held ? len : room - held;
        memcpy(body + held, frame.payload.body_fragment.bytes, take);
        if (sum) g_checksum_update(sum, frame.payload.body_fragment.bytes, (gssize)len);
        held += take;
        got += len;
        amqp_maybe_release_buffers_on_channel(conn, AMQP_INGRESS_CHANNEL);
    }
    if (!body || got != size) {
        free(body);
        free(rcpt);
        if (sum) g_checksum_free(sum);
        return -1;
    }
    body[held] = '\0';
    char *reason = NULL;
    if (oversize) {
        body = amqp_ingress_reference(body, &held, size, sum);
        g_checksum_free(sum);
        if (!body) {
            free(rcpt);
            return -1;
        }
        reason = g_strdup_printf("too large: %" PRIu64 " bytes, over amqp.max_message_size (%zu); "
                                 "only its header is kept", size, max_size);
        log_warn("AMQP: a message of %" PRIu64 " bytes is over amqp.max_message_size (%zu): quarantining its "
                 "header only", size, max_size);
    }
    b->bytes += held;
    size_t i = b->n++;
    b->tags[i] = tag;
    b->recipients[i] = rcpt;
    b->bodies[i] = body;
    b->oversize[i] = reason;
    b->messages[i] = (policy_message){
        .raw = body,
        .len = held,
        .envelope = { .recipient = rcpt, .sender = NULL, .ingress = "amqp", .received = metrics_clock() },
    };
    return 1;
}

/* Waits up to timeout_ms for the next delivery and appends it to the batch.
 * Returns 1 when one was added, 0 on timeout, -1 when the connection failed. */
static int amqp_ingress_receive(amqp_connection_state_t conn, amqp_ingress_batch *b, int timeout_ms,
                                size_t max_size)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    amqp_frame_t frame;
    if (amqp_ingress_batch_grow(b)) return -1;
    amqp_maybe_release_buffers(conn);
    int rc = amqp_simple_wait_frame_noblock(conn, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return 0;
    if (rc != AMQP_STATUS_OK) {
        log_warn("AMQP connection lost: %s", amqp_error_string2(rc));
        return -1;
    }
    /* Heartbeats are answered inside the library; a close from the broker
     * ends this connection; anything else but a delivery is passed over. */
    if (frame.frame_type != AMQP_FRAME_METHOD) return 0;
    if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
        frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
        log_warn("AMQP broker closed the %s",
                 frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ? "channel" : "connection");
        return -1;
    }
    if (frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD) return 0;
    const amqp_basic_deliver_t *deliver = frame.payload.method.decoded;
    uint64_t tag = deliver->delivery_tag;
    bool redelivered = deliver->redelivered;
    int got = amqp_ingress_content(conn, b, tag, max_size);
    if (got == 1) b->last_redelivered = redelivered;
    return got;
}

static void amqp_ingress_batch_release(amqp_ingress_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->recipients[i]);
        free(b->bodies[i]);
        g_free(b->oversize[i]);
    }
    b->n = 0;
    b->bytes = 0;
    b->last_redelivered = false;
    b->set_aside = false;
    metrics_amqp_unacked(0);
}

/* Handles the batch's last message, redelivered, alone under a crash
 * guard (b->guard, ended once the broker has the answer): quarantined unread
 * when CRASH_GUARD_DEATHS_BEFORE_QUARANTINE attempts at it alone never
 * returned. */
static policy_outcome amqp_ingress_handle_redelivered(amqp_ingress *in, amqp_ingress_batch *b)
{
    const policy_message *m = &b->messages[b->n - 1];
    int unfinished = 0;
    policy_outcome outcome;
    b->guard = crash_guard_begin(in->guard_dir, m->raw, m->len, NULL, &unfinished);
    b->set_aside = unfinished >= CRASH_GUARD_DEATHS_BEFORE_QUARANTINE;
    if (b->set_aside) {
        log_error("AMQP: the process stopped %d times while handling a redelivered message of %zu bytes "
                  "alone: quarantined unread, so that it cannot stop the service again", unfinished, m->len);
        outcome = policy_quarantine(in->pol, m->raw, m->len, &m->envelope, POLICY_REASON_DIED_HANDLING);
        if (outcome != POLICY_STORE_FAILED)
            metrics_amqp_set_aside();
        return outcome;
    }
    if (unfinished > 0)
        log_warn("AMQP: the process stopped while handling a redelivered message of %zu bytes alone: trying "
                 "it once more, and setting it aside if that fails the same way", m->len);
    policy_handle_batch(in->pol, m, 1, &outcome);
    return outcome;
}

/* The redelivered message's mark goes once its outcome is settled with the
 * broker. It stays, counting the attempt as one that did not return, when
 * the broker did not get the answer (the message comes back) or when the
 * quarantine that set it aside failed (it must be set aside again). */
static void amqp_ingress_guard_settled(amqp_ingress_batch *b, bool answered)
{
    if (!b->guard) return;
    if (answered && !(b->set_aside && b->outcomes[b->n - 1] == POLICY_STORE_FAILED))
        crash_guard_end(b->guard);
    else
        crash_guard_keep(b->guard);
    b->guard = NULL;
}

/* Commits the batch and answers the broker: one multiple-ack when all was
 * committed, else acks for the committed and requeueing rejects for the
 * rest. Returns 1 when the store failed (back off), -1 when the broker
 * could not be told (reconnect), else 0. */
static int amqp_ingress_settle(amqp_ingress *in, amqp_connection_state_t conn, amqp_ingress_batch *b)
{
    size_t failed = 0;
    /* Only the last message of a batch can be oversize or redelivered (it
     * ends the batch); it is handled on its own. */
    size_t last = b->n - 1, whole = b->oversize[last] || b->last_redelivered ? last : b->n;
    policy_handle_batch(in->pol, b->messages, whole, b->outcomes);
    if (b->oversize[last])
        b->outcomes[last] = policy_quarantine(in->pol, b->messages[last].raw, b->messages[last].len,
                                              &b->messages[last].envelope, b->oversize[last]);
    else if (b->last_redelivered)
        b->outcomes[last] = amqp_ingress_handle_redelivered(in, b);
    log_debug("AMQP: committed a batch of %zu", b->n);
    for (size_t i = 0; i < b->n; i++)
        failed += b->outcomes[i] == POLICY_STORE_FAILED;
    int rc = 0;
    if (failed == 0) {
        rc = amqp_basic_ack(conn, AMQP_INGRESS_CHANNEL, b->tags[b->n - 1], 1);
    } else {
        for (size_t i = 0; i < b->n && rc == 0; i++) {
            uint64_t tag = b->tags[i];
            rc = b->outcomes[i] == POLICY_STORE_FAILED
                     ? amqp_basic_reject(conn, AMQP_INGRESS_CHANNEL, tag, 1)
                     : amqp_basic_ack(conn, AMQP_INGRESS_CHANNEL, tag, 0);
        }
        log_warn("AMQP: the store failed for %zu of %zu messages: requeued, backing off", failed, b->n);
    }
    amqp_ingress_guard_settled(b, rc == AMQP_STATUS_OK);
    amqp_ingress_batch_release(b);
    if (rc != AMQP_STATUS_OK) {
        log_warn("AMQP acknowledgement failed: %s", amqp_error_string2(rc));
        return -1;
    }
    return failed ? 1 : 0;
}

/* Consumes until the connection fails (-1) or stopping (0). */
static int amqp_ingress_consume(amqp_ingress *in, amqp_connection_state_t conn, amqp_ingress_batch *b,
                                int *store_backoff_ms)
{
    size_t batch_max = in->cfg->amqp.batch > 0 ? (size_t)in->cfg->amqp.batch : 1;
    size_t max_size = in->cfg->amqp.max_message_size;
    while (!atomic_load(&in->stopping)) {
        int got = amqp_ingress_receive(conn, b, AMQP_INGRESS_POLL_MS, max_size);
        /* Take what has already arrived, without waiting, to fill the batch. */
        while (got == 1 && b->n < batch_max && b->bytes < AMQP_INGRESS_BATCH_MAX_BYTES &&
               !b->oversize[b->n - 1] && !b->last_redelivered && !atomic_load(&in->stopping))
            got = amqp_ingress_receive(conn, b, 0, max_size);
        metrics_amqp_unacked((long)b->n);
        int settled = b->n ? amqp_ingress_settle(in, conn, b) : 0;
        if (got < 0 || settled < 0) return -1;
        if (settled == 1) {
            amqp_ingress_pause(in, *store_backoff_ms);
            *store_backoff_ms = *store_backoff_ms * 2 > AMQP_INGRESS_BACKOFF_MAX_MS
                                    ? AMQP_INGRESS_BACKOFF_MAX_MS : *store_backoff_ms * 2;
        } else if (b->n == 0 && got != 0) {
            *store_backoff_ms = 1000;
        }
    }
    return 0;
}

static void *amqp_ingress_main(void *arg)
{
    amqp_ingress *in = arg;
    amqp_ingress_batch batch = { 0 };
    int backoff_ms = 1000, store_backoff_ms = 1000;

    while (!atomic_load(&in->stopping)) {
        amqp_connection_state_t conn = amqp_ingress_connect(in);
        if (!conn) {
            metrics_amqp_reconnect();
            amqp_ingress_report_outage(in);
            log_warn("AMQP: reconnecting in %d ms", backoff_ms);
            amqp_ingress_pause(in, backoff_ms);
            backoff_ms = backoff_ms * 2 > AMQP_INGRESS_BACKOFF_MAX_MS ? AMQP_INGRESS_BACKOFF_MAX_MS : backoff_ms * 2;
            continue;
        }
        backoff_ms = 1000;
        int rc = amqp_ingress_consume(in, conn, &batch, &store_backoff_ms);
        /* Unacknowledged deliveries go back to the queue when the connection
         * closes: drop our copies without acting on them. */
        amqp_ingress_batch_release(&batch);
        if (rc == 0) {
            amqp_ingress_disconnect(conn);
            log_info("AMQP consumer stopped");
        } else {
            amqp_ingress_down(in, "AMQP: the connection to the broker was lost");
            metrics_amqp_reconnect();
            amqp_destroy_connection(conn);
        }
    }
    free(batch.tags);
    free(batch.messages);
    free(batch.outcomes);
    free(batch.recipients);
    free(batch.bodies);
    free(batch.oversize);
    return NULL;
}

int amqp_ingress_start(amqp_ingress *in)
{
    metrics_set_ready(METRICS_PART_AMQP, false, "not connected yet");
    if (pthread_create(&in->thread, NULL, amqp_ingress_main, in) != 0) return -1;
    pthread_setname_np(in->thread, "amqp");
    in->started = true;
    return 0;
}

void amqp_ingress_stop(amqp_ingress *in)
{
    if (!in->started) return;
    pthread_mutex_lock(&in->lock);
    atomic_store(&in->stopping, true);
    pthread_cond_broadcast(&in->wake);
    pthread_mutex_unlock(&in->lock);
    pthread_join(in->thread, NULL);
    in->started = false;
}
