/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app_driver.c - run one app decoder (compiled in) over TCP streams on stdin.
 *
 * Test scaffolding for decoder/tls and decoder/http2: tests/oracle/pcap_streams.py
 * turns a capture into per-direction payload chunks (framing described there);
 * this program plays decoder/flow's part with the fake host (probe with the
 * first payload, then app_data, annotate and close) and prints every emitted
 * record, then each claimed flow's annotations as a netscope.flow record, as
 * JSON lines. Single-threaded. Built once per plugin (app_driver_tls,
 * app_driver_http2), each linking that plugin's sources.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_fake_host.h"
#include "ns_opt.h"

extern const struct ns_plugin_desc ns_plugin;

#define MAX_CONNS 4096

struct conn {
    struct ns_app_flow f;
    int claimed; /* <= 0 probing (-probes so far), 1 claimed, 2 data declined, -9 gave up */
    char cid[4];
};

static int rd(void *p, size_t n)
{
    return fread(p, 1, n, stdin) == n ? 0 : -1;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void print_emitted(void)
{
    size_t n;
    struct ns_record **recs = ns_fake_emitted(&n);
    for (size_t i = 0; i < n; i++) {
        char *j = ns_fake_rec_json(recs[i]);
        printf("%s\n", j);
        free(j);
    }
    ns_fake_clear_emitted();
}

int main(void)
{
    static struct conn conns[MAX_CONNS];
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("decoder/app", "app");
    void *cfg = calloc(1, ns_plugin.config_size + 1);
    char err[256];
    bool set[64] = {false};
    if (ns_plugin.options != NULL &&
        ns_opt_defaults(ns_plugin.options, cfg, set, err, sizeof(err)) != 0) {
        fprintf(stderr, "defaults: %s\n", err);
        return 2;
    }
    void *ctx;
    if (ns_plugin.init(ins, cfg, &ctx) != 0)
        return 2;
    uint8_t hdr[64];
    static uint8_t buf[1 << 20];
    uint32_t nconn = 0;
    int tag;
    while ((tag = getchar()) != EOF) {
        if (tag == 'S') {
            if (rd(hdr, 4 + 1 + 32 + 4 + 8) != 0)
                break;
            uint32_t id = (uint32_t)be(hdr, 4);
            if (id >= MAX_CONNS)
                continue;
            struct conn *c = &conns[id];
            memset(c, 0, sizeof(*c));
            c->f.ip_version = hdr[4];
            c->f.src_ip.family = hdr[4];
            c->f.dst_ip.family = hdr[4];
            memcpy(c->f.src_ip.a, hdr + 5, 16);
            memcpy(c->f.dst_ip.a, hdr + 21, 16);
            c->f.src_port = (uint16_t)be(hdr + 37, 2);
            c->f.dst_port = (uint16_t)be(hdr + 39, 2);
            c->f.first_ts = be(hdr + 41, 8);
            c->f.transport = 6;
            if (id >= nconn)
                nconn = id + 1;
        } else if (tag == 'D') {
            if (rd(hdr, 4 + 1 + 8 + 4) != 0)
                break;
            uint32_t id = (uint32_t)be(hdr, 4);
            int dir = hdr[4];
            uint64_t ts = be(hdr + 5, 8);
            uint32_t len = (uint32_t)be(hdr + 13, 4);
            if (len > sizeof(buf) || rd(buf, len) != 0)
                break;
            if (id >= MAX_CONNS)
                continue;
            struct conn *c = &conns[id];
            enum ns_app_dir d = dir ? NS_APP_TO_CLIENT : NS_APP_TO_SERVER;
            if (c->claimed <= 0 && c->claimed > -4) {
                /* Like decoder/flow: a few payloads are offered before giving up. */
                if (ns_plugin.app_probe(ctx, &c->f, d, buf, len, ts) == NS_OK)
                    c->claimed = 1;
                else
                    c->claimed--;
            } else if (c->claimed == 1) {
                if (ns_plugin.app_data(ctx, &c->f, d, buf, len, ts, 0) == NS_DECLINED)
                    c->claimed = 2;
            }
            print_emitted();
        } else if (tag == 'C') {
            if (rd(hdr, 12) != 0)
                break;
            uint32_t id = (uint32_t)be(hdr, 4);
            if (id >= MAX_CONNS)
                continue;
            struct conn *c = &conns[id];
            if (c->claimed >= 1) {
                struct ns_record *r = ns_fake_host()->rec_new(ins, NS_REC_FLOW, be(hdr + 4, 8));
                ns_plugin.app_annotate(ctx, &c->f, r);
                char *j = ns_fake_rec_json(r);
                printf("%s\n", j);
                free(j);
                ns_fake_host()->rec_release(r);
                ns_plugin.app_close(ctx, &c->f, be(hdr + 4, 8));
                c->claimed = -9;
            }
            print_emitted();
        } else {
            fprintf(stderr, "bad framing tag %d\n", tag);
            return 2;
        }
    }
    for (uint32_t i = 0; i < nconn && i < MAX_CONNS; i++)
        if (conns[i].claimed >= 1)
            ns_plugin.app_close(ctx, &conns[i].f, 0);
    print_emitted();
    ns_plugin.destroy(ctx);
    free(cfg);
    ns_fake_reset();
    return 0;
}
