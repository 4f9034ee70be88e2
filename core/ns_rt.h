/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_rt.h - running a validated pipeline graph: instances, threads, rings, the
 * libuv loop, signals and the ordered drain on shutdown. See core/README.md for
 * the threading diagram.
 */
#ifndef NS_RT_H
#define NS_RT_H

#include <stdbool.h>

#include "ns_graph.h"

struct ns_rt;

/* Called on the loop thread on SIGHUP. Return 0 when the new configuration was
 * valid (then the runtime calls every sink's reopen), negative when it was not
 * (the error has been logged; the pipeline keeps running unchanged). */
typedef int (*ns_rt_reload_cb)(void *arg);

struct ns_rt_opts {
    ns_rt_reload_cb reload;
    void *reload_arg;
    bool print_summary; /* a summary of counters on stderr at exit */
};

/*
 * Run the graph until every source has finished and the pipeline drained, or a
 * SIGINT/SIGTERM stopped it and it drained. Returns 0 on a clean finish, 1 when
 * the pipeline could not start (the reason logged). The graph is borrowed.
 * Loop thread (the caller's thread becomes the loop thread).
 */
int ns_rt_run(struct ns_graph *g, const struct ns_rt_opts *opts);

/* The host table given to plugins. */
const struct ns_host *ns_rt_host(void);

#endif
