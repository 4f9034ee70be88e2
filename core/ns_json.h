/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_json.h - JSON helpers of the record serialiser (ns_json.c).
 *
 * ns_rec_to_json itself is declared in ns_rec.h. These are the pieces other
 * core modules reuse when they write JSON of their own (status endpoint,
 * metrics): the observer hostname, string escaping and timestamps, all with
 * the same rules as records (see core/SCHEMA.md, "Encoding").
 */
#ifndef NETSCOPE_CORE_NS_JSON_H
#define NETSCOPE_CORE_NS_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Set observer.hostname for every record serialised from now on; NULL or ""
 * leaves it out. The name is copied (at most 255 bytes). Call once at start-up
 * on the loop thread, before any thread serialises records: it is not
 * synchronised with ns_rec_to_json. */
void ns_json_set_hostname(const char *name);

/* Append `len` bytes of s as a quoted JSON string at buf[*len] (*buf realloc'd
 * as needed). Control characters become \u00XX, '"' and '\' are backslashed,
 * valid UTF-8 is copied, and every byte that is not part of a valid UTF-8
 * sequence becomes \u00XX of that byte. Returns 0 or -ENOMEM (*len unchanged). */
int ns_json_append_str(char **buf, size_t *cap, size_t *len, const char *s, size_t slen);

/* Write ts_ns as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC, microseconds truncated,
 * no quotes) into out, which must hold NS_JSON_TIME_LEN + 1 bytes; returns
 * NS_JSON_TIME_LEN and NUL-terminates. */
#define NS_JSON_TIME_LEN 27
size_t ns_json_format_time(char *out, uint64_t ts_ns);

#ifdef __cplusplus
}
#endif
#endif
