#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""compare_tls.py - check decoder/tls against tshark's TLS oracle and upstream JA4.

For every capture in the given directories with an oracle expected/<stem>.json
that has TLS over TCP, runs decoder/tls over the capture and compares each
netscope.tls record with tshark's ClientHello / ServerHello / Certificate
entries for the same TCP stream (matched by address and port):

  client: SNI, offered ALPN, legacy (handshake) version, supported_versions
          (GREASE removed), number of offered suites, JA3 and the JA3 string;
  server: selected version, cipher suite (IANA name), selected ALPN, JA3S and
          its string;
  certificates: per chain position subject, issuer, serial, not-before,
          not-after, SAN dNSName and iPAddress (TLS <= 1.2, in clear).

tshark 4.0 has no JA4: JA4 is checked against the upstream oracles found in
upstream/<stem>/ next to expected/ (suricata-verify test.yaml `ja4:`, Arkime
`.test` "ja4", nDPI `.out` `[JA4: ...]`); every TCP JA4 (prefix "t") they list
must be one of ours. QUIC ("q") values are skipped: TLS in QUIC is a later issue.
The same files are a second oracle for other values where they list them
(leaf subject/issuer/serial/validity, version, cipher name, JA3/JA3S).

Three ways to run decoder/tls:
  --flow-driver BIN --plugin-dir DIR: tests/flow/flow_app_driver, the real
      decoder/flow (reassembly, probing, annotation) and decoder/tls .so files
      on the fake host; flow records are checked too (network.protocol "tls"
      and tls.client.server_name on the flow_end record);
  --netscope BIN [--plugin-dir DIR]: the daemon's pipeline (source/pcap ->
      decoder/flow -> decoder/tls -> sink/jsonl), once graph edges from
      decoder/flow to app decoders exist;
  --driver BIN: tests/tls/app_driver.c fed by pcap_streams.py (stream order
      from the capture, no decoder/flow): the parser alone.

Every difference is fixed or listed in ACCEPTED with the reason; a listed
difference that no longer occurs fails the run (stale).
Exit 0 all explained, 1 otherwise, 77 when no capture was found.
Python 3 standard library only.
"""
import argparse
import json
import os
import re
import sys

from oracle_common import compare_dirs, get, parse_run_modes, run_mode, upstream_files

# (capture, label) -> reason. label is "<stream> <what>" or "*".
ACCEPTED = {
}

# IANA names for the suites the corpus selects (an independent table: the
# decoder's own lives in tls_names.c).
IANA = {
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x002f: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x009c: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0xc013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xc014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xc02b: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xc02c: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xc030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xcca8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xcca9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
}
VERSIONS = {0x0300: "3.0", 0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3"}

def grease(v):
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def norm_time(s):
    """'2011-05-04 00:00:00 (UTC)' or '2011-05-04T00:00:00.000000Z' -> '2011-05-04 00:00:00'."""
    if s is None:
        return None
    m = re.match(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)", s)
    return "%s %s" % m.groups() if m else s


def norm_serial(s):
    return s.replace(":", "").upper() if s else s


def norm_dn(s):
    # OpenSSL's RFC 2253 escaping ("\,") vs tshark's plain text.
    return s.replace("\\", "") if s else s


def endpoint_key(a, ap, b, bp):
    return frozenset([(a.lower(), int(ap)), (b.lower(), int(bp))])


def compare_capture(args, path, expected):
    """Return (diffs, n_records, our records)."""
    tls = expected.get("tls") or {}
    chs = [c for c in tls.get("client_hellos", []) if not c.get("over_quic")]
    shs = [s for s in tls.get("server_hellos", []) if not s.get("over_quic")]
    certs = tls.get("certificates", [])
    streams = {f["stream"]: f for f in expected.get("flows", []) if f.get("proto") == "tcp"}
    allrecs = run_mode(args, path, "tls")
    ours = [r for r in allrecs if get(r, "event.dataset") == "netscope.tls"]
    flow_ends = {}
    for r in allrecs:
        if get(r, "event.dataset") == "netscope.flow" and get(r, "event.action") == "flow_end" \
                and get(r, "source.ip") is not None:
            flow_ends[endpoint_key(get(r, "source.ip"), get(r, "source.port"),
                                   get(r, "destination.ip"), get(r, "destination.port"))] = r
    by_ep = {}
    for r in ours:
        k = endpoint_key(get(r, "source.ip"), get(r, "source.port"),
                         get(r, "destination.ip"), get(r, "destination.port"))
        by_ep.setdefault(k, []).append(r)
    diffs = []

    def d(stream, what, mine, theirs):
        if mine != theirs:
            diffs.append(("%s %s" % (stream, what), "ours %r, tshark %r" % (mine, theirs)))

    tcp_streams = sorted({c["tcp_stream"] for c in chs} | {s["tcp_stream"] for s in shs})
    for st in tcp_streams:
        f = streams.get(st)
        if f is None:
            diffs.append(("%s stream" % st, "tcp stream not in the oracle's flows"))
            continue
        k = endpoint_key(f["a_addr"], f["a_port"], f["b_addr"], f["b_port"])
        mine = by_ep.get(k, [])
        if len(mine) != 1:
            diffs.append(("%s records" % st, "%d netscope.tls records for the stream, want 1"
                          % len(mine)))
            if not mine:
                continue
        r = mine[0]
        c = next((x for x in chs if x["tcp_stream"] == st), None)
        fe = flow_ends.get(k)
        if fe is not None:  # item 7: the flow record carries the app fields
            d(st, "flow network.protocol", get(fe, "network.protocol"), "tls")
            d(st, "flow tls.client.server_name", get(fe, "tls.client.server_name"),
              c["sni"] if c else None)
        elif args.flow_driver or args.netscope:
            diffs.append(("%s flow" % st, "no flow_end record for the stream"))
        if c is not None:
            d(st, "sni", get(r, "tls.client.server_name"), c["sni"])
            d(st, "alpn", get(r, "netscope.tls.client.alpn", []), c["alpn"])
            d(st, "legacy_version", get(r, "netscope.tls.client.legacy_version"),
              VERSIONS.get(int(c["handshake_version"], 16)))
            sv = [VERSIONS.get(int(v, 16), v) for v in c["supported_versions"]
                  if not grease(int(v, 16))]
            d(st, "supported_versions", get(r, "netscope.tls.client.supported_versions", []), sv)
            d(st, "ja3", get(r, "tls.client.ja3"), c["ja3"])
            d(st, "ja3_string", get(r, "tls.client.ja3_string"), c["ja3_full"])
            # tshark counts GREASE suites; the JA3 string and ours do not.
            n_ja3 = len([x for x in c["ja3_full"].split(",")[1].split("-") if x])
            d(st, "cipher_count", len(get(r, "tls.client.supported_ciphers", [])), n_ja3)
            if c["cipher_suites_offered"] < n_ja3:
                diffs.append(("%s cipher_count" % st, "oracle inconsistent"))
        s = next((x for x in shs if x["tcp_stream"] == st), None)
        if s is not None:
            v = int(s["selected_version"] or s["handshake_version"], 16)
            d(st, "version", get(r, "tls.version"), VERSIONS.get(v))
            cs = int(s["cipher_suite"], 16)
            d(st, "cipher", get(r, "tls.cipher"), IANA.get(cs, "0x%04x" % cs))
            d(st, "next_protocol", get(r, "tls.next_protocol"), s["alpn"])
            d(st, "ja3s", get(r, "tls.server.ja3s"), s["ja3s"])
            d(st, "ja3s_string", get(r, "tls.server.ja3s_string"), s["ja3s_full"])
        chain = sorted((x for x in certs if x["tcp_stream"] == st), key=lambda x: x["chain_index"])
        mychain = get(r, "netscope.tls.server.chain", []) or []
        d(st, "certificates", len(mychain), len(chain))
        for i, (m, t) in enumerate(zip(mychain, chain)):
            d(st, "cert%d subject" % i, norm_dn(m.get("subject")), t["subject"])
            d(st, "cert%d issuer" % i, norm_dn(m.get("issuer")), t["issuer"])
            d(st, "cert%d serial" % i, m.get("serial_number"), norm_serial(t["serial"]))
            d(st, "cert%d not_before" % i, norm_time(m.get("not_before")),
              norm_time(t["not_before"]))
            d(st, "cert%d not_after" % i, norm_time(m.get("not_after")),
              norm_time(t["not_after"]))
            d(st, "cert%d sans" % i, m.get("alternative_names", []),
              t["san_dns"] + t["san_ip"])
        if chain:
            leaf = chain[0]
            d(st, "x509.subject.common_name",
              get(r, "tls.server.x509.subject.common_name"),
              leaf["subject_cn"][-1] if leaf["subject_cn"] else None)
            d(st, "x509.issuer.common_name", get(r, "tls.server.x509.issuer.common_name"),
              leaf["issuer_cn"][-1] if leaf["issuer_cn"] else None)
    return diffs, len(ours), ours


def upstream_ja4(capture):
    """TCP JA4 values listed by the capture's upstream oracles, with their file."""
    found = []
    for fn, text in upstream_files(capture):
        vals = re.findall(r"\bja4:\s*'?([a-z0-9_]{36})", text)       # suricata-verify yaml
        vals += re.findall(r"\[JA4:\s*([a-z0-9_]{36})\]", text)     # nDPI .out
        vals += re.findall(r'"ja4"\s*:\s*\[\s*"([a-z0-9_]{36})"', text)  # Arkime .test
        for v in vals:
            if v.startswith("t"):
                found.append((fn, v))
    return found


def upstream_fields(capture):
    """Other TLS values the capture's upstream oracles list: (file, field, value),
    field one of subject, issuer, serial, not_before, not_after, version, cipher,
    ja3, ja3s, ja3_string, ja3s_string."""
    out = []
    for fn, text in upstream_files(capture):
        if fn.endswith(".yaml"):  # suricata-verify eve.json matches
            for key, field in (("tls.subject", "subject"), ("tls.issuerdn", "issuer"),
                               ("tls.serial", "serial"), ("tls.notbefore", "not_before"),
                               ("tls.notafter", "not_after"), ("tls.version", "version")):
                for v in re.findall(r"^[ \t]*%s:[ \t]*'?([^'\n]+?)'?[ \t]*$" % re.escape(key),
                                    text, re.M):
                    out.append((fn, field, v))
        elif fn.endswith(".out"):  # nDPI flow lines
            for field, rx in (("issuer", r"\[Issuer: ([^\]]+)\]"),
                              ("subject", r"\[Subject: ([^\]]+)\]"),
                              ("cipher", r"\[Cipher: ([^\]]+)\]"),
                              ("ja3", r"\[JA3C: ([0-9a-f]{32})\]"),
                              ("ja3s", r"\[JA3S: ([0-9a-f]{32})\]"),
                              ("version", r"\[(TLSv1\.[0-3])\]")):
                out += [(fn, field, v) for v in re.findall(rx, text)]
            for a, b in re.findall(r"\[Validity: (\S+ \S+) - (\S+ \S+)\]", text):
                out += [(fn, "not_before", a), (fn, "not_after", b)]
        elif fn.endswith(".test"):  # Arkime session JSON
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            for sess in doc.get("sessions3", []):
                t = (sess.get("body") or sess).get("tls") or {}
                for key, field in (("cipher", "cipher"), ("ja3", "ja3"), ("ja3s", "ja3s"),
                                   ("ja3string", "ja3_string"), ("ja3sstring", "ja3s_string"),
                                   ("version", "version")):
                    out += [(fn, field, v) for v in t.get(key, [])]
    return out


def our_field(r, field):
    if field in ("subject", "issuer", "serial", "not_before", "not_after"):
        chain = get(r, "netscope.tls.server.chain", []) or [{}]
        leaf = chain[0]
        if field == "serial":
            return leaf.get("serial_number")
        if field in ("not_before", "not_after"):
            return norm_time(leaf.get(field))
        return norm_dn(leaf.get(field))
    if field == "version":
        v = get(r, "tls.version")
        return v
    key = {"cipher": "tls.cipher", "ja3": "tls.client.ja3", "ja3s": "tls.server.ja3s",
           "ja3_string": "tls.client.ja3_string", "ja3s_string": "tls.server.ja3s_string"}[field]
    return get(r, key)


def norm_upstream(field, v):
    if field == "serial":
        return norm_serial(v)
    if field in ("not_before", "not_after"):
        return norm_time(v)
    if field == "version":  # "TLS 1.2", "TLSv1.3"
        m = re.search(r"(\d\.\d)$", v)
        return m.group(1) if m else v
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = parse_run_modes(ap)
    ja4_ok = up_ok = 0

    def compare(path, expected):
        """compare_capture, then the upstream oracles in upstream/<stem>/."""
        nonlocal ja4_ok, up_ok
        diffs, n, ours = compare_capture(args, path, expected)
        fn = os.path.basename(path)
        mine_ja4 = {get(r, "tls.client.ja4") for r in ours}
        for src, v in upstream_ja4(path):
            if v in mine_ja4:
                ja4_ok += 1
                print("ja4  %s: %s matches %s" % (fn, v, src))
            else:
                diffs.append(("ja4 %s" % src, "upstream %s not among ours %s"
                              % (v, sorted(x for x in mine_ja4 if x))))
        for src, field, v in upstream_fields(path):
            want = norm_upstream(field, v)
            mine = [our_field(r, field) for r in ours]
            if want in mine:
                up_ok += 1
            else:
                diffs.append(("upstream %s %s" % (src, field),
                              "upstream %r not among ours %r" % (want, mine)))
        return diffs, n

    def select(expected):
        tls = expected.get("tls") or {}
        return any(not c.get("over_quic") for c in tls.get("client_hellos", [])) or \
            any(not s.get("over_quic") for s in tls.get("server_hellos", []))

    def summary(total, exact, acc, verdict):
        return ("%d TLS captures: %d exact, %d with accepted differences, %d upstream JA4 and "
                "%d other upstream values matched, %s"
                % (total, exact, acc, ja4_ok, up_ok, verdict))

    return compare_dirs(args.dirs, args.require, ACCEPTED, select, compare, "records", summary,
                        explain=True)


if __name__ == "__main__":
    sys.exit(main())
