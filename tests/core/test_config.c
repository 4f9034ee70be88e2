/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config.c - core/ns_config.c: the YAML structure checks, each with its exact
 * "file:line:col: error: ..." (ns_diag_last()), file-level refusals (missing,
 * directory, NUL bytes, too large), the parsed tree and its marks, CLI overrides
 * and ns_config_apply against an option table.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ns_config.h"
#include "ns_opt.h"

static void quiet(void)
{
    ns_diag_quiet(true);
}

TestSuite(config, .init = quiet);

static struct ns_config *load(const char *text)
{
    return ns_config_load_string("t.yaml", text, strlen(text));
}

/* The text must be refused with exactly this diagnostic. */
#define EXPECT_REFUSED(text, diag)                                                                 \
    do {                                                                                           \
        struct ns_config *c_ = load(text);                                                         \
        cr_expect_null(c_, "accepted:\n%s", (text));                                               \
        ns_config_free(c_);                                                                        \
        cr_expect_str_eq(ns_diag_last(), (diag), "got: %s\nfor:\n%s", ns_diag_last(), (text));     \
    } while (0)

Test(config, minimal_ok)
{
    struct ns_config *c = load("pipeline:\n"
                               "  cap:\n"
                               "    plugin: source/fx\n");
    cr_assert_not_null(c, "%s", ns_diag_last());
    cr_expect_str_eq(c->file, "t.yaml");
    cr_assert_eq(c->nnodes, 1);
    cr_expect_str_eq(c->nodes[0].name, "cap");
    cr_expect_str_eq(c->nodes[0].plugin, "source/fx");
    cr_expect_eq(c->nodes[0].mark.line, 2);
    cr_expect_eq(c->nodes[0].mark.col, 3);
    cr_expect_eq(c->nodes[0].plugin_mark.line, 3);
    cr_expect_eq(c->nodes[0].plugin_mark.col, 13);
    cr_expect_not(c->nodes[0].from_given);
    cr_expect_eq(c->nodes[0].nkv, 0);
    cr_expect_eq(c->nsettings, 0);
    cr_expect_eq(c->pipeline_mark.line, 1);
    cr_expect_eq(c->pipeline_mark.col, 1);
    ns_config_free(c);
}

Test(config, full_tree_and_marks)
{
    struct ns_config *c = load("# comment\n"
                               "netscope:\n"
                               "  workers: 2\n"
                               "  plugin_path: [/a, /b]\n"
                               "pipeline:\n"
                               "  cap:\n"
                               "    plugin: source/fx\n"
                               "    file: \"x y.pcap\"\n"
                               "    empty:\n"
                               "  dec:\n"
                               "    plugin: decoder/fx\n"
                               "    from: cap\n"
                               "    tags:\n"
                               "      - one\n"
                               "      - two\n"
                               "    nested: {a: 1}\n"
                               "  out:\n"
                               "    plugin: sink/fx\n"
                               "    from: [dec, cap]\n"
                               "  none:\n"
                               "    plugin: sink/fx\n"
                               "    from: ~\n");
    cr_assert_not_null(c, "%s", ns_diag_last());
    cr_assert_eq(c->nsettings, 2);
    cr_expect_str_eq(c->settings[0].key, "workers");
    cr_expect_eq(c->settings[0].kind, NS_KV_SCALAR);
    cr_expect_str_eq(c->settings[0].vals[0], "2");
    cr_expect_eq(c->settings[0].kmark.line, 3);
    cr_expect_eq(c->settings[0].kmark.col, 3);
    cr_expect_eq(c->settings[0].vmark.col, 12);
    cr_expect_eq(c->settings[1].kind, NS_KV_LIST);
    cr_assert_eq(c->settings[1].nvals, 2);
    cr_expect_str_eq(c->settings[1].vals[1], "/b");

    cr_assert_eq(c->nnodes, 4);
    const struct ns_node_spec *cap = &c->nodes[0], *dec = &c->nodes[1], *out = &c->nodes[2],
                              *none = &c->nodes[3];
    cr_assert_eq(cap->nkv, 2);
    cr_expect_str_eq(cap->kvs[0].key, "file");
    cr_expect_str_eq(cap->kvs[0].vals[0], "x y.pcap");
    cr_expect_eq(cap->kvs[0].vmark.line, 8);
    cr_expect_eq(cap->kvs[0].vmark.col, 11);
    cr_expect_str_eq(cap->kvs[1].key, "empty");
    cr_expect_str_eq(cap->kvs[1].vals[0], ""); /* null -> empty string */

    cr_expect(dec->from_given);
    cr_assert_eq(dec->nfrom, 1);
    cr_expect_str_eq(dec->from[0], "cap");
    cr_expect_eq(dec->from_marks[0].line, 12);
    cr_expect_eq(dec->from_marks[0].col, 11);
    cr_assert_eq(dec->nkv, 2);
    cr_expect_eq(dec->kvs[0].kind, NS_KV_LIST);
    cr_assert_eq(dec->kvs[0].nvals, 2);
    cr_expect_str_eq(dec->kvs[0].vals[0], "one");
    cr_expect_eq(dec->kvs[1].kind, NS_KV_MAP);
    cr_expect_eq(dec->kvs[1].vmark.line, 16);
    cr_expect_eq(dec->kvs[1].vmark.col, 13);

    cr_assert_eq(out->nfrom, 2);
    cr_expect_str_eq(out->from[1], "cap");
    cr_expect_eq(out->from_marks[1].line, 19);
    cr_expect_eq(out->from_marks[1].col, 17);
    cr_expect(none->from_given);
    cr_expect_eq(none->nfrom, 0);
    ns_config_free(c);
}

Test(config, invalid_yaml)
{
    EXPECT_REFUSED("pipeline:\n  cap: [1, 2\n",
                   "t.yaml:3:1: error: invalid YAML: did not find expected ',' or ']' while "
                   "parsing a flow sequence");
    EXPECT_REFUSED("pipeline:\n\tcap:\n",
                   "t.yaml:2:1: error: invalid YAML: found character that cannot start any token "
                   "while scanning for the next token");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: \"source/fx\n",
                   "t.yaml:4:1: error: invalid YAML: found unexpected end of stream while "
                   "scanning a quoted scalar");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: source/fx\n   bad: 1\n",
                   "t.yaml:4:4: error: invalid YAML: did not find expected key while parsing a "
                   "block mapping");
    EXPECT_REFUSED("pipeline:\n  c\xff: {plugin: x}\n",
                   "t.yaml:2:4: error: invalid YAML: invalid leading UTF-8 octet");
    EXPECT_REFUSED("pipeline: *nowhere\n",
                   "t.yaml:1:11: error: invalid YAML: found undefined alias");
}

Test(config, more_than_one_document)
{
    /* A second document would be silently ignored: refuse it. */
    EXPECT_REFUSED("pipeline:\n  cap: {plugin: source/fx}\n---\npipeline:\n  x: {plugin: y}\n",
                   "t.yaml:3:1: error: only one YAML document is allowed in a pipeline file");
    /* ...and a broken one after it is still a syntax error. */
    EXPECT_REFUSED("pipeline:\n  cap: {plugin: source/fx}\n---\n[unclosed\n",
                   "t.yaml:5:1: error: invalid YAML: did not find expected ',' or ']' while "
                   "parsing a flow sequence");
    /* An explicit end marker alone is fine. */
    struct ns_config *c = load("---\npipeline:\n  cap: {plugin: source/fx}\n...\n");
    cr_expect_not_null(c, "%s", ns_diag_last());
    ns_config_free(c);
}

Test(config, empty)
{
    EXPECT_REFUSED("", "t.yaml: error: the file is empty: expected a 'pipeline:' mapping");
    EXPECT_REFUSED("# only a comment\n\n",
                   "t.yaml: error: the file is empty: expected a 'pipeline:' mapping");
    EXPECT_REFUSED("   \n\n\n", "t.yaml: error: the file is empty: expected a 'pipeline:' mapping");
}

Test(config, top_level_not_a_mapping)
{
    EXPECT_REFUSED("- a\n- b\n",
                   "t.yaml:1:1: error: expected a mapping with 'pipeline:' at the top level");
    EXPECT_REFUSED("\n\n  hello\n",
                   "t.yaml:3:3: error: expected a mapping with 'pipeline:' at the top level");
    EXPECT_REFUSED("---\n",
                   "t.yaml:2:1: error: expected a mapping with 'pipeline:' at the top level");
}

Test(config, unknown_top_level_key)
{
    EXPECT_REFUSED("pipline:\n  cap: {plugin: source/fx}\n",
                   "t.yaml:1:1: error: unknown top-level key 'pipline' (did you mean 'pipeline'?)");
    EXPECT_REFUSED("netscop:\n  workers: 1\n",
                   "t.yaml:1:1: error: unknown top-level key 'netscop' (did you mean 'netscope'?)");
    EXPECT_REFUSED("pipeline:\n  cap: {plugin: source/fx}\n\nsinks:\n  a: 1\n",
                   "t.yaml:4:1: error: unknown top-level key 'sinks' (expected 'netscope' or "
                   "'pipeline')");
}

Test(config, missing_or_empty_pipeline)
{
    EXPECT_REFUSED("netscope:\n  workers: 1\n", "t.yaml:1:1: error: no 'pipeline:' section");
    EXPECT_REFUSED("pipeline: {}\n", "t.yaml:1:11: error: 'pipeline' has no nodes");
    EXPECT_REFUSED("pipeline:\n",
                   "t.yaml:1:10: error: 'pipeline' must be a mapping of named nodes (name: "
                   "{plugin: ...})");
    EXPECT_REFUSED("pipeline:\n  - cap\n",
                   "t.yaml:2:3: error: 'pipeline' must be a mapping of named nodes (name: "
                   "{plugin: ...})");
}

Test(config, settings_section_shape)
{
    EXPECT_REFUSED("netscope: 4\npipeline:\n  cap: {plugin: source/fx}\n",
                   "t.yaml:1:11: error: 'netscope' must be a mapping of settings");
    EXPECT_REFUSED("netscope:\n  workers: 1\n  workers: 2\npipeline:\n  cap: {plugin: source/fx}\n",
                   "t.yaml:3:3: error: duplicate key 'workers' (first at line 2)");
    EXPECT_REFUSED("netscope:\n  plugin_path: [[a]]\npipeline:\n  cap: {plugin: source/fx}\n",
                   "t.yaml:2:17: error: 'plugin_path': list items must be plain values, not "
                   "lists or mappings");
    /* An empty settings section is allowed. */
    struct ns_config *c = load("netscope:\npipeline:\n  cap: {plugin: source/fx}\n");
    cr_expect_not_null(c, "%s", ns_diag_last());
    ns_config_free(c);
}

Test(config, duplicate_keys)
{
    EXPECT_REFUSED("pipeline:\n  a: {plugin: source/fx}\npipeline:\n  b: {plugin: source/fx}\n",
                   "t.yaml:3:1: error: duplicate key 'pipeline' (first at line 1)");
    EXPECT_REFUSED("pipeline:\n"
                   "  cap:\n"
                   "    plugin: source/fx\n"
                   "  dec:\n"
                   "    plugin: decoder/fx\n"
                   "  cap:\n"
                   "    plugin: source/fx\n",
                   "t.yaml:6:3: error: duplicate key 'cap' (first at line 2)");
    EXPECT_REFUSED("pipeline:\n"
                   "  cap:\n"
                   "    plugin: source/fx\n"
                   "    file: a\n"
                   "    file: b\n",
                   "t.yaml:5:5: error: duplicate key 'file' (first at line 4)");
    EXPECT_REFUSED("pipeline:\n"
                   "  cap:\n"
                   "    plugin: source/fx\n"
                   "    plugin: source/fx\n",
                   "t.yaml:4:5: error: duplicate key 'plugin' (first at line 3)");
}

Test(config, first_problem_in_file_order)
{
    /* Duplicates and non-string keys are reported in file order. */
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: source/fx\n    a: 1\n    [x]: 2\n    a: 3\n",
                   "t.yaml:5:5: error: keys must be plain strings");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: source/fx\n    a: 1\n    a: 3\n    [x]: 2\n",
                   "t.yaml:5:5: error: duplicate key 'a' (first at line 4)");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: source/fx\n    z: 1\n    b: 2\n    b: 3\n"
                   "    z: 4\n    b: 5\n",
                   "t.yaml:6:5: error: duplicate key 'b' (first at line 5)");
}

/* A 4 MiB file (the limit) with one node of ~290000 keys, the last one a
 * duplicate of the first: found quickly (was O(n^2) comparisons). */
Test(config, many_keys_are_checked_quickly, .timeout = 60)
{
    size_t cap = 4u << 20, len = 0;
    char *y = malloc(cap + 64);
    cr_assert_not_null(y);
    len += (size_t)sprintf(y, "pipeline:\n  cap:\n    plugin: source/fx\n");
    size_t i = 0;
    while (len + 32 < cap)
        len += (size_t)sprintf(y + len, "    k%zu: 1\n", i++);
    len += (size_t)sprintf(y + len, "    k0: 2\n");
    struct ns_config *c = ns_config_load_string("t.yaml", y, len);
    cr_expect_null(c);
    ns_config_free(c);
    char want[128];
    snprintf(want, sizeof(want), "t.yaml:%zu:5: error: duplicate key 'k0' (first at line 4)",
             i + 4);
    cr_expect_str_eq(ns_diag_last(), want, "got: %s", ns_diag_last());
    free(y);
}

/* libyaml's scanner is quadratic in flow nesting: 4 MiB of '[' must be refused
 * at once, not parsed for hours. */
Test(config, deep_nesting_is_refused_quickly, .timeout = 30)
{
    static const char head[] = "pipeline:\n  cap:\n    plugin: source/fx\n    x: ";
    size_t n = 4000000, hl = sizeof(head) - 1;
    char *y = malloc(hl + n + 2);
    cr_assert_not_null(y);
    memcpy(y, head, hl);
    memset(y + hl, '[', n);
    memcpy(y + hl + n, "\n", 2);
    EXPECT_REFUSED(y, "t.yaml:4:69: error: nested more than 64 levels deep: not a pipeline file");
    memset(y + hl, '{', n);
    EXPECT_REFUSED(y, "t.yaml:4:69: error: nested more than 64 levels deep: not a pipeline file");
    /* 64 levels are still YAML (and this one is then a bad option value). */
    memset(y + hl, '[', 61);
    memset(y + hl + 61, ']', 61);
    memcpy(y + hl + 122, "\n", 2);
    EXPECT_REFUSED(y, "t.yaml:4:9: error: 'x': list items must be plain values, not lists or "
                      "mappings");
    free(y);
}

Test(config, node_shapes)
{
    EXPECT_REFUSED("pipeline:\n  cap:\n    file: x.pcap\n",
                   "t.yaml:2:3: error: node 'cap' has no 'plugin' key (e.g. plugin: decoder/flow)");
    EXPECT_REFUSED("pipeline:\n  cap: source/fx\n",
                   "t.yaml:2:8: error: node 'cap' must be a mapping with at least 'plugin: "
                   "kind/name'");
    EXPECT_REFUSED("pipeline:\n  cap:\n  dec:\n    plugin: decoder/fx\n",
                   "t.yaml:2:7: error: node 'cap' must be a mapping with at least 'plugin: "
                   "kind/name'");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: [source/fx]\n",
                   "t.yaml:3:13: error: 'plugin' must be kind/name, e.g. decoder/flow");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin:\n",
                   "t.yaml:3:12: error: 'plugin' must be kind/name, e.g. decoder/flow");
    EXPECT_REFUSED("pipeline:\n  a/b:\n    plugin: source/fx\n",
                   "t.yaml:2:3: error: node name 'a/b' must be non-empty without '/' or spaces");
    EXPECT_REFUSED("pipeline:\n  my node:\n    plugin: source/fx\n",
                   "t.yaml:2:3: error: node name 'my node' must be non-empty without '/' or "
                   "spaces");
    EXPECT_REFUSED("pipeline:\n  \"\":\n    plugin: source/fx\n",
                   "t.yaml:2:3: error: node name '' must be non-empty without '/' or spaces");
    EXPECT_REFUSED("pipeline:\n  [a]:\n    plugin: source/fx\n",
                   "t.yaml:2:3: error: keys must be plain strings");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: source/fx\n    {a: 1}: 2\n",
                   "t.yaml:4:5: error: keys must be plain strings");
    EXPECT_REFUSED("pipeline:\n  cap:\n    plugin: source/fx\n    tags: [a, {b: 1}]\n",
                   "t.yaml:4:15: error: 'tags': list items must be plain values, not lists or "
                   "mappings");
}

Test(config, from_shapes)
{
    EXPECT_REFUSED("pipeline:\n  cap: {plugin: source/fx}\n  dec:\n    plugin: decoder/fx\n"
                   "    from: {cap: 1}\n",
                   "t.yaml:5:11: error: 'from' must be a node name or a list of node names");
    EXPECT_REFUSED("pipeline:\n  cap: {plugin: source/fx}\n  dec:\n    plugin: decoder/fx\n"
                   "    from: [cap, [x]]\n",
                   "t.yaml:5:17: error: 'from' lists node names");
    EXPECT_REFUSED("pipeline:\n  cap: {plugin: source/fx}\n  dec:\n    plugin: decoder/fx\n"
                   "    from:\n      - {a: b}\n",
                   "t.yaml:6:9: error: 'from' lists node names");
    /* A quoted empty string is a (bad) name, left for the graph to report. */
    struct ns_config *c = load("pipeline:\n  cap: {plugin: source/fx}\n  dec:\n"
                               "    plugin: decoder/fx\n    from: \"\"\n");
    cr_assert_not_null(c, "%s", ns_diag_last());
    cr_assert_eq(c->nodes[1].nfrom, 1);
    cr_expect_str_eq(c->nodes[1].from[0], "");
    ns_config_free(c);
    /* An empty list is given but empty. */
    c = load("pipeline:\n  cap: {plugin: source/fx}\n  dec:\n    plugin: decoder/fx\n"
             "    from: []\n");
    cr_assert_not_null(c, "%s", ns_diag_last());
    cr_expect(c->nodes[1].from_given);
    cr_expect_eq(c->nodes[1].nfrom, 0);
    ns_config_free(c);
}

/* ---- files ------------------------------------------------------------- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    ns_diag_quiet(true);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ns-test-config-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const void *data, size_t len)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return path;
}

TestSuite(config_file, .init = make_tmpdir, .fini = remove_tmpdir);

#define EXPECT_FILE_REFUSED(path, suffix)                                                          \
    do {                                                                                           \
        char want_[512];                                                                           \
        snprintf(want_, sizeof(want_), "%s%s", (path), (suffix));                                  \
        struct ns_config *c_ = ns_config_load_file(path);                                          \
        cr_expect_null(c_);                                                                        \
        ns_config_free(c_);                                                                        \
        cr_expect_str_eq(ns_diag_last(), want_);                                                   \
    } while (0)

Test(config_file, good_file)
{
    static const char y[] = "pipeline:\n  cap:\n    plugin: source/fx\n";
    const char *p = write_file("good.yaml", y, sizeof(y) - 1);
    struct ns_config *c = ns_config_load_file(p);
    cr_assert_not_null(c, "%s", ns_diag_last());
    cr_expect_str_eq(c->file, p);
    ns_config_free(c);
}

Test(config_file, errors_name_the_file)
{
    static const char y[] = "pipeline:\n  cap:\n    plugin: source/fx\n  cap:\n    plugin: x/y\n";
    const char *p = write_file("dup.yaml", y, sizeof(y) - 1);
    EXPECT_FILE_REFUSED(p, ":4:3: error: duplicate key 'cap' (first at line 2)");
}

Test(config_file, not_found)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/missing.yaml", tmpdir);
    EXPECT_FILE_REFUSED(p, ": error: cannot open: No such file or directory");
}

Test(config_file, a_directory)
{
    EXPECT_FILE_REFUSED(tmpdir, ": error: cannot read (is it a directory?)");
}

Test(config_file, unreadable)
{
    if (geteuid() == 0)
        cr_skip_test("root can read anything");
    static const char y[] = "pipeline: {}\n";
    const char *p = write_file("secret.yaml", y, sizeof(y) - 1);
    cr_assert_eq(chmod(p, 0), 0);
    EXPECT_FILE_REFUSED(p, ": error: cannot open: Permission denied");
}

Test(config_file, nul_bytes)
{
    static const char bin[] = "pipeline:\n  cap:\0\x01\x02\xff\xfe plugin: source/fx\n";
    const char *p = write_file("binary.yaml", bin, sizeof(bin) - 1);
    EXPECT_FILE_REFUSED(p, ": error: contains NUL bytes: not a YAML pipeline file");
    /* e.g. a capture file passed as -c */
    static const unsigned char pcap[] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0};
    p = write_file("trace.pcap", pcap, sizeof(pcap));
    EXPECT_FILE_REFUSED(p, ": error: contains NUL bytes: not a YAML pipeline file");
}

Test(config_file, huge)
{
    /* Exactly 4 MiB is accepted (comments and a valid pipeline)... */
    size_t max = 4u << 20;
    char *buf = malloc(max + 1);
    cr_assert_not_null(buf);
    memset(buf, ' ', max + 1);
    static const char y[] = "pipeline:\n  cap:\n    plugin: source/fx\n#";
    memcpy(buf, y, sizeof(y) - 1);
    buf[max - 1] = '\n';
    const char *p = write_file("big.yaml", buf, max);
    struct ns_config *c = ns_config_load_file(p);
    cr_expect_not_null(c, "%s", ns_diag_last());
    ns_config_free(c);
    /* ...one byte more is refused before parsing. */
    buf[max] = '\n';
    p = write_file("huge.yaml", buf, max + 1);
    EXPECT_FILE_REFUSED(p, ": error: larger than 4194304 bytes: not a pipeline file");
    free(buf);
}

Test(config_file, empty_file)
{
    const char *p = write_file("empty.yaml", "", 0);
    EXPECT_FILE_REFUSED(p, ": error: the file is empty: expected a 'pipeline:' mapping");
}

/* ---- diagnostics ------------------------------------------------------- */

Test(config, diag_format)
{
    ns_diag_file("a.yaml", (struct ns_mark){7, 9}, "bad %s", "thing");
    cr_expect_str_eq(ns_diag_last(), "a.yaml:7:9: error: bad thing");
    ns_diag_file("a.yaml", (struct ns_mark){0, 0}, "no position");
    cr_expect_str_eq(ns_diag_last(), "a.yaml: error: no position");
    ns_diag(NULL, (struct ns_mark){1, 1}, "no config");
    cr_expect_str_eq(ns_diag_last(), "?:1:1: error: no config");
    /* A very long message is truncated, not overflowed. */
    char longs[4000];
    memset(longs, 'x', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    ns_diag_file("a.yaml", (struct ns_mark){1, 2}, "%s", longs);
    cr_expect(strncmp(ns_diag_last(), "a.yaml:1:2: error: xxx", 22) == 0);
    cr_expect_lt(strlen(ns_diag_last()), 1024);
}

Test(config, diag_goes_to_stderr_unless_quiet)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    ns_diag_quiet(true);
    ns_diag_file("q.yaml", (struct ns_mark){1, 1}, "hidden");
    ns_diag_quiet(false);
    ns_diag_file("q.yaml", (struct ns_mark){2, 3}, "shown");
    fflush(stderr);
    dup2(saved, 2);
    close(fds[1]);
    char buf[256] = "";
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_expect_str_eq(buf, "q.yaml:2:3: error: shown\n");
}

/* ---- overrides and ns_config_apply -------------------------------------- */

Test(config, override)
{
    struct ns_config *c = load("pipeline:\n"
                               "  a: {plugin: source/fx, file: old.pcap}\n"
                               "  b: {plugin: source/fx}\n"
                               "  c: {plugin: sink/fx}\n");
    cr_assert_not_null(c, "%s", ns_diag_last());
    const char *v[] = {"new.pcap"};
    cr_expect_eq(ns_config_override(c, "source/fx", "file", v, 1, false), 2);
    cr_assert_eq(c->nodes[0].nkv, 1);
    cr_expect_str_eq(c->nodes[0].kvs[0].vals[0], "new.pcap");
    cr_assert_eq(c->nodes[1].nkv, 1);
    cr_expect_str_eq(c->nodes[1].kvs[0].key, "file");
    cr_expect_eq(c->nodes[1].kvs[0].kmark.line, 0); /* from the command line */
    const char *ifs[] = {"eth0", "eth1"};
    cr_expect_eq(ns_config_override(c, "source/fx", "interfaces", ifs, 2, true), 2);
    cr_expect_eq(c->nodes[0].kvs[1].kind, NS_KV_LIST);
    cr_expect_eq(c->nodes[0].kvs[1].nvals, 2);
    cr_expect_eq(ns_config_override(c, "decoder/none", "x", v, 1, false), 0);
    ns_config_free(c);
}

struct acfg {
    uint64_t count;
    char *name;
    struct ns_strlist tags;
    uint64_t legacy;
};

static const struct ns_option aopts[] = {
    {.name = "count",
     .type = NS_OPT_UINT,
     .def = "4",
     .max = 10,
     .offset = offsetof(struct acfg, count)},
    {.name = "name",
     .type = NS_OPT_STRING,
     .flags = NS_OPT_REQUIRED,
     .offset = offsetof(struct acfg, name),
     .doc = "Who."},
    {.name = "tags", .type = NS_OPT_STRING_LIST, .offset = offsetof(struct acfg, tags)},
    {.name = "legacy",
     .type = NS_OPT_UINT,
     .flags = NS_OPT_DEPRECATED,
     .alias = "count",
     .offset = offsetof(struct acfg, legacy)},
    NS_OPT_END};

/* Loads a one-node pipeline whose node `n` has the given option lines and applies them. */
static int apply(const char *opt_lines, struct acfg *a)
{
    char y[512];
    snprintf(y, sizeof(y), "pipeline:\n  n:\n    plugin: sink/fx\n%s", opt_lines);
    struct ns_config *c = load(y);
    cr_assert_not_null(c, "%s", ns_diag_last());
    static const char *const skip[] = {"on_full", NULL};
    memset(a, 0, sizeof(*a));
    int rc = ns_config_apply(c, c->nodes[0].kvs, c->nodes[0].nkv, c->nodes[0].mark, aopts, a, skip,
                             "node 'n'");
    ns_config_free(c);
    return rc;
}

#define EXPECT_APPLY_ERR(lines, diag)                                                              \
    do {                                                                                           \
        struct acfg a_;                                                                            \
        cr_expect_eq(apply((lines), &a_), -EINVAL, "accepted:\n%s", (lines));                      \
        ns_opt_free(aopts, &a_);                                                                   \
        cr_expect_str_eq(ns_diag_last(), (diag));                                                  \
    } while (0)

Test(config, apply_ok)
{
    struct acfg a;
    cr_assert_eq(apply("    name: x\n    tags: [p, q]\n    on_full: drop\n", &a), 0, "%s",
                 ns_diag_last());
    cr_expect_eq(a.count, 4);
    cr_expect_str_eq(a.name, "x");
    cr_expect_eq(a.tags.count, 2);
    ns_opt_free(aopts, &a);
    cr_assert_eq(apply("    name: x\n    tags: solo\n    count: 10\n", &a), 0, "%s",
                 ns_diag_last());
    cr_expect_eq(a.count, 10);
    cr_assert_eq(a.tags.count, 1);
    cr_expect_str_eq(a.tags.items[0], "solo");
    ns_opt_free(aopts, &a);
}

Test(config, apply_errors_are_located)
{
    EXPECT_APPLY_ERR("    name: x\n    cuont: 3\n",
                     "t.yaml:5:5: error: node 'n': unknown option 'cuont' (did you mean "
                     "'count'?)");
    EXPECT_APPLY_ERR("    name: x\n    zzzzzzzz: 3\n",
                     "t.yaml:5:5: error: node 'n': unknown option 'zzzzzzzz' (see `netscope "
                     "describe` for the options)");
    EXPECT_APPLY_ERR("    name: x\n    count: eleven\n",
                     "t.yaml:5:12: error: node 'n': 'count' expects a non-negative integer, got "
                     "'eleven'");
    EXPECT_APPLY_ERR("    name: x\n    count: 11\n",
                     "t.yaml:5:12: error: node 'n': 'count' is out of range: must be at most 10");
    EXPECT_APPLY_ERR("    name: x\n    count: [1, 2]\n",
                     "t.yaml:5:12: error: node 'n': 'count' expects a single uint, not a list");
    EXPECT_APPLY_ERR("    name:\n      first: a\n",
                     "t.yaml:5:7: error: node 'n': 'name' expects a string, got a mapping");
    EXPECT_APPLY_ERR("    count: 1\n",
                     "t.yaml:2:3: error: node 'n': missing required option 'name' (string: Who.)");
}

Test(config, apply_no_options)
{
    struct ns_config *c = load("pipeline:\n  n:\n    plugin: sink/fx\n    level: 3\n");
    cr_assert_not_null(c);
    int rc = ns_config_apply(c, c->nodes[0].kvs, c->nodes[0].nkv, c->nodes[0].mark, NULL, NULL,
                             NULL, "node 'n' (sink/fx)");
    cr_expect_eq(rc, -EINVAL);
    cr_expect_str_eq(ns_diag_last(), "t.yaml:4:5: error: node 'n' (sink/fx): unknown option "
                                     "'level' (this plugin takes no options)");
    ns_config_free(c);
}

Test(config, apply_deprecated_warns)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    struct acfg a;
    int rc = apply("    name: x\n    legacy: 3\n", &a);
    fflush(stderr);
    dup2(saved, 2);
    close(fds[1]);
    cr_expect_eq(rc, 0, "%s", ns_diag_last());
    cr_expect_eq(a.legacy, 3);
    ns_opt_free(aopts, &a);
    char buf[512] = "";
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_expect_str_eq(buf, "t.yaml:5:5: warning: node 'n': option 'legacy' is deprecated; use "
                          "'count'\n");
}
