/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stress_ring.c - concurrency validation for core/ns_ring.h (CK's validate/ split).
 *
 * Built twice by tests/ring/CMakeLists.txt: stress_ring_tsan (always with
 * -fsanitize=thread, ctest ring_stress_tsan) and stress_ring (the tree's own
 * flags, ctest ring_stress). Each case runs producer threads that send tagged
 * sequence numbers (producer id << 40 | seq) with random burst and bulk sizes
 * through a deliberately small ring whose indices start just below 2^32, and
 * one consumer thread that checks no loss, no duplication and per-producer
 * order. Runs for a bounded time; exits 1 on any error, and a watchdog alarm
 * kills a hung run. Usage: stress_ring [time-scale, default 1.0].
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ns_ring.h"

/* Tags need 64-bit pointers: producer id in bits 40+, sequence below. */
_Static_assert(sizeof(void *) == 8, "stress_ring needs 64-bit pointers");

#define MAX_PRODUCERS 4
#define MAX_BURST 37
#define SEQ_BITS 40
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)
#define MIN_ITEMS 20000                  /* per case, unless 10x its time passes first */
#define START_INDEX (UINT32_MAX - 1000u) /* cross the 2^32 index wrap early */

struct stress_case {
    const char *name;
    int mpsc;
    int producers;
    uint32_t capacity;
    double seconds;
};

static const struct stress_case stress_cases[] = {
    {"spsc cap 2", 0, 1, 2, 0.3},    {"spsc cap 64", 0, 1, 64, 0.6},
    {"mpsc cap 4 x3", 1, 3, 4, 0.4}, {"mpsc cap 256 x3", 1, 3, 256, 0.6},
    {"mpsc cap 2 x2", 1, 2, 2, 0.2},
};

struct stress_run {
    alignas(NS_RING_CACHE_LINE) struct ns_ring ring;
    const struct stress_case *sc;
    atomic_int stop;     /* set by main when time is up */
    atomic_int finished; /* producers done; release-publishes sent[] */
    uint64_t sent[MAX_PRODUCERS];
    _Atomic uint64_t received; /* written by the consumer, polled by main */
    unsigned long errors;
};

struct stress_producer {
    struct stress_run *run;
    int id;
};

static uint32_t stress_rand(uint64_t *s)
{
    /* xorshift64*: cheap, thread-local, good enough to vary burst sizes. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * UINT64_C(2685821657736338717)) >> 32);
}

static void *stress_produce(void *arg)
{
    struct stress_producer *p = arg;
    struct stress_run *run = p->run;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(p->id + 1);
    uint64_t seq = 1;
    uint32_t spins = 0;
    void *buf[MAX_BURST];

    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        uint32_t r = stress_rand(&rng);
        uint32_t n = r % MAX_BURST + 1;
        int bulk = (r >> 8) & 1;
        uint32_t got;

        if (bulk && n > run->sc->capacity)
            n = run->sc->capacity; /* a bigger bulk could never succeed */
        for (uint32_t i = 0; i < n; i++)
            buf[i] = (void *)(uintptr_t)(((uint64_t)(p->id + 1) << SEQ_BITS) | (seq + i));
        if (run->sc->mpsc)
            got = bulk ? ns_ring_mpsc_enqueue_bulk(&run->ring, buf, n)
                       : ns_ring_mpsc_enqueue_burst(&run->ring, buf, n);
        else
            got = bulk ? ns_ring_spsc_enqueue_bulk(&run->ring, buf, n)
                       : ns_ring_spsc_enqueue_burst(&run->ring, buf, n);
        if (got != 0 && got != n && bulk) {
            fprintf(stderr, "%s: bulk of %u returned %u\n", run->sc->name, n, got);
            run->sent[p->id] = UINT64_MAX; /* forces a mismatch */
            break;
        }
        seq += got;
        if (got < n)
            ns__ring_relax(&spins);
    }
    if (run->sent[p->id] != UINT64_MAX)
        run->sent[p->id] = seq - 1;
    atomic_fetch_add_explicit(&run->finished, 1, memory_order_release);
    return NULL;
}

static void stress_check(struct stress_run *run, void *const *buf, uint32_t n, uint64_t *expect)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v = (uintptr_t)buf[i];
        uint64_t id = (v >> SEQ_BITS) - 1;
        uint64_t seq = v & SEQ_MASK;

        if (id >= (uint64_t)run->sc->producers || seq != expect[id]) {
            if (run->errors++ < 10)
                fprintf(stderr,
                        "%s: got producer %" PRIu64 " seq %" PRIu64 ", expected %" PRIu64 "\n",
                        run->sc->name, id, seq, id < (uint64_t)run->sc->producers ? expect[id] : 0);
            continue;
        }
        expect[id]++;
    }
    atomic_store_explicit(&run->received,
                          atomic_load_explicit(&run->received, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void *stress_consume(void *arg)
{
    struct stress_run *run = arg;
    uint64_t expect[MAX_PRODUCERS];
    uint64_t rng = 0x2545f4914f6cdd1dull;
    uint32_t spins = 0;
    void *buf[MAX_BURST];

    for (int i = 0; i < MAX_PRODUCERS; i++)
        expect[i] = 1;
    for (;;) {
        uint32_t want = stress_rand(&rng) % MAX_BURST + 1;
        uint32_t n = run->sc->mpsc ? ns_ring_mpsc_dequeue_burst(&run->ring, buf, want)
                                   : ns_ring_spsc_dequeue_burst(&run->ring, buf, want);

        if (n == 0) {
            /* Acquire pairs with the producers' release increment: after it,
             * all their enqueues are visible, so an empty ring means done. */
            if (atomic_load_explicit(&run->finished, memory_order_acquire) == run->sc->producers) {
                n = run->sc->mpsc ? ns_ring_mpsc_dequeue_burst(&run->ring, buf, want)
                                  : ns_ring_spsc_dequeue_burst(&run->ring, buf, want);
                if (n == 0)
                    break;
            } else {
                ns__ring_relax(&spins);
                continue;
            }
        }
        stress_check(run, buf, n, expect);
    }
    for (int i = 0; i < run->sc->producers; i++) {
        if (expect[i] - 1 != run->sent[i]) {
            run->errors++;
            fprintf(stderr, "%s: producer %d sent %" PRIu64 ", consumer got up to %" PRIu64 "\n",
                    run->sc->name, i, run->sent[i], expect[i] - 1);
        }
    }
    if (!ns_ring_empty(&run->ring)) {
        run->errors++;
        fprintf(stderr, "%s: ring not empty at the end\n", run->sc->name);
    }
    return NULL;
}

static int stress_one(const struct stress_case *sc, double scale)
{
    static void *slots[256];
    struct stress_run *run = aligned_alloc(NS_RING_CACHE_LINE, sizeof(*run));
    struct stress_producer prod[MAX_PRODUCERS];
    pthread_t pt[MAX_PRODUCERS], ct;
    struct timespec t0, t1, nap;
    uint64_t received;
    unsigned long count_errors = 0;
    double secs;
    int min_ms, rc = 1;

    if (run == NULL)
        return 1;
    memset(run, 0, sizeof(*run));
    run->sc = sc;
    atomic_init(&run->stop, 0);
    atomic_init(&run->finished, 0);
    atomic_init(&run->received, 0);
    if (ns__ring_init_at(&run->ring, slots, sc->capacity, START_INDEX) != 0) {
        fprintf(stderr, "%s: init failed\n", sc->name);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (pthread_create(&ct, NULL, stress_consume, run) != 0)
        goto out;
    for (int i = 0; i < sc->producers; i++) {
        prod[i] = (struct stress_producer){.run = run, .id = i};
        if (pthread_create(&pt[i], NULL, stress_produce, &prod[i]) != 0)
            abort(); /* cannot unwind running threads cleanly; a test binary may die */
    }
    /* Run for the case's time, longer (up to 10x) on a loaded machine
     * until MIN_ITEMS went through: a run that moved little proves little. */
    min_ms = (int)(sc->seconds * scale * 1000);
    nap = (struct timespec){.tv_nsec = 10 * 1000 * 1000};
    for (int ms = 0; ms < 10 * min_ms; ms += 10) {
        nanosleep(&nap, NULL);
        /* ns_ring_count() is documented as callable from any thread. */
        if (ns_ring_count(&run->ring) > sc->capacity)
            count_errors++;
        if (ms >= min_ms && atomic_load_explicit(&run->received, memory_order_relaxed) >= MIN_ITEMS)
            break;
    }
    atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
    for (int i = 0; i < sc->producers; i++)
        pthread_join(pt[i], NULL);
    pthread_join(ct, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    received = atomic_load(&run->received);
    if (count_errors) {
        fprintf(stderr, "%s: ns_ring_count() above capacity %lu times\n", sc->name, count_errors);
        run->errors += count_errors;
    }
    printf("%-16s %3d producer(s)  %10" PRIu64 " items  %7.2f M/s  %s\n", sc->name, sc->producers,
           received, (double)received / secs / 1e6, run->errors ? "FAIL" : "ok");
    /* Even a starved run moves thousands of items: next to none means a livelock. */
    if (received < 100) {
        fprintf(stderr, "%s: only %" PRIu64 " items moved\n", sc->name, received);
        goto out;
    }
    rc = run->errors ? 1 : 0;
out:
    free(run);
    return rc;
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? strtod(argv[1], NULL) : 1.0;
    int failed = 0;

    if (!(scale > 0 && scale < 1000))
        scale = 1.0;
    /* Watchdog: a lost publication would hang a producer or the consumer. */
    alarm((unsigned)(30 * scale) + 30);
    for (size_t i = 0; i < sizeof(stress_cases) / sizeof(stress_cases[0]); i++)
        failed |= stress_one(&stress_cases[i], scale);
    printf("%s\n", failed ? "FAILED" : "all ok");
    return failed ? 1 : 0;
}
