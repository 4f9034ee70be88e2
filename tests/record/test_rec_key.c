/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rec_key.c - interned record keys (ns_rec_key and the ns_rec_add_*_k
 * adders in core/ns_rec.c, host->rec_key): handles, invalid names, many names,
 * concurrent registration, each adder, and records built with names, with
 * handles and with both compared byte for byte (JSON, read-back, get, remove,
 * clone).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_fake_host.h"
#include "ns_rec.h"

static char *json_of(const struct ns_record *r)
{
    char *buf = NULL;
    size_t cap = 0, len = 0;
    cr_assert_eq(ns_rec_to_json(r, &buf, &cap, &len), 0);
    cr_assert_lt(len, cap);
    buf[len] = 0;
    const char *err = ns_fake_json_check(buf, len);
    cr_assert_null(err, "invalid JSON (%s): %s", err, buf);
    return buf;
}

Test(rec_key, same_name_same_handle)
{
    uint32_t a = ns_rec_key("source.ip"), b = ns_rec_key("destination.ip");
    cr_assert_neq(a, 0);
    cr_assert_neq(b, 0);
    cr_assert_neq(a, b);
    char copy[] = "source.ip";
    cr_assert_eq(ns_rec_key(copy), a);
    copy[0] = 'S';
    cr_assert_neq(ns_rec_key(copy), a);
    cr_assert_eq(ns_rec_key("source.ip"), a);
    /* The host table offers the same calls. */
    const struct ns_host *h = ns_fake_host();
    cr_assert(NS_HOST_HAS(h, rec_key));
    cr_assert(NS_HOST_HAS(h, rec_begin_object_k));
    cr_assert_eq(h->rec_key("source.ip"), a);
    cr_assert_eq(h->abi_minor, 1);
}

Test(rec_key, invalid_names)
{
    cr_assert_eq(ns_rec_key(NULL), 0);
    cr_assert_eq(ns_rec_key(""), 0);
    char *k = malloc(NS_REC_MAX_KEY + 2);
    memset(k, 'k', NS_REC_MAX_KEY + 1);
    k[NS_REC_MAX_KEY + 1] = 0;
    cr_assert_eq(ns_rec_key(k), 0);
    k[NS_REC_MAX_KEY] = 0; /* exactly the limit: fine */
    uint32_t id = ns_rec_key(k);
    cr_assert_neq(id, 0);
    struct ns_record *r = ns_rec_new(NS_REC_OTHER, 1);
    cr_assert_eq(ns_rec_add_uint_k(r, id, 1), 0);
    struct ns_field_view v;
    cr_assert(ns_rec_get(r, k, &v));
    cr_assert_eq(v.v.u, 1);
    ns_rec_release(r);
    free(k);
}

Test(rec_key, many_names)
{
    enum { N = 5000 };
    static uint32_t ids[N];
    char name[64];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "many.key.%d", i);
        ids[i] = ns_rec_key(name);
        cr_assert_neq(ids[i], 0);
        for (int j = i - 3; j >= 0 && j < i; j++)
            cr_assert_neq(ids[i], ids[j]);
    }
    for (int i = N - 1; i >= 0; i--) {
        snprintf(name, sizeof(name), "many.key.%d", i);
        cr_assert_eq(ns_rec_key(name), ids[i], "%s", name);
    }
    struct ns_record *r = ns_rec_new(NS_REC_OTHER, 1);
    for (int i = 0; i < N; i += 97)
        cr_assert_eq(ns_rec_add_int_k(r, ids[i], i), 0);
    struct ns_field_view v;
    for (int i = 0; i < N; i += 97) {
        snprintf(name, sizeof(name), "many.key.%d", i);
        cr_assert(ns_rec_get(r, name, &v), "%s", name);
        cr_assert_eq(v.v.i, i);
    }
    ns_rec_release(r);
}

#define THREADS 4
#define PER_THREAD 2000

static uint32_t thr_ids[THREADS][PER_THREAD];

/* Every thread registers the same names (in a different order) and a few of
 * its own, and builds records with them meanwhile. */
static void *reg_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    char name[64];
    for (int i = 0; i < PER_THREAD; i++) {
        int k = ((t % 2 ? PER_THREAD - 1 - i : i) + t * 37) % PER_THREAD; /* a permutation */
        snprintf(name, sizeof(name), "conc.%d", k);
        thr_ids[t][k] = ns_rec_key(name);
        snprintf(name, sizeof(name), "own.%d.%d", t, i);
        uint32_t own = ns_rec_key(name);
        struct ns_record *r = ns_rec_new(NS_REC_OTHER, 1);
        if (!r || !own || ns_rec_add_uint_k(r, own, (uint64_t)i) != 0 ||
            ns_rec_add_uint_k(r, thr_ids[t][k], 1) != 0)
            return (void *)1;
        struct ns_field_view v;
        if (!ns_rec_get(r, name, &v) || v.v.u != (uint64_t)i)
            return (void *)1;
        ns_rec_release(r);
    }
    return NULL;
}

Test(rec_key, concurrent_registration)
{
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, reg_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++) {
        void *rv;
        pthread_join(th[t], &rv);
        cr_assert_null(rv, "thread %d failed", t);
    }
    char name[64];
    for (int k = 0; k < PER_THREAD; k++) {
        cr_assert_neq(thr_ids[0][k], 0);
        for (int t = 1; t < THREADS; t++)
            cr_assert_eq(thr_ids[t][k], thr_ids[0][k], "key %d thread %d", k, t);
        snprintf(name, sizeof(name), "conc.%d", k);
        cr_assert_eq(ns_rec_key(name), thr_ids[0][k]);
    }
}

Test(rec_key, every_adder)
{
    struct ns_ip ip4 = {.family = 4, .a = {192, 0, 2, 1}};
    const uint8_t mac[6] = {0xaa, 0xbb, 0xcc, 0x00, 0x01, 0xff};
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 123);
    cr_assert_eq(ns_rec_add_bool_k(r, ns_rec_key("b"), true), 0);
    cr_assert_eq(ns_rec_add_int_k(r, ns_rec_key("i"), -42), 0);
    cr_assert_eq(ns_rec_add_uint_k(r, ns_rec_key("u"), UINT64_MAX), 0);
    cr_assert_eq(ns_rec_add_double_k(r, ns_rec_key("d"), 2.5), 0);
    cr_assert_eq(ns_rec_add_str_k(r, ns_rec_key("s"), "a\0b", 3), 0);
    cr_assert_eq(ns_rec_add_str_k(r, ns_rec_key("snull"), NULL, 5), 0);
    cr_assert_eq(ns_rec_add_ip_k(r, ns_rec_key("ip"), &ip4), 0);
    cr_assert_eq(ns_rec_add_mac_k(r, ns_rec_key("mac"), mac), 0);
    cr_assert_eq(ns_rec_add_time_k(r, ns_rec_key("t"), 1704164645123456789ull), 0);
    cr_assert_eq(ns_rec_begin_array_k(r, ns_rec_key("arr")), 0);
    cr_assert_eq(ns_rec_add_uint_k(r, 0, 7), 0); /* in an array: key ignored */
    cr_assert_eq(ns_rec_begin_object_k(r, 0), 0);
    cr_assert_eq(ns_rec_add_uint_k(r, ns_rec_key("x"), 1), 0);
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_begin_object_k(r, ns_rec_key("obj")), 0);
    cr_assert_eq(ns_rec_add_str_k(r, ns_rec_key("k\"q"), "v", 1), 0);
    cr_assert_eq(ns_rec_end(r), 0);
    char *j = json_of(r);
    cr_assert_str_eq(j, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"arr\":[7,{\"x\":1}],"
                        "\"b\":true,\"d\":2.5,\"event\":{\"dataset\":\"netscope.flow\"},"
                        "\"i\":-42,\"ip\":\"192.0.2.1\",\"mac\":\"aa:bb:cc:00:01:ff\","
                        "\"obj\":{\"k\\\"q\":\"v\"},\"s\":\"a\\u0000b\",\"snull\":\"\","
                        "\"t\":\"2024-01-02T03:04:05.123456Z\",\"u\":18446744073709551615}");
    free(j);
    struct ns_field_view v;
    cr_assert(ns_rec_field_at(r, 0, &v));
    cr_assert_str_eq(v.key, "b");
    cr_assert(ns_rec_field_at(r, 10, &v));
    cr_assert_null(v.key); /* array item */
    cr_assert(ns_rec_get(r, "s", &v));
    cr_assert_eq(v.v.s.len, 3);
    cr_assert_eq(memcmp(v.v.s.ptr, "a\0b", 3), 0);
    ns_rec_release(r);
}

Test(rec_key, errors)
{
    struct ns_record *r = ns_rec_new(NS_REC_OTHER, 1);
    uint32_t k = ns_rec_key("ok");
    uint32_t bad = 0x7ffffff0u; /* never issued */
    cr_assert_eq(ns_rec_add_uint_k(r, 0, 1), -EINVAL);
    cr_assert_eq(ns_rec_add_uint_k(r, bad, 1), -EINVAL);
    cr_assert_eq(ns_rec_add_bool_k(r, 0, 1), -EINVAL);
    cr_assert_eq(ns_rec_add_int_k(r, 0, 1), -EINVAL);
    cr_assert_eq(ns_rec_add_double_k(r, 0, 1), -EINVAL);
    cr_assert_eq(ns_rec_add_str_k(r, 0, "x", 1), -EINVAL);
    cr_assert_eq(ns_rec_add_time_k(r, 0, 1), -EINVAL);
    cr_assert_eq(ns_rec_add_mac_k(r, k, NULL), -EINVAL);
    struct ns_ip badip = {.family = 5};
    cr_assert_eq(ns_rec_add_ip_k(r, k, &badip), -EINVAL);
    cr_assert_eq(ns_rec_add_ip_k(r, 0, &(struct ns_ip){.family = 4}), -EINVAL);
    cr_assert_eq(ns_rec_begin_array_k(r, 0), -EINVAL);
    /* A failed begin skips to its end, as with names. */
    cr_assert_eq(ns_rec_add_uint_k(r, k, 1), -ENOMEM);
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_begin_object_k(r, bad), -EINVAL);
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_add_str_k(r, k, "x", NS_REC_MAX_BYTES), -ENOMEM);
    cr_assert_eq(ns_rec_field_count(r), 0);
    cr_assert_eq(ns_rec_add_uint_k(r, k, 1), 0);
    cr_assert_eq(ns_rec_field_count(r), 1);
    ns_rec_release(r);
}

/* ---- the same records built three ways ---------------------------------- */

enum op_kind { O_UINT, O_INT, O_STR, O_IP, O_MAC, O_TIME, O_BOOL, O_DBL, O_ARR, O_OBJ, O_END };

struct op {
    enum op_kind k;
    const char *key; /* NULL inside arrays */
    uint64_t u;
    const char *s;
};

enum mode { BY_NAME, BY_ID, MIXED };

static void build(struct ns_record *r, const struct op *ops, size_t n, enum mode m)
{
    static const struct ns_ip ip = {.family = 6, .a = {0x20, 0x01, 0x0d, 0xb8, [15] = 7}};
    static const uint8_t mac[6] = {1, 2, 3, 4, 5, 6};
    for (size_t i = 0; i < n; i++) {
        const struct op *o = &ops[i];
        bool id = m == BY_ID || (m == MIXED && i % 2 == 1);
        uint32_t kid = id && o->key ? ns_rec_key(o->key) : 0;
        int rc = 0;
        switch (o->k) {
        case O_UINT:
            rc = id ? ns_rec_add_uint_k(r, kid, o->u) : ns_rec_add_uint(r, o->key, o->u);
            break;
        case O_INT:
            rc = id ? ns_rec_add_int_k(r, kid, -(int64_t)o->u)
                    : ns_rec_add_int(r, o->key, -(int64_t)o->u);
            break;
        case O_STR:
            rc = id ? ns_rec_add_str_k(r, kid, o->s, strlen(o->s))
                    : ns_rec_add_cstr(r, o->key, o->s);
            break;
        case O_IP:
            rc = id ? ns_rec_add_ip_k(r, kid, &ip) : ns_rec_add_ip(r, o->key, &ip);
            break;
        case O_MAC:
            rc = id ? ns_rec_add_mac_k(r, kid, mac) : ns_rec_add_mac(r, o->key, mac);
            break;
        case O_TIME:
            rc = id ? ns_rec_add_time_k(r, kid, o->u) : ns_rec_add_time(r, o->key, o->u);
            break;
        case O_BOOL:
            rc = id ? ns_rec_add_bool_k(r, kid, o->u) : ns_rec_add_bool(r, o->key, o->u);
            break;
        case O_DBL:
            rc = id ? ns_rec_add_double_k(r, kid, o->u / 4.0)
                    : ns_rec_add_double(r, o->key, o->u / 4.0);
            break;
        case O_ARR:
            rc = id ? ns_rec_begin_array_k(r, kid) : ns_rec_begin_array(r, o->key);
            break;
        case O_OBJ:
            rc = id ? ns_rec_begin_object_k(r, kid) : ns_rec_begin_object(r, o->key);
            break;
        case O_END:
            rc = ns_rec_end(r);
            break;
        }
        cr_assert_eq(rc, 0, "op %zu (%s) mode %d", i, o->key ? o->key : "-", (int)m);
    }
}

static const struct op flow_ops[] = {
    {O_STR, "event.kind", 0, "event"},
    {O_STR, "event.category", 0, "network"},
    {O_ARR, "event.type", 0, NULL},
    {O_STR, NULL, 0, "connection"},
    {O_STR, NULL, 0, "end"},
    {O_END, NULL, 0, NULL},
    {O_STR, "event.action", 0, "network_flow"},
    {O_TIME, "event.start", 1704164645000000000ull, NULL},
    {O_TIME, "event.end", 1704164646000000000ull, NULL},
    {O_UINT, "event.duration", 1000000000, NULL},
    {O_IP, "source.ip", 0, NULL},
    {O_UINT, "source.port", 52000, NULL},
    {O_MAC, "source.mac", 0, NULL},
    {O_UINT, "source.bytes", 1234, NULL},
    {O_UINT, "source.packets", 12, NULL},
    {O_IP, "destination.ip", 0, NULL},
    {O_UINT, "destination.port", 443, NULL},
    {O_UINT, "destination.bytes", 99999, NULL},
    {O_UINT, "destination.packets", 70, NULL},
    {O_UINT, "network.bytes", 101233, NULL},
    {O_STR, "network.transport", 0, "tcp"},
    {O_STR, "network.iana_number", 0, "6"},
    {O_STR, "network.community_id", 0, "1:abc"},
    {O_BOOL, "netscope.flow.ok", 1, NULL},
    {O_DBL, "netscope.flow.ratio", 3, NULL},
    {O_INT, "netscope.flow.neg", 5, NULL},
    {O_STR, "netscope.flow.end_reason", 0, "fin"},
    {O_UINT, "netscope.flow.delta.source.bytes", 1, NULL},
    {O_UINT, "source.port", 1, NULL}, /* a duplicate: the first is written */
    {O_STR, "we\"ird\\key", 0, "esc"},
};

static const struct op dns_ops[] = {
    {O_STR, "event.kind", 0, "event"},
    {O_UINT, "dns.id", 4660, NULL},
    {O_ARR, "dns.answers", 0, NULL},
    {O_OBJ, NULL, 0, NULL},
    {O_STR, "name", 0, "example.com"},
    {O_STR, "type", 0, "A"},
    {O_UINT, "ttl", 300, NULL},
    {O_STR, "data", 0, "192.0.2.1"},
    {O_END, NULL, 0, NULL},
    {O_OBJ, NULL, 0, NULL},
    {O_STR, "name", 0, "example.com"},
    {O_STR, "type", 0, "AAAA"},
    {O_UINT, "ttl", 60, NULL},
    {O_OBJ, "extra.obj", 0, NULL},
    {O_UINT, "x.y", 1, NULL},
    {O_END, NULL, 0, NULL},
    {O_END, NULL, 0, NULL},
    {O_END, NULL, 0, NULL},
    {O_ARR, "dns.header_flags", 0, NULL},
    {O_STR, NULL, 0, "RD"},
    {O_STR, NULL, 0, "RA"},
    {O_END, NULL, 0, NULL},
    {O_STR, "dns.question.name", 0, "example.com"},
    {O_OBJ, "dns.opt", 0, NULL},
    {O_UINT, "udp_size", 1232, NULL},
    {O_END, NULL, 0, NULL},
    {O_IP, "source.ip", 0, NULL},
};

static void same_three_ways(const struct op *ops, size_t n, const char *const *probe, size_t np)
{
    struct ns_record *r[3];
    char *j[3];
    for (int m = 0; m < 3; m++) {
        r[m] = ns_rec_new(NS_REC_DNS, 1704164645000000000ull);
        cr_assert_not_null(r[m]);
        build(r[m], ops, n, (enum mode)m);
    }
    /* Twice each: the second run replays the cached plan. */
    for (int pass = 0; pass < 2; pass++) {
        for (int m = 0; m < 3; m++)
            j[m] = json_of(r[m]);
        cr_assert_str_eq(j[1], j[0]);
        cr_assert_str_eq(j[2], j[0]);
        for (int m = 0; m < 3; m++)
            free(j[m]);
    }
    cr_assert_eq(ns_rec_field_count(r[1]), ns_rec_field_count(r[0]));
    cr_assert_eq(ns_rec_field_count(r[2]), ns_rec_field_count(r[0]));
    for (size_t i = 0; i < ns_rec_field_count(r[0]); i++) {
        struct ns_field_view a, b;
        for (int m = 1; m < 3; m++) {
            cr_assert(ns_rec_field_at(r[0], i, &a));
            cr_assert(ns_rec_field_at(r[m], i, &b));
            cr_assert_eq(a.type, b.type);
            cr_assert_eq(a.depth, b.depth);
            cr_assert_eq(!a.key, !b.key, "entry %zu", i);
            if (a.key)
                cr_assert_str_eq(b.key, a.key);
        }
    }
    /* get, clone, remove: the same results. */
    for (size_t p = 0; p < np; p++) {
        struct ns_field_view a, b;
        bool fa = ns_rec_get(r[0], probe[p], &a);
        for (int m = 1; m < 3; m++) {
            cr_assert_eq(ns_rec_get(r[m], probe[p], &b), fa, "%s", probe[p]);
            if (fa) {
                cr_assert_eq(a.type, b.type);
                cr_assert_str_eq(b.key, a.key);
            }
        }
    }
    struct ns_record *c[3];
    for (int m = 0; m < 3; m++) {
        c[m] = ns_rec_clone(r[m]);
        cr_assert_not_null(c[m]);
        ns_rec_release(r[m]);
    }
    for (size_t p = 0; p < np; p += 2) {
        size_t ra = ns_rec_remove(c[0], probe[p]);
        for (int m = 1; m < 3; m++)
            cr_assert_eq(ns_rec_remove(c[m], probe[p]), ra, "%s", probe[p]);
    }
    for (int m = 0; m < 3; m++)
        j[m] = json_of(c[m]);
    cr_assert_str_eq(j[1], j[0]);
    cr_assert_str_eq(j[2], j[0]);
    for (int m = 0; m < 3; m++) {
        free(j[m]);
        ns_rec_release(c[m]);
    }
}

Test(rec_key, flow_like_same_output)
{
    static const char *const probe[] = {"source.port",   "event.type", "nope",      "we\"ird\\key",
                                        "network.bytes", "source",     "event.kind"};
    same_three_ways(flow_ops, sizeof(flow_ops) / sizeof(flow_ops[0]), probe,
                    sizeof(probe) / sizeof(probe[0]));
}

Test(rec_key, dns_like_same_output)
{
    static const char *const probe[] = {
        "dns.answers", "dns.id", "name", "dns.opt", "source.ip", "udp_size", "dns.header_flags"};
    same_three_ways(dns_ops, sizeof(dns_ops) / sizeof(dns_ops[0]), probe,
                    sizeof(probe) / sizeof(probe[0]));
}

/* The adders' fast paths (room in the inline block, top level or an array
 * item) and their fall-back at the edge: string values of every length 0..70
 * (each copy branch, bytes of every kind, a NUL inside), top-level and as
 * array items, until the record has grown out of its inline block twice;
 * built by name and by handle, the same entries, bytes and JSON. */
Test(rec_key, fast_path_edges)
{
    char val[80], key[32];
    for (int i = 0; i < (int)sizeof(val); i++)
        val[i] = (char)(i % 7 == 3 ? 0 : i % 5 == 1 ? 0xe9 : i % 11 == 2 ? '"' : 'a' + i % 26);
    for (uint32_t len = 0; len <= 70; len++) {
        struct ns_record *r[2];
        for (int m = 0; m < 2; m++) {
            r[m] = ns_rec_new(NS_REC_FLOW, 1704164645000000000ull);
            cr_assert_not_null(r[m]);
            for (int f = 0; f < 150; f++) {
                snprintf(key, sizeof(key), "k%d.f%d", f % 9, f);
                uint32_t kid = ns_rec_key(key);
                int rc;
                if (f % 10 == 9) {
                    rc = m ? ns_rec_begin_array_k(r[m], kid) : ns_rec_begin_array(r[m], key);
                    cr_assert_eq(rc, 0);
                    for (int k = 0; k < 3; k++)
                        cr_assert_eq(ns_rec_add_str(r[m], NULL, val + k, len), 0);
                    cr_assert_eq(ns_rec_end(r[m]), 0);
                } else if (f % 10 == 4) {
                    rc = m ? ns_rec_add_uint_k(r[m], kid, (uint64_t)f * len)
                           : ns_rec_add_uint(r[m], key, (uint64_t)f * len);
                } else {
                    rc = m ? ns_rec_add_str_k(r[m], kid, val + f % 5, len)
                           : ns_rec_add_str(r[m], key, val + f % 5, len);
                }
                cr_assert_eq(rc, 0, "len %u field %d mode %d", len, f, m);
            }
        }
        cr_assert_eq(ns_rec_field_count(r[1]), ns_rec_field_count(r[0]));
        for (size_t i = 0; i < ns_rec_field_count(r[0]); i++) {
            struct ns_field_view a, b;
            cr_assert(ns_rec_field_at(r[0], i, &a));
            cr_assert(ns_rec_field_at(r[1], i, &b));
            cr_assert_eq(a.type, b.type);
            cr_assert_eq(a.depth, b.depth);
            if (a.type == NS_F_STR) {
                cr_assert_eq(b.v.s.len, a.v.s.len);
                cr_assert_eq(memcmp(b.v.s.ptr, a.v.s.ptr, a.v.s.len + 1), 0, "len %u", len);
            }
        }
        char *j0 = json_of(r[0]), *j1 = json_of(r[1]);
        cr_assert_str_eq(j1, j0);
        free(j0);
        free(j1);
        ns_rec_release(r[0]);
        ns_rec_release(r[1]);
    }
}

/* Plans are cached per key list: a record with handles, then the same keys
 * copied, then handles again (same hash slot or not) all write the same. */
Test(rec_key, plan_cache_across_kinds)
{
    char *first = NULL;
    for (int round = 0; round < 6; round++) {
        struct ns_record *r = ns_rec_new(NS_REC_FLOW, 5);
        build(r, flow_ops, sizeof(flow_ops) / sizeof(flow_ops[0]), (enum mode)(round % 3));
        char *j = json_of(r);
        if (!first)
            first = j;
        else {
            cr_assert_str_eq(j, first, "round %d", round);
            free(j);
        }
        ns_rec_release(r);
    }
    free(first);
}

/* plugins/common/ns_rec_keys.h: with a 1.1 host the table gets handles; with
 * a host table of ABI 1.0 (ends before rec_key) every key stays 0 and the
 * adders pass names. Both give the same record. */
#include "../../plugins/common/ns_rec_keys.h"

static void keyed_build(const struct ns_host *h, struct ns_record *r, struct ns_key *k)
{
    static const struct ns_ip ip = {.family = 4, .a = {10, 0, 0, 1}};
    static const uint8_t mac[6] = {1, 2, 3, 4, 5, 6};
    cr_assert_eq(ns_key_cstr(h, r, &k[0], "event"), 0);
    cr_assert_eq(ns_key_array(h, r, &k[1]), 0);
    cr_assert_eq(h->rec_add_cstr(r, NULL, "protocol"), 0);
    cr_assert_eq(h->rec_end(r), 0);
    cr_assert_eq(ns_key_ip(h, r, &k[2], &ip), 0);
    cr_assert_eq(ns_key_uint(h, r, &k[3], 53), 0);
    cr_assert_eq(ns_key_int(h, r, &k[4], -1), 0);
    cr_assert_eq(ns_key_bool(h, r, &k[5], true), 0);
    cr_assert_eq(ns_key_double(h, r, &k[6], 0.5), 0);
    cr_assert_eq(ns_key_mac(h, r, &k[7], mac), 0);
    cr_assert_eq(ns_key_time(h, r, &k[8], 1000), 0);
    cr_assert_eq(ns_key_object(h, r, &k[9]), 0);
    cr_assert_eq(ns_key_str(h, r, &k[10], "v", 1), 0);
    cr_assert_eq(h->rec_end(r), 0);
}

Test(rec_key, plugin_table_and_old_host)
{
    static const char *const names[11] = {"event.kind", "event.type", "source.ip", "source.port",
                                          "x.int",      "x.bool",     "x.dbl",     "source.mac",
                                          "event.end",  "dns.opt",    "inner.k"};
    struct ns_key k1[11], k0[11];
    for (int i = 0; i < 11; i++)
        k1[i] = k0[i] = (struct ns_key){names[i], 0};
    int ready1 = 0, ready0 = 0;
    const struct ns_host *h = ns_fake_host();
    ns_keys_ready(h, k1, 11, &ready1);
    cr_assert_eq(ready1, 1);
    for (int i = 0; i < 11; i++)
        cr_assert_eq(k1[i].id, ns_rec_key(names[i]));
    /* A 1.0 host: the table ends before rec_key, its tail is not there. */
    struct ns_host old = *h;
    old.size = (uint32_t)offsetof(struct ns_host, rec_key);
    old.abi_minor = 0;
    old.rec_key = NULL;
    old.rec_add_uint_k = NULL;
    old.rec_add_str_k = NULL;
    old.rec_begin_array_k = NULL;
    cr_assert(!NS_HOST_HAS(&old, rec_key));
    ns_keys_ready(&old, k0, 11, &ready0);
    for (int i = 0; i < 11; i++)
        cr_assert_eq(k0[i].id, 0);
    struct ns_record *a = ns_rec_new(NS_REC_DNS, 7), *b = ns_rec_new(NS_REC_DNS, 7);
    keyed_build(h, a, k1);
    keyed_build(&old, b, k0);
    char *ja = json_of(a), *jb = json_of(b);
    cr_assert_str_eq(ja, jb);
    free(ja);
    free(jb);
    ns_rec_release(a);
    ns_rec_release(b);
}
