/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - decoder/http: HTTP/1.x as an application decoder (NS_PLUGIN_APP)
 * hosted by decoder/flow.
 *
 * decoder/flow calls app_probe/app_data/app_annotate/app_close on its worker
 * thread with each direction of the reassembled TCP stream. http_parse.c (on
 * libhttp-parser) turns each direction into messages; here requests wait in a
 * per-flow FIFO (pipelining) and each response completes the oldest one: one
 * netscope.http record per transaction. Requests still waiting when the flow
 * ends are reported without a response; responses without a request (capture
 * started mid-connection) alone. Options, fields and counters: README.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netscope/netscope.h"

#include "http_parse.h"
#include "ns_app_glue.h"

#define HTTP_TXN_POOL_DATA 512  /* pooled request: room for its strings        */
#define HTTP_HOST_IN 64         /* the flow's first Host kept inline up to this */
#define HTTP_FREE_MAX 4096      /* spare flow states / requests kept            */
#define HTTP_STORE_FREE_MAX 256 /* spare message string blocks kept, per kind   */

struct http_config {
    uint64_t max_pipeline;
};

/* A request waiting for its response: the fields the record needs, strings
 * packed after the struct. */
struct http_txn {
    struct http_txn *next;
    uint64_t ts;
    uint64_t clen, body_bytes;
    uint8_t method, vmajor, vminor;
    bool has_clen, chunked, complete, cut, many, upgrade;
    bool pooled; /* data[] has HTTP_TXN_POOL_DATA bytes: from http_ctx.txns */
    char *url, *host, *ua, *ctype, *referer; /* into data[] */
    uint32_t url_len, host_len, ua_len, ctype_len, referer_len;
    char data[];
};

struct http_flow {
    struct ns_app_state link; /* first: in http_ctx.flows (for destroy) */
    struct http_dir dir[2];   /* 0: requests, 1: responses */
    struct http_txn *head, *tail, *cur_req;
    uint32_t pending;
    uint64_t now;
    bool resp_interim; /* the response being read is 1xx */
    bool done;         /* the stream left HTTP/1 */
    bool swap;         /* the flow's initiator is the HTTP server (capture
                          began mid-connection with the server's bytes) */
    char *host;        /* first Host: for the flow record (host_in or malloc'd) */
    size_t host_len;
    struct http_ctx *c;
    char host_in[HTTP_HOST_IN];
};

struct http_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    struct http_config cfg;
    struct ns_app_state *flows; /* every live http_flow */
    /* Spare flow states, requests and message string blocks: a flow is often
     * one or two transactions, so malloc/free for each would cost more than
     * its parsing on a busy heap. */
    struct ns_app_pool fpool, txns;
    struct http_pool stores;
    ns_counter *c_req, *c_resp, *c_trans, *c_noresp, *c_noreq, *c_err, *c_gaps, *c_upgrade;
    ns_counter *c_cut, *c_overflow, *c_alloc, *c_rec_fail, *c_incomplete;
};

/* Record keys, interned at init (plugins/common/ns_rec_keys.h). */
enum http_key_id {
    HTTPK_URL_PORT,
    HTTPK_URL_ORIGINAL,
    HTTPK_HTTP_VERSION,
    HTTPK_EVENT_START,
    HTTPK_EVENT_END,
    HTTPK_EVENT_DURATION,
    HTTPK_HTTP_REQUEST_METHOD,
    HTTPK_USER_AGENT_ORIGINAL,
    HTTPK_HTTP_REQUEST_REFERRER,
    HTTPK_HTTP_REQUEST_MIME_TYPE,
    HTTPK_HTTP_REQUEST_BODY_BYTES,
    HTTPK_NETSCOPE_HTTP_REQUEST_CONTENT_LENGTH,
    HTTPK_NETSCOPE_HTTP_REQUEST_CHUNKED,
    HTTPK_NETSCOPE_HTTP_REQUEST_INCOMPLETE,
    HTTPK_NETSCOPE_HTTP_REQUEST_HEADERS_TRUNCATED,
    HTTPK_HTTP_RESPONSE_STATUS_CODE,
    HTTPK_HTTP_RESPONSE_MIME_TYPE,
    HTTPK_HTTP_RESPONSE_BODY_BYTES,
    HTTPK_NETSCOPE_HTTP_RESPONSE_CONTENT_LENGTH,
    HTTPK_NETSCOPE_HTTP_RESPONSE_CHUNKED,
    HTTPK_NETSCOPE_HTTP_RESPONSE_INCOMPLETE,
    HTTPK_NETSCOPE_HTTP_RESPONSE_HEADERS_TRUNCATED,
    HTTPK_NETSCOPE_HTTP_TRUNCATED,
    HTTPK_URL_DOMAIN,
    HTTPK_EVENT_ACTION,
    HTTPK_NETWORK_PROTOCOL,
    HTTPK_URL_PATH,
    HTTPK_URL_QUERY,
    HTTPK_URL_SCHEME,
    HTTPK_N
};
static struct ns_key http_keys[HTTPK_N] = {
    [HTTPK_URL_PORT] = {"url.port", 0},
    [HTTPK_URL_ORIGINAL] = {"url.original", 0},
    [HTTPK_HTTP_VERSION] = {"http.version", 0},
    [HTTPK_EVENT_START] = {"event.start", 0},
    [HTTPK_EVENT_END] = {"event.end", 0},
    [HTTPK_EVENT_DURATION] = {"event.duration", 0},
    [HTTPK_HTTP_REQUEST_METHOD] = {"http.request.method", 0},
    [HTTPK_USER_AGENT_ORIGINAL] = {"user_agent.original", 0},
    [HTTPK_HTTP_REQUEST_REFERRER] = {"http.request.referrer", 0},
    [HTTPK_HTTP_REQUEST_MIME_TYPE] = {"http.request.mime_type", 0},
    [HTTPK_HTTP_REQUEST_BODY_BYTES] = {"http.request.body.bytes", 0},
    [HTTPK_NETSCOPE_HTTP_REQUEST_CONTENT_LENGTH] = {"netscope.http.request.content_length", 0},
    [HTTPK_NETSCOPE_HTTP_REQUEST_CHUNKED] = {"netscope.http.request.chunked", 0},
    [HTTPK_NETSCOPE_HTTP_REQUEST_INCOMPLETE] = {"netscope.http.request.incomplete", 0},
    [HTTPK_NETSCOPE_HTTP_REQUEST_HEADERS_TRUNCATED] = {"netscope.http.request.headers_truncated",
                                                       0},
    [HTTPK_HTTP_RESPONSE_STATUS_CODE] = {"http.response.status_code", 0},
    [HTTPK_HTTP_RESPONSE_MIME_TYPE] = {"http.response.mime_type", 0},
    [HTTPK_HTTP_RESPONSE_BODY_BYTES] = {"http.response.body.bytes", 0},
    [HTTPK_NETSCOPE_HTTP_RESPONSE_CONTENT_LENGTH] = {"netscope.http.response.content_length", 0},
    [HTTPK_NETSCOPE_HTTP_RESPONSE_CHUNKED] = {"netscope.http.response.chunked", 0},
    [HTTPK_NETSCOPE_HTTP_RESPONSE_INCOMPLETE] = {"netscope.http.response.incomplete", 0},
    [HTTPK_NETSCOPE_HTTP_RESPONSE_HEADERS_TRUNCATED] = {"netscope.http.response.headers_truncated",
                                                        0},
    [HTTPK_NETSCOPE_HTTP_TRUNCATED] = {"netscope.http.truncated", 0},
    [HTTPK_URL_DOMAIN] = {"url.domain", 0},
    [HTTPK_EVENT_ACTION] = {"event.action", 0},
    [HTTPK_NETWORK_PROTOCOL] = {"network.protocol", 0},
    [HTTPK_URL_PATH] = {"url.path", 0},
    [HTTPK_URL_QUERY] = {"url.query", 0},
    [HTTPK_URL_SCHEME] = {"url.scheme", 0},
};
static int http_keys_ready;
#define HTTPK(x) (&http_keys[HTTPK_##x])
#define REC_LIT_K(h, r, k, lit) ns_key_str((h), (r), (k), (lit), sizeof(lit) - 1)

/* ---- record ----------------------------------------------------------------- */

static void add_strn(struct http_ctx *c, struct ns_record *r, const struct ns_key *key,
                     const char *s, size_t n)
{
    if (n > 0)
        ns_key_str(c->h, r, key, s, n);
}

/* url.domain and url.port from a Host value ("example.com:8080", "[::1]:80"). */
static void add_host(struct http_ctx *c, struct ns_record *r, const char *host, size_t n)
{
    const char *end = host + n;
    if (n == 0)
        return;
    const char *port = NULL;
    if (host[0] == '[') {
        const char *rb = memchr(host, ']', n);
        if (rb != NULL) {
            add_strn(c, r, HTTPK(URL_DOMAIN), host + 1, (size_t)(rb - host - 1));
            if (rb + 1 < end && rb[1] == ':')
                port = rb + 2;
        } else {
            add_strn(c, r, HTTPK(URL_DOMAIN), host, n);
        }
    } else {
        const char *colon = memchr(host, ':', n);
        add_strn(c, r, HTTPK(URL_DOMAIN), host, colon ? (size_t)(colon - host) : n);
        if (colon != NULL)
            port = colon + 1;
    }
    if (port != NULL && port < end) {
        char *e;
        unsigned long v = strtoul(port, &e, 10);
        if (e != port && *e == '\0' && v > 0 && v < 65536)
            ns_key_uint(c->h, r, HTTPK(URL_PORT), v);
    }
}

static void add_url(struct http_ctx *c, struct ns_record *r, const struct http_txn *t)
{
    const char *u = t->url;
    size_t n = t->url_len;
    if (n == 0)
        return;
    ns_key_str(c->h, r, HTTPK(URL_ORIGINAL), u, n);
    if (u[0] == '/' && t->method != HTTP_CONNECT) {
        /* Origin form of printable ASCII without '#' (nearly every request):
         * what http_parser_parse_url gives is the path up to the first '?'
         * and the query after it, so it is split here at a fraction of the
         * cost. Other bytes may make the parser fail: it decides below. */
        const char *q = NULL;
        size_t i = 0;
        for (; i < n; i++) {
            unsigned char ch = (unsigned char)u[i];
            if (ch <= ' ' || ch >= 0x7f || ch == '#')
                break;
            if (ch == '?' && q == NULL)
                q = u + i;
        }
        if (i == n) {
            add_strn(c, r, HTTPK(URL_PATH), u, q ? (size_t)(q - u) : n);
            if (q != NULL)
                add_strn(c, r, HTTPK(URL_QUERY), q + 1, (size_t)(u + n - q - 1));
            return;
        }
    }
    struct http_parser_url pu;
    http_parser_url_init(&pu);
    if (http_parser_parse_url(u, n, t->method == HTTP_CONNECT, &pu) == 0) {
        if (pu.field_set & (1 << UF_PATH))
            add_strn(c, r, HTTPK(URL_PATH), u + pu.field_data[UF_PATH].off,
                     pu.field_data[UF_PATH].len);
        if (pu.field_set & (1 << UF_QUERY))
            add_strn(c, r, HTTPK(URL_QUERY), u + pu.field_data[UF_QUERY].off,
                     pu.field_data[UF_QUERY].len);
        if ((pu.field_set & (1 << UF_HOST)) && t->host[0] == '\0') {
            add_strn(c, r, HTTPK(URL_DOMAIN), u + pu.field_data[UF_HOST].off,
                     pu.field_data[UF_HOST].len);
            if (pu.field_set & (1 << UF_PORT))
                ns_key_uint(c->h, r, HTTPK(URL_PORT), pu.port);
        }
        if (pu.field_set & (1 << UF_SCHEMA))
            add_strn(c, r, HTTPK(URL_SCHEME), u + pu.field_data[UF_SCHEMA].off,
                     pu.field_data[UF_SCHEMA].len);
    } else {
        /* Not a URL libhttp-parser accepts: path up to '?', query after. */
        const char *q = strchr(u, '?');
        add_strn(c, r, HTTPK(URL_PATH), u, q ? (size_t)(q - u) : n);
        if (q != NULL)
            add_strn(c, r, HTTPK(URL_QUERY), q + 1, strlen(q + 1));
    }
}

/* Decimal digits of v (0..255) at p; returns the count. */
static size_t put_u8(char *p, uint8_t v)
{
    size_t n = 0;
    if (v >= 100)
        p[n++] = (char)('0' + v / 100);
    if (v >= 10)
        p[n++] = (char)('0' + v / 10 % 10);
    p[n++] = (char)('0' + v % 10);
    return n;
}

/* "maj.min" (formatted by hand: snprintf costs more than the field). */
static void add_version(struct http_ctx *c, struct ns_record *r, uint8_t maj, uint8_t min)
{
    char v[8];
    size_t n = put_u8(v, maj);
    v[n++] = '.';
    n += put_u8(v + n, min);
    ns_key_str(c->h, r, HTTPK(HTTP_VERSION), v, n);
}

/* A string literal with its length (no strlen in the data path). */
#define REC_LIT(h, r, k, lit) (h)->rec_add_str((r), (k), (lit), sizeof(lit) - 1)

/* One netscope.http record: t (request) and/or m (response). */
static void http_emit(struct http_ctx *c, struct http_flow *fl, const struct http_txn *t,
                      const struct http_msg *m, uint64_t end_ts)
{
    const struct ns_host *h = c->h;
    uint64_t ts = t != NULL ? t->ts : end_ts;
    struct ns_record *r = ns_app_rec_new(c->ins, NS_REC_HTTP, ts, c->c_rec_fail);
    if (r == NULL)
        return;
    if (t != NULL && m != NULL)
        REC_LIT_K(h, r, HTTPK(EVENT_ACTION), "http_transaction");
    else if (t != NULL)
        REC_LIT_K(h, r, HTTPK(EVENT_ACTION), "http_request");
    else
        REC_LIT_K(h, r, HTTPK(EVENT_ACTION), "http_response");
    ns_key_time(h, r, HTTPK(EVENT_START), ts);
    if (m != NULL) {
        ns_key_time(h, r, HTTPK(EVENT_END), end_ts);
        if (t != NULL)
            ns_key_uint(h, r, HTTPK(EVENT_DURATION), end_ts >= t->ts ? end_ts - t->ts : 0);
    }
    /* source is the HTTP client */
    ns_app_rec_endpoints(h, r, fl->link.af, fl->swap, "http");
    bool cut = false;
    if (t != NULL) {
        ns_key_cstr(h, r, HTTPK(HTTP_REQUEST_METHOD), http_method_str((enum http_method)t->method));
        add_version(c, r, t->vmajor, t->vminor);
        add_url(c, r, t);
        add_host(c, r, t->host, t->host_len);
        if (t->ua_len)
            ns_key_str(h, r, HTTPK(USER_AGENT_ORIGINAL), t->ua, t->ua_len);
        if (t->referer_len)
            ns_key_str(h, r, HTTPK(HTTP_REQUEST_REFERRER), t->referer, t->referer_len);
        if (t->ctype_len) {
            char mime[HTTP_MAX_FIELD];
            http_mime(t->ctype, t->ctype_len, mime, sizeof(mime));
            ns_key_cstr(h, r, HTTPK(HTTP_REQUEST_MIME_TYPE), mime);
        }
        ns_key_uint(h, r, HTTPK(HTTP_REQUEST_BODY_BYTES), t->body_bytes);
        if (t->has_clen)
            ns_key_uint(h, r, HTTPK(NETSCOPE_HTTP_REQUEST_CONTENT_LENGTH), t->clen);
        if (t->chunked)
            ns_key_bool(h, r, HTTPK(NETSCOPE_HTTP_REQUEST_CHUNKED), true);
        if (!t->complete)
            ns_key_bool(h, r, HTTPK(NETSCOPE_HTTP_REQUEST_INCOMPLETE), true);
        if (t->many)
            ns_key_bool(h, r, HTTPK(NETSCOPE_HTTP_REQUEST_HEADERS_TRUNCATED), true);
        cut |= t->cut;
    }
    if (m != NULL) {
        if (t == NULL)
            add_version(c, r, m->vmajor, m->vminor);
        ns_key_uint(h, r, HTTPK(HTTP_RESPONSE_STATUS_CODE), m->status);
        if (m->hdr_len[HH_CTYPE]) {
            char mime[HTTP_MAX_FIELD];
            http_mime(m->hdr[HH_CTYPE], m->hdr_len[HH_CTYPE], mime, sizeof(mime));
            ns_key_cstr(h, r, HTTPK(HTTP_RESPONSE_MIME_TYPE), mime);
        }
        ns_key_uint(h, r, HTTPK(HTTP_RESPONSE_BODY_BYTES), m->body_bytes);
        if (m->has_clen)
            ns_key_uint(h, r, HTTPK(NETSCOPE_HTTP_RESPONSE_CONTENT_LENGTH), m->clen);
        if (m->chunked)
            ns_key_bool(h, r, HTTPK(NETSCOPE_HTTP_RESPONSE_CHUNKED), true);
        if (!m->complete)
            ns_key_bool(h, r, HTTPK(NETSCOPE_HTTP_RESPONSE_INCOMPLETE), true);
        if (m->too_many_headers)
            ns_key_bool(h, r, HTTPK(NETSCOPE_HTTP_RESPONSE_HEADERS_TRUNCATED), true);
        cut |= m->hdr_cut;
    }
    if (cut) {
        ns_key_bool(h, r, HTTPK(NETSCOPE_HTTP_TRUNCATED), true);
        ns_counter_inc(c->c_cut);
    }
    h->emit(c->ins, r);
}

/* ---- transactions ----------------------------------------------------------- */

static char *pack(char **p, const char *s, size_t n)
{
    char *at = *p;
    memcpy(at, s, n);
    at[n] = '\0';
    *p += n + 1;
    return at;
}

static struct http_txn *txn_new(struct http_ctx *c, const struct http_msg *m, uint64_t ts)
{
    size_t n = m->url_len + m->hdr_len[HH_HOST] + m->hdr_len[HH_UA] + m->hdr_len[HH_CTYPE] +
               m->hdr_len[HH_REFERER] + 5;
    bool pooled = n <= HTTP_TXN_POOL_DATA;
    struct http_txn *t = pooled ? ns_app_pool_get(&c->txns) : malloc(sizeof(*t) + n);
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->pooled = pooled;
    t->ts = ts;
    t->method = m->method;
    t->vmajor = m->vmajor;
    t->vminor = m->vminor;
    t->has_clen = m->has_clen;
    t->clen = m->clen;
    t->chunked = m->chunked;
    t->cut = m->url_cut || m->hdr_cut;
    t->many = m->too_many_headers;
    t->upgrade = m->upgrade;
    char *p = t->data;
    t->url = pack(&p, m->url, m->url_len);
    t->host = pack(&p, m->hdr[HH_HOST], m->hdr_len[HH_HOST]);
    t->ua = pack(&p, m->hdr[HH_UA], m->hdr_len[HH_UA]);
    t->ctype = pack(&p, m->hdr[HH_CTYPE], m->hdr_len[HH_CTYPE]);
    t->referer = pack(&p, m->hdr[HH_REFERER], m->hdr_len[HH_REFERER]);
    t->url_len = (uint32_t)m->url_len;
    t->host_len = (uint32_t)m->hdr_len[HH_HOST];
    t->ua_len = (uint32_t)m->hdr_len[HH_UA];
    t->ctype_len = (uint32_t)m->hdr_len[HH_CTYPE];
    t->referer_len = (uint32_t)m->hdr_len[HH_REFERER];
    return t;
}

static void txn_free(struct http_ctx *c, struct http_txn *t)
{
    if (t != NULL && t->pooled)
        ns_app_pool_put(&c->txns, t);
    else
        free(t);
}

static struct http_txn *txn_pop(struct http_flow *fl)
{
    struct http_txn *t = fl->head;
    if (t == NULL)
        return NULL;
    fl->head = t->next;
    if (fl->head == NULL)
        fl->tail = NULL;
    if (fl->cur_req == t)
        fl->cur_req = NULL;
    fl->pending--;
    return t;
}

/* Messages from http_parse (see http_msg_cb). */
static bool http_on_msg(void *arg, struct http_msg *m, enum http_event ev)
{
    struct http_flow *fl = arg;
    struct http_ctx *c = fl->c;
    if (m->request) {
        if (ev == HTTP_EV_HEADERS) {
            ns_counter_inc(c->c_req);
            if (fl->host == NULL && m->hdr_len[HH_HOST] > 0) {
                size_t hl = m->hdr_len[HH_HOST];
                fl->host = hl < sizeof(fl->host_in) ? fl->host_in : malloc(hl + 1);
                if (fl->host != NULL) {
                    memcpy(fl->host, m->hdr[HH_HOST], hl);
                    fl->host[hl] = '\0';
                    fl->host_len = hl;
                }
            }
            if (fl->pending >= c->cfg.max_pipeline) {
                struct http_txn *old = txn_pop(fl);
                http_emit(c, fl, old, NULL, fl->now);
                ns_counter_inc(c->c_overflow);
                txn_free(c, old);
            }
            struct http_txn *t = txn_new(c, m, fl->now);
            if (t == NULL) {
                ns_counter_inc(c->c_alloc);
                return false;
            }
            if (fl->tail)
                fl->tail->next = t;
            else
                fl->head = t;
            fl->tail = t;
            fl->pending++;
            fl->cur_req = t;
        } else if (fl->cur_req != NULL) {
            fl->cur_req->body_bytes = m->body_bytes;
            fl->cur_req->complete = m->complete;
            fl->cur_req = NULL;
        }
        return false;
    }
    if (ev == HTTP_EV_HEADERS) {
        ns_counter_inc(c->c_resp);
        /* 1xx (but 101) are interim: the final response follows. */
        fl->resp_interim = m->status >= 100 && m->status < 200 && m->status != 101;
        const struct http_txn *t = fl->head;
        /* A response to HEAD has no body; to CONNECT (2xx) a tunnel follows. */
        return t != NULL &&
               (t->method == HTTP_HEAD || (t->method == HTTP_CONNECT && m->status / 100 == 2));
    }
    if (fl->resp_interim) {
        fl->resp_interim = false;
        return false;
    }
    if (!m->complete)
        ns_counter_inc(c->c_incomplete);
    struct http_txn *t = txn_pop(fl);
    if (t != NULL) {
        http_emit(c, fl, t, m, fl->now);
        ns_counter_inc(c->c_trans);
        if (t->method == HTTP_CONNECT && m->status / 100 == 2)
            fl->done = true;
        txn_free(c, t);
    } else {
        http_emit(c, fl, NULL, m, fl->now);
        ns_counter_inc(c->c_noreq);
    }
    if (m->status == 101)
        fl->done = true;
    else if (!fl->done)
        http_dir_resume(&fl->dir[0]); /* an Upgrade/CONNECT refused: HTTP goes on */
    return false;
}

/* ---- app callbacks ---------------------------------------------------------- */

static int http_app_data(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *data,
                         size_t len, uint64_t ts, uint64_t gap)
{
    struct http_ctx *c = ctx;
    struct http_flow *fl = f->state;
    if (fl == NULL || fl->done)
        return NS_DECLINED;
    fl->now = ts;
    if (gap > 0)
        ns_counter_inc(c->c_gaps);
    int d = (dir == NS_APP_TO_CLIENT ? 1 : 0) ^ (fl->swap ? 1 : 0); /* 0: requests */
    uint64_t errs = fl->dir[d].errors;
    bool more = http_dir_feed(&fl->dir[d], data, len, gap);
    if (fl->dir[d].errors != errs)
        ns_counter_add(c->c_err, fl->dir[d].errors - errs);
    /* A request asking for Upgrade/CONNECT stops the request side until the
     * response says whether the protocol changes (101, 2xx to CONNECT). */
    if ((!more && d == 1) || fl->done) {
        ns_counter_inc(c->c_upgrade);
        fl->done = true;
        return NS_DECLINED; /* not HTTP/1 any more */
    }
    return NS_OK;
}

static int http_app_probe(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir,
                          const uint8_t *data, size_t len, uint64_t ts)
{
    struct http_ctx *c = ctx;
    if (f->transport != 6)
        return NS_DECLINED;
    /* Requests normally come from the initiator; when the capture began
     * mid-connection with the server's side, the roles are swapped. */
    bool req = http_probe_request(data, len);
    if (!req && !http_probe_response(data, len))
        return NS_DECLINED;
    bool swap = req == (dir == NS_APP_TO_CLIENT);
    struct http_flow *fl = ns_app_pool_get(&c->fpool);
    if (fl == NULL) {
        ns_counter_inc(c->c_alloc);
        return NS_DECLINED;
    }
    memset(fl, 0, offsetof(struct http_flow, host_in));
    fl->c = c;
    fl->swap = swap;
    http_dir_init(&fl->dir[0], true, http_on_msg, fl);
    http_dir_init(&fl->dir[1], false, http_on_msg, fl);
    fl->dir[0].pool = fl->dir[1].pool = &c->stores;
    ns_app_state_attach(&c->flows, &fl->link, f);
    /* The probed payload is ours to consume (it is not delivered again). */
    (void)http_app_data(ctx, f, dir, data, len, ts, 0);
    return NS_OK;
}

static void http_app_annotate(void *ctx, struct ns_app_flow *f, struct ns_record *rec)
{
    struct http_ctx *c = ctx;
    struct http_flow *fl = f->state;
    REC_LIT_K(c->h, rec, HTTPK(NETWORK_PROTOCOL), "http");
    if (fl != NULL && fl->host != NULL) {
        /* the Host without its port, as url.domain */
        size_t n = fl->host_len;
        const char *colon = fl->host[0] == '[' ? NULL : memchr(fl->host, ':', n);
        ns_key_str(c->h, rec, HTTPK(URL_DOMAIN), fl->host, colon ? (size_t)(colon - fl->host) : n);
    }
}

static void http_flow_free(struct http_ctx *c, struct http_flow *fl)
{
    ns_app_state_unlink(&c->flows, &fl->link);
    struct http_txn *t;
    while ((t = txn_pop(fl)) != NULL)
        txn_free(c, t);
    http_dir_free(&fl->dir[0]);
    http_dir_free(&fl->dir[1]);
    if (fl->host != fl->host_in)
        free(fl->host);
    ns_app_pool_put(&c->fpool, fl);
}

static void http_app_close(void *ctx, struct ns_app_flow *f, uint64_t ts)
{
    struct http_ctx *c = ctx;
    struct http_flow *fl = f->state;
    if (fl == NULL)
        return;
    fl->now = ts;
    /* A response delimited by the close ends now; then the requests. */
    http_dir_eof(&fl->dir[1]);
    http_dir_eof(&fl->dir[0]);
    struct http_txn *t;
    while ((t = txn_pop(fl)) != NULL) {
        http_emit(c, fl, t, NULL, ts);
        ns_counter_inc(c->c_noresp);
        txn_free(c, t);
    }
    http_flow_free(c, fl);
    f->state = NULL;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void http_destroy(void *ctx)
{
    struct http_ctx *c = ctx;
    if (c == NULL)
        return;
    struct ns_app_state *st;
    while ((st = ns_app_state_first(c->flows)) != NULL)
        http_flow_free(c, (struct http_flow *)st); /* link is its first member */
    ns_app_pool_drain(&c->fpool);
    ns_app_pool_drain(&c->txns);
    http_pool_free(&c->stores);
    free(c);
}

static int http_init(struct ns_instance *ins, const void *config, void **ctxp)
{
    struct http_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    ns_keys_ready(c->h, http_keys, HTTPK_N, &http_keys_ready);
    ns_app_pool_init(&c->fpool, sizeof(struct http_flow), HTTP_FREE_MAX);
    ns_app_pool_init(&c->txns, sizeof(struct http_txn) + HTTP_TXN_POOL_DATA, HTTP_FREE_MAX);
    http_pool_init(&c->stores, HTTP_STORE_FREE_MAX);
    memcpy(&c->cfg, config, sizeof(c->cfg));
    if (c->cfg.max_pipeline == 0)
        c->cfg.max_pipeline = 1;
    const struct ns_host *h = c->h;
    c->c_req = h->counter(ins, "requests_total", NULL, "HTTP requests seen (headers complete)");
    c->c_resp = h->counter(ins, "responses_total", NULL, "HTTP responses seen (headers complete)");
    c->c_trans =
        h->counter(ins, "transactions_total", NULL, "Request/response pairs (one record each)");
    c->c_noresp = h->counter(ins, "requests_unanswered_total", NULL,
                             "Requests reported without a response (flow ended)");
    c->c_noreq = h->counter(ins, "responses_unmatched_total", NULL,
                            "Responses whose request was not seen (reported alone)");
    c->c_err = h->counter(ins, "parse_errors_total", NULL,
                          "HTTP parse errors (the direction resynchronises)");
    c->c_gaps = h->counter(ins, "stream_gaps_total", NULL, "Gaps in HTTP streams");
    c->c_upgrade =
        h->counter(ins, "upgrades_total", NULL, "Connections that left HTTP/1 (Upgrade, CONNECT)");
    c->c_cut = h->counter(ins, "truncated_total", NULL,
                          "Records with a URL or header value cut at its bound");
    c->c_overflow = h->counter(ins, "pipeline_overflow_total", NULL,
                               "Requests reported early because max_pipeline was reached");
    c->c_incomplete = h->counter(ins, "incomplete_responses_total", NULL,
                                 "Responses cut by a gap, a parse error or the end of the flow");
    c->c_alloc = h->counter(ins, "alloc_failures_total", NULL, "Allocations that failed");
    c->c_rec_fail =
        h->counter(ins, "record_failures_total", NULL, "Records not built because rec_new failed");
    *ctxp = c;
    return 0;
}

#define OFF(f) offsetof(struct http_config, f)
static const struct ns_option http_options[] = {
    {.name = "max_pipeline",
     .type = NS_OPT_UINT,
     .def = "32",
     .min = 1,
     .max = 4096,
     .offset = OFF(max_pipeline),
     .doc = "Requests of one connection waiting for their responses; beyond it the oldest is "
            "reported without a response (counted)."},
    NS_OPT_END,
};

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "http", .version = "0.1.0",
                 .summary = "HTTP/1.x on libhttp-parser: one netscope.http record per "
                            "request/response, pipelining matched in order",
                 .flags = NS_PLUGIN_APP, .options = http_options,
                 .config_size = sizeof(struct http_config), .init = http_init,
                 .destroy = http_destroy, .app_probe = http_app_probe, .app_data = http_app_data,
                 .app_annotate = http_app_annotate, .app_close = http_app_close);
