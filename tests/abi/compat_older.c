/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compat_older.c - accepted fixture sink/older: a descriptor that claims the
 * shortest size the core accepts (up to and including `flush`). Members after
 * that (reopen) are set here but must read as NULL in the core's copy.
 */
#include "fx_common.h"

static int older_reopen(void *ctx)
{
    (void)ctx;
    return 0;
}

NS_EXPORT extern const struct ns_plugin_desc ns_plugin;
NS_EXPORT const struct ns_plugin_desc ns_plugin = {
    .abi_major = NS_ABI_MAJOR,
    .abi_minor = 0,
    .desc_size = offsetof(struct ns_plugin_desc, flush) + sizeof(void *),
    .kind = NS_KIND_SINK,
    .name = "older",
    .version = "0.9.0",
    .summary = "fixture with the shortest accepted descriptor",
    .init = fx_init,
    .process = fx_process,
    .destroy = fx_destroy,
    .reopen = older_reopen};
