/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_ipfrag.c - IP fragment reassembly (see flow_ipfrag.h).
 *
 * Datagrams in progress live in a chained hash table and on one list in
 * creation order (oldest first: timeouts and the memory bounds drop from its
 * head). Each holds a buffer with room for a 40-byte IP header before the
 * payload, grown on demand up to the datagram's size, and the sorted disjoint
 * byte ranges received so far. Fragments are rare on real networks, so a
 * datagram costs one allocation and the buffer; nothing here is per packet for
 * unfragmented traffic. Called on the decoder's worker thread (and by tests
 * and the fuzzer).
 */
#include "flow_ipfrag.h"

#include <stdlib.h>
#include <string.h>

#define IPF_HDR 40u /* room before the payload for the synthetic header */

struct ipf_piece {
    uint32_t lo, hi; /* [lo, hi) bytes of the payload held */
};

struct ipf_dgram {
    struct ipf_dgram *hnext;
    struct ipf_dgram *older, *newer;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint32_t hash;
    uint8_t family, nh;
    bool has_end;
    uint32_t end; /* payload length, once the last fragment was seen */
    uint64_t first_ts;
    uint8_t *buf; /* IPF_HDR + payload bytes                          */
    uint32_t cap; /* bytes allocated at buf (counted in held_bytes)   */
    uint32_t npieces;
    struct ipf_piece pieces[IPFRAG_MAX_PIECES];
};

struct ipfrag {
    struct ipfrag_cfg cfg;
    struct ipf_dgram **buckets;
    uint32_t nbuckets;
    struct ipf_dgram *oldest, *newest;
    uint8_t *done; /* the last completed datagram's buffer (returned to the caller) */
    struct ipfrag_stats st;
};

static const char *const ipfrag_drop_names[] = {
#define IPFRAG_DROP_NAME(id, label) label,
    IPFRAG_DROP_LIST(IPFRAG_DROP_NAME)
#undef IPFRAG_DROP_NAME
};

const char *ipfrag_drop_name(enum ipfrag_drop d)
{
    return (unsigned)d < IPFRAG_DROP_COUNT ? ipfrag_drop_names[d] : "unknown";
}

struct ipfrag *ipfrag_new(const struct ipfrag_cfg *cfg)
{
    struct ipfrag *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    if (cfg != NULL)
        f->cfg = *cfg;
    if (f->cfg.timeout_ns == 0)
        f->cfg.timeout_ns = IPFRAG_DEFAULT_TIMEOUT;
    if (f->cfg.max_datagrams == 0)
        f->cfg.max_datagrams = IPFRAG_DEFAULT_DATAGRAMS;
    if (f->cfg.max_bytes == 0)
        f->cfg.max_bytes = IPFRAG_DEFAULT_BYTES;
    uint32_t nb = 64;
    while (nb < f->cfg.max_datagrams && nb < (1u << 20))
        nb <<= 1;
    f->nbuckets = nb;
    f->buckets = calloc(nb, sizeof(*f->buckets));
    if (f->buckets == NULL) {
        free(f);
        return NULL;
    }
    return f;
}

static void dgram_unlink_free(struct ipfrag *f, struct ipf_dgram *d, bool keep_buf)
{
    struct ipf_dgram **pp = &f->buckets[d->hash & (f->nbuckets - 1)];
    while (*pp != NULL && *pp != d)
        pp = &(*pp)->hnext;
    if (*pp == d)
        *pp = d->hnext;
    if (d->older != NULL)
        d->older->newer = d->newer;
    else
        f->oldest = d->newer;
    if (d->newer != NULL)
        d->newer->older = d->older;
    else
        f->newest = d->older;
    f->st.held_bytes -= d->cap;
    f->st.held_datagrams--;
    if (!keep_buf)
        free(d->buf);
    free(d);
}

static void dgram_drop(struct ipfrag *f, struct ipf_dgram *d, enum ipfrag_drop why)
{
    f->st.dropped[why]++;
    dgram_unlink_free(f, d, false);
}

void ipfrag_free(struct ipfrag *f)
{
    if (f == NULL)
        return;
    while (f->oldest != NULL)
        dgram_unlink_free(f, f->oldest, false);
    free(f->done);
    free(f->buckets);
    free(f);
}

void ipfrag_flush(struct ipfrag *f)
{
    while (f->oldest != NULL)
        dgram_drop(f, f->oldest, IPFRAG_DROP_SHUTDOWN);
}

void ipfrag_expire(struct ipfrag *f, uint64_t now)
{
    /* Oldest first; a timestamp that went backwards only delays expiry. */
    while (f->oldest != NULL && now >= f->oldest->first_ts &&
           now - f->oldest->first_ts >= f->cfg.timeout_ns)
        dgram_drop(f, f->oldest, IPFRAG_DROP_TIMEOUT);
}

const struct ipfrag_stats *ipfrag_stats(const struct ipfrag *f)
{
    return &f->st;
}

static uint32_t ipf_hash(const struct flow_pkt *p)
{
    uint64_t h = ((uint64_t)p->frag_id << 16) ^ ((uint64_t)p->frag_nh << 8) ^ p->family;
    for (int i = 0; i < 16; i += 8) {
        uint64_t a, b;
        memcpy(&a, p->src + i, 8);
        memcpy(&b, p->dst + i, 8);
        h = (h ^ a) * 0x9e3779b97f4a7c15ull;
        h = (h ^ (h >> 29) ^ b) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static struct ipf_dgram *dgram_find(struct ipfrag *f, const struct flow_pkt *p, uint32_t h)
{
    for (struct ipf_dgram *d = f->buckets[h & (f->nbuckets - 1)]; d != NULL; d = d->hnext)
        if (d->hash == h && d->id == p->frag_id && d->family == p->family && d->nh == p->frag_nh &&
            memcmp(d->src, p->src, 16) == 0 && memcmp(d->dst, p->dst, 16) == 0)
            return d;
    return NULL;
}

/* Make room for `bytes` more buffer bytes (and one more datagram when
 * `new_dgram`) by dropping the oldest datagrams other than `keep`. False when
 * the bound cannot be met. */
static bool ipf_make_room(struct ipfrag *f, uint64_t bytes, bool new_dgram,
                          const struct ipf_dgram *keep)
{
    for (;;) {
        bool ok = f->st.held_bytes + bytes <= f->cfg.max_bytes &&
                  (!new_dgram || f->st.held_datagrams < f->cfg.max_datagrams);
        if (ok)
            return true;
        struct ipf_dgram *o = f->oldest;
        if (o == keep)
            o = o->newer;
        if (o == NULL)
            return false;
        dgram_drop(f, o, IPFRAG_DROP_BOUND);
    }
}

static struct ipf_dgram *dgram_new(struct ipfrag *f, const struct flow_pkt *p, uint32_t h,
                                   uint64_t ts)
{
    if (!ipf_make_room(f, 0, true, NULL)) {
        f->st.dropped[IPFRAG_DROP_BOUND]++;
        return NULL;
    }
    struct ipf_dgram *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        f->st.dropped[IPFRAG_DROP_ALLOC]++;
        return NULL;
    }
    memcpy(d->src, p->src, 16);
    memcpy(d->dst, p->dst, 16);
    d->id = p->frag_id;
    d->family = p->family;
    d->nh = p->frag_nh;
    d->hash = h;
    d->first_ts = ts;
    uint32_t b = h & (f->nbuckets - 1);
    d->hnext = f->buckets[b];
    f->buckets[b] = d;
    d->older = f->newest;
    if (f->newest != NULL)
        f->newest->newer = d;
    else
        f->oldest = d;
    f->newest = d;
    f->st.held_datagrams++;
    return d;
}

/* Grow d's buffer to hold payload bytes [0, hi). False: dropped (bound or
 * allocation), d is gone. */
static bool dgram_reserve(struct ipfrag *f, struct ipf_dgram *d, uint32_t hi)
{
    uint32_t need = IPF_HDR + hi;
    if (need <= d->cap)
        return true;
    /* Doubling keeps growth logarithmic; the cap is the largest datagram. */
    uint32_t ncap = d->cap * 2 > need ? d->cap * 2 : need;
    if (ncap > IPF_HDR + IPFRAG_MAX_DATAGRAM)
        ncap = IPF_HDR + IPFRAG_MAX_DATAGRAM;
    if (!ipf_make_room(f, ncap - d->cap, false, d)) {
        dgram_drop(f, d, IPFRAG_DROP_BOUND);
        return false;
    }
    uint8_t *nb = realloc(d->buf, ncap);
    if (nb == NULL) {
        dgram_drop(f, d, IPFRAG_DROP_ALLOC);
        return false;
    }
    f->st.held_bytes += ncap - d->cap;
    d->buf = nb;
    d->cap = ncap;
    return true;
}

/* Copy the bytes of [lo, hi) not held yet (first copy wins) and add the range
 * to the sorted, disjoint piece list. Returns the bytes that were new, or -1
 * when the list would exceed IPFRAG_MAX_PIECES. */
static int64_t dgram_put(struct ipf_dgram *d, uint32_t lo, uint32_t hi, const uint8_t *data)
{
    uint32_t cur = lo;
    uint64_t fresh = 0;
    for (uint32_t i = 0; i < d->npieces && cur < hi; i++) {
        const struct ipf_piece *q = &d->pieces[i];
        if (q->hi <= cur)
            continue;
        if (q->lo >= hi)
            break;
        if (q->lo > cur) {
            memcpy(d->buf + IPF_HDR + cur, data + (cur - lo), q->lo - cur);
            fresh += q->lo - cur;
        }
        cur = q->hi;
    }
    if (cur < hi) {
        memcpy(d->buf + IPF_HDR + cur, data + (cur - lo), hi - cur);
        fresh += hi - cur;
    }
    /* Union into the list: insert in order, then merge touching ranges. */
    struct ipf_piece out[IPFRAG_MAX_PIECES + 1];
    uint32_t n = 0;
    bool placed = false;
    for (uint32_t i = 0; i < d->npieces; i++) {
        if (!placed && lo < d->pieces[i].lo) {
            out[n++] = (struct ipf_piece){lo, hi};
            placed = true;
        }
        out[n++] = d->pieces[i];
    }
    if (!placed)
        out[n++] = (struct ipf_piece){lo, hi};
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m > 0 && out[i].lo <= d->pieces[m - 1].hi) {
            if (out[i].hi > d->pieces[m - 1].hi)
                d->pieces[m - 1].hi = out[i].hi;
            continue;
        }
        if (m == IPFRAG_MAX_PIECES)
            return -1;
        d->pieces[m++] = out[i];
    }
    d->npieces = m;
    return (int64_t)fresh;
}

/* Write the synthetic header in front of d's payload; returns the packet. */
static const uint8_t *dgram_packet(const struct ipf_dgram *d, uint32_t *len)
{
    uint8_t *h;
    if (d->family == 4) {
        h = d->buf + IPF_HDR - 20;
        uint32_t tot = 20 + d->end;
        memset(h, 0, 20);
        h[0] = 0x45;
        h[2] = (uint8_t)(tot >> 8);
        h[3] = (uint8_t)tot;
        h[4] = (uint8_t)(d->id >> 8);
        h[5] = (uint8_t)d->id;
        h[8] = 64;
        h[9] = d->nh;
        memcpy(h + 12, d->src, 4);
        memcpy(h + 16, d->dst, 4);
        *len = tot;
    } else {
        h = d->buf;
        memset(h, 0, 8);
        h[0] = 0x60;
        h[4] = (uint8_t)(d->end >> 8);
        h[5] = (uint8_t)d->end;
        h[6] = d->nh;
        h[7] = 64;
        memcpy(h + 8, d->src, 16);
        memcpy(h + 24, d->dst, 16);
        *len = IPF_HDR + d->end;
    }
    return h;
}

bool ipfrag_add(struct ipfrag *f, const struct flow_pkt *p, uint64_t ts, const uint8_t **pkt,
                uint32_t *len)
{
    free(f->done); /* the caller is done with the previous datagram */
    f->done = NULL;
    ipfrag_expire(f, ts);
    if (p->kind != FLOW_PKT_IP || !p->is_frag || (p->family != 4 && p->family != 6))
        return false;
    f->st.fragments++;
    uint32_t lo = (uint32_t)p->frag_offset * 8, hi = lo + p->frag_len;
    /* IPv4's total length includes its 20+ byte header. */
    uint32_t limit = p->family == 4 ? IPFRAG_MAX_DATAGRAM - 20 : IPFRAG_MAX_DATAGRAM;
    uint32_t h = ipf_hash(p);
    struct ipf_dgram *d = dgram_find(f, p, h);
    enum ipfrag_drop bad = IPFRAG_DROP_COUNT;
    if (hi > limit)
        bad = IPFRAG_DROP_OVERSIZE;
    else if (p->frag_cap < p->frag_len || (p->frag_len > 0 && p->frag_data == NULL))
        bad = IPFRAG_DROP_TRUNCATED;
    else if (p->frag_more && (p->frag_len % 8) != 0)
        bad = IPFRAG_DROP_INCONSISTENT; /* RFC 8200 4.5; RFC 791 units */
    else if (d != NULL && d->has_end && (p->frag_more ? hi > d->end : hi != d->end))
        bad = IPFRAG_DROP_INCONSISTENT;
    else if (d != NULL && !p->frag_more && d->npieces > 0 && d->pieces[d->npieces - 1].hi > hi)
        bad = IPFRAG_DROP_INCONSISTENT; /* the end lies before data already held */
    if (bad != IPFRAG_DROP_COUNT) {
        if (d != NULL)
            dgram_drop(f, d, bad);
        else
            f->st.dropped[bad]++;
        return false;
    }
    if (d == NULL && (d = dgram_new(f, p, h, ts)) == NULL)
        return false;
    if (!p->frag_more) {
        d->has_end = true;
        d->end = hi;
    }
    if (hi > lo) {
        if (!dgram_reserve(f, d, hi))
            return false;
        int64_t fresh = dgram_put(d, lo, hi, p->frag_data);
        if (fresh < 0) {
            dgram_drop(f, d, IPFRAG_DROP_PIECES);
            return false;
        }
        if ((uint64_t)fresh < hi - lo) {
            f->st.overlaps++;
            f->st.overlap_bytes += hi - lo - (uint64_t)fresh;
            if (fresh == 0)
                f->st.duplicates++;
        }
    }
    if (!d->has_end || d->npieces != 1 || d->pieces[0].lo != 0 || d->pieces[0].hi != d->end ||
        d->end == 0)
        return false;
    if (!dgram_reserve(f, d, d->end)) /* an end of 0..IPF_HDR: header room exists */
        return false;
    *pkt = dgram_packet(d, len);
    f->st.reassembled++;
    f->done = d->buf;
    dgram_unlink_free(f, d, true);
    return true;
}
