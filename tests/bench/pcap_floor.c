/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pcap_floor.c - the floor for tests/bench/bench_flow.sh: a bare libpcap read loop.
 *
 *   pcap_floor FILE   prints "packets=N bytes=B caplen_bytes=C seconds=S"
 *
 * pcap_next_ex() over an offline capture, counting packets and wire bytes and
 * touching nothing else: no pipeline can read a file faster through libpcap, so
 * the other contenders are reported as a fraction of this rate.
 * Single-threaded; run by bench_flow.sh only (not a ctest test).
 */
#define _DEFAULT_SOURCE /* u_char and friends in <pcap/pcap.h>; clock_gettime */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t pkts = 0, bytes = 0, cap = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        pkts++;
        bytes += h->len;
        cap += h->caplen;
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "%s: %s\n", argv[1], pcap_geterr(p));
    pcap_close(p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("packets=%llu bytes=%llu caplen_bytes=%llu seconds=%.3f\n", (unsigned long long)pkts,
           (unsigned long long)bytes, (unsigned long long)cap, s);
    return rc == PCAP_ERROR ? 1 : 0;
}
