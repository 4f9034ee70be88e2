/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http2.c - decoder/http2 plugin glue: cleartext HTTP/2 (h2c) and gRPC streams
 * in, one netscope.http2 record per stream out.
 *
 * An application decoder (NS_PLUGIN_APP): decoder/flow calls app_probe,
 * app_data, app_annotate and app_close on its worker thread with each
 * direction's reassembled TCP payload. Frame, HPACK (libnghttp2) and stream
 * handling is pure code in h2_parse.c; this file claims flows that start
 * with the HTTP/2 preface or an HTTP/1.1 `Upgrade: h2c` request, turns
 * finished streams into ECS records (gRPC fields from :path and the
 * trailers) and counts problems. HTTP/2 inside TLS (h2 via ALPN) is
 * encrypted: decoder/tls reports it, its streams are not decoded here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netscope/netscope.h"

#include "h2_parse.h"
#include "ns_app_glue.h"

struct http2_config {
    uint64_t max_frame;
    uint64_t max_header_block;
    uint64_t max_streams;
};

#define HTTP2_FREE_MAX 4096 /* spare flow states kept */

struct http2_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    struct http2_config cfg;
    ns_counter *c_flows, *c_records, *c_dropped, *c_rec_fail, *c_alloc_fail, *g_active;
    ns_counter *c_err[7];
    uint64_t active;
    struct ns_app_pool flows; /* spare flow states (bounded): no calloc/free per flow */
    struct h2_mem *mem;       /* HPACK inflaters' memory (NULL: libc's)             */
};

/* Per claimed flow. `conn` is closed (and its streams reported) when both
 * directions are done or at app_close; the authority and gRPC bit stay for
 * app_annotate. */
struct http2_flow {
    struct h2_conn conn;
    struct http2_ctx *c;
    struct ns_app_flow *f;
    bool closed;
    bool grpc;
    bool swap; /* the flow's initiator is the HTTP/2 server (capture began late) */
    char *authority;
};

#define OFF(f) offsetof(struct http2_config, f)
static const struct ns_option http2_options[] = {
    {.name = "max_frame",
     .type = NS_OPT_SIZE,
     .def = "64KiB",
     .min = 16384,
     .max = 16777215,
     .offset = OFF(max_frame),
     .doc = "Largest HEADERS/CONTINUATION/SETTINGS frame buffered (DATA is never buffered); a "
            "larger one stops decoding that direction (counted)."},
    {.name = "max_header_block",
     .type = NS_OPT_SIZE,
     .def = "64KiB",
     .min = 1024,
     .max = 16777216,
     .offset = OFF(max_header_block),
     .doc = "Largest compressed header block (HEADERS plus CONTINUATION); past it HPACK "
            "decoding of that direction stops (counted)."},
    {.name = "max_streams",
     .type = NS_OPT_UINT,
     .def = "128",
     .min = 1,
     .max = 4096,
     .offset = OFF(max_streams),
     .doc = "Open streams tracked per connection; further ones are counted and not reported."},
    NS_OPT_END};

static const char *const http2_err_names[7] = {"preface", "frame",   "hpack",    "streams",
                                               "gap",     "upgrade", "value_cut"};

/* Record keys, interned at init (plugins/common/ns_rec_keys.h). */
enum h2_key_id {
    H2K_URL_DOMAIN,
    H2K_URL_PORT,
    H2K_URL_ORIGINAL,
    H2K_URL_PATH,
    H2K_URL_QUERY,
    H2K_EVENT_START,
    H2K_EVENT_END,
    H2K_HTTP_VERSION,
    H2K_HTTP_REQUEST_METHOD,
    H2K_URL_SCHEME,
    H2K_HTTP_RESPONSE_STATUS_CODE,
    H2K_HTTP_REQUEST_MIME_TYPE,
    H2K_HTTP_RESPONSE_MIME_TYPE,
    H2K_USER_AGENT_ORIGINAL,
    H2K_HTTP_REQUEST_BODY_BYTES,
    H2K_HTTP_RESPONSE_BODY_BYTES,
    H2K_RPC_SYSTEM,
    H2K_RPC_SERVICE,
    H2K_RPC_METHOD,
    H2K_RPC_GRPC_STATUS_CODE,
    H2K_NETSCOPE_GRPC_MESSAGE,
    H2K_NETSCOPE_HTTP2_STREAM_ID,
    H2K_NETSCOPE_HTTP2_COMPLETE,
    H2K_NETSCOPE_HTTP2_RESET_CODE,
    H2K_NETSCOPE_HTTP2_UPGRADE,
    H2K_NETWORK_PROTOCOL,
    H2K_N
};
static struct ns_key h2_keys[H2K_N] = {
    [H2K_URL_DOMAIN] = {"url.domain", 0},
    [H2K_URL_PORT] = {"url.port", 0},
    [H2K_URL_ORIGINAL] = {"url.original", 0},
    [H2K_URL_PATH] = {"url.path", 0},
    [H2K_URL_QUERY] = {"url.query", 0},
    [H2K_EVENT_START] = {"event.start", 0},
    [H2K_EVENT_END] = {"event.end", 0},
    [H2K_HTTP_VERSION] = {"http.version", 0},
    [H2K_HTTP_REQUEST_METHOD] = {"http.request.method", 0},
    [H2K_URL_SCHEME] = {"url.scheme", 0},
    [H2K_HTTP_RESPONSE_STATUS_CODE] = {"http.response.status_code", 0},
    [H2K_HTTP_REQUEST_MIME_TYPE] = {"http.request.mime_type", 0},
    [H2K_HTTP_RESPONSE_MIME_TYPE] = {"http.response.mime_type", 0},
    [H2K_USER_AGENT_ORIGINAL] = {"user_agent.original", 0},
    [H2K_HTTP_REQUEST_BODY_BYTES] = {"http.request.body.bytes", 0},
    [H2K_HTTP_RESPONSE_BODY_BYTES] = {"http.response.body.bytes", 0},
    [H2K_RPC_SYSTEM] = {"rpc.system", 0},
    [H2K_RPC_SERVICE] = {"rpc.service", 0},
    [H2K_RPC_METHOD] = {"rpc.method", 0},
    [H2K_RPC_GRPC_STATUS_CODE] = {"rpc.grpc.status_code", 0},
    [H2K_NETSCOPE_GRPC_MESSAGE] = {"netscope.grpc.message", 0},
    [H2K_NETSCOPE_HTTP2_STREAM_ID] = {"netscope.http2.stream_id", 0},
    [H2K_NETSCOPE_HTTP2_COMPLETE] = {"netscope.http2.complete", 0},
    [H2K_NETSCOPE_HTTP2_RESET_CODE] = {"netscope.http2.reset_code", 0},
    [H2K_NETSCOPE_HTTP2_UPGRADE] = {"netscope.http2.upgrade", 0},
    [H2K_NETWORK_PROTOCOL] = {"network.protocol", 0},
};
static int h2_keys_ready;
#define H2K(x) (&h2_keys[H2K_##x])

/* ---- record ------------------------------------------------------------------- */

static void http2_add_url(struct http2_ctx *c, struct ns_record *r, const char *authority,
                          const char *path)
{
    const struct ns_host *h = c->h;
    if (authority != NULL) {
        /* url.domain is the host without the port; IPv6 literals keep no brackets. */
        const char *a = authority, *end = authority + strlen(authority);
        const char *colon = NULL;
        if (*a == '[') {
            const char *rb = strchr(a, ']');
            if (rb != NULL) {
                colon = rb[1] == ':' ? rb + 1 : NULL;
                ns_key_str(h, r, H2K(URL_DOMAIN), a + 1, (size_t)(rb - a - 1));
            }
        } else {
            colon = strrchr(a, ':');
            ns_key_str(h, r, H2K(URL_DOMAIN), a, colon ? (size_t)(colon - a) : (size_t)(end - a));
        }
        if (colon != NULL && colon[1] != '\0') {
            char *e;
            unsigned long port = strtoul(colon + 1, &e, 10);
            if (*e == '\0' && port > 0 && port < 65536)
                ns_key_uint(h, r, H2K(URL_PORT), port);
        }
    }
    if (path != NULL) {
        ns_key_cstr(h, r, H2K(URL_ORIGINAL), path);
        const char *q = strchr(path, '?');
        ns_key_str(h, r, H2K(URL_PATH), path, q ? (size_t)(q - path) : strlen(path));
        if (q != NULL && q[1] != '\0')
            ns_key_cstr(h, r, H2K(URL_QUERY), q + 1);
    }
}

static void http2_on_stream(void *arg, struct h2_conn *conn, struct h2_stream *s)
{
    struct http2_flow *fl = arg;
    struct http2_ctx *c = fl->c;
    const struct ns_host *h = c->h;
    const struct ns_app_flow *f = fl->f;
    (void)conn;
    if (f == NULL)
        return;
    const char *ctype = s->f[H2_F_REQ_CTYPE];
    bool grpc = ctype != NULL && strncmp(ctype, "application/grpc", 16) == 0;
    struct ns_record *r = ns_app_rec_new(c->ins, NS_REC_HTTP2, s->ts_end, c->c_rec_fail);
    if (r == NULL)
        return;
    ns_key_time(h, r, H2K(EVENT_START), s->ts_start);
    ns_key_time(h, r, H2K(EVENT_END), s->ts_end);
    /* source is the HTTP/2 client, whichever side the flow decoder saw first. */
    ns_app_rec_endpoints(h, r, f, fl->swap, grpc ? "grpc" : "http2");
    ns_key_cstr(h, r, H2K(HTTP_VERSION), "2");
    if (s->f[H2_F_METHOD] != NULL)
        ns_key_cstr(h, r, H2K(HTTP_REQUEST_METHOD), s->f[H2_F_METHOD]);
    http2_add_url(c, r, s->f[H2_F_AUTHORITY], s->f[H2_F_PATH]);
    if (s->f[H2_F_SCHEME] != NULL)
        ns_key_cstr(h, r, H2K(URL_SCHEME), s->f[H2_F_SCHEME]);
    if (s->f[H2_F_STATUS] != NULL) {
        char *e;
        unsigned long st = strtoul(s->f[H2_F_STATUS], &e, 10);
        if (*e == '\0' && e != s->f[H2_F_STATUS] && st < 1000)
            ns_key_uint(h, r, H2K(HTTP_RESPONSE_STATUS_CODE), st);
    }
    if (ctype != NULL)
        ns_key_cstr(h, r, H2K(HTTP_REQUEST_MIME_TYPE), ctype);
    if (s->f[H2_F_RESP_CTYPE] != NULL)
        ns_key_cstr(h, r, H2K(HTTP_RESPONSE_MIME_TYPE), s->f[H2_F_RESP_CTYPE]);
    if (s->f[H2_F_USER_AGENT] != NULL)
        ns_key_cstr(h, r, H2K(USER_AGENT_ORIGINAL), s->f[H2_F_USER_AGENT]);
    ns_key_uint(h, r, H2K(HTTP_REQUEST_BODY_BYTES), s->body_bytes[0]);
    ns_key_uint(h, r, H2K(HTTP_RESPONSE_BODY_BYTES), s->body_bytes[1]);
    if (grpc) {
        const char *svc, *m;
        size_t sl, ml;
        ns_key_cstr(h, r, H2K(RPC_SYSTEM), "grpc");
        if (h2_grpc_split(s->f[H2_F_PATH], &svc, &sl, &m, &ml)) {
            ns_key_str(h, r, H2K(RPC_SERVICE), svc, sl);
            ns_key_str(h, r, H2K(RPC_METHOD), m, ml);
        }
        if (s->f[H2_F_GRPC_STATUS] != NULL) {
            char *e;
            long gs = strtol(s->f[H2_F_GRPC_STATUS], &e, 10);
            if (*e == '\0' && e != s->f[H2_F_GRPC_STATUS] && gs >= 0)
                ns_key_uint(h, r, H2K(RPC_GRPC_STATUS_CODE), (uint64_t)gs);
        }
        if (s->f[H2_F_GRPC_MESSAGE] != NULL)
            ns_key_cstr(h, r, H2K(NETSCOPE_GRPC_MESSAGE), s->f[H2_F_GRPC_MESSAGE]);
    }
    ns_key_uint(h, r, H2K(NETSCOPE_HTTP2_STREAM_ID), s->id);
    ns_key_bool(h, r, H2K(NETSCOPE_HTTP2_COMPLETE), s->req_end && s->resp_end);
    if (s->reset)
        ns_key_uint(h, r, H2K(NETSCOPE_HTTP2_RESET_CODE), s->rst_code);
    if (fl->conn.upgrade)
        ns_key_bool(h, r, H2K(NETSCOPE_HTTP2_UPGRADE), true);
    h->emit(c->ins, r);
    ns_counter_inc(c->c_records);
}

static void http2_close_conn(struct http2_ctx *c, struct http2_flow *fl, uint64_t ts)
{
    if (fl->closed)
        return;
    fl->closed = true;
    if (fl->conn.first_authority != NULL && fl->authority == NULL) {
        /* Taken over (h2_conn_close would free it): no copy. */
        fl->authority = fl->conn.first_authority;
        fl->conn.first_authority = NULL;
    }
    fl->grpc = fl->conn.grpc;
    uint32_t e = fl->conn.errors;
    h2_conn_close(&fl->conn, ts);
    for (int i = 0; i < 7; i++)
        if (e & (1u << i))
            ns_counter_inc(c->c_err[i]);
    ns_counter_add(c->c_dropped, fl->conn.streams_dropped);
}

/* ---- app callbacks ----------------------------------------------------------------- */

static int http2_app_data(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir,
                          const uint8_t *data, size_t len, uint64_t ts_ns, uint64_t gap)
{
    struct http2_ctx *c = ctx;
    struct http2_flow *fl = f->state;
    if (fl == NULL || fl->closed)
        return NS_DECLINED;
    fl->f = f;
    int hdir = (dir == NS_APP_TO_CLIENT) != fl->swap ? 1 : 0;
    if (!h2_conn_feed(&fl->conn, hdir, data, len, ts_ns, gap)) {
        http2_close_conn(c, fl, ts_ns);
        return NS_DECLINED;
    }
    return NS_OK;
}

static int http2_app_probe(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir,
                           const uint8_t *data, size_t len, uint64_t ts_ns)
{
    struct http2_ctx *c = ctx;
    if (f->transport != 6)
        return NS_DECLINED;
    /* Roles from content: client bytes (preface, upgrade request) or server
     * bytes (its first SETTINGS) in either direction; when they travel the
     * "wrong" way the flow decoder took the server for the initiator. */
    bool swap = false;
    int kind = h2_probe(data, len);
    if (kind != 0) {
        swap = dir == NS_APP_TO_CLIENT;
    } else if (h2_probe_server(data, len)) {
        kind = 1;
        swap = dir == NS_APP_TO_SERVER;
    } else {
        return NS_DECLINED;
    }
    struct http2_flow *fl = ns_app_pool_get(&c->flows);
    if (fl == NULL) {
        ns_counter_inc(c->c_alloc_fail);
        return NS_DECLINED;
    }
    memset(fl, 0, sizeof(*fl));
    fl->c = c;
    fl->swap = swap;
    h2_conn_init(&fl->conn, (uint32_t)c->cfg.max_frame, (uint32_t)c->cfg.max_header_block,
                 (uint32_t)c->cfg.max_streams, http2_on_stream, fl);
    fl->conn.mem = c->mem;
    if (kind == 2)
        h2_conn_upgrade(&fl->conn);
    f->state = fl;
    ns_counter_inc(c->c_flows);
    ns_gauge_set(c->g_active, ++c->active);
    (void)http2_app_data(ctx, f, dir, data, len, ts_ns, 0);
    return NS_OK;
}

static void http2_app_annotate(void *ctx, struct ns_app_flow *f, struct ns_record *flow_rec)
{
    struct http2_ctx *c = ctx;
    struct http2_flow *fl = f->state;
    if (fl == NULL)
        return;
    bool grpc = fl->closed ? fl->grpc : fl->conn.grpc;
    const char *auth = fl->closed ? fl->authority : fl->conn.first_authority;
    ns_key_cstr(c->h, flow_rec, H2K(NETWORK_PROTOCOL), grpc ? "grpc" : "http2");
    if (auth != NULL) {
        const char *colon = auth[0] == '[' ? NULL : strrchr(auth, ':');
        ns_key_str(c->h, flow_rec, H2K(URL_DOMAIN), auth,
                   colon ? (size_t)(colon - auth) : strlen(auth));
    }
}

static void http2_app_close(void *ctx, struct ns_app_flow *f, uint64_t ts_ns)
{
    struct http2_ctx *c = ctx;
    struct http2_flow *fl = f->state;
    if (fl == NULL)
        return;
    fl->f = f;
    http2_close_conn(c, fl, ts_ns);
    free(fl->authority);
    ns_app_pool_put(&c->flows, fl);
    f->state = NULL;
    if (c->active > 0)
        c->active--;
    ns_gauge_set(c->g_active, c->active);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static int http2_init(struct ns_instance *ins, const void *config, void **ctx)
{
    struct http2_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    ns_keys_ready(c->h, h2_keys, H2K_N, &h2_keys_ready);
    ns_app_pool_init(&c->flows, sizeof(struct http2_flow), HTTP2_FREE_MAX);
    c->mem = h2_mem_new(); /* NULL: the inflaters use libc's malloc */
    memcpy(&c->cfg, config, sizeof(c->cfg));
    if (c->cfg.max_frame < 16384)
        c->cfg.max_frame = 16384;
    if (c->cfg.max_header_block < 1024)
        c->cfg.max_header_block = 1024;
    if (c->cfg.max_streams < 1)
        c->cfg.max_streams = 1;
    if (c->cfg.max_streams > 4096) /* streams are found by a linear scan */
        c->cfg.max_streams = 4096;
    const struct ns_host *h = c->h;
    c->c_flows = h->counter(ins, "http2_flows_total", NULL, "Flows claimed as HTTP/2");
    c->c_records = h->counter(ins, "http2_streams_total", NULL, "netscope.http2 records emitted");
    c->c_dropped =
        h->counter(ins, "streams_dropped_total", NULL, "Streams not tracked (max_streams open)");
    c->c_rec_fail = h->counter(ins, "record_failures_total", NULL, "Records not allocated");
    c->c_alloc_fail = h->counter(ins, "alloc_failures_total", NULL, "Flow states not allocated");
    c->g_active = h->gauge(ins, "http2_flows_active", NULL, "HTTP/2 flows with state held");
    for (int i = 0; i < 7; i++) {
        char lab[48];
        snprintf(lab, sizeof(lab), "reason=\"%s\"", http2_err_names[i]);
        c->c_err[i] = h->counter(ins, "parse_errors_total", lab,
                                 "Connections with a parse problem, by reason");
    }
    *ctx = c;
    return 0;
}

static void http2_destroy(void *ctx)
{
    struct http2_ctx *c = ctx;
    if (c == NULL)
        return;
    ns_app_pool_drain(&c->flows);
    h2_mem_free(c->mem); /* decoder/flow closed every connection (app_close) */
    free(c);
}

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "http2", .version = "0.1.0",
                 .summary = "Cleartext HTTP/2 (h2c prior knowledge and Upgrade) and gRPC: one "
                            "record per stream",
                 .options = http2_options, .config_size = sizeof(struct http2_config),
                 .flags = NS_PLUGIN_APP, .init = http2_init, .destroy = http2_destroy,
                 .app_probe = http2_app_probe, .app_data = http2_app_data,
                 .app_annotate = http2_app_annotate, .app_close = http2_app_close);
