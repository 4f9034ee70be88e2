/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_option.h - the option schema a plugin declares for its YAML keys.
 *
 * Every plugin describes its options in one NS_OPT_END-terminated table. The core
 * validates YAML against that table (unknown keys, types, bounds, units), writes
 * the parsed values at `offset` into a zeroed block of `config_size` bytes, and
 * renders the same table as documentation (`netscope describe`). Plugins never
 * parse their own YAML.
 */
#ifndef NETSCOPE_NS_OPTION_H
#define NETSCOPE_NS_OPTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Option value types and the C type written at `offset` for each. */
enum ns_opt_type {
    NS_OPT_BOOL = 1,    /* bool                                                      */
    NS_OPT_INT,         /* int64_t                                                   */
    NS_OPT_UINT,        /* uint64_t                                                  */
    NS_OPT_DOUBLE,      /* double                                                    */
    NS_OPT_SIZE,        /* uint64_t bytes; "64KiB", "32MiB", "1G", "512"             */
    NS_OPT_DURATION,    /* uint64_t nanoseconds; "500ms", "30s", "5m", "1h", "250us" */
    NS_OPT_STRING,      /* char * (owned by the core, freed after destroy)           */
    NS_OPT_ENUM,        /* int: index into `choices`                                 */
    NS_OPT_STRING_LIST, /* struct ns_strlist                                         */
    NS_OPT_PATH,        /* char *, like STRING, documented as a file system path     */
};

/* Option flags. */
#define NS_OPT_REQUIRED (1u << 0)   /* no default: the key must be present            */
#define NS_OPT_SECRET (1u << 1)     /* value redacted in logs and in `describe`        */
#define NS_OPT_DEPRECATED (1u << 2) /* accepted with a warning; see `alias`           */
#define NS_OPT_RELOADABLE (1u << 3) /* may change on SIGHUP without restarting        */
#define NS_OPT_HAS_MIN (1u << 4)    /* `min` applies (set implicitly when min != 0)   */
#define NS_OPT_HAS_MAX (1u << 5)    /* `max` applies (set implicitly when max != 0)   */

/* A list of strings as written for NS_OPT_STRING_LIST. The core owns the memory. */
struct ns_strlist {
    char **items;
    size_t count;
};

struct ns_option {
    const char *name; /* snake_case YAML key                             */
    enum ns_opt_type type;
    uint32_t flags;             /* NS_OPT_*                                         */
    const char *def;            /* default as YAML text; NULL = zero / empty        */
    double min, max;            /* bounds in the option's unit (bytes, ns, number)  */
    const char *const *choices; /* NULL-terminated, for NS_OPT_ENUM                 */
    size_t offset;              /* offsetof(struct <plugin>_config, field)          */
    const char *doc;            /* one or two sentences for `describe`             */
    const char *alias;          /* for DEPRECATED: the key that replaces this one   */
};

#define NS_OPT_END                                                                                 \
    {                                                                                              \
        .name = NULL                                                                               \
    }

#ifdef __cplusplus
}
#endif
#endif
