// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * ns_flow.bpf.c - per-flow packet and byte counters at TC clsact (source/ebpf_flow).
 *
 * Attached by plugins/source/ebpf_flow to the ingress and egress hooks of each
 * configured interface; runs in softirq/transmit context on any CPU and never
 * changes the packet (always TC_ACT_UNSPEC, so later filters still run). A GSO
 * skb is counted as skb->gso_segs wire packets, so counts match what a capture
 * on the wire would show; the skb count is kept too, because interface
 * statistics (and tcpdump on the host) see one skb.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ns_flow.h"

#define NS_ETH_P_IP 0x0800
#define NS_ETH_P_IPV6 0x86DD
#define NS_ETH_P_8021Q 0x8100
#define NS_ETH_P_8021AD 0x88A8
#define NS_TC_ACT_UNSPEC (-1)
#define NS_IPPROTO_TCP 6
#define NS_E2BIG 7
#define NS_IPPROTO_UDP 17
#define NS_IPPROTO_ICMP 1
#define NS_IPPROTO_ICMPV6 58
#define NS_IPPROTO_SCTP 132

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536); /* max_flows, resized before load */
    __type(key, struct ns_flow_key);
    __type(value, struct ns_flow_val);
} flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, NS_FLOW_STAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 slot)
{
    __u64 *v = bpf_map_lookup_elem(&stats, &slot);
    if (v)
        *v += 1; /* per-CPU slot */
}

/* Lexicographic compare of (address, port) pairs, for the canonical order.
 * Word by word in network order: the same order as byte by byte. */
static __always_inline int ep_cmp(const __u32 *a, __u16 pa, const __u32 *b, __u16 pb)
{
#pragma unroll
    for (int i = 0; i < 4; i++) {
        __u32 x = bpf_ntohl(a[i]), y = bpf_ntohl(b[i]);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return pa == pb ? 0 : (pa < pb ? -1 : 1);
}

static __always_inline int ns_flow_count(struct __sk_buff *skb, bool ingress)
{
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    __u32 off = sizeof(struct ethhdr);
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) {
        stat_inc(ingress ? NS_FLOW_STAT_OTHER_IN : NS_FLOW_STAT_OTHER_OUT);
        return NS_TC_ACT_UNSPEC;
    }
    __u16 proto = bpf_ntohs(eth->h_proto);
    /* Up to two VLAN tags (the interface may also have stripped them). */
#pragma unroll
    for (int i = 0; i < 2; i++) {
        if (proto != NS_ETH_P_8021Q && proto != NS_ETH_P_8021AD)
            break;
        struct vlan_hdr *vh = data + off;
        if ((void *)(vh + 1) > end)
            break;
        proto = bpf_ntohs(vh->h_vlan_encapsulated_proto);
        off += sizeof(*vh);
    }

    struct ns_flow_key k = {};
    __u16 sport = 0, dport = 0;
    __u32 l4off;
    __u8 ipproto;
    k.ifindex = skb->ifindex;
    if (proto == NS_ETH_P_IP) {
        struct iphdr *ip = data + off;
        if ((void *)(ip + 1) > end)
            goto truncated;
        k.family = 4;
        ipproto = ip->protocol;
        __builtin_memcpy(k.addr_a, &ip->saddr, 4);
        __builtin_memcpy(k.addr_b, &ip->daddr, 4);
        l4off = off + ip->ihl * 4;
        /* Non-first fragments carry no ports: counted in a port-less flow. */
        if (ip->frag_off & bpf_htons(0x1fff))
            l4off = 0;
    } else if (proto == NS_ETH_P_IPV6) {
        struct ipv6hdr *ip6 = data + off;
        if ((void *)(ip6 + 1) > end)
            goto truncated;
        k.family = 6;
        ipproto = ip6->nexthdr; /* extension headers are not walked */
        __builtin_memcpy(k.addr_a, &ip6->saddr, 16);
        __builtin_memcpy(k.addr_b, &ip6->daddr, 16);
        l4off = off + sizeof(*ip6);
    } else {
        stat_inc(ingress ? NS_FLOW_STAT_OTHER_IN : NS_FLOW_STAT_OTHER_OUT);
        return NS_TC_ACT_UNSPEC;
    }
    k.proto = ipproto;

    __u8 tcpflags = 0;
    __u32 hdrlen = l4off; /* L2..L4 header bytes, repeated in every GSO segment */
    if (l4off && l4off < 512) {
        if (ipproto == NS_IPPROTO_TCP) {
            struct tcphdr *th = data + l4off;
            if ((void *)(th + 1) <= end) {
                sport = bpf_ntohs(th->source);
                dport = bpf_ntohs(th->dest);
                tcpflags = ((__u8 *)th)[13];
                hdrlen = l4off + th->doff * 4;
            }
        } else if (ipproto == NS_IPPROTO_UDP || ipproto == NS_IPPROTO_SCTP) {
            struct udphdr *uh = data + l4off; /* SCTP ports sit at the same offsets */
            if ((void *)(uh + 1) <= end) {
                sport = bpf_ntohs(uh->source);
                dport = bpf_ntohs(uh->dest);
                hdrlen = l4off + 8;
            }
        } else if (ipproto == NS_IPPROTO_ICMP || ipproto == NS_IPPROTO_ICMPV6) {
            __u8 *ic = data + l4off;
            if ((void *)(ic + 2) <= end) {
                sport = ic[0]; /* type and code; user space pairs the directions */
                dport = ic[1];
            }
        }
    }

    /* Parsed as source = a; swap when the source sorts after the destination. */
    __u32 *wa = (__u32 *)k.addr_a, *wb = (__u32 *)k.addr_b;
    int dir = ep_cmp(wa, sport, wb, dport) <= 0 ? 0 : 1;
    k.port_a = sport;
    k.port_b = dport;
    if (dir) {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            __u32 t = wa[i];
            wa[i] = wb[i];
            wb[i] = t;
        }
        k.port_a = dport;
        k.port_b = sport;
    }
    /* ICMP: request and reply differ in type; key on the family/addresses
     * only, so an echo and its reply are one flow (the first type is kept). */
    if (ipproto == NS_IPPROTO_ICMP || ipproto == NS_IPPROTO_ICMPV6) {
        k.port_a = 0;
        k.port_b = 0;
    }

    __u64 segs = skb->gso_segs ? skb->gso_segs : 1;
    __u64 len = skb->len;
    __u64 wire = len + (segs - 1) * hdrlen;
    __u64 now = bpf_ktime_get_ns();
    struct ns_flow_val *v = bpf_map_lookup_elem(&flows, &k);
    if (!v) {
        struct ns_flow_val n = {};
        n.first_ns = now;
        n.initiator = (__u8)dir;
        /* -EEXIST: another CPU created it meanwhile; use that entry. */
        if (bpf_map_update_elem(&flows, &k, &n, BPF_NOEXIST) == -NS_E2BIG) {
            stat_inc(NS_FLOW_STAT_MAP_FULL);
            return NS_TC_ACT_UNSPEC;
        }
        v = bpf_map_lookup_elem(&flows, &k);
        if (!v)
            return NS_TC_ACT_UNSPEC;
    }
    /* Ingress and egress of several interfaces may update one entry at once. */
    __sync_fetch_and_add(&v->pkts[dir], segs);
    __sync_fetch_and_add(&v->bytes[dir], wire);
    __sync_fetch_and_add(&v->skbs[dir], 1);
    __sync_fetch_and_add(&v->skb_bytes[dir], len);
    if (ingress) {
        __sync_fetch_and_add(&v->ingress_skbs, 1);
        __sync_fetch_and_add(&v->ingress_skb_bytes, len);
    }
    v->last_ns = now;
    if (tcpflags) {
        v->tcp_flags[dir] |= tcpflags;
        /* A pure SYN names the initiator even if another packet came first. */
        if ((tcpflags & 0x12) == 0x02 && !v->syn_seen) {
            v->syn_seen = 1;
            v->initiator = (__u8)dir;
        }
    }
    return NS_TC_ACT_UNSPEC;

truncated:
    stat_inc(NS_FLOW_STAT_TRUNCATED);
    return NS_TC_ACT_UNSPEC;
}

SEC("tc")
int ns_flow_ingress(struct __sk_buff *skb)
{
    return ns_flow_count(skb, true);
}

SEC("tc")
int ns_flow_egress(struct __sk_buff *skb)
{
    return ns_flow_count(skb, false);
}
