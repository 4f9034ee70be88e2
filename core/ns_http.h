/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_http.h - the operations endpoint: a small HTTP/1.1 server on the libuv loop
 * serving GET /metrics (Prometheus text format 0.0.4, from ns_metrics), /health
 * and /ready. Started and closed by the runtime (ns_rt.c) on the loop thread;
 * every callback runs on the loop thread and nothing in it blocks.
 *
 * One request per connection (answered with Connection: close). Requests are
 * parsed by Debian's libhttp-parser. Bounded: at most max_conns connections (a
 * new one evicts the oldest that has not finished its request, else it is
 * refused), a request must arrive within request_timeout_ms, the response must be
 * taken within twice that, URLs up to 2 KiB (else 414), headers up to 8 KiB
 * (else 431), no request body beyond 1 KiB (else 413); malformed requests get
 * 400, unknown paths 404, methods other than GET and HEAD 405.
 */
#ifndef NS_HTTP_H
#define NS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct ns_http;

/* Answers /ready: true when ready; otherwise writes a one-line reason to why. */
typedef bool (*ns_http_ready_cb)(void *arg, char *why, size_t cap);

struct ns_http_opts {
    const char *listen;          /* "127.0.0.1:9109", "[::1]:9109", ":9109" (any IPv4) */
    unsigned max_conns;          /* 0: 64 */
    uint64_t request_timeout_ms; /* 0: 5000 */
    ns_http_ready_cb ready;      /* NULL: always ready */
    void *arg;
};

/*
 * Parse a listen address ("host:port" with a numeric IPv4 host or "localhost",
 * "[v6]:port", or ":port" for every IPv4 address; port 0 picks a free port).
 * Returns 0, or -EINVAL with a reason in err. Any thread.
 */
int ns_http_parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errcap);

/*
 * Bind and listen on o->listen, on loop. Returns 0 and the server in *out, or a
 * negative libuv/errno code with a one-line reason in err (e.g. "127.0.0.1:9109:
 * address already in use"); on failure any handle opened is already closing, so
 * the caller runs the loop once more before uv_loop_close(). Loop thread.
 */
int ns_http_start(uv_loop_t *loop, const struct ns_http_opts *o, struct ns_http **out, char *err,
                  size_t errcap);

/* The address actually bound ("127.0.0.1:41234"), for logs and tests. */
const char *ns_http_address(const struct ns_http *h);

/* Stop listening and close every connection; the memory is freed by the close
 * callbacks, so the caller keeps running the loop. NULL is a no-op. Loop thread. */
void ns_http_close(struct ns_http *h);

#endif
