/*
 * test_support.h - what the unit tests of several modules share: a
 * config written as an operator would write it and read by config_load().
 * Include after cmocka.h.
 */
#ifndef BOUNCEDEMAILS_TEST_SUPPORT_H
#define BOUNCEDEMAILS_TEST_SUPPORT_H

#include <glib.h>

#include "config.h"

/* Writes yaml to dir/config.yml and loads its "test" section; a config
 * the loader refuses fails the test with its error. Free with
 * config_free(). */
static inline config *test_support_config(const char *dir, const char *yaml)
{
    char *path = g_build_filename(dir, "config.yml", NULL);
    assert_true(g_file_set_contents(path, yaml, -1, NULL));
    char err[512];
    config *cfg = config_load(path, "test", err, sizeof err);
    if (cfg == NULL)
        fail_msg("config: %s", err);
    g_free(path);
    return cfg;
}

#endif
