/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_series.c - series with run-time label sets (ns_metrics_series_*, what
 * host->series_set reaches): the per-family cap and its dropped counter,
 * removal with and without a grace period, revival, owner retirement, label
 * escaping and the exposition's HELP/TYPE rules. Single-threaded.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ns_metrics.h"

static char *expose(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    cr_assert_eq(ns_metrics_write_prometheus(f), 0);
    fclose(f);
    return buf;
}

static size_t count_lines(const char *s, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (const char *p = s; p && *p;) {
        if (strncmp(p, prefix, pl) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fini(void)
{
    ns_metrics_reset();
}

TestSuite(ops_series, .fini = fini);

Test(ops_series, exact_name_one_help_and_type_per_family)
{
    cr_assert_eq(ns_metrics_series_set(NULL, "network_observability_tcp_bytes_sent_total",
                                       NS_SERIES_COUNTER, "Bytes sent.", "src_port=\"1\"", 10),
                 0);
    cr_assert_eq(ns_metrics_series_set(NULL, "network_observability_tcp_bytes_sent_total",
                                       NS_SERIES_COUNTER, "ignored", "src_port=\"2\"", 20),
                 0);
    cr_assert_eq(ns_metrics_series_set(NULL, "network_observability_tcp_rtt_avg_nanoseconds",
                                       NS_SERIES_GAUGE, "RTT.", "src_port=\"1\"", 5),
                 0);
    /* overwrite, not add */
    cr_assert_eq(ns_metrics_series_set(NULL, "network_observability_tcp_bytes_sent_total",
                                       NS_SERIES_COUNTER, NULL, "src_port=\"1\"", 11),
                 0);
    char *s = expose();
    cr_assert_eq(count_lines(s, "# HELP network_observability_tcp_bytes_sent_total Bytes sent."), 1,
                 "%s", s);
    cr_assert_eq(count_lines(s, "# TYPE network_observability_tcp_bytes_sent_total counter"), 1);
    cr_assert_eq(count_lines(s, "# TYPE network_observability_tcp_rtt_avg_nanoseconds gauge"), 1);
    cr_assert(strstr(s, "network_observability_tcp_bytes_sent_total{src_port=\"1\"} 11\n"), "%s",
              s);
    cr_assert(strstr(s, "network_observability_tcp_bytes_sent_total{src_port=\"2\"} 20\n"));
    cr_assert(strstr(s, "network_observability_tcp_rtt_avg_nanoseconds{src_port=\"1\"} 5\n"));
    /* no netscope_ prefix was added */
    cr_assert_null(strstr(s, "netscope_network_observability"));
    /* the family's dropped counter exists from the start, at 0 */
    cr_assert(strstr(s, "netscope_metrics_series_dropped_total{family=\"network_observability_tcp_"
                        "bytes_sent_total\"} 0\n"),
              "%s", s);
    cr_assert(strstr(s, "netscope_metrics_series{family=\"network_observability_tcp_bytes_sent_"
                        "total\"} 2\n"));
    free(s);
}

Test(ops_series, bad_input_is_refused)
{
    cr_assert_eq(ns_metrics_series_set(NULL, "0bad", NS_SERIES_GAUGE, "", "", 1), -EINVAL);
    cr_assert_eq(ns_metrics_series_set(NULL, "bad-name", NS_SERIES_GAUGE, "", "", 1), -EINVAL);
    cr_assert_eq(ns_metrics_series_set(NULL, NULL, NS_SERIES_GAUGE, "", "", 1), -EINVAL);
    cr_assert_eq(ns_metrics_series_set(NULL, "x", 7, "", "", 1), -EINVAL);
    cr_assert_eq(ns_metrics_series_set(NULL, "no_suffix", NS_SERIES_COUNTER, "", "", 1), -EINVAL);
    cr_assert_eq(ns_metrics_series_set(NULL, "x", NS_SERIES_GAUGE, "", "a=unquoted", 1), -EINVAL);
    cr_assert_eq(ns_metrics_series_set(NULL, "x", NS_SERIES_GAUGE, "", "a=\"1\",a=\"2\"", 1),
                 -EINVAL);
    cr_assert_eq(ns_metrics_series_set(NULL, "x", NS_SERIES_GAUGE, "", "a=\"1\"", 1), 0);
    /* the type is the family's */
    cr_assert_eq(ns_metrics_series_set(NULL, "x", NS_SERIES_COUNTER, "", "a=\"2\"", 1), -EINVAL);
    /* a name the fixed registry uses already */
    ns_metrics_register(NS_METRIC_COUNTER, "fixed_total", "", "F.");
    cr_assert_eq(ns_metrics_series_set(NULL, "netscope_fixed_total", NS_SERIES_COUNTER, "", "", 1),
                 -EINVAL);
    cr_assert_eq(ns_metrics_series_remove("x", "a=\"9\""), -ENOENT);
    cr_assert_eq(ns_metrics_series_remove("nofamily", ""), -ENOENT);
    cr_assert_eq(ns_metrics_series_remove("x", "broken"), -EINVAL);
}

Test(ops_series, label_values_are_escaped)
{
    cr_assert_eq(ns_metrics_series_set(NULL, "esc", NS_SERIES_GAUGE, "Help with \\ and\nnewline.",
                                       "v=\"a\\\"b\\\\c\\nd\", w = \"\xff\"", 3),
                 0);
    char *s = expose();
    cr_assert(strstr(s, "# HELP esc Help with \\\\ and\\nnewline.\n"), "%s", s);
    cr_assert(strstr(s, "esc{v=\"a\\\"b\\\\c\\nd\",w=\"\xef\xbf\xbd\"} 3\n"), "%s", s);
    free(s);
    /* the same label set spelt differently is the same series */
    uint64_t v = 0;
    cr_assert(ns_metrics_series_get("esc", "v = \"a\\\"b\\\\c\\nd\",w=\"\xff\"", &v));
    cr_assert_eq(v, 3);
    cr_assert_eq(ns_metrics_series_count("esc"), 1);
}

Test(ops_series, cap_per_family_counts_the_overflow)
{
    ns_metrics_series_limits(3, 0);
    char lab[64];
    for (int i = 0; i < 5; i++) {
        snprintf(lab, sizeof(lab), "conn=\"%d\"", i);
        int rc = ns_metrics_series_set(NULL, "capped_total", NS_SERIES_COUNTER, "C.", lab, 1);
        cr_assert_eq(rc, i < 3 ? 0 : -ENOSPC, "series %d: %d", i, rc);
    }
    /* an existing series still updates at the cap; other families are not affected */
    cr_assert_eq(
        ns_metrics_series_set(NULL, "capped_total", NS_SERIES_COUNTER, "", "conn=\"0\"", 9), 0);
    cr_assert_eq(ns_metrics_series_set(NULL, "other", NS_SERIES_GAUGE, "", "conn=\"9\"", 1), 0);
    cr_assert_eq(ns_metrics_series_count("capped_total"), 3);
    cr_assert_eq(ns_metrics_sum("metrics_series_dropped_total", "family=\"capped_total\""), 2);
    cr_assert_eq(ns_metrics_sum("metrics_series_dropped_total", "family=\"other\""), 0);
    /* removal (grace 0: at once) makes room */
    cr_assert_eq(ns_metrics_series_remove("capped_total", "conn=\"1\""), 0);
    cr_assert_eq(
        ns_metrics_series_set(NULL, "capped_total", NS_SERIES_COUNTER, "", "conn=\"4\"", 4), 0);
    char *s = expose();
    cr_assert_eq(count_lines(s, "capped_total{"), 3, "%s", s);
    cr_assert_null(strstr(s, "capped_total{conn=\"1\"}"));
    cr_assert(strstr(s, "capped_total{conn=\"0\"} 9\n"));
    cr_assert(strstr(s, "netscope_metrics_series_dropped_total{family=\"capped_total\"} 2\n"));
    free(s);
}

Test(ops_series, removed_series_stay_for_the_grace_period)
{
    ns_metrics_series_limits(2, 5000000000ull); /* 5 s */
    cr_assert_eq(ns_metrics_series_set(NULL, "g_total", NS_SERIES_COUNTER, "", "c=\"a\"", 100), 0);
    cr_assert_eq(ns_metrics_series_remove("g_total", "c=\"a\""), 0);
    /* still exported with its final value: a scrape sees the closed connection */
    char *s = expose();
    cr_assert(strstr(s, "g_total{c=\"a\"} 100\n"), "%s", s);
    free(s);
    cr_assert_eq(ns_metrics_series_sweep(now_ns()), 0);
    /* retired series count toward the cap until they are gone */
    cr_assert_eq(ns_metrics_series_set(NULL, "g_total", NS_SERIES_COUNTER, "", "c=\"b\"", 1), 0);
    cr_assert_eq(ns_metrics_series_set(NULL, "g_total", NS_SERIES_COUNTER, "", "c=\"c\"", 1),
                 -ENOSPC);
    /* a set revives a retired series */
    cr_assert_eq(ns_metrics_series_set(NULL, "g_total", NS_SERIES_COUNTER, "", "c=\"a\"", 7), 0);
    cr_assert_eq(ns_metrics_series_remove("g_total", "c=\"a\""), 0);
    cr_assert_eq(ns_metrics_series_remove("g_total", "c=\"b\""), 0);
    /* after the grace both go */
    cr_assert_eq(ns_metrics_series_sweep(now_ns() + 6000000000ull), 2);
    cr_assert_eq(ns_metrics_series_count("g_total"), 0);
    s = expose();
    cr_assert_null(strstr(s, "g_total{"), "%s", s);
    cr_assert_null(strstr(s, "# TYPE g_total"), "a family without series has no HELP/TYPE");
    free(s);
}

Test(ops_series, an_owner_s_series_are_retired_at_destroy)
{
    ns_metrics_series_limits(0, 0);
    int a, b;
    cr_assert_eq(ns_metrics_series_set(&a, "o", NS_SERIES_GAUGE, "", "n=\"1\"", 1), 0);
    cr_assert_eq(ns_metrics_series_set(&a, "o", NS_SERIES_GAUGE, "", "n=\"2\"", 1), 0);
    cr_assert_eq(ns_metrics_series_set(&b, "o", NS_SERIES_GAUGE, "", "n=\"3\"", 1), 0);
    cr_assert_eq(ns_metrics_series_set(&a, "p", NS_SERIES_GAUGE, "", "n=\"4\"", 1), 0);
    ns_metrics_series_retire_owner(&a);
    cr_assert_eq(ns_metrics_series_count("o"), 1);
    cr_assert_eq(ns_metrics_series_count("p"), 0);
    uint64_t v;
    cr_assert(ns_metrics_series_get("o", "n=\"3\"", &v));
}

Test(ops_series, many_series_grow_the_table)
{
    ns_metrics_series_limits(5000, 0);
    char lab[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(lab, sizeof(lab), "src_port=\"%d\"", i);
        cr_assert_eq(ns_metrics_series_set(NULL, "big", NS_SERIES_GAUGE, "", lab, (uint64_t)i), 0);
    }
    for (int i = 0; i < 5000; i += 7) {
        uint64_t v = 0;
        snprintf(lab, sizeof(lab), "src_port=\"%d\"", i);
        cr_assert(ns_metrics_series_get("big", lab, &v));
        cr_assert_eq(v, (uint64_t)i);
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(lab, sizeof(lab), "src_port=\"%d\"", i);
        cr_assert_eq(ns_metrics_series_remove("big", lab), 0);
    }
    cr_assert_eq(ns_metrics_series_count("big"), 2500);
    char *s = expose();
    cr_assert_eq(count_lines(s, "big{"), 2500);
    free(s);
}

struct writer_arg {
    int id;
};

static void *writer(void *p)
{
    const struct writer_arg *w = p;
    char lab[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(lab, sizeof(lab), "w=\"%d\",conn=\"%d\"", w->id, i % 500);
        ns_metrics_series_set(NULL, "mt_total", NS_SERIES_COUNTER, "", lab, (uint64_t)i);
        if (i % 3 == 0)
            ns_metrics_series_remove("mt_total", lab);
    }
    return NULL;
}

Test(ops_series, writers_on_other_threads_while_exposing)
{
    ns_metrics_series_limits(600, 1000000); /* 1 ms grace: sweeps happen */
    pthread_t t[2];
    struct writer_arg a[2] = {{0}, {1}};
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, writer, &a[i]), 0);
    for (int i = 0; i < 20; i++)
        free(expose());
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_assert_leq(ns_metrics_series_count("mt_total"), 600);
    char *s = expose();
    cr_assert_eq(count_lines(s, "# TYPE mt_total counter"), 1);
    free(s);
}
