/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pcap.h - source/pcap's option block (private to the plugin and its tests).
 *
 * The core fills it from the YAML per the option table in pcap.c; the plugin
 * reads it in init and run. Field meanings: README.md.
 */
#ifndef NS_SOURCE_PCAP_H
#define NS_SOURCE_PCAP_H

#include <stdbool.h>
#include <stdint.h>

#include "netscope/ns_option.h"

struct psrc_config {
    char *file;
    struct ns_strlist interfaces;
    char *filter;
    uint64_t snaplen;
    bool promisc;
    uint64_t buffer_size;
    bool immediate;
    int reader; /* enum psrc_reader (NS_OPT_ENUM index) */
};

/* `reader`: how offline files are read. AUTO maps classic pcap files (regular
 * files only) and reads them in place; everything else goes through libpcap. */
enum psrc_reader {
    PSRC_READER_AUTO = 0,
    PSRC_READER_LIBPCAP = 1,
};

#endif
