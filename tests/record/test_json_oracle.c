/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_json_oracle.c - the record serialiser (core/ns_json.c: layout plans,
 * cached timestamps, own IPv6 text) against the serialiser it replaced, kept
 * as json_oracle.c: byte-for-byte identical output on random and tricky
 * records (reopened prefixes, a key that is both a value and a prefix, empty
 * segments, keys deeper than 16 levels, escaped keys, arrays of objects,
 * objects in objects, unclosed blocks, removed fields, clones), on records of
 * one shape with changing values and array lengths (plan replay), on more
 * shapes than the plan cache holds (eviction, also of a slot in use up the
 * stack), with and without hostname and sequence, from several threads at
 * once; plus ns_json_format_time and ns_json_append_str against the oracle's.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_oracle.h"
#include "ns_fake_host.h"
#include "ns_json.h"
#include "ns_rec.h"
#include "rec_copy.h"

/* ---- helpers ---------------------------------------------------------- */

/* Small deterministic PRNG (xorshift64*), one state per caller. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint32_t rn(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rnd(s) >> 32) % n;
}

/* Render r with both serialisers, each appended after a prefix of `pre`
 * bytes already in the buffer, and compare. Returns false (and prints) on a
 * difference so that threads can report without Criterion asserts. */
static bool same_json(const struct ns_record *r, size_t pre, bool check_valid)
{
    char *a = NULL, *b = NULL;
    size_t acap = 0, alen = 0, bcap = 0, blen = 0;
    if (pre) {
        a = malloc(pre);
        b = malloc(pre);
        if (!a || !b)
            return false;
        memset(a, 'p', pre);
        memset(b, 'p', pre);
        acap = bcap = alen = blen = pre;
    }
    int ra = ns_rec_to_json(r, &a, &acap, &alen);
    int rb = oracle_rec_to_json(r, &b, &bcap, &blen);
    bool ok = ra == 0 && rb == 0 && alen == blen && memcmp(a, b, alen) == 0;
    if (!ok) {
        fprintf(stderr, "rc %d/%d len %zu/%zu\n new: %.*s\n old: %.*s\n", ra, rb, alen, blen,
                (int)alen, a ? a : "", (int)blen, b ? b : "");
    } else if (check_valid) {
        const char *err = ns_fake_json_check(a + pre, alen - pre);
        if (err) {
            fprintf(stderr, "invalid JSON (%s): %.*s\n", err, (int)(alen - pre), a + pre);
            ok = false;
        }
    }
    free(a);
    free(b);
    return ok;
}

/* ---- random records --------------------------------------------------- */

/* Keys that make grouping hard: shared and reopened prefixes, a value that
 * is also a prefix, the common fields' own keys, empty segments, a key
 * deeper than JW_MAX_PATH, keys that need escaping, UTF-8 and invalid bytes,
 * bytes sorting below and above '.'. */
static const char *const vocab[] = {
    "a",
    "b",
    "a.x",
    "a.y",
    "a.x.z",
    "a.b",
    "a.b.c",
    "aa",
    "a-b",
    "a/b",
    "a+",
    "A",
    "~",
    "",
    ".",
    "..",
    "a.",
    ".a",
    "a..b",
    "x\"y",
    "q\\.r",
    "\001ctl.k",
    "\xc3\xa9.\xc3\xbc",
    "\xff.bad",
    "source.ip",
    "source.port",
    "source.bytes",
    "destination.ip",
    "destination.port",
    "event.action",
    "event.dataset",
    "event.sequence",
    "event",
    "@timestamp",
    "@timestamp.x",
    "observer.hostname",
    "observer.name",
    "observer",
    "dns.answers",
    "dns",
    "dns.answers.name",
    "netscope.flow.delta.source.bytes",
    "netscope.flow.delta",
    "netscope.flow.delta.destination.packets",
    "d.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18",
    "d.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.x",
    "d.1.2",
    "d.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15",
    "a very long key that is longer than forty bytes.with a segment",
    "a very long key that is longer than forty bytes",
};
#define NVOCAB (sizeof(vocab) / sizeof(vocab[0]))

static const char *const segs[] = {"a", "b", "", "ab", "a-", "x", "\xc3\xa9", "z\"", "0"};

/* A key: from the vocabulary, or random segments. */
static const char *rand_key(uint64_t *s, char *buf, size_t size)
{
    if (rn(s, 3))
        return vocab[rn(s, NVOCAB)];
    size_t kl = 0;
    int np = 1 + (int)rn(s, 4);
    buf[0] = 0;
    for (int p = 0; p < np && kl < size; p++)
        kl += (size_t)snprintf(buf + kl, size - kl, "%s%s", p ? "." : "",
                               segs[rn(s, sizeof(segs) / sizeof(segs[0]))]);
    return buf;
}

/* IPv6 addresses that exercise RFC 5952 / inet_ntop: zero runs of every
 * length and place (ties: the first), v4-mapped and v4-compatible, words
 * with leading zeros and hex letters. */
static void rand_ip6(uint64_t *s, struct ns_ip *ip)
{
    ip->family = 6;
    uint16_t w[8];
    for (int i = 0; i < 8; i++) {
        switch (rn(s, 6)) {
        case 0:
        case 1:
        case 2:
            w[i] = 0;
            break;
        case 3:
            w[i] = (uint16_t)rn(s, 16);
            break;
        case 4:
            w[i] = 0xffff;
            break;
        default:
            w[i] = (uint16_t)rnd(s);
            break;
        }
    }
    switch (rn(s, 8)) {
    case 0: /* v4-mapped */
        memset(w, 0, 10);
        w[5] = 0xffff;
        break;
    case 1: /* v4-compatible, or ::1-like */
        memset(w, 0, 12);
        break;
    case 2: /* nearly v4-mapped */
        memset(w, 0, 10);
        w[5] = (uint16_t)rn(s, 3) + 0xfffe;
        w[rn(s, 5)] = (uint16_t)rn(s, 2);
        break;
    default:
        break;
    }
    for (int i = 0; i < 8; i++) {
        ip->a[2 * i] = (uint8_t)(w[i] >> 8);
        ip->a[2 * i + 1] = (uint8_t)w[i];
    }
}

/* A time: around now, any second of any day (cache hits and misses), the
 * epoch, leap days, the end of the uint64_t range. */
static uint64_t rand_time(uint64_t *s)
{
    static const uint64_t fixed[] = {0,
                                     999,
                                     1000000000ull,
                                     951782400ull * 1000000000ull, /* 2000-02-29 */
                                     4107542399ull * 1000000000ull + 999999999ull,
                                     UINT64_MAX,
                                     UINT64_MAX - 999999999ull};
    switch (rn(s, 4)) {
    case 0:
        return fixed[rn(s, sizeof(fixed) / sizeof(fixed[0]))];
    case 1:
        return rnd(s);
    default:
        return 1704164645000000000ull + (uint64_t)rn(s, 5) * 1000000000ull + rn(s, 1000000000);
    }
}

static void rand_str(uint64_t *s, char *buf, size_t *len)
{
    static const char pool[] = "abcXYZ019 -_.:/\"\\\x01\x1f\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98"
                               "\x80\xff\xc0\x80\xed\xa0\x80";
    size_t n = rn(s, 48);
    if (rn(s, 2)) {
        /* Mostly plain: the fast paths, with one odd byte somewhere. */
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + rn(s, 26));
        if (n && rn(s, 2))
            buf[rn(s, (uint32_t)n)] = pool[rn(s, sizeof(pool) - 1)];
    } else {
        for (size_t i = 0; i < n; i++)
            buf[i] = pool[rn(s, sizeof(pool) - 1)];
    }
    *len = n;
}

static void add_scalar(struct ns_record *r, const char *key, uint64_t *s)
{
    char str[64];
    size_t sl;
    switch (rn(s, 10)) {
    case 0:
        ns_rec_add_bool(r, key, rn(s, 2));
        break;
    case 1: {
        static const int64_t iv[] = {0, -1, 1, INT64_MIN, INT64_MAX, -9, 10, -100, 99};
        ns_rec_add_int(r, key, rn(s, 2) ? iv[rn(s, 9)] : (int64_t)rnd(s) >> rn(s, 64));
        break;
    }
    case 2: {
        uint64_t v = rnd(s) >> rn(s, 64);
        if (rn(s, 4) == 0)
            v = rn(s, 3) ? (uint64_t)1 << rn(s, 64) : UINT64_MAX;
        if (rn(s, 4) == 0) {
            /* Powers of ten and their neighbours: digit-count edges. */
            uint64_t p = 1;
            for (uint32_t k = rn(s, 20); k > 0; k--)
                p *= 10;
            v = p - 1 + rn(s, 2);
        }
        ns_rec_add_uint(r, key, v);
        break;
    }
    case 3: {
        static const double dv[] = {0.0, -0.0, 1.25, 1e300, -1e-300, 0.1, 123456789.0};
        double d = rn(s, 2) ? dv[rn(s, 7)] : (double)(int64_t)rnd(s) / 3.0;
        if (rn(s, 10) == 0)
            d = rn(s, 2) ? NAN : -INFINITY;
        ns_rec_add_double(r, key, d);
        break;
    }
    case 4:
    case 5:
        rand_str(s, str, &sl);
        ns_rec_add_str(r, key, str, sl);
        break;
    case 6: {
        struct ns_ip ip = {.family = 4};
        for (int i = 0; i < 4; i++)
            ip.a[i] = (uint8_t)(rn(s, 3) ? rnd(s) : rn(s, 2) ? 0 : rn(s, 12) * 10 + rn(s, 2) * 5);
        if (rn(s, 2))
            rand_ip6(s, &ip);
        if (rn(s, 30) == 0)
            ip.family = 6; /* a[] left as is */
        ns_rec_add_ip(r, key, &ip);
        break;
    }
    case 7: {
        uint8_t mac[6];
        for (int i = 0; i < 6; i++)
            mac[i] = (uint8_t)rnd(s);
        ns_rec_add_mac(r, key, mac);
        break;
    }
    case 8:
        ns_rec_add_time(r, key, rand_time(s));
        break;
    default:
        ns_rec_add_cstr(r, key, rn(s, 2) ? "tcp" : NULL);
        break;
    }
}

/* Fields of one block: scalars, arrays (of scalars, objects, arrays) and
 * objects (inside objects too), some left unclosed at the end. */
static void rand_fields(struct ns_record *r, uint64_t *s, int depth, bool in_array, int nf)
{
    for (int f = 0; f < nf; f++) {
        char kb[64];
        const char *key = in_array ? NULL : rand_key(s, kb, sizeof(kb));
        uint32_t what = rn(s, depth < 3 ? 14 : 10);
        if (what < 10) {
            add_scalar(r, key, s);
        } else if (what < 12) {
            ns_rec_begin_array(r, key);
            rand_fields(r, s, depth + 1, true, (int)rn(s, 5));
            if (rn(s, 16))
                ns_rec_end(r);
            else if (depth == 0)
                return; /* left open to the end */
        } else {
            ns_rec_begin_object(r, key);
            rand_fields(r, s, depth + 1, false, (int)rn(s, 7));
            if (rn(s, 16))
                ns_rec_end(r);
            else if (depth == 0)
                return;
        }
    }
}

static struct ns_record *rand_record(uint64_t *s)
{
    struct ns_record *r = ns_rec_new((enum ns_rec_type)(1 + rn(s, 13)), rand_time(s));
    if (rn(s, 4))
        ns_rec_set_seq(r, rnd(s) >> rn(s, 64));
    rand_fields(r, s, 0, false, (int)rn(s, 45));
    if (rn(s, 8) == 0) {
        char kb[64];
        ns_rec_remove(r, rand_key(s, kb, sizeof(kb)));
    }
    if (rn(s, 8) == 0) {
        struct ns_record *c = ns_rec_clone(r);
        ns_rec_release(r);
        r = c;
    }
    return r;
}

Test(json_oracle, random_records)
{
    static const char *const hosts[] = {NULL, "sensor-1", "we\"ird\n\xff"};
    uint64_t s = 0x1234567887654321ull;
    for (int round = 0; round < 3; round++) {
        ns_json_set_hostname(hosts[round]);
        oracle_json_set_hostname(hosts[round]);
        for (int i = 0; i < 4000; i++) {
            struct ns_record *r = rand_record(&s);
            cr_assert_not_null(r);
            /* Twice: the first may build the plan, the second replays it. */
            cr_assert(same_json(r, 0, i % 8 == 0), "record %d round %d", i, round);
            cr_assert(same_json(r, i % 3, false), "record %d round %d (again)", i, round);
            ns_rec_release(r);
        }
    }
    ns_json_set_hostname(NULL);
    oracle_json_set_hostname(NULL);
}

/* ---- interned keys ----------------------------------------------------- */

Test(json_oracle, interned_keys)
{
    uint64_t s = 0x0badc0ffee15600dull;
    for (int i = 0; i < 3000; i++) {
        struct ns_record *r = rand_record(&s);
        cr_assert_not_null(r);
        for (int m = 0; m < 2; m++) {
            /* Keys interned (all, or every other one): the adders' fast paths,
             * and plans matched by key words or by bytes. */
            struct ns_record *c = rec_copy(r, m == 1 ? REC_COPY_MIXED : REC_COPY_INTERNED);
            cr_assert_not_null(c);
            /* Twice: build the plan (or meet one made from copied keys), then
             * replay it. */
            cr_assert(same_json(c, 0, i % 8 == 0), "record %d mode %d", i, m);
            cr_assert(same_json(c, (size_t)i % 3, false), "record %d mode %d (again)", i, m);
            char *a = NULL, *b = NULL;
            size_t acap = 0, alen = 0, bcap = 0, blen = 0;
            cr_assert_eq(ns_rec_to_json(r, &a, &acap, &alen), 0);
            cr_assert_eq(ns_rec_to_json(c, &b, &bcap, &blen), 0);
            cr_assert(alen == blen && memcmp(a, b, alen) == 0, "record %d mode %d\n%.*s\n%.*s", i,
                      m, (int)alen, a, (int)blen, b);
            free(a);
            free(b);
            ns_rec_release(c);
        }
        ns_rec_release(r);
    }
}

/* ---- one shape, many values ------------------------------------------- */

/* A flow-like record whose keys never change but whose values, string
 * lengths and array/object sizes do: the entry indices behind the plan's
 * unit ordinals move. */
static struct ns_record *shaped(uint64_t *s, int variant)
{
    struct ns_record *r = ns_rec_new(NS_REC_DNS, rand_time(s));
    ns_rec_set_seq(r, 1 + rn(s, 1000));
    ns_rec_add_cstr(r, "event.action", "dns_transaction");
    add_scalar(r, "source.ip", s);
    ns_rec_add_uint(r, "source.port", rn(s, 65536));
    ns_rec_begin_array(r, "dns.answers");
    for (uint32_t k = rn(s, 4); k > 0; k--) {
        ns_rec_begin_object(r, NULL);
        add_scalar(r, "name", s);
        add_scalar(r, "ttl", s);
        ns_rec_begin_array(r, "data.list");
        for (uint32_t m = rn(s, 3); m > 0; m--)
            add_scalar(r, NULL, s);
        ns_rec_end(r);
        add_scalar(r, "type", s);
        ns_rec_end(r);
    }
    ns_rec_end(r);
    add_scalar(r, "destination.ip", s);
    add_scalar(r, variant ? "a" : "b", s); /* two shapes of one size */
    add_scalar(r, "a.b", s);
    add_scalar(r, "source.bytes", s);
    add_scalar(r, "event.dataset", s); /* overrides the common field */
    return r;
}

Test(json_oracle, one_shape_many_values)
{
    uint64_t s = 99;
    for (int i = 0; i < 3000; i++) {
        struct ns_record *r = shaped(&s, i % 2);
        cr_assert(same_json(r, 0, i < 50), "record %d", i);
        ns_rec_release(r);
    }
}

/* ---- more shapes than the cache holds --------------------------------- */

Test(json_oracle, cache_eviction)
{
    uint64_t s = 7;
    /* 1000 top-level shapes of few sizes (hash slot collisions, equal sizes
     * with different keys), visited twice in different orders. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 1000; i++) {
            int id = pass ? (i * 7) % 1000 : i;
            struct ns_record *r = ns_rec_new(NS_REC_FLOW, 1704164645000000000ull);
            char key[32];
            for (int k = 0; k < 4; k++) {
                snprintf(key, sizeof(key), "g%d.k%d", (id >> (k * 3)) & 7, k);
                ns_rec_add_uint(r, key, (uint64_t)id);
            }
            add_scalar(r, "z", &s);
            cr_assert(same_json(r, 0, false), "shape %d pass %d", id, pass);
            ns_rec_release(r);
        }
    }
    /* One record whose array holds 2000 objects of distinct shapes: their
     * plans take every slot, the top level's included, while the top level's
     * plan is being replayed (ASan catches a plan freed in use). */
    for (int round = 0; round < 2; round++) {
        struct ns_record *r = ns_rec_new(NS_REC_OTHER, 5);
        ns_rec_add_uint(r, "before.x", 1);
        ns_rec_begin_array(r, "list");
        for (int i = 0; i < 2000; i++) {
            char key[32];
            ns_rec_begin_object(r, NULL);
            snprintf(key, sizeof(key), "k%d", i);
            ns_rec_add_uint(r, key, (uint64_t)i);
            snprintf(key, sizeof(key), "o.%d", i * 31 % 977);
            ns_rec_begin_object(r, key);
            ns_rec_add_uint(r, "y", 1);
            ns_rec_end(r);
            ns_rec_end(r);
        }
        ns_rec_end(r);
        ns_rec_add_uint(r, "after.x", 2);
        cr_assert(same_json(r, 0, true), "round %d", round);
        ns_rec_release(r);
    }
}

/* ---- big blocks ------------------------------------------------------- */

Test(json_oracle, big_blocks)
{
    uint64_t s = 3;
    for (int n = 250; n <= 600; n += 50) {
        struct ns_record *r = ns_rec_new(NS_REC_FLOW, 1);
        char key[32];
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof(key), "g%u.k%u", rn(&s, 9), rn(&s, 400));
            ns_rec_add_uint(r, key, (uint64_t)i);
        }
        ns_rec_begin_array(r, "arr");
        ns_rec_begin_object(r, NULL);
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof(key), "m%u.n%u", rn(&s, 5), rn(&s, 300));
            ns_rec_add_uint(r, key, (uint64_t)i);
        }
        ns_rec_end(r);
        ns_rec_end(r);
        cr_assert(same_json(r, 0, true), "n %d", n);
        cr_assert(same_json(r, 0, false), "n %d (again)", n);
        ns_rec_release(r);
    }
    /* Keys of the maximum length, escaped: a plan too big to keep. */
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 1);
    char key[NS_REC_MAX_KEY + 1];
    for (int i = 0; i < 12; i++) {
        memset(key, i % 2 ? '\x01' : 'k', NS_REC_MAX_KEY);
        key[NS_REC_MAX_KEY] = 0;
        key[i] = '.';
        key[NS_REC_MAX_KEY - 1 - i] = '.';
        ns_rec_add_uint(r, key, (uint64_t)i);
    }
    cr_assert(same_json(r, 0, true));
    cr_assert(same_json(r, 0, false));
    ns_rec_release(r);
}

/* ---- threads ---------------------------------------------------------- */

static void *thread_main(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < 1500; i++) {
        struct ns_record *r = i % 3 ? rand_record(&s) : shaped(&s, i % 2);
        bool ok = r && same_json(r, 0, false);
        ns_rec_release(r);
        if (!ok)
            return (void *)1;
    }
    return NULL;
}

Test(json_oracle, threads)
{
    ns_json_set_hostname("h");
    oracle_json_set_hostname("h");
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, thread_main, (void *)(i * 1000 + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        cr_assert_null(rv, "thread %d saw a difference", i);
    }
}

/* ---- times and strings ------------------------------------------------ */

Test(json_oracle, format_time)
{
    uint64_t s = 11;
    char a[NS_JSON_TIME_LEN + 1], b[NS_JSON_TIME_LEN + 1];
    for (int i = 0; i < 200000; i++) {
        uint64_t t = rand_time(&s);
        if (i % 5 == 0)
            t = (uint64_t)i * 86399999999ull; /* every day boundary region */
        cr_assert_eq(ns_json_format_time(a, t), NS_JSON_TIME_LEN);
        cr_assert_eq(oracle_json_format_time(b, t), NS_JSON_TIME_LEN);
        cr_assert_str_eq(a, b, "ts %llu", (unsigned long long)t);
    }
}

Test(json_oracle, append_str)
{
    uint64_t s = 5;
    char in[64];
    for (int i = 0; i < 100000; i++) {
        size_t n;
        rand_str(&s, in, &n);
        char *a = NULL, *b = NULL;
        size_t ac = 0, al = 0, bc = 0, bl = 0;
        cr_assert_eq(ns_json_append_str(&a, &ac, &al, in, n), 0);
        cr_assert_eq(oracle_json_append_str(&b, &bc, &bl, in, n), 0);
        cr_assert(al == bl && memcmp(a, b, al) == 0, "%.*s vs %.*s", (int)al, a, (int)bl, b);
        free(a);
        free(b);
    }
}

/* Every zero/non-zero pattern of the eight IPv6 words (every run length and
 * position, ties), with values of each hex length, and the IPv4 tails. */
Test(json_oracle, ip6_patterns)
{
    static const uint16_t vals[] = {1, 0x10, 0xabc, 0xffff, 0x1f00};
    for (unsigned mask = 0; mask < 256; mask++) {
        for (unsigned v = 0; v < 5; v++) {
            struct ns_record *r = ns_rec_new(NS_REC_FLOW, 1);
            struct ns_ip ip = {.family = 6};
            for (int i = 0; i < 8; i++) {
                uint16_t w = (mask >> i) & 1 ? vals[(v + (unsigned)i) % 5] : 0;
                ip.a[2 * i] = (uint8_t)(w >> 8);
                ip.a[2 * i + 1] = (uint8_t)w;
            }
            ns_rec_add_ip(r, "ip", &ip);
            ip.a[10] = ip.a[11] = 0xff; /* ::ffff:... when the rest is zero */
            ns_rec_add_ip(r, "mapped", &ip);
            ip.a[11] = 0xfe;
            ns_rec_add_ip(r, "nearly", &ip);
            cr_assert(same_json(r, 0, false), "mask %#x v %u", mask, v);
            ns_rec_release(r);
        }
    }
}
