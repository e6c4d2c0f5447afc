/*
 * cmd_sources.c - the messages that the commands `classify` and `ingest`
 * read from their PATH arguments: a file holding one message or an mbox
 * (split on "From " lines), a Maildir or plain directory (every regular file
 * below it, sorted by path, Maildir's half-written tmp/ left out), or "-"
 * for standard input. An unreadable path is reported on stderr and the rest
 * is still read.
 */
#include "cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <glib.h>

#include "classify/classify.h"

#define SOURCES_MAX_DEPTH 8

typedef struct sources_walk {
    const char *command;
    cmd_message_fn fn;
    void *arg;
    bool unreadable;
    bool stopped;
} sources_walk;

static void sources_failed(sources_walk *w, const char *path, const char *why)
{
    fprintf(stderr, "bouncedemails %s: %s: %s\n", w->command, path, why);
    w->unreadable = true;
}

/* Every message of one buffer (an mbox of one or more); an empty buffer is
 * still one (unreadable) message, so that it is reported, not skipped. */
static void sources_buffer(sources_walk *w, const char *data, size_t len, const char *source)
{
    size_t pos = 0, mlen = 0;
    const char *m = NULL;
    int index = 0;
    bool any;

    while (!w->stopped && ((any = classify_mbox_next(data, len, &pos, &m, &mlen)) || index == 0)) {
        if (!any) {
            m = data;
            mlen = len;
        }
        if (w->fn(w->arg, source, index, m, mlen) != 0)
            w->stopped = true;
        index++;
        if (!any)
            break;
    }
}

static void sources_file(sources_walk *w, const char *path)
{
    GError *err = NULL;
    char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        sources_failed(w, path, err->message);
        g_error_free(err);
        return;
    }
    sources_buffer(w, data, len, path);
    g_free(data);
}

static void sources_stdin(sources_walk *w)
{
    GByteArray *buf = g_byte_array_new();
    guint8 chunk[65536];
    ssize_t n;

    while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sources_failed(w, "-", g_strerror(errno));
            g_byte_array_free(buf, TRUE);
            return;
        }
        g_byte_array_append(buf, chunk, (guint)n);
    }
    sources_buffer(w, (const char *)buf->data, buf->len, "-");
    g_byte_array_free(buf, TRUE);
}

static gint sources_compare(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sources_collect(sources_walk *w, const char *dir, GPtrArray *files, int depth)
{
    GError *err = NULL;
    GDir *d = g_dir_open(dir, 0, &err);

    if (d == NULL) {
        sources_failed(w, dir, err->message);
        g_error_free(err);
        return;
    }
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        if (name[0] == '.')
            continue; /* hidden files and a Maildir's own bookkeeping */
        char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
            if (depth < SOURCES_MAX_DEPTH && strcmp(name, "tmp") != 0)
                sources_collect(w, path, files, depth + 1);
            g_free(path);
        } else if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            g_ptr_array_add(files, path);
        } else {
            g_free(path);
        }
    }
    g_dir_close(d);
}

static void sources_directory(sources_walk *w, const char *dir)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);

    sources_collect(w, dir, files, 0);
    g_ptr_array_sort(files, sources_compare);
    for (guint i = 0; i < files->len && !w->stopped; i++)
        sources_file(w, g_ptr_array_index(files, i));
    g_ptr_array_free(files, TRUE);
}

int cmd_each_message(const char *command, char *const *paths, int n, cmd_message_fn fn, void *arg)
{
    sources_walk w = { .command = command, .fn = fn, .arg = arg };

    for (int i = 0; i < n && !w.stopped; i++) {
        if (strcmp(paths[i], "-") == 0)
            sources_stdin(&w);
        else if (g_file_test(paths[i], G_FILE_TEST_IS_DIR))
            sources_directory(&w, paths[i]);
        else
            sources_file(&w, paths[i]);
        fflush(stdout);
    }
    return w.stopped ? -1 : w.unreadable ? EX_NOINPUT : 0;
}
