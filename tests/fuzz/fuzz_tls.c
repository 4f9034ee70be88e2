/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tls.c - libFuzzer target for decoder/tls's pure code (tls_parse.c,
 * tls_x509.c, tls_names.c).
 *
 * Input: a control byte, then a byte stream. The stream is parsed three ways:
 * as a ClientHello and a ServerHello body (with JA3/JA3S/JA4 computed), as a
 * DER certificate, and as the two directions of a TLS connection cut into
 * chunks whose sizes and directions come from the control byte and the data,
 * so records and handshake messages straddle every boundary. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tls_parse.h"

static volatile size_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    data++;
    size--;

    static struct tls_client_hello ch;
    static struct tls_server_hello sh;
    bool cut = false;
    char str[TLS_JA3_MAX], md5[33], ja4[TLS_JA4_LEN + 1];
    (void)tls_parse_client_hello(data, size, &ch, &cut);
    fuzz_sink += tls_ja3(&ch, str, sizeof(str), md5);
    tls_ja4(&ch, 't', ja4);
    fuzz_sink += strlen(ja4);
    (void)tls_parse_server_hello(data, size, &sh, &cut);
    fuzz_sink += tls_ja3s(&sh, str, sizeof(str), md5);
    fuzz_sink += tls_probe(data, size);

    if (ctl & 0x80) {
        struct tls_x509 x;
        if (tls_x509_parse(data, size, &x) == 0)
            tls_x509_free(&x);
    }

    /* Connection: a small max_msg sometimes, so the bound is hit too. */
    static struct tls_session s;
    tls_session_init(&s, (ctl & 0x40) ? 1024 : 65536, 1 + (ctl & 7));
    /* A long-lived two-entry certificate cache half of the time, as a worker has. */
    static struct tls_x509_cache *cache;
    if (cache == NULL)
        cache = tls_x509_cache_new(2);
    if (ctl & 0x10)
        s.cache = cache;
    size_t off = 0;
    uint32_t seed = ctl;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % ((ctl & 0x20) ? 7 : 600);
        if (chunk > size - off)
            chunk = size - off;
        int dir = (seed >> 8) & 1;
        uint64_t gap = ((seed >> 12) & 63) == 0 ? 1 : 0;
        tls_session_feed(&s, dir, data + off, chunk, gap);
        off += chunk;
    }
    fuzz_sink += tls_session_established(&s) + tls_session_resumed(&s) + tls_session_version(&s);
    tls_session_free(&s);
    return 0;
}
