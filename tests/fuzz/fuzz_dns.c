/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_dns.c - libFuzzer target for decoder/dns's pure parser (dns_parse.c):
 * dns_parse and dns_probe on arbitrary bytes, plus dns_read_name at every
 * offset of short inputs. Checks that every rendered string is terminated and
 * within its buffer (and its length field right), and that dns_parse_hint with
 * the question's own wire bytes gives dns_parse's result. Seeds: tests/fuzz/corpus/dns (DNS
 * payloads of the fixture captures, see the README there).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_parse.h"

static struct dns_msg msg, msg2;
static char qtext[DNS_NAME_TEXT];

/* Do two parses of the same bytes agree (dns_parse vs dns_parse_hint)? */
static int same(const struct dns_msg *a, const struct dns_msg *b)
{
    if (a->err != b->err || a->has_question != b->has_question || a->qname_len != b->qname_len ||
        strcmp(a->qname, b->qname) != 0 || a->qwire_len != b->qwire_len ||
        a->nanswers != b->nanswers || a->rcode != b->rcode || a->edns_do != b->edns_do)
        return 0;
    for (uint16_t i = 0; i < a->nanswers; i++)
        if (strcmp(a->an[i].name, b->an[i].name) != 0 ||
            strcmp(a->an[i].data, b->an[i].data) != 0 || a->an[i].data_err != b->an[i].data_err)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dns_parse(data, size, &msg);
    if (strnlen(msg.qname, sizeof(msg.qname)) >= sizeof(msg.qname))
        abort();
    if (msg.nanswers > DNS_MAX_ANSWERS || strlen(msg.qname) != msg.qname_len)
        abort();
    for (uint16_t i = 0; i < msg.nanswers; i++) {
        if (strnlen(msg.an[i].name, sizeof(msg.an[i].name)) >= sizeof(msg.an[i].name) ||
            strnlen(msg.an[i].data, sizeof(msg.an[i].data)) >= sizeof(msg.an[i].data))
            abort();
        if (strlen(msg.an[i].name) != msg.an[i].name_len ||
            strlen(msg.an[i].data) != msg.an[i].data_len)
            abort();
    }
    if (msg.qwire_len > 0) {
        /* The question's own wire bytes as a hint: the same result. */
        memcpy(qtext, msg.qname, (size_t)msg.qname_len + 1);
        struct dns_qhint h = {data + DNS_HEADER_LEN, msg.qwire_len, qtext, msg.qname_len};
        if (dns_parse_hint(data, size, &msg2, &h) != msg.err || !same(&msg, &msg2))
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
