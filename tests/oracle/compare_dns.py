#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""compare_dns.py - check decoder/dns against tshark's DNS oracle.

Runs tests/flow/flow_app_driver (the real decoder/flow and decoder/dns .so
files on the fake host; one worker, no idle expiry, so every flow ends once,
at the end of the capture) over every capture in the given directories whose
oracle expected/<stem>.json has DNS messages, and compares message by message:

  * every query tshark saw must be in a netscope.dns record (a transaction or
    an unanswered query) with the same client/server address and port, id,
    question name and type;
  * every response tshark saw must be in a record with dns.type "answer" with
    the same endpoints, id, question, response code and answer section (name,
    type, TTL and data of each answer, as a multiset);

and nothing else may be reported. Data is compared in NetScope's text form
(README of decoder/dns): MX "pref exchange", SOA "mname rname serial refresh
retry expire minimum", SRV "prio weight port target", TXT strings joined,
other types "\\# len hex" (RFC 3597). Not differences, by construction: an
answer whose data tshark shows as '<Name too long>' must have no data here
(NetScope drops it and sets netscope.dns.malformed: dns-malformed); rendered
data is compared on its first 1000 characters (NetScope bounds it at 1023).

Every difference is fixed in the decoder or listed in ACCEPTED with the reason;
an accepted difference that no longer occurs is reported as stale and fails.

Usage: compare_dns.py --driver BIN|netscope:BIN --plugin-dir DIR [--require] DIR [DIR...]
Exit 0 when all match or are accepted, 1 otherwise, 77 when no capture with
DNS was found (ctest skip). Python 3 standard library only.
"""
import collections
import sys

from oracle_common import get, messages_main, run_driver_arg

# (capture, difference label) -> reason. "*" as label: every difference.
ACCEPTED = {
    # dns-ipv6-fragmented.pcap's TXT response travels in three IPv6 fragments:
    # decoder/flow reassembles them (ip_reassembly) and decoder/dns sees the
    # datagram, as tshark does; it is no longer a difference.
}

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "NULL": 10, "PTR": 12, "HINFO": 13, "MX": 15,
         "TXT": 16, "AAAA": 28, "SRV": 33, "NAPTR": 35, "DNAME": 39, "OPT": 41, "DS": 43,
         "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50, "SVCB": 64, "HTTPS": 65,
         "SPF": 99, "AXFR": 252, "ANY": 255, "CAA": 257}
RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
          "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI"]


def type_num(t):
    if t in TYPES:
        return TYPES[t]
    if t.startswith("TYPE"):
        return int(t[4:])
    return t


def rcode_num(r):
    if r in RCODES:
        return RCODES.index(r)
    if r == "BADVERS":
        return 16
    if r.startswith("RCODE"):
        return int(r[5:])
    return r


def unescape(n):
    """NetScope's presentation form (\\DDD, \\.) back to bytes, then text the way
    tshark shows label bytes (UTF-8, invalid bytes replaced)."""
    out = bytearray()
    i = 0
    while i < len(n):
        c = n[i]
        if c == "\\" and i + 3 < len(n) + 0 and n[i + 1:i + 4].isdigit():
            out.append(int(n[i + 1:i + 4]))
            i += 4
        elif c == "\\" and i + 1 < len(n):
            out += n[i + 1].encode()
            i += 2
        else:
            out += c.encode()
            i += 1
    return out.decode("utf-8", "replace")


def name_norm(n, ours=False):
    """Names compare case-insensitively. Label bytes outside ASCII (iodine's
    tunnel names) are dropped on both sides: tshark shows them as UTF-8 with
    invalid sequences replaced by U+FFFD (GLib's policy, which differs from
    Python's in how many replacement characters a run becomes), NetScope as
    \\DDD escapes; the ASCII rest must match."""
    if n in ("<Root>", "", "."):
        return "."
    if ours:
        n = unescape(n)
    return "".join(ch for ch in n if ord(ch) < 0x80).lower()


def oracle_data(rr):
    """The oracle's data fields in NetScope's text form (None: not compared)."""
    f = collections.OrderedDict()
    vals = collections.defaultdict(list)
    for x in rr.get("data") or []:
        f.setdefault(x["field"], x["value"])
        vals[x["field"]].append(x["value"])
    t = rr["type"]
    if any(v == "<Name too long>" for v in f.values()):
        return "<bad>"
    simple = {1: "dns.a", 28: "dns.aaaa", 5: "dns.cname", 2: "dns.ns", 12: "dns.ptr"}
    if t in simple:
        return f.get(simple[t], "").lower() if t in (5, 2, 12) else f.get(simple[t])
    if t == 15:
        return "%s %s" % (f.get("dns.mx.preference"), f.get("dns.mx.mail_exchange", "").lower())
    if t == 16:
        return "".join(vals.get("dns.txt", []))
    if t == 6:
        return "%s %s %s %s %s %s %s" % (
            f.get("dns.soa.mname", "").lower(), f.get("dns.soa.rname", "").lower(),
            f.get("dns.soa.serial_number"), f.get("dns.soa.refresh_interval"),
            f.get("dns.soa.retry_interval"), f.get("dns.soa.expire_limit"),
            f.get("dns.soa.minimum_ttl"))
    if t == 33:
        return "%s %s %s %s" % (f.get("dns.srv.priority"), f.get("dns.srv.weight"),
                                f.get("dns.srv.port"), f.get("dns.srv.target", "").lower())
    if t == 10 and "dns.null" in f:
        h = f["dns.null"].replace(":", "")
        return "\\# %d %s" % (len(h) // 2, h) if h else "\\# 0"
    return None


COMPARED = {1, 2, 5, 6, 10, 12, 15, 16, 28, 33}


def our_data(a):
    d = a.get("data")
    t = type_num(a.get("type"))
    if t not in COMPARED:
        return None  # the oracle does not render it in our form
    if d is None:
        return "<bad>"
    if t in (5, 2, 12):
        return d.lower()
    if t in (15, 6, 33):
        return d.lower()
    return d


def ep(ip, port):
    return "%s:%s" % (ip.lower(), port)


def compare_capture(path, expected, driver, plugin_dir):
    recs = run_driver_arg(driver, plugin_dir, path, "dns", [("query_timeout", "0s")])
    dns = [r for r in recs if get(r, "event.dataset") == "netscope.dns"]
    mine_q, mine_r = collections.Counter(), collections.Counter()
    for r in dns:
        cli = ep(get(r, "source.ip"), get(r, "source.port"))
        srv = ep(get(r, "destination.ip"), get(r, "destination.port"))
        q = (get(r, "network.transport"), cli, srv, get(r, "dns.id"),
             name_norm(get(r, "dns.question.name", ""), True),
             type_num(get(r, "dns.question.type", "")))
        act = get(r, "event.action")
        if act in ("dns_transaction", "dns_unanswered"):
            mine_q[q] += 1
        if get(r, "dns.type") == "answer":
            ans = tuple(sorted(((name_norm(a.get("name", ""), True), type_num(a.get("type")),
                                 a.get("ttl"), our_data(a)) for a in get(r, "dns.answers", [])),
                               key=str))
            mine_r[q + (rcode_num(get(r, "dns.response_code", "")), ans)] += 1
    exp_q, exp_r = collections.Counter(), collections.Counter()
    # Rendered data is bounded (DNS_DATA_TEXT, 1023 characters): compare the
    # first 1000 (iodine's NULL records reach 2400 hex digits).
    mine_r = collections.Counter({k[:-1] + (tuple((n, t, ttl, d[:1000] if d else d)
                                                  for n, t, ttl, d in k[-1]),): v
                                  for k, v in mine_r.items()})
    for m in expected["dns"]["messages"]:
        if not m.get("qname") and m.get("qdcount", 0) == 0:
            continue
        if m["response"]:
            cli, srv = ep(m["dst"], m["dport"]), ep(m["src"], m["sport"])
        else:
            cli, srv = ep(m["src"], m["sport"]), ep(m["dst"], m["dport"])
        q = (m["transport"], cli, srv, m["id"], name_norm(m.get("qname") or ""), m.get("qtype"))
        if not m["response"]:
            exp_q[q] += 1
            continue
        ans = []
        for rr in m.get("answers", []):
            d = oracle_data(rr)
            ans.append((name_norm(rr["name"]), rr["type"], rr["ttl"], d[:1000] if d else d))
        exp_r[q + (m.get("rcode"), tuple(sorted(ans, key=str)))] += 1
    diffs = []
    # The Public Suffix split (tshark has none): its parts must rebuild the
    # question name (lower case, no trailing dot), the registered domain must
    # end with the top level domain, and a name without a registered domain
    # must be a suffix itself.
    for r in dns:
        tld = get(r, "dns.question.top_level_domain")
        if tld is None:
            continue
        name = get(r, "dns.question.name", "").lower()
        if name.endswith(".") and name != ".":
            name = name[:-1]
        reg = get(r, "dns.question.registered_domain")
        sub = get(r, "dns.question.subdomain")
        if reg is None:
            ok = tld == name and sub is None
        else:
            ok = (reg.endswith("." + tld) and
                  name == (sub + "." + reg if sub is not None else reg))
        if not ok:
            diffs.append(("bad public suffix split of %r" % name,
                          "registered %r tld %r subdomain %r" % (reg, tld, sub)))
    for k in sorted(set(exp_q) | set(mine_q), key=str):
        if exp_q[k] > mine_q[k]:
            diffs.append(("missing query %s id %s q=%s/%s" % (k[2], k[3], k[4], k[5]),
                          "%d in tshark, %d here" % (exp_q[k], mine_q[k])))
        elif mine_q[k] > exp_q[k]:
            diffs.append(("extra query %s id %s q=%s/%s" % (k[2], k[3], k[4], k[5]),
                          "%d here, %d in tshark" % (mine_q[k], exp_q[k])))
    for k in sorted(set(exp_r) | set(mine_r), key=str):
        if exp_r[k] > mine_r[k]:
            diffs.append(("missing response %s id %s q=%s/%s" % (k[2], k[3], k[4], k[5]),
                          "rcode %s answers %s" % (k[6], list(k[7]))))
        elif mine_r[k] > exp_r[k]:
            diffs.append(("extra response %s id %s q=%s/%s" % (k[2], k[3], k[4], k[5]),
                          "rcode %s answers %s" % (k[6], list(k[7]))))
    return diffs, sum(exp_q.values()) + sum(exp_r.values())


def main():
    return messages_main("dns", "DNS", ACCEPTED, compare_capture)

if __name__ == "__main__":
    sys.exit(main())
