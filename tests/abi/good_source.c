/* SPDX-License-Identifier: Apache-2.0 */
/* good_source.c - fixture source/fx: a packet source that finishes at once. */
#include <stdint.h>

#include "fx_common.h"

struct fxsrc_config {
    char *file;
    uint64_t loops;
};

static const struct ns_option fxsrc_options[] = {{.name = "file",
                                                  .type = NS_OPT_PATH,
                                                  .offset = offsetof(struct fxsrc_config, file),
                                                  .doc = "A capture file (ignored)."},
                                                 {.name = "loops",
                                                  .type = NS_OPT_UINT,
                                                  .def = "0",
                                                  .max = 10,
                                                  .offset = offsetof(struct fxsrc_config, loops),
                                                  .doc = "Times to replay (ignored)."},
                                                 NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "fx", .version = "1.0.0",
                 .summary = "fixture packet source", .options = fxsrc_options,
                 .config_size = sizeof(struct fxsrc_config), .init = fx_init, .run = fx_run,
                 .destroy = fx_destroy);
