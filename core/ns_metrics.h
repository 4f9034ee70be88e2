/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_metrics.h - the registry of counters and gauges: every plugin instance's own
 * (through host->counter) and the core's (records in/out per node, ring depths,
 * drops, reloads, build info).
 *
 * Registration takes a lock and happens at start-up (any thread); updates are
 * single-writer relaxed stores on the cell (see ns_counter_add); readers (the
 * /metrics endpoint on the loop thread, the exit summary) take relaxed loads.
 * Cells stay valid until ns_metrics_reset.
 *
 * Names and labels are normalised once, at registration: a name keeps only
 * [a-zA-Z0-9_:] (anything else becomes '_'); label text (`node="dns",reason="x"`,
 * Prometheus syntax with \\ \" \n escapes) is parsed and written back with every
 * value escaped, so the exposition is always valid. Label text that does not parse
 * is kept, escaped, as the value of one label `invalid_labels`.
 */
#ifndef NS_METRICS_H
#define NS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "netscope/ns_plugin.h"

enum ns_metric_type { NS_METRIC_COUNTER, NS_METRIC_GAUGE };

/* One series (a name and a label set) as the readers see it. */
struct ns_metric {
    char *name;   /* as first registered, without the netscope_ prefix */
    char *labels; /* normalised: `node="dns",reason="x"` (may be empty) */
    char *help;
    enum ns_metric_type type;
    ns_counter *cell; /* the first cell; the value passed to readers sums them all */
};

/* Register a cell; the same name+labels registered again (e.g. one per worker)
 * gets its own cell and the cells are summed when read. Returns the cell (never
 * NULL: a shared scratch cell when memory is exhausted). Any thread. */
ns_counter *ns_metrics_register(enum ns_metric_type type, const char *name, const char *labels,
                                const char *help);

/* Append `name="value"` (value escaped for the exposition format) to the label
 * text in buf, with a comma when buf is not empty. Returns 0, or -ENOSPC when it
 * does not fit (buf is left unchanged). */
int ns_metrics_label_append(char *buf, size_t cap, const char *name, const char *value);

/* Call fn for every series (cells summed), in registration order. */
void ns_metrics_foreach(void (*fn)(const struct ns_metric *m, uint64_t value, void *arg),
                        void *arg);

/* Sum of every cell with this name and labels (labels NULL: any labels). */
uint64_t ns_metrics_sum(const char *name, const char *labels);

/* Set the function called (on the reader's thread, without the registry lock)
 * right before every exposition, to refresh gauges computed on demand such as
 * ring depths. NULL removes it. */
void ns_metrics_set_collector(void (*fn)(void *arg), void *arg);

/* Write the Prometheus text exposition (format 0.0.4) of everything: per family
 * one HELP and one TYPE line directly followed by its samples. Counter names get
 * a `_total` suffix when they lack one. Returns 0 or -errno of the stream. */
int ns_metrics_write_prometheus(FILE *f);

/* Register the process's own series: netscope_build_info{version,abi,schema} 1
 * and netscope_start_time_seconds. Idempotent until ns_metrics_reset. */
void ns_metrics_register_process(void);

/* ---- series with run-time label sets (host->series_set) -------------------
 * Kept apart from the cells above: per family a hash table of label sets and
 * values, bounded by a cap, under its own mutex (lock order: this one, then the
 * registry's). Exported after the registry's families. */

/* The cap on series per family (0 = the default, 10000) and how long a
 * removed series stays exported (ns). Any thread; applies from the next call. */
void ns_metrics_series_limits(uint64_t max_series, uint64_t grace_ns);

/* Create or overwrite one series. owner (may be NULL) is remembered for
 * ns_metrics_series_retire_owner. Returns 0, -EINVAL (name, labels, type),
 * -ENOSPC (family full: counted in netscope_metrics_series_dropped_total) or
 * -ENOMEM. Any thread. */
int ns_metrics_series_set(const void *owner, const char *family, int type, const char *help,
                          const char *labels, uint64_t value);

/* Retire one series: exported for the grace period, then deleted (at once
 * when the grace is 0). Returns 0, -ENOENT or -EINVAL. Any thread. */
int ns_metrics_series_remove(const char *family, const char *labels);

/* Retire every series set by owner (a node being destroyed). */
void ns_metrics_series_retire_owner(const void *owner);

/* Delete retired series whose grace ended before now_ns (CLOCK_MONOTONIC);
 * the exposition does it too. Returns how many were deleted. */
size_t ns_metrics_series_sweep(uint64_t now_ns);

/* Value of one series (labels in any equivalent spelling); false when none. */
bool ns_metrics_series_get(const char *family, const char *labels, uint64_t *value);

/* Series currently held in a family (retired ones included). */
size_t ns_metrics_series_count(const char *family);

/* Free everything (end of run, tests). */
void ns_metrics_reset(void);

#endif
