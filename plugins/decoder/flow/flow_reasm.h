/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_reasm.h - TCP stream reassembly for the application decoders hosted by
 * decoder/flow.
 *
 * Pure code (no core headers). The flow decoder's app hosting (flow_app.c) keeps
 * one struct reasm per TCP flow that an app decoder may read and feeds it every
 * segment of the flow; reassembly calls back with each direction's bytes in
 * stream order. Segments that arrive ahead of the next expected byte are copied
 * and held until the hole is filled; data already delivered (retransmissions,
 * overlaps) is dropped and counted. Memory is bounded per flow and per reasm_ctx
 * (one per decoder instance = per worker): when a bound would be exceeded, the
 * hole is given up, the held data is delivered with `gap` set to the bytes
 * skipped, and the bound hit is counted. An ACK from the receiver for bytes
 * never seen (capture loss) also gives the hole up at once. Not thread-safe: one
 * worker thread.
 */
#ifndef NS_FLOW_REASM_H
#define NS_FLOW_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reasm_seg; /* a held out-of-order segment (private) */

/* One direction of a stream. */
struct reasm_dir {
    uint32_t next_seq;      /* next byte to deliver (valid once `init`)        */
    uint32_t held;          /* bytes held in `segs`                             */
    struct reasm_seg *segs; /* held segments, sorted by sequence, disjoint      */
    uint64_t pending_gap;   /* bytes skipped, reported with the next delivery  */
    bool init;              /* next_seq known (SYN or first data seen)         */
    bool fin;               /* FIN seen                                         */
};

/* Per-flow state: index 0 = to the server (initiator's data), 1 = to the client. */
struct reasm {
    struct reasm_dir d[2];
};

struct reasm_stats {
    uint64_t segments;       /* segments with payload given to reasm_segment   */
    uint64_t delivered;      /* bytes delivered in order                        */
    uint64_t held_segments;  /* segments that had to be held (out of order)     */
    uint64_t overlaps;       /* segments (or parts) carrying bytes already seen */
    uint64_t overlap_bytes;  /* ... how many bytes                              */
    uint64_t gaps;           /* holes given up                                  */
    uint64_t gap_bytes;      /* ... bytes never seen                            */
    uint64_t bound_flow;     /* per-flow bound hit                              */
    uint64_t bound_global;   /* per-instance bound hit                          */
    uint64_t alloc_failures; /* a held segment could not be allocated           */
};

/* Shared by every stream of one decoder instance. */
struct reasm_ctx {
    uint32_t flow_max;   /* bytes held per flow (both directions); 0 = none held */
    uint64_t global_max; /* bytes held by all flows of this instance           */
    uint64_t used;       /* bytes held now                                      */
    struct reasm_stats st;
};

/* Called with each direction's bytes in order. `gap` > 0: that many bytes were
 * skipped just before `data`. len may be 0 only when gap > 0 (a hole at the
 * end of a stream). */
typedef void (*reasm_deliver_fn)(void *arg, int dir, const uint8_t *data, uint32_t len,
                                 uint64_t gap);

/* Feed one TCP segment of direction `dir` (0/1): sequence number, flags (wire
 * bits: SYN 0x02, FIN 0x01, RST 0x04), `len` captured payload bytes at `data`.
 * `wire_len` is the payload length per the headers: when the capture cut the
 * segment (snaplen), the missing tail is reported as a gap. */
void reasm_segment(struct reasm_ctx *rc, struct reasm *r, int dir, uint32_t seq, uint8_t flags,
                   const uint8_t *data, uint32_t len, uint32_t wire_len, reasm_deliver_fn cb,
                   void *arg);

/* The other side acknowledged up to `ack` in direction `dir`: if bytes before
 * `ack` were never seen but later bytes are held, give the hole up. */
void reasm_ack(struct reasm_ctx *rc, struct reasm *r, int dir, uint32_t ack, reasm_deliver_fn cb,
               void *arg);

/* Deliver everything held in direction `dir` (holes reported as gaps), e.g. at
 * the end of the flow. */
void reasm_flush(struct reasm_ctx *rc, struct reasm *r, int dir, reasm_deliver_fn cb, void *arg);

/* Drop everything held (no delivery). The struct can be reused after
 * memset 0. */
void reasm_free(struct reasm_ctx *rc, struct reasm *r);

#endif
