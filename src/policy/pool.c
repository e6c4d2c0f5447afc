/*
 * pool.c - runs one function over a batch's indices on every CPU at once, the
 * calling thread among them (policy_handle_batch classifies a batch's
 * messages with it before the batch's write transaction, so that the thread
 * that commits is not the one that classifies them all, one after another).
 * The threads are started once and kept: a batch comes every few
 * milliseconds, and starting a thread for each would cost more than it saves.
 */
#include <glib.h>
#include <stdlib.h>

#include "policy/policy_internal.h"

struct policy_pool {
    GThreadPool *threads; /* NULL with one CPU: the caller does it all */
    unsigned n_threads;
    GMutex lock;
    GCond done;
};

/* One call of policy_pool_run(): every thread takes the next index until
 * none is left. */
typedef struct pool_run {
    policy_pool *pool;
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    gsize next;     /* the next index to take (atomic) */
    unsigned busy;  /* threads that have not finished this run (under lock) */
} pool_run;

static void pool_take(pool_run *run)
{
    for (;;) {
        size_t i = (size_t)g_atomic_pointer_add(&run->next, 1);
        if (i >= run->n)
            return;
        run->fn(run->arg, i);
    }
}

static void pool_thread(gpointer data, gpointer unused)
{
    (void)unused;
    pool_run *run = data;
    pool_take(run);
    policy_pool *pool = run->pool;
    g_mutex_lock(&pool->lock);
    if (--run->busy == 0)
        g_cond_signal(&pool->done);
    g_mutex_unlock(&pool->lock);
}

policy_pool *policy_pool_new(void)
{
    policy_pool *pool = g_new0(policy_pool, 1);
    g_mutex_init(&pool->lock);
    g_cond_init(&pool->done);
    unsigned cpus = g_get_num_processors();
    if (cpus > 1) {
        /* Exclusive: started now and kept, never shared with other pools. */
        pool->threads = g_thread_pool_new(pool_thread, NULL, (gint)(cpus - 1), TRUE, NULL);
        if (pool->threads)
            pool->n_threads = cpus - 1;
    }
    return pool;
}

void policy_pool_run(policy_pool *pool, size_t n, void (*fn)(void *arg, size_t i), void *arg)
{
    if (n == 0)
        return;
    pool_run run = { .pool = pool, .fn = fn, .arg = arg, .n = n };
    unsigned helpers = 0;
    if (pool->threads)
        helpers = n - 1 < pool->n_threads ? (unsigned)(n - 1) : pool->n_threads;
    run.busy = helpers;
    for (unsigned t = 0; t < helpers; t++) {
        if (!g_thread_pool_push(pool->threads, &run, NULL)) {
            g_mutex_lock(&pool->lock);
            run.busy--;
            g_mutex_unlock(&pool->lock);
        }
    }
    pool_take(&run);
    /* run lives on this stack: wait until no thread can still touch it. */
    g_mutex_lock(&pool->lock);
    while (run.busy > 0)
        g_cond_wait(&pool->done, &pool->lock);
    g_mutex_unlock(&pool->lock);
}

void policy_pool_free(policy_pool *pool)
{
    if (!pool)
        return;
    if (pool->threads)
        g_thread_pool_free(pool->threads, FALSE, TRUE);
    g_cond_clear(&pool->done);
    g_mutex_clear(&pool->lock);
    g_free(pool);
}
