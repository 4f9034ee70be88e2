/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ebpf_flow.c - source/ebpf_flow: per-flow packet and byte counters kept in the
 * kernel by a TC clsact program (bpf/ns_flow.bpf.c), exported as netscope.flow
 * records with the packet path's schema (decoder/flow's README).
 *
 * Every callback runs on the loop thread (a record source driven by start()).
 * init loads the program; start attaches it to the ingress and egress hooks of
 * each configured interface (TC glue: bpf/ns_bpf_user.c), first removing an
 * attachment a crashed earlier run left behind (TC filters outlive the
 * process); stop detaches, and removes the clsact qdisc when this run created
 * it. Every `interval` the flow map is read: flows with new packets get a
 * flow_update, flows idle past their timeout a flow_end, and are deleted from
 * the map; at stop every flow ends with end_reason shutdown.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netscope/netscope.h"

#include "community_id.h"
#include "flow_rec.h"
#include "ns_bpf_user.h"
#include "ns_flow.h"
#include "ns_flow.skel.h"

/* Our TC filters are recognised by this handle and priority on every run. */
#define EFLOW_TC_HANDLE 0x4e53
#define EFLOW_TC_PRIO 0x4e53

struct eflow_config {
    struct ns_strlist interfaces;
    uint64_t interval;
    uint64_t idle_timeout;
    uint64_t tcp_close_timeout;
    uint64_t max_flows;
    uint64_t community_id_seed;
};

/* What was last reported for a flow (deltas, update count), by map key. */
struct eflow_state {
    struct ns_flow_key key;
    uint64_t rep_pkts[2], rep_bytes[2];
    uint64_t updates;
    struct eflow_state *next;
};

struct eflow_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    const struct eflow_config *cfg;
    struct ns_flow *skel;
    struct nsb_tc *ifs; /* one TC attachment per configured interface */
    size_t nifs;
    struct eflow_state **tab;
    size_t tab_size; /* power of two */
    size_t nstate;
    struct ns_flow_key *keys; /* max_flows keys: one export pass */
    size_t keys_cap;
    uint64_t wall_off;
    int ncpu;
    ns_counter *c_other_in, *c_other_out, *c_map_full, *c_trunc, *c_updates, *c_ends;
    ns_counter *c_rec_fail, *g_flows;
};

/* ---- user-space flow state ------------------------------------------------ */

static uint64_t eflow_hash(const struct ns_flow_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ull; /* FNV-1a: keys are small and padding-free */
    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static struct eflow_state *eflow_state_get(struct eflow_ctx *c, const struct ns_flow_key *k)
{
    size_t b = eflow_hash(k) & (c->tab_size - 1);
    for (struct eflow_state *s = c->tab[b]; s; s = s->next)
        if (memcmp(&s->key, k, sizeof(*k)) == 0)
            return s;
    struct eflow_state *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->key = *k;
    s->next = c->tab[b];
    c->tab[b] = s;
    c->nstate++;
    return s;
}

static void eflow_state_del(struct eflow_ctx *c, const struct ns_flow_key *k)
{
    size_t b = eflow_hash(k) & (c->tab_size - 1);
    for (struct eflow_state **pp = &c->tab[b]; *pp; pp = &(*pp)->next) {
        if (memcmp(&(*pp)->key, k, sizeof(*k)) == 0) {
            struct eflow_state *s = *pp;
            *pp = s->next;
            free(s);
            c->nstate--;
            return;
        }
    }
}

/* ---- records -------------------------------------------------------------- */

static const char *eflow_transport(uint8_t p)
{
    switch (p) {
    case 1:
        return "icmp";
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 58:
        return "ipv6-icmp";
    case 132:
        return "sctp";
    default:
        return NULL;
    }
}

static void eflow_flags_str(uint8_t f, char out[9])
{
    /* decoder/flow's letter order: SAPFRUEC (SYN ACK PSH FIN RST URG ECE CWR). */
    static const struct {
        uint8_t bit;
        char c;
    } order[] = {{0x02, 'S'}, {0x10, 'A'}, {0x08, 'P'}, {0x01, 'F'},
                 {0x04, 'R'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'C'}};
    size_t n = 0;
    for (size_t i = 0; i < 8; i++)
        if (f & order[i].bit)
            out[n++] = order[i].c;
    out[n] = '\0';
}

static const char *eflow_tcp_state(const struct ns_flow_val *v)
{
    uint8_t any = v->tcp_flags[0] | v->tcp_flags[1];
    if (any & 0x04)
        return "reset";
    if ((v->tcp_flags[0] & 0x01) && (v->tcp_flags[1] & 0x01))
        return "closed";
    if (any & 0x01)
        return "fin_wait";
    if ((v->tcp_flags[0] & 0x10) && (v->tcp_flags[1] & 0x10))
        return "established";
    if (any & 0x02)
        return (any & 0x10) ? "syn_received" : "syn_sent";
    return "none";
}

enum eflow_ev { EFLOW_UPDATE, EFLOW_END };

static void eflow_emit(struct eflow_ctx *c, const struct ns_flow_key *k,
                       const struct ns_flow_val *v, struct eflow_state *st, enum eflow_ev ev,
                       const char *reason)
{
    const struct ns_host *h = c->h;
    uint64_t last = v->last_ns ? v->last_ns : v->first_ns;
    struct ns_record *r = h->rec_new(c->ins, NS_REC_FLOW, last + c->wall_off);
    if (!r) {
        ns_counter_inc(c->c_rec_fail);
        return;
    }
    flow_rec_add_event(h, r, ev == EFLOW_END ? "end" : NULL,
                       ev == EFLOW_END ? "flow_end" : "flow_update", v->first_ns + c->wall_off,
                       last + c->wall_off);

    /* Index s is the initiator's direction: 0 = from a to b. */
    int s = v->initiator ? 1 : 0, d = !s;
    const uint8_t *sa = s ? k->addr_b : k->addr_a, *da = s ? k->addr_a : k->addr_b;
    uint16_t sp = s ? k->port_b : k->port_a, dp = s ? k->port_a : k->port_b;
    bool icmp = k->proto == 1 || k->proto == 58;
    struct flow_rec_ends e = {
        .family = k->family,
        .proto = k->proto,
        .ports = !icmp && (sp || dp),
        .addr = {sa, da},
        .port = {sp, dp},
        .mac = {NULL, NULL},
        .bytes = {v->bytes[s], v->bytes[d]},
        .pkts = {v->pkts[s], v->pkts[d]},
        .transport = eflow_transport(k->proto),
    };
    flow_rec_add_ends(h, r, &e);
    char cid[COMMUNITY_ID_LEN];
    /* ICMP type/code are not kept per flow in the kernel: no Community ID. */
    if (!icmp && community_id_v1((uint16_t)c->cfg->community_id_seed, k->family, sa, da, k->proto,
                                 sp, dp, cid) == 0)
        h->rec_add_cstr(r, "network.community_id", cid);
    if (k->proto == 6) {
        char fl[9];
        eflow_flags_str(v->tcp_flags[s], fl);
        h->rec_add_cstr(r, "netscope.flow.source_tcp_flags", fl);
        eflow_flags_str(v->tcp_flags[d], fl);
        h->rec_add_cstr(r, "netscope.flow.destination_tcp_flags", fl);
        h->rec_add_cstr(r, "netscope.flow.state", eflow_tcp_state(v));
    }
    h->rec_add_uint(r, "netscope.flow.interface", k->ifindex);
    flow_rec_add_deltas(h, r, reason, v->bytes[s] - st->rep_bytes[s], v->pkts[s] - st->rep_pkts[s],
                        v->bytes[d] - st->rep_bytes[d], v->pkts[d] - st->rep_pkts[d]);
    h->rec_add_uint(r, "netscope.flow.updates", st->updates);
    /* As the interface counts them (one GSO skb = one packet): for comparisons
     * with interface statistics and host-side captures. */
    h->rec_add_uint(r, "netscope.flow.skbs", v->skbs[0] + v->skbs[1]);
    h->rec_add_uint(r, "netscope.flow.skb_bytes", v->skb_bytes[0] + v->skb_bytes[1]);
    h->rec_add_uint(r, "netscope.flow.ingress_skbs", v->ingress_skbs);
    h->rec_add_uint(r, "netscope.flow.ingress_skb_bytes", v->ingress_skb_bytes);
    h->emit(c->ins, r);
    for (int i = 0; i < 2; i++) {
        st->rep_pkts[i] = v->pkts[i];
        st->rep_bytes[i] = v->bytes[i];
    }
    if (ev == EFLOW_UPDATE) {
        st->updates++;
        ns_counter_inc(c->c_updates);
    } else {
        ns_counter_inc(c->c_ends);
    }
}

/* ---- export --------------------------------------------------------------- */

static uint64_t eflow_percpu_sum(struct eflow_ctx *c, uint32_t slot)
{
    return nsb_percpu_sum(c->skel->maps.stats, slot, c->ncpu);
}

/* One pass over the kernel's flow map. `shutdown`: end every flow. The keys
 * are collected first and handled afterwards, because deleting the key that
 * get_next_key holds as its cursor would restart the walk. */
static void eflow_export(struct eflow_ctx *c, bool shutdown)
{
    if (!c->skel)
        return;
    int fd = bpf_map__fd(c->skel->maps.flows);
    uint64_t now = nsb_mono_ns();
    struct ns_flow_key next;
    size_t n = 0;
    void *prev = NULL;
    while (bpf_map_get_next_key(fd, prev, &next) == 0 && n < c->keys_cap) {
        c->keys[n] = next;
        prev = &c->keys[n++];
    }
    for (size_t i = 0; i < n; i++) {
        const struct ns_flow_key *k = &c->keys[i];
        struct ns_flow_val v;
        if (bpf_map_lookup_elem(fd, k, &v) != 0)
            continue;
        struct eflow_state *st = eflow_state_get(c, k);
        if (!st) {
            ns_counter_inc(c->c_rec_fail);
            continue;
        }
        uint64_t idle = now > v.last_ns ? now - v.last_ns : 0;
        bool rst = ((v.tcp_flags[0] | v.tcp_flags[1]) & 0x04) != 0;
        bool fin = (v.tcp_flags[0] & 0x01) && (v.tcp_flags[1] & 0x01);
        const char *reason = NULL;
        if (shutdown)
            reason = "shutdown";
        else if (k->proto == 6 && (rst || fin) && idle >= c->cfg->tcp_close_timeout)
            reason = rst ? "rst" : "fin";
        else if (idle >= c->cfg->idle_timeout)
            reason = "idle";
        if (reason) {
            /* Read once more after deleting: a packet counted in between is
             * not lost (later ones start a new entry, hence a new flow). */
            bpf_map_delete_elem(fd, k);
            struct ns_flow_val last;
            if (bpf_map_lookup_elem(fd, k, &last) == 0)
                v = last;
            eflow_emit(c, k, &v, st, EFLOW_END, reason);
            eflow_state_del(c, k);
            continue;
        }
        if (v.pkts[0] + v.pkts[1] != st->rep_pkts[0] + st->rep_pkts[1])
            eflow_emit(c, k, &v, st, EFLOW_UPDATE, "active");
    }
    ns_gauge_set(c->g_flows, n);
    ns_gauge_set(c->c_other_in, eflow_percpu_sum(c, NS_FLOW_STAT_OTHER_IN));
    ns_gauge_set(c->c_other_out, eflow_percpu_sum(c, NS_FLOW_STAT_OTHER_OUT));
    ns_gauge_set(c->c_map_full, eflow_percpu_sum(c, NS_FLOW_STAT_MAP_FULL));
    ns_gauge_set(c->c_trunc, eflow_percpu_sum(c, NS_FLOW_STAT_TRUNCATED));
}

static void eflow_timer(void *arg)
{
    eflow_export(arg, false);
}

/* ---- TC attachments (bpf/ns_bpf_user.c) -------------------------------------- */

static void eflow_detach(struct eflow_ctx *c)
{
    for (size_t i = 0; i < c->nifs; i++)
        nsb_tc_detach(c->ins, &c->ifs[i]);
}

static int eflow_attach(struct eflow_ctx *c)
{
    const int fds[2] = {bpf_program__fd(c->skel->progs.ns_flow_ingress),
                        bpf_program__fd(c->skel->progs.ns_flow_egress)};
    for (size_t i = 0; i < c->nifs; i++) {
        int rc = nsb_tc_attach(c->ins, &c->ifs[i], fds);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void eflow_free(struct eflow_ctx *c)
{
    eflow_detach(c);
    ns_flow__destroy(c->skel);
    if (c->tab) {
        for (size_t b = 0; b < c->tab_size; b++) {
            struct eflow_state *s = c->tab[b];
            while (s) {
                struct eflow_state *n = s->next;
                free(s);
                s = n;
            }
        }
        free(c->tab);
    }
    free(c->ifs);
    free(c->keys);
    free(c);
}

static int eflow_init(struct ns_instance *ins, const void *config, void **ctxp)
{
    const struct eflow_config *cfg = config;
    if (cfg->interfaces.count == 0) {
        ns_log_error(ins, "interfaces: name at least one interface");
        return -EINVAL;
    }
    int rc = nsb_preflight(ins, true);
    if (rc)
        return rc;
    struct eflow_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    c->cfg = cfg;
    c->ncpu = libbpf_num_possible_cpus();
    c->wall_off = nsb_mono_to_wall();
    c->tab_size = 1024;
    while (c->tab_size < cfg->max_flows && c->tab_size < (1u << 20))
        c->tab_size <<= 1;
    c->tab = calloc(c->tab_size, sizeof(*c->tab));
    c->ifs = calloc(cfg->interfaces.count, sizeof(*c->ifs));
    c->keys_cap = cfg->max_flows;
    c->keys = calloc(c->keys_cap, sizeof(*c->keys));
    if (!c->tab || !c->ifs || !c->keys) {
        eflow_free(c);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->interfaces.count; i++) {
        struct nsb_tc *f = &c->ifs[c->nifs++];
        f->ifname = cfg->interfaces.items[i];
        f->handle = EFLOW_TC_HANDLE;
        f->prio = EFLOW_TC_PRIO;
        f->ifindex = (int)if_nametoindex(f->ifname);
        if (f->ifindex == 0) {
            ns_log_error(ins, "interface %s: %s (in this network namespace)", f->ifname,
                         strerror(errno));
            eflow_free(c);
            return -ENODEV;
        }
    }
    const struct ns_host *h = c->h;
    c->c_other_in = h->counter(ins, "ebpf_flow_other_skbs_total", "direction=\"ingress\"",
                               "Frames that are not IPv4/IPv6 (ARP, ...), not in any flow.");
    c->c_other_out = h->counter(ins, "ebpf_flow_other_skbs_total", "direction=\"egress\"", NULL);
    c->c_map_full = h->counter(ins, "ebpf_flow_map_full_total", NULL,
                               "skbs not counted because the kernel flow map was full (raise "
                               "max_flows).");
    c->c_trunc = h->counter(ins, "ebpf_flow_truncated_total", NULL,
                            "IP skbs whose headers could not be read (not counted).");
    c->c_updates = h->counter(ins, "ebpf_flow_updates_total", NULL, "flow_update records.");
    c->c_ends = h->counter(ins, "ebpf_flow_ends_total", NULL, "flow_end records.");
    c->c_rec_fail = h->counter(ins, "ebpf_flow_records_failed_total", NULL,
                               "Records not built: out of memory.");
    c->g_flows = h->gauge(ins, "ebpf_flow_flows", NULL,
                          "Flows in the kernel map at the last "
                          "export.");

    rc = NSB_OPEN(ins, ns_flow, &c->skel);
    if (rc == 0) {
        bpf_map__set_max_entries(c->skel->maps.flows, (uint32_t)cfg->max_flows);
        rc = nsb_load(ins, c->skel->skeleton, "loading the TC program failed");
    }
    if (rc) {
        eflow_free(c);
        return rc;
    }
    *ctxp = c;
    return 0;
}

static int eflow_start(void *ctx)
{
    struct eflow_ctx *c = ctx;
    int rc = eflow_attach(c);
    if (rc == 0)
        rc = c->h->timer(c->ins, c->cfg->interval, eflow_timer, c);
    if (rc) {
        eflow_detach(c); /* stop() is not called after a failed start */
        return rc;
    }
    ns_log_info(c->ins, "attached to %zu interface%s (TC ingress and egress)", c->nifs,
                c->nifs == 1 ? "" : "s");
    return 0;
}

static int eflow_stop(void *ctx)
{
    struct eflow_ctx *c = ctx;
    /* Detach first so that the final counts are final. */
    eflow_detach(c);
    eflow_export(c, true);
    return 0;
}

static void eflow_destroy(void *ctx)
{
    eflow_free(ctx);
}

#define OFF(f) offsetof(struct eflow_config, f)
static const struct ns_option eflow_options[] = {
    {.name = "interfaces",
     .type = NS_OPT_STRING_LIST,
     .flags = NS_OPT_REQUIRED,
     .offset = OFF(interfaces),
     .doc = "Interfaces (in netscope's network namespace) whose TC ingress and egress hooks get "
            "the counting program; one ebpf_flow node per interface at a time."},
    {.name = "interval",
     .type = NS_OPT_DURATION,
     .def = "10s",
     .min = 1e6,
     .offset = OFF(interval),
     .doc = "Read the kernel's flow map this often: flow_update for flows with new packets, "
            "flow_end for flows past their timeout."},
    {.name = "idle_timeout",
     .type = NS_OPT_DURATION,
     .def = "60s",
     .min = 1e6,
     .offset = OFF(idle_timeout),
     .doc = "End a flow after this long without packets (end_reason idle)."},
    {.name = "tcp_close_timeout",
     .type = NS_OPT_DURATION,
     .def = "5s",
     .offset = OFF(tcp_close_timeout),
     .doc = "End a TCP flow this long after its last packet once FIN went both ways or RST was "
            "seen (end_reason fin/rst)."},
    {.name = "max_flows",
     .type = NS_OPT_UINT,
     .def = "65536",
     .min = 64,
     .max = 16777216,
     .offset = OFF(max_flows),
     .doc = "Flows held in the kernel map (about 200 bytes each); when full, packets of new "
            "flows are counted in ebpf_flow_map_full_total only."},
    {.name = "community_id_seed",
     .type = NS_OPT_UINT,
     .def = "0",
     .max = 65535,
     .offset = OFF(community_id_seed),
     .doc = "Seed of the Community ID v1 hash (network.community_id)."},
    NS_OPT_END,
};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "ebpf_flow", .version = "0.1.0",
                 .summary = "Per-flow packet/byte counters from TC clsact (eBPF), as flow records",
                 .options = eflow_options, .config_size = sizeof(struct eflow_config),
                 .flags = NS_PLUGIN_EMITS_RECORDS | NS_PLUGIN_NEEDS_ROOT, .init = eflow_init,
                 .start = eflow_start, .stop = eflow_stop, .destroy = eflow_destroy);
