#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# bench_redis.sh - records/s that NetScope delivers into a local Redis (sink/redis,
# every XADD acknowledged) against redis-benchmark's pipelined XADD rate of an
# entry of the same shape, on the same machine, in the same run. Target: NetScope
# reaches at least 50 % of redis-benchmark.
#
#   sh tests/bench/bench_redis.sh [BUILD_DIR] [RECORDS]      (defaults: build, 500000)
#
# The pipeline is source/testgen -> decoder/testdec (per_packet) -> sink/redis, so
# the number includes building and serialising each record. A private
# redis-server (no persistence) runs on a free port and is always stopped.
# Exit status: 0 when the target is met, 1 when not, 2 on a setup error.
set -eu

BUILD=${1:-build}
N=${2:-500000}
NETSCOPE=$BUILD/core/netscope
[ -x "$NETSCOPE" ] || { echo "no $NETSCOPE (build first)" >&2; exit 2; }
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
    { echo "needs redis-server and redis-benchmark (apt-get install redis-server)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/ns-bench-redis-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" \
    --logfile "$TMP/redis.log" --daemonize no &
RPID=$!
trap 'kill "$RPID" 2>/dev/null || true; wait "$RPID" 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM
i=0
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "redis-server did not start" >&2; exit 2; }
    sleep 0.05
done

metrics=""
printf 'netscope:\n  metrics_listen: ""\npipeline:\n  g:\n    plugin: source/testgen\n  o:\n    plugin: sink/testsink\n    path: /dev/null\n' >"$TMP/probe.yaml"
NETSCOPE_PLUGIN_PATH="$BUILD/tests/runtime-plugins:$BUILD/plugins" \
    "$NETSCOPE" check-config "$TMP/probe.yaml" >/dev/null 2>&1 && metrics='  metrics_listen: ""'

cat >"$TMP/bench.yaml" <<EOF
netscope:
  log_level: info
  workers: 1
$metrics
pipeline:
  gen:
    plugin: source/testgen
    packets: $N
    flows: 1000
  dec:
    plugin: decoder/testdec
    per_packet: true
  out:
    plugin: sink/redis
    port: $PORT
    maxlen: 0
    batch_size: 512
    max_inflight: 2048
    buffer_size: 16MiB
    on_slow_redis: wait
EOF

# Three rounds, alternating, best of each side: the machine may be shared,
# and both sides should see the same conditions.
ROUNDS=${ROUNDS:-3}
ns_rate=0
best=0
json=""
r=0
while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    redis-cli -p "$PORT" flushall >/dev/null
    t0=$(date +%s.%N)
    NETSCOPE_PLUGIN_PATH="$BUILD/tests/runtime-plugins:$BUILD/plugins" \
        "$NETSCOPE" run -c "$TMP/bench.yaml" --stats 2>"$TMP/netscope.log"
    t1=$(date +%s.%N)
    delivered=$(sed -n 's/.*sink_redis_delivered_total{[^}]*} \([0-9]*\)$/\1/p' "$TMP/netscope.log")
    xlen=$(redis-cli -p "$PORT" xlen netscope:other)
    [ -n "$delivered" ] && [ "$delivered" = "$xlen" ] && [ "$delivered" -ge "$N" ] ||
        { echo "delivered '$delivered', XLEN $xlen, want >= $N" >&2; cat "$TMP/netscope.log" >&2; exit 2; }
    rate=$(echo "$delivered $t0 $t1" | awk '{printf "%d", $1 / ($3 - $2)}')
    echo "round $r: netscope sink/redis $rate records/s ($delivered in $(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}') s)"
    [ "$rate" -gt "$ns_rate" ] && ns_rate=$rate
    # The same entry shape: the flat fields and the JSON of one of those records.
    [ -n "$json" ] || json=$(redis-cli -p "$PORT" --raw xrange netscope:other - + COUNT 1 |
        awk 'prev == "json" {print} {prev = $0}')
    redis-cli -p "$PORT" flushall >/dev/null
    for cp in "1 256" "50 64"; do
        set -- $cp
        rate=$(redis-benchmark -p "$PORT" -n "$N" -c "$1" -P "$2" -q \
            XADD bench '*' type other dataset netscope.test schema 1 seq 123456 \
            time_ns 1700000000000000000 observer "$(hostname)" json "$json" 2>/dev/null |
            tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
        rate=${rate%.*}
        echo "round $r: redis-benchmark XADD -c $1 -P $2: ${rate:-?} entries/s"
        [ -n "$rate" ] && [ "$rate" -gt "$best" ] && best=$rate
        redis-cli -p "$PORT" del bench >/dev/null
    done
done

echo "netscope sink/redis (best):     $ns_rate records/s (end to end: generate, decode, serialise, XADD acknowledged)"
echo "redis-benchmark (best):        $best entries/s"
pct=$(echo "$ns_rate $best" | awk '{printf "%d", $2 ? 100 * $1 / $2 : 0}')
echo "ratio:                         $pct % (target >= 50 %)"
[ "$pct" -ge 50 ]
