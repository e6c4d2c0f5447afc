/*
 * metrics.c - the process's counters, gauges and histograms, and their
 * Prometheus text exposition (format 0.0.4).
 *
 * Every series is a cell in a fixed array sized at metrics_init() from the
 * config's domains, so an update is one relaxed atomic add and never
 * allocates or locks; only the readiness reasons take a mutex. Histograms
 * keep per-bucket counts and the sum in microseconds; the exposition makes
 * the buckets cumulative.
 */
#include "metrics/metrics.h"

#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "build_config.h"

typedef _Atomic uint64_t metrics_cell;

enum { METRICS_INGRESS_OTHER = 5, METRICS_INGRESS_COUNT };
static const char *const metrics_ingress_names[METRICS_INGRESS_COUNT] = {
    "amqp", "smtp", "stdin", "replay", "ingest", "other",
};

static const char *const metrics_outcome_names[METRICS_OUTCOME_COUNT] = {
    [METRICS_OUTCOME_HANDLED] = "handled", [METRICS_OUTCOME_DUPLICATE] = "duplicate",
    [METRICS_OUTCOME_QUARANTINED] = "quarantined", [METRICS_OUTCOME_NOTBOUNCE] = "notbounce",
    [METRICS_OUTCOME_FAILED] = "failed",
};

enum { METRICS_VERDICT_ESCALATED = 4, METRICS_VERDICT_COUNT = 6 };
static const char *const metrics_verdict_names[METRICS_VERDICT_COUNT] = {
    "permanent", "temporary", "complaint", "ignore", "escalated", "unverified",
};

enum { METRICS_NOTIFY_DELIVERED, METRICS_NOTIFY_UNKNOWN, METRICS_NOTIFY_RETRIED, METRICS_NOTIFY_GIVEN_UP,
       METRICS_NOTIFY_COUNT };
static const char *const metrics_notify_names[METRICS_NOTIFY_COUNT] = {
    "delivered", "unknown", "retried", "given_up",
};

static const char *const metrics_smtp_names[METRICS_SMTP_RESULT_COUNT] = {
    [METRICS_SMTP_ACCEPTED] = "accepted", [METRICS_SMTP_DENIED] = "denied", [METRICS_SMTP_BUSY] = "busy",
};

static const char *const metrics_part_names[METRICS_PART_COUNT] = {
    [METRICS_PART_STORE] = "store", [METRICS_PART_AMQP] = "amqp", [METRICS_PART_SMTP] = "smtp",
};

/* Seconds; a commit is milliseconds, a batch under load up to seconds. */
static const double metrics_handling_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5, 1, 2.5, 5, 10 };
/* Seconds; notify.timeout is 30 s by default. */
static const double metrics_answer_bounds[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
#define METRICS_HANDLING_BUCKETS (sizeof metrics_handling_bounds / sizeof metrics_handling_bounds[0] + 1)
#define METRICS_ANSWER_BUCKETS (sizeof metrics_answer_bounds / sizeof metrics_answer_bounds[0] + 1)

typedef struct metrics_histogram {
    metrics_cell *buckets;    /* one per bound, and +Inf last */
    metrics_cell sum_us;
    metrics_cell count;
} metrics_histogram;

typedef struct metrics_part_state {
    bool set;
    bool ready;
    char why[256];
} metrics_part_state;

static struct {
    bool on;
    const config *cfg;
    size_t n_domains;         /* the config's, and "other" last */
    metrics_cell messages[METRICS_INGRESS_COUNT][METRICS_OUTCOME_COUNT];
    metrics_histogram handling[METRICS_INGRESS_COUNT];
    metrics_cell *recipients; /* [domain][verdict][reason] */
    metrics_cell *escalations;        /* [domain] */
    metrics_cell *notifications;      /* [domain][result] */
    metrics_histogram *answers;       /* [domain] */
    metrics_cell *platform_downs;     /* [domain] */
    _Atomic int amqp_connected;
    _Atomic long amqp_unacked;
    metrics_cell amqp_reconnects;
    metrics_cell amqp_set_aside;
    metrics_cell smtp_sessions[METRICS_SMTP_RESULT_COUNT];
    _Atomic long smtp_open;
    _Atomic int64_t notifier_beat_ms; /* metrics_clock() of the last beat, 0: never */
    pthread_mutex_t lock;             /* guards parts */
    metrics_part_state parts[METRICS_PART_COUNT];
} metrics = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Counter cells staged by a thread's open transaction; a thread's own,
 * freed when it ends. */
typedef struct metrics_staging {
    metrics_cell **cells;
    size_t n, cap;
} metrics_staging;

static pthread_key_t metrics_staging_key;
static pthread_once_t metrics_staging_once = PTHREAD_ONCE_INIT;

static void metrics_add(metrics_cell *cell, uint64_t n)
{
    atomic_fetch_add_explicit(cell, n, memory_order_relaxed);
}

static uint64_t metrics_get(metrics_cell *cell)
{
    return atomic_load_explicit(cell, memory_order_relaxed);
}

static void metrics_histogram_init(metrics_histogram *h, size_t buckets)
{
    h->buckets = calloc(buckets, sizeof *h->buckets);
}

static void metrics_histogram_observe(metrics_histogram *h, const double *bounds, size_t n_bounds, double v)
{
    size_t i = 0;
    while (i < n_bounds && v > bounds[i])
        i++;
    metrics_add(&h->buckets[i], 1);
    metrics_add(&h->sum_us, v > 0 ? (uint64_t)(v * 1e6) : 0);
    metrics_add(&h->count, 1);
}

int metrics_init(const config *cfg)
{
    size_t d = cfg->handler.n_domains + 1;
    metrics.cfg = cfg;
    metrics.n_domains = d;
    metrics.recipients = calloc(d * METRICS_VERDICT_COUNT * CLASSIFY_REASON_COUNT, sizeof(metrics_cell));
    metrics.escalations = calloc(d, sizeof(metrics_cell));
    metrics.notifications = calloc(d * METRICS_NOTIFY_COUNT, sizeof(metrics_cell));
    metrics.answers = calloc(d, sizeof(metrics_histogram));
    metrics.platform_downs = calloc(d, sizeof(metrics_cell));
    if (!metrics.recipients || !metrics.escalations || !metrics.notifications || !metrics.answers ||
        !metrics.platform_downs)
        return -1;
    for (size_t i = 0; i < d; i++)
        metrics_histogram_init(&metrics.answers[i], METRICS_ANSWER_BUCKETS);
    for (size_t i = 0; i < METRICS_INGRESS_COUNT; i++)
        metrics_histogram_init(&metrics.handling[i], METRICS_HANDLING_BUCKETS);
    metrics.on = true;
    return 0;
}

double metrics_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The index of name in names, else fallback. */
static size_t metrics_index(const char *const *names, size_t n, const char *name, size_t fallback)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return fallback;
}

/* The configured domain's index, else that of "other". */
static size_t metrics_domain(const char *domain)
{
    const config_handler *h = &metrics.cfg->handler;
    for (size_t i = 0; domain && i < h->n_domains; i++)
        if (strcasecmp(h->domains[i].name, domain) == 0)
            return i;
    return metrics.n_domains - 1;
}

static const char *metrics_domain_name(size_t i)
{
    return i + 1 < metrics.n_domains ? metrics.cfg->handler.domains[i].name : "other";
}

/* ---- updates ---- */

void metrics_message(const char *ingress, metrics_outcome outcome, double seconds)
{
    if (!metrics.on)
        return;
    size_t i = metrics_index(metrics_ingress_names, METRICS_INGRESS_OTHER, ingress, METRICS_INGRESS_OTHER);
    metrics_add(&metrics.messages[i][outcome], 1);
    if (outcome != METRICS_OUTCOME_FAILED)
        metrics_histogram_observe(&metrics.handling[i], metrics_handling_bounds,
                                  METRICS_HANDLING_BUCKETS - 1, seconds);
}

static void metrics_staging_free(void *arg)
{
    metrics_staging *s = arg;
    free(s->cells);
    free(s);
}

static void metrics_staging_key_init(void)
{
    pthread_key_create(&metrics_staging_key, metrics_staging_free);
}

/* This thread's staging, or NULL when it has none and create is false. */
static metrics_staging *metrics_staging_get(bool create)
{
    pthread_once(&metrics_staging_once, metrics_staging_key_init);
    metrics_staging *s = pthread_getspecific(metrics_staging_key);
    if (!s && create && (s = calloc(1, sizeof *s)) != NULL && pthread_setspecific(metrics_staging_key, s) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static void metrics_stage(metrics_cell *cell)
{
    metrics_staging *s = metrics_staging_get(true);
    if (!s)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        metrics_cell **cells = realloc(s->cells, cap * sizeof *cells);
        if (!cells)
            return;
        s->cells = cells;
        s->cap = cap;
    }
    s->cells[s->n++] = cell;
}

void metrics_recipient(const char *domain, const char *verdict, classify_reason reason)
{
    if (!metrics.on || (unsigned)reason >= CLASSIFY_REASON_COUNT)
        return;
    size_t v = metrics_index(metrics_verdict_names, METRICS_VERDICT_COUNT, verdict, METRICS_VERDICT_COUNT);
    if (v == METRICS_VERDICT_COUNT)
        return;
    size_t d = metrics_domain(domain);
    metrics_stage(&metrics.recipients[(d * METRICS_VERDICT_COUNT + v) * CLASSIFY_REASON_COUNT + reason]);
    if (v == METRICS_VERDICT_ESCALATED)
        metrics_stage(&metrics.escalations[d]);
}

size_t metrics_mark(void)
{
    metrics_staging *s = metrics_staging_get(false);
    return s ? s->n : 0;
}

void metrics_rewind(size_t mark)
{
    metrics_staging *s = metrics_staging_get(false);
    if (s && mark < s->n)
        s->n = mark;
}

void metrics_commit(void)
{
    metrics_staging *s = metrics_staging_get(false);
    for (size_t i = 0; s && i < s->n; i++)
        metrics_add(s->cells[i], 1);
    if (s)
        s->n = 0;
}

void metrics_discard(void)
{
    metrics_staging *s = metrics_staging_get(false);
    if (s)
        s->n = 0;
}

void metrics_notification(const char *domain, store_outbox_state state, bool unknown_at_platform)
{
    if (!metrics.on)
        return;
    int result = state == STORE_OUTBOX_PENDING   ? METRICS_NOTIFY_RETRIED
                 : state == STORE_OUTBOX_GIVEN_UP ? METRICS_NOTIFY_GIVEN_UP
                 : unknown_at_platform            ? METRICS_NOTIFY_UNKNOWN
                                                  : METRICS_NOTIFY_DELIVERED;
    metrics_add(&metrics.notifications[metrics_domain(domain) * METRICS_NOTIFY_COUNT + (size_t)result], 1);
}

void metrics_platform_answer(const char *domain, double seconds)
{
    if (!metrics.on)
        return;
    metrics_histogram_observe(&metrics.answers[metrics_domain(domain)], metrics_answer_bounds,
                              METRICS_ANSWER_BUCKETS - 1, seconds);
}

void metrics_platform_down(const char *domain)
{
    if (!metrics.on)
        return;
    metrics_add(&metrics.platform_downs[metrics_domain(domain)], 1);
}

void metrics_amqp_connected(bool connected)
{
    atomic_store(&metrics.amqp_connected, connected ? 1 : 0);
}

void metrics_amqp_unacked(long n)
{
    atomic_store(&metrics.amqp_unacked, n);
}

void metrics_amqp_reconnect(void)
{
    metrics_add(&metrics.amqp_reconnects, 1);
}

void metrics_amqp_set_aside(void)
{
    metrics_add(&metrics.amqp_set_aside, 1);
}

void metrics_smtp_session(metrics_smtp_result result)
{
    metrics_add(&metrics.smtp_sessions[result], 1);
}

void metrics_smtp_open(int delta)
{
    atomic_fetch_add(&metrics.smtp_open, delta);
}

void metrics_notifier_beat(void)
{
    atomic_store(&metrics.notifier_beat_ms, (int64_t)(metrics_clock() * 1000));
}

void metrics_set_ready(metrics_part part, bool ready, const char *why)
{
    pthread_mutex_lock(&metrics.lock);
    metrics_part_state *s = &metrics.parts[part];
    s->set = true;
    s->ready = ready;
    g_strlcpy(s->why, ready || !why ? "" : why, sizeof s->why);
    /* /readyz answers one line; libpq's messages have several. */
    for (char *c = s->why; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    g_strchomp(s->why);
    pthread_mutex_unlock(&metrics.lock);
}

bool metrics_ready(char *why, size_t why_len)
{
    bool ready = true;
    pthread_mutex_lock(&metrics.lock);
    for (int i = 0; i < METRICS_PART_COUNT && ready; i++) {
        const metrics_part_state *s = &metrics.parts[i];
        if (s->set && !s->ready) {
            snprintf(why, why_len, "%s: %s", metrics_part_names[i], s->why);
            ready = false;
        }
    }
    pthread_mutex_unlock(&metrics.lock);
    return ready;
}

bool metrics_healthy(char *why, size_t why_len)
{
    return metrics_healthy_at(metrics_clock(), why, why_len);
}

bool metrics_healthy_at(double now, char *why, size_t why_len)
{
    int64_t beat = atomic_load(&metrics.notifier_beat_ms);
    double idle = now - (double)beat / 1000;
    if (beat == 0 || idle < METRICS_STALL_S)
        return true;
    snprintf(why, why_len, "notifier: no progress for %.0f s", idle);
    return false;
}

/* ---- exposition ---- */

static void metrics_head(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: backslash, quote and newline escaped. */
static void metrics_label(GString *out, const char *name, const char *value)
{
    g_string_append_printf(out, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_c(out, '\\');
        if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

static void metrics_histogram_render(GString *out, const char *name, const char *label, const char *value,
                                     metrics_histogram *h, const double *bounds, size_t n_bounds)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= n_bounds; i++) {
        cumulative += metrics_get(&h->buckets[i]);
        g_string_append_printf(out, "%s_bucket{", name);
        metrics_label(out, label, value);
        if (i < n_bounds)
            g_string_append_printf(out, ",le=\"%g\"} %" PRIu64 "\n", bounds[i], cumulative);
        else
            g_string_append_printf(out, ",le=\"+Inf\"} %" PRIu64 "\n", cumulative);
    }
    g_string_append_printf(out, "%s_sum{", name);
    metrics_label(out, label, value);
    g_string_append_printf(out, "} %.6f\n%s_count{", (double)metrics_get(&h->sum_us) / 1e6, name);
    metrics_label(out, label, value);
    g_string_append_printf(out, "} %" PRIu64 "\n", cumulative);
}

static void metrics_render_messages(GString *out)
{
    metrics_head(out, "bouncedemails_messages_total", "counter",
                 "Messages taken in, by ingress and outcome.");
    for (size_t i = 0; i < METRICS_INGRESS_COUNT; i++)
        for (size_t o = 0; o < METRICS_OUTCOME_COUNT; o++)
            g_string_append_printf(out, "bouncedemails_messages_total{ingress=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
                                   metrics_ingress_names[i], metrics_outcome_names[o],
                                   metrics_get(&metrics.messages[i][o]));
    metrics_head(out, "bouncedemails_message_handling_seconds", "histogram",
                 "Time from a message's receipt to its commit.");
    for (size_t i = 0; i < METRICS_INGRESS_COUNT; i++)
        metrics_histogram_render(out, "bouncedemails_message_handling_seconds", "ingress",
                                 metrics_ingress_names[i], &metrics.handling[i], metrics_handling_bounds,
                                 METRICS_HANDLING_BUCKETS - 1);
}

/* Only the series that counted something: domains x verdicts x reasons is
 * too many to list as zeros. */
static void metrics_render_recipients(GString *out)
{
    metrics_head(out, "bouncedemails_recipients_total", "counter",
                 "Failed recipients by platform domain, verdict and reason.");
    for (size_t d = 0; d < metrics.n_domains; d++)
        for (size_t v = 0; v < METRICS_VERDICT_COUNT; v++)
            for (size_t r = 0; r < CLASSIFY_REASON_COUNT; r++) {
                uint64_t n = metrics_get(&metrics.recipients[(d * METRICS_VERDICT_COUNT + v) *
                                                             CLASSIFY_REASON_COUNT + r]);
                if (n == 0)
                    continue;
                g_string_append(out, "bouncedemails_recipients_total{");
                metrics_label(out, "domain", metrics_domain_name(d));
                g_string_append_printf(out, ",verdict=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                                       metrics_verdict_names[v], classify_reason_name((classify_reason)r), n);
            }
    metrics_head(out, "bouncedemails_escalations_total", "counter",
                 "Soft bounces that exceeded handler.temporary_threshold, by platform domain.");
    for (size_t d = 0; d < metrics.n_domains; d++) {
        g_string_append(out, "bouncedemails_escalations_total{");
        metrics_label(out, "domain", metrics_domain_name(d));
        g_string_append_printf(out, "} %" PRIu64 "\n", metrics_get(&metrics.escalations[d]));
    }
}

static void metrics_render_notifications(GString *out)
{
    metrics_head(out, "bouncedemails_notifications_total", "counter",
                 "Notification attempts by platform domain and result.");
    for (size_t d = 0; d < metrics.n_domains; d++)
        for (size_t r = 0; r < METRICS_NOTIFY_COUNT; r++) {
            g_string_append(out, "bouncedemails_notifications_total{");
            metrics_label(out, "domain", metrics_domain_name(d));
            g_string_append_printf(out, ",result=\"%s\"} %" PRIu64 "\n", metrics_notify_names[r],
                                   metrics_get(&metrics.notifications[d * METRICS_NOTIFY_COUNT + r]));
        }
    metrics_head(out, "bouncedemails_platform_answer_seconds", "histogram",
                 "Time the platform took to answer a notification.");
    for (size_t d = 0; d < metrics.n_domains; d++)
        metrics_histogram_render(out, "bouncedemails_platform_answer_seconds", "domain", metrics_domain_name(d),
                                 &metrics.answers[d], metrics_answer_bounds, METRICS_ANSWER_BUCKETS - 1);
    metrics_head(out, "bouncedemails_platform_down_total", "counter",
                 "Times the platform gave no answer (timeout, refused connection) and its notifications were "
                 "deferred for a backoff.");
    for (size_t d = 0; d < metrics.n_domains; d++) {
        g_string_append(out, "bouncedemails_platform_down_total{");
        metrics_label(out, "domain", metrics_domain_name(d));
        g_string_append_printf(out, "} %" PRIu64 "\n", metrics_get(&metrics.platform_downs[d]));
    }
}

/* One gauge with a value for each of the config's domains. */
static void metrics_domain_gauge(GString *out, const char *name, const char *help, const long *values)
{
    metrics_head(out, name, "gauge", help);
    for (size_t d = 0; d < metrics.n_domains; d++) {
        g_string_append_printf(out, "%s{", name);
        metrics_label(out, "domain", metrics_domain_name(d));
        g_string_append_printf(out, "} %ld\n", values[d]);
    }
}

/* The store's counts summed onto the config's domains ("other" for the rest). */
static void metrics_render_outbox(GString *out, const store_outbox_gauge *g, size_t n)
{
    long *pending = g_new0(long, metrics.n_domains), *given_up = g_new0(long, metrics.n_domains);
    time_t oldest = 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = metrics_domain(g[i].domain);
        pending[d] += g[i].pending;
        given_up[d] += g[i].given_up;
        if (g[i].oldest_pending && (!oldest || g[i].oldest_pending < oldest))
            oldest = g[i].oldest_pending;
    }
    metrics_domain_gauge(out, "bouncedemails_outbox_pending",
                         "Notifications waiting to be sent or retried, by platform domain.", pending);
    metrics_domain_gauge(out, "bouncedemails_outbox_given_up",
                         "Notifications given up (bouncedemails outbox retry revives them), by platform domain.",
                         given_up);
    metrics_head(out, "bouncedemails_outbox_oldest_pending_age_seconds", "gauge",
                 "Age of the oldest pending notification, 0 when none.");
    long age = oldest ? (long)(time(NULL) - oldest) : 0;
    g_string_append_printf(out, "bouncedemails_outbox_oldest_pending_age_seconds %ld\n", age > 0 ? age : 0);
    g_free(pending);
    g_free(given_up);
}

static void metrics_render_quarantine(GString *out, const store_quarantine_size *q)
{
    metrics_head(out, "bouncedemails_quarantine_messages", "gauge", "Messages in the quarantine.");
    g_string_append_printf(out, "bouncedemails_quarantine_messages %ld\n", q->messages);
    metrics_head(out, "bouncedemails_quarantine_bytes", "gauge", "Bytes of the messages in the quarantine.");
    g_string_append_printf(out, "bouncedemails_quarantine_bytes %lld\n", q->bytes);
}

static void metrics_render_ingress(GString *out)
{
    metrics_head(out, "bouncedemails_amqp_connected", "gauge", "1 while the AMQP consumer is consuming.");
    g_string_append_printf(out, "bouncedemails_amqp_connected %d\n", atomic_load(&metrics.amqp_connected));
    metrics_head(out, "bouncedemails_amqp_unacked_messages", "gauge",
                 "AMQP deliveries taken and not yet acknowledged.");
    g_string_append_printf(out, "bouncedemails_amqp_unacked_messages %ld\n", atomic_load(&metrics.amqp_unacked));
    metrics_head(out, "bouncedemails_amqp_reconnects_total", "counter",
                 "Times the AMQP consumer lost or failed to get its connection.");
    g_string_append_printf(out, "bouncedemails_amqp_reconnects_total %" PRIu64 "\n",
                           metrics_get(&metrics.amqp_reconnects));
    metrics_head(out, "bouncedemails_amqp_set_aside_total", "counter",
                 "Redelivered messages quarantined unread: processes kept dying while handling them.");
    g_string_append_printf(out, "bouncedemails_amqp_set_aside_total %" PRIu64 "\n",
                           metrics_get(&metrics.amqp_set_aside));
    metrics_head(out, "bouncedemails_smtp_connections_open", "gauge", "SMTP sessions open.");
    g_string_append_printf(out, "bouncedemails_smtp_connections_open %ld\n", atomic_load(&metrics.smtp_open));
    metrics_head(out, "bouncedemails_smtp_sessions_total", "counter", "SMTP connections by result.");
    for (size_t r = 0; r < METRICS_SMTP_RESULT_COUNT; r++)
        g_string_append_printf(out, "bouncedemails_smtp_sessions_total{result=\"%s\"} %" PRIu64 "\n",
                               metrics_smtp_names[r], metrics_get(&metrics.smtp_sessions[r]));
}

char *metrics_render(const store_outbox_gauge *outbox, size_t n_outbox, const store_quarantine_size *q)
{
    GString *out = g_string_sized_new(16384);
    char why[300];
    metrics_head(out, "bouncedemails_build_info", "gauge", "The running version; always 1.");
    g_string_append_printf(out, "bouncedemails_build_info{version=\"%s\"} 1\n", BOUNCEDEMAILS_VERSION);
    metrics_head(out, "bouncedemails_ready", "gauge", "1 when /readyz answers 200.");
    g_string_append_printf(out, "bouncedemails_ready %d\n", metrics_ready(why, sizeof why) ? 1 : 0);
    if (metrics.on) {
        metrics_render_messages(out);
        metrics_render_recipients(out);
        metrics_render_notifications(out);
        if (q)
            metrics_render_outbox(out, outbox, n_outbox);
    }
    if (q)
        metrics_render_quarantine(out, q);
    metrics_render_ingress(out);
    return g_string_free(out, FALSE);
}
