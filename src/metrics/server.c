/*
 * server.c - the metrics endpoint: libevent's evhttp on metrics.listen,
 * on the daemon's event loop, serving
 *
 *   /metrics  the exposition text (format 0.0.4);
 *   /healthz  200 while the event loop answers and the notifier makes
 *             progress, else 503;
 *   /readyz   200 when the store answers and every ingress the config
 *             enables works, else 503 with a one-line reason.
 *
 * The store's gauges are read by a thread of its own every
 * METRICS_STORE_CACHE_S seconds, so that a slow or unreachable database
 * never holds up the event loop that the SMTP listener shares; a handler
 * only copies the last reading under a mutex.
 */
#include "metrics/metrics.h"

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"

/* The store counts as not answering when its last good reading is older. */
#define METRICS_STORE_STALE_S (3 * METRICS_STORE_CACHE_S)
/* A scraper that stalls mid-request is dropped after this. */
#define METRICS_HTTP_TIMEOUT_S 10
#define METRICS_HTTP_MAX_HEADERS 8192

struct metrics_server {
    struct evhttp *http;
    store *st;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;     /* guards everything below */
    pthread_cond_t wake;
    bool stopping;
    bool have_reading;
    store_outbox_gauge *outbox;
    size_t n_outbox;
    store_quarantine_size quarantine;
    double read_at;           /* metrics_clock() of the last good reading */
};

/* ---- reading the store ---- */

static void metrics_server_read(metrics_server *srv)
{
    store_outbox_gauge *outbox = NULL;
    size_t n = 0;
    store_quarantine_size q = { 0 };
    if (store_outbox_gauges(srv->st, &outbox, &n) != 0 || store_quarantine_size_get(srv->st, &q) != 0) {
        metrics_set_ready(METRICS_PART_STORE, false, store_errmsg(srv->st));
        return;
    }
    pthread_mutex_lock(&srv->lock);
    store_outbox_gauges_free(srv->outbox, srv->n_outbox);
    srv->outbox = outbox;
    srv->n_outbox = n;
    srv->quarantine = q;
    srv->have_reading = true;
    srv->read_at = metrics_clock();
    pthread_mutex_unlock(&srv->lock);
    metrics_set_ready(METRICS_PART_STORE, true, NULL);
}

static void *metrics_server_reader(void *arg)
{
    metrics_server *srv = arg;
    pthread_mutex_lock(&srv->lock);
    while (!srv->stopping) {
        pthread_mutex_unlock(&srv->lock);
        metrics_server_read(srv);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += METRICS_STORE_CACHE_S;
        pthread_mutex_lock(&srv->lock);
        while (!srv->stopping && pthread_cond_timedwait(&srv->wake, &srv->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

/* ---- answering ---- */

static void metrics_server_reply(struct evhttp_request *req, int code, const char *type, const char *body)
{
    struct evbuffer *buf = evbuffer_new();
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", type);
    /* evhttp sends a HEAD reply's body as given, which a kept-alive client
     * would read as the start of its next answer: GET's length, no body. */
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        char length[32];
        snprintf(length, sizeof length, "%zu", strlen(body));
        evhttp_add_header(headers, "Content-Length", length);
    } else {
        evbuffer_add(buf, body, strlen(body));
    }
    evhttp_send_reply(req, code, code == 200 ? "OK" : code == 404 ? "Not Found" : "Service Unavailable", buf);
    evbuffer_free(buf);
}

/* A reader stuck on a store that does not answer (a hung connection)
 * reports nothing: its silence makes the store not ready. */
static void metrics_server_check_store(metrics_server *srv)
{
    char why[100];
    pthread_mutex_lock(&srv->lock);
    double age = srv->have_reading ? metrics_clock() - srv->read_at : -1;
    pthread_mutex_unlock(&srv->lock);
    if (age >= 0 && age <= METRICS_STORE_STALE_S)
        return;
    if (age < 0)
        snprintf(why, sizeof why, "not read yet");
    else
        snprintf(why, sizeof why, "no answer for %.0f s", age);
    metrics_set_ready(METRICS_PART_STORE, false, why);
}

static void metrics_server_metrics(metrics_server *srv, struct evhttp_request *req)
{
    metrics_server_check_store(srv);
    pthread_mutex_lock(&srv->lock);
    bool fresh = srv->have_reading;
    store_quarantine_size q = srv->quarantine;
    /* Rendered under the lock: the reader swaps the array only under it. */
    char *text = metrics_render(srv->outbox, srv->n_outbox, fresh ? &q : NULL);
    pthread_mutex_unlock(&srv->lock);
    metrics_server_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text);
    free(text);
}

static void metrics_server_health(struct evhttp_request *req, bool ok, const char *why)
{
    char line[400];
    snprintf(line, sizeof line, "%s\n", ok ? "ok" : why);
    metrics_server_reply(req, ok ? 200 : 503, "text/plain; charset=utf-8", line);
}

static void metrics_server_handle(struct evhttp_request *req, void *arg)
{
    metrics_server *srv = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    char why[300] = "";
    if (!path)
        path = "/";
    if (strcmp(path, "/metrics") == 0) {
        metrics_server_metrics(srv, req);
    } else if (strcmp(path, "/healthz") == 0) {
        bool ok = metrics_healthy(why, sizeof why);
        metrics_server_health(req, ok, why);
    } else if (strcmp(path, "/readyz") == 0) {
        metrics_server_check_store(srv);
        bool ok = metrics_ready(why, sizeof why);
        metrics_server_health(req, ok, why);
    } else {
        metrics_server_reply(req, 404, "text/plain; charset=utf-8", "/metrics, /healthz or /readyz\n");
    }
}

/* ---- setting up ---- */

/* Splits "host:port" or "[v6]:port" (checked by the config already). */
static void metrics_server_address(const char *listen, char *host, size_t host_len, int *port)
{
    const char *colon = strrchr(listen, ':');
    const char *start = listen[0] == '[' ? listen + 1 : listen;
    size_t len = (size_t)(colon - start) - (listen[0] == '[' ? 1 : 0);
    snprintf(host, host_len, "%.*s", (int)len, start);
    *port = atoi(colon + 1);
}

metrics_server *metrics_server_new(struct event_base *base, const config *cfg, store *st,
                                   char *err, size_t err_len)
{
    char host[300];
    int port;
    metrics_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    srv->st = st;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->wake, NULL);
    metrics_server_address(cfg->metrics.listen, host, sizeof host, &port);
    srv->http = evhttp_new(base);
    if (!srv->http || evhttp_bind_socket(srv->http, host, (ev_uint16_t)port) != 0) {
        snprintf(err, err_len, "metrics.listen: cannot listen on %s: %s", cfg->metrics.listen,
                 errno ? strerror(errno) : "bind failed");
        metrics_server_free(srv);
        return NULL;
    }
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(srv->http, METRICS_HTTP_TIMEOUT_S);
    evhttp_set_max_headers_size(srv->http, METRICS_HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(srv->http, 0);
    evhttp_set_gencb(srv->http, metrics_server_handle, srv);
    metrics_server_read(srv);
    int rc = pthread_create(&srv->thread, NULL, metrics_server_reader, srv);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the metrics reader: %s", strerror(rc));
        metrics_server_free(srv);
        return NULL;
    }
    pthread_setname_np(srv->thread, "metrics");
    srv->running = true;
    return srv;
}

void metrics_server_free(metrics_server *srv)
{
    if (!srv)
        return;
    if (srv->running) {
        pthread_mutex_lock(&srv->lock);
        srv->stopping = true;
        pthread_cond_broadcast(&srv->wake);
        pthread_mutex_unlock(&srv->lock);
        pthread_join(srv->thread, NULL);
    }
    if (srv->http)
        evhttp_free(srv->http);
    store_outbox_gauges_free(srv->outbox, srv->n_outbox);
    if (srv->st)
        store_close(srv->st);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->wake);
    free(srv);
}
