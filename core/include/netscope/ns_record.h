/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_record.h - packets and records, the two things that travel between stages.
 *
 * A packet (struct ns_packet) is what a capture source produces and a decoder
 * consumes. Its layout is public and part of the ABI: decoders read it directly.
 * Packets live in batches owned by the core; a decoder must not keep a pointer
 * to packet data after its process_packets callback returns.
 *
 * A record (struct ns_record) is everything after decoding: flow start/update/end,
 * protocol events (dns, tls, http), devices, alerts, metrics. It is opaque. It is
 * an ordered list of typed fields named with dotted Elastic Common Schema keys
 * ("source.ip", "event.dataset"), built and read through the host table (see
 * ns_host.h), so sinks can serialise any record and rules can read any field
 * without knowing the producer. Sinks render dotted keys as nested objects.
 */
#ifndef NETSCOPE_NS_RECORD_H
#define NETSCOPE_NS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Link types follow libpcap's DLT_* numbers (DLT_EN10MB = 1, DLT_RAW = 12/101, ...). */
struct ns_packet {
    uint64_t ts_ns;      /* capture time, ns since the Unix epoch             */
    const uint8_t *data; /* caplen bytes, valid during the callback only      */
    uint32_t caplen;     /* bytes captured                                    */
    uint32_t wirelen;    /* bytes on the wire (may exceed caplen)             */
    uint32_t hash;       /* symmetric flow hash computed by the core          */
    uint16_t linktype;   /* DLT_* of the capture                              */
    uint16_t ifindex;    /* index into the source's interface list (pcapng)   */
    uint32_t source_id;  /* the source node that produced it                  */
    uint32_t flags;      /* NS_PKT_F_*; 0 from sources that know none of them  */
};

/* ns_packet.flags, set by the source that emits the packet:
 * NS_PKT_F_STABLE  data stays valid and unchanged until the source instance's
 *                  destroy() (e.g. a read-only mapping of a capture file), so the
 *                  core hands the pointer to the workers instead of copying
 *                  the bytes into a batch. Decoders see no difference: packet
 *                  data is read-only to them either way. */
#define NS_PKT_F_STABLE 0x1u
/* NS_PKT_F_OFFLINE  read from a file, not captured now: the pipeline's clock
 *                   (timeouts, ticks) then follows packet time alone, so a
 *                   capture gives the same records however fast it is read.
 *                   Without it, packet time advances with wall time between
 *                   packets (a quiet live link still expires its flows). */
#define NS_PKT_F_OFFLINE 0x2u

/* Record types. Values are stable: they appear in Redis entries and metrics. */
enum ns_rec_type {
    NS_REC_FLOW = 1, /* netscope.flow: event.action flow_start/flow_update/flow_end */
    NS_REC_DNS,      /* netscope.dns                                                */
    NS_REC_TLS,      /* netscope.tls                                                */
    NS_REC_HTTP,     /* netscope.http                                               */
    NS_REC_HTTP2,    /* netscope.http2 (gRPC included)                              */
    NS_REC_ICMP,     /* netscope.icmp                                               */
    NS_REC_ARP,      /* netscope.arp                                                */
    NS_REC_DEVICE,   /* netscope.device                                             */
    NS_REC_TCP,      /* netscope.tcp: eBPF per-connection metrics                  */
    NS_REC_ALERT,    /* netscope.alert                                              */
    NS_REC_METRIC,   /* netscope.metric                                             */
    NS_REC_GAP,      /* netscope.gap: records lost upstream (spool full, ...)      */
    NS_REC_OTHER,    /* anything else; event.dataset says what                      */
    NS_REC_TYPE_MAX
};

/* Field value types. */
enum ns_field_type {
    NS_F_NULL = 0,
    NS_F_BOOL,
    NS_F_INT,  /* int64_t                                         */
    NS_F_UINT, /* uint64_t                                        */
    NS_F_DOUBLE,
    NS_F_STR,    /* UTF-8 or arbitrary bytes; sinks escape them     */
    NS_F_IP,     /* struct ns_ip, rendered as text                  */
    NS_F_MAC,    /* 6 bytes, rendered aa:bb:cc:dd:ee:ff             */
    NS_F_TIME,   /* uint64_t ns since epoch, rendered as ISO 8601   */
    NS_F_ARRAY,  /* begins an array; NS_F_END closes it             */
    NS_F_OBJECT, /* begins an object (inside arrays); NS_F_END      */
    NS_F_END,
};

/* An IPv4 or IPv6 address. IPv4 is kept in the first 4 bytes of `a`. */
struct ns_ip {
    uint8_t family; /* 4 or 6 */
    uint8_t a[16];
};

/* A field as read back from a record (ns_host.rec_field_at / rec_get). The
 * pointers stay valid until the record is modified or released. */
struct ns_field_view {
    const char *key;
    enum ns_field_type type;
    uint32_t depth; /* nesting inside arrays/objects; 0 = top level */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct {
            const char *ptr;
            size_t len;
        } s;
        struct ns_ip ip;
        uint8_t mac[6];
    } v;
};

struct ns_record; /* opaque */

#ifdef __cplusplus
}
#endif
#endif
