#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench_ebpf.sh - throughput and CPU cost of the eBPF sources: iperf3 between two network
# namespaces over a veth pair, without NetScope and with each eBPF source attached, in
# interleaved rounds so that slow drifts of machine load hit every configuration alike.
#
#   sudo [CONFIGS="baseline ebpf_tcp ebpf_flow"] [PIN=1] tests/bench/bench_ebpf.sh \
#        [BUILD_DIR] [ROUNDS] [SECONDS]        (defaults: build-ebpf, 7, 3: about 2 minutes)
#
# Configurations (a round runs each once, in the order of CONFIGS):
#   baseline       iperf3 only
#   ebpf_tcp       source/ebpf_tcp in the root netns (tracepoints are global), options default
#   ebpf_tcp_rtt1  the same with rtt_sample: 1 (tcp_probe handles every received segment)
#   ebpf_tcp_nortt the same with rtt: false (no tcp_probe program, the costliest tracepoint)
#   ebpf_flow      source/ebpf_flow on the receiver's veth (TC ingress + egress)
# A run: start netscope and wait until it logs that it attached; a fixed-duration iperf3
# transfer (SECONDS, one TCP stream; with PIN=1, the default, the client on CPU 0 and the server
# on CPU 1, which removes the scheduler's placement as a source of noise); stop netscope. Before
# each transfer the script waits up to 3 s for the machine to be >= 85 % idle and records the
# idle share it saw.
# Measured per run: throughput (iperf3 receiver); CPU of the whole machine from /proc/stat per
# GB received (includes whatever else runs: noisy on a shared machine); and what NetScope adds,
# measured directly and so insensitive to other load: kernel time of its BPF programs
# (kernel.bpf_stats_enabled, restored afterwards) and the netscope process's CPU time (all
# threads, /proc/PID/task/*/schedstat), per GB.
# Printed per configuration: median and [min..max] over the rounds; ratios to the baseline of
# this run (ratio of medians, and the median [min..max] of the per-round ratios, each round's
# run divided by that round's baseline); "added" = NetScope's direct CPU per GB as a share of
# the baseline's machine CPU per GB. When min..max of the baseline is wide or the idle shares
# are low, the machine was noisy: the throughput ratios are then inconclusive, the BPF and
# netscope ms/GB still hold, and "added" is understated (other jobs inflate the baseline's
# CPU per GB, its denominator).
# Needs root, iperf3, bpftool, python3. The namespaces (and with them the veth pair and any TC
# filter) are removed on exit, whatever happens; netscope and iperf3 are stopped.
set -eu
BUILD=${1:-build-ebpf}
ROUNDS=${2:-7}
SECS=${3:-3}
PIN=${PIN:-1}
CONFIGS=${CONFIGS:-"baseline ebpf_tcp ebpf_flow"}
NETSCOPE=$BUILD/core/netscope
export NETSCOPE_PLUGIN_PATH=$BUILD/plugins
[ "$(id -u)" = 0 ] || { echo "bench_ebpf: needs root" >&2; exit 77; }
for t in iperf3 bpftool python3 ip; do
    command -v $t >/dev/null || { echo "bench_ebpf: $t missing" >&2; exit 77; }
done
[ -x "$NETSCOPE" ] || { echo "bench_ebpf: $NETSCOPE not built" >&2; exit 1; }
case " $CONFIGS " in *" baseline "*) ;; *) echo "bench_ebpf: CONFIGS needs baseline" >&2; exit 2 ;; esac
for p in ebpf_tcp ebpf_flow; do
    case " $CONFIGS " in *" $p"*)
        [ -e "$NETSCOPE_PLUGIN_PATH/ns-source-$p.so" ] ||
            { echo "bench_ebpf: source/$p not built in $BUILD" >&2; exit 77; } ;;
    esac
done
CPU_C="" CPU_S="" PINMSG=unpinned
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
    CPU_C="taskset -c 0" CPU_S="taskset -c 1" PINMSG="client on CPU 0, server on CPU 1"
fi

A=nsbench$$a B=nsbench$$b
WORK=$(mktemp -d /tmp/ns-bench-ebpf.XXXXXX)
IPERF_PID="" NS_PID=""
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
stop_pid() { # pid: SIGINT, then SIGKILL after 5 s
    kill -INT "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    trap - EXIT INT TERM
    [ -n "$NS_PID" ] && stop_pid "$NS_PID"
    [ -n "$IPERF_PID" ] && stop_pid "$IPERF_PID"
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$A"
ip netns add "$B"
ip link add vfa netns "$A" type veth peer name vfb netns "$B"
ip -n "$A" addr add 10.201.0.1/24 dev vfa
ip -n "$B" addr add 10.201.0.2/24 dev vfb
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set vfa up
ip -n "$B" link set vfb up
sysctl -qw kernel.bpf_stats_enabled=1

for cfg in $CONFIGS; do
    case $cfg in
    baseline) continue ;;
    ebpf_tcp) node="tcp: {plugin: source/ebpf_tcp}" ;;
    ebpf_tcp_rtt1) node="tcp: {plugin: source/ebpf_tcp, rtt_sample: 1}" ;;
    ebpf_tcp_nortt) node="tcp: {plugin: source/ebpf_tcp, rtt: false}" ;;
    ebpf_flow) node="flow: {plugin: source/ebpf_flow, interfaces: [vfb]}" ;;
    *) echo "bench_ebpf: unknown configuration $cfg" >&2; exit 2 ;;
    esac
    cat >"$WORK/$cfg.yaml" <<EOF
netscope: {log_level: info, metrics_listen: ""}
pipeline:
  $node
  out: {plugin: sink/jsonl, path: /dev/null}
EOF
done

wait_idle() { # until >= 85 % idle over 0.5 s, at most 3 s; prints the idle share last seen
    python3 - <<'PY'
import time
def snap():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v), v[3] + v[4]
end = time.monotonic() + 3
while True:
    t0, i0 = snap(); time.sleep(0.5); t1, i1 = snap()
    idle = (i1 - i0) / max(1, t1 - t0)
    if idle >= 0.85 or time.monotonic() > end:
        print("%.2f" % idle); break
PY
}
proc_cpu() { # CPU time of a process, all its threads, ns (schedstat: not jiffy-rounded)
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'
}
busy() { # busy jiffies of the whole machine (user nice system irq softirq steal)
    awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat
}
bpf_ns() { # pid: kernel time of that netscope's BPF programs, ns (by owner pid when bpftool
           # lists it, else by name)
    bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
pid, t = int(sys.argv[1]), 0
for p in json.load(sys.stdin):
    if not p.get("name", "").startswith(("ns_tcp_", "ns_flow_")):
        continue
    if "pids" in p and pid not in [o.get("pid") for o in p["pids"]]:
        continue
    t += p.get("run_time_ns", 0)
print(t)' "$1"
}

start_netscope() { # cfg errfile: starts netscope, waits for "attached" (10 s at most)
    case $1 in
    ebpf_flow) ip netns exec "$B" "$NETSCOPE" run -c "$WORK/$1.yaml" 2>"$2" & ;;
    *) "$NETSCOPE" run -c "$WORK/$1.yaml" 2>"$2" & ;;
    esac
    NS_PID=$!
    for _ in $(seq 100); do
        grep -q "attached to" "$2" 2>/dev/null && return 0
        kill -0 "$NS_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench_ebpf: netscope did not attach ($1):" >&2
    cat "$2" >&2
    exit 1
}

run_one() { # cfg round
    local cfg=$1 rnd=$2 base=$WORK/$1.$2
    [ "$cfg" = baseline ] || start_netscope "$cfg" "$base.err"
    ip netns exec "$B" $CPU_S iperf3 -s -1 >/dev/null 2>&1 &
    IPERF_PID=$!
    sleep 0.2
    local b0 b1 p0=0 p1=0 c0=0 c1=0 idle
    idle=$(wait_idle)
    if [ -n "$NS_PID" ]; then p0=$(bpf_ns "$NS_PID"); c0=$(proc_cpu "$NS_PID"); fi
    b0=$(busy)
    ip netns exec "$A" $CPU_C iperf3 -c 10.201.0.2 -t "$SECS" -J >"$base.json" ||
        { echo "bench_ebpf: iperf3 failed in $cfg" >&2; cat "$base.json" >&2; exit 1; }
    b1=$(busy)
    if [ -n "$NS_PID" ]; then p1=$(bpf_ns "$NS_PID"); c1=$(proc_cpu "$NS_PID"); fi
    wait "$IPERF_PID" 2>/dev/null || true
    IPERF_PID=""
    if [ -n "$NS_PID" ]; then
        kill -INT "$NS_PID"
        wait "$NS_PID" || { echo "bench_ebpf: netscope failed in $cfg:" >&2; cat "$base.err" >&2; exit 1; }
        NS_PID=""
    fi
    echo "$cfg $rnd $((b1 - b0)) $((p1 - p0)) $((c1 - c0)) $idle $base.json" >>"$WORK/runs"
}

# Warm-up (ARP, page cache, CPU frequency), not measured.
ip netns exec "$B" iperf3 -s -1 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.2
ip netns exec "$A" iperf3 -c 10.201.0.2 -t 1 >/dev/null 2>&1 || true
wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=""

T0=$(date +%s)
echo "bench_ebpf: $ROUNDS rounds of ($CONFIGS), $SECS s iperf3 each, $PINMSG;" \
     "$(nproc) CPUs, kernel $(uname -r)" >&2
for rnd in $(seq 1 "$ROUNDS"); do
    for cfg in $CONFIGS; do
        run_one "$cfg" "$rnd"
        printf '.' >&2
    done
done
echo " $(($(date +%s) - T0)) s" >&2

HZ=$(getconf CLK_TCK) CONFIGS=$CONFIGS python3 - "$WORK/runs" <<'PY'
import json, os, statistics, sys
hz = int(os.environ["HZ"])
runs = {}
for line in open(sys.argv[1]):
    cfg, rnd, jiffies, bpfns, nsj, idle, path = line.split()
    rx = json.load(open(path))["end"]["sum_received"]
    gb = rx["bytes"] / 1e9
    runs.setdefault(cfg, {})[int(rnd)] = {
        "gbps": rx["bits_per_second"] / 1e9,
        "cpu": int(jiffies) / hz / gb,              # machine CPU s per GB
        "bpf": int(bpfns) / 1e6 / gb,               # BPF program ms per GB
        "proc": int(nsj) / 1e6 / gb,                # netscope process ms per GB
        "idle": float(idle)}
med = statistics.median
def col(cfg, k):
    return [r[k] for r in runs[cfg].values()]
def span(v, f="%.2f"):
    return ("[" + f + ".." + f + "]") % (min(v), max(v))
base = runs["baseline"]
bt, bc = med(col("baseline", "gbps")), med(col("baseline", "cpu"))
print("%-15s %6s %-13s %6s %-20s | %8s %-13s %6s | %9s %9s %7s" % (
    "configuration", "Gbit/s", "[min..max]", "x base", "paired [min..max]", "CPU s/GB",
    "[min..max]", "x base", "BPF ms/GB", "ns ms/GB", "added"))
for cfg in os.environ["CONFIGS"].split():
    if cfg not in runs:
        continue
    t, c = col(cfg, "gbps"), col(cfg, "cpu")
    pt = [r["gbps"] / base[i]["gbps"] for i, r in runs[cfg].items() if i in base]
    added = (med(col(cfg, "bpf")) + med(col(cfg, "proc"))) / 1e3 / bc
    print("%-15s %6.2f %-13s %6.3f %-20s | %8.3f %-13s %6.3f | %9.1f %9.1f %6.2f%%" % (
        cfg, med(t), span(t), med(t) / bt,
        "%.3f %s" % (med(pt), span(pt, "%.2f")) if cfg != "baseline" else "",
        med(c), span(c, "%.2f"), med(c) / bc, med(col(cfg, "bpf")), med(col(cfg, "proc")),
        100 * added))
print("runs, Gbit/s (machine idle share just before):")
for cfg in os.environ["CONFIGS"].split():
    if cfg in runs:
        print("  %-15s %s" % (cfg, " ".join("%.2f(%.0f%%)" % (r["gbps"], 100 * r["idle"])
                                             for _, r in sorted(runs[cfg].items()))))
print("x base = ratio of medians; paired = median [min..max] of each round's run / that round's "
      "baseline;\nCPU s/GB = busy CPU of the whole machine per GB received (/proc/stat); BPF ms/GB "
      "= kernel time of\nNetScope's BPF programs; ns ms/GB = CPU of the netscope process; added = "
      "(BPF + ns) / baseline CPU s/GB.")
PY
