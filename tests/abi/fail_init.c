/* SPDX-License-Identifier: Apache-2.0 */
/* fail_init.c - fixture sink/failinit: loads fine, but init always fails (-EACCES). */
#include "fx_common.h"

static int failinit_init(struct ns_instance *ins, const void *config, void **ctx)
{
    (void)ins;
    (void)config;
    (void)ctx;
    return -EACCES;
}

NS_PLUGIN_DEFINE(.kind = NS_KIND_SINK, .name = "failinit", .version = "1.0.0",
                 .summary = "fixture sink whose init fails", .init = failinit_init,
                 .process = fx_process, .destroy = fx_destroy);
