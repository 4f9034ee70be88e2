/* SPDX-License-Identifier: Apache-2.0 */
/* bad_major.c - refused fixture decoder/badmajor: built for plugin ABI 99.7. */
#include "fx_common.h"

NS_EXPORT extern const struct ns_plugin_desc ns_plugin;
NS_EXPORT const struct ns_plugin_desc ns_plugin = {.abi_major = 99,
                                                   .abi_minor = 7,
                                                   .desc_size = sizeof(struct ns_plugin_desc),
                                                   .kind = NS_KIND_DECODER,
                                                   .name = "badmajor",
                                                   .version = "1.0.0",
                                                   .init = fx_init,
                                                   .process_packets = fx_process_packets,
                                                   .destroy = fx_destroy};
