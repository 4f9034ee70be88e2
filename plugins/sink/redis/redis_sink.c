/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_sink.c - sink/redis: every record as an XADD to a Redis stream per
 * record type, delivered at least once.
 *
 * Data path (loop thread, like every sink): process() turns each record into
 * an entry (flat fields + the JSON, spool.h) that keeps a reference to the
 * record until Redis acknowledged its XADD. Entries wait in four FIFOs, oldest
 * first:
 *     R  sent, failed (connection lost, OOM, ...): resent first
 *     F  sent, waiting for the reply (at most max_inflight)
 *     spool (disk)  older than everything in Q
 *     Q  in memory, not sent yet (bounded by buffer_size)
 * When Q exceeds buffer_size its oldest entries are written to the spool, so
 * the spool always holds entries older than memory and replay order is simply
 * "spool, then memory". When the spool is full, records are dropped by policy
 * (oldest: whole unread segments; newest: the incoming records), counted per
 * record type, and a gap entry is written to each affected stream once Redis
 * is reachable. At shutdown (flush) the sink keeps delivering until
 * drain_timeout, then spools what is left (see spool.h for the ordering of
 * entries already sent).
 *
 * Redis: hiredis's async client on the core's libuv loop (hiredis's libuv
 * adapter). Connect, AUTH, SELECT, PING; then pipelined XADDs, one reply per
 * entry in order. hiredis 0.14 has no timeouts, so a tick timer enforces the
 * connect and reply timeouts and schedules reconnects (exponential backoff
 * with jitter).
 *
 * Threads: everything runs on the loop thread; nothing here is shared.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <uv.h>

#include "netscope/ns_plugin.h"

#include "ns_redis_conn.h"
#include "spool.h"

#define RS_MAX_OBUF (96u * 1024u) /* bytes of XADDs queued in hiredis per write */

/* ---- options ---------------------------------------------------------------- */

enum {
    STREAM_FLOW,
    STREAM_DNS,
    STREAM_TLS,
    STREAM_HTTP,
    STREAM_DEVICE,
    STREAM_ALERT,
    STREAM_TCP,
    STREAM_ARP,
    STREAM_ICMP,
    STREAM_OTHER,
    NSTREAMS
};

struct rsink_config {
    struct ns_redis_addr addr; /* host, port, unix_socket, username, password, db */
    char *stream[NSTREAMS];
    uint64_t maxlen;
    bool maxlen_exact;
    uint64_t batch_size, flush_interval, max_inflight;
    uint64_t buffer_size;
    char *spool_dir;
    uint64_t spool_size, spool_segment_size;
    int on_spool_full; /* 0 = oldest, 1 = newest */
    int on_slow;       /* 0 = spool, 1 = wait */
    bool hold_records;
    uint64_t connect_timeout, reply_timeout, backoff_min, backoff_max, drain_timeout;
};

/* ---- state ------------------------------------------------------------------ */

struct fifo {
    struct rs_entry *head, *tail;
    size_t n;
};

enum conn_state { C_DOWN, C_CONNECTING, C_READY };

/* Reasons logged once (bit index) and counted. */
enum reason {
    R_CONNECT,
    R_AUTH,
    R_SELECT,
    R_TIMEOUT,
    R_WRONGTYPE,
    R_OOM,
    R_BUSY,
    R_NOPERM,
    R_OTHER,
    R_SPOOL,
    R_NREASONS
};
static const char *const reason_names[R_NREASONS] = {
    "connect", "auth", "select", "timeout", "wrongtype", "oom", "busy", "noperm", "other", "spool"};

enum drop { D_SPOOL_FULL, D_REJECTED, D_MEMORY, D_SPOOL_ERROR, D_SHUTDOWN, D_NDROPS };
static const char *const drop_names[D_NDROPS] = {"spool_full", "rejected", "memory", "spool_error",
                                                 "shutdown"};

struct rsink {
    struct ns_instance *ins;
    const struct ns_host *h;
    const struct rsink_config *cfg;
    uv_loop_t *loop;
    uv_timer_t *tick;
    uv_check_t *drain; /* reads every reply waiting on the socket, once per loop turn */
    char maxlen_s[24];

    redisAsyncContext *ac;
    enum conn_state state;
    bool ever_connected, outage_logged;
    uint64_t backoff_ns, next_connect_ns, connect_started_ns, last_progress_ns, retry_at_ns;
    uint32_t logged; /* reasons already logged once */

    struct fifo G, R, F, Q; /* gap entries, resend, in flight, pending */
    struct fifo X;          /* failed in flight, in order: goes before R once F is empty */
    struct rs_entry *pend;  /* read from the spool, not sent yet           */
    bool resending;
    uint64_t mem_bytes;
    uint64_t q_since_ns;  /* when Q last went from empty to non-empty */
    uint64_t next_gap_ns; /* no gap entries before this (see pump) */
    struct rs_spool *sp;
    struct rs_loss loss[RS_TYPES];
    bool loss_pending;
    struct rs_spool_stats seen; /* spool damage already counted */

    bool draining, finished;
    uint64_t drain_deadline_ns;

    char *jbuf;
    size_t jcap;
    char *cmd; /* one formatted XADD */
    size_t ccap;

    ns_counter *c_delivered, *c_replayed, *c_spooled, *c_buffered, *c_spool_bytes, *c_spool_entries,
        *c_reconnects, *c_gaps, *c_connected, *c_last_error, *c_corrupt, *c_truncated;
    ns_counter *c_drop[D_NDROPS], *c_err[R_NREASONS];
};

static const char *const type_names[RS_TYPES] = {
    [0] = "other",          [NS_REC_FLOW] = "flow",   [NS_REC_DNS] = "dns",
    [NS_REC_TLS] = "tls",   [NS_REC_HTTP] = "http",   [NS_REC_HTTP2] = "http2",
    [NS_REC_ICMP] = "icmp", [NS_REC_ARP] = "arp",     [NS_REC_DEVICE] = "device",
    [NS_REC_TCP] = "tcp",   [NS_REC_ALERT] = "alert", [NS_REC_METRIC] = "metric",
    [NS_REC_GAP] = "gap",   [NS_REC_OTHER] = "other", [14] = "other",
    [15] = "other"};

static const char *type_name(unsigned t)
{
    return t < RS_TYPES && type_names[t] ? type_names[t] : "other";
}

static int stream_of(unsigned type)
{
    switch (type) {
    case NS_REC_FLOW:
        return STREAM_FLOW;
    case NS_REC_DNS:
        return STREAM_DNS;
    case NS_REC_TLS:
        return STREAM_TLS;
    case NS_REC_HTTP:
    case NS_REC_HTTP2:
        return STREAM_HTTP;
    case NS_REC_DEVICE:
        return STREAM_DEVICE;
    case NS_REC_ALERT:
        return STREAM_ALERT;
    case NS_REC_TCP:
        return STREAM_TCP;
    case NS_REC_ARP:
        return STREAM_ARP;
    case NS_REC_ICMP:
        return STREAM_ICMP;
    default:
        return STREAM_OTHER;
    }
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- FIFOs ------------------------------------------------------------------- */

static void fifo_push(struct fifo *f, struct rs_entry *e)
{
    e->next = NULL;
    if (f->tail)
        f->tail->next = e;
    else
        f->head = e;
    f->tail = e;
    f->n++;
}

static struct rs_entry *fifo_pop(struct fifo *f)
{
    struct rs_entry *e = f->head;
    if (!e)
        return NULL;
    f->head = e->next;
    if (!f->head)
        f->tail = NULL;
    f->n--;
    e->next = NULL;
    return e;
}

/* Remove the newest entry (O(n), used only when dropping under "newest"). */
static struct rs_entry *fifo_pop_tail(struct fifo *f)
{
    struct rs_entry *e = f->head, *prev = NULL;
    if (!e)
        return NULL;
    while (e->next) {
        prev = e;
        e = e->next;
    }
    if (prev)
        prev->next = NULL;
    else
        f->head = NULL;
    f->tail = prev;
    f->n--;
    return e;
}

/* Put everything of `front` before `f` (front becomes empty). */
static void fifo_prepend(struct fifo *f, struct fifo *front)
{
    if (!front->n)
        return;
    front->tail->next = f->head;
    if (!f->tail)
        f->tail = front->tail;
    f->head = front->head;
    f->n += front->n;
    front->head = front->tail = NULL;
    front->n = 0;
}

/* ---- small helpers ------------------------------------------------------------ */

static void note_error(struct rsink *c, enum reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Count an error; log it the first time this reason occurs (later ones are
 * only counted, so a persistent misconfiguration cannot flood the log). */
static void note_error(struct rsink *c, enum reason r, const char *fmt, ...)
{
    ns_counter_inc(c->c_err[r]);
    ns_gauge_set(c->c_last_error, wall_ns() / 1000000000u);
    if (c->logged & (1u << r))
        return;
    c->logged |= 1u << r;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ns_log_error(c->ins, "%s (reason %s; further occurrences are only counted)", msg,
                 reason_names[r]);
}

/* Memory an entry keeps: itself and, while it holds one, the record (at
 * least a 2 KiB block). */
static uint64_t entry_cost(const struct rs_entry *e)
{
    return sizeof(*e) + e->len + (e->rec ? 2048u : 0u);
}

/* An entry leaves the sink (delivered, or given up): release the record and
 * the spool segment it came from. */
static void entry_done(struct rsink *c, struct rs_entry *e)
{
    uint64_t cost = entry_cost(e);
    c->mem_bytes -= cost < c->mem_bytes ? cost : c->mem_bytes;
    if (e->rec)
        c->h->rec_release(e->rec);
    if (e->seg && c->sp)
        rs_spool_release(c->sp, e);
    free(e);
}

static void lose(struct rsink *c, struct rs_entry *e, enum drop why)
{
    struct rs_view v;
    if (rs_entry_parse(e->payload, e->len, &v) && why != D_REJECTED) {
        rs_loss_add(&c->loss[v.type], 1, v.ts_ns, v.ts_ns, v.seq, v.seq);
        c->loss_pending = true;
    }
    ns_counter_inc(c->c_drop[why]);
    entry_done(c, e);
}

static void update_gauges(struct rsink *c)
{
    ns_gauge_set(c->c_buffered, c->G.n + c->R.n + c->X.n + c->F.n + c->Q.n);
    if (c->sp) {
        ns_gauge_set(c->c_spool_bytes, rs_spool_bytes(c->sp));
        ns_gauge_set(c->c_spool_entries, rs_spool_unread(c->sp));
        const struct rs_spool_stats *st = rs_spool_stats(c->sp);
        if (st->corrupt > c->seen.corrupt) {
            ns_counter_add(c->c_corrupt, st->corrupt - c->seen.corrupt);
            ns_log_warn(c->ins, "spool: %" PRIu64 " damaged frame(s) skipped (bad checksum)",
                        st->corrupt - c->seen.corrupt);
        }
        if (st->truncated > c->seen.truncated) {
            ns_counter_add(c->c_truncated, st->truncated - c->seen.truncated);
            ns_log_warn(c->ins, "spool: %" PRIu64 " truncated segment tail(s) skipped",
                        st->truncated - c->seen.truncated);
        }
        if (st->write_errors > c->seen.write_errors)
            note_error(c, R_SPOOL, "spool: cannot write to %s: %s", c->cfg->spool_dir,
                       strerror(st->last_errno));
        c->seen = *st;
    }
    ns_gauge_set(c->c_connected, c->state == C_READY);
}

/* ---- building entries -------------------------------------------------------------- */

/* v in decimal at out (21 bytes of room), NUL-terminated; returns the length.
 * snprintf showed in profiles of the per-record path. */
static size_t dec(char *out, uint64_t v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}

/* Text of a top-level address field, or 0 when absent. */
static size_t field_text(struct rsink *c, const struct ns_record *rec, const char *key, char *out,
                         size_t cap)
{
    struct ns_field_view v;
    if (!c->h->rec_get(rec, key, &v))
        return 0;
    switch (v.type) {
    case NS_F_IP:
        if (!inet_ntop(v.v.ip.family == 6 ? AF_INET6 : AF_INET, v.v.ip.a, out, (socklen_t)cap))
            return 0;
        return strlen(out);
    case NS_F_UINT:
        return cap >= 21 ? dec(out, v.v.u) : 0;
    case NS_F_INT:
        return (size_t)snprintf(out, cap, "%" PRId64, v.v.i);
    case NS_F_STR:
        if (v.v.s.len >= cap)
            return 0;
        memcpy(out, v.v.s.ptr, v.v.s.len);
        out[v.v.s.len] = 0;
        return v.v.s.len;
    default:
        return 0;
    }
}

static struct rs_entry *entry_from_record(struct rsink *c, struct ns_record *rec)
{
    const struct ns_host *h = c->h;
    size_t jlen = 0;
    if (h->rec_to_json(rec, &c->jbuf, &c->jcap, &jlen) < 0)
        return NULL;
    unsigned type = (unsigned)h->rec_type(rec);
    uint64_t seq = h->rec_seq(rec), ts = h->rec_time(rec);
    char seqs[24], tss[24], sip[64], sport[24], dip[64], dport[24], dset[128];
    const char *k[12], *v[12];
    size_t kl[12], vl[12];
    uint32_t n = 0;
#define ADD(key, val, len)                                                                         \
    do {                                                                                           \
        k[n] = key;                                                                                \
        kl[n] = sizeof(key) - 1;                                                                   \
        v[n] = val;                                                                                \
        vl[n] = len;                                                                               \
        n++;                                                                                       \
    } while (0)
    const char *tn = type_name(type);
    ADD("type", tn, strlen(tn));
    size_t dl = field_text(c, rec, "event.dataset", dset, sizeof(dset));
    if (!dl)
        dl = (size_t)snprintf(dset, sizeof(dset), "netscope.%s", tn);
    ADD("dataset", dset, dl);
    ADD("schema", "1", 1);
    ADD("seq", seqs, dec(seqs, seq));
    ADD("time_ns", tss, dec(tss, ts));
    const char *obs = h->hostname(c->ins);
    if (obs && *obs)
        ADD("observer", obs, strlen(obs));
    size_t l;
    if ((l = field_text(c, rec, "source.ip", sip, sizeof(sip))))
        ADD("src_ip", sip, l);
    if ((l = field_text(c, rec, "source.port", sport, sizeof(sport))))
        ADD("src_port", sport, l);
    if ((l = field_text(c, rec, "destination.ip", dip, sizeof(dip))))
        ADD("dst_ip", dip, l);
    if ((l = field_text(c, rec, "destination.port", dport, sizeof(dport))))
        ADD("dst_port", dport, l);
    ADD("json", c->jbuf, jlen);
#undef ADD
    return rs_entry_new((uint8_t)(type < RS_TYPES ? type : NS_REC_OTHER), seq, ts, n, k, kl, v, vl);
}

/* One gap entry per record type that lost records; they go to that type's
 * stream. The JSON is a netscope.gap record made by the core's serialiser. */
static void make_gaps(struct rsink *c)
{
    const struct ns_host *h = c->h;
    for (unsigned t = 0; t < RS_TYPES; t++) {
        struct rs_loss *l = &c->loss[t];
        if (!l->count)
            continue;
        uint64_t ts = wall_ns();
        struct ns_record *r = h->rec_new(c->ins, NS_REC_GAP, ts);
        if (!r)
            return;
        h->rec_add_cstr(r, "event.kind", "event");
        h->rec_add_cstr(r, "event.reason", "spool_full");
        h->rec_add_cstr(r, "netscope.gap.type", type_name(t));
        h->rec_add_cstr(r, "netscope.gap.stream", c->cfg->stream[stream_of(t)]);
        h->rec_add_uint(r, "netscope.gap.lost", l->count);
        h->rec_add_time(r, "netscope.gap.first_time", l->ts_min);
        h->rec_add_time(r, "netscope.gap.last_time", l->ts_max);
        h->rec_add_uint(r, "netscope.gap.first_sequence", l->seq_min);
        h->rec_add_uint(r, "netscope.gap.last_sequence", l->seq_max);
        size_t jlen = 0;
        int rc = h->rec_to_json(r, &c->jbuf, &c->jcap, &jlen);
        h->rec_release(r);
        if (rc < 0)
            return;
        char lost[24], ts_s[24], a[24], b[24], s1[24], s2[24];
        const char *obs = h->hostname(c->ins);
        const char *k[] = {"type",     "dataset",   "schema",        "seq",          "time_ns",
                           "lost",     "lost_type", "first_time_ns", "last_time_ns", "first_seq",
                           "last_seq", "observer",  "json"};
        const char *v[] = {"gap", "netscope.gap", "1",    "0", ts_s, lost, type_name(t), a, b, s1,
                           s2,    obs ? obs : "", c->jbuf};
        size_t kl[13], vl[13];
        snprintf(ts_s, sizeof(ts_s), "%" PRIu64, ts);
        snprintf(lost, sizeof(lost), "%" PRIu64, l->count);
        snprintf(a, sizeof(a), "%" PRIu64, l->ts_min);
        snprintf(b, sizeof(b), "%" PRIu64, l->ts_max);
        snprintf(s1, sizeof(s1), "%" PRIu64, l->seq_min);
        snprintf(s2, sizeof(s2), "%" PRIu64, l->seq_max);
        for (int i = 0; i < 13; i++) {
            kl[i] = strlen(k[i]);
            vl[i] = i == 12 ? jlen : strlen(v[i]);
        }
        /* The payload type routes it: the gap goes to the stream that lost. */
        struct rs_entry *e = rs_entry_new((uint8_t)t, 0, ts, 13, k, kl, v, vl);
        if (!e)
            return;
        ns_log_warn(c->ins, "%" PRIu64 " %s record(s) lost (spool full); gap entry for %s",
                    l->count, type_name(t), c->cfg->stream[stream_of(t)]);
        c->mem_bytes += entry_cost(e);
        fifo_push(&c->G, e);
        ns_counter_inc(c->c_gaps);
        memset(l, 0, sizeof(*l));
    }
    c->loss_pending = false;
}

/* ---- spilling to disk --------------------------------------------------------------- */

/* Keep memory under buffer_size: the oldest pending entries go to the spool
 * (so the spool stays older than memory); when it is full or absent, drop by
 * policy. */
static void spill(struct rsink *c)
{
    if (c->cfg->on_slow == 1 && c->state == C_READY)
        return; /* wait: process() holds the pipeline instead */
    while (c->mem_bytes > c->cfg->buffer_size && c->Q.n) {
        if (!c->sp) {
            if (c->cfg->on_spool_full == 1)
                lose(c, fifo_pop_tail(&c->Q), D_SPOOL_FULL);
            else
                lose(c, fifo_pop(&c->Q), D_SPOOL_FULL);
            continue;
        }
        /* A run of entries that fits, written in one go. */
        struct rs_entry *run[256];
        size_t n = 0;
        uint64_t bytes = 0, disk = 0, over = c->mem_bytes - c->cfg->buffer_size;
        for (struct rs_entry *e = c->Q.head; e && n < 256 && bytes < over + 1; e = e->next) {
            if (!rs_spool_room(c->sp, disk + e->len + 12u * (n + 1)))
                break;
            run[n++] = e;
            bytes += entry_cost(e);
            disk += e->len;
        }
        if (n == 0) {
            /* Spool full. */
            if (c->cfg->on_spool_full == 0) {
                uint64_t lost = rs_spool_drop_oldest(c->sp, c->loss);
                if (lost) {
                    ns_counter_add(c->c_drop[D_SPOOL_FULL], lost);
                    c->loss_pending = true;
                    continue;
                }
                lose(c, fifo_pop(&c->Q), D_SPOOL_FULL);
            } else {
                lose(c, fifo_pop_tail(&c->Q), D_SPOOL_FULL);
            }
            continue;
        }
        size_t w = rs_spool_append(c->sp, run, n);
        ns_counter_add(c->c_spooled, w);
        for (size_t i = 0; i < w; i++)
            entry_done(c, fifo_pop(&c->Q));
        if (w < n) {
            /* Write failure (full disk, I/O error): counted; the entry that
             * could not be written is lost, so the sink cannot spin on it. */
            update_gauges(c);
            lose(c, fifo_pop(&c->Q), D_SPOOL_ERROR);
        }
    }
    /* The losses of dropped segments were added to c->loss directly. */
}

/* ---- sending ------------------------------------------------------------------------ */

static void pump(struct rsink *c);
static void conn_kill(struct rsink *c);

static void xadd_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rsink *c = priv;
    redisReply *reply = r;
    struct rs_entry *e = fifo_pop(&c->F);
    if (!e)
        return;
    c->last_progress_ns = ns_redis_now_ns();
    if (!reply) {
        /* The connection is going away: resend later, first. */
        fifo_push(&c->X, e);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        const char *m = reply->str ? reply->str : "";
        enum reason why = R_OTHER;
        bool retry = true;
        if (!strncmp(m, "WRONGTYPE", 9)) {
            why = R_WRONGTYPE;
            retry = false;
        } else if (!strncmp(m, "OOM", 3)) {
            why = R_OOM;
        } else if (!strncmp(m, "NOPERM", 6) || !strncmp(m, "NOAUTH", 6)) {
            why = R_NOPERM;
        } else if (!strncmp(m, "BUSY", 4) || !strncmp(m, "LOADING", 7) ||
                   !strncmp(m, "MISCONF", 7) || !strncmp(m, "READONLY", 8) ||
                   !strncmp(m, "TRYAGAIN", 8) || !strncmp(m, "MASTERDOWN", 10) ||
                   !strncmp(m, "CLUSTERDOWN", 11) || !strncmp(m, "NOREPLICAS", 10)) {
            why = R_BUSY;
        } else {
            retry = false; /* ERR ...: this entry will never be accepted */
        }
        struct rs_view v;
        const char *stream = "?";
        if (rs_entry_parse(e->payload, e->len, &v))
            stream = c->cfg->stream[stream_of(v.type)];
        note_error(c, why, "XADD %s: %s", stream, m);
        if (!retry) {
            lose(c, e, D_REJECTED);
        } else {
            /* One backoff step per refused round (not per entry of it); the
             * round is resent once everything in flight has answered. */
            if (!c->X.n) {
                c->retry_at_ns = ns_redis_now_ns() + c->backoff_ns;
                c->backoff_ns *= 2;
                if (c->backoff_ns > c->cfg->backoff_max)
                    c->backoff_ns = c->cfg->backoff_max;
            }
            c->resending = false;
            fifo_push(&c->X, e);
        }
    } else {
        ns_counter_inc(c->c_delivered);
        if (e->seg)
            ns_counter_inc(c->c_replayed);
        entry_done(c, e);
        if (!c->R.n && !c->X.n)
            c->backoff_ns = c->cfg->backoff_min;
    }
    if (ac == c->ac && c->state == C_READY)
        pump(c);
}

enum send_rc { SENT, SEND_FAILED, SEND_BAD };

/* "<prefix><decimal>\r\n" at p; returns its length. */
static size_t u64_text(char *p, char prefix, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    p[0] = prefix;
    for (size_t i = 0; i < n; i++)
        p[1 + i] = tmp[n - 1 - i];
    p[1 + n] = '\r';
    p[2 + n] = '\n';
    return n + 3;
}

/* Queue the XADD of e on the connection. The caller moves e to F on SENT,
 * drops it on SEND_BAD and leaves it where it is on SEND_FAILED. */
static enum send_rc send_entry(struct rsink *c, struct rs_entry *e)
{
    struct rs_view v;
    if (!rs_entry_parse(e->payload, e->len, &v))
        return SEND_BAD;
    const char *argv[RS_MAX_FIELDS * 2 + 8];
    size_t argl[RS_MAX_FIELDS * 2 + 8];
    int n = 0;
    argv[n] = "XADD";
    argl[n++] = 4;
    const char *stream = c->cfg->stream[stream_of(v.type)];
    argv[n] = stream;
    argl[n++] = strlen(stream);
    if (c->cfg->maxlen) {
        argv[n] = "MAXLEN";
        argl[n++] = 6;
        if (!c->cfg->maxlen_exact) {
            argv[n] = "~";
            argl[n++] = 1;
        }
        argv[n] = c->maxlen_s;
        argl[n++] = strlen(c->maxlen_s);
    }
    argv[n] = "*";
    argl[n++] = 1;
    for (uint32_t i = 0; i < v.nfields; i++) {
        argv[n] = v.key[i];
        argl[n++] = v.klen[i];
        argv[n] = v.val[i];
        argl[n++] = v.vlen[i];
    }
    /* RESP written here in one pass (hiredis's own formatter costs an
     * sdscatfmt per argument, the largest item in a profile). */
    size_t need = 16;
    for (int i = 0; i < n; i++)
        need += argl[i] + 24;
    if (need > c->ccap) {
        char *nb = realloc(c->cmd, need);
        if (!nb)
            return SEND_FAILED;
        c->cmd = nb;
        c->ccap = need;
    }
    char *p = c->cmd;
    p += u64_text(p, '*', (uint64_t)n);
    for (int i = 0; i < n; i++) {
        p += u64_text(p, '$', argl[i]);
        memcpy(p, argv[i], argl[i]);
        p += argl[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    if (redisAsyncFormattedCommand(c->ac, xadd_cb, c, c->cmd, (size_t)(p - c->cmd)) != REDIS_OK)
        return SEND_FAILED;
    if (!c->F.n)
        c->last_progress_ns = ns_redis_now_ns();
    if (!e->seg && c->sp)
        e->after = rs_spool_last_id(c->sp);
    return SENT;
}

/* Send what may be sent, oldest first: gap entries, the resend list (once the
 * in-flight window drained and the retry time came), the spool, memory. An
 * entry leaves its list only once its XADD is queued, so a failure to queue
 * (the context is closing) keeps the order. */
static void pump(struct rsink *c)
{
    if (c->state != C_READY || !c->ac)
        return;
    /* Gap entries: at once after a (re)connect, then at most once a second
     * while records keep being lost, so a long overload makes a few. */
    if (c->loss_pending && ns_redis_now_ns() >= c->next_gap_ns) {
        make_gaps(c);
        c->next_gap_ns = ns_redis_now_ns() + 1000000000u;
    }
    /* Entries refused or cut off in flight are older than the ones of R not
     * resent yet (R is drained before anything else is sent). */
    if (c->X.n && !c->F.n)
        fifo_prepend(&c->R, &c->X);
    if (c->X.n)
        return;
    if (c->R.n && !c->resending) {
        if (c->F.n || ns_redis_now_ns() < c->retry_at_ns)
            return;
        c->resending = true;
    }
    while (c->F.n < c->cfg->max_inflight) {
        /* hiredis's output buffer is freed once written and grown again from
         * nothing: past a few hundred KiB that is mmap, page faults and
         * munmap every loop turn, the largest cost in a profile. */
        if (sdslen(c->ac->c.obuf) >= RS_MAX_OBUF)
            break;
        struct fifo *from = NULL;
        struct rs_entry *e = NULL;
        if (c->G.n) {
            from = &c->G;
        } else if (c->R.n) {
            from = &c->R;
        } else if (c->pend || (c->sp && rs_spool_unread(c->sp))) {
            if (!c->pend && (c->pend = rs_spool_read(c->sp)))
                c->mem_bytes += entry_cost(c->pend);
            e = c->pend;
        }
        if (!from && !e && c->Q.n)
            from = &c->Q;
        if (from)
            e = from->head;
        if (!e)
            break;
        enum send_rc rc = send_entry(c, e);
        if (rc == SEND_FAILED)
            break;
        if (from)
            fifo_pop(from);
        else
            c->pend = NULL;
        if (rc == SEND_BAD)
            lose(c, e, D_REJECTED);
        else
            fifo_push(&c->F, e);
    }
    if (!c->R.n)
        c->resending = false;
}

/* ---- connection ---------------------------------------------------------------------- */

static void schedule_reconnect(struct rsink *c)
{
    c->next_connect_ns = ns_redis_backoff(&c->backoff_ns, c->cfg->backoff_max);
    c->h->set_ready(c->ins, false);
}

/* The connection failed or was lost: everything in flight is resent first. */
static void conn_lost(struct rsink *c)
{
    if (c->state == C_READY)
        ns_log_warn(c->ins, "connection to Redis lost; buffering (%zu in memory)",
                    c->R.n + c->X.n + c->F.n + c->Q.n);
    c->ac = NULL;
    c->state = C_DOWN;
    c->resending = false;
    c->retry_at_ns = 0;
    schedule_reconnect(c);
}

/* Drop the connection now (from a timer or our own callbacks, never from
 * hiredis's connect/disconnect callbacks). */
static void conn_kill(struct rsink *c)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    if (c->finished) {
        c->ac = NULL;
        c->state = C_DOWN;
    } else {
        conn_lost(c);
    }
    redisAsyncFree(ac); /* in-flight callbacks run with NULL: F moves to R */
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rsink *c = ac->data;
    if (ac != c->ac)
        return;
    if (status != REDIS_OK) {
        note_error(c, R_CONNECT, "cannot connect to Redis: %s", ac->errstr);
        c->ac = NULL; /* hiredis frees it after this callback */
        c->state = C_DOWN;
        schedule_reconnect(c);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rsink *c = ac->data;
    if (ac != c->ac)
        return;
    if (status != REDIS_OK)
        note_error(c, R_CONNECT, "Redis connection lost: %s", ac->errstr);
    conn_lost(c);
}

static void handshake_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rsink *c = ac->data;
    redisReply *reply = r;
    enum reason step = (enum reason)(intptr_t)priv;
    if (ac != c->ac || !reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        const char *m = reply->str ? reply->str : "";
        if (!strncmp(m, "NOAUTH", 6) || !strncmp(m, "WRONGPASS", 9) ||
            strstr(m, "invalid password") || strstr(m, "invalid username"))
            step = R_AUTH;
        note_error(c, step, "Redis %s failed: %s",
                   step == R_AUTH     ? "authentication"
                   : step == R_SELECT ? "SELECT"
                                      : "handshake",
                   m);
        conn_kill(c);
        return;
    }
    if (step != R_OTHER)
        return;
    /* PING answered: the connection is usable. */
    c->state = C_READY;
    c->next_gap_ns = 0;
    c->backoff_ns = c->cfg->backoff_min;
    c->retry_at_ns = 0;
    c->last_progress_ns = ns_redis_now_ns();
    c->logged &= ~((1u << R_CONNECT) | (1u << R_TIMEOUT));
    if (!c->ever_connected)
        ns_log_info(c->ins, "connected to Redis%s",
                    c->sp && rs_spool_unread(c->sp) ? "; replaying the spool first" : "");
    else
        ns_log_info(c->ins, "reconnected to Redis; resending %zu, replaying %" PRIu64 " spooled",
                    c->R.n + c->X.n, c->sp ? rs_spool_unread(c->sp) : 0);
    c->ever_connected = true;
    c->h->set_ready(c->ins, true);
    pump(c);
}

static void conn_start(struct rsink *c)
{
    const struct rsink_config *cfg = c->cfg;
    if (c->ever_connected || c->next_connect_ns)
        ns_counter_inc(c->c_reconnects);
    char err[256];
    redisAsyncContext *ac =
        ns_redis_open(&cfg->addr, c->loop, c, on_connect, on_disconnect, true, err, sizeof(err));
    if (!ac) {
        note_error(c, R_CONNECT, "%s", err);
        schedule_reconnect(c);
        return;
    }
    c->ac = ac;
    c->state = C_CONNECTING;
    c->connect_started_ns = ns_redis_now_ns();
    ns_redis_handshake(ac, &cfg->addr, handshake_cb, (void *)(intptr_t)R_AUTH,
                       (void *)(intptr_t)R_SELECT);
    redisAsyncCommand(ac, handshake_cb, (void *)(intptr_t)R_OTHER, "PING");
}

/* ---- drain and close ------------------------------------------------------------------ */

static void tick_close_cb(uv_handle_t *h)
{
    free(h);
}

/* Give up on delivery: spool (or count as lost) everything still held, close
 * the connection and the timer. Idempotent. */
static void finish(struct rsink *c)
{
    if (c->finished)
        return;
    c->finished = true;
    conn_kill(c); /* F -> X */
    fifo_prepend(&c->R, &c->X);
    if (c->loss_pending)
        make_gaps(c);
    size_t left = c->G.n + c->R.n + c->Q.n + (c->pend ? 1 : 0);
    uint64_t spooled = 0;
    /* Order on disk: R (oldest; memory ones right after the segment that was
     * newest when they were sent), then gap entries and Q at the tail. */
    struct rs_entry *e;
    if (c->pend) { /* still in its segment, which stays on disk */
        c->mem_bytes -= entry_cost(c->pend);
        free(c->pend);
        c->pend = NULL;
    }
    while ((e = fifo_pop(&c->R))) {
        if (e->seg) {
            /* Still in its segment, which stays on disk: not released. */
            if (e->rec)
                c->h->rec_release(e->rec);
            free(e);
            continue;
        }
        if (c->sp && rs_spool_append_after(c->sp, e->after, &e, 1) == 1)
            spooled++;
        else
            ns_counter_inc(c->c_drop[D_SHUTDOWN]);
        entry_done(c, e);
    }
    struct fifo *tail[2] = {&c->G, &c->Q};
    for (int i = 0; i < 2; i++) {
        while ((e = fifo_pop(tail[i]))) {
            if (c->sp && rs_spool_append(c->sp, &e, 1) == 1)
                spooled++;
            else
                ns_counter_inc(c->c_drop[D_SHUTDOWN]);
            entry_done(c, e);
        }
    }
    ns_counter_add(c->c_spooled, spooled);
    update_gauges(c);
    if (left)
        ns_log_warn(c->ins, "stopping with %zu undelivered entries: %" PRIu64 " spooled%s", left,
                    spooled, c->sp ? "" : " (no spool_dir: the rest are lost)");
    if (c->sp && rs_spool_unread(c->sp))
        ns_log_info(c->ins, "%" PRIu64 " entries in the spool for the next start",
                    rs_spool_unread(c->sp));
    if (c->tick) {
        uv_close((uv_handle_t *)c->tick, tick_close_cb);
        c->tick = NULL;
    }
    if (c->drain) {
        uv_close((uv_handle_t *)c->drain, tick_close_cb);
        c->drain = NULL;
    }
}

static bool all_delivered(const struct rsink *c)
{
    return !c->G.n && !c->R.n && !c->X.n && !c->F.n && !c->Q.n && !c->pend && !c->loss_pending &&
           !(c->sp && rs_spool_unread(c->sp));
}

static void tick_cb(uv_timer_t *t)
{
    struct rsink *c = t->data;
    uint64_t now = ns_redis_now_ns();
    if (c->state == C_DOWN && now >= c->next_connect_ns && !(c->draining && all_delivered(c)))
        conn_start(c);
    else if (c->state == C_CONNECTING && now - c->connect_started_ns > c->cfg->connect_timeout) {
        note_error(c, R_TIMEOUT, "Redis did not answer the connection within %" PRIu64 " ms",
                   c->cfg->connect_timeout / 1000000u);
        conn_kill(c);
    } else if (c->state == C_READY && c->F.n && now - c->last_progress_ns > c->cfg->reply_timeout) {
        note_error(c, R_TIMEOUT, "Redis sent no reply for %" PRIu64 " ms: reconnecting",
                   c->cfg->reply_timeout / 1000000u);
        conn_kill(c);
    }
    pump(c);
    update_gauges(c);
    if (c->draining && (all_delivered(c) || now >= c->drain_deadline_ns))
        finish(c);
}

/* hiredis reads at most 16 KiB (about 700 XADD replies) per readable event,
 * and a loop turn behind a busy pipeline is long: without this, replies,
 * not Redis, set the pace. Runs after each poll phase, outside every hiredis
 * callback, and stops when the socket is empty or the connection went away. */
static void drain_cb(uv_check_t *h)
{
    struct rsink *c = h->data;
    for (int i = 0; i < 256 && c->ac && c->state == C_READY; i++) {
        int avail = 0;
        if (ioctl(c->ac->c.fd, FIONREAD, &avail) < 0 || avail <= 0)
            break;
        redisAsyncHandleRead(c->ac);
    }
    /* New entries are sent here, after the poll phase, not from process():
     * queueing a command re-arms the connection's poll handle, and libuv
     * then discards that fd's events still pending in the current batch, so
     * sending from another handle's callback could starve the connection. */
    if (c->Q.n >= c->cfg->batch_size || c->G.n || c->R.n || c->X.n || c->loss_pending ||
        (c->sp && rs_spool_unread(c->sp)) ||
        (c->Q.n && ns_redis_now_ns() - c->q_since_ns >= c->cfg->flush_interval))
        pump(c);
}

/* ---- plugin callbacks ------------------------------------------------------------------- */

static int rsink_init(struct ns_instance *ins, const void *config, void **ctx)
{
    const struct rsink_config *cfg = config;
    struct rsink *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    c->cfg = cfg;
    snprintf(c->maxlen_s, sizeof(c->maxlen_s), "%" PRIu64, cfg->maxlen);
    c->backoff_ns = cfg->backoff_min;
    const struct ns_host *h = c->h;
    c->c_delivered = h->counter(ins, "redis_delivered_total", NULL,
                                "Entries Redis acknowledged (XADD replied with an id).");
    c->c_replayed = h->counter(ins, "redis_replayed_total", NULL,
                               "Entries delivered from the spool (read back from disk).");
    c->c_spooled = h->counter(ins, "redis_spooled_total", NULL, "Entries written to the spool.");
    c->c_buffered = h->gauge(ins, "redis_buffered", NULL, "Entries held in memory.");
    c->c_spool_bytes = h->gauge(ins, "redis_spool_bytes", NULL, "Bytes in spool segments.");
    c->c_spool_entries =
        h->gauge(ins, "redis_spool_entries", NULL, "Entries in the spool not yet replayed.");
    c->c_reconnects =
        h->counter(ins, "redis_reconnects_total", NULL, "Connection attempts after the first one.");
    c->c_gaps = h->counter(ins, "redis_gap_entries_total", NULL,
                           "Gap entries written for records lost to a full spool.");
    c->c_connected = h->gauge(ins, "redis_connected", NULL, "1 while connected to Redis.");
    c->c_last_error = h->gauge(ins, "redis_last_error_timestamp_seconds", NULL,
                               "Unix time of the last error (its reason is in the log).");
    c->c_corrupt = h->counter(ins, "redis_spool_corrupt_total", "reason=\"checksum\"",
                              "Spool frames skipped: damaged or cut short.");
    c->c_truncated = h->counter(ins, "redis_spool_corrupt_total", "reason=\"truncated\"",
                                "Spool frames skipped: damaged or cut short.");
    for (int i = 0; i < D_NDROPS; i++) {
        char lab[64];
        snprintf(lab, sizeof(lab), "reason=\"%s\"", drop_names[i]);
        c->c_drop[i] = h->counter(ins, "redis_dropped_total", lab,
                                  "Records given up: spool full, rejected by Redis, ...");
    }
    for (int i = 0; i < R_NREASONS; i++) {
        char lab[64];
        snprintf(lab, sizeof(lab), "reason=\"%s\"", reason_names[i]);
        c->c_err[i] = h->counter(ins, "redis_errors_total", lab, "Errors by reason.");
    }
    if (cfg->spool_dir && *cfg->spool_dir) {
        char err[512];
        int rc = rs_spool_open(&c->sp, cfg->spool_dir, cfg->spool_size, cfg->spool_segment_size,
                               err, sizeof(err));
        if (rc < 0) {
            ns_log_error(ins, "%s", err);
            free(c);
            return rc;
        }
        if (rs_spool_unread(c->sp))
            ns_log_info(ins,
                        "spool %s: %" PRIu64 " entries (%" PRIu64
                        " bytes) from an earlier run will be replayed first",
                        cfg->spool_dir, rs_spool_unread(c->sp), rs_spool_bytes(c->sp));
        update_gauges(c);
    }
    *ctx = c;
    return 0;
}

static int rsink_start(void *ctx)
{
    struct rsink *c = ctx;
    c->loop = (uv_loop_t *)c->h->loop(c->ins);
    c->tick = malloc(sizeof(*c->tick));
    if (!c->tick)
        return -ENOMEM;
    uv_timer_init(c->loop, c->tick);
    c->tick->data = c;
    uint64_t ms = c->cfg->flush_interval / 1000000u;
    if (ms < 1)
        ms = 1;
    if (ms > 100)
        ms = 100; /* timeouts and reconnects need a finer clock than a long flush_interval */
    uv_timer_start(c->tick, tick_cb, ms, ms);
    c->drain = malloc(sizeof(*c->drain));
    if (!c->drain)
        return -ENOMEM;
    uv_check_init(c->loop, c->drain);
    c->drain->data = c;
    uv_check_start(c->drain, drain_cb);
    c->h->set_ready(c->ins, false);
    conn_start(c);
    return 0;
}

static int rsink_process(void *ctx, struct ns_record **recs, uint32_t n)
{
    struct rsink *c = ctx;
    /* on_slow_redis: wait - Redis is reachable and answering, only slower
     * than the pipeline: hold the pipeline (the core retries this batch)
     * rather than spool. Unreachable Redis still spools. */
    if (c->cfg->on_slow == 1 && c->state == C_READY && c->mem_bytes >= c->cfg->buffer_size) {
        /* Rather than have the core call again at once (a busy loop that
         * takes the CPU Redis needs), wait up to 2 ms on the connection
         * itself for replies that free room. */
        for (int i = 0;
             i < 2 && c->ac && c->state == C_READY && c->mem_bytes >= c->cfg->buffer_size; i++) {
            struct pollfd pfd = {.fd = c->ac->c.fd, .events = POLLIN};
            if (sdslen(c->ac->c.obuf))
                pfd.events |= POLLOUT;
            if (poll(&pfd, 1, 1) <= 0)
                break;
            if (pfd.revents & POLLOUT)
                redisAsyncHandleWrite(c->ac);
            if (c->ac && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
                redisAsyncHandleRead(c->ac);
        }
        if (c->state == C_READY && c->mem_bytes >= c->cfg->buffer_size)
            return NS_AGAIN;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct rs_entry *e = entry_from_record(c, recs[i]);
        if (!e) {
            ns_counter_inc(c->c_drop[D_MEMORY]);
            continue;
        }
        /* Keep the record until Redis acknowledged it (or it is on disk):
         * a record source upstream acknowledges its input only then. */
        if (c->cfg->hold_records) {
            c->h->rec_ref(recs[i]);
            e->rec = recs[i];
        }
        c->mem_bytes += entry_cost(e);
        if (!c->Q.n)
            c->q_since_ns = ns_redis_now_ns();
        fifo_push(&c->Q, e);
    }
    spill(c);
    return NS_OK; /* sent by drain_cb after this loop turn's poll phase */
}

static int rsink_flush(void *ctx)
{
    struct rsink *c = ctx;
    c->draining = true;
    c->drain_deadline_ns = ns_redis_now_ns() + c->cfg->drain_timeout;
    if (!c->tick) /* never started */
        finish(c);
    else
        pump(c);
    return 0;
}

static int rsink_stop(void *ctx)
{
    struct rsink *c = ctx;
    finish(c);
    return 0;
}

static void rsink_destroy(void *ctx)
{
    struct rsink *c = ctx;
    if (!c)
        return;
    finish(c);
    struct fifo *all[] = {&c->G, &c->R, &c->X, &c->F, &c->Q};
    for (int i = 0; i < 5; i++) {
        struct rs_entry *e;
        while ((e = fifo_pop(all[i]))) {
            if (e->rec)
                c->h->rec_release(e->rec);
            free(e);
        }
    }
    rs_spool_close(c->sp);
    free(c->jbuf);
    free(c->cmd);
    free(c);
}

/* ---- option table ------------------------------------------------------------------------ */

static const char *const full_choices[] = {"oldest", "newest", NULL};
static const char *const slow_choices[] = {"spool", "wait", NULL};

#define STREAM_OPT(key, idx, def_)                                                                 \
    {                                                                                              \
        .name = key, .type = NS_OPT_STRING, .def = def_,                                           \
        .offset = offsetof(struct rsink_config, stream) + (idx) * sizeof(char *),                  \
        .doc = "Stream for these records."                                                         \
    }

static const struct ns_option rsink_options[] = {
    NS_REDIS_ADDR_OPTIONS(
        struct rsink_config,
        "Redis host (TCP). Debian 12's hiredis has no TLS: see the README for stunnel.",
        "ACL user for AUTH (Redis 6+); empty: AUTH with the password only."),
    STREAM_OPT("stream_flow", STREAM_FLOW, "netscope:flows"),
    STREAM_OPT("stream_dns", STREAM_DNS, "netscope:dns"),
    STREAM_OPT("stream_tls", STREAM_TLS, "netscope:tls"),
    STREAM_OPT("stream_http", STREAM_HTTP, "netscope:http"),
    STREAM_OPT("stream_device", STREAM_DEVICE, "netscope:devices"),
    STREAM_OPT("stream_alert", STREAM_ALERT, "netscope:alerts"),
    STREAM_OPT("stream_tcp", STREAM_TCP, "netscope:tcp"),
    STREAM_OPT("stream_arp", STREAM_ARP, "netscope:arp"),
    STREAM_OPT("stream_icmp", STREAM_ICMP, "netscope:icmp"),
    STREAM_OPT("stream_other", STREAM_OTHER, "netscope:other"),
    {.name = "maxlen",
     .type = NS_OPT_UINT,
     .def = "1000000",
     .offset = offsetof(struct rsink_config, maxlen),
     .doc = "Trim each stream to about this many entries (XADD MAXLEN ~); 0 = never trim."},
    {.name = "maxlen_exact",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = offsetof(struct rsink_config, maxlen_exact),
     .doc = "Trim exactly (MAXLEN without ~; slower)."},
    {.name = "batch_size",
     .type = NS_OPT_UINT,
     .def = "256",
     .min = 1,
     .max = 65536,
     .offset = offsetof(struct rsink_config, batch_size),
     .doc = "Send when this many entries are waiting (pipelined)."},
    {.name = "flush_interval",
     .type = NS_OPT_DURATION,
     .def = "50ms",
     .min = 1e6,
     .offset = offsetof(struct rsink_config, flush_interval),
     .doc = "Send a partial batch after this long."},
    {.name = "max_inflight",
     .type = NS_OPT_UINT,
     .def = "4096",
     .min = 1,
     .max = 1000000,
     .offset = offsetof(struct rsink_config, max_inflight),
     .doc = "XADDs sent and not yet answered, at most."},
    {.name = "buffer_size",
     .type = NS_OPT_SIZE,
     .def = "64MiB",
     .min = 4096,
     .offset = offsetof(struct rsink_config, buffer_size),
     .doc = "Memory for entries not yet delivered; beyond it the oldest go to the spool."},
    {.name = "spool_dir",
     .type = NS_OPT_PATH,
     .offset = offsetof(struct rsink_config, spool_dir),
     .doc = "Directory for the disk spool (created); empty: no spool, drop by on_spool_full."},
    {.name = "spool_size",
     .type = NS_OPT_SIZE,
     .def = "1GiB",
     .min = 8192,
     .offset = offsetof(struct rsink_config, spool_size),
     .doc = "Bound on the spool's files."},
    {.name = "spool_segment_size",
     .type = NS_OPT_SIZE,
     .def = "4MiB",
     .min = 4096,
     .offset = offsetof(struct rsink_config, spool_segment_size),
     .doc = "Size of one spool file (deleted once all it holds was delivered)."},
    {.name = "on_spool_full",
     .type = NS_OPT_ENUM,
     .def = "oldest",
     .choices = full_choices,
     .offset = offsetof(struct rsink_config, on_spool_full),
     .doc = "Which records to drop when the spool is full: the oldest or the newest."},
    {.name = "hold_records",
     .type = NS_OPT_BOOL,
     .def = "true",
     .offset = offsetof(struct rsink_config, hold_records),
     .doc = "Keep each record until Redis acknowledged it, so a source/redis upstream acknowledges "
            "its input only then (end-to-end at least once through a hub). false: release it once "
            "serialised (the entry itself is still delivered at least once); less memory churn."},
    {.name = "on_slow_redis",
     .type = NS_OPT_ENUM,
     .def = "spool",
     .choices = slow_choices,
     .offset = offsetof(struct rsink_config, on_slow),
     .doc = "When Redis answers but slower than records arrive and buffer_size is full: spool "
            "(as when it is unreachable), or wait (backpressure: the pipeline slows down)."},
    {.name = "connect_timeout",
     .type = NS_OPT_DURATION,
     .def = "5s",
     .min = 1e6,
     .offset = offsetof(struct rsink_config, connect_timeout),
     .doc = "Give up a connection attempt after this long."},
    {.name = "reply_timeout",
     .type = NS_OPT_DURATION,
     .def = "10s",
     .min = 1e6,
     .offset = offsetof(struct rsink_config, reply_timeout),
     .doc = "Reconnect when Redis sent no reply for this long while entries wait."},
    {.name = "backoff_min",
     .type = NS_OPT_DURATION,
     .def = "100ms",
     .min = 1e6,
     .offset = offsetof(struct rsink_config, backoff_min),
     .doc = "First reconnect delay; doubles per failure (with jitter)."},
    {.name = "backoff_max",
     .type = NS_OPT_DURATION,
     .def = "30s",
     .min = 1e6,
     .offset = offsetof(struct rsink_config, backoff_max),
     .doc = "Longest reconnect delay."},
    {.name = "drain_timeout",
     .type = NS_OPT_DURATION,
     .def = "10s",
     .offset = offsetof(struct rsink_config, drain_timeout),
     .doc = "At shutdown, keep delivering this long, then spool the rest."},
    NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SINK, .name = "redis", .version = "1.0.0",
                 .summary = "Redis Streams (XADD), at least once: memory buffer + disk spool",
                 .options = rsink_options, .config_size = sizeof(struct rsink_config),
                 .init = rsink_init, .start = rsink_start, .stop = rsink_stop,
                 .destroy = rsink_destroy, .process = rsink_process, .flush = rsink_flush);
