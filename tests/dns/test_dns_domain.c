/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_dns_domain.c - dns_domain_split (decoder/dns, libpsl's built-in Public
 * Suffix List): the ECS registered_domain / top_level_domain / subdomain of
 * ordinary names, multi-label suffixes, a bare TLD, a name that is itself a
 * public suffix, a trailing dot, upper case, escaped dots and raw (escaped)
 * IDN bytes, and the names that give nothing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "dns_domain.h"

static struct dns_domain_cache CACHE; /* shared by every test: hits and misses */

/* Split name; "" for a field that is absent. Returns dns_domain_split's
 * result, after checking that the memo (cold, then warm) gives the same. */
static bool split(const char *name, char *reg, char *tld, char *sub)
{
    char buf[DNS_DOMAIN_MAX], cbuf[DNS_DOMAIN_MAX];
    struct dns_domain d, cd;
    reg[0] = tld[0] = sub[0] = '\0';
    bool ok = dns_domain_split(psl_builtin(), name, strlen(name), buf, sizeof(buf), &d);
    for (int round = 0; round < 2; round++) {
        bool cok = dns_domain_split_cached(psl_builtin(), &CACHE, name, strlen(name), cbuf,
                                           sizeof(cbuf), &cd);
        cr_assert_eq(cok, ok, "%s: cached result differs", name);
        if (ok) {
            cr_assert_str_eq(cbuf, buf);
            cr_assert(cd.len == d.len && cd.tld == d.tld && cd.has_reg == d.has_reg &&
                          (!d.has_reg || cd.reg == d.reg),
                      "%s: cached split differs", name);
        }
    }
    if (!ok)
        return false;
    cr_assert_leq(d.tld, d.len);
    cr_assert_eq(strlen(buf), d.len);
    memcpy(tld, buf + d.tld, d.len - d.tld + 1);
    if (d.has_reg) {
        cr_assert_leq(d.reg, d.tld);
        memcpy(reg, buf + d.reg, d.len - d.reg + 1);
        if (d.reg > 0) {
            cr_assert_eq(buf[d.reg - 1], '.');
            memcpy(sub, buf, d.reg - 1);
            sub[d.reg - 1] = '\0';
        }
    }
    return true;
}

static void check(const char *name, const char *reg, const char *tld, const char *sub)
{
    char r[DNS_DOMAIN_MAX], t[DNS_DOMAIN_MAX], s[DNS_DOMAIN_MAX];
    cr_assert(split(name, r, t, s), "%s: no split", name);
    cr_expect_str_eq(r, reg, "%s: registered_domain", name);
    cr_expect_str_eq(t, tld, "%s: top_level_domain", name);
    cr_expect_str_eq(s, sub, "%s: subdomain", name);
}

Test(dns_domain, builtin_list_present)
{
    cr_assert_not_null(psl_builtin());
    cr_assert_gt(psl_suffix_count(psl_builtin()), 1000);
}

Test(dns_domain, ordinary_names)
{
    check("www.example.co.uk", "example.co.uk", "co.uk", "www");
    check("example.co.uk", "example.co.uk", "co.uk", "");
    check("www.example.com", "example.com", "com", "www");
    check("a.b.c.example.com", "example.com", "com", "a.b.c");
    check("1.0.0.127.in-addr.arpa", "127.in-addr.arpa", "in-addr.arpa", "1.0.0");
}

Test(dns_domain, bare_tld_and_public_suffix)
{
    check("com", "", "com", "");
    check("co.uk", "", "co.uk", "");
    check("uk", "", "uk", "");
}

Test(dns_domain, unlisted_tld_uses_the_last_label)
{
    check("host.corp.internal-tld", "corp.internal-tld", "internal-tld", "host");
}

Test(dns_domain, trailing_dot_and_case)
{
    check("www.example.co.uk.", "example.co.uk", "co.uk", "www");
    check("WwW.ExAmPlE.CO.UK", "example.co.uk", "co.uk", "www");
    check("com.", "", "com", "");
}

Test(dns_domain, idn)
{
    /* Punycode (the wire form of IDN) and raw UTF-8 bytes as the parser
     * renders them (\DDD): bücher.de, xn--p1ai is .рф */
    check("www.xn--bcher-kva.de", "xn--bcher-kva.de", "de", "www");
    check("shop.example.xn--p1ai", "example.xn--p1ai", "xn--p1ai", "shop");
    check("www.b\\195\\188cher.de", "b\\195\\188cher.de", "de", "www");
    /* A raw-byte TLD is not in the list: the implicit rule takes it whole. */
    check("x.\\209\\128\\209\\132", "x.\\209\\128\\209\\132", "\\209\\128\\209\\132", "");
}

Test(dns_domain, escaped_dot_stays_in_its_label)
{
    check("a\\.b.example.com", "example.com", "com", "a\\.b");
    check("www.ex\\.ample.co.uk", "ex\\.ample.co.uk", "co.uk", "www");
    check("a\\\\.example.com", "example.com", "com", "a\\\\");
}

Test(dns_domain, memo_parents)
{
    /* The parent of a name is remembered: later names under it (and deep
     * private-section rules) split the same as without the memo. */
    check("a.example.co.uk", "example.co.uk", "co.uk", "a");
    check("b.example.co.uk", "example.co.uk", "co.uk", "b");
    check("x.s3.amazonaws.com", "x.s3.amazonaws.com", "s3.amazonaws.com", "");
    check("y.x.s3.amazonaws.com", "x.s3.amazonaws.com", "s3.amazonaws.com", "y");
    check("www.amazonaws.com", "amazonaws.com", "com", "www");
    check("foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp", "bar.kawasaki.jp", "");
    check("www.city.kawasaki.jp", "city.kawasaki.jp", "kawasaki.jp", "www");
}

Test(dns_domain, nothing_to_split)
{
    char r[8], t[8], s[8];
    cr_assert_not(split(".", r, t, s));
    cr_assert_not(split("", r, t, s));
    cr_assert_not(split("a..com", r, t, s));
    cr_assert_not(split(".com", r, t, s));
    cr_assert_not(split("com..", r, t, s));
    char buf[DNS_DOMAIN_MAX];
    struct dns_domain d;
    cr_assert_not(dns_domain_split(NULL, "example.com", 11, buf, sizeof(buf), &d));
    /* The buffer must hold the name and its NUL. */
    cr_assert_not(dns_domain_split(psl_builtin(), "example.com", 11, buf, 11, &d));
    cr_assert(dns_domain_split(psl_builtin(), "example.com", 11, buf, 12, &d));
    /* An embedded NUL is not a name. */
    cr_assert_not(dns_domain_split(psl_builtin(), "a\0b.com", 7, buf, sizeof(buf), &d));
}
