/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_ipfrag.c - IP fragment reassembly (plugins/decoder/flow/
 * flow_ipfrag.c) on fragments built as raw IPv4/IPv6 packets and decoded by
 * flow_parse: in order, out of order, overlap (first copy wins), duplicates,
 * a missing piece timing out, the datagram and byte bounds, oversize,
 * inconsistent and snaplen-cut fragments, too many pieces, IPv6.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "flow_ipfrag.h"
#include "flow_parse.h"

#define SEC 1000000000ull

/* A UDP datagram 10.0.0.1:5353 -> 10.0.0.2:53: 8-byte header + body. */
static uint8_t dgram[70000];
static uint32_t dgram_len;

static void make_udp(uint32_t body)
{
    dgram_len = 8 + body;
    dgram[0] = 0x14;
    dgram[1] = 0xe9; /* 5353 */
    dgram[2] = 0;
    dgram[3] = 53;
    dgram[4] = (uint8_t)(dgram_len >> 8);
    dgram[5] = (uint8_t)dgram_len;
    dgram[6] = dgram[7] = 0;
    for (uint32_t i = 0; i < body; i++)
        dgram[8 + i] = (uint8_t)('a' + i % 26);
}

static uint8_t frame[70000];

/* IPv4 fragment of `dgram` (or of `data` when not NULL): bytes [off, off+len),
 * MF as given, id; `cut` bytes fewer captured than on the wire. */
static void v4frag(struct flow_pkt *p, uint16_t id, uint32_t off, uint32_t len, bool mf,
                   const uint8_t *data, uint32_t cut)
{
    uint32_t tot = 20 + len;
    memset(frame, 0, 20);
    frame[0] = 0x45;
    frame[2] = (uint8_t)(tot >> 8);
    frame[3] = (uint8_t)tot;
    frame[4] = (uint8_t)(id >> 8);
    frame[5] = (uint8_t)id;
    uint16_t fo = (uint16_t)((off / 8) | (mf ? 0x2000 : 0));
    frame[6] = (uint8_t)(fo >> 8);
    frame[7] = (uint8_t)fo;
    frame[8] = 64;
    frame[9] = 17;
    uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
    memcpy(frame + 12, src, 4);
    memcpy(frame + 16, dst, 4);
    memcpy(frame + 20, (data ? data : dgram) + (data ? 0 : off), len);
    flow_parse(frame, tot - cut, FLOW_DLT_IPV4, p);
    cr_assert_eq(p->kind, FLOW_PKT_IP);
    cr_assert(p->is_frag);
}

static void v6frag(struct flow_pkt *p, uint32_t id, uint32_t off, uint32_t len, bool mf)
{
    uint32_t plen = 8 + len;
    memset(frame, 0, 48);
    frame[0] = 0x60;
    frame[4] = (uint8_t)(plen >> 8);
    frame[5] = (uint8_t)plen;
    frame[6] = 44; /* fragment header */
    frame[7] = 64;
    frame[8] = 0x20;
    frame[9] = 0x01;
    frame[23] = 1;
    frame[24] = 0x20;
    frame[25] = 0x01;
    frame[39] = 2;
    frame[40] = 17; /* next header: UDP */
    uint16_t fo = (uint16_t)((off / 8) << 3 | (mf ? 1 : 0));
    frame[42] = (uint8_t)(fo >> 8);
    frame[43] = (uint8_t)fo;
    frame[44] = (uint8_t)(id >> 24);
    frame[45] = (uint8_t)(id >> 16);
    frame[46] = (uint8_t)(id >> 8);
    frame[47] = (uint8_t)id;
    memcpy(frame + 48, dgram + off, len);
    flow_parse(frame, 40 + plen, FLOW_DLT_IPV6, p);
    cr_assert_eq(p->kind, FLOW_PKT_IP);
    cr_assert(p->is_frag);
}

/* The completed datagram parses as the original UDP datagram. */
static void check_udp(const uint8_t *pkt, uint32_t len, uint32_t dlt)
{
    struct flow_pkt r;
    flow_parse(pkt, len, dlt, &r);
    cr_assert_eq(r.kind, FLOW_PKT_IP);
    cr_assert_eq(r.err, FLOW_ERR_NONE);
    cr_assert(!r.is_frag);
    cr_assert(r.has_l4);
    cr_assert_eq(r.proto, 17);
    cr_assert_eq(r.sport, 5353);
    cr_assert_eq(r.dport, 53);
    cr_assert_eq(r.payload_cap, dgram_len - 8);
    cr_assert_eq(memcmp(r.payload, dgram + 8, dgram_len - 8), 0);
}

Test(ipfrag, in_order_v4)
{
    make_udp(40); /* 48 bytes: 16 + 16 + 16 */
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    v4frag(&p, 7, 0, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v4frag(&p, 7, 16, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 1);
    v4frag(&p, 7, 32, 16, false, NULL, 0);
    cr_assert(ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(len, 20 + 48);
    check_udp(pkt, len, FLOW_DLT_IPV4);
    const struct ipfrag_stats *st = ipfrag_stats(f);
    cr_assert_eq(st->reassembled, 1);
    cr_assert_eq(st->fragments, 3);
    cr_assert_eq(st->held_datagrams, 0);
    cr_assert_eq(st->held_bytes, 0);
    cr_assert_eq(st->overlaps, 0);
    ipfrag_free(f);
}

Test(ipfrag, out_of_order_v4)
{
    make_udp(100); /* 108 bytes: 40 + 40 + 28 */
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    v4frag(&p, 9, 80, 28, false, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v4frag(&p, 9, 0, 40, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    /* Another datagram interleaved (different id) does not disturb it. */
    v4frag(&p, 10, 0, 40, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v4frag(&p, 9, 40, 40, true, NULL, 0);
    cr_assert(ipfrag_add(f, &p, SEC, &pkt, &len));
    check_udp(pkt, len, FLOW_DLT_IPV4);
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 1);
    ipfrag_flush(f);
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_SHUTDOWN], 1);
    cr_assert_eq(ipfrag_stats(f)->held_bytes, 0);
    ipfrag_free(f);
}

Test(ipfrag, overlap_first_copy_wins)
{
    make_udp(24); /* 32 bytes */
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    v4frag(&p, 1, 0, 24, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    /* Bytes 16..31, of which 16..23 overlap: different content, dropped. */
    uint8_t other[16];
    memset(other, 'Z', sizeof(other));
    memcpy(other + 8, dgram + 24, 8);
    v4frag(&p, 1, 16, 16, false, other, 0);
    cr_assert(ipfrag_add(f, &p, SEC, &pkt, &len));
    check_udp(pkt, len, FLOW_DLT_IPV4); /* the original bytes 16..23 */
    cr_assert_eq(ipfrag_stats(f)->overlaps, 1);
    cr_assert_eq(ipfrag_stats(f)->overlap_bytes, 8);
    cr_assert_eq(ipfrag_stats(f)->duplicates, 0);
    ipfrag_free(f);
}

Test(ipfrag, duplicate)
{
    make_udp(24);
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    v4frag(&p, 2, 0, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->duplicates, 1);
    cr_assert_eq(ipfrag_stats(f)->overlap_bytes, 16);
    v4frag(&p, 2, 16, 16, false, NULL, 0);
    cr_assert(ipfrag_add(f, &p, SEC, &pkt, &len));
    check_udp(pkt, len, FLOW_DLT_IPV4);
    /* The last fragment again, after completion: a new datagram, incomplete. */
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 1);
    ipfrag_free(f);
}

Test(ipfrag, missing_piece_times_out)
{
    make_udp(40);
    struct ipfrag_cfg cfg = {.timeout_ns = 5 * SEC};
    struct ipfrag *f = ipfrag_new(&cfg);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    v4frag(&p, 3, 0, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, 10 * SEC, &pkt, &len));
    v4frag(&p, 3, 32, 16, false, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, 11 * SEC, &pkt, &len));
    ipfrag_expire(f, 14 * SEC);
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 1);
    ipfrag_expire(f, 15 * SEC);
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 0);
    cr_assert_eq(ipfrag_stats(f)->held_bytes, 0);
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_TIMEOUT], 1);
    /* The missing middle arrives late: alone, it completes nothing. */
    v4frag(&p, 3, 16, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, 16 * SEC, &pkt, &len));
    /* Expiry also runs on the next fragment. */
    v4frag(&p, 4, 0, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, 30 * SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_TIMEOUT], 2);
    cr_assert_eq(ipfrag_stats(f)->reassembled, 0);
    ipfrag_free(f);
}

Test(ipfrag, datagram_bound_drops_oldest)
{
    make_udp(40);
    struct ipfrag_cfg cfg = {.max_datagrams = 2};
    struct ipfrag *f = ipfrag_new(&cfg);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    for (uint16_t id = 1; id <= 3; id++) {
        v4frag(&p, id, 0, 16, true, NULL, 0);
        cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    }
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 2);
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_BOUND], 1);
    /* id 1 was the oldest: its rest no longer completes it; id 3 completes. */
    v4frag(&p, 1, 16, 32, false, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v4frag(&p, 3, 16, 32, false, NULL, 0);
    cr_assert(ipfrag_add(f, &p, SEC, &pkt, &len));
    check_udp(pkt, len, FLOW_DLT_IPV4);
    ipfrag_free(f);
}

Test(ipfrag, byte_bound)
{
    make_udp(60000);
    struct ipfrag_cfg cfg = {.max_bytes = 100000};
    struct ipfrag *f = ipfrag_new(&cfg);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    /* Two datagrams whose last fragments sit at 59000: ~60 KB buffers each. */
    v4frag(&p, 1, 59000, 1008, false, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_leq(ipfrag_stats(f)->held_bytes, 100000);
    v4frag(&p, 2, 59000, 1008, false, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_leq(ipfrag_stats(f)->held_bytes, 100000);
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 1);
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_BOUND], 1);
    ipfrag_free(f);
}

Test(ipfrag, oversize_and_inconsistent)
{
    make_udp(40);
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    /* Ends beyond 65535 - 20 bytes of payload. */
    uint8_t big[64];
    memset(big, 1, sizeof(big));
    v4frag(&p, 5, 65480, 64, false, big, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_OVERSIZE], 1);
    /* MF with a length not a multiple of 8. */
    v4frag(&p, 6, 0, 12, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_INCONSISTENT], 1);
    /* Two different ends: the datagram is dropped. */
    v4frag(&p, 7, 0, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v4frag(&p, 7, 32, 16, false, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v4frag(&p, 7, 16, 8, false, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_INCONSISTENT], 2);
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 0);
    /* An end before data already held. */
    v4frag(&p, 8, 32, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v4frag(&p, 8, 8, 8, false, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_INCONSISTENT], 3);
    cr_assert_eq(ipfrag_stats(f)->held_bytes, 0);
    ipfrag_free(f);
}

Test(ipfrag, snaplen_cut_fragment)
{
    make_udp(40);
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    v4frag(&p, 11, 0, 16, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v4frag(&p, 11, 16, 32, false, NULL, 10); /* 10 bytes not captured */
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_TRUNCATED], 1);
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 0);
    ipfrag_free(f);
}

Test(ipfrag, too_many_pieces)
{
    make_udp(4000);
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    for (uint32_t i = 0; i < IPFRAG_MAX_PIECES; i++) {
        v4frag(&p, 12, i * 16, 8, true, NULL, 0);
        cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    }
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 1);
    v4frag(&p, 12, IPFRAG_MAX_PIECES * 16, 8, true, NULL, 0);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->dropped[IPFRAG_DROP_PIECES], 1);
    cr_assert_eq(ipfrag_stats(f)->held_datagrams, 0);
    cr_assert_eq(ipfrag_stats(f)->held_bytes, 0);
    ipfrag_free(f);
}

Test(ipfrag, ipv6_out_of_order)
{
    make_udp(1400); /* 1408 bytes: 1232 + 176 */
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    const uint8_t *pkt;
    uint32_t len;
    v6frag(&p, 0xdeadbeef, 1232, 176, false);
    cr_assert_eq(p.frag_nh, 17);
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    v6frag(&p, 0xdeadbeef, 0, 1232, true);
    cr_assert(ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(len, 40 + 1408);
    struct flow_pkt r;
    flow_parse(pkt, len, FLOW_DLT_IPV6, &r);
    cr_assert_eq(r.family, 6);
    cr_assert_eq(memcmp(r.src, p.src, 16), 0);
    cr_assert_eq(memcmp(r.dst, p.dst, 16), 0);
    check_udp(pkt, len, FLOW_DLT_IPV6);
    ipfrag_free(f);
}

Test(ipfrag, not_a_fragment_is_ignored)
{
    struct ipfrag *f = ipfrag_new(NULL);
    struct flow_pkt p;
    memset(&p, 0, sizeof(p));
    p.kind = FLOW_PKT_IP;
    p.family = 4;
    const uint8_t *pkt;
    uint32_t len;
    cr_assert(!ipfrag_add(f, &p, SEC, &pkt, &len));
    cr_assert_eq(ipfrag_stats(f)->fragments, 0);
    cr_assert_str_eq(ipfrag_drop_name(IPFRAG_DROP_BOUND), "bound");
    cr_assert_str_eq(ipfrag_drop_name(IPFRAG_DROP_COUNT), "unknown");
    ipfrag_free(f);
    ipfrag_free(NULL);
}
