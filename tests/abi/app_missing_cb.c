/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app_missing_cb.c - refused fixture decoder/appnodata: an application-layer
 * decoder (NS_PLUGIN_APP) with app_probe but without app_data.
 */
#include "fx_common.h"

static int appnodata_probe(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir,
                           const uint8_t *data, size_t len, uint64_t ts_ns)
{
    (void)ctx;
    (void)f;
    (void)dir;
    (void)data;
    (void)len;
    (void)ts_ns;
    return NS_DECLINED;
}

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "appnodata", .version = "1.0.0",
                 .flags = NS_PLUGIN_APP, .init = fx_init, .app_probe = appnodata_probe,
                 .process_packets = fx_process_packets, .destroy = fx_destroy);
