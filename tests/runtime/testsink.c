/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink/testsink - a test fixture: writes records as JSON lines to `path`, can
 * be slow (sleeps per batch, to build backpressure) or fail its init.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "netscope/ns_plugin.h"

struct sink_config {
    char *path;
    uint64_t delay;
    bool fail_init;
};

struct sink_ctx {
    struct ns_instance *ins;
    const struct sink_config *cfg;
    FILE *f;
    char *buf;
    size_t cap;
};

static int sink_init(struct ns_instance *ins, const void *config, void **ctx)
{
    const struct sink_config *cfg = config;
    if (cfg->fail_init) {
        ns_log_error(ins, "failing init as configured (fail_init: true)");
        return -EINVAL;
    }
    struct sink_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->cfg = cfg;
    c->f = fopen(cfg->path, "w");
    if (!c->f) {
        int e = errno;
        ns_log_error(ins, "cannot open %s", cfg->path);
        free(c);
        return -e;
    }
    *ctx = c;
    return 0;
}

static int sink_process(void *ctx, struct ns_record **recs, uint32_t n)
{
    struct sink_ctx *c = ctx;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = 0;
        if (c->ins->host->rec_to_json(recs[i], &c->buf, &c->cap, &len) == 0) {
            fwrite(c->buf, 1, len, c->f);
            fputc('\n', c->f);
        }
    }
    fflush(c->f); /* tests read the file while the pipeline runs */
    if (c->cfg->delay) {
        struct timespec ts = {(time_t)(c->cfg->delay / 1000000000u),
                              (long)(c->cfg->delay % 1000000000u)};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int sink_flush(void *ctx)
{
    struct sink_ctx *c = ctx;
    fflush(c->f);
    return 0;
}

static void sink_destroy(void *ctx)
{
    struct sink_ctx *c = ctx;
    if (!c)
        return;
    fclose(c->f);
    free(c->buf);
    free(c);
}

static const struct ns_option sink_options[] = {{.name = "path",
                                                 .type = NS_OPT_PATH,
                                                 .flags = NS_OPT_REQUIRED,
                                                 .offset = offsetof(struct sink_config, path),
                                                 .doc = "Output file."},
                                                {.name = "delay",
                                                 .type = NS_OPT_DURATION,
                                                 .def = "0",
                                                 .offset = offsetof(struct sink_config, delay),
                                                 .doc = "Sleep after each batch."},
                                                {.name = "fail_init",
                                                 .type = NS_OPT_BOOL,
                                                 .def = "false",
                                                 .offset = offsetof(struct sink_config, fail_init),
                                                 .doc = "Make init fail."},
                                                NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SINK, .name = "testsink", .version = "1.0.0",
                 .summary = "Test fixture: JSON lines to a file, optionally slow or failing",
                 .options = sink_options, .config_size = sizeof(struct sink_config),
                 .init = sink_init, .process = sink_process, .flush = sink_flush,
                 .destroy = sink_destroy);
