/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_graph.c - core/ns_graph.c with real plugins (the tests/abi fixtures):
 * plugin resolution, option errors with their locations, node keys, settings,
 * default `from`, allowed and forbidden edges, cycles and topological order.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_decoder.h"
#include "ns_graph.h"
#include "ns_opt.h"

#define FX NS_ABI_FIXTURES

static struct ns_registry reg;
static struct ns_config *cfg;

static void setup(void)
{
    ns_diag_quiet(true);
    ns_registry_init(&reg);
    ns_registry_add_dir(&reg, FX "/good");
}

static void teardown(void)
{
    ns_config_free(cfg);
    cfg = NULL;
    ns_registry_free(&reg);
}

TestSuite(graph, .init = setup, .fini = teardown);

/* Parses and builds `text`; the config stays alive in `cfg` until teardown. */
static struct ns_graph *build(const char *text)
{
    ns_config_free(cfg);
    cfg = ns_config_load_string("t.yaml", text, strlen(text));
    cr_assert_not_null(cfg, "config refused: %s", ns_diag_last());
    return ns_graph_build(cfg, &reg);
}

#define EXPECT_REFUSED(text, diag)                                                                 \
    do {                                                                                           \
        struct ns_graph *g_ = build(text);                                                         \
        cr_expect_null(g_, "accepted:\n%s", (text));                                               \
        ns_graph_free(g_);                                                                         \
        cr_expect_str_eq(ns_diag_last(), (diag), "got: %s\nfor:\n%s", ns_diag_last(), (text));     \
    } while (0)

static size_t idx(const struct ns_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->nodes[i].spec->name, name) == 0)
            return i;
    cr_assert_fail("no node %s", name);
    return 0;
}

/* The names of node `name`'s inputs, space-separated. */
static const char *inputs(const struct ns_graph *g, const char *name)
{
    static char buf[256];
    const struct ns_gnode *n = &g->nodes[idx(g, name)];
    buf[0] = '\0';
    for (size_t i = 0; i < n->nfrom; i++) {
        strcat(buf, i ? " " : "");
        strcat(buf, g->nodes[n->from[i]].spec->name);
    }
    return buf;
}

static size_t topo_pos(const struct ns_graph *g, const char *name)
{
    size_t i = idx(g, name);
    for (size_t t = 0; t < g->n; t++)
        if (g->topo[t] == i)
            return t;
    cr_assert_fail("%s not in topo order", name);
    return 0;
}

/* A full pipeline, one node per kind. */
#define HEAD                                                                                       \
    "pipeline:\n"                                                                                  \
    "  cap:\n"                                                                                     \
    "    plugin: source/fx\n"                                                                      \
    "  dec:\n"                                                                                     \
    "    plugin: decoder/fx\n"

Test(graph, linear_pipeline_defaults)
{
    struct ns_graph *g = build(HEAD "  enr:\n"
                                    "    plugin: enricher/fx\n"
                                    "  det:\n"
                                    "    plugin: detector/fx\n"
                                    "    threshold: 3\n"
                                    "  out:\n"
                                    "    plugin: sink/fx\n");
    cr_assert_not_null(g, "%s", ns_diag_last());
    cr_assert_eq(g->n, 5);
    cr_expect_str_eq(inputs(g, "cap"), "");
    cr_expect_str_eq(inputs(g, "dec"), "cap");
    cr_expect_str_eq(inputs(g, "enr"), "dec");
    cr_expect_str_eq(inputs(g, "det"), "enr");
    cr_expect_str_eq(inputs(g, "out"), "det");
    cr_expect_eq(g->nodes[idx(g, "cap")].kind, NS_KIND_SOURCE);
    cr_expect_not(g->nodes[idx(g, "cap")].emits_records);
    cr_expect_eq(g->nodes[idx(g, "out")].nsucc, 0);
    cr_expect_eq(g->nodes[idx(g, "cap")].nsucc, 1);
    cr_expect_lt(topo_pos(g, "cap"), topo_pos(g, "dec"));
    cr_expect_lt(topo_pos(g, "dec"), topo_pos(g, "enr"));
    cr_expect_lt(topo_pos(g, "enr"), topo_pos(g, "det"));
    cr_expect_lt(topo_pos(g, "det"), topo_pos(g, "out"));
    /* node keys default */
    cr_expect_eq(g->nodes[0].ns.on_full, -1);
    cr_expect_eq(g->nodes[0].ns.queue_size, 0);
    cr_expect_not(g->nodes[0].ns.optional);
    /* settings default */
    cr_expect_eq(g->settings.workers, 0);
    cr_expect_eq(g->settings.log_level, 2);
    cr_expect_eq(g->settings.queue_size, 64);
    cr_expect_eq(g->settings.on_full, NS_POLICY_BLOCK);
    cr_expect_eq(g->settings.tick_interval, 1000000000ULL);
    cr_expect_eq(g->settings.max_packet_batches, 32);
    cr_expect_null(g->settings.hostname);
    ns_graph_free(g);
}

Test(graph, option_values_reach_the_block)
{
    struct ns_graph *g = build("pipeline:\n"
                               "  cap: {plugin: source/fx}\n"
                               "  dec:\n"
                               "    plugin: decoder/fx\n"
                               "    flag: on\n"
                               "    delta: -7\n"
                               "    count: 010\n"
                               "    ratio: 0.75\n"
                               "    buffer: 1MiB\n"
                               "    timeout: 1.5s\n"
                               "    label: \"a: b\"\n"
                               "    mode: paranoid\n"
                               "    tags: [x, y]\n"
                               "    path: /tmp/p\n"
                               "    on_full: drop\n"
                               "    queue_size: 64\n"
                               "    optional: yes\n"
                               "  out: {plugin: sink/fx}\n");
    cr_assert_not_null(g, "%s", ns_diag_last());
    const struct ns_gnode *n = &g->nodes[idx(g, "dec")];
    const struct fxdec_config *c = n->config;
    cr_expect(c->flag);
    cr_expect_eq(c->delta, -7);
    cr_expect_eq(c->count, 10);
    cr_expect_eq(c->ratio, 0.75);
    cr_expect_eq(c->buffer, 1048576);
    cr_expect_eq(c->timeout, 1500000000ULL);
    cr_expect_str_eq(c->label, "a: b");
    cr_expect_eq(c->mode, 2);
    cr_assert_eq(c->tags.count, 2);
    cr_expect_str_eq(c->tags.items[1], "y");
    cr_expect_str_eq(c->path, "/tmp/p");
    cr_expect_str_eq(c->token, "hunter2"); /* default */
    cr_expect_eq(n->ns.on_full, NS_POLICY_DROP);
    cr_expect_eq(n->ns.queue_size, 64);
    cr_expect(n->ns.optional);
    ns_graph_free(g);
}

Test(graph, unknown_plugin)
{
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: source/fx\n  dec:\n    plugin: decoder/fz\n",
                   "t.yaml:5:13: error: node 'dec': unknown plugin 'decoder/fz' (did you mean "
                   "'decoder/fx'?)");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: source/nothing_like_it\n",
                   "t.yaml:3:13: error: node 'cap': unknown plugin 'source/nothing_like_it': no "
                   "ns-source-nothing_like_it.so in the plugin path (1 directory; see `netscope "
                   "plugins`)");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: sorce/fx\n",
                   "t.yaml:3:13: error: node 'cap': unknown plugin kind 'sorce' (did you mean "
                   "'source'?) (source, decoder, enricher, detector or sink)");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: fx\n",
                   "t.yaml:3:13: error: node 'cap': plugin 'fx' must be written kind/name, e.g. "
                   "decoder/flow");
}

Test(graph, unknown_option)
{
    EXPECT_REFUSED(HEAD "    cuont: 3\n",
                   "t.yaml:6:5: error: node 'dec' (decoder/fx): unknown option 'cuont' (did you "
                   "mean 'count'?)");
    EXPECT_REFUSED(HEAD "    timeuot: 3s\n",
                   "t.yaml:6:5: error: node 'dec' (decoder/fx): unknown option 'timeuot' (did "
                   "you mean 'timeout'?)");
    EXPECT_REFUSED(HEAD "    completely_unrelated: 1\n",
                   "t.yaml:6:5: error: node 'dec' (decoder/fx): unknown option "
                   "'completely_unrelated' (see `netscope describe` for the options)");
    EXPECT_REFUSED(HEAD "  out:\n    plugin: sink/fx\n    path: /x\n",
                   "t.yaml:8:5: error: node 'out' (sink/fx): unknown option 'path' (this plugin "
                   "takes no options)");
    /* A node key misspelt is an unknown option too. */
    EXPECT_REFUSED(HEAD "    on_ful: drop\n",
                   "t.yaml:6:5: error: node 'dec' (decoder/fx): unknown option 'on_ful' (see "
                   "`netscope describe` for the options)");
}

Test(graph, wrong_type)
{
    EXPECT_REFUSED(HEAD "    count: many\n",
                   "t.yaml:6:12: error: node 'dec' (decoder/fx): 'count' expects a non-negative "
                   "integer, got 'many'");
    EXPECT_REFUSED(HEAD "    flag: maybe\n",
                   "t.yaml:6:11: error: node 'dec' (decoder/fx): 'flag' expects a boolean "
                   "(true/false), got 'maybe'");
    EXPECT_REFUSED(HEAD "    delta: 1.5\n",
                   "t.yaml:6:12: error: node 'dec' (decoder/fx): 'delta' expects an integer, got "
                   "'1.5'");
    EXPECT_REFUSED(HEAD "    ratio: half\n",
                   "t.yaml:6:12: error: node 'dec' (decoder/fx): 'ratio' expects a number, got "
                   "'half'");
    EXPECT_REFUSED(HEAD "    flag: [true]\n",
                   "t.yaml:6:11: error: node 'dec' (decoder/fx): 'flag' expects a single bool, "
                   "not a list");
    EXPECT_REFUSED(HEAD "    label:\n      nested: 1\n",
                   "t.yaml:7:7: error: node 'dec' (decoder/fx): 'label' expects a string, got a "
                   "mapping");
    EXPECT_REFUSED(HEAD "    mode: paranoya\n",
                   "t.yaml:6:11: error: node 'dec' (decoder/fx): 'mode' must be one of: fast, "
                   "safe, paranoid; got 'paranoya' (did you mean 'paranoid'?)");
    EXPECT_REFUSED(HEAD "    optional: perhaps\n",
                   "t.yaml:6:15: error: node 'dec' (decoder/fx): 'optional' expects a boolean "
                   "(true/false), got 'perhaps'");
}

Test(graph, out_of_range)
{
    EXPECT_REFUSED(HEAD "    count: 1000\n",
                   "t.yaml:6:12: error: node 'dec' (decoder/fx): 'count' is out of range: must be "
                   "between 1 and 256");
    EXPECT_REFUSED(HEAD "    delta: -101\n",
                   "t.yaml:6:12: error: node 'dec' (decoder/fx): 'delta' is out of range: must be "
                   "between -100 and 100");
    EXPECT_REFUSED(HEAD "    buffer: 2GiB\n",
                   "t.yaml:6:13: error: node 'dec' (decoder/fx): 'buffer' is out of range: must "
                   "be between 4KiB and 1024MiB");
    EXPECT_REFUSED(HEAD "    timeout: 100us\n",
                   "t.yaml:6:14: error: node 'dec' (decoder/fx): 'timeout' is out of range: must "
                   "be between 1ms and 3600s");
    EXPECT_REFUSED(HEAD "    tags: [a, b, c, d, e]\n",
                   "t.yaml:6:11: error: node 'dec' (decoder/fx): 'tags' is out of range: must be "
                   "at most 4");
}

Test(graph, bad_units)
{
    EXPECT_REFUSED(HEAD "    timeout: 5 fortnights\n",
                   "t.yaml:6:14: error: node 'dec' (decoder/fx): 'timeout' expects a duration "
                   "such as 500ms, 30s, 5m or 1h, got '5 fortnights'");
    EXPECT_REFUSED(HEAD "    timeout: -5s\n",
                   "t.yaml:6:14: error: node 'dec' (decoder/fx): 'timeout' expects a duration "
                   "such as 500ms, 30s, 5m or 1h, got '-5s'");
    EXPECT_REFUSED(HEAD "    buffer: 10XB\n",
                   "t.yaml:6:13: error: node 'dec' (decoder/fx): 'buffer' expects a size such as "
                   "512, 64KiB, 32MiB or 1GiB, got '10XB'");
    EXPECT_REFUSED(HEAD "    buffer: 99999999999999TiB\n",
                   "t.yaml:6:13: error: node 'dec' (decoder/fx): 'buffer': size "
                   "'99999999999999TiB' is too large");
}

Test(graph, required_option)
{
    EXPECT_REFUSED(HEAD "  det:\n    plugin: detector/fx\n    window: 5m\n",
                   "t.yaml:6:3: error: node 'det' (detector/fx): missing required option "
                   "'threshold' (uint: Alert above this.)");
}

Test(graph, queue_size_power_of_two)
{
    EXPECT_REFUSED(HEAD "    queue_size: 100\n",
                   "t.yaml:6:17: error: node 'dec' (decoder/fx): 'queue_size' must be a power of "
                   "two, got 100");
    EXPECT_REFUSED(HEAD "    queue_size: 1\n",
                   "t.yaml:6:17: error: node 'dec' (decoder/fx): 'queue_size' is out of range: "
                   "must be between 2 and 1048576");
    EXPECT_REFUSED(HEAD "    queue_size: 2097152\n",
                   "t.yaml:6:17: error: node 'dec' (decoder/fx): 'queue_size' is out of range: "
                   "must be between 2 and 1048576");
    EXPECT_REFUSED("netscope:\n  queue_size: 1000\n" HEAD,
                   "t.yaml:2:15: error: netscope: 'queue_size' must be a power of two, got 1000");
    struct ns_graph *g = build("netscope:\n  queue_size: 1024\n" HEAD "    queue_size: 2\n");
    cr_assert_not_null(g, "%s", ns_diag_last());
    cr_expect_eq(g->settings.queue_size, 1024);
    cr_expect_eq(g->nodes[1].ns.queue_size, 2);
    ns_graph_free(g);
}

Test(graph, settings_errors)
{
    EXPECT_REFUSED("netscope:\n  workers: lots\n" HEAD,
                   "t.yaml:2:12: error: netscope: 'workers' expects a non-negative integer, got "
                   "'lots'");
    EXPECT_REFUSED("netscope:\n  workers: 300\n" HEAD,
                   "t.yaml:2:12: error: netscope: 'workers' is out of range: must be at most 256");
    EXPECT_REFUSED("netscope:\n  wokers: 2\n" HEAD,
                   "t.yaml:2:3: error: netscope: unknown option 'wokers' (did you mean "
                   "'workers'?)");
    EXPECT_REFUSED("netscope:\n  log_level: debgu\n" HEAD,
                   "t.yaml:2:14: error: netscope: 'log_level' must be one of: error, warn, info, "
                   "debug, trace; got 'debgu' (did you mean 'debug'?)");
    EXPECT_REFUSED("netscope:\n  on_full: dorp\n" HEAD,
                   "t.yaml:2:12: error: netscope: 'on_full' must be one of: block, drop; got "
                   "'dorp' (did you mean 'drop'?)");
    EXPECT_REFUSED("netscope:\n  tick_interval: 0\n" HEAD,
                   "t.yaml:2:18: error: netscope: 'tick_interval' is out of range: must be "
                   "between 1ms and 60s");
    EXPECT_REFUSED("netscope:\n  packet_batches: 1\n" HEAD,
                   "t.yaml:2:19: error: netscope: 'packet_batches' is out of range: must be "
                   "between 2 and 4096");
    EXPECT_REFUSED("netscope:\n  hostname:\n    a: b\n" HEAD,
                   "t.yaml:3:5: error: netscope: 'hostname' expects a string, got a mapping");
}

Test(graph, settings_ok_and_plugin_path)
{
    /* plugin_path from the YAML is searched: start from an empty registry. */
    ns_registry_free(&reg);
    ns_registry_init(&reg);
    unsetenv("NETSCOPE_PLUGIN_PATH");
    cfg = ns_config_load_string("t.yaml",
                                "netscope:\n"
                                "  workers: 3\n"
                                "  log_level: debug\n"
                                "  plugin_path: [" FX "/good]\n"
                                "  hostname: probe-1\n"
                                "  on_full: drop\n"
                                "  tick_interval: 250ms\n"
                                "  packet_batches: 8\n" HEAD,
                                strlen("netscope:\n"
                                       "  workers: 3\n"
                                       "  log_level: debug\n"
                                       "  plugin_path: [" FX "/good]\n"
                                       "  hostname: probe-1\n"
                                       "  on_full: drop\n"
                                       "  tick_interval: 250ms\n"
                                       "  packet_batches: 8\n" HEAD));
    cr_assert_not_null(cfg, "%s", ns_diag_last());
    struct ns_settings s;
    cr_assert_eq(ns_graph_settings(cfg, &s, &reg), 0, "%s", ns_diag_last());
    cr_expect_eq(s.workers, 3);
    cr_expect_eq(s.log_level, 3);
    cr_expect_str_eq(s.hostname, "probe-1");
    cr_expect_eq(s.on_full, NS_POLICY_DROP);
    cr_expect_eq(s.tick_interval, 250000000ULL);
    cr_expect_eq(s.max_packet_batches, 8);
    ns_settings_free(&s);
    cr_assert_geq(reg.ndirs, 1);
    cr_expect_str_eq(reg.dirs[0], FX "/good");
    struct ns_graph *g = ns_graph_build(cfg, &reg);
    cr_expect_not_null(g, "%s", ns_diag_last());
    ns_graph_free(g);
}

Test(graph, env_path_comes_first)
{
    ns_registry_free(&reg);
    ns_registry_init(&reg);
    setenv("NETSCOPE_PLUGIN_PATH", FX "/dup1:" FX "/compat", 1);
    cfg = ns_config_load_string("t.yaml", "netscope:\n  plugin_path: [/yaml/dir]\n" HEAD,
                                strlen("netscope:\n  plugin_path: [/yaml/dir]\n" HEAD));
    cr_assert_not_null(cfg);
    struct ns_settings s;
    cr_assert_eq(ns_graph_settings(cfg, &s, &reg), 0, "%s", ns_diag_last());
    ns_settings_free(&s);
    cr_assert_eq(reg.ndirs, 4);
    cr_expect_str_eq(reg.dirs[0], FX "/dup1");
    cr_expect_str_eq(reg.dirs[1], FX "/compat");
    cr_expect_str_eq(reg.dirs[2], "/yaml/dir");
    cr_expect_str_eq(reg.dirs[3], NS_PLUGIN_DIR);
    unsetenv("NETSCOPE_PLUGIN_PATH");
}

Test(graph, default_from_rules)
{
    /* A decoder reads every packet source, wherever it is in the file; a record
     * source is not one of them. */
    struct ns_graph *g = build("pipeline:\n"
                               "  dec: {plugin: decoder/fx}\n"
                               "  a: {plugin: source/fx}\n"
                               "  rec: {plugin: source/fxrec}\n"
                               "  b: {plugin: source/fx}\n"
                               "  out: {plugin: sink/fx}\n");
    cr_assert_not_null(g, "%s", ns_diag_last());
    cr_expect_str_eq(inputs(g, "dec"), "a b");
    /* Others read every node above whose records nothing reads yet. */
    cr_expect_str_eq(inputs(g, "out"), "dec rec");
    ns_graph_free(g);

    /* Without an unread node above, the nearest *allowed* node: a sink skips sinks,
     * an enricher skips detectors. s1 collects both unread outputs (det and enr). */
    g = build(HEAD "  det: {plugin: detector/fx, threshold: 1}\n"
                   "  enr: {plugin: enricher/fx}\n"
                   "  s1: {plugin: sink/fx}\n"
                   "  s2: {plugin: sink/fx}\n"
                   "  det2: {plugin: detector/fx, threshold: 1}\n");
    cr_assert_not_null(g, "%s", ns_diag_last());
    cr_expect_str_eq(inputs(g, "det"), "dec");
    cr_expect_str_eq(inputs(g, "enr"), "dec");
    cr_expect_str_eq(inputs(g, "s1"), "det enr");
    cr_expect_str_eq(inputs(g, "s2"), "enr");
    cr_expect_str_eq(inputs(g, "det2"), "enr");
    cr_expect_eq(g->nodes[idx(g, "enr")].nsucc, 3);
    ns_graph_free(g);

    /* An explicit `from` wins; fan-in is allowed. */
    g = build(HEAD "  enr: {plugin: enricher/fx}\n"
                   "  out: {plugin: sink/fx, from: [dec, enr]}\n");
    cr_assert_not_null(g, "%s", ns_diag_last());
    cr_expect_str_eq(inputs(g, "out"), "dec enr");
    ns_graph_free(g);
}

Test(graph, no_input)
{
    EXPECT_REFUSED("pipeline:\n  enr: {plugin: enricher/fx}\n  cap: {plugin: source/fx}\n"
                   "  dec: {plugin: decoder/fx}\n",
                   "t.yaml:2:3: error: node 'enr' (an enricher) has no input: add 'from: [...]' "
                   "or put it after a node that can feed it");
    EXPECT_REFUSED("pipeline:\n  rec: {plugin: source/fxrec}\n  dec: {plugin: decoder/fx}\n",
                   "t.yaml:3:3: error: node 'dec' (a decoder) has no input: add 'from: [...]' or "
                   "put it after a node that can feed it");
    EXPECT_REFUSED(HEAD "  out:\n    plugin: sink/fx\n    from: []\n",
                   "t.yaml:6:3: error: node 'out' (a sink) has no input: add 'from: [...]' or put "
                   "it after a node that can feed it");
    EXPECT_REFUSED("pipeline:\n  out: {plugin: sink/fx}\n",
                   "t.yaml:2:3: error: node 'out' (a sink) has no input: add 'from: [...]' or put "
                   "it after a node that can feed it");
}

Test(graph, no_source)
{
    EXPECT_REFUSED("pipeline:\n"
                   "  e1: {plugin: enricher/fx, from: e2}\n"
                   "  e2: {plugin: enricher/fx, from: e1}\n",
                   "t.yaml:1:1: error: the pipeline has no source node");
}

Test(graph, unknown_from)
{
    EXPECT_REFUSED(HEAD "  enr:\n    plugin: enricher/fx\n    from: [dce]\n",
                   "t.yaml:8:12: error: node 'enr': 'from' names unknown node 'dce' (did you "
                   "mean 'dec'?)");
    EXPECT_REFUSED(HEAD "  enr:\n    plugin: enricher/fx\n    from: elsewhere\n",
                   "t.yaml:8:11: error: node 'enr': 'from' names unknown node 'elsewhere'");
    EXPECT_REFUSED(HEAD "  enr:\n    plugin: enricher/fx\n    from: \"\"\n",
                   "t.yaml:8:11: error: node 'enr': 'from' names unknown node ''");
    EXPECT_REFUSED(HEAD "  enr:\n    plugin: enricher/fx\n    from: [dec, dec]\n",
                   "t.yaml:8:17: error: node 'enr' lists 'dec' twice in 'from'");
    EXPECT_REFUSED(HEAD "  enr:\n    plugin: enricher/fx\n    from: [dec, enr]\n",
                   "t.yaml:8:17: error: node 'enr' cannot read from itself");
}

Test(graph, forbidden_edges)
{
    EXPECT_REFUSED(HEAD "  out: {plugin: sink/fx}\n"
                        "  enr:\n    plugin: enricher/fx\n    from: [out]\n",
                   "t.yaml:9:12: error: node 'enr' (an enricher) cannot read from 'out' (a "
                   "sink): sinks have no output");
    EXPECT_REFUSED(HEAD "  out: {plugin: sink/fx}\n"
                        "  out2:\n    plugin: sink/fx\n    from: out\n",
                   "t.yaml:9:11: error: node 'out2' (a sink) cannot read from 'out' (a sink): "
                   "sinks have no output");
    EXPECT_REFUSED(HEAD "  dec2:\n    plugin: decoder/fx\n    from: [dec]\n",
                   "t.yaml:8:12: error: node 'dec2' (a decoder) cannot read from 'dec' (a "
                   "decoder): decoders read packets from packet sources");
    EXPECT_REFUSED(HEAD "  rec: {plugin: source/fxrec}\n"
                        "  dec2:\n    plugin: decoder/fx\n    from: [rec]\n",
                   "t.yaml:9:12: error: node 'dec2' (a decoder) cannot read from 'rec' (a record "
                   "source): decoders read packets from packet sources");
    EXPECT_REFUSED(HEAD "  enr:\n    plugin: enricher/fx\n    from: [cap]\n",
                   "t.yaml:8:12: error: node 'enr' (an enricher) cannot read from 'cap' (a "
                   "packet source): records flow source -> decoder -> enricher -> detector -> "
                   "sink");
    EXPECT_REFUSED(HEAD "  out:\n    plugin: sink/fx\n    from: [cap]\n",
                   "t.yaml:8:12: error: node 'out' (a sink) cannot read from 'cap' (a packet "
                   "source): records flow source -> decoder -> enricher -> detector -> sink");
    EXPECT_REFUSED(HEAD "  det: {plugin: detector/fx, threshold: 1}\n"
                        "  enr:\n    plugin: enricher/fx\n    from: [det]\n",
                   "t.yaml:9:12: error: node 'enr' (an enricher) cannot read from 'det' (a "
                   "detector): records flow source -> decoder -> enricher -> detector -> sink");
    EXPECT_REFUSED(HEAD "  cap2:\n    plugin: source/fx\n    from: [cap]\n",
                   "t.yaml:8:12: error: node 'cap2' is a source and cannot have 'from'");
}

Test(graph, allowed_edges)
{
    struct ns_graph *g = build("pipeline:\n"
                               "  rec: {plugin: source/fxrec}\n"
                               "  cap: {plugin: source/fx}\n"
                               "  dec: {plugin: decoder/fx, from: cap}\n"
                               "  enr: {plugin: enricher/fx, from: [rec, dec]}\n"
                               "  det: {plugin: detector/fx, threshold: 2, from: [dec, rec]}\n"
                               "  det2: {plugin: detector/fx, threshold: 2, from: [det, enr]}\n"
                               "  out: {plugin: sink/fx, from: [rec, dec, enr, det, det2]}\n"
                               "  none: {plugin: source/fx, from: ~}\n");
    cr_assert_not_null(g, "%s", ns_diag_last());
    cr_expect_str_eq(inputs(g, "out"), "rec dec enr det det2");
    cr_expect(g->nodes[idx(g, "rec")].emits_records);
    ns_graph_free(g);
}

Test(graph, edge_table)
{
    /* from \ to:        source decoder enricher detector sink */
    static const bool packet[6][6] = {
        [NS_KIND_SOURCE] = {[NS_KIND_DECODER] = true},
        [NS_KIND_DECODER] =
            {[NS_KIND_ENRICHER] = true, [NS_KIND_DETECTOR] = true, [NS_KIND_SINK] = true},
        [NS_KIND_ENRICHER] =
            {[NS_KIND_ENRICHER] = true, [NS_KIND_DETECTOR] = true, [NS_KIND_SINK] = true},
        [NS_KIND_DETECTOR] = {[NS_KIND_DETECTOR] = true, [NS_KIND_SINK] = true},
        [NS_KIND_SINK] = {0},
    };
    for (int f = NS_KIND_SOURCE; f <= NS_KIND_SINK; f++)
        for (int t = NS_KIND_SOURCE; t <= NS_KIND_SINK; t++) {
            cr_expect_eq(ns_graph_edge_allowed(f, false, t), packet[f][t], "%s -> %s",
                         ns_kind_name(f), ns_kind_name(t));
            bool rec = f == NS_KIND_SOURCE ? packet[NS_KIND_DECODER][t] : packet[f][t];
            cr_expect_eq(ns_graph_edge_allowed(f, true, t), rec, "%s (records) -> %s",
                         ns_kind_name(f), ns_kind_name(t));
        }
}

Test(graph, cycles)
{
    EXPECT_REFUSED(HEAD "  e1: {plugin: enricher/fx, from: [dec, e2]}\n"
                        "  e2: {plugin: enricher/fx, from: e1}\n"
                        "  out: {plugin: sink/fx, from: e2}\n",
                   "t.yaml:6:3: error: the pipeline has a cycle: e1 <- e2 <- e1");
    EXPECT_REFUSED(HEAD "  d1: {plugin: detector/fx, threshold: 1, from: [dec, d3]}\n"
                        "  d2: {plugin: detector/fx, threshold: 1, from: d1}\n"
                        "  d3: {plugin: detector/fx, threshold: 1, from: d2}\n",
                   "t.yaml:6:3: error: the pipeline has a cycle: d1 <- d3 <- d2 <- d1");
}

Test(graph, cycle_message_names_only_the_cycle)
{
    /* Nodes downstream of a cycle are stuck too, but are not on it: the message
     * must name the cycle itself, even when such a node comes first in the file. */
    EXPECT_REFUSED("pipeline:\n"
                   "  out: {plugin: sink/fx, from: e2}\n"
                   "  cap: {plugin: source/fx}\n"
                   "  dec: {plugin: decoder/fx}\n"
                   "  e1: {plugin: enricher/fx, from: [dec, e2]}\n"
                   "  e2: {plugin: enricher/fx, from: e1}\n",
                   "t.yaml:5:3: error: the pipeline has a cycle: e1 <- e2 <- e1");
    EXPECT_REFUSED("pipeline:\n"
                   "  out: {plugin: sink/fx, from: d4}\n"
                   "  d4: {plugin: detector/fx, threshold: 1, from: d3}\n"
                   "  cap: {plugin: source/fx}\n"
                   "  dec: {plugin: decoder/fx}\n"
                   "  d3: {plugin: detector/fx, threshold: 1, from: [dec, d2]}\n"
                   "  d2: {plugin: detector/fx, threshold: 1, from: d1}\n"
                   "  d1: {plugin: detector/fx, threshold: 1, from: d2}\n",
                   "t.yaml:7:3: error: the pipeline has a cycle: d2 <- d1 <- d2");
}

Test(graph, cycle_of_long_names)
{
    /* The message is truncated, never overflowed (ASan). */
    char a[301], b[301], y[2048];
    memset(a, 'a', 300);
    memset(b, 'b', 300);
    a[300] = b[300] = '\0';
    snprintf(y, sizeof(y),
             HEAD "  %s: {plugin: enricher/fx, from: [dec, %s]}\n"
                  "  %s: {plugin: enricher/fx, from: %s}\n",
             a, b, b, a);
    struct ns_graph *g = build(y);
    cr_expect_null(g);
    ns_graph_free(g);
    const char *d = ns_diag_last();
    static const char want[] = "t.yaml:6:3: error: the pipeline has a cycle: aaaa";
    cr_expect(strncmp(d, want, strlen(want)) == 0, "got %s", d);
    cr_expect_lt(strlen(d), 1024);
}

/* ~150000 nodes (a 4 MiB file): time and memory stay near linear (each node's
 * `from` array used to have one slot per node in the graph). */
Test(graph, many_nodes, .timeout = 60)
{
    size_t cap = 4u << 20, len = 0, n = 0;
    char *y = malloc(cap + 64);
    cr_assert_not_null(y);
    len +=
        (size_t)sprintf(y, "pipeline:\n  cap: {plugin: source/fx}\n  dec: {plugin: decoder/fx}\n");
    while (len + 64 < cap) {
        /* every other sink names its input explicitly */
        len += (size_t)sprintf(
            y + len,
            n % 2 ? "  s%zu: {plugin: sink/fx}\n" : "  s%zu: {plugin: sink/fx, from: dec}\n", n);
        n++;
    }
    cfg = ns_config_load_string("t.yaml", y, len);
    free(y);
    cr_assert_not_null(cfg, "%s", ns_diag_last());
    struct ns_graph *g = ns_graph_build(cfg, &reg);
    cr_assert_not_null(g, "%s", ns_diag_last());
    cr_expect_eq(g->n, n + 2);
    cr_expect_eq(g->nodes[1].nsucc, n);
    cr_expect_str_eq(inputs(g, "s1"), "dec");
    ns_graph_free(g);
}

Test(graph, duplicate_node_names)
{
    /* YAML duplicates are caught while parsing... */
    ns_config_free(cfg);
    static const char y[] = HEAD "  dec:\n    plugin: decoder/fx\n";
    cfg = ns_config_load_string("t.yaml", y, sizeof(y) - 1);
    cr_expect_null(cfg);
    cr_expect_str_eq(ns_diag_last(), "t.yaml:6:3: error: duplicate key 'dec' (first at line 4)");
    /* ...and the graph checks again for configs built in code. */
    static const char y2[] = HEAD "  dec2:\n    plugin: decoder/fx\n";
    cfg = ns_config_load_string("t.yaml", y2, sizeof(y2) - 1);
    cr_assert_not_null(cfg);
    free(cfg->nodes[2].name);
    cfg->nodes[2].name = strdup("dec");
    struct ns_graph *g = ns_graph_build(cfg, &reg);
    cr_expect_null(g);
    ns_graph_free(g);
    cr_expect_str_eq(ns_diag_last(), "t.yaml:6:3: error: duplicate node name 'dec'");
}

Test(graph, feeds_nothing_warning)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    struct ns_graph *g = build(HEAD);
    fflush(stderr);
    dup2(saved, 2);
    close(fds[1]);
    cr_expect_not_null(g, "%s", ns_diag_last());
    ns_graph_free(g);
    char buf[512] = "";
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_expect_str_eq(buf, "t.yaml:4:3: warning: node 'dec' feeds nothing: its output is "
                          "discarded (counted)\n");
}

Test(graph, deprecated_option_still_applies)
{
    struct ns_graph *g = build(HEAD "    old_count: 7\n  out: {plugin: sink/fx}\n");
    cr_assert_not_null(g, "%s", ns_diag_last());
    const struct fxdec_config *c = g->nodes[1].config;
    cr_expect_eq(c->old_count, 7);
    ns_graph_free(g);
}

Test(graph, options_table_sanity)
{
    /* The core's own tables: every default is valid. */
    struct ns_settings s;
    memset(&s, 0, sizeof(s));
    char e[256];
    cr_expect_eq(ns_opt_defaults(ns_settings_options(), &s, NULL, e, sizeof(e)), 0, "%s", e);
    ns_settings_free(&s);
    struct ns_node_settings ns;
    memset(&ns, 0, sizeof(ns));
    cr_expect_eq(ns_opt_defaults(ns_node_options(), &ns, NULL, e, sizeof(e)), 0, "%s", e);
}
