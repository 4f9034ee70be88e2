/* SPDX-License-Identifier: Apache-2.0 */
/* tiny_symbol.c - refused fixture decoder/tiny: `ns_plugin` is a 4-byte int, not a descriptor. */
#include "netscope/ns_plugin.h"

NS_EXPORT extern const int ns_plugin;
NS_EXPORT const int ns_plugin = 1;
