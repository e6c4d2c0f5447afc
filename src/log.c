/*
 * log.c - one-line, UTF-8-clean log output on stdout (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192
#define LOG_LABEL_WIDTH 11

static atomic_bool log_debug_on;

void log_set_debug(bool on) { atomic_store(&log_debug_on, on); }
bool log_debug_enabled(void) { return atomic_load(&log_debug_on); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t log_utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned int cp;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { len = 2; cp = s[0] & 0x1f; }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) { len = 3; cp = s[0] & 0x0f; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { len = 4; cp = s[0] & 0x07; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Copies src into dst as one line of valid UTF-8: control characters become
 * spaces and invalid bytes U+FFFD. Returns the bytes written. */
static size_t log_sanitize(char *dst, size_t cap, const char *src, size_t n)
{
    static const char replacement[] = "\xef\xbf\xbd";
    const unsigned char *s = (const unsigned char *)src;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t len = log_utf8_len(s + i, n - i);
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
    ssize_t ignored = write(STDOUT_FILENO, line, head + body + 1);
    (void)ignored;
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
