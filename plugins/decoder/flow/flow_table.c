/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_table.c - bidirectional flow table (see flow_table.h).
 *
 * Structure: flows in fixed-size chunks addressed by a uint32_t index; a chained
 * hash (bucket array of indices, chain through flow.hnext); one idle queue per
 * timeout class ordered by the second of the last packet (a flow is queued
 * again only when its last packet time enters a new second, not on every
 * packet), so idle expiry scans only the front of each queue and eviction
 * takes a front (idle within one second as long as the least recent); one
 * list ordered by the time of the last record, so the interim (active
 * timeout) scan only looks at its head. A small direct-mapped table remembers
 * the ports of first IP fragments so that later fragments of the same
 * datagram are accounted to the same flow.
 *
 * An idle queue is a ring of flow indices in the order flows were queued; a
 * flow knows where its entry is, and queueing it again or ending it leaves a
 * hole there (lazy removal). The order of the entries is what a doubly
 * linked list kept before, but a walk reads an array, skips the holes
 * without touching a flow and prefetches the flows ahead, where the list was
 * a chain of dependent cache misses (expiry was a twentieth of the flow-only
 * pipeline); and re-queueing a flow writes its own line 0, its old slot and
 * the ring's tail instead of two neighbours. Holes leave at the front, or
 * when a full ring is compacted in place (grown when still more than half
 * full).
 * Used by one decoder instance on its worker thread.
 */
#define _DEFAULT_SOURCE /* madvise */
#include "flow_table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "community_id.h"
#include "flow_device.h"

#define FLOW_CHUNK_SHIFT 13 /* 8192 flows = 2 MB: one huge page */
#define FLOW_CHUNK (1u << FLOW_CHUNK_SHIFT)
#define FRAG_SLOTS 4096u
#define FRAG_TTL_NS (30ull * 1000000000ull)

struct frag_ent {
    uint8_t src[16], dst[16];
    uint32_t id;
    uint8_t family, proto;
    uint8_t icmp_type, icmp_code;
    uint16_t sport, dport, icmp_id;
    uint64_t ts; /* 0 = empty */
};

/* An idle queue: a ring of cap (a power of two) flow indices in the order
 * they were queued; positions run freely (head <= pos < tail, modulo 2^32)
 * and name slot pos & (cap - 1). A flow knows the position of its entry
 * (qpos): queueing it again or ending it leaves a hole (FLOW_NIL) there, so a
 * walk skips it without reading the flow. */
struct flow_q {
    uint32_t *ent;
    uint32_t cap, head, tail;
};

#define FLOW_Q_MIN 1024u

struct flow_table {
    struct flow_table_cfg cfg;
    struct flow **chunks;
    uint32_t nchunks, max_chunks;
    uint32_t max_flows;
    uint32_t *buckets;
    uint32_t nbuckets;
    uint32_t free_head;
    struct flow_q q[FLOW_CLASS_COUNT];
    uint32_t ahead, atail;
    struct frag_ent *frags;
    struct flow_stats st;
    int last_side;
};

/* The layout promised in flow_table.h: what a packet touches in lines 0-1. */
_Static_assert(sizeof(struct flow) == 256, "struct flow is four cache lines");
_Static_assert(offsetof(struct flow, last_ts) == 64, "line 1 starts with last_ts");
_Static_assert(offsetof(struct flow, updates) == 127, "line 1 ends with updates");
_Static_assert(offsetof(struct flow, rep_pkts) == 192, "line 3 starts with rep_pkts");

#define FLOW_SEC 1000000000ull /* the idle lists' ordering granularity, ns */

#define FLOW_HUGE (2u << 20)

/* Memory for the chunks and the bucket array: 2 MB aligned and, when at least
 * that large, marked for transparent huge pages. A big table is touched at
 * random, one or two lines per packet: with 4 KB pages nearly every lookup
 * also missed the TLB (a page walk per bucket and per flow). */
static void *flow_big_alloc(size_t size)
{
    if (size < FLOW_HUGE)
        return aligned_alloc(64, (size + 63) & ~(size_t)63);
    size = (size + FLOW_HUGE - 1) & ~(size_t)(FLOW_HUGE - 1);
    void *p = aligned_alloc(FLOW_HUGE, size);
#ifdef MADV_HUGEPAGE
    if (p != NULL)
        (void)madvise(p, size, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
    return p;
}

static inline struct flow *F(const struct flow_table *t, uint32_t idx)
{
    return &t->chunks[idx >> FLOW_CHUNK_SHIFT][idx & (FLOW_CHUNK - 1)];
}

/* a + b, saturating: timeouts come from configuration and may be huge. */
static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t flow_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* The 128-bit product of a and b folded to 64 bits (high ^ low). */
static inline uint64_t flow_mum(uint64_t a, uint64_t b)
{
    __extension__ typedef unsigned __int128 u128;
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* The key's six 8-byte words, paired into three independent wide multiplies
 * (each word xored with its own constant, the seed in three of them) and
 * those folded by a fourth. The key is hashed once per packet and the bucket
 * prefetch waits for the result: a chain of six multiply rounds and a
 * two-multiply finaliser was most of flow_table_prepare's time; this is two
 * multiplies deep. */
static inline uint32_t flow_key_hash(const struct flow_table *t, const uint64_t w[6])
{
    _Static_assert(sizeof(struct flow_key) == 48, "the key is six words");
    uint64_t s = t->cfg.hash_seed;
    uint64_t a = flow_mum(w[0] ^ 0xa0761d6478bd642full ^ s, w[1] ^ 0xe7037ed1a0b428dbull);
    uint64_t b = flow_mum(w[2] ^ 0x8ebc6af09c88c6e3ull, w[3] ^ 0x589965cc75374cc3ull ^ s);
    uint64_t c = flow_mum(w[4] ^ 0x1d8e4e27c47d124full ^ s, w[5] ^ 0x9e3779b97f4a7c15ull);
    uint64_t h = flow_mum(a ^ c ^ 0xbf58476d1ce4e5b9ull, b ^ 0x94d049bb133111ebull);
    return (uint32_t)(h ^ (h >> 32));
}

/* memcmp(a, b, 16)'s sign for two addresses, as two big-endian words (no
 * library call per packet). */
static inline int addr_cmp(const uint8_t *a, const uint8_t *b)
{
    uint64_t x0, x1, y0, y1;
    memcpy(&x0, a, 8);
    memcpy(&y0, b, 8);
    if (x0 != y0) {
        x0 = __builtin_bswap64(x0);
        y0 = __builtin_bswap64(y0);
        return x0 < y0 ? -1 : 1;
    }
    memcpy(&x1, a + 8, 8);
    memcpy(&y1, b + 8, 8);
    if (x1 == y1)
        return 0;
    x1 = __builtin_bswap64(x1);
    y1 = __builtin_bswap64(y1);
    return x1 < y1 ? -1 : 1;
}

/* Keys are compared as six words (no memcmp call in the chain walk). */
static inline bool flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
    uint64_t d = 0;
    for (size_t i = 0; i < sizeof(*a); i += 8) {
        uint64_t x, y;
        memcpy(&x, (const uint8_t *)a + i, 8);
        memcpy(&y, (const uint8_t *)b + i, 8);
        d |= x ^ y;
    }
    return d == 0;
}

/* ---- idle queues ---------------------------------------------------------- */

static inline uint32_t *q_at(struct flow_q *q, uint32_t pos)
{
    return &q->ent[pos & (q->cap - 1)];
}

/* A walk's prefetch cursor: it runs ahead of the walk over the same entries
 * and keeps lines 0-1 (qpos, last_ts) of the next FLOW_Q_AHEAD flows on
 * their way, counting flows, not entries (holes may outnumber flows). */
struct q_pf {
    uint32_t pos;   /* next entry to look at */
    uint32_t ahead; /* flows prefetched the walk has not reached */
};

#define FLOW_Q_AHEAD 12

static inline void q_pf_fill(const struct flow_table *t, struct flow_q *q, struct q_pf *pf)
{
    while (pf->ahead < FLOW_Q_AHEAD && pf->pos != q->tail) {
        uint32_t idx = *q_at(q, pf->pos++);
        if (idx != FLOW_NIL) {
            const char *f = (const char *)F(t, idx);
            __builtin_prefetch(f);
            __builtin_prefetch(f + 64);
            pf->ahead++;
        }
    }
}

/* The walk reached a flow: fetch one more. */
static inline void q_pf_next(const struct flow_table *t, struct flow_q *q, struct q_pf *pf)
{
    if (pf->ahead > 0)
        pf->ahead--;
    q_pf_fill(t, q, pf);
}

/* Drop the holes at the front of queue c (no flow is read). */
static void q_trim(struct flow_table *t, int c)
{
    struct flow_q *q = &t->q[c];
    while (q->head != q->tail && *q_at(q, q->head) == FLOW_NIL)
        q->head++;
}

/* The flow at the front of queue c (the least recently active), or FLOW_NIL. */
static uint32_t q_front(struct flow_table *t, int c)
{
    q_trim(t, c);
    struct flow_q *q = &t->q[c];
    return q->head != q->tail ? *q_at(q, q->head) : FLOW_NIL;
}

/* Take flow idx's entry out of its queue: a hole, dropped at the front or
 * by the next compaction. */
static inline void q_remove(struct flow_table *t, const struct flow *f)
{
    *q_at(&t->q[f->cls], f->qpos) = FLOW_NIL;
}

/* Make room in full queue c: close its holes in place (order kept, each
 * moved flow told its new position), then double it if still more than half
 * full (positions keep their values: a slot is pos modulo the size). False
 * when it is still full (every entry a flow and no memory to grow). */
static bool q_make_room(struct flow_table *t, int c)
{
    struct flow_q *q = &t->q[c];
    uint32_t w = q->head;
    struct q_pf pf = {q->head, 0};
    q_pf_fill(t, q, &pf);
    for (uint32_t r = q->head; r != q->tail; r++) {
        uint32_t idx = *q_at(q, r);
        if (idx == FLOW_NIL)
            continue;
        q_pf_next(t, q, &pf);
        *q_at(q, w) = idx;
        F(t, idx)->qpos = w++;
    }
    q->tail = w;
    uint32_t n = q->tail - q->head;
    if (n <= q->cap / 2 || q->cap >= (1u << 30))
        return n < q->cap;
    uint32_t ncap = q->cap * 2;
    uint32_t *ne = malloc((size_t)ncap * sizeof(*ne));
    if (ne == NULL) {
        t->st.alloc_failures++;
        return n < q->cap;
    }
    for (uint32_t pos = q->head; pos != q->tail; pos++)
        ne[pos & (ncap - 1)] = *q_at(q, pos);
    free(q->ent);
    q->ent = ne;
    q->cap = ncap;
    return true;
}

static void flow_end(struct flow_table *t, uint32_t idx, enum flow_reason why, uint64_t now);

/* Queue flow idx at the back of idle queue c (its class from now on); with
 * `queued` its entry so far (in the queue of its class until now) becomes a
 * hole. */
static void q_push(struct flow_table *t, uint32_t idx, uint8_t c, bool queued, uint64_t now)
{
    struct flow *f = F(t, idx);
    if (queued)
        q_remove(t, f);
    struct flow_q *q = &t->q[c];
    if (q->tail - q->head == q->cap && !q_make_room(t, c)) {
        /* Out of memory with every entry a flow (not this one: its old
         * entry, if in this queue, was a hole): end the least recent flow
         * of the queue to free its entry (counted as an eviction). */
        uint32_t h = q_front(t, c);
        struct flow *hf = F(t, h);
        if (hf->cls != FLOW_CLASS_CLOSED)
            t->st.evictions++;
        flow_end(t, h,
                 hf->cls == FLOW_CLASS_CLOSED ? (enum flow_reason)hf->close_reason
                                              : FLOW_REASON_EVICTION,
                 now);
        q_trim(t, c);
    }
    f->cls = c;
    f->qpos = q->tail;
    *q_at(q, q->tail++) = idx;
}

/* Is flow f the last entry of its queue (queueing it again would not move it)? */
static inline bool q_is_back(struct flow_table *t, const struct flow *f)
{
    return f->qpos + 1 == t->q[f->cls].tail;
}

static void alist_unlink(struct flow_table *t, uint32_t idx)
{
    struct flow *f = F(t, idx);
    if (f->aprev != FLOW_NIL)
        F(t, f->aprev)->anext = f->anext;
    else
        t->ahead = f->anext;
    if (f->anext != FLOW_NIL)
        F(t, f->anext)->aprev = f->aprev;
    else
        t->atail = f->aprev;
    f->aprev = f->anext = FLOW_NIL;
}

static void alist_append(struct flow_table *t, uint32_t idx)
{
    struct flow *f = F(t, idx);
    f->anext = FLOW_NIL;
    f->aprev = t->atail;
    if (t->atail != FLOW_NIL)
        F(t, t->atail)->anext = idx;
    else
        t->ahead = idx;
    t->atail = idx;
}

/* ---- create / destroy ----------------------------------------------------- */

struct flow_table *flow_table_new(const struct flow_table_cfg *cfg)
{
    static const uint64_t def_idle[FLOW_CLASS_COUNT] = {
        FLOW_DEFAULT_TCP_IDLE, FLOW_DEFAULT_UDP_IDLE, FLOW_DEFAULT_ICMP_IDLE,
        FLOW_DEFAULT_OTHER_IDLE, FLOW_DEFAULT_CLOSED_LINGER};
    if (cfg == NULL || cfg->on_event == NULL)
        return NULL;
    struct flow_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->cfg = *cfg;
    for (int c = 0; c < FLOW_CLASS_COUNT; c++) {
        if (t->cfg.idle_ns[c] == 0)
            t->cfg.idle_ns[c] = def_idle[c];
        t->q[c].cap = FLOW_Q_MIN;
        t->q[c].ent = malloc(FLOW_Q_MIN * sizeof(uint32_t));
        if (t->q[c].ent == NULL) {
            flow_table_free(t);
            return NULL;
        }
    }
    uint64_t maxf = cfg->max_flows ? cfg->max_flows : FLOW_DEFAULT_MAX_FLOWS;
    if (maxf > (1ull << 30))
        maxf = 1ull << 30;
    t->max_flows = (uint32_t)maxf;
    t->max_chunks = (uint32_t)((maxf + FLOW_CHUNK - 1) >> FLOW_CHUNK_SHIFT);
    uint32_t nb = 1024;
    while (nb < maxf && nb < (1u << 26))
        nb <<= 1;
    t->nbuckets = nb;
    t->free_head = FLOW_NIL;
    t->ahead = t->atail = FLOW_NIL;
    t->chunks = calloc(t->max_chunks, sizeof(*t->chunks));
    t->buckets = flow_big_alloc((size_t)nb * sizeof(uint32_t));
    t->frags = calloc(FRAG_SLOTS, sizeof(*t->frags));
    if (t->chunks == NULL || t->buckets == NULL || t->frags == NULL) {
        flow_table_free(t);
        return NULL;
    }
    memset(t->buckets, 0xff, (size_t)nb * sizeof(uint32_t));
    return t;
}

void flow_table_free(struct flow_table *t)
{
    if (t == NULL)
        return;
    if (t->chunks != NULL)
        for (uint32_t i = 0; i < t->nchunks; i++)
            free(t->chunks[i]);
    free(t->chunks);
    for (int c = 0; c < FLOW_CLASS_COUNT; c++)
        free(t->q[c].ent);
    free(t->buckets);
    free(t->frags);
    free(t);
}

const struct flow_stats *flow_table_stats(const struct flow_table *t)
{
    return &t->st;
}

/* Take a free slot, growing by one chunk when needed. FLOW_NIL on failure. */
static uint32_t flow_alloc(struct flow_table *t)
{
    if (t->free_head == FLOW_NIL) {
        if (t->nchunks >= t->max_chunks)
            return FLOW_NIL;
        /* Line-aligned, so each flow's hot part is its first lines. */
        struct flow *c = flow_big_alloc((size_t)FLOW_CHUNK * sizeof(struct flow));
        if (c == NULL) {
            t->st.alloc_failures++;
            return FLOW_NIL;
        }
        uint32_t base = t->nchunks << FLOW_CHUNK_SHIFT;
        t->chunks[t->nchunks++] = c;
        /* Thread the new slots onto the free list in index order. */
        for (uint32_t i = 0; i < FLOW_CHUNK; i++)
            c[i].hnext = (i + 1 < FLOW_CHUNK) ? base + i + 1 : FLOW_NIL;
        t->free_head = base;
    }
    uint32_t idx = t->free_head;
    t->free_head = F(t, idx)->hnext;
    if (t->free_head != FLOW_NIL) {
        /* The next new flow's slot is written whole (flow_create): fetch it
         * now, as a recycled slot sits anywhere in the table. */
        const char *nf = (const char *)F(t, t->free_head);
        for (int l = 0; l < 4; l++)
            __builtin_prefetch(nf + 64 * l, 1);
    }
    return idx;
}

/* Emit END for flow idx and release it. */
static void flow_end(struct flow_table *t, uint32_t idx, enum flow_reason why, uint64_t now)
{
    struct flow *f = F(t, idx);
    t->cfg.on_event(t->cfg.arg, f, FLOW_EV_END, why, now);
    q_remove(t, f);
    alist_unlink(t, idx);
    uint32_t *pp = &t->buckets[f->hash & (t->nbuckets - 1)];
    while (*pp != FLOW_NIL && *pp != idx)
        pp = &F(t, *pp)->hnext;
    if (*pp == idx)
        *pp = f->hnext;
    if (t->cfg.devices != NULL)
        for (int s = 0; s < 2; s++)
            if (f->dev[s] != FLOW_NIL)
                flow_devices_unref(t->cfg.devices, f->dev[s]);
    f->hnext = t->free_head;
    t->free_head = idx;
    t->st.flows_active--;
    t->st.flows_ended++;
}

static enum flow_reason flow_final_reason(const struct flow *f, enum flow_reason why)
{
    return f->cls == FLOW_CLASS_CLOSED ? (enum flow_reason)f->close_reason : why;
}

/* Make room by ending the flow idle the longest: the oldest list head, which is
 * within one second of the least recently seen flow (lists are ordered by second). */
static bool flow_evict_one(struct flow_table *t, uint64_t now)
{
    uint32_t best = FLOW_NIL;
    for (int c = 0; c < FLOW_CLASS_COUNT; c++) {
        uint32_t h = q_front(t, c);
        if (h != FLOW_NIL && (best == FLOW_NIL || F(t, h)->last_ts < F(t, best)->last_ts))
            best = h;
    }
    if (best == FLOW_NIL)
        return false;
    struct flow *f = F(t, best);
    if (f->cls != FLOW_CLASS_CLOSED)
        t->st.evictions++;
    flow_end(t, best, flow_final_reason(f, FLOW_REASON_EVICTION), now);
    return true;
}

/* ---- fragments ------------------------------------------------------------ */

static uint32_t frag_slot(const struct flow_pkt *p)
{
    uint64_t h = p->frag_id ^ ((uint64_t)p->proto << 32) ^ ((uint64_t)p->family << 40);
    uint64_t w;
    for (int i = 0; i < 16; i += 8) {
        memcpy(&w, p->src + i, 8);
        h = flow_mix(h ^ w);
        memcpy(&w, p->dst + i, 8);
        h = flow_mix(h ^ w);
    }
    return (uint32_t)h & (FRAG_SLOTS - 1);
}

static bool frag_match(const struct frag_ent *e, const struct flow_pkt *p)
{
    return e->ts != 0 && e->id == p->frag_id && e->family == p->family && e->proto == p->proto &&
           memcmp(e->src, p->src, 16) == 0 && memcmp(e->dst, p->dst, 16) == 0;
}

/* ---- packets -------------------------------------------------------------- */

static uint8_t flow_class_of(uint8_t proto)
{
    switch (proto) {
    case FLOW_IPPROTO_TCP:
        return FLOW_CLASS_TCP;
    case FLOW_IPPROTO_UDP:
    case FLOW_IPPROTO_SCTP:
        return FLOW_CLASS_UDP;
    case FLOW_IPPROTO_ICMP:
    case FLOW_IPPROTO_ICMPV6:
        return FLOW_CLASS_ICMP;
    default:
        return FLOW_CLASS_OTHER;
    }
}

static void flow_close(struct flow_table *t, uint32_t idx, enum flow_reason why, uint64_t now)
{
    struct flow *f = F(t, idx);
    if (f->cls == FLOW_CLASS_CLOSED)
        return;
    f->close_reason = (uint8_t)why;
    q_push(t, idx, FLOW_CLASS_CLOSED, true, now);
}

/* Sequence tracking for retransmission / out-of-order counts. One gap per side is
 * remembered: a segment that lands inside it arrived late (out of order); any
 * other segment that does not advance the highest sequence seen is a resend.
 * Sequence arithmetic is modulo 2^32 (signed differences). */
static void flow_tcp_seq(struct flow *f, int s, const struct flow_pkt *p)
{
    uint32_t len = p->l4_payload + ((p->tcp_flags & FLOW_TCP_SYN) ? 1 : 0) +
                   ((p->tcp_flags & FLOW_TCP_FIN) ? 1 : 0);
    if (len == 0 || (p->tcp_flags & FLOW_TCP_RST))
        return;
    uint32_t seq = p->tcp_seq, end = seq + len;
    uint8_t bit = s ? FLOW_B_SEQ1 : FLOW_B_SEQ0;
    if (!(f->bits & bit)) {
        f->bits |= bit;
        f->seq_end[s] = end;
        f->hole_lo[s] = f->hole_hi[s] = end;
        return;
    }
    if ((int32_t)(end - f->seq_end[s]) > 0) {
        if ((int32_t)(seq - f->seq_end[s]) > 0) {
            f->hole_lo[s] = f->seq_end[s];
            f->hole_hi[s] = seq;
        } else if ((int32_t)(seq - f->seq_end[s]) < 0) {
            f->retrans++; /* partly resent data */
        }
        f->seq_end[s] = end;
        return;
    }
    if (f->hole_lo[s] != f->hole_hi[s] && (int32_t)(seq - f->hole_lo[s]) >= 0 &&
        (int32_t)(f->hole_hi[s] - end) >= 0) {
        f->ooo++;
        if (seq == f->hole_lo[s])
            f->hole_lo[s] = end;
        else if (end == f->hole_hi[s])
            f->hole_hi[s] = seq;
        return;
    }
    f->retrans++;
}

static void flow_tcp(struct flow_table *t, uint32_t idx, int s, const struct flow_pkt *p,
                     uint64_t ts)
{
    struct flow *f = F(t, idx);
    uint8_t fl = p->tcp_flags;
    f->tcp_flags[s] |= fl;
    if ((fl & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == FLOW_TCP_SYN) {
        if (!(f->bits & FLOW_B_SYN)) {
            /* The SYN sender is the initiator, even when its SYN was captured
             * after the SYN-ACK (reordering at the capture point). */
            f->bits |= FLOW_B_SYN;
            f->syn_ts = ts;
            f->src_side = (uint8_t)s;
        }
        if (f->tcp_state == FLOW_TCP_NONE)
            f->tcp_state = FLOW_TCP_SYN_SENT;
    } else if ((fl & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == (FLOW_TCP_SYN | FLOW_TCP_ACK)) {
        if (f->tcp_state <= FLOW_TCP_SYN_SENT) {
            f->synack_ts = ts;
            f->tcp_state = FLOW_TCP_SYN_RECEIVED;
        }
    } else if ((fl & FLOW_TCP_ACK) && !(fl & FLOW_TCP_RST)) {
        if (f->tcp_state == FLOW_TCP_SYN_RECEIVED && s == f->src_side) {
            f->tcp_state = FLOW_TCP_ESTABLISHED;
            if ((f->bits & FLOW_B_SYN) && f->synack_ts != 0 && ts >= f->syn_ts) {
                f->rtt_ns = ts - f->syn_ts;
                f->bits |= FLOW_B_RTT;
            }
        } else if (f->tcp_state == FLOW_TCP_NONE) {
            f->tcp_state = FLOW_TCP_ESTABLISHED; /* picked up mid-stream */
        }
    }
    flow_tcp_seq(f, s, p);
    if (fl & FLOW_TCP_RST) {
        f->tcp_state = FLOW_TCP_RESET;
        flow_close(t, idx, FLOW_REASON_RST, ts);
        return;
    }
    if (fl & FLOW_TCP_FIN) {
        f->bits |= s ? FLOW_B_FIN1 : FLOW_B_FIN0;
        if ((f->bits & (FLOW_B_FIN0 | FLOW_B_FIN1)) == (FLOW_B_FIN0 | FLOW_B_FIN1)) {
            if (f->tcp_state != FLOW_TCP_RESET)
                f->tcp_state = FLOW_TCP_CLOSED;
            flow_close(t, idx, FLOW_REASON_FIN, ts);
        } else if (f->tcp_state != FLOW_TCP_RESET) {
            f->tcp_state = FLOW_TCP_FIN_WAIT;
        }
    }
}

/* Create the flow for key k; the packet's sender is side s. */
static uint32_t flow_create(struct flow_table *t, const struct flow_key *k, uint32_t hash, int s,
                            const struct flow_pkt *p, uint64_t ts, uint16_t ifindex)
{
    if (t->st.flows_active >= t->max_flows)
        flow_evict_one(t, ts);
    uint32_t idx = flow_alloc(t);
    if (idx == FLOW_NIL && flow_evict_one(t, ts))
        idx = flow_alloc(t);
    if (idx == FLOW_NIL)
        return FLOW_NIL;
    if (t->cfg.devices != NULL) {
        /* Both hosts' entries on their way before the flow is set up and
         * they are looked up (below): two misses overlapping each other and
         * that work, not one after the other. */
        flow_devices_prefetch_key(t->cfg.devices, p->family, p->src,
                                  p->has_src_mac ? p->src_mac : NULL);
        flow_devices_prefetch_key(t->cfg.devices, p->family, p->dst,
                                  p->has_dst_mac ? p->dst_mac : NULL);
    }
    struct flow *f = F(t, idx);
    memset(f, 0, sizeof(*f));
    f->key = *k;
    f->first_ts = f->last_ts = f->report_ts = ts;
    f->ifindex = ifindex;
    f->src_side = (uint8_t)s;
    /* A SYN-ACK first means the other side opened the connection. */
    if (k->proto == FLOW_IPPROTO_TCP && p->has_l4 &&
        (p->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == (FLOW_TCP_SYN | FLOW_TCP_ACK))
        f->src_side = (uint8_t)!s;
    f->icmp_type = p->icmp_type;
    f->icmp_code = p->icmp_code;
    f->dev[0] = f->dev[1] = FLOW_NIL;
    f->aprev = f->anext = FLOW_NIL;
    f->hash = hash;
    /* The bucket is looked up after a possible eviction above (it may have
     * emptied the very bucket). */
    uint32_t bucket = hash & (t->nbuckets - 1);
    f->hnext = t->buckets[bucket];
    t->buckets[bucket] = idx;
    q_push(t, idx, flow_class_of(k->proto), false, ts);
    alist_append(t, idx);
    if (t->cfg.devices != NULL) {
        f->dev[s] = flow_devices_ref(t->cfg.devices, p->family, p->src,
                                     p->has_src_mac ? p->src_mac : NULL, ts);
        f->dev[!s] = flow_devices_ref(t->cfg.devices, p->family, p->dst,
                                      p->has_dst_mac ? p->dst_mac : NULL, ts);
        if (p->has_l4 && k->port[0] != 0 && k->proto != FLOW_IPPROTO_ICMP &&
            k->proto != FLOW_IPPROTO_ICMPV6) {
            int src = f->src_side, dst = !f->src_side;
            struct flow_device *di = flow_devices_at(t->cfg.devices, f->dev[src]);
            struct flow_device *dr = flow_devices_at(t->cfg.devices, f->dev[dst]);
            if (di != NULL)
                flow_device_add_port(di->peer, &di->n_peer, &di->peer_overflow, k->port[dst]);
            if (dr != NULL)
                flow_device_add_port(dr->served, &dr->n_served, &dr->served_overflow, k->port[dst]);
        }
    }
    t->st.flows_created++;
    t->st.flows_active++;
    return idx;
}

int flow_table_last_side(const struct flow_table *t)
{
    return t->last_side;
}

void flow_table_prepare(struct flow_table *t, struct flow_pkt *p, uint64_t ts,
                        struct flow_prep *out)
{
    out->track = 0;
    if (p->kind != FLOW_PKT_IP || p->err != FLOW_ERR_NONE)
        return; /* counted by flow_table_account */
    out->l4hdr = p->has_l4;
    uint16_t sport = 0, dport = 0, icmp_id = 0;
    if (p->is_frag) {
        struct frag_ent *e = &t->frags[frag_slot(p)];
        if (p->frag_offset == 0) {
            if (p->has_l4) {
                memcpy(e->src, p->src, 16);
                memcpy(e->dst, p->dst, 16);
                e->id = p->frag_id;
                e->family = p->family;
                e->proto = p->proto;
                e->sport = p->sport;
                e->dport = p->dport;
                e->icmp_type = p->icmp_type;
                e->icmp_code = p->icmp_code;
                e->icmp_id = p->icmp_id;
                e->ts = ts ? ts : 1;
            }
        } else if (frag_match(e, p) && ts >= e->ts && ts - e->ts <= FRAG_TTL_NS) {
            /* Account a later fragment to its datagram's flow: it carries no
             * L4 header, so take the first fragment's ports. */
            p->has_l4 = true;
            p->sport = e->sport;
            p->dport = e->dport;
            p->icmp_type = e->icmp_type;
            p->icmp_code = e->icmp_code;
            p->icmp_id = e->icmp_id;
            p->tcp_flags = 0;
            p->l4_payload = 0;
            t->st.frag_matched++;
        } else {
            t->st.frag_unmatched++;
        }
    }
    if (p->has_l4) {
        if (p->proto == FLOW_IPPROTO_ICMP || p->proto == FLOW_IPPROTO_ICMPV6) {
            bool one_way;
            community_id_icmp_ports(p->proto, p->icmp_type, p->icmp_code, &sport, &dport, &one_way);
            icmp_id = p->icmp_id;
        } else {
            sport = p->sport;
            dport = p->dport;
        }
    }
    int c = addr_cmp(p->src, p->dst);
    int s = (c > 0 || (c == 0 && sport > dport)) ? 1 : 0;
    uint8_t vc = p->vlan_count > 2 ? 2 : p->vlan_count;
    uint16_t vlan0 = vc > 0 ? p->vlan[0] : 0, vlan1 = vc > 1 ? p->vlan[1] : 0;
    uint64_t w[6];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The key's words are composed in registers, hashed, then stored once:
     * building the key field by field and reading it back as words (the
     * hash) stalled on every packet, each wide load waiting for the narrow
     * stores it overlapped to retire (no store forwarding). */
    _Static_assert(offsetof(struct flow_key, port) == 32 && offsetof(struct flow_key, vlan) == 36 &&
                       offsetof(struct flow_key, icmp_id) == 40 &&
                       offsetof(struct flow_key, proto) == 42 &&
                       offsetof(struct flow_key, family) == 43 &&
                       offsetof(struct flow_key, vlan_count) == 44 &&
                       offsetof(struct flow_key, tunnel) == 45 && sizeof(struct flow_key) == 48,
                   "flow_key layout as composed below");
    uint64_t sa[2], da[2];
    memcpy(sa, p->src, 16);
    memcpy(da, p->dst, 16);
    /* Selects, not a store at index 2 * s: w stays in registers. */
    w[0] = s ? da[0] : sa[0];
    w[1] = s ? da[1] : sa[1];
    w[2] = s ? sa[0] : da[0];
    w[3] = s ? sa[1] : da[1];
    uint16_t port0 = s ? dport : sport, port1 = s ? sport : dport;
    w[4] = (uint64_t)port0 | (uint64_t)port1 << 16 | (uint64_t)vlan0 << 32 | (uint64_t)vlan1 << 48;
    w[5] = (uint64_t)icmp_id | (uint64_t)p->proto << 16 | (uint64_t)p->family << 24 |
           (uint64_t)vc << 32 | (uint64_t)p->tunnel << 40;
#else
    struct flow_key kb;
    memset(&kb, 0, sizeof(kb));
    memcpy(kb.addr[s], p->src, 16);
    memcpy(kb.addr[!s], p->dst, 16);
    kb.port[s] = sport;
    kb.port[!s] = dport;
    kb.vlan_count = vc;
    kb.vlan[0] = vlan0;
    kb.vlan[1] = vlan1;
    kb.icmp_id = icmp_id;
    kb.tunnel = p->tunnel;
    kb.proto = p->proto;
    kb.family = p->family;
    memcpy(w, &kb, sizeof(w));
#endif
    out->hash = flow_key_hash(t, w);
    memcpy(&out->key, w, sizeof(w));
    out->side = (uint8_t)s;
    out->track = 1;
    /* The bucket, for flow_table_account a round later (a hint). */
    __builtin_prefetch(&t->buckets[out->hash & (t->nbuckets - 1)]);
}

void flow_table_prefetch_flow(const struct flow_table *t, const struct flow_prep *pp)
{
    if (!pp->track)
        return;
    uint32_t idx = t->buckets[pp->hash & (t->nbuckets - 1)];
    if (idx == FLOW_NIL)
        return;
    /* Lines 0-1 of struct flow: what accounting a packet touches. The first
     * write to it follows, hence the write hint. */
    const char *f = (const char *)F(t, idx);
    __builtin_prefetch(f, 1);
    __builtin_prefetch(f + 64, 1);
}

struct flow *flow_table_find(struct flow_table *t, const struct flow_prep *pp, int *side)
{
    if (!pp->track)
        return NULL;
    uint32_t idx = t->buckets[pp->hash & (t->nbuckets - 1)];
    while (idx != FLOW_NIL && !flow_key_eq(&F(t, idx)->key, &pp->key))
        idx = F(t, idx)->hnext;
    if (idx == FLOW_NIL)
        return NULL;
    *side = pp->side;
    return F(t, idx);
}

struct flow *flow_table_packet(struct flow_table *t, const struct flow_pkt *p, uint64_t ts,
                               uint32_t wirelen, uint16_t ifindex)
{
    struct flow_pkt cp = *p; /* prepare may rewrite a fragment's L4 fields */
    struct flow_prep pp;
    flow_table_prepare(t, &cp, ts, &pp);
    return flow_table_account(t, &cp, &pp, ts, wirelen, ifindex);
}

struct flow *flow_table_account(struct flow_table *t, const struct flow_pkt *p,
                                const struct flow_prep *pp, uint64_t ts, uint32_t wirelen,
                                uint16_t ifindex)
{
    t->st.packets++;
    switch (p->kind) {
    case FLOW_PKT_ERROR:
        t->st.errors[p->err < FLOW_ERR_COUNT ? p->err : 0]++;
        return NULL;
    case FLOW_PKT_OTHER:
        t->st.other_packets++;
        return NULL;
    case FLOW_PKT_ARP:
        t->st.arp_packets++;
        return NULL;
    case FLOW_PKT_IP:
        break;
    }
    if (p->err != FLOW_ERR_NONE) {
        t->st.errors[p->err < FLOW_ERR_COUNT ? p->err : 0]++;
        return NULL; /* IP header fine, L4 header unusable: counted, not tracked */
    }
    if (!pp->track)
        return NULL;
    if (p->ip_len0)
        t->st.ipv4_len0++;
    bool l4hdr = pp->l4hdr;
    const struct flow_key *kp = &pp->key;
    int s = pp->side;
    uint32_t idx = t->buckets[pp->hash & (t->nbuckets - 1)];
    while (idx != FLOW_NIL && !flow_key_eq(&F(t, idx)->key, kp))
        idx = F(t, idx)->hnext;
    bool created = false;
    if (idx != FLOW_NIL && kp->proto == FLOW_IPPROTO_TCP && l4hdr &&
        F(t, idx)->cls == FLOW_CLASS_CLOSED &&
        (p->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == FLOW_TCP_SYN) {
        /* A new SYN on a finished connection: the port pair was reused. */
        flow_end(t, idx, (enum flow_reason)F(t, idx)->close_reason, ts);
        idx = FLOW_NIL;
    }
    if (idx == FLOW_NIL) {
        idx = flow_create(t, kp, pp->hash, s, p, ts, ifindex);
        if (idx == FLOW_NIL)
            return NULL; /* counted in alloc_failures */
        created = true;
    }
    struct flow *f = F(t, idx);
    uint64_t prev_sec = f->last_ts / FLOW_SEC;
    t->st.ip_packets++;
    f->pkts[s]++;
    f->bytes[s] += wirelen;
    if (ts > f->last_ts)
        f->last_ts = ts;
    if (p->is_frag && p->frag_offset != 0 && f->frags < UINT32_MAX)
        f->frags++;
    uint8_t mb = s ? FLOW_B_MAC1 : FLOW_B_MAC0, ob = s ? FLOW_B_MAC0 : FLOW_B_MAC1;
    if (p->has_src_mac && !(f->bits & mb)) {
        memcpy(f->mac[s], p->src_mac, 6);
        f->bits |= mb;
    }
    if (p->has_dst_mac && !(f->bits & ob)) {
        memcpy(f->mac[!s], p->dst_mac, 6);
        f->bits |= ob;
    }
    if (t->cfg.devices != NULL)
        flow_devices_packet(t->cfg.devices, f->dev[s], f->dev[!s], wirelen, ts);
    if (kp->proto == FLOW_IPPROTO_TCP && l4hdr)
        flow_tcp(t, idx, s, p, ts);
    /* Keep the idle queue ordered by the second of the last packet: queue
     * the flow again when that second changes. Doing so on every packet
     * would fill the ring for no gain in order. */
    if (f->last_ts / FLOW_SEC != prev_sec && !q_is_back(t, f))
        q_push(t, idx, f->cls, true, ts);
    if (created && t->cfg.emit_start)
        t->cfg.on_event(t->cfg.arg, f, FLOW_EV_START, FLOW_REASON_NONE, ts);
    t->last_side = s;
    return f;
}

/* Flush walks the queues: while one flow is reported, fetch what the next
 * ones need: the whole flow (the record reads all four lines) a few entries
 * ahead, and the device entries of one nearer (its lines were fetched by
 * then). */
static inline void flow_flush_prefetch(const struct flow_table *t, struct flow_q *q, uint32_t pos)
{
    if (pos + 2 - q->head < q->tail - q->head && t->cfg.devices != NULL &&
        *q_at(q, pos + 2) != FLOW_NIL) {
        const struct flow *n = F(t, *q_at(q, pos + 2));
        flow_devices_prefetch(t->cfg.devices, n->dev[0], n->dev[1]);
    }
    if (pos + 2 - q->head < q->tail - q->head && t->cfg.prefetch != NULL &&
        *q_at(q, pos + 2) != FLOW_NIL)
        t->cfg.prefetch(t->cfg.arg, F(t, *q_at(q, pos + 2)));
    if (pos + FLOW_Q_AHEAD - q->head < q->tail - q->head &&
        *q_at(q, pos + FLOW_Q_AHEAD) != FLOW_NIL) {
        const char *nn = (const char *)F(t, *q_at(q, pos + FLOW_Q_AHEAD));
        for (int l = 0; l < 4; l++)
            __builtin_prefetch(nn + 64 * l);
    }
}

#define FLOW_END_GROUP 32

static void flow_end_group(struct flow_table *t, const uint32_t *grp, uint32_t n, uint64_t now)
{
    /* The buckets were prefetched as the group was collected; the flows
     * ahead in their chains (newer flows are chained first) are what the
     * unlinking walk would wait for next. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t h = t->buckets[F(t, grp[i])->hash & (t->nbuckets - 1)];
        if (h != grp[i] && h != FLOW_NIL)
            __builtin_prefetch(F(t, h));
    }
    for (uint32_t i = 0; i < n; i++)
        flow_end(t, grp[i], flow_final_reason(F(t, grp[i]), FLOW_REASON_IDLE), now);
}

void flow_table_tick(struct flow_table *t, uint64_t now)
{
    for (int c = 0; c < FLOW_CLASS_COUNT; c++) {
        struct flow_q *q = &t->q[c];
        uint64_t to = t->cfg.idle_ns[c];
        /* The queue is ordered by whole seconds of last_ts: once a flow's
         * second plus the timeout lies in the future, no later flow can have
         * expired. Flows of the boundary second that are not idle long
         * enough yet stay. */
        /* Expired flows are collected in groups and ended together: while
         * the queue is walked, each one's bucket and record lines are
         * prefetched, so ending them (unlinking from the bucket chain) does
         * not wait for one miss after another. Ending a flow only makes its
         * entry stale: the walk goes on from `pos`. */
        uint32_t grp[FLOW_END_GROUP], n = 0;
        struct q_pf pf = {q->head, 0};
        q_pf_fill(t, q, &pf);
        for (uint32_t pos = q->head; pos != q->tail; pos++) {
            uint32_t idx = *q_at(q, pos);
            if (idx == FLOW_NIL)
                continue; /* the flow was queued again or ended */
            q_pf_next(t, q, &pf);
            struct flow *f = F(t, idx);
            if (sat_add(f->last_ts / FLOW_SEC * FLOW_SEC, to) > now)
                break;
            if (sat_add(f->last_ts, to) <= now) {
                __builtin_prefetch(&t->buckets[f->hash & (t->nbuckets - 1)]);
                /* Lines 2-3: the END record reads them (times, MACs, counts). */
                __builtin_prefetch((const char *)f + 128);
                __builtin_prefetch((const char *)f + 192);
                if (t->cfg.devices != NULL) /* unreferenced when it ends */
                    flow_devices_prefetch(t->cfg.devices, f->dev[0], f->dev[1]);
                if (t->cfg.prefetch != NULL) /* e.g. the app slot the record reads */
                    t->cfg.prefetch(t->cfg.arg, f);
                grp[n++] = idx;
                if (n == FLOW_END_GROUP) {
                    flow_end_group(t, grp, n, now);
                    n = 0;
                }
            }
        }
        flow_end_group(t, grp, n, now);
        q_trim(t, c);
    }
    if (t->cfg.active_ns == 0)
        return;
    while (t->ahead != FLOW_NIL) {
        uint32_t idx = t->ahead;
        struct flow *f = F(t, idx);
        if (sat_add(f->report_ts, t->cfg.active_ns) > now)
            break;
        if (f->pkts[0] != f->rep_pkts[0] || f->pkts[1] != f->rep_pkts[1]) {
            t->cfg.on_event(t->cfg.arg, f, FLOW_EV_UPDATE, FLOW_REASON_ACTIVE, now);
            t->st.updates++;
            if (f->updates < UINT8_MAX)
                f->updates++;
            for (int s = 0; s < 2; s++) {
                f->rep_pkts[s] = f->pkts[s];
                f->rep_bytes[s] = f->bytes[s];
            }
        }
        f->report_ts = now;
        alist_unlink(t, idx);
        alist_append(t, idx);
    }
}

void flow_table_flush(struct flow_table *t, enum flow_reason why, uint64_t now)
{
    /* Every flow goes: report them in queue order, then reset the buckets,
     * queues and free list wholesale instead of unlinking each flow (its
     * bucket walk was a cache miss per flow, the bulk of a shutdown). */
    for (int c = 0; c < FLOW_CLASS_COUNT; c++) {
        struct flow_q *q = &t->q[c];
        for (uint32_t pos = q->head; pos != q->tail; pos++) {
            flow_flush_prefetch(t, q, pos);
            uint32_t idx = *q_at(q, pos);
            if (idx == FLOW_NIL)
                continue;
            struct flow *f = F(t, idx);
            t->cfg.on_event(t->cfg.arg, f, FLOW_EV_END, flow_final_reason(f, why), now);
            if (t->cfg.devices != NULL)
                for (int s = 0; s < 2; s++)
                    if (f->dev[s] != FLOW_NIL)
                        flow_devices_unref(t->cfg.devices, f->dev[s]);
            t->st.flows_active--;
            t->st.flows_ended++;
        }
        q->head = q->tail = 0;
    }
    t->ahead = t->atail = FLOW_NIL;
    memset(t->buckets, 0xff, (size_t)t->nbuckets * sizeof(uint32_t));
    /* Free list in index order over every allocated slot, as flow_alloc
     * threads a new chunk. */
    t->free_head = t->nchunks ? 0 : FLOW_NIL;
    for (uint32_t ch = 0; ch < t->nchunks; ch++) {
        struct flow *fc = t->chunks[ch];
        uint32_t base = ch << FLOW_CHUNK_SHIFT;
        for (uint32_t i = 0; i < FLOW_CHUNK; i++)
            fc[i].hnext = base + i + 1;
        if (ch + 1 == t->nchunks)
            fc[FLOW_CHUNK - 1].hnext = FLOW_NIL;
    }
}

/* ---- names ---------------------------------------------------------------- */

/* A string literal with its length. */
#define FLOW_STR(lit) ((struct flow_str){(lit), sizeof(lit) - 1})

struct flow_str flow_reason_str(enum flow_reason r)
{
    switch (r) {
    case FLOW_REASON_FIN:
        return FLOW_STR("fin");
    case FLOW_REASON_RST:
        return FLOW_STR("rst");
    case FLOW_REASON_IDLE:
        return FLOW_STR("idle");
    case FLOW_REASON_ACTIVE:
        return FLOW_STR("active");
    case FLOW_REASON_EVICTION:
        return FLOW_STR("eviction");
    case FLOW_REASON_SHUTDOWN:
        return FLOW_STR("shutdown");
    default:
        return FLOW_STR("none");
    }
}

struct flow_str flow_tcp_state_str(enum flow_tcp_state s)
{
    switch (s) {
    case FLOW_TCP_SYN_SENT:
        return FLOW_STR("syn_sent");
    case FLOW_TCP_SYN_RECEIVED:
        return FLOW_STR("syn_received");
    case FLOW_TCP_ESTABLISHED:
        return FLOW_STR("established");
    case FLOW_TCP_FIN_WAIT:
        return FLOW_STR("fin_wait");
    case FLOW_TCP_CLOSED:
        return FLOW_STR("closed");
    case FLOW_TCP_RESET:
        return FLOW_STR("reset");
    default:
        return FLOW_STR("none");
    }
}

struct flow_str flow_transport_str(uint8_t proto)
{
    switch (proto) {
    case 1:
        return FLOW_STR("icmp");
    case 2:
        return FLOW_STR("igmp");
    case 6:
        return FLOW_STR("tcp");
    case 17:
        return FLOW_STR("udp");
    case 47:
        return FLOW_STR("gre");
    case 50:
        return FLOW_STR("esp");
    case 51:
        return FLOW_STR("ah");
    case 58:
        return FLOW_STR("ipv6-icmp");
    case 89:
        return FLOW_STR("ospf");
    case 103:
        return FLOW_STR("pim");
    case 112:
        return FLOW_STR("vrrp");
    case 132:
        return FLOW_STR("sctp");
    default:
        return (struct flow_str){NULL, 0};
    }
}

const char *flow_reason_name(enum flow_reason r)
{
    return flow_reason_str(r).s;
}

const char *flow_tcp_state_name(enum flow_tcp_state s)
{
    return flow_tcp_state_str(s).s;
}

const char *flow_transport_name(uint8_t proto)
{
    return flow_transport_str(proto).s;
}

size_t flow_tcp_flags_str(uint8_t flags, char buf[9])
{
    /* Fixed order: SYN, ACK, PSH, FIN, RST, URG, ECE, CWR ("SAPF"). */
    static const struct {
        uint8_t bit;
        char c;
    } order[] = {{FLOW_TCP_SYN, 'S'}, {FLOW_TCP_ACK, 'A'}, {FLOW_TCP_PSH, 'P'},
                 {FLOW_TCP_FIN, 'F'}, {FLOW_TCP_RST, 'R'}, {FLOW_TCP_URG, 'U'},
                 {FLOW_TCP_ECE, 'E'}, {FLOW_TCP_CWR, 'C'}};
    int n = 0;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (flags & order[i].bit)
            buf[n++] = order[i].c;
    buf[n] = '\0';
    return (size_t)n;
}
