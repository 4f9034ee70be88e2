/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_loader.h - finding and loading plugin .so files, and refusing bad ones.
 *
 * A plugin `kind/name` lives in a file ns-<kind>-<name>.so on the search path:
 *   1. $NETSCOPE_PLUGIN_PATH (colon-separated),
 *   2. `plugin_path` from the YAML `netscope:` section,
 *   3. the build tree's plugin directory when this binary runs from the build tree,
 *      otherwise the installed $libdir/netscope.
 * The same kind/name found in two places is refused as a duplicate.
 *
 * Loop thread only (dlopen is not on the data path).
 */
#ifndef NS_LOADER_H
#define NS_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "netscope/ns_plugin.h"

struct ns_plugin_entry {
    char *path;
    void *dl;
    struct ns_plugin_desc desc; /* copy, zero-extended from the plugin's desc_size */
    char id[96];                /* "decoder/dns" */
};

struct ns_registry {
    char **dirs;
    size_t ndirs;
    struct ns_plugin_entry **loaded;
    size_t nloaded;
};

void ns_registry_init(struct ns_registry *reg);
void ns_registry_free(struct ns_registry *reg); /* dlcloses everything */
/* Append a directory to the search path (duplicates ignored). */
int ns_registry_add_dir(struct ns_registry *reg, const char *dir);
/* Append the environment and the built-in directories (steps 1 and 3 above). */
void ns_registry_add_env_dirs(struct ns_registry *reg);
void ns_registry_add_builtin_dirs(struct ns_registry *reg);

/*
 * Load and check one file. `expect` is "kind/name" derived from the file name or
 * NULL to derive it here. On refusal returns a negative errno and writes one line
 * naming the file and the reason into err.
 */
int ns_plugin_load_file(const char *path, struct ns_plugin_entry **out, char *err, size_t errlen);
void ns_plugin_entry_free(struct ns_plugin_entry *e);

/* Find `kind/name` on the search path and load it once (cached). NULL with err
 * filled when absent, refused or ambiguous. */
const struct ns_plugin_entry *ns_registry_get(struct ns_registry *reg, const char *id, char *err,
                                              size_t errlen);

/* For `netscope plugins`: load every ns-*.so on the path; print refusals to
 * stderr; the loaded ones stay in reg->loaded. Returns the number refused. */
size_t ns_registry_scan(struct ns_registry *reg);

/* All ids "kind/name" found on the path (for "did you mean"); caller frees. */
char **ns_registry_list_ids(struct ns_registry *reg, size_t *n);
void ns_free_strv(char **v, size_t n);

#endif
