/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fx_common.h - shared do-nothing callbacks for the ABI test fixtures.
 *
 * Every fixture .so in tests/abi includes this header; the core only ever calls
 * these through a descriptor (loop thread for init/destroy, the stage's thread
 * for process). They keep no state, so a fixture can be loaded many times.
 */
#ifndef NS_FX_COMMON_H
#define NS_FX_COMMON_H

#include <errno.h>
#include <stddef.h>

#include "netscope/ns_plugin.h"

static inline int fx_init(struct ns_instance *ins, const void *config, void **ctx)
{
    (void)ins;
    (void)config;
    *ctx = NULL;
    return 0;
}

static inline void fx_destroy(void *ctx)
{
    (void)ctx;
}

/* Sources: nothing to capture, so the source is finished at once. */
static inline int fx_run(void *ctx)
{
    (void)ctx;
    return 0;
}

static inline int fx_process_packets(void *ctx, const struct ns_packet *pkts, uint32_t n)
{
    (void)ctx;
    (void)pkts;
    (void)n;
    return 0;
}

static inline int fx_process(void *ctx, struct ns_record **recs, uint32_t n)
{
    (void)ctx;
    (void)recs;
    (void)n;
    return 0;
}

#endif
