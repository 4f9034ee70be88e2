/* SPDX-License-Identifier: Apache-2.0 */
/* name_mismatch.c - refused fixture: built as ns-decoder-namemix.so, says its name is "other". */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "other", .version = "1.0.0", .init = fx_init,
                 .process_packets = fx_process_packets, .destroy = fx_destroy);
