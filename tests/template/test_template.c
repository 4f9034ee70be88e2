/* SPDX-License-Identifier: Apache-2.0 */
/* enricher/template against the fake host: the pattern every plugin test follows. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "netscope/ns_plugin.h"
#include "ns_fake_host.h"

extern const struct ns_plugin_desc ns_plugin;

struct template_config {
    char *field;
    char *value;
};

static void setup(void)
{
    ns_fake_reset();
}

TestSuite(template, .init = setup);

Test(template, adds_the_field_and_counts)
{
    struct ns_instance *ins = ns_fake_instance("enricher/template", "t");
    struct template_config cfg = {"labels.env", "prod"};
    void *ctx = NULL;
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), 0);
    const struct ns_host *h = ins->host;
    struct ns_record *r = h->rec_new(ins, NS_REC_FLOW, 1);
    struct ns_record *recs[2] = {r, NULL};
    cr_assert_eq(ns_plugin.process(ctx, recs, 2), 0);
    struct ns_field_view v;
    cr_assert(h->rec_get(r, "labels.env", &v));
    cr_assert_eq(v.type, NS_F_STR);
    cr_assert_eq(strncmp(v.v.s.ptr, "prod", v.v.s.len), 0);
    cr_assert_eq(ns_fake_counter_value("seen_total", NULL), 1);
    h->rec_release(r);
    ns_plugin.destroy(ctx);
}

Test(template, empty_field_fails_init)
{
    struct ns_instance *ins = ns_fake_instance("enricher/template", "t");
    struct template_config cfg = {"", "x"};
    void *ctx = NULL;
    ns_fake_set_quiet(true);
    cr_assert_eq(ns_plugin.init(ins, &cfg, &ctx), -EINVAL);
}

Test(template, descriptor)
{
    cr_assert_eq(ns_plugin.abi_major, NS_ABI_MAJOR);
    cr_assert_eq(ns_plugin.kind, NS_KIND_ENRICHER);
    cr_assert_str_eq(ns_plugin.name, "template");
}
