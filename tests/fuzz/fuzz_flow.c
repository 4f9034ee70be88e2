/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_flow.c - libFuzzer target for decoder/flow's pure code.
 *
 * Input: one byte choosing the link type, then the frame. Each input is parsed
 * and fed to a long-lived flow table (small max_flows, short timeouts, active
 * updates, device inventory) so state carries across inputs: evictions, reuse,
 * fragments and timeouts all get exercised. Every event is turned into a
 * Community ID and flag string as the plugin would. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "community_id.h"
#include "flow_device.h"
#include "flow_ipfrag.h"
#include "flow_parse.h"
#include "flow_table.h"

static const uint32_t fuzz_dlts[] = {
    FLOW_DLT_EN10MB,      FLOW_DLT_NULL,       FLOW_DLT_RAW,
    FLOW_DLT_LOOP,        FLOW_DLT_IPV4,       FLOW_DLT_IPV6,
    FLOW_DLT_LINUX_SLL,   FLOW_DLT_LINUX_SLL2, FLOW_DLT_LINKTYPE_RAW,
    FLOW_DLT_RAW_OPENBSD, FLOW_DLT_PPP,        FLOW_DLT_PPP_SERIAL,
    FLOW_DLT_PPP_ETHER,   FLOW_DLT_C_HDLC,     147 /* unknown */};

static struct flow_table *fuzz_tbl;
static struct flow_devices *fuzz_devs;
static struct ipfrag *fuzz_frag;
static uint64_t fuzz_now;
static volatile uint64_t fuzz_sink;

static void fuzz_on_event(void *arg, const struct flow *f, enum flow_event ev, enum flow_reason why,
                          uint64_t now)
{
    (void)arg;
    char cid[COMMUNITY_ID_LEN], fl[9];
    int s = f->src_side;
    community_id_v1(0, f->key.family, f->key.addr[s], f->key.addr[!s], f->key.proto, f->key.port[s],
                    f->key.port[!s], cid);
    flow_tcp_flags_str(f->tcp_flags[s], fl);
    fuzz_sink += (uint64_t)cid[2] + (uint64_t)fl[0] + f->pkts[0] + f->bytes[1] + ev + why + now +
                 strlen(flow_reason_name(why)) +
                 strlen(flow_tcp_state_name((enum flow_tcp_state)f->tcp_state));
}

static void fuzz_on_device(void *arg, const struct flow_device *d, uint64_t now)
{
    (void)arg;
    fuzz_sink += d->pkts_in + d->bytes_out + now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_tbl == NULL) {
        fuzz_devs = flow_devices_new(64, 1);
        struct flow_table_cfg c = {
            .max_flows = 64,
            .idle_ns = {50, 40, 30, 20, 10},
            .active_ns = 25,
            .emit_start = true,
            .devices = fuzz_devs,
            .on_event = fuzz_on_event,
        };
        fuzz_tbl = flow_table_new(&c);
        struct ipfrag_cfg fc = {.timeout_ns = 30, .max_datagrams = 8, .max_bytes = 200000};
        fuzz_frag = ipfrag_new(&fc);
    }
    if (size < 1)
        return 0;
    uint32_t dlt = fuzz_dlts[data[0] % (sizeof(fuzz_dlts) / sizeof(fuzz_dlts[0]))];
    struct flow_pkt p;
    flow_parse(data + 1, (uint32_t)(size - 1), dlt, &p);
    fuzz_sink += strlen(flow_err_name(p.err));
    /* Time moves a little per input, sometimes backwards, so timeouts,
     * updates and reordering paths run. */
    fuzz_now += (data[0] & 0x80) ? 7 : 1;
    uint64_t ts = (data[0] & 0x40) && fuzz_now > 3 ? fuzz_now - 3 : fuzz_now;
    flow_table_packet(fuzz_tbl, &p, ts, (uint32_t)size, data[0] & 1);
    /* Fragments also go to IP reassembly, as with app decoders in the plugin;
     * a completed datagram is parsed again. */
    const uint8_t *dg;
    uint32_t dlen;
    if (p.is_frag && p.kind == FLOW_PKT_IP && p.err == FLOW_ERR_NONE && fuzz_frag != NULL &&
        ipfrag_add(fuzz_frag, &p, ts, &dg, &dlen)) {
        struct flow_pkt rp;
        flow_parse(dg, dlen, p.family == 4 ? FLOW_DLT_IPV4 : FLOW_DLT_IPV6, &rp);
        fuzz_sink += rp.sport + rp.payload_cap + dlen;
    }
    if ((fuzz_now & 15) == 0)
        flow_table_tick(fuzz_tbl, fuzz_now);
    if ((fuzz_now & 255) == 0) {
        flow_devices_report(fuzz_devs, false, fuzz_now, 100, fuzz_on_device, NULL);
        flow_table_flush(fuzz_tbl, FLOW_REASON_SHUTDOWN, fuzz_now);
    }
    return 0;
}
