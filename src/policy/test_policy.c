/*
 * test_policy.c - unit tests of the policy against the real SQLite store in
 * a temporary folder and the real classifier: the soft-bounce threshold and
 * window, the counter reset, duplicates, verdict overrides, complaints,
 * ignored reasons, the quarantine and its replay, VERP, batches, and the
 * archive of raw bounces (path, content, hostile addresses).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include <zlib.h>

#include "classify/classify.h"
#include "config.h"
#include "metrics/metrics.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "policy/verp.h"
#include "store/store.h"

#define T0 ((time_t)1767225600) /* 2026-01-01 */
#define DAY 86400

typedef struct fixture {
    char *dir;
    config *cfg;
    store *st;
    policy *p;
    int commits;
    int serial;
} fixture;

/* ---- messages ---- */

/* An RFC 3464 report for one recipient, sent back to `to`; the enclosed
 * original was sent from `to` too. Each serial makes a distinct message. */
static char *dsn(int serial, const char *to, const char *rcpt, const char *action, const char *status,
                 const char *diagnostic)
{
    return g_strdup_printf(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: %s\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <%d.bounce@mx.example.net>\r\n"
        "Date: Thu, 1 Jan 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n"
        "\r\n"
        "--BB\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "This is the mail system at host mx.example.net. Your message could not be delivered.\r\n"
        "\r\n"
        "--BB\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n"
        "\r\n"
        "Final-Recipient: rfc822; %s\r\n"
        "Action: %s\r\n"
        "Status: %s\r\n"
        "Diagnostic-Code: smtp; %s\r\n"
        "\r\n"
        "--BB\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        "From: %s\r\n"
        "To: %s\r\n"
        "Subject: News from your course\r\n"
        "Message-ID: <%d.course@openhpi.de>\r\n"
        "\r\n"
        "--BB--\r\n",
        to, serial, rcpt, action, status, diagnostic, to, rcpt, serial);
}

static char *hard_bounce(fixture *f, const char *rcpt)
{
    return dsn(++f->serial, "no-reply@openhpi.de", rcpt, "failed", "5.1.1",
               "550 5.1.1 User unknown");
}

static char *soft_bounce(fixture *f, const char *rcpt)
{
    return dsn(++f->serial, "no-reply@openhpi.de", rcpt, "failed", "4.2.2",
               "452 4.2.2 Mailbox full: user is over quota");
}

static policy_outcome handle(fixture *f, const char *raw, const char *env_rcpt)
{
    policy_envelope env = { env_rcpt, NULL, "test", 0, 0 };
    return policy_handle(f->p, raw, strlen(raw), &env);
}

static policy_outcome handle_free(fixture *f, char *raw)
{
    policy_outcome out = handle(f, raw, NULL);
    g_free(raw);
    return out;
}

/* ---- fixture ---- */

static void count_commit(void *arg)
{
    ((fixture *)arg)->commits++;
}

/* (Re)loads the config with extra handler keys and reopens the policy. */
static void fixture_load(fixture *f, const char *handler_extra, const char *domains)
{
    char *path = g_build_filename(f->dir, "config.yml", NULL);
    char *yaml = g_strdup_printf("test:\n"
                                 "  handler:\n"
                                 "    dbfile: %s/db.sqlite\n"
                                 "    permanent_bounced_emails_path: %s/archive\n"
                                 "    temporary_threshold: 3\n"
                                 "    temporary_window_days: 30\n"
                                 "%s"
                                 "    domains:\n"
                                 "%s",
                                 f->dir, f->dir, handler_extra ? handler_extra : "",
                                 domains ? domains
                                         : "      openhpi.de:\n"
                                           "        base_url: \"http://127.0.0.1:9/emails/{address}/suspend\"\n");
    assert_true(g_file_set_contents(path, yaml, -1, NULL));
    if (f->p)
        policy_free(f->p);
    if (f->st)
        store_close(f->st);
    if (f->cfg)
        config_free(f->cfg);
    char err[512];
    f->cfg = config_load(path, "test", err, sizeof err);
    if (!f->cfg)
        fail_msg("config: %s", err);
    f->st = store_open(f->cfg, err, sizeof err);
    if (!f->st)
        fail_msg("store: %s", err);
    f->p = policy_new(f->cfg, f->st);
    policy_set_commit_hook(f->p, count_commit, f);
    policy_set_time(f->p, T0);
    g_free(yaml);
    g_free(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = g_dir_make_tmp("test_policy_XXXXXX", NULL);
    assert_non_null(f->dir);
    fixture_load(f, NULL, NULL);
    *state = f;
    return 0;
}

static void remove_tree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
            g_free(child);
        }
        g_dir_close(d);
    }
    g_remove(path);
}

static int teardown(void **state)
{
    fixture *f = *state;
    policy_free(f->p);
    store_close(f->st);
    config_free(f->cfg);
    remove_tree(f->dir);
    g_free(f->dir);
    free(f);
    return 0;
}

/* ---- what the store says ---- */

static int soft_count(fixture *f, const char *address)
{
    store_address_info *info = NULL;
    size_t n = 0;
    assert_int_equal(store_find_address(f->st, address, &info, &n), 0);
    int count = 0;
    for (size_t i = 0; i < n; i++)
        count += info[i].soft_count;
    store_address_info_free(info, n);
    return count;
}

static bool suppressed(fixture *f, const char *address)
{
    store_address_info *info = NULL;
    size_t n = 0;
    assert_int_equal(store_find_address(f->st, address, &info, &n), 0);
    bool yes = false;
    for (size_t i = 0; i < n; i++)
        yes = yes || info[i].permanent;
    store_address_info_free(info, n);
    return yes;
}

static size_t outbox_for(fixture *f, const char *address)
{
    store_outbox_item *items = NULL;
    size_t n = 0, found = 0;
    assert_int_equal(store_outbox_list(f->st, &items, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].address, address) == 0)
            found++;
    store_outbox_free(items, n);
    return found;
}

static long events(fixture *f)
{
    store_domain_stats *stats = NULL;
    size_t n = 0;
    long quarantined = 0, total = 0;
    assert_int_equal(store_stats(f->st, T0, 30L * DAY, &stats, &n, &quarantined), 0);
    for (size_t i = 0; i < n; i++)
        total += stats[i].events;
    store_stats_free(stats, n);
    return total;
}

static size_t quarantine(fixture *f, store_quarantine_item **items)
{
    size_t n = 0;
    assert_int_equal(store_quarantine_list(f->st, 1, items, &n), 0);
    return n;
}

static size_t quarantine_count(fixture *f)
{
    store_quarantine_item *items = NULL;
    size_t n = quarantine(f, &items);
    store_quarantine_free(items, n);
    return n;
}

/* The classifier's reason for the first recipient of raw. */
static classify_reason first_reason(const char *raw)
{
    classify_report *rep = classify_message(raw, strlen(raw));
    assert_true(rep->n_recipients > 0);
    classify_reason r = rep->recipients[0].reason;
    classify_report_free(rep);
    return r;
}

/* ---- tests ---- */

static void test_fourth_soft_bounce_escalates(void **state)
{
    fixture *f = *state;
    const char *a = "full@example.com";
    for (int i = 1; i <= 3; i++) {
        policy_set_time(f->p, T0 + i * DAY);
        assert_int_equal(handle_free(f, soft_bounce(f, a)), POLICY_HANDLED);
        assert_int_equal(soft_count(f, a), i);
        assert_false(suppressed(f, a));
    }
    assert_int_equal(outbox_for(f, a), 0);
    assert_int_equal(f->commits, 0);

    policy_set_time(f->p, T0 + 4 * DAY);
    assert_int_equal(handle_free(f, soft_bounce(f, a)), POLICY_HANDLED);
    assert_true(suppressed(f, a));
    assert_int_equal(outbox_for(f, a), 1);
    assert_int_equal(f->commits, 1);
    /* The counter starts again after the escalation. */
    assert_int_equal(soft_count(f, a), 0);
    policy_set_time(f->p, T0 + 5 * DAY);
    assert_int_equal(handle_free(f, soft_bounce(f, a)), POLICY_HANDLED);
    assert_int_equal(soft_count(f, a), 1);
    assert_int_equal(events(f), 5);
}

static void test_window_restarts_count(void **state)
{
    fixture *f = *state;
    const char *a = "slow@example.com";
    for (int i = 0; i < 3; i++) {
        policy_set_time(f->p, T0 + i * DAY);
        assert_int_equal(handle_free(f, soft_bounce(f, a)), POLICY_HANDLED);
    }
    assert_int_equal(soft_count(f, a), 3);
    /* 31 days after the last one: a fourth bounce counts as the first. */
    policy_set_time(f->p, T0 + 2 * DAY + 31 * DAY);
    assert_int_equal(handle_free(f, soft_bounce(f, a)), POLICY_HANDLED);
    assert_int_equal(soft_count(f, a), 1);
    assert_false(suppressed(f, a));
}

static void test_reset_clears_count(void **state)
{
    fixture *f = *state;
    const char *a = "reset@example.com";
    for (int i = 0; i < 3; i++)
        assert_int_equal(handle_free(f, soft_bounce(f, a)), POLICY_HANDLED);
    assert_int_equal(store_soft_reset(f->st, a, NULL), 0);
    assert_int_equal(handle_free(f, soft_bounce(f, a)), POLICY_HANDLED);
    assert_int_equal(soft_count(f, a), 1);
    assert_false(suppressed(f, a));
}

static void test_same_message_twice_counts_once(void **state)
{
    fixture *f = *state;
    char *raw = soft_bounce(f, "twice@example.com");
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_int_equal(handle(f, raw, NULL), POLICY_DUPLICATE);
    assert_int_equal(soft_count(f, "twice@example.com"), 1);
    assert_int_equal(events(f), 1);
    g_free(raw);

    raw = hard_bounce(f, "hard-twice@example.com");
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_int_equal(handle(f, raw, NULL), POLICY_DUPLICATE);
    assert_int_equal(outbox_for(f, "hard-twice@example.com"), 1);
    assert_int_equal(f->commits, 1);
    g_free(raw);
}

static void test_same_message_despite_from_line_and_trace(void **state)
{
    fixture *f = *state;
    char *raw = soft_bounce(f, "retry@example.com");
    /* Postfix's local(8) adds a From_ line with the time of each attempt. */
    char *a = g_strconcat("From MAILER-DAEMON  Thu Nov 26 10:02:12 2026\n", raw, NULL);
    char *b = g_strconcat("From MAILER-DAEMON  Thu Nov 26 10:07:12 2026\n", raw, NULL);
    assert_int_equal(handle(f, a, NULL), POLICY_HANDLED);
    assert_int_equal(handle(f, b, NULL), POLICY_DUPLICATE);
    /* The SMTP listener's own Received: differs on a sender's retry. */
    const char *t1 = "Received: from mx.example.net by bd; Thu, 26 Nov 2026 10:02:12 +0000\r\n";
    const char *t2 = "Received: from mx.example.net by bd; Thu, 26 Nov 2026 10:09:40 +0000\r\n";
    char *c = g_strconcat(t1, raw, NULL);
    char *d = g_strconcat(t2, raw, NULL);
    policy_envelope e1 = { "no-reply@openhpi.de", NULL, "smtp", strlen(t1), 0 };
    policy_envelope e2 = { "no-reply@openhpi.de", NULL, "smtp", strlen(t2), 0 };
    assert_int_equal(policy_handle(f->p, c, strlen(c), &e1), POLICY_HANDLED);
    assert_int_equal(policy_handle(f->p, d, strlen(d), &e2), POLICY_DUPLICATE);
    /* The same bytes to another envelope recipient are another delivery. */
    policy_envelope e3 = { "no-reply@mail.openhpi.de", NULL, "smtp", strlen(t2), 0 };
    assert_int_equal(policy_handle(f->p, d, strlen(d), &e3), POLICY_HANDLED);
    assert_int_equal(soft_count(f, "retry@example.com"), 3);
    g_free(a);
    g_free(b);
    g_free(c);
    g_free(d);
    g_free(raw);
}

static void test_permanent_suspends_and_archives(void **state)
{
    fixture *f = *state;
    const char *a = "gone@example.com";
    char *raw = hard_bounce(f, a);
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_true(suppressed(f, a));
    assert_int_equal(outbox_for(f, a), 1);

    policy_archive_flush();
    char *expected = g_build_filename(f->dir, "archive", "go", "gone@example.com.gz", NULL);
    char *path = policy_archive_path(f->cfg->handler.permanent_bounced_emails_path, a);
    assert_string_equal(path, expected);
    gzFile gz = gzopen(path, "rb");
    assert_non_null(gz);
    size_t len = strlen(raw);
    char *back = calloc(1, len + 16);
    assert_int_equal(gzread(gz, back, (unsigned)len + 16), (int)len);
    assert_memory_equal(back, raw, len);
    gzclose(gz);
    free(back);
    free(path);
    g_free(expected);
    g_free(raw);
}

/* Reads a gzip file whole; its size on disk in *stored. */
static GString *gunzip_file(const char *path, goffset *stored)
{
    GStatBuf st;
    assert_int_equal(g_stat(path, &st), 0);
    *stored = st.st_size;
    gzFile gz = gzopen(path, "rb");
    assert_non_null(gz);
    GString *out = g_string_new(NULL);
    char buf[4096];
    int n;
    while ((n = gzread(gz, buf, sizeof buf)) > 0)
        g_string_append_len(out, buf, n);
    assert_int_equal(n, 0);
    gzclose(gz);
    return out;
}

/* handler.archive_compression_level: 0 stores the bytes in a gzip file
 * (larger than the message, still read by zcat), 6 compresses them. */
static void test_archive_compression_level(void **state)
{
    fixture *f = *state;
    const char *dir = f->cfg->handler.permanent_bounced_emails_path;
    GString *raw = g_string_new("Subject: compressible\r\n\r\n");
    for (int i = 0; i < 200; i++)
        g_string_append(raw, "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n");
    const char *addresses[] = { "stored@example.com", "deflated@example.com" };
    const int levels[] = { 0, 6 };
    goffset sizes[2];
    for (int i = 0; i < 2; i++) {
        policy_archive_copy *copy = NULL;
        assert_int_equal(policy_archive_write(dir, addresses[i], raw->str, raw->len, levels[i], &copy), 0);
        policy_archive_release(copy);
        policy_archive_flush();
        char *path = policy_archive_path(dir, addresses[i]);
        GString *back = gunzip_file(path, &sizes[i]);
        assert_int_equal(back->len, raw->len);
        assert_memory_equal(back->str, raw->str, raw->len);
        g_string_free(back, TRUE);
        free(path);
    }
    assert_true(sizes[0] > (goffset)raw->len);
    assert_true(sizes[1] < (goffset)raw->len / 10);
    g_string_free(raw, TRUE);
}

/* A batch is committed, and so may be acknowledged, only once the raw
 * copies of its permanent bounces are written: a process killed right
 * after the ack loses none. Large, incompressible messages keep the writer
 * busy long enough that a commit not waiting for it is caught. */
static void test_batch_archived_before_commit(void **state)
{
    fixture *f = *state;
    enum { N = 6, PAD = 1 << 20 };
    policy_message msgs[N];
    char *raws[N], *addrs[N];
    GRand *rand = g_rand_new_with_seed(7);
    for (int i = 0; i < N; i++) {
        addrs[i] = g_strdup_printf("big%d@example.com", i);
        char *bounce = hard_bounce(f, addrs[i]);
        GString *raw = g_string_new(bounce);
        for (int k = 0; k < PAD / 64; k++) {
            for (int j = 0; j < 63; j++)
                g_string_append_c(raw, (char)('A' + g_rand_int_range(rand, 0, 26)));
            g_string_append_c(raw, '\n');
        }
        g_free(bounce);
        raws[i] = g_string_free(raw, FALSE);
        msgs[i] = (policy_message){ raws[i], strlen(raws[i]), { NULL, NULL, "amqp", 0, 0 } };
    }
    policy_outcome out[N];
    policy_handle_batch(f->p, msgs, N, out);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i], POLICY_HANDLED);
        char *path = policy_archive_path(f->cfg->handler.permanent_bounced_emails_path, addrs[i]);
        gzFile gz = gzopen(path, "rb");
        assert_non_null(gz);
        char *back = g_malloc(msgs[i].len + 16);
        assert_int_equal(gzread(gz, back, (unsigned)msgs[i].len + 16), (int)msgs[i].len);
        gzclose(gz);
        g_free(back);
        free(path);
        g_free(raws[i]);
        g_free(addrs[i]);
    }
    g_rand_free(rand);
}

/* metrics_init keeps its config for the process: one without domains,
 * outliving every fixture (each domain counts as "other"); once a process. */
static void metrics_start(void)
{
    static config metrics_cfg;
    static bool started;
    if (!started)
        assert_int_equal(metrics_init(&metrics_cfg), 0);
    started = true;
}

/* The sum of the metrics' series whose line starts with prefix. */
static long metrics_sum(const char *prefix)
{
    char *text = metrics_render(NULL, 0, NULL);
    char **lines = g_strsplit(text, "\n", -1);
    long sum = 0;
    for (char **line = lines; *line; line++)
        if (g_str_has_prefix(*line, prefix))
            sum += strtol(strrchr(*line, ' ') + 1, NULL, 10);
    g_strfreev(lines);
    g_free(text);
    return sum;
}

/* The handling time counts from the ingress's receipt (a message that
 * waited 30 s for its batch took 30 s), not from when the policy took it. */
static void test_handling_time_counts_from_receipt(void **state)
{
    fixture *f = *state;
    metrics_start();
    char *raw = hard_bounce(f, "waited@example.com");
    policy_message m = { raw, strlen(raw), { NULL, NULL, "amqp", 0, metrics_clock() - 30 } };
    policy_outcome out;
    policy_handle_batch(f->p, &m, 1, &out);
    assert_int_equal(out, POLICY_HANDLED);
    char *text = metrics_render(NULL, 0, NULL);
    const char *bucket = "bouncedemails_message_handling_seconds_bucket{ingress=\"amqp\",le=\"10\"} ";
    const char *total = "bouncedemails_message_handling_seconds_count{ingress=\"amqp\"} ";
    assert_non_null(strstr(text, bucket));
    assert_non_null(strstr(text, total));
    assert_int_equal(strtol(strstr(text, bucket) + strlen(bucket), NULL, 10), 0);
    assert_int_equal(strtol(strstr(text, total) + strlen(total), NULL, 10), 1);
    g_free(text);
    g_free(raw);
}

/* A report naming several recipients is stored once: each recipient's file
 * is the same file (one inode, one link per recipient). */
static void test_archive_one_copy_per_message(void **state)
{
    fixture *f = *state;
    static const char *const rcpts[] = { "one@example.com", "two@example.org", "three@example.net" };
    char *blocks = g_strdup("");
    for (size_t i = 0; i < G_N_ELEMENTS(rcpts); i++) {
        char *more = g_strdup_printf("%s\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                                     "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n",
                                     blocks, rcpts[i]);
        g_free(blocks);
        blocks = more;
    }
    char *raw = g_strdup_printf("From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
                                "To: no-reply@openhpi.de\r\n"
                                "Subject: Undelivered Mail Returned to Sender\r\n"
                                "Message-ID: <many.bounce@mx.example.net>\r\n"
                                "MIME-Version: 1.0\r\n"
                                "Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n"
                                "\r\n--BB\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n"
                                "\r\n--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                                "Reporting-MTA: dns; mx.example.net\r\n%s"
                                "\r\n--BB--\r\n",
                                blocks);
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    policy_archive_flush();
    const char *dir = f->cfg->handler.permanent_bounced_emails_path;
    struct stat first;
    for (size_t i = 0; i < G_N_ELEMENTS(rcpts); i++) {
        assert_true(suppressed(f, rcpts[i]));
        char *path = policy_archive_path(dir, rcpts[i]);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (i == 0)
            first = st;
        assert_true(st.st_ino == first.st_ino && st.st_dev == first.st_dev);
        assert_int_equal(st.st_nlink, G_N_ELEMENTS(rcpts));
        free(path);
    }
    /* A later bounce for one of them replaces that name only. */
    char *again = hard_bounce(f, rcpts[0]);
    assert_int_equal(handle(f, again, NULL), POLICY_HANDLED);
    policy_archive_flush();
    char *path = policy_archive_path(dir, rcpts[1]);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_nlink, G_N_ELEMENTS(rcpts) - 1);
    free(path);
    g_free(again);
    g_free(blocks);
    g_free(raw);
}

/* The same file name twice for one message (an address named twice, or
 * two that map to one name) keeps the file: a link over the copy's own
 * name would first unlink it. */
static void test_archive_same_name_twice_kept(void **state)
{
    fixture *f = *state;
    const char *dir = f->cfg->handler.permanent_bounced_emails_path;
    policy_archive_copy *copy = NULL;
    assert_int_equal(policy_archive_write(dir, "twice@example.com", "raw", 3, 1, &copy), 0);
    assert_int_equal(policy_archive_write(dir, "twice@example.com", "raw", 3, 1, &copy), 0);
    policy_archive_release(copy);
    policy_archive_flush();
    char *path = policy_archive_path(dir, "twice@example.com");
    assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    free(path);
}

/* A recipient whose link to the message's copy fails (here: the copy's
 * file is gone) gets a file of its own. */
static void test_archive_link_failure_writes_a_copy(void **state)
{
    fixture *f = *state;
    const char *dir = f->cfg->handler.permanent_bounced_emails_path;
    policy_archive_copy *copy = NULL;
    assert_int_equal(policy_archive_write(dir, "first@example.com", "raw", 3, 1, &copy), 0);
    policy_archive_flush();
    char *first = policy_archive_path(dir, "first@example.com");
    assert_int_equal(unlink(first), 0);
    assert_int_equal(policy_archive_write(dir, "second@example.com", "raw", 3, 1, &copy), 0);
    policy_archive_release(copy);
    policy_archive_flush();
    char *second = policy_archive_path(dir, "second@example.com");
    assert_true(g_file_test(second, G_FILE_TEST_IS_REGULAR));
    free(first);
    free(second);
}

static void test_verdict_override(void **state)
{
    fixture *f = *state;
    fixture_load(f, "    verdicts: {mailboxfull: permanent, userunknown: ignore}\n", NULL);
    assert_int_equal(handle_free(f, soft_bounce(f, "over@example.com")), POLICY_HANDLED);
    assert_true(suppressed(f, "over@example.com"));
    assert_int_equal(soft_count(f, "over@example.com"), 0);
    assert_int_equal(handle_free(f, hard_bounce(f, "kept@example.com")), POLICY_HANDLED);
    assert_false(suppressed(f, "kept@example.com"));
    assert_int_equal(outbox_for(f, "kept@example.com"), 0);
    assert_int_equal(events(f), 2);
}

static char *complaint(fixture *f, const char *rcpt)
{
    return g_strdup_printf(
        "From: Feedback Loop <fbl@isp.example.net>\r\n"
        "To: no-reply@openhpi.de\r\n"
        "Subject: Abuse report\r\n"
        "Message-ID: <%d.fbl@isp.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=feedback-report; boundary=\"FB\"\r\n"
        "\r\n"
        "--FB\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "This is an email abuse report.\r\n"
        "\r\n"
        "--FB\r\n"
        "Content-Type: message/feedback-report\r\n"
        "\r\n"
        "Feedback-Type: abuse\r\n"
        "User-Agent: ExampleFBL/1.0\r\n"
        "Version: 1\r\n"
        "Original-Mail-From: <no-reply@openhpi.de>\r\n"
        "Original-Rcpt-To: <%s>\r\n"
        "\r\n"
        "--FB\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
        "From: no-reply@openhpi.de\r\n"
        "To: %s\r\n"
        "Subject: News from your course\r\n"
        "\r\n"
        "Hello\r\n"
        "--FB--\r\n",
        ++f->serial, rcpt, rcpt);
}

static void test_complaint_suspends_by_default(void **state)
{
    fixture *f = *state;
    char *raw = complaint(f, "angry@example.com");
    classify_report *rep = classify_message(raw, strlen(raw));
    assert_int_equal(rep->kind, CLASSIFY_KIND_FEEDBACK);
    classify_report_free(rep);
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_true(suppressed(f, "angry@example.com"));
    assert_int_equal(outbox_for(f, "angry@example.com"), 1);
    g_free(raw);
}

static void test_complaint_recorded_only(void **state)
{
    fixture *f = *state;
    fixture_load(f, "    complaint_suspends: false\n", NULL);
    assert_int_equal(handle_free(f, complaint(f, "angry@example.com")), POLICY_HANDLED);
    assert_false(suppressed(f, "angry@example.com"));
    assert_int_equal(outbox_for(f, "angry@example.com"), 0);
    assert_int_equal(events(f), 1);
}

static void test_blocked_does_not_suspend(void **state)
{
    fixture *f = *state;
    char *raw = dsn(++f->serial, "no-reply@openhpi.de", "fine@example.com", "failed", "5.7.1",
                    "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org");
    assert_int_equal(first_reason(raw), CLASSIFY_REASON_BLOCKED);
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_false(suppressed(f, "fine@example.com"));
    assert_int_equal(soft_count(f, "fine@example.com"), 0);
    assert_int_equal(outbox_for(f, "fine@example.com"), 0);
    assert_int_equal(events(f), 1);
    g_free(raw);
}

static void test_delayed_is_ignored(void **state)
{
    fixture *f = *state;
    char *raw = dsn(++f->serial, "no-reply@openhpi.de", "later@example.com", "delayed", "4.4.7",
                    "451 4.4.7 delivery temporarily suspended: connect timed out");
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_int_equal(soft_count(f, "later@example.com"), 0);
    assert_false(suppressed(f, "later@example.com"));
    assert_int_equal(events(f), 1);
    g_free(raw);
}

static void test_unknown_domain_quarantined_then_replayed(void **state)
{
    fixture *f = *state;
    char *raw = dsn(++f->serial, "no-reply@other-platform.example", "lost@example.com", "failed", "5.1.1",
                    "550 5.1.1 User unknown");
    assert_int_equal(handle(f, raw, NULL), POLICY_QUARANTINED);
    assert_false(suppressed(f, "lost@example.com"));
    store_quarantine_item *items = NULL;
    size_t n = quarantine(f, &items);
    assert_int_equal(n, 1);
    assert_non_null(strstr(items[0].reason, "unknown domain"));
    assert_non_null(strstr(items[0].reason, "other-platform.example"));
    assert_int_equal(items[0].raw_len, strlen(raw));
    assert_memory_equal(items[0].raw, raw, items[0].raw_len);

    /* Replayed with the same config it stays. */
    char *reason = NULL;
    assert_int_equal(policy_replay(f->p, &items[0], false, &reason), POLICY_QUARANTINED);
    assert_non_null(strstr(reason, "unknown domain"));
    free(reason);
    store_quarantine_free(items, n);
    assert_int_equal(quarantine_count(f), 1);

    /* The config is fixed: a dry run changes nothing, a replay handles it. */
    fixture_load(f, NULL,
                 "      openhpi.de:\n"
                 "        base_url: \"http://127.0.0.1:9/emails/{address}/suspend\"\n"
                 "      other-platform.example:\n"
                 "        base_url: \"http://127.0.0.1:9/{address}\"\n");
    n = quarantine(f, &items);
    assert_int_equal(n, 1);
    assert_int_equal(policy_replay(f->p, &items[0], true, NULL), POLICY_HANDLED);
    assert_false(suppressed(f, "lost@example.com"));
    assert_int_equal(quarantine_count(f), 1);
    assert_int_equal(f->commits, 0);
    assert_int_equal(policy_replay(f->p, &items[0], false, NULL), POLICY_HANDLED);
    assert_true(suppressed(f, "lost@example.com"));
    assert_int_equal(outbox_for(f, "lost@example.com"), 1);
    assert_int_equal(quarantine_count(f), 0);
    assert_int_equal(f->commits, 1);
    store_quarantine_free(items, n);
    g_free(raw);
}

static void test_replay_updates_the_reason(void **state)
{
    fixture *f = *state;
    const char *raw = "Subject: hello\r\n\r\njust a note\r\n";
    assert_int_equal(store_quarantine_add(f->st, raw, strlen(raw), NULL, "amqp", "an older reason", T0 - DAY), 0);
    store_quarantine_item *items = NULL;
    size_t n = quarantine(f, &items);
    assert_int_equal(n, 1);
    char *reason = NULL;
    assert_int_equal(policy_replay(f->p, &items[0], false, &reason), POLICY_QUARANTINED);
    store_quarantine_free(items, n);
    n = quarantine(f, &items);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].reason, reason);
    assert_string_not_equal(items[0].reason, "an older reason");
    /* Still the same message, from the same ingress, kept since it came. */
    assert_int_equal(items[0].raw_len, strlen(raw));
    assert_string_equal(items[0].ingress, "amqp");
    assert_int_equal(items[0].when, T0 - DAY);
    free(reason);
    store_quarantine_free(items, n);
}

static void test_garbage_and_empty_are_quarantined(void **state)
{
    fixture *f = *state;
    char noise[4096];
    GRand *rnd = g_rand_new_with_seed(7);
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (char)g_rand_int_range(rnd, 0, 256);
    g_rand_free(rnd);
    policy_envelope env = { "no-reply@openhpi.de", NULL, "test", 0, 0 };
    assert_int_equal(policy_handle(f->p, noise, sizeof noise, &env), POLICY_QUARANTINED);
    assert_int_equal(policy_handle(f->p, "", 0, &env), POLICY_QUARANTINED);

    store_quarantine_item *items = NULL;
    size_t n = quarantine(f, &items);
    assert_int_equal(n, 2);
    assert_int_equal(items[0].raw_len, sizeof noise);
    assert_string_equal(items[1].reason, "empty message");
    assert_string_equal(items[0].envelope_recipient, "no-reply@openhpi.de");
    store_quarantine_free(items, n);
    assert_int_equal(events(f), 0);
}

/* Runs a counting query on the database itself. */
static void sql_expect(fixture *f, const char *query, int expected)
{
    char *db = g_build_filename(f->dir, "db.sqlite", NULL);
    sqlite3 *h = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, query, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), expected);
    sqlite3_finalize(stmt);
    sqlite3_close(h);
    g_free(db);
}

/* A person's reply to the no-reply address is no bounce: handled, kept
 * with kind 'notbounce' for retention.notbounce_days, and neither listed,
 * counted nor replayed as quarantined. */
static void test_human_reply_is_not_a_bounce(void **state)
{
    fixture *f = *state;
    const char *human = "From: Someone <someone@example.com>\r\nTo: no-reply@openhpi.de\r\n"
                        "Subject: Re: News from your course\r\n\r\nThanks, but how do I log in?\r\n";
    assert_int_equal(handle(f, human, NULL), POLICY_HANDLED);
    assert_int_equal(quarantine_count(f), 0);
    assert_int_equal(events(f), 0);
    sql_expect(f, "SELECT count(*) FROM quarantine WHERE kind = 'notbounce'", 1);
    assert_int_equal(f->cfg->retention.notbounce_days, 7);
}

static void test_autoreply_is_logged(void **state)
{
    fixture *f = *state;
    const char *raw = "From: =?utf-8?q?M=C3=BCller=2C_Ann?= <ann@example.com>\r\nTo: no-reply@openhpi.de\r\n"
                      "Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n"
                      "Message-ID: <ooo.1@example.com>\r\n\r\nI am away until Monday.\r\n";
    classify_report *rep = classify_message(raw, strlen(raw));
    assert_int_equal(rep->kind, CLASSIFY_KIND_AUTOREPLY);
    classify_report_free(rep);
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_int_equal(events(f), 1);
    assert_int_equal(quarantine_count(f), 0);
    assert_false(suppressed(f, "ann@example.com"));
    sql_expect(f, "SELECT count(*) FROM event WHERE address = 'ann@example.com' AND reason = 'vacation'", 1);
}

static void test_routes_by_envelope_and_subdomain(void **state)
{
    fixture *f = *state;
    /* No To: header at all; the envelope recipient at a subdomain decides. */
    char *raw = hard_bounce(f, "noto@example.com");
    char *cut = strstr(raw, "To: no-reply@openhpi.de\r\n");
    memmove(cut, cut + strlen("To: no-reply@openhpi.de\r\n"), strlen(cut + strlen("To: no-reply@openhpi.de\r\n")) + 1);
    assert_int_equal(handle(f, raw, "no-reply@mail.openhpi.de"), POLICY_HANDLED);
    assert_true(suppressed(f, "noto@example.com"));
    g_free(raw);
}

static void test_verp_names_the_recipient(void **state)
{
    fixture *f = *state;
    /* An unreadable body: the VERP recipient is still known to have failed. */
    const char *raw = "From: postmaster@mx.example.net\r\nSubject: ???\r\n\r\nsomething went wrong\r\n";
    assert_int_equal(handle(f, raw, "no-reply+alice=example.com@openhpi.de"), POLICY_HANDLED);
    assert_int_equal(soft_count(f, "alice@example.com"), 1);
    /* The same return path with its local part quoted, as a sender may
     * write it: the quotes are not part of the recipient. */
    char *quoted = g_strdup_printf("%s\r\nX-Copy: 2\r\n", raw);
    assert_int_equal(handle(f, quoted, "\"no-reply+alice=example.com\"@openhpi.de"), POLICY_HANDLED);
    assert_int_equal(soft_count(f, "alice@example.com"), 2);
    g_free(quoted);

    /* The report names a forwarding target; the VERP address is the one we
     * sent to, and it takes the report's finding. */
    char *fwd = dsn(++f->serial, "no-reply+bob=example.org@openhpi.de", "bob@forward.example", "failed",
                    "5.1.1", "550 5.1.1 User unknown");
    assert_int_equal(handle(f, fwd, NULL), POLICY_HANDLED);
    assert_true(suppressed(f, "bob@example.org"));
    assert_false(suppressed(f, "bob@forward.example"));
    g_free(fwd);

    /* Routed by the plain envelope recipient, the bounce still names the
     * recipient by the VERP address in its To: (route.c looks for one only
     * in values that hold the delimiter and the at-sign). */
    char *later = dsn(++f->serial, "Courses <no-reply+carol=example.net@openhpi.de>", "carol@forward.example",
                      "failed", "5.1.1", "550 5.1.1 User unknown");
    assert_int_equal(handle(f, later, "no-reply@openhpi.de"), POLICY_HANDLED);
    assert_true(suppressed(f, "carol@example.net"));
    assert_false(suppressed(f, "carol@forward.example"));
    g_free(later);
}

static void test_batch_savepoints(void **state)
{
    fixture *f = *state;
    char *a = hard_bounce(f, "b1@example.com");
    char *b = soft_bounce(f, "b2@example.com");
    policy_message msgs[] = {
        { a, strlen(a), { NULL, NULL, "amqp", 0, 0 } },
        { b, strlen(b), { NULL, NULL, "amqp", 0, 0 } },
        { a, strlen(a), { NULL, NULL, "amqp", 0, 0 } },
        { "", 0, { NULL, NULL, "amqp", 0, 0 } },
    };
    policy_outcome out[4];
    policy_handle_batch(f->p, msgs, 4, out);
    assert_int_equal(out[0], POLICY_HANDLED);
    assert_int_equal(out[1], POLICY_HANDLED);
    assert_int_equal(out[2], POLICY_DUPLICATE);
    assert_int_equal(out[3], POLICY_QUARANTINED);
    assert_true(suppressed(f, "b1@example.com"));
    assert_int_equal(soft_count(f, "b2@example.com"), 1);
    assert_int_equal(quarantine_count(f), 1);
    assert_int_equal(f->commits, 1);
    g_free(a);
    g_free(b);
}

/* Every row a query returns, as one string: "a|b|c\n" a row. */
static char *sql_dump(fixture *f, const char *query)
{
    char *db = g_build_filename(f->dir, "db.sqlite", NULL);
    sqlite3 *h = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, query, -1, &stmt, NULL), SQLITE_OK);
    GString *out = g_string_new(NULL);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(stmt); c++) {
            const unsigned char *v = sqlite3_column_text(stmt, c);
            g_string_append_printf(out, "%s%s", c ? "|" : "", v ? (const char *)v : "NULL");
        }
        g_string_append_c(out, '\n');
    }
    sqlite3_finalize(stmt);
    sqlite3_close(h);
    g_free(db);
    return g_string_free(out, FALSE);
}

static const char *const batch_event_rows =
    "SELECT message_id, address, domain, verdict, reason, status, diagnostic, ingress FROM event ORDER BY id";
static const char *const batch_quarantine_rows = "SELECT reason, kind, envelope_recipient FROM quarantine ORDER BY id";

/* A batch's messages are classified ahead of its transaction, on several
 * threads: each must still be handled with its own report, in order, with
 * the outcomes and the events that handling them one by one gives. */
/* The fingerprint is SHA-256 over the envelope recipient, a NUL and the
 * message, in lower-case hex: what earlier versions stored, so that a
 * bounce redelivered across an upgrade is still known as handled. */
static void test_fingerprint_is_what_earlier_versions_stored(void **state)
{
    fixture *f = *state;
    char *raw = hard_bounce(f, "fingerprint@example.com");
    const char *rcpt = "no-reply@mydomain.de";
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, (const guchar *)rcpt, (gssize)strlen(rcpt));
    g_checksum_update(sum, (const guchar *)"", 1);
    g_checksum_update(sum, (const guchar *)raw, (gssize)strlen(raw));
    /* kept as the digest's bytes since schema 6 */
    char *query = g_strdup_printf("SELECT count(*) FROM message_seen WHERE digest = X'%s'",
                                  g_checksum_get_string(sum));
    assert_int_equal(handle(f, raw, rcpt), POLICY_HANDLED);
    sql_expect(f, query, 1);
    g_free(query);
    g_checksum_free(sum);
    g_free(raw);
}

static void test_batch_same_as_one_by_one(void **state)
{
    fixture *f = *state;
    void *other_state = NULL;
    setup(&other_state);
    fixture *g = other_state;
    const char *human = "From: Someone <someone@example.com>\r\nTo: no-reply@openhpi.de\r\n"
                        "Subject: Re: News\r\n\r\nThanks, but how do I log in?\r\n";
    const char *away = "From: Ann <ann@example.com>\r\nTo: no-reply@openhpi.de\r\nSubject: Out of office\r\n"
                       "Auto-Submitted: auto-replied\r\nMessage-ID: <ooo.2@example.com>\r\n\r\nAway.\r\n";
    const char *unreadable = "From: postmaster@mx.example.net\r\nSubject: ???\r\n\r\nsomething went wrong\r\n";
    char *raws[] = {
        hard_bounce(f, "m1@example.com"),
        soft_bounce(f, "m2@example.com"),
        g_strdup(human),
        dsn(++f->serial, "no-reply@elsewhere.example", "m3@example.com", "failed", "5.1.1", "550 5.1.1 unknown"),
        hard_bounce(f, "m4@example.com"),
        g_strdup(away),
        g_strdup(""),
        g_strdup(unreadable),
        complaint(f, "m5@example.com"),
        soft_bounce(f, "m6@example.com"),
        dsn(++f->serial, "no-reply@openhpi.de", "m7@example.com", "delayed", "4.4.1", "451 4.4.1 try later"),
    };
    enum { N = G_N_ELEMENTS(raws) + 2 };
    policy_message msgs[N];
    for (size_t i = 0; i < G_N_ELEMENTS(raws); i++)
        msgs[i] = (policy_message){ raws[i], strlen(raws[i]), { NULL, NULL, "amqp", 0, 0 } };
    msgs[7].envelope.recipient = "no-reply+alice=example.com@openhpi.de";
    msgs[N - 2] = msgs[0]; /* a duplicate in the same batch */
    msgs[N - 1] = msgs[9];
    policy_outcome batch[N];
    policy_handle_batch(f->p, msgs, N, batch);
    assert_int_equal(f->commits, 1);
    for (size_t i = 0; i < N; i++) {
        policy_outcome one = policy_handle(g->p, msgs[i].raw, msgs[i].len, &msgs[i].envelope);
        assert_int_equal(batch[i], one);
    }
    assert_int_equal(batch[N - 2], POLICY_DUPLICATE);
    assert_int_equal(batch[3], POLICY_QUARANTINED);

    char *events_batch = sql_dump(f, batch_event_rows), *events_one = sql_dump(g, batch_event_rows);
    char *quarantine_batch = sql_dump(f, batch_quarantine_rows), *quarantine_one = sql_dump(g, batch_quarantine_rows);
    assert_string_equal(events_batch, events_one);
    assert_string_equal(quarantine_batch, quarantine_one);
    for (const char *a = "m1\0m2\0m4\0m5\0m6\0alice\0ann\0"; *a; a += strlen(a) + 1)
        assert_non_null(strstr(events_batch, a));
    assert_true(suppressed(f, "m4@example.com"));
    assert_int_equal(soft_count(f, "m6@example.com"), 1);
    g_free(events_batch);
    g_free(events_one);
    g_free(quarantine_batch);
    g_free(quarantine_one);
    for (size_t i = 0; i < G_N_ELEMENTS(raws); i++)
        g_free(raws[i]);
    teardown(&other_state);
}

static void test_archive_path_is_safe(void **state)
{
    fixture *f = *state;
    const char *dir = f->cfg->handler.permanent_bounced_emails_path;
    static const char *const hostile[] = { "../../etc/passwd@example.com", "a/b@example.com", "..@example.com",
                                           ".hidden@example.com", "x@example.com/../../y" };
    for (size_t i = 0; i < G_N_ELEMENTS(hostile); i++) {
        char *path = policy_archive_path(dir, hostile[i]);
        assert_non_null(path);
        assert_true(g_str_has_prefix(path, dir));
        const char *rest = path + strlen(dir) + 1;
        /* Exactly two components below dir, neither "." nor "..", none hidden. */
        char **parts = g_strsplit(rest, "/", -1);
        assert_int_equal(g_strv_length(parts), 2);
        for (int k = 0; k < 2; k++)
            assert_true(parts[k][0] != '.' && parts[k][0] != '\0');
        g_strfreev(parts);
        policy_archive_copy *copy = NULL;
        assert_int_equal(policy_archive_write(dir, hostile[i], "raw", 3, 1, &copy), 0);
        policy_archive_release(copy);
        policy_archive_flush();
        assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
        free(path);
    }
    char *a = policy_archive_path(dir, "a/b@example.com");
    char *b = policy_archive_path(dir, "a_b@example.com");
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    /* Nothing escaped the archive folder. */
    char *escaped = g_build_filename(f->dir, "etc", NULL);
    assert_false(g_file_test(escaped, G_FILE_TEST_EXISTS));
    g_free(escaped);
    assert_null(policy_archive_path(dir, ""));
}

/* A failed address that is not a mailbox is recorded and never suspended,
 * sent or rewritten into the mailbox it resembles (issue 13 point 8). */
static void test_invalid_address_is_never_suspended(void **state)
{
    fixture *f = *state;
    static const char *const junk[] = { ".victim1@gmail.com", "..victim3@example.org", "user@localhost" };
    for (size_t i = 0; i < G_N_ELEMENTS(junk); i++)
        assert_int_equal(handle_free(f, hard_bounce(f, junk[i])), POLICY_HANDLED);
    assert_int_equal(events(f), 3);
    assert_false(suppressed(f, "victim1@gmail.com"));
    assert_false(suppressed(f, ".victim1@gmail.com"));
    assert_false(suppressed(f, "victim3@example.org"));
    assert_int_equal(outbox_for(f, "victim1@gmail.com") + outbox_for(f, ".victim1@gmail.com"), 0);
    /* too long for any mailbox: recorded by its start and its length, so
     * that any store's index takes the event */
    char *local = g_strnfill(3000, 'l');
    char *huge = g_strconcat(local, "@example.org", NULL);
    assert_int_equal(handle_free(f, hard_bounce(f, huge)), POLICY_HANDLED);
    sql_expect(f, "SELECT count(*) FROM event WHERE verdict = 'invalid address' AND length(address) <= 254", 4);
    sql_expect(f, "SELECT count(*) FROM event WHERE address LIKE '%(3012 octets)'", 1);
    g_free(local);
    g_free(huge);
    /* a quote is part of a valid, different mailbox: that one is suspended */
    assert_int_equal(handle_free(f, hard_bounce(f, "'victim2@example.org")), POLICY_HANDLED);
    assert_true(suppressed(f, "'victim2@example.org"));
    assert_false(suppressed(f, "victim2@example.org"));
}

/* A verdict the config names overrides the classifier's reading; one it does
 * not name leaves it (a disabled account with a 5xx is permanent). */
static void test_named_verdict_overrides_reading(void **state)
{
    fixture *f = *state;
    const char *disabled = "550 5.2.1 The email account that you tried to reach is disabled.";
    assert_int_equal(handle_free(f, dsn(++f->serial, "no-reply@openhpi.de", "off@example.com", "failed",
                                        "5.2.1", disabled)), POLICY_HANDLED);
    assert_true(suppressed(f, "off@example.com"));
    fixture_load(f, "    verdicts: {suspend: temporary}\n", NULL);
    assert_int_equal(handle_free(f, dsn(++f->serial, "no-reply@openhpi.de", "later@example.com", "failed",
                                        "5.2.1", disabled)), POLICY_HANDLED);
    assert_false(suppressed(f, "later@example.com"));
    assert_int_equal(soft_count(f, "later@example.com"), 1);
}

/* A valid address too long for a file name once percent-encoded (a long
 * internationalised local part) is archived under its hash. */
static void test_archive_long_address_by_hash(void **state)
{
    fixture *f = *state;
    const char *dir = f->cfg->handler.permanent_bounced_emails_path;
    GString *a = g_string_new(NULL);
    for (int i = 0; i < 21; i++)
        g_string_append(a, "\xc3\xa9"); /* 21 x e-acute: 42 octets, 126 once encoded */
    g_string_append(a, "@");
    for (int i = 0; i < 2; i++)
        g_string_append(a, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9.");
    g_string_append(a, "example");
    assert_true(classify_address_is_valid(a->str));
    char *path = policy_archive_path(dir, a->str);
    char *base = g_path_get_basename(path);
    assert_true(g_str_has_prefix(base, "h-"));
    assert_int_equal(strlen(base), 2 + 64 + 3);
    policy_archive_copy *copy = NULL;
    assert_int_equal(policy_archive_write(dir, a->str, "raw", 3, 1, &copy), 0);
    policy_archive_release(copy);
    policy_archive_flush();
    assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    g_free(base);
    free(path);
    g_string_free(a, TRUE);
}

static void sql(fixture *f, const char *statement)
{
    char *db = g_build_filename(f->dir, "db.sqlite", NULL);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, statement, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    g_free(db);
}

static void test_store_failure_rolls_back(void **state)
{
    fixture *f = *state;
    char *raw = hard_bounce(f, "rollback@example.com");
    /* The outbox write fails after the permanent bounce and the fingerprint
     * were written: none of it may stay. */
    sql(f, "ALTER TABLE outbox RENAME TO outbox_away");
    assert_int_equal(handle(f, raw, NULL), POLICY_STORE_FAILED);
    assert_false(suppressed(f, "rollback@example.com"));
    assert_int_equal(f->commits, 0);
    sql(f, "ALTER TABLE outbox_away RENAME TO outbox");
    /* Delivered again, it is not taken for a duplicate. */
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_true(suppressed(f, "rollback@example.com"));
    assert_int_equal(outbox_for(f, "rollback@example.com"), 1);
    g_free(raw);
}

/* ---- hostile input (issue 13) ---- */

static long long sql_int(fixture *f, const char *query)
{
    char *db = g_build_filename(f->dir, "db.sqlite", NULL);
    sqlite3 *h = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, query, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long long v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(h);
    g_free(db);
    return v;
}

/* A report to `to` naming each of rcpts as failed. */
static char *dsn_list(int serial, const char *to, const char *const *rcpts, size_t n)
{
    GString *fields = g_string_new(NULL);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(fields, "Final-Recipient: rfc822; %s\r\nAction: failed\r\n"
                                       "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n",
                               rcpts[i]);
    char *raw = g_strdup_printf(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\nTo: %s\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <%d.many@mx.example.net>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n"
        "--BB\r\nContent-Type: text/plain\r\n\r\nUndeliverable.\r\n\r\n"
        "--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n%s"
        "--BB--\r\n", to, serial, fields->str);
    g_string_free(fields, TRUE);
    return raw;
}

/* A report naming n failed recipients user0@example.com ... */
static char *dsn_many(int serial, size_t n)
{
    char **rcpts = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++) rcpts[i] = g_strdup_printf("user%zu@example.com", i);
    char *raw = dsn_list(serial, "no-reply@openhpi.de", (const char *const *)rcpts, n);
    g_strfreev(rcpts);
    return raw;
}

static void test_too_many_recipients_are_quarantined(void **state)
{
    fixture *f = *state;
    /* The default, 100: one more is quarantined, and nobody suspended. */
    assert_int_equal(f->cfg->handler.max_recipients_per_bounce, 100);
    assert_int_equal(handle_free(f, dsn_many(++f->serial, 101)), POLICY_QUARANTINED);
    assert_false(suppressed(f, "user0@example.com"));
    assert_false(suppressed(f, "user100@example.com"));
    assert_int_equal(outbox_for(f, "user0@example.com"), 0);
    store_quarantine_item *items = NULL;
    size_t n = quarantine(f, &items);
    assert_int_equal(n, 1);
    assert_non_null(strstr(items[0].reason, "max_recipients_per_bounce"));
    store_quarantine_free(items, n);

    /* A lower limit; a report within it is acted on. */
    fixture_load(f, "    max_recipients_per_bounce: 3\n", NULL);
    assert_int_equal(handle_free(f, dsn_many(++f->serial, 4)), POLICY_QUARANTINED);
    assert_false(suppressed(f, "user3@example.com"));
    assert_int_equal(handle_free(f, dsn_many(++f->serial, 3)), POLICY_HANDLED);
    assert_true(suppressed(f, "user2@example.com"));
}

#define VERP_TEST_SECRET "test-secret-0123456789"
#define VERP_TEST_KEYS "    verp_secret: " VERP_TEST_SECRET "\n    require_signed_verp: true\n"

static char *signed_path(const char *address, time_t when)
{
    return verp_return_path(VERP_TEST_SECRET, "no-reply", "openhpi.de", "+", "=", address, when);
}

/* Tags as the README's recipe makes them (HMAC-SHA256 of the folded
 * address, a newline and the week; the first 40 bits in base32), computed
 * apart with Python's hmac module, so that platforms signing with it keep
 * matching whatever library computes the HMAC here. The second key is
 * longer than SHA-256's block. */
static void test_verp_tag_matches_the_documented_recipe(void **state)
{
    (void)state;
    char tag[VERP_TAG_LEN + 1];
    verp_tag("0123456789abcdef-Zz{}", "Alice.Smith@example.com", 2935, tag);
    assert_string_equal(tag, "y4vstzuj");
    char long_key[101];
    memset(long_key, 'k', 100);
    long_key[100] = '\0';
    verp_tag(long_key, "alice.smith@example.com", 2935, tag);
    assert_string_equal(tag, "l3arngzk");
}

static void test_verp_signature_valid_wrong_expired(void **state)
{
    (void)state;
    long week = verp_week(T0);
    char tag[VERP_TAG_LEN + 1], other[VERP_TAG_LEN + 1];
    verp_tag(VERP_TEST_SECRET, "Alice@Example.com", week, tag);
    assert_int_equal(strlen(tag), VERP_TAG_LEN);
    assert_int_equal(strspn(tag, "abcdefghijklmnopqrstuvwxyz234567"), VERP_TAG_LEN);
    /* The case of the address does not matter, the week and secret do. */
    verp_tag(VERP_TEST_SECRET, "alice@example.com", week, other);
    assert_string_equal(tag, other);
    verp_tag(VERP_TEST_SECRET, "alice@example.com", week - 1, other);
    assert_string_not_equal(tag, other);
    verp_tag("another-secret-0123456789", "alice@example.com", week, other);
    assert_string_not_equal(tag, other);

    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, "alice@example.com", tag, T0), VERP_SIGNED);
    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, "alice@example.com", NULL, T0), VERP_UNSIGNED);
    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, "mallory@example.com", tag, T0), VERP_WRONG);
    assert_int_equal(verp_check("another-secret-0123456789", 4, "alice@example.com", tag, T0), VERP_WRONG);
    char flipped[VERP_TAG_LEN + 1];
    memcpy(flipped, tag, sizeof flipped);
    flipped[0] = flipped[0] == 'a' ? 'b' : 'a';
    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, "alice@example.com", flipped, T0), VERP_WRONG);
    /* Valid for four weeks after its own, not five; and a week early. */
    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, "alice@example.com", tag, T0 + 4 * 7 * DAY), VERP_SIGNED);
    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, "alice@example.com", tag, T0 + 5 * 7 * DAY), VERP_WRONG);
    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, "alice@example.com", tag, T0 - 7 * DAY), VERP_SIGNED);
    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, "alice@example.com", tag, T0 - 14 * DAY), VERP_WRONG);
}

static void test_verp_tag_is_split_off(void **state)
{
    (void)state;
    char tag[VERP_TAG_LEN + 1];
    char *path = signed_path("Bob@Example.org", T0);
    char *verp = policy_route_verp(path, "+", "=");
    verp_split_tag(verp, tag);
    assert_string_equal(verp, "bob@example.org");
    assert_int_equal(verp_check(VERP_TEST_SECRET, 4, verp, tag, T0), VERP_SIGNED);
    g_free(verp);
    g_free(path);
    /* Domains keep what only looks like a tag. */
    const char *const kept[] = { "a@example.xn--abcdefgh", "a@my-domain.com", "a@example.com", "a@-abcdefgh" };
    for (size_t i = 0; i < G_N_ELEMENTS(kept); i++) {
        char *copy = g_strdup(kept[i]);
        verp_split_tag(copy, tag);
        assert_string_equal(copy, kept[i]);
        assert_string_equal(tag, "");
        g_free(copy);
    }
}

static void test_require_signed_verp(void **state)
{
    fixture *f = *state;
    fixture_load(f, VERP_TEST_KEYS, NULL);
    /* Unsigned: counted as soft, never suspended, however often. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(handle_free(f, hard_bounce(f, "victim@example.com")), POLICY_HANDLED);
    assert_false(suppressed(f, "victim@example.com"));
    assert_int_equal(outbox_for(f, "victim@example.com"), 0);
    assert_int_equal(soft_count(f, "victim@example.com"), 5);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM event WHERE verdict = 'unverified'"), 5);

    /* Wrongly signed, and signed too long ago. */
    char *good = signed_path("victim@example.com", T0);
    char *wrong = g_strdup(good);
    char *tag = strrchr(wrong, '-') + 1;
    tag[0] = tag[0] == 'a' ? 'b' : 'a';
    char *old = signed_path("victim@example.com", T0 - 10 * 7 * DAY);
    const char *const forged[] = { wrong, old };
    for (size_t i = 0; i < G_N_ELEMENTS(forged); i++) {
        char *raw = dsn(++f->serial, forged[i], "victim@example.com", "failed", "5.1.1", "550 5.1.1 User unknown");
        assert_int_equal(handle_free(f, raw), POLICY_HANDLED);
        assert_false(suppressed(f, "victim@example.com"));
    }
    /* Signed: the address it names is suspended, and only that one, even
     * when the report names another too. */
    const char *const both[] = { "other@example.com", "victim@example.com" };
    char *raw = dsn_list(++f->serial, good, both, 2);
    assert_int_equal(handle_free(f, raw), POLICY_HANDLED);
    assert_true(suppressed(f, "victim@example.com"));
    assert_int_equal(outbox_for(f, "victim@example.com"), 1);
    assert_false(suppressed(f, "other@example.com"));
    assert_int_equal(soft_count(f, "other@example.com"), 1);
    g_free(good);
    g_free(wrong);
    g_free(old);
}

/* Without require_signed_verp a signed return path is decoded all the same. */
static void test_signed_verp_without_requirement(void **state)
{
    fixture *f = *state;
    fixture_load(f, "    verp_secret: " VERP_TEST_SECRET "\n", NULL);
    assert_int_equal(handle_free(f, hard_bounce(f, "plain@example.com")), POLICY_HANDLED);
    assert_true(suppressed(f, "plain@example.com"));
    char *path = signed_path("carol@example.com", T0);
    const char *raw = "From: postmaster@mx.example.net\r\nSubject: ???\r\n\r\nsomething went wrong\r\n";
    assert_int_equal(handle(f, raw, path), POLICY_HANDLED);
    assert_int_equal(soft_count(f, "carol@example.com"), 1);
    g_free(path);
}

/* What the store refuses for the data itself (here a trigger standing in for
 * PostgreSQL's index row limit: a constraint, and a value too big) is
 * quarantined, not retried forever; once there, a retry is a duplicate. */
static void test_refused_by_the_store_is_quarantined(void **state)
{
    fixture *f = *state;
    sql(f, "CREATE TRIGGER too_long BEFORE INSERT ON permanent_bounce WHEN length(NEW.address) > 200"
           " BEGIN SELECT RAISE(ABORT, 'index row too large'); END;"
           "CREATE TRIGGER too_big BEFORE INSERT ON soft_bounce WHEN length(NEW.address) > 200"
           " BEGIN SELECT zeroblob(2000000000); END;");
    /* over 200 octets and still a valid mailbox (64-octet local part, labels
     * of 62, 202 in all): an invalid one would never reach the store */
    char *local = g_strnfill(64, 'x');
    char *label = g_strnfill(62, 'd');
    char *address = g_strconcat(local, "@", label, ".", label, ".example.com", NULL);
    g_free(label);
    char *hard = hard_bounce(f, address);
    char *soft = soft_bounce(f, address);
    const char *const raws[] = { hard, soft };
    for (size_t i = 0; i < G_N_ELEMENTS(raws); i++) {
        assert_int_equal(handle(f, raws[i], NULL), POLICY_QUARANTINED);
        assert_int_equal(handle(f, raws[i], NULL), POLICY_DUPLICATE);
    }
    assert_false(suppressed(f, address));
    assert_int_equal(outbox_for(f, address), 0);
    store_quarantine_item *items = NULL;
    size_t n = quarantine(f, &items);
    assert_int_equal(n, 2);
    assert_non_null(strstr(items[0].reason, "refused by the store"));
    assert_non_null(strstr(items[0].reason, "index row too large"));
    assert_non_null(strstr(items[1].reason, "too big"));
    /* Replayed, it stays in the quarantine: no retry would help. */
    char *reason = NULL;
    assert_int_equal(policy_replay(f->p, &items[0], false, &reason), POLICY_QUARANTINED);
    assert_non_null(strstr(reason, "refused by the store"));
    free(reason);
    store_quarantine_free(items, n);
    assert_int_equal(quarantine_count(f), 2);

    /* In a batch, the refused one goes to the quarantine, its neighbours are handled. */
    char *again = hard_bounce(f, address);
    char *fine = hard_bounce(f, "fine@example.com");
    policy_message msgs[] = { { again, strlen(again), { NULL, NULL, "test", 0, 0 } },
                              { fine, strlen(fine), { NULL, NULL, "test", 0, 0 } } };
    policy_outcome out[2];
    policy_handle_batch(f->p, msgs, 2, out);
    assert_int_equal(out[0], POLICY_QUARANTINED);
    assert_int_equal(out[1], POLICY_HANDLED);
    assert_true(suppressed(f, "fine@example.com"));
    assert_int_equal(quarantine_count(f), 3);
    g_free(again);
    g_free(fine);
    g_free(hard);
    g_free(soft);
    g_free(address);
    g_free(local);
}

/* Handles raws as one AMQP batch with a store that refuses, as no retry
 * can mend, the notification of refused@example.com. */
static void refusing_batch(fixture *f, char *const *raws, size_t n, policy_outcome *out)
{
    sql(f, "CREATE TRIGGER refused BEFORE INSERT ON outbox WHEN NEW.address = 'refused@example.com'"
           " BEGIN SELECT RAISE(ABORT, 'index row too large'); END;");
    policy_message *msgs = g_new(policy_message, n);
    for (size_t i = 0; i < n; i++)
        msgs[i] = (policy_message){ raws[i], strlen(raws[i]), { NULL, NULL, "amqp", 0, 0 } };
    policy_handle_batch(f->p, msgs, n, out);
    g_free(msgs);
}

/* A batch handled again one message at a time lets go of each message's
 * raw copy once it is handled, as the first pass does: the archive's queue
 * is bounded by the copies alive (4 MiB), and a thread that waited for room
 * while holding every copy of the batch would wait for ever, inside its
 * write transaction. Twelve permanent bounces of 512 KiB each. */
static void test_refused_in_a_batch_of_large_bounces_does_not_wait_for_ever(void **state)
{
    fixture *f = *state;
    enum { N = 12 };
    char *raws[N];
    GString *pad = g_string_new(NULL);
    while (pad->len < 512 * 1024) g_string_append(pad, "padding after the report, as a bounce's epilogue\r\n");
    for (int i = 0; i < N; i++) {
        char *rcpt = i == 0 ? g_strdup("refused@example.com") : g_strdup_printf("large%d@example.com", i);
        char *raw = hard_bounce(f, rcpt);
        raws[i] = g_strconcat(raw, pad->str, NULL);
        g_free(raw);
        g_free(rcpt);
    }
    g_string_free(pad, TRUE);
    policy_outcome out[N];
    refusing_batch(f, raws, N, out);
    assert_int_equal(out[0], POLICY_QUARANTINED);
    for (int i = 1; i < N; i++)
        assert_int_equal(out[i], POLICY_HANDLED);
    assert_true(suppressed(f, "large11@example.com"));
    for (int i = 0; i < N; i++)
        g_free(raws[i]);
}

/* A batch is first handled without a savepoint a message; when the store
 * refuses one in the middle, the whole batch is handled again one message
 * at a time: what came before the refused one counts once, not twice, and
 * what comes after it is handled. */
static void test_refused_in_a_batch_counts_the_others_once(void **state)
{
    fixture *f = *state;
    char *raws[] = { soft_bounce(f, "before@example.com"), hard_bounce(f, "first@example.com"),
                     hard_bounce(f, "refused@example.com"), hard_bounce(f, "after@example.com") };
    policy_outcome out[G_N_ELEMENTS(raws)];
    refusing_batch(f, raws, G_N_ELEMENTS(raws), out);
    assert_int_equal(out[0], POLICY_HANDLED);
    assert_int_equal(out[1], POLICY_HANDLED);
    assert_int_equal(out[2], POLICY_QUARANTINED);
    assert_int_equal(out[3], POLICY_HANDLED);
    assert_int_equal(f->commits, 1);
    assert_int_equal(soft_count(f, "before@example.com"), 1);
    assert_int_equal(outbox_for(f, "first@example.com"), 1);
    assert_false(suppressed(f, "refused@example.com"));
    assert_true(suppressed(f, "after@example.com"));
    assert_int_equal(quarantine_count(f), 1);
    char *events = sql_dump(f, "SELECT address, count(*) FROM event GROUP BY address ORDER BY address");
    assert_string_equal(events, "after@example.com|1\nbefore@example.com|1\nfirst@example.com|1\n");
    g_free(events);
    char *seen = sql_dump(f, "SELECT count(*) FROM message_seen");
    assert_string_equal(seen, "4\n");
    g_free(seen);
    for (size_t i = 0; i < G_N_ELEMENTS(raws); i++)
        g_free(raws[i]);
}

/* The retry after a refusal in a batch has each effect once: the metrics
 * count each message and recipient once (the first attempt's staged counts
 * are dropped), the notifier is woken once, a message that came twice is
 * still a duplicate, and the suspensions before the refusal are archived. */
static void test_refused_in_a_batch_has_its_effects_once(void **state)
{
    fixture *f = *state;
    metrics_start();
    char *first = hard_bounce(f, "first@example.com"), *soft = soft_bounce(f, "soft@example.com");
    char *refused = hard_bounce(f, "refused@example.com"), *after = hard_bounce(f, "after@example.com");
    char *const raws[] = { first, soft, first, refused, after };
    enum { N = G_N_ELEMENTS(raws) };
    const char *handled = "bouncedemails_messages_total{ingress=\"amqp\",outcome=\"handled\"}";
    const char *duplicate = "bouncedemails_messages_total{ingress=\"amqp\",outcome=\"duplicate\"}";
    const char *quarantined = "bouncedemails_messages_total{ingress=\"amqp\",outcome=\"quarantined\"}";
    const char *failed = "bouncedemails_messages_total{ingress=\"amqp\",outcome=\"failed\"}";
    const char *permanent = "bouncedemails_recipients_total{domain=\"other\",verdict=\"permanent\"";
    const char *temporary = "bouncedemails_recipients_total{domain=\"other\",verdict=\"temporary\"";
    long before[] = { metrics_sum(handled), metrics_sum(duplicate), metrics_sum(quarantined), metrics_sum(failed),
                      metrics_sum(permanent), metrics_sum(temporary) };
    policy_outcome out[N];
    refusing_batch(f, raws, N, out);
    const policy_outcome expected[N] = { POLICY_HANDLED, POLICY_HANDLED, POLICY_DUPLICATE, POLICY_QUARANTINED,
                                         POLICY_HANDLED };
    for (size_t i = 0; i < N; i++)
        assert_int_equal(out[i], expected[i]);
    assert_int_equal(f->commits, 1);
    assert_int_equal(metrics_sum(handled) - before[0], 3);
    assert_int_equal(metrics_sum(duplicate) - before[1], 1);
    assert_int_equal(metrics_sum(quarantined) - before[2], 1);
    assert_int_equal(metrics_sum(failed) - before[3], 0);
    assert_int_equal(metrics_sum(permanent) - before[4], 2);
    assert_int_equal(metrics_sum(temporary) - before[5], 1);
    assert_int_equal(soft_count(f, "soft@example.com"), 1);
    assert_int_equal(outbox_for(f, "first@example.com"), 1);
    char *seen = sql_dump(f, "SELECT count(*) FROM message_seen");
    assert_string_equal(seen, "4\n");
    g_free(seen);
    policy_archive_flush();
    const char *dir = f->cfg->handler.permanent_bounced_emails_path;
    const char *const archived[] = { "first@example.com", "after@example.com", "refused@example.com" };
    for (size_t i = 0; i < G_N_ELEMENTS(archived); i++) {
        char *path = policy_archive_path(dir, archived[i]);
        assert_int_equal(g_file_test(path, G_FILE_TEST_EXISTS), i < 2);
        free(path);
    }
    g_free(first);
    g_free(soft);
    g_free(refused);
    g_free(after);
}

/* Gmail's refusal of a forward's target, reported without an
 * Original-Recipient; the enclosed original's From, Return-Path and To as
 * given. */
static char *forward_bounce(int serial, const char *from, const char *return_path, const char *to,
                            const char *failed)
{
    return g_strdup_printf(
        "From: Mail Delivery System <MAILER-DAEMON@mx.school.example>\r\n"
        "To: no-reply@openhpi.de\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <%d.forward@mx.school.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"FW\"\r\n"
        "\r\n"
        "--FW\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "Your message could not be delivered to one or more recipients.\r\n"
        "\r\n"
        "--FW\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.school.example\r\n"
        "\r\n"
        "Final-Recipient: rfc822; %s\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Remote-MTA: dns; gmail-smtp-in.l.google.com\r\n"
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.\r\n"
        "\r\n"
        "--FW\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        "Return-Path: <%s>\r\n"
        "From: openHPI <%s>\r\n"
        "To: %s\r\n"
        "Subject: News from your course\r\n"
        "\r\n"
        "--FW--\r\n",
        serial, failed, return_path, from, to);
}

/* The platform mailed a@school.example, which forwards to Gmail, where the
 * target does not exist: the platform is told about the address it knows.
 * The classifier's own report keeps the failed address. */
static void test_forward_by_original_to(void **state)
{
    fixture *f = *state;
    char *raw = forward_bounce(++f->serial, "no-reply@openhpi.de", "no-reply@openhpi.de", "Anna <a@school.example>",
                               "a.b@gmail.com");
    classify_report *rep = classify_message(raw, strlen(raw));
    assert_int_equal(rep->n_recipients, 1);
    assert_string_equal(rep->recipients[0].address, "a.b@gmail.com");
    assert_string_equal(rep->original_to, "a@school.example");
    classify_report_free(rep);

    assert_int_equal(handle_free(f, raw), POLICY_HANDLED);
    assert_true(suppressed(f, "a@school.example"));
    assert_int_equal(outbox_for(f, "a@school.example"), 1);
    assert_false(suppressed(f, "a.b@gmail.com"));
    assert_int_equal(outbox_for(f, "a.b@gmail.com"), 0);
    /* The event log names both: the address mailed and where it failed. */
    sql_expect(f, "SELECT count(*) FROM event WHERE address = 'a@school.example' AND final = 'a.b@gmail.com'", 1);

    /* Sent from another address of the platform, with a VERP of its
     * no-reply address as the return path. */
    raw = forward_bounce(++f->serial, "news@openhpi.de", "no-reply+b=school.example@openhpi.de", "b@school.example",
                         "b.c@gmail.com");
    assert_int_equal(handle_free(f, raw), POLICY_HANDLED);
    assert_true(suppressed(f, "b@school.example"));
    assert_false(suppressed(f, "b.c@gmail.com"));
}

/* No rewrite when the original went to several addresses (a list), or was
 * not sent by the platform: the failed address is the one acted on. */
static void test_forward_needs_one_to_from_the_platform(void **state)
{
    fixture *f = *state;
    char *raw = forward_bounce(++f->serial, "no-reply@openhpi.de", "no-reply@openhpi.de",
                               "a@school.example, c@school.example", "a.b@gmail.com");
    assert_int_equal(handle_free(f, raw), POLICY_HANDLED);
    assert_true(suppressed(f, "a.b@gmail.com"));
    assert_false(suppressed(f, "a@school.example"));

    raw = forward_bounce(++f->serial, "teacher@school.example", "teacher@school.example", "d@school.example",
                         "d.e@gmail.com");
    assert_int_equal(handle_free(f, raw), POLICY_HANDLED);
    assert_true(suppressed(f, "d.e@gmail.com"));
    assert_false(suppressed(f, "d@school.example"));
}

/* A store that is busy (another process holds the write lock past the busy
 * timeout) is unavailable for now: nothing is quarantined, the message is
 * asked for again. */
static void test_busy_store_is_retried_not_quarantined(void **state)
{
    fixture *f = *state;
    char *db = g_build_filename(f->dir, "db.sqlite", NULL);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    char *raw = hard_bounce(f, "busy@example.com");
    assert_int_equal(handle(f, raw, NULL), POLICY_STORE_FAILED);
    assert_false(store_error_permanent(f->st));
    assert_int_equal(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(quarantine_count(f), 0);
    assert_int_equal(handle(f, raw, NULL), POLICY_HANDLED);
    assert_true(suppressed(f, "busy@example.com"));
    g_free(raw);
    g_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fourth_soft_bounce_escalates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_restarts_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_clears_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_message_twice_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint_is_what_earlier_versions_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_message_despite_from_line_and_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permanent_suspends_and_archives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verdict_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complaint_suspends_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complaint_recorded_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_does_not_suspend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delayed_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_domain_quarantined_then_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_updates_the_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_and_empty_are_quarantined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autoreply_is_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes_by_envelope_and_subdomain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verp_names_the_recipient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_savepoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_archived_before_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handling_time_counts_from_receipt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_same_as_one_by_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_in_a_batch_of_large_bounces_does_not_wait_for_ever, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_archive_path_is_safe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_one_copy_per_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_same_name_twice_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_compression_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_link_failure_writes_a_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_address_is_never_suspended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_human_reply_is_not_a_bounce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_verdict_overrides_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_long_address_by_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_recipients_are_quarantined, setup, teardown),
        cmocka_unit_test(test_verp_tag_matches_the_documented_recipe),
        cmocka_unit_test(test_verp_signature_valid_wrong_expired),
        cmocka_unit_test(test_verp_tag_is_split_off),
        cmocka_unit_test_setup_teardown(test_require_signed_verp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_verp_without_requirement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_by_the_store_is_quarantined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_in_a_batch_counts_the_others_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_in_a_batch_has_its_effects_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_store_is_retried_not_quarantined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_by_original_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_needs_one_to_from_the_platform, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
