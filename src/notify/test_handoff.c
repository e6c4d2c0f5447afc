/*
 * test_handoff.c - the socket through which `stdin` runs wake the daemon's
 * notifier: a wake-up reaches the listener; a config that differs finds
 * another name; one listener per config, the next taking over once it
 * stops taking; a stale socket file neither takes
 * a wake-up nor stops the next listener; a listener that stops taking
 * refuses further wake-ups at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "notify/handoff.h"
#include "test_support.h"

typedef struct fixture {
    char *dir;
    config *cfg;
} fixture;

static config *load_config(const char *dir, const char *base_url)
{
    char *yaml = g_strdup_printf("test:\n"
                                 "  handler:\n"
                                 "    dbfile: %s/bouncedemails.db\n"
                                 "    permanent_bounced_emails_path: %s/permanent\n"
                                 "    domains:\n"
                                 "      mydomain.de:\n"
                                 "        base_url: \"%s\"\n",
                                 dir, dir, base_url);
    config *cfg = test_support_config(dir, yaml);
    g_free(yaml);
    return cfg;
}

static int setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    f->dir = g_dir_make_tmp("test-handoff-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->cfg = load_config(f->dir, "http://127.0.0.1:9/emails/{address}/suspend");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    config_free(f->cfg);
    char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    g_free(cmd);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static void test_a_wake_up_reaches_the_listener(void **state)
{
    fixture *f = *state;
    assert_false(handoff_send(f->cfg));
    handoff *h = handoff_listen(f->cfg, false);
    assert_non_null(h);
    char *path = handoff_path(f->cfg);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_false(handoff_drain(h));
    assert_true(handoff_send(f->cfg));
    assert_true(handoff_drain(h));
    assert_false(handoff_drain(h));
    handoff_close(h);
    assert_int_not_equal(lstat(path, &st), 0);
    assert_false(handoff_send(f->cfg));
    g_free(path);
}

static void test_another_config_has_another_socket(void **state)
{
    fixture *f = *state;
    config *changed = load_config(f->dir, "http://127.0.0.1:9/other/{address}");
    char *mine = handoff_path(f->cfg), *theirs = handoff_path(changed);
    assert_string_not_equal(mine, theirs);
    handoff *h = handoff_listen(f->cfg, false);
    assert_non_null(h);
    assert_false(handoff_send(changed));
    assert_false(handoff_drain(h));
    handoff_close(h);
    config_free(changed);
    g_free(mine);
    g_free(theirs);
}

static void test_one_listener_per_config(void **state)
{
    fixture *f = *state;
    handoff *first = handoff_listen(f->cfg, false);
    assert_non_null(first);
    assert_null(handoff_listen(f->cfg, false));
    assert_true(handoff_send(f->cfg));
    assert_true(handoff_drain(first));
    /* One that stops taking lets the next listen while it finishes. */
    assert_false(handoff_stop_taking(first));
    handoff *second = handoff_listen(f->cfg, false);
    assert_non_null(second);
    assert_true(handoff_send(f->cfg));
    assert_false(handoff_drain(first));
    assert_true(handoff_drain(second));
    handoff_close(first);
    assert_true(handoff_send(f->cfg));
    handoff_close(second);
}

/* What a killed daemon leaves: a socket file nobody holds. */
static void test_a_stale_socket_takes_nothing_and_is_replaced(void **state)
{
    fixture *f = *state;
    char *path = handoff_path(f->cfg);
    char *dir = g_path_get_dirname(path);
    assert_int_equal(g_mkdir_with_parents(dir, 0750), 0);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    memcpy(addr.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    close(fd);
    assert_false(handoff_send(f->cfg));
    handoff *h = handoff_listen(f->cfg, false);
    assert_non_null(h);
    assert_true(handoff_send(f->cfg));
    handoff_close(h);
    g_free(dir);
    g_free(path);
}

static void test_stop_taking_refuses_at_once_and_tells_of_unread(void **state)
{
    fixture *f = *state;
    handoff *h = handoff_listen(f->cfg, false);
    assert_non_null(h);
    assert_true(handoff_send(f->cfg));
    assert_true(handoff_stop_taking(h));
    assert_false(handoff_send(f->cfg));
    assert_false(handoff_stop_taking(h));
    handoff_close(h);
}

/* A full queue of unread wake-ups is no place to leave notifications: the
 * daemon may be stuck. */
static void test_a_full_queue_refuses(void **state)
{
    fixture *f = *state;
    handoff *h = handoff_listen(f->cfg, false);
    assert_non_null(h);
    int sent = 0;
    while (sent < 10000 && handoff_send(f->cfg))
        sent++;
    assert_true(sent > 0 && sent < 10000);
    assert_true(handoff_drain(h));
    assert_true(handoff_send(f->cfg));
    handoff_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_wake_up_reaches_the_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_config_has_another_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_listener_per_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stale_socket_takes_nothing_and_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_taking_refuses_at_once_and_tells_of_unread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_full_queue_refuses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
