/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_community_id.c - Community ID v1 against the spec's published vectors
 * (tests/fixtures/pcaps/community-id: baseline_deflt.json seed 0,
 * baseline_seed1.json seed 1), both from the tuples and from the spec's own
 * captures decoded by flow_parse().
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

#include "community_id.h"
#include "flow_parse.h"

#define CID_DIR NS_TEST_SRC "/fixtures/pcaps/community-id/"

struct vec {
    int proto;
    char saddr[64], daddr[64];
    int sport, dport;
    char id[64];
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    static char data[1 << 16];
    size_t n = fread(data, 1, sizeof(data) - 1, f);
    fclose(f);
    data[n] = '\0';
    return data;
}

static bool field_str(const char *obj, const char *end, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "\"%s\": \"", key);
    const char *p = strstr(obj, pat);
    if (p == NULL || p > end)
        return false;
    p += strlen(pat);
    size_t i = 0;
    while (*p && *p != '"' && i + 1 < cap)
        out[i++] = *p++;
    out[i] = '\0';
    return true;
}

static bool field_int(const char *obj, const char *end, const char *key, int *out)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *p = strstr(obj, pat);
    if (p == NULL || p > end)
        return false;
    *out = atoi(p + strlen(pat));
    return true;
}

/* The baseline files are a flat JSON list of flat objects: scan them. */
static size_t load(const char *path, struct vec *v, size_t cap)
{
    const char *s = slurp(path);
    size_t n = 0;
    for (const char *o = strchr(s, '{'); o != NULL && n < cap; o = strchr(o + 1, '{')) {
        const char *end = strchr(o, '}');
        cr_assert_not_null(end);
        struct vec *x = &v[n];
        cr_assert(field_int(o, end, "proto", &x->proto));
        cr_assert(field_str(o, end, "saddr", x->saddr, sizeof(x->saddr)));
        cr_assert(field_str(o, end, "daddr", x->daddr, sizeof(x->daddr)));
        cr_assert(field_int(o, end, "sport", &x->sport));
        cr_assert(field_int(o, end, "dport", &x->dport));
        cr_assert(field_str(o, end, "communityid", x->id, sizeof(x->id)));
        n++;
    }
    return n;
}

static void check_vectors(const char *file, uint16_t seed)
{
    static struct vec v[256];
    size_t n = load(file, v, 256);
    cr_assert_gt(n, 20);
    for (size_t i = 0; i < n; i++) {
        uint8_t sa[16] = {0}, da[16] = {0};
        uint8_t fam = strchr(v[i].saddr, ':') ? 6 : 4;
        int af = fam == 6 ? AF_INET6 : AF_INET;
        cr_assert_eq(inet_pton(af, v[i].saddr, sa), 1);
        cr_assert_eq(inet_pton(af, v[i].daddr, da), 1);
        char out[COMMUNITY_ID_LEN];
        cr_assert_eq(community_id_v1(seed, fam, sa, da, (uint8_t)v[i].proto, (uint16_t)v[i].sport,
                                     (uint16_t)v[i].dport, out),
                     0);
        cr_assert_str_eq(out, v[i].id, "%s: proto %d %s:%d -> %s:%d", file, v[i].proto, v[i].saddr,
                         v[i].sport, v[i].daddr, v[i].dport);
    }
}

Test(community_id, baseline_seed0)
{
    check_vectors(CID_DIR "baseline_deflt.json", 0);
}
Test(community_id, baseline_seed1)
{
    check_vectors(CID_DIR "baseline_seed1.json", 1);
}

Test(community_id, other_protocols_and_bad_family)
{
    uint8_t a[16] = {10, 0, 0, 1}, b[16] = {10, 0, 0, 2};
    char x[COMMUNITY_ID_LEN], y[COMMUNITY_ID_LEN];
    /* GRE: no ports in the hash, so ports must not matter, and order neither. */
    cr_assert_eq(community_id_v1(0, 4, a, b, 47, 1, 2, x), 0);
    cr_assert_eq(community_id_v1(0, 4, b, a, 47, 9, 9, y), 0);
    cr_assert_str_eq(x, y);
    cr_assert_eq(strlen(x), 30);
    cr_assert_eq(community_id_v1(0, 5, a, b, 6, 1, 2, x), -1);
    cr_assert_str_eq(x, "");
}

/* Decode the spec's own captures and check every packet's ID is in the
 * baseline: covers the parser (ports, ICMP type/code) and the hashing. */
Test(community_id, spec_captures)
{
    static struct vec v[256];
    size_t nv = load(CID_DIR "baseline_deflt.json", v, 256);
    static const char *const files[] = {"icmp.pcap", "icmp6.pcap", "ipv6.pcap",
                                        "sctp.pcap", "tcp.pcap",   "udp.pcap"};
    size_t checked = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512], err[PCAP_ERRBUF_SIZE];
        snprintf(path, sizeof(path), CID_DIR "%s", files[i]);
        pcap_t *p = pcap_open_offline(path, err);
        cr_assert_not_null(p, "%s", err);
        struct pcap_pkthdr *h;
        const uint8_t *d;
        while (pcap_next_ex(p, &h, &d) == 1) {
            struct flow_pkt fp;
            if (flow_parse(d, h->caplen, (uint32_t)pcap_datalink(p), &fp) != FLOW_PKT_IP ||
                !fp.has_l4)
                continue;
            bool icmp = fp.proto == 1 || fp.proto == 58;
            char out[COMMUNITY_ID_LEN];
            community_id_v1(0, fp.family, fp.src, fp.dst, fp.proto, icmp ? fp.icmp_type : fp.sport,
                            icmp ? fp.icmp_code : fp.dport, out);
            bool found = false;
            for (size_t j = 0; j < nv && !found; j++)
                found = strcmp(v[j].id, out) == 0;
            cr_assert(found, "%s: %s not in the baseline", files[i], out);
            checked++;
        }
        pcap_close(p);
    }
    cr_assert_gt(checked, 20);
}
