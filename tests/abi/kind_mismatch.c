/* SPDX-License-Identifier: Apache-2.0 */
/* kind_mismatch.c - refused fixture: built as ns-sink-kindmix.so, says it is a decoder. */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "kindmix", .version = "1.0.0", .init = fx_init,
                 .process_packets = fx_process_packets, .process = fx_process,
                 .destroy = fx_destroy);
