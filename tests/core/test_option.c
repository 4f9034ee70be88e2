/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_option.c - core/ns_opt.c: size/duration/bool parsing, every option type
 * through ns_opt_set, bounds and enum messages, lists, defaults, required
 * options, suggestions and ns_opt_describe in text, Markdown and JSON.
 * Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "ns_opt.h"

/* ---- sizes ------------------------------------------------------------- */

struct unit_case {
    const char *in;
    uint64_t want;
};

Test(opt_size, every_unit)
{
    static const struct unit_case cases[] = {
        {"0", 0},
        {"512", 512},
        {"512B", 512},
        {"512b", 512},
        {"1K", 1024},
        {"1k", 1024},
        {"1KiB", 1024},
        {"1KB", 1000},
        {"1kB", 1000},
        {"1M", 1048576},
        {"1MiB", 1048576},
        {"1MB", 1000000},
        {"1G", 1073741824ULL},
        {"1GiB", 1073741824ULL},
        {"1GB", 1000000000ULL},
        {"1T", 1099511627776ULL},
        {"1TiB", 1099511627776ULL},
        {"1TB", 1000000000000ULL},
        {"64KiB", 65536},
        {"32MiB", 33554432},
        {"1.5MB", 1500000},
        {"1.5KiB", 1536},
        {"0.5K", 512},
        {".5K", 512},
        {"  64 KiB  ", 65536},
        {"4TiB", 4398046511104ULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = ns_parse_size(cases[i].in, &v);
        cr_expect_eq(rc, 0, "'%s': rc %d", cases[i].in, rc);
        cr_expect_eq(v, cases[i].want, "'%s': got %llu, want %llu", cases[i].in,
                     (unsigned long long)v, (unsigned long long)cases[i].want);
    }
}

Test(opt_size, garbage_and_negative)
{
    static const char *const bad[] = {"",     "   ", "KiB", "abc", "12XB",  "1 2K", "1KiBB",
                                      "1kib", "-1",  "-1K", "+1K", "1..5K", "K1",   "1 K i B",
                                      "inf",  "nan", ".",   "1P",  "1PiB"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 777;
        int rc = ns_parse_size(bad[i], &v);
        cr_expect_eq(rc, -EINVAL, "'%s': rc %d, want -EINVAL", bad[i], rc);
        cr_expect_eq(v, 777, "'%s': output written on error", bad[i]);
    }
}

Test(opt_size, overflow)
{
    uint64_t v = 0;
    /* 2^64 bytes and beyond do not fit. */
    cr_expect_eq(ns_parse_size("16777216TiB", &v), -ERANGE);
    cr_expect_eq(ns_parse_size("18446744073709551616", &v), -ERANGE);
    cr_expect_eq(ns_parse_size("99999999999999999999999T", &v), -ERANGE);
    cr_expect_eq(ns_parse_size("1e400", &v), -ERANGE);
    /* Just below 2^64 (and above 2^63) is exact. */
    cr_expect_eq(ns_parse_size("16777215TiB", &v), 0);
    cr_expect_eq(v, 18446742974197923840ULL, "got %llu", (unsigned long long)v);
    cr_expect_eq(ns_parse_size("8388608TiB", &v), 0); /* 2^63 */
    cr_expect_eq(v, 9223372036854775808ULL, "got %llu", (unsigned long long)v);
    cr_expect_eq(ns_parse_size("9223372036854775807", &v), 0);
    cr_expect_geq(v, 9223372036854774784ULL); /* rounded to a double */
}

/* ---- durations --------------------------------------------------------- */

Test(opt_duration, every_unit)
{
    static const struct unit_case cases[] = {
        {"0", 0},
        {"1", 1000000000ULL}, /* bare number = seconds */
        {"2.5", 2500000000ULL},
        {"10ns", 10},
        {"250us", 250000},
        {"3\xc2\xb5s", 3000}, /* µs */
        {"500ms", 500000000ULL},
        {"0.5ms", 500000},
        {"30s", 30000000000ULL},
        {"1sec", 1000000000ULL},
        {"1.5s", 1500000000ULL},
        {"5m", 300000000000ULL},
        {"2min", 120000000000ULL},
        {"1h", 3600000000000ULL},
        {"1d", 86400000000000ULL},
        {".25s", 250000000ULL},
        {" 1 h ", 3600000000000ULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = ns_parse_duration(cases[i].in, &v);
        cr_expect_eq(rc, 0, "'%s': rc %d", cases[i].in, rc);
        cr_expect_eq(v, cases[i].want, "'%s': got %llu, want %llu", cases[i].in,
                     (unsigned long long)v, (unsigned long long)cases[i].want);
    }
}

Test(opt_duration, garbage_and_negative)
{
    static const char *const bad[] = {"",    "ms",    "5x",    "-1s",   "-0",    "1S",
                                      "1H",  "1 s s", "1w",    "1y",    "s5",    "nan",
                                      "inf", ".",     "5 m 3", "1hour", "1.2.3s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 777;
        int rc = ns_parse_duration(bad[i], &v);
        cr_expect_eq(rc, -EINVAL, "'%s': rc %d, want -EINVAL", bad[i], rc);
        cr_expect_eq(v, 777, "'%s': output written on error", bad[i]);
    }
}

Test(opt_duration, overflow)
{
    uint64_t v = 0;
    /* 2^64 ns is about 213503.98 days. */
    cr_expect_eq(ns_parse_duration("213504d", &v), -ERANGE);
    cr_expect_eq(ns_parse_duration("1e300s", &v), -ERANGE);
    cr_expect_eq(ns_parse_duration("99999999999999999999h", &v), -ERANGE);
    cr_expect_eq(ns_parse_duration("213503d", &v), 0);
    cr_expect_eq(v, 213503ULL * 86400000000000ULL, "got %llu", (unsigned long long)v);
    cr_expect_eq(ns_parse_duration("106752d", &v), 0); /* just above 2^63 ns */
    cr_expect_eq(v, 106752ULL * 86400000000000ULL, "got %llu", (unsigned long long)v);
}

/* ---- booleans ---------------------------------------------------------- */

Test(opt_bool, yaml_words)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "ON", "1"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "OFF", "0"};
    static const char *const bad[] = {"", "y", "n", "2", "truthy", "enable", " true", "-1"};
    bool b;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = false;
        cr_expect_eq(ns_parse_bool(yes[i], &b), 0, "'%s'", yes[i]);
        cr_expect(b, "'%s' should be true", yes[i]);
        b = true;
        cr_expect_eq(ns_parse_bool(no[i], &b), 0, "'%s'", no[i]);
        cr_expect_not(b, "'%s' should be false", no[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(ns_parse_bool(bad[i], &b), -EINVAL, "'%s' accepted", bad[i]);
}

/* ---- one option of every type ------------------------------------------ */

struct cfg {
    bool flag;
    int64_t delta;
    uint64_t count;
    double ratio;
    uint64_t buffer;
    uint64_t timeout;
    char *label;
    int mode;
    struct ns_strlist tags;
    char *path;
    char *token;
    uint64_t lo;
    uint64_t hi;
    struct ns_strlist hosts;
};

static const char *const modes[] = {"fast", "safe", "paranoid", NULL};

static const struct ns_option opts[] = {
    {.name = "flag",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = offsetof(struct cfg, flag),
     .doc = "A boolean."},
    {.name = "delta",
     .type = NS_OPT_INT,
     .def = "-5",
     .min = -100,
     .max = 100,
     .offset = offsetof(struct cfg, delta),
     .doc = "A signed integer."},
    {.name = "count",
     .type = NS_OPT_UINT,
     .def = "16",
     .min = 1,
     .max = 256,
     .offset = offsetof(struct cfg, count),
     .doc = "An unsigned integer."},
    {.name = "ratio",
     .type = NS_OPT_DOUBLE,
     .def = "0.5",
     .flags = NS_OPT_HAS_MIN,
     .min = 0,
     .max = 1,
     .offset = offsetof(struct cfg, ratio),
     .doc = "A fraction."},
    {.name = "buffer",
     .type = NS_OPT_SIZE,
     .def = "64KiB",
     .min = 4096,
     .max = 1073741824.0,
     .offset = offsetof(struct cfg, buffer),
     .doc = "A size."},
    {.name = "timeout",
     .type = NS_OPT_DURATION,
     .def = "30s",
     .min = 1e6,
     .max = 3600e9,
     .offset = offsetof(struct cfg, timeout),
     .doc = "A duration."},
    {.name = "label",
     .type = NS_OPT_STRING,
     .def = "fx",
     .offset = offsetof(struct cfg, label),
     .doc = "A \"quoted\"\tstring\\with\nescapes."},
    {.name = "mode",
     .type = NS_OPT_ENUM,
     .def = "safe",
     .choices = modes,
     .offset = offsetof(struct cfg, mode),
     .doc = "An enum."},
    {.name = "tags",
     .type = NS_OPT_STRING_LIST,
     .max = 4,
     .offset = offsetof(struct cfg, tags),
     .doc = "A list."},
    {.name = "path", .type = NS_OPT_PATH, .offset = offsetof(struct cfg, path), .doc = "A path."},
    {.name = "token",
     .type = NS_OPT_STRING,
     .flags = NS_OPT_SECRET,
     .def = "hunter2",
     .offset = offsetof(struct cfg, token),
     .doc = "A secret."},
    {.name = "lo",
     .type = NS_OPT_UINT,
     .min = 10,
     .offset = offsetof(struct cfg, lo),
     .flags = NS_OPT_DEPRECATED,
     .alias = "count",
     .doc = "Only a minimum."},
    {.name = "hi",
     .type = NS_OPT_UINT,
     .max = 10,
     .offset = offsetof(struct cfg, hi),
     .flags = NS_OPT_RELOADABLE,
     .doc = "Only a maximum."},
    {.name = "hosts",
     .type = NS_OPT_STRING_LIST,
     .def = "localhost",
     .offset = offsetof(struct cfg, hosts),
     .doc = "A list with a default."},
    NS_OPT_END};

#define NOPTS (sizeof(opts) / sizeof(opts[0]) - 1)

static const struct ns_option *opt(const char *name)
{
    const struct ns_option *o = ns_opt_find(opts, name);
    cr_assert_not_null(o, "no option %s", name);
    return o;
}

/* Sets `name` to `text`; returns rc and leaves the message in err. */
static char err[512];
static int set(struct cfg *c, const char *name, const char *text)
{
    err[0] = '\0';
    return ns_opt_set(opt(name), c, text, err, sizeof(err));
}

#define EXPECT_ERR(c, name, text, want_rc, want_msg)                                               \
    do {                                                                                           \
        int rc_ = set((c), (name), (text));                                                        \
        cr_expect_eq(rc_, (want_rc), "%s='%s': rc %d (%s)", (name), (text), rc_, err);             \
        cr_expect_str_eq(err, (want_msg), "%s='%s'", (name), (text));                              \
    } while (0)

Test(opt_set, every_type_ok)
{
    struct cfg c = {0};
    cr_assert_eq(set(&c, "flag", "yes"), 0);
    cr_expect(c.flag);
    cr_assert_eq(set(&c, "delta", "-42"), 0);
    cr_expect_eq(c.delta, -42);
    cr_assert_eq(set(&c, "delta", "0x10"), 0);
    cr_expect_eq(c.delta, 16);
    cr_assert_eq(set(&c, "count", "200"), 0);
    cr_expect_eq(c.count, 200);
    cr_assert_eq(set(&c, "ratio", "0.25"), 0);
    cr_expect_eq(c.ratio, 0.25);
    cr_assert_eq(set(&c, "buffer", "1MiB"), 0);
    cr_expect_eq(c.buffer, 1048576);
    cr_assert_eq(set(&c, "timeout", "250ms"), 0);
    cr_expect_eq(c.timeout, 250000000ULL);
    cr_assert_eq(set(&c, "label", "hello world"), 0);
    cr_expect_str_eq(c.label, "hello world");
    cr_assert_eq(set(&c, "label", "again"), 0); /* the old string is freed (ASan) */
    cr_expect_str_eq(c.label, "again");
    cr_assert_eq(set(&c, "mode", "paranoid"), 0);
    cr_expect_eq(c.mode, 2);
    cr_assert_eq(set(&c, "tags", "one"), 0); /* a scalar is a one-item list */
    cr_assert_eq(c.tags.count, 1);
    cr_expect_str_eq(c.tags.items[0], "one");
    cr_assert_eq(set(&c, "path", "/var/log/x.json"), 0);
    cr_expect_str_eq(c.path, "/var/log/x.json");
    cr_assert_eq(set(&c, "token", "s3cret"), 0);
    cr_expect_str_eq(c.token, "s3cret");
    ns_opt_free(opts, &c);
    cr_expect_null(c.label);
    cr_expect_null(c.tags.items);
    cr_expect_eq(c.tags.count, 0);
}

Test(opt_set, integers_are_decimal_or_hex)
{
    struct cfg c = {0};
    /* YAML 1.2 reads 010 as ten; a leading zero must not switch to octal. */
    cr_assert_eq(set(&c, "count", "010"), 0, "%s", err);
    cr_expect_eq(c.count, 10);
    cr_assert_eq(set(&c, "count", "08"), 0, "%s", err);
    cr_expect_eq(c.count, 8);
    cr_assert_eq(set(&c, "delta", "-010"), 0, "%s", err);
    cr_expect_eq(c.delta, -10);
    cr_assert_eq(set(&c, "count", "0x20"), 0, "%s", err);
    cr_expect_eq(c.count, 32);
    cr_assert_eq(set(&c, "count", " 7 "), 0, "%s", err);
    cr_expect_eq(c.count, 7);
}

Test(opt_set, type_errors)
{
    struct cfg c = {0};
    EXPECT_ERR(&c, "flag", "maybe", -EINVAL, "'flag' expects a boolean (true/false), got 'maybe'");
    EXPECT_ERR(&c, "flag", "", -EINVAL, "'flag' expects a boolean (true/false), got ''");
    EXPECT_ERR(&c, "delta", "1.5", -EINVAL, "'delta' expects an integer, got '1.5'");
    EXPECT_ERR(&c, "delta", "ten", -EINVAL, "'delta' expects an integer, got 'ten'");
    EXPECT_ERR(&c, "delta", "99999999999999999999", -EINVAL,
               "'delta' expects an integer, got '99999999999999999999'");
    EXPECT_ERR(&c, "count", "-1", -EINVAL, "'count' expects a non-negative integer, got '-1'");
    EXPECT_ERR(&c, "count", " -1", -EINVAL, "'count' expects a non-negative integer, got ' -1'");
    EXPECT_ERR(&c, "count", "12abc", -EINVAL,
               "'count' expects a non-negative integer, got '12abc'");
    EXPECT_ERR(&c, "count", "18446744073709551616", -EINVAL,
               "'count' expects a non-negative integer, got '18446744073709551616'");
    EXPECT_ERR(&c, "count", "", -EINVAL, "'count' expects a non-negative integer, got ''");
    EXPECT_ERR(&c, "ratio", "half", -EINVAL, "'ratio' expects a number, got 'half'");
    EXPECT_ERR(&c, "ratio", "nan", -EINVAL, "'ratio' expects a number, got 'nan'");
    EXPECT_ERR(&c, "ratio", "inf", -EINVAL, "'ratio' expects a number, got 'inf'");
    EXPECT_ERR(&c, "ratio", "1e999", -EINVAL, "'ratio' expects a number, got '1e999'");
    EXPECT_ERR(&c, "buffer", "64KB/s", -EINVAL,
               "'buffer' expects a size such as 512, 64KiB, 32MiB or 1GiB, got '64KB/s'");
    EXPECT_ERR(&c, "buffer", "-4KiB", -EINVAL,
               "'buffer' expects a size such as 512, 64KiB, 32MiB or 1GiB, got '-4KiB'");
    EXPECT_ERR(&c, "buffer", ".", -EINVAL,
               "'buffer' expects a size such as 512, 64KiB, 32MiB or 1GiB, got '.'");
    EXPECT_ERR(&c, "buffer", "99999999999TiB", -ERANGE,
               "'buffer': size '99999999999TiB' is too large");
    EXPECT_ERR(&c, "timeout", "5 parsecs", -EINVAL,
               "'timeout' expects a duration such as 500ms, 30s, 5m or 1h, got '5 parsecs'");
    EXPECT_ERR(&c, "timeout", "-1s", -EINVAL,
               "'timeout' expects a duration such as 500ms, 30s, 5m or 1h, got '-1s'");
    EXPECT_ERR(&c, "timeout", "300000d", -ERANGE, "'timeout': duration '300000d' is too large");
    /* nothing was written */
    cr_expect_eq(c.count, 0);
    cr_expect_eq(c.buffer, 0);
    cr_expect_eq(c.timeout, 0);
}

Test(opt_set, bounds_messages)
{
    struct cfg c = {0};
    EXPECT_ERR(&c, "count", "0", -ERANGE, "'count' is out of range: must be between 1 and 256");
    EXPECT_ERR(&c, "count", "257", -ERANGE, "'count' is out of range: must be between 1 and 256");
    EXPECT_ERR(&c, "delta", "-101", -ERANGE,
               "'delta' is out of range: must be between -100 and 100");
    EXPECT_ERR(&c, "ratio", "1.5", -ERANGE, "'ratio' is out of range: must be between 0 and 1");
    EXPECT_ERR(&c, "ratio", "-0.1", -ERANGE, "'ratio' is out of range: must be between 0 and 1");
    EXPECT_ERR(&c, "buffer", "1KiB", -ERANGE,
               "'buffer' is out of range: must be between 4KiB and 1024MiB");
    EXPECT_ERR(&c, "buffer", "2GiB", -ERANGE,
               "'buffer' is out of range: must be between 4KiB and 1024MiB");
    EXPECT_ERR(&c, "timeout", "500us", -ERANGE,
               "'timeout' is out of range: must be between 1ms and 3600s");
    EXPECT_ERR(&c, "timeout", "2h", -ERANGE,
               "'timeout' is out of range: must be between 1ms and 3600s");
    EXPECT_ERR(&c, "lo", "9", -ERANGE, "'lo' is out of range: must be at least 10");
    EXPECT_ERR(&c, "hi", "11", -ERANGE, "'hi' is out of range: must be at most 10");
    /* The edges themselves are inside. */
    cr_expect_eq(set(&c, "count", "1"), 0);
    cr_expect_eq(set(&c, "count", "256"), 0);
    cr_expect_eq(set(&c, "timeout", "1ms"), 0);
    cr_expect_eq(set(&c, "timeout", "1h"), 0);
    cr_expect_eq(set(&c, "buffer", "4096"), 0);
    cr_expect_eq(set(&c, "buffer", "1GiB"), 0);
    cr_expect_eq(set(&c, "lo", "10"), 0);
    cr_expect_eq(set(&c, "hi", "0"), 0);
    cr_expect_eq(c.count, 256);
    cr_expect_eq(c.hi, 0);
}

Test(opt_set, enum_did_you_mean)
{
    struct cfg c = {.mode = 1};
    EXPECT_ERR(&c, "mode", "sfe", -EINVAL,
               "'mode' must be one of: fast, safe, paranoid; got 'sfe' (did you mean 'safe'?)");
    EXPECT_ERR(&c, "mode", "Fast", -EINVAL,
               "'mode' must be one of: fast, safe, paranoid; got 'Fast' (did you mean 'fast'?)");
    EXPECT_ERR(&c, "mode", "paranoia", -EINVAL,
               "'mode' must be one of: fast, safe, paranoid; got 'paranoia' (did you mean "
               "'paranoid'?)");
    EXPECT_ERR(&c, "mode", "xyzzyq", -EINVAL,
               "'mode' must be one of: fast, safe, paranoid; got 'xyzzyq'");
    EXPECT_ERR(&c, "mode", "", -EINVAL, "'mode' must be one of: fast, safe, paranoid; got ''");
    cr_expect_eq(c.mode, 1);
}

Test(opt_set, string_lists)
{
    struct cfg c = {0};
    const char *three[] = {"a", "b c", ""};
    cr_assert_eq(ns_opt_set_list(opt("tags"), &c, three, 3, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(c.tags.count, 3);
    cr_expect_str_eq(c.tags.items[0], "a");
    cr_expect_str_eq(c.tags.items[1], "b c");
    cr_expect_str_eq(c.tags.items[2], "");
    /* Replacing frees the old list (ASan would report a leak). */
    const char *one[] = {"z"};
    cr_assert_eq(ns_opt_set_list(opt("tags"), &c, one, 1, err, sizeof(err)), 0);
    cr_assert_eq(c.tags.count, 1);
    cr_expect_str_eq(c.tags.items[0], "z");
    /* An empty list is a list. */
    cr_assert_eq(ns_opt_set_list(opt("tags"), &c, NULL, 0, err, sizeof(err)), 0);
    cr_expect_eq(c.tags.count, 0);
    /* Too many items: the bound applies to the count and the old value stays. */
    cr_assert_eq(ns_opt_set_list(opt("tags"), &c, one, 1, err, sizeof(err)), 0);
    const char *five[] = {"1", "2", "3", "4", "5"};
    cr_expect_eq(ns_opt_set_list(opt("tags"), &c, five, 5, err, sizeof(err)), -ERANGE);
    cr_expect_str_eq(err, "'tags' is out of range: must be at most 4");
    cr_expect_eq(c.tags.count, 1);
    /* A list for a scalar option. */
    cr_expect_eq(ns_opt_set_list(opt("count"), &c, one, 1, err, sizeof(err)), -EINVAL);
    cr_expect_str_eq(err, "'count' expects a single uint, not a list");
    cr_expect_eq(ns_opt_set_list(opt("label"), &c, one, 1, err, sizeof(err)), -EINVAL);
    cr_expect_str_eq(err, "'label' expects a single string, not a list");
    ns_opt_free(opts, &c);
}

Test(opt_defaults, all_defaults)
{
    struct cfg c = {0};
    cr_assert_eq(ns_opt_defaults(opts, &c, NULL, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(c.flag, false);
    cr_expect_eq(c.delta, -5);
    cr_expect_eq(c.count, 16);
    cr_expect_eq(c.ratio, 0.5);
    cr_expect_eq(c.buffer, 65536);
    cr_expect_eq(c.timeout, 30000000000ULL);
    cr_expect_str_eq(c.label, "fx");
    cr_expect_eq(c.mode, 1);
    cr_expect_eq(c.tags.count, 0);
    cr_expect_null(c.path);
    cr_expect_str_eq(c.token, "hunter2");
    cr_expect_eq(c.lo, 0);
    cr_assert_eq(c.hosts.count, 1);
    cr_expect_str_eq(c.hosts.items[0], "localhost");
    ns_opt_free(opts, &c);
}

Test(opt_defaults, set_options_keep_their_value)
{
    struct cfg c = {0};
    bool isset[NOPTS] = {0};
    cr_assert_eq(set(&c, "count", "3"), 0);
    isset[opt("count") - opts] = true;
    cr_assert_eq(set(&c, "label", "mine"), 0);
    isset[opt("label") - opts] = true;
    cr_assert_eq(ns_opt_defaults(opts, &c, isset, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(c.count, 3);
    cr_expect_str_eq(c.label, "mine");
    cr_expect_eq(c.delta, -5);
    ns_opt_free(opts, &c);
}

Test(opt_defaults, required_and_bad_default)
{
    struct req {
        uint64_t n;
        char *s;
    } r = {0};
    static const struct ns_option ropts[] = {
        {.name = "n", .type = NS_OPT_UINT, .def = "1", .offset = offsetof(struct req, n)},
        {.name = "server",
         .type = NS_OPT_STRING,
         .flags = NS_OPT_REQUIRED,
         .offset = offsetof(struct req, s),
         .doc = "host:port to connect to"},
        NS_OPT_END};
    cr_expect_eq(ns_opt_defaults(ropts, &r, NULL, err, sizeof(err)), -EINVAL);
    cr_expect_str_eq(err, "missing required option 'server' (string: host:port to connect to)");
    bool isset[2] = {false, true};
    cr_expect_eq(ns_opt_defaults(ropts, &r, isset, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(r.n, 1);

    static const struct ns_option bad[] = {
        {.name = "n", .type = NS_OPT_UINT, .def = "lots", .offset = offsetof(struct req, n)},
        NS_OPT_END};
    cr_expect_eq(ns_opt_defaults(bad, &r, NULL, err, sizeof(err)), -EINVAL);
    cr_expect_str_eq(err, "built-in default of 'n' is invalid: 'n' expects a non-negative "
                          "integer, got 'lots'");
    ns_opt_free(ropts, &r);
}

Test(opt_misc, find_suggest_count_names)
{
    cr_expect_eq(ns_opt_count(opts), NOPTS);
    cr_expect_eq(ns_opt_count(NULL), 0);
    cr_expect_null(ns_opt_find(opts, "nope"));
    cr_expect_null(ns_opt_find(NULL, "count"));
    cr_expect_str_eq(ns_opt_suggest(opts, "cuont"), "count");
    cr_expect_str_eq(ns_opt_suggest(opts, "time_out"), "timeout");
    cr_expect_str_eq(ns_opt_suggest(opts, "buf"), "buffer"); /* a prefix */
    cr_expect_null(ns_opt_suggest(opts, "completely_different"));
    static const char *const c[] = {"rotate_size", "rotate_count"};
    cr_expect_str_eq(ns_suggest("rotate_sise", c, 2), "rotate_size");
    cr_expect_null(ns_suggest("x", (const char *const[]){"y"}, 1));
    cr_expect_str_eq(ns_kind_name(NS_KIND_ENRICHER), "enricher");
    cr_expect_str_eq(ns_kind_name((enum ns_kind)9), "?");
    cr_expect_eq(ns_kind_parse("detector"), NS_KIND_DETECTOR);
    cr_expect_eq(ns_kind_parse("Detector"), 0);
    cr_expect_eq(ns_kind_parse(""), 0);
    cr_expect_str_eq(ns_opt_type_name(NS_OPT_STRING_LIST), "string list");
    cr_expect_str_eq(ns_opt_type_name(NS_OPT_DURATION), "duration");
}

/* ---- describe ---------------------------------------------------------- */

static const struct ns_plugin_desc desc = {.abi_major = NS_ABI_MAJOR,
                                           .abi_minor = NS_ABI_MINOR,
                                           .desc_size = sizeof(struct ns_plugin_desc),
                                           .kind = NS_KIND_DECODER,
                                           .name = "fx",
                                           .version = "1.2.3",
                                           .summary = "fixture \"decoder\"",
                                           .options = opts,
                                           .config_size = sizeof(struct cfg)};

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *describe(const struct ns_plugin_desc *d, enum ns_doc_format fmt, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    cr_assert_not_null(f);
    ns_opt_describe(f, d, fmt);
    fclose(f);
    if (len)
        *len = n;
    return buf;
}

Test(opt_describe, text)
{
    char *s = describe(&desc, NS_DOC_TEXT, NULL);
    cr_expect(starts_with(s, "decoder/fx 1.2.3 (ABI 1.1)\n  fixture \"decoder\"\n\nOptions:\n"),
              "%s", s);
    cr_expect_not_null(strstr(s, "  count              uint        default: 16  range: 1..256\n"),
                       "%s", s);
    cr_expect_not_null(
        strstr(s, "  buffer             size        default: 64KiB  range: 4KiB..1024MiB\n"), "%s",
        s);
    cr_expect_not_null(
        strstr(s, "  timeout            duration    default: 30s  range: 1ms..3600s\n"), "%s", s);
    cr_expect_not_null(
        strstr(s, "  mode               enum        default: safe  range: fast|safe|paranoid\n"),
        "%s", s);
    cr_expect_not_null(
        strstr(s, "  lo                 uint        default: (none)  range: >= 10\n"), "%s", s);
    cr_expect_not_null(
        strstr(s, "  hi                 uint        default: (none)  range: <= 10\n"), "%s", s);
    cr_expect_not_null(strstr(s, "  token              string      default: (secret)\n"), "%s", s);
    cr_expect_null(strstr(s, "hunter2"), "a secret default leaked: %s", s);
    free(s);

    struct ns_plugin_desc none = desc;
    none.options = NULL;
    s = describe(&none, NS_DOC_TEXT, NULL);
    cr_expect_str_eq(s, "decoder/fx 1.2.3 (ABI 1.1)\n  fixture \"decoder\"\n\n  No options.\n");
    free(s);
}

Test(opt_describe, markdown)
{
    char *s = describe(&desc, NS_DOC_MD, NULL);
    cr_expect(starts_with(s, "### decoder/fx 1.2.3\n\nfixture \"decoder\"\n\n| option | type | "
                             "default | range | description |\n| --- | --- | --- | --- | --- |\n"),
              "%s", s);
    cr_expect_not_null(strstr(s, "| `count` | uint | `16` | 1..256 | An unsigned integer. |\n"),
                       "%s", s);
    cr_expect_not_null(strstr(s, "| `token` | string | (secret) |  | A secret. |\n"), "%s", s);
    cr_expect_not_null(strstr(s, "| `lo` | uint |  | >= 10 | Only a minimum. (deprecated) |\n"),
                       "%s", s);
    cr_expect_null(strstr(s, "hunter2"), "a secret default leaked: %s", s);
    /* One table row per option. */
    size_t rows = 0;
    for (const char *p = s; (p = strstr(p, "\n| `")); p++)
        rows++;
    cr_expect_eq(rows, NOPTS);
    free(s);

    struct ns_plugin_desc none = desc;
    none.options = NULL;
    s = describe(&none, NS_DOC_MD, NULL);
    cr_expect_str_eq(s, "### decoder/fx 1.2.3\n\nfixture \"decoder\"\n\nNo options.\n");
    free(s);
}

Test(opt_describe, json_parses)
{
    size_t len;
    char *s = describe(&desc, NS_DOC_JSON, &len);
    cr_expect(json_valid(s, len), "invalid JSON: %s", s);
    cr_expect_not_null(strstr(s, "\"plugin\":\"decoder/fx\""), "%s", s);
    cr_expect_not_null(strstr(s, "\"summary\":\"fixture \\\"decoder\\\"\""), "%s", s);
    cr_expect_not_null(strstr(s, "\"abi\":\"1.1\""), "%s", s);
    cr_expect_not_null(strstr(s, "{\"name\":\"count\",\"type\":\"uint\",\"required\":false,"
                                 "\"default\":\"16\",\"min\":1,\"max\":256,"),
                       "%s", s);
    cr_expect_not_null(strstr(s, "\"choices\":[\"fast\",\"safe\",\"paranoid\"]"), "%s", s);
    cr_expect_not_null(
        strstr(s, "\"doc\":\"A \\\"quoted\\\"\\u0009string\\\\with\\u000aescapes.\""), "%s", s);
    cr_expect_null(strstr(s, "hunter2"), "a secret default leaked: %s", s);
    cr_expect_eq(s[len - 1], '\n');
    free(s);

    /* Odd text in every string field still gives valid JSON. */
    static const char *const ch[] = {"a\"b", "c\\d", NULL};
    static const struct ns_option odd_opts[] = {
        {.name = "we\"ird",
         .type = NS_OPT_ENUM,
         .choices = ch,
         .def = "a\"b",
         .doc = "tab\there, bell\a, del\x7f"},
        {.name = "frac", .type = NS_OPT_DOUBLE, .min = 0.1, .max = 1e300},
        NS_OPT_END};
    struct ns_plugin_desc odd = desc;
    odd.name = "we\"ird\\name";
    odd.version = NULL;
    odd.summary = "line\nbreak";
    odd.options = odd_opts;
    s = describe(&odd, NS_DOC_JSON, &len);
    cr_expect(json_valid(s, len), "invalid JSON: %s", s);
    free(s);

    struct ns_plugin_desc none = desc;
    none.options = NULL;
    s = describe(&none, NS_DOC_JSON, &len);
    cr_expect(json_valid(s, len), "invalid JSON: %s", s);
    cr_expect_not_null(strstr(s, "\"options\":[]"), "%s", s);
    free(s);
}

Test(opt_describe, required_option)
{
    struct r {
        char *server;
    };
    static const struct ns_option ropts[] = {{.name = "server",
                                              .type = NS_OPT_STRING,
                                              .flags = NS_OPT_REQUIRED,
                                              .def = "ignored",
                                              .offset = offsetof(struct r, server),
                                              .doc = "Where to connect."},
                                             NS_OPT_END};
    struct ns_plugin_desc d = desc;
    d.options = ropts;
    char *s = describe(&d, NS_DOC_TEXT, NULL);
    cr_expect_not_null(strstr(s, "  server             string      default: (required)\n"), "%s",
                       s);
    free(s);
    s = describe(&d, NS_DOC_MD, NULL);
    cr_expect_not_null(strstr(s, "| `server` | string | (required) |  | Where to connect. |\n"),
                       "%s", s);
    free(s);
    size_t len;
    s = describe(&d, NS_DOC_JSON, &len);
    cr_expect(json_valid(s, len), "%s", s);
    cr_expect_not_null(strstr(s, "{\"name\":\"server\",\"type\":\"string\",\"required\":true,"),
                       "%s", s);
    free(s);
}

Test(opt_describe, json_checker_rejects_bad_json)
{
    /* The checker itself must not accept everything. */
    static const char *const bad[] = {"",   "{",  "{\"a\":}", "[1,]",  "{\"a\" 1}", "\"\x01\"",
                                      "01", "1.", "tru",      "{} {}", "[\"\\x\"]", "nan"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not(json_valid(bad[i], strlen(bad[i])), "accepted '%s'", bad[i]);
    static const char *const good[] = {
        "{}", "[]", "0", "-1.5e+3", "\"\\u00e9\"", " {\"a\":[1,{}]} ", "null"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_expect(json_valid(good[i], strlen(good[i])), "rejected '%s'", good[i]);
}
