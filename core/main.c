/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - the `netscope` command line.
 *
 *   netscope run [-c FILE] [-r CAPTURE | -i IFACE ...] [-f FILTER] [-w N]
 *   netscope check-config FILE
 *   netscope plugins
 *   netscope describe KIND/NAME [--format text|md|json]
 *   netscope version
 *
 * No daemonising: systemd (Type=notify) or the shell owns the process.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ns_config.h"
#include "ns_graph.h"
#include "ns_loader.h"
#include "ns_log.h"
#include "ns_metrics.h"
#include "ns_opt.h"
#include "ns_rt.h"

#ifndef NS_VERSION
#define NS_VERSION "0.0.0"
#endif

/* The built-in pipeline: what `netscope run` does without -c. It grows as
 * plugins land. %s is the capture file. */
static const char default_pipeline_file[] = "pipeline:\n"
                                            "  capture:\n"
                                            "    plugin: source/pcap\n"
                                            "  flows:\n"
                                            "    plugin: decoder/flow\n"
                                            "  dns:\n"
                                            "    plugin: decoder/dns\n"
                                            "  tls:\n"
                                            "    plugin: decoder/tls\n"
                                            "  http:\n"
                                            "    plugin: decoder/http\n"
                                            "  http2:\n"
                                            "    plugin: decoder/http2\n"
                                            "  out:\n"
                                            "    plugin: sink/jsonl\n";

static void usage(FILE *f)
{
    fprintf(f, "usage: netscope <command> [options]\n"
               "\n"
               "commands:\n"
               "  run [-c FILE] [-r CAPTURE | -i IFACE ...] [-f FILTER] [-w N]\n"
               "                      run a pipeline (default: the built-in one on the bundled\n"
               "                      sample capture, printing JSON lines)\n"
               "  check-config FILE   validate a pipeline file without running it (exit 0 or 1)\n"
               "  plugins             list the plugins found on the plugin path\n"
               "  describe KIND/NAME [--format text|md|json]\n"
               "                      print a plugin's options\n"
               "  version             print the version and plugin ABI\n"
               "\n"
               "run options:\n"
               "  -c, --config FILE   pipeline YAML (default: built-in pcap -> flow + dns, tls,\n"
               "                      http, http2 -> jsonl)\n"
               "  -r, --read FILE     read a pcap/pcapng file (sets source/pcap's 'file')\n"
               "  -i, --interface IF  capture live on IF (repeatable; sets 'interfaces')\n"
               "  -f, --filter EXPR   BPF capture filter, e.g. 'not port 22'\n"
               "  -w, --workers N     decoder worker threads (default: online CPUs)\n"
               "  -l, --log-level L   error, warn, info, debug or trace\n"
               "  -q, --quiet         only warnings and errors on stderr\n"
               "      --stats         print the counters on stderr at exit\n"
               "\n"
               "environment: NETSCOPE_PLUGIN_PATH (colon-separated plugin directories)\n");
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The bundled sample capture: the installed copy, else the source tree's. */
static const char *sample_capture(void)
{
    static char path[PATH_MAX];
#ifdef NS_DATA_INSTALL_DIR
    snprintf(path, sizeof(path), "%s/sample.pcapng", NS_DATA_INSTALL_DIR);
    if (file_exists(path))
        return path;
#endif
#ifdef NS_SOURCE_DIR
    snprintf(path, sizeof(path), "%s/configs/sample.pcapng", NS_SOURCE_DIR);
    if (file_exists(path))
        return path;
#endif
    return NULL;
}

struct run_args {
    const char *config;
    const char *read;
    const char **ifaces;
    size_t nifaces;
    const char *filter;
    const char *workers;
    const char *log_level;
    bool quiet, stats;
};

/* Load the configuration (file or built-in) and apply the command line. */
static struct ns_config *load_config(const struct run_args *a)
{
    struct ns_config *cfg;
    if (a->config)
        cfg = ns_config_load_file(a->config);
    else
        cfg = ns_config_load_string("<built-in pipeline>", default_pipeline_file,
                                    sizeof(default_pipeline_file) - 1);
    if (!cfg)
        return NULL;
    const char *read = a->read;
    if (!a->config && !read && !a->nifaces) {
        read = sample_capture();
        if (!read) {
            fprintf(stderr, "netscope: error: the bundled sample capture is not installed; "
                            "give a capture with -r FILE or an interface with -i IFACE\n");
            ns_config_free(cfg);
            return NULL;
        }
    }
    if (read || a->nifaces) {
        size_t m;
        if (read)
            m = ns_config_override(cfg, "source/pcap", "file", &read, 1, false);
        else
            m = ns_config_override(cfg, "source/pcap", "interfaces", a->ifaces, a->nifaces, true);
        if (m == 0) {
            fprintf(stderr, "%s: error: -r/-i need a source/pcap node in the pipeline\n",
                    cfg->file);
            ns_config_free(cfg);
            return NULL;
        }
        if (a->config) {
            /* -r replaces a live capture and -i a file: drop the other key. */
            const char *other = read ? "interfaces" : "file";
            for (size_t i = 0; i < cfg->nnodes; i++) {
                struct ns_node_spec *n = &cfg->nodes[i];
                if (strcmp(n->plugin, "source/pcap") != 0)
                    continue;
                for (size_t j = 0; j < n->nkv; j++)
                    if (strcmp(n->kvs[j].key, other) == 0) {
                        free(n->kvs[j].key);
                        n->kvs[j].key = strdup("#removed");
                    }
            }
        }
    }
    if (a->filter)
        ns_config_override(cfg, "source/pcap", "filter", &a->filter, 1, false);
    /* Keys renamed "#removed" above are not options: take them out. */
    for (size_t i = 0; i < cfg->nnodes; i++) {
        struct ns_node_spec *n = &cfg->nodes[i];
        size_t k = 0;
        for (size_t j = 0; j < n->nkv; j++) {
            if (n->kvs[j].key && strcmp(n->kvs[j].key, "#removed") == 0) {
                free(n->kvs[j].key);
                for (size_t v = 0; v < n->kvs[j].nvals; v++)
                    free(n->kvs[j].vals[v]);
                free(n->kvs[j].vals);
                continue;
            }
            n->kvs[k++] = n->kvs[j];
        }
        n->nkv = k;
    }
    return cfg;
}

/* Settings given on the command line win over the file. */
static int apply_cli_settings(struct ns_graph *g, const struct run_args *a)
{
    if (a->workers) {
        char err[256];
        const struct ns_option *o = ns_opt_find(ns_settings_options(), "workers");
        if (ns_opt_set(o, &g->settings, a->workers, err, sizeof(err))) {
            fprintf(stderr, "netscope: error: --workers: %s\n", err);
            return -1;
        }
    }
    return 0;
}

static int set_log_level(const struct run_args *a, int from_config)
{
    int lvl = from_config;
    if (a->quiet)
        lvl = NS_LOG_WARN;
    if (a->log_level) {
        lvl = ns_log_level_parse(a->log_level);
        if (lvl < 0) {
            fprintf(stderr,
                    "netscope: error: unknown log level '%s' (error, warn, info, debug, "
                    "trace)\n",
                    a->log_level);
            return -1;
        }
    }
    ns_log_set_level(lvl);
    return 0;
}

/* Build a graph from scratch: settings, plugin path, plugins, options, edges. */
static struct ns_graph *build(struct ns_config *cfg, struct ns_registry *reg)
{
    struct ns_settings s;
    if (ns_graph_settings(cfg, &s, reg))
        return NULL;
    ns_settings_free(&s);
    return ns_graph_build(cfg, reg);
}

struct reload_ctx {
    const struct run_args *args;
};

static int reload(void *arg)
{
    struct reload_ctx *rc = arg;
    if (!rc->args->config) {
        ns_info("SIGHUP: the built-in pipeline has no file to re-read; reopening outputs");
        return 0;
    }
    struct ns_registry reg;
    ns_registry_init(&reg);
    struct ns_config *cfg = load_config(rc->args);
    struct ns_graph *g = cfg ? build(cfg, &reg) : NULL;
    int ret = g ? 0 : -1;
    if (g)
        ns_info("SIGHUP: %s is valid (%zu nodes); outputs reopened. Changes to the graph take "
                "effect at the next start (lossless live reload is not implemented yet)",
                cfg->file, g->n);
    else
        ns_err("SIGHUP: the new configuration is invalid (see above); the running pipeline "
               "is unchanged");
    ns_graph_free(g);
    ns_config_free(cfg);
    ns_registry_free(&reg);
    return ret;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option lopts[] = {{"config", required_argument, NULL, 'c'},
                                          {"read", required_argument, NULL, 'r'},
                                          {"interface", required_argument, NULL, 'i'},
                                          {"filter", required_argument, NULL, 'f'},
                                          {"workers", required_argument, NULL, 'w'},
                                          {"log-level", required_argument, NULL, 'l'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"stats", no_argument, NULL, 'S'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    struct run_args a = {0};
    const char *ifaces[64];
    int c;

    a.ifaces = ifaces;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:r:i:f:w:l:qh", lopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a.config = optarg;
            break;
        case 'r':
            a.read = optarg;
            break;
        case 'i':
            if (a.nifaces == 64) {
                fprintf(stderr, "netscope: error: at most 64 interfaces\n");
                return 2;
            }
            ifaces[a.nifaces++] = optarg;
            break;
        case 'f':
            a.filter = optarg;
            break;
        case 'w':
            a.workers = optarg;
            break;
        case 'l':
            a.log_level = optarg;
            break;
        case 'q':
            a.quiet = true;
            break;
        case 'S':
            a.stats = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "netscope: error: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (a.read && a.nifaces) {
        fprintf(stderr, "netscope: error: -r and -i exclude each other\n");
        return 2;
    }
    if (set_log_level(&a, NS_LOG_INFO))
        return 2;

    struct ns_registry reg;
    ns_registry_init(&reg);
    struct ns_config *cfg = load_config(&a);
    struct ns_graph *g = cfg ? build(cfg, &reg) : NULL;
    int ret = 1;
    if (g && apply_cli_settings(g, &a) == 0 && set_log_level(&a, g->settings.log_level) == 0) {
        struct reload_ctx rc = {&a};
        struct ns_rt_opts o = {.reload = reload, .reload_arg = &rc, .print_summary = a.stats};
        ret = ns_rt_run(g, &o);
    }
    ns_graph_free(g);
    ns_config_free(cfg);
    ns_registry_free(&reg);
    ns_metrics_reset();
    return ret;
}

static int cmd_check(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: netscope check-config FILE\n");
        return 2;
    }
    struct ns_registry reg;
    ns_registry_init(&reg);
    struct ns_config *cfg = ns_config_load_file(argv[1]);
    struct ns_graph *g = cfg ? build(cfg, &reg) : NULL;
    int ret = g ? 0 : 1;
    if (g)
        printf("%s: ok (%zu nodes)\n", argv[1], g->n);
    ns_graph_free(g);
    ns_config_free(cfg);
    ns_registry_free(&reg);
    return ret;
}

static struct ns_registry *registry_for_listing(struct ns_registry *reg)
{
    ns_registry_init(reg);
    ns_registry_add_env_dirs(reg);
    ns_registry_add_builtin_dirs(reg);
    return reg;
}

static int cmd_plugins(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: netscope plugins\n");
        return 2;
    }
    struct ns_registry reg;
    registry_for_listing(&reg);
    size_t refused = ns_registry_scan(&reg);
    printf("%-22s %-9s %s\n", "PLUGIN", "VERSION", "SUMMARY");
    for (size_t i = 0; i < reg.nloaded; i++) {
        const struct ns_plugin_entry *e = reg.loaded[i];
        printf("%-22s %-9s %s\n", e->id, e->desc.version ? e->desc.version : "?",
               e->desc.summary ? e->desc.summary : "");
    }
    printf("\nsearch path:");
    for (size_t i = 0; i < reg.ndirs; i++)
        printf(" %s", reg.dirs[i]);
    printf("\n");
    ns_registry_free(&reg);
    return refused ? 1 : 0;
}

static int cmd_describe(int argc, char **argv)
{
    static const struct option lopts[] = {{"format", required_argument, NULL, 'F'},
                                          {NULL, 0, NULL, 0}};
    enum ns_doc_format fmt = NS_DOC_TEXT;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "F:", lopts, NULL)) != -1) {
        if (c != 'F') {
            fprintf(stderr, "usage: netscope describe KIND/NAME [--format text|md|json]\n");
            return 2;
        }
        if (strcmp(optarg, "text") == 0)
            fmt = NS_DOC_TEXT;
        else if (strcmp(optarg, "md") == 0 || strcmp(optarg, "markdown") == 0)
            fmt = NS_DOC_MD;
        else if (strcmp(optarg, "json") == 0)
            fmt = NS_DOC_JSON;
        else {
            fprintf(stderr, "netscope: error: unknown format '%s' (text, md or json)\n", optarg);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: netscope describe KIND/NAME [--format text|md|json]\n");
        return 2;
    }
    struct ns_registry reg;
    registry_for_listing(&reg);
    char err[1024];
    const struct ns_plugin_entry *e = ns_registry_get(&reg, argv[optind], err, sizeof(err));
    if (!e) {
        fprintf(stderr, "netscope: error: %s\n", err);
        ns_registry_free(&reg);
        return 1;
    }
    ns_opt_describe(stdout, &e->desc, fmt);
    ns_registry_free(&reg);
    return 0;
}

int main(int argc, char **argv)
{
    /* A sink writing to a closed pipe gets EPIPE (counted), not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        /* `netscope` alone runs the main job on the built-in default. */
        char *def[] = {"run", NULL};
        return cmd_run(1, def);
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "check-config") == 0 || strcmp(cmd, "--check-config") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "plugins") == 0 || strcmp(cmd, "--list-plugins") == 0)
        return cmd_plugins(argc - 1, argv + 1);
    if (strcmp(cmd, "describe") == 0 || strcmp(cmd, "--describe") == 0)
        return cmd_describe(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("netscope %s (plugin ABI %d.%d, record schema %d)\n", NS_VERSION, NS_ABI_MAJOR,
               NS_ABI_MINOR, 1);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    static const char *const cmds[] = {"run",      "check-config", "plugins",
                                       "describe", "version",      "help"};
    const char *sug = ns_suggest(cmd, cmds, 6);
    fprintf(stderr, "netscope: error: unknown command '%s'%s%s%s\n", cmd,
            sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    usage(stderr);
    return 2;
}
