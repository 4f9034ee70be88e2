/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_log.c - stderr logging with per-instance prefixes and data-path rate limits.
 *
 * Rate limiting keys on the format string pointer: a data-path message such as
 * "truncated packet" logged a million times costs a hash lookup each, and prints
 * NS_LOG_BURST lines per NS_LOG_WINDOW plus one summary of what was suppressed.
 */
#include "ns_log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define NS_LOG_BURST 5
#define NS_LOG_WINDOW_NS 10000000000ull /* 10 s */
#define NS_LOG_SLOTS 256

static int g_level = NS_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

struct rl_slot {
    const char *fmt;
    uint64_t window_start;
    uint32_t printed;
    uint64_t suppressed;
};

static struct rl_slot rl_slots[NS_LOG_SLOTS];
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

void ns_log_set_level(int level)
{
    __atomic_store_n(&g_level, level, __ATOMIC_RELAXED);
}

int ns_log_get_level(void)
{
    return __atomic_load_n(&g_level, __ATOMIC_RELAXED);
}

int ns_log_level_parse(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return NS_LOG_WARN;
    return -1;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Returns 1 to print; *suppressed receives the count skipped since the last print. */
static int rl_allow(const char *fmt, uint64_t *suppressed)
{
    uintptr_t h = ((uintptr_t)fmt >> 4) * 0x9E3779B97F4A7C15ull;
    struct rl_slot *s = &rl_slots[(h >> 32) % NS_LOG_SLOTS];
    uint64_t now = mono_ns();
    int allow;

    pthread_mutex_lock(&rl_lock);
    if (s->fmt != fmt || now - s->window_start > NS_LOG_WINDOW_NS) {
        *suppressed = s->fmt == fmt ? s->suppressed : 0;
        s->fmt = fmt;
        s->window_start = now;
        s->printed = 0;
        s->suppressed = 0;
    } else {
        *suppressed = 0;
    }
    allow = s->printed < NS_LOG_BURST;
    if (allow)
        s->printed++;
    else
        s->suppressed++;
    pthread_mutex_unlock(&rl_lock);
    return allow;
}

void ns_logv(const char *prefix, int level, const char *fmt, va_list ap)
{
    int lvl = level & 0xff;
    uint64_t suppressed = 0;
    char line[2048];
    size_t n = 0;
    struct timespec ts;
    struct tm tm;

    if (lvl > ns_log_get_level())
        return;
    if ((level & NS_LOG_RATELIMIT) && !rl_allow(fmt, &suppressed))
        return;
    if (lvl < 0 || lvl > NS_LOG_TRACE)
        lvl = NS_LOG_ERROR;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n += strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
                          level_names[lvl]);
    if (prefix)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s] ", prefix);
    if (n < sizeof(line)) {
        int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        if (w > 0)
            n += (size_t)w;
    }
    if (suppressed && n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, " (%llu similar messages suppressed)",
                              (unsigned long long)suppressed);
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines from concurrent threads whole. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void ns_logf(const char *prefix, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ns_logv(prefix, level, fmt, ap);
    va_end(ap);
}
