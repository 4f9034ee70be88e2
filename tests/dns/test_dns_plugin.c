/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_dns_plugin.c - decoder/dns through its app callbacks on the fake host
 * (decoder/flow's part played by the test): UDP transaction record, DNS over
 * TCP with messages split across and batched in deliveries, a gap, unanswered
 * queries at timeout and at close, unmatched responses, the probe on an odd
 * port, the flow annotation, hostile input.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ns_app_test.h"
#include "ns_fake_host.h"

extern const struct ns_plugin_desc ns_plugin;

struct dns_config {
    uint64_t query_timeout;
    uint64_t max_pending;
};

static void *CTX;

static void setup(void)
{
    struct dns_config cfg = {.query_timeout = 5000000000ull, .max_pending = 100};
    ns_test_app_init(&ns_plugin, "decoder/dns", "dns", &cfg, &CTX);
}

static void teardown(void)
{
    ns_plugin.destroy(CTX);
    ns_fake_reset();
}

/* 10.0.0.1:40000 -> 10.0.0.53:dport */
static struct ns_app_flow flow(uint8_t transport, uint16_t dport)
{
    struct ns_app_flow f = ns_test_flow4(transport, 0x0a000001, 40000, 0x0a000035, dport);
    f.community_id = "1:test";
    return f;
}

/* A query or a response for name (type A); returns its length. */
static size_t msg(uint8_t *b, uint16_t id, bool resp, const char *name, int nanswers)
{
    size_t n = 0;
    b[n++] = (uint8_t)(id >> 8);
    b[n++] = (uint8_t)id;
    b[n++] = resp ? 0x81 : 0x01;
    b[n++] = resp ? 0x80 : 0x00;
    const uint8_t cnt[8] = {0, 1, 0, (uint8_t)nanswers, 0, 0, 0, 0};
    memcpy(b + n, cnt, 8);
    n += 8;
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        b[n++] = (uint8_t)l;
        memcpy(b + n, s, l);
        n += l;
        s += l + (dot ? 1 : 0);
    }
    b[n++] = 0;
    memcpy(b + n, "\x00\x01\x00\x01", 4);
    n += 4;
    for (int i = 0; i < nanswers; i++) {
        memcpy(b + n, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02", 15);
        n += 15;
        b[n++] = (uint8_t)(i + 1);
    }
    return n;
}

Test(dns_plugin, udp_transaction, .init = setup, .fini = teardown)
{
    struct ns_app_flow f = flow(17, 53);
    uint8_t b[512];
    size_t n = msg(b, 0x1234, false, "www.example.com", 0);
    cr_assert_eq(ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, b, n, 1000), NS_OK);
    n = msg(b, 0x1234, true, "www.example.com", 2);
    cr_assert_eq(ns_plugin.app_data(CTX, &f, NS_APP_TO_CLIENT, b, n, 4000, 0), NS_OK);
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    NS_HAS(j, "\"id\":4660");
#ifdef NS_HAVE_LIBPSL
    NS_HAS(j, "\"question\":{\"class\":\"IN\",\"name\":\"www.example.com\","
              "\"registered_domain\":\"example.com\",\"subdomain\":\"www\","
              "\"top_level_domain\":\"com\",\"type\":\"A\"}");
#else
    NS_HAS(j, "\"question\":{\"class\":\"IN\",\"name\":\"www.example.com\",\"type\":\"A\"}");
#endif
    NS_HAS(j, "\"resolved_ip\":[\"192.0.2.1\",\"192.0.2.2\"]");
    NS_HAS(j, "\"response_code\":\"NOERROR\"");
    NS_HAS(j, "\"response_time_ns\":3000");
    NS_HAS(j, "\"header_flags\":[\"RD\",\"RA\"]");
    NS_HAS(j, "\"action\":\"dns_transaction\"");
    NS_HAS(j, "\"protocol\":\"dns\"");
    free(j);
    j = ns_test_annotate_json(&ns_plugin, CTX, &f);
    NS_HAS(j, "\"dns\":{\"question\":{\"name\":\"www.example.com\",\"type\":\"A\"}}");
    free(j);
    ns_plugin.app_close(CTX, &f, 5000);
    cr_assert_null(f.state);
    cr_assert_eq(ns_test_nrecs(), 1);
}

Test(dns_plugin, tcp_split_and_batched, .init = setup, .fini = teardown)
{
    struct ns_app_flow f = flow(6, 5300); /* odd port: found by content */
    uint8_t b[1024], q[256];
    size_t n = 0;
    /* two queries in one delivery, the second cut in the middle */
    for (int i = 0; i < 2; i++) {
        size_t l = msg(q, (uint16_t)(10 + i), false, "a.example", 0);
        b[n++] = (uint8_t)(l >> 8);
        b[n++] = (uint8_t)l;
        memcpy(b + n, q, l);
        n += l;
    }
    cr_assert_eq(ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, b, n - 7, 1), NS_OK);
    cr_assert_eq(ns_plugin.app_data(CTX, &f, NS_APP_TO_SERVER, b + n - 7, 7, 2, 0), NS_OK);
    /* the responses one byte at a time */
    for (int i = 0; i < 2; i++) {
        size_t l = msg(q, (uint16_t)(10 + i), true, "a.example", 1);
        uint8_t pre[2] = {(uint8_t)(l >> 8), (uint8_t)l};
        for (int k = 0; k < 2; k++)
            cr_assert_eq(ns_plugin.app_data(CTX, &f, NS_APP_TO_CLIENT, pre + k, 1, 3, 0), NS_OK);
        for (size_t k = 0; k < l; k++)
            cr_assert_eq(ns_plugin.app_data(CTX, &f, NS_APP_TO_CLIENT, q + k, 1, 3, 0), NS_OK);
    }
    cr_assert_eq(ns_test_nrecs(), 2);
    char *j = ns_test_json(1);
    NS_HAS(j, "\"id\":11");
    NS_HAS(j, "\"transport\":\"tcp\"");
    free(j);
    ns_plugin.app_close(CTX, &f, 9);
    cr_assert_eq(ns_fake_counter_value("transactions_total", NULL), 2);
}

Test(dns_plugin, tcp_gap_resynchronises, .init = setup, .fini = teardown)
{
    struct ns_app_flow f = flow(6, 53);
    uint8_t b[512], q[256];
    const char *names[3] = {"x.example", "y.example", "z.example"};
    size_t len[3];
    uint8_t m[3][256];
    for (int i = 0; i < 3; i++) {
        size_t l = msg(q, (uint16_t)(i + 1), false, names[i], 0);
        m[i][0] = (uint8_t)(l >> 8);
        m[i][1] = (uint8_t)l;
        memcpy(m[i] + 2, q, l);
        len[i] = l + 2;
    }
    cr_assert_eq(ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, m[0], len[0], 1), NS_OK);
    /* the start of y, then its rest is lost: z follows the gap */
    cr_assert_eq(ns_plugin.app_data(CTX, &f, NS_APP_TO_SERVER, m[1], 10, 2, 0), NS_OK);
    memcpy(b, m[2], len[2]);
    cr_assert_eq(ns_plugin.app_data(CTX, &f, NS_APP_TO_SERVER, b, len[2], 3, len[1] - 10), NS_OK);
    ns_plugin.app_close(CTX, &f, 4);
    cr_assert_eq(ns_test_nrecs(), 2);
    char *j = ns_test_json(0), *k = ns_test_json(1);
    NS_HAS(j, "\"name\":\"x.example\"");
    NS_HAS(k, "\"name\":\"z.example\"");
    NS_HAS(k, "\"action\":\"dns_unanswered\"");
    free(j);
    free(k);
    cr_assert_eq(ns_fake_counter_value("stream_gaps_total", NULL), 1);
}

Test(dns_plugin, timeout_and_unmatched, .init = setup, .fini = teardown)
{
    struct ns_app_flow f = flow(17, 53);
    uint8_t b[512];
    size_t n = msg(b, 1, false, "slow.example", 0);
    cr_assert_eq(ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, b, n, 1000000000ull), NS_OK);
    ns_plugin.tick(CTX, 3000000000ull);
    cr_assert_eq(ns_test_nrecs(), 0);
    ns_plugin.tick(CTX, 6000000000ull);
    cr_assert_eq(ns_test_nrecs(), 1);
    n = msg(b, 1, true, "slow.example", 1); /* too late: reported alone */
    ns_plugin.app_data(CTX, &f, NS_APP_TO_CLIENT, b, n, 7000000000ull, 0);
    cr_assert_eq(ns_test_nrecs(), 2);
    char *j = ns_test_json(1);
    NS_HAS(j, "\"action\":\"dns_unsolicited_response\"");
    free(j);
    ns_plugin.app_close(CTX, &f, 8000000000ull);
    cr_assert_eq(ns_fake_counter_value("unanswered_total", NULL), 1);
    cr_assert_eq(ns_fake_counter_value("unmatched_responses_total", NULL), 1);
}

Test(dns_plugin, pending_bound_and_close, .init = setup, .fini = teardown)
{
    struct ns_app_flow f = flow(17, 53);
    uint8_t b[512];
    size_t n = msg(b, 0, false, "q.example", 0);
    cr_assert_eq(ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, b, n, 1), NS_OK);
    for (uint16_t i = 1; i < 100; i++) {
        n = msg(b, i, false, "q.example", 0);
        ns_plugin.app_data(CTX, &f, NS_APP_TO_SERVER, b, n, 1 + i, 0);
    }
    /* 64 pending per flow: the oldest 36 were reported early */
    cr_assert_eq(ns_test_nrecs(), 36);
    ns_plugin.app_close(CTX, &f, 1000);
    cr_assert_eq(ns_test_nrecs(), 100);
    cr_assert_eq(ns_fake_counter_value("pending_overflow_total", NULL), 36);
}

Test(dns_plugin, probe_declines_non_dns, .init = setup, .fini = teardown)
{
    struct ns_app_flow f = flow(17, 53);
    const char *http = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, (const uint8_t *)http, strlen(http), 1),
        NS_DECLINED);
    f = flow(6, 80);
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, (const uint8_t *)http, strlen(http), 1),
        NS_DECLINED);
    cr_assert_null(f.state);
}

Test(dns_plugin, hostile_tcp_stream_gives_up, .init = setup, .fini = teardown)
{
    struct ns_app_flow f = flow(6, 53);
    uint8_t b[512], q[256];
    size_t l = msg(q, 1, false, "x.example", 0);
    b[0] = 0;
    b[1] = (uint8_t)l;
    memcpy(b + 2, q, l);
    cr_assert_eq(ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, b, l + 2, 1), NS_OK);
    uint8_t junk[9] = {0, 3, 1, 2, 3, 0, 1, 9, 0};
    int rc = NS_OK;
    for (int i = 0; i < 10 && rc == NS_OK; i++)
        rc = ns_plugin.app_data(CTX, &f, NS_APP_TO_SERVER, junk, sizeof(junk), 2, 0);
    cr_assert_eq(rc, NS_DECLINED);
    ns_plugin.app_close(CTX, &f, 3);
    cr_assert_eq(ns_test_nrecs(), 1);
}

Test(dns_plugin, capture_started_with_the_server, .init = setup, .fini = teardown)
{
    /* The flow's initiator is the server (its response was the first packet):
     * the record's source must still be the client. */
    struct ns_app_flow f = flow(17, 53);
    uint8_t b[512];
    size_t n = msg(b, 9, true, "late.example", 1);
    cr_assert_eq(ns_plugin.app_probe(CTX, &f, NS_APP_TO_SERVER, b, n, 1), NS_OK);
    n = msg(b, 10, false, "next.example", 0);
    ns_plugin.app_data(CTX, &f, NS_APP_TO_CLIENT, b, n, 2, 0);
    n = msg(b, 10, true, "next.example", 1);
    ns_plugin.app_data(CTX, &f, NS_APP_TO_SERVER, b, n, 3, 0);
    cr_assert_eq(ns_test_nrecs(), 2);
    for (size_t i = 0; i < 2; i++) {
        char *j = ns_test_json(i);
        NS_HAS(j, "\"source\":{\"ip\":\"10.0.0.53\",\"port\":53}");
        NS_HAS(j, "\"destination\":{\"ip\":\"10.0.0.1\",\"port\":40000}");
        free(j);
    }
    ns_plugin.app_close(CTX, &f, 4);
}
