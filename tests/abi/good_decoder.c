/* SPDX-License-Identifier: Apache-2.0 */
/*
 * good_decoder.c - fixture decoder/fx: one option of every type and flag, so the
 * option tests (tests/core/test_graph.c, tests/cli) can exercise each of them
 * through a real loaded descriptor.
 */
#include <stdbool.h>
#include <stdint.h>

#include "fx_common.h"

struct fxdec_config {
    bool flag;
    int64_t delta;
    uint64_t count;
    double ratio;
    uint64_t buffer;
    uint64_t timeout;
    char *label;
    int mode;
    struct ns_strlist tags;
    char *path;
    char *token;
    uint64_t old_count;
    bool live;
};

static const char *const fxdec_modes[] = {"fast", "safe", "paranoid", NULL};

static const struct ns_option fxdec_options[] = {
    {.name = "flag",
     .type = NS_OPT_BOOL,
     .def = "false",
     .offset = offsetof(struct fxdec_config, flag),
     .doc = "A boolean."},
    {.name = "delta",
     .type = NS_OPT_INT,
     .def = "-5",
     .min = -100,
     .max = 100,
     .offset = offsetof(struct fxdec_config, delta),
     .doc = "A signed integer."},
    {.name = "count",
     .type = NS_OPT_UINT,
     .def = "16",
     .min = 1,
     .max = 256,
     .offset = offsetof(struct fxdec_config, count),
     .doc = "An unsigned integer."},
    {.name = "ratio",
     .type = NS_OPT_DOUBLE,
     .def = "0.5",
     .flags = NS_OPT_HAS_MIN,
     .min = 0,
     .max = 1,
     .offset = offsetof(struct fxdec_config, ratio),
     .doc = "A fraction."},
    {.name = "buffer",
     .type = NS_OPT_SIZE,
     .def = "64KiB",
     .min = 4096,
     .max = 1073741824.0,
     .offset = offsetof(struct fxdec_config, buffer),
     .doc = "A size."},
    {.name = "timeout",
     .type = NS_OPT_DURATION,
     .def = "30s",
     .min = 1e6,
     .max = 3600e9,
     .offset = offsetof(struct fxdec_config, timeout),
     .doc = "A duration."},
    {.name = "label",
     .type = NS_OPT_STRING,
     .def = "fx",
     .offset = offsetof(struct fxdec_config, label),
     .doc = "A \"quoted\" string."},
    {.name = "mode",
     .type = NS_OPT_ENUM,
     .def = "safe",
     .choices = fxdec_modes,
     .offset = offsetof(struct fxdec_config, mode),
     .doc = "An enum."},
    {.name = "tags",
     .type = NS_OPT_STRING_LIST,
     .max = 4,
     .offset = offsetof(struct fxdec_config, tags),
     .doc = "A list of strings."},
    {.name = "path",
     .type = NS_OPT_PATH,
     .offset = offsetof(struct fxdec_config, path),
     .doc = "A path."},
    {.name = "token",
     .type = NS_OPT_STRING,
     .flags = NS_OPT_SECRET,
     .def = "hunter2",
     .offset = offsetof(struct fxdec_config, token),
     .doc = "A secret."},
    {.name = "old_count",
     .type = NS_OPT_UINT,
     .flags = NS_OPT_DEPRECATED,
     .alias = "count",
     .offset = offsetof(struct fxdec_config, old_count),
     .doc = "Deprecated."},
    {.name = "live",
     .type = NS_OPT_BOOL,
     .flags = NS_OPT_RELOADABLE,
     .offset = offsetof(struct fxdec_config, live),
     .doc = "Reloadable."},
    NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "fx", .version = "1.2.3",
                 .summary = "fixture decoder with every option type", .options = fxdec_options,
                 .config_size = sizeof(struct fxdec_config), .init = fx_init,
                 .process_packets = fx_process_packets, .destroy = fx_destroy);
