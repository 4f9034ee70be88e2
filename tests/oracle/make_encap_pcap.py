#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""make_encap_pcap.py - write the synthetic encapsulation captures used as
flow-oracle fixtures (tests/fixtures/pcaps/encap-tunnels.pcap, ppp-udp.pcap).

Each packet is built here from scratch (no third-party capture), with
encapsulations a flow meter meets in the field: GRE (checksum+key), GRE
transparent Ethernet bridging, ERSPAN type II, IPv6-in-IPv4, IPv4-in-IPv6,
MPLS label stacks, PPPoE over 802.1Q, PPTP (GRE v1), and a DLT_PPP file. The
oracle JSON beside them (expected/*.json) is produced by tshark through
shared/pcaps/make-expected.sh, not by NetScope, so the captures test NetScope
against Wireshark's dissectors. Deterministic: re-running gives the same bytes.

Usage: make_encap_pcap.py OUTDIR
The packet builders (csum, eth, ip4, tcp, write, ...) are also imported by
tests/http2/test_h2c_upgrade.py and tests/tls/test_any_port.py.
"""
import os
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(src, dst, proto, payload, ident=1):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0,
                    bytes(src), bytes(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64, bytes(src),
                       bytes(dst)) + payload


def udp(sp, dp, payload):
    return struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload


def tcp(sp, dp, seq, ack, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def icmp_echo(t, ident, seq):
    b = struct.pack("!BBHHH", t, 0, 0, ident, seq) + b"ping" * 4
    return b[:2] + struct.pack("!H", csum(b)) + b[4:]


def eth(dst, src, etype, payload, vlan=None):
    h = bytes(dst) + bytes(src)
    if vlan is not None:
        h += struct.pack("!HH", 0x8100, vlan)
    return h + struct.pack("!H", etype) + payload


def gre(proto, payload, key=None, csum_bit=False, seq=None):
    flags = (0x8000 if csum_bit else 0) | (0x2000 if key is not None else 0) | \
        (0x1000 if seq is not None else 0)
    h = struct.pack("!HH", flags, proto)
    if csum_bit:
        h += b"\0\0\0\0"
    if key is not None:
        h += struct.pack("!I", key)
    if seq is not None:
        h += struct.pack("!I", seq)
    return h + payload


M1 = [0x02, 0, 0, 0, 0, 1]
M2 = [0x02, 0, 0, 0, 0, 2]
M3 = [0x02, 0, 0, 0, 0, 3]
M4 = [0x02, 0, 0, 0, 0, 4]
OUT_A, OUT_B = [198, 51, 100, 1], [198, 51, 100, 2]
V6_A = [0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1]
V6_B = [0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [2]


def frames():
    t = 0
    out = []

    def add(b):
        nonlocal t
        t += 1000
        out.append((t, b))

    def v4(a, b_, proto, pl):
        return ip4(a, b_, proto, pl)

    # 1. TCP over GRE (checksum + key), both directions through the tunnel.
    c, s = [10, 1, 0, 1], [10, 1, 0, 2]
    seg = [(c, s, 40001, 80, 100, 0, 0x02, b""), (s, c, 80, 40001, 500, 101, 0x12, b""),
           (c, s, 40001, 80, 101, 501, 0x10, b""), (c, s, 40001, 80, 101, 501, 0x18, b"GET /\r\n"),
           (s, c, 80, 40001, 501, 108, 0x18, b"HTTP/1.0 200 OK\r\n\r\n"),
           (c, s, 40001, 80, 108, 520, 0x11, b""), (s, c, 80, 40001, 520, 109, 0x11, b""),
           (c, s, 40001, 80, 109, 521, 0x10, b"")]
    for (a, b_, sp, dp, sq, ak, fl, pl) in seg:
        inner = v4(a, b_, 6, tcp(sp, dp, sq, ak, fl, pl))
        o1, o2 = (OUT_A, OUT_B) if a == c else (OUT_B, OUT_A)
        add(eth(M2 if a == c else M1, M1 if a == c else M2, 0x0800,
                ip4(o1, o2, 47, gre(0x0800, inner, key=7, csum_bit=True))))
    # 2. UDP over MPLS (two labels), a request and a reply.
    c, s = [10, 2, 0, 1], [10, 2, 0, 2]
    labels = struct.pack("!II", (100 << 12) | 64, (200 << 12) | (1 << 8) | 64)
    add(eth(M2, M1, 0x8847, labels + v4(c, s, 17, udp(40053, 9053, b"q" * 20))))
    add(eth(M1, M2, 0x8847, labels + v4(s, c, 17, udp(9053, 40053, b"r" * 40))))
    # 3. UDP over PPPoE session over 802.1Q.
    c, s = [10, 3, 0, 1], [10, 3, 0, 2]
    for (a, b_, sp, dp, n) in [(c, s, 123, 123, 48), (s, c, 123, 123, 48), (c, s, 123, 123, 48)]:
        pl = v4(a, b_, 17, udp(sp, dp, b"n" * n))
        ppp = struct.pack("!BBHHH", 0x11, 0, 0x1234, len(pl) + 2, 0x0021) + pl
        add(eth(M3, M4, 0x8864, ppp, vlan=42))
    # 4. TCP over IPv6-in-IPv4 (protocol 41).
    for (a, b_, sp, dp, sq, ak, fl) in [(V6_A, V6_B, 50000, 443, 1, 0, 0x02),
                                         (V6_B, V6_A, 443, 50000, 9, 2, 0x12),
                                         (V6_A, V6_B, 50000, 443, 2, 10, 0x10)]:
        inner = ip6(a, b_, 6, tcp(sp, dp, sq, ak, fl))
        o1, o2 = (OUT_A, OUT_B) if a == V6_A else (OUT_B, OUT_A)
        add(eth(M2, M1, 0x0800, ip4(o1, o2, 41, inner)))
    # 5. UDP over IPv4-in-IPv6.
    c, s = [10, 5, 0, 1], [10, 5, 0, 2]
    add(eth(M2, M1, 0x86DD, ip6(V6_A, V6_B, 4, v4(c, s, 17, udp(6000, 7000, b"x" * 10)))))
    add(eth(M1, M2, 0x86DD, ip6(V6_B, V6_A, 4, v4(s, c, 17, udp(7000, 6000, b"y" * 30)))))
    # 6. UDP over GRE transparent Ethernet bridging (inner Ethernet + VLAN).
    c, s = [10, 6, 0, 1], [10, 6, 0, 2]
    for (a, b_, sp, dp) in [(c, s, 1000, 2000), (s, c, 2000, 1000)]:
        inner = eth(M4, M3, 0x0800, v4(a, b_, 17, udp(sp, dp, b"z" * 12)), vlan=7)
        add(eth(M2, M1, 0x0800, ip4(OUT_A, OUT_B, 47, gre(0x6558, inner))))
    # 7. ERSPAN type II (GRE with sequence) mirroring a TCP handshake.
    c, s = [10, 7, 0, 1], [10, 7, 0, 2]
    for i, (a, b_, sp, dp, sq, ak, fl) in enumerate([(c, s, 33000, 22, 1, 0, 0x02),
                                                     (s, c, 22, 33000, 50, 2, 0x12)]):
        mirrored = eth(M4, M3, 0x0800, v4(a, b_, 6, tcp(sp, dp, sq, ak, fl)))
        erspan = struct.pack("!II", (1 << 28) | 5, 0)
        add(eth(M2, M1, 0x0800, ip4(OUT_A, OUT_B, 47, gre(0x88BE, erspan + mirrored, seq=i))))
    # 8. ICMP echo over GRE.
    c, s = [10, 8, 0, 1], [10, 8, 0, 2]
    add(eth(M2, M1, 0x0800, ip4(OUT_A, OUT_B, 47, gre(0x0800, v4(c, s, 1, icmp_echo(8, 9, 1))))))
    add(eth(M1, M2, 0x0800, ip4(OUT_B, OUT_A, 47, gre(0x0800, v4(s, c, 1, icmp_echo(0, 9, 1))))))
    # 9. PPTP-style GRE version 1 (enhanced GRE carrying PPP): not decapsulated.
    pptp = struct.pack("!HHHH", 0x3001, 0x880B, 4, 1) + struct.pack("!I", 1) + b"\xff\x03\xc0\x21"
    add(eth(M2, M1, 0x0800, ip4(OUT_A, OUT_B, 47, pptp + b"\x01\x01\x00\x04")))
    return out


def ppp_frames():
    c, s = [10, 9, 0, 1], [10, 9, 0, 2]
    out, t = [], 0
    for (a, b_, sp, dp, n, acfc) in [(c, s, 4000, 9053, 30, True), (s, c, 9053, 4000, 60, False),
                                      (c, s, 4000, 9053, 30, True)]:
        t += 1000
        pl = ip4(a, b_, 17, udp(sp, dp, b"d" * n))
        hdr = (b"\xff\x03" if acfc else b"") + struct.pack("!H", 0x0021)
        out.append((t, hdr + pl))
    t += 1000
    out.append((t, b"\xff\x03\xc0\x21\x01\x01\x00\x04"))  # LCP: untracked
    return out


def write(path, linktype, fr):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for (t, b) in fr:
            ts = 1700000000 * 1000000 + t
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(b), len(b)) + b)


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    write(os.path.join(d, "encap-tunnels.pcap"), 1, frames())
    write(os.path.join(d, "ppp-udp.pcap"), 9, ppp_frames())
