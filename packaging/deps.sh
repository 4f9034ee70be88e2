#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Debian 12 packages NetScope needs, installed only when missing.
#   . packaging/deps.sh; ns_deps build      # to build and run
#   . packaging/deps.sh; ns_deps test       # + what the test suite uses
NS_DEPS_BUILD="gcc libc6-dev make cmake ninja-build pkg-config binutils
  libpcap-dev libuv1-dev libyaml-dev libhiredis-dev libmaxminddb-dev libssl-dev libsystemd-dev
  libbpf-dev libck-dev libnghttp2-dev libcriterion-dev libhttp-parser-dev libpsl-dev"
NS_DEPS_TEST="python3 clang llvm libclang-rt-14-dev clang-format bpftool iproute2 tcpdump iperf3
  redis-server prometheus tshark procps dpkg-dev file"

ns_deps() {
    want=$NS_DEPS_BUILD
    [ "${1:-build}" = test ] && want="$want $NS_DEPS_TEST"
    missing=""
    for p in $want; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "netscope: missing Debian packages:$missing" >&2
        echo "netscope: run as root, or: sudo apt-get install$missing" >&2
        return 1
    fi
    echo "netscope: installing Debian packages:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer for it.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing >&2
}
