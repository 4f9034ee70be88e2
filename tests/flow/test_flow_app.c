/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_app.c - decoder/flow hosting app decoders (flow_app.c) on the fake
 * host: probe/claim, app_data in stream order with gaps, app_annotate on the
 * flow record, app_close once per claimed flow at flow end and at flush,
 * NS_DECLINED, unclaimed flows, counters. The app decoder is a fake defined
 * here that claims payloads starting with "HI".
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "flow.h"
#include "flow_testutil.h"
#include "ns_fake_host.h"

extern const struct ns_plugin_desc ns_plugin;

/* ---- the fake app decoder --------------------------------------------------- */

struct fake {
    int probes, claims, datas, annotates, closes, decline_after;
    char stream[2][512];
    size_t len[2];
    uint64_t gap[2];
    enum ns_app_dir probe_dir;
    struct ns_app_flow seen;
};
static struct fake FK;

static int fk_probe(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *d,
                    size_t n, uint64_t ts)
{
    (void)ctx;
    (void)ts;
    FK.probes++;
    if (n < 2 || memcmp(d, "HI", 2) != 0)
        return NS_DECLINED;
    FK.claims++;
    FK.probe_dir = dir;
    FK.seen = *f;
    f->state = malloc(16); /* freed in close: ASan checks the pairing */
    memcpy(FK.stream[dir], d, n);
    FK.len[dir] = n;
    return NS_OK;
}

static int fk_data(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *d,
                   size_t n, uint64_t ts, uint64_t gap)
{
    (void)ctx;
    (void)f;
    (void)ts;
    FK.datas++;
    FK.gap[dir] += gap;
    cr_assert(FK.len[dir] + n < sizeof(FK.stream[dir]));
    memcpy(FK.stream[dir] + FK.len[dir], d, n);
    FK.len[dir] += n;
    if (FK.decline_after && FK.datas >= FK.decline_after)
        return NS_DECLINED;
    return NS_OK;
}

static void fk_annotate(void *ctx, struct ns_app_flow *f, struct ns_record *r)
{
    (void)ctx;
    (void)f;
    FK.annotates++;
    ns_fake_host()->rec_add_cstr(r, "network.protocol", "fake");
}

static void fk_close(void *ctx, struct ns_app_flow *f, uint64_t ts)
{
    (void)ctx;
    (void)ts;
    FK.closes++;
    free(f->state);
    f->state = NULL;
}

static const struct ns_plugin_desc fake_desc = {
    .abi_major = NS_ABI_MAJOR,
    .kind = NS_KIND_DECODER,
    .name = "fake",
    .flags = NS_PLUGIN_APP,
    .app_probe = fk_probe,
    .app_data = fk_data,
    .app_annotate = fk_annotate,
    .app_close = fk_close,
};

/* ---- harness ------------------------------------------------------------------ */

static void *CTX;
static const struct ns_host *H;

static uint64_t FLOW_BYTES = 262144, TOTAL_BYTES = 1 << 20;
static bool FRAG_ON; /* ip_reassembly (setup_frag) */

static void setup(void)
{
    memset(&FK, 0, sizeof(FK));
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("decoder/flow", "flows");
    struct ns_instance *app = ns_fake_instance("decoder/fake", "fake");
    struct ns_app_peer peer = {.desc = &fake_desc, .ctx = NULL, .ins = app};
    ns_fake_set_app_peers(&peer, 1);
    H = ins->host;
    struct flow_config cfg = {
        .max_flows = 1000,
        .active_timeout = 0,
        .tcp_idle_timeout = 300000000000ull,
        .udp_idle_timeout = 60000000000ull,
        .icmp_idle_timeout = 60000000000ull,
        .other_idle_timeout = 60000000000ull,
        .tcp_close_timeout = 5000000000ull,
        .reassembly_flow_bytes = FLOW_BYTES,
        .reassembly_total_bytes = TOTAL_BYTES,
        .app_probe_payloads = 2,
        .ip_reassembly = FRAG_ON,
        .ip_reassembly_timeout = 30000000000ull,
        .ip_reassembly_datagrams = 16,
        .ip_reassembly_bytes = 1 << 20,
    };
    cr_assert_eq(ns_plugin.init(ins, &cfg, &CTX), 0);
}

static void teardown(void)
{
    ns_plugin.destroy(CTX);
    ns_fake_set_app_peers(NULL, 0);
    ns_fake_reset();
}

static uint64_t T = 1000000000ull;

static void send_frame(const uint8_t *b, size_t n)
{
    struct ns_packet pk = {
        .data = b, .caplen = (uint32_t)n, .wirelen = (uint32_t)n, .linktype = 1, .ts_ns = T};
    T += 1000;
    cr_assert_eq(ns_plugin.process_packets(CTX, &pk, 1), 0);
}

static void tcp(bool c2s, uint32_t seq, uint32_t ack, uint8_t flags, const char *payload)
{
    uint8_t b[1600];
    size_t pl = payload ? strlen(payload) : 0;
    size_t n = c2s ? tu_v4_tcp(b, "10.0.0.1", "10.0.0.2", 40000, 5555, seq, ack, flags, pl)
                   : tu_v4_tcp(b, "10.0.0.2", "10.0.0.1", 5555, 40000, seq, ack, flags, pl);
    if (pl)
        memcpy(b + n - pl, payload, pl);
    send_frame(b, n);
}

static void udp(bool c2s, const char *payload)
{
    uint8_t b[1600];
    size_t pl = strlen(payload);
    size_t n = c2s ? tu_v4_udp(b, "10.0.0.1", "10.0.0.2", 40001, 7777, pl)
                   : tu_v4_udp(b, "10.0.0.2", "10.0.0.1", 7777, 40001, pl);
    memcpy(b + n - pl, payload, pl);
    send_frame(b, n);
}

static char *flow_json(size_t i)
{
    size_t n, k = 0;
    struct ns_record **r = ns_fake_emitted(&n);
    for (size_t j = 0; j < n; j++)
        if (H->rec_type(r[j]) == NS_REC_FLOW && k++ == i)
            return ns_fake_rec_json(r[j]);
    cr_assert_fail("no flow record %zu", i);
    return NULL;
}

/* ---- tests -------------------------------------------------------------------- */

Test(flow_app, udp_claim_data_annotate_close, .init = setup, .fini = teardown)
{
    udp(true, "HI there");
    udp(false, "reply");
    udp(true, "more");
    cr_assert_eq(FK.claims, 1);
    cr_assert_eq(FK.probe_dir, NS_APP_TO_SERVER);
    cr_assert_eq(FK.datas, 2);
    cr_assert_eq(FK.len[1], 5);
    cr_assert_eq(memcmp(FK.stream[0], "HI theremore", 12), 0);
    cr_assert_eq(FK.seen.src_port, 40001);
    cr_assert_eq(FK.seen.dst_port, 7777);
    cr_assert_eq(FK.seen.transport, 17);
    cr_assert_not_null(FK.seen.community_id);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(FK.closes, 1);
    cr_assert_eq(FK.annotates, 1);
    char *j = flow_json(0);
    cr_assert(strstr(j, "\"protocol\":\"fake\""), "%s", j);
    free(j);
    cr_assert_eq(ns_fake_counter_value("app_flows_claimed_total", "decoder=\"fake\""), 1);
}

Test(flow_app, tcp_reordered_stream_in_order, .init = setup, .fini = teardown)
{
    tcp(true, 100, 0, 0x02, NULL);
    tcp(false, 500, 101, 0x12, NULL);
    tcp(true, 101, 501, 0x10, NULL);
    tcp(true, 105, 501, 0x18, "world"); /* ahead of the hole */
    tcp(true, 101, 501, 0x18, "HI, ");
    tcp(false, 501, 110, 0x18, "ok");
    tcp(true, 105, 503, 0x18, "world"); /* retransmission */
    tcp(true, 110, 503, 0x11, NULL);
    tcp(false, 503, 111, 0x11, NULL);
    cr_assert_eq(FK.claims, 1);
    cr_assert_eq(FK.len[0], 9);
    cr_assert_eq(memcmp(FK.stream[0], "HI, world", 9), 0);
    cr_assert_eq(FK.len[1], 2);
    cr_assert_eq(FK.gap[0] + FK.gap[1], 0);
    cr_assert_eq(FK.seen.src_port, 40000);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(FK.closes, 1);
    cr_assert_eq(ns_fake_counter_value("reassembly_out_of_order_total", NULL), 1);
    cr_assert_geq(ns_fake_counter_value("reassembly_overlaps_total", NULL), 1);
}

Test(flow_app, tcp_loss_is_signalled_as_gap, .init = setup, .fini = teardown)
{
    tcp(true, 100, 0, 0x02, NULL);
    tcp(false, 500, 101, 0x12, NULL);
    tcp(true, 101, 501, 0x18, "HI");
    tcp(true, 108, 501, 0x18, "tail"); /* 103..108 never captured */
    tcp(false, 501, 112, 0x10, NULL);  /* server acked it all */
    cr_assert_eq(FK.gap[0], 5);
    cr_assert_eq(memcmp(FK.stream[0], "HItail", 6), 0);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(ns_fake_counter_value("reassembly_gaps_total", NULL), 1);
    cr_assert_eq(ns_fake_counter_value("reassembly_gap_bytes_total", NULL), 5);
}

Test(flow_app, held_data_delivered_at_flow_end, .init = setup, .fini = teardown)
{
    tcp(true, 100, 0, 0x02, NULL);
    tcp(true, 101, 0, 0x18, "HI");
    tcp(true, 110, 0, 0x18, "late");
    cr_assert_eq(FK.len[0], 2);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(FK.len[0], 6);
    cr_assert_eq(FK.gap[0], 7);
    cr_assert_eq(FK.closes, 1);
}

Test(flow_app, unclaimed_after_max_probes, .init = setup, .fini = teardown)
{
    udp(true, "nope");
    udp(false, "nope");
    udp(true, "HI too late");
    cr_assert_eq(FK.probes, 2);
    cr_assert_eq(FK.claims, 0);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(FK.closes, 0);
    cr_assert_eq(FK.annotates, 0);
    cr_assert_eq(ns_fake_counter_value("app_flows_unclaimed_total", NULL), 1);
    char *j = flow_json(0);
    cr_assert_null(strstr(j, "protocol"), "%s", j);
    free(j);
}

Test(flow_app, declined_stops_data_but_closes, .init = setup, .fini = teardown)
{
    FK.decline_after = 1;
    udp(true, "HI");
    udp(true, "a");
    udp(true, "b");
    cr_assert_eq(FK.datas, 1);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(FK.closes, 1);
    cr_assert_eq(ns_fake_counter_value("app_flows_declined_total", "decoder=\"fake\""), 1);
}

Test(flow_app, idle_end_closes, .init = setup, .fini = teardown)
{
    udp(true, "HI");
    ns_plugin.tick(CTX, T + 120000000000ull);
    cr_assert_eq(FK.closes, 1);
    cr_assert_eq(FK.annotates, 1);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(FK.closes, 1);
}

Test(flow_app, no_peers_no_hosting)
{
    ns_fake_set_quiet(true);
    memset(&FK, 0, sizeof(FK));
    struct ns_instance *ins = ns_fake_instance("decoder/flow", "flows");
    H = ins->host;
    struct flow_config cfg = {.max_flows = 10, .app_probe_payloads = 4};
    cr_assert_eq(ns_plugin.init(ins, &cfg, &CTX), 0);
    udp(true, "HI");
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(FK.probes, 0);
    cr_assert_eq(ns_fake_counter_value("app_probes_total", NULL), UINT64_MAX);
    ns_plugin.destroy(CTX);
    ns_fake_reset();
}

static void setup_small(void)
{
    FLOW_BYTES = 8;
    TOTAL_BYTES = 1 << 20;
    setup();
}

Test(flow_app, flow_bound_gives_the_hole_up, .init = setup_small, .fini = teardown)
{
    tcp(true, 100, 0, 0x02, NULL);
    tcp(true, 101, 0, 0x18, "HI");
    tcp(true, 110, 0, 0x18, "abcdef"); /* held: 6 bytes */
    tcp(true, 120, 0, 0x18, "ghijkl"); /* 12 > 8: hole given up */
    cr_assert_eq(memcmp(FK.stream[0], "HIabcdefghijkl", 14), 0);
    cr_assert_eq(FK.gap[0], 7 + 4);
    cr_assert_eq(ns_fake_counter_value("reassembly_bound_hits_total", "bound=\"flow\""), 1);
    cr_assert_eq(ns_fake_counter_value("reassembly_held_bytes", NULL), 0);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
}

static void setup_tiny_total(void)
{
    FLOW_BYTES = 1000;
    TOTAL_BYTES = 4;
    setup();
}

Test(flow_app, total_bound_gives_the_hole_up, .init = setup_tiny_total, .fini = teardown)
{
    tcp(true, 100, 0, 0x02, NULL);
    tcp(true, 101, 0, 0x18, "HI");
    tcp(true, 110, 0, 0x18, "abcdef"); /* 6 > 4 held in total: delivered at once */
    cr_assert_eq(memcmp(FK.stream[0], "HIabcdef", 8), 0);
    cr_assert_eq(FK.gap[0], 7);
    cr_assert_eq(ns_fake_counter_value("reassembly_bound_hits_total", "bound=\"total\""), 1);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
}

/* ---- IP fragments: reassembled for the app decoders --------------------------- */

static void setup_frag(void)
{
    FRAG_ON = true;
    setup();
}

/* The UDP datagram 10.0.0.1:40001 -> 10.0.0.2:7777 carrying `payload`, sent
 * as IPv4 fragments of the given sizes (n of them, all but the last a
 * multiple of 8): the `sent` fragments named by `order`, in that order. */
static void udp_frags(const char *payload, const size_t *sizes, int n, const int *order, int sent)
{
    uint8_t whole[1600];
    size_t pl = strlen(payload);
    size_t len = tu_v4_udp(whole, "10.0.0.1", "10.0.0.2", 40001, 7777, pl);
    memcpy(whole + len - pl, payload, pl);
    const uint8_t *dgram = whole + 14 + 20; /* UDP header + payload */
    size_t offs[8], off = 0;
    for (int i = 0; i < n; i++) {
        offs[i] = off;
        off += sizes[i];
    }
    cr_assert_eq(off, 8 + pl);
    for (int k = 0; k < sent; k++) {
        int i = order[k];
        uint8_t b[1600];
        memcpy(b, whole, 14 + 20);
        tu_put16(b + 14 + 2, (uint16_t)(20 + sizes[i]));
        tu_put16(b + 14 + 4, 0x1234);
        tu_put16(b + 14 + 6, (uint16_t)((offs[i] / 8) | (i + 1 < n ? 0x2000 : 0)));
        memcpy(b + 34, dgram + offs[i], sizes[i]);
        send_frame(b, 34 + sizes[i]);
    }
}

Test(flow_app, ip_fragments_reassembled_for_the_app, .init = setup_frag, .fini = teardown)
{
    const char *msg = "HI from a datagram in three fragments!"; /* 38 bytes */
    static const size_t sizes[3] = {16, 16, 14};
    static const int order[3] = {0, 2, 1}; /* first, last, then the middle */
    udp_frags(msg, sizes, 3, order, 3);
    cr_assert_eq(FK.claims, 1);
    cr_assert_eq(FK.len[0], strlen(msg));
    cr_assert_eq(memcmp(FK.stream[0], msg, strlen(msg)), 0);
    cr_assert_eq(FK.seen.src_port, 40001);
    cr_assert_eq(FK.seen.dst_port, 7777);
    cr_assert_eq(ns_plugin.flush(CTX), 0);
    cr_assert_eq(FK.closes, 1);
    /* Accounting is per fragment, on the one flow of the first fragment. */
    char *j = flow_json(0);
    cr_assert(strstr(j, "\"packets\":3"), "%s", j);
    cr_assert(strstr(j, "\"fragments\":2"), "%s", j);
    cr_assert(strstr(j, "\"protocol\":\"fake\""), "%s", j);
    free(j);
    cr_assert_eq(ns_fake_counter_value("ip_reassembled_total", NULL), 1);
}

Test(flow_app, ip_fragment_missing_piece_times_out, .init = setup_frag, .fini = teardown)
{
    static const size_t sizes[3] = {16, 16, 14};
    static const int order[2] = {0, 2}; /* the middle never comes */
    udp_frags("HI from a datagram in three fragments!", sizes, 3, order, 2);
    cr_assert_eq(FK.claims, 0);
    ns_plugin.tick(CTX, T + 31000000000ull);
    cr_assert_eq(ns_fake_counter_value("ip_reassembly_dropped_total", "reason=\"timeout\""), 1);
    cr_assert_eq(ns_fake_counter_value("ip_reassembly_datagrams", NULL), 0);
}

Test(flow_app, ip_reassembly_off, .init = setup, .fini = teardown)
{
    static const size_t sizes[2] = {16, 28};
    static const int order[2] = {0, 1};
    udp_frags("HI from a datagram in two fragments!", sizes, 2, order, 2);
    cr_assert_eq(FK.claims, 0); /* setup() leaves ip_reassembly off */
}
