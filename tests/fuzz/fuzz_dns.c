/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_dns.c - libFuzzer target for decoder/dns's pure parser (dns_parse.c):
 * dns_parse and dns_probe on arbitrary bytes, plus dns_read_name at every
 * offset of short inputs. Checks that every rendered string is terminated and
 * within its buffer. Seeds: tests/fuzz/corpus/dns (DNS payloads of the fixture
 * captures, see the README there).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_parse.h"

static struct dns_msg msg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dns_parse(data, size, &msg);
    if (strnlen(msg.qname, sizeof(msg.qname)) >= sizeof(msg.qname))
        abort();
    if (msg.nanswers > DNS_MAX_ANSWERS)
        abort();
    for (uint16_t i = 0; i < msg.nanswers; i++) {
        if (strnlen(msg.an[i].name, sizeof(msg.an[i].name)) >= sizeof(msg.an[i].name) ||
            strnlen(msg.an[i].data, sizeof(msg.an[i].data)) >= sizeof(msg.an[i].data))
            abort();
    }
    (void)dns_probe(data, size, false, false);
    (void)dns_probe(data, size, true, true);
    if (size < 128) {
        char name[64]; /* small on purpose: output truncation is bounded too */
        for (size_t off = 0; off < size; off++) {
            size_t o = off;
            dns_read_name(data, size, &o, name, sizeof(name));
            if (strnlen(name, sizeof(name)) >= sizeof(name) || o > size)
                abort();
        }
    }
    return 0;
}
