/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_config.h - the YAML pipeline file, read with libyaml into a small tree that
 * keeps line:column marks, so that every later error (unknown plugin, unknown
 * option, bad value, cycle) can name file:line:column.
 *
 * File shape:
 *
 *   netscope:                 # optional: settings of the daemon itself
 *     workers: 2
 *     log_level: info
 *   pipeline:                 # named nodes, in order
 *     capture:
 *       plugin: source/pcap   # kind/name
 *       file: trace.pcap      # the plugin's own options
 *     flows:
 *       plugin: decoder/flow
 *       from: [capture]       # edges; omitted = see ns_graph.h
 *
 * Loop thread only.
 */
#ifndef NS_CONFIG_H
#define NS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netscope/ns_option.h"

struct ns_mark {
    unsigned line, col; /* 1-based; 0 = no position (built-in or command line) */
};

/* One `key: value` under a node or the settings section. */
struct ns_kv {
    char *key;
    struct ns_mark kmark, vmark;
    enum { NS_KV_SCALAR, NS_KV_LIST, NS_KV_MAP } kind;
    char **vals; /* SCALAR: one value; LIST: nvals scalars */
    size_t nvals;
};

struct ns_node_spec {
    char *name;
    struct ns_mark mark;
    char *plugin; /* "kind/name" as written */
    struct ns_mark plugin_mark;
    char **from;
    struct ns_mark *from_marks;
    size_t nfrom;
    bool from_given;
    struct ns_kv *kvs; /* plugin options and node keys (on_full, queue_size, optional) */
    size_t nkv;
};

struct ns_config {
    char *file; /* path as given, or "<built-in>" */
    struct ns_kv *settings;
    size_t nsettings;
    struct ns_mark pipeline_mark;
    struct ns_node_spec *nodes;
    size_t nnodes;
};

/* Where an error is: prints "file:line:col: error: msg" (or "file: error: msg")
 * to stderr and keeps the last message for tests. */
void ns_diag(const struct ns_config *cfg, struct ns_mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ns_diag_file(const char *file, struct ns_mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The last diagnostic printed (for tests); "" when none. */
const char *ns_diag_last(void);
/* Silence stderr output of diagnostics (tests); they are still recorded. */
void ns_diag_quiet(bool quiet);

/* Parse a file / a string. Returns NULL after printing a located error. */
struct ns_config *ns_config_load_file(const char *path);
struct ns_config *ns_config_load_string(const char *name, const char *text, size_t len);
void ns_config_free(struct ns_config *cfg);

/* Set (or replace) option `key` of every node whose plugin is `plugin`, as if
 * written in the file. Returns how many nodes matched. For the CLI (-r, -i). */
size_t ns_config_override(struct ns_config *cfg, const char *plugin, const char *key,
                          const char *const *vals, size_t nvals, bool is_list);

/* Apply a list of key/values to an option block (unknown keys, types, bounds,
 * defaults), reporting the first error with its location. `skip` lists keys
 * handled elsewhere (NULL-terminated). `where` names the owner for messages
 * ("node 'dns'"). Returns 0 or -EINVAL. */
int ns_config_apply(const struct ns_config *cfg, const struct ns_kv *kvs, size_t nkv,
                    struct ns_mark owner, const struct ns_option *opts, void *block,
                    const char *const *skip, const char *where);

#endif
