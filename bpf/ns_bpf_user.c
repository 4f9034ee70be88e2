/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_bpf_user.c - see ns_bpf_user.h. libbpf has one process-wide print hook,
 * so capture is bracketed around each open/load/attach on the loop thread and
 * the previous hook is restored afterwards.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int nsb_capture_end(struct ns_instance *ins, const char *what, int err)
{
    libbpf_set_print(nsb_prev);
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
    if (*log)
        nsb_log_lines(ins, log);
out:
    free(nsb_buf);
    nsb_buf = NULL;
    nsb_len = nsb_cap = 0;
    return err;
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
