/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_ipfrag.h - IPv4 (RFC 791) and IPv6 (RFC 8200) fragment reassembly for
 * the application decoders hosted by decoder/flow.
 *
 * Pure code (no core headers). The plugin glue (flow.c) offers every IP
 * fragment that flow_parse decoded (after the fragment was accounted to its
 * flow as before: reassembly changes no packet or byte count); when a datagram
 * is complete, ipfrag_add returns it as a synthetic unfragmented IP packet
 * (minimal IPv4 header, or the 40-byte IPv6 header followed by the fragmentable
 * part) that the glue parses again with flow_parse and hands to the app path.
 *
 * Rules: datagrams are keyed by (family, source, destination, protocol /
 * IPv6 next header, identification). On overlap the first copy of a byte wins
 * (later bytes are dropped and counted; a fragment that brings nothing new is a
 * duplicate). A fragment with "more fragments" set whose length is not a
 * multiple of 8, data beyond the end set by the last fragment, two different
 * ends, more than IPFRAG_MAX_PIECES disjoint pieces, a fragment whose bytes
 * were not all captured (snaplen) or a datagram larger than 65535 bytes drop
 * the datagram (counted by reason). Incomplete datagrams time out. Memory is
 * bounded globally (datagrams and bytes held): when a new datagram or bytes
 * would exceed a bound, the oldest datagrams are dropped (counted).
 *
 * One instance per decoder instance (worker thread); not thread-safe.
 */
#ifndef NS_FLOW_IPFRAG_H
#define NS_FLOW_IPFRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_parse.h"

#define IPFRAG_MAX_DATAGRAM 65535u /* bytes after the IP header, at most */
#define IPFRAG_MAX_PIECES 64u      /* disjoint byte ranges per datagram  */
#define IPFRAG_DEFAULT_TIMEOUT (30ull * 1000000000ull)
#define IPFRAG_DEFAULT_DATAGRAMS 1024u
#define IPFRAG_DEFAULT_BYTES (8u << 20)

/* Why a datagram was given up (counter label). */
#define IPFRAG_DROP_LIST(X)                                                                        \
    X(TIMEOUT, "timeout")                                                                          \
    X(BOUND, "bound")                                                                              \
    X(OVERSIZE, "oversize")                                                                        \
    X(INCONSISTENT, "inconsistent")                                                                \
    X(PIECES, "pieces")                                                                            \
    X(TRUNCATED, "truncated")                                                                      \
    X(ALLOC, "alloc")                                                                              \
    X(SHUTDOWN, "shutdown")

enum ipfrag_drop {
#define IPFRAG_DROP_ENUM(id, label) IPFRAG_DROP_##id,
    IPFRAG_DROP_LIST(IPFRAG_DROP_ENUM)
#undef IPFRAG_DROP_ENUM
        IPFRAG_DROP_COUNT
};

struct ipfrag_cfg {
    uint64_t timeout_ns;    /* 0 = IPFRAG_DEFAULT_TIMEOUT           */
    uint32_t max_datagrams; /* held at once; 0 = the default         */
    uint64_t max_bytes;     /* reassembly buffers held; 0 = default  */
};

struct ipfrag_stats {
    uint64_t fragments;                  /* fragments offered                            */
    uint64_t reassembled;                /* datagrams completed                          */
    uint64_t overlaps;                   /* fragments carrying bytes already held        */
    uint64_t overlap_bytes;              /* ... how many such bytes (first copy kept)    */
    uint64_t duplicates;                 /* fragments that brought no new byte           */
    uint64_t dropped[IPFRAG_DROP_COUNT]; /* datagrams given up, by reason    */
    uint64_t held_datagrams;             /* now                                          */
    uint64_t held_bytes;                 /* now                                          */
};

struct ipfrag;

/* NULL on allocation failure. */
struct ipfrag *ipfrag_new(const struct ipfrag_cfg *cfg);

/* Free everything held (no counting). NULL is fine. */
void ipfrag_free(struct ipfrag *f);

/*
 * Offer fragment p (kind IP, err NONE, is_frag, with frag_data/frag_len/
 * frag_cap set by flow_parse) seen at ts_ns. Returns true when this fragment
 * completed its datagram: *pkt / *len then describe an unfragmented IP packet
 * (parse it with flow_parse and FLOW_DLT_IPV4 / FLOW_DLT_IPV6 by p->family),
 * valid until the next call. Also ends datagrams older than the timeout.
 */
bool ipfrag_add(struct ipfrag *f, const struct flow_pkt *p, uint64_t ts_ns, const uint8_t **pkt,
                uint32_t *len);

/* End datagrams whose first fragment is older than the timeout at now_ns. */
void ipfrag_expire(struct ipfrag *f, uint64_t now_ns);

/* Drop everything held (counted as shutdown). */
void ipfrag_flush(struct ipfrag *f);

const struct ipfrag_stats *ipfrag_stats(const struct ipfrag *f);

/* The counter label of a drop reason ("timeout", ...). */
const char *ipfrag_drop_name(enum ipfrag_drop d);

#endif
