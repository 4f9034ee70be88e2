/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_table.h - bidirectional flow table for decoder/flow.
 *
 * Pure code (no core headers): the plugin glue (flow.c), the unit tests and the
 * fuzzer drive it with parsed packets (struct flow_pkt) and receive start,
 * update and end events through a callback. One table per decoder instance; it
 * is used from that instance's worker thread only and is not thread-safe.
 *
 * Memory: flows live in chunks of FLOW_CHUNK entries allocated on demand (never
 * per packet) up to max_flows; buckets are one uint32_t index per slot. A flow
 * is ~256 bytes, so 1M flows take ~260 MB.
 */
#ifndef NS_FLOW_TABLE_H
#define NS_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_parse.h"

struct flow_devices;

#define FLOW_NIL UINT32_MAX

/* Timeout classes: each has its own idle timeout and its own idle queue. */
enum flow_class {
    FLOW_CLASS_TCP = 0,
    FLOW_CLASS_UDP,
    FLOW_CLASS_ICMP,
    FLOW_CLASS_OTHER,
    FLOW_CLASS_CLOSED, /* TCP after FIN both ways or RST: lingers briefly so late
                          ACKs/RSTs join it instead of opening a new flow      */
    FLOW_CLASS_COUNT
};

enum flow_event { FLOW_EV_START = 0, FLOW_EV_UPDATE, FLOW_EV_END };

enum flow_reason {
    FLOW_REASON_NONE = 0,
    FLOW_REASON_FIN,
    FLOW_REASON_RST,
    FLOW_REASON_IDLE,
    FLOW_REASON_ACTIVE, /* interim update after active_timeout */
    FLOW_REASON_EVICTION,
    FLOW_REASON_SHUTDOWN,
};

/* TCP connection state as seen from the capture point. */
enum flow_tcp_state {
    FLOW_TCP_NONE = 0,     /* mid-stream: no handshake seen   */
    FLOW_TCP_SYN_SENT,     /* SYN seen                        */
    FLOW_TCP_SYN_RECEIVED, /* SYN-ACK seen                    */
    FLOW_TCP_ESTABLISHED,  /* handshake ACK (or data) seen    */
    FLOW_TCP_FIN_WAIT,     /* one side sent FIN               */
    FLOW_TCP_CLOSED,       /* FIN both ways                   */
    FLOW_TCP_RESET,        /* RST seen                        */
};

/*
 * The bidirectional key. Side 0 is the endpoint with the smaller (address,
 * port), so both directions build the same key; padding is zeroed so the key
 * can be hashed and compared as bytes. For ICMP the ports hold the Community ID
 * port equivalents (type and paired type, or type and code) and icmp_id the echo
 * identifier, so an echo request and its reply share one flow.
 */
struct flow_key {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint16_t vlan[2];
    uint16_t icmp_id;
    uint8_t proto;
    uint8_t family;
    uint8_t vlan_count; /* 0, 1 or 2 (only the outer two tags are kept) */
    uint8_t tunnel;     /* FLOW_TUNNEL_*: tunnelled and plain traffic stay apart */
    uint8_t pad[2];
};

/* Flags in flow.bits. */
#define FLOW_B_SEQ0 0x01 /* seq tracking initialised for side 0 */
#define FLOW_B_SEQ1 0x02 /* ... side 1                          */
#define FLOW_B_MAC0 0x04 /* mac[0] valid                        */
#define FLOW_B_MAC1 0x08 /* mac[1] valid                        */
#define FLOW_B_SYN 0x10  /* a SYN (no ACK) was seen             */
#define FLOW_B_FIN0 0x20 /* side 0 sent FIN                     */
#define FLOW_B_FIN1 0x40 /* side 1 sent FIN                     */
#define FLOW_B_RTT 0x80  /* rtt_ns valid                        */

/* One flow. Counters are indexed by key side; src_side says which side is the
 * initiator (ECS source). Read by the event callback; owned by the table.
 *
 * Field order is by access frequency, in 64-byte lines (chunks are allocated
 * 64-byte aligned): line 0 is what the lookup and every packet read (key,
 * chain, state bits, idle queue entry), line 1 the per-packet counters, TCP
 * sequence end, device links and app slot, line 2 what few packets touch
 * (sequence holes, retransmission counts, MACs until both are known), line 3
 * what only records and rare packets touch. A packet thus needs lines 0-1,
 * and the batch path prefetches exactly those; moving a flow in its idle
 * queue (once a second) writes line 0 only. */
struct flow {
    /* line 0 */
    struct flow_key key;
    uint32_t hnext; /* bucket chain / free list */
    uint32_t hash;  /* flow_key_hash of key (for unlinking without rehashing) */
    uint8_t cls;
    uint8_t bits;
    uint8_t src_side;
    uint8_t tcp_state;
    uint32_t qpos; /* position of its entry in the idle queue of `cls` (table-private) */
    /* line 1 */
    uint64_t last_ts;
    uint64_t pkts[2], bytes[2];
    uint32_t seq_end[2]; /* highest seq + len seen per side   */
    uint32_t dev[2];     /* device index per side or FLOW_NIL */
    uint32_t app;        /* app-decoder slot of the glue (flow_app.c); 0 = none */
    uint8_t tcp_flags[2];
    uint8_t close_reason; /* FIN or RST once cls is CLOSED */
    uint8_t updates;      /* interim records so far (saturating) */
    /* line 2 */
    uint32_t hole_lo[2], hole_hi[2]; /* last gap seen per side           */
    uint16_t ifindex;
    uint8_t icmp_type, icmp_code; /* first ICMP message of the flow */
    uint32_t spare;
    uint64_t first_ts, report_ts;
    uint32_t retrans, ooo;
    uint32_t frags; /* non-first IP fragments accounted  */
    uint8_t mac[2][6];
    /* line 3 */
    uint64_t rep_pkts[2], rep_bytes[2]; /* at the last update record (deltas) */
    uint64_t syn_ts, synack_ts, rtt_ns;
    uint32_t aprev, anext; /* active-timeout list       */
};

/* Plain counters kept by the table; the glue publishes them after each batch. */
struct flow_stats {
    uint64_t packets;    /* packets given to flow_table_packet        */
    uint64_t ip_packets; /* accounted to a flow                        */
    uint64_t arp_packets;
    uint64_t other_packets; /* valid but untracked frames                 */
    uint64_t errors[FLOW_ERR_COUNT];
    uint64_t flows_created;
    uint64_t flows_ended;
    uint64_t flows_active;
    uint64_t evictions;
    uint64_t updates;        /* flow_update events                          */
    uint64_t frag_matched;   /* non-first fragments attributed to a flow    */
    uint64_t frag_unmatched; /* ... arriving before their first fragment    */
    uint64_t ipv4_len0;      /* IPv4 total length 0 taken as TSO          */
    uint64_t alloc_failures; /* chunk allocation failed: packet untracked  */
};

struct flow_table_cfg {
    uint64_t max_flows;                 /* 0 = 1M                            */
    uint64_t idle_ns[FLOW_CLASS_COUNT]; /* 0 = the default for the class    */
    uint64_t active_ns;                 /* 0 = no interim records            */
    bool emit_start;
    uint32_t hash_seed;
    struct flow_devices *devices; /* optional inventory fed per packet (not owned) */
    /* Optional hint: called for a flow a little before its END record is
     * built by the idle walk or the flush (f's lines 0-1 are cached by
     * then), so the caller can prefetch what it keeps beside the flow. It
     * must not change anything. */
    void (*prefetch)(void *arg, const struct flow *f);
    /* Called for each event. `f` is valid during the call only. */
    void (*on_event)(void *arg, const struct flow *f, enum flow_event ev, enum flow_reason why,
                     uint64_t now_ns);
    void *arg;
};

/* Defaults (documented in README.md). */
#define FLOW_DEFAULT_MAX_FLOWS 1000000u
#define FLOW_DEFAULT_TCP_IDLE (300ull * 1000000000ull)
#define FLOW_DEFAULT_UDP_IDLE (60ull * 1000000000ull)
#define FLOW_DEFAULT_ICMP_IDLE (60ull * 1000000000ull)
#define FLOW_DEFAULT_OTHER_IDLE (60ull * 1000000000ull)
#define FLOW_DEFAULT_CLOSED_LINGER (5ull * 1000000000ull)
#define FLOW_DEFAULT_ACTIVE (60ull * 1000000000ull)

struct flow_table;

/* Create a table; NULL on allocation failure or a NULL on_event. */
struct flow_table *flow_table_new(const struct flow_table_cfg *cfg);

/* Free the table without emitting anything (call flow_table_flush first). */
void flow_table_free(struct flow_table *t);

/*
 * Account one parsed packet (flow_parse result) captured at ts_ns, wirelen bytes
 * on the wire, on interface ifindex. Errors and untracked kinds are counted in
 * the stats; IP packets create or update a flow (which may emit START, or END for
 * an evicted or reused flow). ARP is only counted here: the glue emits ARP
 * records itself. Returns the flow the packet was accounted to (valid until the
 * next call into the table), or NULL when it was not accounted to one.
 */
struct flow *flow_table_packet(struct flow_table *t, const struct flow_pkt *p, uint64_t ts_ns,
                               uint32_t wirelen, uint16_t ifindex);

/*
 * The same work in two steps, so that a batch can be processed in passes
 * (parse and prepare every packet, prefetch, then account them in order) and
 * the cache misses of the bucket and flow lookups overlap instead of stalling
 * one packet at a time. flow_table_prepare builds the key and its hash and
 * resolves a non-first IP fragment to its datagram's ports (rewriting p's L4
 * fields in place, has_l4 then true). It reads and writes the fragment memory,
 * never a flow, so it must see the packets in capture order, and prefetches
 * the key's bucket. Then flow_table_prefetch_flow (a hint, optional) and
 * flow_table_account in the same order; flow_table_packet == prepare + account.
 */
struct flow_prep {
    struct flow_key key;
    uint32_t hash;
    uint8_t side;  /* key side of the sender                         */
    uint8_t track; /* an IP packet to account to a flow              */
    uint8_t l4hdr; /* the packet itself carried its L4 header        */
    uint8_t pad;
};
void flow_table_prepare(struct flow_table *t, struct flow_pkt *p, uint64_t ts_ns,
                        struct flow_prep *out);
void flow_table_prefetch_flow(const struct flow_table *t, const struct flow_prep *pp);
struct flow *flow_table_account(struct flow_table *t, const struct flow_pkt *p,
                                const struct flow_prep *pp, uint64_t ts_ns, uint32_t wirelen,
                                uint16_t ifindex);

/* The flow of a prepared packet, without accounting anything (NULL when there
 * is none); *side is the sender's key side. For a reassembled IP datagram,
 * whose fragments were accounted one by one. */
struct flow *flow_table_find(struct flow_table *t, const struct flow_prep *pp, int *side);

/* After flow_table_packet returned a flow: the key side (0/1) of that packet's
 * sender. Compare with flow.src_side to know the direction. */
int flow_table_last_side(const struct flow_table *t);

/* Time passes: end idle flows (END idle / fin / rst) and emit interim UPDATEs for
 * flows whose last record is older than active_ns. */
void flow_table_tick(struct flow_table *t, uint64_t now_ns);

/* End every open flow (END with `why`, normally SHUTDOWN; closed TCP flows keep
 * FIN/RST). The table is empty afterwards and can be reused. */
void flow_table_flush(struct flow_table *t, enum flow_reason why, uint64_t now_ns);

const struct flow_stats *flow_table_stats(const struct flow_table *t);

/* Helpers for record building. */
const char *flow_reason_name(enum flow_reason r);
const char *flow_tcp_state_name(enum flow_tcp_state s);
const char *flow_transport_name(uint8_t proto); /* "tcp", ...; NULL if unnamed */
/* The same names with their lengths, so a record field needs no strlen. */
struct flow_str {
    const char *s; /* NUL-terminated; NULL for an unnamed transport */
    uint32_t len;
};
struct flow_str flow_reason_str(enum flow_reason r);
struct flow_str flow_tcp_state_str(enum flow_tcp_state s);
struct flow_str flow_transport_str(uint8_t proto);
/* Render TCP flags as letters in a fixed order "SAPFRUEC" (e.g. "SAF"); buf >= 9.
 * Returns the number of letters. */
size_t flow_tcp_flags_str(uint8_t flags, char buf[9]);

#endif
