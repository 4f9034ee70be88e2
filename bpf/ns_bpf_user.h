/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_bpf_user.h - user-space libbpf glue shared by the eBPF sources
 * (source/ebpf_tcp, source/ebpf_flow); compiled into each plugin.
 *
 * Everything the two plugins do with libbpf that is not specific to their
 * records: the pre-flight check, opening/loading/attaching a generated
 * skeleton, the ring-buffer reader, TC clsact attach/detach (with the removal
 * of what a crashed earlier run left), per-CPU counter sums and clocks. Each
 * failure is one error line naming the cause (missing privileges, missing
 * kernel BTF, verifier rejection, attach failure), with libbpf's own output
 * (the verifier log included) at debug level. All functions run on the loop
 * thread (plugin init/start/stop/destroy and timers), never concurrently.
 */
#ifndef NS_BPF_USER_H
#define NS_BPF_USER_H

#include <stdbool.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "netscope/ns_plugin.h"

/* Check what loading needs before trying: kernel BTF and the capabilities
 * (CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN; plus CAP_NET_ADMIN when net_admin).
 * Logs one error line and returns -ENOENT or -EPERM when something is missing,
 * else 0. */
int nsb_preflight(struct ns_instance *ins, bool net_admin);

/* Collect libbpf's messages from now until nsb_capture_end() instead of letting
 * libbpf print them to stderr. */
void nsb_capture_begin(void);

/* Stop collecting. When err < 0, log one error line "what: cause" (the cause
 * classified from err and the collected text) and the collected text at debug
 * level. Returns err. */
int nsb_capture_end(struct ns_instance *ins, const char *what, int err);

/* Open the generated skeleton <name> (bpftool gen skeleton ... name <name>)
 * into *skelp with libbpf's output captured. Evaluates to 0, or to -errno
 * after logging "opening the BPF object failed: <cause>" (*skelp is NULL).
 * The skeleton's knobs (rodata, map sizes, autoload) are set after this and
 * before nsb_load(). */
#define NSB_OPEN(ins, name, skelp)                                                                 \
    (nsb_capture_begin(), *(skelp) = name##__open(), nsb_open_end((ins), *(skelp) != NULL))

/* NSB_OPEN's second half: ends the capture; ok = the open returned non-NULL
 * (errno then holds the cause). Returns 0 or the negative errno. */
int nsb_open_end(struct ns_instance *ins, bool ok);

/* Load every program and map of an opened skeleton (obj->skeleton). On failure
 * logs "<what>: <cause>" (a verifier rejection names the verifier, the log goes
 * to debug level) and returns the negative errno; else 0. */
int nsb_load(struct ns_instance *ins, struct bpf_object_skeleton *s, const char *what);

/* Attach every auto-attachable program of a loaded skeleton (tracepoints: the
 * links are file descriptors of the skeleton, so they go away with
 * <name>__destroy or with the process, crash included: nothing to recover).
 * Same error contract as nsb_load. */
int nsb_attach(struct ns_instance *ins, struct bpf_object_skeleton *s, const char *what);

/* A ring-buffer reader on the BPF_MAP_TYPE_RINGBUF map `map`, calling cb(ctx,
 * data, size) per event from ring_buffer__consume/poll. Returns NULL, errno
 * set, after logging "creating the ring buffer reader failed: <cause>". */
struct ring_buffer *nsb_ringbuf_new(struct ns_instance *ins, const struct bpf_map *map,
                                    ring_buffer_sample_fn cb, void *ctx);

/* Sum of slot `slot` of a BPF_MAP_TYPE_PERCPU_ARRAY of u64 over `ncpu`
 * possible CPUs (libbpf_num_possible_cpus()); 0 when unreadable. */
uint64_t nsb_percpu_sum(const struct bpf_map *map, uint32_t slot, int ncpu);

/* ---- TC clsact ------------------------------------------------------------ */

/* One interface's TC attachment: filled by the caller (ifname, ifindex, handle,
 * prio: the handle and priority identify this program's filters across runs),
 * the rest is nsb_tc_*'s state. Zero-initialise. */
struct nsb_tc {
    const char *ifname;
    int ifindex;
    uint32_t handle, prio;
    bool created_qdisc; /* this run created clsact: remove it at detach */
    bool attached[2];   /* ingress, egress */
};

/* Create the clsact qdisc when missing, then attach prog_fd[0] at ingress and
 * prog_fd[1] at egress (a fd < 0 skips that direction). A filter with the same
 * handle and priority left by a crashed earlier run is removed first (logged
 * as a warning): TC filters are not owned by any file descriptor and outlive
 * the process. On failure logs one error line and returns the negative errno;
 * what was attached stays recorded in *t for nsb_tc_detach. */
int nsb_tc_attach(struct ns_instance *ins, struct nsb_tc *t, const int prog_fd[2]);

/* Remove the filters nsb_tc_attach added, and the clsact qdisc when it created
 * it. Idempotent; a filter already gone (interface deleted) is not an error. */
void nsb_tc_detach(struct ns_instance *ins, struct nsb_tc *t);

/* ---- clocks --------------------------------------------------------------- */

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
uint64_t nsb_mono_ns(void);

/* Offset to add to bpf_ktime_get_ns() (CLOCK_MONOTONIC) for ns since the epoch. */
uint64_t nsb_mono_to_wall(void);

#endif
