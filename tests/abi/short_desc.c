/* SPDX-License-Identifier: Apache-2.0 */
/*
 * short_desc.c - refused fixture decoder/shortdesc: the exported object really is
 * only the first five members of the descriptor (desc_size 24), so a loader that
 * read past desc_size would trip AddressSanitizer's global redzone.
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
                                               .desc_size = sizeof(struct short_desc),
                                               .kind = NS_KIND_DECODER,
                                               .name = "shortdesc"};
