/* SPDX-License-Identifier: Apache-2.0 */
/*
 * community_id.c - Community ID v1 (see community_id.h), written from the
 * published specification. SHA-1 is computed here (FIPS 180-4, section 6.1):
 * the input is at most 40 bytes, one block, and OpenSSL's EVP_Digest cost
 * ~4000 instructions per call (a provider fetch, locks and a context
 * allocation), a fifth of the flow decoder's work on a many-flow capture.
 * Pure code, any thread.
 */
#include "community_id.h"

#include <stdbool.h>
#include <string.h>

void community_id_icmp_ports(uint8_t proto, uint8_t type, uint8_t code, uint16_t *sport,
                             uint16_t *dport, bool *one_way)
{
    /* Request/response pairs from the spec: v4 echo, timestamp, info, router
     * solicitation/advertisement, address mask; v6 echo, MLD query/report,
     * router and neighbour discovery, node information, home agent discovery. */
    static const uint8_t v4[][2] = {{8, 0},   {0, 8},  {13, 14}, {14, 13}, {15, 16},
                                    {16, 15}, {10, 9}, {9, 10},  {17, 18}, {18, 17}};
    static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {133, 134}, {134, 133},
                                    {135, 136}, {136, 135}, {130, 131}, {131, 130},
                                    {139, 140}, {140, 139}, {144, 145}, {145, 144}};
    const uint8_t(*map)[2] = proto == 58 ? v6 : v4;
    size_t n = proto == 58 ? sizeof(v6) / sizeof(v6[0]) : sizeof(v4) / sizeof(v4[0]);
    *sport = type;
    for (size_t i = 0; i < n; i++) {
        if (map[i][0] == type) {
            *dport = map[i][1];
            *one_way = false;
            return;
        }
    }
    *dport = code;
    *one_way = true;
}

static inline uint32_t sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32u - n));
}

/* SHA-1 of one 64-byte block into h[5] (FIPS 180-4 6.1.2). */
static void sha1_block(uint32_t h[5], const uint8_t blk[64])
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)blk[4 * t] << 24 | (uint32_t)blk[4 * t + 1] << 16 |
               (uint32_t)blk[4 * t + 2] << 8 | blk[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = sha1_rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    /* One loop per round function: no branch inside the 80 rounds. */
#define SHA1_ROUND(fexpr, k)                                                                       \
    do {                                                                                           \
        uint32_t tmp = sha1_rol(a, 5) + (fexpr) + e + (k) + w[t];                                  \
        e = d;                                                                                     \
        d = c;                                                                                     \
        c = sha1_rol(b, 30);                                                                       \
        b = a;                                                                                     \
        a = tmp;                                                                                   \
    } while (0)
    int t = 0;
    for (; t < 20; t++)
        SHA1_ROUND((b & c) | (~b & d), 0x5a827999u);
    for (; t < 40; t++)
        SHA1_ROUND(b ^ c ^ d, 0x6ed9eba1u);
    for (; t < 60; t++)
        SHA1_ROUND((b & c) | (b & d) | (c & d), 0x8f1bbcdcu);
    for (; t < 80; t++)
        SHA1_ROUND(b ^ c ^ d, 0xca62c1d6u);
#undef SHA1_ROUND
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

/* The same block with the x86 SHA extensions (SHA-NI: AMD Zen, Intel since
 * Goldmont/Ice Lake): ~10x fewer instructions than the scalar rounds, which
 * were an eighth of the flow decoder's instructions (two IDs per flow).
 * Lane 3 of a vector holds the first word (a, W[t]); sha1rnds4 does four
 * rounds with round function `f`, sha1nexte derives e for the next four from
 * the a of four rounds earlier, sha1msg1/msg2 extend the message schedule. */
__attribute__((target("sha,sse4.1"))) static void sha1_block_ni(uint32_t h[5],
                                                                const uint8_t blk[64])
{
    const __m128i bswap = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)h), 0x1B);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
    __m128i w[20];
    for (int g = 0; g < 4; g++)
        w[g] =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(blk + 16 * g)), bswap);
    /* W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]), four words at a time. */
    for (int g = 4; g < 20; g++)
        w[g] = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32(w[g - 4], w[g - 3]), w[g - 2]),
                                  w[g - 1]);
    const __m128i abcd0 = abcd, e_save = e0;
    __m128i prev = abcd;
    abcd = _mm_sha1rnds4_epu32(abcd, _mm_add_epi32(e0, w[0]), 0);
    int g = 1;
    /* The immediate must be a constant: one loop per round function. */
#define SHA1_NI_GROUP(f)                                                                           \
    do {                                                                                           \
        __m128i e = _mm_sha1nexte_epu32(prev, w[g]);                                               \
        prev = abcd;                                                                               \
        abcd = _mm_sha1rnds4_epu32(abcd, e, f);                                                    \
    } while (0)
    for (; g < 5; g++)
        SHA1_NI_GROUP(0);
    for (; g < 10; g++)
        SHA1_NI_GROUP(1);
    for (; g < 15; g++)
        SHA1_NI_GROUP(2);
    for (; g < 20; g++)
        SHA1_NI_GROUP(3);
#undef SHA1_NI_GROUP
    e0 = _mm_sha1nexte_epu32(prev, e_save);
    abcd = _mm_shuffle_epi32(_mm_add_epi32(abcd, abcd0), 0x1B);
    _mm_storeu_si128((__m128i *)(void *)h, abcd);
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

/* CPUID leaf 7, EBX bit 29: SHA extensions. Decided once, when the plugin is
 * loaded (before any worker runs), so the per-call test is a plain load. */
static bool sha1_have_ni;

__attribute__((constructor)) static void sha1_detect(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) &&
        __get_cpuid(1, &a, &b, &c, &d))
        sha1_have_ni = (c & bit_SSE4_1) && (c & bit_SSSE3);
}
#define SHA1_BLOCK(h, blk) (sha1_have_ni ? sha1_block_ni(h, blk) : sha1_block(h, blk))
#else
#define SHA1_BLOCK(h, blk) sha1_block(h, blk)
#endif

/* base64 of the 20-byte digest: six whole 3-byte groups and a 2-byte tail
 * ("=" padded), 28 characters and a NUL. */
static void cid_base64_20(const uint8_t md[20], char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 6; i++) {
        uint32_t v = (uint32_t)md[3 * i] << 16 | (uint32_t)md[3 * i + 1] << 8 | md[3 * i + 2];
        out[4 * i] = tab[(v >> 18) & 63];
        out[4 * i + 1] = tab[(v >> 12) & 63];
        out[4 * i + 2] = tab[(v >> 6) & 63];
        out[4 * i + 3] = tab[v & 63];
    }
    uint32_t v = (uint32_t)md[18] << 16 | (uint32_t)md[19] << 8;
    out[24] = tab[(v >> 18) & 63];
    out[25] = tab[(v >> 12) & 63];
    out[26] = tab[(v >> 6) & 63];
    out[27] = '=';
    out[28] = '\0';
}

/* Big-endian loads, written portably (compilers make them a load and a
 * byte swap). */
static inline uint32_t cid_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t cid_be64(const uint8_t *p)
{
    return (uint64_t)cid_be32(p) << 32 | cid_be32(p + 4);
}

/* The sign of memcmp(a, b, alen) for alen 4 or 16, as big-endian words (no
 * library call per record). */
static inline int cid_addr_cmp(const uint8_t *a, const uint8_t *b, size_t alen)
{
    if (alen == 4) {
        uint32_t x = cid_be32(a), y = cid_be32(b);
        return x < y ? -1 : x > y;
    }
    for (int i = 0; i < 16; i += 8) {
        uint64_t x = cid_be64(a + i), y = cid_be64(b + i);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

int community_id_v1(uint16_t seed, uint8_t family, const uint8_t *saddr, const uint8_t *daddr,
                    uint8_t proto, uint16_t sport, uint16_t dport, char out[COMMUNITY_ID_LEN])
{
    out[0] = '\0';
    size_t alen = family == 4 ? 4 : family == 6 ? 16 : 0;
    if (alen == 0)
        return -1;
    bool one_way = false;
    bool has_ports = proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
    if (proto == 1 || proto == 58)
        community_id_icmp_ports(proto, (uint8_t)sport, (uint8_t)dport, &sport, &dport, &one_way);
    /* Order the endpoints so both directions produce the same input. */
    int c = cid_addr_cmp(saddr, daddr, alen);
    if (!one_way && (c > 0 || (c == 0 && has_ports && sport > dport))) {
        const uint8_t *ta = saddr;
        saddr = daddr;
        daddr = ta;
        uint16_t tp = sport;
        sport = dport;
        dport = tp;
    }
    /* The input (seed, addresses, protocol, pad, ports: at most 40 bytes)
     * is written straight into the one padded SHA-1 block. */
    uint8_t blk[64] = {0};
    size_t n = 0;
    blk[n++] = (uint8_t)(seed >> 8);
    blk[n++] = (uint8_t)seed;
    if (alen == 4) {
        memcpy(blk + n, saddr, 4);
        memcpy(blk + n + 4, daddr, 4);
        n += 8;
    } else {
        memcpy(blk + n, saddr, 16);
        memcpy(blk + n + 16, daddr, 16);
        n += 32;
    }
    blk[n++] = proto;
    blk[n++] = 0;
    if (has_ports) {
        blk[n++] = (uint8_t)(sport >> 8);
        blk[n++] = (uint8_t)sport;
        blk[n++] = (uint8_t)(dport >> 8);
        blk[n++] = (uint8_t)dport;
    }
    _Static_assert(2 + 16 + 16 + 2 + 4 <= 55, "the Community ID input fits one SHA-1 block");
    blk[n] = 0x80;
    blk[62] = (uint8_t)((n * 8u) >> 8); /* message length in bits, < 2^16 */
    blk[63] = (uint8_t)(n * 8u);
    uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
    SHA1_BLOCK(h, blk);
    uint8_t md[20];
    for (int i = 0; i < 5; i++) {
        md[4 * i] = (uint8_t)(h[i] >> 24);
        md[4 * i + 1] = (uint8_t)(h[i] >> 16);
        md[4 * i + 2] = (uint8_t)(h[i] >> 8);
        md[4 * i + 3] = (uint8_t)h[i];
    }
    out[0] = '1';
    out[1] = ':';
    cid_base64_20(md, out + 2);
    return 0;
}
