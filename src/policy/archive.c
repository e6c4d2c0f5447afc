/*
 * archive.c - keeps the raw bounce of every permanent failure, gzipped, under
 * permanent_bounced_emails_path/<first two characters>/<address>.gz, as the
 * original service did (an address too long for a file name goes by its
 * hash). The address becomes a file name that cannot leave the folder, and
 * a file appears only complete (temporary file + rename), so
 * a crash never leaves half an archive behind. There is no fsync: the
 * archive is a copy for people to read, the database is the record, and a
 * sync per permanent bounce would cost more than the rest of the message.
 *
 * A message is compressed and stored once, however many recipients it
 * names: the first recipient's file is the copy, and every other
 * recipient's file is a hard link to it (same inode, no second copy). What
 * the file system does per file was most of the queue's CPU, so:
 * folders are created only when a write finds them missing (not stat'ed or
 * made every time), and an older file of the address is unlinked before the
 * new one is renamed into place, because ext4 flushes a file renamed over
 * another to disk at once (auto_da_alloc), a block write per bounce.
 *
 * The writing is done off the commit path, by one writer thread for the
 * process: compression and the file system's work per file (an inode
 * allocation can scan bitmaps for a while on a file system with many
 * recently deleted files) no longer hold up ingest. A message's copy is
 * queued with its recipients' names; the queue holds at most
 * ARCHIVE_QUEUE_MAX_BYTES of messages, beyond which a writer waits, so that
 * a slow disk bounds memory, not the archive. policy_archive_flush() waits
 * for what is queued: the policy calls it just before each commit, so the
 * writer compresses while the rest of a batch is handled, and a bounce is
 * acknowledged only once its raw copy is written (a process killed between
 * the write and the commit writes it again on redelivery). Like the
 * original's archive it is not fsync'ed: a power loss may still take the
 * last files back, as it may the last commits (synchronous = NORMAL).
 */
#include "policy/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

static bool archive_safe_byte(unsigned char c, size_t pos)
{
    if (c == '.')
        return pos > 0;   /* never ".", "..", or a hidden file */
    return g_ascii_isalnum(c) || strchr("@_+=-", c) != NULL;
}

/* Longest name that, with ".gz" and the temporary file's ".tmp.XXXXXX",
 * stays within NAME_MAX (255). */
#define ARCHIVE_NAME_MAX (255 - 3 - 11)

/* The address as a file name: unsafe bytes percent-encoded. A valid address
 * may still encode to more than a file name holds (a long internationalised
 * local part triples): it is then named by its SHA-256, "h-<hex>". */
static char *archive_file_name(const char *address)
{
    GString *name = g_string_sized_new(strlen(address) + 8);
    for (size_t i = 0; address[i]; i++) {
        unsigned char c = (unsigned char)address[i];
        if (archive_safe_byte(c, i))
            g_string_append_c(name, (char)c);
        else
            g_string_append_printf(name, "%%%02X", c);
    }
    if (name->len > ARCHIVE_NAME_MAX) {
        char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, address, -1);
        g_string_printf(name, "h-%s", hash);
        g_free(hash);
    }
    return g_string_free(name, FALSE);
}

/* The folder of a file name: its first two characters (one when shorter). */
static char *archive_dir_of(const char *dir, const char *name)
{
    char prefix[3] = { name[0], name[1] ? name[1] : '\0', '\0' };
    return g_build_filename(dir, prefix, NULL);
}

char *policy_archive_path(const char *dir, const char *address)
{
    if (!address || !*address)
        return NULL;
    char *name = archive_file_name(address);
    char *sub = archive_dir_of(dir, name);
    char *file = g_strconcat(name, ".gz", NULL);
    char *path = g_build_filename(sub, file, NULL);
    char *out = strdup(path);
    g_free(name);
    g_free(sub);
    g_free(file);
    g_free(path);
    return out;
}

/* deflate's memory: an 8 KiB window and a small hash keep its state near
 * 50 KiB, under malloc's trim threshold. The default (320 KiB) made every
 * write map, zero and return that memory again, which cost more than the
 * compression; bounces are small, so the ratio hardly changes. The level is
 * handler.archive_compression_level: 0 (the default) keeps gzip's framing
 * and CRC but stores the bytes, because even level 1 costs about 60 µs for
 * a 4.5 KiB bounce on the benchmark's machine, a quarter of a message's CPU,
 * to save 2.5 KiB of disk. */
#define ARCHIVE_WINDOW_BITS 13
#define ARCHIVE_MEM_LEVEL 5
#define ARCHIVE_GZIP 16            /* added to the window bits: a gzip header */

static int archive_write_all(int fd, const unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t put = write(fd, buf, n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        buf += put;
        n -= (size_t)put;
    }
    return 0;
}

/* Gzips raw into fd at level (0-9); 0 or -1. */
static int archive_gzip_to(int fd, const char *raw, size_t len, int level)
{
    z_stream z = { 0 };
    unsigned char out[16384];
    if (deflateInit2(&z, level, Z_DEFLATED, ARCHIVE_WINDOW_BITS + ARCHIVE_GZIP,
                     ARCHIVE_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    z.next_in = (unsigned char *)(uintptr_t)raw;
    int rc = 0, zr;
    do {
        /* avail_in is 32 bits: feed a large message in slices. */
        if (z.avail_in == 0 && len > 0) {
            z.avail_in = len > (1u << 30) ? (1u << 30) : (uInt)len;
            len -= z.avail_in;
        }
        z.next_out = out;
        z.avail_out = sizeof out;
        zr = deflate(&z, len == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR || archive_write_all(fd, out, sizeof out - z.avail_out) != 0)
            rc = -1;
    } while (rc == 0 && zr != Z_STREAM_END);
    deflateEnd(&z);
    return rc;
}

/* Runs op(a, b) and, when it fails because the folder of b is missing,
 * creates that folder and runs it again. */
static int archive_in_folder(int (*op)(const char *, const char *), const char *a, const char *b)
{
    if (op(a, b) == 0)
        return 0;
    if (errno != ENOENT)
        return -1;
    char *sub = g_path_get_dirname(b);
    int made = g_mkdir_with_parents(sub, 0750);
    g_free(sub);
    return made == 0 ? op(a, b) : -1;
}

/* The new file takes the address's name; when the address has an older
 * file, that goes first (a reader may find no file for a moment, never half
 * of one). Most addresses have none: one system call for them. */
static int archive_rename_over(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    /* EINVAL: a file system without RENAME_NOREPLACE. */
    if (errno != EEXIST && errno != EINVAL)
        return -1;
    if (unlink(to) != 0 && errno != ENOENT)
        return -1;
    return rename(from, to);
}

static int archive_link_over(const char *from, const char *to)
{
    if (link(from, to) == 0)
        return 0;
    if (errno != EEXIST || unlink(to) != 0)
        return -1;
    return link(from, to);
}

/* Gzips raw to path by way of a temporary file; 0 or -1 (logged). */
static int archive_store(const char *path, const char *raw, size_t len, int level)
{
    char *tmp = g_strconcat(path, ".tmp.XXXXXX", NULL);
    int rc = -1;
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0640);
    if (fd < 0 && errno == ENOENT) {
        /* Only the first file of a folder creates it. */
        char *sub = g_path_get_dirname(path);
        /* The failed call filled in the template's XXXXXX. */
        memcpy(tmp + strlen(tmp) - 6, "XXXXXX", 6);
        if (g_mkdir_with_parents(sub, 0750) == 0)
            fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0640);
        g_free(sub);
    }
    if (fd < 0) {
        log_error("archive: cannot create %s: %s", tmp, strerror(errno));
        g_free(tmp);
        return -1;
    }
    int written = archive_gzip_to(fd, raw, len, level);
    if (close(fd) != 0 || written != 0 || archive_rename_over(tmp, path) != 0) {
        log_error("archive: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    } else {
        rc = 0;
    }
    g_free(tmp);
    return rc;
}

/* Messages queued for the writer, at most (the one that passes it waits). */
#define ARCHIVE_QUEUE_MAX_BYTES (4u << 20)

struct policy_archive_copy {
    int refs;                  /* the job's and the queued requests' (archive_writer.lock) */
    char *raw;
    size_t len;
    int level;                 /* gzip's compression level */
    char *path;                /* the file written for it, once written (the writer's own) */
};

typedef struct archive_request {
    policy_archive_copy *copy;
    char *path;                /* this recipient's file */
} archive_request;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t queued;     /* a request is waiting */
    pthread_cond_t progress;   /* a request is done: room in the queue, or flushed */
    GQueue requests;
    size_t bytes;              /* of the copies alive */
    size_t pending;            /* requests queued or being written */
    pthread_once_t once;
    bool running;              /* the writer thread started (set under once) */
} archive_writer = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .queued = PTHREAD_COND_INITIALIZER,
    .progress = PTHREAD_COND_INITIALIZER,
    .requests = G_QUEUE_INIT,
    .once = PTHREAD_ONCE_INIT,
};

/* With archive_writer.lock held. */
static void archive_copy_unref(policy_archive_copy *copy)
{
    if (--copy->refs > 0)
        return;
    archive_writer.bytes -= copy->len;
    pthread_cond_broadcast(&archive_writer.progress);
    g_free(copy->raw);
    free(copy->path);
    g_free(copy);
}

/* The first recipient's file is the message's copy; the others link to it
 * (each writes its own when the copy could not be written or linked). A
 * name that is the copy's own is left alone: linking over it would unlink
 * the only name the copy has. */
static void archive_request_run(archive_request *r)
{
    policy_archive_copy *copy = r->copy;
    if (copy->path != NULL && strcmp(copy->path, r->path) == 0)
        return;
    if (copy->path != NULL && archive_in_folder(archive_link_over, copy->path, r->path) == 0)
        return;
    if (copy->path != NULL)
        log_warn("archive: cannot link %s to %s (%s), writing a copy", r->path, copy->path, strerror(errno));
    if (archive_store(r->path, copy->raw, copy->len, copy->level) == 0 && copy->path == NULL)
        copy->path = strdup(r->path);
}

/* With archive_writer.lock held. */
static void archive_request_end(archive_request *r)
{
    free(r->path);
    archive_copy_unref(r->copy);
    g_free(r);
}

static void *archive_writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&archive_writer.lock);
    for (;;) {
        while (g_queue_is_empty(&archive_writer.requests))
            pthread_cond_wait(&archive_writer.queued, &archive_writer.lock);
        archive_request *r = g_queue_pop_head(&archive_writer.requests);
        pthread_mutex_unlock(&archive_writer.lock);
        archive_request_run(r);
        pthread_mutex_lock(&archive_writer.lock);
        archive_request_end(r);
        archive_writer.pending--;
        pthread_cond_broadcast(&archive_writer.progress);
    }
    return NULL;
}

static void archive_writer_start(void)
{
    pthread_t thread;
    int err = pthread_create(&thread, NULL, archive_writer_main, NULL);
    if (err != 0) {
        /* Started at the first permanent bounce, maybe long after start-up:
         * not a reason to stop handling bounces. */
        log_error("archive: cannot start the writer thread, writing on the commit path: %s", strerror(err));
        return;
    }
    pthread_setname_np(thread, "archive");
    pthread_detach(thread);
    archive_writer.running = true;
}

int policy_archive_write(const char *dir, const char *address, const char *raw, size_t len, int level,
                         policy_archive_copy **copy)
{
    char *path = policy_archive_path(dir, address);
    if (!path)
        return -1;
    pthread_once(&archive_writer.once, archive_writer_start);
    archive_request *r = g_new(archive_request, 1);
    r->path = path;
    pthread_mutex_lock(&archive_writer.lock);
    if (*copy == NULL) {
        while (archive_writer.bytes > 0 && archive_writer.bytes + len > ARCHIVE_QUEUE_MAX_BYTES)
            pthread_cond_wait(&archive_writer.progress, &archive_writer.lock);
        *copy = g_new0(policy_archive_copy, 1);
        (*copy)->refs = 1;
        (*copy)->raw = g_memdup2(raw, len);
        (*copy)->len = len;
        (*copy)->level = level;
        archive_writer.bytes += len;
    }
    (*copy)->refs++;
    r->copy = *copy;
    if (archive_writer.running) {
        g_queue_push_tail(&archive_writer.requests, r);
        archive_writer.pending++;
        pthread_cond_signal(&archive_writer.queued);
    } else {
        /* Under the lock: one writer at a time, as with the thread. */
        archive_request_run(r);
        archive_request_end(r);
    }
    pthread_mutex_unlock(&archive_writer.lock);
    return 0;
}

void policy_archive_release(policy_archive_copy *copy)
{
    if (copy == NULL)
        return;
    pthread_mutex_lock(&archive_writer.lock);
    archive_copy_unref(copy);
    pthread_mutex_unlock(&archive_writer.lock);
}

void policy_archive_flush(void)
{
    pthread_mutex_lock(&archive_writer.lock);
    while (archive_writer.pending > 0)
        pthread_cond_wait(&archive_writer.progress, &archive_writer.lock);
    pthread_mutex_unlock(&archive_writer.lock);
}
