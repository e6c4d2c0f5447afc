/*
 * handoff.c - the daemon's notifier takes the notifications that `stdin`
 * runs queued, woken through a Unix datagram socket (see handoff.h).
 */
#include "notify/handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>

#include "log.h"

/* Wake-ups read at most a poll: senders cannot keep the worker reading. */
#define HANDOFF_DRAIN_MAX 64

struct handoff {
    int fd;
    int lock;                  /* flock held while listening */
    struct sockaddr_un addr;
    bool named;                /* the socket's name is still in the folder */
};

static void handoff_hash_string(GChecksum *sum, const char *s)
{
    /* A missing value and an empty one hash apart, and each value ends. */
    if (s == NULL) {
        g_checksum_update(sum, (const guchar *)"", 1);
        return;
    }
    g_checksum_update(sum, (const guchar *)"\1", 1);
    g_checksum_update(sum, (const guchar *)s, (gssize)strlen(s) + 1);
}

/* A path as the daemon and a run in another working folder both see it. */
static void handoff_hash_path(GChecksum *sum, const char *path)
{
    char *absolute = path ? g_canonicalize_filename(path, NULL) : NULL;
    handoff_hash_string(sum, absolute);
    g_free(absolute);
}

char *handoff_path(const config *cfg)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    handoff_hash_string(sum, cfg->store.backend);
    handoff_hash_string(sum, cfg->store.url);
    handoff_hash_path(sum, cfg->handler.dbfile);
    handoff_hash_path(sum, cfg->notify.tls_ca_file);
    for (size_t i = 0; i < cfg->handler.n_domains; i++) {
        const config_domain *d = &cfg->handler.domains[i];
        char kind[32];
        snprintf(kind, sizeof kind, "%d %d %zu", d->xikolo, (int)d->payload, d->n_headers);
        handoff_hash_string(sum, d->name);
        handoff_hash_string(sum, d->base_url);
        handoff_hash_string(sum, kind);
        for (size_t k = 0; k < d->n_headers; k++) {
            handoff_hash_string(sum, d->headers[k].name);
            handoff_hash_string(sum, d->headers[k].value);
        }
    }
    char *dir = g_canonicalize_filename(cfg->handler.permanent_bounced_emails_path, NULL);
    char *path = g_strdup_printf("%s/.notifier-%.16s.sock", dir, g_checksum_get_string(sum));
    g_free(dir);
    g_checksum_free(sum);
    if (strlen(path) >= sizeof ((struct sockaddr_un *)0)->sun_path) {
        g_free(path);
        return NULL;
    }
    return path;
}

static bool handoff_address(const config *cfg, struct sockaddr_un *addr)
{
    char *path = handoff_path(cfg);
    if (path == NULL)
        return false;
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, path, strlen(path) + 1);
    g_free(path);
    return true;
}

static int handoff_socket(void)
{
    return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* The lock beside the socket: .notifier-<id>.lock. -1 when another daemon
 * holds it (*held) or it cannot be had. */
static int handoff_lock(const char *socket_path, bool *held)
{
    char *path = g_strdup(socket_path);
    memcpy(path + strlen(path) - strlen(".sock"), ".lock", strlen(".lock"));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    *held = false;
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        *held = errno == EWOULDBLOCK;
        close(fd);
        fd = -1;
    }
    g_free(path);
    return fd;
}

handoff *handoff_listen(const config *cfg, bool quiet)
{
    const char *dir = cfg->handler.permanent_bounced_emails_path;
    handoff *h = g_new0(handoff, 1);
    h->fd = h->lock = -1;
    if (!handoff_address(cfg, &h->addr)) {
        if (!quiet)
            log_warn("notify: the archive folder's path is too long for a socket: "
                     "`stdin` runs notify for themselves");
        g_free(h);
        return NULL;
    }
    const char *path = h->addr.sun_path;
    bool held = false;
    if (g_mkdir_with_parents(dir, 0750) != 0 || (h->lock = handoff_lock(path, &held)) < 0) {
        if (held && !quiet)
            log_info("notify: another daemon with this config takes the hand-offs of `stdin` runs (%s)", path);
        else if (!quiet)
            log_warn("notify: cannot lock %s for the hand-offs of `stdin` runs: %s (they notify for themselves)",
                     path, g_strerror(errno));
        g_free(h);
        return NULL;
    }
    /* Made under a name of its own and given its mode there, then renamed
     * over any file of the socket's name, which, the lock held, a daemon
     * that died left: no run finds it absent or without its mode. */
    struct sockaddr_un made = h->addr;
    int len = snprintf(made.sun_path, sizeof made.sun_path, "%s.%ld", path, (long)getpid());
    h->fd = handoff_socket();
    bool bound = h->fd >= 0 && len > 0 && (size_t)len < sizeof made.sun_path &&
                 (unlink(made.sun_path) == 0 || errno == ENOENT) &&
                 bind(h->fd, (const struct sockaddr *)&made, sizeof made) == 0;
    /* Not through a symbolic link someone put in its place meanwhile. */
    h->named = bound && fchmodat(AT_FDCWD, made.sun_path, 0660, AT_SYMLINK_NOFOLLOW) == 0 &&
               rename(made.sun_path, path) == 0;
    if (!h->named) {
        if (!quiet)
            log_warn("notify: cannot listen for the hand-offs of `stdin` runs at %s: %s "
                     "(they notify for themselves)", path, g_strerror(errno));
        if (bound)
            unlink(made.sun_path);
        handoff_close(h);
        return NULL;
    }
    return h;
}

int handoff_fd(const handoff *h)
{
    return h->fd;
}

bool handoff_drain(handoff *h)
{
    char byte[64];
    bool any = false;
    for (int i = 0; i < HANDOFF_DRAIN_MAX && recv(h->fd, byte, sizeof byte, MSG_DONTWAIT) >= 0; i++)
        any = true;
    return any;
}

bool handoff_stop_taking(handoff *h)
{
    if (h->named)
        unlink(h->addr.sun_path);
    h->named = false;
    /* Another daemon of the config may listen from now on. */
    if (h->lock >= 0)
        close(h->lock);
    h->lock = -1;
    /* Nobody can send once the name is gone: what is queued is all. */
    bool any = false;
    while (handoff_drain(h))
        any = true;
    return any;
}

void handoff_close(handoff *h)
{
    if (h == NULL)
        return;
    handoff_stop_taking(h);
    if (h->fd >= 0)
        close(h->fd);
    g_free(h);
}

bool handoff_send(const config *cfg)
{
    struct sockaddr_un addr;
    if (!handoff_address(cfg, &addr))
        return false;
    int fd = handoff_socket();
    if (fd < 0)
        return false;
    bool taken = sendto(fd, "w", 1, MSG_DONTWAIT, (const struct sockaddr *)&addr, sizeof addr) == 1;
    int err = errno;
    close(fd);
    if (!taken && (err == EACCES || err == EPERM))
        log_warn("notify: may not wake the daemon at %s (%s): this run notifies for itself", addr.sun_path,
                 g_strerror(err));
    else if (!taken)
        log_debug("notify: no daemon takes the hand-off at %s (%s)", addr.sun_path, g_strerror(err));
    return taken;
}
