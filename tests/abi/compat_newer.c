/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compat_newer.c - accepted fixture sink/newer: built "against a newer minor"
 * (1.<minor+1>) whose descriptor has grown by four pointers. The core must load
 * it and copy only the part of the descriptor it knows.
 */
#include "fx_common.h"

struct newer_desc {
    struct ns_plugin_desc d;
    void *appended[4];
};

NS_EXPORT extern const struct newer_desc ns_plugin;
NS_EXPORT const struct newer_desc ns_plugin = {
    .d = {.abi_major = NS_ABI_MAJOR,
          .abi_minor = NS_ABI_MINOR + 1,
          .desc_size = sizeof(struct newer_desc),
          .kind = NS_KIND_SINK,
          .name = "newer",
          .version = "9.0.0",
          .summary = "fixture from a newer ABI minor",
          .init = fx_init,
          .process = fx_process,
          .destroy = fx_destroy},
    .appended = {(void *)1, (void *)2, (void *)3, (void *)4}};
