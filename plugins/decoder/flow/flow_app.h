/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_app.h - decoder/flow hosts the application-layer decoders (NS_PLUGIN_APP:
 * decoder/dns, decoder/tls, decoder/http, decoder/http2) that read from it.
 *
 * Private to the plugin (flow.c calls it on the instance's worker thread). Per
 * flow the host keeps one slot {owner, struct ns_app_flow, TCP reassembly}: UDP
 * datagram payloads are messages; TCP is reassembled per direction
 * (flow_reasm.c). An unclaimed flow's payloads are offered to each app
 * decoder's app_probe in pipeline order until one claims it; the owner then
 * gets app_data in stream order (with `gap` for lost bytes), app_annotate
 * before each flow_update/flow_end record, and app_close once when the flow
 * ends or the pipeline stops. Contract details: README.md "Application
 * decoders" and ns_plugin.h.
 */
#ifndef NS_FLOW_APP_H
#define NS_FLOW_APP_H

#include <stdint.h>

#include "netscope/ns_plugin.h"

#include "flow_parse.h"
#include "flow_table.h"

struct flow_apps;

struct flow_apps_cfg {
    uint64_t flow_buffer;  /* reassembly bytes held per flow               */
    uint64_t total_buffer; /* reassembly bytes held by this instance       */
    uint32_t max_probes;   /* payloads offered before a flow is left alone */
    uint16_t cid_seed;     /* Community ID seed (ns_app_flow.community_id) */
};

/* Ask the host for the app decoders reading from `ins` (host->app_peers).
 * Returns NULL when there are none (then every other call is skipped by the
 * caller) or on allocation failure (*err set to -ENOMEM). Loop or worker thread,
 * once. */
struct flow_apps *flow_apps_new(struct ns_instance *ins, const struct flow_apps_cfg *cfg, int *err);

/* Re-read the peers' ctx (host->app_peers): call on the worker thread before
 * the first packet, once every node is initialised. */
void flow_apps_refresh(struct flow_apps *a);
bool flow_apps_ready(const struct flow_apps *a);

/* Free every slot (without calling the app decoders: they may be gone) and the
 * host. NULL is fine. */
void flow_apps_free(struct flow_apps *a);

/* One packet that flow_table_packet accounted to `f`; `side` is the sender's key
 * side. TCP and UDP only, never IP fragments (the caller checks). */
void flow_apps_packet(struct flow_apps *a, struct flow *f, int side, const struct flow_pkt *p,
                      uint64_t ts_ns);

/* The flow is about to be reported: for a flow_end (`ending`), deliver what
 * reassembly still holds first. Then let the owner annotate `rec`. */
void flow_apps_annotate(struct flow_apps *a, const struct flow *f, struct ns_record *rec,
                        bool ending, uint64_t now_ns);

/* The flow ended (after its flow_end record): app_close and free the slot. */
void flow_apps_end(struct flow_apps *a, const struct flow *f, uint64_t now_ns);

/* A hint: start fetching f's slot (its lines are read by flow_apps_packet,
 * flow_apps_cid and flow_apps_annotate). Nothing is changed; any f is fine. */
void flow_apps_prefetch(const struct flow_apps *a, const struct flow *f);

/* The Community ID computed for f's slot (TCP/UDP: the same as the flow
 * record's), or NULL. */
const char *flow_apps_cid(const struct flow_apps *a, const struct flow *f);

/* Copy the counters into the exported cells (after each batch). */
void flow_apps_publish(struct flow_apps *a);

#endif
