/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_bpf_user.h - user-space glue shared by the eBPF sources (source/ebpf_tcp,
 * source/ebpf_flow); compiled into each plugin.
 *
 * Turns libbpf's failures into one clear error line naming the cause (missing
 * privileges, missing kernel BTF, verifier rejection, attach failure), with
 * libbpf's own output (the verifier log included) at debug level. All functions
 * run on the loop thread (plugin init/start/stop), never concurrently.
 */
#ifndef NS_BPF_USER_H
#define NS_BPF_USER_H

#include <stdbool.h>
#include <stdint.h>

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

/* Offset to add to bpf_ktime_get_ns() (CLOCK_MONOTONIC) for ns since the epoch. */
uint64_t nsb_mono_to_wall(void);

#endif
