/*
 * test_crash_guard.c - unit tests of the crash guard: an attempt that ends
 * leaves no mark, one that never ends is counted at the next, each message
 * (and each envelope of a message) has its own mark, and a folder that cannot be written leaves the caller
 * unguarded rather than stopped; a mark kept counts, one cut short counts
 * as an attempt, and old marks are swept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "ingress/crash_guard.h"

static const char MESSAGE[] = "From: MAILER-DAEMON\r\nSubject: failure\r\n\r\nbody\r\n";
static const char OTHER[] = "From: MAILER-DAEMON\r\nSubject: another\r\n\r\nbody\r\n";

static int setup(void **state)
{
    char *root = g_dir_make_tmp("bd-guard-XXXXXX", NULL);
    assert_non_null(root);
    *state = root;
    return 0;
}

static int teardown(void **state)
{
    char *argv[] = { "rm", "-rf", *state, NULL };
    g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    g_free(*state);
    return 0;
}

static size_t marks(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    size_t n = 0;
    if (!d) return 0;
    while (g_dir_read_name(d)) n++;
    g_dir_close(d);
    return n;
}

static void test_an_attempt_that_returns_leaves_no_mark(void **state)
{
    char *dir = g_build_filename(*state, "in-hand", NULL);
    int unfinished = -1;
    crash_guard *g = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_non_null(g);
    assert_int_equal(unfinished, 0);
    assert_int_equal(marks(dir), 1);
    crash_guard_end(g);
    assert_int_equal(marks(dir), 0);
    g = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_int_equal(unfinished, 0);
    crash_guard_end(g);
    g_free(dir);
}

/* A process that died during its attempt never called crash_guard_end():
 * here the guard is simply not ended. */
static void test_attempts_that_never_returned_are_counted(void **state)
{
    char *dir = g_build_filename(*state, "in-hand", NULL);
    int unfinished = -1;
    crash_guard *first = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_int_equal(unfinished, 0);
    crash_guard *second = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_int_equal(unfinished, 1);
    crash_guard *third = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_int_equal(unfinished, 2);
    crash_guard_end(third);
    assert_int_equal(marks(dir), 0);
    crash_guard_end(second);   /* already gone: nothing to do */
    crash_guard_end(first);
    g_free(dir);
}

static void test_each_message_has_its_own_mark(void **state)
{
    char *dir = g_build_filename(*state, "in-hand", NULL);
    int unfinished = -1;
    crash_guard *dead = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    crash_guard *other = crash_guard_begin(dir, OTHER, strlen(OTHER), NULL, &unfinished);
    assert_int_equal(unfinished, 0);
    assert_int_equal(marks(dir), 2);
    crash_guard_end(other);
    crash_guard *again = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_int_equal(unfinished, 1);
    crash_guard_end(again);
    crash_guard_end(dead);
    g_free(dir);
}

/* Postfix's pipe runs one `stdin` a recipient, maybe at once: the same
 * bytes for two envelopes are two attempts, each counted on its own. A
 * mark without an envelope is named by the bytes alone, as marks were
 * before envelopes, so that those left by an older version still count. */
static void test_each_envelope_has_its_own_mark(void **state)
{
    char *dir = g_build_filename(*state, "in-hand", NULL);
    int unfinished = -1;
    crash_guard *alice = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), "alice@example.org", &unfinished);
    crash_guard *bob = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), "bob@example.org", &unfinished);
    assert_int_equal(unfinished, 0);
    crash_guard *bare = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_int_equal(unfinished, 0);
    assert_int_equal(marks(dir), 3);
    crash_guard_keep(bob);
    crash_guard *bob_again = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), "bob@example.org", &unfinished);
    assert_int_equal(unfinished, 1);
    char *by_bytes = g_compute_checksum_for_string(G_CHECKSUM_SHA256, MESSAGE, -1);
    char *path = g_build_filename(dir, by_bytes, NULL);
    assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    crash_guard_end(bare);
    assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    crash_guard_end(bob_again);
    crash_guard_end(alice);
    assert_int_equal(marks(dir), 0);
    g_free(path);
    g_free(by_bytes);
    g_free(dir);
}

static void test_a_folder_that_cannot_be_made_leaves_the_attempt_unguarded(void **state)
{
    char *file = g_build_filename(*state, "a-file", NULL);
    assert_true(g_file_set_contents(file, "", 0, NULL));
    char *dir = g_build_filename(file, "in-hand", NULL);
    int unfinished = -1;
    assert_null(crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished));
    assert_int_equal(unfinished, 0);
    crash_guard_end(NULL);
    g_free(dir);
    g_free(file);
}

static void test_a_kept_mark_counts_the_attempt(void **state)
{
    char *dir = g_build_filename(*state, "in-hand", NULL);
    int unfinished = -1;
    crash_guard_keep(crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished));
    crash_guard *g = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_int_equal(unfinished, 1);
    crash_guard_end(g);
    assert_int_equal(marks(dir), 0);
    g_free(dir);
}

/* The path of MESSAGE's mark under dir. */
static char *mark_of_message(const char *dir)
{
    char *name = g_compute_checksum_for_string(G_CHECKSUM_SHA256, MESSAGE, -1);
    char *path = g_build_filename(dir, name, NULL);
    g_free(name);
    return path;
}

static void test_a_mark_without_a_count_is_one_attempt(void **state)
{
    char *dir = g_build_filename(*state, "in-hand", NULL);
    assert_int_equal(g_mkdir_with_parents(dir, 0750), 0);
    char *path = mark_of_message(dir);
    assert_true(g_file_set_contents(path, "", 0, NULL));
    int unfinished = -1;
    crash_guard *g = crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished);
    assert_int_equal(unfinished, 1);
    crash_guard_end(g);
    g_free(path);
    g_free(dir);
}

/* A mark that is there but cannot be read (here a folder in its place; a
 * file of another user's) still says that an attempt began, and is not
 * taken for none at every delivery. */
static void test_a_mark_that_cannot_be_read_is_one_attempt(void **state)
{
    char *dir = g_build_filename(*state, "in-hand", NULL);
    char *path = mark_of_message(dir);
    assert_int_equal(g_mkdir_with_parents(path, 0750), 0);
    int unfinished = -1;
    crash_guard_keep(crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished));
    assert_int_equal(unfinished, 1);
    g_free(path);
    g_free(dir);
}

static void test_sweep_removes_only_old_marks(void **state)
{
    char *dir = g_build_filename(*state, "in-hand", NULL);
    int unfinished = -1;
    crash_guard_keep(crash_guard_begin(dir, MESSAGE, strlen(MESSAGE), NULL, &unfinished));
    crash_guard_keep(crash_guard_begin(dir, OTHER, strlen(OTHER), NULL, &unfinished));
    char *old = mark_of_message(dir);
    time_t week_ago = time(NULL) - 8 * 24 * 3600;
    assert_int_equal(utime(old, &(struct utimbuf){ week_ago, week_ago }), 0);
    crash_guard_sweep(dir, 7L * 24 * 3600);
    assert_int_equal(marks(dir), 1);
    assert_false(g_file_test(old, G_FILE_TEST_EXISTS));
    g_free(old);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an_attempt_that_returns_leaves_no_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_that_never_returned_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_message_has_its_own_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_envelope_has_its_own_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_folder_that_cannot_be_made_leaves_the_attempt_unguarded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_kept_mark_counts_the_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_mark_without_a_count_is_one_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_mark_that_cannot_be_read_is_one_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_removes_only_old_marks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
