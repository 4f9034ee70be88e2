#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A real Prometheus (Debian's `prometheus`) scrapes NetScope.

NetScope runs source/testgen (1000 packets, then it holds like a live capture) with
its endpoint on a free loopback port; Prometheus is started on another free
loopback port with a scrape configuration for it (1 s interval) and a temporary
TSDB. The test asks Prometheus's HTTP API that the target is up and that
netscope_source_packets_total{node="gen"} is 1000, then stops both.

usage: test_prometheus.py NETSCOPE FIXTURE_PLUGIN_DIR   (exit 77: prometheus missing)
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

NETSCOPE, FIXTURES = sys.argv[1:3]
PROMETHEUS = shutil.which("prometheus")
if not PROMETHEUS:
    print("SKIP: prometheus is not installed (Debian package `prometheus`)")
    sys.exit(77)

TMP = tempfile.mkdtemp(prefix="ns-ops-prom-")
ENV = dict(os.environ, NETSCOPE_PLUGIN_PATH=FIXTURES)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def api(port, path, **params):
    url = "http://127.0.0.1:%d/api/v1/%s" % (port, path)
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    if doc.get("status") != "success":
        raise RuntimeError("%s: %s" % (path, doc))
    return doc["data"]


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except OSError as e:  # not listening yet
            last = e
        time.sleep(0.25)
    raise RuntimeError("timed out waiting for %s (last: %r)" % (what, last))


def main():
    cfg = os.path.join(TMP, "pipeline.yaml")
    with open(cfg, "w") as f:
        f.write("netscope:\n  workers: 2\n  metrics_listen: 127.0.0.1:0\n"
                "pipeline:\n"
                "  gen:\n    plugin: source/testgen\n    packets: 1000\n    flows: 10\n"
                "    hold: true\n"
                "  dec:\n    plugin: decoder/testdec\n"
                "  out:\n    plugin: sink/testsink\n    path: %s\n" % os.path.join(TMP, "o.jsonl"))
    errlog = open(os.path.join(TMP, "netscope.log"), "w+")
    ns = subprocess.Popen([NETSCOPE, "run", "-c", cfg], env=ENV, stdout=subprocess.DEVNULL,
                          stderr=errlog)
    prom = None
    try:
        def ns_port():
            errlog.flush()
            with open(errlog.name) as f:
                m = re.search(r"on http://127\.0\.0\.1:(\d+)", f.read())
            if ns.poll() is not None:
                raise RuntimeError("netscope exited early")
            return int(m.group(1)) if m else None

        port = wait_for("netscope's endpoint", ns_port, 20)
        pport = free_port()
        with open(os.path.join(TMP, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: netscope\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % port)
        prom = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + os.path.join(TMP, "prometheus.yml"),
             "--storage.tsdb.path=" + os.path.join(TMP, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, "prometheus.log"), "w"))

        def target_up():
            if prom.poll() is not None:
                raise RuntimeError("prometheus exited: " +
                                   open(os.path.join(TMP, "prometheus.log")).read())
            for t in api(pport, "targets")["activeTargets"]:
                if t["labels"].get("job") == "netscope" and t["health"] == "up":
                    return t
            return None

        t = wait_for("the netscope target to be up", target_up, 60)
        print("target %s is up (last scrape %s)" % (t["scrapeUrl"], t["lastScrape"]))
        up = api(pport, "query", query='up{job="netscope"}')["result"]
        assert up and up[0]["value"][1] == "1", "up{job=\"netscope\"}: %r" % up

        def packets():
            r = api(pport, "query", query='netscope_source_packets_total{node="gen"}')["result"]
            return r if r and r[0]["value"][1] == "1000" else None

        r = wait_for("netscope_source_packets_total{node=\"gen\"} == 1000", packets, 30)
        print("netscope_source_packets_total%s = %s" % (json.dumps(r[0]["metric"]),
                                                         r[0]["value"][1]))
        info = api(pport, "query", query="netscope_build_info")["result"]
        assert info and info[0]["value"][1] == "1", "netscope_build_info: %r" % info
        meta = api(pport, "metadata", metric="netscope_source_packets_total")
        assert meta["netscope_source_packets_total"][0]["type"] == "counter", meta
        return 0
    finally:
        if prom and prom.poll() is None:
            prom.terminate()
            try:
                prom.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        if ns.poll() is None:
            ns.send_signal(signal.SIGTERM)
        try:
            rc = ns.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ns.kill()
            rc = ns.wait()
        errlog.close()
        if rc != 0:
            print("netscope exit status %s:\n%s" % (rc, open(errlog.name).read()))
        shutil.rmtree(TMP, ignore_errors=True)
        if rc != 0:
            sys.exit(1)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - report any failure
        print("FAIL: %s" % e)
        sys.exit(1)
