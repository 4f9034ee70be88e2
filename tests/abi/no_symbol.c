/* SPDX-License-Identifier: Apache-2.0 */
/* no_symbol.c - refused fixture decoder/nosym: a shared object without `ns_plugin`. */
#include "fx_common.h"

NS_EXPORT extern const struct ns_plugin_desc ns_plugin_v1;
NS_EXPORT const struct ns_plugin_desc ns_plugin_v1 = {.abi_major = NS_ABI_MAJOR,
                                                      .abi_minor = NS_ABI_MINOR,
                                                      .desc_size = sizeof(struct ns_plugin_desc),
                                                      .kind = NS_KIND_DECODER,
                                                      .name = "nosym",
                                                      .process_packets = fx_process_packets};
