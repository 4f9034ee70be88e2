/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_ring.h - bounded lock-free rings of pointers between pipeline stages.
 *
 * ns_graph wires one ring per edge and ns_worker threads move record pointers
 * through them: the upstream stage thread(s) enqueue, the downstream stage
 * thread dequeues. The concurrency contract is in the function name (as in
 * DPDK rte_ring and Concurrency Kit ck_ring): `_spsc_` = one producer thread
 * and one consumer thread, `_mpsc_` = any number of producer threads and one
 * consumer thread. A ring is used either as SPSC or as MPSC for its whole
 * life; never mix the two enqueue families on one ring. `_burst` moves as
 * many pointers as fit (returns the count), `_bulk` moves all or nothing
 * (returns 0 or n). The caller owns both the struct (64-byte aligned) and
 * the power-of-two slot array. Header-only: every call is a static inline
 * fast path with no locks and no system calls (except sched_yield() when an
 * MPSC producer waits a long time for a preempted peer, see below).
 *
 * Indices are free-running 32-bit counters (slot = index & mask), so the
 * full capacity is usable and wraparound past 2^32 is plain modular
 * arithmetic; capacity is therefore at most 2^31.
 *
 * Example (one SPSC edge; the consumer owns the records it dequeues):
 *
 *     static void *slots[1024];
 *     static struct ns_ring ring;        // static: 64-byte alignment honoured
 *     ns_ring_init(&ring, slots, 1024);  // before the threads start
 *     // producer thread:
 *     uint32_t sent = ns_ring_spsc_enqueue_burst(&ring, recs, n);
 *     // recs[sent..n-1] did not fit: retry later, or drop and count them
 *     // consumer thread:
 *     uint32_t got = ns_ring_spsc_dequeue_burst(&ring, batch, 32);
 */
#ifndef NS_RING_H
#define NS_RING_H

#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Cache line size the hot fields are split on (x86-64 and most arm64). */
#define NS_RING_CACHE_LINE 64
/* Largest capacity: indices are 32-bit and `head - tail` must fit in it. */
#define NS_RING_CAPACITY_MAX (UINT32_C(1) << 31)

/*
 * One ring. Producer and consumer state live on separate cache lines so that
 * the two sides only contend when one of them has to look at the other's
 * index. Each line carries its own read-only copy of the mask and the slot
 * pointer so that neither side ever reads the other side's line for them.
 * An unused guard line follows each of the two: x86 and arm64 cores prefetch
 * the adjacent line of a 128-byte pair, which would otherwise drag the other
 * side's line (or the neighbour of the struct) along (DPDK's cache guard).
 * Allocate it statically, embedded in an aligned struct, or with
 * aligned_alloc(): plain malloc() does not honour the 64-byte alignment.
 * Fields are private; use the functions below.
 */
struct ns_ring {
    /* Producer line: written by producers, read by the consumer when its cache runs dry. */
    alignas(NS_RING_CACHE_LINE) _Atomic uint32_t prod_head; /* next index a producer claims */
    _Atomic uint32_t prod_tail;       /* every index below this is written and published */
    _Atomic uint32_t prod_cons_cache; /* producers' last seen cons_tail */
    uint32_t prod_mask;               /* capacity - 1 */
    void **prod_slots;
    alignas(NS_RING_CACHE_LINE) char prod_guard[NS_RING_CACHE_LINE];
    /* Consumer line: written by the consumer, read by producers when they run out of room. */
    alignas(NS_RING_CACHE_LINE) _Atomic uint32_t cons_head; /* == cons_tail (single consumer) */
    _Atomic uint32_t cons_tail; /* every index below this is read; its slot is free */
    uint32_t cons_prod_cache;   /* consumer's last seen prod_tail */
    uint32_t cons_mask;
    void **cons_slots;
    alignas(NS_RING_CACHE_LINE) char cons_guard[NS_RING_CACHE_LINE];
};

/*
 * Bytes of slot storage a ring of `capacity` needs (capacity * sizeof(void *)).
 * Returns 0 when `capacity` is not a power of two in [2, NS_RING_CAPACITY_MAX].
 * Any thread.
 */
static inline size_t ns_ring_storage_size(uint32_t capacity)
{
    if (capacity < 2 || capacity > NS_RING_CAPACITY_MAX || (capacity & (capacity - 1)) != 0)
        return 0;
    return (size_t)capacity * sizeof(void *);
}

/*
 * Test-only: like ns_ring_init() but with every index starting at `start`, so
 * tests can cross the 2^32 wraparound without pushing four billion pointers.
 * Production code calls ns_ring_init().
 */
static inline int ns__ring_init_at(struct ns_ring *r, void **slots, uint32_t capacity,
                                   uint32_t start)
{
    if (r == NULL || slots == NULL || ns_ring_storage_size(capacity) == 0)
        return -EINVAL;
    atomic_init(&r->prod_head, start);
    atomic_init(&r->prod_tail, start);
    atomic_init(&r->prod_cons_cache, start);
    r->prod_mask = capacity - 1;
    r->prod_slots = slots;
    atomic_init(&r->cons_head, start);
    atomic_init(&r->cons_tail, start);
    r->cons_prod_cache = start;
    r->cons_mask = capacity - 1;
    r->cons_slots = slots;
    return 0;
}

/*
 * Initialise an empty ring over the caller's `slots` array of `capacity`
 * pointers (ns_ring_storage_size(capacity) bytes). The caller keeps ownership
 * of both `r` and `slots`; they must outlive every use of the ring, and there
 * is nothing to destroy. The slots need no initialisation.
 * Returns 0, or -EINVAL when `r` or `slots` is NULL or `capacity` is not a
 * power of two in [2, NS_RING_CAPACITY_MAX].
 * Call it before any producer or consumer thread sees the ring; publishing the
 * ring to them (pthread_create, a mutex, a release store) orders the init.
 */
static inline int ns_ring_init(struct ns_ring *r, void **slots, uint32_t capacity)
{
    return ns__ring_init_at(r, slots, capacity, 0);
}

/* Capacity given to ns_ring_init(). Any thread; never changes. */
static inline uint32_t ns_ring_capacity(const struct ns_ring *r)
{
    return r->prod_mask + 1;
}

/*
 * Number of pointers in the ring, between 0 and the capacity. With both sides
 * idle it is exact; while they run it is a snapshot that may be stale when it
 * returns: from the consumer, a lower bound (producers may add more); from
 * the producer of an SPSC ring, an upper bound (the consumer may take some).
 * Good for stats and backpressure hints. Any thread.
 */
static inline uint32_t ns_ring_count(const struct ns_ring *r)
{
    /* Why acquire then acquire: cons_tail is read before prod_tail, so
     * prod_tail >= cons_tail in the pair we see and the difference cannot
     * go negative. It may still exceed the capacity if both sides moved a
     * lot between the two loads, hence the clamp. */
    uint32_t cons = atomic_load_explicit(&r->cons_tail, memory_order_acquire);
    uint32_t prod = atomic_load_explicit(&r->prod_tail, memory_order_acquire);
    uint32_t used = prod - cons;
    uint32_t cap = r->prod_mask + 1;

    return used > cap ? cap : used;
}

/* True when ns_ring_count() is 0 (same accuracy rules). Any thread. */
static inline int ns_ring_empty(const struct ns_ring *r)
{
    return ns_ring_count(r) == 0;
}

/* Internal: CPU relax hint while spinning; yields the CPU after a while so a
 * preempted peer on an oversubscribed machine can run. */
static inline void ns__ring_relax(uint32_t *spins)
{
    if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield" ::: "memory");
#endif
        return;
    }
    *spins = 0;
    sched_yield();
}

/* Internal: copy n pointers into the slots starting at free-running index pos.
 * Why memcpy: it moves a 32-pointer burst in a few vector stores, about 3x
 * faster than a scalar loop at -O2; a single pointer skips the call. The
 * slots are plain memory: the index release/acquire pairs order them. */
static inline void ns__ring_put(void **slots, uint32_t mask, uint32_t pos, void *const *objs,
                                uint32_t n)
{
    uint32_t idx = pos & mask;
    uint32_t first = mask + 1 - idx; /* slots left before the array wraps */

    if (n == 1) {
        slots[idx] = objs[0];
    } else if (n <= first) {
        memcpy(slots + idx, objs, (size_t)n * sizeof(void *));
    } else {
        memcpy(slots + idx, objs, (size_t)first * sizeof(void *));
        memcpy(slots, objs + first, (size_t)(n - first) * sizeof(void *));
    }
}

/* Internal: copy n pointers out of the slots starting at free-running index pos. */
static inline void ns__ring_get(void *const *slots, uint32_t mask, uint32_t pos, void **objs,
                                uint32_t n)
{
    uint32_t idx = pos & mask;
    uint32_t first = mask + 1 - idx;

    if (n == 1) {
        objs[0] = slots[idx];
    } else if (n <= first) {
        memcpy(objs, slots + idx, (size_t)n * sizeof(void *));
    } else {
        memcpy(objs, slots + idx, (size_t)first * sizeof(void *));
        memcpy(objs + first, slots, (size_t)(n - first) * sizeof(void *));
    }
}

/* Internal: single-producer enqueue; `all` selects bulk (0 or n) semantics. */
static inline uint32_t ns__ring_sp_enqueue(struct ns_ring *r, void *const *objs, uint32_t n,
                                           int all)
{
    /* Why relaxed (both): only this thread writes prod_tail and, in SPSC
     * mode, prod_cons_cache, and it loaded the cached value with acquire. */
    uint32_t head = atomic_load_explicit(&r->prod_tail, memory_order_relaxed);
    uint32_t cons = atomic_load_explicit(&r->prod_cons_cache, memory_order_relaxed);
    uint32_t cap = r->prod_mask + 1;
    uint32_t room = cap - (head - cons);

    if (room < n) {
        /* Why acquire: pairs with the consumer's release store of cons_tail,
         * so its reads of the slots we are about to overwrite happen before
         * our writes. Only refreshed when the cached value says "no room",
         * which keeps the consumer's line out of our cache most of the time
         * (an older cached value was itself loaded with acquire, so using it
         * is just as safe, merely pessimistic). */
        cons = atomic_load_explicit(&r->cons_tail, memory_order_acquire);
        atomic_store_explicit(&r->prod_cons_cache, cons, memory_order_relaxed);
        room = cap - (head - cons);
        if (room < n) {
            if (all)
                return 0;
            n = room;
        }
        if (n == 0)
            return 0;
    }
    ns__ring_put(r->prod_slots, r->prod_mask, head, objs, n);
    /* Why relaxed: prod_head is private to the producer in SPSC mode; it is
     * kept equal to prod_tail only so both modes share one invariant. */
    atomic_store_explicit(&r->prod_head, head + n, memory_order_relaxed);
    /* Why release: publishes the slot writes above; pairs with the consumer's
     * acquire load of prod_tail. */
    atomic_store_explicit(&r->prod_tail, head + n, memory_order_release);
    return n;
}

/* Internal: multi-producer enqueue; `all` selects bulk (0 or n) semantics. */
static inline uint32_t ns__ring_mp_enqueue(struct ns_ring *r, void *const *objs, uint32_t n,
                                           int all)
{
    uint32_t cap = r->prod_mask + 1;
    uint32_t head, next, cons, used, room, take;
    uint32_t spins = 0;

    /* Why acquire (here, after a refresh and on CAS failure): the head must
     * be read before the consumer index. If cons_tail could be read first, a
     * head observed later might be more than `cap` ahead of it and `room`
     * would wrap to a huge value (the weak-memory bug DPDK fixed with a
     * fence). Free on x86. */
    head = atomic_load_explicit(&r->prod_head, memory_order_acquire);
    for (;;) {
        /* Producers share a cached copy of cons_tail so that, while there is
         * room, they do not pull the consumer's line on every call. Why
         * acquire: pairs with the release store below, which carries the
         * happens-before from the consumer's slot reads (via its release of
         * cons_tail and our peer's acquire of it) to our slot writes. */
        cons = atomic_load_explicit(&r->prod_cons_cache, memory_order_acquire);
        used = head - cons;
        /* used > cap: the cache is older than head - cap (a peer stored a
         * stale value late; harmless) or our head is the stale one. */
        if (used > cap || cap - used < n) {
            /* Why acquire: pairs with the consumer's release of cons_tail, so
             * its reads of the slots we may overwrite happen before our
             * writes. Racing refreshes may move the cache backwards; that
             * only makes a later caller refresh again. */
            cons = atomic_load_explicit(&r->cons_tail, memory_order_acquire);
            atomic_store_explicit(&r->prod_cons_cache, cons, memory_order_release);
            used = head - cons;
            if (used > cap) {
                /* cons_tail is ahead of our head: peers and the consumer
                 * moved on since we read it. Start over with a fresh head. */
                head = atomic_load_explicit(&r->prod_head, memory_order_acquire);
                continue;
            }
        }
        room = cap - used;
        take = n;
        if (room < n) {
            if (all)
                return 0;
            take = room;
        }
        if (take == 0)
            return 0;
        next = head + take;
        /* Claiming [head, next) itself only needs the atomicity of the CAS:
         * the slot writes are already ordered after the acquire loads above
         * and are published below. Acquire on failure is the head ordering
         * explained above; C11 forbids a failure order stronger than the
         * success order, so success is acquire too (free on x86). */
        if (atomic_compare_exchange_weak_explicit(&r->prod_head, &head, next, memory_order_acquire,
                                                  memory_order_acquire))
            break;
    }

    ns__ring_put(r->prod_slots, r->prod_mask, head, objs, take);

    /* Producers that claimed earlier indices publish first, so prod_tail only
     * ever covers fully written slots. Why acquire: our release below must
     * carry their slot writes too (their release store is not part of ours),
     * otherwise the consumer could see our tail without their data.
     * This wait is why MPSC is not strictly lock-free: a producer preempted
     * between its CAS and here stalls the producers behind it. */
    while (atomic_load_explicit(&r->prod_tail, memory_order_acquire) != head)
        ns__ring_relax(&spins);
    /* Why release: publishes our slot writes (and, transitively, the earlier
     * producers'); pairs with the consumer's acquire load of prod_tail. */
    atomic_store_explicit(&r->prod_tail, next, memory_order_release);
    return take;
}

/* Internal: the single consumer's dequeue, the same for SPSC and MPSC rings. */
static inline uint32_t ns__ring_sc_dequeue(struct ns_ring *r, void **objs, uint32_t n)
{
    /* Why relaxed: only this thread ever writes cons_tail. */
    uint32_t tail = atomic_load_explicit(&r->cons_tail, memory_order_relaxed);
    uint32_t avail = r->cons_prod_cache - tail;

    if (avail < n) {
        /* Why acquire: pairs with the producers' release store of prod_tail,
         * so every slot below it is fully written before we read it. Cached
         * so that the producer's line is only pulled in when we run dry. */
        r->cons_prod_cache = atomic_load_explicit(&r->prod_tail, memory_order_acquire);
        avail = r->cons_prod_cache - tail;
        if (avail < n)
            n = avail;
        if (n == 0)
            return 0;
    }
    ns__ring_get(r->cons_slots, r->cons_mask, tail, objs, n);
    atomic_store_explicit(&r->cons_head, tail + n, memory_order_relaxed);
    /* Why release: our slot reads above complete before any producer that
     * acquires this cons_tail may overwrite those slots. */
    atomic_store_explicit(&r->cons_tail, tail + n, memory_order_release);
    return n;
}

/*
 * Enqueue up to `n` pointers from `objs` into an SPSC ring, in order, as many
 * as fit. Returns the number taken (0 when the ring is full or n is 0); the
 * caller still owns objs[ret..n-1]. NULL pointers are allowed and carried as is.
 * Threads: only the ring's single producer thread, concurrently with the
 * single consumer thread. Never blocks.
 */
static inline uint32_t ns_ring_spsc_enqueue_burst(struct ns_ring *r, void *const *objs, uint32_t n)
{
    return ns__ring_sp_enqueue(r, objs, n, 0);
}

/*
 * Enqueue all `n` pointers from `objs` into an SPSC ring, or none of them.
 * Returns n, or 0 when fewer than n slots are free (the ring is unchanged).
 * Threads: only the ring's single producer thread. Never blocks.
 */
static inline uint32_t ns_ring_spsc_enqueue_bulk(struct ns_ring *r, void *const *objs, uint32_t n)
{
    return ns__ring_sp_enqueue(r, objs, n, 1);
}

/*
 * Dequeue up to `n` pointers from an SPSC ring into `objs`, oldest first.
 * Returns the number stored in objs[0..ret-1] (0 when the ring is empty);
 * ownership of those pointers passes to the caller.
 * Threads: only the ring's single consumer thread. Never blocks.
 */
static inline uint32_t ns_ring_spsc_dequeue_burst(struct ns_ring *r, void **objs, uint32_t n)
{
    return ns__ring_sc_dequeue(r, objs, n);
}

/*
 * Enqueue up to `n` pointers from `objs` into an MPSC ring, as many as fit.
 * The pointers of one call stay contiguous and in order; calls from different
 * producers are ordered by when they claim their slots. Returns the number
 * taken (0 when the ring is full or n is 0).
 * Threads: any number of producer threads at once, concurrently with the
 * single consumer thread. Does not block on a full ring, but may spin (and
 * eventually sched_yield()) while a producer that claimed slots just before
 * this one finishes writing them.
 */
static inline uint32_t ns_ring_mpsc_enqueue_burst(struct ns_ring *r, void *const *objs, uint32_t n)
{
    return ns__ring_mp_enqueue(r, objs, n, 0);
}

/*
 * Enqueue all `n` pointers from `objs` into an MPSC ring, or none of them.
 * Returns n, or 0 when fewer than n slots are free (the ring is unchanged).
 * Threads: as ns_ring_mpsc_enqueue_burst().
 */
static inline uint32_t ns_ring_mpsc_enqueue_bulk(struct ns_ring *r, void *const *objs, uint32_t n)
{
    return ns__ring_mp_enqueue(r, objs, n, 1);
}

/*
 * Dequeue up to `n` pointers from an MPSC ring into `objs`, oldest first.
 * Returns the number stored (0 when empty or when the oldest claimed slots
 * are still being written by their producer); ownership passes to the caller.
 * Threads: only the ring's single consumer thread. Never blocks.
 */
static inline uint32_t ns_ring_mpsc_dequeue_burst(struct ns_ring *r, void **objs, uint32_t n)
{
    return ns__ring_sc_dequeue(r, objs, n);
}

#endif /* NS_RING_H */
