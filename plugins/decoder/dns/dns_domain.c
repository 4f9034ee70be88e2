/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns_domain.c - registered domain / public suffix / subdomain of a DNS name
 * with libpsl (see dns_domain.h). Used by decoder/dns (worker thread, its own
 * cache) and the tests.
 */
#include "dns_domain.h"

#include <string.h>

/* Normalise name into buf (lower case, no trailing dot) and look (the same,
 * with escaped dots as '_' so libpsl's label split sees only real dots; same
 * length, so an offset into one is an offset into the other). Returns the
 * length, 0 when there is nothing to split. */
static size_t domain_norm(const char *name, size_t len, char *buf, size_t bufsz, char *look)
{
    if (len == 0 || len >= bufsz || len >= DNS_DOMAIN_MAX)
        return 0;
    bool label_empty = true;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (ch == '\0')
            return 0;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch == '\\' && i + 1 < len) {
            /* "\X": X is part of the label, whatever it is ("\DDD" digits
             * are plain label characters after the first). */
            buf[n] = look[n] = '\\';
            n++;
            i++;
            ch = name[i];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            buf[n] = ch;
            look[n] = ch == '.' ? '_' : ch;
            n++;
            label_empty = false;
            continue;
        }
        if (ch == '.') {
            if (label_empty) {
                /* An empty label: the root ("."), a leading dot or "..". A
                 * single trailing dot (absolute name) is dropped. */
                return 0;
            }
            if (i + 1 == len)
                break;
            label_empty = true;
        } else {
            label_empty = false;
        }
        buf[n] = look[n] = ch;
        n++;
    }
    if (n == 0 || label_empty)
        return 0;
    buf[n] = look[n] = '\0';
    return n;
}

/* The libpsl walk over look[0..n) (NUL-terminated): libpsl checks the name,
 * then each shorter suffix, and stops at the first public one (the longest
 * public suffix; it applies the implicit "*" rule, so a name under an
 * unlisted TLD still has one: its last label); the registered domain is that
 * suffix plus the label before it. One psl_registrable_domain call gives
 * both (psl_unregistrable_domain would walk again). */
static bool domain_walk(const psl_ctx_t *psl, const char *look, size_t n, struct dns_domain *out)
{
    const char *reg = psl_registrable_domain(psl, look);
    out->len = n;
    if (reg == NULL) {
        /* The name itself is a public suffix (a TLD, "co.uk"). */
        if (!psl_is_public_suffix(psl, look))
            return false;
        out->tld = 0;
        out->reg = 0;
        out->has_reg = false;
        return true;
    }
    const char *dot = reg >= look && reg < look + n ? strchr(reg, '.') : NULL;
    if (dot == NULL)
        return false;
    out->reg = (size_t)(reg - look);
    out->tld = (size_t)(dot + 1 - look);
    out->has_reg = true;
    return true;
}

bool dns_domain_split(const psl_ctx_t *psl, const char *name, size_t len, char *buf, size_t bufsz,
                      struct dns_domain *out)
{
    return dns_domain_split_cached(psl, NULL, name, len, buf, bufsz, out);
}

/* Hash of the lookup key, 8 bytes at a time (the memo hashes every name it
 * sees, so a byte-serial hash was a large part of a hit). The last 8 bytes
 * are read overlapping the previous word; shorter keys byte by byte. */
static uint32_t domain_hash(const char *s, size_t n)
{
    const uint64_t k = 0x9e3779b97f4a7c15u;
    uint64_t h = (uint64_t)n * k, w;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8) {
            memcpy(&w, s + i, 8);
            h = (h ^ w) * k;
            h ^= h >> 29;
        }
        memcpy(&w, s + n - 8, 8);
        h = (h ^ w) * k;
    } else {
        w = 0;
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)(uint8_t)s[i] << (8 * i);
        h = (h ^ w) * k;
    }
    h ^= h >> 32;
    return (uint32_t)(h * k >> 32);
}

/* The slot of key k in table t (nslots, a power of two); *hit when it holds k. */
static struct dns_domain_slot *cache_find(struct dns_domain_slot *t, size_t nslots, const char *k,
                                          size_t n, bool *hit)
{
    *hit = false;
    if (t == NULL || n >= DNS_DOMAIN_KEY)
        return NULL;
    struct dns_domain_slot *s = &t[domain_hash(k, n) & (nslots - 1)];
    *hit = s->klen == n && memcmp(s->key, k, n) == 0;
    return s;
}

static void cache_put(struct dns_domain_slot *s, const char *k, size_t n,
                      const struct dns_domain *d)
{
    if (s == NULL)
        return;
    memcpy(s->key, k, n);
    s->klen = (uint16_t)n;
    s->tld = (int16_t)d->tld;
    s->reg = d->has_reg ? (int16_t)d->reg : -1;
}

static void cache_get(const struct dns_domain_slot *s, struct dns_domain *d)
{
    d->len = s->klen;
    d->tld = (size_t)s->tld;
    d->has_reg = s->reg >= 0;
    d->reg = d->has_reg ? (size_t)s->reg : d->tld;
}

bool dns_domain_split_cached(const psl_ctx_t *psl, struct dns_domain_cache *cache, const char *name,
                             size_t len, char *buf, size_t bufsz, struct dns_domain *out)
{
    char look[DNS_DOMAIN_MAX];
    if (psl == NULL)
        return false;
    if (cache != NULL && len < DNS_DOMAIN_KEY && len < bufsz && len > 0) {
        /* The common hit: name is itself a stored key. Keys are look
         * strings (lower case, no trailing dot or empty label, no "\."),
         * which domain_norm leaves unchanged, so buf is name and the stored
         * offsets are name's: no normalising pass. */
        const struct dns_domain_slot *s =
            &cache->slot[domain_hash(name, len) & (DNS_DOMAIN_CACHE - 1)];
        if (s->klen == len && memcmp(s->key, name, len) == 0) {
            memcpy(buf, name, len);
            buf[len] = '\0';
            cache_get(s, out);
            return true;
        }
    }
    size_t n = domain_norm(name, len, buf, bufsz, look);
    if (n == 0)
        return false;
    bool hit;
    struct dns_domain_slot *s =
        cache_find(cache != NULL ? cache->slot : NULL, DNS_DOMAIN_CACHE, look, n, &hit);
    if (hit) {
        cache_get(s, out);
        return true;
    }
    /* walk(name) = name if it is public, else walk(parent): the parent
     * (the name without its first label) is what repeats, so it is looked
     * up in the memo before libpsl walks it. */
    const char *dot = cache != NULL ? strchr(look, '.') : NULL;
    if (dot == NULL || psl_is_public_suffix(psl, look)) {
        if (!domain_walk(psl, look, n, out))
            return false;
    } else {
        size_t po = (size_t)(dot + 1 - look), pn = n - po;
        bool phit;
        struct dns_domain_slot *ps =
            cache_find(cache->parent, DNS_DOMAIN_PARENTS, look + po, pn, &phit);
        struct dns_domain pd;
        if (phit) {
            cache_get(ps, &pd);
        } else {
            if (!domain_walk(psl, look + po, pn, &pd))
                return false;
            cache_put(ps, look + po, pn, &pd);
        }
        out->len = n;
        out->tld = po + pd.tld;
        out->reg = pd.has_reg ? po + pd.reg : 0;
        out->has_reg = true;
    }
    cache_put(s, look, n, out);
    return true;
}
