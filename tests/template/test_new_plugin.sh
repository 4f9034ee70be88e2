#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# plugins/new-plugin.sh makes a plugin of every kind that compiles with -Werror against the
# public headers only, exports one symbol, and that netscope loads and describes.
# usage: test_new_plugin.sh SRCDIR NETSCOPE CC
set -eu
src=$1 netscope=$2 cc=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for kind in source decoder enricher detector sink; do
    name="demo_$kind"
    "$src/plugins/new-plugin.sh" "$kind" "$name" "$tmp/$kind" >/dev/null
    so="$tmp/lib/ns-$kind-$name.so"; mkdir -p "$tmp/lib"
    if "$cc" -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
        -I"$src/core/include" -o "$so" "$tmp/$kind/$name.c" &&
        [ "$(nm -D --defined-only "$so" | awk '{print $3}')" = "ns_plugin" ] &&
        NETSCOPE_PLUGIN_PATH="$tmp/lib" "$netscope" describe "$kind/$name" | grep -q "^$kind/$name"; then
        pass=$((pass + 1)); echo "ok   $kind/$name"
    else
        fail=$((fail + 1)); echo "FAIL $kind/$name"
    fi
done
"$src/plugins/new-plugin.sh" bogus x "$tmp/x" 2>/dev/null && { fail=$((fail+1)); echo "FAIL bogus kind accepted"; } || pass=$((pass+1))
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
