/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_parse.h - HTTP/1.x message reader for decoder/http, on Debian's
 * libhttp-parser (nodejs/http-parser 2.9).
 *
 * Pure code (no core headers): one struct http_dir per direction of a
 * connection wraps an http_parser and collects what a record needs from each
 * message (method, request-target, version, status, Host, User-Agent,
 * Content-Type, Referer, declared and actual body sizes, chunked) into bounded
 * buffers, calling back when a message's headers are complete and when the
 * message is complete. Pipelined messages in one buffer are all reported, in
 * order. Bounds: header bytes per message (libhttp-parser's own limit, 80 KiB,
 * is an error; HTTP_MAX_HEADERS counted headers, further ones are ignored and
 * flagged) and every kept string (cut and flagged). After a parse error or a
 * gap the direction resynchronises on the next message start it can find.
 * Used by the plugin on its worker thread, by the tests and by fuzz_http.
 */
#ifndef NS_HTTP_PARSE_H
#define NS_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#define HTTP_MAX_URL 2048
#define HTTP_MAX_FIELD 512 /* Host, User-Agent, Content-Type, Referer values */
#define HTTP_MAX_HEADERS 128

/* The headers decoder/http keeps. */
enum http_hdr { HH_HOST = 0, HH_UA, HH_CTYPE, HH_REFERER, HH_UPGRADE, HH_COUNT, HH_OTHER = -1 };

/*
 * One message. The kept strings live in a block the direction allocates when a
 * message begins and frees when it ends, so an idle connection holds no string
 * memory (a request direction's block is 4.6 KiB, a response's 0.6 KiB: it
 * keeps only Content-Type and Upgrade). Each string is NUL-terminated, with its
 * length; a string a direction does not keep is "" with capacity 0.
 */
struct http_msg {
    bool request;
    uint8_t method;  /* enum http_method (requests)        */
    uint16_t status; /* responses                          */
    uint8_t vmajor, vminor;
    char *url;
    uint16_t url_len, url_cap;
    char *hdr[HH_COUNT];
    uint16_t hdr_len[HH_COUNT], hdr_cap[HH_COUNT];
    bool nomem; /* the string block could not be allocated: nothing kept */
    uint16_t nheaders;
    bool url_cut, hdr_cut, too_many_headers;
    bool has_clen; /* Content-Length present            */
    uint64_t clen; /* ... its value                      */
    bool chunked;
    uint64_t body_bytes; /* body bytes seen (de-chunked)       */
    bool upgrade;        /* Upgrade/CONNECT: the stream leaves HTTP */
    bool complete;       /* message end seen                    */
};

enum http_event { HTTP_EV_HEADERS = 0, HTTP_EV_COMPLETE };

/* Called with each message (valid during the call). For HTTP_EV_HEADERS of a
 * response, return true to say the response has no body (the request was
 * HEAD). Other return values are ignored. */
typedef bool (*http_msg_cb)(void *arg, struct http_msg *m, enum http_event ev);

/*
 * Spare string blocks shared by the directions of one decoder instance (one
 * thread): a message then costs no malloc/free of its block (4.6 KiB for a
 * request, too big for glibc's per-thread cache). At most `cap` spares of each
 * kind are held; beyond that a block is freed.
 */
struct http_pool {
    void *spare[2]; /* [0] response blocks, [1] request blocks; linked by their first word */
    uint32_t n[2];
    uint32_t cap;
};

/* An empty pool keeping up to cap spares of each kind. */
void http_pool_init(struct http_pool *pl, uint32_t cap);

/* Free the spares (no direction may use pl afterwards). */
void http_pool_free(struct http_pool *pl);

struct http_dir {
    http_parser p;
    struct http_msg m;
    bool request;   /* parses requests (to the server) or responses */
    bool in_msg;    /* between message begin and complete          */
    bool resync;    /* looking for the next message start          */
    bool upgraded;  /* the rest of the stream is not HTTP          */
    int cur;        /* header the current value belongs to (enum http_hdr) */
    char field[32]; /* the current header name (only short ones matter) */
    uint8_t field_len;
    bool field_long;
    bool in_value;
    char *store;            /* string block of the message in progress     */
    struct http_pool *pool; /* where blocks come from and go (NULL: malloc/free);
                               set after http_dir_init */
    uint64_t errors;        /* parse errors (each followed by a resync)    */
    /* Fast path (http_parse.c, fast_msg): a plain message whose whole header
     * block is in one piece is read without libhttp-parser, and its
     * Content-Length body is counted here instead of fed to it. */
    bool fresh;         /* p is at a message start (it can be bypassed)   */
    uint64_t body_left; /* Content-Length body bytes the fast path still counts */
    bool no_fast;       /* tests: libhttp-parser only (set after http_dir_init) */
    http_msg_cb cb;
    void *arg;
};

/* Initialise d for requests (true) or responses. */
void http_dir_init(struct http_dir *d, bool request, http_msg_cb cb, void *arg);

/* Feed stream bytes in order. `gap` > 0: bytes were lost before data; the
 * message in progress is ended (reported complete = false) and the direction
 * resynchronises. Returns false once the stream left HTTP (Upgrade, CONNECT). */
bool http_dir_feed(struct http_dir *d, const uint8_t *data, size_t len, uint64_t gap);

/* Free what d holds (a message in progress); d can be initialised again. */
void http_dir_free(struct http_dir *d);

/* Parse again after an Upgrade/CONNECT the other side refused. */
void http_dir_resume(struct http_dir *d);

/* The stream ended: a response delimited by the connection close completes;
 * any other message in progress is reported with complete = false. */
void http_dir_eof(struct http_dir *d);

/* Does data start like an HTTP/1.x request ("GET /x HTTP/1.1") or a response
 * ("HTTP/1.1 200")? A request carrying `Upgrade: h2c` is not claimed (that is
 * decoder/http2's). */
bool http_probe_request(const uint8_t *data, size_t len);
bool http_probe_response(const uint8_t *data, size_t len);

/* The value of Content-Type up to ';', trimmed, into out (size n). */
void http_mime(const char *ctype, size_t len, char *out, size_t n);

#endif
