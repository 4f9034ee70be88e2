/* SPDX-License-Identifier: Apache-2.0 */
/*
 * null.c - sink/null: discard every record, count it.
 *
 * For benchmarks and dry runs: the pipeline does all its work up to the sink,
 * and nothing is rendered or written. The core releases the records after
 * process() returns, so this sink keeps nothing.
 *
 * Threads: process() runs on the loop thread (sinks); no state besides counters.
 */
#include <errno.h>
#include <stdlib.h>

#include "netscope/ns_plugin.h"

struct null_ctx {
    ns_counter *records; /* records discarded */
};

static int null_init(struct ns_instance *ins, const void *config, void **ctx)
{
    (void)config;
    struct null_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->records = ins->host->counter(ins, "records_total", NULL, "Records discarded.");
    *ctx = c;
    return 0;
}

/* Loop thread: count the batch; the core releases the records. */
static int null_process(void *ctx, struct ns_record **recs, uint32_t n)
{
    struct null_ctx *c = ctx;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        k += recs[i] != NULL;
    ns_counter_add(c->records, k);
    return 0;
}

static void null_destroy(void *ctx)
{
    free(ctx);
}

static const struct ns_option null_options[] = {NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SINK, .name = "null", .version = "1.0.0",
                 .summary = "Discards every record and counts it (benchmarks, dry runs)",
                 .options = null_options, .config_size = 0, .init = null_init,
                 .process = null_process, .destroy = null_destroy);
