#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Debian package: configure a Release tree with prefix /usr, build it, run
# `cpack -G DEB`, then check the package WITHOUT installing it (dpkg-deb -I/-c/-x into
# a temporary directory): control fields and dependencies, conffiles, the file list,
# and that the extracted netscope lists the packaged plugins and runs the built-in
# pipeline on the packaged sample. Not a ctest test: it builds a whole tree (minutes).
# Installing for real (`dpkg -i`) is left to a person; see packaging/README.md.
#   sh tests/ops/test_deb.sh [BUILD_DIR]      (default: a temporary directory)
# Exit 0 when every check passed; the .deb path is printed (kept when BUILD_DIR is given).
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
build=${1:-$work/build}
fail=0
bad() { echo "FAIL: $*"; fail=1; }

cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DNS_BUILD_TESTS=OFF -DNS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j2 >/dev/null
rm -f "$build"/netscope_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/netscope_*.deb)
echo "package: $deb ($(du -k "$deb" | cut -f1) KiB)"

info=$(dpkg-deb -I "$deb")
echo "$info" | grep -E '^ (Package|Version|Architecture|Depends):'
echo "$info" | grep -q '^ Depends:.*libuv1' || bad "Depends lacks libuv1"
echo "$info" | grep -q '^ Depends:.*libhttp-parser' || bad "Depends lacks libhttp-parser"
echo "$info" | grep -q '^ Depends:.*libpcap' || bad "Depends lacks libpcap"
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/netscope/pipeline.yaml "$work/control/conffiles" || bad "pipeline.yaml is not a conffile"

dpkg-deb -x "$deb" "$work/root"
r=$work/root
multi=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for f in usr/bin/netscope etc/netscope/pipeline.yaml usr/lib/systemd/system/netscope.service \
    usr/include/netscope/ns_plugin.h "usr/lib/$multi/pkgconfig/netscope.pc" \
    "usr/lib/$multi/netscope/ns-source-pcap.so" "usr/lib/$multi/netscope/ns-decoder-flow.so" \
    "usr/lib/$multi/netscope/ns-sink-jsonl.so" usr/share/netscope/sample.pcapng \
    usr/share/netscope/examples/agent-metrics.yaml; do
    [ -f "$r/$f" ] || bad "not in the package: /$f"
done
if ls "$r/usr/lib/$multi/netscope/" | grep -q test; then bad "test fixtures packaged"; fi
grep -q '^ExecStart=/usr/bin/netscope run -c /etc/netscope/pipeline.yaml$' \
    "$r/usr/lib/systemd/system/netscope.service" || bad "unit ExecStart"
grep -q "^plugindir=\${libdir}/netscope" "$r/usr/lib/$multi/pkgconfig/netscope.pc" || bad "netscope.pc"
strings "$r/usr/bin/netscope" | grep -qx "/usr/lib/$multi/netscope" ||
    bad "the binary does not look for plugins in /usr/lib/$multi/netscope"

# The extracted binary: its built-in plugin directory is the real /usr/lib/.../netscope,
# so point it at the extracted one.
export NETSCOPE_PLUGIN_PATH="$r/usr/lib/$multi/netscope"
out=$("$r/usr/bin/netscope" plugins) || bad "netscope plugins: exit $?"
echo "$out" | grep -q '^source/pcap' || bad "netscope plugins: no source/pcap"
echo "$out" | grep -q '^decoder/flow' || bad "netscope plugins: no decoder/flow"
n=$("$r/usr/bin/netscope" run -q -r "$r/usr/share/netscope/sample.pcapng" | grep -c '"netscope.flow"') ||
    true
[ "$n" -gt 0 ] || bad "the built-in pipeline produced no flows from the packaged sample"
echo "built-in pipeline on the packaged sample: $n flow records"
"$r/usr/bin/netscope" check-config "$r/etc/netscope/pipeline.yaml" || bad "packaged pipeline.yaml"
if command -v systemd-analyze >/dev/null; then
    sed "s#^ExecStart=/usr/bin/netscope#ExecStart=$r/usr/bin/netscope#" \
        "$r/usr/lib/systemd/system/netscope.service" >"$work/netscope.service"
    v=$(systemd-analyze verify --man=no "$work/netscope.service" 2>&1) || bad "systemd-analyze verify: $v"
    [ -z "$v" ] || bad "systemd-analyze verify: $v"
else
    echo "SKIP systemd-analyze verify: systemd-analyze is not installed"
fi
[ -n "${1:-}" ] && echo "kept: $deb"
if [ "$fail" = 0 ]; then echo "test_deb: ok"; else echo "test_deb: FAILED"; fi
exit "$fail"
