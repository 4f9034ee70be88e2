/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ebpf_tcp.c - source/ebpf_tcp: exact per-connection TCP metrics from BTF
 * tracepoints, without copying packets (kernel side: bpf/ns_tcp.bpf.c).
 *
 * Every callback runs on the loop thread: this is a record source driven by
 * start() (the core gives record sources no thread of their own). init loads
 * and attaches the programs (a failure is one clear error line; with
 * `optional: true` the pipeline runs without the node); start polls the ring
 * buffer's epoll fd with uv_poll (early wake-ups when `wakeup_size` bytes are
 * pending) and drains it every `poll_interval`; every `interval` the kernel's
 * connection map is read and a tcp_update record goes out per connection that
 * changed. connect and close (with the final counts) come from ring-buffer
 * events; retransmit and drop events become records with `events: true`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <uv.h>

#include "netscope/netscope.h"

#include "ebpf_tcp.h"
#include "ns_bpf_user.h"
#include "ns_tcp.h"
#include "ns_tcp.skel.h"

#define ETCP_MAX_REASONS 512 /* enum skb_drop_reason values we name */

struct etcp_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    struct etcp_config cfg;
    struct ns_tcp *skel;
    struct ring_buffer *rb;
    uv_poll_t *poll;      /* malloc'd: freed by its close callback, which may run after destroy */
    uint64_t wall_off;    /* add to bpf_ktime_get_ns() for ns since the epoch */
    uint64_t last_export; /* bpf_ktime of the previous tcp_update pass */
    char *reasons[ETCP_MAX_REASONS];
    ns_counter *reason_cnt[ETCP_MAX_REASONS];
    int ncpu;
    ns_counter *c_connect, *c_close, *c_retrans_ev, *c_drop_ev, *c_updates;
    ns_counter *c_retrans_segs, *c_map_full, *c_rb_full, *c_drop_map_full, *c_rec_fail;
    ns_counter *c_bytes_sent, *c_bytes_recv, *c_drops;
    ns_counter *g_conns;
    bool series;        /* per-connection Prometheus series (host->series_set) */
    char node_lab[300]; /* `node="<host name>"`, escaped once */
    ns_counter *c_series_refused;
};

static const char *const etcp_states[] = {
    "unknown", "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2",    "time_wait",
    "close",   "close_wait",  "last_ack", "listen",   "closing",   "new_syn_recv", "bound_inactive",
};

static const char *etcp_state_name(uint8_t s)
{
    return s < sizeof(etcp_states) / sizeof(etcp_states[0]) ? etcp_states[s] : "unknown";
}

static const char *etcp_reason_name(const struct etcp_ctx *c, uint32_t r)
{
    return r < ETCP_MAX_REASONS && c->reasons[r] ? c->reasons[r] : "UNKNOWN";
}

/* ---- drop reason names from the kernel's BTF ------------------------------ */

/* Names of enum skb_drop_reason, without the SKB_DROP_REASON_ prefix, and one
 * counter per reason. Reasons vary between kernels, hence BTF and not a table. */
static void etcp_load_reasons(struct etcp_ctx *c)
{
    struct btf *btf = btf__load_vmlinux_btf();
    if (!btf) {
        ns_log_warn(c->ins, "kernel BTF unreadable: drop reasons are reported as numbers");
        return;
    }
    int id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
    if (id > 0) {
        const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
        const struct btf_enum *e = btf_enum(t);
        for (uint16_t i = 0; i < btf_vlen(t); i++) {
            uint32_t v = (uint32_t)e[i].val;
            const char *n = btf__name_by_offset(btf, e[i].name_off);
            if (v >= ETCP_MAX_REASONS || !n || v <= 1 || c->reasons[v])
                continue; /* 0, 1: not dropped / consumed */
            if (strncmp(n, "SKB_DROP_REASON_", 16) == 0)
                n += 16;
            c->reasons[v] = strdup(n);
        }
    }
    btf__free(btf);
    char lab[160];
    for (uint32_t v = 0; v < ETCP_MAX_REASONS; v++) {
        if (!c->reasons[v])
            continue;
        snprintf(lab, sizeof(lab), "reason=\"%s\"", c->reasons[v]);
        c->reason_cnt[v] = c->h->counter(c->ins, "ebpf_tcp_drops_total", lab,
                                         "skbs of tracked TCP sockets the kernel dropped, by "
                                         "reason (kfree_skb).");
    }
}

/* ---- records -------------------------------------------------------------- */

static void etcp_add_ip(struct etcp_ctx *c, struct ns_record *r, const char *key, uint16_t family,
                        const uint8_t *a)
{
    struct ns_ip ip;
    memset(&ip, 0, sizeof(ip));
    ip.family = (uint8_t)family;
    memcpy(ip.a, a, family == 4 ? 4 : 16);
    c->h->rec_add_ip(r, key, &ip);
}

/* The common head of every netscope.tcp record: who, where, which process. */
static struct ns_record *etcp_rec_begin(struct etcp_ctx *c, uint64_t ts_mono, const char *action,
                                        const char *type2, const struct ns_tcp_key *k,
                                        const struct ns_tcp_conn *cn)
{
    const struct ns_host *h = c->h;
    struct ns_record *r = h->rec_new(c->ins, NS_REC_TCP, ts_mono + c->wall_off);
    if (!r) {
        ns_counter_inc(c->c_rec_fail);
        return NULL;
    }
    h->rec_add_cstr(r, "event.kind", "event");
    h->rec_add_cstr(r, "event.category", "network");
    h->rec_begin_array(r, "event.type");
    h->rec_add_cstr(r, NULL, "connection");
    if (type2)
        h->rec_add_cstr(r, NULL, type2);
    h->rec_end(r);
    h->rec_add_cstr(r, "event.action", action);
    /* source = this socket, destination = its peer; the role says who connected. */
    etcp_add_ip(c, r, "source.ip", k->family, k->laddr);
    h->rec_add_uint(r, "source.port", k->lport);
    etcp_add_ip(c, r, "destination.ip", k->family, k->raddr);
    h->rec_add_uint(r, "destination.port", k->rport);
    h->rec_add_cstr(r, "network.transport", "tcp");
    h->rec_add_cstr(r, "network.iana_number", "6");
    h->rec_add_cstr(r, "network.type", k->family == 4 ? "ipv4" : "ipv6");
    if (cn) {
        static const char *const dirs[] = {"unknown", "outbound", "inbound"};
        h->rec_add_cstr(r, "network.direction", cn->role < 3 ? dirs[cn->role] : "unknown");
        if (cn->pid) {
            h->rec_add_uint(r, "process.pid", cn->pid);
            h->rec_add_str(r, "process.name", cn->comm, strnlen(cn->comm, sizeof(cn->comm)));
        }
    }
    h->rec_add_uint(r, "netscope.tcp.netns_cookie", k->netns);
    return r;
}

/* Counts and state of one connection (connect, update, close). */
static void etcp_add_conn(struct etcp_ctx *c, struct ns_record *r, const struct ns_tcp_conn *cn,
                          uint64_t end_mono)
{
    const struct ns_host *h = c->h;
    static const char *const roles[] = {"unknown", "client", "server"};
    h->rec_add_time(r, "event.start", cn->start_ns + c->wall_off);
    if (end_mono) {
        h->rec_add_time(r, "event.end", end_mono + c->wall_off);
        h->rec_add_uint(r, "event.duration", end_mono > cn->start_ns ? end_mono - cn->start_ns : 0);
    }
    h->rec_add_uint(r, "source.bytes", cn->bytes_sent);
    h->rec_add_uint(r, "destination.bytes", cn->bytes_recv);
    h->rec_add_uint(r, "netscope.tcp.bytes_sent", cn->bytes_sent);
    h->rec_add_uint(r, "netscope.tcp.bytes_received", cn->bytes_recv);
    h->rec_add_uint(r, "netscope.tcp.retransmissions", cn->retrans_segs);
    h->rec_add_uint(r, "netscope.tcp.retransmitted_skbs", cn->retrans_skbs);
    if (cn->srtt_us)
        h->rec_add_uint(r, "netscope.tcp.srtt_ns", (uint64_t)cn->srtt_us * 1000u);
    if (cn->rtt_samples) {
        h->rec_add_uint(r, "netscope.tcp.rtt_avg_ns", cn->rtt_sum_us * 1000u / cn->rtt_samples);
        h->rec_add_uint(r, "netscope.tcp.rtt_samples", cn->rtt_samples);
    }
    if (cn->cwnd)
        h->rec_add_uint(r, "netscope.tcp.cwnd", cn->cwnd);
    if (cn->mss)
        h->rec_add_uint(r, "netscope.tcp.mss", cn->mss);
    h->rec_add_uint(r, "netscope.tcp.drops", cn->drops);
    if (cn->drops)
        h->rec_add_cstr(r, "netscope.tcp.last_drop_reason",
                        etcp_reason_name(c, cn->last_drop_reason));
    h->rec_add_cstr(r, "netscope.tcp.state", etcp_state_name(cn->state));
    h->rec_add_cstr(r, "netscope.tcp.role", cn->role < 3 ? roles[cn->role] : "unknown");
}

static void etcp_emit(struct etcp_ctx *c, struct ns_record *r)
{
    if (r)
        c->h->emit(c->ins, r);
}

/* ---- Prometheus series per connection -------------------------------------- */

/* The product's names (PRODUCT.md "Outputs"). The events_* pair counts kernel
 * events: each tcp_retransmit_skb hit (one skb, maybe several segments) and
 * each kfree_skb with a drop reason on the socket. */
enum {
    ETCP_S_SENT,
    ETCP_S_RECV,
    ETCP_S_RETRANS,
    ETCP_S_RTT,
    ETCP_S_RTT_N,
    ETCP_S_DROPS,
    ETCP_S_EV_RETRANS,
    ETCP_S_EV_DROPS,
    ETCP_S_N
};
static const struct {
    const char *name;
    int type;
    const char *help;
} etcp_series_def[ETCP_S_N] = {
    {"network_observability_tcp_bytes_sent_total", NS_SERIES_COUNTER,
     "Bytes the application sent on this TCP connection (sock_send_length)."},
    {"network_observability_tcp_bytes_recv_total", NS_SERIES_COUNTER,
     "Bytes the application received on this TCP connection (sock_recv_length)."},
    {"network_observability_tcp_retransmissions_total", NS_SERIES_COUNTER,
     "TCP segments retransmitted on this connection (as TcpRetransSegs counts them)."},
    {"network_observability_tcp_rtt_avg_nanoseconds", NS_SERIES_GAUGE,
     "Mean of the sampled smoothed RTT of this connection (tcp_probe), in nanoseconds."},
    {"network_observability_tcp_rtt_samples_total", NS_SERIES_COUNTER,
     "smoothed-RTT samples taken on this connection."},
    {"network_observability_tcp_drops_total", NS_SERIES_COUNTER,
     "skbs of this connection the kernel dropped (kfree_skb with a reason)."},
    {"network_observability_events_retrans_total", NS_SERIES_COUNTER,
     "Retransmit events on this connection (tcp_retransmit_skb hits; one skb each)."},
    {"network_observability_events_drops_total", NS_SERIES_COUNTER,
     "Drop events on this connection (kfree_skb hits with a drop reason)."},
};

/* node, src_ip, dst_ip, src_port, dst_port (src = this socket, as in the records). */
static void etcp_labels(const struct etcp_ctx *c, const struct ns_tcp_key *k, char *buf, size_t cap)
{
    char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
    int af = k->family == 4 ? AF_INET : AF_INET6;
    if (!inet_ntop(af, k->laddr, l, sizeof(l)))
        strcpy(l, "?");
    if (!inet_ntop(af, k->raddr, r, sizeof(r)))
        strcpy(r, "?");
    snprintf(buf, cap, "%s,src_ip=\"%s\",dst_ip=\"%s\",src_port=\"%u\",dst_port=\"%u\"",
             c->node_lab, l, r, k->lport, k->rport);
}

/* Set this connection's series to its counts; `closed`: a last set, then
 * retire them (the core keeps them for metrics_series_grace, so a scrape
 * still sees the final counts). */
static void etcp_series(struct etcp_ctx *c, const struct ns_tcp_key *k,
                        const struct ns_tcp_conn *cn, bool closed)
{
    if (!c->series)
        return;
    char lab[512];
    etcp_labels(c, k, lab, sizeof(lab));
    uint64_t rtt =
        cn->rtt_samples ? cn->rtt_sum_us * 1000u / cn->rtt_samples : (uint64_t)cn->srtt_us * 1000u;
    const uint64_t v[ETCP_S_N] = {
        [ETCP_S_SENT] = cn->bytes_sent,         [ETCP_S_RECV] = cn->bytes_recv,
        [ETCP_S_RETRANS] = cn->retrans_segs,    [ETCP_S_RTT] = rtt,
        [ETCP_S_RTT_N] = cn->rtt_samples,       [ETCP_S_DROPS] = cn->drops,
        [ETCP_S_EV_RETRANS] = cn->retrans_skbs, [ETCP_S_EV_DROPS] = cn->drops,
    };
    for (int i = 0; i < ETCP_S_N; i++) {
        if (i == ETCP_S_RTT && rtt == 0)
            continue; /* no sample yet: no gauge rather than a false 0 */
        int rc = c->h->series_set(c->ins, etcp_series_def[i].name, etcp_series_def[i].type,
                                  etcp_series_def[i].help, lab, v[i]);
        if (rc == -ENOSPC && i == 0)
            ns_counter_inc(c->c_series_refused); /* the core counts each family too */
        if (closed && rc == 0)
            c->h->series_remove(c->ins, etcp_series_def[i].name, lab);
    }
}

/* ---- ring buffer events --------------------------------------------------- */

static int etcp_on_event(void *arg, void *data, size_t size)
{
    struct etcp_ctx *c = arg;
    const struct ns_tcp_event *e = data;
    if (size < sizeof(*e))
        return 0; /* a shorter record would be a build mismatch: ignore it */
    struct ns_record *r = NULL;
    switch (e->type) {
    case NS_TCP_EV_CONNECT:
        ns_counter_inc(c->c_connect);
        r = etcp_rec_begin(c, e->ts_ns, "tcp_connect", "start", &e->key, &e->conn);
        if (r)
            etcp_add_conn(c, r, &e->conn, 0);
        break;
    case NS_TCP_EV_CLOSE:
        ns_counter_inc(c->c_close);
        ns_counter_add(c->c_bytes_sent, e->conn.bytes_sent);
        ns_counter_add(c->c_bytes_recv, e->conn.bytes_recv);
        etcp_series(c, &e->key, &e->conn, true);
        r = etcp_rec_begin(c, e->ts_ns, "tcp_close", "end", &e->key, &e->conn);
        if (r)
            etcp_add_conn(c, r, &e->conn, e->conn.close_ns ? e->conn.close_ns : e->ts_ns);
        break;
    case NS_TCP_EV_RETRANS:
        ns_counter_inc(c->c_retrans_ev);
        ns_counter_add(c->c_retrans_segs, e->aux);
        if (!c->cfg.events)
            return 0;
        r = etcp_rec_begin(c, e->ts_ns, "tcp_retransmit", NULL, &e->key, NULL);
        if (r)
            c->h->rec_add_uint(r, "netscope.tcp.retransmitted_segments", e->aux);
        break;
    case NS_TCP_EV_DROP:
        ns_counter_inc(c->c_drop_ev);
        if (!c->cfg.events)
            return 0;
        r = etcp_rec_begin(c, e->ts_ns, "tcp_drop", NULL, &e->key, NULL);
        if (r)
            c->h->rec_add_cstr(r, "netscope.tcp.drop_reason", etcp_reason_name(c, e->aux));
        break;
    default:
        return 0;
    }
    etcp_emit(c, r);
    return 0;
}

static void etcp_drain(struct etcp_ctx *c)
{
    if (c->rb)
        ring_buffer__consume(c->rb);
}

static void etcp_poll_cb(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    etcp_drain(p->data);
}

static void etcp_poll_timer(void *arg)
{
    etcp_drain(arg);
}

/* ---- periodic export of the connection map -------------------------------- */

/* Kernel-side conditions and drop reasons into the counters (absolute values:
 * the kernel's counts are monotonic). */
static void etcp_export_stats(struct etcp_ctx *c)
{
    ns_gauge_set(c->c_map_full, nsb_percpu_sum(c->skel->maps.stats, NS_TCP_STAT_MAP_FULL, c->ncpu));
    ns_gauge_set(c->c_rb_full, nsb_percpu_sum(c->skel->maps.stats, NS_TCP_STAT_RB_FULL, c->ncpu));
    ns_gauge_set(c->c_drop_map_full,
                 nsb_percpu_sum(c->skel->maps.stats, NS_TCP_STAT_DROP_MAP_FULL, c->ncpu));
    int fd = bpf_map__fd(c->skel->maps.drop_reasons);
    struct ns_tcp_drop_key k, next;
    uint64_t per[ETCP_MAX_REASONS];
    memset(per, 0, sizeof(per));
    uint64_t total = 0;
    void *prev = NULL;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        uint64_t v;
        if (bpf_map_lookup_elem(fd, &next, &v) == 0 && next.reason < ETCP_MAX_REASONS) {
            per[next.reason] += v;
            total += v;
        }
        k = next;
        prev = &k;
    }
    for (uint32_t r = 0; r < ETCP_MAX_REASONS; r++)
        if (c->reason_cnt[r] && per[r] > ns_counter_get(c->reason_cnt[r]))
            ns_gauge_set(c->reason_cnt[r], per[r]);
    if (total > ns_counter_get(c->c_drops))
        ns_gauge_set(c->c_drops, total);
}

/* One tcp_update record per connection active since the previous pass (all of
 * them when `all`). The map changes under us; a connection deleted meanwhile
 * is reported by its close event instead. */
static void etcp_export(struct etcp_ctx *c, bool all)
{
    if (!c->skel)
        return;
    etcp_drain(c); /* connects first, so updates follow them */
    int fd = bpf_map__fd(c->skel->maps.conns);
    uint64_t now = nsb_mono_ns();
    struct ns_tcp_key k, next;
    struct ns_tcp_conn cn;
    void *prev = NULL;
    uint64_t n = 0;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        k = next;
        prev = &k;
        n++;
        if (bpf_map_lookup_elem(fd, &k, &cn) != 0)
            continue;
        if (!all && cn.last_ns < c->last_export)
            continue;
        etcp_series(c, &k, &cn, false);
        struct ns_record *r = etcp_rec_begin(c, now, "tcp_update", NULL, &k, &cn);
        if (!r)
            continue;
        etcp_add_conn(c, r, &cn, cn.close_ns ? cn.close_ns : now);
        ns_counter_inc(c->c_updates);
        etcp_emit(c, r);
    }
    ns_gauge_set(c->g_conns, n);
    c->last_export = now;
    etcp_export_stats(c);
}

static void etcp_export_timer(void *arg)
{
    etcp_export(arg, false);
}

/* ---- lifecycle ------------------------------------------------------------ */

static void etcp_free(struct etcp_ctx *c)
{
    ring_buffer__free(c->rb);
    ns_tcp__destroy(c->skel); /* detaches every program (the links are its fds) */
    for (int i = 0; i < ETCP_MAX_REASONS; i++)
        free(c->reasons[i]);
    free(c);
}

/* Open, size, load and attach the programs (libbpf glue: bpf/ns_bpf_user.c);
 * each failure is one error line naming the cause. */
static int etcp_load(struct etcp_ctx *c)
{
    int err = NSB_OPEN(c->ins, ns_tcp, &c->skel);
    if (err)
        return err;
    c->skel->rodata->filter_netns = c->cfg.netns_cookie;
    c->skel->rodata->wakeup_bytes = c->cfg.wakeup_size;
    c->skel->rodata->lazy_track = c->cfg.track_existing;
    c->skel->rodata->retrans_events = true; /* also feeds the retransmit counter */
    c->skel->rodata->drop_events = c->cfg.events;
    c->skel->rodata->probe_sample = (uint32_t)c->cfg.rtt_sample;
    bpf_map__set_max_entries(c->skel->maps.conns, (uint32_t)c->cfg.max_connections);
    bpf_map__set_max_entries(c->skel->maps.events, (uint32_t)c->cfg.ring_size);
    if (!c->cfg.rtt)
        bpf_program__set_autoload(c->skel->progs.ns_tcp_probe, false);
    err = nsb_load(c->ins, c->skel->skeleton, "loading the BPF programs failed");
    if (err)
        return err;
    err = nsb_attach(c->ins, c->skel->skeleton, "attaching the BPF programs to tracepoints failed");
    if (err)
        return err;
    c->rb = nsb_ringbuf_new(c->ins, c->skel->maps.events, etcp_on_event, c);
    return c->rb ? 0 : -errno;
}

static int etcp_init(struct ns_instance *ins, const void *config, void **ctxp)
{
    const struct etcp_config *cfg = config;
    uint64_t rs = cfg->ring_size;
    if (rs & (rs - 1)) {
        ns_log_error(ins, "ring_size must be a power of two (got %" PRIu64 ")", rs);
        return -EINVAL;
    }
    int rc = nsb_preflight(ins, false);
    if (rc)
        return rc;
    struct etcp_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    c->cfg = *cfg;
    c->ncpu = libbpf_num_possible_cpus();
    c->wall_off = nsb_mono_to_wall();
    const struct ns_host *h = c->h;
    c->c_connect = h->counter(ins, "ebpf_tcp_events_total", "type=\"connect\"",
                              "Ring-buffer events received, by type.");
    c->c_close = h->counter(ins, "ebpf_tcp_events_total", "type=\"close\"", NULL);
    c->c_retrans_ev = h->counter(ins, "ebpf_tcp_events_total", "type=\"retransmit\"", NULL);
    c->c_drop_ev = h->counter(ins, "ebpf_tcp_events_total", "type=\"drop\"", NULL);
    c->c_updates = h->counter(ins, "ebpf_tcp_updates_total", NULL,
                              "tcp_update records emitted from the connection map.");
    c->c_retrans_segs = h->counter(ins, "ebpf_tcp_retransmitted_segments_total", NULL,
                                   "TCP segments retransmitted (as TcpRetransSegs counts them).");
    c->c_map_full = h->counter(ins, "ebpf_tcp_map_full_total", NULL,
                               "Connections not tracked because the kernel map was full "
                               "(raise max_connections).");
    c->c_rb_full = h->counter(ins, "ebpf_tcp_ringbuf_full_total", NULL,
                              "Events lost because the ring buffer was full (raise ring_size).");
    c->c_drop_map_full = h->counter(ins, "ebpf_tcp_drop_map_full_total", NULL,
                                    "Drops not counted by reason because the reason map was full.");
    c->c_rec_fail =
        h->counter(ins, "ebpf_tcp_records_failed_total", NULL, "Records not built: out of memory.");
    c->c_bytes_sent =
        h->counter(ins, "ebpf_tcp_bytes_sent_total", NULL, "Bytes sent by closed connections.");
    c->c_bytes_recv = h->counter(ins, "ebpf_tcp_bytes_received_total", NULL,
                                 "Bytes received by closed connections.");
    c->c_drops = h->counter(ins, "ebpf_tcp_drops_all_total", NULL,
                            "skbs of tracked TCP sockets dropped, every reason.");
    c->g_conns = h->gauge(ins, "ebpf_tcp_connections", NULL,
                          "Connections in the kernel map at the last export.");
    /* A core older than host->series_set leaves the per-connection series out. */
    c->series = cfg->metrics &&
                h->size >= offsetof(struct ns_host, series_remove) + sizeof(h->series_remove) &&
                h->series_set && h->series_remove;
    if (cfg->metrics && !c->series)
        ns_log_warn(ins, "this core has no host->series_set: no network_observability_tcp_* "
                         "series");
    /* node = the agent's host name (the Kubernetes node), escaped for label text */
    const char *hn = h->hostname(ins);
    size_t n = (size_t)snprintf(c->node_lab, sizeof(c->node_lab), "node=\"");
    for (; hn && *hn && n + 4 < sizeof(c->node_lab); hn++) {
        if (*hn == '"' || *hn == '\\' || *hn == '\n')
            c->node_lab[n++] = '\\';
        c->node_lab[n++] = *hn == '\n' ? 'n' : *hn;
    }
    c->node_lab[n++] = '"';
    c->node_lab[n] = '\0';
    c->c_series_refused = h->counter(ins, "ebpf_tcp_series_refused_total", NULL,
                                     "Connection exports without Prometheus series because "
                                     "netscope: metrics_max_series was reached.");
    etcp_load_reasons(c);
    rc = etcp_load(c);
    if (rc) {
        etcp_free(c);
        return rc;
    }
    c->last_export = nsb_mono_ns();
    ns_log_info(ins, "attached to tcp tracepoints (netns filter %s, %" PRIu64 " connections max)",
                cfg->netns_cookie ? "on" : "off", cfg->max_connections);
    *ctxp = c;
    return 0;
}

static int etcp_start(void *ctx)
{
    struct etcp_ctx *c = ctx;
    const struct ns_host *h = c->h;
    int rc = h->timer(c->ins, c->cfg.poll_interval, etcp_poll_timer, c);
    if (rc == 0 && c->cfg.interval)
        rc = h->timer(c->ins, c->cfg.interval, etcp_export_timer, c);
    if (rc) {
        ns_log_error(c->ins, "cannot arm timers: %s", strerror(-rc));
        return rc;
    }
    c->poll = malloc(sizeof(*c->poll));
    if (!c->poll)
        return -ENOMEM;
    rc = uv_poll_init(h->loop(c->ins), c->poll, ring_buffer__epoll_fd(c->rb));
    if (rc == 0) {
        c->poll->data = c;
        rc = uv_poll_start(c->poll, UV_READABLE, etcp_poll_cb);
    }
    if (rc) {
        /* The timer still drains the ring: degrade to polling only. */
        ns_log_warn(c->ins, "cannot watch the ring buffer (%s): draining it on the timer only",
                    uv_strerror(rc));
        free(c->poll);
        c->poll = NULL;
    }
    return 0;
}

static void etcp_poll_closed(uv_handle_t *hd)
{
    free(hd);
}

static int etcp_stop(void *ctx)
{
    struct etcp_ctx *c = ctx;
    if (c->poll) {
        uv_poll_stop(c->poll);
        uv_close((uv_handle_t *)c->poll, etcp_poll_closed);
        c->poll = NULL;
    }
    /* Final pass: pending events, then every open connection's counts. */
    etcp_export(c, true);
    return 0;
}

static void etcp_destroy(void *ctx)
{
    etcp_free(ctx);
}

#define OFF(f) offsetof(struct etcp_config, f)
static const struct ns_option etcp_options[] = {
    {.name = "interval",
     .type = NS_OPT_DURATION,
     .def = "10s",
     .offset = OFF(interval),
     .doc = "Emit a tcp_update record for every connection active since the previous one this "
            "often; 0 = only tcp_connect and tcp_close records."},
    {.name = "poll_interval",
     .type = NS_OPT_DURATION,
     .def = "100ms",
     .min = 1e6,
     .max = 60e9,
     .offset = OFF(poll_interval),
     .doc = "Drain the kernel's event ring buffer this often (events wake the source earlier "
            "only when wakeup_size bytes are pending)."},
    {.name = "max_connections",
     .type = NS_OPT_UINT,
     .def = "65536",
     .min = 64,
     .max = 16777216,
     .offset = OFF(max_connections),
     .doc = "Connections tracked in the kernel map (about 200 bytes each); when full, new "
            "connections are counted in ebpf_tcp_map_full_total, not tracked."},
    {.name = "ring_size",
     .type = NS_OPT_SIZE,
     .def = "1MiB",
     .min = 65536,
     .max = 1073741824,
     .offset = OFF(ring_size),
     .doc = "Size of the event ring buffer (a power of two); events that do not fit are counted "
            "in ebpf_tcp_ringbuf_full_total."},
    {.name = "wakeup_size",
     .type = NS_OPT_SIZE,
     .def = "64KiB",
     .offset = OFF(wakeup_size),
     .doc = "Pending event bytes that make the kernel wake the source before the next poll; 0 "
            "wakes it for every event (about 25 us of kernel time per event)."},
    {.name = "netns_cookie",
     .type = NS_OPT_UINT,
     .def = "0",
     .offset = OFF(netns_cookie),
     .doc = "Only this network namespace (its SO_NETNS_COOKIE); 0 = every namespace."},
    {.name = "events",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = OFF(events),
     .doc = "Also emit a record per retransmission (tcp_retransmit) and per drop (tcp_drop); "
            "they are always counted."},
    {.name = "track_existing",
     .type = NS_OPT_BOOL,
     .def = "true",
     .offset = OFF(track_existing),
     .doc = "Track connections opened before the source started, from their next activity "
            "(their counts start then; role unknown)."},
    {.name = "rtt",
     .type = NS_OPT_BOOL,
     .def = "true",
     .offset = OFF(rtt),
     .doc = "Sample smoothed RTT and cwnd on received segments (tcp_probe, the costliest "
            "tracepoint); false leaves only the RTT at close."},
    {.name = "rtt_sample",
     .type = NS_OPT_UINT,
     .def = "4",
     .min = 1,
     .max = 1000000,
     .offset = OFF(rtt_sample),
     .doc = "Handle one tcp_probe hit in this many, at random (1 = every received segment): "
            "the kernel's srtt is smoothed already, and this is most of the source's cost."},
    {.name = "metrics",
     .type = NS_OPT_BOOL,
     .def = "true",
     .offset = OFF(metrics),
     .doc = "Export per-connection Prometheus series (network_observability_tcp_*, "
            "network_observability_events_*) on /metrics, updated every interval and at close; "
            "bounded by netscope: metrics_max_series."},
    NS_OPT_END,
};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "ebpf_tcp", .version = "0.1.0",
                 .summary = "Per-connection TCP metrics from kernel tracepoints (eBPF)",
                 .options = etcp_options, .config_size = sizeof(struct etcp_config),
                 .flags = NS_PLUGIN_EMITS_RECORDS | NS_PLUGIN_NEEDS_ROOT, .init = etcp_init,
                 .start = etcp_start, .stop = etcp_stop, .destroy = etcp_destroy);
