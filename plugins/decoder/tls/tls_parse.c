/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_parse.c - TLS record and handshake reassembly, hello parsing, JA3/JA4.
 *
 * Pure code (no core headers): tls.c calls it on the worker thread that owns
 * the flow; the tests and fuzz_tls call it directly. Contracts in tls_parse.h.
 * Every read is checked against the bytes given; lists longer than our arrays
 * are cut (TLS_E_TRUNCATED) but still counted for JA4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tls_parse.h"

#define TLS_REC_MAX (16384 + 2048) /* largest record body RFC 5246 allows */

/* ---- bounded reader -------------------------------------------------------- */

struct tls_rd {
    const uint8_t *p;
    size_t len, off;
    bool bad;
};

static uint32_t tls_rd_u8(struct tls_rd *r)
{
    if (r->bad || r->len - r->off < 1) {
        r->bad = true;
        return 0;
    }
    return r->p[r->off++];
}

static uint32_t tls_rd_u16(struct tls_rd *r)
{
    if (r->bad || r->len - r->off < 2) {
        r->bad = true;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[r->off] << 8 | r->p[r->off + 1];
    r->off += 2;
    return v;
}

static uint32_t tls_rd_u24(struct tls_rd *r)
{
    if (r->bad || r->len - r->off < 3) {
        r->bad = true;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[r->off] << 16 | (uint32_t)r->p[r->off + 1] << 8 | r->p[r->off + 2];
    r->off += 3;
    return v;
}

/* A sub-reader over the next n bytes (bad if they are not there). */
static struct tls_rd tls_rd_sub(struct tls_rd *r, size_t n)
{
    struct tls_rd s = {.p = NULL, .len = 0, .off = 0, .bad = true};
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return s;
    }
    s.p = r->p + r->off;
    s.len = n;
    s.bad = false;
    r->off += n;
    return s;
}

static size_t tls_rd_left(const struct tls_rd *r)
{
    return r->bad ? 0 : r->len - r->off;
}

/* ---- hello parsing --------------------------------------------------------- */

/* Read a list of 16-bit values of `bytes` bytes into arr (cap entries). */
static void tls_rd_u16_list(struct tls_rd *r, size_t bytes, uint16_t *arr, uint16_t *n,
                            uint16_t cap, bool *cut)
{
    struct tls_rd s = tls_rd_sub(r, bytes);
    while (tls_rd_left(&s) >= 2) {
        uint16_t v = (uint16_t)tls_rd_u16(&s);
        if (*n < cap)
            arr[(*n)++] = v;
        else
            *cut = true;
    }
}

static void tls_copy_alpn(char *dst, uint8_t *dlen, const uint8_t *src, size_t n)
{
    size_t k = n < TLS_ALPN_LEN ? n : TLS_ALPN_LEN;
    memcpy(dst, src, k);
    dst[k] = '\0';
    *dlen = (uint8_t)k;
}

static void tls_ch_ext(struct tls_client_hello *ch, uint16_t type, struct tls_rd *e, bool *cut)
{
    switch (type) {
    case 0x0000: { /* server_name: list of (type, name) */
        ch->has_sni = true;
        struct tls_rd l = tls_rd_sub(e, tls_rd_u16(e));
        while (tls_rd_left(&l) >= 3) {
            uint32_t nt = tls_rd_u8(&l);
            struct tls_rd nm = tls_rd_sub(&l, tls_rd_u16(&l));
            if (nt == 0 && !nm.bad && ch->sni_len == 0 && nm.len > 0) {
                size_t k = nm.len < TLS_MAX_SNI ? nm.len : TLS_MAX_SNI;
                memcpy(ch->sni, nm.p, k);
                ch->sni[k] = '\0';
                ch->sni_len = (uint8_t)k;
            }
        }
        break;
    }
    case 0x000a: /* supported_groups */
        tls_rd_u16_list(e, tls_rd_u16(e), ch->groups, &ch->n_groups, TLS_MAX_GROUPS, cut);
        break;
    case 0x000b: { /* ec_point_formats */
        struct tls_rd l = tls_rd_sub(e, tls_rd_u8(e));
        while (tls_rd_left(&l) >= 1) {
            uint8_t v = (uint8_t)tls_rd_u8(&l);
            if (ch->n_formats < TLS_MAX_FORMATS)
                ch->formats[ch->n_formats++] = v;
            else
                *cut = true;
        }
        break;
    }
    case 0x000d: /* signature_algorithms */
        tls_rd_u16_list(e, tls_rd_u16(e), ch->sigalgs, &ch->n_sigalgs, TLS_MAX_SIGALGS, cut);
        break;
    case 0x0010: { /* ALPN: list of length-prefixed protocol ids */
        ch->has_alpn = true;
        struct tls_rd l = tls_rd_sub(e, tls_rd_u16(e));
        while (tls_rd_left(&l) >= 1) {
            struct tls_rd v = tls_rd_sub(&l, tls_rd_u8(&l));
            if (v.bad || v.len == 0)
                continue;
            if (ch->n_alpn == 0) {
                ch->alpn0_first = v.p[0];
                ch->alpn0_last = v.p[v.len - 1];
            }
            if (ch->n_alpn < TLS_MAX_ALPN) {
                tls_copy_alpn(ch->alpn[ch->n_alpn], &ch->alpn_len[ch->n_alpn], v.p, v.len);
                ch->n_alpn++;
            } else {
                *cut = true;
            }
        }
        break;
    }
    case 0x002b: { /* supported_versions (client: 1-byte length) */
        struct tls_rd l = tls_rd_sub(e, tls_rd_u8(e));
        tls_rd_u16_list(&l, tls_rd_left(&l), ch->versions, &ch->n_versions, TLS_MAX_VERSIONS, cut);
        break;
    }
    default:
        break;
    }
}

/* Contract in tls_parse.h. */
int tls_parse_client_hello(const uint8_t *p, size_t len, struct tls_client_hello *ch, bool *cut)
{
    struct tls_rd r = {.p = p, .len = len};
    memset(ch, 0, sizeof(*ch));
    ch->legacy_version = (uint16_t)tls_rd_u16(&r);
    (void)tls_rd_sub(&r, 32); /* random */
    struct tls_rd sid = tls_rd_sub(&r, tls_rd_u8(&r));
    if (!sid.bad && sid.len <= 32) {
        memcpy(ch->sid, sid.p, sid.len);
        ch->sid_len = (uint8_t)sid.len;
    }
    struct tls_rd cs = tls_rd_sub(&r, tls_rd_u16(&r));
    while (tls_rd_left(&cs) >= 2) {
        uint16_t v = (uint16_t)tls_rd_u16(&cs);
        if (!tls_is_grease(v))
            ch->total_ciphers++;
        if (ch->n_ciphers < TLS_MAX_CIPHERS)
            ch->ciphers[ch->n_ciphers++] = v;
        else
            *cut = true;
    }
    (void)tls_rd_sub(&r, tls_rd_u8(&r)); /* compression methods */
    if (r.bad)
        return -1;
    if (tls_rd_left(&r) == 0)
        return 0; /* no extensions (SSLv3 style) */
    struct tls_rd exts = tls_rd_sub(&r, tls_rd_u16(&r));
    if (exts.bad)
        return -1;
    while (tls_rd_left(&exts) >= 4) {
        uint16_t type = (uint16_t)tls_rd_u16(&exts);
        struct tls_rd e = tls_rd_sub(&exts, tls_rd_u16(&exts));
        if (e.bad)
            return -1;
        if (!tls_is_grease(type))
            ch->total_exts++;
        if (ch->n_exts < TLS_MAX_EXTS)
            ch->exts[ch->n_exts++] = type;
        else
            *cut = true;
        tls_ch_ext(ch, type, &e, cut);
    }
    return tls_rd_left(&exts) == 0 ? 0 : -1;
}

/* SHA-256("HelloRetryRequest"): the ServerHello.random of a HelloRetryRequest. */
static const uint8_t tls_hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

/* Contract in tls_parse.h. */
int tls_parse_server_hello(const uint8_t *p, size_t len, struct tls_server_hello *sh, bool *cut)
{
    struct tls_rd r = {.p = p, .len = len};
    memset(sh, 0, sizeof(*sh));
    sh->legacy_version = (uint16_t)tls_rd_u16(&r);
    struct tls_rd rnd = tls_rd_sub(&r, 32);
    if (!rnd.bad && memcmp(rnd.p, tls_hrr_random, 32) == 0)
        sh->hrr = true;
    struct tls_rd sid = tls_rd_sub(&r, tls_rd_u8(&r));
    if (!sid.bad && sid.len <= 32) {
        memcpy(sh->sid, sid.p, sid.len);
        sh->sid_len = (uint8_t)sid.len;
    }
    sh->cipher = (uint16_t)tls_rd_u16(&r);
    (void)tls_rd_u8(&r); /* compression */
    if (r.bad)
        return -1;
    if (tls_rd_left(&r) == 0)
        return 0;
    struct tls_rd exts = tls_rd_sub(&r, tls_rd_u16(&r));
    if (exts.bad)
        return -1;
    while (tls_rd_left(&exts) >= 4) {
        uint16_t type = (uint16_t)tls_rd_u16(&exts);
        struct tls_rd e = tls_rd_sub(&exts, tls_rd_u16(&exts));
        if (e.bad)
            return -1;
        if (sh->n_exts < TLS_MAX_EXTS)
            sh->exts[sh->n_exts++] = type;
        else
            *cut = true;
        switch (type) {
        case 0x002b:
            sh->selected_version = (uint16_t)tls_rd_u16(&e);
            break;
        case 0x0033:
            sh->key_share_group = (uint16_t)tls_rd_u16(&e);
            break;
        case 0x0029:
            sh->has_psk = true;
            break;
        case 0x0010: {
            struct tls_rd l = tls_rd_sub(&e, tls_rd_u16(&e));
            struct tls_rd v = tls_rd_sub(&l, tls_rd_u8(&l));
            if (!v.bad && v.len > 0) {
                sh->has_alpn = true;
                tls_copy_alpn(sh->alpn, &sh->alpn_len, v.p, v.len);
            }
            break;
        }
        default:
            break;
        }
    }
    return tls_rd_left(&exts) == 0 ? 0 : -1;
}

/* ---- fingerprints ---------------------------------------------------------- */

struct tls_sb {
    char *p;
    size_t cap, len;
};

static void tls_sb_ch(struct tls_sb *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
    }
}

/* Append t[0..n) (bounded: the bytes that fit, the string stays
 * NUL-terminated), all at once when there is room. */
static void tls_sb_put(struct tls_sb *b, const char *t, size_t n)
{
    if (b->len + n < b->cap) {
        memcpy(b->p + b->len, t, n);
        b->len += n;
        b->p[b->len] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++)
        tls_sb_ch(b, t[i]);
}

/* sep (unless 0), then v in decimal. Formatted by hand: snprintf was most of
 * the cost of a handshake, a format-string walk per number a good part of
 * the rest. */
static void tls_sb_u(struct tls_sb *b, char sep, unsigned v)
{
    char t[12], d[10];
    size_t n = 0, k = 0;
    if (sep != 0)
        t[n++] = sep;
    do {
        d[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && k < sizeof(d));
    while (k > 0)
        t[n++] = d[--k];
    tls_sb_put(b, t, n);
}

/* sep (unless 0), then v as 4 lower-case hex digits. */
static void tls_sb_x4(struct tls_sb *b, char sep, unsigned v)
{
    static const char hx[] = "0123456789abcdef";
    char t[5];
    size_t n = 0;
    if (sep != 0)
        t[n++] = sep;
    for (int sh = 12; sh >= 0; sh -= 4)
        t[n++] = hx[(v >> sh) & 15];
    tls_sb_put(b, t, n);
}

static void tls_sb_list16(struct tls_sb *b, const uint16_t *v, size_t n)
{
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (tls_is_grease(v[i]))
            continue;
        tls_sb_u(b, first ? 0 : '-', v[i]);
        first = false;
    }
}

static void tls_hex(const uint8_t *d, size_t n, char *out, bool upper)
{
    static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
    const char *x = upper ? up : lo;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Not owned: the plugin's per-instance context while it runs on this thread. */
static _Thread_local EVP_MD_CTX *tls_tl_mdctx;

/* Contract in tls_parse.h. */
void tls_digest_ctx(EVP_MD_CTX *c)
{
    tls_tl_mdctx = c;
}

/* Contract in tls_parse.h. */
void tls_digest(const EVP_MD *md, const void *p, size_t n, uint8_t *out, unsigned *olen)
{
    EVP_MD_CTX *c = tls_tl_mdctx;
    if (md == NULL) {
        *olen = 0;
        return;
    }
    if (c != NULL) {
        if (EVP_DigestInit_ex2(c, md, NULL) != 1 || EVP_DigestUpdate(c, p, n) != 1 ||
            EVP_DigestFinal_ex(c, out, olen) != 1)
            *olen = 0;
        return;
    }
    if (EVP_Digest(p, n, out, olen, md, NULL) != 1)
        *olen = 0;
}

/* Contract in tls_parse.h. Fetched once; a racing second fetch is freed. The
 * objects live until exit (reachable, not leaks). */
const EVP_MD *tls_md(int which)
{
    static EVP_MD *slots[2];
    static const char *const names[2] = {"MD5", "SHA256"};
    if (which < 0 || which > 1)
        return NULL;
    EVP_MD *md = __atomic_load_n(&slots[which], __ATOMIC_ACQUIRE);
    if (md != NULL)
        return md;
    EVP_MD *f = EVP_MD_fetch(NULL, names[which], NULL);
    if (f == NULL)
        return which == 0 ? EVP_md5() : EVP_sha256();
    EVP_MD *expect = NULL;
    if (!__atomic_compare_exchange_n(&slots[which], &expect, f, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        EVP_MD_free(f);
        return expect;
    }
    return f;
}

static void tls_md5_hex(const char *s, size_t n, char out[33])
{
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    tls_digest(tls_md(TLS_MD_MD5), s, n, d, &dl);
    if (dl != 16) {
        out[0] = '\0';
        return;
    }
    tls_hex(d, 16, out, false);
}

/* Contract in tls_parse.h. */
size_t tls_ja3(const struct tls_client_hello *ch, char *str, size_t cap, char md5[33])
{
    struct tls_sb b = {.p = str, .cap = cap, .len = 0};
    if (cap == 0)
        return 0;
    str[0] = '\0';
    tls_sb_u(&b, 0, ch->legacy_version);
    tls_sb_ch(&b, ',');
    tls_sb_list16(&b, ch->ciphers, ch->n_ciphers);
    tls_sb_ch(&b, ',');
    tls_sb_list16(&b, ch->exts, ch->n_exts);
    tls_sb_ch(&b, ',');
    tls_sb_list16(&b, ch->groups, ch->n_groups);
    tls_sb_ch(&b, ',');
    for (size_t i = 0; i < ch->n_formats; i++)
        tls_sb_u(&b, i == 0 ? 0 : '-', ch->formats[i]);
    tls_md5_hex(str, b.len, md5);
    return b.len;
}

/* Contract in tls_parse.h. */
size_t tls_ja3s(const struct tls_server_hello *sh, char *str, size_t cap, char md5[33])
{
    struct tls_sb b = {.p = str, .cap = cap, .len = 0};
    if (cap == 0)
        return 0;
    str[0] = '\0';
    tls_sb_u(&b, 0, sh->legacy_version);
    tls_sb_ch(&b, ',');
    tls_sb_u(&b, 0, sh->cipher);
    tls_sb_ch(&b, ',');
    tls_sb_list16(&b, sh->exts, sh->n_exts);
    tls_md5_hex(str, b.len, md5);
    return b.len;
}

static int tls_cmp_u16(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

/* First 12 hex chars of SHA-256(s), or twelve zeros for an empty input. */
static void tls_sha12(const char *s, size_t n, char out[13])
{
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    char hex[65];
    if (n == 0) {
        memcpy(out, "000000000000", 13);
        return;
    }
    tls_digest(tls_md(TLS_MD_SHA256), s, n, d, &dl);
    if (dl != 32) {
        memcpy(out, "000000000000", 13);
        return;
    }
    tls_hex(d, 32, hex, false);
    memcpy(out, hex, 12);
    out[12] = '\0';
}

static void tls_sb_hexlist(struct tls_sb *b, const uint16_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tls_sb_x4(b, i == 0 ? 0 : ',', v[i]);
}

static bool tls_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Contract in tls_parse.h. JA4 (FoxIO, BSD-3-Clause spec): a_b_c with
 *  a = proto, version, d/i (SNI present), 2-digit cipher and extension counts
 *      (GREASE excluded, capped at 99), first+last char of the first ALPN;
 *  b = sha256 of the sorted cipher list (4-digit hex, comma-separated), 12 chars;
 *  c = sha256 of the sorted extensions without SNI/ALPN, "_", the signature
 *      algorithms in wire order, 12 chars. */
void tls_ja4(const struct tls_client_hello *ch, char proto, char out[TLS_JA4_LEN + 1])
{
    uint16_t ver = 0;
    for (size_t i = 0; i < ch->n_versions; i++)
        if (!tls_is_grease(ch->versions[i]) && ch->versions[i] > ver)
            ver = ch->versions[i];
    if (ver == 0)
        ver = ch->legacy_version;
    const char *vs;
    switch (ver) {
    case 0x0304:
        vs = "13";
        break;
    case 0x0303:
        vs = "12";
        break;
    case 0x0302:
        vs = "11";
        break;
    case 0x0301:
        vs = "10";
        break;
    case 0x0300:
        vs = "s3";
        break;
    case 0x0002:
        vs = "s2";
        break;
    case 0xfeff:
        vs = "d1";
        break;
    case 0xfefd:
        vs = "d2";
        break;
    case 0xfefc:
        vs = "d3";
        break;
    default:
        vs = "00";
        break;
    }
    char alpn[3] = "00";
    if (ch->n_alpn > 0) {
        if (tls_alnum(ch->alpn0_first) && tls_alnum(ch->alpn0_last)) {
            alpn[0] = (char)ch->alpn0_first;
            alpn[1] = (char)ch->alpn0_last;
        } else {
            static const char hx[] = "0123456789abcdef";
            alpn[0] = hx[ch->alpn0_first >> 4];
            alpn[1] = hx[ch->alpn0_last & 15];
        }
    }
    unsigned nc = ch->total_ciphers > 99 ? 99 : ch->total_ciphers;
    unsigned ne = ch->total_exts > 99 ? 99 : ch->total_exts;

    uint16_t tmp[TLS_MAX_CIPHERS > TLS_MAX_EXTS ? TLS_MAX_CIPHERS : TLS_MAX_EXTS];
    char buf[TLS_MAX_CIPHERS * 5 + TLS_MAX_SIGALGS * 5 + 8];
    struct tls_sb b = {.p = buf, .cap = sizeof(buf), .len = 0};
    size_t n = 0;
    for (size_t i = 0; i < ch->n_ciphers; i++)
        if (!tls_is_grease(ch->ciphers[i]))
            tmp[n++] = ch->ciphers[i];
    qsort(tmp, n, sizeof(tmp[0]), tls_cmp_u16);
    buf[0] = '\0';
    tls_sb_hexlist(&b, tmp, n);
    char hb[13], hc[13];
    tls_sha12(buf, b.len, hb);

    n = 0;
    for (size_t i = 0; i < ch->n_exts; i++) {
        uint16_t e = ch->exts[i];
        if (!tls_is_grease(e) && e != 0x0000 && e != 0x0010)
            tmp[n++] = e;
    }
    qsort(tmp, n, sizeof(tmp[0]), tls_cmp_u16);
    b.len = 0;
    buf[0] = '\0';
    tls_sb_hexlist(&b, tmp, n);
    if (ch->n_sigalgs > 0 && n > 0) {
        tls_sb_ch(&b, '_');
        tls_sb_hexlist(&b, ch->sigalgs, ch->n_sigalgs);
    }
    tls_sha12(buf, n > 0 ? b.len : 0, hc);
    /* "%c%s%c%02u%02u%c%c_%s_%s" by hand (snprintf cost as much as the
     * rest of the fingerprint's formatting). */
    size_t o = 0;
    out[o++] = proto;
    for (const char *v = vs; *v != '\0' && o < 3; v++)
        out[o++] = *v;
    out[o++] = ch->has_sni ? 'd' : 'i';
    out[o++] = (char)('0' + nc / 10);
    out[o++] = (char)('0' + nc % 10);
    out[o++] = (char)('0' + ne / 10);
    out[o++] = (char)('0' + ne % 10);
    out[o++] = alpn[0];
    out[o++] = alpn[1];
    out[o++] = '_';
    memcpy(out + o, hb, 12);
    o += 12;
    out[o++] = '_';
    memcpy(out + o, hc, 12);
    o += 12;
    out[o] = '\0';
}

/* ---- session --------------------------------------------------------------- */

/* Contract in tls_parse.h. */
void tls_session_init(struct tls_session *s, uint32_t max_msg, uint32_t max_certs)
{
    memset(s, 0, sizeof(*s));
    s->max_msg = max_msg < 1024 ? 1024 : max_msg;
    s->max_certs = max_certs > TLS_MAX_CERTS ? TLS_MAX_CERTS : max_certs;
}

/* Contract in tls_parse.h. */
void tls_session_free(struct tls_session *s)
{
    for (int i = 0; i < 2; i++) {
        free(s->dir[i].msg);
        s->dir[i].msg = NULL;
        s->dir[i].msg_len = s->dir[i].msg_cap = 0;
    }
    for (uint32_t i = 0; i < s->n_certs; i++)
        tls_x509_free(&s->certs[i]);
    free(s->certs);
    s->certs = NULL;
    s->n_certs = 0;
}

/* Contract in tls_parse.h. */
uint16_t tls_session_version(const struct tls_session *s)
{
    if (s->have_sh && !s->sh.hrr)
        return s->sh.selected_version != 0 ? s->sh.selected_version : s->sh.legacy_version;
    return 0;
}

static bool tls_is13(const struct tls_session *s)
{
    return tls_session_version(s) == 0x0304;
}

/* Contract in tls_parse.h. */
bool tls_session_established(const struct tls_session *s)
{
    if (!s->have_sh)
        return false;
    if (tls_is13(s))
        return s->dir[0].saw_appdata; /* client Finished travels as application data */
    return (s->dir[0].saw_ccs && s->dir[1].saw_ccs) ||
           (s->dir[0].saw_appdata && s->dir[1].saw_appdata);
}

/* Contract in tls_parse.h. */
bool tls_session_resumed(const struct tls_session *s)
{
    if (!s->have_sh)
        return false;
    if (tls_is13(s))
        return s->sh.has_psk;
    if (s->have_cert)
        return false;
    if (s->server_ccs_first)
        return true;
    return s->sh.sid_len > 0 && s->sh.sid_len == s->ch.sid_len &&
           memcmp(s->sh.sid, s->ch.sid, s->sh.sid_len) == 0;
}

static void tls_parse_certs(struct tls_session *s, const uint8_t *p, size_t len)
{
    struct tls_rd r = {.p = p, .len = len};
    struct tls_rd l = tls_rd_sub(&r, tls_rd_u24(&r));
    if (l.bad) {
        s->errors |= TLS_E_CERT;
        return;
    }
    while (tls_rd_left(&l) >= 3) {
        struct tls_rd c = tls_rd_sub(&l, tls_rd_u24(&l));
        if (c.bad) {
            s->errors |= TLS_E_CERT;
            return;
        }
        s->total_certs++;
        if (s->certs == NULL && s->max_certs > 0 &&
            (s->certs = calloc(s->max_certs, sizeof(*s->certs))) == NULL) {
            s->errors |= TLS_E_TRUNCATED;
            return;
        }
        if (s->n_certs >= s->max_certs) {
            s->errors |= TLS_E_TRUNCATED;
            continue;
        }
        if (tls_x509_parse_cached(s->cache, c.p, c.len, &s->certs[s->n_certs]) == 0)
            s->n_certs++;
        else
            s->errors |= TLS_E_CERT;
    }
}

static void tls_on_message(struct tls_session *s, int dir, uint8_t type, const uint8_t *p,
                           size_t len)
{
    bool cut = false;
    if (dir == 0 && type == 1 && !s->have_ch) {
        if (tls_parse_client_hello(p, len, &s->ch, &cut) != 0)
            s->errors |= TLS_E_HELLO;
        s->have_ch = true;
    } else if (dir == 1 && type == 2) {
        if (tls_parse_server_hello(p, len, &s->sh, &cut) != 0)
            s->errors |= TLS_E_HELLO;
        s->have_sh = true;
        if (s->sh.hrr)
            s->saw_hrr = true;
        /* From here on TLS 1.3 encrypts the server's handshake. */
        if (tls_is13(s))
            s->dir[1].encrypted = true;
    } else if (dir == 1 && type == 11 && !s->have_cert && !tls_is13(s)) {
        s->have_cert = true;
        tls_parse_certs(s, p, len);
    } else if (dir == 1 && type == 12 && s->sh.key_share_group == 0 && len >= 3 && p[0] == 3) {
        /* ECDHE ServerKeyExchange: curve_type named_curve, then the group. */
        const char *cn = tls_cipher_name(s->sh.cipher);
        if (cn != NULL && strstr(cn, "_ECDHE_") != NULL)
            s->sh.key_share_group = (uint16_t)(p[1] << 8 | p[2]);
    }
    if (cut)
        s->errors |= TLS_E_TRUNCATED;
}

/* Append handshake-record bytes to direction d's message buffer and hand
 * complete messages to tls_on_message. */
static void tls_hs_bytes(struct tls_session *s, int dir, const uint8_t *p, size_t n)
{
    struct tls_dir *d = &s->dir[dir];
    while (n > 0 && !d->dead && !d->encrypted) {
        /* Fast path: a whole message at the start of the data, nothing pending. */
        if (d->msg_len == 0 && n >= 4) {
            uint32_t ml = (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            if (ml > s->max_msg) {
                s->errors |= TLS_E_TOO_BIG;
                d->dead = true;
                return;
            }
            if (n >= 4 + (size_t)ml) {
                tls_on_message(s, dir, p[0], p + 4, ml);
                p += 4 + ml;
                n -= 4 + ml;
                continue;
            }
        }
        size_t want;
        if (d->msg_len < 4) {
            want = 4 - d->msg_len;
        } else {
            uint32_t ml = (uint32_t)d->msg[1] << 16 | (uint32_t)d->msg[2] << 8 | d->msg[3];
            want = 4 + (size_t)ml - d->msg_len;
        }
        size_t take = n < want ? n : want;
        if (d->msg_len + take > d->msg_cap) {
            size_t nc = d->msg_cap ? d->msg_cap : 1024;
            while (nc < d->msg_len + take)
                nc *= 2;
            if (nc > (size_t)s->max_msg + 4)
                nc = (size_t)s->max_msg + 4;
            uint8_t *nb = realloc(d->msg, nc);
            if (nb == NULL) {
                d->dead = true;
                s->errors |= TLS_E_TOO_BIG;
                return;
            }
            d->msg = nb;
            d->msg_cap = (uint32_t)nc;
        }
        memcpy(d->msg + d->msg_len, p, take);
        d->msg_len += (uint32_t)take;
        p += take;
        n -= take;
        if (d->msg_len < 4)
            continue;
        uint32_t ml = (uint32_t)d->msg[1] << 16 | (uint32_t)d->msg[2] << 8 | d->msg[3];
        if (ml > s->max_msg) {
            s->errors |= TLS_E_TOO_BIG;
            d->dead = true;
            return;
        }
        if (d->msg_len == 4 + ml) {
            d->msg_len = 0;
            tls_on_message(s, dir, d->msg[0], d->msg + 4, ml);
        }
    }
}

static void tls_update_state(struct tls_session *s)
{
    if (s->state != TLS_ST_HELLO || !s->have_sh || s->sh.hrr)
        return;
    bool ready;
    if (tls_is13(s))
        ready = s->dir[0].saw_appdata || s->dir[1].saw_alert || s->dir[0].saw_alert;
    else
        ready = (s->dir[0].saw_ccs && s->dir[1].saw_ccs) || s->dir[0].saw_appdata ||
                s->dir[1].saw_appdata || s->dir[0].saw_alert || s->dir[1].saw_alert;
    if (ready)
        s->state = TLS_ST_READY;
}

static void tls_on_record(struct tls_session *s, int dir, uint8_t type)
{
    struct tls_dir *d = &s->dir[dir];
    d->records++;
    switch (type) {
    case 20: /* ChangeCipherSpec: the rest of this direction is encrypted */
        if (dir == 1 && !s->dir[0].saw_ccs)
            s->server_ccs_first = true;
        d->saw_ccs = true;
        if (!tls_is13(s))
            d->encrypted = true;
        break;
    case 21:
        if (!d->encrypted)
            d->saw_alert = true;
        break;
    case 23:
        d->saw_appdata = true;
        break;
    default:
        break;
    }
}

/* Contract in tls_parse.h. */
enum tls_state tls_session_feed(struct tls_session *s, int dir, const uint8_t *data, size_t len,
                                uint64_t gap)
{
    if (dir < 0 || dir > 1)
        return s->state;
    struct tls_dir *d = &s->dir[dir];
    if (gap > 0 && !d->dead) {
        /* Resynchronising on a record boundary inside ciphertext is guesswork:
         * give this direction up, the other may still complete. */
        s->errors |= TLS_E_GAP;
        d->dead = true;
    }
    while (len > 0 && !d->dead) {
        if (d->hdr_have < 5) {
            size_t take = 5 - d->hdr_have;
            if (take > len)
                take = len;
            memcpy(d->hdr + d->hdr_have, data, take);
            d->hdr_have = (uint8_t)(d->hdr_have + take);
            data += take;
            len -= take;
            if (d->hdr_have < 5)
                break;
            uint8_t type = d->hdr[0];
            uint32_t rl = (uint32_t)d->hdr[3] << 8 | d->hdr[4];
            if (type < 20 || type > 24 || d->hdr[1] != 3 || d->hdr[2] > 4 || rl > TLS_REC_MAX) {
                s->errors |= TLS_E_RECORD;
                d->dead = true;
                break;
            }
            d->rec_type = type;
            d->rec_left = rl;
            tls_on_record(s, dir, type);
            if (rl == 0)
                d->hdr_have = 0;
            continue;
        }
        size_t take = d->rec_left < len ? d->rec_left : len;
        if (d->rec_type == 22 && !d->encrypted)
            tls_hs_bytes(s, dir, data, take);
        data += take;
        len -= take;
        d->rec_left -= (uint32_t)take;
        if (d->rec_left == 0)
            d->hdr_have = 0;
    }
    tls_update_state(s);
    return s->state;
}

/* Contract in tls_parse.h. */
bool tls_probe(const uint8_t *p, size_t len)
{
    if (len < 5 || p[0] != 22 || p[1] != 3 || p[2] > 4)
        return false;
    uint32_t rl = (uint32_t)p[3] << 8 | p[4];
    if (rl < 4 || rl > TLS_REC_MAX)
        return false;
    if (len < 6)
        return true;
    if (p[5] != 1 && p[5] != 2)
        return false;
    if (len < 9)
        return true;
    uint32_t ml = (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
    if (ml < 38) /* version + random + session id length + ... */
        return false;
    if (len < 10)
        return true;
    return p[9] == 3; /* hello legacy_version major */
}
