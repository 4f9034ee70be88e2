/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http2.c - libFuzzer target for decoder/http2's pure code (h2_parse.c,
 * HPACK by libnghttp2's inflater).
 *
 * Input: a control byte, then records of [dir:1 bit | length:7 bits][bytes]
 * fed to one h2_conn (prior knowledge, or Upgrade when the control byte says
 * so), with small bounds so frame, header-block and stream limits are hit.
 * A prefix matching the preface is common in the seeds. Every reported
 * stream's fields are read. The HPACK inflaters use an h2_mem allocator kept
 * across inputs, as the plugin does. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "h2_parse.h"

static volatile size_t fuzz_sink;

static void fuzz_on_stream(void *arg, struct h2_conn *c, struct h2_stream *s)
{
    (void)arg;
    (void)c;
    for (int i = 0; i < H2_F_COUNT; i++)
        if (s->f[i] != NULL)
            fuzz_sink += strlen(s->f[i]);
    const char *svc, *m;
    size_t sl, ml;
    if (h2_grpc_split(s->f[H2_F_PATH], &svc, &sl, &m, &ml))
        fuzz_sink += sl + ml;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    data++;
    size--;
    fuzz_sink += (size_t)h2_probe(data, size) + (size_t)h2_probe_server(data, size);

    static struct h2_conn c;
    /* The inflaters allocate as in the plugin: from one allocator kept across
     * inputs (spare blocks reused by the next connection). */
    static struct h2_mem *mem;
    if (mem == NULL)
        mem = h2_mem_new();
    h2_conn_init(&c, (ctl & 1) ? 16384 : 65536, (ctl & 2) ? 1024 : 65536, 1 + (ctl >> 4),
                 fuzz_on_stream, NULL);
    c.mem = mem;
    if (ctl & 4)
        h2_conn_upgrade(&c);
    size_t off = 0;
    uint64_t ts = 1;
    while (off < size) {
        uint8_t h = data[off++];
        size_t n = h & 0x7f;
        if (n == 0x7f)
            n = size - off; /* the rest in one go */
        if (n > size - off)
            n = size - off;
        h2_conn_feed(&c, h >> 7, data + off, n, ts++, (ctl & 8) && n == 3 ? 1 : 0);
        off += n;
    }
    h2_conn_close(&c, ts);
    return 0;
}
