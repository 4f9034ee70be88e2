/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_rec_json.c - rough throughput of building a flow-sized record and
 * serialising it (what a decoder + the jsonl sink do per record). Single
 * thread; prints records/s for build+release and for build+JSON+release, the
 * serialiser alone on one record, and the serialiser alone on a rotation of
 * record shapes (TCP and UDP flows, DNS with an array of answer objects, IPv6)
 * as a sink sees them, and a flow record built with interned keys (as
 * decoder/flow does) alone and with its JSON. CPU time, so a busy machine
 * matters less; for stable numbers count instructions (valgrind
 * --tool=callgrind, or perf stat where the CPU exposes counters).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ns_json.h"
#include "ns_rec.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the box is shared */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* About what decoder/flow emits at flow end: 30 fields, unsorted groups. */
static struct ns_record *build(uint64_t i)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 1704164645123456789ull + i * 1000);
    struct ns_ip s = {.family = 4, .a = {10, 0, (uint8_t)(i >> 8), (uint8_t)i}};
    struct ns_ip d = {.family = 4, .a = {192, 168, 1, 1}};
    const uint8_t mac[6] = {0, 1, 2, 3, 4, 5};
    ns_rec_set_seq(r, i + 1);
    ns_rec_add_cstr(r, "event.kind", "event");
    ns_rec_add_cstr(r, "event.category", "network");
    ns_rec_add_cstr(r, "event.action", "flow_end");
    ns_rec_add_time(r, "event.start", 1704164645000000000ull);
    ns_rec_add_time(r, "event.end", 1704164645123456789ull);
    ns_rec_add_uint(r, "event.duration", 123456789);
    ns_rec_add_ip(r, "source.ip", &s);
    ns_rec_add_uint(r, "source.port", 40000 + i % 20000);
    ns_rec_add_mac(r, "source.mac", mac);
    ns_rec_add_uint(r, "source.bytes", 1234);
    ns_rec_add_uint(r, "source.packets", 12);
    ns_rec_add_ip(r, "destination.ip", &d);
    ns_rec_add_uint(r, "destination.port", 443);
    ns_rec_add_mac(r, "destination.mac", mac);
    ns_rec_add_uint(r, "destination.bytes", 56789);
    ns_rec_add_uint(r, "destination.packets", 40);
    ns_rec_add_uint(r, "network.bytes", 58023);
    ns_rec_add_uint(r, "network.packets", 52);
    ns_rec_add_cstr(r, "network.transport", "tcp");
    ns_rec_add_cstr(r, "network.iana_number", "6");
    ns_rec_add_cstr(r, "network.type", "ipv4");
    ns_rec_add_cstr(r, "network.protocol", "tls");
    ns_rec_add_cstr(r, "network.community_id", "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    ns_rec_add_cstr(r, "observer.ingress.interface.name", "eth0");
    ns_rec_add_cstr(r, "netscope.flow.end_reason", "fin");
    ns_rec_add_cstr(r, "netscope.flow.tcp.state", "closed");
    ns_rec_add_uint(r, "netscope.flow.tcp.rtt_us", 1234);
    ns_rec_add_uint(r, "netscope.flow.tcp.retransmissions", 0);
    ns_rec_begin_array(r, "netscope.flow.tcp.flags");
    ns_rec_add_cstr(r, NULL, "SYN");
    ns_rec_add_cstr(r, NULL, "ACK");
    ns_rec_add_cstr(r, NULL, "FIN");
    ns_rec_end(r);
    return r;
}

/* The same flow record with interned keys (ns_rec_key handles), as
 * decoder/flow builds it (plugins/decoder/flow/flow_rec.h). */
static const char *const flow_keys[] = {
    "event.kind",
    "event.category",
    "event.type",
    "event.action",
    "event.start",
    "event.end",
    "event.duration",
    "source.ip",
    "source.port",
    "source.mac",
    "source.bytes",
    "source.packets",
    "destination.ip",
    "destination.port",
    "destination.mac",
    "destination.bytes",
    "destination.packets",
    "network.bytes",
    "network.packets",
    "network.transport",
    "network.iana_number",
    "network.type",
    "network.protocol",
    "network.community_id",
    "netscope.flow.end_reason",
    "netscope.flow.tcp.rtt_us",
    "netscope.flow.tcp.flags",
};
enum { NFK = sizeof(flow_keys) / sizeof(flow_keys[0]) };
static uint32_t fk[NFK];

static struct ns_record *build_k(uint64_t i)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 1704164645123456789ull + i * 1000);
    struct ns_ip s = {.family = 4, .a = {10, 0, (uint8_t)(i >> 8), (uint8_t)i}};
    struct ns_ip d = {.family = 4, .a = {192, 168, 1, 1}};
    const uint8_t mac[6] = {0, 1, 2, 3, 4, 5};
    ns_rec_set_seq(r, i + 1);
    ns_rec_add_str_k(r, fk[0], "event", 5);
    ns_rec_add_str_k(r, fk[1], "network", 7);
    ns_rec_begin_array_k(r, fk[2]);
    ns_rec_add_str(r, NULL, "connection", 10);
    ns_rec_add_str(r, NULL, "end", 3);
    ns_rec_end(r);
    ns_rec_add_str_k(r, fk[3], "flow_end", 8);
    ns_rec_add_time_k(r, fk[4], 1704164645000000000ull);
    ns_rec_add_time_k(r, fk[5], 1704164645123456789ull);
    ns_rec_add_uint_k(r, fk[6], 123456789);
    ns_rec_add_ip_k(r, fk[7], &s);
    ns_rec_add_uint_k(r, fk[8], 40000 + i % 20000);
    ns_rec_add_mac_k(r, fk[9], mac);
    ns_rec_add_uint_k(r, fk[10], 1234);
    ns_rec_add_uint_k(r, fk[11], 12);
    ns_rec_add_ip_k(r, fk[12], &d);
    ns_rec_add_uint_k(r, fk[13], 443);
    ns_rec_add_mac_k(r, fk[14], mac);
    ns_rec_add_uint_k(r, fk[15], 56789);
    ns_rec_add_uint_k(r, fk[16], 40);
    ns_rec_add_uint_k(r, fk[17], 58023);
    ns_rec_add_uint_k(r, fk[18], 52);
    ns_rec_add_str_k(r, fk[19], "tcp", 3);
    ns_rec_add_str_k(r, fk[20], "6", 1);
    ns_rec_add_str_k(r, fk[21], "ipv4", 4);
    ns_rec_add_str_k(r, fk[22], "tls", 3);
    ns_rec_add_str_k(r, fk[23], "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", 30);
    ns_rec_add_str_k(r, fk[24], "fin", 3);
    ns_rec_add_uint_k(r, fk[25], 1234);
    ns_rec_begin_array_k(r, fk[26]);
    ns_rec_add_str(r, NULL, "SYN", 3);
    ns_rec_add_str(r, NULL, "ACK", 3);
    ns_rec_add_str(r, NULL, "FIN", 3);
    ns_rec_end(r);
    return r;
}

/* A UDP flow: fewer fields, IPv6 addresses, no TCP block. */
static struct ns_record *build_udp(uint64_t i)
{
    struct ns_record *r = ns_rec_new(NS_REC_FLOW, 1704164645123456789ull + i * 1000);
    struct ns_ip s = {.family = 6,
                      .a = {0x20, 0x01, 0x0d, 0xb8, [14] = (uint8_t)(i >> 8), (uint8_t)i}};
    struct ns_ip d = {.family = 6, .a = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 0x35}};
    ns_rec_set_seq(r, i + 1);
    ns_rec_add_cstr(r, "event.kind", "event");
    ns_rec_add_cstr(r, "event.action", "flow_end");
    ns_rec_add_time(r, "event.start", 1704164645000000000ull + i * 1000);
    ns_rec_add_time(r, "event.end", 1704164645123456789ull + i * 1000);
    ns_rec_add_uint(r, "event.duration", 123456789);
    ns_rec_add_ip(r, "source.ip", &s);
    ns_rec_add_uint(r, "source.port", 40000 + i % 20000);
    ns_rec_add_uint(r, "source.bytes", 80);
    ns_rec_add_uint(r, "source.packets", 1);
    ns_rec_add_ip(r, "destination.ip", &d);
    ns_rec_add_uint(r, "destination.port", 53);
    ns_rec_add_uint(r, "destination.bytes", 120);
    ns_rec_add_uint(r, "destination.packets", 1);
    ns_rec_add_cstr(r, "network.transport", "udp");
    ns_rec_add_cstr(r, "network.type", "ipv6");
    ns_rec_add_cstr(r, "network.community_id", "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=");
    ns_rec_add_cstr(r, "netscope.flow.end_reason", "idle");
    return r;
}

/* A DNS answer: nested answer objects in an array. */
static struct ns_record *build_dns(uint64_t i)
{
    struct ns_record *r = ns_rec_new(NS_REC_DNS, 1704164645123456789ull + i * 1000);
    struct ns_ip s = {.family = 4, .a = {10, 0, (uint8_t)(i >> 8), (uint8_t)i}};
    ns_rec_set_seq(r, i + 1);
    ns_rec_add_ip(r, "source.ip", &s);
    ns_rec_add_uint(r, "source.port", 40000 + i % 20000);
    ns_rec_add_uint(r, "dns.id", i & 0xffff);
    ns_rec_add_cstr(r, "dns.type", "answer");
    ns_rec_add_cstr(r, "dns.response_code", "NOERROR");
    ns_rec_add_cstr(r, "dns.question.name", "www.example.com");
    ns_rec_add_cstr(r, "dns.question.type", "A");
    ns_rec_begin_array(r, "dns.answers");
    for (int k = 0; k < 3; k++) {
        ns_rec_begin_object(r, NULL);
        ns_rec_add_cstr(r, "name", "www.example.com");
        ns_rec_add_cstr(r, "type", "A");
        ns_rec_add_cstr(r, "class", "IN");
        ns_rec_add_uint(r, "ttl", 300);
        ns_rec_add_cstr(r, "data", "93.184.216.34");
        ns_rec_end(r);
    }
    ns_rec_end(r);
    ns_rec_add_cstr(r, "event.action", "dns_transaction");
    ns_rec_add_uint(r, "event.duration", 2909000);
    ns_rec_add_cstr(r, "network.transport", "udp");
    return r;
}

/* A small record: a DNS query, 9 fields and an array. */
static struct ns_record *build_small(uint64_t i)
{
    struct ns_record *r = ns_rec_new(NS_REC_DNS, 1704164645123456789ull + i * 1000);
    struct ns_ip s = {.family = 4, .a = {10, 0, (uint8_t)(i >> 8), (uint8_t)i}};
    ns_rec_set_seq(r, i + 1);
    ns_rec_add_ip(r, "source.ip", &s);
    ns_rec_add_uint(r, "source.port", 40000 + i % 20000);
    ns_rec_add_uint(r, "dns.id", i & 0xffff);
    ns_rec_add_cstr(r, "dns.type", "query");
    ns_rec_add_cstr(r, "dns.question.name", "www.example.com");
    ns_rec_add_cstr(r, "dns.question.type", "AAAA");
    ns_rec_add_cstr(r, "dns.question.class", "IN");
    ns_rec_begin_array(r, "dns.header_flags");
    ns_rec_add_cstr(r, NULL, "RD");
    ns_rec_end(r);
    ns_rec_add_cstr(r, "network.transport", "udp");
    return r;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    ns_json_set_hostname("bench-host");
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++)
        ns_rec_release(build(i));
    double t1 = now_s();
    char *buf = NULL;
    size_t cap = 0, len = 0, total = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct ns_record *r = build(i);
        len = 0;
        if (ns_rec_to_json(r, &buf, &cap, &len) != 0)
            return 1;
        total += len;
        ns_rec_release(r);
    }
    double t2 = now_s();
    /* The serialiser alone: one prebuilt record, serialised n times. */
    struct ns_record *one = build(7);
    size_t one_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        one_len = 0;
        if (ns_rec_to_json(one, &buf, &cap, &one_len) != 0)
            return 1;
    }
    ns_rec_release(one);
    double t3 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        struct ns_record *r = build_small(i);
        one_len = 0;
        if (ns_rec_to_json(r, &buf, &cap, &one_len) != 0)
            return 1;
        ns_rec_release(r);
    }
    double t4 = now_s();
    /* The serialiser alone on a rotation of shapes with changing values. */
    enum { NMIX = 64 };
    struct ns_record *mix[NMIX];
    for (int k = 0; k < NMIX; k++)
        mix[k] = k % 4 == 0   ? build((uint64_t)k)
                 : k % 4 == 1 ? build_udp((uint64_t)k)
                 : k % 4 == 2 ? build_dns((uint64_t)k)
                              : build_small((uint64_t)k);
    size_t mix_total = 0;
    double t5 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        one_len = 0;
        if (ns_rec_to_json(mix[i % NMIX], &buf, &cap, &one_len) != 0)
            return 1;
        mix_total += one_len;
    }
    double t6 = now_s();
    for (int k = 0; k < NMIX; k++)
        ns_rec_release(mix[k]);
    /* Interned keys: build alone, then build + JSON. */
    for (int k = 0; k < NFK; k++)
        fk[k] = ns_rec_key(flow_keys[k]);
    double t7 = now_s();
    for (uint64_t i = 0; i < n; i++)
        ns_rec_release(build_k(i));
    double t8 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        struct ns_record *r = build_k(i);
        len = 0;
        if (ns_rec_to_json(r, &buf, &cap, &len) != 0)
            return 1;
        ns_rec_release(r);
    }
    double t9 = now_s();
    printf("build+release:      %.0f records/s\n", (double)n / (t1 - t0));
    printf("build+json+release: %.0f records/s (%.0f MB/s of JSON, %zu bytes/record)\n",
           (double)n / (t2 - t1), (double)total / (t2 - t1) / 1e6, total / (size_t)n);
    printf("json only:          %.0f records/s (%.0f ns/record)\n", (double)n / (t3 - t2),
           (t3 - t2) / (double)n * 1e9);
    printf("small record (9 fields), build+json+release: %.0f records/s\n", (double)n / (t4 - t3));
    printf("json only, 4 shapes:  %.0f records/s (%.0f ns/record, %zu bytes/record)\n",
           (double)n / (t6 - t5), (t6 - t5) / (double)n * 1e9, mix_total / (size_t)n);
    printf("interned keys, build+release:      %.0f records/s\n", (double)n / (t8 - t7));
    printf("interned keys, build+json+release: %.0f records/s\n", (double)n / (t9 - t8));
    fwrite(buf, 1, one_len, stdout);
    putchar('\n');
    free(buf);
    return 0;
}
