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

#include "ns_app_test.h"
#include "ns_fake_host.h"

extern const struct ns_plugin_desc ns_plugin;

struct http_config {
    uint64_t max_pipeline;
};

static void *CTX;
static struct ns_app_flow F;

static void setup(void)
{
    struct http_config cfg = {.max_pipeline = 4};
    ns_test_app_init(&ns_plugin, "decoder/http", "http", &cfg, &CTX);
    F = ns_test_flow4(6, 0x0a000001, 50000, 0x0a000002, 8080);
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
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    NS_HAS(j, "\"method\":\"POST\"");
    NS_HAS(j, "\"original\":\"/api/v1/items?id=7&x=y\"");
    NS_HAS(j, "\"path\":\"/api/v1/items\"");
    NS_HAS(j, "\"query\":\"id=7&x=y\"");
    NS_HAS(j, "\"domain\":\"shop.example\"");
    NS_HAS(j, "\"port\":8080");
    NS_HAS(j, "\"user_agent\":{\"original\":\"curl/8.0\"}");
    NS_HAS(j, "\"status_code\":201");
    NS_HAS(j, "\"mime_type\":\"text/plain\"");
    NS_HAS(j, "\"mime_type\":\"application/json\"");
    NS_HAS(j, "\"referrer\":\"http://r.example/\"");
    NS_HAS(j, "\"version\":\"1.1\"");
    NS_HAS(j, "\"duration\":4000");
    NS_HAS(j, "\"response\":{\"body\":{\"bytes\":3}");
    NS_HAS(j, "\"request\":{\"body\":{\"bytes\":2}");
    NS_HAS(j, "\"chunked\":true");
    NS_HAS(j, "\"protocol\":\"http\"");
    free(j);
    j = ns_test_annotate_json(&ns_plugin, CTX, &F);
    NS_HAS(j, "\"url\":{\"domain\":\"shop.example\"}");
    NS_HAS(j, "\"protocol\":\"http\"");
    free(j);
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
    cr_assert_eq(ns_test_nrecs(), 3);
    const char *want[3][2] = {{"\"original\":\"/1\"", "\"status_code\":200"},
                              {"\"original\":\"/2\"", "\"status_code\":404"},
                              {"\"original\":\"/3\"", "\"content_length\":999"}};
    for (int i = 0; i < 3; i++) {
        char *j = ns_test_json((size_t)i);
        NS_HAS(j, want[i][0]);
        NS_HAS(j, want[i][1]);
        free(j);
    }
    ns_plugin.app_close(CTX, &F, 3);
    cr_assert_eq(ns_test_nrecs(), 3);
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
    cr_assert_eq(ns_test_nrecs(), 1);
    to_server("GET /never HTTP/1.1\r\nHost: a\r\n\r\n", 5);
    ns_plugin.app_close(CTX, &F, 6);
    cr_assert_eq(ns_test_nrecs(), 2);
    char *j = ns_test_json(1);
    NS_HAS(j, "\"action\":\"http_request\"");
    free(j);
    cr_assert_eq(ns_fake_counter_value("requests_unanswered_total", NULL), 1);
}

Test(http_plugin, response_first_and_upgrade, .init = setup, .fini = teardown)
{
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    cr_assert_eq(
        ns_plugin.app_probe(CTX, &F, NS_APP_TO_CLIENT, (const uint8_t *)resp, strlen(resp), 1),
        NS_OK);
    cr_assert_eq(ns_test_nrecs(), 1);
    char *j = ns_test_json(0);
    NS_HAS(j, "\"action\":\"http_response\"");
    free(j);
    to_server("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
              2);
    int rc = to_client("HTTP/1.1 101 Switching\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                       "\x81\x02hi",
                       3);
    cr_assert_eq(rc, NS_DECLINED);
    cr_assert_eq(ns_test_nrecs(), 2);
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
    cr_assert_eq(ns_test_nrecs(), 6); /* 10 requests, 4 may wait */
    ns_plugin.app_close(CTX, &F, 3);
    cr_assert_eq(ns_test_nrecs(), 10);
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
    cr_assert_eq(ns_test_nrecs(), 2);
    char *j = ns_test_json(1);
    NS_HAS(j, "\"action\":\"http_transaction\"");
    NS_HAS(j, "\"source\":{\"ip\":\"10.0.0.2\",\"port\":8080}");
    NS_HAS(j, "\"original\":\"/next\"");
    free(j);
    ns_plugin.app_close(CTX, &F, 4);
}
