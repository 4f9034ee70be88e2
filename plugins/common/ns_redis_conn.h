/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_redis_conn.h - the Redis connection code shared by sink/redis and
 * source/redis: the address options (host, port, unix_socket, username,
 * password, db), reconnect backoff with jitter, opening an async hiredis
 * connection on the plugin's libuv loop, and the AUTH/SELECT handshake.
 *
 * ns_redis_conn.c is compiled into each of the two plugin .so files (hidden
 * visibility: each still exports only `ns_plugin`). Everything here runs on
 * the loop thread of the instance that owns the connection.
 */
#ifndef NS_REDIS_CONN_H
#define NS_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <uv.h>

#include "netscope/ns_option.h"

/* Where and how to connect; the first member of each plugin's config. */
struct ns_redis_addr {
    char *host;
    uint64_t port;
    char *unix_socket;
    char *username;
    char *password;
    uint64_t db;
};

/* The six option rows of struct ns_redis_addr `addr` inside config type T;
 * host_doc and user_doc are the plugin's own wording for those two. */
#define NS_REDIS_ADDR_OPTIONS(T, host_doc, user_doc)                                               \
    {.name = "host",                                                                               \
     .type = NS_OPT_STRING,                                                                        \
     .def = "127.0.0.1",                                                                           \
     .offset = offsetof(T, addr.host),                                                             \
     .doc = host_doc},                                                                             \
        {.name = "port",                                                                           \
         .type = NS_OPT_UINT,                                                                      \
         .def = "6379",                                                                            \
         .min = 1,                                                                                 \
         .max = 65535,                                                                             \
         .offset = offsetof(T, addr.port),                                                         \
         .doc = "Redis TCP port."},                                                                \
        {.name = "unix_socket",                                                                    \
         .type = NS_OPT_PATH,                                                                      \
         .offset = offsetof(T, addr.unix_socket),                                                  \
         .doc = "Connect to this unix socket instead of host:port."},                              \
        {.name = "username",                                                                       \
         .type = NS_OPT_STRING,                                                                    \
         .offset = offsetof(T, addr.username),                                                     \
         .doc = user_doc},                                                                         \
        {.name = "password",                                                                       \
         .type = NS_OPT_STRING,                                                                    \
         .flags = NS_OPT_SECRET,                                                                   \
         .offset = offsetof(T, addr.password),                                                     \
         .doc = "Password for AUTH; empty: no AUTH."},                                             \
    {                                                                                              \
        .name = "db", .type = NS_OPT_UINT, .def = "0", .max = 100000,                              \
        .offset = offsetof(T, addr.db), .doc = "Database number (SELECT)."                         \
    }

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t ns_redis_now_ns(void);

/*
 * After a failed or lost connection: returns when to try again (now plus a
 * delay drawn uniformly from the upper half of *backoff_ns) and doubles
 * *backoff_ns, capped at max.
 */
uint64_t ns_redis_backoff(uint64_t *backoff_ns, uint64_t max);

/*
 * Starts an async connection to a (unix_socket if set, else host:port),
 * attached to loop, with ac->data = data and the two callbacks set. With
 * write_once, write interest is armed only when not armed yet (one
 * epoll_ctl per burst of commands instead of one per command).
 * Returns the context, or NULL with a message in err (nothing to free).
 */
redisAsyncContext *ns_redis_open(const struct ns_redis_addr *a, uv_loop_t *loop, void *data,
                                 redisConnectCallback *on_connect,
                                 redisDisconnectCallback *on_disconnect, bool write_once, char *err,
                                 size_t errlen);

/*
 * Queues AUTH (when a password is set; with the username when one is set)
 * with privdata auth_priv and SELECT (when db is not 0) with select_priv,
 * both answered to cb. The caller queues what comes next (PING, ...).
 */
void ns_redis_handshake(redisAsyncContext *ac, const struct ns_redis_addr *a, redisCallbackFn *cb,
                        void *auth_priv, void *select_priv);

#endif
