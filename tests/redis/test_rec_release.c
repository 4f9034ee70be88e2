/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rec_release.c - host->rec_on_release (the record finaliser source/redis
 * acknowledges with) and source/redis's JSON -> record rebuild, through the
 * fake host: the finaliser fires once, at the last release, on the releasing
 * thread; clones do not inherit it; JSON written by the core's serialiser
 * round-trips through json_to_record byte for byte; malformed JSON is refused.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_rec.h"
#include "ns_fake_host.h"
#include "ns_rec.h"

static int fired;
static uint64_t fired_tag;
static void *fired_arg;

static void fin(void *arg, uint64_t tag)
{
    __atomic_add_fetch(&fired, 1, __ATOMIC_SEQ_CST);
    fired_tag = tag;
    fired_arg = arg;
}

Test(rec_on_release, fires_once_at_the_last_release, .fini = ns_fake_reset)
{
    const struct ns_host *h = ns_fake_host();
    struct ns_instance *ins = ns_fake_instance("source/redis", "in");
    cr_assert_geq(h->size, offsetof(struct ns_host, rec_on_release) + sizeof(void *));
    struct ns_record *r = h->rec_new(ins, NS_REC_FLOW, 1);
    int x;
    h->rec_on_release(r, fin, &x, 42);
    h->rec_ref(r);
    h->rec_ref(r);
    h->rec_release(r);
    h->rec_release(r);
    cr_assert_eq(fired, 0);
    h->rec_release(r);
    cr_assert_eq(fired, 1);
    cr_assert_eq(fired_tag, 42);
    cr_assert_eq(fired_arg, &x);
}

static void *release_thread(void *arg)
{
    ns_fake_host()->rec_release(arg);
    return NULL;
}

Test(rec_on_release, clones_do_not_inherit_and_threads_may_release, .fini = ns_fake_reset)
{
    const struct ns_host *h = ns_fake_host();
    struct ns_instance *ins = ns_fake_instance("source/redis", "in");
    struct ns_record *r = h->rec_new(ins, NS_REC_DNS, 1);
    h->rec_add_cstr(r, "dns.question.name", "example.com");
    h->rec_on_release(r, fin, NULL, 7);
    struct ns_record *c = ns_rec_clone(r);
    cr_assert_not_null(c);
    h->rec_release(c);
    cr_assert_eq(fired, 0, "a clone fired the original's finaliser");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, release_thread, r), 0);
    pthread_join(t, NULL);
    cr_assert_eq(fired, 1);
    cr_assert_eq(fired_tag, 7);
}

/* Serialise a record, parse it back, serialise again: the same bytes. */
static void roundtrip(struct ns_record *r)
{
    const struct ns_host *h = ns_fake_host();
    char *a = NULL, *b = NULL;
    size_t ca = 0, la = 0, cb = 0, lb = 0;
    cr_assert_eq(h->rec_to_json(r, &a, &ca, &la), 0);
    struct ns_record *back = h->rec_new(NULL, h->rec_type(r), h->rec_time(r));
    cr_assert_eq(json_to_record(h, back, a, la), 0, "did not parse: %.*s", (int)la, a);
    cr_assert_eq(h->rec_to_json(back, &b, &cb, &lb), 0);
    cr_assert(la == lb && !memcmp(a, b, la), "round trip differs:\n%.*s\n%.*s", (int)la, a, (int)lb,
              b);
    h->rec_release(back);
    free(a);
    free(b);
}

Test(json_rec, core_json_round_trips, .fini = ns_fake_reset)
{
    const struct ns_host *h = ns_fake_host();
    struct ns_instance *ins = ns_fake_instance("source/redis", "in");
    struct ns_record *r = h->rec_new(ins, NS_REC_DNS, 1700000000123456789ull);
    struct ns_ip ip = {.family = 4, .a = {10, 0, 0, 1}};
    struct ns_ip ip6 = {.family = 6, .a = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
    uint8_t mac[6] = {0, 1, 2, 0xaa, 0xbb, 0xcc};
    h->rec_add_ip(r, "source.ip", &ip);
    h->rec_add_ip(r, "destination.ip", &ip6);
    h->rec_add_uint(r, "source.port", 53);
    h->rec_add_int(r, "test.negative", -12345678901234ll);
    h->rec_add_uint(r, "test.big", UINT64_MAX);
    h->rec_add_double(r, "test.real", 0.1);
    h->rec_add_bool(r, "dns.resolved", true);
    h->rec_add_mac(r, "source.mac", mac);
    h->rec_add_time(r, "event.start", 1700000000000001000ull);
    h->rec_add_str(r, "test.bytes", "a\"b\\c\n\x01\xff\xc3\xa9z", 11);
    h->rec_add_cstr(r, "test.utf8", "caf\xc3\xa9 \xf0\x9f\x98\x80");
    h->rec_add_cstr(r, "a", "value");
    h->rec_add_cstr(r, "a.b", "flat beside a value");
    h->rec_begin_array(r, "dns.answers");
    h->rec_begin_object(r, NULL);
    h->rec_add_cstr(r, "name", "example.com");
    h->rec_add_uint(r, "ttl", 300);
    h->rec_add_cstr(r, "nested.key", "x");
    h->rec_end(r);
    h->rec_begin_array(r, NULL);
    h->rec_add_uint(r, NULL, 1);
    h->rec_add_cstr(r, NULL, "two");
    h->rec_end(r);
    h->rec_end(r);
    h->rec_begin_array(r, "empty");
    h->rec_end(r);
    roundtrip(r);
    h->rec_release(r);
}

Test(json_rec, malformed_json_is_refused, .fini = ns_fake_reset)
{
    const struct ns_host *h = ns_fake_host();
    const char *bad[] = {"",
                         "[]",
                         "{",
                         "{\"a\":}",
                         "{\"a\":1,}",
                         "{\"a\":\"unterminated}",
                         "{\"a\":1} trailing",
                         "{\"a\":tru}",
                         "{\"a\":\"\\x\"}",
                         "{\"a\":[1,2}",
                         "{\"a\":01e}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ns_record *r = h->rec_new(NULL, NS_REC_OTHER, 1);
        cr_assert_neq(json_to_record(h, r, bad[i], strlen(bad[i])), 0, "accepted: %s", bad[i]);
        h->rec_release(r);
    }
    /* Deep nesting is bounded, not a stack overflow. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 16);
    size_t k = 0;
    k += (size_t)sprintf(deep, "{\"a\":");
    for (size_t i = 0; i < n; i++)
        deep[k++] = '[';
    for (size_t i = 0; i < n; i++)
        deep[k++] = ']';
    deep[k++] = '}';
    struct ns_record *r = h->rec_new(NULL, NS_REC_OTHER, 1);
    cr_assert_neq(json_to_record(h, r, deep, k), 0);
    h->rec_release(r);
    free(deep);
}
