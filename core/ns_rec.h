/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_rec.h - the record implementation behind the host table's rec_* members.
 *
 * A record is one fixed header (type, time, sequence, atomic refcount) plus one
 * storage buffer holding an entry array that grows up from the start and a byte
 * arena (copied keys, string values) that grows down from the end; an interned
 * key (ns_rec_key) takes no arena bytes, its entry holds the handle. The buffer starts
 * inline in the header's own block, so a typical record costs one block (from
 * the producer thread's block heap, or one malloc without one); a bigger record moves its storage
 * to a separate heap block grown by realloc. Strings are addressed by their distance from the
 * buffer's end, so growing the buffer never invalidates them. A record never grows past
 * NS_REC_MAX_BYTES.
 *
 * Threads: a record has one owner at a time (the producer until it emits it,
 * then whichever stage holds it); only ns_rec_ref/ns_rec_release may race, and
 * they are atomic. Read functions may run concurrently once nobody writes.
 *
 * Callers: the core's host table wraps these as its rec_* members; the event
 * fan-out uses ns_rec_clone; sinks use ns_rec_to_json (ns_json.c).
 */
#ifndef NETSCOPE_CORE_NS_REC_H
#define NETSCOPE_CORE_NS_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netscope/ns_record.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the record schema described in core/SCHEMA.md. */
#define NS_SCHEMA_VERSION 1

/* Hard bound on one record's storage (entries + keys + strings). An add that
 * would exceed it fails with -ENOMEM and is counted. */
#define NS_REC_MAX_BYTES (1u << 20)
/* Array/object nesting limit; a deeper begin fails with -EINVAL. */
#define NS_REC_MAX_DEPTH 32
/* Longest key accepted; a longer one fails with -EINVAL. */
#define NS_REC_MAX_KEY 1024

/* ---- core-internal layout (ns_rec.c and ns_json.c only) ----------------- */

/* One field or marker, 32 bytes. Offsets are distances from the end of the
 * storage buffer (0 = none), which survive growth. */
struct ns__rec_ent {
    uint32_t key;        /* arena offset of the NUL-terminated key, 0 = no key,
                          * or NS__REC_KEY_ID | handle for an interned key    */
    uint16_t klen;       /* key length without the NUL                        */
    uint8_t type;        /* enum ns_field_type                                  */
    unsigned depth : 7;  /* 0 = top level; END has its BEGIN's depth      */
    unsigned kplain : 1; /* key needs no JSON escaping (ns_json.c fast path) */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct {
            uint32_t off; /* arena offset, NUL-terminated copy */
            uint32_t len;
        } s;
        struct ns_ip ip;
        uint8_t mac[6];
    } v;
};

/* Header + inline storage make one block whose size depends on the record
 * type (ns__rec_block_size). Measured on the base capture (storage bytes
 * used, entries + arena): flow 1.7-2.2 KB, dns 1.6-2.4 KB, http and http2
 * 1.5-1.7 KB, arp 0.8 KB, device 1.0-1.2 KB, tls 2.1-4.3 KB (p90 3.8 KB).
 * So a 2.5 KiB block holds every common record but TLS, and a 4.5 KiB block
 * holds TLS; a bigger record still grows into a separate allocation. */
#define NS__REC_HDR 80u
#define NS__REC_BLOCK 2560u   /* every type but TLS */
#define NS__REC_BLOCK_L 4608u /* NS_REC_TLS          */
#define NS__REC_INLINE (NS__REC_BLOCK - NS__REC_HDR)
#define NS__REC_INLINE_L (NS__REC_BLOCK_L - NS__REC_HDR)

struct ns_rec_heap;

struct ns_record {
    uint32_t refcnt; /* atomic                                        */
    uint16_t type;   /* enum ns_rec_type                              */
    uint8_t open;    /* containers currently open                     */
    uint8_t skip;    /* failed begins whose ends are still due        */
    uint64_t ts_ns;  /* record time                                   */
    uint64_t seq;    /* event.sequence, set by the core; 0 = none     */
    uint32_t n;      /* entries used                                  */
    uint32_t cap;    /* storage bytes                                 */
    uint32_t arena;  /* arena bytes used (from the end)               */
    uint32_t kinds;  /* bit d set: the container open at depth d is an array */
    uint8_t *buf;    /* inl or a heap block                           */
    /* Finaliser (ns_rec_on_release): called once after the last release;
     * not copied by ns_rec_clone. inl stays 16-byte aligned at offset 80;
     * its size is chosen at ns_rec_new (NS__REC_INLINE*). */
    void (*fin)(void *arg, uint64_t tag);
    void *fin_arg; /* also the free-list link while the block is cached */
    uint64_t fin_tag;
    struct ns_rec_heap *home; /* block cache it returns to; NULL = malloc'd */
    _Alignas(16) uint8_t inl[];
};

static inline const struct ns__rec_ent *ns__rec_ents(const struct ns_record *rec)
{
    return (const struct ns__rec_ent *)(const void *)rec->buf;
}
static inline const char *ns__rec_str(const struct ns_record *rec, uint32_t off)
{
    return (const char *)rec->buf + rec->cap - off;
}

/* Interned keys (ns_rec_key): e->key holds NS__REC_KEY_ID | handle instead of
 * an arena offset (offsets stay below NS_REC_MAX_BYTES), and e->klen/kplain
 * are copied from the table at add time. Handles are 1-based indices into an
 * append-only table of chunks that never move: a chunk pointer is published
 * (release) before any handle in it, so readers need no lock. */
#define NS__REC_KEY_ID 0x80000000u
#define NS__REC_KCHUNK_BITS 8u
#define NS__REC_KCHUNK (1u << NS__REC_KCHUNK_BITS) /* names per chunk */
#define NS__REC_KCHUNKS 256u                       /* chunks: 65536 names */
#define NS_REC_MAX_KEYS (NS__REC_KCHUNK * NS__REC_KCHUNKS)

struct ns__rec_kname {
    const char *s; /* NUL-terminated, never freed */
    uint16_t len;
    bool plain; /* needs no JSON escaping (as ns__rec_ent.kplain) */
};
extern struct ns__rec_kname *ns__rec_kchunk[NS__REC_KCHUNKS]; /* atomic pointers */

/* The table entry of a valid handle (1..ns_rec_key's count). */
static inline const struct ns__rec_kname *ns__rec_kname(uint32_t id)
{
    uint32_t i = id - 1u;
    const struct ns__rec_kname *c = __atomic_load_n(
        &ns__rec_kchunk[(i >> NS__REC_KCHUNK_BITS) % NS__REC_KCHUNKS], __ATOMIC_ACQUIRE);
    return &c[i & (NS__REC_KCHUNK - 1u)];
}

/* An entry's key (e->klen bytes, NUL-terminated), or NULL when it has none.
 * Every reader of keys goes through this: copied and interned keys read the
 * same. */
static inline const char *ns__rec_key(const struct ns_record *rec, const struct ns__rec_ent *e)
{
    if (e->key & NS__REC_KEY_ID)
        return ns__rec_kname(e->key & ~NS__REC_KEY_ID)->s;
    return e->key ? ns__rec_str(rec, e->key) : NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Make an empty record of `type` (NS_REC_FLOW..NS_REC_OTHER) stamped ts_ns
 * (ns since the epoch) with refcount 1. Returns NULL on allocation failure or
 * a bad type (counted in ns_rec_alloc_failures). Any thread; on a thread with
 * a bound heap (ns_rec_heap_bind) the block comes from that heap's cache. */
struct ns_record *ns_rec_new(enum ns_rec_type type, uint64_t ts_ns);

/* Drop one reference; the last one frees the record (its block goes back to
 * the heap it came from, or to free()). NULL is ignored. Any thread (atomic). */
void ns_rec_release(struct ns_record *rec);

/* Take one more reference (a sink keeping a record past process()). */
void ns_rec_ref(struct ns_record *rec);

/* Have cb(arg, tag) called once when the last reference is released, on the
 * releasing thread, after the record is freed (host->rec_on_release). A second
 * call replaces the first. Clones do not inherit it. Only the owner calls it. */
void ns_rec_on_release(struct ns_record *rec, void (*cb)(void *arg, uint64_t tag), void *arg,
                       uint64_t tag);

/* Deep copy with refcount 1 (fan-out to stages that may modify it). The copy
 * has the same type, time, sequence and fields, and its storage is trimmed to
 * what is used. Returns NULL on allocation failure (counted). */
struct ns_record *ns_rec_clone(const struct ns_record *rec);

/* Core-only: set event.sequence (the core numbers records once, at emit). */
void ns_rec_set_seq(struct ns_record *rec, uint64_t seq);

/* "netscope.flow" etc. for a record type; "netscope.other" for NS_REC_OTHER
 * and for out-of-range values. Never NULL; static storage. */
const char *ns_rec_dataset(enum ns_rec_type type);

/* Process-wide count of failed allocations and of adds refused by the size
 * bound since start (relaxed atomic read). */
uint64_t ns_rec_alloc_failures(void);

/* ---- record block heaps ------------------------------------------------
 * A heap caches record blocks for one producer thread (a decoder worker, a
 * source, the event thread), so a record costs no malloc/free in the steady
 * state although it is freed on another thread (the sinks' loop thread). Each
 * block remembers its heap. A release on the owner thread puts the block on
 * the heap's local free list; a release on any other thread pushes it on the
 * heap's remote list (one lock-free CAS); the owner allocates from its local
 * list, then adopts the whole remote list with one atomic exchange, then
 * mallocs. At most max_free blocks (a quarter as many TLS blocks) belong to
 * a heap, so at most that many are ever cached; records made beyond that, in
 * a burst, are plain malloc'd blocks freed by their last release. Threads
 * with no heap bound use malloc/free as before. */

/* A new heap, bound to no thread. max_free: blocks of NS__REC_BLOCK bytes the
 * heap may own, hence cache (0 = NS_REC_HEAP_MAX_FREE: 40 MiB), and a quarter
 * as many TLS blocks. With 4096 the flow+dns+tls+http pipeline still made 7 %
 * of its records past the budget (bursts of flow expiries); with 16384, 0.2 %.
 * Returns NULL when out of memory (records then fall back to malloc). Any
 * thread. */
#define NS_REC_HEAP_MAX_FREE 16384u
struct ns_rec_heap *ns_rec_heap_new(uint32_t max_free);

/* Make `heap` the calling thread's heap (NULL unbinds). A heap is bound on at
 * most one thread during its life, its owner; call this first thing in the
 * thread's main function. */
void ns_rec_heap_bind(struct ns_rec_heap *heap);

/* The calling thread's heap, or NULL. */
struct ns_rec_heap *ns_rec_heap_current(void);

/* Free `heap` and its cached blocks. Call it on the owner thread, or on any
 * thread after the owner has been joined (or has unbound it). Records of the
 * heap still alive stay valid: their blocks go to free() when released, and
 * the last one frees the heap's header. NULL is ignored. */
void ns_rec_heap_free(struct ns_rec_heap *heap);

/* Owner-thread counters (tests, diagnostics). */
struct ns_rec_heap_stats {
    uint64_t hits;     /* records made from a cached block                 */
    uint64_t mallocs;  /* blocks the heap malloc'd (and owns)              */
    uint64_t overflow; /* records made past the budget: plain malloc/free  */
    uint64_t owned;    /* blocks of the heap now: live, cached or returning */
    uint64_t cached;   /* on the local free lists (not the remote ones)     */
};
void ns_rec_heap_stats(const struct ns_rec_heap *heap, struct ns_rec_heap_stats *out);

/* ---- building -------------------------------------------------------------
 * Append one field. `key` is copied and is a dotted ECS name at the top level
 * and inside objects; inside an array it is ignored and may be NULL. Return 0,
 * -ENOMEM when the record would exceed NS_REC_MAX_BYTES or memory is exhausted
 * (counted; the field is missing, the record stays valid), or -EINVAL for a
 * NULL key where one is needed, a key longer than NS_REC_MAX_KEY, or a bad IP
 * family. Only the record's owner may call them. */
int ns_rec_add_bool(struct ns_record *rec, const char *key, bool v);
int ns_rec_add_int(struct ns_record *rec, const char *key, int64_t v);
int ns_rec_add_uint(struct ns_record *rec, const char *key, uint64_t v);
int ns_rec_add_double(struct ns_record *rec, const char *key, double v);
/* `len` bytes of s (any bytes, NUL included; the JSON writer escapes them). */
int ns_rec_add_str(struct ns_record *rec, const char *key, const char *s, size_t len);
/* NUL-terminated s; NULL s adds an empty string. */
int ns_rec_add_cstr(struct ns_record *rec, const char *key, const char *s);
int ns_rec_add_ip(struct ns_record *rec, const char *key, const struct ns_ip *ip);
int ns_rec_add_mac(struct ns_record *rec, const char *key, const uint8_t mac[6]);
/* A point in time (ns since the epoch), rendered as ISO 8601 UTC. */
int ns_rec_add_time(struct ns_record *rec, const char *key, uint64_t ts_ns);

/* Open an array or object; fields added until the matching ns_rec_end go
 * inside it. Example (ECS dns.answers):
 *     ns_rec_begin_array(r, "dns.answers");
 *       ns_rec_begin_object(r, NULL);
 *         ns_rec_add_cstr(r, "name", "example.com");
 *         ns_rec_add_uint(r, "ttl", 300);
 *       ns_rec_end(r);
 *     ns_rec_end(r);
 * If a begin fails (-ENOMEM, or -EINVAL beyond NS_REC_MAX_DEPTH), adds up to
 * its matching end fail too and that end returns 0, so the structure stays
 * balanced whatever the producer does with the errors. Room for the closing
 * marker is reserved at begin, so ns_rec_end never fails for lack of memory.
 * ns_rec_end returns -EINVAL when nothing is open. */
int ns_rec_begin_array(struct ns_record *rec, const char *key);
int ns_rec_begin_object(struct ns_record *rec, const char *key);
int ns_rec_end(struct ns_record *rec);

/* ---- interned keys (host->rec_key, ABI 1.1) -------------------------------
 * ns_rec_key returns a handle for a key name: the same for the same name,
 * valid for the life of the process (names are never freed); 0 when name is
 * NULL, empty, longer than NS_REC_MAX_KEY, the table holds NS_REC_MAX_KEYS
 * names already, or memory is exhausted. Any thread: inserts take a mutex,
 * adds by handle only read the table. */
uint32_t ns_rec_key(const char *name);

/* The ns_rec_add_* functions with a handle instead of a copied key: no arena
 * bytes for the key and no per-call length or escaping check. The same
 * results and errors (a record may mix both kinds of key and reads, clones
 * and serialises exactly as if every key were copied), plus -EINVAL for 0 or
 * an unknown handle where a key is needed; inside an array the handle is
 * ignored (0 is fine). */
int ns_rec_add_bool_k(struct ns_record *rec, uint32_t key, bool v);
int ns_rec_add_int_k(struct ns_record *rec, uint32_t key, int64_t v);
int ns_rec_add_uint_k(struct ns_record *rec, uint32_t key, uint64_t v);
int ns_rec_add_double_k(struct ns_record *rec, uint32_t key, double v);
int ns_rec_add_str_k(struct ns_record *rec, uint32_t key, const char *s, size_t len);
int ns_rec_add_ip_k(struct ns_record *rec, uint32_t key, const struct ns_ip *ip);
int ns_rec_add_mac_k(struct ns_record *rec, uint32_t key, const uint8_t mac[6]);
int ns_rec_add_time_k(struct ns_record *rec, uint32_t key, uint64_t ts_ns);
int ns_rec_begin_array_k(struct ns_record *rec, uint32_t key);
int ns_rec_begin_object_k(struct ns_record *rec, uint32_t key);

/* ---- reading ----------------------------------------------------------- */

enum ns_rec_type ns_rec_type(const struct ns_record *rec);
uint64_t ns_rec_time(const struct ns_record *rec);
uint64_t ns_rec_seq(const struct ns_record *rec);

/* First top-level entry whose key equals `key` exactly (an array or object
 * gives its begin marker). Views stay valid until the record changes. */
bool ns_rec_get(const struct ns_record *rec, const char *key, struct ns_field_view *out);

/* Every entry in order, markers included: an END marker has key NULL and its
 * begin's depth; array items have key NULL. */
size_t ns_rec_field_count(const struct ns_record *rec);
bool ns_rec_field_at(const struct ns_record *rec, size_t i, struct ns_field_view *out);

/* Remove every top-level field (a whole block for an array/object) whose key
 * equals `key`; returns how many were removed. Freed arena bytes are not
 * reused until the record is cloned. */
size_t ns_rec_remove(struct ns_record *rec, const char *key);

/* ---- JSON (ns_json.c) -------------------------------------------------- */

/* Serialise as one JSON object without a newline, appended at buf[*len]
 * (*buf realloc'd as needed, *cap its capacity; *buf may start NULL). See
 * core/SCHEMA.md for the format. Returns 0, or -ENOMEM with *len unchanged.
 * Any thread; the hostname must be set before threads start. */
int ns_rec_to_json(const struct ns_record *rec, char **buf, size_t *cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
