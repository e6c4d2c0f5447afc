/*
 * standin_platform.c - the benchmarks' stand-in platform: an evhttp server
 * that answers every POST at once with 200 {"processd_email": "<address>"},
 * the way tests/platform.py does, at the cost of a few microseconds instead
 * of Python's few hundred. On a two-CPU machine the Python stand-in took as
 * much CPU per notification as the service, so the benchmark measured it.
 *
 *   standin_platform PORT
 *   GET /_stats -> {"posts": N, "last": <Unix time of the last POST>}
 *
 * TCP_NODELAY is set on every connection: the service keeps connections
 * alive, and a small answer held back by Nagle meets the client's delayed
 * ACK, a 40 ms stall that the benchmark would report as the service's.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

static unsigned long standin_posts;
static double standin_last;

static void standin_nodelay(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    int one = 1;
    if (bev)
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void standin_reply(struct evhttp_request *req, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, text, strlen(text));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    standin_nodelay(req);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    free(text);
    json_decref(body);
}

static void standin_handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET && strcmp(uri, "/_stats") == 0) {
        standin_reply(req, json_pack("{s:I, s:f}", "posts", (json_int_t)standin_posts, "last", standin_last));
        return;
    }
    struct timeval now;
    gettimeofday(&now, NULL);
    standin_posts++;
    standin_last = (double)now.tv_sec + now.tv_usec / 1e6;
    /* /emails/<address>/suspend: the address, still percent-encoded. */
    const char *start = strncmp(uri, "/emails/", 8) == 0 ? uri + 8 : uri;
    const char *end = strchr(start, '/');
    json_t *address = json_stringn(start, end ? (size_t)(end - start) : strlen(start));
    standin_reply(req, json_pack("{s:o}", "processd_email", address ? address : json_null()));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: standin_platform PORT\n");
        return 64;
    }
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http || evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(argv[1])) != 0) {
        fprintf(stderr, "standin_platform: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    evhttp_set_gencb(http, standin_handle, NULL);
    event_base_dispatch(base);
    return 0;
}
