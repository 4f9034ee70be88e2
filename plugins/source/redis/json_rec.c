/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_rec.c - source/redis: JSON object -> record (see json_rec.h).
 *
 * A small recursive-descent parser over s[0..len): no allocation besides one
 * string buffer per call, bounded depth.
 */
#include "json_rec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JR_MAX_DEPTH 64
#define JR_MAX_KEY 1024

struct jr {
    const struct ns_host *h;
    struct ns_record *rec;
    const char *p, *end;
    char *sbuf; /* unescaped string */
    size_t scap;
    int depth;
};

static void skip_ws(struct jr *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int put_utf8(struct jr *j, size_t *n, uint32_t cp)
{
    char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    memcpy(j->sbuf + *n, b, k);
    *n += k;
    return 0;
}

/* A string at j->p (the opening quote): unescaped into j->sbuf, *n bytes. */
static int parse_string(struct jr *j, size_t *n)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    /* The unescaped text is never longer than the escaped text. */
    size_t need = (size_t)(j->end - j->p) + 4;
    if (need > j->scap) {
        char *nb = realloc(j->sbuf, need);
        if (!nb)
            return -1;
        j->sbuf = nb;
        j->scap = need;
    }
    *n = 0;
    while (j->p < j->end) {
        char c = *j->p++;
        if (c == '"')
            return 0;
        if (c != '\\') {
            j->sbuf[(*n)++] = c;
            continue;
        }
        if (j->p >= j->end)
            return -1;
        c = *j->p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            j->sbuf[(*n)++] = c;
            break;
        case 'b':
            j->sbuf[(*n)++] = '\b';
            break;
        case 'f':
            j->sbuf[(*n)++] = '\f';
            break;
        case 'n':
            j->sbuf[(*n)++] = '\n';
            break;
        case 'r':
            j->sbuf[(*n)++] = '\r';
            break;
        case 't':
            j->sbuf[(*n)++] = '\t';
            break;
        case 'u': {
            uint32_t cp;
            if (j->end - j->p < 4 || hex4(j->p, &cp))
                return -1;
            j->p += 4;
            if (cp >= 0x80 && cp <= 0xff) {
                /* NetScope writes a raw invalid byte as \u00XX: restore it. */
                j->sbuf[(*n)++] = (char)cp;
                break;
            }
            if (cp >= 0xd800 && cp <= 0xdbff && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u') {
                uint32_t lo;
                if (!hex4(j->p + 2, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
                    j->p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
            }
            put_utf8(j, n, cp);
            break;
        }
        default:
            return -1;
        }
    }
    return -1;
}

static int parse_value(struct jr *j, char *key, size_t klen, bool in_array);

/* Members of an object; each key is appended to key[0..klen) with a '.' when
 * klen > 0 (nested objects flatten to dotted keys). */
static int parse_members(struct jr *j, char *key, size_t klen)
{
    if (++j->depth > JR_MAX_DEPTH)
        return -1;
    j->p++; /* '{' */
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        j->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(j);
        size_t n;
        if (parse_string(j, &n))
            return -1;
        size_t nk = klen + (klen ? 1 : 0) + n;
        if (nk >= JR_MAX_KEY)
            return -1;
        if (klen)
            key[klen] = '.';
        memcpy(key + klen + (klen ? 1 : 0), j->sbuf, n);
        key[nk] = 0;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return -1;
        j->p++;
        skip_ws(j);
        if (parse_value(j, key, nk, false))
            return -1;
        key[klen] = 0;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            j->depth--;
            return 0;
        }
        return -1;
    }
}

static int parse_number(struct jr *j, const char *k)
{
    const char *s = j->p;
    bool real = false;
    while (j->p < j->end && strchr("+-0123456789.eE", *j->p)) {
        if (*j->p == '.' || *j->p == 'e' || *j->p == 'E')
            real = true;
        j->p++;
    }
    size_t n = (size_t)(j->p - s);
    if (n == 0 || n > 64)
        return -1;
    char tmp[72];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *e;
    errno = 0;
    if (!real && tmp[0] == '-') {
        long long v = strtoll(tmp, &e, 10);
        if (*e == 0 && errno == 0)
            return j->h->rec_add_int(j->rec, k, v) == -EINVAL ? -1 : 0;
    } else if (!real) {
        unsigned long long v = strtoull(tmp, &e, 10);
        if (*e == 0 && errno == 0)
            return j->h->rec_add_uint(j->rec, k, v) == -EINVAL ? -1 : 0;
    }
    errno = 0;
    double d = strtod(tmp, &e);
    if (*e != 0)
        return -1;
    return j->h->rec_add_double(j->rec, k, d) == -EINVAL ? -1 : 0;
}

/* One value for key[0..klen) (in an array: no key). */
static int parse_value(struct jr *j, char *key, size_t klen, bool in_array)
{
    const struct ns_host *h = j->h;
    const char *k = in_array ? NULL : key;
    skip_ws(j);
    if (j->p >= j->end)
        return -1;
    char c = *j->p;
    if (c == '{') {
        if (!in_array)
            return parse_members(j, key, klen); /* flattened into dotted keys */
        /* An object inside an array: its own block, keys relative to it. */
        char inner[JR_MAX_KEY];
        inner[0] = 0;
        h->rec_begin_object(j->rec, NULL);
        int rc = parse_members(j, inner, 0);
        h->rec_end(j->rec);
        return rc;
    }
    if (c == '[') {
        if (++j->depth > JR_MAX_DEPTH)
            return -1;
        j->p++;
        h->rec_begin_array(j->rec, k);
        skip_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
        } else {
            for (;;) {
                char scratch[JR_MAX_KEY];
                scratch[0] = 0;
                if (parse_value(j, scratch, 0, true)) {
                    h->rec_end(j->rec);
                    return -1;
                }
                skip_ws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == ']') {
                    j->p++;
                    break;
                }
                h->rec_end(j->rec);
                return -1;
            }
        }
        h->rec_end(j->rec);
        j->depth--;
        return 0;
    }
    if (c == '"') {
        size_t n;
        if (parse_string(j, &n))
            return -1;
        h->rec_add_str(j->rec, k, j->sbuf, n);
        return 0;
    }
    if (j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) {
        j->p += 4;
        h->rec_add_bool(j->rec, k, true);
        return 0;
    }
    if (j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) {
        j->p += 5;
        h->rec_add_bool(j->rec, k, false);
        return 0;
    }
    if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
        j->p += 4;
        return 0;
    }
    return parse_number(j, k);
}

int json_to_record(const struct ns_host *h, struct ns_record *rec, const char *s, size_t len)
{
    struct jr j = {.h = h, .rec = rec, .p = s, .end = s + len};
    char key[JR_MAX_KEY];
    key[0] = 0;
    skip_ws(&j);
    int rc = -EINVAL;
    if (j.p < j.end && *j.p == '{' && parse_members(&j, key, 0) == 0) {
        skip_ws(&j);
        if (j.p == j.end)
            rc = 0;
    }
    free(j.sbuf);
    return rc;
}
