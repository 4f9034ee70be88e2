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
import re
import sys

from oracle_common import compare_dirs, get, parse_run_modes, run_mode, upstream_files

ACCEPTED = {
}

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
    allrecs = run_mode(args, path, "http2")
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
    for src, sid, want in upstream_streams(path):
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


def upstream_streams(capture):
    """The capture's suricata-verify eve `http` matches with a stream id and a
    URL: (file, stream id, {field: value}) with field in method, path, status,
    user_agent, length (response body bytes), authority."""
    out = []
    for fn, text in upstream_files(capture):
        if not fn.endswith(".yaml"):
            continue
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
    args = parse_run_modes(ap)

    def summary(total, exact, acc, verdict):
        return ("%d HTTP/2 captures: %d exact, %d with accepted differences, %d upstream values "
                "matched, %s" % (total, exact, acc, UPSTREAM_OK[0], verdict))

    return compare_dirs(args.dirs, args.require, ACCEPTED,
                        lambda expected: (expected.get("http2") or {}).get("header_frames"),
                        lambda path, expected: compare_capture(args, path, expected),
                        "streams", summary)


if __name__ == "__main__":
    sys.exit(main())
