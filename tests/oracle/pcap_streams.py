#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""pcap_streams.py - TCP payload streams from a capture, for app-decoder test drivers.

Used by compare_tls.py / compare_http2.py (--driver mode) and by hand: reads a
pcap or pcapng file (Ethernet, DLT_NULL/LOOP, raw IP, Linux SLL/SLL2; IPv4/IPv6;
no IP reassembly), puts each TCP connection's payload in stream order per
direction (retransmitted bytes dropped, out-of-order segments held until the
hole fills), and writes the chunks in the order the packets arrived as a
simple framing on stdout:

    'S' conn(u32) ipver(u8) src(16) dst(16) sport(u16) dport(u16) ts(u64)   new connection
    'D' conn(u32) dir(u8) ts(u64) len(u32) data                             payload
    'C' conn(u32) ts(u64)                                                  end

all integers big-endian, addresses padded to 16 bytes. The client is the SYN
sender, else the first packet's source. This is test scaffolding, not the
product's reassembly (decoder/flow owns that).
"""
import struct
import sys


def read_packets(path):
    with open(path, "rb") as fh:
        data = fh.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        le = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        e = "<" if le else ">"
        linktype = struct.unpack(e + "I", data[20:24])[0]
        off = 24
        while off + 16 <= len(data):
            sec, frac, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
            off += 16
            ts = sec * 10**9 + (frac if nano else frac * 1000)
            yield ts, linktype, data[off:off + caplen]
            off += caplen
        return
    if magic != b"\x0a\x0d\x0d\x0a":
        raise SystemExit("%s: not pcap/pcapng" % path)
    off = 0
    e = "<"
    ifaces = []
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            lt = struct.unpack(e + "H", body[:2])[0]
            tsres = 6
            o = 8
            while o + 4 <= len(body):
                code, ln = struct.unpack(e + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    tsres = body[o + 4]
                o += 4 + ((ln + 3) & ~3)
            ifaces.append((lt, tsres))
        elif btype == 6:
            iid, th, tl, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            lt, tsres = ifaces[iid] if iid < len(ifaces) else (1, 6)
            raw = (th << 32) | tl
            if tsres & 0x80:
                ts = raw * 10**9 // (2 ** (tsres & 0x7F))
            else:
                ts = raw * 10**9 // (10 ** tsres)
            yield ts, lt, body[20:20 + caplen]
        off += blen


def ip_payload(linktype, pkt):
    """Return (ipver, src, dst, proto, l4) or None."""
    if linktype == 1:  # Ethernet, with VLAN tags
        off, et = 12, None
        while off + 2 <= len(pkt):
            et = struct.unpack(">H", pkt[off:off + 2])[0]
            off += 2
            if et in (0x8100, 0x88A8):
                off += 2
                continue
            break
        ip = pkt[off:]
    elif linktype in (0, 108):  # DLT_NULL / LOOP: 4-byte family
        ip = pkt[4:]
        et = 0x0800 if ip[:1] and ip[0] >> 4 == 4 else 0x86DD
    elif linktype in (12, 101, 14):
        ip = pkt
        et = 0x0800 if ip and ip[0] >> 4 == 4 else 0x86DD
    elif linktype == 113:
        ip = pkt[16:]
        et = struct.unpack(">H", pkt[14:16])[0]
    elif linktype == 276:
        ip = pkt[20:]
        et = struct.unpack(">H", pkt[0:2])[0]
    else:
        return None
    if et == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack(">H", ip[2:4])[0]
        if ip[6] & 0x3F or ip[7]:  # fragment: skip
            return None
        return 4, ip[12:16] + b"\0" * 12, ip[16:20] + b"\0" * 12, ip[9], ip[ihl:tot if tot else None]
    if et == 0x86DD and len(ip) >= 40:
        plen = struct.unpack(">H", ip[4:6])[0]
        nh, off = ip[6], 40
        while nh in (0, 43, 60) and off + 8 <= len(ip):
            nh, off = ip[off], off + (ip[off + 1] + 1) * 8
        return 6, ip[8:24], ip[24:40], nh, ip[off:40 + plen]
    return None


class Dir:
    def __init__(self):
        self.next = None
        self.held = {}


def streams(path, out):
    conns = {}
    nconn = 0
    for ts, lt, pkt in read_packets(path):
        r = ip_payload(lt, pkt)
        if r is None or r[3] != 6 or len(r[4]) < 20:
            continue
        ver, src, dst, _, tcp = r
        sp, dp, seq = struct.unpack(">HHI", tcp[:8])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        data = tcp[doff:]
        key = (src, sp, dst, dp)
        rkey = (dst, dp, src, sp)
        if key in conns:
            c, d = conns[key], 0
        elif rkey in conns:
            c, d = conns[rkey], 1
        else:
            syn_ack = (flags & 0x12) == 0x12
            if syn_ack:  # SYN-ACK first: the other side is the client
                key, rkey = rkey, key
                src, dst, sp, dp = dst, src, dp, sp
                d = 1
            else:
                d = 0
            c = {"id": nconn, "dirs": [Dir(), Dir()], "closed": False}
            nconn += 1
            conns[key] = c
            out.write(b"S" + struct.pack(">IB", c["id"], ver) + src + dst +
                      struct.pack(">HHQ", sp, dp, ts))
        dr = c["dirs"][d]
        if flags & 0x02:
            dr.next = (seq + 1) & 0xFFFFFFFF
            continue
        if dr.next is None:
            dr.next = seq
        if data:
            dr.held.setdefault(seq, data)
            progressed = True
            while progressed:
                progressed = False
                for s in list(dr.held):
                    delta = (s - dr.next) & 0xFFFFFFFF
                    seg = dr.held[s]
                    if delta >= 0x80000000:  # starts before next: trim
                        back = (dr.next - s) & 0xFFFFFFFF
                        del dr.held[s]
                        if back < len(seg):
                            dr.held[dr.next] = seg[back:]
                            progressed = True
                    elif delta == 0:
                        del dr.held[s]
                        out.write(b"D" + struct.pack(">IBQI", c["id"], d, ts, len(seg)) + seg)
                        dr.next = (dr.next + len(seg)) & 0xFFFFFFFF
                        progressed = True
        if flags & 0x05 and not c["closed"] and flags & 0x04:
            c["closed"] = True
            out.write(b"C" + struct.pack(">IQ", c["id"], ts))
    for c in conns.values():
        if not c["closed"]:
            out.write(b"C" + struct.pack(">IQ", c["id"], 0))


if __name__ == "__main__":
    streams(sys.argv[1], sys.stdout.buffer)
