/*
 * log.c - one-line, UTF-8-clean log output on stdout (see log.h).
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#define LOG_LINE_MAX 8192
#define LOG_LABEL_WIDTH 11

static atomic_bool log_debug_on;

void log_set_debug(bool on) { atomic_store(&log_debug_on, on); }
bool log_debug_enabled(void) { return atomic_load(&log_debug_on); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t log_utf8_len(const char *s, size_t n)
{
    if ((unsigned char)*s < 0x80) return 1;
    gunichar c = g_utf8_get_char_validated(s, (gssize)n);
    return c == (gunichar)-1 || c == (gunichar)-2 ? 0 : (size_t)g_utf8_skip[*(const guchar *)s];
}

/* Copies src into dst as one line of valid UTF-8: control characters become
 * spaces and invalid bytes U+FFFD. Returns the bytes written. */
static size_t log_sanitize(char *dst, size_t cap, const char *src, size_t n)
{
    static const char replacement[] = "\xef\xbf\xbd";
    const unsigned char *s = (const unsigned char *)src;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t len = log_utf8_len(src + i, n - i);
        if (len == 0) {
            if (out + 3 > cap) break;
            memcpy(dst + out, replacement, 3);
            out += 3;
            i++;
            continue;
        }
        if (out + len > cap) break;
        if (len == 1 && (s[i] < 0x20 || s[i] == 0x7f))
            dst[out] = ' ';
        else
            memcpy(dst + out, s + i, len);
        out += len;
        i += len;
    }
    return out;
}

/* A signal (the daemon's SIGTERM) or a full pipe may cut a write short; the
 * rest of the line still goes out. */
static void log_write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDOUT_FILENO, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        buf += w;
        len -= (size_t)w;
    }
}

static void log_write(const char *prefix, const char *fmt, va_list ap)
{
    char text[LOG_LINE_MAX];
    char line[LOG_LINE_MAX + 64];
    int n = vsnprintf(text, sizeof text, fmt, ap);
    if (n < 0) return;
    size_t text_len = (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    size_t head = (size_t)snprintf(line, sizeof line, "bouncedemails - %s", prefix);
    size_t body = log_sanitize(line + head, sizeof line - head - 1, text, text_len);
    line[head + body] = '\n';
    log_write_all(line, head + body + 1);
}

void log_msg(log_level level, const char *fmt, ...)
{
    static const char *const prefixes[] = { "DEBUG: ", "", "WARNING: ", "ERROR: " };
    va_list ap;
    va_start(ap, fmt);
    log_write(prefixes[level], fmt, ap);
    va_end(ap);
}

void log_field(const char *label, const char *fmt, ...)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%-*s", LOG_LABEL_WIDTH, label);
    va_list ap;
    va_start(ap, fmt);
    log_write(prefix, fmt, ap);
    va_end(ap);
}
