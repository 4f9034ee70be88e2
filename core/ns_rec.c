/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_rec.c - records: build, read back, reference-count, clone.
 *
 * Called by every stage through the host table (ns_host.c) and by the core's
 * fan-out. Any thread may call these on a record it owns; refcounting and the
 * return of a block to its home heap are the only cross-thread operations.
 * Layout, limits and the heap design are described in ns_rec.h; the runtime
 * (ns_rt.c) creates and binds one heap per producer thread. The interned key
 * table (ns_rec_key, host->rec_key) is process-wide: inserts under a mutex
 * (plugin init), lookups by handle lock-free on any thread.
 */
#include "ns_rec.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ENT_SIZE ((uint32_t)sizeof(struct ns__rec_ent))
_Static_assert(sizeof(struct ns__rec_ent) == 32, "entry layout: 32 bytes");
_Static_assert(sizeof(struct ns_record) == NS__REC_HDR,
               "header: 80 bytes, inline storage after it");
_Static_assert(NS_REC_MAX_DEPTH <= 32, "rec->kinds has one bit per level");
_Static_assert(NS__REC_BLOCK % 64 == 0 && NS__REC_BLOCK_L % 64 == 0, "blocks fill cache lines");

static uint64_t rec_failures; /* atomic */

static void rec_fail(void)
{
    __atomic_fetch_add(&rec_failures, 1, __ATOMIC_RELAXED);
}

uint64_t ns_rec_alloc_failures(void)
{
    return __atomic_load_n(&rec_failures, __ATOMIC_RELAXED);
}

static const char *const rec_datasets[NS_REC_TYPE_MAX] = {
    [NS_REC_FLOW] = "netscope.flow",     [NS_REC_DNS] = "netscope.dns",
    [NS_REC_TLS] = "netscope.tls",       [NS_REC_HTTP] = "netscope.http",
    [NS_REC_HTTP2] = "netscope.http2",   [NS_REC_ICMP] = "netscope.icmp",
    [NS_REC_ARP] = "netscope.arp",       [NS_REC_DEVICE] = "netscope.device",
    [NS_REC_TCP] = "netscope.tcp",       [NS_REC_ALERT] = "netscope.alert",
    [NS_REC_METRIC] = "netscope.metric", [NS_REC_GAP] = "netscope.gap",
    [NS_REC_OTHER] = "netscope.other",
};

const char *ns_rec_dataset(enum ns_rec_type type)
{
    if ((int)type <= 0 || type >= NS_REC_TYPE_MAX)
        return "netscope.other";
    return rec_datasets[type];
}

/* ---- block heaps -------------------------------------------------------- */

#define REC_NCLASS 2
/* Marks an abandoned heap's remote lists: releasers then free() instead. */
#define REC_ABANDONED ((struct ns_record *)(uintptr_t)1)

struct ns_rec_heap {
    /* Owner thread only (and ns_rec_heap_free once the owner is gone). */
    struct ns_record *local[REC_NCLASS]; /* free blocks, linked by fin_arg */
    uint32_t owned[REC_NCLASS];          /* blocks of this heap in existence */
    uint32_t max_owned[REC_NCLASS];
    uint64_t hits, mallocs, overflow;
    /* Shared with releasing threads: its own cache line, so their pushes do
     * not bounce the line the owner's allocations use. One list per size
     * class, so the owner adopts a whole list without walking it. */
    _Alignas(64) struct ns_record *remote[REC_NCLASS]; /* atomic LIFOs */
    int64_t pending; /* atomic; after abandonment: blocks out - releases */
};

/* The calling thread's heap. initial-exec TLS: the core is linked into the
 * executable, so this is one fs-relative load. */
static _Thread_local struct ns_rec_heap *rec_cur __attribute__((tls_model("initial-exec")));

static inline uint32_t rec_class(uint16_t type)
{
    return type == NS_REC_TLS;
}

static inline size_t rec_block_size(uint32_t cls)
{
    return cls ? NS__REC_BLOCK_L : NS__REC_BLOCK;
}

struct ns_rec_heap *ns_rec_heap_new(uint32_t max_free)
{
    struct ns_rec_heap *h = aligned_alloc(64, sizeof(*h));
    if (!h)
        return NULL;
    memset(h, 0, sizeof(*h));
    if (!max_free)
        max_free = NS_REC_HEAP_MAX_FREE;
    /* TLS blocks are bigger and rarer: a quarter of the count. */
    h->max_owned[0] = max_free;
    h->max_owned[1] = max_free / 4 ? max_free / 4 : 1;
    return h;
}

void ns_rec_heap_bind(struct ns_rec_heap *heap)
{
    rec_cur = heap;
}

struct ns_rec_heap *ns_rec_heap_current(void)
{
    return rec_cur;
}

void ns_rec_heap_stats(const struct ns_rec_heap *h, struct ns_rec_heap_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!h)
        return;
    out->hits = h->hits;
    out->mallocs = h->mallocs;
    out->overflow = h->overflow;
    for (uint32_t c = 0; c < REC_NCLASS; c++) {
        out->owned += h->owned[c];
        for (const struct ns_record *r = h->local[c]; r; r = r->fin_arg)
            out->cached++;
    }
}

/* Any non-owner thread: give the block back to its home heap (one CAS on a
 * line the releasing thread usually holds already: the loop thread releases
 * long runs of records of the same worker). */
static void heap_push_remote(struct ns_rec_heap *h, struct ns_record *rec)
{
    struct ns_record **list = &h->remote[rec_class(rec->type)];
    struct ns_record *head = __atomic_load_n(list, __ATOMIC_RELAXED);
    do {
        if (head == REC_ABANDONED) {
            /* The heap is gone: free the block, and the heap with the last. */
            free(rec);
            if (__atomic_sub_fetch(&h->pending, 1, __ATOMIC_ACQ_REL) == 0)
                free(h);
            return;
        }
        rec->fin_arg = head;
        /* release: the owner's acquire exchange then sees every write made
         * to the block (and to the blocks pushed before it) */
    } while (
        !__atomic_compare_exchange_n(list, &head, rec, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/* Owner: a cached block of class c, or NULL. The local list first, else the
 * whole remote list in one exchange (so no pop ever meets a recycled head:
 * no ABA). The list is adopted as it is, not walked: each block's link was
 * written by another core, and chasing them would cost a cache miss each.
 * Instead the next block is prefetched while this record is built. */
static inline struct ns_record *heap_take(struct ns_rec_heap *h, uint32_t c)
{
    struct ns_record *rec = h->local[c];
    if (!rec) {
        /* A plain load first: an empty list costs no write to the shared line. */
        if (!__atomic_load_n(&h->remote[c], __ATOMIC_RELAXED))
            return NULL;
        rec = __atomic_exchange_n(&h->remote[c], NULL, __ATOMIC_ACQUIRE);
        if (!rec)
            return NULL;
    }
    struct ns_record *next = rec->fin_arg;
    h->local[c] = next;
    if (next) {
        /* The next block was last written by the thread that released it:
         * ask for it now, for writing, so the next record's header, entries
         * (they grow up from the start) and strings (down from the end) are
         * ours by the time it is built. Measured: typical records use the
         * first 1.3-2 KB and the last few hundred bytes of a block. */
        const char *b = (const char *)next;
        size_t sz = rec_block_size(c);
        for (size_t o = 0; o < 1536; o += 64)
            __builtin_prefetch(b + o, 1, 3);
        for (size_t o = sz - 512; o < sz; o += 64)
            __builtin_prefetch(b + o, 1, 3);
    }
    h->hits++;
    return rec;
}

/* free() every block of a free list; returns how many. */
static int64_t heap_free_list(struct ns_record *r)
{
    int64_t n = 0;
    while (r) {
        struct ns_record *next = r->fin_arg;
        free(r);
        n++;
        r = next;
    }
    return n;
}

void ns_rec_heap_free(struct ns_rec_heap *h)
{
    if (!h)
        return;
    if (rec_cur == h)
        rec_cur = NULL;
    int64_t out = 0;
    for (uint32_t c = 0; c < REC_NCLASS; c++) {
        /* From now on releasers free their blocks themselves (REC_ABANDONED). */
        struct ns_record *r = __atomic_exchange_n(&h->remote[c], REC_ABANDONED, __ATOMIC_ACQ_REL);
        out += h->owned[c] - heap_free_list(r) - heap_free_list(h->local[c]);
        h->local[c] = NULL;
    }
    /* Blocks still out are counted down by their releases (pending may
     * already be negative); whoever reaches zero frees the header. */
    if (__atomic_add_fetch(&h->pending, out, __ATOMIC_ACQ_REL) == 0)
        free(h);
}

/* ---- lifecycle ----------------------------------------------------------- */

struct ns_record *ns_rec_new(enum ns_rec_type type, uint64_t ts_ns)
{
    if ((int)type <= 0 || type >= NS_REC_TYPE_MAX) {
        rec_fail();
        return NULL;
    }
    uint32_t cls = rec_class((uint16_t)type);
    struct ns_rec_heap *h = rec_cur;
    struct ns_record *rec = h ? heap_take(h, cls) : NULL;
    if (!rec) {
        /* Only the header is initialised: the inline buffer is written
         * before it is read, so the block is not zeroed (calloc would cost
         * more than the rest of a typical record build). */
        rec = malloc(rec_block_size(cls));
        if (!rec) {
            rec_fail();
            return NULL;
        }
        if (h && h->owned[cls] < h->max_owned[cls]) {
            h->owned[cls]++;
            h->mallocs++;
        } else if (h) {
            /* Past the heap's budget (a burst): a plain block, freed by its
             * last release, so at most max_owned blocks are ever cached. */
            h->overflow++;
            h = NULL;
        }
    }
    rec->refcnt = 1;
    rec->type = (uint16_t)type;
    rec->open = 0;
    rec->skip = 0;
    rec->ts_ns = ts_ns;
    rec->seq = 0;
    rec->n = 0;
    rec->cap = (uint32_t)rec_block_size(cls) - NS__REC_HDR;
    rec->arena = 0;
    rec->kinds = 0;
    rec->buf = rec->inl;
    rec->fin = NULL;
    rec->home = h;
    return rec;
}

static void rec_free(struct ns_record *rec)
{
    if (rec->buf != rec->inl)
        free(rec->buf); /* grown storage is always a plain malloc */
    struct ns_rec_heap *h = rec->home;
    if (!h) {
        free(rec);
    } else if (h == rec_cur) {
        /* released by the producer itself */
        uint32_t c = rec_class(rec->type);
        rec->fin_arg = h->local[c];
        h->local[c] = rec;
    } else {
        heap_push_remote(h, rec);
    }
}

void ns_rec_release(struct ns_record *rec)
{
    if (!rec)
        return;
    /* The usual record has one reference, ours: then nobody else can hold
     * one (a ref needs a reference), so a plain acquire load proves we are
     * last and the locked decrement is skipped. Otherwise acq_rel: the
     * thread that frees must see every write made by the threads that
     * released before it (the acquire load gives the same for the first
     * path: those releases were release operations on refcnt). */
    if (__atomic_load_n(&rec->refcnt, __ATOMIC_ACQUIRE) == 1 ||
        __atomic_sub_fetch(&rec->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
        void (*fin)(void *, uint64_t) = rec->fin;
        void *arg = rec->fin_arg;
        uint64_t tag = rec->fin_tag;
        rec_free(rec);
        if (fin)
            fin(arg, tag);
    }
}

void ns_rec_on_release(struct ns_record *rec, void (*cb)(void *arg, uint64_t tag), void *arg,
                       uint64_t tag)
{
    if (!rec)
        return;
    rec->fin = cb;
    rec->fin_arg = arg;
    rec->fin_tag = tag;
}

void ns_rec_ref(struct ns_record *rec)
{
    if (rec)
        __atomic_add_fetch(&rec->refcnt, 1, __ATOMIC_RELAXED);
}

void ns_rec_set_seq(struct ns_record *rec, uint64_t seq)
{
    rec->seq = seq;
}

/* Bytes in use, counting the END markers owed to open containers. */
static inline uint32_t rec_used(const struct ns_record *rec)
{
    return (rec->n + rec->open) * ENT_SIZE + rec->arena;
}

/* Make room for `need` more bytes. Growth moves the arena to the new end of
 * the buffer; offsets are measured from the end, so they stay valid. */
static int rec_grow(struct ns_record *rec, uint32_t need)
{
    uint64_t want = (uint64_t)rec_used(rec) + need;
    if (want > NS_REC_MAX_BYTES)
        return -ENOMEM;
    uint64_t ncap = (uint64_t)rec->cap * 2;
    while (ncap < want)
        ncap *= 2;
    if (ncap > NS_REC_MAX_BYTES)
        ncap = NS_REC_MAX_BYTES;
    uint8_t *nbuf;
    if (rec->buf == rec->inl) {
        nbuf = malloc(ncap);
        if (!nbuf)
            return -ENOMEM;
        memcpy(nbuf, rec->buf, (size_t)rec->n * ENT_SIZE);
    } else {
        nbuf = realloc(rec->buf, ncap);
        if (!nbuf)
            return -ENOMEM;
    }
    /* The arena sits at the old end (of the old block, or of nbuf after
     * realloc copied it); memmove handles the realloc'd overlap. */
    const uint8_t *old_arena = (rec->buf == rec->inl ? rec->inl : nbuf) + rec->cap - rec->arena;
    memmove(nbuf + ncap - rec->arena, old_arena, rec->arena);
    rec->buf = nbuf;
    rec->cap = (uint32_t)ncap;
    return 0;
}

static inline int rec_reserve(struct ns_record *rec, uint32_t need)
{
    if (rec_used(rec) + (uint64_t)need <= rec->cap)
        return 0;
    return rec_grow(rec, need);
}

/* Copy len bytes + NUL into the arena; returns the offset. Room must have been
 * reserved. */
static inline uint32_t rec_put(struct ns_record *rec, const void *p, uint32_t len)
{
    rec->arena += len + 1;
    uint8_t *dst = rec->buf + rec->cap - rec->arena;
    if (len)
        memcpy(dst, p, len);
    dst[len] = 0;
    return rec->arena;
}

/* Inside an array when the innermost open container is one (bit per depth;
 * NS_REC_MAX_DEPTH is 32, so one word holds every level). */
static inline bool rec_in_array(const struct ns_record *rec)
{
    return rec->open && ((rec->kinds >> (rec->open - 1u)) & 1u);
}

/* True when s[0..len) is printable ASCII without '"' and '\\': the JSON
 * writer can then copy the key (and its dotted segments) without escaping.
 * Computed once here, 8 bytes at a time, because a record may be serialised
 * by several sinks and keys are short, where per-byte escaping costs most. */
static inline bool rec_plain(const char *s, size_t len)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    size_t i = 0;
    for (;;) {
        if (len - i < 8) {
            if (len < 8)
                break;
            i = len - 8; /* the last word, overlapping: no byte loop */
        }
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        if (((x - ones * 0x20) | (q - ones) | (b - ones) | x) & high)
            return false;
        i += 8;
        if (i == len)
            return true;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* Copy a key (klen bytes + NUL) into the arena and tell whether it is plain
 * (rec_plain), in one pass: every add copies a key, and for the usual 10-40
 * byte dotted names a memcpy call plus a second scan cost more than the
 * field itself. Room must have been reserved. */
static inline uint32_t rec_put_key(struct ns_record *rec, const char *key, uint32_t klen,
                                   bool *plain)
{
    rec->arena += klen + 1;
    uint8_t *dst = rec->buf + rec->cap - rec->arena;
    dst[klen] = 0;
    if (klen < 8) {
        if (klen)
            memcpy(dst, key, klen);
        *plain = rec_plain(key, klen);
        return rec->arena;
    }
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t bad = 0;
    for (uint32_t i = 0;;) {
        uint64_t x;
        memcpy(&x, key + i, 8);
        memcpy(dst + i, &x, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        bad |= ((x - ones * 0x20) | (q - ones) | (b - ones) | x) & high;
        if (i + 8 == klen)
            break;
        i = klen - i - 8 < 8 ? klen - 8 : i + 8; /* the last word may overlap */
    }
    *plain = bad == 0;
    return rec->arena;
}

/* ---- interned keys ------------------------------------------------------ */

struct ns__rec_kname *ns__rec_kchunk[NS__REC_KCHUNKS];
static uint32_t key_count; /* atomic: handles 1..key_count are valid */
/* Per handle, the first 8 bytes of a top-level entry with that key (key,
 * klen, kplain; type 0, depth 0), so that an add by handle (rec_fast_k)
 * checks the handle and gets its entry head with one load from a flat
 * array. 0 = no such handle (every head has NS__REC_KEY_ID set), which
 * sends the add to the general path and its checks. Stored (release) once
 * the name's table entry is complete, loaded with acquire (a plain load on
 * x86): as the acquire load of key_count did, it makes the entry visible to
 * whoever later reads the record's keys. 512 KiB of zero pages, touched as
 * keys come. */
static uint64_t key_head[NS_REC_MAX_KEYS + 1];
/* Name -> handle, open addressing (0 = empty), under key_lock. */
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *key_hash, key_hcap;

static uint32_t key_fnv(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Insert handle id (name already in the table) into key_hash, growing it to
 * keep the load under a half. Lock held. */
static int key_hash_put(uint32_t id)
{
    if ((key_count + 1u) * 2u > key_hcap) {
        uint32_t ncap = key_hcap ? key_hcap * 2u : 256u;
        uint32_t *nh = calloc(ncap, sizeof(*nh));
        if (!nh)
            return -ENOMEM;
        for (uint32_t i = 0; i < key_hcap; i++) {
            uint32_t k = key_hash[i];
            if (!k)
                continue;
            const struct ns__rec_kname *kn = ns__rec_kname(k);
            uint32_t j = key_fnv(kn->s, kn->len) & (ncap - 1u);
            while (nh[j])
                j = (j + 1u) & (ncap - 1u);
            nh[j] = k;
        }
        free(key_hash);
        key_hash = nh;
        key_hcap = ncap;
    }
    const struct ns__rec_kname *kn = ns__rec_kname(id);
    uint32_t j = key_fnv(kn->s, kn->len) & (key_hcap - 1u);
    while (key_hash[j])
        j = (j + 1u) & (key_hcap - 1u);
    key_hash[j] = id;
    return 0;
}

uint32_t ns_rec_key(const char *name)
{
    if (!name)
        return 0;
    size_t len = strnlen(name, NS_REC_MAX_KEY + 1u);
    if (len == 0 || len > NS_REC_MAX_KEY)
        return 0;
    uint32_t h = key_fnv(name, len), id = 0;
    pthread_mutex_lock(&key_lock);
    for (uint32_t j = key_hcap ? h & (key_hcap - 1u) : 0; key_hcap && key_hash[j];
         j = (j + 1u) & (key_hcap - 1u)) {
        const struct ns__rec_kname *kn = ns__rec_kname(key_hash[j]);
        if (kn->len == len && memcmp(kn->s, name, len) == 0) {
            id = key_hash[j];
            goto out;
        }
    }
    if (key_count >= NS_REC_MAX_KEYS)
        goto out;
    uint32_t i = key_count, c = i >> NS__REC_KCHUNK_BITS;
    struct ns__rec_kname *chunk = ns__rec_kchunk[c];
    if (!chunk) {
        chunk = calloc(NS__REC_KCHUNK, sizeof(*chunk));
        if (!chunk)
            goto out;
        /* Release: a reader that sees a handle in this chunk sees it. */
        __atomic_store_n(&ns__rec_kchunk[c], chunk, __ATOMIC_RELEASE);
    }
    char *copy = malloc(len + 1);
    if (!copy)
        goto out;
    memcpy(copy, name, len + 1);
    struct ns__rec_kname *kn = &chunk[i & (NS__REC_KCHUNK - 1u)];
    kn->s = copy;
    kn->len = (uint16_t)len;
    kn->plain = rec_plain(copy, len);
    if (key_hash_put(i + 1u) < 0) {
        free(copy);
        memset(kn, 0, sizeof(*kn));
        goto out;
    }
    id = i + 1u;
    struct ns__rec_ent head = {.key = id | NS__REC_KEY_ID, .klen = (uint16_t)len};
    head.kplain = kn->plain;
    uint64_t hw;
    memcpy(&hw, &head, sizeof(hw));
    __atomic_store_n(&key_head[id], hw, __ATOMIC_RELEASE);
    /* Release: the entry is complete before its handle is valid. */
    __atomic_store_n(&key_count, id, __ATOMIC_RELEASE);
out:
    pthread_mutex_unlock(&key_lock);
    return id;
}

/* Start an entry: checks the key, reserves room for the entry, its key and
 * `extra` arena bytes, and fills the header fields. The key is the string
 * `key` (copied), or with by_id the interned handle `kid` (no arena bytes;
 * by_id is a constant at every call site, so each adder keeps one path).
 * Returns NULL with *err set when the field cannot be added. */
static inline __attribute__((always_inline)) struct ns__rec_ent *
rec_start(struct ns_record *rec, const char *key, uint32_t kid, bool by_id, uint8_t type,
          uint32_t extra, uint32_t extra_ents, int *err)
{
    if (rec->skip) {
        /* Inside a container whose begin failed: the field is lost with it. */
        rec_fail();
        *err = -ENOMEM;
        return NULL;
    }
    bool in_array = rec_in_array(rec), plain = true;
    size_t klen = 0;
    uint32_t kval = 0;
    if (in_array) {
        key = NULL;
    } else if (by_id) {
        /* An unsigned compare rejects 0 and every handle not yet issued. */
        if (kid - 1u >= __atomic_load_n(&key_count, __ATOMIC_ACQUIRE)) {
            *err = -EINVAL;
            return NULL;
        }
        const struct ns__rec_kname *kn = ns__rec_kname(kid);
        klen = kn->len;
        plain = kn->plain;
        kval = kid | NS__REC_KEY_ID;
    } else {
        if (!key) {
            *err = -EINVAL;
            return NULL;
        }
        klen = strlen(key);
        if (klen > NS_REC_MAX_KEY) {
            *err = -EINVAL;
            return NULL;
        }
    }
    uint32_t need = (1 + extra_ents) * ENT_SIZE + (key ? (uint32_t)klen + 1 : 0) + extra;
    if (rec_reserve(rec, need) < 0) {
        rec_fail();
        *err = -ENOMEM;
        return NULL;
    }
    struct ns__rec_ent *e = (struct ns__rec_ent *)(void *)rec->buf + rec->n++;
    e->key = key ? rec_put_key(rec, key, (uint32_t)klen, &plain) : kval;
    e->klen = (uint16_t)klen;
    e->type = type;
    e->depth = rec->open & 0x7f;
    e->kplain = plain;
    return e;
}

/* ---- the common case of an add --------------------------------------------
 * Most adds are by interned key at the top level of a record whose inline
 * block still has room (a flow record: ~39 of them). Those take rec_fast_k:
 * one test for "top level, nothing failed" (open and skip both 0), one load
 * that checks the handle and gives the entry head (key_head), one room
 * check; the adders are then leaf functions without a frame. Everything else (arrays,
 * objects, a failed begin, growth, a bad handle) goes through rec_start in a
 * separate, not inlined function, with the same results. */

#define REC_LIKELY(x) __builtin_expect(!!(x), 1)

/* The new entry with its head written (its value is the caller's), or NULL
 * when the add needs the general path. `extra`: arena bytes besides the
 * entry. */
static inline __attribute__((always_inline)) struct ns__rec_ent *
rec_fast_k(struct ns_record *rec, uint32_t kid, uint8_t type, uint32_t extra)
{
    if (!REC_LIKELY((rec->open | rec->skip) == 0 && kid <= NS_REC_MAX_KEYS))
        return NULL;
    uint64_t head = __atomic_load_n(&key_head[kid], __ATOMIC_ACQUIRE);
    if (!REC_LIKELY(head != 0))
        return NULL;
    uint32_t n = rec->n;
    /* rec_used() at the top level (no END owed), in 64 bits: extra is at
     * most NS_REC_MAX_BYTES, so nothing wraps. */
    if (!REC_LIKELY((uint64_t)n * ENT_SIZE + rec->arena + ENT_SIZE + extra <= rec->cap))
        return NULL;
    struct ns__rec_ent *e = (struct ns__rec_ent *)(void *)rec->buf + n;
    rec->n = n + 1;
    memcpy(e, &head, 8);
    e->type = type;
    return e;
}

/* The general path of an add by handle: the value is `bits` for a scalar
 * (bool, int, uint, double and time as their 64 bits), else vlen bytes at p
 * (an IP or MAC copied to e->v, a string's bytes copied to the arena). Not
 * inlined, and called as a tail call: the adders keep no frame. */
static __attribute__((noinline)) int rec_add_k_slow(struct ns_record *rec, uint32_t kid,
                                                    uint8_t type, uint64_t bits, const void *p,
                                                    size_t vlen)
{
    int err;
    uint32_t extra = type == NS_F_STR ? (uint32_t)vlen + 1 : 0;
    struct ns__rec_ent *e = rec_start(rec, NULL, kid, true, type, extra, 0, &err);
    if (!e)
        return err;
    switch (type) {
    case NS_F_BOOL:
        e->v.b = bits != 0;
        break;
    case NS_F_STR:
        e->v.s.off = rec_put(rec, p, (uint32_t)vlen);
        e->v.s.len = (uint32_t)vlen;
        break;
    case NS_F_IP:
    case NS_F_MAC:
        memcpy(&e->v, p, vlen);
        break;
    default:
        e->v.u = bits;
        break;
    }
    return 0;
}

/* rec_copy_str's long case, out of line and returning 0, so that adders
 * reach it as a tail call and keep no frame for the rare long value. */
static __attribute__((noinline)) int rec_copy_long(uint8_t *d, const char *s, uint32_t len)
{
    memcpy(d, s, len);
    d[len] = 0;
    return 0;
}

/* Copy len bytes of s to d, then a NUL; returns 0. Short values (most:
 * "tcp", a port name, a community id) are copied in overlapping words
 * rather than by a libc call; nothing outside s[0, len) is read. */
static inline __attribute__((always_inline)) int rec_copy_str(uint8_t *d, const char *s,
                                                              uint32_t len)
{
    if (len > 32)
        return rec_copy_long(d, s, len);
    if (len >= 16) {
        uint64_t a, b, c, x;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        memcpy(&c, s + len - 16, 8);
        memcpy(&x, s + len - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + 8, &b, 8);
        memcpy(d + len - 16, &c, 8);
        memcpy(d + len - 8, &x, 8);
    } else if (len >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + len - 8, &b, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + len - 4, &b, 4);
    } else if (len) {
        /* 1-3 bytes: first, middle and last cover them all. */
        uint8_t a = (uint8_t)s[0], b = (uint8_t)s[len / 2], c = (uint8_t)s[len - 1];
        d[0] = a;
        d[len / 2] = b;
        d[len - 1] = c;
    }
    d[len] = 0;
    return 0;
}

int ns_rec_add_bool(struct ns_record *rec, const char *key, bool v)
{
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, 0, false, NS_F_BOOL, 0, 0, &err);
    if (!e)
        return err;
    e->v.b = v;
    return 0;
}

int ns_rec_add_int(struct ns_record *rec, const char *key, int64_t v)
{
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, 0, false, NS_F_INT, 0, 0, &err);
    if (!e)
        return err;
    e->v.i = v;
    return 0;
}

int ns_rec_add_uint(struct ns_record *rec, const char *key, uint64_t v)
{
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, 0, false, NS_F_UINT, 0, 0, &err);
    if (!e)
        return err;
    e->v.u = v;
    return 0;
}

int ns_rec_add_double(struct ns_record *rec, const char *key, double v)
{
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, 0, false, NS_F_DOUBLE, 0, 0, &err);
    if (!e)
        return err;
    e->v.d = v;
    return 0;
}

/* ns_rec_add_str's general path (a key, a failed container, growth). */
static __attribute__((noinline)) int rec_add_str_slow(struct ns_record *rec, const char *key,
                                                      const char *s, size_t len)
{
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, 0, false, NS_F_STR, (uint32_t)len + 1, 0, &err);
    if (!e)
        return err;
    e->v.s.off = rec_put(rec, s, (uint32_t)len);
    e->v.s.len = (uint32_t)len;
    return 0;
}

int ns_rec_add_str(struct ns_record *rec, const char *key, const char *s, size_t len)
{
    if (len >= NS_REC_MAX_BYTES) {
        /* Cannot fit whatever else the record holds; refuse before the
         * uint32_t arithmetic below could wrap. */
        rec_fail();
        return -ENOMEM;
    }
    if (!s)
        len = 0;
    /* The common case here is an array item ("event.type", "dns.header_flags"):
     * nothing failed, the innermost open container is an array (no key to
     * check) and the buffer has room, the END markers owed to the open
     * containers included (as rec_used counts them). The header is read into
     * locals once, as in ns_rec_add_str_k. The entry is what rec_start makes:
     * key 0, kplain set. */
    uint32_t open = rec->open, n = rec->n, arena = rec->arena, cap = rec->cap;
    if (!REC_LIKELY(rec->skip == 0 && open && ((rec->kinds >> (open - 1u)) & 1u) &&
                    (uint64_t)(n + open + 1u) * ENT_SIZE + arena + len + 1 <= cap))
        return rec_add_str_slow(rec, key, s, len);
    uint8_t *buf = rec->buf;
    uint32_t off = arena + (uint32_t)len + 1;
    rec->n = n + 1;
    rec->arena = off;
    struct ns__rec_ent *e = (struct ns__rec_ent *)(void *)buf + n;
    e->key = 0;
    e->klen = 0;
    e->type = NS_F_STR;
    e->depth = open & 0x7f;
    e->kplain = 1;
    e->v.s.off = off;
    e->v.s.len = (uint32_t)len;
    return rec_copy_str(buf + cap - off, s, (uint32_t)len);
}

int ns_rec_add_cstr(struct ns_record *rec, const char *key, const char *s)
{
    return ns_rec_add_str(rec, key, s, s ? strlen(s) : 0);
}

int ns_rec_add_ip(struct ns_record *rec, const char *key, const struct ns_ip *ip)
{
    if (!ip || (ip->family != 4 && ip->family != 6))
        return -EINVAL;
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, 0, false, NS_F_IP, 0, 0, &err);
    if (!e)
        return err;
    e->v.ip = *ip;
    return 0;
}

int ns_rec_add_mac(struct ns_record *rec, const char *key, const uint8_t mac[6])
{
    if (!mac)
        return -EINVAL;
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, 0, false, NS_F_MAC, 0, 0, &err);
    if (!e)
        return err;
    memcpy(e->v.mac, mac, 6);
    return 0;
}

int ns_rec_add_time(struct ns_record *rec, const char *key, uint64_t ts_ns)
{
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, 0, false, NS_F_TIME, 0, 0, &err);
    if (!e)
        return err;
    e->v.u = ts_ns;
    return 0;
}

static inline __attribute__((always_inline)) int rec_begin(struct ns_record *rec, const char *key,
                                                           uint32_t kid, bool by_id, uint8_t type)
{
    if (rec->skip) {
        /* Nested in a failed container: track depth so its end balances. */
        if (rec->skip == UINT8_MAX)
            return -EINVAL;
        rec->skip++;
        rec_fail();
        return -ENOMEM;
    }
    if (rec->open >= NS_REC_MAX_DEPTH) {
        rec->skip = 1;
        return -EINVAL;
    }
    /* One extra entry reserved: the END this begin will need. rec_used()
     * counts it from now on through rec->open. */
    int err;
    struct ns__rec_ent *e = rec_start(rec, key, kid, by_id, type, 0, 1, &err);
    if (!e) {
        rec->skip = 1;
        return err;
    }
    memset(&e->v, 0, sizeof(e->v));
    if (type == NS_F_ARRAY)
        rec->kinds |= 1u << rec->open;
    else
        rec->kinds &= ~(1u << rec->open);
    rec->open++;
    return 0;
}

int ns_rec_begin_array(struct ns_record *rec, const char *key)
{
    return rec_begin(rec, key, 0, false, NS_F_ARRAY);
}

int ns_rec_begin_object(struct ns_record *rec, const char *key)
{
    return rec_begin(rec, key, 0, false, NS_F_OBJECT);
}

/* ---- adds by interned key ---------------------------------------------- */

int ns_rec_add_bool_k(struct ns_record *rec, uint32_t key, bool v)
{
    struct ns__rec_ent *e = rec_fast_k(rec, key, NS_F_BOOL, 0);
    if (!e)
        return rec_add_k_slow(rec, key, NS_F_BOOL, v, NULL, 0);
    e->v.b = v;
    return 0;
}

int ns_rec_add_int_k(struct ns_record *rec, uint32_t key, int64_t v)
{
    struct ns__rec_ent *e = rec_fast_k(rec, key, NS_F_INT, 0);
    if (!e)
        return rec_add_k_slow(rec, key, NS_F_INT, (uint64_t)v, NULL, 0);
    e->v.i = v;
    return 0;
}

int ns_rec_add_uint_k(struct ns_record *rec, uint32_t key, uint64_t v)
{
    struct ns__rec_ent *e = rec_fast_k(rec, key, NS_F_UINT, 0);
    if (!e)
        return rec_add_k_slow(rec, key, NS_F_UINT, v, NULL, 0);
    e->v.u = v;
    return 0;
}

int ns_rec_add_double_k(struct ns_record *rec, uint32_t key, double v)
{
    struct ns__rec_ent *e = rec_fast_k(rec, key, NS_F_DOUBLE, 0);
    if (!e) {
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        return rec_add_k_slow(rec, key, NS_F_DOUBLE, bits, NULL, 0);
    }
    e->v.d = v;
    return 0;
}

int ns_rec_add_str_k(struct ns_record *rec, uint32_t key, const char *s, size_t len)
{
    if (len >= NS_REC_MAX_BYTES) {
        rec_fail(); /* as ns_rec_add_str */
        return -ENOMEM;
    }
    if (!s)
        len = 0;
    /* rec_fast_k spelled out with the header in locals: the entry and
     * string stores go through byte pointers, which would otherwise force
     * every header field to be reloaded after them. */
    uint32_t n = rec->n, arena = rec->arena, cap = rec->cap;
    uint64_t head = 0;
    if (REC_LIKELY((rec->open | rec->skip) == 0 && key <= NS_REC_MAX_KEYS))
        head = __atomic_load_n(&key_head[key], __ATOMIC_ACQUIRE);
    if (!REC_LIKELY(head != 0 && (uint64_t)n * ENT_SIZE + arena + ENT_SIZE + len + 1 <= cap))
        return rec_add_k_slow(rec, key, NS_F_STR, 0, s, len);
    uint8_t *buf = rec->buf;
    uint32_t off = arena + (uint32_t)len + 1;
    rec->n = n + 1;
    rec->arena = off;
    struct ns__rec_ent *e = (struct ns__rec_ent *)(void *)buf + n;
    memcpy(e, &head, 8);
    e->type = NS_F_STR;
    e->v.s.off = off;
    e->v.s.len = (uint32_t)len;
    return rec_copy_str(buf + cap - off, s, (uint32_t)len);
}

int ns_rec_add_ip_k(struct ns_record *rec, uint32_t key, const struct ns_ip *ip)
{
    if (!ip || (ip->family != 4 && ip->family != 6))
        return -EINVAL;
    struct ns__rec_ent *e = rec_fast_k(rec, key, NS_F_IP, 0);
    if (!e)
        return rec_add_k_slow(rec, key, NS_F_IP, 0, ip, sizeof(*ip));
    e->v.ip = *ip;
    return 0;
}

int ns_rec_add_mac_k(struct ns_record *rec, uint32_t key, const uint8_t mac[6])
{
    if (!mac)
        return -EINVAL;
    struct ns__rec_ent *e = rec_fast_k(rec, key, NS_F_MAC, 0);
    if (!e)
        return rec_add_k_slow(rec, key, NS_F_MAC, 0, mac, 6);
    memcpy(e->v.mac, mac, 6);
    return 0;
}

int ns_rec_add_time_k(struct ns_record *rec, uint32_t key, uint64_t ts_ns)
{
    struct ns__rec_ent *e = rec_fast_k(rec, key, NS_F_TIME, 0);
    if (!e)
        return rec_add_k_slow(rec, key, NS_F_TIME, ts_ns, NULL, 0);
    e->v.u = ts_ns;
    return 0;
}

static __attribute__((noinline)) int rec_begin_k_slow(struct ns_record *rec, uint32_t key,
                                                      uint8_t type)
{
    return rec_begin(rec, NULL, key, true, type);
}

/* A top-level begin by handle (event.type, dns.answers): rec_fast_k with
 * room for the END it reserves, then what rec_begin does at depth 0. */
static inline __attribute__((always_inline)) int rec_begin_k(struct ns_record *rec, uint32_t key,
                                                             uint8_t type)
{
    struct ns__rec_ent *e = rec_fast_k(rec, key, type, ENT_SIZE);
    if (!e)
        return rec_begin_k_slow(rec, key, type);
    memset(&e->v, 0, sizeof(e->v));
    if (type == NS_F_ARRAY)
        rec->kinds |= 1u;
    else
        rec->kinds &= ~1u;
    rec->open = 1;
    return 0;
}

int ns_rec_begin_array_k(struct ns_record *rec, uint32_t key)
{
    return rec_begin_k(rec, key, NS_F_ARRAY);
}

int ns_rec_begin_object_k(struct ns_record *rec, uint32_t key)
{
    return rec_begin_k(rec, key, NS_F_OBJECT);
}

int ns_rec_end(struct ns_record *rec)
{
    if (rec->skip) {
        rec->skip--;
        return 0;
    }
    if (!rec->open)
        return -EINVAL;
    /* The slot was reserved at begin, so this cannot fail. */
    rec->open--;
    struct ns__rec_ent *e = (struct ns__rec_ent *)(void *)rec->buf + rec->n++;
    memset(e, 0, sizeof(*e));
    e->type = NS_F_END;
    e->depth = rec->open & 0x7f;
    return 0;
}

enum ns_rec_type ns_rec_type(const struct ns_record *rec)
{
    return (enum ns_rec_type)rec->type;
}

uint64_t ns_rec_time(const struct ns_record *rec)
{
    return rec->ts_ns;
}

uint64_t ns_rec_seq(const struct ns_record *rec)
{
    return rec->seq;
}

size_t ns_rec_field_count(const struct ns_record *rec)
{
    return rec->n;
}

static void rec_view(const struct ns_record *rec, const struct ns__rec_ent *e,
                     struct ns_field_view *out)
{
    memset(out, 0, sizeof(*out));
    out->key = ns__rec_key(rec, e);
    out->type = (enum ns_field_type)e->type;
    out->depth = e->depth;
    switch (e->type) {
    case NS_F_BOOL:
        out->v.b = e->v.b;
        break;
    case NS_F_INT:
        out->v.i = e->v.i;
        break;
    case NS_F_UINT:
    case NS_F_TIME:
        out->v.u = e->v.u;
        break;
    case NS_F_DOUBLE:
        out->v.d = e->v.d;
        break;
    case NS_F_STR:
        out->v.s.ptr = ns__rec_str(rec, e->v.s.off);
        out->v.s.len = e->v.s.len;
        break;
    case NS_F_IP:
        out->v.ip = e->v.ip;
        break;
    case NS_F_MAC:
        memcpy(out->v.mac, e->v.mac, 6);
        break;
    default:
        break;
    }
}

bool ns_rec_field_at(const struct ns_record *rec, size_t i, struct ns_field_view *out)
{
    if (i >= rec->n)
        return false;
    rec_view(rec, ns__rec_ents(rec) + i, out);
    return true;
}

static inline bool rec_key_eq(const struct ns_record *rec, const struct ns__rec_ent *e,
                              const char *key, size_t klen)
{
    return e->key && e->klen == klen && memcmp(ns__rec_key(rec, e), key, klen) == 0;
}

bool ns_rec_get(const struct ns_record *rec, const char *key, struct ns_field_view *out)
{
    if (!key)
        return false;
    size_t klen = strlen(key);
    if (klen > UINT16_MAX)
        return false; /* no entry has a key that long */
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    for (uint32_t i = 0, n = rec->n; i < n; i++) {
        /* The key length first: one compare rejects almost every entry
         * (flow_build looks up ~1 of ~40 keys per record). */
        if (e[i].klen != klen || e[i].depth != 0)
            continue;
        if (e[i].type != NS_F_END && rec_key_eq(rec, &e[i], key, klen)) {
            if (out)
                rec_view(rec, &e[i], out);
            return true;
        }
    }
    return false;
}

/* One past the last entry of the unit starting at i (a scalar, or a
 * begin..END block; an unclosed block runs to the end). */
static uint32_t rec_unit_end(const struct ns_record *rec, uint32_t i)
{
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    if (e[i].type != NS_F_ARRAY && e[i].type != NS_F_OBJECT)
        return i + 1;
    for (uint32_t j = i + 1; j < rec->n; j++) {
        if (e[j].depth == e[i].depth && e[j].type == NS_F_END)
            return j + 1;
    }
    return rec->n;
}

size_t ns_rec_remove(struct ns_record *rec, const char *key)
{
    if (!key)
        return 0;
    size_t klen = strlen(key), removed = 0;
    struct ns__rec_ent *e = (struct ns__rec_ent *)(void *)rec->buf;
    uint32_t i = 0;
    while (i < rec->n) {
        uint32_t end = rec_unit_end(rec, i);
        if (e[i].depth == 0 && e[i].type != NS_F_END && rec_key_eq(rec, &e[i], key, klen)) {
            if (rec->open && end == rec->n && e[i].type != NS_F_END &&
                (e[i].type == NS_F_ARRAY || e[i].type == NS_F_OBJECT) &&
                !(end > i + 1 && e[end - 1].type == NS_F_END && e[end - 1].depth == 0)) {
                /* Removing a block the producer still has open: everything
                 * open lives inside it, so nothing is open afterwards. */
                rec->open = 0;
            }
            memmove(&e[i], &e[end], (size_t)(rec->n - end) * ENT_SIZE);
            rec->n -= end - i;
            removed++;
            continue;
        }
        i = end;
    }
    return removed;
}

struct ns_record *ns_rec_clone(const struct ns_record *src)
{
    struct ns_record *rec = ns_rec_new((enum ns_rec_type)src->type, src->ts_ns);
    if (!rec)
        return NULL;
    uint32_t used = rec_used(src);
    if (used > rec->cap) {
        rec->buf = malloc(used);
        if (!rec->buf) {
            rec->buf = rec->inl;
            rec_free(rec);
            rec_fail();
            return NULL;
        }
        rec->cap = used;
    }
    memcpy(rec->buf, src->buf, (size_t)src->n * ENT_SIZE);
    memcpy(rec->buf + rec->cap - src->arena, src->buf + src->cap - src->arena, src->arena);
    rec->n = src->n;
    rec->arena = src->arena;
    rec->open = src->open;
    rec->skip = src->skip;
    rec->kinds = src->kinds;
    rec->seq = src->seq;
    return rec;
}
