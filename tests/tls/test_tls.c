/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tls.c - decoder/tls: pure parser (hellos, JA3/JA4, reassembly across
 * records and segments, certificates made with OpenSSL at test time, bounds)
 * and the plugin through the fake host. Criterion, one process per test.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ns_app_test.h"
#include "ns_fake_host.h"
#include "tls_parse.h"

extern const struct ns_plugin_desc ns_plugin;

/* ---- byte builders ---------------------------------------------------------------- */

struct buf {
    uint8_t d[65536];
    size_t n;
};

static void put8(struct buf *b, unsigned v)
{
    b->d[b->n++] = (uint8_t)v;
}
static void put16(struct buf *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}
static void put24(struct buf *b, unsigned v)
{
    put8(b, v >> 16);
    put16(b, v & 0xffff);
}
static void putn(struct buf *b, const void *p, size_t n)
{
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void set16(struct buf *b, size_t at, unsigned v)
{
    b->d[at] = (uint8_t)(v >> 8);
    b->d[at + 1] = (uint8_t)v;
}
static void set24(struct buf *b, size_t at, unsigned v)
{
    b->d[at] = (uint8_t)(v >> 16);
    set16(b, at + 1, v & 0xffff);
}

/* A ClientHello handshake message (type + length + body) with GREASE in the
 * ciphers, extensions, groups and versions, SNI "example.org", ALPN h2 and
 * http/1.1. */
static void client_hello(struct buf *b, bool grease)
{
    size_t start = b->n;
    put8(b, 1);
    put24(b, 0);
    put16(b, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(b, i);
    put8(b, 0); /* session id */
    static const uint16_t cs[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0x00ff};
    put16(b, (sizeof(cs) / 2 + grease) * 2);
    if (grease)
        put16(b, 0x0a0a);
    for (size_t i = 0; i < sizeof(cs) / 2; i++)
        put16(b, cs[i]);
    put8(b, 1);
    put8(b, 0);
    size_t ext_len = b->n;
    put16(b, 0);
    if (grease) {
        put16(b, 0x2a2a);
        put16(b, 0);
    }
    /* server_name */
    put16(b, 0x0000);
    put16(b, 2 + 1 + 2 + 11);
    put16(b, 1 + 2 + 11);
    put8(b, 0);
    put16(b, 11);
    putn(b, "example.org", 11);
    /* supported_groups */
    put16(b, 0x000a);
    put16(b, 2 + 2 * (2 + grease));
    put16(b, 2 * (2 + grease));
    if (grease)
        put16(b, 0x3a3a);
    put16(b, 0x001d);
    put16(b, 0x0017);
    /* ec_point_formats */
    put16(b, 0x000b);
    put16(b, 2);
    put8(b, 1);
    put8(b, 0);
    /* ALPN */
    put16(b, 0x0010);
    put16(b, 2 + 3 + 9);
    put16(b, 3 + 9);
    put8(b, 2);
    putn(b, "h2", 2);
    put8(b, 8);
    putn(b, "http/1.1", 8);
    /* signature_algorithms */
    put16(b, 0x000d);
    put16(b, 2 + 6);
    put16(b, 6);
    put16(b, 0x0403);
    put16(b, 0x0804);
    put16(b, 0x0401);
    /* supported_versions */
    put16(b, 0x002b);
    put16(b, 1 + 2 * (2 + grease));
    put8(b, 2 * (2 + grease));
    if (grease)
        put16(b, 0x4a4a);
    put16(b, 0x0304);
    put16(b, 0x0303);
    set16(b, ext_len, (unsigned)(b->n - ext_len - 2));
    set24(b, start + 1, (unsigned)(b->n - start - 4));
}

static void server_hello(struct buf *b, uint16_t cipher, bool tls13)
{
    size_t start = b->n;
    put8(b, 2);
    put24(b, 0);
    put16(b, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(b, 0x40 + i);
    put8(b, 0);
    put16(b, cipher);
    put8(b, 0);
    size_t ext_len = b->n;
    put16(b, 0);
    if (tls13) {
        put16(b, 0x002b);
        put16(b, 2);
        put16(b, 0x0304);
        put16(b, 0x0033);
        put16(b, 4);
        put16(b, 0x001d);
        put16(b, 0);
    } else {
        put16(b, 0xff01);
        put16(b, 1);
        put8(b, 0);
        put16(b, 0x0010);
        put16(b, 5);
        put16(b, 3);
        put8(b, 2);
        putn(b, "h2", 2);
    }
    set16(b, ext_len, (unsigned)(b->n - ext_len - 2));
    set24(b, start + 1, (unsigned)(b->n - start - 4));
}

/* A self-signed certificate with a CN, an IP and two DNS SANs, as DER. */
static size_t make_cert(uint8_t *out, size_t cap)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    cr_assert_not_null(k);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
    ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
    ASN1_TIME_set(X509_getm_notAfter(x), 1800000000);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"FR", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Test, Inc", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"www.example.org", -1,
                               -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, k);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
                                            "DNS:www.example.org,DNS:example.org,IP:192.0.2.7");
    cr_assert_not_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    cr_assert(X509_sign(x, k, EVP_sha256()) > 0);
    unsigned char *p = NULL;
    int len = i2d_X509(x, &p);
    cr_assert(len > 0 && (size_t)len <= cap);
    memcpy(out, p, (size_t)len);
    OPENSSL_free(p);
    X509_free(x);
    EVP_PKEY_free(k);
    return (size_t)len;
}

static void certificate(struct buf *b, const uint8_t *der, size_t n)
{
    put8(b, 11);
    put24(b, (unsigned)(3 + 3 + n));
    put24(b, (unsigned)(3 + n));
    put24(b, (unsigned)n);
    putn(b, der, n);
}

/* Wrap handshake bytes in records of at most `frag` bytes. */
static void records(struct buf *out, uint8_t type, const uint8_t *p, size_t n, size_t frag)
{
    while (n > 0) {
        size_t k = n < frag ? n : frag;
        put8(out, type);
        put16(out, 0x0303);
        put16(out, (unsigned)k);
        putn(out, p, k);
        p += k;
        n -= k;
    }
}

static const uint8_t ccs_rec[] = {20, 3, 3, 0, 1, 1};
static const uint8_t app_rec[] = {23, 3, 3, 0, 4, 1, 2, 3, 4};

/* ---- hellos and fingerprints --------------------------------------------------------- */

Test(tls_parse, client_hello_fields_and_grease)
{
    static struct buf b;
    client_hello(&b, true);
    struct tls_client_hello ch;
    bool cut = false;
    cr_assert_eq(tls_parse_client_hello(b.d + 4, b.n - 4, &ch, &cut), 0);
    cr_assert_str_eq(ch.sni, "example.org");
    cr_assert_eq(ch.n_alpn, 2);
    cr_assert_str_eq(ch.alpn[1], "http/1.1");
    cr_assert_eq(ch.total_ciphers, 6); /* GREASE not counted */
    cr_assert_eq(ch.n_ciphers, 7);

    char s[TLS_JA3_MAX], md5[33], ja4[TLS_JA4_LEN + 1];
    tls_ja3(&ch, s, sizeof(s), md5);
    /* GREASE removed everywhere (JA3 spec); formats kept. */
    cr_assert_str_eq(s, "771,4865-4866-4867-49195-49199-255,0-10-11-16-13-43,29-23,0");
    cr_assert_eq(strlen(md5), 32);
    tls_ja4(&ch, 't', ja4);
    /* a: TLS 1.3 from supported_versions, SNI, 6 ciphers, 6 extensions, "h2". */
    cr_assert_eq(strncmp(ja4, "t13d0606h2_", 11), 0, "%s", ja4);
    cr_assert_eq(strlen(ja4), TLS_JA4_LEN);

    /* The same hello without GREASE has the same fingerprints. */
    static struct buf b2;
    client_hello(&b2, false);
    struct tls_client_hello ch2;
    cr_assert_eq(tls_parse_client_hello(b2.d + 4, b2.n - 4, &ch2, &cut), 0);
    char s2[TLS_JA3_MAX], md52[33], ja42[TLS_JA4_LEN + 1];
    tls_ja3(&ch2, s2, sizeof(s2), md52);
    tls_ja4(&ch2, 't', ja42);
    cr_assert_str_eq(md5, md52);
    cr_assert_str_eq(ja4, ja42);
}

Test(tls_parse, ja4_known_value)
{
    /* JA4 of the ClientHello in suricata-verify ja4-tls-quic (TCP), checked
     * end to end by the oracle; here only its parts' shape from the ALPN
     * rules: a non-alphanumeric first ALPN byte uses hex. */
    struct tls_client_hello ch;
    memset(&ch, 0, sizeof(ch));
    ch.legacy_version = 0x0303;
    ch.n_alpn = 1;
    ch.alpn0_first = 0x01;
    ch.alpn0_last = 0xfe;
    char ja4[TLS_JA4_LEN + 1];
    tls_ja4(&ch, 'q', ja4);
    cr_assert_str_eq(ja4, "q12i00000e_000000000000_000000000000");
}

Test(tls_parse, names)
{
    cr_assert_str_eq(tls_cipher_name(0x1302), "TLS_AES_256_GCM_SHA384");
    cr_assert_str_eq(tls_cipher_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    cr_assert_null(tls_cipher_name(0xbeef));
    const char *proto;
    cr_assert_str_eq(tls_version_name(0x0300, &proto), "3.0");
    cr_assert_str_eq(proto, "ssl");
    cr_assert(tls_is_grease(0xfafa) && !tls_is_grease(0xfafb));
}

/* ---- sessions -------------------------------------------------------------------------- */

/* A TLS 1.2 handshake with a certificate made by make_cert: client stream
 * and server stream (records of `frag` bytes). */
static void tls12_streams(struct buf *cli, struct buf *srv, size_t frag)
{
    static struct buf hs;
    uint8_t der[4096];
    size_t dn = make_cert(der, sizeof(der));
    hs.n = 0;
    client_hello(&hs, true);
    records(cli, 22, hs.d, hs.n, frag);
    hs.n = 0;
    server_hello(&hs, 0xc02f, false);
    certificate(&hs, der, dn);
    put8(&hs, 14); /* ServerHelloDone */
    put24(&hs, 0);
    records(srv, 22, hs.d, hs.n, frag);
    putn(cli, ccs_rec, sizeof(ccs_rec));
    putn(srv, ccs_rec, sizeof(ccs_rec));
}

static void check_tls12(const struct tls_session *s)
{
    cr_assert(s->have_ch && s->have_sh && s->have_cert);
    cr_assert_eq(s->state, TLS_ST_READY);
    cr_assert_eq(tls_session_version(s), 0x0303);
    cr_assert(tls_session_established(s));
    cr_assert(!tls_session_resumed(s));
    cr_assert_str_eq(s->ch.sni, "example.org");
    cr_assert_str_eq(s->sh.alpn, "h2");
    cr_assert_eq(s->n_certs, 1);
    const struct tls_x509 *x = &s->certs[0];
    cr_assert_str_eq(x->subject_cn, "www.example.org");
    cr_assert_str_eq(x->subject, "C=FR, O=Test\\, Inc, CN=www.example.org");
    cr_assert_str_eq(x->issuer, x->subject);
    cr_assert_str_eq(x->serial, "1234");
    cr_assert_eq(x->not_before, 1700000000);
    cr_assert_eq(x->not_after, 1800000000);
    cr_assert_eq(x->n_san_dns, 2);
    cr_assert_str_eq(x->san_dns[1], "example.org");
    cr_assert_eq(x->n_san_ip, 1);
    cr_assert_str_eq(x->san_ip[0], "192.0.2.7");
    cr_assert_eq(strlen(x->sha256), 64);
    cr_assert_eq(s->errors, 0, "errors %#x", s->errors);
}

Test(tls_session, whole_records_in_one_segment)
{
    static struct buf cli, srv;
    tls12_streams(&cli, &srv, 16384);
    struct tls_session s;
    tls_session_init(&s, 65536, 4);
    tls_session_feed(&s, 0, cli.d, cli.n - sizeof(ccs_rec), 0);
    tls_session_feed(&s, 1, srv.d, srv.n - sizeof(ccs_rec), 0);
    cr_assert_eq(s.state, TLS_ST_HELLO);
    tls_session_feed(&s, 0, cli.d + cli.n - sizeof(ccs_rec), sizeof(ccs_rec), 0);
    tls_session_feed(&s, 1, srv.d + srv.n - sizeof(ccs_rec), sizeof(ccs_rec), 0);
    check_tls12(&s);
    tls_session_free(&s);
}

Test(tls_session, messages_split_across_records_and_bytes)
{
    static struct buf cli, srv;
    /* 7-byte records: every message spans several records, and the server's
     * records carry the tail of one message and the head of the next. */
    tls12_streams(&cli, &srv, 7);
    struct tls_session s;
    tls_session_init(&s, 65536, 4);
    for (size_t i = 0; i < cli.n || i < srv.n; i++) {
        if (i < cli.n)
            tls_session_feed(&s, 0, cli.d + i, 1, 0);
        if (i < srv.n)
            tls_session_feed(&s, 1, srv.d + i, 1, 0);
    }
    check_tls12(&s);
    tls_session_free(&s);
}

Test(tls_session, tls13_ready_on_client_finished)
{
    static struct buf cli, srv, hs;
    client_hello(&hs, false);
    records(&cli, 22, hs.d, hs.n, 16384);
    hs.n = 0;
    server_hello(&hs, 0x1301, true);
    records(&srv, 22, hs.d, hs.n, 16384);
    putn(&srv, ccs_rec, sizeof(ccs_rec));
    putn(&srv, app_rec, sizeof(app_rec)); /* encrypted extensions... */
    struct tls_session s;
    tls_session_init(&s, 65536, 4);
    tls_session_feed(&s, 0, cli.d, cli.n, 0);
    tls_session_feed(&s, 1, srv.d, srv.n, 0);
    cr_assert_eq(s.state, TLS_ST_HELLO);
    tls_session_feed(&s, 0, ccs_rec, sizeof(ccs_rec), 0);
    tls_session_feed(&s, 0, app_rec, sizeof(app_rec), 0);
    cr_assert_eq(s.state, TLS_ST_READY);
    cr_assert_eq(tls_session_version(&s), 0x0304);
    cr_assert(tls_session_established(&s));
    cr_assert_eq(s.sh.key_share_group, 0x001d);
    tls_session_free(&s);
}

Test(tls_session, bounds_and_garbage)
{
    struct tls_session s;
    /* A handshake message claiming 16 MiB with max_msg 1 KiB: given up. */
    static const uint8_t big[] = {22, 3, 1, 0, 8, 1, 0xff, 0xff, 0xff, 3, 3, 0, 0};
    tls_session_init(&s, 1024, 4);
    tls_session_feed(&s, 0, big, sizeof(big), 0);
    cr_assert(s.errors & TLS_E_TOO_BIG);
    cr_assert(s.dir[0].dead);
    cr_assert_null(s.dir[0].msg);
    tls_session_free(&s);

    /* Not TLS at all. */
    static const char http[] = "GET / HTTP/1.1\r\n\r\n";
    tls_session_init(&s, 1024, 4);
    tls_session_feed(&s, 0, (const uint8_t *)http, sizeof(http) - 1, 0);
    cr_assert(s.errors & TLS_E_RECORD);
    tls_session_free(&s);

    /* A gap abandons the direction. */
    tls_session_init(&s, 1024, 4);
    tls_session_feed(&s, 1, app_rec, sizeof(app_rec), 10);
    cr_assert(s.errors & TLS_E_GAP);
    tls_session_free(&s);

    /* A truncated hello in a complete message is malformed, not a crash. */
    static const uint8_t trunc[] = {22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 1, 2};
    tls_session_init(&s, 1024, 4);
    tls_session_feed(&s, 0, trunc, sizeof(trunc), 0);
    cr_assert(s.errors & TLS_E_HELLO);
    tls_session_free(&s);
}

Test(tls_session, probe)
{
    static struct buf b, hs;
    client_hello(&hs, false);
    records(&b, 22, hs.d, hs.n, 16384);
    cr_assert(tls_probe(b.d, b.n));
    cr_assert(tls_probe(b.d, 5)); /* header only: plausible */
    cr_assert(!tls_probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16));
    cr_assert(!tls_probe(app_rec, sizeof(app_rec)));
}

/* ---- plugin through the fake host -------------------------------------------------------- */

struct tls_cfg_mirror {
    uint64_t max_handshake, max_certificates, certificate_cache;
};

/* decoder/tls on a quiet fake instance (64 KiB handshakes, 4 certificates, a
 * cache of 16); returns its context. */
static void *tls_plugin_init(void)
{
    struct tls_cfg_mirror cfg = {65536, 4, 16};
    void *ctx;
    ns_test_app_init(&ns_plugin, "decoder/tls", "tls", &cfg, &ctx);
    return ctx;
}

Test(tls_plugin, record_and_annotation, .fini = ns_fake_reset)
{
    void *ctx = tls_plugin_init();
    cr_assert(ns_plugin.flags & NS_PLUGIN_APP);

    static struct buf cli, srv;
    tls12_streams(&cli, &srv, 1000);
    /* 10.0.0.0:40000 -> 192.0.0.0:8443, not 443: found by content */
    struct ns_app_flow f = ns_test_flow4(6, 0x0a000000, 40000, 0xc0000000, 8443);
    f.community_id = "1:test";

    static const char http[] = "GET / HTTP/1.1\r\n\r\n";
    struct ns_app_flow g = f;
    cr_assert_eq(ns_plugin.app_probe(ctx, &g, NS_APP_TO_SERVER, (const uint8_t *)http, 18, 1),
                 NS_DECLINED);

    cr_assert_eq(ns_plugin.app_probe(ctx, &f, NS_APP_TO_SERVER, cli.d, 100, 1000), NS_OK);
    cr_assert_eq(ns_plugin.app_data(ctx, &f, NS_APP_TO_SERVER, cli.d + 100, cli.n - 100, 2000, 0),
                 NS_OK);
    int rc = ns_plugin.app_data(ctx, &f, NS_APP_TO_CLIENT, srv.d, srv.n, 3000, 0);
    cr_assert_eq(rc, NS_DECLINED); /* record out, the rest is ciphertext */
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    cr_assert(strstr(j, "\"dataset\":\"netscope.tls\""), "%s", j);
    cr_assert(strstr(j, "\"server_name\":\"example.org\""), "%s", j);
    cr_assert(strstr(j, "\"cipher\":\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\""), "%s", j);
    cr_assert(strstr(j, "\"next_protocol\":\"h2\""), "%s", j);
    cr_assert(strstr(j, "\"ja4\":\"t13d0606h2_"), "%s", j);
    cr_assert(
        strstr(j, "\"alternative_names\":[\"www.example.org\",\"example.org\",\"192.0.2.7\"]"),
        "%s", j);
    cr_assert(strstr(j, "\"established\":true"), "%s", j);
    cr_assert(strstr(j, "\"not_after\":\"2027-01-15T08:00:00.000000Z\""), "%s", j);
    cr_assert(strstr(j, "\"port\":8443"), "%s", j);
    free(j);

    j = ns_test_annotate_json(&ns_plugin, ctx, &f);
    cr_assert(strstr(j, "\"protocol\":\"tls\""), "%s", j);
    cr_assert(strstr(j, "\"server_name\":\"example.org\""), "%s", j);
    free(j);
    ns_plugin.app_close(ctx, &f, 5000);
    cr_assert_null(f.state);
    cr_assert_eq(ns_test_nrecs(), 1); /* no second record at close */
    cr_assert_eq(ns_fake_counter_value("tls_records_total", NULL), 1);
    ns_plugin.destroy(ctx);
}

Test(tls_plugin, report_at_close_when_unfinished, .fini = ns_fake_reset)
{
    void *ctx = tls_plugin_init();
    static struct buf cli, hs;
    client_hello(&hs, false);
    records(&cli, 22, hs.d, hs.n, 16384);
    struct ns_app_flow f = ns_test_flow4(6, 0, 0, 0, 0);
    cr_assert_eq(ns_plugin.app_probe(ctx, &f, NS_APP_TO_SERVER, cli.d, cli.n, 1000), NS_OK);
    cr_assert_eq(ns_test_nrecs(), 0);
    ns_plugin.app_close(ctx, &f, 2000);
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    cr_assert(strstr(j, "\"established\":false"), "%s", j);
    cr_assert(strstr(j, "\"server_name\":\"example.org\""), "%s", j);
    cr_assert_null(strstr(j, "\"cipher\""), "%s", j);
    free(j);
    ns_plugin.destroy(ctx);
}

Test(tls_session, hello_retry_request)
{
    static const uint8_t hrr[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
                                    0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
                                    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
                                    0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
    static struct buf cli, srv, hs;
    client_hello(&hs, false);
    records(&cli, 22, hs.d, hs.n, 16384);
    records(&cli, 22, hs.d, hs.n, 16384); /* second ClientHello after the retry */
    hs.n = 0;
    server_hello(&hs, 0x1301, true);
    memcpy(hs.d + 6, hrr, 32);
    size_t first = hs.n;
    server_hello(&hs, 0x1302, true);
    records(&srv, 22, hs.d, first, 16384);
    size_t srv_hrr = srv.n;
    records(&srv, 22, hs.d + first, hs.n - first, 16384);
    struct tls_session s;
    tls_session_init(&s, 65536, 4);
    tls_session_feed(&s, 1, srv.d, srv_hrr, 0);
    cr_assert(s.sh.hrr);
    cr_assert_eq(tls_session_version(&s), 0); /* not negotiated yet */
    tls_session_feed(&s, 0, cli.d, cli.n, 0);
    tls_session_feed(&s, 1, srv.d + srv_hrr, srv.n - srv_hrr, 0);
    tls_session_feed(&s, 0, app_rec, sizeof(app_rec), 0);
    cr_assert_eq(s.state, TLS_ST_READY);
    cr_assert(s.saw_hrr);
    cr_assert_eq(s.sh.cipher, 0x1302);
    cr_assert_eq(tls_session_version(&s), 0x0304);
    cr_assert_eq(s.errors, 0);
    tls_session_free(&s);
}

Test(tls_x509, cache_hits_and_failures)
{
    uint8_t der[4096];
    size_t dn = make_cert(der, sizeof(der));
    struct tls_x509_cache *c = tls_x509_cache_new(2);
    cr_assert_not_null(c);
    struct tls_x509 a, b;
    cr_assert_eq(tls_x509_parse_cached(c, der, dn, &a), 0);
    cr_assert_eq(tls_x509_parse_cached(c, der, dn, &b), 0);
    cr_assert_str_eq(a.subject, b.subject);
    cr_assert_str_eq(a.serial, b.serial);
    cr_assert_str_eq(a.sha256, b.sha256);
    cr_assert_eq(b.n_san_dns, 2);
    cr_assert_str_eq(b.san_dns[0], "www.example.org");
    cr_assert_str_eq(b.san_ip[0], "192.0.2.7");
    cr_assert_neq(a.subject, b.subject); /* copies, freed separately */
    /* A hit is a packed copy (one block) with the same fields. */
    cr_assert_null(a.block);
    cr_assert_not_null(b.block);
    cr_assert_eq(b.n_san_ip, a.n_san_ip);
    cr_assert_str_eq(b.san_dns[1], a.san_dns[1]);
    if (a.issuer != NULL)
        cr_assert_str_eq(b.issuer, a.issuer);
    if (a.subject_cn != NULL)
        cr_assert_str_eq(b.subject_cn, a.subject_cn);
    cr_assert_eq(b.not_after, a.not_after);
    tls_x509_free(&a);
    tls_x509_free(&b);
    /* Garbage is parsed once and remembered as bad. */
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    cr_assert_eq(tls_x509_parse_cached(c, junk, sizeof(junk), &a), -1);
    cr_assert_eq(tls_x509_parse_cached(c, junk, sizeof(junk), &a), -1);
    /* A third key evicts the least recently used (the certificate). */
    static const uint8_t junk2[] = {0x30, 0x00};
    cr_assert_eq(tls_x509_parse_cached(c, junk2, sizeof(junk2), &a), -1);
    cr_assert_eq(tls_x509_parse_cached(c, der, dn, &a), 0);
    tls_x509_free(&a);
    uint64_t hits, misses;
    tls_x509_cache_stats(c, &hits, &misses);
    cr_assert_eq(hits, 2);
    cr_assert_eq(misses, 4);
    tls_x509_cache_free(c);
}

Test(tls_plugin, certificate_cache, .fini = ns_fake_reset)
{
    void *ctx = tls_plugin_init();
    static struct buf cli, srv;
    tls12_streams(&cli, &srv, 1000);
    char *json[2];
    for (int i = 0; i < 2; i++) {
        struct ns_app_flow f = ns_test_flow4(6, 0, 0, 0, 0);
        cr_assert_eq(ns_plugin.app_probe(ctx, &f, NS_APP_TO_SERVER, cli.d, cli.n, 1000), NS_OK);
        ns_plugin.app_data(ctx, &f, NS_APP_TO_CLIENT, srv.d, srv.n, 2000, 0);
        ns_plugin.app_close(ctx, &f, 3000);
        cr_assert_eq(ns_test_nrecs(), (size_t)i + 1);
        json[i] = ns_test_json((size_t)i);
    }
    cr_assert_str_eq(json[0], json[1]);
    free(json[0]);
    free(json[1]);
    cr_assert_eq(ns_fake_counter_value("certificate_cache_hits", NULL), 1);
    cr_assert_eq(ns_fake_counter_value("certificate_cache_misses", NULL), 1);
    ns_plugin.destroy(ctx);
}

Test(tls_plugin, roles_from_content, .fini = ns_fake_reset)
{
    /* The flow decoder took the server for the initiator (it saw the
     * server's packets first): the ClientHello travels NS_APP_TO_CLIENT. */
    void *ctx = tls_plugin_init();
    static struct buf cli, srv;
    tls12_streams(&cli, &srv, 1000);
    /* initiator 0.0.0.2:443 (the server), responder 0.0.0.1:50000 (the client) */
    struct ns_app_flow f = ns_test_flow4(6, 2, 443, 1, 50000);
    cr_assert_eq(ns_plugin.app_probe(ctx, &f, NS_APP_TO_CLIENT, cli.d, cli.n, 1000), NS_OK);
    cr_assert_eq(ns_plugin.app_data(ctx, &f, NS_APP_TO_SERVER, srv.d, srv.n, 2000, 0), NS_DECLINED);
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    cr_assert(strstr(j, "\"source\":{\"ip\":\"0.0.0.1\",\"port\":50000}"), "%s", j);
    cr_assert(strstr(j, "\"destination\":{\"ip\":\"0.0.0.2\",\"port\":443}"), "%s", j);
    cr_assert(strstr(j, "\"subject\":{\"common_name\":\"www.example.org\"}"), "%s", j);
    free(j);
    ns_plugin.app_close(ctx, &f, 3000);
    ns_plugin.destroy(ctx);
}
