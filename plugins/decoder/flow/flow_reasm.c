/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_reasm.c - TCP stream reassembly (see flow_reasm.h).
 *
 * Called by decoder/flow's app hosting (flow_app.c) on the instance's worker
 * thread, by the unit tests and by the fuzzer. Sequence numbers are compared
 * modulo 2^32 (signed differences), as TCP does. In-order data is delivered
 * straight from the packet (no copy); only segments ahead of a hole are copied.
 */
#include "flow_reasm.h"

#include <stdlib.h>
#include <string.h>

struct reasm_seg {
    struct reasm_seg *next;
    uint32_t seq, len;
    uint8_t data[];
};

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)

/* Deliver `len` bytes at the current position of d, with any pending gap. */
static void reasm_out(struct reasm_ctx *rc, struct reasm_dir *d, int dir, const uint8_t *data,
                      uint32_t len, reasm_deliver_fn cb, void *arg)
{
    uint64_t gap = d->pending_gap;
    d->pending_gap = 0;
    d->next_seq += len;
    rc->st.delivered += len;
    if (len > 0 || gap > 0)
        cb(arg, dir, data, len, gap);
}

/* Skip the hole before the first held segment: the bytes are lost. */
static void reasm_skip_hole(struct reasm_ctx *rc, struct reasm_dir *d)
{
    uint32_t skip = d->segs->seq - d->next_seq;
    rc->st.gaps++;
    rc->st.gap_bytes += skip;
    d->pending_gap += skip;
    d->next_seq = d->segs->seq;
}

/* Deliver held segments that are now at (or before) next_seq. */
static void reasm_drain(struct reasm_ctx *rc, struct reasm_dir *d, int dir, reasm_deliver_fn cb,
                        void *arg)
{
    while (d->segs != NULL && SEQ_LE(d->segs->seq, d->next_seq)) {
        struct reasm_seg *s = d->segs;
        d->segs = s->next;
        d->held -= s->len;
        rc->used -= s->len;
        uint32_t end = s->seq + s->len;
        if (SEQ_LT(d->next_seq, end)) {
            uint32_t off = d->next_seq - s->seq;
            if (off > 0) {
                rc->st.overlaps++;
                rc->st.overlap_bytes += off;
            }
            reasm_out(rc, d, dir, s->data + off, s->len - off, cb, arg);
        } else {
            rc->st.overlaps++;
            rc->st.overlap_bytes += s->len;
        }
        free(s);
    }
}

/* Copy the parts of [seq, seq+len) not already held into the sorted list.
 * Returns false when an allocation failed (the rest is not held). */
static bool reasm_hold(struct reasm_ctx *rc, struct reasm_dir *d, uint32_t seq, const uint8_t *data,
                       uint32_t len)
{
    struct reasm_seg **pp = &d->segs;
    while (len > 0) {
        while (*pp != NULL && SEQ_LE((*pp)->seq + (*pp)->len, seq))
            pp = &(*pp)->next;
        struct reasm_seg *cur = *pp;
        if (cur != NULL && SEQ_LE(cur->seq, seq)) {
            /* The start is already held: first copy wins (as most stacks do). */
            uint32_t ov = cur->seq + cur->len - seq;
            if (ov > len)
                ov = len;
            rc->st.overlaps++;
            rc->st.overlap_bytes += ov;
            seq += ov;
            data += ov;
            len -= ov;
            pp = &cur->next;
            continue;
        }
        uint32_t take = len;
        if (cur != NULL && SEQ_LT(cur->seq, seq + len))
            take = cur->seq - seq;
        struct reasm_seg *s = malloc(sizeof(*s) + take);
        if (s == NULL) {
            rc->st.alloc_failures++;
            return false;
        }
        s->seq = seq;
        s->len = take;
        memcpy(s->data, data, take);
        s->next = cur;
        *pp = s;
        pp = &s->next;
        d->held += take;
        rc->used += take;
        seq += take;
        data += take;
        len -= take;
    }
    return true;
}

/* Give up every hole of d: deliver all it holds. */
static void reasm_release(struct reasm_ctx *rc, struct reasm_dir *d, int dir, reasm_deliver_fn cb,
                          void *arg)
{
    while (d->segs != NULL) {
        if (SEQ_LT(d->next_seq, d->segs->seq))
            reasm_skip_hole(rc, d);
        reasm_drain(rc, d, dir, cb, arg);
    }
}

void reasm_segment(struct reasm_ctx *rc, struct reasm *r, int dir, uint32_t seq, uint8_t flags,
                   const uint8_t *data, uint32_t len, uint32_t wire_len, reasm_deliver_fn cb,
                   void *arg)
{
    struct reasm_dir *d = &r->d[dir & 1];
    if (flags & 0x02) { /* SYN: data (TCP Fast Open) starts after it */
        if (!d->init) {
            d->init = true;
            d->next_seq = seq + 1;
        }
        seq++;
    }
    if (flags & 0x01)
        d->fin = true;
    if (len > wire_len)
        len = wire_len;
    if (wire_len == 0)
        return;
    rc->st.segments++;
    if (!d->init) {
        /* Picked up mid-stream (or the SYN was lost): start here. */
        d->init = true;
        d->next_seq = seq;
    }
    uint32_t end = seq + wire_len;
    if (SEQ_LE(end, d->next_seq)) { /* all of it delivered already */
        rc->st.overlaps++;
        rc->st.overlap_bytes += wire_len;
        return;
    }
    if (SEQ_LT(seq, d->next_seq)) { /* the front was delivered already */
        uint32_t ov = d->next_seq - seq;
        rc->st.overlaps++;
        rc->st.overlap_bytes += ov;
        seq += ov;
        wire_len -= ov;
        if (ov >= len) {
            /* What remains was not captured (snaplen): a gap. */
            len = 0;
        } else {
            data += ov;
            len -= ov;
        }
    }
    if (seq == d->next_seq) {
        reasm_out(rc, d, dir, data, len, cb, arg);
        if (wire_len > len) { /* cut by the snaplen: the tail is lost */
            rc->st.gaps++;
            rc->st.gap_bytes += wire_len - len;
            d->pending_gap += wire_len - len;
            d->next_seq += wire_len - len;
        }
        reasm_drain(rc, d, dir, cb, arg);
        return;
    }
    /* Ahead of a hole: hold it, within the bounds. Snaplen-cut tails are not
     * held (they would only ever be a gap). */
    rc->st.held_segments++;
    bool room_flow = (uint64_t)r->d[0].held + r->d[1].held + len <= rc->flow_max;
    bool room_all = rc->used + len <= rc->global_max;
    if (!room_flow || !room_all || len < wire_len) {
        if (!room_flow)
            rc->st.bound_flow++;
        else if (!room_all)
            rc->st.bound_global++;
        /* Give the hole up: deliver what is held, then this segment. */
        reasm_release(rc, d, dir, cb, arg);
        if (SEQ_LT(d->next_seq, seq)) {
            uint32_t skip = seq - d->next_seq;
            rc->st.gaps++;
            rc->st.gap_bytes += skip;
            d->pending_gap += skip;
            d->next_seq = seq;
        } else if (SEQ_LT(seq, d->next_seq)) {
            /* Held data overlapped the front of this segment. */
            uint32_t ov = d->next_seq - seq;
            if (SEQ_LE(end, d->next_seq))
                return;
            rc->st.overlaps++;
            rc->st.overlap_bytes += ov;
            wire_len -= ov;
            if (ov >= len) {
                len = 0;
            } else {
                data += ov;
                len -= ov;
            }
        }
        reasm_out(rc, d, dir, data, len, cb, arg);
        if (wire_len > len) {
            rc->st.gaps++;
            rc->st.gap_bytes += wire_len - len;
            d->pending_gap += wire_len - len;
            d->next_seq += wire_len - len;
        }
        return;
    }
    reasm_hold(rc, d, seq, data, len);
}

void reasm_ack(struct reasm_ctx *rc, struct reasm *r, int dir, uint32_t ack, reasm_deliver_fn cb,
               void *arg)
{
    struct reasm_dir *d = &r->d[dir & 1];
    /* The receiver has bytes we never saw: they will not come (capture loss). */
    while (d->init && d->segs != NULL && SEQ_LT(d->next_seq, d->segs->seq) &&
           SEQ_LT(d->segs->seq, ack)) {
        reasm_skip_hole(rc, d);
        reasm_drain(rc, d, dir & 1, cb, arg);
    }
}

void reasm_flush(struct reasm_ctx *rc, struct reasm *r, int dir, reasm_deliver_fn cb, void *arg)
{
    struct reasm_dir *d = &r->d[dir & 1];
    reasm_release(rc, d, dir & 1, cb, arg);
    if (d->pending_gap > 0) /* a hole at the very end */
        reasm_out(rc, d, dir & 1, NULL, 0, cb, arg);
}

void reasm_free(struct reasm_ctx *rc, struct reasm *r)
{
    for (int i = 0; i < 2; i++) {
        struct reasm_dir *d = &r->d[i];
        while (d->segs != NULL) {
            struct reasm_seg *s = d->segs;
            d->segs = s->next;
            rc->used -= s->len;
            free(s);
        }
        d->held = 0;
    }
}
