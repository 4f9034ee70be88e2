/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns_domain.h - split a DNS name into the ECS registered domain, top level
 * domain (the public suffix) and subdomain with the Public Suffix List of
 * libpsl (its built-in list: no file, no network).
 *
 * Pure code apart from libpsl: no core headers, no allocation, no globals.
 * Built only when libpsl is found (NS_HAVE_LIBPSL); called by decoder/dns on
 * its worker thread when it builds a netscope.dns record, and by the tests.
 */
#ifndef NS_DNS_DOMAIN_H
#define NS_DNS_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpsl.h>

/* Longest name handled (the parser's presentation text of a 255-byte name
 * with every byte escaped fits). */
#define DNS_DOMAIN_MAX 1024

/* Offsets into the caller's buffer (see dns_domain_split). */
struct dns_domain {
    size_t len;   /* the normalised name: buf[0..len)                          */
    size_t tld;   /* top level domain: buf[tld..len)                            */
    size_t reg;   /* registered domain buf[reg..len), when has_reg              */
    bool has_reg; /* false when the name is itself a public suffix (or a TLD)  */
};

/*
 * Split `name` (len bytes, DNS presentation form as dns_parse writes it:
 * "\." is a dot inside a label, "\DDD" a byte) for the ECS fields:
 * dns.question.top_level_domain = buf[tld..len), registered_domain =
 * buf[reg..len) and subdomain = buf[0..reg-1) (when reg > 0). buf (bufsz
 * bytes) receives the name with ASCII letters lower-cased and one trailing
 * dot removed, NUL-terminated. Labels end only at unescaped dots, so an
 * escaped dot never splits a label. Returns false (nothing to emit) for the
 * root, an empty name, an empty label, a name that does not fit buf or
 * DNS_DOMAIN_MAX, or when psl is NULL.
 */
bool dns_domain_split(const psl_ctx_t *psl, const char *name, size_t len, char *buf, size_t bufsz,
                      struct dns_domain *out);

/* A memo of splits, owned by the caller (one per thread; zeroed memory is an
 * empty cache). A libpsl lookup walks the name suffix by suffix, each a
 * few thousand instructions; names repeat (A and AAAA queries, popular
 * names) and their parents repeat even more, so both are remembered. */
#define DNS_DOMAIN_CACHE 8192  /* name slots (power of two), direct-mapped: 900 KB */
#define DNS_DOMAIN_PARENTS 512 /* parent slots (power of two)             */
#define DNS_DOMAIN_KEY 104     /* lookup strings up to this long are cached */
struct dns_domain_slot {
    uint16_t klen; /* 0 = empty */
    int16_t tld;   /* offsets into the key                 */
    int16_t reg;   /* -1: the key itself is a public suffix */
    char key[DNS_DOMAIN_KEY];
};
struct dns_domain_cache {
    struct dns_domain_slot slot[DNS_DOMAIN_CACHE];     /* whole names */
    struct dns_domain_slot parent[DNS_DOMAIN_PARENTS]; /* names minus their first label */
};

/* dns_domain_split with a memo (cache may be NULL: no memo). Same results. */
bool dns_domain_split_cached(const psl_ctx_t *psl, struct dns_domain_cache *cache, const char *name,
                             size_t len, char *buf, size_t bufsz, struct dns_domain *out);

#endif
