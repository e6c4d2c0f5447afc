/*
 * log.h - logging to stdout, in the original service's format, for journald:
 *
 *     bouncedemails - ------------- INCOMING MESSAGE -------------
 *     bouncedemails - From:      MAILER-DAEMON@example.com (Mail Delivery System)
 *
 * Labelled lines pad the label to 11 columns. Every line is made valid UTF-8
 * and kept to one line before it is written, so hostile input cannot forge
 * log lines: C0 controls and DEL become "\t", "\n", "\r" or "\xHH", C1
 * controls and U+2028/U+2029 "\uHHHH", and each invalid UTF-8 byte "\xHH"
 * (a backslash stays as it is, as in the original's lines). Safe to call
 * from any thread; each line, or each held message, is written with a
 * single write() (finished by more only if a signal or a full pipe cuts it
 * short).
 */
#ifndef BOUNCEDEMAILS_LOG_H
#define BOUNCEDEMAILS_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level;

void log_set_debug(bool on);
bool log_debug_enabled(void);

void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "bouncedemails - LABEL      value": label padded to 11 columns. */
void log_field(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Holds this thread's lines until log_flush(), so that one message's lines
 * go out together in one write() and never interleave with another
 * thread's. An error line goes out at once, with what is held, or alone
 * while a mark (below) is live. */
void log_hold(void);
void log_flush(void);
/* A place in this thread's held lines, to go back to when the work logged
 * after it is undone (a batch rolled back). It lives until log_flush(). */
typedef struct log_mark {
    size_t len;
    unsigned long spills;
} log_mark;

log_mark log_mark_here(void);
/* Drops the lines held since mark. false when some lines since it had to go
 * out already (more than 1 MiB held, or the hold off): they cannot be taken
 * back. */
bool log_rewind(log_mark mark);

/* s escaped as log lines escape it, for other output that hostile input
 * reaches (an admin command's listing): at most max bytes of s, cut at a
 * character, "..." when cut; "-" for NULL or "". Free with g_free(). */
char *log_escape_text(const char *s, size_t max);

#define log_debug(...) do { if (log_debug_enabled()) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
