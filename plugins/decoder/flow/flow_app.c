/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_app.c - decoder/flow hosting its application-layer decoders (see
 * flow_app.h). Runs on the flow decoder's worker thread, which is also the
 * thread of every app decoder it feeds, so nothing here locks.
 *
 * Slots live outside struct flow (which stays 256 bytes): the flow holds a
 * 1-based index into the slot chunks, 0 when the flow has none. Slots are
 * carved from chunks of SLOT_CHUNK and reused through a stack of free indices
 * rather than calloc'd/freed per flow: nearly every flow gets a slot, and
 * glibc's malloc degrades (fragmentation, unlink/consolidate) with many live
 * flows. The chunks are held until flow_apps_free, so slot memory is the peak
 * number of concurrent app flows (at most the flow table's max_flows) times
 * sizeof(struct app_slot). A slot is created for
 * a TCP flow at its first SYN or payload and for a UDP flow at its first
 * payload, and only when app decoders exist: without them flow.c never calls in
 * here, so the packet path pays one predictable branch.
 */
#include "flow_app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community_id.h"
#include "flow_reasm.h"

#define FLOW_APPS_MAX 16
#define SLOT_CHUNK_SHIFT 8
#define SLOT_CHUNK (1u << SLOT_CHUNK_SHIFT) /* slots per chunk */

enum slot_state {
    SLOT_PROBING = 0, /* no owner yet: payloads go to app_probe           */
    SLOT_CLAIMED,     /* owner gets app_data                              */
    SLOT_STOPPED,     /* owner declined more data: annotate/close only    */
    SLOT_UNCLAIMED,   /* nobody wanted it: ignored until the flow ends    */
};

struct app_slot {
    struct ns_app_flow af;
    struct reasm rs;
    uint8_t state;
    uint8_t owner;       /* peer index when CLAIMED/STOPPED */
    uint8_t probes;      /* payloads offered so far          */
    uint8_t client_side; /* key side of the initiator        */
    bool tcp;
    bool flushed;
    bool live; /* in use by a flow (false: on the free stack) */
    char cid[COMMUNITY_ID_LEN];
};

/* Chunks are 64-byte aligned, so a slot is exactly its three lines (what
 * flow_apps_prefetch fetches). */
#define SLOT_LINES 3
_Static_assert(sizeof(struct app_slot) == 64 * SLOT_LINES, "struct app_slot is three lines");

struct flow_apps {
    struct ns_instance *ins;
    const struct ns_host *h;
    struct flow_apps_cfg cfg;
    struct ns_app_peer peers[FLOW_APPS_MAX];
    size_t npeers;
    struct app_slot **chunks; /* slot idx (1-based, struct flow.app) is in
                                 chunks[(idx-1) >> SLOT_CHUNK_SHIFT] */
    uint32_t nchunks, chunks_cap;
    uint32_t nslots;    /* indices handed out so far (the highest)   */
    uint32_t *free_idx; /* stack of free indices (1-based)           */
    uint32_t nfree;
    uint32_t free_cap; /* room in free_idx: >= nchunks * SLOT_CHUNK  */
    struct reasm_ctx rc;
    uint64_t now; /* time of the packet being delivered */
    bool ready;   /* peers' ctx refreshed (flow_apps_refresh)  */
    /* plain counters, published after each batch */
    uint64_t n_claimed[FLOW_APPS_MAX], n_declined[FLOW_APPS_MAX];
    uint64_t n_unclaimed, n_probes, n_slot_fail, n_slots;
    ns_counter *c_claimed[FLOW_APPS_MAX], *c_declined[FLOW_APPS_MAX];
    ns_counter *c_unclaimed, *c_probes, *c_slot_fail, *g_slots;
    ns_counter *c_segments, *c_held, *c_overlaps, *c_overlap_bytes, *c_gaps, *c_gap_bytes;
    ns_counter *c_bound_flow, *c_bound_global, *c_reasm_fail, *g_held_bytes;
};

struct flow_apps *flow_apps_new(struct ns_instance *ins, const struct flow_apps_cfg *cfg, int *err)
{
    *err = 0;
    const struct ns_host *h = ins->host;
    if (h->size < offsetof(struct ns_host, app_peers) + sizeof(h->app_peers) ||
        h->app_peers == NULL)
        return NULL;
    struct ns_app_peer tmp[FLOW_APPS_MAX];
    size_t n = h->app_peers(ins, tmp, FLOW_APPS_MAX);
    if (n == 0)
        return NULL;
    if (n > FLOW_APPS_MAX) {
        ns_log_warn(ins, "%zu app decoders read from this node; only the first %d are fed", n,
                    FLOW_APPS_MAX);
        n = FLOW_APPS_MAX;
    }
    struct flow_apps *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    a->ins = ins;
    a->h = h;
    a->cfg = *cfg;
    if (a->cfg.max_probes == 0)
        a->cfg.max_probes = 1;
    memcpy(a->peers, tmp, n * sizeof(tmp[0]));
    a->npeers = n;
    a->rc.flow_max = cfg->flow_buffer > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg->flow_buffer;
    a->rc.global_max = cfg->total_buffer;
    for (size_t i = 0; i < n; i++) {
        char lab[96];
        snprintf(lab, sizeof(lab), "decoder=\"%s\"", a->peers[i].ins->name);
        a->c_claimed[i] = h->counter(ins, "app_flows_claimed_total", lab,
                                     "Flows claimed by an app decoder (app_probe said yes)");
        a->c_declined[i] = h->counter(ins, "app_flows_declined_total", lab,
                                      "Claimed flows whose app decoder stopped reading them");
    }
    a->c_unclaimed = h->counter(ins, "app_flows_unclaimed_total", NULL,
                                "Flows with payload that no app decoder claimed");
    a->c_probes = h->counter(ins, "app_probes_total", NULL, "Payloads offered to app_probe");
    a->c_slot_fail = h->counter(ins, "app_slot_failures_total", NULL,
                                "Flows not fed to app decoders because memory ran out");
    a->g_slots = h->gauge(ins, "app_flows", NULL, "Flows with app-decoder state now");
    a->c_segments = h->counter(ins, "reassembly_segments_total", NULL,
                               "TCP segments with payload given to reassembly");
    a->c_held = h->counter(ins, "reassembly_out_of_order_total", NULL,
                           "TCP segments held because they arrived ahead of a hole");
    a->c_overlaps = h->counter(ins, "reassembly_overlaps_total", NULL,
                               "TCP segments (or parts) carrying bytes already seen");
    a->c_overlap_bytes = h->counter(ins, "reassembly_overlap_bytes_total", NULL,
                                    "Bytes dropped as already seen (retransmissions, overlaps)");
    a->c_gaps = h->counter(ins, "reassembly_gaps_total", NULL,
                           "Holes in a TCP stream given up (signalled to the app decoder)");
    a->c_gap_bytes = h->counter(ins, "reassembly_gap_bytes_total", NULL,
                                "Bytes of TCP streams never seen (lost or cut by the snaplen)");
    a->c_bound_flow = h->counter(ins, "reassembly_bound_hits_total", "bound=\"flow\"",
                                 "Holes given up because a reassembly memory bound was hit");
    a->c_bound_global = h->counter(ins, "reassembly_bound_hits_total", "bound=\"total\"",
                                   "Holes given up because a reassembly memory bound was hit");
    a->c_reasm_fail = h->counter(ins, "reassembly_alloc_failures_total", NULL,
                                 "Out-of-order segments dropped because malloc failed");
    a->g_held_bytes = h->gauge(ins, "reassembly_held_bytes", NULL,
                               "Bytes held out of order by TCP reassembly now");
    return a;
}

void flow_apps_refresh(struct flow_apps *a)
{
    /* The app decoders are initialised after this node (they read from it),
     * so their ctx is only known once the pipeline runs. */
    struct ns_app_peer tmp[FLOW_APPS_MAX];
    size_t n = a->h->app_peers(a->ins, tmp, FLOW_APPS_MAX);
    if (n > a->npeers)
        n = a->npeers;
    for (size_t i = 0; i < n; i++)
        if (tmp[i].desc == a->peers[i].desc)
            a->peers[i] = tmp[i];
    a->ready = true;
}

/* The slot of index idx (1-based, <= nslots), live or not. */
static inline struct app_slot *slot_at(const struct flow_apps *a, uint32_t idx)
{
    return &a->chunks[(idx - 1) >> SLOT_CHUNK_SHIFT][(idx - 1) & (SLOT_CHUNK - 1)];
}

static void slot_release(struct flow_apps *a, uint32_t idx)
{
    struct app_slot *s = slot_at(a, idx);
    if (!s->live)
        return;
    reasm_free(&a->rc, &s->rs);
    s->live = false;
    a->free_idx[a->nfree++] = idx;
    a->n_slots--;
}

void flow_apps_free(struct flow_apps *a)
{
    if (a == NULL)
        return;
    for (uint32_t i = 1; i <= a->nslots; i++) {
        struct app_slot *s = slot_at(a, i);
        if (s->live)
            reasm_free(&a->rc, &s->rs);
    }
    for (uint32_t i = 0; i < a->nchunks; i++)
        free(a->chunks[i]);
    free(a->chunks);
    free(a->free_idx);
    free(a);
}

/* One more chunk of slots (nslots reached nchunks * SLOT_CHUNK). False when
 * memory ran out. */
static bool slot_grow(struct flow_apps *a)
{
    if (a->nchunks == a->chunks_cap) {
        uint32_t nc = a->chunks_cap ? a->chunks_cap * 2 : 16;
        struct app_slot **ch = realloc(a->chunks, nc * sizeof(*ch));
        if (ch == NULL)
            return false;
        a->chunks = ch;
        a->chunks_cap = nc;
    }
    /* The free stack can hold every index, so slot_release never fails.
     * Doubled, not grown by a chunk: a copy per chunk made growth quadratic
     * (2 % of the worker's samples on bench.pcap). */
    if ((a->nchunks + 1) * SLOT_CHUNK > a->free_cap) {
        uint32_t nc = a->free_cap == 0                ? 16 * SLOT_CHUNK
                      : a->free_cap <= UINT32_MAX / 2 ? a->free_cap * 2
                                                      : UINT32_MAX;
        uint32_t *nf = realloc(a->free_idx, (size_t)nc * sizeof(*nf));
        if (nf == NULL)
            return false;
        a->free_idx = nf;
        a->free_cap = nc;
    }
    struct app_slot *chunk = aligned_alloc(64, SLOT_CHUNK * sizeof(*chunk));
    if (chunk == NULL)
        return false;
    for (uint32_t i = 0; i < SLOT_CHUNK; i++)
        chunk[i].live = false;
    a->chunks[a->nchunks++] = chunk;
    return true;
}

/* A new slot for f; 0 when memory ran out (counted). */
static uint32_t slot_new(struct flow_apps *a, struct flow *f, int side)
{
    uint32_t idx;
    if (a->nfree > 0) {
        idx = a->free_idx[--a->nfree];
    } else {
        if (a->nslots == a->nchunks * SLOT_CHUNK &&
            (a->nslots >= UINT32_MAX - SLOT_CHUNK || !slot_grow(a))) {
            a->n_slot_fail++;
            return 0;
        }
        idx = ++a->nslots;
    }
    /* The slot the next new flow will take is written whole then: fetch it
     * now (a recycled one sits anywhere in the chunks and had gone cold). */
    uint32_t next = a->nfree > 0                          ? a->free_idx[a->nfree - 1]
                    : a->nslots < a->nchunks * SLOT_CHUNK ? a->nslots + 1
                                                          : 0;
    if (next != 0) {
        const char *ns = (const char *)slot_at(a, next);
        for (int l = 0; l < SLOT_LINES; l++)
            __builtin_prefetch(ns + 64 * l, 1);
    }
    struct app_slot *s = slot_at(a, idx);
    memset(s, 0, sizeof(*s));
    s->live = true;
    (void)side;
    const struct flow_key *k = &f->key;
    int cs = f->src_side, ss = !cs;
    s->client_side = (uint8_t)cs;
    s->tcp = k->proto == FLOW_IPPROTO_TCP;
    s->af.src_ip.family = s->af.dst_ip.family = k->family;
    memcpy(s->af.src_ip.a, k->addr[cs], k->family == 4 ? 4 : 16);
    memcpy(s->af.dst_ip.a, k->addr[ss], k->family == 4 ? 4 : 16);
    s->af.src_port = k->port[cs];
    s->af.dst_port = k->port[ss];
    s->af.transport = k->proto;
    s->af.ip_version = k->family;
    s->af.vlan = k->vlan_count > 0 ? k->vlan[0] : 0;
    s->af.first_ts = f->first_ts;
    if (community_id_v1(a->cfg.cid_seed, k->family, k->addr[cs], k->addr[ss], k->proto, k->port[cs],
                        k->port[ss], s->cid) == 0)
        s->af.community_id = s->cid;
    s->af.flow_ref = s;
    a->n_slots++;
    return idx;
}

/* Offer a payload to the peers (unclaimed flow). */
static void slot_probe(struct flow_apps *a, struct app_slot *s, int dir, const uint8_t *data,
                       uint32_t len)
{
    for (size_t i = 0; i < a->npeers; i++) {
        const struct ns_app_peer *p = &a->peers[i];
        a->n_probes++;
        if (p->desc->app_probe(p->ctx, &s->af, (enum ns_app_dir)dir, data, len, a->now) == NS_OK) {
            s->state = SLOT_CLAIMED;
            s->owner = (uint8_t)i;
            a->n_claimed[i]++;
            return;
        }
    }
    if (++s->probes >= a->cfg.max_probes) {
        s->state = SLOT_UNCLAIMED;
        a->n_unclaimed++;
    }
}

struct deliver_arg {
    struct flow_apps *a;
    struct app_slot *s;
};

/* Reassembly (or a UDP datagram) hands on bytes of direction dir (0 = to the
 * server). Called from inside reasm_*: must not free the slot. */
static void slot_deliver(void *arg, int dir, const uint8_t *data, uint32_t len, uint64_t gap)
{
    struct deliver_arg *da = arg;
    struct flow_apps *a = da->a;
    struct app_slot *s = da->s;
    if (s->state == SLOT_PROBING) {
        /* A hole before anyone claimed the flow does not matter: the probe
         * sees whatever comes next. */
        if (len > 0)
            slot_probe(a, s, dir, data, len);
        return;
    }
    if (s->state != SLOT_CLAIMED)
        return;
    const struct ns_app_peer *p = &a->peers[s->owner];
    static const uint8_t empty[1];
    int rc = p->desc->app_data(p->ctx, &s->af, (enum ns_app_dir)dir, data ? data : empty, len,
                               a->now, gap);
    if (rc == NS_DECLINED) {
        s->state = SLOT_STOPPED;
        a->n_declined[s->owner]++;
    }
}

static inline struct app_slot *slot_of(const struct flow_apps *a, const struct flow *f)
{
    if (f->app == 0 || f->app > a->nslots)
        return NULL;
    struct app_slot *s = slot_at(a, f->app);
    return s->live ? s : NULL;
}

void flow_apps_packet(struct flow_apps *a, struct flow *f, int side, const struct flow_pkt *p,
                      uint64_t ts_ns)
{
    struct app_slot *s = slot_of(a, f);
    bool tcp = p->proto == FLOW_IPPROTO_TCP;
    if (s == NULL) {
        if (p->payload_cap == 0 && !(tcp && (p->tcp_flags & FLOW_TCP_SYN)))
            return;
        uint32_t idx = slot_new(a, f, side);
        if (idx == 0)
            return;
        f->app = idx;
        s = slot_at(a, idx);
    }
    if (s->state == SLOT_UNCLAIMED || s->state == SLOT_STOPPED)
        return;
    a->now = ts_ns;
    int dir = side == s->client_side ? NS_APP_TO_SERVER : NS_APP_TO_CLIENT;
    struct deliver_arg da = {a, s};
    if (!tcp) {
        /* UDP: every datagram is one message. */
        if (p->payload_cap > 0)
            slot_deliver(&da, dir, p->payload, p->payload_cap, 0);
    } else {
        if (p->tcp_flags & FLOW_TCP_ACK)
            reasm_ack(&a->rc, &s->rs, !dir, p->tcp_ack, slot_deliver, &da);
        if (s->state == SLOT_PROBING || s->state == SLOT_CLAIMED)
            reasm_segment(&a->rc, &s->rs, dir, p->tcp_seq, p->tcp_flags, p->payload, p->payload_cap,
                          p->l4_payload, slot_deliver, &da);
    }
    if (s->state == SLOT_UNCLAIMED || s->state == SLOT_STOPPED)
        reasm_free(&a->rc, &s->rs); /* nothing more will be delivered */
}

/* Deliver what reassembly still holds (once, at the end of the flow). */
static void slot_finish(struct flow_apps *a, struct app_slot *s, uint64_t now)
{
    if (s->flushed)
        return;
    s->flushed = true;
    if (s->tcp && (s->state == SLOT_CLAIMED || s->state == SLOT_PROBING)) {
        struct deliver_arg da = {a, s};
        a->now = now;
        reasm_flush(&a->rc, &s->rs, NS_APP_TO_SERVER, slot_deliver, &da);
        reasm_flush(&a->rc, &s->rs, NS_APP_TO_CLIENT, slot_deliver, &da);
    }
    reasm_free(&a->rc, &s->rs);
}

void flow_apps_annotate(struct flow_apps *a, const struct flow *f, struct ns_record *rec,
                        bool ending, uint64_t now_ns)
{
    struct app_slot *s = slot_of(a, f);
    if (s == NULL)
        return;
    if (ending)
        slot_finish(a, s, now_ns);
    if (s->state != SLOT_CLAIMED && s->state != SLOT_STOPPED)
        return;
    const struct ns_app_peer *p = &a->peers[s->owner];
    if (p->desc->app_annotate != NULL)
        p->desc->app_annotate(p->ctx, &s->af, rec);
}

void flow_apps_end(struct flow_apps *a, const struct flow *f, uint64_t now_ns)
{
    struct app_slot *s = slot_of(a, f);
    if (s == NULL)
        return;
    slot_finish(a, s, now_ns);
    if (s->state == SLOT_PROBING && s->probes > 0)
        a->n_unclaimed++;
    if (s->state == SLOT_CLAIMED || s->state == SLOT_STOPPED) {
        const struct ns_app_peer *p = &a->peers[s->owner];
        if (p->desc->app_close != NULL)
            p->desc->app_close(p->ctx, &s->af, now_ns);
    }
    slot_release(a, f->app);
}

void flow_apps_prefetch(const struct flow_apps *a, const struct flow *f)
{
    uint32_t idx = f->app;
    if (idx == 0 || idx > a->nslots)
        return;
    const char *s = (const char *)slot_at(a, idx);
    for (int l = 0; l < SLOT_LINES; l++)
        __builtin_prefetch(s + 64 * l);
}

const char *flow_apps_cid(const struct flow_apps *a, const struct flow *f)
{
    const struct app_slot *s = slot_of(a, f);
    return s != NULL ? s->af.community_id : NULL;
}

bool flow_apps_ready(const struct flow_apps *a)
{
    return a->ready;
}

void flow_apps_publish(struct flow_apps *a)
{
    for (size_t i = 0; i < a->npeers; i++) {
        ns_gauge_set(a->c_claimed[i], a->n_claimed[i]);
        ns_gauge_set(a->c_declined[i], a->n_declined[i]);
    }
    ns_gauge_set(a->c_unclaimed, a->n_unclaimed);
    ns_gauge_set(a->c_probes, a->n_probes);
    ns_gauge_set(a->c_slot_fail, a->n_slot_fail);
    ns_gauge_set(a->g_slots, a->n_slots);
    const struct reasm_stats *st = &a->rc.st;
    ns_gauge_set(a->c_segments, st->segments);
    ns_gauge_set(a->c_held, st->held_segments);
    ns_gauge_set(a->c_overlaps, st->overlaps);
    ns_gauge_set(a->c_overlap_bytes, st->overlap_bytes);
    ns_gauge_set(a->c_gaps, st->gaps);
    ns_gauge_set(a->c_gap_bytes, st->gap_bytes);
    ns_gauge_set(a->c_bound_flow, st->bound_flow);
    ns_gauge_set(a->c_bound_global, st->bound_global);
    ns_gauge_set(a->c_reasm_fail, st->alloc_failures);
    ns_gauge_set(a->g_held_bytes, a->rc.used);
}
