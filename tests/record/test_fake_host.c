/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fake_host.c - the fake host every plugin unit test relies on
 * (tests/support/ns_fake_host.c): each fake service does what its header
 * promises, and a reset leaves nothing behind (ASan checks the leaks).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ns_fake_host.h"
#include "ns_rec.h"

static int fired;
static void on_timer(void *arg)
{
    fired += *(int *)arg;
}

Test(fake_host, services, .fini = ns_fake_reset)
{
    struct ns_instance *ins = ns_fake_instance("sink/test", "node");
    const struct ns_host *h = ins->host;
    cr_assert_eq(h, ns_fake_host());
    cr_assert_eq(h->size, sizeof(struct ns_host));
    cr_assert_str_eq(ins->plugin, "sink/test");
    cr_assert_str_eq(ins->name, "node");
    cr_assert_str_eq(h->hostname(ins), "testhost");

    ns_fake_set_quiet(true);
    h->log(ins, NS_LOG_ERROR | NS_LOG_RATELIMIT, "x %d", 1);
    ns_log_warn(ins, "w");
    ns_log_warn(ins, "w");
    cr_assert_eq(ns_fake_log_count(NS_LOG_ERROR), 1);
    cr_assert_eq(ns_fake_log_count(NS_LOG_WARN), 2);
    cr_assert_eq(ns_fake_log_count(NS_LOG_INFO), 0);

    ns_counter *c = h->counter(ins, "drops_total", "reason=\"full\"", "help");
    ns_counter *g = h->gauge(ins, "depth", NULL, "help");
    cr_assert_eq(h->counter(ins, "drops_total", "reason=\"full\"", "again"), c, "same cell");
    ns_counter_add(c, 3);
    ns_gauge_set(g, 9);
    cr_assert_eq(ns_fake_counter_value("drops_total", "reason=\"full\""), 3);
    cr_assert_eq(ns_fake_counter_value("depth", NULL), 9);
    cr_assert_eq(ns_fake_counter_value("depth", ""), 9);
    cr_assert_eq(ns_fake_counter_value("missing", NULL), UINT64_MAX);
    cr_assert_eq(ns_fake_counter_count(), 2);

    cr_assert_not(h->stopping(ins));
    ns_fake_set_stopping(true);
    cr_assert(h->stopping(ins));

    int one = 1;
    cr_assert_eq(h->timer(ins, 1000, on_timer, &one), 0);
    cr_assert_eq(h->timer(ins, 0, on_timer, &one), -EINVAL);
    cr_assert_eq(ns_fake_timer_count(), 1);
    cr_assert_eq(ns_fake_timer_interval(0), 1000);
    cr_assert_eq(ns_fake_fire_timers(), 1);
    cr_assert_eq(ns_fake_fire_timers(), 1);
    cr_assert_eq(fired, 2);

    h->set_ready(ins, true);
    cr_assert(ns_fake_ready());

    /* The loop is real; handles left open are closed by the reset. */
    uv_loop_t *loop = (uv_loop_t *)h->loop(ins);
    cr_assert_not_null(loop);
    cr_assert_eq((uv_loop_t *)h->loop(ins), loop);
    static uv_timer_t t;
    cr_assert_eq(uv_timer_init(loop, &t), 0);
}

Test(fake_host, emit_and_packets, .fini = ns_fake_reset)
{
    struct ns_instance *ins = ns_fake_instance("decoder/test", "d");
    const struct ns_host *h = ins->host;
    for (int i = 0; i < 100; i++) {
        struct ns_record *r = h->rec_new(ins, NS_REC_DNS, (uint64_t)i);
        h->rec_add_uint(r, "i", (uint64_t)i);
        cr_assert_eq(h->emit(ins, r), 0);
    }
    size_t n;
    struct ns_record **e = ns_fake_emitted(&n);
    cr_assert_eq(n, 100);
    cr_assert_eq(h->rec_time(e[42]), 42);
    ns_fake_clear_emitted();
    ns_fake_emitted(&n);
    cr_assert_eq(n, 0);
    ns_fake_set_emit_result(-ENOBUFS);
    cr_assert_eq(h->emit(ins, h->rec_new(ins, NS_REC_DNS, 0)), -ENOBUFS, "released, not kept");
    ns_fake_emitted(&n);
    cr_assert_eq(n, 0);

    uint8_t data[60] = {1, 2, 3};
    struct ns_packet p = {.ts_ns = 5, .data = data, .caplen = 60, .wirelen = 1500};
    cr_assert_eq(h->emit_packet(ins, &p), 0);
    data[0] = 99; /* the fake copied the bytes */
    const struct ns_packet *got = ns_fake_packets(&n);
    cr_assert_eq(n, 1);
    cr_assert_eq(got[0].wirelen, 1500);
    cr_assert_eq(got[0].data[0], 1);
    cr_assert_neq(got[0].data, data);
}

Test(fake_host, rec_json, .fini = ns_fake_reset)
{
    struct ns_record *r = ns_rec_new(NS_REC_DNS, 0);
    ns_rec_add_uint(r, "dns.id", 4660);
    char *j = ns_fake_rec_json(r);
    cr_assert_str_eq(j, "{\"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"dns\":{\"id\":4660},"
                        "\"event\":{\"dataset\":\"netscope.dns\"}}");
    free(j);
    ns_rec_release(r);
}

static void *emitter(void *arg)
{
    struct ns_instance *ins = arg;
    for (int i = 0; i < 1000; i++)
        ins->host->emit(ins, ins->host->rec_new(ins, NS_REC_FLOW, 0));
    return NULL;
}

Test(fake_host, emit_from_threads, .fini = ns_fake_reset)
{
    struct ns_instance *ins = ns_fake_instance("source/test", "s");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, emitter, ins);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    size_t n;
    ns_fake_emitted(&n);
    cr_assert_eq(n, 4000);
}

Test(fake_host, reset_is_idempotent)
{
    ns_fake_reset();
    ns_fake_instance("a/b", "c");
    ns_fake_reset();
    ns_fake_reset();
    cr_assert_eq(ns_fake_counter_count(), 0);
    cr_assert_eq(ns_fake_timer_count(), 0);
}
