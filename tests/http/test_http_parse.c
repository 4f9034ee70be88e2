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
