/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_oracle.h - the pre-plan record serialiser (json_oracle.c), the
 * reference for test_json_oracle.c. Same contracts as ns_json_set_hostname,
 * ns_json_append_str, ns_json_format_time and ns_rec_to_json.
 */
#ifndef NETSCOPE_TESTS_JSON_ORACLE_H
#define NETSCOPE_TESTS_JSON_ORACLE_H

#include <stddef.h>
#include <stdint.h>

struct ns_record;

void oracle_json_set_hostname(const char *name);
int oracle_json_append_str(char **buf, size_t *cap, size_t *len, const char *s, size_t slen);
size_t oracle_json_format_time(char *out, uint64_t ts_ns);
int oracle_rec_to_json(const struct ns_record *rec, char **buf, size_t *cap, size_t *len);

#endif
