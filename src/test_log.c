/*
 * test_log.c - unit tests of log.c: every control character, line separator
 * and invalid UTF-8 byte in a logged value is escaped, so that no reader sees
 * a line we did not write; a held message's lines go out in one write(), and
 * those of undone work can be dropped.
 * Output is caught on a datagram socket put in place of stdout, where each
 * write() arrives as one datagram.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "log.h"

typedef struct capture {
    int saved_stdout;
    int reader;
} capture;

static void capture_start(capture *c)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    int size = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    c->saved_stdout = dup(STDOUT_FILENO);
    assert_true(c->saved_stdout >= 0);
    assert_int_equal(dup2(sv[1], STDOUT_FILENO), STDOUT_FILENO);
    close(sv[1]);
    c->reader = sv[0];
}

static void capture_stop(capture *c)
{
    dup2(c->saved_stdout, STDOUT_FILENO);
    close(c->saved_stdout);
    close(c->reader);
}

/* The next write() that reached stdout, NUL-terminated, or "" when none is
 * waiting. */
static size_t capture_next(capture *c, char *buf, size_t cap)
{
    ssize_t n = recv(c->reader, buf, cap - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static size_t capture_count(capture *c)
{
    char buf[65536];
    size_t n = 0;
    while (capture_next(c, buf, sizeof buf) > 0) n++;
    return n;
}

/* Logs value in a labelled line and returns the one write it made. */
static char *logged(const char *value)
{
    static char buf[65536];
    capture c;
    capture_start(&c);
    log_field("Permanent:", "%s", value);
    size_t n = capture_next(&c, buf, sizeof buf);
    char extra[16];
    size_t more = capture_next(&c, extra, sizeof extra);
    capture_stop(&c);
    assert_true(n > 0);
    assert_int_equal(more, 0);
    return buf;
}

/* One line: a single newline, at the end. */
static void assert_one_line(const char *line)
{
    const char *nl = strchr(line, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0');
}

static void test_c0_controls_and_del_are_escaped(void **state)
{
    (void)state;
    const char *line = logged("a\nbouncedemails - Permanent: victim@example.org\r\t\x1b[2J\x01\x7f" "end");
    assert_one_line(line);
    assert_string_equal(line, "bouncedemails - Permanent: a\\nbouncedemails - Permanent: victim@example.org"
                              "\\r\\t\\x1b[2J\\x01\\x7fend\n");
}

static void test_c1_controls_and_unicode_separators_are_escaped(void **state)
{
    (void)state;
    /* U+0085 NEL, U+009B CSI, U+2028, U+2029, each in UTF-8. */
    const char *line = logged("x\xc2\x85" "Permanent: v1@example.org\xc2\x9b" "31m\xe2\x80\xa8" "v2\xe2\x80\xa9" "v3");
    assert_one_line(line);
    assert_string_equal(line, "bouncedemails - Permanent: x\\u0085Permanent: v1@example.org\\u009b31m"
                              "\\u2028v2\\u2029v3\n");
    assert_null(strstr(line, "\xc2\x85"));
    assert_null(strstr(line, "\xe2\x80\xa8"));
}

static void test_invalid_utf8_is_escaped_byte_by_byte(void **state)
{
    (void)state;
    /* A lone continuation byte, Latin-1, an overlong NUL, a cut sequence. */
    const char *line = logged("\x80" "M\xfc" "ller \xc0\x80 \xe2\x80");
    assert_string_equal(line, "bouncedemails - Permanent: \\x80M\\xfcller \\xc0\\x80 \\xe2\\x80\n");
}

static void test_printable_text_is_kept(void **state)
{
    (void)state;
    const char *value = "Müller <m@example.org> 日本 \\x41 (550 5.1.1)";
    const char *line = logged(value);
    char want[256];
    snprintf(want, sizeof want, "bouncedemails - Permanent: %s\n", value);
    assert_string_equal(line, want);
}

/* The longest line is cut at a character, never inside a UTF-8 sequence
 * (which would show as "\xc3", a byte the value never had) nor inside an
 * escape. */
static void test_a_long_value_is_cut_cleanly(void **state)
{
    (void)state;
    static const char head[] = "bouncedemails - Permanent: ";
    char value[20001];
    for (size_t i = 0; i < sizeof value - 1; i += 2) {
        value[i] = (char)0xc3;
        value[i + 1] = (char)0xa9; /* é */
    }
    value[sizeof value - 1] = '\0';
    const char *line = logged(value);
    assert_one_line(line);
    assert_true(g_utf8_validate(line, -1, NULL));
    assert_null(strchr(line, '\\'));
    size_t body = strlen(line) - strlen(head) - 1;
    assert_true(body > 8000 && body < 8192);
    assert_int_equal(body % 2, 0);

    memset(value, '\x01', sizeof value - 1);
    line = logged(value);
    assert_one_line(line);
    body = strlen(line) - strlen(head) - 1;
    assert_true(body > 8000);
    assert_int_equal(body % 4, 0);
    for (size_t i = 0; i < body; i += 4) assert_memory_equal(line + strlen(head) + i, "\\x01", 4);
}

/* What admin commands print of stored text is escaped like a log line, and
 * cut at a character. */
static void test_escape_text_for_other_output(void **state)
{
    (void)state;
    char *t = log_escape_text("a\nb\xc2\x85" "c\xe2\x80\xa8" "d\xff", SIZE_MAX);
    assert_string_equal(t, "a\\nb\\u0085c\\u2028d\\xff");
    g_free(t);
    t = log_escape_text("\xc3\xa9t\xc3\xa9", 4);   /* "été" cut inside the second é */
    assert_string_equal(t, "\xc3\xa9t...");
    g_free(t);
    t = log_escape_text(NULL, 10);
    assert_string_equal(t, "-");
    g_free(t);
}

static void test_held_lines_go_out_in_one_write(void **state)
{
    (void)state;
    char buf[65536];
    capture c;
    capture_start(&c);
    log_hold();
    log_info("------------- INCOMING MESSAGE -------------");
    log_field("From:", "%s", "MAILER-DAEMON@example.com");
    log_field("Permanent:", "%s", "a@example.org");
    size_t early = capture_count(&c);
    log_flush();
    size_t n = capture_next(&c, buf, sizeof buf);
    size_t after = capture_count(&c);
    capture_stop(&c);
    assert_int_equal(early, 0);
    assert_true(n > 0);
    assert_int_equal(after, 0);
    assert_string_equal(buf, "bouncedemails - ------------- INCOMING MESSAGE -------------\n"
                             "bouncedemails - From:      MAILER-DAEMON@example.com\n"
                             "bouncedemails - Permanent: a@example.org\n");
}

/* Without log_hold() every line is a write of its own, at once. */
static void test_lines_not_held_go_out_at_once(void **state)
{
    (void)state;
    capture c;
    capture_start(&c);
    log_info("one");
    log_info("two");
    size_t n = capture_count(&c);
    capture_stop(&c);
    assert_int_equal(n, 2);
}

/* An error pushes out what is held with it, in order. */
static void test_an_error_is_not_held(void **state)
{
    (void)state;
    char buf[65536];
    capture c;
    capture_start(&c);
    log_hold();
    log_info("before");
    log_error("store: commit: disk I/O error");
    size_t n = capture_next(&c, buf, sizeof buf);
    log_info("after");
    size_t pending = capture_count(&c);
    log_flush();
    size_t last = capture_count(&c);
    capture_stop(&c);
    assert_true(n > 0);
    assert_string_equal(buf, "bouncedemails - before\nbouncedemails - ERROR: store: commit: disk I/O error\n");
    assert_int_equal(pending, 0);
    assert_int_equal(last, 1);
}

/* While a mark is live an error goes out alone: the held lines describe
 * work that may yet be rewound. */
static void test_an_error_under_a_mark_goes_out_alone(void **state)
{
    (void)state;
    char error[256], buf[65536];
    capture c;
    capture_start(&c);
    log_hold();
    log_mark_here();
    log_info("before");
    log_error("store: a constraint failed");
    size_t n = capture_next(&c, error, sizeof error);
    log_info("after");
    log_flush();
    capture_next(&c, buf, sizeof buf);
    capture_stop(&c);
    assert_true(n > 0);
    assert_string_equal(error, "bouncedemails - ERROR: store: a constraint failed\n");
    assert_string_equal(buf, "bouncedemails - before\nbouncedemails - after\n");
}

/* stdout into a temporary file, for output larger than a datagram. */
static int file_capture_start(int *saved)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    int fd = dup(fileno(f));
    fclose(f);
    *saved = dup(STDOUT_FILENO);
    assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    return fd;
}

/* What was written, NUL-terminated; g_free() it. */
static char *file_capture_stop(int fd, int saved)
{
    dup2(saved, STDOUT_FILENO);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = g_malloc((size_t)size + 1);
    assert_int_equal(pread(fd, text, (size_t)size, 0), size);
    text[size] = '\0';
    close(fd);
    return text;
}

/* More than the hold keeps (1 MiB) goes out early, nothing lost, order kept. */
static void test_a_large_message_is_not_lost(void **state)
{
    (void)state;
    enum { LINES = 30000 };
    int saved, fd = file_capture_start(&saved);
    log_hold();
    for (int i = 0; i < LINES; i++) log_field("Permanent:", "user%05d@example.org", i);
    log_flush();
    char *text = file_capture_stop(fd, saved);
    int next = 0;
    for (char *line = text; *line; next++) {
        char want[64];
        int w = snprintf(want, sizeof want, "bouncedemails - Permanent: user%05d@example.org\n", next);
        assert_memory_equal(line, want, (size_t)w);
        line += w;
    }
    g_free(text);
    assert_int_equal(next, LINES);
}

/* Lines of undone work are dropped while held, back to a mark; the lines
 * before the mark and after the rewind go out at log_flush(). */
static void test_rewound_lines_never_go_out(void **state)
{
    (void)state;
    char buf[65536];
    capture c;
    capture_start(&c);
    log_hold();
    log_field("Permanent:", "%s", "earlier@example.org");
    log_mark start = log_mark_here();
    log_field("Permanent:", "%s", "rolled-back@example.org");
    bool whole = log_rewind(start);
    log_field("Permanent:", "%s", "committed@example.org");
    size_t early = capture_count(&c);
    log_flush();
    size_t n = capture_next(&c, buf, sizeof buf);
    capture_stop(&c);
    assert_true(whole);
    assert_int_equal(early, 0);
    assert_true(n > 0);
    assert_string_equal(buf, "bouncedemails - Permanent: earlier@example.org\n"
                             "bouncedemails - Permanent: committed@example.org\n");
}

/* Held lines that had to go out (more than the hold keeps) cannot be taken
 * back: log_rewind() says so, and drops what is still held; a new mark
 * rewinds again. */
static void test_rewind_says_when_lines_went_out_already(void **state)
{
    (void)state;
    enum { LINES = 30000 };
    int saved, fd = file_capture_start(&saved);
    log_hold();
    log_mark start = log_mark_here();
    for (int i = 0; i < LINES; i++) log_field("Permanent:", "user%05d@example.org", i);
    bool whole = log_rewind(start);
    log_flush();
    log_hold();
    log_mark next = log_mark_here();
    log_info("rewound");
    bool next_whole = log_rewind(next);
    log_flush();
    char *text = file_capture_stop(fd, saved);
    assert_false(whole);
    assert_non_null(strstr(text, "user00000@"));
    assert_null(strstr(text, "user29999@"));
    assert_true(next_whole);
    assert_null(strstr(text, "rewound"));
    g_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c0_controls_and_del_are_escaped),
        cmocka_unit_test(test_c1_controls_and_unicode_separators_are_escaped),
        cmocka_unit_test(test_invalid_utf8_is_escaped_byte_by_byte),
        cmocka_unit_test(test_printable_text_is_kept),
        cmocka_unit_test(test_a_long_value_is_cut_cleanly),
        cmocka_unit_test(test_escape_text_for_other_output),
        cmocka_unit_test(test_held_lines_go_out_in_one_write),
        cmocka_unit_test(test_lines_not_held_go_out_at_once),
        cmocka_unit_test(test_an_error_is_not_held),
        cmocka_unit_test(test_an_error_under_a_mark_goes_out_alone),
        cmocka_unit_test(test_a_large_message_is_not_lost),
        cmocka_unit_test(test_rewound_lines_never_go_out),
        cmocka_unit_test(test_rewind_says_when_lines_went_out_already),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
