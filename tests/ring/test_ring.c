/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ring.c - single-threaded unit tests for core/ns_ring.h: init checks,
 * burst and bulk semantics, FIFO order, 2^32 index wraparound, count/empty.
 * Concurrency is covered by stress_ring.c (run under TSan as ring_stress_tsan).
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "ns_ring.h"

#define CAP 8

static struct ns_ring ring;
static void *slots[64];

/* Distinct non-NULL fake records: the ring never dereferences them. */
static void *rec(uintptr_t i)
{
    return (void *)(i + 1);
}

static void fill(void **v, uint32_t n, uintptr_t first)
{
    for (uint32_t i = 0; i < n; i++)
        v[i] = rec(first + i);
}

Test(ring, init_rejects_non_power_of_two)
{
    static const uint32_t bad[] = {0,
                                   1,
                                   3,
                                   5,
                                   6,
                                   7,
                                   12,
                                   100,
                                   1000,
                                   UINT32_MAX,
                                   NS_RING_CAPACITY_MAX + 1,
                                   NS_RING_CAPACITY_MAX * 2u - 1};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(ns_ring_init(&ring, slots, bad[i]), -EINVAL, "capacity %u", bad[i]);
        cr_expect_eq(ns_ring_storage_size(bad[i]), 0, "capacity %u", bad[i]);
    }
    cr_expect_eq(ns_ring_init(NULL, slots, CAP), -EINVAL);
    cr_expect_eq(ns_ring_init(&ring, NULL, CAP), -EINVAL);
}

Test(ring, init_accepts_powers_of_two)
{
    for (uint32_t cap = 2; cap <= 64; cap *= 2) {
        cr_assert_eq(ns_ring_init(&ring, slots, cap), 0, "capacity %u", cap);
        cr_expect_eq(ns_ring_capacity(&ring), cap);
        cr_expect_eq(ns_ring_count(&ring), 0);
        cr_expect(ns_ring_empty(&ring));
    }
    cr_expect_eq(ns_ring_storage_size(2), 2 * sizeof(void *));
    cr_expect_eq(ns_ring_storage_size(NS_RING_CAPACITY_MAX),
                 (size_t)NS_RING_CAPACITY_MAX * sizeof(void *));
}

Test(ring, struct_layout_splits_cache_lines)
{
    cr_expect_eq(alignof(struct ns_ring), NS_RING_CACHE_LINE);
    /* Producer and consumer lines never share a 128-byte prefetch pair. */
    cr_expect_geq(offsetof(struct ns_ring, cons_head) - offsetof(struct ns_ring, prod_head),
                  2 * NS_RING_CACHE_LINE);
    cr_expect_geq(sizeof(struct ns_ring) - offsetof(struct ns_ring, cons_head),
                  2 * NS_RING_CACHE_LINE);
    cr_expect_lt(offsetof(struct ns_ring, prod_slots), offsetof(struct ns_ring, cons_head));
}

Test(ring, burst_stops_at_capacity)
{
    void *in[CAP + 5], *out[CAP + 5];

    cr_assert_eq(ns_ring_init(&ring, slots, CAP), 0);
    fill(in, CAP + 5, 0);
    cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, in, 3), 3);
    cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, in + 3, CAP + 2), CAP - 3);
    cr_expect_eq(ns_ring_count(&ring), CAP);
    cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, in, 1), 0, "full ring takes nothing");
    cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, out, CAP + 5), CAP, "burst stops when empty");
    for (uint32_t i = 0; i < CAP; i++)
        cr_expect_eq(out[i], in[i]);
    cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, out, 1), 0);
    cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, in, 0), 0);
    cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, out, 0), 0);
}

Test(ring, mpsc_burst_stops_at_capacity)
{
    void *in[CAP + 5], *out[CAP + 5];

    cr_assert_eq(ns_ring_init(&ring, slots, CAP), 0);
    fill(in, CAP + 5, 100);
    cr_expect_eq(ns_ring_mpsc_enqueue_burst(&ring, in, 5), 5);
    cr_expect_eq(ns_ring_mpsc_enqueue_burst(&ring, in + 5, CAP), CAP - 5);
    cr_expect_eq(ns_ring_mpsc_enqueue_burst(&ring, in, 1), 0);
    cr_expect_eq(ns_ring_mpsc_dequeue_burst(&ring, out, CAP + 5), CAP);
    for (uint32_t i = 0; i < CAP; i++)
        cr_expect_eq(out[i], in[i]);
    cr_expect(ns_ring_empty(&ring));
}

Test(ring, bulk_all_or_nothing)
{
    void *in[CAP + 1], *out[CAP + 1];

    cr_assert_eq(ns_ring_init(&ring, slots, CAP), 0);
    fill(in, CAP + 1, 0);
    cr_expect_eq(ns_ring_spsc_enqueue_bulk(&ring, in, CAP + 1), 0, "more than capacity");
    cr_expect(ns_ring_empty(&ring), "a refused bulk leaves the ring unchanged");
    cr_expect_eq(ns_ring_spsc_enqueue_bulk(&ring, in, 5), 5);
    cr_expect_eq(ns_ring_spsc_enqueue_bulk(&ring, in + 5, 4), 0, "only 3 free");
    cr_expect_eq(ns_ring_count(&ring), 5);
    cr_expect_eq(ns_ring_spsc_enqueue_bulk(&ring, in + 5, 3), 3);
    cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, out, CAP), CAP);
    for (uint32_t i = 0; i < CAP; i++)
        cr_expect_eq(out[i], in[i]);
}

Test(ring, mpsc_bulk_all_or_nothing)
{
    void *in[CAP + 1], *out[CAP + 1];

    cr_assert_eq(ns_ring_init(&ring, slots, CAP), 0);
    fill(in, CAP + 1, 7);
    cr_expect_eq(ns_ring_mpsc_enqueue_bulk(&ring, in, CAP + 1), 0);
    cr_expect(ns_ring_empty(&ring));
    cr_expect_eq(ns_ring_mpsc_enqueue_bulk(&ring, in, 6), 6);
    cr_expect_eq(ns_ring_mpsc_enqueue_bulk(&ring, in + 6, 3), 0, "only 2 free");
    cr_expect_eq(ns_ring_mpsc_enqueue_bulk(&ring, in + 6, 2), 2);
    cr_expect_eq(ns_ring_count(&ring), CAP);
    cr_expect_eq(ns_ring_mpsc_dequeue_burst(&ring, out, CAP), CAP);
    for (uint32_t i = 0; i < CAP; i++)
        cr_expect_eq(out[i], in[i]);
}

Test(ring, fifo_order_with_mixed_sizes)
{
    void *v[CAP];
    uintptr_t next_in = 0, next_out = 0;

    cr_assert_eq(ns_ring_init(&ring, slots, CAP), 0);
    /* Uneven enqueue/dequeue sizes make the slot array wrap many times. */
    for (int round = 0; round < 1000; round++) {
        uint32_t want = (uint32_t)(round % CAP) + 1;

        fill(v, want, next_in);
        next_in += ns_ring_spsc_enqueue_burst(&ring, v, want);
        uint32_t got = ns_ring_spsc_dequeue_burst(&ring, v, (uint32_t)(round * 7 % CAP) + 1);
        for (uint32_t i = 0; i < got; i++)
            cr_assert_eq(v[i], rec(next_out++), "round %d item %u", round, i);
        cr_assert_eq(ns_ring_count(&ring), (uint32_t)(next_in - next_out));
    }
    cr_expect_gt(next_out, 2000);
}

static void wraparound_check(int mpsc)
{
    void *v[CAP];
    uintptr_t next_in = 0, next_out = 0;
    const uint32_t start = UINT32_MAX - 2 * CAP - 3;

    cr_assert_eq(ns__ring_init_at(&ring, slots, CAP, start), 0);
    cr_expect(ns_ring_empty(&ring));
    while (next_out < 6 * CAP) {
        fill(v, 3, next_in);
        next_in += mpsc ? ns_ring_mpsc_enqueue_burst(&ring, v, 3)
                        : ns_ring_spsc_enqueue_burst(&ring, v, 3);
        fill(v, 3, next_in);
        next_in +=
            mpsc ? ns_ring_mpsc_enqueue_bulk(&ring, v, 3) : ns_ring_spsc_enqueue_bulk(&ring, v, 3);
        cr_assert_leq(ns_ring_count(&ring), CAP);
        cr_assert_eq(ns_ring_count(&ring), (uint32_t)(next_in - next_out));
        uint32_t got = mpsc ? ns_ring_mpsc_dequeue_burst(&ring, v, 5)
                            : ns_ring_spsc_dequeue_burst(&ring, v, 5);
        for (uint32_t i = 0; i < got; i++)
            cr_assert_eq(v[i], rec(next_out++));
    }
    /* The free-running indices really crossed 2^32. */
    cr_expect_lt(atomic_load(&ring.cons_tail), start);
    /* Fill to the brim across the wrap, then drain. */
    while (ns_ring_count(&ring) < CAP) {
        fill(v, 1, next_in);
        next_in += mpsc ? ns_ring_mpsc_enqueue_burst(&ring, v, 1)
                        : ns_ring_spsc_enqueue_burst(&ring, v, 1);
    }
    cr_expect_eq(mpsc ? ns_ring_mpsc_enqueue_burst(&ring, v, 1)
                      : ns_ring_spsc_enqueue_burst(&ring, v, 1),
                 0);
    cr_expect_eq(mpsc ? ns_ring_mpsc_dequeue_burst(&ring, v, CAP)
                      : ns_ring_spsc_dequeue_burst(&ring, v, CAP),
                 CAP);
    for (uint32_t i = 0; i < CAP; i++)
        cr_assert_eq(v[i], rec(next_out++));
    cr_expect(ns_ring_empty(&ring));
}

Test(ring, spsc_wraparound_over_2_32)
{
    wraparound_check(0);
}

Test(ring, mpsc_wraparound_over_2_32)
{
    wraparound_check(1);
}

Test(ring, full_ring_at_wrap_point)
{
    void *in[CAP], *out[CAP];

    /* Indices straddle UINT32_MAX exactly when the ring is full. */
    cr_assert_eq(ns__ring_init_at(&ring, slots, CAP, UINT32_MAX - CAP / 2), 0);
    fill(in, CAP, 40);
    cr_expect_eq(ns_ring_spsc_enqueue_bulk(&ring, in, CAP), CAP);
    cr_expect_eq(ns_ring_count(&ring), CAP);
    cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, in, 1), 0);
    cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, out, CAP), CAP);
    for (uint32_t i = 0; i < CAP; i++)
        cr_expect_eq(out[i], in[i]);
}

Test(ring, count_and_empty)
{
    void *v[CAP];

    cr_assert_eq(ns_ring_init(&ring, slots, CAP), 0);
    cr_expect(ns_ring_empty(&ring));
    fill(v, CAP, 0);
    for (uint32_t i = 1; i <= CAP; i++) {
        cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, v, 1), 1);
        cr_expect_eq(ns_ring_count(&ring), i);
        cr_expect_not(ns_ring_empty(&ring));
    }
    for (uint32_t i = CAP; i > 0; i--) {
        cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, v, 1), 1);
        cr_expect_eq(ns_ring_count(&ring), i - 1);
    }
    cr_expect(ns_ring_empty(&ring));
}

Test(ring, capacity_two_edge)
{
    void *in[3], *out[3];

    cr_assert_eq(ns_ring_init(&ring, slots, 2), 0);
    fill(in, 3, 0);
    cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, in, 3), 2);
    cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, out, 1), 1);
    cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, in + 2, 1), 1);
    cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, out + 1, 2), 2);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(out[i], in[i]);
}

Test(ring, null_pointers_are_carried)
{
    void *in[2] = {NULL, rec(9)}, *out[2] = {rec(1), NULL};

    cr_assert_eq(ns_ring_init(&ring, slots, CAP), 0);
    cr_expect_eq(ns_ring_spsc_enqueue_burst(&ring, in, 2), 2);
    cr_expect_eq(ns_ring_spsc_dequeue_burst(&ring, out, 2), 2);
    cr_expect_null(out[0]);
    cr_expect_eq(out[1], rec(9));
}

Test(ring, mpsc_stale_producer_cache_is_refreshed)
{
    void *in[2 * CAP], *out[CAP];
    uint32_t head;

    /* A producer preempted between reading cons_tail and storing it into the
     * shared cache can leave a value from far in the past (or, seen from a
     * peer with an older head, from the future). Neither may cause an
     * overwrite or a spurious "full". */
    cr_assert_eq(ns__ring_init_at(&ring, slots, CAP, UINT32_MAX - 3), 0);
    fill(in, 2 * CAP, 0);
    cr_expect_eq(ns_ring_mpsc_enqueue_burst(&ring, in, 3), 3);
    cr_expect_eq(ns_ring_mpsc_dequeue_burst(&ring, out, 3), 3);
    cr_expect_eq(ns_ring_mpsc_enqueue_burst(&ring, in, 5), 5);
    head = atomic_load(&ring.prod_head);
    atomic_store(&ring.prod_cons_cache, head - 3 * CAP); /* ancient */
    cr_expect_eq(ns_ring_mpsc_enqueue_burst(&ring, in + 5, CAP), CAP - 5, "only 3 free");
    cr_expect_eq(ns_ring_mpsc_enqueue_burst(&ring, in, 1), 0, "and now full");
    cr_expect_eq(ns_ring_mpsc_dequeue_burst(&ring, out, CAP), CAP);
    for (uint32_t i = 0; i < CAP; i++)
        cr_expect_eq(out[i], in[i]);
    head = atomic_load(&ring.prod_head);
    atomic_store(&ring.prod_cons_cache, head + 2); /* "ahead" of our head */
    cr_expect_eq(ns_ring_mpsc_enqueue_bulk(&ring, in, CAP), CAP);
    cr_expect_eq(ns_ring_count(&ring), CAP);
}
