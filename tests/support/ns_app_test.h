/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_app_test.h - scaffolding for the Criterion tests of the application
 * decoders (tests/dns, tests/http, tests/tls, tests/http2), which play
 * decoder/flow's part on the fake host: the plugin's init on a quiet fake
 * instance, a flow as decoder/flow would hand it, the emitted records and the
 * flow record an app_annotate fills, as JSON. Header-only (static inline);
 * single-threaded, like the tests.
 */
#ifndef NS_APP_TEST_H
#define NS_APP_TEST_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ns_fake_host.h"

/* Fails the test unless the string s is in the JSON text j. */
#define NS_HAS(j, s) cr_assert(strstr((j), (s)) != NULL, "%s not in %s", (s), (j))

/* A quiet fake instance of kind_name ("decoder/dns") named node, and the
 * plugin's init on it with cfg (the plugin's config struct); ctx gets the
 * plugin's context. Asserts that init succeeds. */
static inline struct ns_instance *ns_test_app_init(const struct ns_plugin_desc *p,
                                                   const char *kind_name, const char *node,
                                                   const void *cfg, void **ctx)
{
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance(kind_name, node);
    cr_assert_eq(p->init(ins, cfg, ctx), 0);
    return ins;
}

/* An IPv4 flow src:sport -> dst:dport (addresses in host order, 0x0a000001 is
 * 10.0.0.1) over transport (6 TCP, 17 UDP), no Community ID, no state. */
static inline struct ns_app_flow ns_test_flow4(uint8_t transport, uint32_t src, uint16_t sport,
                                               uint32_t dst, uint16_t dport)
{
    struct ns_app_flow f;
    memset(&f, 0, sizeof(f));
    f.src_ip.family = f.dst_ip.family = 4;
    for (int i = 0; i < 4; i++) {
        f.src_ip.a[i] = (uint8_t)(src >> (24 - 8 * i));
        f.dst_ip.a[i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    f.src_port = sport;
    f.dst_port = dport;
    f.transport = transport;
    f.ip_version = 4;
    return f;
}

/* How many records the plugin emitted since the last ns_fake_reset/clear. */
static inline size_t ns_test_nrecs(void)
{
    size_t n;
    ns_fake_emitted(&n);
    return n;
}

/* Emitted record i as JSON (free it); asserts that there is one. */
static inline char *ns_test_json(size_t i)
{
    size_t n;
    struct ns_record **r = ns_fake_emitted(&n);
    cr_assert_lt(i, n, "only %zu records", n);
    return ns_fake_rec_json(r[i]);
}

/* The flow record the plugin's app_annotate fills for f, as JSON (free it). */
static inline char *ns_test_annotate_json(const struct ns_plugin_desc *p, void *ctx,
                                          struct ns_app_flow *f)
{
    const struct ns_host *h = ns_fake_host();
    struct ns_record *fr = h->rec_new(ns_fake_instance("decoder/flow", "flows"), NS_REC_FLOW, 1);
    cr_assert_not_null(fr);
    p->app_annotate(ctx, f, fr);
    char *j = ns_fake_rec_json(fr);
    h->rec_release(fr);
    return j;
}

#endif /* NS_APP_TEST_H */
