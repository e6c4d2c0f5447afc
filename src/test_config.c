/*
 * test_config.c - unit tests of the configuration loader: every error names
 * the file, line and key; defaults; ${VAR}; the template in both sections;
 * verdict overrides; CIDR lists; domain lookup by registrable domain.
 *
 * BOUNCEDEMAILS_SRC (set by meson) is the repository root, for the template
 * and tests/data/config/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"

/* A temporary folder holding config.yml, for one test. */
typedef struct fixture {
    char *dir;
    char *path;
    char err[1024];
} fixture;

static int
fixture_setup(void **state)
{
    fixture *f = g_new0(fixture, 1);

    f->dir = g_dir_make_tmp("bd-test-config-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->path = g_build_filename(f->dir, "config.yml", NULL);
    *state = f;
    return 0;
}

static int
fixture_teardown(void **state)
{
    fixture *f = *state;

    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static config *
load_text(fixture *f, const char *env, const char *yaml)
{
    assert_true(g_file_set_contents(f->path, yaml, -1, NULL));
    return config_load(f->path, env, f->err, sizeof f->err);
}

static char *
source_path(const char *relative)
{
    const char *src = getenv("BOUNCEDEMAILS_SRC");

    assert_non_null(src);
    return g_build_filename(src, relative, NULL);
}

/* Asserts that loading failed with "PATH:LINE: KEY: ..." containing what. */
static void
assert_error(fixture *f, config *cfg, int line, const char *key, const char *what)
{
    char *prefix = g_strdup_printf("%s:%d: %s: ", f->path, line, key);

    if (cfg != NULL)
        fail_msg("loaded, expected an error at %s", prefix);
    if (!g_str_has_prefix(f->err, prefix) || strstr(f->err, what) == NULL)
        fail_msg("expected '%s...%s', got '%s'", prefix, what, f->err);
    g_free(prefix);
}

#define MINIMAL \
    "production:\n" \
    "  handler:\n" \
    "    domains:\n" \
    "      mydomain.de:\n" \
    "        base_url: http://127.0.0.1:7001/emails/{address}/suspend\n"

/* ---- defaults ---- */

static void
test_defaults(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL, MINIMAL);

    assert_non_null(cfg);
    assert_string_equal(cfg->env, "production");
    assert_string_equal(cfg->path, f->path);
    assert_string_equal(cfg->handler.dbfile, "/var/lib/bouncedemails/bouncedemails.db");
    assert_string_equal(cfg->handler.permanent_bounced_emails_path, "/var/lib/bouncedemails/permanent_bounces");
    assert_int_equal(cfg->handler.temporary_threshold, 3);
    assert_int_equal(cfg->handler.temporary_window_days, 30);
    assert_true(cfg->handler.complaint_suspends);
    assert_string_equal(cfg->handler.verp_delimiter, "+");
    assert_string_equal(cfg->handler.verp_at_sign, "=");
    assert_null(cfg->handler.verp_secret);
    assert_false(cfg->handler.require_signed_verp);
    assert_int_equal(cfg->handler.verp_valid_weeks, 4);
    assert_int_equal(cfg->handler.max_recipients_per_bounce, 100);
    for (int r = 0; r < CLASSIFY_REASON_COUNT; r++) {
        assert_int_equal(cfg->handler.verdicts[r], classify_default_verdict((classify_reason)r));
        assert_false(cfg->handler.verdict_named[r]);
    }
    assert_int_equal(cfg->retention.notbounce_days, 7);
    assert_int_equal(cfg->handler.n_domains, 1);
    assert_string_equal(cfg->handler.domains[0].name, "mydomain.de");
    assert_false(cfg->handler.domains[0].xikolo);
    assert_int_equal(cfg->handler.domains[0].payload, CONFIG_PAYLOAD_EMPTY);
    assert_int_equal(cfg->handler.domains[0].n_headers, 0);
    assert_string_equal(cfg->store.backend, "sqlite");
    assert_null(cfg->store.url);
    assert_int_equal(cfg->notify.connect_timeout_ms, 5000);
    assert_int_equal(cfg->notify.timeout_ms, 30000);
    assert_int_equal(cfg->notify.max_in_flight, 512);
    assert_int_equal(cfg->notify.concurrency, 8);
    assert_int_equal(cfg->notify.retry_initial_s, 30);
    assert_int_equal(cfg->notify.retry_max_s, 3600);
    assert_int_equal(cfg->notify.max_attempts, 50);
    assert_int_equal(cfg->notify.resolver_cache_s, 3600);
    assert_true(cfg->notify.stdin_handoff);
    assert_null(cfg->notify.tls_ca_file);
    assert_false(cfg->amqp.enabled);
    assert_null(cfg->amqp.url);
    assert_string_equal(cfg->amqp.queue, "bouncedemails");
    assert_int_equal(cfg->amqp.prefetch, 500);
    assert_int_equal(cfg->amqp.heartbeat_s, 30);
    assert_int_equal(cfg->amqp.batch, 250);
    assert_false(cfg->smtp.enabled);
    assert_string_equal(cfg->smtp.host, "127.0.0.1");
    assert_int_equal(cfg->smtp.port, 2525);
    assert_non_null(cfg->smtp.hostname);
    assert_true(cfg->smtp.hostname[0] != '\0');
    assert_int_equal(cfg->smtp.max_message_size, 26214400);
    assert_int_equal(cfg->smtp.max_line_length, 4096);
    assert_int_equal(cfg->smtp.max_recipients, 100);
    assert_int_equal(cfg->smtp.max_connections, 512);
    assert_int_equal(cfg->smtp.max_connections_per_client, 32);
    assert_int_equal(cfg->smtp.command_timeout_s, 300);
    assert_int_equal(cfg->smtp.data_timeout_s, 600);
    assert_int_equal(cfg->smtp.n_allow_networks, 2);
    assert_string_equal(cfg->smtp.allow_networks[0], "127.0.0.0/8");
    assert_string_equal(cfg->smtp.allow_networks[1], "::1/128");
    assert_null(cfg->smtp.tls_certificate);
    assert_null(cfg->smtp.tls_key);
    config_free(cfg);
}

/* Every key set away from its default, from tests/data/config/full.yml. */
static void
test_every_key(void **state)
{
    fixture *f = *state;
    char *path = source_path("tests/data/config/full.yml");
    char *cert = source_path("tests/data/config/full.yml");
    config *cfg;

    (void)f;
    g_setenv("BD_TEST_TOKEN", "s3cret", TRUE);
    g_setenv("BD_TEST_CERT", cert, TRUE);
    cfg = config_load(path, "staging", f->err, sizeof f->err);
    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_string_equal(cfg->handler.dbfile, "/srv/bd/db.sqlite");
    assert_string_equal(cfg->handler.permanent_bounced_emails_path, "/srv/bd/permanent");
    assert_int_equal(cfg->handler.temporary_threshold, 5);
    assert_int_equal(cfg->handler.temporary_window_days, 7);
    assert_int_equal(cfg->handler.verdicts[CLASSIFY_REASON_SUSPEND], CLASSIFY_VERDICT_PERMANENT);
    assert_int_equal(cfg->handler.verdicts[CLASSIFY_REASON_USERUNKNOWN], CLASSIFY_VERDICT_TEMPORARY);
    assert_false(cfg->handler.complaint_suspends);
    assert_string_equal(cfg->handler.verp_delimiter, "-");
    assert_string_equal(cfg->handler.verp_at_sign, "#");
    assert_int_equal(cfg->handler.n_domains, 2);
    assert_string_equal(cfg->handler.domains[0].name, "mydomain.de");
    assert_int_equal(cfg->handler.domains[0].payload, CONFIG_PAYLOAD_JSON);
    assert_int_equal(cfg->handler.domains[0].n_headers, 2);
    assert_string_equal(cfg->handler.domains[0].headers[0].name, "Authorization");
    assert_string_equal(cfg->handler.domains[0].headers[0].value, "Bearer s3cret");
    assert_string_equal(cfg->handler.domains[0].headers[1].name, "X-Platform");
    assert_string_equal(cfg->handler.domains[0].headers[1].value, "bounces");
    assert_string_equal(cfg->handler.domains[1].name, "openhpi.de");
    assert_true(cfg->handler.domains[1].xikolo);
    assert_string_equal(cfg->handler.domains[1].base_url, "https://open.hpi.de/api/");
    assert_string_equal(cfg->store.backend, "postgresql");
    assert_string_equal(cfg->store.url, "postgresql://bd@localhost/bd");
    assert_int_equal(cfg->notify.connect_timeout_ms, 1500);
    assert_int_equal(cfg->notify.timeout_ms, 250);
    assert_int_equal(cfg->notify.max_in_flight, 32);
    assert_int_equal(cfg->notify.retry_initial_s, 60);
    assert_int_equal(cfg->notify.retry_max_s, 7200);
    assert_int_equal(cfg->notify.max_attempts, 10);
    assert_int_equal(cfg->notify.resolver_cache_s, 0);
    assert_false(cfg->notify.stdin_handoff);
    assert_string_equal(cfg->notify.tls_ca_file, cert);
    assert_true(cfg->amqp.enabled);
    assert_string_equal(cfg->amqp.url, "amqps://u:p@broker:5671/%2fbouncedemails");
    assert_string_equal(cfg->amqp.queue, "bounces");
    assert_int_equal(cfg->amqp.prefetch, 300);
    assert_int_equal(cfg->amqp.heartbeat_s, 0);
    assert_int_equal(cfg->amqp.batch, 120);
    assert_true(cfg->smtp.enabled);
    assert_string_equal(cfg->smtp.host, "0.0.0.0");
    assert_int_equal(cfg->smtp.port, 25);
    assert_string_equal(cfg->smtp.hostname, "bounces.example.org");
    assert_int_equal(cfg->smtp.max_message_size, 10 * 1024 * 1024);
    assert_int_equal(cfg->smtp.max_line_length, 2000);
    assert_int_equal(cfg->smtp.max_recipients, 10);
    assert_int_equal(cfg->smtp.max_connections, 64);
    assert_int_equal(cfg->smtp.max_connections_per_client, 4);
    assert_int_equal(cfg->smtp.command_timeout_s, 120);
    assert_int_equal(cfg->smtp.data_timeout_s, 1800);
    assert_int_equal(cfg->smtp.n_allow_networks, 3);
    assert_string_equal(cfg->smtp.allow_networks[0], "10.0.0.0/8");
    assert_string_equal(cfg->smtp.allow_networks[1], "2001:db8::/32");
    assert_string_equal(cfg->smtp.allow_networks[2], "192.0.2.7/32");
    assert_string_equal(cfg->smtp.tls_certificate, cert);
    assert_string_equal(cfg->smtp.tls_key, cert);
    assert_int_equal(cfg->retention.fingerprint_days, 10);
    assert_int_equal(cfg->retention.event_days, 0);
    assert_int_equal(cfg->retention.quarantine_days, 30);
    assert_int_equal(cfg->retention.notbounce_days, 2);
    assert_int_equal(cfg->retention.quarantine_max_bytes, 64 * 1024);
    assert_int_equal(cfg->retention.interval_s, 300);
    assert_int_equal(cfg->retention.batch, 50);
    assert_true(cfg->smtp.max_memory == (size_t)64 << 20);
    assert_int_equal(cfg->smtp.n_recipient_domains, 1);
    assert_string_equal(cfg->smtp.recipient_domains[0], "bounces.example.org");
    assert_int_equal(cfg->smtp.bare_newline, CONFIG_BARE_NEWLINE_NORMALIZE);
    assert_true(cfg->smtp.require_tls);
    config_free(cfg);
    g_unsetenv("BD_TEST_TOKEN");
    g_unsetenv("BD_TEST_CERT");
    g_free(cert);
    g_free(path);
}

/* ---- the template ---- */

static void
test_template_production(void **state)
{
    fixture *f = *state;
    char *path = source_path("config.template.yml");
    config *cfg;

    g_setenv("MYDOMAIN_TOKEN", "t0ken", TRUE);
    g_setenv("BOUNCEDEMAILS_AMQP_PASSWORD", "pw", TRUE);
    cfg = config_load(path, "production", f->err, sizeof f->err);
    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_int_equal(cfg->handler.temporary_threshold, 3);
    assert_int_equal(cfg->handler.n_domains, 2);
    assert_string_equal(cfg->handler.domains[0].headers[0].value, "Bearer t0ken");
    assert_true(cfg->handler.domains[1].xikolo);
    assert_true(cfg->amqp.enabled);
    assert_non_null(strstr(cfg->amqp.url, ":pw@"));
    assert_null(cfg->store.url);
    assert_null(cfg->smtp.tls_certificate);
    config_free(cfg);

    /* The secrets are required: without them, a clear error. */
    g_unsetenv("MYDOMAIN_TOKEN");
    cfg = config_load(path, "production", f->err, sizeof f->err);
    assert_null(cfg);
    assert_non_null(strstr(f->err, "handler.domains.mydomain.de.headers.Authorization: "
                                   "environment variable MYDOMAIN_TOKEN is not set"));
    g_unsetenv("BOUNCEDEMAILS_AMQP_PASSWORD");
    g_free(path);
}

static void
test_template_develop(void **state)
{
    fixture *f = *state;
    char *path = source_path("config.template.yml");
    const config_domain *d;
    config *cfg;

    g_unsetenv("MYDOMAIN_TOKEN");
    g_unsetenv("BOUNCEDEMAILS_AMQP_PASSWORD");
    cfg = config_load(path, "develop", f->err, sizeof f->err);
    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_string_equal(cfg->handler.dbfile, "var/bouncedemails.db");
    assert_string_equal(cfg->handler.permanent_bounced_emails_path, "var/permanent_bounces");
    assert_int_equal(cfg->handler.temporary_threshold, 3);
    d = config_find_domain(cfg, "no-reply@mydomain.de");
    assert_non_null(d);
    assert_string_equal(d->base_url, "http://127.0.0.1:7001/emails/{address}/suspend");
    d = config_find_domain(cfg, "no-reply@openhpi.de");
    assert_non_null(d);
    assert_true(d->xikolo);
    assert_string_equal(d->base_url, "http://127.0.0.1:7001/");
    assert_false(cfg->amqp.enabled);
    assert_true(cfg->smtp.enabled);
    config_free(cfg);
    g_free(path);
}

/* ---- metrics.listen, amqp.max_message_size ---- */

static void
test_metrics_listen_and_amqp_size(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL, MINIMAL "  smtp:\n    max_message_size: 1MiB\n");
    assert_non_null(cfg);
    assert_string_equal(cfg->metrics.listen, "127.0.0.1:9473");
    assert_int_equal(cfg->amqp.max_message_size, 1048576);   /* follows smtp's */
    config_free(cfg);

    cfg = load_text(f, NULL, MINIMAL "  metrics:\n    listen: ''\n  amqp:\n    max_message_size: 64KiB\n");
    assert_non_null(cfg);
    assert_null(cfg->metrics.listen);
    assert_int_equal(cfg->amqp.max_message_size, 65536);
    config_free(cfg);

    cfg = load_text(f, NULL, MINIMAL "  metrics:\n    listen: '[::1]:9100'\n");
    assert_non_null(cfg);
    assert_string_equal(cfg->metrics.listen, "[::1]:9100");
    config_free(cfg);
}

/* A configuration that set amqp.prefetch below the default batch, as
 * earlier versions' defaults (prefetch 200) allowed, stays valid: the batch
 * it did not set follows the prefetch down. */
static void
test_amqp_batch_follows_a_small_prefetch(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL, MINIMAL "  amqp:\n    prefetch: 200\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->amqp.batch, 200);
    config_free(cfg);

    cfg = load_text(f, NULL, MINIMAL "  amqp:\n    prefetch: 2000\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->amqp.batch, 250);
    config_free(cfg);
}

/* ---- ${VAR} ---- */

static void
test_env_expansion(void **state)
{
    fixture *f = *state;
    config *cfg;

    g_setenv("BD_TEST_DIR", "/data", TRUE);
    g_setenv("BD_TEST_N", "7", TRUE);
    g_setenv("BD_TEST_EMPTY", "", TRUE);
    g_unsetenv("BD_TEST_UNSET");
    cfg = load_text(f, "production", MINIMAL
        "    dbfile: ${BD_TEST_DIR}/db-${BD_TEST_N}.sqlite\n"
        "    temporary_threshold: ${BD_TEST_N}\n"
        "    permanent_bounced_emails_path: '$$HOME/${BD_TEST_UNSET:-fallback}'\n"
        "  amqp:\n"
        "    queue: \"${BD_TEST_EMPTY:-q}$5\"\n");
    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_string_equal(cfg->handler.dbfile, "/data/db-7.sqlite");
    assert_int_equal(cfg->handler.temporary_threshold, 7);
    assert_string_equal(cfg->handler.permanent_bounced_emails_path, "$HOME/fallback");
    assert_string_equal(cfg->amqp.queue, "q$5");
    config_free(cfg);
    g_unsetenv("BD_TEST_DIR");
    g_unsetenv("BD_TEST_N");
    g_unsetenv("BD_TEST_EMPTY");
}

/* ---- spelling ---- */

static void
test_underscore_and_dash_keys(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, "develop",
        "develop:\n"
        "  handler:\n"
        "    permanent_bounced_emails_path: /a\n"
        "    temporary-threshold: 9\n"
        "    temporary_window_days: 2\n"
        "    domains:\n"
        "      MyDomain.DE.:\n"
        "        base-url: http://x/{address}\n"
        "  smtp:\n"
        "    max-connections-per-client: 3\n");

    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_string_equal(cfg->handler.permanent_bounced_emails_path, "/a");
    assert_int_equal(cfg->handler.temporary_threshold, 9);
    assert_int_equal(cfg->handler.temporary_window_days, 2);
    assert_string_equal(cfg->handler.domains[0].name, "mydomain.de");
    assert_string_equal(cfg->handler.domains[0].base_url, "http://x/{address}");
    assert_int_equal(cfg->smtp.max_connections_per_client, 3);
    config_free(cfg);
}

/* Sections built from an anchor with <<, as PyYAML configs often are. */
static void
test_merge_keys(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, "develop",
        "production: &prod\n"
        "  handler: &handler\n"
        "    temporary_threshold: 4\n"
        "    domains:\n"
        "      mydomain.de: {base_url: 'https://p/{address}'}\n"
        "  notify: {timeout: 20}\n"
        "develop:\n"
        "  <<: *prod\n"
        "  handler:\n"
        "    <<: *handler\n"
        "    temporary_threshold: 1\n");

    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_int_equal(cfg->handler.temporary_threshold, 1);
    assert_int_equal(cfg->handler.n_domains, 1);
    assert_string_equal(cfg->handler.domains[0].base_url, "https://p/{address}");
    assert_int_equal(cfg->notify.timeout_ms, 20000);
    config_free(cfg);
}

static void
test_units(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL, MINIMAL
        "  notify:\n"
        "    connect_timeout: 0.5\n"
        "    timeout: 2m\n"
        "    retry_initial: 90s\n"
        "    retry_max: 1h\n"
        "    resolver_cache: 1d\n"
        "  smtp:\n"
        "    max_message_size: 64KiB\n"
        "    max_line_length: 1M\n");

    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_int_equal(cfg->notify.connect_timeout_ms, 500);
    assert_int_equal(cfg->notify.timeout_ms, 120000);
    assert_int_equal(cfg->notify.retry_initial_s, 90);
    assert_int_equal(cfg->notify.retry_max_s, 3600);
    assert_int_equal(cfg->notify.resolver_cache_s, 86400);
    assert_int_equal(cfg->smtp.max_message_size, 65536);
    assert_int_equal(cfg->smtp.max_line_length, 1048576);
    config_free(cfg);
}

/* ---- verdicts ---- */

static void
test_verdict_overrides(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL, MINIMAL
        "    verdicts:\n"
        "      MailboxFull: permanent\n"
        "      userunknown: ignore\n"
        "      blocked: temporary\n"
        "      feedback: complaint\n");

    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_int_equal(cfg->handler.verdicts[CLASSIFY_REASON_MAILBOXFULL], CLASSIFY_VERDICT_PERMANENT);
    assert_int_equal(cfg->handler.verdicts[CLASSIFY_REASON_USERUNKNOWN], CLASSIFY_VERDICT_IGNORE);
    assert_int_equal(cfg->handler.verdicts[CLASSIFY_REASON_BLOCKED], CLASSIFY_VERDICT_TEMPORARY);
    assert_int_equal(cfg->handler.verdicts[CLASSIFY_REASON_FEEDBACK], CLASSIFY_VERDICT_COMPLAINT);
    /* Named ones override the classifier's reading, even where the value
     * equals the built-in default (feedback: complaint). */
    assert_true(cfg->handler.verdict_named[CLASSIFY_REASON_FEEDBACK]);
    assert_true(cfg->handler.verdict_named[CLASSIFY_REASON_MAILBOXFULL]);
    assert_false(cfg->handler.verdict_named[CLASSIFY_REASON_HOSTUNKNOWN]);
    /* The others keep the classifier's defaults. */
    assert_int_equal(cfg->handler.verdicts[CLASSIFY_REASON_HOSTUNKNOWN],
                     classify_default_verdict(CLASSIFY_REASON_HOSTUNKNOWN));
    assert_int_equal(cfg->handler.verdicts[CLASSIFY_REASON_EXPIRED],
                     classify_default_verdict(CLASSIFY_REASON_EXPIRED));
    config_free(cfg);
}

/* ---- CIDR ---- */

static void
test_networks_valid(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL, MINIMAL
        "  smtp:\n"
        "    allow_networks: [0.0.0.0/0, 192.168.1.0/24, 192.0.2.1, '::/0', 'fe80::1', '2001:db8::/48']\n");

    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_int_equal(cfg->smtp.n_allow_networks, 6);
    assert_string_equal(cfg->smtp.allow_networks[0], "0.0.0.0/0");
    assert_string_equal(cfg->smtp.allow_networks[1], "192.168.1.0/24");
    assert_string_equal(cfg->smtp.allow_networks[2], "192.0.2.1/32");
    assert_string_equal(cfg->smtp.allow_networks[3], "::/0");
    assert_string_equal(cfg->smtp.allow_networks[4], "fe80::1/128");
    assert_string_equal(cfg->smtp.allow_networks[5], "2001:db8::/48");
    config_free(cfg);

    cfg = load_text(f, NULL, MINIMAL "  smtp:\n    allow_networks: []\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->smtp.n_allow_networks, 0);
    config_free(cfg);
}

static void
test_networks_invalid(void **state)
{
    static const char *const bad[] = {
        "10.0.0.0/33", "::1/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
        "localhost", "300.1.1.1/8", "1.2.3.4/ 8",
    };
    fixture *f = *state;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *yaml = g_strdup_printf(MINIMAL "  smtp:\n    allow_networks:\n      - 127.0.0.0/8\n"
                                     "      - '%s'\n", bad[i]);
        config *cfg = load_text(f, NULL, yaml);
        char *got = g_strdup_printf("got '%s'", bad[i]);
        assert_error(f, cfg, 9, "smtp.allow_networks", got);
        g_free(got);
        g_free(yaml);
    }
}

/* URLs that hold a password with "/", ":" and "@" load (store_pg_url.h). */
static void
test_urls_with_odd_passwords(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL, MINIMAL "  store:\n    url: 'postgresql://bd:S3/c:r@t@db.example.org:5432/bd'\n"
                                             "  amqp:\n    url: 'amqp://bd:p/w:x@y@[::1]:5672/bouncedemails'\n");
    if (cfg == NULL)
        fail_msg("%s", f->err);
    config_free(cfg);
}

/* Every store.url that the PostgreSQL backend reads (store_pg_url.c) loads:
 * the config reads it with the same parser (uri.h). */
static void
test_store_urls_the_store_reads(void **state)
{
    fixture *f = *state;
    static const char *const urls[] = {
        "postgresql://bd:S3#cret@db.example.org:5432/bd",
        "postgresql://bd@%2Frun%2Fpostgresql/bd",
        "postgresql://bd:pw@[::1]:5432,db2.example.org:5433,db3/bd",
        "postgres:///bd?host=/run/postgresql",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(urls); i++) {
        char *yaml = g_strdup_printf(MINIMAL "  store:\n    url: '%s'\n", urls[i]);
        config *cfg = load_text(f, NULL, yaml);
        if (cfg == NULL)
            fail_msg("%s: %s", urls[i], f->err);
        config_free(cfg);
        g_free(yaml);
    }
}

/* ---- every error: file, line, key ---- */

typedef struct error_case {
    const char *name;
    const char *yaml;
    int line;
    const char *key;
    const char *what;
} error_case;

static const error_case error_cases[] = {
    { "the brief's example", MINIMAL "    temporary_threshold: three\n", 6,
      "handler.temporary_threshold", "expected an integer, got 'three'" },
    { "unknown key", MINIMAL "    temporary_treshold: 3\n", 6,
      "handler.temporary_treshold", "unknown key (known here: dbfile," },
    { "unknown section", MINIMAL "  smtpd:\n    port: 25\n", 6, "smtpd", "unknown key" },
    { "unknown domain key", MINIMAL "        method: PUT\n", 6,
      "handler.domains.mydomain.de.method", "unknown key" },
    { "out of range", MINIMAL "  smtp:\n    port: 70000\n", 7,
      "smtp.port", "must be between 1 and 65535, got '70000'" },
    { "negative threshold", MINIMAL "    temporary_threshold: -1\n", 6,
      "handler.temporary_threshold", "must be between 0 and" },
    { "window of zero days", MINIMAL "    temporary_window_days: 0\n", 6,
      "handler.temporary_window_days", "must be between 1 and 3650" },
    { "not a bool", MINIMAL "  smtp:\n    enabled: maybe\n", 7,
      "smtp.enabled", "expected true or false, got 'maybe'" },
    { "a mapping for a value", MINIMAL "    dbfile:\n      path: x\n", 7,
      "handler.dbfile", "expected a single value, got a mapping" },
    { "a list for a section", MINIMAL "  notify:\n    - 1\n", 7,
      "notify", "expected a mapping of keys, got a list" },
    { "empty value", MINIMAL "    temporary_threshold:\n", 6,
      "handler.temporary_threshold", "expected an integer, got nothing" },
    { "empty dbfile", MINIMAL "    dbfile: ''\n", 6, "handler.dbfile", "must not be empty" },
    { "base_url without {address}",
      "production:\n  handler:\n    domains:\n      mydomain.de:\n        base_url: http://x/suspend\n",
      5, "handler.domains.mydomain.de.base_url", "must contain {address}" },
    { "base_url missing",
      "production:\n  handler:\n    domains:\n      mydomain.de:\n        payload: json\n",
      4, "handler.domains.mydomain.de", "base_url is missing" },
    { "base_url missing, empty domain",
      "production:\n  handler:\n    domains:\n      mydomain.de:\n", 4, "handler.domains.mydomain.de",
      "base_url is missing" },
    { "base_url not http",
      "production:\n  handler:\n    domains:\n      mydomain.de:\n        base_url: ftp://x/{address}\n",
      5, "handler.domains.mydomain.de.base_url", "must start with http:// or https://" },
    { "bad payload", MINIMAL "        payload: xml\n", 6,
      "handler.domains.mydomain.de.payload", "expected empty or json, got 'xml'" },
    { "bad resolver", MINIMAL "        url_resolver: canvas\n", 6,
      "handler.domains.mydomain.de.url_resolver", "expected xikolo or none, got 'canvas'" },
    { "bad header name", MINIMAL "        headers:\n          'X Token': abc\n", 7,
      "handler.domains.mydomain.de.headers.X Token", "not a valid HTTP header name" },
    { "headers not a mapping", MINIMAL "        headers: [a, b]\n", 6,
      "handler.domains.mydomain.de.headers", "expected a mapping of keys, got a list" },
    { "bad domain name", MINIMAL "      'my domain.de':\n        base_url: http://x/{address}\n", 6,
      "handler.domains.my domain.de", "not a domain name" },
    { "public suffix",
      "production:\n  handler:\n    domains:\n      co.uk:\n        base_url: http://x/{address}\n",
      4, "handler.domains.co.uk", "is a public suffix" },
    { "two domains, one registrable domain", MINIMAL
      "      mail.mydomain.de:\n        base_url: http://y/{address}\n", 6,
      "handler.domains.mail.mydomain.de", "same registrable domain as mydomain.de" },
    { "unknown reason", MINIMAL "    verdicts:\n      fullmailbox: permanent\n", 7,
      "handler.verdicts.fullmailbox", "unknown reason" },
    { "bad verdict", MINIMAL "    verdicts:\n      mailboxfull: suspend\n", 7,
      "handler.verdicts.mailboxfull", "expected permanent, temporary, complaint or ignore, got 'suspend'" },
    { "verp delimiter too long", MINIMAL "    verp_delimiter: '++'\n", 6,
      "handler.verp_delimiter", "must be 0 to 1 characters long" },
    { "signed VERP required without a secret", MINIMAL "    require_signed_verp: true\n", 6,
      "handler.require_signed_verp", "handler.verp_secret is not set" },
    { "signed VERP required with VERP off", MINIMAL "    verp_secret: 0123456789abcdef\n"
      "    verp_delimiter: ''\n    require_signed_verp: true\n", 8,
      "handler.require_signed_verp", "handler.verp_delimiter is empty" },
    { "no recipients per bounce", MINIMAL "    max_recipients_per_bounce: 0\n", 6,
      "handler.max_recipients_per_bounce", "must be between 1 and" },
    { "recipients per bounce at the classifier's cap", MINIMAL "    max_recipients_per_bounce: 1000\n", 6,
      "handler.max_recipients_per_bounce", "must be between 1 and 999" },
    { "bad duration", MINIMAL "  notify:\n    timeout: soon\n", 7,
      "notify.timeout", "expected a duration in seconds" },
    { "duration too short", MINIMAL "  notify:\n    connect_timeout: 10ms\n", 7,
      "notify.connect_timeout", "must be between 0.1 and 600 seconds" },
    { "fractional whole seconds", MINIMAL "  smtp:\n    data_timeout: 1.5\n", 7,
      "smtp.data_timeout", "expected a whole number of seconds" },
    { "bad size", MINIMAL "  smtp:\n    max_message_size: 10 parsecs\n", 7,
      "smtp.max_message_size", "expected a size in bytes" },
    { "size too small", MINIMAL "  smtp:\n    max_line_length: 512\n", 7,
      "smtp.max_line_length", "must be between 1000 and" },
    { "networks not a list", MINIMAL "  smtp:\n    allow_networks: 127.0.0.0/8\n", 7,
      "smtp.allow_networks", "expected a list of networks" },
    { "retry_max below retry_initial", MINIMAL "  notify:\n    retry_initial: 60\n    retry_max: 10\n", 8,
      "notify.retry_max", "must not be less than notify.retry_initial (60)" },
    { "batch above prefetch", MINIMAL "  amqp:\n    prefetch: 10\n    batch: 20\n", 8,
      "amqp.batch", "must not exceed amqp.prefetch (10)" },
    { "amqp.url scheme", MINIMAL "  amqp:\n    url: http://guest:hunter2@x/\n", 7,
      "amqp.url", "must start with amqp:// or amqps://" },
    { "amqp enabled without url", MINIMAL "  amqp:\n    enabled: true\n", 7,
      "amqp.enabled", "amqp.url is not set" },
    { "postgresql without url", MINIMAL "  store:\n    backend: postgresql\n", 7,
      "store.backend", "postgresql needs store.url" },
    { "unknown backend", MINIMAL "  store:\n    backend: mysql\n", 7,
      "store.backend", "expected sqlite or postgresql, got 'mysql'" },
    { "certificate without key", MINIMAL "  smtp:\n    tls_certificate: /etc/ssl/cert.pem\n", 7,
      "smtp.tls_certificate", "needs both smtp.tls_certificate and smtp.tls_key" },
    { "unreadable certificate", MINIMAL "  smtp:\n    tls_certificate: /nonexistent/c.pem\n"
      "    tls_key: /nonexistent/k.pem\n", 7, "smtp.tls_certificate", "cannot read /nonexistent/c.pem" },
    { "missing environment variable", MINIMAL "    dbfile: ${BD_TEST_NOT_SET}/db\n", 6,
      "handler.dbfile", "environment variable BD_TEST_NOT_SET is not set" },
    { "unterminated ${", MINIMAL "    dbfile: ${BD_TEST_N/db\n", 6,
      "handler.dbfile", "'${' without its '}'" },
    { "bad variable name", MINIMAL "    dbfile: ${1X}/db\n", 6,
      "handler.dbfile", "is not ${NAME} or ${NAME:-default}" },
    { "duplicate key", MINIMAL "    temporary_threshold: 3\n    temporary_threshold: 4\n", 7,
      "handler.temporary_threshold", "appears twice in the same mapping" },
    { "a section that is a value", "production: hello\n", 1, "production",
      "expected a mapping of keys, got a single value" },
    { "a merge of a value", "production:\n  <<: 3\n", 2, "production", "<< must name a mapping" },
    { "missing section", "develop:\n  handler: {}\n", 1, "production",
      "no such section (the file has: develop)" },
    { "empty file", "", 1, "production", "no such section: the file is empty" },
    { "not a mapping", "- production\n", 1, "production", "must be a mapping of environments" },
    { "metrics.listen without a port", MINIMAL "  metrics:\n    listen: 127.0.0.1\n", 7,
      "metrics.listen", "expected HOST:PORT" },
    { "metrics.listen port out of range", MINIMAL "  metrics:\n    listen: 127.0.0.1:99999\n", 7,
      "metrics.listen", "expected HOST:PORT" },
    { "metrics.listen IPv6 without brackets", MINIMAL "  metrics:\n    listen: ::1:9473\n", 7,
      "metrics.listen", "an IPv6 address in brackets" },
    { "amqp.max_message_size too small", MINIMAL "  amqp:\n    max_message_size: 1KiB\n", 7,
      "amqp.max_message_size", "must be between" },
    { "amqp.url port not a number", MINIMAL "  amqp:\n    url: amqp://u:pw@broker:56x2/bd\n", 7,
      "amqp.url", "the port must be a number from 1 to 65535" },
    { "amqp.url port out of range", MINIMAL "  amqp:\n    url: amqp://u:pw@broker:99999/bd\n", 7,
      "amqp.url", "the port must be a number from 1 to 65535" },
    { "amqp.url unknown scheme", MINIMAL "  amqp:\n    url: amqpx://u:pw@broker/bd\n", 7,
      "amqp.url", "must start with amqp:// or amqps://" },
    { "amqp.url without host", MINIMAL "  amqp:\n    url: amqp://u:pw@:5672/bd\n", 7,
      "amqp.url", "has no valid host name" },
    { "store.url scheme", MINIMAL "  store:\n    url: mysql://u:pw@db/bd\n", 7,
      "store.url", "must start with postgresql:// or postgres://" },
    { "store.url port", MINIMAL "  store:\n    url: postgresql://u:pw@db:0/bd\n", 7,
      "store.url", "the port must be a number from 1 to 65535" },
    { "store.url port after a password with / : @", MINIMAL
      "  store:\n    url: 'postgresql://bd:S3/c:r@t@db:0/bd'\n", 7,
      "store.url", "the port must be a number from 1 to 65535" },
    { "store.url port of a later host", MINIMAL "  store:\n    url: postgresql://u:pw@db1:5432,db2:5x/bd\n", 7,
      "store.url", "the port must be a number from 1 to 65535" },
    { "store.url neither URI nor pairs", MINIMAL "  store:\n    url: db.example.org\n", 7,
      "store.url", "expected a postgresql:// URI or key=value pairs" },
    { "base_url host", "production:\n  handler:\n    domains:\n      mydomain.de:\n"
      "        base_url: http://exa mple/{address}\n", 5, "handler.domains.mydomain.de.base_url",
      "has no valid host name" },
    { "base_url port", "production:\n  handler:\n    domains:\n      mydomain.de:\n"
      "        base_url: http://example.org:80a/{address}\n", 5, "handler.domains.mydomain.de.base_url",
      "the port must be a number" },
    { "smtp.host", MINIMAL "  smtp:\n    host: 'not a host'\n", 7, "smtp.host",
      "expected an IP address or a host name" },
    { "amqps without its CAs", MINIMAL "  amqp:\n    url: amqps://u:pw@broker/bd\n"
      "    tls_ca_file: /nonexistent/ca.pem\n", 8, "amqp.tls_ca_file", "cannot read /nonexistent/ca.pem" },
    { "notify CAs unreadable", MINIMAL "  notify:\n    tls_ca_file: /nonexistent/platform-ca.pem\n", 7,
      "notify.tls_ca_file", "cannot read /nonexistent/platform-ca.pem" },
    { "retention days", MINIMAL "  retention:\n    event_days: -1\n", 7, "retention.event_days",
      "must be between 0 and 36500" },
    { "quarantine cap too small", MINIMAL "  retention:\n    quarantine_max_bytes: 100\n", 7,
      "retention.quarantine_max_bytes", "must be between 4096 and" },
};

static void
test_errors(void **state)
{
    fixture *f = *state;

    g_unsetenv("BD_TEST_NOT_SET");
    for (size_t i = 0; i < G_N_ELEMENTS(error_cases); i++) {
        const error_case *c = &error_cases[i];
        config *cfg = load_text(f, NULL, c->yaml);
        if (cfg == NULL && strstr(f->err, c->what) == NULL)
            fail_msg("case '%s': got '%s'", c->name, f->err);
        assert_error(f, cfg, c->line, c->key, c->what);
    }
}

static void
test_yaml_syntax_error(void **state)
{
    fixture *f = *state;
    char *prefix = g_strdup_printf("%s:4: YAML syntax error: ", f->path);
    config *cfg = load_text(f, NULL, "production:\n  handler:\n    dbfile: x\n   bad: [\n");

    assert_null(cfg);
    if (!g_str_has_prefix(f->err, prefix))
        fail_msg("expected '%s...', got '%s'", prefix, f->err);
    g_free(prefix);
}

/* libyaml reports encoding errors by offset; the line is still named. */
static void
test_encoding_error(void **state)
{
    fixture *f = *state;
    char *prefix = g_strdup_printf("%s:3: YAML syntax error: ", f->path);
    config *cfg = load_text(f, NULL, "production:\n  handler:\n    dbfile: \"caf\xe9\"\n");

    assert_null(cfg);
    if (!g_str_has_prefix(f->err, prefix) || strstr(f->err, "UTF-8") == NULL)
        fail_msg("expected '%s...UTF-8...', got '%s'", prefix, f->err);
    g_free(prefix);
}

static void
test_unreadable_file(void **state)
{
    fixture *f = *state;
    char err[512];
    char *missing = g_build_filename(f->dir, "missing.yml", NULL);
    char *expected = g_strdup_printf("%s: cannot read: ", missing);

    assert_null(config_load(missing, NULL, err, sizeof err));
    assert_true(g_str_has_prefix(err, expected));
    assert_non_null(strstr(err, "No such file"));
    g_free(expected);

    expected = g_strdup_printf("%s: cannot read: is a directory", f->dir);
    assert_null(config_load(f->dir, NULL, err, sizeof err));
    assert_string_equal(err, expected);
    g_free(expected);
    g_free(missing);
}

/* Secrets (header values, URLs with passwords) never appear in errors. */
static void
test_no_secret_in_errors(void **state)
{
    fixture *f = *state;
    config *cfg;

    g_setenv("BD_TEST_SECRET", "hunter2\r\nX-Evil: 1", TRUE);
    cfg = load_text(f, NULL, MINIMAL "        headers:\n          Authorization: ${BD_TEST_SECRET}\n");
    assert_error(f, cfg, 7, "handler.domains.mydomain.de.headers.Authorization", "must be one line");
    assert_null(strstr(f->err, "hunter2"));

    cfg = load_text(f, NULL, MINIMAL "  amqp:\n    url: http://guest:hunter2@x/\n");
    assert_error(f, cfg, 7, "amqp.url", "value not shown");
    assert_null(strstr(f->err, "hunter2"));

    cfg = load_text(f, NULL,
        "production:\n  handler:\n    domains:\n      mydomain.de:\n"
        "        base_url: https://x/?token=hunter2\n");
    assert_error(f, cfg, 5, "handler.domains.mydomain.de.base_url", "must contain {address}");
    assert_null(strstr(f->err, "hunter2"));

    cfg = load_text(f, NULL, MINIMAL "    verp_secret: hunter2\n");
    assert_error(f, cfg, 6, "handler.verp_secret", "must be 16 to 4096 characters long");
    assert_null(strstr(f->err, "hunter2"));

    cfg = load_text(f, NULL, MINIMAL "  store:\n    url: [hunter2]\n");
    assert_error(f, cfg, 7, "store.url", "expected a single value");
    assert_null(strstr(f->err, "hunter2"));
    g_unsetenv("BD_TEST_SECRET");
}

/* ---- config_find_domain ---- */

static void
test_find_domain(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL,
        "production:\n"
        "  handler:\n"
        "    domains:\n"
        "      openhpi.de: {base_url: 'http://o/{address}'}\n"
        "      shop.example.co.uk: {base_url: 'http://s/{address}'}\n"
        "      platform.github.io: {base_url: 'http://g/{address}'}\n");
    const config_domain *o, *s;

    if (cfg == NULL)
        fail_msg("%s", f->err);
    o = &cfg->handler.domains[0];
    s = &cfg->handler.domains[1];
    assert_ptr_equal(config_find_domain(cfg, "no-reply@openhpi.de"), o);
    assert_ptr_equal(config_find_domain(cfg, "openhpi.de"), o);
    assert_ptr_equal(config_find_domain(cfg, "mail.openhpi.de"), o);
    assert_ptr_equal(config_find_domain(cfg, "no-reply@a.b.OpenHPI.DE"), o);
    assert_ptr_equal(config_find_domain(cfg, "no-reply+user=example.com@openhpi.de."), o);
    assert_ptr_equal(config_find_domain(cfg, "<no-reply@openhpi.de>"), o);
    assert_null(config_find_domain(cfg, "no-reply@openhpi.com"));
    assert_null(config_find_domain(cfg, "no-reply@notopenhpi.de"));
    assert_null(config_find_domain(cfg, "de"));
    /* co.uk is a public suffix: the registrable domain is example.co.uk. */
    assert_ptr_equal(config_find_domain(cfg, "no-reply@example.co.uk"), s);
    assert_ptr_equal(config_find_domain(cfg, "no-reply@mail.shop.example.co.uk"), s);
    assert_null(config_find_domain(cfg, "no-reply@other.co.uk"));
    assert_null(config_find_domain(cfg, "co.uk"));
    /* github.io is a private public suffix: each user's site is its own. */
    assert_ptr_equal(config_find_domain(cfg, "x@mail.platform.github.io"), &cfg->handler.domains[2]);
    assert_null(config_find_domain(cfg, "x@other.github.io"));
    assert_null(config_find_domain(cfg, ""));
    assert_null(config_find_domain(cfg, "no-reply@"));
    assert_null(config_find_domain(cfg, NULL));
    assert_null(config_find_domain(NULL, "openhpi.de"));
    config_free(cfg);
}

/* A host name without a public suffix (a test setup) matches itself only. */
static void
test_find_domain_single_label(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL,
        "production:\n  handler:\n    domains:\n      localhost: {base_url: 'http://l/{address}'}\n");

    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_ptr_equal(config_find_domain(cfg, "no-reply@LocalHost"), &cfg->handler.domains[0]);
    assert_null(config_find_domain(cfg, "no-reply@otherhost"));
    config_free(cfg);
}

/* Lookups run per message on every ingress thread at once. */
static gpointer
find_domain_thread(gpointer data)
{
    const config *cfg = data;
    static const char *const hosts[] = { "no-reply@mail.openhpi.de", "x@a.example.co.uk", "y@other.co.uk" };
    gsize wrong = 0;

    for (int i = 0; i < 20000; i++) {
        const config_domain *d = config_find_domain(cfg, hosts[i % 3]);
        const char *want = i % 3 == 0 ? "openhpi.de" : i % 3 == 1 ? "example.co.uk" : NULL;
        if (want == NULL ? d != NULL : (d == NULL || strcmp(d->name, want) != 0))
            wrong++;
    }
    return GSIZE_TO_POINTER(wrong);
}

static void
test_find_domain_threads(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL,
        "production:\n  handler:\n    domains:\n"
        "      openhpi.de: {base_url: 'http://o/{address}'}\n"
        "      example.co.uk: {base_url: 'http://e/{address}'}\n");
    GThread *threads[8];

    if (cfg == NULL)
        fail_msg("%s", f->err);
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
        threads[i] = g_thread_new("find", find_domain_thread, cfg);
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
        assert_int_equal(GPOINTER_TO_SIZE(g_thread_join(threads[i])), 0);
    config_free(cfg);
}

/* ---- config_default_path ---- */

static void
test_default_path(void **state)
{
    fixture *f = *state;
    char *cwd = g_get_current_dir();

    assert_int_equal(chdir(f->dir), 0);
    assert_string_equal(config_default_path(), "/etc/bouncedemails/config.yml");
    assert_true(g_file_set_contents(f->path, "production: {}\n", -1, NULL));
    assert_string_equal(config_default_path(), "config.yml");
    assert_int_equal(chdir(cwd), 0);
    g_free(cwd);
}

/* smtp.max_memory, recipient_domains, bare_newline, require_tls. */
static void
test_smtp_listener_keys(void **state)
{
    fixture *f = *state;
    config *cfg = load_text(f, NULL, MINIMAL);

    assert_non_null(cfg);
    assert_true(cfg->smtp.max_memory == (size_t)256 << 20);
    assert_int_equal(cfg->smtp.n_recipient_domains, 0);
    assert_int_equal(cfg->smtp.bare_newline, CONFIG_BARE_NEWLINE_STRICT);
    assert_false(cfg->smtp.require_tls);
    config_free(cfg);

    cfg = load_text(f, NULL, MINIMAL "  smtp:\n    max_memory: 64MiB\n"
                                     "    recipient_domains: [bouncedemails.example.org, Example.NET]\n"
                                     "    bare_newline: normalize\n");
    if (cfg == NULL)
        fail_msg("%s", f->err);
    assert_true(cfg->smtp.max_memory == (size_t)64 << 20);
    assert_int_equal(cfg->smtp.n_recipient_domains, 2);
    assert_string_equal(cfg->smtp.recipient_domains[1], "Example.NET");
    assert_int_equal(cfg->smtp.bare_newline, CONFIG_BARE_NEWLINE_NORMALIZE);
    config_free(cfg);

    cfg = load_text(f, NULL, MINIMAL "  smtp:\n    bare_newline: reject\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->smtp.bare_newline, CONFIG_BARE_NEWLINE_REJECT);
    config_free(cfg);

    cfg = load_text(f, NULL, MINIMAL "  smtp:\n    bare_newline: yes\n");
    assert_error(f, cfg, 7, "smtp.bare_newline", "expected reject, strict or normalize");
    cfg = load_text(f, NULL, MINIMAL "  smtp:\n    recipient_domains: [a@b.example]\n");
    assert_error(f, cfg, 7, "smtp.recipient_domains", "expected a domain name, got 'a@b.example'");
    cfg = load_text(f, NULL, MINIMAL "  smtp:\n    recipient_domains: example.org\n");
    assert_error(f, cfg, 7, "smtp.recipient_domains", "expected a list of domains");
    cfg = load_text(f, NULL, MINIMAL "  smtp:\n    max_memory: 1KiB\n");
    assert_error(f, cfg, 7, "smtp.max_memory", "bytes");
    cfg = load_text(f, NULL, MINIMAL "  smtp:\n    require_tls: true\n");
    assert_error(f, cfg, 7, "smtp.require_tls", "needs smtp.tls_certificate");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
        T(test_defaults),
        T(test_every_key),
        T(test_urls_with_odd_passwords),
        T(test_store_urls_the_store_reads),
        T(test_template_production),
        T(test_template_develop),
        T(test_metrics_listen_and_amqp_size),
        T(test_amqp_batch_follows_a_small_prefetch),
        T(test_env_expansion),
        T(test_underscore_and_dash_keys),
        T(test_merge_keys),
        T(test_units),
        T(test_verdict_overrides),
        T(test_networks_valid),
        T(test_networks_invalid),
        T(test_errors),
        T(test_yaml_syntax_error),
        T(test_encoding_error),
        T(test_unreadable_file),
        T(test_no_secret_in_errors),
        T(test_find_domain),
        T(test_find_domain_single_label),
        T(test_find_domain_threads),
        T(test_default_path),
        T(test_smtp_listener_keys),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
