#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install what is missing, build, and run NetScope's main
# job: the built-in pipeline (pcap -> flow -> JSON lines) on the bundled sample capture.
# Extra arguments go to `netscope run` (e.g. -r trace.pcap, -i eth0, -c pipeline.yaml).
set -eu
cd "$(dirname "$0")/.."
. packaging/deps.sh
ns_deps build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >&2
exec build/core/netscope run "$@"
