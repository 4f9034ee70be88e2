/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_parse.h - stateless L2-L4 packet parser for the flow decoder.
 *
 * Pure code: no core headers, no allocation, no globals. flow_parse() turns one
 * captured frame (link type + bytes) into a struct flow_pkt describing the
 * addresses, ports, TCP header fields, ICMP type/code and fragment info the flow
 * table needs. Called by the decoder/flow plugin on its worker thread, by the unit
 * tests and by the libFuzzer target; safe on any input (every read is bounded).
 */
#ifndef NS_FLOW_PARSE_H
#define NS_FLOW_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* libpcap DLT_* numbers we decode (kept here so the pure code needs no pcap.h). */
#define FLOW_DLT_NULL 0
#define FLOW_DLT_EN10MB 1
#define FLOW_DLT_RAW 12
#define FLOW_DLT_RAW_OPENBSD 14
#define FLOW_DLT_LINKTYPE_RAW 101
#define FLOW_DLT_LOOP 108
#define FLOW_DLT_LINUX_SLL 113
#define FLOW_DLT_IPV4 228
#define FLOW_DLT_IPV6 229
#define FLOW_DLT_LINUX_SLL2 276
#define FLOW_DLT_PPP 9
#define FLOW_DLT_PPP_SERIAL 50
#define FLOW_DLT_PPP_ETHER 51
#define FLOW_DLT_C_HDLC 104

/* Bounds on nesting: deeper stacks are counted as errors, not walked. */
#define FLOW_MAX_VLAN_DEPTH 8
#define FLOW_MAX_IPV6_EXT 8
#define FLOW_MAX_MPLS_LABELS 8
#define FLOW_MAX_ENCAP 3 /* nested IP-in-IP / GRE tunnels */

/* How the tracked packet was carried (flow_pkt.tunnel). */
#define FLOW_TUNNEL_NONE 0
#define FLOW_TUNNEL_IPIP 1
#define FLOW_TUNNEL_GRE 2
#define FLOW_TUNNEL_ERSPAN 3

/* TCP flag bits as on the wire (low byte of the flags field). */
#define FLOW_TCP_FIN 0x01
#define FLOW_TCP_SYN 0x02
#define FLOW_TCP_RST 0x04
#define FLOW_TCP_PSH 0x08
#define FLOW_TCP_ACK 0x10
#define FLOW_TCP_URG 0x20
#define FLOW_TCP_ECE 0x40
#define FLOW_TCP_CWR 0x80

/* IP protocol numbers used by the parser and the table. */
#define FLOW_IPPROTO_ICMP 1
#define FLOW_IPPROTO_TCP 6
#define FLOW_IPPROTO_UDP 17
#define FLOW_IPPROTO_ICMPV6 58
#define FLOW_IPPROTO_SCTP 132

/*
 * Why a frame was not (fully) decoded. Each value names one counter label
 * (decode_errors_total{reason="..."}); FLOW_ERR_NONE means decoded. The X-macro
 * keeps the enum and the label strings in one place.
 */
#define FLOW_ERR_LIST(X)                                                                           \
    X(NONE, "none")                                                                                \
    X(UNKNOWN_LINKTYPE, "unknown_linktype")                                                        \
    X(TRUNCATED_L2, "truncated_l2")                                                                \
    X(VLAN_DEPTH, "vlan_depth")                                                                    \
    X(TRUNCATED_ARP, "truncated_arp")                                                              \
    X(BAD_ARP, "bad_arp")                                                                          \
    X(TRUNCATED_IPV4, "truncated_ipv4")                                                            \
    X(BAD_IP_VERSION, "bad_ip_version")                                                            \
    X(BAD_IPV4_HEADER_LEN, "bad_ipv4_header_len")                                                  \
    X(BAD_IPV4_TOTAL_LEN, "bad_ipv4_total_len")                                                    \
    X(TRUNCATED_IPV6, "truncated_ipv6")                                                            \
    X(TRUNCATED_IPV6_EXT, "truncated_ipv6_ext")                                                    \
    X(IPV6_EXT_DEPTH, "ipv6_ext_depth")                                                            \
    X(BAD_FRAGMENT, "bad_fragment")                                                                \
    X(TRUNCATED_TCP, "truncated_tcp")                                                              \
    X(BAD_TCP_HEADER_LEN, "bad_tcp_header_len")                                                    \
    X(TRUNCATED_UDP, "truncated_udp")                                                              \
    X(BAD_UDP_LEN, "bad_udp_len")                                                                  \
    X(TRUNCATED_ICMP, "truncated_icmp")                                                            \
    X(TRUNCATED_SCTP, "truncated_sctp")                                                            \
    X(TRUNCATED_MPLS, "truncated_mpls")                                                            \
    X(MPLS_DEPTH, "mpls_depth")                                                                    \
    X(TRUNCATED_PPP, "truncated_ppp")                                                              \
    X(TRUNCATED_GRE, "truncated_gre")                                                              \
    X(TUNNEL_DEPTH, "tunnel_depth")

enum flow_err {
#define FLOW_ERR_ENUM(id, label) FLOW_ERR_##id,
    FLOW_ERR_LIST(FLOW_ERR_ENUM)
#undef FLOW_ERR_ENUM
        FLOW_ERR_COUNT
};

/* What the frame carried. */
enum flow_pkt_kind {
    FLOW_PKT_ERROR = 0, /* malformed: see flow_pkt.err                         */
    FLOW_PKT_OTHER,     /* a valid frame we do not track (LLDP, STP, IPX, ...)  */
    FLOW_PKT_ARP,       /* an Ethernet/IPv4 ARP message: see flow_pkt.arp       */
    FLOW_PKT_IP,        /* IPv4/IPv6: addresses, proto, maybe ports             */
};

/* One decoded frame. Addresses are in network byte order; IPv4 uses a[0..3]. */
struct flow_pkt {
    enum flow_pkt_kind kind;
    enum flow_err err; /* set with kind ERROR, and for an IP packet whose L4
                          header was bad (kind IP, has_l4 false)              */
    /* L2 */
    bool has_src_mac, has_dst_mac;
    uint8_t src_mac[6], dst_mac[6];
    uint8_t vlan_count; /* tags seen (<= FLOW_MAX_VLAN_DEPTH)                 */
    uint8_t tunnel;     /* FLOW_TUNNEL_*: the L3/L4 fields are the inner packet's */
    uint8_t encap;      /* tunnel layers removed (<= FLOW_MAX_ENCAP)           */
    uint16_t vlan[2];   /* outer, inner VLAN id (12 bits)                      */
    /* L3 */
    uint8_t family; /* 4 or 6                                              */
    uint8_t proto;  /* transport protocol (after IPv6 extension headers)   */
    uint8_t src[16], dst[16];
    uint32_t ip_len; /* bytes from the IP header to the end of the datagram
                        per the header (may exceed what was captured)       */
    bool ip_len0;    /* IPv4 total length was 0 (TSO): captured length used */
    /* fragments: is_frag when MF or offset != 0 (IPv4) or a fragment header
       (IPv6). Only the first fragment (frag_offset 0) carries L4 fields. */
    bool is_frag, frag_more;
    uint16_t frag_offset; /* in 8-byte units                                   */
    uint32_t frag_id;
    /* Any fragment: its data (after the IPv4 header / the IPv6 fragment
       header), frag_len bytes per the headers of which frag_cap were
       captured, and the protocol of the reassembled payload (IPv4 protocol,
       the IPv6 fragment header's next header). For reassembly. */
    const uint8_t *frag_data;
    uint32_t frag_len, frag_cap;
    uint8_t frag_nh;
    /* L4 */
    bool has_l4; /* ports / type fields below are valid                 */
    uint16_t sport, dport;
    uint8_t tcp_flags;
    uint32_t tcp_seq, tcp_ack;
    uint32_t l4_payload;    /* TCP/UDP payload bytes per the headers              */
    const uint8_t *payload; /* TCP/UDP payload in the frame (NULL if none)        */
    uint32_t payload_cap;   /* ... bytes of it captured (<= l4_payload)          */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id; /* echo identifier (echo request/reply only)           */
    /* ARP (kind ARP) */
    struct {
        uint16_t op;
        uint8_t sha[6], tha[6];
        uint8_t spa[4], tpa[4];
    } arp;
};

/*
 * Decode one frame of link type `linktype` (a DLT_* value) from `data`, of which
 * `caplen` bytes were captured. Fills *out completely and returns out->kind.
 * Never reads past data + caplen. Thread-safe (no state).
 */
enum flow_pkt_kind flow_parse(const uint8_t *data, uint32_t caplen, uint32_t linktype,
                              struct flow_pkt *out);

/* The counter label for an error ("truncated_ipv4"); "unknown" when out of range. */
const char *flow_err_name(enum flow_err err);

#endif
