/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_spool.c - sink/redis's disk spool (plugins/sink/redis/spool.c) without
 * Redis: order across segments and restarts, deletion once delivered, damaged
 * segments (bad checksum, cut short, corrupt length, foreign header) skipped
 * and counted and never replayed as garbage, a full disk (RLIMIT_FSIZE)
 * reported without leaving half a frame, ordering of shutdown segments, and
 * dropping the oldest segment with its loss summary.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

#define NS_TEST_TYPE 13 /* NS_REC_OTHER */

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ns-spool-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static struct rs_entry *mk(uint64_t seq, uint8_t type)
{
    char json[128];
    int n = snprintf(json, sizeof(json), "{\"event\":{\"sequence\":%llu},\"pad\":\"%0*d\"}",
                     (unsigned long long)seq, (int)(seq % 50), 0);
    const char *k[] = {"type", "json"};
    const char *v[] = {"other", json};
    size_t kl[] = {4, 4}, vl[] = {5, (size_t)n};
    struct rs_entry *e = rs_entry_new(type, seq, 1000 + seq, 2, k, kl, v, vl);
    cr_assert_not_null(e);
    return e;
}

static struct rs_spool *open_sp(uint64_t max, uint64_t seg)
{
    struct rs_spool *sp;
    char err[256];
    cr_assert_eq(rs_spool_open(&sp, dir, max, seg, err, sizeof(err)), 0, "%s", err);
    return sp;
}

static void append_range(struct rs_spool *sp, uint64_t from, uint64_t to)
{
    for (uint64_t s = from; s <= to; s++) {
        struct rs_entry *e = mk(s, NS_TEST_TYPE);
        cr_assert_eq(rs_spool_append(sp, &e, 1), 1);
        free(e);
    }
}

/* Read everything left; returns how many, checks each parses and that the
 * sequence numbers increase; stores them in seqs. */
static size_t read_all(struct rs_spool *sp, uint64_t *seqs, size_t max, bool release)
{
    size_t n = 0;
    struct rs_entry *e;
    while ((e = rs_spool_read(sp))) {
        struct rs_view v;
        cr_assert(rs_entry_parse(e->payload, e->len, &v), "garbage replayed");
        cr_assert_eq(v.nfields, 2);
        cr_assert_eq(v.ts_ns, 1000 + v.seq);
        char want[64];
        snprintf(want, sizeof(want), "{\"event\":{\"sequence\":%llu}", (unsigned long long)v.seq);
        cr_assert(v.vlen[1] > strlen(want) && !memcmp(v.val[1], want, strlen(want)));
        if (n)
            cr_assert_gt(v.seq, seqs[n - 1]);
        if (n < max)
            seqs[n] = v.seq;
        n++;
        if (release)
            rs_spool_release(sp, e);
        free(e);
    }
    return n;
}

static int count_files(const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        if (l > s && !strcmp(de->d_name + l - s, suffix))
            n++;
    }
    closedir(d);
    return n;
}

/* The only segment file when there is one. */
static void first_seg(char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    out[0] = 0;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "seg-", 4) && strstr(de->d_name, ".nss") &&
            !strstr(de->d_name, ".bad"))
            snprintf(out, n, "%s/%s", dir, de->d_name);
    closedir(d);
}

TestSuite(spool, .init = setup, .fini = teardown);

Test(spool, order_across_segments_and_delete_when_delivered)
{
    struct rs_spool *sp = open_sp(1 << 20, 4096);
    append_range(sp, 1, 300);
    cr_assert_gt(count_files(".nss"), 3, "small segments rotate");
    cr_assert_eq(rs_spool_unread(sp), 300);
    uint64_t seqs[400];
    cr_assert_eq(read_all(sp, seqs, 400, true), 300);
    for (int i = 0; i < 300; i++)
        cr_assert_eq(seqs[i], (uint64_t)i + 1);
    cr_assert_eq(rs_spool_unread(sp), 0);
    cr_assert_eq(count_files(".nss"), 0, "delivered segments are deleted");
    cr_assert_eq(rs_spool_bytes(sp), 0);
    rs_spool_close(sp);
}

Test(spool, unreleased_entries_survive_a_restart)
{
    struct rs_spool *sp = open_sp(1 << 20, 4096);
    append_range(sp, 1, 100);
    uint64_t seqs[200];
    /* Read but never acknowledged (crash): everything stays on disk. */
    cr_assert_eq(read_all(sp, seqs, 200, false), 100);
    rs_spool_close(sp);
    sp = open_sp(1 << 20, 4096);
    cr_assert_eq(rs_spool_unread(sp), 100);
    append_range(sp, 101, 150);
    cr_assert_eq(read_all(sp, seqs, 200, true), 150);
    for (int i = 0; i < 150; i++)
        cr_assert_eq(seqs[i], (uint64_t)i + 1);
    rs_spool_close(sp);
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    cr_assert_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

/* Byte offset of frame i (0-based) in a segment written by append_range. */
static off_t frame_off(uint64_t first_seq, int i)
{
    off_t off = 16;
    for (int k = 0; k < i; k++) {
        struct rs_entry *e = mk(first_seq + (uint64_t)k, NS_TEST_TYPE);
        off += 12 + e->len;
        free(e);
    }
    return off;
}

Test(spool, bad_checksum_is_skipped_and_counted)
{
    struct rs_spool *sp = open_sp(1 << 20, 1 << 20);
    append_range(sp, 1, 10);
    rs_spool_close(sp);
    char path[512];
    first_seg(path, sizeof(path));
    flip_byte(path, frame_off(1, 4) + 12 + 25); /* inside frame 5's payload */
    sp = open_sp(1 << 20, 1 << 20);
    cr_assert_eq(rs_spool_stats(sp)->corrupt, 1);
    cr_assert_eq(rs_spool_unread(sp), 9);
    uint64_t seqs[20];
    cr_assert_eq(read_all(sp, seqs, 20, true), 9);
    for (int i = 0; i < 9; i++)
        cr_assert_neq(seqs[i], 5, "the damaged frame was replayed");
    cr_assert_eq(rs_spool_stats(sp)->corrupt, 1, "counted once");
    rs_spool_close(sp);
}

Test(spool, corrupt_length_resynchronises)
{
    struct rs_spool *sp = open_sp(1 << 20, 1 << 20);
    append_range(sp, 1, 10);
    rs_spool_close(sp);
    char path[512];
    first_seg(path, sizeof(path));
    flip_byte(path, frame_off(1, 2) + 7); /* frame 3's length: huge */
    sp = open_sp(1 << 20, 1 << 20);
    uint64_t seqs[20];
    size_t n = read_all(sp, seqs, 20, true);
    cr_assert_eq(n, 9, "only the damaged frame is lost, got %zu", n);
    cr_assert_eq(seqs[2], 4);
    cr_assert_eq(rs_spool_stats(sp)->corrupt, 1);
    rs_spool_close(sp);
}

Test(spool, truncated_tail_is_skipped_and_counted)
{
    struct rs_spool *sp = open_sp(1 << 20, 1 << 20);
    append_range(sp, 1, 10);
    rs_spool_close(sp);
    char path[512];
    first_seg(path, sizeof(path));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size - 7), 0);
    sp = open_sp(1 << 20, 1 << 20);
    cr_assert_eq(rs_spool_stats(sp)->truncated, 1);
    cr_assert_eq(rs_spool_stats(sp)->corrupt, 0);
    uint64_t seqs[20];
    cr_assert_eq(read_all(sp, seqs, 20, true), 9);
    cr_assert_eq(seqs[8], 9);
    rs_spool_close(sp);
}

Test(spool, foreign_file_is_set_aside)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/seg-00000000000000000001-000000.nss", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("this is not a spool segment at all", f);
    fclose(f);
    struct rs_spool *sp = open_sp(1 << 20, 1 << 20);
    cr_assert_eq(rs_spool_stats(sp)->corrupt, 1);
    cr_assert_eq(rs_spool_unread(sp), 0);
    cr_assert_null(rs_spool_read(sp));
    cr_assert_eq(count_files(".bad"), 1);
    /* New segments do not reuse its id. */
    append_range(sp, 1, 3);
    uint64_t seqs[4];
    cr_assert_eq(read_all(sp, seqs, 4, true), 3);
    rs_spool_close(sp);
}

Test(spool, shutdown_segment_sorts_after_its_predecessor)
{
    struct rs_spool *sp = open_sp(1 << 20, 4096);
    append_range(sp, 1, 40); /* a few segments: ids 1..k */
    uint64_t seqs[200];
    /* Replayed (in flight, not acknowledged): the reader caught up, so the
     * sink sends from memory next, after segment `after`. */
    cr_assert_eq(read_all(sp, seqs, 200, false), 40);
    uint64_t after = rs_spool_last_id(sp);
    append_range(sp, 100, 140); /* newer segments */
    /* Entries 41..50 were sent from memory after segment `after` existed and
     * are written at shutdown: they must replay between 40 and 100. */
    struct rs_entry *mid[10];
    for (int i = 0; i < 10; i++)
        mid[i] = mk(41 + (uint64_t)i, NS_TEST_TYPE);
    cr_assert_eq(rs_spool_append_after(sp, after, mid, 10), 10);
    for (int i = 0; i < 10; i++)
        free(mid[i]);
    rs_spool_close(sp);
    sp = open_sp(1 << 20, 4096);
    size_t n = read_all(sp, seqs, 200, true); /* read_all checks increasing order */
    cr_assert_eq(n, 40 + 10 + 41);
    rs_spool_close(sp);
}

Test(spool, drop_oldest_reports_the_loss)
{
    struct rs_spool *sp = open_sp(1 << 20, 4096);
    append_range(sp, 1, 200);
    struct rs_loss loss[RS_TYPES];
    memset(loss, 0, sizeof(loss));
    uint64_t n = rs_spool_drop_oldest(sp, loss);
    cr_assert_gt(n, 0);
    cr_assert_eq(loss[NS_TEST_TYPE].count, n);
    cr_assert_eq(loss[NS_TEST_TYPE].seq_min, 1);
    cr_assert_eq(loss[NS_TEST_TYPE].seq_max, n);
    cr_assert_eq(loss[NS_TEST_TYPE].ts_min, 1001);
    uint64_t seqs[300];
    cr_assert_eq(read_all(sp, seqs, 300, true), 200 - n);
    cr_assert_eq(seqs[0], n + 1);
    rs_spool_close(sp);
}

Test(spool, full_disk_is_reported_and_leaves_no_torn_frame)
{
    signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG */
    struct rlimit rl = {.rlim_cur = 3000, .rlim_max = 3000};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    struct rs_spool *sp = open_sp(1 << 20, 1 << 20);
    size_t ok = 0;
    for (uint64_t s = 1; s <= 100; s++) {
        struct rs_entry *e = mk(s, NS_TEST_TYPE);
        ok += rs_spool_append(sp, &e, 1);
        free(e);
    }
    cr_assert_lt(ok, 100);
    cr_assert_gt(ok, 0);
    cr_assert_geq(rs_spool_stats(sp)->write_errors, 1);
    cr_assert_eq(rs_spool_stats(sp)->last_errno, EFBIG);
    rs_spool_close(sp);
    sp = open_sp(1 << 20, 1 << 20);
    cr_assert_eq(rs_spool_stats(sp)->truncated, 0, "a torn frame was left behind");
    cr_assert_eq(rs_spool_stats(sp)->corrupt, 0);
    uint64_t seqs[200];
    cr_assert_eq(read_all(sp, seqs, 200, true), ok);
    rs_spool_close(sp);
}

Test(spool, entry_parse_rejects_garbage)
{
    struct rs_view v;
    uint8_t junk[64];
    memset(junk, 0xff, sizeof(junk));
    cr_assert_not(rs_entry_parse(junk, sizeof(junk), &v));
    struct rs_entry *e = mk(7, NS_TEST_TYPE);
    cr_assert(rs_entry_parse(e->payload, e->len, &v));
    cr_assert_not(rs_entry_parse(e->payload, e->len - 1, &v), "short payload accepted");
    e->payload[3] = 0x7f; /* nfields: absurd */
    cr_assert_not(rs_entry_parse(e->payload, e->len, &v));
    free(e);
    cr_assert_eq(rs_crc32c(0, "123456789", 9), 0xe3069283u, "CRC-32C check value");
}
