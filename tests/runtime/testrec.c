/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source/testrec - a test fixture: a record source with a run() thread that
 * emits `records` records (event.dataset netscope.test, test.n = 0..records-1),
 * then returns, or with `hold` waits for the pipeline to stop.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "netscope/ns_plugin.h"

struct rec_config {
    uint64_t records;
    bool hold;
};

struct rec_ctx {
    struct ns_instance *ins;
    const struct rec_config *cfg;
};

static int rec_init(struct ns_instance *ins, const void *config, void **ctx)
{
    struct rec_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->cfg = config;
    *ctx = c;
    return 0;
}

static int rec_run(void *ctx)
{
    struct rec_ctx *c = ctx;
    const struct ns_host *h = c->ins->host;
    for (uint64_t i = 0; i < c->cfg->records && !h->stopping(c->ins); i++) {
        struct ns_record *r = h->rec_new(c->ins, NS_REC_OTHER, 1700000000000000000ull + i);
        if (!r)
            continue;
        h->rec_add_cstr(r, "event.dataset", "netscope.test");
        h->rec_add_uint(r, "test.n", i);
        h->emit(c->ins, r);
    }
    h->emit(c->ins, NULL); /* hand on the partial batch before idling */
    while (c->cfg->hold && !h->stopping(c->ins)) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void rec_destroy(void *ctx)
{
    free(ctx);
}

static const struct ns_option rec_options[] = {{.name = "records",
                                                .type = NS_OPT_UINT,
                                                .def = "100",
                                                .offset = offsetof(struct rec_config, records),
                                                .doc = "Records to emit."},
                                               {.name = "hold",
                                                .type = NS_OPT_BOOL,
                                                .def = "false",
                                                .offset = offsetof(struct rec_config, hold),
                                                .doc = "Wait for the pipeline to stop."},
                                               NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "testrec", .version = "1.0.0",
                 .summary = "Test fixture: a record source on its own thread",
                 .flags = NS_PLUGIN_EMITS_RECORDS, .options = rec_options,
                 .config_size = sizeof(struct rec_config), .init = rec_init, .run = rec_run,
                 .destroy = rec_destroy);
