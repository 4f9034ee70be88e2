/* SPDX-License-Identifier: Apache-2.0 */
/* good_detector.c - fixture detector/fx: one required option ('threshold'). */
#include <stdint.h>

#include "fx_common.h"

struct fxdet_config {
    uint64_t threshold;
    uint64_t window;
};

static const struct ns_option fxdet_options[] = {
    {.name = "threshold",
     .type = NS_OPT_UINT,
     .flags = NS_OPT_REQUIRED,
     .min = 1,
     .offset = offsetof(struct fxdet_config, threshold),
     .doc = "Alert above this."},
    {.name = "window",
     .type = NS_OPT_DURATION,
     .def = "1m",
     .offset = offsetof(struct fxdet_config, window),
     .doc = "Window length."},
    NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_DETECTOR, .name = "fx", .version = "1.0.0",
                 .summary = "fixture detector", .options = fxdet_options,
                 .config_size = sizeof(struct fxdet_config), .init = fx_init, .process = fx_process,
                 .destroy = fx_destroy);
