/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_log.h - the core's logger: levels, "[kind:name:node]" prefixes, rate limiting.
 *
 * Everything goes to stderr, one line per message, so journald keeps it under
 * systemd. Any thread may log; a line is written with one write(2) so lines from
 * different threads never interleave.
 */
#ifndef NS_LOG_H
#define NS_LOG_H

#include <stdarg.h>

#include "netscope/ns_plugin.h"

/* Set the most verbose level printed (NS_LOG_INFO by default). */
void ns_log_set_level(int level);
int ns_log_get_level(void);
/* Parse "error", "warn", "info", "debug", "trace"; -1 when unknown. */
int ns_log_level_parse(const char *s);

/*
 * Log one line with an optional prefix ("decoder:dns:main", or NULL for the core).
 * `level` may carry NS_LOG_RATELIMIT: then at most a few lines per format string
 * and second are printed, and the number suppressed is reported with the next one.
 */
void ns_logv(const char *prefix, int level, const char *fmt, va_list ap);
void ns_logf(const char *prefix, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ns_err(...) ns_logf(NULL, NS_LOG_ERROR, __VA_ARGS__)
#define ns_warn(...) ns_logf(NULL, NS_LOG_WARN, __VA_ARGS__)
#define ns_info(...) ns_logf(NULL, NS_LOG_INFO, __VA_ARGS__)
#define ns_debug(...) ns_logf(NULL, NS_LOG_DEBUG, __VA_ARGS__)

#endif
