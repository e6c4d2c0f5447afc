/*
 * test_notify.c - the notifier against the real stand-in platform
 * (tests/platform.py, started here on a free port), with an in-memory outbox
 * standing in for the store so that the notifier's own behaviour is what is
 * tested: delivery, outcomes of each kind of answer, retries with backoff,
 * the xikolo resolver, payload and headers, parallel requests, the worker
 * thread and its wake-up, outcomes written in batches, and a transaction the
 * store refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <curl/curl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "notify/notify.h"
#include "test_support.h"

/* ---- the in-memory outbox: the store functions the notifier calls, with
 * the semantics store.h gives them ---- */

struct store {
    GPtrArray *items;         /* store_outbox_item *, by id - 1 */
    GHashTable *answers;      /* "address|domain" -> answer */
    GHashTable *handed_out;   /* ids store_outbox_due has returned */
    GArray *remembered;       /* ids store_outbox_claim_remembered may claim */
    GMutex lock;              /* the worker thread and the test both look */
    /* Transactions: what store_begin() saw, restored by store_rollback(). */
    bool in_transaction;
    GArray *undo;             /* store_outbox_item copies, by id - 1 */
    GHashTable *answers_undo;
    int finishes;             /* store_outbox_finish() calls in the open transaction */
    int batches;              /* committed transactions that wrote outcomes */
    int refuse_outcomes;      /* commits of outcomes to refuse */
    int rolled_back;          /* outcomes lost with a refused commit */
    bool leases_end_at_once;  /* a claim leaves its items due again at once */
    int refused_claims;       /* outcomes refused: their item was claimed again since */
};

const char *store_errmsg(const store *st)
{
    (void)st;
    return "no error";
}

static void fake_undo_clear(store *st)
{
    for (guint i = 0; i < st->undo->len; i++)
        g_free(g_array_index(st->undo, store_outbox_item, i).last_result);
    g_array_set_size(st->undo, 0);
    g_hash_table_remove_all(st->answers_undo);
}

/* Writes are immediate; begin remembers what rollback puts back. */
int store_begin(store *st)
{
    g_mutex_lock(&st->lock);
    fake_undo_clear(st);
    for (guint i = 0; i < st->items->len; i++) {
        store_outbox_item copy = *(store_outbox_item *)g_ptr_array_index(st->items, i);
        copy.last_result = g_strdup(copy.last_result);
        g_array_append_val(st->undo, copy);
    }
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, st->answers);
    while (g_hash_table_iter_next(&it, &key, &value))
        g_hash_table_insert(st->answers_undo, g_strdup(key), g_strdup(value));
    st->in_transaction = true;
    st->finishes = 0;
    g_mutex_unlock(&st->lock);
    return 0;
}

/* Refuses a commit of outcomes while refuse_outcomes says so, as a full
 * disk would; the caller then rolls back. */
int store_commit(store *st)
{
    g_mutex_lock(&st->lock);
    int ret = 0;
    if (st->finishes > 0 && st->refuse_outcomes > 0) {
        st->refuse_outcomes--;
        ret = -1;
    } else {
        st->batches += st->finishes > 0;
        st->in_transaction = false;
    }
    g_mutex_unlock(&st->lock);
    return ret;
}

int store_rollback(store *st)
{
    g_mutex_lock(&st->lock);
    if (st->in_transaction) {
        for (guint i = 0; i < st->undo->len; i++) {
            store_outbox_item *it = g_ptr_array_index(st->items, i);
            store_outbox_item *was = &g_array_index(st->undo, store_outbox_item, i);
            g_free(it->last_result);
            it->last_result = was->last_result;
            was->last_result = NULL;
            it->state = was->state;
            it->next_attempt = was->next_attempt;
            it->attempts = was->attempts;
        }
        GHashTable *swap = st->answers;
        st->answers = st->answers_undo;
        st->answers_undo = swap;
        st->rolled_back += st->finishes;
        st->in_transaction = false;
    }
    fake_undo_clear(st);
    g_mutex_unlock(&st->lock);
    return 0;
}

static store *fake_store_new(void)
{
    store *st = g_new0(store, 1);
    st->items = g_ptr_array_new();
    st->answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    st->handed_out = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    st->remembered = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_mutex_init(&st->lock);
    st->undo = g_array_new(FALSE, FALSE, sizeof(store_outbox_item));
    st->answers_undo = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return st;
}

static void fake_item_free(store_outbox_item *it)
{
    g_free(it->address);
    g_free(it->domain);
    g_free(it->reason);
    g_free(it->status);
    g_free(it->diagnostic);
    g_free(it->last_result);
}

static void fake_store_free(store *st)
{
    for (size_t i = 0; i < st->items->len; i++) {
        fake_item_free(g_ptr_array_index(st->items, i));
        g_free(g_ptr_array_index(st->items, i));
    }
    g_ptr_array_free(st->items, TRUE);
    g_hash_table_destroy(st->answers);
    g_hash_table_destroy(st->handed_out);
    g_array_free(st->remembered, TRUE);
    fake_undo_clear(st);
    g_array_free(st->undo, TRUE);
    g_hash_table_destroy(st->answers_undo);
    g_mutex_clear(&st->lock);
    g_free(st);
}

static int64_t fake_add(store *st, const char *address, const char *domain, time_t due)
{
    store_outbox_item *it = g_new0(store_outbox_item, 1);
    g_mutex_lock(&st->lock);
    it->id = st->items->len + 1;
    it->address = g_strdup(address);
    it->domain = g_strdup(domain);
    it->reason = g_strdup("mailbox_unknown");
    it->status = g_strdup("5.1.1");
    it->diagnostic = g_strdup("550 5.1.1 <x>: Recipient address rejected: User unknown");
    it->created = 1700000000;
    it->next_attempt = due;
    it->state = STORE_OUTBOX_PENDING;
    g_ptr_array_add(st->items, it);
    g_mutex_unlock(&st->lock);
    return it->id;
}

/* count items, <prefix>0@x.de onwards, ids in that order. */
static void fake_add_numbered(store *st, const char *prefix, int count, const char *domain, time_t due)
{
    for (int i = 0; i < count; i++) {
        char address[64];
        snprintf(address, sizeof address, "%s%d@x.de", prefix, i);
        fake_add(st, address, domain, due);
    }
}

static store_outbox_item fake_get(store *st, int64_t id)
{
    g_mutex_lock(&st->lock);
    store_outbox_item copy = *(store_outbox_item *)g_ptr_array_index(st->items, id - 1);
    g_mutex_unlock(&st->lock);
    return copy;
}

static const char *fake_answer(store *st, const char *address, const char *domain)
{
    char *key = g_strdup_printf("%s|%s", address, domain);
    g_mutex_lock(&st->lock);
    const char *answer = g_hash_table_lookup(st->answers, key);
    g_mutex_unlock(&st->lock);
    g_free(key);
    return answer;
}

static bool fake_handed_out(store *st, int64_t id)
{
    g_mutex_lock(&st->lock);
    bool out = g_hash_table_contains(st->handed_out, &id);
    g_mutex_unlock(&st->lock);
    return out;
}

/* A copy of it for the notifier, remembered as handed out (under st->lock). */
static void fake_hand_out(store *st, store_outbox_item *out, const store_outbox_item *it)
{
    *out = *it;
    out->address = g_strdup(it->address);
    out->domain = g_strdup(it->domain);
    out->reason = g_strdup(it->reason);
    out->status = g_strdup(it->status);
    out->diagnostic = g_strdup(it->diagnostic);
    out->last_result = g_strdup(it->last_result);
    g_hash_table_add(st->handed_out, g_memdup2(&it->id, sizeof it->id));
}

int store_outbox_due(store *st, time_t now, size_t max, store_outbox_item **items, size_t *n)
{
    g_mutex_lock(&st->lock);
    *items = g_new0(store_outbox_item, st->items->len + 1);
    *n = 0;
    for (size_t i = 0; i < st->items->len && *n < max; i++) {
        store_outbox_item *it = g_ptr_array_index(st->items, i);
        if (it->state != STORE_OUTBOX_PENDING || it->next_attempt > now)
            continue;
        fake_hand_out(st, &(*items)[(*n)++], it);
    }
    g_mutex_unlock(&st->lock);
    return 0;
}

int store_outbox_claim(store *st, time_t now, long lease_s, size_t max, store_outbox_item **items, size_t *n)
{
    if (store_outbox_due(st, now, max, items, n) != 0)
        return -1;
    g_mutex_lock(&st->lock);
    for (size_t i = 0; i < *n; i++) {
        store_outbox_item *it = g_ptr_array_index(st->items, (*items)[i].id - 1);
        it->next_attempt = (*items)[i].next_attempt = st->leases_end_at_once ? now : now + lease_s;
        (*items)[i].claims = ++it->claims;
    }
    g_mutex_unlock(&st->lock);
    return 0;
}

/* The remembered items that are pending and due, claimed; then forgotten. */
int store_outbox_claim_remembered(store *st, time_t now, long lease_s, store_outbox_item **items, size_t *n)
{
    g_mutex_lock(&st->lock);
    *items = g_new0(store_outbox_item, st->remembered->len + 1);
    *n = 0;
    for (guint i = 0; i < st->remembered->len; i++) {
        store_outbox_item *it = g_ptr_array_index(st->items, g_array_index(st->remembered, int64_t, i) - 1);
        if (it->state != STORE_OUTBOX_PENDING || it->next_attempt > now)
            continue;
        it->next_attempt = now + lease_s;
        it->claims++;
        fake_hand_out(st, &(*items)[(*n)++], it);
    }
    g_array_set_size(st->remembered, 0);
    g_mutex_unlock(&st->lock);
    return 0;
}

void store_outbox_free(store_outbox_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fake_item_free(&items[i]);
    g_free(items);
}

int store_outbox_finish(store *st, const store_outbox_item *item, store_outbox_state state, time_t next_attempt,
                        const char *result)
{
    g_mutex_lock(&st->lock);
    store_outbox_item *it = g_ptr_array_index(st->items, item->id - 1);
    if (it->claims != item->claims) {
        st->refused_claims++;
        g_mutex_unlock(&st->lock);
        return -1;
    }
    it->state = state;
    it->next_attempt = next_attempt;
    it->attempts++;
    g_free(it->last_result);
    it->last_result = g_strdup(result);
    st->finishes += st->in_transaction;
    g_mutex_unlock(&st->lock);
    return 0;
}

int store_outbox_defer_domain(store *st, const char *domain, time_t until, int *count)
{
    g_mutex_lock(&st->lock);
    int moved = 0;
    for (size_t i = 0; i < st->items->len; i++) {
        store_outbox_item *it = g_ptr_array_index(st->items, i);
        if (g_ascii_strcasecmp(it->domain, domain) == 0 && it->state == STORE_OUTBOX_PENDING &&
            it->next_attempt < until) {
            it->next_attempt = until;
            moved++;
        }
    }
    g_mutex_unlock(&st->lock);
    if (count != NULL)
        *count = moved;
    return 0;
}

int store_outbox_next_due(store *st, time_t *when, int *any)
{
    g_mutex_lock(&st->lock);
    *any = 0;
    for (size_t i = 0; i < st->items->len; i++) {
        store_outbox_item *it = g_ptr_array_index(st->items, i);
        if (it->state == STORE_OUTBOX_PENDING && (!*any || it->next_attempt < *when)) {
            *when = it->next_attempt;
            *any = 1;
        }
    }
    g_mutex_unlock(&st->lock);
    return 0;
}

int store_permanent_set_answer(store *st, const store_outbox_item *item, const char *answer)
{
    g_mutex_lock(&st->lock);
    g_hash_table_replace(st->answers, g_strdup_printf("%s|%s", item->address, item->domain), g_strdup(answer));
    g_mutex_unlock(&st->lock);
    return 0;
}

/* ---- the stand-in platform ---- */

typedef struct platform {
    GPid pid;
    int port;
} platform;

/* The platform must not outlive a test that crashes. */
static void platform_child_setup(gpointer data)
{
    (void)data;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void platform_start(platform *p, int port)
{
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    char *script = g_build_filename(getenv("BOUNCEDEMAILS_SRC"), "tests", "platform.py", NULL);
    char *argv[] = { "python3", script, "--port", port_arg, NULL };
    int out;
    GError *err = NULL;
    if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                  platform_child_setup, NULL,
                                  &p->pid, NULL, &out, NULL, &err))
        fail_msg("cannot start the platform: %s", err->message);
    g_free(script);
    /* It prints "platform listening on http://127.0.0.1:PORT" once it listens. */
    char line[256];
    FILE *f = fdopen(out, "r");
    if (fgets(line, sizeof line, f) == NULL)
        fail_msg("the platform did not start");
    fclose(f);
    char *colon = strrchr(line, ':');
    assert_non_null(colon);
    p->port = atoi(colon + 1);
    assert_true(p->port > 0);
}

static void platform_stop(platform *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    g_spawn_close_pid(p->pid);
    p->pid = 0;
}

static size_t platform_collect(char *data, size_t size, size_t nmemb, void *userp)
{
    g_string_append_len(userp, data, (gssize)(size * nmemb));
    return size * nmemb;
}

static json_t *platform_call(const platform *p, const char *path, const char *body)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", p->port, path);
    GString *answer = g_string_new(NULL);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, platform_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    json_t *doc = json_loads(answer->str, 0, NULL);
    g_string_free(answer, TRUE);
    assert_non_null(doc);
    return doc;
}

static void platform_mode(const platform *p, const char *mode_json)
{
    json_decref(platform_call(p, "/_mode", mode_json));
}

/* How many POSTs for address the platform received. */
static int platform_count(const platform *p, const char *address)
{
    json_t *all = platform_call(p, "/_received", NULL);
    size_t i;
    json_t *r;
    int count = 0;
    json_array_foreach(all, i, r)
        if (g_strcmp0(json_string_value(json_object_get(r, "address")), address) == 0)
            count++;
    json_decref(all);
    return count;
}

/* ---- fixtures ---- */

typedef struct fixture {
    platform plat;
    store *st;
    config *cfg;
    char *dir;
    notify *worker;            /* stopped by teardown should a test fail */
} fixture;

/* A config file as an operator would write it, read by config_load(). */
static config *fixture_config(fixture *f)
{
    char *yaml = g_strdup_printf(
        "test:\n"
        "  handler:\n"
        "    dbfile: %s/unused.db\n"
        "    permanent_bounced_emails_path: %s/permanent\n"
        "    domains:\n"
        "      mydomain.de:\n"
        "        base_url: \"http://127.0.0.1:%d/emails/{address}/suspend\"\n"
        "      xikolo.de:\n"
        "        url_resolver: xikolo\n"
        "        base_url: \"http://127.0.0.1:%d/\"\n"
        "      json.de:\n"
        "        base_url: \"http://127.0.0.1:%d/emails/{address}/suspend\"\n"
        "        payload: json\n"
        "        headers:\n"
        "          Authorization: \"Bearer s3cret\"\n"
        "          X-Empty: \"\"\n"
        "  notify:\n"
        "    connect_timeout: 2\n"
        "    timeout: 5\n"
        "    max_in_flight: 8\n"
        "    retry_initial: 30\n"
        "    retry_max: 3600\n"
        "    max_attempts: 5\n",
        f->dir, f->dir, f->plat.port, f->plat.port, f->plat.port);
    config *cfg = test_support_config(f->dir, yaml);
    g_free(yaml);
    return cfg;
}

static int setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    f->dir = g_dir_make_tmp("test-notify-XXXXXX", NULL);
    assert_non_null(f->dir);
    platform_start(&f->plat, 0);
    f->st = fake_store_new();
    f->cfg = fixture_config(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    notify_free(f->worker);
    platform_stop(&f->plat);
    fake_store_free(f->st);
    config_free(f->cfg);
    char *path = g_build_filename(f->dir, "config.yml", NULL);
    g_unlink(path);
    g_rmdir(f->dir);
    g_free(path);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static size_t run_once(fixture *f, time_t now)
{
    notify *n = notify_new(f->cfg, f->st);
    size_t attempted = 0;
    assert_int_equal(notify_run_once(n, now, &attempted), 0);
    notify_free(n);
    return attempted;
}

/* ---- tests ---- */

static void test_delivers_each_once(void **state)
{
    fixture *f = *state;
    time_t now = time(NULL);
    static const char *const addresses[] = { "a@x.de", "b+tag@x.de", "c/d@x.de", "100%@x.de", "jürgen@x.de",
                                             "with space@x.de" };
    int64_t ids[G_N_ELEMENTS(addresses)];
    for (size_t i = 0; i < G_N_ELEMENTS(addresses); i++)
        ids[i] = fake_add(f->st, addresses[i], "mydomain.de", now);
    fake_add(f->st, "later@x.de", "mydomain.de", now + 600);

    assert_int_equal(run_once(f, now), G_N_ELEMENTS(addresses));
    for (size_t i = 0; i < G_N_ELEMENTS(addresses); i++) {
        store_outbox_item it = fake_get(f->st, ids[i]);
        assert_int_equal(it.state, STORE_OUTBOX_DONE);
        /* The platform decoded the same address from the path. */
        assert_int_equal(platform_count(&f->plat, addresses[i]), 1);
        assert_true(g_str_has_prefix(it.last_result, "200 / "));
        assert_non_null(strstr(fake_answer(f->st, addresses[i], "mydomain.de"), "processd_email"));
    }
    assert_int_equal(platform_count(&f->plat, "later@x.de"), 0);
    /* Nothing is due any more: a second pass sends nothing. */
    assert_int_equal(run_once(f, now), 0);
    assert_int_equal(platform_count(&f->plat, "a@x.de"), 1);
}

static void test_down_then_up(void **state)
{
    fixture *f = *state;
    int port = f->plat.port;
    platform_stop(&f->plat);
    time_t now = time(NULL);
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        char address[32];
        snprintf(address, sizeof address, "down%d@x.de", i);
        ids[i] = fake_add(f->st, address, "mydomain.de", now);
    }
    assert_int_equal(run_once(f, now), 4);
    for (int i = 0; i < 4; i++) {
        store_outbox_item it = fake_get(f->st, ids[i]);
        assert_int_equal(it.state, STORE_OUTBOX_PENDING);
        assert_int_equal(it.attempts, 1);
        assert_true(it.next_attempt >= now + 15 && it.next_attempt <= time(NULL) + 30);
        assert_true(g_str_has_prefix(it.last_result, "connection failed"));
    }
    /* Not due yet: nothing is attempted. */
    assert_int_equal(run_once(f, now), 0);

    platform_start(&f->plat, port);
    assert_int_equal(run_once(f, now + 31), 4);
    for (int i = 0; i < 4; i++) {
        store_outbox_item it = fake_get(f->st, ids[i]);
        assert_int_equal(it.state, STORE_OUTBOX_DONE);
        char address[32];
        snprintf(address, sizeof address, "down%d@x.de", i);
        assert_int_equal(platform_count(&f->plat, address), 1);
    }
}

static void test_unreachable_platform_ends_the_pass(void **state)
{
    fixture *f = *state;
    f->cfg->notify.max_in_flight = 2;
    int port = f->plat.port;
    platform_stop(&f->plat);
    time_t now = time(NULL);
    fake_add_numbered(f->st, "backlog", 6, "mydomain.de", now);
    /* The first batch finds nobody there; the rest is left for the daemon. */
    assert_int_equal(run_once(f, now), 2);
    for (int64_t id = 1; id <= 6; id++) {
        store_outbox_item it = fake_get(f->st, id);
        assert_int_equal(it.state, STORE_OUTBOX_PENDING);
        assert_int_equal(it.attempts, id <= 2 ? 1 : 0);
        if (id > 2)
            assert_true(it.next_attempt <= now);
    }
    /* An answer, even an error, does not end the pass. */
    platform_start(&f->plat, port);
    platform_mode(&f->plat, "{\"mode\": \"error\", \"status\": 500}");
    assert_int_equal(run_once(f, now), 4);
}

static void test_error_statuses(void **state)
{
    fixture *f = *state;
    static const struct {
        int status;
        store_outbox_state want;
        const char *answer_prefix;
    } cases[] = {
        { 500, STORE_OUTBOX_PENDING, NULL },
        { 503, STORE_OUTBOX_PENDING, NULL },
        { 404, STORE_OUTBOX_DONE, "unknown at platform: 404 / " },
        { 410, STORE_OUTBOX_DONE, "unknown at platform: 410 / " },
        { 400, STORE_OUTBOX_GIVEN_UP, "given up: 400 / " },
        { 403, STORE_OUTBOX_GIVEN_UP, "given up: 403 / " },
    };
    time_t now = time(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char mode[80], address[32];
        snprintf(mode, sizeof mode, "{\"mode\": \"error\", \"status\": %d}", cases[i].status);
        snprintf(address, sizeof address, "s%d@x.de", cases[i].status);
        platform_mode(&f->plat, mode);
        int64_t id = fake_add(f->st, address, "mydomain.de", now);
        assert_int_equal(run_once(f, now), 1);
        store_outbox_item it = fake_get(f->st, id);
        if (it.state != cases[i].want)
            fail_msg("status %d: state %d, want %d", cases[i].status, (int)it.state, (int)cases[i].want);
        char want_result[16];
        snprintf(want_result, sizeof want_result, "%d / ", cases[i].status);
        assert_true(g_str_has_prefix(it.last_result, want_result));
        const char *answer = fake_answer(f->st, address, "mydomain.de");
        if (cases[i].answer_prefix) {
            assert_non_null(answer);
            assert_true(g_str_has_prefix(answer, cases[i].answer_prefix));
        } else {
            assert_null(answer);
            assert_true(it.next_attempt > now);
        }
    }
}

static void test_gives_up_after_max_attempts(void **state)
{
    fixture *f = *state;
    platform_mode(&f->plat, "{\"mode\": \"error\", \"status\": 500}");
    f->cfg->notify.max_attempts = 3;
    f->cfg->notify.retry_initial_s = 10;
    f->cfg->notify.retry_max_s = 15;
    time_t now = time(NULL);
    int64_t id = fake_add(f->st, "tired@x.de", "mydomain.de", now);
    long waits[2];
    for (int attempt = 1; attempt <= 3; attempt++) {
        store_outbox_item before = fake_get(f->st, id);
        time_t at = before.next_attempt;
        assert_int_equal(run_once(f, at), 1);
        store_outbox_item it = fake_get(f->st, id);
        assert_int_equal(it.attempts, attempt);
        if (attempt < 3) {
            assert_int_equal(it.state, STORE_OUTBOX_PENDING);
            waits[attempt - 1] = (long)(it.next_attempt - MAX(at, time(NULL)));
        } else {
            assert_int_equal(it.state, STORE_OUTBOX_GIVEN_UP);
        }
    }
    /* 10 s, then doubled but capped at 15 s, each with up to half as jitter. */
    assert_true(waits[0] >= 4 && waits[0] <= 10);
    assert_true(waits[1] >= 6 && waits[1] <= 15);
    assert_true(g_str_has_prefix(fake_answer(f->st, "tired@x.de", "mydomain.de"), "given up: 500 / "));
}

static void test_timeout_is_retried(void **state)
{
    fixture *f = *state;
    f->cfg->notify.timeout_ms = 500;
    platform_mode(&f->plat, "{\"mode\": \"slow\", \"delay\": 5}");
    time_t now = time(NULL);
    int64_t id = fake_add(f->st, "slow@x.de", "mydomain.de", now);
    gint64 start = g_get_monotonic_time();
    assert_int_equal(run_once(f, now), 1);
    /* Cut at the timeout, well before the platform would have answered. */
    assert_true(g_get_monotonic_time() - start < 3 * G_USEC_PER_SEC);
    store_outbox_item it = fake_get(f->st, id);
    assert_int_equal(it.state, STORE_OUTBOX_PENDING);
    assert_true(g_str_has_prefix(it.last_result, "timeout"));
}

static void test_requests_in_parallel(void **state)
{
    fixture *f = *state;
    f->cfg->notify.max_in_flight = 8;
    platform_mode(&f->plat, "{\"mode\": \"slow\", \"delay\": 1}");
    time_t now = time(NULL);
    fake_add_numbered(f->st, "p", 8, "mydomain.de", now);
    gint64 start = g_get_monotonic_time();
    assert_int_equal(run_once(f, now), 8);
    gint64 took = g_get_monotonic_time() - start;
    /* One after the other they would take 8 s. */
    if (took > 4 * G_USEC_PER_SEC)
        fail_msg("8 slow requests took %.1f s", (double)took / G_USEC_PER_SEC);
    assert_int_equal(platform_count(&f->plat, "p7@x.de"), 1);
}

static void test_xikolo_resolver(void **state)
{
    fixture *f = *state;
    time_t now = time(NULL);
    int64_t a = fake_add(f->st, "x+1@x.de", "xikolo.de", now);
    int64_t b = fake_add(f->st, "x+2@x.de", "xikolo.de", now);
    assert_int_equal(run_once(f, now), 2);
    assert_int_equal(fake_get(f->st, a).state, STORE_OUTBOX_DONE);
    assert_int_equal(fake_get(f->st, b).state, STORE_OUTBOX_DONE);
    assert_int_equal(platform_count(&f->plat, "x+1@x.de"), 1);
    assert_int_equal(platform_count(&f->plat, "x+2@x.de"), 1);

    /* A platform that cannot answer the GET: a retryable failure. */
    platform_mode(&f->plat, "{\"mode\": \"error\", \"status\": 502}");
    int64_t c = fake_add(f->st, "x3@x.de", "xikolo.de", now);
    assert_int_equal(run_once(f, now), 1);
    store_outbox_item it = fake_get(f->st, c);
    assert_int_equal(it.state, STORE_OUTBOX_PENDING);
    assert_true(g_str_has_prefix(it.last_result, "resolve: 502 / "));
}

/* A template without {address} would send every notification to one URL. */
static void test_xikolo_template_without_address(void **state)
{
    fixture *f = *state;
    time_t now = time(NULL);
    char *tpl = g_strdup_printf("{\"suspensions_url\": \"http://127.0.0.1:%d/emails/suspend\"}",
                                f->plat.port);
    platform_mode(&f->plat, tpl);
    g_free(tpl);
    int64_t a = fake_add(f->st, "x1@x.de", "xikolo.de", now);
    assert_int_equal(run_once(f, now), 1);
    store_outbox_item it = fake_get(f->st, a);
    assert_int_equal(it.state, STORE_OUTBOX_PENDING);
    assert_non_null(strstr(it.last_result, "email_suspensions_url has no {address}"));
    assert_int_equal(platform_count(&f->plat, "x1@x.de"), 0);
}

static void test_json_payload_and_headers(void **state)
{
    fixture *f = *state;
    time_t now = time(NULL);
    fake_add(f->st, "json@x.de", "json.de", now);
    assert_int_equal(run_once(f, now), 1);

    json_t *all = platform_call(&f->plat, "/_received", NULL);
    assert_int_equal(json_array_size(all), 1);
    json_t *r = json_array_get(all, 0);
    json_t *headers = json_object_get(r, "headers");
    assert_string_equal(json_string_value(json_object_get(headers, "Authorization")), "Bearer s3cret");
    assert_string_equal(json_string_value(json_object_get(headers, "X-Empty")), "");
    assert_string_equal(json_string_value(json_object_get(headers, "Content-Type")), "application/json");
    json_t *body = json_loads(json_string_value(json_object_get(r, "body")), 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "address")), "json@x.de");
    assert_string_equal(json_string_value(json_object_get(body, "reason")), "mailbox_unknown");
    assert_string_equal(json_string_value(json_object_get(body, "status")), "5.1.1");
    assert_non_null(strstr(json_string_value(json_object_get(body, "diagnostic")), "User unknown"));
    assert_string_equal(json_string_value(json_object_get(body, "time")), "2023-11-14T22:13:20Z");
    json_decref(body);
    json_decref(all);
}

static void test_empty_body_by_default(void **state)
{
    fixture *f = *state;
    fake_add(f->st, "plain@x.de", "mydomain.de", time(NULL));
    assert_int_equal(run_once(f, time(NULL)), 1);
    json_t *all = platform_call(&f->plat, "/_received", NULL);
    json_t *r = json_array_get(all, 0);
    assert_string_equal(json_string_value(json_object_get(r, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(r, "body")), "");
    json_t *headers = json_object_get(r, "headers");
    assert_null(json_object_get(headers, "Content-Type"));
    assert_string_equal(json_string_value(json_object_get(headers, "Content-Length")), "0");
    json_decref(all);
}

static void test_unconfigured_domain_given_up(void **state)
{
    fixture *f = *state;
    int64_t id = fake_add(f->st, "who@x.de", "gone.example", time(NULL));
    assert_int_equal(run_once(f, time(NULL)), 1);
    store_outbox_item it = fake_get(f->st, id);
    assert_int_equal(it.state, STORE_OUTBOX_GIVEN_UP);
    assert_non_null(strstr(it.last_result, "not configured"));
}

/* A `stdin` run attempts what it queued, not the backlog of other runs and
 * platforms, however due. */
static void test_run_remembered_only_its_own(void **state)
{
    fixture *f = *state;
    time_t now = time(NULL);
    fake_add_numbered(f->st, "backlog", 3, "json.de", now - 60);
    int64_t own = fake_add(f->st, "own@x.de", "mydomain.de", now);
    g_array_append_val(f->st->remembered, own);
    notify *n = notify_new(f->cfg, f->st);
    size_t attempted = 0;
    assert_int_equal(notify_run_remembered(n, now, &attempted), 0);
    notify_free(n);
    assert_int_equal(attempted, 1);
    assert_int_equal(fake_get(f->st, own).state, STORE_OUTBOX_DONE);
    for (int64_t id = 1; id <= 3; id++)
        assert_int_equal(fake_get(f->st, id).attempts, 0);
    assert_int_equal(platform_count(&f->plat, "backlog0@x.de"), 0);
}

/* 429 and 503 with Retry-After: the next attempt after that many seconds,
 * at most retry_max (3600); the backoff would have said 15 to 30 s. */
static void test_retry_after_honoured(void **state)
{
    fixture *f = *state;
    platform_mode(&f->plat, "{\"mode\": \"error\", \"status\": 429, \"retry_after\": 7}");
    time_t now = time(NULL);
    int64_t id = fake_add(f->st, "busy@x.de", "mydomain.de", now);
    assert_int_equal(run_once(f, now), 1);
    store_outbox_item it = fake_get(f->st, id);
    assert_int_equal(it.state, STORE_OUTBOX_PENDING);
    assert_true(it.next_attempt >= now + 7 && it.next_attempt <= time(NULL) + 7);

    platform_mode(&f->plat, "{\"mode\": \"error\", \"status\": 503, \"retry_after\": 100000}");
    time_t later = it.next_attempt;
    assert_int_equal(run_once(f, later), 1);
    it = fake_get(f->st, id);
    assert_int_equal(it.state, STORE_OUTBOX_PENDING);
    assert_true(it.next_attempt >= later + 3600 && it.next_attempt <= MAX(later, time(NULL)) + 3600);
}

/* Items claimed together but held for their platform's turn are not tried
 * one round after another against a platform that does not answer: a
 * `stdin` run would wait a timeout per round. */
static void test_unreachable_platform_leaves_held_jobs(void **state)
{
    fixture *f = *state;
    f->cfg->notify.max_in_flight = 6;
    f->cfg->notify.concurrency = 2;
    platform_stop(&f->plat);
    time_t now = time(NULL);
    fake_add_numbered(f->st, "held", 6, "mydomain.de", now);
    assert_int_equal(run_once(f, now), 2);
    int attempted = 0;
    for (int64_t id = 1; id <= 6; id++) {
        store_outbox_item it = fake_get(f->st, id);
        assert_int_equal(it.state, STORE_OUTBOX_PENDING);
        attempted += it.attempts;
    }
    assert_int_equal(attempted, 2);
}

/* A notification held for its platform's turn for longer than
 * NOTIFY_HOLD_S is not started: it goes back to the outbox unattempted and
 * still claimed, since its lease may end before its request would, and
 * another process may then take it. run_once's now is when its items are
 * claimed: an hour ago here. */
static void test_held_too_long_goes_back_unattempted(void **state)
{
    fixture *f = *state;
    f->cfg->notify.max_in_flight = 8;
    f->cfg->notify.concurrency = 1;
    time_t then = time(NULL) - 3600;
    fake_add_numbered(f->st, "late", 3, "mydomain.de", then);
    assert_int_equal(run_once(f, then), 1);
    assert_int_equal(platform_count(&f->plat, "late0@x.de"), 1);
    assert_int_equal(fake_get(f->st, 1).state, STORE_OUTBOX_DONE);
    for (int64_t id = 2; id <= 3; id++) {
        char address[32];
        snprintf(address, sizeof address, "late%d@x.de", (int)id - 1);
        assert_int_equal(platform_count(&f->plat, address), 0);
        store_outbox_item it = fake_get(f->st, id);
        assert_int_equal(it.state, STORE_OUTBOX_PENDING);
        assert_int_equal(it.attempts, 0);
        assert_int_equal(it.next_attempt, then + notify_lease_s(&f->cfg->notify));
    }
}

/* notify.concurrency requests at once to one platform: four slow requests
 * with two at a time take two rounds, and each goes out once. */
static void test_platform_concurrency(void **state)
{
    fixture *f = *state;
    f->cfg->notify.max_in_flight = 8;
    f->cfg->notify.concurrency = 2;
    platform_mode(&f->plat, "{\"mode\": \"slow\", \"delay\": 1}");
    time_t now = time(NULL);
    fake_add_numbered(f->st, "c", 4, "mydomain.de", now);
    gint64 start = g_get_monotonic_time();
    assert_int_equal(run_once(f, now), 4);
    assert_true(g_get_monotonic_time() - start >= 19 * G_USEC_PER_SEC / 10);
    for (int i = 0; i < 4; i++) {
        char address[32];
        snprintf(address, sizeof address, "c%d@x.de", i);
        assert_int_equal(platform_count(&f->plat, address), 1);
        assert_int_equal(fake_get(f->st, i + 1).state, STORE_OUTBOX_DONE);
    }
}

static bool all_done(store *st, int64_t first, int64_t last)
{
    for (int64_t id = first; id <= last; id++)
        if (fake_get(st, id).state != STORE_OUTBOX_DONE)
            return false;
    return true;
}

static void test_worker_wakes_and_stops(void **state)
{
    fixture *f = *state;
    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    /* An item added while the worker sleeps goes out promptly after a wake-up. */
    g_usleep(G_USEC_PER_SEC / 10);
    int64_t first = fake_add(f->st, "w1@x.de", "mydomain.de", time(NULL));
    int64_t last = fake_add(f->st, "w2@x.de", "mydomain.de", time(NULL));
    gint64 start = g_get_monotonic_time();
    notify_wake(n);
    while (!all_done(f->st, first, last) && g_get_monotonic_time() - start < 3 * G_USEC_PER_SEC)
        g_usleep(10000);
    assert_true(all_done(f->st, first, last));

    /* Stopping lets a request in flight finish with its outcome. */
    platform_mode(&f->plat, "{\"mode\": \"slow\", \"delay\": 1}");
    int64_t slow = fake_add(f->st, "w3@x.de", "mydomain.de", time(NULL));
    notify_wake(n);
    start = g_get_monotonic_time();
    while (!fake_handed_out(f->st, slow) && g_get_monotonic_time() - start < 3 * G_USEC_PER_SEC)
        g_usleep(1000);
    assert_true(fake_handed_out(f->st, slow));
    notify_stop(n);
    assert_int_equal(fake_get(f->st, slow).state, STORE_OUTBOX_DONE);
}

/* Stopping does not start the requests held for their platform's turn:
 * they come due again when their claim ends. */
static void test_worker_stop_leaves_held_jobs(void **state)
{
    fixture *f = *state;
    f->cfg->notify.concurrency = 1;
    platform_mode(&f->plat, "{\"mode\": \"slow\", \"delay\": 1}");
    fake_add_numbered(f->st, "h", 3, "mydomain.de", time(NULL));
    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    gint64 start = g_get_monotonic_time();
    while (!fake_handed_out(f->st, 3) && g_get_monotonic_time() - start < 3 * G_USEC_PER_SEC)
        g_usleep(1000);
    assert_true(fake_handed_out(f->st, 1) && fake_handed_out(f->st, 3));
    notify_stop(n);
    int attempts = 0;
    for (int64_t id = 1; id <= 3; id++)
        attempts += fake_get(f->st, id).attempts;
    assert_int_equal(attempts, 1);
}

/* A platform that accepts connections and never answers (a listening
 * socket nobody accepts from) has a backlog queued before another
 * platform's notifications. Its first requests time out; then its backlog
 * waits in the outbox, unattempted, and the other platform's notifications
 * go out at once. Before, the hung platform's jobs held every slot, and the
 * other platform waited for its whole backlog to time out two at a time. */
static void test_a_platform_that_does_not_answer_waits_and_others_go_on(void **state)
{
    fixture *f = *state;
    enum { HUNG_ITEMS = 40, OTHER_ITEMS = 6 };
    int hung = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    assert_int_equal(bind(hung, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(hung, 64), 0);
    assert_int_equal(getsockname(hung, (struct sockaddr *)&addr, &len), 0);
    config_domain *dom = (config_domain *)config_find_domain(f->cfg, "mydomain.de");
    g_free(dom->base_url);
    dom->base_url = g_strdup_printf("http://127.0.0.1:%d/emails/{address}/suspend", ntohs(addr.sin_port));
    f->cfg->notify.timeout_ms = 1000;
    f->cfg->notify.max_in_flight = 8;
    f->cfg->notify.concurrency = 2;
    time_t now = time(NULL);
    fake_add_numbered(f->st, "hung", HUNG_ITEMS, "mydomain.de", now);
    fake_add_numbered(f->st, "other", OTHER_ITEMS, "json.de", now);

    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    gint64 start = g_get_monotonic_time();
    while (!all_done(f->st, HUNG_ITEMS + 1, HUNG_ITEMS + OTHER_ITEMS) &&
           g_get_monotonic_time() - start < 6 * G_USEC_PER_SEC)
        g_usleep(10000);
    notify_stop(n);
    close(hung);
    assert_true(all_done(f->st, HUNG_ITEMS + 1, HUNG_ITEMS + OTHER_ITEMS));
    /* Two requests (the platform's concurrency) timed out; the rest of
     * its backlog waits for the backoff (30 s, less up to half as jitter),
     * unattempted. */
    int attempts = 0;
    for (int64_t id = 1; id <= HUNG_ITEMS; id++) {
        store_outbox_item it = fake_get(f->st, id);
        assert_int_equal(it.state, STORE_OUTBOX_PENDING);
        assert_true(it.next_attempt >= now + 15);
        attempts += it.attempts;
    }
    assert_int_equal(attempts, 2);
}

/* A notification queued by another process (which cannot wake the
 * daemon) while the platform sits on a request is claimed for a free slot
 * within a busy poll. Before, the worker claimed only when an outcome came
 * in, so it waited for the hung request. */
static void test_worker_claims_while_a_request_hangs(void **state)
{
    fixture *f = *state;
    platform_mode(&f->plat, "{\"mode\": \"slow\", \"delay\": 3}");
    int64_t hanging = fake_add(f->st, "hanging@x.de", "mydomain.de", time(NULL));
    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    gint64 start = g_get_monotonic_time();
    while (!fake_handed_out(f->st, hanging) && g_get_monotonic_time() - start < 2 * G_USEC_PER_SEC)
        g_usleep(1000);
    assert_true(fake_handed_out(f->st, hanging));
    int64_t later = fake_add(f->st, "later@x.de", "mydomain.de", time(NULL));
    start = g_get_monotonic_time();
    while (!fake_handed_out(f->st, later) && g_get_monotonic_time() - start < 2500 * 1000)
        g_usleep(1000);
    assert_true(fake_handed_out(f->st, later));
    assert_int_equal(fake_get(f->st, hanging).state, STORE_OUTBOX_PENDING);
    notify_stop(n);
    assert_true(all_done(f->st, hanging, later));
}

/* A request outlives its claim's lease and the worker, looking for work
 * meanwhile, claims the same notification again: it starts no second
 * request, and the one in flight stands for the new claim, so that its
 * outcome is recorded (not refused as another claim's, and the
 * notification POSTed again). */
static void test_a_request_that_outlived_its_lease_stands_for_the_new_claim(void **state)
{
    fixture *f = *state;
    platform_mode(&f->plat, "{\"mode\": \"slow\", \"delay\": 3}");
    f->st->leases_end_at_once = true;
    int64_t id = fake_add(f->st, "outlived@x.de", "mydomain.de", time(NULL));
    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    gint64 start = g_get_monotonic_time();
    while (fake_get(f->st, id).claims < 2 && g_get_monotonic_time() - start < 3 * G_USEC_PER_SEC)
        g_usleep(1000);
    assert_true(fake_get(f->st, id).claims >= 2);
    g_mutex_lock(&f->st->lock);
    f->st->leases_end_at_once = false;
    g_mutex_unlock(&f->st->lock);
    while (!all_done(f->st, id, id) && g_get_monotonic_time() - start < 10 * G_USEC_PER_SEC)
        g_usleep(10000);
    notify_stop(n);
    assert_true(all_done(f->st, id, id));
    assert_int_equal(f->st->refused_claims, 0);
    assert_int_equal(platform_count(&f->plat, "outlived@x.de"), 1);
}

/* The worker with many items: claimed and recorded in batches, several
 * requests at once, every suspension POSTed exactly once. */
static void test_worker_posts_each_once(void **state)
{
    fixture *f = *state;
    enum { ITEMS = 300 };
    time_t now = time(NULL);
    for (int i = 0; i < ITEMS; i++) {
        char address[32];
        snprintf(address, sizeof address, "many%d@x.de", i);
        fake_add(f->st, address, i % 3 ? "mydomain.de" : "json.de", now);
    }
    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    notify_wake(n);
    gint64 start = g_get_monotonic_time();
    while (!all_done(f->st, 1, ITEMS) && g_get_monotonic_time() - start < 60 * G_USEC_PER_SEC)
        g_usleep(10000);
    notify_stop(n);
    assert_true(all_done(f->st, 1, ITEMS));
    json_t *all = platform_call(&f->plat, "/_received", NULL);
    assert_int_equal(json_array_size(all), ITEMS);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
        assert_true(g_hash_table_add(seen, (gpointer)json_string_value(json_object_get(r, "address"))));
    g_hash_table_destroy(seen);
    json_decref(all);
}

/* Items that arrive a few at a time, as ingest queues them, have their
 * outcomes written many to a transaction rather than one transaction a
 * wake-up; and every outcome and answer is written, each item POSTed once. */
static void test_worker_batches_outcomes(void **state)
{
    fixture *f = *state;
    enum { ITEMS = 120 };
    f->cfg->notify.max_in_flight = 64;   /* fewer slots than ITEMS */
    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    /* Ingest's pace: an item a millisecond, each with a wake-up. */
    for (int i = 0; i < ITEMS; i++) {
        char address[32];
        snprintf(address, sizeof address, "batch%d@x.de", i);
        fake_add(f->st, address, "mydomain.de", time(NULL));
        notify_wake(n);
        g_usleep(1000);
    }
    gint64 start = g_get_monotonic_time();
    while (!all_done(f->st, 1, ITEMS) && g_get_monotonic_time() - start < 10 * G_USEC_PER_SEC)
        g_usleep(10000);
    notify_stop(n);
    assert_true(all_done(f->st, 1, ITEMS));
    for (int64_t id = 1; id <= ITEMS; id++) {
        store_outbox_item it = fake_get(f->st, id);
        assert_int_equal(it.attempts, 1);
        assert_non_null(fake_answer(f->st, it.address, it.domain));
    }
    json_t *all = platform_call(&f->plat, "/_received", NULL);
    assert_int_equal(json_array_size(all), ITEMS);
    json_decref(all);
    print_message("%d outcomes in %d transactions\n", ITEMS, f->st->batches);
    assert_true(f->st->batches > 0 && f->st->batches <= ITEMS / 5);
}

/* A transaction of outcomes that the store refuses loses no notification:
 * its outcomes are rolled back, those items come due again when their claim
 * ends and are POSTed a second time, and every item ends done. */
static void test_refused_commit_loses_none(void **state)
{
    fixture *f = *state;
    enum { ITEMS = 20 };
    time_t now = time(NULL);
    fake_add_numbered(f->st, "r", ITEMS, "mydomain.de", now);
    f->st->refuse_outcomes = 1;
    notify *n = notify_new(f->cfg, f->st);
    size_t attempted = 0;
    assert_int_equal(notify_run_once(n, now, &attempted), -1);
    assert_true(f->st->rolled_back > 0);
    assert_false(all_done(f->st, 1, ITEMS));
    /* After the claims' lease: the rest, and what was rolled back. */
    assert_int_equal(notify_run_once(n, now + 3600, &attempted), 0);
    notify_free(n);
    assert_true(all_done(f->st, 1, ITEMS));
    int twice = 0;
    for (int i = 0; i < ITEMS; i++) {
        char address[32];
        snprintf(address, sizeof address, "r%d@x.de", i);
        int posts = platform_count(&f->plat, address);
        assert_true(posts == 1 || posts == 2);
        twice += posts == 2;
        assert_non_null(fake_answer(f->st, address, "mydomain.de"));
    }
    assert_int_equal(twice, f->st->rolled_back);
}

/* The daemon's worker keeps the outcomes of a refused commit and writes
 * them in its next transaction: every notification is POSTed once, none
 * waits for its claim to end to be sent again. */
static void test_worker_writes_refused_outcomes_again(void **state)
{
    fixture *f = *state;
    enum { ITEMS = 20 };
    fake_add_numbered(f->st, "k", ITEMS, "mydomain.de", time(NULL));
    f->st->refuse_outcomes = 1;
    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    gint64 start = g_get_monotonic_time();
    while (!all_done(f->st, 1, ITEMS) && g_get_monotonic_time() - start < 10 * G_USEC_PER_SEC)
        g_usleep(10000);
    notify_stop(n);
    assert_true(f->st->rolled_back > 0);
    assert_true(all_done(f->st, 1, ITEMS));
    for (int i = 0; i < ITEMS; i++) {
        char address[32];
        snprintf(address, sizeof address, "k%d@x.de", i);
        assert_int_equal(platform_count(&f->plat, address), 1);
        assert_int_equal(fake_get(f->st, i + 1).attempts, 1);
        assert_non_null(fake_answer(f->st, address, "mydomain.de"));
    }
}

static int refusals_left(store *st)
{
    g_mutex_lock(&st->lock);
    int left = st->refuse_outcomes;
    g_mutex_unlock(&st->lock);
    return left;
}

/* A store that refuses the same outcome five times in a row
 * (NOTIFY_OUTCOME_TRIES): the worker gives it up, leaving its notification
 * to come due again when its claim ends, so that the outcomes of later
 * requests are not held back behind it; the next one is recorded. */
static void test_worker_gives_up_an_outcome_refused_five_times(void **state)
{
    fixture *f = *state;
    int64_t refused = fake_add(f->st, "refused@x.de", "mydomain.de", time(NULL));
    f->st->refuse_outcomes = 5;
    notify *n = f->worker = notify_new(f->cfg, f->st);
    assert_int_equal(notify_start(n), 0);
    gint64 start = g_get_monotonic_time();
    /* About a second apart: within 10 s, where an idle wait (5 s) would take 20. */
    while (refusals_left(f->st) > 0 && g_get_monotonic_time() - start < 10 * G_USEC_PER_SEC)
        g_usleep(10000);
    assert_int_equal(refusals_left(f->st), 0);
    int64_t later = fake_add(f->st, "later@x.de", "mydomain.de", time(NULL));
    notify_wake(n);
    while (!all_done(f->st, later, later) && g_get_monotonic_time() - start < 20 * G_USEC_PER_SEC)
        g_usleep(10000);
    notify_stop(n);
    assert_true(all_done(f->st, later, later));
    assert_int_equal(f->st->rolled_back, 5);
    assert_int_not_equal(fake_get(f->st, refused).state, STORE_OUTBOX_DONE);
    assert_null(fake_answer(f->st, "refused@x.de", "mydomain.de"));
    assert_int_equal(platform_count(&f->plat, "refused@x.de"), 1);
}

int main(void)
{
    if (getenv("BOUNCEDEMAILS_SRC") == NULL) {
        fprintf(stderr, "BOUNCEDEMAILS_SRC is not set\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delivers_each_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_then_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_platform_ends_the_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gives_up_after_max_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_in_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xikolo_resolver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xikolo_template_without_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_payload_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_body_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unconfigured_domain_given_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_wakes_and_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_remembered_only_its_own, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_platform_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_too_long_goes_back_unattempted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_platform_leaves_held_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_stop_leaves_held_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_claims_while_a_request_hangs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_request_that_outlived_its_lease_stands_for_the_new_claim, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_worker_posts_each_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_batches_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_platform_that_does_not_answer_waits_and_others_go_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_commit_loses_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_writes_refused_outcomes_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_gives_up_an_outcome_refused_five_times, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
