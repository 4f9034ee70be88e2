/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_flow.h - types shared by bpf/ns_flow.bpf.c (kernel, TC clsact) and
 * source/ebpf_flow (user space).
 *
 * The TC program counts every skb of an IPv4/IPv6 flow into `flows`, keyed by
 * interface and the flow's addresses and ports in canonical order (the lower
 * (address, port) first), so both directions share one entry: index 0 of the
 * per-direction arrays is "from a to b", index 1 "from b to a". Frames that are
 * not IP (ARP, ...) are counted per interface and direction in `other`.
 */
#ifndef NS_BPF_FLOW_H
#define NS_BPF_FLOW_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct ns_flow_key {
    __u32 ifindex;
    __u8 family; /* 4 or 6 */
    __u8 proto;  /* IANA protocol number */
    __u16 pad;   /* always 0 */
    __u8 addr_a[16];
    __u8 addr_b[16];
    __u16 port_a; /* host order; ICMP: type and code */
    __u16 port_b;
    __u32 pad2; /* always 0 */
};

struct ns_flow_val {
    __u64 first_ns, last_ns; /* bpf_ktime_get_ns() */
    __u64 pkts[2];           /* wire packets: GSO segments counted one by one */
    __u64 bytes[2];          /* wire bytes: headers repeated per GSO segment */
    __u64 skbs[2];           /* skbs as the interface counts them (one GSO skb = 1) */
    __u64 skb_bytes[2];      /* skb->len, as the interface counts bytes */
    __u64 ingress_skbs;      /* of skbs[], those seen on ingress */
    __u64 ingress_skb_bytes; /* and their skb_bytes */
    __u8 tcp_flags[2];       /* union of TCP flags per direction */
    __u8 initiator;          /* direction of the first pure SYN, else of the first packet */
    __u8 syn_seen;
    __u32 pad;
};

/* Slots of the per-CPU statistics array. */
enum ns_flow_stat {
    NS_FLOW_STAT_MAP_FULL = 0, /* a flow could not be added: map full (not counted) */
    NS_FLOW_STAT_OTHER_IN,     /* non-IP skbs on ingress (ARP, ...) */
    NS_FLOW_STAT_OTHER_OUT,    /* non-IP skbs on egress */
    NS_FLOW_STAT_TRUNCATED,    /* IP skbs whose headers could not be read */
    NS_FLOW_STAT_MAX,
};

#endif
