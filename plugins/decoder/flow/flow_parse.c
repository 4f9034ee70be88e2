/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_parse.c - stateless L2-L4 decoding for decoder/flow (see flow_parse.h).
 *
 * Layers: Ethernet (+ any stack of 802.1Q/802.1ad tags, bounded), Linux SLL and
 * SLL2, BSD NULL/LOOP, raw IP, PPP, PPPoE, Cisco HDLC; MPLS; ARP; IPv4 (options
 * skipped, fragments flagged); IP-in-IP, GRE and ERSPAN decapsulated (bounded);
 * IPv6 (hop-by-hop, routing, fragment, destination options, AH, mobility walked,
 * bounded); TCP, UDP, SCTP ports, ICMP and ICMPv6 type/code/echo id.
 * Runs on the decoder's worker thread (and in tests/fuzzers); holds no state.
 */
#include "flow_parse.h"

#include <string.h>

static const char *const flow_err_names[] = {
#define FLOW_ERR_NAME(id, label) label,
    FLOW_ERR_LIST(FLOW_ERR_NAME)
#undef FLOW_ERR_NAME
};

const char *flow_err_name(enum flow_err err)
{
    if ((unsigned)err >= FLOW_ERR_COUNT)
        return "unknown";
    return flow_err_names[err];
}

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static enum flow_pkt_kind flow_fail(struct flow_pkt *out, enum flow_err err)
{
    out->kind = FLOW_PKT_ERROR;
    out->err = err;
    return FLOW_PKT_ERROR;
}

static enum flow_pkt_kind flow_parse_tunnel(const uint8_t *p, uint32_t cap, struct flow_pkt *out);
static enum flow_pkt_kind flow_parse_ether(const uint8_t *p, uint32_t cap, struct flow_pkt *out);
static enum flow_pkt_kind flow_parse_ethertype(uint16_t type, const uint8_t *p, uint32_t cap,
                                               struct flow_pkt *out);

/* L4 of an IP packet: `p` points at the transport header, `cap` bytes captured of
 * it, `len` bytes of it according to the IP header. A bad L4 header leaves the IP
 * part valid (kind IP) with has_l4 false and err set, so the caller can count it. */
static enum flow_pkt_kind flow_parse_l4(const uint8_t *p, uint32_t cap, uint32_t len,
                                        struct flow_pkt *out)
{
    out->kind = FLOW_PKT_IP;
    switch (out->proto) {
    case FLOW_IPPROTO_TCP: {
        if (cap < 20) {
            out->err = FLOW_ERR_TRUNCATED_TCP;
            return FLOW_PKT_IP;
        }
        uint32_t hl = (uint32_t)(p[12] >> 4) * 4;
        /* A data offset below 5 words or beyond the segment is a lie we cannot
         * use to find the payload: count it, do not track it. */
        if (hl < 20 || hl > len) {
            out->err = FLOW_ERR_BAD_TCP_HEADER_LEN;
            return FLOW_PKT_IP;
        }
        out->sport = rd16(p);
        out->dport = rd16(p + 2);
        out->tcp_seq = rd32(p + 4);
        out->tcp_ack = rd32(p + 8);
        out->tcp_flags = p[13];
        out->l4_payload = len - hl;
        if (cap > hl) {
            out->payload = p + hl;
            out->payload_cap = cap - hl < len - hl ? cap - hl : len - hl;
        }
        out->has_l4 = true;
        return FLOW_PKT_IP;
    }
    case FLOW_IPPROTO_UDP: {
        if (cap < 8) {
            out->err = FLOW_ERR_TRUNCATED_UDP;
            return FLOW_PKT_IP;
        }
        uint16_t ulen = rd16(p + 4);
        /* UDP length 0 is legal only in IPv6 jumbograms; below 8 is malformed.
         * A length larger than the IP payload is malformed too, except in a
         * first fragment. */
        /* In a first fragment the UDP length covers the whole datagram. */
        if (ulen < 8 || (ulen > len && !out->is_frag)) {
            out->err = FLOW_ERR_BAD_UDP_LEN;
            return FLOW_PKT_IP;
        }
        out->sport = rd16(p);
        out->dport = rd16(p + 2);
        out->l4_payload = (uint32_t)ulen - 8;
        uint32_t avail = cap < len ? cap : len;
        if (avail > 8) {
            /* Ethernet padding lies beyond the UDP length: never hand it on. */
            out->payload = p + 8;
            out->payload_cap = avail - 8 < out->l4_payload ? avail - 8 : out->l4_payload;
        }
        out->has_l4 = true;
        return FLOW_PKT_IP;
    }
    case FLOW_IPPROTO_SCTP:
        if (cap < 12) {
            out->err = FLOW_ERR_TRUNCATED_SCTP;
            return FLOW_PKT_IP;
        }
        out->sport = rd16(p);
        out->dport = rd16(p + 2);
        out->l4_payload = len - 12;
        out->has_l4 = true;
        return FLOW_PKT_IP;
    case FLOW_IPPROTO_ICMP:
    case FLOW_IPPROTO_ICMPV6:
        if (cap < 4) {
            out->err = FLOW_ERR_TRUNCATED_ICMP;
            return FLOW_PKT_IP;
        }
        out->icmp_type = p[0];
        out->icmp_code = p[1];
        /* Echo request/reply carry an identifier that ties both directions of
         * one ping session together (it becomes part of the flow key). */
        if (cap >= 8 && ((out->proto == FLOW_IPPROTO_ICMP && (p[0] == 0 || p[0] == 8)) ||
                         (out->proto == FLOW_IPPROTO_ICMPV6 && (p[0] == 128 || p[0] == 129))))
            out->icmp_id = rd16(p + 4);
        out->has_l4 = true;
        return FLOW_PKT_IP;
    case 4:  /* IPv4 in IP */
    case 41: /* IPv6 in IP */
    case 47: /* GRE */
        /* Decapsulate so the flow is the inner conversation (as tshark and
         * Zeek report it). A fragmented outer packet carries a partial inner
         * one: keep it as an outer flow. */
        if (out->is_frag)
            return FLOW_PKT_IP;
        return flow_parse_tunnel(p, cap, out);
    default:
        return FLOW_PKT_IP; /* tracked by addresses and protocol only */
    }
}

/* Inner packet of an IP-in-IP or GRE tunnel at `p`. On success the L3/L4 fields
 * describe the inner packet and out->tunnel says how it was carried; when the
 * payload is not something we track (GRE version 1/PPTP, other protocols, ARP
 * inside), the outer packet stays the flow. */
static enum flow_pkt_kind flow_parse_tunnel(const uint8_t *p, uint32_t cap, struct flow_pkt *out)
{
    if (out->encap >= FLOW_MAX_ENCAP)
        return flow_fail(out, FLOW_ERR_TUNNEL_DEPTH);
    uint16_t etype;
    uint32_t off = 0;
    uint8_t kind = FLOW_TUNNEL_IPIP;
    if (out->proto == 47) {
        kind = FLOW_TUNNEL_GRE;
        if (cap < 4)
            return flow_fail(out, FLOW_ERR_TRUNCATED_GRE);
        uint16_t fl = rd16(p);
        etype = rd16(p + 2);
        if ((fl & 0x0007) != 0 || (fl & 0x4000) != 0)
            return FLOW_PKT_IP; /* version 1 (PPTP) or source routing: outer flow */
        off = 4 + ((fl & 0x8000) ? 4 : 0) + ((fl & 0x2000) ? 4 : 0) + ((fl & 0x1000) ? 4 : 0);
        if (etype == 0x88be) { /* ERSPAN type II: 8-byte header, then Ethernet */
            off += 8;
            kind = FLOW_TUNNEL_ERSPAN;
        } else if (etype == 0x22eb) { /* ERSPAN type III: 12 (+8 platform) bytes */
            if (cap >= off + 12 && (p[off + 11] & 1))
                off += 8;
            off += 12;
            kind = FLOW_TUNNEL_ERSPAN;
        }
        if (cap < off)
            return flow_fail(out, FLOW_ERR_TRUNCATED_GRE);
    } else {
        etype = out->proto == 4 ? 0x0800 : 0x86dd;
    }
    if (etype != 0x0800 && etype != 0x86dd && etype != 0x6558 && etype != 0x8847 &&
        etype != 0x88be && etype != 0x22eb)
        return FLOW_PKT_IP;
    struct flow_pkt outer = *out;
    /* Fresh L3/L4 state for the inner packet; L2 stays unless an inner
     * Ethernet header replaces it. */
    out->family = out->proto = 0;
    out->ip_len = 0;
    out->ip_len0 = out->is_frag = out->frag_more = out->has_l4 = false;
    out->frag_offset = 0;
    out->frag_id = 0;
    out->frag_data = NULL;
    out->frag_len = out->frag_cap = 0;
    out->frag_nh = 0;
    out->sport = out->dport = 0;
    out->tcp_flags = 0;
    out->tcp_seq = out->tcp_ack = out->l4_payload = 0;
    out->payload = NULL;
    out->payload_cap = 0;
    out->icmp_type = out->icmp_code = 0;
    out->icmp_id = 0;
    out->err = FLOW_ERR_NONE;
    out->encap++;
    out->tunnel = kind;
    enum flow_pkt_kind k;
    if (etype == 0x6558 || etype == 0x88be || etype == 0x22eb) {
        out->vlan_count = 0;
        out->vlan[0] = out->vlan[1] = 0;
        k = flow_parse_ether(p + off, cap - off, out);
    } else {
        k = flow_parse_ethertype(etype, p + off, cap - off, out);
    }
    if (k == FLOW_PKT_IP || k == FLOW_PKT_ERROR)
        return k;
    *out = outer; /* ARP or something untracked inside: account the outer packet */
    return FLOW_PKT_IP;
}

static enum flow_pkt_kind flow_parse_ipv4(const uint8_t *p, uint32_t cap, struct flow_pkt *out)
{
    if (cap < 20)
        return flow_fail(out, FLOW_ERR_TRUNCATED_IPV4);
    if ((p[0] >> 4) != 4)
        return flow_fail(out, FLOW_ERR_BAD_IP_VERSION);
    uint32_t hl = (uint32_t)(p[0] & 0x0f) * 4;
    if (hl < 20)
        return flow_fail(out, FLOW_ERR_BAD_IPV4_HEADER_LEN);
    if (hl > cap)
        return flow_fail(out, FLOW_ERR_TRUNCATED_IPV4);
    uint32_t tot = rd16(p + 2);
    /* Total length 0 is what a capture on a host doing TCP segmentation
     * offload shows for super-frames: like Wireshark, take the captured
     * length instead (flagged, counted). Other lengths below the header
     * length are unusable. */
    if (tot == 0) {
        out->ip_len0 = true;
        tot = cap;
    }
    if (tot < hl)
        return flow_fail(out, FLOW_ERR_BAD_IPV4_TOTAL_LEN);
    out->family = 4;
    out->proto = p[9];
    /* Each address is written as one 16-byte store, zero past its 4 bytes:
     * the flow key reads it back as wide words right after, and a load
     * spanning a narrow store and older ones waits for them to retire (no
     * store forwarding). The zeros matter for IPv4 inside an IPv6 tunnel: the
     * outer header wrote all 16 bytes, and the key and device inventory must
     * not depend on them. */
    uint8_t a[16] = {0};
    memcpy(a, p + 12, 4);
    memcpy(out->src, a, 16);
    memcpy(a, p + 16, 4);
    memcpy(out->dst, a, 16);
    out->ip_len = tot;
    uint16_t fo = rd16(p + 6);
    out->frag_more = (fo & 0x2000) != 0;
    out->frag_offset = fo & 0x1fff;
    out->frag_id = rd16(p + 4);
    out->is_frag = out->frag_more || out->frag_offset != 0;
    out->kind = FLOW_PKT_IP;
    /* Bound L4 by what the header claims (Ethernet padding follows it) and by
     * what was captured (snaplen may cut it). */
    uint32_t avail = cap < tot ? cap : tot;
    if (out->is_frag) {
        out->frag_data = p + hl;
        out->frag_len = tot - hl;
        out->frag_cap = avail - hl;
        out->frag_nh = out->proto;
    }
    if (out->frag_offset != 0)
        return FLOW_PKT_IP; /* no L4 header in a non-first fragment */
    return flow_parse_l4(p + hl, avail - hl, tot - hl, out);
}

static enum flow_pkt_kind flow_parse_ipv6(const uint8_t *p, uint32_t cap, struct flow_pkt *out)
{
    if (cap < 40)
        return flow_fail(out, FLOW_ERR_TRUNCATED_IPV6);
    if ((p[0] >> 4) != 6)
        return flow_fail(out, FLOW_ERR_BAD_IP_VERSION);
    uint32_t plen = rd16(p + 4);
    uint8_t nh = p[6];
    out->family = 6;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    out->ip_len = 40 + plen;
    uint32_t tot = 40 + plen;
    uint32_t avail = cap < tot ? cap : tot;
    uint32_t off = 40;
    for (int depth = 0;; depth++) {
        uint32_t hlen;
        switch (nh) {
        case 0:   /* hop-by-hop options */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
            if (depth >= FLOW_MAX_IPV6_EXT)
                return flow_fail(out, FLOW_ERR_IPV6_EXT_DEPTH);
            if (avail < off + 8)
                return flow_fail(out, FLOW_ERR_TRUNCATED_IPV6_EXT);
            hlen = ((uint32_t)p[off + 1] + 1) * 8;
            break;
        case 51: /* AH: length in 4-byte units minus 2 */
            if (depth >= FLOW_MAX_IPV6_EXT)
                return flow_fail(out, FLOW_ERR_IPV6_EXT_DEPTH);
            if (avail < off + 8)
                return flow_fail(out, FLOW_ERR_TRUNCATED_IPV6_EXT);
            hlen = ((uint32_t)p[off + 1] + 2) * 4;
            break;
        case 44: { /* fragment */
            if (depth >= FLOW_MAX_IPV6_EXT)
                return flow_fail(out, FLOW_ERR_IPV6_EXT_DEPTH);
            if (avail < off + 8)
                return flow_fail(out, FLOW_ERR_TRUNCATED_IPV6_EXT);
            uint16_t fo = rd16(p + off + 2);
            out->is_frag = true;
            out->frag_offset = fo >> 3;
            out->frag_more = (fo & 1) != 0;
            out->frag_id = rd32(p + off + 4);
            out->frag_data = p + off + 8;
            out->frag_len = tot - (off + 8);
            out->frag_cap = avail - (off + 8);
            out->frag_nh = p[off];
            hlen = 8;
            break;
        }
        default:
            out->proto = nh;
            out->kind = FLOW_PKT_IP;
            if (out->is_frag && out->frag_offset != 0)
                return FLOW_PKT_IP;
            return flow_parse_l4(p + off, avail - off, tot - off, out);
        }
        if (hlen > avail - off)
            return flow_fail(out, FLOW_ERR_TRUNCATED_IPV6_EXT);
        nh = p[off];
        off += hlen;
        if (nh == 44 && out->is_frag)
            return flow_fail(out, FLOW_ERR_BAD_FRAGMENT); /* two fragment headers */
    }
}

/* Ethernet/IPv4 ARP. Other hardware/protocol pairs are valid but untracked. */
static enum flow_pkt_kind flow_parse_arp(const uint8_t *p, uint32_t cap, struct flow_pkt *out)
{
    if (cap < 8)
        return flow_fail(out, FLOW_ERR_TRUNCATED_ARP);
    uint16_t htype = rd16(p), ptype = rd16(p + 2);
    uint8_t hlen = p[4], plen = p[5];
    if (htype != 1 || ptype != 0x0800) {
        out->kind = FLOW_PKT_OTHER;
        return FLOW_PKT_OTHER;
    }
    if (hlen != 6 || plen != 4)
        return flow_fail(out, FLOW_ERR_BAD_ARP);
    if (cap < 28)
        return flow_fail(out, FLOW_ERR_TRUNCATED_ARP);
    out->arp.op = rd16(p + 6);
    memcpy(out->arp.sha, p + 8, 6);
    memcpy(out->arp.spa, p + 14, 4);
    memcpy(out->arp.tha, p + 18, 6);
    memcpy(out->arp.tpa, p + 24, 4);
    out->kind = FLOW_PKT_ARP;
    return FLOW_PKT_ARP;
}

static bool flow_is_vlan_tpid(uint16_t t)
{
    return t == 0x8100 || t == 0x88a8 || t == 0x9100 || t == 0x9200;
}

/* IP by version nibble (after MPLS, in raw-IP link types). */
static enum flow_pkt_kind flow_parse_ip_guess(const uint8_t *p, uint32_t cap, struct flow_pkt *out)
{
    if (cap < 1)
        return flow_fail(out, FLOW_ERR_TRUNCATED_IPV4);
    switch (p[0] >> 4) {
    case 4:
        return flow_parse_ipv4(p, cap, out);
    case 6:
        return flow_parse_ipv6(p, cap, out);
    default:
        return flow_fail(out, FLOW_ERR_BAD_IP_VERSION);
    }
}

/* PPP protocol field: IPv4 and IPv6 are tracked, control protocols are not. */
static enum flow_pkt_kind flow_parse_ppp_proto(uint16_t proto, const uint8_t *p, uint32_t cap,
                                               struct flow_pkt *out)
{
    if (proto == 0x0021)
        return flow_parse_ipv4(p, cap, out);
    if (proto == 0x0057)
        return flow_parse_ipv6(p, cap, out);
    out->kind = FLOW_PKT_OTHER;
    return FLOW_PKT_OTHER;
}

/* Dispatch on an EtherType at `p` (after the link header): VLAN tags (any
 * stack, bounded), MPLS labels (bounded), PPPoE sessions, IPv4, IPv6, ARP. */
static enum flow_pkt_kind flow_parse_ethertype(uint16_t type, const uint8_t *p, uint32_t cap,
                                               struct flow_pkt *out)
{
    uint32_t off = 0;
    while (flow_is_vlan_tpid(type)) {
        if (out->vlan_count >= FLOW_MAX_VLAN_DEPTH)
            return flow_fail(out, FLOW_ERR_VLAN_DEPTH);
        if (cap < off + 4)
            return flow_fail(out, FLOW_ERR_TRUNCATED_L2);
        if (out->vlan_count < 2)
            out->vlan[out->vlan_count] = rd16(p + off) & 0x0fff;
        out->vlan_count++;
        type = rd16(p + off + 2);
        off += 4;
    }
    p += off;
    cap -= off;
    switch (type) {
    case 0x0800:
        return flow_parse_ipv4(p, cap, out);
    case 0x86dd:
        return flow_parse_ipv6(p, cap, out);
    case 0x0806:
        return flow_parse_arp(p, cap, out);
    case 0x8847: /* MPLS unicast */
    case 0x8848: /* MPLS multicast */
        for (uint32_t n = 0;; n++) {
            if (n >= FLOW_MAX_MPLS_LABELS)
                return flow_fail(out, FLOW_ERR_MPLS_DEPTH);
            if (cap < 4 * n + 4)
                return flow_fail(out, FLOW_ERR_TRUNCATED_MPLS);
            if (p[4 * n + 2] & 1) { /* bottom of stack */
                off = 4 * n + 4;
                break;
            }
        }
        /* No protocol field after the labels: IP is recognised by its version
         * nibble; anything else (pseudowires) is untracked. */
        if (cap > off && ((p[off] >> 4) == 4 || (p[off] >> 4) == 6))
            return flow_parse_ip_guess(p + off, cap - off, out);
        out->kind = FLOW_PKT_OTHER;
        return FLOW_PKT_OTHER;
    case 0x8864: /* PPPoE session: 6-byte header, 2-byte PPP protocol */
        if (cap < 8)
            return flow_fail(out, FLOW_ERR_TRUNCATED_PPP);
        return flow_parse_ppp_proto(rd16(p + 6), p + 8, cap - 8, out);
    default:
        out->kind = FLOW_PKT_OTHER;
        return FLOW_PKT_OTHER;
    }
}

static enum flow_pkt_kind flow_parse_ether(const uint8_t *p, uint32_t cap, struct flow_pkt *out)
{
    if (cap < 14)
        return flow_fail(out, FLOW_ERR_TRUNCATED_L2);
    memcpy(out->dst_mac, p, 6);
    memcpy(out->src_mac, p + 6, 6);
    out->has_src_mac = out->has_dst_mac = true;
    uint16_t type = rd16(p + 12);
    if (type < 0x0600) { /* 802.3 length field: LLC/SNAP (STP, CDP, ...) */
        out->kind = FLOW_PKT_OTHER;
        return FLOW_PKT_OTHER;
    }
    return flow_parse_ethertype(type, p + 14, cap - 14, out);
}

enum flow_pkt_kind flow_parse(const uint8_t *data, uint32_t caplen, uint32_t linktype,
                              struct flow_pkt *out)
{
    memset(out, 0, sizeof(*out));
    if (data == NULL)
        caplen = 0;
    switch (linktype) {
    case FLOW_DLT_EN10MB:
        return flow_parse_ether(data, caplen, out);
    case FLOW_DLT_RAW:
    case FLOW_DLT_RAW_OPENBSD:
    case FLOW_DLT_LINKTYPE_RAW:
        return flow_parse_ip_guess(data, caplen, out);
    case FLOW_DLT_IPV4:
        return flow_parse_ipv4(data, caplen, out);
    case FLOW_DLT_IPV6:
        return flow_parse_ipv6(data, caplen, out);
    case FLOW_DLT_NULL:
    case FLOW_DLT_LOOP: {
        if (caplen < 4)
            return flow_fail(out, FLOW_ERR_TRUNCATED_L2);
        /* DLT_NULL stores the address family in the capturing host's byte
         * order, DLT_LOOP in network order: accept either. IPv6 is 24, 28 or
         * 30 depending on the BSD. */
        uint32_t be = rd32(data);
        uint32_t le = (uint32_t)data[0] | ((uint32_t)data[1] << 8) | ((uint32_t)data[2] << 16) |
                      ((uint32_t)data[3] << 24);
        uint32_t af = be < 256 ? be : le;
        if (af == 2)
            return flow_parse_ipv4(data + 4, caplen - 4, out);
        if (af == 24 || af == 28 || af == 30 || af == 10)
            return flow_parse_ipv6(data + 4, caplen - 4, out);
        out->kind = FLOW_PKT_OTHER;
        return FLOW_PKT_OTHER;
    }
    case FLOW_DLT_LINUX_SLL: {
        if (caplen < 16)
            return flow_fail(out, FLOW_ERR_TRUNCATED_L2);
        uint16_t hatype = rd16(data + 2), alen = rd16(data + 4);
        if (hatype == 1 && alen == 6) {
            memcpy(out->src_mac, data + 6, 6);
            out->has_src_mac = true;
        }
        return flow_parse_ethertype(rd16(data + 14), data + 16, caplen - 16, out);
    }
    case FLOW_DLT_LINUX_SLL2: {
        if (caplen < 20)
            return flow_fail(out, FLOW_ERR_TRUNCATED_L2);
        uint16_t hatype = rd16(data + 8);
        if (hatype == 1 && data[11] == 6) {
            memcpy(out->src_mac, data + 12, 6);
            out->has_src_mac = true;
        }
        return flow_parse_ethertype(rd16(data), data + 20, caplen - 20, out);
    }
    case FLOW_DLT_PPP:
    case FLOW_DLT_PPP_SERIAL: {
        /* Address 0xff and control 0x03 may be compressed away. */
        uint32_t off = (caplen >= 2 && data[0] == 0xff && data[1] == 0x03) ? 2 : 0;
        if (caplen < off + 2)
            return flow_fail(out, FLOW_ERR_TRUNCATED_PPP);
        return flow_parse_ppp_proto(rd16(data + off), data + off + 2, caplen - off - 2, out);
    }
    case FLOW_DLT_PPP_ETHER: /* PPPoE without the Ethernet header */
        if (caplen < 8)
            return flow_fail(out, FLOW_ERR_TRUNCATED_PPP);
        return flow_parse_ppp_proto(rd16(data + 6), data + 8, caplen - 8, out);
    case FLOW_DLT_C_HDLC: /* address, control, EtherType */
        if (caplen < 4)
            return flow_fail(out, FLOW_ERR_TRUNCATED_L2);
        return flow_parse_ethertype(rd16(data + 2), data + 4, caplen - 4, out);
    default:
        return flow_fail(out, FLOW_ERR_UNKNOWN_LINKTYPE);
    }
}
