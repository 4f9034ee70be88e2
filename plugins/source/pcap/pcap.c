/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pcap.c - source/pcap: packets from a capture file or live interfaces (libpcap).
 *
 * init/stop/destroy run on the loop thread; run() runs on the source's own
 * thread and reads until end of file, a read error, or host->stopping(). Each
 * packet goes to host->emit_packet (which shards it to a worker by flow hash).
 * Offline files: classic pcap files that are regular files are mapped
 * read-only and walked in place (reader: auto); their packets are emitted with
 * NS_PKT_F_STABLE, so neither libpcap nor the core copies the bytes, and the
 * mapping lives until destroy(). pcapng, stdin and pipes go through libpcap;
 * for pcapng the interface of every packet is recovered by walking the file's
 * blocks alongside libpcap (libpcap does not report it), so ns_packet.ifindex
 * is the pcapng interface id. Live: one pcap handle per interface,
 * non-blocking, poll()ed with a short timeout so stopping() is honoured; kernel
 * drop statistics are polled every second into gauges.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <pcap/pcap.h>

#include "netscope/netscope.h"

#include "pcap.h"

/* Walks pcapng blocks in step with libpcap to learn each packet's interface. */
struct psrc_pcapng_walk {
    FILE *f;
    bool swap;
    bool ok;
};

/* A classic pcap file mapped read-only (reader: auto). The record walk checks
 * every length against `size`, so a damaged file cannot make it read past the
 * mapping. */
struct psrc_map {
    const uint8_t *base; /* the whole file; NULL when libpcap reads it */
    size_t size;
    size_t off;      /* next record header */
    bool swap;       /* file written in the other byte order */
    bool nano;       /* magic a1b23c4d: the fraction is in nanoseconds */
    uint32_t snap;   /* libpcap's snapshot length for the file (pcap_snapshot) */
    uint32_t maxcap; /* libpcap's sanity limit on caplen for the link type */
};

struct psrc_iface {
    pcap_t *p;
    const char *name;
    int fd;
    int linktype;
    bool nano;
    uint64_t drops, ifdrops;
};

struct psrc_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    const struct psrc_config *cfg;
    struct psrc_iface *srcs;
    size_t n;
    bool offline;
    struct bpf_program prog; /* offline: applied with pcap_offline_filter */
    bool have_prog;
    struct psrc_pcapng_walk ng;
    struct psrc_map map;
    int stop; /* set by stop() (loop thread), read by run() */
    uint16_t cur_if;
    ns_counter *c_pkts, *c_bytes, *c_read_err, *g_drop, *g_ifdrop;
};

/* ---- pcapng interface ids ------------------------------------------------- */

static uint32_t ng_u32(const struct psrc_pcapng_walk *w, const uint8_t *b)
{
    uint32_t v;
    memcpy(&v, b, 4);
    return w->swap ? __builtin_bswap32(v) : v;
}

static bool ng_skip(struct psrc_pcapng_walk *w, uint32_t n)
{
    return fseek(w->f, (long)n, SEEK_CUR) == 0;
}

/* Interface id of the next packet block (EPB, SPB, obsolete PB), 0 when the
 * walk has lost track (the caller then reports interface 0). */
static uint16_t ng_next_if(struct psrc_pcapng_walk *w)
{
    while (w->ok) {
        uint8_t hdr[8];
        if (fread(hdr, 1, 8, w->f) != 8)
            break;
        uint32_t type, len;
        memcpy(&type, hdr, 4);
        if (type == 0x0A0D0D0A) { /* section header: byte order follows */
            uint8_t bom[4];
            if (fread(bom, 1, 4, w->f) != 4)
                break;
            uint32_t m;
            memcpy(&m, bom, 4);
            if (m == 0x1A2B3C4D)
                w->swap = false;
            else if (m == 0x4D3C2B1A)
                w->swap = true;
            else
                break;
            len = ng_u32(w, hdr + 4);
            if (len < 28 || len % 4 != 0 || !ng_skip(w, len - 12))
                break;
            continue;
        }
        type = ng_u32(w, hdr);
        len = ng_u32(w, hdr + 4);
        if (len < 12 || len % 4 != 0)
            break;
        if (type == 6 || type == 2) { /* enhanced / obsolete packet block */
            uint8_t id[4];
            if (len < 12 + 4 || fread(id, 1, 4, w->f) != 4)
                break;
            uint32_t v = type == 6 ? ng_u32(w, id)
                                   : (w->swap ? (uint32_t)((id[0] << 8) | id[1])
                                              : (uint32_t)((id[1] << 8) | id[0]));
            if (!ng_skip(w, len - 12))
                break;
            return (uint16_t)v;
        }
        if (!ng_skip(w, len - 8))
            break;
        if (type == 3) /* simple packet block: always interface 0 */
            return 0;
    }
    w->ok = false;
    return 0;
}

/* ---- emitting ------------------------------------------------------------- */

static void psrc_emit(struct psrc_ctx *c, const struct psrc_iface *s, uint16_t ifindex,
                      const struct pcap_pkthdr *hdr, const uint8_t *data)
{
    struct ns_packet pkt = {
        .ts_ns = (uint64_t)hdr->ts.tv_sec * 1000000000ull +
                 (uint64_t)hdr->ts.tv_usec * (s->nano ? 1u : 1000u),
        .data = data,
        .caplen = hdr->caplen,
        .wirelen = hdr->len,
        .linktype = (uint16_t)s->linktype,
        .ifindex = ifindex,
        /* Packet time is the only clock for a file, however fast it is read. */
        .flags = c->offline ? NS_PKT_F_OFFLINE : 0,
    };
    ns_counter_inc(c->c_pkts);
    ns_counter_add(c->c_bytes, hdr->len);
    c->h->emit_packet(c->ins, &pkt);
}

static void psrc_live_cb(uint8_t *user, const struct pcap_pkthdr *hdr, const uint8_t *data)
{
    struct psrc_ctx *c = (struct psrc_ctx *)user;
    psrc_emit(c, &c->srcs[c->cur_if], c->cur_if, hdr, data);
}

static void psrc_poll_stats(struct psrc_ctx *c)
{
    uint64_t drop = 0, ifdrop = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct pcap_stat st;
        if (pcap_stats(c->srcs[i].p, &st) == 0) {
            c->srcs[i].drops = st.ps_drop;
            c->srcs[i].ifdrops = st.ps_ifdrop;
        }
        drop += c->srcs[i].drops;
        ifdrop += c->srcs[i].ifdrops;
    }
    ns_gauge_set(c->g_drop, drop);
    ns_gauge_set(c->g_ifdrop, ifdrop);
}

/* ---- classic pcap, mapped ------------------------------------------------- */

/* The mapped reader mirrors libpcap 1.10's sf-pcap.c record by record, so both
 * readers emit the same packets and fail at the same record with the same
 * reason (the tests compare them). */

/* libpcap's max_snaplen_for_dlt(): a caplen above it is a damaged file. */
static uint32_t map_max_caplen(int dlt)
{
    switch (dlt) {
    case DLT_DBUS:
        return 128u * 1024 * 1024;
    case DLT_EBHSCR:
        return 8u * 1024 * 1024;
    case DLT_USBPCAP:
        return 1024u * 1024;
    default:
        return 262144; /* MAXIMUM_SNAPLEN */
    }
}

/* Link types whose packet bytes libpcap rewrites while reading (pseudo-headers
 * in the writer's byte order, the USB mmapped length fix-up). A read-only
 * mapping cannot do that, so such files stay on libpcap. */
static bool map_needs_rewrite(int dlt, bool swap)
{
    if (dlt == DLT_USB_LINUX_MMAPPED)
        return true;
    if (!swap)
        return false;
    return dlt == DLT_PFLOG || dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2 ||
           dlt == DLT_USB_LINUX || dlt == DLT_NFLOG;
}

static uint32_t map_u32(const uint8_t *b, bool swap)
{
    uint32_t v;
    memcpy(&v, b, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* Map the file libpcap has just opened when it is a regular, classic pcap
 * (version 2.4, magic a1b2c3d4 or a1b23c4d in either byte order) that can be
 * read in place. Uses libpcap's own descriptor, so the file checked is the
 * file mapped. Returns false (and leaves libpcap in charge) otherwise; failing
 * to map is not an error. */
static bool psrc_map_open(struct psrc_ctx *c, struct psrc_iface *s)
{
    struct psrc_map *m = &c->map;
    const char *why = NULL;
    if (strcmp(c->cfg->file, "-") == 0)
        return false; /* stdin: a stream, whatever it is connected to */
    FILE *f = pcap_file(s->p);
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    if (st.st_size < 24 || (uint64_t)st.st_size > SIZE_MAX)
        return false;
    size_t size = (size_t)st.st_size;
    void *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    if (base == MAP_FAILED) {
        ns_log_debug(c->ins, "%s: mmap: %s; reading through libpcap", s->name, strerror(errno));
        return false;
    }
    const uint8_t *b = base;
    uint32_t magic;
    memcpy(&magic, b, 4);
    bool swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
    bool nano = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
    if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d && !swap) {
        why = "not a classic pcap file"; /* pcapng, or a magic only libpcap knows */
        goto fallback;
    }
    uint16_t major, minor;
    memcpy(&major, b + 4, 2);
    memcpy(&minor, b + 6, 2);
    if (swap) {
        major = __builtin_bswap16(major);
        minor = __builtin_bswap16(minor);
    }
    /* libpcap reads 2.0-2.3 and 543.0 with caplen and len swapped: leave those
     * old layouts to it. The cross-checks guard against the file having
     * changed between libpcap's read of the header and the mapping. */
    if (major != 2 || minor != 4 || pcap_major_version(s->p) != 2 ||
        pcap_minor_version(s->p) != 4 || !!pcap_is_swapped(s->p) != swap) {
        why = "old pcap version";
        goto fallback;
    }
    if (map_needs_rewrite(s->linktype, swap)) {
        why = "libpcap rewrites this link type's headers";
        goto fallback;
    }
    /* Sequential access: the kernel reads ahead further and, with fault-around,
     * maps the following pages on each fault. */
    (void)madvise(base, size, MADV_SEQUENTIAL);
    *m = (struct psrc_map){
        .base = b,
        .size = size,
        .off = 24,
        .swap = swap,
        .nano = nano,
        .snap = (uint32_t)pcap_snapshot(s->p),
        .maxcap = map_max_caplen(s->linktype),
    };
    return true;
fallback:
    ns_log_debug(c->ins, "%s: %s; reading through libpcap", s->name, why);
    munmap(base, size);
    return false;
}

/* How far ahead of the record walk the mapped reader prefetches. */
#define PSRC_MAP_PREFETCH 4096
/* Pages further than PSRC_MAP_KEEP behind the walk are dropped from the
 * process (MADV_DONTNEED, every PSRC_MAP_STEP bytes): mapped file pages count
 * in its resident set, and a 1 GB capture would otherwise end with 1 GB of
 * it. The mapping is private and never written, so a worker still reading a
 * dropped packet (it would have to lag 64 MiB) faults it back in from the
 * page cache: same bytes, nothing lost. */
#define PSRC_MAP_KEEP (64u << 20)
#define PSRC_MAP_STEP (16u << 20)
/* Page tables are filled ahead of the walk, PSRC_MAP_FILL bytes per call
 * (MADV_POPULATE_READ, Linux 5.14+): one call maps 512 pages that would
 * otherwise take ~32 faults of 16 pages each (fault-around). Older kernels
 * answer EINVAL and the reader goes on faulting as before. */
#define PSRC_MAP_FILL (2u << 20)
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* The record at m->off failed: write libpcap's wording of the reason. */
static void map_truncated(char *buf, size_t n, uint32_t caplen, uint32_t snap, size_t got)
{
    /* libpcap reads the first snaplen bytes before discarding the rest, and
     * reports whichever read came up short. */
    if (caplen > snap && got < snap)
        snprintf(buf, n, "truncated dump file; tried to read %u captured bytes, only got %zu", snap,
                 got);
    else
        snprintf(buf, n, "truncated dump file; tried to read %u captured bytes, only got %zu",
                 caplen, got);
}

static int psrc_run_mapped(struct psrc_ctx *c)
{
    struct psrc_iface *s = &c->srcs[0];
    struct psrc_map *m = &c->map;
    const uint8_t *base = m->base;
    const size_t size = m->size;
    const bool swap = m->swap, nano = m->nano;
    const uint32_t snap = m->snap, maxcap = m->maxcap;
    /* A local cursor: emit_packet is opaque, so a field of *m would be
     * reloaded and stored around every call. */
    size_t off = m->off;
    size_t pf = off & ~(size_t)63; /* next cache line to prefetch */
    size_t dropped = 0;            /* bytes released from the start (MADV_DONTNEED) */
    size_t filled = off & ~(size_t)(PSRC_MAP_FILL - 1); /* page tables filled up to here */
    bool fill = true;                                   /* MADV_POPULATE_READ works here */
    char why[160];
    int rc = 0;
    uint64_t n = 0;
    for (;; n++) {
        if ((n & 1023) == 0) {
            if (__atomic_load_n(&c->stop, __ATOMIC_RELAXED) || c->h->stopping(c->ins))
                break;
            if (off > dropped + PSRC_MAP_KEEP + PSRC_MAP_STEP) {
                size_t upto = (off - PSRC_MAP_KEEP) & ~(size_t)(PSRC_MAP_STEP - 1);
                if (upto > dropped) {
                    (void)madvise((void *)(base + dropped), upto - dropped, MADV_DONTNEED);
                    dropped = upto;
                }
            }
        }
        /* Keep one to two PSRC_MAP_FILL windows ahead mapped. */
        if (fill && off + PSRC_MAP_FILL > filled && filled < size) {
            size_t len = size - filled < PSRC_MAP_FILL ? size - filled : PSRC_MAP_FILL;
            if (madvise((void *)(base + filled), len, MADV_POPULATE_READ) != 0)
                fill = false;
            filled += len;
        }
        size_t left = size - off;
        if (left < 16) {
            if (left == 0)
                break; /* end of file on a record boundary */
            snprintf(why, sizeof(why),
                     "truncated dump file; tried to read 16 header bytes, only got %zu", left);
            rc = -EIO;
            break;
        }
        const uint8_t *rec = base + off;
        /* The file streams from the page cache once, so every record header
         * is a cache miss unless asked for early: keep every cache line up to
         * a page ahead of the walk in flight (the hardware prefetcher stops at
         * page boundaries). Measured on the 1 GB bench capture: the reader's
         * user time halves; one prefetch per packet a page ahead saved 15 %. */
        size_t want = size - off > PSRC_MAP_PREFETCH ? off + PSRC_MAP_PREFETCH : size;
        for (; pf < want; pf += 64)
            __builtin_prefetch(base + pf);
        uint32_t sec = map_u32(rec, swap), frac = map_u32(rec + 4, swap);
        uint32_t caplen = map_u32(rec + 8, swap), len = map_u32(rec + 12, swap);
        if (caplen > maxcap) {
            if (caplen > snap)
                snprintf(why, sizeof(why),
                         "invalid packet capture length %u, bigger than snaplen of %u", caplen,
                         snap);
            else
                snprintf(why, sizeof(why),
                         "invalid packet capture length %u, bigger than maximum of %u", caplen,
                         maxcap);
            rc = -EIO;
            break;
        }
        if (caplen > left - 16) {
            map_truncated(why, sizeof(why), caplen, snap, left - 16);
            rc = -EIO;
            break;
        }
        off += 16 + (size_t)caplen;
        /* Same arithmetic as libpcap + psrc_emit: libpcap sign-extends the
         * 32-bit fields of a file in host order (bpf_int32) but not those it
         * byte-swaps, and scales microseconds by 1000. */
        int64_t tsec = swap ? (int64_t)sec : (int64_t)(int32_t)sec;
        int64_t tfrac = swap ? (int64_t)frac : (int64_t)(int32_t)frac;
        if (!nano)
            tfrac *= 1000;
        /* A record longer than the file's snaplen is cut to it, as libpcap
         * does; the rest of its bytes are skipped. */
        uint32_t cap = caplen > snap ? snap : caplen;
        struct ns_packet pkt = {
            .ts_ns = (uint64_t)tsec * 1000000000ull + (uint64_t)tfrac,
            .data = rec + 16,
            .caplen = cap,
            .wirelen = len,
            .linktype = (uint16_t)s->linktype,
            .flags = NS_PKT_F_STABLE | NS_PKT_F_OFFLINE,
        };
        if (c->have_prog) {
            struct pcap_pkthdr hdr = {.caplen = cap, .len = len};
            if (pcap_offline_filter(&c->prog, &hdr, pkt.data) == 0)
                continue;
        }
        ns_counter_inc(c->c_pkts);
        ns_counter_add(c->c_bytes, len);
        c->h->emit_packet(c->ins, &pkt);
    }
    m->off = off;
    if (rc < 0) {
        ns_counter_inc(c->c_read_err);
        ns_log_error(c->ins, "%s: read error after %" PRIu64 " packets: %s", s->name, n, why);
    }
    return rc;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void psrc_destroy(void *ctx);

static int psrc_open_file(struct psrc_ctx *c)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    c->srcs = calloc(1, sizeof(*c->srcs));
    if (c->srcs == NULL)
        return -ENOMEM;
    c->n = 1;
    struct psrc_iface *s = &c->srcs[0];
    s->name = c->cfg->file;
    s->p = pcap_open_offline_with_tstamp_precision(c->cfg->file, PCAP_TSTAMP_PRECISION_NANO, err);
    if (s->p == NULL) {
        ns_log_error(c->ins, "cannot open %s: %s", c->cfg->file, err);
        return -ENOENT;
    }
    s->nano = pcap_get_tstamp_precision(s->p) == PCAP_TSTAMP_PRECISION_NANO;
    s->linktype = pcap_datalink(s->p);
    s->fd = -1;
    if (c->cfg->filter != NULL && c->cfg->filter[0] != '\0') {
        if (pcap_compile(s->p, &c->prog, c->cfg->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            ns_log_error(c->ins, "bad filter \"%s\": %s", c->cfg->filter, pcap_geterr(s->p));
            return -EINVAL;
        }
        c->have_prog = true;
    }
    c->offline = true;
    if (c->cfg->reader == PSRC_READER_AUTO && psrc_map_open(c, s))
        return 0;
    /* pcapng: a second handle on the file to read interface ids. Regular
     * files only: opening a FIFO again blocks once its writer is gone, and a
     * second reader would steal the stream's bytes from libpcap (pcapng from
     * a pipe or stdin reports interface 0). */
    struct stat st;
    FILE *lf = pcap_file(s->p);
    if (lf == NULL || fstat(fileno(lf), &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    FILE *f = fopen(c->cfg->file, "rb");
    if (f != NULL) {
        uint8_t magic[4];
        if (fread(magic, 1, 4, f) == 4 && memcmp(magic, "\x0a\x0d\x0d\x0a", 4) == 0 &&
            fseek(f, 0, SEEK_SET) == 0) {
            c->ng.f = f;
            c->ng.ok = true;
        } else {
            fclose(f);
        }
    }
    return 0;
}

static int psrc_open_live(struct psrc_ctx *c)
{
    const struct ns_strlist *l = &c->cfg->interfaces;
    c->srcs = calloc(l->count, sizeof(*c->srcs));
    if (c->srcs == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < l->count; i++) {
        char err[PCAP_ERRBUF_SIZE] = "";
        struct psrc_iface *s = &c->srcs[i];
        s->name = l->items[i];
        s->p = pcap_create(s->name, err);
        c->n = i + 1;
        if (s->p == NULL) {
            ns_log_error(c->ins, "%s: %s", s->name, err);
            return -ENODEV;
        }
        pcap_set_snaplen(s->p, (int)c->cfg->snaplen);
        pcap_set_promisc(s->p, c->cfg->promisc);
        pcap_set_buffer_size(s->p, (int)c->cfg->buffer_size);
        pcap_set_immediate_mode(s->p, c->cfg->immediate);
        /* A buffer timeout makes the kernel hand over partly filled TPACKET_V3
         * blocks; without one (0) a quiet interface's packets can wait
         * indefinitely. */
        pcap_set_timeout(s->p, 100);
        pcap_set_tstamp_precision(s->p, PCAP_TSTAMP_PRECISION_NANO); /* best effort */
        int rc = pcap_activate(s->p);
        if (rc < 0) {
            ns_log_error(c->ins, "%s: cannot capture: %s", s->name, pcap_geterr(s->p));
            return rc == PCAP_ERROR_PERM_DENIED ? -EPERM : -ENODEV;
        }
        if (rc > 0)
            ns_log_warn(c->ins, "%s: %s", s->name, pcap_geterr(s->p));
        s->nano = pcap_get_tstamp_precision(s->p) == PCAP_TSTAMP_PRECISION_NANO;
        s->linktype = pcap_datalink(s->p);
        if (c->cfg->filter != NULL && c->cfg->filter[0] != '\0') {
            struct bpf_program prog;
            if (pcap_compile(s->p, &prog, c->cfg->filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
                pcap_setfilter(s->p, &prog) != 0) {
                ns_log_error(c->ins, "%s: bad filter \"%s\": %s", s->name, c->cfg->filter,
                             pcap_geterr(s->p));
                pcap_freecode(&prog);
                return -EINVAL;
            }
            pcap_freecode(&prog);
        }
        if (pcap_setnonblock(s->p, 1, err) != 0) {
            ns_log_error(c->ins, "%s: %s", s->name, err);
            return -EIO;
        }
        s->fd = pcap_get_selectable_fd(s->p);
        if (s->fd < 0) {
            ns_log_error(c->ins, "%s: no selectable descriptor", s->name);
            return -ENOTSUP;
        }
    }
    return 0;
}

static int psrc_init(struct ns_instance *ins, const void *config, void **ctxp)
{
    const struct psrc_config *cfg = config;
    bool has_file = cfg->file != NULL && cfg->file[0] != '\0';
    bool has_if = cfg->interfaces.count > 0;
    if (has_file == has_if) {
        ns_log_error(ins, "set exactly one of `file` and `interfaces`");
        return -EINVAL;
    }
    struct psrc_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    c->cfg = cfg;
    const struct ns_host *h = c->h;
    c->c_pkts = h->counter(ins, "packets_total", NULL, "Packets read");
    c->c_bytes = h->counter(ins, "bytes_total", NULL, "Bytes read (on-the-wire length)");
    c->c_read_err =
        h->counter(ins, "read_errors_total", NULL, "Read errors (truncated file, interface gone)");
    c->g_drop = h->gauge(ins, "kernel_drops", NULL,
                         "Packets dropped by the kernel for lack of buffer (pcap ps_drop)");
    c->g_ifdrop = h->gauge(ins, "interface_drops", NULL,
                           "Packets dropped by the interface or driver (pcap ps_ifdrop)");
    int rc = has_file ? psrc_open_file(c) : psrc_open_live(c);
    if (rc < 0) {
        psrc_destroy(c);
        return rc;
    }
    *ctxp = c;
    return 0;
}

static int psrc_run_offline(struct psrc_ctx *c)
{
    struct psrc_iface *s = &c->srcs[0];
    for (uint64_t n = 0;; n++) {
        if ((n & 1023) == 0 &&
            (__atomic_load_n(&c->stop, __ATOMIC_RELAXED) || c->h->stopping(c->ins)))
            return 0;
        struct pcap_pkthdr *hdr;
        const uint8_t *data;
        int rc = pcap_next_ex(s->p, &hdr, &data);
        if (rc == PCAP_ERROR_BREAK)
            return 0; /* end of file */
        if (rc < 0) {
            ns_counter_inc(c->c_read_err);
            ns_log_error(c->ins, "%s: read error after %" PRIu64 " packets: %s", s->name, n,
                         pcap_geterr(s->p));
            return -EIO;
        }
        uint16_t ifindex = c->ng.f != NULL ? ng_next_if(&c->ng) : 0;
        if (rc == 0)
            continue;
        if (c->have_prog && pcap_offline_filter(&c->prog, hdr, data) == 0)
            continue;
        psrc_emit(c, s, ifindex, hdr, data);
    }
}

static int psrc_run_live(struct psrc_ctx *c)
{
    struct pollfd pfd[64];
    size_t n = c->n < 64 ? c->n : 64;
    if (c->n > 64)
        ns_log_warn(c->ins, "only the first 64 interfaces are captured");
    struct timespec last, now;
    clock_gettime(CLOCK_MONOTONIC, &last);
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED) && !c->h->stopping(c->ins)) {
        for (size_t i = 0; i < n; i++) {
            pfd[i].fd = c->srcs[i].fd;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        /* Short timeout: stopping() must be seen soon, and with a kernel
         * buffer timeout some platforms only signal readability late. */
        int rc = poll(pfd, n, 100);
        if (rc < 0 && errno != EINTR) {
            ns_log_error(c->ins, "poll: %s", strerror(errno));
            ns_counter_inc(c->c_read_err);
            return -errno;
        }
        for (size_t i = 0; i < n; i++) {
            /* Dispatch even without POLLIN on timeout: packets may sit in a
             * TPACKET block that poll() does not report yet. */
            if (rc > 0 && !(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            c->cur_if = (uint16_t)i;
            int got = pcap_dispatch(c->srcs[i].p, 512, psrc_live_cb, (uint8_t *)c);
            if (got == PCAP_ERROR) {
                ns_counter_inc(c->c_read_err);
                ns_log_error(c->ins, "%s: %s", c->srcs[i].name, pcap_geterr(c->srcs[i].p));
                return -EIO;
            }
        }
        if (rc == 0)
            c->h->emit_packet(c->ins, NULL); /* quiet link: hand on what is batched */
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec != last.tv_sec) {
            psrc_poll_stats(c);
            last = now;
        }
    }
    psrc_poll_stats(c);
    return 0;
}

static int psrc_run(void *ctx)
{
    struct psrc_ctx *c = ctx;
    if (c->map.base != NULL)
        return psrc_run_mapped(c);
    return c->offline ? psrc_run_offline(c) : psrc_run_live(c);
}

static int psrc_stop(void *ctx)
{
    struct psrc_ctx *c = ctx;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
    for (size_t i = 0; i < c->n; i++)
        if (c->srcs[i].p != NULL)
            pcap_breakloop(c->srcs[i].p);
    return 0;
}

static void psrc_destroy(void *ctx)
{
    struct psrc_ctx *c = ctx;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->srcs[i].p != NULL)
            pcap_close(c->srcs[i].p);
    free(c->srcs);
    if (c->have_prog)
        pcap_freecode(&c->prog);
    if (c->ng.f != NULL)
        fclose(c->ng.f);
    /* The workers may have read packets in place until now (NS_PKT_F_STABLE);
     * the runtime calls destroy() only after joining them. */
    if (c->map.base != NULL)
        munmap((void *)c->map.base, c->map.size);
    free(c);
}

static const char *const psrc_reader_choices[] = {"auto", "libpcap", NULL};

#define OFF(f) offsetof(struct psrc_config, f)
static const struct ns_option psrc_options[] = {
    {.name = "file",
     .type = NS_OPT_PATH,
     .offset = OFF(file),
     .doc = "Read this pcap or pcapng file (any link type libpcap reads). Exactly one of file "
            "and interfaces."},
    {.name = "interfaces",
     .type = NS_OPT_STRING_LIST,
     .offset = OFF(interfaces),
     .doc = "Capture live on these interfaces (needs CAP_NET_RAW); ns_packet.ifindex is the "
            "position in this list."},
    {.name = "filter",
     .type = NS_OPT_STRING,
     .offset = OFF(filter),
     .doc = "BPF filter expression (tcpdump syntax) applied to every packet."},
    {.name = "snaplen",
     .type = NS_OPT_SIZE,
     .def = "262144",
     .min = 64,
     .max = 262144,
     .offset = OFF(snaplen),
     .doc = "Bytes captured per packet (live)."},
    {.name = "promisc",
     .type = NS_OPT_BOOL,
     .def = "true",
     .offset = OFF(promisc),
     .doc = "Put live interfaces in promiscuous mode."},
    {.name = "buffer_size",
     .type = NS_OPT_SIZE,
     .def = "32MiB",
     .min = 65536,
     .max = 2147483647,
     .offset = OFF(buffer_size),
     .doc = "Kernel capture buffer per interface (live)."},
    {.name = "immediate",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = OFF(immediate),
     .doc = "Deliver packets as soon as they arrive instead of in kernel batches (live; lower "
            "latency, more CPU)."},
    {.name = "reader",
     .type = NS_OPT_ENUM,
     .def = "auto",
     .choices = psrc_reader_choices,
     .offset = OFF(reader),
     .doc = "Offline reader: auto maps a classic pcap file (regular file) and hands packets on "
            "without copying them; libpcap reads every file through libpcap. pcapng and stdin "
            "always use libpcap."},
    NS_OPT_END,
};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "pcap", .version = "0.1.0",
                 .summary = "Packets from a pcap/pcapng file or live interfaces (libpcap)",
                 .options = psrc_options, .config_size = sizeof(struct psrc_config),
                 .flags = NS_PLUGIN_NEEDS_ROOT, .init = psrc_init, .run = psrc_run,
                 .stop = psrc_stop, .destroy = psrc_destroy);
