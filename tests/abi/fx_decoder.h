/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fx_decoder.h - the option block of the fixture decoder/fx (good_decoder.c),
 * shared with tests/core/test_graph.c so the test can read the parsed values.
 */
#ifndef NS_FX_DECODER_H
#define NS_FX_DECODER_H

#include <stdbool.h>
#include <stdint.h>

#include "netscope/ns_option.h"

struct fxdec_config {
    bool flag;
    int64_t delta;
    uint64_t count;
    double ratio;
    uint64_t buffer;
    uint64_t timeout;
    char *label;
    int mode;
    struct ns_strlist tags;
    char *path;
    char *token;
    uint64_t old_count;
    bool live;
};

#endif
