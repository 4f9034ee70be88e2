/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_config.c - YAML (libyaml document API) to struct ns_config, with marks.
 *
 * Only the structure is checked here: the top-level keys, node shapes, `plugin`
 * and `from`. Plugin options are checked against each plugin's option table by
 * ns_config_apply() once the plugin is loaded.
 */
#include "ns_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "ns_opt.h"

static char g_last_diag[1024];
static bool g_quiet;

const char *ns_diag_last(void)
{
    return g_last_diag;
}

void ns_diag_quiet(bool quiet)
{
    g_quiet = quiet;
}

static void vdiag(const char *file, struct ns_mark m, const char *fmt, va_list ap)
{
    char msg[768];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (m.line)
        snprintf(g_last_diag, sizeof(g_last_diag), "%s:%u:%u: error: %s", file ? file : "?", m.line,
                 m.col, msg);
    else
        snprintf(g_last_diag, sizeof(g_last_diag), "%s: error: %s", file ? file : "?", msg);
    if (!g_quiet)
        fprintf(stderr, "%s\n", g_last_diag);
}

void ns_diag_file(const char *file, struct ns_mark m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(file, m, fmt, ap);
    va_end(ap);
}

void ns_diag(const struct ns_config *cfg, struct ns_mark m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(cfg ? cfg->file : NULL, m, fmt, ap);
    va_end(ap);
}

static struct ns_mark mark_of(const yaml_node_t *n)
{
    struct ns_mark m = {(unsigned)n->start_mark.line + 1, (unsigned)n->start_mark.column + 1};
    return m;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_null_scalar(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE)
        return false;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = scalar(n);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

static void kv_free(struct ns_kv *kv)
{
    free(kv->key);
    for (size_t i = 0; i < kv->nvals; i++)
        free(kv->vals[i]);
    free(kv->vals);
}

/* Converts a YAML value node into a kv; nested mappings are kept as NS_KV_MAP
 * (so the option layer can say "expects a string, got a mapping"). */
static int kv_fill(struct ns_config *cfg, yaml_document_t *doc, yaml_node_t *k, yaml_node_t *v,
                   struct ns_kv *kv)
{
    memset(kv, 0, sizeof(*kv));
    kv->key = strdup(scalar(k));
    kv->kmark = mark_of(k);
    kv->vmark = mark_of(v);
    if (!kv->key)
        return -ENOMEM;
    if (v->type == YAML_SCALAR_NODE) {
        kv->kind = NS_KV_SCALAR;
        kv->vals = calloc(1, sizeof(char *));
        if (!kv->vals || !(kv->vals[0] = strdup(is_null_scalar(v) ? "" : scalar(v))))
            return -ENOMEM;
        kv->nvals = 1;
        return 0;
    }
    if (v->type == YAML_SEQUENCE_NODE) {
        kv->kind = NS_KV_LIST;
        size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        kv->vals = calloc(n ? n : 1, sizeof(char *));
        if (!kv->vals)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *it = yaml_document_get_node(doc, v->data.sequence.items.start[i]);
            if (!it || it->type != YAML_SCALAR_NODE) {
                ns_diag(cfg, it ? mark_of(it) : kv->vmark,
                        "'%s': list items must be plain values, not lists or mappings", kv->key);
                return -EINVAL;
            }
            if (!(kv->vals[i] = strdup(scalar(it))))
                return -ENOMEM;
            kv->nvals++;
        }
        return 0;
    }
    kv->kind = NS_KV_MAP;
    return 0;
}

struct keyref {
    const char *s;
    size_t i;
};

static int keyref_cmp(const void *a, const void *b)
{
    const struct keyref *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Reports the first key (in file order) that is not a plain string or repeats an
 * earlier one. Sorting keeps this O(n log n): a 4 MiB file can hold 10^5 keys. */
static int check_dup(struct ns_config *cfg, yaml_document_t *doc, yaml_node_t *map)
{
    yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    size_t n = (size_t)(map->data.mapping.pairs.top - pairs), bad = n, dup = n, first = 0;
    struct keyref *v = calloc(n ? n : 1, sizeof(*v));
    if (!v) {
        ns_diag(cfg, mark_of(map), "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *k = yaml_document_get_node(doc, pairs[i].key);
        if (!k || k->type != YAML_SCALAR_NODE) {
            bad = i;
            break;
        }
        v[i] = (struct keyref){scalar(k), i};
    }
    qsort(v, bad, sizeof(*v), keyref_cmp);
    for (size_t j = 1, g = 0; j < bad; j++) {
        if (strcmp(v[j].s, v[j - 1].s) != 0)
            g = j;
        else if (v[j].i < dup) {
            dup = v[j].i;
            first = v[g].i;
        }
    }
    free(v);
    if (dup < n) {
        yaml_node_t *k = yaml_document_get_node(doc, pairs[dup].key);
        yaml_node_t *k2 = yaml_document_get_node(doc, pairs[first].key);
        ns_diag(cfg, mark_of(k), "duplicate key '%s' (first at line %u)", scalar(k),
                mark_of(k2).line);
        return -EINVAL;
    }
    if (bad < n) {
        yaml_node_t *k = yaml_document_get_node(doc, pairs[bad].key);
        ns_diag(cfg, k ? mark_of(k) : mark_of(map), "keys must be plain strings");
        return -EINVAL;
    }
    return 0;
}

static int parse_node(struct ns_config *cfg, yaml_document_t *doc, yaml_node_t *k, yaml_node_t *v,
                      struct ns_node_spec *ns)
{
    memset(ns, 0, sizeof(*ns));
    ns->name = strdup(scalar(k));
    ns->mark = mark_of(k);
    if (!ns->name)
        return -ENOMEM;
    if (!*ns->name || strchr(ns->name, '/') || strchr(ns->name, ' ')) {
        ns_diag(cfg, ns->mark, "node name '%s' must be non-empty without '/' or spaces", ns->name);
        return -EINVAL;
    }
    if (v->type != YAML_MAPPING_NODE) {
        ns_diag(cfg, mark_of(v), "node '%s' must be a mapping with at least 'plugin: kind/name'",
                ns->name);
        return -EINVAL;
    }
    if (check_dup(cfg, doc, v))
        return -EINVAL;
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    ns->kvs = calloc(n ? n : 1, sizeof(*ns->kvs));
    if (!ns->kvs)
        return -ENOMEM;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *pk = yaml_document_get_node(doc, p->key);
        yaml_node_t *pv = yaml_document_get_node(doc, p->value);
        const char *key = scalar(pk);
        if (strcmp(key, "plugin") == 0) {
            if (pv->type != YAML_SCALAR_NODE || is_null_scalar(pv)) {
                ns_diag(cfg, mark_of(pv), "'plugin' must be kind/name, e.g. decoder/flow");
                return -EINVAL;
            }
            ns->plugin = strdup(scalar(pv));
            ns->plugin_mark = mark_of(pv);
            if (!ns->plugin)
                return -ENOMEM;
            continue;
        }
        if (strcmp(key, "from") == 0) {
            ns->from_given = true;
            if (pv->type == YAML_SCALAR_NODE && !is_null_scalar(pv)) {
                ns->from = calloc(1, sizeof(char *));
                ns->from_marks = calloc(1, sizeof(struct ns_mark));
                if (!ns->from || !ns->from_marks || !(ns->from[0] = strdup(scalar(pv))))
                    return -ENOMEM;
                ns->from_marks[0] = mark_of(pv);
                ns->nfrom = 1;
            } else if (pv->type == YAML_SEQUENCE_NODE) {
                size_t m = (size_t)(pv->data.sequence.items.top - pv->data.sequence.items.start);
                ns->from = calloc(m ? m : 1, sizeof(char *));
                ns->from_marks = calloc(m ? m : 1, sizeof(struct ns_mark));
                if (!ns->from || !ns->from_marks)
                    return -ENOMEM;
                for (size_t i = 0; i < m; i++) {
                    yaml_node_t *it = yaml_document_get_node(doc, pv->data.sequence.items.start[i]);
                    if (!it || it->type != YAML_SCALAR_NODE) {
                        ns_diag(cfg, it ? mark_of(it) : mark_of(pv), "'from' lists node names");
                        return -EINVAL;
                    }
                    if (!(ns->from[i] = strdup(scalar(it))))
                        return -ENOMEM;
                    ns->from_marks[i] = mark_of(it);
                    ns->nfrom++;
                }
            } else if (!is_null_scalar(pv)) {
                ns_diag(cfg, mark_of(pv), "'from' must be a node name or a list of node names");
                return -EINVAL;
            }
            continue;
        }
        int rc = kv_fill(cfg, doc, pk, pv, &ns->kvs[ns->nkv]);
        ns->nkv++;
        if (rc)
            return rc;
    }
    if (!ns->plugin) {
        ns_diag(cfg, ns->mark, "node '%s' has no 'plugin' key (e.g. plugin: decoder/flow)",
                ns->name);
        return -EINVAL;
    }
    return 0;
}

static struct ns_config *config_from_doc(const char *name, yaml_document_t *doc)
{
    struct ns_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg || !(cfg->file = strdup(name))) {
        free(cfg);
        fprintf(stderr, "%s: error: out of memory\n", name);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) {
        ns_diag(cfg, (struct ns_mark){0, 0}, "the file is empty: expected a 'pipeline:' mapping");
        goto err;
    }
    if (root->type != YAML_MAPPING_NODE) {
        ns_diag(cfg, mark_of(root), "expected a mapping with 'pipeline:' at the top level");
        goto err;
    }
    if (check_dup(cfg, doc, root))
        goto err;
    static const char *const top_keys[] = {"netscope", "pipeline"};
    bool have_pipeline = false;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        const char *key = scalar(k);
        if (strcmp(key, "netscope") == 0) {
            if (is_null_scalar(v))
                continue;
            if (v->type != YAML_MAPPING_NODE) {
                ns_diag(cfg, mark_of(v), "'netscope' must be a mapping of settings");
                goto err;
            }
            if (check_dup(cfg, doc, v))
                goto err;
            size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            cfg->settings = calloc(n ? n : 1, sizeof(struct ns_kv));
            if (!cfg->settings)
                goto err;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                int rc =
                    kv_fill(cfg, doc, yaml_document_get_node(doc, q->key),
                            yaml_document_get_node(doc, q->value), &cfg->settings[cfg->nsettings]);
                cfg->nsettings++;
                if (rc)
                    goto err;
            }
        } else if (strcmp(key, "pipeline") == 0) {
            have_pipeline = true;
            cfg->pipeline_mark = mark_of(k);
            if (v->type != YAML_MAPPING_NODE) {
                ns_diag(cfg, mark_of(v),
                        "'pipeline' must be a mapping of named nodes (name: {plugin: ...})");
                goto err;
            }
            if (check_dup(cfg, doc, v))
                goto err;
            size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            if (n == 0) {
                ns_diag(cfg, mark_of(v), "'pipeline' has no nodes");
                goto err;
            }
            cfg->nodes = calloc(n, sizeof(struct ns_node_spec));
            if (!cfg->nodes)
                goto err;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                int rc =
                    parse_node(cfg, doc, yaml_document_get_node(doc, q->key),
                               yaml_document_get_node(doc, q->value), &cfg->nodes[cfg->nnodes]);
                cfg->nnodes++;
                if (rc)
                    goto err;
            }
        } else {
            const char *sug = ns_suggest(key, top_keys, 2);
            if (sug)
                ns_diag(cfg, mark_of(k), "unknown top-level key '%s' (did you mean '%s'?)", key,
                        sug);
            else
                ns_diag(cfg, mark_of(k),
                        "unknown top-level key '%s' (expected 'netscope' or 'pipeline')", key);
            goto err;
        }
    }
    if (!have_pipeline) {
        ns_diag(cfg, mark_of(root), "no 'pipeline:' section");
        goto err;
    }
    return cfg;
err:
    ns_config_free(cfg);
    return NULL;
}

/* Reports a libyaml failure. Reader errors (bad UTF-8) carry a byte offset, not a mark. */
static void yaml_error(const char *name, const yaml_parser_t *p, const char *text, size_t len)
{
    struct ns_mark m = {(unsigned)p->problem_mark.line + 1, (unsigned)p->problem_mark.column + 1};
    if (p->error == YAML_READER_ERROR) {
        m.line = m.col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (text[i] == '\n') {
                m.line++;
                m.col = 1;
            } else {
                m.col++;
            }
        }
    }
    ns_diag_file(name, m, "invalid YAML: %s%s%s", p->problem ? p->problem : "error",
                 p->context ? " " : "", p->context ? p->context : "");
}

/* A pipeline file nests four levels (top, pipeline, node, list value). */
#define NS_CONFIG_MAX_DEPTH 64

/* libyaml's scanner is quadratic in the flow nesting depth (4 MiB of '[' takes
 * hours), so walk the events first and stop at an absurd depth. Syntax errors
 * are left to the loader, which reports them with their location. */
static int check_depth(const char *name, const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int depth = 0, rc = 0;
    if (!yaml_parser_initialize(&p))
        return 0;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (yaml_parser_parse(&p, &ev)) {
        yaml_event_type_t t = ev.type;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > NS_CONFIG_MAX_DEPTH) {
                ns_diag_file(name,
                             (struct ns_mark){(unsigned)ev.start_mark.line + 1,
                                              (unsigned)ev.start_mark.column + 1},
                             "nested more than %d levels deep: not a pipeline file",
                             NS_CONFIG_MAX_DEPTH);
                rc = -EINVAL;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (rc || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

struct ns_config *ns_config_load_string(const char *name, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct ns_config *cfg = NULL;

    if (check_depth(name, text, len))
        return NULL;
    if (!yaml_parser_initialize(&parser)) {
        fprintf(stderr, "%s: error: cannot initialise the YAML parser\n", name);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_error(name, &parser, text, len);
        yaml_parser_delete(&parser);
        return NULL;
    }
    cfg = config_from_doc(name, &doc);
    yaml_document_delete(&doc);
    if (cfg) {
        /* yaml_parser_load reads one document: look at the rest of the stream too,
         * or a second document (and any syntax error in it) would be ignored. */
        yaml_document_t more;
        if (!yaml_parser_load(&parser, &more)) {
            yaml_error(name, &parser, text, len);
            ns_config_free(cfg);
            cfg = NULL;
        } else {
            yaml_node_t *root = yaml_document_get_root_node(&more);
            if (root) {
                ns_diag_file(name,
                             (struct ns_mark){(unsigned)more.start_mark.line + 1,
                                              (unsigned)more.start_mark.column + 1},
                             "only one YAML document is allowed in a pipeline file");
                ns_config_free(cfg);
                cfg = NULL;
            }
            yaml_document_delete(&more);
        }
    }
    yaml_parser_delete(&parser);
    return cfg;
}

/* Config files are small; anything over this is a mistake (a capture passed as -c). */
#define NS_CONFIG_MAX_BYTES (4u << 20)

struct ns_config *ns_config_load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ns_diag_file(path, (struct ns_mark){0, 0}, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(NS_CONFIG_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        ns_diag_file(path, (struct ns_mark){0, 0}, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, NS_CONFIG_MAX_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        ns_diag_file(path, (struct ns_mark){0, 0}, "cannot read (is it a directory?)");
        return NULL;
    }
    if (n > NS_CONFIG_MAX_BYTES) {
        free(buf);
        ns_diag_file(path, (struct ns_mark){0, 0}, "larger than %u bytes: not a pipeline file",
                     NS_CONFIG_MAX_BYTES);
        return NULL;
    }
    if (memchr(buf, '\0', n)) {
        free(buf);
        ns_diag_file(path, (struct ns_mark){0, 0}, "contains NUL bytes: not a YAML pipeline file");
        return NULL;
    }
    struct ns_config *cfg = ns_config_load_string(path, buf, n);
    free(buf);
    return cfg;
}

void ns_config_free(struct ns_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nsettings; i++)
        kv_free(&cfg->settings[i]);
    free(cfg->settings);
    for (size_t i = 0; i < cfg->nnodes; i++) {
        struct ns_node_spec *n = &cfg->nodes[i];
        free(n->name);
        free(n->plugin);
        for (size_t j = 0; j < n->nfrom; j++)
            free(n->from[j]);
        free(n->from);
        free(n->from_marks);
        for (size_t j = 0; j < n->nkv; j++)
            kv_free(&n->kvs[j]);
        free(n->kvs);
    }
    free(cfg->nodes);
    free(cfg->file);
    free(cfg);
}

size_t ns_config_override(struct ns_config *cfg, const char *plugin, const char *key,
                          const char *const *vals, size_t nvals, bool is_list)
{
    size_t matched = 0;
    for (size_t i = 0; i < cfg->nnodes; i++) {
        struct ns_node_spec *n = &cfg->nodes[i];
        if (strcmp(n->plugin, plugin) != 0)
            continue;
        struct ns_kv *kv = NULL;
        for (size_t j = 0; j < n->nkv; j++)
            if (strcmp(n->kvs[j].key, key) == 0)
                kv = &n->kvs[j];
        if (kv) {
            kv_free(kv);
        } else {
            struct ns_kv *nk = realloc(n->kvs, (n->nkv + 1) * sizeof(*nk));
            if (!nk)
                continue;
            n->kvs = nk;
            kv = &n->kvs[n->nkv++];
        }
        memset(kv, 0, sizeof(*kv));
        kv->key = strdup(key);
        kv->kind = is_list ? NS_KV_LIST : NS_KV_SCALAR;
        kv->vals = calloc(nvals ? nvals : 1, sizeof(char *));
        for (size_t j = 0; kv->vals && j < nvals; j++)
            if ((kv->vals[j] = strdup(vals[j])))
                kv->nvals++;
        matched++;
    }
    return matched;
}

int ns_config_apply(const struct ns_config *cfg, const struct ns_kv *kvs, size_t nkv,
                    struct ns_mark owner, const struct ns_option *opts, void *block,
                    const char *const *skip, const char *where)
{
    size_t nopt = ns_opt_count(opts);
    bool *set = calloc(nopt ? nopt : 1, sizeof(bool));
    char err[512];
    int rc = 0;

    if (!set)
        return -ENOMEM;
    for (size_t i = 0; i < nkv; i++) {
        const struct ns_kv *kv = &kvs[i];
        bool skipped = false;
        for (size_t s = 0; skip && skip[s]; s++)
            if (strcmp(skip[s], kv->key) == 0)
                skipped = true;
        if (skipped)
            continue;
        const struct ns_option *o = ns_opt_find(opts, kv->key);
        if (!o) {
            const char *sug = ns_opt_suggest(opts, kv->key);
            if (sug)
                ns_diag(cfg, kv->kmark, "%s: unknown option '%s' (did you mean '%s'?)", where,
                        kv->key, sug);
            else if (nopt == 0)
                ns_diag(cfg, kv->kmark, "%s: unknown option '%s' (this plugin takes no options)",
                        where, kv->key);
            else
                ns_diag(cfg, kv->kmark,
                        "%s: unknown option '%s' (see `netscope describe` for the options)", where,
                        kv->key);
            rc = -EINVAL;
            break;
        }
        if (o->flags & NS_OPT_DEPRECATED)
            fprintf(stderr, "%s:%u:%u: warning: %s: option '%s' is deprecated%s%s%s\n",
                    cfg ? cfg->file : "?", kv->kmark.line, kv->kmark.col, where, o->name,
                    o->alias ? "; use '" : "", o->alias ? o->alias : "", o->alias ? "'" : "");
        if (kv->kind == NS_KV_MAP) {
            ns_diag(cfg, kv->vmark, "%s: '%s' expects a %s, got a mapping", where, kv->key,
                    ns_opt_type_name(o->type));
            rc = -EINVAL;
            break;
        }
        if (kv->kind == NS_KV_LIST)
            rc = ns_opt_set_list(o, block, (const char *const *)kv->vals, kv->nvals, err,
                                 sizeof(err));
        else
            rc = ns_opt_set(o, block, kv->vals[0], err, sizeof(err));
        if (rc) {
            ns_diag(cfg, kv->vmark, "%s: %s", where, err);
            rc = rc == -ENOMEM ? rc : -EINVAL; /* bounds give -ERANGE; callers expect -EINVAL */
            break;
        }
        set[o - opts] = true;
    }
    if (!rc) {
        rc = ns_opt_defaults(opts, block, set, err, sizeof(err));
        if (rc)
            ns_diag(cfg, owner, "%s: %s", where, err);
    }
    free(set);
    return rc;
}
