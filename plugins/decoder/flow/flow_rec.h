/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_rec.h - the fields of a netscope.flow record that decoder/flow (from
 * its flow table) and source/ebpf_flow (from the kernel's flow map) both
 * write, in the same order and with the same rules: the event head, the two
 * endpoints and the network.* counts, and the end reason with the deltas.
 *
 * Header-only (static inline, public headers only): source/ebpf_flow
 * includes it from this directory as it compiles community_id.c, and each
 * plugin .so still exports only `ns_plugin`. Called on the thread that builds
 * the record (decoder/flow: its worker; ebpf_flow: the export timer).
 *
 * The keys are interned (plugins/common/ns_rec_keys.h) the first time
 * flow_rec_add_event runs, which every flow record starts with.
 */
#ifndef FLOW_REC_H
#define FLOW_REC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "netscope/netscope.h"

#include "../../common/ns_rec_keys.h"

/* Keys of the fields written here (a table per including file). */
enum flow_rec_key {
    FRK_EVENT_KIND,
    FRK_EVENT_CATEGORY,
    FRK_EVENT_TYPE,
    FRK_EVENT_ACTION,
    FRK_EVENT_START,
    FRK_EVENT_END,
    FRK_EVENT_DURATION,
    FRK_SRC_IP, /* then port, mac, bytes, packets */
    FRK_DST_IP = FRK_SRC_IP + 5,
    FRK_NET_BYTES = FRK_DST_IP + 5,
    FRK_NET_PACKETS,
    FRK_NET_TRANSPORT,
    FRK_NET_IANA,
    FRK_NET_TYPE,
    FRK_END_REASON,
    FRK_DELTA_SRC_BYTES,
    FRK_DELTA_SRC_PACKETS,
    FRK_DELTA_DST_BYTES,
    FRK_DELTA_DST_PACKETS,
    FRK_N
};
static struct ns_key flow_rec_keys[FRK_N] = {
    [FRK_EVENT_KIND] = {"event.kind", 0},
    [FRK_EVENT_CATEGORY] = {"event.category", 0},
    [FRK_EVENT_TYPE] = {"event.type", 0},
    [FRK_EVENT_ACTION] = {"event.action", 0},
    [FRK_EVENT_START] = {"event.start", 0},
    [FRK_EVENT_END] = {"event.end", 0},
    [FRK_EVENT_DURATION] = {"event.duration", 0},
    [FRK_SRC_IP] = {"source.ip", 0},
    [FRK_SRC_IP + 1] = {"source.port", 0},
    [FRK_SRC_IP + 2] = {"source.mac", 0},
    [FRK_SRC_IP + 3] = {"source.bytes", 0},
    [FRK_SRC_IP + 4] = {"source.packets", 0},
    [FRK_DST_IP] = {"destination.ip", 0},
    [FRK_DST_IP + 1] = {"destination.port", 0},
    [FRK_DST_IP + 2] = {"destination.mac", 0},
    [FRK_DST_IP + 3] = {"destination.bytes", 0},
    [FRK_DST_IP + 4] = {"destination.packets", 0},
    [FRK_NET_BYTES] = {"network.bytes", 0},
    [FRK_NET_PACKETS] = {"network.packets", 0},
    [FRK_NET_TRANSPORT] = {"network.transport", 0},
    [FRK_NET_IANA] = {"network.iana_number", 0},
    [FRK_NET_TYPE] = {"network.type", 0},
    [FRK_END_REASON] = {"netscope.flow.end_reason", 0},
    [FRK_DELTA_SRC_BYTES] = {"netscope.flow.delta.source.bytes", 0},
    [FRK_DELTA_SRC_PACKETS] = {"netscope.flow.delta.source.packets", 0},
    [FRK_DELTA_DST_BYTES] = {"netscope.flow.delta.destination.bytes", 0},
    [FRK_DELTA_DST_PACKETS] = {"netscope.flow.delta.destination.packets", 0},
};
static int flow_rec_keys_ready;

/* One flow as its record shows it; index 0 is the source (the initiator),
 * 1 the destination. */
struct flow_rec_ends {
    uint8_t family; /* 4 or 6 */
    uint8_t proto;  /* IP protocol number */
    bool ports;     /* write source.port and destination.port */
    const uint8_t *addr[2];
    uint16_t port[2];
    const uint8_t *mac[2]; /* NULL: no .mac field */
    uint64_t bytes[2], pkts[2];
    const char *transport;  /* network.transport; NULL: left out */
    uint32_t transport_len; /* its length; 0: strlen(transport)   */
};

/* A string literal value: its length is known, no strlen per field. */
#define FLOW_REC_LIT(h, r, key, lit) (h)->rec_add_str((r), (key), (lit), sizeof(lit) - 1)
/* The same with an interned key (struct ns_key *). */
#define FLOW_REC_LIT_K(h, r, k, lit) ns_key_str((h), (r), (k), (lit), sizeof(lit) - 1)

static inline void flow_rec_ip_of(struct ns_ip *ip, uint8_t family, const uint8_t *a)
{
    memset(ip, 0, sizeof(*ip));
    ip->family = family;
    memcpy(ip->a, a, family == 4 ? 4 : 16);
}

/* Adds address a (4 or 16 bytes by family) as an IP field named key. */
static inline void flow_rec_add_ip(const struct ns_host *h, struct ns_record *r, const char *key,
                                   uint8_t family, const uint8_t *a)
{
    struct ns_ip ip;
    flow_rec_ip_of(&ip, family, a);
    h->rec_add_ip(r, key, &ip);
}

/* The same with an interned key. */
static inline void flow_rec_add_ip_k(const struct ns_host *h, struct ns_record *r,
                                     const struct ns_key *k, uint8_t family, const uint8_t *a)
{
    struct ns_ip ip;
    flow_rec_ip_of(&ip, family, a);
    ns_key_ip(h, r, k, &ip);
}

/*
 * The head: event.kind "event", event.category "network", event.type
 * ["connection", type2 (if not NULL)], event.action, event.start, event.end
 * and event.duration (end - start, ns). type2 and action with their lengths
 * (a record per flow: no strlen per field).
 */
static inline void flow_rec_add_event_n(const struct ns_host *h, struct ns_record *r,
                                        const char *type2, size_t type2_len, const char *action,
                                        size_t action_len, uint64_t start, uint64_t end)
{
    struct ns_key *k = flow_rec_keys;
    ns_keys_ready(h, k, FRK_N, &flow_rec_keys_ready);
    FLOW_REC_LIT_K(h, r, &k[FRK_EVENT_KIND], "event");
    FLOW_REC_LIT_K(h, r, &k[FRK_EVENT_CATEGORY], "network");
    ns_key_array(h, r, &k[FRK_EVENT_TYPE]);
    FLOW_REC_LIT(h, r, NULL, "connection");
    if (type2 != NULL)
        h->rec_add_str(r, NULL, type2, type2_len);
    h->rec_end(r);
    ns_key_str(h, r, &k[FRK_EVENT_ACTION], action, action_len);
    ns_key_time(h, r, &k[FRK_EVENT_START], start);
    ns_key_time(h, r, &k[FRK_EVENT_END], end);
    ns_key_uint(h, r, &k[FRK_EVENT_DURATION], end - start);
}

/* The same with NUL-terminated type2 (or NULL) and action. */
static inline void flow_rec_add_event(const struct ns_host *h, struct ns_record *r,
                                      const char *type2, const char *action, uint64_t start,
                                      uint64_t end)
{
    flow_rec_add_event_n(h, r, type2, type2 != NULL ? strlen(type2) : 0, action, strlen(action),
                         start, end);
}

/*
 * source.{ip,port,mac,bytes,packets}, the same for destination, then
 * network.{bytes,packets,transport,iana_number,type}.
 */
static inline void flow_rec_add_ends(const struct ns_host *h, struct ns_record *r,
                                     const struct flow_rec_ends *e)
{
    struct ns_key *k = flow_rec_keys;
    ns_keys_ready(h, k, FRK_N, &flow_rec_keys_ready);
    for (int i = 0; i < 2; i++) {
        const struct ns_key *ki = &k[i ? FRK_DST_IP : FRK_SRC_IP];
        flow_rec_add_ip_k(h, r, &ki[0], e->family, e->addr[i]);
        if (e->ports)
            ns_key_uint(h, r, &ki[1], e->port[i]);
        if (e->mac[i] != NULL)
            ns_key_mac(h, r, &ki[2], e->mac[i]);
        ns_key_uint(h, r, &ki[3], e->bytes[i]);
        ns_key_uint(h, r, &ki[4], e->pkts[i]);
    }
    ns_key_uint(h, r, &k[FRK_NET_BYTES], e->bytes[0] + e->bytes[1]);
    ns_key_uint(h, r, &k[FRK_NET_PACKETS], e->pkts[0] + e->pkts[1]);
    if (e->transport != NULL)
        ns_key_str(h, r, &k[FRK_NET_TRANSPORT], e->transport,
                   e->transport_len ? e->transport_len : strlen(e->transport));
    /* The protocol number as a string (ECS keyword), without snprintf: it
     * cost more than the rest of the field in the per-flow path. */
    char num[4], *p = num + sizeof(num);
    uint8_t v = e->proto;
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    ns_key_str(h, r, &k[FRK_NET_IANA], p, (size_t)(num + sizeof(num) - 1 - p));
    ns_key_str(h, r, &k[FRK_NET_TYPE], e->family == 4 ? "ipv4" : "ipv6", 4);
}

/*
 * netscope.flow.end_reason (reason_len bytes) and the four
 * netscope.flow.delta.* counts (what the flow carried since its last record;
 * the caller subtracts, as its counter types differ).
 */
static inline void flow_rec_add_deltas_n(const struct ns_host *h, struct ns_record *r,
                                         const char *reason, size_t reason_len, uint64_t src_bytes,
                                         uint64_t src_pkts, uint64_t dst_bytes, uint64_t dst_pkts)
{
    struct ns_key *k = flow_rec_keys;
    ns_keys_ready(h, k, FRK_N, &flow_rec_keys_ready);
    ns_key_str(h, r, &k[FRK_END_REASON], reason, reason_len);
    ns_key_uint(h, r, &k[FRK_DELTA_SRC_BYTES], src_bytes);
    ns_key_uint(h, r, &k[FRK_DELTA_SRC_PACKETS], src_pkts);
    ns_key_uint(h, r, &k[FRK_DELTA_DST_BYTES], dst_bytes);
    ns_key_uint(h, r, &k[FRK_DELTA_DST_PACKETS], dst_pkts);
}

/* The same with a NUL-terminated reason. */
static inline void flow_rec_add_deltas(const struct ns_host *h, struct ns_record *r,
                                       const char *reason, uint64_t src_bytes, uint64_t src_pkts,
                                       uint64_t dst_bytes, uint64_t dst_pkts)
{
    flow_rec_add_deltas_n(h, r, reason, strlen(reason), src_bytes, src_pkts, dst_bytes, dst_pkts);
}

#endif
