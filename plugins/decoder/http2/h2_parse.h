/* SPDX-License-Identifier: Apache-2.0 */
/*
 * h2_parse.h - pure HTTP/2 (cleartext h2c) connection parsing for decoder/http2.
 *
 * Called by http2.c (the plugin, on its worker thread), by the unit tests and
 * by the fuzz target; no core headers. A struct h2_conn follows one TCP
 * connection: the caller feeds each direction's bytes in stream order; the
 * parser checks the connection preface (prior knowledge) or follows an
 * HTTP/1.1 `Upgrade: h2c` request and its `101` response, splits frames,
 * decodes header blocks with libnghttp2's HPACK inflater (one per direction,
 * fed every block so the dynamic tables stay in sync), and tracks streams.
 * When a stream is over (END_STREAM both ways or RST_STREAM), or at
 * h2_conn_close, it calls the caller's callback once with the stream.
 *
 * Bounds: control/header frames are buffered up to `max_frame` bytes (DATA is
 * never buffered), a header block (HEADERS + CONTINUATION) up to
 * `max_header_block`, `max_streams` open streams per connection, each kept
 * header value up to H2_MAX_VALUE bytes; past a bound the item is counted in
 * `errors` and skipped.
 */
#ifndef NS_H2_PARSE_H
#define NS_H2_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2_MAX_VALUE 2048  /* longer header values are cut */
#define H2_STREAMS_FIRST 4 /* stream slots allocated first (grown by doubling) */
#define H2_H1_MAX 8192     /* HTTP/1.1 upgrade request/response head */

/* Error bits (struct h2_conn.errors). */
#define H2_E_PREFACE (1u << 0) /* client did not send the preface          */
#define H2_E_FRAME (1u << 1)   /* frame too large or malformed             */
#define H2_E_HPACK (1u << 2)   /* HPACK decoding failed: headers lost      */
#define H2_E_STREAMS (1u << 3) /* more open streams than max_streams       */
#define H2_E_GAP (1u << 4)     /* bytes lost: direction abandoned          */
#define H2_E_UPGRADE (1u << 5) /* h2c upgrade not accepted / malformed     */
#define H2_E_CUT (1u << 6)     /* a header value was cut at H2_MAX_VALUE    */

/* Fields kept per stream. Strings are malloc'd, NUL-terminated, or NULL. */
enum h2_field {
    H2_F_METHOD = 0,
    H2_F_AUTHORITY,
    H2_F_PATH,
    H2_F_SCHEME,
    H2_F_REQ_CTYPE,
    H2_F_USER_AGENT,
    H2_F_STATUS,
    H2_F_RESP_CTYPE,
    H2_F_GRPC_STATUS,
    H2_F_GRPC_MESSAGE,
    H2_F_COUNT
};

struct h2_stream {
    uint32_t id;
    bool in_use;
    bool req_end, resp_end; /* END_STREAM seen from client / server */
    bool reset;
    uint32_t rst_code;
    uint8_t header_blocks[2]; /* header blocks seen per direction */
    char *f[H2_F_COUNT];
    uint64_t body_bytes[2]; /* DATA payload (padding excluded) per direction */
    uint64_t ts_start, ts_end;
};

/* Per direction (0 client->server, 1 server->client). */
enum h2_dir_state {
    H2_D_PREFACE = 0, /* client: expecting the preface                    */
    H2_D_H1,          /* upgrade: in the HTTP/1.1 request / response head */
    H2_D_FRAMES,      /* frames                                           */
    H2_D_DEAD,        /* gave up                                          */
};

struct h2_dir {
    enum h2_dir_state st;
    uint32_t pre_have; /* preface bytes matched, or H1 head bytes held     */
    uint8_t hdr[9];
    uint8_t hdr_have;
    uint8_t type, flags;
    uint32_t sid;
    uint32_t flen; /* current frame payload length                      */
    uint32_t fgot; /* payload bytes consumed so far                     */
    uint8_t *buf;  /* buffered payload (non-DATA frames)                */
    uint32_t buf_cap;
    uint8_t data_pad;  /* DATA: pad length (from the first payload byte)    */
    uint32_t cont_sid; /* != 0: a header block continues on this stream    */
    bool block_end_stream, block_skip, block_push;
    uint32_t block_bytes;
    void *inflater; /* nghttp2_hd_inflater *                             */
    char *h1;       /* upgrade: the HTTP/1.1 head being collected        */
    uint64_t frames;
};

/*
 * Memory for the connections of one decoder instance (one thread): their
 * HPACK inflaters (two per connection; each header block allocates its names
 * and values), frame and upgrade-head buffers and stream strings. On a heap
 * with many live flows glibc's malloc/free of those was most of HTTP/2's
 * cost. Blocks up to 16 KiB come from per-size spare lists (at most
 * H2_MEM_SPARE bytes of spares per size class; beyond that they are freed);
 * larger ones go to malloc.
 */
#define H2_MEM_SPARE (256u * 1024u)
struct h2_mem;

/* A new allocator, or NULL when out of memory (then leave h2_conn.mem NULL). */
struct h2_mem *h2_mem_new(void);

/* Free the allocator and its spares. Every connection that used it must
 * have been closed (h2_conn_close) first. NULL is fine. */
void h2_mem_free(struct h2_mem *m);

struct h2_conn;
/* Called once per finished stream; the stream's strings are freed after it
 * returns (take copies if needed). */
typedef void (*h2_stream_cb)(void *arg, struct h2_conn *c, struct h2_stream *s);

struct h2_conn {
    struct h2_dir dir[2];
    uint32_t max_frame, max_header_block, max_streams;
    uint32_t errors;
    bool upgrade; /* started as HTTP/1.1 Upgrade: h2c */
    bool grpc;    /* some stream was gRPC                */
    char *first_authority;
    uint64_t now;
    uint32_t n_open;
    struct h2_stream *streams; /* streams_cap slots (<= max_streams), grown when all are open */
    uint32_t streams_cap;
    uint64_t streams_done, streams_dropped;
    h2_stream_cb cb;
    void *cb_arg;
    struct h2_mem *mem; /* allocator of everything above but `streams` and
                           first_authority (NULL: libc); set after h2_conn_init */
};

/* Prepare a connection (no allocation until data arrives). */
void h2_conn_init(struct h2_conn *c, uint32_t max_frame, uint32_t max_header_block,
                  uint32_t max_streams, h2_stream_cb cb, void *arg);

/* The connection starts as an HTTP/1.1 request with `Upgrade: h2c` (h2_probe
 * returned 2): call before the first feed. */
void h2_conn_upgrade(struct h2_conn *c);

/* Feed direction `dir` bytes in stream order at time ts; `gap` > 0 abandons
 * that direction (H2_E_GAP). Returns false once both directions are dead
 * (nothing more to learn). Never reads outside data[0..len). */
bool h2_conn_feed(struct h2_conn *c, int dir, const uint8_t *data, size_t len, uint64_t ts,
                  uint64_t gap);

/* Report every stream still open (through the callback) and free all memory.
 * The connection may be initialised again afterwards. */
void h2_conn_close(struct h2_conn *c, uint64_t ts);

/* Probe: does a first payload start an h2c connection? Returns 1 for the
 * preface (or a prefix of it of at least 4 bytes), 2 for an HTTP/1.1 request
 * that asks for `Upgrade: h2c`, 0 otherwise. */
int h2_probe(const uint8_t *data, size_t len);

/* Probe the server side: 1 when a first server payload is the SETTINGS frame
 * an HTTP/2 server starts with (the capture may show it before the client's
 * preface), else 0. */
int h2_probe_server(const uint8_t *data, size_t len);

/* gRPC :path "/pkg.Service/Method" -> service and method (pointers into path,
 * lengths set). Returns false when the path does not have that shape. */
bool h2_grpc_split(const char *path, const char **svc, size_t *svc_len, const char **method,
                   size_t *method_len);

#endif
