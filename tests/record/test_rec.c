/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rec.c - records (core/ns_rec.c): building every field type, nesting,
 * read-back, removal, refcounting, cloning, limits and failure modes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
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

Test(rec, every_field_type)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 123);
    cr_assert_not_null(r);
    struct ns_ip ip4 = {.family = 4, .a = {192, 0, 2, 1}};
    struct ns_ip ip6 = {.family = 6, .a = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
    const uint8_t mac[6] = {0xaa, 0xbb, 0xcc, 0x00, 0x01, 0xff};
    cr_assert_eq(ns_rec_add_bool(r, "b", true), 0);
    cr_assert_eq(ns_rec_add_int(r, "i", -42), 0);
    cr_assert_eq(ns_rec_add_uint(r, "u", UINT64_MAX), 0);
    cr_assert_eq(ns_rec_add_double(r, "d", 2.5), 0);
    cr_assert_eq(ns_rec_add_str(r, "s", "a\0b", 3), 0);
    cr_assert_eq(ns_rec_add_cstr(r, "c", "hello"), 0);
    cr_assert_eq(ns_rec_add_cstr(r, "cnull", NULL), 0);
    cr_assert_eq(ns_rec_add_ip(r, "ip4", &ip4), 0);
    cr_assert_eq(ns_rec_add_ip(r, "ip6", &ip6), 0);
    cr_assert_eq(ns_rec_add_mac(r, "mac", mac), 0);
    cr_assert_eq(ns_rec_add_time(r, "t", 1704164645123456789ull), 0);
    cr_assert_eq(ns_rec_field_count(r), 11);

    struct ns_field_view v;
    cr_assert(ns_rec_field_at(r, 0, &v));
    cr_assert_str_eq(v.key, "b");
    cr_assert_eq(v.type, NS_F_BOOL);
    cr_assert(v.v.b);
    cr_assert_eq(v.depth, 0);
    cr_assert(ns_rec_field_at(r, 1, &v));
    cr_assert_eq(v.type, NS_F_INT);
    cr_assert_eq(v.v.i, -42);
    cr_assert(ns_rec_field_at(r, 2, &v));
    cr_assert_eq(v.type, NS_F_UINT);
    cr_assert_eq(v.v.u, UINT64_MAX);
    cr_assert(ns_rec_field_at(r, 3, &v));
    cr_assert_eq(v.type, NS_F_DOUBLE);
    cr_assert_eq(v.v.d, 2.5);
    cr_assert(ns_rec_field_at(r, 4, &v));
    cr_assert_eq(v.type, NS_F_STR);
    cr_assert_eq(v.v.s.len, 3);
    cr_assert_eq(memcmp(v.v.s.ptr, "a\0b", 4), 0, "copied with a terminating NUL");
    cr_assert(ns_rec_field_at(r, 5, &v));
    cr_assert_str_eq(v.v.s.ptr, "hello");
    cr_assert(ns_rec_field_at(r, 6, &v));
    cr_assert_eq(v.v.s.len, 0);
    cr_assert_str_eq(v.v.s.ptr, "");
    cr_assert(ns_rec_field_at(r, 7, &v));
    cr_assert_eq(v.type, NS_F_IP);
    cr_assert_eq(memcmp(&v.v.ip, &ip4, sizeof(ip4)), 0);
    cr_assert(ns_rec_field_at(r, 8, &v));
    cr_assert_eq(v.v.ip.family, 6);
    cr_assert_eq(v.v.ip.a[15], 1);
    cr_assert(ns_rec_field_at(r, 9, &v));
    cr_assert_eq(v.type, NS_F_MAC);
    cr_assert_eq(memcmp(v.v.mac, mac, 6), 0);
    cr_assert(ns_rec_field_at(r, 10, &v));
    cr_assert_eq(v.type, NS_F_TIME);
    cr_assert_eq(v.v.u, 1704164645123456789ull);
    cr_assert_not(ns_rec_field_at(r, 11, &v));

    cr_assert_eq(ns_rec_type(r), NS_REC_FLOW);
    cr_assert_eq(ns_rec_time(r), 123);
    cr_assert_eq(ns_rec_seq(r), 0);
    ns_rec_set_seq(r, 77);
    cr_assert_eq(ns_rec_seq(r), 77);
    free(json_of(r));
    ns_rec_release(r);
}

Test(rec, nested_arrays_of_objects)
{
    struct ns_record *r = ns_rec_new(NS_REC_DNS, 1);
    cr_assert_eq(ns_rec_add_cstr(r, "dns.question.name", "example.com"), 0);
    cr_assert_eq(ns_rec_begin_array(r, "dns.answers"), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ns_rec_begin_object(r, NULL), 0);
        cr_assert_eq(ns_rec_add_cstr(r, "name", "example.com"), 0);
        cr_assert_eq(ns_rec_add_uint(r, "ttl", 300 + i), 0);
        cr_assert_eq(ns_rec_begin_array(r, "tags"), 0);
        cr_assert_eq(ns_rec_add_cstr(r, "ignored-key", "x"), 0, "keys are ignored in arrays");
        cr_assert_eq(ns_rec_end(r), 0);
        cr_assert_eq(ns_rec_end(r), 0);
    }
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_end(r), -EINVAL, "nothing open");
    cr_assert_eq(ns_rec_add_cstr(r, NULL, "x"), -EINVAL, "top level needs a key");
    /* 1 + begin + 2 * (begin obj, name, ttl, begin tags, item, end, end) + end */
    cr_assert_eq(ns_rec_field_count(r), 1 + 1 + 2 * 7 + 1);

    struct ns_field_view v;
    cr_assert(ns_rec_field_at(r, 1, &v));
    cr_assert_eq(v.type, NS_F_ARRAY);
    cr_assert_str_eq(v.key, "dns.answers");
    cr_assert_eq(v.depth, 0);
    cr_assert(ns_rec_field_at(r, 2, &v));
    cr_assert_eq(v.type, NS_F_OBJECT);
    cr_assert_null(v.key);
    cr_assert_eq(v.depth, 1);
    cr_assert(ns_rec_field_at(r, 3, &v));
    cr_assert_str_eq(v.key, "name");
    cr_assert_eq(v.depth, 2);
    cr_assert(ns_rec_field_at(r, 6, &v));
    cr_assert_null(v.key, "array items have no key");
    cr_assert_eq(v.depth, 3);
    cr_assert(ns_rec_field_at(r, 7, &v));
    cr_assert_eq(v.type, NS_F_END);
    cr_assert_eq(v.depth, 2);
    cr_assert(ns_rec_field_at(r, 16, &v));
    cr_assert_eq(v.type, NS_F_END);
    cr_assert_eq(v.depth, 0);

    char *j = json_of(r);
    cr_assert_str_eq(j, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"dns\":{\"answers\":["
                        "{\"name\":\"example.com\",\"tags\":[\"x\"],\"ttl\":300},"
                        "{\"name\":\"example.com\",\"tags\":[\"x\"],\"ttl\":301}],"
                        "\"question\":{\"name\":\"example.com\"}},"
                        "\"event\":{\"dataset\":\"netscope.dns\"}}");
    free(j);
    ns_rec_release(r);
}

Test(rec, object_needs_keys_inside)
{
    struct ns_record *r = ns_rec_new(NS_REC_OTHER, 1);
    cr_assert_eq(ns_rec_begin_object(r, NULL), -EINVAL, "a top-level object needs a key");
    cr_assert_eq(ns_rec_add_uint(r, "x", 1), -ENOMEM, "inside the failed begin");
    cr_assert_eq(ns_rec_end(r), 0, "balances the failed begin");
    cr_assert_eq(ns_rec_begin_object(r, "obj"), 0);
    cr_assert_eq(ns_rec_add_uint(r, NULL, 1), -EINVAL);
    cr_assert_eq(ns_rec_add_uint(r, "k", 1), 0);
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_add_uint(r, "after", 2), 0);
    char *j = json_of(r);
    cr_assert_str_eq(j, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"after\":2,"
                        "\"event\":{\"dataset\":\"netscope.other\"},\"obj\":{\"k\":1}}");
    free(j);
    ns_rec_release(r);
}

Test(rec, get_and_remove)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 1);
    ns_rec_add_uint(r, "source.port", 1);
    ns_rec_add_cstr(r, "tag", "first");
    ns_rec_begin_array(r, "list");
    ns_rec_begin_object(r, NULL);
    ns_rec_add_cstr(r, "tag", "nested");
    ns_rec_end(r);
    ns_rec_end(r);
    ns_rec_add_cstr(r, "tag", "second");
    ns_rec_add_uint(r, "destination.port", 2);

    struct ns_field_view v;
    cr_assert(ns_rec_get(r, "tag", &v));
    cr_assert_str_eq(v.v.s.ptr, "first", "the first top-level match");
    cr_assert(ns_rec_get(r, "list", &v));
    cr_assert_eq(v.type, NS_F_ARRAY);
    cr_assert_not(ns_rec_get(r, "source", &v), "exact keys only");
    cr_assert_not(ns_rec_get(r, NULL, &v));
    cr_assert(ns_rec_get(r, "destination.port", NULL));

    cr_assert_eq(ns_rec_remove(r, "tag"), 2, "nested 'tag' is not top level");
    cr_assert_not(ns_rec_get(r, "tag", &v));
    cr_assert_eq(ns_rec_field_count(r), 7);
    cr_assert_eq(ns_rec_remove(r, "list"), 1);
    cr_assert_eq(ns_rec_field_count(r), 2);
    cr_assert_eq(ns_rec_remove(r, "nothing"), 0);
    cr_assert(ns_rec_get(r, "destination.port", &v));
    cr_assert_eq(v.v.u, 2);
    char *j = json_of(r);
    cr_assert_str_eq(j,
                     "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\"," /* 1 ns: truncated */
                     "\"destination\":{\"port\":2},\"event\":{\"dataset\":\"netscope.flow\"},"
                     "\"source\":{\"port\":1}}",
                     "%s", j);
    free(j);
    ns_rec_release(r);
}

Test(rec, remove_open_block)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    ns_rec_add_uint(r, "a", 1);
    ns_rec_begin_array(r, "arr");
    ns_rec_begin_object(r, NULL);
    ns_rec_add_uint(r, "x", 1);
    cr_assert_eq(ns_rec_remove(r, "arr"), 1);
    cr_assert_eq(ns_rec_end(r), -EINVAL, "nothing open after removing the open block");
    cr_assert_eq(ns_rec_add_uint(r, "b", 2), 0);
    cr_assert_eq(ns_rec_field_count(r), 2);
    free(json_of(r));
    ns_rec_release(r);
}

Test(rec, refcount)
{
    struct ns_record *r = ns_rec_new(NS_REC_ALERT, 5);
    ns_rec_add_cstr(r, "message", "x");
    ns_rec_ref(r);
    ns_rec_ref(r);
    ns_rec_release(r);
    ns_rec_release(r);
    cr_assert_eq(ns_rec_field_count(r), 1, "still alive with one reference");
    ns_rec_release(r); /* freed: ASan would flag a leak or a double free */
    ns_rec_release(NULL);
    ns_rec_ref(NULL);
}

static void *ref_worker(void *arg)
{
    struct ns_record *r = arg;
    for (int i = 0; i < 100000; i++) {
        ns_rec_ref(r);
        ns_rec_release(r);
    }
    ns_rec_release(r);
    return NULL;
}

Test(rec, refcount_across_threads)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 5);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        ns_rec_ref(r);
        cr_assert_eq(pthread_create(&t[i], NULL, ref_worker, r), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(__atomic_load_n(&r->refcnt, __ATOMIC_RELAXED), 1);
    ns_rec_release(r);
}

Test(rec, clone_is_deep)
{
    struct ns_record *r = ns_rec_new(NS_REC_TLS, 99);
    ns_rec_set_seq(r, 7);
    ns_rec_add_cstr(r, "tls.version", "1.3");
    ns_rec_begin_array(r, "tls.server.x509.alternative_names");
    ns_rec_add_cstr(r, NULL, "a.example");
    ns_rec_add_cstr(r, NULL, "b.example");
    ns_rec_end(r);
    /* Push the original onto the heap so both storage kinds are cloned. */
    struct ns_record *big = ns_rec_new(NS_REC_TLS, 99);
    char blob[3000];
    memset(blob, 'z', sizeof(blob));
    ns_rec_add_str(big, "blob", blob, sizeof(blob));
    ns_rec_add_uint(big, "n", 1);

    struct ns_record *c = ns_rec_clone(r), *cb = ns_rec_clone(big);
    cr_assert_not_null(c);
    cr_assert_not_null(cb);
    char *j1 = json_of(r), *j2 = json_of(c), *j3 = json_of(big), *j4 = json_of(cb);
    cr_assert_str_eq(j1, j2);
    cr_assert_str_eq(j3, j4);
    cr_assert_eq(ns_rec_seq(c), 7);
    cr_assert_eq(ns_rec_time(c), 99);
    cr_assert_eq(ns_rec_type(c), NS_REC_TLS);
    /* Changing the clone leaves the original alone. */
    ns_rec_remove(c, "tls.version");
    ns_rec_add_cstr(c, "extra", "y");
    char *j5 = json_of(r);
    cr_assert_str_eq(j1, j5);
    ns_rec_release(r);
    ns_rec_add_cstr(c, "more", "z"); /* the clone survives the original */
    free(json_of(c));
    free(j1), free(j2), free(j3), free(j4), free(j5);
    ns_rec_release(c);
    ns_rec_release(cb);
    ns_rec_release(big);
}

Test(rec, clone_while_open)
{
    struct ns_record *r = ns_rec_new(NS_REC_DNS, 0);
    ns_rec_begin_array(r, "x");
    ns_rec_add_uint(r, NULL, 1);
    struct ns_record *c = ns_rec_clone(r);
    cr_assert_eq(ns_rec_add_uint(c, NULL, 2), 0, "still inside the array");
    cr_assert_eq(ns_rec_end(c), 0);
    cr_assert_eq(ns_rec_end(r), 0);
    char *j = json_of(c);
    cr_assert(strstr(j, "\"x\":[1,2]"), "%s", j);
    free(j);
    ns_rec_release(c);
    ns_rec_release(r);
}

Test(rec, grows_and_keeps_values)
{
    struct ns_record *r = ns_rec_new(NS_REC_METRIC, 0);
    char key[32], val[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%05d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        cr_assert_eq(ns_rec_add_cstr(r, key, val), 0);
    }
    cr_assert_eq(ns_rec_field_count(r), 2000);
    for (int i = 0; i < 2000; i += 97) {
        snprintf(key, sizeof(key), "k%05d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        struct ns_field_view v;
        cr_assert(ns_rec_get(r, key, &v));
        cr_assert_str_eq(v.v.s.ptr, val);
        cr_assert_str_eq(v.key, key);
    }
    free(json_of(r));
    ns_rec_release(r);
}

Test(rec, size_bound)
{
    struct ns_record *r = ns_rec_new(NS_REC_HTTP, 0);
    uint64_t before = ns_rec_alloc_failures();
    char *blob = malloc(4096);
    memset(blob, 'x', 4096);
    int rc = 0, added = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        rc = ns_rec_add_str(r, "blob", blob, 4096);
        added += rc == 0;
    }
    cr_assert_eq(rc, -ENOMEM);
    cr_assert_gt(added, 200);
    cr_assert_lt((size_t)added * 4096, NS_REC_MAX_BYTES);
    cr_assert_leq(r->cap, NS_REC_MAX_BYTES);
    cr_assert_eq(ns_rec_alloc_failures(), before + 1);
    /* Impossible sizes fail before any arithmetic can wrap. */
    cr_assert_eq(ns_rec_add_str(r, "huge", blob, SIZE_MAX), -ENOMEM);
    cr_assert_eq(ns_rec_add_str(r, "huge", blob, NS_REC_MAX_BYTES), -ENOMEM);
    /* A failed begin: its contents fail, its end balances. */
    while (ns_rec_add_uint(r, "fill", 1) == 0)
        ;
    cr_assert_eq(ns_rec_begin_array(r, "arr"), -ENOMEM);
    cr_assert_eq(ns_rec_begin_object(r, NULL), -ENOMEM);
    cr_assert_eq(ns_rec_add_uint(r, NULL, 1), -ENOMEM);
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_end(r), -EINVAL);
    cr_assert_gt(ns_rec_alloc_failures(), before + 3);
    /* Still a valid record; a removal makes room again. */
    free(json_of(r));
    cr_assert_gt(ns_rec_remove(r, "fill"), 0);
    ns_rec_release(r);
    free(blob);
}

Test(rec, end_reserved_at_begin)
{
    /* Fill to the brim inside an array: the closing END must still fit. */
    struct ns_record *r = ns_rec_new(NS_REC_HTTP, 0);
    cr_assert_eq(ns_rec_begin_array(r, "a"), 0);
    cr_assert_eq(ns_rec_begin_object(r, NULL), 0);
    int n = 0;
    while (ns_rec_add_uint(r, "k", 1) == 0)
        n++;
    cr_assert_gt(n, 1000);
    cr_assert_eq(ns_rec_end(r), 0);
    cr_assert_eq(ns_rec_end(r), 0);
    struct ns_field_view v;
    cr_assert(ns_rec_field_at(r, ns_rec_field_count(r) - 1, &v));
    cr_assert_eq(v.type, NS_F_END);
    cr_assert_eq(v.depth, 0);
    ns_rec_release(r);
}

Test(rec, depth_limit)
{
    struct ns_record *r = ns_rec_new(NS_REC_OTHER, 0);
    cr_assert_eq(ns_rec_begin_array(r, "deep"), 0);
    for (int i = 1; i < NS_REC_MAX_DEPTH; i++)
        cr_assert_eq(ns_rec_begin_array(r, NULL), 0, "level %d", i);
    cr_assert_eq(ns_rec_begin_array(r, NULL), -EINVAL);
    cr_assert_eq(ns_rec_add_uint(r, NULL, 1), -ENOMEM);
    for (int i = 0; i <= NS_REC_MAX_DEPTH; i++)
        cr_assert_eq(ns_rec_end(r), 0, "end %d", i);
    cr_assert_eq(ns_rec_end(r), -EINVAL);
    cr_assert_eq(ns_rec_add_uint(r, "top", 1), 0);
    free(json_of(r));
    ns_rec_release(r);
}

Test(rec, bad_arguments)
{
    cr_assert_null(ns_rec_new(0, 0));
    cr_assert_null(ns_rec_new(NS_REC_TYPE_MAX, 0));
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 0);
    struct ns_ip bad = {.family = 5};
    cr_assert_eq(ns_rec_add_ip(r, "ip", &bad), -EINVAL);
    cr_assert_eq(ns_rec_add_ip(r, "ip", NULL), -EINVAL);
    cr_assert_eq(ns_rec_add_mac(r, "mac", NULL), -EINVAL);
    char key[NS_REC_MAX_KEY + 2];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = 0;
    cr_assert_eq(ns_rec_add_uint(r, key, 1), -EINVAL);
    key[NS_REC_MAX_KEY] = 0;
    cr_assert_eq(ns_rec_add_uint(r, key, 1), 0, "exactly the limit is fine");
    cr_assert_eq(ns_rec_field_count(r), 1);
    ns_rec_release(r);
}

Test(rec, datasets)
{
    cr_assert_str_eq(ns_rec_dataset(NS_REC_FLOW), "netscope.flow");
    cr_assert_str_eq(ns_rec_dataset(NS_REC_DNS), "netscope.dns");
    cr_assert_str_eq(ns_rec_dataset(NS_REC_HTTP2), "netscope.http2");
    cr_assert_str_eq(ns_rec_dataset(NS_REC_GAP), "netscope.gap");
    cr_assert_str_eq(ns_rec_dataset(NS_REC_OTHER), "netscope.other");
    cr_assert_str_eq(ns_rec_dataset(0), "netscope.other");
    cr_assert_str_eq(ns_rec_dataset(NS_REC_TYPE_MAX), "netscope.other");
    for (int t = NS_REC_FLOW; t < NS_REC_TYPE_MAX; t++)
        cr_assert_not_null(ns_rec_dataset(t));
}

Test(rec, via_fake_host, .fini = ns_fake_reset)
{
    struct ns_instance *ins = ns_fake_instance("decoder/test", "t");
    const struct ns_host *h = ins->host;
    struct ns_record *r = h->rec_new(ins, NS_REC_FLOW, 1);
    h->rec_add_cstr(r, "network.transport", "tcp");
    cr_assert_eq(h->emit(ins, r), 0);
    size_t n;
    struct ns_record **e = ns_fake_emitted(&n);
    cr_assert_eq(n, 1);
    struct ns_field_view v;
    cr_assert(h->rec_get(e[0], "network.transport", &v));
    cr_assert_str_eq(v.v.s.ptr, "tcp");
}
