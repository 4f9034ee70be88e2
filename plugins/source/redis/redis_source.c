/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_source.c - source/redis: read a Redis stream with a consumer group and
 * emit its entries as records (the hub side of sink/redis).
 *
 * A loop-thread record source (NS_PLUGIN_EMITS_RECORDS, start instead of run).
 * Reads with XREADGROUP (first this consumer's own pending entries, id 0, then
 * new ones, id >), rebuilds each record from the entry's `json` field (or, for
 * entries not written by sink/redis, from its fields), and acknowledges an
 * entry with XACK only once its record has passed the pipeline's sinks: each
 * record carries a finaliser (host->rec_on_release) that fires when its last
 * reference is released. Entries left pending by a consumer that died are
 * taken over with XAUTOCLAIM every claim_interval. At most max_pending records
 * are in the pipeline at once; reading pauses until they are acknowledged.
 *
 * Threads: everything runs on the loop thread except the finaliser, which runs
 * on whichever thread released the record (a sink on the loop, an enricher on
 * the event thread, ...): it only queues the tag under a mutex and wakes the
 * loop (uv_async_send). The queue lives in a refcounted box that outlives the
 * plugin instance if a record is released after destroy.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "netscope/ns_plugin.h"

#include "json_rec.h"
#include "ns_redis_conn.h"

struct rsrc_config {
    struct ns_redis_addr addr; /* host, port, unix_socket, username, password, db */
    char *stream, *group, *consumer, *start_id;
    uint64_t block, count, claim_idle, claim_interval, max_pending;
    uint64_t connect_timeout, backoff_min, backoff_max, drain_timeout;
};

/* Finalisers queue tags here (any thread). */
struct ack_box {
    pthread_mutex_t mu;
    uint64_t *tags;
    size_t n, cap;
    uint64_t lost;     /* tags that could not be queued (no memory): left pending */
    uv_async_t *async; /* NULL once the instance closed it */
    long refs;         /* the instance + one per record in the pipeline */
};

/* LIVE: in the pipeline, or its XACK is due; ACKING: XACK sent, not yet
 * answered (the slot stays taken so that a claim or history read answered
 * before the XACK does not emit the entry twice); DROPPED: lost on its way,
 * left pending in Redis. */
enum slot_state { S_FREE = 0, S_LIVE, S_ACKING, S_DROPPED };

/* The slots of one XACK (its reply frees them). */
struct ack_batch {
    size_t n;
    uint32_t idx[];
};

struct slot {
    char id[48]; /* stream entry id "ms-seq" */
    uint8_t state;
};

enum conn_state { C_DOWN, C_CONNECTING, C_READY };

struct rsrc {
    struct ns_instance *ins;
    const struct ns_host *h;
    const struct rsrc_config *cfg;
    uv_loop_t *loop;
    uv_timer_t *tick;
    struct ack_box *box;
    char consumer[256];

    redisAsyncContext *ac;
    enum conn_state state;
    bool ever_connected;
    uint64_t backoff_ns, next_connect_ns, connect_started_ns, next_claim_ns;
    uint32_t logged;

    struct slot *slots;
    uint32_t *free_idx;
    size_t nfree, nslots;
    uint64_t *ackq; /* slots whose XACK is due */
    size_t nackq, capackq;

    bool reading;  /* an XREADGROUP is outstanding */
    bool claiming; /* an XAUTOCLAIM is outstanding */
    bool history;  /* reading this consumer's own pending entries (id 0) */
    char claim_cursor[48];
    char hist_id[48]; /* history reads continue after this id */
    bool stopping, closed;
    uint64_t stop_deadline_ns;
    uint64_t acks_inflight;

    ns_counter *c_received, *c_acked, *c_claimed, *c_malformed, *c_pending, *c_dropped,
        *c_reconnects, *c_errors;
};

/* ---- acknowledgements ------------------------------------------------------------ */

static void box_unref(struct ack_box *b, long n)
{
    pthread_mutex_lock(&b->mu);
    b->refs -= n;
    bool last = b->refs == 0;
    pthread_mutex_unlock(&b->mu);
    if (last) {
        pthread_mutex_destroy(&b->mu);
        free(b->tags);
        free(b);
    }
}

/* The record's finaliser: any thread. */
static void ack_fin(void *arg, uint64_t tag)
{
    struct ack_box *b = arg;
    pthread_mutex_lock(&b->mu);
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        uint64_t *nt = realloc(b->tags, nc * sizeof(*nt));
        if (nt) {
            b->tags = nt;
            b->cap = nc;
        }
    }
    if (b->n < b->cap)
        b->tags[b->n++] = tag;
    else
        b->lost++; /* the entry stays pending: XAUTOCLAIM redelivers it */
    if (b->async)
        uv_async_send(b->async);
    b->refs--;
    bool last = b->refs == 0;
    pthread_mutex_unlock(&b->mu);
    if (last) {
        pthread_mutex_destroy(&b->mu);
        free(b->tags);
        free(b);
    }
}

static void slot_free(struct rsrc *c, uint32_t i)
{
    c->slots[i].state = S_FREE;
    c->free_idx[c->nfree++] = i;
}

static bool id_pending(const struct rsrc *c, const char *id)
{
    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i].state != S_FREE && !strcmp(c->slots[i].id, id))
            return true;
    return false;
}

static void pump(struct rsrc *c);

static bool ensure_ackq(struct rsrc *c, size_t more);

static void xack_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rsrc *c = ac->data;
    redisReply *reply = r;
    struct ack_batch *b = priv;
    c->acks_inflight -= b->n <= c->acks_inflight ? b->n : c->acks_inflight;
    if (!reply && ensure_ackq(c, b->n)) {
        /* Connection lost: maybe not applied. XACK is idempotent: send
         * them again once reconnected. */
        for (size_t i = 0; i < b->n; i++) {
            c->slots[b->idx[i]].state = S_LIVE;
            c->ackq[c->nackq++] = b->idx[i];
        }
    } else {
        for (size_t i = 0; i < b->n; i++)
            slot_free(c, b->idx[i]);
    }
    free(b);
    if (reply && reply->type == REDIS_REPLY_INTEGER)
        ns_counter_add(c->c_acked, (uint64_t)reply->integer);
    else if (reply && reply->type == REDIS_REPLY_ERROR) {
        ns_counter_inc(c->c_errors);
        ns_log(c->ins, NS_LOG_ERROR | NS_LOG_RATELIMIT, "XACK: %s", reply->str);
    }
}

/* Send the due XACKs (in batches). Entries whose record was dropped on its
 * way are not acknowledged: they stay pending and are claimed again. */
static void send_acks(struct rsrc *c)
{
    if (c->state != C_READY || !c->ac || !c->nackq)
        return;
    const char *argv[3 + 1024];
    size_t argl[3 + 1024];
    size_t i = 0;
    while (i < c->nackq) {
        int n = 0;
        argv[n] = "XACK";
        argl[n++] = 4;
        argv[n] = c->cfg->stream;
        argl[n++] = strlen(c->cfg->stream);
        argv[n] = c->cfg->group;
        argl[n++] = strlen(c->cfg->group);
        size_t first = i;
        struct ack_batch *b = malloc(sizeof(*b) + 1024 * sizeof(uint32_t));
        if (!b)
            break;
        b->n = 0;
        for (; i < c->nackq && n < 3 + 1024; i++) {
            struct slot *s = &c->slots[c->ackq[i]];
            if (s->state != S_LIVE)
                continue;
            argv[n] = s->id;
            argl[n++] = strlen(s->id);
            b->idx[b->n++] = (uint32_t)c->ackq[i];
        }
        if (n == 3) {
            free(b);
            continue;
        }
        if (redisAsyncCommandArgv(c->ac, xack_cb, b, n, argv, argl) != REDIS_OK) {
            free(b);
            i = first; /* the connection is going: keep them due */
            break;
        }
        for (size_t k = 0; k < b->n; k++)
            c->slots[b->idx[k]].state = S_ACKING;
        c->acks_inflight += b->n;
    }
    memmove(c->ackq, c->ackq + i, (c->nackq - i) * sizeof(*c->ackq));
    c->nackq -= i;
}

static void async_cb(uv_async_t *a)
{
    struct rsrc *c = a->data;
    struct ack_box *b = c->box;
    pthread_mutex_lock(&b->mu);
    uint64_t *tags = b->tags;
    size_t n = b->n;
    b->tags = NULL;
    b->n = b->cap = 0;
    pthread_mutex_unlock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        uint64_t t = tags[i];
        if (t >= c->nslots || c->slots[t].state == S_FREE)
            continue;
        if (c->slots[t].state == S_DROPPED) {
            slot_free(c, (uint32_t)t);
            continue;
        }
        if (c->nackq == c->capackq) {
            size_t nc = c->capackq ? c->capackq * 2 : 256;
            uint64_t *nq = realloc(c->ackq, nc * sizeof(*nq));
            if (!nq) {
                slot_free(c, (uint32_t)t); /* stays pending in Redis */
                continue;
            }
            c->ackq = nq;
            c->capackq = nc;
        }
        c->ackq[c->nackq++] = t;
    }
    free(tags);
    send_acks(c);
    ns_gauge_set(c->c_pending, c->nslots - c->nfree);
    pump(c);
}

/* ---- entries -> records ------------------------------------------------------------ */

static const char *const type_names[] = {
    [NS_REC_FLOW] = "flow",   [NS_REC_DNS] = "dns",       [NS_REC_TLS] = "tls",
    [NS_REC_HTTP] = "http",   [NS_REC_HTTP2] = "http2",   [NS_REC_ICMP] = "icmp",
    [NS_REC_ARP] = "arp",     [NS_REC_DEVICE] = "device", [NS_REC_TCP] = "tcp",
    [NS_REC_ALERT] = "alert", [NS_REC_METRIC] = "metric", [NS_REC_GAP] = "gap",
    [NS_REC_OTHER] = "other"};

static enum ns_rec_type type_from(const char *s, size_t n)
{
    for (int t = NS_REC_FLOW; t < NS_REC_TYPE_MAX; t++)
        if (type_names[t] && strlen(type_names[t]) == n && !memcmp(type_names[t], s, n))
            return (enum ns_rec_type)t;
    return NS_REC_OTHER;
}

/* Emit the record of one stream entry ([id, [field, value, ...]]). Returns
 * false when the entry cannot be processed (acknowledged right away). */
static void take_entry(struct rsrc *c, const redisReply *ent, bool claimed)
{
    const struct ns_host *h = c->h;
    if (ent->type != REDIS_REPLY_ARRAY || ent->elements < 1 ||
        ent->element[0]->type != REDIS_REPLY_STRING || ent->element[0]->len >= 48)
        return;
    const char *id = ent->element[0]->str;
    if ((c->history || claimed) && id_pending(c, id))
        return; /* already in our pipeline */
    if (!c->nfree)
        return; /* cannot happen: reads ask for at most the free slots */
    uint32_t si = c->free_idx[--c->nfree];
    struct slot *s = &c->slots[si];
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->state = S_LIVE;
    ns_counter_inc(c->c_received);
    if (claimed)
        ns_counter_inc(c->c_claimed);
    const redisReply *f = ent->elements >= 2 ? ent->element[1] : NULL;
    if (!f || f->type != REDIS_REPLY_ARRAY) {
        /* Deleted from the stream while pending (history, XAUTOCLAIM):
         * nothing to emit, acknowledge it. */
        c->ackq[c->nackq++] = si;
        return;
    }
    enum ns_rec_type type = NS_REC_OTHER;
    uint64_t ts = 0;
    const redisReply *json = NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (k->len == 4 && !memcmp(k->str, "type", 4))
            type = type_from(v->str, v->len);
        else if (k->len == 7 && !memcmp(k->str, "time_ns", 7))
            ts = strtoull(v->str, NULL, 10);
        else if (k->len == 4 && !memcmp(k->str, "json", 4))
            json = v;
    }
    if (!ts) {
        struct timespec tp;
        clock_gettime(CLOCK_REALTIME, &tp);
        ts = (uint64_t)tp.tv_sec * 1000000000u + (uint64_t)tp.tv_nsec;
    }
    struct ns_record *rec = h->rec_new(c->ins, type, ts);
    if (!rec) {
        slot_free(c, si); /* stays pending: claimed again later */
        ns_counter_inc(c->c_dropped);
        return;
    }
    bool ok = true;
    if (json) {
        ok = json_to_record(h, rec, json->str, json->len) == 0;
    } else {
        /* Not written by sink/redis: every field as a string. */
        for (size_t i = 0; i + 1 < f->elements; i += 2) {
            const redisReply *k = f->element[i], *v = f->element[i + 1];
            if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && k->len < 1024) {
                char key[1024];
                memcpy(key, k->str, k->len);
                key[k->len] = 0;
                h->rec_add_str(rec, key, v->str, v->len);
            }
        }
    }
    if (!ok) {
        h->rec_release(rec);
        ns_counter_inc(c->c_malformed);
        ns_log(c->ins, NS_LOG_WARN | NS_LOG_RATELIMIT,
               "entry %s of %s: malformed json field; acknowledged and skipped", id,
               c->cfg->stream);
        c->ackq[c->nackq++] = si;
        return;
    }
    h->rec_add_cstr(rec, "netscope.redis.id", id);
    pthread_mutex_lock(&c->box->mu);
    c->box->refs++;
    pthread_mutex_unlock(&c->box->mu);
    h->rec_on_release(rec, ack_fin, c->box, si);
    if (h->emit(c->ins, rec) < 0) {
        /* Dropped on the way (counted by the core): not acknowledged. */
        s->state = S_DROPPED;
        ns_counter_inc(c->c_dropped);
    }
}

static bool ensure_ackq(struct rsrc *c, size_t more)
{
    if (c->nackq + more <= c->capackq)
        return true;
    size_t nc = c->nackq + more + 256;
    uint64_t *nq = realloc(c->ackq, nc * sizeof(*nq));
    if (!nq)
        return false;
    c->ackq = nq;
    c->capackq = nc;
    return true;
}

static void take_entries(struct rsrc *c, const redisReply *arr, bool claimed)
{
    if (!arr || arr->type != REDIS_REPLY_ARRAY || !ensure_ackq(c, arr->elements))
        return;
    for (size_t i = 0; i < arr->elements; i++)
        take_entry(c, arr->element[i], claimed);
    ns_gauge_set(c->c_pending, c->nslots - c->nfree);
    send_acks(c);
}

/* ---- reading ---------------------------------------------------------------------- */

static void conn_kill(struct rsrc *c);

static void log_once(struct rsrc *c, unsigned bit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_once(struct rsrc *c, unsigned bit, const char *fmt, ...)
{
    ns_counter_inc(c->c_errors);
    if (c->logged & (1u << bit))
        return;
    c->logged |= 1u << bit;
    va_list ap;
    va_start(ap, fmt);
    c->h->vlog(c->ins, NS_LOG_ERROR, fmt, ap);
    va_end(ap);
}

static void group_cb(redisAsyncContext *ac, void *r, void *priv);

static void read_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rsrc *c = ac->data;
    redisReply *reply = r;
    if (ac != c->ac)
        return;
    c->reading = false;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        if (!strncmp(reply->str, "NOGROUP", 7)) {
            /* The stream or group was deleted: create them again. */
            redisAsyncCommand(ac, group_cb, NULL, "XGROUP CREATE %s %s %s MKSTREAM", c->cfg->stream,
                              c->cfg->group, c->cfg->start_id);
            c->reading = true; /* group_cb resumes reading */
            return;
        }
        log_once(c, 1, "XREADGROUP %s: %s", c->cfg->stream, reply->str);
        conn_kill(c);
        return;
    }
    size_t got = 0;
    if (reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *st = reply->element[i];
            if (st->type == REDIS_REPLY_ARRAY && st->elements == 2 &&
                st->element[1]->type == REDIS_REPLY_ARRAY) {
                const redisReply *ents = st->element[1];
                got += ents->elements;
                take_entries(c, ents, false);
                /* The next history read starts after the last one seen. */
                const redisReply *last = got ? ents->element[ents->elements - 1] : NULL;
                if (c->history && last && last->type == REDIS_REPLY_ARRAY && last->elements &&
                    last->element[0]->type == REDIS_REPLY_STRING &&
                    last->element[0]->len < sizeof(c->hist_id))
                    snprintf(c->hist_id, sizeof(c->hist_id), "%s", last->element[0]->str);
            }
        }
    }
    if (c->history && got == 0)
        c->history = false; /* own pending entries done: new ones from now on */
    pump(c);
}

static void claim_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rsrc *c = ac->data;
    redisReply *reply = r;
    if (ac != c->ac)
        return;
    c->claiming = false;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_once(c, 2, "XAUTOCLAIM %s: %s", c->cfg->stream, reply->str);
        return;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING && reply->element[0]->len < 48) {
        snprintf(c->claim_cursor, sizeof(c->claim_cursor), "%s", reply->element[0]->str);
        take_entries(c, reply->element[1], true);
        /* A full page: more may be waiting, claim again soon. */
        if (strcmp(c->claim_cursor, "0-0") != 0)
            c->next_claim_ns = 0;
    }
    pump(c);
}

/* Issue the next read or claim when there is room in the pipeline. */
static void pump(struct rsrc *c)
{
    if (c->state != C_READY || !c->ac || c->stopping)
        return;
    uint64_t room = c->nfree;
    if (room > c->cfg->count)
        room = c->cfg->count;
    if (!room)
        return;
    char cnt[24], idle[24], blk[24];
    snprintf(cnt, sizeof(cnt), "%" PRIu64, room);
    if (c->cfg->claim_idle && !c->claiming && !c->reading &&
        ns_redis_now_ns() >= c->next_claim_ns) {
        snprintf(idle, sizeof(idle), "%" PRIu64, c->cfg->claim_idle / 1000000u);
        const char *argv[] = {"XAUTOCLAIM", c->cfg->stream,  c->cfg->group, c->consumer,
                              idle,         c->claim_cursor, "COUNT",       cnt};
        size_t argl[8];
        for (int i = 0; i < 8; i++)
            argl[i] = strlen(argv[i]);
        if (redisAsyncCommandArgv(c->ac, claim_cb, NULL, 8, argv, argl) == REDIS_OK) {
            c->claiming = true;
            c->next_claim_ns = ns_redis_now_ns() + c->cfg->claim_interval;
        }
        return; /* read after the claim, with the room left */
    }
    if (c->reading || c->claiming)
        return;
    snprintf(blk, sizeof(blk), "%" PRIu64, c->cfg->block / 1000000u);
    const char *argv[] = {"XREADGROUP",
                          "GROUP",
                          c->cfg->group,
                          c->consumer,
                          "COUNT",
                          cnt,
                          "BLOCK",
                          blk,
                          "STREAMS",
                          c->cfg->stream,
                          c->history ? c->hist_id : ">"};
    int n = 11;
    size_t argl[11];
    for (int i = 0; i < n; i++)
        argl[i] = strlen(argv[i]);
    /* With id 0 (history) Redis ignores BLOCK and answers at once. */
    if (redisAsyncCommandArgv(c->ac, read_cb, NULL, n, argv, argl) == REDIS_OK)
        c->reading = true;
}

/* ---- connection ------------------------------------------------------------------------ */

static void schedule_reconnect(struct rsrc *c)
{
    c->next_connect_ns = ns_redis_backoff(&c->backoff_ns, c->cfg->backoff_max);
    c->h->set_ready(c->ins, false);
}

static void conn_lost(struct rsrc *c)
{
    if (c->state == C_READY)
        ns_log_warn(c->ins, "connection to Redis lost; reconnecting");
    c->ac = NULL;
    c->state = C_DOWN;
    c->reading = c->claiming = false;
    schedule_reconnect(c);
}

static void conn_kill(struct rsrc *c)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    conn_lost(c);
    redisAsyncFree(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rsrc *c = ac->data;
    if (ac != c->ac || status == REDIS_OK)
        return;
    log_once(c, 0, "cannot connect to Redis: %s", ac->errstr);
    c->ac = NULL;
    c->state = C_DOWN;
    schedule_reconnect(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rsrc *c = ac->data;
    if (ac != c->ac)
        return;
    if (status != REDIS_OK)
        log_once(c, 0, "Redis connection lost: %s", ac->errstr);
    conn_lost(c);
}

static void group_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rsrc *c = ac->data;
    redisReply *reply = r;
    if (ac != c->ac || !reply)
        return;
    c->reading = false;
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0) {
        log_once(c, 3, "XGROUP CREATE %s %s: %s", c->cfg->stream, c->cfg->group, reply->str);
        conn_kill(c);
        return;
    }
    if (reply->type != REDIS_REPLY_ERROR)
        ns_log_info(c->ins, "created consumer group %s on %s", c->cfg->group, c->cfg->stream);
    if (c->state != C_READY) {
        c->state = C_READY;
        c->backoff_ns = c->cfg->backoff_min;
        c->logged &= ~1u;
        ns_log_info(c->ins, "%s %s as %s/%s",
                    c->ever_connected ? "reconnected; reading" : "reading", c->cfg->stream,
                    c->cfg->group, c->consumer);
        c->ever_connected = true;
        c->h->set_ready(c->ins, true);
    }
    c->history = true;
    snprintf(c->hist_id, sizeof(c->hist_id), "0");
    send_acks(c);
    pump(c);
}

static void handshake_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rsrc *c = ac->data;
    redisReply *reply = r;
    if (ac != c->ac || !reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_once(c, 4, "Redis %s failed: %s", priv ? "AUTH/SELECT" : "handshake", reply->str);
        conn_kill(c);
    }
}

static void conn_start(struct rsrc *c)
{
    const struct rsrc_config *cfg = c->cfg;
    if (c->ever_connected || c->next_connect_ns)
        ns_counter_inc(c->c_reconnects);
    char err[256];
    redisAsyncContext *ac =
        ns_redis_open(&cfg->addr, c->loop, c, on_connect, on_disconnect, false, err, sizeof(err));
    if (!ac) {
        log_once(c, 0, "%s", err);
        schedule_reconnect(c);
        return;
    }
    c->ac = ac;
    c->state = C_CONNECTING;
    c->connect_started_ns = ns_redis_now_ns();
    ns_redis_handshake(ac, &cfg->addr, handshake_cb, (void *)1, (void *)1);
    redisAsyncCommand(ac, group_cb, NULL, "XGROUP CREATE %s %s %s MKSTREAM", cfg->stream,
                      cfg->group, cfg->start_id);
    c->reading = true; /* until the group exists */
}

/* ---- timer, shutdown ---------------------------------------------------------------------- */

static void handle_close_cb(uv_handle_t *h)
{
    free(h);
}

static void close_all(struct rsrc *c)
{
    if (c->closed)
        return;
    c->closed = true;
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->state = C_DOWN;
    if (ac)
        redisAsyncFree(ac);
    if (c->tick) {
        uv_close((uv_handle_t *)c->tick, handle_close_cb);
        c->tick = NULL;
    }
    if (c->box && c->box->async) {
        pthread_mutex_lock(&c->box->mu);
        uv_async_t *a = c->box->async;
        c->box->async = NULL;
        pthread_mutex_unlock(&c->box->mu);
        uv_close((uv_handle_t *)a, handle_close_cb);
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct rsrc *c = t->data;
    uint64_t now = ns_redis_now_ns();
    if (c->stopping) {
        /* Wait for the records in the pipeline to be released and their XACKs
         * answered, up to drain_timeout; what is left stays pending in Redis. */
        bool idle = c->nfree == c->nslots && !c->nackq && !c->acks_inflight;
        if (idle || now >= c->stop_deadline_ns || c->state == C_DOWN) {
            if (!idle)
                ns_log_warn(c->ins, "%zu entries not acknowledged; they stay pending",
                            c->nslots - c->nfree + c->nackq);
            close_all(c);
        }
        return;
    }
    if (c->state == C_DOWN && now >= c->next_connect_ns)
        conn_start(c);
    else if (c->state == C_CONNECTING && now - c->connect_started_ns > c->cfg->connect_timeout) {
        log_once(c, 5, "Redis did not answer the connection within %" PRIu64 " ms",
                 c->cfg->connect_timeout / 1000000u);
        conn_kill(c);
    }
    send_acks(c);
    pump(c);
}

static int rsrc_init(struct ns_instance *ins, const void *config, void **ctx)
{
    const struct rsrc_config *cfg = config;
    if (ins->host->size < offsetof(struct ns_host, rec_on_release) + sizeof(void *)) {
        ns_log_error(ins, "the core is too old for this plugin (no rec_on_release)");
        return -ENOTSUP;
    }
    struct rsrc *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    c->cfg = cfg;
    c->nslots = (size_t)cfg->max_pending;
    c->slots = calloc(c->nslots, sizeof(*c->slots));
    c->free_idx = calloc(c->nslots, sizeof(*c->free_idx));
    c->box = calloc(1, sizeof(*c->box));
    if (!c->slots || !c->free_idx || !c->box) {
        free(c->slots);
        free(c->free_idx);
        free(c->box);
        free(c);
        return -ENOMEM;
    }
    pthread_mutex_init(&c->box->mu, NULL);
    c->box->refs = 1;
    for (size_t i = c->nslots; i-- > 0;)
        c->free_idx[c->nfree++] = (uint32_t)i;
    snprintf(c->consumer, sizeof(c->consumer), "%s",
             cfg->consumer && *cfg->consumer ? cfg->consumer : c->h->hostname(ins));
    snprintf(c->claim_cursor, sizeof(c->claim_cursor), "0-0");
    c->backoff_ns = cfg->backoff_min;
    const struct ns_host *h = c->h;
    c->c_received = h->counter(ins, "redis_received_total", NULL, "Stream entries read.");
    c->c_acked = h->counter(ins, "redis_acked_total", NULL, "Entries acknowledged (XACK).");
    c->c_claimed = h->counter(ins, "redis_claimed_total", NULL,
                              "Entries taken over from other consumers (XAUTOCLAIM).");
    c->c_malformed = h->counter(ins, "redis_malformed_total", NULL,
                                "Entries whose json field did not parse (acknowledged).");
    c->c_pending = h->gauge(ins, "redis_pending", NULL, "Records in the pipeline, not acked.");
    c->c_dropped = h->counter(ins, "redis_dropped_total", NULL,
                              "Records that could not be emitted (left pending).");
    c->c_reconnects =
        h->counter(ins, "redis_reconnects_total", NULL, "Connection attempts after the first one.");
    c->c_errors = h->counter(ins, "redis_errors_total", NULL, "Redis errors (logged once).");
    *ctx = c;
    return 0;
}

static int rsrc_start(void *ctx)
{
    struct rsrc *c = ctx;
    c->loop = (uv_loop_t *)c->h->loop(c->ins);
    c->tick = malloc(sizeof(*c->tick));
    uv_async_t *a = malloc(sizeof(*a));
    if (!c->tick || !a) {
        free(c->tick);
        free(a);
        c->tick = NULL;
        return -ENOMEM;
    }
    uv_timer_init(c->loop, c->tick);
    c->tick->data = c;
    uv_timer_start(c->tick, tick_cb, 50, 50);
    uv_async_init(c->loop, a, async_cb);
    a->data = c;
    c->box->async = a;
    c->h->set_ready(c->ins, false);
    conn_start(c);
    return 0;
}

static int rsrc_stop(void *ctx)
{
    struct rsrc *c = ctx;
    if (c->stopping)
        return 0;
    c->stopping = true;
    c->stop_deadline_ns = ns_redis_now_ns() + c->cfg->drain_timeout;
    if (!c->tick)
        close_all(c);
    return 0;
}

static void rsrc_destroy(void *ctx)
{
    struct rsrc *c = ctx;
    if (!c)
        return;
    close_all(c);
    free(c->slots);
    free(c->free_idx);
    free(c->ackq);
    box_unref(c->box, 1);
    free(c);
}

static const struct ns_option rsrc_options[] = {
    NS_REDIS_ADDR_OPTIONS(struct rsrc_config, "Redis host (TCP).", "ACL user for AUTH (Redis 6+)."),
    {.name = "stream",
     .type = NS_OPT_STRING,
     .def = "netscope:flows",
     .offset = offsetof(struct rsrc_config, stream),
     .doc = "The stream to consume."},
    {.name = "group",
     .type = NS_OPT_STRING,
     .def = "netscope",
     .offset = offsetof(struct rsrc_config, group),
     .doc = "Consumer group (created with MKSTREAM if missing)."},
    {.name = "consumer",
     .type = NS_OPT_STRING,
     .offset = offsetof(struct rsrc_config, consumer),
     .doc = "Consumer name; empty: the host name. Keep it stable across restarts."},
    {.name = "start_id",
     .type = NS_OPT_STRING,
     .def = "0",
     .offset = offsetof(struct rsrc_config, start_id),
     .doc = "Where a new group starts: 0 (the whole stream) or $ (new entries only)."},
    {.name = "block",
     .type = NS_OPT_DURATION,
     .def = "1s",
     .min = 1e6,
     .offset = offsetof(struct rsrc_config, block),
     .doc = "XREADGROUP BLOCK time."},
    {.name = "count",
     .type = NS_OPT_UINT,
     .def = "256",
     .min = 1,
     .max = 65536,
     .offset = offsetof(struct rsrc_config, count),
     .doc = "Entries per XREADGROUP/XAUTOCLAIM."},
    {.name = "claim_idle",
     .type = NS_OPT_DURATION,
     .def = "60s",
     .offset = offsetof(struct rsrc_config, claim_idle),
     .doc = "Take over entries pending this long in other consumers (XAUTOCLAIM); 0 = never."},
    {.name = "claim_interval",
     .type = NS_OPT_DURATION,
     .def = "5s",
     .min = 1e6,
     .offset = offsetof(struct rsrc_config, claim_interval),
     .doc = "How often to run XAUTOCLAIM."},
    {.name = "max_pending",
     .type = NS_OPT_UINT,
     .def = "10000",
     .min = 1,
     .max = 10000000,
     .offset = offsetof(struct rsrc_config, max_pending),
     .doc = "Records in the pipeline not yet acknowledged, at most (reading pauses)."},
    {.name = "connect_timeout",
     .type = NS_OPT_DURATION,
     .def = "5s",
     .min = 1e6,
     .offset = offsetof(struct rsrc_config, connect_timeout),
     .doc = "Give up a connection attempt after this long."},
    {.name = "backoff_min",
     .type = NS_OPT_DURATION,
     .def = "100ms",
     .min = 1e6,
     .offset = offsetof(struct rsrc_config, backoff_min),
     .doc = "First reconnect delay; doubles per failure (with jitter)."},
    {.name = "backoff_max",
     .type = NS_OPT_DURATION,
     .def = "30s",
     .min = 1e6,
     .offset = offsetof(struct rsrc_config, backoff_max),
     .doc = "Longest reconnect delay."},
    {.name = "drain_timeout",
     .type = NS_OPT_DURATION,
     .def = "10s",
     .offset = offsetof(struct rsrc_config, drain_timeout),
     .doc = "At shutdown, wait this long for records to pass the sinks and be acknowledged."},
    NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "redis", .version = "1.0.0",
                 .summary = "Redis Streams consumer group (XREADGROUP, XACK after the sinks, "
                            "XAUTOCLAIM)",
                 .flags = NS_PLUGIN_EMITS_RECORDS, .options = rsrc_options,
                 .config_size = sizeof(struct rsrc_config), .init = rsrc_init, .start = rsrc_start,
                 .stop = rsrc_stop, .destroy = rsrc_destroy);
