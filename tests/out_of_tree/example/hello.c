/* SPDX-License-Identifier: Apache-2.0 */
/* detector/hello: an out-of-tree plugin that raises an alert for every flow whose
 * destination port is `port`. Built against the installed headers only. */
#include <errno.h>
#include <stdlib.h>

#include <netscope/ns_plugin.h>

struct hello_config {
    uint64_t port;
};

struct hello_ctx {
    struct ns_instance *ins;
    const struct hello_config *cfg;
};

static int hello_init(struct ns_instance *ins, const void *config, void **ctx)
{
    struct hello_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ins = ins;
    c->cfg = config;
    *ctx = c;
    return 0;
}

static int hello_process(void *ctx, struct ns_record **recs, uint32_t n)
{
    struct hello_ctx *c = ctx;
    const struct ns_host *h = c->ins->host;
    for (uint32_t i = 0; i < n; i++) {
        struct ns_field_view v;
        if (!recs[i] || !h->rec_get(recs[i], "destination.port", &v) || v.v.u != c->cfg->port)
            continue;
        struct ns_record *a = h->rec_new(c->ins, NS_REC_ALERT, h->rec_time(recs[i]));
        if (!a)
            continue;
        h->rec_add_cstr(a, "event.kind", "alert");
        h->rec_add_cstr(a, "rule.name", "hello");
        h->rec_add_uint(a, "destination.port", v.v.u);
        h->emit(c->ins, a);
    }
    return 0;
}

static void hello_destroy(void *ctx)
{
    free(ctx);
}

static const struct ns_option hello_options[] = {{.name = "port",
                                                  .type = NS_OPT_UINT,
                                                  .def = "80",
                                                  .max = 65535,
                                                  .offset = offsetof(struct hello_config, port),
                                                  .doc = "Destination port to alert on."},
                                                 NS_OPT_END};

NS_PLUGIN_DEFINE(.kind = NS_KIND_DETECTOR, .name = "hello", .version = "0.1.0",
                 .summary = "Out-of-tree example: alert on flows to one port",
                 .options = hello_options, .config_size = sizeof(struct hello_config),
                 .init = hello_init, .process = hello_process, .destroy = hello_destroy);
