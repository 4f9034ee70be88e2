#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test_h2c_upgrade.py - an h2c Upgrade connection end to end.

Writes a small synthetic capture (Ethernet/IPv4/TCP, every byte built here,
deterministic): an HTTP/1.1 GET with `Upgrade: h2c` on port 8080, the
server's `101 Switching Protocols` then HTTP/2 frames (SETTINGS, HEADERS
:status 200 with content-type, DATA with END_STREAM), the client's preface
and SETTINGS, and FINs. Runs tests/flow/flow_app_driver with the real
decoder/flow, decoder/http and decoder/http2 .so files (http first, so its
refusal of h2c upgrades is tested too) and checks the one netscope.http2
record and the flow record. Python 3 standard library only.
Usage: test_h2c_upgrade.py FLOW_APP_DRIVER PLUGIN_DIR
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
from make_encap_pcap import csum, eth, ip4, tcp, write  # noqa: E402 (packet builders)

CLI, SRV = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
CPORT, SPORT = 40000, 8080


def packet(src, dst, sp, dp, seq, ack, flags, payload=b""):
    seg = tcp(sp, dp, seq, ack, flags, payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    seg = seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]
    return eth(b"\x02\0\0\0\0\x02", b"\x02\0\0\0\0\x01", 0x0800, ip4(src, dst, 6, seg))


def frame(ftype, flags, sid, payload):
    return struct.pack("!I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack("!I", sid) + payload


def build(path):
    req = (b"GET /hello?x=1 HTTP/1.1\r\nHost: h2c.test:8080\r\nUser-Agent: synth/1\r\n"
           b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
           b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
    # :status 200 (static index 8); content-type (static name 31) "text/plain".
    block = b"\x88" + b"\x0f\x10" + bytes([10]) + b"text/plain"
    resp = (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
            + frame(4, 0, 0, b"") + frame(1, 4, 1, block) + frame(0, 1, 1, b"hello, h2c\n"))
    pre = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(4, 1, 0, b"")
    cs, ss = 1000, 5000
    pkts = [packet(CLI, SRV, CPORT, SPORT, cs, 0, 0x02),
            packet(SRV, CLI, SPORT, CPORT, ss, cs + 1, 0x12),
            packet(CLI, SRV, CPORT, SPORT, cs + 1, ss + 1, 0x10)]
    cs += 1
    ss += 1
    pkts.append(packet(CLI, SRV, CPORT, SPORT, cs, ss, 0x18, req))
    cs += len(req)
    pkts.append(packet(SRV, CLI, SPORT, CPORT, ss, cs, 0x18, resp))
    ss += len(resp)
    pkts.append(packet(CLI, SRV, CPORT, SPORT, cs, ss, 0x18, pre))
    cs += len(pre)
    pkts.append(packet(CLI, SRV, CPORT, SPORT, cs, ss, 0x11))
    pkts.append(packet(SRV, CLI, SPORT, CPORT, ss, cs + 1, 0x11))
    pkts.append(packet(CLI, SRV, CPORT, SPORT, cs + 1, ss + 1, 0x10))
    write(path, 1, [(1000 * i, p) for i, p in enumerate(pkts)])


def main():
    driver, plugins = sys.argv[1:3]
    for so in ("flow", "http", "http2"):
        if not os.path.exists(os.path.join(plugins, "ns-decoder-%s.so" % so)):
            print("skip: ns-decoder-%s.so not built" % so)
            return 77
    with tempfile.NamedTemporaryFile(suffix=".pcap", delete=False) as t:
        path = t.name
    try:
        build(path)
        p = subprocess.run([driver, os.path.join(plugins, "ns-decoder-flow.so"), path,
                            os.path.join(plugins, "ns-decoder-http.so"),
                            os.path.join(plugins, "ns-decoder-http2.so"),
                            "-o", "flows.devices=false"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        print("FAIL: driver exit %d: %s" % (p.returncode, p.stderr.decode()[-400:]))
        return 1
    recs = [json.loads(x) for x in p.stdout.decode().splitlines() if x.startswith("{")]
    h2 = [r for r in recs if r["event"]["dataset"] == "netscope.http2"]
    h1 = [r for r in recs if r["event"]["dataset"] == "netscope.http"]
    ends = [r for r in recs if r["event"].get("action") == "flow_end"]
    ok = True

    def check(what, got, want):
        nonlocal ok
        if got != want:
            print("FAIL %s: %r, want %r" % (what, got, want))
            ok = False

    check("http2 records", len(h2), 1)
    check("http records", len(h1), 0)
    if h2:
        r = h2[0]
        check("method", r.get("http", {}).get("request", {}).get("method"), "GET")
        check("url", r.get("url", {}).get("original"), "/hello?x=1")
        check("domain", r.get("url", {}).get("domain"), "h2c.test")
        check("status", r.get("http", {}).get("response", {}).get("status_code"), 200)
        check("mime", r.get("http", {}).get("response", {}).get("mime_type"), "text/plain")
        check("body", r.get("http", {}).get("response", {}).get("body", {}).get("bytes"), 11)
        check("upgrade", r.get("netscope", {}).get("http2", {}).get("upgrade"), True)
        check("complete", r.get("netscope", {}).get("http2", {}).get("complete"), True)
    check("flow_end records", len(ends), 1)
    if ends:
        check("flow protocol", ends[0].get("network", {}).get("protocol"), "http2")
    if ok:
        print("ok   h2c Upgrade: one netscope.http2 record, flow says http2")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
