// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * ns_tcp.bpf.c - per-connection TCP metrics from BTF tracepoints (source/ebpf_tcp).
 *
 * Loaded by plugins/source/ebpf_tcp through the generated skeleton; runs in the
 * kernel on whatever CPU hits the tracepoint. Only tp_btf programs: they need no
 * tracefs and, unlike classic tracepoints, never skip a hit under recursion, so
 * the counters are exact. Connections live in `conns` keyed by 5-tuple + netns
 * cookie; events go to the `events` ring buffer without a wake-up until
 * `wakeup_bytes` are pending (user space also polls on a timer), which keeps the
 * per-event cost near 1 us instead of ~25 us.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ns_tcp.h"

#define NS_AF_INET 2
#define NS_AF_INET6 10
#define NS_IPPROTO_TCP 6
#define NS_E2BIG 7
#define NS_EEXIST 17
#define NS_MSG_PEEK 2
#define NS_TCP_ESTABLISHED 1
#define NS_TCP_SYN_SENT 2
#define NS_TCP_SYN_RECV 3
#define NS_TCP_CLOSE 7

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Knobs set by user space between open and load. */
const volatile __u64 filter_netns = 0; /* 0: every namespace */
const volatile __u64 wakeup_bytes = 0; /* 0: wake user space on every event */
const volatile bool lazy_track = true; /* track connections that predate the collector */
const volatile bool retrans_events = true;
const volatile bool drop_events = true;
const volatile __u32 probe_sample = 1; /* tcp_probe: handle 1 hit in N */

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536); /* max_connections, resized before load */
    __type(key, struct ns_tcp_key);
    __type(value, struct ns_tcp_conn);
} conns SEC(".maps");

/* connect() caller, keyed by socket, from SYN_SENT until ESTABLISHED. */
struct ns_tcp_owner {
    __u32 pid;
    char comm[NS_TCP_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct ns_tcp_owner);
} owners SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct ns_tcp_drop_key);
    __type(value, __u64);
} drop_reasons SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20); /* ring_bytes, resized before load */
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, NS_TCP_STAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 slot)
{
    __u64 *v = bpf_map_lookup_elem(&stats, &slot);
    if (v)
        *v += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline bool is_v4_mapped(const __u8 *a)
{
    const __u32 *w = (const __u32 *)a;
    return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

/* Fill key from sk. Returns false for sockets we do not track: not TCP, not
 * IPv4/IPv6, another namespace than the filter, or no local port yet (the
 * CLOSE -> SYN_SENT transition fires before the ephemeral port is chosen). */
static __always_inline bool key_of(const struct sock *sk, struct ns_tcp_key *k)
{
    if (BPF_CORE_READ(sk, sk_protocol) != NS_IPPROTO_TCP)
        return false;
    __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (fam != NS_AF_INET && fam != NS_AF_INET6)
        return false;
    __builtin_memset(k, 0, sizeof(*k));
    k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
    if (filter_netns && k->netns != filter_netns)
        return false;
    /* inet_sport, not skc_num: inet_put_port() zeroes skc_num before the
     * TCP_CLOSE transition and tcp_destroy_sock. */
    k->lport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
    k->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (k->lport == 0)
        return false;
    if (fam == NS_AF_INET) {
        k->family = 4;
        bpf_core_read(k->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
        bpf_core_read(k->raddr, 4, &sk->__sk_common.skc_daddr);
        return true;
    }
    bpf_core_read(k->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    bpf_core_read(k->raddr, 16, &sk->__sk_common.skc_v6_daddr);
    /* Dual-stack: an IPv4 peer accepted on [::] is AF_INET6 with ::ffff:a.b.c.d;
     * key it as IPv4 so both ends of the connection look alike. */
    if (is_v4_mapped(k->laddr) && is_v4_mapped(k->raddr)) {
        __builtin_memcpy(k->laddr, k->laddr + 12, 4);
        __builtin_memcpy(k->raddr, k->raddr + 12, 4);
        __builtin_memset(k->laddr + 4, 0, 12);
        __builtin_memset(k->raddr + 4, 0, 12);
        k->family = 4;
    } else {
        k->family = 6;
    }
    return true;
}

static __always_inline void set_owner(struct ns_tcp_conn *c)
{
    __u64 pt = bpf_get_current_pid_tgid();
    c->pid = (__u32)(pt >> 32);
    bpf_get_current_comm(c->comm, sizeof(c->comm));
}

static __always_inline void emit_event(__u32 type, __u32 aux, const struct ns_tcp_key *k,
                                       const struct ns_tcp_conn *c)
{
    struct ns_tcp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        stat_inc(NS_TCP_STAT_RB_FULL);
        return;
    }
    e->ts_ns = bpf_ktime_get_ns();
    e->type = type;
    e->aux = aux;
    __builtin_memcpy(&e->key, k, sizeof(*k));
    if (c)
        __builtin_memcpy(&e->conn, c, sizeof(*c));
    else
        __builtin_memset(&e->conn, 0, sizeof(e->conn));
    /* Batched wake-ups: a wake-up costs ~25 us per event; user space polls
     * the ring on a timer anyway and is woken early only when it fills up. */
    __u64 flags = BPF_RB_FORCE_WAKEUP;
    if (wakeup_bytes && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < wakeup_bytes)
        flags = BPF_RB_NO_WAKEUP;
    bpf_ringbuf_submit(e, flags);
    stat_inc(NS_TCP_STAT_EVENTS);
}

/* The entry of a tracked connection; with lazy_track, connections that predate
 * the collector are added on first sight (role unknown). */
static __always_inline struct ns_tcp_conn *conn_get(const struct sock *sk, struct ns_tcp_key *k,
                                                    bool process_ctx)
{
    struct ns_tcp_conn *c = bpf_map_lookup_elem(&conns, k);
    if (c || !lazy_track)
        return c;
    __u8 st = BPF_CORE_READ(sk, __sk_common.skc_state);
    if (st == NS_TCP_CLOSE || st == NS_TCP_SYN_SENT)
        return NULL; /* closed, or about to get its own ESTABLISHED entry */
    struct ns_tcp_conn n = {};
    n.start_ns = n.last_ns = bpf_ktime_get_ns();
    n.state = st;
    if (process_ctx)
        set_owner(&n);
    if (bpf_map_update_elem(&conns, k, &n, BPF_NOEXIST) == -NS_E2BIG) {
        stat_inc(NS_TCP_STAT_MAP_FULL);
        return NULL;
    }
    return bpf_map_lookup_elem(&conns, k);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ns_tcp_state, const struct sock *sk, const int oldstate, const int newstate)
{
    /* Copy the arguments first: clang 14 may otherwise re-read them through a
     * modified context pointer, which the verifier refuses. */
    int olds = oldstate, news = newstate;
    struct ns_tcp_key k;
    __u64 skp = (__u64)sk;

    if (news == NS_TCP_SYN_SENT) {
        /* connect(): the caller is current. The port is not chosen yet, so
         * remember the owner by socket until ESTABLISHED. */
        if (BPF_CORE_READ(sk, sk_protocol) != NS_IPPROTO_TCP)
            return 0;
        struct ns_tcp_owner o = {};
        o.pid = (__u32)(bpf_get_current_pid_tgid() >> 32);
        bpf_get_current_comm(o.comm, sizeof(o.comm));
        bpf_map_update_elem(&owners, &skp, &o, BPF_ANY);
        return 0;
    }
    if (!key_of(sk, &k))
        return 0;
    if (news == NS_TCP_ESTABLISHED && (olds == NS_TCP_SYN_SENT || olds == NS_TCP_SYN_RECV)) {
        struct ns_tcp_conn n = {};
        n.start_ns = n.last_ns = bpf_ktime_get_ns();
        n.state = NS_TCP_ESTABLISHED;
        if (olds == NS_TCP_SYN_SENT) {
            n.role = NS_TCP_ROLE_CLIENT;
            struct ns_tcp_owner *o = bpf_map_lookup_elem(&owners, &skp);
            if (o) {
                n.pid = o->pid;
                __builtin_memcpy(n.comm, o->comm, sizeof(n.comm));
                bpf_map_delete_elem(&owners, &skp);
            }
        } else {
            /* Accepted: the owner is known at the first send or receive. */
            n.role = NS_TCP_ROLE_SERVER;
        }
        if (bpf_map_update_elem(&conns, &k, &n, BPF_ANY) == -NS_E2BIG) {
            stat_inc(NS_TCP_STAT_MAP_FULL);
            return 0;
        }
        emit_event(NS_TCP_EV_CONNECT, 0, &k, &n);
        return 0;
    }
    struct ns_tcp_conn *c = bpf_map_lookup_elem(&conns, &k);
    if (!c)
        return 0;
    c->state = (__u8)news;
    c->last_ns = bpf_ktime_get_ns();
    if (news == NS_TCP_CLOSE)
        c->close_ns = c->last_ns;
    return 0;
}

/* The socket is freed: nothing can be counted on it any more, so the final
 * counts go out and the entry is removed. Later than TCP_CLOSE on purpose: an
 * application may still read queued data after the FIN moved it to CLOSE. */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(ns_tcp_destroy, struct sock *sk)
{
    struct ns_tcp_key k;
    __u64 skp = (__u64)sk;
    bpf_map_delete_elem(&owners, &skp);
    if (!key_of(sk, &k))
        return 0;
    struct ns_tcp_conn *c = bpf_map_lookup_elem(&conns, &k);
    if (!c)
        return 0;
    const struct tcp_sock *tp = (const struct tcp_sock *)sk;
    __u32 srtt = BPF_CORE_READ(tp, srtt_us) >> 3;
    if (srtt)
        c->srtt_us = srtt;
    if (!c->close_ns)
        c->close_ns = bpf_ktime_get_ns();
    c->state = NS_TCP_CLOSE;
    emit_event(NS_TCP_EV_CLOSE, 0, &k, c);
    bpf_map_delete_elem(&conns, &k);
    return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(ns_tcp_send, struct sock *sk, int ret, int flags)
{
    int n = ret;
    struct ns_tcp_key k;
    if (n <= 0 || !key_of(sk, &k))
        return 0;
    struct ns_tcp_conn *c = conn_get(sk, &k, true);
    if (!c)
        return 0;
    __sync_fetch_and_add(&c->bytes_sent, (__u64)n);
    c->last_ns = bpf_ktime_get_ns();
    if (!c->pid)
        set_owner(c);
    return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ns_tcp_recv, struct sock *sk, int ret, int flags)
{
    int n = ret, fl = flags;
    struct ns_tcp_key k;
    if (n <= 0 || (fl & NS_MSG_PEEK) || !key_of(sk, &k))
        return 0;
    struct ns_tcp_conn *c = conn_get(sk, &k, true);
    if (!c)
        return 0;
    __sync_fetch_and_add(&c->bytes_recv, (__u64)n);
    c->last_ns = bpf_ktime_get_ns();
    if (!c->pid)
        set_owner(c);
    return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(ns_tcp_probe, struct sock *sk, const struct sk_buff *skb)
{
    struct ns_tcp_key k;
    /* Every received segment hits this (~40k/s per Gbit/s of small ACKs and
     * data): srtt is smoothed already, so a random sample loses little. */
    if (probe_sample > 1 && bpf_get_prandom_u32() % probe_sample)
        return 0;
    if (!key_of(sk, &k))
        return 0;
    struct ns_tcp_conn *c = conn_get(sk, &k, false);
    if (!c)
        return 0;
    const struct tcp_sock *tp = (const struct tcp_sock *)sk;
    __u32 srtt = BPF_CORE_READ(tp, srtt_us) >> 3; /* kept << 3 by the kernel */
    c->cwnd = BPF_CORE_READ(tp, snd_cwnd);
    c->mss = BPF_CORE_READ(tp, mss_cache);
    if (srtt) {
        c->srtt_us = srtt;
        /* Several CPUs may sample one connection (softirq and process). */
        __sync_fetch_and_add(&c->rtt_sum_us, (__u64)srtt);
        __sync_fetch_and_add(&c->rtt_samples, 1);
    }
    return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(ns_tcp_retrans, const struct sock *sk, const struct sk_buff *skb, int err)
{
    int e = err;
    struct ns_tcp_key k;
    /* err < 0: nothing left the host (the kernel does not count it either);
     * err > 0: a local qdisc/TC dropped it, which TCP counts as retransmitted. */
    if (e < 0 || !key_of(sk, &k))
        return 0;
    /* One hit is one skb, possibly TSO: count segments like TcpRetransSegs. */
    const struct tcp_skb_cb *cb = (const struct tcp_skb_cb *)&skb->cb[0];
    __u32 segs = BPF_CORE_READ(cb, tcp_gso_segs);
    if (segs == 0)
        segs = 1;
    struct ns_tcp_conn *c = conn_get(sk, &k, false);
    if (c) {
        __sync_fetch_and_add(&c->retrans_segs, (__u64)segs);
        __sync_fetch_and_add(&c->retrans_skbs, 1);
        c->last_ns = bpf_ktime_get_ns();
    }
    if (retrans_events)
        emit_event(NS_TCP_EV_RETRANS, segs, &k, NULL);
    return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(ns_tcp_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
             struct sock *rx_sk)
{
    __u32 why = (__u32)reason;
    if (why <= SKB_CONSUMED)
        return 0; /* not a drop */
    /* skb->sk for transmitted skbs, rx_sk for received ones (6.12+). */
    struct sock *sk = BPF_CORE_READ(skb, sk);
    if (!sk)
        sk = rx_sk;
    if (!sk)
        return 0;
    struct ns_tcp_key k;
    if (!key_of(sk, &k))
        return 0;
    struct ns_tcp_drop_key dk = {.netns = k.netns, .reason = why};
    __u64 *cnt = bpf_map_lookup_elem(&drop_reasons, &dk);
    if (cnt) {
        __sync_fetch_and_add(cnt, 1);
    } else {
        __u64 one = 1;
        long rc = bpf_map_update_elem(&drop_reasons, &dk, &one, BPF_NOEXIST);
        if (rc == -NS_E2BIG) {
            stat_inc(NS_TCP_STAT_DROP_MAP_FULL);
        } else if (rc == -NS_EEXIST) {
            /* Another CPU added it first: count on its entry. */
            cnt = bpf_map_lookup_elem(&drop_reasons, &dk);
            if (cnt)
                __sync_fetch_and_add(cnt, 1);
        }
    }
    struct ns_tcp_conn *c = bpf_map_lookup_elem(&conns, &k);
    if (c) {
        __sync_fetch_and_add(&c->drops, 1);
        c->last_drop_reason = why;
    }
    if (drop_events)
        emit_event(NS_TCP_EV_DROP, why, &k, NULL);
    return 0;
}
