/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_plugin.h - the contract between the NetScope core and every plugin .so.
 *
 * This is the one header a plugin author includes. A plugin exports exactly one
 * symbol, `ns_plugin`, a descriptor made with NS_PLUGIN_DEFINE(). The core dlopen()s
 * the file, reads the descriptor, and refuses it with a clear message when the ABI
 * major differs, the descriptor is shorter than the core's v1 layout, the name or
 * kind disagrees with the file name, or a callback its kind needs is missing.
 *
 * Versioning: NS_ABI_MAJOR changes when a layout changes incompatibly. Fields are
 * only ever appended to struct ns_plugin_desc and struct ns_host (each carries its
 * own size), which bumps NS_ABI_MINOR: a plugin built against an older minor keeps
 * loading, and the core reads only `desc_size` bytes of its descriptor. A plugin
 * built against a newer minor than the core's must test NS_HOST_HAS(host, member)
 * before calling a host member appended after 1.0 (e.g. rec_key, 1.1).
 *
 * Threads. A plugin instance's callbacks are never called concurrently:
 *  - init, start, stop and destroy run on the loop thread;
 *  - source `run` runs on the source's own thread until it returns; a source's
 *    `stop` is the one exception to "never concurrently": it is called on the
 *    loop thread while `run` may still be running, to make it return;
 *  - decoder callbacks run on a worker thread; with `workers: N` the core creates N
 *    instances of each decoder (one per worker; ns_instance.worker tells which)
 *    and sends both directions of a flow to the same worker;
 *  - enricher and detector callbacks run on the event thread;
 *  - sink callbacks run on the loop thread, so sinks may use the libuv loop.
 *
 * Errors: callbacks return 0 (NS_OK) or a positive NS_* status on success and a
 * negative errno on failure. If init fails, destroy is not called for it; stop is
 * called once after a successful start; destroy is called once after init succeeded.
 */
#ifndef NETSCOPE_NS_PLUGIN_H
#define NETSCOPE_NS_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ns_option.h"
#include "ns_record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_ABI_MAJOR 1
/* 1.1: struct ns_host gained interned record keys (rec_key, rec_add_*_k). */
#define NS_ABI_MINOR 1

/* The symbol every plugin exports, as a string for dlsym(). */
#define NS_PLUGIN_SYMBOL "ns_plugin"

enum ns_kind {
    NS_KIND_SOURCE = 1,
    NS_KIND_DECODER,
    NS_KIND_ENRICHER,
    NS_KIND_DETECTOR,
    NS_KIND_SINK,
};

enum ns_status {
    NS_OK = 0,
    NS_AGAIN = 1,    /* backpressure: call again later with the same input */
    NS_DECLINED = 2, /* not mine: the core passes the input along          */
};

enum ns_log_level {
    NS_LOG_ERROR = 0,
    NS_LOG_WARN,
    NS_LOG_INFO,
    NS_LOG_DEBUG,
    NS_LOG_TRACE,
};
/* OR into the level for data-path messages: the core suppresses repeats of the
 * same format string beyond a few per interval and reports how many it dropped. */
#define NS_LOG_RATELIMIT 0x100

/* Descriptor flags. */
#define NS_PLUGIN_EMITS_RECORDS (1u << 0) /* source: emits records, not packets (e.g. redis) */
#define NS_PLUGIN_NEEDS_ROOT (1u << 1)    /* documented: needs CAP_NET_RAW/CAP_BPF       */
#define NS_PLUGIN_APP                                                                              \
    (1u << 2) /* decoder: application layer, hosted by a flow                                      \
               * decoder (see struct ns_app_flow)           */

/*
 * Application-layer decoders (DNS, TLS, HTTP, ...). A decoder with NS_PLUGIN_APP
 * reads no packets: it names a flow decoder in `from:` (decoder/flow), which runs
 * on the same worker, tracks the flow, reassembles TCP, and calls the app
 * decoder's app_* callbacks with each direction's payload in order. The app
 * decoder emits its own records (netscope.dns, ...) with host->emit and may add
 * fields to the flow's records in app_annotate. One app decoder owns a flow:
 * the first whose app_probe claims it.
 */
struct ns_app_flow {
    /* Set by the flow decoder; read-only for the app decoder. */
    struct ns_ip src_ip, dst_ip; /* initiator (source) and responder (destination) */
    uint16_t src_port, dst_port;
    uint8_t transport;        /* IANA protocol number: 6 = TCP, 17 = UDP */
    uint8_t ip_version;       /* 4 or 6 */
    uint16_t vlan;            /* outer VLAN id, 0 = none */
    uint64_t first_ts;        /* ns since the epoch */
    const char *community_id; /* "1:...", or NULL */
    void *flow_ref;           /* opaque to the app decoder */
    /* Owned by the app decoder that claimed the flow. */
    void *state;        /* per-flow state; free it in app_close */
    uint32_t app_flags; /* free for the app decoder */
    uint32_t reserved;
};

/* Directions for app callbacks. */
enum ns_app_dir { NS_APP_TO_SERVER = 0, NS_APP_TO_CLIENT = 1 };

/* One app decoder as its host flow decoder sees it (host->app_peers). */
struct ns_app_peer {
    const struct ns_plugin_desc *desc;
    void *ctx;
    struct ns_instance *ins;
};

struct ns_host;
struct ns_instance;
struct uv_loop_s;

/*
 * A plugin instance as the plugin sees it: one node of the pipeline graph (and,
 * for decoders, one per worker). The first fields are public and stable; the core
 * keeps its own state behind them.
 */
struct ns_instance {
    const struct ns_host *host; /* services; see below                        */
    const char *name;           /* node name from the YAML ("dns")            */
    const char *plugin;         /* "decoder/dns"                              */
    uint32_t worker;            /* decoder: worker index 0..workers-1; else 0 */
    uint32_t workers;           /* number of workers in this pipeline         */
};

/* A counter or gauge: a 64-bit cell written by one thread (the instance's own)
 * and read by the metrics exporter. Use the inline helpers below. */
typedef uint64_t ns_counter;

/*
 * Services the core provides. Reached as ins->host->fn(...), or through the
 * macros below. `size` is sizeof(struct ns_host) in the core that built it; a
 * plugin must check it before using a member appended after ABI 1.0.
 */
struct ns_host {
    uint32_t size;
    uint32_t abi_minor;

    /* Logging to stderr with a "[kind:name:node]" prefix. level is an
     * ns_log_level, optionally | NS_LOG_RATELIMIT. */
    void (*log)(struct ns_instance *ins, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void (*vlog)(struct ns_instance *ins, int level, const char *fmt, va_list ap);

    /* Register a counter (monotonic) or gauge. `name` is snake_case without the
     * netscope_ prefix; `labels` is NULL or Prometheus label text such as
     * `reason="truncated"`. Returns a cell valid until destroy, never NULL (on
     * allocation failure a shared scratch cell is returned and an error logged).
     * Call from init. */
    ns_counter *(*counter)(struct ns_instance *ins, const char *name, const char *labels,
                           const char *help);
    ns_counter *(*gauge)(struct ns_instance *ins, const char *name, const char *labels,
                         const char *help);

    /* Records. rec_new returns NULL when memory is exhausted (counted). The
     * record belongs to the caller until emitted or released. */
    struct ns_record *(*rec_new)(struct ns_instance *ins, enum ns_rec_type type, uint64_t ts_ns);
    void (*rec_release)(struct ns_record *rec);
    void (*rec_ref)(struct ns_record *rec); /* sinks that keep a record past process() */

    /* Append a field. `key` is copied. Return 0 or -ENOMEM (the record stays valid
     * and the field is missing; counted). Inside an array, key may be NULL. */
    int (*rec_add_bool)(struct ns_record *rec, const char *key, bool v);
    int (*rec_add_int)(struct ns_record *rec, const char *key, int64_t v);
    int (*rec_add_uint)(struct ns_record *rec, const char *key, uint64_t v);
    int (*rec_add_double)(struct ns_record *rec, const char *key, double v);
    int (*rec_add_str)(struct ns_record *rec, const char *key, const char *s, size_t len);
    int (*rec_add_cstr)(struct ns_record *rec, const char *key, const char *s);
    int (*rec_add_ip)(struct ns_record *rec, const char *key, const struct ns_ip *ip);
    int (*rec_add_mac)(struct ns_record *rec, const char *key, const uint8_t mac[6]);
    int (*rec_add_time)(struct ns_record *rec, const char *key, uint64_t ts_ns);
    int (*rec_begin_array)(struct ns_record *rec, const char *key);
    int (*rec_begin_object)(struct ns_record *rec, const char *key);
    int (*rec_end)(struct ns_record *rec);

    /* Read back. rec_get finds the first top-level field with this dotted key.
     * rec_field_count/rec_field_at walk every entry in order (including array
     * markers). Views are valid until the record changes or is released. */
    enum ns_rec_type (*rec_type)(const struct ns_record *rec);
    uint64_t (*rec_time)(const struct ns_record *rec);
    uint64_t (*rec_seq)(const struct ns_record *rec);
    bool (*rec_get)(const struct ns_record *rec, const char *key, struct ns_field_view *out);
    size_t (*rec_field_count)(const struct ns_record *rec);
    bool (*rec_field_at)(const struct ns_record *rec, size_t i, struct ns_field_view *out);
    /* Remove every top-level field with this key; returns how many. */
    size_t (*rec_remove)(struct ns_record *rec, const char *key);

    /* Serialise as one JSON object (no newline), appended to *buf (realloc'd as
     * needed; *cap its capacity, *len its used length). Returns 0 or -ENOMEM. */
    int (*rec_to_json)(const struct ns_record *rec, char **buf, size_t *cap, size_t *len);

    /* Pass a record downstream. The record is consumed whatever happens; returns
     * 0, or -ENOBUFS when the edge was full under the drop policy (counted).
     * Records travel in batches; a record source running its own thread (run)
     * has them handed on when a batch fills or spans 5 ms, and calls
     * emit(ins, NULL) to hand on a partial batch before it goes idle. */
    int (*emit)(struct ns_instance *ins, struct ns_record *rec);

    /* Sources that produce packets: the core copies the packet (caplen bytes)
     * into a batch for the worker chosen by the flow hash. Returns 0, or
     * -ENOBUFS when it was dropped under the drop policy (counted). May block
     * under the block policy until the workers catch up or the pipeline stops.
     * Batches are handed on when full or when they span more than 5 ms of
     * packet time; pkt == NULL hands on every partial batch now: a live
     * source calls it when its poll times out, so quiet links are not held. */
    int (*emit_packet)(struct ns_instance *ins, const struct ns_packet *pkt);

    /* True once the pipeline is stopping: a source's run() should return soon. */
    bool (*stopping)(struct ns_instance *ins);

    /* The libuv loop (uv_loop_t *). Only for callbacks that run on the loop
     * thread: sinks, and sources that use start() instead of run(). */
    struct uv_loop_s *(*loop)(struct ns_instance *ins);

    /* Loop-thread plugins (sinks, loop sources): ask the core to call
     * `cb(arg)` on the loop thread every `interval_ns`. Returns 0 or -errno.
     * Stopped automatically before stop() is called. */
    int (*timer)(struct ns_instance *ins, uint64_t interval_ns, void (*cb)(void *arg), void *arg);

    /* A sink that was not ready (connecting) or is now ready reports it; /ready
     * waits for every source and sink. */
    void (*set_ready)(struct ns_instance *ins, bool ready);

    /* The agent's host name (observer.hostname). */
    const char *(*hostname)(struct ns_instance *ins);

    /* Flow decoders: the app decoders that read from this node, on this worker,
     * in pipeline order. Returns how many (at most max were written). Call from
     * init or later; the list does not change while the pipeline runs. */
    size_t (*app_peers)(struct ns_instance *ins, struct ns_app_peer *out, size_t max);

    /* Call cb(arg, tag) once, when the record's last reference is released
     * (it has passed every sink, or was filtered or dropped). It runs on
     * whichever thread released it, so it must be thread-safe and quick (e.g.
     * queue the tag under a mutex and uv_async_send). One finaliser per record
     * (a second call replaces the first); copies made for fan-out
     * (enrichers/detectors) do not inherit it. A record source uses it to
     * acknowledge its input (source/redis: XACK). Check `size` first. */
    void (*rec_on_release)(struct ns_record *rec, void (*cb)(void *arg, uint64_t tag), void *arg,
                           uint64_t tag);

    /* Series whose label sets appear while running (one per TCP connection...),
     * unlike counter/gauge, whose labels are fixed at init. `family` is the
     * exact exposition name ([a-zA-Z_:][a-zA-Z0-9_:]*; no netscope_ prefix is
     * added; a counter's must end in _total), `type` an enum ns_series_type (fixed by
     * the first call for a family, as is `help`), `labels` Prometheus label text
     * (`src_ip="10.0.0.1",src_port="443"`; values escaped on output).
     * series_set creates or overwrites the value (counters: the absolute count).
     * Each family holds at most `netscope: metrics_max_series` series: past it
     * series_set returns -ENOSPC and counts the refusal in
     * netscope_metrics_series_dropped_total{family}. series_remove retires a
     * series: it is still exported, with its last value, for `netscope:
     * metrics_series_grace` (so a scrape sees the final count of a closed
     * connection), then deleted; a series_set meanwhile revives it. A node's
     * series are retired when it is destroyed. Both return 0 or -errno (-EINVAL:
     * bad name, labels or a type that differs from the family's; -ENOENT: no
     * such series). Any thread; a mutex inside. Check `size` first. */
    int (*series_set)(struct ns_instance *ins, const char *family, int type, const char *help,
                      const char *labels, uint64_t value);
    int (*series_remove)(struct ns_instance *ins, const char *family, const char *labels);

    /* ---- ABI 1.1: interned record keys. Check NS_HOST_HAS(host, rec_key)
     * first (a 1.0 core's table ends before it). Adding a field by handle
     * skips the per-call strlen, key copy and escaping check.
     * rec_key returns the handle of a key name: the same handle for the same
     * name, valid in every record for the life of the process; 0 when the
     * name is NULL, empty or longer than 1024 bytes, or the table is full
     * (65536 names) or memory is exhausted (then use the name-keyed adders).
     * Any thread (a mutex inside); call it at init, not per record.
     * The _k adders are rec_add_* with a handle instead of a name: the same
     * results, JSON and read-back (rec_get, rec_field_at give the name), and
     * the same errors, plus -EINVAL for 0 or an unknown handle outside an
     * array (inside an array the key is ignored, as with names). */
    uint32_t (*rec_key)(const char *name);
    int (*rec_add_bool_k)(struct ns_record *rec, uint32_t key, bool v);
    int (*rec_add_int_k)(struct ns_record *rec, uint32_t key, int64_t v);
    int (*rec_add_uint_k)(struct ns_record *rec, uint32_t key, uint64_t v);
    int (*rec_add_double_k)(struct ns_record *rec, uint32_t key, double v);
    int (*rec_add_str_k)(struct ns_record *rec, uint32_t key, const char *s, size_t len);
    int (*rec_add_ip_k)(struct ns_record *rec, uint32_t key, const struct ns_ip *ip);
    int (*rec_add_mac_k)(struct ns_record *rec, uint32_t key, const uint8_t mac[6]);
    int (*rec_add_time_k)(struct ns_record *rec, uint32_t key, uint64_t ts_ns);
    int (*rec_begin_array_k)(struct ns_record *rec, uint32_t key);
    int (*rec_begin_object_k)(struct ns_record *rec, uint32_t key);
};

/* True when the host table has `member` (appended in a later minor than the
 * core may have): NS_HOST_HAS(ins->host, rec_key). */
#define NS_HOST_HAS(h, member) ((h)->size >= offsetof(struct ns_host, member) + sizeof((h)->member))

/* host->series_set types. */
enum ns_series_type { NS_SERIES_COUNTER = 0, NS_SERIES_GAUGE = 1 };

/*
 * The descriptor. Build it with NS_PLUGIN_DEFINE(); unset callbacks are NULL.
 *
 * Which callbacks each kind needs (the loader refuses a descriptor without them):
 *   source:   run (a thread that captures until stopping()) or start (arm loop handles)
 *   decoder:  process_packets, or (with NS_PLUGIN_APP) app_probe and app_data
 *   enricher: process
 *   detector: process
 *   sink:     process
 */
struct ns_plugin_desc {
    uint32_t abi_major, abi_minor;
    uint32_t desc_size; /* sizeof(struct ns_plugin_desc) when the plugin was built */
    enum ns_kind kind;
    const char *name;                /* "dns": the same as the folder and file name         */
    const char *version;             /* the plugin's own version, "1.2.0"                   */
    const char *summary;             /* one line for `netscope plugins`                      */
    const struct ns_option *options; /* NS_OPT_END-terminated, or NULL             */
    size_t config_size;              /* bytes the core allocates for the options */
    uint32_t flags;                  /* NS_PLUGIN_*                              */

    /* Lifecycle (loop thread). `config` is the filled option block, valid until
     * destroy returns. Store your context in *ctx. */
    int (*init)(struct ns_instance *ins, const void *config, void **ctx);
    int (*start)(void *ctx);
    int (*stop)(void *ctx); /* sources: make run() return soon (e.g. pcap_breakloop) */
    void (*destroy)(void *ctx);

    /* Source thread: capture until done or host->stopping(). 0 = finished (end
     * of file), negative errno = failed (logged and counted; the pipeline goes on). */
    int (*run)(void *ctx);

    /* Decoder (worker thread): a batch of packets in arrival order. */
    int (*process_packets)(void *ctx, const struct ns_packet *pkts, uint32_t n);

    /* Enricher, detector, sink: a batch of records. Enrichers and detectors may
     * add fields; to filter a record out, release it and set recs[i] = NULL.
     * Records not filtered pass downstream. Sinks must not release them; they
     * take a reference (rec_ref) if they keep one. */
    int (*process)(void *ctx, struct ns_record **recs, uint32_t n);

    /* Time passes: packet time offline, wall time live. Decoders expire flows
     * here; detectors close windows. Same thread as process. */
    void (*tick)(void *ctx, uint64_t now_ns);

    /* Shutdown drain: emit everything still held (open flows, buffered output).
     * Same thread as process; called once, after the last process. */
    int (*flush)(void *ctx);

    /* SIGHUP (loop thread for sinks/sources, else the stage's thread at the next
     * batch): reopen output files after logrotate moved them. Optional. */
    int (*reopen)(void *ctx);

    /* App decoders (NS_PLUGIN_APP), called by the host flow decoder on its worker
     * thread. `data` is valid during the call only.
     * app_probe: the first payload of a not yet claimed flow, in either direction.
     *   Return NS_OK (0) to claim the flow, NS_DECLINED to pass; a claimed flow
     *   then gets every later payload through app_data.
     * app_data: payload in stream order. `gap` > 0 says that many bytes were lost
     *   before this data (the decoder resynchronises or gives up). Return
     *   NS_DECLINED to receive nothing more for this flow.
     * app_annotate: the flow decoder is about to emit a record for this flow
     *   (flow_update or flow_end): add network.protocol and key fields.
     * app_close: the flow ended (or the pipeline stops): emit what is pending
     *   (an unanswered query) and free f->state. Called once per claimed flow. */
    int (*app_probe)(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *data,
                     size_t len, uint64_t ts_ns);
    int (*app_data)(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *data,
                    size_t len, uint64_t ts_ns, uint64_t gap);
    void (*app_annotate)(void *ctx, struct ns_app_flow *f, struct ns_record *flow_rec);
    void (*app_close)(void *ctx, struct ns_app_flow *f, uint64_t ts_ns);

    void *reserved[8]; /* room for callbacks appended in later minors */
};

#if defined(__GNUC__)
#define NS_EXPORT __attribute__((visibility("default")))
#else
#define NS_EXPORT
#endif

/* Define the plugin's one exported symbol. */
#define NS_PLUGIN_DEFINE(...)                                                                      \
    NS_EXPORT extern const struct ns_plugin_desc ns_plugin;                                        \
    NS_EXPORT const struct ns_plugin_desc ns_plugin = {.abi_major = NS_ABI_MAJOR,                  \
                                                       .abi_minor = NS_ABI_MINOR,                  \
                                                       .desc_size = sizeof(struct ns_plugin_desc), \
                                                       __VA_ARGS__}

/* Convenience wrappers. */
#define ns_log(ins, lvl, ...) ((ins)->host->log((ins), (lvl), __VA_ARGS__))
#define ns_log_error(ins, ...) ns_log(ins, NS_LOG_ERROR, __VA_ARGS__)
#define ns_log_warn(ins, ...) ns_log(ins, NS_LOG_WARN, __VA_ARGS__)
#define ns_log_info(ins, ...) ns_log(ins, NS_LOG_INFO, __VA_ARGS__)
#define ns_log_debug(ins, ...) ns_log(ins, NS_LOG_DEBUG, __VA_ARGS__)

/* A counter is written by its owning thread only, so a relaxed load and store
 * suffice (no locked instruction on the data path); readers use a relaxed load. */
static inline void ns_counter_add(ns_counter *c, uint64_t n)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
static inline void ns_counter_inc(ns_counter *c)
{
    ns_counter_add(c, 1);
}
static inline void ns_gauge_set(ns_counter *g, uint64_t v)
{
    __atomic_store_n(g, v, __ATOMIC_RELAXED);
}
static inline uint64_t ns_counter_get(const ns_counter *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#ifdef __cplusplus
}
#endif
#endif
