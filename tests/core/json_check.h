/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_check.h - a tiny strict JSON validator for the core tests (RFC 8259
 * grammar, no extensions). Used by test_option.c to prove that
 * `ns_opt_describe(..., NS_DOC_JSON)` prints one parseable document.
 * Header-only: every function is static.
 */
#ifndef NS_TEST_JSON_CHECK_H
#define NS_TEST_JSON_CHECK_H

#include <stdbool.h>
#include <string.h>

struct jc {
    const char *p, *end;
    int depth;
};

static void jc_ws(struct jc *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool jc_lit(struct jc *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool jc_digits(struct jc *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool jc_number(struct jc *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!jc_digits(j))
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!jc_digits(j))
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!jc_digits(j))
            return false;
    }
    return true;
}

static bool jc_string(struct jc *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end)
                return false;
            if (*j->p == 'u') {
                for (int i = 0; i < 4; i++) {
                    j->p++;
                    if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
                        return false;
                }
            } else if (!strchr("\"\\/bfnrt", *j->p)) {
                return false;
            }
        }
        j->p++;
    }
    if (j->p >= j->end)
        return false;
    j->p++;
    return true;
}

static bool jc_value(struct jc *j);

static bool jc_container(struct jc *j, char close, bool object)
{
    if (++j->depth > 64)
        return false;
    j->p++;
    jc_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        jc_ws(j);
        if (object) {
            if (!jc_string(j))
                return false;
            jc_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return false;
            j->p++;
        }
        if (!jc_value(j))
            return false;
        jc_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        return false;
    }
}

static bool jc_value(struct jc *j)
{
    jc_ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{':
        return jc_container(j, '}', true);
    case '[':
        return jc_container(j, ']', false);
    case '"':
        return jc_string(j);
    case 't':
        return jc_lit(j, "true");
    case 'f':
        return jc_lit(j, "false");
    case 'n':
        return jc_lit(j, "null");
    default:
        return jc_number(j);
    }
}

/* True when s[0..len) is exactly one JSON value, surrounded only by whitespace. */
static bool json_valid(const char *s, size_t len)
{
    struct jc j = {s, s + len, 0};
    if (!jc_value(&j))
        return false;
    jc_ws(&j);
    return j.p == j.end;
}

#endif
