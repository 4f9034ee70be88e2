/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonl.h - private to sink/jsonl: its option block, shared with the unit tests
 * (tests/sink_jsonl), which fill it by hand instead of going through the core's
 * option parser.
 */
#ifndef NS_SINK_JSONL_H
#define NS_SINK_JSONL_H

#include <stdbool.h>
#include <stdint.h>

struct jsonl_config {
    char *path;              /* "-" = stdout                                 */
    uint64_t rotate_size;    /* bytes; 0 = never rotate                      */
    uint64_t rotate_keep;    /* rotated files kept: path.1 .. path.N         */
    uint64_t buffer_size;    /* bytes buffered before a write                */
    uint64_t flush_interval; /* ns between timed flushes                     */
    bool fsync;              /* fsync after each flush (regular files only)  */
};

#endif
