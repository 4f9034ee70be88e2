/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics.c - the metrics registry's exposition (ns_metrics.c) and the
 * endpoint's address parsing (ns_http.c), without a running pipeline.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ns_http.h"
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

static void fini(void)
{
    ns_metrics_reset();
}

TestSuite(ops_metrics, .fini = fini);

Test(ops_metrics, families_are_contiguous_after_their_help_and_type)
{
    ns_counter_add(ns_metrics_register(NS_METRIC_COUNTER, "a_total", "node=\"x\"", "A."), 1);
    ns_gauge_set(ns_metrics_register(NS_METRIC_GAUGE, "b", "node=\"x\"", "B."), 5);
    ns_counter_add(ns_metrics_register(NS_METRIC_COUNTER, "a_total", "node=\"y\"", "A."), 2);
    ns_counter_add(ns_metrics_register(NS_METRIC_COUNTER, "a_total", "node=\"y\"", "A."), 3);
    char *s = expose();
    cr_assert_str_eq(s, "# HELP netscope_a_total A.\n"
                        "# TYPE netscope_a_total counter\n"
                        "netscope_a_total{node=\"x\"} 1\n"
                        "netscope_a_total{node=\"y\"} 5\n"
                        "# HELP netscope_b B.\n"
                        "# TYPE netscope_b gauge\n"
                        "netscope_b{node=\"x\"} 5\n");
    free(s);
}

Test(ops_metrics, names_and_label_values_are_made_valid)
{
    /* a counter without _total gets it; bad characters in names become '_' */
    ns_metrics_register(NS_METRIC_COUNTER, "odd-name.x", "", "line1\nback\\slash");
    /* escapes are kept as escapes, spaces around '=' and a trailing comma are fine */
    ns_metrics_register(NS_METRIC_GAUGE, "g", " a = \"q\\\"uo\\\\te\\n\" , b=\"\xff\",", "G");
    /* not label syntax: kept, escaped, in one label */
    ns_metrics_register(NS_METRIC_GAUGE, "h", "node=unquoted", "H");
    ns_metrics_register(NS_METRIC_GAUGE, "i", "a=\"1\",a=\"2\"", "I");
    ns_metrics_register(NS_METRIC_GAUGE, "j", "__reserved=\"1\"", "J");
    char *s = expose();
    cr_assert(strstr(s, "# HELP netscope_odd_name_x_total line1\\nback\\\\slash\n"), "%s", s);
    cr_assert(strstr(s, "# TYPE netscope_odd_name_x_total counter\nnetscope_odd_name_x_total 0\n"));
    cr_assert(strstr(s, "netscope_g{a=\"q\\\"uo\\\\te\\n\",b=\"\xef\xbf\xbd\"} 0\n"), "%s", s);
    cr_assert(strstr(s, "netscope_h{invalid_labels=\"node=unquoted\"} 0\n"), "%s", s);
    cr_assert(strstr(s, "netscope_i{invalid_labels=\"a=\\\"1\\\",a=\\\"2\\\"\"} 0\n"), "%s", s);
    cr_assert(strstr(s, "netscope_j{invalid_labels=\"__reserved=\\\"1\\\"\"} 0\n"), "%s", s);
    free(s);
}

Test(ops_metrics, label_append_escapes_and_bounds)
{
    char b[32] = "";
    cr_assert_eq(ns_metrics_label_append(b, sizeof(b), "node", "a\"b\\c\nd"), 0);
    cr_assert_str_eq(b, "node=\"a\\\"b\\\\c\\nd\"");
    cr_assert_eq(ns_metrics_label_append(b, sizeof(b), "plugin", "sink/jsonl-too-long"), -ENOSPC);
    cr_assert_str_eq(b, "node=\"a\\\"b\\\\c\\nd\"");
    cr_assert_eq(ns_metrics_label_append(b, sizeof(b), "p", "x"), 0);
    cr_assert_str_eq(b, "node=\"a\\\"b\\\\c\\nd\",p=\"x\"");
    /* the registry reads back what label_append wrote, unchanged */
    ns_counter_add(ns_metrics_register(NS_METRIC_COUNTER, "c_total", b, "C"), 7);
    cr_assert_eq(ns_metrics_sum("c_total", b), 7);
    /* a counter registered without _total is found by either name */
    ns_counter_add(ns_metrics_register(NS_METRIC_COUNTER, "plain", "", "P"), 3);
    cr_assert_eq(ns_metrics_sum("plain", NULL), 3);
    cr_assert_eq(ns_metrics_sum("plain_total", NULL), 3);
}

static int g_collected;

static void collect(void *arg)
{
    g_collected++;
    ns_gauge_set(arg, 42);
}

Test(ops_metrics, collector_runs_before_every_exposition)
{
    ns_counter *g = ns_metrics_register(NS_METRIC_GAUGE, "depth", "", "D");
    ns_metrics_set_collector(collect, g);
    char *s = expose();
    cr_assert(strstr(s, "netscope_depth 42\n"));
    free(s);
    ns_metrics_set_collector(NULL, NULL);
    s = expose();
    free(s);
    cr_assert_eq(g_collected, 1);
}

Test(ops_metrics, process_series)
{
    ns_metrics_register_process();
    ns_metrics_register_process();
    char *s = expose();
    cr_assert(strstr(s, "netscope_build_info{version=\""), "%s", s);
    cr_assert(strstr(s, "\",abi=\""));
    cr_assert_eq(strstr(s, "# TYPE netscope_start_time_seconds gauge\n") != NULL, 1);
    /* registered once */
    cr_assert_eq(strstr(strstr(s, "netscope_build_info{") + 1, "netscope_build_info{"), NULL);
    free(s);
}

Test(ops_http, listen_addresses)
{
    struct sockaddr_storage ss;
    char err[200];
    cr_assert_eq(ns_http_parse_listen("127.0.0.1:9109", &ss, err, sizeof(err)), 0);
    cr_assert_eq(ss.ss_family, AF_INET);
    cr_assert_eq(ns_http_parse_listen(":0", &ss, err, sizeof(err)), 0);
    cr_assert_eq(ns_http_parse_listen("localhost:80", &ss, err, sizeof(err)), 0);
    cr_assert_eq(ns_http_parse_listen("[::1]:9109", &ss, err, sizeof(err)), 0);
    cr_assert_eq(ss.ss_family, AF_INET6);
    static const char *const bad[] = {"",          "9109",       "127.0.0.1",     "1.2.3:80",
                                      "host:80",   "1.2.3.4:-1", "1.2.3.4:65536", "::1:80",
                                      "[::1]9109", "[zz]:80",    "1.2.3.4:80x",   "1.2.3.4:"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(ns_http_parse_listen(bad[i], &ss, err, sizeof(err)), -EINVAL, "%s", bad[i]);
        cr_assert(err[0], "no reason for '%s'", bad[i]);
    }
}
