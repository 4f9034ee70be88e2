#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench_ebpf.sh - overhead of the eBPF sources: iperf3 between two network namespaces over a
# veth pair, without NetScope and with each eBPF source attached, interleaved in the same run.
#
#   sudo [CONFIGS="baseline ebpf_tcp"] tests/bench/bench_ebpf.sh [BUILD_DIR] [REPS] [SECONDS]
#   (defaults: every configuration below, build-ebpf, 5, 4)
#
# Configurations, each repeated REPS times in rotation so that machine noise hits all alike:
#   baseline       iperf3 only
#   ebpf_tcp       source/ebpf_tcp in the root netns (tracepoints are global), every option default
#   ebpf_tcp_rtt1  the same with rtt_sample: 1 (tcp_probe handles every received segment)
#   ebpf_tcp_nortt the same with rtt: false (no tcp_probe program, the costliest tracepoint)
#   ebpf_flow      source/ebpf_flow on the receiver's veth (TC ingress + egress)
# Each run waits (up to 30 s) for the machine to be >= 85 % idle, because other jobs share it.
# Per run: throughput (iperf3 receiver); CPU of the whole machine from /proc/stat per GB moved
# (noisy when other jobs run); and the CPU NetScope adds, measured directly: the kernel time of
# its BPF programs (kernel.bpf_stats_enabled, restored afterwards) plus the netscope process's
# own CPU time, per GB and relative to the CPU iperf3's two ends used (iperf3 -J). Printed:
# medians and ratios to the baseline of the same run.
# Needs root, iperf3, python3; the namespaces are removed on exit, whatever happens.
set -eu
BUILD=${1:-build-ebpf}
REPS=${2:-5}
SECS=${3:-4}
NETSCOPE=$BUILD/core/netscope
export NETSCOPE_PLUGIN_PATH=$BUILD/plugins
[ "$(id -u)" = 0 ] || { echo "bench_ebpf: needs root" >&2; exit 77; }
command -v iperf3 >/dev/null || { echo "bench_ebpf: iperf3 missing (apt-get install iperf3)" >&2; exit 77; }
[ -x "$NETSCOPE" ] || { echo "bench_ebpf: $NETSCOPE not built" >&2; exit 1; }
for p in ebpf_tcp ebpf_flow; do
    [ -e "$NETSCOPE_PLUGIN_PATH/ns-source-$p.so" ] || { echo "bench_ebpf: source/$p not built" >&2; exit 77; }
done

A=nsbench$$a B=nsbench$$b
WORK=$(mktemp -d /tmp/ns-bench-ebpf.XXXXXX)
IPERF_PID="" NS_PID=""
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
cleanup() {
    [ -n "$NS_PID" ] && kill "$NS_PID" 2>/dev/null && wait "$NS_PID" 2>/dev/null
    [ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null && wait "$IPERF_PID" 2>/dev/null
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$A"
ip netns add "$B"
ip link add vfa netns "$A" type veth peer name vfb netns "$B"
ip -n "$A" addr add 10.201.0.1/24 dev vfa
ip -n "$B" addr add 10.201.0.2/24 dev vfb
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set vfa up
ip -n "$B" link set vfb up
sysctl -qw kernel.bpf_stats_enabled=1

ip netns exec "$B" iperf3 -s -1 >/dev/null 2>&1 &  # warm-up server
IPERF_PID=$!
sleep 0.3
ip netns exec "$A" iperf3 -c 10.201.0.2 -t 1 >/dev/null 2>&1 || true
wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=""

cat >"$WORK/tcp.yaml" <<EOF
netscope: {log_level: warn, metrics_listen: ""}
pipeline:
  tcp: {plugin: source/ebpf_tcp}
  out: {plugin: sink/jsonl, path: /dev/null}
EOF
cat >"$WORK/tcp_nortt.yaml" <<EOF
netscope: {log_level: warn, metrics_listen: ""}
pipeline:
  tcp: {plugin: source/ebpf_tcp, rtt: false}
  out: {plugin: sink/jsonl, path: /dev/null}
EOF
cat >"$WORK/tcp_rtt1.yaml" <<EOF
netscope: {log_level: warn, metrics_listen: ""}
pipeline:
  tcp: {plugin: source/ebpf_tcp, rtt_sample: 1}
  out: {plugin: sink/jsonl, path: /dev/null}
EOF
cat >"$WORK/flow.yaml" <<EOF
netscope: {log_level: warn, metrics_listen: ""}
pipeline:
  flow: {plugin: source/ebpf_flow, interfaces: [vfb]}
  out: {plugin: sink/jsonl, path: /dev/null}
EOF

wait_idle() { # until >= 85 % idle over 0.7 s, at most 30 s; prints the idle share seen
    python3 - <<'PY'
import time
def snap():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v), v[3] + v[4]
end = time.monotonic() + 30
while True:
    t0, i0 = snap(); time.sleep(0.7); t1, i1 = snap()
    idle = (i1 - i0) / max(1, t1 - t0)
    if idle >= 0.85 or time.monotonic() > end:
        print("%.2f" % idle); break
PY
}
proc_cpu() { # utime+stime of a pid, jiffies
    awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
busy() { # busy jiffies of the whole machine (user nice system irq softirq steal)
    awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat
}
bpf_ns() { # kernel time of NetScope's BPF programs, ns
    bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
t = 0
for p in json.load(sys.stdin):
    if p.get("name", "").startswith(("ns_tcp_", "ns_flow_")):
        t += p.get("run_time_ns", 0)
print(t)'
}

run_one() { # config rep
    local cfg=$1 rep=$2 start=$WORK/$1.$2
    case $cfg in
    ebpf_tcp) "$NETSCOPE" run -c "$WORK/tcp.yaml" 2>"$start.err" & NS_PID=$! ;;
    ebpf_tcp_rtt1) "$NETSCOPE" run -c "$WORK/tcp_rtt1.yaml" 2>"$start.err" & NS_PID=$! ;;
    ebpf_tcp_nortt) "$NETSCOPE" run -c "$WORK/tcp_nortt.yaml" 2>"$start.err" & NS_PID=$! ;;
    ebpf_flow) ip netns exec "$B" "$NETSCOPE" run -c "$WORK/flow.yaml" 2>"$start.err" & NS_PID=$! ;;
    esac
    [ -n "$NS_PID" ] && sleep 1.5  # loaded and attached
    ip netns exec "$B" iperf3 -s -1 >/dev/null 2>&1 &
    IPERF_PID=$!
    sleep 0.3
    local b0 b1 p0=0 p1=0 c0=0 c1=0 idle
    idle=$(wait_idle)
    if [ -n "$NS_PID" ]; then p0=$(bpf_ns); c0=$(proc_cpu "$NS_PID"); fi
    b0=$(busy)
    ip netns exec "$A" iperf3 -c 10.201.0.2 -t "$SECS" -J >"$start.json"
    b1=$(busy)
    if [ -n "$NS_PID" ]; then p1=$(bpf_ns); c1=$(proc_cpu "$NS_PID"); fi
    wait "$IPERF_PID" 2>/dev/null || true
    IPERF_PID=""
    if [ -n "$NS_PID" ]; then
        kill -INT "$NS_PID"
        wait "$NS_PID" || { echo "netscope failed in $cfg:"; cat "$start.err"; exit 1; }
        NS_PID=""
    fi
    echo "$cfg $rep $((b1 - b0)) $((p1 - p0)) $((c1 - c0)) $idle $start.json" >>"$WORK/runs"
}

CONFIGS=${CONFIGS:-"baseline ebpf_tcp ebpf_tcp_rtt1 ebpf_tcp_nortt ebpf_flow"}
echo "bench_ebpf: $REPS x $SECS s per configuration ($CONFIGS), interleaved" >&2
for rep in $(seq 1 "$REPS"); do
    for cfg in $CONFIGS; do
        run_one "$cfg" "$rep"
        printf '.' >&2
    done
done
echo >&2

HZ=$(getconf CLK_TCK) SECS=$SECS python3 - "$WORK/runs" <<'PY'
import json, os, statistics, sys
hz, secs = int(os.environ["HZ"]), float(os.environ["SECS"])
runs = {}
for line in open(sys.argv[1]):
    cfg, rep, jiffies, bpfns, nsj, idle, path = line.split()
    end = json.load(open(path))["end"]
    rx = end["sum_received"]
    gb = rx["bytes"] / 1e9
    cpu = end["cpu_utilization_percent"]
    iperf_s = (cpu["host_total"] + cpu["remote_total"]) / 100 * secs
    added_s = int(bpfns) / 1e9 + int(nsj) / hz
    runs.setdefault(cfg, []).append({
        "gbps": rx["bits_per_second"] / 1e9, "sys_s_gb": int(jiffies) / hz / gb,
        "bpf_ms_gb": int(bpfns) / 1e6 / gb, "ns_ms_gb": int(nsj) / hz * 1e3 / gb,
        "added": added_s / iperf_s if iperf_s else 0,
        "bpf_share": int(bpfns) / 1e9 / iperf_s if iperf_s else 0, "idle": float(idle)})
med = lambda cfg, k: statistics.median(r[k] for r in runs[cfg])
bt, bc = med("baseline", "gbps"), med("baseline", "sys_s_gb")
print("%-15s %7s %7s %9s %7s %9s %6s %9s %8s  %s" % (
    "configuration", "Gbit/s", "x base", "CPU s/GB", "x base", "BPF ms/GB", "BPF %", "usr ms/GB",
    "added %", "runs Gbit/s (idle before)"))
for cfg in runs:
    t, c = med(cfg, "gbps"), med(cfg, "sys_s_gb")
    print("%-15s %7.2f %7.3f %9.3f %7.3f %9.1f %6.2f %9.1f %8.2f  %s" % (
        cfg, t, t / bt, c, c / bc, med(cfg, "bpf_ms_gb"), 100 * med(cfg, "bpf_share"),
        med(cfg, "ns_ms_gb"),
        100 * med(cfg, "added"),
        " ".join("%.2f(%.0f%%)" % (r["gbps"], 100 * r["idle"]) for r in runs[cfg])))
print("BPF % = BPF program time / CPU of iperf3's two ends; added % = (BPF program time + "
      "netscope process CPU) / the same")
PY
