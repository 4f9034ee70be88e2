/* SPDX-License-Identifier: Apache-2.0 */
/* netscope.h - umbrella header for plugin authors. */
#ifndef NETSCOPE_NETSCOPE_H
#define NETSCOPE_NETSCOPE_H
#include "ns_option.h"
#include "ns_plugin.h"
#include "ns_record.h"
#endif
