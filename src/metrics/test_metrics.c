/*
 * test_metrics.c - unit tests of the metrics: what a transaction stages
 * counts only once committed, labels stay bounded, histograms are
 * cumulative, the store's gauges are summed per configured domain, and
 * readiness names the part that is not ready.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "metrics/metrics.h"

static config test_cfg;
static config_domain test_domains[] = { { .name = "mydomain.de" }, { .name = "openhpi.de" } };

/* The value of the exposition line that starts with series, or -1. */
static double series_value(const char *series)
{
    store_quarantine_size q = { 0 };
    char *text = metrics_render(NULL, 0, &q);
    double value = -1;
    size_t len = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, series, len) == 0 && line[len] == ' ') {
            value = strtod(line + len + 1, NULL);
            break;
        }
    }
    free(text);
    return value;
}

static int setup(void **state)
{
    (void)state;
    test_cfg.handler.domains = test_domains;
    test_cfg.handler.n_domains = 2;
    return metrics_init(&test_cfg);
}

static void test_recipients_count_only_when_committed(void **state)
{
    (void)state;
    const char *perm = "bouncedemails_recipients_total{domain=\"mydomain.de\",verdict=\"permanent\","
                       "reason=\"userunknown\"}";
    metrics_recipient("mydomain.de", "permanent", CLASSIFY_REASON_USERUNKNOWN);
    assert_true(series_value(perm) < 0);
    metrics_commit();
    assert_int_equal(series_value(perm), 1);

    metrics_recipient("mydomain.de", "permanent", CLASSIFY_REASON_USERUNKNOWN);
    metrics_discard();
    metrics_commit();
    assert_int_equal(series_value(perm), 1);

    /* A savepoint rolled back: what it staged goes, what came before stays. */
    metrics_recipient("mydomain.de", "permanent", CLASSIFY_REASON_USERUNKNOWN);
    size_t mark = metrics_mark();
    metrics_recipient("mydomain.de", "permanent", CLASSIFY_REASON_USERUNKNOWN);
    metrics_rewind(mark);
    metrics_commit();
    assert_int_equal(series_value(perm), 2);
}

static void test_escalation_counts_for_its_domain(void **state)
{
    (void)state;
    metrics_recipient("OpenHPI.de", "escalated", CLASSIFY_REASON_MAILBOXFULL);
    metrics_recipient("OpenHPI.de", "unverified", CLASSIFY_REASON_USERUNKNOWN);
    metrics_commit();
    assert_int_equal(series_value("bouncedemails_recipients_total{domain=\"openhpi.de\",verdict=\"unverified\","
                                  "reason=\"userunknown\"}"), 1);
    assert_int_equal(series_value("bouncedemails_escalations_total{domain=\"openhpi.de\"}"), 1);
    assert_int_equal(series_value("bouncedemails_escalations_total{domain=\"mydomain.de\"}"), 0);
    assert_int_equal(series_value("bouncedemails_recipients_total{domain=\"openhpi.de\",verdict=\"escalated\","
                                  "reason=\"mailboxfull\"}"), 1);
}

static void test_labels_outside_the_config_are_other(void **state)
{
    (void)state;
    metrics_message("carrier-pigeon", METRICS_OUTCOME_HANDLED, 0.01);
    metrics_notification("unconfigured.example", STORE_OUTBOX_GIVEN_UP, false);
    metrics_recipient("unconfigured.example", "bogus-verdict", CLASSIFY_REASON_USERUNKNOWN);
    metrics_commit();
    assert_int_equal(series_value("bouncedemails_messages_total{ingress=\"other\",outcome=\"handled\"}"), 1);
    assert_int_equal(series_value("bouncedemails_notifications_total{domain=\"other\",result=\"given_up\"}"), 1);
    assert_true(series_value("bouncedemails_recipients_total{domain=\"other\",verdict=\"permanent\","
                             "reason=\"userunknown\"}") < 0);
}

static void test_notification_results(void **state)
{
    (void)state;
    metrics_notification("mydomain.de", STORE_OUTBOX_DONE, false);
    metrics_notification("mydomain.de", STORE_OUTBOX_DONE, true);
    metrics_notification("mydomain.de", STORE_OUTBOX_PENDING, false);
    metrics_notification("mydomain.de", STORE_OUTBOX_PENDING, false);
    const char *base = "bouncedemails_notifications_total{domain=\"mydomain.de\",result=";
    char series[200];
    snprintf(series, sizeof series, "%s\"delivered\"}", base);
    assert_int_equal(series_value(series), 1);
    snprintf(series, sizeof series, "%s\"unknown\"}", base);
    assert_int_equal(series_value(series), 1);
    snprintf(series, sizeof series, "%s\"retried\"}", base);
    assert_int_equal(series_value(series), 2);
}

static void test_platform_down_counts_per_domain(void **state)
{
    (void)state;
    assert_int_equal(series_value("bouncedemails_platform_down_total{domain=\"openhpi.de\"}"), 0);
    metrics_platform_down("OpenHPI.de");
    metrics_platform_down("openhpi.de");
    metrics_platform_down("unconfigured.example");
    assert_int_equal(series_value("bouncedemails_platform_down_total{domain=\"openhpi.de\"}"), 2);
    assert_int_equal(series_value("bouncedemails_platform_down_total{domain=\"mydomain.de\"}"), 0);
    assert_int_equal(series_value("bouncedemails_platform_down_total{domain=\"other\"}"), 1);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    metrics_message("stdin", METRICS_OUTCOME_HANDLED, 0.003);
    metrics_message("stdin", METRICS_OUTCOME_DUPLICATE, 20);
    metrics_message("stdin", METRICS_OUTCOME_FAILED, 1);   /* never committed: no handling time */
    const char *h = "bouncedemails_message_handling_seconds";
    char series[200];
    snprintf(series, sizeof series, "%s_bucket{ingress=\"stdin\",le=\"0.0025\"}", h);
    assert_int_equal(series_value(series), 0);
    snprintf(series, sizeof series, "%s_bucket{ingress=\"stdin\",le=\"0.005\"}", h);
    assert_int_equal(series_value(series), 1);
    snprintf(series, sizeof series, "%s_bucket{ingress=\"stdin\",le=\"10\"}", h);
    assert_int_equal(series_value(series), 1);
    snprintf(series, sizeof series, "%s_bucket{ingress=\"stdin\",le=\"+Inf\"}", h);
    assert_int_equal(series_value(series), 2);
    snprintf(series, sizeof series, "%s_count{ingress=\"stdin\"}", h);
    assert_int_equal(series_value(series), 2);
    snprintf(series, sizeof series, "%s_sum{ingress=\"stdin\"}", h);
    assert_true(series_value(series) > 20.002 && series_value(series) < 20.004);
}

static void test_outbox_gauges_per_configured_domain(void **state)
{
    (void)state;
    time_t now = time(NULL);
    store_outbox_gauge g[] = {
        { .domain = "mydomain.de", .pending = 2, .given_up = 1, .oldest_pending = now - 100 },
        { .domain = "gone.example", .pending = 1, .given_up = 0, .oldest_pending = now - 5000 },
        { .domain = "x.example", .pending = 0, .given_up = 4, .oldest_pending = 0 },
    };
    store_quarantine_size q = { .messages = 3, .bytes = 4096 };
    char *text = metrics_render(g, 3, &q);
    assert_non_null(strstr(text, "\nbouncedemails_outbox_pending{domain=\"mydomain.de\"} 2\n"));
    assert_non_null(strstr(text, "\nbouncedemails_outbox_pending{domain=\"openhpi.de\"} 0\n"));
    assert_non_null(strstr(text, "\nbouncedemails_outbox_pending{domain=\"other\"} 1\n"));
    assert_non_null(strstr(text, "\nbouncedemails_outbox_given_up{domain=\"other\"} 4\n"));
    assert_non_null(strstr(text, "\nbouncedemails_quarantine_messages 3\n"));
    assert_non_null(strstr(text, "\nbouncedemails_quarantine_bytes 4096\n"));
    const char *age = strstr(text, "\nbouncedemails_outbox_oldest_pending_age_seconds ");
    assert_non_null(age);
    long seconds = strtol(age + strlen("\nbouncedemails_outbox_oldest_pending_age_seconds "), NULL, 10);
    assert_true(seconds >= 5000 && seconds < 5100);
    free(text);
    /* Without a reading of the store its gauges are left out, not zero. */
    text = metrics_render(NULL, 0, NULL);
    assert_null(strstr(text, "bouncedemails_outbox_pending"));
    assert_null(strstr(text, "bouncedemails_quarantine_messages"));
    free(text);
}

static void test_readiness_names_the_part(void **state)
{
    (void)state;
    char why[300] = "";
    assert_true(metrics_ready(why, sizeof why));
    metrics_set_ready(METRICS_PART_STORE, true, NULL);
    metrics_set_ready(METRICS_PART_AMQP, false, "AMQP connection to 127.0.0.1:5672 failed: refused");
    assert_false(metrics_ready(why, sizeof why));
    assert_string_equal(why, "amqp: AMQP connection to 127.0.0.1:5672 failed: refused");
    assert_int_equal(series_value("bouncedemails_ready"), 0);
    metrics_set_ready(METRICS_PART_AMQP, true, NULL);
    assert_true(metrics_ready(why, sizeof why));
    assert_int_equal(series_value("bouncedemails_ready"), 1);
}

/* libpq's messages run over several lines ("server closed the connection
 * unexpectedly\n\tThis probably means..."); /readyz promises one line. */
static void test_readiness_reason_is_one_line(void **state)
{
    (void)state;
    char why[300] = "";
    metrics_set_ready(METRICS_PART_STORE, false,
                      "begin: server closed the connection unexpectedly\n\tThis probably means the server "
                      "terminated abnormally\r\n\tbefore or while processing the request.\n");
    assert_false(metrics_ready(why, sizeof why));
    assert_string_equal(why, "store: begin: server closed the connection unexpectedly  This probably means the "
                             "server terminated abnormally   before or while processing the request.");
    metrics_set_ready(METRICS_PART_STORE, true, NULL);
    assert_true(metrics_ready(why, sizeof why));
}

static void test_health_follows_the_notifier(void **state)
{
    (void)state;
    char why[300] = "";
    assert_true(metrics_healthy(why, sizeof why));   /* never started: not required */
    metrics_notifier_beat();
    assert_true(metrics_healthy(why, sizeof why));
}

/* /healthz's decision at an instant past the stall limit after the
 * notifier's last beat: unhealthy, with the reason; healthy at that same
 * instant once the notifier has beaten again. The instant is computed on
 * the module's own clock, so nothing waits the 60 s. */
static void test_health_fails_when_the_notifier_stalls(void **state)
{
    (void)state;
    char why[300] = "";
    metrics_notifier_beat();
    double beat = metrics_clock();   /* not before the recorded beat */
    assert_true(metrics_healthy_at(beat + METRICS_STALL_S - 1, why, sizeof why));
    double stalled = beat + METRICS_STALL_S + 0.05;
    assert_false(metrics_healthy_at(stalled, why, sizeof why));
    assert_string_equal(why, "notifier: no progress for 60 s");

    /* A beat 0.1 s later moves the limit past the stalled instant. */
    const struct timespec tick = { 0, 1000000 };
    while (metrics_clock() < beat + 0.1)
        nanosleep(&tick, NULL);
    metrics_notifier_beat();
    assert_true(metrics_healthy_at(stalled, why, sizeof why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipients_count_only_when_committed),
        cmocka_unit_test(test_escalation_counts_for_its_domain),
        cmocka_unit_test(test_labels_outside_the_config_are_other),
        cmocka_unit_test(test_notification_results),
        cmocka_unit_test(test_platform_down_counts_per_domain),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_outbox_gauges_per_configured_domain),
        cmocka_unit_test(test_readiness_names_the_part),
        cmocka_unit_test(test_readiness_reason_is_one_line),
        cmocka_unit_test(test_health_follows_the_notifier),
        cmocka_unit_test(test_health_fails_when_the_notifier_stalls),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
