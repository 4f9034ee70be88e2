/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_dns_parse.c - decoder/dns's pure parser (dns_parse.c): header, question,
 * every rendered answer type, compression (and its loop/length protection),
 * truncation, the content probe.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "dns_parse.h"

/* A tiny message builder. */
struct mb {
    uint8_t b[2048];
    size_t n;
};

static void put(struct mb *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
static void u8(struct mb *m, uint8_t v)
{
    m->b[m->n++] = v;
}
static void u16(struct mb *m, uint16_t v)
{
    u8(m, (uint8_t)(v >> 8));
    u8(m, (uint8_t)v);
}
static void u32(struct mb *m, uint32_t v)
{
    u16(m, (uint16_t)(v >> 16));
    u16(m, (uint16_t)v);
}
/* "www.example.com" as labels. */
static void name(struct mb *m, const char *s)
{
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        u8(m, (uint8_t)l);
        put(m, s, l);
        s += l + (dot ? 1 : 0);
    }
    u8(m, 0);
}
static void hdr(struct mb *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                uint16_t ar)
{
    m->n = 0;
    u16(m, id);
    u16(m, flags);
    u16(m, qd);
    u16(m, an);
    u16(m, ns);
    u16(m, ar);
}
/* An RR with a compressed owner (pointer to the question at 12). */
static size_t rr(struct mb *m, uint16_t type, uint32_t ttl)
{
    u16(m, 0xc00c);
    u16(m, type);
    u16(m, 1);
    u32(m, ttl);
    size_t at = m->n;
    u16(m, 0); /* rdlength, patched by rr_end */
    return at;
}
static void rr_end(struct mb *m, size_t at)
{
    size_t l = m->n - at - 2;
    m->b[at] = (uint8_t)(l >> 8);
    m->b[at + 1] = (uint8_t)l;
}

static struct dns_msg M;

Test(dns_parse, query)
{
    struct mb m;
    hdr(&m, 0x1234, 0x0100, 1, 0, 0, 0);
    name(&m, "www.Example.com");
    u16(&m, 28);
    u16(&m, 1);
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK);
    cr_assert_eq(M.id, 0x1234);
    cr_assert(!M.qr);
    cr_assert_str_eq(M.qname, "www.Example.com");
    cr_assert_eq(M.qtype, 28);
    cr_assert(dns_probe(m.b, m.n, false, false));
}

Test(dns_parse, every_answer_type)
{
    struct mb m;
    hdr(&m, 7, 0x8180, 1, 11, 0, 1);
    name(&m, "example.com");
    u16(&m, 255);
    u16(&m, 1);
    size_t a = rr(&m, 1, 60);
    put(&m, "\x0a\x00\x00\x01", 4);
    rr_end(&m, a);
    a = rr(&m, 28, 61);
    put(&m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    rr_end(&m, a);
    a = rr(&m, 5, 62);
    u8(&m, 3);
    put(&m, "www", 3);
    u16(&m, 0xc00c); /* www.example.com via compression */
    rr_end(&m, a);
    a = rr(&m, 15, 63);
    u16(&m, 10);
    name(&m, "mx.example.com");
    rr_end(&m, a);
    a = rr(&m, 2, 64);
    name(&m, "ns1.example.com");
    rr_end(&m, a);
    a = rr(&m, 12, 65);
    name(&m, "host.example.com");
    rr_end(&m, a);
    a = rr(&m, 16, 66);
    put(&m, "\x05hello\x03 wo\x02\"\x01", 13);
    rr_end(&m, a);
    a = rr(&m, 6, 67);
    name(&m, "ns.example.com");
    name(&m, "admin.example.com");
    u32(&m, 2024);
    u32(&m, 7200);
    u32(&m, 900);
    u32(&m, 1209600);
    u32(&m, 300);
    rr_end(&m, a);
    a = rr(&m, 33, 68);
    u16(&m, 1);
    u16(&m, 5);
    u16(&m, 5060);
    name(&m, "sip.example.com");
    rr_end(&m, a);
    a = rr(&m, 65, 69);
    u16(&m, 1);
    u8(&m, 0); /* target "." */
    u16(&m, 1);
    u16(&m, 6);
    put(&m, "\x02h3\x02h2", 6);
    u16(&m, 4);
    u16(&m, 4);
    put(&m, "\x01\x02\x03\x04", 4);
    rr_end(&m, a);
    a = rr(&m, 99 + 1000, 70); /* unknown type: RFC 3597 */
    put(&m, "\xab\xcd", 2);
    rr_end(&m, a);
    /* OPT with DO */
    u8(&m, 0);
    u16(&m, 41);
    u16(&m, 4096);
    u32(&m, 0x00008000);
    u16(&m, 0);
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK, "%s", dns_err_name(M.err));
    cr_assert_eq(M.nanswers, 11);
    cr_assert(M.edns_do);
    const char *want[] = {"10.0.0.1",
                          "2001:db8::1",
                          "www.example.com",
                          "10 mx.example.com",
                          "ns1.example.com",
                          "host.example.com",
                          "hello wo\\\"\\001",
                          "ns.example.com admin.example.com 2024 7200 900 1209600 300",
                          "1 5 5060 sip.example.com",
                          "1 . alpn=h3,h2 ipv4hint=1.2.3.4",
                          "\\# 2 abcd"};
    for (int i = 0; i < 11; i++) {
        cr_assert_str_eq(M.an[i].data, want[i], "answer %d", i);
        cr_assert_str_eq(M.an[i].name, "example.com");
        cr_assert_eq(M.an[i].ttl, 60u + (uint32_t)i);
    }
    cr_assert_eq(M.an[0].ip_len, 4);
    cr_assert_eq(M.an[1].ip_len, 16);
}

Test(dns_parse, compression_loop_is_refused)
{
    struct mb m;
    hdr(&m, 1, 0x0100, 1, 0, 0, 0);
    u16(&m, 0xc00c); /* points at itself */
    u16(&m, 1);
    u16(&m, 1);
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_ERR_NAME_LOOP);
    /* two names pointing at each other */
    hdr(&m, 1, 0x8180, 1, 1, 0, 0);
    name(&m, "a");
    u16(&m, 1);
    u16(&m, 1);
    size_t at = m.n;
    u16(&m, (uint16_t)(0xc000 | (at + 2)));
    u16(&m, (uint16_t)(0xc000 | at));
    u16(&m, 1);
    u16(&m, 1);
    cr_assert_neq(dns_parse(m.b, m.n, &M), DNS_OK);
    cr_assert(!dns_probe(m.b, 14, false, true));
}

Test(dns_parse, long_names_are_bounded)
{
    struct mb m;
    hdr(&m, 1, 0x8180, 1, 1, 0, 0);
    name(&m, "x.com");
    u16(&m, 1);
    u16(&m, 1);
    size_t a = rr(&m, 5, 1);
    for (int i = 0; i < 5; i++) { /* 5 x 64 = 320 bytes > 255 */
        u8(&m, 63);
        for (int k = 0; k < 63; k++)
            u8(&m, 'a');
    }
    u8(&m, 0);
    rr_end(&m, a);
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK);
    cr_assert_eq(M.nanswers, 1);
    cr_assert_eq(M.an[0].data_err, DNS_ERR_NAME_TOO_LONG);
    cr_assert_str_eq(M.an[0].data, "");
}

Test(dns_parse, escapes_and_root)
{
    struct mb m;
    hdr(&m, 1, 0x0100, 1, 0, 0, 0);
    put(&m,
        "\x03"
        "a.\x01"
        "\x00",
        5);
    u16(&m, 2);
    u16(&m, 1);
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK);
    cr_assert_str_eq(M.qname, "a\\.\\001");
    hdr(&m, 1, 0x0100, 1, 0, 0, 0);
    u8(&m, 0);
    u16(&m, 2);
    u16(&m, 1);
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK);
    cr_assert_str_eq(M.qname, ".");
}

Test(dns_parse, truncation_everywhere)
{
    struct mb m;
    hdr(&m, 7, 0x8180, 1, 1, 0, 0);
    name(&m, "example.com");
    u16(&m, 1);
    u16(&m, 1);
    size_t a = rr(&m, 1, 60);
    put(&m, "\x0a\x00\x00\x01", 4);
    rr_end(&m, a);
    for (size_t cut = 0; cut < m.n; cut++) {
        enum dns_err e = dns_parse(m.b, cut, &M);
        cr_assert_neq(e, DNS_OK, "cut %zu", cut);
        cr_assert(cut >= 12 || e == DNS_ERR_SHORT);
    }
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK);
}

Test(dns_parse, many_answers_kept_up_to_the_bound)
{
    struct mb m;
    hdr(&m, 7, 0x8180, 1, 40, 0, 0);
    name(&m, "e.com");
    u16(&m, 1);
    u16(&m, 1);
    for (int i = 0; i < 40; i++) {
        size_t a = rr(&m, 1, 1);
        put(&m, "\x01\x02\x03\x04", 4);
        rr_end(&m, a);
    }
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK);
    cr_assert_eq(M.nanswers, DNS_MAX_ANSWERS);
    cr_assert(M.answers_cut);
}

Test(dns_parse, probe_rejects_other_protocols)
{
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert(!dns_probe((const uint8_t *)http, strlen(http), false, false));
    uint8_t tls[64] = {0x16, 0x03, 0x01, 0x00, 0x3a, 0x01};
    cr_assert(!dns_probe(tls, sizeof(tls), false, false));
    uint8_t zeros[64] = {0};
    cr_assert(!dns_probe(zeros, sizeof(zeros), false, false));
    /* a response claiming more records than the bytes can hold */
    struct mb m;
    hdr(&m, 7, 0x8180, 1, 200, 0, 0);
    name(&m, "e.com");
    u16(&m, 1);
    u16(&m, 1);
    cr_assert(!dns_probe(m.b, m.n, false, false));
    cr_assert(dns_probe(m.b, m.n, true, false)); /* TCP: the rest may follow */
}

Test(dns_parse, scratch_reuse_leaves_no_stale_fields)
{
    struct mb m;
    hdr(&m, 7, 0x8180, 1, 1, 0, 0);
    name(&m, "e.com");
    u16(&m, 1);
    u16(&m, 1);
    size_t a = rr(&m, 1, 1);
    put(&m, "\x01\x02\x03\x04", 4);
    rr_end(&m, a);
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK);
    cr_assert_eq(M.an[0].ip_len, 4);
    hdr(&m, 7, 0x8180, 1, 1, 0, 0);
    name(&m, "e.com");
    u16(&m, 1);
    u16(&m, 1);
    a = rr(&m, 16, 1);
    put(&m, "\x01x", 2);
    rr_end(&m, a);
    cr_assert_eq(dns_parse(m.b, m.n, &M), DNS_OK);
    cr_assert_eq(M.an[0].ip_len, 0);
}

Test(dns_parse, probe_partial_tcp_question)
{
    struct mb m;
    hdr(&m, 7, 0x0100, 1, 0, 0, 0);
    name(&m, "www.example.com");
    u16(&m, 1);
    u16(&m, 1);
    cr_assert(dns_probe(m.b, m.n, true, false));
    cr_assert(!dns_probe(m.b, 20, true, false)); /* question cut: only with a port hint */
    cr_assert(dns_probe(m.b, 20, true, true));
    cr_assert(!dns_probe(m.b, 20, false, true));
}

/* dns_parse_hint: the question text is taken from the hint only when the
 * wire bytes are the same, and the result is dns_parse's either way. */
Test(dns_parse, question_hint)
{
    static struct dns_msg Q, R;
    struct mb q, r;
    hdr(&q, 7, 0x0100, 1, 0, 0, 0);
    name(&q, "a\\.b.Example.com");
    u16(&q, 1);
    u16(&q, 1);
    cr_assert_eq(dns_parse(q.b, q.n, &Q), DNS_OK);
    cr_assert_eq(Q.qwire_len, q.n - 12 - 4);
    struct dns_qhint h = {q.b + 12, Q.qwire_len, Q.qname, Q.qname_len};

    hdr(&r, 7, 0x8180, 1, 1, 0, 0);
    name(&r, "a\\.b.Example.com");
    u16(&r, 1);
    u16(&r, 1);
    size_t at = rr(&r, 1, 60);
    u32(&r, 0x01020304);
    rr_end(&r, at);
    cr_assert_eq(dns_parse_hint(r.b, r.n, &R, &h), DNS_OK);
    cr_assert_eq(dns_parse(r.b, r.n, &M), DNS_OK);
    cr_assert_str_eq(R.qname, M.qname);
    cr_assert_eq(R.qname_len, M.qname_len);
    cr_assert_str_eq(R.an[0].name, M.an[0].name);
    cr_assert_str_eq(R.an[0].data, "1.2.3.4");

    /* A different name (case differs on the wire): walked, not the hint. */
    r.b[13] = 'A';
    cr_assert_eq(dns_parse_hint(r.b, r.n, &R, &h), DNS_OK);
    cr_assert_eq(R.qname[0], 'A');

    /* Cut inside the name: the hint cannot apply (it does not fit). */
    cr_assert_eq(dns_parse_hint(r.b, 14, &R, &h), DNS_ERR_TRUNCATED);
    cr_assert_eq(R.qname_len, 0);

    /* A compressed question name has no wire hint of its own. */
    hdr(&q, 8, 0x0100, 1, 0, 0, 0);
    u16(&q, 0xc000);
    u16(&q, 1);
    u16(&q, 1);
    dns_parse(q.b, q.n, &Q);
    cr_assert_eq(Q.qwire_len, 0);
}
