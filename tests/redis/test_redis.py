#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sink/redis and source/redis against a real redis-server (Debian's), started by
this test on 127.0.0.1 at a free port with its own directory and always stopped.
Every record carries event.sequence, so the cases count exactly:

 (a) every record of a capture arrives, in order, with the documented fields
     (compared with sink/jsonl fed by the same pipeline);
 (b) Redis is killed (SIGKILL) in the middle of a run and restarted: nothing is
     lost, order is kept, counters agree (Redis persists with AOF fsync always
     here, so what it acknowledged survives its own death);
 (c) NetScope is killed (SIGKILL) while spooling and restarted: every spooled
     record (read from the segment files by this script) is replayed, in order;
 (d) the spool fills up: the gap entry appears with the right count and range;
 (e) source/redis reads with a consumer group, acknowledges, and reclaims the
     entries of a dead consumer;
 (f) a wrong password, a key of the wrong type (WRONGTYPE) and an OOM reply are
     each logged once with the reason, counted, and the pipeline keeps running.

usage: test_redis.py NETSCOPE FIXTURE_PLUGIN_DIR PLUGIN_DIR SAMPLE_PCAP
"""
import glob
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

NETSCOPE, FIXTURES, PLUGINS, SAMPLE = sys.argv[1:5]
ENV = dict(os.environ, NETSCOPE_PLUGIN_PATH=f"{FIXTURES}:{PLUGINS}")
TMP = tempfile.mkdtemp(prefix="ns-redis-")
SERVERS = []
results = []


# ---- redis-server and a minimal RESP client ------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RedisError(Exception):
    pass


class Client:
    def __init__(self, port, password=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        if password:
            self.cmd("AUTH", password)

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RedisError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "surrogateescape")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ValueError(f"bad reply {line!r}")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        r = self._reply()
        if isinstance(r, RedisError):
            raise r
        return r


class Redis:
    """One redis-server: its own port and directory; stop() always kills it."""

    def __init__(self, port=None, extra=(), name="redis"):
        self.port = port or free_port()
        self.dir = os.path.join(TMP, f"{name}-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.extra = list(extra)
        self.proc = None
        self.password = None
        for i, a in enumerate(self.extra):
            if a == "--requirepass":
                self.password = self.extra[i + 1]
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                "--logfile", os.path.join(self.dir, "redis.log")] + self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        SERVERS.append(self)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                c = Client(self.port, self.password)
                c.cmd("PING")
                c.close()
                return
            except (OSError, RedisError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def client(self):
        return Client(self.port, self.password)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    stop = kill


def stop_all():
    for s in SERVERS:
        try:
            s.kill()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


# ---- netscope ---------------------------------------------------------------------

def _metrics_off():
    """`metrics_listen: ""` when this build has it (the operations endpoint
    must not collide between the runs of this test)."""
    path = os.path.join(TMP, "probe.yaml")
    with open(path, "w") as f:
        f.write('netscope:\n  metrics_listen: ""\npipeline:\n  g:\n    plugin: source/testgen\n'
                '  o:\n    plugin: sink/testsink\n    path: /dev/null\n')
    p = subprocess.run([NETSCOPE, "check-config", path], env=ENV, capture_output=True, text=True)
    return '  metrics_listen: ""\n' if p.returncode == 0 else ""


METRICS_OFF = None


def write_cfg(name, text, settings=""):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(f"netscope:\n  log_level: info\n{METRICS_OFF}{settings}pipeline:\n{text}")
    return path


def gen_pipeline(sink, packets, flows=16, extra_gen="", interval=None, hold=False):
    gen = f"  gen:\n    plugin: source/testgen\n    packets: {packets}\n    flows: {flows}\n"
    if interval:
        gen += f"    interval: {interval}\n"
    if hold:
        gen += "    hold: true\n"
    return (gen + extra_gen + "  dec:\n    plugin: decoder/testdec\n    per_packet: true\n"
            + "  out:\n    plugin: sink/redis\n" + sink)


def run(cfg, *args, timeout=120):
    return subprocess.run([NETSCOPE, "run", "-c", cfg, "--stats", *args], env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def start(cfg, *args):
    return subprocess.Popen([NETSCOPE, "run", "-c", cfg, "--stats", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stats(stderr, name, labels=None):
    """Sum a counter from the --stats summary (optionally only lines with labels)."""
    total = 0
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        key = parts[-2]
        if key.split("{")[0] == name and (labels is None or labels in key):
            total += int(parts[-1])
    return total


def entries(client, stream):
    """Every entry of a stream as (id, dict)."""
    out = []
    start_id = "-"
    while True:
        page = client.cmd("XRANGE", stream, start_id, "+", "COUNT", 5000)
        if not page:
            return out
        for eid, fields in page:
            out.append((eid, dict(zip(fields[0::2], fields[1::2]))))
        ms, sq = page[-1][0].split("-")
        start_id = f"{ms}-{int(sq) + 1}"


def seqs_of(ents, dataset=None):
    out = []
    for _, f in ents:
        if f.get("type") == "gap":
            continue
        if dataset and f.get("dataset") != dataset:
            continue
        out.append(int(f["seq"]))
    return out


def case(fn):
    t0 = time.time()
    try:
        fn()
        results.append((fn.__name__, None))
        print(f"ok   {fn.__name__} ({time.time() - t0:.1f}s)", flush=True)
    except Exception as e:  # noqa: BLE001 - report any failure
        results.append((fn.__name__, e))
        print(f"FAIL {fn.__name__} ({time.time() - t0:.1f}s): {e!r}", flush=True)
    finally:
        stop_all()
        SERVERS.clear()


# ---- spool files, read independently of the C code ----------------------------------

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def spool_seqs(spool_dir):
    """Sequence numbers of the valid frames of every segment, in replay order."""
    out = []
    for path in sorted(glob.glob(os.path.join(spool_dir, "seg-*.nss"))):
        data = open(path, "rb").read()
        if data[:8] != b"NSSPOOL1":
            continue
        off = 16
        while off + 12 <= len(data):
            magic, ln, crc = struct.unpack_from("<III", data, off)
            if magic != 0x3152534E or off + 12 + ln > len(data):
                break
            payload = data[off + 12:off + 12 + ln]
            if crc32c(payload) == crc:
                out.append(struct.unpack_from("<Q", payload, 4)[0])
            off += 12 + ln
    return out


# ---- the cases ------------------------------------------------------------------------

def test_a_capture_arrives_in_order_with_fields():
    r = Redis()
    admin = r.client()
    # An ACL user and a database other than 0: AUTH user password, SELECT.
    admin.cmd("ACL", "SETUSER", "agent", "on", ">agentpw", "~*", "&*", "+@all")
    admin.close()
    out = os.path.join(TMP, "a.jsonl")
    cfg = write_cfg("a.yaml",
                    f"  capture:\n    plugin: source/pcap\n    file: {SAMPLE}\n"
                    "  flows:\n    plugin: decoder/flow\n"
                    f"  file:\n    plugin: sink/jsonl\n    path: {out}\n    from: flows\n"
                    f"  redis:\n    plugin: sink/redis\n    from: flows\n    port: {r.port}\n"
                    "    batch_size: 64\n    username: agent\n    password: agentpw\n    db: 2\n",
                    settings="  hostname: agent-a\n")
    p = run(cfg)
    assert p.returncode == 0, p.stderr
    want = [json.loads(l) for l in open(out) if l.strip()]
    assert len(want) > 10, "the sample produced too few records"
    assert "agentpw" not in p.stderr, "the password was logged"
    c = r.client()
    assert c.cmd("DBSIZE") == 0, "written to database 0"
    c.cmd("SELECT", 2)
    streams = {"netscope.flow": "netscope:flows", "netscope.arp": "netscope:arp",
               "netscope.device": "netscope:devices"}
    got = {}
    for ds, stream in streams.items():
        ents = entries(c, stream)
        s = seqs_of(ents)
        assert s == sorted(s), f"{stream}: out of order"
        assert len(s) == len(set(s)), f"{stream}: duplicates"
        for eid, f in ents:
            got[int(f["seq"])] = (stream, f)
    assert len(got) == len(want), f"{len(got)} entries in Redis, {len(want)} records written"
    for rec in want:
        seq = rec["event"]["sequence"]
        stream, f = got[seq]
        ds = rec["event"]["dataset"]
        assert stream == streams[ds], f"seq {seq} ({ds}) in {stream}"
        assert json.loads(f["json"]) == rec, f"seq {seq}: json differs"
        assert f["dataset"] == ds and f["type"] == ds.split(".")[1]
        assert f["schema"] == "1" and f["observer"] == "agent-a"
        assert int(f["time_ns"]) // 1000 > 0
        if "source" in rec and "ip" in rec["source"]:
            assert f["src_ip"] == rec["source"]["ip"], (f, rec)
        if "destination" in rec and "port" in rec["destination"]:
            assert int(f["dst_port"]) == rec["destination"]["port"]
    assert stats(p.stderr, "sink_redis_delivered_total") == len(want)
    assert stats(p.stderr, "sink_redis_dropped_total") == 0
    c.close()


def test_b_redis_killed_and_restarted():
    r = Redis(extra=["--appendonly", "yes", "--appendfsync", "always"], name="b")
    packets, flows = 6000, 16
    spool = os.path.join(TMP, "b-spool")
    cfg = write_cfg("b.yaml", gen_pipeline(
        f"    port: {r.port}\n    spool_dir: {spool}\n    buffer_size: 32KiB\n"
        "    spool_segment_size: 64KiB\n    backoff_min: 20ms\n    backoff_max: 200ms\n"
        "    batch_size: 32\n    drain_timeout: 30s\n",
        packets, flows, interval="500us"), settings="  workers: 1\n")
    p = start(cfg)
    time.sleep(1.0)
    c = r.client()
    before = c.cmd("XLEN", "netscope:other")
    c.close()
    r.kill(signal.SIGKILL)
    time.sleep(1.5)
    r.start()  # same port and directory: the AOF brings back what was acknowledged
    _, err = p.communicate(timeout=90)
    assert p.returncode == 0, err
    c = r.client()
    ents = entries(c, "netscope:other")
    s = seqs_of(ents)
    total = packets + flows
    assert 0 < before < total, f"the kill was not in the middle ({before} of {total})"
    assert set(s) == set(range(1, total + 1)), \
        f"lost: {sorted(set(range(1, total + 1)) - set(s))[:10]}"
    first = []
    seen = set()
    for x in s:
        if x not in seen:
            seen.add(x)
            first.append(x)
    assert first == sorted(first), "order not kept"
    # Each record is acknowledged once; an XADD that Redis applied (and
    # persisted) but whose reply died with it is sent again: a duplicate.
    delivered = stats(err, "sink_redis_delivered_total")
    assert delivered == total, f"delivered {delivered} != {total} records"
    assert len(ents) - total == len(s) - len(set(s)) <= 4096, "unexpected duplicates"
    assert stats(err, "sink_redis_reconnects_total") >= 1
    assert stats(err, "sink_redis_dropped_total") == 0
    spooled = stats(err, "sink_redis_spooled_total")
    replayed = stats(err, "sink_redis_replayed_total")
    assert spooled > 0, "the outage did not reach the spool (buffer_size too large?)"
    assert replayed >= spooled, f"spooled {spooled}, replayed {replayed}"
    assert "lost" in err and "reconnected" in err, err
    print(f"     (b) {len(ents)} entries, {len(ents) - total} duplicates, "
          f"spooled {spooled}, replayed {replayed}")
    c.close()


def test_c_netscope_sigkilled_while_spooling():
    port = free_port()  # nothing listens yet
    spool = os.path.join(TMP, "c-spool")
    sink = (f"    port: {port}\n    spool_dir: {spool}\n    buffer_size: 16KiB\n"
            "    spool_segment_size: 32KiB\n    backoff_min: 50ms\n    backoff_max: 100ms\n"
            "    drain_timeout: 30s\n")
    cfg1 = write_cfg("c1.yaml", gen_pipeline(sink, 10000000, 16, interval="100us"),
                     settings="  workers: 1\n  hostname: run1\n")
    p = start(cfg1)
    deadline = time.time() + 20
    while time.time() < deadline and len(glob.glob(os.path.join(spool, "seg-*.nss"))) < 3:
        time.sleep(0.1)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=10)
    spooled = spool_seqs(spool)
    assert len(spooled) > 100, f"only {len(spooled)} records spooled"
    assert spooled == list(range(1, len(spooled) + 1)), "the spool is not the oldest records"
    r = Redis(port=port)
    cfg2 = write_cfg("c2.yaml", gen_pipeline(sink, 0, 16), settings="  hostname: run2\n")
    p2 = run(cfg2)
    assert p2.returncode == 0, p2.stderr
    c = r.client()
    ents = entries(c, "netscope:other")
    got = [int(f["seq"]) for _, f in ents if json.loads(f["json"])["observer"]["hostname"] == "run1"]
    assert got == spooled, f"replayed {len(got)} of {len(spooled)} spooled (in order)"
    assert stats(p2.stderr, "sink_redis_replayed_total") == len(spooled)
    assert "from an earlier run will be replayed" in p2.stderr
    assert not glob.glob(os.path.join(spool, "seg-*.nss")), "delivered segments left behind"
    c.close()


def test_d_spool_full_writes_gap_entry():
    for policy in ("oldest", "newest"):
        spool_full_case(policy)


def spool_full_case(policy):
    port = free_port()
    spool = os.path.join(TMP, f"d-spool-{policy}")
    packets, flows = 3000, 16
    cfg = write_cfg(f"d-{policy}.yaml", gen_pipeline(
        f"    port: {port}\n    spool_dir: {spool}\n    buffer_size: 8KiB\n"
        f"    spool_size: 48KiB\n    spool_segment_size: 8KiB\n    on_spool_full: {policy}\n"
        "    backoff_min: 50ms\n    backoff_max: 100ms\n    drain_timeout: 20s\n",
        packets, flows, hold=True), settings="  workers: 1\n")
    p = start(cfg)
    time.sleep(1.5)  # every record generated; Redis still down: the spool overflowed
    r = Redis(port=port)
    c = r.client()
    deadline = time.time() + 20
    while time.time() < deadline:
        ents = entries(c, "netscope:other")
        if any(f.get("type") == "gap" for _, f in ents) and len(ents) > 100:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    ents = entries(c, "netscope:other")
    gaps = [f for _, f in ents if f.get("type") == "gap"]
    assert len(gaps) == 1, f"{len(gaps)} gap entries"
    g = gaps[0]
    lost = int(g["lost"])
    dropped = stats(err, "sink_redis_dropped_total", 'reason="spool_full"')
    assert lost == dropped > 0, f"gap says {lost}, counter says {dropped}"
    got = seqs_of(ents, "netscope.test")
    lost_range = set(range(int(g["first_seq"]), int(g["last_seq"]) + 1))
    assert len(lost_range) == lost, f"the {policy} records are lost, as one range"
    if policy == "oldest":
        assert int(g["first_seq"]) == 1, g
    else:
        assert int(g["last_seq"]) == packets, g
    assert set(got) | lost_range == set(range(1, packets + 1)), "delivered + lost != emitted"
    assert not (set(got) & lost_range)
    assert got == sorted(got)
    gj = json.loads(g["json"])
    assert gj["event"]["dataset"] == "netscope.gap"
    assert gj["netscope"]["gap"]["lost"] == lost
    assert int(g["first_time_ns"]) <= int(g["last_time_ns"])
    assert stats(err, "sink_redis_gap_entries_total") == 1
    c.close()
    r.kill()


def test_e_consumer_group_reads_acks_and_reclaims():
    r = Redis()
    c = r.client()
    n, dead_n = 300, 50
    for i in range(1, n + 1):
        rec = {"@timestamp": "2024-01-02T03:04:05.000000Z",
               "event": {"dataset": "netscope.flow", "sequence": i},
               "observer": {"hostname": "agent-e"}, "source": {"ip": "10.0.0.1", "port": i}}
        c.cmd("XADD", "hub:in", "*", "type", "flow", "seq", i, "time_ns", 1704164645000000000,
              "json", json.dumps(rec, separators=(",", ":"), sort_keys=True))
    c.cmd("XGROUP", "CREATE", "hub:in", "hub", "0")
    # A consumer that reads and dies without acknowledging.
    c.cmd("XREADGROUP", "GROUP", "hub", "dead", "COUNT", dead_n, "STREAMS", "hub:in", ">")
    time.sleep(0.4)  # older than claim_idle
    out = os.path.join(TMP, "e.jsonl")
    cfg = write_cfg("e.yaml",
                    f"  in:\n    plugin: source/redis\n    port: {r.port}\n    stream: hub:in\n"
                    "    group: hub\n    consumer: alive\n    count: 64\n    block: 100ms\n"
                    "    claim_idle: 300ms\n    claim_interval: 200ms\n    max_pending: 100\n"
                    f"  out:\n    plugin: sink/testsink\n    path: {out}\n")
    p = start(cfg)
    deadline = time.time() + 20
    while time.time() < deadline:
        x = c.cmd("XINFO", "GROUPS", "hub:in")[0]
        g = dict(zip(x[0::2], x[1::2]))
        if g["pending"] == 0 and g.get("lag") == 0:
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    recs = [json.loads(l) for l in open(out) if l.strip()]
    seqs = sorted(x["event"]["sequence"] for x in recs)
    assert seqs == list(range(1, n + 1)), f"{len(seqs)} records, {len(set(seqs))} distinct"
    assert all(x["observer"]["hostname"] == "agent-e" for x in recs)
    assert all(x["netscope"]["redis"]["id"] for x in recs)
    assert c.cmd("XPENDING", "hub:in", "hub")[0] == 0, "entries left unacknowledged"
    assert stats(err, "source_redis_received_total") == n
    assert stats(err, "source_redis_claimed_total") == dead_n
    assert stats(err, "source_redis_acked_total") == n
    consumers = {x[1]: x[3] for x in c.cmd("XINFO", "CONSUMERS", "hub:in", "hub")}
    assert consumers.get("dead") == 0, consumers

    # A restart of the same consumer after a crash: what it had read and not
    # acknowledged is read again first (XREADGROUP ... 0), without XAUTOCLAIM.
    for i in range(n + 1, n + 21):
        rec = {"event": {"dataset": "netscope.flow", "sequence": i}}
        c.cmd("XADD", "hub:in", "*", "type", "flow", "json", json.dumps(rec))
    c.cmd("XREADGROUP", "GROUP", "hub", "alive", "COUNT", 20, "STREAMS", "hub:in", ">")
    out2 = os.path.join(TMP, "e2.jsonl")
    cfg = write_cfg("e2.yaml",
                    f"  in:\n    plugin: source/redis\n    port: {r.port}\n    stream: hub:in\n"
                    "    group: hub\n    consumer: alive\n    count: 7\n    block: 100ms\n"
                    "    claim_idle: 0s\n"
                    f"  out:\n    plugin: sink/testsink\n    path: {out2}\n")
    p = start(cfg)
    deadline = time.time() + 10
    while time.time() < deadline and c.cmd("XPENDING", "hub:in", "hub")[0] != 0:
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    seqs = sorted(json.loads(l)["event"]["sequence"] for l in open(out2) if l.strip())
    assert seqs == list(range(n + 1, n + 21)), seqs
    assert c.cmd("XPENDING", "hub:in", "hub")[0] == 0
    c.close()


def test_f_errors_logged_once_counted_pipeline_runs():
    # Wrong password.
    r = Redis(extra=["--requirepass", "right"])
    cfg = write_cfg("f1.yaml", gen_pipeline(
        f"    port: {r.port}\n    password: wrong\n    backoff_min: 20ms\n"
        "    backoff_max: 50ms\n    drain_timeout: 200ms\n", 100, 4, hold=True))
    p = start(cfg)
    time.sleep(1.5)
    assert p.poll() is None, "the pipeline stopped"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    lines = [l for l in err.splitlines() if "authentication failed" in l]
    assert len(lines) == 1 and "WRONGPASS" in lines[0], err
    assert stats(err, "sink_redis_errors_total", 'reason="auth"') >= 3, "one attempt only?"
    assert "wrong" not in lines[0].split("WRONGPASS")[0], "the password was logged"
    r.kill()

    # WRONGTYPE: netscope:flows is a string; other streams still get everything.
    # (Over a unix socket.)
    sock = os.path.join(TMP, "f2.sock")
    r = Redis(extra=["--unixsocket", sock, "--unixsocketperm", "700"])
    c = r.client()
    c.cmd("SET", "netscope:flows", "not a stream")
    out = os.path.join(TMP, "f2.jsonl")
    cfg = write_cfg("f2.yaml",
                    f"  capture:\n    plugin: source/pcap\n    file: {SAMPLE}\n"
                    "  flows:\n    plugin: decoder/flow\n"
                    f"  file:\n    plugin: sink/jsonl\n    path: {out}\n    from: flows\n"
                    f"  redis:\n    plugin: sink/redis\n    from: flows\n    unix_socket: {sock}\n")
    p = run(cfg)
    assert p.returncode == 0, p.stderr
    want = [json.loads(l) for l in open(out) if l.strip()]
    nflow = sum(1 for x in want if x["event"]["dataset"] == "netscope.flow")
    lines = [l for l in p.stderr.splitlines() if "WRONGTYPE" in l]
    assert len(lines) == 1 and "netscope:flows" in lines[0], p.stderr
    assert stats(p.stderr, "sink_redis_errors_total", 'reason="wrongtype"') == nflow > 0
    assert stats(p.stderr, "sink_redis_dropped_total", 'reason="rejected"') == nflow
    assert stats(p.stderr, "sink_redis_delivered_total") == len(want) - nflow
    assert c.cmd("TYPE", "netscope:flows") == "string"
    assert c.cmd("XLEN", "netscope:devices") == sum(
        1 for x in want if x["event"]["dataset"] == "netscope.device")
    c.close()
    r.kill()

    # OOM: Redis refuses writes for a while; the records wait and arrive later.
    r = Redis()
    c = r.client()
    c.cmd("CONFIG", "SET", "maxmemory-policy", "noeviction")
    c.cmd("CONFIG", "SET", "maxmemory", "1")
    cfg = write_cfg("f3.yaml", gen_pipeline(
        f"    port: {r.port}\n    backoff_min: 20ms\n    backoff_max: 100ms\n"
        "    drain_timeout: 10s\n", 200, 4, hold=True))
    p = start(cfg)
    time.sleep(1.2)
    assert p.poll() is None, "the pipeline stopped"
    c.cmd("CONFIG", "SET", "maxmemory", "0")
    deadline = time.time() + 10
    while time.time() < deadline and c.cmd("EXISTS", "netscope:other") == 0:
        time.sleep(0.1)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    lines = [l for l in err.splitlines() if "OOM" in l]
    assert len(lines) == 1, err
    assert stats(err, "sink_redis_errors_total", 'reason="oom"') >= 1
    s = seqs_of(entries(c, "netscope:other"))
    assert sorted(set(s)) == list(range(1, 200 + 4 + 1)), f"{len(set(s))} of 204 arrived"
    assert stats(err, "sink_redis_dropped_total") == 0
    c.close()


try:
    METRICS_OFF = _metrics_off()
    for t in [test_a_capture_arrives_in_order_with_fields, test_b_redis_killed_and_restarted,
              test_c_netscope_sigkilled_while_spooling, test_d_spool_full_writes_gap_entry,
              test_e_consumer_group_reads_acks_and_reclaims,
              test_f_errors_logged_once_counted_pipeline_runs]:
        if len(sys.argv) > 5 and not any(a in t.__name__ for a in sys.argv[5:]):
            continue
        case(t)
finally:
    stop_all()
    if not any(e for _, e in results):
        shutil.rmtree(TMP, ignore_errors=True)

failed = sum(1 for _, e in results if e)
print(f"{len(results) - failed} passed, {failed} failed" + (f" (logs in {TMP})" if failed else ""))
sys.exit(1 if failed else 0)
