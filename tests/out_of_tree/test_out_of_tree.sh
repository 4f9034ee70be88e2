#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install NetScope to a temporary prefix, build tests/out_of_tree/example against the
# installed headers via netscope.pc, and load it with the installed netscope.
# usage: test_out_of_tree.sh BUILD_DIR SRC_DIR
set -eu
build=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name netscope.pc | head -1)
[ -n "$pc" ] || { echo "FAIL netscope.pc not installed"; echo "0 passed, 1 failed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
cmake -S "$src/tests/out_of_tree/example" -B "$tmp/ex" >/dev/null
cmake --build "$tmp/ex" >/dev/null
so="$tmp/ex/ns-detector-hello.so"
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $*"; fi; }
check test -f "$so"
check test "$(nm -D --defined-only "$so" | awk '{print $3}')" = ns_plugin
out=$(NETSCOPE_PLUGIN_PATH="$tmp/ex" "$tmp/prefix/bin/netscope" describe detector/hello)
check test -n "$(echo "$out" | grep '^detector/hello 0.1.0')"
# The installed binary finds its installed plugins and sample capture.
if [ -f "$tmp/prefix/share/netscope/sample.pcapng" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL sample not installed"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
