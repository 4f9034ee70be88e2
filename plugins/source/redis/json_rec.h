/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_rec.h - source/redis: rebuild a record from the JSON that sink/redis
 * stored (core/SCHEMA.md encoding), through the host's rec_* functions.
 *
 * Nested objects become dotted keys (the serialiser nests them again, so the
 * JSON round-trips), arrays and objects inside arrays become rec_begin_*
 * blocks, integers stay integers (negative: int, else uint), other numbers
 * doubles, strings are unescaped (a \u0080..\u00ff escape is the raw byte the
 * encoder could not write as UTF-8, so it becomes that byte again). null is
 * skipped. Called on the loop thread by the source; pure otherwise.
 */
#ifndef NS_SOURCE_REDIS_JSON_REC_H
#define NS_SOURCE_REDIS_JSON_REC_H

#include <stddef.h>

#include "netscope/ns_plugin.h"

/* Parse one JSON object s[0..len) into rec. Returns 0, or -EINVAL when the text
 * is not a JSON object (fields added before the error stay; the caller
 * releases the record). Depth is bounded (64), so hostile input cannot
 * exhaust the stack. */
int json_to_record(const struct ns_host *h, struct ns_record *rec, const char *s, size_t len);

#endif
