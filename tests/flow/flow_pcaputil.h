/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_pcaputil.h - load a fixture capture into ns_packet structs for the
 * decoder/flow plugin tests (test process only; header-only).
 */
#ifndef NS_FLOW_PCAPUTIL_H
#define NS_FLOW_PCAPUTIL_H

#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "netscope/ns_record.h"

struct tu_capture {
    struct ns_packet *pkts;
    size_t n;
};

/* Read every packet of tests/fixtures/pcaps/<name> (data copied). */
static inline struct tu_capture tu_load(const char *name)
{
    char path[512], err[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof(path), "%s/fixtures/pcaps/%s", NS_TEST_SRC, name);
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    cr_assert_not_null(p, "%s: %s", path, err);
    struct tu_capture c = {0};
    size_t cap = 0;
    struct pcap_pkthdr *h;
    const uint8_t *d;
    while (pcap_next_ex(p, &h, &d) == 1) {
        if (c.n == cap) {
            cap = cap ? 2 * cap : 64;
            c.pkts = realloc(c.pkts, cap * sizeof(*c.pkts));
        }
        uint8_t *copy = malloc(h->caplen ? h->caplen : 1);
        memcpy(copy, d, h->caplen);
        c.pkts[c.n++] = (struct ns_packet){
            .ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec,
            .data = copy,
            .caplen = h->caplen,
            .wirelen = h->len,
            .linktype = (uint16_t)pcap_datalink(p),
        };
    }
    pcap_close(p);
    return c;
}

static inline void tu_free(struct tu_capture *c)
{
    for (size_t i = 0; i < c->n; i++)
        free((void *)c->pkts[i].data);
    free(c->pkts);
    c->pkts = NULL;
    c->n = 0;
}

#endif
