/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_bpf_user.c - see ns_bpf_user.h. Called by source/ebpf_tcp and
 * source/ebpf_flow on the loop thread. libbpf has one process-wide print hook,
 * so capture is bracketed around each open/load/attach and the previous hook
 * is restored afterwards.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ns_bpf_user.h"

#define NSB_CAP_SYS_ADMIN 21
#define NSB_CAP_NET_ADMIN 12
#define NSB_CAP_PERFMON 38
#define NSB_CAP_BPF 39
#define NSB_BTF_PATH "/sys/kernel/btf/vmlinux"
#define NSB_LOG_MAX (4u * 1024u * 1024u) /* verifier logs can be long */

static char *nsb_buf;
static size_t nsb_len, nsb_cap;
static libbpf_print_fn_t nsb_prev;

static int nsb_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2); /* a verifier log comes as one %s */
    va_end(ap2);
    if (n <= 0 || nsb_len + (size_t)n + 1 > NSB_LOG_MAX)
        return 0;
    size_t len = (size_t)n;
    if (nsb_len + len + 1 > nsb_cap) {
        size_t nc = nsb_cap ? nsb_cap * 2 : 4096;
        while (nc < nsb_len + len + 1)
            nc *= 2;
        char *nb = realloc(nsb_buf, nc);
        if (!nb)
            return 0;
        nsb_buf = nb;
        nsb_cap = nc;
    }
    vsnprintf(nsb_buf + nsb_len, len + 1, fmt, ap);
    nsb_len += len;
    return n;
}

static uint64_t nsb_cap_eff(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long v = 0;
    if (!f)
        return ~0ull; /* unknown: let the kernel decide */
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "CapEff: %llx", &v) == 1)
            break;
    fclose(f);
    return v;
}

int nsb_preflight(struct ns_instance *ins, bool net_admin)
{
    if (access(NSB_BTF_PATH, R_OK) != 0) {
        ns_log_error(ins,
                     "kernel BTF is missing (%s: %s): CO-RE programs need a kernel built with "
                     "CONFIG_DEBUG_INFO_BTF",
                     NSB_BTF_PATH, strerror(errno));
        return -ENOENT;
    }
    uint64_t caps = nsb_cap_eff();
    bool admin = caps & (1ull << NSB_CAP_SYS_ADMIN);
    bool bpf = admin || ((caps & (1ull << NSB_CAP_BPF)) && (caps & (1ull << NSB_CAP_PERFMON)));
    bool net = !net_admin || (caps & (1ull << NSB_CAP_NET_ADMIN));
    if (!bpf || !net) {
        ns_log_error(ins,
                     "missing privileges to load eBPF programs: run as root, or grant CAP_BPF "
                     "and CAP_PERFMON%s (effective capabilities: %016llx)",
                     net_admin ? " and CAP_NET_ADMIN" : "", (unsigned long long)caps);
        return -EPERM;
    }
    return 0;
}

/* libbpf's output at debug level, one log line per line (a log line is at
 * most 2 KiB). A verifier log can run to thousands of lines and names the
 * offending instruction at its end: keep the head and the tail. */
static void nsb_log_lines(struct ns_instance *ins, const char *log)
{
    enum { HEAD = 40, TAIL = 300 };
    size_t total = 0;
    for (const char *p = log; *p; p++)
        total += *p == '\n';
    ns_log_debug(ins, "libbpf output (%zu lines):", total);
    size_t i = 0;
    for (const char *p = log; *p; i++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (i < HEAD || i + TAIL >= total)
            ns_log_debug(ins, "  %.*s", (int)len, p);
        else if (i == HEAD)
            ns_log_debug(ins, "  ... %zu lines skipped ...", total - HEAD - TAIL);
        p += len + (nl ? 1 : 0);
    }
}

void nsb_capture_begin(void)
{
    nsb_len = 0;
    if (nsb_buf)
        nsb_buf[0] = '\0';
    nsb_prev = libbpf_set_print(nsb_print);
}

/* End a capture without an error line of its own: libbpf's text goes to debug
 * level when `failed` (the caller logs the error), else it is dropped (netlink
 * "Kernel error message" notes of expected misses, for example). */
static void nsb_capture_quiet_end(struct ns_instance *ins, bool failed)
{
    libbpf_set_print(nsb_prev);
    if (failed && nsb_buf && *nsb_buf)
        nsb_log_lines(ins, nsb_buf);
    free(nsb_buf);
    nsb_buf = NULL;
    nsb_len = nsb_cap = 0;
}

int nsb_capture_end(struct ns_instance *ins, const char *what, int err)
{
    const char *log = nsb_buf ? nsb_buf : "";
    if (err >= 0)
        goto out;
    const char *cause;
    bool verifier = strstr(log, "BEGIN PROG LOAD LOG") != NULL || strstr(log, "verifier") != NULL;
    if (verifier && err != -EPERM)
        cause = "the kernel's verifier rejected a program (verifier log at debug level)";
    else if (err == -EPERM || err == -EACCES)
        cause = "operation not permitted: needs root or CAP_BPF+CAP_PERFMON (and CAP_NET_ADMIN "
                "for TC); kernel lockdown can also forbid it";
    else if (err == -ENOENT || err == -ESRCH)
        cause = "not found in this kernel (tracepoint, interface or BTF type missing)";
    else if (err == -E2BIG || err == -ENOMEM)
        cause = "out of kernel memory for maps (lower max_connections/max_flows or ring_size)";
    else
        cause = strerror(-err);
    ns_log_error(ins, "%s: %s (%s)", what, cause, strerror(-err));
out:
    nsb_capture_quiet_end(ins, err < 0);
    return err;
}

int nsb_open_end(struct ns_instance *ins, bool ok)
{
    int err = ok ? 0 : (errno ? -errno : -EINVAL); /* errno first: capture_end may change it */
    return nsb_capture_end(ins, "opening the BPF object failed", err);
}

int nsb_load(struct ns_instance *ins, struct bpf_object_skeleton *s, const char *what)
{
    nsb_capture_begin();
    int err = bpf_object__load_skeleton(s);
    return nsb_capture_end(ins, what, err);
}

int nsb_attach(struct ns_instance *ins, struct bpf_object_skeleton *s, const char *what)
{
    nsb_capture_begin();
    int err = bpf_object__attach_skeleton(s);
    return nsb_capture_end(ins, what, err);
}

struct ring_buffer *nsb_ringbuf_new(struct ns_instance *ins, const struct bpf_map *map,
                                    ring_buffer_sample_fn cb, void *ctx)
{
    nsb_capture_begin();
    struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map), cb, ctx, NULL);
    int err = rb ? 0 : (errno ? -errno : -ENOMEM);
    nsb_capture_end(ins, "creating the ring buffer reader failed", err);
    if (!rb)
        errno = -err; /* for the caller's return code */
    return rb;
}

uint64_t nsb_percpu_sum(const struct bpf_map *map, uint32_t slot, int ncpu)
{
    uint64_t vals[512];
    if (ncpu <= 0 || ncpu > 512)
        return 0;
    if (bpf_map__lookup_elem(map, &slot, sizeof(slot), vals, sizeof(uint64_t) * (size_t)ncpu, 0))
        return 0;
    uint64_t s = 0;
    for (int i = 0; i < ncpu; i++)
        s += vals[i];
    return s;
}

/* ---- TC clsact -------------------------------------------------------------- */

void nsb_tc_detach(struct ns_instance *ins, struct nsb_tc *t)
{
    nsb_capture_begin();
    bool failed = false;
    for (int d = 0; d < 2; d++) {
        if (!t->attached[d])
            continue;
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t->ifindex,
                            .attach_point = d ? BPF_TC_EGRESS : BPF_TC_INGRESS);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = t->handle, .priority = t->prio);
        int rc = bpf_tc_detach(&hook, &o);
        if (rc && rc != -ENOENT && rc != -ENODEV) {
            ns_log_warn(ins, "%s: removing the %s filter failed: %s", t->ifname,
                        d ? "egress" : "ingress", strerror(-rc));
            failed = true;
        }
        t->attached[d] = false;
    }
    if (t->created_qdisc) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t->ifindex,
                            .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
        bpf_tc_hook_destroy(&hook);
        t->created_qdisc = false;
    }
    nsb_capture_quiet_end(ins, failed);
}

/* Attach to one hook, replacing what a crashed run left (same handle/prio).
 * Runs inside nsb_tc_attach's capture. */
static int nsb_tc_attach_one(struct ns_instance *ins, struct nsb_tc *t, int d, int prog_fd)
{
    const char *dir = d ? "egress" : "ingress";
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t->ifindex,
                        .attach_point = d ? BPF_TC_EGRESS : BPF_TC_INGRESS);
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = t->handle, .priority = t->prio);
    if (bpf_tc_query(&hook, &q) == 0) {
        ns_log_warn(ins, "%s: removing a stale %s filter (program id %u) left by an earlier run",
                    t->ifname, dir, q.prog_id);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = t->handle, .priority = t->prio);
        bpf_tc_detach(&hook, &o);
    }
    nsb_len = 0; /* only the attach's own messages explain its failure */
    if (nsb_buf)
        nsb_buf[0] = '\0';
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = t->handle, .priority = t->prio,
                        .prog_fd = prog_fd);
    int rc = bpf_tc_attach(&hook, &o);
    if (rc)
        return rc;
    t->attached[d] = true;
    return 0;
}

int nsb_tc_attach(struct ns_instance *ins, struct nsb_tc *t, const int prog_fd[2])
{
    /* One capture for the whole sequence: the netlink misses on the way (no
     * stale filter to find) are expected and stay out of the log. */
    nsb_capture_begin();
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t->ifindex,
                        .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
    int rc = bpf_tc_hook_create(&hook);
    if (rc && rc != -EEXIST) {
        ns_log_error(ins, "%s: creating the clsact qdisc failed: %s", t->ifname, strerror(-rc));
        nsb_capture_quiet_end(ins, true);
        return rc;
    }
    t->created_qdisc = rc == 0;
    for (int d = 0; d < 2; d++) {
        if (prog_fd[d] < 0)
            continue;
        rc = nsb_tc_attach_one(ins, t, d, prog_fd[d]);
        if (rc) {
            char what[300];
            snprintf(what, sizeof(what), "%s: attaching the TC %s program failed", t->ifname,
                     d ? "egress" : "ingress");
            return nsb_capture_end(ins, what, rc);
        }
    }
    nsb_capture_end(ins, "", 0);
    return 0;
}

/* ---- clocks ------------------------------------------------------------------ */

uint64_t nsb_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t nsb_mono_to_wall(void)
{
    struct timespec m, r;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    int64_t mono = (int64_t)m.tv_sec * 1000000000 + m.tv_nsec;
    int64_t real = (int64_t)r.tv_sec * 1000000000 + r.tv_nsec;
    return (uint64_t)(real - mono);
}
