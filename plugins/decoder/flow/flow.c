/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow.c - decoder/flow plugin glue: packets in, flow/ARP/device records out.
 *
 * The core calls process_packets, tick and flush on this instance's worker
 * thread (one instance per worker; each sees the packets whose flow hash maps
 * to it). The parsing (flow_parse.c), the flow table (flow_table.c), the device
 * inventory (flow_device.c) and Community ID (community_id.c) are pure code;
 * this file turns their events into ECS records and their statistics into
 * counters. Options and record fields: README.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netscope/netscope.h"

#include "community_id.h"
#include "flow.h"
#include "flow_app.h"
#include "flow_device.h"
#include "flow_ipfrag.h"
#include "flow_parse.h"
#include "flow_rec.h"
#include "flow_table.h"

#define FLOW_M_PEERS 16  /* app decoders named in the protocol label; + other, unknown */
#define FLOW_PASS 64     /* packets per parse/prefetch/account round (fits L1) */
#define FLOW_PKT_AHEAD 4 /* packets whose headers are prefetched ahead of the parser */

struct flow_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    struct flow_config cfg;
    struct flow_table *tbl;
    struct flow_devices *devs;
    struct flow_apps *apps;   /* NULL: no app decoder reads from this node */
    struct ipfrag *frag;      /* IP reassembly for the app decoders; NULL: off */
    uint64_t frag_noflow;     /* reassembled datagrams whose flow was gone */
    uint64_t now;             /* latest time seen (packet or tick)         */
    uint64_t last_dev_report; /* 0 = not started                           */
    uint64_t rec_failures;
    uint32_t warned_linktype; /* last unsupported link type logged (0 = none) */
    ns_counter *c_packets, *c_ip, *c_arp, *c_other, *c_err[FLOW_ERR_COUNT];
    ns_counter *c_created, *c_ended, *g_active, *c_evict, *c_updates;
    ns_counter *c_frag_ok, *c_frag_orphan, *c_alloc_fail, *c_rec_fail, *c_len0;
    ns_counter *g_devices, *c_dev_full;
    ns_counter *c_frag_done, *c_frag_overlap, *c_frag_dup, *c_frag_noflow,
        *c_frag_drop[IPFRAG_DROP_COUNT], *g_frag_bytes, *g_frag_dgrams;
    /* Bytes and packets by transport x application protocol, counted from the
     * flow records (deltas: each byte once); fixed label sets made at init. */
    char proto_names[FLOW_M_PEERS][32];
    size_t nproto_names;
    ns_counter *c_m_bytes[4][FLOW_M_PEERS + 2], *c_m_pkts[4][FLOW_M_PEERS + 2];
    /* One round of process_packets: parsed packets and their prepared keys. */
    struct flow_pkt pass_pkt[FLOW_PASS];
    struct flow_prep pass_prep[FLOW_PASS];
};

/* ---- record helpers ------------------------------------------------------- */

/* Keys of the fields this file writes, interned at init (ns_rec_keys.h); the
 * shared head's are in flow_rec.h. */
enum flow_rkey {
    FK_VLAN_ID,
    FK_INNER_VLAN_ID,
    FK_COMMUNITY_ID,
    FK_SRC_TCP_FLAGS,
    FK_DST_TCP_FLAGS,
    FK_STATE,
    FK_RTT,
    FK_RETRANS,
    FK_OOO,
    FK_ICMP_TYPE,
    FK_ICMP_CODE,
    FK_ICMP_ID,
    FK_TUNNEL,
    FK_FRAGMENTS,
    FK_INTERFACE,
    FK_UPDATES,
    FK_ARP_OPERATION,
    FK_ARP_OPCODE,
    FK_ARP_SENDER_MAC,
    FK_ARP_SENDER_IP,
    FK_ARP_TARGET_MAC,
    FK_ARP_TARGET_IP,
    FK_ARP_GRATUITOUS,
    FK_SRC_MAC,
    FK_DST_MAC,
    FK_HOST_IP,
    FK_HOST_MAC,
    FK_DEV_PACKETS_OUT,
    FK_DEV_BYTES_OUT,
    FK_DEV_PACKETS_IN,
    FK_DEV_BYTES_IN,
    FK_DEV_SERVED,
    FK_DEV_PEER,
    FK_DEV_TRUNCATED,
    FK_DEV_WORKER,
    FK_N
};
static struct ns_key flow_keys[FK_N] = {
    [FK_VLAN_ID] = {"network.vlan.id", 0},
    [FK_INNER_VLAN_ID] = {"network.inner.vlan.id", 0},
    [FK_COMMUNITY_ID] = {"network.community_id", 0},
    [FK_SRC_TCP_FLAGS] = {"netscope.flow.source_tcp_flags", 0},
    [FK_DST_TCP_FLAGS] = {"netscope.flow.destination_tcp_flags", 0},
    [FK_STATE] = {"netscope.flow.state", 0},
    [FK_RTT] = {"netscope.flow.rtt_ns", 0},
    [FK_RETRANS] = {"netscope.flow.retransmissions", 0},
    [FK_OOO] = {"netscope.flow.out_of_order", 0},
    [FK_ICMP_TYPE] = {"netscope.flow.icmp.type", 0},
    [FK_ICMP_CODE] = {"netscope.flow.icmp.code", 0},
    [FK_ICMP_ID] = {"netscope.flow.icmp.id", 0},
    [FK_TUNNEL] = {"netscope.flow.tunnel", 0},
    [FK_FRAGMENTS] = {"netscope.flow.fragments", 0},
    [FK_INTERFACE] = {"netscope.flow.interface", 0},
    [FK_UPDATES] = {"netscope.flow.updates", 0},
    [FK_ARP_OPERATION] = {"netscope.arp.operation", 0},
    [FK_ARP_OPCODE] = {"netscope.arp.opcode", 0},
    [FK_ARP_SENDER_MAC] = {"netscope.arp.sender.mac", 0},
    [FK_ARP_SENDER_IP] = {"netscope.arp.sender.ip", 0},
    [FK_ARP_TARGET_MAC] = {"netscope.arp.target.mac", 0},
    [FK_ARP_TARGET_IP] = {"netscope.arp.target.ip", 0},
    [FK_ARP_GRATUITOUS] = {"netscope.arp.gratuitous", 0},
    [FK_SRC_MAC] = {"source.mac", 0},
    [FK_DST_MAC] = {"destination.mac", 0},
    [FK_HOST_IP] = {"host.ip", 0},
    [FK_HOST_MAC] = {"host.mac", 0},
    [FK_DEV_PACKETS_OUT] = {"netscope.device.packets_out", 0},
    [FK_DEV_BYTES_OUT] = {"netscope.device.bytes_out", 0},
    [FK_DEV_PACKETS_IN] = {"netscope.device.packets_in", 0},
    [FK_DEV_BYTES_IN] = {"netscope.device.bytes_in", 0},
    [FK_DEV_SERVED] = {"netscope.device.served_ports", 0},
    [FK_DEV_PEER] = {"netscope.device.peer_ports", 0},
    [FK_DEV_TRUNCATED] = {"netscope.device.ports_truncated", 0},
    [FK_DEV_WORKER] = {"netscope.device.worker", 0},
};
static int flow_keys_ready;
#define FK(x) (&flow_keys[FK_##x])
#define FRK(x) (&flow_rec_keys[FRK_##x])

static void flow_add_common(struct flow_ctx *c, struct ns_record *r, const char *kind,
                            const char *type1, const char *type2, const char *action)
{
    const struct ns_host *h = c->h;
    ns_key_cstr(h, r, FRK(EVENT_KIND), kind);
    ns_key_str(h, r, FRK(EVENT_CATEGORY), "network", 7);
    ns_key_array(h, r, FRK(EVENT_TYPE));
    h->rec_add_cstr(r, NULL, type1);
    if (type2 != NULL)
        h->rec_add_cstr(r, NULL, type2);
    h->rec_end(r);
    ns_key_cstr(h, r, FRK(EVENT_ACTION), action);
}

/* Decimal digits of v at the end of buf (cap: room for the digits and the NUL);
 * returns the first digit. A flow record needs a few small numbers as strings,
 * and snprintf cost more than the rest of such a field. */
static const char *flow_utoa(uint32_t v, char *buf, size_t cap)
{
    char *p = buf + cap;
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && p > buf);
    return p;
}

static void flow_add_vlans(struct flow_ctx *c, struct ns_record *r, uint8_t n, const uint16_t *v)
{
    /* ECS types the VLAN ids as keywords (strings). */
    char id[8];
    if (n > 0)
        ns_key_cstr(c->h, r, FK(VLAN_ID), flow_utoa(v[0], id, sizeof(id)));
    if (n > 1)
        ns_key_cstr(c->h, r, FK(INNER_VLAN_ID), flow_utoa(v[1], id, sizeof(id)));
}

/* ---- traffic by transport and application protocol ------------------------ */

static const char *const flow_m_transports[4] = {"tcp", "udp", "icmp", "other"};

/* One counter pair per fixed label set: transport (tcp, udp, icmp, other) x
 * protocol (each app decoder reading from this node, "other" for a
 * network.protocol none of them is named after such as grpc, "unknown" for no
 * protocol); icmp and other only with "unknown". Bounded, registered once. */
static void flow_metrics_init(struct flow_ctx *c)
{
    struct ns_app_peer peers[FLOW_M_PEERS];
    size_t n = c->h->app_peers != NULL ? c->h->app_peers(c->ins, peers, FLOW_M_PEERS) : 0;
    for (size_t i = 0; i < n && i < FLOW_M_PEERS; i++)
        if (peers[i].desc != NULL && peers[i].desc->name != NULL)
            snprintf(c->proto_names[c->nproto_names++], sizeof(c->proto_names[0]), "%s",
                     peers[i].desc->name);
    size_t np = c->nproto_names;
    for (size_t t = 0; t < 4; t++)
        for (size_t p = t < 2 ? 0 : np + 1; p < np + 2; p++) {
            char lab[128];
            snprintf(lab, sizeof(lab), "transport=\"%s\",protocol=\"%s\"", flow_m_transports[t],
                     p < np    ? c->proto_names[p]
                     : p == np ? "other"
                               : "unknown");
            c->c_m_bytes[t][p] =
                c->h->counter(c->ins, "flow_reported_bytes_total", lab,
                              "Bytes of the flows reported (flow_update and flow_end deltas), "
                              "by transport and application protocol.");
            c->c_m_pkts[t][p] =
                c->h->counter(c->ins, "flow_reported_packets_total", lab,
                              "Packets of the flows reported (flow_update and flow_end deltas), "
                              "by transport and application protocol.");
        }
}

/* Count a flow_update/flow_end record's deltas (a flow_start's counts are in
 * the first later delta, so the sums equal the flows' totals). */
static void flow_metrics_count(struct flow_ctx *c, const struct flow *f, struct ns_record *r)
{
    uint8_t pr = f->key.proto;
    size_t t = pr == 6 ? 0 : pr == 17 ? 1 : pr == 1 || pr == 58 ? 2 : 3;
    size_t np = c->nproto_names, p = np + 1;
    struct ns_field_view v;
    /* Only a flow an app decoder claimed can carry network.protocol. */
    if (t < 2 && c->apps != NULL && f->app != 0 && c->h->rec_get(r, "network.protocol", &v) &&
        v.type == NS_F_STR) {
        p = np;
        for (size_t i = 0; i < np; i++)
            if (strlen(c->proto_names[i]) == v.v.s.len &&
                memcmp(c->proto_names[i], v.v.s.ptr, v.v.s.len) == 0)
                p = i;
    }
    if (c->c_m_bytes[t][p] == NULL)
        return;
    ns_counter_add(c->c_m_bytes[t][p],
                   f->bytes[0] + f->bytes[1] - f->rep_bytes[0] - f->rep_bytes[1]);
    ns_counter_add(c->c_m_pkts[t][p], f->pkts[0] + f->pkts[1] - f->rep_pkts[0] - f->rep_pkts[1]);
}

static void flow_emit(struct flow_ctx *c, struct ns_record *r)
{
    c->h->emit(c->ins, r);
}

/* ---- flow records --------------------------------------------------------- */

static void flow_build(struct flow_ctx *c, const struct flow *f, enum flow_event ev,
                       enum flow_reason why, uint64_t now);

static void flow_on_event(void *arg, const struct flow *f, enum flow_event ev, enum flow_reason why,
                          uint64_t now)
{
    struct flow_ctx *c = arg;
    if (ev == FLOW_EV_END && c->apps != NULL && f->app != 0) {
        /* The flow record first (annotated with everything the app decoder
         * saw), then app_close, which may emit the app's last records. */
        flow_build(c, f, ev, why, now);
        flow_apps_end(c->apps, f, now);
        return;
    }
    flow_build(c, f, ev, why, now);
}

/* The table is about to end f (idle walk, flush): its record and app_close
 * read the app slot, a miss of its own beside the flow's lines. */
static void flow_on_prefetch(void *arg, const struct flow *f)
{
    const struct flow_ctx *c = arg;
    flow_apps_prefetch(c->apps, f);
}

static void flow_build(struct flow_ctx *c, const struct flow *f, enum flow_event ev,
                       enum flow_reason why, uint64_t now)
{
    const struct ns_host *h = c->h;
    struct ns_record *r = h->rec_new(c->ins, NS_REC_FLOW, now);
    if (r == NULL) {
        c->rec_failures++;
        return;
    }
    static const struct flow_str actions[] = {
        {"flow_start", 10}, {"flow_update", 11}, {"flow_end", 8}};
    static const struct flow_str types[] = {{"start", 5}, {NULL, 0}, {"end", 3}};
    flow_rec_add_event_n(h, r, types[ev].s, types[ev].len, actions[ev].s, actions[ev].len,
                         f->first_ts, f->last_ts);

    const struct flow_key *k = &f->key;
    int s = f->src_side, d = !s;
    bool icmp = k->proto == FLOW_IPPROTO_ICMP || k->proto == FLOW_IPPROTO_ICMPV6;
    struct flow_str tr = flow_transport_str(k->proto);
    struct flow_rec_ends e = {
        .family = k->family,
        .proto = k->proto,
        .ports = !icmp && (k->port[0] != 0 || k->port[1] != 0),
        .addr = {k->addr[s], k->addr[d]},
        .port = {k->port[s], k->port[d]},
        .mac = {f->bits & (s ? FLOW_B_MAC1 : FLOW_B_MAC0) ? f->mac[s] : NULL,
                f->bits & (d ? FLOW_B_MAC1 : FLOW_B_MAC0) ? f->mac[d] : NULL},
        .bytes = {f->bytes[s], f->bytes[d]},
        .pkts = {f->pkts[s], f->pkts[d]},
        .transport = tr.s,
        .transport_len = tr.len,
    };
    flow_rec_add_ends(h, r, &e);
    flow_add_vlans(c, r, k->vlan_count, k->vlan);

    char cid[COMMUNITY_ID_LEN];
    uint16_t sp = icmp ? f->icmp_type : k->port[s], dp = icmp ? f->icmp_code : k->port[d];
    /* A flow fed to app decoders has its ID already (the hash is the same
     * whichever side is the source): one SHA-1 per flow, not two. */
    const char *known = c->apps != NULL && f->app != 0 ? flow_apps_cid(c->apps, f) : NULL;
    if (known != NULL)
        ns_key_cstr(h, r, FK(COMMUNITY_ID), known);
    else if (community_id_v1((uint16_t)c->cfg.community_id_seed, k->family, k->addr[s], k->addr[d],
                             k->proto, sp, dp, cid) == 0)
        ns_key_str(h, r, FK(COMMUNITY_ID), cid, 30); /* "1:" + 28 base64 */

    if (k->proto == FLOW_IPPROTO_TCP) {
        char fl[9];
        ns_key_str(h, r, FK(SRC_TCP_FLAGS), fl, flow_tcp_flags_str(f->tcp_flags[s], fl));
        ns_key_str(h, r, FK(DST_TCP_FLAGS), fl, flow_tcp_flags_str(f->tcp_flags[d], fl));
        struct flow_str st = flow_tcp_state_str((enum flow_tcp_state)f->tcp_state);
        ns_key_str(h, r, FK(STATE), st.s, st.len);
        if (f->bits & FLOW_B_RTT)
            ns_key_uint(h, r, FK(RTT), f->rtt_ns);
        ns_key_uint(h, r, FK(RETRANS), f->retrans);
        ns_key_uint(h, r, FK(OOO), f->ooo);
    }
    if (icmp) {
        ns_key_uint(h, r, FK(ICMP_TYPE), f->icmp_type);
        ns_key_uint(h, r, FK(ICMP_CODE), f->icmp_code);
        if (k->icmp_id != 0 || f->icmp_type == 8 || f->icmp_type == 0 || f->icmp_type == 128 ||
            f->icmp_type == 129)
            ns_key_uint(h, r, FK(ICMP_ID), k->icmp_id);
    }
    if (k->tunnel != FLOW_TUNNEL_NONE) {
        static const char *const tunnels[] = {"none", "ipip", "gre", "erspan"};
        ns_key_cstr(h, r, FK(TUNNEL), k->tunnel < 4 ? tunnels[k->tunnel] : "other");
    }
    if (f->frags != 0)
        ns_key_uint(h, r, FK(FRAGMENTS), f->frags);
    ns_key_uint(h, r, FK(INTERFACE), f->ifindex);
    if (ev != FLOW_EV_START) {
        struct flow_str rs = flow_reason_str(why);
        flow_rec_add_deltas_n(h, r, rs.s, rs.len, f->bytes[s] - f->rep_bytes[s],
                              f->pkts[s] - f->rep_pkts[s], f->bytes[d] - f->rep_bytes[d],
                              f->pkts[d] - f->rep_pkts[d]);
    }
    ns_key_uint(h, r, FK(UPDATES), f->updates);
    if (c->apps != NULL && f->app != 0 && ev != FLOW_EV_START)
        flow_apps_annotate(c->apps, f, r, ev == FLOW_EV_END, now);
    if (ev != FLOW_EV_START)
        flow_metrics_count(c, f, r);
    flow_emit(c, r);
}

/* ---- ARP and device records ----------------------------------------------- */

static void flow_emit_arp(struct flow_ctx *c, const struct flow_pkt *p, uint64_t ts)
{
    const struct ns_host *h = c->h;
    struct ns_record *r = h->rec_new(c->ins, NS_REC_ARP, ts);
    if (r == NULL) {
        c->rec_failures++;
        return;
    }
    const char *op = p->arp.op == 1 ? "request" : p->arp.op == 2 ? "reply" : "other";
    char action[16];
    snprintf(action, sizeof(action), "arp_%s", op);
    flow_add_common(c, r, "event", "info", NULL, action);
    ns_key_cstr(h, r, FK(ARP_OPERATION), op);
    ns_key_uint(h, r, FK(ARP_OPCODE), p->arp.op);
    ns_key_mac(h, r, FK(ARP_SENDER_MAC), p->arp.sha);
    flow_rec_add_ip_k(h, r, FK(ARP_SENDER_IP), 4, p->arp.spa);
    ns_key_mac(h, r, FK(ARP_TARGET_MAC), p->arp.tha);
    flow_rec_add_ip_k(h, r, FK(ARP_TARGET_IP), 4, p->arp.tpa);
    ns_key_bool(h, r, FK(ARP_GRATUITOUS), memcmp(p->arp.spa, p->arp.tpa, 4) == 0);
    if (p->has_src_mac)
        ns_key_mac(h, r, FK(SRC_MAC), p->src_mac);
    if (p->has_dst_mac)
        ns_key_mac(h, r, FK(DST_MAC), p->dst_mac);
    flow_add_vlans(c, r, p->vlan_count > 2 ? 2 : p->vlan_count, p->vlan);
    flow_emit(c, r);
}

static void flow_add_ports(struct flow_ctx *c, struct ns_record *r, const struct ns_key *key,
                           const uint16_t *set, uint8_t n)
{
    ns_key_array(c->h, r, key);
    for (uint8_t i = 0; i < n; i++)
        c->h->rec_add_uint(r, NULL, set[i]);
    c->h->rec_end(r);
}

static void flow_on_device(void *arg, const struct flow_device *d, uint64_t now)
{
    struct flow_ctx *c = arg;
    const struct ns_host *h = c->h;
    struct ns_record *r = h->rec_new(c->ins, NS_REC_DEVICE, now);
    if (r == NULL) {
        c->rec_failures++;
        return;
    }
    flow_add_common(c, r, "state", "info", NULL, "device_report");
    flow_rec_add_ip_k(h, r, FK(HOST_IP), d->family, d->ip);
    if (d->has_mac)
        ns_key_mac(h, r, FK(HOST_MAC), d->mac);
    ns_key_time(h, r, FRK(EVENT_START), d->first_ts);
    ns_key_time(h, r, FRK(EVENT_END), d->last_ts);
    ns_key_uint(h, r, FK(DEV_PACKETS_OUT), d->pkts_out);
    ns_key_uint(h, r, FK(DEV_BYTES_OUT), d->bytes_out);
    ns_key_uint(h, r, FK(DEV_PACKETS_IN), d->pkts_in);
    ns_key_uint(h, r, FK(DEV_BYTES_IN), d->bytes_in);
    flow_add_ports(c, r, FK(DEV_SERVED), d->served, d->n_served);
    flow_add_ports(c, r, FK(DEV_PEER), d->peer, d->n_peer);
    ns_key_bool(h, r, FK(DEV_TRUNCATED), d->served_overflow || d->peer_overflow);
    ns_key_uint(h, r, FK(DEV_WORKER), c->ins->worker);
    flow_emit(c, r);
}

static void flow_report_devices(struct flow_ctx *c, bool all)
{
    if (c->devs == NULL)
        return;
    /* Entries nobody references and not seen for two intervals are dropped
     * after their last report, so a long-running agent stays bounded. */
    uint64_t iv = c->cfg.device_interval;
    uint64_t expire = iv == 0 || iv > UINT64_MAX / 2 ? 0 : 2 * iv;
    flow_devices_report(c->devs, all, c->now, expire, flow_on_device, c);
    c->last_dev_report = c->now;
}

/* Copy the table's plain statistics into the exported cells (this thread is
 * the only writer of both). */
static void flow_publish(struct flow_ctx *c)
{
    const struct flow_stats *st = flow_table_stats(c->tbl);
    ns_gauge_set(c->c_packets, st->packets);
    ns_gauge_set(c->c_ip, st->ip_packets);
    ns_gauge_set(c->c_arp, st->arp_packets);
    ns_gauge_set(c->c_other, st->other_packets);
    for (int e = 1; e < FLOW_ERR_COUNT; e++)
        ns_gauge_set(c->c_err[e], st->errors[e]);
    ns_gauge_set(c->c_created, st->flows_created);
    ns_gauge_set(c->c_ended, st->flows_ended);
    ns_gauge_set(c->g_active, st->flows_active);
    ns_gauge_set(c->c_evict, st->evictions);
    ns_gauge_set(c->c_updates, st->updates);
    ns_gauge_set(c->c_frag_ok, st->frag_matched);
    ns_gauge_set(c->c_frag_orphan, st->frag_unmatched);
    ns_gauge_set(c->c_alloc_fail, st->alloc_failures);
    ns_gauge_set(c->c_len0, st->ipv4_len0);
    ns_gauge_set(c->c_rec_fail, c->rec_failures);
    if (c->apps != NULL)
        flow_apps_publish(c->apps);
    if (c->frag != NULL) {
        const struct ipfrag_stats *fs = ipfrag_stats(c->frag);
        ns_gauge_set(c->c_frag_done, fs->reassembled);
        ns_gauge_set(c->c_frag_overlap, fs->overlaps);
        ns_gauge_set(c->c_frag_dup, fs->duplicates);
        ns_gauge_set(c->c_frag_noflow, c->frag_noflow);
        for (int i = 0; i < IPFRAG_DROP_COUNT; i++)
            ns_gauge_set(c->c_frag_drop[i], fs->dropped[i]);
        ns_gauge_set(c->g_frag_bytes, fs->held_bytes);
        ns_gauge_set(c->g_frag_dgrams, fs->held_datagrams);
    }
    if (c->devs != NULL) {
        ns_gauge_set(c->g_devices, flow_devices_count(c->devs));
        ns_gauge_set(c->c_dev_full, flow_devices_full_drops(c->devs));
    }
}

/* ---- callbacks ------------------------------------------------------------ */

static void flow_destroy(void *ctx);

static int flow_init(struct ns_instance *ins, const void *config, void **ctxp)
{
    struct flow_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    /* Record keys: registered here, on the loop thread, before any worker
     * builds a record (flow_rec.h's would otherwise be made by the first). */
    ns_keys_ready(c->h, flow_keys, FK_N, &flow_keys_ready);
    ns_keys_ready(c->h, flow_rec_keys, FRK_N, &flow_rec_keys_ready);
    memcpy(&c->cfg, config, sizeof(c->cfg));
    const struct ns_host *h = c->h;
    c->c_packets = h->counter(ins, "packets_total", NULL, "Packets given to the flow decoder");
    c->c_ip = h->counter(ins, "flow_packets_total", NULL, "Packets accounted to a flow");
    c->c_arp = h->counter(ins, "arp_packets_total", NULL, "ARP messages decoded");
    c->c_other = h->counter(ins, "untracked_packets_total", NULL,
                            "Valid frames that are neither IP nor ARP (LLDP, STP, ...)");
    for (int e = 1; e < FLOW_ERR_COUNT; e++) {
        char lab[64];
        snprintf(lab, sizeof(lab), "reason=\"%s\"", flow_err_name((enum flow_err)e));
        c->c_err[e] =
            h->counter(ins, "decode_errors_total", lab, "Malformed or truncated frames, by reason");
    }
    c->c_created = h->counter(ins, "flows_created_total", NULL, "Flows created");
    c->c_ended = h->counter(ins, "flows_ended_total", NULL, "Flows ended (any reason)");
    c->g_active = h->gauge(ins, "flows_active", NULL, "Flows in the table");
    c->c_evict = h->counter(ins, "flow_evictions_total", NULL,
                            "Flows ended early because max_flows was reached");
    c->c_updates = h->counter(ins, "flow_updates_total", NULL, "Interim flow_update records");
    c->c_frag_ok = h->counter(ins, "fragments_attributed_total", NULL,
                              "Non-first IP fragments accounted to their datagram's flow");
    c->c_frag_orphan = h->counter(ins, "fragments_unattributed_total", NULL,
                                  "Non-first IP fragments seen before their first fragment");
    c->c_alloc_fail = h->counter(ins, "flow_alloc_failures_total", NULL,
                                 "Packets not tracked because flow memory could not be allocated");
    c->c_len0 = h->counter(ins, "ipv4_zero_length_total", NULL,
                           "IPv4 packets with total length 0 (TSO captures), decoded with the "
                           "captured length");
    c->c_rec_fail =
        h->counter(ins, "record_failures_total", NULL, "Records not built because rec_new failed");
    c->g_devices = h->gauge(ins, "devices", NULL, "Entries in the device inventory");
    c->c_dev_full = h->counter(ins, "device_inventory_full_total", NULL,
                               "Hosts not added because the inventory was full");

    if (c->cfg.devices) {
        c->devs = flow_devices_new((uint32_t)c->cfg.max_devices, (uint32_t)(uintptr_t)c ^ 0x9e37u);
        if (c->devs == NULL)
            goto nomem;
    }
    /* The app host first: the table's prefetch hint is set only with it. */
    struct flow_apps_cfg ac = {
        .flow_buffer = c->cfg.reassembly_flow_bytes,
        .total_buffer = c->cfg.reassembly_total_bytes,
        .max_probes = c->cfg.app_probe_payloads > 255 ? 255 : (uint32_t)c->cfg.app_probe_payloads,
        .cid_seed = (uint16_t)c->cfg.community_id_seed,
    };
    int err = 0;
    c->apps = flow_apps_new(ins, &ac, &err);
    if (err != 0)
        goto nomem;
    struct flow_table_cfg tc = {
        .max_flows = c->cfg.max_flows,
        .idle_ns = {c->cfg.tcp_idle_timeout, c->cfg.udp_idle_timeout, c->cfg.icmp_idle_timeout,
                    c->cfg.other_idle_timeout, c->cfg.tcp_close_timeout},
        .active_ns = c->cfg.active_timeout,
        .emit_start = c->cfg.emit_start,
        .hash_seed = (uint32_t)((uintptr_t)c >> 4) * 2654435761u,
        .devices = c->devs,
        .on_event = flow_on_event,
        .prefetch = c->apps != NULL ? flow_on_prefetch : NULL,
        .arg = c,
    };
    c->tbl = flow_table_new(&tc);
    if (c->tbl == NULL)
        goto nomem;
    if (c->apps != NULL && c->cfg.ip_reassembly) {
        struct ipfrag_cfg fc = {
            .timeout_ns = c->cfg.ip_reassembly_timeout,
            .max_datagrams = c->cfg.ip_reassembly_datagrams > UINT32_MAX
                                 ? UINT32_MAX
                                 : (uint32_t)c->cfg.ip_reassembly_datagrams,
            .max_bytes = c->cfg.ip_reassembly_bytes,
        };
        c->frag = ipfrag_new(&fc);
        if (c->frag == NULL)
            goto nomem;
        c->c_frag_done = h->counter(ins, "ip_reassembled_total", NULL,
                                    "IP datagrams reassembled from fragments for the app decoders");
        c->c_frag_overlap = h->counter(ins, "ip_fragment_overlaps_total", NULL,
                                       "IP fragments overlapping bytes already held (the first "
                                       "copy is kept)");
        c->c_frag_dup = h->counter(ins, "ip_fragment_duplicates_total", NULL,
                                   "IP fragments that brought no new byte");
        c->c_frag_noflow = h->counter(ins, "ip_reassembled_unattributed_total", NULL,
                                      "Reassembled datagrams without a flow (their first "
                                      "fragment's flow had ended)");
        for (int i = 0; i < IPFRAG_DROP_COUNT; i++) {
            char lab[64];
            snprintf(lab, sizeof(lab), "reason=\"%s\"", ipfrag_drop_name((enum ipfrag_drop)i));
            c->c_frag_drop[i] = h->counter(ins, "ip_reassembly_dropped_total", lab,
                                           "Incomplete IP datagrams given up, by reason");
        }
        c->g_frag_bytes =
            h->gauge(ins, "ip_reassembly_bytes", NULL, "Buffer bytes held by IP reassembly");
        c->g_frag_dgrams = h->gauge(ins, "ip_reassembly_datagrams", NULL,
                                    "Incomplete IP datagrams held by reassembly");
    }
    flow_metrics_init(c);
    *ctxp = c;
    return 0;
nomem:
    ns_log_error(ins, "cannot allocate the flow table (max_flows %llu)",
                 (unsigned long long)c->cfg.max_flows);
    flow_destroy(c);
    return -ENOMEM;
}

static void flow_advance(struct flow_ctx *c, uint64_t now)
{
    if (now > c->now)
        c->now = now;
    if (c->devs != NULL && c->cfg.device_interval != 0) {
        if (c->last_dev_report == 0)
            c->last_dev_report = c->now;
        else if (c->now - c->last_dev_report >= c->cfg.device_interval)
            flow_report_devices(c, false);
    }
}

static inline void flow_apps_check(struct flow_ctx *c)
{
    if (c->apps != NULL && !flow_apps_ready(c->apps))
        flow_apps_refresh(c->apps);
}

/* Offer fragment p to IP reassembly; a completed datagram is parsed again and
 * its TCP/UDP payload handed to the app decoders on the flow its fragments
 * were accounted to (the first fragment's; counts are not touched again). */
static void flow_frag(struct flow_ctx *c, const struct flow_pkt *p, uint64_t ts)
{
    const uint8_t *d;
    uint32_t len;
    if (!ipfrag_add(c->frag, p, ts, &d, &len))
        return;
    struct flow_pkt rp;
    flow_parse(d, len, p->family == 4 ? FLOW_DLT_IPV4 : FLOW_DLT_IPV6, &rp);
    if (rp.kind != FLOW_PKT_IP || rp.err != FLOW_ERR_NONE || !rp.has_l4 || rp.is_frag ||
        (rp.proto != FLOW_IPPROTO_TCP && rp.proto != FLOW_IPPROTO_UDP))
        return;
    /* The link layer and tunnel context of the fragments (the same flow key). */
    rp.has_src_mac = p->has_src_mac;
    rp.has_dst_mac = p->has_dst_mac;
    memcpy(rp.src_mac, p->src_mac, 6);
    memcpy(rp.dst_mac, p->dst_mac, 6);
    rp.vlan_count = p->vlan_count;
    rp.vlan[0] = p->vlan[0];
    rp.vlan[1] = p->vlan[1];
    if (rp.encap == 0)
        rp.tunnel = p->tunnel;
    struct flow_prep pp;
    flow_table_prepare(c->tbl, &rp, ts, &pp);
    int side = 0;
    struct flow *f = flow_table_find(c->tbl, &pp, &side);
    if (f == NULL) {
        c->frag_noflow++;
        return;
    }
    flow_apps_packet(c->apps, f, side, &rp, ts);
}

/* Account packets [0, n) of one round (parsed and prepared in pass_*). */
static void flow_account_round(struct flow_ctx *c, const struct ns_packet *pkts, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct ns_packet *pk = &pkts[i];
        struct flow_pkt *p = &c->pass_pkt[i];
        uint32_t wire = pk->wirelen > pk->caplen ? pk->wirelen : pk->caplen;
        struct flow *f =
            flow_table_account(c->tbl, p, &c->pass_prep[i], pk->ts_ns, wire, pk->ifindex);
        /* App decoders read TCP/UDP payload; a fragment goes to IP
         * reassembly, whose complete datagrams they read instead. Without
         * app decoders this is the one extra branch per packet. */
        if (c->apps != NULL) {
            if (f != NULL && p->has_l4 && !p->is_frag &&
                (p->proto == FLOW_IPPROTO_TCP || p->proto == FLOW_IPPROTO_UDP))
                flow_apps_packet(c->apps, f, flow_table_last_side(c->tbl), p, pk->ts_ns);
            else if (p->is_frag && c->frag != NULL && p->kind == FLOW_PKT_IP &&
                     p->err == FLOW_ERR_NONE)
                flow_frag(c, p, pk->ts_ns);
        }
        if (p->kind == FLOW_PKT_ARP && c->cfg.arp)
            flow_emit_arp(c, p, pk->ts_ns);
        else if (p->err == FLOW_ERR_UNKNOWN_LINKTYPE && pk->linktype != c->warned_linktype) {
            /* Counted per packet; said once per link type so a capture of an
             * unsupported medium is not a silent stream of zero flows. */
            c->warned_linktype = pk->linktype;
            ns_log_warn(c->ins,
                        "link type (DLT) %u is not decoded; its packets are counted "
                        "in decode_errors_total{reason=\"unknown_linktype\"}",
                        pk->linktype);
        }
        if (pk->ts_ns > c->now)
            c->now = pk->ts_ns;
    }
}

static int flow_process_packets(void *ctx, const struct ns_packet *pkts, uint32_t n)
{
    struct flow_ctx *c = ctx;
    flow_apps_check(c);
    /* Rounds of FLOW_PASS packets in three passes: parse and hash each (and
     * prefetch its bucket), read the buckets (and prefetch the flows they
     * name), then account in order. A 746k-flow table is far larger than the
     * caches: one packet at a time waited for two dependent misses (bucket,
     * then flow) per packet; this way a round's misses overlap. */
    for (uint32_t base = 0; base < n; base += FLOW_PASS) {
        uint32_t m = n - base < FLOW_PASS ? n - base : FLOW_PASS;
        const struct ns_packet *pk = pkts + base;
        for (uint32_t i = 0; i < m; i++) {
            /* The headers of a packet a few ahead: its bytes were written by
             * the source thread (or are in the page cache) and the first
             * read of each packet was the parser's largest cost. */
            if (i + FLOW_PKT_AHEAD < m && pk[i + FLOW_PKT_AHEAD].data != NULL) {
                __builtin_prefetch(pk[i + FLOW_PKT_AHEAD].data);
                __builtin_prefetch(pk[i + FLOW_PKT_AHEAD].data + 63);
            }
            flow_parse(pk[i].data, pk[i].caplen, pk[i].linktype, &c->pass_pkt[i]);
            flow_table_prepare(c->tbl, &c->pass_pkt[i], pk[i].ts_ns, &c->pass_prep[i]);
        }
        for (uint32_t i = 0; i < m; i++)
            flow_table_prefetch_flow(c->tbl, &c->pass_prep[i]);
        flow_account_round(c, pk, m);
    }
    flow_publish(c);
    return 0;
}

static void flow_tick(void *ctx, uint64_t now)
{
    struct flow_ctx *c = ctx;
    flow_apps_check(c);
    flow_advance(c, now);
    flow_table_tick(c->tbl, c->now);
    if (c->frag != NULL)
        ipfrag_expire(c->frag, c->now);
    flow_publish(c);
}

static int flow_flush(void *ctx)
{
    struct flow_ctx *c = ctx;
    flow_apps_check(c);
    flow_table_flush(c->tbl, FLOW_REASON_SHUTDOWN, c->now);
    if (c->frag != NULL)
        ipfrag_flush(c->frag);
    flow_report_devices(c, true);
    flow_publish(c);
    return 0;
}

static void flow_destroy(void *ctx)
{
    struct flow_ctx *c = ctx;
    if (c == NULL)
        return;
    flow_table_free(c->tbl);
    flow_apps_free(c->apps);
    ipfrag_free(c->frag);
    flow_devices_free(c->devs);
    free(c);
}

#define OFF(f) offsetof(struct flow_config, f)
static const struct ns_option flow_options[] = {
    {.name = "max_flows",
     .type = NS_OPT_UINT,
     .def = "1000000",
     .min = 1,
     .max = 1073741824,
     .offset = OFF(max_flows),
     .doc = "Flows held per worker; when full the flow idle the longest is ended with "
            "end_reason eviction (counted)."},
    {.name = "active_timeout",
     .type = NS_OPT_DURATION,
     .def = "60s",
     .offset = OFF(active_timeout),
     .doc = "Emit a flow_update record with cumulative and delta counts for every flow still "
            "open this long after its last record; 0 disables interim records."},
    {.name = "tcp_idle_timeout",
     .type = NS_OPT_DURATION,
     .def = "5m",
     .min = 1e6,
     .offset = OFF(tcp_idle_timeout),
     .doc = "End a TCP flow after this long without packets."},
    {.name = "udp_idle_timeout",
     .type = NS_OPT_DURATION,
     .def = "60s",
     .min = 1e6,
     .offset = OFF(udp_idle_timeout),
     .doc = "End a UDP or SCTP flow after this long without packets."},
    {.name = "icmp_idle_timeout",
     .type = NS_OPT_DURATION,
     .def = "60s",
     .min = 1e6,
     .offset = OFF(icmp_idle_timeout),
     .doc = "End an ICMP/ICMPv6 flow after this long without packets."},
    {.name = "other_idle_timeout",
     .type = NS_OPT_DURATION,
     .def = "60s",
     .min = 1e6,
     .offset = OFF(other_idle_timeout),
     .doc = "End a flow of any other IP protocol after this long without packets."},
    {.name = "tcp_close_timeout",
     .type = NS_OPT_DURATION,
     .def = "5s",
     .min = 1e6,
     .offset = OFF(tcp_close_timeout),
     .doc = "After FIN both ways or RST, keep the flow this long so late ACKs and resent "
            "FIN/RST join it; a new SYN ends it at once."},
    {.name = "emit_start",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = OFF(emit_start),
     .doc = "Also emit a flow_start record when a flow is created."},
    {.name = "arp",
     .type = NS_OPT_BOOL,
     .def = "true",
     .offset = OFF(arp),
     .doc = "Emit a netscope.arp record for every ARP message."},
    {.name = "devices",
     .type = NS_OPT_BOOL,
     .def = "true",
     .offset = OFF(devices),
     .doc = "Keep a per-host (IP, MAC) inventory and emit netscope.device records."},
    {.name = "device_interval",
     .type = NS_OPT_DURATION,
     .def = "5m",
     .offset = OFF(device_interval),
     .doc = "Emit device records for hosts seen since the last report this often; 0 = only at "
            "shutdown."},
    {.name = "max_devices",
     .type = NS_OPT_UINT,
     .def = "65536",
     .min = 1,
     .max = 16777216,
     .offset = OFF(max_devices),
     .doc = "Inventory entries per worker; further hosts are counted, not added."},
    {.name = "community_id_seed",
     .type = NS_OPT_UINT,
     .def = "0",
     .max = 65535,
     .offset = OFF(community_id_seed),
     .doc = "Seed of the Community ID v1 hash (network.community_id); keep 0 to match other "
            "tools' defaults."},
    {.name = "reassembly_flow_bytes",
     .type = NS_OPT_UINT,
     .def = "262144",
     .max = 1073741824,
     .offset = OFF(reassembly_flow_bytes),
     .doc = "App decoders: TCP bytes held out of order per flow (both directions); when full "
            "the hole is given up and signalled as a gap (counted)."},
    {.name = "reassembly_total_bytes",
     .type = NS_OPT_UINT,
     .def = "67108864",
     .max = 17179869184.0,
     .offset = OFF(reassembly_total_bytes),
     .doc = "App decoders: TCP bytes held out of order by all flows of one worker; when full "
            "holes are given up (counted)."},
    {.name = "app_probe_payloads",
     .type = NS_OPT_UINT,
     .def = "4",
     .min = 1,
     .max = 255,
     .offset = OFF(app_probe_payloads),
     .doc = "App decoders: payloads of a flow offered to app_probe before the flow is left "
            "unclaimed."},
    {.name = "ip_reassembly",
     .type = NS_OPT_BOOL,
     .def = "true",
     .offset = OFF(ip_reassembly),
     .doc = "App decoders: reassemble IPv4/IPv6 fragments and hand them the complete datagram "
            "(every fragment is still accounted to the flow as captured)."},
    {.name = "ip_reassembly_timeout",
     .type = NS_OPT_DURATION,
     .def = "30s",
     .min = 1e6,
     .offset = OFF(ip_reassembly_timeout),
     .doc = "App decoders: give an incomplete fragmented datagram up this long after its first "
            "fragment arrived (counted)."},
    {.name = "ip_reassembly_datagrams",
     .type = NS_OPT_UINT,
     .def = "1024",
     .min = 1,
     .max = 1048576,
     .offset = OFF(ip_reassembly_datagrams),
     .doc = "App decoders: incomplete fragmented datagrams held per worker; when full the "
            "oldest is given up (counted)."},
    {.name = "ip_reassembly_bytes",
     .type = NS_OPT_UINT,
     .def = "8388608",
     .min = 65575,
     .max = 1073741824,
     .offset = OFF(ip_reassembly_bytes),
     .doc = "App decoders: fragment bytes held for reassembly per worker; when full the "
            "oldest datagrams are given up (counted)."},
    NS_OPT_END,
};

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "flow", .version = "0.1.0",
                 .summary = "L2-L4 decoding, bidirectional flows with interim records, ARP and "
                            "device inventory",
                 .options = flow_options, .config_size = sizeof(struct flow_config),
                 .init = flow_init, .destroy = flow_destroy,
                 .process_packets = flow_process_packets, .tick = flow_tick, .flush = flow_flush);
