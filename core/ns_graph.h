/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_graph.h - the validated pipeline graph: plugins resolved, options parsed,
 * edges checked (kinds that may connect, no cycles), settings applied.
 *
 * Edges. `from:` lists a node's inputs. When it is omitted: a decoder reads every
 * packet source; an app-layer decoder (NS_PLUGIN_APP) reads the nearest packet
 * decoder above it; any other node reads every node above it that may feed it
 * and whose records nothing reads yet (so `flows, dns, out` delivers both flows
 * and dns records to out), or, when there is none, the nearest such node.
 * Allowed edges:
 *   packet source -> decoder
 *   packet decoder (decoder/flow) -> app decoder: hosting, not a record edge
 *   record source (e.g. redis), decoder, enricher -> enricher, detector, sink
 *   detector -> detector, sink
 * Sinks feed nothing; sources read nothing.
 *
 * Loop thread only. Used by `check-config` (build, then free) and by `run`.
 */
#ifndef NS_GRAPH_H
#define NS_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ns_config.h"
#include "ns_loader.h"

enum ns_policy { NS_POLICY_BLOCK = 0, NS_POLICY_DROP = 1 };

/* The daemon's own settings (`netscope:` section). */
struct ns_settings {
    uint64_t workers; /* 0 = online CPUs */
    int log_level;
    struct ns_strlist plugin_path;
    char *hostname;
    uint64_t queue_size; /* ring capacity in batches, power of two */
    int on_full;         /* default edge policy */
    uint64_t tick_interval;
    uint64_t max_packet_batches;   /* per source and worker */
    char *metrics_listen;          /* /metrics, /health, /ready address; "" = off */
    uint64_t metrics_max_series;   /* per family of run-time series (host->series_set) */
    uint64_t metrics_series_grace; /* ns a removed series stays exported */
};

/* Per-node keys the core handles itself. */
struct ns_node_settings {
    int on_full;         /* -1 = the pipeline default */
    uint64_t queue_size; /* 0 = the pipeline default */
    bool optional;       /* a failing init/start is logged and the node skipped */
};

struct ns_gnode {
    size_t idx;
    const struct ns_node_spec *spec;
    const struct ns_plugin_entry *plugin;
    enum ns_kind kind;
    bool emits_records; /* a record source */
    bool app;           /* an app-layer decoder hosted by the flow decoder it reads from */
    size_t *from, nfrom;
    size_t *succ, nsucc;
    struct ns_node_settings ns;
    void *config; /* the plugin's option block */
};

struct ns_graph {
    const struct ns_config *cfg;
    struct ns_settings settings;
    struct ns_gnode *nodes;
    size_t n;
    size_t *topo; /* node indices in topological order */
};

const struct ns_option *ns_settings_options(void);
const struct ns_option *ns_node_options(void);

/* Apply the `netscope:` settings and set up the plugin search path in reg
 * (env, YAML plugin_path, built-in). Returns 0 or -EINVAL after a located error. */
int ns_graph_settings(const struct ns_config *cfg, struct ns_settings *s, struct ns_registry *reg);
void ns_settings_free(struct ns_settings *s);

/* Resolve every node's plugin and options and check the edges. NULL after
 * printing the first located error. reg must already hold the search path. */
struct ns_graph *ns_graph_build(const struct ns_config *cfg, struct ns_registry *reg);
void ns_graph_free(struct ns_graph *g);

/* True when an edge from a node of kind `from` (a record source when
 * from_records) to one of kind `to` is allowed. */
bool ns_graph_edge_allowed(enum ns_kind from, bool from_records, enum ns_kind to);

#endif
