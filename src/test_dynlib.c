/*
 * test_dynlib.c - unit tests of dynlib.c: a library's functions are found
 * and callable; a missing library or function is an error that names it,
 * with no slot left pointing into a library let go; a module of another
 * build is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "dynlib.h"

static void test_functions_are_found_and_callable(void **state)
{
    (void)state;
    size_t (*length)(const char *) = NULL;
    int (*compare)(const char *, const char *) = NULL;
    static const char *const symbols[] = { "strlen", "strcmp" };
    void **const slots[] = { (void **)&length, (void **)&compare };
    char err[256] = "";
    assert_int_equal(dynlib_load("libc.so.6", symbols, slots, 2, err, sizeof err), 0);
    assert_int_equal(length("dynlib"), 6);
    assert_true(compare("a", "b") < 0);
}

static void test_a_missing_function_names_it_and_clears_every_slot(void **state)
{
    (void)state;
    size_t (*length)(const char *) = NULL;
    void (*missing)(void) = NULL;
    static const char *const symbols[] = { "strlen", "no_such_function_in_libc" };
    void **const slots[] = { (void **)&length, (void **)&missing };
    char err[256] = "";
    assert_int_equal(dynlib_load("libc.so.6", symbols, slots, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "libc.so.6 has no no_such_function_in_libc"));
    assert_null(length);
    assert_null(missing);
}

static void test_a_missing_library_names_it(void **state)
{
    (void)state;
    void (*fn)(void) = NULL;
    static const char *const symbols[] = { "anything" };
    void **const slots[] = { (void **)&fn };
    char err[256] = "";
    assert_int_equal(dynlib_load("libno-such-library.so.9", symbols, slots, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot load libno-such-library.so.9"));
    assert_null(fn);
}

/* A shared object that names no build of ours (here libz, as if an old
 * module or a stranger's file sat where the program looks) is refused
 * before any of its functions is called. */
static void test_a_module_of_another_build_is_refused(void **state)
{
    (void)state;
    char *dir = g_dir_make_tmp("test-dynlib-XXXXXX", NULL);
    assert_non_null(dir);
    char *fake = g_build_filename(dir, "bouncedemails-daemon.so", NULL);
    assert_int_equal(symlink("/lib/x86_64-linux-gnu/libz.so.1", fake), 0);
    g_setenv("BOUNCEDEMAILS_MODULE_DIR", dir, TRUE);
    char err[1024] = "";
    assert_null(dynlib_module("bouncedemails-daemon.so", "inflate", err, sizeof err));
    assert_non_null(strstr(err, "belongs to another build (none named"));
    assert_non_null(strstr(err, fake));
    assert_null(dynlib_module("bouncedemails-nothing.so", "inflate", err, sizeof err));
    assert_non_null(strstr(err, "cannot load"));
    g_unsetenv("BOUNCEDEMAILS_MODULE_DIR");
    unlink(fake);
    rmdir(dir);
    g_free(fake);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_functions_are_found_and_callable),
        cmocka_unit_test(test_a_missing_function_names_it_and_clears_every_slot),
        cmocka_unit_test(test_a_missing_library_names_it),
        cmocka_unit_test(test_a_module_of_another_build_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
