/*
 * smtp_load.c - the SMTP benchmark's clients (bench_smtp.py): CLIENTS
 * threads deliver the messages of FILE to the listener, each message as an
 * MTA would (MAIL, RCPT and DATA pipelined, then the data), and count a
 * message when its 250 arrives. The Python clients this replaces took about
 * 0.16 ms of CPU a message, more than half of what the service took, on a
 * two-CPU machine that both share; these take a few microseconds.
 *
 *   smtp_load PORT CLIENTS RECONNECT RECIPIENT FILE
 *
 * FILE holds the messages as "<length>\n<bytes>" records, each already in
 * DATA's form (CRLF, dot-stuffed, ending ".\r\n"). Client i sends messages
 * i, i + CLIENTS, ...; RECONNECT 1 opens a connection a message. Prints
 * "delivered N" and exits 0, or says what went wrong and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct load_message {
    const char *data;
    size_t len;
} load_message;

typedef struct load_conn {
    int fd;
    char buf[8192];
    size_t have, used;
} load_conn;

static struct {
    int port;
    size_t clients;
    int reconnect;
    char envelope[600];        /* MAIL, RCPT and DATA, pipelined */
    size_t envelope_len;
    load_message *messages;
    size_t n_messages;
    atomic_size_t delivered;
    atomic_int failed;
} load;

static int load_send(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t put = send(fd, p, n, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

/* Reads one reply, all its lines; 0 when its code is code, else -1. */
static int load_expect(load_conn *c, const char *code)
{
    for (;;) {
        char *line = c->buf + c->used;
        char *end = memchr(line, '\n', c->have - c->used);
        if (end == NULL) {
            memmove(c->buf, line, c->have - c->used);
            c->have -= c->used;
            c->used = 0;
            if (c->have == sizeof c->buf)
                return -1;
            ssize_t got = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return -1;
            c->have += (size_t)got;
            continue;
        }
        c->used = (size_t)(end - c->buf) + 1;
        if (end - line < 3 || memcmp(line, code, 3) != 0) {
            fprintf(stderr, "smtp_load: expected %s, got %.*s\n", code, (int)(end - line), line);
            return -1;
        }
        if (end - line == 3 || line[3] != '-')
            return 0;
    }
}

static int load_connect(load_conn *c)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)load.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1;
    c->have = c->used = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return -1;
    /* As an MTA's client: no Nagle delay on the small last segment. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char ehlo[] = "EHLO bench.example\r\n";
    if (load_expect(c, "220") != 0 || load_send(c->fd, ehlo, sizeof ehlo - 1) != 0)
        return -1;
    return load_expect(c, "250");
}

static int load_quit(load_conn *c)
{
    static const char quit[] = "QUIT\r\n";
    int rc = load_send(c->fd, quit, sizeof quit - 1) == 0 && load_expect(c, "221") == 0 ? 0 : -1;
    close(c->fd);
    c->fd = -1;
    return rc;
}

static int load_deliver(load_conn *c, const load_message *m)
{
    if (load_send(c->fd, load.envelope, load.envelope_len) != 0 || load_expect(c, "250") != 0 ||
        load_expect(c, "250") != 0 || load_expect(c, "354") != 0 || load_send(c->fd, m->data, m->len) != 0)
        return -1;
    return load_expect(c, "250");
}

static void *load_client(void *arg)
{
    size_t first = (size_t)(uintptr_t)arg;
    load_conn c = { .fd = -1 };
    for (size_t i = first; i < load.n_messages && !atomic_load(&load.failed); i += load.clients) {
        if ((c.fd < 0 && load_connect(&c) != 0) || load_deliver(&c, &load.messages[i]) != 0 ||
            (load.reconnect && load_quit(&c) != 0)) {
            fprintf(stderr, "smtp_load: client %zu, message %zu: %s\n", first, i, errno ? strerror(errno) : "refused");
            atomic_store(&load.failed, 1);
            break;
        }
        atomic_fetch_add(&load.delivered, 1);
    }
    if (c.fd >= 0 && !atomic_load(&load.failed) && load_quit(&c) != 0)
        atomic_store(&load.failed, 1);
    return NULL;
}

/* The "<length>\n<bytes>" records of the file, which stays in memory. */
static int load_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 0;
    unsigned long len;
    while (fscanf(f, "%lu", &len) == 1 && fgetc(f) == '\n') {
        char *data = malloc(len ? len : 1);
        if (data == NULL || fread(data, 1, len, f) != len) {
            free(data);
            fclose(f);
            return -1;
        }
        if (load.n_messages == cap) {
            cap = cap ? 2 * cap : 1024;
            load_message *grown = realloc(load.messages, cap * sizeof *grown);
            if (grown == NULL) {
                free(data);
                fclose(f);
                return -1;
            }
            load.messages = grown;
        }
        load.messages[load.n_messages++] = (load_message){ data, len };
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: smtp_load PORT CLIENTS RECONNECT RECIPIENT FILE\n");
        return 2;
    }
    load.port = atoi(argv[1]);
    load.clients = (size_t)atoi(argv[2]);
    load.reconnect = atoi(argv[3]);
    int n = snprintf(load.envelope, sizeof load.envelope, "MAIL FROM:<>\r\nRCPT TO:<%s>\r\nDATA\r\n", argv[4]);
    if (load.port <= 0 || load.clients == 0 || n < 0 || (size_t)n >= sizeof load.envelope) {
        fprintf(stderr, "smtp_load: bad arguments\n");
        return 2;
    }
    load.envelope_len = (size_t)n;
    if (load_read(argv[5]) != 0) {
        fprintf(stderr, "smtp_load: cannot read %s\n", argv[5]);
        return 1;
    }
    pthread_t *threads = calloc(load.clients, sizeof *threads);
    for (size_t i = 0; i < load.clients; i++)
        pthread_create(&threads[i], NULL, load_client, (void *)(uintptr_t)i);
    for (size_t i = 0; i < load.clients; i++)
        pthread_join(threads[i], NULL);
    printf("delivered %zu\n", atomic_load(&load.delivered));
    return atomic_load(&load.failed) ? 1 : 0;
}
