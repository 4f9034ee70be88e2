#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""compare_http2.py - check decoder/http2 against tshark's HTTP/2 oracle.

For every capture in the given directories with an oracle expected/<stem>.json
that lists HTTP/2 HEADERS frames, runs decoder/http2 and compares its
netscope.http2 records (one per stream) with tshark's header frames:

  * per capture, the multisets of :method, :authority, :path, :status,
    content-type (request and response), user-agent, grpc-status and
    grpc-message against our http.request.method, url.domain[:url.port],
    url.original, http.response.status_code, http.request/response.mime_type,
    user_agent.original, rpc.grpc.status_code and netscope.grpc.message;
  * per stream, where a frame's header values line up with its non-zero
    stream ids (tshark lists them per frame), :path and :status by stream id.

Where upstream/<stem>/ holds a suricata-verify test.yaml with HTTP/2 events,
its per-stream method, URL, status, user agent, :authority and response length
are a second oracle.

tshark needed decode-as hints for these captures (*.tshark-args); NetScope
finds HTTP/2 by content. Run modes as in compare_tls.py: --flow-driver BIN
--plugin-dir DIR (tests/flow/flow_app_driver: the real decoder/flow and
decoder/http2 .so files; the flow_end record must say network.protocol http2
or grpc), --netscope BIN [--plugin-dir DIR] (the daemon's pipeline) or
--driver BIN (tests/tls/app_driver.c built as app_driver_http2, fed by
pcap_streams.py).

Every difference is fixed or listed in ACCEPTED with the reason; a listed
difference that no longer occurs fails the run.
Exit 0 all explained, 1 otherwise, 77 when no capture was found.
Python 3 standard library only.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_tls  # noqa: E402 (run helpers)

ACCEPTED = {
}

PIPELINE = """\
netscope: {{workers: 1}}
pipeline:
  capture: {{plugin: source/pcap, file: "{file}"}}
  flows:
    plugin: decoder/flow
    active_timeout: 0s
    tcp_idle_timeout: 1000000h
    udp_idle_timeout: 1000000h
  http2: {{plugin: decoder/http2, from: [flows]}}
  out: {{plugin: sink/jsonl}}
"""

get = compare_tls.get
UPSTREAM_OK = [0]


def authority(r):
    dom = get(r, "url.domain")
    port = get(r, "url.port")
    if dom is None:
        return None
    if ":" in dom:
        dom = "[%s]" % dom
    return "%s:%s" % (dom, port) if port is not None else dom


def compare_capture(args, path, expected):
    frames = (expected.get("http2") or {}).get("header_frames", [])
    compare_tls.PIPELINE = PIPELINE
    allrecs = compare_tls.run_all(args, path, "http2")
    ours = [r for r in allrecs if get(r, "event.dataset") == "netscope.http2"]
    diffs = []
    if args.flow_driver or args.netscope:
        want = "grpc" if any(get(r, "rpc.system") == "grpc" for r in ours) else "http2"
        for r in allrecs:
            if get(r, "event.action") != "flow_end" or get(r, "network.transport") != "tcp":
                continue
            ports = {get(r, "source.port"), get(r, "destination.port")}
            if any({get(o, "source.port"), get(o, "destination.port")} == ports for o in ours) \
                    and get(r, "network.protocol") != want:
                diffs.append(("flow network.protocol", "ours %r, want %r"
                              % (get(r, "network.protocol"), want)))
    fields = {
        "method": lambda r: [get(r, "http.request.method")],
        "authority": lambda r: [authority(r)],
        "path": lambda r: [get(r, "url.original")],
        "status": lambda r: [str(get(r, "http.response.status_code"))
                             if get(r, "http.response.status_code") is not None else None],
        "content_type": lambda r: [get(r, "http.request.mime_type"),
                                   get(r, "http.response.mime_type")],
        "user_agent": lambda r: [get(r, "user_agent.original")],
        "grpc_status": lambda r: [str(get(r, "rpc.grpc.status_code"))
                                  if get(r, "rpc.grpc.status_code") is not None else None],
        "grpc_message": lambda r: [get(r, "netscope.grpc.message")],
    }
    for name, fn in fields.items():
        theirs = collections.Counter(v for fr in frames for v in fr.get(name, []))
        mine = collections.Counter(v for r in ours for v in fn(r) if v is not None)
        if theirs != mine:
            diffs.append((name, "ours %s, tshark %s" % (dict(mine), dict(theirs))))
    by_id = {}
    for r in ours:
        by_id.setdefault((get(r, "source.port"), get(r, "netscope.http2.stream_id")), r)
    streams = {f["stream"]: f for f in expected.get("flows", []) if f.get("proto") == "tcp"}
    for fr in frames:
        ids = [i for i in fr["h2_stream_ids"] if i != 0]
        fl = streams.get(fr["tcp_stream"])
        if fl is None:
            continue
        for name, key in (("path", "url.original"), ("status", "http.response.status_code")):
            vals = fr.get(name, [])
            if not vals or len(vals) != len(ids):
                continue
            for sid, v in zip(ids, vals):
                r = by_id.get((fl["a_port"], sid)) or by_id.get((fl["b_port"], sid))
                mine = get(r, key) if r else None
                if mine is None or str(mine) != v:
                    diffs.append(("stream %d %s" % (sid, name),
                                  "ours %r, tshark %r (frame %d)" % (mine, v, fr["frame"])))
    updir = os.path.join(os.path.dirname(path), "upstream", os.path.basename(path).rsplit(".", 1)[0])
    for src, sid, want in upstream_streams(updir):
        r = next((x for x in ours if get(x, "netscope.http2.stream_id") == sid), None)
        if r is None:
            diffs.append(("upstream %s stream %d" % (src, sid), "no record for the stream"))
            continue
        mine = {"method": get(r, "http.request.method"), "path": get(r, "url.original"),
                "status": str(get(r, "http.response.status_code")),
                "user_agent": get(r, "user_agent.original"),
                "length": str(get(r, "http.response.body.bytes")), "authority": authority(r)}
        for k, v in want.items():
            if mine[k] != v:
                diffs.append(("upstream %s stream %d %s" % (src, sid, k),
                              "ours %r, upstream %r" % (mine[k], v)))
            else:
                UPSTREAM_OK[0] += 1
    return diffs, len(ours)


def upstream_streams(updir):
    """suricata-verify eve `http` matches with a stream id and a URL:
    (file, stream id, {field: value}) with field in method, path, status,
    user_agent, length (response body bytes), authority."""
    out = []
    if not os.path.isdir(updir):
        return out
    for fn in sorted(os.listdir(updir)):
        if not fn.endswith(".yaml"):
            continue
        with open(os.path.join(updir, fn), errors="replace") as fh:
            text = fh.read()
        for block in text.split("- filter:")[1:]:
            kv = dict(re.findall(r'^[ \t]*([\w.\[\]]+):[ \t]*"?([^"\n]*?)"?[ \t]*$', block, re.M))
            if kv.get("event_type") != "http" or "http.url" not in kv:
                continue
            sid = int(kv.get("http.http2.stream_id", "0"))
            want = {"method": kv.get("http.http_method"), "path": kv.get("http.url"),
                    "status": kv.get("http.status"), "user_agent": kv.get("http.http_user_agent"),
                    "length": kv.get("http.length")}
            for i in range(8):
                if kv.get("http.request_headers[%d].name" % i) == ":authority":
                    want["authority"] = kv.get("http.request_headers[%d].value" % i)
            out.append((fn, sid, {k: v for k, v in want.items() if v is not None}))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--netscope")
    ap.add_argument("--plugin-dir", default="")
    ap.add_argument("--driver")
    ap.add_argument("--flow-driver")
    ap.add_argument("--require", action="store_true")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    if not args.netscope and not args.driver and not args.flow_driver:
        ap.error("--netscope, --flow-driver or --driver is required")
    failed = False
    total = exact = acc = 0
    used = set()
    seen_files = set()
    for dd in args.dirs:
        if not os.path.isdir(dd):
            print(("missing directory %s" if args.require else "skip %s (not present)") % dd)
            failed |= args.require
            continue
        for fn in sorted(os.listdir(dd)):
            if not fn.endswith((".pcap", ".pcapng")):
                continue
            stem = fn.rsplit(".", 1)[0]
            oracle = os.path.join(dd, "expected", stem + ".json")
            if not os.path.exists(oracle):
                continue
            with open(oracle) as fh:
                expected = json.load(fh)
            if not (expected.get("http2") or {}).get("header_frames"):
                continue
            seen_files.add(fn)
            total += 1
            try:
                diffs, n = compare_capture(args, os.path.join(dd, fn), expected)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print("FAIL %s: %s" % (fn, e))
                failed = True
                continue
            unexplained = [(lb, m) for lb, m in diffs
                           if (fn, lb) not in ACCEPTED and (fn, "*") not in ACCEPTED]
            used |= {(fn, lb) for lb, _ in diffs if (fn, lb) in ACCEPTED}
            used |= {(fn, "*") for _ in diffs if (fn, "*") in ACCEPTED}
            if not diffs:
                exact += 1
                print("ok   %s (%d streams)" % (fn, n))
            elif not unexplained:
                acc += 1
                print("acc  %s (%d streams, %d accepted differences)" % (fn, n, len(diffs)))
                for lb, m in diffs:
                    print("       %s: %s" % (lb, m))
            else:
                failed = True
                print("FAIL %s (%d streams)" % (fn, n))
                for lb, m in unexplained:
                    print("       %s: %s" % (lb, m))
    for key in sorted(ACCEPTED):
        if key[0] in seen_files and key not in used:
            print("stale accepted difference: %s %s" % key)
            failed = True
    print("%d HTTP/2 captures: %d exact, %d with accepted differences, %d upstream values "
          "matched, %s" % (total, exact, acc, UPSTREAM_OK[0],
                           "FAILED" if failed else "all explained"))
    if failed:
        return 1
    return 77 if total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
