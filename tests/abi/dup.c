/* SPDX-License-Identifier: Apache-2.0 */
/* dup.c - fixture enricher/dup, built into two directories of the path (a duplicate). */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = NS_KIND_ENRICHER, .name = "dup", .version = "1.0.0",
                 .summary = "fixture found twice on the path", .init = fx_init,
                 .process = fx_process, .destroy = fx_destroy);
