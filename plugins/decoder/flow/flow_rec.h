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
 */
#ifndef FLOW_REC_H
#define FLOW_REC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "netscope/netscope.h"

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
    const char *transport; /* network.transport; NULL: left out */
};

/* A string literal value: its length is known, no strlen per field. */
#define FLOW_REC_LIT(h, r, key, lit) (h)->rec_add_str((r), (key), (lit), sizeof(lit) - 1)

/* Adds address a (4 or 16 bytes by family) as an IP field named key. */
static inline void flow_rec_add_ip(const struct ns_host *h, struct ns_record *r, const char *key,
                                   uint8_t family, const uint8_t *a)
{
    struct ns_ip ip;
    memset(&ip, 0, sizeof(ip));
    ip.family = family;
    memcpy(ip.a, a, family == 4 ? 4 : 16);
    h->rec_add_ip(r, key, &ip);
}

/*
 * The head: event.kind "event", event.category "network", event.type
 * ["connection", type2 (if not NULL)], event.action, event.start, event.end
 * and event.duration (end - start, ns).
 */
static inline void flow_rec_add_event(const struct ns_host *h, struct ns_record *r,
                                      const char *type2, const char *action, uint64_t start,
                                      uint64_t end)
{
    FLOW_REC_LIT(h, r, "event.kind", "event");
    FLOW_REC_LIT(h, r, "event.category", "network");
    h->rec_begin_array(r, "event.type");
    FLOW_REC_LIT(h, r, NULL, "connection");
    if (type2 != NULL)
        h->rec_add_cstr(r, NULL, type2);
    h->rec_end(r);
    h->rec_add_cstr(r, "event.action", action);
    h->rec_add_time(r, "event.start", start);
    h->rec_add_time(r, "event.end", end);
    h->rec_add_uint(r, "event.duration", end - start);
}

/*
 * source.{ip,port,mac,bytes,packets}, the same for destination, then
 * network.{bytes,packets,transport,iana_number,type}.
 */
static inline void flow_rec_add_ends(const struct ns_host *h, struct ns_record *r,
                                     const struct flow_rec_ends *e)
{
    static const char *const keys[2][5] = {
        {"source.ip", "source.port", "source.mac", "source.bytes", "source.packets"},
        {"destination.ip", "destination.port", "destination.mac", "destination.bytes",
         "destination.packets"}};
    for (int i = 0; i < 2; i++) {
        flow_rec_add_ip(h, r, keys[i][0], e->family, e->addr[i]);
        if (e->ports)
            h->rec_add_uint(r, keys[i][1], e->port[i]);
        if (e->mac[i] != NULL)
            h->rec_add_mac(r, keys[i][2], e->mac[i]);
        h->rec_add_uint(r, keys[i][3], e->bytes[i]);
        h->rec_add_uint(r, keys[i][4], e->pkts[i]);
    }
    h->rec_add_uint(r, "network.bytes", e->bytes[0] + e->bytes[1]);
    h->rec_add_uint(r, "network.packets", e->pkts[0] + e->pkts[1]);
    if (e->transport != NULL)
        h->rec_add_cstr(r, "network.transport", e->transport);
    /* The protocol number as a string (ECS keyword), without snprintf: it
     * cost more than the rest of the field in the per-flow path. */
    char num[4], *p = num + sizeof(num);
    uint8_t v = e->proto;
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    h->rec_add_str(r, "network.iana_number", p, (size_t)(num + sizeof(num) - 1 - p));
    h->rec_add_str(r, "network.type", e->family == 4 ? "ipv4" : "ipv6", 4);
}

/*
 * netscope.flow.end_reason and the four netscope.flow.delta.* counts (what
 * the flow carried since its last record; the caller subtracts, as its
 * counter types differ).
 */
static inline void flow_rec_add_deltas(const struct ns_host *h, struct ns_record *r,
                                       const char *reason, uint64_t src_bytes, uint64_t src_pkts,
                                       uint64_t dst_bytes, uint64_t dst_pkts)
{
    h->rec_add_cstr(r, "netscope.flow.end_reason", reason);
    h->rec_add_uint(r, "netscope.flow.delta.source.bytes", src_bytes);
    h->rec_add_uint(r, "netscope.flow.delta.source.packets", src_pkts);
    h->rec_add_uint(r, "netscope.flow.delta.destination.bytes", dst_bytes);
    h->rec_add_uint(r, "netscope.flow.delta.destination.packets", dst_pkts);
}

#endif
