/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_http.c - the /metrics, /health and /ready endpoint (see ns_http.h).
 *
 * Loop thread only. A connection goes through READ (parse the request; the
 * request timer runs) -> WRITE (one uv_write of the whole response, reading
 * paused) -> LINGER (FIN sent, input discarded until the peer closes or a short
 * timer ends it, so unread input never turns the close into a reset that would
 * destroy the response) -> closed. Every state has a timer, so no client can hold
 * a connection for long, and the number of connections is capped.
 */
#include "ns_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_log.h"
#include "ns_metrics.h"

#define HTTP_URL_MAX 2048
#define HTTP_HEADERS_MAX 8192
#define HTTP_BODY_MAX 1024
#define HTTP_LINGER_MS 1000

enum conn_state { C_READ, C_WRITE, C_LINGER, C_CLOSING };

struct ns_http;

struct http_conn {
    uv_tcp_t tcp; /* first: handle->data is not needed to find us */
    uv_timer_t timer;
    uv_write_t wr;
    uv_shutdown_t sd;
    http_parser parser;
    struct ns_http *h;
    struct http_conn *prev, *next; /* h->conns, oldest first */
    enum conn_state state;
    int handles; /* open handles: freed when both are closed */
    int status;  /* a response decided while parsing (4xx), 0 while none */
    bool complete, head;
    char url[HTTP_URL_MAX + 1];
    size_t url_len, hdr_bytes;
    uint64_t body;
    char *resp;
    char rbuf[4096];
};

struct ns_http {
    uv_tcp_t listener;
    uv_loop_t *loop;
    struct ns_http_opts o;
    char addr[80];
    struct http_conn *head, *tail; /* open connections, oldest first */
    unsigned nconns;
    unsigned refs; /* the listener + every connection not yet freed */
    bool closing;
    http_parser_settings ps;
    ns_counter *c_accepted, *c_rejected, *c_evicted, *c_timeouts;
    ns_counter *c_code[10];
};

static const int g_codes[10] = {200, 400, 404, 405, 413, 414, 431, 500, 503, 0};

static ns_counter *code_counter(struct ns_http *h, int code)
{
    for (int i = 0; g_codes[i]; i++)
        if (g_codes[i] == code)
            return h->c_code[i];
    return h->c_code[7]; /* 500: every other code is an error of ours */
}

static void http_unref(struct ns_http *h)
{
    if (--h->refs == 0)
        free(h);
}

/* ---- addresses -------------------------------------------------------------- */

int ns_http_parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errcap)
{
    char host[64];
    const char *port;
    memset(ss, 0, sizeof(*ss));
    if (!s || !*s) {
        snprintf(err, errcap, "empty address");
        return -EINVAL;
    }
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof(host)) {
            snprintf(err, errcap, "'%s' is not [IPv6]:port", s);
            return -EINVAL;
        }
        memcpy(host, s + 1, (size_t)(e - s - 1));
        host[e - s - 1] = '\0';
        port = e + 2;
    } else {
        const char *c = strrchr(s, ':');
        if (!c || (size_t)(c - s) >= sizeof(host) || memchr(s, ':', (size_t)(c - s))) {
            snprintf(err, errcap, "'%s' is not host:port (IPv6: [addr]:port)", s);
            return -EINVAL;
        }
        memcpy(host, s, (size_t)(c - s));
        host[c - s] = '\0';
        port = c + 1;
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || errno || p > 65535 || port[0] == '-' || port[0] == '+') {
        snprintf(err, errcap, "'%s': the port must be a number from 0 to 65535", s);
        return -EINVAL;
    }
    if (s[0] == '[') {
        if (uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)ss)) {
            snprintf(err, errcap, "'%s': '%s' is not an IPv6 address", s, host);
            return -EINVAL;
        }
        return 0;
    }
    const char *h4 = !*host ? "0.0.0.0" : strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    struct in_addr a;
    /* inet_pton, not uv_ip4_addr: it refuses "1.2.3" and friends. Names other than
     * localhost would need a (blocking) resolver: numeric only. */
    if (inet_pton(AF_INET, h4, &a) != 1 || uv_ip4_addr(h4, (int)p, (struct sockaddr_in *)ss)) {
        snprintf(err, errcap, "'%s': '%s' is not a numeric IPv4 address (or localhost)", s, host);
        return -EINVAL;
    }
    return 0;
}

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(buf, cap, "%s:%u", ip, ntohs(a->sin_port));
    }
}

/* ---- connections ------------------------------------------------------------ */

static void conn_close_cb(uv_handle_t *hd)
{
    struct http_conn *c = hd->data;
    if (--c->handles > 0)
        return;
    struct ns_http *h = c->h;
    free(c->resp);
    free(c);
    http_unref(h);
}

static void conn_close(struct http_conn *c)
{
    if (c->state == C_CLOSING)
        return;
    c->state = C_CLOSING;
    struct ns_http *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        h->tail = c->prev;
    h->nconns--;
    uv_close((uv_handle_t *)&c->timer, conn_close_cb);
    uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static void conn_timeout_cb(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    if (c->state != C_LINGER)
        ns_counter_inc(c->h->c_timeouts);
    conn_close(c);
}

static const char *reason(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

static void linger_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void alloc_cb(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *c = hd->data;
    (void)suggested;
    buf->base = c->rbuf;
    buf->len = sizeof(c->rbuf);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    struct http_conn *c = req->data;
    if (c->state == C_CLOSING)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    /* Discard what the peer still sends until it closes (or the timer ends it):
     * closing with unread input would reset the connection and could destroy the
     * response before the client read it. */
    c->state = C_LINGER;
    uv_timer_start(&c->timer, conn_timeout_cb, HTTP_LINGER_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, linger_read_cb))
        conn_close(c);
}

static void write_cb(uv_write_t *req, int status)
{
    struct http_conn *c = req->data;
    free(c->resp);
    c->resp = NULL;
    if (c->state == C_CLOSING)
        return;
    if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, shutdown_cb))
        conn_close(c);
}

/* Send a complete response and end the connection after it. body may be NULL. */
static void conn_respond(struct http_conn *c, int code, const char *ctype, const char *body,
                         size_t blen, const char *extra)
{
    struct ns_http *h = c->h;
    ns_counter_inc(code_counter(h, code));
    uv_read_stop((uv_stream_t *)&c->tcp);
    char head[512];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                      code, reason(code), ctype, blen, extra ? extra : "");
    size_t send_body = c->head ? 0 : blen;
    c->resp = malloc((size_t)hl + send_body + 1);
    if (!c->resp || hl < 0 || (size_t)hl >= sizeof(head)) {
        conn_close(c);
        return;
    }
    memcpy(c->resp, head, (size_t)hl);
    if (send_body)
        memcpy(c->resp + hl, body, send_body);
    uv_buf_t b = uv_buf_init(c->resp, (unsigned)((size_t)hl + send_body));
    c->state = C_WRITE;
    /* A client that does not read its response is cut off like a slow request. */
    uv_timer_start(&c->timer, conn_timeout_cb, 2 * h->o.request_timeout_ms, 0);
    c->wr.data = c;
    c->sd.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, write_cb)) {
        free(c->resp);
        c->resp = NULL;
        conn_close(c);
    }
}

static void conn_respond_text(struct http_conn *c, int code, const char *text, const char *extra)
{
    conn_respond(c, code, "text/plain; charset=utf-8", text, strlen(text), extra);
}

static void serve_metrics(struct http_conn *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = f ? ns_metrics_write_prometheus(f) : -ENOMEM;
    if (f && fclose(f))
        rc = -EIO;
    if (rc || !buf)
        conn_respond_text(c, 500, "cannot render the metrics\n", NULL);
    else
        conn_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len, NULL);
    free(buf);
}

/* The path of the request target: origin form "/p?q", or absolute form. NULL
 * when it is neither. */
static const char *request_path(struct http_conn *c, char *out, size_t cap)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(c->url, c->url_len, 0, &u) || !(u.field_set & (1 << UF_PATH)))
        return NULL;
    size_t n = u.field_data[UF_PATH].len;
    if (n >= cap)
        return NULL;
    memcpy(out, c->url + u.field_data[UF_PATH].off, n);
    out[n] = '\0';
    return out;
}

static bool known_path(const char *p)
{
    return strcmp(p, "/") == 0 || strcmp(p, "/metrics") == 0 || strcmp(p, "/health") == 0 ||
           strcmp(p, "/healthz") == 0 || strcmp(p, "/ready") == 0 || strcmp(p, "/readyz") == 0;
}

static void conn_route(struct http_conn *c)
{
    char path[HTTP_URL_MAX + 1];
    if (!request_path(c, path, sizeof(path))) {
        conn_respond_text(c, 400, "bad request target\n", NULL);
        return;
    }
    if (!known_path(path)) {
        conn_respond_text(c, 404, "not found: try /metrics, /health or /ready\n", NULL);
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        serve_metrics(c);
    } else if (strcmp(path, "/health") == 0 || strcmp(path, "/healthz") == 0) {
        conn_respond_text(c, 200, "ok\n", NULL);
    } else if (strcmp(path, "/ready") == 0 || strcmp(path, "/readyz") == 0) {
        char why[256] = "", body[300];
        if (!c->h->o.ready || c->h->o.ready(c->h->o.arg, why, sizeof(why))) {
            conn_respond_text(c, 200, "ready\n", NULL);
        } else {
            snprintf(body, sizeof(body), "not ready: %s\n", why);
            conn_respond_text(c, 503, body, NULL);
        }
    } else {
        conn_respond_text(c, 200, "netscope: /metrics /health /ready\n", NULL);
    }
}

/* ---- http_parser callbacks (stop with a status set: a 4xx answer) ---------- */

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (c->url_len + n > HTTP_URL_MAX) {
        c->status = 414;
        return 1;
    }
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    c->url[c->url_len] = '\0';
    return 0;
}

static int on_header(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    (void)at;
    c->hdr_bytes += n;
    if (c->hdr_bytes > HTTP_HEADERS_MAX) {
        c->status = 431;
        return 1;
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    char path[HTTP_URL_MAX + 1];
    c->head = p->method == HTTP_HEAD;
    if (p->http_major != 1) {
        c->status = 400; /* HTTP/1.0 and 1.1 only; the parser takes any digit */
        return 3;
    }
    if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
        const char *pp = request_path(c, path, sizeof(path));
        c->status = pp && !known_path(pp) ? 404 : 405;
        return 3; /* any value but 0, 1 and 2 stops the parser */
    }
    /* content_length is ULLONG_MAX when the header is absent. */
    if (p->content_length != UINT64_MAX && p->content_length > HTTP_BODY_MAX) {
        c->status = 413;
        return 3;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    (void)at;
    c->body += n;
    if (c->body > HTTP_BODY_MAX) {
        c->status = 413;
        return 1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->complete = true;
    http_parser_pause(p, 1); /* one request per connection: ignore what follows */
    return 0;
}

static void conn_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct http_conn *c = s->data;
    if (c->state != C_READ)
        return;
    if (n < 0) {
        /* EOF or error before a complete request: nobody to answer. */
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    http_parser_execute(&c->parser, &c->h->ps, buf->base, (size_t)n);
    if (c->status) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s\n", reason(c->status));
        conn_respond_text(c, c->status, msg, c->status == 405 ? "Allow: GET, HEAD\r\n" : NULL);
        return;
    }
    if (c->complete) {
        conn_route(c);
        return;
    }
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_HEADER_OVERFLOW) {
        conn_respond_text(c, 431, "request header fields too large\n", NULL);
    } else if (e != HPE_OK) {
        char msg[160];
        snprintf(msg, sizeof(msg), "malformed request: %s\n", http_errno_description(e));
        conn_respond_text(c, 400, msg, NULL);
    }
}

static void linger_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct http_conn *c = s->data;
    (void)buf;
    if (n < 0)
        conn_close(c);
}

static void free_handle_cb(uv_handle_t *hd)
{
    free(hd);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct ns_http *h = server->data;
    if (status < 0 || h->closing)
        return;
    if (h->nconns >= h->o.max_conns) {
        /* Full: the oldest connection still waiting for its request makes room
         * (a slow or idle client), else the new one is refused. */
        struct http_conn *old = h->head;
        while (old && old->state != C_READ)
            old = old->next;
        if (old) {
            ns_counter_inc(h->c_evicted);
            conn_close(old);
        }
    }
    struct http_conn *c = calloc(1, sizeof(*c));
    if (!c || h->nconns >= h->o.max_conns) {
        /* Accept and close at once: an unaccepted connection would stop libuv
         * from polling the listening socket. */
        free(c);
        uv_tcp_t *t = malloc(sizeof(*t));
        ns_counter_inc(h->c_rejected);
        if (!t)
            return;
        uv_tcp_init(h->loop, t);
        uv_accept(server, (uv_stream_t *)t);
        uv_close((uv_handle_t *)t, free_handle_cb);
        return;
    }
    c->h = h;
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    h->refs++;
    c->state = C_READ;
    c->prev = h->tail;
    if (h->tail)
        h->tail->next = c;
    else
        h->head = c;
    h->tail = c;
    h->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
        conn_close(c);
        return;
    }
    ns_counter_inc(h->c_accepted);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, conn_timeout_cb, h->o.request_timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, conn_read_cb))
        conn_close(c);
}

/* ---- server ------------------------------------------------------------------ */

static void listener_close_cb(uv_handle_t *hd)
{
    http_unref(hd->data);
}

static void register_metrics(struct ns_http *h)
{
    h->c_accepted = ns_metrics_register(NS_METRIC_COUNTER, "http_connections_total", "",
                                        "Connections accepted by the /metrics endpoint.");
    h->c_rejected =
        ns_metrics_register(NS_METRIC_COUNTER, "http_connections_rejected_total", "",
                            "Connections refused because the connection limit was reached.");
    h->c_evicted = ns_metrics_register(
        NS_METRIC_COUNTER, "http_connections_evicted_total", "",
        "Connections without a complete request closed to make room for a new one.");
    h->c_timeouts =
        ns_metrics_register(NS_METRIC_COUNTER, "http_timeouts_total", "",
                            "Connections closed because the request or the response was slow.");
    for (int i = 0; g_codes[i]; i++) {
        char lab[32];
        snprintf(lab, sizeof(lab), "code=\"%d\"", g_codes[i]);
        h->c_code[i] = ns_metrics_register(NS_METRIC_COUNTER, "http_responses_total", lab,
                                           "Responses of the /metrics endpoint, by status code.");
    }
}

int ns_http_start(uv_loop_t *loop, const struct ns_http_opts *o, struct ns_http **out, char *err,
                  size_t errcap)
{
    struct sockaddr_storage ss;
    char perr[200];
    int rc;
    *out = NULL;
    if (ns_http_parse_listen(o->listen, &ss, perr, sizeof(perr))) {
        snprintf(err, errcap, "%s", perr);
        return -EINVAL;
    }
    struct ns_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    h->loop = loop;
    h->o = *o;
    if (!h->o.max_conns)
        h->o.max_conns = 64;
    if (!h->o.request_timeout_ms)
        h->o.request_timeout_ms = 5000;
    http_parser_settings_init(&h->ps);
    h->ps.on_url = on_url;
    h->ps.on_header_field = on_header;
    h->ps.on_header_value = on_header;
    h->ps.on_headers_complete = on_headers_complete;
    h->ps.on_body = on_body;
    h->ps.on_message_complete = on_message_complete;
    h->refs = 1;
    uv_tcp_init(loop, &h->listener);
    h->listener.data = h;
    if ((rc = uv_tcp_bind(&h->listener, (const struct sockaddr *)&ss, 0)) == 0)
        rc = uv_listen((uv_stream_t *)&h->listener, 128, on_connection);
    if (rc) {
        snprintf(err, errcap, "%s: cannot listen: %s", o->listen, uv_strerror(rc));
        h->closing = true;
        uv_close((uv_handle_t *)&h->listener, listener_close_cb);
        return rc;
    }
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss, &len) == 0)
        addr_str(&ss, h->addr, sizeof(h->addr));
    else
        snprintf(h->addr, sizeof(h->addr), "%s", o->listen);
    register_metrics(h);
    *out = h;
    return 0;
}

const char *ns_http_address(const struct ns_http *h)
{
    return h ? h->addr : "";
}

void ns_http_close(struct ns_http *h)
{
    if (!h || h->closing)
        return;
    h->closing = true;
    while (h->head)
        conn_close(h->head);
    uv_close((uv_handle_t *)&h->listener, listener_close_cb);
}
