/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http2.c - decoder/http2: pure parser (preface, frames, HPACK through
 * libnghttp2, CONTINUATION, padding, gRPC trailers, h2c Upgrade, bounds) and
 * the plugin through the fake host. Header blocks are made with libnghttp2's
 * deflater. Criterion, one process per test.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "h2_parse.h"
#include "ns_app_test.h"
#include "ns_fake_host.h"

extern const struct ns_plugin_desc ns_plugin;

struct buf {
    uint8_t d[65536];
    size_t n;
};

static void putn(struct buf *b, const void *p, size_t n)
{
    cr_assert(b->n + n <= sizeof(b->d));
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void frame_hdr(struct buf *b, size_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
    uint8_t h[9] = {
        (uint8_t)(len >> 16), (uint8_t)(len >> 8),  (uint8_t)len,        type,        flags,
        (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    putn(b, h, 9);
}

static void frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
    frame_hdr(b, n, type, flags, sid);
    putn(b, p, n);
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE         \
    }

/* HPACK-encode nv[0..n) with deflater d into out; returns the length. */
static size_t deflate(nghttp2_hd_deflater *d, const nghttp2_nv *nv, size_t n, uint8_t *out,
                      size_t cap)
{
    ssize_t rv = nghttp2_hd_deflate_hd(d, out, cap, (nghttp2_nv *)nv, n);
    cr_assert(rv > 0);
    return (size_t)rv;
}

static const uint8_t settings_empty[1];

struct seen {
    int n;
    struct h2_stream s[16];
    char *f[16][H2_F_COUNT];
};

static void on_stream(void *arg, struct h2_conn *c, struct h2_stream *s)
{
    struct seen *seen = arg;
    (void)c;
    if (seen->n >= 16)
        return;
    seen->s[seen->n] = *s;
    for (int i = 0; i < H2_F_COUNT; i++)
        seen->f[seen->n][i] = s->f[i] ? strdup(s->f[i]) : NULL;
    seen->n++;
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < H2_F_COUNT; k++)
            free(s->f[i][k]);
    memset(s, 0, sizeof(*s));
}

static const char *fld(struct seen *s, int i, enum h2_field f)
{
    return s->f[i][f] ? s->f[i][f] : "(null)";
}

/* Client: preface, SETTINGS, request on stream 1 (split into HEADERS with
 * padding and priority + CONTINUATION); server: SETTINGS, response HEADERS,
 * padded DATA with END_STREAM. */
Test(h2_parse, prior_knowledge_continuation_padding)
{
    nghttp2_hd_deflater *dc, *ds;
    nghttp2_hd_deflate_new(&dc, 4096);
    nghttp2_hd_deflate_new(&ds, 4096);
    static struct buf cli, srv;
    uint8_t blk[1024];
    putn(&cli, H2_PREFACE, H2_PREFACE_LEN);
    frame(&cli, 4, 0, 0, settings_empty, 0);
    const nghttp2_nv req[] = {NV(":method", "GET"), NV(":scheme", "http"),
                              NV(":authority", "example.org:8080"), NV(":path", "/a/b?x=1"),
                              NV("user-agent", "test/1.0")};
    size_t bn = deflate(dc, req, 5, blk, sizeof(blk));
    /* HEADERS: PADDED|PRIORITY, first 5 bytes of the block, 3 bytes of padding. */
    uint8_t hp[1 + 5 + 5 + 3] = {3, 0, 0, 0, 0, 16};
    memcpy(hp + 6, blk, 5);
    frame(&cli, 1, 0x08 | 0x20 | 0x01, 1, hp, sizeof(hp));
    frame(&cli, 9, 0x04, 1, blk + 5, bn - 5);

    frame(&srv, 4, 0, 0, settings_empty, 0);
    const nghttp2_nv resp[] = {NV(":status", "200"), NV("content-type", "text/html")};
    bn = deflate(ds, resp, 2, blk, sizeof(blk));
    frame(&srv, 1, 0x04, 1, blk, bn);
    uint8_t data[1 + 10 + 4] = {4, 'h', 'e', 'l', 'l', 'o', '1', '2', '3', '4', '5'};
    frame(&srv, 0, 0x08 | 0x01, 1, data, sizeof(data));

    struct seen seen = {0};
    struct h2_conn c;
    h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
    /* Byte by byte, alternating. */
    for (size_t i = 0; i < cli.n || i < srv.n; i++) {
        if (i < cli.n)
            h2_conn_feed(&c, 0, cli.d + i, 1, 100 + i, 0);
        if (i < srv.n)
            h2_conn_feed(&c, 1, srv.d + i, 1, 100 + i, 0);
    }
    cr_assert_eq(seen.n, 1);
    cr_assert_str_eq(fld(&seen, 0, H2_F_METHOD), "GET");
    cr_assert_str_eq(fld(&seen, 0, H2_F_AUTHORITY), "example.org:8080");
    cr_assert_str_eq(fld(&seen, 0, H2_F_PATH), "/a/b?x=1");
    cr_assert_str_eq(fld(&seen, 0, H2_F_USER_AGENT), "test/1.0");
    cr_assert_str_eq(fld(&seen, 0, H2_F_STATUS), "200");
    cr_assert_str_eq(fld(&seen, 0, H2_F_RESP_CTYPE), "text/html");
    cr_assert_eq(seen.s[0].body_bytes[1], 10);
    cr_assert(seen.s[0].req_end && seen.s[0].resp_end);
    cr_assert_eq(c.errors, 0, "errors %#x", c.errors);
    h2_conn_close(&c, 1000);
    cr_assert_eq(seen.n, 1);
    seen_free(&seen);
    nghttp2_hd_deflate_del(dc);
    nghttp2_hd_deflate_del(ds);
}

/* gRPC: request, response headers, DATA, trailers with grpc-status; the
 * dynamic table carries over between the two requests. */
Test(h2_parse, grpc_trailers_and_dynamic_table)
{
    nghttp2_hd_deflater *dc, *ds;
    nghttp2_hd_deflate_new(&dc, 4096);
    nghttp2_hd_deflate_new(&ds, 4096);
    static struct buf cli, srv;
    uint8_t blk[1024];
    putn(&cli, H2_PREFACE, H2_PREFACE_LEN);
    const nghttp2_nv req[] = {NV(":method", "POST"), NV(":scheme", "http"),
                              NV(":authority", "svc:50051"), NV(":path", "/pkg.Greeter/SayHello"),
                              NV("content-type", "application/grpc")};
    for (uint32_t sid = 1; sid <= 3; sid += 2) {
        size_t bn = deflate(dc, req, 5, blk, sizeof(blk));
        frame(&cli, 1, 0x04, sid, blk, bn);
        uint8_t msg[5 + 3] = {0, 0, 0, 0, 3, 1, 2, 3};
        frame(&cli, 0, 0x01, sid, msg, sizeof(msg));
        const nghttp2_nv resp[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
        bn = deflate(ds, resp, 2, blk, sizeof(blk));
        frame(&srv, 1, 0x04, sid, blk, bn);
        const nghttp2_nv tr[] = {NV("grpc-status", "5"), NV("grpc-message", "not found")};
        bn = deflate(ds, tr, 2, blk, sizeof(blk));
        frame(&srv, 1, 0x04 | 0x01, sid, blk, bn);
    }
    struct seen seen = {0};
    struct h2_conn c;
    h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
    h2_conn_feed(&c, 0, cli.d, cli.n, 1, 0);
    h2_conn_feed(&c, 1, srv.d, srv.n, 2, 0);
    cr_assert_eq(seen.n, 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_str_eq(fld(&seen, i, H2_F_PATH), "/pkg.Greeter/SayHello");
        cr_assert_str_eq(fld(&seen, i, H2_F_GRPC_STATUS), "5");
        cr_assert_str_eq(fld(&seen, i, H2_F_GRPC_MESSAGE), "not found");
        cr_assert_eq(seen.s[i].body_bytes[0], 8);
    }
    cr_assert(c.grpc);
    const char *svc, *m;
    size_t sl, ml;
    cr_assert(h2_grpc_split("/pkg.Greeter/SayHello", &svc, &sl, &m, &ml));
    cr_assert_eq(sl, 11);
    cr_assert_eq(strncmp(svc, "pkg.Greeter", sl), 0);
    cr_assert_str_eq(m, "SayHello");
    cr_assert(!h2_grpc_split("/index.html", &svc, &sl, &m, &ml));
    h2_conn_close(&c, 3);
    seen_free(&seen);
    nghttp2_hd_deflate_del(dc);
    nghttp2_hd_deflate_del(ds);
}

static const char upgrade_req[] = "GET /up?q HTTP/1.1\r\nHost: h2c.example\r\n"
                                  "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                                  "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
                                  "User-Agent: curl/8\r\n\r\n";

Test(h2_parse, upgrade)
{
    cr_assert_eq(h2_probe((const uint8_t *)upgrade_req, sizeof(upgrade_req) - 1), 2);
    cr_assert_eq(h2_probe((const uint8_t *)H2_PREFACE, 10), 1);
    cr_assert_eq(h2_probe((const uint8_t *)"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 0);
    nghttp2_hd_deflater *ds;
    nghttp2_hd_deflate_new(&ds, 4096);
    static struct buf cli, srv;
    uint8_t blk[256];
    putn(&cli, upgrade_req, sizeof(upgrade_req) - 1);
    putn(&cli, H2_PREFACE, H2_PREFACE_LEN);
    frame(&cli, 4, 0, 0, settings_empty, 0);
    static const char r101[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                               "Upgrade: h2c\r\n\r\n";
    putn(&srv, r101, sizeof(r101) - 1);
    frame(&srv, 4, 0, 0, settings_empty, 0);
    const nghttp2_nv resp[] = {NV(":status", "404")};
    size_t bn = deflate(ds, resp, 1, blk, sizeof(blk));
    frame(&srv, 1, 0x04 | 0x01, 1, blk, bn);

    struct seen seen = {0};
    struct h2_conn c;
    h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
    h2_conn_upgrade(&c);
    /* In two pieces each, cut inside the HTTP/1.1 heads. */
    h2_conn_feed(&c, 0, cli.d, 20, 1, 0);
    h2_conn_feed(&c, 1, srv.d, 30, 2, 0);
    h2_conn_feed(&c, 0, cli.d + 20, cli.n - 20, 3, 0);
    h2_conn_feed(&c, 1, srv.d + 30, srv.n - 30, 4, 0);
    cr_assert_eq(seen.n, 1, "errors %#x", c.errors);
    cr_assert_str_eq(fld(&seen, 0, H2_F_METHOD), "GET");
    cr_assert_str_eq(fld(&seen, 0, H2_F_PATH), "/up?q");
    cr_assert_str_eq(fld(&seen, 0, H2_F_AUTHORITY), "h2c.example");
    cr_assert_str_eq(fld(&seen, 0, H2_F_USER_AGENT), "curl/8");
    cr_assert_str_eq(fld(&seen, 0, H2_F_STATUS), "404");
    cr_assert_eq(seen.s[0].id, 1);
    cr_assert_eq(c.errors, 0);
    h2_conn_close(&c, 5);
    seen_free(&seen);
    nghttp2_hd_deflate_del(ds);
}

Test(h2_parse, upgrade_refused)
{
    static const char r200[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    struct seen seen = {0};
    struct h2_conn c;
    h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
    h2_conn_upgrade(&c);
    cr_assert(h2_conn_feed(&c, 0, (const uint8_t *)upgrade_req, sizeof(upgrade_req) - 1, 1, 0));
    cr_assert(!h2_conn_feed(&c, 1, (const uint8_t *)r200, sizeof(r200) - 1, 2, 0));
    cr_assert(c.errors & H2_E_UPGRADE);
    h2_conn_close(&c, 3);
    cr_assert_eq(seen.n, 0);
}

Test(h2_parse, hostile_input)
{
    struct seen seen = {0};
    struct h2_conn c;
    static struct buf b;
    /* Invalid HPACK (index 127+ into an empty dynamic table). */
    putn(&b, H2_PREFACE, H2_PREFACE_LEN);
    static const uint8_t bad[] = {0xff, 0xff, 0xff, 0x7f};
    frame(&b, 1, 0x05, 1, bad, sizeof(bad));
    h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
    h2_conn_feed(&c, 0, b.d, b.n, 1, 0);
    cr_assert(c.errors & H2_E_HPACK);
    h2_conn_close(&c, 2);

    /* A HEADERS frame over max_frame: that direction stops. */
    b.n = 0;
    putn(&b, H2_PREFACE, H2_PREFACE_LEN);
    frame_hdr(&b, 0xffffff, 1, 0x04, 1);
    h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
    h2_conn_feed(&c, 0, b.d, b.n, 1, 0);
    cr_assert(c.errors & H2_E_FRAME);
    cr_assert_eq(c.dir[0].st, H2_D_DEAD);
    cr_assert_null(c.dir[0].buf);
    h2_conn_close(&c, 2);

    /* Not the preface. */
    h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
    h2_conn_feed(&c, 0, (const uint8_t *)"PRI * HTTP/1.1\r\n", 16, 1, 0);
    cr_assert(c.errors & H2_E_PREFACE);
    h2_conn_close(&c, 2);

    /* More streams than max_streams: counted, the rest still reported. */
    nghttp2_hd_deflater *dc;
    nghttp2_hd_deflate_new(&dc, 4096);
    b.n = 0;
    putn(&b, H2_PREFACE, H2_PREFACE_LEN);
    uint8_t blk[256];
    const nghttp2_nv req[] = {NV(":method", "GET"), NV(":path", "/")};
    for (uint32_t sid = 1; sid < 20; sid += 2) {
        size_t bn = deflate(dc, req, 2, blk, sizeof(blk));
        frame(&b, 1, 0x05, sid, blk, bn);
    }
    seen_free(&seen);
    h2_conn_init(&c, 16384, 65536, 4, on_stream, &seen);
    h2_conn_feed(&c, 0, b.d, b.n, 1, 0);
    cr_assert(c.errors & H2_E_STREAMS);
    cr_assert_eq(c.streams_dropped, 6);
    cr_assert_eq(c.errors & H2_E_HPACK, 0); /* dropped streams' blocks still decoded */
    h2_conn_close(&c, 2);
    cr_assert_eq(seen.n, 4);
    seen_free(&seen);
    nghttp2_hd_deflate_del(dc);
}

/* The inflaters on an h2_mem allocator: small and large (> 4 KiB) header
 * values, blocks reused across connections, all freed at the end (ASan). */
Test(h2_parse, hpack_on_pool_allocator)
{
    struct h2_mem *mem = h2_mem_new();
    cr_assert_not_null(mem);
    static char big[6000];
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    for (int round = 0; round < 3; round++) {
        struct seen seen = {0};
        static struct buf b;
        b.n = 0;
        struct h2_conn c;
        nghttp2_hd_deflater *dc;
        nghttp2_hd_deflate_new(&dc, 4096);
        putn(&b, H2_PREFACE, H2_PREFACE_LEN);
        static uint8_t blk[16384];
        const nghttp2_nv small[] = {NV(":method", "GET"), NV(":path", "/x"),
                                    NV(":authority", "example.test")};
        const nghttp2_nv large[] = {NV(":method", "GET"), NV(":path", big),
                                    NV("user-agent", "pool-test")};
        size_t bn = deflate(dc, small, 3, blk, sizeof(blk));
        frame(&b, 1, 0x05, 1, blk, bn);
        bn = deflate(dc, large, 3, blk, sizeof(blk));
        frame(&b, 1, 0x05, 3, blk, bn);
        h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
        c.mem = mem;
        h2_conn_feed(&c, 0, b.d, b.n, 1, 0);
        cr_assert_eq(c.errors & H2_E_HPACK, 0);
        h2_conn_close(&c, 2);
        cr_assert_eq(seen.n, 2);
        cr_assert_str_eq(fld(&seen, 0, H2_F_PATH), "/x");
        cr_assert_eq(strlen(fld(&seen, 1, H2_F_PATH)), H2_MAX_VALUE);
        seen_free(&seen);
        nghttp2_hd_deflate_del(dc);
    }
    h2_mem_free(mem);
}

/* Stream slots grow past H2_STREAMS_FIRST as streams open (no drops below
 * max_streams); streams still open at close are reported in id order. */
Test(h2_parse, stream_slots_grow)
{
    struct seen seen = {0};
    static struct buf b;
    struct h2_conn c;
    nghttp2_hd_deflater *dc;
    nghttp2_hd_deflate_new(&dc, 4096);
    putn(&b, H2_PREFACE, H2_PREFACE_LEN);
    uint8_t blk[256];
    const nghttp2_nv req[] = {NV(":method", "GET"), NV(":path", "/")};
    /* Streams 1..21 (11) open, requests complete, no responses. */
    for (uint32_t sid = 1; sid < 22; sid += 2) {
        size_t bn = deflate(dc, req, 2, blk, sizeof(blk));
        frame(&b, 1, 0x05, sid, blk, bn);
    }
    h2_conn_init(&c, 16384, 65536, 16, on_stream, &seen);
    h2_conn_feed(&c, 0, b.d, b.n, 1, 0);
    cr_assert_eq(c.errors & H2_E_STREAMS, 0);
    cr_assert_eq(c.streams_dropped, 0);
    cr_assert_eq(c.n_open, 11);
    cr_assert_leq(c.streams_cap, 16);
    cr_assert_geq(c.streams_cap, 11);
    h2_conn_close(&c, 2);
    cr_assert_eq(seen.n, 11);
    for (int i = 0; i < 11; i++)
        cr_assert_eq(seen.s[i].id, (uint32_t)(2 * i + 1), "stream %d id %u", i, seen.s[i].id);
    cr_assert_null(c.streams);
    seen_free(&seen);
    nghttp2_hd_deflate_del(dc);
}

/* ---- plugin --------------------------------------------------------------------------- */

struct http2_cfg_mirror {
    uint64_t max_frame, max_header_block, max_streams;
};

/* decoder/http2 on a quiet fake instance (64 KiB frames and header blocks,
 * 128 streams); returns its context. */
static void *http2_plugin_init(void)
{
    struct http2_cfg_mirror cfg = {65536, 65536, 128};
    void *ctx;
    ns_test_app_init(&ns_plugin, "decoder/http2", "http2", &cfg, &ctx);
    return ctx;
}

Test(http2_plugin, grpc_record, .fini = ns_fake_reset)
{
    void *ctx = http2_plugin_init();
    nghttp2_hd_deflater *dc, *ds;
    nghttp2_hd_deflate_new(&dc, 4096);
    nghttp2_hd_deflate_new(&ds, 4096);
    static struct buf cli, srv;
    uint8_t blk[512];
    putn(&cli, H2_PREFACE, H2_PREFACE_LEN);
    const nghttp2_nv req[] = {
        NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "[::1]:50051"),
        NV(":path", "/greet.GreetService/GreetEveryone"), NV("content-type", "application/grpc")};
    size_t bn = deflate(dc, req, 5, blk, sizeof(blk));
    frame(&cli, 1, 0x04 | 0x01, 1, blk, bn);
    const nghttp2_nv resp[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                               NV("grpc-status", "0")};
    bn = deflate(ds, resp, 3, blk, sizeof(blk));
    frame(&srv, 1, 0x04 | 0x01, 1, blk, bn);

    struct ns_app_flow f;
    memset(&f, 0, sizeof(f));
    f.transport = 6;
    f.ip_version = 6;
    f.src_ip.family = f.dst_ip.family = 6;
    f.dst_port = 50051;
    cr_assert_eq(ns_plugin.app_probe(ctx, &f, NS_APP_TO_SERVER, cli.d, cli.n, 10), NS_OK);
    cr_assert_eq(ns_plugin.app_data(ctx, &f, NS_APP_TO_CLIENT, srv.d, srv.n, 20, 0), NS_OK);
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    cr_assert(strstr(j, "\"dataset\":\"netscope.http2\""), "%s", j);
    cr_assert(strstr(j, "\"rpc\":{\"grpc\":{\"status_code\":0},\"method\":\"GreetEveryone\","
                        "\"service\":\"greet.GreetService\",\"system\":\"grpc\"}"),
              "%s", j);
    cr_assert(strstr(j, "\"domain\":\"::1\""), "%s", j);
    cr_assert(strstr(j, "\"status_code\":200"), "%s", j);
    cr_assert(strstr(j, "\"protocol\":\"grpc\""), "%s", j);
    free(j);
    j = ns_test_annotate_json(&ns_plugin, ctx, &f);
    cr_assert(strstr(j, "\"protocol\":\"grpc\""), "%s", j);
    free(j);
    ns_plugin.app_close(ctx, &f, 40);
    cr_assert_null(f.state);
    cr_assert_eq(ns_test_nrecs(), 1);

    /* Not HTTP/2: declined. */
    struct ns_app_flow g = ns_test_flow4(6, 0, 0, 0, 0);
    cr_assert_eq(ns_plugin.app_probe(ctx, &g, NS_APP_TO_SERVER,
                                     (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 1),
                 NS_DECLINED);
    ns_plugin.destroy(ctx);
    nghttp2_hd_deflate_del(dc);
    nghttp2_hd_deflate_del(ds);
}

Test(http2_plugin, upgrade_record, .fini = ns_fake_reset)
{
    void *ctx = http2_plugin_init();
    nghttp2_hd_deflater *ds;
    nghttp2_hd_deflate_new(&ds, 4096);
    static struct buf cli, srv;
    uint8_t blk[256];
    putn(&cli, H2_PREFACE, H2_PREFACE_LEN);
    frame(&cli, 4, 0, 0, settings_empty, 0);
    static const char r101[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n";
    putn(&srv, r101, sizeof(r101) - 1);
    frame(&srv, 4, 0, 0, settings_empty, 0);
    const nghttp2_nv resp[] = {NV(":status", "200"), NV("content-type", "text/plain")};
    size_t bn = deflate(ds, resp, 2, blk, sizeof(blk));
    frame(&srv, 1, 0x04, 1, blk, bn);
    frame(&srv, 0, 0x01, 1, "hi", 2);

    struct ns_app_flow f = ns_test_flow4(6, 0, 0, 0, 8080);
    cr_assert_eq(ns_plugin.app_probe(ctx, &f, NS_APP_TO_SERVER, (const uint8_t *)upgrade_req,
                                     sizeof(upgrade_req) - 1, 10),
                 NS_OK);
    cr_assert_eq(ns_plugin.app_data(ctx, &f, NS_APP_TO_CLIENT, srv.d, srv.n, 20, 0), NS_OK);
    cr_assert_eq(ns_plugin.app_data(ctx, &f, NS_APP_TO_SERVER, cli.d, cli.n, 30, 0), NS_OK);
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    cr_assert(strstr(j, "\"upgrade\":true"), "%s", j);
    cr_assert(strstr(j, "\"original\":\"/up?q\""), "%s", j);
    cr_assert(strstr(j, "\"query\":\"q\""), "%s", j);
    cr_assert(strstr(j, "\"domain\":\"h2c.example\""), "%s", j);
    cr_assert(strstr(j, "\"status_code\":200"), "%s", j);
    cr_assert(strstr(j, "\"body\":{\"bytes\":2}"), "%s", j);
    free(j);
    ns_plugin.app_close(ctx, &f, 40);
    ns_plugin.destroy(ctx);
    nghttp2_hd_deflate_del(ds);
}

Test(http2_plugin, roles_from_content, .fini = ns_fake_reset)
{
    /* The flow decoder took the server for the initiator: the preface
     * travels NS_APP_TO_CLIENT, the response NS_APP_TO_SERVER. */
    void *ctx = http2_plugin_init();
    nghttp2_hd_deflater *dc, *ds;
    nghttp2_hd_deflate_new(&dc, 4096);
    nghttp2_hd_deflate_new(&ds, 4096);
    static struct buf cli, srv;
    uint8_t blk[256];
    putn(&cli, H2_PREFACE, H2_PREFACE_LEN);
    const nghttp2_nv req[] = {NV(":method", "GET"), NV(":path", "/x")};
    size_t bn = deflate(dc, req, 2, blk, sizeof(blk));
    frame(&cli, 1, 0x05, 1, blk, bn);
    const nghttp2_nv resp[] = {NV(":status", "204")};
    bn = deflate(ds, resp, 1, blk, sizeof(blk));
    frame(&srv, 1, 0x05, 1, blk, bn);
    struct ns_app_flow f = ns_test_flow4(6, 0, 3000, 0, 40000); /* initiator: the server */
    cr_assert_eq(ns_plugin.app_probe(ctx, &f, NS_APP_TO_CLIENT, cli.d, cli.n, 10), NS_OK);
    cr_assert_eq(ns_plugin.app_data(ctx, &f, NS_APP_TO_SERVER, srv.d, srv.n, 20, 0), NS_OK);
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    cr_assert(strstr(j, "\"status_code\":204"), "%s", j);
    cr_assert(strstr(j, "\"source\":{\"ip\":\"0.0.0.0\",\"port\":40000}"), "%s", j);
    free(j);
    ns_plugin.app_close(ctx, &f, 30);
    ns_plugin.destroy(ctx);
    nghttp2_hd_deflate_del(dc);
    nghttp2_hd_deflate_del(ds);
}
