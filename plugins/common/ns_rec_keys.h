/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_rec_keys.h - record keys interned once per plugin (host->rec_key, ABI
 * 1.1) and adders that pass the handle when there is one and the name
 * otherwise (a 1.0 core, or a failed registration): the record is the same
 * either way, but a handle costs no strlen, key copy or escaping check per
 * field, which is most of the cost of a small field.
 *
 * Header-only (static inline, public headers only), so every plugin .so still
 * exports only `ns_plugin`. A plugin keeps a table of its keys,
 *     static struct ns_key keys[] = {[K_SRC_IP] = {"source.ip"}, ...};
 *     static int keys_ready;
 * and before adding fields calls ns_keys_ready(host, keys, n, &keys_ready)
 * (cheap after the first call; any thread, several at once: the handles are
 * the same whoever registers them), then ns_key_uint(h, r, &keys[K_X], v) and
 * so on on the thread that builds the record.
 */
#ifndef NS_REC_KEYS_H
#define NS_REC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netscope/netscope.h"

/* A key name and its handle (0: add by name). id is written and read with
 * relaxed atomics: threads registering at once store the same value. */
struct ns_key {
    const char *name;
    uint32_t id;
};

/* Register every key of the table once (first caller), so later calls cost a
 * load. *ready is the table's flag, 0 before the first call. */
static inline void ns_keys_ready(const struct ns_host *h, struct ns_key *k, size_t n, int *ready)
{
    if (__atomic_load_n(ready, __ATOMIC_ACQUIRE))
        return;
    bool have = NS_HOST_HAS(h, rec_begin_object_k);
    for (size_t i = 0; i < n; i++)
        __atomic_store_n(&k[i].id, have ? h->rec_key(k[i].name) : 0, __ATOMIC_RELAXED);
    __atomic_store_n(ready, 1, __ATOMIC_RELEASE);
}

static inline uint32_t ns_key_id(const struct ns_key *k)
{
    return __atomic_load_n(&k->id, __ATOMIC_RELAXED);
}

static inline int ns_key_bool(const struct ns_host *h, struct ns_record *r, const struct ns_key *k,
                              bool v)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_add_bool_k(r, id, v) : h->rec_add_bool(r, k->name, v);
}

static inline int ns_key_int(const struct ns_host *h, struct ns_record *r, const struct ns_key *k,
                             int64_t v)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_add_int_k(r, id, v) : h->rec_add_int(r, k->name, v);
}

static inline int ns_key_uint(const struct ns_host *h, struct ns_record *r, const struct ns_key *k,
                              uint64_t v)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_add_uint_k(r, id, v) : h->rec_add_uint(r, k->name, v);
}

static inline int ns_key_double(const struct ns_host *h, struct ns_record *r,
                                const struct ns_key *k, double v)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_add_double_k(r, id, v) : h->rec_add_double(r, k->name, v);
}

static inline int ns_key_str(const struct ns_host *h, struct ns_record *r, const struct ns_key *k,
                             const char *s, size_t len)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_add_str_k(r, id, s, len) : h->rec_add_str(r, k->name, s, len);
}

/* NUL-terminated s; NULL adds an empty string (as rec_add_cstr). */
static inline int ns_key_cstr(const struct ns_host *h, struct ns_record *r, const struct ns_key *k,
                              const char *s)
{
    return ns_key_str(h, r, k, s, s != NULL ? strlen(s) : 0);
}

static inline int ns_key_ip(const struct ns_host *h, struct ns_record *r, const struct ns_key *k,
                            const struct ns_ip *ip)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_add_ip_k(r, id, ip) : h->rec_add_ip(r, k->name, ip);
}

static inline int ns_key_mac(const struct ns_host *h, struct ns_record *r, const struct ns_key *k,
                             const uint8_t mac[6])
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_add_mac_k(r, id, mac) : h->rec_add_mac(r, k->name, mac);
}

static inline int ns_key_time(const struct ns_host *h, struct ns_record *r, const struct ns_key *k,
                              uint64_t ts_ns)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_add_time_k(r, id, ts_ns) : h->rec_add_time(r, k->name, ts_ns);
}

static inline int ns_key_array(const struct ns_host *h, struct ns_record *r, const struct ns_key *k)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_begin_array_k(r, id) : h->rec_begin_array(r, k->name);
}

static inline int ns_key_object(const struct ns_host *h, struct ns_record *r,
                                const struct ns_key *k)
{
    uint32_t id = ns_key_id(k);
    return id ? h->rec_begin_object_k(r, id) : h->rec_begin_object(r, k->name);
}

#endif /* NS_REC_KEYS_H */
