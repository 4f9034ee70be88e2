/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ebpf_tcp.h - source/ebpf_tcp's option block (private to the plugin).
 *
 * The core fills it from the YAML per the option table in ebpf_tcp.c; the
 * plugin reads it in init. Field meanings: README.md.
 */
#ifndef NS_SOURCE_EBPF_TCP_H
#define NS_SOURCE_EBPF_TCP_H

#include <stdbool.h>
#include <stdint.h>

struct etcp_config {
    uint64_t interval;      /* ns: tcp_update records; 0 = connect/close only */
    uint64_t poll_interval; /* ns: ring buffer drain period */
    uint64_t max_connections;
    uint64_t ring_size;   /* bytes, power of two */
    uint64_t wakeup_size; /* bytes pending before the kernel wakes us early */
    uint64_t netns_cookie;
    uint64_t rtt_sample; /* tcp_probe: 1 hit in N */
    bool events;         /* records for retransmit and drop events */
    bool track_existing; /* connections opened before the source started */
    bool rtt;            /* tcp_probe: srtt and cwnd */
    bool metrics;        /* per-connection Prometheus series */
};

#endif
