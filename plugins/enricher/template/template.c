/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enricher/template - the starting point for a new NetScope plugin.
 *
 * A real, tested plugin: it adds one configured field to every record that
 * passes through it. Copy it with `plugins/new-plugin.sh KIND NAME`, which
 * renames it and switches the descriptor to the new kind. The parts each kind
 * needs are marked; the rest is common to every plugin:
 *  - an options table (the core parses the YAML and fills struct template_config),
 *  - init/destroy owning a context,
 *  - counters registered through the host table,
 *  - NS_PLUGIN_DEFINE, the only symbol the .so exports.
 * Callbacks run on the thread documented in ns_plugin.h for the kind.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* nanosleep with -std=c11 */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netscope/ns_plugin.h"

/* new-plugin.sh rewrites these three lines for the new plugin's kind. */
#define TEMPLATE_KIND NS_KIND_ENRICHER
#define TEMPLATE_DECODER 0 /* 1: packets in (process_packets) */
#define TEMPLATE_SOURCE 0  /* 1: a capture thread (run) */

/* Parsed options: the core writes each at its offsetof() below. */
struct template_config {
    char *field; /* dotted ECS-style key, e.g. "labels.env" */
    char *value;
};

struct template_ctx {
    struct ns_instance *ins; /* host services: ins->host->... */
    const struct template_config *cfg;
    ns_counter *seen; /* records or packets handled */
};

static int template_init(struct ns_instance *ins, const void *config, void **ctx)
{
    const struct template_config *cfg = config;
    if (!cfg->field || !*cfg->field) {
        ns_log_error(ins, "'field' must not be empty");
        return -EINVAL;
    }
    struct template_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->cfg = cfg;
    c->seen = ins->host->counter(ins, "seen_total", NULL, "Items this plugin handled.");
    *ctx = c;
    return 0;
}

#if !TEMPLATE_DECODER && !TEMPLATE_SOURCE
/* Enrichers, detectors and sinks: a batch of records. Enrichers add fields in
 * place; the core passes every non-NULL record on. */
static int template_process(void *ctx, struct ns_record **recs, uint32_t n)
{
    struct template_ctx *c = ctx;
    const struct ns_host *h = c->ins->host;
    for (uint32_t i = 0; i < n; i++) {
        if (!recs[i])
            continue;
        if (TEMPLATE_KIND != NS_KIND_SINK)
            h->rec_add_cstr(recs[i], c->cfg->field, c->cfg->value ? c->cfg->value : "");
        ns_counter_inc(c->seen);
    }
    return 0;
}
#endif

#if TEMPLATE_DECODER
/* Decoders: a batch of packets. Emit records with h->rec_new + h->emit. */
static int template_process_packets(void *ctx, const struct ns_packet *pkts, uint32_t n)
{
    struct template_ctx *c = ctx;
    (void)pkts;
    ns_counter_add(c->seen, n);
    return 0;
}
#endif

#if TEMPLATE_SOURCE
#include <time.h>
/* Sources: capture on this thread until the pipeline stops, handing packets
 * over with h->emit_packet(). This one produces nothing. */
static int template_run(void *ctx)
{
    struct template_ctx *c = ctx;
    struct timespec ts = {0, 10000000};
    while (!c->ins->host->stopping(c->ins))
        nanosleep(&ts, NULL);
    return 0;
}
#endif

static void template_destroy(void *ctx)
{
    free(ctx);
}

static const struct ns_option template_options[] = {
    {.name = "field",
     .type = NS_OPT_STRING,
     .def = "labels.template",
     .offset = offsetof(struct template_config, field),
     .doc = "The key added to every record."},
    {.name = "value",
     .type = NS_OPT_STRING,
     .def = "yes",
     .offset = offsetof(struct template_config, value),
     .doc = "The value it gets."},
    NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = TEMPLATE_KIND, .name = "template", .version = "1.0.0",
                 .summary = "Template: adds one configured field to every record",
                 .options = template_options, .config_size = sizeof(struct template_config),
                 .init = template_init,
#if TEMPLATE_DECODER
                 .process_packets = template_process_packets,
#elif TEMPLATE_SOURCE
                 .run = template_run,
#else
                 .process = template_process,
#endif
                 .destroy = template_destroy);
