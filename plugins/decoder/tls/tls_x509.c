/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_x509.c - certificate fields with OpenSSL (d2i_X509), never by hand.
 *
 * Called by tls_parse.c for each certificate of a clear-text Certificate
 * message (TLS <= 1.2), on the flow's worker thread; pure code otherwise (no
 * core headers). Everything is copied into struct tls_x509, the X509 object
 * is freed before returning.
 */
/* timegm: _GNU_SOURCE comes from the build */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls_parse.h"

/* "C=US, O=Let's Encrypt, CN=R3": forward order, ", " separators, short
 * names, RFC 2253 escaping but UTF-8 kept as is. */
static char *tls_name_str(const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL)
        return NULL;
    unsigned long fl = (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | XN_FLAG_SEP_CPLUS_SPC |
                       XN_FLAG_FN_SN | XN_FLAG_DUMP_UNKNOWN_FIELDS;
    char *out = NULL;
    if (X509_NAME_print_ex(b, n, 0, fl) >= 0) {
        char *p;
        long len = BIO_get_mem_data(b, &p);
        if (len >= 0 && (out = malloc((size_t)len + 1)) != NULL) {
            memcpy(out, p, (size_t)len);
            out[len] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

/* The last commonName of a name (the most specific one), UTF-8. */
static char *tls_name_cn(const X509_NAME *n)
{
    int idx = -1, last = -1;
    while ((idx = X509_NAME_get_index_by_NID(n, NID_commonName, idx)) >= 0)
        last = idx;
    if (last < 0)
        return NULL;
    const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, last);
    unsigned char *u = NULL;
    int len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
    if (len < 0)
        return NULL;
    char *out = malloc((size_t)len + 1);
    if (out != NULL) {
        memcpy(out, u, (size_t)len);
        out[len] = '\0';
    }
    OPENSSL_free(u);
    return out;
}

static bool tls_time(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    *out = (int64_t)timegm(&tm);
    return true;
}

/* Serial as upper-case hex of the DER INTEGER content (leading 00 kept, as
 * Wireshark and Suricata print it). */
static char *tls_serial(const ASN1_INTEGER *i)
{
    unsigned char *der = NULL;
    int n = i2d_ASN1_INTEGER(i, &der);
    if (n < 2) {
        OPENSSL_free(der);
        return NULL;
    }
    size_t off = 2, clen = der[1];
    if (der[1] & 0x80) {
        size_t nb = der[1] & 0x7f;
        clen = 0;
        if (nb > 4 || 2 + nb > (size_t)n) {
            OPENSSL_free(der);
            return NULL;
        }
        for (size_t k = 0; k < nb; k++)
            clen = clen << 8 | der[2 + k];
        off = 2 + nb;
    }
    if (off + clen > (size_t)n) {
        OPENSSL_free(der);
        return NULL;
    }
    char *out = malloc(clen * 2 + 1);
    if (out != NULL) {
        static const char hx[] = "0123456789ABCDEF";
        for (size_t k = 0; k < clen; k++) {
            out[2 * k] = hx[der[off + k] >> 4];
            out[2 * k + 1] = hx[der[off + k] & 15];
        }
        out[2 * clen] = '\0';
    }
    OPENSSL_free(der);
    return out;
}

static char *tls_strndup(const unsigned char *p, int n)
{
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s != NULL) {
        memcpy(s, p, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

static void tls_sans(X509 *x, struct tls_x509 *o)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (g == NULL)
        return;
    int n = sk_GENERAL_NAME_num(g);
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
        if (gn->type == GEN_DNS && o->n_san_dns < TLS_MAX_SANS) {
            if (o->san_dns == NULL && (o->san_dns = calloc(TLS_MAX_SANS, sizeof(char *))) == NULL)
                break;
            const ASN1_IA5STRING *s = gn->d.dNSName;
            char *v = tls_strndup(ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
            if (v != NULL)
                o->san_dns[o->n_san_dns++] = v;
        } else if (gn->type == GEN_IPADD && o->n_san_ip < TLS_MAX_SANS) {
            if (o->san_ip == NULL && (o->san_ip = calloc(TLS_MAX_SANS, sizeof(char *))) == NULL)
                break;
            const ASN1_OCTET_STRING *s = gn->d.iPAddress;
            int len = ASN1_STRING_length(s);
            char txt[INET6_ADDRSTRLEN];
            int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
            if (af != 0 && inet_ntop(af, ASN1_STRING_get0_data(s), txt, sizeof(txt)) != NULL) {
                char *v = strdup(txt);
                if (v != NULL)
                    o->san_ip[o->n_san_ip++] = v;
            }
        }
    }
    GENERAL_NAMES_free(g);
}

/* Contract in tls_parse.h. */
int tls_x509_parse(const uint8_t *der, size_t len, struct tls_x509 *o)
{
    memset(o, 0, sizeof(*o));
    if (len == 0 || len > 0x7fffffff)
        return -1;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL)
        return -1;
    o->subject = tls_name_str(X509_get_subject_name(x));
    o->issuer = tls_name_str(X509_get_issuer_name(x));
    o->subject_cn = tls_name_cn(X509_get_subject_name(x));
    o->issuer_cn = tls_name_cn(X509_get_issuer_name(x));
    o->serial = tls_serial(X509_get0_serialNumber(x));
    o->has_validity = tls_time(X509_get0_notBefore(x), &o->not_before) &&
                      tls_time(X509_get0_notAfter(x), &o->not_after);
    tls_sans(x, o);
    X509_free(x);

    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    const EVP_MD *sha = tls_md(TLS_MD_SHA256);
    tls_digest(sha, der, len, md, &ml);
    if (ml == 32) {
        static const char hx[] = "0123456789ABCDEF";
        for (unsigned k = 0; k < 32; k++) {
            o->sha256[2 * k] = hx[md[k] >> 4];
            o->sha256[2 * k + 1] = hx[md[k] & 15];
        }
        o->sha256[64] = '\0';
    }
    return 0;
}

/* Contract in tls_parse.h. */
void tls_x509_free(struct tls_x509 *o)
{
    if (o->block != NULL) { /* a copy: one allocation */
        free(o->block);
        memset(o, 0, sizeof(*o));
        return;
    }
    free(o->subject);
    free(o->issuer);
    free(o->subject_cn);
    free(o->issuer_cn);
    free(o->serial);
    for (uint16_t i = 0; i < o->n_san_dns; i++)
        free(o->san_dns[i]);
    for (uint16_t i = 0; i < o->n_san_ip; i++)
        free(o->san_ip[i]);
    free(o->san_dns);
    free(o->san_ip);
    memset(o, 0, sizeof(*o));
}

/* ---- cache -------------------------------------------------------------------- */

struct tls_x509_slot {
    uint8_t key[32];
    uint64_t used; /* 0 = empty */
    int ok;        /* parse result cached too: bad certificates are not re-parsed */
    struct tls_x509 x;
};

struct tls_x509_cache {
    uint32_t cap;
    uint64_t clock, hits, misses;
    struct tls_x509_slot *slots;
};

/* Contract in tls_parse.h. */
struct tls_x509_cache *tls_x509_cache_new(uint32_t cap)
{
    if (cap == 0)
        return NULL;
    struct tls_x509_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->slots = calloc(cap, sizeof(*c->slots));
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    c->cap = cap;
    return c;
}

/* Contract in tls_parse.h. */
void tls_x509_cache_free(struct tls_x509_cache *c)
{
    if (c == NULL)
        return;
    for (uint32_t i = 0; i < c->cap; i++)
        if (c->slots[i].used != 0)
            tls_x509_free(&c->slots[i].x);
    free(c->slots);
    free(c);
}

/* Contract in tls_parse.h. */
void tls_x509_cache_stats(const struct tls_x509_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c ? c->hits : 0;
    *misses = c ? c->misses : 0;
}

/* Bytes of s with its NUL (0 for NULL). */
static size_t tls_slen(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

/* s into *p (advanced), or NULL for NULL. */
static char *tls_pack(char **p, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *at = *p;
    memcpy(at, s, n);
    *p += n;
    return at;
}

/* Copy (for the cache and its hits): the strings and lists in one block
 * (x509.block), one malloc instead of one per string. A list is cut at a NULL
 * entry (it would be written as a missing value). On allocation failure every
 * field is missing. */
static void tls_x509_copy(struct tls_x509 *d, const struct tls_x509 *s)
{
    *d = *s;
    d->block = NULL;
    uint16_t nd = 0, ni = 0;
    if (s->san_dns != NULL)
        while (nd < s->n_san_dns && s->san_dns[nd] != NULL)
            nd++;
    if (s->san_ip != NULL)
        while (ni < s->n_san_ip && s->san_ip[ni] != NULL)
            ni++;
    size_t ls[5] = {tls_slen(s->subject), tls_slen(s->issuer), tls_slen(s->subject_cn),
                    tls_slen(s->issuer_cn), tls_slen(s->serial)};
    size_t total = ((size_t)nd + ni) * sizeof(char *);
    for (int i = 0; i < 5; i++)
        total += ls[i];
    for (uint16_t i = 0; i < nd; i++)
        total += strlen(s->san_dns[i]) + 1;
    for (uint16_t i = 0; i < ni; i++)
        total += strlen(s->san_ip[i]) + 1;
    char *b = total > 0 ? malloc(total) : NULL;
    if (b == NULL) {
        d->subject = d->issuer = d->subject_cn = d->issuer_cn = d->serial = NULL;
        d->san_dns = d->san_ip = NULL;
        d->n_san_dns = d->n_san_ip = 0;
        return;
    }
    char **pd = (char **)(void *)b, **pi = pd + nd;
    char *p = b + ((size_t)nd + ni) * sizeof(char *);
    d->subject = tls_pack(&p, s->subject, ls[0]);
    d->issuer = tls_pack(&p, s->issuer, ls[1]);
    d->subject_cn = tls_pack(&p, s->subject_cn, ls[2]);
    d->issuer_cn = tls_pack(&p, s->issuer_cn, ls[3]);
    d->serial = tls_pack(&p, s->serial, ls[4]);
    for (uint16_t i = 0; i < nd; i++)
        pd[i] = tls_pack(&p, s->san_dns[i], strlen(s->san_dns[i]) + 1);
    for (uint16_t i = 0; i < ni; i++)
        pi[i] = tls_pack(&p, s->san_ip[i], strlen(s->san_ip[i]) + 1);
    d->san_dns = nd > 0 ? pd : NULL;
    d->san_ip = ni > 0 ? pi : NULL;
    d->n_san_dns = nd;
    d->n_san_ip = ni;
    d->block = b;
}

/* Contract in tls_parse.h. */
int tls_x509_parse_cached(struct tls_x509_cache *c, const uint8_t *der, size_t len,
                          struct tls_x509 *x)
{
    uint8_t key[EVP_MAX_MD_SIZE];
    unsigned kl = 0;
    const EVP_MD *sha = tls_md(TLS_MD_SHA256);
    if (c != NULL)
        tls_digest(sha, der, len, key, &kl);
    if (c == NULL || kl != 32)
        return tls_x509_parse(der, len, x);
    struct tls_x509_slot *victim = &c->slots[0];
    for (uint32_t i = 0; i < c->cap; i++) {
        struct tls_x509_slot *e = &c->slots[i];
        if (e->used != 0 && memcmp(e->key, key, 32) == 0) {
            e->used = ++c->clock;
            c->hits++;
            if (e->ok != 0) {
                memset(x, 0, sizeof(*x));
                return -1;
            }
            tls_x509_copy(x, &e->x);
            return 0;
        }
        if (e->used < victim->used)
            victim = e;
    }
    c->misses++;
    int rc = tls_x509_parse(der, len, x);
    if (victim->used != 0)
        tls_x509_free(&victim->x);
    memcpy(victim->key, key, 32);
    victim->used = ++c->clock;
    victim->ok = rc;
    if (rc == 0)
        tls_x509_copy(&victim->x, x);
    else
        memset(&victim->x, 0, sizeof(victim->x));
    return rc;
}
