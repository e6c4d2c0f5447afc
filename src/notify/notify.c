/*
 * notify.c - the outbox drain: POSTs each due notification to its platform
 * with libcurl's multi interface, and records every attempt's outcome in the
 * store before the item leaves the notifier's hands.
 *
 * One multi handle lives as long as the notifier, so its connection cache
 * keeps connections to the platforms open between notifications; finished
 * easy handles are kept and reused with the options that every request
 * shares, and each domain's header lists are built once. A notification is
 * a job; a job is in flight from the moment it is taken from the outbox
 * until its outcome is written, and at most cfg->notify.max_in_flight jobs
 * are, of which at most cfg->notify.concurrency go to one platform at once
 * (the others of that platform are held until one of its requests ends). A
 * job for a xikolo domain first needs the domain's URL template: one GET
 * per domain fetches it while the domain's jobs wait for it, and the answer
 * is cached.
 *
 * The store sees the notifier in batches: finished jobs' outcomes wait in
 * memory until half the slots are free (or none is in flight), and are then
 * written in one transaction that also claims the next items for the free
 * slots; the daemon's worker writes at most every NOTIFY_SYNC_INTERVAL_MS
 * while it keeps pace with ingest. Fewer, larger transactions leave ingest
 * the write lock most of the time, and cost less a notification. A crash
 * loses the outcomes not yet written: those items come due again when their
 * claim ends, and are POSTed a second time.
 */
#include "notify/notify.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <glib.h>
#include <jansson.h>

#include "build_config.h"
#include "log.h"
#include "metrics/metrics.h"
#include "notify/curl_api.h"
#include "notify/handoff.h"

/* How long the idle worker sleeps at most without a wake-up: other processes
 * (`outbox retry`, `stdin` runs that do not hand off) write to the same
 * outbox and cannot wake it. */
#define NOTIFY_IDLE_POLL_MS 5000
/* Shortest idle sleep, so that a store that keeps failing is not hammered. */
#define NOTIFY_MIN_POLL_MS 200
/* Longest wait while requests are in flight; curl returns sooner when one of
 * them needs it. */
#define NOTIFY_BUSY_POLL_MS 1000
/* The daemon's notifier writes outcomes and claims new items at most this
 * often while its backlog is drained (the outbox holds only what ingest has
 * just queued), so that one transaction carries many notifications instead
 * of the few that each of ingest's commits queues: every transaction re-reads
 * and re-writes the same outbox pages, whatever its size, and makes ingest's
 * connection read its pages again. A notification waits this long at most
 * before it is claimed. 100 ms rather than 25 took the notifier from about
 * 19.5 to 15.4 µs a message on the queue's benchmark, and needs claims of a
 * few hundred items (notify.max_in_flight) to keep pace with ingest. */
#define NOTIFY_SYNC_INTERVAL_MS 100
/* Transactions of the same outcomes the store may refuse in a row before
 * they are given up on (their notifications come due again when their
 * claims end): a store that keeps refusing must not hold every later
 * outcome back for ever. */
#define NOTIFY_OUTCOME_TRIES 5
/* The platform's answer is logged and stored, cut to this many bytes. */
#define NOTIFY_ANSWER_MAX 4096

typedef struct notify_job {
    store_outbox_item *item;   /* the claimed row, owned (one element) */
    int attempt;               /* this attempt's number, 1 for the first */
    size_t domain_index;
    bool launched;             /* counted in its platform's requests */
    time_t claimed;            /* when its lease began (notify_may_start) */
    /* The outcome, once the attempt has one, until it is written: */
    store_outbox_state state;
    time_t next;
    char *result;              /* "status / body" or the error */
    char *answer;              /* for permanent_bounce, or NULL while pending */
} notify_job;

typedef enum notify_transfer_kind {
    NOTIFY_TRANSFER_RESOLVE,   /* GET of a xikolo base_url for the URL template */
    NOTIFY_TRANSFER_POST,      /* the notification itself */
    NOTIFY_TRANSFER_KINDS
} notify_transfer_kind;

typedef struct notify_transfer {
    notify_transfer_kind kind;
    CURL *easy;
    size_t domain_index;
    notify_job *job;           /* POST */
    GPtrArray *waiting;        /* RESOLVE: the jobs that wait for the template */
    const struct curl_slist *headers;  /* the domain's, see notify_headers_of() */
    char *url;
    char *body;                /* request body, or NULL for an empty one */
    GString *answer;
    char error[CURL_ERROR_SIZE];
} notify_transfer;

/* A domain's request headers, as curl wants them, built on first use; for
 * a xikolo domain its URL template, as last fetched; and whether its
 * platform is down (notify_platform_down). */
typedef struct notify_resolved {
    struct curl_slist *headers[NOTIFY_TRANSFER_KINDS];
    char *url_template;
    time_t expires;
    notify_transfer *resolving;
    time_t down_until;         /* no request to the platform starts before */
    int downs;                 /* times in a row it was found down, for the backoff */
    char *defer;               /* the outbox domain to defer at the next sync, or NULL */
} notify_resolved;

struct notify {
    const config *cfg;
    store *st;
    /* libcurl and the notifier's multi handle, from its first request on
     * (notify_curl_ready), NULL before: */
    const notify_curl_api *curl;
    CURLM *multi;
    GPtrArray *idle_easy;
    notify_resolved *resolved; /* one per configured domain */
    GHashTable *busy;          /* id -> job: the jobs claimed and not yet written */
    size_t in_flight;          /* jobs claimed and without an outcome */
    int refused;               /* transactions of the finished jobs refused in a row */
    size_t *platform_busy;     /* per configured domain: its requests in flight */
    GQueue held;               /* jobs waiting for their platform's turn */
    GPtrArray *finished;       /* jobs with an outcome not yet written */
    bool outbox_empty;         /* the last claim found fewer items than it asked */
    bool backlog;              /* the last claim found all it asked for, so more may wait */
    gint64 last_sync;          /* monotonic time of the last transaction, in microseconds */
    bool remembered_only;      /* claim only what the store handle remembers */
    time_t clock_floor;        /* notify_run_once's now: retries are due after it */
    bool unreachable;          /* a request of this pass got no answer at all */
    size_t let_go;             /* jobs handed back to the outbox unattempted, ever */
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_bool woken;         /* notify_wake() since the worker last looked */
    handoff *handoff;          /* the daemon's: wakes from `stdin` runs, or NULL */
    gint64 handoff_tried;      /* monotonic time of the last try to listen */
};

notify *notify_new(const config *cfg, store *st)
{
    notify *n = g_new0(notify, 1);
    n->cfg = cfg;
    n->st = st;
    n->resolved = g_new0(notify_resolved, cfg->handler.n_domains ? cfg->handler.n_domains : 1);
    n->platform_busy = g_new0(size_t, cfg->handler.n_domains ? cfg->handler.n_domains : 1);
    n->busy = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_queue_init(&n->held);
    n->finished = g_ptr_array_new();
    return n;
}

/* Loads libcurl and makes the multi handle, once; false when libcurl
 * cannot be had (logged). A process that sends nothing never loads it. */
static bool notify_curl_ready(notify *n)
{
    if (n->multi != NULL)
        return true;
    const notify_curl_api *curl = notify_curl_api_get();
    CURLM *multi = curl != NULL ? curl->multi_init() : NULL;
    if (multi == NULL)
        return false;
    /* One kept-alive connection per request that may be in flight: each
     * platform's concurrency, and never more than the jobs held at once. */
    const config *cfg = n->cfg;
    long requests = (long)MAX(cfg->notify.concurrency, 1) * (long)MAX(cfg->handler.n_domains, 1);
    curl->multi_setopt(multi, CURLMOPT_MAXCONNECTS, MIN(requests, (long)MAX(cfg->notify.max_in_flight, 1)));
    n->idle_easy = g_ptr_array_new_with_free_func((GDestroyNotify)curl->easy_cleanup);
    n->curl = curl;
    n->multi = multi;
    return true;
}

static void notify_job_free(notify_job *job);

void notify_free(notify *n)
{
    if (n == NULL)
        return;
    notify_stop(n);
    /* Outcomes that a refused last transaction left: their notifications
     * come due again when their claims end. */
    for (guint i = 0; i < n->finished->len; i++)
        notify_job_free(g_ptr_array_index(n->finished, i));
    for (size_t i = 0; i < n->cfg->handler.n_domains; i++) {
        g_free(n->resolved[i].url_template);
        g_free(n->resolved[i].defer);
        for (size_t k = 0; k < NOTIFY_TRANSFER_KINDS; k++)
            if (n->resolved[i].headers[k] != NULL)
                n->curl->slist_free_all(n->resolved[i].headers[k]);
    }
    g_free(n->resolved);
    g_free(n->platform_busy);
    g_ptr_array_free(n->finished, TRUE);
    g_hash_table_destroy(n->busy);
    if (n->multi != NULL) {
        g_ptr_array_free(n->idle_easy, TRUE);
        n->curl->multi_cleanup(n->multi);
    }
    g_free(n);
}

/* ---- jobs and their outcomes ---- */

static void notify_job_free(notify_job *job)
{
    store_outbox_free(job->item, 1);
    g_free(job->result);
    g_free(job->answer);
    g_free(job);
}

/* The job of an item claimed at claimed. Takes over the item's strings,
 * leaving it empty for store_outbox_free(). */
static notify_job *notify_job_new(store_outbox_item *item, time_t claimed)
{
    notify_job *job = g_new0(notify_job, 1);
    job->item = g_memdup2(item, sizeof *item);
    memset(item, 0, sizeof *item);
    job->attempt = job->item->attempts + 1;
    job->claimed = claimed;
    return job;
}

/* A held job leaves the notifier unattempted: its item stays claimed in the
 * store, and comes due again when the claim ends. */
static void notify_job_let_go(notify *n, notify_job *job)
{
    g_hash_table_remove(n->busy, &job->item->id);
    n->in_flight--;
    n->let_go++;
    notify_job_free(job);
}

/* The item's next state for an attempt's outcome, said in the log; *next
 * is when a retry is due: after the platform's Retry-After when it gave one
 * (retry_after > 0), else after the backoff. */
static store_outbox_state notify_job_schedule(const notify *n, const notify_job *job, notify_outcome outcome,
                                              const char *text, long retry_after, time_t *next)
{
    const config_notify *cn = &n->cfg->notify;
    *next = MAX(time(NULL), n->clock_floor);
    if (outcome == NOTIFY_RETRY && job->attempt < cn->max_attempts) {
        /* At least a second, so that no retry is due in the same pass. */
        long delay = MAX(notify_retry_delay_s(cn, job->attempt, retry_after, g_random_double()), 1);
        *next += delay;
        log_warn("notify: %s (%s): attempt %d failed: %s; next attempt in %lds",
                 job->item->address, job->item->domain, job->attempt, text, delay);
        return STORE_OUTBOX_PENDING;
    }
    if (outcome == NOTIFY_RETRY || outcome == NOTIFY_GIVE_UP) {
        log_warn("notify: %s (%s): given up after %d attempt%s: %s (`bouncedemails outbox retry` queues it again)",
                 job->item->address, job->item->domain, job->attempt, job->attempt == 1 ? "" : "s", text);
        return STORE_OUTBOX_GIVEN_UP;
    }
    if (outcome == NOTIFY_UNKNOWN)
        log_info("notify: %s (%s): unknown at the platform, counted as done", job->item->address, job->item->domain);
    return STORE_OUTBOX_DONE;
}

static void notify_job_launch(notify *n, notify_job *job, time_t now);
static void notify_launch_held(notify *n, size_t domain_index, const char *domain);

static bool notify_platform_is_down(const notify *n, size_t domain_index, time_t now)
{
    return n->resolved[domain_index].down_until > now;
}

/* A platform that gave no answer at all (a timeout, a refused connection)
 * is left alone for a backoff that grows each time in a row it is found
 * so, the way Postfix defers the queue of a dead destination: its other
 * notifications, held or pending, wait in the outbox unattempted (deferred
 * by the next sync) instead of each taking a request slot, and a timeout,
 * from the platforms that answer. After the backoff the next request tries
 * it again. The daemon's worker only: a `stdin` run ends its pass at the
 * first request without an answer. domain is the outbox's name for it. */
static void notify_platform_down(notify *n, size_t domain_index, const char *domain)
{
    notify_resolved *r = &n->resolved[domain_index];
    time_t now = MAX(time(NULL), n->clock_floor);
    if (!n->started || notify_platform_is_down(n, domain_index, now))
        return;    /* the other requests in flight to it end alike */
    r->downs++;
    r->down_until = now + notify_backoff_s(&n->cfg->notify, r->downs, g_random_double());
    metrics_platform_down(domain);
    g_free(r->defer);
    r->defer = g_strdup(domain);
}

/* The deferrals notify_platform_down() asked for, in the sync's transaction. */
static void notify_defer_down(notify *n, time_t now)
{
    for (size_t i = 0; i < n->cfg->handler.n_domains; i++) {
        notify_resolved *r = &n->resolved[i];
        if (r->defer == NULL)
            continue;
        int count = 0;
        if (store_outbox_defer_domain(n->st, r->defer, r->down_until, &count) != 0)
            log_error("notify: %s: cannot defer its notifications: %s", r->defer, store_errmsg(n->st));
        else if (count > 0)
            log_warn("notify: the platform of %s does not answer: %d notification(s) for it wait %lds, unattempted",
                     r->defer, count, (long)(r->down_until - now));
        g_free(r->defer);
        r->defer = NULL;
    }
}

/* The job has its outcome: it waits in n->finished to be written, and its
 * platform's next held job, if any, takes its turn. text is the platform's
 * "status / body", or the error when there was no answer. */
static void notify_job_done(notify *n, notify_job *job, notify_outcome outcome, const char *text,
                            long retry_after)
{
    static const char *const answer_prefix[] = {
        [NOTIFY_DONE] = "", [NOTIFY_UNKNOWN] = "unknown at platform: ", [NOTIFY_GIVE_UP] = "given up: ",
        [NOTIFY_RETRY] = "given up: ",
    };
    job->state = notify_job_schedule(n, job, outcome, text, retry_after, &job->next);
    metrics_notification(job->item->domain, job->state, outcome == NOTIFY_UNKNOWN);
    job->result = g_strdup(text);
    if (job->state != STORE_OUTBOX_PENDING)
        job->answer = g_strconcat(answer_prefix[outcome], text, NULL);
    g_ptr_array_add(n->finished, job);
    n->in_flight--;
    if (!job->launched)
        return;
    n->platform_busy[job->domain_index]--;
    if (n->unreachable && !n->started)
        return;    /* notify_run_once leaves the held jobs to the daemon */
    notify_launch_held(n, job->domain_index, job->item->domain);
}

/* Starts the platform's next held job; those held past NOTIFY_HOLD_S before
 * it go back to the outbox, said in one line, and all of them when the
 * platform is down. */
static void notify_launch_held(notify *n, size_t domain_index, const char *domain)
{
    time_t now = MAX(time(NULL), n->clock_floor);
    bool down = notify_platform_is_down(n, domain_index, now);
    size_t let_go = 0;
    notify_job *next = NULL;
    for (GList *l = n->held.head; l != NULL && next == NULL;) {
        notify_job *held = l->data;
        GList *after = l->next;
        if (held->domain_index == domain_index) {
            g_queue_delete_link(&n->held, l);
            if (down) {
                notify_job_let_go(n, held);    /* deferred by the next sync */
            } else if (notify_may_start(held->claimed, now)) {
                next = held;
            } else {
                notify_job_let_go(n, held);
                let_go++;
            }
        }
        l = after;
    }
    if (let_go > 0)
        log_info("notify: %zu notification(s) for %s waited more than %ds for the platform's turn: "
                 "back to the outbox until their claims end", let_go, domain, NOTIFY_HOLD_S);
    if (next != NULL)
        notify_job_launch(n, next, now);
}

/* Writes the outcomes of the finished jobs. The suppression's row first,
 * then the outbox's: the order in which ingest takes the two rows' locks,
 * so that PostgreSQL does not find the two transactions deadlocked over a
 * repeat bounce of an address whose notification is being recorded. */
static void notify_record(notify *n)
{
    for (guint i = 0; i < n->finished->len; i++) {
        notify_job *job = g_ptr_array_index(n->finished, i);
        if (job->answer != NULL &&
            store_permanent_set_answer(n->st, job->item, job->answer) != 0)
            log_error("notify: %s (%s): cannot record the platform's answer: %s",
                      job->item->address, job->item->domain, store_errmsg(n->st));
        if (store_outbox_finish(n->st, job->item, job->state, job->next, job->result) != 0)
            log_error("notify: %s (%s): cannot record the outcome: %s",
                      job->item->address, job->item->domain, store_errmsg(n->st));
    }
}

/* Lets go of the finished jobs, their outcomes written (or given up on). */
static void notify_release_finished(notify *n)
{
    n->refused = 0;
    for (guint i = 0; i < n->finished->len; i++) {
        notify_job *job = g_ptr_array_index(n->finished, i);
        g_hash_table_remove(n->busy, &job->item->id);
        notify_job_free(job);
    }
    g_ptr_array_set_size(n->finished, 0);
}

/* ---- transfers ---- */

static size_t notify_on_data(char *data, size_t size, size_t nmemb, void *userp)
{
    notify_transfer *t = userp;
    size_t len = size * nmemb;
    if (t->answer->len < NOTIFY_ANSWER_MAX)
        g_string_append_len(t->answer, data, (gssize)MIN(len, NOTIFY_ANSWER_MAX - t->answer->len));
    return len;
}

static void notify_transfer_free(notify *n, notify_transfer *t)
{
    if (t->easy != NULL) {
        n->curl->multi_remove_handle(n->multi, t->easy);
        /* The handle outlives the transfer's buffer. */
        n->curl->easy_setopt(t->easy, CURLOPT_ERRORBUFFER, NULL);
        g_ptr_array_add(n->idle_easy, t->easy);
    }
    if (t->waiting != NULL)
        g_ptr_array_free(t->waiting, TRUE);
    g_free(t->url);
    g_free(t->body);
    g_string_free(t->answer, TRUE);
    g_free(t);
}

/* Appends line, or frees the list and returns NULL when curl cannot: a
 * request without its (authorization) headers must not go out. */
static struct curl_slist *notify_header_append(const notify_curl_api *curl, struct curl_slist *list,
                                                const char *line)
{
    struct curl_slist *longer = curl->slist_append(list, line);
    if (longer == NULL)
        curl->slist_free_all(list);
    return longer;
}

/* The configured headers, as curl wants them (a header with an empty value
 * needs the "Name;" form), and the line fallback ("Name: value") unless the
 * config sets a header of that name; NULL when out of memory. */
static struct curl_slist *notify_headers(const notify_curl_api *curl, const config_domain *dom,
                                         const char *fallback)
{
    struct curl_slist *list = NULL;
    size_t fallback_name_len = strcspn(fallback, ":");
    bool configured = false;
    for (size_t i = 0; i < dom->n_headers; i++) {
        const config_header *h = &dom->headers[i];
        char *line = *h->value ? g_strdup_printf("%s: %s", h->name, h->value) : g_strdup_printf("%s;", h->name);
        list = notify_header_append(curl, list, line);
        g_free(line);
        if (list == NULL)
            return NULL;
        if (strlen(h->name) == fallback_name_len &&
            g_ascii_strncasecmp(h->name, fallback, fallback_name_len) == 0)
            configured = true;
    }
    return configured ? list : notify_header_append(curl, list, fallback);
}

/* The domain's headers for a kind of request, built once for the notifier's
 * lifetime (the config does not change under it); NULL when out of memory. */
static const struct curl_slist *notify_headers_of(notify *n, size_t domain_index, notify_transfer_kind kind)
{
    static const char *const fallback[NOTIFY_TRANSFER_KINDS] = {
        [NOTIFY_TRANSFER_RESOLVE] = "Accept: application/json",
        /* "Content-Type:" with no value keeps curl from announcing a form. */
        [NOTIFY_TRANSFER_POST] = "Content-Type:",
    };
    const config_domain *dom = &n->cfg->handler.domains[domain_index];
    struct curl_slist **headers = &n->resolved[domain_index].headers[kind];
    if (*headers == NULL)
        *headers = notify_headers(n->curl, dom, kind == NOTIFY_TRANSFER_POST && dom->payload == CONFIG_PAYLOAD_JSON
                                           ? "Content-Type: application/json" : fallback[kind]);
    return *headers;
}

/* A new easy handle with the options every request shares; they stay set
 * while the handle is reused. */
static CURL *notify_easy_new(const notify_curl_api *curl, const config_notify *cn)
{
    CURL *easy = curl->easy_init();
    if (easy == NULL)
        return NULL;
    curl->easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl->easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl->easy_setopt(easy, CURLOPT_USERAGENT, "bouncedemails/" BOUNCEDEMAILS_VERSION);
    curl->easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)cn->connect_timeout_ms);
    curl->easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)cn->timeout_ms);
    curl->easy_setopt(easy, CURLOPT_WRITEFUNCTION, notify_on_data);
    /* Instead of the system's trust store: libcurl's built-in CA folder
     * (/etc/ssl/certs on Debian) would still be searched as well. */
    if (cn->tls_ca_file) {
        curl->easy_setopt(easy, CURLOPT_CAINFO, cn->tls_ca_file);
        curl->easy_setopt(easy, CURLOPT_CAPATH, (char *)NULL);
    }
    return easy;
}

/* Hands the transfer to curl; on failure the caller still owns it. */
static int notify_transfer_start(notify *n, notify_transfer *t)
{
    CURL *easy = n->idle_easy->len ? g_ptr_array_steal_index_fast(n->idle_easy, n->idle_easy->len - 1)
                                   : notify_easy_new(n->curl, &n->cfg->notify);
    if (easy == NULL)
        return -1;
    t->easy = easy;
    n->curl->easy_setopt(easy, CURLOPT_URL, t->url);
    n->curl->easy_setopt(easy, CURLOPT_PRIVATE, t);
    n->curl->easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
    n->curl->easy_setopt(easy, CURLOPT_WRITEDATA, t);
    n->curl->easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
    if (t->kind == NOTIFY_TRANSFER_POST) {
        n->curl->easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)(t->body ? strlen(t->body) : 0));
        n->curl->easy_setopt(easy, CURLOPT_POSTFIELDS, t->body ? t->body : "");
    } else {
        /* Also forgets the last POST's body, which is freed by now. */
        n->curl->easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
        n->curl->easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
    if (n->curl->multi_add_handle(n->multi, easy) != CURLM_OK) {
        g_ptr_array_add(n->idle_easy, easy);
        t->easy = NULL;
        return -1;
    }
    return 0;
}

/* The diagnostic comes from a stranger's mail server: jansson wants UTF-8,
 * and a field the bounce did not give is an empty string. */
static char *notify_json_text(const char *s)
{
    return g_utf8_make_valid(s ? s : "", -1);
}

static char *notify_json_body(const notify_job *job)
{
    char when[32];
    struct tm tm;
    gmtime_r(&job->item->created, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *fields[] = {
        notify_json_text(job->item->address), notify_json_text(job->item->reason),
        notify_json_text(job->item->status), notify_json_text(job->item->diagnostic),
    };
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "address", fields[0], "reason", fields[1],
                            "status", fields[2], "diagnostic", fields[3], "time", when);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
        g_free(fields[i]);
    /* json_dumps allocates with malloc; the transfer frees with g_free. */
    char *copy = g_strdup(body);
    free(body);
    return copy;
}

static notify_transfer *notify_transfer_new(notify_transfer_kind kind, size_t domain_index)
{
    notify_transfer *t = g_new0(notify_transfer, 1);
    t->kind = kind;
    t->domain_index = domain_index;
    t->answer = g_string_new(NULL);
    return t;
}

static void notify_post(notify *n, notify_job *job, const char *url_template)
{
    const config_domain *dom = &n->cfg->handler.domains[job->domain_index];
    notify_transfer *t = notify_transfer_new(NOTIFY_TRANSFER_POST, job->domain_index);
    t->job = job;
    t->url = notify_expand_url(url_template, job->item->address);
    if (dom->payload == CONFIG_PAYLOAD_JSON)
        t->body = notify_json_body(job);
    t->headers = notify_headers_of(n, job->domain_index, NOTIFY_TRANSFER_POST);
    if ((dom->payload == CONFIG_PAYLOAD_JSON && t->body == NULL) || t->headers == NULL ||
        notify_transfer_start(n, t) != 0) {
        t->job = NULL;
        notify_transfer_free(n, t);
        notify_job_done(n, job, NOTIFY_RETRY, "cannot start the request", 0);
    }
}

static void notify_resolve(notify *n, notify_job *job)
{
    notify_resolved *r = &n->resolved[job->domain_index];
    if (r->resolving != NULL) {
        g_ptr_array_add(r->resolving->waiting, job);
        return;
    }
    const config_domain *dom = &n->cfg->handler.domains[job->domain_index];
    notify_transfer *t = notify_transfer_new(NOTIFY_TRANSFER_RESOLVE, job->domain_index);
    t->waiting = g_ptr_array_new();
    t->url = g_strdup(dom->base_url);
    t->headers = notify_headers_of(n, job->domain_index, NOTIFY_TRANSFER_RESOLVE);
    g_ptr_array_add(t->waiting, job);
    if (t->headers == NULL || notify_transfer_start(n, t) != 0) {
        g_ptr_array_set_size(t->waiting, 0);
        notify_transfer_free(n, t);
        notify_job_done(n, job, NOTIFY_RETRY, "resolve: cannot start the request", 0);
        return;
    }
    r->resolving = t;
}

/* The job's request goes out now: its platform has a free turn. */
static void notify_job_launch(notify *n, notify_job *job, time_t now)
{
    const config_domain *dom = &n->cfg->handler.domains[job->domain_index];
    job->launched = true;
    n->platform_busy[job->domain_index]++;
    if (!dom->xikolo) {
        notify_post(n, job, dom->base_url);
        return;
    }
    const notify_resolved *r = &n->resolved[job->domain_index];
    if (r->url_template != NULL && r->expires > now)
        notify_post(n, job, r->url_template);
    else
        notify_resolve(n, job);
}

static void notify_job_start(notify *n, notify_job *job, time_t now)
{
    g_hash_table_insert(n->busy, &job->item->id, job);
    n->in_flight++;
    /* The config may have changed since the item was queued. */
    const config_domain *dom = config_find_domain(n->cfg, job->item->domain);
    if (dom == NULL) {
        notify_job_done(n, job, NOTIFY_GIVE_UP, "the domain is not configured", 0);
        return;
    }
    job->domain_index = (size_t)(dom - n->cfg->handler.domains);
    notify_resolved *r = &n->resolved[job->domain_index];
    if (notify_platform_is_down(n, job->domain_index, now)) {
        /* Queued or due since it went down: deferred by the next sync. */
        if (r->defer == NULL)
            r->defer = g_strdup(job->item->domain);
        notify_job_let_go(n, job);
        return;
    }
    if (n->platform_busy[job->domain_index] >= (size_t)MAX(n->cfg->notify.concurrency, 1))
        g_queue_push_tail(&n->held, job);
    else
        notify_job_launch(n, job, now);
}

/* The error of a transfer without an answer, as stored and logged. */
static char *notify_transfer_error(const notify_curl_api *curl, const notify_transfer *t, CURLcode res)
{
    const char *what = res == CURLE_OPERATION_TIMEDOUT ? "timeout"
                     : res == CURLE_COULDNT_CONNECT ? "connection failed"
                     : "error";
    return g_strdup_printf("%s: %s", what, *t->error ? t->error : curl->easy_strerror(res));
}

/* The template from a xikolo answer, or NULL with *why set. */
static char *notify_resolved_template(const notify_transfer *t, long status, const char **why)
{
    if (notify_outcome_of_status(status) != NOTIFY_DONE) {
        *why = "the platform did not answer 2xx";
        return NULL;
    }
    json_error_t err;
    json_t *doc = json_loadb(t->answer->str, t->answer->len, 0, &err);
    const char *tpl = json_string_value(json_object_get(doc, "email_suspensions_url"));
    /* Without {address} every notification would go to one URL, telling
     * the platform nothing about the address. */
    char *copy = tpl && strstr(tpl, "{address}") ? g_strdup(tpl) : NULL;
    if (copy == NULL)
        *why = !doc ? "the answer is not JSON"
             : !tpl ? "no email_suspensions_url in the answer"
                    : "email_suspensions_url has no {address}";
    json_decref(doc);
    return copy;
}

static void notify_resolve_done(notify *n, notify_transfer *t, CURLcode res, long status)
{
    notify_resolved *r = &n->resolved[t->domain_index];
    const char *why = NULL;
    char *error = NULL;
    r->resolving = NULL;
    if (res != CURLE_OK) {
        n->unreachable = true;
        error = notify_transfer_error(n->curl, t, res);
        /* A resolve under way has the job that started it waiting, at least. */
        const notify_job *first = g_ptr_array_index(t->waiting, 0);
        notify_platform_down(n, t->domain_index, first->item->domain);
    } else {
        r->downs = 0;
        char *tpl = notify_resolved_template(t, status, &why);
        if (tpl != NULL) {
            g_free(r->url_template);
            r->url_template = tpl;
            r->expires = time(NULL) + n->cfg->notify.resolver_cache_s;
        } else {
            error = g_strdup_printf("%ld / %s (%s)", status, t->answer->str, why);
        }
    }
    for (size_t i = 0; i < t->waiting->len; i++) {
        notify_job *job = g_ptr_array_index(t->waiting, i);
        if (error == NULL) {
            notify_post(n, job, r->url_template);
        } else {
            char *text = g_strdup_printf("resolve: %s", error);
            notify_job_done(n, job, NOTIFY_RETRY, text, 0);
            g_free(text);
        }
    }
    g_free(error);
}

static void notify_post_done(notify *n, notify_transfer *t, CURLcode res, long status)
{
    notify_job *job = t->job;
    char *text;
    notify_outcome outcome;
    curl_off_t retry_after = 0;
    if (res == CURLE_OK) {
        double seconds = 0;
        n->resolved[t->domain_index].downs = 0;
        n->curl->easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &seconds);
        metrics_platform_answer(job->item->domain, seconds);
        log_field("Response:", "%ld / %s", status, t->answer->str);
        text = g_strdup_printf("%ld / %s", status, t->answer->str);
        outcome = notify_outcome_of_status(status);
        if (status == 429 || status == 503)
            n->curl->easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after);
    } else {
        n->unreachable = true;
        notify_platform_down(n, t->domain_index, job->item->domain);
        text = notify_transfer_error(n->curl, t, res);
        /* A URL curl cannot use stays unusable until the config is fixed. */
        outcome = res == CURLE_URL_MALFORMAT || res == CURLE_UNSUPPORTED_PROTOCOL ? NOTIFY_GIVE_UP : NOTIFY_RETRY;
    }
    notify_job_done(n, job, outcome, text, retry_after > LONG_MAX ? LONG_MAX : (long)retry_after);
    g_free(text);
}

/* Handles the transfers curl has finished; returns how many. */
static size_t notify_collect(notify *n)
{
    CURLMsg *msg;
    int left;
    size_t done = 0;
    while ((msg = n->curl->multi_info_read(n->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        notify_transfer *t = NULL;
        long status = 0;
        CURLcode res = msg->data.result;
        n->curl->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        n->curl->easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (log_debug_enabled()) {
            long connects = 0;
            double seconds = 0;
            n->curl->easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &connects);
            n->curl->easy_getinfo(msg->easy_handle, CURLINFO_TOTAL_TIME, &seconds);
            log_debug("notify: %s %s: %ld in %.3fs on a %s connection",
                      t->kind == NOTIFY_TRANSFER_RESOLVE ? "resolve" : "post",
                      t->kind == NOTIFY_TRANSFER_RESOLVE ? n->cfg->handler.domains[t->domain_index].name
                                                         : t->job->item->address,
                      status, seconds, connects ? "new" : "reused");
        }
        if (t->kind == NOTIFY_TRANSFER_RESOLVE)
            notify_resolve_done(n, t, res, status);
        else
            notify_post_done(n, t, res, status);
        notify_transfer_free(n, t);
        done++;
    }
    return done;
}

static size_t notify_slots(const notify *n)
{
    return (size_t)MAX(n->cfg->notify.max_in_flight, 1);
}

/* Milliseconds until a transaction is due, 0 when it is due now, or -1 when
 * there is nothing to write and, with fill, nothing to claim. One is due
 * with half the slots free (or nothing in flight); the daemon's worker then
 * waits until NOTIFY_SYNC_INTERVAL_MS have passed since the last one, unless
 * a backlog's claimed jobs are running out, which would leave its platforms'
 * connections idle. */
static long notify_sync_wait_ms(const notify *n, bool fill)
{
    size_t slots = notify_slots(n);
    size_t free_slots = n->in_flight < slots ? slots - n->in_flight : 0;
    if (n->finished->len == 0 && !(fill && free_slots > 0 && !n->outbox_empty))
        return -1;
    if (n->in_flight > 0 && free_slots < MAX(slots / 2, 1))
        return NOTIFY_BUSY_POLL_MS;
    if (!n->started || (n->backlog && n->held.length < (guint)MAX(n->cfg->notify.concurrency, 1)))
        return 0;
    gint64 since_ms = (g_get_monotonic_time() - n->last_sync) / 1000;
    return since_ms >= NOTIFY_SYNC_INTERVAL_MS ? 0 : NOTIFY_SYNC_INTERVAL_MS - since_ms;
}

static bool notify_sync_due(const notify *n, bool fill)
{
    return notify_sync_wait_ms(n, fill) == 0;
}

/* Claims items for the free slots; the number claimed, or -1. */
static int notify_claim(notify *n, time_t now, store_outbox_item **items, size_t *count)
{
    size_t slots = notify_slots(n);
    size_t want = n->in_flight < slots ? slots - n->in_flight : 0;
    long lease_s = notify_lease_s(&n->cfg->notify);
    int rc = n->remembered_only ? store_outbox_claim_remembered(n->st, now, lease_s, items, count)
                                : store_outbox_claim(n->st, now, lease_s, want, items, count);
    if (rc != 0) {
        log_error("notify: cannot read the outbox: %s", store_errmsg(n->st));
        return -1;
    }
    /* What the store handle remembered is taken once. */
    n->outbox_empty = n->remembered_only || *count < want;
    n->backlog = !n->outbox_empty;
    return (int)*count;
}

/* One transaction: the finished jobs' outcomes, then (with fill) items for
 * the free slots, which start once it is committed. Should the store refuse
 * to begin one, each write commits on its own. Should it refuse the commit
 * (a PostgreSQL deadlock, a full disk), the outcomes stay in memory for the
 * next transaction, rather than their notifications being POSTed again when
 * their claims end. Returns the number of jobs started, or -1 when the
 * transaction failed, the outbox could not be read or libcurl not loaded. */
static int notify_sync(notify *n, time_t now, bool fill)
{
    n->last_sync = g_get_monotonic_time();
    bool batch = store_begin(n->st) == 0;
    if (!batch)
        log_debug("notify: no transaction for the outcomes (%s)", store_errmsg(n->st));
    notify_record(n);
    notify_defer_down(n, now);
    store_outbox_item *items = NULL;
    size_t count = 0;
    int rc = fill ? notify_claim(n, now, &items, &count) : 0;
    if (batch && store_commit(n->st) != 0) {
        /* The daemon's worker tries again; a command does not wait for the
         * store to come back. */
        bool again = n->started && n->finished->len > 0 && ++n->refused < NOTIFY_OUTCOME_TRIES;
        log_error("notify: cannot record the outcomes of the last %u requests, %s: %s", n->finished->len,
                  again ? "tried again shortly" : "they come due again when their claims end",
                  store_errmsg(n->st));
        store_rollback(n->st);
        store_outbox_free(items, count);
        if (!again)
            notify_release_finished(n);
        return -1;
    }
    notify_release_finished(n);
    if (count > 0 && !notify_curl_ready(n)) {
        /* Claimed, so they come due again when their lease ends. */
        store_outbox_free(items, count);
        return -1;
    }
    int started = 0;
    for (size_t i = 0; i < count; i++) {
        /* Only when a lease ran out while its request was still in flight:
         * that request now stands for the new claim, whose number its
         * outcome must carry (store_outbox_finish()). */
        notify_job *in_flight = g_hash_table_lookup(n->busy, &items[i].id);
        if (in_flight) {
            in_flight->item->claims = items[i].claims;
            continue;
        }
        notify_job_start(n, notify_job_new(&items[i], now), now);
        started++;
    }
    store_outbox_free(items, count);
    return rc < 0 ? -1 : started;
}

/* A pass that found a platform unreachable starts no more requests, also
 * not those already claimed and held for their platform's turn: they come
 * due again for the daemon when their claim ends, unattempted. */
static void notify_drop_held(notify *n)
{
    notify_job *job;
    while ((job = g_queue_pop_head(&n->held)) != NULL)
        notify_job_let_go(n, job);
}

/* Lets curl work; returns the number of transfers that finished. */
static size_t notify_perform(notify *n)
{
    int running;
    if (n->multi == NULL)
        return 0;    /* nothing was ever started */
    if (n->curl->multi_perform(n->multi, &running) != CURLM_OK)
        log_error("notify: curl_multi_perform failed");
    return notify_collect(n);
}

static void notify_poll(notify *n, int timeout_ms)
{
    struct curl_waitfd woken = { .fd = n->handoff ? handoff_fd(n->handoff) : -1, .events = CURL_WAIT_POLLIN };
    if (n->curl->multi_poll(n->multi, &woken, n->handoff ? 1 : 0, timeout_ms, NULL) != CURLM_OK)
        log_error("notify: curl_multi_poll failed");
    if ((woken.revents & CURL_WAIT_POLLIN) && handoff_drain(n->handoff))
        atomic_store(&n->woken, true);
}

int notify_run_once(notify *n, time_t now, size_t *attempted)
{
    int rc = 0;
    size_t total = 0, let_go = n->let_go;
    /* now moves on with the clock: a claim made late in a long pass must
     * not have a lease that is over already. */
    time_t started_at = time(NULL);
    n->clock_floor = now;
    n->unreachable = false;
    n->outbox_empty = false;
    for (;;) {
        size_t finished = notify_perform(n);
        if (n->unreachable)
            notify_drop_held(n);
        /* Once a platform has not answered, the rest waits for the daemon:
         * a caller such as Postfix's pipe should not wait a timeout per
         * batch of a backlog. */
        bool fill = rc == 0 && !n->unreachable;
        int started = 0;
        if (notify_sync_due(n, fill)) {
            started = notify_sync(n, now + (time(NULL) - started_at), fill);
            if (started < 0) {
                rc = -1;
                started = 0;
            }
            total += (size_t)started;
        }
        if (started == 0 && n->in_flight == 0 && n->finished->len == 0)
            break;
        if (started == 0 && finished == 0)
            notify_poll(n, NOTIFY_BUSY_POLL_MS);
    }
    n->clock_floor = 0;
    if (attempted != NULL)
        *attempted = total - (n->let_go - let_go);
    return rc;
}

int notify_run_remembered(notify *n, time_t now, size_t *attempted)
{
    n->remembered_only = true;
    int rc = notify_run_once(n, now, attempted);
    n->remembered_only = false;
    return rc;
}

/* How long the worker may sleep when nothing is in flight. */
static int notify_idle_timeout(notify *n)
{
    time_t when;
    int any;
    if (store_outbox_next_due(n->st, &when, &any) != 0) {
        log_error("notify: cannot read the outbox: %s", store_errmsg(n->st));
        return NOTIFY_IDLE_POLL_MS;
    }
    if (!any)
        return NOTIFY_IDLE_POLL_MS;
    time_t wait_s = when - time(NULL);
    if (wait_s <= 0)
        return NOTIFY_MIN_POLL_MS;
    return wait_s >= NOTIFY_IDLE_POLL_MS / 1000 ? NOTIFY_IDLE_POLL_MS : (int)wait_s * 1000;
}

/* The worker's log lines ("Response: ...", one a request) are held while it
 * works and go out in one write before it sleeps. */
static void notify_worker_sleep(notify *n, int timeout_ms)
{
    log_flush();
    notify_poll(n, timeout_ms);
    log_hold();
}

/* Listens for the hand-offs of `stdin` runs unless it does already; a
 * retry (quiet), at most every idle poll, takes over from another daemon
 * of the config that stopped. */
static void notify_take_handoffs(notify *n, bool quiet)
{
    gint64 now = g_get_monotonic_time();
    if (n->handoff != NULL || !n->cfg->notify.stdin_handoff ||
        (quiet && now - n->handoff_tried < NOTIFY_IDLE_POLL_MS * 1000))
        return;
    n->handoff_tried = now;
    n->handoff = handoff_listen(n->cfg, quiet);
}

static void *notify_worker(void *arg)
{
    notify *n = arg;
    log_hold();
    while (!atomic_load(&n->stopping)) {
        metrics_notifier_beat();
        size_t finished = notify_perform(n);
        if (atomic_exchange(&n->woken, false))
            n->outbox_empty = false;
        int started = notify_sync_due(n, true) ? notify_sync(n, time(NULL), true) : 0;
        if (started > 0 || finished > 0)
            continue;
        long wait_ms = started < 0 ? -1 : notify_sync_wait_ms(n, true);
        if (n->in_flight > 0 || wait_ms >= 0) {
            notify_worker_sleep(n, wait_ms >= 0 && wait_ms < NOTIFY_BUSY_POLL_MS ? (int)wait_ms : NOTIFY_BUSY_POLL_MS);
            /* While a platform sits on its requests no outcome comes to
             * claim with, yet retries come due and other processes queue:
             * free slots look again once a busy poll has passed. */
            if (g_get_monotonic_time() - n->last_sync >= NOTIFY_BUSY_POLL_MS * 1000)
                n->outbox_empty = false;
        } else {
            int idle_ms = started < 0 ? NOTIFY_IDLE_POLL_MS : notify_idle_timeout(n);
            /* Outcomes the store refused are written again about a second
             * later, not after an idle wait. */
            if (n->finished->len > 0 && idle_ms > NOTIFY_BUSY_POLL_MS)
                idle_ms = NOTIFY_BUSY_POLL_MS;
            notify_worker_sleep(n, idle_ms);
            /* Other processes queue without waking, and retries come due. */
            n->outbox_empty = false;
            notify_take_handoffs(n, true);
        }
    }
    /* Runs from now on notify for themselves, before what is in flight
     * (up to a timeout) is waited for. */
    if (n->handoff != NULL && handoff_stop_taking(n->handoff))
        log_info("notify: `stdin` runs handed notifications over as the daemon stopped: "
                 "they wait in the outbox for its next start");
    /* Stopping: nothing new is taken, not even what is claimed but held for
     * its platform's turn (one round of timeouts each against a hung
     * platform would outlast the service manager's stop timeout); what is
     * in flight gets its outcome. */
    notify_drop_held(n);
    while (n->in_flight > 0)
        if (notify_perform(n) == 0 && n->in_flight > 0)
            notify_worker_sleep(n, NOTIFY_BUSY_POLL_MS);
    if (n->finished->len > 0)
        notify_sync(n, time(NULL), false);
    log_flush();
    return NULL;
}

int notify_start(notify *n)
{
    if (n->started)
        return 0;
    /* The daemon finds out at start-up, not at its first notification. */
    if (!notify_curl_ready(n))
        return -1;
    atomic_store(&n->stopping, false);
    notify_take_handoffs(n, false);
    int err = pthread_create(&n->thread, NULL, notify_worker, n);
    if (err != 0) {
        log_error("notify: cannot start the worker thread: %s", g_strerror(err));
        handoff_close(n->handoff);
        n->handoff = NULL;
        return -1;
    }
    pthread_setname_np(n->thread, "notify");
    n->started = true;
    return 0;
}

void notify_wake(notify *n)
{
    atomic_store(&n->woken, true);
    /* The multi handle is made before the worker starts, and then kept. */
    if (n->multi != NULL)
        n->curl->multi_wakeup(n->multi);
}

void notify_stop(notify *n)
{
    if (!n->started)
        return;
    atomic_store(&n->stopping, true);
    n->curl->multi_wakeup(n->multi);
    pthread_join(n->thread, NULL);
    handoff_close(n->handoff);
    n->handoff = NULL;
    n->started = false;
}
