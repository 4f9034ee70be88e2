/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_opt.h - option values: unit parsing, validation against a plugin's ns_option
 * table, defaults, and documentation rendering from the same table.
 *
 * Called on the loop thread while a configuration is loaded (and by tests).
 */
#ifndef NS_OPT_H
#define NS_OPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "netscope/ns_plugin.h"

/* "64KiB", "32MiB", "1G", "512", "1.5MB": binary (KiB/MiB/GiB/TiB, K/M/G/T) and
 * decimal (kB/MB/GB/TB) units, bytes when none. 0 or -EINVAL / -ERANGE. */
int ns_parse_size(const char *s, uint64_t *out);
/* "250us", "500ms", "30s", "5m", "1h", "1d", "1.5s", "0"; a bare number is seconds.
 * Result in nanoseconds. 0 or -EINVAL / -ERANGE. */
int ns_parse_duration(const char *s, uint64_t *out_ns);
/* YAML 1.1/1.2 booleans: true/false, yes/no, on/off (any case). */
int ns_parse_bool(const char *s, bool *out);

/* The option called `key`, or NULL. */
const struct ns_option *ns_opt_find(const struct ns_option *opts, const char *key);
/* The option name closest to `key` (edit distance <= 3, or a prefix), or NULL. */
const char *ns_opt_suggest(const struct ns_option *opts, const char *key);
/* The closest of `n` candidate strings, same rule. */
const char *ns_suggest(const char *key, const char *const *cands, size_t n);

/*
 * Parse `text` for `opt` and store it at opt->offset in `block`. On error returns
 * a negative errno and writes a one-line reason (no location) into err.
 * For NS_OPT_STRING_LIST a scalar becomes a one-item list; use ns_opt_set_list
 * for a YAML sequence. Setting an option twice frees the old value.
 */
int ns_opt_set(const struct ns_option *opt, void *block, const char *text, char *err,
               size_t errlen);
int ns_opt_set_list(const struct ns_option *opt, void *block, const char *const *items, size_t n,
                    char *err, size_t errlen);

/* Apply the default of every option whose bit is clear in `set` (one bool per
 * option, in table order). A required option that is missing is an error naming
 * it. Returns 0 or -EINVAL with err filled. */
int ns_opt_defaults(const struct ns_option *opts, void *block, const bool *set, char *err,
                    size_t errlen);
/* Free strings and lists the core allocated inside `block` (not the block). */
void ns_opt_free(const struct ns_option *opts, void *block);

size_t ns_opt_count(const struct ns_option *opts);
const char *ns_opt_type_name(enum ns_opt_type t);
const char *ns_kind_name(enum ns_kind k);
/* "source" -> NS_KIND_SOURCE, or 0. */
enum ns_kind ns_kind_parse(const char *s);

enum ns_doc_format { NS_DOC_TEXT, NS_DOC_MD, NS_DOC_JSON };
/* Print a plugin's description and options table. */
void ns_opt_describe(FILE *f, const struct ns_plugin_desc *d, enum ns_doc_format fmt);

#endif
