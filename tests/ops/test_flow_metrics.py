#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""decoder/flow's traffic counters against its own records.

For each capture, `netscope run` (source/pcap -> decoder/flow with 2 workers and
1 s interim records -> decoder/dns, tls, http, http2 -> sink/jsonl) prints its
counters at exit (--stats). netscope_decoder_flow_reported_{bytes,packets}_total
{transport, protocol} must equal the sums of the flow_update/flow_end records'
delta fields grouped the same way (transport tcp/udp/icmp/other; protocol the
record's network.protocol when an app decoder of the pipeline is named so,
"other" for another value, "unknown" when absent), and the deltas must add up to
the flow_end records' totals (interim records are not counted twice).

usage: test_flow_metrics.py NETSCOPE PLUGIN_DIR PCAP_DIR [FIXTURE_DIR]

Each capture is taken from PCAP_DIR (../shared/pcaps) when it is there, else
from FIXTURE_DIR (the repository's copies in tests/fixtures/pcaps), so the test
runs without ../shared; the three captures that have no copy are then skipped.
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

NETSCOPE, PLUGINS, PCAPS = sys.argv[1:4]
FIXTURES = sys.argv[4] if len(sys.argv) > 4 else PCAPS
APPS = ("dns", "tls", "http", "http2")
CAPTURES = ("tls12-curl-ntop.pcap", "dns-udp-cname-a-ns.pcap", "http-get.pcap",
            "grpc-bidi-streaming.pcapng", "icmp-echo.pcap", "http-tcp-retransmissions.pcap",
            "dns-tcp.pcap", "http2-h2c-nghttp2.pcap", "portscan-nmap-syn.pcap",
            "pcapng-multi-interface.pcapng", "quic-chromium-cirrus.pcap")
SKIP = 77


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok: " + what)


def run(pcap, tmp):
    out = os.path.join(tmp, "out.jsonl")
    cfg = os.path.join(tmp, "p.yaml")
    if os.path.exists(out):
        os.unlink(out)  # sink/jsonl appends
    lines = ["netscope: {workers: 2, metrics_listen: \"\"}", "pipeline:",
             '  capture: {plugin: source/pcap, file: "%s"}' % pcap,
             "  flows: {plugin: decoder/flow, active_timeout: 1s}"]
    lines += ["  %s: {plugin: decoder/%s, from: [flows]}" % (a, a) for a in APPS]
    lines.append('  out: {plugin: sink/jsonl, from: [flows], path: "%s"}' % out)
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, NETSCOPE_PLUGIN_PATH=PLUGINS)
    p = subprocess.run([NETSCOPE, "run", "-c", cfg, "--stats"], capture_output=True, text=True,
                       env=env, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("netscope exit %d: %s" % (p.returncode, p.stderr[-1000:]))
    with open(out) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    return recs, p.stderr


def stats(stderr, name):
    """{(transport, protocol): value} of one counter in the --stats summary."""
    got = collections.Counter()
    for line in stderr.splitlines():
        m = re.search(r"\s(\w+)\{([^}]*)\}\s+(\d+)\s*$", line)
        if not m or m.group(1) != name:
            continue
        lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        got[(lab["transport"], lab["protocol"])] += int(m.group(3))
    return got


def expected(recs):
    b, p = collections.Counter(), collections.Counter()
    total_b = end_b = 0
    for r in recs:
        if r.get("event", {}).get("dataset", "netscope.flow") != "netscope.flow":
            continue
        act = r.get("event", {}).get("action")
        if act not in ("flow_update", "flow_end"):
            continue
        num = r["network"].get("iana_number")
        t = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmp"}.get(num, "other")
        proto = r["network"].get("protocol")
        if t not in ("tcp", "udp") or proto is None:
            proto = "unknown"
        elif proto not in APPS:
            proto = "other"
        d = r["netscope"]["flow"]["delta"]
        db = d["source"]["bytes"] + d["destination"]["bytes"]
        b[(t, proto)] += db
        p[(t, proto)] += d["source"]["packets"] + d["destination"]["packets"]
        total_b += db
        if act == "flow_end":
            end_b += r["network"]["bytes"]
    return b, p, total_b, end_b


def main():
    if not os.path.exists(os.path.join(PLUGINS, "ns-decoder-flow.so")):
        print("SKIP: decoder/flow not built")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="ns-flowm-")
    protos = set()
    updates = 0
    try:
        for cap in CAPTURES:
            path = os.path.join(PCAPS, cap)
            if not os.path.exists(path):
                path = os.path.join(FIXTURES, cap)
            if not os.path.exists(path):
                print("no %s: skipped" % cap)
                continue
            recs, err = run(path, tmp)
            b, p, total_b, end_b = expected(recs)
            gb = stats(err, "decoder_flow_reported_bytes_total")
            gp = stats(err, "decoder_flow_reported_packets_total")
            check(+gb == +b, "%s: bytes by transport/protocol %s = records %s"
                  % (cap, dict(gb), dict(b)))
            check(+gp == +p, "%s: packets by transport/protocol = records (%d label sets)"
                  % (cap, len(+p)))
            check(total_b == end_b and total_b > 0,
                  "%s: deltas add up to the flow_end totals (%d bytes)" % (cap, end_b))
            protos |= {k[1] for k in +b}
            updates += sum(1 for r in recs if r.get("event", {}).get("action") == "flow_update")
        check(updates > 0, "%d interim flow_update records among them" % updates)
        check({"tls", "dns", "http", "unknown"} <= protos,
              "app protocols seen across the captures: %s" % sorted(protos))
    except Exception as e:  # noqa: BLE001 - any failure is the test's
        print("FAIL: %s" % e)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
