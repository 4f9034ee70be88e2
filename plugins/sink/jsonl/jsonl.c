/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonl.c - sink/jsonl: every record as one JSON line, to a file or stdout.
 *
 * Records are serialised straight into an output buffer (host->rec_to_json)
 * that is written in large writes: when it reaches buffer_size, every
 * flush_interval (host->timer), at flush() and on the way out. Files rotate by
 * size (path -> path.1 -> ... -> path.N) only between lines, and reopen() (SIGHUP)
 * reopens the path after an external logrotate. Write errors never stop the
 * pipeline: they are counted, logged rate-limited, and the buffered records are
 * dropped (counted) so a dead disk or a closed pipe cannot make the sink spin
 * or grow without bound.
 *
 * Threads: every callback runs on the loop thread (sinks), never concurrently.
 * Writes are blocking: a slow disk or reader is backpressure on the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netscope/netscope.h"

#include "jsonl.h"

#define JSONL_SLACK 16384 /* buffer room beyond buffer_size for the last line */

struct jsonl_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    struct jsonl_config cfg;
    bool is_stdout;
    int fd;                  /* -1: not open (open failed; retried at the next write) */
    bool regular;            /* a regular file: rotation, fsync and truncation apply  */
    bool broken;             /* the last write stopped mid-line: start with '\n'       */
    uint64_t fsize;          /* bytes in the current file                             */
    uint64_t next_open_ns;   /* monotonic time before which no reopen is tried   */
    uint64_t next_rotate_ns; /* after a failed rotation: no retry before this   */

    char *buf; /* serialised lines waiting to be written */
    size_t blen, bcap;
    uint64_t brecs; /* records in buf */

    char *rot_from, *rot_to; /* scratch for rotated names, rot_size bytes each */
    size_t rot_size;

    ns_counter *records, *bytes, *write_errors, *dropped, *rotations;
};

static uint64_t jsonl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Open (or reopen) the output. Returns 0 or -errno (logged). */
static int jsonl_open(struct jsonl_ctx *c)
{
    if (c->is_stdout) {
        c->fd = STDOUT_FILENO;
    } else {
        c->fd = open(c->cfg.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (c->fd < 0) {
            int err = errno;
            /* Retry at most once a second: a missing directory must not
             * turn every batch into a failing open(). */
            c->next_open_ns = jsonl_now_ns() + 1000000000u;
            ns_log(c->ins, NS_LOG_ERROR | NS_LOG_RATELIMIT, "cannot open %s: %s", c->cfg.path,
                   strerror(err));
            return -err;
        }
    }
    struct stat st;
    c->regular = fstat(c->fd, &st) == 0 && S_ISREG(st.st_mode);
    c->fsize = c->regular ? (uint64_t)st.st_size : 0;
    c->broken = false;
    return 0;
}

static void jsonl_close(struct jsonl_ctx *c)
{
    if (c->fd >= 0 && !c->is_stdout)
        close(c->fd);
    c->fd = -1;
    c->regular = false;
}

/* Write all of p[0..n). Returns 0 or -errno; *done gets the bytes written. */
static int jsonl_write_all(int fd, const char *p, size_t n, size_t *done)
{
    *done = 0;
    while (*done < n) {
        ssize_t w = write(fd, p + *done, n - *done);
        if (w > 0) {
            *done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* A non-blocking stdout inherited from the parent: wait a
             * bounded time for room, then give up on this chunk. */
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) > 0)
                continue;
            return -EAGAIN;
        }
        return w < 0 ? -errno : -EIO;
    }
    return 0;
}

/* Write buf[0..n), which holds `recs` whole records, to the current file.
 * On failure the bytes are dropped and counted: retrying the same bytes
 * against a full disk or a closed pipe would only spin. */
static void jsonl_write(struct jsonl_ctx *c, const char *p, size_t n, uint64_t recs)
{
    if (n == 0)
        return;
    if (c->fd < 0 && (jsonl_now_ns() < c->next_open_ns || jsonl_open(c) < 0)) {
        ns_counter_add(c->dropped, recs);
        return;
    }
    size_t done = 0;
    int rc = 0;
    if (c->broken) {
        /* Finish the torn line of an earlier failure so this one parses. */
        rc = jsonl_write_all(c->fd, "\n", 1, &done);
        if (rc == 0) {
            c->broken = false;
            c->fsize += 1;
        }
    }
    if (rc == 0)
        rc = jsonl_write_all(c->fd, p, n, &done);
    if (rc == 0) {
        c->fsize += n;
        ns_counter_add(c->bytes, n);
        ns_counter_add(c->records, recs);
        if (c->cfg.fsync && c->regular && fsync(c->fd) < 0) {
            ns_counter_inc(c->write_errors);
            ns_log(c->ins, NS_LOG_ERROR | NS_LOG_RATELIMIT, "fsync %s: %s", c->cfg.path,
                   strerror(errno));
        }
        return;
    }
    ns_counter_inc(c->write_errors);
    ns_counter_add(c->dropped, recs);
    ns_log(c->ins, NS_LOG_ERROR | NS_LOG_RATELIMIT, "write to %s failed, %llu records dropped: %s",
           c->cfg.path, (unsigned long long)recs, strerror(-rc));
    if (done > 0) {
        /* A torn line: cut it off a regular file, else terminate it at the
         * next write. */
        if (c->regular && ftruncate(c->fd, (off_t)c->fsize) == 0)
            return;
        c->fsize += done;
        c->broken = true;
    }
}

static void jsonl_flush_buf(struct jsonl_ctx *c)
{
    jsonl_write(c, c->buf, c->blen, c->brecs);
    c->blen = 0;
    c->brecs = 0;
    /* One huge record grew the buffer: give the memory back. */
    size_t want = (size_t)c->cfg.buffer_size + JSONL_SLACK;
    if (c->bcap > 2 * want) {
        char *nb = realloc(c->buf, want);
        if (nb) {
            c->buf = nb;
            c->bcap = want;
        }
    }
}

/* path -> path.1 -> ... -> path.keep (the oldest is replaced by rename), then a
 * fresh path. With keep = 0 the full file is deleted. */
static void jsonl_rotate(struct jsonl_ctx *c)
{
    jsonl_close(c);
    uint64_t keep = c->cfg.rotate_keep;
    if (keep == 0) {
        if (unlink(c->cfg.path) < 0 && errno != ENOENT)
            ns_log(c->ins, NS_LOG_WARN | NS_LOG_RATELIMIT, "rotate: unlink %s: %s", c->cfg.path,
                   strerror(errno));
    } else {
        for (uint64_t i = keep; i >= 1; i--) {
            if (i == 1)
                snprintf(c->rot_from, c->rot_size, "%s", c->cfg.path);
            else
                snprintf(c->rot_from, c->rot_size, "%s.%llu", c->cfg.path,
                         (unsigned long long)(i - 1));
            snprintf(c->rot_to, c->rot_size, "%s.%llu", c->cfg.path, (unsigned long long)i);
            if (rename(c->rot_from, c->rot_to) < 0 && errno != ENOENT)
                ns_log(c->ins, NS_LOG_WARN | NS_LOG_RATELIMIT, "rotate: rename %s: %s", c->rot_from,
                       strerror(errno));
        }
    }
    ns_counter_inc(c->rotations);
    jsonl_open(c);
}

/* Rotate unless a rotation failed recently: when the file cannot be moved
 * (permissions, read-only directory) it stays full, and retrying before
 * every line would turn each record into a dozen failing syscalls. */
static void jsonl_maybe_rotate(struct jsonl_ctx *c)
{
    uint64_t now = jsonl_now_ns();
    if (now < c->next_rotate_ns)
        return;
    jsonl_rotate(c);
    if (c->regular && c->fsize > 0) { /* a fresh file would be empty */
        c->next_rotate_ns = now + 60 * 1000000000ull;
        ns_log(c->ins, NS_LOG_ERROR | NS_LOG_RATELIMIT,
               "cannot rotate %s; appending past rotate_size, next try in 60s", c->cfg.path);
    }
}

static int jsonl_process(void *ctx, struct ns_record **recs, uint32_t n)
{
    struct jsonl_ctx *c = ctx;
    for (uint32_t i = 0; i < n; i++) {
        if (!recs[i])
            continue;
        size_t start = c->blen;
        if (c->h->rec_to_json(recs[i], &c->buf, &c->bcap, &c->blen) < 0) {
            c->blen = start;
            ns_counter_inc(c->dropped);
            ns_log(c->ins, NS_LOG_ERROR | NS_LOG_RATELIMIT, "out of memory serialising a record");
            continue;
        }
        if (c->blen == c->bcap) {
            char *nb = realloc(c->buf, c->bcap + JSONL_SLACK);
            if (!nb) {
                c->blen = start;
                ns_counter_inc(c->dropped);
                continue;
            }
            c->buf = nb;
            c->bcap += JSONL_SLACK;
        }
        c->buf[c->blen++] = '\n';
        /* Rotate between lines: the earlier lines go to the old file, this
         * one starts the new file (alone if it is bigger than rotate_size). */
        if (c->cfg.rotate_size && c->regular && c->fsize + start > 0 &&
            c->fsize + c->blen > c->cfg.rotate_size) {
            jsonl_write(c, c->buf, start, c->brecs);
            memmove(c->buf, c->buf + start, c->blen - start);
            c->blen -= start;
            c->brecs = 0;
            jsonl_maybe_rotate(c);
        }
        c->brecs++;
        if (c->blen >= c->cfg.buffer_size)
            jsonl_flush_buf(c);
    }
    return 0;
}

static void jsonl_timer_cb(void *arg)
{
    jsonl_flush_buf(arg);
}

static int jsonl_flush(void *ctx)
{
    struct jsonl_ctx *c = ctx;
    jsonl_flush_buf(c);
    return 0;
}

static int jsonl_reopen(void *ctx)
{
    struct jsonl_ctx *c = ctx;
    if (c->is_stdout)
        return 0;
    jsonl_flush_buf(c);
    jsonl_close(c);
    int rc = jsonl_open(c);
    if (rc == 0)
        ns_log_info(c->ins, "reopened %s", c->cfg.path);
    return rc;
}

static void jsonl_destroy(void *ctx)
{
    struct jsonl_ctx *c = ctx;
    if (!c)
        return;
    jsonl_flush_buf(c);
    jsonl_close(c);
    free(c->buf);
    free(c->rot_from);
    free(c->rot_to);
    free(c);
}

static int jsonl_init(struct ns_instance *ins, const void *config, void **ctxp)
{
    const struct jsonl_config *cfg = config;
    struct jsonl_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    c->cfg = *cfg;
    c->fd = -1;
    if (!c->cfg.path || !*c->cfg.path)
        c->cfg.path = "-";
    c->is_stdout = strcmp(c->cfg.path, "-") == 0;
    if (c->is_stdout && c->cfg.rotate_size)
        ns_log_warn(ins, "rotate_size ignored: writing to standard output");
    c->rot_size = strlen(c->cfg.path) + 24; /* "." + 20 digits + NUL */
    c->rot_from = malloc(c->rot_size);
    c->rot_to = malloc(c->rot_size);
    c->bcap = (size_t)c->cfg.buffer_size + JSONL_SLACK;
    c->buf = malloc(c->bcap);
    if (!c->rot_from || !c->rot_to || !c->buf) {
        jsonl_destroy(c);
        return -ENOMEM;
    }
    c->records = c->h->counter(ins, "records_total", NULL, "Records written");
    c->bytes = c->h->counter(ins, "bytes_total", NULL, "Bytes written, newlines included");
    c->write_errors = c->h->counter(ins, "write_errors_total", NULL,
                                    "Failed writes and fsyncs (EPIPE, ENOSPC, EIO, ...)");
    c->dropped = c->h->counter(ins, "records_dropped_total", NULL,
                               "Records lost to write errors, a closed output or no memory");
    c->rotations = c->h->counter(ins, "rotations_total", NULL, "Size-based file rotations");
    int rc = jsonl_open(c);
    if (rc < 0) {
        jsonl_destroy(c);
        return rc;
    }
    *ctxp = c;
    return 0;
}

static int jsonl_start(void *ctx)
{
    struct jsonl_ctx *c = ctx;
    if (c->cfg.flush_interval == 0)
        return 0;
    return c->h->timer(c->ins, c->cfg.flush_interval, jsonl_timer_cb, c);
}

static int jsonl_stop(void *ctx)
{
    jsonl_flush_buf(ctx);
    return 0;
}

static const struct ns_option jsonl_options[] = {
    {.name = "path",
     .type = NS_OPT_PATH,
     .def = "-",
     .offset = offsetof(struct jsonl_config, path),
     .doc = "File the JSON lines are appended to (created 0640); \"-\" is standard output."},
    {.name = "rotate_size",
     .type = NS_OPT_SIZE,
     .def = "0",
     .offset = offsetof(struct jsonl_config, rotate_size),
     .doc = "Rotate the file before a line would make it larger than this; 0 never rotates. "
            "Lines are never split across files."},
    {.name = "rotate_keep",
     .type = NS_OPT_UINT,
     .def = "5",
     .max = 1000,
     .offset = offsetof(struct jsonl_config, rotate_keep),
     .doc = "Rotated files kept as path.1 (newest) .. path.N; the oldest is deleted. 0 keeps "
            "none."},
    {.name = "buffer_size",
     .type = NS_OPT_SIZE,
     .def = "64KiB",
     .max = 256.0 * 1024 * 1024,
     .offset = offsetof(struct jsonl_config, buffer_size),
     .doc = "Output is buffered and written in writes of about this size; 0 writes every "
            "record at once."},
    {.name = "flush_interval",
     .type = NS_OPT_DURATION,
     .def = "1s",
     .offset = offsetof(struct jsonl_config, flush_interval),
     .doc = "Buffered lines are written at least this often; 0 only when the buffer fills "
            "and at shutdown."},
    {.name = "fsync",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = offsetof(struct jsonl_config, fsync),
     .doc = "fsync the file after every write (durable, much slower)."},
    NS_OPT_END,
};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SINK, .name = "jsonl", .version = "0.1.0",
                 .summary = "Records as JSON lines to a file (rotated by size) or stdout",
                 .options = jsonl_options, .config_size = sizeof(struct jsonl_config),
                 .init = jsonl_init, .start = jsonl_start, .stop = jsonl_stop,
                 .destroy = jsonl_destroy, .process = jsonl_process, .flush = jsonl_flush,
                 .reopen = jsonl_reopen);
