/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_parse.c - Criterion tests of the pure L2-L4 parser (flow_parse.c):
 * good frames of every link type, and hostile ones (truncated at every length,
 * bogus header lengths, zero length, oversized, VLAN depth bomb, IPv6
 * extension-header chains). Run under ASan/UBSan, "no crash" is half the test.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "flow_parse.h"
#include "flow_testutil.h"

static uint8_t buf[70000];

Test(flow_parse, ether_ipv4_tcp)
{
    size_t n = tu_v4_tcp(buf, "10.0.0.1", "10.0.0.2", 1234, 80, 1000, 0, FLOW_TCP_SYN, 10);
    struct flow_pkt p;
    cr_assert_eq(flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert(p.has_l4);
    cr_assert_eq(p.err, FLOW_ERR_NONE);
    cr_assert_eq(p.family, 4);
    cr_assert_eq(p.proto, 6);
    cr_assert_eq(p.sport, 1234);
    cr_assert_eq(p.dport, 80);
    cr_assert_eq(p.tcp_seq, 1000);
    cr_assert_eq(p.tcp_flags, FLOW_TCP_SYN);
    cr_assert_eq(p.l4_payload, 10);
    cr_assert(p.has_src_mac && p.has_dst_mac);
    cr_assert_eq(p.src_mac[5], 1);
    cr_assert_eq(p.src[0], 10);
    cr_assert_eq(p.dst[3], 2);
}

/* Every prefix of a valid frame parses without reading past it, and L4 fields
 * are only reported once the whole L4 header is inside the prefix. */
static void check_prefixes(const uint8_t *frame, size_t n, uint32_t dlt, size_t l4_end)
{
    uint8_t *copy = malloc(n ? n : 1);
    for (size_t len = 0; len <= n; len++) {
        memcpy(copy, frame, len); /* exact-size heap copy: ASan catches overreads */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, frame, len);
        struct flow_pkt p;
        enum flow_pkt_kind k = flow_parse(exact, (uint32_t)len, dlt, &p);
        cr_assert(k == FLOW_PKT_ERROR || k == FLOW_PKT_IP || k == FLOW_PKT_OTHER ||
                  k == FLOW_PKT_ARP);
        if (k == FLOW_PKT_IP && p.has_l4)
            cr_assert_geq(len, l4_end, "L4 reported at length %zu < %zu", len, l4_end);
        if (k == FLOW_PKT_ERROR)
            cr_assert_neq(p.err, FLOW_ERR_NONE);
        cr_assert_str_neq(flow_err_name(p.err), "unknown");
        free(exact);
    }
    free(copy);
}

Test(flow_parse, truncated_at_every_length)
{
    size_t n = tu_v4_tcp(buf, "10.0.0.1", "10.0.0.2", 1, 2, 3, 4, FLOW_TCP_ACK, 0);
    check_prefixes(buf, n, FLOW_DLT_EN10MB, n);

    n = tu_v4_udp(buf, "10.0.0.1", "10.0.0.2", 53, 5353, 0);
    check_prefixes(buf, n, FLOW_DLT_EN10MB, n);

    /* QinQ + IPv6 + hop-by-hop + routing + destination options + UDP */
    size_t o = tu_eth(buf, 0x86dd, 2);
    size_t ip = o;
    o += tu_ipv6(buf + o, "2001:db8::1", "2001:db8::2", 0, 8 + 24 + 8 + 8);
    memset(buf + o, 0, 8); /* HBH, len 0 */
    buf[o] = 43;
    o += 8;
    memset(buf + o, 0, 24); /* routing, len 2 (24 bytes) */
    buf[o] = 60;
    buf[o + 1] = 2;
    o += 24;
    memset(buf + o, 0, 8); /* destination options */
    buf[o] = 17;
    o += 8;
    o += tu_udp(buf + o, 4000, 53, 0);
    check_prefixes(buf, o, FLOW_DLT_EN10MB, o);
    struct flow_pkt p;
    cr_assert_eq(flow_parse(buf, (uint32_t)o, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert(p.has_l4);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.dport, 53);
    cr_assert_eq(p.vlan_count, 2);
    cr_assert_eq(p.vlan[0], 100);
    cr_assert_eq(p.vlan[1], 101);
    /* The same datagram as raw IPv6. */
    check_prefixes(buf + ip, o - ip, FLOW_DLT_RAW, o - ip);

    /* ARP */
    o = tu_eth(buf, 0x0806, 0);
    uint8_t arp[28] = {0,  1, 8, 0, 6, 4, 0, 1, 2, 0, 0,  0, 0, 1,
                       10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2};
    memcpy(buf + o, arp, 28);
    check_prefixes(buf, o + 28, FLOW_DLT_EN10MB, o + 28);
    cr_assert_eq(flow_parse(buf, (uint32_t)(o + 28), FLOW_DLT_EN10MB, &p), FLOW_PKT_ARP);
    cr_assert_eq(p.arp.op, 1);
    cr_assert_eq(p.arp.tpa[3], 2);
}

Test(flow_parse, zero_length_and_null)
{
    static const uint32_t dlts[] = {FLOW_DLT_NULL,       FLOW_DLT_EN10MB,    FLOW_DLT_RAW,
                                    FLOW_DLT_LOOP,       FLOW_DLT_LINUX_SLL, FLOW_DLT_LINUX_SLL2,
                                    FLOW_DLT_IPV4,       FLOW_DLT_IPV6,      FLOW_DLT_LINKTYPE_RAW,
                                    FLOW_DLT_RAW_OPENBSD};
    for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
        struct flow_pkt p;
        cr_assert_eq(flow_parse(NULL, 100, dlts[i], &p), FLOW_PKT_ERROR);
        cr_assert_eq(flow_parse(buf, 0, dlts[i], &p), FLOW_PKT_ERROR);
    }
    struct flow_pkt p;
    cr_assert_eq(flow_parse(buf, 100, 9999, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_UNKNOWN_LINKTYPE);
}

Test(flow_parse, bogus_ipv4_lengths)
{
    struct flow_pkt p;
    size_t n = tu_v4_tcp(buf, "10.0.0.1", "10.0.0.2", 1, 2, 3, 4, FLOW_TCP_ACK, 0);
    buf[14] = 0x44; /* IHL 4 words */
    cr_assert_eq(flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_BAD_IPV4_HEADER_LEN);
    buf[14] = 0x4f; /* IHL 60 bytes, frame shorter than that */
    cr_assert_eq(flow_parse(buf, 14 + 40, FLOW_DLT_EN10MB, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_TRUNCATED_IPV4);
    buf[14] = 0x45;
    tu_put16(buf + 16, 0); /* total length 0: TSO, the captured length is used */
    cr_assert_eq(flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert(p.ip_len0 && p.has_l4);
    cr_assert_eq(p.ip_len, n - 14);
    tu_put16(buf + 16, 12); /* below the header length */
    cr_assert_eq(flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_BAD_IPV4_TOTAL_LEN);
    buf[14] = 0x65; /* version 6 in an IPv4 EtherType */
    cr_assert_eq(flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_BAD_IP_VERSION);
}

Test(flow_parse, bogus_l4_lengths)
{
    struct flow_pkt p;
    size_t n = tu_v4_tcp(buf, "10.0.0.1", "10.0.0.2", 1, 2, 3, 4, FLOW_TCP_ACK, 0);
    buf[14 + 20 + 12] = 3 << 4; /* data offset 12 bytes */
    cr_assert_eq(flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert(!p.has_l4);
    cr_assert_eq(p.err, FLOW_ERR_BAD_TCP_HEADER_LEN);
    buf[14 + 20 + 12] = 15 << 4; /* 60 bytes, segment is 20 */
    flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p);
    cr_assert_eq(p.err, FLOW_ERR_BAD_TCP_HEADER_LEN);

    n = tu_v4_udp(buf, "10.0.0.1", "10.0.0.2", 1, 2, 4);
    tu_put16(buf + 14 + 20 + 4, 4); /* UDP length below 8 */
    flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p);
    cr_assert_eq(p.err, FLOW_ERR_BAD_UDP_LEN);
    tu_put16(buf + 14 + 20 + 4, 400); /* beyond the IP payload */
    flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p);
    cr_assert_eq(p.err, FLOW_ERR_BAD_UDP_LEN);
}

Test(flow_parse, snaplen_cut_payload_uses_header_lengths)
{
    size_t n = tu_v4_tcp(buf, "10.0.0.1", "10.0.0.2", 1, 2, 3, 4, FLOW_TCP_ACK, 1400);
    struct flow_pkt p;
    cr_assert_eq(flow_parse(buf, 54, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert(p.has_l4);
    cr_assert_eq(p.l4_payload, 1400);
    (void)n;
}

Test(flow_parse, oversized_frame_bounded_by_ip_length)
{
    memset(buf, 0xee, sizeof(buf));
    size_t n = tu_v4_udp(buf, "10.0.0.1", "10.0.0.2", 1, 2, 10);
    struct flow_pkt p;
    /* 70000 captured bytes, IP says 38: trailing bytes are padding. */
    cr_assert_eq(flow_parse(buf, sizeof(buf), FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert(p.has_l4);
    cr_assert_eq(p.ip_len, 38);
    cr_assert_eq(p.l4_payload, 10);
    (void)n;
}

Test(flow_parse, vlan_depth_bomb)
{
    struct flow_pkt p;
    size_t o = tu_eth(buf, 0x0800, FLOW_MAX_VLAN_DEPTH);
    o += tu_ipv4(buf + o, "10.0.0.1", "10.0.0.2", 17, 8);
    o += tu_udp(buf + o, 1, 2, 0);
    cr_assert_eq(flow_parse(buf, (uint32_t)o, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert_eq(p.vlan_count, FLOW_MAX_VLAN_DEPTH);

    /* 2000 stacked tags: refused after the bound, without walking them all. */
    size_t len = tu_eth(buf, 0x0800, 2000);
    cr_assert_eq(flow_parse(buf, (uint32_t)len, FLOW_DLT_EN10MB, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_VLAN_DEPTH);
}

Test(flow_parse, ipv6_extension_chains)
{
    struct flow_pkt p;
    /* Nine hop-by-hop headers: over the bound. */
    size_t o = tu_ipv6(buf, "2001:db8::1", "2001:db8::2", 0, 9 * 8 + 8);
    for (int i = 0; i < 9; i++) {
        memset(buf + o, 0, 8);
        buf[o] = i < 8 ? 0 : 17;
        o += 8;
    }
    o += tu_udp(buf + o, 1, 2, 0);
    cr_assert_eq(flow_parse(buf, (uint32_t)o, FLOW_DLT_RAW, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_IPV6_EXT_DEPTH);

    /* An extension header claiming more bytes than the packet has. */
    o = tu_ipv6(buf, "2001:db8::1", "2001:db8::2", 60, 16);
    memset(buf + o, 0, 16);
    buf[o] = 17;
    buf[o + 1] = 200;
    cr_assert_eq(flow_parse(buf, (uint32_t)(o + 16), FLOW_DLT_RAW, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_TRUNCATED_IPV6_EXT);

    /* First fragment: ports known; UDP length covers the whole datagram. */
    o = tu_ipv6(buf, "2001:db8::1", "2001:db8::2", 44, 8 + 8 + 16);
    memset(buf + o, 0, 8);
    buf[o] = 17;
    tu_put16(buf + o + 2, 1); /* offset 0, M */
    tu_put32(buf + o + 4, 0xabcd);
    o += 8;
    o += tu_udp(buf + o, 5000, 53, 3000);
    cr_assert_eq(flow_parse(buf, (uint32_t)(o + 16), FLOW_DLT_RAW, &p), FLOW_PKT_IP);
    cr_assert(p.has_l4);
    cr_assert(p.is_frag && p.frag_more);
    cr_assert_eq(p.frag_offset, 0);
    cr_assert_eq(p.frag_id, 0xabcd);
    cr_assert_eq(p.dport, 53);

    /* Later fragment: no L4. */
    tu_put16(buf + 40 + 2, (uint16_t)(181 << 3));
    cr_assert_eq(flow_parse(buf, (uint32_t)(o + 16), FLOW_DLT_RAW, &p), FLOW_PKT_IP);
    cr_assert(!p.has_l4);
    cr_assert_eq(p.err, FLOW_ERR_NONE);
    cr_assert_eq(p.frag_offset, 181);

    /* Two fragment headers. */
    o = tu_ipv6(buf, "2001:db8::1", "2001:db8::2", 44, 24);
    memset(buf + o, 0, 24);
    buf[o] = 44;
    buf[o + 8] = 17;
    cr_assert_eq(flow_parse(buf, (uint32_t)(o + 24), FLOW_DLT_RAW, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_BAD_FRAGMENT);
}

Test(flow_parse, link_types)
{
    struct flow_pkt p;
    uint8_t ip[64];
    size_t n = tu_ipv4(ip, "192.0.2.1", "192.0.2.2", 17, 8);
    n += tu_udp(ip + n, 1, 2, 0);

    /* Linux SLL */
    memset(buf, 0, 16);
    tu_put16(buf + 2, 1);
    tu_put16(buf + 4, 6);
    buf[6] = 0xaa;
    tu_put16(buf + 14, 0x0800);
    memcpy(buf + 16, ip, n);
    cr_assert_eq(flow_parse(buf, (uint32_t)(16 + n), FLOW_DLT_LINUX_SLL, &p), FLOW_PKT_IP);
    cr_assert(p.has_src_mac && !p.has_dst_mac);
    cr_assert_eq(p.src_mac[0], 0xaa);

    /* Linux SLL2 */
    memset(buf, 0, 20);
    tu_put16(buf, 0x0800);
    tu_put16(buf + 8, 1);
    buf[11] = 6;
    buf[12] = 0xbb;
    memcpy(buf + 20, ip, n);
    cr_assert_eq(flow_parse(buf, (uint32_t)(20 + n), FLOW_DLT_LINUX_SLL2, &p), FLOW_PKT_IP);
    cr_assert_eq(p.src_mac[0], 0xbb);
    cr_assert_eq(p.dport, 2);

    /* NULL, little-endian AF_INET, and LOOP big-endian */
    memset(buf, 0, 4);
    buf[0] = 2;
    memcpy(buf + 4, ip, n);
    cr_assert_eq(flow_parse(buf, (uint32_t)(4 + n), FLOW_DLT_NULL, &p), FLOW_PKT_IP);
    buf[0] = 0;
    buf[3] = 2;
    cr_assert_eq(flow_parse(buf, (uint32_t)(4 + n), FLOW_DLT_LOOP, &p), FLOW_PKT_IP);
    buf[3] = 77; /* unknown family */
    cr_assert_eq(flow_parse(buf, (uint32_t)(4 + n), FLOW_DLT_NULL, &p), FLOW_PKT_OTHER);

    /* Raw IP (LINKTYPE_RAW 101) and DLT_IPV4 */
    cr_assert_eq(flow_parse(ip, (uint32_t)n, FLOW_DLT_LINKTYPE_RAW, &p), FLOW_PKT_IP);
    cr_assert_eq(flow_parse(ip, (uint32_t)n, FLOW_DLT_IPV4, &p), FLOW_PKT_IP);
    cr_assert_eq(flow_parse(ip, (uint32_t)n, FLOW_DLT_IPV6, &p), FLOW_PKT_ERROR);

    /* 802.3 length field (LLC): valid, untracked */
    size_t o = tu_eth(buf, 0x0026, 0);
    cr_assert_eq(flow_parse(buf, (uint32_t)(o + 38), FLOW_DLT_EN10MB, &p), FLOW_PKT_OTHER);
}

Test(flow_parse, icmp_echo_ids)
{
    struct flow_pkt p;
    size_t n = tu_v4_icmp_echo(buf, "10.0.0.1", "10.0.0.2", 8, 0x1234, 1);
    cr_assert_eq(flow_parse(buf, (uint32_t)n, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert(p.has_l4);
    cr_assert_eq(p.icmp_type, 8);
    cr_assert_eq(p.icmp_id, 0x1234);
    /* ICMP header cut to 3 bytes */
    cr_assert_eq(flow_parse(buf, 14 + 20 + 3, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert_eq(p.err, FLOW_ERR_TRUNCATED_ICMP);
}

Test(flow_parse, random_bytes_never_crash)
{
    srand(12345);
    static const uint32_t dlts[] = {0, 1, 12, 101, 108, 113, 228, 229, 276};
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(rand() % 200);
        uint8_t *b = malloc(len ? len : 1);
        for (size_t j = 0; j < len; j++)
            b[j] = (uint8_t)rand();
        /* Make the interesting paths likely: a valid EtherType or version. */
        if (len > 14 && (i & 1)) {
            b[12] = (i & 2) ? 0x08 : 0x86;
            b[13] = (i & 2) ? 0x00 : 0xdd;
            b[14] = (i & 2) ? 0x45 : 0x60;
        }
        struct flow_pkt p;
        flow_parse(b, (uint32_t)len, dlts[i % 9], &p);
        free(b);
    }
}

/* ---- encapsulations -------------------------------------------------------- */

/* IPv4/UDP 10.9.0.1:1111 -> 10.9.0.2:2222 with 4 payload bytes at b; returns length. */
static size_t inner_v4_udp(uint8_t *b)
{
    size_t o = tu_ipv4(b, "10.9.0.1", "10.9.0.2", 17, 12);
    o += tu_udp(b + o, 1111, 2222, 4);
    memset(b + o, 0, 4);
    return o + 4;
}

static void expect_inner(const uint8_t *frame, size_t n, uint32_t dlt, uint8_t tunnel)
{
    struct flow_pkt p;
    cr_assert_eq(flow_parse(frame, (uint32_t)n, dlt, &p), FLOW_PKT_IP, "err %s",
                 flow_err_name(p.err));
    cr_assert(p.has_l4);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.sport, 1111);
    cr_assert_eq(p.dport, 2222);
    cr_assert_eq(p.src[0], 10);
    cr_assert_eq(p.src[1], 9);
    cr_assert_eq(p.tunnel, tunnel);
    check_prefixes(frame, n, dlt, n - 4); /* the UDP payload is not needed */
}

Test(flow_parse, mpls_pppoe_ppp_hdlc)
{
    /* MPLS: two labels */
    size_t o = tu_eth(buf, 0x8847, 0);
    uint8_t labels[8] = {0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64};
    memcpy(buf + o, labels, 8);
    o += 8;
    o += inner_v4_udp(buf + o);
    expect_inner(buf, o, FLOW_DLT_EN10MB, FLOW_TUNNEL_NONE);

    /* MPLS depth bomb: 20 labels, none bottom of stack */
    o = tu_eth(buf, 0x8847, 0);
    memset(buf + o, 0, 80);
    struct flow_pkt p;
    cr_assert_eq(flow_parse(buf, (uint32_t)(o + 80), FLOW_DLT_EN10MB, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_MPLS_DEPTH);

    /* PPPoE session over a VLAN */
    o = tu_eth(buf, 0x8864, 1);
    uint8_t pppoe[8] = {0x11, 0, 0, 1, 0, 34, 0x00, 0x21};
    memcpy(buf + o, pppoe, 8);
    o += 8;
    o += inner_v4_udp(buf + o);
    expect_inner(buf, o, FLOW_DLT_EN10MB, FLOW_TUNNEL_NONE);

    /* DLT_PPP with and without address/control */
    buf[0] = 0xff;
    buf[1] = 0x03;
    tu_put16(buf + 2, 0x0021);
    o = 4 + inner_v4_udp(buf + 4);
    expect_inner(buf, o, FLOW_DLT_PPP, FLOW_TUNNEL_NONE);
    tu_put16(buf, 0x0021);
    o = 2 + inner_v4_udp(buf + 2);
    expect_inner(buf, o, FLOW_DLT_PPP_SERIAL, FLOW_TUNNEL_NONE);

    /* Cisco HDLC */
    buf[0] = 0x0f;
    buf[1] = 0;
    tu_put16(buf + 2, 0x0800);
    o = 4 + inner_v4_udp(buf + 4);
    expect_inner(buf, o, FLOW_DLT_C_HDLC, FLOW_TUNNEL_NONE);

    /* LCP over PPP: valid, untracked */
    tu_put16(buf, 0xc021);
    cr_assert_eq(flow_parse(buf, 20, FLOW_DLT_PPP, &p), FLOW_PKT_OTHER);
}

Test(flow_parse, gre_ipip_erspan)
{
    struct flow_pkt p;
    /* GRE with checksum and key, carrying IPv4 */
    size_t o = tu_eth(buf, 0x0800, 0);
    size_t outer = o;
    o += tu_ipv4(buf + o, "192.0.2.1", "192.0.2.2", 47, 12 + 32);
    tu_put16(buf + o, 0xa000); /* C, K */
    tu_put16(buf + o + 2, 0x0800);
    memset(buf + o + 4, 0, 8);
    o += 12;
    o += inner_v4_udp(buf + o);
    expect_inner(buf, o, FLOW_DLT_EN10MB, FLOW_TUNNEL_GRE);

    /* GRE version 1 (PPTP): the outer GRE packet is the flow */
    tu_put16(buf + outer + 20, 0x3001);
    cr_assert_eq(flow_parse(buf, (uint32_t)o, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert_eq(p.proto, 47);
    cr_assert_eq(p.tunnel, FLOW_TUNNEL_NONE);
    cr_assert(!p.has_l4);

    /* GRE carrying ARP: outer flow */
    tu_put16(buf + outer + 20, 0x0000);
    tu_put16(buf + outer + 22, 0x6558);
    size_t e = outer + 24;
    e += tu_eth(buf + e, 0x0806, 0);
    static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1};
    memcpy(buf + e, arp, 28);
    e += 28;
    tu_put16(buf + outer + 2, (uint16_t)(e - outer));
    cr_assert_eq(flow_parse(buf, (uint32_t)e, FLOW_DLT_EN10MB, &p), FLOW_PKT_IP);
    cr_assert_eq(p.proto, 47);
    cr_assert_eq(p.src[0], 192);

    /* IPv4 in IPv6 */
    o = tu_ipv6(buf, "2001:db8::1", "2001:db8::2", 4, 32);
    o += inner_v4_udp(buf + o);
    expect_inner(buf, o, FLOW_DLT_RAW, FLOW_TUNNEL_IPIP);
    /* The inner IPv4 addresses fill all 16 bytes (zeros after the 4): the
     * outer IPv6 addresses must not leak into the flow or device key. */
    cr_assert_eq(flow_parse(buf, (uint32_t)o, FLOW_DLT_RAW, &p), FLOW_PKT_IP);
    static const uint8_t zero12[12];
    cr_assert_eq(p.family, 4);
    cr_assert(memcmp(p.src + 4, zero12, 12) == 0 && memcmp(p.dst + 4, zero12, 12) == 0);

    /* ERSPAN type II: GRE with sequence number, 8-byte header, Ethernet */
    o = tu_ipv4(buf, "192.0.2.1", "192.0.2.2", 47, 8 + 8 + 14 + 32);
    tu_put16(buf + o, 0x1000);
    tu_put16(buf + o + 2, 0x88be);
    memset(buf + o + 4, 0, 12);
    o += 16;
    o += tu_eth(buf + o, 0x0800, 1);
    o += inner_v4_udp(buf + o);
    tu_put16(buf + 2, (uint16_t)o);
    expect_inner(buf, o, FLOW_DLT_RAW, FLOW_TUNNEL_ERSPAN);
    cr_assert_eq(flow_parse(buf, (uint32_t)o, FLOW_DLT_RAW, &p), FLOW_PKT_IP);
    cr_assert(p.has_src_mac);
    cr_assert_eq(p.vlan_count, 1);

    /* Nesting bomb: IPv4 in IPv4, 10 deep */
    o = 0;
    for (int i = 0; i < 10; i++)
        o += tu_ipv4(buf + o, "192.0.2.1", "192.0.2.2", 4, (size_t)(9 - i) * 20 + 32);
    o += inner_v4_udp(buf + o);
    cr_assert_eq(flow_parse(buf, (uint32_t)o, FLOW_DLT_RAW, &p), FLOW_PKT_ERROR);
    cr_assert_eq(p.err, FLOW_ERR_TUNNEL_DEPTH);
    check_prefixes(buf, o, FLOW_DLT_RAW, o);
}
