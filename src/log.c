/*
 * log.c - one-line, UTF-8-clean log output on stdout (see log.h).
 *
 * What a value may hold is escaped, not dropped: a reader that splits lines
 * on C1 NEL, U+2028 or U+2029 (as some log viewers and JSON tooling do) must
 * see no line break that we did not write, and an operator must still see
 * what the hostile bytes were.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#define LOG_LINE_MAX 8192
#define LOG_LABEL_WIDTH 11
/* The longest escape of one input character: "\u2028" or four "\xHH". */
#define LOG_ESCAPE_MAX 16
/* The lines a thread holds at most. A batch of 250 messages (amqp.batch)
 * writes some 140 KiB of them; past this they go out early, and can no
 * longer be rewound. */
#define LOG_HOLD_MAX (1u << 20)
#define LOG_HOLD_FIRST 32768

static atomic_bool log_debug_on;

/* This thread's held lines (log_hold() to log_flush()). */
static _Thread_local struct {
    bool on;
    bool marked;              /* a log_mark is live: an error goes out alone */
    unsigned long spills;     /* times lines went out that a mark could not take back */
    size_t len, cap;
    char *buf;                /* freed when the thread ends (log_hold_key) */
} log_held;

static pthread_key_t log_hold_key;
static pthread_once_t log_hold_once = PTHREAD_ONCE_INIT;

static void log_hold_key_make(void)
{
    pthread_key_create(&log_hold_key, free);
}

void log_set_debug(bool on) { atomic_store(&log_debug_on, on); }
bool log_debug_enabled(void) { return atomic_load(&log_debug_on); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t log_utf8_len(const char *s, size_t n)
{
    if ((unsigned char)*s < 0x80) return 1;
    gunichar c = g_utf8_get_char_validated(s, (gssize)n);
    return c == (gunichar)-1 || c == (gunichar)-2 ? 0 : (size_t)g_utf8_skip[*(const guchar *)s];
}

/* Characters that end or rewrite a line for some reader: C1 controls
 * (U+0085 NEL, U+009B CSI) and the Unicode line and paragraph separators. */
static bool log_unicode_break(gunichar c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

/* The escape for one input character at s (len bytes, 0: an invalid byte)
 * into out, or 0 when it is written as it is. */
static size_t log_escape(char out[LOG_ESCAPE_MAX], const unsigned char *s, size_t len)
{
    static const char *const named[] = { ['\t'] = "\\t", ['\n'] = "\\n", ['\r'] = "\\r" };
    if (len == 0 || (len == 1 && (*s < 0x20 || *s == 0x7f))) {
        if (len == 1 && *s < G_N_ELEMENTS(named) && named[*s])
            return (size_t)snprintf(out, LOG_ESCAPE_MAX, "%s", named[*s]);
        return (size_t)snprintf(out, LOG_ESCAPE_MAX, "\\x%02x", *s);
    }
    gunichar c = g_utf8_get_char((const char *)s);
    if (len > 1 && log_unicode_break(c))
        return (size_t)snprintf(out, LOG_ESCAPE_MAX, "\\u%04x", (unsigned)c);
    return 0;
}

/* Copies src into dst as one line of valid UTF-8, every control character,
 * line separator and invalid byte escaped ("\n", "\x1b", "\u2028", "\xff").
 * A character that does not fit whole is left out with the rest. Returns the
 * bytes written. */
static size_t log_sanitize(char *dst, size_t cap, const char *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t len = log_utf8_len(src + i, n - i);
        char esc[LOG_ESCAPE_MAX];
        size_t esc_len = log_escape(esc, s + i, len);
        const char *piece = esc_len ? esc : src + i;
        size_t piece_len = esc_len ? esc_len : len;
        if (out + piece_len > cap) break;
        memcpy(dst + out, piece, piece_len);
        out += piece_len;
        i += len ? len : 1;
    }
    return out;
}

char *log_escape_text(const char *s, size_t max)
{
    if (!s || !*s) return g_strdup("-");
    size_t n = strlen(s), take = n;
    if (take > max) {
        take = max;
        while (take > 0 && ((unsigned char)s[take] & 0xc0) == 0x80) take--;
    }
    size_t cap = take * LOG_ESCAPE_MAX;
    char *out = g_malloc(cap + 4);
    size_t len = log_sanitize(out, cap, s, take);
    if (take < n) {
        memcpy(out + len, "...", 3);
        len += 3;
    }
    out[len] = '\0';
    return out;
}

/* A signal (the daemon's SIGTERM) or a full pipe may cut a write short; the
 * rest still goes out. */
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

void log_hold(void)
{
    log_held.on = true;
}

void log_flush(void)
{
    log_write_all(log_held.buf, log_held.len);
    log_held.len = 0;
    log_held.spills++;
    log_held.on = false;
    log_held.marked = false;
}

log_mark log_mark_here(void)
{
    log_held.marked = true;
    return (log_mark){ log_held.len, log_held.spills };
}

bool log_rewind(log_mark mark)
{
    if (mark.spills != log_held.spills) {
        log_held.len = 0;
        return false;
    }
    if (mark.len < log_held.len) log_held.len = mark.len;
    return true;
}

/* Lines out before log_flush(): they can no longer be rewound. */
static void log_spill(const char *bytes, size_t len)
{
    log_write_all(bytes, len);
    log_held.spills++;
}

/* Room for len more held bytes, the buffer grown up to LOG_HOLD_MAX. */
static bool log_hold_room(size_t len)
{
    size_t need = log_held.len + len;
    if (need <= log_held.cap) return true;
    size_t cap = log_held.cap ? log_held.cap : LOG_HOLD_FIRST;
    while (cap < need && cap < LOG_HOLD_MAX) cap *= 2;
    if (cap < need) return false;
    char *grown = realloc(log_held.buf, cap);
    if (!grown) return false;
    pthread_once(&log_hold_once, log_hold_key_make);
    pthread_setspecific(log_hold_key, grown);
    log_held.buf = grown;
    log_held.cap = cap;
    return true;
}

/* A line goes out now, or joins the held ones; what no longer fits pushes
 * the held lines out first, so that the order stays. An error goes out at
 * once: it may be the last thing a failing process says. While a mark is
 * live it goes out alone, for the held lines describe work that the error
 * may yet undo (a batch rolled back, its lines rewound); else it takes the
 * held lines with it, in order. */
static void log_emit(const char *line, size_t len, bool urgent)
{
    if (!log_held.on) {
        log_spill(line, len);
        return;
    }
    if (urgent && log_held.marked) {
        log_write_all(line, len);
        return;
    }
    if (!log_hold_room(len)) {
        log_spill(log_held.buf, log_held.len);
        log_held.len = 0;
        if (!log_hold_room(len)) {
            log_spill(line, len);
            return;
        }
    }
    memcpy(log_held.buf + log_held.len, line, len);
    log_held.len += len;
    if (urgent) {
        log_spill(log_held.buf, log_held.len);
        log_held.len = 0;
    }
}

/* Where a value that vsnprintf() cut at len bytes ends: before a UTF-8
 * sequence the cut left incomplete, which would otherwise be logged as
 * invalid bytes ("\xc3") that the value never held. */
static size_t log_cut(const char *text, size_t len)
{
    size_t start = len;
    while (start > 0 && len - start < 4 && ((unsigned char)text[start - 1] & 0xc0) == 0x80) start--;
    if (start == 0 || (unsigned char)text[start - 1] < 0xc0) return len;
    start--;
    return (size_t)g_utf8_skip[(unsigned char)text[start]] > len - start ? start : len;
}

static void log_write(const char *prefix, bool urgent, const char *fmt, va_list ap)
{
    char text[LOG_LINE_MAX];
    char line[LOG_LINE_MAX + 64];
    int n = vsnprintf(text, sizeof text, fmt, ap);
    if (n < 0) return;
    size_t text_len = (size_t)n < sizeof text ? (size_t)n : log_cut(text, sizeof text - 1);
    size_t head = (size_t)snprintf(line, sizeof line, "bouncedemails - %s", prefix);
    size_t body = log_sanitize(line + head, sizeof line - head - 1, text, text_len);
    line[head + body] = '\n';
    log_emit(line, head + body + 1, urgent);
}

void log_msg(log_level level, const char *fmt, ...)
{
    static const char *const prefixes[] = { "DEBUG: ", "", "WARNING: ", "ERROR: " };
    va_list ap;
    va_start(ap, fmt);
    log_write(prefixes[level], level == LOG_LEVEL_ERROR, fmt, ap);
    va_end(ap);
}

void log_field(const char *label, const char *fmt, ...)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%-*s", LOG_LABEL_WIDTH, label);
    va_list ap;
    va_start(ap, fmt);
    log_write(prefix, false, fmt, ap);
    va_end(ap);
}
