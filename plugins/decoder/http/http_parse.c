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

static int on_headers_complete(http_parser *p)
{
    struct http_dir *d = p->data;
    struct http_msg *m = &d->m;
    m->method = (uint8_t)p->method;
    m->status = (uint16_t)p->status_code;
    m->vmajor = (uint8_t)p->http_major;
    m->vminor = (uint8_t)p->http_minor;
    m->chunked = (p->flags & F_CHUNKED) != 0;
    m->has_clen = (p->flags & F_CONTENTLENGTH) != 0;
    m->clen = m->has_clen ? p->content_length : 0;
    m->upgrade = p->upgrade || (d->request && p->method == HTTP_CONNECT);
    bool skip = d->cb(d->arg, m, HTTP_EV_HEADERS);
    return (!d->request && skip) ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    (void)at;
    struct http_dir *d = p->data;
    d->m.body_bytes += n;
    return 0;
}

static int on_complete(http_parser *p)
{
    struct http_dir *d = p->data;
    d->m.complete = true;
    d->in_msg = false;
    d->cb(d->arg, &d->m, HTTP_EV_COMPLETE);
    msg_unbind(d);
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

void http_dir_init(struct http_dir *d, bool request, http_msg_cb cb, void *arg)
{
    memset(d, 0, sizeof(*d));
    d->request = request;
    d->cb = cb;
    d->arg = arg;
    d->cur = HH_OTHER;
    msg_unbind(d);
    http_parser_init(&d->p, request ? HTTP_REQUEST : HTTP_RESPONSE);
    d->p.data = d;
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

bool http_dir_feed(struct http_dir *d, const uint8_t *data, size_t len, uint64_t gap)
{
    if (d->upgraded)
        return false;
    if (gap > 0) {
        end_partial(d);
        d->resync = true;
    }
    while (len > 0) {
        if (d->resync) {
            size_t s = find_start(d, data, len);
            if (s == len)
                return true; /* nothing to start from in this piece */
            data += s;
            len -= s;
            d->resync = false;
            http_parser_init(&d->p, d->request ? HTTP_REQUEST : HTTP_RESPONSE);
            d->p.data = d;
            d->in_msg = false;
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
    http_parser_init(&d->p, d->request ? HTTP_REQUEST : HTTP_RESPONSE);
    d->p.data = d;
}

void http_dir_eof(struct http_dir *d)
{
    if (d->upgraded || d->resync) {
        d->in_msg = false;
        msg_unbind(d);
        return;
    }
    if (d->in_msg) {
        /* A response delimited by the close completes here. */
        http_parser_execute(&d->p, &settings, NULL, 0);
        end_partial(d);
    }
}

/* Is there an `Upgrade:` header naming h2c in the header block of data? */
static bool has_h2c_upgrade(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i + 9 < len; i++) {
        if (data[i] != '\n')
            continue;
        if (data[i + 1] == '\r' || data[i + 1] == '\n')
            return false; /* end of the headers */
        if (strncasecmp((const char *)data + i + 1, "upgrade:", 8) != 0)
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
