/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_json.c - one record as one JSON object (the format in core/SCHEMA.md).
 *
 * Called by sinks through host->rec_to_json, once per record on the sink's
 * thread (any thread may call it: it only reads the record and the hostname
 * set at start-up). It is on the hot path of every sink, so it never mallocs
 * per record in the steady state: it appends straight into the caller's
 * growing buffer, reserving room with one comparison per string (one per
 * block for everything else).
 *
 * Output order (SCHEMA.md, the contract): a block's units (a scalar, or a
 * whole array/object; at the top level plus the common fields @timestamp,
 * event.*, observer.hostname) stably sorted by key, comparing '.' below every
 * other byte so that all keys under one dotted prefix are contiguous; walking
 * them in order, objects are opened and closed along the key paths; equal keys
 * are written once (the first: producers' fields sort before the common ones).
 * Objects inside arrays get the same treatment; arrays keep their order.
 *
 * How: that layout depends only on the block's keys in entry order (and on
 * which common fields it has), and producers build the same few key lists
 * over and over. So the sort and the nesting walk run once per key list and
 * leave a plan (literal text between the values: braces, commas, quoted keys;
 * and which unit's value goes where), cached per thread by a hash of the key
 * list. A block whose keys equal a cached plan's (all interned: one compare
 * of the key words; otherwise key by key, by handle where both sides have
 * one; so a hash collision only costs a rebuild) replays it: literal, value,
 * literal, ..., tail, writing through a local output pointer. The pre-plan
 * serialiser is kept in tests/record/json_oracle.c and test_json_oracle.c
 * proves the output byte-identical.
 */
#include "ns_json.h"
#include "ns_rec.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
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

/* Nonzero when the word holds a byte that needs more than a copy (control,
 * '"', '\\', non-ASCII): the classic "has a zero byte" trick on x ^ '"' and
 * x ^ '\\' plus "has a byte < 0x20"; it may only err towards the slow path. */
static inline uint64_t word_bad(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return ((x - ones * 0x20) | (q - ones) | (b - ones) | x) & high;
}

#if defined(__SSE2__)
/* The same test on 16 bytes: signed "< 0x20" also catches every byte with
 * the high bit set. */
static inline int block_bad(__m128i x)
{
    __m128i lt = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));
    __m128i q = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
    __m128i b = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
    return _mm_movemask_epi8(_mm_or_si128(lt, _mm_or_si128(q, b)));
}
#endif

/* Nonzero when either word holds a byte that needs more than a copy: with
 * SSE2 one 16-byte test (fewer instructions than the 64-bit trick, whose
 * five constants are loaded at every inlined use), else word_bad twice. */
static inline int pair_bad(uint64_t x, uint64_t y)
{
#if defined(__SSE2__)
    return block_bad(_mm_set_epi64x((long long)y, (long long)x));
#else
    return (word_bad(x) | word_bad(y)) != 0;
#endif
}

/* The escaping loop of put_str: s[0, len) at o (after the opening quote),
 * then the closing quote; returns the end. Clean words are still copied
 * whole; the rest byte by byte. */
static __attribute__((noinline)) char *put_str_slow(char *o, const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* Clean words in the middle of a string with an odd byte. */
        while (len - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (word_bad(x))
                break;
            memcpy(o, &x, 8);
            o += 8;
            i += 8;
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
    return o;
}

/* Quoted, escaped string at o; returns the end. The caller reserved
 * len * 6 + 2 bytes (the worst case: 6 output bytes per input byte). The
 * usual value, short and plain, is checked and copied a block at a time,
 * the last block overlapping, never a byte outside s[0, len); a string with
 * anything to escape or validate is redone by put_str_slow. Inlined into
 * the plan replay, which keeps its output position in a register. */
static inline __attribute__((always_inline)) char *put_str(char *o, const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    *o++ = '"';
    if (len >= 16) {
#if defined(__SSE2__)
        __m128i x;
        for (size_t i = 0; len - i > 16; i += 16) {
            x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            if (block_bad(x))
                return put_str_slow(o, s, len);
            _mm_storeu_si128((__m128i *)(void *)(o + i), x);
        }
        x = _mm_loadu_si128((const __m128i *)(const void *)(s + len - 16));
        if (block_bad(x))
            return put_str_slow(o, s, len);
        _mm_storeu_si128((__m128i *)(void *)(o + len - 16), x);
#else
        uint64_t x;
        for (size_t i = 0; len - i > 8; i += 8) {
            memcpy(&x, s + i, 8);
            if (word_bad(x))
                return put_str_slow(o, s, len);
            memcpy(o + i, &x, 8);
        }
        memcpy(&x, s + len - 8, 8);
        if (word_bad(x))
            return put_str_slow(o, s, len);
        memcpy(o + len - 8, &x, 8);
#endif
    } else if (len >= 8) {
        /* 8-15 bytes: two overlapping words, one test. */
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, s + len - 8, 8);
        if (pair_bad(x, y))
            return put_str_slow(o, s, len);
        memcpy(o, &x, 8);
        memcpy(o + len - 8, &y, 8);
    } else if (len >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + len - 4, 4);
        uint64_t v = (uint64_t)x << 32 | y;
        if (pair_bad(v, v))
            return put_str_slow(o, s, len);
        memcpy(o, &x, 4);
        memcpy(o + len - 4, &y, 4);
    } else if (len) {
        /* 1-3 bytes ("tcp", "IN", "A"): first, middle and last cover them;
         * the filler bytes are plain. */
        uint8_t a = s[0], b = s[len / 2], c = s[len - 1];
        uint64_t v = 0x6161616161000000ull | (uint64_t)c << 16 | (uint64_t)b << 8 | a;
        if (pair_bad(v, v))
            return put_str_slow(o, s, len);
        o[0] = (char)a;
        o[len / 2] = (char)b;
        o[len - 1] = (char)c;
    }
    o += len;
    *o++ = '"';
    return o;
}

/* put_str at the end of w, room reserved. */
static inline void jw_str_raw(struct jw *w, const char *str, size_t len)
{
    w->len = (size_t)(put_str(w->b + w->len, str, len) - w->b);
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

static const uint64_t pow10[20] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull,
                                   1000000000000000000ull,
                                   10000000000000000000ull};

/* Decimal digits of v at out (no NUL); returns the count. The count comes
 * from the bit length (log10(2) ~ 1233/4096) and one table compare, then two
 * digits per division: most numbers here are counters and ports. */
static inline size_t fmt_u64(char *out, uint64_t v)
{
    unsigned t = ((64u - (unsigned)__builtin_clzll(v | 1)) * 1233u) >> 12;
    size_t n = t + (v >= pow10[t]);
    n += n == 0; /* v == 0 */
    char *o = out + n;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        o -= 2;
        memcpy(o, digits2 + d, 2);
    }
    if (v >= 10)
        memcpy(o - 2, digits2 + v * 2, 2);
    else
        o[-1] = (char)('0' + v);
    return n;
}

static inline void put2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DDTHH:MM:SS." of a second since the epoch (20 bytes). */
static void format_secs(char *out, uint64_t secs)
{
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
}

/* Per-thread cache of rendered seconds: a record's times (@timestamp,
 * event.start, event.end) and consecutive records mostly fall in a few
 * seconds, and the civil-date arithmetic costs more than the rest of the
 * value. Direct-mapped on the low bits of the second. */
#define JT_SLOTS 4
struct jt_slot {
    uint64_t secs; /* UINT64_MAX: empty (no uint64_t ns time reaches it) */
    char text[24];
};
static _Thread_local struct jt_slot jt_cache[JT_SLOTS] = {
    {UINT64_MAX, ""}, {UINT64_MAX, ""}, {UINT64_MAX, ""}, {UINT64_MAX, ""}};

/* The time at out, NS_JSON_TIME_LEN bytes, no NUL. */
static inline void format_time_raw(char *out, uint64_t ts_ns)
{
    uint64_t secs = ts_ns / 1000000000u;
    unsigned usec = (unsigned)(ts_ns % 1000000000u / 1000u);
    struct jt_slot *c = &jt_cache[secs % JT_SLOTS];
    if (c->secs != secs) {
        format_secs(c->text, secs);
        c->secs = secs;
    }
    memcpy(out, c->text, 20);
    memcpy(out + 20, digits2 + usec / 10000 * 2, 2);
    memcpy(out + 22, digits2 + usec / 100 % 100 * 2, 2);
    memcpy(out + 24, digits2 + usec % 100 * 2, 2);
    out[26] = 'Z';
}

size_t ns_json_format_time(char *out, uint64_t ts_ns)
{
    format_time_raw(out, ts_ns);
    out[NS_JSON_TIME_LEN] = 0;
    return NS_JSON_TIME_LEN;
}

/* A quoted time at o, NS_JSON_TIME_LEN + 2 bytes reserved; returns the end. */
static inline char *put_time(char *o, uint64_t ts_ns)
{
    o[0] = '"';
    format_time_raw(o + 1, ts_ns);
    o[NS_JSON_TIME_LEN + 1] = '"';
    return o + NS_JSON_TIME_LEN + 2;
}

static inline void jw_time(struct jw *w, uint64_t ts_ns)
{
    w->len = (size_t)(put_time(w->b + w->len, ts_ns) - w->b);
}

/* A double at o (40 bytes reserved); returns the end. */
static char *put_double(char *o, double d)
{
    if (!isfinite(d)) {
        memcpy(o, "null", 4);
        return o + 4;
    }
    char t[40];
    int n = snprintf(t, sizeof(t), "%.17g", d);
    if (n <= 0 || (size_t)n >= sizeof(t)) {
        memcpy(o, "null", 4);
        return o + 4;
    }
    for (int i = 0; i < n; i++) {
        /* A locale with a decimal comma would break the number. */
        if (t[i] == ',')
            t[i] = '.';
    }
    memcpy(o, t, (size_t)n);
    return o + n;
}

/* Decimal text of every byte value, NUL-padded to 4 bytes, so an IPv4
 * octet is one 4-byte copy (the bytes past its digits are overwritten next
 * or lie in reserved room) and a length from two compares. */
#define OCT_ROW(t) #t "0", #t "1", #t "2", #t "3", #t "4", #t "5", #t "6", #t "7", #t "8", #t "9"
static const char oct_txt[256][4] = {
    "0",         "1",         "2",         "3",         "4",         "5",         "6",
    "7",         "8",         "9",         OCT_ROW(1),  OCT_ROW(2),  OCT_ROW(3),  OCT_ROW(4),
    OCT_ROW(5),  OCT_ROW(6),  OCT_ROW(7),  OCT_ROW(8),  OCT_ROW(9),  OCT_ROW(10), OCT_ROW(11),
    OCT_ROW(12), OCT_ROW(13), OCT_ROW(14), OCT_ROW(15), OCT_ROW(16), OCT_ROW(17), OCT_ROW(18),
    OCT_ROW(19), OCT_ROW(20), OCT_ROW(21), OCT_ROW(22), OCT_ROW(23), OCT_ROW(24), "250",
    "251",       "252",       "253",       "254",       "255"};
#undef OCT_ROW

/* One octet at o, 4 bytes writable; returns the end. */
static inline char *put_u8(char *o, unsigned v)
{
    memcpy(o, oct_txt[v], 4);
    return o + 1 + (v >= 10) + (v >= 100);
}

/* Dotted quad of a[0..4) at out (18 bytes writable); returns the length. */
static inline size_t fmt_ip4(char *out, const uint8_t *a)
{
    char *o = put_u8(out, a[0]);
    *o++ = '.';
    o = put_u8(o, a[1]);
    *o++ = '.';
    o = put_u8(o, a[2]);
    *o++ = '.';
    o = put_u8(o, a[3]);
    return (size_t)(o - out);
}

/* IPv6 text at out (at most 45 bytes); returns the length. Exactly what
 * glibc's inet_ntop gives (the format before this function existed): RFC 5952
 * zero compression of the first longest run of two or more zero words,
 * lower-case hex without leading zeros, and the dotted IPv4 tail for
 * ::a.b.c.d and ::ffff:a.b.c.d. Without the libc call and its sprintf. */
static size_t fmt_ip6(char *out, const uint8_t *a)
{
    unsigned wd[8];
    int best = -1, blen = 0, cur = -1, clen = 0;
    for (int i = 0; i < 8; i++) {
        wd[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        if (wd[i] == 0) {
            if (cur < 0)
                cur = i, clen = 0;
            clen++;
        } else if (cur >= 0) {
            if (clen > blen)
                best = cur, blen = clen;
            cur = -1;
        }
    }
    if (cur >= 0 && clen > blen)
        best = cur, blen = clen;
    if (blen < 2)
        best = -1;
    char *o = out;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + blen) {
            if (i == best)
                *o++ = ':';
            continue;
        }
        if (i)
            *o++ = ':';
        if (i == 6 && best == 0 && (blen == 6 || (blen == 5 && wd[5] == 0xffff))) {
            o += fmt_ip4(o, a + 12);
            break;
        }
        unsigned v = wd[i];
        int sh = v >= 0x1000 ? 12 : v >= 0x100 ? 8 : v >= 0x10 ? 4 : 0;
        for (; sh >= 0; sh -= 4)
            *o++ = hexd[(v >> sh) & 15];
    }
    if (best >= 0 && best + blen == 8)
        *o++ = ':';
    return (size_t)(o - out);
}

/* A quoted address at o, 64 bytes reserved; returns the end. */
static inline __attribute__((always_inline)) char *put_ip(char *o, const struct ns_ip *ip)
{
    size_t n;
    if (ip->family == 4)
        n = fmt_ip4(o + 1, ip->a);
    else if (ip->family == 6)
        n = fmt_ip6(o + 1, ip->a);
    else {
        memcpy(o, "null", 4);
        return o + 4;
    }
    o[0] = '"';
    o[n + 1] = '"';
    return o + n + 2;
}

/* A quoted MAC at o (19 bytes reserved); returns the end. */
static inline char *put_mac(char *o, const uint8_t *mac)
{
    *o++ = '"';
    for (int i = 0; i < 6; i++) {
        if (i)
            *o++ = ':';
        *o++ = hexd[mac[i] >> 4];
        *o++ = hexd[mac[i] & 15];
    }
    *o++ = '"';
    return o;
}

/* A non-container, non-string value at o; room for 64 bytes reserved (an
 * IPv6 text is at most 45 + 2). Returns the end. */
static inline __attribute__((always_inline)) char *put_scalar(char *o, const struct ns__rec_ent *e)
{
    switch (e->type) {
    case NS_F_BOOL:
        if (e->v.b) {
            memcpy(o, "true", 4);
            return o + 4;
        }
        memcpy(o, "false", 5);
        return o + 5;
    case NS_F_INT:
        if (e->v.i < 0) {
            *o++ = '-';
            return o + fmt_u64(o, (uint64_t)0 - (uint64_t)e->v.i);
        }
        return o + fmt_u64(o, (uint64_t)e->v.i);
    case NS_F_UINT:
        return o + fmt_u64(o, e->v.u);
    case NS_F_DOUBLE:
        return put_double(o, e->v.d);
    case NS_F_IP:
        return put_ip(o, &e->v.ip);
    case NS_F_MAC:
        return put_mac(o, e->v.mac);
    case NS_F_TIME:
        return put_time(o, e->v.u);
    default:
        memcpy(o, "null", 4);
        return o + 4;
    }
}

static inline void jw_scalar_raw(struct jw *w, const struct ns__rec_ent *e)
{
    w->len = (size_t)(put_scalar(w->b + w->len, e) - w->b);
}

/* A non-container value. */
static int jw_scalar(struct jw *w, const struct ns_record *rec, const struct ns__rec_ent *e)
{
    if (e->type == NS_F_STR)
        return jw_str(w, ns__rec_str(rec, e->v.s.off), e->v.s.len);
    if (jw_reserve(w, 64) < 0)
        return -ENOMEM;
    jw_scalar_raw(w, e);
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
static uint32_t json_host_gen; /* bumped per change: plans hold the name */

void ns_json_set_hostname(const char *name)
{
    json_host_len = 0;
    json_host_gen++;
    if (!name || !*name)
        return;
    size_t n = strnlen(name, 255);
    char *b = NULL;
    size_t cap = 0, len = 0;
    if (ns_json_append_str(&b, &cap, &len, name, n) == 0 && len <= sizeof(json_host)) {
        memcpy(json_host, b, len);
        json_host_len = len;
    }
    free(b);
}

int ns_json_append_str(char **buf, size_t *cap, size_t *len, const char *s, size_t slen)
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

/* A unit of a block (the top level or an object): one member entry (a
 * scalar, or a whole array/object), or one of the common fields. The common
 * fields' sources lie past every unit ordinal, in the order they are
 * appended after the producer's units. */
#define JU_TIMESTAMP (UINT32_MAX - 3)
#define JU_DATASET (UINT32_MAX - 2)
#define JU_SEQ (UINT32_MAX - 1)
#define JU_HOST UINT32_MAX

struct unit {
    const char *key;
    uint32_t src; /* ordinal among the block's member entries, or JU_* */
    uint32_t idx; /* entry index (JU_* for a common field) */
    uint16_t klen;
    bool plain; /* key needs no escaping */
};

/* Byte order for sorting: end of key < '.' < every other byte, so that "a"
 * sorts right before "a.b" and all "a.*" keys are contiguous. Keys never hold
 * NUL, so 0 is free for "end". */
static inline unsigned ord(uint8_t c)
{
    return c == '.' ? 1u : c < '.' ? c + 1u : c;
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

/* A block's identity besides its keys: which common fields the top level
 * carries (bits 0-7), and the values a plan holds as literal text: the
 * record type (bits 8-23, for event.dataset) and the hostname's generation
 * (bits 32-63). Objects have 0. */
#define JB_COMMON 1u /* @timestamp, event.dataset */
#define JB_SEQ 2u    /* event.sequence */
#define JB_HOST 4u   /* observer.hostname */

static int jw_value(struct jw *w, const struct ns_record *rec, uint32_t i);

/* A common field's value. */
static int jw_common(struct jw *w, const struct ns_record *rec, uint32_t src)
{
    switch (src) {
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
    default:
        if (jw_reserve(w, json_host_len) < 0)
            return -ENOMEM;
        jw_mem(w, json_host, json_host_len);
        return 0;
    }
}

/* A layout plan: one block's output with the values left out. The layout
 * (which objects open and close where, each key and separator, which
 * duplicate is dropped) depends only on the block's keys in entry order and
 * on its flags, and a producer builds the same key list over and over, so the
 * sort and the nesting walk run once per key list; each later block with the
 * same keys only checks them (one compare per key) and replays the plan: a
 * literal, a value, a literal, a value, ..., the tail. */
struct jstep {
    uint32_t src; /* value: unit ordinal (entry via the block's index) or JU_* */
    uint32_t off; /* literal before it: lit[off, off + len) */
    uint32_t len;
};

struct jplan {
    uint64_t hash;
    uint64_t ident;  /* the block's identity besides its keys (JB_*, ...) */
    uint32_t nprod;  /* member entries (keys checked before replaying) */
    uint32_t nsteps; /* values written (duplicates are left out) */
    uint32_t busy;   /* replays in progress on this thread's stack */
    uint32_t tail_off, tail_len;
    size_t room;          /* output bytes to reserve up front (plan_run) */
    const uint32_t *kid;  /* [nprod]: the entry's key if interned, else 0 */
    const uint16_t *klen; /* [nprod] */
    const char *keys;     /* the nprod keys, concatenated */
    const char *lit;      /* literals, followed by JW_LIT_PAD readable bytes */
    struct jstep steps[];
};

/* Literal copies may write this far past a literal's end (plan_run). */
#define JW_LIT_PAD 32
/* Room per step besides its literal: the copy's overshoot and a scalar. */
#define JW_STEP_ROOM (JW_LIT_PAD + 64)

/* While a plan is built, jw_units records here instead of writing values. */
struct jbuild {
    struct jstep *steps;
    uint32_t nsteps;
    size_t mark; /* end of the previous value */
};

/* Write the sorted units, nesting dotted keys. With b set, w is a scratch
 * buffer and each value becomes a step of a plan. */
static int jw_units(struct jw *w, const struct ns_record *rec, const struct unit *u, uint32_t n,
                    struct jbuild *b)
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
        if (b && (u[x].src == JU_DATASET || u[x].src == JU_HOST)) {
            /* Fixed for every block with this plan (the record type and the
             * hostname generation are part of its identity): literal text. */
            if (jw_common(w, rec, u[x].src) < 0)
                return -ENOMEM;
        } else if (b) {
            struct jstep *st = &b->steps[b->nsteps++];
            st->src = u[x].src;
            st->off = (uint32_t)b->mark;
            st->len = (uint32_t)(w->len - b->mark);
            b->mark = w->len;
        } else if (u[x].src >= JU_TIMESTAMP ? jw_common(w, rec, u[x].src) < 0
                                            : jw_value(w, rec, u[x].idx) < 0) {
            return -ENOMEM;
        }
    }
    if (jw_reserve(w, depth) < 0)
        return -ENOMEM;
    for (; depth > 0; depth--)
        jw_c(w, '}');
    return 0;
}

/* ---- plan cache (per thread) ------------------------------------------ */

#define JW_PLAN_SLOTS 256        /* direct-mapped by key-list hash */
#define JW_PLAN_UNITS 256        /* bigger blocks are written directly */
#define JW_PLAN_BYTES (1u << 16) /* bigger plans are used once, not kept */

struct jcache {
    struct jplan *slot[JW_PLAN_SLOTS];
};

/* Per thread, so no locking; freed at thread exit by the key's destructor
 * (the main thread's stays reachable until exit). */
static _Thread_local struct jcache *jw_tc;
static pthread_once_t jw_tc_once = PTHREAD_ONCE_INIT;
static pthread_key_t jw_tc_key;
static bool jw_tc_key_ok;

static void jw_tc_free(void *arg)
{
    struct jcache *c = arg;
    for (uint32_t i = 0; i < JW_PLAN_SLOTS; i++)
        free(c->slot[i]);
    free(c);
    jw_tc = NULL;
}

static void jw_tc_init(void)
{
    jw_tc_key_ok = pthread_key_create(&jw_tc_key, jw_tc_free) == 0;
}

/* This thread's cache, made on first use; NULL when that fails (blocks are
 * then written directly, as when a plan cannot be built). */
static struct jcache *jw_cache(void)
{
    if (jw_tc)
        return jw_tc;
    pthread_once(&jw_tc_once, jw_tc_init);
    if (!jw_tc_key_ok)
        return NULL;
    struct jcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (pthread_setspecific(jw_tc_key, c) != 0) {
        free(c);
        return NULL;
    }
    jw_tc = c;
    return c;
}

#define JH_MUL 0x9e3779b97f4a7c15ull

/* A cheap signature of a key for the plan hash: its length and last bytes
 * (ECS keys share prefixes, not suffixes). Only picks the slot: a plan is
 * used only after all its keys compared equal. */
static inline uint64_t key_sig(const char *k, uint32_t n)
{
    uint64_t x;
    if (n >= 8) {
        memcpy(&x, k + n - 8, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, k, 4);
        memcpy(&b, k + n - 4, 4);
        x = (uint64_t)a << 32 | b;
    } else {
        x = n ? (uint64_t)(uint8_t)k[0] << 16 | (uint64_t)(uint8_t)k[n / 2] << 8 | (uint8_t)k[n - 1]
              : 0;
    }
    return x + n;
}

/* Does the block (member entries idx[0..nprod)) have exactly the plan's keys,
 * in the same order? Interned keys compare by handle (one name, one handle);
 * a copied key on either side compares by bytes, so records that mix both
 * kinds match the same plans as records with copied keys only. */
static bool plan_match(const struct jplan *p, const struct ns_record *rec, const uint32_t *idx)
{
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    const char *k = p->keys;
    for (uint32_t o = 0; o < p->nprod; o++) {
        const struct ns__rec_ent *x = &e[idx[o]];
        uint32_t kl = p->klen[o], pk = p->kid[o];
        if (pk && x->key == pk) {
            k += kl;
            continue;
        }
        if (x->klen != kl || (pk & x->key & NS__REC_KEY_ID) || !mem_eq(ns__rec_key(rec, x), k, kl))
            return false;
        k += kl;
    }
    return true;
}

/* Copy a plan literal to o, room for len + JW_LIT_PAD reserved: 32 bytes
 * (the plan's literals are followed by JW_LIT_PAD readable bytes) and more
 * only if longer, so that the usual 5-30 byte literal costs no length
 * branching. Returns the end. */
static inline char *put_lit(char *o, const char *s, uint32_t len)
{
    memcpy(o, s, 16);
    memcpy(o + 16, s + 16, 16);
    for (uint32_t i = 32; i < len; i += 16)
        memcpy(o + i, s + i, 16);
    return o + len;
}

/* Replay a plan for the block whose member entries are idx[]. One
 * reservation covers every literal and every scalar (p->room); a string
 * reserves its own worst case plus what the rest of the plan still needs, and
 * a nested block renews the reservation afterwards. The output position
 * lives in a local pointer, written back to w only around calls that grow
 * the buffer (w->b may move): stores through char pointers may alias
 * anything, so a position kept in *w would be reloaded after every byte. */
static int plan_run(struct jw *w, const struct ns_record *rec, struct jplan *p, const uint32_t *idx)
{
    size_t rest = p->room;
    if (jw_reserve(w, rest) < 0)
        return -ENOMEM;
    const struct ns__rec_ent *ents = ns__rec_ents(rec);
    const char *base = (const char *)rec->buf + rec->cap, *lit = p->lit;
    const struct jstep *st = p->steps, *send = st + p->nsteps;
    char *o = w->b + w->len, *lim = w->b + w->cap;
    int rc = -ENOMEM;
    p->busy++; /* a nested block must not evict it */
    for (; st < send; st++) {
        uint32_t len = st->len, src = st->src;
        rest -= len + JW_STEP_ROOM;
        o = put_lit(o, lit + st->off, len);
        if (src >= JU_TIMESTAMP) {
            /* @timestamp or event.sequence (the others are literal text). */
            if (src == JU_TIMESTAMP)
                o = put_time(o, rec->ts_ns);
            else
                o += fmt_u64(o, rec->seq);
            continue;
        }
        const struct ns__rec_ent *e = ents + idx[src];
        if (e->type == NS_F_STR) {
            size_t need = (size_t)e->v.s.len * 6 + 2 + rest;
            if ((size_t)(lim - o) < need) {
                w->len = (size_t)(o - w->b);
                if (jw_reserve(w, need) < 0)
                    goto out;
                o = w->b + w->len;
                lim = w->b + w->cap;
            }
            o = put_str(o, base - e->v.s.off, e->v.s.len);
        } else if (e->type == NS_F_ARRAY || e->type == NS_F_OBJECT) {
            w->len = (size_t)(o - w->b);
            if (jw_value(w, rec, idx[src]) < 0 || jw_reserve(w, rest) < 0)
                goto out;
            o = w->b + w->len;
            lim = w->b + w->cap;
        } else {
            o = put_scalar(o, e);
        }
    }
    o = put_lit(o, lit + p->tail_off, p->tail_len);
    rc = 0;
out:
    if (rc == 0)
        w->len = (size_t)(o - w->b);
    p->busy--;
    return rc;
}

/* Make a plan from the block's sorted units (nu of them: the nprod member
 * entries idx[] plus the common fields). NULL when out of memory. */
static struct jplan *plan_build(const struct ns_record *rec, const struct unit *u, uint32_t nu,
                                const uint32_t *idx, uint32_t nprod, uint64_t ident, uint64_t hash)
{
    char *sb = NULL;
    size_t scap = 0;
    struct jw s = {.bufp = &sb, .capp = &scap};
    struct jplan *p = NULL;
    struct jbuild b = {.steps = malloc((nu ? nu : 1) * sizeof(struct jstep))};
    if (!b.steps || jw_reserve(&s, 1) < 0)
        goto out;
    jw_c(&s, '{');
    if (jw_units(&s, rec, u, nu, &b) < 0 || jw_reserve(&s, 1) < 0)
        goto out;
    jw_c(&s, '}');
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    size_t kbytes = 0;
    for (uint32_t o = 0; o < nprod; o++)
        kbytes += e[idx[o]].klen;
    size_t steps_sz = b.nsteps * sizeof(struct jstep);
    size_t size = sizeof(*p) + steps_sz + nprod * (sizeof(uint32_t) + sizeof(uint16_t)) + kbytes +
                  s.len + JW_LIT_PAD;
    p = malloc(size);
    if (!p)
        goto out;
    p->hash = hash;
    p->ident = ident;
    p->nprod = nprod;
    p->nsteps = b.nsteps;
    p->busy = 0;
    p->tail_off = (uint32_t)b.mark;
    p->tail_len = (uint32_t)(s.len - b.mark);
    memcpy(p->steps, b.steps, steps_sz);
    uint32_t *kid = (uint32_t *)(void *)((char *)p->steps + steps_sz);
    uint16_t *kl = (uint16_t *)(kid + nprod);
    char *keys = (char *)(kl + nprod), *k = keys;
    for (uint32_t o = 0; o < nprod; o++) {
        const struct ns__rec_ent *x = &e[idx[o]];
        kid[o] = x->key & NS__REC_KEY_ID ? x->key : 0;
        kl[o] = x->klen;
        memcpy(k, ns__rec_key(rec, x), x->klen);
        k += x->klen;
    }
    memcpy(k, s.b, s.len);
    memset(k + s.len, 0, JW_LIT_PAD);
    /* Literals plus a scalar's worst case per step (see plan_run). */
    p->room = s.len + (size_t)b.nsteps * JW_STEP_ROOM + JW_LIT_PAD;
    p->kid = kid;
    p->klen = kl;
    p->keys = keys;
    p->lit = k;
out:
    free(b.steps);
    free(s.b);
    return p;
}

/* ---- blocks ----------------------------------------------------------- */

/* Member entries of a block: those at depth md from `from` up to the first
 * shallower one (the block's END, or the record's end). Stores the first
 * `max` indices in idx[] and their key words (ns__rec_ent.key) in kk[], and
 * returns the count; *hash gets the key-list hash. */
static inline __attribute__((always_inline)) uint32_t
collect_run(const struct ns__rec_ent *e, uint32_t from, uint32_t nent, const char *base,
            uint32_t md, uint32_t *idx, uint32_t *kk, uint32_t max, bool bounded, uint64_t *hash)
{
    uint64_t h = 0;
    uint32_t n = 0;
    for (uint32_t i = from; i < nent; i++) {
        const struct ns__rec_ent *x = e + i;
        unsigned d = x->depth;
        if (d != md) {
            if (d < md)
                break; /* the block's END */
            continue;  /* inside a member array/object */
        }
        /* END markers have no key (ns_rec_end zeroes the entry), so one
         * test skips them and keyless entries alike. */
        if (!x->key)
            continue;
        if (bounded || n < max) {
            idx[n] = i;
            kk[n] = x->key;
            /* An interned key hashes by its handle: no read of the name. */
            uint64_t sig = x->key & NS__REC_KEY_ID ? x->key : key_sig(base - x->key, x->klen);
            h = (h ^ sig) * JH_MUL;
        }
        n++;
    }
    *hash = h;
    return n;
}

static uint32_t jw_collect(const struct ns_record *rec, uint32_t from, uint32_t md, uint32_t *idx,
                           uint32_t *kk, uint32_t max, uint64_t *hash)
{
    /* Locals, not rec->...: the stores to idx[] could alias them. */
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    const char *base = (const char *)rec->buf + rec->cap;
    uint32_t nent = rec->n;
    /* Fewer entries left than `max`: no member count can reach it, so the
     * usual record's scan runs without the per-member bound check. */
    if (nent - from <= max)
        return collect_run(e, from, nent, base, md, idx, kk, max, true, hash);
    return collect_run(e, from, nent, base, md, idx, kk, max, false, hash);
}

/* The block's units in entry order: its members, then the common fields
 * its flags ask for (after the producer's, so that the stable sort keeps an
 * equal producer key first, and the first of equal keys is written). Room
 * for nprod + 4. Returns the count. */
static uint32_t units_fill(const struct ns_record *rec, const uint32_t *idx, uint32_t nprod,
                           uint64_t flags, struct unit *u)
{
    const struct ns__rec_ent *e = ns__rec_ents(rec);
    uint32_t n = 0;
    for (; n < nprod; n++) {
        const struct ns__rec_ent *x = &e[idx[n]];
        u[n] = (struct unit){.key = ns__rec_key(rec, x),
                             .src = n,
                             .idx = idx[n],
                             .klen = x->klen,
                             .plain = x->kplain};
    }
    if (flags & JB_COMMON) {
        u[n++] = (struct unit){"@timestamp", JU_TIMESTAMP, JU_TIMESTAMP, 10, true};
        u[n++] = (struct unit){"event.dataset", JU_DATASET, JU_DATASET, 13, true};
    }
    if (flags & JB_SEQ)
        u[n++] = (struct unit){"event.sequence", JU_SEQ, JU_SEQ, 14, true};
    if (flags & JB_HOST)
        u[n++] = (struct unit){"observer.hostname", JU_HOST, JU_HOST, 17, true};
    return n;
}

/* A block without a usable plan: sort its units, then make, replay and
 * (room permitting) keep a plan; without memory for a plan, write directly. */
static int jw_block_slow(struct jw *w, const struct ns_record *rec, const uint32_t *idx,
                         uint32_t nprod, uint64_t ident, uint64_t hash, struct jcache *c)
{
    struct unit *u = malloc(2 * ((size_t)nprod + 4) * sizeof(*u));
    if (!u)
        return -ENOMEM;
    uint32_t nu = units_fill(rec, idx, nprod, ident, u);
    units_sort(u, u + nu, nu);
    int rc = -ENOMEM;
    struct jplan *p =
        c && nprod <= JW_PLAN_UNITS ? plan_build(rec, u, nu, idx, nprod, ident, hash) : NULL;
    if (p) {
        rc = plan_run(w, rec, p, idx);
        struct jplan **slot = &c->slot[hash % JW_PLAN_SLOTS];
        size_t size = (size_t)(p->lit - (const char *)p) + p->tail_off + p->tail_len + JW_LIT_PAD;
        if (size <= JW_PLAN_BYTES && (!*slot || !(*slot)->busy)) {
            free(*slot);
            *slot = p;
        } else {
            free(p); /* too big to keep, or its slot is in use up the stack */
        }
    } else if (jw_reserve(w, 1) == 0) {
        jw_c(w, '{');
        if (jw_units(w, rec, u, nu, NULL) == 0 && jw_reserve(w, 1) == 0) {
            jw_c(w, '}');
            rc = 0;
        }
    }
    free(u);
    return rc;
}

/* One block as a JSON object: the member entries at depth md from `from`
 * (see jw_collect), plus the common fields in `ident` (JB_*; 0 for an
 * object). Inlined into its two callers so that the top level's md == 0
 * simplifies the member scan. */
static inline __attribute__((always_inline)) int
jw_block(struct jw *w, const struct ns_record *rec, uint32_t from, uint32_t md, uint64_t ident)
{
    uint32_t sidx[JW_PLAN_UNITS], skk[JW_PLAN_UNITS];
    uint64_t hash;
    uint32_t n = jw_collect(rec, from, md, sidx, skk, JW_PLAN_UNITS, &hash);
    if (n > JW_PLAN_UNITS) {
        /* Rare: a huge block, indexed on the heap and written directly. */
        uint32_t *idx = malloc(2 * (size_t)n * sizeof(*idx));
        if (!idx)
            return -ENOMEM;
        jw_collect(rec, from, md, idx, idx + n, n, &hash);
        int rc = jw_block_slow(w, rec, idx, n, ident, hash, NULL);
        free(idx);
        return rc;
    }
    hash = (hash ^ ident ^ (uint64_t)n << 24) * JH_MUL;
    hash ^= hash >> 32;
    struct jcache *c = jw_cache();
    if (c) {
        struct jplan *p = c->slot[hash % JW_PLAN_SLOTS];
        /* Keys interned on both sides (the usual case) match when the key
         * words are equal, one compare for the list; a plan with a copied
         * key, or a record mixing both kinds, takes the walk. */
        if (p && p->hash == hash && p->nprod == n && p->ident == ident &&
            (memcmp(skk, p->kid, (size_t)n * sizeof(*skk)) == 0 || plan_match(p, rec, sidx)))
            return plan_run(w, rec, p, sidx);
    }
    return jw_block_slow(w, rec, sidx, n, ident, hash, c);
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
        /* Scalars and strings (the usual items: "event.type", flags) are
         * written here with one reservation each; blocks recurse. */
        uint8_t t = e[j].type;
        size_t need = t == NS_F_STR ? (size_t)e[j].v.s.len * 6 + 3 : 65;
        if (jw_reserve(w, need) < 0)
            return -ENOMEM;
        if (some)
            jw_c(w, ',');
        some = true;
        if (t == NS_F_STR) {
            jw_str_raw(w, ns__rec_str(rec, e[j].v.s.off), e[j].v.s.len);
        } else if (t == NS_F_ARRAY || t == NS_F_OBJECT) {
            if (jw_value(w, rec, j) < 0)
                return -ENOMEM;
        } else {
            jw_scalar_raw(w, &e[j]);
        }
    }
    if (jw_reserve(w, 1) < 0)
        return -ENOMEM;
    jw_c(w, ']');
    return 0;
}

/* An object's members follow the top level's rules (sorted, dotted keys
 * nested, the first of equal keys kept), so no object in the output ever
 * holds a key twice, whatever the producer added. */
static int jw_value(struct jw *w, const struct ns_record *rec, uint32_t i)
{
    const struct ns__rec_ent *e = ns__rec_ents(rec) + i;
    if (e->type == NS_F_ARRAY)
        return jw_array(w, rec, i);
    if (e->type == NS_F_OBJECT)
        return jw_block(w, rec, i + 1, e->depth + 1u, 0);
    return jw_scalar(w, rec, e);
}

int ns_rec_to_json(const struct ns_record *rec, char **buf, size_t *cap, size_t *len)
{
    struct jw w = {.b = *buf, .len = *len, .cap = *cap, .bufp = buf, .capp = cap};
    if (!w.b)
        w.cap = 0;
    uint64_t ident = JB_COMMON | (rec->seq ? JB_SEQ : 0) | (uint64_t)rec->type << 8;
    if (json_host_len)
        ident |= JB_HOST | (uint64_t)json_host_gen << 32;
    if (jw_block(&w, rec, 0, 0, ident) < 0)
        return -ENOMEM;
    *len = w.len;
    return 0;
}
