/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_graph.c - from a parsed config to a validated graph of plugin nodes.
 */
#include "ns_graph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ns_http.h"
#include "ns_log.h"
#include "ns_opt.h"

static const char *const level_choices[] = {"error", "warn", "info", "debug", "trace", NULL};
static const char *const policy_choices[] = {"block", "drop", NULL};

static const struct ns_option settings_opts[] = {
    {.name = "workers",
     .type = NS_OPT_UINT,
     .def = "0",
     .max = 256,
     .offset = offsetof(struct ns_settings, workers),
     .doc = "Decoder worker threads; 0 = one per online CPU. Both directions of a flow always "
            "meet on one worker."},
    {.name = "log_level",
     .type = NS_OPT_ENUM,
     .def = "info",
     .choices = level_choices,
     .offset = offsetof(struct ns_settings, log_level),
     .flags = NS_OPT_RELOADABLE,
     .doc = "Most verbose log level written to stderr."},
    {.name = "plugin_path",
     .type = NS_OPT_STRING_LIST,
     .offset = offsetof(struct ns_settings, plugin_path),
     .doc = "Extra directories searched for ns-<kind>-<name>.so plugins, after "
            "$NETSCOPE_PLUGIN_PATH and before the built-in directory."},
    {.name = "hostname",
     .type = NS_OPT_STRING,
     .offset = offsetof(struct ns_settings, hostname),
     .doc = "observer.hostname on every record; default: the system host name."},
    {.name = "queue_size",
     .type = NS_OPT_UINT,
     .def = "64",
     .min = 2,
     .max = 1048576,
     .offset = offsetof(struct ns_settings, queue_size),
     .doc = "Capacity of each ring between stages, in batches (a power of two)."},
    {.name = "on_full",
     .type = NS_OPT_ENUM,
     .def = "block",
     .choices = policy_choices,
     .offset = offsetof(struct ns_settings, on_full),
     .doc = "Default policy when a ring is full: block (backpressure) or drop (counted per "
            "edge)."},
    {.name = "tick_interval",
     .type = NS_OPT_DURATION,
     .def = "1s",
     .min = 1e6,
     .max = 60e9,
     .offset = offsetof(struct ns_settings, tick_interval),
     .doc = "How often decoders and detectors are told the time (timeouts, windows)."},
    {.name = "packet_batches",
     .type = NS_OPT_UINT,
     .def = "32",
     .min = 2,
     .max = 4096,
     .offset = offsetof(struct ns_settings, max_packet_batches),
     .doc = "Packet batches (256 packets / 256 KiB each) in flight per source and worker."},
    {.name = "metrics_listen",
     .type = NS_OPT_STRING,
     .def = "127.0.0.1:9109",
     .offset = offsetof(struct ns_settings, metrics_listen),
     .doc = "Address of the HTTP endpoint serving /metrics (Prometheus), /health and /ready: "
            "host:port, [ipv6]:port or :port; \"\" turns it off. When this default is busy "
            "the endpoint is skipped with a warning; an address set here that cannot be "
            "bound stops the start."},
    {.name = "metrics_max_series",
     .type = NS_OPT_UINT,
     .def = "10000",
     .min = 1,
     .max = 10000000,
     .offset = offsetof(struct ns_settings, metrics_max_series),
     .doc = "Most series one metric family with run-time labels (per-connection TCP metrics) "
            "holds; past it new series are refused and counted in "
            "netscope_metrics_series_dropped_total{family}."},
    {.name = "metrics_series_grace",
     .type = NS_OPT_DURATION,
     .def = "60s",
     .max = 3600e9,
     .offset = offsetof(struct ns_settings, metrics_series_grace),
     .doc = "How long a series whose connection closed is still exported with its final "
            "value (so a scrape sees it) before it is deleted; 0 = at once."},
    NS_OPT_END};

static const struct ns_option node_opts[] = {
    {.name = "on_full",
     .type = NS_OPT_ENUM,
     .choices = policy_choices,
     .offset = offsetof(struct ns_node_settings, on_full),
     .doc = "Policy of the ring into this node when full: block or drop."},
    {.name = "queue_size",
     .type = NS_OPT_UINT,
     .min = 2,
     .max = 1048576,
     .offset = offsetof(struct ns_node_settings, queue_size),
     .doc = "Capacity of the ring into this node, in batches (a power of two)."},
    {.name = "optional",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = offsetof(struct ns_node_settings, optional),
     .doc = "When init or start fails, log it and run the pipeline without this node."},
    NS_OPT_END};

static const char *const node_keys[] = {"on_full", "queue_size", "optional", NULL};

const struct ns_option *ns_settings_options(void)
{
    return settings_opts;
}

const struct ns_option *ns_node_options(void)
{
    return node_opts;
}

static bool is_pow2(uint64_t v)
{
    return v >= 2 && (v & (v - 1)) == 0;
}

static struct ns_mark kv_mark(const struct ns_kv *kvs, size_t n, const char *key,
                              struct ns_mark def)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kvs[i].key, key) == 0)
            return kvs[i].vmark;
    return def;
}

int ns_graph_settings(const struct ns_config *cfg, struct ns_settings *s, struct ns_registry *reg)
{
    memset(s, 0, sizeof(*s));
    if (ns_config_apply(cfg, cfg->settings, cfg->nsettings, (struct ns_mark){0, 0}, settings_opts,
                        s, NULL, "netscope"))
        return -EINVAL;
    if (!is_pow2(s->queue_size)) {
        ns_diag(cfg, kv_mark(cfg->settings, cfg->nsettings, "queue_size", (struct ns_mark){0, 0}),
                "netscope: 'queue_size' must be a power of two, got %llu",
                (unsigned long long)s->queue_size);
        return -EINVAL;
    }
    if (s->metrics_listen && *s->metrics_listen) {
        struct sockaddr_storage ss;
        char err[200];
        if (ns_http_parse_listen(s->metrics_listen, &ss, err, sizeof(err))) {
            ns_diag(
                cfg,
                kv_mark(cfg->settings, cfg->nsettings, "metrics_listen", (struct ns_mark){0, 0}),
                "netscope: 'metrics_listen': %s", err);
            ns_settings_free(s);
            return -EINVAL;
        }
    }
    if (reg) {
        ns_registry_add_env_dirs(reg);
        for (size_t i = 0; i < s->plugin_path.count; i++)
            ns_registry_add_dir(reg, s->plugin_path.items[i]);
        ns_registry_add_builtin_dirs(reg);
    }
    return 0;
}

void ns_settings_free(struct ns_settings *s)
{
    ns_opt_free(settings_opts, s);
}

bool ns_graph_edge_allowed(enum ns_kind from, bool from_records, enum ns_kind to)
{
    switch (from) {
    case NS_KIND_SOURCE:
        if (!from_records)
            return to == NS_KIND_DECODER;
        /* a record source behaves like a decoder downstream */
        __attribute__((fallthrough));
    case NS_KIND_DECODER:
    case NS_KIND_ENRICHER:
        return to == NS_KIND_ENRICHER || to == NS_KIND_DETECTOR || to == NS_KIND_SINK;
    case NS_KIND_DETECTOR:
        return to == NS_KIND_DETECTOR || to == NS_KIND_SINK;
    case NS_KIND_SINK:
        return false;
    }
    return false;
}

/* Edge rules between two resolved nodes (app decoders included). */
static bool edge_ok(const struct ns_gnode *f, const struct ns_gnode *t)
{
    if (t->app)
        return f->kind == NS_KIND_DECODER && !f->app;
    if (f->app)
        return ns_graph_edge_allowed(NS_KIND_DECODER, false, t->kind);
    return ns_graph_edge_allowed(f->kind, f->emits_records, t->kind);
}

static int add_from(struct ns_gnode *n, size_t f)
{
    if ((n->nfrom & (n->nfrom - 1)) == 0) {
        size_t *v = realloc(n->from, (n->nfrom ? 2 * n->nfrom : 1) * sizeof(size_t));
        if (!v)
            return -ENOMEM;
        n->from = v;
    }
    n->from[n->nfrom++] = f;
    return 0;
}

static const char *what(const struct ns_gnode *n)
{
    if (n->kind == NS_KIND_SOURCE)
        return n->emits_records ? "a record source" : "a packet source";
    if (n->app)
        return "an app-layer decoder";
    static const char *const a[] = {"", "", "a decoder", "an enricher", "a detector", "a sink"};
    return a[n->kind];
}

static int add_succ(struct ns_gnode *n, size_t s)
{
    /* Grow by doubling (at 0, 1, 2, 4, ... entries): one node may feed 10^5. */
    if ((n->nsucc & (n->nsucc - 1)) == 0) {
        size_t *v = realloc(n->succ, (n->nsucc ? 2 * n->nsucc : 1) * sizeof(size_t));
        if (!v)
            return -ENOMEM;
        n->succ = v;
    }
    n->succ[n->nsucc++] = s;
    return 0;
}

void ns_graph_free(struct ns_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        struct ns_gnode *n = &g->nodes[i];
        if (n->plugin && n->config)
            ns_opt_free(n->plugin->desc.options, n->config);
        free(n->config);
        free(n->from);
        free(n->succ);
    }
    free(g->nodes);
    free(g->topo);
    ns_settings_free(&g->settings);
    free(g);
}

/* An input of stuck node `i` that is itself stuck (never reached in-degree 0).
 * Every stuck node has one, since an input that ran would have released it. */
static size_t stuck_input(const struct ns_graph *g, const size_t *indeg, size_t i)
{
    for (size_t k = 0; k < g->nodes[i].nfrom; k++)
        if (indeg[g->nodes[i].from[k]])
            return g->nodes[i].from[k];
    return i;
}

/* Kahn's algorithm; on a cycle, reports the nodes on one cycle. */
static int topo_sort(struct ns_graph *g)
{
    size_t *indeg = calloc(g->n, sizeof(size_t)), *q = g->topo, head = 0, tail = 0;
    if (!indeg)
        return -ENOMEM;
    for (size_t i = 0; i < g->n; i++) /* hosting edges into app decoders carry no records */
        indeg[i] = g->nodes[i].app ? 0 : g->nodes[i].nfrom;
    for (size_t i = 0; i < g->n; i++)
        if (indeg[i] == 0)
            q[tail++] = i;
    while (head < tail) {
        struct ns_gnode *n = &g->nodes[q[head++]];
        for (size_t j = 0; j < n->nsucc; j++)
            if (--indeg[n->succ[j]] == 0)
                q[tail++] = n->succ[j];
    }
    int rc = 0;
    if (tail < g->n) {
        /* Stuck nodes include those downstream of a cycle, which are not on it.
         * Walking back along stuck inputs n times from any of them ends on a
         * cycle; name it from its first node in file order. */
        size_t cur = 0;
        while (!indeg[cur])
            cur++;
        for (size_t steps = 0; steps < g->n; steps++)
            cur = stuck_input(g, indeg, cur);
        size_t start = cur;
        for (size_t c = stuck_input(g, indeg, cur); c != cur; c = stuck_input(g, indeg, c))
            if (c < start)
                start = c;
        char path[512];
        size_t len = 0;
        cur = start;
        do {
            len += (size_t)snprintf(path + len, sizeof(path) - len, "%s%s",
                                    cur == start ? "" : " <- ", g->nodes[cur].spec->name);
            cur = stuck_input(g, indeg, cur);
        } while (cur != start && len < sizeof(path) - 1);
        /* snprintf returns the untruncated length: never index past the buffer */
        if (len < sizeof(path) - 1)
            snprintf(path + len, sizeof(path) - len, " <- %s", g->nodes[start].spec->name);
        ns_diag(g->cfg, g->nodes[start].spec->mark, "the pipeline has a cycle: %s", path);
        rc = -EINVAL;
    }
    free(indeg);
    return rc;
}

/* Node names sorted (name, then index) so that duplicates and `from` lookups
 * cost O(n log n), not O(n^2): a 4 MiB file can hold 10^5 nodes. */
struct nameref {
    const char *s;
    size_t i;
};

static int nameref_cmp(const void *a, const void *b)
{
    const struct nameref *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int nameref_key_cmp(const void *key, const void *b)
{
    return strcmp((const char *)key, ((const struct nameref *)b)->s);
}

static size_t find_node(const struct nameref *names, size_t n, const char *name)
{
    const struct nameref *r = bsearch(name, names, n, sizeof(*names), nameref_key_cmp);
    return r ? r->i : (size_t)-1;
}

struct ns_graph *ns_graph_build(const struct ns_config *cfg, struct ns_registry *reg)
{
    struct ns_graph *g = calloc(1, sizeof(*g));
    struct nameref *byname = NULL;
    char err[1024], where[160];
    if (!g)
        return NULL;
    g->cfg = cfg;
    if (ns_graph_settings(cfg, &g->settings, NULL))
        goto fail;
    g->n = cfg->nnodes;
    g->nodes = calloc(g->n, sizeof(struct ns_gnode));
    g->topo = calloc(g->n, sizeof(size_t));
    byname = calloc(g->n ? g->n : 1, sizeof(*byname));
    if (!g->nodes || !g->topo || !byname)
        goto fail;
    /* The first node (in file order) whose name an earlier node already has. */
    size_t dup_at = (size_t)-1;
    for (size_t i = 0; i < g->n; i++)
        byname[i] = (struct nameref){cfg->nodes[i].name, i};
    qsort(byname, g->n, sizeof(*byname), nameref_cmp);
    for (size_t i = 1; i < g->n; i++)
        if (strcmp(byname[i].s, byname[i - 1].s) == 0 && byname[i].i < dup_at)
            dup_at = byname[i].i;

    /* Pass 1: plugins and options. */
    for (size_t i = 0; i < g->n; i++) {
        struct ns_gnode *n = &g->nodes[i];
        const struct ns_node_spec *sp = &cfg->nodes[i];
        n->idx = i;
        n->spec = sp;
        if (i == dup_at) {
            ns_diag(cfg, sp->mark, "duplicate node name '%s'", sp->name);
            goto fail;
        }
        n->plugin = ns_registry_get(reg, sp->plugin, err, sizeof(err));
        if (!n->plugin) {
            ns_diag(cfg, sp->plugin_mark, "node '%s': %s", sp->name, err);
            goto fail;
        }
        n->kind = n->plugin->desc.kind;
        n->emits_records =
            n->kind == NS_KIND_SOURCE && (n->plugin->desc.flags & NS_PLUGIN_EMITS_RECORDS);
        n->app = n->kind == NS_KIND_DECODER && (n->plugin->desc.flags & NS_PLUGIN_APP);
        snprintf(where, sizeof(where), "node '%s' (%s)", sp->name, sp->plugin);

        /* Node keys first, then the plugin's own options. */
        struct ns_kv *nk = calloc(sp->nkv ? sp->nkv : 1, sizeof(struct ns_kv));
        size_t nn = 0;
        if (!nk)
            goto fail;
        for (size_t j = 0; j < sp->nkv; j++)
            for (size_t k = 0; node_keys[k]; k++)
                if (strcmp(sp->kvs[j].key, node_keys[k]) == 0)
                    nk[nn++] = sp->kvs[j];
        n->ns.on_full = -1;
        int rc = ns_config_apply(cfg, nk, nn, sp->mark, node_opts, &n->ns, NULL, where);
        free(nk);
        if (rc)
            goto fail;
        if (n->ns.queue_size && !is_pow2(n->ns.queue_size)) {
            ns_diag(cfg, kv_mark(sp->kvs, sp->nkv, "queue_size", sp->mark),
                    "%s: 'queue_size' must be a power of two, got %llu", where,
                    (unsigned long long)n->ns.queue_size);
            goto fail;
        }
        size_t csz = n->plugin->desc.config_size;
        n->config = calloc(1, csz ? csz : 1);
        if (!n->config)
            goto fail;
        if (ns_config_apply(cfg, sp->kvs, sp->nkv, sp->mark, n->plugin->desc.options, n->config,
                            node_keys, where))
            goto fail;
    }

    /* Pass 2: edges. */
    size_t npsrc = 0;
    for (size_t i = 0; i < g->n; i++)
        npsrc += g->nodes[i].kind == NS_KIND_SOURCE && !g->nodes[i].emits_records;
    /* The last node above so far of each kind (slot 0: record sources), so the
     * default `from` is found in O(1) rather than by scanning back. */
    size_t last[NS_KIND_SINK + 1];
    for (size_t c = 0; c <= NS_KIND_SINK; c++)
        last[c] = (size_t)-1;
    for (size_t i = 0; i < g->n; i++) {
        struct ns_gnode *n = &g->nodes[i];
        const struct ns_node_spec *sp = n->spec;
        if (i) {
            const struct ns_gnode *p = &g->nodes[i - 1];
            last[p->emits_records ? 0 : p->kind] = i - 1;
        }
        if (n->kind == NS_KIND_SOURCE) {
            if (sp->from_given && sp->nfrom) {
                ns_diag(cfg, sp->from_marks[0], "node '%s' is a source and cannot have 'from'",
                        sp->name);
                goto fail;
            }
            continue;
        }
        /* Sized for this node's inputs, not g->n: n nodes of n slots is quadratic. */
        size_t cap = sp->from_given ? sp->nfrom : n->kind == NS_KIND_DECODER ? npsrc : 1;
        n->from = calloc(cap ? cap : 1, sizeof(size_t));
        if (!n->from)
            goto fail;
        if (sp->from_given) {
            for (size_t j = 0; j < sp->nfrom; j++) {
                size_t f = find_node(byname, g->n, sp->from[j]);
                if (f == (size_t)-1) {
                    const char *names[256];
                    size_t nn = 0;
                    for (size_t k = 0; k < cfg->nnodes && nn < 256; k++)
                        names[nn++] = cfg->nodes[k].name;
                    const char *sug = ns_suggest(sp->from[j], names, nn);
                    ns_diag(cfg, sp->from_marks[j],
                            "node '%s': 'from' names unknown node '%s'%s%s%s", sp->name,
                            sp->from[j], sug ? " (did you mean '" : "", sug ? sug : "",
                            sug ? "'?)" : "");
                    goto fail;
                }
                if (f == i) {
                    ns_diag(cfg, sp->from_marks[j], "node '%s' cannot read from itself", sp->name);
                    goto fail;
                }
                for (size_t k = 0; k < n->nfrom; k++)
                    if (n->from[k] == f) {
                        ns_diag(cfg, sp->from_marks[j], "node '%s' lists '%s' twice in 'from'",
                                sp->name, sp->from[j]);
                        goto fail;
                    }
                /* A later node may not be checked for kind yet, but pass 1 set all kinds. */
                struct ns_gnode *fn = &g->nodes[f];
                if (!edge_ok(fn, n)) {
                    ns_diag(cfg, sp->from_marks[j], "node '%s' (%s) cannot read from '%s' (%s): %s",
                            sp->name, what(n), fn->spec->name, what(fn),
                            n->app ? "app-layer decoders read from a packet decoder such as "
                                     "decoder/flow"
                            : n->kind == NS_KIND_DECODER
                                ? "decoders read packets from packet sources"
                            : fn->kind == NS_KIND_SINK
                                ? "sinks have no output"
                                : "records flow source -> decoder -> enricher -> "
                                  "detector -> sink");
                    goto fail;
                }
                n->from[n->nfrom++] = f;
            }
        } else if (n->app) {
            for (size_t j = i; j-- > 0;)
                if (g->nodes[j].kind == NS_KIND_DECODER && !g->nodes[j].app) {
                    n->from[n->nfrom++] = j;
                    break;
                }
        } else if (n->kind == NS_KIND_DECODER) {
            for (size_t j = 0; j < g->n; j++)
                if (g->nodes[j].kind == NS_KIND_SOURCE && !g->nodes[j].emits_records)
                    n->from[n->nfrom++] = j;
        } else {
            continue; /* record readers without `from`: below, once every explicit edge is known */
        }
        if (n->nfrom == 0) {
            ns_diag(cfg, sp->mark,
                    "node '%s' (%s) has no input: add 'from: [...]' or put it after a node that "
                    "can feed it",
                    sp->name, what(n));
            goto fail;
        }
        if (!n->app) /* hosting is not a record edge */
            for (size_t j = 0; j < n->nfrom; j++)
                if (add_succ(&g->nodes[n->from[j]], i))
                    goto fail;
    }
    (void)last;

    /* Default inputs of record readers: every node above whose records nothing
     * reads yet, else the nearest node that can feed it. `open` holds the nodes
     * above with no reader so far, in file order (lazily pruned). */
    size_t *open = calloc(g->n ? g->n : 1, sizeof(size_t)), nopen = 0;
    /* The last node above of each class that can feed records (record source,
     * packet decoder, app decoder, enricher, detector): the nearest fallback in O(1). */
    size_t feeder[5] = {(size_t)-1, (size_t)-1, (size_t)-1, (size_t)-1, (size_t)-1};
    if (!open)
        goto fail;
    for (size_t i = 0; i < g->n; i++) {
        struct ns_gnode *n = &g->nodes[i];
        if (n->kind != NS_KIND_SOURCE && n->kind != NS_KIND_DECODER && !n->spec->from_given) {
            size_t k = 0;
            for (size_t o = 0; o < nopen; o++) {
                struct ns_gnode *f = &g->nodes[open[o]];
                if (f->nsucc == 0 && edge_ok(f, n)) {
                    if (add_from(n, open[o])) {
                        free(open);
                        goto fail;
                    }
                } else if (f->nsucc == 0) {
                    open[k++] = open[o];
                }
            }
            nopen = k;
            size_t best = (size_t)-1;
            for (size_t c = 0; n->nfrom == 0 && c < 5; c++)
                if (feeder[c] != (size_t)-1 && (best == (size_t)-1 || feeder[c] > best) &&
                    edge_ok(&g->nodes[feeder[c]], n))
                    best = feeder[c];
            if (best != (size_t)-1 && add_from(n, best)) {
                free(open);
                goto fail;
            }
            if (n->nfrom == 0) {
                ns_diag(cfg, n->spec->mark,
                        "node '%s' (%s) has no input: add 'from: [...]' or put it after a node "
                        "that can feed it",
                        n->spec->name, what(n));
                free(open);
                goto fail;
            }
            for (size_t j = 0; j < n->nfrom; j++)
                if (add_succ(&g->nodes[n->from[j]], i)) {
                    free(open);
                    goto fail;
                }
        }
        bool feeds_records =
            n->emits_records || (n->kind != NS_KIND_SOURCE && n->kind != NS_KIND_SINK);
        if (feeds_records && n->nsucc == 0)
            open[nopen++] = i;
        if (n->emits_records)
            feeder[0] = i;
        else if (n->kind == NS_KIND_DECODER)
            feeder[n->app ? 2 : 1] = i;
        else if (n->kind == NS_KIND_ENRICHER)
            feeder[3] = i;
        else if (n->kind == NS_KIND_DETECTOR)
            feeder[4] = i;
    }
    free(open);

    size_t nsrc = 0;
    for (size_t i = 0; i < g->n; i++)
        nsrc += g->nodes[i].kind == NS_KIND_SOURCE;
    if (nsrc == 0) {
        ns_diag(cfg, cfg->pipeline_mark, "the pipeline has no source node");
        goto fail;
    }
    if (topo_sort(g))
        goto fail;
    for (size_t i = 0; i < g->n; i++) {
        struct ns_gnode *n = &g->nodes[i];
        if (n->kind != NS_KIND_SINK && n->nsucc == 0)
            fprintf(stderr,
                    "%s:%u:%u: warning: node '%s' feeds nothing: its output is "
                    "discarded (counted)\n",
                    cfg->file, n->spec->mark.line, n->spec->mark.col, n->spec->name);
    }
    free(byname);
    return g;
fail:
    free(byname);
    ns_graph_free(g);
    return NULL;
}
