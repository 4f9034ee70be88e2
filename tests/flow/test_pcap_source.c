/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pcap_source.c - source/pcap through its callbacks on the fake host:
 * option checks, offline pcap and pcapng (link types, interface ids,
 * nanosecond timestamps), BPF filter, a truncated file, stopping().
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ns_fake_host.h"
#include "pcap.h"

extern const struct ns_plugin_desc ns_plugin;

#define FIX NS_TEST_SRC "/fixtures/pcaps/"

static struct psrc_config cfg_file(const char *path)
{
    return (struct psrc_config){
        .file = (char *)path, .snaplen = 262144, .promisc = true, .buffer_size = 32u << 20};
}

static int run_file(struct psrc_config *cfg, size_t *npkts)
{
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("source/pcap", "capture");
    void *ctx;
    int rc = ns_plugin.init(ins, cfg, &ctx);
    if (rc != 0)
        return rc;
    rc = ns_plugin.run(ctx);
    ns_plugin.stop(ctx);
    ns_plugin.destroy(ctx);
    ns_fake_packets(npkts);
    return rc;
}

Test(pcap_source, needs_exactly_one_of_file_and_interfaces, .fini = ns_fake_reset)
{
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("source/pcap", "capture");
    void *ctx;
    struct psrc_config c = cfg_file(NULL);
    cr_assert_eq(ns_plugin.init(ins, &c, &ctx), -EINVAL);
    char *ifs[] = {"lo"};
    c = cfg_file(FIX "http-get.pcap");
    c.interfaces = (struct ns_strlist){.items = ifs, .count = 1};
    cr_assert_eq(ns_plugin.init(ins, &c, &ctx), -EINVAL);
    c = cfg_file("/nonexistent/x.pcap");
    cr_assert_eq(ns_plugin.init(ins, &c, &ctx), -ENOENT);
    c = cfg_file(FIX "http-get.pcap");
    c.filter = "this is not bpf";
    cr_assert_eq(ns_plugin.init(ins, &c, &ctx), -EINVAL);
}

Test(pcap_source, reads_a_pcap, .fini = ns_fake_reset)
{
    struct psrc_config c = cfg_file(FIX "http-get.pcap");
    size_t n;
    cr_assert_eq(run_file(&c, &n), 0);
    cr_assert_eq(n, 14);
    const struct ns_packet *p = ns_fake_packets(&n);
    cr_assert_eq(p[0].ts_ns, 1362692526869344000ull);
    cr_assert_eq(p[0].linktype, 1);
    cr_assert_eq(p[0].ifindex, 0);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += p[i].wirelen;
    cr_assert_eq(bytes, 610 + 5477);
    cr_assert_eq(ns_fake_counter_value("packets_total", NULL), 14);
    cr_assert_eq(ns_fake_counter_value("bytes_total", NULL), 6087);
    cr_assert_eq(ns_fake_counter_value("read_errors_total", NULL), 0);
}

Test(pcap_source, pcapng_interface_ids, .fini = ns_fake_reset)
{
    struct psrc_config c = cfg_file(FIX "pcapng-multi-interface.pcapng");
    size_t n;
    cr_assert_eq(run_file(&c, &n), 0);
    cr_assert_eq(n, 6);
    const struct ns_packet *p = ns_fake_packets(&n);
    static const uint16_t want[] = {0, 0, 1, 1, 1, 1}; /* tshark frame.interface_id */
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(p[i].ifindex, want[i], "packet %zu", i);
}

Test(pcap_source, null_linktype_pcapng, .fini = ns_fake_reset)
{
    struct psrc_config c = cfg_file(FIX "grpc-bidi-streaming.pcapng");
    size_t n;
    cr_assert_eq(run_file(&c, &n), 0);
    cr_assert_eq(n, 56);
    cr_assert_eq(ns_fake_packets(&n)[0].linktype, 0);
}

Test(pcap_source, bpf_filter, .fini = ns_fake_reset)
{
    struct psrc_config c = cfg_file(FIX "http-get.pcap");
    c.filter = "src host 141.142.228.5";
    size_t n;
    cr_assert_eq(run_file(&c, &n), 0);
    cr_assert_eq(n, 7);
}

Test(pcap_source, truncated_file_is_a_counted_read_error, .fini = ns_fake_reset)
{
    char path[] = "/tmp/ns-trunc-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *in = fopen(FIX "http-get.pcap", "rb");
    static uint8_t data[8192];
    size_t len = fread(data, 1, sizeof(data), in);
    fclose(in);
    cr_assert_eq(write(fd, data, len - 700), (ssize_t)(len - 700)); /* cut inside a packet */
    close(fd);
    struct psrc_config c = cfg_file(path);
    size_t n;
    int rc = run_file(&c, &n);
    unlink(path);
    cr_assert_eq(rc, -EIO);
    cr_assert_gt(n, 0);
    cr_assert_lt(n, 14);
    cr_assert_eq(ns_fake_counter_value("read_errors_total", NULL), 1);
    cr_assert_geq(ns_fake_log_count(NS_LOG_ERROR), 1);
}

Test(pcap_source, stopping_ends_run, .fini = ns_fake_reset)
{
    ns_fake_set_stopping(true);
    struct psrc_config c = cfg_file(FIX "http-get.pcap");
    size_t n;
    cr_assert_eq(run_file(&c, &n), 0);
    cr_assert_eq(n, 0);
}

/* Live capture on the loopback interface (skipped without CAP_NET_RAW). */
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>

static void *live_run(void *ctx)
{
    return (void *)(intptr_t)ns_plugin.run(ctx);
}

Test(pcap_source, live_loopback, .fini = ns_fake_reset, .timeout = 30)
{
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("source/pcap", "capture");
    char *ifs[] = {"lo"};
    struct psrc_config c = cfg_file(NULL);
    c.interfaces = (struct ns_strlist){.items = ifs, .count = 1};
    c.filter = "udp port 39999";
    c.immediate = true;
    void *ctx;
    int rc = ns_plugin.init(ins, &c, &ctx);
    if (rc == -EPERM || rc == -ENODEV)
        cr_skip_test("no live capture here (%d)", rc);
    cr_assert_eq(rc, 0);
    pthread_t th;
    pthread_create(&th, NULL, live_run, ctx);
    usleep(300000);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(39999)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 5; i++)
        sendto(fd, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to));
    close(fd);
    size_t n = 0;
    for (int i = 0; i < 50 && n < 5; i++) {
        usleep(100000);
        ns_fake_packets(&n);
    }
    ns_plugin.stop(ctx);
    void *ret;
    pthread_join(th, &ret);
    ns_plugin.destroy(ctx);
    cr_assert_eq((intptr_t)ret, 0);
    const struct ns_packet *p = ns_fake_packets(&n);
    cr_assert_eq(n, 5);
    cr_assert_eq(p[0].linktype, 1);
    cr_assert_eq(p[0].ifindex, 0);
    cr_assert_gt(p[0].ts_ns, 1600000000ull * 1000000000ull);
}
