/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_reasm.c - TCP reassembly (plugins/decoder/flow/flow_reasm.c): in
 * order, out of order, overlaps, retransmissions, gaps by ACK and by bound,
 * snaplen-cut segments, sequence wrap, memory accounting.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "flow_reasm.h"

static uint8_t out[2][4096];
static size_t outlen[2];
static uint64_t gaps[2];
static int calls;

static void cb(void *arg, int dir, const uint8_t *data, uint32_t len, uint64_t gap)
{
    (void)arg;
    calls++;
    gaps[dir] += gap;
    cr_assert(outlen[dir] + len <= sizeof(out[dir]));
    if (len)
        memcpy(out[dir] + outlen[dir], data, len);
    outlen[dir] += len;
}

static void reset(void)
{
    memset(out, 0, sizeof(out));
    outlen[0] = outlen[1] = 0;
    gaps[0] = gaps[1] = 0;
    calls = 0;
}

static const uint8_t *TXT = (const uint8_t *)"abcdefghijklmnopqrstuvwxyz0123456789";

/* Segment [off, off+len) of TXT with ISN isn. */
static void seg(struct reasm_ctx *rc, struct reasm *r, int dir, uint32_t isn, uint32_t off,
                uint32_t len)
{
    reasm_segment(rc, r, dir, isn + 1 + off, 0x10, TXT + off, len, len, cb, NULL);
}

Test(reasm, in_order_and_syn, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 1024, .global_max = 4096};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    reasm_segment(&rc, &r, 0, 1000, 0x02, NULL, 0, 0, cb, NULL); /* SYN */
    seg(&rc, &r, 0, 1000, 0, 5);
    seg(&rc, &r, 0, 1000, 5, 5);
    cr_assert_eq(outlen[0], 10);
    cr_assert_eq(memcmp(out[0], TXT, 10), 0);
    cr_assert_eq(rc.st.gaps, 0);
    cr_assert_eq(rc.used, 0);
}

Test(reasm, out_of_order_held_then_drained, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 1024, .global_max = 4096};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    reasm_segment(&rc, &r, 0, 0, 0x02, NULL, 0, 0, cb, NULL);
    seg(&rc, &r, 0, 0, 10, 5);
    seg(&rc, &r, 0, 0, 5, 5);
    cr_assert_eq(outlen[0], 0);
    cr_assert_eq(rc.used, 10);
    seg(&rc, &r, 0, 0, 0, 5);
    cr_assert_eq(outlen[0], 15);
    cr_assert_eq(memcmp(out[0], TXT, 15), 0);
    cr_assert_eq(rc.used, 0);
    cr_assert_eq(rc.st.held_segments, 2);
    cr_assert_eq(rc.st.gaps, 0);
}

Test(reasm, overlaps_and_retransmissions, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 1024, .global_max = 4096};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    reasm_segment(&rc, &r, 1, 0, 0x02, NULL, 0, 0, cb, NULL);
    seg(&rc, &r, 1, 0, 0, 10);
    seg(&rc, &r, 1, 0, 0, 10);  /* full retransmission */
    seg(&rc, &r, 1, 0, 5, 10);  /* half old */
    seg(&rc, &r, 1, 0, 20, 6);  /* held */
    seg(&rc, &r, 1, 0, 18, 6);  /* overlaps the held one */
    seg(&rc, &r, 1, 0, 14, 12); /* covers both */
    cr_assert_eq(outlen[1], 26);
    cr_assert_eq(memcmp(out[1], TXT, 26), 0);
    cr_assert_geq(rc.st.overlaps, 3);
    cr_assert_eq(rc.used, 0);
    reasm_free(&rc, &r);
}

Test(reasm, ack_gives_the_hole_up, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 1024, .global_max = 4096};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    reasm_segment(&rc, &r, 0, 0, 0x02, NULL, 0, 0, cb, NULL);
    seg(&rc, &r, 0, 0, 0, 5);
    seg(&rc, &r, 0, 0, 10, 5);              /* 5..10 lost */
    reasm_ack(&rc, &r, 0, 1 + 8, cb, NULL); /* ack inside the hole: not yet */
    cr_assert_eq(outlen[0], 5);
    reasm_ack(&rc, &r, 0, 1 + 15, cb, NULL);
    cr_assert_eq(outlen[0], 10);
    cr_assert_eq(gaps[0], 5);
    cr_assert_eq(memcmp(out[0] + 5, TXT + 10, 5), 0);
    cr_assert_eq(rc.st.gaps, 1);
    cr_assert_eq(rc.st.gap_bytes, 5);
}

Test(reasm, flow_bound, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 8, .global_max = 4096};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    reasm_segment(&rc, &r, 0, 0, 0x02, NULL, 0, 0, cb, NULL);
    seg(&rc, &r, 0, 0, 10, 5); /* held */
    seg(&rc, &r, 0, 0, 20, 5); /* would exceed 8: give up */
    cr_assert_eq(rc.st.bound_flow, 1);
    cr_assert_eq(outlen[0], 10);
    cr_assert_eq(gaps[0], 15);
    cr_assert_eq(rc.used, 0);
    seg(&rc, &r, 0, 0, 25, 2);
    cr_assert_eq(outlen[0], 12);
}

Test(reasm, global_bound, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 100, .global_max = 6};
    struct reasm r1, r2;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    reasm_segment(&rc, &r1, 0, 0, 0x02, NULL, 0, 0, cb, NULL);
    reasm_segment(&rc, &r2, 1, 0, 0x02, NULL, 0, 0, cb, NULL);
    seg(&rc, &r1, 0, 0, 10, 5);
    seg(&rc, &r2, 1, 0, 10, 5);
    cr_assert_eq(rc.st.bound_global, 1);
    cr_assert_eq(rc.used, 5);
    cr_assert_eq(outlen[1], 5);
    reasm_free(&rc, &r1);
    cr_assert_eq(rc.used, 0);
}

Test(reasm, snaplen_cut_is_a_gap, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 100, .global_max = 100};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    reasm_segment(&rc, &r, 0, 0, 0x02, NULL, 0, 0, cb, NULL);
    reasm_segment(&rc, &r, 0, 1, 0x10, TXT, 3, 10, cb, NULL);
    seg(&rc, &r, 0, 0, 10, 4);
    cr_assert_eq(outlen[0], 7);
    cr_assert_eq(gaps[0], 7);
    cr_assert_eq(memcmp(out[0] + 3, TXT + 10, 4), 0);
}

Test(reasm, sequence_wrap_and_midstream, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 100, .global_max = 100};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    uint32_t s = 0xfffffffau;
    reasm_segment(&rc, &r, 0, s + 8, 0x10, TXT + 8, 8, 8, cb, NULL); /* first seen: start */
    cr_assert_eq(outlen[0], 8);
    reasm_segment(&rc, &r, 0, s + 20, 0x10, TXT + 20, 4, 4, cb, NULL);
    reasm_segment(&rc, &r, 0, s + 16, 0x10, TXT + 16, 4, 4, cb, NULL);
    cr_assert_eq(outlen[0], 16);
    cr_assert_eq(memcmp(out[0], TXT + 8, 16), 0);
}

Test(reasm, flush_delivers_held_with_gaps, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 100, .global_max = 100};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    reasm_segment(&rc, &r, 0, 0, 0x02, NULL, 0, 0, cb, NULL);
    seg(&rc, &r, 0, 0, 4, 2);
    seg(&rc, &r, 0, 0, 10, 2);
    reasm_flush(&rc, &r, 0, cb, NULL);
    cr_assert_eq(outlen[0], 4);
    cr_assert_eq(gaps[0], 8);
    cr_assert_eq(rc.used, 0);
}

Test(reasm, hostile_sequence_soup_stays_bounded, .init = reset)
{
    struct reasm_ctx rc = {.flow_max = 64, .global_max = 64};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    uint8_t buf[40];
    memset(buf, 'x', sizeof(buf));
    uint32_t x = 12345;
    for (int i = 0; i < 5000; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t len = (x >> 8) % 40;
        reasm_segment(&rc, &r, (int)(x & 1), x >> 20, (uint8_t)(x >> 3) & 0x13, buf, len, len, cb,
                      NULL);
        cr_assert_leq(rc.used, 64);
        if ((x & 0x70) == 0)
            reasm_ack(&rc, &r, (int)(x >> 9) & 1, x >> 11, cb, NULL);
        outlen[0] = outlen[1] = 0;
    }
    reasm_free(&rc, &r);
    cr_assert_eq(rc.used, 0);
}
