#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The operations endpoint of the netscope binary (/metrics, /health, /ready) against
bad clients: malformed and oversized requests, unknown paths and methods, slow
clients (slowloris), a connection flood, a busy port, a bad address in the file.
Also `promtool check metrics` on the exposition, label escaping, and a clean exit.

usage: test_http.py NETSCOPE FIXTURE_PLUGIN_DIR CASE
Runs with the fixture plugins of tests/runtime (source/testgen with hold: true keeps
running like a live capture). Every process is started with a timeout and stopped
by the test; temporary files are removed.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

NETSCOPE, FIXTURES, CASE = sys.argv[1:4]
ENV = dict(os.environ, NETSCOPE_PLUGIN_PATH=FIXTURES)
TMP = tempfile.mkdtemp(prefix="ns-ops-http-")
FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL: " + msg, flush=True)


def pipeline(listen="127.0.0.1:0", gen="    packets: 1000\n    flows: 10\n    hold: true\n",
             name="gen", extra="", dec="", sink=""):
    path = os.path.join(TMP, "p%d.yaml" % len(os.listdir(TMP)))
    listen_line = "" if listen is None else "  metrics_listen: %s\n" % listen
    with open(path, "w") as f:
        f.write("netscope:\n  workers: 2\n%s%s"
                "pipeline:\n  %s:\n    plugin: source/testgen\n%s"
                "  dec:\n    plugin: decoder/testdec\n%s"
                "  out:\n    plugin: sink/testsink\n    path: %s\n%s"
                % (listen_line, extra, name, gen, dec, os.path.join(TMP, "out.jsonl"), sink))
    return path


class Netscope:
    """netscope run in the background; .port is the endpoint's port."""

    def __init__(self, cfg):
        self.err = open(os.path.join(TMP, "stderr-%d.log" % time.monotonic_ns()), "w+")
        self.p = subprocess.Popen([NETSCOPE, "run", "-c", cfg], env=ENV,
                                  stdout=subprocess.DEVNULL, stderr=self.err)
        self.port = None
        self.termed = False  # SIGTERM already sent: a second one would exit at once
        deadline = time.time() + 20
        while time.time() < deadline and self.p.poll() is None:
            m = re.search(r"on http://[0-9.]+:(\d+)", self.log())
            if m and "pipeline running" in self.log():
                self.port = int(m.group(1))
                return
            time.sleep(0.05)
        raise RuntimeError("netscope did not start:\n" + self.log())

    def log(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None and not self.termed:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.err.close()
        return rc


def raw(port, data, timeout=5.0, half_close=False):
    """Send bytes, return everything the server sends until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def status(resp):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", resp)
    return int(m.group(1)) if m else None


def get(port, path, method="GET", timeout=5.0):
    resp = raw(port, ("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method, path)).encode(), timeout)
    head, _, body = resp.partition(b"\r\n\r\n")
    return status(resp), head.decode(errors="replace"), body.decode(errors="replace")


def metric(text, name, labels=None):
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
        if m and m.group(1) == name and (labels is None or m.group(2) == labels):
            return float(m.group(3))
    return None


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# ---- cases -------------------------------------------------------------------------


def case_endpoints():
    ns = Netscope(pipeline())
    try:
        code, head, body = get(ns.port, "/metrics")
        check(code == 200, "/metrics: %s" % code)
        check("Content-Type: text/plain; version=0.0.4; charset=utf-8" in head, head)
        deadline = time.time() + 10
        while metric(body, "netscope_source_packets_total", '{node="gen"}') != 1000 \
                and time.time() < deadline:
            time.sleep(0.1)
            body = get(ns.port, "/metrics")[2]
        check(metric(body, "netscope_source_packets_total", '{node="gen"}') == 1000,
              "netscope_source_packets_total{node=\"gen\"} is not 1000")
        check(re.search(r'^netscope_build_info\{version="[^"]+",abi="\d+\.\d+",schema="1"\} 1$',
                        body, re.M) is not None, "build_info")
        for fam in ("netscope_ring_depth", "netscope_ring_capacity", "netscope_ready",
                    "netscope_reloads_total", "netscope_last_reload_success",
                    "netscope_start_time_seconds", "netscope_node_records_in_total"):
            check("# TYPE %s " % fam in body, "no family " + fam)
        check(metric(body, "netscope_ring_capacity", '{from="gen",to="worker-0"}') is not None,
              "no ring_capacity for gen -> worker-0")
        # Every family: HELP then TYPE, then only its own samples.
        fam = None
        for line in body.splitlines():
            if line.startswith("# HELP "):
                fam = line.split()[2]
            elif line.startswith("# TYPE "):
                check(line.split()[2] == fam, "TYPE without its HELP: " + line)
            else:
                check(line.split("{")[0].split(" ")[0] == fam, "sample outside its family: " + line)
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                               capture_output=True, timeout=60)
            check(p.returncode == 0, "promtool check metrics: %s %s" % (p.stdout, p.stderr))
        else:
            print("promtool not installed: exposition not checked by promtool")
        code, _, body = get(ns.port, "/health")
        check(code == 200 and body == "ok\n", "/health: %s %r" % (code, body))
        code, _, body = get(ns.port, "/ready")
        check(code == 200 and body == "ready\n", "/ready: %s %r" % (code, body))
        code, head, body = get(ns.port, "/metrics", method="HEAD")
        check(code == 200 and body == "" and "Content-Length: " in head, "HEAD: %s %r" % (code, body))
        code, _, _ = get(ns.port, "/metrics?x=1")
        check(code == 200, "query string: %s" % code)
        # SIGHUP with the same valid file: counted as a good reload.
        ns.p.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            body = get(ns.port, "/metrics")[2]
            if metric(body, "netscope_reloads_total", '{result="ok"}') == 1:
                break
            time.sleep(0.1)
        check(metric(body, "netscope_reloads_total", '{result="ok"}') == 1, "reload not counted")
    finally:
        rc = ns.stop()
    check(rc == 0, "exit status %s after SIGTERM:\n%s" % (rc, ns.log()))
    try:
        socket.create_connection(("127.0.0.1", ns.port), timeout=1).close()
        check(False, "the port is still open after exit")
    except OSError:
        pass


def case_bad_requests():
    ns = Netscope(pipeline())
    try:
        p = ns.port
        check(status(raw(p, b"GARBAGE\r\n\r\n")) == 400, "garbage: not 400")
        check(status(raw(p, b"GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n")) == 400,
              "bad header line: not 400")
        check(status(raw(p, b"GET /metrics HTTP/9.9\r\n\r\n")) == 400, "HTTP/9.9: not 400")
        check(status(raw(p, b"\x00\x01\x02\xff\r\n\r\n")) == 400, "binary: not 400")
        check(status(raw(p, b"GET metrics HTTP/1.1\r\n\r\n")) == 400, "relative target: not 400")
        code, _, _ = get(p, "/nope")
        check(code == 404, "/nope: %s" % code)
        code, head, _ = get(p, "/metrics", method="POST")
        check(code == 405 and "Allow: GET, HEAD" in head, "POST: %s" % code)
        code, _, _ = get(p, "/metrics", method="DELETE")
        check(code == 405, "DELETE: %s" % code)
        code, _, _ = get(p, "/" + "a" * 5000)
        check(code == 414, "5000-byte URL: %s" % code)
        big = b"GET /metrics HTTP/1.1\r\n" + b"".join(
            b"X-Filler-%d: %s\r\n" % (i, b"v" * 100) for i in range(200)) + b"\r\n"
        check(status(raw(p, big)) == 431, "20 KB of headers: not 431")
        check(status(raw(p, b"GET /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")) == 413,
              "Content-Length 100000: not 413")
        chunked = (b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   b"800\r\n" + b"x" * 2048 + b"\r\n0\r\n\r\n")
        check(status(raw(p, chunked)) == 413, "2 KiB chunked body: not 413")
        # An HTTP/1.0 request and an absolute-form target are fine.
        check(status(raw(p, b"GET /health HTTP/1.0\r\n\r\n")) == 200, "HTTP/1.0: not 200")
        check(status(raw(p, b"GET http://x/health HTTP/1.1\r\nHost: x\r\n\r\n")) == 200,
              "absolute-form target: not 200")
        # Two requests on one connection: one answer, then the connection closes.
        two = raw(p, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\n\r\n")
        check(two.count(b"HTTP/1.1 200") == 1, "pipelined requests: %r" % two[:200])
        code, _, body = get(p, "/metrics")
        check(code == 200, "after bad requests: /metrics %s" % code)
        check(metric(body, "netscope_http_responses_total", '{code="400"}') >= 5,
              "400s not counted")
        check(ns.p.poll() is None, "netscope died")
    finally:
        rc = ns.stop()
    check(rc == 0, "exit status %s:\n%s" % (rc, ns.log()))


def case_slowloris():
    # Packets keep flowing (one per 2 ms) so the pipeline's progress can be seen.
    ns = Netscope(pipeline(gen="    packets: 100000000\n    flows: 10\n    interval: 2ms\n"))
    slow = []
    try:
        body = get(ns.port, "/metrics")[2]
        before = metric(body, "netscope_source_packets_total", '{node="gen"}')
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", ns.port), timeout=10)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHo")
            slow.append(s)
        t0 = time.time()
        code, _, body = get(ns.port, "/metrics", timeout=3)
        check(code == 200 and time.time() - t0 < 1.0,
              "a normal request behind 10 slow clients: %s after %.2fs" % (code, time.time() - t0))
        time.sleep(0.5)
        after = metric(get(ns.port, "/metrics")[2], "netscope_source_packets_total", '{node="gen"}')
        check(after is not None and before is not None and after > before,
              "the pipeline did not progress (%s -> %s)" % (before, after))
        # The server ends the slow requests after its request timeout (5 s).
        t0 = time.time()
        for s in slow:
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        check(time.time() - t0 < 8, "slow clients held for %.1fs" % (time.time() - t0))
        body = get(ns.port, "/metrics")[2]
        check(metric(body, "netscope_http_timeouts_total") >= 10, "timeouts not counted")
    finally:
        for s in slow:
            s.close()
        rc = ns.stop()
    check(rc == 0, "exit status %s:\n%s" % (rc, ns.log()))


def case_flood():
    ns = Netscope(pipeline(gen="    packets: 100000000\n    flows: 10\n    interval: 2ms\n"))
    conns = []
    try:
        base = fd_count(ns.p.pid)
        before = metric(get(ns.port, "/metrics")[2], "netscope_source_packets_total",
                        '{node="gen"}')
        for _ in range(400):
            try:
                conns.append(socket.create_connection(("127.0.0.1", ns.port), timeout=5))
            except OSError:
                break
        time.sleep(0.5)
        fds = fd_count(ns.p.pid)
        check(fds <= base + 70, "open descriptors grew from %d to %d under a flood" % (base, fds))
        t0 = time.time()
        code, _, body = get(ns.port, "/metrics", timeout=3)
        check(code == 200 and time.time() - t0 < 1.0,
              "a request during the flood: %s after %.2fs" % (code, time.time() - t0))
        ev = metric(body, "netscope_http_connections_evicted_total") or 0
        rej = metric(body, "netscope_http_connections_rejected_total") or 0
        check(ev + rej >= 300, "evicted %s + rejected %s < 300" % (ev, rej))
        after = metric(body, "netscope_source_packets_total", '{node="gen"}')
        check(after is not None and before is not None and after > before,
              "the pipeline did not progress during the flood (%s -> %s)" % (before, after))
    finally:
        for s in conns:
            s.close()
        rc = ns.stop()
    check(rc == 0, "exit status %s:\n%s" % (rc, ns.log()))


def case_ready_during_drain():
    # A slow sink (100 ms per batch of 256 records, 20000 records) makes the drain
    # last seconds: meanwhile /ready says 503 and why, /health stays 200, /metrics
    # still answers. (This fixture sink sleeps on the loop thread, so every answer
    # waits for it: slow, but it must come.)
    ns = Netscope(pipeline(gen="    packets: 20000\n    flows: 10\n    hold: true\n",
                           dec="    per_packet: true\n", sink="    delay: 100ms\n"))
    try:
        code, _, body = get(ns.port, "/ready")
        check(code == 200, "/ready before the drain: %s %r" % (code, body))
        ns.p.send_signal(signal.SIGTERM)
        ns.termed = True
        deadline = time.time() + 5
        while "draining" not in ns.log() and time.time() < deadline:
            time.sleep(0.05)
        code, _, body = get(ns.port, "/ready")
        check(code == 503 and body == "not ready: the pipeline is stopping (draining)\n",
              "/ready during the drain: %s %r" % (code, body))
        code, _, body = get(ns.port, "/health")
        check(code == 200, "/health during the drain: %s" % code)
        body = get(ns.port, "/metrics")[2]
        check(metric(body, "netscope_ready") == 0, "netscope_ready is not 0 during the drain")
    finally:
        rc = ns.stop()
    check(rc == 0, "exit status %s:\n%s" % (rc, ns.log()))


def case_random_requests():
    # Mutated and random requests (fixed seed): every one gets an answer or a
    # close, never a crash (the suite runs under ASan/UBSan), and the endpoint
    # still serves afterwards.
    import random
    rnd = random.Random(6)
    seeds = [b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
             b"HEAD /ready HTTP/1.0\r\n\r\n",
             b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
             b"GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"]
    ns = Netscope(pipeline())
    try:
        for i in range(400):
            b = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 8)):
                op = rnd.randint(0, 3)
                pos = rnd.randrange(len(b) + 1)
                if op == 0 and b:
                    b[min(pos, len(b) - 1)] = rnd.randrange(256)
                elif op == 1:
                    b[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
                elif op == 2:
                    del b[pos:pos + rnd.randint(1, 16)]
                else:
                    b[pos:pos] = b[:rnd.randint(0, len(b))]
            if i % 50 == 0:
                b = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3000)))
            try:
                # half-closed: an incomplete request ends at once, not after 5 s
                resp = raw(ns.port, bytes(b), timeout=10, half_close=True)
            except OSError:
                resp = b""
            code = status(resp)
            check(code in (None, 200, 400, 404, 405, 413, 414, 431), "case %d: %r" % (i, resp[:80]))
            check(ns.p.poll() is None, "netscope died on %r" % bytes(b)[:200])
            if ns.p.poll() is not None:
                break
        code, _, _ = get(ns.port, "/metrics")
        check(code == 200, "/metrics after random requests: %s" % code)
    finally:
        rc = ns.stop()
    check(rc == 0, "exit status %s:\n%s" % (rc, ns.log()))


def case_sd_notify():
    # Type=notify without systemd: a datagram socket as NOTIFY_SOCKET receives
    # READY=1 once the pipeline runs, RELOADING=1 then READY=1 around SIGHUP,
    # STOPPING=1 on SIGTERM. Skipped (passes) when built without libsystemd.
    path = os.path.join(TMP, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    global ENV
    saved = ENV
    ENV = dict(ENV, NOTIFY_SOCKET=path)
    try:
        ns = Netscope(pipeline())
    finally:
        ENV = saved
    msgs = []

    def expect(what):
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                m = sock.recv(4096).decode()
            except socket.timeout:
                break
            msgs.append(m)
            if what in m.split("\n"):
                return True
        return False

    try:
        if not expect("READY=1"):
            print("SKIP: no READY=1 on NOTIFY_SOCKET (built without libsystemd?): %r" % msgs)
            return
        ns.p.send_signal(signal.SIGHUP)
        check(expect("RELOADING=1"), "no RELOADING=1 after SIGHUP: %r" % msgs)
        check(expect("READY=1"), "no READY=1 after the reload: %r" % msgs)
        ns.p.send_signal(signal.SIGTERM)
        ns.termed = True
        check(expect("STOPPING=1"), "no STOPPING=1 after SIGTERM: %r" % msgs)
    finally:
        rc = ns.stop()
        sock.close()
    check(rc == 0, "exit status %s:\n%s" % (rc, ns.log()))
    print("notifications: %r" % msgs)


def case_port_in_use():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        p = subprocess.run([NETSCOPE, "run", "-c", pipeline(listen="127.0.0.1:%d" % port)],
                           env=ENV, capture_output=True, text=True, timeout=30)
        check(p.returncode == 1, "port in use: exit %s" % p.returncode)
        want = "cannot serve metrics (netscope: metrics_listen): 127.0.0.1:%d: cannot listen: " \
               "address already in use" % port
        check(want in p.stderr, "message: %r" % p.stderr)
        check("pipeline running" not in p.stderr, "the pipeline started anyway")
        # The built-in default, when busy, is skipped with a warning instead
        # (another netscope may be running on this host).
        d = socket.socket()
        d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ours = True
        try:
            d.bind(("127.0.0.1", 9109))
            d.listen(1)
        except OSError:
            ours = False  # already taken by someone else (another netscope): just as busy
        try:
            p = subprocess.run([NETSCOPE, "run", "-c",
                                pipeline(listen=None, gen="    packets: 100\n")],
                               env=ENV, capture_output=True, text=True, timeout=30)
        finally:
            d.close()
        # When someone else held the port, they may have let it go in the meantime.
        check(p.returncode == 0 and ("metrics endpoint off: 127.0.0.1:9109" in p.stderr or
                                     (not ours and "on http://127.0.0.1:9109" in p.stderr)),
              "busy default: exit %s %r" % (p.returncode, p.stderr))
    finally:
        s.close()


def case_bad_listen_config():
    for bad, why in (("nowhere", "is not host:port"), ("127.0.0.1:99999", "65535"),
                     ("example.com:80", "not a numeric IPv4"), ("[::1:80", "[IPv6]:port")):
        cfg = pipeline(listen='"%s"' % bad)
        p = subprocess.run([NETSCOPE, "check-config", cfg], env=ENV, capture_output=True,
                           text=True, timeout=30)
        check(p.returncode == 1 and re.match(r"%s:3:\d+: error: netscope: 'metrics_listen': "
                                             % re.escape(cfg), p.stderr) and why in p.stderr,
              "%s: %s %r" % (bad, p.returncode, p.stderr))
    cfg = pipeline(listen='""', gen="    packets: 100\n")
    p = subprocess.run([NETSCOPE, "run", "-c", cfg], env=ENV, capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0 and "serving /metrics" not in p.stderr and "metrics" not in p.stderr,
          "metrics_listen \"\": %s %r" % (p.returncode, p.stderr))


def case_label_escaping():
    # A node name with a quote, a backslash and non-ASCII text is escaped in labels.
    ns = Netscope(pipeline(name="'g\"e\\\\n-é'"))
    try:
        body = get(ns.port, "/metrics")[2]
        # YAML single quotes keep both backslashes; each is escaped as \\.
        check('node="g\\"e\\\\\\\\n-é"' in body, "escaped node label not found:\n" + body[:3000])
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                               capture_output=True, timeout=60)
            check(p.returncode == 0, "promtool: %s %s" % (p.stdout, p.stderr))
    finally:
        rc = ns.stop()
    check(rc == 0, "exit status %s:\n%s" % (rc, ns.log()))


CASES = {n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")}

if __name__ == "__main__":
    try:
        if CASE not in CASES:
            print("unknown case %s (%s)" % (CASE, " ".join(CASES)))
            sys.exit(2)
        CASES[CASE]()
    except Exception as e:  # noqa: BLE001 - any failure fails the case
        FAILURES.append(repr(e))
        print("FAIL: %r" % e)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%s: %s" % (CASE, "ok" if not FAILURES else "%d failure(s)" % len(FAILURES)))
    sys.exit(1 if FAILURES else 0)
