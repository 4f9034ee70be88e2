/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http.c - libFuzzer target for decoder/http's message reader
 * (http_parse.c on libhttp-parser). The first byte picks the direction
 * (request/response), whether HEAD-style "no body" is answered, and a split
 * step; the rest is fed in pieces of that size, with a gap before every
 * fourth piece when bit 7 is set, then the end of stream. Also runs both
 * probes. Checks the kept strings stay within their bounds. Seeds:
 * tests/fuzz/corpus/http.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static bool no_body;

static bool cb(void *arg, struct http_msg *m, enum http_event ev)
{
    (void)arg;
    if ((m->url_cap && m->url_len >= m->url_cap) || strlen(m->url) != m->url_len)
        abort();
    for (int i = 0; i < HH_COUNT; i++)
        if ((m->hdr_cap[i] && m->hdr_len[i] >= m->hdr_cap[i]) || strlen(m->hdr[i]) != m->hdr_len[i])
            abort();
    return ev == HTTP_EV_HEADERS && no_body;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    (void)http_probe_request(data, size);
    (void)http_probe_response(data, size);
    static struct http_dir d;
    http_dir_init(&d, (mode & 1) != 0, cb, NULL);
    no_body = (mode & 2) != 0;
    size_t step = ((mode >> 2) & 0x1f) + 1;
    if (step == 32)
        step = size ? size : 1;
    size_t off = 0;
    for (unsigned i = 0; off < size; i++) {
        size_t n = size - off < step ? size - off : step;
        uint64_t gap = ((mode & 0x80) && i % 4 == 3) ? 10 : 0;
        if (!http_dir_feed(&d, data + off, n, gap))
            break;
        off += n;
    }
    http_dir_eof(&d);
    http_dir_free(&d);
    return 0;
}
