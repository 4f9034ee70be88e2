/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_app_glue.h - glue shared by the application decoders hosted by
 * decoder/flow (decoder/dns, decoder/http, decoder/http2, decoder/tls): the
 * common head of their records (ECS event header, the flow's endpoints and
 * network fields), the list of live per-flow states a decoder frees at
 * destroy, and a bounded pool of spare fixed-size objects (per-flow states,
 * transactions) so the data path does not malloc/free them per flow.
 *
 * Header-only (static inline, public headers only), so every plugin .so
 * still exports nothing but `ns_plugin`. Called on the worker thread that
 * runs the decoder's app callbacks; nothing here locks. The head's keys are
 * interned by the first ns_app_rec_new (ns_rec_keys.h).
 */
#ifndef NS_APP_GLUE_H
#define NS_APP_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "netscope/netscope.h"
#include "ns_rec_keys.h"

/* Keys of the head (a table per including file). */
enum ns_app_key {
    NS_AK_EVENT_KIND,
    NS_AK_EVENT_CATEGORY,
    NS_AK_EVENT_TYPE,
    NS_AK_SRC_IP,
    NS_AK_SRC_PORT,
    NS_AK_DST_IP,
    NS_AK_DST_PORT,
    NS_AK_TRANSPORT,
    NS_AK_NET_TYPE,
    NS_AK_PROTOCOL,
    NS_AK_COMMUNITY_ID,
    NS_AK_N
};
static struct ns_key ns_app_keys[NS_AK_N] = {
    [NS_AK_EVENT_KIND] = {"event.kind", 0},
    [NS_AK_EVENT_CATEGORY] = {"event.category", 0},
    [NS_AK_EVENT_TYPE] = {"event.type", 0},
    [NS_AK_SRC_IP] = {"source.ip", 0},
    [NS_AK_SRC_PORT] = {"source.port", 0},
    [NS_AK_DST_IP] = {"destination.ip", 0},
    [NS_AK_DST_PORT] = {"destination.port", 0},
    [NS_AK_TRANSPORT] = {"network.transport", 0},
    [NS_AK_NET_TYPE] = {"network.type", 0},
    [NS_AK_PROTOCOL] = {"network.protocol", 0},
    [NS_AK_COMMUNITY_ID] = {"network.community_id", 0},
};
static int ns_app_keys_ready;

/*
 * A new record of the given type stamped ts, with event.kind "event",
 * event.category "network" and event.type ["protocol"] already added.
 * Returns NULL (and counts it in rec_fail) when rec_new fails.
 */
static inline struct ns_record *ns_app_rec_new(struct ns_instance *ins, enum ns_rec_type type,
                                               uint64_t ts, ns_counter *rec_fail)
{
    const struct ns_host *h = ins->host;
    struct ns_record *r = h->rec_new(ins, type, ts);
    if (r == NULL) {
        ns_counter_inc(rec_fail);
        return NULL;
    }
    struct ns_key *k = ns_app_keys;
    ns_keys_ready(h, k, NS_AK_N, &ns_app_keys_ready);
    ns_key_str(h, r, &k[NS_AK_EVENT_KIND], "event", 5);
    ns_key_str(h, r, &k[NS_AK_EVENT_CATEGORY], "network", 7);
    ns_key_array(h, r, &k[NS_AK_EVENT_TYPE]);
    h->rec_add_str(r, NULL, "protocol", 8);
    h->rec_end(r);
    return r;
}

/*
 * source.ip/port and destination.ip/port from the flow, network.transport,
 * network.type, network.protocol (protocol) and network.community_id (when
 * the flow has one). source is the application's client: the flow's
 * initiator, or its responder when swap is set (the capture began with the
 * server's side, so the flow decoder took the server for the initiator).
 */
static inline void ns_app_rec_endpoints(const struct ns_host *h, struct ns_record *r,
                                        const struct ns_app_flow *f, bool swap,
                                        const char *protocol)
{
    struct ns_key *k = ns_app_keys;
    ns_keys_ready(h, k, NS_AK_N, &ns_app_keys_ready);
    ns_key_ip(h, r, &k[NS_AK_SRC_IP], swap ? &f->dst_ip : &f->src_ip);
    ns_key_uint(h, r, &k[NS_AK_SRC_PORT], swap ? f->dst_port : f->src_port);
    ns_key_ip(h, r, &k[NS_AK_DST_IP], swap ? &f->src_ip : &f->dst_ip);
    ns_key_uint(h, r, &k[NS_AK_DST_PORT], swap ? f->src_port : f->dst_port);
    ns_key_str(h, r, &k[NS_AK_TRANSPORT], f->transport == 17 ? "udp" : "tcp", 3);
    ns_key_str(h, r, &k[NS_AK_NET_TYPE], f->ip_version == 6 ? "ipv6" : "ipv4", 4);
    ns_key_cstr(h, r, &k[NS_AK_PROTOCOL], protocol);
    if (f->community_id != NULL)
        ns_key_cstr(h, r, &k[NS_AK_COMMUNITY_ID], f->community_id);
}

/*
 * Link of a per-flow state in its decoder's list of live states, so destroy
 * can free what app_close never reached. Put it first in the state struct
 * (the list hands back the link; the state is the same address).
 */
struct ns_app_state {
    struct ns_app_state *next, *prev;
    struct ns_app_flow *af; /* the flow whose `state` this is */
};

/* Link s at the head of *list and make it f's state. */
static inline void ns_app_state_attach(struct ns_app_state **list, struct ns_app_state *s,
                                       struct ns_app_flow *f)
{
    s->af = f;
    s->prev = NULL;
    s->next = *list;
    if (*list != NULL)
        (*list)->prev = s;
    *list = s;
    f->state = s;
}

/* Unlink s from *list (its flow's `state` is left to the caller). */
static inline void ns_app_state_unlink(struct ns_app_state **list, struct ns_app_state *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        *list = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* At destroy: the first live state of *list, detached from its flow (the
 * flow's `state` no longer points at it) but still linked; NULL when none. */
static inline struct ns_app_state *ns_app_state_first(struct ns_app_state *list)
{
    if (list != NULL && list->af != NULL && list->af->state == list)
        list->af->state = NULL;
    return list;
}

/*
 * Spare objects of one size, kept by one decoder instance (its ctx, so one
 * worker thread) for reuse: glibc's malloc degrades with many live flows
 * (fragmentation, unlink_chunk, malloc_consolidate), and a DNS or HTTP flow
 * is often short. Objects come back uninitialised. Two modes:
 *  - ns_app_pool_init: objects malloc'd one by one; at most `cap` spares are
 *    held (memory stays bounded), a put beyond that frees;
 *  - ns_app_pool_init_chunked: objects carved `chunk` at a time from one
 *    malloc and never freed before ns_app_pool_drain, so the memory held is
 *    the peak number of live objects. For per-flow states whose flows mostly
 *    live until the flow table expires or flushes them (UDP: DNS), where a
 *    bounded spare list is empty when they are created and overflows when
 *    they end; their number is bounded by the flow table's.
 */
struct ns_app_pool {
    void *spare;    /* first spare; each spare's first word links the next */
    uint32_t n;     /* spares held */
    uint32_t cap;   /* most spares held (one-by-one mode) */
    size_t size;    /* object size (>= sizeof(void *); chunked: multiple of 16) */
    uint32_t chunk; /* > 0: objects per chunk (chunked mode) */
    void *chunks;   /* chunked: every chunk, linked by its first word */
};

static inline void ns_app_pool_init(struct ns_app_pool *p, size_t size, uint32_t cap)
{
    p->spare = NULL;
    p->n = 0;
    p->cap = cap;
    p->size = size < sizeof(void *) ? sizeof(void *) : size;
    p->chunk = 0;
    p->chunks = NULL;
}

static inline void ns_app_pool_init_chunked(struct ns_app_pool *p, size_t size, uint32_t chunk)
{
    ns_app_pool_init(p, (size + 15) & ~(size_t)15, UINT32_MAX);
    p->chunk = chunk > 0 ? chunk : 1;
}

/* Chunked: a new chunk; its objects but the first become spares. */
static inline void *ns_app_pool_grow(struct ns_app_pool *p)
{
    if (p->size > (SIZE_MAX - 16) / p->chunk)
        return NULL;
    char *c = malloc(16 + (size_t)p->chunk * p->size); /* 16: the link, keeps alignment */
    if (c == NULL)
        return NULL;
    *(void **)c = p->chunks;
    p->chunks = c;
    char *o = c + 16;
    for (uint32_t i = p->chunk - 1; i >= 1; i--) {
        void *s = o + (size_t)i * p->size;
        *(void **)s = p->spare;
        p->spare = s;
        p->n++;
    }
    return o;
}

/* An object of p->size bytes (a spare, else a new one), or NULL. */
static inline void *ns_app_pool_get(struct ns_app_pool *p)
{
    void *o = p->spare;
    if (o == NULL)
        return p->chunk > 0 ? ns_app_pool_grow(p) : malloc(p->size);
    p->spare = *(void **)o;
    p->n--;
    return o;
}

/* Give o (from ns_app_pool_get on p; NULL is fine) back. */
static inline void ns_app_pool_put(struct ns_app_pool *p, void *o)
{
    if (o == NULL)
        return;
    if (p->n >= p->cap && p->chunk == 0) {
        free(o);
        return;
    }
    *(void **)o = p->spare;
    p->spare = o;
    p->n++;
}

/* Free every spare (at destroy); chunked: every chunk, so every object must
 * have been put back. */
static inline void ns_app_pool_drain(struct ns_app_pool *p)
{
    if (p->chunk > 0) {
        while (p->chunks != NULL) {
            void *c = p->chunks;
            p->chunks = *(void **)c;
            free(c);
        }
        p->spare = NULL;
    }
    while (p->spare != NULL) {
        void *o = p->spare;
        p->spare = *(void **)o;
        free(o);
    }
    p->n = 0;
}

#endif /* NS_APP_GLUE_H */
