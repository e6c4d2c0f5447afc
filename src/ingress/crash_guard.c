/*
 * crash_guard.c - marks of attempts at a message, one small file each, that
 * outlive the process which made them (see crash_guard.h).
 *
 * A mark holds the number of attempts begun at its message and not ended,
 * in decimal. Its name is the SHA-256 of the message (and its envelope,
 * after a NUL), so that another process, started after this one died,
 * finds it from the delivery alone.
 */
#include "ingress/crash_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "log.h"

struct crash_guard {
    char *path;
};

/* Counts stop here: a message set aside again and again (its quarantine
 * refused by the store) must not count round to an innocent 1. */
#define CRASH_GUARD_COUNT_MAX 1000

/* The attempts the mark at path records, 0 when there is none. A mark that
 * does not hold a count, or cannot be read, still says that an attempt was
 * begun. */
static int crash_guard_read(const char *path)
{
    char *text = NULL;
    GError *error = NULL;
    if (!g_file_get_contents(path, &text, NULL, &error)) {
        bool absent = g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
                      g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR);
        if (!absent)
            log_warn("cannot read the mark %s, counted as one attempt: %s", path, error->message);
        g_error_free(error);
        return absent ? 0 : 1;
    }
    long n = strtol(text, NULL, 10);
    g_free(text);
    if (n <= 0) return 1;
    return n < CRASH_GUARD_COUNT_MAX ? (int)n : CRASH_GUARD_COUNT_MAX;
}

/* Replaces the mark at path by way of a new file renamed over it, so that a
 * write that fails (a full disk) leaves the count that was there. */
static int crash_guard_write(const char *path, int attempts)
{
    char text[16];
    int len = snprintf(text, sizeof text, "%d\n", attempts);
    /* The process's own, should two processes mark the same message. */
    char *tmp = g_strdup_printf("%s.%ld.new", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = -1;
    if (fd >= 0) {
        ssize_t put = write(fd, text, (size_t)len);
        rc = close(fd) == 0 && put == len && rename(tmp, path) == 0 ? 0 : -1;
        if (rc != 0) {
            int saved = errno;
            unlink(tmp);
            errno = saved;
        }
    }
    g_free(tmp);
    return rc;
}

/* The first mark of a message: a new file, written in place, since a
 * process that dies before its count is written leaves an empty mark, which
 * counts one attempt all the same (and so does one whose write failed).
 * Every `stdin` run makes one, so it costs what it must: one file created
 * (its folder only when missing) and, at the end, removed. A mark that
 * appeared since it was looked for is counted on. */
static int crash_guard_create(const char *dir, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 && errno == ENOENT && g_mkdir_with_parents(dir, 0750) == 0)
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return errno == EEXIST ? crash_guard_write(path, crash_guard_read(path) + 1) : -1;
    if (write(fd, "1\n", 2) != 2)
        log_debug("the mark %s holds no count (%s): it counts one attempt all the same", path, strerror(errno));
    close(fd);
    return 0;
}

crash_guard *crash_guard_begin(const char *dir, const char *raw, size_t len, const char *envelope,
                               int *unfinished)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, (const guchar *)raw, (gssize)len);
    if (envelope) {
        g_checksum_update(sum, (const guchar *)"", 1);
        g_checksum_update(sum, (const guchar *)envelope, -1);
    }
    char *path = g_build_filename(dir, g_checksum_get_string(sum), NULL);
    g_checksum_free(sum);
    *unfinished = crash_guard_read(path);
    int count = *unfinished < CRASH_GUARD_COUNT_MAX ? *unfinished + 1 : CRASH_GUARD_COUNT_MAX;
    if ((*unfinished == 0 ? crash_guard_create(dir, path) : crash_guard_write(path, count)) != 0) {
        log_warn("cannot mark the message in hand in %s (%s): a message that kills the process would "
                 "not be recognised at its next delivery", dir, strerror(errno));
        g_free(path);
        return NULL;
    }
    crash_guard *g = g_new(crash_guard, 1);
    g->path = path;
    return g;
}

void crash_guard_end(crash_guard *g)
{
    if (!g) return;
    if (g_unlink(g->path) != 0 && errno != ENOENT)
        log_warn("cannot remove the mark %s: %s", g->path, strerror(errno));
    crash_guard_keep(g);
}

void crash_guard_keep(crash_guard *g)
{
    if (!g) return;
    g_free(g->path);
    g_free(g);
}

void crash_guard_sweep(const char *dir, long max_age_s)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d) return;
    time_t before = time(NULL) - max_age_s;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        char *path = g_build_filename(dir, name, NULL);
        GStatBuf st;
        if (g_stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < before)
            g_unlink(path);
        g_free(path);
    }
    g_dir_close(d);
}
