/* SPDX-License-Identifier: Apache-2.0 */
/* no_name.c - refused fixture sink/noname: the descriptor's name is empty. */
#include "fx_common.h"

NS_PLUGIN_DEFINE(.kind = NS_KIND_SINK, .name = "", .version = "1.0.0", .process = fx_process);
