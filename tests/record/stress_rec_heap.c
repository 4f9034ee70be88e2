/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stress_rec_heap.c - concurrency validation for the record block heaps
 * (core/ns_rec.c): 2 producer threads, each with its own bound heap, build
 * records (every size class, some grown past their block, some shared by
 * both releasers through an extra reference) and send them through MPSC rings
 * to 2 releaser threads, which check the contents and release them; blocks
 * return home through the remote lists and are reused. Case 2 frees the heaps
 * while the releasers still hold records (abandoned heaps).
 *
 * Built by tests/record/CMakeLists.txt twice, from ns_rec.c directly (no
 * netscope_core): stress_rec_heap_tsan (-fsanitize=thread, ctest
 * record_heap_stress_tsan) and stress_rec_heap (the tree's flags, so ASan and
 * LeakSanitizer in the sanitizer build; ctest record_heap_stress). Exits 1 on
 * any error; an alarm kills a hung run. Usage: stress_rec_heap [time-scale].
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ns_rec.h"
#include "ns_ring.h"

#define NPROD 2
#define NREL 2
#define RING_CAP 256
#define BIG_LEN 6000 /* grows any block */

struct rel_ring {
    alignas(NS_RING_CACHE_LINE) struct ns_ring ring;
    void *slots[RING_CAP];
};

static struct rel_ring rings[NREL];
static struct ns_rec_heap *heaps[NPROD];
static atomic_int stop_producers;
static atomic_int producers_done;
static atomic_ulong errors;
static atomic_ulong received;
static char big[BIG_LEN];

static void fail(const char *what, uint64_t id)
{
    fprintf(stderr, "stress_rec_heap: %s (record %" PRIx64 ")\n", what, id);
    atomic_fetch_add(&errors, 1);
}

static void rel_send(struct ns_record *rec, unsigned to)
{
    void *p = rec;
    while (!ns_ring_mpsc_enqueue_burst(&rings[to].ring, &p, 1))
        sched_yield();
}

struct producer {
    unsigned id;
    uint32_t max_free;
    uint64_t sent;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    ns_rec_heap_bind(heaps[p->id]);
    unsigned seed = 0x9e3779b9u * (p->id + 1);
    uint64_t seq = 0;
    while (!atomic_load_explicit(&stop_producers, memory_order_relaxed) || seq < 2000) {
        unsigned x = (unsigned)rand_r(&seed);
        enum ns_rec_type type = x % 4 == 0 ? NS_REC_TLS : (enum ns_rec_type)(1 + x % 9);
        struct ns_record *r = ns_rec_new(type, seq);
        if (!r) {
            fail("ns_rec_new failed", seq);
            break;
        }
        uint64_t id = (uint64_t)p->id << 40 | seq;
        ns_rec_add_uint(r, "id", id);
        ns_rec_add_cstr(r, "netscope.stress.text", "0123456789abcdef");
        if (x % 7 == 0)
            ns_rec_add_str(r, "big", big, BIG_LEN);
        /* Every 5th record goes to both releasers: two concurrent releases. */
        bool shared = x % 5 == 0;
        if (shared) {
            ns_rec_ref(r);
            rel_send(r, 0);
            rel_send(r, 1);
        } else {
            rel_send(r, (x >> 8) % NREL);
        }
        seq++;
        p->sent += shared ? 2 : 1;
    }
    ns_rec_heap_bind(NULL);
    atomic_fetch_add_explicit(&producers_done, 1, memory_order_release);
    return NULL;
}

static void check(const struct ns_record *r)
{
    struct ns_field_view v;
    if (!ns_rec_get(r, "id", &v) || v.type != NS_F_UINT) {
        fail("id missing", 0);
        return;
    }
    uint64_t id = v.v.u;
    if ((id & ((UINT64_C(1) << 40) - 1)) != ns_rec_time(r))
        fail("time does not match id", id);
    if (!ns_rec_get(r, "netscope.stress.text", &v) || v.v.s.len != 16 ||
        memcmp(v.v.s.ptr, "0123456789abcdef", 16) != 0)
        fail("text corrupted", id);
    if (ns_rec_get(r, "big", &v) && (v.v.s.len != BIG_LEN || v.v.s.ptr[BIG_LEN - 1] != 'b'))
        fail("big string corrupted", id);
}

static void *releaser_main(void *arg)
{
    struct rel_ring *q = arg;
    void *batch[32];
    for (;;) {
        /* Read done before draining: whatever was sent before it is seen. */
        int done = atomic_load_explicit(&producers_done, memory_order_acquire) == NPROD;
        uint32_t n = ns_ring_mpsc_dequeue_burst(&q->ring, batch, 32);
        for (uint32_t i = 0; i < n; i++) {
            check(batch[i]);
            ns_rec_release(batch[i]);
        }
        atomic_fetch_add_explicit(&received, n, memory_order_relaxed);
        if (!n) {
            if (done)
                break;
            sched_yield();
        }
    }
    return NULL;
}

static int run_case(const char *name, double seconds, bool free_early)
{
    pthread_t pt[NPROD], rt[NREL];
    struct producer prod[NPROD];
    atomic_store(&stop_producers, 0);
    atomic_store(&producers_done, 0);
    atomic_store(&received, 0);
    for (unsigned i = 0; i < NREL; i++)
        ns_ring_init(&rings[i].ring, rings[i].slots, RING_CAP);
    for (unsigned i = 0; i < NPROD; i++) {
        prod[i] = (struct producer){.id = i, .max_free = i ? 16 : 0};
        heaps[i] = ns_rec_heap_new(prod[i].max_free);
        if (!heaps[i])
            return 1;
        pthread_create(&pt[i], NULL, producer_main, &prod[i]);
    }
    for (unsigned i = 0; i < NREL; i++)
        pthread_create(&rt[i], NULL, releaser_main, &rings[i]);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop_producers, 1);
    for (unsigned i = 0; i < NPROD; i++)
        pthread_join(pt[i], NULL);
    struct ns_rec_heap_stats st[NPROD];
    for (unsigned i = 0; i < NPROD; i++)
        ns_rec_heap_stats(heaps[i], &st[i]);
    if (free_early) /* the releasers still hold records of these heaps */
        for (unsigned i = 0; i < NPROD; i++)
            ns_rec_heap_free(heaps[i]);
    for (unsigned i = 0; i < NREL; i++)
        pthread_join(rt[i], NULL);
    if (!free_early)
        for (unsigned i = 0; i < NPROD; i++)
            ns_rec_heap_free(heaps[i]);
    uint64_t sent = prod[0].sent + prod[1].sent;
    unsigned long got = atomic_load(&received);
    printf("%s: %" PRIu64 " sent, %lu released; heap 0 hits %" PRIu64 " mallocs %" PRIu64
           ", heap 1 (max_free 16) hits %" PRIu64 " mallocs %" PRIu64 " overflow %" PRIu64 "\n",
           name, sent, got, st[0].hits, st[0].mallocs, st[1].hits, st[1].mallocs, st[1].overflow);
    if (got != sent)
        fail("lost or duplicated records", got);
    if (st[0].hits == 0 || st[1].hits == 0)
        fail("no block was ever reused", 0);
    return 0;
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (scale <= 0)
        scale = 1.0;
    memset(big, 'b', sizeof(big));
    alarm((unsigned)(60 * scale) + 60);
    run_case("heaps freed after every release", 1.0 * scale, false);
    run_case("heaps freed while records are in flight", 0.5 * scale, true);
    unsigned long e = atomic_load(&errors);
    if (e) {
        fprintf(stderr, "stress_rec_heap: %lu errors\n", e);
        return 1;
    }
    printf("stress_rec_heap: ok\n");
    return 0;
}
