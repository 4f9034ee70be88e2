/* SPDX-License-Identifier: Apache-2.0 */
/* missing_source_cb.c - refused fixture source/norun: a source with neither run nor start. */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = NS_KIND_SOURCE, .name = "norun", .version = "1.0.0", .init = fx_init,
                 .process = fx_process, .destroy = fx_destroy);
