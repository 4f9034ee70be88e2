/* SPDX-License-Identifier: Apache-2.0 */
/* good_enricher.c - fixture enricher/fx. */
#include "fx_common.h"

struct fxenr_config {
    char *field;
};

static const struct ns_option fxenr_options[] = {{.name = "field",
                                                  .type = NS_OPT_STRING,
                                                  .def = "fx",
                                                  .offset = offsetof(struct fxenr_config, field),
                                                  .doc = "Field to add."},
                                                 NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_ENRICHER, .name = "fx", .version = "1.0.0",
                 .summary = "fixture enricher", .options = fxenr_options,
                 .config_size = sizeof(struct fxenr_config), .init = fx_init, .process = fx_process,
                 .destroy = fx_destroy);
