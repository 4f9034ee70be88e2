/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_metrics.c - a flat, append-only registry of counter cells.
 */
#include "ns_metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ns_metric *g_m;
static size_t g_n, g_cap;
static ns_counter g_scratch;

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

ns_counter *ns_metrics_register(enum ns_metric_type type, const char *name, const char *labels,
                                const char *help)
{
    ns_counter *cell = calloc(1, sizeof(*cell));
    pthread_mutex_lock(&g_lock);
    if (g_n == g_cap) {
        size_t nc = g_cap ? g_cap * 2 : 64;
        struct ns_metric *nm = realloc(g_m, nc * sizeof(*nm));
        if (!nm) {
            pthread_mutex_unlock(&g_lock);
            free(cell);
            return &g_scratch;
        }
        g_m = nm;
        g_cap = nc;
    }
    if (!cell) {
        pthread_mutex_unlock(&g_lock);
        return &g_scratch;
    }
    struct ns_metric *m = &g_m[g_n++];
    m->name = xstrdup(name);
    m->labels = xstrdup(labels);
    m->help = xstrdup(help);
    m->type = type;
    m->cell = cell;
    pthread_mutex_unlock(&g_lock);
    return cell;
}

void ns_metrics_foreach(void (*fn)(const struct ns_metric *m, uint64_t value, void *arg), void *arg)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen =
                strcmp(g_m[j].name, g_m[i].name) == 0 && strcmp(g_m[j].labels, g_m[i].labels) == 0;
        if (seen)
            continue;
        uint64_t v = 0;
        for (size_t j = i; j < g_n; j++)
            if (strcmp(g_m[j].name, g_m[i].name) == 0 && strcmp(g_m[j].labels, g_m[i].labels) == 0)
                v += ns_counter_get(g_m[j].cell);
        fn(&g_m[i], v, arg);
    }
    pthread_mutex_unlock(&g_lock);
}

uint64_t ns_metrics_sum(const char *name, const char *labels)
{
    uint64_t v = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n; i++)
        if (strcmp(g_m[i].name, name) == 0 && (!labels || strcmp(g_m[i].labels, labels) == 0))
            v += ns_counter_get(g_m[i].cell);
    pthread_mutex_unlock(&g_lock);
    return v;
}

static void write_one(const struct ns_metric *m, uint64_t v, void *arg)
{
    FILE *f = arg;
    fprintf(f, "netscope_%s{%s} %llu\n", m->name, m->labels, (unsigned long long)v);
}

void ns_metrics_write_prometheus(FILE *f)
{
    /* HELP/TYPE once per name, then every label set. */
    pthread_mutex_lock(&g_lock);
    size_t n = g_n;
    pthread_mutex_unlock(&g_lock);
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(g_m[j].name, g_m[i].name) != 0;
        if (!first)
            continue;
        fprintf(f, "# HELP netscope_%s %s\n# TYPE netscope_%s %s\n", g_m[i].name, g_m[i].help,
                g_m[i].name, g_m[i].type == NS_METRIC_COUNTER ? "counter" : "gauge");
    }
    ns_metrics_foreach(write_one, f);
}

void ns_metrics_reset(void)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n; i++) {
        free(g_m[i].name);
        free(g_m[i].labels);
        free(g_m[i].help);
        free(g_m[i].cell);
    }
    free(g_m);
    g_m = NULL;
    g_n = g_cap = 0;
    pthread_mutex_unlock(&g_lock);
}
