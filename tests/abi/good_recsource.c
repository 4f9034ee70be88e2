/* SPDX-License-Identifier: Apache-2.0 */
/* good_recsource.c - fixture source/fxrec: a record source (NS_PLUGIN_EMITS_RECORDS). */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "fxrec", .version = "1.0.0",
                 .summary = "fixture record source", .flags = NS_PLUGIN_EMITS_RECORDS,
                 .init = fx_init, .run = fx_run, .destroy = fx_destroy);
