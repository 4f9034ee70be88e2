/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_json.c - the record serialiser (core/ns_json.c): exact output for
 * nesting, sorting, merging of the common fields, escaping of every byte and
 * of invalid UTF-8, value formats; every output is checked by a strict JSON
 * parser (ns_fake_json_check: also rejects duplicate keys) and, in one test,
 * by Python's json module.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ns_fake_host.h"
#include "ns_json.h"
#include "ns_rec.h"

#define TS 1704164645123456789ull /* 2024-01-02T03:04:05.123456789Z */
#define TS_TEXT "2024-01-02T03:04:05.123456Z"

static char *json_of(const struct ns_record *r)
{
    char *buf = NULL;
    size_t cap = 0, len = 0;
    cr_assert_eq(ns_rec_to_json(r, &buf, &cap, &len), 0);
    cr_assert_lt(len, cap);
    buf[len] = 0;
    cr_assert_eq(strlen(buf), len, "no raw NUL in the output");
    const char *err = ns_fake_json_check(buf, len);
    cr_assert_null(err, "invalid JSON (%s): %s", err, buf);
    return buf;
}

#define EXPECT_JSON(rec, expected)                                                                 \
    do {                                                                                           \
        char *j_ = json_of(rec);                                                                   \
        cr_assert_str_eq(j_, expected, "\n got: %s\nwant: %s", j_, expected);                      \
        free(j_);                                                                                  \
    } while (0)

Test(json, flow_record)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, TS);
    ns_rec_set_seq(r, 42);
    struct ns_ip a = {.family = 4, .a = {10, 0, 0, 1}}, b = {.family = 4, .a = {10, 0, 0, 2}};
    ns_rec_add_ip(r, "source.ip", &a);
    ns_rec_add_uint(r, "source.port", 12345);
    ns_rec_add_ip(r, "destination.ip", &b);
    ns_rec_add_uint(r, "destination.port", 53);
    ns_rec_add_cstr(r, "network.transport", "udp");
    ns_rec_add_cstr(r, "event.action", "flow_end");
    ns_rec_add_time(r, "event.start", TS - 1000000000ull);
    ns_rec_add_uint(r, "event.duration", 1000000000ull);
    EXPECT_JSON(r, "{\"@timestamp\":\"" TS_TEXT "\","
                   "\"destination\":{\"ip\":\"10.0.0.2\",\"port\":53},"
                   "\"event\":{\"action\":\"flow_end\",\"dataset\":\"netscope.flow\","
                   "\"duration\":1000000000,\"sequence\":42,"
                   "\"start\":\"2024-01-02T03:04:04.123456Z\"},"
                   "\"network\":{\"transport\":\"udp\"},"
                   "\"source\":{\"ip\":\"10.0.0.1\",\"port\":12345}}");
    ns_rec_release(r);
}

Test(json, empty_record_and_hostname)
{
    struct ns_record *r = ns_rec_new(NS_REC_ARP, 0);
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"event\":{\"dataset\":\"netscope.arp\"}}");
    ns_json_set_hostname("sensor-1");
    ns_rec_add_cstr(r, "observer.ingress.interface.name", "eth0");
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"event\":{\"dataset\":\"netscope.arp\"},"
                   "\"observer\":{\"hostname\":\"sensor-1\","
                   "\"ingress\":{\"interface\":{\"name\":\"eth0\"}}}}");
    ns_json_set_hostname("we\"ird\n");
    ns_rec_remove(r, "observer.ingress.interface.name");
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"event\":{\"dataset\":\"netscope.arp\"},"
                   "\"observer\":{\"hostname\":\"we\\\"ird\\u000a\"}}");
    ns_json_set_hostname(NULL);
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"event\":{\"dataset\":\"netscope.arp\"}}");
    ns_rec_release(r);
}

Test(json, producer_overrides_common_fields)
{
    ns_json_set_hostname("agent");
    struct ns_record *r = ns_rec_new(NS_REC_OTHER, TS);
    ns_rec_set_seq(r, 9);
    ns_rec_add_cstr(r, "event.dataset", "redis.stream");
    ns_rec_add_cstr(r, "@timestamp", "from-producer");
    ns_rec_add_uint(r, "event.sequence", 1);
    ns_rec_add_cstr(r, "observer.hostname", "other");
    ns_rec_add_cstr(r, "event.kind", "event");
    EXPECT_JSON(r, "{\"@timestamp\":\"from-producer\","
                   "\"event\":{\"dataset\":\"redis.stream\",\"kind\":\"event\",\"sequence\":1},"
                   "\"observer\":{\"hostname\":\"other\"}}");
    ns_rec_release(r);
    /* Without an override, NS_REC_OTHER says netscope.other. */
    r = ns_rec_new(NS_REC_OTHER, TS);
    EXPECT_JSON(r, "{\"@timestamp\":\"" TS_TEXT "\",\"event\":{\"dataset\":\"netscope.other\"},"
                   "\"observer\":{\"hostname\":\"agent\"}}");
    ns_rec_release(r);
}

Test(json, sorting_groups_prefixes)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    /* Deliberately interleaved, with keys that sort between "a" and "a.x"
     * in plain byte order ('-' and '!' are below '.'). */
    ns_rec_add_uint(r, "a.y", 1);
    ns_rec_add_uint(r, "a-b", 2);
    ns_rec_add_uint(r, "z", 3);
    ns_rec_add_uint(r, "a.x.deep", 4);
    ns_rec_add_uint(r, "a!", 5);
    ns_rec_add_uint(r, "a.x.alpha", 6);
    ns_rec_add_uint(r, "b.c", 7);
    ns_rec_add_uint(r, "a.a", 8);
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"a\":{\"a\":8,\"x\":{\"alpha\":6,\"deep\":4},\"y\":1},"
                   "\"a!\":5,\"a-b\":2,\"b\":{\"c\":7},"
                   "\"event\":{\"dataset\":\"netscope.flow\"},\"z\":3}");
    ns_rec_release(r);
}

Test(json, duplicates_and_conflicts)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    ns_rec_add_uint(r, "dup", 1);
    ns_rec_add_uint(r, "dup", 2);
    ns_rec_add_uint(r, "a", 1);   /* a value ... */
    ns_rec_add_uint(r, "a.b", 2); /* ... and an object at the same name */
    ns_rec_add_uint(r, "a.c.d", 3);
    ns_rec_add_uint(r, "x.y", 1);   /* object first ... */
    ns_rec_add_uint(r, "x", 2);     /* ... then a value: sorts first anyway */
    ns_rec_add_uint(r, "event", 5); /* clashes with the common event.* */
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"a\":1,\"a.b\":2,\"a.c.d\":3,\"dup\":1,"
                   "\"event\":5,\"event.dataset\":\"netscope.flow\","
                   "\"x\":2,\"x.y\":1}");
    ns_rec_release(r);
}

Test(json, odd_keys)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    ns_rec_add_uint(r, "", 1);
    ns_rec_add_uint(r, "q\"k\\\x01", 2);
    ns_rec_add_uint(r, "trail.", 3);
    ns_rec_add_uint(r, ".lead", 4);
    ns_rec_add_uint(r, "d..d", 5);
    /* "" is written as a value first, so ".lead" stays flat (no duplicate ""). */
    EXPECT_JSON(r, "{\"\":1,\".lead\":4,\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"d\":{\"\":{\"d\":5}},\"event\":{\"dataset\":\"netscope.flow\"},"
                   "\"q\\\"k\\\\\\u0001\":2,\"trail\":{\"\":3}}");
    ns_rec_release(r);
}

Test(json, odd_keys_conflict_free)
{
    /* "" as a value then ".lead": the object must not reuse the name "". */
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    ns_rec_add_uint(r, "", 1);
    ns_rec_add_uint(r, ".lead", 4);
    char *j = json_of(r); /* json_of rejects duplicate keys */
    free(j);
    ns_rec_release(r);
}

Test(json, deep_dotted_key)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    ns_rec_add_uint(r, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s", 1);
    ns_rec_add_uint(r, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.t", 2);
    ns_rec_add_uint(r, "a.b.z", 3);
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"a\":{\"b\":{\"c\":{\"d\":"
                   "{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":{\"m\":{\"n\":{\"o\":"
                   "{\"p\":{\"q.r.s\":1,\"q.r.t\":2}}}}}}}}}}}}}},\"z\":3}},"
                   "\"event\":{\"dataset\":\"netscope.flow\"}}");
    ns_rec_release(r);
}

Test(json, arrays)
{
    struct ns_record *r = ns_rec_new(NS_REC_DNS, 0);
    ns_rec_begin_array(r, "dns.header_flags");
    ns_rec_add_cstr(r, NULL, "RD");
    ns_rec_add_cstr(r, NULL, "RA");
    ns_rec_end(r);
    ns_rec_add_cstr(r, "dns.type", "answer");
    ns_rec_begin_array(r, "empty");
    ns_rec_end(r);
    ns_rec_begin_object(r, "obj.inner");
    ns_rec_end(r);
    ns_rec_begin_array(r, "matrix");
    ns_rec_begin_array(r, NULL);
    ns_rec_add_int(r, NULL, 1);
    ns_rec_add_int(r, NULL, -2);
    ns_rec_end(r);
    ns_rec_begin_array(r, NULL);
    ns_rec_end(r);
    ns_rec_begin_object(r, NULL);
    ns_rec_begin_object(r, "o");
    ns_rec_add_bool(r, "t", false);
    ns_rec_end(r);
    ns_rec_end(r);
    ns_rec_end(r);
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"dns\":{\"header_flags\":[\"RD\",\"RA\"],\"type\":\"answer\"},"
                   "\"empty\":[],\"event\":{\"dataset\":\"netscope.dns\"},"
                   "\"matrix\":[[1,-2],[],{\"o\":{\"t\":false}}],\"obj\":{\"inner\":{}}}");
    ns_rec_release(r);
}

Test(json, unclosed_blocks_are_closed)
{
    struct ns_record *r = ns_rec_new(NS_REC_DNS, 0);
    ns_rec_add_uint(r, "z", 1);
    ns_rec_begin_array(r, "a");
    ns_rec_begin_object(r, NULL);
    ns_rec_begin_array(r, "b");
    ns_rec_add_uint(r, NULL, 7);
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"a\":[{\"b\":[7]}],"
                   "\"event\":{\"dataset\":\"netscope.dns\"},\"z\":1}");
    ns_rec_release(r);
}

static void expect_str(const char *in, size_t len, const char *want)
{
    char *buf = NULL;
    size_t cap = 0, blen = 0;
    cr_assert_eq(ns_json_append_str(&buf, &cap, &blen, in, len), 0);
    cr_assert_eq(blen, strlen(want), "byte string of %zu: got %.*s want %s", len, (int)blen, buf,
                 want);
    cr_assert_eq(memcmp(buf, want, blen), 0, "got %.*s want %s", (int)blen, buf, want);
    const char *err = ns_fake_json_check(buf, blen);
    cr_assert_null(err, "%s: %.*s", err, (int)blen, buf);
    free(buf);
}

Test(json, every_byte)
{
    for (int c = 0; c < 256; c++) {
        char in[1] = {(char)c}, want[16];
        if (c < 0x20 || c >= 0x80)
            snprintf(want, sizeof(want), "\"\\u00%02x\"", c);
        else if (c == '"' || c == '\\')
            snprintf(want, sizeof(want), "\"\\%c\"", c);
        else
            snprintf(want, sizeof(want), "\"%c\"", c);
        expect_str(in, 1, want);
    }
    /* And all 256 in one string, inside a record. */
    char all[256];
    for (int c = 0; c < 256; c++)
        all[c] = (char)c;
    struct ns_record *r = ns_rec_new(NS_REC_HTTP, 0);
    ns_rec_add_str(r, "url.original", all, sizeof(all));
    free(json_of(r));
    ns_rec_release(r);
}

Test(json, utf8)
{
    expect_str("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");                       /* U+00E9 */
    expect_str("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");                     /* U+20AC */
    expect_str("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");             /* U+1F600 */
    expect_str("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");             /* U+10FFFF */
    expect_str("\xef\xbf\xbd", 3, "\"\xef\xbf\xbd\"");                     /* U+FFFD */
    expect_str("\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\"");                     /* U+2028 */
    expect_str("\xc0\x80", 2, "\"\\u00c0\\u0080\"");                       /* overlong NUL */
    expect_str("\xc1\xbf", 2, "\"\\u00c1\\u00bf\"");                       /* overlong */
    expect_str("\xe0\x80\xaf", 3, "\"\\u00e0\\u0080\\u00af\"");            /* overlong '/' */
    expect_str("\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\"");            /* surrogate */
    expect_str("\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\""); /* > U+10FFFF */
    expect_str("\xf5\x80", 2, "\"\\u00f5\\u0080\"");
    expect_str("\xe2\x82", 2, "\"\\u00e2\\u0082\"");   /* truncated */
    expect_str("\xe2\x82x", 3, "\"\\u00e2\\u0082x\""); /* interrupted */
    expect_str("a\xc3", 2, "\"a\\u00c3\"");            /* cut at the end */
    expect_str("\x80\xbf", 2, "\"\\u0080\\u00bf\"");   /* lone continuations */
    expect_str("\xc3\xa9\xff\xc3\xa9", 5, "\"\xc3\xa9\\u00ff\xc3\xa9\"");
    expect_str("", 0, "\"\"");
    expect_str(NULL, 5, "\"\"");
}

/* Every 1- and 2-byte string and a few thousand random 3-6 byte strings
 * escape to valid JSON. */
Test(json, byte_pairs_and_random)
{
    char *buf = NULL;
    size_t cap = 0;
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            char in[2] = {(char)a, (char)b};
            size_t len = 0;
            cr_assert_eq(ns_json_append_str(&buf, &cap, &len, in, 2), 0);
            const char *err = ns_fake_json_check(buf, len);
            cr_assert_null(err, "%02x %02x: %s", a, b, err);
        }
    }
    srand(1);
    for (int i = 0; i < 20000; i++) {
        char in[6];
        size_t n = 3 + (size_t)(rand() % 4), len = 0;
        for (size_t k = 0; k < n; k++)
            in[k] = (char)(rand() % 8 == 0 ? rand() % 256 : 0x80 + rand() % 0x78);
        cr_assert_eq(ns_json_append_str(&buf, &cap, &len, in, n), 0);
        const char *err = ns_fake_json_check(buf, len);
        cr_assert_null(err, "%s", err);
    }
    free(buf);
}

Test(json, values)
{
    struct ns_record *r = ns_rec_new(NS_REC_METRIC, 0);
    ns_rec_add_int(r, "i.min", INT64_MIN);
    ns_rec_add_int(r, "i.max", INT64_MAX);
    ns_rec_add_int(r, "i.zero", 0);
    ns_rec_add_uint(r, "u.max", UINT64_MAX);
    ns_rec_add_double(r, "d.half", 0.5);
    ns_rec_add_double(r, "d.nan", NAN);
    ns_rec_add_double(r, "d.inf", INFINITY);
    ns_rec_add_double(r, "d.ninf", -INFINITY);
    ns_rec_add_double(r, "d.big", 1e300);
    ns_rec_add_double(r, "d.tenth", 0.1);
    ns_rec_add_bool(r, "b.t", true);
    ns_rec_add_bool(r, "b.f", false);
    struct ns_ip v6 = {.family = 6, .a = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
    struct ns_ip lo6 = {.family = 6, .a = {[15] = 1}};
    struct ns_ip v4 = {.family = 4, .a = {255, 0, 9, 100}};
    ns_rec_add_ip(r, "ip.v6", &v6);
    ns_rec_add_ip(r, "ip.lo6", &lo6);
    ns_rec_add_ip(r, "ip.v4", &v4);
    const uint8_t mac[6] = {0x00, 0x1b, 0x2c, 0xaa, 0xbb, 0xff};
    ns_rec_add_mac(r, "mac", mac);
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"b\":{\"f\":false,\"t\":true},"
                   "\"d\":{\"big\":1.0000000000000001e+300,\"half\":0.5,\"inf\":null,"
                   "\"nan\":null,\"ninf\":null,\"tenth\":0.10000000000000001},"
                   "\"event\":{\"dataset\":\"netscope.metric\"},"
                   "\"i\":{\"max\":9223372036854775807,\"min\":-9223372036854775808,\"zero\":0},"
                   "\"ip\":{\"lo6\":\"::1\",\"v4\":\"255.0.9.100\",\"v6\":\"2001:db8::1\"},"
                   "\"mac\":\"00:1b:2c:aa:bb:ff\",\"u\":{\"max\":18446744073709551615}}");
    ns_rec_release(r);
}

Test(json, times)
{
    char t[NS_JSON_TIME_LEN + 1];
    struct {
        uint64_t ns;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000000Z"},
        {TS, TS_TEXT},
        {1709251199999999999ull, "2024-02-29T23:59:59.999999Z"},
        {951868800000000000ull, "2000-03-01T00:00:00.000000Z"},
        {946684799000001000ull, "1999-12-31T23:59:59.000001Z"},
        {UINT64_MAX, "2554-07-21T23:34:33.709551Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(ns_json_format_time(t, cases[i].ns), NS_JSON_TIME_LEN);
        cr_assert_str_eq(t, cases[i].want);
    }
}

Test(json, appends_to_caller_buffer)
{
    struct ns_record *r = ns_rec_new(NS_REC_GAP, 0);
    char *buf = malloc(4);
    size_t cap = 4, len = 3;
    memcpy(buf, "ab\n", 3);
    cr_assert_eq(ns_rec_to_json(r, &buf, &cap, &len), 0);
    cr_assert_eq(ns_rec_to_json(r, &buf, &cap, &len), 0);
    cr_assert_leq(len, cap);
    const char *one = "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                      "\"event\":{\"dataset\":\"netscope.gap\"}}";
    size_t ol = strlen(one);
    cr_assert_eq(len, 3 + 2 * ol);
    cr_assert_eq(memcmp(buf, "ab\n", 3), 0);
    cr_assert_eq(memcmp(buf + 3, one, ol), 0);
    cr_assert_eq(memcmp(buf + 3 + ol, one, ol), 0);
    free(buf);
    ns_rec_release(r);
}

Test(json, many_fields_use_heap_sort)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    char key[32];
    /* 300 keys in reverse order across 3 groups. */
    for (int i = 299; i >= 0; i--) {
        snprintf(key, sizeof(key), "g%d.k%03d", i % 3, i);
        ns_rec_add_uint(r, key, (uint64_t)i);
    }
    char *j = json_of(r);
    cr_assert(strstr(j, "\"g0\":{\"k000\":0,\"k003\":3,"), "%.200s", j);
    cr_assert(strstr(j, "\"k297\":297},\"g1\":{\"k001\":1,"));
    free(j);
    ns_rec_release(r);
}

/* Random records: random dotted keys over a tiny alphabet (many prefix
 * collisions, duplicates, value/object clashes), random types and nesting.
 * Every output must be valid JSON with no duplicate key. */
static void random_record(struct ns_record *r, unsigned *seed)
{
    static const char *const parts[] = {"a", "b", "a.b", "", "ab", "a-", "x.y.z", "é"};
    int nf = rand_r(seed) % 40;
    for (int f = 0; f < nf; f++) {
        char key[64] = "";
        size_t kl = 0;
        int np = 1 + rand_r(seed) % 3;
        for (int p = 0; p < np; p++)
            kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "%s%s", p ? "." : "",
                                   parts[rand_r(seed) % 8]);
        switch (rand_r(seed) % 6) {
        case 0:
            ns_rec_add_uint(r, key, (uint64_t)rand_r(seed));
            break;
        case 1:
            ns_rec_add_cstr(r, key, "v\x01\xff");
            break;
        case 2:
            ns_rec_add_double(r, key, rand_r(seed) % 2 ? NAN : 1.25);
            break;
        case 3: {
            ns_rec_begin_array(r, key);
            int items = rand_r(seed) % 4;
            for (int k = 0; k < items; k++) {
                if (rand_r(seed) % 2) {
                    ns_rec_begin_object(r, NULL);
                    ns_rec_add_uint(r, parts[rand_r(seed) % 8], 1);
                    ns_rec_end(r);
                } else {
                    ns_rec_add_bool(r, NULL, true);
                }
            }
            if (rand_r(seed) % 8)
                ns_rec_end(r);
            else
                return; /* left open */
            break;
        }
        case 4:
            ns_rec_remove(r, key);
            break;
        default:
            ns_rec_add_time(r, key, (uint64_t)rand_r(seed) * 1000);
            break;
        }
    }
}

Test(json, random_records_are_valid)
{
    ns_json_set_hostname("h");
    unsigned seed = 12345;
    char *buf = NULL;
    size_t cap = 0;
    for (int i = 0; i < 5000; i++) {
        struct ns_record *r = ns_rec_new((enum ns_rec_type)(1 + i % 13), (uint64_t)i * 7919);
        ns_rec_set_seq(r, (uint64_t)i);
        random_record(r, &seed);
        size_t len = 0;
        cr_assert_eq(ns_rec_to_json(r, &buf, &cap, &len), 0);
        const char *err = ns_fake_json_check(buf, len);
        cr_assert_null(err, "record %d: %s: %.*s", i, err, (int)len, buf);
        struct ns_record *c = ns_rec_clone(r);
        size_t len2 = 0;
        char *buf2 = NULL;
        size_t cap2 = 0;
        cr_assert_eq(ns_rec_to_json(c, &buf2, &cap2, &len2), 0);
        cr_assert(len == len2 && memcmp(buf, buf2, len) == 0, "clone differs");
        free(buf2);
        ns_rec_release(c);
        ns_rec_release(r);
    }
    free(buf);
}

/* A second opinion from a different parser: Python's json module, with a
 * hook that rejects duplicate keys. Skipped when python3 is missing. */
Test(json, python_agrees)
{
    if (system("python3 -c 'import json' >/dev/null 2>&1") != 0) {
        cr_skip_test("python3 not available");
    }
    char path[] = "/tmp/ns_json_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    unsigned seed = 777;
    ns_json_set_hostname("py");
    char *buf = NULL;
    size_t cap = 0;
    for (int i = 0; i < 500; i++) {
        struct ns_record *r = ns_rec_new(NS_REC_FLOW, (uint64_t)i);
        random_record(r, &seed);
        char all[256];
        for (int c = 0; c < 256; c++)
            all[c] = (char)c;
        ns_rec_add_str(r, "bytes", all, sizeof(all));
        size_t len = 0;
        cr_assert_eq(ns_rec_to_json(r, &buf, &cap, &len), 0);
        fwrite(buf, 1, len, f);
        fputc('\n', f);
        ns_rec_release(r);
    }
    free(buf);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "python3 -c '\n"
             "import json, sys\n"
             "def hook(pairs):\n"
             "    keys = [k for k, _ in pairs]\n"
             "    assert len(keys) == len(set(keys)), keys\n"
             "    return dict(pairs)\n"
             "n = 0\n"
             "for line in open(sys.argv[1], \"rb\"):\n"
             "    json.loads(line.decode(\"utf-8\", \"strict\"), object_pairs_hook=hook)\n"
             "    n += 1\n"
             "assert n == 500, n\n"
             "' %s",
             path);
    int rc = system(cmd);
    unlink(path);
    cr_assert_eq(rc, 0, "python3 rejected the output");
}

/* The checker the tests rely on must itself reject what it should. */
Test(json, checker_rejects_bad_json)
{
    const char *bad[] = {
        "{\"a\":1,\"a\":2}", "{\"a\":1,}", "[1,]",
        "{\"a\":\"\x01\"}",  "\"\xc3\"",   "\"\xed\xa0\x80\"",
        "{\"a\":01}",        "{} x",       "",
        "\"\\x\"",           "nul",        "{\"a\" 1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not_null(ns_fake_json_check(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
    const char *good[] = {"{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}", "-0.5e+3", "\"\\u00ff\"",
                          " [true,false,null] "};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_null(ns_fake_json_check(good[i], strlen(good[i])), "rejected %s", good[i]);
}

/* Objects inside arrays follow the top-level rules: sorted, dotted keys
 * nested, the first of equal keys kept, value/object clashes kept flat. */
Test(json, objects_in_arrays_are_normalised)
{
    struct ns_record *r = ns_rec_new(NS_REC_TLS, 0);
    ns_rec_begin_array(r, "certs");
    ns_rec_begin_object(r, NULL);
    ns_rec_add_cstr(r, "subject.common_name", "b.example");
    ns_rec_add_cstr(r, "issuer.common_name", "CA");
    ns_rec_add_uint(r, "dup", 1);
    ns_rec_add_uint(r, "dup", 2);
    ns_rec_add_uint(r, "subject", 3);
    ns_rec_begin_array(r, "alt");
    ns_rec_begin_object(r, NULL);
    ns_rec_add_uint(r, "z", 1);
    ns_rec_add_uint(r, "a", 2);
    ns_rec_end(r);
    ns_rec_end(r);
    ns_rec_add_uint(r, "subject.serial", 4);
    ns_rec_end(r);
    ns_rec_begin_object(r, NULL);
    ns_rec_end(r);
    ns_rec_end(r);
    EXPECT_JSON(r, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\","
                   "\"certs\":[{\"alt\":[{\"a\":2,\"z\":1}],\"dup\":1,"
                   "\"issuer\":{\"common_name\":\"CA\"},\"subject\":3,"
                   "\"subject.common_name\":\"b.example\",\"subject.serial\":4},{}],"
                   "\"event\":{\"dataset\":\"netscope.tls\"}}");
    ns_rec_release(r);
}

/* An object with more members than the on-stack scratch. */
Test(json, big_object_in_array)
{
    struct ns_record *r = ns_rec_new(NS_REC_HTTP, 0);
    ns_rec_begin_array(r, "headers");
    ns_rec_begin_object(r, NULL);
    char key[16];
    for (int i = 99; i >= 0; i--) {
        snprintf(key, sizeof(key), "h%02d", i % 50); /* 50 distinct, each twice */
        ns_rec_add_uint(r, key, (uint64_t)i);
    }
    ns_rec_end(r);
    ns_rec_end(r);
    char *j = json_of(r);
    cr_assert(strstr(j, "[{\"h00\":50,\"h01\":51,"), "%.120s", j);
    cr_assert(strstr(j, "\"h49\":99}]"));
    free(j);
    ns_rec_release(r);
}

/* The per-thread plan cache (ns_json.c) must never change the output: same
 * type and field count, different keys and duplicates, in alternation. */
Test(json, sort_cache_is_exact)
{
    const char *orders[][4] = {
        {"b", "a", "c", "d"},
        {"d", "c", "b", "a"},
        {"x", "x", "a", "x"},
        {"a.b", "a", "a.a", "b"},
    };
    const char *want[] = {
        "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"a\":1,\"b\":0,\"c\":2,\"d\":3,"
        "\"event\":{\"dataset\":\"netscope.dns\"}}",
        "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"a\":3,\"b\":2,\"c\":1,\"d\":0,"
        "\"event\":{\"dataset\":\"netscope.dns\"}}",
        "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"a\":2,"
        "\"event\":{\"dataset\":\"netscope.dns\"},\"x\":0}",
        "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"a\":1,\"a.a\":2,\"a.b\":0,\"b\":3,"
        "\"event\":{\"dataset\":\"netscope.dns\"}}",
    };
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 4; k++) {
            struct ns_record *r = ns_rec_new(NS_REC_DNS, 0);
            for (int f = 0; f < 4; f++)
                ns_rec_add_uint(r, orders[k][f], (uint64_t)f);
            EXPECT_JSON(r, want[k]);
            ns_rec_release(r);
        }
    }
}
