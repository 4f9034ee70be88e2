/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_device.h - per-host inventory kept by decoder/flow.
 *
 * Pure code: one entry per (IP address, MAC) pair seen as a flow endpoint, with
 * first/last seen, packets and bytes sent and received, and two small bounded
 * port sets (ports it served as a responder, ports it connected to). The flow
 * table references entries by index and updates them per packet; the plugin glue
 * walks them every device_interval. Worker-thread only, not thread-safe.
 */
#ifndef NS_FLOW_DEVICE_H
#define NS_FLOW_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#define FLOW_DEV_PORTS 8 /* per set; further ports set the overflow flag */

/* One entry: two 64-byte lines (entries are line-aligned). Line 0 holds
 * what a lookup compares and follows (family, MAC, address, chain) and what
 * every packet updates besides its counters (last_ts, dirty); line 1 the
 * counters and port sets. A new flow's two lookups thus touch one line per
 * entry visited. */
struct flow_device {
    /* line 0 */
    uint8_t family; /* 4 or 6 */
    bool has_mac;
    uint8_t mac[6];
    uint8_t ip[16];
    uint32_t refs; /* flows pointing here                  */
    uint32_t hnext;
    uint8_t dirty; /* changed since the last report             */
    uint8_t n_served, n_peer;
    bool served_overflow, peer_overflow;
    uint64_t first_ts, last_ts;
    /* line 1 */
    uint64_t pkts_out __attribute__((aligned(64)));
    uint64_t bytes_out, pkts_in, bytes_in;
    uint16_t served[FLOW_DEV_PORTS]; /* local ports of flows it answered     */
    uint16_t peer[FLOW_DEV_PORTS];   /* remote ports of flows it initiated   */
};

struct flow_devices;

/* Create an inventory of at most max_devices entries (0 = 65536). */
struct flow_devices *flow_devices_new(uint32_t max_devices, uint32_t seed);
void flow_devices_free(struct flow_devices *d);

/* Find or add the entry for (family, ip, mac or NULL); take a reference on it.
 * Returns its index, or UINT32_MAX when the inventory is full (counted). */
uint32_t flow_devices_ref(struct flow_devices *d, uint8_t family, const uint8_t ip[16],
                          const uint8_t *mac, uint64_t ts_ns);
void flow_devices_unref(struct flow_devices *d, uint32_t idx);
/* A hint ahead of flow_devices_ref(d, family, ip, mac, ...) for a flow about
 * to be created: prefetch the entry its bucket names first (both lines: the
 * new flow writes its refs and ports, its packets the counters). Reads the
 * bucket, changes nothing. */
void flow_devices_prefetch_key(const struct flow_devices *d, uint8_t family, const uint8_t ip[16],
                               const uint8_t *mac);
/* Prefetch the entries at a and b (UINT32_MAX: none) ahead of an unref. */
void flow_devices_prefetch(const struct flow_devices *d, uint32_t a, uint32_t b);
/* The entry at idx (valid until the next flow_devices_ref/expire), or NULL. */
struct flow_device *flow_devices_at(struct flow_devices *d, uint32_t idx);

/* One packet of wirelen bytes at ts_ns sent by entry `out` to entry `in`
 * (either may be UINT32_MAX: not in the inventory). One call per packet. */
void flow_devices_packet(struct flow_devices *d, uint32_t out, uint32_t in, uint32_t wirelen,
                         uint64_t ts_ns);

/* Add a port to a bounded set. */
void flow_device_add_port(uint16_t *set, uint8_t *n, bool *overflow, uint16_t port);

/*
 * Report: call cb for every entry changed since the last report (all entries when
 * `all`), clear the dirty marks, then drop entries that no flow references and
 * that were not seen for `expire_ns` (0 = never drop).
 */
void flow_devices_report(struct flow_devices *d, bool all, uint64_t now_ns, uint64_t expire_ns,
                         void (*cb)(void *arg, const struct flow_device *dev, uint64_t now_ns),
                         void *arg);

uint64_t flow_devices_count(const struct flow_devices *d);
uint64_t flow_devices_full_drops(const struct flow_devices *d);

#endif
