/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_bpf_user.c - Criterion tests of bpf/ns_bpf_user.c, the libbpf glue of
 * source/ebpf_tcp and source/ebpf_flow: one error line naming the cause
 * (verifier, privileges, missing kernel object) with libbpf's output at debug
 * level and nothing logged on success; with root, a real verifier rejection
 * (bpf/ns_test_bad.bpf.c) and TC attach / crash recovery / detach on the
 * loopback of a private network namespace. Single-threaded; each Criterion
 * test runs in its own process, so unshare(CLONE_NEWNET) affects that test
 * only.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "ns_bpf_user.h"
#include "ns_fake_host.h"
#include "ns_flow.skel.h"
#include "ns_test_bad.skel.h"

/* Every log line, by level, so tests can look for the text. */
static char *lines[8];
static size_t nlines[8];
static struct ns_host host;
static struct ns_instance *ins;

static void cap_vlog(struct ns_instance *i, int level, const char *fmt, va_list ap)
{
    (void)i;
    int l = level & 7;
    char buf[4096];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t old = lines[l] ? strlen(lines[l]) : 0, n = strlen(buf);
    lines[l] = realloc(lines[l], old + n + 2);
    cr_assert_not_null(lines[l]);
    memcpy(lines[l] + old, buf, n);
    lines[l][old + n] = '\n';
    lines[l][old + n + 1] = '\0';
    nlines[l]++;
}

static void cap_log(struct ns_instance *i, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cap_vlog(i, level, fmt, ap);
    va_end(ap);
}

static void setup(void)
{
    host = *ns_fake_host();
    host.log = cap_log;
    host.vlog = cap_vlog;
    ins = ns_fake_instance("source/ebpf_test", "bpf");
    ins->host = &host;
}

static void teardown(void)
{
    for (int i = 0; i < 8; i++) {
        free(lines[i]);
        lines[i] = NULL;
        nlines[i] = 0;
    }
    ns_fake_reset();
}

static const char *logged(int level)
{
    return lines[level] ? lines[level] : "";
}

/* What libbpf would print, through the hook nsb_capture_begin installed. */
static void libbpf_says(const char *fmt, ...)
{
    libbpf_print_fn_t fn = libbpf_set_print(NULL);
    libbpf_set_print(fn);
    cr_assert_not_null(fn);
    va_list ap;
    va_start(ap, fmt);
    fn(LIBBPF_WARN, fmt, ap);
    va_end(ap);
}

TestSuite(bpf_user, .init = setup, .fini = teardown);

Test(bpf_user, verifier_log_at_debug)
{
    nsb_capture_begin();
    libbpf_says("libbpf: prog '%s': BPF program load failed: %s\n", "p", "Permission denied");
    libbpf_says("%s", "libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n0: R1=ctx() R10=fp0\n"
                      "; *v += 1;\nR0 invalid mem access 'map_value_or_null'\n"
                      "-- END PROG LOAD LOG --\n");
    cr_assert_eq(nsb_capture_end(ins, "loading the BPF programs failed", -EACCES), -EACCES);
    cr_assert_eq(nlines[NS_LOG_ERROR], 1, "%s", logged(NS_LOG_ERROR));
    cr_assert(strstr(logged(NS_LOG_ERROR),
                     "loading the BPF programs failed: the kernel's verifier rejected a program"),
              "%s", logged(NS_LOG_ERROR));
    cr_assert(strstr(logged(NS_LOG_DEBUG), "R0 invalid mem access 'map_value_or_null'"), "%s",
              logged(NS_LOG_DEBUG));
    cr_assert(strstr(logged(NS_LOG_DEBUG), "libbpf output (6 lines):"), "%s", logged(NS_LOG_DEBUG));
}

Test(bpf_user, causes_named)
{
    static const struct {
        int err;
        const char *cause;
    } cases[] = {
        {-EPERM, "operation not permitted: needs root or CAP_BPF+CAP_PERFMON"},
        {-ENOENT, "not found in this kernel"},
        {-E2BIG, "out of kernel memory for maps"},
        {-EBUSY, "Device or resource busy"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        teardown();
        setup();
        nsb_capture_begin();
        libbpf_says("libbpf: something failed\n");
        cr_assert_eq(nsb_capture_end(ins, "what", cases[i].err), cases[i].err);
        cr_assert_eq(nlines[NS_LOG_ERROR], 1);
        cr_assert(strstr(logged(NS_LOG_ERROR), cases[i].cause), "%s", logged(NS_LOG_ERROR));
        cr_assert(strstr(logged(NS_LOG_DEBUG), "something failed"), "%s", logged(NS_LOG_DEBUG));
    }
}

Test(bpf_user, success_is_silent)
{
    nsb_capture_begin();
    libbpf_says("libbpf: harmless notice\n");
    cr_assert_eq(nsb_capture_end(ins, "what", 0), 0);
    for (int l = 0; l < 8; l++)
        cr_assert_eq(nlines[l], 0, "level %d: %s", l, logged(l));
}

Test(bpf_user, percpu_sum_and_clocks)
{
    cr_assert_eq(nsb_percpu_sum(NULL, 0, 0), 0); /* no CPUs: nothing read */
    uint64_t a = nsb_mono_ns(), b = nsb_mono_ns();
    cr_assert(a > 0 && b >= a);
    cr_assert(nsb_mono_to_wall() > 1500000000ull * 1000000000ull); /* after 2017 */
}

static bool can_load(void)
{
    return geteuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

Test(bpf_user, real_verifier_rejection)
{
    if (!can_load())
        cr_skip_test("needs root and kernel BTF");
    struct ns_test_bad *skel = NULL;
    cr_assert_eq(NSB_OPEN(ins, ns_test_bad, &skel), 0, "%s", logged(NS_LOG_ERROR));
    int rc = nsb_load(ins, skel->skeleton, "loading the BPF programs failed");
    ns_test_bad__destroy(skel);
    cr_assert(rc < 0);
    cr_assert_eq(nlines[NS_LOG_ERROR], 1, "%s", logged(NS_LOG_ERROR));
    cr_assert(strstr(logged(NS_LOG_ERROR), "verifier rejected a program"), "%s",
              logged(NS_LOG_ERROR));
    cr_assert(strstr(logged(NS_LOG_DEBUG), "invalid mem access"), "%s", logged(NS_LOG_DEBUG));
}

/* ingress/egress filters with our handle on ifindex, as bpf_tc_query sees them */
static int tc_count(int ifindex, uint32_t handle, uint32_t prio)
{
    int n = 0;
    nsb_capture_begin(); /* libbpf's "Kernel error message" notes of misses: dropped */
    for (int d = 0; d < 2; d++) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                            .attach_point = d ? BPF_TC_EGRESS : BPF_TC_INGRESS);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = handle, .priority = prio);
        n += bpf_tc_query(&hook, &q) == 0;
    }
    nsb_capture_end(ins, "", 0);
    return n;
}

Test(bpf_user, tc_attach_stale_detach)
{
    if (!can_load())
        cr_skip_test("needs root and kernel BTF");
    if (unshare(CLONE_NEWNET) != 0)
        cr_skip_test("cannot make a network namespace: %s", strerror(errno));
    struct ns_flow *skel = NULL;
    cr_assert_eq(NSB_OPEN(ins, ns_flow, &skel), 0);
    cr_assert_eq(nsb_load(ins, skel->skeleton, "loading"), 0, "%s", logged(NS_LOG_ERROR));
    const int fds[2] = {bpf_program__fd(skel->progs.ns_flow_ingress),
                        bpf_program__fd(skel->progs.ns_flow_egress)};
    struct nsb_tc t = {.ifname = "lo", .ifindex = 1, .handle = 0x4e54, .prio = 0x4e54};
    int rc = nsb_tc_attach(ins, &t, fds);
    cr_assert_eq(rc, 0, "%s", logged(NS_LOG_ERROR));
    cr_assert(t.created_qdisc && t.attached[0] && t.attached[1]);
    cr_assert_eq(tc_count(1, 0x4e54, 0x4e54), 2);

    /* A crashed run: its filters stay; the next run replaces them, warning. */
    struct nsb_tc t2 = {.ifname = "lo", .ifindex = 1, .handle = 0x4e54, .prio = 0x4e54};
    cr_assert_eq(nsb_tc_attach(ins, &t2, fds), 0, "%s", logged(NS_LOG_ERROR));
    cr_assert_eq(nlines[NS_LOG_WARN], 2, "%s", logged(NS_LOG_WARN));
    cr_assert(strstr(logged(NS_LOG_WARN), "lo: removing a stale ingress filter"), "%s",
              logged(NS_LOG_WARN));
    cr_assert(!t2.created_qdisc); /* clsact was there already */
    cr_assert_eq(tc_count(1, 0x4e54, 0x4e54), 2);

    nsb_tc_detach(ins, &t2);
    cr_assert_eq(tc_count(1, 0x4e54, 0x4e54), 0);
    cr_assert(!t2.attached[0] && !t2.attached[1]);
    nsb_tc_detach(ins, &t2); /* idempotent */
    /* The first owner's detach: filters already gone is not an error; it
     * created clsact, so it removes it. */
    nsb_tc_detach(ins, &t);
    cr_assert_eq(nlines[NS_LOG_WARN], 2, "%s", logged(NS_LOG_WARN));
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
    nsb_capture_begin();
    rc = bpf_tc_hook_create(&hook); /* made again: it was gone */
    nsb_capture_end(ins, "", 0);
    cr_assert_eq(rc, 0, "clsact was removed");
    cr_assert_eq(nlines[NS_LOG_ERROR], 0, "%s", logged(NS_LOG_ERROR));
    ns_flow__destroy(skel);
}

Test(bpf_user, tc_attach_error_named)
{
    if (!can_load())
        cr_skip_test("needs root and kernel BTF");
    if (unshare(CLONE_NEWNET) != 0)
        cr_skip_test("cannot make a network namespace: %s", strerror(errno));
    const int fds[2] = {-1, -1};
    struct nsb_tc t = {.ifname = "nosuch", .ifindex = 4242, .handle = 1, .prio = 1};
    int rc = nsb_tc_attach(ins, &t, fds);
    cr_assert(rc < 0);
    cr_assert_eq(nlines[NS_LOG_ERROR], 1, "%s", logged(NS_LOG_ERROR));
    cr_assert(strstr(logged(NS_LOG_ERROR), "nosuch: creating the clsact qdisc failed"), "%s",
              logged(NS_LOG_ERROR));
    nsb_tc_detach(ins, &t);
}
