/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_oracle.c - the record serialiser as it was before layout plans
 * (core/ns_json.c at cb1d666: a stable sort of every block's keys per record,
 * inet_ntop for IPv6, the full civil-date computation per timestamp), kept
 * unchanged but renamed (oracle_*) as the reference that test_json_oracle.c
 * compares the current serialiser with, byte for byte. Test-only; single
 * module state (hostname) like the original. Do not "fix" it: its output is
 * the definition of the format the optimised code must reproduce.
 */
#include "json_oracle.h"
#include "ns_json.h"
#include "ns_rec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- output buffer ---------------------------------------------------- */

struct jw {
    char *b;
    size_t len, cap;
    char **bufp; /* the caller's, kept current so a failure leaks nothing */
    size_t *capp;
};

static int jw_grow(struct jw *w, size_t need)
{
    size_t ncap = w->cap ? w->cap : 512;
    while (ncap - w->len < need) {
        if (ncap > SIZE_MAX / 2)
            return -ENOMEM;
        ncap *= 2;
    }
    char *nb = realloc(w->b, ncap);
    if (!nb)
        return -ENOMEM;
    w->b = nb;
    w->cap = ncap;
    *w->bufp = nb;
    *w->capp = ncap;
    return 0;
}

/* Every writer reserves its worst case first, then writes without checks. */
static inline int jw_reserve(struct jw *w, size_t need)
{
    if (w->cap - w->len >= need)
        return 0;
    return jw_grow(w, need);
}

static inline void jw_c(struct jw *w, char c)
{
    w->b[w->len++] = c;
}

static inline void jw_mem(struct jw *w, const void *p, size_t n)
{
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

/* Copy and compare a few bytes (key segments, short values) without a libc
 * call, in overlapping words so that nothing outside [p, p + n) is touched. */
static inline void mem_copy(char *d, const char *s, size_t n)
{
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8)
            memcpy(d + i, s + i, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}

static inline bool mem_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t p, q, r, t;
        memcpy(&p, a, 4);
        memcpy(&q, b, 4);
        memcpy(&r, a + n - 4, 4);
        memcpy(&t, b + n - 4, 4);
        return p == q && r == t;
    }
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return false;
    }
    return true;
}

/* Index of the first '.' in p[0..n), or n. A word at a time: the exact
 * zero-byte test on x ^ "........" (no false positives, so ctz finds the
 * first dot). */
static inline uint32_t find_dot(const char *p, uint32_t n)
{
    const uint64_t ones = 0x0101010101010101ull, low7 = 0x7f7f7f7f7f7f7f7full;
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        x ^= ones * '.';
        uint64_t z = ~(((x & low7) + low7) | x | low7);
        if (z) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return i + (uint32_t)__builtin_ctzll(z) / 8;
#else
            return i + (uint32_t)__builtin_clzll(z) / 8;
#endif
        }
    }
    for (; i < n; i++) {
        if (p[i] == '.')
            return i;
    }
    return n;
}

/* ---- scalars ---------------------------------------------------------- */

static const char hexd[] = "0123456789abcdef";

/* 0 = copy, 1 = escape (control, '"', '\'), 2 = non-ASCII: validate UTF-8. */
static const uint8_t jcls[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if s[0] does not start one. */
static size_t utf8_seq(const uint8_t *s, size_t avail)
{
    uint8_t c = s[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf; /* bounds of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return n;
}

/* Quoted, escaped string; the caller reserved len * 6 + 2 bytes (the worst
 * case: 6 output bytes per input byte). */
static void jw_str_raw(struct jw *w, const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    char *o = w->b + w->len;
    *o++ = '"';
    size_t i = 0;
    while (i < len) {
        /* Fast path, 8 bytes at a time: copy a word with no control byte,
         * '"', '\\' or non-ASCII byte (the usual key or value). The test is
         * the classic "has a zero byte" bit trick on x, x^'"' and x^'\\',
         * plus "has a byte < 0x20"; it may only err towards the slow path. */
        while (len - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
            uint64_t bad = ((x - ones * 0x20) | (q - ones) | (b - ones) | x) & high;
            if (bad)
                break;
            memcpy(o, &x, 8);
            o += 8;
            i += 8;
        }
        if (i < len && i >= 8 && len - i < 8) {
            /* Tail: test the last 8 bytes (overlapping what was copied). */
            uint64_t x;
            memcpy(&x, s + len - 8, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
            if (!(((x - ones * 0x20) | (q - ones) | (b - ones) | x) & high)) {
                mem_copy(o, (const char *)s + i, len - i);
                o += len - i;
                break;
            }
        }
        if (i >= len)
            break;
        uint8_t c = s[i];
        uint8_t cls = jcls[c];
        if (cls == 0) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (cls == 2) {
            size_t n = utf8_seq(s + i, len - i);
            if (n) {
                memcpy(o, s + i, n);
                o += n;
                i += n;
                continue;
            }
            /* Invalid byte: \u00XX keeps its value visible. Valid UTF-8 is
             * never escaped, so \u0080..\u00ff in our output always means a
             * raw invalid byte (documented in SCHEMA.md). */
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            i++;
            continue;
        }
        memcpy(o, "\\u00", 4);
        o[4] = hexd[c >> 4];
        o[5] = hexd[c & 15];
        o += 6;
        i++;
    }
    *o++ = '"';
    w->len = (size_t)(o - w->b);
}

static int jw_str(struct jw *w, const char *str, size_t len)
{
    if (len > (SIZE_MAX - 2) / 6 || jw_reserve(w, len * 6 + 2) < 0)
        return -ENOMEM;
    jw_str_raw(w, str, len);
    return 0;
}

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

/* Decimal digits of v at out (no NUL); returns the count. Two digits per
 * division: most numbers here are counters and ports. */
static inline size_t fmt_u64(char *out, uint64_t v)
{
    size_t n = 1;
    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    char *o = out + n;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        *--o = digits2[d + 1];
        *--o = digits2[d];
    }
    if (v >= 10) {
        *--o = digits2[v * 2 + 1];
        *--o = digits2[v * 2];
    } else {
        *--o = (char)('0' + v);
    }
    return n;
}

static inline void put2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

size_t oracle_json_format_time(char *out, uint64_t ts_ns)
{
    uint64_t secs = ts_ns / 1000000000u;
    unsigned usec = (unsigned)(ts_ns % 1000000000u / 1000u);
    uint64_t days = secs / 86400u;
    unsigned sod = (unsigned)(secs % 86400u);
    /* Civil date from days since 1970-01-01 (proleptic Gregorian), with the
     * year starting in March so that the leap day is the last day. */
    uint64_t z = days + 719468u;
    uint64_t era = z / 146097u;
    unsigned doe = (unsigned)(z - era * 146097u);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t y = yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    /* uint64_t nanoseconds end in 2554, so the year has four digits. */
    put2(out, (unsigned)(y / 100));
    put2(out + 2, (unsigned)(y % 100));
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 'T';
    put2(out + 11, sod / 3600);
    out[13] = ':';
    put2(out + 14, sod / 60 % 60);
    out[16] = ':';
    put2(out + 17, sod % 60);
    out[19] = '.';
    for (int i = 25; i >= 20; i--) {
        out[i] = (char)('0' + usec % 10);
        usec /= 10;
    }
    out[26] = 'Z';
    out[27] = 0;
    return NS_JSON_TIME_LEN;
}

static void jw_time(struct jw *w, uint64_t ts_ns)
{
    char t[NS_JSON_TIME_LEN + 1];
    jw_c(w, '"');
    jw_mem(w, t, oracle_json_format_time(t, ts_ns));
    jw_c(w, '"');
}

static void jw_double(struct jw *w, double d)
{
    if (!isfinite(d)) {
        jw_mem(w, "null", 4);
        return;
    }
    char t[40];
    int n = snprintf(t, sizeof(t), "%.17g", d);
    if (n <= 0 || (size_t)n >= sizeof(t)) {
        jw_mem(w, "null", 4);
        return;
    }
    for (int i = 0; i < n; i++) {
        /* A locale with a decimal comma would break the number. */
        if (t[i] == ',')
            t[i] = '.';
    }
    jw_mem(w, t, (size_t)n);
}

static void jw_ip(struct jw *w, const struct ns_ip *ip)
{
    char t[INET6_ADDRSTRLEN];
    if (ip->family == 4) {
        size_t n = 0;
        for (int i = 0; i < 4; i++) {
            if (i)
                t[n++] = '.';
            n += fmt_u64(t + n, ip->a[i]);
        }
        jw_c(w, '"');
        jw_mem(w, t, n);
        jw_c(w, '"');
    } else if (ip->family == 6 && inet_ntop(AF_INET6, ip->a, t, sizeof(t))) {
        jw_c(w, '"');
        jw_mem(w, t, strlen(t));
        jw_c(w, '"');
    } else {
        jw_mem(w, "null", 4);
    }
}

static void jw_mac(struct jw *w, const uint8_t *mac)
{
    char *o = w->b + w->len;
    *o++ = '"';
    for (int i = 0; i < 6; i++) {
        if (i)
            *o++ = ':';
        *o++ = hexd[mac[i] >> 4];
        *o++ = hexd[mac[i] & 15];
    }
    *o++ = '"';
    w->len = (size_t)(o - w->b);
}

/* A non-container value. */
static int jw_scalar(struct jw *w, const struct ns_record *rec, const struct ns__rec_ent *e)
{
    if (e->type == NS_F_STR)
        return jw_str(w, ns__rec_str(rec, e->v.s.off), e->v.s.len);
    /* Everything else fits in 64 bytes (an IPv6 text is at most 45+2). */
    if (jw_reserve(w, 64) < 0)
        return -ENOMEM;
    switch (e->type) {
    case NS_F_BOOL:
        if (e->v.b)
            jw_mem(w, "true", 4);
        else
            jw_mem(w, "false", 5);
        break;
    case NS_F_INT:
        if (e->v.i < 0) {
            jw_c(w, '-');
            w->len += fmt_u64(w->b + w->len, (uint64_t)0 - (uint64_t)e->v.i);
        } else {
            w->len += fmt_u64(w->b + w->len, (uint64_t)e->v.i);
        }
        break;
    case NS_F_UINT:
        w->len += fmt_u64(w->b + w->len, e->v.u);
        break;
    case NS_F_DOUBLE:
        jw_double(w, e->v.d);
        break;
    case NS_F_IP:
        jw_ip(w, &e->v.ip);
        break;
    case NS_F_MAC:
        jw_mac(w, e->v.mac);
        break;
    case NS_F_TIME:
        jw_time(w, e->v.u);
        break;
    default:
        jw_mem(w, "null", 4);
        break;
    }
    return 0;
}

/* A key (or a segment of one), room reserved: copied when the record said
 * it is plain. */
static inline void jw_key_raw(struct jw *w, const char *k, uint32_t len, bool plain)
{
    if (!plain) {
        jw_str_raw(w, k, len);
        return;
    }
    char *o = w->b + w->len;
    o[0] = '"';
    mem_copy(o + 1, k, len);
    o[len + 1] = '"';
    w->len += (size_t)len + 2;
}

/* ---- hostname --------------------------------------------------------- */

static char json_host[256 * 6 + 3]; /* escaped and quoted */
static size_t json_host_len;

void oracle_json_set_hostname(const char *name)
{
    json_host_len = 0;
    if (!name || !*name)
        return;
    size_t n = strnlen(name, 255);
    char *b = NULL;
    size_t cap = 0, len = 0;
    if (oracle_json_append_str(&b, &cap, &len, name, n) == 0 && len <= sizeof(json_host)) {
        memcpy(json_host, b, len);
        json_host_len = len;
    }
    free(b);
}

int oracle_json_append_str(char **buf, size_t *cap, size_t *len, const char *s, size_t slen)
{
    struct jw w = {.b = *buf, .len = *len, .cap = *cap, .bufp = buf, .capp = cap};
    if (!w.b)
        w.cap = 0;
    if (jw_str(&w, s ? s : "", s ? slen : 0) < 0)
        return -ENOMEM;
    *len = w.len;
    return 0;
}

/* ---- record ----------------------------------------------------------- */

/* A top-level unit: an entry index or one of the common fields. */
/* In the order they are appended (the sort cache relies on idx growing with
 * the position before sorting). */
#define JU_TIMESTAMP (UINT32_MAX - 3)
#define JU_DATASET (UINT32_MAX - 2)
#define JU_SEQ (UINT32_MAX - 1)
#define JU_HOST UINT32_MAX

struct unit {
    const char *key;
    uint32_t idx; /* entry index or JU_*: grows with the position before sorting */
    uint16_t klen;
    uint16_t pos; /* position before sorting (sort cache)  */
    bool plain;   /* key needs no escaping */
};

/* Byte order for sorting: end of key < '.' < every other byte, so that "a"
 * sorts right before "a.b" and all "a.*" keys are contiguous. Keys never hold
 * NUL, so 0 is free for "end". */
static inline unsigned ord(uint8_t c)
{
    return c == '.' ? 1u : c < '.' ? c + 1u : c;
}

static inline void unit_set(struct unit *u, const char *key, uint32_t klen, uint32_t idx,
                            bool plain)
{
    u->key = key;
    u->klen = (uint16_t)klen;
    u->idx = idx;
    u->plain = plain;
}

/* Compare in ord() order. Bytes before the first difference are equal, so
 * mapping only the differing pair gives the mapped order; the scan for it
 * goes a word at a time (ECS keys share long prefixes: "destination."). */
static int unit_cmp(const struct unit *a, const struct unit *b)
{
    uint32_t n = a->klen < b->klen ? a->klen : b->klen, i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t x, y;
        memcpy(&x, a->key + i, 8);
        memcpy(&y, b->key + i, 8);
        if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            i += (uint32_t)__builtin_ctzll(x ^ y) / 8;
#else
            i += (uint32_t)__builtin_clzll(x ^ y) / 8;
#endif
            goto differ;
        }
    }
    for (; i < n; i++) {
        if (a->key[i] != b->key[i])
            goto differ;
    }
    return a->klen < b->klen ? -1 : a->klen > b->klen;
differ:;
    unsigned x = ord((uint8_t)a->key[i]), y = ord((uint8_t)b->key[i]);
    return x < y ? -1 : 1;
}

#define JW_STACK_UNITS 128

/* Sort cache. A producer builds the same record shape over and over, so the
 * permutation that sorted the last record of a type and size usually sorts
 * the next one: applying it and checking the result (n - 1 compares) is much
 * cheaper than sorting (n log n). The check makes it exact: the result must
 * be ordered by key and, among equal keys, by position, which is the one
 * order a stable sort produces. Per thread, so no locking. */
#define JW_PERM_SLOTS 16
struct perm {
    uint32_t n;
    uint16_t ord[JW_STACK_UNITS];
};
static _Thread_local struct perm jw_perm[JW_PERM_SLOTS];

static bool perm_apply(const struct perm *p, const struct unit *u, struct unit *out, uint32_t n)
{
    if (p->n != n)
        return false;
    for (uint32_t i = 0; i < n; i++)
        out[i] = u[p->ord[i]];
    for (uint32_t i = 1; i < n; i++) {
        int c = unit_cmp(&out[i - 1], &out[i]);
        if (c > 0 || (c == 0 && out[i - 1].idx > out[i].idx))
            return false;
    }
    return true;
}

/* Stable merge sort of u[0..n) using tmp[0..n). Insertion sort below 12, and
 * a sorted pair of halves is not merged: producers that add in key order pay
 * O(n) compares. */
static void units_sort(struct unit *u, struct unit *tmp, uint32_t n)
{
    if (n < 12) {
        for (uint32_t i = 1; i < n; i++) {
            struct unit x = u[i];
            uint32_t j = i;
            while (j > 0 && unit_cmp(&u[j - 1], &x) > 0) {
                u[j] = u[j - 1];
                j--;
            }
            u[j] = x;
        }
        return;
    }
    uint32_t h = n / 2;
    units_sort(u, tmp, h);
    units_sort(u + h, tmp, n - h);
    if (unit_cmp(&u[h - 1], &u[h]) <= 0)
        return;
    memcpy(tmp, u, h * sizeof(*u));
    uint32_t a = 0, b = h, o = 0;
    while (a < h && b < n)
        u[o++] = unit_cmp(&u[b], &tmp[a]) < 0 ? u[b++] : tmp[a++];
    while (a < h)
        u[o++] = tmp[a++];
}

#define JW_MAX_PATH 16 /* deeper dotted keys keep the rest of the key flat */

static int jw_value(struct jw *w, const struct ns_record *rec, uint32_t i);

/* A unit's value. */
static int jw_unit(struct jw *w, const struct ns_record *rec, const struct unit *u)
{
    switch (u->idx) {
    case JU_TIMESTAMP:
        if (jw_reserve(w, NS_JSON_TIME_LEN + 2) < 0)
            return -ENOMEM;
        jw_time(w, rec->ts_ns);
        return 0;
    case JU_DATASET: {
        const char *ds = ns_rec_dataset((enum ns_rec_type)rec->type);
        return jw_str(w, ds, strlen(ds));
    }
    case JU_SEQ:
        if (jw_reserve(w, 24) < 0)
            return -ENOMEM;
        w->len += fmt_u64(w->b + w->len, rec->seq);
        return 0;
    case JU_HOST:
        if (jw_reserve(w, json_host_len) < 0)
            return -ENOMEM;
        jw_mem(w, json_host, json_host_len);
        return 0;
    default:
        break;
    }
    return jw_value(w, rec, u->idx);
}

/* Write the sorted units, nesting dotted keys. */
static int jw_units(struct jw *w, const struct ns_record *rec, const struct unit *u, uint32_t n)
{
    /* Open objects: path segments (pointers into the key that opened them). */
    const char *open_seg[JW_MAX_PATH];
    uint32_t open_len[JW_MAX_PATH];
    uint32_t depth = 0;
    /* Per level: has a member (comma needed), and the last scalar/array
     * name written there, which must not be reopened as an object. */
    bool some[JW_MAX_PATH + 1];
    const char *leaf[JW_MAX_PATH + 1];
    uint32_t leaf_len[JW_MAX_PATH + 1];
    some[0] = false;
    leaf[0] = NULL;
    leaf_len[0] = 0;

    for (uint32_t x = 0; x < n; x++) {
        if (x > 0 && u[x - 1].klen == u[x].klen && mem_eq(u[x - 1].key, u[x].key, u[x].klen))
            continue; /* duplicate key: the first one wins */
        const char *k = u[x].key;
        uint32_t kl = u[x].klen, pos = 0, lvl = 0;
        bool flat = false, plain = u[x].plain;
        /* One reservation covers everything but the value: closing braces,
         * and per segment a comma, quotes, colon, brace and 6 bytes per
         * escaped key byte (segments <= kl + 1). */
        if (jw_reserve(w, depth + 11 * (size_t)kl + 16) < 0)
            return -ENOMEM;
        /* Stay inside the objects this key shares with the previous one:
         * the key must start with "<open segment>." at each level. */
        while (lvl < depth) {
            uint32_t ol = open_len[lvl];
            if (pos + ol >= kl || k[pos + ol] != '.' || !mem_eq(open_seg[lvl], k + pos, ol))
                break;
            pos += ol + 1;
            lvl++;
        }
        for (; depth > lvl; depth--)
            jw_c(w, '}');
        /* Open the rest of the path. */
        for (;;) {
            uint32_t sl = find_dot(k + pos, kl - pos);
            if (pos + sl == kl)
                break;
            if (lvl >= JW_MAX_PATH ||
                (leaf[lvl] && leaf_len[lvl] == sl && mem_eq(leaf[lvl], k + pos, sl))) {
                /* Too deep, or "a" was already written as a value at this
                 * level: keep "a.b" as one flat key rather than a duplicate. */
                flat = true;
                break;
            }
            if (some[lvl])
                jw_c(w, ',');
            some[lvl] = true;
            leaf[lvl] = NULL;
            jw_key_raw(w, k + pos, sl, plain);
            jw_mem(w, ":{", 2);
            open_seg[lvl] = k + pos;
            open_len[lvl] = sl;
            depth = ++lvl;
            some[lvl] = false;
            leaf[lvl] = NULL;
            pos += sl + 1;
        }
        if (some[lvl])
            jw_c(w, ',');
        some[lvl] = true;
        if (!flat) {
            leaf[lvl] = k + pos;
            leaf_len[lvl] = kl - pos;
        }
        jw_key_raw(w, k + pos, kl - pos, plain);
        jw_c(w, ':');
        if (jw_unit(w, rec, &u[x]) < 0)
            return -ENOMEM;
    }
    if (jw_reserve(w, depth) < 0)
        return -ENOMEM;
    for (; depth > 0; depth--)
        jw_c(w, '}');
    return 0;
}

/* Members of an array: in order, at depth d + 1 until the array's END (an
 * unclosed array runs to the end of the record). */
static int jw_array(struct jw *w, const struct ns_record *rec, uint32_t i)
{
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    uint32_t d = e[i].depth;
    bool some = false;
    if (jw_reserve(w, 1) < 0)
        return -ENOMEM;
    jw_c(w, '[');
    for (uint32_t j = i + 1; j < rec->n && e[j].depth > d; j++) {
        if (e[j].depth != d + 1 || e[j].type == NS_F_END)
            continue;
        if (jw_reserve(w, 1) < 0)
            return -ENOMEM;
        if (some)
            jw_c(w, ',');
        some = true;
        if (jw_value(w, rec, j) < 0)
            return -ENOMEM;
    }
    if (jw_reserve(w, 1) < 0)
        return -ENOMEM;
    jw_c(w, ']');
    return 0;
}

#define JW_OBJ_UNITS 16

/* An object's members follow the top level's rules (sorted, dotted keys
 * nested, the first of equal keys kept), so no object in the output ever
 * holds a key twice, whatever the producer added. */
static int jw_object(struct jw *w, const struct ns_record *rec, uint32_t i)
{
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    uint32_t d = e[i].depth, n = 0;
    for (uint32_t j = i + 1; j < rec->n && e[j].depth > d; j++)
        n += e[j].depth == d + 1 && e[j].type != NS_F_END && e[j].key;
    struct unit small[2 * JW_OBJ_UNITS];
    struct unit *u = small, *heap = NULL;
    if (n > JW_OBJ_UNITS) {
        heap = malloc(2 * (size_t)n * sizeof(*u));
        if (!heap)
            return -ENOMEM;
        u = heap;
    }
    uint32_t k = 0;
    for (uint32_t j = i + 1; j < rec->n && e[j].depth > d; j++) {
        if (e[j].depth == d + 1 && e[j].type != NS_F_END && e[j].key)
            unit_set(&u[k++], ns__rec_key(rec, &e[j]), e[j].klen, j, e[j].kplain);
    }
    units_sort(u, u + n, n);
    int rc = -ENOMEM;
    if (jw_reserve(w, 1) < 0)
        goto out;
    jw_c(w, '{');
    if (jw_units(w, rec, u, n) < 0 || jw_reserve(w, 1) < 0)
        goto out;
    jw_c(w, '}');
    rc = 0;
out:
    free(heap);
    return rc;
}

static int jw_value(struct jw *w, const struct ns_record *rec, uint32_t i)
{
    const struct ns__rec_ent *e = ns__rec_ents(rec) + i;
    if (e->type == NS_F_ARRAY)
        return jw_array(w, rec, i);
    if (e->type == NS_F_OBJECT)
        return jw_object(w, rec, i);
    return jw_scalar(w, rec, e);
}

int oracle_rec_to_json(const struct ns_record *rec, char **buf, size_t *cap, size_t *len)
{
    struct jw w = {.b = *buf, .len = *len, .cap = *cap, .bufp = buf, .capp = cap};
    if (!w.b)
        w.cap = 0;
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    uint32_t nu = 4;
    for (uint32_t i = 0; i < rec->n; i++)
        nu += e[i].depth == 0 && e[i].type != NS_F_END;

    struct unit stack_units[2 * JW_STACK_UNITS];
    struct unit *u = stack_units, *heap = NULL;
    if (nu > JW_STACK_UNITS) {
        heap = malloc(2 * (size_t)nu * sizeof(*u));
        if (!heap)
            return -ENOMEM;
        u = heap;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < rec->n; i++) {
        if (e[i].depth == 0 && e[i].type != NS_F_END && e[i].key)
            unit_set(&u[n++], ns__rec_key(rec, &e[i]), e[i].klen, i, e[i].kplain);
    }
    /* Common fields after the producer's: the stable sort keeps them after
     * an equal producer key, and the first of equal keys is written. */
    unit_set(&u[n++], "@timestamp", 10, JU_TIMESTAMP, true);
    unit_set(&u[n++], "event.dataset", 13, JU_DATASET, true);
    if (rec->seq)
        unit_set(&u[n++], "event.sequence", 14, JU_SEQ, true);
    if (json_host_len)
        unit_set(&u[n++], "observer.hostname", 17, JU_HOST, true);
    if (n <= JW_STACK_UNITS) {
        struct perm *p = &jw_perm[(rec->type * 31u + n) % JW_PERM_SLOTS];
        if (perm_apply(p, u, u + nu, n)) {
            u += nu; /* the sorted copy */
        } else {
            for (uint32_t i = 0; i < n; i++)
                u[i].pos = (uint16_t)i;
            units_sort(u, u + nu, n);
            p->n = n;
            for (uint32_t i = 0; i < n; i++)
                p->ord[i] = u[i].pos;
        }
    } else {
        units_sort(u, u + nu, n);
    }

    int rc = -ENOMEM;
    if (jw_reserve(&w, 2) < 0)
        goto out;
    jw_c(&w, '{');
    if (jw_units(&w, rec, u, n) < 0 || jw_reserve(&w, 1) < 0)
        goto out;
    jw_c(&w, '}');
    *len = w.len;
    rc = 0;
out:
    free(heap);
    return rc;
}
