/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_app_driver.c - run a capture through the real decoder/flow plugin and
 * the app decoders it hosts, on the fake host, and print every record as a
 * JSON line.
 *
 *   flow_app_driver FLOW.so CAPTURE APP.so [APP.so ...] [-o node.key=value ...]
 *
 * Loads the plugins with dlopen (so each keeps its own `ns_plugin`), gives
 * decoder/flow the app decoders through ns_fake_set_app_peers (what the core's
 * graph does once decoder/flow -> app decoder edges exist), feeds packets in
 * batches of 64 with a tick after each (packet time, as the core does offline),
 * then flushes decoder/flow and the app decoders in that order, like a worker
 * at shutdown. Used by the oracles (tests/oracle/compare_dns.py, compare_http.py)
 * and by hand. Single-threaded test scaffolding.
 */
#include <dlfcn.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_fake_host.h"
#include "ns_opt.h"

#define MAX_APPS 8

struct loaded {
    const struct ns_plugin_desc *d;
    struct ns_instance *ins;
    void *cfg, *ctx;
};

static int load(const char *path, const char *kind_name, const char *node, struct loaded *out)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "%s\n", dlerror());
        return -1;
    }
    out->d = dlsym(h, NS_PLUGIN_SYMBOL);
    if (out->d == NULL) {
        fprintf(stderr, "%s: no ns_plugin\n", path);
        return -1;
    }
    out->ins = ns_fake_instance(kind_name, node);
    out->cfg = calloc(1, out->d->config_size + 1);
    return 0;
}

static int set_opts(struct loaded *l, int argc, char **argv)
{
    char err[256];
    bool set[128] = {false};
    for (int i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-o") != 0)
            continue;
        const char *a = argv[i + 1], *dot = strchr(a, '.'), *eq = strchr(a, '=');
        if (dot == NULL || eq == NULL || eq < dot)
            continue;
        if ((size_t)(dot - a) != strlen(l->ins->name) ||
            strncmp(a, l->ins->name, (size_t)(dot - a)))
            continue;
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
        const struct ns_option *o = ns_opt_find(l->d->options, key);
        if (o == NULL || ns_opt_set(o, l->cfg, eq + 1, err, sizeof(err)) != 0) {
            fprintf(stderr, "option %s: %s\n", a, o ? err : "unknown");
            return -1;
        }
        set[o - l->d->options] = true;
    }
    if (l->d->options != NULL && ns_opt_defaults(l->d->options, l->cfg, set, err, sizeof(err))) {
        fprintf(stderr, "defaults: %s\n", err);
        return -1;
    }
    return 0;
}

static void drain(void)
{
    size_t n;
    struct ns_record **r = ns_fake_emitted(&n);
    for (size_t i = 0; i < n; i++) {
        char *j = ns_fake_rec_json(r[i]);
        puts(j);
        free(j);
    }
    ns_fake_clear_emitted();
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s FLOW.so CAPTURE APP.so... [-o node.key=value]\n", argv[0]);
        return 2;
    }
    ns_fake_set_quiet(getenv("NS_DRIVER_VERBOSE") == NULL);
    struct loaded flow, apps[MAX_APPS];
    size_t napps = 0;
    if (load(argv[1], "decoder/flow", "flows", &flow) != 0)
        return 2;
    struct ns_app_peer peers[MAX_APPS];
    for (int i = 3; i < argc && napps < MAX_APPS; i++) {
        if (strcmp(argv[i], "-o") == 0) {
            i++;
            continue;
        }
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        /* ns-decoder-<name>.so -> node <name> */
        char name[64], kn[80];
        snprintf(name, sizeof(name), "%s",
                 strncmp(base, "ns-decoder-", 11) == 0 ? base + 11 : base);
        char *dot = strstr(name, ".so");
        if (dot)
            *dot = '\0';
        snprintf(kn, sizeof(kn), "decoder/%s", name);
        if (load(argv[i], kn, name, &apps[napps]) != 0 || set_opts(&apps[napps], argc, argv) != 0)
            return 2;
        if (apps[napps].d->init(apps[napps].ins, apps[napps].cfg, &apps[napps].ctx) != 0)
            return 2;
        napps++;
    }
    for (size_t i = 0; i < napps; i++)
        peers[i] = (struct ns_app_peer){apps[i].d, apps[i].ctx, apps[i].ins};
    ns_fake_set_app_peers(peers, napps);
    if (set_opts(&flow, argc, argv) != 0)
        return 2;
    if (flow.d->init(flow.ins, flow.cfg, &flow.ctx) != 0)
        return 2;

    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[2], PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == NULL) {
        fprintf(stderr, "%s: %s\n", argv[2], err);
        return 2;
    }
    static struct ns_packet batch[64];
    static uint8_t data[64][65536];
    uint32_t n = 0;
    uint64_t last = 0;
    struct pcap_pkthdr *h;
    const uint8_t *d;
    int rc;
    for (;;) {
        rc = pcap_next_ex(p, &h, &d);
        if (rc == 1) {
            uint32_t cl = h->caplen < 65536 ? h->caplen : 65536;
            memcpy(data[n], d, cl);
            last = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
            batch[n] = (struct ns_packet){.ts_ns = last,
                                          .data = data[n],
                                          .caplen = cl,
                                          .wirelen = h->len,
                                          .linktype = (uint16_t)pcap_datalink(p)};
            n++;
        }
        if (n == 64 || (rc != 1 && n > 0)) {
            flow.d->process_packets(flow.ctx, batch, n);
            if (flow.d->tick)
                flow.d->tick(flow.ctx, last);
            for (size_t i = 0; i < napps; i++)
                if (apps[i].d->tick)
                    apps[i].d->tick(apps[i].ctx, last);
            drain();
            n = 0;
        }
        if (rc != 1)
            break;
    }
    pcap_close(p);
    flow.d->flush(flow.ctx);
    for (size_t i = 0; i < napps; i++)
        if (apps[i].d->flush)
            apps[i].d->flush(apps[i].ctx);
    drain();
    flow.d->destroy(flow.ctx);
    if (flow.d->options)
        ns_opt_free(flow.d->options, flow.cfg);
    free(flow.cfg);
    for (size_t i = 0; i < napps; i++) {
        apps[i].d->destroy(apps[i].ctx);
        if (apps[i].d->options)
            ns_opt_free(apps[i].d->options, apps[i].cfg);
        free(apps[i].cfg);
    }
    ns_fake_set_app_peers(NULL, 0);
    ns_fake_reset();
    return rc == -2 ? 0 : 1;
}
