/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_plugin.c - decoder/flow through its plugin callbacks on the fake
 * host: records and fields built from fixture captures (checked against tshark
 * and Zeek values), ARP and device records, error counters, interim updates.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "flow.h"
#include "flow_pcaputil.h"
#include "flow_testutil.h"
#include "ns_fake_host.h"

extern const struct ns_plugin_desc ns_plugin;

static struct flow_config defaults(void)
{
    return (struct flow_config){
        .max_flows = 1000000,
        .active_timeout = 60000000000ull,
        .tcp_idle_timeout = 300000000000ull,
        .udp_idle_timeout = 60000000000ull,
        .icmp_idle_timeout = 60000000000ull,
        .other_idle_timeout = 60000000000ull,
        .tcp_close_timeout = 5000000000ull,
        .arp = true,
        .devices = true,
        .device_interval = 300000000000ull,
        .max_devices = 65536,
    };
}

static const struct ns_host *H;

/* Run a whole capture through init/process/tick/flush/destroy. */
static void run_capture(const char *name, struct flow_config *cfg)
{
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("decoder/flow", "flows");
    H = ins->host;
    void *ctx = NULL;
    cr_assert_eq(ns_plugin.init(ins, cfg, &ctx), 0);
    struct tu_capture c = tu_load(name);
    /* batches of 7, with a tick after each, as the core would do */
    for (size_t i = 0; i < c.n; i += 7) {
        uint32_t n = (uint32_t)(c.n - i < 7 ? c.n - i : 7);
        cr_assert_eq(ns_plugin.process_packets(ctx, c.pkts + i, n), 0);
        ns_plugin.tick(ctx, c.pkts[i + n - 1].ts_ns);
    }
    cr_assert_eq(ns_plugin.flush(ctx), 0);
    ns_plugin.destroy(ctx);
    tu_free(&c);
}

static size_t count_type(enum ns_rec_type t, const char *action)
{
    size_t n, k = 0;
    struct ns_record **r = ns_fake_emitted(&n);
    for (size_t i = 0; i < n; i++) {
        if (H->rec_type(r[i]) != t)
            continue;
        struct ns_field_view v;
        if (action != NULL &&
            (!H->rec_get(r[i], "event.action", &v) || strcmp(v.v.s.ptr, action) != 0))
            continue;
        k++;
    }
    return k;
}

static struct ns_record *nth(enum ns_rec_type t, size_t want)
{
    size_t n, k = 0;
    struct ns_record **r = ns_fake_emitted(&n);
    for (size_t i = 0; i < n; i++)
        if (H->rec_type(r[i]) == t && k++ == want)
            return r[i];
    cr_assert_fail("no record %zu of type %d", want, t);
    return NULL;
}

static uint64_t u(struct ns_record *r, const char *key)
{
    struct ns_field_view v;
    cr_assert(H->rec_get(r, key, &v), "missing %s", key);
    return v.v.u;
}

static const char *s(struct ns_record *r, const char *key)
{
    struct ns_field_view v;
    cr_assert(H->rec_get(r, key, &v), "missing %s", key);
    cr_assert_eq(v.type, NS_F_STR, "%s is not a string", key);
    return v.v.s.ptr;
}

static bool has(struct ns_record *r, const char *key)
{
    struct ns_field_view v;
    return H->rec_get(r, key, &v);
}

Test(flow_plugin, http_get_flow_end, .fini = ns_fake_reset)
{
    struct flow_config cfg = defaults();
    run_capture("http-get.pcap", &cfg);
    cr_assert_eq(count_type(NS_REC_FLOW, NULL), 1);
    struct ns_record *r = nth(NS_REC_FLOW, 0);
    cr_assert_str_eq(s(r, "event.action"), "flow_end");
    cr_assert_eq(u(r, "source.port"), 59856);
    cr_assert_eq(u(r, "destination.port"), 80);
    cr_assert_eq(u(r, "source.packets"), 7); /* tshark: 7 / 610 and 7 / 5477 */
    cr_assert_eq(u(r, "source.bytes"), 610);
    cr_assert_eq(u(r, "destination.packets"), 7);
    cr_assert_eq(u(r, "destination.bytes"), 5477);
    cr_assert_eq(u(r, "network.packets"), 14);
    cr_assert_str_eq(s(r, "network.transport"), "tcp");
    cr_assert_str_eq(s(r, "network.iana_number"), "6");
    cr_assert_str_eq(s(r, "network.type"), "ipv4");
    /* Zeek's community-id baseline for this session */
    cr_assert_str_eq(s(r, "network.community_id"), "1:yvyB8h+3dnggTZW0UEITWCst97w=");
    cr_assert_str_eq(s(r, "netscope.flow.end_reason"), "fin");
    cr_assert_str_eq(s(r, "netscope.flow.state"), "closed");
    cr_assert_str_eq(s(r, "netscope.flow.source_tcp_flags"), "SAPF");
    cr_assert(has(r, "netscope.flow.rtt_ns"));
    cr_assert(has(r, "source.mac"));
    cr_assert(!has(r, "network.vlan.id"));
    cr_assert_eq(count_type(NS_REC_DEVICE, NULL), 2);
    cr_assert_eq(ns_fake_counter_value("flows_created_total", NULL), 1);
    cr_assert_eq(ns_fake_counter_value("packets_total", NULL), 14);
    cr_assert_eq(ns_fake_counter_value("flows_active", NULL), 0);
}

Test(flow_plugin, handshake_reorder_initiator, .fini = ns_fake_reset)
{
    struct flow_config cfg = defaults();
    run_capture("tcp-handshake-reorder.pcap", &cfg);
    struct ns_record *r = nth(NS_REC_FLOW, 0);
    struct ns_field_view v;
    cr_assert(H->rec_get(r, "source.ip", &v));
    cr_assert_eq(v.type, NS_F_IP);
    cr_assert_eq(v.v.ip.a[0], 141); /* Zeek flips: orig = 141.142.228.5 */
    cr_assert_eq(u(r, "source.port"), 59856);
    cr_assert_str_eq(s(r, "network.community_id"), "1:yvyB8h+3dnggTZW0UEITWCst97w=");
}

Test(flow_plugin, qinq_vlan_ids, .fini = ns_fake_reset)
{
    struct flow_config cfg = defaults();
    run_capture("qinq-http.pcap", &cfg);
    struct ns_record *r = nth(NS_REC_FLOW, 0);
    cr_assert_str_eq(s(r, "network.vlan.id"), "0");
    cr_assert_str_eq(s(r, "network.inner.vlan.id"), "0");
}

Test(flow_plugin, arp_records, .fini = ns_fake_reset)
{
    struct flow_config cfg = defaults();
    run_capture("arp-request-reply.pcap", &cfg);
    cr_assert_eq(count_type(NS_REC_ARP, "arp_request"), 2);
    cr_assert_eq(count_type(NS_REC_ARP, "arp_reply"), 2);
    struct ns_record *r = nth(NS_REC_ARP, 0);
    cr_assert_str_eq(s(r, "netscope.arp.operation"), "request");
    struct ns_field_view v;
    cr_assert(H->rec_get(r, "netscope.arp.sender.ip", &v));
    cr_assert_eq(v.v.ip.a[0], 10);
    cr_assert(has(r, "netscope.arp.target.mac"));
    cr_assert(has(r, "source.mac"));
    cr_assert_eq(ns_fake_counter_value("arp_packets_total", NULL), 4);
}

Test(flow_plugin, sll_arp_no_ethernet_dst, .fini = ns_fake_reset)
{
    struct flow_config cfg = defaults();
    run_capture("sll-arp.pcap", &cfg);
    cr_assert_gt(count_type(NS_REC_ARP, NULL), 0);
    cr_assert(!has(nth(NS_REC_ARP, 0), "destination.mac"));
}

Test(flow_plugin, ipv4_total_length_zero, .fini = ns_fake_reset)
{
    struct flow_config cfg = defaults();
    run_capture("ip-bogus-header-len.pcap", &cfg);
    /* tshark decodes it (TSO rule) as one ICMP packet; so does NetScope. */
    cr_assert_eq(count_type(NS_REC_FLOW, NULL), 1);
    cr_assert_str_eq(s(nth(NS_REC_FLOW, 0), "network.transport"), "icmp");
    cr_assert_eq(ns_fake_counter_value("ipv4_zero_length_total", NULL), 1);
    cr_assert_eq(ns_fake_counter_value("decode_errors_total", "reason=\"bad_ipv4_total_len\""), 0);
}

Test(flow_plugin, icmp_echo_flows, .fini = ns_fake_reset)
{
    struct flow_config cfg = defaults();
    run_capture("icmp-echo.pcap", &cfg);
    size_t n = count_type(NS_REC_FLOW, NULL);
    cr_assert_geq(n, 1);
    for (size_t i = 0; i < n; i++) {
        struct ns_record *r = nth(NS_REC_FLOW, i);
        cr_assert_str_eq(s(r, "network.transport"), "icmp");
        cr_assert(!has(r, "source.port"));
        cr_assert_eq(u(r, "netscope.flow.icmp.type"), 8);
        cr_assert_eq(u(r, "source.packets"), u(r, "destination.packets"));
        cr_assert(has(r, "network.community_id"));
    }
}

Test(flow_plugin, fragments_and_orphans, .fini = ns_fake_reset)
{
    struct flow_config cfg = defaults();
    run_capture("dns-ipv6-fragmented.pcap", &cfg);
    cr_assert_eq(ns_fake_counter_value("fragments_attributed_total", NULL), 2);
    cr_assert_eq(ns_fake_counter_value("fragments_unattributed_total", NULL), 1);
}

Test(flow_plugin, emit_start_and_active_updates, .fini = ns_fake_reset)
{
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("decoder/flow", "flows");
    H = ins->host;
    struct flow_config cfg = defaults();
    cfg.emit_start = true;
    cfg.device_interval = 100000000000ull;
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    static uint8_t b[256];
    size_t len = tu_v4_udp(b, "10.0.0.1", "10.0.0.2", 1000, 53, 20);
    for (uint64_t t = 0; t < 150; t++) {
        struct ns_packet p = {.ts_ns = 1000000000000ull + t * 1000000000ull,
                              .data = b,
                              .caplen = (uint32_t)len,
                              .wirelen = (uint32_t)len,
                              .linktype = 1};
        ns_plugin.process_packets(ctx, &p, 1);
        ns_plugin.tick(ctx, p.ts_ns);
    }
    ns_plugin.flush(ctx);
    ns_plugin.destroy(ctx);
    cr_assert_eq(count_type(NS_REC_FLOW, "flow_start"), 1);
    cr_assert_eq(count_type(NS_REC_FLOW, "flow_update"), 2);
    cr_assert_eq(count_type(NS_REC_FLOW, "flow_end"), 1);
    struct ns_record *up = nth(NS_REC_FLOW, 1);
    cr_assert_str_eq(s(up, "event.action"), "flow_update");
    cr_assert_str_eq(s(up, "netscope.flow.end_reason"), "active");
    cr_assert_eq(u(up, "netscope.flow.delta.source.packets"), 61);
    struct ns_record *up2 = nth(NS_REC_FLOW, 2);
    cr_assert_eq(u(up2, "netscope.flow.delta.source.packets"), 60);
    cr_assert_eq(u(up2, "source.packets"), 121);
    struct ns_record *end = nth(NS_REC_FLOW, 3);
    cr_assert_eq(u(end, "netscope.flow.delta.source.packets"), 29);
    cr_assert_str_eq(s(end, "netscope.flow.end_reason"), "shutdown");
    /* periodic device report at 100 s plus the final one: 2 hosts each */
    cr_assert_eq(count_type(NS_REC_DEVICE, NULL), 4);
}

Test(flow_plugin, every_fixture_survives, .fini = ns_fake_reset)
{
    static const char *const files[] = {"arp-request-reply.pcap",
                                        "dns-ipv6-fragmented.pcap",
                                        "dns-tcp.pcap",
                                        "grpc-bidi-streaming.pcapng",
                                        "http-get.pcap",
                                        "icmp-echo.pcap",
                                        "icmp6-echo.pcap",
                                        "ip-bogus-header-len.pcap",
                                        "ipv4-fragmented.pcap",
                                        "ipv6-hbh-routing0.pcap",
                                        "ipv6-routing-header.pcap",
                                        "pcapng-multi-interface.pcapng",
                                        "qinq-http.pcap",
                                        "sll-arp.pcap",
                                        "sll2-tcp.pcap",
                                        "tcp-fast-retransmit-snaplen54.pcap",
                                        "tcp-handshake-reorder.pcap",
                                        "vlan-http.pcap"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct flow_config cfg = defaults();
        cfg.max_flows = 2; /* force evictions too */
        run_capture(files[i], &cfg);
    }
    cr_assert_gt(count_type(NS_REC_FLOW, NULL), 10);
}

Test(flow_plugin, unknown_linktype_counted_and_logged_once, .fini = ns_fake_reset)
{
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("decoder/flow", "flows");
    H = ins->host;
    struct flow_config cfg = defaults();
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    static const uint8_t junk[64];
    struct ns_packet p[3] = {
        {.ts_ns = 1, .data = junk, .caplen = 64, .wirelen = 64, .linktype = 127},
        {.ts_ns = 2, .data = junk, .caplen = 64, .wirelen = 64, .linktype = 127},
        {.ts_ns = 3, .data = junk, .caplen = 0, .wirelen = 0, .linktype = 1},
    };
    ns_plugin.process_packets(ctx, p, 3);
    ns_plugin.flush(ctx);
    ns_plugin.destroy(ctx);
    cr_assert_eq(ns_fake_counter_value("decode_errors_total", "reason=\"unknown_linktype\""), 2);
    cr_assert_eq(ns_fake_counter_value("decode_errors_total", "reason=\"truncated_l2\""), 1);
    cr_assert_eq(ns_fake_log_count(NS_LOG_WARN), 1);
}
