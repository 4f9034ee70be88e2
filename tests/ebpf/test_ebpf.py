#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""eBPF sources against the kernel's own numbers, in network namespaces.

Each case builds two namespaces joined by a veth pair (unique names per run),
runs the netscope binary with source/ebpf_tcp (root namespace: tracepoints are
global, records are filtered on the test's netns cookies) or source/ebpf_flow
(inside the receiving namespace, TC on its veth), makes traffic of known sizes
and compares:
  tcp_v4, tcp_v6  bytes sent/received per connection = the sizes; PID and
                  command = the test's client; srtt positive and plausible
                  (the v4 server listens dual-stack: v4-mapped addresses)
  tcp_retrans     random loss on the receiver's ingress (TC-BPF, no netem):
                  retransmitted segments = nstat TcpRetransSegs of the sender's
                  namespace, read after close
  tcp_prom        the per-connection Prometheus series on /metrics: during a
                  transfer (connection open, after an export interval) and
                  after close (kept for the grace period) the bytes series of
                  both ends equal the sizes; promtool check metrics parses it
  flow_counts     ebpf_flow skbs/bytes = the veth's statistics deltas; a UDP
                  burst of N datagrams = N packets; TCP wire packets >= skbs
  flow_stale      a killed run's TC filters are removed by the next start, and
                  nothing is left after stop
  degrade         no capabilities, or no kernel BTF: one clear error line, and
                  optional: true keeps the rest of the pipeline running
The namespaces are always deleted (try/finally). Not root, or no BPF: exit 77
(ctest SKIP) with the reason.

usage: test_ebpf.py NETSCOPE PLUGIN_DIR BPF_DIR SAMPLE_PCAP CASE
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import urllib.request
import sys
import tempfile
import time

NETSCOPE, PLUGINS, BPFDIR, SAMPLE, CASE = sys.argv[1:6]
SKIP = 77
TMP = tempfile.mkdtemp(prefix="ns-ebpf-")
ENV = dict(os.environ, NETSCOPE_PLUGIN_PATH=PLUGINS)
TAG = "%x" % (os.getpid() & 0xFFFF)
NS_A, NS_B = "nse%sa" % TAG, "nse%sb" % TAG
V4A, V4B = "10.%d.%d.1" % (200 + os.getpid() % 50, os.getpid() % 250), None
V4B = V4A[:-1] + "2"
V6A, V6B = "fd00:%s::1" % TAG, "fd00:%s::2" % TAG


def sh(cmd, check=True, **kw):
    r = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (cmd, r.returncode, r.stderr.strip()))
    return r


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


def preconditions():
    if os.geteuid() != 0:
        skip("needs root (network namespaces, BPF)")
    so = "ns-source-ebpf_flow.so" if CASE.startswith("flow") else "ns-source-ebpf_tcp.so"
    if not os.path.exists(os.path.join(PLUGINS, so)):
        skip("%s was not built (no clang/bpftool/BTF/libbpf)" % so)
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        skip("no kernel BTF (/sys/kernel/btf/vmlinux)")
    if sh("ip netns list", check=False).returncode != 0:
        skip("iproute2 cannot manage network namespaces here")
    # Entering a namespace needs a mount namespace whose / can be made a slave
    # (not so in a chroot whose root is not a mount point): probe it once.
    probe = "nsprobe%d" % os.getpid()
    try:
        ok = (sh(["ip", "netns", "add", probe], check=False).returncode == 0 and
              sh(["ip", "-n", probe, "link", "set", "lo", "up"], check=False).returncode == 0)
    finally:
        sh(["ip", "netns", "del", probe], check=False)
    if not ok:
        skip("cannot enter network namespaces here (ip -n fails: a chroot without its own "
             "mount point for /?)")


# ---- topology ---------------------------------------------------------------

def topo_up():
    sh(["ip", "netns", "add", NS_A])
    sh(["ip", "netns", "add", NS_B])
    sh(["ip", "link", "add", "vfa", "netns", NS_A, "type", "veth", "peer", "name", "vfb",
        "netns", NS_B])
    for ns, dev, v4, v6 in ((NS_A, "vfa", V4A, V6A), (NS_B, "vfb", V4B, V6B)):
        sh(["ip", "-n", ns, "addr", "add", v4 + "/24", "dev", dev])
        sh(["ip", "-n", ns, "addr", "add", v6 + "/64", "dev", dev, "nodad"])
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        sh(["ip", "-n", ns, "link", "set", dev, "up"])
    # Static neighbours: no ARP/ND traffic in the middle of a measurement.
    mac = {}
    for ns, dev in ((NS_A, "vfa"), (NS_B, "vfb")):
        mac[dev] = sh(["ip", "netns", "exec", ns, "cat", "/sys/class/net/%s/address" % dev]
                      ).stdout.strip()
    for ns, dev, peer, v4, v6 in ((NS_A, "vfa", "vfb", V4B, V6B), (NS_B, "vfb", "vfa", V4A, V6A)):
        sh(["ip", "-n", ns, "neigh", "replace", v4, "lladdr", mac[peer], "dev", dev, "nud",
            "permanent"])
        sh(["ip", "-n", ns, "neigh", "replace", v6, "lladdr", mac[peer], "dev", dev, "nud",
            "permanent"])


def topo_down():
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def cookie(ns):
    code = ("import socket; s = socket.socket(); "
            "print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), 'little'))")
    return int(sh(["ip", "netns", "exec", ns, sys.executable, "-c", code]).stdout)


def nstat(ns, name):
    out = sh(["ip", "netns", "exec", ns, "nstat", "-a", "-z", "-s", name]).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == name:
            return int(parts[1])
    raise RuntimeError("nstat has no %s: %s" % (name, out))


def ifstat(ns, dev):
    base = "/sys/class/net/%s/statistics/" % dev
    code = ("import sys; b = sys.argv[1]; print(' '.join(open(b + f).read().strip() for f in "
            "('rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes')))")
    v = sh(["ip", "netns", "exec", ns, sys.executable, "-c", code, base]).stdout.split()
    return dict(zip(("rx_packets", "rx_bytes", "tx_packets", "tx_bytes"), map(int, v)))


# ---- traffic ----------------------------------------------------------------

SERVER = r"""
import socket, sys
fam, addr, port, reply = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET6 if fam == '6' else socket.AF_INET)
if fam == '6':
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # dual-stack: v4-mapped peers
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(4)
print('ready', flush=True)
c, _ = s.accept()
n = 0
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    n += len(d)
c.sendall(b'r' * reply)
c.close()
print('got', n, flush=True)
"""

CLIENT = r"""
import os, socket, sys
addr, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.create_connection((addr, port))
buf = b'x' * (1 << 16)
left = size
while left:
    left -= c.send(buf[:min(left, len(buf))])
c.shutdown(socket.SHUT_WR)
n = 0
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    n += len(d)
c.close()
print(os.getpid(), open('/proc/self/comm').read().strip(), n, flush=True)
"""


def transfer(dst, port, size, reply, server_fam):
    """One connection A -> B: `size` bytes up, `reply` bytes down. Returns
    (client pid, client comm, bytes the client received)."""
    srv = subprocess.Popen(["ip", "netns", "exec", NS_B, sys.executable, "-c", SERVER,
                            server_fam, "::" if server_fam == "6" else "0.0.0.0", str(port),
                            str(reply)], stdout=subprocess.PIPE, text=True)
    try:
        if srv.stdout.readline().strip() != "ready":
            raise RuntimeError("server did not start")
        out = sh(["ip", "netns", "exec", NS_A, sys.executable, "-c", CLIENT, dst, str(port),
                  str(size)], timeout=120).stdout.split()
        got = srv.stdout.readline().split()
        srv.wait(timeout=30)
        if got != ["got", str(size)]:
            raise RuntimeError("server received %s, expected %d" % (got, size))
        return int(out[0]), out[1], int(out[2])
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


CLIENT_PAUSE = r"""
import socket, sys
addr, port, first, second = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = socket.create_connection((addr, port))
c.sendall(b'x' * first)
print('sent', c.getsockname()[1], flush=True)
sys.stdin.readline()
c.sendall(b'y' * second)
c.shutdown(socket.SHUT_WR)
n = 0
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    n += len(d)
c.close()
print('done', n, flush=True)
"""


# ---- netscope ---------------------------------------------------------------

class Netscope:
    def __init__(self, yaml, netns=None, prefix=()):
        self.cfg = os.path.join(TMP, "pipeline-%d.yaml" % time.monotonic_ns())
        with open(self.cfg, "w") as f:
            f.write(yaml)
        self.err_path = self.cfg + ".err"
        self.err = open(self.err_path, "w")
        cmd = list(prefix) + [NETSCOPE, "run", "-c", self.cfg, "--stats"]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err, env=ENV)

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_for(self, pattern, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if re.search(pattern, self.stderr()):
                return
            if self.p.poll() is not None:
                raise RuntimeError("netscope exited (%d):\n%s" % (self.p.returncode, self.stderr()))
            time.sleep(0.05)
        raise RuntimeError("netscope never logged %r:\n%s" % (pattern, self.stderr()))

    def stop(self, timeout=60):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise RuntimeError("netscope did not stop:\n" + self.stderr())
        self.err.close()
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def records(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def counter(stderr, name, labels=""):
    """Sum of a counter in the --stats summary whose labels contain `labels`."""
    total = 0
    for line in stderr.splitlines():
        m = re.search(r"\s(\w+)\{([^}]*)\}\s+(\d+)\s*$", line)
        if m and m.group(1) == name and labels in m.group(2):
            total += int(m.group(3))
    return total


def tcp_pipeline(out, extra=""):
    return ("netscope:\n  log_level: info\n"
            "pipeline:\n"
            "  tcp:\n    plugin: source/ebpf_tcp\n    interval: 1s\n    poll_interval: 50ms\n"
            + extra +
            "  out:\n    plugin: sink/jsonl\n    path: %s\n" % out)


def closes(recs, ck):
    return [r for r in recs if r["event"]["action"] == "tcp_close"
            and r["netscope"]["tcp"]["netns_cookie"] == ck]


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok: " + what)


# ---- cases ------------------------------------------------------------------

def case_tcp(fam):
    size, reply = 3_000_017, 123_457
    dst = V4B if fam == "4" else V6B
    ca, cb = cookie(NS_A), cookie(NS_B)
    out = os.path.join(TMP, "tcp.jsonl")
    ns = Netscope(tcp_pipeline(out))
    try:
        ns.wait_for("attached to tcp tracepoints")
        pid, comm, got = transfer(dst, 5201, size, reply, "6")  # dual-stack listener
        check(got == reply, "client received %d bytes" % reply)
        time.sleep(0.5)
    finally:
        rc = ns.stop()
    check(rc == 0, "netscope exit status 0")
    recs = records(out)
    cli, srv = closes(recs, ca), closes(recs, cb)
    check(len(cli) == 1 and len(srv) == 1,
          "one tcp_close per end (client %d, server %d)" % (len(cli), len(srv)))
    c, s = cli[0], srv[0]
    ct, st = c["netscope"]["tcp"], s["netscope"]["tcp"]
    check(ct["bytes_sent"] == size and ct["bytes_received"] == reply,
          "client bytes sent/received %d/%d = %d/%d" % (ct["bytes_sent"], ct["bytes_received"],
                                                        size, reply))
    check(st["bytes_received"] == size and st["bytes_sent"] == reply,
          "server bytes received/sent %d/%d = %d/%d" % (st["bytes_received"], st["bytes_sent"],
                                                        size, reply))
    check(c["source"]["bytes"] == size and c["destination"]["bytes"] == reply,
          "source.bytes/destination.bytes follow the client's view")
    check(ct["role"] == "client" and st["role"] == "server", "roles client/server")
    check(c["process"]["pid"] == pid and c["process"]["name"] == comm,
          "client process %d %s = %s %s" % (pid, comm, c["process"]["pid"], c["process"]["name"]))
    want_type = "ipv4" if fam == "4" else "ipv6"
    check(c["network"]["type"] == want_type and s["network"]["type"] == want_type,
          "network.type %s at both ends (server v4-mapped normalised)" % want_type)
    check(c["destination"]["ip"] == dst and s["source"]["ip"] == dst
          and c["source"]["port"] == s["destination"]["port"]
          and c["destination"]["port"] == 5201 == s["source"]["port"],
          "addresses and ports match across both ends")
    for name, t in (("client", ct), ("server", st)):
        srtt = t.get("srtt_ns", 0)
        check(0 < srtt < 1_000_000_000, "%s srtt %d ns positive and < 1 s" % (name, srtt))
    check(ct.get("rtt_samples", 0) > 0 and 0 < ct["rtt_avg_ns"] < 1_000_000_000,
          "client rtt_avg_ns %d over %d samples" % (ct.get("rtt_avg_ns", 0),
                                                   ct.get("rtt_samples", 0)))
    conn = [r for r in recs if r["event"]["action"] == "tcp_connect"
            and r["netscope"]["tcp"]["netns_cookie"] == ca]
    check(len(conn) == 1 and conn[0]["process"]["pid"] == pid, "tcp_connect with the client PID")


def case_retrans():
    size = 40_000_000
    drop = os.path.join(BPFDIR, "ns_test_drop.bpf.o")
    ca = cookie(NS_A)
    out = os.path.join(TMP, "retrans.jsonl")
    sh(["tc", "-n", NS_B, "qdisc", "add", "dev", "vfb", "clsact"])
    sh(["tc", "-n", NS_B, "filter", "add", "dev", "vfb", "ingress", "bpf", "direct-action",
        "obj", drop, "sec", "tc"])
    ns = Netscope(tcp_pipeline(out, "    events: true\n"))
    try:
        ns.wait_for("attached to tcp tracepoints")
        before = nstat(NS_A, "TcpRetransSegs")
        transfer(V4B, 5202, size, 10, "4")
        time.sleep(0.5)
        after = nstat(NS_A, "TcpRetransSegs")  # after close
    finally:
        rc = ns.stop()
    check(rc == 0, "netscope exit status 0")
    recs = records(out)
    cli = closes(recs, ca)
    check(len(cli) == 1, "one tcp_close for the client")
    segs = cli[0]["netscope"]["tcp"]["retransmissions"]
    ev = sum(r["netscope"]["tcp"]["retransmitted_segments"] for r in recs
             if r["event"]["action"] == "tcp_retransmit"
             and r["netscope"]["tcp"]["netns_cookie"] == ca)
    kernel = after - before
    print("retransmitted segments: connection %d, events %d, nstat TcpRetransSegs %d" %
          (segs, ev, kernel))
    check(kernel > 0, "the loss caused retransmissions")
    check(segs == kernel, "connection retransmissions %d = TcpRetransSegs %d" % (segs, kernel))
    check(ev == kernel, "retransmit events %d = TcpRetransSegs %d" % (ev, kernel))
    rb = counter(ns.stderr(), "source_ebpf_tcp_ringbuf_full_total")
    check(rb == 0, "no ring-buffer overflow")


FLOW_PIPELINE = """netscope:
  log_level: info
pipeline:
  flow:
    plugin: source/ebpf_flow
    interfaces: [vfb]
    interval: 1s
  out:
    plugin: sink/jsonl
    path: %s
"""

UDP = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])):
    s.sendto(b'u' * 100, (sys.argv[1], int(sys.argv[2])))
"""


def case_flow():
    out = os.path.join(TMP, "flow.jsonl")
    n_udp = 1000
    # IPv6 off on this link: router solicitations and MLD reports would come
    # at random times, outside the window of the interface counter reads.
    for n, dev in ((NS_A, "vfa"), (NS_B, "vfb")):
        sh(["ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev])
    ns = Netscope(FLOW_PIPELINE % out, netns=NS_B)
    try:
        ns.wait_for("attached to 1 interface")
        time.sleep(0.2)
        before = ifstat(NS_B, "vfb")
        # Linux counts retransmitted segments in TcpRetransSegs, not in TcpOutSegs
        # (a loaded machine can provoke a few): the wire carries both.
        def sent(n):
            return nstat(n, "TcpOutSegs") + nstat(n, "TcpRetransSegs")
        segs0 = sent(NS_A), sent(NS_B)
        transfer(V4B, 5203, 5_000_000, 1000, "4")
        segs1 = sent(NS_A), sent(NS_B)
        sh(["ip", "netns", "exec", NS_A, sys.executable, "-c", UDP, V4B, "9999", str(n_udp)])
        time.sleep(0.3)
        after = ifstat(NS_B, "vfb")
    finally:
        rc = ns.stop()
    check(rc == 0, "netscope exit status 0")
    err = ns.stderr()
    recs = [r for r in records(out) if r["event"]["dataset"] == "netscope.flow"]
    ends = [r for r in recs if r["event"]["action"] == "flow_end"]
    # Sum of the final records: each flow ends once (shutdown at the latest).
    f = lambda key: sum(r["netscope"]["flow"][key] for r in ends)
    oth_in = counter(err, "source_ebpf_flow_other_skbs_total", 'direction="ingress"')
    oth_out = counter(err, "source_ebpf_flow_other_skbs_total", 'direction="egress"')
    d = {k: after[k] - before[k] for k in after}
    print("interface deltas %s; flows: ingress skbs %d, egress skbs %d, other %d/%d" %
          (d, f("ingress_skbs"), f("skbs") - f("ingress_skbs"), oth_in, oth_out))
    # Interface counters ran over a shorter window than the attachment, and
    # nothing else uses this veth: the flow counts can only be equal.
    check(f("ingress_skbs") + oth_in == d["rx_packets"],
          "ingress skbs %d = rx_packets %d" % (f("ingress_skbs") + oth_in, d["rx_packets"]))
    check(f("skbs") - f("ingress_skbs") + oth_out == d["tx_packets"],
          "egress skbs = tx_packets %d" % d["tx_packets"])
    if oth_in == 0:
        check(f("ingress_skb_bytes") == d["rx_bytes"],
              "ingress bytes %d = rx_bytes %d" % (f("ingress_skb_bytes"), d["rx_bytes"]))
    udp = [r for r in ends if r["network"].get("transport") == "udp"
           and r["destination"].get("port") == 9999]
    check(len(udp) == 1 and udp[0]["source"]["packets"] == n_udp
          and udp[0]["source"]["bytes"] == n_udp * (14 + 20 + 8 + 100),
          "UDP burst: %d packets of 142 bytes" % n_udp)
    tcp = [r for r in ends if r["network"].get("transport") == "tcp"
           and r["destination"].get("port") == 5203]
    check(len(tcp) == 1, "one TCP flow")
    t = tcp[0]
    check(t["source"]["ip"] == V4A and t["netscope"]["flow"]["source_tcp_flags"].startswith("S"),
          "initiator is the client (SYN sender)")
    check(t["network"]["packets"] >= t["netscope"]["flow"]["skbs"],
          "wire packets %d >= skbs %d (GSO segments)" % (t["network"]["packets"],
                                                        t["netscope"]["flow"]["skbs"]))
    check(t["source"]["bytes"] > 5_000_000, "client bytes on the wire > payload")
    # GSO segments as wire packets: exactly the segments TCP sent (new + retransmitted).
    out_a, out_b = segs1[0] - segs0[0], segs1[1] - segs0[1]
    check(t["source"]["packets"] == out_a and t["destination"]["packets"] == out_b,
          "wire packets %d/%d = TcpOutSegs+TcpRetransSegs of client/server %d/%d" %
          (t["source"]["packets"], t["destination"]["packets"], out_a, out_b))
    check(t.get("network", {}).get("community_id", "").startswith("1:"), "community_id")
    # The attachment is gone after stop.
    show = sh(["tc", "-n", NS_B, "filter", "show", "dev", "vfb", "ingress"]).stdout
    check("ns_flow" not in show, "TC filters removed on stop")


def case_flow_stale():
    out = os.path.join(TMP, "stale.jsonl")
    ns = Netscope(FLOW_PIPELINE % out, netns=NS_B)
    try:
        ns.wait_for("attached to 1 interface")
    finally:
        ns.kill()  # a crash: SIGKILL, no stop()
    show = lambda: sh(["tc", "-n", NS_B, "filter", "show", "dev", "vfb", "ingress"]).stdout
    check("ns_flow" in show(), "a killed run leaves its TC filter behind")
    ns = Netscope(FLOW_PIPELINE % out, netns=NS_B)
    try:
        ns.wait_for("attached to 1 interface")
    finally:
        rc = ns.stop()
    err = ns.stderr()
    check(rc == 0, "netscope exit status 0")
    check(err.count("removing a stale") == 2, "stale ingress and egress filters removed at start")
    check("ns_flow" not in show(), "no filter left after stop")
    eg = sh(["tc", "-n", NS_B, "filter", "show", "dev", "vfb", "egress"]).stdout
    check("ns_flow" not in eg, "no egress filter left after stop")


def case_degrade():
    out = os.path.join(TMP, "degrade.jsonl")
    base = ("netscope:\n  log_level: info\npipeline:\n"
            "  tcp:\n    plugin: source/ebpf_tcp\n%s"
            "  cap:\n    plugin: source/pcap\n    file: %s\n"
            "  flows:\n    plugin: decoder/flow\n"
            "  out:\n    plugin: sink/jsonl\n    path: %s\n    from: [tcp, flows]\n")
    nocaps = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]
    ns = Netscope(base % ("    optional: true\n", SAMPLE, out), prefix=nocaps)
    rc = ns.stop(timeout=60) if ns.p.wait(timeout=60) is None else ns.p.returncode
    err = ns.stderr()
    errors = [l for l in err.splitlines() if " error " in l or "error:" in l]
    print("\n".join(errors))
    check(rc == 0, "optional eBPF node: exit status 0 (%s)" % rc)
    check(any("missing privileges" in l and "CAP_BPF" in l for l in errors),
          "one clear error naming the missing privileges")
    mine = [l for l in errors if "ebpf_tcp" in l and "init failed" not in l]
    check(len(mine) == 1, "exactly one error line from the plugin (plus the core's 'init failed')")
    flows = [r for r in records(out) if r["event"]["dataset"] == "netscope.flow"]
    check(len(flows) > 0, "the other source kept running (%d flow records)" % len(flows))
    # No kernel BTF: a private mount namespace hides /sys/kernel/btf.
    nobtf = ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs none /sys/kernel/btf && exec "$@"', "sh"]
    if sh(nobtf + ["true"], check=False).returncode != 0:
        print("skip: no-BTF check: cannot hide /sys/kernel/btf in a private mount namespace here")
        return
    ns3 = Netscope(base % ("    optional: true\n", SAMPLE, out), prefix=nobtf)
    ns3.p.wait(timeout=60)
    ns3.err.close()
    err = ns3.stderr()
    check(ns3.p.returncode == 0, "no BTF, optional: exit status 0")
    check(any("kernel BTF is missing" in l for l in err.splitlines()),
          "one clear error naming the missing BTF")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def series(text, metric, **labels):
    """Values of the samples of `metric` whose labels include `labels`."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{(.*)\} (\d+)$", line)
        if not m or m.group(1) != metric:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        if all(have.get(k) == str(v) for k, v in labels.items()):
            out.append(int(m.group(3)))
    return out


def case_tcp_prom():
    first, second, reply = 1_000_003, 2_000_029, 77_777
    port = free_port()
    node = "prom-node-%s" % TAG
    out = os.path.join(TMP, "prom.jsonl")
    yaml = tcp_pipeline(out).replace(
        "netscope:\n", "netscope:\n  metrics_listen: 127.0.0.1:%d\n  hostname: %s\n"
        "  metrics_series_grace: 60s\n" % (port, node), 1)
    ns = Netscope(yaml)
    srv = None
    cli = None
    fam = "network_observability_tcp_bytes_%s_total"
    try:
        ns.wait_for("attached to tcp tracepoints")
        srv = subprocess.Popen(["ip", "netns", "exec", NS_B, sys.executable, "-c", SERVER, "6",
                                "::", "5202", str(reply)], stdout=subprocess.PIPE, text=True)
        check(srv.stdout.readline().strip() == "ready", "server ready")
        cli = subprocess.Popen(["ip", "netns", "exec", NS_A, sys.executable, "-c", CLIENT_PAUSE,
                                V4B, "5202", str(first), str(second)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        line = cli.stdout.readline().split()
        check(line[:1] == ["sent"], "client connected and sent %d bytes" % first)
        cport = int(line[1])
        c_lab = dict(node=node, src_ip=V4A, dst_ip=V4B, src_port=cport, dst_port=5202)
        s_lab = dict(node=node, src_ip=V4B, dst_ip=V4A, src_port=5202, dst_port=cport)
        # During: the connection is open; an export pass (interval 1s) sets its series.
        deadline = time.monotonic() + 10
        while True:
            text = scrape(port)
            got = (series(text, fam % "sent", **c_lab), series(text, fam % "recv", **s_lab))
            if got == ([first], [first]) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        check(got == ([first], [first]),
              "open connection: client bytes_sent %s, server bytes_recv %s = [%d]"
              % (got[0], got[1], first))
        cli.stdin.write("go\n")
        cli.stdin.flush()
        done = cli.stdout.readline().split()
        cli.wait(timeout=60)
        check(done == ["done", str(reply)], "client received %d bytes" % reply)
        check(srv.stdout.readline().split() == ["got", str(first + second)],
              "server received %d bytes" % (first + second))
        srv.wait(timeout=30)
        time.sleep(0.5)  # the close events: poll_interval 50ms
        text = scrape(port)
        total = first + second
        for what, lab, want in (("client sent", c_lab, ("sent", total)),
                                ("client recv", c_lab, ("recv", reply)),
                                ("server sent", s_lab, ("sent", reply)),
                                ("server recv", s_lab, ("recv", total))):
            v = series(text, fam % want[0], **lab)
            check(v == [want[1]], "closed connection, %s: %s = [%d] (kept for the grace period)"
                  % (what, v, want[1]))
        for f in ("network_observability_tcp_retransmissions_total",
                  "network_observability_tcp_rtt_samples_total",
                  "network_observability_tcp_drops_total",
                  "network_observability_events_retrans_total",
                  "network_observability_events_drops_total"):
            check(len(series(text, f, **c_lab)) == 1, "%s present for the client" % f)
        rtt = series(text, "network_observability_tcp_rtt_avg_nanoseconds", **c_lab)
        check(len(rtt) == 1 and 0 < rtt[0] < 1_000_000_000, "client rtt_avg %s ns plausible" % rtt)
        check(text.count("# TYPE network_observability_tcp_bytes_sent_total counter") == 1,
              "one TYPE line per family")
        check(series(text, "netscope_metrics_series_dropped_total",
                     family="network_observability_tcp_bytes_sent_total") == [0],
              "netscope_metrics_series_dropped_total present, 0")
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)
            problems = [l for l in (p.stdout + p.stderr).splitlines() if l.strip()]
            # The product's name ..._rtt_avg_nanoseconds trips promtool's base-unit lint
            # (exit 3); anything else, and any parse error (exit 1), fails.
            other = [l for l in problems if 'instead of "nanoseconds"' not in l]
            check(p.returncode in (0, 3) and not other,
                  "promtool check metrics: exit %d, %s" % (p.returncode, problems))
        else:
            print("promtool not installed: exposition not checked by promtool")
    finally:
        for p in (cli, srv):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        rc = ns.stop()
    check(rc == 0, "netscope exit status 0")


def main():
    preconditions()
    cases = {"tcp_v4": lambda: case_tcp("4"), "tcp_v6": lambda: case_tcp("6"),
             "tcp_retrans": case_retrans, "tcp_prom": case_tcp_prom, "flow_counts": case_flow, "flow_stale": case_flow_stale, "degrade": case_degrade}
    if CASE not in cases:
        print("unknown case " + CASE)
        return 2
    try:
        if CASE != "degrade":
            topo_up()
        cases[CASE]()
    except Exception as e:  # noqa: BLE001 - report any failure as the test's
        print("FAIL %s: %s" % (CASE, e))
        return 1
    finally:
        topo_down()
    print("PASS " + CASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
