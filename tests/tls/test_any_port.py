#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test_any_port.py - decoder/tls finds TLS by content: the same capture with
port 443 rewritten to 8443 (and to 50000) gives the same netscope.tls record.

Rewrites the TCP ports of a classic-pcap Ethernet/IPv4 capture (checksums
recomputed), runs tests/flow/flow_app_driver (real decoder/flow + decoder/tls
.so files) on the original and the rewritten copies, and compares the records
with the ports taken out. Python 3 standard library only.
Usage: test_any_port.py FLOW_APP_DRIVER PLUGIN_DIR CAPTURE
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
from make_encap_pcap import csum  # noqa: E402 (the Internet checksum)


def rewrite(src, dst, old, new):
    with open(src, "rb") as f:
        data = bytearray(f.read())
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "little-endian classic pcap expected"
    assert struct.unpack("<I", data[20:24])[0] == 1, "Ethernet expected"
    off, n = 24, 0
    while off + 16 <= len(data):
        caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
        p = off + 16
        if data[p + 12:p + 14] == b"\x08\x00" and data[p + 23] == 6:
            ip = p + 14
            ihl = (data[ip] & 15) * 4
            tot = struct.unpack("!H", data[ip + 2:ip + 4])[0]
            tcp = ip + ihl
            for k in (0, 2):
                if struct.unpack("!H", data[tcp + k:tcp + k + 2])[0] == old:
                    data[tcp + k:tcp + k + 2] = struct.pack("!H", new)
                    n += 1
            seg = bytes(data[tcp:ip + tot])
            if len(seg) == tot - ihl:  # whole segment captured: fix the checksum
                seg = seg[:16] + b"\0\0" + seg[18:]
                pseudo = bytes(data[ip + 12:ip + 20]) + struct.pack("!BBH", 0, 6, len(seg))
                data[tcp + 16:tcp + 18] = struct.pack("!H", csum(pseudo + seg))
        off = p + caplen
    with open(dst, "wb") as f:
        f.write(data)
    return n


def tls_records(driver, plugins, cap):
    p = subprocess.run([driver, os.path.join(plugins, "ns-decoder-flow.so"), cap,
                        os.path.join(plugins, "ns-decoder-tls.so"), "-o", "flows.devices=false"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=True)
    out = []
    for line in p.stdout.decode().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            if r["event"]["dataset"] == "netscope.tls":
                for side in ("source", "destination"):
                    r[side].pop("port", None)
                r.get("network", {}).pop("community_id", None)
                out.append(r)
    return out


def main():
    driver, plugins, cap = sys.argv[1:4]
    base = tls_records(driver, plugins, cap)
    if len(base) != 1:
        print("FAIL: %d TLS records on the original capture" % len(base))
        return 1
    for port in (8443, 50000):
        with tempfile.NamedTemporaryFile(suffix=".pcap", delete=False) as t:
            path = t.name
        try:
            if rewrite(cap, path, 443, port) == 0:
                print("FAIL: no port 443 in %s" % cap)
                return 1
            got = tls_records(driver, plugins, path)
        finally:
            os.unlink(path)
        if got != base:
            print("FAIL: port %d: %s" % (port, json.dumps(got)[:400]))
            return 1
        print("ok   TLS on port %d: same record (ja4 %s)" % (port, base[0]["tls"]["client"]["ja4"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
