/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_tcp.h - types shared by bpf/ns_tcp.bpf.c (kernel) and source/ebpf_tcp (user space).
 *
 * The kernel side keeps one struct ns_tcp_conn per TCP connection in a hash map
 * keyed by struct ns_tcp_key, and sends struct ns_tcp_event over a ring buffer
 * (connect, close with the final counts, retransmit, drop). Every type is
 * prefixed ns_tcp_ because vmlinux.h already defines many generic names, and
 * every key is free of padding holes so that hashing the bytes is exact.
 */
#ifndef NS_BPF_TCP_H
#define NS_BPF_TCP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NS_TCP_COMM_LEN 16

/* One connection as seen from one socket: local (l*) and remote (r*) ends.
 * Addresses: IPv4 (and v4-mapped IPv6, normalised) in the first 4 bytes of a
 * 16-byte array, the rest zero; ports in host byte order. */
struct ns_tcp_key {
    __u64 netns; /* network namespace cookie (SO_NETNS_COOKIE) */
    __u8 laddr[16];
    __u8 raddr[16];
    __u16 lport;
    __u16 rport;
    __u16 family; /* 4 or 6 */
    __u16 pad;    /* always 0 */
};

/* Connection roles. */
enum ns_tcp_role {
    NS_TCP_ROLE_UNKNOWN = 0, /* the connection predates the collector */
    NS_TCP_ROLE_CLIENT = 1,  /* connect(): SYN_SENT -> ESTABLISHED */
    NS_TCP_ROLE_SERVER = 2,  /* accepted: SYN_RECV -> ESTABLISHED */
};

struct ns_tcp_conn {
    __u64 start_ns;     /* bpf_ktime_get_ns() when tracked (ESTABLISHED or first seen) */
    __u64 last_ns;      /* last activity */
    __u64 close_ns;     /* TCP_CLOSE reached, 0 while open */
    __u64 bytes_sent;   /* sock_send_length, ret > 0 */
    __u64 bytes_recv;   /* sock_recv_length, ret > 0, not MSG_PEEK */
    __u64 retrans_segs; /* tcp_retransmit_skb: segments (tcp_gso_segs), err >= 0 */
    __u64 retrans_skbs; /* tcp_retransmit_skb hits, err >= 0 */
    __u64 drops;        /* kfree_skb attributed to this socket */
    __u64 rtt_sum_us;   /* sum of srtt samples (tcp_probe) */
    __u64 rtt_samples;
    __u32 srtt_us; /* smoothed RTT, last sample (tcp_sock.srtt_us >> 3) */
    __u32 cwnd;    /* snd_cwnd in segments, last sample */
    __u32 mss;     /* mss_cache, last sample */
    __u32 pid;     /* owning process (tgid) */
    __u32 last_drop_reason;
    __u8 state; /* TCP_* state (include/net/tcp_states.h) */
    __u8 role;  /* enum ns_tcp_role */
    __u8 pad[2];
    char comm[NS_TCP_COMM_LEN];
};

enum ns_tcp_event_type {
    NS_TCP_EV_CONNECT = 1, /* ESTABLISHED: conn is the fresh entry */
    NS_TCP_EV_CLOSE = 2,   /* socket destroyed: conn holds the final counts */
    NS_TCP_EV_RETRANS = 3, /* aux = segments retransmitted by this skb */
    NS_TCP_EV_DROP = 4,    /* aux = enum skb_drop_reason */
};

struct ns_tcp_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() */
    __u32 type;  /* enum ns_tcp_event_type */
    __u32 aux;
    struct ns_tcp_key key;
    struct ns_tcp_conn conn;
};

/* Per-(netns, drop reason) counters of skbs freed with a reason on TCP sockets. */
struct ns_tcp_drop_key {
    __u64 netns;
    __u32 reason;
    __u32 pad;
};

/* Slots of the per-CPU statistics array: conditions that must never be silent. */
enum ns_tcp_stat {
    NS_TCP_STAT_MAP_FULL = 0,  /* a connection could not be added: map full */
    NS_TCP_STAT_RB_FULL,       /* an event could not be reserved: ring buffer full */
    NS_TCP_STAT_DROP_MAP_FULL, /* a drop reason counter could not be added */
    NS_TCP_STAT_EVENTS,        /* events submitted */
    NS_TCP_STAT_MAX,
};

#endif
