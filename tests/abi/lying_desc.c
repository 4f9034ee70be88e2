/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lying_desc.c - refused fixture decoder/liar: desc_size claims the full
 * descriptor, but the exported object holds only its first five members. A
 * loader that trusted desc_size would copy past the end of the object.
 */
#include "netscope/ns_plugin.h"

struct short_desc {
    uint32_t abi_major, abi_minor;
    uint32_t desc_size;
    enum ns_kind kind;
    const char *name;
};

NS_EXPORT extern const struct short_desc ns_plugin;
NS_EXPORT const struct short_desc ns_plugin = {.abi_major = NS_ABI_MAJOR,
                                               .abi_minor = NS_ABI_MINOR,
                                               .desc_size = sizeof(struct ns_plugin_desc),
                                               .kind = NS_KIND_DECODER,
                                               .name = "liar"};
