/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rec_heap.c - record block heaps (core/ns_rec.c): reuse on the owner
 * thread, release on other threads (remote list), the max_free bound, grown
 * records, heaps freed with records still alive, threads without a heap.
 * Criterion test `record_heap`; the concurrent stress test is stress_rec_heap.c.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ns_rec.h"

static struct ns_rec_heap_stats stats(const struct ns_rec_heap *h)
{
    struct ns_rec_heap_stats st;
    ns_rec_heap_stats(h, &st);
    return st;
}

struct release_job {
    struct ns_record **recs;
    size_t n;
};

static void *release_all(void *arg)
{
    struct release_job *j = arg;
    cr_assert_null(ns_rec_heap_current(), "a new thread has no heap");
    for (size_t i = 0; i < j->n; i++)
        ns_rec_release(j->recs[i]);
    return NULL;
}

/* Release recs[0..n) on a new thread and wait for it. */
static void release_on_thread(struct ns_record **recs, size_t n)
{
    struct release_job j = {recs, n};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, release_all, &j), 0);
    pthread_join(t, NULL);
}

Test(rec_heap, owner_reuses_its_blocks)
{
    struct ns_rec_heap *h = ns_rec_heap_new(0);
    cr_assert_not_null(h);
    ns_rec_heap_bind(h);
    cr_assert_eq(ns_rec_heap_current(), h);

    struct ns_record *a = ns_rec_new(NS_REC_FLOW, 1);
    cr_assert_not_null(a);
    cr_assert_eq(ns_rec_add_uint(a, "x", 1), 0);
    ns_rec_release(a);
    struct ns_record *b = ns_rec_new(NS_REC_DNS, 2);
    cr_assert_eq(b, a, "the cached block is reused (LIFO)");
    cr_assert_eq(ns_rec_field_count(b), 0, "a reused block starts empty");
    cr_assert_eq(ns_rec_time(b), 2);
    cr_assert_eq(ns_rec_type(b), NS_REC_DNS);
    /* TLS has its own, bigger size class: it never takes a small block. */
    struct ns_record *t = ns_rec_new(NS_REC_TLS, 3);
    cr_assert_neq(t, a);
    struct ns_rec_heap_stats st = stats(h);
    cr_assert_eq(st.hits, 1);
    cr_assert_eq(st.mallocs, 2);
    cr_assert_eq(st.owned, 2);
    cr_assert_eq(st.cached, 0);
    ns_rec_release(t);
    ns_rec_release(b);
    st = stats(h);
    cr_assert_eq(st.cached, 2);
    cr_assert_eq(st.owned, 2);
    ns_rec_heap_free(h);
    cr_assert_null(ns_rec_heap_current(), "heap_free on the owner unbinds it");
}

Test(rec_heap, release_on_other_threads_returns_home)
{
    enum { N = 300 };
    struct ns_rec_heap *h = ns_rec_heap_new(0);
    ns_rec_heap_bind(h);
    struct ns_record *recs[N];
    for (size_t i = 0; i < N; i++) {
        recs[i] = ns_rec_new(i % 3 ? NS_REC_FLOW : NS_REC_TLS, i);
        cr_assert_not_null(recs[i]);
        cr_assert_eq(ns_rec_add_uint(recs[i], "i", i), 0);
    }
    struct ns_record *old[N];
    memcpy(old, recs, sizeof(old));
    release_on_thread(recs, N / 2);
    release_on_thread(recs + N / 2, N - N / 2);
    struct ns_rec_heap_stats st = stats(h);
    cr_assert_eq(st.cached, 0, "remote releases wait on the remote list");
    cr_assert_eq(st.owned, N);
    /* The owner's next allocations take the remote list: no new malloc. */
    for (size_t i = 0; i < N; i++) {
        struct ns_record *r = ns_rec_new(i % 3 ? NS_REC_FLOW : NS_REC_TLS, i);
        bool known = false;
        for (size_t k = 0; k < N && !known; k++)
            known = old[k] == r;
        cr_assert(known, "record %zu reuses a released block", i);
        recs[i] = r;
    }
    st = stats(h);
    cr_assert_eq(st.mallocs, N);
    cr_assert_eq(st.hits, N);
    cr_assert_eq(st.owned, N);
    cr_assert_eq(st.overflow, 0);
    for (size_t i = 0; i < N; i++)
        ns_rec_release(recs[i]);
    ns_rec_heap_free(h);
}

Test(rec_heap, owns_at_most_max_free)
{
    enum { N = 10, MAXF = 4 };
    struct ns_rec_heap *h = ns_rec_heap_new(MAXF);
    ns_rec_heap_bind(h);
    struct ns_record *recs[N];
    for (size_t i = 0; i < N; i++)
        recs[i] = ns_rec_new(NS_REC_HTTP, i);
    struct ns_rec_heap_stats st = stats(h);
    cr_assert_eq(st.mallocs, MAXF);
    cr_assert_eq(st.overflow, N - MAXF, "past the budget: plain blocks");
    cr_assert_null(recs[N - 1]->home);
    for (size_t i = 0; i < N; i++)
        ns_rec_release(recs[i]);
    st = stats(h);
    cr_assert_eq(st.cached, MAXF, "the plain blocks were freed");
    cr_assert_eq(st.owned, MAXF);

    /* The same bound holds when blocks come back through the remote list. */
    for (size_t i = 0; i < N; i++)
        recs[i] = ns_rec_new(NS_REC_HTTP, i);
    st = stats(h);
    cr_assert_eq(st.hits, MAXF);
    cr_assert_eq(st.overflow, 2 * (N - MAXF));
    cr_assert_eq(st.cached, 0);
    release_on_thread(recs, N);
    struct ns_record *one = ns_rec_new(NS_REC_HTTP, 0); /* adopts the remote list */
    cr_assert_not_null(one->home);
    st = stats(h);
    cr_assert_eq(st.hits, MAXF + 1);
    cr_assert_eq(st.cached, MAXF - 1);
    cr_assert_eq(st.owned, MAXF);
    cr_assert_eq(st.mallocs, MAXF);
    ns_rec_release(one);
    ns_rec_heap_free(h);
}

Test(rec_heap, grown_record_returns_its_header_block)
{
    struct ns_rec_heap *h = ns_rec_heap_new(0);
    ns_rec_heap_bind(h);
    static char big[20000];
    memset(big, 'a', sizeof(big));
    struct ns_record *r = ns_rec_new(NS_REC_DNS, 0);
    cr_assert_eq(ns_rec_add_str(r, "big", big, sizeof(big)), 0);
    cr_assert_neq(r->buf, r->inl, "the storage grew into its own allocation");
    struct ns_record *c = ns_rec_clone(r);
    cr_assert_not_null(c);
    release_on_thread(&r, 1);
    ns_rec_release(c);
    struct ns_record *again = ns_rec_new(NS_REC_DNS, 0);
    cr_assert(again == r || again == c, "the header block came back");
    cr_assert_eq(again->buf, again->inl);
    cr_assert_eq(again->cap, NS__REC_INLINE);
    ns_rec_release(again);
    ns_rec_heap_free(h); /* LeakSanitizer: the grown buffers are gone too */
}

/* The common records fit their inline block: 2.2 KB of entries, keys and
 * strings (the biggest flow record measured on the base capture) does not
 * grow. */
Test(rec_heap, typical_flow_record_fits_inline)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    char key[64];
    for (int i = 0; i < 34; i++) { /* 34 * (32 + 25 + 8) = 2210 bytes */
        snprintf(key, sizeof(key), "netscope.flow.field_%04d", i);
        cr_assert_eq(ns_rec_add_cstr(r, key, "1234567"), 0);
    }
    cr_assert_eq(r->buf, r->inl);
    cr_assert_null(r->home, "no heap bound: a plain malloc");
    ns_rec_release(r);
}

struct abandon_job {
    struct ns_rec_heap *h;
    struct ns_record *recs[8];
};

static void *abandon_producer(void *arg)
{
    struct abandon_job *j = arg;
    ns_rec_heap_bind(j->h);
    for (size_t i = 0; i < 8; i++)
        j->recs[i] = ns_rec_new(i & 1 ? NS_REC_TLS : NS_REC_ARP, i);
    ns_rec_release(ns_rec_new(NS_REC_ARP, 0)); /* one cached block */
    return NULL;
}

/* Not what the runtime does (it frees heaps after every release), but safe:
 * records outlive their heap, and the last release frees its header. */
Test(rec_heap, heap_freed_before_its_records)
{
    struct abandon_job j = {.h = ns_rec_heap_new(0)};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, abandon_producer, &j), 0);
    pthread_join(t, NULL);
    ns_rec_release(j.recs[0]); /* a remote release before the free */
    ns_rec_heap_free(j.h);     /* the owner is gone: any thread may free it */
    cr_assert_eq(ns_rec_add_uint(j.recs[1], "still", 1), 0, "live records stay valid");
    release_on_thread(j.recs + 1, 3);
    for (size_t i = 4; i < 8; i++)
        ns_rec_release(j.recs[i]);
}

Test(rec_heap, no_heap_and_null_arguments)
{
    ns_rec_heap_bind(NULL);
    cr_assert_null(ns_rec_heap_current());
    ns_rec_heap_free(NULL);
    struct ns_rec_heap_stats st;
    ns_rec_heap_stats(NULL, &st);
    cr_assert_eq(st.hits, 0);
    struct ns_record *r = ns_rec_new(NS_REC_METRIC, 0);
    cr_assert_null(r->home);
    ns_rec_release(r);
    cr_assert_null(ns_rec_new(0, 0));

    /* A record made without a heap and released on a heap thread is freed,
     * not cached there. */
    struct ns_rec_heap *h = ns_rec_heap_new(0);
    r = ns_rec_new(NS_REC_FLOW, 0);
    ns_rec_heap_bind(h);
    ns_rec_release(r);
    cr_assert_eq(stats(h).cached, 0);
    ns_rec_heap_free(h);
}
