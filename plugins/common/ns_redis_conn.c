/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_redis_conn.c - connection helpers shared by sink/redis and source/redis
 * (see ns_redis_conn.h). Compiled into both plugins; loop thread only.
 */
#include "ns_redis_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/hiredis.h>

uint64_t ns_redis_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ns_redis_backoff(uint64_t *backoff_ns, uint64_t max)
{
    /* Full jitter over the upper half: many agents that lost the same Redis do
     * not come back in lock-step. */
    uint64_t b = *backoff_ns;
    uint64_t d = b / 2 + (uint64_t)((double)(b / 2) * ((double)rand() / RAND_MAX));
    if (*backoff_ns < max) {
        *backoff_ns *= 2;
        if (*backoff_ns > max)
            *backoff_ns = max;
    }
    return ns_redis_now_ns() + d;
}

/* hiredis asks for write interest once per queued command; the adapter
 * answers each with uv_poll_start, i.e. an epoll_ctl() per command. Only arm
 * it when it is not armed yet. */
static void add_write_once(void *privdata)
{
    redisLibuvEvents *p = privdata;
    if (!(p->events & UV_WRITABLE))
        redisLibuvAddWrite(privdata);
}

redisAsyncContext *ns_redis_open(const struct ns_redis_addr *a, uv_loop_t *loop, void *data,
                                 redisConnectCallback *on_connect,
                                 redisDisconnectCallback *on_disconnect, bool write_once, char *err,
                                 size_t errlen)
{
    redisAsyncContext *ac = a->unix_socket && *a->unix_socket
                                ? redisAsyncConnectUnix(a->unix_socket)
                                : redisAsyncConnect(a->host, (int)a->port);
    if (!ac || ac->err) {
        snprintf(err, errlen, "cannot connect to Redis: %s", ac ? ac->errstr : "no memory");
        if (ac)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = data;
    if (redisLibuvAttach(ac, loop) != REDIS_OK) {
        snprintf(err, errlen, "cannot attach the Redis connection to the loop");
        redisAsyncFree(ac);
        return NULL;
    }
    if (write_once)
        ac->ev.addWrite = add_write_once;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

void ns_redis_handshake(redisAsyncContext *ac, const struct ns_redis_addr *a, redisCallbackFn *cb,
                        void *auth_priv, void *select_priv)
{
    if (a->password && *a->password) {
        if (a->username && *a->username)
            redisAsyncCommand(ac, cb, auth_priv, "AUTH %s %s", a->username, a->password);
        else
            redisAsyncCommand(ac, cb, auth_priv, "AUTH %s", a->password);
    }
    if (a->db)
        redisAsyncCommand(ac, cb, select_priv, "SELECT %d", (int)a->db);
}
