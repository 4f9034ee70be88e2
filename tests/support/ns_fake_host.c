/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_fake_host.c - the fake core behind ns_fake_host.h, for plugin unit tests.
 *
 * Record functions are the real core ones (ns_rec.c, ns_json.c); everything
 * else is a small, inspectable fake. Called from the test's thread, except
 * emit/emit_packet, which take a mutex because a source's run() thread may
 * call them.
 */
#include "ns_fake_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ns_metrics.h"
#include "ns_rec.h"

struct fake_counter {
    char *name, *labels;
    ns_counter cell;
};

struct fake_timer {
    uint64_t interval_ns;
    void (*cb)(void *arg);
    void *arg;
};

static struct {
    pthread_mutex_t lock; /* emitted + packets */
    struct ns_instance **ins;
    size_t nins;
    struct fake_counter *counters;
    size_t ncounters;
    struct ns_record **emitted;
    size_t nemitted, cemitted;
    struct ns_packet *packets;
    size_t npackets, cpackets;
    struct fake_timer *timers;
    size_t ntimers;
    int emit_rc;
    bool stopping, ready, quiet;
    size_t logs[NS_LOG_TRACE + 1];
    uv_loop_t *loop;
} fk = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *fk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "ns_fake_host: out of memory\n");
        abort();
    }
    return q;
}

static char *fk_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(fk_xrealloc(NULL, n), s, n);
}

static const char *const fk_levels[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

static void fk_vlog(struct ns_instance *ins, int level, const char *fmt, va_list ap)
{
    int lvl = level & 0xff;
    if (lvl < 0 || lvl > NS_LOG_TRACE)
        lvl = NS_LOG_TRACE;
    fk.logs[lvl]++;
    if (fk.quiet)
        return;
    fprintf(stderr, "[%s:%s] %s ", ins && ins->plugin ? ins->plugin : "?",
            ins && ins->name ? ins->name : "?", fk_levels[lvl]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void fk_log(struct ns_instance *ins, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fk_vlog(ins, level, fmt, ap);
    va_end(ap);
}

static bool fk_streq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static ns_counter *fk_counter(struct ns_instance *ins, const char *name, const char *labels,
                              const char *help)
{
    for (size_t i = 0; i < fk.ncounters; i++) {
        if (fk_streq(fk.counters[i].name, name) && fk_streq(fk.counters[i].labels, labels))
            return &fk.counters[i].cell;
    }
    /* Cells must not move: the plugin keeps the pointer. Grow by a fresh
     * array only when empty; otherwise a fixed upper bound suffices for a
     * unit test, so allocate 256 slots once. */
    if (!fk.counters)
        fk.counters = fk_xrealloc(NULL, 256 * sizeof(*fk.counters));
    if (fk.ncounters == 256) {
        fprintf(stderr, "ns_fake_host: more than 256 counters\n");
        abort();
    }
    struct fake_counter *c = &fk.counters[fk.ncounters++];
    c->name = fk_xstrdup(name ? name : "");
    c->labels = fk_xstrdup(labels ? labels : "");
    c->cell = 0;
    return &c->cell;
}

static struct ns_record *fk_rec_new(struct ns_instance *ins, enum ns_rec_type type, uint64_t ts)
{
    return ns_rec_new(type, ts);
}

static int fk_emit(struct ns_instance *ins, struct ns_record *rec)
{
    pthread_mutex_lock(&fk.lock);
    int rc = fk.emit_rc;
    if (rc == 0) {
        if (fk.nemitted == fk.cemitted) {
            fk.cemitted = fk.cemitted ? fk.cemitted * 2 : 64;
            fk.emitted = fk_xrealloc(fk.emitted, fk.cemitted * sizeof(*fk.emitted));
        }
        fk.emitted[fk.nemitted++] = rec;
    }
    pthread_mutex_unlock(&fk.lock);
    if (rc != 0)
        ns_rec_release(rec); /* consumed whatever happens, as in the core */
    return rc;
}

static int fk_emit_packet(struct ns_instance *ins, const struct ns_packet *pkt)
{
    if (!pkt)
        return 0; /* "hand on partial batches": nothing is batched here */
    uint8_t *data = fk_xrealloc(NULL, pkt->caplen);
    if (pkt->caplen)
        memcpy(data, pkt->data, pkt->caplen);
    pthread_mutex_lock(&fk.lock);
    if (fk.npackets == fk.cpackets) {
        fk.cpackets = fk.cpackets ? fk.cpackets * 2 : 64;
        fk.packets = fk_xrealloc(fk.packets, fk.cpackets * sizeof(*fk.packets));
    }
    struct ns_packet *p = &fk.packets[fk.npackets++];
    *p = *pkt;
    p->data = data;
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

static bool fk_stopping(struct ns_instance *ins)
{
    return __atomic_load_n(&fk.stopping, __ATOMIC_ACQUIRE);
}

static struct uv_loop_s *fk_loop(struct ns_instance *ins)
{
    if (!fk.loop) {
        fk.loop = fk_xrealloc(NULL, sizeof(*fk.loop));
        if (uv_loop_init(fk.loop) != 0) {
            fprintf(stderr, "ns_fake_host: uv_loop_init failed\n");
            abort();
        }
    }
    return fk.loop;
}

static int fk_timer(struct ns_instance *ins, uint64_t interval_ns, void (*cb)(void *arg), void *arg)
{
    if (!cb || !interval_ns)
        return -EINVAL;
    fk.timers = fk_xrealloc(fk.timers, (fk.ntimers + 1) * sizeof(*fk.timers));
    fk.timers[fk.ntimers++] = (struct fake_timer){interval_ns, cb, arg};
    return 0;
}

static void fk_set_ready(struct ns_instance *ins, bool ready)
{
    fk.ready = ready;
}

static struct ns_app_peer fk_peers[16];
static size_t fk_npeers;

void ns_fake_set_app_peers(const struct ns_app_peer *peers, size_t n)
{
    fk_npeers = n < 16 ? n : 16;
    for (size_t i = 0; i < fk_npeers; i++)
        fk_peers[i] = peers[i];
}

static size_t fk_app_peers(struct ns_instance *ins, struct ns_app_peer *out, size_t max)
{
    (void)ins;
    for (size_t i = 0; i < fk_npeers && i < max; i++)
        out[i] = fk_peers[i];
    return fk_npeers;
}

static const char *fk_hostname(struct ns_instance *ins)
{
    return "testhost";
}

/* Run-time series go to the real registry (ns_metrics.c): read them back with
 * ns_metrics_series_get or ns_metrics_write_prometheus; ns_fake_reset clears it. */
static int fk_series_set(struct ns_instance *ins, const char *family, int type, const char *help,
                         const char *labels, uint64_t value)
{
    return ns_metrics_series_set(ins, family, type, help, labels, value);
}

static int fk_series_remove(struct ns_instance *ins, const char *family, const char *labels)
{
    (void)ins;
    return ns_metrics_series_remove(family, labels);
}

static const struct ns_host fk_host = {
    .size = sizeof(struct ns_host),
    .abi_minor = NS_ABI_MINOR,
    .log = fk_log,
    .vlog = fk_vlog,
    .counter = fk_counter,
    .gauge = fk_counter,
    .rec_new = fk_rec_new,
    .rec_release = ns_rec_release,
    .rec_ref = ns_rec_ref,
    .rec_add_bool = ns_rec_add_bool,
    .rec_add_int = ns_rec_add_int,
    .rec_add_uint = ns_rec_add_uint,
    .rec_add_double = ns_rec_add_double,
    .rec_add_str = ns_rec_add_str,
    .rec_add_cstr = ns_rec_add_cstr,
    .rec_add_ip = ns_rec_add_ip,
    .rec_add_mac = ns_rec_add_mac,
    .rec_add_time = ns_rec_add_time,
    .rec_begin_array = ns_rec_begin_array,
    .rec_begin_object = ns_rec_begin_object,
    .rec_end = ns_rec_end,
    .rec_type = ns_rec_type,
    .rec_time = ns_rec_time,
    .rec_seq = ns_rec_seq,
    .rec_get = ns_rec_get,
    .rec_field_count = ns_rec_field_count,
    .rec_field_at = ns_rec_field_at,
    .rec_remove = ns_rec_remove,
    .rec_to_json = ns_rec_to_json,
    .emit = fk_emit,
    .emit_packet = fk_emit_packet,
    .stopping = fk_stopping,
    .loop = fk_loop,
    .timer = fk_timer,
    .set_ready = fk_set_ready,
    .hostname = fk_hostname,
    .app_peers = fk_app_peers,
    .rec_on_release = ns_rec_on_release,
    .series_set = fk_series_set,
    .series_remove = fk_series_remove,
    .rec_key = ns_rec_key,
    .rec_add_bool_k = ns_rec_add_bool_k,
    .rec_add_int_k = ns_rec_add_int_k,
    .rec_add_uint_k = ns_rec_add_uint_k,
    .rec_add_double_k = ns_rec_add_double_k,
    .rec_add_str_k = ns_rec_add_str_k,
    .rec_add_ip_k = ns_rec_add_ip_k,
    .rec_add_mac_k = ns_rec_add_mac_k,
    .rec_add_time_k = ns_rec_add_time_k,
    .rec_begin_array_k = ns_rec_begin_array_k,
    .rec_begin_object_k = ns_rec_begin_object_k,
};

const struct ns_host *ns_fake_host(void)
{
    return &fk_host;
}

struct ns_instance *ns_fake_instance(const char *plugin, const char *name)
{
    struct ns_instance *ins = fk_xrealloc(NULL, sizeof(*ins));
    *ins = (struct ns_instance){
        .host = &fk_host,
        .name = fk_xstrdup(name ? name : "test"),
        .plugin = fk_xstrdup(plugin ? plugin : "test/test"),
        .worker = 0,
        .workers = 1,
    };
    fk.ins = fk_xrealloc(fk.ins, (fk.nins + 1) * sizeof(*fk.ins));
    fk.ins[fk.nins++] = ins;
    return ins;
}

static void fk_close_cb(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void ns_fake_clear_emitted(void)
{
    pthread_mutex_lock(&fk.lock);
    for (size_t i = 0; i < fk.nemitted; i++)
        ns_rec_release(fk.emitted[i]);
    fk.nemitted = 0;
    pthread_mutex_unlock(&fk.lock);
}

void ns_fake_reset(void)
{
    ns_fake_clear_emitted();
    free(fk.emitted);
    fk.emitted = NULL;
    fk.cemitted = 0;
    for (size_t i = 0; i < fk.npackets; i++)
        free((void *)fk.packets[i].data);
    free(fk.packets);
    fk.packets = NULL;
    fk.npackets = fk.cpackets = 0;
    for (size_t i = 0; i < fk.ncounters; i++) {
        free(fk.counters[i].name);
        free(fk.counters[i].labels);
    }
    free(fk.counters);
    fk.counters = NULL;
    fk.ncounters = 0;
    ns_metrics_reset(); /* run-time series (series_set) */
    for (size_t i = 0; i < fk.nins; i++) {
        free((void *)fk.ins[i]->name);
        free((void *)fk.ins[i]->plugin);
        free(fk.ins[i]);
    }
    free(fk.ins);
    fk.ins = NULL;
    fk.nins = 0;
    free(fk.timers);
    fk.timers = NULL;
    fk.ntimers = 0;
    if (fk.loop) {
        /* libuv's discipline: close every handle, let the closes finish,
         * then the loop must close cleanly. */
        uv_walk(fk.loop, fk_close_cb, NULL);
        uv_run(fk.loop, UV_RUN_DEFAULT);
        if (uv_loop_close(fk.loop) != 0)
            fprintf(stderr, "ns_fake_host: uv_loop_close failed: handles leaked\n");
        free(fk.loop);
        fk.loop = NULL;
    }
    fk.emit_rc = 0;
    fk.stopping = false;
    fk.ready = false;
    fk.quiet = false;
    memset(fk.logs, 0, sizeof(fk.logs));
}

uint64_t ns_fake_counter_value(const char *name, const char *labels)
{
    for (size_t i = 0; i < fk.ncounters; i++) {
        if (fk_streq(fk.counters[i].name, name) && fk_streq(fk.counters[i].labels, labels))
            return ns_counter_get(&fk.counters[i].cell);
    }
    return UINT64_MAX;
}

size_t ns_fake_counter_count(void)
{
    return fk.ncounters;
}

struct ns_record **ns_fake_emitted(size_t *n)
{
    pthread_mutex_lock(&fk.lock);
    struct ns_record **r = fk.emitted;
    if (n)
        *n = fk.nemitted;
    pthread_mutex_unlock(&fk.lock);
    return r;
}

void ns_fake_set_emit_result(int rc)
{
    pthread_mutex_lock(&fk.lock);
    fk.emit_rc = rc;
    pthread_mutex_unlock(&fk.lock);
}

const struct ns_packet *ns_fake_packets(size_t *n)
{
    pthread_mutex_lock(&fk.lock);
    const struct ns_packet *p = fk.packets;
    if (n)
        *n = fk.npackets;
    pthread_mutex_unlock(&fk.lock);
    return p;
}

void ns_fake_set_stopping(bool stopping)
{
    __atomic_store_n(&fk.stopping, stopping, __ATOMIC_RELEASE);
}

size_t ns_fake_timer_count(void)
{
    return fk.ntimers;
}

size_t ns_fake_fire_timers(void)
{
    /* A callback may register more timers: fire only those present now. */
    size_t n = fk.ntimers;
    for (size_t i = 0; i < n; i++)
        fk.timers[i].cb(fk.timers[i].arg);
    return n;
}

uint64_t ns_fake_timer_interval(size_t i)
{
    return i < fk.ntimers ? fk.timers[i].interval_ns : 0;
}

bool ns_fake_ready(void)
{
    return fk.ready;
}

size_t ns_fake_log_count(int level)
{
    int lvl = level & 0xff;
    return lvl >= 0 && lvl <= NS_LOG_TRACE ? fk.logs[lvl] : 0;
}

void ns_fake_set_quiet(bool quiet)
{
    fk.quiet = quiet;
}

/* ---- JSON checker ------------------------------------------------------- */

struct jc {
    const unsigned char *s;
    size_t n, i;
    const char *err;
    size_t err_at;
};

static bool jc_fail(struct jc *j, const char *msg)
{
    if (!j->err) {
        j->err = msg;
        j->err_at = j->i;
    }
    return false;
}

static void jc_ws(struct jc *j)
{
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

static bool jc_value(struct jc *j, int depth);

static bool jc_string(struct jc *j)
{
    if (j->i >= j->n || j->s[j->i] != '"')
        return jc_fail(j, "expected string");
    j->i++;
    while (j->i < j->n) {
        unsigned char c = j->s[j->i];
        if (c == '"') {
            j->i++;
            return true;
        }
        if (c < 0x20)
            return jc_fail(j, "raw control character in string");
        if (c == '\\') {
            if (++j->i >= j->n)
                break;
            c = j->s[j->i];
            if (c == 'u') {
                for (int k = 1; k <= 4; k++) {
                    if (j->i + k >= j->n || !strchr("0123456789abcdefABCDEF", j->s[j->i + k]) ||
                        !j->s[j->i + k])
                        return jc_fail(j, "bad \\u escape");
                }
                j->i += 5;
            } else if (strchr("\"\\/bfnrt", c) && c) {
                j->i++;
            } else {
                return jc_fail(j, "bad escape");
            }
            continue;
        }
        if (c < 0x80) {
            j->i++;
            continue;
        }
        size_t len = 0;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
            return jc_fail(j, "invalid UTF-8 lead byte");
        if (j->i + len > j->n || j->s[j->i + 1] < lo || j->s[j->i + 1] > hi)
            return jc_fail(j, "invalid UTF-8 sequence");
        for (size_t k = 2; k < len; k++) {
            if (j->s[j->i + k] < 0x80 || j->s[j->i + k] > 0xbf)
                return jc_fail(j, "invalid UTF-8 continuation");
        }
        j->i += len;
    }
    return jc_fail(j, "unterminated string");
}

static bool jc_number(struct jc *j)
{
    size_t st = j->i;
    if (j->i < j->n && j->s[j->i] == '-')
        j->i++;
    if (j->i < j->n && j->s[j->i] == '0') {
        j->i++;
    } else if (j->i < j->n && j->s[j->i] >= '1' && j->s[j->i] <= '9') {
        while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
            j->i++;
    } else {
        j->i = st;
        return jc_fail(j, "bad number");
    }
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        if (j->i >= j->n || j->s[j->i] < '0' || j->s[j->i] > '9')
            return jc_fail(j, "bad fraction");
        while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
            j->i++;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
            j->i++;
        if (j->i >= j->n || j->s[j->i] < '0' || j->s[j->i] > '9')
            return jc_fail(j, "bad exponent");
        while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
            j->i++;
    }
    return true;
}

static bool jc_object(struct jc *j, int depth)
{
    /* Key spans seen in this object, for the duplicate check. */
    size_t *keys = NULL, nkeys = 0;
    bool ok = false;
    j->i++;
    jc_ws(j);
    if (j->i < j->n && j->s[j->i] == '}') {
        j->i++;
        return true;
    }
    for (;;) {
        jc_ws(j);
        size_t ks = j->i;
        if (!jc_string(j))
            goto out;
        size_t kl = j->i - ks;
        for (size_t k = 0; k < nkeys; k++) {
            if (keys[2 * k + 1] == kl && memcmp(j->s + keys[2 * k], j->s + ks, kl) == 0) {
                j->i = ks;
                jc_fail(j, "duplicate key");
                goto out;
            }
        }
        keys = fk_xrealloc(keys, (nkeys + 1) * 2 * sizeof(*keys));
        keys[2 * nkeys] = ks;
        keys[2 * nkeys + 1] = kl;
        nkeys++;
        jc_ws(j);
        if (j->i >= j->n || j->s[j->i] != ':') {
            jc_fail(j, "expected ':'");
            goto out;
        }
        j->i++;
        if (!jc_value(j, depth + 1))
            goto out;
        jc_ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            continue;
        }
        if (j->i < j->n && j->s[j->i] == '}') {
            j->i++;
            ok = true;
            goto out;
        }
        jc_fail(j, "expected ',' or '}'");
        goto out;
    }
out:
    free(keys);
    return ok;
}

static bool jc_array(struct jc *j, int depth)
{
    j->i++;
    jc_ws(j);
    if (j->i < j->n && j->s[j->i] == ']') {
        j->i++;
        return true;
    }
    for (;;) {
        if (!jc_value(j, depth + 1))
            return false;
        jc_ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            continue;
        }
        if (j->i < j->n && j->s[j->i] == ']') {
            j->i++;
            return true;
        }
        return jc_fail(j, "expected ',' or ']'");
    }
}

static bool jc_lit(struct jc *j, const char *lit)
{
    size_t l = strlen(lit);
    if (j->n - j->i < l || memcmp(j->s + j->i, lit, l) != 0)
        return jc_fail(j, "bad literal");
    j->i += l;
    return true;
}

static bool jc_value(struct jc *j, int depth)
{
    if (depth > 1000)
        return jc_fail(j, "nested too deeply");
    jc_ws(j);
    if (j->i >= j->n)
        return jc_fail(j, "unexpected end");
    switch (j->s[j->i]) {
    case '{':
        return jc_object(j, depth);
    case '[':
        return jc_array(j, depth);
    case '"':
        return jc_string(j);
    case 't':
        return jc_lit(j, "true");
    case 'f':
        return jc_lit(j, "false");
    case 'n':
        return jc_lit(j, "null");
    default:
        return jc_number(j);
    }
}

const char *ns_fake_json_check(const char *s, size_t len)
{
    static _Thread_local char msg[128];
    struct jc j = {.s = (const unsigned char *)s, .n = len};
    if (jc_value(&j, 0)) {
        jc_ws(&j);
        if (j.i == j.n)
            return NULL;
        jc_fail(&j, "trailing bytes");
    }
    snprintf(msg, sizeof(msg), "%s at offset %zu", j.err ? j.err : "invalid", j.err_at);
    return msg;
}

char *ns_fake_rec_json(const struct ns_record *rec)
{
    char *buf = NULL;
    size_t cap = 0, len = 0;
    if (ns_rec_to_json(rec, &buf, &cap, &len) != 0) {
        fprintf(stderr, "ns_fake_rec_json: serialiser failed\n");
        abort();
    }
    buf = fk_xrealloc(buf, len + 1);
    buf[len] = 0;
    const char *err = ns_fake_json_check(buf, len);
    if (err) {
        fprintf(stderr, "ns_fake_rec_json: invalid JSON (%s): %s\n", err, buf);
        abort();
    }
    return buf;
}
