#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runtime behaviour of the netscope binary, with fixture plugins (source/testgen,
decoder/testdec, sink/testsink): sharding by symmetric flow hash, ordered drain
at end of input and on SIGTERM, the second signal, SIGHUP with a bad file, the
drop policy with its counters, failing and optional nodes.

usage: test_runtime.py NETSCOPE FIXTURE_PLUGIN_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

NETSCOPE, FIXTURES = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, NETSCOPE_PLUGIN_PATH=FIXTURES)
TMP = tempfile.mkdtemp(prefix="ns-rt-")
results = []


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def pipeline(out, gen="", dec="", sink="", settings=""):
    return (f"netscope:\n  log_level: info\n{settings}"
            f"pipeline:\n"
            f"  gen:\n    plugin: source/testgen\n{gen}"
            f"  dec:\n    plugin: decoder/testdec\n{dec}"
            f"  out:\n    plugin: sink/testsink\n    path: {out}\n{sink}")


def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def stats(stderr, name):
    """Sum a counter from the --stats summary on stderr."""
    total = 0
    for line in stderr.splitlines():
        line = line.split("]", 1)[-1] if "] " in line else line
        parts = line.strip().split()
        if len(parts) >= 2 and parts[-2].split("{")[0] == name:
            total += int(parts[-1])
        elif len(parts) >= 2 and parts[0].split("{")[0] == name:
            total += int(parts[-1])
    return total


def case(fn):
    try:
        fn()
        results.append((fn.__name__, None))
        print(f"ok   {fn.__name__}")
    except Exception as e:  # noqa: BLE001 - report any failure
        results.append((fn.__name__, e))
        print(f"FAIL {fn.__name__}: {e}")


def start(cfg, *args):
    """Start netscope and return once the pipeline runs (its signal handlers are
    installed), with the stderr lines read so far."""
    p = subprocess.Popen([NETSCOPE, "run", "-c", cfg, *args], env=ENV, stderr=subprocess.PIPE,
                         text=True)
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        seen.append(line)
        if "pipeline running" in line:
            return p, seen
    p.kill()
    raise AssertionError("netscope did not start: " + "".join(seen))


def finish(p, seen, timeout=60):
    _, err = p.communicate(timeout=timeout)
    return "".join(seen) + err


def run(cfg, *args, timeout=120):
    return subprocess.run([NETSCOPE, "run", "-c", cfg, "--stats", *args], env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_offline_drain_and_sharding():
    out = os.path.join(TMP, "shard.jsonl")
    cfg = write("shard.yaml", pipeline(out, gen="    packets: 200000\n    flows: 5000\n",
                                       settings="  workers: 2\n"))
    p = run(cfg)
    assert p.returncode == 0, p.stderr
    recs = [r for r in lines(out) if r["event"]["dataset"] == "netscope.testflow"]
    flows = [r["test"]["flow"] for r in recs]
    # One record per flow: both directions of every flow met on one worker.
    assert len(flows) == 5000, f"{len(flows)} flow records (a flow split across workers?)"
    assert len(set(flows)) == 5000, "a flow was seen by two workers"
    assert sum(r["test"]["packets"] for r in recs) == 200000
    workers = {r["test"]["worker"] for r in recs}
    assert workers == {0, 1}, f"work not spread over both workers: {workers}"
    seqs = [r["event"]["sequence"] for r in lines(out)]
    assert len(set(seqs)) == len(seqs), "duplicate event.sequence"


def test_sigterm_drains_and_exits_0():
    out = os.path.join(TMP, "term.jsonl")
    cfg = write("term.yaml", pipeline(out, gen="    packets: 5000\n    flows: 50\n    hold: true\n",
                                      settings="  workers: 2\n"))
    p, seen = start(cfg, "--stats")
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    err = finish(p, seen)
    assert p.returncode == 0, err
    recs = lines(out)
    assert sum(r["test"]["packets"] for r in recs) == 5000, "packets lost on SIGTERM drain"
    assert "draining" in err


def test_second_signal_exits_at_once():
    out = os.path.join(TMP, "twice.jsonl")
    cfg = write("twice.yaml", pipeline(out, gen="    packets: 100000000\n    flows: 100\n",
                                       dec="    per_packet: true\n",
                                       sink="    delay: 200ms\n", settings="  workers: 1\n"))
    p, seen = start(cfg)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    time.sleep(0.3)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    err = finish(p, seen, timeout=30)
    assert time.time() - t0 < 5, "second signal did not exit at once"
    assert p.returncode != 0
    assert "second signal" in err, err


def test_sighup_bad_config_keeps_running():
    out = os.path.join(TMP, "hup.jsonl")
    text = pipeline(out, gen="    packets: 1000\n    flows: 10\n    hold: true\n")
    cfg = write("hup.yaml", text)
    p, seen = start(cfg)
    time.sleep(0.5)
    with open(cfg, "w") as f:
        f.write(text.replace("packets: 1000", "packetz: 1000"))
    p.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    assert p.poll() is None, "process died on SIGHUP with a bad file"
    p.send_signal(signal.SIGTERM)
    err = finish(p, seen)
    assert p.returncode == 0, err
    assert "hup.yaml:6:5: error:" in err and "did you mean 'packets'" in err, err
    assert "running pipeline is unchanged" in err, err
    assert sum(r["test"]["packets"] for r in lines(out)) == 1000


def test_sighup_good_config_reopens():
    out = os.path.join(TMP, "hup2.jsonl")
    cfg = write("hup2.yaml", pipeline(out, gen="    packets: 10\n    flows: 1\n    hold: true\n"))
    p, seen = start(cfg)
    time.sleep(0.3)
    p.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    err = finish(p, seen)
    assert p.returncode == 0, err
    assert "is valid" in err, err


def test_drop_policy_counts_every_drop():
    out = os.path.join(TMP, "drop.jsonl")
    cfg = write("drop.yaml", pipeline(
        out, gen="    packets: 300000\n    flows: 100\n", dec="    per_packet: true\n",
        sink="    delay: 2ms\n    on_full: drop\n    queue_size: 2\n", settings="  workers: 1\n"))
    p = run(cfg)
    assert p.returncode == 0, p.stderr
    got = len(lines(out))
    dropped = stats(p.stderr, "node_records_dropped_total")
    emitted = 300000 + 100  # per-packet records + one per flow at flush
    assert dropped > 0, "expected drops with a slow sink, a 2-batch ring and on_full: drop"
    assert got + dropped == emitted, f"delivered {got} + dropped {dropped} != {emitted}"


def test_block_policy_loses_nothing():
    out = os.path.join(TMP, "block.jsonl")
    cfg = write("block.yaml", pipeline(
        out, gen="    packets: 50000\n    flows: 100\n", dec="    per_packet: true\n",
        sink="    delay: 1ms\n    queue_size: 2\n", settings="  workers: 2\n"))
    p = run(cfg)
    assert p.returncode == 0, p.stderr
    assert len(lines(out)) == 50000 + 100
    assert stats(p.stderr, "node_records_dropped_total") == 0


def test_init_failure_is_one_clear_error():
    out = os.path.join(TMP, "fail.jsonl")
    cfg = write("fail.yaml", pipeline(out, sink="    fail_init: true\n"))
    p = run(cfg, timeout=30)
    assert p.returncode == 1, p.returncode
    assert "failing init as configured" in p.stderr
    assert "init failed (Invalid argument): the pipeline cannot start" in p.stderr, p.stderr
    core_errors = [l for l in p.stderr.splitlines() if " error " in l and "testsink" not in l]
    assert not core_errors, f"more than the node's own error line: {core_errors}"


def test_optional_node_failure_is_skipped():
    out = os.path.join(TMP, "opt.jsonl")
    out2 = os.path.join(TMP, "opt2.jsonl")
    cfg = write("opt.yaml", pipeline(out, gen="    packets: 100\n    flows: 5\n")
                + f"  broken:\n    plugin: sink/testsink\n    from: dec\n    path: {out2}\n"
                  "    fail_init: true\n    optional: true\n")
    p = run(cfg, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "optional" in p.stderr
    assert sum(r["test"]["packets"] for r in lines(out)) == 100


def test_thread_record_source():
    out = os.path.join(TMP, "rec.jsonl")
    cfg = write("rec.yaml", f"pipeline:\n  src:\n    plugin: source/testrec\n    records: 1000\n"
                f"  out:\n    plugin: sink/testsink\n    path: {out}\n")
    p = run(cfg, timeout=60)
    assert p.returncode == 0, p.stderr
    ns = [r["test"]["n"] for r in lines(out)]
    assert ns == list(range(1000)), f"{len(ns)} records, in order: {ns[:5]}..."
    # hold: records reach the sink before shutdown (partial batch handed on)
    out2 = os.path.join(TMP, "rec2.jsonl")
    cfg2 = write("rec2.yaml", f"pipeline:\n  src:\n    plugin: source/testrec\n    records: 10\n"
                 f"    hold: true\n  out:\n    plugin: sink/testsink\n    path: {out2}\n")
    p2, seen = start(cfg2)
    deadline = time.time() + 20
    while time.time() < deadline and (not os.path.exists(out2) or len(lines(out2)) < 10):
        time.sleep(0.2)
    got = len(lines(out2)) if os.path.exists(out2) else 0
    p2.send_signal(signal.SIGTERM)
    err = finish(p2, seen)
    assert p2.returncode == 0, err
    assert got == 10, f"only {got} of 10 records delivered while the source idles"


for t in [test_thread_record_source, test_offline_drain_and_sharding, test_sigterm_drains_and_exits_0,
          test_second_signal_exits_at_once, test_sighup_bad_config_keeps_running,
          test_sighup_good_config_reopens, test_drop_policy_counts_every_drop,
          test_block_policy_loses_nothing, test_init_failure_is_one_clear_error,
          test_optional_node_failure_is_skipped]:
    case(t)

failed = sum(1 for _, e in results if e)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
