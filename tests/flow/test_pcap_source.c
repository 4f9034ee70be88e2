/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pcap_source.c - source/pcap through its callbacks on the fake host:
 * option checks, offline pcap and pcapng (link types, interface ids,
 * nanosecond timestamps), BPF filter, a truncated file, stopping(), and the
 * two offline readers (mapped classic pcap vs libpcap) giving the same
 * packets, counters and errors over the fixtures and over files written here
 * (big-endian, nanosecond, truncated, oversized records, old versions).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include <sys/stat.h>

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

/* ---- mapped reader vs libpcap ---------------------------------------------- */

/* What one run of the source produced, reduced to comparable values. */
struct rd_pkt {
    uint64_t ts_ns, digest;
    uint32_t caplen, wirelen, flags;
    uint16_t linktype, ifindex;
};

struct rd_run {
    int rc;
    size_t n;
    struct rd_pkt *p;
    uint64_t c_pkts, c_bytes, c_err;
    size_t n_errlog;
    size_t n_stable;
};

static uint64_t rd_fnv(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 1099511628211ull;
    return h;
}

/* Run the source over `path` with one reader; leaves the fake host reset. */
static struct rd_run rd_read(const char *path, int reader, const char *filter)
{
    struct psrc_config c = cfg_file(path);
    c.reader = reader;
    c.filter = (char *)filter;
    struct rd_run r = {0};
    size_t n;
    r.rc = run_file(&c, &n);
    const struct ns_packet *p = ns_fake_packets(&r.n);
    r.p = calloc(r.n ? r.n : 1, sizeof(*r.p));
    for (size_t i = 0; i < r.n; i++) {
        r.p[i] = (struct rd_pkt){.ts_ns = p[i].ts_ns,
                                 .digest = rd_fnv(p[i].data, p[i].caplen),
                                 .caplen = p[i].caplen,
                                 .wirelen = p[i].wirelen,
                                 .flags = p[i].flags,
                                 .linktype = p[i].linktype,
                                 .ifindex = p[i].ifindex};
        r.n_stable += (p[i].flags & NS_PKT_F_STABLE) != 0;
    }
    r.c_pkts = ns_fake_counter_value("packets_total", NULL);
    r.c_bytes = ns_fake_counter_value("bytes_total", NULL);
    r.c_err = ns_fake_counter_value("read_errors_total", NULL);
    r.n_errlog = ns_fake_log_count(NS_LOG_ERROR);
    ns_fake_reset();
    return r;
}

/* Both readers over `path`; asserts they agree and returns the mapped run
 * (caller frees .p). */
static struct rd_run rd_compare(const char *path, const char *filter)
{
    struct rd_run a = rd_read(path, PSRC_READER_AUTO, filter);
    struct rd_run l = rd_read(path, PSRC_READER_LIBPCAP, filter);
    cr_assert_eq(a.rc, l.rc, "%s: rc %d vs %d", path, a.rc, l.rc);
    cr_assert_eq(a.n, l.n, "%s: %zu vs %zu packets", path, a.n, l.n);
    cr_assert_eq(l.n_stable, 0, "%s: the libpcap reader copies", path);
    for (size_t i = 0; i < a.n; i++) {
        const struct rd_pkt *x = &a.p[i], *y = &l.p[i];
        cr_assert_eq(x->ts_ns, y->ts_ns, "%s: packet %zu ts %llu vs %llu", path, i,
                     (unsigned long long)x->ts_ns, (unsigned long long)y->ts_ns);
        cr_assert_eq(x->caplen, y->caplen, "%s: packet %zu caplen", path, i);
        cr_assert_eq(x->wirelen, y->wirelen, "%s: packet %zu wirelen", path, i);
        cr_assert_eq(x->linktype, y->linktype, "%s: packet %zu linktype", path, i);
        cr_assert_eq(x->ifindex, y->ifindex, "%s: packet %zu ifindex", path, i);
        cr_assert_eq(x->digest, y->digest, "%s: packet %zu bytes differ", path, i);
        cr_assert(x->flags & y->flags & NS_PKT_F_OFFLINE, "%s: packet %zu offline", path, i);
    }
    cr_assert_eq(a.c_pkts, l.c_pkts, "%s: packets_total", path);
    cr_assert_eq(a.c_bytes, l.c_bytes, "%s: bytes_total", path);
    cr_assert_eq(a.c_err, l.c_err, "%s: read_errors_total", path);
    cr_assert_eq(a.n_errlog, l.n_errlog, "%s: error lines", path);
    free(l.p);
    return a;
}

static bool rd_has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

Test(pcap_source, readers_agree_on_every_fixture, .fini = ns_fake_reset, .timeout = 60)
{
    DIR *d = opendir(FIX);
    cr_assert_not_null(d);
    struct dirent *e;
    size_t files = 0, mapped = 0;
    while ((e = readdir(d)) != NULL) {
        bool classic = rd_has_suffix(e->d_name, ".pcap");
        if (!classic && !rd_has_suffix(e->d_name, ".pcapng"))
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s%s", FIX, e->d_name);
        struct rd_run a = rd_compare(path, NULL);
        cr_assert_eq(a.rc, 0, "%s", path);
        cr_assert_gt(a.n, 0, "%s", path);
        /* Every classic fixture is little-endian 2.4: all mapped. pcapng never. */
        cr_assert_eq(a.n_stable, classic ? a.n : 0, "%s", path);
        files++;
        mapped += classic;
        free(a.p);
    }
    closedir(d);
    cr_assert_geq(files, 20);
    cr_assert_geq(mapped, 18);
}

Test(pcap_source, readers_agree_with_a_filter, .fini = ns_fake_reset)
{
    struct rd_run a = rd_compare(FIX "http-get.pcap", "src host 141.142.228.5");
    cr_assert_eq(a.n, 7);
    cr_assert_eq(a.n_stable, 7);
    free(a.p);
    a = rd_compare(FIX "sll2-tcp.pcap", "tcp[tcpflags] & tcp-syn != 0");
    cr_assert_gt(a.n, 0);
    free(a.p);
}

Test(pcap_source, reader_libpcap_copies, .fini = ns_fake_reset)
{
    struct rd_run l = rd_read(FIX "http-get.pcap", PSRC_READER_LIBPCAP, NULL);
    cr_assert_eq(l.n, 14);
    cr_assert_eq(l.n_stable, 0);
    free(l.p);
}

/* -- a small classic-pcap writer, any byte order, version and magic -- */

struct wr_file {
    uint8_t *b;
    size_t n, cap;
    bool swap;
};

static void wr_bytes(struct wr_file *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2;
        w->b = realloc(w->b, w->cap);
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void wr_u32(struct wr_file *w, uint32_t v)
{
    if (w->swap)
        v = __builtin_bswap32(v);
    wr_bytes(w, &v, 4);
}

static void wr_u16(struct wr_file *w, uint16_t v)
{
    if (w->swap)
        v = __builtin_bswap16(v);
    wr_bytes(w, &v, 2);
}

static void wr_header(struct wr_file *w, bool nano, uint16_t major, uint16_t minor,
                      uint32_t snaplen, uint32_t linktype)
{
    wr_u32(w, nano ? 0xa1b23c4d : 0xa1b2c3d4);
    wr_u16(w, major);
    wr_u16(w, minor);
    wr_u32(w, 0);
    wr_u32(w, 0);
    wr_u32(w, snaplen);
    wr_u32(w, linktype);
}

static void wr_record(struct wr_file *w, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len,
                      const uint8_t *data, size_t ndata)
{
    wr_u32(w, sec);
    wr_u32(w, frac);
    wr_u32(w, caplen);
    wr_u32(w, len);
    wr_bytes(w, data, ndata);
}

/* The packets of http-get.pcap re-written with the given byte order and
 * precision (nanosecond files get a sub-microsecond part). */
static void wr_http_get(struct wr_file *w, bool nano)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(FIX "http-get.pcap", err);
    cr_assert_not_null(p, "%s", err);
    wr_header(w, nano, 2, 4, 65535, 1);
    struct pcap_pkthdr *h;
    const uint8_t *d;
    uint32_t i = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint32_t frac = (uint32_t)h->ts.tv_usec * (nano ? 1000u : 1u) + (nano ? 7 * i++ : 0);
        wr_record(w, (uint32_t)h->ts.tv_sec, frac, h->caplen, h->len, d, h->caplen);
    }
    pcap_close(p);
}

static char *wr_save(const struct wr_file *w, size_t n)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/ns-pcapsrc-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, w->b, n), (ssize_t)n);
    close(fd);
    return path;
}

Test(pcap_source, big_endian_and_nanosecond_files, .fini = ns_fake_reset)
{
    for (int v = 0; v < 4; v++) {
        bool swap = v & 1, nano = v & 2;
        struct wr_file w = {.swap = swap};
        wr_http_get(&w, nano);
        char *path = wr_save(&w, w.n);
        struct rd_run a = rd_compare(path, NULL);
        unlink(path);
        cr_assert_eq(a.rc, 0);
        cr_assert_eq(a.n, 14, "variant %d", v);
        cr_assert_eq(a.n_stable, 14, "variant %d: mapped", v);
        cr_assert_eq(a.p[0].ts_ns, 1362692526869344000ull, "variant %d", v);
        if (nano)
            cr_assert_eq(a.p[1].ts_ns % 1000, 7, "variant %d: nanoseconds kept", v);
        cr_assert_eq(a.c_bytes, 6087);
        free(a.p);
        free(w.b);
    }
}

/* Cut a file at every interesting place: inside the file header's last
 * record header, inside packet data, on a record boundary. */
Test(pcap_source, truncation_reported_like_libpcap, .fini = ns_fake_reset, .timeout = 60)
{
    struct wr_file w = {.swap = true};
    wr_http_get(&w, false);
    size_t cuts[] = {24, 24 + 5, 24 + 16, 24 + 16 + 10, w.n - 700, w.n - 1, w.n - 16, w.n};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char *path = wr_save(&w, cuts[i]);
        struct rd_run a = rd_compare(path, NULL);
        unlink(path);
        bool boundary = cuts[i] == 24 || cuts[i] == w.n;
        cr_assert_eq(a.rc, boundary ? 0 : -EIO, "cut at %zu", cuts[i]);
        cr_assert_eq(a.c_err, boundary ? 0 : 1, "cut at %zu", cuts[i]);
        free(a.p);
    }
    free(w.b);
}

/* caplen above the file's snaplen (cut to it, as libpcap does), above the
 * sanity maximum (a read error), odd timestamps (sign bits set). */
Test(pcap_source, odd_records_reported_like_libpcap, .fini = ns_fake_reset)
{
    static uint8_t data[300000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    for (int swap = 0; swap < 2; swap++) {
        struct wr_file w = {.swap = swap};
        wr_header(&w, false, 2, 4, 100, 1);
        wr_record(&w, 1700000000, 5, 60, 60, data, 60);
        wr_record(&w, 1700000001, 6, 200, 1500, data, 200);            /* > snaplen */
        wr_record(&w, 0x80000001u, 0xfffffff0u, 64, 64, data + 3, 64); /* sign bits */
        wr_record(&w, 1700000002, 999999, 0, 0, data, 0);              /* empty */
        wr_record(&w, 1700000003, 7, 262145, 262145, data, 262145);    /* absurd */
        wr_record(&w, 1700000004, 8, 60, 60, data, 60);
        char *path = wr_save(&w, w.n);
        struct rd_run a = rd_compare(path, NULL);
        unlink(path);
        cr_assert_eq(a.rc, -EIO);
        cr_assert_eq(a.n, 4);
        cr_assert_eq(a.n_stable, 4);
        cr_assert_eq(a.p[1].caplen, 100);
        cr_assert_eq(a.p[1].wirelen, 1500);
        cr_assert_eq(a.c_err, 1);
        free(a.p);
        free(w.b);
    }
}

/* Layouts the mapped reader leaves to libpcap: old versions (caplen and len
 * swapped), byte-swapped Linux cooked captures (libpcap rewrites CAN headers),
 * pcapng. They read the same, through libpcap. */
Test(pcap_source, libpcap_layouts_fall_back, .fini = ns_fake_reset)
{
    static const uint8_t data[64] = {1, 2, 3};
    struct {
        bool swap;
        uint16_t minor;
        uint32_t linktype;
    } v[] = {{false, 3, 1}, {false, 2, 1}, {true, 4, 113}, {true, 4, 276}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct wr_file w = {.swap = v[i].swap};
        wr_header(&w, false, 2, v[i].minor, 65535, v[i].linktype);
        /* Before 2.3 len comes first; 2.3 swaps them when caplen > len. */
        wr_record(&w, 1700000000, 1, 64, 40, data, v[i].minor < 4 ? 40 : 64);
        wr_record(&w, 1700000000, 2, 40, 64, data, v[i].minor < 3 ? 64 : 40);
        char *path = wr_save(&w, w.n);
        struct rd_run a = rd_compare(path, NULL);
        unlink(path);
        cr_assert_eq(a.rc, 0, "variant %zu", i);
        cr_assert_eq(a.n, 2, "variant %zu", i);
        cr_assert_eq(a.n_stable, 0, "variant %zu: libpcap", i);
        free(a.p);
        free(w.b);
    }
}

Test(pcap_source, header_only_file, .fini = ns_fake_reset)
{
    struct wr_file w = {0};
    wr_header(&w, true, 2, 4, 65535, 101);
    char *path = wr_save(&w, w.n);
    struct rd_run a = rd_compare(path, NULL);
    unlink(path);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(a.n, 0);
    free(a.p);
    free(w.b);
}

/* A FIFO is read by libpcap alone (no mapping, no second handle that would
 * block or steal the stream's bytes). */
static void *fifo_writer(void *arg)
{
    FILE *in = fopen(FIX "pcapng-multi-interface.pcapng", "rb");
    FILE *out = fopen(arg, "wb");
    char buf[4096];
    size_t n;
    while (in != NULL && out != NULL && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, n, out);
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        fclose(out);
    return NULL;
}

Test(pcap_source, fifo_goes_through_libpcap, .fini = ns_fake_reset, .timeout = 20)
{
    char dir[] = "/tmp/ns-fifo-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/f", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    pthread_t th;
    pthread_create(&th, NULL, fifo_writer, path);
    struct rd_run a = rd_read(path, PSRC_READER_AUTO, NULL);
    pthread_join(th, NULL);
    unlink(path);
    rmdir(dir);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(a.n, 6);
    cr_assert_eq(a.n_stable, 0);
    free(a.p);
}
