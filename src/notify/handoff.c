/*
 * handoff.c - the daemon's notifier takes the notifications that `stdin`
 * runs queued, woken through a Unix datagram socket (see handoff.h).
 */
#include "notify/handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>

#include "log.h"

struct handoff {
    int fd;
    struct sockaddr_un addr;
    ino_t ino;                 /* of the socket file we made */
};

static bool handoff_address(const char *dir, struct sockaddr_un *addr)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    int len = snprintf(addr->sun_path, sizeof addr->sun_path, "%s/%s", dir, HANDOFF_SOCKET);
    return len > 0 && (size_t)len < sizeof addr->sun_path;
}

static int handoff_socket(void)
{
    return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* Whether a process holds the socket at addr: connecting to a datagram
 * socket nobody holds is refused. */
static bool handoff_held(const struct sockaddr_un *addr)
{
    int fd = handoff_socket();
    if (fd < 0)
        return false;
    bool held = connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0;
    close(fd);
    return held;
}

handoff *handoff_listen(const char *dir)
{
    handoff *h = g_new0(handoff, 1);
    if (dir == NULL || !handoff_address(dir, &h->addr)) {
        log_warn("notify: no hand-off socket in the archive folder (its path is too long): "
                 "`stdin` runs notify for themselves");
        g_free(h);
        return NULL;
    }
    if (handoff_held(&h->addr)) {
        log_info("notify: another notifier takes the hand-offs of `stdin` runs at %s", h->addr.sun_path);
        g_free(h);
        return NULL;
    }
    h->fd = handoff_socket();
    struct stat made;
    if (h->fd < 0 || g_mkdir_with_parents(dir, 0750) != 0 || (unlink(h->addr.sun_path) != 0 && errno != ENOENT) ||
        bind(h->fd, (const struct sockaddr *)&h->addr, sizeof h->addr) != 0 ||
        chmod(h->addr.sun_path, 0660) != 0 || stat(h->addr.sun_path, &made) != 0) {
        log_warn("notify: cannot listen for the hand-offs of `stdin` runs at %s: %s "
                 "(they notify for themselves)", h->addr.sun_path, g_strerror(errno));
        if (h->fd >= 0)
            close(h->fd);
        g_free(h);
        return NULL;
    }
    h->ino = made.st_ino;
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
    while (recv(h->fd, byte, sizeof byte, MSG_DONTWAIT) >= 0)
        any = true;
    return any;
}

void handoff_close(handoff *h)
{
    if (h == NULL)
        return;
    struct stat now;
    if (stat(h->addr.sun_path, &now) == 0 && now.st_ino == h->ino)
        unlink(h->addr.sun_path);
    close(h->fd);
    g_free(h);
}

bool handoff_send(const char *dir)
{
    struct sockaddr_un addr;
    if (dir == NULL || !handoff_address(dir, &addr))
        return false;
    int fd = handoff_socket();
    if (fd < 0)
        return false;
    bool taken = sendto(fd, "w", 1, MSG_DONTWAIT, (const struct sockaddr *)&addr, sizeof addr) == 1;
    close(fd);
    return taken;
}
