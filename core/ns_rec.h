/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_rec.h - the record implementation behind the host table's rec_* members.
 *
 * A record is one fixed header (type, time, sequence, atomic refcount) plus one
 * storage buffer holding an entry array that grows up from the start and a byte
 * arena (keys, string values) that grows down from the end. The buffer starts
 * inline in the header's own allocation, so a typical record costs one malloc;
 * a bigger record moves its storage to a separate heap block grown by realloc.
 * Strings are addressed by their distance from the buffer's end, so growing the
 * buffer never invalidates them. A record never grows past NS_REC_MAX_BYTES.
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
    uint32_t key;        /* arena offset of the NUL-terminated key, 0 = no key */
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

/* Inline storage bytes in the header allocation, by record type: header +
 * inline buffer make one 4 KiB block for a flow record (≈ 35 fields, ≈ 2.2 KB:
 * a 2 KiB block overflowed into a second allocation for every flow) and one
 * 2 KiB block for the others (enough for a typical DNS or TLS record). */
#define NS__REC_HDR 80u
#define NS__REC_INLINE_FLOW (4096u - NS__REC_HDR)
#define NS__REC_INLINE (2048u - NS__REC_HDR)

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
    void *fin_arg;
    uint64_t fin_tag;
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

/* ---- lifecycle ----------------------------------------------------------- */

/* Make an empty record of `type` (NS_REC_FLOW..NS_REC_OTHER) stamped ts_ns
 * (ns since the epoch) with refcount 1. Returns NULL on allocation failure or
 * a bad type (counted in ns_rec_alloc_failures). Any thread. */
struct ns_record *ns_rec_new(enum ns_rec_type type, uint64_t ts_ns);

/* Drop one reference; the last one frees the record. NULL is ignored. Any
 * thread (atomic). */
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
