#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# check_exports.sh PLUGIN_DIR [PLUGIN.so ...] - every installable NetScope plugin
# exports exactly one dynamic symbol, `ns_plugin` (plugins/plugin.map hides the rest).
# Checks each file named on the command line (the targets CMake builds; each must
# exist) and every ns-*.so found in PLUGIN_DIR. Run by ctest (abi_exports).
set -u
dir=$1
shift
fail=0
checked=0

check() {
    f=$1
    if [ ! -f "$f" ]; then
        echo "FAIL $f: not built"
        fail=1
        return
    fi
    syms=$(nm -D --defined-only "$f" 2>&1) || {
        echo "FAIL $f: nm failed: $syms"
        fail=1
        return
    }
    names=$(printf '%s\n' "$syms" | awk 'NF { print $NF }' | sort -u | tr '\n' ' ')
    if [ "$names" != "ns_plugin " ]; then
        echo "FAIL $f: exports [${names% }], expected only [ns_plugin]"
        fail=1
    else
        echo "ok   $f"
    fi
    checked=$((checked + 1))
}

for f in "$@"; do
    check "$f"
done
for f in "$dir"/ns-*.so; do
    [ -e "$f" ] || continue
    case " $* " in *" $f "*) continue ;; esac
    check "$f"
done
# Plugins may live in per-kind subdirectories in other layouts.
for f in "$dir"/*/ns-*.so "$dir"/*/*/ns-*.so; do
    [ -e "$f" ] || continue
    case " $* " in *" $f "*) continue ;; esac
    check "$f"
done

if [ "$checked" -eq 0 ] && [ "$fail" -eq 0 ]; then
    echo "FAIL no plugins found in $dir"
    exit 1
fi
echo "$checked plugin(s) checked"
exit $fail
