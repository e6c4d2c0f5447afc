/*
 * archive.c - keeps the raw bounce of every permanent failure, gzipped, under
 * permanent_bounced_emails_path/<first two characters>/<address>.gz, as the
 * original service did (an address too long for a file name goes by its hash). The address becomes a file name that cannot leave
 * the folder, and a file appears only complete (temporary file + rename), so
 * a crash never leaves half an archive behind. There is no fsync: the
 * archive is a copy for people to read, the database is the record, and a
 * sync per permanent bounce would cost more than the rest of the message.
 */
#include "policy/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
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
 * compression; bounces are small, so the ratio hardly changes. The fastest
 * level: the archive is read by people now and then, written for every
 * permanent failure. */
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

/* Gzips raw into fd; 0 or -1. */
static int archive_gzip_to(int fd, const char *raw, size_t len)
{
    z_stream z = { 0 };
    unsigned char out[16384];
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, ARCHIVE_WINDOW_BITS + ARCHIVE_GZIP,
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

int policy_archive_write(const char *dir, const char *address, const char *raw, size_t len)
{
    char *path = policy_archive_path(dir, address);
    if (!path)
        return -1;
    char *sub = g_path_get_dirname(path);
    char *tmp = g_strconcat(path, ".tmp.XXXXXX", NULL);
    int rc = -1;
    int fd = -1;
    if (g_mkdir_with_parents(sub, 0750) != 0) {
        log_error("archive: cannot create %s: %s", sub, strerror(errno));
        goto out;
    }
    fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("archive: cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    int written = archive_gzip_to(fd, raw, len);
    if (close(fd) != 0 || written != 0 || rename(tmp, path) != 0) {
        log_error("archive: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    g_free(sub);
    g_free(tmp);
    free(path);
    return rc;
}
