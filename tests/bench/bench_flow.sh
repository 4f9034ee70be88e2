#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench_flow.sh - the packet-path benchmark: pcap -> flow records, NetScope vs
# a bare libpcap loop (the floor), softflowd and ndpiReader, in one run.
# NetScope runs as flow -> sink/null and flow -> sink/jsonl (1 and 2 workers),
# and as the full pipeline "full": flow with the dns, tls, http and http2
# application decoders -> sink/jsonl (1 and 2 workers).
#
#   tests/bench/bench_flow.sh [PCAP]
#     PCAP   capture to read (default /var/tmp/netscope-bench/bench.pcap). When it
#            is missing and ../shared/bench/make-bench-pcap.sh exists next to the
#            repository, it is made with that script (root: network namespaces).
#   env:  BUILD=DIR   build tree (default: <repo>/build-bench; a Release build)
#         RUNS=N      runs per contender, the median is reported (default 3)
#         ONLY=REGEX  run only the contenders whose name matches (e.g. 'floor|null',
#                     'floor|full')
#         NS_ENV='VAR=x ...'  extra environment for the netscope runs
#
# Prints a table: median wall time, median CPU time (user + sys, all threads),
# packets/s and Gbit/s (wire bytes) from the wall time, peak RSS (max over the
# runs, /usr/bin/time's maximum resident set size, as in `time -v`), and the
# packet-rate ratios to the floor, softflowd and ndpiReader. Every contender
# reads the same file after it has been read once into the page cache. NetScope
# loads the plugins of BUILD (NETSCOPE_PLUGIN_PATH), so BUILD may be a copy of a
# build tree (core/netscope, plugins/*.so, tests/bench/bench_pcap_floor).
# Not a ctest test (it takes minutes): run it directly or as
# `ninja -C build-bench bench_flow`. Other load on the machine is measured, not
# prevented: see the "disturbed" column before trusting wall times.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PCAP=${1:-/var/tmp/netscope-bench/bench.pcap}
BUILD=${BUILD:-$repo/build-bench}
RUNS=${RUNS:-3}
ONLY=${ONLY:-.}
NS=$BUILD/core/netscope
FLOOR=$BUILD/tests/bench/bench_pcap_floor

die() { echo "bench_flow: $*" >&2; exit 1; }

if [[ ! -f $PCAP ]]; then
    gen=$repo/../shared/bench/make-bench-pcap.sh
    [[ -f $gen ]] || die "$PCAP is missing and $gen is not there to make it"
    echo "bench_flow: making $PCAP with $gen (a few minutes, needs root)" >&2
    bash "$gen" -o "$PCAP" >&2
fi
[[ -x $NS ]] || die "$NS not built (cmake -B $BUILD -DCMAKE_BUILD_TYPE=Release && ninja -C $BUILD)"
if [[ ! -x $FLOOR ]]; then # built by the bench_pcap_floor target; else build it here
    FLOOR=$(mktemp /tmp/bench_pcap_floor.XXXXXX)
    cc -O2 -o "$FLOOR" "$here/pcap_floor.c" -lpcap || die "cannot build pcap_floor.c"
fi
[[ -x /usr/bin/time ]] || {
    echo "bench_flow: installing time" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2
}
grep -q Release "$BUILD/CMakeCache.txt" 2>/dev/null ||
    echo "bench_flow: warning: $BUILD is not a Release build" >&2

tmp=$(mktemp -d /tmp/bench_flow.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Pipelines: the file comes from -r; workers, the sink and the application
# decoders vary.
mkcfg() { # mkcfg NAME WORKERS SINK-YAML [NODES-YAML between flows and out]
    cat >"$tmp/$1.yaml" <<EOF
netscope:
  workers: $2
  log_level: warn
$(grep -q metrics_listen "$NS" && echo '  metrics_listen: ""  # no HTTP endpoint: nothing else runs')
pipeline:
  capture:
    plugin: source/pcap
  flows:
    plugin: decoder/flow
${4:+$4
}  out:
$3
EOF
}
mkcfg null1 1 "    plugin: sink/null"
mkcfg null2 2 "    plugin: sink/null"
mkcfg json1 1 "    plugin: sink/jsonl
    path: /dev/null"
mkcfg json2 2 "    plugin: sink/jsonl
    path: /dev/null"
# The full pipeline (as /work/notes/bench/full1.yaml): decoder/flow hosts the
# application decoders, which read its flows' payloads (no packets; their
# default `from` is the flow node), and every record goes to JSON.
apps="  dns:
    plugin: decoder/dns
  tls:
    plugin: decoder/tls
  http:
    plugin: decoder/http
  http2:
    plugin: decoder/http2"
mkcfg full1 1 "    plugin: sink/jsonl
    path: /dev/null" "$apps"
mkcfg full2 2 "    plugin: sink/jsonl
    path: /dev/null" "$apps"

# name | command (the file is the last argument or inside)
declare -a names cmds
add() { names+=("$1"); cmds+=("$2"); }
add floor "$FLOOR $PCAP"
add "netscope flow->null w1" "env NETSCOPE_PLUGIN_PATH=$BUILD/plugins ${NS_ENV:-} $NS run -q -c $tmp/null1.yaml -r $PCAP"
add "netscope flow->null w2" "env NETSCOPE_PLUGIN_PATH=$BUILD/plugins ${NS_ENV:-} $NS run -q -c $tmp/null2.yaml -r $PCAP"
add "netscope flow->jsonl w1" "env NETSCOPE_PLUGIN_PATH=$BUILD/plugins ${NS_ENV:-} $NS run -q -c $tmp/json1.yaml -r $PCAP"
add "netscope flow->jsonl w2" "env NETSCOPE_PLUGIN_PATH=$BUILD/plugins ${NS_ENV:-} $NS run -q -c $tmp/json2.yaml -r $PCAP"
add "netscope full->jsonl w1" "env NETSCOPE_PLUGIN_PATH=$BUILD/plugins ${NS_ENV:-} $NS run -q -c $tmp/full1.yaml -r $PCAP"
add "netscope full->jsonl w2" "env NETSCOPE_PLUGIN_PATH=$BUILD/plugins ${NS_ENV:-} $NS run -q -c $tmp/full2.yaml -r $PCAP"
# softflowd offline: -r reads the file and exits with a summary; no -n, so it
# exports nothing (statistics-only mode); -6 tracks IPv6 too; -m lets it keep
# as many flows as NetScope's table (1M) instead of expiring at 8192.
command -v softflowd >/dev/null && add softflowd "softflowd -r $PCAP -6 -m 1048576"
# ndpiReader: DPI + flow table, single thread on a file, -q: no per-flow dump.
command -v ndpiReader >/dev/null && add ndpiReader "ndpiReader -q -i $PCAP"

# Warm the page cache: every contender then reads the file from memory.
echo "bench_flow: reading $PCAP into the page cache" >&2
cat "$PCAP" >/dev/null

# Runs interleave the contenders (round r of every one, then round r+1), so a
# slow drift on the machine spreads over all of them. A run is "disturbed" when
# the CPUs were busier than this process tree accounts for (other work on the
# machine, from /proc/stat) by more than DISTURB (default 0.15) of one CPU over
# its wall time; it is retried up to RETRIES (default 2) times, and the least
# disturbed attempt is kept and flagged in the table.
DISTURB=${DISTURB:-0.15}
RETRIES=${RETRIES:-2}
hz=$(getconf CLK_TCK)
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
n=${#names[@]}
for ((r = 1; r <= RUNS; r++)); do
    for ((i = 0; i < n; i++)); do
        [[ ${names[i]} =~ $ONLY ]] || continue
        best=""
        for ((a = 0; a <= RETRIES; a++)); do
            b0=$(busy)
            t0=$(date +%s%N)
            if ! /usr/bin/time -f "%M %U %S" -o "$tmp/rss" ${cmds[i]} >"$tmp/out.$i" 2>"$tmp/err.$i"; then
                echo "bench_flow: '${names[i]}' failed:" >&2
                tail -5 "$tmp/err.$i" >&2
                exit 1
            fi
            t1=$(date +%s%N)
            b1=$(busy)
            read -r kb ut st < <(tail -1 "$tmp/rss")
            us=$(((t1 - t0) / 1000))
            # other CPU work during the run, as a fraction of one CPU
            other=$(echo "o = (($b1 - $b0) / $hz - $ut - $st) / ($us / 1000000); if (o < 0) o = 0; o" | bc -l)
            printf 'bench_flow: round %d/%d %-24s %8.3f s  cpu %.2f s  others %.2f CPU\n' "$r" "$RUNS" \
                "${names[i]}" "$(echo "$us / 1000000" | bc -l)" "$(echo "$ut + $st" | bc -l)" "$other" >&2
            if [[ -z $best ]] || (($(echo "$other < $(echo "$best" | cut -d' ' -f3)" | bc -l))); then
                best="$us $kb $other $(echo "$ut + $st" | bc -l)"
            fi
            (($(echo "$other <= $DISTURB" | bc -l))) && break
        done
        echo "$best" >>"$tmp/res.$i"
    done
done

# Packets and wire bytes: the floor counts them (every contender reads the
# same file); NetScope's own count is checked against it below.
pkts="" bytes=""
[[ -f $tmp/out.0 ]] || "$FLOOR" "$PCAP" >"$tmp/out.0"
read -r pkts bytes < <(sed -n 's/^packets=\([0-9]*\) bytes=\([0-9]*\).*/\1 \2/p' "$tmp/out.0")
[[ -n $pkts && -n $bytes ]] || die "cannot count the packets of $PCAP"

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A med rss dist cpu oth
for ((i = 0; i < n; i++)); do
    [[ -f $tmp/res.$i ]] || continue
    med[$i]=$(awk '{print $1}' "$tmp/res.$i" | median)
    rss[$i]=$(awk '$2 > m {m = $2} END {print m}' "$tmp/res.$i")
    cpu[$i]=$(awk '{print $4}' "$tmp/res.$i" | median)
    oth[$i]=$(awk '{print $3}' "$tmp/res.$i" | median)
    dist[$i]=$(awk -v d="$DISTURB" '$3 > d {k++} END {print k + 0}' "$tmp/res.$i")
done
rate() { echo "$pkts / (${med[$1]} / 1000000)" | bc -l; }
ref() { # index of a contender by name, or empty
    for ((j = 0; j < n; j++)); do [[ ${names[j]} == "$1" && -n ${med[$j]:-} ]] && echo "$j"; done
    return 0
}
fl=$(ref floor); sf=$(ref softflowd); nd=$(ref ndpiReader)

echo
echo "bench_flow: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), median of $RUNS runs"
echo "capture: $PCAP: $pkts packets, $bytes bytes ($(echo "scale=2; $bytes / $pkts" | bc) B/packet avg)"
printf '%-24s %9s %7s %10s %8s %9s %8s %8s %8s %s\n' contender "time s" "cpu s" "Mpkt/s" "Gbit/s" "RSS MiB" "x floor" "x sfd" "x ndpi" "disturbed (others' CPUs, median)"
for ((i = 0; i < n; i++)); do
    [[ -n ${med[$i]:-} ]] || continue
    pr=$(rate "$i")
    x() { if [[ -n $1 ]]; then printf '%.2f' "$(echo "$pr / $(rate "$1")" | bc -l)"; else printf -- '-'; fi; }
    printf '%-24s %9.2f %7.2f %10.3f %8.2f %9.0f %8s %8s %8s %s\n' "${names[i]}" \
        "$(echo "${med[$i]} / 1000000" | bc -l)" "${cpu[$i]}" "$(echo "$pr / 1000000" | bc -l)" \
        "$(echo "$bytes * 8 / (${med[$i]} / 1000000) / 1000000000" | bc -l)" \
        "$(echo "${rss[$i]} / 1024" | bc -l)" "$(x "$fl")" "$(x "$sf")" "$(x "$nd")" "${dist[$i]}/$RUNS ($(printf '%.2f' "${oth[$i]}"))"
done
