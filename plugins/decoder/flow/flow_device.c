/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_device.c - per-host inventory for decoder/flow (see flow_device.h).
 *
 * Chained hash over (family, ip, mac) with uint32_t indices into one array that
 * is allocated once at its bound, so no allocation happens on the packet path.
 * Worker-thread only.
 */
#include "flow_device.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEV_NIL UINT32_MAX
#define DEV_MIN_BUCKETS 1024u

_Static_assert(sizeof(struct flow_device) == 128, "a device entry is two lines");
_Static_assert(offsetof(struct flow_device, pkts_out) == 64, "line 1 starts with the counters");

struct flow_devices {
    struct flow_device *ents; /* line-aligned inside ents_mem */
    void *ents_mem;
    uint32_t *buckets;
    uint32_t nbuckets; /* power of two, grown with the entries up to max_nbuckets */
    uint32_t max_nbuckets;
    uint32_t cap, used; /* entries ever handed out (high-water mark) */
    uint32_t free_head; /* recycled entries, linked through hnext */
    uint64_t count;
    uint64_t full_drops;
    uint32_t seed;
};

static uint32_t dev_hash(const struct flow_devices *d, uint8_t family, const uint8_t ip[16],
                         const uint8_t *mac)
{
    /* Three words (address halves, MAC + family) with one multiply each and
     * a final mix: looked up twice per new flow, where the byte-wise FNV it
     * replaced was a 22-step dependent multiply chain. */
    uint64_t a, b, m = (uint64_t)family << 48;
    memcpy(&a, ip, 8);
    memcpy(&b, ip + 8, 8);
    if (mac != NULL)
        for (int i = 0; i < 6; i++)
            m |= (uint64_t)mac[i] << (8 * i);
    uint64_t h = ((uint64_t)d->seed ^ a) * 0x9e3779b97f4a7c15ull;
    h = ((h ^ (h >> 29)) ^ b) * 0xbf58476d1ce4e5b9ull;
    h = ((h ^ (h >> 29)) ^ m) * 0x94d049bb133111ebull;
    return (uint32_t)(h ^ (h >> 31) ^ (h >> 47));
}

struct flow_devices *flow_devices_new(uint32_t max_devices, uint32_t seed)
{
    if (max_devices == 0)
        max_devices = 65536;
    struct flow_devices *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    uint32_t nb = 1;
    while (nb < max_devices && nb < (1u << 30))
        nb <<= 1;
    /* Start small and grow with the entries (dev_grow): a few thousand hosts
     * then hash into a bucket array that stays in cache, not one sized for
     * max_devices. */
    d->max_nbuckets = nb;
    if (nb > DEV_MIN_BUCKETS)
        nb = DEV_MIN_BUCKETS;
    d->nbuckets = nb;
    d->cap = max_devices;
    d->seed = seed;
    d->free_head = DEV_NIL;
    /* calloc (a large one maps zero pages, touched only as entries are
     * used) with one spare entry to align the array to a line. */
    d->ents_mem = calloc((size_t)max_devices + 1, sizeof(*d->ents));
    if (d->ents_mem != NULL)
        d->ents = (struct flow_device *)(((uintptr_t)d->ents_mem + 63) & ~(uintptr_t)63);
    d->buckets = malloc((size_t)nb * sizeof(uint32_t));
    if (d->ents_mem == NULL || d->buckets == NULL) {
        flow_devices_free(d);
        return NULL;
    }
    memset(d->buckets, 0xff, (size_t)nb * sizeof(uint32_t));
    return d;
}

void flow_devices_free(struct flow_devices *d)
{
    if (d == NULL)
        return;
    free(d->ents_mem);
    free(d->buckets);
    free(d);
}

/* Four times the buckets, every live entry rehashed. On allocation failure
 * the table keeps its size (longer chains, still correct). */
static void dev_grow(struct flow_devices *d)
{
    uint32_t nb = d->nbuckets * 4 < d->max_nbuckets ? d->nbuckets * 4 : d->max_nbuckets;
    uint32_t *b = malloc((size_t)nb * sizeof(uint32_t));
    if (b == NULL)
        return;
    memset(b, 0xff, (size_t)nb * sizeof(uint32_t));
    for (uint32_t i = 0; i < d->used; i++) {
        struct flow_device *e = &d->ents[i];
        if (e->family == 0)
            continue; /* on the free list */
        uint32_t k = dev_hash(d, e->family, e->ip, e->has_mac ? e->mac : NULL) & (nb - 1);
        e->hnext = b[k];
        b[k] = i;
    }
    free(d->buckets);
    d->buckets = b;
    d->nbuckets = nb;
}

static inline bool dev_ip_eq(const uint8_t *a, const uint8_t *b)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&a1, a + 8, 8);
    memcpy(&b0, b, 8);
    memcpy(&b1, b + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

uint32_t flow_devices_ref(struct flow_devices *d, uint8_t family, const uint8_t ip[16],
                          const uint8_t *mac, uint64_t ts_ns)
{
    uint32_t b = dev_hash(d, family, ip, mac) & (d->nbuckets - 1);
    for (uint32_t i = d->buckets[b]; i != DEV_NIL; i = d->ents[i].hnext) {
        struct flow_device *e = &d->ents[i];
        if (e->family == family && dev_ip_eq(e->ip, ip) && e->has_mac == (mac != NULL) &&
            (mac == NULL || memcmp(e->mac, mac, 6) == 0)) {
            e->refs++;
            return i;
        }
    }
    uint32_t idx;
    if (d->free_head != DEV_NIL) {
        idx = d->free_head;
        d->free_head = d->ents[idx].hnext;
    } else if (d->used < d->cap) {
        idx = d->used++;
    } else {
        d->full_drops++;
        return DEV_NIL;
    }
    struct flow_device *e = &d->ents[idx];
    memset(e, 0, sizeof(*e));
    e->family = family;
    memcpy(e->ip, ip, 16);
    if (mac != NULL) {
        e->has_mac = true;
        memcpy(e->mac, mac, 6);
    }
    e->first_ts = e->last_ts = ts_ns;
    e->refs = 1;
    e->dirty = 1;
    e->hnext = d->buckets[b];
    d->buckets[b] = idx;
    d->count++;
    if (d->count > d->nbuckets && d->nbuckets < d->max_nbuckets)
        dev_grow(d);
    return idx;
}

void flow_devices_prefetch_key(const struct flow_devices *d, uint8_t family, const uint8_t ip[16],
                               const uint8_t *mac)
{
    uint32_t i = d->buckets[dev_hash(d, family, ip, mac) & (d->nbuckets - 1)];
    if (i < d->used) {
        const char *e = (const char *)&d->ents[i];
        __builtin_prefetch(e, 1);
        __builtin_prefetch(e + 64, 1);
    }
}

void flow_devices_unref(struct flow_devices *d, uint32_t idx)
{
    if (idx < d->used && d->ents[idx].refs > 0)
        d->ents[idx].refs--;
}

void flow_devices_prefetch(const struct flow_devices *d, uint32_t a, uint32_t b)
{
    if (a < d->used)
        __builtin_prefetch(&d->ents[a].refs, 1);
    if (b < d->used)
        __builtin_prefetch(&d->ents[b].refs, 1);
}

void flow_devices_packet(struct flow_devices *d, uint32_t out, uint32_t in, uint32_t wirelen,
                         uint64_t ts)
{
    if (out < d->used) {
        struct flow_device *e = &d->ents[out];
        e->pkts_out++;
        e->bytes_out += wirelen;
        e->last_ts = ts > e->last_ts ? ts : e->last_ts;
        e->dirty = 1;
    }
    if (in < d->used) {
        struct flow_device *e = &d->ents[in];
        e->pkts_in++;
        e->bytes_in += wirelen;
        e->last_ts = ts > e->last_ts ? ts : e->last_ts;
        e->dirty = 1;
    }
}

struct flow_device *flow_devices_at(struct flow_devices *d, uint32_t idx)
{
    return idx < d->used ? &d->ents[idx] : NULL;
}

void flow_device_add_port(uint16_t *set, uint8_t *n, bool *overflow, uint16_t port)
{
    for (uint8_t i = 0; i < *n; i++)
        if (set[i] == port)
            return;
    if (*n < FLOW_DEV_PORTS)
        set[(*n)++] = port;
    else
        *overflow = true;
}

/* Unlink entry idx from its bucket chain and put it on the free list. */
static void dev_remove(struct flow_devices *d, uint32_t idx)
{
    struct flow_device *e = &d->ents[idx];
    uint32_t b = dev_hash(d, e->family, e->ip, e->has_mac ? e->mac : NULL) & (d->nbuckets - 1);
    uint32_t *pp = &d->buckets[b];
    while (*pp != DEV_NIL && *pp != idx)
        pp = &d->ents[*pp].hnext;
    if (*pp == idx)
        *pp = e->hnext;
    e->family = 0; /* marks a free slot for the report walk */
    e->hnext = d->free_head;
    d->free_head = idx;
    d->count--;
}

void flow_devices_report(struct flow_devices *d, bool all, uint64_t now_ns, uint64_t expire_ns,
                         void (*cb)(void *arg, const struct flow_device *dev, uint64_t now_ns),
                         void *arg)
{
    for (uint32_t i = 0; i < d->used; i++) {
        struct flow_device *e = &d->ents[i];
        if (e->family == 0)
            continue;
        if (all || e->dirty)
            cb(arg, e, now_ns);
        e->dirty = 0;
        if (expire_ns != 0 && e->refs == 0 && now_ns > e->last_ts &&
            now_ns - e->last_ts > expire_ns)
            dev_remove(d, i);
    }
}

uint64_t flow_devices_count(const struct flow_devices *d)
{
    return d->count;
}
uint64_t flow_devices_full_drops(const struct flow_devices *d)
{
    return d->full_drops;
}
