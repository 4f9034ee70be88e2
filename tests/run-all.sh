#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The README's second command and CI's only step: install what is missing, then
#  1. a Release build with -Werror (warnings are errors),
#  2. the whole test suite (ctest) in an AddressSanitizer + UndefinedBehaviorSanitizer build
#     (the ring stress test builds itself with ThreadSanitizer inside it),
#  3. every libFuzzer target for a bounded time (NS_FUZZ_SECONDS, default 60),
#  4. clang-format on every C file.
# Exit status 0 only when everything passed.
set -eu
cd "$(dirname "$0")/.."
. packaging/deps.sh
ns_deps test
jobs=$(nproc)
fail=0
step() { echo; echo "==> $*"; }

step "release build, -Werror"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DNS_WERROR=ON -DNS_BUILD_TESTS=ON >/dev/null
cmake --build build-release -j"$jobs" || fail=1

step "ASan+UBSan build and the test suite"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNS_WERROR=ON \
    -DNS_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$jobs" || fail=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 600) || fail=1

step "libFuzzer targets (${NS_FUZZ_SECONDS:=60} s each)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DNS_FUZZ=ON \
    -DNS_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_all || fail=1
for f in $(find build-fuzz/tests -type f -name 'fuzz_*' -perm -u+x | sort); do
    name=$(basename "$f")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    [ -d "$corpus" ] || corpus=""
    work=$(mktemp -d)
    echo "--- $name"
    if "$f" -max_total_time="$NS_FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=0 \
        -artifact_prefix="$work/" "$work" $corpus >"$work/log" 2>&1; then
        tail -1 "$work/log"
    else
        tail -40 "$work/log"; echo "FAIL $name"; fail=1
    fi
    rm -rf "$work"
done

step "clang-format"
files=$(find core plugins tests bpf -name '*.[ch]' ! -path '*/corpus/*' ! -name 'vmlinux.h' | sort)
bad=$(for f in $files; do clang-format --dry-run "$f" 2>&1 | grep -q "warning:" && echo "$f"; done || true)
if [ -n "$bad" ]; then
    echo "$bad"
    echo "FAIL clang-format: these files differ from .clang-format (run clang-format -i on them)"
    fail=1
fi

echo
if [ "$fail" = 0 ]; then echo "run-all: every step passed"; else echo "run-all: FAILED"; fi
exit "$fail"
