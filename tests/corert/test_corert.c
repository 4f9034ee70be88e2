/* SPDX-License-Identifier: Apache-2.0 */
/* Core runtime pieces without threads: the flow hash, log rate limiting, metrics. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ns_log.h"
#include "ns_metrics.h"
#include "ns_pkthash.h"

/* Ethernet + IPv4 + UDP/TCP with the given addresses and ports. */
static size_t pkt4(uint8_t *p, const uint8_t a[4], const uint8_t b[4], uint16_t sp, uint16_t dp,
                   uint8_t proto, uint16_t frag)
{
    memset(p, 0, 64);
    p[12] = 0x08;
    uint8_t *ip = p + 14;
    ip[0] = 0x45;
    ip[6] = (uint8_t)(frag >> 8);
    ip[7] = (uint8_t)frag;
    ip[9] = proto;
    memcpy(ip + 12, a, 4);
    memcpy(ip + 16, b, 4);
    ip[20] = (uint8_t)(sp >> 8);
    ip[21] = (uint8_t)sp;
    ip[22] = (uint8_t)(dp >> 8);
    ip[23] = (uint8_t)dp;
    return 14 + 20 + 8;
}

Test(pkthash, symmetric_for_both_directions)
{
    uint8_t p1[64], p2[64];
    for (unsigned i = 0; i < 1000; i++) {
        uint8_t a[4] = {10, (uint8_t)i, 1, 2}, b[4] = {192, 168, (uint8_t)(i >> 3), 9};
        uint16_t sp = (uint16_t)(1024 + i * 7), dp = (uint16_t)(80 + i % 3);
        size_t n = pkt4(p1, a, b, sp, dp, 6, 0);
        pkt4(p2, b, a, dp, sp, 6, 0);
        uint32_t h1 = ns_pkt_hash(1, p1, (uint32_t)n), h2 = ns_pkt_hash(1, p2, (uint32_t)n);
        cr_assert_eq(h1, h2, "flow %u hashes differ by direction", i);
        cr_assert_neq(h1, 0);
    }
}

Test(pkthash, ports_spread_flows_between_two_hosts)
{
    uint8_t p[64], a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    unsigned buckets[2] = {0, 0};
    for (unsigned i = 0; i < 1000; i++) {
        size_t n = pkt4(p, a, b, (uint16_t)(30000 + i), 5201, 6, 0);
        uint32_t h = ns_pkt_hash(1, p, (uint32_t)n);
        buckets[((uint64_t)h * 2) >> 32]++;
    }
    /* Two workers: neither gets less than a third of 1000 flows between one host pair. */
    cr_assert_gt(buckets[0], 333);
    cr_assert_gt(buckets[1], 333);
}

Test(pkthash, fragments_hash_on_addresses_only)
{
    uint8_t p1[64], p2[64], a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    size_t n = pkt4(p1, a, b, 1000, 53, 17, 0x2000 /* MF */);
    pkt4(p2, b, a, 0x1234, 0x5678, 17, 0x0010 /* offset, garbage where ports were */);
    cr_assert_eq(ns_pkt_hash(1, p1, (uint32_t)n), ns_pkt_hash(1, p2, (uint32_t)n));
}

Test(pkthash, truncated_and_unknown_are_zero_not_a_crash)
{
    uint8_t p[64], a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    size_t n = pkt4(p, a, b, 1, 2, 6, 0);
    for (uint32_t len = 0; len < 14 + 20; len++)
        cr_assert_eq(ns_pkt_hash(1, p, len), 0);
    cr_assert_neq(ns_pkt_hash(1, p, (uint32_t)n), 0);
    cr_assert_eq(ns_pkt_hash(9999, p, (uint32_t)n), 0);
    p[14] = 0x4f; /* IHL 60 > caplen */
    cr_assert_eq(ns_pkt_hash(1, p, (uint32_t)n), 0);
    uint8_t deep[64];
    memset(deep, 0x81, sizeof(deep)); /* VLAN tags all the way */
    cr_assert_eq(ns_pkt_hash(1, deep, sizeof(deep)), 0);
}

/* Count lines the logger writes to stderr (redirected to a pipe). */
static size_t count_lines(void (*fn)(void))
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[65536];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    close(fds[0]);
    size_t lines = 0;
    for (ssize_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    return lines;
}

static void log_flood(void)
{
    for (int i = 0; i < 1000; i++)
        ns_logf("decoder:flow:f", NS_LOG_WARN | NS_LOG_RATELIMIT, "truncated packet %d", i);
}

static void log_plain(void)
{
    for (int i = 0; i < 20; i++)
        ns_logf("core", NS_LOG_WARN, "plain %d", i);
    ns_logf("core", NS_LOG_DEBUG, "hidden at info");
}

Test(log, data_path_messages_are_rate_limited)
{
    ns_log_set_level(NS_LOG_INFO);
    size_t n = count_lines(log_flood);
    cr_assert(n >= 1 && n <= 5, "%zu lines for 1000 rate-limited messages", n);
}

Test(log, plain_messages_and_levels)
{
    ns_log_set_level(NS_LOG_INFO);
    cr_assert_eq(count_lines(log_plain), 20);
    cr_assert_eq(ns_log_level_parse("debug"), NS_LOG_DEBUG);
    cr_assert_eq(ns_log_level_parse("WARNING"), NS_LOG_WARN);
    cr_assert_eq(ns_log_level_parse("loud"), -1);
}

Test(metrics, cells_sum_across_workers)
{
    ns_counter *a = ns_metrics_register(NS_METRIC_COUNTER, "x_total", "node=\"n\"", "x");
    ns_counter *b = ns_metrics_register(NS_METRIC_COUNTER, "x_total", "node=\"n\"", "x");
    ns_counter_add(a, 3);
    ns_counter_add(b, 4);
    cr_assert_eq(ns_metrics_sum("x_total", "node=\"n\""), 7);
    cr_assert_eq(ns_metrics_sum("x_total", NULL), 7);
    ns_metrics_reset();
    cr_assert_eq(ns_metrics_sum("x_total", NULL), 0);
}
