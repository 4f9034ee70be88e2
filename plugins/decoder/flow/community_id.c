/* SPDX-License-Identifier: Apache-2.0 */
/*
 * community_id.c - Community ID v1 (see community_id.h), written from the
 * published specification; SHA-1 comes from OpenSSL's EVP interface.
 */
#include "community_id.h"

#include <string.h>

#include <openssl/evp.h>

void community_id_icmp_ports(uint8_t proto, uint8_t type, uint8_t code, uint16_t *sport,
                             uint16_t *dport, bool *one_way)
{
    /* Request/response pairs from the spec: v4 echo, timestamp, info, router
     * solicitation/advertisement, address mask; v6 echo, MLD query/report,
     * router and neighbour discovery, node information, home agent discovery. */
    static const uint8_t v4[][2] = {{8, 0},   {0, 8},  {13, 14}, {14, 13}, {15, 16},
                                    {16, 15}, {10, 9}, {9, 10},  {17, 18}, {18, 17}};
    static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {133, 134}, {134, 133},
                                    {135, 136}, {136, 135}, {130, 131}, {131, 130},
                                    {139, 140}, {140, 139}, {144, 145}, {145, 144}};
    const uint8_t(*map)[2] = proto == 58 ? v6 : v4;
    size_t n = proto == 58 ? sizeof(v6) / sizeof(v6[0]) : sizeof(v4) / sizeof(v4[0]);
    *sport = type;
    for (size_t i = 0; i < n; i++) {
        if (map[i][0] == type) {
            *dport = map[i][1];
            *one_way = false;
            return;
        }
    }
    *dport = code;
    *one_way = true;
}

static void cid_base64(const uint8_t *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

int community_id_v1(uint16_t seed, uint8_t family, const uint8_t *saddr, const uint8_t *daddr,
                    uint8_t proto, uint16_t sport, uint16_t dport, char out[COMMUNITY_ID_LEN])
{
    out[0] = '\0';
    size_t alen = family == 4 ? 4 : family == 6 ? 16 : 0;
    if (alen == 0)
        return -1;
    bool one_way = false;
    bool has_ports = proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
    if (proto == 1 || proto == 58)
        community_id_icmp_ports(proto, (uint8_t)sport, (uint8_t)dport, &sport, &dport, &one_way);
    /* Order the endpoints so both directions produce the same input. */
    int c = memcmp(saddr, daddr, alen);
    if (!one_way && (c > 0 || (c == 0 && has_ports && sport > dport))) {
        const uint8_t *ta = saddr;
        saddr = daddr;
        daddr = ta;
        uint16_t tp = sport;
        sport = dport;
        dport = tp;
    }
    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, saddr, alen);
    n += alen;
    memcpy(buf + n, daddr, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (has_ports) {
        buf[n++] = (uint8_t)(sport >> 8);
        buf[n++] = (uint8_t)sport;
        buf[n++] = (uint8_t)(dport >> 8);
        buf[n++] = (uint8_t)dport;
    }
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return -1;
    out[0] = '1';
    out[1] = ':';
    cid_base64(md, mdlen, out + 2);
    return 0;
}
