/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_jsonl.c - sink/jsonl against the fake host: lines in a file, buffering
 * and the flush timer, size rotation with the keep count, reopen after an
 * external rename, and write errors (closed pipe, full disk) that must be
 * counted without crashing or spinning. jsonl.c is compiled into this test.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonl.h"
#include "ns_fake_host.h"
#include "ns_rec.h"

extern const struct ns_plugin_desc ns_plugin;

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ns_jsonl_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/out.jsonl", dir);
    ns_fake_set_quiet(true);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    ns_fake_reset();
}

static struct jsonl_config defaults(const char *p)
{
    return (struct jsonl_config){
        .path = (char *)p,
        .rotate_size = 0,
        .rotate_keep = 5,
        .buffer_size = 64 * 1024,
        .flush_interval = 1000000000ull,
        .fsync = false,
    };
}

/* Records numbered by the "n" field, so files can be checked for order. */
static void feed(void *ctx, uint64_t first, uint64_t count, size_t pad)
{
    char *padding = malloc(pad + 1);
    memset(padding, 'p', pad);
    padding[pad] = 0;
    struct ns_record *batch[16];
    uint32_t nb = 0;
    for (uint64_t i = first; i < first + count; i++) {
        struct ns_record *r = ns_rec_new(NS_REC_FLOW, i * 1000);
        ns_rec_add_uint(r, "n", i);
        ns_rec_add_cstr(r, "pad", padding);
        batch[nb++] = r;
        if (nb == 16 || i + 1 == first + count) {
            cr_assert_eq(ns_plugin.process(ctx, batch, nb), 0);
            /* Sinks never release: the core does, after process(). */
            for (uint32_t k = 0; k < nb; k++)
                ns_rec_release(batch[k]);
            nb = 0;
        }
    }
    free(padding);
}

static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Check every line of file p is valid JSON whose "n" follows *next; returns
 * the number of lines. */
static size_t check_lines(const char *p, uint64_t *next)
{
    size_t len, lines = 0;
    char *b = slurp(p, &len);
    cr_assert_not_null(b, "missing %s", p);
    cr_assert(len == 0 || b[len - 1] == '\n', "%s ends mid-line", p);
    char *s = b;
    while (s < b + len) {
        char *nl = memchr(s, '\n', (size_t)(b + len - s));
        cr_assert_not_null(nl);
        const char *err = ns_fake_json_check(s, (size_t)(nl - s));
        cr_assert_null(err, "%s line %zu: %s", p, lines + 1, err);
        char *np = strstr(s, "\"n\":");
        cr_assert(np && np < nl);
        uint64_t n = strtoull(np + 4, NULL, 10);
        if (next) {
            cr_assert_eq(n, *next, "%s line %zu: n=%llu, want %llu", p, lines + 1,
                         (unsigned long long)n, (unsigned long long)*next);
            (*next)++;
        }
        lines++;
        s = nl + 1;
    }
    free(b);
    return lines;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

Test(jsonl, descriptor)
{
    cr_assert_eq(ns_plugin.kind, NS_KIND_SINK);
    cr_assert_str_eq(ns_plugin.name, "jsonl");
    cr_assert_eq(ns_plugin.config_size, sizeof(struct jsonl_config));
    cr_assert_not_null(ns_plugin.process);
    cr_assert_not_null(ns_plugin.reopen);
    const char *want[] = {"path",        "rotate_size",    "rotate_keep",
                          "buffer_size", "flush_interval", "fsync"};
    size_t i = 0;
    for (const struct ns_option *o = ns_plugin.options; o->name; o++, i++)
        cr_assert_str_eq(o->name, want[i]);
    cr_assert_eq(i, 6);
}

Test(jsonl, file_gets_n_valid_lines, .init = setup, .fini = teardown)
{
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(path);
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    cr_assert_eq(ns_plugin.start(ctx), 0);
    feed(ctx, 0, 1000, 10);
    cr_assert_eq(ns_plugin.flush(ctx), 0);
    uint64_t next = 0;
    cr_assert_eq(check_lines(path, &next), 1000);
    cr_assert_eq(ns_fake_counter_value("records_total", NULL), 1000);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(ns_fake_counter_value("bytes_total", NULL), (uint64_t)st.st_size);
    cr_assert_eq(ns_fake_counter_value("write_errors_total", NULL), 0);
    cr_assert_eq(st.st_mode & 0777, 0640);
    ns_plugin.stop(ctx);
    ns_plugin.destroy(ctx);
}

Test(jsonl, buffered_until_timer, .init = setup, .fini = teardown)
{
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(path);
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    cr_assert_eq(ns_plugin.start(ctx), 0);
    cr_assert_eq(ns_fake_timer_count(), 1);
    cr_assert_eq(ns_fake_timer_interval(0), 1000000000ull);
    feed(ctx, 0, 10, 10);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 0, "10 small records stay in the buffer");
    cr_assert_eq(ns_fake_counter_value("records_total", NULL), 0);
    ns_fake_fire_timers();
    uint64_t next = 0;
    cr_assert_eq(check_lines(path, &next), 10);
    cr_assert_eq(ns_fake_counter_value("records_total", NULL), 10);
    /* Past buffer_size the sink writes on its own. */
    feed(ctx, 10, 2000, 100);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_gt(st.st_size, 64 * 1024);
    ns_plugin.destroy(ctx); /* destroy flushes the rest */
    next = 0;
    cr_assert_eq(check_lines(path, &next), 2010);
}

Test(jsonl, unbuffered, .init = setup, .fini = teardown)
{
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(path);
    cfg.buffer_size = 0;
    cfg.flush_interval = 0;
    cfg.fsync = true;
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    cr_assert_eq(ns_plugin.start(ctx), 0);
    cr_assert_eq(ns_fake_timer_count(), 0);
    feed(ctx, 0, 5, 1);
    uint64_t next = 0;
    cr_assert_eq(check_lines(path, &next), 5, "written at once");
    ns_plugin.destroy(ctx);
}

Test(jsonl, rotation_by_size, .init = setup, .fini = teardown)
{
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(path);
    cfg.rotate_size = 4096;
    cfg.rotate_keep = 3;
    cfg.buffer_size = 1500; /* not a multiple of the line length */
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    feed(ctx, 0, 600, 70);
    ns_plugin.flush(ctx);
    char p[160];
    for (int i = 1; i <= 3; i++) {
        snprintf(p, sizeof(p), "%s.%d", path, i);
        cr_assert(exists(p), "%s missing", p);
    }
    snprintf(p, sizeof(p), "%s.4", path);
    cr_assert_not(exists(p), "keep=3 leaves no .4");
    /* Oldest to newest: .3 .2 .1 path, consecutive numbers, ending at 599,
     * every file within the size bound and ending on a line boundary. */
    uint64_t next = UINT64_MAX;
    size_t len;
    snprintf(p, sizeof(p), "%s.3", path);
    char *b = slurp(p, &len);
    next = strtoull(strstr(b, "\"n\":") + 4, NULL, 10);
    free(b);
    cr_assert_gt(next, 0, "early files were deleted");
    for (int i = 3; i >= 0; i--) {
        if (i)
            snprintf(p, sizeof(p), "%s.%d", path, i);
        else
            snprintf(p, sizeof(p), "%s", path);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0);
        cr_assert_leq(st.st_size, 4096, "%s is %lld bytes", p, (long long)st.st_size);
        cr_assert_gt(check_lines(p, &next), 0);
    }
    cr_assert_eq(next, 600);
    cr_assert_gt(ns_fake_counter_value("rotations_total", NULL), 3);
    cr_assert_eq(ns_fake_counter_value("records_total", NULL), 600);
    cr_assert_eq(ns_fake_counter_value("records_dropped_total", NULL), 0);
    ns_plugin.destroy(ctx);
}

Test(jsonl, rotation_line_bigger_than_limit, .init = setup, .fini = teardown)
{
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(path);
    cfg.rotate_size = 100;
    cfg.rotate_keep = 0; /* keep none: the full file is deleted */
    cfg.buffer_size = 0;
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    feed(ctx, 0, 3, 500);
    ns_plugin.flush(ctx);
    uint64_t next = 2;
    cr_assert_eq(check_lines(path, &next), 1, "one oversized line per file, never split");
    char p[160];
    snprintf(p, sizeof(p), "%s.1", path);
    cr_assert_not(exists(p));
    ns_plugin.destroy(ctx);
}

Test(jsonl, rotation_counts_existing_file, .init = setup, .fini = teardown)
{
    /* A file that is already there counts toward rotate_size. */
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 50; i++)
        fputs("{\"n\":0}\n", f);
    fclose(f);
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(path);
    cfg.rotate_size = 420;
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    feed(ctx, 0, 1, 100);
    ns_plugin.flush(ctx);
    char p[160];
    snprintf(p, sizeof(p), "%s.1", path);
    cr_assert_eq(check_lines(p, NULL), 50);
    uint64_t next = 0;
    cr_assert_eq(check_lines(path, &next), 1);
    ns_plugin.destroy(ctx);
}

Test(jsonl, reopen_after_rename, .init = setup, .fini = teardown)
{
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(path);
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    feed(ctx, 0, 10, 5);
    ns_plugin.flush(ctx);
    char old[160];
    snprintf(old, sizeof(old), "%s.old", path);
    cr_assert_eq(rename(path, old), 0);     /* what logrotate does */
    feed(ctx, 10, 10, 5);                   /* still buffered ... */
    cr_assert_eq(ns_plugin.reopen(ctx), 0); /* ... and written to the old file */
    feed(ctx, 20, 10, 5);
    ns_plugin.flush(ctx);
    uint64_t next = 0;
    cr_assert_eq(check_lines(old, &next), 20);
    cr_assert_eq(check_lines(path, &next), 10);
    ns_plugin.destroy(ctx);
}

Test(jsonl, closed_pipe_is_counted, .init = setup, .fini = teardown)
{
    signal(SIGPIPE, SIG_IGN);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fds[1]);
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(p);
    cfg.rotate_size = 100; /* ignored: not a regular file */
    cfg.fsync = true;      /* ignored: not a regular file */
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    feed(ctx, 0, 5, 5);
    ns_plugin.flush(ctx);
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    cr_assert_gt(n, 0);
    cr_assert_eq(ns_fake_counter_value("records_total", NULL), 5);
    close(fds[0]); /* the reader goes away */
    for (int round = 0; round < 3; round++) {
        feed(ctx, 5, 100, 50);
        ns_plugin.flush(ctx);
    }
    cr_assert_geq(ns_fake_counter_value("write_errors_total", NULL), 3);
    cr_assert_eq(ns_fake_counter_value("records_dropped_total", NULL), 300);
    cr_assert_eq(ns_fake_counter_value("records_total", NULL), 5);
    cr_assert_gt(ns_fake_log_count(NS_LOG_ERROR), 0);
    ns_plugin.destroy(ctx);
    close(fds[1]);
}

Test(jsonl, full_disk_is_counted, .init = setup, .fini = teardown)
{
    if (!exists("/dev/full"))
        cr_skip_test("no /dev/full");
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults("/dev/full");
    cfg.buffer_size = 100;
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    feed(ctx, 0, 50, 20);
    ns_plugin.flush(ctx);
    cr_assert_gt(ns_fake_counter_value("write_errors_total", NULL), 0);
    cr_assert_eq(ns_fake_counter_value("records_dropped_total", NULL), 50);
    cr_assert_eq(ns_fake_counter_value("records_total", NULL), 0);
    ns_plugin.destroy(ctx);
}

Test(jsonl, stdout_default, .init = setup, .fini = teardown)
{
    /* "-" (and a NULL path) write to fd 1: point it at a file for the test. */
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    fflush(stdout);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(NULL);
    cfg.rotate_size = 10; /* ignored for stdout, with a warning */
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    cr_assert_eq(ns_fake_log_count(NS_LOG_WARN), 1);
    feed(ctx, 0, 20, 5);
    cr_assert_eq(ns_plugin.reopen(ctx), 0, "a no-op for stdout");
    ns_plugin.destroy(ctx);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    uint64_t next = 0;
    cr_assert_eq(check_lines(path, &next), 20);
    char p[160];
    snprintf(p, sizeof(p), "%s.1", path);
    cr_assert_not(exists(p));
}

Test(jsonl, unopenable_path_fails_init, .init = setup, .fini = teardown)
{
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    char p[160];
    snprintf(p, sizeof(p), "%s/no/such/dir/out.jsonl", dir);
    struct jsonl_config cfg = defaults(p);
    void *ctx = NULL;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), -ENOENT);
    cr_assert_eq(ns_fake_log_count(NS_LOG_ERROR), 1);
}

Test(jsonl, lost_directory_drops_and_recovers, .init = setup, .fini = teardown)
{
    /* Rotation cannot reopen (directory gone): records are dropped and
     * counted, nothing crashes; once the directory is back the sink
     * recovers on a later write. */
    char sub[128], p[160];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(p, sizeof(p), "%s/out.jsonl", sub);
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(p);
    cfg.buffer_size = 0;
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    feed(ctx, 0, 1, 5);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sub);
    cr_assert_eq(system(cmd), 0);
    cr_assert_lt(ns_plugin.reopen(ctx), 0);
    feed(ctx, 1, 10, 5);
    cr_assert_eq(ns_fake_counter_value("records_dropped_total", NULL), 10);
    ns_plugin.destroy(ctx);
}

Test(jsonl, failed_rotation_backs_off, .init = setup, .fini = teardown)
{
    /* path.1 is a non-empty directory: rename(path, path.1) fails even for
     * root. The sink keeps appending and does not retry on every line. */
    char p[160];
    snprintf(p, sizeof(p), "%s.1", path);
    cr_assert_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s.1/x", path);
    FILE *f = fopen(p, "w");
    fclose(f);
    struct ns_instance *ins = ns_fake_instance("sink/jsonl", "out");
    struct jsonl_config cfg = defaults(path);
    cfg.rotate_size = 200;
    cfg.rotate_keep = 1;
    cfg.buffer_size = 0;
    void *ctx;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    feed(ctx, 0, 20, 60);
    uint64_t next = 0;
    cr_assert_eq(check_lines(path, &next), 20, "nothing lost");
    cr_assert_eq(ns_fake_counter_value("rotations_total", NULL), 1, "one attempt, then back off");
    cr_assert_eq(ns_fake_counter_value("records_total", NULL), 20);
    cr_assert_geq(ns_fake_log_count(NS_LOG_ERROR), 1);
    ns_plugin.destroy(ctx);
}
