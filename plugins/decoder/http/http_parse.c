/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_parse.c - HTTP/1.x message reader on libhttp-parser (see http_parse.h).
 * Pure and bounded; used by decoder/http on its worker thread, by the tests and
 * by fuzz_http.
 */
#include "http_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Capacity (bytes, NUL included) of each kept string, per direction. */
static const uint16_t req_caps[1 + HH_COUNT] = {HTTP_MAX_URL,   HTTP_MAX_FIELD, HTTP_MAX_FIELD,
                                                HTTP_MAX_FIELD, HTTP_MAX_FIELD, 64};
static const uint16_t resp_caps[1 + HH_COUNT] = {0, 0, 0, HTTP_MAX_FIELD, 0, 64};
static char empty_str[1];

static size_t store_size(bool request)
{
    const uint16_t *caps = request ? req_caps : resp_caps;
    size_t total = 0;
    for (int i = 0; i <= HH_COUNT; i++)
        total += caps[i];
    return total;
}

void http_pool_init(struct http_pool *pl, uint32_t cap)
{
    memset(pl, 0, sizeof(*pl));
    pl->cap = cap;
}

void http_pool_free(struct http_pool *pl)
{
    for (int k = 0; k < 2; k++) {
        while (pl->spare[k] != NULL) {
            void *b = pl->spare[k];
            pl->spare[k] = *(void **)b;
            free(b);
        }
        pl->n[k] = 0;
    }
}

/* A string block for d's kind of message, or NULL. */
static char *store_get(struct http_dir *d)
{
    struct http_pool *pl = d->pool;
    int k = d->request ? 1 : 0;
    if (pl != NULL && pl->spare[k] != NULL) {
        char *b = pl->spare[k];
        pl->spare[k] = *(void **)b;
        pl->n[k]--;
        return b;
    }
    return malloc(store_size(d->request));
}

static void store_put(struct http_dir *d, char *b)
{
    struct http_pool *pl = d->pool;
    int k = d->request ? 1 : 0;
    if (b == NULL)
        return;
    if (pl == NULL || pl->n[k] >= pl->cap) {
        free(b);
        return;
    }
    *(void **)b = pl->spare[k];
    pl->spare[k] = b;
    pl->n[k]++;
}

/* Point every string of m at d's block (allocated on first use), or at ""
 * when there is none. */
static void msg_bind(struct http_dir *d)
{
    struct http_msg *m = &d->m;
    const uint16_t *caps = d->request ? req_caps : resp_caps;
    if (d->store == NULL)
        d->store = store_get(d);
    m->nomem = d->store == NULL;
    char *p = d->store;
    for (int i = 0; i <= HH_COUNT; i++) {
        uint16_t cap = m->nomem ? 0 : caps[i];
        char *at = cap ? p : empty_str;
        if (cap)
            at[0] = '\0';
        p += cap;
        if (i == 0) {
            m->url = at;
            m->url_cap = cap;
            m->url_len = 0;
        } else {
            m->hdr[i - 1] = at;
            m->hdr_cap[i - 1] = cap;
            m->hdr_len[i - 1] = 0;
        }
    }
}

/* The message ended: give its strings back. */
static void msg_unbind(struct http_dir *d)
{
    store_put(d, d->store);
    d->store = NULL;
    d->m.url = empty_str;
    d->m.url_cap = d->m.url_len = 0;
    for (int i = 0; i < HH_COUNT; i++) {
        d->m.hdr[i] = empty_str;
        d->m.hdr_cap[i] = d->m.hdr_len[i] = 0;
    }
}

/* Append s to a kept string, cut at its bound. A NUL byte (libhttp-parser
 * lets it through in header values) becomes '?', so the kept value stays one
 * C string of length *len. */
static void cut_append(char *buf, uint16_t *len, size_t cap, bool *cut, const char *s, size_t n)
{
    if (cap == 0)
        return; /* not kept in this direction */
    size_t room = cap - 1 - *len;
    if (n > room) {
        n = room;
        *cut = true;
    }
    for (size_t i = 0; i < n; i++)
        buf[*len + i] = s[i] != '\0' ? s[i] : '?';
    *len = (uint16_t)(*len + n);
    buf[*len] = '\0';
}

static int on_begin(http_parser *p)
{
    struct http_dir *d = p->data;
    struct http_msg *m = &d->m;
    d->fresh = false;
    m->request = d->request;
    m->method = 0;
    m->status = 0;
    m->vmajor = m->vminor = 0;
    msg_bind(d);
    m->nheaders = 0;
    m->url_cut = m->hdr_cut = m->too_many_headers = false;
    m->has_clen = m->chunked = m->upgrade = m->complete = false;
    m->clen = m->body_bytes = 0;
    d->in_msg = true;
    d->cur = HH_OTHER;
    d->field_len = 0;
    d->field_long = false;
    d->in_value = true; /* the next field callback starts a header */
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_dir *d = p->data;
    cut_append(d->m.url, &d->m.url_len, d->m.url_cap, &d->m.url_cut, at, n);
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    struct http_dir *d = p->data;
    if (d->in_value) { /* a new header (its name may come in pieces) */
        d->in_value = false;
        d->field_len = 0;
        d->field_long = false;
        d->cur = HH_OTHER;
        if (d->m.nheaders < UINT16_MAX)
            d->m.nheaders++;
    }
    if (d->field_len + n >= sizeof(d->field)) {
        d->field_long = true; /* not one of ours */
        return 0;
    }
    memcpy(d->field + d->field_len, at, n);
    d->field_len = (uint8_t)(d->field_len + n);
    return 0;
}

/* Which kept header the name f[0..n) is (case-insensitive), by length first:
 * called for every header of every message. */
static int hdr_index(const char *f, size_t n)
{
    switch (n) {
    case 4:
        return strncasecmp(f, "host", 4) == 0 ? HH_HOST : HH_OTHER;
    case 7:
        if (strncasecmp(f, "referer", 7) == 0)
            return HH_REFERER;
        return strncasecmp(f, "upgrade", 7) == 0 ? HH_UPGRADE : HH_OTHER;
    case 10:
        return strncasecmp(f, "user-agent", 10) == 0 ? HH_UA : HH_OTHER;
    case 12:
        return strncasecmp(f, "content-type", 12) == 0 ? HH_CTYPE : HH_OTHER;
    default:
        return HH_OTHER;
    }
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    struct http_dir *d = p->data;
    struct http_msg *m = &d->m;
    if (!d->in_value) { /* the first piece of this header's value */
        d->in_value = true;
        if (m->nheaders > HTTP_MAX_HEADERS) {
            m->too_many_headers = true;
            d->cur = HH_OTHER;
        } else {
            d->cur = d->field_long ? HH_OTHER : hdr_index(d->field, d->field_len);
            /* First occurrence wins (a repeated Host is suspicious, not ours). */
            if (d->cur != HH_OTHER && m->hdr_len[d->cur] != 0)
                d->cur = HH_OTHER;
        }
    }
    if (d->cur != HH_OTHER)
        cut_append(m->hdr[d->cur], &m->hdr_len[d->cur], m->hdr_cap[d->cur], &m->hdr_cut, at, n);
    return 0;
}

/* The header block of d's message ended (from libhttp-parser or the fast
 * path): fill in the rest of the message and report its headers. True: a
 * response has no body. */
static bool headers_done(struct http_dir *d, unsigned method, unsigned status, unsigned vmajor,
                         unsigned vminor, unsigned flags, uint64_t clen, bool upgrade)
{
    struct http_msg *m = &d->m;
    m->method = (uint8_t)method;
    m->status = (uint16_t)status;
    m->vmajor = (uint8_t)vmajor;
    m->vminor = (uint8_t)vminor;
    m->chunked = (flags & F_CHUNKED) != 0;
    m->has_clen = (flags & F_CONTENTLENGTH) != 0;
    m->clen = m->has_clen ? clen : 0;
    m->upgrade = upgrade || (d->request && method == HTTP_CONNECT);
    bool skip = d->cb(d->arg, m, HTTP_EV_HEADERS);
    return !d->request && skip;
}

static int on_headers_complete(http_parser *p)
{
    return headers_done(p->data, p->method, p->status_code, p->http_major, p->http_minor, p->flags,
                        p->content_length, p->upgrade)
               ? 1
               : 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    (void)at;
    struct http_dir *d = p->data;
    d->m.body_bytes += n;
    return 0;
}

/* d's message ended (from libhttp-parser or the fast path). */
static void msg_done(struct http_dir *d)
{
    d->m.complete = true;
    d->in_msg = false;
    d->cb(d->arg, &d->m, HTTP_EV_COMPLETE);
    msg_unbind(d);
}

static int on_complete(http_parser *p)
{
    struct http_dir *d = p->data;
    /* libhttp-parser (not built strict) is at the next message start, even
     * after Connection: close. */
    d->fresh = true;
    msg_done(d);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* A fresh libhttp-parser for d, at a message start; no fast-path state. */
static void parser_reset(struct http_dir *d)
{
    http_parser_init(&d->p, d->request ? HTTP_REQUEST : HTTP_RESPONSE);
    d->p.data = d;
    d->fresh = true;
    d->body_left = 0;
}

void http_dir_init(struct http_dir *d, bool request, http_msg_cb cb, void *arg)
{
    memset(d, 0, sizeof(*d));
    d->request = request;
    d->cb = cb;
    d->arg = arg;
    d->cur = HH_OTHER;
    msg_unbind(d);
    parser_reset(d);
}

void http_dir_free(struct http_dir *d)
{
    msg_unbind(d);
    d->in_msg = false;
}

/* End the message in progress without its end (gap, error, end of stream):
 * reported only when its headers were complete (the record needs them). */
static void end_partial(struct http_dir *d)
{
    if (d->in_msg && d->m.vmajor != 0) { /* vmajor: set when the headers were complete */
        d->m.complete = false;
        d->cb(d->arg, &d->m, HTTP_EV_COMPLETE);
    }
    d->in_msg = false;
    msg_unbind(d);
}

static const char *const methods[] = {"GET ",   "POST ",    "HEAD ",    "PUT ",  "DELETE ",
                                      "PATCH ", "OPTIONS ", "CONNECT ", "TRACE "};

static bool starts_request(const uint8_t *d, size_t n)
{
    /* Every method starts with an upper-case letter in "CDGHOPT". */
    if (n < 4 || d[0] < 'C' || d[0] > 'T')
        return false;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t l = strlen(methods[i]);
        if (n >= l && d[0] == (uint8_t)methods[i][0] && memcmp(d, methods[i], l) == 0)
            return true;
    }
    return false;
}

static bool starts_response(const uint8_t *d, size_t n)
{
    return n >= 7 && memcmp(d, "HTTP/1.", 7) == 0;
}

/* Offset of the first message start in data (at 0 or after a '\n'), or len. */
static size_t find_start(const struct http_dir *d, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && data[i - 1] != '\n')
            continue;
        if (d->request ? starts_request(data + i, len - i) : starts_response(data + i, len - i))
            return i;
    }
    return len;
}

/* ---- fast path ---------------------------------------------------------------
 * Most messages are plain: a known method, an origin-form URL, HTTP/1.0 or
 * 1.1, CRLF lines, token header names, printable values, at most one
 * Content-Length, no Transfer-Encoding or Upgrade. When such a
 * message's whole header block is in the piece at hand and libhttp-parser is
 * at a message start, fast_msg reads it in two passes (check, then the same
 * callbacks libhttp-parser would make) and the body is counted, not parsed.
 * Anything else, or a header block split across pieces, returns 0 and
 * libhttp-parser reads the message from its first byte, so results never
 * depend on the path taken. libhttp-parser's state machine costs ~25
 * instructions per header byte; this is a few per byte. */

#define FAST_MAX_HDR 8192 /* header block bytes the fast path looks at */
#define FAST_MAX_FIELDS 48

struct fast_field {
    uint16_t val, val_len;
    int8_t hh; /* enum http_hdr */
};

/* Byte classes: 1 header-name byte (letters, digits, '-', '_': a subset of
 * libhttp-parser's tokens), 2 header-value byte (printable ASCII, SP, HTAB),
 * 4 request-target byte (printable ASCII but '#'). */
#define FC_NAME 1
#define FC_VALUE 2
#define FC_URL 4
static const uint8_t fast_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 6, 6, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 7,
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* cut_append for a string still empty, from bytes with no NUL (the fast
 * path's classes exclude it): one memcpy. */
static void fast_put(char *buf, uint16_t *len, size_t cap, bool *cut, const uint8_t *s, size_t n)
{
    if (cap == 0)
        return; /* not kept in this direction */
    if (n > cap - 1) {
        n = cap - 1;
        *cut = true;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    *len = (uint16_t)n;
}

/* The end of the header-value bytes (FC_VALUE) from i on, at most lim:
 * eight at a time while none is a control byte or >= 0x7f (values are most
 * of a header block), then byte by byte (HTAB, the CR at the end). */
static size_t skip_value(const uint8_t *data, size_t i, size_t lim)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (i + 8 <= lim) {
        uint64_t x;
        memcpy(&x, data + i, 8);
        /* some byte < 0x20, or some byte >= 0x7f (exact as a whole word) */
        uint64_t low = (x - ones * 0x20) & ~x & highs;
        uint64_t high = ((x + ones * (0x7f - 0x7e)) | x) & highs;
        if ((low | high) != 0)
            break;
        i += 8;
    }
    while (i < lim && (fast_class[data[i]] & FC_VALUE))
        i++;
    return i;
}

/* Does the header name f[0..n) (bytes of class FC_NAME) equal lit (lower
 * case, same length)? ASCII letters fold with |0x20; the other name bytes
 * cannot fold onto a letter or '-'. */
static bool name_is(const uint8_t *f, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((f[i] | 0x20) != (uint8_t)lit[i])
            return false;
    return true;
}

/* The method at d (with its space) as enum http_method, its length in *n;
 * -1 when it is not one the fast path takes. */
static int fast_method(const uint8_t *d, size_t len, size_t *n)
{
    static const struct {
        char s[9];
        uint8_t n, m;
    } tab[] = {{"GET ", 4, HTTP_GET},    {"POST ", 5, HTTP_POST},     {"HEAD ", 5, HTTP_HEAD},
               {"PUT ", 4, HTTP_PUT},    {"DELETE ", 7, HTTP_DELETE}, {"OPTIONS ", 8, HTTP_OPTIONS},
               {"PATCH ", 6, HTTP_PATCH}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (len > tab[i].n && d[0] == (uint8_t)tab[i].s[0] && memcmp(d, tab[i].s, tab[i].n) == 0) {
            *n = tab[i].n;
            return tab[i].m;
        }
    }
    return -1;
}

/* Count body bytes of the fast message in progress; its end completes it. */
static size_t fast_body(struct http_dir *d, size_t len)
{
    size_t n = d->body_left < len ? (size_t)d->body_left : len;
    d->m.body_bytes += n;
    d->body_left -= n;
    if (d->body_left == 0) {
        msg_done(d);
        d->fresh = true;
    }
    return n;
}

/* Read one plain message from data (see above); bytes consumed, 0 when
 * libhttp-parser must read it. d->fresh on entry. */
static size_t fast_msg(struct http_dir *d, const uint8_t *data, size_t len)
{
    size_t lim = len < FAST_MAX_HDR ? len : FAST_MAX_HDR;
    size_t i, url = 0, url_len = 0;
    int method = d->p.method;
    unsigned status = d->p.status_code, minor;
    if (d->request) {
        method = fast_method(data, lim, &i);
        if (method < 0 || data[i] != '/')
            return 0;
        url = i;
        while (i < lim && (fast_class[data[i]] & FC_URL))
            i++;
        url_len = i - url;
        if (i + 11 > lim || memcmp(data + i, " HTTP/1.", 8) != 0 ||
            (data[i + 8] != '0' && data[i + 8] != '1') || data[i + 9] != '\r' ||
            data[i + 10] != '\n')
            return 0;
        minor = (unsigned)(data[i + 8] - '0');
        i += 11;
    } else {
        if (lim < 14 || memcmp(data, "HTTP/1.", 7) != 0 || (data[7] != '0' && data[7] != '1') ||
            data[8] != ' ' || data[12] != ' ')
            return 0;
        minor = (unsigned)(data[7] - '0');
        status = 0;
        for (int k = 9; k < 12; k++) {
            if (data[k] < '0' || data[k] > '9')
                return 0;
            status = status * 10 + (unsigned)(data[k] - '0');
        }
        if (status == 101)
            return 0; /* protocol switch: libhttp-parser's upgrade rules */
        const uint8_t *cr = memchr(data + 13, '\r', lim - 13);
        if (cr == NULL)
            return 0;
        i = (size_t)(cr - data);
        if (memchr(data + 13, '\n', i - 13) != NULL || i + 1 >= lim || data[i + 1] != '\n')
            return 0;
        i += 2;
    }

    /* Pass 1: the header block, checked. */
    struct fast_field f[FAST_MAX_FIELDS];
    unsigned nf = 0, flags = 0;
    uint64_t clen = 0;
    for (;;) {
        if (i >= lim)
            return 0;
        if (data[i] == '\r') {
            if (i + 1 >= lim || data[i + 1] != '\n')
                return 0;
            i += 2;
            break;
        }
        if (nf == FAST_MAX_FIELDS)
            return 0;
        size_t name = i;
        while (i < lim && (fast_class[data[i]] & FC_NAME))
            i++;
        if (i == name || i >= lim || data[i] != ':')
            return 0;
        size_t name_len = i - name;
        i++;
        while (i < lim && (data[i] == ' ' || data[i] == '\t'))
            i++;
        size_t val = i;
        i = skip_value(data, i, lim);
        if (i == val || i + 1 >= lim || data[i] != '\r' || data[i + 1] != '\n')
            return 0; /* empty value, odd byte, bare LF or not all here */
        size_t val_len = i - val;
        i += 2;
        const uint8_t *nm = data + name, *v = data + val;
        int hh = HH_OTHER;
        switch (name_len) {
        case 4:
            if (name_is(nm, "host", 4))
                hh = HH_HOST;
            break;
        case 7:
            if (name_is(nm, "referer", 7))
                hh = HH_REFERER;
            else if (name_is(nm, "upgrade", 7))
                return 0;
            break;
        case 10:
            if (name_is(nm, "user-agent", 10))
                hh = HH_UA;
            break;
        case 12:
            if (name_is(nm, "content-type", 12))
                hh = HH_CTYPE;
            break;
        case 14:
            if (name_is(nm, "content-length", 14)) {
                if ((flags & F_CONTENTLENGTH) || val_len > 15)
                    return 0;
                for (size_t k = 0; k < val_len; k++) {
                    if (v[k] < '0' || v[k] > '9')
                        return 0;
                    clen = clen * 10 + (uint64_t)(v[k] - '0');
                }
                flags |= F_CONTENTLENGTH;
            }
            break;
        case 16:
            if (name_is(nm, "proxy-connection", 16))
                return 0;
            break;
        case 17:
            if (name_is(nm, "transfer-encoding", 17))
                return 0;
            break;
        default:
            break;
        }
        f[nf].val = (uint16_t)val;
        f[nf].val_len = (uint16_t)val_len;
        f[nf].hh = (int8_t)hh;
        nf++;
    }
    /* A response without a length ends with the connection (unless 1xx, 204,
     * 304 or HEAD's): libhttp-parser's. */
    if (!d->request && !(flags & F_CONTENTLENGTH) && status / 100 != 1 && status != 204 &&
        status != 304)
        return 0;

    /* Pass 2: the callbacks libhttp-parser would make, in its order. */
    http_parser *p = &d->p;
    on_begin(p);
    struct http_msg *m = &d->m;
    if (url_len > 0)
        fast_put(m->url, &m->url_len, m->url_cap, &m->url_cut, data + url, url_len);
    /* on_field + on_value for each header, short: the header's index is
     * known, fewer than HTTP_MAX_HEADERS, names shorter than d->field. */
    m->nheaders = (uint16_t)nf;
    for (unsigned k = 0; k < nf; k++) {
        int hh = f[k].hh;
        if (hh != HH_OTHER && m->hdr_len[hh] == 0) /* first occurrence wins */
            fast_put(m->hdr[hh], &m->hdr_len[hh], m->hdr_cap[hh], &m->hdr_cut, data + f[k].val,
                     f[k].val_len);
    }
    bool skip = headers_done(d, (unsigned)method, status, 1, minor, flags, clen, false);
    d->body_left = skip ? 0 : clen;
    if (d->body_left == 0) {
        msg_done(d);
        d->fresh = true;
        return i;
    }
    return i + fast_body(d, len - i);
}

bool http_dir_feed(struct http_dir *d, const uint8_t *data, size_t len, uint64_t gap)
{
    if (d->upgraded)
        return false;
    if (gap > 0) {
        end_partial(d);
        d->resync = true;
        d->body_left = 0;
    }
    while (len > 0) {
        if (d->resync) {
            size_t s = find_start(d, data, len);
            if (s == len)
                return true; /* nothing to start from in this piece */
            data += s;
            len -= s;
            d->resync = false;
            parser_reset(d);
            d->in_msg = false;
        }
        if (d->body_left > 0) {
            size_t n = fast_body(d, len);
            data += n;
            len -= n;
            continue;
        }
        if (d->fresh && !d->no_fast) {
            size_t n = fast_msg(d, data, len);
            if (n > 0) {
                data += n;
                len -= n;
                continue;
            }
        }
        size_t n = http_parser_execute(&d->p, &settings, (const char *)data, len);
        if (d->p.upgrade) {
            /* CONNECT or an accepted Upgrade: what follows is not HTTP/1. */
            d->upgraded = true;
            return false;
        }
        if (HTTP_PARSER_ERRNO(&d->p) != HPE_OK) {
            d->errors++;
            end_partial(d);
            d->resync = true;
            if (n >= len)
                return true;
            data += n + 1;
            len -= n + 1;
            continue;
        }
        if (n >= len)
            break;
        data += n;
        len -= n;
    }
    return true;
}

void http_dir_resume(struct http_dir *d)
{
    if (!d->upgraded)
        return;
    d->upgraded = false;
    d->in_msg = false;
    msg_unbind(d);
    parser_reset(d);
}

void http_dir_eof(struct http_dir *d)
{
    if (d->upgraded || d->resync) {
        d->in_msg = false;
        msg_unbind(d);
        return;
    }
    if (d->in_msg) {
        /* A response delimited by the close completes here (the fast path
         * never reads one: its body has a length). */
        if (d->body_left == 0)
            http_parser_execute(&d->p, &settings, NULL, 0);
        end_partial(d);
    }
}

/* Is there an `Upgrade:` header naming h2c in the header block of data? */
static bool has_h2c_upgrade(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i + 9 < len; i++) {
        /* line to line with memchr: every new flow's first bytes come here */
        const uint8_t *nl = memchr(data + i, '\n', len - 9 - i);
        if (nl == NULL)
            return false;
        i = (size_t)(nl - data);
        if (data[i + 1] == '\r' || data[i + 1] == '\n')
            return false; /* end of the headers */
        if ((data[i + 1] | 0x20) != 'u' ||
            strncasecmp((const char *)data + i + 1, "upgrade:", 8) != 0)
            continue;
        for (size_t k = i + 9; k + 3 <= len && data[k] != '\n'; k++)
            if (strncasecmp((const char *)data + k, "h2c", 3) == 0)
                return true;
    }
    return false;
}

bool http_probe_request(const uint8_t *data, size_t len)
{
    if (data == NULL || !starts_request(data, len))
        return false;
    const uint8_t *sp = memchr(data, ' ', len < 16 ? len : 16);
    if (sp == NULL || (size_t)(sp - data) + 1 >= len)
        return false;
    uint8_t t = sp[1];
    if (t != '/' && t != '*' && t != 'h' && t != 'H' && !(sp - data == 7 && t > ' '))
        return false; /* origin, asterisk, absolute form; CONNECT's authority */
    /* When the request line is complete it must name HTTP/1.x. */
    size_t lim = len < 8192 ? len : 8192;
    const uint8_t *nl = memchr(data, '\n', lim);
    if (nl != NULL) {
        size_t l = (size_t)(nl - data);
        if (l > 0 && data[l - 1] == '\r')
            l--;
        if (l < 10 || memcmp(data + l - 9, " HTTP/1.", 8) != 0)
            return false;
    } else if (len >= 8192) {
        return false;
    }
    return !has_h2c_upgrade(data, len);
}

bool http_probe_response(const uint8_t *data, size_t len)
{
    return data != NULL && len >= 12 && memcmp(data, "HTTP/1.", 7) == 0 &&
           (data[7] == '0' || data[7] == '1') && data[8] == ' ' && data[9] >= '1' &&
           data[9] <= '5' && data[10] >= '0' && data[10] <= '9' && data[11] >= '0' &&
           data[11] <= '9';
}

void http_mime(const char *ctype, size_t len, char *out, size_t n)
{
    size_t s = 0, e = len;
    const char *semi = memchr(ctype, ';', len);
    if (semi != NULL)
        e = (size_t)(semi - ctype);
    while (s < e && (ctype[s] == ' ' || ctype[s] == '\t'))
        s++;
    while (e > s && (ctype[e - 1] == ' ' || ctype[e - 1] == '\t'))
        e--;
    size_t l = e - s < n - 1 ? e - s : n - 1;
    memcpy(out, ctype + s, l);
    out[l] = '\0';
}
