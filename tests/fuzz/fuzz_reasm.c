/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_reasm.c - libFuzzer target for decoder/flow's TCP reassembly
 * (flow_reasm.c). The input is a list of 12-byte operations on one stream:
 * kind (segment / ack / flush), direction, flags, sequence number (little
 * bounded offsets from an ISN so holes and overlaps are frequent), length and
 * captured length; segment data is taken from a fixed pattern so delivered
 * bytes can be checked against their sequence numbers. Checks: delivered bytes
 * are the pattern at the right offset, held memory never exceeds the bounds,
 * and everything is freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow_reasm.h"

static uint8_t pattern[4096];
static uint64_t pos[2]; /* stream offset of the next delivered byte, per dir */

static void cb(void *arg, int dir, const uint8_t *data, uint32_t len, uint64_t gap)
{
    (void)arg;
    pos[dir] += gap;
    for (uint32_t i = 0; i < len; i++)
        if (data[i] != pattern[(pos[dir] + i) % sizeof(pattern)])
            abort();
    pos[dir] += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (pattern[1] == 0)
        for (size_t i = 0; i < sizeof(pattern); i++)
            pattern[i] = (uint8_t)(i * 7 + 3);
    struct reasm_ctx rc = {.flow_max = 3000, .global_max = 5000};
    struct reasm r;
    memset(&r, 0, sizeof(r));
    uint32_t isn[2] = {0xfffff000u, 12345u};
    bool syn[2] = {false, false};
    pos[0] = pos[1] = 0;
    uint8_t buf[2048];
    for (size_t o = 0; o + 12 <= size; o += 12) {
        const uint8_t *p = in + o;
        int dir = p[1] & 1;
        uint32_t off = (uint32_t)(p[3] | p[4] << 8) % 4000;
        uint32_t len = (uint32_t)(p[5] | p[6] << 8) % 1500;
        uint32_t cap = (p[7] & 0x80) ? len : (uint32_t)(p[8] | (p[7] & 0x7f) << 8) % (len + 1);
        switch (p[0] % 4) {
        case 0:
        case 1: {
            uint8_t flags = p[2] & 0x17;
            if (!syn[dir]) { /* the first segment of a direction is its SYN */
                flags |= 0x02;
                off = 0;
                len = cap = 0;
                syn[dir] = true;
            } else {
                flags &= (uint8_t)~0x02;
            }
            /* off counts stream bytes: byte k sits at isn + 1 + k */
            for (uint32_t i = 0; i < cap; i++)
                buf[i] = pattern[(off + i) % sizeof(pattern)];
            uint32_t seq = (flags & 0x02) ? isn[dir] : isn[dir] + 1 + off;
            reasm_segment(&rc, &r, dir, seq, flags, buf, cap, len, cb, NULL);
            break;
        }
        case 2:
            if (syn[dir])
                reasm_ack(&rc, &r, dir, isn[dir] + 1 + off, cb, NULL);
            break;
        default:
            reasm_flush(&rc, &r, dir, cb, NULL);
            break;
        }
        if (rc.used > rc.global_max || r.d[0].held + r.d[1].held > rc.flow_max)
            abort();
    }
    reasm_flush(&rc, &r, 0, cb, NULL);
    reasm_flush(&rc, &r, 1, cb, NULL);
    reasm_free(&rc, &r);
    if (rc.used != 0)
        abort();
    return 0;
}
