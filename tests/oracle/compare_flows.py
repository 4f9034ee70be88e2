#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""compare_flows.py - check decoder/flow against tshark's flow oracle.

Runs `netscope run -r CAPTURE -c PIPELINE` (one worker, no idle expiry, no
interim records, so every flow ends once, at end of capture) over every capture
in the given directories that has an oracle file expected/<stem>.json, and
compares each TCP/UDP flow with the oracle's `flows` list (tshark tcp.stream /
udp.stream): the 5-tuple, and packets and bytes (frame length) per direction.
ICMP/ICMPv6 is compared separately: packets per directed address pair against
the oracle's `icmp` table. TCP retransmission analysis: the capture's total of
retransmitted + out-of-order segments against tshark's tcp.analysis flags.

tshark's side `a` is the sender of the first packet it saw, which is not always
the initiator; our `source` is the initiator, so directions are matched by
address and port, not by role. Flows sharing one 5-tuple (port reuse) are
paired in order of their first packet.

Every difference is either fixed in the decoder or listed in ACCEPTED below
with the reason. A listed difference that no longer occurs is reported as
stale (and fails the run) so the table stays honest.

Usage: compare_flows.py --netscope BIN [--plugin-dir DIR] DIR [DIR...]
Exit status 0 when everything matches or is accepted, 1 otherwise, 77 when
no capture was found (a skipped test for ctest).
Python 3 standard library only.
"""
import argparse
import sys

from oracle_common import compare_dirs, get, run_netscope

# (capture file name, "proto a_addr:a_port b_addr:b_port" as the oracle names
# side a and b, or "*" for every flow of the capture) -> reason.
ACCEPTED = {
    ("ipv4-fragmented.pcap", "udp 164.1.123.163:123 164.1.123.61:137"):
        "IP fragments: tshark reassembles and counts only the frame that completes "
        "the datagram (1 packet, 338 bytes); NetScope accounts every fragment on the "
        "wire (3 packets, 548 bytes) to the flow of its first fragment via a "
        "(src, dst, id, proto) table, as IPFIX meters do. (Zeek flags these tiny "
        "fragments as fragment_inconsistency.)",
    ("dns-ipv6-fragmented.pcap",
     "udp 2001:470:1f11:81f:d138:5f55:6d4:1fe2:51851 2607:f740:b::f93:53"):
        "IPv6 fragments: the 3-fragment response (frames 6-8) is one packet of 436 "
        "bytes for tshark (the reassembling frame) and 3 packets / 3424 bytes for "
        "NetScope, which counts every fragment on the wire (it reassembles the "
        "datagram only for the app decoders: decoder/dns sees the response).",
    ("dns-ipv6-fragmented.pcap", "udp 2607:f740:b::f93:0 2001:470:1f11:81f:d138:5f55:6d4:1fe2:0"):
        "Frame 4 is the last fragment of a datagram whose first fragment was never "
        "captured: tshark leaves it out of every stream; NetScope cannot know its "
        "ports, so it accounts it to a port-less UDP flow (counted in "
        "fragments_unattributed_total) instead of dropping it silently.",
}


def norm_addr(a):
    return a.lower() if isinstance(a, str) else a


def our_flows(recs):
    out = []
    for r in recs:
        if get(r, "event.action") != "flow_end":
            continue
        proto = get(r, "network.transport")
        if proto not in ("tcp", "udp"):
            continue
        out.append({
            "proto": proto,
            "src": (norm_addr(get(r, "source.ip")), get(r, "source.port", 0)),
            "dst": (norm_addr(get(r, "destination.ip")), get(r, "destination.port", 0)),
            "sp": get(r, "source.packets", 0), "sb": get(r, "source.bytes", 0),
            "dp": get(r, "destination.packets", 0), "db": get(r, "destination.bytes", 0),
            "start": get(r, "event.start", ""),
        })
    return out


def icmp_counts_mine(recs):
    """ICMP/ICMPv6 packets per directed (src, dst) address pair, from flow_end."""
    out = {}
    for r in recs:
        if get(r, "event.action") != "flow_end":
            continue
        if get(r, "network.transport") not in ("icmp", "ipv6-icmp"):
            continue
        a, b = norm_addr(get(r, "source.ip")), norm_addr(get(r, "destination.ip"))
        out[(a, b)] = out.get((a, b), 0) + get(r, "source.packets", 0)
        out[(b, a)] = out.get((b, a), 0) + get(r, "destination.packets", 0)
    return {k: v for k, v in out.items() if v}


def icmp_counts_oracle(expected):
    out = {}
    icmp = expected.get("icmp") or {}
    for fam in ("icmpv4", "icmpv6"):
        for e in icmp.get(fam) or []:
            k = (norm_addr(e["src"]), norm_addr(e["dst"]))
            out[k] = out.get(k, 0) + e["packets"]
    return out


def pair_key(proto, e1, e2):
    return (proto,) + tuple(sorted([e1, e2], key=lambda e: (str(e[0]), e[1])))


def compare_capture(path, expected, binary, plugin_dir):
    """Return (differences as (oracle tuple, message), number of flows)."""
    exp = [f for f in expected.get("flows", []) if f.get("proto") in ("tcp", "udp")]
    recs = run_netscope(binary, plugin_dir, path)
    mine = our_flows(recs)
    groups_exp, groups_mine = {}, {}
    for f in exp:
        a = (norm_addr(f["a_addr"]), f["a_port"])
        b = (norm_addr(f["b_addr"]), f["b_port"])
        groups_exp.setdefault(pair_key(f["proto"], a, b), []).append(f)
    for f in mine:
        groups_mine.setdefault(pair_key(f["proto"], f["src"], f["dst"]), []).append(f)
    diffs = []  # (tuple label, message)
    for key in sorted(set(groups_exp) | set(groups_mine), key=str):
        el = sorted(groups_exp.get(key, []), key=lambda f: float(f["first_ts"]))
        ml = sorted(groups_mine.get(key, []), key=lambda f: f["start"])
        for i in range(max(len(el), len(ml))):
            e = el[i] if i < len(el) else None
            m = ml[i] if i < len(ml) else None
            if e is None:
                label = "%s %s:%s %s:%s" % (m["proto"], m["src"][0], m["src"][1],
                                            m["dst"][0], m["dst"][1])
                diffs.append((label, "extra flow in NetScope: %d/%d pkts" % (m["sp"], m["dp"])))
                continue
            label = "%s %s:%s %s:%s" % (e["proto"], e["a_addr"], e["a_port"],
                                        e["b_addr"], e["b_port"])
            if m is None:
                diffs.append((label, "missing in NetScope (stream %s)" % e.get("stream")))
                continue
            a = (norm_addr(e["a_addr"]), e["a_port"])
            if m["src"] == a:
                got = (m["sp"], m["sb"], m["dp"], m["db"])
            else:
                got = (m["dp"], m["db"], m["sp"], m["sb"])
            want = (e["a_to_b"]["packets"], e["a_to_b"]["bytes"],
                    e["b_to_a"]["packets"], e["b_to_a"]["bytes"])
            if got != want:
                diffs.append((label, "a->b pkts/bytes, b->a pkts/bytes: tshark %s, NetScope %s"
                              % (want, got)))
    # ICMP: packets per directed address pair (tshark groups ICMP by src, dst,
    # type, code; NetScope pairs requests and replies into flows).
    want_icmp, got_icmp = icmp_counts_oracle(expected), icmp_counts_mine(recs)
    for k in sorted(set(want_icmp) | set(got_icmp), key=str):
        if want_icmp.get(k, 0) != got_icmp.get(k, 0):
            diffs.append(("icmp %s %s" % k, "ICMP packets src->dst: tshark %d, NetScope %d"
                          % (want_icmp.get(k, 0), got_icmp.get(k, 0))))
    # TCP analysis: segments flagged as resent or late. tshark splits them into
    # retransmission (fast and spurious included) and out_of_order by timing
    # heuristics; NetScope by sequence ranges only, so compare the sum.
    ta = (expected.get("anomalies") or {}).get("tcp_analysis") or {}

    def ta_count(k):
        v = ta.get(k) or 0
        return v.get("count", 0) if isinstance(v, dict) else v
    want_rx = ta_count("retransmission") + ta_count("out_of_order")
    got_rx = sum((get(r, "netscope.flow.retransmissions", 0) or 0) +
                 (get(r, "netscope.flow.out_of_order", 0) or 0)
                 for r in recs if get(r, "event.action") == "flow_end")
    if want_rx != got_rx:
        diffs.append(("tcp-analysis", "retransmitted + out-of-order segments: tshark %d, "
                      "NetScope %d" % (want_rx, got_rx)))
    return diffs, len(exp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--netscope", required=True)
    ap.add_argument("--plugin-dir", default="")
    ap.add_argument("--require", action="store_true",
                    help="fail when a directory does not exist (default: skip it)")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()

    def compare(path, expected):
        return compare_capture(path, expected, args.netscope, args.plugin_dir)

    def summary(total, exact, acc, verdict):
        return ("%d captures: %d exact, %d with accepted differences, %s"
                % (total, exact, acc, verdict))

    return compare_dirs(args.dirs, args.require, ACCEPTED, lambda expected: True,
                        compare, "flows", summary)


if __name__ == "__main__":
    sys.exit(main())
