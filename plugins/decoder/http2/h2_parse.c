/* SPDX-License-Identifier: Apache-2.0 */
/*
 * h2_parse.c - HTTP/2 preface/upgrade, frames, HPACK (libnghttp2) and streams.
 *
 * Pure code (no core headers): http2.c calls it on the flow's worker thread,
 * the tests and fuzz_http2 call it directly. Contracts in h2_parse.h. Every
 * length comes from the peer and is checked before use; DATA payload is
 * counted, never copied.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "h2_parse.h"

#define H2_DATA 0
#define H2_HEADERS 1
#define H2_RST_STREAM 3
#define H2_SETTINGS 4
#define H2_PUSH_PROMISE 5
#define H2_CONTINUATION 9

#define H2_FL_END_STREAM 0x1
#define H2_FL_ACK 0x1
#define H2_FL_END_HEADERS 0x4
#define H2_FL_PADDED 0x8
#define H2_FL_PRIORITY 0x20

#define H2_TABLE_MAX 65536 /* largest HPACK dynamic table we agree to keep */

/* Bits kept in struct h2_dir.frames' neighbour: HPACK state unusable. */
#define H2_HPACK_BROKEN(d) ((d)->block_bytes == UINT32_MAX)

/* ---- HPACK memory -------------------------------------------------------------- */

#define H2_MEM_CLASSES 10 /* 32, 64, ... 16384 bytes */

/* In front of every block handed to nghttp2 (16 bytes keep its alignment). */
struct h2_mem_hdr {
    uint32_t cls; /* size class, or H2_MEM_CLASSES: malloc'd as is */
    uint32_t pad;
    uint64_t size; /* usable bytes after the header */
};

struct h2_mem {
    nghttp2_mem m;
    void *spare[H2_MEM_CLASSES]; /* free blocks (headers), linked by their first word */
    uint32_t n[H2_MEM_CLASSES];
};

static void *h2_mem_malloc(size_t size, void *ud)
{
    struct h2_mem *hm = ud;
    uint32_t cls = 0;
    while (cls < H2_MEM_CLASSES && ((size_t)32 << cls) < size)
        cls++;
    struct h2_mem_hdr *h;
    if (cls < H2_MEM_CLASSES && hm->spare[cls] != NULL) {
        h = hm->spare[cls];
        hm->spare[cls] = *(void **)h;
        hm->n[cls]--;
    } else {
        size_t usable = cls < H2_MEM_CLASSES ? (size_t)32 << cls : size;
        if (usable > SIZE_MAX - sizeof(*h))
            return NULL;
        h = malloc(sizeof(*h) + usable);
        if (h == NULL)
            return NULL;
        h->size = usable;
    }
    h->cls = cls;
    return h + 1;
}

static void h2_mem_dealloc(void *ptr, void *ud)
{
    struct h2_mem *hm = ud;
    if (ptr == NULL)
        return;
    struct h2_mem_hdr *h = (struct h2_mem_hdr *)ptr - 1;
    uint32_t cls = h->cls;
    if (cls >= H2_MEM_CLASSES || (uint64_t)hm->n[cls] * h->size >= H2_MEM_SPARE) {
        free(h);
        return;
    }
    *(void **)h = hm->spare[cls];
    hm->spare[cls] = h;
    hm->n[cls]++;
}

static void *h2_mem_calloc(size_t nmemb, size_t size, void *ud)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = h2_mem_malloc(nmemb * size, ud);
    if (p != NULL)
        memset(p, 0, nmemb * size);
    return p;
}

static void *h2_mem_realloc(void *ptr, size_t size, void *ud)
{
    if (ptr == NULL)
        return h2_mem_malloc(size, ud);
    if (size == 0) {
        h2_mem_dealloc(ptr, ud);
        return NULL;
    }
    struct h2_mem_hdr *h = (struct h2_mem_hdr *)ptr - 1;
    if (size <= h->size)
        return ptr;
    void *np = h2_mem_malloc(size, ud);
    if (np == NULL)
        return NULL;
    memcpy(np, ptr, h->size);
    h2_mem_dealloc(ptr, ud);
    return np;
}

/* Contract in h2_parse.h. */
struct h2_mem *h2_mem_new(void)
{
    struct h2_mem *hm = calloc(1, sizeof(*hm));
    if (hm == NULL)
        return NULL;
    hm->m.mem_user_data = hm;
    hm->m.malloc = h2_mem_malloc;
    hm->m.free = h2_mem_dealloc;
    hm->m.calloc = h2_mem_calloc;
    hm->m.realloc = h2_mem_realloc;
    return hm;
}

/* Contract in h2_parse.h. */
void h2_mem_free(struct h2_mem *hm)
{
    if (hm == NULL)
        return;
    for (int i = 0; i < H2_MEM_CLASSES; i++)
        while (hm->spare[i] != NULL) {
            void *b = hm->spare[i];
            hm->spare[i] = *(void **)b;
            free(b);
        }
    free(hm);
}

/* A new inflater for c (its allocator when it has one); 0 or an nghttp2 error. */
static int h2_inflater_new(struct h2_conn *c, nghttp2_hd_inflater **inf)
{
    return nghttp2_hd_inflate_new2(inf, c->mem != NULL ? &c->mem->m : NULL);
}

/* The connection's own frame and upgrade-head buffers and stream strings:
 * from its allocator too when it has one (c->mem is set before any data). */
static void *h2_malloc(struct h2_conn *c, size_t n)
{
    return c->mem != NULL ? h2_mem_malloc(n, c->mem) : malloc(n);
}

static void *h2_realloc(struct h2_conn *c, void *p, size_t n)
{
    return c->mem != NULL ? h2_mem_realloc(p, n, c->mem) : realloc(p, n);
}

static void h2_free(struct h2_conn *c, void *p)
{
    if (c->mem != NULL)
        h2_mem_dealloc(p, c->mem);
    else
        free(p);
}

/* ---- streams ---------------------------------------------------------------- */

static struct h2_stream *h2_stream_find(struct h2_conn *c, uint32_t id)
{
    if (c->streams == NULL)
        return NULL;
    for (uint32_t i = 0; i < c->streams_cap; i++)
        if (c->streams[i].in_use && c->streams[i].id == id)
            return &c->streams[i];
    return NULL;
}

static struct h2_stream *h2_stream_new(struct h2_conn *c, uint32_t id)
{
    if (c->n_open >= c->max_streams) {
        c->errors |= H2_E_STREAMS;
        c->streams_dropped++;
        return NULL;
    }
    if (c->n_open >= c->streams_cap) {
        /* Every slot is open: grow (H2_STREAMS_FIRST first, doubling up to
         * max_streams). Most connections keep a few streams open, so
         * max_streams slots up front (18 KiB by default) were mostly a large
         * calloc and longer scans. No stream pointer is held across this. */
        uint32_t nc = c->streams_cap ? c->streams_cap * 2 : H2_STREAMS_FIRST;
        if (nc > c->max_streams)
            nc = c->max_streams;
        struct h2_stream *ns = realloc(c->streams, nc * sizeof(*ns));
        if (ns == NULL) {
            c->errors |= H2_E_STREAMS;
            return NULL;
        }
        memset(ns + c->streams_cap, 0, (nc - c->streams_cap) * sizeof(*ns));
        c->streams = ns;
        c->streams_cap = nc;
    }
    for (uint32_t i = 0; i < c->streams_cap; i++) {
        struct h2_stream *s = &c->streams[i];
        if (!s->in_use) {
            memset(s, 0, sizeof(*s));
            s->in_use = true;
            s->id = id;
            s->ts_start = s->ts_end = c->now;
            c->n_open++;
            return s;
        }
    }
    return NULL;
}

static void h2_stream_free(struct h2_conn *c, struct h2_stream *s)
{
    for (int i = 0; i < H2_F_COUNT; i++) {
        h2_free(c, s->f[i]);
        s->f[i] = NULL;
    }
    s->in_use = false;
    if (c->n_open > 0)
        c->n_open--;
}

static void h2_stream_done(struct h2_conn *c, struct h2_stream *s)
{
    s->ts_end = c->now;
    c->streams_done++;
    if (c->cb != NULL)
        c->cb(c->cb_arg, c, s);
    h2_stream_free(c, s);
}

static void h2_stream_check(struct h2_conn *c, struct h2_stream *s)
{
    if (s != NULL && (s->reset || (s->req_end && s->resp_end)))
        h2_stream_done(c, s);
}

static void h2_set(struct h2_conn *c, struct h2_stream *s, enum h2_field f, const uint8_t *v,
                   size_t n, bool replace)
{
    if (s->f[f] != NULL && !replace)
        return;
    if (n > H2_MAX_VALUE) {
        n = H2_MAX_VALUE;
        c->errors |= H2_E_CUT;
    }
    char *p = h2_malloc(c, n + 1);
    if (p == NULL)
        return;
    memcpy(p, v, n);
    p[n] = '\0';
    h2_free(c, s->f[f]);
    s->f[f] = p;
    if (f == H2_F_AUTHORITY && c->first_authority == NULL)
        c->first_authority = strdup(p);
}

static bool h2_name_is(const nghttp2_nv *nv, const char *name)
{
    size_t n = strlen(name);
    return nv->namelen == n && memcmp(nv->name, name, n) == 0;
}

/* One decoded header of a block sent in direction dir. HPACK names are
 * lower-case on the wire (RFC 9113 8.2.1), so exact matches suffice. */
static void h2_on_header(struct h2_conn *c, int dir, struct h2_stream *s, const nghttp2_nv *nv)
{
    const uint8_t *v = nv->value;
    size_t n = nv->valuelen;
    if (dir == 0) {
        if (h2_name_is(nv, ":method"))
            h2_set(c, s, H2_F_METHOD, v, n, false);
        else if (h2_name_is(nv, ":authority") || h2_name_is(nv, "host"))
            h2_set(c, s, H2_F_AUTHORITY, v, n, false);
        else if (h2_name_is(nv, ":path"))
            h2_set(c, s, H2_F_PATH, v, n, false);
        else if (h2_name_is(nv, ":scheme"))
            h2_set(c, s, H2_F_SCHEME, v, n, false);
        else if (h2_name_is(nv, "content-type")) {
            h2_set(c, s, H2_F_REQ_CTYPE, v, n, false);
            if (n >= 16 && memcmp(v, "application/grpc", 16) == 0)
                c->grpc = true;
        } else if (h2_name_is(nv, "user-agent"))
            h2_set(c, s, H2_F_USER_AGENT, v, n, false);
    } else {
        if (h2_name_is(nv, ":status"))
            h2_set(c, s, H2_F_STATUS, v, n, false);
        else if (h2_name_is(nv, "content-type"))
            h2_set(c, s, H2_F_RESP_CTYPE, v, n, false);
        else if (h2_name_is(nv, "grpc-status"))
            h2_set(c, s, H2_F_GRPC_STATUS, v, n, true);
        else if (h2_name_is(nv, "grpc-message"))
            h2_set(c, s, H2_F_GRPC_MESSAGE, v, n, true);
    }
}

/* ---- HPACK ------------------------------------------------------------------ */

static void h2_hpack_break(struct h2_conn *c, struct h2_dir *d)
{
    c->errors |= H2_E_HPACK;
    d->block_bytes = UINT32_MAX;
}

/* Inflate one header block fragment of direction dir into stream sid (the
 * stream may be gone or skipped: the block is decoded anyway so the
 * dynamic table stays in step with the peer's encoder). */
static void h2_inflate(struct h2_conn *c, int dir, uint32_t sid, const uint8_t *p, size_t n,
                       bool final)
{
    static const uint8_t empty[1];
    struct h2_dir *d = &c->dir[dir];
    if (H2_HPACK_BROKEN(d))
        return;
    if (p == NULL) /* an empty frame has no buffer yet */
        p = empty;
    if (d->inflater == NULL) {
        nghttp2_hd_inflater *inf = NULL;
        if (h2_inflater_new(c, &inf) != 0) {
            h2_hpack_break(c, d);
            return;
        }
        d->inflater = inf;
    }
    if (n > c->max_header_block - d->block_bytes) {
        h2_hpack_break(c, d);
        return;
    }
    d->block_bytes += (uint32_t)n;
    struct h2_stream *s = d->block_skip ? NULL : h2_stream_find(c, sid);
    nghttp2_hd_inflater *inf = d->inflater;
    for (;;) {
        nghttp2_nv nv;
        int fl = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &fl, p, n, final ? 1 : 0);
        if (rv < 0) {
            h2_hpack_break(c, d);
            return;
        }
        p += rv;
        n -= (size_t)rv;
        if ((fl & NGHTTP2_HD_INFLATE_EMIT) && s != NULL)
            h2_on_header(c, d->block_push ? 0 : dir, s, &nv);
        if (fl & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inf);
            d->block_bytes = 0;
            break;
        }
        if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
            break;
    }
}

/* ---- frames ----------------------------------------------------------------- */

static void h2_kill(struct h2_conn *c, struct h2_dir *d, uint32_t err)
{
    c->errors |= err;
    d->st = H2_D_DEAD;
}

/* A header block ended: apply END_STREAM carried by its HEADERS frame. */
static void h2_block_end(struct h2_conn *c, int dir, uint32_t sid)
{
    struct h2_dir *d = &c->dir[dir];
    struct h2_stream *s = d->block_skip ? NULL : h2_stream_find(c, sid);
    d->cont_sid = 0;
    d->block_push = false;
    if (s == NULL)
        return;
    s->header_blocks[dir]++;
    s->ts_end = c->now;
    if (d->block_end_stream) {
        if (dir == 0)
            s->req_end = true;
        else
            s->resp_end = true;
    }
    h2_stream_check(c, s);
}

static void h2_frame_headers(struct h2_conn *c, int dir, const uint8_t *p, size_t n)
{
    struct h2_dir *d = &c->dir[dir];
    uint8_t fl = d->flags;
    uint32_t sid = d->sid;
    if (sid == 0) {
        h2_kill(c, d, H2_E_FRAME);
        return;
    }
    if (fl & H2_FL_PADDED) {
        if (n < 1 || p[0] > n - 1) {
            h2_kill(c, d, H2_E_FRAME);
            return;
        }
        size_t pad = p[0];
        p++;
        n -= 1 + pad;
    }
    uint32_t target = sid;
    if (d->type == H2_PUSH_PROMISE) {
        if (n < 4) {
            h2_kill(c, d, H2_E_FRAME);
            return;
        }
        target = ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) &
                 0x7fffffffu;
        p += 4;
        n -= 4;
    } else if (fl & H2_FL_PRIORITY) {
        if (n < 5) {
            h2_kill(c, d, H2_E_FRAME);
            return;
        }
        p += 5;
        n -= 5;
    }
    struct h2_stream *s = h2_stream_find(c, target);
    if (s == NULL)
        s = h2_stream_new(c, target);
    d->block_skip = s == NULL;
    d->block_push = d->type == H2_PUSH_PROMISE;
    /* A promise carries the pushed request's headers (decoded as if the
     * client had sent them), with no request body to follow. */
    d->block_end_stream = d->block_push ? false : (fl & H2_FL_END_STREAM) != 0;
    if (s != NULL && d->block_push)
        s->req_end = true;
    bool end = (fl & H2_FL_END_HEADERS) != 0;
    h2_inflate(c, dir, target, p, n, end);
    if (end)
        h2_block_end(c, dir, target);
    else
        d->cont_sid = target;
}

static void h2_frame_settings(struct h2_conn *c, int dir, const uint8_t *p, size_t n)
{
    struct h2_dir *d = &c->dir[dir];
    if (d->flags & H2_FL_ACK)
        return;
    if (n % 6 != 0 || d->sid != 0) {
        h2_kill(c, d, H2_E_FRAME);
        return;
    }
    for (size_t i = 0; i + 6 <= n; i += 6) {
        uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
        uint32_t v = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 | (uint32_t)p[i + 4] << 8 |
                     p[i + 5];
        if (id != 1)
            continue;
        /* SETTINGS_HEADER_TABLE_SIZE from this side bounds the table of the
         * blocks the other side sends. */
        struct h2_dir *o = &c->dir[!dir];
        if (v > H2_TABLE_MAX)
            v = H2_TABLE_MAX;
        if (o->inflater == NULL) {
            nghttp2_hd_inflater *inf = NULL;
            if (h2_inflater_new(c, &inf) != 0) {
                h2_hpack_break(c, o);
                continue;
            }
            o->inflater = inf;
        }
        if (o->cont_sid == 0 && !H2_HPACK_BROKEN(o) &&
            nghttp2_hd_inflate_change_table_size(o->inflater, v) != 0)
            h2_hpack_break(c, o);
    }
}

static void h2_frame_done(struct h2_conn *c, int dir)
{
    struct h2_dir *d = &c->dir[dir];
    const uint8_t *p = d->buf;
    size_t n = d->flen;
    d->frames++;
    if (d->cont_sid != 0 && d->type != H2_CONTINUATION) {
        h2_kill(c, d, H2_E_FRAME); /* RFC 9113 6.10: nothing may interleave */
        return;
    }
    switch (d->type) {
    case H2_DATA: {
        struct h2_stream *s = h2_stream_find(c, d->sid);
        if (s == NULL)
            break;
        uint32_t pad = (d->flags & H2_FL_PADDED) ? 1u + d->data_pad : 0;
        s->body_bytes[dir] += d->flen > pad ? d->flen - pad : 0;
        s->ts_end = c->now;
        if (d->flags & H2_FL_END_STREAM) {
            if (dir == 0)
                s->req_end = true;
            else
                s->resp_end = true;
            h2_stream_check(c, s);
        }
        break;
    }
    case H2_HEADERS:
    case H2_PUSH_PROMISE:
        if (d->type == H2_PUSH_PROMISE && dir != 1) {
            h2_kill(c, d, H2_E_FRAME);
            break;
        }
        h2_frame_headers(c, dir, p, n);
        break;
    case H2_CONTINUATION:
        if (d->cont_sid == 0 || d->sid != d->cont_sid) {
            h2_kill(c, d, H2_E_FRAME);
            break;
        }
        h2_inflate(c, dir, d->sid, p, n, (d->flags & H2_FL_END_HEADERS) != 0);
        if (d->flags & H2_FL_END_HEADERS)
            h2_block_end(c, dir, d->sid);
        break;
    case H2_RST_STREAM: {
        struct h2_stream *s = h2_stream_find(c, d->sid);
        if (s != NULL && n == 4) {
            s->reset = true;
            s->rst_code = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            h2_stream_check(c, s);
        }
        break;
    }
    case H2_SETTINGS:
        h2_frame_settings(c, dir, p, n);
        break;
    default:
        break;
    }
}

static bool h2_buffered(uint8_t type)
{
    return type == H2_HEADERS || type == H2_PUSH_PROMISE || type == H2_CONTINUATION ||
           type == H2_RST_STREAM || type == H2_SETTINGS;
}

/* Frames of one direction; returns bytes consumed (all unless the direction died). */
static size_t h2_frames(struct h2_conn *c, int dir, const uint8_t *data, size_t len)
{
    struct h2_dir *d = &c->dir[dir];
    size_t used = 0;
    while (used < len && d->st == H2_D_FRAMES) {
        if (d->hdr_have < 9) {
            size_t take = 9 - d->hdr_have;
            if (take > len - used)
                take = len - used;
            memcpy(d->hdr + d->hdr_have, data + used, take);
            d->hdr_have = (uint8_t)(d->hdr_have + take);
            used += take;
            if (d->hdr_have < 9)
                break;
            d->flen = (uint32_t)d->hdr[0] << 16 | (uint32_t)d->hdr[1] << 8 | d->hdr[2];
            d->type = d->hdr[3];
            d->flags = d->hdr[4];
            d->sid = ((uint32_t)d->hdr[5] << 24 | (uint32_t)d->hdr[6] << 16 |
                      (uint32_t)d->hdr[7] << 8 | d->hdr[8]) &
                     0x7fffffffu;
            d->fgot = 0;
            d->data_pad = 0;
            if (h2_buffered(d->type)) {
                if (d->flen > c->max_frame) {
                    h2_kill(c, d, H2_E_FRAME);
                    break;
                }
                if (d->flen > d->buf_cap) {
                    uint32_t nc = d->buf_cap ? d->buf_cap : 1024;
                    while (nc < d->flen)
                        nc *= 2;
                    if (nc > c->max_frame)
                        nc = c->max_frame;
                    uint8_t *nb = h2_realloc(c, d->buf, nc);
                    if (nb == NULL) {
                        h2_kill(c, d, H2_E_FRAME);
                        break;
                    }
                    d->buf = nb;
                    d->buf_cap = nc;
                }
            }
        }
        size_t take = d->flen - d->fgot;
        if (take > len - used)
            take = len - used;
        if (d->type == H2_DATA && d->fgot == 0 && take > 0)
            d->data_pad = data[used];
        if (h2_buffered(d->type) && take > 0)
            memcpy(d->buf + d->fgot, data + used, take);
        d->fgot += (uint32_t)take;
        used += take;
        if (d->fgot == d->flen) {
            d->hdr_have = 0;
            h2_frame_done(c, dir);
        }
    }
    return d->st == H2_D_DEAD ? len : used;
}

/* ---- HTTP/1.1 upgrade --------------------------------------------------------- */

/* Value of header `name` (lower-case, with ':') in an HTTP/1 head, or NULL. */
static const char *h2_h1_header(const char *head, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *line = strstr(head, "\r\n");
    while (line != NULL && line[2] != '\0' && line[2] != '\r') {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        if (eol == NULL)
            return NULL;
        if ((size_t)(eol - line) >= nl && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *e = eol;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *vlen = (size_t)(e - v);
            return v;
        }
        line = eol;
    }
    return NULL;
}

/* Collect the head of direction dir; returns bytes consumed. */
static size_t h2_h1(struct h2_conn *c, int dir, const uint8_t *data, size_t len)
{
    struct h2_dir *d = &c->dir[dir];
    if (d->h1 == NULL && (d->h1 = h2_malloc(c, H2_H1_MAX + 1)) == NULL) {
        h2_kill(c, d, H2_E_UPGRADE);
        return len;
    }
    size_t used = 0;
    /* Copy up to the end of the head: look for CRLFCRLF as bytes arrive. */
    while (used < len) {
        if (d->pre_have >= H2_H1_MAX) {
            h2_kill(c, d, H2_E_UPGRADE);
            return len;
        }
        d->h1[d->pre_have++] = (char)data[used++];
        if (d->pre_have >= 4 && memcmp(d->h1 + d->pre_have - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    if (d->pre_have < 4 || memcmp(d->h1 + d->pre_have - 4, "\r\n\r\n", 4) != 0)
        return used;
    d->h1[d->pre_have] = '\0';
    if (memchr(d->h1, '\0', d->pre_have) != NULL) {
        h2_kill(c, d, H2_E_UPGRADE);
        return len;
    }
    const char *h = d->h1;
    size_t vl;
    const char *v;
    if (dir == 0) {
        /* "METHOD SP target SP HTTP/1.1": the request is stream 1 (RFC 7540 3.2). */
        const char *sp1 = strchr(h, ' ');
        const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        const char *eol = strstr(h, "\r\n");
        struct h2_stream *s = h2_stream_find(c, 1);
        if (s == NULL)
            s = h2_stream_new(c, 1);
        if (sp1 == NULL || sp2 == NULL || sp2 > eol) {
            h2_kill(c, d, H2_E_UPGRADE);
            return len;
        }
        if (s != NULL) {
            h2_set(c, s, H2_F_METHOD, (const uint8_t *)h, (size_t)(sp1 - h), false);
            h2_set(c, s, H2_F_PATH, (const uint8_t *)sp1 + 1, (size_t)(sp2 - sp1 - 1), false);
            h2_set(c, s, H2_F_SCHEME, (const uint8_t *)"http", 4, false);
            if ((v = h2_h1_header(h, "host:", &vl)) != NULL)
                h2_set(c, s, H2_F_AUTHORITY, (const uint8_t *)v, vl, false);
            if ((v = h2_h1_header(h, "user-agent:", &vl)) != NULL)
                h2_set(c, s, H2_F_USER_AGENT, (const uint8_t *)v, vl, false);
            if ((v = h2_h1_header(h, "content-type:", &vl)) != NULL)
                h2_set(c, s, H2_F_REQ_CTYPE, (const uint8_t *)v, vl, false);
            s->req_end = true;
        }
        if ((v = h2_h1_header(h, "content-length:", &vl)) != NULL && !(vl == 1 && v[0] == '0')) {
            /* A request body before the preface: not supported (rare; curl and
             * nghttp send none with an upgrade). */
            h2_kill(c, d, H2_E_UPGRADE);
            return len;
        }
        d->st = H2_D_PREFACE;
    } else {
        if (strncmp(h, "HTTP/1.1 101", 12) != 0) {
            /* Upgrade refused: this is HTTP/1.1, not ours. */
            c->errors |= H2_E_UPGRADE;
            c->dir[0].st = H2_D_DEAD;
            d->st = H2_D_DEAD;
            struct h2_stream *s = h2_stream_find(c, 1);
            if (s != NULL)
                h2_stream_free(c, s);
            return len;
        }
        d->st = H2_D_FRAMES;
    }
    d->pre_have = 0;
    h2_free(c, d->h1);
    d->h1 = NULL;
    return used;
}

/* ---- public --------------------------------------------------------------------- */

/* Contract in h2_parse.h. */
void h2_conn_init(struct h2_conn *c, uint32_t max_frame, uint32_t max_header_block,
                  uint32_t max_streams, h2_stream_cb cb, void *arg)
{
    memset(c, 0, sizeof(*c));
    c->max_frame = max_frame < 16384 ? 16384 : max_frame;
    c->max_header_block = max_header_block < 1024 ? 1024 : max_header_block;
    c->max_streams = max_streams < 1 ? 1 : max_streams;
    c->cb = cb;
    c->cb_arg = arg;
    c->dir[0].st = H2_D_PREFACE;
    c->dir[1].st = H2_D_FRAMES;
}

/* Contract in h2_parse.h. */
void h2_conn_upgrade(struct h2_conn *c)
{
    c->upgrade = true;
    c->dir[0].st = H2_D_H1;
    c->dir[1].st = H2_D_H1;
}

/* Contract in h2_parse.h. */
bool h2_conn_feed(struct h2_conn *c, int dir, const uint8_t *data, size_t len, uint64_t ts,
                  uint64_t gap)
{
    if (dir < 0 || dir > 1)
        return true;
    struct h2_dir *d = &c->dir[dir];
    c->now = ts;
    if (gap > 0 && d->st != H2_D_DEAD) {
        /* No way to find the next frame header in a byte stream, and the
         * HPACK table may have missed an update: give this direction up. */
        h2_kill(c, d, H2_E_GAP);
    }
    while (len > 0 && d->st != H2_D_DEAD) {
        size_t used = 0;
        switch (d->st) {
        case H2_D_PREFACE: {
            size_t want = H2_PREFACE_LEN - d->pre_have;
            size_t take = len < want ? len : want;
            if (memcmp(data, &H2_PREFACE[d->pre_have], take) != 0) {
                h2_kill(c, d, H2_E_PREFACE);
                used = len;
                break;
            }
            d->pre_have += (uint32_t)take;
            used = take;
            if (d->pre_have == H2_PREFACE_LEN) {
                d->pre_have = 0;
                d->st = H2_D_FRAMES;
            }
            break;
        }
        case H2_D_H1:
            used = h2_h1(c, dir, data, len);
            break;
        case H2_D_FRAMES:
            used = h2_frames(c, dir, data, len);
            break;
        case H2_D_DEAD:
            used = len;
            break;
        }
        data += used;
        len -= used;
    }
    return c->dir[0].st != H2_D_DEAD || c->dir[1].st != H2_D_DEAD;
}

/* Contract in h2_parse.h. */
void h2_conn_close(struct h2_conn *c, uint64_t ts)
{
    c->now = ts;
    if (c->streams != NULL) {
        /* Report in stream-id order: streams are slots, pick the lowest each time. */
        for (;;) {
            struct h2_stream *lo = NULL;
            for (uint32_t i = 0; i < c->streams_cap; i++)
                if (c->streams[i].in_use && (lo == NULL || c->streams[i].id < lo->id))
                    lo = &c->streams[i];
            if (lo == NULL)
                break;
            h2_stream_done(c, lo);
        }
        free(c->streams);
        c->streams = NULL;
        c->streams_cap = 0;
    }
    for (int i = 0; i < 2; i++) {
        struct h2_dir *d = &c->dir[i];
        if (d->inflater != NULL)
            nghttp2_hd_inflate_del(d->inflater);
        d->inflater = NULL;
        h2_free(c, d->buf);
        d->buf = NULL;
        d->buf_cap = 0;
        h2_free(c, d->h1);
        d->h1 = NULL;
    }
    free(c->first_authority);
    c->first_authority = NULL;
}

static bool h2_is_token_char(uint8_t ch)
{
    return ch >= 'A' && ch <= 'Z';
}

/* Contract in h2_parse.h. */
int h2_probe_server(const uint8_t *p, size_t len)
{
    /* A server's first bytes: a non-ACK SETTINGS frame on stream 0 whose
     * length is a multiple of 6 (RFC 9113 3.4, 6.5). */
    if (len < 9)
        return 0;
    uint32_t fl = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return p[3] == H2_SETTINGS && p[4] == 0 && fl % 6 == 0 && fl <= 6 * 16 && p[5] == 0 &&
                   p[6] == 0 && p[7] == 0 && p[8] == 0 && len >= 9 + (size_t)fl
               ? 1
               : 0;
}

/* Contract in h2_parse.h. */
int h2_probe(const uint8_t *data, size_t len)
{
    if (len >= 4) {
        size_t k = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;
        if (memcmp(data, H2_PREFACE, k) == 0)
            return 1;
    }
    /* An HTTP/1.1 request line, then an Upgrade header naming h2c. */
    size_t i = 0;
    while (i < len && i < 16 && h2_is_token_char(data[i]))
        i++;
    if (i == 0 || i >= len || data[i] != ' ')
        return 0;
    size_t n = len < H2_H1_MAX ? len : H2_H1_MAX;
    for (size_t p = i; p + 10 < n; p++) {
        if (data[p] != '\n' || strncasecmp((const char *)data + p + 1, "upgrade:", 8) != 0)
            continue;
        size_t q = p + 9;
        while (q < n && data[q] != '\r' && data[q] != '\n') {
            if (q + 3 <= n && strncasecmp((const char *)data + q, "h2c", 3) == 0 &&
                (q + 3 == n || !isalnum(data[q + 3])))
                return 2;
            q++;
        }
    }
    return 0;
}

/* Contract in h2_parse.h. */
bool h2_grpc_split(const char *path, const char **svc, size_t *svc_len, const char **method,
                   size_t *method_len)
{
    if (path == NULL || path[0] != '/')
        return false;
    const char *slash = strchr(path + 1, '/');
    if (slash == NULL || slash == path + 1 || slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
        return false;
    *svc = path + 1;
    *svc_len = (size_t)(slash - path - 1);
    *method = slash + 1;
    *method_len = strcspn(slash + 1, "?");
    return *method_len > 0;
}
