/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_testutil.h - packet builders shared by the decoder/flow Criterion tests.
 *
 * Builds Ethernet/IPv4/IPv6/TCP/UDP/ICMP frames into a caller buffer so tests
 * can hand-craft good and broken packets. Header-only (static functions);
 * test process only.
 */
#ifndef NS_FLOW_TESTUTIL_H
#define NS_FLOW_TESTUTIL_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

static inline void tu_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void tu_put32(uint8_t *p, uint32_t v)
{
    tu_put16(p, (uint16_t)(v >> 16));
    tu_put16(p + 2, (uint16_t)v);
}

/* Ethernet header with `ntags` 802.1Q tags (ids 100, 101, ...); returns its length. */
static inline size_t tu_eth(uint8_t *b, uint16_t type, int ntags)
{
    static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
    memcpy(b, dst, 6);
    memcpy(b + 6, src, 6);
    size_t o = 12;
    for (int i = 0; i < ntags; i++) {
        tu_put16(b + o, i == 0 ? 0x88a8 : 0x8100);
        tu_put16(b + o + 2, (uint16_t)(100 + i));
        o += 4;
    }
    tu_put16(b + o, type);
    return o + 2;
}

/* IPv4 header (no options) for `l4len` bytes of payload; returns 20. */
static inline size_t tu_ipv4(uint8_t *b, const char *src, const char *dst, uint8_t proto,
                             size_t l4len)
{
    memset(b, 0, 20);
    b[0] = 0x45;
    tu_put16(b + 2, (uint16_t)(20 + l4len));
    b[8] = 64;
    b[9] = proto;
    inet_pton(AF_INET, src, b + 12);
    inet_pton(AF_INET, dst, b + 16);
    return 20;
}

static inline size_t tu_ipv6(uint8_t *b, const char *src, const char *dst, uint8_t nh, size_t plen)
{
    memset(b, 0, 40);
    b[0] = 0x60;
    tu_put16(b + 4, (uint16_t)plen);
    b[6] = nh;
    b[7] = 64;
    inet_pton(AF_INET6, src, b + 8);
    inet_pton(AF_INET6, dst, b + 24);
    return 40;
}

static inline size_t tu_tcp(uint8_t *b, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
                            uint8_t flags)
{
    memset(b, 0, 20);
    tu_put16(b, sp);
    tu_put16(b + 2, dp);
    tu_put32(b + 4, seq);
    tu_put32(b + 8, ack);
    b[12] = 5 << 4;
    b[13] = flags;
    tu_put16(b + 14, 65535);
    return 20;
}

static inline size_t tu_udp(uint8_t *b, uint16_t sp, uint16_t dp, size_t payload)
{
    tu_put16(b, sp);
    tu_put16(b + 2, dp);
    tu_put16(b + 4, (uint16_t)(8 + payload));
    tu_put16(b + 6, 0);
    return 8;
}

/* A whole Ethernet/IPv4/TCP frame with `payload` zero bytes; returns its length. */
static inline size_t tu_v4_tcp(uint8_t *b, const char *src, const char *dst, uint16_t sp,
                               uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
                               size_t payload)
{
    size_t o = tu_eth(b, 0x0800, 0);
    o += tu_ipv4(b + o, src, dst, 6, 20 + payload);
    o += tu_tcp(b + o, sp, dp, seq, ack, flags);
    memset(b + o, 0, payload);
    return o + payload;
}

static inline size_t tu_v4_udp(uint8_t *b, const char *src, const char *dst, uint16_t sp,
                               uint16_t dp, size_t payload)
{
    size_t o = tu_eth(b, 0x0800, 0);
    o += tu_ipv4(b + o, src, dst, 17, 8 + payload);
    o += tu_udp(b + o, sp, dp, payload);
    memset(b + o, 0, payload);
    return o + payload;
}

/* ICMP echo (type 8 request / 0 reply) with identifier id. */
static inline size_t tu_v4_icmp_echo(uint8_t *b, const char *src, const char *dst, uint8_t type,
                                     uint16_t id, uint16_t seq)
{
    size_t o = tu_eth(b, 0x0800, 0);
    o += tu_ipv4(b + o, src, dst, 1, 16);
    memset(b + o, 0, 16);
    b[o] = type;
    tu_put16(b + o + 4, id);
    tu_put16(b + o + 6, seq);
    return o + 16;
}

#endif
