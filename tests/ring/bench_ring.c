/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ring.c - throughput benchmark for core/ns_ring.h (not a ctest test).
 *
 * Moves pointers from producer thread(s) to one consumer thread through
 * ns_ring (SPSC and MPSC), a mutex+condvar bounded queue and, when built with
 * NS_HAVE_CK, Concurrency Kit's ck_ring (SPSC and MPSC), at bursts 1, 8 and
 * 32, and prints the median items/s over several runs plus the ns_ring/ck_ring
 * ratios. ck_ring has no burst API, so a "burst" there is a loop of
 * single-item calls, which is how a caller would use it. The consumer is
 * pinned to CPU 1 and the (first) producer to CPU 0 when both exist. The runs
 * of the queues compared are interleaved, and a run during which other
 * processes used more than a tenth of a CPU (per /proc/stat) is retried a few
 * times, because on a shared machine they, not the queue, set the number.
 * The 3-producer fan-in group only runs with 4 CPUs or more.
 * Usage: bench_ring [runs, default 5] [seconds per run, default 0.2] [spsc|mpsc|fanin]
 * (the last argument picks one group; all by default). Run it from a Release build.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ns_ring.h"

#ifdef NS_HAVE_CK
#include <ck_ring.h>
#endif

#define BENCH_CAPACITY 1024
#define BENCH_MAX_BURST 32
#define BENCH_MAX_PRODUCERS 4
#define BENCH_MAX_RUNS 31
#define BENCH_MAX_RETRIES 6   /* per run, when other processes disturbed it */
#define BENCH_MAX_FOREIGN 0.1 /* CPUs' worth of foreign load that disturbs a run */

enum bench_kind { BK_NS_SPSC, BK_NS_MPSC, BK_CK_SPSC, BK_CK_MPSC, BK_MUTEX };

static const char *const bench_names[] = {"ns_ring spsc", "ns_ring mpsc", "ck_ring spsc",
                                          "ck_ring mpsc", "mutex+condvar"};

/* The classic blocking bounded queue: one lock, two condition variables. */
struct mutex_q {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    uint64_t head, tail; /* free-running */
    void *slots[BENCH_CAPACITY];
};

struct bench {
    alignas(NS_RING_CACHE_LINE) struct ns_ring ring;
#ifdef NS_HAVE_CK
    alignas(NS_RING_CACHE_LINE) ck_ring_t ck;
    ck_ring_buffer_t ck_slots[BENCH_CAPACITY];
#endif
    void *slots[BENCH_CAPACITY];
    struct mutex_q mq;
    int kind;
    uint32_t burst;
    int producers;
    uint64_t items; /* per producer */
    int pin;
    alignas(NS_RING_CACHE_LINE) atomic_int go;
    atomic_int ready;
    struct timespec t_end;
};

struct bench_thread {
    struct bench *b;
    int cpu; /* -1: not pinned */
};

static void bench_pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static uint32_t mq_enqueue(struct mutex_q *q, void *const *objs, uint32_t n)
{
    uint32_t room;

    pthread_mutex_lock(&q->lock);
    while ((room = (uint32_t)(BENCH_CAPACITY - (q->head - q->tail))) == 0)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (n > room)
        n = room;
    for (uint32_t i = 0; i < n; i++)
        q->slots[(q->head + i) % BENCH_CAPACITY] = objs[i];
    q->head += n;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return n;
}

static uint32_t mq_dequeue(struct mutex_q *q, void **objs, uint32_t n)
{
    uint32_t avail;

    pthread_mutex_lock(&q->lock);
    while ((avail = (uint32_t)(q->head - q->tail)) == 0)
        pthread_cond_wait(&q->not_empty, &q->lock);
    if (n > avail)
        n = avail;
    for (uint32_t i = 0; i < n; i++)
        objs[i] = q->slots[(q->tail + i) % BENCH_CAPACITY];
    q->tail += n;
    /* Broadcast: with several producers blocked, each may fit part of a burst. */
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Every queue behind one switch; `kind` is a constant at each inlined call
 * site, so the switch folds away and each loop calls its queue directly. */
static inline __attribute__((always_inline)) uint32_t bench_enqueue(struct bench *b, int kind,
                                                                    void *const *objs, uint32_t n)
{
    switch (kind) {
    case BK_NS_SPSC:
        return ns_ring_spsc_enqueue_burst(&b->ring, objs, n);
    case BK_NS_MPSC:
        return ns_ring_mpsc_enqueue_burst(&b->ring, objs, n);
#ifdef NS_HAVE_CK
    case BK_CK_SPSC: {
        uint32_t i = 0;

        while (i < n && ck_ring_enqueue_spsc(&b->ck, b->ck_slots, objs[i]))
            i++;
        return i;
    }
    case BK_CK_MPSC: {
        uint32_t i = 0;

        while (i < n && ck_ring_enqueue_mpsc(&b->ck, b->ck_slots, objs[i]))
            i++;
        return i;
    }
#endif
    default:
        return mq_enqueue(&b->mq, objs, n);
    }
}

static inline __attribute__((always_inline)) uint32_t bench_dequeue(struct bench *b, int kind,
                                                                    void **objs, uint32_t n)
{
    switch (kind) {
    case BK_NS_SPSC:
        return ns_ring_spsc_dequeue_burst(&b->ring, objs, n);
    case BK_NS_MPSC:
        return ns_ring_mpsc_dequeue_burst(&b->ring, objs, n);
#ifdef NS_HAVE_CK
    case BK_CK_SPSC: {
        uint32_t i = 0;

        while (i < n && ck_ring_dequeue_spsc(&b->ck, b->ck_slots, &objs[i]))
            i++;
        return i;
    }
    case BK_CK_MPSC: {
        uint32_t i = 0;

        while (i < n && ck_ring_dequeue_mpsc(&b->ck, b->ck_slots, &objs[i]))
            i++;
        return i;
    }
#endif
    default:
        return mq_dequeue(&b->mq, objs, n);
    }
}

static inline __attribute__((always_inline)) void bench_produce(struct bench *b, int kind)
{
    void *buf[BENCH_MAX_BURST];
    uint64_t left = b->items;
    uint32_t burst = b->burst;
    uint32_t spins = 0;

    for (uint32_t i = 0; i < BENCH_MAX_BURST; i++)
        buf[i] = (void *)(uintptr_t)(i + 1);
    atomic_fetch_add(&b->ready, 1);
    while (!atomic_load_explicit(&b->go, memory_order_acquire))
        ;
    while (left) {
        uint32_t n = left < burst ? (uint32_t)left : burst;
        uint32_t done = 0;

        while (done < n) {
            uint32_t got = bench_enqueue(b, kind, buf + done, n - done);

            done += got;
            if (got == 0)
                ns__ring_relax(&spins);
        }
        left -= n;
    }
}

static inline __attribute__((always_inline)) void bench_consume(struct bench *b, int kind)
{
    void *buf[BENCH_MAX_BURST];
    uint64_t left = b->items * (uint64_t)b->producers;
    uint32_t burst = b->burst;
    uint32_t spins = 0;
    uintptr_t sum = 0;

    atomic_fetch_add(&b->ready, 1);
    while (!atomic_load_explicit(&b->go, memory_order_acquire))
        ;
    while (left) {
        uint32_t got = bench_dequeue(b, kind, buf, left < burst ? (uint32_t)left : burst);

        if (got == 0) {
            ns__ring_relax(&spins);
            continue;
        }
        sum += (uintptr_t)buf[got - 1]; /* touch the data so it cannot be skipped */
        left -= got;
    }
    clock_gettime(CLOCK_MONOTONIC, &b->t_end);
    if (sum == 0)
        fprintf(stderr, "bench: impossible sum\n");
}

#define BENCH_THREADS(kind)                                                                        \
    static void *bench_prod_##kind(void *arg)                                                      \
    {                                                                                              \
        struct bench_thread *t = arg;                                                              \
        bench_pin(t->cpu);                                                                         \
        bench_produce(t->b, kind);                                                                 \
        return NULL;                                                                               \
    }                                                                                              \
    static void *bench_cons_##kind(void *arg)                                                      \
    {                                                                                              \
        struct bench_thread *t = arg;                                                              \
        bench_pin(t->cpu);                                                                         \
        bench_consume(t->b, kind);                                                                 \
        return NULL;                                                                               \
    }

BENCH_THREADS(BK_NS_SPSC)
BENCH_THREADS(BK_NS_MPSC)
BENCH_THREADS(BK_CK_SPSC)
BENCH_THREADS(BK_CK_MPSC)
BENCH_THREADS(BK_MUTEX)

static void *(*const bench_prod_fn[])(void *) = {bench_prod_BK_NS_SPSC, bench_prod_BK_NS_MPSC,
                                                 bench_prod_BK_CK_SPSC, bench_prod_BK_CK_MPSC,
                                                 bench_prod_BK_MUTEX};
static void *(*const bench_cons_fn[])(void *) = {bench_cons_BK_NS_SPSC, bench_cons_BK_NS_MPSC,
                                                 bench_cons_BK_CK_SPSC, bench_cons_BK_CK_MPSC,
                                                 bench_cons_BK_MUTEX};

/* CPU time used by the whole machine so far (s), from /proc/stat; -1 if unknown. */
static double bench_machine_busy(void)
{
    unsigned long long v[8];
    FILE *f = fopen("/proc/stat", "r");
    int n;

    if (f == NULL)
        return -1;
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return -1;
    /* user nice system [idle iowait] irq softirq steal: steal is the
     * hypervisor running someone else, a disturbance like any other. */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double bench_self_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * One timed transfer; returns items per second. *foreign gets the CPU time
 * other processes (and the hypervisor) used during the run, as a fraction of
 * its wall time, or 0 when /proc/stat is unreadable.
 */
static double bench_once(struct bench *b, int kind, uint32_t burst, int producers, uint64_t items,
                         double *foreign)
{
    double busy0, self0, busy1, self1;

    pthread_t pt[BENCH_MAX_PRODUCERS], ct;
    struct bench_thread targ[BENCH_MAX_PRODUCERS + 1];
    struct timespec t0;

    b->kind = kind;
    b->burst = burst;
    b->producers = producers;
    b->items = items / (uint64_t)producers;
    atomic_store(&b->go, 0);
    atomic_store(&b->ready, 0);
    ns_ring_init(&b->ring, b->slots, BENCH_CAPACITY);
#ifdef NS_HAVE_CK
    ck_ring_init(&b->ck, BENCH_CAPACITY);
#endif
    b->mq.head = b->mq.tail = 0;

    /* Consumer on CPU 1, producers on CPUs 0, 2, 3, ... */
    targ[0] = (struct bench_thread){b, b->pin ? 1 : -1};
    pthread_create(&ct, NULL, bench_cons_fn[kind], &targ[0]);
    for (int i = 0; i < producers; i++) {
        targ[i + 1] = (struct bench_thread){b, b->pin ? (i == 0 ? 0 : i + 1) : -1};
        pthread_create(&pt[i], NULL, bench_prod_fn[kind], &targ[i + 1]);
    }
    while (atomic_load(&b->ready) != producers + 1)
        sched_yield();
    busy0 = bench_machine_busy();
    self0 = bench_self_cpu();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    atomic_store_explicit(&b->go, 1, memory_order_release);
    for (int i = 0; i < producers; i++)
        pthread_join(pt[i], NULL);
    pthread_join(ct, NULL);
    self1 = bench_self_cpu();
    busy1 = bench_machine_busy();
    double secs =
        (double)(b->t_end.tv_sec - t0.tv_sec) + (double)(b->t_end.tv_nsec - t0.tv_nsec) / 1e9;
    *foreign = busy0 < 0 || busy1 < 0 ? 0 : ((busy1 - busy0) - (self1 - self0)) / secs;
    return (double)(b->items * (uint64_t)producers) / secs;
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Results of one case: median and best over the runs, in items/s. */
struct bench_result {
    double median, best;
};

/*
 * Run `nk` queue kinds at the same burst and producer count, interleaving
 * their runs (A B A B ...) so that a burst of load from elsewhere on the
 * machine hits all of them alike. Each kind's item count is first calibrated
 * to about `seconds` per run. Prints one line per kind.
 */
static void bench_cases(struct bench *b, const int *kinds, int nk, uint32_t burst, int producers,
                        int runs, double seconds, struct bench_result *out)
{
    double rate[4][BENCH_MAX_RUNS];
    uint64_t items[4];

    int retried[4] = {0};
    double foreign;

    for (int k = 0; k < nk; k++) {
        double guess = bench_once(b, kinds[k], burst, producers, 200000, &foreign);

        items[k] = (uint64_t)(guess * seconds);
        if (items[k] < 200000)
            items[k] = 200000;
    }
    for (int i = 0; i < runs; i++) {
        for (int k = 0; k < nk; k++) {
            /* A run during which other processes took more than a tenth of
             * a CPU measured them, not us: retry it a few times. */
            for (int attempt = 0; attempt < BENCH_MAX_RETRIES; attempt++) {
                rate[k][i] = bench_once(b, kinds[k], burst, producers, items[k], &foreign);
                if (foreign <= BENCH_MAX_FOREIGN)
                    break;
                retried[k]++;
            }
        }
    }
    for (int k = 0; k < nk; k++) {
        qsort(rate[k], (size_t)runs, sizeof(rate[k][0]), bench_cmp);
        out[k].median = rate[k][runs / 2];
        out[k].best = rate[k][runs - 1];
        printf("%-14s %4d %5u %10.1f   (%.1f .. %.1f)", bench_names[kinds[k]], producers, burst,
               out[k].median / 1e6, rate[k][0] / 1e6, out[k].best / 1e6);
        if (retried[k])
            printf("  [%d disturbed runs retried]", retried[k]);
        printf("\n");
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static const uint32_t bursts[] = {1, 8, 32};
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 0.2;
    const char *only = argc > 3 ? argv[3] : "";
    struct bench_result res[2][3][3]; /* [spsc, mpsc][burst][ours, ck, mutex] */
    int fanin = 3;
    struct bench *b = aligned_alloc(NS_RING_CACHE_LINE, sizeof(*b));
    cpu_set_t online;

    if (b == NULL)
        return 1;
    if (runs < 1 || runs > BENCH_MAX_RUNS)
        runs = 5;
    if (!(seconds > 0.001 && seconds < 60))
        seconds = 0.2;
    memset(b, 0, sizeof(*b));
    memset(res, 0, sizeof(res));
    pthread_mutex_init(&b->mq.lock, NULL);
    pthread_cond_init(&b->mq.not_empty, NULL);
    pthread_cond_init(&b->mq.not_full, NULL);
    sched_getaffinity(0, sizeof(online), &online);
    b->pin = CPU_ISSET(0, &online) && CPU_ISSET(1, &online);
    printf("bench_ring: capacity %d, median of %d interleaved runs of ~%.2f s, %s\n",
           BENCH_CAPACITY, runs, seconds,
           b->pin ? "consumer on CPU 1, producers on CPU 0, 2, 3" : "not pinned");
    printf("%-14s %4s %5s %10s   %s\n", "queue", "prod", "burst", "Mitems/s", "(min .. max)");

    for (int m = 0; m < 2; m++) {
        if (strstr(m ? "mpsc" : "spsc", only) == NULL)
            continue;
        for (int i = 0; i < 3; i++) {
            int kinds[3] = {m ? BK_NS_MPSC : BK_NS_SPSC, m ? BK_CK_MPSC : BK_CK_SPSC, BK_MUTEX};
#ifdef NS_HAVE_CK
            bench_cases(b, kinds, 3, bursts[i], 1, runs, seconds, res[m][i]);
#else
            kinds[1] = BK_MUTEX;
            bench_cases(b, kinds, 2, bursts[i], 1, runs, seconds, res[m][i]);
#endif
        }
    }
    /* Fan-in needs a CPU per thread: with fewer, producers are preempted
     * between claiming and publishing their slots and every ring (ck's
     * too, which never yields) measures the scheduler instead. */
    if (strstr("fanin", only) == NULL) {
        /* not asked for */
    } else if (CPU_COUNT(&online) > fanin) {
        for (int i = 0; i < 3; i++) {
            struct bench_result r[3];
            int kinds[3] = {BK_NS_MPSC, BK_CK_MPSC, BK_MUTEX};
#ifdef NS_HAVE_CK
            bench_cases(b, kinds, 3, bursts[i], fanin, runs, seconds, r);
#else
            kinds[1] = BK_MUTEX;
            bench_cases(b, kinds, 2, bursts[i], fanin, runs, seconds, r);
#endif
        }
    } else {
        printf("(%d-producer fan-in skipped: needs %d CPUs, have %d)\n", fanin, fanin + 1,
               CPU_COUNT(&online));
    }
#ifdef NS_HAVE_CK
    for (int m = 0; m < 2; m++) {
        if (res[m][0][1].median == 0)
            continue;
        printf("ratio ns_ring/ck_ring %s, median (best):", m ? "mpsc" : "spsc");
        for (int i = 0; i < 3; i++)
            printf("  burst %u: %.2fx (%.2fx)", bursts[i],
                   res[m][i][0].median / res[m][i][1].median,
                   res[m][i][0].best / res[m][i][1].best);
        printf("\n");
    }
#else
    printf("ck_ring not found at build time: no ratios\n");
#endif
    free(b);
    return 0;
}
