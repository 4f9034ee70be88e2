/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow.h - decoder/flow's option block (private to the plugin and its tests).
 *
 * The core fills it from the YAML per the option table in flow.c; the plugin
 * reads it in init (loop thread). Field meanings: README.md.
 */
#ifndef NS_DECODER_FLOW_H
#define NS_DECODER_FLOW_H

#include <stdbool.h>
#include <stdint.h>

struct flow_config {
    uint64_t max_flows;
    uint64_t active_timeout;
    uint64_t tcp_idle_timeout;
    uint64_t udp_idle_timeout;
    uint64_t icmp_idle_timeout;
    uint64_t other_idle_timeout;
    uint64_t tcp_close_timeout;
    bool emit_start;
    bool arp;
    bool devices;
    uint64_t device_interval;
    uint64_t max_devices;
    uint64_t community_id_seed;
    uint64_t reassembly_flow_bytes;  /* app decoders: TCP bytes held per flow      */
    uint64_t reassembly_total_bytes; /* ... held by all flows of this instance     */
    uint64_t app_probe_payloads;     /* payloads offered before giving a flow up   */
    bool ip_reassembly;              /* app decoders: reassemble IP fragments       */
    uint64_t ip_reassembly_timeout;
    uint64_t ip_reassembly_datagrams; /* held at once per instance                 */
    uint64_t ip_reassembly_bytes;     /* buffer bytes held per instance            */
};

#endif
