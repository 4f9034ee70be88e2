/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_table.c - Criterion tests of the flow table (flow_table.c) and the
 * device inventory (flow_device.c): direction and initiator, TCP state, close
 * and reuse, RTT, retransmission/out-of-order counts, ICMP echo pairing, idle
 * and active timeouts with deltas, eviction at max_flows, fragment attribution.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "flow_device.h"
#include "flow_parse.h"
#include "flow_table.h"
#include "flow_testutil.h"

#define SEC 1000000000ull

struct ev {
    struct flow f;
    enum flow_event ev;
    enum flow_reason why;
};
static struct ev evs[4096];
static size_t nevs;

static void on_event(void *arg, const struct flow *f, enum flow_event ev, enum flow_reason why,
                     uint64_t now)
{
    (void)arg;
    (void)now;
    if (nevs < sizeof(evs) / sizeof(evs[0]))
        evs[nevs++] = (struct ev){.f = *f, .ev = ev, .why = why};
}

static struct flow_table *mk(uint64_t max_flows, uint64_t active, struct flow_devices *d)
{
    nevs = 0;
    struct flow_table_cfg c = {.max_flows = max_flows,
                               .active_ns = active,
                               .devices = d,
                               .on_event = on_event,
                               .hash_seed = 7};
    struct flow_table *t = flow_table_new(&c);
    cr_assert_not_null(t);
    return t;
}

static uint8_t b[2048];

static void feed(struct flow_table *t, size_t n, uint64_t ts)
{
    struct flow_pkt p;
    flow_parse(b, (uint32_t)n, FLOW_DLT_EN10MB, &p);
    flow_table_packet(t, &p, ts, (uint32_t)n, 0);
}

static void tcp(struct flow_table *t, int from_client, uint32_t seq, uint8_t fl, size_t pl,
                uint64_t ts)
{
    size_t n = from_client ? tu_v4_tcp(b, "10.0.0.9", "10.0.0.1", 40000, 80, seq, 1, fl, pl)
                           : tu_v4_tcp(b, "10.0.0.1", "10.0.0.9", 80, 40000, seq, 1, fl, pl);
    feed(t, n, ts);
}

Test(flow_table, tcp_handshake_fin_close)
{
    struct flow_table *t = mk(0, 0, NULL);
    tcp(t, 1, 100, FLOW_TCP_SYN, 0, 1 * SEC);
    tcp(t, 0, 500, FLOW_TCP_SYN | FLOW_TCP_ACK, 0, 1 * SEC + 10000);
    tcp(t, 1, 101, FLOW_TCP_ACK, 0, 1 * SEC + 30000);
    tcp(t, 1, 101, FLOW_TCP_ACK | FLOW_TCP_PSH, 50, 2 * SEC);
    tcp(t, 0, 501, FLOW_TCP_ACK | FLOW_TCP_PSH, 500, 2 * SEC + 1);
    tcp(t, 1, 151, FLOW_TCP_ACK | FLOW_TCP_FIN, 0, 3 * SEC);
    tcp(t, 0, 1001, FLOW_TCP_ACK | FLOW_TCP_FIN, 0, 3 * SEC + 1);
    tcp(t, 1, 152, FLOW_TCP_ACK, 0, 3 * SEC + 2); /* last ACK joins the closed flow */
    cr_assert_eq(nevs, 0);
    flow_table_tick(t, 4 * SEC); /* inside the 5 s close linger */
    cr_assert_eq(nevs, 0);
    flow_table_tick(t, 9 * SEC);
    cr_assert_eq(nevs, 1);
    const struct flow *f = &evs[0].f;
    cr_assert_eq(evs[0].why, FLOW_REASON_FIN);
    int s = f->src_side;
    cr_assert_eq(f->key.port[s], 40000);
    cr_assert_eq(f->pkts[s], 5);
    cr_assert_eq(f->pkts[!s], 3);
    cr_assert_eq(f->tcp_state, FLOW_TCP_CLOSED);
    cr_assert(f->bits & FLOW_B_RTT);
    cr_assert_eq(f->rtt_ns, 30000);
    cr_assert_eq(f->retrans, 0);
    cr_assert_eq(f->tcp_flags[s], FLOW_TCP_SYN | FLOW_TCP_ACK | FLOW_TCP_PSH | FLOW_TCP_FIN);
    cr_assert_eq(flow_table_stats(t)->flows_active, 0);
    flow_table_free(t);
}

Test(flow_table, synack_first_means_other_side_initiated)
{
    struct flow_table *t = mk(0, 0, NULL);
    tcp(t, 0, 500, FLOW_TCP_SYN | FLOW_TCP_ACK, 0, SEC);
    tcp(t, 1, 100, FLOW_TCP_SYN, 0, SEC + 5);
    tcp(t, 1, 101, FLOW_TCP_ACK, 0, SEC + 10);
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 2 * SEC);
    cr_assert_eq(nevs, 1);
    const struct flow *f = &evs[0].f;
    cr_assert_eq(f->key.port[f->src_side], 40000);
    cr_assert_eq(evs[0].why, FLOW_REASON_SHUTDOWN);
    flow_table_free(t);
}

Test(flow_table, first_sender_is_source_without_syn)
{
    struct flow_table *t = mk(0, 0, NULL);
    tcp(t, 0, 500, FLOW_TCP_ACK, 10, SEC);
    tcp(t, 1, 100, FLOW_TCP_ACK, 0, SEC + 5);
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 2 * SEC);
    const struct flow *f = &evs[0].f;
    cr_assert_eq(f->key.port[f->src_side], 80);
    cr_assert_eq(f->tcp_state, FLOW_TCP_ESTABLISHED);
    flow_table_free(t);
}

Test(flow_table, rst_then_new_syn_reuses_ports)
{
    struct flow_table *t = mk(0, 0, NULL);
    tcp(t, 1, 100, FLOW_TCP_SYN, 0, SEC);
    tcp(t, 0, 0, FLOW_TCP_RST | FLOW_TCP_ACK, 0, SEC + 1);
    tcp(t, 1, 9000, FLOW_TCP_SYN, 0, SEC + 2); /* reuse: ends the first at once */
    cr_assert_eq(nevs, 1);
    cr_assert_eq(evs[0].why, FLOW_REASON_RST);
    cr_assert_eq(evs[0].f.tcp_state, FLOW_TCP_RESET);
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 2 * SEC);
    cr_assert_eq(nevs, 2);
    cr_assert_eq(evs[1].why, FLOW_REASON_SHUTDOWN);
    cr_assert_eq(evs[1].f.pkts[0] + evs[1].f.pkts[1], 1);
    flow_table_free(t);
}

Test(flow_table, retransmission_and_out_of_order)
{
    struct flow_table *t = mk(0, 0, NULL);
    tcp(t, 1, 100, FLOW_TCP_SYN, 0, SEC);
    tcp(t, 1, 101, FLOW_TCP_ACK, 100, SEC + 1); /* 101..201 */
    tcp(t, 1, 101, FLOW_TCP_ACK, 100, SEC + 2); /* resent    */
    tcp(t, 1, 301, FLOW_TCP_ACK, 100, SEC + 3); /* gap 201..301 */
    tcp(t, 1, 201, FLOW_TCP_ACK, 100, SEC + 4); /* fills the gap: out of order */
    tcp(t, 1, 100, FLOW_TCP_SYN, 0, SEC + 5);   /* SYN resent */
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 2 * SEC);
    cr_assert_eq(evs[0].f.retrans, 2);
    cr_assert_eq(evs[0].f.ooo, 1);
    flow_table_free(t);
}

Test(flow_table, icmp_echo_request_and_reply_one_flow)
{
    struct flow_table *t = mk(0, 0, NULL);
    feed(t, tu_v4_icmp_echo(b, "10.0.0.1", "10.0.0.2", 8, 77, 1), SEC);
    feed(t, tu_v4_icmp_echo(b, "10.0.0.2", "10.0.0.1", 0, 77, 1), SEC + 1);
    feed(t, tu_v4_icmp_echo(b, "10.0.0.1", "10.0.0.2", 8, 78, 1), SEC + 2); /* other id */
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 2 * SEC);
    cr_assert_eq(nevs, 2);
    const struct flow *f = evs[0].f.key.icmp_id == 77 ? &evs[0].f : &evs[1].f;
    cr_assert_eq(f->pkts[0], 1);
    cr_assert_eq(f->pkts[1], 1);
    cr_assert_eq(f->icmp_type, 8);
    cr_assert_eq(f->key.addr[f->src_side][3], 1);
    flow_table_free(t);
}

Test(flow_table, idle_timeouts_per_protocol)
{
    struct flow_table *t = mk(0, 0, NULL);
    feed(t, tu_v4_udp(b, "10.0.0.1", "10.0.0.2", 1000, 53, 10), 0 + SEC);
    tcp(t, 1, 100, FLOW_TCP_ACK, 10, SEC);
    flow_table_tick(t, SEC + FLOW_DEFAULT_UDP_IDLE - 1);
    cr_assert_eq(nevs, 0);
    flow_table_tick(t, SEC + FLOW_DEFAULT_UDP_IDLE);
    cr_assert_eq(nevs, 1);
    cr_assert_eq(evs[0].f.key.proto, 17);
    cr_assert_eq(evs[0].why, FLOW_REASON_IDLE);
    flow_table_tick(t, SEC + FLOW_DEFAULT_TCP_IDLE);
    cr_assert_eq(nevs, 2);
    cr_assert_eq(evs[1].f.key.proto, 6);
    flow_table_free(t);
}

Test(flow_table, active_timeout_updates_with_deltas)
{
    struct flow_table *t = mk(0, 60 * SEC, NULL);
    for (int i = 0; i < 200; i++) /* one packet a second for 200 s */
    {
        feed(t, tu_v4_udp(b, "10.0.0.1", "10.0.0.2", 1000, 53, 10), (uint64_t)i * SEC);
        flow_table_tick(t, (uint64_t)i * SEC);
    }
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 200 * SEC);
    cr_assert_eq(nevs, 4); /* updates at 60, 120, 180 and the end */
    uint64_t sum = 0;
    for (size_t i = 0; i < nevs; i++) {
        const struct flow *f = &evs[i].f;
        uint64_t delta = f->pkts[0] + f->pkts[1] - f->rep_pkts[0] - f->rep_pkts[1];
        sum += delta;
        cr_assert_eq(evs[i].ev, i + 1 < nevs ? FLOW_EV_UPDATE : FLOW_EV_END);
    }
    cr_assert_eq(sum, 200, "deltas add up to the total");
    cr_assert_eq(evs[0].f.pkts[0] + evs[0].f.pkts[1], 61);
    cr_assert_eq(evs[3].f.updates, 3);
    flow_table_free(t);
}

Test(flow_table, eviction_at_max_flows)
{
    struct flow_table *t = mk(10, 0, NULL);
    char ip[32];
    for (int i = 0; i < 25; i++) {
        snprintf(ip, sizeof(ip), "10.1.0.%d", i + 1);
        feed(t, tu_v4_udp(b, ip, "10.0.0.2", 1000, 53, 1), (uint64_t)(i + 1) * SEC);
    }
    const struct flow_stats *st = flow_table_stats(t);
    cr_assert_eq(st->flows_active, 10);
    cr_assert_eq(st->evictions, 15);
    cr_assert_eq(nevs, 15);
    cr_assert_eq(evs[0].why, FLOW_REASON_EVICTION);
    cr_assert_eq(evs[0].f.key.addr[evs[0].f.src_side][3], 1, "the oldest goes first");
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 100 * SEC);
    cr_assert_eq(nevs, 25);
    flow_table_free(t);
}

Test(flow_table, many_flows_reuse_memory)
{
    struct flow_table *t = mk(5000, 0, NULL);
    char ip[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(ip, sizeof(ip), "10.%d.%d.%d", round, i / 250, i % 250 + 1);
            feed(t, tu_v4_udp(b, ip, "10.0.0.2", 1000, 53, 1), (uint64_t)round * 100 * SEC + i);
        }
        flow_table_tick(t, (uint64_t)round * 100 * SEC + 90 * SEC);
    }
    cr_assert_eq(flow_table_stats(t)->evictions, 0);
    cr_assert_eq(flow_table_stats(t)->flows_ended, 15000);
    flow_table_free(t);
}

Test(flow_table, fragments_follow_first_fragment)
{
    struct flow_table *t = mk(0, 0, NULL);
    /* first fragment: UDP header with the datagram length */
    size_t o = tu_eth(b, 0x0800, 0);
    tu_ipv4(b + o, "10.0.0.1", "10.0.0.2", 17, 8 + 16);
    tu_put16(b + o + 4, 0x4242);
    tu_put16(b + o + 6, 0x2000); /* MF */
    tu_udp(b + o + 20, 5000, 53, 100);
    feed(t, o + 20 + 24, SEC);
    /* second fragment, offset 24 bytes (3 units), last */
    tu_ipv4(b + o, "10.0.0.1", "10.0.0.2", 17, 84);
    tu_put16(b + o + 4, 0x4242);
    tu_put16(b + o + 6, 3);
    feed(t, o + 20 + 84, SEC + 1);
    /* orphan fragment of another datagram */
    tu_put16(b + o + 4, 0x4343);
    feed(t, o + 20 + 84, SEC + 2);
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 2 * SEC);
    cr_assert_eq(nevs, 2);
    const struct flow_stats *st = flow_table_stats(t);
    cr_assert_eq(st->frag_matched, 1);
    cr_assert_eq(st->frag_unmatched, 1);
    const struct flow *f = evs[0].f.key.port[0] ? &evs[0].f : &evs[1].f;
    cr_assert_eq(f->pkts[0] + f->pkts[1], 2);
    cr_assert_eq(f->frags, 1);
    flow_table_free(t);
}

Test(flow_table, errors_counted_by_reason)
{
    struct flow_table *t = mk(0, 0, NULL);
    size_t n = tu_v4_tcp(b, "10.0.0.1", "10.0.0.2", 1, 2, 3, 4, FLOW_TCP_ACK, 0);
    b[14 + 20 + 12] = 1 << 4;
    feed(t, n, SEC);
    feed(t, 10, SEC);
    const struct flow_stats *st = flow_table_stats(t);
    cr_assert_eq(st->errors[FLOW_ERR_BAD_TCP_HEADER_LEN], 1);
    cr_assert_eq(st->errors[FLOW_ERR_TRUNCATED_L2], 1);
    cr_assert_eq(st->flows_created, 0);
    flow_table_free(t);
}

Test(flow_table, vlan_is_part_of_the_key)
{
    struct flow_table *t = mk(0, 0, NULL);
    for (int tags = 0; tags < 3; tags++) {
        size_t o = tu_eth(b, 0x0800, tags);
        o += tu_ipv4(b + o, "10.0.0.1", "10.0.0.2", 17, 8);
        o += tu_udp(b + o, 1, 2, 0);
        feed(t, o, SEC);
    }
    cr_assert_eq(flow_table_stats(t)->flows_created, 3);
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 2 * SEC);
    flow_table_free(t);
}

static int ndev;
static struct flow_device devs_seen[16];
static void on_dev(void *arg, const struct flow_device *d, uint64_t now)
{
    (void)arg;
    (void)now;
    if (ndev < 16)
        devs_seen[ndev++] = *d;
}

Test(flow_table, device_inventory)
{
    struct flow_devices *d = flow_devices_new(4, 1);
    cr_assert_not_null(d);
    struct flow_table *t = mk(0, 0, d);
    tcp(t, 1, 100, FLOW_TCP_SYN, 0, SEC);
    tcp(t, 0, 500, FLOW_TCP_SYN | FLOW_TCP_ACK, 0, 2 * SEC);
    feed(t, tu_v4_udp(b, "10.0.0.9", "10.0.0.3", 999, 53, 10), 3 * SEC);
    cr_assert_eq(flow_devices_count(d), 3);
    ndev = 0;
    flow_devices_report(d, false, 3 * SEC, 0, on_dev, NULL);
    cr_assert_eq(ndev, 3);
    for (int i = 0; i < ndev; i++) {
        if (devs_seen[i].ip[3] == 9) {
            cr_assert_eq(devs_seen[i].pkts_out, 2);
            cr_assert_eq(devs_seen[i].pkts_in, 1);
            cr_assert_eq(devs_seen[i].n_peer, 2); /* 80 and 53 */
        }
        if (devs_seen[i].ip[3] == 1) {
            cr_assert_eq(devs_seen[i].n_served, 1);
            cr_assert_eq(devs_seen[i].served[0], 80);
        }
    }
    ndev = 0;
    flow_devices_report(d, false, 3 * SEC, 0, on_dev, NULL);
    cr_assert_eq(ndev, 0, "nothing changed since the last report");
    /* Inventory bound: 4 entries. */
    feed(t, tu_v4_udp(b, "10.0.0.20", "10.0.0.21", 1, 2, 1), 4 * SEC);
    cr_assert_eq(flow_devices_count(d), 4);
    cr_assert_eq(flow_devices_full_drops(d), 1);
    /* Expiry: once flows end, idle entries go. */
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 5 * SEC);
    flow_devices_report(d, true, 100 * SEC, 10 * SEC, on_dev, NULL);
    cr_assert_eq(flow_devices_count(d), 0);
    flow_table_free(t);
    flow_devices_free(d);
}

Test(flow_table, names)
{
    char s[9];
    flow_tcp_flags_str(FLOW_TCP_SYN | FLOW_TCP_ACK | FLOW_TCP_FIN, s);
    cr_assert_str_eq(s, "SAF");
    flow_tcp_flags_str(0xff, s);
    cr_assert_str_eq(s, "SAPFRUEC");
    cr_assert_str_eq(flow_reason_name(FLOW_REASON_EVICTION), "eviction");
    cr_assert_str_eq(flow_tcp_state_name(FLOW_TCP_RESET), "reset");
    cr_assert_str_eq(flow_transport_name(58), "ipv6-icmp");
    cr_assert_null(flow_transport_name(250));
}

/* The device buckets start small and grow with the entries: every host is
 * still found after the rehashes, removal (expiry) and reuse keep working. */
static int dev_seen;
static void dev_count_cb(void *arg, const struct flow_device *d, uint64_t now)
{
    (void)arg;
    (void)d;
    (void)now;
    dev_seen++;
}

Test(flow_table, device_buckets_grow)
{
    struct flow_devices *d = flow_devices_new(10000, 7);
    uint8_t ip[16] = {0}, mac[6] = {2, 0, 0, 0, 0, 1};
    static uint32_t idx[6000];
    for (uint32_t i = 0; i < 6000; i++) {
        ip[0] = 10;
        ip[1] = (uint8_t)(i >> 8);
        ip[2] = (uint8_t)i;
        idx[i] = flow_devices_ref(d, 4, ip, (i & 1) ? mac : NULL, 100);
        cr_assert_neq(idx[i], UINT32_MAX);
    }
    cr_assert_eq(flow_devices_count(d), 6000);
    for (uint32_t i = 0; i < 6000; i++) {
        ip[1] = (uint8_t)(i >> 8);
        ip[2] = (uint8_t)i;
        cr_assert_eq(flow_devices_ref(d, 4, ip, (i & 1) ? mac : NULL, 200), idx[i]);
        flow_devices_unref(d, idx[i]);
        flow_devices_unref(d, idx[i]);
    }
    cr_assert_eq(flow_devices_count(d), 6000);
    /* Unreferenced and idle: the report drops every entry, then they are reused. */
    flow_devices_report(d, true, 10000, 10, dev_count_cb, NULL);
    cr_assert_eq(dev_seen, 6000);
    cr_assert_eq(flow_devices_count(d), 0);
    ip[1] = 0xee;
    uint32_t again = flow_devices_ref(d, 4, ip, NULL, 20000);
    cr_assert_lt(again, 6000);
    cr_assert_eq(flow_devices_ref(d, 4, ip, NULL, 20000), again);
    cr_assert_eq(flow_devices_count(d), 1);
    flow_devices_free(d);
}

/* The idle queues (a ring with holes, compacted when full) end flows in the
 * order a list ordered by the second of the last packet would: 600 UDP flows
 * re-queued once a second for up to ten seconds (~3300 entries, several
 * compactions of a 1024-entry ring) expire second by second, each second's
 * flows in the order their packets arrived; flush then ends none twice. */
Test(flow_table, idle_queue_order_with_requeues)
{
    struct flow_table *t = mk(0, 0, NULL);
    enum { N = 600 };
    for (int s = 0; s < 10; s++)
        for (int i = 0; i < N; i++)
            if (i % 10 >= s)
                feed(t, tu_v4_udp(b, "10.0.0.1", "10.0.0.2", (uint16_t)(1000 + i), 53, 1),
                     (uint64_t)s * SEC + (uint64_t)i);
    cr_assert_eq(nevs, 0);
    size_t at = 0;
    for (int k = 0; k < 10; k++) {
        flow_table_tick(t, FLOW_DEFAULT_UDP_IDLE + (uint64_t)k * SEC + SEC / 2);
        for (int i = k; i < N; i += 10, at++) {
            cr_assert_lt(at, nevs, "second %d: too few flows ended", k);
            const struct flow *f = &evs[at].f;
            cr_assert_eq(f->key.port[f->src_side], 1000 + i, "second %d, flow %zu", k, at);
            cr_assert_eq(evs[at].why, FLOW_REASON_IDLE);
            cr_assert_eq(f->pkts[f->src_side], (uint64_t)(i % 10 + 1));
        }
        cr_assert_eq(nevs, at, "second %d: too many flows ended", k);
    }
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 100 * SEC);
    cr_assert_eq(nevs, N);
    cr_assert_eq(flow_table_stats(t)->flows_active, 0);
    flow_table_free(t);
}

/* Flush reports the open flows of each class in queue order, each once,
 * after re-queues left holes; the table is then reusable. */
Test(flow_table, flush_after_requeues_reports_each_flow_once)
{
    struct flow_table *t = mk(0, 0, NULL);
    enum { N = 1500 };
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < N; i++)
            feed(t, tu_v4_udp(b, "10.0.0.1", "10.0.0.2", (uint16_t)(1000 + i), 53, 1),
                 (uint64_t)s * SEC + (uint64_t)i);
    nevs = 0;
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 10 * SEC);
    cr_assert_eq(nevs, sizeof(evs) / sizeof(evs[0]) < N ? sizeof(evs) / sizeof(evs[0]) : N);
    for (size_t j = 0; j < nevs; j++)
        cr_assert_eq(evs[j].f.key.port[evs[j].f.src_side], 1000 + j);
    cr_assert_eq(flow_table_stats(t)->flows_active, 0);
    feed(t, tu_v4_udp(b, "10.0.0.1", "10.0.0.2", 999, 53, 1), 20 * SEC);
    cr_assert_eq(flow_table_stats(t)->flows_active, 1);
    flow_table_free(t);
}

/* The prefetch hint (flow_table_cfg.prefetch): called only for flows about to
 * end, each at most once per walk, and it changes nothing. */
static uint16_t hinted[64];
static size_t nhinted;

static void on_prefetch(void *arg, const struct flow *f)
{
    (void)arg;
    if (nhinted < sizeof(hinted) / sizeof(hinted[0]))
        hinted[nhinted++] = f->key.port[f->src_side];
}

Test(flow_table, prefetch_hint_names_ending_flows)
{
    nevs = 0;
    nhinted = 0;
    struct flow_table_cfg c = {.on_event = on_event, .prefetch = on_prefetch, .hash_seed = 7};
    struct flow_table *t = flow_table_new(&c);
    cr_assert_not_null(t);
    for (int i = 0; i < 10; i++) /* 0-4 go idle, 5-9 stay active */
        feed(t, tu_v4_udp(b, "10.0.0.1", "10.0.0.2", (uint16_t)(1000 + i), 53, 1),
             (i < 5 ? 1 : 50) * SEC + (uint64_t)i);
    flow_table_tick(t, 70 * SEC);
    cr_assert_eq(nevs, 5);
    cr_assert_eq(nhinted, 5);
    for (size_t j = 0; j < 5; j++) {
        cr_assert_eq(evs[j].ev, FLOW_EV_END);
        cr_assert_eq(hinted[j], evs[j].f.key.port[evs[j].f.src_side]);
    }
    /* The flush hints flows a couple of entries ahead of the one it reports. */
    nevs = 0;
    nhinted = 0;
    flow_table_flush(t, FLOW_REASON_SHUTDOWN, 80 * SEC);
    cr_assert_eq(nevs, 5);
    cr_assert_leq(nhinted, 5);
    for (size_t j = 0; j < nhinted; j++) {
        bool found = false;
        for (size_t k = 0; k < nevs; k++)
            found |= hinted[j] == evs[k].f.key.port[evs[k].f.src_side];
        cr_assert(found, "hinted port %u did not end", hinted[j]);
    }
    cr_assert_eq(flow_table_stats(t)->flows_active, 0);
    flow_table_free(t);
}

/* flow_devices_prefetch_key is a hint: any key, known or not, changes nothing. */
Test(flow_table, device_prefetch_key_changes_nothing)
{
    struct flow_devices *d = flow_devices_new(2, 3);
    cr_assert_not_null(d);
    uint8_t ip[16] = {10, 0, 0, 1}, other[16] = {10, 0, 0, 2};
    const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
    flow_devices_prefetch_key(d, 4, ip, NULL); /* empty inventory */
    cr_assert_eq(flow_devices_count(d), 0);
    uint32_t i = flow_devices_ref(d, 4, ip, mac, SEC);
    flow_devices_prefetch_key(d, 4, ip, mac);
    flow_devices_prefetch_key(d, 4, other, NULL);
    flow_devices_prefetch_key(d, 6, ip, mac);
    cr_assert_eq(flow_devices_count(d), 1);
    cr_assert_eq(flow_devices_at(d, i)->refs, 1);
    cr_assert_eq(flow_devices_ref(d, 4, ip, mac, 2 * SEC), i);
    flow_devices_free(d);
}
