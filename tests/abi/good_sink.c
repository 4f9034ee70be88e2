/* SPDX-License-Identifier: Apache-2.0 */
/* good_sink.c - fixture sink/fx: takes no options. */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = NS_KIND_SINK, .name = "fx", .version = "1.0.0", .summary = "fixture sink",
                 .init = fx_init, .process = fx_process, .destroy = fx_destroy);
