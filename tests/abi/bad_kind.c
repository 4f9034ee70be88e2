/* SPDX-License-Identifier: Apache-2.0 */
/* bad_kind.c - refused fixture detector/badkind: the descriptor's kind is out of range (42). */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = (enum ns_kind)42, .name = "badkind", .version = "1.0.0",
                 .process = fx_process);
