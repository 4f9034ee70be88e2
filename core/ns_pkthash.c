/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_pkthash.c - walk link and IP headers just far enough to hash a flow.
 *
 * Bounds are checked before every read; anything unexpected returns 0 (worker 0),
 * never a crash. Link types follow libpcap's DLT numbers.
 */
#include "ns_pkthash.h"

#include <string.h>

#define DLT_NULL_ 0
#define DLT_EN10MB_ 1
#define DLT_RAW_ 12
#define DLT_LOOP_ 108
#define DLT_RAW_101_ 101
#define DLT_LINUX_SLL_ 113
#define DLT_IPV4_ 228
#define DLT_IPV6_ 229
#define DLT_LINUX_SLL2_ 276

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t mix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

/* Inlined into hash_l4's two call sites, where n is a constant (4 or 16):
 * the loop unrolls into one or four loads per address. */
static inline __attribute__((always_inline)) uint32_t sum_words(const uint8_t *p, unsigned n)
{
    uint32_t s = 0, x = 0;
    for (unsigned i = 0; i + 4 <= n; i += 4) {
        uint32_t w;
        memcpy(&w, p + i, 4);
        s += w;
        x ^= w * 0x9e3779b1U;
    }
    return s ^ (x >> 7);
}

/* Addresses combined with + and ^ of per-side values: symmetric. Inlined
 * (once per IP version) so alen is a constant: this runs for every packet on
 * the source thread. */
static inline __attribute__((always_inline)) uint32_t hash_l4(const uint8_t *a, const uint8_t *b,
                                                              unsigned alen, uint8_t proto,
                                                              const uint8_t *l4, uint32_t l4len,
                                                              int fragment)
{
    uint32_t ha = sum_words(a, alen), hb = sum_words(b, alen);
    uint32_t h = (ha + hb) ^ mix(ha ^ hb) ^ proto;
    if (!fragment && (proto == 6 || proto == 17 || proto == 132) && l4len >= 4) {
        uint32_t pa = rd16(l4), pb = rd16(l4 + 2);
        h ^= mix((pa + pb) ^ (pa * pb) ^ 0x5bd1e995U);
    }
    return mix(h) | 1; /* never 0: 0 means "unparsed" */
}

uint32_t ns_pkt_hash(uint16_t linktype, const uint8_t *p, uint32_t len)
{
    uint32_t off = 0;
    uint16_t et = 0;

    switch (linktype) {
    case DLT_EN10MB_:
        if (len < 14)
            return 0;
        et = rd16(p + 12);
        off = 14;
        for (int depth = 0; (et == 0x8100 || et == 0x88a8 || et == 0x9100) && depth < 8; depth++) {
            if (len < off + 4)
                return 0;
            et = rd16(p + off + 2);
            off += 4;
        }
        break;
    case DLT_LINUX_SLL_:
        if (len < 16)
            return 0;
        et = rd16(p + 14);
        off = 16;
        break;
    case DLT_LINUX_SLL2_:
        if (len < 20)
            return 0;
        et = rd16(p);
        off = 20;
        break;
    case DLT_NULL_:
    case DLT_LOOP_: {
        if (len < 4)
            return 0;
        uint32_t fam;
        memcpy(&fam, p, 4);
        /* Either byte order; 2 = AF_INET, 24/28/30 = AF_INET6 on the BSDs. */
        if (fam > 0xffff)
            fam = __builtin_bswap32(fam);
        et = fam == 2 ? 0x0800 : 0x86dd;
        off = 4;
        break;
    }
    case DLT_RAW_:
    case DLT_RAW_101_:
    case DLT_IPV4_:
    case DLT_IPV6_:
        if (len < 1)
            return 0;
        et = (p[0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    default:
        return 0;
    }

    if (et == 0x0800) {
        if (len < off + 20)
            return 0;
        const uint8_t *ip = p + off;
        uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
        if (ihl < 20 || len < off + ihl)
            return 0;
        int frag = (rd16(ip + 6) & 0x3fff) != 0;
        return hash_l4(ip + 12, ip + 16, 4, ip[9], ip + ihl, len - off - ihl, frag);
    }
    if (et == 0x86dd) {
        if (len < off + 40)
            return 0;
        const uint8_t *ip6 = p + off;
        uint8_t nh = ip6[6];
        uint32_t o = off + 40;
        int frag = 0;
        /* Skip a bounded number of extension headers to find the transport. */
        for (int i = 0; i < 8; i++) {
            if (nh == 0 || nh == 43 || nh == 60) {
                if (len < o + 8)
                    break;
                nh = p[o];
                o += 8u + (uint32_t)p[o + 1] * 8u;
            } else if (nh == 44) {
                if (len < o + 8)
                    break;
                frag = 1;
                nh = p[o];
                o += 8;
            } else {
                break;
            }
        }
        return hash_l4(ip6 + 8, ip6 + 24, 16, nh, o <= len ? p + o : p, o <= len ? len - o : 0,
                       frag);
    }
    return 0;
}
