/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_fake_host.h - a fake core for plugin unit tests (collectd's plugin_mock).
 *
 * Gives a plugin what the daemon would: a `struct ns_host` whose record
 * functions are the real ones (ns_rec_*, ns_rec_to_json) and whose services are
 * fakes a test can inspect and drive:
 *
 *   log          stderr, "[plugin:name] LEVEL message"; counted per level
 *   counter/gauge a small table; read with ns_fake_counter_value(name, labels)
 *   emit         appended to a list: ns_fake_emitted(&n); the fake owns them
 *   emit_packet  deep copies: ns_fake_packets(&n)
 *   stopping     returns the flag set with ns_fake_set_stopping()
 *   loop         a libuv loop the fake owns, created on first use
 *   timer        recorded, never armed: ns_fake_fire_timers() calls them
 *   set_ready    remembered: ns_fake_ready()
 *   hostname     "testhost"
 *
 * Typical test:
 *
 *     #include "ns_fake_host.h"
 *     extern const struct ns_plugin_desc ns_plugin;   // plugin compiled in
 *
 *     Test(dns, answers, .fini = ns_fake_reset) {
 *         struct ns_instance *ins = ns_fake_instance("decoder/dns", "dns");
 *         struct dns_config cfg = {.max_queries = 16};
 *         void *ctx;
 *         cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
 *         ... ns_plugin.process_packets(ctx, pkts, n) ...
 *         size_t n;
 *         struct ns_record **recs = ns_fake_emitted(&n);
 *         cr_assert_eq(ns_fake_counter_value("malformed_total", NULL), 0);
 *         ns_plugin.destroy(ctx);
 *     }
 *
 * Everything is process-global (Criterion runs each test in its own process);
 * ns_fake_reset() frees it all and is safe to call any time. emit and
 * emit_packet are thread-safe (a source's run thread may call them); the rest
 * is meant for the test's own thread.
 */
#ifndef NS_FAKE_HOST_H
#define NS_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netscope/ns_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fake host table (same object every call). */
const struct ns_host *ns_fake_host(void);

/* A new instance bound to the fake host. plugin is "kind/name" ("sink/jsonl"),
 * name the node name; both copied. Freed by ns_fake_reset. Never NULL (aborts
 * on out-of-memory: it is a test). */
struct ns_instance *ns_fake_instance(const char *plugin, const char *name);

/* Free instances, counters, emitted records and packets, timers, the loop
 * (closing its handles and running it until they are closed); clear flags and
 * the log counts. Use as a Criterion .fini. */
void ns_fake_reset(void);

/* Value of the counter or gauge registered under name + labels (labels NULL
 * matches a counter registered with NULL or ""). Returns UINT64_MAX when none
 * was registered, so a test can tell "0" from "missing". Registering the same
 * name + labels twice returns the same cell. */
uint64_t ns_fake_counter_value(const char *name, const char *labels);
/* How many distinct counters and gauges are registered. */
size_t ns_fake_counter_count(void);

/* Records passed to emit, in order; *n gets the count. The fake keeps the
 * references (released by ns_fake_reset). The array is valid until the next
 * emit, ns_fake_clear_emitted or ns_fake_reset. */
struct ns_record **ns_fake_emitted(size_t *n);
/* Forget the emitted records (released) without a full reset. */
void ns_fake_clear_emitted(void);
/* What emit returns from now on (0 by default; e.g. -ENOBUFS to test the
 * drop path: the record is then released, as the core would). */
void ns_fake_set_emit_result(int rc);

/* Packets passed to emit_packet (struct and data copied; data owned by the
 * fake). */
const struct ns_packet *ns_fake_packets(size_t *n);

/* The value host->stopping() returns. */
void ns_fake_set_stopping(bool stopping);
/* What host->app_peers returns (a flow decoder's app decoders); reset clears it
 * only when the test calls this with n = 0. */
void ns_fake_set_app_peers(const struct ns_app_peer *peers, size_t n);

/* Timers registered with host->timer. ns_fake_fire_timers calls every
 * callback once and returns how many it called. */
size_t ns_fake_timer_count(void);
size_t ns_fake_fire_timers(void);
/* Interval of timer i (registration order), or 0. */
uint64_t ns_fake_timer_interval(size_t i);

/* Last value passed to set_ready (false before any call). */
bool ns_fake_ready(void);

/* Messages logged at `level` (NS_LOG_ERROR..NS_LOG_TRACE) since the reset,
 * rate-limited ones included (the fake never suppresses). */
size_t ns_fake_log_count(int level);
/* Suppress the stderr echo (the counts still run). */
void ns_fake_set_quiet(bool quiet);

/* The record as its JSON line (no newline), NUL-terminated and malloc'd
 * (free it). Aborts with a message if the serialiser fails or its output is
 * not valid JSON, so a test can compare the string directly:
 *     char *j = ns_fake_rec_json(recs[0]);
 *     cr_assert(strstr(j, "\"dns\":{\"id\":4660"), "%s", j);
 *     free(j); */
char *ns_fake_rec_json(const struct ns_record *rec);

/* Strict JSON check of s[0..len) (RFC 8259: one value, no trailing bytes,
 * strings valid UTF-8 without raw control characters, at most 1000 levels) that
 * also rejects duplicate keys in an object (compared as written, escapes
 * included). Returns NULL when valid, else a static message with the offset. */
const char *ns_fake_json_check(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
