/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_opt.c - option parsing, bounds, defaults and docs from one ns_option table.
 *
 * The same table drives validation (`netscope check-config`), the values a plugin
 * receives in init(), and the documentation (`netscope describe`), so the three
 * cannot drift apart.
 */
#include "ns_opt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static const char *skip_ws(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

/* Parses a non-negative decimal number with an optional fraction; *end after it. */
static int parse_number(const char *s, double *out, const char **end)
{
    char *e;
    s = skip_ws(s);
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &e);
    if (e == s) /* "." or ".x": no digits at all */
        return -EINVAL;
    if ((errno == ERANGE && v != 0) || !isfinite(v) || v < 0)
        return -ERANGE;
    *out = v;
    *end = skip_ws(e);
    return 0;
}

struct unit {
    const char *name;
    double mult;
};

static int parse_with_units(const char *s, const struct unit *units, double bare, uint64_t *out)
{
    double v, mult = 0;
    const char *u;
    int rc = parse_number(s, &v, &u);
    if (rc)
        return rc;
    if (*u == '\0') {
        mult = bare;
    } else {
        size_t ulen = strlen(u);
        while (ulen && isspace((unsigned char)u[ulen - 1]))
            ulen--;
        for (const struct unit *x = units; x->name; x++) {
            if (strlen(x->name) == ulen && strncmp(u, x->name, ulen) == 0) {
                mult = x->mult;
                break;
            }
        }
        if (mult == 0)
            return -EINVAL;
    }
    double r = v * mult;
    if (r >= 18446744073709551615.0)
        return -ERANGE;
    /* llround() returns a long long: above 2^63 it overflows, but there every
     * double is already an integer, so a plain conversion is exact. */
    *out = r >= 9223372036854775808.0 ? (uint64_t)r : (uint64_t)llround(r);
    return 0;
}

int ns_parse_size(const char *s, uint64_t *out)
{
    static const struct unit units[] = {{"B", 1},
                                        {"b", 1},
                                        {"K", 1024.0},
                                        {"KiB", 1024.0},
                                        {"k", 1024.0},
                                        {"KB", 1000.0},
                                        {"kB", 1000.0},
                                        {"M", 1048576.0},
                                        {"MiB", 1048576.0},
                                        {"MB", 1e6},
                                        {"G", 1073741824.0},
                                        {"GiB", 1073741824.0},
                                        {"GB", 1e9},
                                        {"T", 1099511627776.0},
                                        {"TiB", 1099511627776.0},
                                        {"TB", 1e12},
                                        {NULL, 0}};
    return parse_with_units(s, units, 1, out);
}

int ns_parse_duration(const char *s, uint64_t *out_ns)
{
    static const struct unit units[] = {{"ns", 1},     {"us", 1e3},    {"µs", 1e3}, {"ms", 1e6},
                                        {"s", 1e9},    {"sec", 1e9},   {"m", 60e9}, {"min", 60e9},
                                        {"h", 3600e9}, {"d", 86400e9}, {NULL, 0}};
    return parse_with_units(s, units, 1e9, out_ns);
}

int ns_parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"true", "yes", "on", "1", NULL};
    static const char *const f[] = {"false", "no", "off", "0", NULL};
    for (int i = 0; t[i]; i++) {
        if (strcasecmp(s, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

const struct ns_option *ns_opt_find(const struct ns_option *opts, const char *key)
{
    for (const struct ns_option *o = opts; o && o->name; o++)
        if (strcmp(o->name, key) == 0)
            return o;
    return NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] +
                         (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(size_t) * (lb + 1));
    }
    return prev[lb];
}

const char *ns_suggest(const char *key, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = 4;
    size_t klen = strlen(key);
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(key, cands[i]);
        /* A key that is a prefix of a candidate ("rotate" for "rotate_size") counts as close. */
        if (klen >= 3 && strncmp(cands[i], key, klen) == 0 && d > 1)
            d = 1;
        if (d < best_d && d < strlen(cands[i])) {
            best_d = d;
            best = cands[i];
        }
    }
    return best;
}

const char *ns_opt_suggest(const struct ns_option *opts, const char *key)
{
    const char *names[256];
    size_t n = 0;
    for (const struct ns_option *o = opts; o && o->name && n < 256; o++)
        names[n++] = o->name;
    return ns_suggest(key, names, n);
}

size_t ns_opt_count(const struct ns_option *opts)
{
    size_t n = 0;
    while (opts && opts[n].name)
        n++;
    return n;
}

const char *ns_opt_type_name(enum ns_opt_type t)
{
    switch (t) {
    case NS_OPT_BOOL:
        return "bool";
    case NS_OPT_INT:
        return "int";
    case NS_OPT_UINT:
        return "uint";
    case NS_OPT_DOUBLE:
        return "number";
    case NS_OPT_SIZE:
        return "size";
    case NS_OPT_DURATION:
        return "duration";
    case NS_OPT_STRING:
        return "string";
    case NS_OPT_ENUM:
        return "enum";
    case NS_OPT_STRING_LIST:
        return "string list";
    case NS_OPT_PATH:
        return "path";
    }
    return "?";
}

const char *ns_kind_name(enum ns_kind k)
{
    switch (k) {
    case NS_KIND_SOURCE:
        return "source";
    case NS_KIND_DECODER:
        return "decoder";
    case NS_KIND_ENRICHER:
        return "enricher";
    case NS_KIND_DETECTOR:
        return "detector";
    case NS_KIND_SINK:
        return "sink";
    }
    return "?";
}

enum ns_kind ns_kind_parse(const char *s)
{
    for (int k = NS_KIND_SOURCE; k <= NS_KIND_SINK; k++)
        if (strcmp(s, ns_kind_name((enum ns_kind)k)) == 0)
            return (enum ns_kind)k;
    return 0;
}

/* Integers are decimal, or hexadecimal with 0x. Not strtol's base 0: YAML 1.2
 * reads "010" as ten, and "08" must not be a syntax error. */
static int int_base(const char *t)
{
    const char *p = skip_ws(t);
    if (*p == '-' || *p == '+')
        p++;
    return (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) ? 16 : 10;
}

static bool has_min(const struct ns_option *o)
{
    return (o->flags & NS_OPT_HAS_MIN) || o->min != 0;
}
static bool has_max(const struct ns_option *o)
{
    return (o->flags & NS_OPT_HAS_MAX) || o->max != 0;
}

/* Formats a bound in the option's own unit for messages and docs. */
static void fmt_bound(const struct ns_option *o, double v, char *buf, size_t len)
{
    if (o->type == NS_OPT_DURATION) {
        if (v >= 1e9 && fmod(v, 1e9) == 0)
            snprintf(buf, len, "%.0fs", v / 1e9);
        else if (v >= 1e6 && fmod(v, 1e6) == 0)
            snprintf(buf, len, "%.0fms", v / 1e6);
        else
            snprintf(buf, len, "%.0fns", v);
    } else if (o->type == NS_OPT_SIZE && v >= 1024 && fmod(v, 1024) == 0) {
        if (fmod(v, 1048576) == 0)
            snprintf(buf, len, "%.0fMiB", v / 1048576);
        else
            snprintf(buf, len, "%.0fKiB", v / 1024);
    } else {
        snprintf(buf, len, "%.15g", v);
    }
}

static int check_bounds(const struct ns_option *o, double v, char *err, size_t errlen)
{
    char a[32], b[32];
    if (has_min(o) && v < o->min) {
        fmt_bound(o, o->min, a, sizeof(a));
        if (has_max(o)) {
            fmt_bound(o, o->max, b, sizeof(b));
            return snprintf(err, errlen, "'%s' is out of range: must be between %s and %s", o->name,
                            a, b),
                   -ERANGE;
        }
        return snprintf(err, errlen, "'%s' is out of range: must be at least %s", o->name, a),
               -ERANGE;
    }
    if (has_max(o) && v > o->max) {
        fmt_bound(o, o->max, b, sizeof(b));
        if (has_min(o)) {
            fmt_bound(o, o->min, a, sizeof(a));
            return snprintf(err, errlen, "'%s' is out of range: must be between %s and %s", o->name,
                            a, b),
                   -ERANGE;
        }
        return snprintf(err, errlen, "'%s' is out of range: must be at most %s", o->name, b),
               -ERANGE;
    }
    return 0;
}

static void free_list(struct ns_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

int ns_opt_set(const struct ns_option *o, void *block, const char *text, char *err, size_t errlen)
{
    char *field = (char *)block + o->offset;
    const char *t = text ? text : "";

    switch (o->type) {
    case NS_OPT_BOOL: {
        bool b;
        if (ns_parse_bool(t, &b))
            return ERR("'%s' expects a boolean (true/false), got '%s'", o->name, t);
        *(bool *)field = b;
        return 0;
    }
    case NS_OPT_INT: {
        char *e;
        errno = 0;
        long long v = strtoll(t, &e, int_base(t));
        if (e == t || *skip_ws(e) || errno)
            return ERR("'%s' expects an integer, got '%s'", o->name, t);
        int rc = check_bounds(o, (double)v, err, errlen);
        if (rc)
            return rc;
        *(int64_t *)field = v;
        return 0;
    }
    case NS_OPT_UINT: {
        char *e;
        const char *p = skip_ws(t);
        errno = 0;
        unsigned long long v = strtoull(p, &e, int_base(p));
        if (e == p || *skip_ws(e) || errno || *p == '-')
            return ERR("'%s' expects a non-negative integer, got '%s'", o->name, t);
        int rc = check_bounds(o, (double)v, err, errlen);
        if (rc)
            return rc;
        *(uint64_t *)field = v;
        return 0;
    }
    case NS_OPT_DOUBLE: {
        char *e;
        errno = 0;
        double v = strtod(t, &e);
        if (e == t || *skip_ws(e) || errno || !isfinite(v))
            return ERR("'%s' expects a number, got '%s'", o->name, t);
        int rc = check_bounds(o, v, err, errlen);
        if (rc)
            return rc;
        *(double *)field = v;
        return 0;
    }
    case NS_OPT_SIZE: {
        uint64_t v;
        int rc = ns_parse_size(t, &v);
        if (rc == -ERANGE)
            return snprintf(err, errlen, "'%s': size '%s' is too large", o->name, t), -ERANGE;
        if (rc)
            return ERR("'%s' expects a size such as 512, 64KiB, 32MiB or 1GiB, got '%s'", o->name,
                       t);
        rc = check_bounds(o, (double)v, err, errlen);
        if (rc)
            return rc;
        *(uint64_t *)field = v;
        return 0;
    }
    case NS_OPT_DURATION: {
        uint64_t v;
        int rc = ns_parse_duration(t, &v);
        if (rc == -ERANGE)
            return snprintf(err, errlen, "'%s': duration '%s' is too large", o->name, t), -ERANGE;
        if (rc)
            return ERR("'%s' expects a duration such as 500ms, 30s, 5m or 1h, got '%s'", o->name,
                       t);
        rc = check_bounds(o, (double)v, err, errlen);
        if (rc)
            return rc;
        *(uint64_t *)field = v;
        return 0;
    }
    case NS_OPT_STRING:
    case NS_OPT_PATH: {
        char *dup = strdup(t);
        if (!dup)
            return snprintf(err, errlen, "out of memory"), -ENOMEM;
        free(*(char **)field);
        *(char **)field = dup;
        return 0;
    }
    case NS_OPT_ENUM: {
        for (int i = 0; o->choices && o->choices[i]; i++) {
            if (strcmp(o->choices[i], t) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        char list[256] = "";
        size_t n = 0;
        for (int i = 0; o->choices && o->choices[i] && n < sizeof(list); i++)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", o->choices[i]);
        size_t nc = 0;
        while (o->choices && o->choices[nc])
            nc++;
        const char *sug = o->choices ? ns_suggest(t, o->choices, nc) : NULL;
        if (sug)
            return ERR("'%s' must be one of: %s; got '%s' (did you mean '%s'?)", o->name, list, t,
                       sug);
        return ERR("'%s' must be one of: %s; got '%s'", o->name, list, t);
    }
    case NS_OPT_STRING_LIST:
        return ns_opt_set_list(o, block, &t, 1, err, errlen);
    }
    return ERR("'%s' has an unknown option type", o->name);
}

int ns_opt_set_list(const struct ns_option *o, void *block, const char *const *items, size_t n,
                    char *err, size_t errlen)
{
    if (o->type != NS_OPT_STRING_LIST)
        return ERR("'%s' expects a single %s, not a list", o->name, ns_opt_type_name(o->type));
    struct ns_strlist *l = (struct ns_strlist *)((char *)block + o->offset);
    struct ns_strlist nl = {calloc(n ? n : 1, sizeof(char *)), 0};
    if (!nl.items)
        return snprintf(err, errlen, "out of memory"), -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        nl.items[i] = strdup(items[i] ? items[i] : "");
        if (!nl.items[i]) {
            free_list(&nl);
            return snprintf(err, errlen, "out of memory"), -ENOMEM;
        }
        nl.count++;
    }
    double cnt = (double)n;
    int rc = check_bounds(o, cnt, err, errlen);
    if (rc) {
        free_list(&nl);
        return rc;
    }
    free_list(l);
    *l = nl;
    return 0;
}

int ns_opt_defaults(const struct ns_option *opts, void *block, const bool *set, char *err,
                    size_t errlen)
{
    size_t i = 0;
    for (const struct ns_option *o = opts; o && o->name; o++, i++) {
        if (set && set[i])
            continue;
        if (o->flags & NS_OPT_REQUIRED)
            return ERR("missing required option '%s' (%s: %s)", o->name, ns_opt_type_name(o->type),
                       o->doc ? o->doc : "");
        if (o->type == NS_OPT_STRING_LIST) {
            struct ns_strlist *l = (struct ns_strlist *)((char *)block + o->offset);
            if (!o->def) {
                free_list(l);
                continue;
            }
        }
        if (!o->def) {
            if (o->type == NS_OPT_STRING || o->type == NS_OPT_PATH) {
                free(*(char **)((char *)block + o->offset));
                *(char **)((char *)block + o->offset) = NULL;
            }
            continue;
        }
        char e2[256];
        int rc = ns_opt_set(o, block, o->def, e2, sizeof(e2));
        if (rc)
            return ERR("built-in default of '%s' is invalid: %s", o->name, e2);
    }
    return 0;
}

void ns_opt_free(const struct ns_option *opts, void *block)
{
    if (!block)
        return;
    for (const struct ns_option *o = opts; o && o->name; o++) {
        char *field = (char *)block + o->offset;
        if (o->type == NS_OPT_STRING || o->type == NS_OPT_PATH) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (o->type == NS_OPT_STRING_LIST) {
            free_list((struct ns_strlist *)field);
        }
    }
}

/* ---- documentation ----------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void range_text(const struct ns_option *o, char *buf, size_t len)
{
    char a[32], b[32];
    buf[0] = '\0';
    if (o->type == NS_OPT_ENUM && o->choices) {
        size_t n = 0;
        for (int i = 0; o->choices[i] && n < len; i++)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "|" : "", o->choices[i]);
        return;
    }
    if (has_min(o))
        fmt_bound(o, o->min, a, sizeof(a));
    if (has_max(o))
        fmt_bound(o, o->max, b, sizeof(b));
    if (has_min(o) && has_max(o))
        snprintf(buf, len, "%s..%s", a, b);
    else if (has_min(o))
        snprintf(buf, len, ">= %s", a);
    else if (has_max(o))
        snprintf(buf, len, "<= %s", b);
}

/* One Markdown table cell's text: a '|' would end the cell (GFM), even inside
 * backticks, so it is written as "\|"; a line break would end the row. */
static void md_cell(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static const char *def_text(const struct ns_option *o)
{
    if (o->flags & NS_OPT_REQUIRED)
        return "(required)";
    if (o->flags & NS_OPT_SECRET)
        return o->def ? "(secret)" : "";
    return o->def ? o->def : "";
}

void ns_opt_describe(FILE *f, const struct ns_plugin_desc *d, enum ns_doc_format fmt)
{
    char range[256];
    const char *kind = ns_kind_name(d->kind);

    if (fmt == NS_DOC_JSON) {
        char id[256];
        snprintf(id, sizeof(id), "%s/%s", kind, d->name ? d->name : "");
        fprintf(f, "{\"plugin\":");
        json_str(f, id); /* the name may hold any byte: escape it */
        fprintf(f, ",\"kind\":\"%s\",\"name\":", kind);
        json_str(f, d->name);
        fprintf(f, ",\"version\":");
        json_str(f, d->version);
        fprintf(f, ",\"summary\":");
        json_str(f, d->summary);
        fprintf(f, ",\"abi\":\"%u.%u\",\"options\":[", d->abi_major, d->abi_minor);
        int first = 1;
        for (const struct ns_option *o = d->options; o && o->name; o++) {
            fprintf(f, "%s{\"name\":", first ? "" : ",");
            first = 0;
            json_str(f, o->name);
            fprintf(f, ",\"type\":\"%s\",\"required\":%s", ns_opt_type_name(o->type),
                    (o->flags & NS_OPT_REQUIRED) ? "true" : "false");
            if (o->def && !(o->flags & NS_OPT_SECRET)) {
                fprintf(f, ",\"default\":");
                json_str(f, o->def);
            }
            if (has_min(o))
                fprintf(f, ",\"min\":%.17g", o->min);
            if (has_max(o))
                fprintf(f, ",\"max\":%.17g", o->max);
            if (o->type == NS_OPT_ENUM && o->choices) {
                fprintf(f, ",\"choices\":[");
                for (int i = 0; o->choices[i]; i++) {
                    if (i)
                        fputc(',', f);
                    json_str(f, o->choices[i]);
                }
                fputc(']', f);
            }
            fprintf(f, ",\"secret\":%s,\"deprecated\":%s,\"reloadable\":%s,\"doc\":",
                    (o->flags & NS_OPT_SECRET) ? "true" : "false",
                    (o->flags & NS_OPT_DEPRECATED) ? "true" : "false",
                    (o->flags & NS_OPT_RELOADABLE) ? "true" : "false");
            json_str(f, o->doc);
            fputc('}', f);
        }
        fprintf(f, "]}\n");
        return;
    }

    if (fmt == NS_DOC_MD) {
        fprintf(f, "### %s/%s %s\n\n%s\n\n", kind, d->name, d->version ? d->version : "",
                d->summary ? d->summary : "");
        if (!d->options || !d->options->name) {
            fprintf(f, "No options.\n");
            return;
        }
        fprintf(f, "| option | type | default | range | description |\n");
        fprintf(f, "| --- | --- | --- | --- | --- |\n");
        for (const struct ns_option *o = d->options; o && o->name; o++) {
            range_text(o, range, sizeof(range));
            bool tick = o->def && !(o->flags & (NS_OPT_REQUIRED | NS_OPT_SECRET));
            fprintf(f, "| `%s` | %s | %s", o->name, ns_opt_type_name(o->type), tick ? "`" : "");
            md_cell(f, def_text(o));
            fprintf(f, "%s | ", tick ? "`" : "");
            md_cell(f, range);
            fputs(" | ", f);
            md_cell(f, o->doc);
            fprintf(f, "%s |\n", (o->flags & NS_OPT_DEPRECATED) ? " (deprecated)" : "");
        }
        return;
    }

    fprintf(f, "%s/%s %s (ABI %u.%u)\n  %s\n", kind, d->name, d->version ? d->version : "",
            d->abi_major, d->abi_minor, d->summary ? d->summary : "");
    if (!d->options || !d->options->name) {
        fprintf(f, "\n  No options.\n");
        return;
    }
    fprintf(f, "\nOptions:\n");
    for (const struct ns_option *o = d->options; o && o->name; o++) {
        range_text(o, range, sizeof(range));
        fprintf(f, "  %-18s %-11s default: %s%s%s\n", o->name, ns_opt_type_name(o->type),
                *def_text(o) ? def_text(o) : "(none)", *range ? "  range: " : "", range);
        if (o->doc)
            fprintf(f, "  %-18s %s\n", "", o->doc);
    }
}
