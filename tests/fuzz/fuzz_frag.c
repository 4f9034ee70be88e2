/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_frag.c - libFuzzer target for decoder/flow's IP fragment reassembly
 * (flow_ipfrag.c).
 *
 * Input: a sequence of fragments, each a 6-byte header then its data:
 *   flags (bit 0 IPv6, bit 1 more fragments, bit 2 one byte not captured,
 *          bits 3-4 source address variant, bits 5-7 time step),
 *   offset (2 bytes, in 8-byte units, 13 bits used), id, length (2 bytes,
 *   capped by what the input has left).
 * One reassembler per input with small bounds (4 datagrams, 100000 bytes,
 * short timeout) so eviction, timeouts, overlaps and every drop reason run;
 * each completed datagram is parsed by flow_parse as the plugin does, and its
 * bytes are read. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flow_ipfrag.h"
#include "flow_parse.h"

static volatile uint64_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipfrag_cfg cfg = {.timeout_ns = 40, .max_datagrams = 4, .max_bytes = 100000};
    struct ipfrag *f = ipfrag_new(&cfg);
    if (f == NULL)
        return 0;
    uint64_t ts = 1;
    size_t i = 0;
    while (size - i >= 6) {
        const uint8_t *h = data + i;
        i += 6;
        uint32_t len = ((uint32_t)h[4] << 8) | h[5];
        if (len > size - i)
            len = (uint32_t)(size - i);
        struct flow_pkt p;
        memset(&p, 0, sizeof(p));
        p.kind = FLOW_PKT_IP;
        p.is_frag = true;
        p.family = (h[0] & 1) ? 6 : 4;
        p.src[0] = (uint8_t)((h[0] >> 3) & 3);
        p.dst[0] = 9;
        p.frag_more = (h[0] & 2) != 0;
        p.frag_offset = (uint16_t)((((uint32_t)h[1] << 8) | h[2]) & 0x1fff);
        p.frag_id = h[3] & 7;
        p.frag_nh = (h[3] & 8) ? 6 : 17;
        p.frag_data = data + i;
        p.frag_len = len;
        p.frag_cap = (h[0] & 4) && len > 0 ? len - 1 : len;
        ts += (uint64_t)(h[0] >> 5) * 3;
        const uint8_t *pkt;
        uint32_t plen;
        if (ipfrag_add(f, &p, ts, &pkt, &plen)) {
            struct flow_pkt r;
            flow_parse(pkt, plen, p.family == 4 ? FLOW_DLT_IPV4 : FLOW_DLT_IPV6, &r);
            uint64_t sum = r.kind + r.sport + r.dport + plen;
            for (uint32_t k = 0; k < plen; k += 61)
                sum += pkt[k];
            if (r.payload != NULL && r.payload_cap > 0)
                sum += r.payload[r.payload_cap - 1];
            fuzz_sink += sum;
        }
        i += len;
        if ((h[0] >> 5) == 7)
            ipfrag_expire(f, ts);
    }
    const struct ipfrag_stats *st = ipfrag_stats(f);
    /* The bounds hold at every step; at the end they must still hold. */
    if (st->held_datagrams > cfg.max_datagrams || st->held_bytes > cfg.max_bytes)
        __builtin_trap();
    fuzz_sink += st->reassembled + st->overlap_bytes;
    if (size > 0 && (data[0] & 1))
        ipfrag_flush(f);
    ipfrag_free(f);
    return 0;
}
