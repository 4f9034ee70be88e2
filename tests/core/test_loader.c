/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_loader.c - core/ns_loader.c against the fixture plugins of tests/abi:
 * every refusal with its exact message, ABI-minor compatibility, the search path,
 * lookup with suggestions, duplicates and the scan used by `netscope plugins`.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ns_loader.h"
#include "ns_opt.h"

#define FX NS_ABI_FIXTURES

static char err[2048];

static const char *fx_path(const char *dir, const char *file)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s/%s", FX, dir, file);
    return p[i];
}

/* Loading `file` from `dir` must fail with exactly "<path>: <reason>". */
static void expect_refused(const char *dir, const char *file, const char *reason)
{
    const char *p = fx_path(dir, file);
    struct ns_plugin_entry *e = (struct ns_plugin_entry *)1;
    err[0] = '\0';
    int rc = ns_plugin_load_file(p, &e, err, sizeof(err));
    cr_expect_lt(rc, 0, "%s was accepted", p);
    cr_expect_null(e, "%s: out set on refusal", p);
    char want[2048];
    snprintf(want, sizeof(want), "%s: %s", p, reason);
    cr_expect_str_eq(err, want, "got: %s", err);
}

Test(loader, good_fixtures_load)
{
    static const struct {
        const char *file, *id;
        enum ns_kind kind;
    } good[] = {
        {"ns-source-fx.so", "source/fx", NS_KIND_SOURCE},
        {"ns-source-fxrec.so", "source/fxrec", NS_KIND_SOURCE},
        {"ns-decoder-fx.so", "decoder/fx", NS_KIND_DECODER},
        {"ns-enricher-fx.so", "enricher/fx", NS_KIND_ENRICHER},
        {"ns-detector-fx.so", "detector/fx", NS_KIND_DETECTOR},
        {"ns-sink-fx.so", "sink/fx", NS_KIND_SINK},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *p = fx_path("good", good[i].file);
        struct ns_plugin_entry *e = NULL;
        int rc = ns_plugin_load_file(p, &e, err, sizeof(err));
        cr_assert_eq(rc, 0, "%s: %s", p, err);
        cr_assert_not_null(e);
        cr_expect_str_eq(e->id, good[i].id);
        cr_expect_str_eq(e->path, p);
        cr_expect_eq(e->desc.kind, good[i].kind);
        cr_expect_eq(e->desc.abi_major, NS_ABI_MAJOR);
        cr_expect_eq(e->desc.desc_size, sizeof(struct ns_plugin_desc));
        cr_expect_not_null(e->desc.init);
        ns_plugin_entry_free(e);
    }
}

Test(loader, initfail_fixture_loads)
{
    struct ns_plugin_entry *e = NULL;
    cr_assert_eq(
        ns_plugin_load_file(fx_path("initfail", "ns-sink-failinit.so"), &e, err, sizeof(err)), 0,
        "%s", err);
    void *ctx = NULL;
    cr_expect_eq(e->desc.init(NULL, NULL, &ctx), -EACCES);
    ns_plugin_entry_free(e);
}

Test(loader, refuses_wrong_abi_major)
{
    expect_refused("bad", "ns-decoder-badmajor.so",
                   "built for plugin ABI 99.7, but this netscope has ABI 1.1: rebuild the plugin "
                   "against this version's headers");
}

Test(loader, refuses_short_descriptor)
{
    char reason[256];
    snprintf(reason, sizeof(reason),
             "descriptor is 24 bytes, shorter than the %zu bytes of ABI 1.0 (plugin ABI 1.1): "
             "corrupt or not built with NS_PLUGIN_DEFINE",
             offsetof(struct ns_plugin_desc, flush) + sizeof(void *));
    expect_refused("bad", "ns-decoder-shortdesc.so", reason);
}

Test(loader, refuses_descriptor_larger_than_its_symbol)
{
    /* desc_size says 208 but the object is 24 bytes: copying desc_size bytes
     * would read past it (AddressSanitizer: global-buffer-overflow). */
    char reason[256];
    snprintf(reason, sizeof(reason),
             "descriptor claims %zu bytes, but the 'ns_plugin' symbol is only 24 bytes: corrupt "
             "or not built with NS_PLUGIN_DEFINE",
             sizeof(struct ns_plugin_desc));
    expect_refused("bad", "ns-decoder-liar.so", reason);
    expect_refused("bad", "ns-decoder-tiny.so",
                   "the 'ns_plugin' symbol is only 4 bytes: not a NetScope plugin descriptor");
}

Test(loader, refuses_missing_symbol)
{
    expect_refused("bad", "ns-decoder-nosym.so",
                   "no 'ns_plugin' symbol: not a NetScope plugin (define it with "
                   "NS_PLUGIN_DEFINE)");
}

Test(loader, refuses_kind_mismatch)
{
    expect_refused("bad", "ns-sink-kindmix.so",
                   "kind mismatch: the file name says 'sink' but the descriptor says 'decoder'");
}

Test(loader, refuses_name_mismatch)
{
    expect_refused("bad", "ns-decoder-namemix.so",
                   "name mismatch: the file name says 'namemix' but the descriptor says 'other'");
}

Test(loader, refuses_missing_callback)
{
    expect_refused("bad", "ns-enricher-nocb.so",
                   "enricher plugin 'nocb' lacks the required callback 'process'");
    expect_refused("bad", "ns-source-norun.so",
                   "source plugin 'norun' lacks the required callback 'run or start'");
    expect_refused("bad", "ns-decoder-appnodata.so",
                   "decoder plugin 'appnodata' lacks the required callback 'app_data'");
}

Test(loader, refuses_invalid_kind_and_empty_name)
{
    expect_refused("bad", "ns-detector-badkind.so", "descriptor has an invalid kind 42");
    expect_refused("bad", "ns-sink-noname.so", "descriptor has no name");
}

Test(loader, refuses_non_elf)
{
    const char *p = fx_path("bad", "ns-decoder-garbage.so");
    struct ns_plugin_entry *e = NULL;
    cr_expect_lt(ns_plugin_load_file(p, &e, err, sizeof(err)), 0);
    cr_expect_null(e);
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s: cannot load: ", p);
    cr_expect(strncmp(err, prefix, strlen(prefix)) == 0, "got: %s", err);
    cr_expect(strstr(err, "invalid ELF header") || strstr(err, "file too short"), "got: %s", err);
    cr_expect_not_null(strstr(err, "(is it a NetScope plugin built for this system?"), "got: %s",
                       err);
}

Test(loader, refuses_bad_file_names)
{
    struct ns_plugin_entry *e = NULL;
    static const char *const names[] = {"/x/plugin.so",           "/x/ns-decoder.so",
                                        "/x/ns-decoder-.so",      "/x/ns-decoder-fx",
                                        "/x/libns-decoder-fx.so", "ns-.so"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        cr_expect_eq(ns_plugin_load_file(names[i], &e, err, sizeof(err)), -EINVAL, "%s", names[i]);
        char want[256];
        snprintf(want, sizeof(want), "%s: not a plugin file name (expected ns-<kind>-<name>.so)",
                 names[i]);
        cr_expect_str_eq(err, want);
    }
    cr_expect_eq(ns_plugin_load_file("/x/ns-filter-fx.so", &e, err, sizeof(err)), -EINVAL);
    cr_expect_str_eq(err, "/x/ns-filter-fx.so: unknown kind 'filter' in the file name (source, "
                          "decoder, enricher, detector or sink)");
    const char *missing = fx_path("good", "ns-decoder-missing.so");
    cr_expect_lt(ns_plugin_load_file(missing, &e, err, sizeof(err)), 0);
    cr_expect_not_null(strstr(err, "cannot load:"), "got: %s", err);
    cr_expect_not_null(strstr(err, "No such file or directory"), "got: %s", err);
}

Test(loader, newer_minor_loads)
{
    struct ns_plugin_entry *e = NULL;
    cr_assert_eq(ns_plugin_load_file(fx_path("compat", "ns-sink-newer.so"), &e, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_eq(e->desc.abi_minor, NS_ABI_MINOR + 1);
    cr_expect_gt(e->desc.desc_size, sizeof(struct ns_plugin_desc));
    cr_expect_str_eq(e->desc.version, "9.0.0");
    cr_expect_not_null(e->desc.process);
    ns_plugin_entry_free(e);
}

Test(loader, older_descriptor_is_zero_extended)
{
    struct ns_plugin_entry *e = NULL;
    cr_assert_eq(ns_plugin_load_file(fx_path("compat", "ns-sink-older.so"), &e, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_not_null(e->desc.process);
    cr_expect_not_null(e->desc.destroy);
    /* reopen lies beyond desc_size: the core must not have read it. */
    cr_expect_null(e->desc.reopen);
    for (size_t i = 0; i < 8; i++)
        cr_expect_null(e->desc.reserved[i]);
    ns_plugin_entry_free(e);
}

/* ---- the registry ------------------------------------------------------ */

static struct ns_registry reg;

static void reg_init(void)
{
    ns_registry_init(&reg);
}

static void reg_fini(void)
{
    ns_registry_free(&reg);
}

TestSuite(registry, .init = reg_init, .fini = reg_fini);

Test(registry, get_and_cache)
{
    ns_registry_add_dir(&reg, FX "/good");
    const struct ns_plugin_entry *a = ns_registry_get(&reg, "decoder/fx", err, sizeof(err));
    cr_assert_not_null(a, "%s", err);
    cr_expect_str_eq(a->id, "decoder/fx");
    cr_expect_str_eq(a->path, FX "/good/ns-decoder-fx.so");
    const struct ns_plugin_entry *b = ns_registry_get(&reg, "decoder/fx", err, sizeof(err));
    cr_expect_eq(a, b, "loaded twice");
    cr_expect_eq(reg.nloaded, 1);
    cr_expect_not_null(ns_registry_get(&reg, "sink/fx", err, sizeof(err)), "%s", err);
    cr_expect_eq(reg.nloaded, 2);
}

#define EXPECT_GET_ERR(id, want)                                                                   \
    do {                                                                                           \
        err[0] = '\0';                                                                             \
        cr_expect_null(ns_registry_get(&reg, (id), err, sizeof(err)), "%s found", (id));           \
        cr_expect_str_eq(err, (want), "got: %s", err);                                             \
    } while (0)

Test(registry, unknown_plugins)
{
    ns_registry_add_dir(&reg, FX "/good");
    EXPECT_GET_ERR("decoder/fz", "unknown plugin 'decoder/fz' (did you mean 'decoder/fx'?)");
    EXPECT_GET_ERR("sink/fxx", "unknown plugin 'sink/fxx' (did you mean 'sink/fx'?)");
    EXPECT_GET_ERR("decoder/quantum_flux",
                   "unknown plugin 'decoder/quantum_flux': no ns-decoder-quantum_flux.so in the "
                   "plugin path (1 directory; see `netscope plugins`)");
    EXPECT_GET_ERR("decodr/fx", "unknown plugin kind 'decodr' (did you mean 'decoder'?) (source, "
                                "decoder, enricher, detector or sink)");
    EXPECT_GET_ERR("xyzzyq/fx", "unknown plugin kind 'xyzzyq' (source, decoder, enricher, "
                                "detector or sink)");
    EXPECT_GET_ERR("fx", "plugin 'fx' must be written kind/name, e.g. decoder/flow");
    EXPECT_GET_ERR("/fx", "plugin '/fx' must be written kind/name, e.g. decoder/flow");
    EXPECT_GET_ERR("decoder/", "plugin 'decoder/' must be written kind/name, e.g. decoder/flow");
    EXPECT_GET_ERR("decoder/a/b", "plugin 'decoder/a/b' must be written kind/name, e.g. "
                                  "decoder/flow");
    EXPECT_GET_ERR("", "plugin '' must be written kind/name, e.g. decoder/flow");
    ns_registry_add_dir(&reg, "/nonexistent-dir");
    EXPECT_GET_ERR("decoder/quantum_flux",
                   "unknown plugin 'decoder/quantum_flux': no ns-decoder-quantum_flux.so in the "
                   "plugin path (2 directories; see `netscope plugins`)");
}

Test(registry, empty_path)
{
    EXPECT_GET_ERR("decoder/fx", "unknown plugin 'decoder/fx': no ns-decoder-fx.so in the plugin "
                                 "path (0 directories; see `netscope plugins`)");
}

Test(registry, refused_plugin_is_reported)
{
    ns_registry_add_dir(&reg, FX "/bad");
    EXPECT_GET_ERR("decoder/badmajor",
                   FX "/bad/ns-decoder-badmajor.so: built for plugin ABI 99.7, but this netscope "
                      "has ABI 1.1: rebuild the plugin against this version's headers");
    EXPECT_GET_ERR("sink/kindmix", FX "/bad/ns-sink-kindmix.so: kind mismatch: the file name "
                                      "says 'sink' but the descriptor says 'decoder'");
    cr_expect_eq(reg.nloaded, 0);
}

Test(registry, duplicate_on_the_path)
{
    ns_registry_add_dir(&reg, FX "/dup1");
    cr_expect_not_null(ns_registry_get(&reg, "enricher/dup", err, sizeof(err)), "%s", err);
    ns_registry_free(&reg);

    ns_registry_init(&reg);
    ns_registry_add_dir(&reg, FX "/good");
    ns_registry_add_dir(&reg, FX "/dup1");
    ns_registry_add_dir(&reg, FX "/dup2");
    EXPECT_GET_ERR("enricher/dup", "duplicate plugin enricher/dup: found both " FX
                                   "/dup1/ns-enricher-dup.so and " FX
                                   "/dup2/ns-enricher-dup.so; remove one or fix the plugin path");
    cr_expect_not_null(ns_registry_get(&reg, "enricher/fx", err, sizeof(err)), "%s", err);
}

Test(registry, search_path)
{
    cr_expect_eq(ns_registry_add_dir(&reg, "/a"), 0);
    cr_expect_eq(ns_registry_add_dir(&reg, "/a"), 0); /* duplicates ignored */
    cr_expect_eq(ns_registry_add_dir(&reg, ""), 0);
    cr_expect_eq(ns_registry_add_dir(&reg, NULL), 0);
    cr_assert_eq(reg.ndirs, 1);
    setenv("NETSCOPE_PLUGIN_PATH", "/b::/a:/c:", 1);
    ns_registry_add_env_dirs(&reg);
    cr_assert_eq(reg.ndirs, 3);
    cr_expect_str_eq(reg.dirs[1], "/b");
    cr_expect_str_eq(reg.dirs[2], "/c");
    unsetenv("NETSCOPE_PLUGIN_PATH");
    ns_registry_add_env_dirs(&reg);
    cr_expect_eq(reg.ndirs, 3);
    /* This test binary lives in the build tree: the build's plugin directory. */
    ns_registry_add_builtin_dirs(&reg);
    cr_assert_eq(reg.ndirs, 4);
    cr_expect_str_eq(reg.dirs[3], NS_PLUGIN_DIR);
}

Test(registry, list_ids)
{
    ns_registry_add_dir(&reg, FX "/good");
    ns_registry_add_dir(&reg, FX "/dup1");
    size_t n = 0;
    char **ids = ns_registry_list_ids(&reg, &n);
    cr_assert_not_null(ids);
    static const char *const want[] = {"decoder/fx", "detector/fx",  "enricher/fx", "sink/fx",
                                       "source/fx",  "source/fxrec", "enricher/dup"};
    cr_assert_eq(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(ids[i], want[i]);
    ns_free_strv(ids, n);
}

Test(registry, scan_reports_every_refusal)
{
    ns_registry_add_dir(&reg, FX "/good");
    ns_registry_add_dir(&reg, FX "/bad");
    ns_registry_add_dir(&reg, FX "/dup1");
    ns_registry_add_dir(&reg, FX "/dup2");
    char *out = NULL;
    size_t outlen = 0;
    FILE *mem = open_memstream(&out, &outlen);
    cr_assert_not_null(mem);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    size_t refused = ns_registry_scan(&reg);
    fflush(stderr);
    dup2(saved, 2);
    close(fds[1]);
    char buf[512];
    ssize_t r;
    while ((r = read(fds[0], buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)r, mem);
    close(fds[0]);
    fclose(mem);

    cr_expect_eq(refused, 14, "refused %zu:\n%s", refused, out);
    cr_expect_eq(reg.nloaded, 7);
    static const char *const files[] = {
        "ns-decoder-appnodata.so", "ns-decoder-badmajor.so",  "ns-decoder-garbage.so",
        "ns-decoder-liar.so",      "ns-decoder-tiny.so",      "ns-decoder-namemix.so",
        "ns-decoder-nosym.so",     "ns-decoder-shortdesc.so", "ns-detector-badkind.so",
        "ns-enricher-nocb.so",     "ns-sink-kindmix.so",      "ns-sink-noname.so",
        "ns-source-norun.so"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char line[600];
        snprintf(line, sizeof(line), "netscope: refused %s/bad/%s: ", FX, files[i]);
        cr_expect_not_null(strstr(out, line), "no refusal line for %s in:\n%s", files[i], out);
    }
    char dup[1024];
    snprintf(dup, sizeof(dup),
             "netscope: refused %s/dup2/ns-enricher-dup.so: duplicate plugin enricher/dup, "
             "already loaded from %s/dup1/ns-enricher-dup.so\n",
             FX, FX);
    cr_expect_not_null(strstr(out, dup), "no duplicate line in:\n%s", out);
    /* one line per refusal */
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 14, "%s", out);
    free(out);
}
