/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_rt.c - the pipeline at run time.
 *
 * Threads (see core/README.md for the picture):
 *  - one thread per packet source runs its run() callback; emit_packet() hashes
 *    each packet (symmetric flow hash) and copies it into a batch for the worker
 *    that owns the flow; full batches go over an SPSC ring (source -> worker) and
 *    come back empty over a second SPSC ring (worker -> source), so the packet
 *    path allocates nothing in steady state;
 *  - N workers run every decoder (one decoder instance per worker) and push the
 *    records they emit, in batches tagged with the producing node, over an SPSC
 *    ring to the event thread;
 *  - the event thread routes record batches along the graph's edges through the
 *    enrichers and detectors, and hands each sink its own SPSC ring;
 *  - the loop thread (the caller's) owns the libuv loop: signals, timers, the
 *    sinks and the sources that use start() instead of run().
 * No thread ever waits on a thread upstream of it, so blocking on a full ring
 * (the `block` policy) cannot deadlock; the loop thread never blocks at all.
 *
 * Shutdown drains in order: sources stop and flush their partial batches;
 * a worker that sees every packet source finished and its rings empty flushes
 * its decoders (open flows) and finishes; the event thread finishes after every
 * worker and record source and flushes detectors; the loop flushes the sinks and
 * closes every handle, so uv_loop_close() returns 0.
 */
#include "ns_rt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <uv.h>

#ifdef NS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "ns_http.h"
#include "ns_json.h"
#include "ns_log.h"
#include "ns_metrics.h"
#include "ns_opt.h"
#include "ns_pkthash.h"
#include "ns_rec.h"
#include "ns_ring.h"

#define NS_PB_PKTS 256
#define NS_PB_BYTES (256u * 1024u)
#define NS_RB_MAX 256
#define NS_PB_SPAN_NS 5000000ull /* 5 ms */
#define NS_DEQ_BURST 16
#define NS_RB_FLUSH_NS 1000000ull /* a worker's partial record batches wait at most 1 ms */

enum ns_where { W_LOOP = 0, W_SOURCE_THREAD, W_WORKER, W_EVENT };

/* A batch of packets owned by one (source, worker) pair. */
struct ns_pbatch {
    uint32_t n, used;
    uint64_t first_ts; /* packet time of pkts[0] */
    struct ns_packet pkts[NS_PB_PKTS];
    uint8_t data[NS_PB_BYTES];
};

/* A batch of records. `node`: the producing node on the way to the event thread,
 * the destination sink on the way to the loop. */
struct rb_home;
struct ns_rbatch {
    uint32_t node, n;
    struct rb_home *home;   /* recycled through this thread's home; NULL = malloc'd */
    struct ns_rbatch *next; /* on a home's free lists */
    struct ns_record *recs[NS_RB_MAX];
};

/* Record-batch recycling. A batch is filled on one thread and emptied on
 * another (worker -> event, event -> loop), so malloc and free crossed
 * threads and met on glibc's arena lock (~10 % of a worker's CPU with every
 * decoder on). A worker and the event thread each have a home: an emptied
 * batch goes back to its home's remote stack (one CAS; the owner takes the
 * whole stack with one exchange, so no ABA), and the owner allocates from
 * there. A home owns at most RB_HOME_MAX batches; more are plain malloc'd.
 * Homes live in the ns_rt and are freed by rt_free, after every thread has
 * been joined and every batch released. */
#define RB_HOME_MAX 1024u
struct rb_home {
    _Atomic(struct ns_rbatch *) remote;
    struct ns_rbatch *local;
    uint32_t owned;
};
static _Thread_local struct rb_home *tls_rb_home;

static struct ns_rbatch *rb_alloc(void)
{
    struct rb_home *h = tls_rb_home;
    if (h) {
        if (!h->local)
            h->local = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
        struct ns_rbatch *b = h->local;
        if (b) {
            h->local = b->next;
            return b;
        }
    }
    struct ns_rbatch *b = malloc(sizeof(*b));
    if (!b)
        return NULL;
    b->home = NULL;
    if (h && h->owned < RB_HOME_MAX) {
        h->owned++;
        b->home = h;
    }
    return b;
}

static void rb_free(struct ns_rbatch *b)
{
    struct rb_home *h = b->home;
    if (!h) {
        free(b);
        return;
    }
    if (h == tls_rb_home) {
        b->next = h->local;
        h->local = b;
        return;
    }
    struct ns_rbatch *old = atomic_load_explicit(&h->remote, memory_order_relaxed);
    do
        b->next = old;
    while (!atomic_compare_exchange_weak_explicit(&h->remote, &old, b, memory_order_release,
                                                  memory_order_relaxed));
}

static void rb_home_free(struct rb_home *h)
{
    struct ns_rbatch *lists[2] = {h->local, atomic_load(&h->remote)};
    for (int i = 0; i < 2; i++)
        for (struct ns_rbatch *b = lists[i], *nx; b; b = nx) {
            nx = b->next;
            free(b);
        }
}

/* Where one thread sleeps when it has nothing to do (a worker, the event
 * thread, a packet source): a futex word bumped by whoever hands it work. */
struct ns_park {
    _Atomic uint32_t seq; /* futex word: bumped by every wake-up      */
    atomic_int waiting;   /* 1 while the owner is about to sleep/asleep */
};

/* A ring with its storage, allocated together and 64-byte aligned. `cons` is
 * the consumer's park (woken after an enqueue), `prod` the producer's (woken
 * after a dequeue, for a producer waiting on a full ring); NULL: nobody parks
 * on that side (the loop thread). */
struct ns_q {
    struct ns_ring ring;
    void **slots;
    struct ns_park *cons, *prod;
    /* Items queued before the producer wakes a parked consumer (1 = every
     * enqueue). A futex wake-up costs the waker an IPI (tens of µs in a VM),
     * so a consumer that can wait gets woken for a burst, not for each item;
     * its park timeout (1-5 ms) bounds how long fewer items wait. */
    uint32_t wake_at;
};

struct ns_rt;
struct ns_src;

struct ns_inst {
    struct ns_instance pub; /* first: plugins get &pub */
    struct ns_rt *rt;
    struct ns_gnode *g;
    void *ctx;
    bool inited, started, disabled;
    enum ns_where where;
    char prefix[200];
    struct ns_rbatch *out; /* records emitted, not yet handed on */
    struct ns_q *out_q;    /* where full `out` batches go (NULL: event-thread local) */
    int policy;
    struct ns_src *src; /* packet sources */
    pthread_t thread;   /* record sources with run(): their thread */
    bool thread_started;
    uint64_t out_t0; /* wall time of the first record in `out` (thread record sources) */
    uv_timer_t **timers;
    size_t ntimers;
    ns_counter *c_in, *c_out, *c_drop, *c_err;
    atomic_bool unready; /* host->set_ready(false): /ready waits */
};

struct ns_src {
    struct ns_inst *inst;
    uint32_t slot; /* index among packet sources */
    pthread_t thread;
    bool thread_started;
    struct ns_pbatch **cur;  /* [W] batch being filled */
    struct ns_q **to_worker; /* [W] */
    struct ns_q **free_q;    /* [W] empty batches coming back */
    uint32_t *nalloc;        /* [W] batches allocated */
    struct ns_park park;     /* the source thread waits here for batches */
    ns_counter *c_pkts, *c_drop, *c_oversize;
    atomic_int done;
    int rc;
};

struct ns_worker {
    struct ns_rt *rt;
    uint32_t idx;
    pthread_t thread;
    bool thread_started;
    struct ns_inst **dec; /* [ndec] this worker's decoder instances */
    struct ns_q *out;     /* rbatches -> event */
    uint64_t now, last_tick, max_ts, wall_at_max;
    uint64_t last_flush; /* wall time the decoders' record batches were last handed on */
    bool offline;        /* the last batch was read from a file (NS_PKT_F_OFFLINE) */
    struct ns_park park; /* the worker waits here for packet batches */
    atomic_int done;
};

struct ns_sink {
    struct ns_inst *inst;
    struct ns_q *q;            /* event -> loop */
    struct ns_rbatch *held;    /* a batch the sink asked us to retry (NS_AGAIN) */
    struct ns_rbatch *pending; /* being filled by the event thread */
};

struct ns_rt {
    struct rb_home *rb_homes; /* [W + 1]: the workers', then the event thread's */
    struct ns_graph *g;
    const struct ns_rt_opts *opts;
    uv_loop_t loop;
    uv_async_t sig_term; /* woken by term_handler */
    uv_signal_t sig_hup;
    uv_async_t async;
    uv_timer_t check_timer;
    uv_check_t check;
    uint32_t W;

    struct ns_inst **node_inst; /* [n] the node's instance (decoders: worker 0's) */
    struct ns_inst **all;       /* every instance, init order */
    size_t nall;

    struct ns_src *srcs;
    size_t nsrc;
    size_t *dec_nodes; /* decoder node indices */
    size_t ndec;
    struct ns_worker *workers;

    struct ns_inst **rsrc; /* record sources */
    size_t nrsrc;
    struct ns_q **rsrc_q;         /* [nrsrc] record source -> event */
    struct ns_rbatch **loop_held; /* batches the loop could not enqueue yet */
    size_t nloop_held, cap_loop_held;

    struct ns_sink *sinks; /* indexed by node: only sink nodes used */
    pthread_t event_thread;
    bool event_started;
    uint64_t ev_now, ev_last_tick, ev_max_ts, ev_wall_at_max;
    uint64_t seq;
    struct ns_park ev_park;         /* the event thread waits here for records */
    struct ns_rbatch **ev_deferred; /* alerts emitted during process */
    size_t nev_deferred, cap_ev_deferred;

    atomic_int stopping;  /* signal received or all sources done */
    atomic_int psrc_done; /* packet sources finished */
    atomic_int rsrc_done; /* record sources stopped (loop) */
    atomic_int workers_done;
    atomic_int event_done;
    atomic_int live_pkts; /* a worker saw a packet without NS_PKT_F_OFFLINE */
    bool sinks_flushed, closing;
    int signals;
    ns_counter *c_unrouted;
    struct rt_ops *ops; /* the HTTP endpoint and the operations metrics */
};

static struct ns_host g_host;

/* ---- small helpers ----------------------------------------------------- */

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep a little longer each idle round, up to 2 ms: idle threads cost almost
 * nothing, and a busy pipeline never sleeps. */
static void backoff(unsigned *round)
{
    if (*round < 16) {
        sched_yield();
    } else {
        unsigned us = *round < 64 ? 50 : (*round < 256 ? 500 : 2000);
        struct timespec ts = {0, (long)us * 1000};
        nanosleep(&ts, NULL);
    }
    if (*round < 1000)
        (*round)++;
}

/* Rounds of sched_yield before an idle thread parks: on a 2-CPU machine a
 * spinning thread takes the CPU its producer needs, so keep it short. */
#define PARK_SPIN 8

/* Wake p's owner if it is parked (or about to park). Called by a producer
 * after every successful enqueue (and by a consumer after a dequeue that
 * freed room); cheap when nobody waits: one fence and one load. */
static void park_notify(struct ns_park *p)
{
    if (!p)
        return;
    /* Pairs with the fence in park_wait: either the parker sees our ring
     * write in its re-check, or we see its `waiting` flag (no lost wake-up). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->waiting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&p->seq, 1, memory_order_release);
        syscall(SYS_futex, &p->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

/* Idle round of the thread owning p: a few sched_yield rounds, then sleep on
 * p until a producer calls park_notify or the back-off time passes (1 to 5
 * ms: ticks and shutdown flags are polled at that pace).
 * ready(arg) re-checks the rings after the flag is set: true = do not sleep. */
static void park_wait(struct ns_park *p, unsigned *round, bool (*ready)(void *), void *arg)
{
    if (!p || *round < PARK_SPIN) {
        backoff(round);
        return;
    }
    /* Every hand-off of work wakes the owner (park_notify), so the timeout only
     * paces ticks and the few flags nobody notifies: short sleeps would make an
     * idle event thread wake ~20 times per ms of a busy worker, for nothing. */
    unsigned us = *round < 64 ? 1000 : 5000;
    atomic_store_explicit(&p->waiting, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    /* Acquire: a bump seen here makes the enqueue before it visible to ready(). */
    uint32_t seq = atomic_load_explicit(&p->seq, memory_order_acquire);
    if (!ready(arg)) {
        struct timespec ts = {0, (long)us * 1000};
        /* Returns at once when seq moved since the load (EAGAIN). */
        syscall(SYS_futex, &p->seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
    }
    atomic_store_explicit(&p->waiting, 0, memory_order_relaxed);
    if (*round < 1000)
        (*round)++;
}

/* Wake q's consumer if it is parked and at least q->wake_at items wait. */
static inline void q_notify_cons(struct ns_q *q)
{
    if (q->wake_at > 1 && ns_ring_count(&q->ring) < q->wake_at)
        return;
    park_notify(q->cons);
}

static bool q_has_room(void *arg)
{
    const struct ns_q *q = arg;
    return ns_ring_count(&q->ring) < ns_ring_capacity(&q->ring);
}

static bool q_has_items(void *arg)
{
    const struct ns_q *q = arg;
    return !ns_ring_empty(&q->ring);
}

static struct ns_q *q_new(uint32_t cap)
{
    struct ns_q *q = aligned_alloc(NS_RING_CACHE_LINE, (sizeof(struct ns_q) + 63) & ~(size_t)63);
    if (!q)
        return NULL;
    memset(q, 0, sizeof(*q));
    q->wake_at = 1;
    q->slots = calloc(cap, sizeof(void *));
    if (!q->slots || ns_ring_init(&q->ring, q->slots, cap)) {
        free(q->slots);
        free(q);
        return NULL;
    }
    return q;
}

static void q_free(struct ns_q *q)
{
    if (!q)
        return;
    free(q->slots);
    free(q);
}

static void rbatch_release(struct ns_rbatch *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < b->n; i++)
        if (b->recs[i])
            ns_rec_release(b->recs[i]);
    rb_free(b);
}

/* An instance whose callbacks may run: initialised and not switched off. */
static bool live(const struct ns_inst *in)
{
    return in && in->inited && !in->disabled;
}

static int policy_of(struct ns_rt *rt, struct ns_gnode *g)
{
    return g->ns.on_full >= 0 ? g->ns.on_full : rt->g->settings.on_full;
}

static uint32_t qsize_of(struct ns_rt *rt, struct ns_gnode *g)
{
    uint64_t q = g && g->ns.queue_size ? g->ns.queue_size : rt->g->settings.queue_size;
    return (uint32_t)q;
}

/* Push one pointer on an SPSC ring under a policy. Returns 0, or -ENOBUFS when
 * dropped (drop policy, or the pipeline is shutting down hard). */
static int q_push(struct ns_rt *rt, struct ns_q *q, void *p, int policy)
{
    unsigned round = 0;
    while (!ns_ring_spsc_enqueue_burst(&q->ring, &p, 1)) {
        if (policy == NS_POLICY_DROP)
            return -ENOBUFS;
        park_wait(q->prod, &round, q_has_room, q);
        (void)rt;
    }
    q_notify_cons(q);
    return 0;
}

/* ---- host table -------------------------------------------------------- */

static bool node_reads(const struct ns_gnode *g, size_t from)
{
    for (size_t i = 0; i < g->nfrom; i++)
        if (g->from[i] == from)
            return true;
    return false;
}

static struct ns_inst *I(struct ns_instance *pub)
{
    return (struct ns_inst *)pub;
}

static void host_vlog(struct ns_instance *ins, int level, const char *fmt, va_list ap)
{
    ns_logv(ins ? I(ins)->prefix : NULL, level, fmt, ap);
}

static void host_log(struct ns_instance *ins, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_vlog(ins, level, fmt, ap);
    va_end(ap);
}

static ns_counter *host_metric(struct ns_instance *ins, enum ns_metric_type t, const char *name,
                               const char *labels, const char *help)
{
    char lab[512];
    struct ns_inst *in = I(ins);
    /* node and plugin escaped; the plugin's own label text is checked by the registry */
    lab[0] = '\0';
    ns_metrics_label_append(lab, sizeof(lab), "node", in->g->spec->name);
    ns_metrics_label_append(lab, sizeof(lab), "plugin", in->g->plugin->id);
    if (labels && *labels)
        snprintf(lab + strlen(lab), sizeof(lab) - strlen(lab), ",%s", labels);
    char full[256];
    /* netscope_<kind>_<name>: the plugin kind keeps names of different kinds apart. */
    snprintf(full, sizeof(full), "%s_%s", ns_kind_name(in->g->kind), name);
    return ns_metrics_register(t, full, lab, help ? help : name);
}

static ns_counter *host_counter(struct ns_instance *ins, const char *name, const char *labels,
                                const char *help)
{
    return host_metric(ins, NS_METRIC_COUNTER, name, labels, help);
}

static ns_counter *host_gauge(struct ns_instance *ins, const char *name, const char *labels,
                              const char *help)
{
    return host_metric(ins, NS_METRIC_GAUGE, name, labels, help);
}

/* Series with run-time labels: the exact family name, no node/plugin labels
 * (the plugin chooses them); the instance is the owner retired at destroy. */
static int host_series_set(struct ns_instance *ins, const char *family, int type, const char *help,
                           const char *labels, uint64_t value)
{
    return ns_metrics_series_set(ins, family, type, help, labels, value);
}

static int host_series_remove(struct ns_instance *ins, const char *family, const char *labels)
{
    (void)ins;
    return ns_metrics_series_remove(family, labels);
}

static struct ns_record *host_rec_new(struct ns_instance *ins, enum ns_rec_type type,
                                      uint64_t ts_ns)
{
    (void)ins;
    return ns_rec_new(type, ts_ns);
}

static void inst_flush_out(struct ns_inst *in);

static int host_emit(struct ns_instance *ins, struct ns_record *rec)
{
    struct ns_inst *in = I(ins);
    if (!rec) { /* "hand on what is batched now" (a thread record source going idle) */
        if (in->where == W_SOURCE_THREAD)
            inst_flush_out(in);
        return 0;
    }
    if (in->g->kind == NS_KIND_SINK) {
        ns_rec_release(rec);
        ns_counter_inc(in->c_drop);
        return -EPERM;
    }
    if (!in->out) {
        in->out = rb_alloc();
        if (!in->out) {
            ns_rec_release(rec);
            ns_counter_inc(in->c_drop);
            return -ENOMEM;
        }
        in->out->node = (uint32_t)in->g->idx;
        in->out->n = 0;
    }
    in->out->recs[in->out->n++] = rec;
    ns_counter_inc(in->c_out);
    if (in->out->n == NS_RB_MAX) {
        inst_flush_out(in);
    } else if (in->where == W_SOURCE_THREAD) {
        /* Nothing else flushes a source thread's batch: hand it on within 5 ms. */
        uint64_t now = wall_ns();
        if (in->out->n == 1)
            in->out_t0 = now;
        else if (now - in->out_t0 > NS_PB_SPAN_NS)
            inst_flush_out(in);
    }
    return 0;
}

static void src_flush_all(struct ns_src *s);

static int src_push(struct ns_src *s, uint32_t w)
{
    struct ns_rt *rt = s->inst->rt;
    struct ns_pbatch *b = s->cur[w];
    if (!b || b->n == 0)
        return 0;
    if (q_push(rt, s->to_worker[w], b, s->inst->policy)) {
        ns_counter_add(s->c_drop, b->n);
        b->n = b->used = 0; /* reuse it: the packets are counted as dropped */
        return -ENOBUFS;
    }
    s->cur[w] = NULL;
    return 0;
}

/* An empty batch for worker w: a returned one, a new one while under the pool
 * limit, else wait (block) for one to come back or give up (drop). */
static struct ns_pbatch *src_get_batch(struct ns_src *s, uint32_t w)
{
    struct ns_rt *rt = s->inst->rt;
    void *p;
    unsigned round = 0;
    for (;;) {
        if (ns_ring_spsc_dequeue_burst(&s->free_q[w]->ring, &p, 1)) {
            /* No park_notify(prod): the worker never waits for this ring. */
            struct ns_pbatch *b = p;
            b->n = b->used = 0;
            return b;
        }
        if (s->nalloc[w] < rt->g->settings.max_packet_batches) {
            struct ns_pbatch *b = malloc(sizeof(*b));
            if (b) {
                s->nalloc[w]++;
                b->n = b->used = 0;
                return b;
            }
        }
        if (s->inst->policy == NS_POLICY_DROP)
            return NULL;
        park_wait(&s->park, &round, q_has_items, s->free_q[w]);
    }
}

static int host_emit_packet(struct ns_instance *ins, const struct ns_packet *pkt)
{
    struct ns_inst *in = I(ins);
    struct ns_src *s = in->src;
    if (!s)
        return -EPERM;
    if (!pkt) {
        src_flush_all(s);
        return 0;
    }
    struct ns_rt *rt = in->rt;
    uint32_t h = ns_pkt_hash(pkt->linktype, pkt->data, pkt->caplen);
    uint32_t w = (uint32_t)(((uint64_t)h * rt->W) >> 32);
    if (pkt->caplen > NS_PB_BYTES) {
        ns_counter_inc(s->c_oversize);
        return -EMSGSIZE;
    }
    struct ns_pbatch *b = s->cur[w];
    if (b && (b->n == NS_PB_PKTS || b->used + pkt->caplen > NS_PB_BYTES)) {
        src_push(s, w);
        b = s->cur[w];
    }
    if (!b) {
        b = s->cur[w] = src_get_batch(s, w);
        if (!b) {
            ns_counter_inc(s->c_drop);
            return -ENOBUFS;
        }
    }
    if (b->n == 0)
        b->first_ts = pkt->ts_ns;
    struct ns_packet *dst = &b->pkts[b->n++];
    /* The slots were last read by a worker on the other CPU: ask for the line
     * a few packets ahead now, so each store does not wait for its transfer. */
    __builtin_prefetch(&b->pkts[b->n + 6 < NS_PB_PKTS ? b->n + 6 : NS_PB_PKTS - 1], 1);
    *dst = *pkt;
    dst->hash = h;
    dst->source_id = s->slot;
    if (!(pkt->flags & NS_PKT_F_STABLE)) {
        memcpy(b->data + b->used, pkt->data, pkt->caplen);
        dst->data = b->data + b->used;
        /* Keep the next packet 8-byte aligned for decoders that load words. */
        b->used += (pkt->caplen + 7u) & ~7u;
        if (b->used > NS_PB_BYTES)
            b->used = NS_PB_BYTES;
    } /* else: the source keeps the bytes until its destroy(), after the workers */
    ns_counter_inc(s->c_pkts);
    /* A slow trickle of packets must not wait for a full batch: hand it on
     * once it spans NS_PB_SPAN_NS of packet time (live: about wall time). */
    if (pkt->ts_ns - b->first_ts > NS_PB_SPAN_NS)
        src_push(s, w);
    return 0;
}

static void src_flush_all(struct ns_src *s)
{
    for (uint32_t w = 0; w < s->inst->rt->W; w++)
        src_push(s, w);
}

static bool host_stopping(struct ns_instance *ins)
{
    return atomic_load_explicit(&I(ins)->rt->stopping, memory_order_acquire) != 0;
}

static struct uv_loop_s *host_loop(struct ns_instance *ins)
{
    return &I(ins)->rt->loop;
}

struct ns_tmr {
    uv_timer_t t;
    void (*cb)(void *);
    void *arg;
};

static void tmr_cb(uv_timer_t *t)
{
    struct ns_tmr *x = (struct ns_tmr *)t;
    x->cb(x->arg);
}

static int host_timer(struct ns_instance *ins, uint64_t interval_ns, void (*cb)(void *arg),
                      void *arg)
{
    struct ns_inst *in = I(ins);
    if (in->where != W_LOOP && !(in->g->kind == NS_KIND_SOURCE && in->g->emits_records))
        return -EPERM;
    if (!cb || interval_ns == 0)
        return -EINVAL;
    struct ns_tmr *x = calloc(1, sizeof(*x));
    uv_timer_t **nt = realloc(in->timers, (in->ntimers + 1) * sizeof(*nt));
    if (!x || !nt) {
        free(x);
        if (nt)
            in->timers = nt;
        return -ENOMEM;
    }
    in->timers = nt;
    x->cb = cb;
    x->arg = arg;
    uv_timer_init(&in->rt->loop, &x->t);
    uint64_t ms = interval_ns / 1000000u;
    uv_timer_start(&x->t, tmr_cb, ms ? ms : 1, ms ? ms : 1);
    in->timers[in->ntimers++] = &x->t;
    return 0;
}

static void host_set_ready(struct ns_instance *ins, bool ready)
{
    atomic_store_explicit(&I(ins)->unready, !ready, memory_order_relaxed);
}

static char g_hostname[256];

static const char *host_hostname(struct ns_instance *ins)
{
    (void)ins;
    return g_hostname;
}

static size_t host_app_peers(struct ns_instance *ins, struct ns_app_peer *out, size_t max)
{
    struct ns_inst *in = I(ins);
    struct ns_rt *rt = in->rt;
    size_t n = 0;
    if (in->where != W_WORKER)
        return 0;
    struct ns_worker *wk = &rt->workers[in->pub.worker];
    for (size_t d = 0; d < rt->ndec; d++) {
        struct ns_inst *p = wk->dec[d];
        if (!p || !(p->g->plugin->desc.flags & NS_PLUGIN_APP) || !node_reads(p->g, in->g->idx))
            continue;
        if (n < max && out) {
            out[n].desc = &p->g->plugin->desc;
            out[n].ctx = p->ctx;
            out[n].ins = &p->pub;
        }
        n++;
    }
    return n;
}

static enum ns_rec_type host_rec_type(const struct ns_record *r)
{
    return ns_rec_type(r);
}

static void host_init(void)
{
    g_host.size = sizeof(g_host);
    g_host.abi_minor = NS_ABI_MINOR;
    g_host.log = host_log;
    g_host.vlog = host_vlog;
    g_host.counter = host_counter;
    g_host.gauge = host_gauge;
    g_host.rec_new = host_rec_new;
    g_host.rec_release = ns_rec_release;
    g_host.rec_ref = ns_rec_ref;
    g_host.rec_add_bool = ns_rec_add_bool;
    g_host.rec_add_int = ns_rec_add_int;
    g_host.rec_add_uint = ns_rec_add_uint;
    g_host.rec_add_double = ns_rec_add_double;
    g_host.rec_add_str = ns_rec_add_str;
    g_host.rec_add_cstr = ns_rec_add_cstr;
    g_host.rec_add_ip = ns_rec_add_ip;
    g_host.rec_add_mac = ns_rec_add_mac;
    g_host.rec_add_time = ns_rec_add_time;
    g_host.rec_begin_array = ns_rec_begin_array;
    g_host.rec_begin_object = ns_rec_begin_object;
    g_host.rec_end = ns_rec_end;
    g_host.rec_type = host_rec_type;
    g_host.rec_time = ns_rec_time;
    g_host.rec_seq = ns_rec_seq;
    g_host.rec_get = ns_rec_get;
    g_host.rec_field_count = ns_rec_field_count;
    g_host.rec_field_at = ns_rec_field_at;
    g_host.rec_remove = ns_rec_remove;
    g_host.rec_to_json = ns_rec_to_json;
    g_host.emit = host_emit;
    g_host.emit_packet = host_emit_packet;
    g_host.stopping = host_stopping;
    g_host.loop = host_loop;
    g_host.timer = host_timer;
    g_host.set_ready = host_set_ready;
    g_host.hostname = host_hostname;
    g_host.app_peers = host_app_peers;
    g_host.rec_on_release = ns_rec_on_release;
    g_host.series_set = host_series_set;
    g_host.series_remove = host_series_remove;
    g_host.rec_key = ns_rec_key;
    g_host.rec_add_bool_k = ns_rec_add_bool_k;
    g_host.rec_add_int_k = ns_rec_add_int_k;
    g_host.rec_add_uint_k = ns_rec_add_uint_k;
    g_host.rec_add_double_k = ns_rec_add_double_k;
    g_host.rec_add_str_k = ns_rec_add_str_k;
    g_host.rec_add_ip_k = ns_rec_add_ip_k;
    g_host.rec_add_mac_k = ns_rec_add_mac_k;
    g_host.rec_add_time_k = ns_rec_add_time_k;
    g_host.rec_begin_array_k = ns_rec_begin_array_k;
    g_host.rec_begin_object_k = ns_rec_begin_object_k;
}

const struct ns_host *ns_rt_host(void)
{
    if (!g_host.size)
        host_init();
    return &g_host;
}

/* ---- record batches on their way ---------------------------------------- */

/* Append b to a growable array of batches. When there is no memory (or no room
 * under `limit`), b's records are dropped and counted against `in`. */
static void bvec_push(struct ns_rbatch ***v, size_t *n, size_t *cap, size_t limit,
                      struct ns_rbatch *b, struct ns_inst *in)
{
    if (*n == *cap && *n < limit) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct ns_rbatch **nv = realloc(*v, nc * sizeof(*nv));
        if (nv) {
            *v = nv;
            *cap = nc;
        }
    }
    if (*n == *cap || *n >= limit) {
        ns_counter_add(in->c_drop, b->n);
        rbatch_release(b);
        return;
    }
    (*v)[(*n)++] = b;
}

static void loop_hold(struct ns_rt *rt, struct ns_rbatch *b, struct ns_inst *in)
{
    /* The loop thread never blocks: keep a bounded backlog, then drop (counted). */
    bvec_push(&rt->loop_held, &rt->nloop_held, &rt->cap_loop_held, 64, b, in);
}

/* Hand the instance's pending output batch to the next stage. */
static void inst_flush_out(struct ns_inst *in)
{
    struct ns_rbatch *b = in->out;
    struct ns_rt *rt = in->rt;
    if (!b || b->n == 0)
        return;
    in->out = NULL;
    if (!in->out_q) { /* event-thread producer: routed after process() returns */
        bvec_push(&rt->ev_deferred, &rt->nev_deferred, &rt->cap_ev_deferred, SIZE_MAX, b, in);
        return;
    }
    if (in->where == W_LOOP) {
        if (rt->nloop_held || !ns_ring_spsc_enqueue_burst(&in->out_q->ring, (void **)&b, 1))
            loop_hold(rt, b, in);
        else
            park_notify(in->out_q->cons);
        return;
    }
    if (q_push(rt, in->out_q, b, in->policy)) {
        ns_counter_add(in->c_drop, b->n);
        rbatch_release(b);
    }
}

/* ---- workers ------------------------------------------------------------ */

/* `wall`: wall_ns() read by the caller (the batch loop already has it). */
static void worker_tick(struct ns_worker *wk, bool force, uint64_t wall)
{
    struct ns_rt *rt = wk->rt;
    /* Packet time while packets flow; wall time advances it when they stop,
     * except for packets read from a file: their time is the only clock, so a
     * capture gives the same records however fast or slowly it is read. */
    uint64_t now = wk->max_ts ? wk->max_ts + (wk->offline ? 0 : wall - wk->wall_at_max) : 0;
    if (!now)
        return;
    wk->now = now;
    if (!force && now - wk->last_tick < rt->g->settings.tick_interval)
        return;
    wk->last_tick = now;
    for (size_t d = 0; d < rt->ndec; d++) {
        struct ns_inst *in = wk->dec[d];
        if (!live(in) || !in->g->plugin->desc.tick)
            continue;
        in->g->plugin->desc.tick(in->ctx, now);
    }
    for (size_t d = 0; d < rt->ndec; d++)
        inst_flush_out(wk->dec[d]);
}

/* park_wait's re-check for a worker: a batch in any of its rings, or every
 * source done (the loop then drains and exits). */
static bool worker_ready(void *arg)
{
    struct ns_worker *wk = arg;
    struct ns_rt *rt = wk->rt;
    for (size_t s = 0; s < rt->nsrc; s++)
        if (!ns_ring_empty(&rt->srcs[s].to_worker[wk->idx]->ring))
            return true;
    return atomic_load_explicit(&rt->psrc_done, memory_order_acquire) == (int)rt->nsrc;
}

static void *worker_main(void *arg)
{
    struct ns_worker *wk = arg;
    struct ns_rt *rt = wk->rt;
    unsigned round = 0;
    char name[16];
    snprintf(name, sizeof(name), "ns-worker-%u", wk->idx);
    pthread_setname_np(pthread_self(), name);
    /* Records built here are freed on other threads: a block heap makes
     * that a cache hit instead of a malloc/free pair (ns_rec.h). */
    struct ns_rec_heap *heap = ns_rec_heap_new(0);
    ns_rec_heap_bind(heap);
    tls_rb_home = &rt->rb_homes[wk->idx];

    for (;;) {
        bool got = false;
        for (size_t s = 0; s < rt->nsrc; s++) {
            struct ns_src *src = &rt->srcs[s];
            void *bv[NS_DEQ_BURST];
            uint32_t n =
                ns_ring_spsc_dequeue_burst(&src->to_worker[wk->idx]->ring, bv, NS_DEQ_BURST);
            if (n)
                park_notify(src->to_worker[wk->idx]->prod); /* a source waiting for room */
            for (uint32_t i = 0; i < n; i++) {
                struct ns_pbatch *b = bv[i];
                got = true;
                for (size_t d = 0; d < rt->ndec; d++) {
                    struct ns_inst *in = wk->dec[d];
                    if (!live(in) || !in->g->plugin->desc.process_packets ||
                        !node_reads(in->g, src->inst->g->idx))
                        continue;
                    ns_counter_add(in->c_in, b->n);
                    int rc = in->g->plugin->desc.process_packets(in->ctx, b->pkts, b->n);
                    if (rc < 0)
                        ns_counter_inc(in->c_err);
                }
                /* Record batches are handed on when full (host_emit), when the
                 * worker goes idle, and otherwise every NS_RB_FLUSH_NS: one
                 * hand-off (and at most one wake-up of the event thread) per
                 * full batch rather than one per decoder per packet batch. */
                uint64_t wall = wall_ns();
                if (wall - wk->last_flush > NS_RB_FLUSH_NS) {
                    for (size_t d = 0; d < rt->ndec; d++)
                        inst_flush_out(wk->dec[d]);
                    wk->last_flush = wall;
                }
                if (b->n) {
                    const struct ns_packet *last = &b->pkts[b->n - 1];
                    wk->offline = (last->flags & NS_PKT_F_OFFLINE) != 0;
                    if (!wk->offline)
                        atomic_store_explicit(&rt->live_pkts, 1, memory_order_relaxed);
                    if (last->ts_ns >= wk->max_ts) {
                        wk->max_ts = last->ts_ns;
                        wk->wall_at_max = wall;
                    }
                }
                /* Tick between batches, not after a burst of them: how many
                 * batches a burst holds depends on timing, and a file must
                 * give the same records (flows end at the same tick) each run. */
                worker_tick(wk, false, wall);
                /* Give the batch back; the ring is as large as the pool, so it fits. */
                void *bp = b;
                if (!ns_ring_spsc_enqueue_burst(&src->free_q[wk->idx]->ring, &bp, 1))
                    free(b);
                else
                    q_notify_cons(src->free_q[wk->idx]);
            }
        }
        if (got) {
            round = 0;
            continue;
        }
        if (atomic_load_explicit(&rt->psrc_done, memory_order_acquire) == (int)rt->nsrc) {
            /* Every source flushed before it set done: one more pass sees it all. */
            bool empty = true;
            for (size_t s = 0; s < rt->nsrc; s++)
                empty &= ns_ring_empty(&rt->srcs[s].to_worker[wk->idx]->ring) != 0;
            if (empty)
                break;
            continue;
        }
        worker_tick(wk, false, wall_ns());
        for (size_t d = 0; d < rt->ndec; d++) /* idle: nothing more is coming soon */
            inst_flush_out(wk->dec[d]);
        park_wait(&wk->park, &round, worker_ready, wk);
    }
    /* Packet decoders first: closing their flows feeds the app decoders. */
    for (int app = 0; app < 2; app++) {
        for (size_t d = 0; d < rt->ndec; d++) {
            struct ns_inst *in = wk->dec[d];
            if (!live(in) || !!(in->g->plugin->desc.flags & NS_PLUGIN_APP) != app)
                continue;
            if (in->g->plugin->desc.tick && wk->max_ts)
                in->g->plugin->desc.tick(in->ctx, wk->now > wk->max_ts ? wk->now : wk->max_ts);
            if (in->g->plugin->desc.flush)
                in->g->plugin->desc.flush(in->ctx);
        }
    }
    for (size_t d = 0; d < rt->ndec; d++)
        inst_flush_out(wk->dec[d]);
    /* Records still in flight stay valid: their blocks then go to free(). */
    ns_rec_heap_free(heap);
    atomic_store_explicit(&wk->done, 1, memory_order_release);
    atomic_fetch_add_explicit(&rt->workers_done, 1, memory_order_acq_rel);
    park_notify(&rt->ev_park);
    return NULL;
}

/* ---- sources ------------------------------------------------------------ */

static void *source_main(void *arg)
{
    struct ns_src *s = arg;
    struct ns_inst *in = s->inst;
    char name[16];
    snprintf(name, sizeof(name), "ns-src-%.8s", in->g->spec->name);
    pthread_setname_np(pthread_self(), name);
    struct ns_rec_heap *heap = ns_rec_heap_new(0);
    ns_rec_heap_bind(heap);
    int rc = in->g->plugin->desc.run(in->ctx);
    s->rc = rc;
    if (rc < 0) {
        ns_logf(in->prefix, NS_LOG_ERROR, "source stopped with an error: %s", strerror(-rc));
        ns_counter_inc(in->c_err);
    }
    src_flush_all(s);
    ns_rec_heap_free(heap);
    atomic_store_explicit(&s->done, 1, memory_order_release);
    atomic_fetch_add_explicit(&in->rt->psrc_done, 1, memory_order_acq_rel);
    for (uint32_t w = 0; w < in->rt->W; w++) /* the workers' last pass */
        park_notify(&in->rt->workers[w].park);
    uv_async_send(&in->rt->async);
    return NULL;
}

/* A record source with run(): emits from its own thread until run() returns. */
static void *rsource_main(void *arg)
{
    struct ns_inst *in = arg;
    char name[16];
    snprintf(name, sizeof(name), "ns-src-%.8s", in->g->spec->name);
    pthread_setname_np(pthread_self(), name);
    struct ns_rec_heap *heap = ns_rec_heap_new(0);
    ns_rec_heap_bind(heap);
    int rc = in->g->plugin->desc.run(in->ctx);
    if (rc < 0) {
        ns_logf(in->prefix, NS_LOG_ERROR, "source stopped with an error: %s", strerror(-rc));
        ns_counter_inc(in->c_err);
    }
    inst_flush_out(in);
    ns_rec_heap_free(heap);
    atomic_fetch_add_explicit(&in->rt->rsrc_done, 1, memory_order_acq_rel);
    uv_async_send(&in->rt->async);
    return NULL;
}

/* ---- event thread ------------------------------------------------------- */

static void sink_push(struct ns_rt *rt, size_t node, struct ns_record *rec)
{
    struct ns_sink *sk = &rt->sinks[node];
    struct ns_inst *in = sk->inst;
    if (!live(in)) {
        ns_counter_inc(in->c_drop);
        ns_rec_release(rec);
        return;
    }
    if (!sk->pending) {
        sk->pending = rb_alloc();
        if (!sk->pending) {
            ns_counter_inc(in->c_drop);
            ns_rec_release(rec);
            return;
        }
        sk->pending->node = (uint32_t)node;
        sk->pending->n = 0;
    }
    sk->pending->recs[sk->pending->n++] = rec;
    if (sk->pending->n == NS_RB_MAX) {
        struct ns_rbatch *b = sk->pending;
        sk->pending = NULL;
        if (q_push(rt, sk->q, b, in->policy)) {
            ns_counter_add(in->c_drop, b->n);
            rbatch_release(b);
        }
        uv_async_send(&rt->async);
    }
}

static void sinks_flush_pending(struct ns_rt *rt)
{
    bool any = false;
    for (size_t i = 0; i < rt->g->n; i++) {
        struct ns_sink *sk = &rt->sinks[i];
        if (!sk->inst || !sk->pending || sk->pending->n == 0)
            continue;
        struct ns_rbatch *b = sk->pending;
        sk->pending = NULL;
        if (q_push(rt, sk->q, b, sk->inst->policy)) {
            ns_counter_add(sk->inst->c_drop, b->n);
            rbatch_release(b);
        }
        any = true;
    }
    if (any)
        uv_async_send(&rt->async);
}

static void route(struct ns_rt *rt, size_t from, struct ns_record **recs, uint32_t n);

static void route_deferred(struct ns_rt *rt)
{
    while (rt->nev_deferred) {
        struct ns_rbatch *b = rt->ev_deferred[--rt->nev_deferred];
        for (uint32_t i = 0; i < b->n; i++)
            ns_rec_set_seq(b->recs[i], ++rt->seq);
        route(rt, b->node, b->recs, b->n);
        rb_free(b);
    }
}

static void event_process(struct ns_rt *rt, struct ns_inst *in, struct ns_record **recs, uint32_t n)
{
    ns_counter_add(in->c_in, n);
    if (live(in)) {
        int rc = in->g->plugin->desc.process(in->ctx, recs, n);
        if (rc < 0)
            ns_counter_inc(in->c_err);
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (recs[i])
            recs[k++] = recs[i];
    ns_counter_add(in->c_out, k);
    inst_flush_out(in); /* alerts emitted during process() */
    route(rt, in->g->idx, recs, k);
    route_deferred(rt);
}

/* Deliver records produced by node `from` to its successors. The caller's one
 * reference per record is consumed. Sinks share the record (a reference each);
 * enrichers and detectors may modify it, so all but the last get a copy. */
static void route(struct ns_rt *rt, size_t from, struct ns_record **recs, uint32_t n)
{
    struct ns_gnode *g = &rt->g->nodes[from];
    size_t last_mut = (size_t)-1;
    if (n == 0)
        return;
    for (size_t j = 0; j < g->nsucc; j++) {
        struct ns_gnode *s = &rt->g->nodes[g->succ[j]];
        if (s->kind == NS_KIND_SINK) {
            for (uint32_t i = 0; i < n; i++) {
                ns_rec_ref(recs[i]);
                sink_push(rt, s->idx, recs[i]);
            }
        } else {
            last_mut = j;
        }
    }
    if (last_mut == (size_t)-1) {
        if (g->nsucc == 0)
            ns_counter_add(rt->c_unrouted, n);
        for (uint32_t i = 0; i < n; i++)
            ns_rec_release(recs[i]);
        return;
    }
    for (size_t j = 0; j < g->nsucc; j++) {
        struct ns_gnode *s = &rt->g->nodes[g->succ[j]];
        if (s->kind == NS_KIND_SINK)
            continue;
        struct ns_inst *in = rt->node_inst[s->idx];
        if (j == last_mut) {
            event_process(rt, in, recs, n);
        } else {
            struct ns_record **copy = malloc(n * sizeof(*copy));
            uint32_t k = 0;
            for (uint32_t i = 0; copy && i < n; i++) {
                struct ns_record *c = ns_rec_clone(recs[i]);
                if (c)
                    copy[k++] = c;
                else
                    ns_counter_inc(in->c_drop);
            }
            if (copy)
                event_process(rt, in, copy, k);
            else
                ns_counter_add(in->c_drop, n);
            free(copy);
        }
    }
}

static void event_tick(struct ns_rt *rt, bool force)
{
    uint64_t wall = wall_ns();
    /* As worker_tick: packet time alone while every packet so far came from
     * a file and no record source feeds this thread; else it runs on with
     * wall time between records. */
    bool offline = rt->nrsrc == 0 && !atomic_load_explicit(&rt->live_pkts, memory_order_relaxed);
    uint64_t now = rt->ev_max_ts ? rt->ev_max_ts + (offline ? 0 : wall - rt->ev_wall_at_max) : 0;
    if (!now)
        return;
    rt->ev_now = now;
    if (!force && now - rt->ev_last_tick < rt->g->settings.tick_interval)
        return;
    rt->ev_last_tick = now;
    for (size_t t = 0; t < rt->g->n; t++) {
        struct ns_gnode *g = &rt->g->nodes[rt->g->topo[t]];
        if (g->kind != NS_KIND_ENRICHER && g->kind != NS_KIND_DETECTOR)
            continue;
        struct ns_inst *in = rt->node_inst[g->idx];
        if (!live(in) || !g->plugin->desc.tick)
            continue;
        g->plugin->desc.tick(in->ctx, now);
        inst_flush_out(in);
        route_deferred(rt);
    }
}

static bool event_drain_q(struct ns_rt *rt, struct ns_q *q)
{
    void *bv[NS_DEQ_BURST];
    uint32_t n = ns_ring_spsc_dequeue_burst(&q->ring, bv, NS_DEQ_BURST);
    if (n)
        park_notify(q->prod); /* a worker waiting for room */
    for (uint32_t i = 0; i < n; i++) {
        struct ns_rbatch *b = bv[i];
        for (uint32_t k = 0; k < b->n; k++) {
            ns_rec_set_seq(b->recs[k], ++rt->seq);
            uint64_t ts = ns_rec_time(b->recs[k]);
            if (ts > rt->ev_max_ts) {
                rt->ev_max_ts = ts;
                rt->ev_wall_at_max = wall_ns();
            }
        }
        route(rt, b->node, b->recs, b->n);
        rb_free(b);
    }
    return n > 0;
}

/* park_wait's re-check for the event thread: records in any input ring, or
 * everything upstream done. */
static bool event_ready(void *arg)
{
    struct ns_rt *rt = arg;
    for (uint32_t w = 0; w < rt->W; w++)
        if (!ns_ring_empty(&rt->workers[w].out->ring))
            return true;
    for (size_t r = 0; r < rt->nrsrc; r++)
        if (!ns_ring_empty(&rt->rsrc_q[r]->ring))
            return true;
    return atomic_load_explicit(&rt->workers_done, memory_order_acquire) == (int)rt->W &&
           atomic_load_explicit(&rt->rsrc_done, memory_order_acquire) == (int)rt->nrsrc;
}

static void *event_main(void *arg)
{
    struct ns_rt *rt = arg;
    unsigned round = 0;
    pthread_setname_np(pthread_self(), "ns-event");
    struct ns_rec_heap *heap = ns_rec_heap_new(0); /* fan-out clones, alerts */
    ns_rec_heap_bind(heap);
    tls_rb_home = &rt->rb_homes[rt->W];
    for (;;) {
        bool got = false;
        for (uint32_t w = 0; w < rt->W; w++)
            got |= event_drain_q(rt, rt->workers[w].out);
        for (size_t r = 0; r < rt->nrsrc; r++)
            got |= event_drain_q(rt, rt->rsrc_q[r]);
        if (got) {
            round = 0;
            event_tick(rt, false);
            continue;
        }
        sinks_flush_pending(rt);
        bool upstream_done =
            atomic_load_explicit(&rt->workers_done, memory_order_acquire) == (int)rt->W &&
            atomic_load_explicit(&rt->rsrc_done, memory_order_acquire) == (int)rt->nrsrc;
        if (upstream_done) {
            bool empty = true;
            for (uint32_t w = 0; w < rt->W; w++)
                empty &= ns_ring_empty(&rt->workers[w].out->ring) != 0;
            for (size_t r = 0; r < rt->nrsrc; r++)
                empty &= ns_ring_empty(&rt->rsrc_q[r]->ring) != 0;
            if (empty)
                break;
            continue;
        }
        event_tick(rt, false);
        park_wait(&rt->ev_park, &round, event_ready, rt);
    }
    /* Detectors and enrichers flush in topological order, so what one flushes
     * still passes through the ones after it. */
    for (size_t t = 0; t < rt->g->n; t++) {
        struct ns_gnode *g = &rt->g->nodes[rt->g->topo[t]];
        if (g->kind != NS_KIND_ENRICHER && g->kind != NS_KIND_DETECTOR)
            continue;
        struct ns_inst *in = rt->node_inst[g->idx];
        if (!live(in) || !g->plugin->desc.flush)
            continue;
        g->plugin->desc.flush(in->ctx);
        inst_flush_out(in);
        route_deferred(rt);
    }
    sinks_flush_pending(rt);
    ns_rec_heap_free(heap);
    atomic_store_explicit(&rt->event_done, 1, memory_order_release);
    uv_async_send(&rt->async);
    return NULL;
}

/* ---- operations: the HTTP endpoint, readiness, self-metrics --------------- */

/* A ring whose depth /metrics shows, refreshed at every scrape. */
struct rt_ring_gauge {
    struct ns_ring *ring;
    ns_counter *depth;
};

struct rt_ops {
    struct ns_http *http;
    bool running;
    struct rt_ring_gauge *rings;
    size_t nrings;
    ns_counter *g_ready, *c_reload_ok, *c_reload_fail, *g_reload_ok, *g_reload_time;
};

/* /ready: the pipeline started, is not draining, every (enabled) source is
 * started and no instance has called host->set_ready(false). Loop thread. */
static bool rt_ready(void *arg, char *why, size_t cap)
{
    struct ns_rt *rt = arg;
    if (!rt->ops || !rt->ops->running) {
        snprintf(why, cap, "the pipeline is starting");
        return false;
    }
    if (atomic_load(&rt->stopping)) {
        snprintf(why, cap, "the pipeline is stopping (draining)");
        return false;
    }
    for (size_t i = 0; i < rt->nall; i++) {
        struct ns_inst *in = rt->all[i];
        if (in->disabled)
            continue;
        if (in->g->kind == NS_KIND_SOURCE && !in->started) {
            snprintf(why, cap, "source '%s' is not running", in->g->spec->name);
            return false;
        }
        if (atomic_load_explicit(&in->unready, memory_order_relaxed)) {
            snprintf(why, cap, "node '%s' (%s) reports it is not ready", in->g->spec->name,
                     in->g->plugin->id);
            return false;
        }
    }
    return true;
}

/* The metrics collector: gauges computed at scrape time. Loop thread. */
static void rt_collect(void *arg)
{
    struct ns_rt *rt = arg;
    char why[8];
    for (size_t i = 0; i < rt->ops->nrings; i++)
        ns_gauge_set(rt->ops->rings[i].depth, ns_ring_count(rt->ops->rings[i].ring));
    ns_gauge_set(rt->ops->g_ready, rt_ready(rt, why, sizeof(why)) ? 1 : 0);
}

static void rt_ring_gauge(struct ns_rt *rt, struct ns_q *q, const char *from, const char *to)
{
    struct rt_ops *o = rt->ops;
    char lab[512] = "";
    if (!q || ns_metrics_label_append(lab, sizeof(lab), "from", from) ||
        ns_metrics_label_append(lab, sizeof(lab), "to", to))
        return;
    struct rt_ring_gauge *v = realloc(o->rings, (o->nrings + 1) * sizeof(*v));
    if (!v)
        return;
    o->rings = v;
    v[o->nrings].ring = &q->ring;
    v[o->nrings++].depth = ns_metrics_register(
        NS_METRIC_GAUGE, "ring_depth", lab,
        "Batches (of up to 256 packets or records) waiting in a ring between two stages.");
    ns_gauge_set(ns_metrics_register(NS_METRIC_GAUGE, "ring_capacity", lab,
                                     "Capacity of a ring between two stages, in batches."),
                 ns_ring_capacity(&q->ring));
}

/* The pipeline started: register the ring gauges and turn /ready on. */
static void rt_ops_running(struct ns_rt *rt)
{
    char a[64], b[64];
    for (size_t s = 0; s < rt->nsrc; s++)
        for (uint32_t w = 0; w < rt->W; w++) {
            snprintf(b, sizeof(b), "worker-%u", w);
            rt_ring_gauge(rt, rt->srcs[s].to_worker[w], rt->srcs[s].inst->g->spec->name, b);
        }
    for (uint32_t w = 0; w < rt->W; w++) {
        snprintf(a, sizeof(a), "worker-%u", w);
        rt_ring_gauge(rt, rt->workers[w].out, a, "router");
    }
    for (size_t r = 0; r < rt->nrsrc; r++)
        rt_ring_gauge(rt, rt->rsrc_q[r], rt->rsrc[r]->g->spec->name, "router");
    for (size_t i = 0; i < rt->g->n; i++)
        if (rt->sinks[i].inst)
            rt_ring_gauge(rt, rt->sinks[i].q, "router", rt->g->nodes[i].spec->name);
    rt->ops->running = true;
    ns_metrics_set_collector(rt_collect, rt);
}

static void rt_ops_reloaded(struct ns_rt *rt, bool ok)
{
    ns_counter_inc(ok ? rt->ops->c_reload_ok : rt->ops->c_reload_fail);
    ns_gauge_set(rt->ops->g_reload_ok, ok ? 1 : 0);
    ns_gauge_set(rt->ops->g_reload_time, (uint64_t)time(NULL));
}

/* Self-metrics and the endpoint, before anything else starts. Returns 0, or -1
 * (logged) when the endpoint cannot listen on an address the file asked for. */
static int rt_ops_start(struct ns_rt *rt)
{
    struct rt_ops *o = calloc(1, sizeof(*o));
    if (!o) {
        ns_err("out of memory");
        return -1;
    }
    rt->ops = o;
    ns_metrics_register_process();
    ns_metrics_series_limits(rt->g->settings.metrics_max_series,
                             rt->g->settings.metrics_series_grace);
    o->g_ready = ns_metrics_register(NS_METRIC_GAUGE, "ready", "",
                                     "1 when /ready answers 200: every source running, every "
                                     "sink connected or spooling.");
    o->c_reload_ok = ns_metrics_register(NS_METRIC_COUNTER, "reloads_total", "result=\"ok\"",
                                         "Configuration reloads (SIGHUP), by result.");
    o->c_reload_fail = ns_metrics_register(NS_METRIC_COUNTER, "reloads_total", "result=\"failed\"",
                                           "Configuration reloads (SIGHUP), by result.");
    o->g_reload_ok = ns_metrics_register(NS_METRIC_GAUGE, "last_reload_success", "",
                                         "1 when the last configuration load (start or SIGHUP) "
                                         "was valid, 0 when it was refused.");
    o->g_reload_time = ns_metrics_register(NS_METRIC_GAUGE, "last_reload_timestamp_seconds", "",
                                           "When the configuration was last loaded (start or "
                                           "SIGHUP), in seconds since the Unix epoch.");
    ns_gauge_set(o->g_reload_ok, 1);
    ns_gauge_set(o->g_reload_time, (uint64_t)time(NULL));

    const char *addr = rt->g->settings.metrics_listen;
    if (!addr || !*addr)
        return 0;
    bool explicit = false;
    for (size_t i = 0; rt->g->cfg && i < rt->g->cfg->nsettings; i++)
        explicit |= strcmp(rt->g->cfg->settings[i].key, "metrics_listen") == 0;
    struct ns_http_opts ho = {.listen = addr, .ready = rt_ready, .arg = rt};
    char err[300];
    int rc = ns_http_start(&rt->loop, &ho, &o->http, err, sizeof(err));
    if (rc == 0) {
        ns_info("serving /metrics, /health and /ready on http://%s", ns_http_address(o->http));
        return 0;
    }
    if (rc == UV_EADDRINUSE && !explicit) {
        /* Only the built-in default: a second netscope on the host (an offline
         * analysis next to the agent) still runs, without an endpoint. */
        ns_warn("metrics endpoint off: %s (set netscope: metrics_listen to another address, "
                "or to \"\" to silence this)",
                err);
        return 0;
    }
    ns_err("cannot serve metrics (netscope: metrics_listen): %s", err);
    return -1;
}

/* Stop serving; the collector is removed before the rings go away. Loop thread. */
static void rt_ops_close(struct ns_rt *rt)
{
    if (!rt->ops)
        return;
    ns_metrics_set_collector(NULL, NULL);
    ns_http_close(rt->ops->http);
    rt->ops->http = NULL;
}

static void rt_ops_free(struct ns_rt *rt)
{
    if (!rt->ops)
        return;
    ns_metrics_set_collector(NULL, NULL);
    free(rt->ops->rings);
    free(rt->ops);
    rt->ops = NULL;
}

/* ---- loop thread -------------------------------------------------------- */

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void tmr_close_cb(uv_handle_t *h)
{
    free(h);
}

static void inst_stop_timers(struct ns_inst *in)
{
    for (size_t i = 0; i < in->ntimers; i++)
        uv_close((uv_handle_t *)in->timers[i], tmr_close_cb);
    free(in->timers);
    in->timers = NULL;
    in->ntimers = 0;
}

/* Returns true when every sink ring is empty and nothing is held. */
static bool loop_drain_sinks(struct ns_rt *rt)
{
    bool idle = true;
    for (size_t i = 0; i < rt->g->n; i++) {
        struct ns_sink *sk = &rt->sinks[i];
        if (!sk->inst)
            continue;
        const struct ns_plugin_desc *d = &sk->inst->g->plugin->desc;
        if (!live(sk->inst))
            continue;
        /* A time slice per call keeps signals and timers responsive behind a slow sink. */
        uint64_t t0 = wall_ns();
        for (int rounds = 0; rounds < 64 && wall_ns() - t0 < 5000000u; rounds++) {
            struct ns_rbatch *b = sk->held;
            void *p;
            if (!b) {
                if (!ns_ring_spsc_dequeue_burst(&sk->q->ring, &p, 1))
                    break;
                park_notify(sk->q->prod); /* the event thread waiting for room */
                b = p;
                ns_counter_add(sk->inst->c_in, b->n);
            }
            int rc = d->process(sk->inst->ctx, b->recs, b->n);
            if (rc == NS_AGAIN) {
                sk->held = b;
                idle = false;
                break;
            }
            sk->held = NULL;
            if (rc < 0)
                ns_counter_inc(sk->inst->c_err);
            rbatch_release(b);
        }
        if (sk->held || !ns_ring_empty(&sk->q->ring))
            idle = false;
    }
    if (!idle)
        uv_async_send(&rt->async); /* come back right after polling for signals */
    /* Record sources on the loop: retry what did not fit earlier. */
    while (rt->nloop_held) {
        struct ns_rbatch *b = rt->loop_held[0];
        struct ns_inst *in = rt->node_inst[b->node];
        if (!ns_ring_spsc_enqueue_burst(&in->out_q->ring, (void **)&b, 1))
            break;
        park_notify(in->out_q->cons);
        memmove(rt->loop_held, rt->loop_held + 1, --rt->nloop_held * sizeof(*rt->loop_held));
    }
    return idle;
}

static void rt_begin_close(struct ns_rt *rt);

static void loop_progress(struct ns_rt *rt)
{
    bool idle = loop_drain_sinks(rt);
    if (rt->closing)
        return;
    /* Offline captures: when every source is finished the pipeline drains. */
    if (!atomic_load(&rt->stopping) && rt->nrsrc == 0 &&
        atomic_load(&rt->psrc_done) == (int)rt->nsrc)
        atomic_store(&rt->stopping, 1);
    if (!atomic_load_explicit(&rt->event_done, memory_order_acquire) || !idle)
        return;
    if (!loop_drain_sinks(rt))
        return;
    /* Everything upstream is done and delivered: flush the sinks, then close. */
    for (size_t t = 0; t < rt->g->n; t++) {
        struct ns_gnode *g = &rt->g->nodes[rt->g->topo[t]];
        struct ns_inst *in = rt->node_inst[g->idx];
        if (g->kind == NS_KIND_SINK && live(in) && g->plugin->desc.flush)
            g->plugin->desc.flush(in->ctx);
    }
    rt_begin_close(rt);
}

static void async_cb(uv_async_t *a)
{
    loop_progress(a->data);
}

static void check_timer_cb(uv_timer_t *t)
{
    loop_progress(t->data);
}

static void check_cb(uv_check_t *c)
{
    struct ns_rt *rt = c->data;
    /* Flush what loop-thread sources emitted during this iteration. */
    for (size_t r = 0; r < rt->nrsrc; r++)
        if (rt->rsrc[r]->where == W_LOOP)
            inst_flush_out(rt->rsrc[r]);
}

static void stop_sources(struct ns_rt *rt)
{
    for (size_t i = 0; i < rt->g->n; i++) {
        struct ns_gnode *g = &rt->g->nodes[i];
        struct ns_inst *in = rt->node_inst[i];
        if (g->kind != NS_KIND_SOURCE || !in || !in->started)
            continue;
        bool loop_source = !in->src && in->where == W_LOOP;
        if (loop_source)
            inst_stop_timers(in); /* timers end before stop(), as documented */
        if (g->plugin->desc.stop)
            g->plugin->desc.stop(in->ctx);
        in->started = false;
        if (loop_source) { /* a loop source is done once stopped; a thread one when run() returns */
            inst_flush_out(in);
            atomic_fetch_add(&rt->rsrc_done, 1);
        }
    }
}

/* SIGINT/SIGTERM use a plain handler rather than a libuv watcher: the first
 * one wakes the loop (uv_async_send is async-signal-safe) to start the drain;
 * a second one ends the process at once even if the loop thread is busy in a
 * slow sink. */
static atomic_int g_term_signals;
static volatile sig_atomic_t g_term_signum;
static uv_async_t *g_term_async;

static void term_handler(int signum)
{
    if (atomic_fetch_add(&g_term_signals, 1) >= 1) {
        static const char msg[] = "netscope: second signal: exiting now without draining\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)w;
        _exit(1);
    }
    g_term_signum = signum;
    if (g_term_async)
        uv_async_send(g_term_async);
}

static void term_install(uv_async_t *a)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    g_term_async = a;
    atomic_store(&g_term_signals, 0);
    sa.sa_handler = a ? term_handler : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void hup_cb(uv_signal_t *s, int signum)
{
    struct ns_rt *rt = s->data;
    {
#ifdef NS_HAVE_SYSTEMD
        sd_notify(0, "RELOADING=1");
#endif
        ns_info("SIGHUP: re-reading the configuration");
        int rc = rt->opts && rt->opts->reload ? rt->opts->reload(rt->opts->reload_arg) : 0;
        rt_ops_reloaded(rt, rc == 0);
        if (rc == 0) {
            for (size_t i = 0; i < rt->g->n; i++) {
                struct ns_inst *in = rt->node_inst[i];
                if (rt->g->nodes[i].kind == NS_KIND_SINK && live(in) &&
                    rt->g->nodes[i].plugin->desc.reopen)
                    rt->g->nodes[i].plugin->desc.reopen(in->ctx);
            }
        }
#ifdef NS_HAVE_SYSTEMD
        sd_notify(0, "READY=1");
#endif
    }
    (void)signum;
}

/* The first SIGINT/SIGTERM: stop the sources and let the pipeline drain. */
static void start_drain(struct ns_rt *rt, int signum)
{
    ns_info("%s: stopping sources and draining the pipeline (send again to exit at once)",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
#ifdef NS_HAVE_SYSTEMD
    sd_notify(0, "STOPPING=1");
#endif
    atomic_store(&rt->stopping, 1);
    stop_sources(rt);
    loop_progress(rt);
}

static void term_async_cb(uv_async_t *a)
{
    struct ns_rt *rt = a->data;
    if (rt->signals++ == 0 && g_term_signum)
        start_drain(rt, g_term_signum);
}

static void rt_begin_close(struct ns_rt *rt)
{
    rt->closing = true;
    rt_ops_close(rt);
    stop_sources(rt);
    for (size_t i = 0; i < rt->nall; i++)
        inst_stop_timers(rt->all[i]);
    uv_close((uv_handle_t *)&rt->sig_term, close_cb);
    uv_close((uv_handle_t *)&rt->sig_hup, close_cb);
    uv_close((uv_handle_t *)&rt->async, close_cb);
    uv_close((uv_handle_t *)&rt->check_timer, close_cb);
    uv_close((uv_handle_t *)&rt->check, close_cb);
}

/* ---- set-up and tear-down ----------------------------------------------- */

static struct ns_inst *inst_new(struct ns_rt *rt, struct ns_gnode *g, uint32_t worker)
{
    struct ns_inst *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->pub.host = ns_rt_host();
    in->pub.name = g->spec->name;
    in->pub.plugin = g->plugin->id;
    in->pub.worker = worker;
    in->pub.workers = rt->W;
    in->rt = rt;
    in->g = g;
    in->policy = policy_of(rt, g);
    if (g->kind == NS_KIND_DECODER && rt->W > 1)
        snprintf(in->prefix, sizeof(in->prefix), "%s:%s:%u", g->plugin->id, g->spec->name, worker);
    else
        snprintf(in->prefix, sizeof(in->prefix), "%s:%s", g->plugin->id, g->spec->name);
    char lab[300];
    lab[0] = '\0';
    ns_metrics_label_append(lab, sizeof(lab), "node", g->spec->name);
    ns_metrics_label_append(lab, sizeof(lab), "plugin", g->plugin->id);
    in->c_in = ns_metrics_register(NS_METRIC_COUNTER, "node_records_in_total", lab,
                                   "Records (packets for decoders) a node received.");
    in->c_out = ns_metrics_register(NS_METRIC_COUNTER, "node_records_out_total", lab,
                                    "Records a node emitted or passed on.");
    in->c_drop = ns_metrics_register(NS_METRIC_COUNTER, "node_records_dropped_total", lab,
                                     "Records dropped on the way into or out of a node (full "
                                     "ring under the drop policy, no memory).");
    in->c_err = ns_metrics_register(NS_METRIC_COUNTER, "node_errors_total", lab,
                                    "Callbacks of a node that returned an error.");
    struct ns_inst **v = realloc(rt->all, (rt->nall + 1) * sizeof(*v));
    if (!v) {
        free(in);
        return NULL;
    }
    rt->all = v;
    rt->all[rt->nall++] = in;
    return in;
}

static int inst_init(struct ns_inst *in)
{
    const struct ns_plugin_desc *d = &in->g->plugin->desc;
    if (!d->init) {
        in->inited = true;
        return 0;
    }
    int rc = d->init(&in->pub, in->g->config, &in->ctx);
    if (rc < 0) {
        ns_logf(in->prefix, NS_LOG_ERROR, "init failed (%s): %s", strerror(-rc),
                in->g->ns.optional ? "the node is optional, running without it"
                                   : "the pipeline cannot start");
        return rc;
    }
    in->inited = true;
    return 0;
}

static void rt_free(struct ns_rt *rt)
{
    /* destroy in reverse init order, after every thread has finished */
    for (size_t i = rt->nall; i-- > 0;) {
        struct ns_inst *in = rt->all[i];
        if (in->inited && in->g->plugin->desc.destroy)
            in->g->plugin->desc.destroy(in->ctx);
        ns_metrics_series_retire_owner(&in->pub);
        if (in->out)
            rbatch_release(in->out);
        free(in->timers);
        free(in);
    }
    free(rt->all);
    for (size_t s = 0; s < rt->nsrc; s++) {
        struct ns_src *src = &rt->srcs[s];
        for (uint32_t w = 0; w < rt->W; w++) {
            void *p;
            if (src->cur && src->cur[w])
                free(src->cur[w]);
            while (src->to_worker && src->to_worker[w] &&
                   ns_ring_spsc_dequeue_burst(&src->to_worker[w]->ring, &p, 1))
                free(p);
            while (src->free_q && src->free_q[w] &&
                   ns_ring_spsc_dequeue_burst(&src->free_q[w]->ring, &p, 1))
                free(p);
            if (src->to_worker)
                q_free(src->to_worker[w]);
            if (src->free_q)
                q_free(src->free_q[w]);
        }
        free(src->cur);
        free(src->to_worker);
        free(src->free_q);
        free(src->nalloc);
    }
    free(rt->srcs);
    for (uint32_t w = 0; rt->workers && w < rt->W; w++) {
        void *p;
        while (rt->workers[w].out && ns_ring_spsc_dequeue_burst(&rt->workers[w].out->ring, &p, 1))
            rbatch_release(p);
        q_free(rt->workers[w].out);
        free(rt->workers[w].dec);
    }
    free(rt->workers);
    for (size_t r = 0; r < rt->nrsrc; r++) {
        void *p;
        while (rt->rsrc_q[r] && ns_ring_spsc_dequeue_burst(&rt->rsrc_q[r]->ring, &p, 1))
            rbatch_release(p);
        q_free(rt->rsrc_q[r]);
    }
    free(rt->rsrc_q);
    free(rt->rsrc);
    for (size_t i = 0; rt->sinks && i < rt->g->n; i++) {
        struct ns_sink *sk = &rt->sinks[i];
        void *p;
        while (sk->q && ns_ring_spsc_dequeue_burst(&sk->q->ring, &p, 1))
            rbatch_release(p);
        rbatch_release(sk->held);
        rbatch_release(sk->pending);
        q_free(sk->q);
    }
    free(rt->sinks);
    for (size_t i = 0; i < rt->nloop_held; i++)
        rbatch_release(rt->loop_held[i]);
    free(rt->loop_held);
    for (size_t i = 0; i < rt->nev_deferred; i++)
        rbatch_release(rt->ev_deferred[i]);
    free(rt->ev_deferred);
    free(rt->dec_nodes);
    free(rt->node_inst);
    /* Last: every batch has been released to its home by now. */
    for (uint32_t w = 0; rt->rb_homes && w <= rt->W; w++)
        rb_home_free(&rt->rb_homes[w]);
    free(rt->rb_homes);
}

static uint32_t online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

static int rt_setup(struct ns_rt *rt)
{
    struct ns_graph *g = rt->g;
    rt->W = g->settings.workers ? (uint32_t)g->settings.workers : online_cpus();
    rt->node_inst = calloc(g->n, sizeof(*rt->node_inst));
    rt->sinks = calloc(g->n, sizeof(*rt->sinks));
    rt->srcs = calloc(g->n, sizeof(*rt->srcs));
    rt->dec_nodes = calloc(g->n, sizeof(size_t));
    rt->rsrc = calloc(g->n, sizeof(*rt->rsrc));
    rt->rsrc_q = calloc(g->n, sizeof(*rt->rsrc_q));
    rt->workers = calloc(rt->W, sizeof(*rt->workers));
    rt->rb_homes = calloc(rt->W + 1, sizeof(*rt->rb_homes));
    if (!rt->rb_homes)
        return -ENOMEM;
    rt->c_unrouted = ns_metrics_register(NS_METRIC_COUNTER, "records_unrouted_total", "",
                                         "Records emitted by a node that feeds nothing.");
    if (!rt->node_inst || !rt->sinks || !rt->srcs || !rt->dec_nodes || !rt->rsrc || !rt->rsrc_q ||
        !rt->workers)
        return -ENOMEM;

    for (size_t i = 0; i < g->n; i++)
        if (g->nodes[i].kind == NS_KIND_DECODER)
            rt->dec_nodes[rt->ndec++] = i;
    for (uint32_t w = 0; w < rt->W; w++) {
        struct ns_worker *wk = &rt->workers[w];
        wk->rt = rt;
        wk->idx = w;
        wk->out = q_new((uint32_t)g->settings.queue_size);
        wk->dec = calloc(rt->ndec ? rt->ndec : 1, sizeof(*wk->dec));
        if (!wk->out || !wk->dec)
            return -ENOMEM;
        wk->out->cons = &rt->ev_park;
        wk->out->prod = &wk->park;
        /* The event thread's work per batch is small: let a few batches
         * gather (or its 1-5 ms park time out) instead of a wake-up each. */
        wk->out->wake_at = g->settings.queue_size >= 8 ? 4 : 1;
    }

    /* Instances in topological order, so a sink is initialised before anything
     * that feeds it is started. */
    for (size_t t = 0; t < g->n; t++) {
        struct ns_gnode *gn = &g->nodes[g->topo[t]];
        uint32_t copies = gn->kind == NS_KIND_DECODER ? rt->W : 1;
        for (uint32_t w = 0; w < copies; w++) {
            struct ns_inst *in = inst_new(rt, gn, w);
            if (!in)
                return -ENOMEM;
            if (w == 0)
                rt->node_inst[gn->idx] = in;
            switch (gn->kind) {
            case NS_KIND_SOURCE:
                in->where = gn->plugin->desc.run ? W_SOURCE_THREAD : W_LOOP;
                break;
            case NS_KIND_DECODER:
                in->where = W_WORKER;
                for (size_t d = 0; d < rt->ndec; d++)
                    if (rt->dec_nodes[d] == gn->idx)
                        rt->workers[w].dec[d] = in;
                in->out_q = rt->workers[w].out;
                break;
            case NS_KIND_ENRICHER:
            case NS_KIND_DETECTOR:
                in->where = W_EVENT;
                break;
            case NS_KIND_SINK:
                in->where = W_LOOP;
                rt->sinks[gn->idx].inst = in;
                rt->sinks[gn->idx].q = q_new(qsize_of(rt, gn));
                if (!rt->sinks[gn->idx].q)
                    return -ENOMEM;
                rt->sinks[gn->idx].q->prod = &rt->ev_park; /* the loop consumes */
                break;
            }
            if (gn->kind == NS_KIND_SOURCE) {
                if (gn->emits_records) {
                    in->out_q = q_new(qsize_of(rt, gn));
                    if (!in->out_q)
                        return -ENOMEM;
                    in->out_q->cons = &rt->ev_park;
                    rt->rsrc_q[rt->nrsrc] = in->out_q;
                    rt->rsrc[rt->nrsrc++] = in;
                } else {
                    struct ns_src *s = &rt->srcs[rt->nsrc];
                    s->inst = in;
                    s->slot = (uint32_t)rt->nsrc++;
                    in->src = s;
                    s->cur = calloc(rt->W, sizeof(*s->cur));
                    s->to_worker = calloc(rt->W, sizeof(*s->to_worker));
                    s->free_q = calloc(rt->W, sizeof(*s->free_q));
                    s->nalloc = calloc(rt->W, sizeof(*s->nalloc));
                    if (!s->cur || !s->to_worker || !s->free_q || !s->nalloc)
                        return -ENOMEM;
                    /* Rings as large as the batch pool: a returned batch always fits. */
                    uint32_t cap = 2;
                    while (cap < g->settings.max_packet_batches)
                        cap <<= 1;
                    for (uint32_t w2 = 0; w2 < rt->W; w2++) {
                        s->to_worker[w2] = q_new(cap);
                        s->free_q[w2] = q_new(cap);
                        if (!s->to_worker[w2] || !s->free_q[w2])
                            return -ENOMEM;
                        s->to_worker[w2]->cons = &rt->workers[w2].park;
                        s->to_worker[w2]->prod = &s->park;
                        s->free_q[w2]->cons = &s->park;
                        /* A source out of batches sleeps until a quarter of
                         * the pool is back: one wake-up per few batches, not
                         * one per batch while it outruns the worker. */
                        uint32_t wa = (uint32_t)g->settings.max_packet_batches / 4;
                        s->free_q[w2]->wake_at = wa ? wa : 1;
                    }
                    char lab[300];
                    lab[0] = '\0';
                    ns_metrics_label_append(lab, sizeof(lab), "node", gn->spec->name);
                    s->c_pkts = ns_metrics_register(NS_METRIC_COUNTER, "source_packets_total", lab,
                                                    "Packets a source handed to workers.");
                    s->c_drop = ns_metrics_register(
                        NS_METRIC_COUNTER, "source_packets_dropped_total", lab,
                        "Packets dropped because the workers were behind (drop policy).");
                    s->c_oversize = ns_metrics_register(
                        NS_METRIC_COUNTER, "source_packets_oversized_total", lab,
                        "Packets larger than a packet batch (256 KiB), dropped.");
                }
            }
            if (inst_init(in)) {
                if (!gn->ns.optional)
                    return -EINVAL;
                in->disabled = true;
            }
        }
    }
    return 0;
}

static int rt_start(struct ns_rt *rt)
{
    struct ns_graph *g = rt->g;
    /* Start sinks first and sources last: downstream is ready before data flows. */
    for (size_t t = g->n; t-- > 0;) {
        struct ns_gnode *gn = &g->nodes[g->topo[t]];
        if (gn->kind == NS_KIND_SOURCE)
            continue;
        uint32_t copies = gn->kind == NS_KIND_DECODER ? rt->W : 1;
        for (uint32_t w = 0; w < copies; w++) {
            struct ns_inst *in = gn->kind == NS_KIND_DECODER
                                     ? rt->workers[w].dec[0] /* replaced below */
                                     : rt->node_inst[gn->idx];
            if (gn->kind == NS_KIND_DECODER)
                for (size_t d = 0; d < rt->ndec; d++)
                    if (rt->dec_nodes[d] == gn->idx)
                        in = rt->workers[w].dec[d];
            if (in->disabled || !gn->plugin->desc.start)
                continue;
            int rc = gn->plugin->desc.start(in->ctx);
            if (rc < 0) {
                ns_logf(in->prefix, NS_LOG_ERROR, "start failed (%s): %s", strerror(-rc),
                        gn->ns.optional ? "the node is optional, running without it"
                                        : "the pipeline cannot start");
                if (!gn->ns.optional)
                    return -EINVAL;
                in->disabled = true;
                continue;
            }
            in->started = true;
        }
    }
    if (pthread_create(&rt->event_thread, NULL, event_main, rt))
        return -errno;
    rt->event_started = true;
    for (uint32_t w = 0; w < rt->W; w++) {
        if (pthread_create(&rt->workers[w].thread, NULL, worker_main, &rt->workers[w]))
            return -errno;
        rt->workers[w].thread_started = true;
    }
    for (size_t i = 0; i < g->n; i++) {
        struct ns_gnode *gn = &g->nodes[i];
        struct ns_inst *in = rt->node_inst[i];
        if (gn->kind != NS_KIND_SOURCE)
            continue;
        if (in->disabled) {
            if (in->src)
                atomic_fetch_add(&rt->psrc_done, 1);
            else
                atomic_fetch_add(&rt->rsrc_done, 1);
            continue;
        }
        if (gn->plugin->desc.start) {
            int rc = gn->plugin->desc.start(in->ctx);
            if (rc < 0) {
                ns_logf(in->prefix, NS_LOG_ERROR, "start failed (%s): %s", strerror(-rc),
                        gn->ns.optional ? "the node is optional, running without it"
                                        : "the pipeline cannot start");
                if (!gn->ns.optional)
                    return -EINVAL;
                in->disabled = true;
                if (in->src)
                    atomic_fetch_add(&rt->psrc_done, 1);
                else
                    atomic_fetch_add(&rt->rsrc_done, 1);
                continue;
            }
        }
        in->started = true;
        if (in->src) {
            if (pthread_create(&in->src->thread, NULL, source_main, in->src))
                return -errno;
            in->src->thread_started = true;
        } else if (in->where == W_SOURCE_THREAD) {
            if (pthread_create(&in->thread, NULL, rsource_main, in))
                return -errno;
            in->thread_started = true;
        }
    }
    return 0;
}

static void summary_line(const struct ns_metric *m, uint64_t v, void *arg)
{
    (void)arg;
    if (v)
        ns_logf(NULL, NS_LOG_INFO, "  %s{%s} %llu", m->name, m->labels, (unsigned long long)v);
}

int ns_rt_run(struct ns_graph *g, const struct ns_rt_opts *opts)
{
    struct ns_rt rt_s, *rt = &rt_s;
    int rc, ret = 0;

    memset(rt, 0, sizeof(*rt));
    rt->g = g;
    rt->opts = opts;
    ns_rt_host();
    if (g->settings.hostname && *g->settings.hostname)
        snprintf(g_hostname, sizeof(g_hostname), "%s", g->settings.hostname);
    else if (gethostname(g_hostname, sizeof(g_hostname) - 1))
        snprintf(g_hostname, sizeof(g_hostname), "unknown");
    ns_json_set_hostname(g_hostname);

    if ((rc = uv_loop_init(&rt->loop))) {
        ns_err("cannot create the event loop: %s", uv_strerror(rc));
        return 1;
    }
    if (rt_ops_start(rt)) {
        uv_run(&rt->loop, UV_RUN_DEFAULT); /* the endpoint's handles close */
        rt_ops_free(rt);
        uv_loop_close(&rt->loop);
        return 1;
    }
    uv_async_init(&rt->loop, (uv_async_t *)&rt->sig_term, term_async_cb);
    uv_signal_init(&rt->loop, &rt->sig_hup);
    uv_async_init(&rt->loop, &rt->async, async_cb);
    uv_timer_init(&rt->loop, &rt->check_timer);
    uv_check_init(&rt->loop, &rt->check);
    rt->sig_term.data = rt->sig_hup.data = rt;
    rt->async.data = rt->check_timer.data = rt->check.data = rt;
    term_install((uv_async_t *)&rt->sig_term);
    uv_signal_start(&rt->sig_hup, hup_cb, SIGHUP);
    uv_timer_start(&rt->check_timer, check_timer_cb, 20, 20);
    uv_check_start(&rt->check, check_cb);

    rc = rt_setup(rt);
    if (rc == 0)
        rc = rt_start(rt);
    if (rc) {
        /* The failing node has said why (one line); only a bare failure needs one here. */
        if (rc == -ENOMEM)
            ns_err("out of memory while setting up the pipeline: it cannot start");
        else if (rc != -EINVAL)
            ns_err("the pipeline cannot start: %s", strerror(-rc));
        ret = 1;
        /* Let whatever did start drain away, then close. Sources that never
         * started are done now; started ones are done when stopped or finished. */
        atomic_store(&rt->stopping, 1);
        for (size_t s = 0; s < rt->nsrc; s++)
            if (!rt->srcs[s].thread_started)
                atomic_fetch_add(&rt->psrc_done, 1);
        for (size_t r = 0; r < rt->nrsrc; r++)
            if (!rt->rsrc[r]->started && !rt->rsrc[r]->thread_started)
                atomic_fetch_add(&rt->rsrc_done, 1);
        stop_sources(rt);
        if (!rt->event_started)
            atomic_store(&rt->event_done, 1);
        for (uint32_t w = 0; w < rt->W && rt->workers; w++)
            if (!rt->workers[w].thread_started)
                atomic_fetch_add(&rt->workers_done, 1);
    } else {
        ns_info("pipeline running: %zu nodes, %u worker%s", g->n, rt->W, rt->W == 1 ? "" : "s");
        rt_ops_running(rt);
#ifdef NS_HAVE_SYSTEMD
        sd_notify(0, "READY=1");
#endif
    }
    uv_run(&rt->loop, UV_RUN_DEFAULT);

    for (size_t s = 0; s < rt->nsrc; s++)
        if (rt->srcs[s].thread_started)
            pthread_join(rt->srcs[s].thread, NULL);
    for (size_t r = 0; r < rt->nrsrc; r++)
        if (rt->rsrc[r]->thread_started)
            pthread_join(rt->rsrc[r]->thread, NULL);
    for (uint32_t w = 0; w < rt->W && rt->workers; w++)
        if (rt->workers[w].thread_started)
            pthread_join(rt->workers[w].thread, NULL);
    if (rt->event_started)
        pthread_join(rt->event_thread, NULL);
    /* Sinks are stopped after the last record reached them. */
    for (size_t t = 0; t < g->n; t++) {
        struct ns_gnode *gn = &g->nodes[g->topo[t]];
        if (gn->kind == NS_KIND_SOURCE)
            continue;
        for (size_t i = 0; i < rt->nall; i++) {
            struct ns_inst *in = rt->all[i];
            if (in->g == gn && in->started && gn->plugin->desc.stop)
                gn->plugin->desc.stop(in->ctx);
            if (in->g == gn)
                in->started = false;
        }
    }
    if (opts && opts->print_summary) {
        ns_info("pipeline finished; counters:");
        ns_metrics_foreach(summary_line, NULL);
    }
    rt_ops_free(rt); /* before the rings its gauges read are freed */
    rt_free(rt);
    /* Plugins may have closed handles in stop/destroy: let their callbacks run. */
    uv_run(&rt->loop, UV_RUN_DEFAULT);
    term_install(NULL);
    rc = uv_loop_close(&rt->loop);
    if (rc) {
        ns_err("event loop closed with handles still open (%s): a plugin leaked a handle",
               uv_err_name(rc));
        ret = 1;
    }
    return ret;
}
