/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decoder/testdec - a test fixture: counts source/testgen packets per flow and
 * emits one record per flow seen at flush (with the worker index), so a test
 * can prove that both directions of every flow met on one worker. With
 * per_packet it also emits a record per packet (volume, backpressure).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netscope/ns_plugin.h"

#define MAXF 65536

struct dec_config {
    bool per_packet;
};

struct dec_ctx {
    struct ns_instance *ins;
    const struct dec_config *cfg;
    uint64_t *count;
    uint64_t last_ts;
};

static int dec_init(struct ns_instance *ins, const void *config, void **ctx)
{
    struct dec_ctx *c = calloc(1, sizeof(*c));
    if (!c || !(c->count = calloc(MAXF, sizeof(uint64_t)))) {
        free(c);
        return -ENOMEM;
    }
    c->ins = ins;
    c->cfg = config;
    *ctx = c;
    return 0;
}

static int dec_process(void *ctx, const struct ns_packet *pkts, uint32_t n)
{
    struct dec_ctx *c = ctx;
    const struct ns_host *h = c->ins->host;
    for (uint32_t i = 0; i < n; i++) {
        if (pkts[i].caplen < 14 + 20 + 16)
            continue;
        uint32_t flow;
        memcpy(&flow, pkts[i].data + 14 + 20 + 8, 4);
        flow = ntohl(flow) % MAXF;
        c->count[flow]++;
        c->last_ts = pkts[i].ts_ns;
        if (c->cfg->per_packet) {
            struct ns_record *r = h->rec_new(c->ins, NS_REC_OTHER, pkts[i].ts_ns);
            if (!r)
                continue;
            h->rec_add_cstr(r, "event.dataset", "netscope.test");
            h->rec_add_uint(r, "test.flow", flow);
            h->emit(c->ins, r);
        }
    }
    return 0;
}

static int dec_flush(void *ctx)
{
    struct dec_ctx *c = ctx;
    const struct ns_host *h = c->ins->host;
    for (uint32_t f = 0; f < MAXF; f++) {
        if (!c->count[f])
            continue;
        struct ns_record *r = h->rec_new(c->ins, NS_REC_OTHER, c->last_ts);
        if (!r)
            continue;
        h->rec_add_cstr(r, "event.dataset", "netscope.testflow");
        h->rec_add_uint(r, "test.flow", f);
        h->rec_add_uint(r, "test.packets", c->count[f]);
        h->rec_add_uint(r, "test.worker", c->ins->worker);
        h->emit(c->ins, r);
    }
    return 0;
}

static void dec_destroy(void *ctx)
{
    struct dec_ctx *c = ctx;
    free(c->count);
    free(c);
}

static const struct ns_option dec_options[] = {{.name = "per_packet",
                                                .type = NS_OPT_BOOL,
                                                .def = "false",
                                                .offset = offsetof(struct dec_config, per_packet),
                                                .doc = "Emit a record per packet too."},
                                               NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "testdec", .version = "1.0.0",
                 .summary = "Test fixture: per-flow packet counts with the worker index",
                 .options = dec_options, .config_size = sizeof(struct dec_config), .init = dec_init,
                 .process_packets = dec_process, .flush = dec_flush, .destroy = dec_destroy);
