/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_metrics.c - an append-only registry of counter cells grouped into series
 * (name + label set) and families (one exposition name, one HELP and TYPE).
 *
 * Plugins register through host->counter/gauge (ns_rt.c), the core directly.
 * Registration may happen on any thread and takes the lock; the exposition
 * (ns_metrics_write_prometheus, called by the /metrics endpoint on the loop
 * thread) takes it too. Cells are written without the lock (single writer,
 * relaxed stores) and read with relaxed loads.
 */
#include "ns_metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ns_log.h"

#ifndef NS_VERSION
#define NS_VERSION "0.0.0"
#endif

struct ns_family {
    char *name; /* exposition name, netscope_ prefix included */
    char *help;
    enum ns_metric_type type;
    size_t *series, nseries, cap;
};

struct ns_series {
    struct ns_metric m;
    size_t family;
    ns_counter **cells;
    size_t ncells;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ns_series *g_s;
static size_t g_n, g_cap;
static struct ns_family *g_f;
static size_t g_nf, g_capf;
static ns_counter g_scratch;
static bool g_process_done;
static void (*g_collect)(void *);
static void *g_collect_arg;

/* ---- names and labels ---------------------------------------------------- */

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && memcmp(s + a - b, suf, b) == 0;
}

/* "netscope_" + the name with invalid characters replaced, + "_total" for a
 * counter without it (what Prometheus client libraries do). */
static char *expo_name(const char *name, enum ns_metric_type type)
{
    size_t n = strlen(name);
    char *o = malloc(9 + n + 7);
    if (!o)
        return NULL;
    memcpy(o, "netscope_", 9);
    for (size_t i = 0; i < n; i++)
        o[9 + i] = name_char(name[i], false) ? name[i] : '_';
    o[9 + n] = '\0';
    if (type == NS_METRIC_COUNTER && !ends_with(o, "_total"))
        memcpy(o + 9 + n, "_total", 7);
    return o;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || len > n || (s[0] >= 0xf0 && len != 4))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* overlong three-byte forms, surrogates and code points above U+10FFFF */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* A growable string. */
struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (b->n + n + 1 > nc)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

/* A label value as the exposition format wants it: \ " and newline escaped,
 * invalid UTF-8 replaced by U+FFFD so the scrape never fails on it. */
static void sb_escape(struct sbuf *b, const char *v, size_t n)
{
    const unsigned char *s = (const unsigned char *)v;
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' || s[i] == '"') {
            char e[2] = {'\\', (char)s[i]};
            sb_putn(b, e, 2);
            i++;
        } else if (s[i] == '\n') {
            sb_putn(b, "\\n", 2);
            i++;
        } else {
            size_t l = utf8_len(s + i, n - i);
            if (l == 0) {
                sb_puts(b, "\xef\xbf\xbd");
                i++;
            } else {
                sb_putn(b, v + i, l);
                i += l;
            }
        }
    }
}

/* Parse Prometheus label text and write it back normalised into out. Returns
 * false when the text is not a list of name="value" pairs with distinct,
 * non-reserved names. */
static bool labels_parse(const char *in, struct sbuf *out)
{
    const char *p = in;
    char names[32][64];
    size_t nn = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return true;
        const char *ns = p;
        if (!name_char(*p, true) || *p == ':')
            return false;
        while (name_char(*p, false) && *p != ':')
            p++;
        size_t nlen = (size_t)(p - ns);
        if (nlen >= 64 || nn == 32 || (nlen >= 2 && ns[0] == '_' && ns[1] == '_'))
            return false;
        for (size_t i = 0; i < nn; i++)
            if (strlen(names[i]) == nlen && memcmp(names[i], ns, nlen) == 0)
                return false;
        memcpy(names[nn], ns, nlen);
        names[nn++][nlen] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '=')
            return false;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '"')
            return false;
        struct sbuf val = {0};
        while (*p && *p != '"') {
            if (*p == '\\' && p[1]) {
                char c = p[1] == 'n' ? '\n' : p[1];
                sb_putn(&val, &c, 1);
                p += 2;
            } else {
                sb_putn(&val, p++, 1);
            }
        }
        if (*p++ != '"' || val.oom) {
            free(val.p);
            return false;
        }
        if (out->n)
            sb_puts(out, ",");
        sb_putn(out, ns, nlen);
        sb_puts(out, "=\"");
        sb_escape(out, val.p ? val.p : "", val.n);
        sb_puts(out, "\"");
        free(val.p);
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return false;
    }
}

static char *labels_normalize(const char *in)
{
    struct sbuf out = {0};
    sb_puts(&out, "");
    if (!out.oom && !labels_parse(in ? in : "", &out) && !out.oom) {
        ns_warn("metrics: label text '%s' is not Prometheus label syntax: kept as "
                "invalid_labels",
                in);
        out.n = 0;
        out.p[0] = '\0';
        sb_puts(&out, "invalid_labels=\"");
        sb_escape(&out, in, strlen(in));
        sb_puts(&out, "\"");
    }
    if (out.oom) {
        free(out.p);
        return NULL;
    }
    return out.p;
}

int ns_metrics_label_append(char *buf, size_t cap, const char *name, const char *value)
{
    struct sbuf b = {0};
    size_t have = strlen(buf);
    if (have)
        sb_puts(&b, ",");
    sb_puts(&b, name);
    sb_puts(&b, "=\"");
    sb_escape(&b, value ? value : "", value ? strlen(value) : 0);
    sb_puts(&b, "\"");
    int rc = 0;
    if (b.oom || have + b.n + 1 > cap)
        rc = -ENOSPC;
    else
        memcpy(buf + have, b.p, b.n + 1);
    free(b.p);
    return rc;
}

/* ---- registration -------------------------------------------------------- */

static size_t family_find_or_add(char *ename, const char *help, enum ns_metric_type type)
{
    for (size_t i = 0; i < g_nf; i++)
        if (strcmp(g_f[i].name, ename) == 0) {
            free(ename);
            if (g_f[i].type != type)
                ns_warn("metrics: %s registered as both counter and gauge; exported as a %s",
                        g_f[i].name, g_f[i].type == NS_METRIC_COUNTER ? "counter" : "gauge");
            return i;
        }
    if (g_nf == g_capf) {
        size_t nc = g_capf ? g_capf * 2 : 32;
        struct ns_family *nf = realloc(g_f, nc * sizeof(*nf));
        if (!nf) {
            free(ename);
            return (size_t)-1;
        }
        g_f = nf;
        g_capf = nc;
    }
    struct ns_family *f = &g_f[g_nf];
    memset(f, 0, sizeof(*f));
    f->name = ename;
    f->help = strdup(help && *help ? help : ename);
    f->type = type;
    if (!f->help) {
        free(ename);
        return (size_t)-1;
    }
    return g_nf++;
}

static bool family_add_series(struct ns_family *f, size_t s)
{
    if (f->nseries == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 8;
        size_t *v = realloc(f->series, nc * sizeof(*v));
        if (!v)
            return false;
        f->series = v;
        f->cap = nc;
    }
    f->series[f->nseries++] = s;
    return true;
}

ns_counter *ns_metrics_register(enum ns_metric_type type, const char *name, const char *labels,
                                const char *help)
{
    ns_counter *cell = calloc(1, sizeof(*cell));
    char *ename = expo_name(name ? name : "unnamed", type);
    char *lab = labels_normalize(labels ? labels : "");
    ns_counter *ret = &g_scratch;
    if (!cell || !ename || !lab) {
        free(ename);
        goto out;
    }
    pthread_mutex_lock(&g_lock);
    size_t fi = family_find_or_add(ename, help, type);
    if (fi == (size_t)-1)
        goto unlock;
    struct ns_series *s = NULL;
    for (size_t i = 0; i < g_f[fi].nseries && !s; i++)
        if (strcmp(g_s[g_f[fi].series[i]].m.labels, lab) == 0)
            s = &g_s[g_f[fi].series[i]];
    if (!s) {
        if (g_n == g_cap) {
            size_t nc = g_cap ? g_cap * 2 : 64;
            struct ns_series *ns = realloc(g_s, nc * sizeof(*ns));
            if (!ns)
                goto unlock;
            g_s = ns;
            g_cap = nc;
        }
        s = &g_s[g_n];
        memset(s, 0, sizeof(*s));
        s->m.name = strdup(name ? name : "unnamed");
        s->m.help = strdup(g_f[fi].help);
        if (!s->m.name || !s->m.help || !family_add_series(&g_f[fi], g_n)) {
            free(s->m.name);
            free(s->m.help);
            goto unlock;
        }
        s->m.labels = lab;
        lab = NULL;
        s->m.type = g_f[fi].type;
        s->family = fi;
        g_n++;
    }
    ns_counter **cv = realloc(s->cells, (s->ncells + 1) * sizeof(*cv));
    if (!cv)
        goto unlock;
    s->cells = cv;
    s->cells[s->ncells++] = cell;
    if (!s->m.cell)
        s->m.cell = cell;
    ret = cell;
    cell = NULL;
unlock:
    pthread_mutex_unlock(&g_lock);
out:
    if (ret == &g_scratch)
        ns_err("metrics: out of memory registering %s", name ? name : "?");
    free(cell);
    free(lab);
    return ret;
}

static uint64_t series_value(const struct ns_series *s)
{
    uint64_t v = 0;
    for (size_t i = 0; i < s->ncells; i++)
        v += ns_counter_get(s->cells[i]);
    return v;
}

void ns_metrics_foreach(void (*fn)(const struct ns_metric *m, uint64_t value, void *arg), void *arg)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n; i++)
        fn(&g_s[i].m, series_value(&g_s[i]), arg);
    pthread_mutex_unlock(&g_lock);
}

uint64_t ns_metrics_sum(const char *name, const char *labels)
{
    uint64_t v = 0;
    char *lab = labels ? labels_normalize(labels) : NULL;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n; i++) {
        const struct ns_series *s = &g_s[i];
        bool nm =
            strcmp(s->m.name, name) == 0 || (strncmp(g_f[s->family].name, "netscope_", 9) == 0 &&
                                             strcmp(g_f[s->family].name + 9, name) == 0);
        if (nm && (!labels || (lab && strcmp(s->m.labels, lab) == 0)))
            v += series_value(s);
    }
    pthread_mutex_unlock(&g_lock);
    free(lab);
    return v;
}

void ns_metrics_set_collector(void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&g_lock);
    g_collect = fn;
    g_collect_arg = arg;
    pthread_mutex_unlock(&g_lock);
}

/* HELP text: backslash and newline escaped (the format's rule for HELP). */
static void write_help(FILE *f, const char *h)
{
    for (; *h; h++) {
        if (*h == '\\')
            fputs("\\\\", f);
        else if (*h == '\n')
            fputs("\\n", f);
        else
            fputc(*h, f);
    }
}

static void dseries_write(FILE *out);

int ns_metrics_write_prometheus(FILE *f)
{
    pthread_mutex_lock(&g_lock);
    void (*collect)(void *) = g_collect;
    void *carg = g_collect_arg;
    pthread_mutex_unlock(&g_lock);
    if (collect)
        collect(carg);

    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_nf; i++) {
        const struct ns_family *fam = &g_f[i];
        if (fam->nseries == 0)
            continue;
        fprintf(f, "# HELP %s ", fam->name);
        write_help(f, fam->help);
        fprintf(f, "\n# TYPE %s %s\n", fam->name,
                fam->type == NS_METRIC_COUNTER ? "counter" : "gauge");
        for (size_t j = 0; j < fam->nseries; j++) {
            const struct ns_series *s = &g_s[fam->series[j]];
            unsigned long long v = (unsigned long long)series_value(s);
            if (*s->m.labels)
                fprintf(f, "%s{%s} %llu\n", fam->name, s->m.labels, v);
            else
                fprintf(f, "%s %llu\n", fam->name, v);
        }
    }
    pthread_mutex_unlock(&g_lock);
    dseries_write(f);
    return ferror(f) ? -EIO : 0;
}

void ns_metrics_register_process(void)
{
    pthread_mutex_lock(&g_lock);
    bool done = g_process_done;
    g_process_done = true;
    pthread_mutex_unlock(&g_lock);
    if (done)
        return;
    char lab[256] = "", abi[32];
    snprintf(abi, sizeof(abi), "%d.%d", NS_ABI_MAJOR, NS_ABI_MINOR);
    ns_metrics_label_append(lab, sizeof(lab), "version", NS_VERSION);
    ns_metrics_label_append(lab, sizeof(lab), "abi", abi);
    ns_metrics_label_append(lab, sizeof(lab), "schema", "1");
    ns_gauge_set(ns_metrics_register(NS_METRIC_GAUGE, "build_info", lab,
                                     "Always 1; the labels name the version, plugin ABI and "
                                     "record schema of this build."),
                 1);
    ns_gauge_set(ns_metrics_register(NS_METRIC_GAUGE, "start_time_seconds", "",
                                     "When this process started, in seconds since the Unix "
                                     "epoch (uptime: time() - this)."),
                 (uint64_t)time(NULL));
}

/* ---- series with run-time label sets ------------------------------------- */

#define NS_SERIES_DEFAULT_MAX 10000u

struct ns_dseries {
    struct ns_dseries *next; /* hash chain */
    char *labels;            /* normalised */
    uint64_t hash, value;
    const void *owner;
    uint64_t retire_ns; /* CLOCK_MONOTONIC deadline once removed; 0 = live */
};

struct ns_dfamily {
    char *name, *help;
    enum ns_metric_type type;
    struct ns_dseries **tab; /* power-of-two buckets */
    size_t nbuckets, n, nretired;
    ns_counter *dropped, *gauge;
};

static pthread_mutex_t g_dlock = PTHREAD_MUTEX_INITIALIZER;
static struct ns_dfamily *g_df;
static size_t g_ndf, g_capdf;
static uint64_t g_dmax = NS_SERIES_DEFAULT_MAX, g_dgrace = 60000000000ull;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bool valid_name(const char *n)
{
    if (!n || !name_char(*n, true))
        return false;
    for (; *n; n++)
        if (!name_char(*n, false))
            return false;
    return true;
}

/* Normalised label text, or NULL (bad syntax or no memory; *bad says which). */
static char *dlabels(const char *in, bool *bad)
{
    struct sbuf out = {0};
    sb_puts(&out, "");
    *bad = false;
    if (!out.oom && !labels_parse(in ? in : "", &out) && !out.oom)
        *bad = true;
    if (out.oom || *bad) {
        free(out.p);
        return NULL;
    }
    return out.p;
}

void ns_metrics_series_limits(uint64_t max_series, uint64_t grace_ns)
{
    pthread_mutex_lock(&g_dlock);
    g_dmax = max_series ? max_series : NS_SERIES_DEFAULT_MAX;
    g_dgrace = grace_ns;
    pthread_mutex_unlock(&g_dlock);
}

static struct ns_dfamily *dfamily_find(const char *name)
{
    for (size_t i = 0; i < g_ndf; i++)
        if (strcmp(g_df[i].name, name) == 0)
            return &g_df[i];
    return NULL;
}

static bool static_family_exists(const char *name)
{
    bool found = false;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_nf && !found; i++)
        found = strcmp(g_f[i].name, name) == 0;
    pthread_mutex_unlock(&g_lock);
    return found;
}

static struct ns_dfamily *dfamily_add(const char *name, enum ns_metric_type type, const char *help)
{
    if (g_ndf == g_capdf) {
        size_t nc = g_capdf ? g_capdf * 2 : 8;
        struct ns_dfamily *nf = realloc(g_df, nc * sizeof(*nf));
        if (!nf)
            return NULL;
        g_df = nf;
        g_capdf = nc;
    }
    struct ns_dfamily *f = &g_df[g_ndf];
    memset(f, 0, sizeof(*f));
    f->name = strdup(name);
    f->help = strdup(help && *help ? help : name);
    f->nbuckets = 64;
    f->tab = calloc(f->nbuckets, sizeof(*f->tab));
    if (!f->name || !f->help || !f->tab) {
        free(f->name);
        free(f->help);
        free(f->tab);
        return NULL;
    }
    f->type = type;
    char lab[400] = "";
    ns_metrics_label_append(lab, sizeof(lab), "family", name);
    /* lock order: g_dlock, then g_lock (inside ns_metrics_register) */
    f->dropped = ns_metrics_register(NS_METRIC_COUNTER, "metrics_series_dropped", lab,
                                     "Series not created because their family held "
                                     "netscope: metrics_max_series already (refused updates).");
    f->gauge = ns_metrics_register(NS_METRIC_GAUGE, "metrics_series", lab,
                                   "Series with run-time labels held per family, retired ones "
                                   "(removed, in their grace period) included.");
    g_ndf++;
    return f;
}

static struct ns_dseries **dseries_slot(struct ns_dfamily *f, const char *labels, uint64_t h)
{
    struct ns_dseries **pp = &f->tab[h & (f->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->labels, labels) != 0))
        pp = &(*pp)->next;
    return pp;
}

static void dseries_unlink(struct ns_dfamily *f, struct ns_dseries **pp)
{
    struct ns_dseries *s = *pp;
    *pp = s->next;
    if (s->retire_ns)
        f->nretired--;
    f->n--;
    free(s->labels);
    free(s);
}

static size_t dfamily_sweep(struct ns_dfamily *f, uint64_t now)
{
    size_t gone = 0;
    if (!f->nretired)
        return 0;
    for (size_t b = 0; b < f->nbuckets; b++) {
        struct ns_dseries **pp = &f->tab[b];
        while (*pp) {
            if ((*pp)->retire_ns && (*pp)->retire_ns <= now) {
                dseries_unlink(f, pp);
                gone++;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    ns_gauge_set(f->gauge, f->n);
    return gone;
}

static void dfamily_grow(struct ns_dfamily *f)
{
    size_t nb = f->nbuckets * 2;
    struct ns_dseries **t = calloc(nb, sizeof(*t));
    if (!t)
        return; /* longer chains, still correct */
    for (size_t b = 0; b < f->nbuckets; b++)
        for (struct ns_dseries *s = f->tab[b], *nx; s; s = nx) {
            nx = s->next;
            s->next = t[s->hash & (nb - 1)];
            t[s->hash & (nb - 1)] = s;
        }
    free(f->tab);
    f->tab = t;
    f->nbuckets = nb;
}

int ns_metrics_series_set(const void *owner, const char *family, int type, const char *help,
                          const char *labels, uint64_t value)
{
    /* counters end in _total, as every counter of the exposition does */
    if (!valid_name(family) || (type != NS_METRIC_COUNTER && type != NS_METRIC_GAUGE) ||
        (type == NS_METRIC_COUNTER && !ends_with(family, "_total")))
        return -EINVAL;
    bool bad;
    char *lab = dlabels(labels, &bad);
    if (!lab)
        return bad ? -EINVAL : -ENOMEM;
    uint64_t h = fnv1a(lab);
    int rc = 0;
    pthread_mutex_lock(&g_dlock);
    struct ns_dfamily *f = dfamily_find(family);
    if (!f) {
        if (static_family_exists(family)) {
            rc = -EINVAL; /* the name is a registry family: two TYPE lines otherwise */
            goto out;
        }
        f = dfamily_add(family, (enum ns_metric_type)type, help);
        if (!f) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if ((int)f->type != type) {
        rc = -EINVAL;
        goto out;
    }
    struct ns_dseries **pp = dseries_slot(f, lab, h);
    if (!*pp) {
        /* Full: retired series past their grace make room first. */
        if (f->n >= g_dmax && (dfamily_sweep(f, mono_ns()) == 0 || f->n >= g_dmax)) {
            ns_counter_add(f->dropped, 1);
            rc = -ENOSPC;
            goto out;
        }
        if (f->n >= f->nbuckets)
            dfamily_grow(f);
        struct ns_dseries *s = calloc(1, sizeof(*s));
        if (!s) {
            rc = -ENOMEM;
            goto out;
        }
        s->labels = lab;
        lab = NULL;
        s->hash = h;
        pp = &f->tab[h & (f->nbuckets - 1)];
        s->next = *pp;
        *pp = s;
        f->n++;
        ns_gauge_set(f->gauge, f->n);
    }
    struct ns_dseries *s = *pp;
    if (s->retire_ns) {
        s->retire_ns = 0; /* revived */
        f->nretired--;
    }
    s->value = value;
    s->owner = owner;
out:
    pthread_mutex_unlock(&g_dlock);
    free(lab);
    return rc;
}

static void dseries_retire(struct ns_dfamily *f, struct ns_dseries **pp, uint64_t now)
{
    if (g_dgrace == 0) {
        dseries_unlink(f, pp);
        ns_gauge_set(f->gauge, f->n);
        return;
    }
    if (!(*pp)->retire_ns)
        f->nretired++;
    (*pp)->retire_ns = now + g_dgrace;
    (*pp)->owner = NULL;
}

int ns_metrics_series_remove(const char *family, const char *labels)
{
    if (!valid_name(family))
        return -EINVAL;
    bool bad;
    char *lab = dlabels(labels, &bad);
    if (!lab)
        return bad ? -EINVAL : -ENOMEM;
    int rc = -ENOENT;
    pthread_mutex_lock(&g_dlock);
    struct ns_dfamily *f = dfamily_find(family);
    if (f) {
        struct ns_dseries **pp = dseries_slot(f, lab, fnv1a(lab));
        if (*pp) {
            dseries_retire(f, pp, mono_ns());
            rc = 0;
        }
    }
    pthread_mutex_unlock(&g_dlock);
    free(lab);
    return rc;
}

void ns_metrics_series_retire_owner(const void *owner)
{
    if (!owner)
        return;
    uint64_t now = mono_ns();
    pthread_mutex_lock(&g_dlock);
    for (size_t i = 0; i < g_ndf; i++) {
        struct ns_dfamily *f = &g_df[i];
        for (size_t b = 0; b < f->nbuckets; b++) {
            struct ns_dseries **pp = &f->tab[b];
            while (*pp) {
                struct ns_dseries *s = *pp;
                if (s->owner == owner)
                    dseries_retire(f, pp, now);
                if (*pp == s)
                    pp = &s->next; /* kept (retired); else unlinked: *pp is the next */
            }
        }
    }
    pthread_mutex_unlock(&g_dlock);
}

size_t ns_metrics_series_sweep(uint64_t now_ns)
{
    size_t gone = 0;
    pthread_mutex_lock(&g_dlock);
    for (size_t i = 0; i < g_ndf; i++)
        gone += dfamily_sweep(&g_df[i], now_ns);
    pthread_mutex_unlock(&g_dlock);
    return gone;
}

bool ns_metrics_series_get(const char *family, const char *labels, uint64_t *value)
{
    bool bad, found = false;
    char *lab = dlabels(labels, &bad);
    if (!lab || !family)
        return false;
    pthread_mutex_lock(&g_dlock);
    struct ns_dfamily *f = dfamily_find(family);
    if (f) {
        struct ns_dseries **pp = dseries_slot(f, lab, fnv1a(lab));
        if (*pp) {
            *value = (*pp)->value;
            found = true;
        }
    }
    pthread_mutex_unlock(&g_dlock);
    free(lab);
    return found;
}

size_t ns_metrics_series_count(const char *family)
{
    size_t n = 0;
    pthread_mutex_lock(&g_dlock);
    struct ns_dfamily *f = family ? dfamily_find(family) : NULL;
    if (f)
        n = f->n;
    pthread_mutex_unlock(&g_dlock);
    return n;
}

/* The exposition of every family with series (HELP and TYPE once each). */
static void dseries_write(FILE *out)
{
    uint64_t now = mono_ns();
    pthread_mutex_lock(&g_dlock);
    for (size_t i = 0; i < g_ndf; i++) {
        struct ns_dfamily *f = &g_df[i];
        dfamily_sweep(f, now);
        if (f->n == 0)
            continue;
        fprintf(out, "# HELP %s ", f->name);
        write_help(out, f->help);
        fprintf(out, "\n# TYPE %s %s\n", f->name,
                f->type == NS_METRIC_COUNTER ? "counter" : "gauge");
        for (size_t b = 0; b < f->nbuckets; b++)
            for (const struct ns_dseries *s = f->tab[b]; s; s = s->next) {
                if (*s->labels)
                    fprintf(out, "%s{%s} %llu\n", f->name, s->labels, (unsigned long long)s->value);
                else
                    fprintf(out, "%s %llu\n", f->name, (unsigned long long)s->value);
            }
    }
    pthread_mutex_unlock(&g_dlock);
}

static void dseries_reset(void)
{
    pthread_mutex_lock(&g_dlock);
    for (size_t i = 0; i < g_ndf; i++) {
        struct ns_dfamily *f = &g_df[i];
        for (size_t b = 0; b < f->nbuckets; b++)
            for (struct ns_dseries *s = f->tab[b], *nx; s; s = nx) {
                nx = s->next;
                free(s->labels);
                free(s);
            }
        free(f->tab);
        free(f->name);
        free(f->help);
    }
    free(g_df);
    g_df = NULL;
    g_ndf = g_capdf = 0;
    g_dmax = NS_SERIES_DEFAULT_MAX;
    g_dgrace = 60000000000ull;
    pthread_mutex_unlock(&g_dlock);
}

void ns_metrics_reset(void)
{
    dseries_reset();
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n; i++) {
        free(g_s[i].m.name);
        free(g_s[i].m.labels);
        free(g_s[i].m.help);
        for (size_t j = 0; j < g_s[i].ncells; j++)
            free(g_s[i].cells[j]);
        free(g_s[i].cells);
    }
    for (size_t i = 0; i < g_nf; i++) {
        free(g_f[i].name);
        free(g_f[i].help);
        free(g_f[i].series);
    }
    free(g_s);
    free(g_f);
    g_s = NULL;
    g_f = NULL;
    g_n = g_cap = g_nf = g_capf = 0;
    g_process_done = false;
    g_collect = NULL;
    g_collect_arg = NULL;
    pthread_mutex_unlock(&g_lock);
}
