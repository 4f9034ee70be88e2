/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_metrics.h - the registry of counters and gauges: every plugin instance's own
 * (through host->counter) and the core's (records in/out per node, ring drops).
 *
 * Registration takes a lock and happens at start-up; updates are single-writer
 * relaxed stores on the cell (see ns_counter_add); readers (the /metrics endpoint,
 * the exit summary) take relaxed loads. Cells stay valid until ns_metrics_reset.
 */
#ifndef NS_METRICS_H
#define NS_METRICS_H

#include <stdbool.h>
#include <stdio.h>

#include "netscope/ns_plugin.h"

enum ns_metric_type { NS_METRIC_COUNTER, NS_METRIC_GAUGE };

struct ns_metric {
    char *name;   /* without the netscope_ prefix */
    char *labels; /* `node="dns",reason="x"` (may be empty) */
    char *help;
    enum ns_metric_type type;
    ns_counter *cell;
};

/* Register a cell; same name+labels registered again (e.g. one per worker) gets
 * its own cell and is summed when read. Returns the cell (never NULL). */
ns_counter *ns_metrics_register(enum ns_metric_type type, const char *name, const char *labels,
                                const char *help);
/* Call fn for every metric (same name+labels summed), in registration order. */
void ns_metrics_foreach(void (*fn)(const struct ns_metric *m, uint64_t value, void *arg),
                        void *arg);
/* Sum of every cell with this name and labels (labels NULL: any labels). */
uint64_t ns_metrics_sum(const char *name, const char *labels);
/* Write Prometheus text exposition (0.0.4) of everything. */
void ns_metrics_write_prometheus(FILE *f);
/* Free everything (end of run, tests). */
void ns_metrics_reset(void);

#endif
