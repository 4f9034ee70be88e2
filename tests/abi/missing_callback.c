/* SPDX-License-Identifier: Apache-2.0 */
/* missing_callback.c - refused fixture enricher/nocb: an enricher without `process`. */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = NS_KIND_ENRICHER, .name = "nocb", .version = "1.0.0", .init = fx_init,
                 .process_packets = fx_process_packets, .destroy = fx_destroy);
