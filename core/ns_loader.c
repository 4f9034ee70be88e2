/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_loader.c - dlopen, the single-symbol contract and the ABI checks.
 *
 * The checks follow nginx's ngx_add_module and Suricata's RegisterPlugin: one
 * clear line naming the file, the reason and, for versions, both sides. The
 * descriptor is copied into a zeroed struct of the core's size, reading only the
 * plugin's desc_size bytes, so older minors load and newer fields read as NULL.
 */
#include "ns_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ns_log.h"
#include "ns_opt.h"

/* The smallest descriptor this core accepts: everything up to and including
 * `flush`, the last member of ABI 1.0's required layout. */
#define NS_DESC_MIN_SIZE (offsetof(struct ns_plugin_desc, flush) + sizeof(void *))

#define ERRF(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

void ns_registry_init(struct ns_registry *reg)
{
    memset(reg, 0, sizeof(*reg));
}

void ns_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void ns_plugin_entry_free(struct ns_plugin_entry *e)
{
    if (!e)
        return;
        /* Under AddressSanitizer, keep the code mapped so leak reports can still
         * symbolise frames inside the plugin. */
#if !defined(__SANITIZE_ADDRESS__)
    if (e->dl)
        dlclose(e->dl);
#endif
    free(e->path);
    free(e);
}

void ns_registry_free(struct ns_registry *reg)
{
    for (size_t i = 0; i < reg->nloaded; i++)
        ns_plugin_entry_free(reg->loaded[i]);
    free(reg->loaded);
    ns_free_strv(reg->dirs, reg->ndirs);
    memset(reg, 0, sizeof(*reg));
}

int ns_registry_add_dir(struct ns_registry *reg, const char *dir)
{
    char canon[PATH_MAX];
    if (!dir || !*dir)
        return 0;
    /* The same directory written two ways (relative, symlinked) is one entry,
     * not the source of "duplicate plugin" refusals. */
    if (realpath(dir, canon))
        dir = canon;
    for (size_t i = 0; i < reg->ndirs; i++)
        if (strcmp(reg->dirs[i], dir) == 0)
            return 0;
    char **nd = realloc(reg->dirs, (reg->ndirs + 1) * sizeof(char *));
    if (!nd)
        return -ENOMEM;
    reg->dirs = nd;
    if (!(reg->dirs[reg->ndirs] = strdup(dir)))
        return -ENOMEM;
    reg->ndirs++;
    return 0;
}

void ns_registry_add_env_dirs(struct ns_registry *reg)
{
    const char *env = getenv("NETSCOPE_PLUGIN_PATH");
    if (!env)
        return;
    char *copy = strdup(env), *save = NULL;
    for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
        ns_registry_add_dir(reg, d);
    free(copy);
}

/* True when /proc/self/exe lies inside the build tree that produced this core. */
static bool running_from_build_tree(void)
{
#ifdef NS_PLUGIN_BUILD_DIR
    char exe[PATH_MAX], bdir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    /* NS_PLUGIN_BUILD_DIR is <build>/plugins; the binaries live under <build>/. */
    snprintf(bdir, sizeof(bdir), "%s", NS_PLUGIN_BUILD_DIR);
    char *slash = strrchr(bdir, '/');
    if (!slash)
        return false;
    *slash = '\0';
    size_t bl = strlen(bdir);
    return strncmp(exe, bdir, bl) == 0 && exe[bl] == '/';
#else
    return false;
#endif
}

void ns_registry_add_builtin_dirs(struct ns_registry *reg)
{
#ifdef NS_PLUGIN_BUILD_DIR
    if (running_from_build_tree()) {
        ns_registry_add_dir(reg, NS_PLUGIN_BUILD_DIR);
        return;
    }
#endif
#ifdef NS_PLUGIN_INSTALL_DIR
    ns_registry_add_dir(reg, NS_PLUGIN_INSTALL_DIR);
#endif
}

/* "…/ns-decoder-dns.so" -> kind "decoder", name "dns". */
static int id_from_filename(const char *path, char *kind, size_t klen, char *name, size_t nlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (strncmp(base, "ns-", 3) != 0 || len < 9 || strcmp(base + len - 3, ".so") != 0)
        return -EINVAL;
    const char *k = base + 3;
    const char *dash = strchr(k, '-');
    if (!dash || (size_t)(dash - k) >= klen)
        return -EINVAL;
    memcpy(kind, k, (size_t)(dash - k));
    kind[dash - k] = '\0';
    size_t nl = (size_t)(base + len - 3 - (dash + 1));
    if (nl == 0 || nl >= nlen)
        return -EINVAL;
    memcpy(name, dash + 1, nl);
    name[nl] = '\0';
    return 0;
}

static const char *missing_callback(const struct ns_plugin_desc *d)
{
    switch (d->kind) {
    case NS_KIND_SOURCE:
        return (d->run || d->start) ? NULL : "run or start";
    case NS_KIND_DECODER:
        if (d->flags & NS_PLUGIN_APP)
            return !d->app_probe ? "app_probe" : !d->app_data ? "app_data" : NULL;
        return d->process_packets ? NULL : "process_packets";
    case NS_KIND_ENRICHER:
    case NS_KIND_DETECTOR:
    case NS_KIND_SINK:
        return d->process ? NULL : "process";
    }
    return NULL;
}

int ns_plugin_load_file(const char *path, struct ns_plugin_entry **out, char *err, size_t errlen)
{
    char fkind[32], fname[64];
    *out = NULL;

    if (id_from_filename(path, fkind, sizeof(fkind), fname, sizeof(fname)))
        return ERRF("%s: not a plugin file name (expected ns-<kind>-<name>.so)", path);
    if (!ns_kind_parse(fkind))
        return ERRF("%s: unknown kind '%s' in the file name (source, decoder, enricher, "
                    "detector or sink)",
                    path, fkind);

    dlerror();
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        return ERRF("%s: cannot load: %s (is it a NetScope plugin built for this system? "
                    "`ldd %s` shows missing libraries)",
                    path, e ? e : "unknown error", path);
    }
    const struct ns_plugin_desc *d = dlsym(dl, NS_PLUGIN_SYMBOL);
    if (!d) {
        dlclose(dl);
        return ERRF("%s: no '%s' symbol: not a NetScope plugin (define it with "
                    "NS_PLUGIN_DEFINE)",
                    path, NS_PLUGIN_SYMBOL);
    }
    int rc = -EINVAL;
    /* The symbol's own size bounds what may be read: a corrupt desc_size (or an
     * `ns_plugin` that is not a descriptor at all) must not make us read past it. */
    size_t symsize = SIZE_MAX;
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (dladdr1(d, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size)
        symsize = sym->st_size;
    if (symsize < offsetof(struct ns_plugin_desc, kind)) {
        (void)ERRF("%s: the '%s' symbol is only %zu bytes: not a NetScope plugin descriptor", path,
                   NS_PLUGIN_SYMBOL, symsize);
        goto fail;
    }
    if (d->abi_major != NS_ABI_MAJOR) {
        (void)ERRF("%s: built for plugin ABI %u.%u, but this netscope has ABI %u.%u: rebuild the "
                   "plugin against this version's headers",
                   path, d->abi_major, d->abi_minor, NS_ABI_MAJOR, NS_ABI_MINOR);
        goto fail;
    }
    if (d->desc_size < NS_DESC_MIN_SIZE) {
        (void)ERRF("%s: descriptor is %u bytes, shorter than the %zu bytes of ABI %u.0 (plugin ABI "
                   "%u.%u): corrupt or not built with NS_PLUGIN_DEFINE",
                   path, d->desc_size, (size_t)NS_DESC_MIN_SIZE, NS_ABI_MAJOR, d->abi_major,
                   d->abi_minor);
        goto fail;
    }
    if (d->desc_size > symsize) {
        (void)ERRF("%s: descriptor claims %u bytes, but the '%s' symbol is only %zu bytes: "
                   "corrupt or not built with NS_PLUGIN_DEFINE",
                   path, d->desc_size, NS_PLUGIN_SYMBOL, symsize);
        goto fail;
    }
    struct ns_plugin_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        rc = -ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    memcpy(&e->desc, d, d->desc_size < sizeof(e->desc) ? d->desc_size : sizeof(e->desc));
    e->dl = dl;
    const struct ns_plugin_desc *c = &e->desc;
    if (c->kind < NS_KIND_SOURCE || c->kind > NS_KIND_SINK) {
        (void)ERRF("%s: descriptor has an invalid kind %d", path, (int)c->kind);
        goto fail_e;
    }
    if (!c->name || !*c->name) {
        (void)ERRF("%s: descriptor has no name", path);
        goto fail_e;
    }
    if (strcmp(ns_kind_name(c->kind), fkind) != 0) {
        (void)ERRF("%s: kind mismatch: the file name says '%s' but the descriptor says '%s'", path,
                   fkind, ns_kind_name(c->kind));
        goto fail_e;
    }
    if (strcmp(c->name, fname) != 0) {
        (void)ERRF("%s: name mismatch: the file name says '%s' but the descriptor says '%s'", path,
                   fname, c->name);
        goto fail_e;
    }
    const char *miss = missing_callback(c);
    if (miss) {
        (void)ERRF("%s: %s plugin '%s' lacks the required callback '%s'", path, fkind, c->name,
                   miss);
        goto fail_e;
    }
    if (c->abi_minor > NS_ABI_MINOR)
        ns_debug("%s: built for a newer ABI minor (%u.%u > %u.%u); it must check host->size", path,
                 c->abi_major, c->abi_minor, NS_ABI_MAJOR, NS_ABI_MINOR);
    snprintf(e->id, sizeof(e->id), "%s/%s", fkind, fname);
    if (!(e->path = strdup(path))) {
        rc = -ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail_e;
    }
    *out = e;
    return 0;
fail_e:
    free(e);
fail:
    dlclose(dl);
    return rc;
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const struct ns_plugin_entry *ns_registry_get(struct ns_registry *reg, const char *id, char *err,
                                              size_t errlen)
{
    char kind[32], name[64], file[PATH_MAX], first[PATH_MAX] = "";
    const char *slash = strchr(id, '/');

    for (size_t i = 0; i < reg->nloaded; i++)
        if (strcmp(reg->loaded[i]->id, id) == 0)
            return reg->loaded[i];
    if (!slash || slash == id || !slash[1] || (size_t)(slash - id) >= sizeof(kind) ||
        strlen(slash + 1) >= sizeof(name) || strchr(slash + 1, '/')) {
        snprintf(err, errlen, "plugin '%s' must be written kind/name, e.g. decoder/flow", id);
        return NULL;
    }
    memcpy(kind, id, (size_t)(slash - id));
    kind[slash - id] = '\0';
    snprintf(name, sizeof(name), "%s", slash + 1);
    if (!ns_kind_parse(kind)) {
        static const char *const kinds[] = {"source", "decoder", "enricher", "detector", "sink"};
        const char *sug = ns_suggest(kind, kinds, 5);
        snprintf(err, errlen,
                 "unknown plugin kind '%s'%s%s%s (source, decoder, enricher, "
                 "detector or sink)",
                 kind, sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        return NULL;
    }
    for (size_t i = 0; i < reg->ndirs; i++) {
        snprintf(file, sizeof(file), "%s/ns-%s-%s.so", reg->dirs[i], kind, name);
        if (!file_exists(file))
            continue;
        if (*first) {
            snprintf(err, errlen,
                     "duplicate plugin %s: found both %s and %s; remove one or "
                     "fix the plugin path",
                     id, first, file);
            return NULL;
        }
        snprintf(first, sizeof(first), "%s", file);
    }
    if (!*first) {
        size_t n = 0;
        char **ids = ns_registry_list_ids(reg, &n);
        const char *sug = ids ? ns_suggest(id, (const char *const *)ids, n) : NULL;
        if (sug)
            snprintf(err, errlen, "unknown plugin '%s' (did you mean '%s'?)", id, sug);
        else
            snprintf(err, errlen,
                     "unknown plugin '%s': no ns-%s-%s.so in the plugin path (%zu "
                     "director%s; see `netscope plugins`)",
                     id, kind, name, reg->ndirs, reg->ndirs == 1 ? "y" : "ies");
        ns_free_strv(ids, n);
        return NULL;
    }
    struct ns_plugin_entry *e;
    if (ns_plugin_load_file(first, &e, err, errlen))
        return NULL;
    struct ns_plugin_entry **nl = realloc(reg->loaded, (reg->nloaded + 1) * sizeof(*nl));
    if (!nl) {
        ns_plugin_entry_free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    reg->loaded = nl;
    reg->loaded[reg->nloaded++] = e;
    return e;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every "ns-*.so" path on the search path, sorted within each directory. */
static char **list_files(struct ns_registry *reg, size_t *n)
{
    char **v = NULL;
    *n = 0;
    for (size_t i = 0; i < reg->ndirs; i++) {
        DIR *d = opendir(reg->dirs[i]);
        if (!d)
            continue;
        size_t start = *n;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (strncmp(de->d_name, "ns-", 3) != 0 || l < 7 ||
                strcmp(de->d_name + l - 3, ".so") != 0)
                continue;
            char **nv = realloc(v, (*n + 1) * sizeof(char *));
            if (!nv)
                break;
            v = nv;
            size_t pl = strlen(reg->dirs[i]) + l + 2;
            if (!(v[*n] = malloc(pl)))
                break;
            snprintf(v[*n], pl, "%s/%s", reg->dirs[i], de->d_name);
            (*n)++;
        }
        closedir(d);
        qsort(v + start, *n - start, sizeof(char *), cmp_str);
    }
    return v;
}

char **ns_registry_list_ids(struct ns_registry *reg, size_t *n)
{
    size_t nf;
    char **files = list_files(reg, &nf);
    char **ids = calloc(nf ? nf : 1, sizeof(char *));
    *n = 0;
    for (size_t i = 0; ids && i < nf; i++) {
        char kind[32], name[64], id[100];
        if (id_from_filename(files[i], kind, sizeof(kind), name, sizeof(name)))
            continue;
        snprintf(id, sizeof(id), "%s/%s", kind, name);
        if ((ids[*n] = strdup(id)))
            (*n)++;
    }
    ns_free_strv(files, nf);
    return ids;
}

size_t ns_registry_scan(struct ns_registry *reg)
{
    size_t nf, refused = 0;
    char **files = list_files(reg, &nf);
    char err[1024];
    for (size_t i = 0; i < nf; i++) {
        struct ns_plugin_entry *e;
        if (ns_plugin_load_file(files[i], &e, err, sizeof(err))) {
            fprintf(stderr, "netscope: refused %s\n", err);
            refused++;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < reg->nloaded; j++) {
            if (strcmp(reg->loaded[j]->id, e->id) == 0) {
                fprintf(stderr,
                        "netscope: refused %s: duplicate plugin %s, already loaded "
                        "from %s\n",
                        e->path, e->id, reg->loaded[j]->path);
                dup = true;
            }
        }
        if (dup) {
            ns_plugin_entry_free(e);
            refused++;
            continue;
        }
        struct ns_plugin_entry **nl = realloc(reg->loaded, (reg->nloaded + 1) * sizeof(*nl));
        if (!nl) {
            ns_plugin_entry_free(e);
            refused++;
            continue;
        }
        reg->loaded = nl;
        reg->loaded[reg->nloaded++] = e;
    }
    ns_free_strv(files, nf);
    return refused;
}
