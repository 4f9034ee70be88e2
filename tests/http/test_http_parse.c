/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http_parse.c - decoder/http's message reader (http_parse.c on
 * libhttp-parser): pipelining, split input, chunked and declared sizes, HEAD,
 * bounds on URL, header values and header count, resync after garbage and
 * gaps, the content probes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http_parse.h"

struct seen {
    int headers, complete, incomplete;
    char url[8][64];
    uint16_t status[8];
    uint64_t body[8], clen[8];
    bool chunked[8], cut[8], many[8];
    char host[8][64], ctype[8][64];
    bool head_next; /* answer "no body" for the next response headers */
};
static struct seen S;

static bool cb(void *arg, struct http_msg *m, enum http_event ev)
{
    (void)arg;
    if (ev == HTTP_EV_HEADERS) {
        S.headers++;
        bool h = S.head_next;
        S.head_next = false;
        return h;
    }
    int i = S.complete + S.incomplete;
    if (i < 8) {
        snprintf(S.url[i], sizeof(S.url[i]), "%.63s", m->url);
        S.status[i] = m->status;
        S.body[i] = m->body_bytes;
        S.clen[i] = m->clen;
        S.chunked[i] = m->chunked;
        S.cut[i] = m->url_cut || m->hdr_cut;
        S.many[i] = m->too_many_headers;
        snprintf(S.host[i], sizeof(S.host[i]), "%.63s", m->hdr[HH_HOST]);
        snprintf(S.ctype[i], sizeof(S.ctype[i]), "%.63s", m->hdr[HH_CTYPE]);
    }
    if (m->complete)
        S.complete++;
    else
        S.incomplete++;
    return false;
}

static struct http_dir D;

static void reset(void)
{
    memset(&S, 0, sizeof(S));
}

static void done(void)
{
    http_dir_free(&D);
}

static void feed(const char *s)
{
    cr_assert(http_dir_feed(&D, (const uint8_t *)s, strlen(s), 0));
}

Test(http_parse, pipelined_requests, .init = reset, .fini = done)
{
    http_dir_init(&D, true, cb, NULL);
    feed("GET /a HTTP/1.1\r\nHost: x.example\r\n\r\n"
         "POST /b?q=1 HTTP/1.1\r\nHost: y.example:8080\r\nContent-Length: 5\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\nhello"
         "HEAD /c HTTP/1.0\r\n\r\n");
    cr_assert_eq(S.complete, 3);
    cr_assert_str_eq(S.url[0], "/a");
    cr_assert_str_eq(S.host[0], "x.example");
    cr_assert_str_eq(S.url[1], "/b?q=1");
    cr_assert_eq(S.body[1], 5);
    cr_assert_eq(S.clen[1], 5);
    cr_assert_str_eq(S.ctype[1], "text/plain; charset=utf-8");
    cr_assert_str_eq(S.url[2], "/c");
}

Test(http_parse, response_split_byte_by_byte_chunked, .init = reset, .fini = done)
{
    http_dir_init(&D, false, cb, NULL);
    const char *r =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop";
    for (size_t i = 0; r[i]; i++)
        cr_assert(http_dir_feed(&D, (const uint8_t *)r + i, 1, 0));
    cr_assert_eq(S.complete, 2);
    cr_assert_eq(S.status[0], 200);
    cr_assert(S.chunked[0]);
    cr_assert_eq(S.body[0], 11);
    cr_assert_eq(S.status[1], 404);
    cr_assert_eq(S.body[1], 3);
}

Test(http_parse, head_response_has_no_body, .init = reset, .fini = done)
{
    http_dir_init(&D, false, cb, NULL);
    S.head_next = true;
    feed("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
         "HTTP/1.1 204 No Content\r\n\r\n");
    cr_assert_eq(S.complete, 2);
    cr_assert_eq(S.body[0], 0);
    cr_assert_eq(S.clen[0], 1000);
    cr_assert_eq(S.status[1], 204);
}

Test(http_parse, close_delimited_response_ends_at_eof, .init = reset, .fini = done)
{
    http_dir_init(&D, false, cb, NULL);
    feed("HTTP/1.0 200 OK\r\n\r\nbody until close");
    cr_assert_eq(S.complete, 0);
    http_dir_eof(&D);
    cr_assert_eq(S.complete, 1);
    cr_assert_eq(S.body[0], 16);
}

Test(http_parse, bounds, .init = reset, .fini = done)
{
    http_dir_init(&D, true, cb, NULL);
    static char big[70000];
    size_t n = (size_t)snprintf(big, sizeof(big), "GET /");
    memset(big + n, 'a', 3000);
    n += 3000;
    n += (size_t)snprintf(big + n, sizeof(big) - n, " HTTP/1.1\r\nUser-Agent: ");
    memset(big + n, 'u', 1000);
    n += 1000;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-H%d: v\r\n", i);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "Host: late.example\r\n\r\n");
    cr_assert(http_dir_feed(&D, (const uint8_t *)big, n, 0));
    cr_assert_eq(S.complete, 1);
    cr_assert(S.cut[0]);
    cr_assert(S.many[0]);
    cr_assert_str_eq(S.host[0], ""); /* beyond HTTP_MAX_HEADERS: not kept */
}

Test(http_parse, garbage_then_resync, .init = reset, .fini = done)
{
    http_dir_init(&D, true, cb, NULL);
    feed("GET /ok HTTP/1.1\r\n\r\n");
    feed("\x01\x02 not http at all\r\nGET /again HTTP/1.1\r\n\r\n");
    cr_assert_eq(S.complete, 2);
    cr_assert_str_eq(S.url[1], "/again");
    cr_assert_geq(D.errors, 1);
}

Test(http_parse, gap_ends_message_and_resyncs, .init = reset, .fini = done)
{
    http_dir_init(&D, false, cb, NULL);
    feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    const char *next = "tail of body\r\nHTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n";
    cr_assert(http_dir_feed(&D, (const uint8_t *)next, strlen(next), 50));
    cr_assert_eq(S.incomplete, 1);
    cr_assert_eq(S.body[0], 10);
    cr_assert_eq(S.complete, 1);
    cr_assert_eq(S.status[1], 302);
}

Test(http_parse, upgrade_leaves_http, .init = reset, .fini = done)
{
    http_dir_init(&D, false, cb, NULL);
    const char *r = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\n\r\n\x81\x05hello";
    cr_assert(!http_dir_feed(&D, (const uint8_t *)r, strlen(r), 0));
    cr_assert_eq(S.complete, 1);
    cr_assert_eq(S.status[0], 101);
}

Test(http_parse, probes)
{
    const char *ok[] = {"GET / HTTP/1.1\r\n",
                        "POST /x HTTP/1.0\r\nHost: a\r\n\r\n",
                        "GET /partial-line-with-no-end",
                        "OPTIONS * HTTP/1.1\r\n",
                        "CONNECT example.com:443 HTTP/1.1\r\n",
                        "GET http://example.com/ HTTP/1.1\r\n"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_assert(http_probe_request((const uint8_t *)ok[i], strlen(ok[i])), "%s", ok[i]);
    const char *bad[] = {"GET  HTTP/1.1\r\n",
                         "GET / SIP/2.0\r\n",
                         "get / HTTP/1.1\r\n",
                         "\x16\x03\x01\x02\x00",
                         "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                         "GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                         "Upgrade: h2c\r\n\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(!http_probe_request((const uint8_t *)bad[i], strlen(bad[i])), "%s", bad[i]);
    cr_assert(http_probe_response((const uint8_t *)"HTTP/1.1 200 OK\r\n", 17));
    cr_assert(!http_probe_response((const uint8_t *)"HTTP/2 200\r\n", 12));
    char mime[32];
    http_mime(" text/html ; charset=x", 22, mime, sizeof(mime));
    cr_assert_str_eq(mime, "text/html");
}

/* ---- fast path against libhttp-parser ----------------------------------------
 * The same input, fed in the same pieces, must give the same messages (every
 * field and kept string), errors and feed results with the fast path and with
 * libhttp-parser alone. Inputs: plain and awkward messages (the fast path's
 * edge cases), concatenated, mutated and split at random. */

struct trace {
    char buf[16384];
    size_t len;
    unsigned nresp;
    bool head_odd; /* answer "no body" to every other response */
};

static bool trace_cb(void *arg, struct http_msg *m, enum http_event ev)
{
    struct trace *t = arg;
    int n = snprintf(
        t->buf + t->len, sizeof(t->buf) - t->len,
        "%d r%d m%u s%u v%u.%u u[%s]%u/%u h[%s|%s|%s|%s|%s] nm%d nh%u c%d%d%d cl%d:%llu "
        "ch%d b%llu up%d ok%d\n",
        (int)ev, m->request, m->method, m->status, m->vmajor, m->vminor, m->url, m->url_len,
        m->url_cap, m->hdr[0], m->hdr[1], m->hdr[2], m->hdr[3], m->hdr[4], m->nomem, m->nheaders,
        m->url_cut, m->hdr_cut, m->too_many_headers, m->has_clen, (unsigned long long)m->clen,
        m->chunked, (unsigned long long)m->body_bytes, m->upgrade, m->complete);
    if (n > 0 && (size_t)n < sizeof(t->buf) - t->len)
        t->len += (size_t)n;
    if (ev == HTTP_EV_HEADERS && !m->request)
        return t->head_odd && (t->nresp++ & 1);
    return false;
}

static const char *const fast_req[] = {
    "GET /a HTTP/1.1\r\nHost: x.example\r\nUser-Agent: t/1\r\n\r\n",
    "GET /static/js/app-1.js?v=3 HTTP/1.1\r\nHost: long.example\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Referer: http://long.example/a/b/c?d=e\r\n\r\n",
    "POST /p?q=1&r=2 HTTP/1.1\r\nHost: y:8080\r\nContent-Length: 5\r\nContent-Type: a/b; "
    "c=d\r\n\r\n"
    "hello",
    "GET /c HTTP/1.1\r\nConnection: close\r\nHost: z\r\n\r\n",
    "GET /d HTTP/1.0\r\nHost: z\r\n\r\n",
    "GET /e HTTP/1.0\r\nConnection: keep-alive\r\nReferer: http://r/\r\n\r\n",
    "PUT /f HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "DELETE /g HTTP/1.1\r\nHOST:  spaced  \r\n\r\n",
    "OPTIONS * HTTP/1.1\r\n\r\n",
    "PATCH /h HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "GET /i HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    "GET /j HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    "GET /k HTTP/1.1\r\nX-Empty:\r\nHost: after-empty\r\n\r\n",
    "GET /l HTTP/1.1\r\nX-Fold: a\r\n b\r\nHost: f\r\n\r\n",
    "GET /m HTTP/1.1\nHost: lf\n\n",
    "GET /n#frag HTTP/1.1\r\n\r\n",
    "GET /o HTTP/1.1\r\nBad Name: v\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
    "GET /q HTTP/1.1\r\nUser-Agent: \xc3\xa9\r\n\r\n",
    "\r\nGET /r HTTP/1.1\r\n\r\n",
    "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
    "PURGE /s HTTP/1.1\r\n\r\n",
    "GET  /t HTTP/1.1\r\n\r\n",
    "GET /u HTTP/1.1\r\nContent-Length: 2 \r\n\r\nab",
    "GET /v HTTP/1.1\r\nConnection: close, foo\r\n\r\n",
    "GET /w HTTP/1.1\r\nProxy-Connection: close\r\n\r\n",
    "GET /x HTTP/2.0\r\n\r\n",
    "GET /y HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "garbage\r\n",
};

static const char *const fast_resp[] = {
    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\nbody",
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 22 Nov 2026 07:41:09 GMT\r\n"
    "Content-Type: application/javascript; charset=utf-8\r\nContent-Length: 12\r\n"
    "Last-Modified: Sun, 22 Nov 2026 07:00:00 GMT\r\nETag: \"6a1b-2c\"\r\n\r\n0123456789ab",
    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
    "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    "HTTP/1.1 200 OK\r\n\r\nuntil-close",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Type: \r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "HTTP/1.1 200 OK\r\nContent-Type: a\tb \r\nContent-Length: 1\r\n\r\nz",
    "HTTP/1.1 200 OK\nContent-Length: 1\n\nz",
    "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "junk",
};

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

static void run_trace(struct trace *t, bool request, bool no_fast, const uint8_t *in, size_t len,
                      const size_t *cuts, size_t ncuts, uint64_t gap_at, bool head_odd)
{
    struct http_dir d;
    memset(t, 0, sizeof(*t));
    t->head_odd = head_odd;
    http_dir_init(&d, request, trace_cb, t);
    d.no_fast = no_fast;
    size_t off = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        bool more = http_dir_feed(&d, in + off, end - off, k == gap_at ? 7 : 0);
        int n = snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "feed %d err %llu\n", more,
                         (unsigned long long)d.errors);
        if (n > 0 && (size_t)n < sizeof(t->buf) - t->len)
            t->len += (size_t)n;
        off = end;
        if (!more)
            break;
    }
    http_dir_eof(&d);
    http_dir_free(&d);
}

Test(http_parse, fast_path_matches_libhttp_parser)
{
    static struct trace a, b;
    static uint8_t in[4096];
    for (int iter = 0; iter < 30000; iter++) {
        bool request = iter & 1;
        const char *const *tab = request ? fast_req : fast_resp;
        size_t ntab = request ? sizeof(fast_req) / sizeof(fast_req[0])
                              : sizeof(fast_resp) / sizeof(fast_resp[0]);
        size_t len = 0;
        unsigned nmsg = 1 + rnd() % 4;
        for (unsigned k = 0; k < nmsg; k++) {
            /* mostly plain messages (the first entries), sometimes awkward ones */
            size_t i = rnd() % 4 ? rnd() % 5 : rnd() % ntab;
            size_t l = strlen(tab[i]);
            if (len + l > sizeof(in))
                break;
            memcpy(in + len, tab[i], l);
            len += l;
        }
        unsigned nmut = rnd() % 3 == 0 ? 1 + rnd() % 3 : 0;
        static const char mut[] = "\r\n :\t#?0A\x7f\x80";
        for (unsigned k = 0; k < nmut && len > 0; k++)
            in[rnd() % len] = (uint8_t)mut[rnd() % (sizeof(mut) - 1)];
        size_t cuts[6], ncuts = rnd() % 4 == 0 ? 0 : rnd() % 6;
        for (size_t k = 0; k < ncuts; k++)
            cuts[k] = len ? rnd() % (len + 1) : 0;
        for (size_t k = 1; k < ncuts; k++) /* sorted */
            for (size_t j = k; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t x = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = x;
            }
        uint64_t gap_at = rnd() % 8 == 0 && ncuts ? 1 + rnd() % ncuts : (uint64_t)-1;
        bool head_odd = rnd() % 4 == 0;
        run_trace(&a, request, false, in, len, cuts, ncuts, gap_at, head_odd);
        run_trace(&b, request, true, in, len, cuts, ncuts, gap_at, head_odd);
        if (a.len != b.len || memcmp(a.buf, b.buf, a.len) != 0) {
            fprintf(stderr, "input (%zu bytes, %zu cuts): %.*s\n--- fast:\n%.*s--- parser:\n%.*s",
                    len, ncuts, (int)len, in, (int)a.len, a.buf, (int)b.len, b.buf);
            cr_assert_fail("fast path differs (iteration %d)", iter);
        }
    }
}
