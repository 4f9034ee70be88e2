/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns_parse.c - DNS message parser (see dns_parse.h). Pure and bounded: every
 * read is checked against the message length; text output is bounded by the
 * caller's buffers. Used by decoder/dns (worker thread), tests and fuzz_dns.
 */
#include "dns_parse.h"

#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* A bounded string builder: never overflows, remembers that it was cut,
 * keeps p NUL-terminated. p == NULL: a sink that only counts nothing (names
 * walked for their bounds alone: the probe, sections not kept). */
struct sb {
    char *p;
    size_t n, cap;
    bool cut;
};

static void sb_putc(struct sb *b, char c)
{
    if (b->p == NULL)
        return;
    if (b->n + 1 < b->cap)
        b->p[b->n++] = c;
    else
        b->cut = true;
    b->p[b->n < b->cap ? b->n : b->cap - 1] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
    while (*s)
        sb_putc(b, *s++);
}

/* v in decimal into t (no NUL); returns the length. Why not snprintf: it
 * is called for every A record and numeric field, and the stdio machinery
 * costs ten times the digits. */
static size_t fmt_u(char *t, unsigned long long v)
{
    char r[20];
    size_t n = 0;
    do {
        r[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        t[i] = r[n - 1 - i];
    return n;
}

/* n bytes of s; one copy when they fit (else as sb_putc each: cut). */
static void sb_putn(struct sb *b, const char *s, size_t n)
{
    if (b->p == NULL)
        return;
    if (!b->cut && b->n + n < b->cap) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++)
        sb_putc(b, s[i]);
}

/* v (< 256) in decimal into t (no NUL); returns the length. */
static inline size_t fmt_u8(char *t, unsigned v)
{
    if (v >= 100) {
        t[0] = (char)('0' + v / 100);
        t[1] = (char)('0' + v / 10 % 10);
        t[2] = (char)('0' + v % 10);
        return 3;
    }
    if (v >= 10) {
        t[0] = (char)('0' + v / 10);
        t[1] = (char)('0' + v % 10);
        return 2;
    }
    t[0] = (char)('0' + v);
    return 1;
}

static void sb_printf_u(struct sb *b, unsigned long long v)
{
    char t[24];
    t[fmt_u(t, v)] = '\0';
    sb_puts(b, t);
}

/* "\DDD" of byte c into t (4 bytes, no NUL). */
static inline void fmt_ddd(char *t, uint8_t c)
{
    t[0] = '\\';
    t[1] = (char)('0' + c / 100);
    t[2] = (char)('0' + c / 10 % 10);
    t[3] = (char)('0' + c % 10);
}

/* One label byte as text: printable ASCII as is ('.' and '\\' escaped),
 * anything else as \DDD (the presentation format of RFC 4343). */
static void sb_label_byte(struct sb *b, uint8_t c)
{
    if (c == '.' || c == '\\') {
        sb_putc(b, '\\');
        sb_putc(b, (char)c);
    } else if (c > 0x20 && c < 0x7f) {
        sb_putc(b, (char)c);
    } else {
        char t[5];
        fmt_ddd(t, c);
        t[4] = '\0';
        sb_puts(b, t);
    }
}

/* The tail word's shift below assumes the first byte is the low one. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NS_DNS_LE 1
#else
#define NS_DNS_LE 0
#endif

/* Nonzero when one of the 8 bytes of w must be escaped in a label: outside
 * 0x21..0x7e, '.' or '\\' (word-at-a-time tests: "has a byte less than n",
 * "has a zero byte"; exact as a yes/no). */
static inline uint64_t label_word_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t dot = w ^ (ones * '.'), bsl = w ^ (ones * '\\'), del = w ^ (ones * 0x7f);
    uint64_t r = w & high;              /* >= 0x80 */
    r |= (w - ones * 0x21) & ~w & high; /* < 0x21  */
    r |= (dot - ones) & ~dot & high;    /* '.'     */
    r |= (bsl - ones) & ~bsl & high;    /* '\\'    */
    r |= (del - ones) & ~del & high;    /* 0x7f    */
    return r;
}

/* One label's bytes as text (as sb_label_byte each). Fast path when the
 * worst case (every byte \DDD) fits: no per-byte bound check or NUL, and
 * labels of plain characters (nearly all) are copied 8 bytes at a time.
 * `sep`: a '.' first (every label but a name's first).
 * `before`: bytes readable before s (the tail word is read ending at the
 * label's end, starting up to 7 bytes before its first byte). */
static void sb_label(struct sb *b, const uint8_t *s, size_t l, size_t before, bool sep)
{
    if (b->p == NULL)
        return;
    if (b->cut || b->n + sep + 4 * l + 1 >= b->cap) {
        if (sep)
            sb_putc(b, '.');
        for (size_t i = 0; i < l; i++)
            sb_label_byte(b, s[i]);
        return;
    }
    char *d = b->p + b->n;
    *d = '.';
    d += sep; /* the separator before every label but the first */
    size_t i = 0;
    uint64_t w;
    for (; i + 8 <= l; i += 8) {
        memcpy(&w, s + i, 8);
        if (label_word_special(w))
            goto bytes;
        memcpy(d, &w, 8);
        d += 8;
    }
    if (NS_DNS_LE && i < l && l + before >= 8 && 4 * l >= 8) {
        /* The last t bytes: the word ending at the label's end, its first
         * 8 - t bytes (not this label's) replaced by 'a' for the test and
         * shifted out for the store (8 bytes written: 4 * l >= 8 fit). */
        size_t t = l - i;
        memcpy(&w, s + l - 8, 8);
        if (t < 8) {
            uint64_t low = (1ull << (8 * (8 - t))) - 1;
            uint64_t probe = (w & ~low) | (0x6161616161616161u & low);
            if (label_word_special(probe))
                goto bytes;
            w >>= 8 * (8 - t);
        } else if (label_word_special(w)) {
            goto bytes;
        }
        memcpy(d, &w, 8);
        d += t;
        i = l;
    }
bytes:
    for (; i < l; i++) {
        uint8_t c = s[i];
        if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
            *d++ = (char)c;
        } else if (c == '.' || c == '\\') {
            d[0] = '\\';
            d[1] = (char)c;
            d += 2;
        } else {
            fmt_ddd(d, c);
            d += 4;
        }
    }
    *d = '\0';
    b->n = (size_t)(d - b->p);
}

/* Walk the name at *off into b. Pointers must point strictly before the
 * label they appear in (and before every earlier jump target), so every jump
 * goes backwards and the walk ends. A name longer than 255 bytes (labels +
 * length bytes + the root) is walked to its end, so the caller can go on with
 * the message, but its text stops there and DNS_ERR_NAME_TOO_LONG is returned
 * (a soft error: *off is valid). Other errors leave *off unchanged. */
static enum dns_err name_walk(const uint8_t *msg, size_t len, size_t *off, struct sb *b)
{
    size_t p = *off, end = 0;
    bool jumped = false, too_long = false;
    size_t wire = 0;
    size_t limit = p; /* a pointer must point before this */
    size_t labels = 0;
    for (;;) {
        if (p >= len)
            return DNS_ERR_TRUNCATED;
        uint8_t l = msg[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 1 >= len)
                return DNS_ERR_TRUNCATED;
            size_t target = ((size_t)(l & 0x3f) << 8) | msg[p + 1];
            if (!jumped) {
                end = p + 2;
                jumped = true;
            }
            if (target >= limit)
                return DNS_ERR_NAME_LOOP;
            limit = target;
            p = target;
            continue;
        }
        if ((l & 0xc0) != 0)
            return DNS_ERR_BAD_LABEL;
        wire += (size_t)l + 1;
        if (wire > 255)
            too_long = true;
        if (l == 0) {
            if (labels == 0)
                sb_putc(b, '.');
            break;
        }
        if (p + 1 + l > len)
            return DNS_ERR_TRUNCATED;
        if (!too_long)
            sb_label(b, msg + p + 1, l, p + 1, labels > 0);
        labels++;
        p += 1 + (size_t)l;
        if (!jumped && p > limit)
            limit = p; /* pointers may target anything before the current label */
    }
    *off = jumped ? end : p + 1;
    return too_long ? DNS_ERR_NAME_TOO_LONG : DNS_OK;
}

enum dns_err dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t outsz)
{
    struct sb b = {out, 0, outsz, false};
    if (outsz > 0)
        out[0] = '\0';
    return name_walk(msg, len, off, &b);
}

static void sb_hex(struct sb *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n && !b->cut; i++) {
        sb_putc(b, hx[p[i] >> 4]);
        sb_putc(b, hx[p[i] & 15]);
    }
}

static void sb_ip(struct sb *b, const uint8_t *a, int fam)
{
    char t[48];
    size_t n = 0;
    if (fam == 4) {
        for (int i = 0; i < 4; i++) {
            if (i)
                t[n++] = '.';
            n += fmt_u8(t + n, a[i]);
        }
    } else {
        /* RFC 5952 text: longest run (>= 2) of zero groups becomes "::". */
        uint16_t g[8];
        for (int i = 0; i < 8; i++)
            g[i] = rd16(a + 2 * i);
        int best = -1, bestn = 0;
        for (int i = 0; i < 8;) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0)
                j++;
            if (j - i > bestn && j - i >= 2) {
                best = i;
                bestn = j - i;
            }
            i = j;
        }
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                t[n++] = ':';
                t[n++] = ':';
                i += bestn - 1;
                continue;
            }
            if (n > 0 && t[n - 1] != ':')
                t[n++] = ':';
            /* %x: lower-case hex without leading zeros */
            static const char hx[] = "0123456789abcdef";
            bool lead = true;
            for (int sh = 12; sh >= 0; sh -= 4) {
                unsigned dg = (g[i] >> sh) & 15;
                if (lead && dg == 0 && sh > 0)
                    continue;
                lead = false;
                t[n++] = hx[dg];
            }
        }
    }
    sb_putn(b, t, n);
}

/* A <character-string> sequence (TXT): strings joined by nothing, bytes
 * outside printable ASCII escaped as \DDD. */
static void sb_txt(struct sb *b, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t l = p[i++];
        for (size_t k = 0; k < l && i < n; k++, i++) {
            uint8_t c = p[i];
            if (c == '\\' || c == '"') {
                sb_putc(b, '\\');
                sb_putc(b, (char)c);
            } else if (c >= 0x20 && c < 0x7f) {
                sb_putc(b, (char)c);
            } else {
                char t[5];
                fmt_ddd(t, c);
                t[4] = '\0';
                sb_puts(b, t);
            }
        }
    }
}

/* SVCB/HTTPS SvcParams (RFC 9460) after priority and target. */
static void sb_svc_params(struct sb *b, const uint8_t *p, size_t n)
{
    static const char *const keys[] = {"mandatory", "alpn", "no-default-alpn", "port",
                                       "ipv4hint",  "ech",  "ipv6hint"};
    size_t i = 0;
    while (i + 4 <= n && !b->cut) {
        uint16_t key = rd16(p + i), vl = rd16(p + i + 2);
        i += 4;
        if (i + vl > n)
            break;
        const uint8_t *v = p + i;
        sb_putc(b, ' ');
        if (key < 7) {
            sb_puts(b, keys[key]);
        } else {
            sb_puts(b, "key");
            sb_printf_u(b, key);
        }
        if (vl > 0)
            sb_putc(b, '=');
        if (key == 1) { /* alpn: length-prefixed ids, comma-separated */
            size_t k = 0;
            bool first = true;
            while (k < vl) {
                size_t l = v[k++];
                if (!first)
                    sb_putc(b, ',');
                first = false;
                for (size_t m = 0; m < l && k < vl; m++, k++)
                    sb_label_byte(b, v[k]);
            }
        } else if (key == 3 && vl == 2) {
            sb_printf_u(b, rd16(v));
        } else if (key == 4 && vl % 4 == 0) {
            for (size_t k = 0; k < vl; k += 4) {
                if (k)
                    sb_putc(b, ',');
                sb_ip(b, v + k, 4);
            }
        } else if (key == 6 && vl % 16 == 0) {
            for (size_t k = 0; k < vl; k += 16) {
                if (k)
                    sb_putc(b, ',');
                sb_ip(b, v + k, 6);
            }
        } else if (key == 0 && vl % 2 == 0) {
            for (size_t k = 0; k < vl; k += 2) {
                if (k)
                    sb_putc(b, ',');
                sb_printf_u(b, rd16(v + k));
            }
        } else {
            sb_hex(b, v, vl);
        }
        i += vl;
    }
}

/* Render the RDATA of rr (at msg[off..off+rdlen)). */
static void rr_data(const uint8_t *msg, size_t len, size_t off, size_t rdlen, struct dns_rr *rr)
{
    struct sb b = {rr->data, 0, sizeof(rr->data), false};
    rr->data[0] = '\0';
    rr->ip_len = 0;
    const uint8_t *d = msg + off;
    size_t end = off + rdlen;
    size_t p = off;
    enum dns_err e = DNS_OK;
    switch (rr->type) {
    case 1: /* A */
        if (rdlen != 4) {
            e = DNS_ERR_TRUNCATED;
            break;
        }
        memcpy(rr->ip, d, 4);
        rr->ip_len = 4;
        sb_ip(&b, d, 4);
        break;
    case 28: /* AAAA */
        if (rdlen != 16) {
            e = DNS_ERR_TRUNCATED;
            break;
        }
        memcpy(rr->ip, d, 16);
        rr->ip_len = 16;
        sb_ip(&b, d, 6);
        break;
    case 2:  /* NS */
    case 5:  /* CNAME */
    case 12: /* PTR */
    case 39: /* DNAME */
        e = name_walk(msg, end, &p, &b);
        break;
    case 15: /* MX: preference exchange */
        if (rdlen < 3) {
            e = DNS_ERR_TRUNCATED;
            break;
        }
        sb_printf_u(&b, rd16(d));
        sb_putc(&b, ' ');
        p += 2;
        e = name_walk(msg, end, &p, &b);
        break;
    case 16: /* TXT */
        sb_txt(&b, d, rdlen);
        break;
    case 6: { /* SOA: mname rname serial refresh retry expire minimum */
        e = name_walk(msg, end, &p, &b);
        if (e != DNS_OK)
            break;
        sb_putc(&b, ' ');
        e = name_walk(msg, end, &p, &b);
        if (e != DNS_OK)
            break;
        if (p + 20 > end) {
            e = DNS_ERR_TRUNCATED;
            break;
        }
        for (int i = 0; i < 5; i++) {
            sb_putc(&b, ' ');
            sb_printf_u(&b, rd32(msg + p + 4 * (size_t)i));
        }
        break;
    }
    case 33: /* SRV: priority weight port target */
        if (rdlen < 7) {
            e = DNS_ERR_TRUNCATED;
            break;
        }
        for (int i = 0; i < 3; i++) {
            sb_printf_u(&b, rd16(d + 2 * i));
            sb_putc(&b, ' ');
        }
        p += 6;
        e = name_walk(msg, end, &p, &b);
        break;
    case 64: /* SVCB  */
    case 65: /* HTTPS: priority target params */
        if (rdlen < 3) {
            e = DNS_ERR_TRUNCATED;
            break;
        }
        sb_printf_u(&b, rd16(d));
        sb_putc(&b, ' ');
        p += 2;
        e = name_walk(msg, end, &p, &b);
        if (e == DNS_OK && p <= end)
            sb_svc_params(&b, msg + p, end - p);
        break;
    default: /* RFC 3597 generic form */
        sb_puts(&b, "\\# ");
        sb_printf_u(&b, rdlen);
        if (rdlen) {
            sb_putc(&b, ' ');
            sb_hex(&b, d, rdlen);
        }
        break;
    }
    (void)len;
    rr->data_len = (uint16_t)b.n;
    if (e != DNS_OK) {
        rr->data[0] = '\0';
        rr->data_len = 0;
        rr->ip_len = 0;
    }
    rr->data_err = e;
    rr->data_cut = b.cut;
}

/* Is the question name at DNS_HEADER_LEN labels only (no compression
 * pointer)? Called once the question was read without error. */
static bool question_plain(const uint8_t *msg, size_t len)
{
    size_t p = DNS_HEADER_LEN;
    while (p < len && msg[p] != 0) {
        if ((msg[p] & 0xc0) != 0)
            return false;
        p += 1 + (size_t)msg[p];
    }
    return p < len;
}

/* Skip (or keep into rr, when not NULL) one resource record at *off.
 * q_plain: the question name (m->qname) is labels only, so an owner name that
 * is just a pointer to it (0xc00c, the common answer) reads as its text
 * without walking it again: name_walk would produce the same text and end. */
static enum dns_err rr_read(const uint8_t *msg, size_t len, size_t *off, struct dns_rr *rr,
                            struct dns_msg *m, bool q_plain)
{
    enum dns_err e;
    if (q_plain && *off + 1 < len && msg[*off] == 0xc0 && msg[*off + 1] == DNS_HEADER_LEN) {
        if (rr != NULL) {
            memcpy(rr->name, m->qname, (size_t)m->qname_len + 1);
            rr->name_len = m->qname_len;
        }
        *off += 2;
        e = DNS_OK;
    } else if (*off < len && msg[*off] == 0) {
        /* The root (an OPT record's owner): no walk. */
        if (rr != NULL) {
            rr->name[0] = '.';
            rr->name[1] = '\0';
            rr->name_len = 1;
        }
        *off += 1;
        e = DNS_OK;
    } else {
        struct sb b =
            rr ? (struct sb){rr->name, 0, sizeof(rr->name), false} : (struct sb){NULL, 0, 0, false};
        if (b.p != NULL)
            b.p[0] = '\0';
        e = name_walk(msg, len, off, &b);
        if (rr != NULL)
            rr->name_len = (uint16_t)b.n;
    }
    bool long_owner = e == DNS_ERR_NAME_TOO_LONG;
    if (e != DNS_OK && !long_owner)
        return e;
    if (*off + 10 > len)
        return DNS_ERR_TRUNCATED;
    const uint8_t *p = msg + *off;
    uint16_t type = rd16(p), cls = rd16(p + 2), rdlen = rd16(p + 8);
    uint32_t ttl = rd32(p + 4);
    size_t rd = *off + 10;
    if (rd + rdlen > len)
        return DNS_ERR_TRUNCATED;
    if (type == 41 && m != NULL) { /* OPT: class = UDP size, TTL = ext-rcode/version/flags */
        m->edns = true;
        m->edns_do = (ttl & 0x8000) != 0;
        m->rcode = (uint8_t)((m->rcode & 0x0f) | ((ttl >> 24) << 4));
    }
    if (rr != NULL) {
        rr->type = type;
        rr->cls = cls;
        rr->ttl = ttl;
        rr_data(msg, len, rd, rdlen, rr);
        if (long_owner)
            rr->data_err = DNS_ERR_NAME_TOO_LONG;
    }
    *off = rd + rdlen;
    return DNS_OK;
}

enum dns_err dns_parse(const uint8_t *buf, size_t len, struct dns_msg *m)
{
    return dns_parse_hint(buf, len, m, NULL);
}

enum dns_err dns_parse_hint(const uint8_t *buf, size_t len, struct dns_msg *m,
                            const struct dns_qhint *hint)
{
    m->id = m->flags = 0;
    m->opcode = m->rcode = 0;
    m->qr = m->has_question = m->answers_cut = m->edns = m->edns_do = false;
    m->qdcount = m->ancount = m->nscount = m->arcount = 0;
    m->qname[0] = '\0';
    m->qname_len = 0;
    m->qtype = m->qclass = 0;
    m->qwire_len = 0;
    m->nanswers = 0;
    if (buf == NULL || len < DNS_HEADER_LEN)
        return m->err = DNS_ERR_SHORT;
    m->err = DNS_OK;
    m->id = rd16(buf);
    m->flags = rd16(buf + 2);
    m->qr = (m->flags & DNS_F_QR) != 0;
    m->opcode = (uint8_t)((m->flags >> 11) & 0x0f);
    m->rcode = (uint8_t)(m->flags & 0x0f);
    m->qdcount = rd16(buf + 4);
    m->ancount = rd16(buf + 6);
    m->nscount = rd16(buf + 8);
    m->arcount = rd16(buf + 10);
    size_t off = DNS_HEADER_LEN, qend = 0;
    enum dns_err e = DNS_OK;
    for (uint32_t i = 0; i < m->qdcount; i++) {
        if (i == 0 && hint != NULL && hint->wlen > 0 && hint->wlen <= len - off &&
            hint->tlen < sizeof(m->qname) && memcmp(buf + off, hint->wire, hint->wlen) == 0) {
            /* The same labels-only bytes walk to the same text and end:
             * take them from the hint. */
            memcpy(m->qname, hint->text, hint->tlen);
            m->qname[hint->tlen] = '\0';
            m->qname_len = (uint16_t)hint->tlen;
            off += hint->wlen;
            e = DNS_OK;
        } else {
            struct sb b = i == 0 ? (struct sb){m->qname, 0, sizeof(m->qname), false}
                                 : (struct sb){NULL, 0, 0, false};
            e = name_walk(buf, len, &off, &b);
            if (i == 0)
                m->qname_len = (uint16_t)b.n;
        }
        if (e == DNS_ERR_NAME_TOO_LONG && i > 0) {
            /* A later question we do not report: note it, read on. */
            if (m->err == DNS_OK)
                m->err = e;
            e = DNS_OK;
        }
        if (e == DNS_OK && off + 4 > len)
            e = DNS_ERR_TRUNCATED;
        if (e != DNS_OK) {
            if (i == 0) {
                m->qname[0] = '\0';
                m->qname_len = 0;
            }
            return m->err = e;
        }
        if (i == 0) {
            qend = off;
            m->has_question = true;
            m->qtype = rd16(buf + off);
            m->qclass = rd16(buf + off + 2);
        }
        off += 4;
    }
    bool q_plain = m->has_question && question_plain(buf, len);
    if (q_plain)
        m->qwire_len = (uint16_t)(qend - DNS_HEADER_LEN);
    for (uint32_t i = 0; i < m->ancount; i++) {
        struct dns_rr *rr = NULL;
        if (m->nanswers < DNS_MAX_ANSWERS)
            rr = &m->an[m->nanswers];
        else
            m->answers_cut = true;
        e = rr_read(buf, len, &off, rr, m, q_plain);
        if (e != DNS_OK)
            return m->err = e;
        if (rr != NULL)
            m->nanswers++;
    }
    /* Authority and additional: walked for bounds and EDNS (OPT), not kept. */
    uint32_t rest = (uint32_t)m->nscount + m->arcount;
    for (uint32_t i = 0; i < rest; i++) {
        e = rr_read(buf, len, &off, NULL, m, q_plain);
        if (e != DNS_OK)
            return m->err = e;
    }
    return m->err;
}

bool dns_probe(const uint8_t *buf, size_t len, bool partial, bool port_hint)
{
    if (buf == NULL || len < DNS_HEADER_LEN)
        return false;
    uint16_t flags = rd16(buf + 2);
    uint8_t opcode = (uint8_t)((flags >> 11) & 0x0f);
    bool qr = (flags & DNS_F_QR) != 0;
    uint16_t qd = rd16(buf + 4), an = rd16(buf + 6), ns = rd16(buf + 8), ar = rd16(buf + 10);
    if (opcode != 0 && opcode != 1 && opcode != 2 && opcode != 4 && opcode != 5)
        return false;
    if (flags & DNS_F_Z)
        return false;
    if (!qr && (flags & 0x000f) != 0 && opcode != 5)
        return false; /* a query with an rcode */
    if (qd != 1 && !(port_hint && qd == 0))
        return false;
    if (!qr && opcode == 0 && an != 0 && !port_hint)
        return false;
    size_t off = DNS_HEADER_LEN;
    if (qd == 1) {
        struct sb nb = {NULL, 0, 0, false}; /* bounds only, no text */
        enum dns_err e = name_walk(buf, len, &off, &nb);
        if (partial && (e == DNS_ERR_TRUNCATED || (e == DNS_OK && off + 4 > len)))
            return port_hint; /* the question continues in the next segment */
        if (e != DNS_OK || off + 4 > len)
            return false;
        uint16_t qclass = rd16(buf + off + 2);
        /* IN, CH, HS, NONE, ANY; mDNS sets the top bit (unicast response). */
        uint16_t c = qclass & 0x7fff;
        if (c != 1 && c != 3 && c != 4 && c != 254 && c != 255)
            return false;
        if (rd16(buf + off) == 0)
            return false;
        off += 4;
    }
    /* Every resource record takes at least 11 bytes. */
    if (!partial && ((size_t)an + ns + ar) * 11 > len - off)
        return false;
    return true;
}

const char *dns_type_name(uint16_t t)
{
    switch (t) {
    case 1:
        return "A";
    case 2:
        return "NS";
    case 5:
        return "CNAME";
    case 6:
        return "SOA";
    case 10:
        return "NULL";
    case 12:
        return "PTR";
    case 13:
        return "HINFO";
    case 15:
        return "MX";
    case 16:
        return "TXT";
    case 28:
        return "AAAA";
    case 33:
        return "SRV";
    case 35:
        return "NAPTR";
    case 39:
        return "DNAME";
    case 41:
        return "OPT";
    case 43:
        return "DS";
    case 46:
        return "RRSIG";
    case 47:
        return "NSEC";
    case 48:
        return "DNSKEY";
    case 50:
        return "NSEC3";
    case 64:
        return "SVCB";
    case 65:
        return "HTTPS";
    case 99:
        return "SPF";
    case 252:
        return "AXFR";
    case 255:
        return "ANY";
    case 257:
        return "CAA";
    default:
        return NULL;
    }
}

const char *dns_class_name(uint16_t c)
{
    switch (c & 0x7fff) {
    case 1:
        return "IN";
    case 3:
        return "CH";
    case 4:
        return "HS";
    case 254:
        return "NONE";
    case 255:
        return "ANY";
    default:
        return NULL;
    }
}

const char *dns_rcode_name(uint16_t r)
{
    static const char *const n[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                    "NXRRSET", "NOTAUTH", "NOTZONE",  "DSOTYPENI"};
    if (r < sizeof(n) / sizeof(n[0]))
        return n[r];
    if (r == 16)
        return "BADVERS";
    return NULL;
}

const char *dns_opcode_name(uint8_t op)
{
    switch (op) {
    case 0:
        return "QUERY";
    case 1:
        return "IQUERY";
    case 2:
        return "STATUS";
    case 4:
        return "NOTIFY";
    case 5:
        return "UPDATE";
    case 6:
        return "DSO";
    default:
        return NULL;
    }
}

const char *dns_err_name(enum dns_err e)
{
    static const char *const n[] = {"none",      "short",         "truncated",
                                    "name_loop", "name_too_long", "bad_label"};
    return (unsigned)e < DNS_ERR_COUNT ? n[e] : "unknown";
}
