/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool.c - sink/redis: entry encoding and the checksummed on-disk spool (format
 * and ordering rules in spool.h).
 *
 * Called by the sink on the loop thread (and by tests/redis/test_spool.c).
 * File I/O is blocking but bounded: one write per batch of frames, reads in
 * chunks of RD_CHUNK bytes.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_MAGIC "NSSPOOL1"
#define SEG_HDR 16u
#define FRAME_MAGIC 0x3152534eu /* "NSR1" little-endian */
#define FRAME_HDR 12u
#define RD_CHUNK (256u * 1024u)
#define PAYLOAD_HDR 20u /* version, type, nfields, seq, ts */

struct rs_seg {
    struct rs_seg *next;
    uint64_t id;
    uint32_t sub;
    uint64_t size;        /* bytes in the file (header included)            */
    uint64_t unread;      /* valid frames not read back yet                 */
    uint32_t outstanding; /* frames read back and not yet released          */
    bool started;         /* the reader has begun this segment              */
    bool fully_read;      /* the reader has passed its end                  */
    bool counted;         /* damage was counted when it was indexed at open */
    struct rs_loss loss[RS_TYPES];
};

/* A buffered reader over one segment file. */
struct rs_rd {
    int fd;
    uint8_t *buf;
    size_t cap, len;
    uint64_t boff; /* file offset of buf[0] */
};

struct rs_spool {
    char *dir;
    uint64_t max_bytes, seg_bytes, bytes, unread, max_id;
    struct rs_seg *head;
    struct rs_seg *wseg; /* being appended to, or NULL */
    int wfd;
    struct rs_seg *rseg; /* being read, or NULL */
    struct rs_rd rd;
    uint64_t roff; /* read position in rseg */
    uint8_t *wbuf;
    size_t wcap;
    struct rs_spool_stats st;
};

/* ---- little-endian helpers ------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- CRC-32C ---------------------------------------------------------------- */

static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
        crc_table[i] = c;
    }
    crc_ready = true;
}

uint32_t rs_crc32c(uint32_t crc, const void *p, size_t n)
{
    if (!crc_ready)
        crc_init();
    const uint8_t *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ b[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* ---- entries ---------------------------------------------------------------- */

struct rs_entry *rs_entry_new(uint8_t type, uint64_t seq, uint64_t ts_ns, uint32_t n,
                              const char *const *keys, const size_t *klens, const char *const *vals,
                              const size_t *vlens)
{
    if (n > RS_MAX_FIELDS)
        return NULL;
    size_t len = PAYLOAD_HDR;
    for (uint32_t i = 0; i < n; i++) {
        if (klens[i] > UINT16_MAX || vlens[i] > RS_MAX_PAYLOAD)
            return NULL;
        len += 2 + klens[i] + 4 + vlens[i];
    }
    if (len > RS_MAX_PAYLOAD)
        return NULL;
    struct rs_entry *e = malloc(sizeof(*e) + len);
    if (!e)
        return NULL;
    e->next = NULL;
    e->rec = NULL;
    e->seg = NULL;
    e->after = 0;
    e->len = (uint32_t)len;
    uint8_t *p = e->payload;
    p[0] = 1;
    p[1] = type;
    put16(p + 2, (uint16_t)n);
    put64(p + 4, seq);
    put64(p + 12, ts_ns);
    p += PAYLOAD_HDR;
    for (uint32_t i = 0; i < n; i++) {
        put16(p, (uint16_t)klens[i]);
        memcpy(p + 2, keys[i], klens[i]);
        p += 2 + klens[i];
        put32(p, (uint32_t)vlens[i]);
        if (vlens[i])
            memcpy(p + 4, vals[i], vlens[i]);
        p += 4 + vlens[i];
    }
    return e;
}

bool rs_entry_parse(const uint8_t *p, size_t len, struct rs_view *v)
{
    if (len < PAYLOAD_HDR || p[0] != 1)
        return false;
    v->type = p[1];
    v->nfields = get16(p + 2);
    v->seq = get64(p + 4);
    v->ts_ns = get64(p + 12);
    if (v->nfields > RS_MAX_FIELDS || v->type >= RS_TYPES)
        return false;
    size_t off = PAYLOAD_HDR;
    for (uint32_t i = 0; i < v->nfields; i++) {
        if (len - off < 2)
            return false;
        size_t kl = get16(p + off);
        off += 2;
        if (len - off < kl + 4)
            return false;
        v->key[i] = (const char *)p + off;
        v->klen[i] = kl;
        off += kl;
        size_t vl = get32(p + off);
        off += 4;
        if (len - off < vl)
            return false;
        v->val[i] = (const char *)p + off;
        v->vlen[i] = vl;
        off += vl;
    }
    return off == len;
}

void rs_loss_add(struct rs_loss *l, uint64_t n, uint64_t ts_min, uint64_t ts_max, uint64_t seq_min,
                 uint64_t seq_max)
{
    if (n == 0)
        return;
    if (l->count == 0 || ts_min < l->ts_min)
        l->ts_min = ts_min;
    if (l->count == 0 || ts_max > l->ts_max)
        l->ts_max = ts_max;
    if (l->count == 0 || seq_min < l->seq_min)
        l->seq_min = seq_min;
    if (l->count == 0 || seq_max > l->seq_max)
        l->seq_max = seq_max;
    l->count += n;
}

/* ---- segments ------------------------------------------------------------------ */

static void seg_path(const struct rs_spool *sp, const struct rs_seg *s, char *out, size_t n)
{
    snprintf(out, n, "%s/seg-%020llu-%06u.nss", sp->dir, (unsigned long long)s->id, s->sub);
}

static bool seg_before(const struct rs_seg *a, const struct rs_seg *b)
{
    return a->id < b->id || (a->id == b->id && a->sub < b->sub);
}

static void seg_insert(struct rs_spool *sp, struct rs_seg *s)
{
    struct rs_seg **pp = &sp->head;
    while (*pp && seg_before(*pp, s))
        pp = &(*pp)->next;
    s->next = *pp;
    *pp = s;
}

static void seg_unlink(struct rs_spool *sp, struct rs_seg *s)
{
    char path[4200];
    seg_path(sp, s, path, sizeof(path));
    unlink(path);
    for (struct rs_seg **pp = &sp->head; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    sp->bytes -= s->size < sp->bytes ? s->size : sp->bytes;
    sp->unread -= s->unread < sp->unread ? s->unread : sp->unread;
    free(s);
}

/* Delete a segment once the reader passed it and every entry read from it
 * was released. */
static void seg_maybe_remove(struct rs_spool *sp, struct rs_seg *s)
{
    if (s->fully_read && s->outstanding == 0 && s != sp->wseg && s != sp->rseg)
        seg_unlink(sp, s);
}

/* ---- reading ---------------------------------------------------------------- */

static void rd_reset(struct rs_rd *rd, int fd)
{
    rd->fd = fd;
    rd->len = 0;
    rd->boff = 0;
}

/* Make bytes [off, off+n) of the file available; NULL when they are not all
 * there (end of file or I/O error). */
static const uint8_t *rd_fetch(struct rs_rd *rd, uint64_t off, size_t n)
{
    if (off >= rd->boff && off + n <= rd->boff + rd->len)
        return rd->buf + (off - rd->boff);
    size_t want = n > RD_CHUNK ? n : RD_CHUNK;
    if (want > rd->cap) {
        uint8_t *nb = realloc(rd->buf, want);
        if (!nb)
            return NULL;
        rd->buf = nb;
        rd->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(rd->fd, rd->buf + got, want - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    rd->boff = off;
    rd->len = got;
    return got >= n ? rd->buf : NULL;
}

enum frame_rc { FR_OK, FR_BAD, FR_SHORT };

/* Check the frame at off (size: bytes in the file). */
static enum frame_rc rd_frame(struct rs_rd *rd, uint64_t off, uint64_t size, const uint8_t **pl,
                              uint32_t *plen)
{
    if (size - off < FRAME_HDR)
        return FR_SHORT;
    const uint8_t *h = rd_fetch(rd, off, FRAME_HDR);
    if (!h)
        return FR_SHORT;
    uint32_t magic = get32(h), len = get32(h + 4), crc = get32(h + 8);
    if (magic != FRAME_MAGIC || len > RS_MAX_PAYLOAD)
        return FR_BAD;
    if (size - off - FRAME_HDR < len)
        return FR_SHORT;
    const uint8_t *p = rd_fetch(rd, off + FRAME_HDR, len);
    if (!p || rs_crc32c(0, p, len) != crc)
        return FR_BAD;
    struct rs_view v;
    if (!rs_entry_parse(p, len, &v))
        return FR_BAD;
    *pl = p;
    *plen = len;
    return FR_OK;
}

/* The next valid frame at or after *off. A damaged stretch is skipped to the
 * next frame that checks out (counted once as corrupt), a frame cut short by
 * the end of the file ends the segment (counted as truncated). Returns false
 * at the end. */
static bool rd_next(struct rs_rd *rd, uint64_t *off, uint64_t size, const uint8_t **pl,
                    uint32_t *plen, struct rs_spool_stats *st)
{
    if (*off >= size)
        return false;
    enum frame_rc rc = rd_frame(rd, *off, size, pl, plen);
    if (rc == FR_OK) {
        *off += FRAME_HDR + *plen;
        return true;
    }
    /* Resynchronise: the next offset holding a whole valid frame. */
    for (uint64_t p = *off + 1; p + FRAME_HDR <= size; p++) {
        const uint8_t *m = rd_fetch(rd, p, 4);
        if (!m || get32(m) != FRAME_MAGIC)
            continue;
        if (rd_frame(rd, p, size, pl, plen) == FR_OK) {
            if (st)
                st->corrupt++;
            *off = p + FRAME_HDR + *plen;
            return true;
        }
    }
    if (st) {
        if (rc == FR_SHORT)
            st->truncated++;
        else
            st->corrupt++;
    }
    *off = size;
    return false;
}

/* Index one segment found at open: count its frames and what they hold. */
static void seg_scan(struct rs_spool *sp, struct rs_seg *s, int fd)
{
    struct rs_rd rd = {.fd = fd, .buf = NULL};
    uint64_t off = SEG_HDR;
    const uint8_t *pl;
    uint32_t plen;
    while (rd_next(&rd, &off, s->size, &pl, &plen, &sp->st)) {
        struct rs_view v;
        rs_entry_parse(pl, plen, &v);
        rs_loss_add(&s->loss[v.type], 1, v.ts_ns, v.ts_ns, v.seq, v.seq);
        s->unread++;
    }
    s->counted = true;
    free(rd.buf);
}

static int spool_scan_dir(struct rs_spool *sp)
{
    DIR *d = opendir(sp->dir);
    if (!d)
        return -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        unsigned long long id;
        unsigned sub;
        int n = 0;
        if (strlen(de->d_name) != 4 + 20 + 1 + 6 + 4 ||
            sscanf(de->d_name, "seg-%20llu-%6u.nss%n", &id, &sub, &n) != 2 ||
            n != (int)strlen(de->d_name))
            continue;
        struct rs_seg *s = calloc(1, sizeof(*s));
        if (!s)
            continue;
        s->id = id;
        s->sub = sub;
        char path[4200];
        seg_path(sp, s, path, sizeof(path));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat stt;
        char hdr[SEG_HDR];
        if (fd < 0 || fstat(fd, &stt) < 0) {
            if (fd >= 0)
                close(fd);
            free(s);
            continue;
        }
        s->size = (uint64_t)stt.st_size;
        if (id > sp->max_id)
            sp->max_id = id;
        if (s->size == 0) { /* created, never written: nothing to keep */
            close(fd);
            unlink(path);
            free(s);
            continue;
        }
        if (s->size < SEG_HDR || pread(fd, hdr, SEG_HDR, 0) != SEG_HDR ||
            memcmp(hdr, SEG_MAGIC, 8) != 0 || get32((uint8_t *)hdr + 8) != 1) {
            /* Not ours or damaged beyond use: set aside, never replayed. */
            close(fd);
            char bad[4300];
            snprintf(bad, sizeof(bad), "%s.bad", path);
            rename(path, bad);
            sp->st.corrupt++;
            free(s);
            continue;
        }
        seg_scan(sp, s, fd);
        close(fd);
        sp->bytes += s->size;
        sp->unread += s->unread;
        seg_insert(sp, s);
    }
    closedir(d);
    return 0;
}

int rs_spool_open(struct rs_spool **out, const char *dir, uint64_t max_bytes, uint64_t seg_bytes,
                  char *err, size_t errlen)
{
    *out = NULL;
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "cannot create spool directory %s: %s", dir, strerror(e));
        return -e;
    }
    struct rs_spool *sp = calloc(1, sizeof(*sp));
    if (!sp || !(sp->dir = strdup(dir))) {
        free(sp);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    sp->max_bytes = max_bytes;
    sp->seg_bytes = seg_bytes < 4096 ? 4096 : seg_bytes;
    sp->wfd = -1;
    sp->rd.fd = -1;
    int rc = spool_scan_dir(sp);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read spool directory %s: %s", dir, strerror(-rc));
        rs_spool_close(sp);
        return rc;
    }
    *out = sp;
    return 0;
}

void rs_spool_close(struct rs_spool *sp)
{
    if (!sp)
        return;
    if (sp->wfd >= 0)
        close(sp->wfd);
    if (sp->rd.fd >= 0)
        close(sp->rd.fd);
    while (sp->head) {
        struct rs_seg *s = sp->head;
        sp->head = s->next;
        free(s);
    }
    free(sp->rd.buf);
    free(sp->wbuf);
    free(sp->dir);
    free(sp);
}

const struct rs_spool_stats *rs_spool_stats(const struct rs_spool *sp)
{
    return &sp->st;
}
uint64_t rs_spool_bytes(const struct rs_spool *sp)
{
    return sp->bytes;
}
uint64_t rs_spool_unread(const struct rs_spool *sp)
{
    return sp->unread;
}
uint64_t rs_spool_last_id(const struct rs_spool *sp)
{
    return sp->max_id;
}

bool rs_spool_room(const struct rs_spool *sp, uint64_t payload_bytes)
{
    return sp->bytes + SEG_HDR + FRAME_HDR + payload_bytes <= sp->max_bytes;
}

/* ---- writing ---------------------------------------------------------------- */

static void writer_close(struct rs_spool *sp)
{
    if (sp->wfd >= 0)
        close(sp->wfd);
    sp->wfd = -1;
    sp->wseg = NULL;
}

/* Create segment (id, sub) with its header; returns the fd or -errno. */
static int seg_create(struct rs_spool *sp, struct rs_seg *s)
{
    char path[4200];
    seg_path(sp, s, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    uint8_t hdr[SEG_HDR] = {0};
    memcpy(hdr, SEG_MAGIC, 8);
    put32(hdr + 8, 1);
    if (write(fd, hdr, SEG_HDR) != SEG_HDR) {
        int e = errno ? errno : EIO;
        close(fd);
        unlink(path);
        return -e;
    }
    s->size = SEG_HDR;
    sp->bytes += SEG_HDR;
    return fd;
}

/* Write the frames of e[0..n) to fd at the end of segment s in one write.
 * Returns how many were written (all or none: a partial write is cut back). */
static size_t seg_write(struct rs_spool *sp, struct rs_seg *s, int fd, struct rs_entry *const *e,
                        size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += FRAME_HDR + e[i]->len;
    if (total > sp->wcap) {
        uint8_t *nb = realloc(sp->wbuf, total);
        if (!nb) {
            sp->st.write_errors++;
            sp->st.last_errno = ENOMEM;
            return 0;
        }
        sp->wbuf = nb;
        sp->wcap = total;
    }
    uint8_t *p = sp->wbuf;
    for (size_t i = 0; i < n; i++) {
        put32(p, FRAME_MAGIC);
        put32(p + 4, e[i]->len);
        put32(p + 8, rs_crc32c(0, e[i]->payload, e[i]->len));
        memcpy(p + FRAME_HDR, e[i]->payload, e[i]->len);
        p += FRAME_HDR + e[i]->len;
    }
    size_t done = 0;
    while (done < total) {
        ssize_t w = pwrite(fd, sp->wbuf + done, total - done, (off_t)(s->size + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            sp->st.write_errors++;
            sp->st.last_errno = w < 0 ? errno : EIO;
            sp->rd.len = 0; /* the reader may have cached the torn bytes */
            /* Never leave half a frame behind. */
            if (ftruncate(fd, (off_t)s->size) < 0)
                sp->st.last_errno = errno;
            return 0;
        }
        done += (size_t)w;
    }
    s->size += total;
    sp->bytes += total;
    for (size_t i = 0; i < n; i++) {
        struct rs_view v;
        if (rs_entry_parse(e[i]->payload, e[i]->len, &v))
            rs_loss_add(&s->loss[v.type], 1, v.ts_ns, v.ts_ns, v.seq, v.seq);
    }
    s->unread += n;
    sp->unread += n;
    return n;
}

static struct rs_seg *seg_new(struct rs_spool *sp, uint64_t id, uint32_t sub, int *fd)
{
    struct rs_seg *s = calloc(1, sizeof(*s));
    if (!s) {
        sp->st.write_errors++;
        sp->st.last_errno = ENOMEM;
        return NULL;
    }
    s->id = id;
    s->sub = sub;
    *fd = seg_create(sp, s);
    if (*fd < 0) {
        sp->st.write_errors++;
        sp->st.last_errno = -*fd;
        free(s);
        return NULL;
    }
    if (id > sp->max_id)
        sp->max_id = id;
    seg_insert(sp, s);
    return s;
}

size_t rs_spool_append(struct rs_spool *sp, struct rs_entry *const *e, size_t n)
{
    size_t done = 0;
    while (done < n) {
        if (!sp->wseg || sp->wseg->size >= sp->seg_bytes) {
            writer_close(sp);
            int fd;
            struct rs_seg *s = seg_new(sp, sp->max_id + 1, 0, &fd);
            if (!s)
                return done;
            sp->wseg = s;
            sp->wfd = fd;
        }
        /* As many as fit in this segment (at least one). */
        size_t k = 0;
        uint64_t room = sp->seg_bytes - sp->wseg->size, used = 0;
        while (done + k < n && (k == 0 || used + FRAME_HDR + e[done + k]->len <= room)) {
            used += FRAME_HDR + e[done + k]->len;
            k++;
        }
        size_t w = seg_write(sp, sp->wseg, sp->wfd, e + done, k);
        done += w;
        if (w < k)
            return done;
    }
    return done;
}

size_t rs_spool_append_after(struct rs_spool *sp, uint64_t after, struct rs_entry *const *e,
                             size_t n)
{
    if (n == 0)
        return 0;
    uint32_t sub = 1;
    for (struct rs_seg *s = sp->head; s; s = s->next)
        if (s->id == after && s->sub >= sub)
            sub = s->sub + 1;
    int fd;
    struct rs_seg *s = seg_new(sp, after, sub, &fd);
    if (!s)
        return 0;
    size_t w = seg_write(sp, s, fd, e, n);
    close(fd);
    return w;
}

/* ---- replay ----------------------------------------------------------------- */

/* The reader passed the end of its segment. */
static void reader_done(struct rs_spool *sp)
{
    struct rs_seg *s = sp->rseg;
    if (s == sp->wseg)
        writer_close(sp); /* caught up: later spills start a new segment */
    s->fully_read = true;
    sp->unread -= s->unread < sp->unread ? s->unread : sp->unread;
    s->unread = 0;
    if (sp->rd.fd >= 0)
        close(sp->rd.fd);
    sp->rd.fd = -1;
    sp->rseg = NULL;
    seg_maybe_remove(sp, s);
}

struct rs_entry *rs_spool_read(struct rs_spool *sp)
{
    for (;;) {
        if (!sp->rseg) {
            struct rs_seg *s = sp->head;
            while (s && s->fully_read)
                s = s->next;
            if (!s)
                return NULL;
            char path[4200];
            seg_path(sp, s, path, sizeof(path));
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            sp->rseg = s;
            s->started = true;
            if (fd < 0) {
                sp->st.last_errno = errno;
                sp->st.corrupt++;
                reader_done(sp);
                continue;
            }
            rd_reset(&sp->rd, fd);
            sp->roff = SEG_HDR;
        }
        struct rs_seg *s = sp->rseg;
        const uint8_t *pl;
        uint32_t plen;
        if (!rd_next(&sp->rd, &sp->roff, s->size, &pl, &plen, s->counted ? NULL : &sp->st)) {
            if (s == sp->wseg && sp->roff < s->size)
                continue; /* cannot happen: rd_next consumed to the end */
            reader_done(sp);
            continue;
        }
        struct rs_entry *e = malloc(sizeof(*e) + plen);
        if (!e) {
            sp->roff -= FRAME_HDR + plen; /* retry later */
            return NULL;
        }
        e->next = NULL;
        e->rec = NULL;
        e->seg = s;
        e->after = 0;
        e->len = plen;
        memcpy(e->payload, pl, plen);
        s->outstanding++;
        if (s->unread) {
            s->unread--;
            sp->unread--;
        }
        /* At the end already: say so now, since the caller stops asking once
         * nothing is unread, and the segment can go once e is released. */
        if (sp->roff >= s->size)
            reader_done(sp);
        return e;
    }
}

void rs_spool_release(struct rs_spool *sp, struct rs_entry *e)
{
    struct rs_seg *s = e->seg;
    if (!s)
        return;
    e->seg = NULL;
    if (s->outstanding)
        s->outstanding--;
    seg_maybe_remove(sp, s);
}

uint64_t rs_spool_drop_oldest(struct rs_spool *sp, struct rs_loss loss[RS_TYPES])
{
    for (struct rs_seg *s = sp->head; s; s = s->next) {
        if (s->started || s->fully_read || s->outstanding)
            continue;
        uint64_t n = 0;
        for (int t = 0; t < RS_TYPES; t++) {
            const struct rs_loss *l = &s->loss[t];
            rs_loss_add(&loss[t], l->count, l->ts_min, l->ts_max, l->seq_min, l->seq_max);
            n += l->count;
        }
        if (s == sp->wseg)
            writer_close(sp);
        seg_unlink(sp, s);
        return n;
    }
    return 0;
}
