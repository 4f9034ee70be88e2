/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http_plugin.c - decoder/http through its app callbacks on the fake host
 * (decoder/flow's part played by the test): a transaction record and its ECS
 * fields, pipelined requests matched in order, 100-continue, a request left
 * without a response at close, a response without its request, Upgrade, the
 * probe, the flow annotation.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ns_fake_host.h"

extern const struct ns_plugin_desc ns_plugin;

struct http_config {
    uint64_t max_pipeline;
};

static void *CTX;
static const struct ns_host *H;
static struct ns_app_flow F;

static void setup(void)
{
    ns_fake_set_quiet(true);
    struct ns_instance *ins = ns_fake_instance("decoder/http", "http");
    H = ins->host;
    struct http_config cfg = {.max_pipeline = 4};
    cr_assert_eq(ns_plugin.init(ins, &cfg, &CTX), 0);
    memset(&F, 0, sizeof(F));
    F.src_ip.family = F.dst_ip.family = 4;
    memcpy(F.src_ip.a, "\x0a\x00\x00\x01", 4);
    memcpy(F.dst_ip.a, "\x0a\x00\x00\x02", 4);
    F.src_port = 50000;
    F.dst_port = 8080;
    F.transport = 6;
    F.ip_version = 4;
}

static void teardown(void)
{
    ns_plugin.destroy(CTX);
    ns_fake_reset();
}

static int to_server(const char *s, uint64_t ts)
{
    return ns_plugin.app_data(CTX, &F, NS_APP_TO_SERVER, (const uint8_t *)s, strlen(s), ts, 0);
}
static int to_client(const char *s, uint64_t ts)
{
    return ns_plugin.app_data(CTX, &F, NS_APP_TO_CLIENT, (const uint8_t *)s, strlen(s), ts, 0);
}

static char *json(size_t i)
{
    size_t n;
    struct ns_record **r = ns_fake_emitted(&n);
    cr_assert_lt(i, n, "only %zu records", n);
    return ns_fake_rec_json(r[i]);
}
static size_t nrecs(void)
{
    size_t n;
    ns_fake_emitted(&n);
    return n;
}
#define HAS(j, s) cr_assert(strstr((j), (s)) != NULL, "%s not in %s", (s), (j))

Test(http_plugin, transaction_fields, .init = setup, .fini = teardown)
{
    const char *req = "POST /api/v1/items?id=7&x=y HTTP/1.1\r\nHost: shop.example:8080\r\n"
                      "User-Agent: curl/8.0\r\nContent-Type: application/json\r\n"
                      "Content-Length: 2\r\nReferer: http://r.example/\r\n\r\n{}";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &F, NS_APP_TO_SERVER, (const uint8_t *)req, strlen(req), 1000),
        NS_OK);
    cr_assert_eq(to_client("HTTP/1.1 201 Created\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                           5000),
                 NS_OK);
    cr_assert_eq(nrecs(), 1);
    char *j = json(0);
    HAS(j, "\"method\":\"POST\"");
    HAS(j, "\"original\":\"/api/v1/items?id=7&x=y\"");
    HAS(j, "\"path\":\"/api/v1/items\"");
    HAS(j, "\"query\":\"id=7&x=y\"");
    HAS(j, "\"domain\":\"shop.example\"");
    HAS(j, "\"port\":8080");
    HAS(j, "\"user_agent\":{\"original\":\"curl/8.0\"}");
    HAS(j, "\"status_code\":201");
    HAS(j, "\"mime_type\":\"text/plain\"");
    HAS(j, "\"mime_type\":\"application/json\"");
    HAS(j, "\"referrer\":\"http://r.example/\"");
    HAS(j, "\"version\":\"1.1\"");
    HAS(j, "\"duration\":4000");
    HAS(j, "\"response\":{\"body\":{\"bytes\":3}");
    HAS(j, "\"request\":{\"body\":{\"bytes\":2}");
    HAS(j, "\"chunked\":true");
    HAS(j, "\"protocol\":\"http\"");
    free(j);
    struct ns_record *fr = H->rec_new(ns_fake_instance("decoder/flow", "f"), NS_REC_FLOW, 1);
    ns_plugin.app_annotate(CTX, &F, fr);
    j = ns_fake_rec_json(fr);
    HAS(j, "\"url\":{\"domain\":\"shop.example\"}");
    HAS(j, "\"protocol\":\"http\"");
    free(j);
    H->rec_release(fr);
    ns_plugin.app_close(CTX, &F, 6000);
    cr_assert_null(F.state);
}

Test(http_plugin, pipelining_in_order, .init = setup, .fini = teardown)
{
    const char *reqs = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "HEAD /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &F, NS_APP_TO_SERVER, (const uint8_t *)reqs, strlen(reqs), 1),
        NS_OK);
    to_client("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
              "HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n"
              "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", /* HEAD: no body follows */
              2);
    cr_assert_eq(nrecs(), 3);
    const char *want[3][2] = {{"\"original\":\"/1\"", "\"status_code\":200"},
                              {"\"original\":\"/2\"", "\"status_code\":404"},
                              {"\"original\":\"/3\"", "\"content_length\":999"}};
    for (int i = 0; i < 3; i++) {
        char *j = json((size_t)i);
        HAS(j, want[i][0]);
        HAS(j, want[i][1]);
        free(j);
    }
    ns_plugin.app_close(CTX, &F, 3);
    cr_assert_eq(nrecs(), 3);
}

Test(http_plugin, continue_unanswered_and_orphan, .init = setup, .fini = teardown)
{
    const char *req = "PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                      "Content-Length: 3\r\n\r\n";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &F, NS_APP_TO_SERVER, (const uint8_t *)req, strlen(req), 1),
        NS_OK);
    to_client("HTTP/1.1 100 Continue\r\n\r\n", 2);
    to_server("abc", 3);
    to_client("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4);
    cr_assert_eq(nrecs(), 1);
    to_server("GET /never HTTP/1.1\r\nHost: a\r\n\r\n", 5);
    ns_plugin.app_close(CTX, &F, 6);
    cr_assert_eq(nrecs(), 2);
    char *j = json(1);
    HAS(j, "\"action\":\"http_request\"");
    free(j);
    cr_assert_eq(ns_fake_counter_value("requests_unanswered_total", NULL), 1);
}

Test(http_plugin, response_first_and_upgrade, .init = setup, .fini = teardown)
{
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &F, NS_APP_TO_CLIENT, (const uint8_t *)resp, strlen(resp), 1),
        NS_OK);
    cr_assert_eq(nrecs(), 1);
    char *j = json(0);
    HAS(j, "\"action\":\"http_response\"");
    free(j);
    to_server("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
              2);
    int rc = to_client("HTTP/1.1 101 Switching\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                       "\x81\x02hi",
                       3);
    cr_assert_eq(rc, NS_DECLINED);
    cr_assert_eq(nrecs(), 2);
    ns_plugin.app_close(CTX, &F, 4);
}

Test(http_plugin, probe_declines, .init = setup, .fini = teardown)
{
    const char *dns = "\x12\x34\x01\x00\x00\x01";
    cr_assert_eq(ns_plugin.app_probe(CTX, &F, NS_APP_TO_SERVER, (const uint8_t *)dns, 6, 1),
                 NS_DECLINED);
    F.transport = 17;
    const char *req = "GET / HTTP/1.1\r\n\r\n";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &F, NS_APP_TO_SERVER, (const uint8_t *)req, strlen(req), 1),
        NS_DECLINED);
    cr_assert_null(F.state);
}

Test(http_plugin, pipeline_bound, .init = setup, .fini = teardown)
{
    const char *one = "GET /p HTTP/1.1\r\nHost: a\r\n\r\n";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &F, NS_APP_TO_SERVER, (const uint8_t *)one, strlen(one), 1),
        NS_OK);
    for (int i = 0; i < 9; i++)
        to_server(one, 2);
    cr_assert_eq(nrecs(), 6); /* 10 requests, 4 may wait */
    ns_plugin.app_close(CTX, &F, 3);
    cr_assert_eq(nrecs(), 10);
    cr_assert_eq(ns_fake_counter_value("pipeline_overflow_total", NULL), 6);
}

Test(http_plugin, capture_started_with_the_server, .init = setup, .fini = teardown)
{
    /* The flow's initiator sent a response first: it is the server. */
    const char *resp = "HTTP/1.1 204 No Content\r\n\r\n";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &F, NS_APP_TO_SERVER, (const uint8_t *)resp, strlen(resp), 1),
        NS_OK);
    cr_assert_eq(to_client("GET /next HTTP/1.1\r\nHost: a\r\n\r\n", 2), NS_OK);
    cr_assert_eq(to_server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3), NS_OK);
    cr_assert_eq(nrecs(), 2);
    char *j = json(1);
    HAS(j, "\"action\":\"http_transaction\"");
    HAS(j, "\"source\":{\"ip\":\"10.0.0.2\",\"port\":8080}");
    HAS(j, "\"original\":\"/next\"");
    free(j);
    ns_plugin.app_close(CTX, &F, 4);
}
