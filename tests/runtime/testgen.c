/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source/testgen - a test fixture: emits synthetic Ethernet/IPv4/UDP packets for
 * `flows` flows, alternating directions, so tests can check sharding (both
 * directions of a flow on one worker), draining and backpressure without a
 * capture file. The UDP payload carries the flow index and a sequence number.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netscope/ns_plugin.h"

struct gen_config {
    uint64_t packets, flows;
    bool hold;
    uint64_t interval;
};

struct gen_ctx {
    struct ns_instance *ins;
    const struct gen_config *cfg;
    ns_counter *sent;
};

static int gen_init(struct ns_instance *ins, const void *config, void **ctx)
{
    struct gen_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->cfg = config;
    c->sent = ins->host->counter(ins, "generated_total", NULL, "Packets generated.");
    *ctx = c;
    return 0;
}

static void build(uint8_t *p, uint32_t flow, uint32_t seq, int reverse)
{
    memset(p, 0, 60);
    p[12] = 0x08; /* IPv4 */
    uint8_t *ip = p + 14;
    ip[0] = 0x45;
    ip[3] = 46;
    ip[8] = 64;
    ip[9] = 17;
    uint8_t a[4] = {10, 0, (uint8_t)(flow >> 8), (uint8_t)flow}, b[4] = {10, 1, 0, 1};
    memcpy(ip + 12, reverse ? b : a, 4);
    memcpy(ip + 16, reverse ? a : b, 4);
    uint8_t *udp = ip + 20;
    uint16_t sp = htons((uint16_t)(1024 + flow % 60000)), dp = htons(53);
    memcpy(udp, reverse ? &dp : &sp, 2);
    memcpy(udp + 2, reverse ? &sp : &dp, 2);
    udp[5] = 26;
    uint32_t f = htonl(flow), s = htonl(seq);
    memcpy(udp + 8, &f, 4);
    memcpy(udp + 12, &s, 4);
}

static int gen_run(void *ctx)
{
    struct gen_ctx *c = ctx;
    const struct ns_host *h = c->ins->host;
    uint8_t pkt[64];
    uint64_t t0 = 1700000000ull * 1000000000ull;
    for (uint64_t i = 0; i < c->cfg->packets && !h->stopping(c->ins); i++) {
        uint32_t flow = (uint32_t)(i % c->cfg->flows);
        build(pkt, flow, (uint32_t)i, (int)((i / c->cfg->flows) & 1));
        struct ns_packet p = {
            .ts_ns = t0 + i * 1000, .data = pkt, .caplen = 60, .wirelen = 60, .linktype = 1};
        h->emit_packet(c->ins, &p);
        ns_counter_inc(c->sent);
        if (c->cfg->interval) {
            struct timespec ts = {(time_t)(c->cfg->interval / 1000000000u),
                                  (long)(c->cfg->interval % 1000000000u)};
            h->emit_packet(c->ins, NULL);
            nanosleep(&ts, NULL);
        }
    }
    while (c->cfg->hold && !h->stopping(c->ins)) {
        struct timespec ts = {0, 10000000};
        h->emit_packet(c->ins, NULL);
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void gen_destroy(void *ctx)
{
    free(ctx);
}

static const struct ns_option gen_options[] = {
    {.name = "packets",
     .type = NS_OPT_UINT,
     .def = "1000",
     .offset = offsetof(struct gen_config, packets),
     .doc = "Packets to generate."},
    {.name = "flows",
     .type = NS_OPT_UINT,
     .def = "16",
     .min = 1,
     .max = 65535,
     .offset = offsetof(struct gen_config, flows),
     .doc = "Distinct flows."},
    {.name = "hold",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = offsetof(struct gen_config, hold),
     .doc = "Keep running after the last packet until the pipeline stops (like a live capture)."},
    {.name = "interval",
     .type = NS_OPT_DURATION,
     .def = "0",
     .offset = offsetof(struct gen_config, interval),
     .doc = "Pause between packets."},
    NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "testgen", .version = "1.0.0",
                 .summary = "Test fixture: synthetic UDP packets for N flows",
                 .options = gen_options, .config_size = sizeof(struct gen_config), .init = gen_init,
                 .run = gen_run, .destroy = gen_destroy);
