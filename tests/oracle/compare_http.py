#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""compare_http.py - check decoder/http against tshark's HTTP oracle.

Runs tests/flow/flow_app_driver (the real decoder/flow and decoder/http .so
files on the fake host; one worker, no idle expiry, every flow ends at the end
of the capture) over every capture in the given directories whose oracle
expected/<stem>.json has HTTP messages, and compares per capture, as
multisets:

  * requests: method, Host (url.domain, plus url.port when the Host names one),
    request-target (url.original), version, User-Agent;
  * responses: status code, version, media type (tshark's Content-Type without
    parameters, as http.response.mime_type is defined).

A transaction record carries both a request and a response; a record with only
one counts for that one. Every difference is fixed in the decoder or listed in
ACCEPTED with the reason; an accepted difference that no longer occurs is
reported as stale and fails.

Usage: compare_http.py --driver BIN|netscope:BIN --plugin-dir DIR [--require] DIR [DIR...]
Exit 0 when all match or are accepted, 1 otherwise, 77 when no capture with
HTTP was found (ctest skip). Python 3 standard library only.
"""
import collections
import sys

from oracle_common import get, messages_main, run_driver_arg

# (capture, difference label) -> reason. "*" as label: every difference.
ACCEPTED = {
    ("http-tcp-retransmissions.pcap", "missing ('response', 200, 'HTTP/1.1', 'text/html')"):
        "Frames 42 and 86 are retransmissions (tshark's own tcp.analysis flags them) of "
        "responses already seen in frames 41 and 85; tshark dissects the resent bytes "
        "again and lists 6 responses for 4 requests. NetScope reassembles the stream, "
        "drops the resent bytes (reassembly_overlaps_total) and reports each response "
        "once: 4 transactions.",
}


def mime(ct):
    if ct is None:
        return None
    return ct.split(";")[0].strip() or None


def compare_capture(path, expected, driver, plugin_dir):
    recs = [r for r in run_driver_arg(driver, plugin_dir, path, "http")
            if get(r, "event.dataset") == "netscope.http"]
    mine_req, mine_resp = collections.Counter(), collections.Counter()
    for r in recs:
        ver = "HTTP/" + str(get(r, "http.version"))
        if get(r, "http.request.method") is not None:
            host = get(r, "url.domain")
            if host is not None and get(r, "url.port") is not None:
                host = "%s:%s" % (host, get(r, "url.port"))
            mine_req[("request", get(r, "http.request.method"), host, get(r, "url.original"),
                      ver, get(r, "user_agent.original"))] += 1
        if get(r, "http.response.status_code") is not None:
            mine_resp[("response", get(r, "http.response.status_code"), ver,
                       get(r, "http.response.mime_type"))] += 1
    exp_req, exp_resp = collections.Counter(), collections.Counter()
    for m in expected["http"]["messages"]:
        if m["type"] == "request":
            exp_req[("request", m["method"], m.get("host"), m.get("uri"), m.get("version"),
                     m.get("user_agent"))] += 1
        elif m["type"] == "response":
            exp_resp[("response", m.get("status"), m.get("version"),
                      mime(m.get("content_type")))] += 1
    diffs = []
    for mine, exp in ((mine_req, exp_req), (mine_resp, exp_resp)):
        for k in sorted(set(mine) | set(exp), key=str):
            if exp[k] > mine[k]:
                diffs.append(("missing %s" % (k,), "%d in tshark, %d here" % (exp[k], mine[k])))
            elif mine[k] > exp[k]:
                diffs.append(("extra %s" % (k,), "%d here, %d in tshark" % (mine[k], exp[k])))
    return diffs, sum(exp_req.values()) + sum(exp_resp.values())


def main():
    return messages_main("http", "HTTP", ACCEPTED, compare_capture)

if __name__ == "__main__":
    sys.exit(main())
