/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool.h - sink/redis: entries (one XADD each) and the on-disk spool that keeps
 * them while Redis is unreachable or too slow.
 *
 * An entry is the serialised form of one stream entry: record type, sequence,
 * time and the field/value pairs of the XADD (the flat fields and the JSON).
 * The same bytes live in memory and, framed and checksummed, in spool segment
 * files, so spilling to disk and replaying are copies.
 *
 * Segment file `seg-<id 20 digits>-<sub 6 digits>.nss`: a 16-byte header
 * ("NSSPOOL1", u32 version 1, u32 0) then frames
 *     u32 magic 0x3152534e ("NSR1"), u32 len, u32 crc32c(payload), payload[len]
 * all little-endian. Segments replay in name order. A frame with a bad magic,
 * length or checksum is skipped (counted) and the reader resynchronises on the
 * next valid frame; a frame cut short at the end of a file is counted as
 * truncated. Nothing that fails its checksum is ever returned.
 *
 * Payload: u8 version (1), u8 record type, u16 nfields, u64 seq, u64 ts_ns,
 * then nfields x (u16 key length, key, u32 value length, value).
 *
 * Ordering: segments are ordered by (id, sub). New segments get the next id
 * with sub 0. At shutdown, entries that were already sent from memory (so are
 * older than every segment created after they were sent) are written to a
 * segment (after, sub > 0) that sorts right after the segment `after`.
 *
 * Threads: loop thread only (the sink); the unit tests call it directly.
 */
#ifndef NS_SINK_REDIS_SPOOL_H
#define NS_SINK_REDIS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ns_record;
struct rs_seg;

#define RS_TYPES 16                /* record types tracked per segment (ns_rec_type < 16) */
#define RS_MAX_PAYLOAD (16u << 20) /* a frame longer than this is corrupt        */
#define RS_MAX_FIELDS 64

/* One stream entry, in memory. `next` links it into one of the sink's FIFOs. */
struct rs_entry {
    struct rs_entry *next;
    struct ns_record *rec; /* reference held until Redis acknowledged it, or NULL */
    struct rs_seg *seg;    /* the spool segment it was read from, NULL: from memory */
    uint64_t after;        /* memory entries: newest segment id when it was sent    */
    uint32_t len;          /* payload bytes                                         */
    uint8_t payload[];
};

/* A parsed view of a payload. Field pointers point into the payload. */
struct rs_view {
    uint8_t type;
    uint64_t seq, ts_ns;
    uint32_t nfields;
    const char *key[RS_MAX_FIELDS];
    const char *val[RS_MAX_FIELDS];
    size_t klen[RS_MAX_FIELDS], vlen[RS_MAX_FIELDS];
};

/* Build an entry from parallel key/value arrays. Returns NULL on allocation
 * failure or too many/too long fields. */
struct rs_entry *rs_entry_new(uint8_t type, uint64_t seq, uint64_t ts_ns, uint32_t n,
                              const char *const *keys, const size_t *klens, const char *const *vals,
                              const size_t *vlens);
/* Parse a payload; false when it is malformed (never trusted blindly, even
 * after its checksum matched). */
bool rs_entry_parse(const uint8_t *p, size_t len, struct rs_view *v);

/* Per record type: how many entries, their time and sequence range. */
struct rs_loss {
    uint64_t count, ts_min, ts_max, seq_min, seq_max;
};
void rs_loss_add(struct rs_loss *l, uint64_t n, uint64_t ts_min, uint64_t ts_max, uint64_t seq_min,
                 uint64_t seq_max);

struct rs_spool_stats {
    uint64_t corrupt;      /* frames (or segment headers) that failed their checks */
    uint64_t truncated;    /* frames cut short at the end of a segment             */
    uint64_t write_errors; /* failed writes (full disk, I/O error)                 */
    int last_errno;        /* of the last failed write or open                     */
};

struct rs_spool;

/* Open (creating it) the spool directory and index the segments already there
 * (a restart: they are replayed first). max_bytes bounds the sum of segment
 * sizes; seg_bytes is the size at which a segment is closed. Returns 0 or
 * -errno, with a message in err. */
int rs_spool_open(struct rs_spool **out, const char *dir, uint64_t max_bytes, uint64_t seg_bytes,
                  char *err, size_t errlen);
void rs_spool_close(struct rs_spool *sp);

const struct rs_spool_stats *rs_spool_stats(const struct rs_spool *sp);
uint64_t rs_spool_bytes(const struct rs_spool *sp);
/* Entries on disk not yet read back (counted at open and on append). */
uint64_t rs_spool_unread(const struct rs_spool *sp);
/* The newest segment id ever created or found (for rs_entry.after). */
uint64_t rs_spool_last_id(const struct rs_spool *sp);

/* Would `payload_bytes` more fit under max_bytes? */
bool rs_spool_room(const struct rs_spool *sp, uint64_t payload_bytes);

/* Append entries (in order) to the tail, in one write per segment. Returns how
 * many were written; on a write failure the segment is cut back to its last
 * whole frame, stats->write_errors counts it and the rest is not written. */
size_t rs_spool_append(struct rs_spool *sp, struct rs_entry *const *e, size_t n);

/* Write entries that were sent from memory after segment `after` into a new
 * segment that sorts right after it (shutdown). Returns how many. */
size_t rs_spool_append_after(struct rs_spool *sp, uint64_t after, struct rs_entry *const *e,
                             size_t n);

/* The next unread entry, or NULL when none is left (or on an I/O error,
 * counted). The entry's `seg` keeps its segment on disk until
 * rs_spool_release(entry) says it was delivered (or given up). */
struct rs_entry *rs_spool_read(struct rs_spool *sp);
void rs_spool_release(struct rs_spool *sp, struct rs_entry *e);

/* Drop the oldest whole segment that has not started replaying, adding what
 * it held to loss[type]. Returns the number of entries dropped, 0 when no
 * segment can be dropped. */
uint64_t rs_spool_drop_oldest(struct rs_spool *sp, struct rs_loss loss[RS_TYPES]);

/* CRC-32C (Castagnoli) of p[0..n), continuing from crc (start with 0). */
uint32_t rs_crc32c(uint32_t crc, const void *p, size_t n);

#endif
